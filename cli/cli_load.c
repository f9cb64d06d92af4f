/*  cli_load: `oms load`, an open-loop load generator for the order saga.

    Every option is checked before anything is sent. The run's own SKUs
    (and wallets, when the mix pays by wallet) are set up, the orders
    placed, and each awaited until terminal or until --timeout after the
    last placement; the report (one JSON object with --json) gives
    throughput and the latency from placement to terminal state. Exit 0
    when every order was placed and reached CONFIRMED or CANCELLED, else 1.

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
    arrived, or none published since the last quiet spell (or a place
    command went unanswered), each order not yet terminal is asked about:
    `place` again with its request id (which the service answers with the
    order id and does not place twice), then `get`. A cluster that is
    merely slow is not asked, so that asking does not slow it further. A
    reply that does not come in time drops the connection and the ring;
    those orders are asked about the same way.

    Memory is fixed at the start: a 16-byte record per order, the ring, and
    the histogram. Nothing allocated for an order outlives its reply.
*/
#include "cli.h"
#include "cli_histogram.h"
#include "oms_clock.h"

#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ORDERS_MAX        10000000
#define RATE_MAX          1000000
#define SKUS_MAX          100000
#define WINDOW_MAX        100000
#define METHODS_MAX       8
#define TIMEOUT_S         60 //  after the last placement
#define SECONDS_MAX       (24 * 3600.0)
#define REPLY_MAX_MS      3600000    //  cli/timeout_ms is taken up to this
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
#define MS                UINT64_C (1000000) //  in ns

const cli_opt_t cli_load_opts[] = {{"--orders", true, false},  {"--rate", true, false},
                                   {"--skus", true, false},    {"--pay", true, false},
                                   {"--window", true, false},  {"--declines", true, false},
                                   {"--timeout", true, false}, {NULL, false, false}};

typedef struct {
    int64_t orders, rate, skus, window, declines;
    double timeout_s;
    struct {
        char name[OMS_NAME_MAX + 1];
        int64_t weight;
    } methods[METHODS_MAX];
    size_t n_methods;
    int64_t weight_total;
} s_options_t;

//  The integer options, checked in this order.
static const struct {
    const char *name;
    int64_t min, max;
    size_t offset; //  in s_options_t
} s_int_opts[] = {{"--orders", 1, ORDERS_MAX, offsetof (s_options_t, orders)},
                  {"--rate", 0, RATE_MAX, offsetof (s_options_t, rate)},
                  {"--skus", 1, SKUS_MAX, offsetof (s_options_t, skus)},
                  {"--window", 1, WINDOW_MAX, offsetof (s_options_t, window)},
                  {"--declines", 0, 100, offsetof (s_options_t, declines)}};

//  An order is unsent, sent (no reply yet), placed (the service took it,
//  as its reply or its terminal event says), then final: confirmed,
//  cancelled, or refused by the service.
enum { S_UNSENT, S_SENT, S_PLACED, S_CONFIRMED, S_CANCELLED, S_REFUSED };

typedef struct {
    uint64_t start_ns; //  when the order was due (or sent, at full speed)
    uint8_t state;
} s_order_t;

typedef enum { K_PLACE, K_REPLACE, K_GET } s_kind_t;

//  A request awaiting its reply.
typedef struct {
    uint64_t sent_ns;
    uint32_t index;
    uint8_t kind;
} s_pending_t;

typedef struct {
    cli_t *cli;
    s_options_t opt;
    bool tty;
    char run[9];              //  8 hex digits
    char customer_prefix[32]; //  "load-<run>-c"
    size_t customer_prefix_len;
    oms_request_t req; //  the request being built and sent
    cli_event_t event; //  the message being read

    s_order_t *orders;
    uint64_t next;        //  the next order to place
    uint64_t final;       //  orders confirmed, cancelled or refused
    cli_client_t *client; //  to the order service
    s_pending_t *ring;
    size_t ring_head, ring_count;
    zsock_t *sub;
    bool live; //  a heartbeat came: the subscription is in place
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

static uint64_t
s_min (uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

// ---------------------------------------------------------------------------
//  Options

//  "card:70,wallet:10,upi:10,cod:10"; a method without ":weight" weighs 1.
static int
s_parse_mix (const char *text, s_options_t *opt)
{
    char error[256], copy[256];
    if (strlen (text) >= sizeof copy)
        return cli_fail ("--pay is too long");
    snprintf (copy, sizeof copy, "%s", text);
    char *save = NULL;
    for (char *part = strtok_r (copy, ",", &save); part; part = strtok_r (NULL, ",", &save)) {
        if (opt->n_methods == METHODS_MAX)
            return cli_fail ("--pay names more than %d methods", METHODS_MAX);
        int64_t weight = 1;
        char *colon = strchr (part, ':');
        if (colon)
            *colon = '\0';
        if (colon &&
            cli_parse_int ("--pay weight", colon + 1, 0, 1000000, &weight, error, sizeof error))
            return cli_fail ("%s", error);
        if (cli_check_method (part, error, sizeof error))
            return cli_fail ("%s", error);
        for (size_t i = 0; i < opt->n_methods; i++)
            if (strcmp (opt->methods[i].name, part) == 0)
                return cli_fail ("--pay names %s twice", part);
        snprintf (opt->methods[opt->n_methods].name, OMS_NAME_MAX + 1, "%s", part);
        opt->methods[opt->n_methods++].weight = weight;
        opt->weight_total += weight;
    }
    if (opt->n_methods == 0 || opt->weight_total == 0)
        return cli_fail ("--pay needs METHOD[:WEIGHT],... with a weight above 0");
    return 0;
}

static int
s_parse_options (const cli_args_t *args, s_options_t *opt)
{
    char error[256];
    *opt = (s_options_t){.skus = 100, .window = 1000, .timeout_s = TIMEOUT_S};
    if (!cli_args_value (args, "--orders"))
        return cli_fail ("--orders N is required");
    for (size_t i = 0; i < sizeof s_int_opts / sizeof s_int_opts[0]; i++) {
        const char *text = cli_args_value (args, s_int_opts[i].name);
        int64_t *value = (int64_t *) ((char *) opt + s_int_opts[i].offset);
        if (text && cli_parse_int (s_int_opts[i].name, text, s_int_opts[i].min, s_int_opts[i].max,
                                   value, error, sizeof error))
            return cli_fail ("%s", error);
    }
    const char *timeout = cli_args_value (args, "--timeout");
    if (timeout &&
        cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &opt->timeout_s, error, sizeof error))
        return cli_fail ("%s", error);
    const char *mix = cli_args_value (args, "--pay");
    return s_parse_mix (mix ? mix : "card", opt);
}

// ---------------------------------------------------------------------------
//  The requests: set-up (the run's SKUs, the wallets of the orders that pay
//  by wallet) and each order's place command

static const char *
s_method_of (const s_load_t *self, uint64_t index)
{
    int64_t pick = (int64_t) (s_mix (SEED ^ (index << 8)) % (uint64_t) self->opt.weight_total);
    size_t i = 0;
    while (i + 1 < self->opt.n_methods && (pick -= self->opt.methods[i].weight) >= 0)
        i++;
    return self->opt.methods[i].name;
}

//  The names that set-up and the orders must agree on.
static void
s_sku (const s_load_t *self, uint64_t k, char *buf, size_t size)
{
    snprintf (buf, size, "load-%s-%u", self->run, (unsigned) k); //  k < SKUS_MAX
}

static void
s_customer (const s_load_t *self, uint64_t index, char *buf, size_t size)
{
    snprintf (buf, size, "%s%" PRIu64, self->customer_prefix, index);
}

static bool
s_build_stock (s_load_t *self, uint64_t k, oms_request_t *req)
{
    cli_request_init (req, "stock.set");
    s_sku (self, k, req->sku, sizeof req->sku);
    req->qty = STOCK_QTY;
    req->price_cents = 199 + (int64_t) (k % 50) * 100;
    return true;
}

//  false: order `index` pays otherwise, and needs no wallet.
static bool
s_build_wallet (s_load_t *self, uint64_t index, oms_request_t *req)
{
    if (strcmp (s_method_of (self, index), "wallet") != 0)
        return false;
    cli_request_init (req, "wallet.credit");
    s_customer (self, index, req->customer, sizeof req->customer);
    req->amount_cents = WALLET_CENTS;
    return true;
}

//  Like the peer's orders: 1-3 lines of quantity 1-3 over the run's SKUs,
//  each SKU at most once.
static void
s_build_place (s_load_t *self, uint64_t index, oms_request_t *req)
{
    uint64_t h = s_mix (SEED + index);
    const char *method = s_method_of (self, index);
    cli_request_init (req, "place");
    snprintf (req->request_id, sizeof req->request_id, "load-%s-r%" PRIu64, self->run, index);
    s_customer (self, index, req->customer, sizeof req->customer);
    snprintf (req->method, sizeof req->method, "%s", method);
    if (strcmp (method, "card") == 0) {
        bool declined = (int64_t) (s_mix (h) % 100) < self->opt.declines;
        snprintf (req->card, sizeof req->card, "%s", declined ? CARD_DECLINED : CARD_APPROVED);
    }
    uint64_t skus = (uint64_t) self->opt.skus, chosen[3];
    req->n_items = (uint32_t) s_min (1 + h % 3, skus);
    for (uint32_t line = 0; line < req->n_items; line++) {
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
}

// ---------------------------------------------------------------------------
//  Events

static bool
s_is_final (uint8_t state)
{
    return state >= S_CONFIRMED;
}

static void
s_finish (s_load_t *self, uint64_t index, bool confirmed, uint64_t now)
{
    s_order_t *order = &self->orders[index];
    //  Its reply may have been lost or be still on its way; the service did
    //  place it.
    self->placed += order->state < S_PLACED;
    order->state = confirmed ? S_CONFIRMED : S_CANCELLED;
    cli_histogram_record (self->latency, now > order->start_ns ? now - order->start_ns : 0);
    self->confirmed += confirmed;
    self->cancelled += !confirmed;
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
    size_t len = strspn (digits, "0123456789");
    uint64_t index = len && len <= 10 && !digits[len] ? strtoull (digits, NULL, 10) : UINT64_MAX;
    return index < (uint64_t) self->opt.orders ? (int64_t) index : -1;
}

//  Reads what the bus holds, up to RECV_BURST messages: terminal events
//  (the run's finish their orders; any client's count as seen) and, until
//  the unsubscription arrives, heartbeats.
static void
s_drain_events (s_load_t *self)
{
    char error[512];
    for (int i = 0; i < RECV_BURST; i++) {
        self->event.topic[0] = '\0'; //  stays so when there is no topic to read
        int rc = cli_event_recv (self->sub, &self->event, error, sizeof error);
        const char *topic = self->event.topic;
        bool confirmed = strcmp (topic, "order.confirmed") == 0;
        bool terminal = confirmed || strcmp (topic, "order.cancelled") == 0;
        self->live =
            self->live || strncmp (topic, OMS_HEARTBEAT_PREFIX, strlen (OMS_HEARTBEAT_PREFIX)) == 0;
        self->terminal_seen += terminal;
        self->undecodable += rc < 0 && (terminal || !topic[0]);
        int64_t index =
            rc == 0 && terminal ? s_index_of (self, self->event.event.data.customer) : -1;
        cli_event_release (&self->event);
        if (rc == 1)
            break;
        if (index < 0)
            continue; //  not an event of the run
        uint64_t now = oms_clock_steady_ns ();
        self->last_event_ns = now;
        self->quiet_ns = QUIET_MS * MS; //  events flow: back to the first spell
        self->heads_checked = false;
        if (s_is_final (self->orders[index].state))
            self->duplicates++;
        else
            s_finish (self, (uint64_t) index, confirmed, now);
    }
}

//  Waits for a heartbeat: proof that the subscription reached the broker,
//  so that no terminal event of the run can be missed for want of it.
static int
s_wait_live (s_load_t *self)
{
    uint64_t deadline = oms_clock_steady_ns () + HEARTBEAT_WAIT_MS * MS;
    zmq_pollitem_t item = {zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0};
    for (s_drain_events (self); !self->live; s_drain_events (self)) {
        uint64_t now = oms_clock_steady_ns ();
        if (now >= deadline)
            return cli_fail ("no heartbeat from the broker at %s within %d s",
                             oms_config_str (self->cli->config, "broker/backend"),
                             HEARTBEAT_WAIT_MS / 1000);
        zmq_poll (&item, 1, (long) ((deadline - now) / MS + 1));
    }
    zsock_set_unsubscribe (self->sub, OMS_HEARTBEAT_PREFIX);
    return 0;
}

// ---------------------------------------------------------------------------
//  Set-up, before the clock starts

//  A client of `service`'s api, or NULL after printing why.
static cli_client_t *
s_client (s_load_t *self, const char *service)
{
    char error[512];
    cli_client_t *client = cli_client_new (
        service, oms_config_service (self->cli->config, service, "api"), error, sizeof error);
    if (!client)
        cli_fail ("%s", error);
    return client;
}

//  Sends the requests build() makes for 0..n-1 to `service`, with up to
//  `window` unanswered; every one must be accepted. Returns how many were
//  sent, or -1 after printing why.
static int64_t
s_pipeline (s_load_t *self, const char *service, uint64_t n,
            bool (*build) (s_load_t *self, uint64_t index, oms_request_t *req))
{
    char error[512];
    int timeout_ms = self->cli->timeout_ms;
    cli_client_t *client = s_client (self, service);
    if (!client)
        return -1;
    zmq_pollitem_t item = {zsock_resolve (cli_client_socket (client)), 0, ZMQ_POLLIN, 0};
    uint64_t index = 0, sent = 0, answered = 0;
    int rc = 0;
    while (index < n || answered < sent) {
        bool room = index < n && sent - answered < (uint64_t) self->opt.window;
        if (room && !build (self, index, &self->req)) {
            index++;
            continue;
        }
        if (room && (rc = cli_client_send (client, &self->req, error, sizeof error)) == 0) {
            index++, sent++;
            continue;
        }
        //  A reply is due, or the socket's queue is full: take one first.
        cli_reply_t *reply = NULL;
        if (rc && (rc != OMS_E_TIMEOUT || sent == answered))
            break;
        if (zmq_poll (&item, 1, timeout_ms) <= 0) {
            rc = -1;
            snprintf (error, sizeof error, "%s service at %s did not answer within %d ms", service,
                      cli_client_endpoint (client), timeout_ms);
        }
        else if ((rc = cli_client_recv (client, &reply, error, sizeof error)) == 0 &&
                 !cli_reply_ok (reply)) {
            rc = -1;
            cli_reply_error (reply, error, sizeof error);
        }
        cli_reply_destroy (&reply);
        if (rc)
            break;
        answered++;
    }
    if (rc)
        cli_fail ("%s", error);
    cli_client_destroy (&client);
    return rc ? -1 : (int64_t) sent;
}

//  The "seq" of the entry of `list` (heads or positions in a status reply)
//  whose topic is `topic`; -1 when there is none.
static int64_t
s_topic_seq (cli_reply_t *reply, const char *list, const char *topic)
{
    const msgpack_object *array = cli_map_get (cli_reply_map (reply), list);
    uint32_t size = array && array->type == MSGPACK_OBJECT_ARRAY ? array->via.array.size : 0;
    for (uint32_t i = 0; i < size; i++) {
        const msgpack_object *entry = &array->via.array.ptr[i];
        const msgpack_object *name = cli_map_get (entry, "topic");
        int64_t seq = 0;
        if (name && cli_str_eq (name, topic) && cli_map_int (entry, "seq", &seq) == 0)
            return seq;
    }
    return -1;
}

//  The order service refuses SKUs it has not learnt from catalog.updated:
//  wait until it has applied every catalog.updated inventory has published.
static int
s_wait_catalog (s_load_t *self)
{
    cli_request_init (&self->req, "status");
    cli_reply_t *reply = cli_call (self->cli, "inventory", &self->req, 1);
    if (!reply)
        return 1;
    int64_t head = s_topic_seq (reply, "heads", "catalog.updated");
    cli_reply_destroy (&reply);
    if (head < 0)
        return cli_malformed ("inventory", "heads");
    uint64_t deadline = oms_clock_steady_ns () + SETUP_TIMEOUT_MS * MS;
    while ((reply = cli_call (self->cli, "order", &self->req, 1))) {
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
    return 1;
}

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

// ---------------------------------------------------------------------------
//  Requests to the order service, and their replies

static bool
s_ring_full (const s_load_t *self)
{
    return self->ring_count >= (size_t) self->opt.window;
}

//  When the oldest request on the ring is overdue.
static uint64_t
s_overdue (const s_load_t *self)
{
    return self->ring[self->ring_head].sent_ns + (uint64_t) self->cli->timeout_ms * MS;
}

//  When order `index` is due.
static uint64_t
s_due (const s_load_t *self, uint64_t index)
{
    return self->t0 + (uint64_t) ((double) index * 1e9 / (double) self->opt.rate);
}

//  Sends a request about order `index` and queues it on the ring: the
//  order's place command (the same bytes each time), or for K_GET `get` of
//  the order id (len bytes). 0 sent, 1 not now (the socket's queue is
//  full), -1 failed (printed).
static int
s_send (s_load_t *self, uint64_t index, s_kind_t kind, const char *order_id, size_t len)
{
    char error[512];
    if (kind == K_GET) {
        cli_request_init (&self->req, "get");
        memcpy (self->req.order_id, order_id, len); //  len <= OMS_ID_MAX; the rest is zero
    }
    else
        s_build_place (self, index, &self->req);
    int rc = cli_client_send (self->client, &self->req, error, sizeof error);
    if (rc && rc != OMS_E_TIMEOUT)
        cli_fail ("%s", error);
    if (rc)
        return rc == OMS_E_TIMEOUT ? 1 : -1;
    self->ring[(self->ring_head + self->ring_count++) % (size_t) self->opt.window] =
        (s_pending_t){oms_clock_steady_ns (), (uint32_t) index, (uint8_t) kind};
    return 0;
}

//  The orders that are due. 0, or 1 after printing why not.
static int
s_send_due (s_load_t *self)
{
    for (int burst = 0;
         burst < SEND_BURST && self->next < (uint64_t) self->opt.orders && !s_ring_full (self);
         burst++) {
        uint64_t now = oms_clock_steady_ns ();
        uint64_t due = self->opt.rate > 0 ? s_due (self, self->next) : now;
        if (due > now)
            break;
        int rc = s_send (self, self->next, K_PLACE, NULL, 0);
        if (rc)
            return rc < 0;
        s_order_t *order = &self->orders[self->next];
        order->start_ns = due;
        if (order->state == S_UNSENT)
            order->state = S_SENT;
        if (self->next++ == 0)
            self->first_send_ns = now;
    }
    return 0;
}

//  A pass over the orders not yet terminal: place again (same request id),
//  whose reply gives the order id to `get`. 0, or 1 after printing why not.
static int
s_send_polls (s_load_t *self)
{
    for (; self->polling && !s_ring_full (self); self->poll_at++) {
        if (self->poll_at >= (uint64_t) self->opt.orders) {
            //  A slow cluster, not a lossy bus, is the likelier cause of a
            //  quiet spell: wait longer before the next pass, so that asking
            //  does not add to its load.
            self->polling = false;
            self->last_event_ns = oms_clock_steady_ns ();
            if (self->quiet_ns < QUIET_MAX_MS * MS)
                self->quiet_ns *= 2;
            break;
        }
        int rc = s_is_final (self->orders[self->poll_at].state)
                     ? 0
                     : s_send (self, self->poll_at, K_REPLACE, NULL, 0);
        if (rc)
            return rc < 0;
    }
    return 0;
}

//  The reply to `pending`. 0, or 1 after printing why the run cannot go on.
static int
s_on_reply (s_load_t *self, const s_pending_t *pending, cli_reply_t *reply)
{
    s_order_t *order = &self->orders[pending->index];
    bool ok = cli_reply_ok (reply);
    if (pending->kind == K_GET) {
        const msgpack_object *status = ok ? cli_map_get (cli_reply_map (reply), "status") : NULL;
        bool confirmed = status && cli_str_eq (status, "CONFIRMED");
        bool cancelled = status && cli_str_eq (status, "CANCELLED");
        if ((confirmed || cancelled) && !s_is_final (order->state)) {
            self->polled++;
            s_finish (self, pending->index, confirmed, oms_clock_steady_ns ());
        }
        return 0;
    }
    if (!ok) {
        if (s_is_final (order->state))
            return 0;
        order->state = S_REFUSED;
        self->refused++;
        self->final++;
        if (!self->refusal[0])
            cli_reply_error (reply, self->refusal, sizeof self->refusal);
        return 0;
    }
    const char *order_id = NULL;
    size_t len = 0;
    if (cli_map_str (cli_reply_map (reply), "order_id", &order_id, &len) != 0 || len == 0 ||
        len > OMS_ID_MAX)
        return cli_malformed ("order", "order_id");
    if (order->state == S_SENT) {
        order->state = S_PLACED;
        self->placed++;
    }
    //  The ring has room: this reply just left it.
    if (pending->kind == K_REPLACE && !s_is_final (order->state))
        return s_send (self, pending->index, K_GET, order_id, len) < 0;
    return 0;
}

//  The replies that came. 0, or 1 after printing why the run cannot go on.
static int
s_drain_replies (s_load_t *self)
{
    char error[512];
    int rc = 0;
    for (int i = 0; rc == 0 && i < RECV_BURST; i++) {
        if (!(zsock_events (cli_client_socket (self->client)) & ZMQ_POLLIN))
            break;
        cli_reply_t *reply = NULL;
        if (cli_client_recv (self->client, &reply, error, sizeof error))
            return cli_fail ("%s", error);
        //  With nothing asked the reply is not ours to match (and reading it
        //  keeps the socket from staying readable forever).
        if (self->ring_count > 0) {
            s_pending_t pending = self->ring[self->ring_head];
            self->ring_head = (self->ring_head + 1) % (size_t) self->opt.window;
            self->ring_count--;
            rc = s_on_reply (self, &pending, reply);
        }
        cli_reply_destroy (&reply);
    }
    return rc;
}

//  A reply overdue: start again on a fresh connection. The orders whose
//  requests were in the ring are asked about by the next pass.
static int
s_check_overdue (s_load_t *self, uint64_t now)
{
    if (self->ring_count == 0 || now < s_overdue (self))
        return 0;
    cli_client_destroy (&self->client);
    self->ring_head = self->ring_count = 0;
    self->reconnects++;
    fprintf (stderr, "%soms: the order service did not answer within %d ms; reconnecting\n",
             self->tty ? "\r\033[K" : "", self->cli->timeout_ms);
    return (self->client = s_client (self, "order")) ? 0 : 1;
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
    uint64_t now = oms_clock_steady_ns ();
    //  Reading ZMQ_EVENTS also re-arms the edge-triggered ZMQ_FD.
    if ((zsock_events (dealer) & ZMQ_POLLIN) || (zsock_events (self->sub) & ZMQ_POLLIN) ||
        wake <= now)
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
    cli_reply_t *reply = NULL;
    int64_t confirmed = -1, cancelled = -1;
    cli_client_t *client = cli_client_new (
        "order", oms_config_service (self->cli->config, "order", "api"), error, sizeof error);
    cli_request_init (&self->req, "status");
    if (client &&
        cli_client_call (client, &self->req, self->cli->timeout_ms, 1, &reply, error,
                         sizeof error) == 0 &&
        cli_reply_ok (reply)) {
        confirmed = s_topic_seq (reply, "heads", "order.confirmed");
        cancelled = s_topic_seq (reply, "heads", "order.cancelled");
    }
    cli_reply_destroy (&reply);
    cli_client_destroy (&client);
    if (confirmed < 0 || cancelled < 0)
        return -1;
    *sum = (uint64_t) confirmed + (uint64_t) cancelled;
    return 0;
}

//  After a quiet spell: whether asking about the unfinished orders can
//  find anything. It can when an order's place command was never answered
//  (and none is awaited), or when terminal events the order service had
//  published by the previous quiet spell have still not arrived (events
//  published just now may only be on their way), or when it published none
//  since then. Otherwise the cluster is only slow, and asking would slow it
//  further.
static bool
s_need_pass (s_load_t *self)
{
    for (uint64_t i = 0; self->ring_count == 0 && i < (uint64_t) self->opt.orders; i++)
        if (self->orders[i].state == S_SENT)
            return true;
    uint64_t heads = 0;
    if (!self->heads_known || s_terminal_heads (self, &heads) != 0)
        return true;
    bool lost = self->heads_checked && self->heads_seen - self->heads_base > self->terminal_seen;
    //  Nothing terminal published for a whole spell with orders unfinished:
    //  the cluster is not slow but done, and some order may never have been
    //  placed. When the order service restarts, the DEALER reconnects under
    //  the ring, and the new process's replies are matched to requests the
    //  old one read and never answered.
    bool stalled = self->heads_checked && heads == self->heads_seen;
    self->heads_seen = heads;
    self->heads_checked = true;
    return lost || stalled;
}

static int
s_drive (s_load_t *self)
{
    uint64_t orders = (uint64_t) self->opt.orders;
    uint64_t next_progress = 0, deadline = UINT64_MAX;
    self->heads_known = s_terminal_heads (self, &self->heads_base) == 0;
    self->terminal_seen = self->undecodable = 0; //  counted from here on
    self->t0 = oms_clock_steady_ns ();
    self->quiet_ns = QUIET_MS * MS;
    while (self->final < orders) {
        if (s_send_due (self) || s_drain_replies (self))
            return 1;
        s_drain_events (self);
        uint64_t now = oms_clock_steady_ns ();
        if (s_check_overdue (self, now))
            return 1;
        bool all_sent = self->next == orders;
        if (all_sent && deadline == UINT64_MAX) {
            deadline = now + (uint64_t) (self->opt.timeout_s * 1e9);
            self->last_event_ns = self->last_event_ns < now ? now : self->last_event_ns;
        }
        if (now >= deadline)
            break;
        if (all_sent && !self->polling && now - self->last_event_ns >= self->quiet_ns) {
            self->polling = s_need_pass (self);
            self->poll_at = 0;
            if (!self->polling)
                self->last_event_ns = oms_clock_steady_ns ();
        }
        if (s_send_polls (self))
            return 1;
        if (self->tty && now >= next_progress) {
            s_progress (self, now);
            next_progress = now + PROGRESS_MS * MS;
        }
        uint64_t wake = self->tty ? s_min (deadline, next_progress) : deadline;
        if (!all_sent && !s_ring_full (self))
            wake = s_min (wake, self->opt.rate > 0 ? s_due (self, self->next) : now);
        if (self->ring_count > 0)
            wake = s_min (wake, s_overdue (self));
        if (all_sent && !self->polling)
            wake = s_min (wake, self->last_event_ns + self->quiet_ns);
        s_wait (self, wake);
    }
    if (self->tty)
        fputs ("\r\033[K", stderr);
    return 0;
}

// ---------------------------------------------------------------------------
//  The report: one table of figures, written as JSON or as text

static void
s_report (s_load_t *self)
{
    const s_options_t *opt = &self->opt;
    cli_histogram_t *h = self->latency;
    uint64_t end =
        self->last_terminal_ns > self->first_send_ns ? self->last_terminal_ns : self->first_send_ns;
    double elapsed = (double) (end - self->first_send_ns) / 1e9;
    double terminal = (double) (self->confirmed + self->cancelled);
    //  Text shows `text`, the value and `after`; a figure without text is
    //  only in JSON. Counts are exact as doubles (they are below 2^53).
    const struct {
        const char *key, *text;
        double value;
        int decimals;
        const char *after;
    } figures[] = {
        {"orders", "orders       ", (double) opt->orders, 0, opt->rate ? " (" : " (full speed"},
        {"rate", opt->rate ? "" : NULL, (double) opt->rate, 0, "/s"},
        {"window", ", window ", (double) opt->window, 0, ""},
        {"skus", ", ", (double) opt->skus, 0, " SKUs)\n"},
        {"placed", "placed       ", (double) self->placed, 0, "\n"},
        {"refused", "refused      ", (double) self->refused, 0, "\n"},
        {"confirmed", "confirmed    ", (double) self->confirmed, 0, "\n"},
        {"cancelled", "cancelled    ", (double) self->cancelled, 0, "\n"},
        {"unfinished", "unfinished   ", (double) ((uint64_t) opt->orders - self->final), 0, "\n"},
        {"polled", "polled       ", (double) self->polled, 0,
         " (terminal found by asking, not by event)\n"},
        {"duplicates", NULL, (double) self->duplicates, 0, NULL},
        {"undecodable", NULL, (double) self->undecodable, 0, NULL},
        {"reconnects", NULL, (double) self->reconnects, 0, NULL},
        {"elapsed_s", "elapsed      ", elapsed, 3, " s\n"},
        {"orders_per_s", "orders/s     ", elapsed > 0 ? terminal / elapsed : 0, 1, "\n"},
        {"p50_ms", "latency ms   p50 ", cli_histogram_percentile (h, 50) / 1e6, 3, ""},
        {"p90_ms", "  p90 ", cli_histogram_percentile (h, 90) / 1e6, 3, ""},
        {"p99_ms", "  p99 ", cli_histogram_percentile (h, 99) / 1e6, 3, ""},
        {"p999_ms", "  p99.9 ", cli_histogram_percentile (h, 99.9) / 1e6, 3, ""},
        {"max_ms", "  max ", cli_histogram_max (h) / 1e6, 3, ""},
        {"mean_ms", "  mean ", cli_histogram_mean (h) / 1e6, 3, "\n"},
    };
    bool json = self->cli->json;
    printf (json ? "{\"run\": \"%s\"" : "run          %s\n", self->run);
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (json)
            printf (", \"%s\": %.*f", figures[i].key, figures[i].decimals, figures[i].value);
        else if (figures[i].text)
            printf ("%s%.*f%s", figures[i].text, figures[i].decimals, figures[i].value,
                    figures[i].after);
    if (json)
        puts ("}");
}

// ---------------------------------------------------------------------------
//  oms load

int
cli_cmd_load (cli_t *self)
{
    char error[512];
    if (cli_expect (self, 0, 0))
        return 1;
    s_load_t load = {.cli = self, .tty = !self->json && isatty (STDERR_FILENO)};
    if (s_parse_options (&self->args, &load.opt))
        return 1;
    self->timeout_ms = (int) s_min ((uint64_t) self->timeout_ms, REPLY_MAX_MS);
    uint64_t seed =
        s_mix ((uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32) ^ oms_clock_steady_ns ());
    snprintf (load.run, sizeof load.run, "%08" PRIx32, (uint32_t) seed);
    load.customer_prefix_len = (size_t) snprintf (load.customer_prefix, sizeof load.customer_prefix,
                                                  "load-%s-c", load.run);
    int exit_code = 1;
    load.orders = (s_order_t *) calloc ((size_t) load.opt.orders, sizeof (s_order_t));
    load.ring = (s_pending_t *) calloc ((size_t) load.opt.window, sizeof (s_pending_t));
    load.latency = cli_histogram_new (HISTOGRAM_HIGHEST, HISTOGRAM_BITS);
    if (!load.orders || !load.ring || !load.latency) {
        cli_fail ("out of memory for %" PRId64 " orders", load.opt.orders);
        goto leave;
    }
    //  Subscribe first: the subscription travels to the broker during
    //  set-up. Heartbeats last: once one arrives, the subscriptions before
    //  it are in place at the broker too.
    const char *topics[] = {"order.confirmed", "order.cancelled", OMS_HEARTBEAT_PREFIX};
    load.sub = cli_subscribe (topics, 3, SUB_HWM, error, sizeof error);
    if (!load.sub)
        cli_fail ("%s", error);
    if (!load.sub || s_setup (&load) || !(load.client = s_client (&load, "order")) ||
        s_drive (&load))
        goto leave;
    s_report (&load);
    uint64_t unfinished = (uint64_t) load.opt.orders - load.final;
    if (load.refused)
        cli_fail ("%" PRIu64 " orders were refused, the first with: %s", load.refused,
                  load.refusal);
    if (unfinished)
        cli_fail ("%" PRIu64 " orders were not terminal after %g s", unfinished,
                  load.opt.timeout_s);
    exit_code = load.refused || unfinished ? 1 : 0;
leave:
    cli_client_destroy (&load.client);
    zsock_destroy (&load.sub);
    cli_histogram_destroy (&load.latency);
    free (load.ring);
    free (load.orders);
    return exit_code;
}
