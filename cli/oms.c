/*  oms: the command line client. Sends commands to the services' api
    endpoints and reads the event bus.

    main() finds the command, parses its options together with the global
    ones (--config, --json, --set, -h), loads the configuration and runs the
    command's function from the table below. A command returns the process
    exit code: 0 success, 1 error (message on stderr as "oms: ..."), 2 only
    where docs/CLI.md says so.
*/
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <czmq.h>

#include "cli_args.h"
#include "cli_client.h"
#include "cli_tail.h"
#include "cli_json.h"
#include "cli_keygen.h"
#include "cli.h"
#include "cli_ops.h"
#include "cli_scenario.h"
#include "oms_config.h"
#include "oms_proto.h"

#define PLACE_ATTEMPTS 3
#define WAIT_DEFAULT_S 30
#define SECONDS_MAX    (7 * 24 * 3600.0)
#define STOCK_QTY_MAX  (INT64_C (1) << 53) //  the protocol's bound on stock levels

typedef struct {
    oms_config_t *config;
    cli_args_t args;
    bool json;
    int timeout_ms; //  cli/timeout_ms
} s_ctx_t;

typedef struct {
    const char *name;
    int (*run) (s_ctx_t *ctx);
    const cli_opt_t *opts; //  besides the global ones
    const char *synopsis;
    const char *summary;
} s_command_t;

static const s_command_t *s_command; //  the one running, for usage messages

//  Checks the number of positional arguments of the running command.
static int
s_expect (s_ctx_t *ctx, size_t min, size_t max)
{
    size_t n = ctx->args.n_positional;
    if (n >= min && n <= max)
        return 0;
    cli_fail ("%s; usage: oms %s", n < min ? "missing argument" : "too many arguments",
              s_command->synopsis);
    return 1;
}

static const char *
s_arg (s_ctx_t *ctx, size_t index)
{
    return ctx->args.positional[index];
}

static void
s_request (oms_request_t *req, const char *cmd)
{
    memset (req, 0, sizeof *req);
    snprintf (req->cmd, sizeof req->cmd, "%s", cmd);
}

//  Sends a request to `service` and waits for an accepted reply. Returns
//  the reply (caller owns it) or NULL after printing why.
static cli_reply_t *
s_call (s_ctx_t *ctx, const char *service, const oms_request_t *req, int timeout_ms, int attempts)
{
    char error[512];
    cli_reply_t *reply = cli_request (service, oms_config_service (ctx->config, service, "api"),
                                      req, timeout_ms, attempts, error, sizeof error);
    if (!reply)
        cli_fail ("%s", error);
    return reply;
}

static int
s_malformed (const char *service, const char *why)
{
    return cli_fail ("%s service sent a malformed reply: %s", service, why);
}

//  A human line: the value of `lead`, then " key=value" for every key.
//  Integer keys the service left out (it omits zeros) print as 0.
typedef struct {
    const char *key;
    bool is_int;
} s_field_t;

static int
s_print_record (const char *service, const msgpack_object *map, const char *lead,
                const s_field_t *fields, size_t n_fields)
{
    const msgpack_object *value = cli_map_get (map, lead);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        return s_malformed (service, lead);
    for (size_t i = 0; i < n_fields; i++) {
        value = cli_map_get (map, fields[i].key);
        bool good = value ? (!fields[i].is_int || value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                             value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                          : fields[i].is_int;
        if (!good)
            return s_malformed (service, fields[i].key);
    }
    cli_text_print (stdout, cli_map_get (map, lead));
    for (size_t i = 0; i < n_fields; i++) {
        printf (" %s=", fields[i].key);
        value = cli_map_get (map, fields[i].key);
        if (value)
            cli_text_print (stdout, value);
        else
            putchar ('0');
    }
    putchar ('\n');
    return 0;
}

//  Prints an accepted reply: as JSON without "ok", or as a human record.
static int
s_print_reply (s_ctx_t *ctx, const char *service, cli_reply_t *reply, const char *lead,
               const s_field_t *fields, size_t n_fields)
{
    const msgpack_object *map = cli_reply_map (reply);
    if (!ctx->json)
        return s_print_record (service, map, lead, fields, n_fields);
    cli_json_print_map (stdout, map, "ok");
    putchar ('\n');
    return 0;
}

static int
s_call_and_print (s_ctx_t *ctx, const char *service, const oms_request_t *req, const char *lead,
                  const s_field_t *fields, size_t n_fields)
{
    cli_reply_t *reply = s_call (ctx, service, req, ctx->timeout_ms, 1);
    if (!reply)
        return 1;
    int rc = s_print_reply (ctx, service, reply, lead, fields, n_fields);
    cli_reply_destroy (&reply);
    return rc;
}

static int
s_check (int rc, const char *error)
{
    return rc == 0 ? 0 : cli_fail ("%s", error);
}

// ---------------------------------------------------------------------------
//  Commands

static int
s_place_card (s_ctx_t *ctx, oms_request_t *req, char *error, size_t size)
{
    const char *card = cli_args_value (&ctx->args, "--card");
    if (strcmp (req->method, "card") != 0) {
        if (card)
            return cli_fail ("--card is only for --pay card");
        return 0;
    }
    if (!card)
        return cli_fail ("--pay card needs --card NUMBER");
    if (s_check (cli_check_card (card, error, size), error))
        return 1;
    snprintf (req->card, sizeof req->card, "%s", card);
    return 0;
}

static int
s_place_request (s_ctx_t *ctx, oms_request_t *req)
{
    char error[256];
    const cli_args_t *args = &ctx->args;
    const char *customer = cli_args_value (args, "--customer");
    const char *method = cli_args_value (args, "--pay");
    const char *request_id = cli_args_value (args, "--request-id");
    const char *items[OMS_ITEMS_MAX];
    size_t n_items = cli_args_values (args, "--item", items, OMS_ITEMS_MAX);
    s_request (req, "place");
    if (!customer)
        return cli_fail ("--customer is required");
    if (s_check (cli_check_id ("customer", customer, OMS_ID_MAX, error, sizeof error), error))
        return 1;
    if (s_check (cli_parse_items (items, n_items, req->items, &req->n_items, error, sizeof error),
                 error))
        return 1;
    if (!method)
        return cli_fail ("--pay METHOD is required");
    if (s_check (cli_check_method (method, error, sizeof error), error))
        return 1;
    snprintf (req->customer, sizeof req->customer, "%s", customer);
    snprintf (req->method, sizeof req->method, "%s", method);
    if (s_place_card (ctx, req, error, sizeof error))
        return 1;
    if (request_id) {
        if (s_check (cli_check_id ("request id", request_id, OMS_ID_MAX, error, sizeof error),
                     error))
            return 1;
        snprintf (req->request_id, sizeof req->request_id, "%s", request_id);
    }
    else {
        zuuid_t *uuid = zuuid_new ();
        snprintf (req->request_id, sizeof req->request_id, "%s", zuuid_str (uuid));
        zuuid_destroy (&uuid);
    }
    return 0;
}

static int
s_cmd_place (s_ctx_t *ctx)
{
    oms_request_t req;
    if (s_expect (ctx, 0, 0) || s_place_request (ctx, &req))
        return 1;
    //  The same request id on every attempt: the order service places once.
    cli_reply_t *reply = s_call (ctx, "order", &req, ctx->timeout_ms, PLACE_ATTEMPTS);
    if (!reply)
        return 1;
    const msgpack_object *order_id = cli_map_get (cli_reply_map (reply), "order_id");
    int rc = 0;
    if (!order_id || order_id->type != MSGPACK_OBJECT_STR || order_id->via.str.size == 0)
        rc = s_malformed ("order", "order_id");
    else if (ctx->json) {
        printf ("{\"order_id\": ");
        cli_json_print (stdout, order_id);
        printf ("}\n");
    }
    else {
        cli_text_print (stdout, order_id);
        putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}

//  Reads ORDER_ID, the one positional argument, into req.
static int
s_order_request (s_ctx_t *ctx, oms_request_t *req, const char *cmd)
{
    char error[256];
    if (s_expect (ctx, 1, 1))
        return 1;
    if (s_check (cli_check_id ("order id", s_arg (ctx, 0), OMS_ID_MAX, error, sizeof error), error))
        return 1;
    s_request (req, cmd);
    snprintf (req->order_id, sizeof req->order_id, "%s", s_arg (ctx, 0));
    return 0;
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
        const msgpack_object *sku = cli_map_get (&items->via.array.ptr[i], "sku");
        int64_t qty = 0;
        if (!sku || sku->type != MSGPACK_OBJECT_STR ||
            cli_map_int (&items->via.array.ptr[i], "qty", &qty) != 0)
            return false;
    }
    return true;
}

//  "=SKU-1:2,SKU-2:1", or "=" for no lines.
static void
s_print_items (const msgpack_object *items)
{
    putchar ('=');
    for (uint32_t i = 0; items && i < items->via.array.size; i++) {
        const msgpack_object *item = &items->via.array.ptr[i];
        int64_t qty = 0;
        cli_map_int (item, "qty", &qty);
        if (i > 0)
            putchar (',');
        cli_text_print (stdout, cli_map_get (item, "sku"));
        printf (":%" PRId64, qty);
    }
}

//  o-17 CONFIRMED customer=c1 total_cents=1998 items=SKU-1:2,SKU-2:1 [reason="..."]
static int
s_print_order (const msgpack_object *order)
{
    const msgpack_object *order_id = cli_map_get (order, "order_id");
    const msgpack_object *customer = cli_map_get (order, "customer");
    const msgpack_object *items = cli_map_get (order, "items");
    const msgpack_object *reason = cli_map_get (order, "reason");
    int64_t total = 0;
    if (!order_id || order_id->type != MSGPACK_OBJECT_STR)
        return s_malformed ("order", "order_id");
    if (!customer || customer->type != MSGPACK_OBJECT_STR)
        return s_malformed ("order", "customer");
    if (cli_map_int (order, "total_cents", &total) < 0)
        return s_malformed ("order", "total_cents");
    if (!s_items_valid (items))
        return s_malformed ("order", "items");
    if (reason && reason->type != MSGPACK_OBJECT_STR)
        return s_malformed ("order", "reason");
    cli_text_print (stdout, order_id);
    putchar (' ');
    cli_text_print (stdout, cli_map_get (order, "status"));
    printf (" customer=");
    cli_text_print (stdout, customer);
    printf (" total_cents=%" PRId64 " items", total);
    s_print_items (items);
    if (reason && reason->via.str.size > 0) {
        printf (" reason=");
        cli_json_print (stdout, reason);
    }
    putchar ('\n');
    return 0;
}

static int
s_cmd_get (s_ctx_t *ctx)
{
    oms_request_t req;
    if (s_order_request (ctx, &req, "get"))
        return 1;
    cli_reply_t *reply = s_call (ctx, "order", &req, ctx->timeout_ms, 1);
    if (!reply)
        return 1;
    const msgpack_object *order = cli_reply_map (reply);
    int rc = 0;
    const msgpack_object *status = cli_map_get (order, "status");
    if (!status || status->type != MSGPACK_OBJECT_STR)
        rc = s_malformed ("order", "status");
    else if (ctx->json) {
        cli_json_print_map (stdout, order, "ok");
        putchar ('\n');
    }
    else
        rc = s_print_order (order);
    cli_reply_destroy (&reply);
    return rc;
}

static int
s_cmd_cancel (s_ctx_t *ctx)
{
    oms_request_t req;
    if (s_order_request (ctx, &req, "cancel"))
        return 1;
    cli_reply_t *reply = s_call (ctx, "order", &req, ctx->timeout_ms, 1);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    const msgpack_object *order_id = cli_map_get (map, "order_id");
    const msgpack_object *status = cli_map_get (map, "status");
    int rc = 0;
    if (!order_id || order_id->type != MSGPACK_OBJECT_STR)
        rc = s_malformed ("order", "order_id");
    else if (!status || status->type != MSGPACK_OBJECT_STR)
        rc = s_malformed ("order", "status");
    else if (ctx->json) {
        cli_json_print_map (stdout, map, "ok");
        putchar ('\n');
    }
    else {
        cli_text_print (stdout, order_id);
        putchar (' ');
        cli_text_print (stdout, status);
        putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}

static int
s_cmd_wait (s_ctx_t *ctx)
{
    char error[256];
    oms_request_t req;
    double timeout_s = WAIT_DEFAULT_S;
    const char *timeout = cli_args_value (&ctx->args, "--timeout");
    if (s_order_request (ctx, &req, "get"))
        return 1;
    if (timeout && s_check (cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &timeout_s, error,
                                               sizeof error),
                            error))
        return 1;
    return cli_wait (ctx->config, req.order_id, timeout_s, ctx->json);
}

static const s_field_t s_stock_fields[] = {
    {"available", true}, {"reserved", true}, {"sold", true}, {"price_cents", true}};

static int
s_stock_set (s_ctx_t *ctx, oms_request_t *req)
{
    char error[256];
    const char *price = cli_args_value (&ctx->args, "--price");
    if (s_expect (ctx, 3, 3))
        return 1;
    s_request (req, "stock.set");
    if (s_check (cli_parse_int ("quantity", s_arg (ctx, 2), 0, STOCK_QTY_MAX, &req->qty, error,
                                sizeof error),
                 error))
        return 1;
    //  A price of 0 would be left out of the request, which means "unchanged".
    if (price && s_check (cli_parse_int ("--price", price, 1, OMS_CENTS_MAX, &req->price_cents,
                                         error, sizeof error),
                          error))
        return 1;
    return 0;
}

static int
s_cmd_stock (s_ctx_t *ctx)
{
    char error[256];
    oms_request_t req;
    const char *action = ctx->args.n_positional > 0 ? s_arg (ctx, 0) : "";
    if (strcmp (action, "set") == 0) {
        if (s_stock_set (ctx, &req))
            return 1;
    }
    else if (strcmp (action, "get") == 0) {
        if (s_expect (ctx, 2, 2))
            return 1;
        if (cli_args_has (&ctx->args, "--price"))
            return cli_fail ("--price is only for stock set");
        s_request (&req, "stock.get");
    }
    else
        return cli_fail ("usage: oms %s", s_command->synopsis);
    if (s_check (cli_check_id ("SKU", s_arg (ctx, 1), OMS_SKU_MAX, error, sizeof error), error))
        return 1;
    snprintf (req.sku, sizeof req.sku, "%s", s_arg (ctx, 1));
    return s_call_and_print (ctx, "inventory", &req, "sku", s_stock_fields, 4);
}

static int
s_cmd_wallet (s_ctx_t *ctx)
{
    static const s_field_t fields[] = {{"balance_cents", true}};
    char error[256];
    oms_request_t req;
    const char *action = ctx->args.n_positional > 0 ? s_arg (ctx, 0) : "";
    if (strcmp (action, "credit") == 0) {
        if (s_expect (ctx, 3, 3))
            return 1;
        s_request (&req, "wallet.credit");
        if (s_check (cli_parse_int ("amount in cents", s_arg (ctx, 2), 1, OMS_CENTS_MAX,
                                    &req.amount_cents, error, sizeof error),
                     error))
            return 1;
    }
    else if (strcmp (action, "get") == 0) {
        if (s_expect (ctx, 2, 2))
            return 1;
        s_request (&req, "wallet.get");
    }
    else
        return cli_fail ("usage: oms %s", s_command->synopsis);
    if (s_check (cli_check_id ("customer", s_arg (ctx, 1), OMS_ID_MAX, error, sizeof error), error))
        return 1;
    snprintf (req.customer, sizeof req.customer, "%s", s_arg (ctx, 1));
    return s_call_and_print (ctx, "payment", &req, "customer", fields, 1);
}

//  Checks every notification before printing, so output is all or nothing.
static int
s_check_notifications (const msgpack_object *list)
{
    static const char *const keys[] = {"order_id", "kind", "channel", "text"};
    if (!list || list->type != MSGPACK_OBJECT_ARRAY)
        return s_malformed ("notification", "notifications");
    for (uint32_t i = 0; i < list->via.array.size; i++)
        for (size_t k = 0; k < 4; k++) {
            const msgpack_object *value = cli_map_get (&list->via.array.ptr[i], keys[k]);
            if (!value || value->type != MSGPACK_OBJECT_STR)
                return s_malformed ("notification", keys[k]);
        }
    return 0;
}

static void
s_print_notifications (const msgpack_object *list)
{
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *entry = &list->via.array.ptr[i];
        const msgpack_object *text = cli_map_get (entry, "text");
        cli_text_print (stdout, cli_map_get (entry, "order_id"));
        putchar (' ');
        cli_text_print (stdout, cli_map_get (entry, "kind"));
        putchar (' ');
        cli_text_print (stdout, cli_map_get (entry, "channel"));
        putchar (' ');
        cli_json_print_text (stdout, text->via.str.ptr, text->via.str.size);
        putchar ('\n');
    }
}

static int
s_cmd_notifications (s_ctx_t *ctx)
{
    char error[256];
    oms_request_t req;
    const char *order_id = cli_args_value (&ctx->args, "--order");
    const char *customer = cli_args_value (&ctx->args, "--customer");
    if (s_expect (ctx, 0, 0))
        return 1;
    if ((order_id == NULL) == (customer == NULL))
        return cli_fail ("give exactly one of --order ID and --customer ID");
    s_request (&req, "notifications");
    const char *what = order_id ? "order id" : "customer";
    const char *id = order_id ? order_id : customer;
    if (s_check (cli_check_id (what, id, OMS_ID_MAX, error, sizeof error), error))
        return 1;
    snprintf (order_id ? req.order_id : req.customer, OMS_ID_MAX + 1, "%s", id);
    cli_reply_t *reply = s_call (ctx, "notification", &req, ctx->timeout_ms, 1);
    if (!reply)
        return 1;
    const msgpack_object *list = cli_map_get (cli_reply_map (reply), "notifications");
    int rc = s_check_notifications (list);
    if (rc == 0 && ctx->json) {
        cli_json_print (stdout, list);
        putchar ('\n');
    }
    else if (rc == 0)
        s_print_notifications (list);
    cli_reply_destroy (&reply);
    return rc;
}

static int
s_cmd_channel (s_ctx_t *ctx)
{
    static const s_field_t fields[] = {{"channel", false}};
    char error[256];
    oms_request_t req;
    if (s_expect (ctx, 2, 2))
        return 1;
    if (s_check (cli_check_id ("customer", s_arg (ctx, 0), OMS_ID_MAX, error, sizeof error), error))
        return 1;
    if (strcmp (s_arg (ctx, 1), "email") != 0 && strcmp (s_arg (ctx, 1), "sms") != 0)
        return cli_fail ("channel must be email or sms: %s",
                         cli_printable (s_arg (ctx, 1), error, sizeof error));
    s_request (&req, "channel.set");
    snprintf (req.customer, sizeof req.customer, "%s", s_arg (ctx, 0));
    snprintf (req.channel, sizeof req.channel, "%s", s_arg (ctx, 1));
    return s_call_and_print (ctx, "notification", &req, "customer", fields, 1);
}

//  The operator's commands (status, metrics, dlq, events, resync) live in
//  cli_ops, which parses their arguments.
static int
s_cmd_ops (s_ctx_t *ctx)
{
    return cli_ops_run (s_command->name, ctx->config, &ctx->args, ctx->json);
}

static int
s_cmd_tail (s_ctx_t *ctx)
{
    char error[256];
    const char *count_text = cli_args_value (&ctx->args, "--count");
    const char *timeout = cli_args_value (&ctx->args, "--timeout");
    int64_t count = 0;
    double timeout_s = -1;
    for (size_t i = 0; i < ctx->args.n_positional; i++)
        if (strlen (s_arg (ctx, i)) > OMS_NAME_MAX)
            return cli_fail ("topic prefix longer than %d characters", OMS_NAME_MAX);
    if (count_text &&
        s_check (cli_parse_int ("--count", count_text, 1, INT64_MAX, &count, error, sizeof error),
                 error))
        return 1;
    if (timeout && s_check (cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &timeout_s, error,
                                               sizeof error),
                            error))
        return 1;
    return cli_tail (ctx->config, ctx->args.positional, ctx->args.n_positional, count, timeout_s,
                     ctx->json);
}

static int
s_cmd_load (s_ctx_t *ctx)
{
    cli_command_t command = {s_command->name, NULL, s_command->opts, s_command->synopsis,
                             s_command->summary};
    cli_t cli = {ctx->config, ctx->args, ctx->json, ctx->timeout_ms, &command};
    return cli_cmd_load (&cli);
}

static int
s_cmd_scenario (s_ctx_t *ctx)
{
    if (s_expect (ctx, 1, 1))
        return 1;
    if (ctx->json)
        return cli_fail ("scenario has no --json output");
    cli_scenario_env_t env = {ctx->config, cli_args_value (&ctx->args, "--config"),
                              ctx->timeout_ms};
    return cli_scenario_main (s_arg (ctx, 0), &env);
}

static int
s_cmd_keygen (s_ctx_t *ctx)
{
    return cli_keygen (&ctx->args, ctx->json);
}

static int s_cmd_help (s_ctx_t *ctx);

// ---------------------------------------------------------------------------
//  The command table

static const cli_opt_t s_global_opts[] = {{"--config", true, false}, {"--json", false, false},
                                          {"--set", true, true},     {"-h", false, false},
                                          {"--help", false, false},  {NULL, false, false}};
static const cli_opt_t s_place_opts[] = {{"--customer", true, false},   {"--item", true, true},
                                         {"--pay", true, false},        {"--card", true, false},
                                         {"--request-id", true, false}, {NULL, false, false}};
static const cli_opt_t s_timeout_opts[] = {{"--timeout", true, false}, {NULL, false, false}};
static const cli_opt_t s_stock_opts[] = {{"--price", true, false}, {NULL, false, false}};
static const cli_opt_t s_notifications_opts[] = {
    {"--order", true, false}, {"--customer", true, false}, {NULL, false, false}};
static const cli_opt_t s_tail_opts[] = {
    {"--count", true, false}, {"--timeout", true, false}, {NULL, false, false}};
static const cli_opt_t s_no_opts[] = {{NULL, false, false}};

static const s_command_t s_commands[] = {
    {"place", s_cmd_place, s_place_opts,
     "place --customer ID --item SKU:QTY [--item SKU:QTY ...] --pay METHOD [--card NUMBER] "
     "[--request-id KEY]",
     "place an order; prints its order id"},
    {"get", s_cmd_get, s_no_opts, "get ORDER_ID", "show an order"},
    {"wait", s_cmd_wait, s_timeout_opts, "wait ORDER_ID [--timeout SEC]",
     "wait until an order is CONFIRMED (exit 0) or CANCELLED (exit 2)"},
    {"cancel", s_cmd_cancel, s_no_opts, "cancel ORDER_ID", "cancel an order"},
    {"stock", s_cmd_stock, s_stock_opts, "stock set SKU QTY [--price CENTS] | stock get SKU",
     "set or show a SKU's stock level and price"},
    {"wallet", s_cmd_wallet, s_no_opts, "wallet credit CUSTOMER CENTS | wallet get CUSTOMER",
     "credit or show a customer's wallet"},
    {"notifications", s_cmd_notifications, s_notifications_opts,
     "notifications --order ID | --customer ID", "list the notifications sent"},
    {"channel", s_cmd_channel, s_no_opts, "channel CUSTOMER email|sms",
     "choose how a customer is notified"},
    {"status", s_cmd_ops, cli_status_opts, CLI_STATUS_SYNOPSIS, CLI_STATUS_SUMMARY},
    {"metrics", s_cmd_ops, cli_ops_no_opts, CLI_METRICS_SYNOPSIS, CLI_METRICS_SUMMARY},
    {"dlq", s_cmd_ops, cli_ops_no_opts, CLI_DLQ_SYNOPSIS, CLI_DLQ_SUMMARY},
    {"events", s_cmd_ops, cli_events_opts, CLI_EVENTS_SYNOPSIS, CLI_EVENTS_SUMMARY},
    {"resync", s_cmd_ops, cli_resync_opts, CLI_RESYNC_SYNOPSIS, CLI_RESYNC_SUMMARY},
    {"tail", s_cmd_tail, s_tail_opts, "tail [TOPIC_PREFIX ...] [--count N] [--timeout SEC]",
     "print live events"},
    {"load", s_cmd_load, cli_load_opts,
     "load --orders N [--rate R] [--skus K] [--pay METHOD:WEIGHT,...] [--window W] "
     "[--declines PCT] [--timeout SEC]",
     "place N orders open-loop and report orders/s and place-to-terminal latency"},
    {"scenario", s_cmd_scenario, s_no_opts, "scenario FILE",
     "run a scripted scenario (docs/SCENARIOS.md); exit 1 if a step failed"},
    {"keygen", s_cmd_keygen, cli_keygen_opts, "keygen NAME [--dir DIR]",
     "write a CURVE certificate pair NAME.cert and NAME.cert_secret (docs/SECURITY.md)"},
    {"help", s_cmd_help, s_no_opts, "help [COMMAND]", "show this help"},
};
#define COMMANDS_COUNT (sizeof s_commands / sizeof s_commands[0])

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: oms COMMAND [ARGS] [--config FILE] [--set KEY=VALUE] [--json]\n\n"
                  "commands:\n");
    for (size_t i = 0; i < COMMANDS_COUNT; i++)
        fprintf (out, "  %-14s %s\n      oms %s\n", s_commands[i].name, s_commands[i].summary,
                 s_commands[i].synopsis);
    fprintf (out, "\nglobal options (anywhere after the command):\n"
                  "  --config FILE      configuration file (default $OMS_CONFIG, else built-in)\n"
                  "  --set KEY=VALUE    override one configuration key, e.g. cli/timeout_ms=2000\n"
                  "  --json             machine-readable output\n"
                  "  -h, --help         help\n"
                  "\nexit status: 0 success, 1 error; oms wait exits 2 when the order is "
                  "cancelled.\nSee docs/CLI.md.\n");
}

static const s_command_t *
s_find_command (const char *name)
{
    for (size_t i = 0; i < COMMANDS_COUNT; i++)
        if (strcmp (s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

static int
s_cmd_help (s_ctx_t *ctx)
{
    if (s_expect (ctx, 0, 1))
        return 1;
    const s_command_t *command = ctx->args.n_positional ? s_find_command (s_arg (ctx, 0)) : NULL;
    if (ctx->args.n_positional && !command)
        return cli_fail ("unknown command: %s", s_arg (ctx, 0));
    if (command)
        printf ("usage: oms %s\n%s\n", command->synopsis, command->summary);
    else
        s_usage (stdout);
    return 0;
}

// ---------------------------------------------------------------------------
//  main

//  The index in argv of the command name: global options may come first.
static int
s_command_index (int argc, char **argv)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp (argv[i], "--config") == 0 || strcmp (argv[i], "--set") == 0)
            i++;
        i++;
    }
    return i;
}

static int
s_load_config (s_ctx_t *ctx)
{
    char error[512];
    ctx->config = oms_config_new (cli_args_value (&ctx->args, "--config"), error, sizeof error);
    if (!ctx->config)
        return cli_fail ("%s", error);
    const char *sets[CLI_ARGS_MAX];
    size_t n = cli_args_values (&ctx->args, "--set", sets, CLI_ARGS_MAX);
    for (size_t i = 0; i < n; i++) {
        char key[256];
        const char *eq = strchr (sets[i], '=');
        if (!eq || eq == sets[i] || (size_t) (eq - sets[i]) >= sizeof key)
            return cli_fail ("--set needs KEY=VALUE: %s",
                             cli_printable (sets[i], error, sizeof error));
        memcpy (key, sets[i], (size_t) (eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if (oms_config_set (ctx->config, key, eq + 1, error, sizeof error))
            return cli_fail ("%s", error);
    }
    int64_t timeout_ms = oms_config_int (ctx->config, "cli/timeout_ms");
    ctx->timeout_ms = timeout_ms < 1 ? 1 : timeout_ms > INT_MAX ? INT_MAX : (int) timeout_ms;
    cli_client_secure (ctx->config);
    return 0;
}

//  Parses everything but the command name: the options before it and after.
static int
s_parse (s_ctx_t *ctx, int argc, char **argv, int command_at)
{
    static char *rest[CLI_ARGS_MAX + 1];
    const cli_opt_t *const tables[] = {s_global_opts, s_command->opts, NULL};
    char error[256];
    if (argc - 1 > CLI_ARGS_MAX)
        return cli_fail ("too many arguments");
    int n = 0;
    for (int i = 1; i < argc; i++)
        if (i != command_at)
            rest[n++] = argv[i];
    if (cli_args_parse (&ctx->args, n, rest, tables, error, sizeof error))
        return cli_fail ("%s; usage: oms %s", error, s_command->synopsis);
    return 0;
}

static int
s_run (int argc, char **argv)
{
    static s_ctx_t ctx;
    int command_at = s_command_index (argc, argv);
    if (command_at >= argc) {
        bool help = false;
        for (int i = 1; i < argc; i++)
            help = help || strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0;
        s_usage (help ? stdout : stderr);
        return help ? 0 : 1;
    }
    s_command = s_find_command (argv[command_at]);
    if (!s_command) {
        char shown[64];
        return cli_fail ("unknown command: %s (see oms help)",
                         cli_printable (argv[command_at], shown, sizeof shown));
    }
    if (s_parse (&ctx, argc, argv, command_at))
        return 1;
    if (cli_args_has (&ctx.args, "-h") || cli_args_has (&ctx.args, "--help")) {
        printf ("usage: oms %s\n%s\n", s_command->synopsis, s_command->summary);
        return 0;
    }
    ctx.json = cli_args_has (&ctx.args, "--json");
    int rc = s_command->run == s_cmd_help ? 0 : s_load_config (&ctx);
    if (rc == 0)
        rc = s_command->run (&ctx);
    oms_config_destroy (&ctx.config);
    return rc;
}

int
main (int argc, char **argv)
{
    //  Leave SIGINT and SIGTERM to their defaults; `oms tail` sets its own.
    zsys_handler_set (NULL);
    int rc = s_run (argc, argv);
    if (fflush (stdout) != 0 || ferror (stdout)) {
        fprintf (stderr, "oms: cannot write the output\n");
        rc = 1;
    }
    return rc;
}
