/*  cli_dlq: `oms dlq`, a service's dead letters: the events whose handler
    failed, kept aside to be listed, shown, retried or dropped
    (docs/OPERATIONS.md). Every field printed is checked first: a reply is
    untrusted, and nothing is printed from a malformed one.
*/
#include "cli.h"
#include "oms_clock.h"

#include <inttypes.h>
#include <string.h>
#include <czmq.h>

//  The fields of a shown dead letter that --json does not write as they are.
static const char *const s_show_skip[] = {"ok", "body", NULL};

const char *
cli_dlq_entry (const msgpack_object *entry, uint64_t *id, char *topic, uint64_t *ts,
               const char **error, size_t *len)
{
    if (cli_map_uint (entry, "id", id) != 0)
        return "dead[].id";
    if (cli_map_copy (entry, "topic", topic, OMS_NAME_MAX + 1) != 0)
        return "dead[].topic";
    if (cli_map_uint (entry, "ts_ns", ts) != 0)
        return "dead[].ts_ns";
    if (cli_map_str (entry, "error", error, len) < 0)
        return "dead[].error";
    return NULL;
}

static int
s_dlq_list (cli_t *self, const char *service, const msgpack_object *map)
{
    const msgpack_object *dead = cli_map_array (map, "dead");
    uint64_t now = oms_clock_wall_ns (), id = 0, ts = 0;
    char topic[OMS_NAME_MAX + 1], age[32];
    const char *error = "", *field = NULL;
    size_t len = 0;
    if (!dead)
        return cli_malformed (service, "dead");
    for (uint32_t i = 0; i < dead->via.array.size; i++)
        if ((field = cli_dlq_entry (&dead->via.array.ptr[i], &id, topic, &ts, &error, &len)))
            return cli_malformed (service, field);
    if (self->json) {
        cli_json_print (stdout, dead);
        putchar ('\n');
        return 0;
    }
    printf ("%-8s %-20s %-6s %s\n", "ID", "TOPIC", "AGE", "ERROR");
    for (uint32_t i = 0; i < dead->via.array.size; i++) {
        error = "";
        len = 0;
        cli_dlq_entry (&dead->via.array.ptr[i], &id, topic, &ts, &error, &len);
        printf ("%-8" PRIu64 " %-20s %-6s ", id, topic,
                cli_age (now > ts ? now - ts : 0, age, sizeof age));
        cli_json_print_text (stdout, error, len);
        putchar ('\n');
    }
    return 0;
}

//  The dead letter's event, decoded, after its header; an undecodable body
//  is shown as it is.
static int
s_dlq_show (cli_t *self, const char *service, const msgpack_object *map)
{
    char topic[OMS_NAME_MAX + 1], age[32], why[512];
    const char *error = "";
    size_t error_len = 0;
    uint64_t id = 0, ts = 0, now = oms_clock_wall_ns ();
    const msgpack_object *body = cli_map_get (map, "body");
    if (cli_map_uint (map, "id", &id) != 0)
        return cli_malformed (service, "id");
    if (cli_map_copy (map, "topic", topic, sizeof topic) != 0)
        return cli_malformed (service, "topic");
    if (!body || body->type != MSGPACK_OBJECT_BIN)
        return cli_malformed (service, "body");
    if (cli_map_str (map, "error", &error, &error_len) < 0)
        return cli_malformed (service, "error");
    cli_map_uint (map, "ts_ns", &ts);
    oms_event_t *event = (oms_event_t *) zmalloc (sizeof (oms_event_t)); //  some 6 KB
    msgpack_unpacked raw;
    msgpack_unpacked_init (&raw);
    bool decoded = cli_event_decode (topic, (const uint8_t *) body->via.bin.ptr, body->via.bin.size,
                                     event, &raw, why, sizeof why) == 0;
    if (self->json) {
        putchar ('{');
        cli_json_print_entries (stdout, map, s_show_skip, false);
        printf (", \"event\": ");
    }
    else {
        printf ("id=%" PRIu64 " topic=%s age=%s error=\"", id, topic,
                cli_age (now > ts ? now - ts : 0, age, sizeof age));
        cli_json_print_text (stdout, error, error_len);
        printf ("\"\n");
    }
    if (decoded)
        cli_event_print (topic, event, &raw.data, self->json);
    else {
        if (self->json) {
            printf ("null, \"decode_error\": ");
            cli_json_print_str (stdout, why, strlen (why));
            printf (", \"body\": ");
        }
        else
            printf ("%s; body (base64): ", why);
        cli_json_print (stdout, body);
    }
    printf (self->json ? "}\n" : "\n");
    msgpack_unpacked_destroy (&raw);
    free (event);
    return 0;
}

int
cli_cmd_dlq (cli_t *self)
{
    char error[256], name[OMS_NAME_MAX + 1], topic[OMS_NAME_MAX + 1];
    const char *action = self->args.n_positional > 0 ? cli_arg (self, 0) : "";
    bool list = strcmp (action, "list") == 0, show = strcmp (action, "show") == 0;
    size_t n_args = list ? 2 : 3;
    int64_t id = 0;
    uint64_t done = 0;
    oms_request_t req;
    if (!list && !show && strcmp (action, "retry") != 0 && strcmp (action, "drop") != 0)
        return cli_usage (self);
    if (cli_expect (self, n_args, n_args) || cli_check_service (cli_arg (self, 1)))
        return 1;
    if (!list && cli_check (cli_parse_int ("dead letter id", cli_arg (self, 2), 1, INT64_MAX, &id,
                                           error, sizeof error),
                            error))
        return 1;
    snprintf (name, sizeof name, "dlq.%s", action);
    cli_request_init (&req, name);
    req.id = (uint64_t) id;
    const char *service = cli_arg (self, 1);
    cli_reply_t *reply = cli_call (self, service, &req, 1);
    if (!reply)
        return 1;
    const msgpack_object *map = cli_reply_map (reply);
    int rc = 0;
    if (list)
        rc = s_dlq_list (self, service, map);
    else if (show)
        rc = s_dlq_show (self, service, map);
    else if (cli_map_uint (map, "id", &done) != 0)
        rc = cli_malformed (service, "id");
    else if (self->json) {
        cli_json_print_map (stdout, map, "ok");
        putchar ('\n');
    }
    else if (strcmp (action, "drop") == 0)
        printf ("%" PRIu64 " dropped\n", done);
    else if (cli_map_copy (map, "topic", topic, sizeof topic) != 0)
        rc = cli_malformed (service, "topic");
    else
        printf ("%" PRIu64 " %s applied\n", done, topic);
    cli_reply_destroy (&reply);
    return rc;
}
