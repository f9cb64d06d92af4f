/*  cli_histogram: a log-linear histogram of non-negative integers (latencies
    in nanoseconds), in the manner of HdrHistogram.

    Values below 2^bits are counted exactly. Above, each power of two is cut
    into 2^(bits-1) equal buckets, so a value is known to within 1 part in
    2^(bits-1) (bits = 11: better than 0.1%). Memory is fixed when the
    histogram is made and depends only on `bits` and `highest`, not on how
    many values are recorded.
*/
#ifndef CLI_HISTOGRAM_H
#define CLI_HISTOGRAM_H

#include <stdint.h>

typedef struct _cli_histogram_t cli_histogram_t;

//  A histogram for values 0..highest with 2^bits sub-buckets per power of
//  two; bits in 2..20, highest at least 2^bits. NULL when an argument is out
//  of range or memory runs out. Caller owns the histogram.
cli_histogram_t *cli_histogram_new (uint64_t highest, unsigned bits);
//  Destroys the histogram and nulls the caller's pointer; safe twice.
void cli_histogram_destroy (cli_histogram_t **self_p);

//  Counts one value. A value above `highest` is counted as `highest` (and
//  in cli_histogram_clamped), so the percentiles stay honest about the tail.
void cli_histogram_record (cli_histogram_t *self, uint64_t value);
//  Forgets every value recorded.
void cli_histogram_reset (cli_histogram_t *self);

uint64_t cli_histogram_count (const cli_histogram_t *self);
//  How many recorded values were above `highest`.
uint64_t cli_histogram_clamped (const cli_histogram_t *self);
//  The smallest and largest value recorded, exactly (after clamping); 0 when
//  the histogram is empty.
uint64_t cli_histogram_min (const cli_histogram_t *self);
uint64_t cli_histogram_max (const cli_histogram_t *self);
//  The arithmetic mean of the recorded values, from the bucket midpoints.
double cli_histogram_mean (const cli_histogram_t *self);

//  The value below or at which `percent` (0..100) of the recorded values
//  lie: the top of the bucket holding the value of rank ceil(percent/100 *
//  count) (at least 1), but never above the largest recorded value. 0 when
//  the histogram is empty.
uint64_t cli_histogram_percentile (const cli_histogram_t *self, double percent);

//  The range of values that share a bucket with `value`: the lowest and the
//  highest value counted together with it. For tests and for reporting the
//  precision of a figure.
uint64_t cli_histogram_lowest_equivalent (const cli_histogram_t *self, uint64_t value);
uint64_t cli_histogram_highest_equivalent (const cli_histogram_t *self, uint64_t value);

#endif
