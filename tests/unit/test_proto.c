/*  Tests of proto/: the raw msgpack check, the schema codec, events and
    commands. Malformed inputs are table rows: a valid document plus one
    change (set, drop, add, repeat a key), packed with msgpack_packer, so that
    each row says in one line what is wrong and what the decoder must answer.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms_proto.h"

// ---------------------------------------------------------------------------
//  Allocation watch: the largest single malloc since the last reset, to show
//  that a huge declared size is refused before anything is sized by it.

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define WATCH_MALLOC 1
extern void *__libc_malloc (size_t size);
static size_t s_largest_malloc;

void *
malloc (size_t size)
{
    if (size > s_largest_malloc)
        s_largest_malloc = size;
    return __libc_malloc (size);
}
#endif

// ---------------------------------------------------------------------------
//  Documents: msgpack values described as data

typedef enum {
    V_END,
    V_STR,
    V_UINT,
    V_INT,
    V_NIL,
    V_FLOAT,
    V_MAP,
    V_ARRAY,
    V_REPEAT,
    V_RAW,
    V_DEEP
} kind_t;

typedef struct entry_s entry_t;
typedef struct {
    kind_t kind;
    const char *s; //  V_STR text, V_REPEAT the char, V_RAW the bytes
    size_t len;    //  V_STR with NULs, V_REPEAT count, V_RAW size, V_DEEP levels
    uint64_t u;
    int64_t i;
    double f;
    const entry_t *list; //  V_MAP entries, V_ARRAY elements (keys NULL)
    size_t repeat;       //  V_ARRAY: the first element this many times
} val_t;

struct entry_s {
    const char *key;
    val_t v;
};

#define END                                                                                        \
    {                                                                                              \
        NULL,                                                                                      \
        {                                                                                          \
            .kind = V_END                                                                          \
        }                                                                                          \
    }
#define STR(x)                                                                                     \
    {                                                                                              \
        .kind = V_STR, .s = (x)                                                                    \
    }
#define STRN(x, n)                                                                                 \
    {                                                                                              \
        .kind = V_STR, .s = (x), .len = (n)                                                        \
    }
#define UINT(x)                                                                                    \
    {                                                                                              \
        .kind = V_UINT, .u = (x)                                                                   \
    }
#define INT(x)                                                                                     \
    {                                                                                              \
        .kind = V_INT, .i = (x)                                                                    \
    }
#define NIL                                                                                        \
    {                                                                                              \
        .kind = V_NIL                                                                              \
    }
#define FLOAT(x)                                                                                   \
    {                                                                                              \
        .kind = V_FLOAT, .f = (x)                                                                  \
    }
#define MAP(x)                                                                                     \
    {                                                                                              \
        .kind = V_MAP, .list = (x)                                                                 \
    }
#define ARRAY(x)                                                                                   \
    {                                                                                              \
        .kind = V_ARRAY, .list = (x)                                                               \
    }
#define ARRAY_OF(n, x)                                                                             \
    {                                                                                              \
        .kind = V_ARRAY, .list = (x), .repeat = (n)                                                \
    }
#define REPEAT(c, n)                                                                               \
    {                                                                                              \
        .kind = V_REPEAT, .s = (c), .len = (n)                                                     \
    }
#define RAW(x)                                                                                     \
    {                                                                                              \
        .kind = V_RAW, .s = (x), .len = sizeof (x) - 1                                             \
    }
#define DEEP(n)                                                                                    \
    {                                                                                              \
        .kind = V_DEEP, .len = (n)                                                                 \
    }

//  One change to a document, at a path as the decoder names fields.
typedef enum { P_NONE, P_SET, P_DROP, P_ADD, P_TWICE, P_ENTRY } op_t;
typedef struct {
    op_t op;
    const char *path; //  P_ADD: the new key's path; P_ENTRY: the map's path
    val_t v;          //  P_ENTRY: raw bytes of one key and value
} patch_t;

#define SET(p, x)                                                                                  \
    {                                                                                              \
        P_SET, (p), x                                                                              \
    }
#define DROP(p)                                                                                    \
    {                                                                                              \
        P_DROP, (p),                                                                               \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }
#define ADD(p, x)                                                                                  \
    {                                                                                              \
        P_ADD, (p), x                                                                              \
    }
#define TWICE(p)                                                                                   \
    {                                                                                              \
        P_TWICE, (p),                                                                              \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }
#define ENTRY(p, x)                                                                                \
    {                                                                                              \
        P_ENTRY, (p), x                                                                            \
    }

static void
s_join (char *out, size_t size, const char *path, const char *key)
{
    if (snprintf (out, size, "%s%s%s", path, *path ? "." : "", key) < 0)
        *out = 0;
}

static void
s_write (msgpack_packer *pk, const void *data, size_t size)
{
    pk->callback (pk->data, data, size);
}

static void s_pack_val (msgpack_packer *pk, const val_t *v, const char *path, const patch_t *p);

static void
s_pack_map (msgpack_packer *pk, const entry_t *list, const char *path, const patch_t *p)
{
    char sub[128];
    const char *added = NULL;
    bool entry = p && p->op == P_ENTRY && strcmp (p->path, path) == 0;
    if (p && p->op == P_ADD) {
        const char *dot = strrchr (p->path, '.');
        size_t parent = dot ? (size_t) (dot - p->path) : 0;
        if (strlen (path) == parent && strncmp (p->path, path, parent) == 0)
            added = dot ? dot + 1 : p->path;
    }
    size_t n = (added || entry) ? 1 : 0;
    for (const entry_t *e = list; e->v.kind != V_END; e++) {
        s_join (sub, sizeof sub, path, e->key);
        bool hit = p && strcmp (p->path, sub) == 0;
        n += hit && p->op == P_DROP ? 0 : hit && p->op == P_TWICE ? 2 : 1;
    }
    msgpack_pack_map (pk, n);
    for (const entry_t *e = list; e->v.kind != V_END; e++) {
        s_join (sub, sizeof sub, path, e->key);
        bool hit = p && strcmp (p->path, sub) == 0;
        if (hit && p->op == P_DROP)
            continue;
        for (int twice = 0; twice < (hit && p->op == P_TWICE ? 2 : 1); twice++) {
            msgpack_pack_str_with_body (pk, e->key, strlen (e->key));
            s_pack_val (pk, &e->v, sub, p);
        }
    }
    if (added) {
        msgpack_pack_str_with_body (pk, added, strlen (added));
        s_pack_val (pk, &p->v, p->path, NULL);
    }
    if (entry)
        s_pack_val (pk, &p->v, path, NULL);
}

static void
s_pack_val (msgpack_packer *pk, const val_t *v, const char *path, const patch_t *p)
{
    if (p && p->op == P_SET && strcmp (p->path, path) == 0) {
        v = &p->v;
        p = NULL;
    }
    switch (v->kind) {
    case V_STR: {
        size_t len = v->len ? v->len : strlen (v->s);
        msgpack_pack_str_with_body (pk, v->s, len);
        break;
    }
    case V_UINT:
        msgpack_pack_uint64 (pk, v->u);
        break;
    case V_INT:
        msgpack_pack_int64 (pk, v->i);
        break;
    case V_NIL:
        msgpack_pack_nil (pk);
        break;
    case V_FLOAT:
        msgpack_pack_double (pk, v->f);
        break;
    case V_MAP:
        s_pack_map (pk, v->list, path, p);
        break;
    case V_ARRAY: {
        size_t n = v->repeat;
        if (!n)
            while (v->list[n].v.kind != V_END)
                n++;
        msgpack_pack_array (pk, n);
        for (size_t i = 0; i < n; i++) {
            char sub[128];
            if (snprintf (sub, sizeof sub, "%s[%zu]", path, i) < 0)
                *sub = 0;
            s_pack_val (pk, &v->list[v->repeat ? 0 : i].v, sub, p);
        }
        break;
    }
    case V_REPEAT: {
        char chunk[4096];
        memset (chunk, *v->s, sizeof chunk);
        msgpack_pack_str (pk, v->len);
        for (size_t done = 0; done < v->len; done += sizeof chunk)
            s_write (pk, chunk, v->len - done < sizeof chunk ? v->len - done : sizeof chunk);
        break;
    }
    case V_RAW:
        s_write (pk, v->s, v->len);
        break;
    case V_DEEP:
        for (size_t i = 1; i < v->len; i++)
            s_write (pk, "\x91", 1);
        s_write (pk, "\x90", 1);
        break;
    case V_END:
        break;
    }
}

static void
s_pack_doc (msgpack_sbuffer *out, const entry_t *doc, const patch_t *p)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    s_pack_map (&pk, doc, "", p && p->op != P_NONE ? p : NULL);
}

// ---------------------------------------------------------------------------
//  Valid documents the rows start from

static const entry_t s_item[] = {{"sku", STR ("SKU-1")}, {"qty", INT (2)}, END};
static const entry_t s_items[] = {{NULL, MAP (s_item)}, {NULL, MAP (s_item)}, END};
static const entry_t s_no_items[] = {END};

static const entry_t s_placed_data[] = {{"order_id", STR ("o-1")},    {"customer", STR ("alice")},
                                        {"items", ARRAY (s_items)},   {"method", STR ("card")},
                                        {"card_last4", STR ("4242")}, END};
static const entry_t s_placed[] = {{"version", UINT (1)},
                                   {"id", STR ("order/order.placed/1")},
                                   {"type", STR ("order.placed")},
                                   {"producer", STR ("order")},
                                   {"epoch", UINT (7)},
                                   {"seq", UINT (1)},
                                   {"ts_ns", UINT (1700000000000000000)},
                                   {"correlation_id", STR ("o-1")},
                                   {"causation_id", STR ("cmd/r-1")},
                                   {"data", MAP (s_placed_data)},
                                   END};

//  s_placed as a producer of a newer minor writes it: the same facts, and
//  optional keys this build does not know in the envelope, in data and in
//  an item.
static const entry_t s_newer_item[] = {
    {"sku", STR ("SKU-1")}, {"qty", INT (2)}, {"colour", STR ("red")}, END};
static const entry_t s_newer_items[] = {{NULL, MAP (s_newer_item)}, {NULL, MAP (s_item)}, END};
static const entry_t s_newer_data[] = {{"order_id", STR ("o-1")},
                                       {"customer", STR ("alice")},
                                       {"items", ARRAY (s_newer_items)},
                                       {"method", STR ("card")},
                                       {"card_last4", STR ("4242")},
                                       {"gift", MAP (s_item)},
                                       END};
static const entry_t s_newer[] = {{"version", UINT (1)},
                                  {"minor", UINT (1)},
                                  {"id", STR ("order/order.placed/1")},
                                  {"type", STR ("order.placed")},
                                  {"producer", STR ("order")},
                                  {"epoch", UINT (7)},
                                  {"seq", UINT (1)},
                                  {"ts_ns", UINT (1700000000000000000)},
                                  {"correlation_id", STR ("o-1")},
                                  {"causation_id", STR ("cmd/r-1")},
                                  {"priority", UINT (3)},
                                  {"data", MAP (s_newer_data)},
                                  END};
//  A newer minor whose only new key is in data.
static const entry_t s_newer_note_data[] = {{"order_id", STR ("o-1")},  {"customer", STR ("alice")},
                                            {"items", ARRAY (s_items)}, {"method", STR ("card")},
                                            {"note", STR ("hi")},       END};
static const entry_t s_newer_note[] = {{"version", UINT (1)},
                                       {"minor", UINT (1)},
                                       {"id", STR ("order/order.placed/1")},
                                       {"type", STR ("order.placed")},
                                       {"producer", STR ("order")},
                                       {"epoch", UINT (7)},
                                       {"seq", UINT (1)},
                                       {"ts_ns", UINT (1)},
                                       {"data", MAP (s_newer_note_data)},
                                       END};

static const entry_t s_confirmed_data[] = {
    {"order_id", STR ("o-1")}, {"customer", STR ("alice")}, {"amount_cents", INT (2500)}, END};
static const entry_t s_confirmed[] = {{"version", UINT (1)},
                                      {"id", STR ("order/order.confirmed/1")},
                                      {"type", STR ("order.confirmed")},
                                      {"producer", STR ("order")},
                                      {"epoch", UINT (7)},
                                      {"seq", UINT (1)},
                                      {"ts_ns", UINT (1700000000000000000)},
                                      {"data", MAP (s_confirmed_data)},
                                      END};

static const entry_t s_cancelled_data[] = {
    {"order_id", STR ("o-2")}, {"customer", STR ("bob")}, {"reason", STR ("timeout")}, END};
static const entry_t s_cancelled[] = {{"version", UINT (1)},
                                      {"id", STR ("order/order.cancelled/1")},
                                      {"type", STR ("order.cancelled")},
                                      {"producer", STR ("order")},
                                      {"epoch", UINT (7)},
                                      {"seq", UINT (1)},
                                      {"ts_ns", UINT (1700000000000000000)},
                                      {"data", MAP (s_cancelled_data)},
                                      END};

static const entry_t s_head[] = {{"topic", STR ("order.placed")}, {"seq", UINT (41)}, END};
static const entry_t s_heads[] = {{NULL, MAP (s_head)}, END};
static const entry_t s_heartbeat_data[] = {
    {"name", STR ("order")},    {"instance", STR ("order-1")}, {"version", STR ("0.1.0")},
    {"uptime_ns", UINT (1000)}, {"heads", ARRAY (s_heads)},    END};
static const entry_t s_heartbeat[] = {{"version", UINT (1)},
                                      {"id", STR ("order/heartbeat.order/1")},
                                      {"type", STR ("heartbeat.order")},
                                      {"producer", STR ("order")},
                                      {"epoch", UINT (7)},
                                      {"seq", UINT (1)},
                                      {"ts_ns", UINT (1700000000000000000)},
                                      {"data", MAP (s_heartbeat_data)},
                                      END};

static const entry_t s_place[] = {{"cmd", STR ("place")},
                                  {"request_id", STR ("r-1")},
                                  {"customer", STR ("alice")},
                                  {"items", ARRAY (s_items)},
                                  {"method", STR ("card")},
                                  {"card", STR ("4242424242424242")},
                                  END};
static const entry_t s_stock_set[] = {{"cmd", STR ("stock.set")},
                                      {"sku", STR ("SKU-1")},
                                      {"qty", INT (10)},
                                      {"price_cents", INT (1000)},
                                      END};
static const entry_t s_wallet_credit[] = {
    {"cmd", STR ("wallet.credit")}, {"customer", STR ("alice")}, {"amount_cents", INT (5000)}, END};
static const entry_t s_replay[] = {{"cmd", STR ("replay")},
                                   {"topic", STR ("order.placed")},
                                   {"from", UINT (1)},
                                   {"max", UINT (100)},
                                   END};

// ---------------------------------------------------------------------------
//  Rows

typedef struct {
    const char *name;
    const entry_t *doc; //  the valid document, or NULL for `raw`
    patch_t patch;      //  the one thing wrong with it
    const char *raw;    //  literal bytes instead of a document
    size_t raw_size;
    size_t cut;        //  bytes dropped from the end
    const char *trail; //  bytes appended
    const char *topic; //  events: the topic frame, or NULL
    int code;
    const char *field;
} row_t;

static void
s_row_bytes (const row_t *row, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init (out);
    if (row->doc)
        s_pack_doc (out, row->doc, &row->patch);
    else if (row->raw_size)
        msgpack_sbuffer_write (out, row->raw, row->raw_size);
    if (row->cut)
        out->size -= row->cut;
    if (row->trail)
        msgpack_sbuffer_write (out, row->trail, strlen (row->trail));
}

#define HUGE_PAD REPEAT ("x", OMS_MSG_MAX)
#define LONG_ID  REPEAT ("a", OMS_ID_MAX + 1)

// clang-format off
static const row_t s_event_rows[] = {
    {"a body over OMS_MSG_MAX", s_placed, ADD ("pad", HUGE_PAD), .code = OMS_E_TOO_BIG, .field = ""},
    {"the reserved byte 0xc1", s_placed, SET ("data.method", RAW ("\xc1")), .code = OMS_E_MALFORMED, .field = ""},
    {"a body one byte short", s_placed, .cut = 1, .code = OMS_E_TRUNCATED, .field = ""},
    {"an array of 2^32-1 in five bytes", s_placed, SET ("data.items", RAW ("\xdd\xff\xff\xff\xff")), .code = OMS_E_TRUNCATED, .field = ""},
    {"a str of 2^32-1 bytes declared", s_placed, SET ("data.method", RAW ("\xdb\xff\xff\xff\xff")), .code = OMS_E_TRUNCATED, .field = ""},
    {"a nil after the map", s_placed, .trail = "\xc0", .code = OMS_E_TRAILING, .field = ""},
    {"an array at the top", NULL, .raw = "\x91\x01", .raw_size = 2, .code = OMS_E_TYPE, .field = ""},
    {"seq as a string", s_placed, SET ("seq", STR ("1")), .code = OMS_E_TYPE, .field = "seq"},
    {"seq negative", s_placed, SET ("seq", INT (-1)), .code = OMS_E_TYPE, .field = "seq"},
    {"qty as a float", s_placed, SET ("data.items[1].qty", FLOAT (2.0)), .code = OMS_E_TYPE, .field = "data.items[1].qty"},
    {"qty as a string", s_placed, SET ("data.items[0].qty", STR ("2")), .code = OMS_E_TYPE, .field = "data.items[0].qty"},
    {"an item that is not a map", s_placed, SET ("data.items[1]", STR ("SKU-1")), .code = OMS_E_TYPE, .field = "data.items[1]"},
    {"data as an array", s_placed, SET ("data", ARRAY (s_no_items)), .code = OMS_E_TYPE, .field = "data"},
    {"a key that is an int", s_placed, ENTRY ("data", RAW ("\x01\xc0")), .code = OMS_E_TYPE, .field = "data"},
    {"customer nil", s_placed, SET ("data.customer", NIL), .code = OMS_E_TYPE, .field = "data.customer"},
    {"no seq", s_placed, DROP ("seq"), .code = OMS_E_MISSING, .field = "seq"},
    {"no epoch", s_placed, DROP ("epoch"), .code = OMS_E_MISSING, .field = "epoch"},
    {"no data", s_placed, DROP ("data"), .code = OMS_E_MISSING, .field = "data"},
    {"no customer", s_placed, DROP ("data.customer"), .code = OMS_E_MISSING, .field = "data.customer"},
    {"an item without qty", s_placed, DROP ("data.items[0].qty"), .code = OMS_E_MISSING, .field = "data.items[0].qty"},
    {"an unknown envelope key", s_placed, ADD ("colour", STR ("red")), .code = OMS_E_UNKNOWN, .field = "colour"},
    {"an unknown data key", s_placed, ADD ("data.note", STR ("hi")), .code = OMS_E_UNKNOWN, .field = "data.note"},
    {"an unknown item key", s_placed, ADD ("data.items[1].colour", STR ("red")), .code = OMS_E_UNKNOWN, .field = "data.items[1].colour"},
    {"producer twice", s_placed, TWICE ("producer"), .code = OMS_E_DUPLICATE, .field = "producer"},
    {"an item's sku twice", s_placed, TWICE ("data.items[0].sku"), .code = OMS_E_DUPLICATE, .field = "data.items[0].sku"},
    {"a customer of 65 bytes", s_placed, SET ("data.customer", LONG_ID), .code = OMS_E_TOO_LONG, .field = "data.customer"},
    {"card_last4 of five digits", s_placed, SET ("data.card_last4", STR ("42424")), .code = OMS_E_TOO_LONG, .field = "data.card_last4"},
    {"a sku of 33 bytes", s_placed, SET ("data.items[0].sku", REPEAT ("S", OMS_SKU_MAX + 1)), .code = OMS_E_TOO_LONG, .field = "data.items[0].sku"},
    {"a reason over OMS_TEXT_MAX", s_cancelled, SET ("data.reason", REPEAT ("r", OMS_TEXT_MAX + 1)), .code = OMS_E_TOO_LONG, .field = "data.reason"},
    {"65 items", s_placed, SET ("data.items", ARRAY_OF (OMS_ITEMS_MAX + 1, s_items)), .code = OMS_E_TOO_MANY, .field = "data.items"},
    {"17 heads", s_heartbeat, SET ("data.heads", ARRAY_OF (OMS_HEADS_MAX + 1, s_heads)), .code = OMS_E_TOO_MANY, .field = "data.heads"},
    {"seq zero", s_placed, SET ("seq", UINT (0)), .code = OMS_E_RANGE, .field = "seq"},
    {"epoch zero", s_placed, SET ("epoch", UINT (0)), .code = OMS_E_RANGE, .field = "epoch"},
    {"no items", s_placed, SET ("data.items", ARRAY (s_no_items)), .code = OMS_E_RANGE, .field = "data.items"},
    {"qty zero", s_placed, SET ("data.items[0].qty", INT (0)), .code = OMS_E_RANGE, .field = "data.items[0].qty"},
    {"qty over OMS_QTY_MAX", s_placed, SET ("data.items[1].qty", INT (OMS_QTY_MAX + 1)), .code = OMS_E_RANGE, .field = "data.items[1].qty"},
    {"qty of 2^64-1", s_placed, SET ("data.items[0].qty", UINT (UINT64_MAX)), .code = OMS_E_RANGE, .field = "data.items[0].qty"},
    {"a negative amount", s_confirmed, SET ("data.amount_cents", INT (-1)), .code = OMS_E_RANGE, .field = "data.amount_cents"},
    {"an amount over OMS_CENTS_MAX", s_confirmed, SET ("data.amount_cents", INT (OMS_CENTS_MAX + 1)), .code = OMS_E_RANGE, .field = "data.amount_cents"},
    {"an order id with a space", s_placed, SET ("data.order_id", STR ("o 1")), .code = OMS_E_INVALID, .field = "data.order_id"},
    {"an empty order id", s_placed, SET ("data.order_id", STR ("")), .code = OMS_E_INVALID, .field = "data.order_id"},
    {"an upper case method", s_placed, SET ("data.method", STR ("Card")), .code = OMS_E_INVALID, .field = "data.method"},
    {"a letter in card_last4", s_placed, SET ("data.card_last4", STR ("42a2")), .code = OMS_E_INVALID, .field = "data.card_last4"},
    {"a NUL inside an id", s_placed, SET ("id", STRN ("a\0b", 3)), .code = OMS_E_INVALID, .field = "id"},
    {"a NUL inside free text", s_cancelled, SET ("data.reason", STRN ("no\0pe", 5)), .code = OMS_E_INVALID, .field = "data.reason"},
    {"an empty producer", s_placed, SET ("producer", STR ("")), .code = OMS_E_INVALID, .field = "producer"},
    {"version 2", s_placed, SET ("version", UINT (2)), .code = OMS_E_VERSION, .field = "version"},
    {"version 0", s_placed, SET ("version", UINT (0)), .code = OMS_E_VERSION, .field = "version"},
    {"an unknown type", s_placed, SET ("type", STR ("order.shipped")), .code = OMS_E_TOPIC, .field = "type"},
    {"a topic frame that is not the type", s_placed, .topic = "order.cancelled", .code = OMS_E_TOPIC, .field = "type"},
    {"a producer that does not own the type", s_placed, SET ("producer", STR ("payment")), .code = OMS_E_TOPIC, .field = "producer"},
    {"a heartbeat from another process", s_heartbeat, SET ("producer", STR ("inventory")), .code = OMS_E_TOPIC, .field = "producer"},
    {"a heartbeat naming no process", s_heartbeat, SET ("type", STR ("heartbeat.")), .code = OMS_E_TOPIC, .field = "type"},
    {"a heartbeat of the reserved process cmd", s_heartbeat, SET ("type", STR ("heartbeat.cmd")), .code = OMS_E_TOPIC, .field = "type"},
    {"nine levels of arrays in data", s_placed, SET ("data.method", DEEP (9)), .code = OMS_E_DEPTH, .field = ""},
    //  A newer minor: unknown keys pass, nothing else does.
    {"an unknown envelope key at minor 0", s_newer, SET ("minor", UINT (0)), .code = OMS_E_UNKNOWN, .field = "priority"},
    {"an unknown envelope key without a minor", s_newer, DROP ("minor"), .code = OMS_E_UNKNOWN, .field = "priority"},
    {"an unknown data key at minor 0", s_newer_note, SET ("minor", UINT (0)), .code = OMS_E_UNKNOWN, .field = "data.note"},
    {"an unknown data key without a minor", s_newer_note, DROP ("minor"), .code = OMS_E_UNKNOWN, .field = "data.note"},
    {"minor as a string", s_newer, SET ("minor", STR ("1")), .code = OMS_E_TYPE, .field = "minor"},
    {"minor negative", s_newer, SET ("minor", INT (-1)), .code = OMS_E_TYPE, .field = "minor"},
    {"minor as a float", s_newer, SET ("minor", FLOAT (1.0)), .code = OMS_E_TYPE, .field = "minor"},
    {"minor nil", s_newer_note, SET ("minor", NIL), .code = OMS_E_TYPE, .field = "minor"},
    {"major 2 with a minor", s_newer, SET ("version", UINT (2)), .code = OMS_E_VERSION, .field = "version"},
    {"a newer minor with a known key of the wrong type", s_newer, SET ("data.customer", UINT (5)), .code = OMS_E_TYPE, .field = "data.customer"},
    {"a newer minor without a required key", s_newer, DROP ("data.customer"), .code = OMS_E_MISSING, .field = "data.customer"},
    {"a newer minor with a known key twice", s_newer, TWICE ("data.order_id"), .code = OMS_E_DUPLICATE, .field = "data.order_id"},
    {"a newer minor with a key that is an int", s_newer, ENTRY ("data", RAW ("\x01\xc0")), .code = OMS_E_TYPE, .field = "data"},
    {"a newer minor of an unknown type", s_newer, SET ("type", STR ("order.shipped")), .code = OMS_E_TOPIC, .field = "type"},
    {"a newer minor with nine levels in an unknown key", s_newer, SET ("priority", DEEP (9)), .code = OMS_E_DEPTH, .field = ""},
    {"a newer minor over OMS_MSG_MAX in an unknown key", s_newer, SET ("priority", HUGE_PAD), .code = OMS_E_TOO_BIG, .field = ""},
    {"a newer minor with a declared size past the end", s_newer, SET ("priority", RAW ("\xdb\xff\xff\xff\xff")), .code = OMS_E_TRUNCATED, .field = ""},
};
// clang-format on

// clang-format off
static const row_t s_command_rows[] = {
    {"a request over OMS_MSG_MAX", s_place, ADD ("pad", HUGE_PAD), .code = OMS_E_TOO_BIG, .field = ""},
    {"the reserved byte 0xc1", s_place, SET ("method", RAW ("\xc1")), .code = OMS_E_MALFORMED, .field = ""},
    {"a request one byte short", s_place, .cut = 1, .code = OMS_E_TRUNCATED, .field = ""},
    {"a map of 2^32-1 entries in five bytes", NULL, .raw = "\xdf\xff\xff\xff\xff", .raw_size = 5, .code = OMS_E_TRUNCATED, .field = ""},
    {"an empty request", NULL, .raw = "", .raw_size = 0, .code = OMS_E_TRUNCATED, .field = ""},
    {"two maps", s_place, .trail = "\x80", .code = OMS_E_TRAILING, .field = ""},
    {"a string at the top", NULL, .raw = "\xa5place", .raw_size = 6, .code = OMS_E_TYPE, .field = ""},
    {"cmd as an int", s_place, SET ("cmd", UINT (1)), .code = OMS_E_TYPE, .field = "cmd"},
    {"qty as a string", s_place, SET ("items[0].qty", STR ("2")), .code = OMS_E_TYPE, .field = "items[0].qty"},
    {"from negative", s_replay, SET ("from", INT (-5)), .code = OMS_E_TYPE, .field = "from"},
    {"no cmd", s_place, DROP ("cmd"), .code = OMS_E_MISSING, .field = "cmd"},
    {"no customer", s_place, DROP ("customer"), .code = OMS_E_MISSING, .field = "customer"},
    {"no max", s_replay, DROP ("max"), .code = OMS_E_MISSING, .field = "max"},
    {"an unknown cmd", s_place, SET ("cmd", STR ("ship")), .code = OMS_E_UNKNOWN, .field = "cmd"},
    {"an unknown key", s_place, ADD ("coupon", STR ("FREE")), .code = OMS_E_UNKNOWN, .field = "coupon"},
    {"a minor, which commands do not have", s_place, ADD ("minor", UINT (1)), .code = OMS_E_UNKNOWN, .field = "minor"},
    {"a key of another command", s_stock_set, ADD ("customer", STR ("alice")), .code = OMS_E_UNKNOWN, .field = "customer"},
    {"customer twice", s_place, TWICE ("customer"), .code = OMS_E_DUPLICATE, .field = "customer"},
    {"cmd twice", s_place, TWICE ("cmd"), .code = OMS_E_DUPLICATE, .field = "cmd"},
    {"a card of 20 digits", s_place, SET ("card", REPEAT ("4", OMS_CARD_MAX + 1)), .code = OMS_E_TOO_LONG, .field = "card"},
    {"a request id of 65 bytes", s_place, SET ("request_id", LONG_ID), .code = OMS_E_TOO_LONG, .field = "request_id"},
    {"65 items", s_place, SET ("items", ARRAY_OF (OMS_ITEMS_MAX + 1, s_items)), .code = OMS_E_TOO_MANY, .field = "items"},
    {"no items", s_place, SET ("items", ARRAY (s_no_items)), .code = OMS_E_RANGE, .field = "items"},
    {"qty negative", s_place, SET ("items[1].qty", INT (-3)), .code = OMS_E_RANGE, .field = "items[1].qty"},
    {"replay max over 4096", s_replay, SET ("max", UINT (4097)), .code = OMS_E_RANGE, .field = "max"},
    {"replay from zero", s_replay, SET ("from", UINT (0)), .code = OMS_E_RANGE, .field = "from"},
    {"a price of zero", s_stock_set, SET ("price_cents", INT (0)), .code = OMS_E_RANGE, .field = "price_cents"},
    {"a stock level over 2^53", s_stock_set, SET ("qty", INT ((INT64_C (1) << 53) + 1)), .code = OMS_E_RANGE, .field = "qty"},
    {"a credit of zero", s_wallet_credit, SET ("amount_cents", INT (0)), .code = OMS_E_RANGE, .field = "amount_cents"},
    {"a card with dashes", s_place, SET ("card", STR ("4242-4242")), .code = OMS_E_INVALID, .field = "card"},
    {"an upper case method", s_place, SET ("method", STR ("CARD")), .code = OMS_E_INVALID, .field = "method"},
    {"a method with no payment method", s_place, SET ("method", STR ("bitcoin")), .code = OMS_E_INVALID, .field = "method"},
    {"an empty request id", s_place, SET ("request_id", STR ("")), .code = OMS_E_INVALID, .field = "request_id"},
    {"a customer with a newline", s_place, SET ("customer", STR ("al\nice")), .code = OMS_E_INVALID, .field = "customer"},
    {"a topic with a space", s_replay, SET ("topic", STR ("order placed")), .code = OMS_E_INVALID, .field = "topic"},
    {"nine levels of arrays", s_place, SET ("method", DEEP (9)), .code = OMS_E_DEPTH, .field = ""},
};
// clang-format on

#define ROWS(table) (sizeof table / sizeof table[0])

//  The codes each decoder can return; its table must show every one.
static const int s_event_codes[] = {
    OMS_E_TOO_BIG, OMS_E_MALFORMED, OMS_E_TRUNCATED, OMS_E_TRAILING, OMS_E_TYPE,
    OMS_E_MISSING, OMS_E_UNKNOWN,   OMS_E_DUPLICATE, OMS_E_TOO_LONG, OMS_E_TOO_MANY,
    OMS_E_RANGE,   OMS_E_INVALID,   OMS_E_VERSION,   OMS_E_TOPIC,    OMS_E_DEPTH};
static const int s_command_codes[] = {
    OMS_E_TOO_BIG, OMS_E_MALFORMED, OMS_E_TRUNCATED, OMS_E_TRAILING, OMS_E_TYPE,
    OMS_E_MISSING, OMS_E_UNKNOWN,   OMS_E_DUPLICATE, OMS_E_TOO_LONG, OMS_E_TOO_MANY,
    OMS_E_RANGE,   OMS_E_INVALID,   OMS_E_DEPTH};

static bool
s_table_has (const row_t *rows, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].code == code)
            return true;
    return false;
}

// ---------------------------------------------------------------------------
//  Events built the way services build them

static void
s_stamp (oms_event_t *event, uint64_t seq, const char *causation_id)
{
    const oms_event_type_t *entry = oms_event_type (event->type);
    cr_assert_not_null (entry, "%s is a type", event->type);
    const char *owner = entry->owner ? entry->owner : event->type + strlen (OMS_HEARTBEAT_PREFIX);
    snprintf (event->producer, sizeof event->producer, "%s", owner);
    event->epoch = UINT64_C (0x0123456789abcdef);
    event->seq = seq;
    if (snprintf (event->id, sizeof event->id, "%s/%s/%llu", owner, event->type,
                  (unsigned long long) seq) < 0)
        *event->id = 0;
    event->ts_ns = UINT64_C (1700000000123456789);
    snprintf (event->correlation_id, sizeof event->correlation_id, "%s", event->data.order_id);
    snprintf (event->causation_id, sizeof event->causation_id, "%s", causation_id);
}

#define EVERY_EVENT 13

static void
s_every_event (oms_event_t *events)
{
    oms_item_t items[OMS_ITEMS_MAX];
    for (int i = 0; i < OMS_ITEMS_MAX; i++) {
        snprintf (items[i].sku, sizeof items[i].sku, "SKU-%d", i);
        items[i].qty = i + 1;
    }
    items[OMS_ITEMS_MAX - 1].qty = OMS_QTY_MAX;
    oms_head_t heads[OMS_HEADS_MAX];
    for (int i = 0; i < OMS_HEADS_MAX; i++) {
        snprintf (heads[i].topic, sizeof heads[i].topic, "topic.%d", i);
        heads[i].seq = UINT64_MAX - (uint64_t) i;
    }
    oms_event_order_placed (&events[0], "o-1", "alice@example.com", items, OMS_ITEMS_MAX, "card",
                            "4242");
    oms_event_order_confirmed (&events[1], "o-1", "alice@example.com", OMS_CENTS_MAX);
    oms_event_order_cancelled (&events[2], "o-2", "bob", "");
    oms_event_stock_reserved (&events[3], "o-1", "alice", 0, "wallet", "");
    oms_event_stock_rejected (&events[4], "o-2", "bob", "short: SKU-9 \"needs\" 3");
    oms_event_stock_updated (&events[5], "SKU-1", INT64_C (1) << 53, 0, 17, 1999);
    oms_event_payment_completed (&events[6], "o-1", "alice", 2500, "card");
    oms_event_payment_failed (&events[7], "o-3", "carol", "wallet", "insufficient funds");
    oms_event_payment_refunded (&events[8], "o-1", "alice", 2500, "card");
    oms_event_notification_sent (&events[9], "o-1", "alice", "confirmed", "sms",
                                 "\xc3\xa9t\xc3\xa9: order o-1 confirmed");
    oms_event_heartbeat (&events[10], "order", "order-7f3a@host", "0.1.0", 99, heads, OMS_HEADS_MAX,
                         heads, 3);
    oms_event_heartbeat (&events[11], "broker", "broker-1", "", 0, NULL, 0, NULL, 0);
    oms_event_catalog_updated (&events[12], "SKU-1", OMS_CENTS_MAX);
    for (int i = 0; i < EVERY_EVENT; i++)
        s_stamp (&events[i], (uint64_t) i + 1, i % 2 ? "cmd/r-1" : "");
}

// ---------------------------------------------------------------------------

Test (error, gives_a_distinct_text_for_every_code)
{
    for (int a = OMS_OK; a > OMS_E_LAST; a--) {
        cr_assert_not_null (oms_strerror (a));
        cr_expect_str_neq (oms_strerror (a), oms_strerror (OMS_E_LAST), "%d has its own text", a);
        for (int b = a - 1; b > OMS_E_LAST; b--)
            cr_expect_str_neq (oms_strerror (a), oms_strerror (b), "%d and %d", a, b);
    }
    cr_expect_not_null (oms_strerror (1));
    cr_expect_not_null (oms_strerror (-1000));
}

Test (error, formats_a_fault_as_field_and_reason)
{
    oms_fault_t fault = {OMS_E_RANGE, "data.items[2].qty"};
    char buf[128];
    cr_expect_str_eq (oms_fault_str (&fault, buf, sizeof buf),
                      "data.items[2].qty: value out of range");
    oms_fault_t whole = {OMS_E_TRAILING, ""};
    cr_expect_str_eq (oms_fault_str (&whole, buf, sizeof buf), oms_strerror (OMS_E_TRAILING));
    char tiny[6];
    cr_expect_eq (strlen (oms_fault_str (&fault, tiny, sizeof tiny)), 5);
}

Test (msgpack, walks_every_format_and_refuses_each_one_byte_short)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t size;
    } formats[] = {
        {"nil", "\xc0", 1},
        {"false", "\xc2", 1},
        {"true", "\xc3", 1},
        {"positive fixint", "\x7f", 1},
        {"negative fixint", "\xe0", 1},
        {"uint 8", "\xcc\xff", 2},
        {"uint 16", "\xcd\xff\xff", 3},
        {"uint 32", "\xce\0\0\0\1", 5},
        {"uint 64", "\xcf\0\0\0\0\0\0\0\1", 9},
        {"int 8", "\xd0\x80", 2},
        {"int 16", "\xd1\x80\0", 3},
        {"int 32", "\xd2\x80\0\0\0", 5},
        {"int 64", "\xd3\x80\0\0\0\0\0\0\0", 9},
        {"float 32", "\xca\x3f\x80\0\0", 5},
        {"float 64", "\xcb\x3f\xf0\0\0\0\0\0\0", 9},
        {"fixstr",
         "\xa3"
         "abc",
         4},
        {"str 8",
         "\xd9\x02"
         "ab",
         4},
        {"str 16",
         "\xda\0\x02"
         "ab",
         5},
        {"str 32",
         "\xdb\0\0\0\x02"
         "ab",
         7},
        {"bin 8",
         "\xc4\x02"
         "ab",
         4},
        {"bin 16",
         "\xc5\0\x02"
         "ab",
         5},
        {"bin 32",
         "\xc6\0\0\0\x02"
         "ab",
         7},
        {"ext 8",
         "\xc7\x02\x05"
         "ab",
         5},
        {"ext 16",
         "\xc8\0\x02\x05"
         "ab",
         6},
        {"ext 32",
         "\xc9\0\0\0\x02\x05"
         "ab",
         8},
        {"fixext 1",
         "\xd4\x05"
         "a",
         3},
        {"fixext 2",
         "\xd5\x05"
         "ab",
         4},
        {"fixext 4",
         "\xd6\x05"
         "abcd",
         6},
        {"fixext 8",
         "\xd7\x05"
         "abcdefgh",
         10},
        {"fixext 16",
         "\xd8\x05"
         "abcdefghijklmnop",
         18},
        {"fixarray", "\x92\x01\xc0", 3},
        {"array 16", "\xdc\0\x02\x01\xc0", 5},
        {"array 32", "\xdd\0\0\0\x02\x01\xc0", 7},
        {"fixmap", "\x81\xa1k\x01", 4},
        {"map 16", "\xde\0\x01\xa1k\x01", 6},
        {"map 32", "\xdf\0\0\0\x01\xa1k\x01", 8},
        {"empty containers",
         "\x82\xa1"
         "a\x90\xa1"
         "b\x80",
         7},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const uint8_t *bytes = (const uint8_t *) formats[i].bytes;
        cr_expect_eq (oms_msgpack_check (bytes, formats[i].size), OMS_OK, "%s", formats[i].name);
        cr_expect_eq (oms_msgpack_check (bytes, formats[i].size - 1), OMS_E_TRUNCATED, "%s short",
                      formats[i].name);
        uint8_t longer[32];
        memcpy (longer, bytes, formats[i].size);
        longer[formats[i].size] = 0xc0;
        cr_expect_eq (oms_msgpack_check (longer, formats[i].size + 1), OMS_E_TRAILING,
                      "%s then nil", formats[i].name);
    }
    cr_expect_eq (oms_msgpack_check ((const uint8_t *) "\xc1", 1), OMS_E_MALFORMED);
    cr_expect_eq (oms_msgpack_check ((const uint8_t *) "\x91\xc1", 2), OMS_E_MALFORMED);
    cr_expect_eq (oms_msgpack_check (NULL, 0), OMS_E_TRUNCATED);
}

Test (msgpack, refuses_huge_declared_sizes_without_allocating)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t size;
    } huge[] = {
        {"array 32 of 2^32-1", "\xdd\xff\xff\xff\xff", 5},
        {"map 32 of 2^32-1", "\xdf\xff\xff\xff\xff", 5},
        {"str 32 of 2^32-1", "\x81\xa1k\xdb\xff\xff\xff\xff", 9},
        {"bin 32 of 2^32-1", "\x81\xa1k\xc6\xff\xff\xff\xff", 9},
        {"ext 32 of 2^32-1", "\x81\xa1k\xc9\xff\xff\xff\xff\x01", 10},
        {"array 16 of 65535 in a map", "\x81\xa1k\xdc\xff\xff\x01\x02", 8},
        {"map of one, declaring 2^28 inside", "\x81\xa1k\xdd\x10\0\0\0", 8},
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        const uint8_t *bytes = (const uint8_t *) huge[i].bytes;
#ifdef WATCH_MALLOC
        s_largest_malloc = 0;
#endif
        oms_event_t event;
        oms_fault_t fault;
        cr_expect_eq (oms_msgpack_check (bytes, huge[i].size), OMS_E_TRUNCATED, "%s", huge[i].name);
        cr_expect_eq (oms_event_decode (bytes, huge[i].size, NULL, &event, &fault), OMS_E_TRUNCATED,
                      "%s", huge[i].name);
        oms_request_t req;
        cr_expect_eq (oms_request_decode (bytes, huge[i].size, &req, &fault), OMS_E_TRUNCATED, "%s",
                      huge[i].name);
#ifdef WATCH_MALLOC
        cr_expect_lt (s_largest_malloc, 4096, "%s allocated %zu bytes", huge[i].name,
                      s_largest_malloc);
#endif
    }
#ifdef WATCH_MALLOC
    //  The watch works: a real decode allocates msgpack-c's zone.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_doc (&buf, s_placed, NULL);
    s_largest_malloc = 0;
    oms_event_t event;
    cr_expect_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &event, NULL), OMS_OK);
    cr_expect_gt (s_largest_malloc, 0);
    msgpack_sbuffer_destroy (&buf);
#endif
}

Test (msgpack, allows_nesting_to_the_limit_and_no_deeper)
{
    uint8_t deep[128];
    for (size_t levels = 1; levels <= 100; levels++) {
        memset (deep, 0x91, levels - 1);
        deep[levels - 1] = 0x90;
        int expected = levels <= OMS_DEPTH_MAX ? OMS_OK : OMS_E_DEPTH;
        cr_expect_eq (oms_msgpack_check (deep, levels), expected, "%zu levels", levels);
    }
    //  100 levels under a map, as an event and as a command
    memcpy (deep,
            "\x81\xa4"
            "data",
            6);
    memset (deep + 6, 0x91, 99);
    deep[105] = 0x90;
    oms_event_t event;
    oms_request_t req;
    oms_fault_t fault;
    cr_expect_eq (oms_event_decode (deep, 106, NULL, &event, &fault), OMS_E_DEPTH);
    cr_expect_eq (fault.code, OMS_E_DEPTH);
    cr_expect_eq (oms_request_decode (deep, 106, &req, &fault), OMS_E_DEPTH);
}

Test (msgpack, requires_a_map_at_the_top)
{
    msgpack_unpacked msg;
    oms_fault_t fault;
    cr_expect_eq (oms_msgpack_parse ((const uint8_t *) "\x93\x01\x02\x03", 4, &msg, &fault),
                  OMS_E_TYPE);
    msgpack_unpacked_destroy (&msg);
    cr_expect_eq (oms_msgpack_parse ((const uint8_t *) "\x81\xa1k\x01", 4, &msg, &fault), OMS_OK);
    const msgpack_object *k = oms_msgpack_get (&msg.data, "k");
    cr_assert_not_null (k);
    cr_expect_eq (k->via.u64, 1);
    cr_expect_null (oms_msgpack_get (&msg.data, "kk"));
    msgpack_unpacked_destroy (&msg);
}

Test (event, survives_a_round_trip_of_every_type)
{
    static oms_event_t events[EVERY_EVENT];
    static oms_event_t decoded;
    s_every_event (events);
    bool seen[32] = {false};
    for (int i = 0; i < EVERY_EVENT; i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        cr_assert_eq (oms_event_encode (&events[i], &buf), OMS_OK, "%s encodes", events[i].type);
        oms_fault_t fault;
        int rc =
            oms_event_decode ((uint8_t *) buf.data, buf.size, events[i].type, &decoded, &fault);
        char text[128];
        cr_assert_eq (rc, OMS_OK, "%s decodes: %s", events[i].type,
                      oms_fault_str (&fault, text, sizeof text));
        cr_expect_eq (memcmp (&decoded, &events[i], sizeof decoded), 0, "%s is unchanged",
                      events[i].type);
        cr_expect_str_eq (decoded.id, events[i].id);
        cr_expect_eq (decoded.data.n_items, events[i].data.n_items);
        cr_expect_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &decoded, NULL),
                      OMS_OK);
        const oms_event_type_t *entry = oms_event_type (events[i].type);
        seen[entry - oms_event_types] = true;
        msgpack_sbuffer_destroy (&buf);
    }
    for (const oms_event_type_t *entry = oms_event_types; entry->type; entry++)
        cr_expect (seen[entry - oms_event_types], "%s is covered", entry->type);
}

Test (event, factory_order_confirmed_puts_the_total_in_amount_cents)
{
    oms_event_t event;
    oms_event_order_confirmed (&event, "o-9", "dave", 4321);
    cr_expect_eq (event.version, OMS_PROTO_VERSION);
    cr_expect_str_eq (event.type, "order.confirmed");
    cr_expect_eq (event.data.amount_cents, 4321);
    cr_expect_str_eq (event.producer, "");
    cr_expect_eq (event.seq, 0);
}

Test (event, factories_truncate_strings_to_their_limits)
{
    char long_text[OMS_TEXT_MAX * 2];
    memset (long_text, 'r', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = 0;
    oms_event_t event;
    oms_event_order_cancelled (&event, "o-1", "alice", long_text);
    cr_expect_eq (strlen (event.data.reason), OMS_TEXT_MAX);
    oms_event_heartbeat (&event, "payment", "p-1", "0.1.0", 1, NULL, 5, NULL, 7);
    cr_expect_str_eq (event.type, "heartbeat.payment");
    cr_expect_eq (event.data.n_heads, 0);
    cr_expect_eq (event.data.n_positions, 0);
}

Test (event, encode_refuses_what_would_not_decode)
{
    oms_event_t event;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_sbuffer_write (&buf, "keep", 4);

    oms_event_payment_completed (&event, "o-1", "alice", 100, "card");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_TOPIC, "no producer yet");
    s_stamp (&event, 1, "");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_OK);
    cr_assert_gt (buf.size, 4);
    buf.size = 4;

    s_stamp (&event, 0, "");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_RANGE, "seq 0");
    s_stamp (&event, 1, "");
    event.data.order_id[0] = 0;
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_INVALID, "empty order id");
    oms_event_payment_completed (&event, "o-1", "alice", -5, "card");
    s_stamp (&event, 1, "");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_RANGE, "negative amount");
    oms_event_order_placed (&event, "o-1", "alice", NULL, 0, "card", "");
    s_stamp (&event, 1, "");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_RANGE, "no items");
    event.data.n_items = OMS_ITEMS_MAX + 1;
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_TOO_MANY, "a count past the array");
    snprintf (event.type, sizeof event.type, "order.shipped");
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_TOPIC, "unknown type");
    event.version = 2;
    cr_expect_eq (oms_event_encode (&event, &buf), OMS_E_VERSION);
    memset (event.type, 'a', sizeof event.type);
    event.version = OMS_PROTO_VERSION;
    cr_expect_lt (oms_event_encode (&event, &buf), 0, "type without a NUL");

    cr_expect_eq (buf.size, 4, "failed encodes leave the buffer as it was");
    msgpack_sbuffer_destroy (&buf);
}

Test (event, encode_leaves_out_empty_optional_fields)
{
    oms_event_t event;
    oms_event_stock_reserved (&event, "o-1", "alice", 10, "wallet", "");
    s_stamp (&event, 3, "");
    event.correlation_id[0] = 0;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (oms_event_encode (&event, &buf), OMS_OK);
    msgpack_unpacked msg;
    cr_assert_eq (oms_msgpack_parse ((uint8_t *) buf.data, buf.size, &msg, NULL), OMS_OK);
    cr_expect_eq (msg.data.via.map.size, 8, "no correlation_id, no causation_id");
    cr_expect_null (oms_msgpack_get (&msg.data, "causation_id"));
    const msgpack_object *data = oms_msgpack_get (&msg.data, "data");
    cr_assert_not_null (data);
    cr_expect_null (oms_msgpack_get (data, "card_last4"));
    cr_expect_not_null (oms_msgpack_get (data, "amount_cents"));
    //  keys in PROTOCOL.md order
    static const char *order[] = {"version", "id",  "type",  "producer",
                                  "epoch",   "seq", "ts_ns", "data"};
    for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
        const msgpack_object_str *key = &msg.data.via.map.ptr[i].key.via.str;
        cr_expect (key->size == strlen (order[i]) && memcmp (key->ptr, order[i], key->size) == 0,
                   "key %u is %s", i, order[i]);
    }
    msgpack_unpacked_destroy (&msg);
    msgpack_sbuffer_destroy (&buf);
}

Test (event, accepts_integers_of_any_width)
{
    //  seq as uint 64, ts_ns as int 64, qty as int 8: all mean the same numbers
    static const entry_t data[] = {{"order_id", STR ("o-1")},
                                   {"customer", STR ("alice")},
                                   {"items", ARRAY (s_items)},
                                   {"method", STR ("card")},
                                   END};
    static const entry_t doc[] = {{"version", RAW ("\xcd\0\x01")},
                                  {"id", STR ("order/order.placed/7")},
                                  {"type", STR ("order.placed")},
                                  {"producer", STR ("order")},
                                  {"epoch", UINT (7)},
                                  {"seq", RAW ("\xcf\0\0\0\0\0\0\0\x07")},
                                  {"ts_ns", RAW ("\xd3\0\0\0\0\0\0\0\x09")},
                                  {"data", MAP (data)},
                                  END};
    patch_t qty = SET ("data.items[1].qty", RAW ("\xd0\x05"));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_doc (&buf, doc, &qty);
    oms_event_t event;
    oms_fault_t fault;
    cr_assert_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, "order.placed", &event, &fault),
                  OMS_OK, "field %s", fault.field);
    cr_expect_eq (event.seq, 7);
    cr_expect_eq (event.ts_ns, 9);
    cr_expect_eq (event.data.items[1].qty, 5);
    cr_expect_str_eq (event.correlation_id, "");
    msgpack_sbuffer_destroy (&buf);
}

Test (event, rejects_every_strict_prefix_as_truncated)
{
    static oms_event_t events[EVERY_EVENT];
    s_every_event (events);
    for (int i = 0; i < EVERY_EVENT; i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        cr_assert_eq (oms_event_encode (&events[i], &buf), OMS_OK);
        for (size_t size = 0; size < buf.size; size++) {
            oms_event_t event;
            oms_fault_t fault;
            int rc = oms_event_decode ((uint8_t *) buf.data, size, NULL, &event, &fault);
            if (rc != OMS_E_TRUNCATED)
                cr_assert_fail ("%s cut to %zu of %zu bytes: %d", events[i].type, size, buf.size,
                                rc);
        }
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (event, rejects_each_malformed_row_naming_the_field)
{
    for (size_t i = 0; i < ROWS (s_event_rows); i++) {
        const row_t *row = &s_event_rows[i];
        msgpack_sbuffer buf;
        s_row_bytes (row, &buf);
        oms_event_t event;
        oms_fault_t fault;
        int rc = oms_event_decode ((uint8_t *) buf.data, buf.size, row->topic, &event, &fault);
        cr_expect_eq (rc, row->code, "%s: %d (%s), expected %d (%s)", row->name, rc,
                      oms_strerror (rc), row->code, oms_strerror (row->code));
        cr_expect_eq (fault.code, rc, "%s: fault code", row->name);
        cr_expect_str_eq (fault.field, row->field, "%s: field", row->name);
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (event, malformed_table_shows_every_decoder_error)
{
    for (size_t i = 0; i < sizeof s_event_codes / sizeof s_event_codes[0]; i++)
        cr_expect (s_table_has (s_event_rows, ROWS (s_event_rows), s_event_codes[i]), "%s",
                   oms_strerror (s_event_codes[i]));
}

Test (event, rows_are_valid_without_their_change)
{
    //  Each row's document decodes when unchanged, so the change is what fails.
    for (size_t i = 0; i < ROWS (s_event_rows); i++) {
        if (!s_event_rows[i].doc)
            continue;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        s_pack_doc (&buf, s_event_rows[i].doc, NULL);
        oms_event_t event;
        oms_fault_t fault;
        cr_expect_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &event, &fault),
                      OMS_OK, "%s: %s", s_event_rows[i].name, fault.field);
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (event, reports_a_newer_version_before_its_unknown_keys)
{
    static const entry_t future[] = {{"version", UINT (2)},
                                     {"id", STR ("order/order.confirmed/1")},
                                     {"type", STR ("order.confirmed")},
                                     {"producer", STR ("order")},
                                     {"epoch", UINT (7)},
                                     {"seq", UINT (1)},
                                     {"ts_ns", UINT (1)},
                                     {"priority", UINT (1)},
                                     {"data", MAP (s_confirmed_data)},
                                     END};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_doc (&buf, future, NULL);
    oms_event_t event;
    oms_fault_t fault;
    cr_expect_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &event, &fault),
                  OMS_E_VERSION);
    cr_expect_str_eq (fault.field, "version");
    msgpack_sbuffer_destroy (&buf);
}

//  Changes to s_newer after which it still decodes, to what s_placed decodes
//  to: the keys this build does not know are skipped, whatever they hold.
// clang-format off
static const row_t s_newer_rows[] = {
    {"as written", s_newer, {P_NONE, NULL, {0}}, .code = OMS_OK},
    {"the largest minor", s_newer, SET ("minor", UINT (UINT64_MAX)), .code = OMS_OK},
    {"an unknown key holding nil", s_newer, SET ("priority", NIL), .code = OMS_OK},
    {"an unknown key holding a float", s_newer, SET ("priority", FLOAT (0.5)), .code = OMS_OK},
    {"an unknown key holding a map", s_newer, SET ("priority", MAP (s_placed_data)), .code = OMS_OK},
    {"an unknown key holding an array", s_newer, SET ("data.gift", ARRAY (s_items)), .code = OMS_OK},
    {"an unknown key nested to the limit", s_newer, SET ("priority", DEEP (7)), .code = OMS_OK},
    {"an unknown key in the second item", s_newer, ADD ("data.items[1].note", STR ("x")), .code = OMS_OK},
    {"an unknown key given twice", s_newer, TWICE ("priority"), .code = OMS_OK},
    {"an unknown key with the name of a command key", s_newer, ADD ("data.request_id", UINT (1)), .code = OMS_OK},
};
// clang-format on

Test (event, a_newer_minor_skips_the_keys_it_adds)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_doc (&buf, s_placed, NULL);
    oms_event_t expected;
    oms_fault_t fault;
    cr_assert_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &expected, &fault),
                  OMS_OK);
    msgpack_sbuffer_destroy (&buf);
    cr_assert_eq (expected.minor, 0);

    for (size_t i = 0; i < ROWS (s_newer_rows); i++) {
        const row_t *row = &s_newer_rows[i];
        s_row_bytes (row, &buf);
        oms_event_t event;
        int rc = oms_event_decode ((uint8_t *) buf.data, buf.size, "order.placed", &event, &fault);
        cr_expect_eq (rc, OMS_OK, "%s: %s at %s", row->name, oms_strerror (rc), fault.field);
        if (rc == OMS_OK) {
            cr_expect_gt (event.minor, OMS_EVENT_MINOR, "%s: minor", row->name);
            event.minor = 0;
            cr_expect (memcmp (&event, &expected, sizeof event) == 0, "%s: same facts", row->name);
            //  What was skipped cannot be written again as that minor.
            event.minor = OMS_EVENT_MINOR + 1;
            msgpack_sbuffer out;
            msgpack_sbuffer_init (&out);
            cr_expect_eq (oms_event_encode (&event, &out), OMS_E_VERSION, "%s: encode", row->name);
            msgpack_sbuffer_destroy (&out);
        }
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (event, decodes_the_minor_example_in_protocol_md)
{
    static const entry_t data[] = {{"order_id", STR ("o-1")},
                                   {"customer", STR ("alice")},
                                   {"amount_cents", UINT (2500)},
                                   {"gift", RAW ("\xc3")},
                                   END};
    static const entry_t doc[] = {{"version", UINT (1)},
                                  {"minor", UINT (1)},
                                  {"id", STR ("order/order.confirmed/1")},
                                  {"type", STR ("order.confirmed")},
                                  {"producer", STR ("order")},
                                  {"epoch", UINT (UINT64_C (0x0123456789abcdef))},
                                  {"seq", UINT (1)},
                                  {"ts_ns", UINT (UINT64_C (1700000000000000000))},
                                  {"correlation_id", STR ("o-1")},
                                  {"priority", UINT (3)},
                                  {"data", MAP (data)},
                                  END};
    static const char start[] = "\x8b\xa7version\x01\xa5minor\x01";
    static const char priority[] = "\xa8priority\x03";
    static const char gift[] = "\xa4gift\xc3";
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_doc (&buf, doc, NULL);
    cr_assert_geq (buf.size, sizeof start - 1);
    cr_expect (memcmp (buf.data, start, sizeof start - 1) == 0, "begins as shown");
    cr_expect_not_null (memmem (buf.data, buf.size, priority, sizeof priority - 1));
    cr_expect_not_null (memmem (buf.data, buf.size, gift, sizeof gift - 1));

    oms_event_t event, expected;
    oms_fault_t fault;
    cr_assert_eq (
        oms_event_decode ((uint8_t *) buf.data, buf.size, "order.confirmed", &event, &fault),
        OMS_OK, "%s", fault.field);
    oms_event_order_confirmed (&expected, "o-1", "alice", 2500);
    s_stamp (&expected, 1, "");
    expected.minor = 1;
    expected.ts_ns = UINT64_C (1700000000000000000);
    cr_expect (memcmp (&event, &expected, sizeof event) == 0, "the facts of minor 0");

    //  The same bytes at minor 0.
    ((char *) buf.data)[16] = 0;
    cr_expect_eq (oms_event_decode ((uint8_t *) buf.data, buf.size, NULL, &event, &fault),
                  OMS_E_UNKNOWN);
    cr_expect_str_eq (fault.field, "priority");
    msgpack_sbuffer_destroy (&buf);
}

Test (event, writes_no_minor_at_minor_0)
{
    oms_event_t event;
    oms_event_catalog_updated (&event, "SKU-1", 100);
    s_stamp (&event, 1, "");
    cr_assert_eq (event.minor, OMS_EVENT_MINOR);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (oms_event_encode (&event, &buf), OMS_OK);
    msgpack_unpacked msg;
    cr_assert_eq (oms_msgpack_parse ((uint8_t *) buf.data, buf.size, &msg, NULL), OMS_OK);
    cr_expect_null (oms_msgpack_get (&msg.data, "minor"));
    msgpack_unpacked_destroy (&msg);
    msgpack_sbuffer_destroy (&buf);
}

Test (event, knows_its_types_and_owners)
{
    const oms_event_type_t *placed = oms_event_type ("order.placed");
    cr_assert_not_null (placed);
    cr_expect_str_eq (placed->owner, "order");
    cr_expect (placed->durable);
    const oms_event_type_t *beat = oms_event_type ("heartbeat.inventory");
    cr_assert_not_null (beat);
    cr_expect_null (beat->owner);
    cr_expect_not (beat->durable);
    cr_expect_null (oms_event_type ("heartbeat."));
    cr_expect_null (oms_event_type ("heartbeat.Order"));
    cr_expect_null (oms_event_type ("heartbeat.a-process-name-far-too-long"));
    cr_expect_null (oms_event_type ("heartbeat." OMS_CAUSE_COMMAND_PROCESS),
                    "no event id may start like a command's causation id");
    cr_expect_not_null (oms_event_type ("heartbeat.cmdx"));
    cr_expect_null (oms_event_type ("order"));
    cr_expect_null (oms_event_type (NULL));
    size_t n = 0;
    for (const oms_event_type_t *entry = oms_event_types; entry->type; entry++)
        n++;
    cr_expect_eq (n, 12);
}

Test (event, decodes_the_worked_example_in_protocol_md)
{
    const char *source = getenv ("OMS_SOURCE_DIR");
    if (!source)
        cr_skip_test ("OMS_SOURCE_DIR is not set");
    char path[4096];
    snprintf (path, sizeof path, "%s/proto/PROTOCOL.md", source);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);

    //  The hex dump is in the "Worked example" section, in `hexdump -C`
    //  layout: offset, bytes, |text|.
    uint8_t bytes[1024];
    size_t size = 0;
    char line[256];
    bool in_section = false;
    while (fgets (line, sizeof line, file)) {
        if (strncmp (line, "## ", 3) == 0)
            in_section = strstr (line, "Worked example") != NULL;
        unsigned offset;
        int used;
        if (!in_section || sscanf (line, "%8x%n", &offset, &used) != 1 || used != 8 ||
            offset != size)
            continue;
        char *bar = strchr (line, '|');
        if (bar)
            *bar = 0;
        char *cursor = line + used;
        unsigned value;
        while (sscanf (cursor, " %2x%n", &value, &used) == 1 && size < sizeof bytes) {
            bytes[size++] = (uint8_t) value;
            cursor += used;
        }
    }
    fclose (file);
    cr_assert_gt (size, 0, "found the hex dump");

    oms_event_t expected;
    oms_event_order_confirmed (&expected, "o-1", "alice", 2500);
    snprintf (expected.id, sizeof expected.id, "order/order.confirmed/1");
    snprintf (expected.producer, sizeof expected.producer, "order");
    expected.epoch = UINT64_C (0x0123456789abcdef);
    expected.seq = 1;
    expected.ts_ns = UINT64_C (1700000000000000000);
    snprintf (expected.correlation_id, sizeof expected.correlation_id, "o-1");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (oms_event_encode (&expected, &buf), OMS_OK);
    cr_expect_eq (size, buf.size, "example is %zu bytes, encoder gives %zu", size, buf.size);
    cr_expect_eq (memcmp (bytes, buf.data, size < buf.size ? size : buf.size), 0,
                  "example bytes are the encoder's");
    oms_event_t decoded;
    cr_expect_eq (oms_event_decode (bytes, size, "order.confirmed", &decoded, NULL), OMS_OK);
    msgpack_sbuffer_destroy (&buf);
}

static void
s_request_round_trip (const oms_request_t *req)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (oms_request_encode (req, &buf), OMS_OK, "%s encodes", req->cmd);
    oms_request_t decoded;
    oms_fault_t fault;
    char text[128];
    int rc = oms_request_decode ((uint8_t *) buf.data, buf.size, &decoded, &fault);
    cr_assert_eq (rc, OMS_OK, "%s decodes: %s", req->cmd,
                  oms_fault_str (&fault, text, sizeof text));
    cr_expect_eq (memcmp (&decoded, req, sizeof decoded), 0, "%s is unchanged", req->cmd);
    msgpack_sbuffer_destroy (&buf);
}

#define REQUEST(name)      memset (&req, 0, sizeof req), snprintf (req.cmd, sizeof req.cmd, name)
#define SETS(field, value) snprintf (req.field, sizeof req.field, "%s", value)

Test (command, survives_a_round_trip_of_every_command)
{
    static const char *every[] = {"place",       "cancel",        "get",        "stock.set",
                                  "stock.get",   "wallet.credit", "wallet.get", "notifications",
                                  "channel.set", "replay",        "status",     "position.set"};
    oms_request_t req;

    REQUEST ("place");
    SETS (request_id, "r-1");
    SETS (customer, "alice");
    for (uint32_t i = 0; i < 3; i++) {
        snprintf (req.items[i].sku, sizeof req.items[i].sku, "SKU-%u", i);
        req.items[i].qty = OMS_QTY_MAX - i;
    }
    req.n_items = 3;
    SETS (method, "card");
    SETS (card, "4242424242424242");
    s_request_round_trip (&req);
    memset (req.card, 0, sizeof req.card);
    for (const char *const *method = oms_payment_methods; *method; method++) {
        memset (req.method, 0, sizeof req.method);
        SETS (method, *method);
        s_request_round_trip (&req);
    }

    REQUEST ("cancel");
    SETS (order_id, "o-1");
    s_request_round_trip (&req);
    REQUEST ("get");
    SETS (order_id, "o-1");
    s_request_round_trip (&req);
    REQUEST ("orders.list");
    s_request_round_trip (&req);
    SETS (status, "PENDING,RESERVED");
    SETS (customer, "alice");
    SETS (page, "00000000000003f6o-14");
    req.since_ns = 1;
    req.older_than_ns = UINT64_MAX;
    req.limit = OMS_LIST_MAX;
    s_request_round_trip (&req);
    REQUEST ("stock.set");
    SETS (sku, "SKU-1");
    req.qty = INT64_C (1) << 53;
    req.price_cents = OMS_CENTS_MAX;
    s_request_round_trip (&req);
    req.qty = 0;
    req.price_cents = 0;
    s_request_round_trip (&req);
    REQUEST ("stock.get");
    SETS (sku, "SKU-1");
    s_request_round_trip (&req);
    REQUEST ("wallet.credit");
    SETS (customer, "alice");
    req.amount_cents = 1;
    s_request_round_trip (&req);
    REQUEST ("wallet.get");
    SETS (customer, "alice");
    s_request_round_trip (&req);
    REQUEST ("notifications");
    SETS (order_id, "o-1");
    s_request_round_trip (&req);
    REQUEST ("notifications");
    SETS (customer, "alice");
    s_request_round_trip (&req);
    REQUEST ("channel.set");
    SETS (customer, "alice");
    SETS (channel, "sms");
    s_request_round_trip (&req);
    REQUEST ("replay");
    SETS (topic, "stock.reserved");
    req.from = 42;
    req.max = 4096;
    s_request_round_trip (&req);
    REQUEST ("status");
    s_request_round_trip (&req);
    REQUEST ("position.set");
    SETS (topic, "order.placed");
    req.seq = 0;
    s_request_round_trip (&req);
    req.seq = UINT64_MAX;
    s_request_round_trip (&req);

    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
        const oms_command_type_t *command = oms_command_type (every[i]);
        cr_assert_not_null (command, "%s", every[i]);
        cr_expect_str_eq (command->cmd, every[i]);
    }
    cr_expect_null (oms_command_type ("ship"));
}

Test (command, encode_refuses_what_would_not_decode)
{
    oms_request_t req;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    REQUEST ("ship");
    cr_expect_eq (oms_request_encode (&req, &buf), OMS_E_UNKNOWN);
    REQUEST ("wallet.credit");
    SETS (customer, "alice");
    cr_expect_eq (oms_request_encode (&req, &buf), OMS_E_RANGE, "a credit of zero");
    REQUEST ("replay");
    SETS (topic, "Order.Placed");
    req.from = 1;
    req.max = 1;
    cr_expect_eq (oms_request_encode (&req, &buf), OMS_E_INVALID);
    REQUEST ("place");
    SETS (request_id, "r-1");
    SETS (customer, "alice");
    SETS (items[0].sku, "SKU-1");
    req.items[0].qty = 1;
    req.n_items = 1;
    SETS (method, "bitcoin");
    cr_expect_eq (oms_request_encode (&req, &buf), OMS_E_INVALID,
                  "a method with no payment method");
    cr_expect_eq (buf.size, 0);
    msgpack_sbuffer_destroy (&buf);
}

Test (command, rejects_each_malformed_row_naming_the_field)
{
    for (size_t i = 0; i < ROWS (s_command_rows); i++) {
        const row_t *row = &s_command_rows[i];
        msgpack_sbuffer buf;
        s_row_bytes (row, &buf);
        oms_request_t req;
        oms_fault_t fault;
        int rc = oms_request_decode ((uint8_t *) buf.data, buf.size, &req, &fault);
        cr_expect_eq (rc, row->code, "%s: %d (%s), expected %d (%s)", row->name, rc,
                      oms_strerror (rc), row->code, oms_strerror (row->code));
        cr_expect_eq (fault.code, rc, "%s: fault code", row->name);
        cr_expect_str_eq (fault.field, row->field, "%s: field", row->name);
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (command, malformed_table_shows_every_decoder_error)
{
    for (size_t i = 0; i < sizeof s_command_codes / sizeof s_command_codes[0]; i++)
        cr_expect (s_table_has (s_command_rows, ROWS (s_command_rows), s_command_codes[i]), "%s",
                   oms_strerror (s_command_codes[i]));
}

Test (command, rows_are_valid_without_their_change)
{
    for (size_t i = 0; i < ROWS (s_command_rows); i++) {
        if (!s_command_rows[i].doc)
            continue;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        s_pack_doc (&buf, s_command_rows[i].doc, NULL);
        oms_request_t req;
        oms_fault_t fault;
        cr_expect_eq (oms_request_decode ((uint8_t *) buf.data, buf.size, &req, &fault), OMS_OK,
                      "%s: %s", s_command_rows[i].name, fault.field);
        msgpack_sbuffer_destroy (&buf);
    }
}

// ---------------------------------------------------------------------------
//  The schema codec on a record of its own, as the store uses it

typedef struct {
    char name[9];
    bool active;
    oms_bin_t blob;
    uint64_t count;
    int64_t delta;
    char note[17];
} s_record_t;

static const oms_field_t s_record_fields[] = {
    {.key = "name",
     .type = OMS_T_STR,
     .offset = offsetof (s_record_t, name),
     .required = true,
     .chars = OMS_C_NAME,
     .max = 8},
    {.key = "active", .type = OMS_T_BOOL, .offset = offsetof (s_record_t, active)},
    {.key = "blob", .type = OMS_T_BIN, .offset = offsetof (s_record_t, blob), .max = 16},
    {.key = "count",
     .type = OMS_T_UINT,
     .offset = offsetof (s_record_t, count),
     .required = true,
     .max = 1000},
    {.key = "delta",
     .type = OMS_T_INT,
     .offset = offsetof (s_record_t, delta),
     .min = -5,
     .max = 5},
    {.key = "note", .type = OMS_T_STR, .offset = offsetof (s_record_t, note), .max = 16},
};
static const oms_schema_t s_record_schema = {"record", s_record_fields, 6, 0};

Test (schema, round_trips_bools_bins_and_negative_ints)
{
    s_record_t record = {.name = "abc", .active = true, .count = 1000, .delta = -5};
    record.blob.data = (const uint8_t *) "\0\1\2";
    record.blob.size = 3;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    cr_assert_eq (oms_schema_pack (&s_record_schema, &record, &pk), OMS_OK);

    msgpack_unpacked msg;
    cr_assert_eq (oms_msgpack_parse ((uint8_t *) buf.data, buf.size, &msg, NULL), OMS_OK);
    cr_expect_eq (msg.data.via.map.size, 5, "the empty note is left out");
    s_record_t decoded;
    memset (&decoded, 0xff, sizeof decoded);
    oms_fault_t fault;
    cr_assert_eq (oms_schema_unpack (&s_record_schema, &msg.data, &decoded, "rec", &fault), OMS_OK);
    cr_expect_str_eq (decoded.name, "abc");
    cr_expect (decoded.active);
    cr_expect_eq (decoded.blob.size, 3);
    cr_expect_eq (memcmp (decoded.blob.data, "\0\1\2", 3), 0);
    cr_expect_eq ((const char *) decoded.blob.data >= buf.data &&
                      (const char *) decoded.blob.data < buf.data + buf.size,
                  1, "the bin is a view into the input");
    cr_expect_eq (decoded.count, 1000);
    cr_expect_eq (decoded.delta, -5);
    cr_expect_str_eq (decoded.note, "", "listed fields are zeroed first");
    msgpack_unpacked_destroy (&msg);

    record.delta = 6;
    size_t before = buf.size;
    cr_expect_eq (oms_schema_pack (&s_record_schema, &record, &pk), OMS_E_RANGE);
    record.delta = 0;
    record.blob.size = 17;
    cr_expect_eq (oms_schema_pack (&s_record_schema, &record, &pk), OMS_E_TOO_LONG);
    cr_expect_eq (buf.size, before, "nothing written on failure");
    msgpack_sbuffer_destroy (&buf);
}

Test (schema, names_nested_paths_under_its_prefix)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    static const entry_t doc[] = {
        {"name", STR ("abc")}, {"count", UINT (1)}, {"active", UINT (1)}, END};
    s_pack_doc (&buf, doc, NULL);
    msgpack_unpacked msg;
    cr_assert_eq (oms_msgpack_parse ((uint8_t *) buf.data, buf.size, &msg, NULL), OMS_OK);
    s_record_t decoded;
    oms_fault_t fault;
    cr_expect_eq (oms_schema_unpack (&s_record_schema, &msg.data, &decoded, "rec", &fault),
                  OMS_E_TYPE);
    cr_expect_str_eq (fault.field, "rec.active");
    msgpack_unpacked_destroy (&msg);
    msgpack_sbuffer_destroy (&buf);
}
