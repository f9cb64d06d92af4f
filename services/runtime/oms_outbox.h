/*  oms_outbox: a service's durable log of what it published.

    The `outbox` sub-database keys each event body by type and per-type
    sequence number (type, \0, be64 seq); `heads` keeps each type's newest
    seq. Appending stamps the next number in the same transaction as the
    handler's effects, so an event exists exactly when the state change that
    caused it does, and a type's sequence never restarts, whatever retention
    removes.
*/
#ifndef OMS_OUTBOX_H
#define OMS_OUTBOX_H

#include "oms_store.h"

//  Stamps event->seq (head + 1) and event->id ("<producer>/<type>/<seq>"),
//  encodes it and appends it. `body` (reset first) receives the stored
//  value: OMS_OUTBOX_STAMP bytes of timestamp, then the event body to
//  publish. The caller has set producer, ts_ns and the ids.
#define OMS_OUTBOX_STAMP 8
int oms_outbox_append (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_event_t *event,
                       msgpack_sbuffer *body);

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
//  `keep`, at most `budget` of them per call, never the newest one.
//  Sets *pruned to how many went.
int oms_outbox_prune (oms_txn_t *txn, oms_db_t db, oms_db_t heads, const char *type,
                      uint64_t min_ts_ns, uint64_t keep, size_t budget, uint64_t *pruned);

#endif
