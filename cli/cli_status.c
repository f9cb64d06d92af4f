/*  cli_status: `oms status`, the health of the broker and the services, and
    `oms metrics`, one service's metrics.

    Health comes from two sources. A service is up when it answers `status`;
    its answer also lists the peers whose heartbeats it has heard, with when
    and what they last said. A broker has no api, so it is judged by its
    heartbeat alone: seen in an answering service's peers, or heard here on
    the brokers' backends. Each broker of broker/count has its own row and
    its own heartbeat (heartbeat.broker, or heartbeat.broker.I of several). A process that is down
   still appears with what its last heartbeat said, so the lag of a stopped subscriber stays
   visible.

    Lag is per subscription: the newest head of the type that anyone reports
    (the producer's own answer, heartbeats, the subscribers' "known") minus
    the subscriber's position.
*/
#include "cli.h"
#include "oms_clock.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>

#define STATUS_TIMEOUT_MS 1000       //  the most `status` waits for the services
#define SILENT_HEARTBEATS 3          //  heartbeat intervals after which a process is silent
#define CLOCK_SKEW_NS     2000000000 //  a clock further off than this is reported
#define LISTEN_HEARTBEATS 1.5        //  how long to listen for the broker's heartbeat
#define WATCH_DEFAULT_S   1.0
#define WATCH_MIN_S       0.1
#define WATCH_MAX_S       3600.0
#define PROCESSES         (OMS_BROKERS_MAX + OMS_SERVICES_COUNT) //  the brokers, then the services

const cli_opt_t cli_status_opts[] = {{"--watch", CLI_VALUE_OPTIONAL, false}, {NULL, false, false}};

//  The fields of a status answer that --json writes itself; the others follow
//  as they are, for scripts that read them.
static const char *const s_written[] = {"ok", "instance", "host", "version", "uptime_ns", NULL};

typedef struct {
    const char *name, *endpoint;
    char broker_name[OMS_NAME_MAX + 1]; //  a broker's name is kept here
    bool is_service, shown;
    cli_client_t *client;
    cli_reply_t *reply; //  its status answer
    char error[256];    //  why there is none
    uint64_t heard_ns;  //  when its own heartbeat was heard here, wall clock; 0 never
    oms_body_t heard;   //  what that heartbeat said (both kept across --watch rounds)
    //  what a row shows, worked out after the round
    const msgpack_object *peer; //  the freshest peers entry about it (borrowed)
    bool up, has_uptime, has_rates;
    uint64_t last_seen_ns; //  on this clock; 0 unknown
    int64_t clock_skew_ns; //  its clock minus this one's, past CLOCK_SKEW_NS; else 0
    char state[32], host[OMS_ID_MAX + 1], instance[OMS_ID_MAX + 1], version[OMS_NAME_MAX + 1];
    uint64_t uptime_ns, in_per_s, out_per_s;
    cli_sub_t subs[OMS_HEADS_MAX];
    size_t n_subs;
} s_process_t;

struct _cli_cluster_t {
    cli_t *cli;
    uint64_t heartbeat_ns;
    s_process_t procs[PROCESSES];
    size_t n_brokers;  //  procs[0 .. n_brokers - 1]
    size_t n_procs;    //  then the services
    zsock_t *sub;      //  heartbeats, when the broker is shown
    cli_event_t event; //  the last one received
};

static s_process_t *
s_process (cli_cluster_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_procs; i++)
        if (strcmp (self->procs[i].name, name) == 0)
            return &self->procs[i];
    return NULL;
}

//  The array `key` of a process's status answer; NULL without an answer.
static const msgpack_object *
s_answer (const s_process_t *proc, const char *key)
{
    return proc->reply ? cli_map_array (cli_reply_map (proc->reply), key) : NULL;
}

static bool
s_fresh (cli_cluster_t *self, uint64_t seen_ns, uint64_t now)
{
    return seen_ns > 0 && seen_ns <= now && now - seen_ns < SILENT_HEARTBEATS * self->heartbeat_ns;
}

static void
s_raise (cli_sub_t *sub, uint64_t seq)
{
    if (!sub->has_head || seq > sub->head) {
        sub->head = seq;
        sub->has_head = true;
    }
}

//  Raises sub's head to what a [{topic, <key>}] list says of its topic.
static void
s_raise_head (const msgpack_object *list, const char *key, cli_sub_t *sub)
{
    for (uint32_t i = 0; list && i < list->via.array.size; i++) {
        uint64_t seq = 0;
        if (cli_str_eq (cli_map_get (&list->via.array.ptr[i], "topic"), sub->topic) &&
            cli_map_uint (&list->via.array.ptr[i], key, &seq) == 0)
            s_raise (sub, seq);
    }
}

//  Goes through the peers entries about `proc` in the others' answers:
//  raises sub's head (unless sub is NULL) to the heads each reports, and
//  returns the freshest entry, with when it was heard (on this clock, `now`)
//  in *seen_ns.
static const msgpack_object *
s_peers (cli_cluster_t *self, const s_process_t *proc, uint64_t now, uint64_t *seen_ns,
         cli_sub_t *sub)
{
    const msgpack_object *freshest = NULL;
    *seen_ns = 0;
    for (size_t i = 0; i < self->n_procs; i++) {
        const msgpack_object *peers =
            &self->procs[i] != proc ? s_answer (&self->procs[i], "peers") : NULL;
        for (uint32_t k = 0; peers && k < peers->via.array.size; k++) {
            const msgpack_object *peer = &peers->via.array.ptr[k];
            uint64_t seen = 0, age = 0;
            if (!cli_str_eq (cli_map_get (peer, "name"), proc->name))
                continue;
            if (sub)
                s_raise_head (cli_map_array (peer, "heads"), "seq", sub);
            //  An entry says when its reporter last heard the process by the
            //  reporter's wall clock (last_seen_ns) and how long ago by its
            //  monotonic clock (age_ns). Only the age is true whatever either
            //  wall clock says.
            if (cli_map_uint (peer, "age_ns", &age) == 0)
                seen = age < now ? now - age : 0;
            else if (cli_map_uint (peer, "last_seen_ns", &seen) != 0)
                continue;
            if (!freshest || seen > *seen_ns) {
                freshest = peer;
                *seen_ns = seen;
            }
        }
    }
    return freshest;
}

static bool
s_broker_up (cli_cluster_t *self, const s_process_t *proc, uint64_t now)
{
    uint64_t seen = 0;
    s_peers (self, proc, now, &seen, NULL);
    return s_fresh (self, proc->heard_ns, now) || s_fresh (self, seen, now);
}

//  Whether every broker shown is known to be up.
static bool
s_brokers_up (cli_cluster_t *self, uint64_t now)
{
    for (size_t i = 0; i < self->n_brokers; i++)
        if (self->procs[i].shown && !s_broker_up (self, &self->procs[i], now))
            return false;
    return true;
}

static int
s_status_setup (cli_cluster_t *self)
{
    const cli_args_t *args = &self->cli->args;
    const char *prefix = OMS_HEARTBEAT_PREFIX;
    char error[256], shown[64];
    self->n_brokers = (size_t) oms_config_brokers (self->cli->config);
    self->n_procs = self->n_brokers + OMS_SERVICES_COUNT;
    for (size_t i = 0; i < self->n_brokers; i++) {
        s_process_t *proc = &self->procs[i];
        proc->name = oms_config_broker_name (self->cli->config, (int) i, proc->broker_name,
                                             sizeof proc->broker_name);
        proc->endpoint = oms_config_broker (self->cli->config, (int) i, "backend");
    }
    for (size_t i = self->n_brokers; i < self->n_procs; i++) {
        self->procs[i].name = oms_service_names[i - self->n_brokers];
        self->procs[i].is_service = true;
        self->procs[i].endpoint =
            oms_config_service (self->cli->config, self->procs[i].name, "api");
    }
    for (size_t i = 0; i < args->n_positional; i++) {
        s_process_t *proc = s_process (self, args->positional[i]);
        if (!proc)
            return cli_fail ("unknown process: %s (one of %s, order, inventory, payment, "
                             "notification)",
                             cli_printable (args->positional[i], shown, sizeof shown),
                             self->n_brokers == 1 ? "broker" : "broker.0, broker.1...");
        if (proc->shown)
            return cli_fail ("process named twice: %s", proc->name);
        proc->shown = true;
    }
    for (size_t i = 0; i < self->n_procs && args->n_positional == 0; i++)
        self->procs[i].shown = true;
    bool broker_shown = false;
    for (size_t i = 0; i < self->n_brokers; i++)
        broker_shown = broker_shown || self->procs[i].shown;
    if (broker_shown && !(self->sub = cli_subscribe (&prefix, 1, 0, error, sizeof error)))
        return cli_fail ("%s", error);
    return 0;
}

//  Reads one heartbeat from the bus and remembers it as heard now. One that
//  does not decode is not taken as a sign of life.
static void
s_status_hear (cli_cluster_t *self)
{
    char error[256];
    const oms_event_t *event = &self->event.event;
    s_process_t *proc = NULL;
    if (cli_event_recv (self->sub, &self->event, error, sizeof error) == 0)
        proc = s_process (self, event->data.name);
    if (proc && strcmp (event->producer, proc->name) == 0) {
        proc->heard_ns = oms_clock_wall_ns ();
        proc->heard = event->data;
    }
    cli_event_release (&self->event);
}

//  Asks every service shown at once, and collects the answers until each
//  answered or the status timeout passed, and heartbeats until the broker is
//  known to be up or it was listened to for LISTEN_HEARTBEATS intervals.
static void
s_status_ask (cli_cluster_t *self)
{
    oms_request_t req;
    int cli_timeout_ms = self->cli->timeout_ms;
    int timeout_ms = cli_timeout_ms < STATUS_TIMEOUT_MS ? cli_timeout_ms : STATUS_TIMEOUT_MS;
    int64_t start = zclock_mono ();
    int64_t answers_by = start + timeout_ms;
    int64_t listen_ms = (int64_t) (LISTEN_HEARTBEATS * (double) self->heartbeat_ns / 1e6);
    int64_t listen_by = start + (listen_ms < cli_timeout_ms ? listen_ms : cli_timeout_ms);
    cli_request_init (&req, "status");
    for (size_t i = self->n_brokers; i < self->n_procs; i++) {
        s_process_t *proc = &self->procs[i];
        if (proc->shown)
            proc->client =
                cli_client_new (proc->name, proc->endpoint, proc->error, sizeof proc->error);
        if (proc->client && cli_client_send (proc->client, &req, proc->error, sizeof proc->error))
            cli_client_destroy (&proc->client);
    }
    for (;;) {
        zmq_pollitem_t items[PROCESSES + 1];
        s_process_t *waiting[PROCESSES + 1];
        size_t n = 0;
        int64_t now = zclock_mono ();
        for (size_t i = self->n_brokers; i < self->n_procs && now < answers_by; i++)
            if (self->procs[i].client && !self->procs[i].reply && !self->procs[i].error[0]) {
                items[n] = (zmq_pollitem_t){
                    zsock_resolve (cli_client_socket (self->procs[i].client)), 0, ZMQ_POLLIN, 0};
                waiting[n++] = &self->procs[i];
            }
        size_t n_answers = n;
        bool listening = self->sub && now < listen_by && !s_brokers_up (self, oms_clock_wall_ns ());
        if (n_answers == 0 && !listening)
            break;
        if (self->sub)
            items[n++] = (zmq_pollitem_t){zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0};
        int64_t until =
            listening && (n_answers == 0 || listen_by > answers_by) ? listen_by : answers_by;
        if (zmq_poll (items, (int) n, (long) (until - now)) < 0)
            break;
        for (size_t i = 0; i < n_answers; i++)
            if (items[i].revents & ZMQ_POLLIN)
                cli_client_recv (waiting[i]->client, &waiting[i]->reply, waiting[i]->error,
                                 sizeof waiting[i]->error);
        if (self->sub && (items[n - 1].revents & ZMQ_POLLIN))
            s_status_hear (self);
    }
    for (size_t i = self->n_brokers; i < self->n_procs; i++) {
        s_process_t *proc = &self->procs[i];
        if (proc->shown && !proc->reply && !proc->error[0])
            snprintf (proc->error, sizeof proc->error, "did not answer within %d ms", timeout_ms);
        //  A refusal of `status` is an answer that says nothing: not up.
        if (proc->reply && !cli_reply_ok (proc->reply)) {
            cli_reply_error (proc->reply, proc->error, sizeof proc->error);
            cli_reply_destroy (&proc->reply);
        }
    }
}

//  The newest head of sub->topic that anyone reports.
static void
s_find_head (cli_cluster_t *self, cli_sub_t *sub)
{
    s_process_t *producer = s_process (self, sub->producer);
    uint64_t seen = 0;
    if (!producer)
        return;
    s_raise_head (s_answer (producer, "heads"), "seq", sub);
    s_peers (self, producer, 0, &seen, sub);
    for (uint32_t i = 0; i < producer->heard.n_heads; i++)
        if (strcmp (producer->heard.heads[i].topic, sub->topic) == 0)
            s_raise (sub, producer->heard.heads[i].seq);
    //  What subscribers have applied or heard of is at most the head too.
    for (size_t i = self->n_brokers; i < self->n_procs; i++) {
        s_raise_head (s_answer (&self->procs[i], "positions"), "known", sub);
        s_raise_head (s_answer (&self->procs[i], "positions"), "seq", sub);
    }
    if (sub->has_position)
        s_raise (sub, sub->position);
}

//  The subscriptions of a service: from its answer, else its last heartbeat.
static void
s_find_subs (cli_cluster_t *self, s_process_t *proc)
{
    const msgpack_object *positions =
        proc->reply ? s_answer (proc, "positions") : cli_map_array (proc->peer, "positions");
    for (uint32_t i = 0; positions && i < positions->via.array.size && proc->n_subs < OMS_HEADS_MAX;
         i++) {
        const msgpack_object *entry = &positions->via.array.ptr[i];
        cli_sub_t *sub = &proc->subs[proc->n_subs];
        const oms_event_type_t *type = NULL;
        memset (sub, 0, sizeof *sub);
        if (cli_map_copy (entry, "topic", sub->topic, sizeof sub->topic) == 0)
            type = oms_event_type (sub->topic);
        if (!type || !type->owner)
            continue;
        sub->producer = type->owner;
        sub->has_position = cli_map_uint (entry, "seq", &sub->position) == 0;
        cli_map_bool (entry, "stopped", &sub->stopped);
        s_find_head (self, sub);
        proc->n_subs++;
    }
}

//  Works out what the row of one process says.
static void
s_status_assess (cli_cluster_t *self, s_process_t *proc, uint64_t now)
{
    const msgpack_object *reply = proc->reply ? cli_reply_map (proc->reply) : NULL;
    uint64_t peer_seen = 0, its_now = 0;
    char age[32];
    proc->peer = s_peers (self, proc, now, &peer_seen, NULL);
    proc->last_seen_ns = peer_seen > proc->heard_ns ? peer_seen : proc->heard_ns;
    //  What it says of itself, else its freshest heartbeat: one the services
    //  remember, or one heard here.
    const msgpack_object *info = reply || peer_seen < proc->heard_ns ? reply : proc->peer;
    proc->host[0] = proc->instance[0] = proc->version[0] = '\0';
    proc->has_uptime = false;
    if (info) {
        cli_map_copy (info, "instance", proc->instance, sizeof proc->instance);
        cli_map_copy (info, "version", proc->version, sizeof proc->version);
        proc->has_uptime = cli_map_uint (info, "uptime_ns", &proc->uptime_ns) == 0;
    }
    else if (proc->heard_ns) {
        snprintf (proc->instance, sizeof proc->instance, "%s", proc->heard.instance);
        snprintf (proc->version, sizeof proc->version, "%s", proc->heard.version);
        proc->uptime_ns = proc->heard.uptime_ns;
        proc->has_uptime = true;
    }
    const char *colon = strrchr (proc->instance, ':'); //  "host:pid"
    if (cli_map_copy (reply, "host", proc->host, sizeof proc->host) != 0)
        snprintf (proc->host, sizeof proc->host, "%.*s",
                  colon ? (int) (colon - proc->instance) : OMS_ID_MAX, proc->instance);
    if (!proc->host[0] && proc->is_service)
        snprintf (proc->host, sizeof proc->host, "%s",
                  oms_config_service (self->cli->config, proc->name, "host"));
    //  Its wall clock against this one's, from its answer: deadlines and
    //  liveness do not depend on it, but event times and logs do.
    int64_t skew = cli_map_uint (reply, "now_ns", &its_now) == 0 ? (int64_t) (its_now - now) : 0;
    proc->clock_skew_ns = skew > CLOCK_SKEW_NS || skew < -CLOCK_SKEW_NS ? skew : 0;
    const msgpack_object *rates = cli_map_get (reply, "rates");
    proc->has_rates = cli_map_uint (rates, "in_per_s", &proc->in_per_s) == 0 &&
                      cli_map_uint (rates, "out_per_s", &proc->out_per_s) == 0;
    proc->up = proc->is_service ? proc->reply != NULL : s_broker_up (self, proc, now);
    //  "no answer": its heartbeat is recent, but its api did not answer (busy,
    //  or stuck).
    const char *state = proc->up                                  ? "up"
                        : proc->last_seen_ns == 0                 ? "down"
                        : s_fresh (self, proc->last_seen_ns, now) ? "no answer"
                                                                  : NULL;
    if (state)
        snprintf (proc->state, sizeof proc->state, "%s", state);
    else
        snprintf (proc->state, sizeof proc->state, "silent %.24s",
                  cli_age (now - proc->last_seen_ns, age, sizeof age));
    proc->n_subs = 0;
    if (proc->is_service)
        s_find_subs (self, proc);
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

static void
s_status_json (cli_cluster_t *self, uint64_t now)
{
    const char *separator = "";
    putchar ('[');
    for (size_t i = 0; i < self->n_procs; i++) {
        s_process_t *proc = &self->procs[i];
        if (!self->procs[i].shown)
            continue;
        printf ("%s{\"process\": \"%s\"", separator, proc->name);
        separator = ", ";
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
            const cli_sub_t *sub = &proc->subs[k];
            printf ("%s{\"topic\": \"%s\", \"producer\": \"%s\"", k ? ", " : "", sub->topic,
                    sub->producer);
            s_json_key_uint ("position", sub->has_position, sub->position);
            s_json_key_uint ("head", sub->has_head, sub->head);
            s_json_key_uint ("lag", sub->has_position && sub->has_head, sub->head - sub->position);
            printf ("%s}", sub->stopped ? ", \"stopped\": true" : "");
        }
        putchar (']');
        if (proc->reply)
            cli_json_print_entries (stdout, cli_reply_map (proc->reply), s_written, true);
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
cli_cluster_table (cli_cluster_t *self)
{
    char age[32];
    printf ("%-12s %-15s %-12s %6s %6s  %-12s %-20s %9s %9s %7s\n", "PROCESS", "HOST", "STATE",
            "IN/S", "OUT/S", "FROM", "TOPIC", "POSITION", "HEAD", "LAG");
    for (size_t i = 0; i < self->n_procs; i++) {
        s_process_t *proc = &self->procs[i];
        if (!self->procs[i].shown)
            continue;
        printf ("%-12s %-15s %-12s", proc->name, proc->host[0] ? proc->host : "-", proc->state);
        s_print_count (proc->has_rates, proc->in_per_s, 6);
        s_print_count (proc->has_rates, proc->out_per_s, 6);
        for (size_t k = 0; k < proc->n_subs; k++) {
            const cli_sub_t *sub = &proc->subs[k];
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
    for (size_t i = 0; i < self->n_procs; i++) {
        int64_t skew = self->procs[i].clock_skew_ns;
        if (self->procs[i].shown && skew)
            printf ("clock skew: %s's clock is %s %s this one's\n", self->procs[i].name,
                    cli_age ((uint64_t) (skew > 0 ? skew : -skew), age, sizeof age),
                    skew > 0 ? "ahead of" : "behind");
    }
}

//  Forgets the answers of the last look; what was heard is kept.
static void
s_status_forget (cli_cluster_t *self)
{
    for (size_t i = 0; i < self->n_procs; i++) {
        cli_reply_destroy (&self->procs[i].reply);
        cli_client_destroy (&self->procs[i].client);
        self->procs[i].error[0] = '\0';
        self->procs[i].peer = NULL;
    }
}

cli_cluster_t *
cli_cluster_new (cli_t *cli)
{
    //  On the heap: a heartbeat heard is kept for each process (oms_body_t).
    cli_cluster_t *self = (cli_cluster_t *) zmalloc (sizeof (cli_cluster_t));
    int64_t heartbeat_ms = oms_config_int (cli->config, "runtime/heartbeat_ms");
    self->cli = cli;
    self->heartbeat_ns = (uint64_t) (heartbeat_ms > 0 ? heartbeat_ms : 1) * 1000000u;
    if (s_status_setup (self))
        cli_cluster_destroy (&self);
    return self;
}

void
cli_cluster_destroy (cli_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_status_forget (*self_p);
    zsock_destroy (&(*self_p)->sub);
    free (*self_p);
    *self_p = NULL;
}

size_t
cli_cluster_look (cli_cluster_t *self)
{
    s_status_forget (self);
    s_status_ask (self);
    uint64_t now = oms_clock_wall_ns ();
    size_t down = 0;
    for (size_t i = 0; i < self->n_procs; i++) {
        s_status_assess (self, &self->procs[i], now);
        down += self->procs[i].shown && !self->procs[i].up;
    }
    return down;
}

bool
cli_cluster_process (cli_cluster_t *self, size_t index, cli_process_t *process)
{
    for (size_t i = 0; i < self->n_procs; i++) {
        const s_process_t *proc = &self->procs[i];
        if (!proc->shown || index-- > 0)
            continue;
        *process = (cli_process_t){proc->name,      proc->state,     proc->host,
                                   proc->up,        proc->has_rates, proc->in_per_s,
                                   proc->out_per_s, proc->subs,      proc->n_subs};
        return true;
    }
    return false;
}

//  Keeps hearing heartbeats until `until` (zclock_mono ms) or a stop signal.
static void
s_status_listen (cli_cluster_t *self, int64_t until)
{
    zmq_pollitem_t item = {self->sub ? zsock_resolve (self->sub) : NULL, 0, ZMQ_POLLIN, 0};
    for (int64_t now = zclock_mono (); now < until && !cli_stop_requested (); now = zclock_mono ())
        if (zmq_poll (&item, self->sub ? 1 : 0, (long) (until - now)) > 0)
            s_status_hear (self);
}

//  One look, printed; 0 when every process shown is up, else 1.
static int
s_status_round (cli_cluster_t *self)
{
    int rc = cli_cluster_look (self) > 0;
    if (self->cli->json)
        s_status_json (self, oms_clock_wall_ns ());
    else
        cli_cluster_table (self);
    return rc;
}

int
cli_cmd_status (cli_t *self)
{
    char error[256];
    double every_s = WATCH_DEFAULT_S;
    bool watch = cli_args_has (&self->args, "--watch");
    const char *every = cli_args_value (&self->args, "--watch");
    if (every &&
        cli_check (cli_parse_seconds ("--watch", every, WATCH_MAX_S, &every_s, error, sizeof error),
                   error))
        return 1;
    if (watch && every_s < WATCH_MIN_S)
        return cli_fail ("--watch must be at least %g seconds", WATCH_MIN_S);
    cli_cluster_t *status = cli_cluster_new (self);
    if (!status)
        return 1;
    int rc = 0;
    if (!watch)
        rc = s_status_round (status);
    else {
        bool terminal = isatty (STDOUT_FILENO);
        cli_catch_stop_signals ();
        for (int round = 0; !cli_stop_requested (); round++) {
            int64_t next = zclock_mono () + (int64_t) (every_s * 1000);
            if (terminal && !self->json)
                printf ("\033[H\033[2J");
            else if (round > 0 && !self->json)
                putchar ('\n');
            s_status_round (status);
            fflush (stdout);
            s_status_listen (status, next);
        }
    }
    cli_cluster_destroy (&status);
    return rc;
}

int
cli_cmd_metrics (cli_t *self)
{
    oms_request_t req;
    const char *text = NULL;
    size_t len = 0;
    if (cli_expect (self, 1, 1) || cli_check_service (cli_arg (self, 0)))
        return 1;
    cli_request_init (&req, "metrics");
    cli_reply_t *reply = cli_call (self, cli_arg (self, 0), &req, 1);
    if (!reply)
        return 1;
    int rc = 0;
    if (cli_map_str (cli_reply_map (reply), "text", &text, &len) != 0)
        rc = cli_malformed (cli_arg (self, 0), "text");
    else if (self->json) {
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
