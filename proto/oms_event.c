/*  oms_event: the event envelope, the data schema of every event type, and
    one Factory constructor per type.

    The tables below follow PROTOCOL.md field by field; the generic codec in
    oms_schema.c does the rest. The envelope's "data" map is decoded in a
    second step because its schema depends on the envelope's "type".
*/
#include <stdio.h>
#include <string.h>

#include "oms_proto.h"

//  Stock levels stay exact in a double, for clients whose numbers are doubles.
#define LEVEL_MAX (INT64_C (1) << 53)

#define ORDER_ID   OMS_STR (oms_body_t, order_id, OMS_C_ID, OMS_ID_MAX, true)
#define CUSTOMER   OMS_STR (oms_body_t, customer, OMS_C_ID, OMS_ID_MAX, true)
#define METHOD     OMS_STR (oms_body_t, method, OMS_C_NAME, OMS_NAME_MAX, true)
#define CARD_LAST4 OMS_STR (oms_body_t, card_last4, OMS_C_DIGITS, 4, false)
#define REASON     OMS_STR (oms_body_t, reason, OMS_C_ANY, OMS_TEXT_MAX, true)
#define AMOUNT     OMS_INT (oms_body_t, amount_cents, 0, OMS_CENTS_MAX, true)
#define ITEMS      OMS_ITEMS (oms_body_t, items, n_items, 1, true)

static const oms_field_t s_order_placed_fields[] = {ORDER_ID, CUSTOMER, ITEMS, METHOD, CARD_LAST4};
static const oms_field_t s_order_confirmed_fields[] = {ORDER_ID, CUSTOMER, AMOUNT};
static const oms_field_t s_order_cancelled_fields[] = {ORDER_ID, CUSTOMER, REASON};
static const oms_field_t s_stock_reserved_fields[] = {ORDER_ID, CUSTOMER, AMOUNT, METHOD,
                                                      CARD_LAST4};
static const oms_field_t s_stock_rejected_fields[] = {ORDER_ID, CUSTOMER, REASON};
static const oms_field_t s_stock_updated_fields[] = {
    OMS_STR (oms_body_t, sku, OMS_C_ID, OMS_SKU_MAX, true),
    OMS_INT (oms_body_t, available, 0, LEVEL_MAX, true),
    OMS_INT (oms_body_t, reserved, 0, LEVEL_MAX, true),
    OMS_INT (oms_body_t, sold, 0, LEVEL_MAX, true),
    OMS_INT (oms_body_t, price_cents, 0, OMS_CENTS_MAX, true),
};
static const oms_field_t s_catalog_updated_fields[] = {
    OMS_STR (oms_body_t, sku, OMS_C_ID, OMS_SKU_MAX, true),
    OMS_INT (oms_body_t, price_cents, 0, OMS_CENTS_MAX, true),
};
static const oms_field_t s_payment_completed_fields[] = {ORDER_ID, CUSTOMER, AMOUNT, METHOD};
static const oms_field_t s_payment_failed_fields[] = {ORDER_ID, CUSTOMER, METHOD, REASON};
static const oms_field_t s_payment_refunded_fields[] = {ORDER_ID, CUSTOMER, AMOUNT, METHOD};
static const oms_field_t s_notification_sent_fields[] = {
    ORDER_ID,
    CUSTOMER,
    OMS_STR (oms_body_t, kind, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (oms_body_t, channel, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (oms_body_t, text, OMS_C_ANY, OMS_TEXT_MAX, true),
};
static const oms_field_t s_heartbeat_fields[] = {
    OMS_STR (oms_body_t, name, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (oms_body_t, instance, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (oms_body_t, version, OMS_C_ANY, OMS_NAME_MAX, true),
    {.key = "uptime_ns",
     .type = OMS_T_UINT,
     .offset = offsetof (oms_body_t, uptime_ns),
     .required = true,
     .max = UINT64_MAX},
    {.key = "heads",
     .type = OMS_T_HEADS,
     .offset = offsetof (oms_body_t, heads),
     .required = false,
     .max = OMS_HEADS_MAX,
     .count_offset = offsetof (oms_body_t, n_heads)},
    {.key = "positions",
     .type = OMS_T_HEADS,
     .offset = offsetof (oms_body_t, positions),
     .required = false,
     .max = OMS_HEADS_MAX,
     .count_offset = offsetof (oms_body_t, n_positions)},
};

//  The schema of a durable type's "data" map is named after the type.
#define S_EVENT(type, owner, fields)                                                               \
    {                                                                                              \
        type, owner, &(const oms_schema_t) OMS_SCHEMA (oms_body_t, type, fields), true             \
    }

const oms_event_type_t oms_event_types[] = {
    S_EVENT ("order.placed", "order", s_order_placed_fields),
    S_EVENT ("order.confirmed", "order", s_order_confirmed_fields),
    S_EVENT ("order.cancelled", "order", s_order_cancelled_fields),
    S_EVENT ("stock.reserved", "inventory", s_stock_reserved_fields),
    S_EVENT ("stock.rejected", "inventory", s_stock_rejected_fields),
    S_EVENT ("stock.updated", "inventory", s_stock_updated_fields),
    S_EVENT ("catalog.updated", "inventory", s_catalog_updated_fields),
    S_EVENT ("payment.completed", "payment", s_payment_completed_fields),
    S_EVENT ("payment.failed", "payment", s_payment_failed_fields),
    S_EVENT ("payment.refunded", "payment", s_payment_refunded_fields),
    S_EVENT ("notification.sent", "notification", s_notification_sent_fields),
    {OMS_HEARTBEAT_PREFIX, NULL,
     &(const oms_schema_t) OMS_SCHEMA (oms_body_t, "heartbeat", s_heartbeat_fields), false},
    {NULL, NULL, NULL, false},
};

//  "version" takes any uint here so that a wrong one is reported as
//  OMS_E_VERSION rather than as a range error.
static const oms_field_t s_envelope_fields[] = {
    OMS_UINT (oms_event_t, version, 0, UINT64_MAX, true),
    //  Optional and left out when 0, so that minor-0 bytes are those of
    //  before minors existed.
    OMS_UINT (oms_event_t, minor, 0, UINT64_MAX, false),
    OMS_STR (oms_event_t, id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (oms_event_t, type, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (oms_event_t, producer, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_UINT (oms_event_t, epoch, 1, UINT64_MAX, true),
    OMS_UINT (oms_event_t, seq, 1, UINT64_MAX, true),
    OMS_UINT (oms_event_t, ts_ns, 0, UINT64_MAX, true),
    OMS_STR (oms_event_t, correlation_id, OMS_C_ID, OMS_ID_MAX, false),
    OMS_STR (oms_event_t, causation_id, OMS_C_ID, OMS_ID_MAX, false),
    {.key = "data", .type = OMS_T_MAP, .offset = offsetof (oms_event_t, data), .required = true},
};
#define ENVELOPE_FIELDS (sizeof s_envelope_fields / sizeof s_envelope_fields[0])
static const oms_schema_t s_envelope = {"event", s_envelope_fields, ENVELOPE_FIELDS,
                                        sizeof (oms_event_t)};

static bool
s_process_ok (const char *process)
{
    if (!*process || strlen (OMS_HEARTBEAT_PREFIX) + strlen (process) > OMS_NAME_MAX ||
        strcmp (process, OMS_CAUSE_COMMAND_PROCESS) == 0)
        return false;
    return strspn (process, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen (process);
}

const oms_event_type_t *
oms_event_type (const char *type)
{
    if (!type)
        return NULL;
    const oms_event_type_t *entry;
    if (strncmp (type, OMS_HEARTBEAT_PREFIX, strlen (OMS_HEARTBEAT_PREFIX)) == 0) {
        if (!s_process_ok (type + strlen (OMS_HEARTBEAT_PREFIX)))
            return NULL;
        for (entry = oms_event_types; entry->owner; entry++)
            ;
        return entry;
    }
    for (entry = oms_event_types; entry->type; entry++)
        if (entry->owner && strcmp (entry->type, type) == 0)
            return entry;
    return NULL;
}

static bool
s_owned_by (const oms_event_type_t *entry, const char *type, const char *producer)
{
    const char *owner = entry->owner ? entry->owner : type + strlen (OMS_HEARTBEAT_PREFIX);
    return strcmp (owner, producer) == 0;
}

int
oms_event_encode (const oms_event_t *event, msgpack_sbuffer *buffer)
{
    if (!event || !buffer)
        return OMS_E_INVALID;
    //  A higher minor would claim keys this build cannot write (a decoded
    //  newer event has lost the keys it skipped).
    if (event->version != OMS_PROTO_VERSION || event->minor > OMS_EVENT_MINOR)
        return OMS_E_VERSION;
    if (!memchr (event->type, 0, sizeof event->type) ||
        !memchr (event->producer, 0, sizeof event->producer))
        return OMS_E_TOO_LONG;
    const oms_event_type_t *entry = oms_event_type (event->type);
    if (!entry || !s_owned_by (entry, event->type, event->producer))
        return OMS_E_TOPIC;

    //  The envelope with this type's data schema plugged in.
    oms_field_t fields[ENVELOPE_FIELDS];
    memcpy (fields, s_envelope_fields, sizeof fields);
    fields[ENVELOPE_FIELDS - 1].schema = entry->schema;
    oms_schema_t schema = {entry->type, fields, ENVELOPE_FIELDS, sizeof (oms_event_t)};

    size_t start = buffer->size;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    int rc = oms_schema_pack (&schema, event, &pk);
    if (rc == OMS_OK && buffer->size - start > OMS_MSG_MAX)
        rc = OMS_E_TOO_BIG;
    if (rc)
        buffer->size = start;
    return rc;
}

int
oms_event_decode (const uint8_t *data, size_t size, const char *topic, oms_event_t *event,
                  oms_fault_t *fault)
{
    memset (event, 0, sizeof *event);
    msgpack_unpacked msg;
    int rc = oms_msgpack_parse (data, size, &msg, fault);
    if (rc)
        goto leave;

    //  A newer version may have keys we do not know: say so first.
    const msgpack_object *version = oms_msgpack_get (&msg.data, "version");
    if (version && version->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        version->via.u64 != OMS_PROTO_VERSION) {
        rc = oms_fault_set (fault, OMS_E_VERSION, "version");
        goto leave;
    }
    //  A newer minor may only add optional keys: skip those we do not know,
    //  in the envelope and in data. A minor that is not a uint is not newer,
    //  and the strict decode refuses it by name.
    const msgpack_object *minor = oms_msgpack_get (&msg.data, "minor");
    bool newer =
        minor && minor->type == MSGPACK_OBJECT_POSITIVE_INTEGER && minor->via.u64 > OMS_EVENT_MINOR;
    int (*unpack) (const oms_schema_t *, const msgpack_object *, void *, const char *,
                   oms_fault_t *) = newer ? oms_schema_unpack_newer : oms_schema_unpack;
    rc = unpack (&s_envelope, &msg.data, event, "", fault);
    if (rc)
        goto leave;
    if (event->version != OMS_PROTO_VERSION) {
        rc = oms_fault_set (fault, OMS_E_VERSION, "version");
        goto leave;
    }
    const oms_event_type_t *entry = oms_event_type (event->type);
    if (!entry || (topic && strcmp (topic, event->type) != 0)) {
        rc = oms_fault_set (fault, OMS_E_TOPIC, "type");
        goto leave;
    }
    if (!s_owned_by (entry, event->type, event->producer)) {
        rc = oms_fault_set (fault, OMS_E_TOPIC, "producer");
        goto leave;
    }
    rc = unpack (entry->schema, oms_msgpack_get (&msg.data, "data"), &event->data, "data", fault);
leave:
    msgpack_unpacked_destroy (&msg);
    return rc;
}

// ---------------------------------------------------------------------------
//  Factory

static void
s_copy (char *dst, size_t size, const char *src)
{
    size_t len = src ? strnlen (src, size - 1) : 0;
    memcpy (dst, src ? src : "", len);
    dst[len] = 0;
}
#define COPY(dst, src) s_copy (dst, sizeof dst, src)

static void
s_start (oms_event_t *event, const char *type)
{
    memset (event, 0, sizeof *event);
    event->version = OMS_PROTO_VERSION;
    event->minor = OMS_EVENT_MINOR;
    COPY (event->type, type);
}

//  Most events are about one order of one customer.
static void
s_about_order (oms_event_t *event, const char *type, const char *order_id, const char *customer)
{
    s_start (event, type);
    COPY (event->data.order_id, order_id);
    COPY (event->data.customer, customer);
}

void
oms_event_order_placed (oms_event_t *event, const char *order_id, const char *customer,
                        const oms_item_t *items, uint32_t n_items, const char *method,
                        const char *card_last4)
{
    s_about_order (event, "order.placed", order_id, customer);
    if (!items || n_items > OMS_ITEMS_MAX)
        n_items = items ? OMS_ITEMS_MAX : 0;
    for (uint32_t i = 0; i < n_items; i++) {
        COPY (event->data.items[i].sku, items[i].sku);
        event->data.items[i].qty = items[i].qty;
    }
    event->data.n_items = n_items;
    COPY (event->data.method, method);
    COPY (event->data.card_last4, card_last4);
}

void
oms_event_order_confirmed (oms_event_t *event, const char *order_id, const char *customer,
                           int64_t total_cents)
{
    s_about_order (event, "order.confirmed", order_id, customer);
    event->data.amount_cents = total_cents;
}

//  The events that end an order, and say why.
#define S_ENDING(name, type)                                                                       \
    void name (oms_event_t *event, const char *order_id, const char *customer, const char *reason) \
    {                                                                                              \
        s_about_order (event, type, order_id, customer);                                           \
        COPY (event->data.reason, reason);                                                         \
    }

S_ENDING (oms_event_order_cancelled, "order.cancelled")
S_ENDING (oms_event_stock_rejected, "stock.rejected")

void
oms_event_stock_reserved (oms_event_t *event, const char *order_id, const char *customer,
                          int64_t amount_cents, const char *method, const char *card_last4)
{
    s_about_order (event, "stock.reserved", order_id, customer);
    event->data.amount_cents = amount_cents;
    COPY (event->data.method, method);
    COPY (event->data.card_last4, card_last4);
}

void
oms_event_stock_updated (oms_event_t *event, const char *sku, int64_t available, int64_t reserved,
                         int64_t sold, int64_t price_cents)
{
    s_start (event, "stock.updated");
    COPY (event->data.sku, sku);
    event->data.available = available;
    event->data.reserved = reserved;
    event->data.sold = sold;
    event->data.price_cents = price_cents;
}

void
oms_event_catalog_updated (oms_event_t *event, const char *sku, int64_t price_cents)
{
    s_start (event, "catalog.updated");
    COPY (event->data.sku, sku);
    event->data.price_cents = price_cents;
}

void
oms_event_payment_completed (oms_event_t *event, const char *order_id, const char *customer,
                             int64_t amount_cents, const char *method)
{
    s_about_order (event, "payment.completed", order_id, customer);
    event->data.amount_cents = amount_cents;
    COPY (event->data.method, method);
}

void
oms_event_payment_failed (oms_event_t *event, const char *order_id, const char *customer,
                          const char *method, const char *reason)
{
    s_about_order (event, "payment.failed", order_id, customer);
    COPY (event->data.method, method);
    COPY (event->data.reason, reason);
}

void
oms_event_payment_refunded (oms_event_t *event, const char *order_id, const char *customer,
                            int64_t amount_cents, const char *method)
{
    //  A refund carries the facts of the charge it returns.
    oms_event_payment_completed (event, order_id, customer, amount_cents, method);
    COPY (event->type, "payment.refunded");
}

void
oms_event_notification_sent (oms_event_t *event, const char *order_id, const char *customer,
                             const char *kind, const char *channel, const char *text)
{
    s_about_order (event, "notification.sent", order_id, customer);
    COPY (event->data.kind, kind);
    COPY (event->data.channel, channel);
    COPY (event->data.text, text);
}

static uint32_t
s_copy_heads (oms_head_t *dest, const oms_head_t *source, uint32_t count)
{
    if (!source)
        return 0;
    if (count > OMS_HEADS_MAX)
        count = OMS_HEADS_MAX;
    for (uint32_t i = 0; i < count; i++) {
        COPY (dest[i].topic, source[i].topic);
        dest[i].seq = source[i].seq;
    }
    return count;
}

void
oms_event_heartbeat (oms_event_t *event, const char *name, const char *instance,
                     const char *version, uint64_t uptime_ns, const oms_head_t *heads,
                     uint32_t n_heads, const oms_head_t *positions, uint32_t n_positions)
{
    s_start (event, "");
    snprintf (event->type, sizeof event->type, "%s%s", OMS_HEARTBEAT_PREFIX, name ? name : "");
    COPY (event->data.name, name);
    COPY (event->data.instance, instance);
    COPY (event->data.version, version);
    event->data.uptime_ns = uptime_ns;
    event->data.n_heads = s_copy_heads (event->data.heads, heads, n_heads);
    event->data.n_positions = s_copy_heads (event->data.positions, positions, n_positions);
}
