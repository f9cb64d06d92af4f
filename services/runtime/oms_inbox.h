/*  oms_inbox: where a subscriber stands in each producer's sequence.

    For every subscribed type: the seq of the last applied event (durable in
    the `positions` sub-database, written in the same transaction as the
    event's effects) and the highest seq known to exist (from live events and
    heartbeats). position < known means events are missing and must be
    fetched by replay; the runtime does the fetching.
*/
#ifndef OMS_INBOX_H
#define OMS_INBOX_H

#include "oms_store.h"

#define OMS_INBOX_MAX 16

typedef struct {
    char type[OMS_NAME_MAX + 1];
    const char *owner;       //  the producing service
    uint64_t position;       //  last applied seq
    uint64_t known;          //  highest seq known to exist
    uint64_t fetch_sent_ns;  //  a replay request is in flight since; 0 when none
    uint64_t retry_after_ns; //  after a failed fetch, not before this
} oms_inbox_entry_t;

typedef struct {
    oms_inbox_entry_t entries[OMS_INBOX_MAX];
    size_t count;
} oms_inbox_t;

typedef enum { OMS_INBOX_APPLY, OMS_INBOX_DUPLICATE, OMS_INBOX_GAP } oms_inbox_verdict_t;

//  Adds a subscribed type. -1 when full or not a known event type.
int oms_inbox_add (oms_inbox_t *self, const char *type);

//  The entry of a type, or NULL.
oms_inbox_entry_t *oms_inbox_find (oms_inbox_t *self, const char *type);

//  Reads every entry's position from the store.
int oms_inbox_load (oms_inbox_t *self, oms_txn_t *txn, oms_db_t positions);

//  Judges an arriving seq and raises `known` on a gap.
oms_inbox_verdict_t oms_inbox_check (oms_inbox_entry_t *entry, uint64_t seq);

//  Records `seq` as applied, in memory and in `txn`. A caller whose
//  transaction then fails calls oms_inbox_load to forget it.
int oms_inbox_advance (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t seq);

//  Whether events are known to be missing.
bool oms_inbox_behind (const oms_inbox_entry_t *entry);

#endif
