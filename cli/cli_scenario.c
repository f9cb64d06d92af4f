/*  cli_scenario: scripted scenarios, parsed whole, then run step by step.

    Parsing. A line is checked for length and control bytes, "$RUN" is
    replaced, and it is cut into words: blanks separate them, a word in
    double quotes may hold blanks (with \" and \\ as its only escapes), and
    a bare '#' starts a comment. The first word names the step; each step's
    parser checks its words with the same cli_args checks as the commands
    (so a step that parses is never refused for its form), and order names
    must be introduced by `place` on an earlier line. A malformed line is
    recorded with its number and parsing goes on, so one pass reports them
    all.

    Running. Actions (stock, wallet, place, cancel...) are one request each
    to the service that owns them, through one cli_client per service kept
    for the whole run. Assertions are probes polled until they hold or their
    deadline passes; a probe that sees a state that cannot change into the
    expected one (a CANCELLED order expected CONFIRMED, an unknown order)
    fails at once. A service that does not answer is "not yet": it may be
    restarting. Process control runs scripts/oms-ctl with the scenario's
    configuration and home, so a scenario drives the same cluster the
    scripts do.
*/
#include "cli_scenario.h"
#include "cli_args.h"
#include "cli_client.h"
#include "cli_json.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <czmq.h>

extern char **environ;

#define WORDS_MAX        32
#define WITHIN_DEFAULT_S 10.0
#define WAIT_DEFAULT_S   30.0
#define SECONDS_MAX      3600.0
#define COUNT_MAX        1000
#define STOCK_QTY_MAX    (INT64_C (1) << 53) //  the protocol's bound on stock levels
#define PLACE_ATTEMPTS   3                   //  as `oms place`: same request id each time
#define KNOWN_SKU_MS     5000                //  order learns a new SKU from inventory's events
#define POLL_INTERVAL_MS 100
#define POLL_CALL_MIN_MS 250
#define CTL_TIMEOUT_MS   120000 //  oms-ctl bounds its own waits well below this
#define CTL_OUTPUT_MAX   4096
#define DETAIL_MAX       512
#define REFUSED          1 //  s_call: the service answered "ok": false

typedef struct {
    size_t line;
    char message[256];
} s_error_t;

struct _cli_scenario_t {
    cli_step_t *steps;
    size_t n_steps;
    size_t cap_steps;
    char names[CLI_SCENARIO_ORDERS_MAX][CLI_SCENARIO_NAME_MAX + 1];
    size_t name_lines[CLI_SCENARIO_ORDERS_MAX];
    size_t n_names;
    s_error_t errors[CLI_SCENARIO_ERRORS_MAX];
    size_t n_errors;
};

// ---------------------------------------------------------------------------
//  Words

typedef struct {
    const char *text; //  unquoted, NUL terminated, in buf
    bool quoted;
} s_word_t;

typedef struct {
    s_word_t words[WORDS_MAX];
    size_t n;
    char buf[CLI_SCENARIO_LINE_MAX + WORDS_MAX + 1];
    size_t source_from; //  the span of the words in the line, for the report
    size_t source_to;
} s_words_t;

//  Cuts `line` (NUL terminated, no control bytes) into words.
static int
s_split (const char *line, s_words_t *words, char *error, size_t size)
{
    size_t at = 0;
    char *out = words->buf;
    words->n = 0;
    for (;;) {
        while (line[at] == ' ' || line[at] == '\t')
            at++;
        if (line[at] == '\0' || line[at] == '#')
            return 0;
        if (words->n == WORDS_MAX) {
            snprintf (error, size, "more than %d words", WORDS_MAX);
            return -1;
        }
        if (words->n == 0)
            words->source_from = at;
        s_word_t *word = &words->words[words->n++];
        word->text = out;
        word->quoted = line[at] == '"';
        if (word->quoted) {
            size_t opened = at++;
            while (line[at] != '"') {
                if (line[at] == '\0') {
                    snprintf (error, size, "unterminated quote at column %zu", opened + 1);
                    return -1;
                }
                if (line[at] == '\\') {
                    at++;
                    if (line[at] != '"' && line[at] != '\\') {
                        snprintf (error, size,
                                  "unknown escape at column %zu (only \\\" and \\\\ are allowed)",
                                  at);
                        return -1;
                    }
                }
                *out++ = line[at++];
            }
            at++;
            if (line[at] != '\0' && line[at] != ' ' && line[at] != '\t') {
                snprintf (error, size, "a blank must follow the closing quote at column %zu", at);
                return -1;
            }
        }
        else
            while (line[at] != '\0' && line[at] != ' ' && line[at] != '\t') {
                if (line[at] == '"') {
                    snprintf (error, size, "unexpected quote at column %zu", at + 1);
                    return -1;
                }
                *out++ = line[at++];
            }
        *out++ = '\0';
        words->source_to = at;
    }
}

//  Whether word `index` exists, is bare and is `keyword`.
static bool
s_is (const s_words_t *words, size_t index, const char *keyword)
{
    return index < words->n && !words->words[index].quoted &&
           strcmp (words->words[index].text, keyword) == 0;
}

static const char *
s_word (const s_words_t *words, size_t index)
{
    return words->words[index].text;
}

//  Reads "KEYWORD VALUE" pairs from words[from..to): each keyword one of
//  `keywords` (NULL terminated) and given at most once; values[i] is the
//  value of keywords[i], or NULL.
static int
s_options (const s_words_t *words, size_t from, size_t to, const char *const *keywords,
           const char **values, char *error, size_t size)
{
    size_t n_keywords = 0;
    while (keywords[n_keywords])
        values[n_keywords++] = NULL;
    for (size_t at = from; at < to; at += 2) {
        char shown[64];
        size_t k = 0;
        while (k < n_keywords && !s_is (words, at, keywords[k]))
            k++;
        if (k == n_keywords) {
            int used = snprintf (error, size, "unexpected word %s%s%s (expected one of",
                                 words->words[at].quoted ? "\"" : "",
                                 cli_printable (s_word (words, at), shown, sizeof shown),
                                 words->words[at].quoted ? "\"" : "");
            for (k = 0; k < n_keywords && used > 0 && (size_t) used < size; k++)
                used += snprintf (error + used, size - (size_t) used, "%s %s", k ? "," : "",
                                  keywords[k]);
            if (used > 0 && (size_t) used < size)
                snprintf (error + used, size - (size_t) used, ")");
            return -1;
        }
        if (values[k]) {
            snprintf (error, size, "%s given twice", keywords[k]);
            return -1;
        }
        if (at + 1 >= to) {
            snprintf (error, size, "%s needs a value", keywords[k]);
            return -1;
        }
        values[k] = s_word (words, at + 1);
    }
    return 0;
}

static int
s_check_seconds (const char *what, const char *text, double fallback, double *seconds, char *error,
                 size_t size)
{
    *seconds = fallback;
    return text ? cli_parse_seconds (what, text, SECONDS_MAX, seconds, error, size) : 0;
}

static bool
s_one_of (const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return true;
    return false;
}

// ---------------------------------------------------------------------------
//  Order names

static bool
s_is_name_char (int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static int
s_find_name (cli_scenario_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_names; i++)
        if (strcmp (self->names[i], name) == 0)
            return (int) i;
    return -1;
}

//  A name `place` introduces: well formed, not used before.
static int
s_check_new_name (cli_scenario_t *self, const char *name, char *error, size_t size)
{
    char shown[64];
    size_t len = strlen (name);
    bool good = len >= 1 && len <= CLI_SCENARIO_NAME_MAX;
    for (size_t i = 0; good && i < len; i++)
        good = s_is_name_char ((unsigned char) name[i]);
    if (!good) {
        snprintf (error, size, "order name must be 1 to %d characters from [A-Za-z0-9_.-]: %s",
                  CLI_SCENARIO_NAME_MAX, cli_printable (name, shown, sizeof shown));
        return -1;
    }
    int known = s_find_name (self, name);
    if (known >= 0) {
        snprintf (error, size, "order name %s is already used on line %zu", name,
                  self->name_lines[known]);
        return -1;
    }
    if (self->n_names == CLI_SCENARIO_ORDERS_MAX) {
        snprintf (error, size, "more than %d named orders", CLI_SCENARIO_ORDERS_MAX);
        return -1;
    }
    return 0;
}

static int
s_add_name (cli_scenario_t *self, const char *name, size_t line)
{
    snprintf (self->names[self->n_names], sizeof self->names[0], "%s", name);
    self->name_lines[self->n_names] = line;
    return (int) self->n_names++;
}

//  A name a later step refers to: placed on an earlier line.
static int
s_lookup_name (cli_scenario_t *self, const char *name, int *index, char *error, size_t size)
{
    char shown[64];
    *index = s_find_name (self, name);
    if (*index >= 0)
        return 0;
    snprintf (error, size, "no order named %s is placed before this line",
              cli_printable (name, shown, sizeof shown));
    return -1;
}

// ---------------------------------------------------------------------------
//  Step parsers: each gets the words of its line and fills `step`.

typedef int (*s_parse_fn) (cli_scenario_t *self, const s_words_t *words, cli_step_t *step,
                           char *error, size_t size);

static int
s_usage (const s_words_t *words, size_t min, size_t max, const char *usage, char *error,
         size_t size)
{
    if (words->n >= min && words->n <= max)
        return 0;
    snprintf (error, size, "%s; usage: %s", words->n < min ? "missing words" : "too many words",
              usage);
    return -1;
}

static int
s_parse_config (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                size_t size)
{
    char shown[64];
    for (size_t i = 0; i < self->n_steps; i++)
        if (self->steps[i].kind != CLI_STEP_CONFIG) {
            snprintf (error, size, "config lines must come before every other step (line %zu)",
                      self->steps[i].line);
            return -1;
        }
    if (s_usage (words, 2, 2, "config KEY=VALUE", error, size))
        return -1;
    const char *text = s_word (words, 1);
    const char *eq = strchr (text, '=');
    size_t key_len = eq ? (size_t) (eq - text) : 0;
    bool good = key_len > 0 && key_len < sizeof step->key;
    for (size_t i = 0; good && i < key_len; i++)
        good = (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= '0' && text[i] <= '9') ||
               text[i] == '_' || text[i] == '/';
    if (!good) {
        snprintf (error, size, "config needs KEY=VALUE, KEY from [a-z0-9_/]: %s",
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    if (eq[1] == '\0' || strlen (eq + 1) >= sizeof step->value) {
        snprintf (error, size, "config value must be 1 to %zu characters", sizeof step->value - 1);
        return -1;
    }
    memcpy (step->key, text, key_len);
    snprintf (step->value, sizeof step->value, "%s", eq + 1);
    return 0;
}

static int
s_parse_stock (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
               size_t size)
{
    static const char *const keywords[] = {"price", NULL};
    const char *values[1];
    (void) self;
    if (s_usage (words, 3, 5, "stock SKU QTY [price CENTS]", error, size) ||
        cli_check_id ("SKU", s_word (words, 1), OMS_SKU_MAX, error, size) ||
        cli_parse_int ("quantity", s_word (words, 2), 0, STOCK_QTY_MAX, &step->amount, error,
                       size) ||
        s_options (words, 3, words->n, keywords, values, error, size))
        return -1;
    //  A price of 0 would be left out of the request, which means "unchanged".
    if (values[0] &&
        cli_parse_int ("price", values[0], 1, OMS_CENTS_MAX, &step->price, error, size))
        return -1;
    snprintf (step->sku, sizeof step->sku, "%s", s_word (words, 1));
    return 0;
}

static int
s_parse_wallet (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                size_t size)
{
    (void) self;
    if (s_usage (words, 3, 3, "wallet CUSTOMER CENTS", error, size) ||
        cli_check_id ("customer", s_word (words, 1), OMS_ID_MAX, error, size) ||
        cli_parse_int ("amount in cents", s_word (words, 2), 1, OMS_CENTS_MAX, &step->amount, error,
                       size))
        return -1;
    snprintf (step->customer, sizeof step->customer, "%s", s_word (words, 1));
    return 0;
}

static int
s_check_channel (const char *channel, char *error, size_t size)
{
    static const char *const channels[] = {"email", "sms", NULL};
    char shown[64];
    if (s_one_of (channel, channels))
        return 0;
    snprintf (error, size, "channel must be email or sms: %s",
              cli_printable (channel, shown, sizeof shown));
    return -1;
}

static int
s_parse_channel (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                 size_t size)
{
    (void) self;
    if (s_usage (words, 3, 3, "channel CUSTOMER email|sms", error, size) ||
        cli_check_id ("customer", s_word (words, 1), OMS_ID_MAX, error, size) ||
        s_check_channel (s_word (words, 2), error, size))
        return -1;
    snprintf (step->customer, sizeof step->customer, "%s", s_word (words, 1));
    snprintf (step->channel, sizeof step->channel, "%s", s_word (words, 2));
    return 0;
}

//  "SKU:QTY[,SKU:QTY...]", each line checked as `oms place --item` checks it.
static int
s_parse_items (const char *list, cli_step_t *step, char *error, size_t size)
{
    char copy[CLI_SCENARIO_LINE_MAX + 1];
    const char *texts[OMS_ITEMS_MAX + 1];
    size_t n = 0;
    snprintf (copy, sizeof copy, "%s", list);
    char *piece = copy;
    for (;;) {
        char *comma = strchr (piece, ',');
        if (comma)
            *comma = '\0';
        if (*piece == '\0') {
            snprintf (error, size, "items must be SKU:QTY[,SKU:QTY...] without empty entries");
            return -1;
        }
        if (n == OMS_ITEMS_MAX) {
            snprintf (error, size, "too many items (at most %d)", OMS_ITEMS_MAX);
            return -1;
        }
        texts[n++] = piece;
        if (!comma)
            break;
        piece = comma + 1;
    }
    return cli_parse_items (texts, n, step->items, &step->n_items, error, size);
}

//  The words of a placement from `from` to `to`: customer, items, pay,
//  card, request, checked as `oms place` checks its options.
static int
s_parse_placement (const s_words_t *words, size_t from, size_t to, cli_step_t *step, char *error,
                   size_t size)
{
    static const char *const keywords[] = {"customer", "items", "pay", "card", "request", NULL};
    enum { CUSTOMER, ITEMS, PAY, CARD, REQUEST };
    const char *values[5];
    if (s_options (words, from, to, keywords, values, error, size))
        return -1;
    for (size_t k = CUSTOMER; k <= PAY; k++)
        if (!values[k]) {
            snprintf (error, size, "%s is required", keywords[k]);
            return -1;
        }
    if (cli_check_id ("customer", values[CUSTOMER], OMS_ID_MAX, error, size) ||
        s_parse_items (values[ITEMS], step, error, size) ||
        cli_check_method (values[PAY], error, size))
        return -1;
    bool card_method = strcmp (values[PAY], "card") == 0;
    if (card_method && !values[CARD]) {
        snprintf (error, size, "pay card needs card NUMBER");
        return -1;
    }
    if (!card_method && values[CARD]) {
        snprintf (error, size, "card is only for pay card");
        return -1;
    }
    if ((values[CARD] && cli_check_card (values[CARD], error, size)) ||
        (values[REQUEST] && cli_check_id ("request id", values[REQUEST], OMS_ID_MAX, error, size)))
        return -1;
    snprintf (step->customer, sizeof step->customer, "%s", values[CUSTOMER]);
    snprintf (step->method, sizeof step->method, "%s", values[PAY]);
    snprintf (step->card, sizeof step->card, "%s", values[CARD] ? values[CARD] : "");
    snprintf (step->request_id, sizeof step->request_id, "%s",
              values[REQUEST] ? values[REQUEST] : "");
    return 0;
}

static int
s_parse_place (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
               size_t size)
{
    if (s_usage (words, 2, WORDS_MAX,
                 "place NAME customer ID items SKU:QTY[,SKU:QTY...] pay METHOD [card NUMBER] "
                 "[request ID]",
                 error, size) ||
        s_check_new_name (self, s_word (words, 1), error, size) ||
        s_parse_placement (words, 2, words->n, step, error, size))
        return -1;
    step->order = s_add_name (self, s_word (words, 1), step->line);
    return 0;
}

//  expect-reject place customer ... ["TEXT"]: no name, as nothing is placed.
static int
s_parse_reject (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                size_t size)
{
    size_t to = words->n;
    (void) self;
    if (s_usage (words, 2, WORDS_MAX,
                 "expect-reject place customer ID items SKU:QTY[,...] pay METHOD [card NUMBER] "
                 "[request ID] [\"TEXT\"]",
                 error, size))
        return -1;
    if (!s_is (words, 1, "place")) {
        snprintf (error, size, "expect-reject must be followed by place");
        return -1;
    }
    if (words->words[to - 1].quoted) {
        to--;
        snprintf (step->text, sizeof step->text, "%s", s_word (words, to));
    }
    return s_parse_placement (words, 2, to, step, error, size);
}

static int
s_parse_cancel (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                size_t size)
{
    if (s_usage (words, 2, 2, "cancel NAME", error, size))
        return -1;
    return s_lookup_name (self, s_word (words, 1), &step->order, error, size);
}

static int
s_parse_wait (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
              size_t size)
{
    static const char *const keywords[] = {"within", NULL};
    const char *values[1];
    if (s_usage (words, 2, 4, "wait NAME [within SEC]", error, size) ||
        s_lookup_name (self, s_word (words, 1), &step->order, error, size) ||
        s_options (words, 2, words->n, keywords, values, error, size))
        return -1;
    return s_check_seconds ("within", values[0], WAIT_DEFAULT_S, &step->seconds, error, size);
}

static int
s_parse_process (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                 size_t size)
{
    static const char *const processes[] = {"broker",  "order",        "inventory",
                                            "payment", "notification", NULL};
    char shown[64];
    (void) self;
    if (s_usage (words, 2, 2, "stop|kill|start|restart PROCESS", error, size))
        return -1;
    if (!s_one_of (s_word (words, 1), processes)) {
        snprintf (error, size,
                  "process must be one of broker, order, inventory, payment, notification: %s",
                  cli_printable (s_word (words, 1), shown, sizeof shown));
        return -1;
    }
    snprintf (step->action, sizeof step->action, "%s", s_word (words, 0));
    snprintf (step->process, sizeof step->process, "%s", s_word (words, 1));
    return 0;
}

static int
s_parse_sleep (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
               size_t size)
{
    (void) self;
    if (s_usage (words, 2, 2, "sleep SEC", error, size))
        return -1;
    return cli_parse_seconds ("sleep", s_word (words, 1), SECONDS_MAX, &step->seconds, error, size);
}

// ---------------------------------------------------------------------------
//  expect ...: the assertions. words[1] names what is checked.

static int
s_parse_expect_order (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                      size_t size)
{
    static const char *const keywords[] = {"status", "reason", "within", NULL};
    static const char *const statuses[] = {"PENDING", "RESERVED", "CONFIRMED", "CANCELLED", NULL};
    const char *values[3];
    char shown[64];
    if (s_usage (words, 5, 9,
                 "expect order NAME status STATUS [reason \"TEXT\"] [within SEC] | "
                 "expect order NAME same-as NAME",
                 error, size) ||
        s_lookup_name (self, s_word (words, 2), &step->order, error, size))
        return -1;
    if (s_is (words, 3, "same-as")) {
        if (s_usage (words, 5, 5, "expect order NAME same-as NAME", error, size) ||
            s_lookup_name (self, s_word (words, 4), &step->other, error, size))
            return -1;
        step->kind = CLI_STEP_EXPECT_SAME;
        return 0;
    }
    if (s_options (words, 3, words->n, keywords, values, error, size) ||
        s_check_seconds ("within", values[2], WITHIN_DEFAULT_S, &step->seconds, error, size))
        return -1;
    if (!values[0]) {
        snprintf (error, size, "status is required");
        return -1;
    }
    if (!s_one_of (values[0], statuses)) {
        snprintf (error, size, "status must be PENDING, RESERVED, CONFIRMED or CANCELLED: %s",
                  cli_printable (values[0], shown, sizeof shown));
        return -1;
    }
    if (values[1] && (values[1][0] == '\0' || strlen (values[1]) > CLI_SCENARIO_TEXT_MAX)) {
        snprintf (error, size, "reason must be 1 to %d characters", CLI_SCENARIO_TEXT_MAX);
        return -1;
    }
    snprintf (step->status, sizeof step->status, "%s", values[0]);
    snprintf (step->text, sizeof step->text, "%s", values[1] ? values[1] : "");
    return 0;
}

static int
s_parse_expect_stock (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                      size_t size)
{
    static const char *const keywords[] = {"available", "reserved", "sold",
                                           "price",     "within",   NULL};
    const char *values[5];
    (void) self;
    if (s_usage (words, 5, 13,
                 "expect stock SKU [available N] [reserved N] [sold N] [price CENTS] "
                 "[within SEC]",
                 error, size) ||
        cli_check_id ("SKU", s_word (words, 2), OMS_SKU_MAX, error, size) ||
        s_options (words, 3, words->n, keywords, values, error, size) ||
        s_check_seconds ("within", values[4], WITHIN_DEFAULT_S, &step->seconds, error, size))
        return -1;
    bool any = false;
    for (size_t k = 0; k < CLI_LEVELS; k++) {
        int64_t max = k == CLI_LEVEL_PRICE ? OMS_CENTS_MAX : STOCK_QTY_MAX;
        if (!values[k])
            continue;
        if (cli_parse_int (keywords[k], values[k], 0, max, &step->level[k], error, size))
            return -1;
        step->has_level[k] = any = true;
    }
    if (!any) {
        snprintf (error, size,
                  "expect stock needs at least one of available, reserved, sold, "
                  "price");
        return -1;
    }
    snprintf (step->sku, sizeof step->sku, "%s", s_word (words, 2));
    return 0;
}

static int
s_parse_expect_wallet (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                       size_t size)
{
    static const char *const keywords[] = {"within", NULL};
    const char *values[1];
    (void) self;
    if (s_usage (words, 4, 6, "expect wallet CUSTOMER CENTS [within SEC]", error, size) ||
        cli_check_id ("customer", s_word (words, 2), OMS_ID_MAX, error, size) ||
        cli_parse_int ("balance", s_word (words, 3), 0, INT64_MAX, &step->amount, error, size) ||
        s_options (words, 4, words->n, keywords, values, error, size) ||
        s_check_seconds ("within", values[0], WITHIN_DEFAULT_S, &step->seconds, error, size))
        return -1;
    snprintf (step->customer, sizeof step->customer, "%s", s_word (words, 2));
    return 0;
}

static int
s_parse_expect_notifications (cli_scenario_t *self, const s_words_t *words, cli_step_t *step,
                              char *error, size_t size)
{
    static const char *const keywords[] = {"count", "kind", "channel", "within", NULL};
    const char *values[4];
    if (s_usage (words, 5, 11,
                 "expect notifications NAME count N [kind KIND] [channel email|sms] "
                 "[within SEC]",
                 error, size) ||
        s_lookup_name (self, s_word (words, 2), &step->order, error, size) ||
        s_options (words, 3, words->n, keywords, values, error, size) ||
        s_check_seconds ("within", values[3], WITHIN_DEFAULT_S, &step->seconds, error, size))
        return -1;
    if (!values[0]) {
        snprintf (error, size, "count is required");
        return -1;
    }
    if (cli_parse_int ("count", values[0], 0, COUNT_MAX, &step->amount, error, size) ||
        (values[1] && cli_check_name ("kind", values[1], OMS_NAME_MAX, error, size)) ||
        (values[2] && s_check_channel (values[2], error, size)))
        return -1;
    snprintf (step->kind_filter, sizeof step->kind_filter, "%s", values[1] ? values[1] : "");
    snprintf (step->channel, sizeof step->channel, "%s", values[2] ? values[2] : "");
    return 0;
}

static int
s_parse_expect_conserved (cli_scenario_t *self, const s_words_t *words, cli_step_t *step,
                          char *error, size_t size)
{
    static const char *const keywords[] = {"within", NULL};
    const char *values[1];
    size_t options = 3;
    if (s_usage (words, 3, 6, "expect conserved SKU [TOTAL] [within SEC]", error, size) ||
        cli_check_id ("SKU", s_word (words, 2), OMS_SKU_MAX, error, size))
        return -1;
    snprintf (step->sku, sizeof step->sku, "%s", s_word (words, 2));
    if (words->n > 3 && !s_is (words, 3, "within")) {
        if (cli_parse_int ("total", s_word (words, 3), 0, STOCK_QTY_MAX, &step->amount, error,
                           size))
            return -1;
        step->has_amount = true;
        options = 4;
    }
    if (s_options (words, options, words->n, keywords, values, error, size) ||
        s_check_seconds ("within", values[0], WITHIN_DEFAULT_S, &step->seconds, error, size))
        return -1;
    if (step->has_amount)
        return 0;
    for (size_t i = 0; i < self->n_steps; i++)
        if (self->steps[i].kind == CLI_STEP_STOCK && strcmp (self->steps[i].sku, step->sku) == 0)
            return 0;
    snprintf (error, size, "no stock step sets %s before this line: give its TOTAL", step->sku);
    return -1;
}

static int
s_parse_expect_settled (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                        size_t size)
{
    static const char *const keywords[] = {"within", NULL};
    const char *values[1];
    (void) self;
    if (s_usage (words, 2, 4, "expect settled [within SEC]", error, size) ||
        s_options (words, 2, words->n, keywords, values, error, size))
        return -1;
    return s_check_seconds ("within", values[0], WITHIN_DEFAULT_S, &step->seconds, error, size);
}

typedef struct {
    const char *word;
    cli_step_kind_t kind;
    s_parse_fn parse;
} s_parser_t;

static const s_parser_t s_expect_parsers[] = {
    {"order", CLI_STEP_EXPECT_ORDER, s_parse_expect_order},
    {"stock", CLI_STEP_EXPECT_STOCK, s_parse_expect_stock},
    {"wallet", CLI_STEP_EXPECT_WALLET, s_parse_expect_wallet},
    {"notifications", CLI_STEP_EXPECT_NOTIFICATIONS, s_parse_expect_notifications},
    {"conserved", CLI_STEP_EXPECT_CONSERVED, s_parse_expect_conserved},
    {"settled", CLI_STEP_EXPECT_SETTLED, s_parse_expect_settled},
    {NULL, 0, NULL}};

static int
s_parse_expect (cli_scenario_t *self, const s_words_t *words, cli_step_t *step, char *error,
                size_t size)
{
    for (const s_parser_t *parser = s_expect_parsers; parser->word; parser++)
        if (s_is (words, 1, parser->word)) {
            step->kind = parser->kind;
            return parser->parse (self, words, step, error, size);
        }
    snprintf (error, size,
              "expect must be followed by order, stock, wallet, notifications, "
              "conserved or settled");
    return -1;
}

static const s_parser_t s_parsers[] = {{"config", CLI_STEP_CONFIG, s_parse_config},
                                       {"stock", CLI_STEP_STOCK, s_parse_stock},
                                       {"wallet", CLI_STEP_WALLET, s_parse_wallet},
                                       {"channel", CLI_STEP_CHANNEL, s_parse_channel},
                                       {"place", CLI_STEP_PLACE, s_parse_place},
                                       {"expect-reject", CLI_STEP_REJECT, s_parse_reject},
                                       {"cancel", CLI_STEP_CANCEL, s_parse_cancel},
                                       {"wait", CLI_STEP_WAIT, s_parse_wait},
                                       {"stop", CLI_STEP_PROCESS, s_parse_process},
                                       {"kill", CLI_STEP_PROCESS, s_parse_process},
                                       {"start", CLI_STEP_PROCESS, s_parse_process},
                                       {"restart", CLI_STEP_PROCESS, s_parse_process},
                                       {"sleep", CLI_STEP_SLEEP, s_parse_sleep},
                                       {"expect", CLI_STEP_EXPECT_ORDER, s_parse_expect},
                                       {NULL, 0, NULL}};

// ---------------------------------------------------------------------------
//  Lines

static void
s_add_error (cli_scenario_t *self, size_t line, const char *message)
{
    if (self->n_errors < CLI_SCENARIO_ERRORS_MAX) {
        s_error_t *entry = &self->errors[self->n_errors];
        entry->line = line;
        snprintf (entry->message, sizeof entry->message, "%s", message);
    }
    self->n_errors++;
}

//  Checks the bytes of a line and replaces $RUN into `out`.
static int
s_expand (const char *raw, size_t len, const char *run_id, char *out, char *error, size_t size)
{
    size_t token_len = strlen (CLI_SCENARIO_RUN_TOKEN);
    size_t at = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) raw[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf (error, size, "control byte 0x%02x at column %zu", c, i + 1);
            return -1;
        }
    }
    for (size_t i = 0; i < len;) {
        const char *piece = raw + i;
        size_t piece_len = 1;
        if (run_id && len - i >= token_len &&
            memcmp (piece, CLI_SCENARIO_RUN_TOKEN, token_len) == 0) {
            piece = run_id;
            piece_len = strlen (run_id);
            i += token_len;
        }
        else
            i++;
        if (at + piece_len > CLI_SCENARIO_LINE_MAX) {
            snprintf (error, size, "line longer than %d bytes once $RUN is replaced",
                      CLI_SCENARIO_LINE_MAX);
            return -1;
        }
        memcpy (out + at, piece, piece_len);
        at += piece_len;
    }
    out[at] = '\0';
    return 0;
}

static int
s_grow (cli_scenario_t *self)
{
    if (self->n_steps < self->cap_steps)
        return 0;
    size_t cap = self->cap_steps ? self->cap_steps * 2 : 16;
    if (cap > CLI_SCENARIO_STEPS_MAX)
        cap = CLI_SCENARIO_STEPS_MAX;
    cli_step_t *steps = (cli_step_t *) realloc (self->steps, cap * sizeof *steps);
    if (!steps)
        return -1;
    self->steps = steps;
    self->cap_steps = cap;
    return 0;
}

//  Parses one line. -1 only when memory runs out; a malformed line is
//  recorded as an error.
static int
s_parse_line (cli_scenario_t *self, size_t line, const char *raw, size_t len, const char *run_id)
{
    static char expanded[CLI_SCENARIO_LINE_MAX + 1];
    static s_words_t words;
    char error[256];
    if (len > CLI_SCENARIO_LINE_MAX) {
        snprintf (error, sizeof error, "line longer than %d bytes", CLI_SCENARIO_LINE_MAX);
        s_add_error (self, line, error);
        return 0;
    }
    if (s_expand (raw, len, run_id, expanded, error, sizeof error) ||
        s_split (expanded, &words, error, sizeof error)) {
        s_add_error (self, line, error);
        return 0;
    }
    if (words.n == 0)
        return 0;
    if (self->n_steps == CLI_SCENARIO_STEPS_MAX) {
        snprintf (error, sizeof error, "more than %d steps", CLI_SCENARIO_STEPS_MAX);
        s_add_error (self, line, error);
        return 0;
    }
    if (s_grow (self))
        return -1;
    const s_parser_t *parser = s_parsers;
    while (parser->word && !s_is (&words, 0, parser->word))
        parser++;
    if (!parser->word) {
        char shown[64];
        snprintf (error, sizeof error, "unknown step %s (see docs/SCENARIOS.md)",
                  cli_printable (s_word (&words, 0), shown, sizeof shown));
        s_add_error (self, line, error);
        return 0;
    }
    cli_step_t *step = &self->steps[self->n_steps];
    memset (step, 0, sizeof *step);
    step->kind = parser->kind;
    step->line = line;
    step->order = step->other = -1;
    size_t span = words.source_to - words.source_from;
    memcpy (step->source, expanded + words.source_from, span);
    step->source[span] = '\0';
    if (parser->parse (self, &words, step, error, sizeof error) == 0)
        self->n_steps++;
    else
        s_add_error (self, line, error);
    return 0;
}

cli_scenario_t *
cli_scenario_new (const char *text, size_t size, const char *run_id)
{
    if (size > CLI_SCENARIO_FILE_MAX)
        return NULL;
    cli_scenario_t *self = (cli_scenario_t *) calloc (1, sizeof (cli_scenario_t));
    if (!self)
        return NULL;
    size_t line = 0;
    for (size_t at = 0; at < size;) {
        const char *end = (const char *) memchr (text + at, '\n', size - at);
        size_t len = end ? (size_t) (end - (text + at)) : size - at;
        size_t next = at + len + 1;
        line++;
        //  A file written on Windows is still readable.
        if (len > 0 && text[at + len - 1] == '\r')
            len--;
        if (s_parse_line (self, line, text + at, len, run_id)) {
            cli_scenario_destroy (&self);
            return NULL;
        }
        at = next;
    }
    return self;
}

cli_scenario_t *
cli_scenario_load (const char *path, const char *run_id, char *error, size_t size)
{
    cli_scenario_t *self = NULL;
    char *text = NULL;
    size_t length = 0;
    struct stat info;
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (error, size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    if (fstat (fileno (file), &info) != 0 || !S_ISREG (info.st_mode)) {
        snprintf (error, size, "%s is not a regular file", path);
        goto leave;
    }
    //  Read one byte past the limit: the size given by stat may be stale.
    text = (char *) malloc (CLI_SCENARIO_FILE_MAX + 1);
    if (!text) {
        snprintf (error, size, "out of memory reading %s", path);
        goto leave;
    }
    length = fread (text, 1, CLI_SCENARIO_FILE_MAX + 1, file);
    if (ferror (file)) {
        snprintf (error, size, "cannot read %s: %s", path, strerror (errno));
        goto leave;
    }
    if (length > CLI_SCENARIO_FILE_MAX) {
        snprintf (error, size, "%s is larger than %d bytes", path, CLI_SCENARIO_FILE_MAX);
        goto leave;
    }
    self = cli_scenario_new (text, length, run_id);
    if (!self)
        snprintf (error, size, "out of memory parsing %s", path);
leave:
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

// ---------------------------------------------------------------------------
//  Running: the state of one run

typedef struct {
    char sku[OMS_SKU_MAX + 1];
    int64_t total; //  available + reserved + sold after the last stock step
} s_total_t;

typedef struct {
    cli_scenario_t *scenario;
    const cli_scenario_env_t *env;
    cli_client_t *clients[OMS_SERVICES_COUNT];
    char order_ids[CLI_SCENARIO_ORDERS_MAX][OMS_ID_MAX + 1]; //  by name, "" until placed
    char (*placed)[OMS_ID_MAX + 1];                          //  every order placed, named or not
    size_t n_placed;
    s_total_t *totals;
    size_t n_totals;
} s_run_t;

//  What a step did or saw, as text.
typedef struct {
    char text[DETAIL_MAX];
} s_detail_t;

static void s_say (s_detail_t *detail, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_say (s_detail_t *detail, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (detail->text, sizeof detail->text, format, args);
    va_end (args);
}

static cli_client_t *
s_client (s_run_t *self, const char *service, s_detail_t *detail)
{
    size_t index = 0;
    while (strcmp (oms_service_names[index], service) != 0)
        index++;
    if (!self->clients[index])
        self->clients[index] =
            cli_client_new (service, oms_config_service (self->env->config, service, "api"),
                            detail->text, sizeof detail->text);
    return self->clients[index];
}

static void
s_request (oms_request_t *req, const char *cmd)
{
    memset (req, 0, sizeof *req);
    snprintf (req->cmd, sizeof req->cmd, "%s", cmd);
}

//  One request. 0 accepted (*reply_p set, caller owns it), REFUSED with the
//  service's error text in `detail`, OMS_E_TIMEOUT when it did not answer,
//  another negative oms_error_t otherwise; `detail` says why.
static int
s_call (s_run_t *self, const char *service, const oms_request_t *req, int timeout_ms, int attempts,
        cli_reply_t **reply_p, s_detail_t *detail)
{
    cli_client_t *client = s_client (self, service, detail);
    if (!client)
        return OMS_E_INVALID;
    int rc = cli_client_call (client, req, timeout_ms, attempts, reply_p, detail->text,
                              sizeof detail->text);
    if (rc == 0 && !cli_reply_ok (*reply_p)) {
        char why[DETAIL_MAX];
        s_say (detail, "%s service refused: %s", service,
               cli_reply_error (*reply_p, why, sizeof why));
        cli_reply_destroy (reply_p);
        return REFUSED;
    }
    return rc;
}

//  Copies string `key` of a reply into buf. 0 found, 1 absent, -1 not a string.
static int
s_copy_str (const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const char *str = NULL;
    size_t len = 0;
    int rc = cli_map_str (map, key, &str, &len);
    buf[0] = '\0';
    if (rc == 0) {
        if (len >= size)
            len = size - 1;
        memcpy (buf, str, len);
        buf[len] = '\0';
    }
    return rc;
}

static int
s_malformed (s_detail_t *detail, const char *service, const char *field)
{
    s_say (detail, "%s service sent a malformed reply: %s", service, field);
    return -1;
}

static const char *
s_order_id (s_run_t *self, int order)
{
    return self->order_ids[order];
}

//  Fails unless the named order was placed by an earlier step that passed.
static int
s_require_placed (s_run_t *self, int order, s_detail_t *detail)
{
    if (s_order_id (self, order)[0])
        return 0;
    s_say (detail, "order %s was not placed", cli_scenario_order_name (self->scenario, order));
    return -1;
}

static void
s_remember_placed (s_run_t *self, const char *order_id)
{
    for (size_t i = 0; i < self->n_placed; i++)
        if (strcmp (self->placed[i], order_id) == 0)
            return;
    snprintf (self->placed[self->n_placed++], OMS_ID_MAX + 1, "%s", order_id);
}

static s_total_t *
s_find_total (s_run_t *self, const char *sku)
{
    for (size_t i = 0; i < self->n_totals; i++)
        if (strcmp (self->totals[i].sku, sku) == 0)
            return &self->totals[i];
    return NULL;
}

// ---------------------------------------------------------------------------
//  Replies read into plain structs

typedef struct {
    char status[16];
    char reason[OMS_TEXT_MAX + 1];
} s_order_t;

static int
s_get_order (s_run_t *self, const char *order_id, int timeout_ms, s_order_t *order,
             s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    s_request (&req, "get");
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
    return rc;
}

//  "o-3 CANCELLED, reason \"...\"" (the reason as a JSON string).
static void
s_say_order (s_detail_t *detail, const char *order_id, const s_order_t *order)
{
    if (!order->reason[0]) {
        s_say (detail, "%s is %s", order_id, order->status);
        return;
    }
    char reason[OMS_TEXT_MAX + 1];
    size_t at = 0;
    //  Quotes and backslashes would make the line ambiguous.
    for (const char *p = order->reason; *p && at < sizeof reason - 1; p++)
        reason[at++] = (*p == '"' || *p == '\\') ? '\'' : *p;
    reason[at] = '\0';
    s_say (detail, "%s is %s, reason \"%s\"", order_id, order->status, reason);
}

typedef struct {
    int64_t level[CLI_LEVELS];
} s_stock_t;

static int
s_read_stock (const msgpack_object *map, s_stock_t *stock, s_detail_t *detail)
{
    static const char *const keys[CLI_LEVELS] = {"available", "reserved", "sold", "price_cents"};
    for (size_t k = 0; k < CLI_LEVELS; k++) {
        //  The service leaves zeros out.
        stock->level[k] = 0;
        if (cli_map_int (map, keys[k], &stock->level[k]) < 0)
            return s_malformed (detail, "inventory", keys[k]);
    }
    return 0;
}

static void
s_say_stock (s_detail_t *detail, const char *sku, const s_stock_t *stock)
{
    s_say (detail,
           "%s available=%" PRId64 " reserved=%" PRId64 " sold=%" PRId64 " price_cents=%" PRId64,
           sku, stock->level[CLI_LEVEL_AVAILABLE], stock->level[CLI_LEVEL_RESERVED],
           stock->level[CLI_LEVEL_SOLD], stock->level[CLI_LEVEL_PRICE]);
}

static int
s_get_stock (s_run_t *self, const char *sku, int timeout_ms, s_stock_t *stock, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    s_request (&req, "stock.get");
    snprintf (req.sku, sizeof req.sku, "%s", sku);
    int rc = s_call (self, "inventory", &req, timeout_ms, 1, &reply, detail);
    if (rc == 0) {
        rc = s_read_stock (cli_reply_map (reply), stock, detail);
        cli_reply_destroy (&reply);
    }
    return rc;
}

static int
s_get_balance (s_run_t *self, const char *customer, int timeout_ms, int64_t *balance,
               s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    s_request (&req, "wallet.get");
    snprintf (req.customer, sizeof req.customer, "%s", customer);
    int rc = s_call (self, "payment", &req, timeout_ms, 1, &reply, detail);
    if (rc == 0) {
        *balance = 0;
        if (cli_map_int (cli_reply_map (reply), "balance_cents", balance) < 0)
            rc = s_malformed (detail, "payment", "balance_cents");
        cli_reply_destroy (&reply);
    }
    return rc;
}

// ---------------------------------------------------------------------------
//  Actions: 0 pass, -1 fail, with what happened in `detail`.

typedef int (*s_action_fn) (s_run_t *self, const cli_step_t *step, s_detail_t *detail);

static int
s_do_config (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
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
            s_say (detail, "this scenario needs %s=%s but the configuration has %s", step->key,
                   want, have);
            rc = -1;
        }
    }
    oms_config_destroy (&scratch);
    return rc == 0 ? 0 : -1;
}

static int
s_do_stock (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    s_stock_t stock;
    s_request (&req, "stock.set");
    snprintf (req.sku, sizeof req.sku, "%s", step->sku);
    req.qty = step->amount;
    req.price_cents = step->price;
    if (s_call (self, "inventory", &req, self->env->timeout_ms, 1, &reply, detail) != 0)
        return -1;
    int rc = s_read_stock (cli_reply_map (reply), &stock, detail);
    cli_reply_destroy (&reply);
    if (rc != 0)
        return -1;
    s_total_t *total = s_find_total (self, step->sku);
    if (!total) {
        total = &self->totals[self->n_totals++];
        snprintf (total->sku, sizeof total->sku, "%s", step->sku);
    }
    total->total = stock.level[CLI_LEVEL_AVAILABLE] + stock.level[CLI_LEVEL_RESERVED] +
                   stock.level[CLI_LEVEL_SOLD];
    s_say_stock (detail, step->sku, &stock);
    return 0;
}

static int
s_do_wallet (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    int64_t balance = 0;
    s_request (&req, "wallet.credit");
    snprintf (req.customer, sizeof req.customer, "%s", step->customer);
    req.amount_cents = step->amount;
    if (s_call (self, "payment", &req, self->env->timeout_ms, 1, &reply, detail) != 0)
        return -1;
    int rc = cli_map_int (cli_reply_map (reply), "balance_cents", &balance) < 0
                 ? s_malformed (detail, "payment", "balance_cents")
                 : 0;
    cli_reply_destroy (&reply);
    if (rc == 0)
        s_say (detail, "balance_cents=%" PRId64, balance);
    return rc;
}

static int
s_do_channel (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    s_request (&req, "channel.set");
    snprintf (req.customer, sizeof req.customer, "%s", step->customer);
    snprintf (req.channel, sizeof req.channel, "%s", step->channel);
    if (s_call (self, "notification", &req, self->env->timeout_ms, 1, &reply, detail) != 0)
        return -1;
    cli_reply_destroy (&reply);
    return 0;
}

static void
s_place_request (const cli_step_t *step, oms_request_t *req)
{
    s_request (req, "place");
    snprintf (req->customer, sizeof req->customer, "%s", step->customer);
    memcpy (req->items, step->items, step->n_items * sizeof step->items[0]);
    req->n_items = step->n_items;
    snprintf (req->method, sizeof req->method, "%s", step->method);
    snprintf (req->card, sizeof req->card, "%s", step->card);
    if (step->request_id[0])
        snprintf (req->request_id, sizeof req->request_id, "%s", step->request_id);
    else {
        zuuid_t *uuid = zuuid_new ();
        snprintf (req->request_id, sizeof req->request_id, "%s", zuuid_str (uuid));
        zuuid_destroy (&uuid);
    }
}

//  Whether every SKU of the step was set by a stock step of this run, so
//  that "unknown sku" only means order has not learnt it yet.
static bool
s_all_stocked (s_run_t *self, const cli_step_t *step)
{
    for (uint32_t i = 0; i < step->n_items; i++)
        if (!s_find_total (self, step->items[i].sku))
            return false;
    return true;
}

//  Sends a placement; retries "unknown sku" for SKUs this run stocked.
//  Returns as s_call; on acceptance the order id is in `order_id`.
static int
s_send_place (s_run_t *self, const cli_step_t *step, bool retry_unknown, char *order_id,
              bool *created, s_detail_t *detail)
{
    oms_request_t req;
    s_place_request (step, &req);
    int64_t deadline = zclock_mono () + KNOWN_SKU_MS;
    retry_unknown = retry_unknown && s_all_stocked (self, step);
    for (;;) {
        cli_reply_t *reply = NULL;
        int rc =
            s_call (self, "order", &req, self->env->timeout_ms, PLACE_ATTEMPTS, &reply, detail);
        if (rc == REFUSED && retry_unknown && strcasestr (detail->text, "unknown sku") &&
            zclock_mono () < deadline) {
            zclock_sleep (50);
            continue;
        }
        if (rc != 0)
            return rc;
        const msgpack_object *map = cli_reply_map (reply);
        *created = true;
        if (s_copy_str (map, "order_id", order_id, OMS_ID_MAX + 1) != 0 || !order_id[0] ||
            cli_map_bool (map, "created", created) < 0)
            rc = s_malformed (detail, "order", "order_id");
        cli_reply_destroy (&reply);
        if (rc == 0)
            s_remember_placed (self, order_id);
        return rc;
    }
}

static int
s_do_place (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    char order_id[OMS_ID_MAX + 1];
    bool created = true;
    if (s_send_place (self, step, true, order_id, &created, detail) != 0)
        return -1;
    snprintf (self->order_ids[step->order], OMS_ID_MAX + 1, "%s", order_id);
    s_say (detail, "%s%s", order_id, created ? "" : ", placed before with this request id");
    return 0;
}

static int
s_do_reject (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    char order_id[OMS_ID_MAX + 1];
    bool created = true;
    int rc = s_send_place (self, step, false, order_id, &created, detail);
    if (rc == 0) {
        s_say (detail, "placed %s; a refusal was expected", order_id);
        return -1;
    }
    if (rc != REFUSED)
        return -1;
    if (step->text[0] && !strcasestr (detail->text, step->text)) {
        s_detail_t got = *detail;
        s_say (detail, "%s; expected one mentioning \"%s\"", got.text, step->text);
        return -1;
    }
    return 0;
}

static int
s_do_cancel (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    char status[16];
    if (s_require_placed (self, step->order, detail))
        return -1;
    s_request (&req, "cancel");
    snprintf (req.order_id, sizeof req.order_id, "%s", s_order_id (self, step->order));
    if (s_call (self, "order", &req, self->env->timeout_ms, 1, &reply, detail) != 0)
        return -1;
    int rc = s_copy_str (cli_reply_map (reply), "status", status, sizeof status) != 0
                 ? s_malformed (detail, "order", "status")
                 : 0;
    cli_reply_destroy (&reply);
    if (rc == 0)
        s_say (detail, "%s is %s", s_order_id (self, step->order), status);
    return rc;
}

// ---------------------------------------------------------------------------
//  Processes, through scripts/oms-ctl

//  scripts/oms-ctl: $OMS_CTL, else next to the source tree the binary was
//  built in (<bin>/../../scripts/oms-ctl), else on PATH.
static const char *
s_ctl_path (char *buf, size_t size)
{
    const char *env = getenv ("OMS_CTL");
    if (env && env[0])
        return env;
    char exe[PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        snprintf (buf, size, "%s/../../scripts/oms-ctl", dirname (exe));
        if (access (buf, X_OK) == 0)
            return buf;
    }
    return "oms-ctl";
}

//  The environment of oms-ctl: ours, with OMS_CONFIG and OMS_HOME naming
//  this scenario's cluster, and OMS_BIN_DIR the build this binary belongs
//  to (unless set), so that it starts the same programs.
static char **
s_ctl_environment (s_run_t *self)
{
    static char config[PATH_MAX + 16];
    static char home[PATH_MAX + 16];
    static char bin[PATH_MAX + 16];
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = (char **) calloc (n + 4, sizeof (char *));
    if (!envp)
        return NULL;
    const char *config_path = self->env->config_path;
    const char *bin_dir = getenv ("OMS_BIN_DIR");
    bool set_bin = !bin_dir || !bin_dir[0];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if ((config_path && strncmp (environ[i], "OMS_CONFIG=", 11) == 0) ||
            strncmp (environ[i], "OMS_HOME=", 9) == 0 ||
            (set_bin && strncmp (environ[i], "OMS_BIN_DIR=", 12) == 0))
            continue;
        envp[at++] = environ[i];
    }
    if (config_path) {
        snprintf (config, sizeof config, "OMS_CONFIG=%s", config_path);
        envp[at++] = config;
    }
    snprintf (home, sizeof home, "OMS_HOME=%s", oms_config_str (self->env->config, "home"));
    envp[at++] = home;
    char exe[PATH_MAX];
    ssize_t len = set_bin ? readlink ("/proc/self/exe", exe, sizeof exe - 1) : -1;
    if (len > 0) {
        char broker[PATH_MAX + 32];
        exe[len] = '\0';
        const char *dir = dirname (exe);
        snprintf (broker, sizeof broker, "%s/../broker/oms-broker", dir);
        if (access (broker, X_OK) == 0) {
            snprintf (bin, sizeof bin, "OMS_BIN_DIR=%s/..", dir);
            envp[at++] = bin;
        }
    }
    envp[at] = NULL;
    return envp;
}

//  Reads the child's output until it closes or the deadline passes. Keeps
//  the first CTL_OUTPUT_MAX - 1 bytes. Returns false on the deadline.
static bool
s_read_output (int fd, char *output, size_t size, int64_t deadline)
{
    size_t at = 0;
    output[0] = '\0';
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd item = {fd, POLLIN, 0};
        int rc = poll (&item, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        char chunk[512];
        ssize_t got = read (fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t) got < size - 1 - at ? (size_t) got : size - 1 - at;
        memcpy (output + at, chunk, keep);
        at += keep;
        output[at] = '\0';
    }
    return true;
}

static int
s_do_process (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    char path_buf[PATH_MAX + 32];
    static char output[CTL_OUTPUT_MAX];
    const char *ctl = s_ctl_path (path_buf, sizeof path_buf);
    char *argv[] = {(char *) ctl, (char *) step->action, (char *) step->process, NULL};
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    int rc = -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    char **envp = s_ctl_environment (self);
    output[0] = '\0';
    if (!envp || pipe2 (fds, O_CLOEXEC) != 0) {
        s_say (detail, "cannot run %s: %s", ctl, strerror (errno));
        goto leave;
    }
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2 (&actions, fds[1], 2);
    int err = posix_spawnp (&pid, ctl, &actions, NULL, argv, envp);
    close (fds[1]);
    fds[1] = -1;
    if (err != 0) {
        pid = -1;
        s_say (detail, "cannot run %s: %s", ctl, strerror (err));
        goto leave;
    }
    bool finished = s_read_output (fds[0], output, sizeof output, zclock_mono () + CTL_TIMEOUT_MS);
    if (!finished)
        kill (pid, SIGKILL);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!finished)
        s_say (detail, "%s did not finish within %d s", ctl, CTL_TIMEOUT_MS / 1000);
    else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        //  The first line says what went wrong; the rest (a log's tail) goes to stderr.
        size_t first = strcspn (output, "\n");
        s_say (detail, "oms-ctl exited %d: %.*s",
               WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status), (int) first,
               output);
        if (output[first] && output[first + 1])
            fprintf (stderr, "%s", output + first + 1);
    }
    else
        rc = 0;
leave:
    if (fds[0] >= 0)
        close (fds[0]);
    if (fds[1] >= 0)
        close (fds[1]);
    posix_spawn_file_actions_destroy (&actions);
    free (envp);
    return rc;
}

static int
s_do_sleep (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    (void) self;
    (void) detail;
    zclock_sleep ((int) (step->seconds * 1000));
    return 0;
}

// ---------------------------------------------------------------------------
//  Assertions: a probe looks once and returns 1 when the assertion holds,
//  0 when not yet, -1 when it never will; `detail` says what it saw.

typedef int (*s_probe_fn) (s_run_t *self, const cli_step_t *step, int timeout_ms,
                           s_detail_t *detail);

//  A call that was not answered means "not yet"; a refusal or a malformed
//  reply means "never".
static int
s_not_yet (int rc)
{
    return rc == OMS_E_TIMEOUT ? 0 : -1;
}

static int
s_poll (s_run_t *self, const cli_step_t *step, s_probe_fn probe, s_detail_t *detail)
{
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
            s_detail_t seen = *detail;
            s_say (detail, "%s (after %.1f s)", seen.text, (double) (now - started) / 1000);
            return -1;
        }
        zclock_sleep (
            (int) (deadline - now < POLL_INTERVAL_MS ? deadline - now : POLL_INTERVAL_MS));
    }
}

//  Statuses only move forward: PENDING, RESERVED, CONFIRMED, CANCELLED.
static int
s_status_rank (const char *status)
{
    static const char *const ranks[] = {"PENDING", "RESERVED", "CONFIRMED", "CANCELLED"};
    for (int i = 0; i < 4; i++)
        if (strcmp (status, ranks[i]) == 0)
            return i;
    return -1;
}

static int
s_probe_order (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    s_order_t order;
    const char *order_id = s_order_id (self, step->order);
    int rc = s_get_order (self, order_id, timeout_ms, &order, detail);
    if (rc != 0)
        return s_not_yet (rc);
    s_say_order (detail, order_id, &order);
    int have = s_status_rank (order.status);
    int want = s_status_rank (step->status);
    if (have == want && (!step->text[0] || strcasestr (order.reason, step->text)))
        return 1;
    //  A later status never goes back; a cancelled order's reason never changes.
    return have > want || (have == want && have == 3) ? -1 : 0;
}

static int
s_probe_wait (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    s_order_t order;
    const char *order_id = s_order_id (self, step->order);
    int rc = s_get_order (self, order_id, timeout_ms, &order, detail);
    if (rc != 0)
        return s_not_yet (rc);
    s_say_order (detail, order_id, &order);
    return s_status_rank (order.status) >= 2 ? 1 : 0;
}

static int
s_probe_stock (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    s_stock_t stock;
    int rc = s_get_stock (self, step->sku, timeout_ms, &stock, detail);
    if (rc != 0)
        return s_not_yet (rc);
    s_say_stock (detail, step->sku, &stock);
    for (size_t k = 0; k < CLI_LEVELS; k++)
        if (step->has_level[k] && stock.level[k] != step->level[k])
            return 0;
    return 1;
}

static int
s_probe_wallet (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    int64_t balance = 0;
    int rc = s_get_balance (self, step->customer, timeout_ms, &balance, detail);
    if (rc != 0)
        return s_not_yet (rc);
    s_say (detail, "%s balance_cents=%" PRId64, step->customer, balance);
    return balance == step->amount ? 1 : 0;
}

static int
s_probe_notifications (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    oms_request_t req;
    cli_reply_t *reply = NULL;
    const char *order_id = s_order_id (self, step->order);
    s_request (&req, "notifications");
    snprintf (req.order_id, sizeof req.order_id, "%s", order_id);
    int rc = s_call (self, "notification", &req, timeout_ms, 1, &reply, detail);
    if (rc != 0)
        return s_not_yet (rc);
    const msgpack_object *list = cli_map_get (cli_reply_map (reply), "notifications");
    if (!list || list->type != MSGPACK_OBJECT_ARRAY) {
        cli_reply_destroy (&reply);
        return s_malformed (detail, "notification", "notifications");
    }
    int64_t count = 0;
    int used = snprintf (detail->text, sizeof detail->text, "%s has", order_id);
    for (uint32_t i = 0; i < list->via.array.size && rc == 0; i++) {
        char kind[OMS_NAME_MAX + 1];
        char channel[OMS_NAME_MAX + 1];
        const msgpack_object *entry = &list->via.array.ptr[i];
        if (s_copy_str (entry, "kind", kind, sizeof kind) != 0 ||
            s_copy_str (entry, "channel", channel, sizeof channel) != 0) {
            rc = s_malformed (detail, "notification", "kind");
            break;
        }
        if ((!step->kind_filter[0] || strcmp (kind, step->kind_filter) == 0) &&
            (!step->channel[0] || strcmp (channel, step->channel) == 0))
            count++;
        if (used > 0 && (size_t) used < sizeof detail->text)
            used += snprintf (detail->text + used, sizeof detail->text - (size_t) used, "%s %s/%s",
                              i ? "," : "", kind, channel);
    }
    bool none = list->via.array.size == 0; //  `list` dies with the reply
    cli_reply_destroy (&reply);
    if (rc != 0)
        return -1;
    if (none)
        s_say (detail, "%s has no notifications", order_id);
    return count == step->amount ? 1 : 0;
}

static int
s_probe_conserved (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    s_stock_t stock;
    int64_t total = step->amount;
    if (!step->has_amount) {
        const s_total_t *known = s_find_total (self, step->sku);
        if (!known) {
            s_say (detail, "no total for %s: its stock step did not pass", step->sku);
            return -1;
        }
        total = known->total;
    }
    int rc = s_get_stock (self, step->sku, timeout_ms, &stock, detail);
    if (rc != 0)
        return s_not_yet (rc);
    int64_t sum = stock.level[CLI_LEVEL_AVAILABLE] + stock.level[CLI_LEVEL_RESERVED] +
                  stock.level[CLI_LEVEL_SOLD];
    s_say_stock (detail, step->sku, &stock);
    size_t used = strlen (detail->text);
    snprintf (detail->text + used, sizeof detail->text - used, ", total %" PRId64 " of %" PRId64,
              sum, total);
    return sum == total && stock.level[CLI_LEVEL_RESERVED] == 0 &&
                   stock.level[CLI_LEVEL_AVAILABLE] >= 0 && stock.level[CLI_LEVEL_SOLD] >= 0
               ? 1
               : 0;
}

static int
s_probe_settled (s_run_t *self, const cli_step_t *step, int timeout_ms, s_detail_t *detail)
{
    size_t confirmed = 0;
    (void) step;
    for (size_t i = 0; i < self->n_placed; i++) {
        s_order_t order;
        int rc = s_get_order (self, self->placed[i], timeout_ms, &order, detail);
        if (rc != 0)
            return s_not_yet (rc);
        int rank = s_status_rank (order.status);
        if (rank < 2) {
            s_say (detail, "%s is still %s", self->placed[i], order.status);
            return 0;
        }
        confirmed += rank == 2;
    }
    s_say (detail, "%zu orders: %zu confirmed, %zu cancelled", self->n_placed, confirmed,
           self->n_placed - confirmed);
    return 1;
}

static int
s_do_wait (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    if (s_require_placed (self, step->order, detail))
        return -1;
    return s_poll (self, step, s_probe_wait, detail);
}

static int
s_do_expect_order (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    if (s_require_placed (self, step->order, detail))
        return -1;
    return s_poll (self, step, s_probe_order, detail);
}

static int
s_do_expect_same (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    if (s_require_placed (self, step->order, detail) ||
        s_require_placed (self, step->other, detail))
        return -1;
    const char *one = s_order_id (self, step->order);
    const char *other = s_order_id (self, step->other);
    if (strcmp (one, other) == 0) {
        s_say (detail, "both are %s", one);
        return 0;
    }
    s_say (detail, "%s is %s but %s is %s", cli_scenario_order_name (self->scenario, step->order),
           one, cli_scenario_order_name (self->scenario, step->other), other);
    return -1;
}

static int
s_do_expect_stock (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    return s_poll (self, step, s_probe_stock, detail);
}

static int
s_do_expect_wallet (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    return s_poll (self, step, s_probe_wallet, detail);
}

static int
s_do_expect_notifications (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    if (s_require_placed (self, step->order, detail))
        return -1;
    return s_poll (self, step, s_probe_notifications, detail);
}

static int
s_do_expect_conserved (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    return s_poll (self, step, s_probe_conserved, detail);
}

static int
s_do_expect_settled (s_run_t *self, const cli_step_t *step, s_detail_t *detail)
{
    return s_poll (self, step, s_probe_settled, detail);
}

static const s_action_fn s_actions[] = {
    [CLI_STEP_CONFIG] = s_do_config,
    [CLI_STEP_STOCK] = s_do_stock,
    [CLI_STEP_WALLET] = s_do_wallet,
    [CLI_STEP_CHANNEL] = s_do_channel,
    [CLI_STEP_PLACE] = s_do_place,
    [CLI_STEP_REJECT] = s_do_reject,
    [CLI_STEP_CANCEL] = s_do_cancel,
    [CLI_STEP_WAIT] = s_do_wait,
    [CLI_STEP_PROCESS] = s_do_process,
    [CLI_STEP_SLEEP] = s_do_sleep,
    [CLI_STEP_EXPECT_ORDER] = s_do_expect_order,
    [CLI_STEP_EXPECT_SAME] = s_do_expect_same,
    [CLI_STEP_EXPECT_STOCK] = s_do_expect_stock,
    [CLI_STEP_EXPECT_WALLET] = s_do_expect_wallet,
    [CLI_STEP_EXPECT_NOTIFICATIONS] = s_do_expect_notifications,
    [CLI_STEP_EXPECT_CONSERVED] = s_do_expect_conserved,
    [CLI_STEP_EXPECT_SETTLED] = s_do_expect_settled,
};

// ---------------------------------------------------------------------------
//  The run

static void
s_report (FILE *out, size_t line, bool pass, const char *source, const char *detail)
{
    static char shown_source[4 * CLI_SCENARIO_LINE_MAX + 1];
    static char shown_detail[4 * DETAIL_MAX + 1];
    fprintf (out, "line %zu: %s: %s", line, pass ? "pass" : "fail",
             cli_printable (source, shown_source, sizeof shown_source));
    if (detail[0])
        fprintf (out, pass ? " (%s)" : ": %s",
                 cli_printable (detail, shown_detail, sizeof shown_detail));
    fputc ('\n', out);
    fflush (out);
}

static int
s_report_errors (cli_scenario_t *self, FILE *out)
{
    size_t kept =
        self->n_errors < CLI_SCENARIO_ERRORS_MAX ? self->n_errors : CLI_SCENARIO_ERRORS_MAX;
    for (size_t i = 0; i < kept; i++)
        fprintf (out, "line %zu: fail: %s\n", self->errors[i].line, self->errors[i].message);
    if (self->n_errors > kept)
        fprintf (out, "(%zu more malformed lines)\n", self->n_errors - kept);
    fprintf (out, "0 passed, %zu failed\n", self->n_errors);
    fflush (out);
    return 1;
}

int
cli_scenario_run (cli_scenario_t *self, const cli_scenario_env_t *env, FILE *out)
{
    assert (self);
    assert (env && env->config);
    if (self->n_errors)
        return s_report_errors (self, out);
    s_run_t *run = (s_run_t *) calloc (1, sizeof (s_run_t));
    if (run) {
        run->placed = calloc (self->n_steps + 1, sizeof run->placed[0]);
        run->totals = (s_total_t *) calloc (self->n_steps + 1, sizeof run->totals[0]);
    }
    if (!run || !run->placed || !run->totals) {
        fprintf (stderr, "oms: out of memory\n");
        if (run) {
            free (run->placed);
            free (run->totals);
        }
        free (run);
        return 1;
    }
    run->scenario = self;
    run->env = env;
    size_t passed = 0;
    size_t failed = 0;
    for (size_t i = 0; i < self->n_steps; i++) {
        const cli_step_t *step = &self->steps[i];
        s_detail_t detail = {{0}};
        bool pass = s_actions[step->kind](run, step, &detail) == 0;
        s_report (out, step->line, pass, step->source, detail.text);
        if (pass)
            passed++;
        else
            failed++;
    }
    fprintf (out, "%zu passed, %zu failed\n", passed, failed);
    fflush (out);
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++)
        cli_client_destroy (&run->clients[i]);
    free (run->placed);
    free (run->totals);
    free (run);
    return failed ? 1 : 0;
}

int
cli_scenario_main (const char *path, const cli_scenario_env_t *env)
{
    char error[512];
    char run_id[9];
    zuuid_t *uuid = zuuid_new ();
    snprintf (run_id, sizeof run_id, "%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    for (char *p = run_id; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    cli_scenario_t *scenario = cli_scenario_load (path, run_id, error, sizeof error);
    if (!scenario) {
        fprintf (stderr, "oms: %s\n", error);
        return 1;
    }
    int rc = 1;
    if (cli_scenario_steps (scenario) == 0 && cli_scenario_errors (scenario) == 0)
        fprintf (stderr, "oms: %s has no steps\n", path);
    else
        rc = cli_scenario_run (scenario, env, stdout);
    cli_scenario_destroy (&scenario);
    return rc;
}
