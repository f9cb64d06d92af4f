/*  seed: writes the fuzz targets' seed corpus.

        fuzz_seed DIR       writes DIR/<target>/<name> for every target

    Valid inputs come from the real encoders (the event factories and
    oms_event_encode, oms_request_encode, the replay answer's layout from
    oms_service.c); malformed ones are those same bytes cut, extended or
    built by hand to break one rule each, so that the fuzzer starts next to
    every error path. The output is committed in tests/fuzz/corpus/; run
    this again after a change to the wire format.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oms_proto.h"
#include "sample_events.h"

static const char *s_root;

static void
s_die (const char *what)
{
    fprintf (stderr, "fuzz_seed: %s: %s\n", what, strerror (errno));
    exit (1);
}

static void
s_mkdir (const char *path)
{
    if (mkdir (path, 0755) && errno != EEXIST)
        s_die (path);
}

static void
s_write (const char *target, const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", s_root, target);
    s_mkdir (path);
    snprintf (path, sizeof path, "%s/%s/%s", s_root, target, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (data, 1, size, file) != size || fclose (file))
        s_die (path);
}

static void
s_write_buffer (const char *target, const char *name, const msgpack_sbuffer *buffer)
{
    s_write (target, name, buffer->data, buffer->size);
}

static void
s_pack_str (msgpack_packer *pk, const char *value)
{
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

// ---------------------------------------------------------------------------
//  Events

static void
s_encode_event (const oms_event_t *event, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    int rc = oms_event_encode (event, buffer);
    if (rc) {
        fprintf (stderr, "fuzz_seed: %s does not encode: %s\n", event->type, oms_strerror (rc));
        exit (1);
    }
}

//  An envelope around `data`, packed by hand so that any key can be wrong.
static void
s_envelope (msgpack_sbuffer *buffer, uint64_t version, const char *type, const char *producer,
            const char *extra_key)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, extra_key ? 9 : 8);
    s_pack_str (&pk, "version");
    msgpack_pack_uint64 (&pk, version);
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "order/order.confirmed/1");
    s_pack_str (&pk, "type");
    s_pack_str (&pk, type);
    s_pack_str (&pk, "producer");
    s_pack_str (&pk, producer);
    s_pack_str (&pk, "epoch");
    msgpack_pack_uint64 (&pk, UINT64_C (0x0123456789abcdef));
    s_pack_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, 1);
    s_pack_str (&pk, "ts_ns");
    msgpack_pack_uint64 (&pk, UINT64_C (1700000000000000000));
    if (extra_key) {
        s_pack_str (&pk, extra_key);
        msgpack_pack_nil (&pk);
    }
    s_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "order_id");
    s_pack_str (&pk, "o-1");
    s_pack_str (&pk, "customer");
    s_pack_str (&pk, "alice");
    s_pack_str (&pk, "amount_cents");
    msgpack_pack_int64 (&pk, 2500);
}

static void
s_events (void)
{
    static oms_event_t events[SAMPLE_EVENTS];
    sample_events_build (events);
    msgpack_sbuffer buffer;
    for (size_t i = 0; i < SAMPLE_EVENTS; i++) {
        sample_event_stamp (&events[i], 1);
        s_encode_event (&events[i], &buffer);
        s_write_buffer ("event", events[i].type, &buffer);
        msgpack_sbuffer_destroy (&buffer);
    }

    //  Every optional key, and the largest arrays.
    static oms_event_t event;
    oms_item_t items[OMS_ITEMS_MAX];
    for (int i = 0; i < OMS_ITEMS_MAX; i++) {
        snprintf (items[i].sku, sizeof items[i].sku, "SKU-%d", i);
        items[i].qty = i == 0 ? OMS_QTY_MAX : i + 1;
    }
    oms_event_order_placed (&event, "order-0123456789", "customer@example.com", items,
                            OMS_ITEMS_MAX, "card", "0000");
    sample_event_stamp (&event, UINT64_MAX);
    snprintf (event.causation_id, sizeof event.causation_id, "cmd/r-1");
    s_encode_event (&event, &buffer);
    s_write_buffer ("event", "order.placed-64-items", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    oms_head_t heads[OMS_HEADS_MAX];
    for (int i = 0; i < OMS_HEADS_MAX; i++) {
        snprintf (heads[i].topic, sizeof heads[i].topic, "%s", oms_event_types[i % 10].type);
        heads[i].seq = (uint64_t) 1 << (i * 4);
    }
    oms_event_heartbeat (&event, "notification", "notification-7@host-b:4242", "0.1.0-dev",
                         UINT64_MAX, heads, OMS_HEADS_MAX, heads, OMS_HEADS_MAX);
    sample_event_stamp (&event, 99);
    s_encode_event (&event, &buffer);
    s_write_buffer ("event", "heartbeat-16-heads", &buffer);

    //  Malformed: cut, extended, and one broken rule each.
    s_write ("event", "bad-truncated", buffer.data, buffer.size - 1);
    msgpack_sbuffer_write (&buffer, "\x00", 1);
    s_write_buffer ("event", "bad-trailing", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    s_envelope (&buffer, 2, "order.confirmed", "order", NULL);
    s_write_buffer ("event", "bad-version", &buffer);
    msgpack_sbuffer_destroy (&buffer);
    s_envelope (&buffer, 1, "order.confirmed", "payment", NULL);
    s_write_buffer ("event", "bad-producer", &buffer);
    msgpack_sbuffer_destroy (&buffer);
    s_envelope (&buffer, 1, "order.unknown", "order", NULL);
    s_write_buffer ("event", "bad-type", &buffer);
    msgpack_sbuffer_destroy (&buffer);
    s_envelope (&buffer, 1, "order.confirmed", "order", "seq");
    s_write_buffer ("event", "bad-duplicate-nil", &buffer);
    msgpack_sbuffer_destroy (&buffer);
    s_envelope (&buffer, 1, "order.confirmed", "order", "colour");
    s_write_buffer ("event", "bad-unknown-key", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    //  A fixmap of nine nested fixmaps, one level too deep; a map 32 that
    //  claims four billion entries; the reserved byte.
    static const uint8_t deep[] = {0x81, 0xa1, 'a',  0x81, 0xa1, 'a',  0x81, 0xa1, 'a',  0x81,
                                   0xa1, 'a',  0x81, 0xa1, 'a',  0x81, 0xa1, 'a',  0x81, 0xa1,
                                   'a',  0x81, 0xa1, 'a',  0x81, 0xa1, 'a',  0x80};
    s_write ("event", "bad-depth", deep, sizeof deep);
    static const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01};
    s_write ("event", "bad-huge-map", huge, sizeof huge);
    static const uint8_t reserved[] = {0x81, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0xc1};
    s_write ("event", "bad-reserved-byte", reserved, sizeof reserved);
}

// ---------------------------------------------------------------------------
//  Commands

static void
s_request (const char *name, const oms_request_t *request)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = oms_request_encode (request, &buffer);
    if (rc) {
        fprintf (stderr, "fuzz_seed: %s does not encode: %s\n", request->cmd, oms_strerror (rc));
        exit (1);
    }
    s_write_buffer ("command", name, &buffer);
    msgpack_sbuffer_destroy (&buffer);
}

static void
s_commands (void)
{
    //  One valid request per command, with every optional key set.
    static const oms_request_t requests[] = {
        {.cmd = "place",
         .request_id = "r-1",
         .customer = "alice",
         .items = {{"SKU-1", 2}, {"SKU-2", 1}},
         .n_items = 2,
         .method = "card",
         .card = "4242424242424242"},
        {.cmd = "cancel", .order_id = "o-1"},
        {.cmd = "get", .order_id = "o-1"},
        {.cmd = "orders.list",
         .status = "PENDING,RESERVED",
         .customer = "alice",
         .since_ns = 3600000000000,
         .older_than_ns = 30000000000,
         .limit = 1000,
         .page = "00000000000003f6o-14"},
        {.cmd = "stock.set", .sku = "SKU-1", .qty = 100, .price_cents = 1250},
        {.cmd = "stock.get", .sku = "SKU-1"},
        {.cmd = "wallet.credit", .customer = "alice", .amount_cents = 100000},
        {.cmd = "wallet.get", .customer = "alice"},
        {.cmd = "notifications", .order_id = "o-1", .customer = "alice"},
        {.cmd = "channel.set", .customer = "alice", .channel = "sms"},
        {.cmd = "replay", .topic = "order.placed", .from = 1, .max = 4096},
        {.cmd = "status"},
        {.cmd = "position.set", .topic = "stock.reserved", .seq = 42},
        {.cmd = "metrics"},
        {.cmd = "dlq.list"},
        {.cmd = "dlq.show", .id = 1},
        {.cmd = "dlq.retry", .id = 2},
        {.cmd = "dlq.drop", .id = UINT64_MAX},
        {.cmd = "trace", .order_id = "o-1"},
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        s_request (requests[i].cmd, &requests[i]);

    //  Malformed: one broken rule each.
    msgpack_sbuffer buffer;
    msgpack_packer pk;
    struct {
        const char *name;
        const char *key; //  a second key after "cmd", or NULL
        const char *cmd; //  NULL: "cmd" is an integer
    } cases[] = {
        {"bad-unknown-cmd", NULL, "launch"},
        {"bad-cmd-type", NULL, NULL},
        {"bad-unknown-key", "colour", "status"},
        {"bad-duplicate-cmd", "cmd", "status"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer_init (&buffer);
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, cases[i].key ? 2 : 1);
        s_pack_str (&pk, "cmd");
        if (cases[i].cmd)
            s_pack_str (&pk, cases[i].cmd);
        else
            msgpack_pack_int (&pk, 7);
        if (cases[i].key) {
            s_pack_str (&pk, cases[i].key);
            s_pack_str (&pk, "status");
        }
        s_write_buffer ("command", cases[i].name, &buffer);
        msgpack_sbuffer_destroy (&buffer);
    }

    //  stock.set with price_cents 0 (its minimum is 1) and a negative qty.
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    s_pack_str (&pk, "cmd");
    s_pack_str (&pk, "stock.set");
    s_pack_str (&pk, "sku");
    s_pack_str (&pk, "SKU-1");
    s_pack_str (&pk, "qty");
    msgpack_pack_int64 (&pk, -1);
    s_pack_str (&pk, "price_cents");
    msgpack_pack_int64 (&pk, 0);
    s_write_buffer ("command", "bad-ranges", &buffer);
    s_write ("command", "bad-truncated", buffer.data, buffer.size - 2);
    msgpack_sbuffer_destroy (&buffer);

    //  place with an item that lacks its qty, in an array 16.
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    s_pack_str (&pk, "cmd");
    s_pack_str (&pk, "place");
    s_pack_str (&pk, "request_id");
    s_pack_str (&pk, "r-2");
    s_pack_str (&pk, "customer");
    s_pack_str (&pk, "bob");
    s_pack_str (&pk, "items");
    msgpack_sbuffer_write (&buffer, "\xdc\x00\x01", 3);
    msgpack_pack_map (&pk, 1);
    s_pack_str (&pk, "sku");
    s_pack_str (&pk, "SKU-1");
    s_pack_str (&pk, "method");
    s_pack_str (&pk, "wallet");
    s_write_buffer ("command", "bad-item", &buffer);
    msgpack_sbuffer_destroy (&buffer);
}

// ---------------------------------------------------------------------------
//  Replay answers, laid out as s_cmd_replay in oms_service.c writes them

static void
s_answer_start (msgpack_packer *pk, size_t entries, const char *topic)
{
    msgpack_pack_map (pk, entries);
    s_pack_str (pk, "ok");
    msgpack_pack_true (pk);
    s_pack_str (pk, "topic");
    s_pack_str (pk, topic);
}

static void
s_replays (void)
{
    static oms_event_t events[SAMPLE_EVENTS];
    sample_events_build (events);
    msgpack_sbuffer buffer, body;
    msgpack_packer pk;

    //  Three events of each of a few types, from seq 5.
    static const size_t kinds[] = {0, 5, 9};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        oms_event_t *event = &events[kinds[k]];
        msgpack_sbuffer_init (&buffer);
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        s_answer_start (&pk, 7, event->type);
        s_pack_str (&pk, "epoch");
        msgpack_pack_uint64 (&pk, UINT64_C (0x0123456789abcdef));
        s_pack_str (&pk, "start");
        msgpack_pack_int64 (&pk, 5);
        s_pack_str (&pk, "first");
        msgpack_pack_int64 (&pk, 1);
        s_pack_str (&pk, "head");
        msgpack_pack_int64 (&pk, 9);
        s_pack_str (&pk, "events");
        msgpack_pack_array (&pk, 3);
        for (uint64_t seq = 5; seq < 8; seq++) {
            sample_event_stamp (event, seq);
            s_encode_event (event, &body);
            msgpack_pack_bin (&pk, body.size);
            msgpack_pack_bin_body (&pk, body.data, body.size);
            msgpack_sbuffer_destroy (&body);
        }
        char name[64];
        snprintf (name, sizeof name, "%s-3", event->type);
        s_write_buffer ("replay", name, &buffer);
        msgpack_sbuffer_destroy (&buffer);
    }

    //  Nothing to replay yet.
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    s_answer_start (&pk, 7, "payment.completed");
    s_pack_str (&pk, "epoch");
    msgpack_pack_uint64 (&pk, 1);
    s_pack_str (&pk, "start");
    msgpack_pack_int64 (&pk, 1);
    s_pack_str (&pk, "first");
    msgpack_pack_int64 (&pk, 0);
    s_pack_str (&pk, "head");
    msgpack_pack_int64 (&pk, 0);
    s_pack_str (&pk, "events");
    msgpack_pack_array (&pk, 0);
    s_write_buffer ("replay", "empty", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    //  A refusal, as an error reply carries it.
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "ok");
    msgpack_pack_false (&pk);
    s_pack_str (&pk, "topic");
    s_pack_str (&pk, "stock.reserved");
    s_pack_str (&pk, "error");
    s_pack_str (&pk, "gone: inventory stock.reserved from 1 is past retention; oldest kept is 7, "
                     "head 9");
    s_write_buffer ("replay", "refused", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    //  Malformed: a body that is not an event, a seq other than start, a
    //  non-bin element, a heartbeat topic (never kept) and a missing head.
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    s_answer_start (&pk, 6, events[1].type);
    s_pack_str (&pk, "start");
    msgpack_pack_int64 (&pk, 2);
    s_pack_str (&pk, "first");
    msgpack_pack_int64 (&pk, 1);
    s_pack_str (&pk, "head");
    msgpack_pack_int64 (&pk, 4);
    s_pack_str (&pk, "events");
    msgpack_pack_array (&pk, 4);
    msgpack_pack_bin (&pk, 3);
    msgpack_pack_bin_body (&pk, "\x81\xa1x", 3);
    sample_event_stamp (&events[1], 7);
    s_encode_event (&events[1], &body);
    msgpack_pack_bin (&pk, body.size);
    msgpack_pack_bin_body (&pk, body.data, body.size);
    msgpack_sbuffer_destroy (&body);
    s_pack_str (&pk, "not a bin");
    msgpack_pack_bin (&pk, 0);
    s_write_buffer ("replay", "bad-bodies", &buffer);
    msgpack_sbuffer_destroy (&buffer);

    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    s_answer_start (&pk, 4, "heartbeat.order");
    s_pack_str (&pk, "start");
    msgpack_pack_int64 (&pk, 1);
    s_pack_str (&pk, "events");
    msgpack_pack_array (&pk, 1);
    sample_event_stamp (&events[10], 1);
    s_encode_event (&events[10], &body);
    msgpack_pack_bin (&pk, body.size);
    msgpack_pack_bin_body (&pk, body.data, body.size);
    msgpack_sbuffer_destroy (&body);
    s_write_buffer ("replay", "bad-heartbeat-no-head", &buffer);
    s_write ("replay", "bad-truncated", buffer.data, buffer.size - 5);
    msgpack_sbuffer_destroy (&buffer);
}

// ---------------------------------------------------------------------------
//  Configuration files

static void
s_config (const char *name, const char *text)
{
    s_write ("config", name, text, strlen (text));
}

static void
s_configs (void)
{
    s_config ("example", "#   oms.cfg: a second local cluster, beside one on the default ports\n"
                         "home = \"/var/lib/oms-test\"\n"
                         "log\n"
                         "    level = debug\n"
                         "broker\n"
                         "    frontend = \"tcp://127.0.0.1:7500\"\n"
                         "    backend = \"tcp://127.0.0.1:7501\"\n"
                         "    tap = \"ipc:///tmp/oms-test-tap\"\n"
                         "services\n"
                         "    order\n"
                         "        api = \"tcp://127.0.0.1:7510\"\n"
                         "    inventory\n"
                         "        api = \"tcp://127.0.0.1:7511\"\n"
                         "    payment\n"
                         "        api = \"tcp://127.0.0.1:7512\"\n"
                         "    notification\n"
                         "        api = \"tcp://127.0.0.1:7513\"\n"
                         "order\n"
                         "    saga_timeout_ms = 10000\n");
    s_config ("machines", "broker\n"
                          "    frontend = \"tcp://host-a:7400\"\n"
                          "    frontend_bind = \"tcp://*:7400\"\n"
                          "    backend = tcp://host-a:7401\n"
                          "    backend_bind = 'tcp://*:7401'\n"
                          "    hwm = 200000\n"
                          "    metrics = \"host-a:9400\"\n"
                          "services\n"
                          "    order\n"
                          "        api = \"tcp://host-b:7410\"\n"
                          "        api_bind = \"tcp://*:7410\"\n"
                          "        host = host-b\n"
                          "        store = \"/srv/oms/order\"\n"
                          "        metrics = host-b:9410\n");
    s_config ("flat-paths", "services/payment/api = \"inproc://payment\"\n"
                            "runtime/batch = 1\n"
                            "runtime/heartbeat_ms = 9223372036854775807\n"
                            "runtime/replay_batch = 4096\n"
                            "runtime/replay_timeout_ms = 0\n"
                            "runtime/startup_catchup_ms = 10\n"
                            "runtime/map_size_mb = 64\n"
                            "runtime/retention_s = 60\n"
                            "runtime/retention_events = 100\n"
                            "runtime/hwm = 10\n"
                            "cli/timeout_ms = 250\n"
                            "log/level = \"warn\"   # comment\n");
    s_config ("empty", "");
    s_config ("bad-unknown-key", "broker\n    frontned = \"tcp://127.0.0.1:7400\"\n");
    s_config ("bad-int", "runtime\n    batch = -1\n");
    s_config ("bad-int-overflow", "runtime/hwm = 9223372036854775808\n");
    s_config ("bad-endpoint", "broker/tap = \"udp://x\"\n");
    s_config ("bad-indent", "services\n        order\n  api = x\n");
    s_config ("bad-section-value", "services = 1\n    order\n        host = h\n");
    s_config ("bad-quote", "home = \"/var/lib\n");
}

// ---------------------------------------------------------------------------
//  Scenario files (tests/scenarios/ holds the real ones, also read as seeds)

static void
s_scenario (const char *name, const char *text)
{
    s_write ("scenario", name, text, strlen (text));
}

static void
s_scenarios (void)
{
    //  Every step kind and option once.
    s_scenario (
        "every-step",
        "# every step kind\n"
        "config runtime/batch=1\n"
        "stock SKU-$RUN 10 price 250\n"
        "stock SKU-2 5\n"
        "wallet cust-$RUN 5000\n"
        "channel cust-$RUN sms\n"
        "place a customer cust-$RUN items SKU-$RUN:3,SKU-2:1 pay card card 4242424242424242 "
        "request r-$RUN\n"
        "place b customer bob items SKU-2:1 pay wallet\n"
        "expect-reject place customer bob items NOPE:1 pay cod \"unknown sku\"\n"
        "wait a within 30\n"
        "cancel b\n"
        "restart payment\n"
        "stop broker\n"
        "start broker\n"
        "kill order\n"
        "sleep 0.5\n"
        "expect order a status CONFIRMED within 5\n"
        "expect order b status CANCELLED reason \"cancelled by \\\"customer\\\"\"\n"
        "expect order a same-as a\n"
        "expect stock SKU-2 available 4 reserved 0 sold 1 price 0 within 2.5\n"
        "expect wallet cust-$RUN 5000\n"
        "expect notifications a count 1 kind confirmed channel email within 1\n"
        "expect conserved SKU-$RUN\n"
        "expect conserved SKU-9 100 within 1\n"
        "expect settled within 60\r\n");
    s_scenario ("bad-lines", "stock SKU-1 -1\n"
                             "stock \"unterminated\n"
                             "place a customer alice items SKU-1:0 pay card\n"
                             "wait nobody\n"
                             "expect order\n"
                             "expect stock SKU-1\n"
                             "channel alice pigeon\n"
                             "sleep 3601\n"
                             "config runtime/batch\n"
                             "frobnicate\n"
                             "place a customer alice items SKU-1:1 pay upi card 1\n"
                             "\x01\x7f\n"
                             "stock \"a\\q\" 1\n"
                             "expect conserved SKU-7\n");
    s_scenario ("bad-config-late", "stock SKU-1 1\nconfig cli/timeout_ms=100\n");
}

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: fuzz_seed DIR\n");
        return 2;
    }
    s_root = argv[1];
    s_mkdir (s_root);
    s_events ();
    s_commands ();
    s_replays ();
    s_configs ();
    s_scenarios ();
    return 0;
}
