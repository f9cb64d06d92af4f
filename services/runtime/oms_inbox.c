/*  oms_inbox: per-type positions of a subscriber. */
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
        if (rc == OMS_E_NOTFOUND)
            entry->position = 0;
        else if (rc)
            return rc;
        else if (value.size != 8)
            return OMS_E_STORE;
        else
            entry->position = oms_be64_get (value.data);
        if (entry->known < entry->position)
            entry->known = entry->position;
    }
    return 0;
}

oms_inbox_verdict_t
oms_inbox_check (oms_inbox_entry_t *entry, uint64_t seq)
{
    if (seq <= entry->position)
        return OMS_INBOX_DUPLICATE;
    if (seq > entry->known)
        entry->known = seq;
    return seq == entry->position + 1 ? OMS_INBOX_APPLY : OMS_INBOX_GAP;
}

int
oms_inbox_advance (oms_inbox_entry_t *entry, oms_txn_t *txn, oms_db_t positions, uint64_t seq)
{
    uint8_t value[8];
    oms_be64_put (value, seq);
    int rc = oms_txn_put (txn, positions, entry->type, strlen (entry->type), value, 8);
    if (rc == 0) {
        entry->position = seq;
        if (entry->known < seq)
            entry->known = seq;
    }
    return rc;
}

bool
oms_inbox_behind (const oms_inbox_entry_t *entry)
{
    return entry->position < entry->known;
}
