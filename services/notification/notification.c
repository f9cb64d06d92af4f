/*  oms-notification: tells customers what became of their orders.

    Exactly one notification per order and kind (confirmed, cancelled,
    payment_failed): the (order, kind) key is the proof it was sent. The
    channel is the customer's preference, email by default.
*/
#include "oms_service.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define LIST_MAX 1000

typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char customer[OMS_ID_MAX + 1];
    uint64_t ts_ns; //  when it was sent
    char kind[OMS_NAME_MAX + 1];
    char channel[OMS_NAME_MAX + 1];
    char text[OMS_TEXT_MAX + 1];
} notice_t;

static const oms_field_t s_notice_fields[] = {
    OMS_STR (notice_t, order_id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (notice_t, kind, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (notice_t, channel, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (notice_t, text, OMS_C_ANY, OMS_TEXT_MAX, true),
    OMS_STR (notice_t, customer, OMS_C_ID, OMS_ID_MAX, true),
    OMS_UINT (notice_t, ts_ns, 0, UINT64_MAX, true),
};
static const oms_schema_t s_notice = OMS_SCHEMA (notice_t, "notification", s_notice_fields);
//  What a query shows: the first four fields.
static const oms_schema_t s_notice_view = {"notification", s_notice_fields, 4, sizeof (notice_t)};

//  Keys: order_id \0 kind, and customer \0 order_id \0 kind.
static size_t
s_key (char *key, size_t size, const char *a, const char *b, const char *c)
{
    int length = c ? snprintf (key, size, "%s%c%s%c%s", a, 0, b, 0, c)
                   : snprintf (key, size, "%s%c%s", a, 0, b);
    return length < 0 ? 0 : (size_t) length;
}

static void
s_money (char *text, size_t size, int64_t cents)
{
    snprintf (text, size, "%lld.%02lld", (long long) (cents / 100), (long long) (cents % 100));
}

//  Sends the notification of `kind` for the event's order once: the
//  (order, kind) record is both the message and the proof it went out.
static int s_notify (oms_ctx_t *ctx, const oms_event_t *event, const char *kind, const char *format,
                     ...) __attribute__ ((format (printf, 4, 5)));

static int
s_notify (oms_ctx_t *ctx, const oms_event_t *event, const char *kind, const char *format, ...)
{
    oms_txn_t *txn = oms_ctx_txn (ctx);
    char key[3 * (OMS_ID_MAX + 2)];
    size_t length = s_key (key, sizeof key, event->data.order_id, kind, NULL);
    oms_val_t value;
    int rc = oms_txn_get (txn, oms_ctx_db (ctx, "notifications"), key, length, &value);
    if (rc != OMS_E_NOTFOUND)
        return rc; //  sent already
    notice_t notice;
    memset (&notice, 0, sizeof notice);
    snprintf (notice.order_id, sizeof notice.order_id, "%s", event->data.order_id);
    snprintf (notice.customer, sizeof notice.customer, "%s", event->data.customer);
    snprintf (notice.kind, sizeof notice.kind, "%s", kind);
    va_list args;
    va_start (args, format);
    vsnprintf (notice.text, sizeof notice.text, format, args);
    va_end (args);
    snprintf (notice.channel, sizeof notice.channel, "email");
    if (oms_txn_get (txn, oms_ctx_db (ctx, "channels"), notice.customer, strlen (notice.customer),
                     &value) == 0 &&
        value.size < sizeof notice.channel)
        snprintf (notice.channel, sizeof notice.channel, "%.*s", (int) value.size,
                  (const char *) value.data);
    notice.ts_ns = oms_ctx_now (ctx);

    rc = oms_txn_put_record (txn, oms_ctx_db (ctx, "notifications"), key, length, &s_notice,
                             &notice);
    char index[3 * (OMS_ID_MAX + 2)];
    if (rc == 0)
        rc = oms_txn_put (txn, oms_ctx_db (ctx, "by_customer"), index,
                          s_key (index, sizeof index, notice.customer, notice.order_id, kind), "",
                          0);
    if (rc)
        return rc;
    oms_event_t sent;
    oms_event_notification_sent (&sent, notice.order_id, notice.customer, kind, notice.channel,
                                 notice.text);
    oms_info ("notified order_id=%s kind=%s channel=%s", notice.order_id, kind, notice.channel);
    return oms_ctx_emit (ctx, &sent);
}

// ---------------------------------------------------------------------------
//  Events

static int
s_on_order_confirmed (oms_ctx_t *ctx, const oms_event_t *event)
{
    char money[32];
    s_money (money, sizeof money, event->data.amount_cents);
    return s_notify (ctx, event, "confirmed", "Your order %s is confirmed; %s charged.",
                     event->data.order_id, money);
}

static int
s_on_order_cancelled (oms_ctx_t *ctx, const oms_event_t *event)
{
    return s_notify (ctx, event, "cancelled", "Your order %.64s is cancelled: %.160s",
                     event->data.order_id, event->data.reason);
}

static int
s_on_payment_failed (oms_ctx_t *ctx, const oms_event_t *event)
{
    return s_notify (ctx, event, "payment_failed", "Payment for order %.64s failed: %.160s",
                     event->data.order_id, event->data.reason);
}

// ---------------------------------------------------------------------------
//  Commands

//  Lists notifications by order (prefix order_id \0 of `notifications`) or
//  by customer (prefix customer \0 of `by_customer`, then each record).
static int
s_notifications (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    bool by_order = request->order_id[0] != 0;
    if (by_order == (request->customer[0] != 0))
        return oms_ctx_fail (ctx, "give an order id or a customer, not both");
    oms_txn_t *txn = oms_ctx_txn (ctx);
    oms_db_t notices = oms_ctx_db (ctx, "notifications");
    const char *subject = by_order ? request->order_id : request->customer;
    char prefix[OMS_ID_MAX + 2];
    size_t prefix_size = strlen (subject) + 1;
    memcpy (prefix, subject, prefix_size);

    oms_cursor_t *cursor;
    int rc = oms_cursor_open (txn, by_order ? notices : oms_ctx_db (ctx, "by_customer"), &cursor);
    if (rc)
        return rc;
    //  Count first: a msgpack array states its length up front.
    notice_t *found = calloc (LIST_MAX, sizeof *found);
    if (!found) {
        oms_cursor_close (&cursor);
        return OMS_E_NOMEM;
    }
    uint32_t count = 0;
    oms_val_t key, value;
    rc = oms_cursor_seek (cursor, prefix, prefix_size, &key, &value);
    while (rc == 0 && count < LIST_MAX && key.size > prefix_size &&
           memcmp (key.data, prefix, prefix_size) == 0) {
        if (by_order)
            rc = oms_txn_get_record (txn, notices, key.data, key.size, &s_notice, &found[count]);
        else {
            //  by_customer key: customer \0 order_id \0 kind; the record's
            //  key is its tail.
            rc = oms_txn_get_record (txn, notices, (const char *) key.data + prefix_size,
                                     key.size - prefix_size, &s_notice, &found[count]);
        }
        if (rc == 0)
            count++;
        else if (rc != OMS_E_NOTFOUND)
            break;
        rc = oms_cursor_next (cursor, &key, &value);
    }
    oms_cursor_close (&cursor);
    if (rc == 0 || rc == OMS_E_NOTFOUND) {
        rc = 0;
        oms_reply_key (reply, "notifications");
        msgpack_packer *pk = oms_reply_packer (reply);
        msgpack_pack_array (pk, count);
        for (uint32_t i = 0; i < count; i++)
            oms_schema_pack (&s_notice_view, &found[i], pk);
    }
    free (found);
    return rc;
}

static int
s_channel_set (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    if (strcmp (request->channel, "email") != 0 && strcmp (request->channel, "sms") != 0)
        return oms_ctx_fail (ctx, "channel must be email or sms, not %s", request->channel);
    int rc = oms_txn_put (oms_ctx_txn (ctx), oms_ctx_db (ctx, "channels"), request->customer,
                          strlen (request->customer), request->channel, strlen (request->channel));
    if (rc == 0) {
        oms_reply_str (reply, "customer", request->customer);
        oms_reply_str (reply, "channel", request->channel);
    }
    return rc;
}

static const char *const s_dbs[] = {"notifications", "by_customer", "channels", NULL};

static const oms_subscription_t s_subscriptions[] = {{"order.confirmed", s_on_order_confirmed},
                                                     {"order.cancelled", s_on_order_cancelled},
                                                     {"payment.failed", s_on_payment_failed},
                                                     {NULL, NULL}};

static const oms_command_def_t s_commands[] = {
    {"notifications", s_notifications}, {"channel.set", s_channel_set}, {NULL, NULL}};

static const oms_service_def_t s_notification_service = {"notification", s_dbs, s_subscriptions,
                                                         s_commands,     NULL,  NULL};

int
main (int argc, char *argv[])
{
    return oms_service_main (&s_notification_service, argc, argv);
}
