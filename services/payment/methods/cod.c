/*  cod: cash on delivery. Approves at once; the money is collected on
    delivery, so a refund voids what would have been collected.
*/
#include "../payment_methods.h"

static int
s_charge (oms_ctx_t *ctx, const payment_charge_t *charge, char *reason, size_t size)
{
    (void) ctx;
    (void) charge;
    (void) reason;
    (void) size;
    return PAYMENT_APPROVED;
}

const payment_method_t payment_cod = {"cod", s_charge, payment_refund_elsewhere};
