/*  cli_trace: `oms trace ORDER_ID`, every event about one order from every
    service, in causal order, and what the order waits for if it is still
    in flight.

    It reads the services' stores, not the bus: each service answers
    `trace` from its outbox's per-order index (PROTOCOL.md), so a trace
    is the same before and after restarts. The order service's `get` gives
    the status. The five requests go out at once and share one
    cli/timeout_ms. A service that does not answer costs a warning and its
    events; the trace fails only when no service answered, or when the
    order service says the order does not exist.
*/
#include "cli.h"
#include "cli_trace.h"
#include "oms_clock.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

//  One event of the trace: what is printed of it.
typedef struct {
    char producer[OMS_NAME_MAX + 1];
    char type[OMS_NAME_MAX + 1];
    char id[OMS_ID_MAX + 1];
    char causation_id[OMS_ID_MAX + 1];
    uint64_t seq;
    uint64_t ts_ns;
} s_event_t;

typedef struct {
    cli_t *cli;
    const char *order_id;
    char status[OMS_NAME_MAX + 1]; //  "" when the order service did not answer
    uint64_t created_ns;           //  0 when unknown
    s_event_t *events;
    size_t n_events, max_events;
    const char *unanswered[OMS_SERVICES_COUNT];
    size_t n_unanswered, n_answered;
    bool truncated;
} s_trace_t;

// ---------------------------------------------------------------------------
//  The causal order and the wait

int
cli_trace_order (const cli_trace_node_t *nodes, size_t n, size_t *order)
{
    //  parent[i]: the index of the event i's cause, or SIZE_MAX
    size_t *parent = malloc ((n ? n : 1) * sizeof *parent);
    bool *placed = calloc (n ? n : 1, sizeof *placed);
    if (!parent || !placed) {
        free (parent);
        free (placed);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        parent[i] = SIZE_MAX;
        for (size_t j = 0; j < n && nodes[i].causation_id[0]; j++)
            if (j != i && strcmp (nodes[j].id, nodes[i].causation_id) == 0) {
                parent[i] = j;
                break;
            }
    }
    for (size_t k = 0; k < n; k++) {
        size_t next = SIZE_MAX, any = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (placed[i])
                continue;
            if (any == SIZE_MAX || nodes[i].ts_ns < nodes[any].ts_ns)
                any = i;
            bool free_to_go = parent[i] == SIZE_MAX || placed[parent[i]];
            if (free_to_go && (next == SIZE_MAX || nodes[i].ts_ns < nodes[next].ts_ns))
                next = i;
        }
        //  Nothing free: what is left is a cycle; break it at its earliest.
        if (next == SIZE_MAX)
            next = any;
        placed[next] = true;
        order[k] = next;
    }
    free (parent);
    free (placed);
    return 0;
}

//  The index of the last of `types` equal to `a` or `b`, or SIZE_MAX.
static size_t
s_last (const char *const *types, size_t n, const char *a, const char *b)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp (types[i], a) == 0 || (b && strcmp (types[i], b) == 0))
            return i;
    return SIZE_MAX;
}

bool
cli_trace_waiting (const char *status, const char *const *types, size_t n, const char **service,
                   size_t *since)
{
    if (strcmp (status, "PENDING") != 0 && strcmp (status, "RESERVED") != 0)
        return false;
    size_t paid = s_last (types, n, "payment.completed", "payment.failed");
    size_t rejected = s_last (types, n, "stock.rejected", NULL);
    size_t reserved = s_last (types, n, "stock.reserved", NULL);
    if (paid != SIZE_MAX || rejected != SIZE_MAX) {
        *service = "order";
        *since = paid != SIZE_MAX ? paid : rejected;
    }
    else if (reserved != SIZE_MAX) {
        *service = "payment";
        *since = reserved;
    }
    else {
        *service = "inventory";
        *since = s_last (types, n, "order.placed", NULL);
    }
    return true;
}

// ---------------------------------------------------------------------------
//  Asking the services

//  Prints a warning line; the trace goes on.
static void __attribute__ ((format (printf, 1, 2))) s_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "oms: warning: ");
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

//  One request of the trace and what came of it.
typedef struct {
    const char *service;
    const char *cmd;
    cli_client_t *client;
    bool pending;       //  sent, not answered yet
    cli_reply_t *reply; //  the accepted reply
    int rc;             //  0 accepted; 1 refused; -1 no answer or malformed
    char error[512];    //  why not, when rc is not 0
} s_call_t;

#define CALLS (1 + OMS_SERVICES_COUNT) //  the order's get, then every trace

//  Sends every call at once and waits for the answers, all within one
//  cli/timeout_ms: services that are down cost that once, however many.
static void
s_call_all (s_trace_t *self, s_call_t *calls, size_t n)
{
    assert (n <= CALLS);
    oms_request_t req;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        s_call_t *call = &calls[i];
        const char *endpoint = oms_config_service (self->cli->config, call->service, "api");
        call->rc = -1;
        cli_request_init (&req, call->cmd);
        snprintf (req.order_id, sizeof req.order_id, "%s", self->order_id);
        call->client = cli_client_new (call->service, endpoint, call->error, sizeof call->error);
        if (call->client &&
            cli_client_send (call->client, &req, call->error, sizeof call->error) == 0) {
            snprintf (call->error, sizeof call->error,
                      "%s service at %s did not answer within %d ms", call->service, endpoint,
                      self->cli->timeout_ms);
            call->pending = true;
            pending++;
        }
    }
    int64_t deadline = zclock_mono () + self->cli->timeout_ms;
    while (pending > 0) {
        zmq_pollitem_t items[CALLS];
        s_call_t *polled[CALLS];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (calls[i].pending) {
                void *sock = zsock_resolve (cli_client_socket (calls[i].client));
                items[k] = (zmq_pollitem_t){sock, 0, ZMQ_POLLIN, 0};
                polled[k++] = &calls[i];
            }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        if (zmq_poll (items, (int) k, (long) left) < 0) {
            if (zmq_errno () != EINTR)
                break;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            s_call_t *call = polled[j];
            if (!(items[j].revents & ZMQ_POLLIN))
                continue;
            call->pending = false;
            pending--;
            if (cli_client_recv (call->client, &call->reply, call->error, sizeof call->error))
                call->rc = -1;
            else if (!cli_reply_ok (call->reply)) {
                cli_reply_error (call->reply, call->error, sizeof call->error);
                cli_reply_destroy (&call->reply);
                call->rc = 1;
            }
            else
                call->rc = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        cli_client_destroy (&calls[i].client);
}

//  The order's status from the order service's `get`. 0 (status "" when
//  it did not answer), or 1 failed: the order does not exist, or the reply
//  is malformed.
static int
s_get_order (s_trace_t *self, s_call_t *call)
{
    if (call->rc > 0)
        return cli_fail ("%s", call->error);
    if (call->rc < 0) {
        s_warn ("%s; the order's status is unknown", call->error);
        return 0;
    }
    const msgpack_object *map = cli_reply_map (call->reply);
    //  Printed as it is: capital letters and '_' only (PENDING, RESERVED...).
    if (cli_map_copy (map, "status", self->status, sizeof self->status) != 0 || !self->status[0] ||
        strspn (self->status, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen (self->status)) {
        self->status[0] = 0;
        return cli_malformed ("order", "status");
    }
    if (cli_map_uint (map, "created_ns", &self->created_ns) < 0)
        return cli_malformed ("order", "created_ns");
    return 0;
}

static void
s_unanswered (s_trace_t *self, const char *service)
{
    self->unanswered[self->n_unanswered++] = service;
}

//  Whether the trace already holds the event `id`.
static bool
s_has (s_trace_t *self, const char *id)
{
    for (size_t i = 0; i < self->n_events; i++)
        if (strcmp (self->events[i].id, id) == 0)
            return true;
    return false;
}

//  Takes one event body of a service's answer; a body that does not decode,
//  or is not this service's event of this order, is skipped with a warning.
static void
s_take_event (s_trace_t *self, const char *service, const msgpack_object *body, oms_event_t *event)
{
    char error[512];
    msgpack_unpacked raw;
    msgpack_unpacked_init (&raw);
    int rc = body->type == MSGPACK_OBJECT_BIN
                 ? cli_event_decode (NULL, (const uint8_t *) body->via.bin.ptr, body->via.bin.size,
                                     event, &raw, error, sizeof error)
                 : -1;
    msgpack_unpacked_destroy (&raw);
    if (rc != 0) {
        s_warn ("%s sent an %s; skipped", service,
                body->type == MSGPACK_OBJECT_BIN ? error : "event that is not a bin");
        return;
    }
    if (strcmp (event->producer, service) != 0 || strcmp (event->correlation_id, self->order_id))
        s_warn ("%s sent %s, not its own event of this order; skipped", service, event->id);
    else if (!s_has (self, event->id)) {
        if (self->n_events == self->max_events) {
            self->max_events = self->max_events ? self->max_events * 2 : 32;
            self->events = realloc (self->events, self->max_events * sizeof *self->events);
            assert (self->events);
        }
        s_event_t *taken = &self->events[self->n_events++];
        snprintf (taken->producer, sizeof taken->producer, "%s", event->producer);
        snprintf (taken->type, sizeof taken->type, "%s", event->type);
        snprintf (taken->id, sizeof taken->id, "%s", event->id);
        snprintf (taken->causation_id, sizeof taken->causation_id, "%s", event->causation_id);
        taken->seq = event->seq;
        taken->ts_ns = event->ts_ns;
    }
}

//  Adds what a service stored about the order; a service that does not
//  answer, refuses or answers nonsense is a warning.
static void
s_trace_service (s_trace_t *self, s_call_t *call, oms_event_t *event)
{
    const char *service = call->service;
    if (call->rc != 0) {
        if (call->rc > 0)
            s_warn ("%s service refused: %s; the trace goes on without its events", service,
                    call->error);
        else
            s_warn ("%s; the trace goes on without %s's events", call->error, service);
        s_unanswered (self, service);
        return;
    }
    const msgpack_object *map = cli_reply_map (call->reply);
    const msgpack_object *events = cli_map_array (map, "events");
    bool more = false;
    if (!events || cli_map_bool (map, "more", &more) != 0) {
        s_warn ("%s service sent a malformed reply: %s; the trace goes on without its events",
                service, events ? "more" : "events");
        s_unanswered (self, service);
        return;
    }
    self->n_answered++;
    for (uint32_t i = 0; i < events->via.array.size; i++)
        s_take_event (self, service, &events->via.array.ptr[i], event);
    if (more) {
        s_warn ("%s has more events of this order than one answer holds (%u shown)", service,
                events->via.array.size);
        self->truncated = true;
    }
}

// ---------------------------------------------------------------------------
//  Printing

//  2026-12-04T19:40:01.123Z
static const char *
s_iso (uint64_t ts_ns, char *buf, size_t size)
{
    time_t seconds = (time_t) (ts_ns / 1000000000u);
    struct tm tm;
    char stamp[32];
    gmtime_r (&seconds, &tm);
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03uZ", stamp, (unsigned) (ts_ns % 1000000000u / 1000000u));
    return buf;
}

//  "+0.004s"; negative when clocks of two hosts disagree with causality.
static void
s_print_delta (int64_t delta_ns)
{
    uint64_t size = delta_ns < 0 ? (uint64_t) 0 - (uint64_t) delta_ns : (uint64_t) delta_ns;
    printf ("%c%" PRIu64 ".%03us", delta_ns < 0 ? '-' : '+', size / 1000000000u,
            (unsigned) (size % 1000000000u / 1000000u));
}

static int64_t
s_since_prev (const s_event_t *event, const s_event_t *prev)
{
    return prev ? (int64_t) (event->ts_ns - prev->ts_ns) : 0;
}

static void
s_json_str (const char *text)
{
    if (text && *text)
        cli_json_print_str (stdout, text, strlen (text));
    else
        printf ("null");
}

static void
s_print_json (s_trace_t *self, const size_t *order, bool waiting, const char *service,
              uint64_t since_ns, const char *after)
{
    printf ("{\"order_id\": ");
    s_json_str (self->order_id);
    printf (", \"status\": ");
    s_json_str (self->status);
    printf (", \"events\": [");
    for (size_t k = 0; k < self->n_events; k++) {
        const s_event_t *event = &self->events[order[k]];
        printf ("%s{\"producer\": ", k ? ", " : "");
        s_json_str (event->producer);
        printf (", \"seq\": %" PRIu64 ", \"topic\": ", event->seq);
        s_json_str (event->type);
        printf (", \"ts_ns\": %" PRIu64 ", \"since_prev_ns\": %" PRId64 ", \"id\": ", event->ts_ns,
                s_since_prev (event, k ? &self->events[order[k - 1]] : NULL));
        s_json_str (event->id);
        printf (", \"causation_id\": ");
        s_json_str (event->causation_id);
        printf ("}");
    }
    printf ("], \"waiting\": ");
    if (waiting) {
        printf ("{\"service\": ");
        s_json_str (service);
        if (since_ns)
            printf (", \"since_ns\": %" PRIu64, since_ns);
        else
            printf (", \"since_ns\": null");
        printf (", \"after\": ");
        s_json_str (after);
        printf ("}");
    }
    else
        printf ("null");
    printf (", \"unanswered\": [");
    for (size_t i = 0; i < self->n_unanswered; i++) {
        printf ("%s", i ? ", " : "");
        s_json_str (self->unanswered[i]);
    }
    printf ("], \"truncated\": %s}\n", self->truncated ? "true" : "false");
}

static void
s_print_text (s_trace_t *self, const size_t *order, bool waiting, const char *service,
              uint64_t since_ns, const char *after)
{
    char stamp[40], age[32];
    printf ("%s %s, %zu event%s\n", self->order_id,
            self->status[0] ? self->status : "(status unknown)", self->n_events,
            self->n_events == 1 ? "" : "s");
    for (size_t k = 0; k < self->n_events; k++) {
        const s_event_t *event = &self->events[order[k]];
        char seq[32];
        snprintf (seq, sizeof seq, "seq=%" PRIu64, event->seq);
        s_print_delta (s_since_prev (event, k ? &self->events[order[k - 1]] : NULL));
        printf ("  %-12s  %-9s  %-18s  %s\n", event->producer, seq, event->type,
                s_iso (event->ts_ns, stamp, sizeof stamp));
    }
    if (!waiting)
        return;
    printf ("waiting for %s", service);
    if (since_ns) {
        uint64_t now = oms_clock_wall_ns ();
        printf (" since %s", cli_age (now > since_ns ? now - since_ns : 0, age, sizeof age));
    }
    printf (" (%s)\n", after ? after : "its first event is not in the trace");
}

int
cli_cmd_trace (cli_t *self)
{
    char error[256];
    if (cli_expect (self, 1, 1) ||
        cli_check (cli_check_id ("order id", cli_arg (self, 0), OMS_ID_MAX, error, sizeof error),
                   error))
        return 1;
    s_trace_t trace = {.cli = self, .order_id = cli_arg (self, 0)};
    s_call_t calls[CALLS] = {{.service = "order", .cmd = "get"}};
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++)
        calls[1 + i] = (s_call_t){.service = oms_service_names[i], .cmd = "trace"};
    s_call_all (&trace, calls, CALLS);
    int rc = s_get_order (&trace, &calls[0]);
    oms_event_t *event = rc == 0 ? malloc (sizeof *event) : NULL;
    if (rc == 0 && !event)
        rc = cli_fail ("out of memory");
    for (size_t i = 1; rc == 0 && i < CALLS; i++)
        s_trace_service (&trace, &calls[i], event);
    free (event);
    for (size_t i = 0; i < CALLS; i++)
        cli_reply_destroy (&calls[i].reply);
    if (rc == 0 && trace.n_answered == 0)
        rc = cli_fail ("no service answered: nothing to trace");
    else if (rc == 0 && !trace.status[0] && trace.n_events == 0)
        rc = cli_fail ("nothing is known of order %s: the order service did not answer and no "
                       "other service has events of it",
                       trace.order_id);
    size_t *order = rc == 0 ? malloc ((trace.n_events ? trace.n_events : 1) * sizeof *order) : NULL;
    cli_trace_node_t *nodes =
        rc == 0 ? malloc ((trace.n_events ? trace.n_events : 1) * sizeof *nodes) : NULL;
    const char **types =
        rc == 0 ? malloc ((trace.n_events ? trace.n_events : 1) * sizeof *types) : NULL;
    if (rc == 0 && (!order || !nodes || !types))
        rc = cli_fail ("out of memory");
    for (size_t i = 0; rc == 0 && i < trace.n_events; i++)
        nodes[i] = (cli_trace_node_t){trace.events[i].id, trace.events[i].causation_id,
                                      trace.events[i].ts_ns};
    if (rc == 0 && cli_trace_order (nodes, trace.n_events, order) != 0)
        rc = cli_fail ("out of memory");
    if (rc == 0) {
        for (size_t k = 0; k < trace.n_events; k++)
            types[k] = trace.events[order[k]].type;
        const char *service = NULL, *after = NULL;
        size_t since = SIZE_MAX;
        uint64_t since_ns = 0;
        bool waiting = cli_trace_waiting (trace.status, types, trace.n_events, &service, &since);
        if (waiting && since != SIZE_MAX) {
            after = types[since];
            since_ns = trace.events[order[since]].ts_ns;
        }
        else if (waiting && strcmp (service, "inventory") == 0)
            since_ns = trace.created_ns; //  order.placed is gone: since the order was made
        if (self->json)
            s_print_json (&trace, order, waiting, service, since_ns, after);
        else
            s_print_text (&trace, order, waiting, service, since_ns, after);
    }
    free (order);
    free (nodes);
    free (types);
    free (trace.events);
    return rc;
}
