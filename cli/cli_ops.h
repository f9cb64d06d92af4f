/*  cli_ops: the operator's commands: cluster health (`oms status`), a
    service's metrics, its dead letters, its event log, and resynchronising
    a subscriber after its producer's retention dropped what it needed.

    Each command is run through cli_ops_run with its arguments already parsed
    against the global options and its own table below; docs/CLI.md gives
    the output formats and docs/OPERATIONS.md the procedures.
*/
#ifndef CLI_OPS_H
#define CLI_OPS_H

#include <stdbool.h>
#include "cli_args.h"
#include "oms_config.h"

#define CLI_STATUS_SYNOPSIS "status [PROCESS ...] [--watch [SEC]]"
#define CLI_STATUS_SUMMARY                                                                         \
    "health of the broker and services: state, rates, lag (exit 1 if any is not up)"
#define CLI_METRICS_SYNOPSIS "metrics SERVICE"
#define CLI_METRICS_SUMMARY  "print a service's metrics (Prometheus text)"
#define CLI_DLQ_SYNOPSIS     "dlq list SERVICE | dlq show|retry|drop SERVICE ID"
#define CLI_DLQ_SUMMARY      "list, show, retry or drop a service's dead letters"
#define CLI_EVENTS_SYNOPSIS  "events SERVICE [--from SEQ] [--topic PREFIX] [--follow]"
#define CLI_EVENTS_SUMMARY   "print the events a service published, from its outbox"
#define CLI_RESYNC_SYNOPSIS  "resync SERVICE TOPIC [--to SEQ]"
#define CLI_RESYNC_SUMMARY   "skip a subscriber past events its producer no longer retains"

//  Runs the operator command `name` (status, metrics, dlq, events, resync).
//  Returns the process exit code: 0, or 1 with a message on stderr.
int cli_ops_run (const char *name, oms_config_t *config, const cli_args_t *args, bool json);

#endif
