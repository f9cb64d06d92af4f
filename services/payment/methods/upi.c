/*  upi: instant bank transfer. Approves up to the per-transaction limit of
    1,00,000 rupees (10,000,000 paise); above it the bank declines.
*/
#include "../payment_methods.h"
#include <stdio.h>

#define UPI_LIMIT_CENTS INT64_C (10000000)

static int
s_charge (oms_ctx_t *ctx, const payment_charge_t *charge, char *reason, size_t size)
{
    (void) ctx;
    if (charge->amount_cents > UPI_LIMIT_CENTS) {
        snprintf (reason, size, "over the upi limit of %lld", (long long) UPI_LIMIT_CENTS);
        return PAYMENT_DECLINED;
    }
    return PAYMENT_APPROVED;
}

const payment_method_t payment_upi = {"upi", s_charge, payment_refund_elsewhere};
