/*  Unit tests of cli_scenario: the parse of every step, the rejection of
    malformed lines (each named by its number, none a crash), the limits,
    and runs that need no cluster (config checks, sleep, a service that
    does not answer, a file with errors).
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_scenario.h"

extern char **environ;

//  Every test starts without OMS_* variables, whatever the shell left.
static void
s_clear_environment (void)
{
    char *names[256];
    size_t count = 0;
    for (char **entry = environ; *entry && count < 256; entry++)
        if (strncmp (*entry, "OMS_", 4) == 0)
            names[count++] = strndup (*entry, strcspn (*entry, "="));
    for (size_t i = 0; i < count; i++) {
        unsetenv (names[i]);
        free (names[i]);
    }
}

TestSuite (scenario, .init = s_clear_environment);

static cli_scenario_t *
s_parse (const char *text)
{
    cli_scenario_t *scenario = cli_scenario_new (text, strlen (text), "r1234567");
    cr_assert_not_null (scenario);
    return scenario;
}

//  Parses text that must be well formed; returns the scenario.
static cli_scenario_t *
s_parse_ok (const char *text)
{
    cli_scenario_t *scenario = s_parse (text);
    if (cli_scenario_errors (scenario)) {
        size_t line = 0;
        const char *message = cli_scenario_error (scenario, 0, &line);
        cr_assert_fail ("line %zu: %s", line, message);
    }
    return scenario;
}

Test (scenario, parses_actions)
{
    cli_scenario_t *scenario =
        s_parse_ok ("config order/saga_timeout_ms=2000\n"
                    "stock SKU-1 10 price 250\n"
                    "stock SKU-2 0\n"
                    "wallet alice 1000\n"
                    "channel alice sms\n"
                    "place a customer alice items SKU-1:3,SKU-2:1 pay card card 4242424242424242 "
                    "request req-1\n"
                    "place b pay wallet items SKU-1:1 customer bob\n"
                    "expect-reject place customer bob items NOPE:1 pay cod \"unknown sku\"\n"
                    "cancel a\n"
                    "wait b within 2.5\n"
                    "kill payment\n"
                    "restart broker\n"
                    "sleep 0.25\n");
    cr_assert_eq (cli_scenario_steps (scenario), 13);
    const cli_step_t *step = cli_scenario_step (scenario, 0);
    cr_assert_eq (step->kind, CLI_STEP_CONFIG);
    cr_assert_str_eq (step->key, "order/saga_timeout_ms");
    cr_assert_str_eq (step->value, "2000");

    step = cli_scenario_step (scenario, 1);
    cr_assert_eq (step->kind, CLI_STEP_STOCK);
    cr_assert_eq (step->line, 2);
    cr_assert_str_eq (step->sku, "SKU-1");
    cr_assert_eq (step->amount, 10);
    cr_assert_eq (step->price, 250);
    cr_assert_eq (cli_scenario_step (scenario, 2)->price, 0);

    step = cli_scenario_step (scenario, 3);
    cr_assert_eq (step->kind, CLI_STEP_WALLET);
    cr_assert_str_eq (step->customer, "alice");
    cr_assert_eq (step->amount, 1000);
    cr_assert_str_eq (cli_scenario_step (scenario, 4)->channel, "sms");

    step = cli_scenario_step (scenario, 5);
    cr_assert_eq (step->kind, CLI_STEP_PLACE);
    cr_assert_str_eq (cli_scenario_order_name (scenario, step->order), "a");
    cr_assert_str_eq (step->customer, "alice");
    cr_assert_eq (step->n_items, 2);
    cr_assert_str_eq (step->items[0].sku, "SKU-1");
    cr_assert_eq (step->items[0].qty, 3);
    cr_assert_str_eq (step->items[1].sku, "SKU-2");
    cr_assert_str_eq (step->method, "card");
    cr_assert_str_eq (step->card, "4242424242424242");
    cr_assert_str_eq (step->request_id, "req-1");

    step = cli_scenario_step (scenario, 6);
    cr_assert_str_eq (cli_scenario_order_name (scenario, step->order), "b");
    cr_assert_str_eq (step->request_id, "");
    cr_assert_str_eq (step->card, "");

    step = cli_scenario_step (scenario, 7);
    cr_assert_eq (step->kind, CLI_STEP_REJECT);
    cr_assert_eq (step->order, -1);
    cr_assert_str_eq (step->text, "unknown sku");
    cr_assert_str_eq (step->items[0].sku, "NOPE");

    cr_assert_eq (cli_scenario_step (scenario, 8)->kind, CLI_STEP_CANCEL);
    cr_assert_eq (cli_scenario_step (scenario, 8)->order, 0);
    step = cli_scenario_step (scenario, 9);
    cr_assert_eq (step->kind, CLI_STEP_WAIT);
    cr_assert_eq (step->order, 1);
    cr_assert_float_eq (step->seconds, 2.5, 1e-9);

    step = cli_scenario_step (scenario, 10);
    cr_assert_eq (step->kind, CLI_STEP_PROCESS);
    cr_assert_str_eq (step->action, "kill");
    cr_assert_str_eq (step->process, "payment");
    cr_assert_str_eq (cli_scenario_step (scenario, 11)->action, "restart");
    cr_assert_float_eq (cli_scenario_step (scenario, 12)->seconds, 0.25, 1e-9);
    cli_scenario_destroy (&scenario);
    cli_scenario_destroy (&scenario);
    cr_assert_null (scenario);
}

Test (scenario, names_one_broker_of_several)
{
    cli_scenario_t *scenario = s_parse_ok ("kill broker.1\nstart broker.1\nstop broker.0\n");
    cr_assert_eq (cli_scenario_steps (scenario), 3);
    cr_assert_str_eq (cli_scenario_step (scenario, 0)->process, "broker.1");
    cr_assert_str_eq (cli_scenario_step (scenario, 2)->action, "stop");
    cli_scenario_destroy (&scenario);
    scenario = cli_scenario_new ("kill broker.8\n", 14, NULL);
    cr_assert_eq (cli_scenario_errors (scenario), 1, "broker.8: at most 8 brokers");
    cli_scenario_destroy (&scenario);
}

Test (scenario, parses_assertions_with_their_defaults)
{
    cli_scenario_t *scenario =
        s_parse_ok ("stock SKU-1 10\n"
                    "place a customer c items SKU-1:1 pay cod\n"
                    "place b customer c items SKU-1:1 pay cod request r\n"
                    "expect order a status CANCELLED reason \"out of stock\" within 3\n"
                    "expect order a status CONFIRMED\n"
                    "expect order b same-as a\n"
                    "expect stock SKU-1 sold 2 available 8\n"
                    "expect wallet c 0 within 1\n"
                    "expect notifications a count 2 kind cancelled channel email\n"
                    "expect conserved SKU-1\n"
                    "expect conserved SKU-9 40 within 5\n"
                    "expect settled within 20\n"
                    "wait a\n");
    const cli_step_t *step = cli_scenario_step (scenario, 3);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_ORDER);
    cr_assert_str_eq (step->status, "CANCELLED");
    cr_assert_str_eq (step->text, "out of stock");
    cr_assert_float_eq (step->seconds, 3, 1e-9);
    step = cli_scenario_step (scenario, 4);
    cr_assert_str_eq (step->text, "");
    cr_assert_float_eq (step->seconds, 10, 1e-9);
    step = cli_scenario_step (scenario, 5);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_SAME);
    cr_assert_eq (step->order, 1);
    cr_assert_eq (step->other, 0);

    step = cli_scenario_step (scenario, 6);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_STOCK);
    cr_assert (step->has_level[CLI_LEVEL_SOLD] && step->has_level[CLI_LEVEL_AVAILABLE]);
    cr_assert (!step->has_level[CLI_LEVEL_RESERVED] && !step->has_level[CLI_LEVEL_PRICE]);
    cr_assert_eq (step->level[CLI_LEVEL_SOLD], 2);
    cr_assert_eq (step->level[CLI_LEVEL_AVAILABLE], 8);

    step = cli_scenario_step (scenario, 7);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_WALLET);
    cr_assert_eq (step->amount, 0);
    step = cli_scenario_step (scenario, 8);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_NOTIFICATIONS);
    cr_assert_eq (step->amount, 2);
    cr_assert_str_eq (step->kind_filter, "cancelled");
    cr_assert_str_eq (step->channel, "email");
    step = cli_scenario_step (scenario, 9);
    cr_assert_eq (step->kind, CLI_STEP_EXPECT_CONSERVED);
    cr_assert (!step->has_amount);
    step = cli_scenario_step (scenario, 10);
    cr_assert (step->has_amount);
    cr_assert_eq (step->amount, 40);
    cr_assert_float_eq (step->seconds, 5, 1e-9);
    cr_assert_eq (cli_scenario_step (scenario, 11)->kind, CLI_STEP_EXPECT_SETTLED);
    cr_assert_float_eq (cli_scenario_step (scenario, 12)->seconds, 30, 1e-9);
    cli_scenario_destroy (&scenario);
}

Test (scenario, skips_comments_and_blank_lines_and_reads_crlf)
{
    cli_scenario_t *scenario = s_parse_ok ("# a scenario\r\n"
                                           "\r\n"
                                           "   \t\n"
                                           "  stock SKU-1 5   # five\r\n"
                                           "sleep 0");
    cr_assert_eq (cli_scenario_steps (scenario), 2);
    const cli_step_t *step = cli_scenario_step (scenario, 0);
    cr_assert_eq (step->line, 4);
    cr_assert_str_eq (step->source, "stock SKU-1 5");
    cr_assert_eq (cli_scenario_step (scenario, 1)->line, 5);
    cli_scenario_destroy (&scenario);
}

Test (scenario, replaces_the_run_token)
{
    cli_scenario_t *scenario = s_parse_ok ("stock SKU-$RUN 5\n"
                                           "place o customer c-$RUN items SKU-$RUN:1 pay cod\n");
    cr_assert_str_eq (cli_scenario_step (scenario, 0)->sku, "SKU-r1234567");
    cr_assert_str_eq (cli_scenario_step (scenario, 0)->source, "stock SKU-r1234567 5");
    cr_assert_str_eq (cli_scenario_step (scenario, 1)->customer, "c-r1234567");
    cr_assert_str_eq (cli_scenario_step (scenario, 1)->items[0].sku, "SKU-r1234567");
    cli_scenario_destroy (&scenario);
}

Test (scenario, unquotes_text)
{
    cli_scenario_t *scenario = s_parse_ok (
        "expect-reject place customer c items S:1 pay cod \"say \\\"no\\\" \\\\ # x\"\n");
    cr_assert_str_eq (cli_scenario_step (scenario, 0)->text, "say \"no\" \\ # x");
    cli_scenario_destroy (&scenario);
}

//  One malformed line each, after a prelude that names order `a` and
//  stocks SKU-1 on lines 1 and 2: the error is on line 3 and says `says`.
typedef struct {
    const char *line;
    const char *says;
} s_bad_t;

static const s_bad_t s_bad_lines[] = {
    {"frobnicate", "unknown step frobnicate"},
    {"\"stock\" SKU-1 1", "unknown step stock"},
    {"stock", "missing words; usage: stock SKU QTY"},
    {"stock SKU-1", "missing words"},
    {"stock SKU-1 1 price 2 extra", "too many words"},
    {"stock SKU-1 -1", "quantity must be an integer"},
    {"stock SKU-1 ten", "quantity must be an integer"},
    {"stock SKU-1 9007199254740993", "quantity must be an integer from 0 to 9007199254740992"},
    {"stock SKU-1 99999999999999999999999", "quantity must be an integer"},
    {"stock SKU-1 1 price 0", "price must be an integer from 1"},
    {"stock SKU-1 1 cost 5", "unexpected word cost (expected one of price)"},
    {"stock SKU-1 1 price", "price needs a value"},
    {"stock SKU_ONE!! 1", "SKU must be 1 to 32 characters"},
    {"stock ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456 1", "SKU must be 1 to 32"},
    {"wallet alice 0", "amount in cents must be an integer from 1"},
    {"wallet al ice 5", "too many words"},
    {"wallet \"al ice\" 5", "customer must be"},
    {"channel alice pigeon", "channel must be email or sms"},
    {"place b customer c items SKU-1:1", "pay is required"},
    {"place b items SKU-1:1 pay cod", "customer is required"},
    {"place b customer c pay cod", "items is required"},
    {"place b customer c items SKU-1:0 pay cod", "quantity must be a positive integer"},
    {"place b customer c items SKU-1:1000001 pay cod", "quantity must be at most 1000000"},
    {"place b customer c items SKU-1 pay cod", "item must be SKU:QTY"},
    {"place b customer c items SKU-1:1,,SKU-2:1 pay cod", "without empty entries"},
    {"place b customer c items SKU-1:1, pay cod", "without empty entries"},
    {"place b customer c items SKU-1:1,SKU-1:2 pay cod", "SKU given twice"},
    {"place b customer c items SKU-1:1 pay card", "pay card needs card NUMBER"},
    {"place b customer c items SKU-1:1 pay cod card 4242424242424242", "card is only for"},
    {"place b customer c items SKU-1:1 pay card card 42", "card number must be 12 to 19"},
    {"place b customer c items SKU-1:1 pay CARD", "payment method must be"},
    {"place b customer c customer d items SKU-1:1 pay cod", "customer given twice"},
    {"place b customer c items SKU-1:1 pay cod request", "request needs a value"},
    {"place b customer c items SKU-1:1 pay cod request a b", "unexpected word b"},
    {"place a customer c items SKU-1:1 pay cod", "order name a is already used on line 2"},
    {"place b! customer c items SKU-1:1 pay cod", "order name must be"},
    {"place", "missing words"},
    {"expect-reject customer c items SKU-1:1 pay cod", "must be followed by place"},
    {"expect-reject place customer c items SKU-1:1 pay cod unknown", "unexpected word unknown"},
    {"cancel", "missing words"},
    {"cancel nobody", "no order named nobody is placed before this line"},
    {"wait a within soon", "within must be a number of seconds"},
    {"wait a within 3601", "within must be a number of seconds from 0 to 3600"},
    {"wait a within -1", "within must be a number of seconds"},
    {"wait a within 1e3", "within must be a number of seconds"},
    {"kill everything", "process must be one of broker"},
    {"start", "missing words"},
    {"sleep", "missing words"},
    {"sleep nan", "sleep must be a number of seconds"},
    {"config cli/timeout_ms=100", "config lines must come before every other step (line 1)"},
    {"expect", "expect must be followed by"},
    {"expect weather sunny", "expect must be followed by"},
    {"expect order a", "missing words"},
    {"expect order a status DONE", "status must be PENDING, RESERVED, CONFIRMED or CANCELLED"},
    {"expect order a reason x within 1", "status is required"},
    {"expect order a status CONFIRMED reason \"\"", "reason must be 1 to"},
    {"expect order a same-as nobody", "no order named nobody"},
    {"expect order nobody status CONFIRMED", "no order named nobody"},
    {"expect order a same-as a b", "too many words"},
    {"expect stock SKU-1 within 3", "needs at least one of available"},
    {"expect stock SKU-1 available", "missing words"},
    {"expect stock SKU-1 available 1 available 2", "available given twice"},
    {"expect stock SKU-1 available x", "available must be an integer"},
    {"expect wallet alice", "missing words"},
    {"expect wallet alice -5", "balance must be an integer"},
    {"expect notifications a kind confirmed within 1", "count is required"},
    {"expect notifications a count 1001", "count must be an integer from 0 to 1000"},
    {"expect notifications a count 1 kind CONFIRMED", "kind must be"},
    {"expect notifications a count 1 channel fax", "channel must be email or sms"},
    {"expect conserved SKU-2", "no stock step sets SKU-2 before this line"},
    {"expect conserved SKU-1 many", "total must be an integer"},
    {"expect settled soon", "unexpected word soon"},
    {"stock SKU-1 1 \"price", "unterminated quote at column 15"},
    {"stock SKU-1 1 pri\"ce\" 5", "unexpected quote at column 18"},
    {"expect-reject place customer c items S:1 pay cod \"a\"b", "a blank must follow the closing"},
    {"expect-reject place customer c items S:1 pay cod \"a\\nb\"", "unknown escape"},
    {"stock SKU-1 1\x01", "control byte 0x01 at column 14"},
    {"stock SKU-1 1\x7f", "control byte 0x7f"},
    {"stock SKU-1 1\x1b[31m", "control byte 0x1b"},
    {"a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8", "more than 32 words"},
};

Test (scenario, names_the_malformed_line)
{
    for (size_t i = 0; i < sizeof s_bad_lines / sizeof s_bad_lines[0]; i++) {
        char text[2048];
        snprintf (text, sizeof text,
                  "stock SKU-1 10\nplace a customer c items SKU-1:1 pay cod\n%s\nsleep 0\n",
                  s_bad_lines[i].line);
        cli_scenario_t *scenario = s_parse (text);
        size_t line = 0;
        cr_assert_eq (cli_scenario_errors (scenario), 1, "%s: %zu errors", s_bad_lines[i].line,
                      cli_scenario_errors (scenario));
        const char *message = cli_scenario_error (scenario, 0, &line);
        cr_assert_eq (line, 3, "%s: line %zu", s_bad_lines[i].line, line);
        cr_assert (strstr (message, s_bad_lines[i].says), "%s: says \"%s\", not \"%s\"",
                   s_bad_lines[i].line, message, s_bad_lines[i].says);
        //  The lines around it still parse.
        cr_assert_eq (cli_scenario_steps (scenario), 3, "%s", s_bad_lines[i].line);
        cli_scenario_destroy (&scenario);
    }
}

Test (scenario, a_nul_byte_is_a_malformed_line)
{
    static const char text[] = "sleep 0\nsleep\0 0\nsleep 1\n";
    cli_scenario_t *scenario = cli_scenario_new (text, sizeof text - 1, NULL);
    size_t line = 0;
    cr_assert_eq (cli_scenario_errors (scenario), 1);
    cr_assert (strstr (cli_scenario_error (scenario, 0, &line), "control byte 0x00 at column 6"));
    cr_assert_eq (line, 2);
    cr_assert_eq (cli_scenario_steps (scenario), 2);
    cli_scenario_destroy (&scenario);
}

Test (scenario, names_a_malformed_config_line)
{
    static const s_bad_t bad[] = {
        {"config order/saga_timeout_ms", "config needs KEY=VALUE"},
        {"config =5", "config needs KEY=VALUE"},
        {"config Order=5", "config needs KEY=VALUE"},
        {"config order/saga_timeout_ms=", "config value must be 1 to"},
        {"config a=1 b=2", "too many words"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_scenario_t *scenario = s_parse (bad[i].line);
        size_t line = 0;
        cr_assert_eq (cli_scenario_errors (scenario), 1, "%s", bad[i].line);
        cr_assert (strstr (cli_scenario_error (scenario, 0, &line), bad[i].says), "%s: %s",
                   bad[i].line, cli_scenario_error (scenario, 0, &line));
        cr_assert_eq (line, 1);
        cli_scenario_destroy (&scenario);
    }
}

Test (scenario, config_comes_first)
{
    cli_scenario_t *scenario = s_parse ("config cli/timeout_ms=100\nsleep 0\nconfig a=b\n");
    size_t line = 0;
    cr_assert_eq (cli_scenario_errors (scenario), 1);
    cr_assert (strstr (cli_scenario_error (scenario, 0, &line),
                       "config lines must come before every other step (line 2)"));
    cr_assert_eq (line, 3);
    cli_scenario_destroy (&scenario);
}

Test (scenario, caps_lines_files_steps_and_kept_errors)
{
    //  A line at the limit parses; one byte more does not.
    char *text = malloc (CLI_SCENARIO_FILE_MAX + 2);
    memset (text, ' ', CLI_SCENARIO_LINE_MAX);
    memcpy (text, "sleep 0", 7);
    text[CLI_SCENARIO_LINE_MAX] = '\n';
    memset (text + CLI_SCENARIO_LINE_MAX + 1, ' ', CLI_SCENARIO_LINE_MAX + 1);
    memcpy (text + CLI_SCENARIO_LINE_MAX + 1, "sleep 0", 7);
    cli_scenario_t *scenario = cli_scenario_new (text, 2 * CLI_SCENARIO_LINE_MAX + 2, NULL);
    size_t line = 0;
    cr_assert_eq (cli_scenario_steps (scenario), 1);
    cr_assert_eq (cli_scenario_errors (scenario), 1);
    cr_assert (strstr (cli_scenario_error (scenario, 0, &line), "line longer than 1024 bytes"));
    cr_assert_eq (line, 2);
    cli_scenario_destroy (&scenario);

    //  $RUN may not push a line past the limit.
    memset (text, ' ', CLI_SCENARIO_LINE_MAX);
    memcpy (text, "sleep 0 #$RUN", 13);
    cr_assert_not_null (scenario = cli_scenario_new (text, CLI_SCENARIO_LINE_MAX, "12345678"));
    cr_assert_eq (cli_scenario_errors (scenario), 1);
    cr_assert (strstr (cli_scenario_error (scenario, 0, &line), "once $RUN is replaced"));
    cli_scenario_destroy (&scenario);

    memset (text, '#', CLI_SCENARIO_FILE_MAX + 1);
    cr_assert_null (cli_scenario_new (text, CLI_SCENARIO_FILE_MAX + 1, NULL));
    free (text);

    size_t size = (CLI_SCENARIO_STEPS_MAX + 1) * 8;
    text = malloc (size + 1);
    for (size_t i = 0; i <= CLI_SCENARIO_STEPS_MAX; i++)
        memcpy (text + i * 8, "sleep 0\n", 8);
    scenario = cli_scenario_new (text, size, NULL);
    cr_assert_eq (cli_scenario_steps (scenario), CLI_SCENARIO_STEPS_MAX);
    cr_assert_eq (cli_scenario_errors (scenario), 1);
    cr_assert (strstr (cli_scenario_error (scenario, 0, &line), "more than 2000 steps"));
    cr_assert_eq (line, CLI_SCENARIO_STEPS_MAX + 1);
    cli_scenario_destroy (&scenario);

    //  Every bad line is counted; the first ones are kept.
    for (size_t i = 0; i < 100; i++)
        memcpy (text + i * 8, "bogus!!\n", 8);
    scenario = cli_scenario_new (text, 800, NULL);
    cr_assert_eq (cli_scenario_errors (scenario), 100);
    cli_scenario_error (scenario, CLI_SCENARIO_ERRORS_MAX - 1, &line);
    cr_assert_eq (line, CLI_SCENARIO_ERRORS_MAX);
    cli_scenario_destroy (&scenario);
    free (text);
}

Test (scenario, load_refuses_what_is_not_a_small_regular_file)
{
    char error[256];
    cr_assert_null (cli_scenario_load ("/nonexistent/scenario", NULL, error, sizeof error));
    cr_assert (strstr (error, "cannot read /nonexistent/scenario"));
    cr_assert_null (cli_scenario_load ("/tmp", NULL, error, sizeof error));
    cr_assert (strstr (error, "not a regular file"));
}

// ---------------------------------------------------------------------------
//  Runs without a cluster

//  Runs `text` with the built-in configuration and `api` as the payment
//  service's endpoint; returns the exit code and the output in `output`.
static int
s_run (const char *text, char *output, size_t size)
{
    char error[256];
    oms_config_t *config = oms_config_new (NULL, error, sizeof error);
    cr_assert_not_null (config, "%s", error);
    //  Nothing listens there: a request is never answered.
    cr_assert_eq (
        oms_config_set (config, "services/payment/api", "tcp://127.0.0.1:9", error, sizeof error),
        0);
    cli_scenario_t *scenario = s_parse (text);
    cli_scenario_env_t env = {.config = config, .timeout_ms = 100};
    FILE *out = tmpfile ();
    int rc = cli_scenario_run (scenario, &env, out);
    rewind (out);
    size_t length = fread (output, 1, size - 1, out);
    output[length] = '\0';
    fclose (out);
    cli_scenario_destroy (&scenario);
    oms_config_destroy (&config);
    return rc;
}

Test (scenario, reports_each_step_and_a_summary)
{
    char output[4096];
    int rc = s_run ("# checks\n"
                    "config cli/timeout_ms=5000\n"
                    "config order/saga_timeout_ms=2000\n"
                    "sleep 0.01\n"
                    "expect wallet nobody 5 within 0.3\n"
                    "sleep 0   # still runs\n",
                    output, sizeof output);
    cr_assert_eq (rc, 1);
    char *lines[8] = {0};
    size_t n = 0;
    for (char *line = strtok (output, "\n"); line && n < 8; line = strtok (NULL, "\n"))
        lines[n++] = line;
    cr_assert_eq (n, 6, "%zu lines", n);
    cr_assert_str_eq (lines[0], "line 2: pass: config cli/timeout_ms=5000");
    cr_assert_str_eq (lines[1], "line 3: fail: config order/saga_timeout_ms=2000: this scenario "
                                "needs order/saga_timeout_ms=2000 but the configuration has "
                                "30000");
    cr_assert_str_eq (lines[2], "line 4: pass: sleep 0.01");
    cr_assert (strstr (lines[3], "line 5: fail: expect wallet nobody 5 within 0.3: payment "
                                 "service at tcp://127.0.0.1:9 did not answer"),
               "%s", lines[3]);
    cr_assert (strstr (lines[3], "(after 0."), "%s", lines[3]);
    cr_assert_str_eq (lines[4], "line 6: pass: sleep 0");
    cr_assert_str_eq (lines[5], "3 passed, 2 failed");
}

Test (scenario, a_config_key_that_does_not_exist_fails_its_step)
{
    char output[4096];
    cr_assert_eq (s_run ("config no/such_key=1\n", output, sizeof output), 1);
    cr_assert (strstr (output, "line 1: fail: config no/such_key=1: "), "%s", output);
    cr_assert (strstr (output, "0 passed, 1 failed\n"), "%s", output);
}

Test (scenario, a_scenario_with_errors_runs_nothing)
{
    char output[4096];
    cr_assert_eq (s_run ("sleep 5\nbogus\nsleep x\n", output, sizeof output), 1);
    cr_assert_str_eq (output, "line 2: fail: unknown step bogus (see docs/SCENARIOS.md)\n"
                              "line 3: fail: sleep must be a number of seconds from 0 to 3600: x\n"
                              "0 passed, 2 failed\n");
}

Test (scenario, all_passed_exits_zero)
{
    char output[256];
    cr_assert_eq (s_run ("sleep 0\n", output, sizeof output), 0);
    cr_assert_str_eq (output, "line 1: pass: sleep 0\n1 passed, 0 failed\n");
}
