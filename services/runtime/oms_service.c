/*  oms_service: the loop every service runs.

    One thread, one poller. Each turn of the loop gathers work from the api
    socket (commands), the bus (live events) and the replay fetchers
    (missing events) into ONE write transaction, then commits it: a single
    fsync covers everything the turn did (group commit). Only after the
    commit are emitted events published and commands answered, so nothing
    is announced that a crash could take back.

    Ordering: an event of type T is applied only when its seq is the stored
    position of T plus one. Anything else is a duplicate (dropped) or a gap
    (dropped, and the missing range fetched from the producer's replay
    endpoint). A replayed event takes the same path as a live one, so an
    event is applied once however many copies arrive.

    The runtime's own commands (replay, status, dlq.*...) are in
    oms_runtime_commands.c; what both files share, in oms_service_private.h.
*/
#include "oms_service_private.h"
#include "oms_bus.h"
#include "oms_outbox.h"
#include <assert.h>
#include <getopt.h>
#include <stdarg.h>
#include <unistd.h>

#define TICK_MS        100
#define PRUNE_MS       10000
#define PRUNE_BUDGET   10000
#define RETRY_GONE_MS  10000
#define CAREFUL_NS     5000000000ull //  nested transactions after a batch was abandoned
#define RATE_WINDOW_NS 2000000000ull

//  The runtime's own sub-databases, in every store.
static const char *const s_runtime_dbs[] = {"outbox", "heads",    "positions", "dead",
                                            "meta",   "by_order", NULL};

//  The `meta` key saying `by_order` covers the whole outbox.
#define S_INDEXED_KEY "by_order"

//  How a dead letter (oms_dead_letter_t) is stored in `dead`.
static const oms_field_t s_dead_fields[] = {
    OMS_STR (oms_dead_letter_t, topic, OMS_C_ANY, OMS_NAME_MAX, true),
    OMS_STR (oms_dead_letter_t, error, OMS_C_ANY, OMS_TEXT_MAX, true),
    OMS_UINT (oms_dead_letter_t, ts_ns, 0, UINT64_MAX, true),
    {.key = "body",
     .type = OMS_T_BIN,
     .offset = offsetof (oms_dead_letter_t, body),
     .required = true,
     .max = OMS_MSG_MAX},
};
const oms_schema_t oms_dead_letter_schema =
    OMS_SCHEMA (oms_dead_letter_t, "dead letter", s_dead_fields);

//  "topic=<type>", the label of a per-type series.
static const char *
s_topic_label (char *label, size_t size, const char *type)
{
    snprintf (label, size, "topic=%.*s", OMS_NAME_MAX, type);
    return label;
}

static int
s_service_index (const char *name)
{
    for (int i = 0; i < OMS_SERVICES_COUNT; i++)
        if (strcmp (oms_service_names[i], name) == 0)
            return i;
    return -1;
}

// ---------------------------------------------------------------------------
//  Handler context

oms_txn_t *
oms_ctx_txn (oms_ctx_t *ctx)
{
    return ctx->txn;
}

oms_db_t
oms_ctx_db (oms_ctx_t *ctx, const char *name)
{
    oms_db_t db = 0;
    int rc = oms_store_db (ctx->self->store, name, &db);
    assert (rc == 0);
    (void) rc;
    return db;
}

oms_config_t *
oms_ctx_config (oms_ctx_t *ctx)
{
    return ctx->self->config;
}

void
oms_ctx_gauge (oms_ctx_t *ctx, const char *name, const char *help, double value)
{
    oms_metrics_set (ctx->self->metrics, name, help, NULL, value);
}

uint64_t
oms_ctx_now (oms_ctx_t *ctx)
{
    (void) ctx;
    return oms_clock_wall_ns ();
}

uint64_t
oms_ctx_steady (oms_ctx_t *ctx)
{
    return ctx->self->steady_base_ns + oms_clock_steady_ns ();
}

int
oms_ctx_fail (oms_ctx_t *ctx, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (ctx->error, sizeof ctx->error, format, args);
    va_end (args);
    return OMS_E_REJECTED;
}

int
oms_ctx_fail_with (oms_ctx_t *ctx, int code, const char *format, ...)
{
    assert (code < 0 && code > OMS_E_LAST);
    va_list args;
    va_start (args, format);
    vsnprintf (ctx->error, sizeof ctx->error, format, args);
    va_end (args);
    return code;
}

static void
s_copy (char *dest, size_t size, const char *source)
{
    snprintf (dest, size, "%s", source);
}

int
oms_ctx_emit (oms_ctx_t *ctx, oms_event_t *event)
{
    oms_service_t *self = ctx->self;
    const oms_event_type_t *type = oms_event_type (event->type);
    assert (type && type->durable && strcmp (type->owner, self->def->name) == 0);

    s_copy (event->producer, sizeof event->producer, self->def->name);
    event->epoch = self->epoch;
    event->ts_ns = oms_clock_wall_ns ();
    if (event->data.order_id[0])
        s_copy (event->correlation_id, sizeof event->correlation_id, event->data.order_id);
    else if (ctx->cause)
        s_copy (event->correlation_id, sizeof event->correlation_id, ctx->cause->correlation_id);
    //  A cause names one event or one request, or nothing: a request id too
    //  long to name whole, or a command without one, leaves it out rather
    //  than name something else (PROTOCOL.md, section 4).
    if (ctx->cause)
        s_copy (event->causation_id, sizeof event->causation_id, ctx->cause->id);
    else if (ctx->request && ctx->request->request_id[0]) {
        size_t prefix = strlen (OMS_CAUSE_COMMAND), id = strlen (ctx->request->request_id);
        if (prefix + id < sizeof event->causation_id) {
            memcpy (event->causation_id, OMS_CAUSE_COMMAND, prefix);
            memcpy (event->causation_id + prefix, ctx->request->request_id, id + 1);
        }
    }

    int rc = oms_outbox_append (ctx->txn, self->outbox, self->heads, self->by_order, event,
                                &self->scratch);
    if (rc) {
        oms_error ("outbox: cannot append %s: %s", event->type, oms_strerror (rc));
        return rc;
    }
    if (self->n_pending == self->max_pending) {
        self->max_pending = self->max_pending ? self->max_pending * 2 : 256;
        self->pending = realloc (self->pending, self->max_pending * sizeof *self->pending);
        assert (self->pending);
    }
    oms_pending_t *pending = &self->pending[self->n_pending++];
    s_copy (pending->topic, sizeof pending->topic, event->type);
    pending->offset = self->pending_bytes.size;
    pending->size = self->scratch.size - OMS_OUTBOX_STAMP;
    msgpack_sbuffer_write (&self->pending_bytes, self->scratch.data + OMS_OUTBOX_STAMP,
                           pending->size);
    self->counters.events_emitted++;
    char label[OMS_NAME_MAX + 8];
    oms_metrics_count (self->metrics, "oms_events_emitted_total", "events appended to the outbox",
                       s_topic_label (label, sizeof label, event->type), 1);
    oms_debug ("emit %s seq=%llu corr=%s cause=%s", event->type, (unsigned long long) event->seq,
               event->correlation_id, event->causation_id);
    return 0;
}

// ---------------------------------------------------------------------------
//  Replies

msgpack_packer *
oms_reply_packer (oms_reply_t *reply)
{
    return &reply->pk;
}

void
oms_pack_str (msgpack_packer *pk, const char *value)
{
    size_t length = strlen (value);
    msgpack_pack_str (pk, length);
    msgpack_pack_str_body (pk, value, length);
}

void
oms_reply_key (oms_reply_t *reply, const char *key)
{
    oms_pack_str (&reply->pk, key);
    reply->entries++;
}

void
oms_reply_str (oms_reply_t *reply, const char *key, const char *value)
{
    oms_reply_key (reply, key);
    oms_pack_str (&reply->pk, value);
}

void
oms_reply_int (oms_reply_t *reply, const char *key, int64_t value)
{
    oms_reply_key (reply, key);
    msgpack_pack_int64 (&reply->pk, value);
}

void
oms_reply_uint (oms_reply_t *reply, const char *key, uint64_t value)
{
    oms_reply_key (reply, key);
    msgpack_pack_uint64 (&reply->pk, value);
}

void
oms_reply_bool (oms_reply_t *reply, const char *key, bool value)
{
    oms_reply_key (reply, key);
    if (value)
        msgpack_pack_true (&reply->pk);
    else
        msgpack_pack_false (&reply->pk);
}

void
oms_reply_record (oms_reply_t *reply, const oms_schema_t *schema, const void *record)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    oms_schema_pack (schema, record, &pk);
    //  Splice the map's entries in, without its header.
    const uint8_t *data = (const uint8_t *) buffer.data;
    size_t header = 1;
    uint32_t entries = data[0] & 0x0f;
    if (data[0] == 0xde) {
        header = 3;
        entries = (uint32_t) data[1] << 8 | data[2];
    }
    else if (data[0] == 0xdf) {
        header = 5;
        entries =
            (uint32_t) data[1] << 24 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 8 | data[4];
    }
    msgpack_sbuffer_write (&reply->buffer, buffer.data + header, buffer.size - header);
    reply->entries += entries;
    msgpack_sbuffer_destroy (&buffer);
}

void
oms_reply_init (oms_reply_t *reply)
{
    msgpack_sbuffer_init (&reply->buffer);
    msgpack_packer_init (&reply->pk, &reply->buffer, msgpack_sbuffer_write);
    reply->entries = 0;
}

//  Queues the answer to send after the commit: {"ok": true, entries...}
//  or {"ok": false, "error": text, "code": n, "topic"?}: a refusal names the
//  topic it concerns, so a replay fetcher knows which type was refused.
//  Takes the envelope.
static void
s_answer (oms_service_t *self, zmsg_t **envelope_p, oms_reply_t *reply, int rc, const char *error,
          const char *topic)
{
    if (self->n_answers == self->max_answers) {
        self->max_answers = self->max_answers ? self->max_answers * 2 : 64;
        self->answers = realloc (self->answers, self->max_answers * sizeof *self->answers);
        assert (self->answers);
    }
    oms_answer_t *answer = &self->answers[self->n_answers++];
    answer->envelope = *envelope_p;
    *envelope_p = NULL;
    msgpack_sbuffer_init (&answer->body);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &answer->body, msgpack_sbuffer_write);
    if (rc == 0) {
        msgpack_pack_map (&pk, reply->entries + 1);
        oms_pack_str (&pk, "ok");
        msgpack_pack_true (&pk);
        msgpack_sbuffer_write (&answer->body, reply->buffer.data, reply->buffer.size);
    }
    else {
        msgpack_pack_map (&pk, topic && *topic ? 4 : 3);
        oms_pack_str (&pk, "ok");
        msgpack_pack_false (&pk);
        oms_pack_str (&pk, "error");
        oms_pack_str (&pk, error && *error ? error : oms_strerror (rc));
        oms_pack_str (&pk, "code");
        msgpack_pack_int (&pk, rc);
        if (topic && *topic) {
            oms_pack_str (&pk, "topic");
            oms_pack_str (&pk, topic);
        }
    }
}

// ---------------------------------------------------------------------------
//  The batch: one write transaction per turn of the loop

static int
s_batch (oms_service_t *self)
{
    if (self->batch)
        return 0;
    int rc = oms_store_begin (self->store, true, &self->batch);
    if (rc)
        oms_error ("store: cannot begin a transaction: %s", oms_strerror (rc));
    return rc;
}

//  Runs `fn` in a nested transaction of the batch; its effects and its
//  emitted events vanish if it fails.
typedef int (s_unit_fn) (oms_ctx_t *ctx, void *arg);

static int
s_unit (oms_service_t *self, oms_ctx_t *ctx, s_unit_fn *fn, void *arg)
{
    ctx->self = self;
    ctx->error[0] = 0;
    int rc = s_batch (self);
    if (rc == 0)
        rc = oms_txn_begin_nested (self->batch, &ctx->txn);
    if (rc)
        return rc;
    size_t n_pending = self->n_pending, bytes = self->pending_bytes.size;
    uint64_t emitted = self->counters.events_emitted;
    self->batch_units++;
    rc = fn (ctx, arg);
    if (rc == 0)
        rc = oms_txn_commit (&ctx->txn);
    else
        oms_txn_abort (&ctx->txn);
    if (rc) {
        self->n_pending = n_pending;
        self->pending_bytes.size = bytes;
        self->counters.events_emitted = emitted;
    }
    return rc;
}

//  Runs a read-only command in a read transaction of its own, outside the
//  batch: it sees what is committed, and a batch that fails to commit
//  (a full disk, a full map) does not take it down too.
static int
s_read (oms_service_t *self, oms_ctx_t *ctx, s_unit_fn *fn, void *arg)
{
    ctx->self = self;
    ctx->error[0] = 0;
    int rc = oms_store_begin (self->store, false, &ctx->txn);
    if (rc)
        return rc;
    rc = fn (ctx, arg);
    oms_txn_abort (&ctx->txn);
    return rc;
}

//  Runs an event handler straight in the batch transaction: no nested
//  transaction, whose page copies cost a fifth of a busy service's time. A
//  failure leaves partial writes in the batch, which is then abandoned.
static int
s_unit_shared (oms_service_t *self, oms_ctx_t *ctx, s_unit_fn *fn, void *arg)
{
    ctx->self = self;
    ctx->error[0] = 0;
    int rc = s_batch (self);
    if (rc)
        return rc;
    ctx->txn = self->batch;
    self->batch_units++;
    return fn (ctx, arg);
}

static void
s_publish_pending (oms_service_t *self)
{
    for (size_t i = 0; i < self->n_pending; i++) {
        oms_pending_t *pending = &self->pending[i];
        oms_bus_publish (pending->topic, self->pending_bytes.data + pending->offset, pending->size);
    }
}

//  What a caller whose work was in a batch that did not commit is told.
static const char *
s_batch_error (oms_service_t *self, int rc)
{
    if (rc == OMS_E_FULL)
        snprintf (self->batch_error, sizeof self->batch_error,
                  "not applied: %s; nothing of its batch was stored",
                  oms_store_problem (self->store));
    else
        snprintf (self->batch_error, sizeof self->batch_error,
                  "not applied: its batch did not commit (%s); try again", oms_strerror (rc));
    return self->batch_error;
}

//  Sends one queued answer; `rc` is the fate of the batch it waited for.
static void
s_send_answer (oms_service_t *self, oms_answer_t *answer, int rc)
{
    if (rc) {
        //  The work was not stored: the caller must not believe it was.
        msgpack_sbuffer_clear (&answer->body);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &answer->body, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 3);
        oms_pack_str (&pk, "ok");
        msgpack_pack_false (&pk);
        oms_pack_str (&pk, "error");
        oms_pack_str (&pk, s_batch_error (self, rc));
        oms_pack_str (&pk, "code");
        msgpack_pack_int (&pk, rc);
    }
    zmsg_addmem (answer->envelope, answer->body.data, answer->body.size);
    zmsg_send (&answer->envelope, self->api);
    msgpack_sbuffer_destroy (&answer->body);
}

static void
s_send_answers (oms_service_t *self, int rc)
{
    for (size_t i = 0; i < self->n_answers; i++)
        s_send_answer (self, &self->answers[i], rc);
    self->n_answers = 0;
}

static void s_fetch (oms_service_t *self, oms_inbox_entry_t *entry);

//  Positions in memory ran ahead of the store after a batch that did not
//  commit: read them back, and fetch what that batch had taken.
static void
s_reload_positions (oms_service_t *self)
{
    oms_txn_t *txn;
    if (oms_store_begin (self->store, false, &txn) == 0) {
        oms_inbox_load (&self->inbox, txn, self->positions);
        oms_txn_abort (&txn);
    }
    for (size_t i = 0; i < self->inbox.count; i++)
        if (oms_inbox_behind (&self->inbox.entries[i]))
            s_fetch (self, &self->inbox.entries[i]);
}

//  Abandons the open batch after a handler failed inside it. Nothing of the
//  batch was published or answered: its commands are answered "try again",
//  its events come back by replay, and for a while each handler runs in a
//  nested transaction, so the failing one is dead-lettered alone.
static void
s_abandon (oms_service_t *self, const char *topic, uint64_t seq)
{
    oms_warn ("handler of %s seq=%llu failed in a shared batch: the batch is redone one event "
              "at a time",
              topic, (unsigned long long) seq);
    oms_txn_abort (&self->batch);
    self->batch_units = 0;
    self->n_pending = 0;
    msgpack_sbuffer_clear (&self->pending_bytes);
    s_send_answers (self, OMS_E_STORE);
    self->careful_until_ns = oms_clock_steady_ns () + CAREFUL_NS;
    s_reload_positions (self);
}

//  Ends the turn: commit, then publish and answer.
static void
s_commit (oms_service_t *self)
{
    int rc = 0;
    if (self->batch) {
        uint64_t start = oms_clock_steady_ns ();
        rc = oms_txn_commit (&self->batch);
        oms_metrics_observe (self->metrics, "oms_commit_seconds",
                             "time to commit (and fsync) one batch", NULL,
                             (double) (oms_clock_steady_ns () - start) / 1e9);
        oms_metrics_observe (self->metrics, "oms_commit_batch_size",
                             "events and commands in one committed batch", NULL,
                             (double) self->batch_units);
        self->batch_units = 0;
        if (rc == 0)
            self->counters.commits++;
        else {
            self->counters.commit_failures++;
            oms_log_limited (&self->store_log, OMS_LOG_ERROR,
                             "store: commit failed: %s; the turn's work is discarded",
                             rc == OMS_E_FULL ? oms_store_problem (self->store)
                                              : oms_strerror (rc));
            s_reload_positions (self);
        }
    }
    if (rc == 0)
        s_publish_pending (self);
    self->n_pending = 0;
    msgpack_sbuffer_clear (&self->pending_bytes);
    s_send_answers (self, rc);
    oms_log_flush ();
}

// ---------------------------------------------------------------------------
//  Events in

typedef struct {
    const oms_subscription_t *subscription;
    const oms_event_t *event;
} s_event_unit_t;

static int
s_run_handler (oms_ctx_t *ctx, void *arg)
{
    s_event_unit_t *unit = arg;
    return unit->subscription->handler (ctx, unit->event);
}

const oms_subscription_t *
oms_service_subscription (oms_service_t *self, const char *type)
{
    for (const oms_subscription_t *sub = self->def->subscriptions; sub->topic; sub++)
        if (strcmp (sub->topic, type) == 0)
            return sub;
    return NULL;
}

//  Keeps an event whose handler failed, with the error, so an operator can
//  inspect and retry it; its position advances so processing goes on.
static void
s_dead_letter (oms_service_t *self, const char *topic, const uint8_t *body, size_t size,
               const char *corr, const char *error)
{
    self->counters.events_dead++;
    char label[OMS_NAME_MAX + 8];
    oms_metrics_count (self->metrics, "oms_dead_letters_total",
                       "events whose handler failed, kept in the dead-letter store",
                       s_topic_label (label, sizeof label, topic), 1);
    oms_error ("dead letter: topic=%s corr=%s error=\"%s\"", topic, corr, error);
    uint64_t next = 1;
    oms_val_t value;
    if (oms_txn_get (self->batch, self->meta, "dead_next", 9, &value) == 0 && value.size == 8)
        next = oms_be64_get (value.data);
    uint8_t key[8], counter[8];
    oms_be64_put (key, next);
    oms_be64_put (counter, next + 1);
    oms_dead_letter_t dead = {.ts_ns = oms_clock_wall_ns (), .body = {body, size}};
    s_copy (dead.topic, sizeof dead.topic, topic);
    s_copy (dead.error, sizeof dead.error, error);
    if (oms_txn_put_record (self->batch, self->dead, key, 8, &oms_dead_letter_schema, &dead) ||
        oms_txn_put (self->batch, self->meta, "dead_next", 9, counter, 8))
        oms_error ("dead letter: cannot store it");
}

//  Counts an event that did not decode. One on the wrong topic (a topic
//  frame that is not an event type, or not the body's type) is malformed,
//  like a message of the wrong frame count the bus refused before; any
//  other fault is in the body, and the event is rejected
//  (docs/CONFIG.md, "Limits").
static void
s_count_refused (oms_service_t *self, const oms_fault_t *fault)
{
    if (fault->code == OMS_E_TOPIC && strcmp (fault->field, "type") == 0)
        self->counters.events_misfiled++;
    else
        self->counters.events_rejected++;
}

//  What `status` and the metrics report as events_malformed.
uint64_t
oms_service_events_malformed (oms_service_t *self)
{
    oms_bus_stats_t bus;
    oms_bus_stats (&bus);
    return bus.malformed + self->counters.events_misfiled;
}

//  Applies one event body if it is the next of its type. `expected` and
//  `expected_epoch` are what a replayed body must have (0 for live events):
//  a replayed body that does not decode is dead-lettered at that seq rather
//  than fetched forever.
static void
s_apply (oms_service_t *self, const char *topic, const uint8_t *body, size_t size,
         uint64_t expected, uint64_t expected_epoch)
{
    oms_event_t event;
    oms_fault_t fault;
    int rc = oms_event_decode (body, size, topic, &event, &fault);
    if (rc) {
        char reason[128];
        s_count_refused (self, &fault);
        oms_warn ("rejected event on %s: %s", topic, oms_fault_str (&fault, reason, sizeof reason));
        oms_inbox_entry_t *entry = expected ? oms_inbox_find (&self->inbox, topic) : NULL;
        if (entry && !entry->stopped && expected == entry->position + 1 && s_batch (self) == 0) {
            s_dead_letter (self, topic, body, size, "", reason);
            oms_inbox_advance (entry, self->batch, self->positions, entry->epoch, expected);
        }
        return;
    }
    oms_inbox_entry_t *entry = oms_inbox_find (&self->inbox, event.type);
    const oms_subscription_t *subscription = oms_service_subscription (self, event.type);
    if (!entry || !subscription)
        return;
    if (expected && (event.seq != expected || event.epoch != expected_epoch)) {
        self->counters.events_rejected++;
        oms_warn ("replayed %s has seq %llu epoch %016llx where %llu epoch %016llx was expected",
                  topic, (unsigned long long) event.seq, (unsigned long long) event.epoch,
                  (unsigned long long) expected, (unsigned long long) expected_epoch);
        return;
    }
    switch (oms_inbox_check (entry, event.epoch, event.seq)) {
    case OMS_INBOX_DUPLICATE:
        self->counters.events_duplicate++;
        return;
    case OMS_INBOX_STOPPED:
        return;
    case OMS_INBOX_SUSPECT:
        self->counters.events_suspect++;
        s_fetch (self, entry);
        return;
    case OMS_INBOX_GAP:
        self->counters.events_gap++;
        s_fetch (self, entry);
        return;
    case OMS_INBOX_APPLY:
        break;
    }
    oms_ctx_t ctx = {.cause = &event};
    s_event_unit_t unit = {subscription, &event};
    uint64_t start = oms_clock_steady_ns ();
    bool careful = start < self->careful_until_ns;
    rc = (careful ? s_unit : s_unit_shared) (self, &ctx, s_run_handler, &unit);
    char label[OMS_NAME_MAX + 8];
    s_topic_label (label, sizeof label, topic);
    oms_metrics_observe (self->metrics, "oms_handler_seconds", "time spent in an event handler",
                         label, (double) (oms_clock_steady_ns () - start) / 1e9);
    if (rc && !careful && self->batch) {
        s_abandon (self, topic, event.seq);
        return;
    }
    if (rc == OMS_E_FULL || !self->batch) {
        //  Not the event's fault: leave it unapplied; it is fetched again.
        oms_log_limited (&self->store_log, OMS_LOG_ERROR, "cannot apply %s seq=%llu: %s", topic,
                         (unsigned long long) event.seq,
                         rc == OMS_E_FULL ? oms_store_problem (self->store) : oms_strerror (rc));
        return;
    }
    if (rc == 0) {
        self->counters.events_applied++;
        oms_metrics_count (self->metrics, "oms_events_handled_total",
                           "events applied by their handler", label, 1);
    }
    else {
        oms_metrics_count (self->metrics, "oms_handler_errors_total", "events whose handler failed",
                           label, 1);
        s_dead_letter (self, topic, body, size, event.correlation_id,
                       ctx.error[0] ? ctx.error : oms_strerror (rc));
    }
    if (oms_inbox_advance (entry, self->batch, self->positions, event.epoch, event.seq))
        oms_error ("store: cannot record position of %s", topic);
}

static void
s_on_event (void *arg, const char *topic, const uint8_t *body, size_t size)
{
    s_apply (arg, topic, body, size, 0, 0);
}

//  Keeps the latest heartbeat of each process, for `status`: who is alive,
//  what it has published and how far it has got.
static void
s_remember_peer (oms_service_t *self, const oms_event_t *event)
{
    oms_peer_t *peer = NULL;
    for (size_t i = 0; i < self->n_peers && !peer; i++)
        if (strcmp (self->peers[i].name, event->data.name) == 0)
            peer = &self->peers[i];
    if (!peer && self->n_peers < PEERS_MAX)
        peer = &self->peers[self->n_peers++];
    if (!peer)
        return;
    s_copy (peer->name, sizeof peer->name, event->data.name);
    s_copy (peer->instance, sizeof peer->instance, event->data.instance);
    s_copy (peer->version, sizeof peer->version, event->data.version);
    peer->uptime_ns = event->data.uptime_ns;
    peer->last_seen_ns = oms_clock_wall_ns ();
    peer->heard_mono_ns = oms_clock_steady_ns ();
    memcpy (peer->heads, event->data.heads, sizeof peer->heads);
    peer->n_heads = event->data.n_heads;
    memcpy (peer->positions, event->data.positions, sizeof peer->positions);
    peer->n_positions = event->data.n_positions;
}

static void
s_on_heartbeat (void *arg, const char *topic, const uint8_t *body, size_t size)
{
    oms_service_t *self = arg;
    oms_event_t event;
    oms_fault_t fault;
    if (oms_event_decode (body, size, topic, &event, &fault)) {
        s_count_refused (self, &fault);
        return;
    }
    s_remember_peer (self, &event);
    for (uint32_t i = 0; i < event.data.n_heads; i++) {
        oms_inbox_entry_t *entry = oms_inbox_find (&self->inbox, event.data.heads[i].topic);
        if (entry && strcmp (entry->owner, event.producer) == 0) {
            oms_inbox_verdict_t verdict =
                oms_inbox_heard (entry, event.epoch, event.data.heads[i].seq);
            if (verdict == OMS_INBOX_SUSPECT)
                self->counters.events_suspect++;
            if (verdict == OMS_INBOX_SUSPECT || verdict == OMS_INBOX_GAP)
                s_fetch (self, entry);
        }
    }
}

// ---------------------------------------------------------------------------
//  Replay: fetching what is missing from a producer

static void
s_fetch (oms_service_t *self, oms_inbox_entry_t *entry)
{
    uint64_t now = oms_clock_steady_ns ();
    if (entry->stopped)
        return;
    if (entry->fetch_sent_ns && now - entry->fetch_sent_ns < self->replay_timeout_ns)
        return; //  one request in flight per type
    if (now < entry->retry_after_ns)
        return;
    zsock_t *fetcher = self->fetchers[s_service_index (entry->owner)];
    oms_request_t request = {.from = entry->position + 1, .max = self->replay_batch};
    s_copy (request.cmd, sizeof request.cmd, "replay");
    s_copy (request.topic, sizeof request.topic, entry->type);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    if (oms_request_encode (&request, &buffer) == 0) {
        void *handle = zsock_resolve (fetcher);
        if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0) {
            zmq_send (handle, buffer.data, buffer.size, ZMQ_DONTWAIT);
            entry->fetch_sent_ns = now;
            self->counters.replays_requested++;
        }
    }
    msgpack_sbuffer_destroy (&buffer);
}

//  The producer's replay answered with an epoch other than the one this
//  subscription applied: its store was made anew (lost, restored from an
//  older backup, or a wrong one). Its seqs start again, so its events are
//  neither duplicates to drop nor new to apply; stop and say so.
static void
s_stop (oms_service_t *self, oms_inbox_entry_t *entry, uint64_t epoch)
{
    self->counters.subscriptions_stopped++;
    char label[OMS_NAME_MAX + 8];
    oms_metrics_count (self->metrics, "oms_subscriptions_stopped_total",
                       "subscriptions stopped because their producer's store epoch changed",
                       s_topic_label (label, sizeof label, entry->type), 1);
    oms_error ("subscription to %s STOPPED: producer %s now has store epoch %016llx, not %016llx "
               "(its history restarted at seq 1; this service applied up to %llu). Nothing more "
               "of %s is applied until an operator decides (docs/OPERATIONS.md, \"A producer's "
               "store was replaced\")",
               entry->type, entry->owner, (unsigned long long) epoch,
               (unsigned long long) entry->epoch, (unsigned long long) entry->position,
               entry->type);
}

//  A replay answer: {"ok", "topic", "epoch", "start", "first", "head",
//  "events": [bin]} or an error. Validated like any input from the network.
static void
s_on_fetched (oms_service_t *self, zsock_t *fetcher)
{
    zmsg_t *msg = zmsg_recv (fetcher);
    if (!msg)
        return;
    zframe_t *delimiter = zmsg_first (msg);
    zframe_t *frame = zmsg_next (msg);
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    oms_replay_answer_t answer;
    oms_fault_t fault = {0};
    oms_inbox_entry_t *entry = NULL;
    if (zmsg_size (msg) != 2 || zframe_size (delimiter) != 0 ||
        oms_replay_answer_decode (zframe_data (frame), zframe_size (frame), &result, &answer,
                                  &fault) ||
        !(entry = oms_inbox_find (&self->inbox, answer.topic))) {
        char reason[128];
        self->counters.replay_errors++;
        oms_warn ("replay: malformed answer: %s",
                  fault.code ? oms_fault_str (&fault, reason, sizeof reason) : "frames or topic");
        goto leave;
    }
    entry->fetch_sent_ns = 0;
    if (entry->stopped)
        goto leave;
    if (!answer.ok) {
        self->counters.replay_errors++;
        entry->retry_after_ns = oms_clock_steady_ns () + RETRY_GONE_MS * 1000000ull;
        oms_error ("replay: producer=%s topic=%s from=%llu refused: %s", entry->owner, entry->type,
                   (unsigned long long) entry->position + 1, answer.error);
        goto leave;
    }
    if (oms_inbox_confirm (entry, answer.epoch, answer.head)) {
        s_stop (self, entry, answer.epoch);
        goto leave;
    }
    for (uint32_t i = 0; i < answer.n_events; i++) {
        const msgpack_object *body = &answer.events[i];
        s_apply (self, answer.topic, (const uint8_t *) body->via.bin.ptr, body->via.bin.size,
                 answer.start + i, answer.epoch);
    }
    oms_inbox_confirm (entry, answer.epoch, answer.head);
    if (oms_inbox_behind (entry))
        s_fetch (self, entry);
leave:
    msgpack_unpacked_destroy (&result);
    zmsg_destroy (&msg);
}

// ---------------------------------------------------------------------------
//  Requests: the service's commands, then the runtime's own
//  (oms_runtime_commands.c)

static const oms_command_def_t *
s_command (const oms_command_def_t *table, const char *cmd)
{
    for (; table->cmd; table++)
        if (strcmp (table->cmd, cmd) == 0)
            return table;
    return NULL;
}

typedef struct {
    const oms_command_def_t *command;
    const oms_request_t *request;
    oms_reply_t *reply;
} s_command_unit_t;

static int
s_run_command (oms_ctx_t *ctx, void *arg)
{
    s_command_unit_t *unit = arg;
    return unit->command->handler (ctx, unit->request, unit->reply);
}

//  With CURVE on, who may run a command: a read-only one any listed key, the
//  others operators only (docs/SECURITY.md). The sender is the "User-Id"
//  zauth gave the request's frame. 0, or -1 with `error` set (counted).
static int
s_authorise (oms_service_t *self, zframe_t *frame, const oms_request_t *request, char *error,
             size_t size)
{
    if (!oms_security_enabled (self->security))
        return 0;
    const char *peer = oms_security_peer (self->security, zframe_meta (frame, "User-Id"));
    if (oms_security_may_command (peer, request->cmd))
        return 0;
    snprintf (error, size, "denied: %s may not run %s on %s", peer ? peer : "an unknown key",
              request->cmd, self->def->name);
    oms_security_refuse (self->security, "%s", error);
    return -1;
}

//  The per-client rate limit, checked before anything of a request is read.
//  A client is its CURVE User-Id when it has one (the same key on every
//  connection), else its connection (the routing id the ROUTER gave it).
//  0, or OMS_E_LIMIT with `error` set (counted).
static int
s_admit (oms_service_t *self, zmsg_t *envelope, zframe_t *body, char *error, size_t size)
{
    zframe_t *routing = zmsg_first (envelope);
    zframe_t *received = body ? body : zmsg_next (envelope);
    const char *user_id = received ? zframe_meta (received, "User-Id") : NULL;
    bool ok = user_id && *user_id
                  ? oms_limit_take (self->limit, user_id, strlen (user_id), oms_clock_steady_ns ())
                  : oms_limit_take (self->limit, zframe_data (routing), zframe_size (routing),
                                    oms_clock_steady_ns ());
    if (ok)
        return 0;
    self->counters.requests_rate_limited++;
    snprintf (error, size,
              "rate limit: more than %lld requests a second (burst %lld) from one client to %s; "
              "retry later",
              (long long) oms_config_int (self->config, "limits/requests_per_s"),
              (long long) oms_config_int (self->config, "limits/burst"), self->def->name);
    return OMS_E_LIMIT;
}

//  One request from the api socket: [routing...][empty][msgpack map].
static void
s_on_request (oms_service_t *self, zmsg_t *msg)
{
    oms_request_t request;
    memset (&request, 0, sizeof request); //  no field of an earlier request may leak into this one
    //  Split the routing envelope from the body at the empty delimiter.
    zmsg_t *envelope = zmsg_new ();
    zframe_t *frame;
    bool delimited = false;
    while ((frame = zmsg_pop (msg))) {
        bool empty = zframe_size (frame) == 0;
        zmsg_append (envelope, &frame);
        if (empty) {
            delimited = true;
            break;
        }
    }
    oms_reply_t reply;
    oms_reply_init (&reply);
    char error[OMS_TEXT_MAX + 1] = "";
    int rc = OMS_E_FRAMES;
    bool read_only = false, touched = false;
    frame = zmsg_first (msg);
    if (s_admit (self, envelope, frame, error, sizeof error))
        rc = OMS_E_LIMIT;
    else if (!delimited || zmsg_size (msg) != 1)
        snprintf (error, sizeof error, "a request is [empty frame][msgpack map]");
    else {
        oms_fault_t fault;
        rc = oms_request_decode (zframe_data (frame), zframe_size (frame), &request, &fault);
        if (rc) {
            oms_fault_str (&fault, error, sizeof error);
            //  A half-decoded request names no topic its refusal could carry.
            memset (&request, 0, sizeof request);
        }
    }
    if (rc == OMS_E_LIMIT)
        oms_debug ("rate limited request: %s", error);
    else if (rc) {
        self->counters.requests_rejected++;
        oms_warn ("rejected request: %s", error);
    }
    else if (s_authorise (self, frame, &request, error, sizeof error))
        rc = OMS_E_DENIED;
    else {
        const oms_command_def_t *command = s_command (self->def->commands, request.cmd);
        if (!command)
            command = s_command (oms_runtime_commands, request.cmd);
        if (!command) {
            rc = OMS_E_UNKNOWN;
            snprintf (error, sizeof error, "%s does not answer %s", self->def->name, request.cmd);
        }
        else {
            oms_ctx_t ctx = {.request = &request};
            s_command_unit_t unit = {command, &request, &reply};
            self->counters.commands++;
            read_only = oms_security_read_only (request.cmd);
            rc = (read_only ? s_read : s_unit) (self, &ctx, s_run_command, &unit);
            touched = !read_only;
            if (rc) {
                self->counters.commands_failed++;
                if (rc == OMS_E_LIMIT)
                    self->counters.commands_over_limit++;
                snprintf (error, sizeof error, "%s", ctx.error[0] ? ctx.error : oms_strerror (rc));
            }
        }
    }
    if (delimited) {
        s_answer (self, &envelope, &reply, rc, error, request.topic);
        //  A read, or a request refused before it did anything, does not
        //  wait for the batch: its answer cannot depend on the commit.
        if (read_only || !touched)
            s_send_answer (self, &self->answers[--self->n_answers], 0);
    }
    zmsg_destroy (&envelope);
    msgpack_sbuffer_destroy (&reply.buffer);
}

static void
s_serve (oms_service_t *self)
{
    for (size_t i = 0; i < self->batch_max; i++) {
        zmsg_t *msg = NULL;
        if (zsock_events (self->api) & ZMQ_POLLIN)
            msg = zmsg_recv (self->api);
        if (!msg)
            break;
        s_on_request (self, msg);
        zmsg_destroy (&msg);
    }
}

// ---------------------------------------------------------------------------
//  Timers

//  Events in and out per second over the last window, and the totals as
//  metrics (the same numbers `status` reports).
static void
s_measure_rates (oms_service_t *self)
{
    uint64_t now = oms_clock_steady_ns ();
    if (now - self->rate_since_ns >= RATE_WINDOW_NS) {
        uint64_t span = now - self->rate_since_ns;
        self->in_per_s =
            (self->counters.events_applied - self->rate_applied) * 1000000000ull / span;
        self->out_per_s =
            (self->counters.events_emitted - self->rate_emitted) * 1000000000ull / span;
        self->rate_since_ns = now;
        self->rate_applied = self->counters.events_applied;
        self->rate_emitted = self->counters.events_emitted;
    }
    oms_counters_t *c = &self->counters;
    oms_bus_stats_t bus;
    oms_bus_stats (&bus);
    struct {
        const char *name, *help;
        uint64_t value;
    } totals[] = {
        {"oms_events_duplicate_total", "duplicate events dropped", c->events_duplicate},
        {"oms_events_gap_total", "events that revealed a gap", c->events_gap},
        {"oms_events_rejected_total", "events whose body does not decode", c->events_rejected},
        {"oms_events_suspect_total", "live events held until the producer's replay confirmed them",
         c->events_suspect},
        {"oms_requests_rejected_total", "undecodable requests", c->requests_rejected},
        {"oms_requests_rate_limited_total", "requests refused by the per-client rate limit",
         c->requests_rate_limited},
        {"oms_commands_over_limit_total", "commands refused by a configured limit",
         c->commands_over_limit},
        {"oms_events_malformed_total", "events with a wrong frame count or topic",
         oms_service_events_malformed (self)},
        {"oms_commands_total", "commands handled", c->commands},
        {"oms_commands_failed_total", "commands refused or failed", c->commands_failed},
        {"oms_replays_served_total", "replay requests answered", c->replays_served},
        {"oms_replays_requested_total", "replay requests sent", c->replays_requested},
        {"oms_replay_errors_total", "replay answers refused or malformed", c->replay_errors},
        {"oms_commit_failures_total", "batches that failed to commit", c->commit_failures},
        {"oms_commands_denied_total", "commands refused to their sender",
         oms_security_refused (self->security)},
    };
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
        oms_metrics_total (self->metrics, totals[i].name, totals[i].help, NULL, totals[i].value);
    oms_metrics_set (self->metrics, "oms_uptime_seconds", "seconds since the process started", NULL,
                     (double) (oms_clock_steady_ns () - self->started_ns) / 1e9);
}

static void
s_heartbeat (oms_service_t *self)
{
    oms_head_t heads[OMS_HEADS_MAX];
    oms_txn_t *txn;
    if (oms_store_begin (self->store, false, &txn))
        return;
    for (size_t i = 0; i < self->n_owned; i++) {
        uint64_t first;
        s_copy (heads[i].topic, sizeof heads[i].topic, self->owned[i]);
        oms_outbox_bounds (txn, self->outbox, self->heads, self->owned[i], &first, &heads[i].seq);
    }
    //  What is in the dead-letter store now, unlike oms_dead_letters_total,
    //  survives a restart and falls when an operator retries or drops.
    uint64_t dead;
    if (oms_txn_count (txn, self->dead, &dead) == 0)
        oms_metrics_set (self->metrics, "oms_dead_letters",
                         "events kept in the dead-letter store now", NULL, (double) dead);
    oms_txn_abort (&txn);
    oms_head_t positions[OMS_INBOX_MAX];
    char label[OMS_NAME_MAX + 8];
    for (size_t i = 0; i < self->inbox.count; i++) {
        oms_inbox_entry_t *entry = &self->inbox.entries[i];
        s_copy (positions[i].topic, sizeof positions[i].topic, entry->type);
        positions[i].seq = entry->position;
        oms_metrics_set (self->metrics, "oms_lag_events",
                         "events of a type known to exist and not yet applied",
                         s_topic_label (label, sizeof label, entry->type),
                         (double) (entry->known - entry->position));
        oms_metrics_set (self->metrics, "oms_subscription_stopped",
                         "1 while the subscription is stopped: its producer's store epoch changed",
                         label, entry->stopped ? 1 : 0);
    }
    for (size_t i = 0; i < self->n_owned; i++)
        oms_metrics_set (self->metrics, "oms_outbox_head", "newest seq of a type in the outbox",
                         s_topic_label (label, sizeof label, heads[i].topic),
                         (double) heads[i].seq);
    s_measure_rates (self);
    oms_metrics_publish (self->metrics);

    oms_event_t event;
    oms_event_heartbeat (&event, self->def->name, self->instance, OMS_VERSION,
                         oms_clock_steady_ns () - self->started_ns, heads, (uint32_t) self->n_owned,
                         positions, (uint32_t) self->inbox.count);
    snprintf (event.type, sizeof event.type, OMS_HEARTBEAT_PREFIX "%s", self->def->name);
    s_copy (event.producer, sizeof event.producer, self->def->name);
    event.epoch = self->epoch;
    event.seq = ++self->heartbeat_seq;
    event.ts_ns = oms_clock_wall_ns ();
    snprintf (event.id, sizeof event.id, "%.16s/%.24s/%llu", event.producer, event.type,
              (unsigned long long) event.seq);
    msgpack_sbuffer_clear (&self->scratch);
    if (oms_event_encode (&event, &self->scratch) == 0)
        oms_bus_publish (event.type, self->scratch.data, self->scratch.size);
}

static int
s_run_tick (oms_ctx_t *ctx, void *arg)
{
    (void) arg;
    return ctx->self->def->tick (ctx, oms_ctx_steady (ctx));
}

static int
s_run_prune (oms_ctx_t *ctx, void *arg)
{
    (void) arg;
    oms_service_t *self = ctx->self;
    uint64_t now = oms_clock_wall_ns ();
    uint64_t min_ts = now > self->retention_ns ? now - self->retention_ns : 0;
    for (size_t i = 0; i < self->n_owned; i++) {
        uint64_t pruned;
        int rc =
            oms_outbox_prune (ctx->txn, self->outbox, self->heads, self->by_order, self->owned[i],
                              min_ts, self->retention_events, PRUNE_BUDGET, &pruned);
        if (rc)
            return rc;
        if (pruned)
            oms_info ("retention: dropped %llu %s events", (unsigned long long) pruned,
                      self->owned[i]);
    }
    return 0;
}

// ---------------------------------------------------------------------------
//  Set-up and the loop

static void
s_usage (const char *name)
{
    printf ("Usage: oms-%s [-c FILE] [--set KEY=VALUE]... [-v] [--init]\n"
            "  -c, --config FILE    cluster configuration (default $OMS_CONFIG, else local "
            "defaults)\n"
            "      --set KEY=VALUE  override one configuration key (see docs/CONFIG.md)\n"
            "      --init           make the store if there is none, then exit; without it\n"
            "                       a missing or empty store is refused\n"
            "  -v, --verbose        log at debug level\n"
            "  -h, --help           this text\n",
            name);
}

static const struct option s_options[] = {
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
    {"init", no_argument, NULL, 'i'},         {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};

//  Flags, then configuration. NULL when the process should exit (*code set).
//  The first pass finds the file; the second applies each --set on top of
//  it in order, so the flags need no storage of their own and --verbose
//  wins over both.
static oms_config_t *
s_configure (const oms_service_def_t *def, int argc, char *argv[], int *code, bool *init)
{
    const char *path = NULL;
    bool verbose = false;
    int option;
    *code = 2;
    while ((option = getopt_long (argc, argv, "c:vh", s_options, NULL)) != -1) {
        if (option == 'c')
            path = optarg;
        else if (option == 'v')
            verbose = true;
        else if (option == 'i')
            *init = true;
        else if (option == 'h') {
            s_usage (def->name);
            *code = 0;
            return NULL;
        }
        else if (option != 's') {
            s_usage (def->name);
            return NULL;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "oms-%s: unexpected argument: %s\n", def->name, argv[optind]);
        return NULL;
    }
    char error[256];
    oms_config_t *config = oms_config_new (path, error, sizeof error);
    if (!config) {
        fprintf (stderr, "oms-%s: %s\n", def->name, error);
        return NULL;
    }
    optind = 0;
    opterr = 0;
    while ((option = getopt_long (argc, argv, "c:vh", s_options, NULL)) != -1)
        if (option == 's' && oms_config_set_flag (config, optarg, error, sizeof error)) {
            fprintf (stderr, "oms-%s: %s\n", def->name, error);
            oms_config_destroy (&config);
            return NULL;
        }
    if (verbose)
        oms_config_set (config, "log/level", "debug", error, sizeof error);
    return config;
}

//  Opens this service's store; makes a new one only when `create`.
static int
s_open_store (oms_service_t *self, bool create, char *dir, size_t dir_size)
{
    const oms_service_def_t *def = self->def;
    const char *names[32];
    size_t n = 0;
    for (const char *const *db = s_runtime_dbs; *db; db++)
        names[n++] = *db;
    for (const char *const *db = def->dbs; db && *db && n < 31; db++)
        names[n++] = *db;
    names[n] = NULL;
    oms_config_store_dir (self->config, def->name, dir, dir_size);
    self->store = oms_store_new (
        dir, names, (size_t) oms_config_int (self->config, "runtime/map_size_mb"), create);
    if (!self->store)
        return -1;
    self->epoch = oms_store_epoch (self->store);
    return 0;
}

//  The service's start hook, in a write transaction of its own.
static int
s_start (oms_service_t *self)
{
    oms_ctx_t ctx = {.self = self};
    int rc = oms_store_begin (self->store, true, &ctx.txn);
    if (rc == 0) {
        rc = self->def->start (&ctx);
        if (rc == 0)
            rc = oms_txn_commit (&ctx.txn);
        else
            oms_txn_abort (&ctx.txn);
    }
    if (rc)
        oms_error ("start-up failed: %s", ctx.error[0] ? ctx.error : oms_strerror (rc));
    return rc;
}

//  A store made before the per-order index has events `by_order` does not
//  know: index them all, once, in one transaction, and record in `meta`
//  that the index is whole. A new store records it at its first start. A
//  failure (a full disk) is logged and the service runs on: only `oms
//  trace` misses the old events, and the next start tries again.
static void
s_index_outbox (oms_service_t *self)
{
    oms_txn_t *txn = NULL;
    oms_val_t value;
    uint64_t indexed = 0, events = 0;
    int rc = oms_store_begin (self->store, true, &txn);
    if (rc == 0)
        rc = oms_txn_get (txn, self->meta, S_INDEXED_KEY, strlen (S_INDEXED_KEY), &value);
    if (rc == 0) {
        oms_txn_abort (&txn);
        return;
    }
    uint8_t one[8];
    oms_be64_put (one, 1);
    if (rc == OMS_E_NOTFOUND)
        rc = oms_txn_count (txn, self->outbox, &events);
    if (rc == 0 && events > 0)
        rc = oms_outbox_index (txn, self->outbox, self->by_order, &indexed);
    if (rc == 0)
        rc = oms_txn_put (txn, self->meta, S_INDEXED_KEY, strlen (S_INDEXED_KEY), one, 8);
    if (rc == 0)
        rc = oms_txn_commit (&txn);
    oms_txn_abort (&txn);
    if (rc)
        oms_error ("outbox: cannot build the per-order index: %s; oms trace will miss the "
                   "events stored before it",
                   oms_strerror (rc));
    else if (events > 0)
        oms_info ("outbox: indexed %llu of %llu events by order (a store made before the index)",
                  (unsigned long long) indexed, (unsigned long long) events);
}

static int
s_open (oms_service_t *self)
{
    const oms_service_def_t *def = self->def;
    char dir[512];
    if (s_open_store (self, false, dir, sizeof dir))
        return -1;
    oms_store_db (self->store, "outbox", &self->outbox);
    oms_store_db (self->store, "heads", &self->heads);
    oms_store_db (self->store, "positions", &self->positions);
    oms_store_db (self->store, "dead", &self->dead);
    oms_store_db (self->store, "meta", &self->meta);
    oms_store_db (self->store, "by_order", &self->by_order);
    s_index_outbox (self);
    if (def->start && s_start (self))
        return -1;

    for (const oms_event_type_t *type = oms_event_types; type->type; type++)
        if (type->durable && strcmp (type->owner, def->name) == 0 && self->n_owned < OMS_HEADS_MAX)
            self->owned[self->n_owned++] = type->type;

    char error[256];
    self->security = oms_security_new (self->config, def->name, error, sizeof error);
    if (!self->security) {
        oms_error ("%s", error);
        return -1;
    }

    //  Bind the api endpoint: commands and replay.
    int max_bytes = (int) oms_config_int (self->config, "limits/max_message_bytes");
    const char *bind = oms_config_service (self->config, def->name, "api_bind");
    if (!*bind)
        bind = oms_config_service (self->config, def->name, "api");
    self->api = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (self->api, 0);
    zsock_set_router_mandatory (self->api, 0);
    zsock_set_maxmsgsize (self->api, max_bytes);
    self->limit = oms_limit_new ((uint64_t) oms_config_int (self->config, "limits/requests_per_s"),
                                 (uint64_t) oms_config_int (self->config, "limits/burst"),
                                 (size_t) oms_config_int (self->config, "limits/clients"));
    if (!self->limit)
        return -1;
    if (oms_security_server (self->security, self->api))
        return -1;
    if (zsock_bind (self->api, "%s", bind) < 0) {
        oms_error ("cannot bind api %s: %s", bind, zmq_strerror (zmq_errno ()));
        return -1;
    }

    if (oms_bus_start (self->config, self->security, true, true))
        return -1;
    for (const oms_subscription_t *sub = def->subscriptions; sub->topic; sub++) {
        if (oms_inbox_add (&self->inbox, sub->topic)) {
            oms_error ("cannot subscribe to %s: not a durable event type", sub->topic);
            return -1;
        }
        oms_bus_subscribe (sub->topic, s_on_event, self);
        int owner = s_service_index (self->inbox.entries[self->inbox.count - 1].owner);
        if (owner >= 0 && !self->fetchers[owner]) {
            zsock_t *fetcher = zsock_new (ZMQ_DEALER);
            zsock_set_linger (fetcher, 0);
            zsock_set_immediate (fetcher, 1);
            zsock_set_sndhwm (fetcher, 16);
            zsock_set_maxmsgsize (fetcher, max_bytes);
            const char *api = oms_config_service (self->config, oms_service_names[owner], "api");
            if (oms_security_client (self->security, fetcher, oms_service_names[owner], error,
                                     sizeof error)) {
                oms_error ("%s", error);
                zsock_destroy (&fetcher);
                return -1;
            }
            if (zsock_connect (fetcher, "%s", api)) {
                oms_error ("cannot connect to %s api %s", oms_service_names[owner], api);
                zsock_destroy (&fetcher);
                return -1;
            }
            self->fetchers[owner] = fetcher;
        }
    }
    oms_bus_subscribe (OMS_HEARTBEAT_PREFIX, s_on_heartbeat, self);
    const char *metrics = oms_config_service (self->config, def->name, "metrics");
    if (*metrics && oms_metrics_serve (self->metrics, metrics))
        return -1;

    oms_txn_t *txn;
    int rc = oms_store_begin (self->store, false, &txn);
    if (rc == 0) {
        rc = oms_inbox_load (&self->inbox, txn, self->positions);
        oms_txn_abort (&txn);
    }
    if (rc)
        oms_error ("cannot read positions: %s", oms_strerror (rc));
    oms_info ("started api=%s store=%s frontend=%s backend=%s", bind, dir,
              oms_config_str (self->config, "broker/frontend"),
              oms_config_str (self->config, "broker/backend"));
    return rc;
}

static void
s_close (oms_service_t *self)
{
    if (self->batch)
        oms_txn_abort (&self->batch);
    for (int i = 0; i < OMS_SERVICES_COUNT; i++)
        zsock_destroy (&self->fetchers[i]);
    zsock_destroy (&self->api);
    oms_bus_stop ();
    oms_security_destroy (&self->security);
    oms_limit_destroy (&self->limit);
    oms_store_destroy (&self->store);
    free (self->pending);
    free (self->answers);
    msgpack_sbuffer_destroy (&self->pending_bytes);
    msgpack_sbuffer_destroy (&self->scratch);
    oms_config_destroy (&self->config);
    oms_metrics_destroy (&self->metrics);
}

//  Start-up catch-up is over when every type has been fetched up to the
//  head its producer announced, or when the deadline passed (a producer that
//  is down is caught up later, from its heartbeats).
static bool
s_caught_up (oms_service_t *self, uint64_t now)
{
    if (now >= self->catch_up_deadline)
        return true;
    for (size_t i = 0; i < self->inbox.count; i++) {
        oms_inbox_entry_t *entry = &self->inbox.entries[i];
        if (entry->fetch_sent_ns || oms_inbox_behind (entry))
            return false;
    }
    return true;
}

static void
s_loop (oms_service_t *self)
{
    uint64_t now = oms_clock_steady_ns ();
    uint64_t next_heartbeat = now, next_tick = now, next_prune = now + PRUNE_MS * 1000000ull;
    self->catching_up = true;
    self->catch_up_deadline =
        now + (uint64_t) oms_config_int (self->config, "runtime/startup_catchup_ms") * 1000000ull;
    for (size_t i = 0; i < self->inbox.count; i++)
        s_fetch (self, &self->inbox.entries[i]);

    while (!zsys_interrupted) {
        zmq_pollitem_t items[2 + OMS_SERVICES_COUNT];
        zsock_t *sources[OMS_SERVICES_COUNT];
        int n = 0;
        items[n++] = (zmq_pollitem_t){zsock_resolve (self->api), 0, ZMQ_POLLIN, 0};
        int sub_item = -1;
        if (!self->catching_up) {
            sub_item = n;
            items[n++] = (zmq_pollitem_t){oms_bus_sub_handle (), 0, ZMQ_POLLIN, 0};
        }
        int first_fetcher = n;
        for (int i = 0; i < OMS_SERVICES_COUNT; i++)
            if (self->fetchers[i]) {
                sources[n - first_fetcher] = self->fetchers[i];
                items[n++] = (zmq_pollitem_t){zsock_resolve (self->fetchers[i]), 0, ZMQ_POLLIN, 0};
            }
        now = oms_clock_steady_ns ();
        uint64_t wake = next_heartbeat < next_tick ? next_heartbeat : next_tick;
        long timeout = wake > now ? (long) ((wake - now) / 1000000u) + 1 : 0;
        if (zmq_poll (items, n, timeout) < 0 && zmq_errno () != EINTR)
            break;
        if (zsys_interrupted)
            break;

        if (items[0].revents & ZMQ_POLLIN)
            s_serve (self);
        if (sub_item >= 0 && (items[sub_item].revents & ZMQ_POLLIN))
            oms_bus_dispatch (self->batch_max);
        for (int i = first_fetcher; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_on_fetched (self, sources[i - first_fetcher]);

        now = oms_clock_steady_ns ();
        if (now >= next_tick) {
            next_tick = now + TICK_MS * 1000000ull;
            oms_ctx_t ctx = {0};
            if (self->def->tick && s_unit (self, &ctx, s_run_tick, NULL))
                oms_error ("tick failed: %s", ctx.error);
            //  Fetches that went unanswered are asked again.
            for (size_t i = 0; i < self->inbox.count; i++) {
                oms_inbox_entry_t *entry = &self->inbox.entries[i];
                if (entry->fetch_sent_ns && now - entry->fetch_sent_ns >= self->replay_timeout_ns) {
                    entry->fetch_sent_ns = 0;
                    if (oms_inbox_behind (entry) || self->catching_up)
                        s_fetch (self, entry);
                }
            }
        }
        if (now >= next_prune) {
            next_prune = now + PRUNE_MS * 1000000ull;
            oms_ctx_t ctx = {0};
            if (s_unit (self, &ctx, s_run_prune, NULL))
                oms_error ("retention failed");
        }
        s_commit (self);
        if (now >= next_heartbeat) {
            next_heartbeat = now + self->heartbeat_ns;
            s_heartbeat (self);
        }
        if (self->catching_up && s_caught_up (self, now)) {
            self->catching_up = false;
            oms_info ("caught up; reading live events");
        }
    }
}

int
oms_service_main (const oms_service_def_t *def, int argc, char *argv[])
{
    int code;
    bool init = false;
    oms_service_t self = {.def = def};
    self.config = s_configure (def, argc, argv, &code, &init);
    if (!self.config)
        return code;
    zsys_init ();
    zsys_set_logstream (stderr);
    oms_log_buffer ();
    if (oms_log_init (def->name, oms_config_str (self.config, "log/level"))) {
        fprintf (stderr, "oms-%s: bad log level\n", def->name);
        oms_config_destroy (&self.config);
        return 2;
    }
    snprintf (self.host, sizeof self.host, "localhost");
    gethostname (self.host, sizeof self.host - 1);
    snprintf (self.instance, sizeof self.instance, "%.40s:%d", self.host, (int) getpid ());
    self.metrics = oms_metrics_new (def->name);
    self.rate_since_ns = oms_clock_steady_ns ();
    self.started_ns = oms_clock_steady_ns ();
    self.steady_base_ns = oms_clock_wall_ns () - self.started_ns;
    self.batch_max = (size_t) oms_config_int (self.config, "runtime/batch");
    self.heartbeat_ns =
        (uint64_t) oms_config_int (self.config, "runtime/heartbeat_ms") * 1000000ull;
    self.replay_timeout_ns =
        (uint64_t) oms_config_int (self.config, "runtime/replay_timeout_ms") * 1000000ull;
    self.replay_batch = (uint64_t) oms_config_int (self.config, "runtime/replay_batch");
    self.retention_ns =
        (uint64_t) oms_config_int (self.config, "runtime/retention_s") * 1000000000ull;
    self.retention_events = (uint64_t) oms_config_int (self.config, "runtime/retention_events");
    if (self.batch_max == 0)
        self.batch_max = 1;
    if (self.replay_batch == 0 || self.replay_batch > 4096)
        self.replay_batch = 512;
    msgpack_sbuffer_init (&self.pending_bytes);
    msgpack_sbuffer_init (&self.scratch);

    code = 1;
    if (init) {
        char dir[512];
        if (s_open_store (&self, true, dir, sizeof dir) == 0) {
            printf ("oms-%s: store %s, epoch %016llx\n", def->name, dir,
                    (unsigned long long) self.epoch);
            code = 0;
        }
    }
    else if (s_open (&self) == 0) {
        s_loop (&self);
        oms_info ("stopping: applied=%llu emitted=%llu commits=%llu",
                  (unsigned long long) self.counters.events_applied,
                  (unsigned long long) self.counters.events_emitted,
                  (unsigned long long) self.counters.commits);
        code = 0;
    }
    s_close (&self);
    return code;
}
