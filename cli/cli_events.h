/*  cli_events: the commands that read the event bus (a SUB socket on
    broker/backend): `oms wait` and `oms tail`; and how every command prints
    an event.
*/
#ifndef CLI_EVENTS_H
#define CLI_EVENTS_H

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

//  Decodes an event body of type `topic` for printing: into `event`, and
//  as the msgpack map it is into `raw` (which the caller initialises and
//  destroys whatever this returns; its objects point into `data`). 0, or -1
//  with `error` filled: "undecodable event on topic T: <field>: <reason>".
int cli_event_decode (const char *topic, const uint8_t *data, size_t size, oms_event_t *event,
                      msgpack_unpacked *raw, char *error, size_t error_size);

//  Writes an event to stdout as `oms tail` does, without a newline: the line
//  "TYPE seq=N producer=P corr=C data={...}", or with json the object
//  {"topic", "id", "type", "producer", "seq", "ts_ns", "correlation_id",
//  "causation_id", "data"}. `raw` is the body's map, `event` the same body
//  decoded (see cli_event_decode).
void cli_event_print (const char *topic, const oms_event_t *event, const msgpack_object *raw,
                      bool json);

//  Makes SIGINT and SIGTERM set a flag instead of ending the process, for
//  commands that run until interrupted. Call it after creating the first
//  socket, so that it replaces czmq's own handlers. Blocking polls and
//  sleeps return early when a signal comes.
void cli_catch_stop_signals (void);
//  Whether SIGINT or SIGTERM came since cli_catch_stop_signals.
bool cli_stop_requested (void);

#endif
