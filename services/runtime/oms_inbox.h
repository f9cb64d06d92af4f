/*  oms_inbox: where a subscriber stands in each producer's sequence.

    For every subscribed type: the seq of the last applied event and the
    epoch of the producer's store it came from (durable in the `positions`
    sub-database, written in the same transaction as the event's effects),
    and the highest seq known to exist (from live events and heartbeats).
    position < known means events are missing and must be fetched by
    replay; the runtime does the fetching.

    Live traffic passes through the broker and could come from anyone, so
    it is not trusted with surprises: a seq far ahead of what is known, or
    an epoch other than the one applied, is not taken in but confirmed from
    the producer's own replay answer first (section 7 of PROTOCOL.md). A
    confirmed new epoch stops the subscription: the producer's history
    restarted, and neither dropping its events as duplicates nor applying
    them again is right. Only an operator resumes it (position.set).
*/
#ifndef OMS_INBOX_H
#define OMS_INBOX_H

#include "oms_store.h"

#define OMS_INBOX_MAX 16

//  How far past the highest confirmed seq a live seq may lie and still be
//  counted as known; one further ahead waits for the producer's word.
#define OMS_INBOX_AHEAD_MAX 4096

typedef struct {
    char type[OMS_NAME_MAX + 1];
    const char *owner;       //  the producing service
    uint64_t position;       //  last applied seq
    uint64_t epoch;          //  producer's store epoch at `position`; 0 before any
    uint64_t known;          //  highest seq known to exist
    bool stopped;            //  the producer's epoch changed: nothing is applied
    uint64_t fetch_sent_ns;  //  a replay request is in flight since; 0 when none
    uint64_t retry_after_ns; //  after a failed fetch, not before this
} oms_inbox_entry_t;

typedef struct {
    oms_inbox_entry_t entries[OMS_INBOX_MAX];
    size_t count;
} oms_inbox_t;

typedef enum {
    OMS_INBOX_APPLY,     //  the next seq: apply it
    OMS_INBOX_DUPLICATE, //  seen already: drop it
    OMS_INBOX_GAP,       //  ahead: fetch what is missing
    OMS_INBOX_SUSPECT,   //  another epoch, or far ahead: confirm by replay
    OMS_INBOX_STOPPED    //  the subscription is stopped: drop it
} oms_inbox_verdict_t;

//  Adds a subscribed type. -1 when full or not a known event type.
int oms_inbox_add (oms_inbox_t *self, const char *type);

//  The entry of a type, or NULL.
oms_inbox_entry_t *oms_inbox_find (oms_inbox_t *self, const char *type);

//  Reads every entry's position from the store.
int oms_inbox_load (oms_inbox_t *self, oms_txn_t *txn, oms_db_t positions);

//  Judges a live (epoch, seq) and raises `known` on a gap that is not far.
oms_inbox_verdict_t oms_inbox_check (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t seq);

//  Takes a head a heartbeat announced: SUSPECT when it must be confirmed,
//  else raises `known` and says GAP when events are missing, APPLY if not.
oms_inbox_verdict_t oms_inbox_heard (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t head);

//  Takes the producer's own word from a replay answer: its epoch and head.
//  A new epoch stops the subscription (true returned once, when it does).
bool oms_inbox_confirm (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t head);

//  Records (epoch, seq) as applied, in memory and in `txn`. A caller whose
//  transaction then fails calls oms_inbox_load to forget it.
int oms_inbox_advance (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t epoch,
                       uint64_t seq);

//  An operator's repair: sets the position and forgets the epoch, so the
//  next applied event's producer epoch is taken; resumes a stopped entry.
int oms_inbox_reset (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t seq);

//  Whether events are known to be missing.
bool oms_inbox_behind (const oms_inbox_entry_t *entry);

#endif
