/*  oms_service_private: what the service loop (oms_service.c) and the
    runtime's own commands (oms_runtime_commands.c) share. Services never
    include it: they see only oms_service.h.
*/
#ifndef OMS_SERVICE_PRIVATE_H
#define OMS_SERVICE_PRIVATE_H

#include "oms_service.h"
#include "oms_inbox.h"
#include "oms_limit.h"
#include "oms_metrics.h"
#include "oms_security.h"
#include "oms_clock.h"
#include <czmq.h>
#include <time.h>

#define PEERS_MAX 16

typedef struct {
    char topic[OMS_NAME_MAX + 1];
    size_t offset; //  of the body in pending_bytes
    size_t size;
} oms_pending_t;

typedef struct {
    zmsg_t *envelope; //  routing frames, delimiter included
    msgpack_sbuffer body;
} oms_answer_t;

typedef struct {
    uint64_t events_applied;
    uint64_t events_duplicate;
    uint64_t events_gap;
    uint64_t events_suspect;        //  live events held until replay confirmed them
    uint64_t subscriptions_stopped; //  by a producer whose epoch changed
    uint64_t events_rejected;       //  a body that does not decode as its topic's event
    uint64_t events_misfiled;       //  a body whose type is not its topic frame (with the
                                    //  bus's malformed, reported as events_malformed)
    uint64_t events_dead;
    uint64_t events_emitted;
    uint64_t commands;
    uint64_t commands_failed;
    uint64_t requests_rejected;
    uint64_t replays_served;
    uint64_t replays_requested;
    uint64_t replay_errors;
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t requests_rate_limited; //  refused by the per-client rate limit
    uint64_t commands_over_limit;   //  refused by a limits/ key (OMS_E_LIMIT)
} oms_counters_t;

//  What this process last heard from another one's heartbeat.
typedef struct {
    char name[OMS_NAME_MAX + 1];
    char instance[OMS_ID_MAX + 1];
    char version[OMS_NAME_MAX + 1];
    uint64_t uptime_ns;
    uint64_t last_seen_ns;  //  wall clock, for people
    uint64_t heard_mono_ns; //  monotonic, for telling whether it is alive
    oms_head_t heads[OMS_HEADS_MAX];
    uint32_t n_heads;
    oms_head_t positions[OMS_HEADS_MAX];
    uint32_t n_positions;
} oms_peer_t;

//  A dead letter as stored in `dead`.
typedef struct {
    char topic[OMS_NAME_MAX + 1];
    char error[OMS_TEXT_MAX + 1];
    uint64_t ts_ns;
    oms_bin_t body;
} oms_dead_letter_t;

//  Its record layout (oms_service.c): written by the loop, read by dlq.*.
extern const oms_schema_t oms_dead_letter_schema;

//  One process: its definition, its store and sockets, the open batch and
//  what it measures.
typedef struct {
    const oms_service_def_t *def;
    oms_config_t *config;
    oms_store_t *store;
    oms_db_t outbox, heads, positions, dead, meta, by_order;
    oms_inbox_t inbox;
    const char *owned[OMS_HEADS_MAX];
    size_t n_owned;
    zsock_t *api;
    zsock_t *fetchers[OMS_SERVICES_COUNT];
    oms_security_t *security; //  CURVE on every socket, when configured
    char instance[OMS_ID_MAX + 1];
    char host[64];
    uint64_t started_ns;     //  monotonic
    uint64_t steady_base_ns; //  wall minus monotonic at start: oms_ctx_steady
    uint64_t heartbeat_seq;
    uint64_t epoch;            //  this store's identity, stamped on every event
    oms_log_limit_t store_log; //  failures that recur at every turn (a full disk)
    char batch_error[OMS_TEXT_MAX + 1];
    bool catching_up;
    uint64_t catch_up_deadline;
    //  the open batch
    oms_txn_t *batch;
    oms_pending_t *pending;
    size_t n_pending, max_pending;
    msgpack_sbuffer pending_bytes;
    oms_answer_t *answers;
    size_t n_answers, max_answers;
    msgpack_sbuffer scratch;
    //  settings
    size_t batch_max;
    uint64_t heartbeat_ns, replay_timeout_ns, retention_ns;
    uint64_t replay_batch, retention_events;
    oms_limit_t *limit; //  per-client rate limit of the api endpoint
    oms_counters_t counters;
    size_t batch_units; //  units of work in the open batch
    //  Until then each event handler runs in a nested transaction of its
    //  own; otherwise events share the batch transaction (see s_apply).
    uint64_t careful_until_ns;
    oms_metrics_t *metrics;
    oms_peer_t peers[PEERS_MAX];
    size_t n_peers;
    //  events in and out per second, measured over RATE_WINDOW_NS
    uint64_t rate_since_ns, rate_applied, rate_emitted;
    uint64_t in_per_s, out_per_s;
} oms_service_t;

struct _oms_ctx_t {
    oms_service_t *self;
    oms_txn_t *txn;
    const oms_event_t *cause;
    const oms_request_t *request;
    char error[OMS_TEXT_MAX + 1];
};

struct _oms_reply_t {
    msgpack_sbuffer buffer;
    msgpack_packer pk;
    uint32_t entries;
};

//  Opens an empty reply; the caller destroys its buffer.
void oms_reply_init (oms_reply_t *reply);

//  This service's subscription to event type `type`, or NULL.
const oms_subscription_t *oms_service_subscription (oms_service_t *self, const char *type);

//  Events refused for their framing or topic: the bus's malformed ones and
//  those whose body's type is not their topic frame.
uint64_t oms_service_events_malformed (oms_service_t *self);

//  The runtime's own commands, answered by every service after its own;
//  terminated by {NULL, NULL}.
extern const oms_command_def_t oms_runtime_commands[];

#endif
