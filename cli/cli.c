/*  cli: the helpers every command shares (see cli.h).
 */
#include "cli.h"

#include <string.h>

int
cli_expect (cli_t *self, size_t min, size_t max)
{
    size_t n = self->args.n_positional;
    if (n >= min && n <= max)
        return 0;
    return cli_fail ("%s; usage: oms %s", n < min ? "missing argument" : "too many arguments",
                     self->command->synopsis);
}

const char *
cli_arg (cli_t *self, size_t index)
{
    return self->args.positional[index];
}

int
cli_usage (cli_t *self)
{
    return cli_fail ("usage: oms %s", self->command->synopsis);
}

int
cli_check_service (const char *name)
{
    char shown[64];
    if (oms_config_is_service (name))
        return 0;
    return cli_fail ("unknown service: %s (one of order, inventory, payment, notification)",
                     cli_printable (name, shown, sizeof shown));
}

int
cli_check (int rc, const char *error)
{
    return rc == 0 ? 0 : cli_fail ("%s", error);
}

void
cli_request_init (oms_request_t *req, const char *cmd)
{
    memset (req, 0, sizeof *req);
    snprintf (req->cmd, sizeof req->cmd, "%s", cmd);
}

cli_reply_t *
cli_ask (cli_t *self, const char *service, const oms_request_t *req, int attempts, char *error,
         size_t size)
{
    cli_reply_t *reply = NULL;
    cli_client_t *client =
        cli_client_new (service, oms_config_service (self->config, service, "api"), error, size);
    if (client && cli_client_call (client, req, self->timeout_ms, attempts, &reply, error, size))
        reply = NULL;
    else if (reply && !cli_reply_ok (reply)) {
        cli_reply_error (reply, error, size);
        cli_reply_destroy (&reply);
    }
    cli_client_destroy (&client);
    return reply;
}

cli_reply_t *
cli_call (cli_t *self, const char *service, const oms_request_t *req, int attempts)
{
    char error[512];
    cli_reply_t *reply = cli_ask (self, service, req, attempts, error, sizeof error);
    if (!reply)
        cli_fail ("%s", error);
    return reply;
}

int
cli_malformed (const char *service, const char *field)
{
    return cli_fail ("%s service sent a malformed reply: %s", service, field);
}
