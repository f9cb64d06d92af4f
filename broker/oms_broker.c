/*  oms-broker: the stateless forwarder every event goes through.

    Publishers connect to the XSUB frontend, subscribers to the XPUB backend.
    Events flow down and subscriptions flow up, each as a whole multipart
    message moved frame by frame (zmq_msg_send takes the frame, nothing is
    copied or parsed). The broker keeps no state but counters: when it
    restarts, whatever was in flight is repaired by the services' outboxes
    and replay, so it never needs to remember anything.

    An optional tap (a PUB) gets a copy of every event, for operators and
    tests; subscriptions are not copied to it. The broker also publishes its
    own heartbeat so that operators can see it is alive.

    A cluster may have several brokers (broker/count), all alike and all in
    use at once: every publisher sends each event to every broker and every
    subscriber hears each event from every broker, dropping the copies by
    (producer, seq). `--index I` says which one this process is; its keys
    are broker/ for 0 and brokers/I/ for the others, and its name (in its
    heartbeat and log) is "broker" when it is alone, else "broker.I".
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "oms_clock.h"
#include "oms_config.h"
#include "oms_log.h"
#include "oms_metrics.h"
#include "oms_proto.h"
#include "oms_security.h"

//  The certificate name every broker presents (they share one key pair,
//  so a client needs one server key whichever broker it reaches).
#define BROKER_CERT "broker"

//  Messages moved in one direction before the loop looks at the other
//  direction and the heartbeat clock again, so a flood cannot starve them.
#define BROKER_BATCH 1024

//  Longest zmq_poll wait: a signal that lands between the check of the stop
//  flag and zmq_poll is then still seen within this time.
#define BROKER_POLL_MAX_MS 1000

//  What the broker has moved, for the exit log now and metrics later.
typedef struct {
    uint64_t events;                //  messages frontend → backend
    uint64_t event_bytes;           //  their frames' bytes
    uint64_t subscriptions;         //  messages backend → frontend
    uint64_t subscription_bytes;    //  their frames' bytes
    uint64_t dropped;               //  messages a full or failing socket refused
    uint64_t tapped;                //  event copies sent to the tap
    uint64_t heartbeats;            //  own heartbeats published
    uint64_t subscriptions_refused; //  messages from subscribers that are not a subscription
} broker_counters_t;

typedef struct {
    zsock_t *frontend; //  XSUB: publishers connect here
    zsock_t *backend;  //  XPUB: subscribers connect here
    zsock_t *tap;      //  PUB, or NULL when no tap is configured
    int64_t heartbeat_ms;
    char name[OMS_NAME_MAX + 1];   //  "broker", or "broker.I" of several
    char instance[OMS_ID_MAX + 1]; //  "<hostname>:<pid>"
    uint64_t started_ns;           //  monotonic, for uptime
    uint64_t epoch;                //  no store: a new one at each start
    uint64_t heartbeat_seq;        //  last heartbeat's seq, from 1 per process
    broker_counters_t counters;
    oms_metrics_t *metrics;   //  served over HTTP when broker/metrics is set
    oms_security_t *security; //  CURVE, and who may publish what
} broker_t;

//  Set by SIGINT/SIGTERM; the loop stops when it sees it (zmq_poll also
//  returns EINTR, as the handler is installed without SA_RESTART).
static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

//  Creates a socket with both high-water marks and the largest frame it
//  accepts (max_bytes) set, a CURVE server when security says so, and binds
//  it. Logs the endpoint and the reason on failure.
static zsock_t *
s_socket_bind (int type, const char *role, const char *endpoint, int hwm, int max_bytes,
               oms_security_t *security)
{
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        oms_error ("cannot create %s socket: %s", role, zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_sndhwm (sock, hwm);
    zsock_set_rcvhwm (sock, hwm);
    zsock_set_maxmsgsize (sock, max_bytes);
    if (oms_security_server (security, sock) == -1) {
        zsock_destroy (&sock);
        return NULL;
    }
    if (zmq_bind (zsock_resolve (sock), endpoint) == -1) {
        oms_error ("cannot bind %s=%s: %s", role, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

//  The endpoint a socket really bound, so that a wildcard port is logged
//  as the port peers must use.
static const char *
s_bound_endpoint (zsock_t *sock, char *buf, size_t size)
{
    if (!sock)
        return "-";
    size_t len = size;
    if (zmq_getsockopt (zsock_resolve (sock), ZMQ_LAST_ENDPOINT, buf, &len) == -1)
        return "?";
    return buf;
}

static void
s_destroy (broker_t **self_p)
{
    if (*self_p) {
        broker_t *self = *self_p;
        zsock_destroy (&self->tap);
        zsock_destroy (&self->backend);
        zsock_destroy (&self->frontend);
        oms_security_destroy (&self->security);
        oms_metrics_destroy (&self->metrics);
        free (self);
        *self_p = NULL;
    }
}

//  Binds the broker's sockets as the configuration says. NULL when a bind
//  failed (logged).
static broker_t *
s_new (oms_config_t *cfg, int index)
{
    broker_t *self = (broker_t *) calloc (1, sizeof (broker_t));
    if (!self)
        return NULL;
    oms_config_broker_name (cfg, index, self->name, sizeof self->name);

    //  An empty *_bind means the connect endpoint is also where to bind.
    const char *frontend = oms_config_broker (cfg, index, "frontend_bind");
    if (!*frontend)
        frontend = oms_config_broker (cfg, index, "frontend");
    const char *backend = oms_config_broker (cfg, index, "backend_bind");
    if (!*backend)
        backend = oms_config_broker (cfg, index, "backend");
    const char *tap = oms_config_broker (cfg, index, "tap");
    int64_t hwm = oms_config_int (cfg, "broker/hwm");
    if (hwm < 0 || hwm > INT_MAX) {
        oms_error ("broker/hwm=%" PRId64 " is out of range", hwm);
        s_destroy (&self);
        return NULL;
    }
    self->heartbeat_ms = oms_config_int (cfg, "runtime/heartbeat_ms");
    int max_bytes = (int) oms_config_int (cfg, "limits/max_message_bytes");
    char error[256];
    self->security = oms_security_new (cfg, BROKER_CERT, error, sizeof (error));
    if (!self->security) {
        oms_error ("%s", error);
        s_destroy (&self);
        return NULL;
    }

    self->frontend =
        s_socket_bind (ZMQ_XSUB, "frontend", frontend, (int) hwm, max_bytes, self->security);
    if (self->frontend)
        self->backend =
            s_socket_bind (ZMQ_XPUB, "backend", backend, (int) hwm, max_bytes, self->security);
    if (self->backend && *tap)
        self->tap = s_socket_bind (ZMQ_PUB, "tap", tap, (int) hwm, max_bytes, self->security);
    if (!self->frontend || !self->backend || (*tap && !self->tap)) {
        s_destroy (&self);
        return NULL;
    }

    char host[256] = "";
    if (gethostname (host, sizeof (host)) == -1 || !*host)
        strcpy (host, "localhost");
    host[sizeof (host) - 1] = '\0';
    //  Keep the pid whole: two brokers on one host differ only there.
    char pid[16];
    snprintf (pid, sizeof (pid), "%ld", (long) getpid ());
    int host_max = (int) (sizeof (self->instance) - 2 - strlen (pid));
    snprintf (self->instance, sizeof (self->instance), "%.*s:%s", host_max, host, pid);
    self->started_ns = oms_clock_steady_ns ();
    self->epoch = oms_clock_wall_ns () | 1;
    self->metrics = oms_metrics_new (self->name);
    const char *metrics = oms_config_broker (cfg, index, "metrics");
    if (!self->metrics || (*metrics && oms_metrics_serve (self->metrics, metrics))) {
        s_destroy (&self);
        return NULL;
    }

    char frontend_ep[256], backend_ep[256], tap_ep[256];
    oms_info ("frontend=%s backend=%s tap=%s hwm=%" PRId64 " curve=%s name=%s",
              s_bound_endpoint (self->frontend, frontend_ep, sizeof (frontend_ep)),
              s_bound_endpoint (self->backend, backend_ep, sizeof (backend_ep)),
              s_bound_endpoint (self->tap, tap_ep, sizeof (tap_ep)), hwm,
              oms_security_enabled (self->security) ? "on" : "off", self->name);
    return self;
}

//  Whether the publisher of the event whose topic frame is `frame` owns that
//  topic. With CURVE on, the publisher is the certificate name of the key
//  zauth put in the frame's "User-Id"; anything else is counted, logged at
//  a bounded rate and dropped, so a listed key cannot speak for another
//  process (or, for an operator's key, for any).
static bool
s_may_forward (broker_t *self, zmq_msg_t *frame)
{
    if (!oms_security_enabled (self->security))
        return true;
    const char *user_id = zmq_msg_gets (frame, "User-Id");
    const char *publisher = oms_security_peer (self->security, user_id);
    char topic[OMS_NAME_MAX + 1] = "";
    size_t size = zmq_msg_size (frame);
    if (size <= OMS_NAME_MAX) {
        memcpy (topic, zmq_msg_data (frame), size);
        topic[size] = '\0';
    }
    if (size <= OMS_NAME_MAX && strlen (topic) == size &&
        oms_security_may_publish (publisher, topic))
        return true;
    char shown[OMS_NAME_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < size && n < OMS_NAME_MAX; i++) {
        char c = ((const char *) zmq_msg_data (frame))[i];
        shown[n++] = c >= 0x21 && c <= 0x7e ? c : '?';
    }
    shown[n] = '\0';
    oms_security_refuse (self->security, "dropped topic=%s from %s: not its owner", shown,
                         publisher ? publisher : "an unknown key");
    return false;
}

//  Whether a message from a subscriber, whose first frame is `frame`, is a
//  subscription the frontend may pass on to the publishers: one frame, 1
//  (subscribe) or 0 (unsubscribe), then a prefix no longer than a topic. A
//  longer prefix matches no event, and the frontend's XSUB keeps what it
//  passes on in a trie that libzmq unwinds recursively, a level per byte: a
//  prefix of a few hundred kilobytes subscribed and then unsubscribed would
//  overflow the broker's stack. Anything else is counted and dropped.
static bool
s_may_subscribe (broker_t *self, zmq_msg_t *frame)
{
    size_t size = zmq_msg_size (frame);
    const uint8_t *data = (const uint8_t *) zmq_msg_data (frame);
    if (!zmq_msg_more (frame) && size >= 1 && size <= 1 + OMS_NAME_MAX && data[0] <= 1)
        return true;
    self->counters.subscriptions_refused++;
    oms_debug ("dropped a message of %zu bytes from a subscriber: not a subscription", size);
    return false;
}

//  Reads and discards the rest of a message whose first frame is `frame`.
static int
s_discard (zmq_msg_t *frame, void *source)
{
    while (zmq_msg_more (frame)) {
        if (zmq_msg_recv (frame, source, 0) == -1 && zmq_errno () != EINTR)
            return -1;
    }
    return 0;
}

//  Moves up to BROKER_BATCH whole messages from `from` to `to`, and copies
//  each to `tap` when it is not NULL. Returns 0 when `from` has nothing
//  more to read, -1 when reading failed (EINTR or ETERM: time to stop).
static int
s_forward (broker_t *self, zsock_t *from, zsock_t *to, zsock_t *tap, uint64_t *messages,
           uint64_t *bytes)
{
    void *source = zsock_resolve (from);
    void *sink = zsock_resolve (to);
    void *copy_sink = tap ? zsock_resolve (tap) : NULL;

    for (int count = 0; count < BROKER_BATCH; count++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, source, ZMQ_DONTWAIT) == -1) {
            int error = zmq_errno ();
            zmq_msg_close (&frame);
            return error == EAGAIN ? 0 : -1;
        }
        if ((from == self->frontend && !s_may_forward (self, &frame)) ||
            (from == self->backend && !s_may_subscribe (self, &frame))) {
            int rc = s_discard (&frame, source);
            zmq_msg_close (&frame);
            if (rc == -1)
                return -1;
            continue;
        }
        //  The other frames of a message arrive with its first, so reading
        //  them cannot block; a failed send stops the sending (never a
        //  partial message) but the message is still read to its end.
        bool sending = true;
        bool copying = copy_sink != NULL;
        while (true) {
            bool more = zmq_msg_more (&frame);
            int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
            *bytes += zmq_msg_size (&frame);
            if (copying) {
                zmq_msg_t copy;
                zmq_msg_init (&copy);
                if (zmq_msg_copy (&copy, &frame) == -1 ||
                    zmq_msg_send (&copy, copy_sink, flags) == -1) {
                    zmq_msg_close (&copy);
                    copying = false;
                }
            }
            if (sending && zmq_msg_send (&frame, sink, flags) == -1)
                sending = false;
            zmq_msg_close (&frame);
            if (!more)
                break;
            zmq_msg_init (&frame);
            while (zmq_msg_recv (&frame, source, 0) == -1) {
                if (zmq_errno () != EINTR) {
                    zmq_msg_close (&frame);
                    return -1;
                }
            }
        }
        (*messages)++;
        if (!sending)
            self->counters.dropped++;
        if (copy_sink && copying)
            self->counters.tapped++;
    }
    return 0;
}

//  Sends one two-frame event on a PUB-like socket; 0 or -1.
static int
s_send_event (zsock_t *sock, const char *topic, const msgpack_sbuffer *body)
{
    void *handle = zsock_resolve (sock);
    if (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send (handle, body->data, body->size, ZMQ_DONTWAIT) == -1)
        return -1;
    return 0;
}

//  The counters as metrics, refreshed with every heartbeat.
static void
s_publish_metrics (broker_t *self)
{
    const broker_counters_t *c = &self->counters;
    struct {
        const char *name, *help;
        uint64_t value;
    } totals[] = {
        {"oms_broker_events_total", "events forwarded to subscribers", c->events},
        {"oms_broker_event_bytes_total", "bytes of events forwarded", c->event_bytes},
        {"oms_broker_subscriptions_total", "subscription messages forwarded", c->subscriptions},
        {"oms_broker_dropped_total", "messages a full or failing socket refused", c->dropped},
        {"oms_broker_tapped_total", "event copies sent to the tap", c->tapped},
        {"oms_broker_subscriptions_refused_total",
         "messages from subscribers that are not a subscription", c->subscriptions_refused},
        {"oms_broker_refused_total",
         "events dropped because their publisher does not own the topic",
         oms_security_refused (self->security)},
    };
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
        oms_metrics_total (self->metrics, totals[i].name, totals[i].help, NULL, totals[i].value);
    oms_metrics_set (self->metrics, "oms_uptime_seconds", "seconds since the process started", NULL,
                     (double) (oms_clock_steady_ns () - self->started_ns) / 1e9);
    oms_metrics_publish (self->metrics);
}

//  Publishes heartbeat.<name> to subscribers and the tap. The broker owns
//  no durable events, so its heartbeat carries no heads.
static void
s_send_heartbeat (broker_t *self)
{
    oms_event_t event;
    uint64_t uptime_ns = oms_clock_steady_ns () - self->started_ns;
    oms_event_heartbeat (&event, self->name, self->instance, OMS_VERSION, uptime_ns, NULL, 0, NULL,
                         0);
    event.version = OMS_PROTO_VERSION;
    snprintf (event.producer, sizeof (event.producer), "%s", self->name);
    event.epoch = self->epoch;
    event.seq = ++self->heartbeat_seq;
    //  "broker.7/heartbeat.broker.7/<seq>" always fits an id.
    if (snprintf (event.id, sizeof (event.id), "%s/%s/%" PRIu64, self->name, event.type,
                  event.seq) >= (int) sizeof (event.id))
        return;
    event.ts_ns = oms_clock_wall_ns ();

    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    int rc = oms_event_encode (&event, &body);
    if (rc != OMS_OK)
        oms_error ("cannot encode %s: %s", event.type, oms_strerror (rc));
    else {
        if (s_send_event (self->backend, event.type, &body) == 0)
            self->counters.heartbeats++;
        if (self->tap)
            s_send_event (self->tap, event.type, &body);
        oms_debug ("sent %s seq=%" PRIu64, event.type, event.seq);
    }
    msgpack_sbuffer_destroy (&body);
}

//  Forwards until a signal arrives or the context is terminated. 0 on a
//  clean stop, -1 when polling failed otherwise.
static int
s_run (broker_t *self)
{
    zmq_pollitem_t items[] = {
        {zsock_resolve (self->frontend), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (self->backend), 0, ZMQ_POLLIN, 0},
    };
    broker_counters_t *counters = &self->counters;
    uint64_t interval_ns = self->heartbeat_ms > 0 ? (uint64_t) self->heartbeat_ms * 1000000 : 0;
    uint64_t next_heartbeat = oms_clock_steady_ns () + interval_ns;

    while (!s_interrupted) {
        long timeout = BROKER_POLL_MAX_MS;
        if (interval_ns) {
            uint64_t now = oms_clock_steady_ns ();
            uint64_t wait_ms = next_heartbeat > now ? (next_heartbeat - now + 999999) / 1000000 : 0;
            if (wait_ms < (uint64_t) timeout)
                timeout = (long) wait_ms;
        }
        if (zmq_poll (items, 2, timeout) == -1) {
            if (zmq_errno () == EINTR || zmq_errno () == ETERM)
                break;
            oms_error ("zmq_poll failed: %s", zmq_strerror (zmq_errno ()));
            return -1;
        }
        if ((items[0].revents & ZMQ_POLLIN) &&
            s_forward (self, self->frontend, self->backend, self->tap, &counters->events,
                       &counters->event_bytes) == -1)
            break;
        if ((items[1].revents & ZMQ_POLLIN) &&
            s_forward (self, self->backend, self->frontend, NULL, &counters->subscriptions,
                       &counters->subscription_bytes) == -1)
            break;
        if (interval_ns) {
            uint64_t now = oms_clock_steady_ns ();
            if (now >= next_heartbeat) {
                s_send_heartbeat (self);
                s_publish_metrics (self);
                next_heartbeat += interval_ns;
                //  After a stall, keep the period rather than catch up.
                if (next_heartbeat <= now)
                    next_heartbeat = now + interval_ns;
            }
        }
    }
    return 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: oms-broker [options]\n"
             "Forwards events from publishers (frontend, XSUB) to subscribers (backend, XPUB).\n"
             "  -c, --config FILE     ZPL configuration (default: $OMS_CONFIG, else built-in)\n"
             "      --index I         be broker I of broker/count (default 0); its keys are\n"
             "                        broker/... for 0, brokers/I/... for the others\n"
             "      --frontend EP     bind publishers' endpoint EP (its frontend key)\n"
             "      --backend EP      bind subscribers' endpoint EP (its backend key)\n"
             "      --tap EP          bind a PUB copy of every event at EP (its tap key)\n"
             "      --set KEY=VALUE   override any configuration key\n"
             "  -v, --verbose         log at debug level\n"
             "  -h, --help            this help\n");
}

enum { OPT_FRONTEND = 256, OPT_BACKEND, OPT_TAP, OPT_SET, OPT_INDEX };
static const struct option s_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"index", required_argument, NULL, OPT_INDEX},
    {"frontend", required_argument, NULL, OPT_FRONTEND},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"tap", required_argument, NULL, OPT_TAP},
    {"set", required_argument, NULL, OPT_SET},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

//  One flag that overrides configuration. An endpoint flag means "bind
//  here": it replaces a configured *_bind too, or a file's wildcard bind
//  would win over the flag.
static int
s_set_own (oms_config_t *cfg, int index, const char *key, const char *value, char *error,
           size_t size)
{
    char path[64];
    if (index == 0)
        snprintf (path, sizeof path, "broker/%s", key);
    else
        snprintf (path, sizeof path, "brokers/%d/%s", index, key);
    return oms_config_set (cfg, path, value, error, size);
}

static int
s_apply_flag (oms_config_t *cfg, int index, int opt, const char *value, char *error, size_t size)
{
    switch (opt) {
    case OPT_FRONTEND:
        return s_set_own (cfg, index, "frontend", value, error, size) ||
                       s_set_own (cfg, index, "frontend_bind", value, error, size)
                   ? -1
                   : 0;
    case OPT_BACKEND:
        return s_set_own (cfg, index, "backend", value, error, size) ||
                       s_set_own (cfg, index, "backend_bind", value, error, size)
                   ? -1
                   : 0;
    case OPT_TAP:
        return s_set_own (cfg, index, "tap", value, error, size);
    case OPT_SET:
        return oms_config_set_flag (cfg, value, error, size);
    }
    return 0;
}

//  Loads the configuration, applies the flags in command-line order (after
//  the file and the environment; -v last) and starts the log. NULL after a
//  message on stderr when any of it is invalid.
static oms_config_t *
s_configure (const char *path, int index, int argc, char *argv[], bool verbose)
{
    char error[512] = "";
    oms_config_t *cfg = oms_config_new (path, error, sizeof (error));
    if (!cfg)
        goto fail;
    //  A second pass over the flags the first one checked.
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:vh", s_options, NULL)) != -1)
        if (s_apply_flag (cfg, index, opt, optarg, error, sizeof (error)))
            goto fail;
    if (index >= oms_config_brokers (cfg)) {
        snprintf (error, sizeof (error), "--index %d: the cluster has %d broker%s (broker/count)",
                  index, oms_config_brokers (cfg), oms_config_brokers (cfg) == 1 ? "" : "s");
        goto fail;
    }
    if (verbose && oms_config_set (cfg, "log/level", "debug", error, sizeof (error)) == -1)
        goto fail;
    const char *level = oms_config_str (cfg, "log/level");
    if (oms_log_init ("oms-broker", level) == -1) {
        snprintf (error, sizeof (error), "log/level: unknown level '%s'", level);
        goto fail;
    }
    return cfg;

fail:
    fprintf (stderr, "oms-broker: %s\n", error);
    oms_config_destroy (&cfg);
    return NULL;
}

int
main (int argc, char *argv[])
{
    const char *config_path = NULL;
    bool verbose = false;
    int index = 0;
    int exit_code = 0;
    oms_config_t *cfg = NULL;
    broker_t *broker = NULL;

    int opt;
    while ((opt = getopt_long (argc, argv, "c:vh", s_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_INDEX: {
            char *end = NULL;
            long value = strtol (optarg, &end, 10);
            if (!*optarg || *end || value < 0 || value >= OMS_BROKERS_MAX) {
                fprintf (stderr, "oms-broker: --index: '%s' is not from 0 to %d\n", optarg,
                         OMS_BROKERS_MAX - 1);
                exit_code = 2;
                goto leave;
            }
            index = (int) value;
            break;
        }
        case OPT_FRONTEND:
        case OPT_BACKEND:
        case OPT_TAP:
        case OPT_SET:
            break; //  applied once the configuration is loaded
        case 'v':
            verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            goto leave;
        default:
            //  getopt_long has already named the bad flag.
            fprintf (stderr, "Try 'oms-broker --help'.\n");
            exit_code = 2;
            goto leave;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "oms-broker: unexpected argument '%s'\n", argv[optind]);
        fprintf (stderr, "Try 'oms-broker --help'.\n");
        exit_code = 2;
        goto leave;
    }

    cfg = s_configure (config_path, index, argc, argv, verbose);
    if (!cfg) {
        exit_code = 2;
        goto leave;
    }

    //  czmq would otherwise install its own SIGINT/SIGTERM handlers when its
    //  first socket is made; ours must interrupt zmq_poll instead.
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    broker = s_new (cfg, index);
    if (!broker) {
        exit_code = 1;
        goto leave;
    }
    oms_config_destroy (&cfg);

    if (s_run (broker) == -1)
        exit_code = 1;
    const broker_counters_t *counters = &broker->counters;
    oms_info ("stopped events=%" PRIu64 " event_bytes=%" PRIu64 " subscriptions=%" PRIu64
              " subscription_bytes=%" PRIu64 " dropped=%" PRIu64 " tapped=%" PRIu64
              " heartbeats=%" PRIu64 " refused=%" PRIu64,
              counters->events, counters->event_bytes, counters->subscriptions,
              counters->subscription_bytes, counters->dropped, counters->tapped,
              counters->heartbeats, oms_security_refused (broker->security));

leave:
    s_destroy (&broker);
    oms_config_destroy (&cfg);
    return exit_code;
}
