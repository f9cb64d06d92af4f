/*  card: a deterministic test acquirer. A number ending in 0002 is
    declined, one ending in 9995 fails for insufficient funds, any other is
    approved. Only the last four digits ever reach payment.
*/
#include "../payment_methods.h"
#include <stdio.h>
#include <string.h>

static int
s_charge (oms_ctx_t *ctx, const payment_charge_t *charge, char *reason, size_t size)
{
    (void) ctx;
    if (strcmp (charge->card_last4, "0002") == 0) {
        snprintf (reason, size, "card declined");
        return PAYMENT_DECLINED;
    }
    if (strcmp (charge->card_last4, "9995") == 0) {
        snprintf (reason, size, "insufficient funds");
        return PAYMENT_DECLINED;
    }
    if (strlen (charge->card_last4) != 4) {
        snprintf (reason, size, "no card number");
        return PAYMENT_DECLINED;
    }
    return PAYMENT_APPROVED;
}

const payment_method_t payment_card = {"card", s_charge, payment_refund_elsewhere};
