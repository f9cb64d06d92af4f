/*  cli_events: `oms wait` and `oms tail`.

    Both subscribe before they look at anything else, so an event published
    while the command starts is not missed. `wait` does not trust events
    alone: a subscription takes a moment to reach the broker and events can
    be lost, so the order's status is also polled with `get`; an event only
    makes the next poll come sooner.
*/
#include "cli_tail.h"
#include "cli_args.h"
#include "cli_client.h"
#include "cli_json.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <czmq.h>

#define WAIT_POLL_MS 250

//  Waits up to `timeout_ms` (-1: forever) for the socket to be readable.
//  1 readable, 0 not (timeout or a signal).
static int
s_poll (zsock_t *sock, int64_t timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
    return zmq_poll (&item, 1, (long) timeout_ms) > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------
//  wait

typedef struct {
    oms_config_t *config;
    cli_client_t *client;
    const char *order_id;
    int timeout_ms;
    bool json;
    char status[OMS_NAME_MAX + 1]; //  last status seen, "" before the first answer
    char error[512];               //  last failure to get an answer
} s_wait_t;

static bool
s_is_terminal (const char *status)
{
    return strcmp (status, "CONFIRMED") == 0 || strcmp (status, "CANCELLED") == 0;
}

static void
s_print_wait_result (s_wait_t *self, const msgpack_object *order)
{
    const msgpack_object *reason = cli_map_get (order, "reason");
    bool has_reason = reason && reason->type == MSGPACK_OBJECT_STR && reason->via.str.size > 0;
    if (self->json) {
        printf ("{\"order_id\": ");
        cli_json_print_str (stdout, self->order_id, strlen (self->order_id));
        printf (", \"status\": \"%s\"", self->status);
        if (has_reason) {
            printf (", \"reason\": ");
            cli_json_print (stdout, reason);
        }
        printf ("}\n");
    }
    else
        printf ("%s\n", self->status);
}

//  Asks for the order once. 1 terminal (printed), 0 not yet or no answer,
//  -1 a failure that waiting will not cure (message in self->error).
static int
s_wait_get (s_wait_t *self, int64_t timeout_ms)
{
    oms_request_t req = {0};
    snprintf (req.cmd, sizeof req.cmd, "get");
    snprintf (req.order_id, sizeof req.order_id, "%s", self->order_id);
    cli_reply_t *reply = NULL;
    int rc = cli_client_call (self->client, &req, (int) timeout_ms, 1, &reply, self->error,
                              sizeof self->error);
    if (rc == OMS_E_TIMEOUT)
        return 0; //  the service may be restarting: keep trying until the deadline
    if (rc != 0)
        return -1;
    const msgpack_object *order = cli_reply_map (reply);
    const char *status = NULL;
    size_t len = 0;
    int result = 0;
    if (!cli_reply_ok (reply)) {
        cli_reply_error (reply, self->error, sizeof self->error);
        result = -1;
    }
    else if (cli_map_str (order, "status", &status, &len) != 0 || len == 0 ||
             len >= sizeof self->status) {
        snprintf (self->error, sizeof self->error,
                  "order service sent a malformed reply: status missing or invalid");
        result = -1;
    }
    else {
        memcpy (self->status, status, len);
        self->status[len] = '\0';
        self->error[0] = '\0';
        if (s_is_terminal (self->status)) {
            s_print_wait_result (self, order);
            result = 1;
        }
    }
    cli_reply_destroy (&reply);
    return result;
}

static bool
s_event_names_order (zsock_t *sub, const char *order_id)
{
    cli_event_t received = {0};
    char error[256];
    bool match = cli_event_recv (sub, &received, error, sizeof error) == 0 &&
                 strcmp (received.event.data.order_id, order_id) == 0;
    cli_event_release (&received);
    return match;
}

static int
s_wait_loop (s_wait_t *self, zsock_t *sub, int64_t deadline)
{
    int64_t next_get = zclock_mono ();
    for (;;) {
        int64_t now = zclock_mono ();
        if (now >= next_get) {
            //  Each get waits for the smaller of the configured timeout and
            //  the time left, but long enough for a live service to answer.
            int64_t left = deadline - now;
            int64_t budget = left < self->timeout_ms ? left : self->timeout_ms;
            int rc = s_wait_get (self, budget > WAIT_POLL_MS ? budget : WAIT_POLL_MS);
            if (rc != 0)
                return rc > 0 ? 0 : -1;
            now = zclock_mono ();
            next_get = now + WAIT_POLL_MS;
        }
        if (now >= deadline)
            return 1;
        int64_t until = next_get < deadline ? next_get : deadline;
        if (s_poll (sub, until - now) && s_event_names_order (sub, self->order_id))
            next_get = zclock_mono ();
    }
}

int
cli_wait (oms_config_t *config, const char *order_id, double timeout_s, bool json)
{
    s_wait_t self = {.config = config, .order_id = order_id, .json = json};
    self.timeout_ms = (int) oms_config_int (config, "cli/timeout_ms");
    static const char *const topics[] = {"order.confirmed", "order.cancelled"};
    char error[512];
    int exit_code = 1;
    zsock_t *sub = cli_subscribe (topics, 2, 0, error, sizeof error);
    if (!sub) {
        fprintf (stderr, "oms: %s\n", error);
        return 1;
    }
    self.client =
        cli_client_new ("order", oms_config_service (config, "order", "api"), error, sizeof error);
    if (!self.client) {
        fprintf (stderr, "oms: %s\n", error);
        goto leave;
    }
    int rc = s_wait_loop (&self, sub, zclock_mono () + (int64_t) (timeout_s * 1000));
    if (rc == 0)
        exit_code = strcmp (self.status, "CONFIRMED") == 0 ? 0 : 2;
    else if (rc < 0 || self.status[0] == '\0')
        fprintf (stderr, "oms: %s\n", self.error);
    else {
        char shown[64];
        fprintf (stderr, "oms: order %s is still %s after %g s\n", order_id,
                 cli_printable (self.status, shown, sizeof shown), timeout_s);
    }
leave:
    cli_client_destroy (&self.client);
    zsock_destroy (&sub);
    return exit_code;
}

// ---------------------------------------------------------------------------
//  tail

//  Prints one ready message. 1 printed, 0 nothing to print, -1 undecodable.
static int
s_tail_one (zsock_t *sub, bool json)
{
    cli_event_t received = {0};
    char error[512];
    int rc = cli_event_recv (sub, &received, error, sizeof error);
    int result = 0;
    if (rc < 0) {
        fprintf (stderr, "oms: %s\n", error);
        result = -1;
    }
    else if (rc == 0) {
        cli_event_print (received.topic, &received.event, &received.raw.data, json);
        putchar ('\n');
        fflush (stdout);
        result = 1;
    }
    cli_event_release (&received);
    return result;
}

int
cli_tail (oms_config_t *config, const char *const *prefixes, size_t n_prefixes, int64_t count,
          double timeout_s, bool json)
{
    char error[512];
    (void) config;
    zsock_t *sub = cli_subscribe (prefixes, n_prefixes, 0, error, sizeof error);
    if (!sub) {
        fprintf (stderr, "oms: %s\n", error);
        return 1;
    }
    //  After the first socket, so that these replace czmq's own handlers.
    cli_catch_stop_signals ();
    int64_t deadline = timeout_s < 0 ? -1 : zclock_mono () + (int64_t) (timeout_s * 1000);
    int64_t printed = 0;
    size_t undecodable = 0;
    while (!cli_stop_requested () && (count == 0 || printed < count)) {
        int64_t wait = -1;
        if (deadline >= 0) {
            wait = deadline - zclock_mono ();
            if (wait <= 0)
                break;
        }
        if (!s_poll (sub, wait))
            continue;
        int rc = s_tail_one (sub, json);
        if (rc > 0)
            printed++;
        else if (rc < 0)
            undecodable++;
    }
    if (undecodable > 0)
        fprintf (stderr, "oms: %zu undecodable message%s skipped\n", undecodable,
                 undecodable == 1 ? "" : "s");
    zsock_destroy (&sub);
    return 0;
}
