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
s_call_all (cli_trace_t *self, s_call_t *calls, size_t n)
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
s_get_order (cli_trace_t *self, s_call_t *call)
{
    if (call->rc > 0) {
        snprintf (self->error, sizeof self->error, "%s", call->error);
        return -1;
    }
    if (call->rc < 0) {
        s_warn ("%s; the order's status is unknown", call->error);
        return 0;
    }
    const msgpack_object *map = cli_reply_map (call->reply);
    //  Printed as it is: capital letters and '_' only (PENDING, RESERVED...).
    if (cli_map_copy (map, "status", self->status, sizeof self->status) != 0 || !self->status[0] ||
        strspn (self->status, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen (self->status)) {
        self->status[0] = 0;
        snprintf (self->error, sizeof self->error, "order service sent a malformed reply: status");
        return -1;
    }
    if (cli_map_uint (map, "created_ns", &self->created_ns) < 0) {
        snprintf (self->error, sizeof self->error,
                  "order service sent a malformed reply: created_ns");
        return -1;
    }
    return 0;
}

static void
s_unanswered (cli_trace_t *self, const char *service)
{
    self->unanswered[self->n_unanswered++] = service;
}

//  Whether the trace already holds the event `id`.
static bool
s_has (cli_trace_t *self, const char *id)
{
    for (size_t i = 0; i < self->n_events; i++)
        if (strcmp (self->events[i].id, id) == 0)
            return true;
    return false;
}

//  Takes one event body of a service's answer; a body that does not decode,
//  or is not this service's event of this order, is skipped with a warning.
static void
s_take_event (cli_trace_t *self, const char *service, const msgpack_object *body,
              oms_event_t *event)
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
        cli_trace_event_t *taken = &self->events[self->n_events++];
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
s_trace_service (cli_trace_t *self, s_call_t *call, oms_event_t *event)
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

const char *
cli_trace_iso (uint64_t ts_ns, char *buf, size_t size)
{
    time_t seconds = (time_t) (ts_ns / 1000000000u);
    struct tm tm;
    char stamp[32];
    gmtime_r (&seconds, &tm);
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03uZ", stamp, (unsigned) (ts_ns % 1000000000u / 1000000u));
    return buf;
}

const char *
cli_trace_delta (int64_t delta_ns, char *buf, size_t size)
{
    uint64_t magnitude = delta_ns < 0 ? (uint64_t) 0 - (uint64_t) delta_ns : (uint64_t) delta_ns;
    snprintf (buf, size, "%c%" PRIu64 ".%03us", delta_ns < 0 ? '-' : '+', magnitude / 1000000000u,
              (unsigned) (magnitude % 1000000000u / 1000000u));
    return buf;
}

static int64_t
s_since_prev (const cli_trace_event_t *event, const cli_trace_event_t *prev)
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
s_print_json (const cli_trace_t *self)
{
    printf ("{\"order_id\": ");
    s_json_str (self->order_id);
    printf (", \"status\": ");
    s_json_str (self->status);
    printf (", \"events\": [");
    for (size_t k = 0; k < self->n_events; k++) {
        const cli_trace_event_t *event = &self->events[k];
        printf ("%s{\"producer\": ", k ? ", " : "");
        s_json_str (event->producer);
        printf (", \"seq\": %" PRIu64 ", \"topic\": ", event->seq);
        s_json_str (event->type);
        printf (", \"ts_ns\": %" PRIu64 ", \"since_prev_ns\": %" PRId64 ", \"id\": ", event->ts_ns,
                s_since_prev (event, k ? &self->events[k - 1] : NULL));
        s_json_str (event->id);
        printf (", \"causation_id\": ");
        s_json_str (event->causation_id);
        printf ("}");
    }
    printf ("], \"waiting\": ");
    if (self->waiting) {
        printf ("{\"service\": ");
        s_json_str (self->service);
        if (self->since_ns)
            printf (", \"since_ns\": %" PRIu64, self->since_ns);
        else
            printf (", \"since_ns\": null");
        printf (", \"after\": ");
        s_json_str (self->after);
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
s_print_text (const cli_trace_t *self)
{
    char stamp[40], age[32];
    printf ("%s %s, %zu event%s\n", self->order_id,
            self->status[0] ? self->status : "(status unknown)", self->n_events,
            self->n_events == 1 ? "" : "s");
    for (size_t k = 0; k < self->n_events; k++) {
        const cli_trace_event_t *event = &self->events[k];
        char seq[32];
        snprintf (seq, sizeof seq, "seq=%" PRIu64, event->seq);
        char delta[32];
        fputs (cli_trace_delta (s_since_prev (event, k ? &self->events[k - 1] : NULL), delta,
                                sizeof delta),
               stdout);
        printf ("  %-12s  %-9s  %-18s  %s\n", event->producer, seq, event->type,
                cli_trace_iso (event->ts_ns, stamp, sizeof stamp));
    }
    if (!self->waiting)
        return;
    printf ("waiting for %s", self->service);
    if (self->since_ns) {
        uint64_t now = oms_clock_wall_ns ();
        printf (" since %s",
                cli_age (now > self->since_ns ? now - self->since_ns : 0, age, sizeof age));
    }
    printf (" (%s)\n", self->after ? self->after : "its first event is not in the trace");
}

//  Puts the events in causal order and works out what the order waits for.
static int
s_settle (cli_trace_t *self)
{
    size_t n = self->n_events ? self->n_events : 1;
    size_t *order = malloc (n * sizeof *order);
    cli_trace_node_t *nodes = malloc (n * sizeof *nodes);
    const char **types = malloc (n * sizeof *types);
    cli_trace_event_t *sorted = malloc (n * sizeof *sorted);
    int rc = order && nodes && types && sorted ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < self->n_events; i++)
        nodes[i] = (cli_trace_node_t){self->events[i].id, self->events[i].causation_id,
                                      self->events[i].ts_ns};
    if (rc == 0)
        rc = cli_trace_order (nodes, self->n_events, order);
    if (rc == 0) {
        for (size_t k = 0; k < self->n_events; k++)
            sorted[k] = self->events[order[k]];
        free (self->events);
        self->events = sorted;
        sorted = NULL;
        for (size_t k = 0; k < self->n_events; k++)
            types[k] = self->events[k].type;
        size_t since = SIZE_MAX;
        self->waiting =
            cli_trace_waiting (self->status, types, self->n_events, &self->service, &since);
        if (self->waiting && since != SIZE_MAX) {
            self->after = self->events[since].type;
            self->since_ns = self->events[since].ts_ns;
        }
        else if (self->waiting && strcmp (self->service, "inventory") == 0)
            self->since_ns = self->created_ns; //  order.placed is gone: since the order was made
    }
    else
        snprintf (self->error, sizeof self->error, "out of memory");
    free (order);
    free (nodes);
    free (types);
    free (sorted);
    return rc;
}

int
cli_trace_gather (cli_t *cli, const char *order_id, cli_trace_t *self)
{
    memset (self, 0, sizeof *self);
    self->cli = cli;
    snprintf (self->order_id, sizeof self->order_id, "%s", order_id);
    s_call_t calls[CALLS] = {{.service = "order", .cmd = "get"}};
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++)
        calls[1 + i] = (s_call_t){.service = oms_service_names[i], .cmd = "trace"};
    s_call_all (self, calls, CALLS);
    int rc = s_get_order (self, &calls[0]);
    oms_event_t *event = rc == 0 ? malloc (sizeof *event) : NULL;
    if (rc == 0 && !event) {
        snprintf (self->error, sizeof self->error, "out of memory");
        rc = -1;
    }
    for (size_t i = 1; rc == 0 && i < CALLS; i++)
        s_trace_service (self, &calls[i], event);
    free (event);
    for (size_t i = 0; i < CALLS; i++)
        cli_reply_destroy (&calls[i].reply);
    if (rc == 0 && self->n_answered == 0) {
        snprintf (self->error, sizeof self->error, "no service answered: nothing to trace");
        rc = -1;
    }
    else if (rc == 0 && !self->status[0] && self->n_events == 0) {
        snprintf (self->error, sizeof self->error,
                  "nothing is known of order %s: the order service did not answer and no "
                  "other service has events of it",
                  self->order_id);
        rc = -1;
    }
    return rc == 0 ? s_settle (self) : rc;
}

void
cli_trace_release (cli_trace_t *self)
{
    free (self->events);
    self->events = NULL;
    self->n_events = self->max_events = 0;
}

int
cli_cmd_trace (cli_t *self)
{
    char error[256];
    cli_trace_t trace;
    if (cli_expect (self, 1, 1) ||
        cli_check (cli_check_id ("order id", cli_arg (self, 0), OMS_ID_MAX, error, sizeof error),
                   error))
        return 1;
    int rc = cli_trace_gather (self, cli_arg (self, 0), &trace);
    if (rc != 0)
        cli_fail ("%s", trace.error);
    else if (self->json)
        s_print_json (&trace);
    else
        s_print_text (&trace);
    cli_trace_release (&trace);
    return rc ? 1 : 0;
}
