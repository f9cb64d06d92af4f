/*  oms-order: takes orders, and decides each order's fate from what
    inventory and payment report.

    An order is stored (and fsync'd) before its id is returned; its outcome
    arrives as events. The catalog of SKUs is learnt from inventory's
    catalog.updated events, so a place command naming an unknown SKU is
    refused at once, without asking inventory. Orders are listed from
    indexes kept with them (order_index), built once at start-up when the
    store predates them.
*/
#include "oms_service.h"
#include "order_index.h"
#include "oms_clock.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char sku[OMS_SKU_MAX + 1];
    int64_t price_cents;
} catalog_t;

static const oms_field_t s_catalog_fields[] = {
    OMS_STR (catalog_t, sku, OMS_C_ID, OMS_SKU_MAX, true),
    OMS_INT (catalog_t, price_cents, 0, OMS_CENTS_MAX, true),
};
static const oms_schema_t s_catalog = OMS_SCHEMA (catalog_t, "catalog", s_catalog_fields);

static bool
s_in_flight (const order_t *order)
{
    return strcmp (order->status, "PENDING") == 0 || strcmp (order->status, "RESERVED") == 0;
}

static int
s_load (oms_ctx_t *ctx, const char *order_id, order_t *order)
{
    return oms_txn_get_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "orders"), order_id,
                               strlen (order_id), &order_schema, order);
}

static order_dbs_t
s_order_dbs (oms_ctx_t *ctx)
{
    return (order_dbs_t){oms_ctx_db (ctx, "orders"), oms_ctx_db (ctx, "by_time"),
                         oms_ctx_db (ctx, "by_status"), oms_ctx_db (ctx, "by_customer")};
}

//  Every write of an order goes through here, so its indexes move with it.
static int
s_save (oms_ctx_t *ctx, const order_t *order)
{
    order_dbs_t dbs = s_order_dbs (ctx);
    return order_save (oms_ctx_txn (ctx), &dbs, order);
}

static uint64_t
s_saga_timeout_ns (oms_ctx_t *ctx)
{
    return (uint64_t) oms_config_int (oms_ctx_config (ctx), "order/saga_timeout_ms") * 1000000ull;
}

//  The saga clock: be64 deadline (on oms_ctx_steady's clock), then the
//  order id.
static size_t
s_deadline_key (uint8_t *key, const order_t *order)
{
    size_t length = strlen (order->order_id);
    oms_be64_put (key, order->deadline_ns);
    memcpy (key + 8, order->order_id, length);
    return 8 + length;
}

static int
s_stop_clock (oms_ctx_t *ctx, order_t *order)
{
    uint8_t key[8 + OMS_ID_MAX];
    int rc = oms_txn_del (oms_ctx_txn (ctx), oms_ctx_db (ctx, "deadlines"), key,
                          s_deadline_key (key, order));
    order->deadline_ns = 0;
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

static int
s_cancel (oms_ctx_t *ctx, order_t *order, const char *reason)
{
    snprintf (order->status, sizeof order->status, "CANCELLED");
    snprintf (order->reason, sizeof order->reason, "%s", reason);
    int rc = s_stop_clock (ctx, order);
    if (rc == 0)
        rc = s_save (ctx, order);
    if (rc == 0) {
        oms_event_t event;
        oms_event_order_cancelled (&event, order->order_id, order->customer, reason);
        rc = oms_ctx_emit (ctx, &event);
    }
    oms_info ("order cancelled order_id=%s reason=\"%s\"", order->order_id, reason);
    return rc;
}

//  Loads the order an event is about. An event for an order this store never
//  had is a bad event: it fails, and lands in the dead-letter log.
static int
s_subject (oms_ctx_t *ctx, const oms_event_t *event, order_t *order)
{
    int rc = s_load (ctx, event->data.order_id, order);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail (ctx, "%s for unknown order %s", event->type, event->data.order_id);
    return rc;
}

// ---------------------------------------------------------------------------
//  Commands

//  The operator's limits on one order (limits/max_items, limits/max_qty),
//  inside the codec's own. 0, or OMS_E_LIMIT with the reason set.
static int
s_within_limits (oms_ctx_t *ctx, const oms_request_t *request)
{
    oms_config_t *config = oms_ctx_config (ctx);
    int64_t max_items = oms_config_int (config, "limits/max_items");
    int64_t max_qty = oms_config_int (config, "limits/max_qty");
    if (request->n_items > max_items)
        return oms_ctx_fail_with (ctx, OMS_E_LIMIT,
                                  "order has %u lines; at most %lld allowed (limits/max_items)",
                                  request->n_items, (long long) max_items);
    for (uint32_t i = 0; i < request->n_items; i++)
        if (request->items[i].qty > max_qty)
            return oms_ctx_fail_with (
                ctx, OMS_E_LIMIT,
                "sku %s: quantity %lld is over the limit of %lld (limits/max_qty)",
                request->items[i].sku, (long long) request->items[i].qty, (long long) max_qty);
    return 0;
}

static int
s_place (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_txn_t *txn = oms_ctx_txn (ctx);
    oms_db_t requests = oms_ctx_db (ctx, "requests");
    oms_val_t known;
    if (oms_txn_get (txn, requests, request->request_id, strlen (request->request_id), &known) ==
        0) {
        //  A retry: the same request id always names the same order.
        char order_id[OMS_ID_MAX + 1];
        snprintf (order_id, sizeof order_id, "%.*s", (int) known.size, (const char *) known.data);
        oms_reply_str (reply, "order_id", order_id);
        oms_reply_bool (reply, "created", false);
        return 0;
    }
    int rc = s_within_limits (ctx, request);
    if (rc)
        return rc;
    order_t order;
    memset (&order, 0, sizeof order);
    for (uint32_t i = 0; i < request->n_items; i++) {
        const oms_item_t *item = &request->items[i];
        for (uint32_t j = 0; j < i; j++)
            if (strcmp (request->items[j].sku, item->sku) == 0)
                return oms_ctx_fail (ctx, "sku %s appears twice", item->sku);
        catalog_t entry;
        rc = oms_txn_get_record (txn, oms_ctx_db (ctx, "catalog"), item->sku, strlen (item->sku),
                                 &s_catalog, &entry);
        if (rc == OMS_E_NOTFOUND)
            return oms_ctx_fail (ctx, "unknown sku %s", item->sku);
        if (rc)
            return rc;
        order.total_cents += entry.price_cents * item->qty;
        order.items[i] = *item;
    }
    size_t card = strlen (request->card);
    if (card && card < 4)
        return oms_ctx_fail (ctx, "card number too short");

    //  Order ids count up; the counter commits with the order.
    oms_db_t counters = oms_ctx_db (ctx, "counters");
    uint64_t next = 1;
    if (oms_txn_get (txn, counters, "next_order", 10, &known) == 0 && known.size == 8)
        next = oms_be64_get (known.data);
    uint8_t counter[8];
    oms_be64_put (counter, next + 1);

    snprintf (order.order_id, sizeof order.order_id, "o-%llu", (unsigned long long) next);
    snprintf (order.status, sizeof order.status, "PENDING");
    snprintf (order.customer, sizeof order.customer, "%s", request->customer);
    order.n_items = request->n_items;
    snprintf (order.method, sizeof order.method, "%s", request->method);
    if (card)
        snprintf (order.card_last4, sizeof order.card_last4, "%s", request->card + card - 4);
    order.created_ns = oms_ctx_now (ctx);
    order.deadline_ns = oms_ctx_steady (ctx) + s_saga_timeout_ns (ctx);

    uint8_t key[8 + OMS_ID_MAX];
    rc = oms_txn_put (txn, counters, "next_order", 10, counter, 8);
    if (rc == 0)
        rc = oms_txn_put (txn, requests, request->request_id, strlen (request->request_id),
                          order.order_id, strlen (order.order_id));
    if (rc == 0)
        rc = oms_txn_put (txn, oms_ctx_db (ctx, "deadlines"), key, s_deadline_key (key, &order), "",
                          0);
    if (rc == 0)
        rc = s_save (ctx, &order);
    if (rc)
        return rc;
    oms_event_t event;
    oms_event_order_placed (&event, order.order_id, order.customer, order.items, order.n_items,
                            order.method, order.card_last4);
    rc = oms_ctx_emit (ctx, &event);
    if (rc)
        return rc;
    oms_info ("order placed order_id=%s customer=%s request_id=%s", order.order_id, order.customer,
              request->request_id);
    oms_reply_str (reply, "order_id", order.order_id);
    oms_reply_bool (reply, "created", true);
    return 0;
}

static int
s_get (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    order_t order;
    int rc = s_load (ctx, request->order_id, &order);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail_with (ctx, OMS_E_NOTFOUND, "unknown order %s", request->order_id);
    if (rc == 0)
        oms_reply_record (reply, &order_schema, &order);
    return rc;
}

//  Lists orders newest first from the index the filters pick (order_index).
static int
s_list (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    char error[OMS_TEXT_MAX + 1];
    uint64_t now = oms_ctx_now (ctx);
    order_query_t query;
    if (order_query_make (&query, request, now, error, sizeof error))
        return oms_ctx_fail (ctx, "%s", error);
    order_summary_t *orders = calloc (query.limit, sizeof *orders);
    if (!orders)
        return OMS_E_NOMEM;
    order_dbs_t dbs = s_order_dbs (ctx);
    order_page_t page;
    int rc = order_index_list (oms_ctx_txn (ctx), &dbs, &query, orders, &page);
    if (rc == 0) {
        oms_reply_key (reply, "orders");
        msgpack_packer *pk = oms_reply_packer (reply);
        msgpack_pack_array (pk, page.count);
        for (uint32_t i = 0; i < page.count; i++)
            oms_schema_pack (&order_summary_schema, &orders[i], pk);
        if (page.more)
            oms_reply_str (reply, "next", page.next);
        oms_reply_uint (reply, "now_ns", now);
        oms_reply_uint (reply, "visited", page.visited);
    }
    free (orders);
    return rc;
}

static int
s_cancel_command (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    order_t order;
    int rc = s_load (ctx, request->order_id, &order);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail_with (ctx, OMS_E_NOTFOUND, "unknown order %s", request->order_id);
    if (rc == 0 && strcmp (order.status, "CANCELLED") != 0)
        rc = s_cancel (ctx, &order, "cancelled by customer");
    if (rc == 0) {
        oms_reply_str (reply, "order_id", order.order_id);
        oms_reply_str (reply, "status", order.status);
    }
    return rc;
}

// ---------------------------------------------------------------------------
//  Events

static int
s_on_catalog_updated (oms_ctx_t *ctx, const oms_event_t *event)
{
    catalog_t entry = {.price_cents = event->data.price_cents};
    snprintf (entry.sku, sizeof entry.sku, "%s", event->data.sku);
    return oms_txn_put_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "catalog"), entry.sku,
                               strlen (entry.sku), &s_catalog, &entry);
}

static int
s_on_stock_reserved (oms_ctx_t *ctx, const oms_event_t *event)
{
    order_t order;
    int rc = s_subject (ctx, event, &order);
    if (rc || strcmp (order.status, "PENDING") != 0)
        return rc;
    snprintf (order.status, sizeof order.status, "RESERVED");
    order.total_cents = event->data.amount_cents;
    return s_save (ctx, &order);
}

static int
s_on_stock_rejected (oms_ctx_t *ctx, const oms_event_t *event)
{
    order_t order;
    int rc = s_subject (ctx, event, &order);
    if (rc || !s_in_flight (&order))
        return rc;
    char reason[OMS_TEXT_MAX + 1];
    snprintf (reason, sizeof reason, "stock rejected: %.230s", event->data.reason);
    return s_cancel (ctx, &order, reason);
}

static int
s_on_payment_completed (oms_ctx_t *ctx, const oms_event_t *event)
{
    order_t order;
    int rc = s_subject (ctx, event, &order);
    //  A late payment for a cancelled order is refunded by payment itself,
    //  which sees the cancellation too.
    if (rc || !s_in_flight (&order))
        return rc;
    snprintf (order.status, sizeof order.status, "CONFIRMED");
    order.total_cents = event->data.amount_cents;
    rc = s_stop_clock (ctx, &order);
    if (rc == 0)
        rc = s_save (ctx, &order);
    if (rc == 0) {
        oms_event_t confirmed;
        oms_event_order_confirmed (&confirmed, order.order_id, order.customer, order.total_cents);
        rc = oms_ctx_emit (ctx, &confirmed);
    }
    oms_info ("order confirmed order_id=%s total_cents=%lld", order.order_id,
              (long long) order.total_cents);
    return rc;
}

static int
s_on_payment_failed (oms_ctx_t *ctx, const oms_event_t *event)
{
    order_t order;
    int rc = s_subject (ctx, event, &order);
    if (rc || !s_in_flight (&order))
        return rc;
    char reason[OMS_TEXT_MAX + 1];
    snprintf (reason, sizeof reason, "payment failed: %.230s", event->data.reason);
    return s_cancel (ctx, &order, reason);
}

#define TAKE_MAX 64

//  Removes up to TAKE_MAX entries of the saga clock with a deadline in
//  [from, until] and gives their order ids.
static int
s_take_deadlines (oms_ctx_t *ctx, uint64_t from, uint64_t until, char ids[][OMS_ID_MAX + 1],
                  size_t *n_ids)
{
    oms_cursor_t *cursor;
    *n_ids = 0;
    int rc = oms_cursor_open (oms_ctx_txn (ctx), oms_ctx_db (ctx, "deadlines"), &cursor);
    if (rc)
        return rc;
    uint8_t start[8];
    oms_be64_put (start, from);
    oms_val_t key, value;
    rc = oms_cursor_seek (cursor, start, sizeof start, &key, &value);
    while (rc == 0 && *n_ids < TAKE_MAX && key.size >= 8 && oms_be64_get (key.data) <= until) {
        snprintf (ids[(*n_ids)++], OMS_ID_MAX + 1, "%.*s", (int) (key.size - 8),
                  (const char *) key.data + 8);
        rc = oms_cursor_del (cursor);
        if (rc == 0)
            rc = oms_cursor_seek (cursor, start, sizeof start, &key, &value);
    }
    oms_cursor_close (&cursor);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

//  A deadline further off than a whole saga timeout was stored by an
//  earlier process whose wall clock ran ahead of this one's (the clock was
//  set back while order was down). Waiting for it would keep a customer an
//  hour for a 30 s timeout: bring it to one timeout from now.
static int
s_clamp_deadlines (oms_ctx_t *ctx, uint64_t now_ns)
{
    uint64_t latest = now_ns + s_saga_timeout_ns (ctx);
    char late[TAKE_MAX][OMS_ID_MAX + 1];
    size_t n_late;
    int rc = s_take_deadlines (ctx, latest + 1, UINT64_MAX, late, &n_late);
    order_t order;
    for (size_t i = 0; rc == 0 && i < n_late; i++) {
        rc = s_load (ctx, late[i], &order);
        if (rc == OMS_E_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        oms_warn ("order %s: its saga deadline was %llu s off, more than a timeout: the clock "
                  "was set back; it is due in one timeout from now",
                  order.order_id,
                  (unsigned long long) ((order.deadline_ns - now_ns) / 1000000000u));
        order.deadline_ns = latest;
        uint8_t key[8 + OMS_ID_MAX];
        rc = oms_txn_put (oms_ctx_txn (ctx), oms_ctx_db (ctx, "deadlines"), key,
                          s_deadline_key (key, &order), "", 0);
        if (rc == 0)
            rc = s_save (ctx, &order);
    }
    return rc;
}

//  In-flight orders as metrics: how many, and how long ago the oldest was
//  placed (the earliest deadline less one saga timeout), measured before
//  the tick cancels the late ones. Orders that wait far longer than a saga
//  takes are stuck on a step no one answers; past a saga timeout, the
//  ticks themselves are failing.
static void
s_measure_in_flight (oms_ctx_t *ctx, uint64_t now_ns)
{
    uint64_t count = 0, oldest_ns = 0;
    oms_cursor_t *cursor;
    oms_val_t key, value;
    uint8_t start[8] = {0};
    if (oms_txn_count (oms_ctx_txn (ctx), oms_ctx_db (ctx, "deadlines"), &count) == 0 && count &&
        oms_cursor_open (oms_ctx_txn (ctx), oms_ctx_db (ctx, "deadlines"), &cursor) == 0) {
        if (oms_cursor_seek (cursor, start, sizeof start, &key, &value) == 0 && key.size >= 8) {
            uint64_t placed_ns = oms_be64_get (key.data) - s_saga_timeout_ns (ctx);
            oldest_ns = now_ns > placed_ns ? now_ns - placed_ns : 0;
        }
        oms_cursor_close (&cursor);
    }
    oms_ctx_gauge (ctx, "oms_orders_in_flight", "orders placed and not yet confirmed or cancelled",
                   (double) count);
    oms_ctx_gauge (ctx, "oms_orders_oldest_in_flight_seconds",
                   "seconds since the oldest in-flight order was placed", (double) oldest_ns / 1e9);
}

//  Cancels in-flight orders whose saga deadline passed. Each due entry of
//  the clock is removed whatever the order's state, so none is seen twice.
static int
s_tick (oms_ctx_t *ctx, uint64_t now_ns)
{
    char due[TAKE_MAX][OMS_ID_MAX + 1];
    size_t n_due;
    s_measure_in_flight (ctx, now_ns);
    int rc = s_clamp_deadlines (ctx, now_ns);
    if (rc == 0)
        rc = s_take_deadlines (ctx, 0, now_ns, due, &n_due);
    order_t order;
    for (size_t i = 0; rc == 0 && i < n_due; i++) {
        rc = s_load (ctx, due[i], &order);
        if (rc == 0 && s_in_flight (&order))
            rc = s_cancel (ctx, &order, "timeout");
        if (rc == OMS_E_NOTFOUND)
            rc = 0;
    }
    return rc;
}

//  Builds the indexes of a store made before them (or written by a version
//  that did not keep them), once, before anything is served.
static int
s_start (oms_ctx_t *ctx)
{
    order_dbs_t dbs = s_order_dbs (ctx);
    bool stale = false;
    uint64_t count = 0;
    int rc = order_index_stale (oms_ctx_txn (ctx), &dbs, &stale);
    if (rc || !stale)
        return rc;
    uint64_t start = oms_clock_steady_ns ();
    rc = order_index_rebuild (oms_ctx_txn (ctx), &dbs, &count);
    if (rc == 0)
        oms_info ("order index built: %llu orders indexed by time, status and customer in %.1f s",
                  (unsigned long long) count, (double) (oms_clock_steady_ns () - start) / 1e9);
    return rc;
}

static const char *const s_dbs[] = {"orders",  "requests",  "deadlines",   "catalog", "counters",
                                    "by_time", "by_status", "by_customer", NULL};

static const oms_subscription_t s_subscriptions[] = {
    {"catalog.updated", s_on_catalog_updated}, {"stock.reserved", s_on_stock_reserved},
    {"stock.rejected", s_on_stock_rejected},   {"payment.completed", s_on_payment_completed},
    {"payment.failed", s_on_payment_failed},   {NULL, NULL}};

static const oms_command_def_t s_commands[] = {{"place", s_place},
                                               {"get", s_get},
                                               {"cancel", s_cancel_command},
                                               {"orders.list", s_list},
                                               {NULL, NULL}};

static const oms_service_def_t s_order_service = {"order",    s_dbs,  s_subscriptions,
                                                  s_commands, s_tick, s_start};

int
main (int argc, char *argv[])
{
    return oms_service_main (&s_order_service, argc, argv);
}
