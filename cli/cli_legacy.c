/*  cli_legacy: adapters to the command modules not yet on cli_t. */
#include "cli.h"
#include "cli_load.h"

int
cli_cmd_load (cli_t *self)
{
    if (cli_expect (self, 0, 0))
        return 1;
    return cli_load (self->config, &self->args, self->json);
}
