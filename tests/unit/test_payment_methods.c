/*  Unit tests of payment's method registry against the protocol: order
    refuses at placement a method not in oms_payment_methods, so payment
    must have a method for every name there, and one outside it could never
    be asked for.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "payment_methods.h"

static bool
s_listed (const char *name)
{
    for (const char *const *listed = oms_payment_methods; *listed; listed++)
        if (strcmp (*listed, name) == 0)
            return true;
    return false;
}

Test (payment_methods, has_a_method_for_every_name_the_protocol_lists)
{
    cr_assert_not_null (oms_payment_methods[0], "the protocol lists some methods");
    for (const char *const *name = oms_payment_methods; *name; name++) {
        const payment_method_t *method = payment_method (*name);
        cr_assert_not_null (method, "no payment method %s", *name);
        cr_expect_str_eq (method->name, *name);
        cr_expect_not_null (method->charge, "%s charges", *name);
        cr_expect_not_null (method->refund, "%s refunds", *name);
    }
}

Test (payment_methods, has_no_method_the_protocol_does_not_list)
{
    for (const payment_method_t *const *method = payment_methods; *method; method++)
        cr_expect (s_listed ((*method)->name), "%s is not in oms_payment_methods", (*method)->name);
}

Test (payment_methods, finds_nothing_for_an_unknown_name)
{
    cr_expect_null (payment_method ("bitcoin"));
    cr_expect_null (payment_method (""));
}
