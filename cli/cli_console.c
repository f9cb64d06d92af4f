/*  cli_console: `oms console [--listen ADDR]`, a read-only web page for the
    operator: the processes with their rates and lag, the orders, an
    order's trace, the dead letters.

    Every page is made when it is asked for, by the same requests the other
    commands send, and written as HTML by this file: no script, no asset from
    anywhere (oms_http sends a policy that forbids both), every value from a
    reply written through cli_html_print, which escapes markup and replaces
    what is not UTF-8. Pages are made on the HTTP thread, one at a time; the
    main thread only waits for SIGINT or SIGTERM. A service that does not
    answer is shown as such on the page, never as an error of the console.
*/
#include "cli.h"
#include "cli_trace.h"
#include "oms_clock.h"
#include "oms_http.h"

#include <inttypes.h>
#include <string.h>
#include <czmq.h>

#define LISTEN_DEFAULT "127.0.0.1:7070"

const cli_opt_t cli_console_opts[] = {{"--listen", true, false}, {NULL, false, false}};

static void
s_text (FILE *out, const char *text)
{
    cli_html_print_text (out, text, strlen (text));
}

static void
s_head (FILE *out, const char *title)
{
    fputs ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>oms: ", out);
    s_text (out, title);
    fputs ("</title><style>"
           "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
           "table{border-collapse:collapse;margin:.5em 0 1.5em}"
           "th,td{border-bottom:1px solid #ddd;padding:.25em .75em;text-align:left}"
           "th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
           ".bad{color:#b00020;font-weight:600}.good{color:#1b5e20}"
           "nav a{margin-right:1em}code{background:#f4f4f4;padding:0 .2em}"
           "</style></head><body><nav><a href=\"/\">processes</a>"
           "<a href=\"/orders\">orders</a>"
           "<a href=\"/orders?status=PENDING,RESERVED&amp;older_than=30s\">stuck orders</a>"
           "<a href=\"/dlq\">dead letters</a></nav>\n<h1>",
           out);
    s_text (out, title);
    fputs ("</h1>\n", out);
}

static unsigned
s_foot (FILE *out, unsigned status)
{
    fputs ("</body></html>\n", out);
    return status;
}

static void
s_problem (FILE *out, const char *what, const char *why)
{
    fputs ("<p class=\"bad\">", out);
    s_text (out, what);
    fputs (": ", out);
    s_text (out, why);
    fputs ("</p>\n", out);
}

static void
s_count (FILE *out, bool known, uint64_t value)
{
    if (known)
        fprintf (out, "<td class=\"n\">%" PRIu64 "</td>", value);
    else
        fputs ("<td class=\"n\">-</td>", out);
}

// ---------------------------------------------------------------------------
//  Pages

static unsigned
s_processes (cli_t *cli, FILE *out)
{
    s_head (out, "processes");
    cli_cluster_t *cluster = cli_cluster_new (cli);
    if (!cluster) {
        s_problem (out, "the bus", "cannot be reached (see the console's log)");
        return s_foot (out, 503);
    }
    size_t down = cli_cluster_look (cluster);
    fprintf (out, "<p class=\"%s\">%zu of %d processes up</p>\n", down ? "bad" : "good",
             1 + OMS_SERVICES_COUNT - down, 1 + OMS_SERVICES_COUNT);
    fputs ("<table><tr><th>process</th><th>host</th><th>state</th><th>in/s</th><th>out/s</th>"
           "<th>from</th><th>topic</th><th>position</th><th>head</th><th>lag</th></tr>\n",
           out);
    cli_process_t proc;
    for (size_t i = 0; cli_cluster_process (cluster, i, &proc); i++) {
        size_t rows = proc.n_subs ? proc.n_subs : 1;
        for (size_t k = 0; k < rows; k++) {
            fputs ("<tr>", out);
            if (k == 0) {
                fprintf (out, "<td rowspan=\"%zu\">", rows);
                s_text (out, proc.name);
                fprintf (out, "</td><td rowspan=\"%zu\">", rows);
                s_text (out, proc.host[0] ? proc.host : "-");
                fprintf (out, "</td><td rowspan=\"%zu\" class=\"%s\">", rows,
                         proc.up ? "good" : "bad");
                s_text (out, proc.state);
                fputs ("</td>", out);
                s_count (out, proc.has_rates, proc.in_per_s);
                s_count (out, proc.has_rates, proc.out_per_s);
            }
            else
                fputs ("<td></td><td></td>", out);
            if (proc.n_subs == 0) {
                fputs ("<td colspan=\"5\"></td></tr>\n", out);
                continue;
            }
            const cli_sub_t *sub = &proc.subs[k];
            fputs ("<td>", out);
            s_text (out, sub->producer);
            fputs ("</td><td>", out);
            s_text (out, sub->topic);
            fputs ("</td>", out);
            s_count (out, sub->has_position, sub->position);
            s_count (out, sub->has_head, sub->head);
            if (sub->stopped)
                fputs ("<td class=\"bad\">STOPPED</td>", out);
            else
                s_count (out, sub->has_position && sub->has_head, sub->head - sub->position);
            fputs ("</tr>\n", out);
        }
    }
    fputs ("</table>\n", out);
    cli_cluster_destroy (&cluster);
    return s_foot (out, 200);
}

static void
s_dead_letters (cli_t *cli, FILE *out, const char *service)
{
    char why[512], topic[OMS_NAME_MAX + 1], age[32];
    oms_request_t req;
    cli_request_init (&req, "dlq.list");
    fputs ("<h2>", out);
    s_text (out, service);
    fputs ("</h2>\n", out);
    cli_reply_t *reply = cli_ask (cli, service, &req, 1, why, sizeof why);
    const msgpack_object *dead = reply ? cli_map_array (cli_reply_map (reply), "dead") : NULL;
    if (!reply)
        s_problem (out, service, why);
    else if (!dead)
        s_problem (out, service, "a malformed reply (dead)");
    else if (dead->via.array.size == 0)
        fputs ("<p>none</p>\n", out);
    else {
        uint64_t now = oms_clock_wall_ns ();
        fputs ("<table><tr><th>id</th><th>topic</th><th>age</th><th>error</th></tr>\n", out);
        for (uint32_t i = 0; i < dead->via.array.size; i++) {
            uint64_t id = 0, ts = 0;
            const char *error = "";
            size_t len = 0;
            if (cli_dlq_entry (&dead->via.array.ptr[i], &id, topic, &ts, &error, &len))
                continue;
            fprintf (out, "<tr><td class=\"n\">%" PRIu64 "</td><td>", id);
            s_text (out, topic);
            fprintf (out, "</td><td>%s</td><td>",
                     cli_age (now > ts ? now - ts : 0, age, sizeof age));
            cli_html_print_text (out, error, len);
            fputs ("</td></tr>\n", out);
        }
        fputs ("</table>\n", out);
    }
    cli_reply_destroy (&reply);
}

static unsigned
s_dlq (cli_t *cli, FILE *out)
{
    s_head (out, "dead letters");
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++)
        s_dead_letters (cli, out, oms_service_names[i]);
    return s_foot (out, 200);
}

//  The console's filters and the orders options they stand for.
static const struct {
    const char *arg, *option, *label;
} s_filters[] = {
    {"status", "--status", "status (PENDING,RESERVED...)"},
    {"customer", "--customer", "customer"},
    {"since", "--since", "created within (30s, 5m, 2h, 1d)"},
    {"older_than", "--older-than", "created before"},
    {"limit", "--limit", "at most"},
    {"page", "--page", NULL},
};
#define FILTERS (sizeof s_filters / sizeof s_filters[0])

//  Writes a query argument percent-encoded, as HTML text (& becomes &amp;).
static void
s_url_arg (FILE *out, const char *name, const char *value)
{
    fprintf (out, "&amp;%s=", name);
    for (const unsigned char *p = (const unsigned char *) value; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr ("-._~,", *p))
            fputc (*p, out);
        else
            fprintf (out, "%%%02X", *p);
}

static void
s_order_link (FILE *out, const msgpack_object *order_id)
{
    fputs ("<a href=\"/order?id=", out);
    cli_html_print (out, order_id);
    fputs ("\">", out);
    cli_html_print (out, order_id);
    fputs ("</a>", out);
}

static void
s_orders_table (FILE *out, const msgpack_object *orders, uint64_t now)
{
    char age[32];
    fputs ("<table><tr><th>order</th><th>status</th><th>customer</th><th>total (cents)</th>"
           "<th>age</th><th>reason</th></tr>\n",
           out);
    for (uint32_t i = 0; i < orders->via.array.size; i++) {
        const msgpack_object *order = &orders->via.array.ptr[i];
        uint64_t created = 0;
        cli_map_uint (order, "created_ns", &created);
        fputs ("<tr><td>", out);
        s_order_link (out, cli_map_get (order, "order_id"));
        fputs ("</td><td>", out);
        cli_html_print (out, cli_map_get (order, "status"));
        fputs ("</td><td>", out);
        cli_html_print (out, cli_map_get (order, "customer"));
        fputs ("</td><td class=\"n\">", out);
        cli_html_print (out, cli_map_get (order, "total_cents"));
        fprintf (out, "</td><td>%s</td><td>",
                 cli_age (now > created ? now - created : 0, age, sizeof age));
        cli_html_print (out, cli_map_get (order, "reason"));
        fputs ("</td></tr>\n", out);
    }
    fputs ("</table>\n", out);
}

static unsigned
s_orders (cli_t *cli, const oms_http_request_t *request, FILE *out)
{
    char *argv[2 * FILTERS];
    const char *values[FILTERS];
    char error[512];
    int argc = 0;
    s_head (out, "orders");
    fputs ("<form action=\"/orders\" method=\"get\">", out);
    for (size_t i = 0; i < FILTERS; i++) {
        values[i] = oms_http_arg (request, s_filters[i].arg);
        if (values[i] && *values[i]) {
            argv[argc++] = (char *) s_filters[i].option;
            argv[argc++] = (char *) values[i];
        }
        if (!s_filters[i].label)
            continue;
        fprintf (out, "<label>%s <input name=\"%s\" value=\"", s_filters[i].label,
                 s_filters[i].arg);
        s_text (out, values[i] ? values[i] : "");
        fputs ("\"></label> ", out);
    }
    fputs ("<button>list</button></form>\n", out);
    cli_args_t args;
    const cli_opt_t *const tables[] = {cli_orders_opts, NULL};
    oms_request_t req;
    if (cli_args_parse (&args, argc, argv, tables, error, sizeof error) ||
        cli_orders_request (&args, &req, error, sizeof error)) {
        s_problem (out, "filters", error);
        return s_foot (out, 400);
    }
    cli_reply_t *reply = cli_ask (cli, "order", &req, 1, error, sizeof error);
    const msgpack_object *map = reply ? cli_reply_map (reply) : NULL;
    const msgpack_object *orders = map ? cli_map_array (map, "orders") : NULL;
    const msgpack_object *next = map ? cli_map_get (map, "next") : NULL;
    uint64_t now = 0;
    bool good = orders && cli_map_uint (map, "now_ns", &now) == 0 &&
                (!next || next->type == MSGPACK_OBJECT_STR);
    for (uint32_t i = 0; good && i < orders->via.array.size; i++)
        good = cli_orders_check (&orders->via.array.ptr[i]) == 0;
    if (!reply)
        s_problem (out, "order service", error);
    else if (!good)
        s_problem (out, "order service", "a malformed reply (see the console's log)");
    else if (orders->via.array.size == 0)
        fputs ("<p>no orders match</p>\n", out);
    else
        s_orders_table (out, orders, now);
    if (good && next) {
        fputs ("<p><a href=\"/orders?", out);
        for (size_t i = 0; i + 1 < FILTERS; i++)
            if (values[i] && *values[i])
                s_url_arg (out, s_filters[i].arg, values[i]);
        char token[OMS_PAGE_MAX + 1] = "";
        cli_map_copy (map, "next", token, sizeof token);
        s_url_arg (out, "page", token);
        fputs ("\">next page</a></p>\n", out);
    }
    unsigned status = reply && good ? 200 : 502;
    cli_reply_destroy (&reply);
    return s_foot (out, status);
}

//  The order as its service has it: one row of facts.
static void
s_order_facts (cli_t *cli, FILE *out, const char *order_id)
{
    char why[512];
    oms_request_t req;
    cli_request_init (&req, "get");
    snprintf (req.order_id, sizeof req.order_id, "%s", order_id);
    cli_reply_t *reply = cli_ask (cli, "order", &req, 1, why, sizeof why);
    if (!reply) {
        s_problem (out, "order service", why);
        return;
    }
    static const char *const keys[] = {"status", "customer", "total_cents", "method", "reason"};
    const msgpack_object *map = cli_reply_map (reply);
    fputs ("<table><tr>", out);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        fprintf (out, "<th>%s</th>", keys[i]);
    fputs ("<th>items</th></tr>\n<tr>", out);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fputs ("<td>", out);
        cli_html_print (out, cli_map_get (map, keys[i]));
        fputs ("</td>", out);
    }
    fputs ("<td>", out);
    cli_html_print (out, cli_map_get (map, "items"));
    fputs ("</td></tr></table>\n", out);
    cli_reply_destroy (&reply);
}

static void
s_trace (cli_t *cli, FILE *out, const char *order_id)
{
    char stamp[40], age[32];
    cli_trace_t trace;
    fputs ("<h2>trace</h2>\n", out);
    if (cli_trace_gather (cli, order_id, &trace) != 0) {
        s_problem (out, "trace", trace.error);
        cli_trace_release (&trace);
        return;
    }
    for (size_t i = 0; i < trace.n_unanswered; i++)
        s_problem (out, trace.unanswered[i], "did not answer; its events are missing");
    fputs ("<table><tr><th>after</th><th>producer</th><th>seq</th><th>event</th><th>time</th>"
           "</tr>\n",
           out);
    for (size_t k = 0; k < trace.n_events; k++) {
        const cli_trace_event_t *event = &trace.events[k];
        char delta[32];
        int64_t since = k ? (int64_t) (event->ts_ns - trace.events[k - 1].ts_ns) : 0;
        fprintf (out, "<tr><td class=\"n\">%s</td><td>",
                 cli_trace_delta (since, delta, sizeof delta));
        s_text (out, event->producer);
        fprintf (out, "</td><td class=\"n\">%" PRIu64 "</td><td>", event->seq);
        s_text (out, event->type);
        fprintf (out, "</td><td>%s</td></tr>\n", cli_trace_iso (event->ts_ns, stamp, sizeof stamp));
    }
    fputs ("</table>\n", out);
    if (trace.waiting) {
        uint64_t now = oms_clock_wall_ns ();
        fputs ("<p class=\"bad\">waiting for ", out);
        s_text (out, trace.service);
        if (trace.since_ns)
            fprintf (out, " since %s",
                     cli_age (now > trace.since_ns ? now - trace.since_ns : 0, age, sizeof age));
        fputs (" (", out);
        s_text (out, trace.after ? trace.after : "its first event is not in the trace");
        fputs (")</p>\n", out);
    }
    if (trace.truncated)
        fputs ("<p>a service has more events of this order than one answer holds</p>\n", out);
    cli_trace_release (&trace);
}

static unsigned
s_order (cli_t *cli, const oms_http_request_t *request, FILE *out)
{
    char error[256];
    const char *order_id = oms_http_arg (request, "id");
    s_head (out, order_id ? order_id : "order");
    if (!order_id || cli_check_id ("order id", order_id, OMS_ID_MAX, error, sizeof error)) {
        s_problem (out, "id", order_id ? error : "give ?id=ORDER_ID");
        return s_foot (out, 400);
    }
    s_order_facts (cli, out, order_id);
    s_trace (cli, out, order_id);
    return s_foot (out, 200);
}

static unsigned
s_page (void *arg, const oms_http_request_t *request, FILE *out, const char **content_type)
{
    cli_t *cli = (cli_t *) arg;
    const char *path = oms_http_path (request);
    *content_type = "text/html; charset=utf-8";
    if (strcmp (path, "/") == 0)
        return s_processes (cli, out);
    if (strcmp (path, "/dlq") == 0)
        return s_dlq (cli, out);
    if (strcmp (path, "/orders") == 0)
        return s_orders (cli, request, out);
    if (strcmp (path, "/order") == 0)
        return s_order (cli, request, out);
    s_head (out, "not found");
    s_problem (out, path, "no such page");
    return s_foot (out, 404);
}

int
cli_cmd_console (cli_t *self)
{
    char error[256];
    const char *listen = cli_args_value (&self->args, "--listen");
    if (cli_expect (self, 0, 0))
        return 1;
    if (!listen)
        listen = LISTEN_DEFAULT;
    oms_http_t *http = oms_http_new (listen, s_page, self, error, sizeof error);
    if (!http)
        return cli_fail ("console: %s", error);
    cli_catch_stop_signals ();
    //  The sign of readiness scripts and tests wait for.
    printf ("console: serving http://%s/\n", listen);
    fflush (stdout);
    while (!cli_stop_requested ())
        zmq_poll (NULL, 0, 500);
    oms_http_destroy (&http);
    return 0;
}
