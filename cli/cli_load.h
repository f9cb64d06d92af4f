/*  cli_load: `oms load`, an open-loop load generator for the order saga.

    It places orders at a fixed rate (or as fast as the order service takes
    them) over one DEALER, learns from order.confirmed and order.cancelled
    events when each order is terminal, and reports throughput and the
    latency from placement to terminal state.
*/
#ifndef CLI_LOAD_H
#define CLI_LOAD_H

#include <stdbool.h>
#include "cli_args.h"
#include "oms_config.h"

//  Runs `oms load` with its parsed command line. Every option is checked
//  before anything is sent. Sets up the run's own SKUs (and wallets, when
//  the mix pays by wallet), places the orders, waits until each is terminal
//  or the timeout passes, and prints the report on stdout (one JSON object
//  with `json`). Returns the exit code: 0 when every order was placed and
//  reached CONFIRMED or CANCELLED, else 1 (message on stderr).
int cli_load (oms_config_t *config, const cli_args_t *args, bool json);

#endif
