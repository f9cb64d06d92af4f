/*  Unit tests of cli_histogram: exact counting below 2^bits, bounded
    relative error above, percentiles by rank, clamping at `highest`, and
    the refusal of arguments it cannot honour.
*/
#include <criterion/criterion.h>
#include <stdlib.h>

#include "cli_histogram.h"

#define HOUR_NS (UINT64_C (3600) * 1000000000)

Test (histogram, refuses_arguments_out_of_range)
{
    static const struct {
        uint64_t highest;
        unsigned bits;
    } cases[] = {
        {1000, 1},        //  too few sub-buckets
        {UINT64_MAX, 21}, //  too many
        {2047, 11},       //  highest below 2^bits
        {0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_null (cli_histogram_new (cases[i].highest, cases[i].bits), "case %zu", i);
}

Test (histogram, destroy_nulls_the_pointer_and_is_safe_twice)
{
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    cr_assert_not_null (histogram);
    cli_histogram_destroy (&histogram);
    cr_expect_null (histogram);
    cli_histogram_destroy (&histogram);
    cli_histogram_destroy (NULL);
}

Test (histogram, an_empty_histogram_reports_zeros)
{
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    cr_expect_eq (cli_histogram_count (histogram), 0);
    cr_expect_eq (cli_histogram_percentile (histogram, 50), 0);
    cr_expect_eq (cli_histogram_min (histogram), 0);
    cr_expect_eq (cli_histogram_max (histogram), 0);
    cr_expect_eq (cli_histogram_mean (histogram), 0);
    cli_histogram_destroy (&histogram);
}

Test (histogram, counts_small_values_exactly)
{
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    for (uint64_t value = 1; value <= 2000; value++)
        cli_histogram_record (histogram, value);
    static const struct {
        double percent;
        uint64_t expected;
    } cases[] = {
        {0, 1}, {0.05, 1}, {50, 1000}, {90, 1800}, {99, 1980}, {99.9, 1998}, {100, 2000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq (cli_histogram_percentile (histogram, cases[i].percent), cases[i].expected,
                      "p%g: %lu", cases[i].percent,
                      (unsigned long) cli_histogram_percentile (histogram, cases[i].percent));
    cr_expect_eq (cli_histogram_count (histogram), 2000);
    cr_expect_eq (cli_histogram_min (histogram), 1);
    cr_expect_eq (cli_histogram_max (histogram), 2000);
    cr_expect_float_eq (cli_histogram_mean (histogram), 1000.5, 1e-9);
    cli_histogram_destroy (&histogram);
}

Test (histogram, keeps_large_values_within_its_precision)
{
    //  Latencies from 1 us to several minutes, growing geometrically, so
    //  that every power of two holds many of them.
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    enum { N = 100000 };
    static uint64_t values[N];
    values[0] = 1000;
    cli_histogram_record (histogram, values[0]);
    for (size_t i = 1; i < N; i++) {
        values[i] = values[i - 1] + values[i - 1] / 5000 + 1;
        cli_histogram_record (histogram, values[i]);
    }
    //  percent, and the rank ceil(percent / 100 * N) it selects
    static const struct {
        double percent;
        size_t rank;
    } cases[] = {{1, 1000},   {10, 10000},   {50, 50000},   {90, 90000},
                 {99, 99000}, {99.9, 99900}, {99.99, 99990}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t exact = values[cases[i].rank - 1];
        uint64_t got = cli_histogram_percentile (histogram, cases[i].percent);
        cr_expect_geq (got, exact, "p%g", cases[i].percent);
        cr_expect_leq ((double) (got - exact), (double) exact / 1024.0, "p%g: %lu vs %lu",
                       cases[i].percent, (unsigned long) got, (unsigned long) exact);
    }
    cr_expect_eq (cli_histogram_max (histogram), values[N - 1]);
    cr_expect_eq (cli_histogram_percentile (histogram, 100), values[N - 1]);
    cli_histogram_destroy (&histogram);
}

Test (histogram, buckets_tile_the_range_without_gaps)
{
    cli_histogram_t *histogram = cli_histogram_new (UINT64_C (1) << 40, 8);
    uint64_t expected_low = 0;
    //  Walk bucket by bucket: each starts right after the previous one ends.
    while (expected_low < (UINT64_C (1) << 40)) {
        uint64_t low = cli_histogram_lowest_equivalent (histogram, expected_low);
        uint64_t high = cli_histogram_highest_equivalent (histogram, expected_low);
        cr_assert_eq (low, expected_low);
        cr_assert_geq (high, low);
        cr_assert_eq (cli_histogram_lowest_equivalent (histogram, high), low);
        cr_assert_leq ((double) (high - low), (double) low / 128.0 + 1, "bucket at %lu too wide",
                       (unsigned long) low);
        expected_low = high + 1;
    }
    cli_histogram_destroy (&histogram);
}

Test (histogram, clamps_values_above_highest)
{
    cli_histogram_t *histogram = cli_histogram_new (1000000, 11);
    cli_histogram_record (histogram, 5);
    cli_histogram_record (histogram, UINT64_MAX);
    cr_expect_eq (cli_histogram_count (histogram), 2);
    cr_expect_eq (cli_histogram_clamped (histogram), 1);
    cr_expect_eq (cli_histogram_max (histogram), 1000000);
    cr_expect_eq (cli_histogram_percentile (histogram, 100), 1000000);
    cr_expect_eq (cli_histogram_percentile (histogram, 50), 5);
    cli_histogram_destroy (&histogram);
}

Test (histogram, a_percentile_never_exceeds_the_largest_value)
{
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    //  3,000,001 shares a bucket with larger values; the answer is still it.
    cli_histogram_record (histogram, 3000001);
    cr_expect_gt (cli_histogram_highest_equivalent (histogram, 3000001), 3000001);
    cr_expect_eq (cli_histogram_percentile (histogram, 99.9), 3000001);
    cr_expect_eq (cli_histogram_percentile (histogram, 0), 3000001);
    cli_histogram_destroy (&histogram);
}

Test (histogram, reset_forgets_everything)
{
    cli_histogram_t *histogram = cli_histogram_new (HOUR_NS, 11);
    cli_histogram_record (histogram, 42);
    cli_histogram_record (histogram, HOUR_NS + 1);
    cli_histogram_reset (histogram);
    cr_expect_eq (cli_histogram_count (histogram), 0);
    cr_expect_eq (cli_histogram_clamped (histogram), 0);
    cr_expect_eq (cli_histogram_max (histogram), 0);
    cli_histogram_record (histogram, 7);
    cr_expect_eq (cli_histogram_min (histogram), 7);
    cr_expect_eq (cli_histogram_percentile (histogram, 50), 7);
    cli_histogram_destroy (&histogram);
}
