/*  cli: what every `oms` command is given, the helpers they share, and the
    commands themselves, one family to a file.

    cli/oms.c holds the one table of commands (name, options, usage,
    handler) and main(). A handler gets a cli_t: the configuration, its
    parsed command line and the global flags; it returns the process exit
    code: 0 success, 1 error (message on stderr as "oms: ..."), 2 only where
    docs/CLI.md says so. Every request to a service goes through cli_call,
    every subscription to the bus through cli_subscribe (cli_client.h).
*/
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include "cli_args.h"
#include "cli_client.h"
#include "cli_json.h"
#include "oms_config.h"
#include "oms_proto.h"

#define CLI_STOCK_QTY_MAX (INT64_C (1) << 53) //  the protocol's bound on stock levels

typedef struct _cli_command_t cli_command_t;

//  The running command and everything it was given.
typedef struct {
    oms_config_t *config;
    cli_args_t args;
    bool json;
    int timeout_ms; //  cli/timeout_ms, the longest wait for one reply
    const cli_command_t *command;
} cli_t;

struct _cli_command_t {
    const char *name;
    int (*run) (cli_t *self);
    const cli_opt_t *opts; //  besides the global ones
    const char *synopsis;
    const char *summary;
};

//  Checks the number of positional arguments: 0, or 1 after printing
//  "missing argument" / "too many arguments" with the command's usage.
int cli_expect (cli_t *self, size_t min, size_t max);
//  Positional argument `index` (< args.n_positional).
const char *cli_arg (cli_t *self, size_t index);
//  Prints "usage: oms SYNOPSIS" as an error; returns 1.
int cli_usage (cli_t *self);
//  Checks that `name` is a service; 0, or 1 after printing why not.
int cli_check_service (const char *name);
//  The result of a cli_args check: 0, or 1 after printing `error`.
int cli_check (int rc, const char *error);

//  A request for `cmd` with every other field zero.
void cli_request_init (oms_request_t *req, const char *cmd);
//  One request to `service` (see cli_client_call for `attempts`). Returns
//  the accepted reply (caller owns it), or NULL after printing why: no
//  answer, a malformed reply, or the service's refusal.
cli_reply_t *cli_call (cli_t *self, const char *service, const oms_request_t *req, int attempts);
//  The same, silent: NULL with `error` filled.
cli_reply_t *cli_ask (cli_t *self, const char *service, const oms_request_t *req, int attempts,
                      char *error, size_t size);
//  Prints "<service> service sent a malformed reply: <field>"; returns 1.
int cli_malformed (const char *service, const char *field);

//  The commands, by family. Each file documents its own.
//  cli_orders.c
extern const cli_opt_t cli_place_opts[], cli_wait_opts[];
int cli_cmd_place (cli_t *self);
int cli_cmd_get (cli_t *self);
int cli_cmd_wait (cli_t *self);
int cli_cmd_cancel (cli_t *self);
extern const cli_opt_t cli_orders_opts[];
int cli_cmd_orders (cli_t *self);
//  The orders.list request of the orders options in `args` (the console's
//  filters too). 0, or -1 with `error` filled.
int cli_orders_request (const cli_args_t *args, oms_request_t *req, char *error, size_t size);
//  Whether an entry of an orders.list answer has every field a listing
//  shows: 0, or 1 after printing what is malformed.
int cli_orders_check (const msgpack_object *order);
//  cli_accounts.c
extern const cli_opt_t cli_stock_opts[], cli_notifications_opts[];
int cli_cmd_stock (cli_t *self);
int cli_cmd_wallet (cli_t *self);
int cli_cmd_notifications (cli_t *self);
int cli_cmd_channel (cli_t *self);
//  cli_status.c
extern const cli_opt_t cli_status_opts[];
//  The cluster as `oms status` sees it, for the console too: the processes
//  named by the command's positional arguments (every one when none).
typedef struct _cli_cluster_t cli_cluster_t;
//  One subscription of a process, as far as anyone knows.
typedef struct {
    char topic[OMS_NAME_MAX + 1];
    const char *producer;
    bool has_position, has_head, stopped; //  stopped: its producer's epoch changed (PROTOCOL.md 4)
    uint64_t position, head;
} cli_sub_t;
//  What a row of `oms status` shows. Borrowed: valid until the next look.
typedef struct {
    const char *name, *state, *host;
    bool up, has_rates;
    uint64_t in_per_s, out_per_s;
    const cli_sub_t *subs;
    size_t n_subs;
} cli_process_t;
//  NULL after printing why (an unknown process, the bus unreachable).
cli_cluster_t *cli_cluster_new (cli_t *cli);
void cli_cluster_destroy (cli_cluster_t **self_p);
//  Asks every process once (at most min(cli/timeout_ms, 1 s), listening for
//  the broker's heartbeat); returns how many are not up.
size_t cli_cluster_look (cli_cluster_t *self);
//  The `index`th process shown, as the last look saw it; false past the end.
bool cli_cluster_process (cli_cluster_t *self, size_t index, cli_process_t *process);
int cli_cmd_status (cli_t *self);
int cli_cmd_metrics (cli_t *self);
//  cli_dlq.c
int cli_cmd_dlq (cli_t *self);
//  Reads one entry of a dlq.list answer; NULL, or the field that is wrong.
//  An entry without an error leaves *error and *len as they were.
const char *cli_dlq_entry (const msgpack_object *entry, uint64_t *id, char *topic, uint64_t *ts,
                           const char **error, size_t *len);
//  cli_events.c
extern const cli_opt_t cli_events_opts[], cli_resync_opts[];
int cli_cmd_events (cli_t *self);
int cli_cmd_resync (cli_t *self);
//  cli_tail.c
extern const cli_opt_t cli_tail_opts[];
int cli_cmd_tail (cli_t *self);
//  cli_load.c
extern const cli_opt_t cli_load_opts[];
int cli_cmd_load (cli_t *self);
//  cli_scenario_run.c
int cli_cmd_scenario (cli_t *self);
//  cli_console.c
extern const cli_opt_t cli_console_opts[];
int cli_cmd_console (cli_t *self);
//  cli_trace.c
int cli_cmd_trace (cli_t *self);
//  cli_keygen.c
extern const cli_opt_t cli_keygen_opts[];
int cli_cmd_keygen (cli_t *self);

#endif
