/*  cli_ops: status, metrics, dlq, events and resync.

    Health comes from two sources. A service is up when it answers `status`;
    its answer also lists the peers whose heartbeats it has heard, with when
    and what they last said. The broker has no api, so it is judged by its
    heartbeat alone: seen in an answering service's peers, or heard here on
    broker/backend. A process that is down still appears with what its last
    heartbeat said, so the lag of a stopped subscriber stays visible.

    Lag is per subscription: the newest head of the type that anyone reports
    (the producer's own answer, heartbeats, the subscribers' "known") minus
    the subscriber's position.

    `events` reads a service's outbox through its replay endpoint, the same
    way subscribers catch up, one batch per type at a time, and merges the
    types by timestamp.
*/
#include "cli.h"
#include "cli_ops.h"
#include "cli_args.h"
#include "cli_client.h"

#include "cli_json.h"
#include "oms_clock.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>

#define STATUS_TIMEOUT_MS 1000       //  the most `status` waits for the services
#define SILENT_HEARTBEATS 3          //  heartbeat intervals after which a process is silent
#define CLOCK_SKEW_NS     2000000000 //  a clock further off than this is reported
#define LISTEN_HEARTBEATS 1.5        //  how long to listen for the broker's heartbeat
#define WATCH_DEFAULT_S   1.0
#define WATCH_MIN_S       0.1
#define WATCH_MAX_S       3600.0
#define EVENTS_BATCH      256
#define FOLLOW_POLL_MS    250
#define BROKER            "broker"
#define PROCESSES         (1 + OMS_SERVICES_COUNT) //  the broker, then the services

const cli_opt_t cli_status_opts[] = {{"--watch", CLI_VALUE_OPTIONAL, false}, {NULL, false, false}};
const cli_opt_t cli_events_opts[] = {{"--from", true, false},
                                     {"--topic", true, false},
                                     {"--follow", false, false},
                                     {NULL, false, false}};
const cli_opt_t cli_resync_opts[] = {{"--to", true, false}, {NULL, false, false}};

//  What every command gets.
typedef struct {
    oms_config_t *config;
    const cli_args_t *args;
    bool json;
    int timeout_ms;
    const char *synopsis;
} s_cmd_t;

static int
s_expect (const s_cmd_t *cmd, size_t min, size_t max)
{
    size_t n = cmd->args->n_positional;
    if (n >= min && n <= max)
        return 0;
    return cli_fail ("%s; usage: oms %s", n < min ? "missing argument" : "too many arguments",
                     cmd->synopsis);
}

static const char *
s_arg (const s_cmd_t *cmd, size_t index)
{
    return cmd->args->positional[index];
}

static int
s_check_service (const char *name)
{
    char shown[64];
    if (oms_config_is_service (name))
        return 0;
    return cli_fail ("unknown service: %s (one of order, inventory, payment, notification)",
                     cli_printable (name, shown, sizeof shown));
}

static void
s_request (oms_request_t *req, const char *name)
{
    memset (req, 0, sizeof *req);
    snprintf (req->cmd, sizeof req->cmd, "%s", name);
}

//  One request to a service; the accepted reply (caller owns it), or NULL
//  after printing why.
static cli_reply_t *
s_call (const s_cmd_t *cmd, const char *service, const oms_request_t *req)
{
    char error[512];
    cli_reply_t *reply = cli_request (service, oms_config_service (cmd->config, service, "api"),
                                      req, cmd->timeout_ms, 1, error, sizeof error);
    if (!reply)
        cli_fail ("%s", error);
    return reply;
}

static int
s_malformed (const char *service, const char *why)
{
    return cli_fail ("%s service sent a malformed reply: %s", service, why);
}

//  A uint field; false when absent or of another type.
static bool
s_uint (const msgpack_object *map, const char *key, uint64_t *value)
{
    const msgpack_object *found = cli_map_get (map, key);
    if (!found || found->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *value = found->via.u64;
    return true;
}

//  A string field copied into buf; false when absent, not a string or too long.
static bool
s_str (const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const char *str = NULL;
    size_t len = 0;
    if (cli_map_str (map, key, &str, &len) != 0 || len >= size || memchr (str, 0, len))
        return false;
    memcpy (buf, str, len);
    buf[len] = '\0';
    return true;
}

//  An array field; NULL when absent or of another type.
static const msgpack_object *
s_array (const msgpack_object *map, const char *key)
{
    const msgpack_object *found = cli_map_get (map, key);
    return found && found->type == MSGPACK_OBJECT_ARRAY ? found : NULL;
}

//  "45s", "12m", "3h", "2d": how long ago, for humans.
static const char *
s_age (uint64_t ns, char *buf, size_t size)
{
    uint64_t s = ns / 1000000000u;
    if (s < 120)
        snprintf (buf, size, "%" PRIu64 "s", s);
    else if (s < 7200)
        snprintf (buf, size, "%" PRIu64 "m", s / 60);
    else if (s < 172800)
        snprintf (buf, size, "%" PRIu64 "h", s / 3600);
    else
        snprintf (buf, size, "%" PRIu64 "d", s / 86400);
    return buf;
}

static void
s_json_key_str (const char *key, const char *value)
{
    printf (", \"%s\": ", key);
    if (value && *value)
        cli_json_print_str (stdout, value, strlen (value));
    else
        printf ("null");
}

static void
s_json_key_uint (const char *key, bool known, uint64_t value)
{
    if (known)
        printf (", \"%s\": %" PRIu64, key, value);
    else
        printf (", \"%s\": null", key);
}

// ---------------------------------------------------------------------------
//  status

//  One subscription of a process, as far as anyone knows.
typedef struct {
    char topic[OMS_NAME_MAX + 1];
    const char *producer;
    bool has_position, has_head;
    uint64_t position, head;
    bool stopped; //  its producer's epoch changed (PROTOCOL.md section 4)
} s_sub_t;

typedef struct {
    const char *name;
    bool is_service;
    const char *endpoint;
    cli_client_t *client;
    cli_reply_t *reply; //  its status answer
    char error[256];    //  why there is none
    //  its own heartbeat, heard here (kept across --watch rounds)
    uint64_t heard_ns; //  wall clock, 0 never
    char heard_instance[OMS_ID_MAX + 1];
    char heard_version[OMS_NAME_MAX + 1];
    uint64_t heard_uptime_ns;
    oms_head_t heard_heads[OMS_HEADS_MAX];
    uint32_t n_heard_heads;
    //  what a row shows, worked out after the round
    const msgpack_object *peer; //  the freshest peers entry about it (borrowed)
    bool up;
    uint64_t last_seen_ns; //  on this clock; 0 unknown
    int64_t clock_skew_ns; //  its clock minus this one's, past CLOCK_SKEW_NS; else 0
    char state[32];
    char host[OMS_ID_MAX + 1], instance[OMS_ID_MAX + 1], version[OMS_NAME_MAX + 1];
    bool has_uptime, has_rates;
    uint64_t uptime_ns, in_per_s, out_per_s;
    s_sub_t subs[OMS_HEADS_MAX];
    size_t n_subs;
} s_process_t;

typedef struct {
    const s_cmd_t *cmd;
    uint64_t heartbeat_ns;
    s_process_t procs[PROCESSES];
    bool shown[PROCESSES];
    zsock_t *sub; //  heartbeats, when the broker is shown
} s_status_t;

static bool
s_broker_shown (s_status_t *self)
{
    return self->shown[0];
}

static s_process_t *
s_process (s_status_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < PROCESSES; i++)
        if (strlen (self->procs[i].name) == len && memcmp (self->procs[i].name, name, len) == 0)
            return &self->procs[i];
    return NULL;
}

static bool
s_fresh (s_status_t *self, uint64_t seen_ns, uint64_t now)
{
    return seen_ns > 0 && seen_ns <= now && now - seen_ns < SILENT_HEARTBEATS * self->heartbeat_ns;
}

//  Calls fn for every peers entry about `proc` in the answers of the others.
static void
s_each_peer (s_status_t *self, const s_process_t *proc,
             void (*fn) (void *arg, const msgpack_object *peer), void *arg)
{
    for (size_t i = 0; i < PROCESSES; i++) {
        const s_process_t *other = &self->procs[i];
        if (other == proc || !other->reply)
            continue;
        const msgpack_object *peers = s_array (cli_reply_map (other->reply), "peers");
        for (uint32_t k = 0; peers && k < peers->via.array.size; k++)
            if (cli_str_eq (cli_map_get (&peers->via.array.ptr[k], "name"), proc->name) &&
                peers->via.array.ptr[k].type == MSGPACK_OBJECT_MAP)
                fn (arg, &peers->via.array.ptr[k]);
    }
}

typedef struct {
    uint64_t now;               //  this clock
    const msgpack_object *peer; //  the freshest entry
    uint64_t last_seen_ns;      //  when it was heard, on this clock
} s_freshest_t;

//  A peers entry says when its reporter last heard the process by the
//  reporter's wall clock (last_seen_ns) and how long ago by its monotonic
//  clock (age_ns). Only the age is true whatever either wall clock says.
static void
s_keep_freshest (void *arg, const msgpack_object *peer)
{
    s_freshest_t *freshest = (s_freshest_t *) arg;
    uint64_t seen = 0, age = 0;
    if (s_uint (peer, "age_ns", &age))
        seen = age < freshest->now ? freshest->now - age : 0;
    else if (!s_uint (peer, "last_seen_ns", &seen))
        return;
    if (!freshest->peer || seen > freshest->last_seen_ns) {
        freshest->peer = peer;
        freshest->last_seen_ns = seen;
    }
}

static bool
s_broker_up (s_status_t *self, uint64_t now)
{
    s_process_t *broker = &self->procs[0];
    s_freshest_t freshest = {now, NULL, 0};
    s_each_peer (self, broker, s_keep_freshest, &freshest);
    return s_fresh (self, broker->heard_ns, now) || s_fresh (self, freshest.last_seen_ns, now);
}

static int
s_status_setup (s_status_t *self)
{
    const cli_args_t *args = self->cmd->args;
    self->procs[0].name = BROKER;
    self->procs[0].endpoint = oms_config_str (self->cmd->config, "broker/backend");
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++) {
        s_process_t *proc = &self->procs[1 + i];
        proc->name = oms_service_names[i];
        proc->is_service = true;
        proc->endpoint = oms_config_service (self->cmd->config, proc->name, "api");
    }
    for (size_t i = 0; i < args->n_positional; i++) {
        const char *name = args->positional[i];
        s_process_t *proc = s_process (self, name, strlen (name));
        char shown[64];
        if (!proc)
            return cli_fail ("unknown process: %s (one of broker, order, inventory, payment, "
                             "notification)",
                             cli_printable (name, shown, sizeof shown));
        if (self->shown[proc - self->procs])
            return cli_fail ("process named twice: %s", name);
        self->shown[proc - self->procs] = true;
    }
    if (args->n_positional == 0)
        for (size_t i = 0; i < PROCESSES; i++)
            self->shown[i] = true;
    if (s_broker_shown (self)) {
        char error[256];
        self->sub = zsock_new (ZMQ_SUB);
        if (!self->sub)
            return cli_fail ("cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        zsock_set_linger (self->sub, 0);
        zsock_set_maxmsgsize (self->sub, cli_client_max_bytes ());
        zsock_set_subscribe (self->sub, OMS_HEARTBEAT_PREFIX);
        if (cli_client_curve (self->sub, "broker", error, sizeof error) != 0)
            return cli_fail ("%s", error);
        if (zsock_connect (self->sub, "%s", self->procs[0].endpoint) != 0) {
            snprintf (error, sizeof error, "cannot connect to the broker at %s: %s",
                      self->procs[0].endpoint, zmq_strerror (zmq_errno ()));
            return cli_fail ("%s", error);
        }
    }
    return 0;
}

//  Reads one heartbeat from the bus and remembers it as heard now.
static void
s_status_hear (s_status_t *self)
{
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return;
    static oms_event_t event;
    msgpack_unpacked raw;
    msgpack_unpacked_init (&raw);
    char topic[OMS_NAME_MAX + 1];
    char error[256];
    zframe_t *frame = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    if (zmsg_size (msg) == 2 && zframe_size (frame) < sizeof topic) {
        memcpy (topic, zframe_data (frame), zframe_size (frame));
        topic[zframe_size (frame)] = '\0';
        //  A heartbeat that does not decode is not taken as a sign of life.
        s_process_t *proc = NULL;
        if (cli_event_decode (topic, zframe_data (body), zframe_size (body), &event, &raw, error,
                              sizeof error) == 0)
            proc = s_process (self, event.data.name, strlen (event.data.name));
        if (proc && strcmp (event.producer, proc->name) == 0) {
            proc->heard_ns = oms_clock_wall_ns ();
            snprintf (proc->heard_instance, sizeof proc->heard_instance, "%s", event.data.instance);
            snprintf (proc->heard_version, sizeof proc->heard_version, "%s", event.data.version);
            proc->heard_uptime_ns = event.data.uptime_ns;
            proc->n_heard_heads = event.data.n_heads;
            memcpy (proc->heard_heads, event.data.heads,
                    event.data.n_heads * sizeof event.data.heads[0]);
        }
    }
    msgpack_unpacked_destroy (&raw);
    zmsg_destroy (&msg);
}

static void
s_status_send (s_status_t *self)
{
    oms_request_t req;
    s_request (&req, "status");
    for (size_t i = 1; i < PROCESSES; i++) {
        s_process_t *proc = &self->procs[i];
        if (!self->shown[i])
            continue;
        proc->client = cli_client_new (proc->name, proc->endpoint, proc->error, sizeof proc->error);
        if (proc->client &&
            cli_client_send (proc->client, &req, proc->error, sizeof proc->error) != 0)
            cli_client_destroy (&proc->client);
    }
}

//  Collects the answers until every service answered or the status timeout
//  passed, and heartbeats until the broker is known to be up or it was
//  listened to for LISTEN_HEARTBEATS intervals.
static void
s_status_collect (s_status_t *self)
{
    int timeout_ms =
        self->cmd->timeout_ms < STATUS_TIMEOUT_MS ? self->cmd->timeout_ms : STATUS_TIMEOUT_MS;
    int64_t start = zclock_mono ();
    int64_t answers_by = start + timeout_ms;
    int64_t listen_ms = (int64_t) (LISTEN_HEARTBEATS * (double) self->heartbeat_ns / 1e6);
    int64_t listen_by =
        start + (listen_ms < self->cmd->timeout_ms ? listen_ms : self->cmd->timeout_ms);
    for (;;) {
        zmq_pollitem_t items[PROCESSES + 1];
        s_process_t *waiting[PROCESSES + 1];
        size_t n = 0;
        int64_t now = zclock_mono ();
        for (size_t i = 1; i < PROCESSES && now < answers_by; i++) {
            s_process_t *proc = &self->procs[i];
            if (proc->client && !proc->reply && !proc->error[0]) {
                items[n] = (zmq_pollitem_t){zsock_resolve (cli_client_socket (proc->client)), 0,
                                            ZMQ_POLLIN, 0};
                waiting[n++] = proc;
            }
        }
        size_t n_answers = n;
        bool listening = self->sub && now < listen_by && !s_broker_up (self, oms_clock_wall_ns ());
        if (self->sub && (listening || n_answers > 0))
            items[n++] = (zmq_pollitem_t){zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0};
        if (n_answers == 0 && !listening)
            break;
        int64_t until = n_answers > 0 ? answers_by : 0;
        if (listening && listen_by > until)
            until = listen_by;
        if (zmq_poll (items, (int) n, (long) (until - now)) < 0)
            break;
        for (size_t i = 0; i < n_answers; i++)
            if (items[i].revents & ZMQ_POLLIN)
                cli_client_recv (waiting[i]->client, &waiting[i]->reply, waiting[i]->error,
                                 sizeof waiting[i]->error);
        if (self->sub && n > n_answers && (items[n - 1].revents & ZMQ_POLLIN))
            s_status_hear (self);
    }
    for (size_t i = 1; i < PROCESSES; i++) {
        s_process_t *proc = &self->procs[i];
        if (self->shown[i] && !proc->reply && !proc->error[0])
            snprintf (proc->error, sizeof proc->error, "did not answer within %d ms", timeout_ms);
        //  A refusal of `status` is an answer that says nothing: not up.
        if (proc->reply && !cli_reply_ok (proc->reply)) {
            cli_reply_error (proc->reply, proc->error, sizeof proc->error);
            cli_reply_destroy (&proc->reply);
        }
    }
}

//  Raises *head to what a [{topic, seq}] list says of `topic`.
static void
s_raise_head (const msgpack_object *list, const char *topic, const char *key, s_sub_t *sub)
{
    for (uint32_t i = 0; list && i < list->via.array.size; i++) {
        uint64_t seq = 0;
        if (cli_str_eq (cli_map_get (&list->via.array.ptr[i], "topic"), topic) &&
            s_uint (&list->via.array.ptr[i], key, &seq) && (!sub->has_head || seq > sub->head)) {
            sub->head = seq;
            sub->has_head = true;
        }
    }
}

static void
s_raise_from_peer (void *arg, const msgpack_object *peer)
{
    s_sub_t *sub = (s_sub_t *) arg;
    s_raise_head (s_array (peer, "heads"), sub->topic, "seq", sub);
}

//  The newest head of sub->topic that anyone reports.
static void
s_find_head (s_status_t *self, s_sub_t *sub)
{
    s_process_t *producer = s_process (self, sub->producer, strlen (sub->producer));
    if (!producer)
        return;
    if (producer->reply)
        s_raise_head (s_array (cli_reply_map (producer->reply), "heads"), sub->topic, "seq", sub);
    s_each_peer (self, producer, s_raise_from_peer, sub);
    for (uint32_t i = 0; i < producer->n_heard_heads; i++)
        if (strcmp (producer->heard_heads[i].topic, sub->topic) == 0 &&
            (!sub->has_head || producer->heard_heads[i].seq > sub->head)) {
            sub->head = producer->heard_heads[i].seq;
            sub->has_head = true;
        }
    //  What subscribers have applied or heard of is at most the head too.
    for (size_t i = 1; i < PROCESSES; i++)
        if (self->procs[i].reply) {
            const msgpack_object *positions =
                s_array (cli_reply_map (self->procs[i].reply), "positions");
            s_raise_head (positions, sub->topic, "known", sub);
            s_raise_head (positions, sub->topic, "seq", sub);
        }
    if (sub->has_position && (!sub->has_head || sub->position > sub->head)) {
        sub->head = sub->position;
        sub->has_head = true;
    }
}

//  The subscriptions of a process: from its answer, else its last heartbeat.
static void
s_find_subs (s_status_t *self, s_process_t *proc)
{
    const msgpack_object *positions = NULL;
    if (proc->reply)
        positions = s_array (cli_reply_map (proc->reply), "positions");
    else if (proc->peer)
        positions = s_array (proc->peer, "positions");
    proc->n_subs = 0;
    for (uint32_t i = 0; positions && i < positions->via.array.size; i++) {
        if (proc->n_subs == OMS_HEADS_MAX)
            break;
        const msgpack_object *entry = &positions->via.array.ptr[i];
        s_sub_t *sub = &proc->subs[proc->n_subs];
        memset (sub, 0, sizeof *sub);
        const oms_event_type_t *type = NULL;
        if (s_str (entry, "topic", sub->topic, sizeof sub->topic))
            type = oms_event_type (sub->topic);
        if (!type || !type->owner)
            continue;
        sub->producer = type->owner;
        sub->has_position = s_uint (entry, "seq", &sub->position);
        const msgpack_object *stopped = cli_map_get (entry, "stopped");
        sub->stopped = stopped && stopped->type == MSGPACK_OBJECT_BOOLEAN && stopped->via.boolean;
        s_find_head (self, sub);
        proc->n_subs++;
    }
}

//  The host part of an instance "host:pid".
static void
s_host_of (const char *instance, char *host, size_t size)
{
    const char *colon = strrchr (instance, ':');
    size_t len = colon ? (size_t) (colon - instance) : strlen (instance);
    if (len >= size)
        len = size - 1;
    memcpy (host, instance, len);
    host[len] = '\0';
}

//  Works out what the row of one process says.
static void
s_status_assess (s_status_t *self, s_process_t *proc, uint64_t now)
{
    s_freshest_t freshest = {now, NULL, 0};
    s_each_peer (self, proc, s_keep_freshest, &freshest);
    proc->peer = freshest.peer;
    proc->last_seen_ns =
        freshest.last_seen_ns > proc->heard_ns ? freshest.last_seen_ns : proc->heard_ns;
    //  What it says of itself, else its freshest heartbeat: one the services
    //  remember, or one heard here.
    const msgpack_object *info = proc->reply ? cli_reply_map (proc->reply) : NULL;
    if (!info && proc->peer && freshest.last_seen_ns >= proc->heard_ns)
        info = proc->peer;
    proc->host[0] = proc->instance[0] = proc->version[0] = '\0';
    proc->has_uptime = proc->has_rates = false;
    if (info) {
        s_str (info, "instance", proc->instance, sizeof proc->instance);
        s_str (info, "version", proc->version, sizeof proc->version);
        proc->has_uptime = s_uint (info, "uptime_ns", &proc->uptime_ns);
    }
    else if (proc->heard_ns) {
        snprintf (proc->instance, sizeof proc->instance, "%s", proc->heard_instance);
        snprintf (proc->version, sizeof proc->version, "%s", proc->heard_version);
        proc->uptime_ns = proc->heard_uptime_ns;
        proc->has_uptime = true;
    }
    if (!proc->reply || !s_str (cli_reply_map (proc->reply), "host", proc->host, sizeof proc->host))
        s_host_of (proc->instance, proc->host, sizeof proc->host);
    if (!proc->host[0] && proc->is_service)
        snprintf (proc->host, sizeof proc->host, "%s",
                  oms_config_service (self->cmd->config, proc->name, "host"));
    //  Its wall clock against this one's, from its answer: deadlines and
    //  liveness do not depend on it, but event times and logs do.
    uint64_t its_now = 0;
    proc->clock_skew_ns = 0;
    if (proc->reply && s_uint (cli_reply_map (proc->reply), "now_ns", &its_now)) {
        int64_t skew = (int64_t) (its_now - now);
        if (skew > CLOCK_SKEW_NS || skew < -CLOCK_SKEW_NS)
            proc->clock_skew_ns = skew;
    }
    if (proc->reply) {
        const msgpack_object *rates = cli_map_get (cli_reply_map (proc->reply), "rates");
        proc->has_rates = s_uint (rates, "in_per_s", &proc->in_per_s) &&
                          s_uint (rates, "out_per_s", &proc->out_per_s);
    }
    proc->up = proc->is_service ? proc->reply != NULL : s_broker_up (self, now);
    char age[32];
    if (proc->up)
        snprintf (proc->state, sizeof proc->state, "up");
    else if (proc->last_seen_ns == 0)
        snprintf (proc->state, sizeof proc->state, "down");
    else if (s_fresh (self, proc->last_seen_ns, now))
        //  Its heartbeat is recent, but its api did not answer (busy, or stuck).
        snprintf (proc->state, sizeof proc->state, "no answer");
    else
        snprintf (proc->state, sizeof proc->state, "silent %.24s",
                  s_age (now - proc->last_seen_ns, age, sizeof age));
    if (proc->is_service)
        s_find_subs (self, proc);
    else
        proc->n_subs = 0;
}

static void
s_status_json (s_status_t *self, uint64_t now)
{
    putchar ('[');
    bool first = true;
    for (size_t i = 0; i < PROCESSES; i++) {
        s_process_t *proc = &self->procs[i];
        if (!self->shown[i])
            continue;
        printf ("%s{\"process\": \"%s\"", first ? "" : ", ", proc->name);
        first = false;
        if (proc->is_service)
            printf (", \"service\": \"%s\"", proc->name);
        printf (", \"up\": %s", proc->up ? "true" : "false");
        s_json_key_str ("state", proc->state);
        if (!proc->up && proc->last_seen_ns && now > proc->last_seen_ns)
            printf (", \"silent_s\": %" PRIu64, (now - proc->last_seen_ns) / 1000000000u);
        s_json_key_str ("endpoint", proc->endpoint);
        s_json_key_str ("host", proc->host);
        s_json_key_str ("instance", proc->instance);
        s_json_key_str ("version", proc->version);
        s_json_key_uint ("uptime_ns", proc->has_uptime, proc->uptime_ns);
        s_json_key_uint ("last_seen_ns", proc->last_seen_ns > 0, proc->last_seen_ns);
        if (proc->clock_skew_ns)
            printf (", \"clock_skew_ns\": %" PRId64, proc->clock_skew_ns);
        s_json_key_uint ("in_per_s", proc->has_rates, proc->in_per_s);
        s_json_key_uint ("out_per_s", proc->has_rates, proc->out_per_s);
        printf (", \"subscriptions\": [");
        for (size_t k = 0; k < proc->n_subs; k++) {
            const s_sub_t *sub = &proc->subs[k];
            printf ("%s{\"topic\": \"%s\", \"producer\": \"%s\"", k ? ", " : "", sub->topic,
                    sub->producer);
            s_json_key_uint ("position", sub->has_position, sub->position);
            s_json_key_uint ("head", sub->has_head, sub->head);
            s_json_key_uint ("lag", sub->has_position && sub->has_head, sub->head - sub->position);
            if (sub->stopped)
                printf (", \"stopped\": true");
            putchar ('}');
        }
        putchar (']');
        if (proc->reply) {
            //  The answer's own fields, for scripts that read them.
            static const char *const written[] = {"ok",      "instance",  "host",
                                                  "version", "uptime_ns", NULL};
            const msgpack_object *map = cli_reply_map (proc->reply);
            for (uint32_t k = 0; k < map->via.map.size; k++) {
                const msgpack_object_kv *kv = &map->via.map.ptr[k];
                bool skip = false;
                for (const char *const *key = written; *key && !skip; key++)
                    skip = cli_str_eq (&kv->key, *key);
                if (skip)
                    continue;
                printf (", ");
                cli_json_print_key (stdout, &kv->key);
                printf (": ");
                cli_json_print (stdout, &kv->val);
            }
        }
        else if (proc->is_service)
            s_json_key_str ("error", proc->error);
        putchar ('}');
    }
    printf ("]\n");
}

static void
s_print_count (bool known, uint64_t value, int width)
{
    if (known)
        printf (" %*" PRIu64, width, value);
    else
        printf (" %*s", width, "-");
}

static void
s_status_table (s_status_t *self)
{
    printf ("%-12s %-15s %-12s %6s %6s  %-12s %-20s %9s %9s %7s\n", "PROCESS", "HOST", "STATE",
            "IN/S", "OUT/S", "FROM", "TOPIC", "POSITION", "HEAD", "LAG");
    for (size_t i = 0; i < PROCESSES; i++) {
        s_process_t *proc = &self->procs[i];
        if (!self->shown[i])
            continue;
        printf ("%-12s %-15s %-12s", proc->name, proc->host[0] ? proc->host : "-", proc->state);
        s_print_count (proc->has_rates, proc->in_per_s, 6);
        s_print_count (proc->has_rates, proc->out_per_s, 6);
        for (size_t k = 0; k < proc->n_subs; k++) {
            const s_sub_t *sub = &proc->subs[k];
            if (k > 0)
                printf ("%-12s %-15s %-12s %6s %6s", "", "", "", "", "");
            printf ("  %-12s %-20s", sub->producer, sub->topic);
            s_print_count (sub->has_position, sub->position, 9);
            s_print_count (sub->has_head, sub->head, 9);
            if (sub->stopped)
                printf (" %7s", "STOPPED");
            else
                s_print_count (sub->has_position && sub->has_head, sub->head - sub->position, 7);
            putchar ('\n');
        }
        if (proc->n_subs == 0)
            putchar ('\n');
    }
    char age[32];
    for (size_t i = 0; i < PROCESSES; i++) {
        s_process_t *proc = &self->procs[i];
        int64_t skew = proc->clock_skew_ns;
        if (self->shown[i] && skew)
            printf ("clock skew: %s's clock is %s %s this one's\n", proc->name,
                    s_age ((uint64_t) (skew > 0 ? skew : -skew), age, sizeof age),
                    skew > 0 ? "ahead of" : "behind");
    }
}

//  One look at the cluster; prints it and returns the exit code (0 when
//  every process shown is up).
static int
s_status_round (s_status_t *self)
{
    s_status_send (self);
    s_status_collect (self);
    uint64_t now = oms_clock_wall_ns ();
    int rc = 0;
    for (size_t i = 0; i < PROCESSES; i++)
        s_status_assess (self, &self->procs[i], now);
    for (size_t i = 0; i < PROCESSES; i++)
        if (self->shown[i] && !self->procs[i].up)
            rc = 1;
    if (self->cmd->json)
        s_status_json (self, now);
    else
        s_status_table (self);
    for (size_t i = 0; i < PROCESSES; i++) {
        cli_reply_destroy (&self->procs[i].reply);
        cli_client_destroy (&self->procs[i].client);
        self->procs[i].error[0] = '\0';
        self->procs[i].peer = NULL;
    }
    return rc;
}

//  Waits until `until` (zclock_mono ms), remembering heartbeats meanwhile.
static void
s_status_pause (s_status_t *self, int64_t until)
{
    for (int64_t now = zclock_mono (); now < until && !cli_stop_requested ();
         now = zclock_mono ()) {
        zmq_pollitem_t item = {self->sub ? zsock_resolve (self->sub) : NULL, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, self->sub ? 1 : 0, (long) (until - now));
        if (rc > 0)
            s_status_hear (self);
    }
}

static int
s_status (const s_cmd_t *cmd)
{
    char error[256];
    double every_s = WATCH_DEFAULT_S;
    bool watch = cli_args_has (cmd->args, "--watch");
    const char *every = cli_args_value (cmd->args, "--watch");
    if (every && cli_parse_seconds ("--watch", every, WATCH_MAX_S, &every_s, error, sizeof error))
        return cli_fail ("%s", error);
    if (watch && every_s < WATCH_MIN_S)
        return cli_fail ("--watch must be at least %g seconds", WATCH_MIN_S);
    s_status_t *self = (s_status_t *) zmalloc (sizeof (s_status_t));
    self->cmd = cmd;
    int64_t heartbeat_ms = oms_config_int (cmd->config, "runtime/heartbeat_ms");
    self->heartbeat_ns = (uint64_t) (heartbeat_ms > 0 ? heartbeat_ms : 1) * 1000000u;
    int rc = s_status_setup (self);
    if (rc == 0 && !watch)
        rc = s_status_round (self);
    else if (rc == 0) {
        bool terminal = isatty (STDOUT_FILENO);
        cli_catch_stop_signals ();
        for (int round = 0; !cli_stop_requested (); round++) {
            int64_t next = zclock_mono () + (int64_t) (every_s * 1000);
            if (terminal && !cmd->json)
                printf ("\033[H\033[2J");
            else if (round > 0 && !cmd->json)
                putchar ('\n');
            s_status_round (self);
            fflush (stdout);
            s_status_pause (self, next);
        }
        rc = 0;
    }
    for (size_t i = 0; i < PROCESSES; i++) {
        cli_reply_destroy (&self->procs[i].reply);
        cli_client_destroy (&self->procs[i].client);
    }
    zsock_destroy (&self->sub);
    free (self);
    return rc;
}

// ---------------------------------------------------------------------------
//  metrics

static int
s_metrics (const s_cmd_t *cmd)
{
    if (s_expect (cmd, 1, 1) || s_check_service (s_arg (cmd, 0)))
        return 1;
    oms_request_t req;
    s_request (&req, "metrics");
    cli_reply_t *reply = s_call (cmd, s_arg (cmd, 0), &req);
    if (!reply)
        return 1;
    const char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (cli_map_str (cli_reply_map (reply), "text", &text, &len) != 0)
        rc = s_malformed (s_arg (cmd, 0), "text");
    else if (cmd->json) {
        cli_json_print_map (stdout, cli_reply_map (reply), "ok");
        putchar ('\n');
    }
    else {
        fwrite (text, 1, len, stdout);
        if (len > 0 && text[len - 1] != '\n')
            putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}

// ---------------------------------------------------------------------------
//  dlq

//  Checks the entries of a dlq.list answer before anything is printed.
static int
s_dlq_check (const char *service, const msgpack_object *dead)
{
    if (!dead || dead->type != MSGPACK_OBJECT_ARRAY)
        return s_malformed (service, "dead");
    for (uint32_t i = 0; i < dead->via.array.size; i++) {
        const msgpack_object *entry = &dead->via.array.ptr[i];
        uint64_t value = 0;
        char topic[OMS_NAME_MAX + 1];
        const char *error = NULL;
        size_t len = 0;
        if (!s_uint (entry, "id", &value))
            return s_malformed (service, "dead[].id");
        if (!s_str (entry, "topic", topic, sizeof topic))
            return s_malformed (service, "dead[].topic");
        if (!s_uint (entry, "ts_ns", &value))
            return s_malformed (service, "dead[].ts_ns");
        if (cli_map_str (entry, "error", &error, &len) < 0)
            return s_malformed (service, "dead[].error");
    }
    return 0;
}

static void
s_dlq_table (const msgpack_object *dead)
{
    uint64_t now = oms_clock_wall_ns ();
    printf ("%-8s %-20s %-6s %s\n", "ID", "TOPIC", "AGE", "ERROR");
    for (uint32_t i = 0; i < dead->via.array.size; i++) {
        const msgpack_object *entry = &dead->via.array.ptr[i];
        uint64_t id = 0, ts = 0;
        char topic[OMS_NAME_MAX + 1], age[32];
        const char *error = "";
        size_t len = 0;
        s_uint (entry, "id", &id);
        s_uint (entry, "ts_ns", &ts);
        s_str (entry, "topic", topic, sizeof topic);
        cli_map_str (entry, "error", &error, &len);
        printf ("%-8" PRIu64 " %-20s %-6s ", id, topic,
                s_age (now > ts ? now - ts : 0, age, sizeof age));
        cli_json_print_text (stdout, error, len);
        putchar ('\n');
    }
}

//  The dead letter's event, decoded, after its header; undecodable bodies
//  are shown as they are.
static int
s_dlq_show (const s_cmd_t *cmd, const msgpack_object *map)
{
    const char *service = s_arg (cmd, 1);
    char topic[OMS_NAME_MAX + 1], age[32], why[512];
    const char *error = "";
    size_t error_len = 0;
    uint64_t id = 0, ts = 0;
    const msgpack_object *body = cli_map_get (map, "body");
    if (!s_uint (map, "id", &id))
        return s_malformed (service, "id");
    if (!s_str (map, "topic", topic, sizeof topic))
        return s_malformed (service, "topic");
    if (!body || body->type != MSGPACK_OBJECT_BIN)
        return s_malformed (service, "body");
    if (cli_map_str (map, "error", &error, &error_len) < 0)
        return s_malformed (service, "error");
    s_uint (map, "ts_ns", &ts);
    static oms_event_t event;
    msgpack_unpacked raw;
    msgpack_unpacked_init (&raw);
    int decoded = cli_event_decode (topic, (const uint8_t *) body->via.bin.ptr, body->via.bin.size,
                                    &event, &raw, why, sizeof why);
    if (cmd->json) {
        static const char *const written[] = {"ok", "body", NULL};
        putchar ('{');
        bool first = true;
        for (uint32_t k = 0; k < map->via.map.size; k++) {
            const msgpack_object_kv *kv = &map->via.map.ptr[k];
            bool skip = false;
            for (const char *const *key = written; *key && !skip; key++)
                skip = cli_str_eq (&kv->key, *key);
            if (skip)
                continue;
            printf ("%s", first ? "" : ", ");
            first = false;
            cli_json_print_key (stdout, &kv->key);
            printf (": ");
            cli_json_print (stdout, &kv->val);
        }
        printf (", \"event\": ");
        if (decoded == 0)
            cli_event_print (topic, &event, &raw.data, true);
        else {
            printf ("null");
            s_json_key_str ("decode_error", why);
            printf (", \"body\": ");
            cli_json_print (stdout, body);
        }
        printf ("}\n");
    }
    else {
        uint64_t now = oms_clock_wall_ns ();
        printf ("id=%" PRIu64 " topic=%s age=%s error=\"", id, topic,
                s_age (now > ts ? now - ts : 0, age, sizeof age));
        cli_json_print_text (stdout, error, error_len);
        printf ("\"\n");
        if (decoded == 0)
            cli_event_print (topic, &event, &raw.data, false);
        else {
            printf ("%s; body (base64): ", why);
            cli_json_print (stdout, body);
        }
        putchar ('\n');
    }
    msgpack_unpacked_destroy (&raw);
    return 0;
}

static int
s_dlq (const s_cmd_t *cmd)
{
    char error[256];
    const char *action = cmd->args->n_positional > 0 ? s_arg (cmd, 0) : "";
    bool list = strcmp (action, "list") == 0;
    oms_request_t req;
    if (list) {
        if (s_expect (cmd, 2, 2))
            return 1;
    }
    else if (strcmp (action, "show") == 0 || strcmp (action, "retry") == 0 ||
             strcmp (action, "drop") == 0) {
        if (s_expect (cmd, 3, 3))
            return 1;
    }
    else
        return cli_fail ("usage: oms %s", cmd->synopsis);
    if (s_check_service (s_arg (cmd, 1)))
        return 1;
    char name[OMS_NAME_MAX + 1];
    snprintf (name, sizeof name, "dlq.%s", action);
    s_request (&req, name);
    if (!list) {
        int64_t id = 0;
        if (cli_parse_int ("dead letter id", s_arg (cmd, 2), 1, INT64_MAX, &id, error,
                           sizeof error))
            return cli_fail ("%s", error);
        req.id = (uint64_t) id;
    }
    const char *service = s_arg (cmd, 1);
    cli_reply_t *reply = s_call (cmd, service, &req);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    int rc = 0;
    uint64_t id = 0;
    char topic[OMS_NAME_MAX + 1];
    if (list) {
        const msgpack_object *dead = cli_map_get (map, "dead");
        rc = s_dlq_check (service, dead);
        if (rc == 0 && cmd->json) {
            cli_json_print (stdout, dead);
            putchar ('\n');
        }
        else if (rc == 0)
            s_dlq_table (dead);
    }
    else if (strcmp (action, "show") == 0)
        rc = s_dlq_show (cmd, map);
    else if (!s_uint (map, "id", &id))
        rc = s_malformed (service, "id");
    else if (cmd->json) {
        cli_json_print_map (stdout, map, "ok");
        putchar ('\n');
    }
    else if (strcmp (action, "drop") == 0)
        printf ("%" PRIu64 " dropped\n", id);
    else if (!s_str (map, "topic", topic, sizeof topic))
        rc = s_malformed (service, "topic");
    else
        printf ("%" PRIu64 " %s applied\n", id, topic);
    cli_reply_destroy (&reply);
    return rc;
}

// ---------------------------------------------------------------------------
//  events: a service's outbox, type by type, merged by timestamp

typedef struct {
    char topic[OMS_NAME_MAX + 1];
    uint64_t cursor;              //  the seq of the next event wanted
    cli_reply_t *batch;           //  the last replay answer
    const msgpack_object *bodies; //  its events (borrowed from batch)
    uint32_t next;                //  index in bodies of the next event
    bool drained;                 //  the last replay had nothing new
    bool ready;                   //  event and raw hold the next event
    oms_event_t event;
    msgpack_unpacked raw;
} s_stream_t;

typedef struct {
    const s_cmd_t *cmd;
    const char *service;
    cli_client_t *client;
    bool follow;
    s_stream_t *streams;
    size_t n_streams;
    size_t undecodable;
} s_events_t;

//  Asks for the next batch of one type. 0 (stream->drained when nothing
//  new), 1 no answer yet while following, -1 failed (printed).
static int
s_stream_fetch (s_events_t *self, s_stream_t *stream)
{
    char error[512];
    oms_request_t req;
    s_request (&req, "replay");
    snprintf (req.topic, sizeof req.topic, "%s", stream->topic);
    req.from = stream->cursor;
    req.max = EVENTS_BATCH;
    cli_reply_destroy (&stream->batch);
    stream->bodies = NULL;
    stream->next = 0;
    int rc = cli_client_call (self->client, &req, self->cmd->timeout_ms, 1, &stream->batch, error,
                              sizeof error);
    if (rc == OMS_E_TIMEOUT && self->follow)
        return 1; //  it may be restarting: ask again at the next poll
    if (rc != 0) {
        cli_fail ("%s", error);
        return -1;
    }
    const msgpack_object *map = cli_reply_map (stream->batch);
    uint64_t start = 0;
    if (!cli_reply_ok (stream->batch))
        rc = cli_fail ("%s", cli_reply_error (stream->batch, error, sizeof error));
    else if (!s_uint (map, "start", &start) || (start < stream->cursor))
        rc = s_malformed (self->service, "start");
    else if (!(stream->bodies = s_array (map, "events")))
        rc = s_malformed (self->service, "events");
    if (rc != 0) {
        cli_reply_destroy (&stream->batch);
        stream->bodies = NULL;
        return -1;
    }
    //  Events the producer pruned meanwhile are skipped: start is the
    //  oldest it still had.
    if (stream->bodies->via.array.size > 0)
        stream->cursor = start;
    stream->drained = stream->bodies->via.array.size == 0;
    return 0;
}

//  Makes the next event of a stream ready when there is one. 1 ready,
//  0 none for now, -1 failed.
static int
s_stream_peek (s_events_t *self, s_stream_t *stream)
{
    while (!stream->ready) {
        if (stream->bodies && stream->next < stream->bodies->via.array.size) {
            const msgpack_object *body = &stream->bodies->via.array.ptr[stream->next];
            char error[512];
            msgpack_unpacked_destroy (&stream->raw);
            msgpack_unpacked_init (&stream->raw);
            if (body->type == MSGPACK_OBJECT_BIN &&
                cli_event_decode (stream->topic, (const uint8_t *) body->via.bin.ptr,
                                  body->via.bin.size, &stream->event, &stream->raw, error,
                                  sizeof error) == 0)
                stream->ready = true;
            else {
                if (body->type != MSGPACK_OBJECT_BIN)
                    snprintf (error, sizeof error, "undecodable event on topic %s: not a bin",
                              stream->topic);
                fprintf (stderr, "oms: %s\n", error);
                self->undecodable++;
                stream->next++;
                stream->cursor++;
            }
        }
        else if (stream->drained)
            return 0;
        else {
            int rc = s_stream_fetch (self, stream);
            if (rc != 0)
                return rc > 0 ? 0 : -1;
        }
    }
    return 1;
}

//  Prints events in timestamp order until every type is drained. -1 failed.
static int
s_events_drain (s_events_t *self)
{
    for (;;) {
        s_stream_t *earliest = NULL;
        for (size_t i = 0; i < self->n_streams; i++) {
            s_stream_t *stream = &self->streams[i];
            int rc = s_stream_peek (self, stream);
            if (rc < 0)
                return -1;
            if (rc > 0 && (!earliest || stream->event.ts_ns < earliest->event.ts_ns))
                earliest = stream;
        }
        if (!earliest)
            return 0;
        cli_event_print (earliest->topic, &earliest->event, &earliest->raw.data, self->cmd->json);
        putchar ('\n');
        earliest->ready = false;
        earliest->next++;
        earliest->cursor++;
        if (cli_stop_requested ())
            return 0;
    }
}

//  Picks the types matching --topic from the service's heads and where each
//  starts: --from, or the oldest event it still retains.
static int
s_events_streams (s_events_t *self, const char *prefix, uint64_t from, bool from_given)
{
    oms_request_t req;
    s_request (&req, "status");
    cli_reply_t *reply = s_call (self->cmd, self->service, &req);
    if (!reply)
        return -1;
    const msgpack_object *heads = s_array (cli_reply_map (reply), "heads");
    int rc = heads ? 0 : s_malformed (self->service, "heads");
    size_t n_heads = heads && heads->via.array.size > 0 ? heads->via.array.size : 1;
    self->streams = (s_stream_t *) zmalloc (n_heads * sizeof (s_stream_t));
    for (uint32_t i = 0; rc == 0 && i < heads->via.array.size; i++) {
        const msgpack_object *head = &heads->via.array.ptr[i];
        s_stream_t *stream = &self->streams[self->n_streams];
        uint64_t first = 0, seq = 0;
        if (!s_str (head, "topic", stream->topic, sizeof stream->topic) ||
            !s_uint (head, "first", &first) || !s_uint (head, "seq", &seq)) {
            rc = s_malformed (self->service, "heads");
            break;
        }
        if (strncmp (stream->topic, prefix, strlen (prefix)) != 0)
            continue;
        stream->cursor = from;
        //  first is 0 when nothing is retained; then everything up to the head is gone.
        uint64_t oldest = first > 0 ? first : seq + 1;
        if (from < oldest && seq > 0) {
            if (from_given)
                fprintf (stderr, "oms: %s retains %s from %" PRIu64 " only\n", self->service,
                         stream->topic, oldest);
            stream->cursor = oldest;
        }
        msgpack_unpacked_init (&stream->raw);
        self->n_streams++;
    }
    if (rc == 0 && self->n_streams == 0)
        rc = cli_fail ("%s publishes no topic starting with \"%s\"", self->service, prefix);
    cli_reply_destroy (&reply);
    return rc ? -1 : 0;
}

static int
s_events (const s_cmd_t *cmd)
{
    char error[256];
    const char *from_text = cli_args_value (cmd->args, "--from");
    const char *prefix = cli_args_value (cmd->args, "--topic");
    int64_t from = 1;
    if (s_expect (cmd, 1, 1) || s_check_service (s_arg (cmd, 0)))
        return 1;
    if (from_text && cli_parse_int ("--from", from_text, 1, INT64_MAX, &from, error, sizeof error))
        return cli_fail ("%s", error);
    if (prefix && strlen (prefix) > OMS_NAME_MAX)
        return cli_fail ("topic prefix longer than %d characters", OMS_NAME_MAX);
    s_events_t self = {
        .cmd = cmd, .service = s_arg (cmd, 0), .follow = cli_args_has (cmd->args, "--follow")};
    int rc = 1;
    if (s_events_streams (&self, prefix ? prefix : "", (uint64_t) from, from_text != NULL))
        goto leave;
    self.client = cli_client_new (
        self.service, oms_config_service (cmd->config, self.service, "api"), error, sizeof error);
    if (!self.client) {
        cli_fail ("%s", error);
        goto leave;
    }
    if (self.follow)
        cli_catch_stop_signals ();
    for (;;) {
        if (s_events_drain (&self) < 0)
            goto leave;
        fflush (stdout);
        if (!self.follow || cli_stop_requested ())
            break;
        zmq_poll (NULL, 0, FOLLOW_POLL_MS);
        if (cli_stop_requested ())
            break;
        for (size_t i = 0; i < self.n_streams; i++)
            self.streams[i].drained = false;
    }
    rc = 0;
leave:
    if (self.undecodable > 0)
        fprintf (stderr, "oms: %zu undecodable event%s skipped\n", self.undecodable,
                 self.undecodable == 1 ? "" : "s");
    for (size_t i = 0; i < self.n_streams; i++) {
        msgpack_unpacked_destroy (&self.streams[i].raw);
        cli_reply_destroy (&self.streams[i].batch);
    }
    free (self.streams);
    cli_client_destroy (&self.client);
    return rc;
}

// ---------------------------------------------------------------------------
//  resync

//  The entry of `topic` in a [{topic, ...}] list of a reply; NULL if none.
static const msgpack_object *
s_entry (const msgpack_object *list, const char *topic)
{
    for (uint32_t i = 0; list && i < list->via.array.size; i++)
        if (cli_str_eq (cli_map_get (&list->via.array.ptr[i], "topic"), topic))
            return &list->via.array.ptr[i];
    return NULL;
}

static int
s_resync (const s_cmd_t *cmd)
{
    char error[256], shown[64];
    const char *to_text = cli_args_value (cmd->args, "--to");
    int64_t to = 0;
    if (s_expect (cmd, 2, 2) || s_check_service (s_arg (cmd, 0)))
        return 1;
    const char *service = s_arg (cmd, 0);
    const char *topic = s_arg (cmd, 1);
    const oms_event_type_t *type = oms_event_type (topic);
    if (!type || !type->durable)
        return cli_fail ("not an event type: %s", cli_printable (topic, shown, sizeof shown));
    if (to_text && cli_parse_int ("--to", to_text, 0, INT64_MAX, &to, error, sizeof error))
        return cli_fail ("%s", error);
    const char *producer = type->owner;
    oms_request_t req;
    s_request (&req, "status");
    cli_reply_t *subscriber = s_call (cmd, service, &req);
    cli_reply_t *owner = subscriber ? s_call (cmd, producer, &req) : NULL;
    int rc = 1;
    uint64_t position = 0, first = 0, head = 0;
    if (!owner)
        goto leave;
    const msgpack_object *entry =
        s_entry (s_array (cli_reply_map (subscriber), "positions"), topic);
    const msgpack_object *retained = s_entry (s_array (cli_reply_map (owner), "heads"), topic);
    if (!entry) {
        cli_fail ("%s does not subscribe to %s", service, topic);
        goto leave;
    }
    if (!s_uint (entry, "seq", &position)) {
        s_malformed (service, "positions[].seq");
        goto leave;
    }
    if (!retained || !s_uint (retained, "first", &first) || !s_uint (retained, "seq", &head)) {
        s_malformed (producer, "heads");
        goto leave;
    }
    //  first is 0 when the producer retains nothing: skipping to its head then.
    uint64_t target = to_text ? (uint64_t) to : first > 0 ? first - 1 : head;
    if (target > head) {
        cli_fail ("%s has published %s up to %" PRIu64 " only; %s would ignore what comes next",
                  producer, topic, head, to_text ? "--to" : "resync");
        goto leave;
    }
    if (target < position && to_text) {
        cli_fail ("%s has applied %s up to %" PRIu64 "; going back to %" PRIu64
                  " would apply events again",
                  service, topic, position, target);
        goto leave;
    }
    if (target > position) {
        s_request (&req, "position.set");
        snprintf (req.topic, sizeof req.topic, "%s", topic);
        req.seq = target;
        cli_reply_t *set = s_call (cmd, service, &req);
        if (!set)
            goto leave;
        cli_reply_destroy (&set);
    }
    uint64_t skipped = target > position ? target - position : 0;
    if (cmd->json)
        printf ("{\"service\": \"%s\", \"topic\": \"%s\", \"producer\": \"%s\", \"from\": %" PRIu64
                ", \"to\": %" PRIu64 ", \"skipped\": %" PRIu64 ", \"first\": %" PRIu64
                ", \"head\": %" PRIu64 "}\n",
                service, topic, producer, position, target > position ? target : position, skipped,
                first, head);
    else if (skipped == 0)
        printf ("%s %s: nothing to skip; it has applied up to %" PRIu64 " and %s retains from "
                "%" PRIu64 "\n",
                service, topic, position, producer, first > 0 ? first : head + 1);
    else
        printf ("%s %s: position %" PRIu64 " -> %" PRIu64 ", skipped %" PRIu64 " event%s (%" PRIu64
                "..%" PRIu64 ")\n",
                service, topic, position, target, skipped, skipped == 1 ? "" : "s", position + 1,
                target);
    rc = 0;
leave:
    cli_reply_destroy (&subscriber);
    cli_reply_destroy (&owner);
    return rc;
}

// ---------------------------------------------------------------------------

typedef struct {
    const char *name;
    int (*run) (const s_cmd_t *cmd);
    const char *synopsis;
} s_command_t;

static const s_command_t s_commands[] = {
    {"status", s_status, CLI_STATUS_SYNOPSIS}, {"metrics", s_metrics, CLI_METRICS_SYNOPSIS},
    {"dlq", s_dlq, CLI_DLQ_SYNOPSIS},          {"events", s_events, CLI_EVENTS_SYNOPSIS},
    {"resync", s_resync, CLI_RESYNC_SYNOPSIS},
};

int
cli_ops_run (const char *name, oms_config_t *config, const cli_args_t *args, bool json)
{
    int64_t timeout_ms = oms_config_int (config, "cli/timeout_ms");
    if (timeout_ms > INT_MAX)
        timeout_ms = INT_MAX;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp (s_commands[i].name, name) == 0) {
            s_cmd_t cmd = {config, args, json, timeout_ms < 1 ? 1 : (int) timeout_ms,
                           s_commands[i].synopsis};
            return s_commands[i].run (&cmd);
        }
    return cli_fail ("unknown command: %s", name);
}
