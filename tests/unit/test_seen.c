/*  Unit tests of cli_seen: the second copy of an event is recognised
    however copies from two brokers interleave, a seq skipped on one path
    and delivered by the other still counts as new, an epoch change starts
    a topic afresh, and a full table forgets its least recently used topic.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_seen.h"

Test (seen, second_copy_is_dropped_in_any_interleaving)
{
    cli_seen_t *seen = calloc (1, sizeof *seen);
    //  Broker A delivers 1..10 first, broker B lags behind by three.
    for (uint64_t seq = 1; seq <= 10; seq++) {
        cr_expect (cli_seen_first (seen, "order.placed", 7, seq), "A's %llu",
                   (unsigned long long) seq);
        if (seq > 3)
            cr_expect_not (cli_seen_first (seen, "order.placed", 7, seq - 3), "B's %llu",
                           (unsigned long long) seq - 3);
    }
    for (uint64_t seq = 8; seq <= 10; seq++)
        cr_expect_not (cli_seen_first (seen, "order.placed", 7, seq));
    free (seen);
}

Test (seen, a_seq_one_path_skipped_is_new_from_the_other)
{
    cli_seen_t *seen = calloc (1, sizeof *seen);
    cr_expect (cli_seen_first (seen, "t", 1, 1));
    cr_expect (cli_seen_first (seen, "t", 1, 3)); //  B, which missed 2
    cr_expect (cli_seen_first (seen, "t", 1, 2)); //  A, slower
    cr_expect_not (cli_seen_first (seen, "t", 1, 3));
    cr_expect_not (cli_seen_first (seen, "t", 1, 2));
    //  Far behind the window: on one path seqs only go up, so a copy.
    cr_expect (cli_seen_first (seen, "t", 1, 3 + CLI_SEEN_WINDOW));
    cr_expect_not (cli_seen_first (seen, "t", 1, 2));
    free (seen);
}

Test (seen, topics_are_apart_and_a_new_epoch_starts_afresh)
{
    cli_seen_t *seen = calloc (1, sizeof *seen);
    cr_expect (cli_seen_first (seen, "a", 1, 5));
    cr_expect (cli_seen_first (seen, "b", 1, 5));
    cr_expect_not (cli_seen_first (seen, "a", 1, 5));
    cr_expect (cli_seen_first (seen, "a", 2, 1)); //  its producer restarted
    cr_expect_not (cli_seen_first (seen, "a", 2, 1));
    free (seen);
}

Test (seen, a_full_table_forgets_the_least_recently_used)
{
    cli_seen_t *seen = calloc (1, sizeof *seen);
    char topic[32];
    for (int i = 0; i < CLI_SEEN_TOPICS; i++) {
        snprintf (topic, sizeof topic, "t%d", i);
        cr_assert (cli_seen_first (seen, topic, 1, 1));
    }
    cr_expect_not (cli_seen_first (seen, "t0", 1, 1)); //  t1 is now the oldest
    cr_expect (cli_seen_first (seen, "new", 1, 1));
    cr_expect (cli_seen_first (seen, "t1", 1, 1), "t1 was forgotten, so it is new again");
    cr_expect_not (cli_seen_first (seen, "t0", 1, 1));
    free (seen);
}
