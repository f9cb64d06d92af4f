/*  Unit tests of cli_trace: the causal order of an order's events, whatever
    their timestamps say, and what an order in flight waits for.
*/
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cli_trace.h"

#define N(array) (sizeof (array) / sizeof (array)[0])

//  Orders `nodes` and checks the result is `expected` (indexes into nodes).
static void
s_expect_order (const cli_trace_node_t *nodes, size_t n, const size_t *expected, const char *why)
{
    size_t order[16];
    cr_assert_leq (n, 16);
    cr_assert_eq (cli_trace_order (nodes, n, order), 0);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq (order[k], expected[k], "%s: position %zu is %s, expected %s", why, k,
                      nodes[order[k]].id, nodes[expected[k]].id);
}

Test (trace, orders_a_saga_by_its_causes)
{
    //  Given shuffled, as four services' answers would come.
    const cli_trace_node_t nodes[] = {
        {"order/order.confirmed/4", "payment/payment.completed/3", 400},
        {"notification/notification.sent/9", "order/order.confirmed/4", 500},
        {"inventory/stock.reserved/2", "order/order.placed/1", 200},
        {"payment/payment.completed/3", "inventory/stock.reserved/2", 300},
        {"order/order.placed/1", "cmd/r-1", 100},
    };
    const size_t expected[] = {4, 2, 3, 0, 1};
    s_expect_order (nodes, N (nodes), expected, "a saga");
}

Test (trace, a_cause_comes_first_whatever_the_clocks_say)
{
    //  payment's clock is behind: its event is stamped before its cause.
    const cli_trace_node_t nodes[] = {
        {"payment/payment.completed/3", "inventory/stock.reserved/2", 150},
        {"inventory/stock.reserved/2", "order/order.placed/1", 200},
        {"order/order.placed/1", "", 100},
    };
    const size_t expected[] = {2, 1, 0};
    s_expect_order (nodes, N (nodes), expected, "skewed clocks");
}

Test (trace, siblings_go_by_time)
{
    //  payment.failed causes order.cancelled and notification.sent; the
    //  cancellation causes inventory's release (stock.updated is not an
    //  order event; here a refund stands for a second child).
    const cli_trace_node_t nodes[] = {
        {"order/order.placed/1", "cmd/r", 100},
        {"payment/payment.failed/1", "order/order.placed/1", 200},
        {"notification/notification.sent/1", "payment/payment.failed/1", 260},
        {"order/order.cancelled/1", "payment/payment.failed/1", 250},
        {"notification/notification.sent/2", "order/order.cancelled/1", 255},
    };
    //  cancelled (250) before notification 1 (260); notification 2 is free
    //  once cancelled is placed and earlier (255) than notification 1.
    const size_t expected[] = {0, 1, 3, 4, 2};
    s_expect_order (nodes, N (nodes), expected, "siblings");
}

Test (trace, events_whose_cause_is_missing_are_roots)
{
    //  order.placed was pruned: stock.reserved's cause is not in the trace.
    const cli_trace_node_t nodes[] = {
        {"payment/payment.completed/3", "inventory/stock.reserved/2", 300},
        {"inventory/stock.reserved/2", "order/order.placed/1", 200},
        {"order/order.confirmed/1", "", 50},
    };
    const size_t expected[] = {2, 1, 0};
    s_expect_order (nodes, N (nodes), expected, "missing cause");
}

Test (trace, equal_times_keep_the_input_order)
{
    const cli_trace_node_t nodes[] = {
        {"a/x/1", "", 100},
        {"b/x/1", "", 100},
        {"c/x/1", "", 100},
    };
    const size_t expected[] = {0, 1, 2};
    s_expect_order (nodes, N (nodes), expected, "ties");
}

Test (trace, a_cycle_is_broken_not_looped_on)
{
    //  Only a broken store names causes in a circle; every event still
    //  comes out once.
    const cli_trace_node_t nodes[] = {
        {"a/x/1", "b/x/1", 300},
        {"b/x/1", "a/x/1", 200},
        {"c/x/1", "c/x/1", 100}, //  its own cause: a root
    };
    const size_t expected[] = {2, 1, 0};
    s_expect_order (nodes, N (nodes), expected, "cycle");
}

Test (trace, orders_nothing)
{
    size_t order[1];
    cr_assert_eq (cli_trace_order (NULL, 0, order), 0);
}

Test (trace, knows_what_an_order_waits_for)
{
    const char *service = NULL;
    size_t since = 0;
    const char *placed[] = {"order.placed"};
    cr_assert (cli_trace_waiting ("PENDING", placed, 1, &service, &since));
    cr_assert_str_eq (service, "inventory");
    cr_assert_eq (since, 0);

    const char *reserved[] = {"order.placed", "stock.reserved"};
    cr_assert (cli_trace_waiting ("RESERVED", reserved, 2, &service, &since));
    cr_assert_str_eq (service, "payment");
    cr_assert_eq (since, 1);

    const char *paid[] = {"order.placed", "stock.reserved", "payment.completed"};
    cr_assert (cli_trace_waiting ("RESERVED", paid, 3, &service, &since));
    cr_assert_str_eq (service, "order", "payment answered; order has yet to apply it");
    cr_assert_eq (since, 2);

    const char *rejected[] = {"order.placed", "stock.rejected"};
    cr_assert (cli_trace_waiting ("PENDING", rejected, 2, &service, &since));
    cr_assert_str_eq (service, "order");
    cr_assert_eq (since, 1);

    cr_assert (cli_trace_waiting ("PENDING", NULL, 0, &service, &since));
    cr_assert_str_eq (service, "inventory");
    cr_assert_eq (since, SIZE_MAX, "order.placed is not in the trace");

    cr_assert_not (cli_trace_waiting ("CONFIRMED", paid, 3, &service, &since));
    cr_assert_not (cli_trace_waiting ("CANCELLED", rejected, 2, &service, &since));
    cr_assert_not (cli_trace_waiting ("", placed, 1, &service, &since), "status unknown");
}
