/*  oms_command: the requests a service's api endpoint accepts, one schema
    per command over oms_request_t, following PROTOCOL.md. A request names its
    command in "cmd"; that picks the schema for the rest of the map.
*/
#include <stdio.h>
#include <string.h>

#include "oms_proto.h"

#define LEVEL_MAX  (INT64_C (1) << 53)
#define REPLAY_MAX 4096

#define CMD      OMS_STR (oms_request_t, cmd, OMS_C_NAME, OMS_NAME_MAX, true)
#define ORDER_ID OMS_STR (oms_request_t, order_id, OMS_C_ID, OMS_ID_MAX, true)
#define CUSTOMER OMS_STR (oms_request_t, customer, OMS_C_ID, OMS_ID_MAX, true)
#define SKU      OMS_STR (oms_request_t, sku, OMS_C_ID, OMS_SKU_MAX, true)
#define TOPIC    OMS_STR (oms_request_t, topic, OMS_C_NAME, OMS_NAME_MAX, true)

//  Checked here, at placement, so that an order is never accepted for a
//  method payment would only refuse later.
const char *const oms_payment_methods[] = {"card", "wallet", "upi", "cod", NULL};

const char *const oms_order_statuses[] = {"PENDING", "RESERVED", "CONFIRMED", "CANCELLED", NULL};

static const oms_field_t s_place_fields[] = {
    CMD,
    OMS_STR (oms_request_t, request_id, OMS_C_ID, OMS_ID_MAX, true),
    CUSTOMER,
    OMS_ITEMS (oms_request_t, items, n_items, 1, true),
    {.key = "method",
     .type = OMS_T_STR,
     .offset = offsetof (oms_request_t, method),
     .required = true,
     .chars = OMS_C_NAME,
     .max = OMS_NAME_MAX,
     .names = oms_payment_methods},
    OMS_STR (oms_request_t, card, OMS_C_DIGITS, OMS_CARD_MAX, false),
};
static const oms_field_t s_cancel_fields[] = {CMD, ORDER_ID};
static const oms_field_t s_get_fields[] = {CMD, ORDER_ID};
static const oms_field_t s_orders_list_fields[] = {
    CMD,
    OMS_STR (oms_request_t, status, OMS_C_ANY, OMS_STATUS_LIST_MAX, false),
    OMS_STR (oms_request_t, customer, OMS_C_ID, OMS_ID_MAX, false),
    OMS_UINT (oms_request_t, since_ns, 1, UINT64_MAX, false),
    OMS_UINT (oms_request_t, older_than_ns, 1, UINT64_MAX, false),
    OMS_UINT (oms_request_t, limit, 1, OMS_LIST_MAX, false),
    OMS_STR (oms_request_t, page, OMS_C_ID, OMS_PAGE_MAX, false),
};
static const oms_field_t s_stock_set_fields[] = {
    CMD,
    SKU,
    OMS_INT (oms_request_t, qty, 0, LEVEL_MAX, true),
    OMS_INT (oms_request_t, price_cents, 1, OMS_CENTS_MAX, false),
};
static const oms_field_t s_stock_get_fields[] = {CMD, SKU};
static const oms_field_t s_wallet_credit_fields[] = {
    CMD,
    CUSTOMER,
    OMS_INT (oms_request_t, amount_cents, 1, OMS_CENTS_MAX, true),
};
static const oms_field_t s_wallet_get_fields[] = {CMD, CUSTOMER};
static const oms_field_t s_notifications_fields[] = {
    CMD,
    OMS_STR (oms_request_t, order_id, OMS_C_ID, OMS_ID_MAX, false),
    OMS_STR (oms_request_t, customer, OMS_C_ID, OMS_ID_MAX, false),
};
static const oms_field_t s_channel_set_fields[] = {
    CMD,
    CUSTOMER,
    OMS_STR (oms_request_t, channel, OMS_C_NAME, OMS_NAME_MAX, true),
};
static const oms_field_t s_replay_fields[] = {
    CMD,
    TOPIC,
    OMS_UINT (oms_request_t, from, 1, UINT64_MAX, true),
    OMS_UINT (oms_request_t, max, 1, REPLAY_MAX, true),
};
static const oms_field_t s_status_fields[] = {CMD};
static const oms_field_t s_position_set_fields[] = {
    CMD, TOPIC, OMS_UINT (oms_request_t, seq, 0, UINT64_MAX, true)};

static const oms_field_t s_metrics_fields[] = {CMD};
static const oms_field_t s_dlq_list_fields[] = {CMD};
static const oms_field_t s_dlq_one_fields[] = {CMD,
                                               OMS_UINT (oms_request_t, id, 1, UINT64_MAX, true)};
static const oms_field_t s_trace_fields[] = {CMD, ORDER_ID};

//  A command's schema is named after the command; each lives in its row.
#define S_COMMAND(cmd, fields, read_only)                                                          \
    {                                                                                              \
        cmd, &(const oms_schema_t) OMS_SCHEMA (oms_request_t, cmd, fields), read_only              \
    }

static const oms_command_type_t s_commands[] = {
    S_COMMAND ("place", s_place_fields, false),
    S_COMMAND ("cancel", s_cancel_fields, false),
    S_COMMAND ("get", s_get_fields, true),
    S_COMMAND ("orders.list", s_orders_list_fields, true),
    S_COMMAND ("stock.set", s_stock_set_fields, false),
    S_COMMAND ("stock.get", s_stock_get_fields, true),
    S_COMMAND ("wallet.credit", s_wallet_credit_fields, false),
    S_COMMAND ("wallet.get", s_wallet_get_fields, true),
    S_COMMAND ("notifications", s_notifications_fields, true),
    S_COMMAND ("channel.set", s_channel_set_fields, false),
    S_COMMAND ("replay", s_replay_fields, true),
    S_COMMAND ("status", s_status_fields, true),
    S_COMMAND ("position.set", s_position_set_fields, false),
    S_COMMAND ("metrics", s_metrics_fields, true),
    S_COMMAND ("dlq.list", s_dlq_list_fields, true),
    S_COMMAND ("dlq.show", s_dlq_one_fields, true),
    S_COMMAND ("dlq.retry", s_dlq_one_fields, false),
    S_COMMAND ("dlq.drop", s_dlq_one_fields, false),
    S_COMMAND ("trace", s_trace_fields, true),
};
#define COMMANDS (sizeof s_commands / sizeof s_commands[0])

static const oms_command_type_t *
s_lookup (const char *name, size_t len)
{
    for (size_t i = 0; i < COMMANDS; i++)
        if (strlen (s_commands[i].cmd) == len && memcmp (s_commands[i].cmd, name, len) == 0)
            return &s_commands[i];
    return NULL;
}

const oms_command_type_t *
oms_command_type (const char *cmd)
{
    return cmd ? s_lookup (cmd, strlen (cmd)) : NULL;
}

int
oms_request_encode (const oms_request_t *req, msgpack_sbuffer *buffer)
{
    if (!req || !buffer)
        return OMS_E_INVALID;
    if (!memchr (req->cmd, 0, sizeof req->cmd))
        return OMS_E_TOO_LONG;
    const oms_command_type_t *command = oms_command_type (req->cmd);
    if (!command)
        return OMS_E_UNKNOWN;

    size_t start = buffer->size;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    int rc = oms_schema_pack (command->schema, req, &pk);
    if (rc)
        buffer->size = start;
    return rc;
}

int
oms_request_decode (const uint8_t *data, size_t size, oms_request_t *req, oms_fault_t *fault)
{
    memset (req, 0, sizeof *req);
    msgpack_unpacked msg;
    int rc = oms_msgpack_parse (data, size, &msg, fault);
    //  The "cmd" key picks the schema the whole map is checked against.
    const msgpack_object *cmd = rc ? NULL : oms_msgpack_get (&msg.data, "cmd");
    const oms_command_type_t *command = NULL;
    if (rc)
        ;
    else if (!cmd)
        rc = oms_fault_set (fault, OMS_E_MISSING, "cmd");
    else if (cmd->type != MSGPACK_OBJECT_STR)
        rc = oms_fault_set (fault, OMS_E_TYPE, "cmd");
    else if (!(command = s_lookup (cmd->via.str.ptr, cmd->via.str.size)))
        rc = oms_fault_set (fault, OMS_E_UNKNOWN, "cmd");
    else
        rc = oms_schema_unpack (command->schema, &msg.data, req, "", fault);
    msgpack_unpacked_destroy (&msg);
    return rc;
}

//  Copies a str value into a NUL-terminated field; false if it does not fit.
static bool
s_copy_str (char *dest, size_t size, const msgpack_object *value)
{
    if (value->via.str.size >= size || memchr (value->via.str.ptr, 0, value->via.str.size))
        return false;
    memcpy (dest, value->via.str.ptr, value->via.str.size);
    dest[value->via.str.size] = 0;
    return true;
}

//  The value of `key` if it has the wanted type; NULL when absent. A present
//  value of another type is a fault.
static const msgpack_object *
s_field (const msgpack_object *map, const char *key, msgpack_object_type type, int *rc,
         oms_fault_t *fault)
{
    const msgpack_object *value = oms_msgpack_get (map, key);
    if (value && value->type != type) {
        *rc = oms_fault_set (fault, OMS_E_TYPE, key);
        return NULL;
    }
    return value;
}

int
oms_replay_answer_decode (const uint8_t *data, size_t size, msgpack_unpacked *result,
                          oms_replay_answer_t *answer, oms_fault_t *fault)
{
    memset (answer, 0, sizeof *answer);
    oms_fault_set (fault, OMS_OK, "");
    int rc = oms_msgpack_parse (data, size, result, fault);
    if (rc)
        return rc;
    const msgpack_object *map = &result->data;
    const msgpack_object *ok = s_field (map, "ok", MSGPACK_OBJECT_BOOLEAN, &rc, fault);
    const msgpack_object *topic = s_field (map, "topic", MSGPACK_OBJECT_STR, &rc, fault);
    if (rc)
        return rc;
    if (!ok)
        return oms_fault_set (fault, OMS_E_MISSING, "ok");
    if (topic && !s_copy_str (answer->topic, sizeof answer->topic, topic))
        return oms_fault_set (fault, OMS_E_TOO_LONG, "topic");
    answer->ok = ok->via.boolean;
    if (!answer->ok) {
        const msgpack_object *error = s_field (map, "error", MSGPACK_OBJECT_STR, &rc, fault);
        if (error && !s_copy_str (answer->error, sizeof answer->error, error))
            return oms_fault_set (fault, OMS_E_TOO_LONG, "error");
        return rc;
    }
    if (!topic)
        return oms_fault_set (fault, OMS_E_MISSING, "topic");
    static const char *const numbers[] = {"epoch", "start", "first", "head"};
    uint64_t *targets[] = {&answer->epoch, &answer->start, &answer->first, &answer->head};
    for (size_t i = 0; i < 4; i++) {
        const msgpack_object *value =
            s_field (map, numbers[i], MSGPACK_OBJECT_POSITIVE_INTEGER, &rc, fault);
        if (rc)
            return rc;
        if (!value)
            return oms_fault_set (fault, OMS_E_MISSING, numbers[i]);
        *targets[i] = value->via.u64;
    }
    if (answer->epoch == 0)
        return oms_fault_set (fault, OMS_E_RANGE, "epoch");
    const msgpack_object *events = s_field (map, "events", MSGPACK_OBJECT_ARRAY, &rc, fault);
    if (rc)
        return rc;
    if (!events)
        return oms_fault_set (fault, OMS_E_MISSING, "events");
    for (uint32_t i = 0; i < events->via.array.size; i++)
        if (events->via.array.ptr[i].type != MSGPACK_OBJECT_BIN)
            return oms_fault_set (fault, OMS_E_TYPE, "events");
    answer->events = events->via.array.ptr;
    answer->n_events = events->via.array.size;
    return 0;
}
