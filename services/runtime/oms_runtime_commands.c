/*  oms_runtime_commands: the commands every service answers besides its own.

    replay serves a type's outbox to subscribers that missed part of it;
    trace serves the events of one order, through the outbox's per-order
    index, to `oms trace`; status, metrics and dlq.list/show report; position.set, dlq.retry and
    dlq.drop are operator repairs. Each runs like a service's command, in a
    nested transaction of the loop's batch (oms_service.c), so a retried
    dead letter is applied and deleted together, or not at all.
*/
#include "oms_service_private.h"
#include "oms_bus.h"
#include "oms_outbox.h"

#define REPLAY_BYTES  (512 * 1024)
#define DEAD_LIST_MAX 1000
//  An order has a handful of events per service; the bound only keeps a
//  reply to a hostile or broken store small (PROTOCOL.md, `trace`).
#define TRACE_MAX   256
#define TRACE_BYTES REPLAY_BYTES

// ---------------------------------------------------------------------------
//  Replay: serving this service's outbox

typedef struct {
    oms_txn_t *txn;
    oms_reply_t *reply;
    const char *type;
    uint64_t from;
    uint64_t count;
    uint64_t start;
} s_replay_t;

static int
s_replay_one (void *arg, uint64_t seq, const uint8_t *body, size_t size)
{
    s_replay_t *replay = arg;
    if (replay->count == 0)
        replay->start = seq;
    else if (seq != replay->start + replay->count)
        return OMS_E_STORE; //  a hole inside the log
    msgpack_pack_bin (&replay->reply->pk, size);
    msgpack_pack_bin_body (&replay->reply->pk, body, size);
    replay->count++;
    return 0;
}

//  Bodies must be packed inside the array, whose length is known only after
//  reading: read into a separate reply and splice it in.
static int
s_cmd_replay (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_service_t *self = ctx->self;
    const oms_event_type_t *type = oms_event_type (request->topic);
    if (!type || !type->durable || strcmp (type->owner, self->def->name) != 0)
        return oms_ctx_fail (ctx, "%s does not publish %s", self->def->name, request->topic);
    uint64_t first, head;
    int rc = oms_outbox_bounds (ctx->txn, self->outbox, self->heads, request->topic, &first, &head);
    if (rc)
        return rc;
    if (request->from < first || (first == 0 && head > 0 && request->from <= head)) {
        oms_error ("replay: producer=%s topic=%s from=%llu is past retention (oldest kept %llu, "
                   "head %llu)",
                   self->def->name, request->topic, (unsigned long long) request->from,
                   (unsigned long long) first, (unsigned long long) head);
        return oms_ctx_fail_with (
            ctx, OMS_E_GONE,
            "gone: %s %s from %llu is past retention; oldest kept is %llu, head %llu",
            self->def->name, request->topic, (unsigned long long) request->from,
            (unsigned long long) first, (unsigned long long) head);
    }
    oms_reply_t bodies;
    oms_reply_init (&bodies);
    s_replay_t replay = {ctx->txn, &bodies, request->topic, request->from, 0, request->from};
    uint64_t max = request->max < self->replay_batch ? request->max : self->replay_batch;
    rc = oms_outbox_read (ctx->txn, self->outbox, request->topic, request->from, max, REPLAY_BYTES,
                          s_replay_one, &replay);
    if (rc >= 0) {
        oms_reply_str (reply, "topic", request->topic);
        oms_reply_key (reply, "epoch");
        msgpack_pack_uint64 (&reply->pk, self->epoch);
        oms_reply_uint (reply, "start", replay.start);
        oms_reply_uint (reply, "first", first);
        oms_reply_uint (reply, "head", head);
        oms_reply_key (reply, "events");
        msgpack_pack_array (&reply->pk, (uint32_t) replay.count);
        msgpack_sbuffer_write (&reply->buffer, bodies.buffer.data, bodies.buffer.size);
        self->counters.replays_served++;
        rc = 0;
    }
    msgpack_sbuffer_destroy (&bodies.buffer);
    return rc;
}

// ---------------------------------------------------------------------------
//  Trace: one order's events

typedef struct {
    oms_reply_t bodies;
    uint32_t count;
} s_trace_t;

static int
s_trace_one (void *arg, uint64_t seq, const uint8_t *body, size_t size)
{
    (void) seq;
    s_trace_t *trace = arg;
    msgpack_pack_bin (&trace->bodies.pk, size);
    msgpack_pack_bin_body (&trace->bodies.pk, body, size);
    trace->count++;
    return 0;
}

static int
s_cmd_trace (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_service_t *self = ctx->self;
    s_trace_t trace = {.count = 0};
    oms_reply_init (&trace.bodies);
    bool more = false;
    int rc = oms_outbox_order_read (ctx->txn, self->outbox, self->by_order, request->order_id,
                                    TRACE_MAX, TRACE_BYTES, s_trace_one, &trace, &more);
    if (rc >= 0) {
        oms_reply_str (reply, "order_id", request->order_id);
        oms_reply_str (reply, "producer", self->def->name);
        oms_reply_key (reply, "epoch");
        msgpack_pack_uint64 (&reply->pk, self->epoch);
        oms_reply_bool (reply, "more", more);
        oms_reply_key (reply, "events");
        msgpack_pack_array (&reply->pk, trace.count);
        msgpack_sbuffer_write (&reply->buffer, trace.bodies.buffer.data, trace.bodies.buffer.size);
        rc = 0;
    }
    msgpack_sbuffer_destroy (&trace.bodies.buffer);
    return rc;
}

// ---------------------------------------------------------------------------
//  Reports and repairs

static void
s_pack_counter (msgpack_packer *pk, const char *key, uint64_t value)
{
    oms_pack_str (pk, key);
    msgpack_pack_uint64 (pk, value);
}

static void
s_pack_heads (msgpack_packer *pk, const oms_head_t *heads, uint32_t count)
{
    msgpack_pack_array (pk, count);
    for (uint32_t i = 0; i < count; i++) {
        msgpack_pack_map (pk, 2);
        oms_pack_str (pk, "topic");
        oms_pack_str (pk, heads[i].topic);
        s_pack_counter (pk, "seq", heads[i].seq);
    }
}

static int
s_cmd_status (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    (void) request;
    oms_service_t *self = ctx->self;
    oms_reply_str (reply, "name", self->def->name);
    oms_reply_str (reply, "instance", self->instance);
    oms_reply_str (reply, "host", self->host);
    oms_reply_str (reply, "version", OMS_VERSION);
    oms_reply_uint (reply, "uptime_ns", oms_clock_steady_ns () - self->started_ns);
    //  This process's wall clock, so a reader can tell how far theirs differs.
    oms_reply_uint (reply, "now_ns", oms_clock_wall_ns ());
    oms_reply_bool (reply, "catching_up", self->catching_up);
    oms_reply_key (reply, "heads");
    msgpack_pack_array (&reply->pk, (uint32_t) self->n_owned);
    for (size_t i = 0; i < self->n_owned; i++) {
        uint64_t first = 0, head = 0;
        oms_outbox_bounds (ctx->txn, self->outbox, self->heads, self->owned[i], &first, &head);
        msgpack_pack_map (&reply->pk, 3);
        oms_pack_str (&reply->pk, "topic");
        oms_pack_str (&reply->pk, self->owned[i]);
        s_pack_counter (&reply->pk, "first", first);
        s_pack_counter (&reply->pk, "seq", head);
    }
    oms_reply_key (reply, "positions");
    msgpack_pack_array (&reply->pk, (uint32_t) self->inbox.count);
    for (size_t i = 0; i < self->inbox.count; i++) {
        oms_inbox_entry_t *entry = &self->inbox.entries[i];
        msgpack_pack_map (&reply->pk, 5);
        oms_pack_str (&reply->pk, "topic");
        oms_pack_str (&reply->pk, entry->type);
        oms_pack_str (&reply->pk, "producer");
        oms_pack_str (&reply->pk, entry->owner);
        s_pack_counter (&reply->pk, "seq", entry->position);
        s_pack_counter (&reply->pk, "known", entry->known);
        oms_pack_str (&reply->pk, "stopped");
        if (entry->stopped)
            msgpack_pack_true (&reply->pk);
        else
            msgpack_pack_false (&reply->pk);
    }
    oms_reply_key (reply, "rates");
    msgpack_pack_map (&reply->pk, 2);
    s_pack_counter (&reply->pk, "in_per_s", self->in_per_s);
    s_pack_counter (&reply->pk, "out_per_s", self->out_per_s);
    oms_reply_key (reply, "peers");
    msgpack_pack_array (&reply->pk, (uint32_t) self->n_peers);
    for (size_t i = 0; i < self->n_peers; i++) {
        oms_peer_t *peer = &self->peers[i];
        msgpack_pack_map (&reply->pk, 8);
        oms_pack_str (&reply->pk, "name");
        oms_pack_str (&reply->pk, peer->name);
        oms_pack_str (&reply->pk, "instance");
        oms_pack_str (&reply->pk, peer->instance);
        oms_pack_str (&reply->pk, "version");
        oms_pack_str (&reply->pk, peer->version);
        s_pack_counter (&reply->pk, "uptime_ns", peer->uptime_ns);
        s_pack_counter (&reply->pk, "last_seen_ns", peer->last_seen_ns);
        //  Measured on this process's monotonic clock: true whatever the
        //  wall clocks of this process and of the reader say.
        s_pack_counter (&reply->pk, "age_ns", oms_clock_steady_ns () - peer->heard_mono_ns);
        oms_pack_str (&reply->pk, "heads");
        s_pack_heads (&reply->pk, peer->heads, peer->n_heads);
        oms_pack_str (&reply->pk, "positions");
        s_pack_heads (&reply->pk, peer->positions, peer->n_positions);
    }
    oms_counters_t *c = &self->counters;
    oms_reply_key (reply, "counters");
    oms_bus_stats_t bus;
    oms_bus_stats (&bus);
    msgpack_pack_map (&reply->pk, 20);
    s_pack_counter (&reply->pk, "events_applied", c->events_applied);
    s_pack_counter (&reply->pk, "events_duplicate", c->events_duplicate);
    s_pack_counter (&reply->pk, "events_gap", c->events_gap);
    s_pack_counter (&reply->pk, "events_suspect", c->events_suspect);
    s_pack_counter (&reply->pk, "subscriptions_stopped", c->subscriptions_stopped);
    s_pack_counter (&reply->pk, "events_rejected", c->events_rejected);
    s_pack_counter (&reply->pk, "events_dead", c->events_dead);
    s_pack_counter (&reply->pk, "events_emitted", c->events_emitted);
    s_pack_counter (&reply->pk, "commands", c->commands);
    s_pack_counter (&reply->pk, "commands_failed", c->commands_failed);
    s_pack_counter (&reply->pk, "requests_rejected", c->requests_rejected);
    s_pack_counter (&reply->pk, "requests_rate_limited", c->requests_rate_limited);
    s_pack_counter (&reply->pk, "commands_over_limit", c->commands_over_limit);
    s_pack_counter (&reply->pk, "events_malformed", oms_service_events_malformed (self));
    s_pack_counter (&reply->pk, "replays_served", c->replays_served);
    s_pack_counter (&reply->pk, "replays_requested", c->replays_requested);
    s_pack_counter (&reply->pk, "replay_errors", c->replay_errors);
    s_pack_counter (&reply->pk, "commits", c->commits);
    s_pack_counter (&reply->pk, "commit_failures", c->commit_failures);
    s_pack_counter (&reply->pk, "commands_denied", oms_security_refused (self->security));
    return 0;
}

//  Operator resynchronisation: sets where this service stands in a type, e.g.
//  after the producer's retention dropped what it had not yet applied.
static int
s_cmd_position_set (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_inbox_entry_t *entry = oms_inbox_find (&ctx->self->inbox, request->topic);
    if (!entry)
        return oms_ctx_fail (ctx, "%s does not subscribe to %s", ctx->self->def->name,
                             request->topic);
    oms_warn ("position of %s set by operator from %llu to %llu", entry->type,
              (unsigned long long) entry->position, (unsigned long long) request->seq);
    if (entry->stopped)
        oms_warn ("subscription to %s resumed by operator: the next %s event's epoch is taken",
                  entry->type, entry->owner);
    int rc = oms_inbox_reset (entry, ctx->txn, ctx->self->positions, request->seq);
    if (rc)
        return rc;
    entry->retry_after_ns = 0;
    oms_reply_str (reply, "topic", entry->type);
    oms_reply_uint (reply, "seq", request->seq);
    return 0;
}

static int
s_cmd_metrics (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    (void) request;
    char *text = oms_metrics_render (ctx->self->metrics);
    if (!text)
        return OMS_E_NOMEM;
    oms_reply_str (reply, "text", text);
    free (text);
    return 0;
}

// ---------------------------------------------------------------------------
//  Dead letters

//  Reads dead letter `id`; the body is borrowed from the transaction.
static int
s_dead_get (oms_ctx_t *ctx, uint64_t id, oms_dead_letter_t *dead)
{
    uint8_t key[8];
    oms_be64_put (key, id);
    int rc = oms_txn_get_record (ctx->txn, ctx->self->dead, key, 8, &oms_dead_letter_schema, dead);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail_with (ctx, OMS_E_NOTFOUND, "no dead letter %llu in %s",
                                  (unsigned long long) id, ctx->self->def->name);
    return rc;
}

static int
s_cmd_dlq_list (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    (void) request;
    oms_cursor_t *cursor;
    int rc = oms_cursor_open (ctx->txn, ctx->self->dead, &cursor);
    if (rc)
        return rc;
    //  The array's length comes first: pack the entries aside, then splice.
    msgpack_sbuffer entries;
    msgpack_sbuffer_init (&entries);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &entries, msgpack_sbuffer_write);
    uint32_t count = 0;
    oms_val_t key, value;
    rc = oms_cursor_seek (cursor, NULL, 0, &key, &value);
    while (rc == 0 && count < DEAD_LIST_MAX) {
        oms_dead_letter_t dead;
        msgpack_unpacked result;
        msgpack_unpacked_init (&result);
        if (key.size == 8 && oms_msgpack_parse (value.data, value.size, &result, NULL) == 0 &&
            oms_schema_unpack (&oms_dead_letter_schema, &result.data, &dead, "", NULL) == 0) {
            msgpack_pack_map (&pk, 5);
            s_pack_counter (&pk, "id", oms_be64_get (key.data));
            oms_pack_str (&pk, "topic");
            oms_pack_str (&pk, dead.topic);
            oms_pack_str (&pk, "error");
            oms_pack_str (&pk, dead.error);
            s_pack_counter (&pk, "ts_ns", dead.ts_ns);
            s_pack_counter (&pk, "size", dead.body.size);
            count++;
        }
        msgpack_unpacked_destroy (&result);
        rc = oms_cursor_next (cursor, &key, &value);
    }
    oms_cursor_close (&cursor);
    if (rc == OMS_E_NOTFOUND || rc == 0) {
        oms_reply_key (reply, "dead");
        msgpack_pack_array (&reply->pk, count);
        msgpack_sbuffer_write (&reply->buffer, entries.data, entries.size);
        rc = 0;
    }
    msgpack_sbuffer_destroy (&entries);
    return rc;
}

static int
s_cmd_dlq_show (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_dead_letter_t dead;
    int rc = s_dead_get (ctx, request->id, &dead);
    if (rc)
        return rc;
    oms_reply_uint (reply, "id", request->id);
    oms_reply_str (reply, "topic", dead.topic);
    oms_reply_str (reply, "error", dead.error);
    oms_reply_uint (reply, "ts_ns", dead.ts_ns);
    oms_reply_key (reply, "body");
    msgpack_pack_bin (&reply->pk, dead.body.size);
    msgpack_pack_bin_body (&reply->pk, dead.body.data, dead.body.size);
    return 0;
}

//  Runs the dead letter's handler again, in this command's transaction, and
//  deletes the dead letter in the same one: applied exactly once, or not at
//  all (it stays, with nothing changed).
static int
s_cmd_dlq_retry (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    oms_service_t *self = ctx->self;
    oms_dead_letter_t dead;
    int rc = s_dead_get (ctx, request->id, &dead);
    if (rc)
        return rc;
    oms_event_t event;
    oms_fault_t fault;
    char reason[128];
    rc = oms_event_decode (dead.body.data, dead.body.size, dead.topic, &event, &fault);
    if (rc)
        return oms_ctx_fail (ctx, "still failing: %s",
                             oms_fault_str (&fault, reason, sizeof reason));
    const oms_subscription_t *subscription = oms_service_subscription (self, event.type);
    if (!subscription)
        return oms_ctx_fail (ctx, "%s has no handler for %s", self->def->name, event.type);
    oms_ctx_t unit = *ctx;
    unit.cause = &event;
    unit.request = NULL;
    unit.error[0] = 0;
    rc = subscription->handler (&unit, &event);
    if (rc)
        return oms_ctx_fail (ctx, "still failing: %s",
                             unit.error[0] ? unit.error : oms_strerror (rc));
    uint8_t key[8];
    oms_be64_put (key, request->id);
    rc = oms_txn_del (ctx->txn, self->dead, key, 8);
    if (rc)
        return rc;
    oms_info ("dead letter %llu retried: topic=%s corr=%s", (unsigned long long) request->id,
              event.type, event.correlation_id);
    oms_reply_uint (reply, "id", request->id);
    oms_reply_str (reply, "topic", event.type);
    oms_reply_bool (reply, "applied", true);
    return 0;
}

static int
s_cmd_dlq_drop (oms_ctx_t *ctx, const oms_request_t *request, oms_reply_t *reply)
{
    uint8_t key[8];
    oms_be64_put (key, request->id);
    int rc = oms_txn_del (ctx->txn, ctx->self->dead, key, 8);
    if (rc == OMS_E_NOTFOUND)
        return oms_ctx_fail_with (ctx, OMS_E_NOTFOUND, "no dead letter %llu in %s",
                                  (unsigned long long) request->id, ctx->self->def->name);
    if (rc == 0) {
        oms_warn ("dead letter %llu dropped by operator", (unsigned long long) request->id);
        oms_reply_uint (reply, "id", request->id);
    }
    return rc;
}

const oms_command_def_t oms_runtime_commands[] = {{"replay", s_cmd_replay},
                                                  {"status", s_cmd_status},
                                                  {"position.set", s_cmd_position_set},
                                                  {"metrics", s_cmd_metrics},
                                                  {"dlq.list", s_cmd_dlq_list},
                                                  {"dlq.show", s_cmd_dlq_show},
                                                  {"dlq.retry", s_cmd_dlq_retry},
                                                  {"dlq.drop", s_cmd_dlq_drop},
                                                  {"trace", s_cmd_trace},
                                                  {NULL, NULL}};
