/*  oms_metrics: counters, gauges and fixed-bucket histograms.

    Lookup is a linear scan over (name, label): a process has few series and
    a scan of them costs less than hashing. Histograms use fixed buckets so
    two processes' histograms can be added up by Prometheus.
*/
#include "oms_metrics.h"
#include "oms_log.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
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
    struct MHD_Daemon *daemon;
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
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
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
    if (!self->daemon)
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

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) state;
    oms_metrics_t *self = cls;
    struct MHD_Response *response;
    unsigned int status = MHD_HTTP_OK;
    if (strcmp (method, "GET") != 0 || strcmp (url, "/metrics") != 0) {
        static const char missing[] = "only GET /metrics is served here\n";
        status = strcmp (method, "GET") != 0 ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
        response = MHD_create_response_from_buffer (sizeof missing - 1, (void *) missing,
                                                    MHD_RESPMEM_PERSISTENT);
    }
    else {
        pthread_mutex_lock (&self->lock);
        const char *text = self->published ? self->published : "";
        response =
            MHD_create_response_from_buffer (strlen (text), (void *) text, MHD_RESPMEM_MUST_COPY);
        pthread_mutex_unlock (&self->lock);
        MHD_add_response_header (response, "Content-Type", "text/plain; version=0.0.4");
    }
    if (!response)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

int
oms_metrics_serve (oms_metrics_t *self, const char *address)
{
    char host[128];
    const char *colon = strrchr (address, ':');
    if (!colon || colon == address || (size_t) (colon - address) >= sizeof host) {
        oms_error ("metrics: address must be host:port, not \"%s\"", address);
        return -1;
    }
    snprintf (host, sizeof host, "%.*s", (int) (colon - address), address);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found = NULL;
    if (getaddrinfo (strcmp (host, "*") == 0 ? "0.0.0.0" : host, colon + 1, &hints, &found) ||
        !found) {
        oms_error ("metrics: cannot resolve %s", address);
        return -1;
    }
    self->daemon =
        MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_answer, self,
                          MHD_OPTION_SOCK_ADDR, found->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 16U,
                          MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    freeaddrinfo (found);
    if (!self->daemon) {
        oms_error ("metrics: cannot serve HTTP on %s", address);
        return -1;
    }
    oms_metrics_publish (self);
    oms_info ("metrics: serving http://%s/metrics", address);
    return 0;
}
