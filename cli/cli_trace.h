/*  cli_trace: the pure parts of `oms trace` (cli_trace.c): the causal order
    of one order's events, gathered from every service, and what an order
    still in flight waits for.

    An event's causation_id is the id of the event that caused it
    (PROTOCOL.md, section 4), so the events of an order form a forest:
    order.placed at the root (caused by a command), stock.reserved under
    it, payment.completed under that, and so on. Timestamps come from
    different processes, maybe different hosts, so they order only events
    that causality leaves unordered.
*/
#ifndef CLI_TRACE_H
#define CLI_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cli.h"

//  One event of the trace: what is shown of it.
typedef struct {
    char producer[OMS_NAME_MAX + 1];
    char type[OMS_NAME_MAX + 1];
    char id[OMS_ID_MAX + 1];
    char causation_id[OMS_ID_MAX + 1];
    uint64_t seq;
    uint64_t ts_ns;
} cli_trace_event_t;

//  An order's trace, as `oms trace` and the console show it.
typedef struct {
    cli_t *cli;
    char order_id[OMS_ID_MAX + 1];
    char status[OMS_NAME_MAX + 1]; //  "" when the order service did not answer
    uint64_t created_ns;           //  0 when unknown
    cli_trace_event_t *events;     //  in causal order
    size_t n_events, max_events;
    bool waiting;        //  for `service`, since `since_ns` (0 unknown), after `after`
    const char *service; //  a service name
    const char *after;   //  an event type in `events`, or NULL
    uint64_t since_ns;
    const char *unanswered[OMS_SERVICES_COUNT]; //  services whose events are missing
    size_t n_unanswered, n_answered;
    bool truncated;  //  a service had more events than one answer holds
    char error[512]; //  why cli_trace_gather failed
} cli_trace_t;

//  Asks every service at once (one cli/timeout_ms in all) for what it knows
//  of `order_id`. A service that does not answer is a warning on stderr and
//  is listed in `unanswered`. 0 with `self` filled (release it with
//  cli_trace_release), or -1 with self->error filled: the order does not
//  exist, or nothing is known of it.
int cli_trace_gather (cli_t *cli, const char *order_id, cli_trace_t *self);
void cli_trace_release (cli_trace_t *self);
//  A time between two events as "+0.004s" (negative when two hosts' clocks
//  disagree with causality), in buf; returns buf.
const char *cli_trace_delta (int64_t delta_ns, char *buf, size_t size);
//  A time as "2026-12-04T19:40:01.123Z", in buf; returns buf.
const char *cli_trace_iso (uint64_t ts_ns, char *buf, size_t size);

//  What the ordering needs of one event. Strings are borrowed.
typedef struct {
    const char *id;           //  "<producer>/<type>/<seq>"
    const char *causation_id; //  "" when none
    uint64_t ts_ns;
} cli_trace_node_t;

//  Fills `order` (n entries) with the indexes 0..n-1 of `nodes` such that
//  every event comes after the event its causation_id names, when that one
//  is among them; of the events free to come next, the earliest ts_ns goes
//  first (ties: the lower index). Events caught in a cycle, which only a
//  broken store could make, are taken by time when nothing else is free.
//  0, or -1 out of memory.
int cli_trace_order (const cli_trace_node_t *nodes, size_t n, size_t *order);

//  What an order with `status` waits for, given the types of its events in
//  causal order: sets *service to the service expected to act next and
//  *since to the index in `types` of the event it has had to act on since
//  (SIZE_MAX when that event is not among them). Returns false when the
//  order waits for nothing: a terminal status, or one it does not know.
//    PENDING or RESERVED, and
//      a payment outcome seen         -> order, since that outcome
//      stock.rejected seen            -> order, since stock.rejected
//      stock.reserved seen            -> payment, since stock.reserved
//      otherwise                      -> inventory, since order.placed
bool cli_trace_waiting (const char *status, const char *const *types, size_t n,
                        const char **service, size_t *since);

#endif
