/*  cli_scenario: `oms scenario FILE`, a scripted run through the saga.

    A scenario is plain text, one step a line (docs/SCENARIOS.md is the
    reference): set stock and wallets, place and cancel orders, stop, kill
    and start processes through scripts/oms-ctl, and assert what the
    services report, each assertion polled until it holds or its deadline
    passes. The file is untrusted input: it is parsed whole, with every
    value checked as the matching `oms` command checks it, before any step
    runs; a malformed line is reported with its number and nothing runs.
*/
#ifndef CLI_SCENARIO_H
#define CLI_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "oms_config.h"
#include "oms_proto.h"

#define CLI_SCENARIO_FILE_MAX   (1024 * 1024) //  bytes in a file
#define CLI_SCENARIO_LINE_MAX   1024          //  bytes in a line, without its newline
#define CLI_SCENARIO_STEPS_MAX  2000
#define CLI_SCENARIO_ORDERS_MAX 500 //  named orders
#define CLI_SCENARIO_NAME_MAX   32  //  an order's name in the scenario
#define CLI_SCENARIO_TEXT_MAX   OMS_TEXT_MAX
#define CLI_SCENARIO_ERRORS_MAX 50 //  parse errors kept (all are counted)
#define CLI_SCENARIO_RUN_TOKEN  "$RUN"

typedef enum {
    CLI_STEP_CONFIG,               //  config KEY=VALUE
    CLI_STEP_STOCK,                //  stock SKU QTY [price CENTS]
    CLI_STEP_WALLET,               //  wallet CUSTOMER CENTS
    CLI_STEP_CHANNEL,              //  channel CUSTOMER email|sms
    CLI_STEP_PLACE,                //  place NAME customer C items ... pay M [card N] [request R]
    CLI_STEP_REJECT,               //  expect-reject place customer C items ... ["TEXT"]
    CLI_STEP_CANCEL,               //  cancel NAME
    CLI_STEP_WAIT,                 //  wait NAME [within SEC]
    CLI_STEP_PROCESS,              //  stop|kill|start|restart PROCESS
    CLI_STEP_SLEEP,                //  sleep SEC
    CLI_STEP_EXPECT_ORDER,         //  expect order NAME status S [reason "TEXT"] [within SEC]
    CLI_STEP_EXPECT_SAME,          //  expect order NAME same-as NAME
    CLI_STEP_EXPECT_STOCK,         //  expect stock SKU [available N] [reserved N] [sold N] ...
    CLI_STEP_EXPECT_WALLET,        //  expect wallet CUSTOMER CENTS [within SEC]
    CLI_STEP_EXPECT_NOTIFICATIONS, //  expect notifications NAME count N [kind K] [channel C] ...
    CLI_STEP_EXPECT_CONSERVED,     //  expect conserved SKU [TOTAL] [within SEC]
    CLI_STEP_EXPECT_SETTLED        //  expect settled [within SEC]
} cli_step_kind_t;

//  The levels `expect stock` can check, in this order in cli_step_t.level.
enum { CLI_LEVEL_AVAILABLE, CLI_LEVEL_RESERVED, CLI_LEVEL_SOLD, CLI_LEVEL_PRICE, CLI_LEVELS };

//  One parsed step. Only the fields of its kind are set; the rest are zero.
typedef struct {
    cli_step_kind_t kind;
    size_t line;                            //  1-based
    char source[CLI_SCENARIO_LINE_MAX + 1]; //  the step as written, $RUN replaced
    char key[64];                           //  config
    char value[256];                        //  config
    char sku[OMS_SKU_MAX + 1];
    char customer[OMS_ID_MAX + 1];
    int order; //  index of the named order (cli_scenario_order_name), -1 when none
    int other; //  same-as: the other order
    oms_item_t items[OMS_ITEMS_MAX];
    uint32_t n_items;
    char method[OMS_NAME_MAX + 1];
    char card[OMS_CARD_MAX + 1];          //  "" when none
    char request_id[OMS_ID_MAX + 1];      //  "" for a fresh one per run
    char channel[OMS_NAME_MAX + 1];       //  channel; expect notifications filter ("" any)
    char kind_filter[OMS_NAME_MAX + 1];   //  expect notifications filter ("" any)
    char status[16];                      //  expect order
    char action[8];                       //  stop, kill, start, restart
    char process[16];                     //  broker or a service
    char text[CLI_SCENARIO_TEXT_MAX + 1]; //  refusal or reason to match, "" any
    int64_t amount;  //  stock QTY, wallet CENTS, expected balance, count, conserved TOTAL
    bool has_amount; //  conserved: TOTAL given
    int64_t price;   //  stock: 0 when not given (unchanged)
    int64_t level[CLI_LEVELS];
    bool has_level[CLI_LEVELS];
    double seconds; //  sleep; the deadline of wait and of assertions
} cli_step_t;

typedef struct _cli_scenario_t cli_scenario_t;

//  Parses `size` bytes of scenario text. Every occurrence of "$RUN" in a
//  step is replaced by `run_id` first (none when NULL), so that one file
//  can be run many times against one cluster with fresh SKUs and customers.
//  Never fails for bad content: malformed lines are recorded as errors (see
//  cli_scenario_errors). Returns NULL only when `size` exceeds
//  CLI_SCENARIO_FILE_MAX or memory runs out. Caller owns the scenario.
cli_scenario_t *cli_scenario_new (const char *text, size_t size, const char *run_id);

//  Reads and parses a file. NULL with `error` filled when it cannot be read,
//  is larger than CLI_SCENARIO_FILE_MAX, or is not a regular file.
cli_scenario_t *cli_scenario_load (const char *path, const char *run_id, char *error, size_t size);

void cli_scenario_destroy (cli_scenario_t **self_p);

size_t cli_scenario_steps (cli_scenario_t *self);
//  The step at `index` (< cli_scenario_steps). Borrowed: lives as long as
//  the scenario.
const cli_step_t *cli_scenario_step (cli_scenario_t *self, size_t index);
//  The name given by `place` to the order `index`.
const char *cli_scenario_order_name (cli_scenario_t *self, int index);

//  How many lines were malformed.
size_t cli_scenario_errors (cli_scenario_t *self);
//  The message of error `index` (< min (errors, CLI_SCENARIO_ERRORS_MAX)),
//  and its line in *line. Borrowed.
const char *cli_scenario_error (cli_scenario_t *self, size_t index, size_t *line);

//  Where and how a scenario runs. `config` is the cluster's configuration
//  (borrowed); `config_path` the file it came from, or NULL, passed on to
//  scripts/oms-ctl as OMS_CONFIG; `timeout_ms` the longest wait for one
//  reply (cli/timeout_ms); `progress` the terminal on which a live line
//  shows the step running and how long it has waited, or NULL.
typedef struct {
    oms_config_t *config;
    const char *config_path;
    int timeout_ms;
    FILE *progress;
} cli_scenario_env_t;

//  Runs every step in order and writes one line per step to `out`,
//  "line N: pass: STEP" (with a detail in parentheses) or
//  "line N: fail: STEP: REASON", then "P passed, F failed". A failed step
//  does not stop the run. When the scenario has parse errors nothing runs:
//  each is reported as a failed line and counted. Returns the exit code:
//  0 when every step passed, else 1.
int cli_scenario_run (cli_scenario_t *self, const cli_scenario_env_t *env, FILE *out);

//  Between cli_scenario.c, cli_scenario_run.c and cli_scenario_ctl.c only.
//
//  An assertion (wait and the expect forms) is a row of the parser's table
//  of steps that names its probe, which the runner polls until it holds or
//  the step's deadline passes. A probe looks once: 1 when the assertion
//  holds, 0 not yet, -1 never; the detail says what it saw.
typedef struct _cli_run_t cli_run_t;
typedef struct _cli_detail_t cli_detail_t;
typedef int cli_probe_t (cli_run_t *run, const cli_step_t *step, int timeout_ms,
                         cli_detail_t *detail);
cli_probe_t cli_probe_wait, cli_probe_order, cli_probe_stock, cli_probe_wallet,
    cli_probe_notifications, cli_probe_conserved, cli_probe_settled;
//  The probe of an assertion step, with whether the orders it names must have
//  been placed in *needs_order; NULL for an action.
cli_probe_t *cli_scenario_probe (cli_step_kind_t kind, bool *needs_order);

//  Runs scripts/oms-ctl ACTION PROCESS against the scenario's cluster. 0, or
//  -1 with `detail` filled.
int cli_scenario_ctl (const cli_scenario_env_t *env, const char *action, const char *process,
                      char *detail, size_t size);

#endif
