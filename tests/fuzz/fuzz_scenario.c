/*  fuzz_scenario: a scenario file as `oms scenario FILE` parses it, through
    cli_scenario_new (nothing runs). The input is the file's text; "$RUN"
    in it is replaced by a run id.

    Beyond "never crash", what parses must hold together: each line gives at
    most one step or one error, steps keep their line order, every string in
    a step is terminated, order indexes name orders, and a step that sends a
    request (stock, wallet, channel, place, expect-reject) builds one that
    oms_request_encode accepts, since the parser promises that a step that
    parses is never refused for its form.
*/
#include <math.h>
#include <string.h>

#include "cli_scenario.h"
#include "fuzz.h"

#define TERMINATED(s) (memchr ((s), 0, sizeof (s)) != NULL)

static void
s_check_encodes (const cli_step_t *step)
{
    static oms_request_t req;
    memset (&req, 0, sizeof req);
    switch (step->kind) {
    case CLI_STEP_STOCK:
        strcpy (req.cmd, "stock.set");
        memcpy (req.sku, step->sku, sizeof req.sku);
        req.qty = step->amount;
        req.price_cents = step->price;
        break;
    case CLI_STEP_WALLET:
        strcpy (req.cmd, "wallet.credit");
        memcpy (req.customer, step->customer, sizeof req.customer);
        req.amount_cents = step->amount;
        break;
    case CLI_STEP_CHANNEL:
        strcpy (req.cmd, "channel.set");
        memcpy (req.customer, step->customer, sizeof req.customer);
        memcpy (req.channel, step->channel, sizeof req.channel);
        break;
    case CLI_STEP_PLACE:
    case CLI_STEP_REJECT:
        strcpy (req.cmd, "place");
        memcpy (req.customer, step->customer, sizeof req.customer);
        memcpy (req.items, step->items, sizeof req.items);
        req.n_items = step->n_items;
        memcpy (req.method, step->method, sizeof req.method);
        memcpy (req.card, step->card, sizeof req.card);
        //  The runner makes up a request id when the step gives none.
        if (step->request_id[0])
            memcpy (req.request_id, step->request_id, sizeof req.request_id);
        else
            strcpy (req.request_id, "3f2a0c5e-9d1b-4c7a-8e6f-0a1b2c3d4e5f");
        break;
    default:
        return;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    FUZZ_ASSERT (oms_request_encode (&req, &buffer) == 0,
                 "a parsed step builds a request the codec refuses");
    msgpack_sbuffer_destroy (&buffer);
}

static void
s_check_step (cli_scenario_t *scenario, const cli_step_t *step, size_t lines)
{
    FUZZ_ASSERT (step->kind <= CLI_STEP_EXPECT_SETTLED, "a step of no kind");
    FUZZ_ASSERT (step->line >= 1 && step->line <= lines, "a step on no line of the input");
    FUZZ_ASSERT (TERMINATED (step->source) && TERMINATED (step->key) && TERMINATED (step->value) &&
                     TERMINATED (step->sku) && TERMINATED (step->customer) &&
                     TERMINATED (step->method) && TERMINATED (step->card) &&
                     TERMINATED (step->request_id) && TERMINATED (step->channel) &&
                     TERMINATED (step->kind_filter) && TERMINATED (step->status) &&
                     TERMINATED (step->action) && TERMINATED (step->process) &&
                     TERMINATED (step->text),
                 "a step string without its NUL");
    FUZZ_ASSERT (step->n_items <= OMS_ITEMS_MAX, "too many items");
    if (step->order >= 0)
        FUZZ_ASSERT (cli_scenario_order_name (scenario, step->order)[0], "an unnamed order");
    if (step->other >= 0)
        FUZZ_ASSERT (cli_scenario_order_name (scenario, step->other)[0], "an unnamed order");
    FUZZ_ASSERT (isfinite (step->seconds) && step->seconds >= 0 && step->seconds <= 3600,
                 "seconds out of range");
    s_check_encodes (step);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cli_scenario_t *scenario = cli_scenario_new ((const char *) data, size, "fz1");
    FUZZ_ASSERT (scenario, "refused a file under the size limit");

    size_t lines = 0;
    for (size_t at = 0; at < size; lines++) {
        const uint8_t *end = memchr (data + at, '\n', size - at);
        at = end ? (size_t) (end - data) + 1 : size;
    }
    size_t steps = cli_scenario_steps (scenario);
    size_t errors = cli_scenario_errors (scenario);
    FUZZ_ASSERT (steps <= CLI_SCENARIO_STEPS_MAX, "too many steps");
    FUZZ_ASSERT (steps + errors <= lines, "more steps and errors than lines");

    size_t previous = 0;
    for (size_t i = 0; i < steps; i++) {
        const cli_step_t *step = cli_scenario_step (scenario, i);
        FUZZ_ASSERT (step->line > previous, "steps out of line order");
        previous = step->line;
        s_check_step (scenario, step, lines);
    }
    for (size_t i = 0; i < errors && i < CLI_SCENARIO_ERRORS_MAX; i++) {
        size_t line = 0;
        const char *message = cli_scenario_error (scenario, i, &line);
        FUZZ_ASSERT (message && *message, "an error without a message");
        FUZZ_ASSERT (line >= 1 && line <= lines, "an error on no line of the input");
    }
    cli_scenario_destroy (&scenario);
    return 0;
}
