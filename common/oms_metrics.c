/*  oms_metrics: counters, gauges and fixed-bucket histograms.

    Lookup is a linear scan over (name, label): a process has few series and
    a scan of them costs less than hashing. Histograms use fixed buckets so
    two processes' histograms can be added up by Prometheus.
*/
#include "oms_metrics.h"
#include "oms_http.h"
#include "oms_log.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX  256
#define LABEL_MAX   64
#define BUCKETS_MAX 16

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_kind_t;

//  Latency buckets, seconds; size buckets, counts.
static const double s_seconds[] = {50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3, 5e-3,
                                   10e-3, 25e-3,  50e-3,  100e-3, 250e-3, 1.0};
static const double s_sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

typedef struct {
    const char *name;
    const char *help;
    char label[LABEL_MAX];
    s_kind_t kind;
    double value;   //  counter or gauge; histogram: sum
    uint64_t count; //  histogram observations
    uint64_t buckets[BUCKETS_MAX];
} s_series_t;

struct _oms_metrics_t {
    char process[64];
    s_series_t series[SERIES_MAX];
    size_t n_series;
    oms_http_t *http;
    pthread_mutex_t lock; //  guards `published`
    char *published;
};

oms_metrics_t *
oms_metrics_new (const char *process)
{
    oms_metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->process, sizeof self->process, "%s", process);
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
oms_metrics_destroy (oms_metrics_t **self_p)
{
    oms_metrics_t *self = *self_p;
    if (!self)
        return;
    oms_http_destroy (&self->http);
    pthread_mutex_destroy (&self->lock);
    free (self->published);
    free (self);
    *self_p = NULL;
}

static const double *
s_bounds (const char *name, size_t *count)
{
    size_t length = strlen (name);
    bool seconds = length > 8 && strcmp (name + length - 8, "_seconds") == 0;
    *count = seconds ? sizeof s_seconds / sizeof s_seconds[0] : sizeof s_sizes / sizeof s_sizes[0];
    return seconds ? s_seconds : s_sizes;
}

static s_series_t *
s_series (oms_metrics_t *self, const char *name, const char *help, const char *label, s_kind_t kind)
{
    label = label ? label : "";
    for (size_t i = 0; i < self->n_series; i++) {
        s_series_t *series = &self->series[i];
        if (series->name == name || strcmp (series->name, name) == 0) {
            if (strcmp (series->label, label) == 0)
                return series;
        }
    }
    if (self->n_series == SERIES_MAX)
        return NULL; //  the registry is full: further series are not kept
    s_series_t *series = &self->series[self->n_series++];
    memset (series, 0, sizeof *series);
    series->name = name;
    series->help = help;
    series->kind = kind;
    snprintf (series->label, sizeof series->label, "%s", label);
    return series;
}

void
oms_metrics_count (oms_metrics_t *self, const char *name, const char *help, const char *label,
                   uint64_t n)
{
    s_series_t *series = s_series (self, name, help, label, S_COUNTER);
    if (series)
        series->value += (double) n;
}

void
oms_metrics_total (oms_metrics_t *self, const char *name, const char *help, const char *label,
                   uint64_t total)
{
    s_series_t *series = s_series (self, name, help, label, S_COUNTER);
    if (series)
        series->value = (double) total;
}

void
oms_metrics_set (oms_metrics_t *self, const char *name, const char *help, const char *label,
                 double value)
{
    s_series_t *series = s_series (self, name, help, label, S_GAUGE);
    if (series)
        series->value = value;
}

void
oms_metrics_observe (oms_metrics_t *self, const char *name, const char *help, const char *label,
                     double value)
{
    s_series_t *series = s_series (self, name, help, label, S_HISTOGRAM);
    if (!series)
        return;
    size_t count;
    const double *bounds = s_bounds (name, &count);
    for (size_t i = 0; i < count; i++)
        if (value <= bounds[i])
            series->buckets[i]++;
    series->count++;
    series->value += value;
}

//  Labels of one sample: process, the series' own "key=value" and an extra
//  one (a histogram's le), as {k="v",...}.
static void
s_labels (char *out, size_t size, const char *process, const char *label, const char *extra)
{
    int used = snprintf (out, size, "{process=\"%s\"", process);
    const char *parts[2] = {label, extra};
    for (int i = 0; i < 2 && used > 0 && (size_t) used < size; i++) {
        const char *equals = parts[i] ? strchr (parts[i], '=') : NULL;
        if (equals)
            used += snprintf (out + used, size - (size_t) used, ",%.*s=\"%s\"",
                              (int) (equals - parts[i]), parts[i], equals + 1);
    }
    if (used > 0 && (size_t) used < size)
        snprintf (out + used, size - (size_t) used, "}");
}

static void
s_render_series (oms_metrics_t *self, const s_series_t *series, FILE *out)
{
    char labels[256];
    if (series->kind != S_HISTOGRAM) {
        s_labels (labels, sizeof labels, self->process, series->label, NULL);
        fprintf (out, "%s%s %.17g\n", series->name, labels, series->value);
        return;
    }
    size_t count;
    const double *bounds = s_bounds (series->name, &count);
    for (size_t b = 0; b < count; b++) {
        char le[32];
        snprintf (le, sizeof le, "le=%g", bounds[b]);
        s_labels (labels, sizeof labels, self->process, series->label, le);
        fprintf (out, "%s_bucket%s %llu\n", series->name, labels,
                 (unsigned long long) series->buckets[b]);
    }
    s_labels (labels, sizeof labels, self->process, series->label, "le=+Inf");
    fprintf (out, "%s_bucket%s %llu\n", series->name, labels, (unsigned long long) series->count);
    s_labels (labels, sizeof labels, self->process, series->label, NULL);
    fprintf (out, "%s_sum%s %.17g\n%s_count%s %llu\n", series->name, labels, series->value,
             series->name, labels, (unsigned long long) series->count);
}

char *
oms_metrics_render (oms_metrics_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    static const char *const types[] = {"counter", "gauge", "histogram"};
    //  The exposition format wants each name's samples together, right after
    //  its HELP and TYPE: walk the names in order of first use.
    for (size_t i = 0; i < self->n_series; i++) {
        const char *name = self->series[i].name;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp (self->series[j].name, name) == 0;
        if (seen)
            continue;
        fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, self->series[i].help, name,
                 types[self->series[i].kind]);
        for (size_t j = i; j < self->n_series; j++)
            if (strcmp (self->series[j].name, name) == 0)
                s_render_series (self, &self->series[j], out);
    }
    fclose (out);
    return text;
}

void
oms_metrics_publish (oms_metrics_t *self)
{
    if (!self->http)
        return;
    char *text = oms_metrics_render (self);
    if (!text)
        return;
    pthread_mutex_lock (&self->lock);
    char *old = self->published;
    self->published = text;
    pthread_mutex_unlock (&self->lock);
    free (old);
}

static unsigned
s_page (void *arg, const oms_http_request_t *request, FILE *body, const char **content_type)
{
    oms_metrics_t *self = arg;
    if (strcmp (oms_http_path (request), "/metrics") != 0) {
        fputs ("only GET /metrics is served here\n", body);
        return 404;
    }
    pthread_mutex_lock (&self->lock);
    fputs (self->published ? self->published : "", body);
    pthread_mutex_unlock (&self->lock);
    *content_type = "text/plain; version=0.0.4";
    return 200;
}

int
oms_metrics_serve (oms_metrics_t *self, const char *address)
{
    char error[256];
    self->http = oms_http_new (address, s_page, self, error, sizeof error);
    if (!self->http) {
        oms_error ("metrics: %s", error);
        return -1;
    }
    oms_metrics_publish (self);
    oms_info ("metrics: serving http://%s/metrics", address);
    return 0;
}
