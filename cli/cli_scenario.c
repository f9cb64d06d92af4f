/*  cli_scenario: a scenario's text, parsed whole into steps before any of
    them runs (cli_scenario_run.c runs them).

    A line is checked for length and control bytes, "$RUN" is replaced, and
    it is cut into words: blanks separate them, a word in double quotes may
    hold blanks (with \" and \\ as its only escapes), and a bare '#' starts
    a comment. The first word names the step (two for the expect forms); its
    row in s_forms says how it is parsed, and for an assertion how it is
    probed. Each parser checks its words with the same cli_args checks as the
    commands (so a step that parses is never refused for its form), and
    order names must be introduced by `place` on an earlier line. A
    malformed line is recorded with its number and parsing goes on, so one
    pass reports them all.
*/
#include "cli.h"
#include "cli_scenario.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WORDS_MAX   32
#define WITHIN_S    10.0 //  an assertion's deadline when the step gives none
#define WAIT_S      30.0
#define SECONDS_MAX 3600.0
#define COUNT_MAX   1000
#define NAME_CHARS  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

//  Fills the line's error; -1, as a parser returns it.
#define FAIL(line, ...) (oms_error_format ((line)->error, sizeof (line)->error, __VA_ARGS__), -1)

struct _cli_scenario_t {
    cli_step_t *steps;
    size_t n_steps;
    char names[CLI_SCENARIO_ORDERS_MAX][CLI_SCENARIO_NAME_MAX + 1];
    size_t name_lines[CLI_SCENARIO_ORDERS_MAX];
    size_t n_names;
    struct {
        size_t line;
        char message[256];
    } errors[CLI_SCENARIO_ERRORS_MAX];
    size_t n_errors;
};

//  The line being parsed: its words, or why it is malformed.
typedef struct {
    cli_scenario_t *scenario;
    const char *words[WORDS_MAX]; //  unquoted, NUL terminated, in buf
    bool quoted[WORDS_MAX];
    size_t n;
    char buf[CLI_SCENARIO_LINE_MAX + WORDS_MAX + 1];
    double within; //  the default of "within SEC", 0 when the step takes none
    char error[256];
} s_line_t;

static const char *const s_none[] = {NULL};

//  Cuts `text` (NUL terminated, no control bytes) into words; [*from, *to)
//  is their span, for the report.
static int
s_split (s_line_t *self, const char *text, size_t *from, size_t *to)
{
    size_t at = 0;
    char *out = self->buf;
    for (self->n = 0;; self->n++) {
        while (text[at] == ' ' || text[at] == '\t')
            at++;
        if (text[at] == '\0' || text[at] == '#')
            return 0;
        if (self->n == WORDS_MAX)
            return FAIL (self, "more than %d words", WORDS_MAX);
        if (self->n == 0)
            *from = at;
        self->words[self->n] = out;
        self->quoted[self->n] = text[at] == '"';
        if (self->quoted[self->n]) {
            size_t opened = at++;
            for (; text[at] != '"'; *out++ = text[at++]) {
                if (text[at] == '\0')
                    return FAIL (self, "unterminated quote at column %zu", opened + 1);
                if (text[at] == '\\' && text[++at] != '"' && text[at] != '\\')
                    return FAIL (
                        self, "unknown escape at column %zu (only \\\" and \\\\ are allowed)", at);
            }
            if (text[++at] != '\0' && text[at] != ' ' && text[at] != '\t')
                return FAIL (self, "a blank must follow the closing quote at column %zu", at);
        }
        else
            for (; text[at] != '\0' && text[at] != ' ' && text[at] != '\t'; *out++ = text[at++])
                if (text[at] == '"')
                    return FAIL (self, "unexpected quote at column %zu", at + 1);
        *out++ = '\0';
        *to = at;
    }
}

//  Whether word `index` exists, is bare and is `keyword`.
static bool
s_is (const s_line_t *self, size_t index, const char *keyword)
{
    return index < self->n && !self->quoted[index] && strcmp (self->words[index], keyword) == 0;
}

static int
s_usage (s_line_t *self, size_t min, size_t max, const char *usage)
{
    if (self->n >= min && self->n <= max)
        return 0;
    return FAIL (self, "%s; usage: %s", self->n < min ? "missing words" : "too many words", usage);
}

//  An identifier checked as the commands check it, copied into `into`.
static int
s_id (s_line_t *self, const char *what, const char *value, char *into, size_t size)
{
    if (cli_check_id (what, value, size - 1, self->error, sizeof self->error))
        return -1;
    snprintf (into, size, "%s", value);
    return 0;
}

static int
s_int (s_line_t *self, const char *what, const char *text, int64_t min, int64_t max, int64_t *value)
{
    return cli_parse_int (what, text, min, max, value, self->error, sizeof self->error);
}

//  `value` is one of `allowed` (NULL terminated), else the error "WHAT: VALUE".
static int
s_one_of (s_line_t *self, const char *value, const char *const *allowed, const char *what)
{
    char shown[64];
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return 0;
    return FAIL (self, "%s: %s", what, cli_printable (value, shown, sizeof shown));
}

//  Reads "KEYWORD VALUE" pairs from word `from` on: each keyword one of
//  `keywords` (NULL terminated), or "within" when the step takes it, given
//  at most once; the first `required` keywords must be. values[i] is the
//  value of keywords[i], or NULL; "within" sets the step's seconds.
static int
s_options (s_line_t *self, cli_step_t *step, size_t from, const char *const *keywords,
           size_t required, const char **values)
{
    const char *known[8];
    const char *given[8] = {NULL};
    size_t n = 0;
    for (; keywords[n]; n++)
        known[n] = keywords[n];
    known[n] = "within";
    size_t n_known = n + (self->within > 0);
    for (size_t at = from; at < self->n; at += 2) {
        size_t k = 0;
        while (k < n_known && !s_is (self, at, known[k]))
            k++;
        if (k == n_known) {
            char shown[64], list[128] = "";
            for (k = 0; k < n_known; k++)
                snprintf (list + strlen (list), sizeof list - strlen (list), "%s %s", k ? "," : "",
                          known[k]);
            const char *quote = self->quoted[at] ? "\"" : "";
            return FAIL (self, "unexpected word %s%s%s (expected one of%s)", quote,
                         cli_printable (self->words[at], shown, sizeof shown), quote, list);
        }
        if (given[k])
            return FAIL (self, "%s given twice", known[k]);
        if (at + 1 >= self->n)
            return FAIL (self, "%s needs a value", known[k]);
        given[k] = self->words[at + 1];
    }
    step->seconds = self->within;
    if (given[n] && cli_parse_seconds ("within", given[n], SECONDS_MAX, &step->seconds, self->error,
                                       sizeof self->error))
        return -1;
    for (size_t k = 0; k < n; k++) {
        if (k < required && !given[k])
            return FAIL (self, "%s is required", known[k]);
        values[k] = given[k];
    }
    return 0;
}

static int
s_find_name (cli_scenario_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_names; i++)
        if (strcmp (self->names[i], name) == 0)
            return (int) i;
    return -1;
}

//  Word `index` as the name of an order placed on an earlier line.
static int
s_order (s_line_t *self, size_t index, int *order)
{
    char shown[64];
    *order = s_find_name (self->scenario, self->words[index]);
    if (*order >= 0)
        return 0;
    return FAIL (self, "no order named %s is placed before this line",
                 cli_printable (self->words[index], shown, sizeof shown));
}

static int
s_channel (s_line_t *self, cli_step_t *step, const char *channel)
{
    static const char *const channels[] = {"email", "sms", NULL};
    snprintf (step->channel, sizeof step->channel, "%s", channel);
    return s_one_of (self, channel, channels, "channel must be email or sms");
}

// ---------------------------------------------------------------------------
//  The steps, each parsed from the words of its line into `step`: 0, or
//  non-zero with the line's error.

static int
s_parse_config (s_line_t *self, cli_step_t *step)
{
    cli_scenario_t *scenario = self->scenario;
    char shown[64];
    for (size_t i = 0; i < scenario->n_steps; i++)
        if (scenario->steps[i].kind != CLI_STEP_CONFIG)
            return FAIL (self, "config lines must come before every other step (line %zu)",
                         scenario->steps[i].line);
    if (s_usage (self, 2, 2, "config KEY=VALUE"))
        return -1;
    const char *text = self->words[1];
    const char *eq = strchr (text, '=');
    size_t key_len = eq ? (size_t) (eq - text) : 0;
    if (key_len == 0 || key_len >= sizeof step->key ||
        strspn (text, "abcdefghijklmnopqrstuvwxyz0123456789_/") != key_len)
        return FAIL (self, "config needs KEY=VALUE, KEY from [a-z0-9_/]: %s",
                     cli_printable (text, shown, sizeof shown));
    if (eq[1] == '\0' || strlen (eq + 1) >= sizeof step->value)
        return FAIL (self, "config value must be 1 to %zu characters", sizeof step->value - 1);
    memcpy (step->key, text, key_len);
    snprintf (step->value, sizeof step->value, "%s", eq + 1);
    return 0;
}

static int
s_parse_stock (s_line_t *self, cli_step_t *step)
{
    static const char *const keywords[] = {"price", NULL};
    const char *price = NULL;
    //  A price of 0 would be left out of the request, which means "unchanged".
    return s_usage (self, 3, 5, "stock SKU QTY [price CENTS]") ||
           s_id (self, "SKU", self->words[1], step->sku, sizeof step->sku) ||
           s_int (self, "quantity", self->words[2], 0, CLI_STOCK_QTY_MAX, &step->amount) ||
           s_options (self, step, 3, keywords, 0, &price) ||
           (price && s_int (self, "price", price, 1, OMS_CENTS_MAX, &step->price));
}

static int
s_parse_wallet (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 3, 3, "wallet CUSTOMER CENTS") ||
           s_id (self, "customer", self->words[1], step->customer, sizeof step->customer) ||
           s_int (self, "amount in cents", self->words[2], 1, OMS_CENTS_MAX, &step->amount);
}

static int
s_parse_channel (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 3, 3, "channel CUSTOMER email|sms") ||
           s_id (self, "customer", self->words[1], step->customer, sizeof step->customer) ||
           s_channel (self, step, self->words[2]);
}

//  "SKU:QTY[,SKU:QTY...]", each checked as `oms place --item` checks it.
static int
s_parse_items (s_line_t *self, cli_step_t *step, const char *list)
{
    char copy[CLI_SCENARIO_LINE_MAX + 1];
    const char *texts[OMS_ITEMS_MAX];
    size_t n = 0;
    snprintf (copy, sizeof copy, "%s", list);
    for (char *piece = copy, *comma;; piece = comma + 1) {
        if ((comma = strchr (piece, ',')))
            *comma = '\0';
        if (*piece == '\0')
            return FAIL (self, "items must be SKU:QTY[,SKU:QTY...] without empty entries");
        if (n == OMS_ITEMS_MAX)
            return FAIL (self, "too many items (at most %d)", OMS_ITEMS_MAX);
        texts[n++] = piece;
        if (!comma)
            break;
    }
    return cli_parse_items (texts, n, step->items, &step->n_items, self->error, sizeof self->error);
}

//  The words of a placement from `from` on: customer, items, pay, card,
//  request, checked as `oms place` checks its options.
static int
s_parse_placement (s_line_t *self, cli_step_t *step, size_t from)
{
    static const char *const keywords[] = {"customer", "items", "pay", "card", "request", NULL};
    enum { CUSTOMER, ITEMS, PAY, CARD, REQUEST };
    const char *values[5];
    if (s_options (self, step, from, keywords, PAY + 1, values) ||
        s_id (self, "customer", values[CUSTOMER], step->customer, sizeof step->customer) ||
        s_parse_items (self, step, values[ITEMS]) ||
        cli_check_method (values[PAY], self->error, sizeof self->error))
        return -1;
    bool card_method = strcmp (values[PAY], "card") == 0;
    if (card_method && !values[CARD])
        return FAIL (self, "pay card needs card NUMBER");
    if (!card_method && values[CARD])
        return FAIL (self, "card is only for pay card");
    if ((values[CARD] && cli_check_card (values[CARD], self->error, sizeof self->error)) ||
        (values[REQUEST] &&
         s_id (self, "request id", values[REQUEST], step->request_id, sizeof step->request_id)))
        return -1;
    snprintf (step->method, sizeof step->method, "%s", values[PAY]);
    snprintf (step->card, sizeof step->card, "%s", values[CARD] ? values[CARD] : "");
    return 0;
}

static int
s_parse_place (s_line_t *self, cli_step_t *step)
{
    cli_scenario_t *scenario = self->scenario;
    char shown[64];
    if (s_usage (self, 2, WORDS_MAX,
                 "place NAME customer ID items SKU:QTY[,SKU:QTY...] pay METHOD [card NUMBER] "
                 "[request ID]"))
        return -1;
    const char *name = self->words[1];
    size_t len = strlen (name);
    int known = s_find_name (scenario, name);
    if (len < 1 || len > CLI_SCENARIO_NAME_MAX || strspn (name, NAME_CHARS) != len)
        return FAIL (self, "order name must be 1 to %d characters from [A-Za-z0-9_.-]: %s",
                     CLI_SCENARIO_NAME_MAX, cli_printable (name, shown, sizeof shown));
    if (known >= 0)
        return FAIL (self, "order name %s is already used on line %zu", name,
                     scenario->name_lines[known]);
    if (scenario->n_names == CLI_SCENARIO_ORDERS_MAX)
        return FAIL (self, "more than %d named orders", CLI_SCENARIO_ORDERS_MAX);
    if (s_parse_placement (self, step, 2))
        return -1;
    step->order = (int) scenario->n_names;
    snprintf (scenario->names[scenario->n_names], sizeof scenario->names[0], "%s", name);
    scenario->name_lines[scenario->n_names++] = step->line;
    return 0;
}

//  expect-reject place customer ... ["TEXT"]: no name, as nothing is placed.
static int
s_parse_reject (s_line_t *self, cli_step_t *step)
{
    if (s_usage (self, 2, WORDS_MAX,
                 "expect-reject place customer ID items SKU:QTY[,...] pay METHOD [card NUMBER] "
                 "[request ID] [\"TEXT\"]"))
        return -1;
    if (!s_is (self, 1, "place"))
        return FAIL (self, "expect-reject must be followed by place");
    //  The text is the last word, when quoted: no option follows it.
    if (self->quoted[self->n - 1])
        snprintf (step->text, sizeof step->text, "%s", self->words[--self->n]);
    return s_parse_placement (self, step, 2);
}

static int
s_parse_cancel (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 2, 2, "cancel NAME") || s_order (self, 1, &step->order);
}

static int
s_parse_process (s_line_t *self, cli_step_t *step)
{
    //  broker.0 .. broker.7 when the cluster has several brokers; oms-ctl
    //  refuses one the cluster does not have.
    static const char *const processes[] = {
        "broker",   "broker.0", "broker.1", "broker.2",  "broker.3", "broker.4",     "broker.5",
        "broker.6", "broker.7", "order",    "inventory", "payment",  "notification", NULL};
    if (s_usage (self, 2, 2, "stop|kill|start|restart PROCESS") ||
        s_one_of (self, self->words[1], processes,
                  "process must be one of broker (broker.I of several), order, inventory, "
                  "payment, notification"))
        return -1;
    snprintf (step->action, sizeof step->action, "%s", self->words[0]);
    snprintf (step->process, sizeof step->process, "%s", self->words[1]);
    return 0;
}

static int
s_parse_sleep (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 2, 2, "sleep SEC") ||
           cli_parse_seconds ("sleep", self->words[1], SECONDS_MAX, &step->seconds, self->error,
                              sizeof self->error);
}

static int
s_parse_wait (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 2, 4, "wait NAME [within SEC]") || s_order (self, 1, &step->order) ||
           s_options (self, step, 2, s_none, 0, NULL);
}

static int
s_expect_order (s_line_t *self, cli_step_t *step)
{
    static const char *const keywords[] = {"status", "reason", NULL};
    static const char *const statuses[] = {"PENDING", "RESERVED", "CONFIRMED", "CANCELLED", NULL};
    const char *values[2];
    if (s_usage (self, 5, 9,
                 "expect order NAME status STATUS [reason \"TEXT\"] [within SEC] | "
                 "expect order NAME same-as NAME") ||
        s_order (self, 2, &step->order))
        return -1;
    if (s_is (self, 3, "same-as")) {
        step->kind = CLI_STEP_EXPECT_SAME;
        return s_usage (self, 5, 5, "expect order NAME same-as NAME") ||
               s_order (self, 4, &step->other);
    }
    if (s_options (self, step, 3, keywords, 1, values) ||
        s_one_of (self, values[0], statuses,
                  "status must be PENDING, RESERVED, CONFIRMED or CANCELLED"))
        return -1;
    if (values[1] && (values[1][0] == '\0' || strlen (values[1]) > CLI_SCENARIO_TEXT_MAX))
        return FAIL (self, "reason must be 1 to %d characters", CLI_SCENARIO_TEXT_MAX);
    snprintf (step->status, sizeof step->status, "%s", values[0]);
    snprintf (step->text, sizeof step->text, "%s", values[1] ? values[1] : "");
    return 0;
}

static int
s_expect_stock (s_line_t *self, cli_step_t *step)
{
    static const char *const levels[] = {"available", "reserved", "sold", "price", NULL};
    const char *values[CLI_LEVELS];
    bool any = false;
    if (s_usage (self, 5, 13,
                 "expect stock SKU [available N] [reserved N] [sold N] [price CENTS] "
                 "[within SEC]") ||
        s_id (self, "SKU", self->words[2], step->sku, sizeof step->sku) ||
        s_options (self, step, 3, levels, 0, values))
        return -1;
    for (size_t k = 0; k < CLI_LEVELS; k++) {
        int64_t max = k == CLI_LEVEL_PRICE ? OMS_CENTS_MAX : CLI_STOCK_QTY_MAX;
        if (values[k] && s_int (self, levels[k], values[k], 0, max, &step->level[k]))
            return -1;
        step->has_level[k] = values[k] != NULL;
        any = any || values[k];
    }
    if (!any)
        return FAIL (self, "expect stock needs at least one of available, reserved, sold, price");
    return 0;
}

static int
s_expect_wallet (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 4, 6, "expect wallet CUSTOMER CENTS [within SEC]") ||
           s_id (self, "customer", self->words[2], step->customer, sizeof step->customer) ||
           s_int (self, "balance", self->words[3], 0, INT64_MAX, &step->amount) ||
           s_options (self, step, 4, s_none, 0, NULL);
}

static int
s_expect_notifications (s_line_t *self, cli_step_t *step)
{
    static const char *const keywords[] = {"count", "kind", "channel", NULL};
    const char *values[3];
    if (s_usage (self, 5, 11,
                 "expect notifications NAME count N [kind KIND] [channel email|sms] "
                 "[within SEC]") ||
        s_order (self, 2, &step->order) || s_options (self, step, 3, keywords, 1, values) ||
        s_int (self, "count", values[0], 0, COUNT_MAX, &step->amount) ||
        (values[1] &&
         cli_check_name ("kind", values[1], OMS_NAME_MAX, self->error, sizeof self->error)) ||
        (values[2] && s_channel (self, step, values[2])))
        return -1;
    snprintf (step->kind_filter, sizeof step->kind_filter, "%s", values[1] ? values[1] : "");
    return 0;
}

static int
s_expect_conserved (s_line_t *self, cli_step_t *step)
{
    cli_scenario_t *scenario = self->scenario;
    if (s_usage (self, 3, 6, "expect conserved SKU [TOTAL] [within SEC]") ||
        s_id (self, "SKU", self->words[2], step->sku, sizeof step->sku))
        return -1;
    step->has_amount = self->n > 3 && !s_is (self, 3, "within");
    if ((step->has_amount &&
         s_int (self, "total", self->words[3], 0, CLI_STOCK_QTY_MAX, &step->amount)) ||
        s_options (self, step, 3 + step->has_amount, s_none, 0, NULL))
        return -1;
    if (step->has_amount)
        return 0;
    for (size_t i = 0; i < scenario->n_steps; i++)
        if (scenario->steps[i].kind == CLI_STEP_STOCK &&
            strcmp (scenario->steps[i].sku, step->sku) == 0)
            return 0;
    return FAIL (self, "no stock step sets %s before this line: give its TOTAL", step->sku);
}

static int
s_expect_settled (s_line_t *self, cli_step_t *step)
{
    return s_usage (self, 2, 4, "expect settled [within SEC]") ||
           s_options (self, step, 2, s_none, 0, NULL);
}

//  Every step: its words, its kind and parser; an assertion also names its
//  probe (cli_scenario_run.c), whether its orders must have been placed,
//  and its deadline when "within SEC" is not given.
typedef struct {
    const char *word;
    const char *then; //  the second word, or NULL
    cli_step_kind_t kind;
    int (*parse) (s_line_t *self, cli_step_t *step);
    cli_probe_t *probe; //  NULL for an action
    bool needs_order;
    double within;
} s_form_t;

static const s_form_t s_forms[] = {
    {"config", NULL, CLI_STEP_CONFIG, s_parse_config, NULL, false, 0},
    {"stock", NULL, CLI_STEP_STOCK, s_parse_stock, NULL, false, 0},
    {"wallet", NULL, CLI_STEP_WALLET, s_parse_wallet, NULL, false, 0},
    {"channel", NULL, CLI_STEP_CHANNEL, s_parse_channel, NULL, false, 0},
    {"place", NULL, CLI_STEP_PLACE, s_parse_place, NULL, false, 0},
    {"expect-reject", NULL, CLI_STEP_REJECT, s_parse_reject, NULL, false, 0},
    {"cancel", NULL, CLI_STEP_CANCEL, s_parse_cancel, NULL, false, 0},
    {"stop", NULL, CLI_STEP_PROCESS, s_parse_process, NULL, false, 0},
    {"kill", NULL, CLI_STEP_PROCESS, s_parse_process, NULL, false, 0},
    {"start", NULL, CLI_STEP_PROCESS, s_parse_process, NULL, false, 0},
    {"restart", NULL, CLI_STEP_PROCESS, s_parse_process, NULL, false, 0},
    {"sleep", NULL, CLI_STEP_SLEEP, s_parse_sleep, NULL, false, 0},
    {"wait", NULL, CLI_STEP_WAIT, s_parse_wait, cli_probe_wait, true, WAIT_S},
    {"expect", "order", CLI_STEP_EXPECT_ORDER, s_expect_order, cli_probe_order, true, WITHIN_S},
    {"expect", "stock", CLI_STEP_EXPECT_STOCK, s_expect_stock, cli_probe_stock, false, WITHIN_S},
    {"expect", "wallet", CLI_STEP_EXPECT_WALLET, s_expect_wallet, cli_probe_wallet, false,
     WITHIN_S},
    {"expect", "notifications", CLI_STEP_EXPECT_NOTIFICATIONS, s_expect_notifications,
     cli_probe_notifications, true, WITHIN_S},
    {"expect", "conserved", CLI_STEP_EXPECT_CONSERVED, s_expect_conserved, cli_probe_conserved,
     false, WITHIN_S},
    {"expect", "settled", CLI_STEP_EXPECT_SETTLED, s_expect_settled, cli_probe_settled, false,
     WITHIN_S},
};
#define FORMS (sizeof s_forms / sizeof s_forms[0])

cli_probe_t *
cli_scenario_probe (cli_step_kind_t kind, bool *needs_order)
{
    for (const s_form_t *form = s_forms; form < s_forms + FORMS; form++)
        if (form->kind == kind && form->probe) {
            *needs_order = form->needs_order;
            return form->probe;
        }
    return NULL;
}

// ---------------------------------------------------------------------------
//  Lines

//  Checks the bytes of a line and writes it to `out` with $RUN replaced.
static int
s_expand (s_line_t *self, const char *raw, size_t len, const char *run_id, char *out)
{
    size_t token = strlen (CLI_SCENARIO_RUN_TOKEN);
    size_t at = 0;
    if (len > CLI_SCENARIO_LINE_MAX)
        return FAIL (self, "line longer than %d bytes", CLI_SCENARIO_LINE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) raw[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return FAIL (self, "control byte 0x%02x at column %zu", c, i + 1);
    }
    for (size_t i = 0; i < len;) {
        bool run =
            run_id && len - i >= token && memcmp (raw + i, CLI_SCENARIO_RUN_TOKEN, token) == 0;
        size_t piece = run ? strlen (run_id) : 1;
        if (at + piece > CLI_SCENARIO_LINE_MAX)
            return FAIL (self, "line longer than %d bytes once $RUN is replaced",
                         CLI_SCENARIO_LINE_MAX);
        memcpy (out + at, run ? run_id : raw + i, piece);
        at += piece;
        i += run ? token : 1;
    }
    out[at] = '\0';
    return 0;
}

//  Parses line `number` into a step appended to the scenario (none when the
//  line is blank): 0, or non-zero with the line's error.
static int
s_parse_line (s_line_t *self, size_t number, const char *raw, size_t len, const char *run_id)
{
    cli_scenario_t *scenario = self->scenario;
    const s_form_t *form = s_forms;
    char text[CLI_SCENARIO_LINE_MAX + 1], shown[64];
    size_t from = 0, to = 0;
    if (s_expand (self, raw, len, run_id, text) || s_split (self, text, &from, &to))
        return -1;
    if (self->n == 0)
        return 0;
    if (scenario->n_steps == CLI_SCENARIO_STEPS_MAX)
        return FAIL (self, "more than %d steps", CLI_SCENARIO_STEPS_MAX);
    while (form < s_forms + FORMS &&
           !(s_is (self, 0, form->word) && (!form->then || s_is (self, 1, form->then))))
        form++;
    if (form == s_forms + FORMS && s_is (self, 0, "expect"))
        return FAIL (self, "expect must be followed by order, stock, wallet, notifications, "
                           "conserved or settled");
    if (form == s_forms + FORMS)
        return FAIL (self, "unknown step %s (see docs/SCENARIOS.md)",
                     cli_printable (self->words[0], shown, sizeof shown));
    cli_step_t *step = &scenario->steps[scenario->n_steps];
    memset (step, 0, sizeof *step);
    step->kind = form->kind;
    step->line = number;
    step->order = step->other = -1;
    memcpy (step->source, text + from, to - from);
    self->within = form->within;
    if (form->parse (self, step))
        return -1;
    scenario->n_steps++;
    return 0;
}

cli_scenario_t *
cli_scenario_new (const char *text, size_t size, const char *run_id)
{
    if (size > CLI_SCENARIO_FILE_MAX)
        return NULL;
    //  A step takes a line: counting them sizes the steps once.
    size_t lines = 1;
    for (const char *p = text; size && (p = memchr (p, '\n', size - (size_t) (p - text))); p++)
        lines++;
    cli_scenario_t *self = (cli_scenario_t *) calloc (1, sizeof (cli_scenario_t));
    if (self)
        self->steps = (cli_step_t *) malloc (
            (lines < CLI_SCENARIO_STEPS_MAX ? lines : CLI_SCENARIO_STEPS_MAX) *
            sizeof (cli_step_t));
    if (!self || !self->steps) {
        cli_scenario_destroy (&self);
        return NULL;
    }
    for (size_t at = 0, number = 1; at < size; number++) {
        const char *end = (const char *) memchr (text + at, '\n', size - at);
        size_t len = end ? (size_t) (end - (text + at)) : size - at;
        s_line_t line = {.scenario = self};
        //  A file written on Windows is still readable.
        if (s_parse_line (&line, number, text + at, len - (len > 0 && text[at + len - 1] == '\r'),
                          run_id)) {
            if (self->n_errors < CLI_SCENARIO_ERRORS_MAX) {
                self->errors[self->n_errors].line = number;
                snprintf (self->errors[self->n_errors].message, sizeof self->errors[0].message,
                          "%s", line.error);
            }
            self->n_errors++;
        }
        at += len + 1;
    }
    return self;
}

cli_scenario_t *
cli_scenario_load (const char *path, const char *run_id, char *error, size_t size)
{
    cli_scenario_t *self = NULL;
    char *text = NULL;
    struct stat info;
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (error, size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    if (fstat (fileno (file), &info) != 0 || !S_ISREG (info.st_mode))
        snprintf (error, size, "%s is not a regular file", path);
    else if (!(text = (char *) malloc (CLI_SCENARIO_FILE_MAX + 1)))
        snprintf (error, size, "out of memory reading %s", path);
    else {
        //  Read one byte past the limit: the size given by stat may be stale.
        size_t length = fread (text, 1, CLI_SCENARIO_FILE_MAX + 1, file);
        if (ferror (file))
            snprintf (error, size, "cannot read %s: %s", path, strerror (errno));
        else if (length > CLI_SCENARIO_FILE_MAX)
            snprintf (error, size, "%s is larger than %d bytes", path, CLI_SCENARIO_FILE_MAX);
        else if (!(self = cli_scenario_new (text, length, run_id)))
            snprintf (error, size, "out of memory parsing %s", path);
    }
    free (text);
    fclose (file);
    return self;
}

void
cli_scenario_destroy (cli_scenario_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->steps);
    free (*self_p);
    *self_p = NULL;
}

size_t
cli_scenario_steps (cli_scenario_t *self)
{
    return self->n_steps;
}

const cli_step_t *
cli_scenario_step (cli_scenario_t *self, size_t index)
{
    assert (index < self->n_steps);
    return &self->steps[index];
}

const char *
cli_scenario_order_name (cli_scenario_t *self, int index)
{
    assert (index >= 0 && (size_t) index < self->n_names);
    return self->names[index];
}

size_t
cli_scenario_errors (cli_scenario_t *self)
{
    return self->n_errors;
}

const char *
cli_scenario_error (cli_scenario_t *self, size_t index, size_t *line)
{
    assert (index < self->n_errors && index < CLI_SCENARIO_ERRORS_MAX);
    *line = self->errors[index].line;
    return self->errors[index].message;
}
