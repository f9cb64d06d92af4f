/*  oms_outbox: a service's durable log of what it published.

    The `outbox` sub-database keys each event body by type and per-type
    sequence number (type, \0, be64 seq); `heads` keeps each type's newest
    seq. Appending stamps the next number in the same transaction as the
    handler's effects, so an event exists exactly when the state change that
    caused it does, and a type's sequence never restarts, whatever retention
    removes.

    `by_order` indexes the events about an order (their correlation_id,
    which is the order id): key order_id, \0, type, \0, be64 seq, empty
    value. It is written in the
    same transaction as the event and deleted with it when retention prunes
    the event, so `oms trace` reads one order's events without a scan.
*/
#ifndef OMS_OUTBOX_H
#define OMS_OUTBOX_H

#include "oms_store.h"

//  Stamps event->seq (head + 1) and event->id ("<producer>/<type>/<seq>"),
//  encodes it and appends it. `body` (reset first) receives the stored
//  value: OMS_OUTBOX_STAMP bytes of timestamp, then the event body to
//  publish. The caller has set producer, ts_ns and the ids.
//  An event with a correlation_id is also indexed in `by_order`.
#define OMS_OUTBOX_STAMP 8
int oms_outbox_append (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_db_t by_order,
                       oms_event_t *event, msgpack_sbuffer *body);

//  The newest and oldest retained seq of a type: both 0 when it has none.
int oms_outbox_bounds (oms_txn_t *txn, oms_db_t db, oms_db_t heads, const char *type,
                       uint64_t *first, uint64_t *head);

//  Calls `fn` with each stored body of `type` from seq `from`, at most
//  `max` events and about `max_bytes` bytes (always at least one event).
//  Bodies are borrowed until the transaction ends. Returns the count, or a
//  negative oms_error_t.
typedef int (oms_outbox_fn) (void *arg, uint64_t seq, const uint8_t *body, size_t size);
int oms_outbox_read (oms_txn_t *txn, oms_db_t db, const char *type, uint64_t from, size_t max,
                     size_t max_bytes, oms_outbox_fn *fn, void *arg);

//  Deletes a type's events older than `min_ts_ns` or beyond the newest
//  `keep`, at most `budget` of them per call, never the newest one, and
//  their `by_order` entries. Sets *pruned to how many went.
int oms_outbox_prune (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_db_t by_order,
                      const char *type, uint64_t min_ts_ns, uint64_t keep, size_t budget,
                      uint64_t *pruned);

// ---------------------------------------------------------------------------
//  The per-order index

#define OMS_OUTBOX_ORDER_KEY_MAX (OMS_ID_MAX + 1 + OMS_NAME_MAX + 1 + 8)

//  Writes the `by_order` key of (order_id, type, seq) into `key` (at least
//  OMS_OUTBOX_ORDER_KEY_MAX bytes); returns its length, 0 when order_id or
//  type is empty or too long.
size_t oms_outbox_order_key (uint8_t *key, const char *order_id, const char *type, uint64_t seq);

//  Whether `key` is a well-formed `by_order` key of `order_id`; if so, its
//  type (NUL-terminated, OMS_NAME_MAX + 1 bytes) and seq. Stored keys are
//  untrusted: anything else is false.
bool oms_outbox_order_key_parse (const void *key, size_t size, const char *order_id, char *type,
                                 uint64_t *seq);

//  Calls `fn` with each stored event of `order_id`, in key order (type,
//  then seq): at most `max` events and about `max_bytes` bytes (always at
//  least one). An index entry whose event is gone is skipped. Sets *more
//  when entries were left out by the bounds. Returns the count, or a
//  negative oms_error_t.
int oms_outbox_order_read (oms_txn_t *txn, oms_db_t db, oms_db_t by_order, const char *order_id,
                           size_t max, size_t max_bytes, oms_outbox_fn *fn, void *arg, bool *more);

//  Indexes every stored event about an order (for a store made before the
//  index). Sets *indexed to how many entries were written. 0, or a
//  negative oms_error_t; a stored body that does not decode is skipped.
int oms_outbox_index (oms_txn_t *txn, oms_db_t db, oms_db_t by_order, uint64_t *indexed);

#endif
