/*  cli_tail: `oms tail`, live events from the bus, one line each, until a
    count, a timeout or SIGINT/SIGTERM. Undecodable messages are reported on
    stderr, counted and skipped.
*/
#include "cli.h"

#include <string.h>
#include <czmq.h>

#define SECONDS_MAX (7 * 24 * 3600.0)

const cli_opt_t cli_tail_opts[] = {
    {"--count", true, false}, {"--timeout", true, false}, {NULL, false, false}};

//  Prints one ready message. 1 printed, 0 nothing to print, -1 undecodable.
static int
s_tail_one (zsock_t *sub, bool json)
{
    cli_event_t received = {0};
    char error[512];
    int rc = cli_event_recv (sub, &received, error, sizeof error);
    if (rc < 0)
        cli_fail ("%s", error);
    else if (rc == 0) {
        cli_event_print (received.topic, &received.event, &received.raw.data, json);
        putchar ('\n');
        fflush (stdout);
    }
    cli_event_release (&received);
    return rc < 0 ? -1 : rc == 0;
}

int
cli_cmd_tail (cli_t *self)
{
    char error[512];
    const char *count_text = cli_args_value (&self->args, "--count");
    const char *timeout = cli_args_value (&self->args, "--timeout");
    int64_t count = 0;
    double timeout_s = -1;
    for (size_t i = 0; i < self->args.n_positional; i++)
        if (strlen (cli_arg (self, i)) > OMS_NAME_MAX)
            return cli_fail ("topic prefix longer than %d characters", OMS_NAME_MAX);
    if ((count_text && cli_check (cli_parse_int ("--count", count_text, 1, INT64_MAX, &count, error,
                                                 sizeof error),
                                  error)) ||
        (timeout && cli_check (cli_parse_seconds ("--timeout", timeout, SECONDS_MAX, &timeout_s,
                                                  error, sizeof error),
                               error)))
        return 1;
    zsock_t *sub =
        cli_subscribe (self->args.positional, self->args.n_positional, 0, error, sizeof error);
    if (!sub)
        return cli_fail ("%s", error);
    //  After the first socket, so that these replace czmq's own handlers.
    cli_catch_stop_signals ();
    int64_t deadline = timeout_s < 0 ? -1 : zclock_mono () + (int64_t) (timeout_s * 1000);
    int64_t printed = 0;
    size_t undecodable = 0;
    while (!cli_stop_requested () && (count == 0 || printed < count)) {
        int64_t wait = deadline < 0 ? -1 : deadline - zclock_mono ();
        if (deadline >= 0 && wait <= 0)
            break;
        if (!cli_poll (sub, wait))
            continue;
        int rc = s_tail_one (sub, self->json);
        printed += rc > 0;
        undecodable += rc < 0;
    }
    if (undecodable > 0)
        fprintf (stderr, "oms: %zu undecodable message%s skipped\n", undecodable,
                 undecodable == 1 ? "" : "s");
    zsock_destroy (&sub);
    return 0;
}
