/*  cli_accounts: what the services keep about SKUs and customers: `oms
    stock`, `wallet`, `notifications` and `channel`.

    Each is one request; its answer prints as JSON (the reply without "ok")
    or as one human line "LEAD key=value ...", checked whole before anything
    is printed, so output is all or nothing.
*/
#include "cli.h"

#include <string.h>

const cli_opt_t cli_stock_opts[] = {{"--price", true, false}, {NULL, false, false}};
const cli_opt_t cli_notifications_opts[] = {
    {"--order", true, false}, {"--customer", true, false}, {NULL, false, false}};

//  A key of a human line; integer keys the service left out (it omits
//  zeros) print as 0.
typedef struct {
    const char *key;
    bool is_int;
} s_field_t;

static int
s_print_record (const char *service, const msgpack_object *map, const char *lead,
                const s_field_t *fields)
{
    const msgpack_object *value = cli_map_get (map, lead);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        return cli_malformed (service, lead);
    for (const s_field_t *field = fields; field->key; field++) {
        value = cli_map_get (map, field->key);
        bool good = value ? (!field->is_int || value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                             value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                          : field->is_int;
        if (!good)
            return cli_malformed (service, field->key);
    }
    cli_text_print (stdout, cli_map_get (map, lead));
    for (const s_field_t *field = fields; field->key; field++) {
        printf (" %s=", field->key);
        value = cli_map_get (map, field->key);
        if (value)
            cli_text_print (stdout, value);
        else
            putchar ('0');
    }
    putchar ('\n');
    return 0;
}

static int
s_call_and_print (cli_t *self, const char *service, const oms_request_t *req, const char *lead,
                  const s_field_t *fields)
{
    cli_reply_t *reply = cli_call (self, service, req, 1);
    if (!reply)
        return 1;
    int rc = 0;
    if (self->json) {
        cli_json_print_map (stdout, cli_reply_map (reply), "ok");
        putchar ('\n');
    }
    else
        rc = s_print_record (service, cli_reply_map (reply), lead, fields);
    cli_reply_destroy (&reply);
    return rc;
}

//  "ACTION ID [VALUE]": the action named `with_value` takes the third word
//  (*valued is then set). 0 with the request made for "<prefix>.<action>",
//  else 1 (printed).
static int
s_action (cli_t *self, oms_request_t *req, const char *prefix, const char *with_value,
          const char *bare, bool *valued)
{
    const char *action = self->args.n_positional > 0 ? cli_arg (self, 0) : "";
    *valued = strcmp (action, with_value) == 0;
    if (!*valued && strcmp (action, bare) != 0)
        return cli_usage (self);
    if (cli_expect (self, *valued ? 3 : 2, *valued ? 3 : 2))
        return 1;
    char cmd[OMS_NAME_MAX + 1];
    snprintf (cmd, sizeof cmd, "%s.%s", prefix, action);
    cli_request_init (req, cmd);
    return 0;
}

int
cli_cmd_stock (cli_t *self)
{
    static const s_field_t fields[] = {{"available", true},
                                       {"reserved", true},
                                       {"sold", true},
                                       {"price_cents", true},
                                       {NULL, false}};
    char error[256];
    oms_request_t req;
    const char *price = cli_args_value (&self->args, "--price");
    bool set = false;
    if (s_action (self, &req, "stock", "set", "get", &set))
        return 1;
    if (!set && price)
        return cli_fail ("--price is only for stock set");
    if (set && (cli_check (cli_parse_int ("quantity", cli_arg (self, 2), 0, CLI_STOCK_QTY_MAX,
                                          &req.qty, error, sizeof error),
                           error) ||
                //  A price of 0 would be left out of the request, which means "unchanged".
                (price && cli_check (cli_parse_int ("--price", price, 1, OMS_CENTS_MAX,
                                                    &req.price_cents, error, sizeof error),
                                     error))))
        return 1;
    if (cli_check (cli_check_id ("SKU", cli_arg (self, 1), OMS_SKU_MAX, error, sizeof error),
                   error))
        return 1;
    snprintf (req.sku, sizeof req.sku, "%s", cli_arg (self, 1));
    return s_call_and_print (self, "inventory", &req, "sku", fields);
}

int
cli_cmd_wallet (cli_t *self)
{
    static const s_field_t fields[] = {{"balance_cents", true}, {NULL, false}};
    char error[256];
    oms_request_t req;
    bool credit = false;
    if (s_action (self, &req, "wallet", "credit", "get", &credit))
        return 1;
    if (credit && cli_check (cli_parse_int ("amount in cents", cli_arg (self, 2), 1, OMS_CENTS_MAX,
                                            &req.amount_cents, error, sizeof error),
                             error))
        return 1;
    if (cli_check (cli_check_id ("customer", cli_arg (self, 1), OMS_ID_MAX, error, sizeof error),
                   error))
        return 1;
    snprintf (req.customer, sizeof req.customer, "%s", cli_arg (self, 1));
    return s_call_and_print (self, "payment", &req, "customer", fields);
}

int
cli_cmd_channel (cli_t *self)
{
    static const s_field_t fields[] = {{"channel", false}, {NULL, false}};
    char error[256];
    oms_request_t req;
    if (cli_expect (self, 2, 2) ||
        cli_check (cli_check_id ("customer", cli_arg (self, 0), OMS_ID_MAX, error, sizeof error),
                   error))
        return 1;
    if (strcmp (cli_arg (self, 1), "email") != 0 && strcmp (cli_arg (self, 1), "sms") != 0)
        return cli_fail ("channel must be email or sms: %s",
                         cli_printable (cli_arg (self, 1), error, sizeof error));
    cli_request_init (&req, "channel.set");
    snprintf (req.customer, sizeof req.customer, "%s", cli_arg (self, 0));
    snprintf (req.channel, sizeof req.channel, "%s", cli_arg (self, 1));
    return s_call_and_print (self, "notification", &req, "customer", fields);
}

int
cli_cmd_notifications (cli_t *self)
{
    static const char *const keys[] = {"order_id", "kind", "channel", "text"};
    char error[256];
    oms_request_t req;
    const char *order_id = cli_args_value (&self->args, "--order");
    const char *customer = cli_args_value (&self->args, "--customer");
    if (cli_expect (self, 0, 0))
        return 1;
    if ((order_id == NULL) == (customer == NULL))
        return cli_fail ("give exactly one of --order ID and --customer ID");
    const char *id = order_id ? order_id : customer;
    if (cli_check (
            cli_check_id (order_id ? "order id" : "customer", id, OMS_ID_MAX, error, sizeof error),
            error))
        return 1;
    cli_request_init (&req, "notifications");
    snprintf (order_id ? req.order_id : req.customer, OMS_ID_MAX + 1, "%s", id);
    cli_reply_t *reply = cli_call (self, "notification", &req, 1);
    if (!reply)
        return 1;
    const msgpack_object *list = cli_map_get (cli_reply_map (reply), "notifications");
    int rc = list && list->type == MSGPACK_OBJECT_ARRAY
                 ? 0
                 : cli_malformed ("notification", "notifications");
    for (uint32_t i = 0; rc == 0 && i < list->via.array.size; i++)
        for (size_t k = 0; rc == 0 && k < 4; k++) {
            const msgpack_object *value = cli_map_get (&list->via.array.ptr[i], keys[k]);
            if (!value || value->type != MSGPACK_OBJECT_STR)
                rc = cli_malformed ("notification", keys[k]);
        }
    if (rc == 0 && self->json) {
        cli_json_print (stdout, list);
        putchar ('\n');
    }
    for (uint32_t i = 0; rc == 0 && !self->json && i < list->via.array.size; i++) {
        for (size_t k = 0; k < 3; k++) {
            cli_text_print (stdout, cli_map_get (&list->via.array.ptr[i], keys[k]));
            putchar (' ');
        }
        const msgpack_object *text = cli_map_get (&list->via.array.ptr[i], "text");
        cli_json_print_text (stdout, text->via.str.ptr, text->via.str.size);
        putchar ('\n');
    }
    cli_reply_destroy (&reply);
    return rc;
}
