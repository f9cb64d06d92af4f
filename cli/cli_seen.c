/*  cli_seen: the CLI's duplicate filter for events heard from several
    brokers (see cli_seen.h).
*/
#include "cli_seen.h"
#include <stdio.h>
#include <string.h>

static cli_seen_topic_t *
s_topic (cli_seen_t *self, const char *topic)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->topics[i].topic, topic) == 0)
            return &self->topics[i];
    cli_seen_topic_t *slot = NULL;
    if (self->count < CLI_SEEN_TOPICS)
        slot = &self->topics[self->count++];
    else {
        slot = &self->topics[0];
        for (size_t i = 1; i < CLI_SEEN_TOPICS; i++)
            if (self->topics[i].last_used < slot->last_used)
                slot = &self->topics[i];
    }
    memset (slot, 0, sizeof *slot);
    snprintf (slot->topic, sizeof slot->topic, "%s", topic);
    return slot;
}

bool
cli_seen_first (cli_seen_t *self, const char *topic, uint64_t epoch, uint64_t seq)
{
    cli_seen_topic_t *entry = s_topic (self, topic);
    entry->last_used = ++self->clock;
    if (entry->high == 0 || entry->epoch != epoch) {
        entry->epoch = epoch;
        entry->high = seq;
        entry->mask = 1;
        return true;
    }
    if (seq > entry->high) {
        uint64_t shift = seq - entry->high;
        entry->mask = shift >= CLI_SEEN_WINDOW ? 0 : entry->mask << shift;
        entry->mask |= 1;
        entry->high = seq;
        return true;
    }
    uint64_t behind = entry->high - seq;
    if (behind >= CLI_SEEN_WINDOW)
        return false;
    uint64_t bit = (uint64_t) 1 << behind;
    if (entry->mask & bit)
        return false;
    entry->mask |= bit;
    return true;
}
