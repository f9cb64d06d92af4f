/*  cli_orders: `oms place`, `get`, `wait`, `cancel` and `orders`.

    `place` sends one request id on every attempt, so a retry after a lost
    reply is answered with the order already placed, never a second one.
    `wait` subscribes before it asks anything, so an event published while
    it starts is not missed; it does not trust events alone (a subscription
    takes a moment to reach the broker, and events can be lost), so it also
    polls the order with `get`; an event only makes the next poll sooner.
    `orders` is one orders.list request: the order service walks its
    indexes (newest first) and answers a page and a token for the next.
*/
#include "cli.h"

#include <inttypes.h>
#include <string.h>
#include <czmq.h>

#define PLACE_ATTEMPTS 3
#define WAIT_DEFAULT_S 30
#define WAIT_POLL_MS   250
#define SECONDS_MAX    (7 * 24 * 3600.0)

const cli_opt_t cli_place_opts[] = {{"--customer", true, false},   {"--item", true, true},
                                    {"--pay", true, false},        {"--card", true, false},
                                    {"--request-id", true, false}, {NULL, false, false}};
const cli_opt_t cli_wait_opts[] = {{"--timeout", true, false}, {NULL, false, false}};
const cli_opt_t cli_orders_opts[] = {{"--status", true, false}, {"--customer", true, false},
                                     {"--since", true, false},  {"--older-than", true, false},
                                     {"--limit", true, false},  {"--page", true, false},
                                     {NULL, false, false}};

//  Copies a checked value into a request field of `size` bytes.
static int
s_take (int rc, const char *error, char *field, size_t size, const char *value)
{
    if (cli_check (rc, error))
        return 1;
    snprintf (field, size, "%s", value);
    return 0;
}

static int
s_place_request (cli_t *self, oms_request_t *req)
{
    char error[256];
    const char *customer = cli_args_value (&self->args, "--customer");
    const char *method = cli_args_value (&self->args, "--pay");
    const char *card = cli_args_value (&self->args, "--card");
    const char *request_id = cli_args_value (&self->args, "--request-id");
    const char *items[OMS_ITEMS_MAX];
    size_t n_items = cli_args_values (&self->args, "--item", items, OMS_ITEMS_MAX);
    cli_request_init (req, "place");
    if (!customer)
        return cli_fail ("--customer is required");
    if (s_take (cli_check_id ("customer", customer, OMS_ID_MAX, error, sizeof error), error,
                req->customer, sizeof req->customer, customer) ||
        cli_check (cli_parse_items (items, n_items, req->items, &req->n_items, error, sizeof error),
                   error))
        return 1;
    if (!method)
        return cli_fail ("--pay METHOD is required");
    if (s_take (cli_check_method (method, error, sizeof error), error, req->method,
                sizeof req->method, method))
        return 1;
    bool by_card = strcmp (method, "card") == 0;
    if (card && !by_card)
        return cli_fail ("--card is only for --pay card");
    if (by_card && !card)
        return cli_fail ("--pay card needs --card NUMBER");
    if (card && s_take (cli_check_card (card, error, sizeof error), error, req->card,
                        sizeof req->card, card))
        return 1;
    if (request_id)
        return s_take (cli_check_id ("request id", request_id, OMS_ID_MAX, error, sizeof error),
                       error, req->request_id, sizeof req->request_id, request_id);
    zuuid_t *uuid = zuuid_new ();
    snprintf (req->request_id, sizeof req->request_id, "%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    return 0;
}

//  Whether `key` of a reply is a string (a non-empty one when `filled`).
static bool
s_is_str (const msgpack_object *map, const char *key, bool filled)
{
    const msgpack_object *value = cli_map_get (map, key);
    return value && value->type == MSGPACK_OBJECT_STR && (!filled || value->via.str.size > 0);
}

int
cli_cmd_place (cli_t *self)
{
    oms_request_t req;
    if (cli_expect (self, 0, 0) || s_place_request (self, &req))
        return 1;
    cli_reply_t *reply = cli_call (self, "order", &req, PLACE_ATTEMPTS);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    int rc = 0;
    if (!s_is_str (map, "order_id", true))
        rc = cli_malformed ("order", "order_id");
    else if (self->json) {
        printf ("{\"order_id\": ");
        cli_json_print (stdout, cli_map_get (map, "order_id"));
        printf ("}\n");
    }
    else {
        cli_text_print (stdout, cli_map_get (map, "order_id"));
        putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}

//  ORDER_ID, the one positional argument, into a request for `cmd`.
static int
s_order_request (cli_t *self, oms_request_t *req, const char *cmd)
{
    char error[256];
    cli_request_init (req, cmd);
    return cli_expect (self, 1, 1) ||
           s_take (cli_check_id ("order id", cli_arg (self, 0), OMS_ID_MAX, error, sizeof error),
                   error, req->order_id, sizeof req->order_id, cli_arg (self, 0));
}

//  Whether `items` is absent or an array of {sku: str, qty: int}.
static bool
s_items_valid (const msgpack_object *items)
{
    if (!items)
        return true;
    if (items->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        int64_t qty = 0;
        if (!s_is_str (&items->via.array.ptr[i], "sku", false) ||
            cli_map_int (&items->via.array.ptr[i], "qty", &qty) != 0)
            return false;
    }
    return true;
}

//  o-17 CONFIRMED customer=c1 total_cents=1998 items=SKU-1:2,SKU-2:1 [reason="..."]
static int
s_print_order (const msgpack_object *order)
{
    const msgpack_object *items = cli_map_get (order, "items");
    const msgpack_object *reason = cli_map_get (order, "reason");
    int64_t total = 0;
    if (!s_is_str (order, "order_id", false))
        return cli_malformed ("order", "order_id");
    if (!s_is_str (order, "customer", false))
        return cli_malformed ("order", "customer");
    if (cli_map_int (order, "total_cents", &total) < 0)
        return cli_malformed ("order", "total_cents");
    if (!s_items_valid (items))
        return cli_malformed ("order", "items");
    if (reason && reason->type != MSGPACK_OBJECT_STR)
        return cli_malformed ("order", "reason");
    cli_text_print (stdout, cli_map_get (order, "order_id"));
    putchar (' ');
    cli_text_print (stdout, cli_map_get (order, "status"));
    printf (" customer=");
    cli_text_print (stdout, cli_map_get (order, "customer"));
    printf (" total_cents=%" PRId64 " items=", total);
    for (uint32_t i = 0; items && i < items->via.array.size; i++) {
        int64_t qty = 0;
        cli_map_int (&items->via.array.ptr[i], "qty", &qty);
        if (i > 0)
            putchar (',');
        cli_text_print (stdout, cli_map_get (&items->via.array.ptr[i], "sku"));
        printf (":%" PRId64, qty);
    }
    if (reason && reason->via.str.size > 0) {
        printf (" reason=");
        cli_json_print (stdout, reason);
    }
    putchar ('\n');
    return 0;
}

//  get and cancel: the order's answer, as JSON or as their human line.
static int
s_order_command (cli_t *self, const char *cmd, bool whole)
{
    oms_request_t req;
    if (s_order_request (self, &req, cmd))
        return 1;
    cli_reply_t *reply = cli_call (self, "order", &req, 1);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    int rc = 0;
    if (!whole && !s_is_str (map, "order_id", false))
        rc = cli_malformed ("order", "order_id");
    else if (!s_is_str (map, "status", false))
        rc = cli_malformed ("order", "status");
    else if (self->json) {
        cli_json_print_map (stdout, map, "ok");
        putchar ('\n');
    }
    else if (whole)
        rc = s_print_order (map);
    else {
        cli_text_print (stdout, cli_map_get (map, "order_id"));
        putchar (' ');
        cli_text_print (stdout, cli_map_get (map, "status"));
        putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}

int
cli_cmd_get (cli_t *self)
{
    return s_order_command (self, "get", true);
}

int
cli_cmd_cancel (cli_t *self)
{
    return s_order_command (self, "cancel", false);
}

// ---------------------------------------------------------------------------
//  wait

typedef struct {
    cli_t *cli;
    cli_client_t *client;
    oms_request_t req;             //  get ORDER_ID
    char status[OMS_NAME_MAX + 1]; //  last status seen, "" before the first answer
    char error[512];               //  last failure to get an answer
} s_wait_t;

static void
s_print_wait_result (s_wait_t *self, const msgpack_object *order)
{
    const msgpack_object *reason = cli_map_get (order, "reason");
    if (!self->cli->json) {
        printf ("%s\n", self->status);
        return;
    }
    printf ("{\"order_id\": ");
    cli_json_print_str (stdout, self->req.order_id, strlen (self->req.order_id));
    printf (", \"status\": \"%s\"", self->status);
    if (s_is_str (order, "reason", true)) {
        printf (", \"reason\": ");
        cli_json_print (stdout, reason);
    }
    printf ("}\n");
}

//  Asks for the order once. 1 terminal (printed), 0 not yet or no answer,
//  -1 a failure that waiting will not cure (message in self->error).
static int
s_wait_get (s_wait_t *self, int64_t timeout_ms)
{
    cli_reply_t *reply = NULL;
    int rc = cli_client_call (self->client, &self->req, (int) timeout_ms, 1, &reply, self->error,
                              sizeof self->error);
    if (rc == OMS_E_TIMEOUT)
        return 0; //  the service may be restarting: keep trying until the deadline
    if (rc != 0)
        return -1;
    const msgpack_object *order = cli_reply_map (reply);
    const char *status = NULL;
    size_t len = 0;
    int result = -1;
    if (!cli_reply_ok (reply))
        cli_reply_error (reply, self->error, sizeof self->error);
    else if (cli_map_str (order, "status", &status, &len) != 0 || len == 0 ||
             len >= sizeof self->status)
        snprintf (self->error, sizeof self->error,
                  "order service sent a malformed reply: status missing or invalid");
    else {
        memcpy (self->status, status, len);
        self->status[len] = '\0';
        self->error[0] = '\0';
        result = strcmp (self->status, "CONFIRMED") == 0 || strcmp (self->status, "CANCELLED") == 0;
        if (result)
            s_print_wait_result (self, order);
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

//  0 terminal, 1 still not at the deadline, -1 failed.
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
            int64_t budget = left < self->cli->timeout_ms ? left : self->cli->timeout_ms;
            int rc = s_wait_get (self, budget > WAIT_POLL_MS ? budget : WAIT_POLL_MS);
            if (rc != 0)
                return rc > 0 ? 0 : -1;
            now = zclock_mono ();
            next_get = now + WAIT_POLL_MS;
        }
        if (now >= deadline)
            return 1;
        int64_t until = next_get < deadline ? next_get : deadline;
        if (cli_poll (sub, until - now) && s_event_names_order (sub, self->req.order_id))
            next_get = zclock_mono ();
    }
}

int
cli_cmd_wait (cli_t *self)
{
    static const char *const topics[] = {"order.confirmed", "order.cancelled"};
    char error[512];
    double timeout_s = WAIT_DEFAULT_S;
    const char *timeout = cli_args_value (&self->args, "--timeout");
    s_wait_t wait = {.cli = self};
    if (s_order_request (self, &wait.req, "get"))
        return 1;
    if (timeout && cli_check (cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &timeout_s,
                                                 error, sizeof error),
                              error))
        return 1;
    zsock_t *sub = cli_subscribe (topics, 2, 0, error, sizeof error);
    if (sub)
        wait.client = cli_client_new ("order", oms_config_service (self->config, "order", "api"),
                                      error, sizeof error);
    int rc =
        wait.client ? s_wait_loop (&wait, sub, zclock_mono () + (int64_t) (timeout_s * 1000)) : -1;
    int exit_code = 1;
    char shown[64];
    if (!wait.client)
        cli_fail ("%s", error);
    else if (rc == 0)
        exit_code = strcmp (wait.status, "CONFIRMED") == 0 ? 0 : 2;
    else if (rc < 0 || wait.status[0] == '\0')
        cli_fail ("%s", wait.error);
    else
        cli_fail ("order %s is still %s after %g s", wait.req.order_id,
                  cli_printable (wait.status, shown, sizeof shown), timeout_s);
    cli_client_destroy (&wait.client);
    zsock_destroy (&sub);
    return exit_code;
}

// ---------------------------------------------------------------------------
//  orders

int
cli_orders_request (const cli_args_t *args, oms_request_t *req, char *error, size_t size)
{
    const char *status = cli_args_value (args, "--status");
    const char *customer = cli_args_value (args, "--customer");
    const char *since = cli_args_value (args, "--since");
    const char *older = cli_args_value (args, "--older-than");
    const char *limit = cli_args_value (args, "--limit");
    const char *page = cli_args_value (args, "--page");
    int64_t count = 0;
    cli_request_init (req, "orders.list");
    if ((status && cli_parse_statuses (status, req->status, OMS_STATUS_LIST_MAX, error, size)) ||
        (customer && cli_check_id ("customer", customer, OMS_ID_MAX, error, size)) ||
        (since && cli_parse_duration ("--since", since, &req->since_ns, error, size)) ||
        (older && cli_parse_duration ("--older-than", older, &req->older_than_ns, error, size)) ||
        (limit && cli_parse_int ("--limit", limit, 1, OMS_LIST_MAX, &count, error, size)) ||
        (page && cli_check_id ("page token", page, OMS_PAGE_MAX, error, size)))
        return -1;
    snprintf (req->customer, sizeof req->customer, "%s", customer ? customer : "");
    snprintf (req->page, sizeof req->page, "%s", page ? page : "");
    req->limit = (uint64_t) count;
    return 0;
}

int
cli_orders_check (const msgpack_object *order)
{
    static const char *const strings[] = {"order_id", "status", "customer"};
    const msgpack_object *reason = cli_map_get (order, "reason");
    int64_t total = 0;
    uint64_t created = 0;
    if (order->type != MSGPACK_OBJECT_MAP)
        return cli_malformed ("order", "orders");
    for (size_t i = 0; i < 3; i++)
        if (!s_is_str (order, strings[i], true))
            return cli_malformed ("order", strings[i]);
    if (cli_map_int (order, "total_cents", &total) != 0)
        return cli_malformed ("order", "total_cents");
    if (cli_map_uint (order, "created_ns", &created) != 0)
        return cli_malformed ("order", "created_ns");
    if (reason && reason->type != MSGPACK_OBJECT_STR)
        return cli_malformed ("order", "reason");
    return 0;
}

//  o-17 CONFIRMED customer=c1 total_cents=1998 age=12s [reason="..."]
static void
s_print_listed (const msgpack_object *order, uint64_t now_ns)
{
    const msgpack_object *reason = cli_map_get (order, "reason");
    int64_t total = 0;
    uint64_t created = 0;
    char age[32];
    cli_map_int (order, "total_cents", &total);
    cli_map_uint (order, "created_ns", &created);
    cli_text_print (stdout, cli_map_get (order, "order_id"));
    putchar (' ');
    cli_text_print (stdout, cli_map_get (order, "status"));
    printf (" customer=");
    cli_text_print (stdout, cli_map_get (order, "customer"));
    printf (" total_cents=%" PRId64 " age=%s", total,
            cli_age (now_ns > created ? now_ns - created : 0, age, sizeof age));
    if (reason && reason->via.str.size > 0) {
        printf (" reason=");
        cli_json_print (stdout, reason);
    }
    putchar ('\n');
}

int
cli_cmd_orders (cli_t *self)
{
    char error[512];
    oms_request_t req;
    if (cli_expect (self, 0, 0) ||
        cli_check (cli_orders_request (&self->args, &req, error, sizeof error), error))
        return 1;
    cli_reply_t *reply = cli_call (self, "order", &req, 1);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    const msgpack_object *orders = cli_map_array (map, "orders");
    const msgpack_object *next = cli_map_get (map, "next");
    uint64_t now = 0;
    int rc = 0;
    if (!orders)
        rc = cli_malformed ("order", "orders");
    else if (cli_map_uint (map, "now_ns", &now) != 0)
        rc = cli_malformed ("order", "now_ns");
    else if (next && (next->type != MSGPACK_OBJECT_STR || next->via.str.size == 0))
        rc = cli_malformed ("order", "next");
    for (uint32_t i = 0; rc == 0 && i < orders->via.array.size; i++)
        rc = cli_orders_check (&orders->via.array.ptr[i]);
    if (rc == 0 && self->json) {
        printf ("{\"orders\": ");
        cli_json_print (stdout, orders);
        printf (", \"next\": ");
        if (next)
            cli_json_print (stdout, next);
        else
            printf ("null");
        printf (", \"now_ns\": %" PRIu64 "}\n", now);
    }
    else if (rc == 0) {
        for (uint32_t i = 0; i < orders->via.array.size; i++)
            s_print_listed (&orders->via.array.ptr[i], now);
        if (next) {
            printf ("more orders: repeat with --page ");
            cli_text_print (stdout, next);
            putchar ('\n');
        }
    }
    cli_reply_destroy (&reply);
    return rc;
}
