/*  oms-inventory: owns SKUs, their stock and unit prices, and holds stock
    for orders.

    Every unit of a SKU is in exactly one of three places: available,
    reserved (held for an order in flight) or sold. Reservations are all or
    nothing, and a reservation record per order remembers what was held, so
    compensation returns exactly that, once.
*/
#include "oms_service.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STOCK_MAX (INT64_C (1) << 53)

typedef struct {
    char sku[OMS_SKU_MAX + 1];
    int64_t available;
    int64_t reserved;
    int64_t sold;
    int64_t price_cents;
} sku_t;

static const oms_field_t s_sku_fields[] = {
    OMS_STR (sku_t, sku, OMS_C_ID, OMS_SKU_MAX, true),
    OMS_INT (sku_t, available, 0, STOCK_MAX, true),
    OMS_INT (sku_t, reserved, 0, STOCK_MAX, true),
    OMS_INT (sku_t, sold, 0, STOCK_MAX, true),
    OMS_INT (sku_t, price_cents, 0, OMS_CENTS_MAX, true),
};
static const oms_schema_t s_sku = OMS_SCHEMA (sku_t, "sku", s_sku_fields);

//  What is held for one order. States: reserved, committed (sold),
//  released, rejected, void (cancelled before it was ever placed here).
typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char state[16];
    oms_item_t items[OMS_ITEMS_MAX];
    uint32_t n_items;
    int64_t amount_cents;
} reservation_t;

static const oms_field_t s_reservation_fields[] = {
    OMS_STR (reservation_t, order_id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (reservation_t, state, OMS_C_NAME, 15, true),
    OMS_ITEMS (reservation_t, items, n_items, 0, false),
    OMS_INT (reservation_t, amount_cents, 0, OMS_CENTS_MAX, false),
};
static const oms_schema_t s_reservation =
    OMS_SCHEMA (reservation_t, "reservation", s_reservation_fields);

static int
s_sku_load (oms_ctx_t *ctx, const char *sku, sku_t *record)
{
    return oms_txn_get_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "skus"), sku, strlen (sku),
                               &s_sku, record);
}

//  Stores a SKU and announces its new levels.
static int
s_sku_save (oms_ctx_t *ctx, const sku_t *record)
{
    int rc = oms_txn_put_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "skus"), record->sku,
                                 strlen (record->sku), &s_sku, record);
    if (rc)
        return rc;
    oms_event_t event;
    oms_event_stock_updated (&event, record->sku, record->available, record->reserved, record->sold,
                             record->price_cents);
    return oms_ctx_emit (ctx, &event);
}

static int
s_reservation_load (oms_ctx_t *ctx, const char *order_id, reservation_t *record)
{
    return oms_txn_get_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "reservations"), order_id,
                               strlen (order_id), &s_reservation, record);
}

static int
s_reservation_save (oms_ctx_t *ctx, const reservation_t *record)
{
    return oms_txn_put_record (oms_ctx_txn (ctx), oms_ctx_db (ctx, "reservations"),
                               record->order_id, strlen (record->order_id), &s_reservation, record);
}

//  Moves `qty` units of each held line from one place to another.
typedef enum { TO_RESERVED, RESERVED_TO_SOLD, RESERVED_TO_AVAILABLE, SOLD_TO_AVAILABLE } move_t;

static int
s_move (oms_ctx_t *ctx, const reservation_t *held, move_t move)
{
    for (uint32_t i = 0; i < held->n_items; i++) {
        sku_t sku;
        int rc = s_sku_load (ctx, held->items[i].sku, &sku);
        if (rc)
            return rc;
        int64_t qty = held->items[i].qty;
        int64_t *from = move == TO_RESERVED                                         ? &sku.available
                        : move == RESERVED_TO_SOLD || move == RESERVED_TO_AVAILABLE ? &sku.reserved
                                                                                    : &sku.sold;
        int64_t *to = move == TO_RESERVED        ? &sku.reserved
                      : move == RESERVED_TO_SOLD ? &sku.sold
                                                 : &sku.available;
        if (*from < qty)
            return oms_ctx_fail (ctx, "sku %s has %lld where %lld should be", sku.sku,
                                 (long long) *from, (long long) qty);
        *from -= qty;
        *to += qty;
        rc = s_sku_save (ctx, &sku);
        if (rc)
            return rc;
    }
    return 0;
}

// ---------------------------------------------------------------------------
//  Commands

static int
s_stock_set (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    sku_t sku;
    int rc = s_sku_load (ctx, request->sku, &sku);
    if (rc == OMS_E_NOTFOUND) {
        if (request->price_cents == 0)
            return oms_ctx_fail (ctx, "new sku %s needs a price", request->sku);
        memset (&sku, 0, sizeof sku);
        snprintf (sku.sku, sizeof sku.sku, "%s", request->sku);
    }
    else if (rc)
        return rc;
    sku.available = request->qty;
    if (request->price_cents && request->price_cents != sku.price_cents) {
        //  Listed or repriced: order keeps its catalog from these.
        sku.price_cents = request->price_cents;
        oms_event_t listed;
        oms_event_catalog_updated (&listed, sku.sku, sku.price_cents);
        rc = oms_ctx_emit (ctx, &listed);
        if (rc)
            return rc;
    }
    rc = s_sku_save (ctx, &sku);
    if (rc == 0) {
        oms_info ("stock set sku=%s available=%lld price_cents=%lld", sku.sku,
                  (long long) sku.available, (long long) sku.price_cents);
        oms_reply_record (reply, &s_sku, &sku);
    }
    return rc;
}

static int
s_stock_get (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    sku_t sku;
    int rc = s_sku_load (ctx, request->sku, &sku);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail_with (ctx, OMS_E_NOTFOUND, "unknown sku %s", request->sku);
    if (rc == 0)
        oms_reply_record (reply, &s_sku, &sku);
    return rc;
}

// ---------------------------------------------------------------------------
//  Events

static int
s_reject (oms_ctx_t *ctx, reservation_t *held, const oms_event_t *event, const char *reason)
{
    snprintf (held->state, sizeof held->state, "rejected");
    held->n_items = 0;
    int rc = s_reservation_save (ctx, held);
    if (rc)
        return rc;
    oms_event_t rejected;
    oms_event_stock_rejected (&rejected, event->data.order_id, event->data.customer, reason);
    oms_info ("stock rejected order_id=%s reason=\"%s\"", held->order_id, reason);
    return oms_ctx_emit (ctx, &rejected);
}

static int
s_on_order_placed (oms_ctx_t *ctx, const oms_event_t *event)
{
    reservation_t held;
    int rc = s_reservation_load (ctx, event->data.order_id, &held);
    if (rc != OMS_E_NOTFOUND)
        return rc; //  already decided, or void: cancelled before it arrived
    memset (&held, 0, sizeof held);
    snprintf (held.order_id, sizeof held.order_id, "%s", event->data.order_id);

    //  All or nothing: check every line before holding any.
    for (uint32_t i = 0; i < event->data.n_items; i++) {
        const oms_item_t *item = &event->data.items[i];
        sku_t sku;
        char reason[OMS_TEXT_MAX + 1];
        rc = s_sku_load (ctx, item->sku, &sku);
        if (rc == OMS_E_NOTFOUND) {
            snprintf (reason, sizeof reason, "unknown sku %s", item->sku);
            return s_reject (ctx, &held, event, reason);
        }
        if (rc)
            return rc;
        int64_t wanted = 0; //  the same SKU on several lines counts once in total
        for (uint32_t j = 0; j < event->data.n_items; j++)
            if (strcmp (event->data.items[j].sku, item->sku) == 0)
                wanted += event->data.items[j].qty;
        if (sku.available < wanted) {
            snprintf (reason, sizeof reason, "out of stock: %s (wanted %lld, available %lld)",
                      item->sku, (long long) wanted, (long long) sku.available);
            return s_reject (ctx, &held, event, reason);
        }
        held.amount_cents += sku.price_cents * item->qty;
    }
    snprintf (held.state, sizeof held.state, "reserved");
    memcpy (held.items, event->data.items, event->data.n_items * sizeof (oms_item_t));
    held.n_items = event->data.n_items;
    rc = s_move (ctx, &held, TO_RESERVED);
    if (rc == 0)
        rc = s_reservation_save (ctx, &held);
    if (rc)
        return rc;
    oms_event_t reserved;
    oms_event_stock_reserved (&reserved, held.order_id, event->data.customer, held.amount_cents,
                              event->data.method, event->data.card_last4);
    oms_info ("stock reserved order_id=%s amount_cents=%lld", held.order_id,
              (long long) held.amount_cents);
    return oms_ctx_emit (ctx, &reserved);
}

static int
s_on_order_confirmed (oms_ctx_t *ctx, const oms_event_t *event)
{
    reservation_t held;
    int rc = s_reservation_load (ctx, event->data.order_id, &held);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail (ctx, "confirmation of unknown order %s", event->data.order_id);
    if (rc || strcmp (held.state, "reserved") != 0)
        return rc;
    snprintf (held.state, sizeof held.state, "committed");
    rc = s_move (ctx, &held, RESERVED_TO_SOLD);
    return rc ? rc : s_reservation_save (ctx, &held);
}

static int
s_on_order_cancelled (oms_ctx_t *ctx, const oms_event_t *event)
{
    reservation_t held;
    int rc = s_reservation_load (ctx, event->data.order_id, &held);
    if (rc == OMS_E_NOTFOUND) {
        //  The cancellation overtook the order: a void record, so nothing is held later.
        reservation_t tombstone = {.state = "void"};
        snprintf (tombstone.order_id, sizeof tombstone.order_id, "%s", event->data.order_id);
        return s_reservation_save (ctx, &tombstone);
    }
    if (rc)
        return rc;
    move_t move;
    if (strcmp (held.state, "reserved") == 0)
        move = RESERVED_TO_AVAILABLE;
    else if (strcmp (held.state, "committed") == 0)
        move = SOLD_TO_AVAILABLE;
    else
        return 0;
    snprintf (held.state, sizeof held.state, "released");
    rc = s_move (ctx, &held, move);
    if (rc == 0)
        oms_info ("stock released order_id=%s", held.order_id);
    return rc ? rc : s_reservation_save (ctx, &held);
}

static const char *const s_dbs[] = {"skus", "reservations", NULL};

static const oms_subscription_t s_subscriptions[] = {{"order.placed", s_on_order_placed},
                                                     {"order.confirmed", s_on_order_confirmed},
                                                     {"order.cancelled", s_on_order_cancelled},
                                                     {NULL, NULL}};

static const oms_command_def_t s_commands[] = {
    {"stock.set", s_stock_set}, {"stock.get", s_stock_get}, {NULL, NULL}};

static const oms_service_def_t s_inventory_service = {"inventory", s_dbs, s_subscriptions,
                                                      s_commands,  NULL,  NULL};

int
main (int argc, char *argv[])
{
    return oms_service_main (&s_inventory_service, argc, argv);
}
