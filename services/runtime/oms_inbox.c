/*  oms_inbox: per-type positions of a subscriber.

    A position is stored as be64 seq followed by be64 epoch; a value of
    only the seq was written before positions had epochs and reads as
    epoch 0 (unknown: the next applied event's epoch is taken).
*/
#include "oms_inbox.h"
#include <stdio.h>
#include <string.h>

int
oms_inbox_add (oms_inbox_t *self, const char *type)
{
    const oms_event_type_t *known = oms_event_type (type);
    if (!known || !known->durable || self->count == OMS_INBOX_MAX)
        return -1;
    oms_inbox_entry_t *entry = &self->entries[self->count++];
    memset (entry, 0, sizeof *entry);
    snprintf (entry->type, sizeof entry->type, "%s", type);
    entry->owner = known->owner;
    return 0;
}

oms_inbox_entry_t *
oms_inbox_find (oms_inbox_t *self, const char *type)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries[i].type, type) == 0)
            return &self->entries[i];
    return NULL;
}

int
oms_inbox_load (oms_inbox_t *self, oms_txn_t *txn, oms_db_t positions)
{
    for (size_t i = 0; i < self->count; i++) {
        oms_inbox_entry_t *entry = &self->entries[i];
        oms_val_t value;
        int rc = oms_txn_get (txn, positions, entry->type, strlen (entry->type), &value);
        entry->position = 0;
        entry->epoch = 0;
        if (rc == OMS_E_NOTFOUND)
            ;
        else if (rc)
            return rc;
        else if (value.size != 8 && value.size != 16)
            return OMS_E_STORE;
        else {
            entry->position = oms_be64_get (value.data);
            if (value.size == 16)
                entry->epoch = oms_be64_get ((const uint8_t *) value.data + 8);
        }
        if (entry->known < entry->position)
            entry->known = entry->position;
    }
    return 0;
}

static bool
s_other_epoch (const oms_inbox_entry_t *entry, uint64_t epoch)
{
    return entry->epoch != 0 && epoch != entry->epoch;
}

//  What live traffic alone may not decide: STOPPED or SUSPECT; else it
//  raises `known` to `seq` and says APPLY, to go on judging.
static oms_inbox_verdict_t
s_hear (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t seq)
{
    if (entry->stopped)
        return OMS_INBOX_STOPPED;
    uint64_t confirmed = entry->known > entry->position ? entry->known : entry->position;
    if (s_other_epoch (entry, epoch) || (seq > confirmed && seq - confirmed > OMS_INBOX_AHEAD_MAX))
        return OMS_INBOX_SUSPECT;
    if (seq > entry->known)
        entry->known = seq;
    return OMS_INBOX_APPLY;
}

oms_inbox_verdict_t
oms_inbox_check (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t seq)
{
    oms_inbox_verdict_t verdict = s_hear (entry, epoch, seq);
    if (verdict != OMS_INBOX_APPLY)
        return verdict;
    if (seq <= entry->position)
        return OMS_INBOX_DUPLICATE;
    return seq == entry->position + 1 ? OMS_INBOX_APPLY : OMS_INBOX_GAP;
}

oms_inbox_verdict_t
oms_inbox_heard (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t head)
{
    oms_inbox_verdict_t verdict = s_hear (entry, epoch, head);
    if (verdict != OMS_INBOX_APPLY)
        return verdict;
    return entry->position < entry->known ? OMS_INBOX_GAP : OMS_INBOX_APPLY;
}

bool
oms_inbox_confirm (oms_inbox_entry_t *entry, uint64_t epoch, uint64_t head)
{
    if (entry->stopped)
        return false;
    if (s_other_epoch (entry, epoch)) {
        entry->stopped = true;
        return true;
    }
    //  The producer's own word on its head overrides what live traffic
    //  suggested: a forged or corrupt seq must not keep us fetching events
    //  that will never exist. An event newer than this answer shows up in the
    //  next heartbeat.
    entry->known = head > entry->position ? head : entry->position;
    return false;
}

static int
s_store (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t epoch, uint64_t seq)
{
    uint8_t value[16];
    oms_be64_put (value, seq);
    oms_be64_put (value + 8, epoch);
    int rc = oms_txn_put (txn, positions, entry->type, strlen (entry->type), value, sizeof value);
    if (rc == 0) {
        entry->position = seq;
        entry->epoch = epoch;
    }
    return rc;
}

int
oms_inbox_advance (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t epoch,
                   uint64_t seq)
{
    int rc = s_store (entry, txn, positions, epoch, seq);
    if (rc == 0 && entry->known < seq)
        entry->known = seq;
    return rc;
}

int
oms_inbox_reset (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t seq)
{
    int rc = s_store (entry, txn, positions, 0, seq);
    if (rc == 0) {
        entry->known = seq;
        entry->stopped = false;
    }
    return rc;
}

bool
oms_inbox_behind (const oms_inbox_entry_t *entry)
{
    return !entry->stopped && entry->position < entry->known;
}
