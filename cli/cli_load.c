/*  cli_load: `oms load`.

    Open loop. Order i is due at t0 + i/R; its latency runs from then (at
    full speed, from when it was sent) to when its order.confirmed or
    order.cancelled event arrives, so a sender that falls behind counts
    against latency instead of hiding it.

    One DEALER carries every request to the order service, with at most
    `window` of them unanswered. The service answers one connection's
    requests in the order it read them (one thread; answers are queued in
    arrival order and sent after each commit), so replies are matched to
    requests by a FIFO ring. Each order has its own customer id,
    load-<run>-c<i>, which every terminal event carries: an event finds its
    order without a lookup, whether or not the reply came first.

    Events can be lost (a slow subscriber past its high-water mark, a
    broker restart). Once everything is sent and no event has arrived for a
    while, and the order service's heads show more terminal events than
    arrived (or a place command went unanswered), each order not yet
    terminal is asked about: `place` again with its request id (which the
    service answers with the order id and does not place twice), then
    `get`. A cluster that is merely slow is not asked, so that asking does
    not slow it further. A reply that does not come in time drops the
    connection and the ring; those orders are asked about the same way.

    Memory is fixed at the start: a 16-byte record per order, the ring, and
    the histogram. Nothing allocated for an order outlives its reply.
*/
#include "cli.h"
#include "cli_load.h"
#include "cli_args.h"
#include "cli_client.h"
#include "cli_histogram.h"
#include "cli_json.h"
#include "oms_clock.h"

#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>

#define ORDERS_MAX        10000000
#define RATE_MAX          1000000
#define SKUS_MAX          100000
#define WINDOW_MAX        100000
#define METHODS_MAX       8
#define TIMEOUT_S         60 //  after the last placement
#define SECONDS_MAX       (24 * 3600.0)
#define STOCK_QTY         1000000000 //  ample: no order is short
#define WALLET_CENTS      1000000    //  20 times the largest order
#define CARD_APPROVED     "4111111111111111"
#define CARD_DECLINED     "4000000000000002" //  ends 0002: the card method declines it
#define SEED              42
#define SETUP_TIMEOUT_MS  30000
#define HEARTBEAT_WAIT_MS 10000
#define PROGRESS_MS       250
#define QUIET_MS          2000  //  no terminal event for this long: ask
#define QUIET_MAX_MS      16000 //  the spell doubles after each pass up to this
#define SEND_BURST        64    //  sends between two looks at the sockets
#define RECV_BURST        256
#define SUB_HWM           100000
#define HISTOGRAM_HIGHEST (UINT64_C (3600) * 1000000000) //  one hour, in ns
#define HISTOGRAM_BITS    11

const cli_opt_t cli_load_opts[] = {{"--orders", true, false},  {"--rate", true, false},
                                   {"--skus", true, false},    {"--pay", true, false},
                                   {"--window", true, false},  {"--declines", true, false},
                                   {"--timeout", true, false}, {NULL, false, false}};

typedef struct {
    char name[OMS_NAME_MAX + 1];
    int64_t weight;
} s_method_t;

typedef struct {
    int64_t orders, rate, skus, window, declines;
    double timeout_s;
    s_method_t methods[METHODS_MAX];
    size_t n_methods;
    int64_t weight_total;
} s_options_t;

typedef enum {
    S_UNSENT = 0,
    S_SENT,   //  no reply yet
    S_PLACED, //  accepted, not terminal yet
    S_CONFIRMED,
    S_CANCELLED,
    S_REFUSED //  the service refused the place command
} s_state_t;

typedef struct {
    uint64_t start_ns; //  when the order was due (or sent, at full speed)
    uint8_t state;
    bool answered; //  the service replied to a place command for it
} s_order_t;

typedef enum { K_PLACE, K_REPLACE, K_GET } s_kind_t;

//  A request awaiting its reply.
typedef struct {
    uint64_t sent_ns;
    uint32_t index;
    uint8_t kind;
} s_pending_t;

typedef struct {
    oms_config_t *config;
    s_options_t opt;
    bool json;
    bool tty;
    int timeout_ms;           //  cli/timeout_ms: how long a reply may take
    char run[9];              //  8 hex digits
    char customer_prefix[32]; //  "load-<run>-c"
    size_t customer_prefix_len;

    s_order_t *orders;
    uint64_t next;        //  the next order to place
    uint64_t final;       //  orders confirmed, cancelled or refused
    cli_client_t *client; //  to the order service
    s_pending_t *ring;
    size_t ring_head, ring_count;
    zsock_t *sub;
    cli_histogram_t *latency;

    uint64_t t0, first_send_ns, last_terminal_ns;
    uint64_t last_event_ns; //  the last terminal event, or the last send
    uint64_t quiet_ns;      //  how long without one before a pass
    bool heads_known;       //  whether heads_base could be read
    uint64_t heads_base;    //  order.confirmed + order.cancelled heads at the start
    uint64_t terminal_seen; //  terminal events received since, any client's
    bool heads_checked;     //  heads_seen holds the heads at the last quiet spell
    uint64_t heads_seen;
    uint64_t placed, refused, confirmed, cancelled, polled, duplicates, undecodable, reconnects;
    bool polling;                   //  a pass over the unfinished orders is under way
    uint64_t poll_at;               //  its cursor
    char refusal[OMS_TEXT_MAX + 1]; //  the first refusal, to show
} s_load_t;

//  splitmix64: the shape of order i is a pure function of i, so that asking
//  about an order later rebuilds exactly the request first sent.
static uint64_t
s_mix (uint64_t x)
{
    x += UINT64_C (0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
    return x ^ (x >> 31);
}

// ---------------------------------------------------------------------------
//  Options

//  "card:70,wallet:10,upi:10,cod:10"; a method without ":weight" weighs 1.
static int
s_parse_mix (const char *text, s_options_t *opt)
{
    char error[256];
    char copy[256];
    if (strlen (text) >= sizeof copy)
        return cli_fail ("--pay is too long");
    snprintf (copy, sizeof copy, "%s", text);
    opt->n_methods = 0;
    opt->weight_total = 0;
    char *save = NULL;
    for (char *part = strtok_r (copy, ",", &save); part; part = strtok_r (NULL, ",", &save)) {
        if (opt->n_methods == METHODS_MAX)
            return cli_fail ("--pay names more than %d methods", METHODS_MAX);
        s_method_t *method = &opt->methods[opt->n_methods];
        int64_t weight = 1;
        char *colon = strchr (part, ':');
        if (colon) {
            *colon = '\0';
            if (cli_parse_int ("--pay weight", colon + 1, 0, 1000000, &weight, error, sizeof error))
                return cli_fail ("%s", error);
        }
        if (cli_check_method (part, error, sizeof error))
            return cli_fail ("%s", error);
        for (size_t i = 0; i < opt->n_methods; i++)
            if (strcmp (opt->methods[i].name, part) == 0)
                return cli_fail ("--pay names %s twice", part);
        snprintf (method->name, sizeof method->name, "%s", part);
        method->weight = weight;
        opt->weight_total += weight;
        opt->n_methods++;
    }
    if (opt->n_methods == 0 || opt->weight_total == 0)
        return cli_fail ("--pay needs METHOD[:WEIGHT],... with a weight above 0");
    return 0;
}

static int
s_int_option (const cli_args_t *args, const char *name, int64_t min, int64_t max, int64_t *value)
{
    char error[256];
    const char *text = cli_args_value (args, name);
    if (text && cli_parse_int (name, text, min, max, value, error, sizeof error))
        return cli_fail ("%s", error);
    return 0;
}

static int
s_parse_options (const cli_args_t *args, s_options_t *opt)
{
    char error[256];
    *opt = (s_options_t){.rate = 0, .skus = 100, .window = 1000, .timeout_s = TIMEOUT_S};
    if (!cli_args_value (args, "--orders"))
        return cli_fail ("--orders N is required");
    if (s_int_option (args, "--orders", 1, ORDERS_MAX, &opt->orders) ||
        s_int_option (args, "--rate", 0, RATE_MAX, &opt->rate) ||
        s_int_option (args, "--skus", 1, SKUS_MAX, &opt->skus) ||
        s_int_option (args, "--window", 1, WINDOW_MAX, &opt->window) ||
        s_int_option (args, "--declines", 0, 100, &opt->declines))
        return 1;
    const char *timeout = cli_args_value (args, "--timeout");
    if (timeout &&
        cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &opt->timeout_s, error, sizeof error))
        return cli_fail ("%s", error);
    const char *mix = cli_args_value (args, "--pay");
    return s_parse_mix (mix ? mix : "card", opt);
}

// ---------------------------------------------------------------------------
//  What each order looks like

static void
s_request (oms_request_t *req, const char *cmd)
{
    memset (req, 0, sizeof *req);
    snprintf (req->cmd, sizeof req->cmd, "%s", cmd);
}

static const s_method_t *
s_method_of (const s_load_t *self, uint64_t index)
{
    int64_t pick = (int64_t) (s_mix (SEED ^ (index << 8)) % (uint64_t) self->opt.weight_total);
    for (size_t i = 0; i < self->opt.n_methods; i++) {
        pick -= self->opt.methods[i].weight;
        if (pick < 0)
            return &self->opt.methods[i];
    }
    return &self->opt.methods[self->opt.n_methods - 1];
}

static void
s_customer (const s_load_t *self, uint64_t index, char *buf, size_t size)
{
    snprintf (buf, size, "%s%" PRIu64, self->customer_prefix, index);
}

static void
s_sku (const s_load_t *self, uint64_t k, char *buf, size_t size)
{
    snprintf (buf, size, "load-%s-%u", self->run, (unsigned) k); //  k < SKUS_MAX
}

//  Like the peer's orders: 1-3 lines of quantity 1-3 over the run's SKUs,
//  each SKU at most once.
static void
s_place_request (const s_load_t *self, uint64_t index, oms_request_t *req)
{
    uint64_t h = s_mix (SEED + index);
    const s_method_t *method = s_method_of (self, index);
    s_request (req, "place");
    snprintf (req->request_id, sizeof req->request_id, "load-%s-r%" PRIu64, self->run, index);
    s_customer (self, index, req->customer, sizeof req->customer);
    snprintf (req->method, sizeof req->method, "%s", method->name);
    if (strcmp (method->name, "card") == 0) {
        bool declined = (int64_t) (s_mix (h) % 100) < self->opt.declines;
        snprintf (req->card, sizeof req->card, "%s", declined ? CARD_DECLINED : CARD_APPROVED);
    }
    uint64_t skus = (uint64_t) self->opt.skus;
    uint32_t lines = 1 + (uint32_t) (h % 3);
    if (lines > skus)
        lines = (uint32_t) skus;
    uint64_t chosen[3];
    for (uint32_t line = 0; line < lines; line++) {
        h = s_mix (h);
        uint64_t k = (h >> 8) % skus;
        for (uint32_t j = 0; j < line; j++)
            if (chosen[j] == k) {
                k = (k + 1) % skus;
                j = (uint32_t) -1; //  compare with every line again
            }
        chosen[line] = k;
        s_sku (self, k, req->items[line].sku, sizeof req->items[line].sku);
        req->items[line].qty = 1 + (int64_t) (h % 3);
    }
    req->n_items = lines;
}

// ---------------------------------------------------------------------------
//  Set-up: the run's SKUs and wallets, before the clock starts

typedef bool (*s_build_fn) (s_load_t *self, uint64_t index, oms_request_t *req);

static bool
s_build_stock (s_load_t *self, uint64_t k, oms_request_t *req)
{
    s_request (req, "stock.set");
    s_sku (self, k, req->sku, sizeof req->sku);
    req->qty = STOCK_QTY;
    req->price_cents = 199 + (int64_t) (k % 50) * 100;
    return true;
}

static bool
s_build_wallet (s_load_t *self, uint64_t index, oms_request_t *req)
{
    if (strcmp (s_method_of (self, index)->name, "wallet") != 0)
        return false;
    s_request (req, "wallet.credit");
    s_customer (self, index, req->customer, sizeof req->customer);
    req->amount_cents = WALLET_CENTS;
    return true;
}

//  Sends the requests build() makes for 0..n-1 to `service`, with up to
//  `window` unanswered; every one must be accepted. Returns how many were
//  sent, or -1 after printing why.
static int64_t
s_pipeline (s_load_t *self, const char *service, uint64_t n, s_build_fn build)
{
    char error[512];
    cli_client_t *client = cli_client_new (
        service, oms_config_service (self->config, service, "api"), error, sizeof error);
    if (!client) {
        cli_fail ("%s", error);
        return -1;
    }
    static oms_request_t req;
    uint64_t index = 0, sent = 0, answered = 0;
    int64_t result = -1;
    zmq_pollitem_t item = {zsock_resolve (cli_client_socket (client)), 0, ZMQ_POLLIN, 0};
    for (;;) {
        while (index < n && sent - answered < (uint64_t) self->opt.window) {
            if (!build (self, index++, &req))
                continue;
            int rc = cli_client_send (client, &req, error, sizeof error);
            if (rc == OMS_E_TIMEOUT && sent > answered) {
                index--; //  the socket's queue is full: take replies first
                break;
            }
            if (rc) {
                cli_fail ("%s", error);
                goto leave;
            }
            sent++;
        }
        if (answered == sent && index == n)
            break;
        if (zmq_poll (&item, 1, self->timeout_ms) <= 0) {
            cli_fail ("%s service at %s did not answer within %d ms", service,
                      cli_client_endpoint (client), self->timeout_ms);
            goto leave;
        }
        cli_reply_t *reply = NULL;
        if (cli_client_recv (client, &reply, error, sizeof error)) {
            cli_fail ("%s", error);
            goto leave;
        }
        bool ok = cli_reply_ok (reply);
        if (!ok)
            cli_fail ("%s", cli_reply_error (reply, error, sizeof error));
        cli_reply_destroy (&reply);
        if (!ok)
            goto leave;
        answered++;
    }
    result = (int64_t) sent;
leave:
    cli_client_destroy (&client);
    return result;
}

//  Sends one request and returns the accepted reply (caller owns it), or
//  NULL after printing why.
static cli_reply_t *
s_call (s_load_t *self, const char *service, const oms_request_t *req)
{
    char error[512];
    cli_reply_t *reply = NULL;
    cli_client_t *client = cli_client_new (
        service, oms_config_service (self->config, service, "api"), error, sizeof error);
    if (!client || cli_client_call (client, req, self->timeout_ms, 1, &reply, error, sizeof error))
        cli_fail ("%s", error);
    else if (!cli_reply_ok (reply)) {
        cli_fail ("%s", cli_reply_error (reply, error, sizeof error));
        cli_reply_destroy (&reply);
    }
    cli_client_destroy (&client);
    return reply;
}

//  The "seq" of the entry of `list` (heads or positions in a status reply)
//  whose topic is `topic`; -1 when there is none.
static int64_t
s_topic_seq (cli_reply_t *reply, const char *list, const char *topic)
{
    const msgpack_object *array = cli_map_get (cli_reply_map (reply), list);
    if (!array || array->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        const msgpack_object *entry = &array->via.array.ptr[i];
        int64_t seq = 0;
        if (cli_str_eq (cli_map_get (entry, "topic"), topic) &&
            cli_map_int (entry, "seq", &seq) == 0)
            return seq;
    }
    return -1;
}

//  The order service refuses SKUs it has not learnt from catalog.updated:
//  wait until it has applied every catalog.updated inventory has published.
static int
s_wait_catalog (s_load_t *self)
{
    oms_request_t req;
    s_request (&req, "status");
    cli_reply_t *reply = s_call (self, "inventory", &req);
    if (!reply)
        return 1;
    int64_t head = s_topic_seq (reply, "heads", "catalog.updated");
    cli_reply_destroy (&reply);
    if (head < 0)
        return cli_fail ("inventory service sent a malformed reply: heads");
    uint64_t deadline = oms_clock_steady_ns () + SETUP_TIMEOUT_MS * UINT64_C (1000000);
    for (;;) {
        reply = s_call (self, "order", &req);
        if (!reply)
            return 1;
        int64_t position = s_topic_seq (reply, "positions", "catalog.updated");
        cli_reply_destroy (&reply);
        if (position >= head)
            return 0;
        if (oms_clock_steady_ns () >= deadline)
            return cli_fail ("the order service did not learn the run's SKUs within %d s "
                             "(catalog.updated %" PRId64 " of %" PRId64 ")",
                             SETUP_TIMEOUT_MS / 1000, position, head);
        zclock_sleep (20);
    }
}

// ---------------------------------------------------------------------------
//  Events

static zsock_t *
s_subscribe (s_load_t *self)
{
    const char *endpoint = oms_config_str (self->config, "broker/backend");
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub) {
        cli_fail ("cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_linger (sub, 0);
    zsock_set_maxmsgsize (sub, cli_client_max_bytes ());
    zsock_set_rcvhwm (sub, SUB_HWM);
    //  Heartbeats last: once one arrives, the subscriptions before it are
    //  in place at the broker too.
    zsock_set_subscribe (sub, "order.confirmed");
    zsock_set_subscribe (sub, "order.cancelled");
    zsock_set_subscribe (sub, OMS_HEARTBEAT_PREFIX);
    char error[256];
    if (cli_client_curve (sub, "broker", error, sizeof error) != 0) {
        cli_fail ("%s", error);
        zsock_destroy (&sub);
    }
    else if (zsock_connect (sub, "%s", endpoint) != 0) {
        cli_fail ("cannot connect to the broker at %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sub);
    }
    return sub;
}

//  Reads one message of two frames, topic and body, without waiting.
//  1 read (topic NUL-terminated), 0 nothing ready, -1 malformed (dropped).
static int
s_recv_event (zsock_t *sub, char *topic, size_t topic_size, zmq_msg_t *body)
{
    void *handle = zsock_resolve (sub);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&frame);
        return 0;
    }
    size_t size = zmq_msg_size (&frame);
    bool good = size < topic_size && zmq_msg_more (&frame);
    if (good) {
        memcpy (topic, zmq_msg_data (&frame), size);
        topic[size] = '\0';
    }
    zmq_msg_close (&frame);
    int frames = 1;
    while (good && frames < 2) {
        if (zmq_msg_recv (body, handle, 0) < 0)
            return -1;
        frames++;
        good = !zmq_msg_more (body);
    }
    //  Whatever is left of a malformed message is read and dropped.
    int more = 0;
    size_t more_size = sizeof more;
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_init (&frame);
        zmq_msg_recv (&frame, handle, 0);
        zmq_msg_close (&frame);
        good = false;
    }
    return good && frames == 2 ? 1 : -1;
}

//  Waits for a heartbeat: proof that the subscription reached the broker,
//  so that no terminal event of the run can be missed for want of it.
static int
s_wait_live (s_load_t *self)
{
    uint64_t deadline = oms_clock_steady_ns () + HEARTBEAT_WAIT_MS * UINT64_C (1000000);
    zmq_pollitem_t item = {zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0};
    for (;;) {
        char topic[OMS_NAME_MAX + 1];
        zmq_msg_t body;
        zmq_msg_init (&body);
        int rc = s_recv_event (self->sub, topic, sizeof topic, &body);
        zmq_msg_close (&body);
        if (rc > 0 && strncmp (topic, OMS_HEARTBEAT_PREFIX, strlen (OMS_HEARTBEAT_PREFIX)) == 0)
            break;
        if (rc != 0)
            continue;
        uint64_t now = oms_clock_steady_ns ();
        if (now >= deadline)
            return cli_fail ("no heartbeat from the broker at %s within %d s",
                             oms_config_str (self->config, "broker/backend"),
                             HEARTBEAT_WAIT_MS / 1000);
        zmq_poll (&item, 1, (long) ((deadline - now) / 1000000 + 1));
    }
    zsock_set_unsubscribe (self->sub, OMS_HEARTBEAT_PREFIX);
    return 0;
}

static bool
s_is_final (uint8_t state)
{
    return state >= S_CONFIRMED;
}

static void
s_finish (s_load_t *self, uint64_t index, bool confirmed, uint64_t now)
{
    s_order_t *order = &self->orders[index];
    order->state = confirmed ? S_CONFIRMED : S_CANCELLED;
    if (!order->answered) {
        //  Its reply was lost or is still on its way; the service did place it.
        order->answered = true;
        self->placed++;
    }
    cli_histogram_record (self->latency, now > order->start_ns ? now - order->start_ns : 0);
    if (confirmed)
        self->confirmed++;
    else
        self->cancelled++;
    self->final++;
    self->last_terminal_ns = now;
}

//  The order index in a customer id of this run, or -1.
static int64_t
s_index_of (const s_load_t *self, const char *customer)
{
    if (strncmp (customer, self->customer_prefix, self->customer_prefix_len) != 0)
        return -1;
    const char *digits = customer + self->customer_prefix_len;
    uint64_t index = 0;
    if (*digits == '\0' || strlen (digits) > 10)
        return -1;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        index = index * 10 + (uint64_t) (*p - '0');
    }
    return index < (uint64_t) self->opt.orders ? (int64_t) index : -1;
}

static void
s_on_event (s_load_t *self, const char *topic, zmq_msg_t *body, uint64_t now)
{
    static oms_event_t event;
    bool confirmed = strcmp (topic, "order.confirmed") == 0;
    if (!confirmed && strcmp (topic, "order.cancelled") != 0)
        return; //  a heartbeat sent before the unsubscription arrived
    self->terminal_seen++;
    oms_fault_t fault = {0};
    if (oms_event_decode (zmq_msg_data (body), zmq_msg_size (body), topic, &event, &fault)) {
        self->undecodable++;
        return;
    }
    int64_t index = s_index_of (self, event.data.customer);
    if (index < 0)
        return; //  another client's order
    self->last_event_ns = now;
    self->quiet_ns = QUIET_MS * 1000000ull; //  events flow: back to the first spell
    self->heads_checked = false;
    if (s_is_final (self->orders[index].state))
        self->duplicates++;
    else
        s_finish (self, (uint64_t) index, confirmed, now);
}

static void
s_drain_events (s_load_t *self)
{
    for (int i = 0; i < RECV_BURST; i++) {
        char topic[OMS_NAME_MAX + 1];
        zmq_msg_t body;
        zmq_msg_init (&body);
        int rc = s_recv_event (self->sub, topic, sizeof topic, &body);
        if (rc > 0)
            s_on_event (self, topic, &body, oms_clock_steady_ns ());
        else if (rc < 0)
            self->undecodable++;
        zmq_msg_close (&body);
        if (rc == 0)
            break;
    }
}

// ---------------------------------------------------------------------------
//  Requests to the order service, and their replies

static int
s_connect (s_load_t *self)
{
    char error[512];
    self->client = cli_client_new ("order", oms_config_service (self->config, "order", "api"),
                                   error, sizeof error);
    return self->client ? 0 : cli_fail ("%s", error);
}

//  0 sent, 1 not now (the socket's queue is full), -1 failed (printed).
static int
s_send (s_load_t *self, const oms_request_t *req, uint64_t index, s_kind_t kind)
{
    char error[512];
    int rc = cli_client_send (self->client, req, error, sizeof error);
    if (rc == OMS_E_TIMEOUT)
        return 1;
    if (rc) {
        cli_fail ("%s", error);
        return -1;
    }
    s_pending_t *slot =
        &self->ring[(self->ring_head + self->ring_count) % (size_t) self->opt.window];
    *slot = (s_pending_t){
        .sent_ns = oms_clock_steady_ns (), .index = (uint32_t) index, .kind = (uint8_t) kind};
    self->ring_count++;
    return 0;
}

static bool
s_ring_full (const s_load_t *self)
{
    return self->ring_count >= (size_t) self->opt.window;
}

//  When order `index` is due.
static uint64_t
s_due (const s_load_t *self, uint64_t index)
{
    return self->t0 + (uint64_t) ((double) index * 1e9 / (double) self->opt.rate);
}

static int
s_send_due (s_load_t *self)
{
    static oms_request_t req;
    for (int burst = 0;
         burst < SEND_BURST && self->next < (uint64_t) self->opt.orders && !s_ring_full (self);
         burst++) {
        uint64_t now = oms_clock_steady_ns ();
        if (self->opt.rate > 0 && s_due (self, self->next) > now)
            break;
        s_place_request (self, self->next, &req);
        int rc = s_send (self, &req, self->next, K_PLACE);
        if (rc)
            return rc < 0 ? -1 : 0;
        s_order_t *order = &self->orders[self->next];
        order->start_ns = self->opt.rate > 0 ? s_due (self, self->next) : now;
        if (order->state == S_UNSENT)
            order->state = S_SENT;
        if (self->next == 0)
            self->first_send_ns = now;
        self->next++;
    }
    return 0;
}

//  A pass over the orders not yet terminal: place again (same request id),
//  whose reply gives the order id to `get`.
static int
s_send_polls (s_load_t *self)
{
    static oms_request_t req;
    while (self->polling && !s_ring_full (self)) {
        if (self->poll_at >= (uint64_t) self->opt.orders) {
            //  A slow cluster, not a lossy bus, is the likelier cause of a
            //  quiet spell: wait longer before the next pass, so that asking
            //  does not add to its load.
            self->polling = false;
            self->last_event_ns = oms_clock_steady_ns ();
            if (self->quiet_ns < QUIET_MAX_MS * 1000000ull)
                self->quiet_ns *= 2;
            break;
        }
        uint64_t index = self->poll_at;
        if (s_is_final (self->orders[index].state)) {
            self->poll_at++;
            continue;
        }
        s_place_request (self, index, &req);
        int rc = s_send (self, &req, index, K_REPLACE);
        if (rc)
            return rc < 0 ? -1 : 0;
        self->poll_at++;
    }
    return 0;
}

static void
s_refused (s_load_t *self, uint64_t index, cli_reply_t *reply)
{
    s_order_t *order = &self->orders[index];
    if (s_is_final (order->state))
        return;
    order->state = S_REFUSED;
    order->answered = true;
    self->refused++;
    self->final++;
    if (!self->refusal[0])
        cli_reply_error (reply, self->refusal, sizeof self->refusal);
}

static int
s_on_place_reply (s_load_t *self, const s_pending_t *pending, cli_reply_t *reply)
{
    s_order_t *order = &self->orders[pending->index];
    const char *order_id = NULL;
    size_t len = 0;
    if (!cli_reply_ok (reply)) {
        s_refused (self, pending->index, reply);
        return 0;
    }
    if (cli_map_str (cli_reply_map (reply), "order_id", &order_id, &len) != 0 || len == 0 ||
        len > OMS_ID_MAX) {
        cli_fail ("order service sent a malformed reply: order_id");
        return -1;
    }
    if (!order->answered) {
        order->answered = true;
        self->placed++;
    }
    if (order->state == S_SENT)
        order->state = S_PLACED;
    if (pending->kind == K_REPLACE && !s_is_final (order->state)) {
        static oms_request_t req;
        s_request (&req, "get");
        memcpy (req.order_id, order_id, len);
        req.order_id[len] = '\0';
        //  The ring has room: this reply just left it.
        if (s_send (self, &req, pending->index, K_GET) < 0)
            return -1;
    }
    return 0;
}

static void
s_on_get_reply (s_load_t *self, const s_pending_t *pending, cli_reply_t *reply)
{
    const char *status = NULL;
    size_t len = 0;
    if (!cli_reply_ok (reply) || s_is_final (self->orders[pending->index].state) ||
        cli_map_str (cli_reply_map (reply), "status", &status, &len) != 0)
        return;
    bool confirmed = len == 9 && memcmp (status, "CONFIRMED", 9) == 0;
    bool cancelled = len == 9 && memcmp (status, "CANCELLED", 9) == 0;
    if (confirmed || cancelled) {
        self->polled++;
        s_finish (self, pending->index, confirmed, oms_clock_steady_ns ());
    }
}

static int
s_drain_replies (s_load_t *self)
{
    char error[512];
    for (int i = 0; i < RECV_BURST; i++) {
        if (!(zsock_events (cli_client_socket (self->client)) & ZMQ_POLLIN))
            break;
        cli_reply_t *reply = NULL;
        if (cli_client_recv (self->client, &reply, error, sizeof error)) {
            cli_fail ("%s", error);
            return -1;
        }
        if (self->ring_count == 0) {
            //  Nothing was asked: not ours to match (and reading it keeps
            //  the socket from staying readable forever).
            cli_reply_destroy (&reply);
            continue;
        }
        s_pending_t pending = self->ring[self->ring_head];
        self->ring_head = (self->ring_head + 1) % (size_t) self->opt.window;
        self->ring_count--;
        int rc = 0;
        if (pending.kind == K_GET)
            s_on_get_reply (self, &pending, reply);
        else
            rc = s_on_place_reply (self, &pending, reply);
        cli_reply_destroy (&reply);
        if (rc)
            return rc;
    }
    return 0;
}

//  A reply overdue: start again on a fresh connection. The orders whose
//  requests were in the ring are asked about by the next pass.
static int
s_check_overdue (s_load_t *self, uint64_t now)
{
    if (self->ring_count == 0 ||
        now - self->ring[self->ring_head].sent_ns < (uint64_t) self->timeout_ms * 1000000u)
        return 0;
    cli_client_destroy (&self->client);
    self->ring_head = self->ring_count = 0;
    self->reconnects++;
    fprintf (stderr, "%soms: the order service did not answer within %d ms; reconnecting\n",
             self->tty ? "\r\033[K" : "", self->timeout_ms);
    return s_connect (self) ? -1 : 0;
}

// ---------------------------------------------------------------------------
//  The loop

static void
s_progress (s_load_t *self, uint64_t now)
{
    double seconds = self->first_send_ns ? (double) (now - self->first_send_ns) / 1e9 : 0;
    fprintf (stderr,
             "\r\033[Koms load: sent %" PRIu64 "/%" PRId64 ", terminal %" PRIu64 " (%" PRIu64
             " cancelled), in flight %" PRIu64 ", %.0f orders/s",
             self->next, self->opt.orders, self->confirmed + self->cancelled, self->cancelled,
             self->next - self->final, seconds > 0 ? (double) self->final / seconds : 0.0);
}

//  Blocks until a socket may have something to read or `wake` (monotonic
//  ns) comes. ppoll, not zmq_poll, because its timeout is finer than a
//  millisecond: a paced order must leave when it is due, not up to 1 ms
//  later.
static void
s_wait (s_load_t *self, uint64_t wake)
{
    zsock_t *dealer = cli_client_socket (self->client);
    //  Reading ZMQ_EVENTS also re-arms the edge-triggered ZMQ_FD.
    if ((zsock_events (dealer) & ZMQ_POLLIN) || (zsock_events (self->sub) & ZMQ_POLLIN))
        return;
    uint64_t now = oms_clock_steady_ns ();
    if (wake <= now)
        return;
    struct pollfd fds[2] = {{zsock_fd (dealer), POLLIN, 0}, {zsock_fd (self->sub), POLLIN, 0}};
    struct timespec timeout = {(time_t) ((wake - now) / 1000000000u),
                               (long) ((wake - now) % 1000000000u)};
    ppoll (fds, 2, &timeout, NULL);
}

//  The sum of the order service's order.confirmed and order.cancelled
//  heads: how many terminal events it has published. 0, or -1 when it
//  could not be asked (nothing printed: the caller has a fallback).
static int
s_terminal_heads (s_load_t *self, uint64_t *sum)
{
    char error[512];
    oms_request_t req;
    s_request (&req, "status");
    cli_reply_t *reply = NULL;
    cli_client_t *client = cli_client_new (
        "order", oms_config_service (self->config, "order", "api"), error, sizeof error);
    int rc = -1;
    if (client &&
        cli_client_call (client, &req, self->timeout_ms, 1, &reply, error, sizeof error) == 0 &&
        cli_reply_ok (reply)) {
        int64_t confirmed = s_topic_seq (reply, "heads", "order.confirmed");
        int64_t cancelled = s_topic_seq (reply, "heads", "order.cancelled");
        if (confirmed >= 0 && cancelled >= 0) {
            *sum = (uint64_t) confirmed + (uint64_t) cancelled;
            rc = 0;
        }
    }
    cli_reply_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

//  After a quiet spell: whether asking about the unfinished orders can
//  find anything. It can when an order's place command was never answered
//  (and none is awaited), or when terminal events the order service had
//  published by the previous quiet spell have still not arrived: events
//  published just now may only be on their way. Otherwise the cluster is
//  only slow, and asking would slow it further.
static bool
s_need_pass (s_load_t *self)
{
    if (self->ring_count == 0)
        for (uint64_t i = 0; i < (uint64_t) self->opt.orders; i++)
            if (self->orders[i].state == S_SENT)
                return true;
    uint64_t heads = 0;
    if (!self->heads_known || s_terminal_heads (self, &heads) != 0)
        return true;
    bool lost = self->heads_checked && self->heads_seen - self->heads_base > self->terminal_seen;
    self->heads_seen = heads;
    self->heads_checked = true;
    return lost;
}

static int
s_drive (s_load_t *self)
{
    uint64_t orders = (uint64_t) self->opt.orders;
    uint64_t next_progress = 0, deadline = UINT64_MAX;
    self->heads_known = s_terminal_heads (self, &self->heads_base) == 0;
    self->terminal_seen = 0;
    self->t0 = oms_clock_steady_ns ();
    self->quiet_ns = QUIET_MS * 1000000ull;
    while (self->final < orders) {
        if (s_send_due (self) || s_drain_replies (self))
            return -1;
        s_drain_events (self);
        uint64_t now = oms_clock_steady_ns ();
        if (s_check_overdue (self, now))
            return -1;
        bool all_sent = self->next == orders;
        if (all_sent && deadline == UINT64_MAX) {
            deadline = now + (uint64_t) (self->opt.timeout_s * 1e9);
            if (self->last_event_ns < now)
                self->last_event_ns = now;
        }
        if (now >= deadline)
            break;
        if (all_sent && !self->polling && now - self->last_event_ns >= self->quiet_ns) {
            if (s_need_pass (self)) {
                self->polling = true;
                self->poll_at = 0;
            }
            else
                self->last_event_ns = oms_clock_steady_ns ();
        }
        if (s_send_polls (self))
            return -1;
        if (self->tty && now >= next_progress) {
            s_progress (self, now);
            next_progress = now + PROGRESS_MS * 1000000ull;
        }
        uint64_t wake = deadline;
        if (self->tty && next_progress < wake)
            wake = next_progress;
        if (!all_sent && !s_ring_full (self)) {
            uint64_t due = self->opt.rate > 0 ? s_due (self, self->next) : now;
            wake = due < wake ? due : wake;
        }
        if (self->ring_count > 0) {
            uint64_t overdue =
                self->ring[self->ring_head].sent_ns + (uint64_t) self->timeout_ms * 1000000u;
            wake = overdue < wake ? overdue : wake;
        }
        if (all_sent && !self->polling) {
            uint64_t quiet = self->last_event_ns + self->quiet_ns;
            wake = quiet < wake ? quiet : wake;
        }
        s_wait (self, wake);
    }
    if (self->tty)
        fputs ("\r\033[K", stderr);
    return 0;
}

// ---------------------------------------------------------------------------
//  The report

static double
s_ms (uint64_t ns)
{
    return (double) ns / 1e6;
}

static void
s_report (s_load_t *self)
{
    uint64_t terminal = self->confirmed + self->cancelled;
    uint64_t unfinished = (uint64_t) self->opt.orders - self->final;
    uint64_t end =
        self->last_terminal_ns > self->first_send_ns ? self->last_terminal_ns : self->first_send_ns;
    double elapsed = (double) (end - self->first_send_ns) / 1e9;
    double rate = elapsed > 0 ? (double) terminal / elapsed : 0;
    cli_histogram_t *h = self->latency;
    double p50 = s_ms (cli_histogram_percentile (h, 50));
    double p90 = s_ms (cli_histogram_percentile (h, 90));
    double p99 = s_ms (cli_histogram_percentile (h, 99));
    double p999 = s_ms (cli_histogram_percentile (h, 99.9));
    double max = s_ms (cli_histogram_max (h));
    double mean = cli_histogram_mean (h) / 1e6;
    if (self->json) {
        printf ("{\"run\": \"%s\", \"orders\": %" PRId64 ", \"rate\": %" PRId64
                ", \"window\": %" PRId64 ", \"skus\": %" PRId64 ", \"placed\": %" PRIu64
                ", \"refused\": %" PRIu64 ", \"confirmed\": %" PRIu64 ", \"cancelled\": %" PRIu64
                ", \"unfinished\": %" PRIu64 ", \"polled\": %" PRIu64 ", \"duplicates\": %" PRIu64
                ", \"undecodable\": %" PRIu64 ", \"reconnects\": %" PRIu64
                ", \"elapsed_s\": %.3f, \"orders_per_s\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f"
                ", \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f}\n",
                self->run, self->opt.orders, self->opt.rate, self->opt.window, self->opt.skus,
                self->placed, self->refused, self->confirmed, self->cancelled, unfinished,
                self->polled, self->duplicates, self->undecodable, self->reconnects, elapsed, rate,
                p50, p90, p99, p999, max, mean);
        return;
    }
    printf ("run          %s\n", self->run);
    printf ("orders       %" PRId64 " (", self->opt.orders);
    if (self->opt.rate)
        printf ("%" PRId64 "/s", self->opt.rate);
    else
        printf ("full speed");
    printf (", window %" PRId64 ", %" PRId64 " SKUs)\n", self->opt.window, self->opt.skus);
    printf ("placed       %" PRIu64 "\n", self->placed);
    printf ("refused      %" PRIu64 "\n", self->refused);
    printf ("confirmed    %" PRIu64 "\n", self->confirmed);
    printf ("cancelled    %" PRIu64 "\n", self->cancelled);
    printf ("unfinished   %" PRIu64 "\n", unfinished);
    printf ("polled       %" PRIu64 " (terminal found by asking, not by event)\n", self->polled);
    printf ("elapsed      %.3f s\n", elapsed);
    printf ("orders/s     %.1f\n", rate);
    printf ("latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n", p50,
            p90, p99, p999, max, mean);
}

// ---------------------------------------------------------------------------
//  cli_load

static int
s_setup (s_load_t *self)
{
    if (self->tty)
        fprintf (stderr, "oms load: run %s: %" PRId64 " SKUs", self->run, self->opt.skus);
    if (s_pipeline (self, "inventory", (uint64_t) self->opt.skus, s_build_stock) < 0)
        return 1;
    for (size_t i = 0; i < self->opt.n_methods; i++)
        if (strcmp (self->opt.methods[i].name, "wallet") == 0 && self->opt.methods[i].weight) {
            int64_t wallets =
                s_pipeline (self, "payment", (uint64_t) self->opt.orders, s_build_wallet);
            if (wallets < 0)
                return 1;
            if (self->tty)
                fprintf (stderr, ", %" PRId64 " wallets", wallets);
        }
    if (self->tty)
        fputs ("\n", stderr);
    return s_wait_catalog (self) || s_wait_live (self);
}

int
cli_load (oms_config_t *config, const cli_args_t *args, bool json)
{
    s_load_t self = {.config = config, .json = json, .tty = isatty (STDERR_FILENO) != 0};
    if (s_parse_options (args, &self.opt))
        return 1;
    int64_t timeout_ms = oms_config_int (config, "cli/timeout_ms");
    self.timeout_ms = timeout_ms < 1 ? 1 : timeout_ms > 3600000 ? 3600000 : (int) timeout_ms;
    uint64_t seed =
        s_mix ((uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32) ^ oms_clock_steady_ns ());
    snprintf (self.run, sizeof self.run, "%08" PRIx32, (uint32_t) seed);
    self.customer_prefix_len = (size_t) snprintf (self.customer_prefix, sizeof self.customer_prefix,
                                                  "load-%s-c", self.run);
    int exit_code = 1;
    self.orders = (s_order_t *) calloc ((size_t) self.opt.orders, sizeof (s_order_t));
    self.ring = (s_pending_t *) calloc ((size_t) self.opt.window, sizeof (s_pending_t));
    self.latency = cli_histogram_new (HISTOGRAM_HIGHEST, HISTOGRAM_BITS);
    if (!self.orders || !self.ring || !self.latency) {
        cli_fail ("out of memory for %" PRId64 " orders", self.opt.orders);
        goto leave;
    }
    //  Subscribe first: the subscription travels to the broker during set-up.
    self.sub = s_subscribe (&self);
    if (!self.sub || s_setup (&self) || s_connect (&self) || s_drive (&self))
        goto leave;
    s_report (&self);
    uint64_t unfinished = (uint64_t) self.opt.orders - self.final;
    if (self.refused)
        cli_fail ("%" PRIu64 " orders were refused, the first with: %s", self.refused,
                  self.refusal);
    if (unfinished)
        cli_fail ("%" PRIu64 " orders were not terminal after %g s", unfinished,
                  self.opt.timeout_s);
    exit_code = self.refused || unfinished ? 1 : 0;
leave:
    cli_client_destroy (&self.client);
    zsock_destroy (&self.sub);
    cli_histogram_destroy (&self.latency);
    free (self.ring);
    free (self.orders);
    return exit_code;
}
