/*  Unit tests of oms_outbox and oms_inbox: sequence stamping, bounds,
    replay reads, retention that never loses a type's head, and how a
    subscriber judges arriving sequence numbers.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scratch_dir.h"
#include "oms_inbox.h"
#include "oms_outbox.h"

static char s_dir[64];
static oms_store_t *s_store;
static oms_db_t s_outbox, s_heads, s_positions, s_by_order;
static const char *const s_dbs[] = {"outbox", "heads", "positions", "by_order", NULL};

static void
s_setup (void)
{
    scratch_dir_make (s_dir, sizeof s_dir, "outbox");
    s_store = oms_store_new (s_dir, s_dbs, 16, true);
    cr_assert_not_null (s_store);
    cr_assert_eq (oms_store_db (s_store, "outbox", &s_outbox), 0);
    cr_assert_eq (oms_store_db (s_store, "heads", &s_heads), 0);
    cr_assert_eq (oms_store_db (s_store, "positions", &s_positions), 0);
    cr_assert_eq (oms_store_db (s_store, "by_order", &s_by_order), 0);
}

static void
s_teardown (void)
{
    oms_store_destroy (&s_store);
    scratch_dir_remove (s_dir);
}

TestSuite (outbox, .init = s_setup, .fini = s_teardown);
TestSuite (inbox, .init = s_setup, .fini = s_teardown);

//  Appends `count` order.cancelled events stamped at ts_ns 1000, 2000, ...
static void
s_append (oms_txn_t *txn, const char *type, int count, uint64_t *last_seq)
{
    static oms_event_t event;
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    for (int i = 0; i < count; i++) {
        char order_id[16];
        snprintf (order_id, sizeof order_id, "o-%d", i + 1);
        if (strcmp (type, "order.cancelled") == 0)
            oms_event_order_cancelled (&event, order_id, "c1", "test");
        else
            oms_event_order_confirmed (&event, order_id, "c1", 100);
        snprintf (event.producer, sizeof event.producer, "order");
        snprintf (event.correlation_id, sizeof event.correlation_id, "%s", order_id);
        event.epoch = 1;
        event.ts_ns = 1000u * (uint64_t) (i + 1);
        cr_assert_eq (oms_outbox_append (txn, s_outbox, s_heads, s_by_order, &event, &body), 0);
        *last_seq = event.seq;
    }
    msgpack_sbuffer_destroy (&body);
}

static oms_txn_t *
s_begin (void)
{
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (s_store, true, &txn), 0);
    return txn;
}

Test (outbox, stamps_dense_sequences_per_type)
{
    oms_txn_t *txn = s_begin ();
    uint64_t cancelled, confirmed;
    s_append (txn, "order.cancelled", 3, &cancelled);
    s_append (txn, "order.confirmed", 2, &confirmed);
    cr_assert_eq (cancelled, 3);
    cr_assert_eq (confirmed, 2, "each type counts on its own");
    cr_assert_eq (oms_txn_commit (&txn), 0);

    txn = s_begin ();
    s_append (txn, "order.cancelled", 1, &cancelled);
    cr_assert_eq (cancelled, 4, "the sequence continues after a commit");
    oms_txn_abort (&txn);
    txn = s_begin ();
    s_append (txn, "order.cancelled", 1, &cancelled);
    cr_assert_eq (cancelled, 4, "an aborted append leaves no gap");
    oms_txn_abort (&txn);
}

Test (outbox, stamps_the_event_id)
{
    oms_txn_t *txn = s_begin ();
    static oms_event_t event;
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    oms_event_order_cancelled (&event, "o-9", "c1", "why");
    snprintf (event.producer, sizeof event.producer, "order");
    event.epoch = 1;
    event.ts_ns = 5;
    cr_assert_eq (oms_outbox_append (txn, s_outbox, s_heads, s_by_order, &event, &body), 0);
    cr_assert_str_eq (event.id, "order/order.cancelled/1");
    //  What is stored after the stamp decodes back to the same event.
    static oms_event_t back;
    cr_assert_eq (oms_event_decode ((const uint8_t *) body.data + OMS_OUTBOX_STAMP,
                                    body.size - OMS_OUTBOX_STAMP, "order.cancelled", &back, NULL),
                  0);
    cr_assert_str_eq (back.id, "order/order.cancelled/1");
    cr_assert_str_eq (back.data.reason, "why");
    msgpack_sbuffer_destroy (&body);
    oms_txn_abort (&txn);
}

typedef struct {
    uint64_t seqs[16];
    size_t count;
} s_seen_t;

static int
s_collect (void *arg, uint64_t seq, const uint8_t *body, size_t size)
{
    s_seen_t *seen = arg;
    cr_assert_gt (size, 0);
    cr_assert_not_null (body);
    seen->seqs[seen->count++] = seq;
    return 0;
}

Test (outbox, reads_from_a_position_within_limits)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last;
    s_append (txn, "order.cancelled", 10, &last);
    s_append (txn, "order.confirmed", 3, &last);
    s_seen_t seen = {0};
    int count = oms_outbox_read (txn, s_outbox, "order.cancelled", 4, 5, 1 << 20, s_collect, &seen);
    cr_assert_eq (count, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq (seen.seqs[i], 4 + i);

    memset (&seen, 0, sizeof seen);
    count = oms_outbox_read (txn, s_outbox, "order.cancelled", 9, 100, 1 << 20, s_collect, &seen);
    cr_assert_eq (count, 2, "stops at the end of the type, not in the next one");

    memset (&seen, 0, sizeof seen);
    count = oms_outbox_read (txn, s_outbox, "order.cancelled", 1, 100, 1, s_collect, &seen);
    cr_assert_eq (count, 1, "a byte budget still yields one event");
    oms_txn_abort (&txn);
}

Test (outbox, knows_its_bounds)
{
    oms_txn_t *txn = s_begin ();
    uint64_t first, head, last;
    cr_assert_eq (oms_outbox_bounds (txn, s_outbox, s_heads, "order.cancelled", &first, &head), 0);
    cr_assert_eq (first, 0);
    cr_assert_eq (head, 0);
    s_append (txn, "order.cancelled", 4, &last);
    cr_assert_eq (oms_outbox_bounds (txn, s_outbox, s_heads, "order.cancelled", &first, &head), 0);
    cr_assert_eq (first, 1);
    cr_assert_eq (head, 4);
    oms_txn_abort (&txn);
}

Test (outbox, retention_by_count_keeps_the_newest)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last, pruned, first, head;
    s_append (txn, "order.cancelled", 10, &last);
    cr_assert_eq (oms_outbox_prune (txn, s_outbox, s_heads, s_by_order, "order.cancelled", 0, 3,
                                    100, &pruned),
                  0);
    cr_assert_eq (pruned, 7);
    cr_assert_eq (oms_outbox_bounds (txn, s_outbox, s_heads, "order.cancelled", &first, &head), 0);
    cr_assert_eq (first, 8);
    cr_assert_eq (head, 10);
    oms_txn_abort (&txn);
}

Test (outbox, retention_by_age_never_drops_the_head)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last, pruned, first, head;
    s_append (txn, "order.cancelled", 5, &last); //  ts 1000 .. 5000
    cr_assert_eq (oms_outbox_prune (txn, s_outbox, s_heads, s_by_order, "order.cancelled", 3500,
                                    1000, 100, &pruned),
                  0);
    cr_assert_eq (pruned, 3, "events at 1000, 2000 and 3000 are older than 3500");
    cr_assert_eq (oms_outbox_prune (txn, s_outbox, s_heads, s_by_order, "order.cancelled",
                                    UINT64_MAX, 1000, 100, &pruned),
                  0);
    cr_assert_eq (pruned, 1, "all are old, but the newest stays");
    cr_assert_eq (oms_outbox_bounds (txn, s_outbox, s_heads, "order.cancelled", &first, &head), 0);
    cr_assert_eq (first, 5);
    cr_assert_eq (head, 5);
    s_append (txn, "order.cancelled", 1, &last);
    cr_assert_eq (last, 6, "the sequence goes on after pruning");
    oms_txn_abort (&txn);
}

Test (outbox, retention_respects_its_budget)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last, pruned;
    s_append (txn, "order.cancelled", 10, &last);
    cr_assert_eq (oms_outbox_prune (txn, s_outbox, s_heads, s_by_order, "order.cancelled",
                                    UINT64_MAX, 1, 4, &pruned),
                  0);
    cr_assert_eq (pruned, 4);
    oms_txn_abort (&txn);
}

// ---------------------------------------------------------------------------
//  The per-order index

Test (outbox, order_key_round_trips_and_sorts_by_order_then_type_then_seq)
{
    uint8_t a[OMS_OUTBOX_ORDER_KEY_MAX], b[OMS_OUTBOX_ORDER_KEY_MAX];
    size_t size = oms_outbox_order_key (a, "o-1", "stock.reserved", 258);
    cr_assert_eq (size, 3 + 1 + 14 + 1 + 8);
    cr_assert_eq (memcmp (a, "o-1\0stock.reserved\0", 19), 0);
    char type[OMS_NAME_MAX + 1];
    uint64_t seq = 0;
    cr_assert (oms_outbox_order_key_parse (a, size, "o-1", type, &seq));
    cr_assert_str_eq (type, "stock.reserved");
    cr_assert_eq (seq, 258);
    //  Seqs sort numerically, and "o-1"'s keys all precede "o-10"'s.
    size_t other = oms_outbox_order_key (b, "o-1", "stock.reserved", 3);
    cr_assert_gt (memcmp (a, b, size < other ? size : other), 0);
    other = oms_outbox_order_key (b, "o-10", "order.placed", 1);
    cr_assert_lt (memcmp (a, b, size < other ? size : other), 0);
    cr_assert_not (oms_outbox_order_key_parse (b, other, "o-1", type, &seq),
                   "o-10's key is not o-1's");
    cr_assert_eq (oms_outbox_order_key (a, "", "order.placed", 1), 0);
    cr_assert_eq (oms_outbox_order_key (a, "o-1", "", 1), 0);
    char long_id[OMS_ID_MAX + 2];
    memset (long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    cr_assert_eq (oms_outbox_order_key (a, long_id, "order.placed", 1), 0);
}

Test (outbox, order_key_parse_rejects_malformed_keys)
{
    static const struct {
        const char *bytes;
        size_t size;
        const char *why;
    } cases[] = {
        {"o-1", 3, "no separator"},
        {"o-1\0\0\0\0\0\0\0\0\0\1", 13, "empty type"},
        {"o-1\0order.placed\0\0\0\0\1", 21, "seq too short"},
        {"o-1\0order.placed\0\0\0\0\0\0\0\0\1\0", 27, "seq too long"},
        {"o-1\0order\0placed\0\0\0\0\0\0\0\0\1", 26, "a zero inside the type"},
        {"o-2\0order.placed\0\0\0\0\0\0\0\0\1", 25, "another order"},
        {"o-1xorder.placed\0\0\0\0\0\0\0\0\1", 25, "no zero after the order id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char type[OMS_NAME_MAX + 1];
        uint64_t seq;
        cr_assert_not (
            oms_outbox_order_key_parse (cases[i].bytes, cases[i].size, "o-1", type, &seq), "%s",
            cases[i].why);
    }
    uint8_t key[OMS_OUTBOX_ORDER_KEY_MAX + 8];
    memcpy (key, "o-1\0", 4);
    memset (key + 4, 'a', OMS_NAME_MAX + 1);
    memset (key + 4 + OMS_NAME_MAX + 1, 0, 9);
    char type[OMS_NAME_MAX + 1];
    uint64_t seq;
    cr_assert_not (oms_outbox_order_key_parse (key, 4 + OMS_NAME_MAX + 1 + 9, "o-1", type, &seq),
                   "a type over OMS_NAME_MAX");
}

typedef struct {
    char ids[16][OMS_ID_MAX + 1];
    size_t count;
} s_events_seen_t;

static int
s_collect_ids (void *arg, uint64_t seq, const uint8_t *body, size_t size)
{
    (void) seq;
    s_events_seen_t *seen = arg;
    static oms_event_t event;
    cr_assert_eq (oms_event_decode (body, size, NULL, &event, NULL), 0);
    cr_assert_lt (seen->count, 16);
    snprintf (seen->ids[seen->count++], OMS_ID_MAX + 1, "%s", event.id);
    return 0;
}

//  Appends one event of `type` about order `order_id`, stamped with it as
//  its correlation id as oms_ctx_emit does; a stock.updated names no order
//  in its data, and order_id is then its cause's correlation (or NULL).
static void
s_append_for (oms_txn_t *txn, const char *type, const char *order_id)
{
    static oms_event_t event;
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    if (strcmp (type, "stock.updated") == 0)
        oms_event_stock_updated (&event, "SKU-1", 1, 0, 0, 100);
    else if (strcmp (type, "order.cancelled") == 0)
        oms_event_order_cancelled (&event, order_id, "c1", "test");
    else
        oms_event_order_confirmed (&event, order_id, "c1", 100);
    snprintf (event.producer, sizeof event.producer, "%s",
              strcmp (type, "stock.updated") == 0 ? "inventory" : "order");
    snprintf (event.correlation_id, sizeof event.correlation_id, "%s", order_id ? order_id : "");
    event.epoch = 1;
    event.ts_ns = 1000;
    cr_assert_eq (oms_outbox_append (txn, s_outbox, s_heads, s_by_order, &event, &body), 0);
    msgpack_sbuffer_destroy (&body);
}

Test (outbox, indexes_the_events_of_an_order)
{
    oms_txn_t *txn = s_begin ();
    s_append_for (txn, "order.cancelled", "o-1");  //  order.cancelled 1
    s_append_for (txn, "order.confirmed", "o-10"); //  order.confirmed 1
    s_append_for (txn, "order.confirmed", "o-1");  //  order.confirmed 2
    s_append_for (txn, "stock.updated", NULL);     //  about no order (a stock set)
    s_append_for (txn, "stock.updated", "o-1");    //  caused by one of o-1's events
    uint64_t entries;
    cr_assert_eq (oms_txn_count (txn, s_by_order, &entries), 0);
    cr_assert_eq (entries, 4, "only events about an order are indexed");
    s_events_seen_t seen = {0};
    bool more = true;
    int count = oms_outbox_order_read (txn, s_outbox, s_by_order, "o-1", 100, 1 << 20,
                                       s_collect_ids, &seen, &more);
    cr_assert_eq (count, 3);
    cr_assert_not (more);
    cr_assert_str_eq (seen.ids[0], "order/order.cancelled/1");
    cr_assert_str_eq (seen.ids[1], "order/order.confirmed/2");
    cr_assert_str_eq (seen.ids[2], "inventory/stock.updated/2");

    memset (&seen, 0, sizeof seen);
    count = oms_outbox_order_read (txn, s_outbox, s_by_order, "o-1", 1, 1 << 20, s_collect_ids,
                                   &seen, &more);
    cr_assert_eq (count, 1);
    cr_assert (more, "the bound left one out");
    count = oms_outbox_order_read (txn, s_outbox, s_by_order, "o-1", 100, 1, s_collect_ids, &seen,
                                   &more);
    cr_assert_eq (count, 1, "a byte budget still yields one event");
    cr_assert (more);
    count = oms_outbox_order_read (txn, s_outbox, s_by_order, "o-2", 100, 1 << 20, s_collect_ids,
                                   &seen, &more);
    cr_assert_eq (count, 0, "an order with no events");
    oms_txn_abort (&txn);
}

Test (outbox, retention_takes_the_index_entries_along)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last, pruned, entries;
    s_append (txn, "order.cancelled", 5, &last); //  o-1 .. o-5
    cr_assert_eq (oms_outbox_prune (txn, s_outbox, s_heads, s_by_order, "order.cancelled", 0, 2,
                                    100, &pruned),
                  0);
    cr_assert_eq (pruned, 3);
    cr_assert_eq (oms_txn_count (txn, s_by_order, &entries), 0);
    cr_assert_eq (entries, 2, "o-1 .. o-3 went from the index with their events");
    s_events_seen_t seen = {0};
    bool more;
    cr_assert_eq (oms_outbox_order_read (txn, s_outbox, s_by_order, "o-2", 100, 1 << 20,
                                         s_collect_ids, &seen, &more),
                  0);
    cr_assert_eq (oms_outbox_order_read (txn, s_outbox, s_by_order, "o-4", 100, 1 << 20,
                                         s_collect_ids, &seen, &more),
                  1);
    oms_txn_abort (&txn);
}

Test (outbox, a_reader_skips_an_entry_whose_event_is_gone)
{
    oms_txn_t *txn = s_begin ();
    s_append_for (txn, "order.cancelled", "o-1");
    s_append_for (txn, "order.confirmed", "o-1");
    uint8_t key[OMS_NAME_MAX + 9];
    memcpy (key, "order.cancelled\0\0\0\0\0\0\0\0\1", 24);
    cr_assert_eq (oms_txn_del (txn, s_outbox, key, 24), 0);
    s_events_seen_t seen = {0};
    bool more;
    cr_assert_eq (oms_outbox_order_read (txn, s_outbox, s_by_order, "o-1", 100, 1 << 20,
                                         s_collect_ids, &seen, &more),
                  1);
    cr_assert_str_eq (seen.ids[0], "order/order.confirmed/1");
    oms_txn_abort (&txn);
}

Test (outbox, indexes_a_store_made_before_the_index)
{
    oms_txn_t *txn = s_begin ();
    uint64_t last, entries, indexed;
    s_append (txn, "order.cancelled", 3, &last);
    s_append_for (txn, "stock.updated", NULL);
    //  As such a store is: its events, and nothing in by_order.
    oms_cursor_t *cursor;
    oms_val_t k, v;
    cr_assert_eq (oms_cursor_open (txn, s_by_order, &cursor), 0);
    while (oms_cursor_seek (cursor, NULL, 0, &k, &v) == 0)
        cr_assert_eq (oms_cursor_del (cursor), 0);
    oms_cursor_close (&cursor);
    cr_assert_eq (oms_txn_count (txn, s_by_order, &entries), 0);
    cr_assert_eq (entries, 0);
    cr_assert_eq (oms_outbox_index (txn, s_outbox, s_by_order, &indexed), 0);
    cr_assert_eq (indexed, 3);
    s_events_seen_t seen = {0};
    bool more;
    cr_assert_eq (oms_outbox_order_read (txn, s_outbox, s_by_order, "o-2", 100, 1 << 20,
                                         s_collect_ids, &seen, &more),
                  1);
    cr_assert_str_eq (seen.ids[0], "order/order.cancelled/2");
    oms_txn_abort (&txn);
}

Test (inbox, judges_arriving_sequences)
{
    oms_inbox_t inbox = {0};
    cr_assert_eq (oms_inbox_add (&inbox, "stock.reserved"), 0);
    oms_inbox_entry_t *entry = oms_inbox_find (&inbox, "stock.reserved");
    cr_assert_not_null (entry);
    cr_assert_str_eq (entry->owner, "inventory");
    cr_assert_eq (oms_inbox_check (entry, 7, 1), OMS_INBOX_APPLY);
    cr_assert_eq (oms_inbox_check (entry, 7, 3), OMS_INBOX_GAP);
    cr_assert_eq (entry->known, 3, "a gap raises what is known to exist");
    cr_assert (oms_inbox_behind (entry));
    oms_txn_t *txn = s_begin ();
    cr_assert_eq (oms_inbox_advance (entry, txn, s_positions, 7, 1), 0);
    cr_assert_eq (oms_inbox_check (entry, 7, 1), OMS_INBOX_DUPLICATE);
    cr_assert_eq (oms_inbox_check (entry, 7, 2), OMS_INBOX_APPLY);
    cr_assert_eq (oms_txn_commit (&txn), 0);
}

Test (inbox, refuses_heartbeats_and_unknown_types)
{
    oms_inbox_t inbox = {0};
    cr_assert_eq (oms_inbox_add (&inbox, "heartbeat.order"), -1);
    cr_assert_eq (oms_inbox_add (&inbox, "no.such"), -1);
    cr_assert_null (oms_inbox_find (&inbox, "no.such"));
}

Test (inbox, positions_survive_a_restart)
{
    oms_inbox_t inbox = {0};
    oms_inbox_add (&inbox, "order.placed");
    oms_inbox_add (&inbox, "order.cancelled");
    oms_txn_t *txn = s_begin ();
    cr_assert_eq (oms_inbox_advance (&inbox.entries[0], txn, s_positions, 7, 41), 0);
    cr_assert_eq (oms_txn_commit (&txn), 0);

    oms_inbox_t fresh = {0};
    oms_inbox_add (&fresh, "order.placed");
    oms_inbox_add (&fresh, "order.cancelled");
    cr_assert_eq (oms_store_begin (s_store, false, &txn), 0);
    cr_assert_eq (oms_inbox_load (&fresh, txn, s_positions), 0);
    oms_txn_abort (&txn);
    cr_assert_eq (fresh.entries[0].position, 41);
    cr_assert_eq (fresh.entries[1].position, 0);
    cr_assert_eq (oms_inbox_check (&fresh.entries[0], 7, 42), OMS_INBOX_APPLY);
}

Test (inbox, a_new_epoch_is_confirmed_by_replay_then_stops_the_subscription)
{
    oms_inbox_t inbox = {0};
    oms_inbox_add (&inbox, "payment.completed");
    oms_inbox_entry_t *entry = &inbox.entries[0];
    oms_txn_t *txn = s_begin ();
    cr_assert_eq (oms_inbox_advance (entry, txn, s_positions, 7, 40), 0);
    cr_assert_eq (oms_inbox_check (entry, 9, 1), OMS_INBOX_SUSPECT,
                  "seq 1 of another store is neither a duplicate nor applied");
    cr_assert_eq (oms_inbox_heard (entry, 9, 3), OMS_INBOX_SUSPECT);
    cr_assert_not (entry->stopped, "live traffic alone does not stop it");
    cr_assert_not (oms_inbox_confirm (entry, 7, 40), "the producer's word: same store");
    cr_assert (oms_inbox_confirm (entry, 9, 3), "the producer's word: a new store");
    cr_assert (entry->stopped);
    cr_assert_not (oms_inbox_confirm (entry, 9, 3), "said once");
    cr_assert_eq (oms_inbox_check (entry, 7, 41), OMS_INBOX_STOPPED);
    cr_assert_not (oms_inbox_behind (entry));

    cr_assert_eq (oms_inbox_reset (entry, txn, s_positions, 0), 0);
    cr_assert_not (entry->stopped, "an operator resumes it");
    cr_assert_eq (oms_inbox_check (entry, 9, 1), OMS_INBOX_APPLY, "and the new epoch is taken");
    cr_assert_eq (oms_txn_commit (&txn), 0);
}

Test (inbox, a_seq_far_ahead_waits_for_the_producer_to_confirm_it)
{
    oms_inbox_t inbox = {0};
    oms_inbox_add (&inbox, "order.placed");
    oms_inbox_entry_t *entry = &inbox.entries[0];
    cr_assert_eq (oms_inbox_check (entry, 7, 5), OMS_INBOX_GAP);
    cr_assert_eq (oms_inbox_check (entry, 7, 5 + OMS_INBOX_AHEAD_MAX + 1), OMS_INBOX_SUSPECT);
    cr_assert_eq (entry->known, 5, "a suspect seq is not counted as seen");
    cr_assert_eq (oms_inbox_heard (entry, 7, 1000000), OMS_INBOX_SUSPECT);
    cr_assert_eq (entry->known, 5);
    cr_assert_not (oms_inbox_confirm (entry, 7, 1000000));
    cr_assert_eq (entry->known, 1000000, "the producer's replay answer is believed");
}

Test (inbox, a_position_without_an_epoch_takes_the_next_one)
{
    uint8_t old[8];
    oms_be64_put (old, 12);
    oms_txn_t *txn = s_begin ();
    cr_assert_eq (oms_txn_put (txn, s_positions, "order.placed", 12, old, 8), 0);
    oms_inbox_t inbox = {0};
    oms_inbox_add (&inbox, "order.placed");
    cr_assert_eq (oms_inbox_load (&inbox, txn, s_positions), 0);
    cr_assert_eq (inbox.entries[0].position, 12);
    cr_assert_eq (inbox.entries[0].epoch, 0);
    cr_assert_eq (oms_inbox_check (&inbox.entries[0], 3, 13), OMS_INBOX_APPLY);
    cr_assert_eq (oms_txn_commit (&txn), 0);
}
