/*  cli_legacy: adapters to the command modules not yet on cli_t. */
#include "cli.h"
#include "cli_load.h"
#include "cli_scenario.h"

int
cli_cmd_load (cli_t *self)
{
    if (cli_expect (self, 0, 0))
        return 1;
    return cli_load (self->config, &self->args, self->json);
}
int
cli_cmd_scenario (cli_t *self)
{
    if (cli_expect (self, 1, 1))
        return 1;
    if (self->json)
        return cli_fail ("scenario has no --json output");
    cli_scenario_env_t env = {self->config, cli_args_value (&self->args, "--config"),
                              self->timeout_ms};
    return cli_scenario_main (cli_arg (self, 0), &env);
}
