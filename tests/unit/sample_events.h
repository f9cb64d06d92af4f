/*  sample_events: one event of every type, built with its factory and
    stamped as the outbox would stamp it, for the programs that write
    known-good bytes: the interop helper and the fuzz seed writer. One list,
    so that a new event type reaches both.
*/
#ifndef SAMPLE_EVENTS_H
#define SAMPLE_EVENTS_H

#include <stdint.h>
#include "oms_proto.h"

#define SAMPLE_EVENTS 12

//  Fills events[0..SAMPLE_EVENTS) with one event of each type.
void sample_events_build (oms_event_t *events);
//  What the outbox adds when it emits an event: producer, epoch, seq, id,
//  time and correlation id.
void sample_event_stamp (oms_event_t *event, uint64_t seq);

#endif
