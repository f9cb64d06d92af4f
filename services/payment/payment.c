/*  oms-payment: charges reserved orders through their payment method and
    refunds charged orders that are cancelled.

    One payment record per order makes every decision happen once: states
    charged, failed, refunded, and void (the cancellation arrived first, so
    the order is never charged).
*/
#include "payment_methods.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char customer[OMS_ID_MAX + 1];
    char state[16];
    char method[OMS_NAME_MAX + 1];
    char card_last4[5];
    int64_t amount_cents;
    char reason[OMS_TEXT_MAX + 1];
} payment_t;

static const oms_field_t s_payment_fields[] = {
    OMS_STR (payment_t, order_id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (payment_t, customer, OMS_C_ID, OMS_ID_MAX, false),
    OMS_STR (payment_t, state, OMS_C_NAME, 15, true),
    OMS_STR (payment_t, method, OMS_C_NAME, OMS_NAME_MAX, false),
    OMS_STR (payment_t, card_last4, OMS_C_DIGITS, 4, false),
    OMS_INT (payment_t, amount_cents, 0, OMS_CENTS_MAX, false),
    OMS_STR (payment_t, reason, OMS_C_ANY, OMS_TEXT_MAX, false),
};
static const oms_schema_t s_payment = OMS_SCHEMA (payment_t, "payment", s_payment_fields);

static int
s_load (oms_ctx_t *ctx, const char *order_id, payment_t *payment)
{
    return oms_txn_get_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "payments"), order_id,
                               strlen (order_id), &s_payment, payment);
}

static int
s_save (oms_ctx_t *ctx, const payment_t *payment)
{
    return oms_txn_put_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "payments"), payment->order_id,
                               strlen (payment->order_id), &s_payment, payment);
}

static payment_charge_t
s_charge_of (const payment_t *payment)
{
    return (payment_charge_t){payment->order_id, payment->customer, payment->card_last4,
                              payment->amount_cents};
}

// ---------------------------------------------------------------------------
//  Commands

static int
s_wallet_credit (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    int64_t balance;
    int rc = payment_wallet_adjust (ctx, request->customer, request->amount_cents, &balance);
    if (rc == OMS_E_RANGE)
        return oms_ctx_fail (ctx, "balance of %s would exceed the limit", request->customer);
    if (rc == 0) {
        oms_info ("wallet credited customer=%s amount_cents=%lld", request->customer,
                  (long long) request->amount_cents);
        oms_reply_str (reply, "customer", request->customer);
        oms_reply_int (reply, "balance_cents", balance);
    }
    return rc;
}

static int
s_wallet_get (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    int64_t balance;
    int rc = payment_wallet_balance (ctx, request->customer, &balance);
    if (rc == 0) {
        oms_reply_str (reply, "customer", request->customer);
        oms_reply_int (reply, "balance_cents", balance);
    }
    return rc;
}

// ---------------------------------------------------------------------------
//  Events

static int
s_on_stock_reserved (oms_ctx_t *ctx, const oms_event_t *event)
{
    payment_t payment;
    int rc = s_load (ctx, event->data.order_id, &payment);
    if (rc != OMS_E_NOTFOUND)
        return rc; //  decided already, or void
    memset (&payment, 0, sizeof payment);
    snprintf (payment.order_id, sizeof payment.order_id, "%s", event->data.order_id);
    snprintf (payment.customer, sizeof payment.customer, "%s", event->data.customer);
    snprintf (payment.method, sizeof payment.method, "%s", event->data.method);
    snprintf (payment.card_last4, sizeof payment.card_last4, "%s", event->data.card_last4);
    payment.amount_cents = event->data.amount_cents;

    const payment_method_t *method = payment_method (payment.method);
    payment_charge_t charge = s_charge_of (&payment);
    if (!method) {
        snprintf (payment.reason, sizeof payment.reason, "unsupported payment method %s",
                  payment.method);
        rc = PAYMENT_DECLINED;
    }
    else
        rc = method->charge (ctx, &charge, payment.reason, sizeof payment.reason);
    if (rc < 0)
        return rc;
    oms_event_t outcome;
    if (rc == PAYMENT_APPROVED) {
        snprintf (payment.state, sizeof payment.state, "charged");
        oms_event_payment_completed (&outcome, payment.order_id, payment.customer,
                                     payment.amount_cents, payment.method);
        oms_info ("payment completed order_id=%s method=%s amount_cents=%lld", payment.order_id,
                  payment.method, (long long) payment.amount_cents);
    }
    else {
        snprintf (payment.state, sizeof payment.state, "failed");
        oms_event_payment_failed (&outcome, payment.order_id, payment.customer, payment.method,
                                  payment.reason);
        oms_info ("payment failed order_id=%s method=%s reason=\"%s\"", payment.order_id,
                  payment.method, payment.reason);
    }
    rc = s_save (ctx, &payment);
    return rc ? rc : oms_ctx_emit (ctx, &outcome);
}

static int
s_on_order_cancelled (oms_ctx_t *ctx, const oms_event_t *event)
{
    payment_t payment;
    int rc = s_load (ctx, event->data.order_id, &payment);
    if (rc == OMS_E_NOTFOUND) {
        //  Cancelled before any charge: a void record, so that none ever happens.
        payment_t tombstone = {.state = "void"};
        snprintf (tombstone.order_id, sizeof tombstone.order_id, "%s", event->data.order_id);
        return s_save (ctx, &tombstone);
    }
    if (rc || strcmp (payment.state, "charged") != 0)
        return rc;
    const payment_method_t *method = payment_method (payment.method);
    payment_charge_t charge = s_charge_of (&payment);
    rc = method ? method->refund (ctx, &charge) : OMS_E_INVALID;
    if (rc)
        return oms_ctx_fail (ctx, "refund of %lld by %s failed: %s",
                             (long long) charge.amount_cents, payment.method, oms_strerror (rc));
    snprintf (payment.state, sizeof payment.state, "refunded");
    rc = s_save (ctx, &payment);
    if (rc)
        return rc;
    oms_event_t refunded;
    oms_event_payment_refunded (&refunded, payment.order_id, payment.customer, payment.amount_cents,
                                payment.method);
    oms_info ("payment refunded order_id=%s amount_cents=%lld", payment.order_id,
              (long long) payment.amount_cents);
    return oms_ctx_emit (ctx, &refunded);
}

static const char *const s_dbs[] = {"payments", "wallets", NULL};

static const oms_subscription_t s_subscriptions[] = {{"stock.reserved", s_on_stock_reserved},
                                                     {"order.cancelled", s_on_order_cancelled},
                                                     {NULL, NULL}};

static const oms_command_def_t s_commands[] = {
    {"wallet.credit", s_wallet_credit}, {"wallet.get", s_wallet_get}, {NULL, NULL}};

static const oms_service_def_t s_payment_service = {"payment",  s_dbs, s_subscriptions,
                                                    s_commands, NULL,  NULL};

int
main (int argc, char *argv[])
{
    return oms_service_main (&s_payment_service, argc, argv);
}
