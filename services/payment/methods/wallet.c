/*  wallet: a prepaid balance per customer, kept in payment's own store.
    A charge above the balance is declined; a refund credits it back.
*/
#include "../payment_methods.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char customer[OMS_ID_MAX + 1];
    int64_t balance_cents;
} wallet_t;

static const oms_field_t s_wallet_fields[] = {
    OMS_STR (wallet_t, customer, OMS_C_ID, OMS_ID_MAX, true),
    OMS_INT (wallet_t, balance_cents, 0, OMS_CENTS_MAX, true),
};
static const oms_schema_t s_wallet = OMS_SCHEMA (wallet_t, "wallet", s_wallet_fields);

int
payment_wallet_balance (oms_ctx_t *ctx, const char *customer, int64_t *balance)
{
    wallet_t wallet;
    int rc = oms_txn_get_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "wallets"), customer,
                                 strlen (customer), &s_wallet, &wallet);
    *balance = rc == 0 ? wallet.balance_cents : 0;
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

int
payment_wallet_adjust (oms_ctx_t *ctx, const char *customer, int64_t delta, int64_t *balance)
{
    int rc = payment_wallet_balance (ctx, customer, balance);
    if (rc)
        return rc;
    if (*balance + delta < 0 || *balance + delta > OMS_CENTS_MAX)
        return OMS_E_RANGE;
    wallet_t wallet = {.balance_cents = *balance + delta};
    snprintf (wallet.customer, sizeof wallet.customer, "%s", customer);
    rc = oms_txn_put_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "wallets"), customer,
                             strlen (customer), &s_wallet, &wallet);
    if (rc == 0)
        *balance = wallet.balance_cents;
    return rc;
}

static int
s_charge (oms_ctx_t *ctx, const payment_charge_t *charge, char *reason, size_t size)
{
    int64_t balance;
    int rc = payment_wallet_balance (ctx, charge->customer, &balance);
    if (rc)
        return rc;
    if (balance < charge->amount_cents) {
        snprintf (reason, size, "insufficient wallet balance (%lld < %lld)", (long long) balance,
                  (long long) charge->amount_cents);
        return PAYMENT_DECLINED;
    }
    return payment_wallet_adjust (ctx, charge->customer, -charge->amount_cents, &balance);
}

static int
s_refund (oms_ctx_t *ctx, const payment_charge_t *charge)
{
    int64_t balance;
    return payment_wallet_adjust (ctx, charge->customer, charge->amount_cents, &balance);
}

const payment_method_t payment_wallet = {"wallet", s_charge, s_refund};
