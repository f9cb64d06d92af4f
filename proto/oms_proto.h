/*  oms_proto: the oms wire format, version 1.

    PROTOCOL.md beside this file is the specification; this header follows its
    names and field order. Everything that crosses a socket or lands in a store
    is a msgpack map described by a field table (oms_field_t): one generic
    encoder and one total decoder serve every event body, the envelope,
    commands and the records services keep.

    An event travels as two frames: the topic (its type, e.g. "order.placed")
    and a msgpack body holding the envelope and, under "data", the event body.
*/
#ifndef OMS_PROTO_H
#define OMS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define OMS_PROTO_VERSION 1
//  The minor of the events this build writes and understands completely. An
//  event of a higher minor may carry optional keys this build does not know,
//  which it skips (PROTOCOL.md section 9); a minor only ever adds.
#define OMS_EVENT_MINOR 0

//  Size limits of the wire format. A string limit counts bytes, without the
//  terminating NUL that the C structs add.
#define OMS_ID_MAX    64 //  order ids, customer ids, request ids, event ids
#define OMS_NAME_MAX  32 //  topics, producers, methods, kinds, channels
#define OMS_SKU_MAX   32
#define OMS_TEXT_MAX  256 //  reasons, notification texts, errors
#define OMS_CARD_MAX  19  //  a card number, digits only
#define OMS_ITEMS_MAX 64  //  lines in one order
#define OMS_HEADS_MAX 16  //  topics in one heartbeat
#define OMS_QTY_MAX   1000000
#define OMS_CENTS_MAX INT64_C (1000000000000000) //  10^15 minor units
#define OMS_MSG_MAX   (1024 * 1024)              //  a body larger than this is refused unread
#define OMS_DEPTH_MAX 8                          //  deeper msgpack nesting is refused unread

//  One error space for the codec, the store and the runtime; 0 is success.
typedef enum {
    OMS_OK = 0,
    OMS_E_MALFORMED = -1, //  bytes are not msgpack
    OMS_E_TRUNCATED = -2, //  msgpack ends before the object does
    OMS_E_TRAILING = -3,  //  bytes after the object
    OMS_E_TYPE = -4,      //  a value of the wrong msgpack type
    OMS_E_MISSING = -5,   //  a required field is absent
    OMS_E_UNKNOWN = -6,   //  a field the schema does not have
    OMS_E_DUPLICATE = -7, //  a field given twice
    OMS_E_TOO_LONG = -8,  //  a string over its limit
    OMS_E_TOO_MANY = -9,  //  an array or map over its limit
    OMS_E_RANGE = -10,    //  an integer outside its range
    OMS_E_INVALID = -11,  //  a string its field does not allow (characters, or not a listed name)
    OMS_E_VERSION = -12,  //  unsupported schema version
    OMS_E_TOPIC = -13,    //  unknown event type, or type and topic frame disagree
    OMS_E_FRAMES = -14,   //  wrong number of frames
    OMS_E_TOO_BIG = -15,  //  message over OMS_MSG_MAX
    OMS_E_DEPTH = -16,    //  nesting deeper than OMS_DEPTH_MAX
    OMS_E_NOTFOUND = -17, //  no such record
    OMS_E_STORE = -18,    //  the store failed (LMDB error, logged with detail)
    OMS_E_FULL = -19,     //  the store's map is full
    OMS_E_REJECTED = -20, //  a command refused for a reason given to the caller
    OMS_E_NOMEM = -21,
    OMS_E_GONE = -22,   //  replay asked for events past retention
    OMS_E_DENIED = -23, //  not allowed for this peer
    OMS_E_LIMIT = -24,  //  a configured limit was exceeded
    OMS_E_TIMEOUT = -25,
    OMS_E_LAST = -26
} oms_error_t;

//  Returns a static, human readable text for an oms_error_t.
const char *oms_strerror (int code);

//  Formats an error message into a caller's buffer, which may be NULL (then
//  nothing is written). For modules whose calls report why they failed.
void oms_error_format (char *error, size_t size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Where a decode failed: the error code and the field path, e.g.
//  "data.items[2].qty". Decoders fill it when they fail (if not NULL).
typedef struct {
    int code;
    char field[64];
} oms_fault_t;

//  Records a failure in `fault` (if not NULL) and returns `code`.
int oms_fault_set (oms_fault_t *fault, int code, const char *field);

//  Formats "field: reason" into buf; returns buf.
const char *oms_fault_str (const oms_fault_t *fault, char *buf, size_t size);

// ---------------------------------------------------------------------------
//  Schema: a msgpack map described as data

typedef enum {
    OMS_T_STR,   //  char[max + 1], NUL terminated; allowed chars per `chars`
    OMS_T_UINT,  //  uint64_t, in [min, max]
    OMS_T_INT,   //  int64_t, in [min, max]
    OMS_T_BOOL,  //  bool
    OMS_T_ITEMS, //  oms_item_t[max] with its count in the uint32_t at count_offset
    OMS_T_HEADS, //  oms_head_t[max] with its count in the uint32_t at count_offset
    OMS_T_BIN,   //  oms_bin_t: a borrowed view into the decoded buffer
    OMS_T_MAP    //  a nested record described by the field's `schema`; with
                 //  schema NULL the decoder only checks that it is a map
                 //  (the event envelope's "data", whose schema is per type)
} oms_type_t;

//  Characters a string field allows.
typedef enum {
    OMS_C_ANY = 0, //  any UTF-8 bytes except NUL
    OMS_C_ID,      //  [A-Za-z0-9._:@/-], non-empty
    OMS_C_NAME,    //  [a-z0-9._-], non-empty
    OMS_C_DIGITS   //  [0-9], non-empty
} oms_chars_t;

typedef struct oms_schema_s oms_schema_t;

typedef struct {
    const char *key;
    oms_type_t type;
    size_t offset; //  offsetof the value in the target struct
    bool required;
    oms_chars_t chars;          //  OMS_T_STR only
    int64_t min;                //  integers: smallest allowed value;
                                //  arrays: fewest elements when present
    uint64_t max;               //  strings and bin: max bytes; integers: largest
                                //  value; arrays: max elements
    size_t count_offset;        //  arrays: offsetof their uint32_t count
    const oms_schema_t *schema; //  OMS_T_MAP: the nested record's schema
    const char *const *names;   //  OMS_T_STR: when not NULL, the NULL-terminated
                                //  list of values the field allows
} oms_field_t;

struct oms_schema_s {
    const char *name; //  for error messages, e.g. "order.placed"
    const oms_field_t *fields;
    size_t n_fields; //  at most 64
    size_t size;     //  sizeof the record, zeroed whole before a
                     //  decode; 0 zeroes only the listed fields
};

typedef struct {
    const uint8_t *data;
    size_t size;
} oms_bin_t;

//  Field table entries for a record type T whose member is named like its
//  key, e.g. OMS_STR (order_t, customer, OMS_C_ID, OMS_ID_MAX, true).
#define OMS_STR(T, name, chars_, max_, required_)                                                  \
    {                                                                                              \
        .key = #name, .type = OMS_T_STR, .offset = offsetof (T, name), .required = (required_),    \
        .chars = (chars_), .max = (max_)                                                           \
    }
#define OMS_INT(T, name, min_, max_, required_)                                                    \
    {                                                                                              \
        .key = #name, .type = OMS_T_INT, .offset = offsetof (T, name), .required = (required_),    \
        .min = (min_), .max = (max_)                                                               \
    }
#define OMS_UINT(T, name, min_, max_, required_)                                                   \
    {                                                                                              \
        .key = #name, .type = OMS_T_UINT, .offset = offsetof (T, name), .required = (required_),   \
        .min = (min_), .max = (max_)                                                               \
    }
#define OMS_ITEMS(T, name, count, min_, required_)                                                 \
    {                                                                                              \
        .key = #name, .type = OMS_T_ITEMS, .offset = offsetof (T, name), .required = (required_),  \
        .min = (min_), .max = OMS_ITEMS_MAX, .count_offset = offsetof (T, count)                   \
    }
#define OMS_SCHEMA(T, name, fields)                                                                \
    {                                                                                              \
        name, fields, sizeof fields / sizeof fields[0], sizeof (T)                                 \
    }

//  Encodes the fields of `record` listed in `schema`, in schema order, as one
//  msgpack map. Optional strings that are empty, optional integers and bools
//  that are zero and optional arrays that are empty are left out. The record
//  is first checked against the schema by the decoder's rules: 0, or the
//  oms_error_t the decoder would give, in which case nothing is written.
int oms_schema_pack (const oms_schema_t *schema, const void *record, msgpack_packer *pk);

//  Decodes one msgpack map into `record` (zeroed first). Total: checks types,
//  required and unknown keys, duplicates, string lengths and characters,
//  integer ranges and array sizes. `path` prefixes fault field names.
int oms_schema_unpack (const oms_schema_t *schema, const msgpack_object *map, void *record,
                       const char *path, oms_fault_t *fault);

//  As oms_schema_unpack, but keys the schema does not list, at any depth, are
//  passed over instead of refused (OMS_E_UNKNOWN): for an event of a newer
//  minor only. Every listed key is checked as strictly; a skipped key must
//  still be a str, and its value is bounded only by oms_msgpack_parse.
int oms_schema_unpack_newer (const oms_schema_t *schema, const msgpack_object *map, void *record,
                             const char *path, oms_fault_t *fault);

//  Checks that [data, data+size) is exactly one msgpack object no deeper than
//  OMS_DEPTH_MAX whose every declared length fits in the remaining bytes, so
//  that unpacking it cannot be made to allocate more than the input justifies.
int oms_msgpack_check (const uint8_t *data, size_t size);

//  Refuses more than OMS_MSG_MAX bytes unread (OMS_E_TOO_BIG), checks with
//  oms_msgpack_check, then unpacks into `result`. Initialises `result` and
//  clears `fault` first; the caller destroys `result` with msgpack_unpacked_destroy
//  whatever this returns. Strings and bins in it point into `data`. The top
//  level must be a map (else OMS_E_TYPE).
int oms_msgpack_parse (const uint8_t *data, size_t size, msgpack_unpacked *result,
                       oms_fault_t *fault);

//  The value of `key` in `map` (the first one if given twice), or NULL when
//  absent or `map` is not a map. Borrowed: lives as long as `map`.
const msgpack_object *oms_msgpack_get (const msgpack_object *map, const char *key);

// ---------------------------------------------------------------------------
//  Events

typedef struct {
    char sku[OMS_SKU_MAX + 1];
    int64_t qty;
} oms_item_t;

typedef struct {
    char topic[OMS_NAME_MAX + 1];
    uint64_t seq;
} oms_head_t;

//  Every event body field, flat; each event type uses the subset its schema
//  lists (see PROTOCOL.md for which).
typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char customer[OMS_ID_MAX + 1];
    oms_item_t items[OMS_ITEMS_MAX];
    uint32_t n_items;
    char method[OMS_NAME_MAX + 1];
    char card_last4[5];
    int64_t amount_cents;
    char reason[OMS_TEXT_MAX + 1];
    char sku[OMS_SKU_MAX + 1];
    int64_t available;
    int64_t reserved;
    int64_t sold;
    int64_t price_cents;
    char kind[OMS_NAME_MAX + 1];
    char channel[OMS_NAME_MAX + 1];
    char text[OMS_TEXT_MAX + 1];
    //  heartbeat
    char name[OMS_NAME_MAX + 1];
    char instance[OMS_ID_MAX + 1];
    char version[OMS_NAME_MAX + 1];
    uint64_t uptime_ns;
    oms_head_t heads[OMS_HEADS_MAX]; //  newest seq of each type it publishes
    uint32_t n_heads;
    oms_head_t positions[OMS_HEADS_MAX]; //  last applied seq of each type it follows
    uint32_t n_positions;
} oms_body_t;

typedef struct {
    uint64_t version;                    //  OMS_PROTO_VERSION, the major
    uint64_t minor;                      //  OMS_EVENT_MINOR when written here; on
                                         //  the wire only when not 0
    char id[OMS_ID_MAX + 1];             //  "<producer>/<type>/<seq>"
    char type[OMS_NAME_MAX + 1];         //  equals the topic frame
    char producer[OMS_NAME_MAX + 1];     //  the service that owns the type
    uint64_t epoch;                      //  the producer's store identity, >= 1
    uint64_t seq;                        //  per producer and type, dense from 1
    uint64_t ts_ns;                      //  nanoseconds since the epoch
    char correlation_id[OMS_ID_MAX + 1]; //  the order id, "" if none
    char causation_id[OMS_ID_MAX + 1];   //  id of the event, or OMS_CAUSE_COMMAND and
                                         //  the request id, that caused it; "" if none
    oms_body_t data;
} oms_event_t;

//  Event types, their owners and whether they are kept in the owner's outbox.
//  The heartbeat entry stands for every "heartbeat.<process>": its type is
//  the prefix OMS_HEARTBEAT_PREFIX and its owner NULL, as the owner is the
//  <process> named in the type.
typedef struct {
    const char *type;
    const char *owner;
    const oms_schema_t *schema; //  of the "data" map
    bool durable;               //  false only for heartbeats
} oms_event_type_t;

//  The table entry of `type`; NULL when `type` is not an event type.
const oms_event_type_t *oms_event_type (const char *type);
//  All event types, terminated by an entry whose type is NULL.
extern const oms_event_type_t oms_event_types[];

//  Heartbeat topics are "heartbeat.<process>".
#define OMS_HEARTBEAT_PREFIX "heartbeat."

//  The causation_id of an event a command with a request id caused is this
//  prefix and the request id, when the whole fits in OMS_ID_MAX. No process
//  may be called "cmd", so that no event id (<producer>/<type>/<seq>) starts
//  with it and the two kinds of cause never meet.
#define OMS_CAUSE_COMMAND         "cmd/"
#define OMS_CAUSE_COMMAND_PROCESS "cmd"

//  Encodes envelope and body (no topic frame). 0 or a negative oms_error_t.
int oms_event_encode (const oms_event_t *event, msgpack_sbuffer *buffer);

//  Decodes a body. When `topic` is not NULL it must equal the event's type.
//  Checks OMS_MSG_MAX, structure, envelope and the type's data schema.
int oms_event_decode (const uint8_t *data, size_t size, const char *topic, oms_event_t *event,
                      oms_fault_t *fault);

//  Factory: one constructor per event type. Each zeroes `event`, sets its type
//  and data, and leaves the envelope's id, producer, seq and ts_ns to the
//  outbox, which stamps them when the event is emitted. Strings are copied and
//  truncated to their limits (callers pass values already validated).
void oms_event_order_placed (oms_event_t *event, const char *order_id, const char *customer,
                             const oms_item_t *items, uint32_t n_items, const char *method,
                             const char *card_last4);
void oms_event_order_confirmed (oms_event_t *event, const char *order_id, const char *customer,
                                int64_t total_cents);
void oms_event_order_cancelled (oms_event_t *event, const char *order_id, const char *customer,
                                const char *reason);
void oms_event_stock_reserved (oms_event_t *event, const char *order_id, const char *customer,
                               int64_t amount_cents, const char *method, const char *card_last4);
void oms_event_stock_rejected (oms_event_t *event, const char *order_id, const char *customer,
                               const char *reason);
void oms_event_stock_updated (oms_event_t *event, const char *sku, int64_t available,
                              int64_t reserved, int64_t sold, int64_t price_cents);
//  A SKU was listed or repriced: what order needs to know of the catalog,
//  without following every level change.
void oms_event_catalog_updated (oms_event_t *event, const char *sku, int64_t price_cents);
void oms_event_payment_completed (oms_event_t *event, const char *order_id, const char *customer,
                                  int64_t amount_cents, const char *method);
void oms_event_payment_failed (oms_event_t *event, const char *order_id, const char *customer,
                               const char *method, const char *reason);
void oms_event_payment_refunded (oms_event_t *event, const char *order_id, const char *customer,
                                 int64_t amount_cents, const char *method);
void oms_event_notification_sent (oms_event_t *event, const char *order_id, const char *customer,
                                  const char *kind, const char *channel, const char *text);
void oms_event_heartbeat (oms_event_t *event, const char *name, const char *instance,
                          const char *version, uint64_t uptime_ns, const oms_head_t *heads,
                          uint32_t n_heads, const oms_head_t *positions, uint32_t n_positions);

// ---------------------------------------------------------------------------
//  Commands: one msgpack map per request, on a service's api endpoint.

//  The payment methods a place command may name, NULL-terminated, in the
//  order PROTOCOL.md lists them. The payment service has a method for each.
extern const char *const oms_payment_methods[];

//  The statuses of an order, NULL-terminated: in-flight PENDING and
//  RESERVED, terminal CONFIRMED and CANCELLED (orders.list filters on them).
extern const char *const oms_order_statuses[];

//  Replies are msgpack maps: {"ok": true, ...} or {"ok": false, "error": text}.

#define OMS_STATUS_LIST_MAX 48   //  orders.list status: a comma-separated list
#define OMS_PAGE_MAX        96   //  orders.list page token
#define OMS_LIST_MAX        1000 //  orders.list limit

typedef struct {
    char cmd[OMS_NAME_MAX + 1];
    char request_id[OMS_ID_MAX + 1];
    char order_id[OMS_ID_MAX + 1];
    char customer[OMS_ID_MAX + 1];
    oms_item_t items[OMS_ITEMS_MAX];
    uint32_t n_items;
    char method[OMS_NAME_MAX + 1];
    char card[OMS_CARD_MAX + 1];
    char sku[OMS_SKU_MAX + 1];
    int64_t qty;
    int64_t price_cents; //  0 when not given
    int64_t amount_cents;
    char channel[OMS_NAME_MAX + 1];
    char topic[OMS_NAME_MAX + 1];
    uint64_t from;
    uint64_t max;
    uint64_t seq;
    uint64_t id; //  a dead letter
    //  orders.list
    char status[OMS_STATUS_LIST_MAX + 1]; //  "PENDING,RESERVED": statuses, comma separated
    char page[OMS_PAGE_MAX + 1];          //  a page token from an earlier answer
    uint64_t limit;                       //  orders in one answer; 0 when not given
    uint64_t since_ns;                    //  created at most this long ago; 0: any
    uint64_t older_than_ns;               //  created at least this long ago; 0: any
} oms_request_t;

typedef struct {
    const char *cmd;
    const oms_schema_t *schema;
    bool read_only; //  changes nothing: answered from committed state, at once
} oms_command_type_t;

//  The table of every command; NULL when `cmd` is not one.
const oms_command_type_t *oms_command_type (const char *cmd);

//  Encodes a request; req->cmd selects the schema.
int oms_request_encode (const oms_request_t *req, msgpack_sbuffer *buffer);
//  Decodes a request: a map whose "cmd" names a known command, then that
//  command's schema.
int oms_request_decode (const uint8_t *data, size_t size, oms_request_t *req, oms_fault_t *fault);

//  A replay answer: {"ok": true, "topic", "epoch", "start", "first", "head",
//  "events": [bin...]} (bodies of consecutive seqs from start) or
//  {"ok": false, "error", "code", "topic"?}.
typedef struct {
    bool ok;
    char topic[OMS_NAME_MAX + 1]; //  "" when a refusal names none
    char error[OMS_TEXT_MAX + 1];
    uint64_t epoch; //  the producer's store identity, >= 1
    uint64_t start, first, head;
    const msgpack_object *events; //  n_events bins, borrowed from `result`
    uint32_t n_events;
} oms_replay_answer_t;

//  Decodes a replay answer into `answer`, whose views live as long as
//  `result` (which the caller destroys, whatever this returns). Every
//  element of "events" must be a bin.
int oms_replay_answer_decode (const uint8_t *data, size_t size, msgpack_unpacked *result,
                              oms_replay_answer_t *answer, oms_fault_t *fault);

#endif
