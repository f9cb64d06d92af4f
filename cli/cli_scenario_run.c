/*  cli_scenario_run: a parsed scenario, run step by step.

    Actions (stock, wallet, place, cancel...) are one request each to the
    service that owns them, through one cli_client per service kept for the
    whole run. Assertions are probes polled until they hold or their
    deadline passes; a probe that sees a state that cannot change into the
    expected one (a CANCELLED order expected CONFIRMED, an unknown order)
    fails at once. A service that does not answer is "not yet": it may be
    restarting. Process steps go through cli_scenario_ctl.c.
*/
#include "cli.h"
#include "cli_scenario.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLACE_ATTEMPTS   3    //  as `oms place`: same request id each time
#define KNOWN_SKU_MS     5000 //  order learns a new SKU from inventory's events
#define POLL_INTERVAL_MS 100
#define POLL_CALL_MIN_MS 250
#define DETAIL_MAX       512
#define REFUSED          1 //  s_call: the service answered "ok": false

//  What a step did or saw, as text.
struct _cli_detail_t {
    char text[DETAIL_MAX];
};

#define SAY(detail, ...) oms_error_format ((detail)->text, sizeof (detail)->text, __VA_ARGS__)

typedef struct {
    char sku[OMS_SKU_MAX + 1];
    int64_t total; //  available + reserved + sold after the last stock step
} s_total_t;

struct _cli_run_t {
    cli_scenario_t *scenario;
    const cli_scenario_env_t *env;
    cli_client_t *clients[OMS_SERVICES_COUNT];
    char order_ids[CLI_SCENARIO_ORDERS_MAX][OMS_ID_MAX + 1]; //  by name, "" until placed
    char placed[CLI_SCENARIO_STEPS_MAX][OMS_ID_MAX + 1];     //  every order placed, named or not
    size_t n_placed;
    s_total_t totals[CLI_SCENARIO_STEPS_MAX];
    size_t n_totals;
};

//  Statuses only move forward.
enum { PENDING, RESERVED, CONFIRMED, CANCELLED };

static int
s_rank (const char *status)
{
    static const char *const ranks[] = {"PENDING", "RESERVED", "CONFIRMED", "CANCELLED"};
    for (int i = PENDING; i <= CANCELLED; i++)
        if (strcmp (status, ranks[i]) == 0)
            return i;
    return -1;
}

//  One request through the run's client of `service`. 0 accepted (*reply_p
//  set, caller owns it), REFUSED with the service's error text in `detail`,
//  OMS_E_TIMEOUT when it did not answer, another negative oms_error_t
//  otherwise; `detail` says why.
static int
s_call (cli_run_t *self, const char *service, const oms_request_t *req, int timeout_ms,
        int attempts, cli_reply_t **reply_p, cli_detail_t *detail)
{
    size_t index = 0;
    while (strcmp (oms_service_names[index], service) != 0)
        index++;
    cli_client_t **client = &self->clients[index];
    if (!*client)
        *client = cli_client_new (service, oms_config_service (self->env->config, service, "api"),
                                  detail->text, sizeof detail->text);
    int rc = *client ? cli_client_call (*client, req, timeout_ms, attempts, reply_p, detail->text,
                                        sizeof detail->text)
                     : OMS_E_INVALID;
    if (rc == 0 && !cli_reply_ok (*reply_p)) {
        char why[DETAIL_MAX];
        SAY (detail, "%s service refused: %s", service,
             cli_reply_error (*reply_p, why, sizeof why));
        cli_reply_destroy (reply_p);
        return REFUSED;
    }
    return rc;
}

static int
s_malformed (cli_detail_t *detail, const char *service, const char *field)
{
    SAY (detail, "%s service sent a malformed reply: %s", service, field);
    return -1;
}

//  Copies string `key` of a reply into buf. 0 found, 1 absent, -1 not a string.
static int
s_copy_str (const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const char *str = "";
    size_t len = 0;
    int rc = cli_map_str (map, key, &str, &len);
    snprintf (buf, size, "%.*s", rc == 0 ? (int) len : 0, str);
    return rc;
}

//  Fails unless the named order was placed by an earlier step that passed.
static int
s_require_placed (cli_run_t *self, int order, cli_detail_t *detail)
{
    if (self->order_ids[order][0])
        return 0;
    SAY (detail, "order %s was not placed", cli_scenario_order_name (self->scenario, order));
    return -1;
}

static s_total_t *
s_find_total (cli_run_t *self, const char *sku)
{
    for (size_t i = 0; i < self->n_totals; i++)
        if (strcmp (self->totals[i].sku, sku) == 0)
            return &self->totals[i];
    return NULL;
}

// ---------------------------------------------------------------------------
//  Requests and their replies, said in `detail`; each returns as s_call.

typedef struct {
    char status[16];
    char reason[OMS_TEXT_MAX + 1];
} s_order_t;

//  `cmd` ("get" or "cancel") for an order: "o-3 is CANCELLED, reason \"...\"".
static int
s_order (cli_run_t *self, const char *cmd, const char *order_id, int timeout_ms, s_order_t *order,
         cli_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    cli_request_init (&req, cmd);
    snprintf (req.order_id, sizeof req.order_id, "%s", order_id);
    int rc = s_call (self, "order", &req, timeout_ms, 1, &reply, detail);
    if (rc != 0)
        return rc;
    const msgpack_object *map = cli_reply_map (reply);
    if (s_copy_str (map, "status", order->status, sizeof order->status) != 0)
        rc = s_malformed (detail, "order", "status");
    else if (s_copy_str (map, "reason", order->reason, sizeof order->reason) < 0)
        rc = s_malformed (detail, "order", "reason");
    cli_reply_destroy (&reply);
    if (rc != 0)
        return rc;
    //  Quotes and backslashes would make the line ambiguous.
    char reason[OMS_TEXT_MAX + 1];
    size_t at = 0;
    for (const char *p = order->reason; *p; p++)
        reason[at++] = (*p == '"' || *p == '\\') ? '\'' : *p;
    reason[at] = '\0';
    if (at)
        SAY (detail, "%s is %s, reason \"%s\"", order_id, order->status, reason);
    else
        SAY (detail, "%s is %s", order_id, order->status);
    return 0;
}

//  Sends `req` and reads the integers `keys` (NULL terminated) of the reply
//  into `values`; the services leave zeros out.
static int
s_ints (cli_run_t *self, const char *service, const oms_request_t *req, int timeout_ms,
        const char *const *keys, int64_t *values, cli_detail_t *detail)
{
    cli_reply_t *reply = NULL;
    int rc = s_call (self, service, req, timeout_ms, 1, &reply, detail);
    for (size_t k = 0; rc == 0 && keys[k]; k++) {
        values[k] = 0;
        if (cli_map_int (cli_reply_map (reply), keys[k], &values[k]) < 0)
            rc = s_malformed (detail, service, keys[k]);
    }
    cli_reply_destroy (&reply);
    return rc;
}

//  The stock of step->sku, set first by a stock step.
static int
s_stock (cli_run_t *self, const cli_step_t *step, int timeout_ms, int64_t *level,
         cli_detail_t *detail)
{
    static const char *const keys[] = {"available", "reserved", "sold", "price_cents", NULL};
    bool set = step->kind == CLI_STEP_STOCK;
    oms_request_t req;
    cli_request_init (&req, set ? "stock.set" : "stock.get");
    snprintf (req.sku, sizeof req.sku, "%s", step->sku);
    req.qty = set ? step->amount : 0;
    req.price_cents = set ? step->price : 0;
    int rc = s_ints (self, "inventory", &req, timeout_ms, keys, level, detail);
    if (rc == 0)
        SAY (detail,
             "%s available=%" PRId64 " reserved=%" PRId64 " sold=%" PRId64 " price_cents=%" PRId64,
             step->sku, level[CLI_LEVEL_AVAILABLE], level[CLI_LEVEL_RESERVED],
             level[CLI_LEVEL_SOLD], level[CLI_LEVEL_PRICE]);
    return rc;
}

//  The balance of step->customer, credited first by a wallet step.
static int
s_balance (cli_run_t *self, const cli_step_t *step, int timeout_ms, int64_t *balance,
           cli_detail_t *detail)
{
    static const char *const keys[] = {"balance_cents", NULL};
    bool credit = step->kind == CLI_STEP_WALLET;
    oms_request_t req;
    cli_request_init (&req, credit ? "wallet.credit" : "wallet.get");
    snprintf (req.customer, sizeof req.customer, "%s", step->customer);
    req.amount_cents = credit ? step->amount : 0;
    int rc = s_ints (self, "payment", &req, timeout_ms, keys, balance, detail);
    if (rc == 0)
        SAY (detail, "%s%sbalance_cents=%" PRId64, credit ? "" : step->customer, credit ? "" : " ",
             *balance);
    return rc;
}

//  Sends a placement; retries "unknown sku" while order may not have learnt
//  of SKUs this run stocked. The order id is in `order_id`, "" unless accepted.
static int
s_place (cli_run_t *self, const cli_step_t *step, char *order_id, cli_detail_t *detail)
{
    oms_request_t req;
    cli_request_init (&req, "place");
    snprintf (req.customer, sizeof req.customer, "%s", step->customer);
    memcpy (req.items, step->items, step->n_items * sizeof step->items[0]);
    req.n_items = step->n_items;
    snprintf (req.method, sizeof req.method, "%s", step->method);
    snprintf (req.card, sizeof req.card, "%s", step->card);
    zuuid_t *uuid = zuuid_new ();
    snprintf (req.request_id, sizeof req.request_id, "%s",
              step->request_id[0] ? step->request_id : zuuid_str (uuid));
    zuuid_destroy (&uuid);
    bool retry_unknown = step->kind == CLI_STEP_PLACE;
    for (uint32_t i = 0; i < step->n_items; i++)
        retry_unknown = retry_unknown && s_find_total (self, step->items[i].sku);
    int64_t deadline = zclock_mono () + KNOWN_SKU_MS;
    cli_reply_t *reply = NULL;
    int rc;
    while ((rc = s_call (self, "order", &req, self->env->timeout_ms, PLACE_ATTEMPTS, &reply,
                         detail)) == REFUSED &&
           retry_unknown && strcasestr (detail->text, "unknown sku") && zclock_mono () < deadline)
        zclock_sleep (50);
    if (rc != 0)
        return rc;
    const msgpack_object *map = cli_reply_map (reply);
    bool created = true;
    if (s_copy_str (map, "order_id", order_id, OMS_ID_MAX + 1) != 0 || !order_id[0] ||
        cli_map_bool (map, "created", &created) < 0)
        rc = s_malformed (detail, "order", "order_id");
    cli_reply_destroy (&reply);
    if (rc != 0) {
        order_id[0] = '\0';
        return rc;
    }
    SAY (detail, "%s%s", order_id, created ? "" : ", placed before with this request id");
    size_t i = 0;
    while (i < self->n_placed && strcmp (self->placed[i], order_id) != 0)
        i++;
    if (i == self->n_placed)
        snprintf (self->placed[self->n_placed++], OMS_ID_MAX + 1, "%s", order_id);
    return 0;
}

// ---------------------------------------------------------------------------
//  Actions: 0 pass, else fail, with what happened in `detail`.

static int
s_do_config (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    //  Checked on a scratch configuration: asking the real one for an
    //  unknown key is a programmer error.
    oms_config_t *scratch = oms_config_new (NULL, detail->text, sizeof detail->text);
    int rc = scratch ? oms_config_set (scratch, step->key, step->value, detail->text,
                                       sizeof detail->text)
                     : -1;
    if (rc == 0) {
        const char *want = oms_config_str (scratch, step->key);
        const char *have = oms_config_str (self->env->config, step->key);
        if (strcmp (want, have) != 0) {
            SAY (detail, "this scenario needs %s=%s but the configuration has %s", step->key, want,
                 have);
            rc = -1;
        }
    }
    oms_config_destroy (&scratch);
    return rc;
}

static int
s_do_stock (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    int64_t level[CLI_LEVELS];
    if (s_stock (self, step, self->env->timeout_ms, level, detail) != 0)
        return -1;
    s_total_t *total = s_find_total (self, step->sku);
    if (!total) {
        total = &self->totals[self->n_totals++];
        snprintf (total->sku, sizeof total->sku, "%s", step->sku);
    }
    total->total = level[CLI_LEVEL_AVAILABLE] + level[CLI_LEVEL_RESERVED] + level[CLI_LEVEL_SOLD];
    return 0;
}

static int
s_do_wallet (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    int64_t balance;
    return s_balance (self, step, self->env->timeout_ms, &balance, detail);
}

static int
s_do_channel (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    cli_request_init (&req, "channel.set");
    snprintf (req.customer, sizeof req.customer, "%s", step->customer);
    snprintf (req.channel, sizeof req.channel, "%s", step->channel);
    int rc = s_call (self, "notification", &req, self->env->timeout_ms, 1, &reply, detail);
    cli_reply_destroy (&reply);
    return rc;
}

static int
s_do_place (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    return s_place (self, step, self->order_ids[step->order], detail);
}

static int
s_do_reject (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    char order_id[OMS_ID_MAX + 1];
    int rc = s_place (self, step, order_id, detail);
    if (rc == 0)
        SAY (detail, "placed %s; a refusal was expected", order_id);
    if (rc != REFUSED)
        return -1;
    if (step->text[0] && !strcasestr (detail->text, step->text)) {
        cli_detail_t got = *detail;
        SAY (detail, "%s; expected one mentioning \"%s\"", got.text, step->text);
        return -1;
    }
    return 0;
}

static int
s_do_cancel (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    s_order_t order;
    return s_require_placed (self, step->order, detail) ||
           s_order (self, "cancel", self->order_ids[step->order], self->env->timeout_ms, &order,
                    detail);
}

static int
s_do_process (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    return cli_scenario_ctl (self->env, step->action, step->process, detail->text,
                             sizeof detail->text);
}

static int
s_do_sleep (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    (void) self;
    (void) detail;
    zclock_sleep ((int) (step->seconds * 1000));
    return 0;
}

static int
s_do_expect_same (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail)
{
    if (s_require_placed (self, step->order, detail) ||
        s_require_placed (self, step->other, detail))
        return -1;
    const char *one = self->order_ids[step->order];
    const char *other = self->order_ids[step->other];
    if (strcmp (one, other) == 0) {
        SAY (detail, "both are %s", one);
        return 0;
    }
    SAY (detail, "%s is %s but %s is %s", cli_scenario_order_name (self->scenario, step->order),
         one, cli_scenario_order_name (self->scenario, step->other), other);
    return -1;
}

typedef int (*s_action_fn) (cli_run_t *self, const cli_step_t *step, cli_detail_t *detail);

static const s_action_fn s_actions[] = {
    [CLI_STEP_CONFIG] = s_do_config, [CLI_STEP_STOCK] = s_do_stock,
    [CLI_STEP_WALLET] = s_do_wallet, [CLI_STEP_CHANNEL] = s_do_channel,
    [CLI_STEP_PLACE] = s_do_place,   [CLI_STEP_REJECT] = s_do_reject,
    [CLI_STEP_CANCEL] = s_do_cancel, [CLI_STEP_PROCESS] = s_do_process,
    [CLI_STEP_SLEEP] = s_do_sleep,   [CLI_STEP_EXPECT_SAME] = s_do_expect_same,
};

// ---------------------------------------------------------------------------
//  Assertions: the probes of the parser's table (see cli_scenario.h)

//  A call that was not answered means "not yet"; a refusal or a malformed
//  reply means "never".
static int
s_not_yet (int rc)
{
    return rc == OMS_E_TIMEOUT ? 0 : -1;
}

int
cli_probe_wait (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    s_order_t order;
    int rc = s_order (self, "get", self->order_ids[step->order], timeout_ms, &order, detail);
    return rc != 0 ? s_not_yet (rc) : s_rank (order.status) >= CONFIRMED;
}

int
cli_probe_order (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    s_order_t order;
    int rc = s_order (self, "get", self->order_ids[step->order], timeout_ms, &order, detail);
    if (rc != 0)
        return s_not_yet (rc);
    int have = s_rank (order.status);
    int want = s_rank (step->status);
    if (have == want && (!step->text[0] || strcasestr (order.reason, step->text)))
        return 1;
    //  A later status never goes back; a cancelled order's reason never changes.
    return have > want || (have == want && have == CANCELLED) ? -1 : 0;
}

int
cli_probe_stock (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    int64_t level[CLI_LEVELS];
    int rc = s_stock (self, step, timeout_ms, level, detail);
    if (rc != 0)
        return s_not_yet (rc);
    for (size_t k = 0; k < CLI_LEVELS; k++)
        if (step->has_level[k] && level[k] != step->level[k])
            return 0;
    return 1;
}

int
cli_probe_wallet (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    int64_t balance;
    int rc = s_balance (self, step, timeout_ms, &balance, detail);
    return rc != 0 ? s_not_yet (rc) : balance == step->amount;
}

int
cli_probe_notifications (cli_run_t *self, const cli_step_t *step, int timeout_ms,
                         cli_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    const char *order_id = self->order_ids[step->order];
    cli_request_init (&req, "notifications");
    snprintf (req.order_id, sizeof req.order_id, "%s", order_id);
    int rc = s_call (self, "notification", &req, timeout_ms, 1, &reply, detail);
    if (rc != 0)
        return s_not_yet (rc);
    const msgpack_object *list = cli_map_get (cli_reply_map (reply), "notifications");
    bool array = list && list->type == MSGPACK_OBJECT_ARRAY;
    uint32_t n = array ? list->via.array.size : 0;
    int64_t count = 0;
    if (!array)
        rc = s_malformed (detail, "notification", "notifications");
    else
        SAY (detail, n ? "%s has" : "%s has no notifications", order_id);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        char kind[OMS_NAME_MAX + 1], channel[OMS_NAME_MAX + 1];
        const msgpack_object *entry = &list->via.array.ptr[i];
        size_t used = strlen (detail->text);
        if (s_copy_str (entry, "kind", kind, sizeof kind) ||
            s_copy_str (entry, "channel", channel, sizeof channel))
            rc = s_malformed (detail, "notification", "kind");
        else
            snprintf (detail->text + used, sizeof detail->text - used, "%s %s/%s", i ? "," : "",
                      kind, channel);
        count += rc == 0 && (!step->kind_filter[0] || strcmp (kind, step->kind_filter) == 0) &&
                 (!step->channel[0] || strcmp (channel, step->channel) == 0);
    }
    cli_reply_destroy (&reply);
    return rc != 0 ? -1 : count == step->amount;
}

int
cli_probe_conserved (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    int64_t level[CLI_LEVELS];
    const s_total_t *known = step->has_amount ? NULL : s_find_total (self, step->sku);
    if (!step->has_amount && !known) {
        SAY (detail, "no total for %s: its stock step did not pass", step->sku);
        return -1;
    }
    int64_t total = known ? known->total : step->amount;
    int rc = s_stock (self, step, timeout_ms, level, detail);
    if (rc != 0)
        return s_not_yet (rc);
    int64_t sum = level[CLI_LEVEL_AVAILABLE] + level[CLI_LEVEL_RESERVED] + level[CLI_LEVEL_SOLD];
    size_t used = strlen (detail->text);
    snprintf (detail->text + used, sizeof detail->text - used, ", total %" PRId64 " of %" PRId64,
              sum, total);
    return sum == total && level[CLI_LEVEL_RESERVED] == 0 && level[CLI_LEVEL_AVAILABLE] >= 0 &&
           level[CLI_LEVEL_SOLD] >= 0;
}

int
cli_probe_settled (cli_run_t *self, const cli_step_t *step, int timeout_ms, cli_detail_t *detail)
{
    size_t confirmed = 0;
    (void) step;
    for (size_t i = 0; i < self->n_placed; i++) {
        s_order_t order;
        int rc = s_order (self, "get", self->placed[i], timeout_ms, &order, detail);
        if (rc != 0)
            return s_not_yet (rc);
        int rank = s_rank (order.status);
        if (rank < CONFIRMED) {
            SAY (detail, "%s is still %s", self->placed[i], order.status);
            return 0;
        }
        confirmed += rank == CONFIRMED;
    }
    SAY (detail, "%zu orders: %zu confirmed, %zu cancelled", self->n_placed, confirmed,
         self->n_placed - confirmed);
    return 1;
}

//  The live line: which step runs, and for how long it has waited.
static void
s_progress (cli_run_t *self, const cli_step_t *step, int64_t waited_ms, const char *seen)
{
    char source[4 * CLI_SCENARIO_LINE_MAX + 1];
    char shown[4 * DETAIL_MAX + 1];
    FILE *out = self->env->progress;
    if (!out)
        return;
    fprintf (out, "\r\033[Kline %zu: %s", step->line,
             cli_printable (step->source, source, sizeof source));
    if (waited_ms > 0)
        fprintf (out, " (waiting %.1f of %.0f s: %.60s)", (double) waited_ms / 1000, step->seconds,
                 cli_printable (seen, shown, sizeof shown));
    fflush (out);
}

//  An assertion: fails at once unless the orders it names were placed, then
//  polls `probe` until it holds or never will, or step->seconds pass.
static int
s_assert (cli_run_t *self, const cli_step_t *step, cli_probe_t *probe, bool needs_order,
          cli_detail_t *detail)
{
    if (needs_order && s_require_placed (self, step->order, detail))
        return -1;
    int64_t started = zclock_mono ();
    int64_t deadline = started + (int64_t) (step->seconds * 1000);
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        int call_ms = left < POLL_CALL_MIN_MS        ? POLL_CALL_MIN_MS
                      : left > self->env->timeout_ms ? self->env->timeout_ms
                                                     : (int) left;
        int rc = probe (self, step, call_ms, detail);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        int64_t now = zclock_mono ();
        if (now >= deadline) {
            cli_detail_t seen = *detail;
            SAY (detail, "%s (after %.1f s)", seen.text, (double) (now - started) / 1000);
            return -1;
        }
        s_progress (self, step, now - started, detail->text);
        zclock_sleep (
            (int) (deadline - now < POLL_INTERVAL_MS ? deadline - now : POLL_INTERVAL_MS));
    }
}

// ---------------------------------------------------------------------------
//  The run

static void
s_report (cli_run_t *self, FILE *out, const cli_step_t *step, bool pass, const char *detail)
{
    char source[4 * CLI_SCENARIO_LINE_MAX + 1];
    char shown[4 * DETAIL_MAX + 1];
    if (self->env->progress)
        fprintf (self->env->progress, "\r\033[K");
    fprintf (out, "line %zu: %s: %s", step->line, pass ? "pass" : "fail",
             cli_printable (step->source, source, sizeof source));
    if (detail[0])
        fprintf (out, pass ? " (%s)" : ": %s", cli_printable (detail, shown, sizeof shown));
    fputc ('\n', out);
    fflush (out);
}

static int
s_report_errors (cli_scenario_t *self, FILE *out)
{
    size_t errors = cli_scenario_errors (self);
    size_t kept = errors < CLI_SCENARIO_ERRORS_MAX ? errors : CLI_SCENARIO_ERRORS_MAX;
    for (size_t i = 0; i < kept; i++) {
        size_t line = 0;
        const char *message = cli_scenario_error (self, i, &line);
        fprintf (out, "line %zu: fail: %s\n", line, message);
    }
    if (errors > kept)
        fprintf (out, "(%zu more malformed lines)\n", errors - kept);
    fprintf (out, "0 passed, %zu failed\n", errors);
    fflush (out);
    return 1;
}

int
cli_scenario_run (cli_scenario_t *self, const cli_scenario_env_t *env, FILE *out)
{
    assert (self);
    assert (env && env->config);
    if (cli_scenario_errors (self))
        return s_report_errors (self, out);
    cli_run_t *run = (cli_run_t *) calloc (1, sizeof (cli_run_t));
    if (!run) {
        fprintf (stderr, "oms: out of memory\n");
        return 1;
    }
    run->scenario = self;
    run->env = env;
    size_t passed = 0;
    size_t steps = cli_scenario_steps (self);
    for (size_t i = 0; i < steps; i++) {
        const cli_step_t *step = cli_scenario_step (self, i);
        cli_detail_t detail = {{0}};
        bool needs_order = false;
        cli_probe_t *probe = cli_scenario_probe (step->kind, &needs_order);
        s_progress (run, step, 0, "");
        bool pass = (probe ? s_assert (run, step, probe, needs_order, &detail)
                           : s_actions[step->kind](run, step, &detail)) == 0;
        s_report (run, out, step, pass, detail.text);
        passed += pass;
    }
    fprintf (out, "%zu passed, %zu failed\n", passed, steps - passed);
    fflush (out);
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++)
        cli_client_destroy (&run->clients[i]);
    free (run);
    return passed == steps ? 0 : 1;
}

//  `oms scenario FILE`: loads the file with a fresh run id and runs it,
//  printing to stdout; a file that cannot be loaded, or holds no step, is
//  an error.
int
cli_cmd_scenario (cli_t *self)
{
    char error[512];
    char run_id[9];
    if (cli_expect (self, 1, 1))
        return 1;
    if (self->json)
        return cli_fail ("scenario has no --json output");
    //  The live line shares the terminal with the report, and is erased
    //  before each line of it.
    cli_scenario_env_t env = {self->config, cli_args_value (&self->args, "--config"),
                              self->timeout_ms, isatty (STDOUT_FILENO) ? stdout : NULL};
    zuuid_t *uuid = zuuid_new ();
    snprintf (run_id, sizeof run_id, "%s", zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    cli_scenario_t *scenario = cli_scenario_load (cli_arg (self, 0), run_id, error, sizeof error);
    if (!scenario)
        return cli_fail ("%s", error);
    int rc = 1;
    if (cli_scenario_steps (scenario) == 0 && cli_scenario_errors (scenario) == 0)
        cli_fail ("%s has no steps", cli_arg (self, 0));
    else
        rc = cli_scenario_run (scenario, &env, stdout);
    cli_scenario_destroy (&scenario);
    return rc;
}
