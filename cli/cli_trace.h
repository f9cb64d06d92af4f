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
