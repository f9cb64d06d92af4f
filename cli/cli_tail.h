/*  cli_events: the commands that read the event bus (a SUB socket on
    broker/backend): `oms wait` and `oms tail`; and how every command prints
    an event.
*/
#ifndef CLI_TAIL_H
#define CLI_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "oms_config.h"
#include "oms_proto.h"

//  Blocks until the order is CONFIRMED or CANCELLED, or `timeout_s` passes.
//  Gets the order at start, every 250 ms and whenever an order.confirmed or
//  order.cancelled event names it. Prints the status (or the JSON object
//  {order_id, status, reason?}); returns the exit code: 0 confirmed,
//  2 cancelled, 1 timeout or error (message on stderr).
int cli_wait (oms_config_t *config, const char *order_id, double timeout_s, bool json);

//  Prints live events whose topic starts with one of `prefixes` (every event
//  when n_prefixes is 0), one line each, until `count` events were printed
//  (0: no limit), `timeout_s` passed (negative: none), or SIGINT/SIGTERM.
//  Undecodable messages are reported on stderr, counted and skipped.
//  Returns the exit code: 0, or 1 when the bus cannot be reached.
int cli_tail (oms_config_t *config, const char *const *prefixes, size_t n_prefixes, int64_t count,
              double timeout_s, bool json);

#endif
