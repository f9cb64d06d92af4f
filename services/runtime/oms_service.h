/*  oms_service: the runtime every service process is made of.

    A service is a table (oms_service_def_t): the sub-databases it keeps, the
    topics it subscribes to with one handler each (Observer), the commands it
    answers, an optional periodic tick and an optional start hook. oms_service_main parses flags and
    configuration, opens the store, joins the event bus and runs the loop:

    - incoming events are applied in per-topic sequence order; a duplicate
      is dropped, a gap is fetched from the producer's replay endpoint;
    - handlers run in one batch transaction that also records the new
      positions and the outbox writes of what they emit; the batch commits
      (fsync) before anything it emitted is published and before any
      command in it is answered (group commit); commands run in nested
      transactions, events in the batch itself unless a handler failed
      lately (then the batch was abandoned and is redone one at a time);
    - heartbeats announce this process's outbox heads, so subscribers notice
      a lost tail; the api endpoint serves commands and replay.

    See docs/ARCHITECTURE.md, "Delivery guarantee".
*/
#ifndef OMS_SERVICE_H
#define OMS_SERVICE_H

#include "oms_config.h"
#include "oms_log.h"
#include "oms_proto.h"
#include "oms_store.h"

//  The unit of work a handler runs in: its write transaction, the event or
//  command being handled, and the means to emit events.
typedef struct _oms_ctx_t oms_ctx_t;

//  Reply under construction: a msgpack map the runtime opens with "ok".
typedef struct _oms_reply_t oms_reply_t;

//  An event handler. 0 commits its effects with the batch. OMS_E_REJECTED or
//  any other negative value discards its effects; the event still counts as
//  applied (its position advances) and goes to the dead-letter log with
//  the error, so processing never stalls on one bad event.
typedef int (oms_event_fn) (oms_ctx_t *ctx, const oms_event_t *event);

//  A command handler. 0 commits its effects and replies ok with what it
//  added to `reply`. A negative value discards its effects and replies
//  {"ok": false, "error": ..., "code": value} with the text set by
//  oms_ctx_fail or oms_ctx_fail_with (else the code's own text).
typedef int (oms_command_fn) (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply);

//  A periodic task run in its own write transaction (e.g. saga timeouts);
//  now_ns is oms_ctx_steady.
typedef int (oms_tick_fn) (oms_ctx_t *ctx, uint64_t now_ns);

//  Run once at start-up, after the store is open and before anything is
//  served, in a write transaction of its own that commits (fsync) before
//  the loop begins: e.g. building an index that a store made by an earlier
//  version lacks. A non-zero return stops the process.
typedef int (oms_start_fn) (oms_ctx_t *ctx);

typedef struct {
    const char *topic;
    oms_event_fn *handler;
} oms_subscription_t;

typedef struct {
    const char *cmd;
    oms_command_fn *handler;
} oms_command_def_t;

typedef struct {
    const char *name;                        //  one of oms_service_names
    const char *const *dbs;                  //  NULL-terminated: its own sub-databases
    const oms_subscription_t *subscriptions; //  terminated by {NULL, NULL}
    const oms_command_def_t *commands;       //  terminated by {NULL, NULL}
    oms_tick_fn *tick;                       //  optional
    oms_start_fn *start;                     //  optional
} oms_service_def_t;

//  Runs a service until SIGINT or SIGTERM. Returns the process exit code.
int oms_service_main (const oms_service_def_t *def, int argc, char *argv[]);

// ---------------------------------------------------------------------------
//  What handlers use

//  The transaction to read and write this service's sub-databases.
oms_txn_t *oms_ctx_txn (oms_ctx_t *ctx);

//  A sub-database of this service by name (asserts it exists).
oms_db_t oms_ctx_db (oms_ctx_t *ctx, const char *name);

//  The configuration.
oms_config_t *oms_ctx_config (oms_ctx_t *ctx);

//  Current time, nanoseconds since the epoch: for timestamps people read.
uint64_t oms_ctx_now (oms_ctx_t *ctx);

//  For deadlines, which must not stretch or shrink when the wall clock is
//  set: nanoseconds on a clock that read as the wall clock when this process
//  started and has run at the monotonic clock's pace since. Ticks are given
//  this time. Across a restart it is anchored afresh, so a deadline stored
//  by an earlier process may lie as far off as the wall clock moved.
uint64_t oms_ctx_steady (oms_ctx_t *ctx);

//  Sets a gauge of this process's metrics (no label beyond `process`); it
//  is served from the next heartbeat on. Name and help are string literals.
void oms_ctx_gauge (oms_ctx_t *ctx, const char *name, const char *help, double value);

//  Emits an event made by a Factory constructor: stamps producer, seq, id,
//  time and (from the event being handled, when there is one) causation and
//  correlation ids, appends it to the outbox in this transaction, and
//  publishes it after the commit. Emitting a type this service does not
//  own is a programmer error.
int oms_ctx_emit (oms_ctx_t *ctx, oms_event_t *event);

//  Sets the error text for a failing handler; returns OMS_E_REJECTED so a
//  handler can `return oms_ctx_fail (ctx, "sku %s appears twice", sku);`.
int oms_ctx_fail (oms_ctx_t *ctx, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  The same with the oms_error_t `code` to fail with, which a command's
//  reply carries as its "code": e.g. OMS_E_NOTFOUND for a record that does
//  not exist. `code` must be negative.
int oms_ctx_fail_with (oms_ctx_t *ctx, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Reply fields, in a command handler.
msgpack_packer *oms_reply_packer (oms_reply_t *reply);
void oms_reply_str (oms_reply_t *reply, const char *key, const char *value);
void oms_reply_int (oms_reply_t *reply, const char *key, int64_t value);
//  A uint of the protocol (a seq, an id, a time): all 64 bits, never negative.
void oms_reply_uint (oms_reply_t *reply, const char *key, uint64_t value);
void oms_reply_bool (oms_reply_t *reply, const char *key, bool value);
//  Adds "key": followed by a raw msgpack value the caller packs next.
void oms_reply_key (oms_reply_t *reply, const char *key);
//  Adds every field of a record (as oms_schema_pack would) to the reply.
void oms_reply_record (oms_reply_t *reply, const oms_schema_t *schema, const void *record);

//  msgpack helpers for replies and records.
void oms_pack_str (msgpack_packer *pk, const char *value);

#endif
