/*  sample_events: see sample_events.h. */
#include "sample_events.h"

#include <stdio.h>
#include <string.h>

void
sample_events_build (oms_event_t *events)
{
    oms_item_t items[] = {{"SKU-1", 2}, {"SKU-2", 1}};
    oms_head_t heads[] = {{"order.placed", 41}, {"order.cancelled", 3}};
    oms_event_order_placed (&events[0], "o-1", "alice", items, 2, "card", "4242");
    oms_event_order_confirmed (&events[1], "o-1", "alice", 2500);
    oms_event_order_cancelled (&events[2], "o-2", "bob", "payment failed: card declined");
    oms_event_stock_reserved (&events[3], "o-1", "alice", 2500, "card", "4242");
    oms_event_stock_rejected (&events[4], "o-2", "bob", "unknown sku SKU-9");
    oms_event_stock_updated (&events[5], "SKU-1", 98, 2, 10, 1000);
    oms_event_payment_completed (&events[6], "o-1", "alice", 2500, "card");
    oms_event_payment_failed (&events[7], "o-2", "bob", "wallet", "insufficient funds");
    oms_event_payment_refunded (&events[8], "o-1", "alice", 2500, "card");
    oms_event_notification_sent (&events[9], "o-1", "alice", "confirmed", "email",
                                 "Your order o-1 is confirmed: 25.00 \xe2\x82\xac");
    oms_event_heartbeat (&events[10], "order", "order-1@host", "0.1.0", 123456789, heads, 2, heads,
                         1);
    oms_event_catalog_updated (&events[11], "SKU-1", 1000);
}

void
sample_event_stamp (oms_event_t *event, uint64_t seq)
{
    const oms_event_type_t *entry = oms_event_type (event->type);
    const char *owner = entry->owner ? entry->owner : event->type + strlen (OMS_HEARTBEAT_PREFIX);
    snprintf (event->producer, sizeof event->producer, "%s", owner);
    event->epoch = UINT64_C (0x0123456789abcdef);
    event->seq = seq;
    if (snprintf (event->id, sizeof event->id, "%s/%s/%llu", event->producer, event->type,
                  (unsigned long long) seq) < 0)
        event->id[0] = 0;
    event->ts_ns = UINT64_C (1700000000000000000);
    if (event->data.order_id[0])
        snprintf (event->correlation_id, sizeof event->correlation_id, "%s", event->data.order_id);
}
