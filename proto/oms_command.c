/*  oms_command: the requests a service's api endpoint accepts, one schema
    per command over oms_request_t, following PROTOCOL.md. A request names its
    command in "cmd"; that picks the schema for the rest of the map.
*/
#include <stdio.h>
#include <string.h>

#include "oms_proto.h"

#define LEVEL_MAX  (INT64_C (1) << 53)
#define REPLAY_MAX 4096

#define REQ_STR(name, chars_, max_, required_)                                                     \
    {                                                                                              \
        .key = #name, .type = OMS_T_STR, .offset = offsetof (oms_request_t, name),                 \
        .required = required_, .chars = chars_, .max = max_                                        \
    }
#define REQ_INT(name, min_, max_, required_)                                                       \
    {                                                                                              \
        .key = #name, .type = OMS_T_INT, .offset = offsetof (oms_request_t, name),                 \
        .required = required_, .min = min_, .max = max_                                            \
    }
#define REQ_UINT(name, min_, max_)                                                                 \
    {                                                                                              \
        .key = #name, .type = OMS_T_UINT, .offset = offsetof (oms_request_t, name),                \
        .required = true, .min = min_, .max = max_                                                 \
    }
#define REQ_SCHEMA(name, fields)                                                                   \
    {                                                                                              \
        name, fields, sizeof fields / sizeof fields[0], sizeof (oms_request_t)                     \
    }

#define CMD      REQ_STR (cmd, OMS_C_NAME, OMS_NAME_MAX, true)
#define ORDER_ID REQ_STR (order_id, OMS_C_ID, OMS_ID_MAX, true)
#define CUSTOMER REQ_STR (customer, OMS_C_ID, OMS_ID_MAX, true)
#define SKU      REQ_STR (sku, OMS_C_ID, OMS_SKU_MAX, true)
#define TOPIC    REQ_STR (topic, OMS_C_NAME, OMS_NAME_MAX, true)

static const oms_field_t s_place_fields[] = {
    CMD,
    REQ_STR (request_id, OMS_C_ID, OMS_ID_MAX, true),
    CUSTOMER,
    {.key = "items",
     .type = OMS_T_ITEMS,
     .offset = offsetof (oms_request_t, items),
     .required = true,
     .min = 1,
     .max = OMS_ITEMS_MAX,
     .count_offset = offsetof (oms_request_t, n_items)},
    REQ_STR (method, OMS_C_NAME, OMS_NAME_MAX, true),
    REQ_STR (card, OMS_C_DIGITS, OMS_CARD_MAX, false),
};
static const oms_field_t s_cancel_fields[] = {CMD, ORDER_ID};
static const oms_field_t s_get_fields[] = {CMD, ORDER_ID};
static const oms_field_t s_stock_set_fields[] = {
    CMD,
    SKU,
    REQ_INT (qty, 0, LEVEL_MAX, true),
    REQ_INT (price_cents, 1, OMS_CENTS_MAX, false),
};
static const oms_field_t s_stock_get_fields[] = {CMD, SKU};
static const oms_field_t s_wallet_credit_fields[] = {
    CMD,
    CUSTOMER,
    REQ_INT (amount_cents, 1, OMS_CENTS_MAX, true),
};
static const oms_field_t s_wallet_get_fields[] = {CMD, CUSTOMER};
static const oms_field_t s_notifications_fields[] = {
    CMD,
    REQ_STR (order_id, OMS_C_ID, OMS_ID_MAX, false),
    REQ_STR (customer, OMS_C_ID, OMS_ID_MAX, false),
};
static const oms_field_t s_channel_set_fields[] = {
    CMD,
    CUSTOMER,
    REQ_STR (channel, OMS_C_NAME, OMS_NAME_MAX, true),
};
static const oms_field_t s_replay_fields[] = {
    CMD,
    TOPIC,
    REQ_UINT (from, 1, UINT64_MAX),
    REQ_UINT (max, 1, REPLAY_MAX),
};
static const oms_field_t s_status_fields[] = {CMD};
static const oms_field_t s_position_set_fields[] = {CMD, TOPIC, REQ_UINT (seq, 0, UINT64_MAX)};

static const oms_schema_t s_place = REQ_SCHEMA ("place", s_place_fields);
static const oms_schema_t s_cancel = REQ_SCHEMA ("cancel", s_cancel_fields);
static const oms_schema_t s_get = REQ_SCHEMA ("get", s_get_fields);
static const oms_schema_t s_stock_set = REQ_SCHEMA ("stock.set", s_stock_set_fields);
static const oms_schema_t s_stock_get = REQ_SCHEMA ("stock.get", s_stock_get_fields);
static const oms_schema_t s_wallet_credit = REQ_SCHEMA ("wallet.credit", s_wallet_credit_fields);
static const oms_schema_t s_wallet_get = REQ_SCHEMA ("wallet.get", s_wallet_get_fields);
static const oms_schema_t s_notifications = REQ_SCHEMA ("notifications", s_notifications_fields);
static const oms_schema_t s_channel_set = REQ_SCHEMA ("channel.set", s_channel_set_fields);
static const oms_schema_t s_replay = REQ_SCHEMA ("replay", s_replay_fields);
static const oms_schema_t s_status = REQ_SCHEMA ("status", s_status_fields);
static const oms_schema_t s_position_set = REQ_SCHEMA ("position.set", s_position_set_fields);

static const oms_command_type_t s_commands[] = {
    {"place", &s_place},
    {"cancel", &s_cancel},
    {"get", &s_get},
    {"stock.set", &s_stock_set},
    {"stock.get", &s_stock_get},
    {"wallet.credit", &s_wallet_credit},
    {"wallet.get", &s_wallet_get},
    {"notifications", &s_notifications},
    {"channel.set", &s_channel_set},
    {"replay", &s_replay},
    {"status", &s_status},
    {"position.set", &s_position_set},
};
#define COMMANDS (sizeof s_commands / sizeof s_commands[0])

static const oms_command_type_t *s_lookup (const char *name, size_t len)
{
    for (size_t i = 0; i < COMMANDS; i++)
        if (strlen (s_commands[i].cmd) == len && memcmp (s_commands[i].cmd, name, len) == 0)
            return &s_commands[i];
    return NULL;
}

const oms_command_type_t *oms_command_type (const char *cmd)
{
    return cmd ? s_lookup (cmd, strlen (cmd)) : NULL;
}

static int s_fail (oms_fault_t *fault, int code, const char *field)
{
    if (fault) {
        fault->code = code;
        snprintf (fault->field, sizeof fault->field, "%s", field);
    }
    return code;
}

int oms_request_encode (const oms_request_t *req, msgpack_sbuffer *buffer)
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

int oms_request_decode (const uint8_t *data, size_t size, oms_request_t *req, oms_fault_t *fault)
{
    memset (req, 0, sizeof *req);
    s_fail (fault, OMS_OK, "");
    if (size > OMS_MSG_MAX)
        return s_fail (fault, OMS_E_TOO_BIG, "");

    msgpack_unpacked msg;
    int rc = oms_msgpack_parse (data, size, &msg, fault);
    if (rc)
        goto leave;
    const msgpack_object *cmd = oms_msgpack_get (&msg.data, "cmd");
    const oms_command_type_t *command = NULL;
    if (!cmd)
        rc = s_fail (fault, OMS_E_MISSING, "cmd");
    else if (cmd->type != MSGPACK_OBJECT_STR)
        rc = s_fail (fault, OMS_E_TYPE, "cmd");
    else if (!(command = s_lookup (cmd->via.str.ptr, cmd->via.str.size)))
        rc = s_fail (fault, OMS_E_UNKNOWN, "cmd");
    else
        rc = oms_schema_unpack (command->schema, &msg.data, req, "", fault);
leave:
    msgpack_unpacked_destroy (&msg);
    return rc;
}
