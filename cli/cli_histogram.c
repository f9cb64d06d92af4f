/*  cli_histogram: log-linear buckets.

    With S = 2^bits and H = S/2, the counts array is laid out as
        [0, S)                  one bucket per value 0..S-1 (exact)
        then, for shift = 1, 2, ...: H buckets of width 2^shift covering
                                [H << shift, S << shift)
    A value v >= S lands at S + (shift - 1) * H + (v >> shift) - H, where
    shift = msb(v) - (bits - 1) makes v >> shift fall in [H, S). The top
    bits of a value pick its bucket, so recording is a few shifts and one
    increment, and the relative width of a bucket never exceeds 1/H.
*/
#include "cli_histogram.h"

#include <stdlib.h>

struct _cli_histogram_t {
    uint64_t highest;
    unsigned bits;
    uint64_t sub_count; //  S
    uint64_t half;      //  H
    size_t n_counts;
    uint64_t *counts;
    uint64_t count;
    uint64_t clamped;
    uint64_t min;
    uint64_t max;
};

static unsigned
s_msb (uint64_t value)
{
    return 63u - (unsigned) __builtin_clzll (value);
}

static size_t
s_index (const cli_histogram_t *self, uint64_t value)
{
    if (value < self->sub_count)
        return (size_t) value;
    unsigned shift = s_msb (value) - (self->bits - 1);
    return (size_t) (self->sub_count + (shift - 1) * self->half + (value >> shift) - self->half);
}

//  The lowest value of bucket `index`, and the bucket's width.
static uint64_t
s_bucket_low (const cli_histogram_t *self, size_t index, uint64_t *width)
{
    if (index < self->sub_count) {
        *width = 1;
        return index;
    }
    uint64_t k = index - self->sub_count;
    unsigned shift = (unsigned) (k / self->half) + 1;
    *width = UINT64_C (1) << shift;
    return (k % self->half + self->half) << shift;
}

cli_histogram_t *
cli_histogram_new (uint64_t highest, unsigned bits)
{
    if (bits < 2 || bits > 20 || highest < (UINT64_C (1) << bits))
        return NULL;
    cli_histogram_t *self = (cli_histogram_t *) calloc (1, sizeof (cli_histogram_t));
    if (!self)
        return NULL;
    self->highest = highest;
    self->bits = bits;
    self->sub_count = UINT64_C (1) << bits;
    self->half = self->sub_count / 2;
    self->n_counts = s_index (self, highest) + 1;
    self->counts = (uint64_t *) calloc (self->n_counts, sizeof (uint64_t));
    if (!self->counts) {
        free (self);
        return NULL;
    }
    return self;
}

void
cli_histogram_destroy (cli_histogram_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->counts);
    free (*self_p);
    *self_p = NULL;
}

void
cli_histogram_record (cli_histogram_t *self, uint64_t value)
{
    if (value > self->highest) {
        value = self->highest;
        self->clamped++;
    }
    self->counts[s_index (self, value)]++;
    if (self->count == 0 || value < self->min)
        self->min = value;
    if (value > self->max)
        self->max = value;
    self->count++;
}

void
cli_histogram_reset (cli_histogram_t *self)
{
    for (size_t i = 0; i < self->n_counts; i++)
        self->counts[i] = 0;
    self->count = self->clamped = self->min = self->max = 0;
}

uint64_t
cli_histogram_count (const cli_histogram_t *self)
{
    return self->count;
}

uint64_t
cli_histogram_clamped (const cli_histogram_t *self)
{
    return self->clamped;
}

uint64_t
cli_histogram_min (const cli_histogram_t *self)
{
    return self->min;
}

uint64_t
cli_histogram_max (const cli_histogram_t *self)
{
    return self->max;
}

double
cli_histogram_mean (const cli_histogram_t *self)
{
    if (self->count == 0)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < self->n_counts; i++) {
        if (!self->counts[i])
            continue;
        uint64_t width;
        uint64_t low = s_bucket_low (self, i, &width);
        sum += (double) self->counts[i] * ((double) low + (double) (width - 1) / 2);
    }
    return sum / (double) self->count;
}

uint64_t
cli_histogram_percentile (const cli_histogram_t *self, double percent)
{
    if (self->count == 0)
        return 0;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    //  The rank is a ceiling, with room for the rounding of percent * count
    //  (99.9% of 1000 must be rank 999, not 1000).
    double exact = percent / 100.0 * (double) self->count;
    uint64_t rank = (uint64_t) exact;
    if (exact - (double) rank > 1e-9 * (exact > 1 ? exact : 1))
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < self->n_counts; i++) {
        seen += self->counts[i];
        if (seen >= rank) {
            uint64_t width;
            uint64_t top = s_bucket_low (self, i, &width) + (width - 1);
            if (top > self->max)
                top = self->max;
            return top < self->min ? self->min : top;
        }
    }
    return self->max;
}

uint64_t
cli_histogram_lowest_equivalent (const cli_histogram_t *self, uint64_t value)
{
    uint64_t width;
    return s_bucket_low (self, s_index (self, value > self->highest ? self->highest : value),
                         &width);
}

uint64_t
cli_histogram_highest_equivalent (const cli_histogram_t *self, uint64_t value)
{
    uint64_t width;
    uint64_t low =
        s_bucket_low (self, s_index (self, value > self->highest ? self->highest : value), &width);
    return low + (width - 1);
}
