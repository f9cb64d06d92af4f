/*  Unit tests of oms_limit: token buckets per client, refill over time,
    independence of clients and the bounded table that forgets the least
    recently seen client.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "oms_limit.h"

#define SECOND 1000000000ull

//  Takes `count` tokens for `key` at `now`; returns how many were granted.
static int
s_take (oms_limit_t *limit, const char *key, int count, uint64_t now)
{
    int granted = 0;
    for (int i = 0; i < count; i++)
        granted += oms_limit_take (limit, key, strlen (key), now);
    return granted;
}

Test (limit, grants_the_burst_then_refuses)
{
    oms_limit_t *limit = oms_limit_new (10, 5, 16);
    cr_assert_not_null (limit);
    cr_assert_eq (s_take (limit, "alice", 5, SECOND), 5);
    cr_assert_not (oms_limit_take (limit, "alice", 5, SECOND));
    cr_assert_not (oms_limit_take (limit, "alice", 5, SECOND));
    oms_limit_destroy (&limit);
}

Test (limit, refills_at_the_rate)
{
    oms_limit_t *limit = oms_limit_new (10, 5, 16);
    cr_assert_eq (s_take (limit, "alice", 5, SECOND), 5);
    //  A tenth of a second brings one token at 10 a second.
    cr_assert_not (oms_limit_take (limit, "alice", 5, SECOND + SECOND / 20));
    cr_assert (oms_limit_take (limit, "alice", 5, SECOND + SECOND / 10));
    cr_assert_not (oms_limit_take (limit, "alice", 5, SECOND + SECOND / 10));
    //  A second later the bucket is full: the burst, not the rate.
    cr_assert_eq (s_take (limit, "alice", 20, 2 * SECOND + SECOND / 10), 5);
    oms_limit_destroy (&limit);
}

Test (limit, sustained_requests_get_the_rate)
{
    oms_limit_t *limit = oms_limit_new (10, 1, 16);
    int granted = 0;
    //  Ten seconds of a request every millisecond.
    for (uint64_t ms = 0; ms < 10000; ms++)
        granted += oms_limit_take (limit, "alice", 5, SECOND + ms * 1000000);
    cr_assert_eq (granted, 100);
    oms_limit_destroy (&limit);
}

Test (limit, refill_stops_at_the_burst)
{
    oms_limit_t *limit = oms_limit_new (10, 5, 16);
    cr_assert_eq (s_take (limit, "alice", 5, SECOND), 5);
    cr_assert_eq (s_take (limit, "alice", 100, 1000 * SECOND), 5);
    oms_limit_destroy (&limit);
}

Test (limit, refused_requests_do_not_extend_the_wait)
{
    oms_limit_t *limit = oms_limit_new (10, 1, 16);
    cr_assert (oms_limit_take (limit, "alice", 5, SECOND));
    for (int i = 1; i < 10; i++)
        cr_assert_not (oms_limit_take (limit, "alice", 5, SECOND + i * SECOND / 100));
    cr_assert (oms_limit_take (limit, "alice", 5, SECOND + SECOND / 10));
    oms_limit_destroy (&limit);
}

Test (limit, clients_are_independent)
{
    oms_limit_t *limit = oms_limit_new (10, 3, 16);
    cr_assert_eq (s_take (limit, "flood", 1000, SECOND), 3);
    cr_assert_eq (s_take (limit, "alice", 3, SECOND), 3);
    cr_assert_eq (s_take (limit, "bob", 3, SECOND), 3);
    cr_assert_eq (oms_limit_clients (limit), 3);
    oms_limit_destroy (&limit);
}

Test (limit, keys_are_bytes_not_strings)
{
    oms_limit_t *limit = oms_limit_new (10, 1, 16);
    const uint8_t one[] = {0, 'a', 0, 1}, two[] = {0, 'a', 0, 2};
    cr_assert (oms_limit_take (limit, one, sizeof one, SECOND));
    cr_assert (oms_limit_take (limit, two, sizeof two, SECOND));
    cr_assert_not (oms_limit_take (limit, one, sizeof one, SECOND));
    cr_assert (oms_limit_take (limit, one, 2, SECOND)); //  a prefix is another client
    cr_assert (oms_limit_take (limit, "", 0, SECOND));
    cr_assert_eq (oms_limit_clients (limit), 4);
    oms_limit_destroy (&limit);
}

Test (limit, long_keys_count_up_to_the_maximum)
{
    oms_limit_t *limit = oms_limit_new (10, 1, 16);
    char a[OMS_LIMIT_KEY_MAX + 50], b[OMS_LIMIT_KEY_MAX + 50];
    memset (a, 'k', sizeof a);
    memset (b, 'k', sizeof b);
    b[sizeof b - 1] = 'x'; //  differs only past the maximum
    cr_assert (oms_limit_take (limit, a, sizeof a, SECOND));
    cr_assert_not (oms_limit_take (limit, b, sizeof b, SECOND));
    oms_limit_destroy (&limit);
}

Test (limit, zero_rate_never_limits)
{
    oms_limit_t *limit = oms_limit_new (0, 1, 4);
    cr_assert_eq (s_take (limit, "flood", 100000, SECOND), 100000);
    cr_assert_eq (oms_limit_clients (limit), 0);
    oms_limit_destroy (&limit);
}

Test (limit, full_table_forgets_the_least_recently_seen)
{
    oms_limit_t *limit = oms_limit_new (1, 2, 3);
    cr_assert_eq (s_take (limit, "a", 2, SECOND), 2);
    cr_assert_eq (s_take (limit, "b", 2, SECOND), 2);
    cr_assert_eq (s_take (limit, "c", 2, SECOND), 2);
    //  "a" is used again (refused), so "b" is now the least recent.
    cr_assert_not (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert (oms_limit_take (limit, "d", 1, SECOND));
    cr_assert_eq (oms_limit_clients (limit), 3);
    cr_assert_eq (oms_limit_evicted (limit), 1);
    //  "a" and "c" are still remembered, empty; "b" was forgotten: full again.
    cr_assert_not (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert_not (oms_limit_take (limit, "c", 1, SECOND));
    cr_assert_eq (s_take (limit, "b", 2, SECOND), 2);
    cr_assert_eq (oms_limit_evicted (limit), 2);
    oms_limit_destroy (&limit);
}

Test (limit, many_clients_stay_within_the_table)
{
    oms_limit_t *limit = oms_limit_new (1, 1, 64);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf (key, sizeof key, "client-%d", i);
        cr_assert (oms_limit_take (limit, key, strlen (key), SECOND));
    }
    cr_assert_eq (oms_limit_clients (limit), 64);
    cr_assert_eq (oms_limit_evicted (limit), 10000 - 64);
    //  The newest 64 are remembered, each with an empty bucket.
    for (int i = 10000 - 64; i < 10000; i++) {
        snprintf (key, sizeof key, "client-%d", i);
        cr_assert_not (oms_limit_take (limit, key, strlen (key), SECOND), "%s", key);
    }
    oms_limit_destroy (&limit);
}

Test (limit, a_table_of_one_works)
{
    oms_limit_t *limit = oms_limit_new (1, 1, 1);
    cr_assert (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert_not (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert (oms_limit_take (limit, "b", 1, SECOND));
    cr_assert (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert_eq (oms_limit_clients (limit), 1);
    oms_limit_destroy (&limit);
}

Test (limit, clock_going_back_grants_nothing)
{
    oms_limit_t *limit = oms_limit_new (10, 2, 4);
    cr_assert_eq (s_take (limit, "a", 2, 5 * SECOND), 2);
    cr_assert_not (oms_limit_take (limit, "a", 1, SECOND));
    cr_assert_not (oms_limit_take (limit, "a", 1, 5 * SECOND));
    oms_limit_destroy (&limit);
}

Test (limit, refuses_an_empty_table)
{
    cr_assert_null (oms_limit_new (10, 1, 0));
}

Test (limit, destroy_is_safe_twice)
{
    oms_limit_t *limit = oms_limit_new (10, 1, 4);
    oms_limit_destroy (&limit);
    cr_assert_null (limit);
    oms_limit_destroy (&limit);
}
