/*  oms: the command line client. Sends commands to the services' api
    endpoints and reads the event bus.

    main() finds the command in the table below, parses its options together
    with the global ones (--config, --json, --set, -h), loads the
    configuration and runs the command's handler (cli.h), which returns the
    process exit code.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <czmq.h>

#include "cli.h"

static int s_cmd_help (cli_t *self);

// ---------------------------------------------------------------------------
//  The command table

static const cli_opt_t s_global_opts[] = {{"--config", true, false}, {"--json", false, false},
                                          {"--set", true, true},     {"-h", false, false},
                                          {"--help", false, false},  {NULL, false, false}};
static const cli_opt_t s_no_opts[] = {{NULL, false, false}};

static const cli_command_t s_commands[] = {
    {"place", cli_cmd_place, cli_place_opts,
     "place --customer ID --item SKU:QTY [--item SKU:QTY ...] --pay METHOD [--card NUMBER] "
     "[--request-id KEY]",
     "place an order; prints its order id"},
    {"get", cli_cmd_get, s_no_opts, "get ORDER_ID", "show an order"},
    {"wait", cli_cmd_wait, cli_wait_opts, "wait ORDER_ID [--timeout SEC]",
     "wait until an order is CONFIRMED (exit 0) or CANCELLED (exit 2)"},
    {"cancel", cli_cmd_cancel, s_no_opts, "cancel ORDER_ID", "cancel an order"},
    {"orders", cli_cmd_orders, cli_orders_opts,
     "orders [--status S[,S...]] [--customer ID] [--since DURATION] [--older-than DURATION] "
     "[--limit N] [--page TOKEN]",
     "list orders newest first; --older-than 30s --status PENDING,RESERVED lists stuck ones"},
    {"trace", cli_cmd_trace, s_no_opts, "trace ORDER_ID",
     "every event of an order from every service, in causal order, and what it waits for"},
    {"stock", cli_cmd_stock, cli_stock_opts, "stock set SKU QTY [--price CENTS] | stock get SKU",
     "set or show a SKU's stock level and price"},
    {"wallet", cli_cmd_wallet, s_no_opts, "wallet credit CUSTOMER CENTS | wallet get CUSTOMER",
     "credit or show a customer's wallet"},
    {"notifications", cli_cmd_notifications, cli_notifications_opts,
     "notifications --order ID | --customer ID", "list the notifications sent"},
    {"channel", cli_cmd_channel, s_no_opts, "channel CUSTOMER email|sms",
     "choose how a customer is notified"},
    {"status", cli_cmd_status, cli_status_opts, "status [PROCESS ...] [--watch [SEC]]",
     "health of the broker and services: state, rates, lag (exit 1 if any is not up)"},
    {"metrics", cli_cmd_metrics, s_no_opts, "metrics SERVICE",
     "print a service's metrics (Prometheus text)"},
    {"dlq", cli_cmd_dlq, s_no_opts, "dlq list SERVICE | dlq show|retry|drop SERVICE ID",
     "list, show, retry or drop a service's dead letters"},
    {"events", cli_cmd_events, cli_events_opts,
     "events SERVICE [--from SEQ] [--topic PREFIX] [--follow]",
     "print the events a service published, from its outbox"},
    {"resync", cli_cmd_resync, cli_resync_opts, "resync SERVICE TOPIC [--to SEQ]",
     "skip a subscriber past events its producer no longer retains"},
    {"tail", cli_cmd_tail, cli_tail_opts, "tail [TOPIC_PREFIX ...] [--count N] [--timeout SEC]",
     "print live events"},
    {"load", cli_cmd_load, cli_load_opts,
     "load --orders N [--rate R] [--skus K] [--pay METHOD:WEIGHT,...] [--window W] "
     "[--declines PCT] [--timeout SEC]",
     "place N orders open-loop and report orders/s and place-to-terminal latency"},
    {"scenario", cli_cmd_scenario, s_no_opts, "scenario FILE",
     "run a scripted scenario (docs/SCENARIOS.md); exit 1 if a step failed"},
    {"console", cli_cmd_console, cli_console_opts, "console [--listen HOST:PORT]",
     "serve a read-only web page of the cluster: processes, orders, traces, dead letters"},
    {"keygen", cli_cmd_keygen, cli_keygen_opts, "keygen NAME [--dir DIR]",
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

static const cli_command_t *
s_find_command (const char *name)
{
    for (size_t i = 0; i < COMMANDS_COUNT; i++)
        if (strcmp (s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

static int
s_cmd_help (cli_t *self)
{
    if (cli_expect (self, 0, 1))
        return 1;
    const cli_command_t *command =
        self->args.n_positional ? s_find_command (cli_arg (self, 0)) : NULL;
    if (self->args.n_positional && !command)
        return cli_fail ("unknown command: %s", cli_arg (self, 0));
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
s_load_config (cli_t *self)
{
    char error[512];
    self->config = oms_config_new (cli_args_value (&self->args, "--config"), error, sizeof error);
    if (!self->config)
        return cli_fail ("%s", error);
    const char *sets[CLI_ARGS_MAX];
    size_t n = cli_args_values (&self->args, "--set", sets, CLI_ARGS_MAX);
    for (size_t i = 0; i < n; i++)
        if (oms_config_set_flag (self->config, sets[i], error, sizeof error))
            return cli_fail ("%s", error);
    int64_t timeout_ms = oms_config_int (self->config, "cli/timeout_ms");
    self->timeout_ms = timeout_ms < 1 ? 1 : timeout_ms > INT_MAX ? INT_MAX : (int) timeout_ms;
    cli_client_secure (self->config);
    return 0;
}

//  Parses everything but the command name: the options before it and after.
static int
s_parse (cli_t *self, int argc, char **argv, int command_at)
{
    const cli_opt_t *const tables[] = {s_global_opts, self->command->opts, NULL};
    char *rest[CLI_ARGS_MAX + 1];
    char error[256];
    if (argc - 1 > CLI_ARGS_MAX)
        return cli_fail ("too many arguments");
    int n = 0;
    for (int i = 1; i < argc; i++)
        if (i != command_at)
            rest[n++] = argv[i];
    if (cli_args_parse (&self->args, n, rest, tables, error, sizeof error))
        return cli_fail ("%s; usage: oms %s", error, self->command->synopsis);
    return 0;
}

//  Runs the command with what it was given; `self` lives in main's frame
//  (it is large: the parsed arguments).
static int
s_run (cli_t *self, int argc, char **argv)
{
    int command_at = s_command_index (argc, argv);
    if (command_at >= argc) {
        bool help = false;
        for (int i = 1; i < argc; i++)
            help = help || strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0;
        s_usage (help ? stdout : stderr);
        return help ? 0 : 1;
    }
    self->command = s_find_command (argv[command_at]);
    if (!self->command) {
        char shown[64];
        return cli_fail ("unknown command: %s (see oms help)",
                         cli_printable (argv[command_at], shown, sizeof shown));
    }
    if (s_parse (self, argc, argv, command_at))
        return 1;
    if (cli_args_has (&self->args, "-h") || cli_args_has (&self->args, "--help")) {
        printf ("usage: oms %s\n%s\n", self->command->synopsis, self->command->summary);
        return 0;
    }
    self->json = cli_args_has (&self->args, "--json");
    int rc = self->command->run == s_cmd_help ? 0 : s_load_config (self);
    if (rc == 0)
        rc = self->command->run (self);
    oms_config_destroy (&self->config);
    return rc;
}

int
main (int argc, char **argv)
{
    //  Leave SIGINT and SIGTERM to their defaults; `oms tail` sets its own.
    zsys_handler_set (NULL);
    cli_t self = {0};
    int rc = s_run (&self, argc, argv);
    if (fflush (stdout) != 0 || ferror (stdout)) {
        fprintf (stderr, "oms: cannot write the output\n");
        rc = 1;
    }
    return rc;
}
