/*  The registry of payment methods. Every name in the protocol's
    oms_payment_methods has its method here, and nothing else is here
    (tests/unit/test_payment_methods.c checks both).
*/
#include "payment_methods.h"
#include <string.h>

extern const payment_method_t payment_card;
extern const payment_method_t payment_wallet;
extern const payment_method_t payment_upi;
extern const payment_method_t payment_cod;

const payment_method_t *const payment_methods[] = {
    &payment_card, &payment_wallet, &payment_upi, &payment_cod, NULL,
};

int
payment_refund_elsewhere (oms_ctx_t *ctx, const payment_charge_t *charge)
{
    (void) ctx;
    (void) charge;
    return 0;
}

const payment_method_t *
payment_method (const char *name)
{
    for (const payment_method_t *const *method = payment_methods; *method; method++)
        if (strcmp ((*method)->name, name) == 0)
            return *method;
    return NULL;
}
