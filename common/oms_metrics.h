/*  oms_metrics: a process's counters and histograms, in Prometheus text.

    Series are created on first use and live as long as the registry; a
    process has a few dozen. Updates and rendering happen on the process's
    own thread. oms_metrics_serve starts an HTTP endpoint (libmicrohttpd, its
    own thread) that answers GET /metrics with the text last published by
    oms_metrics_publish, so the HTTP thread never touches live series.
*/
#ifndef OMS_METRICS_H
#define OMS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct _oms_metrics_t oms_metrics_t;

//  Every series carries the label process="<process>". NULL on failure.
oms_metrics_t *oms_metrics_new (const char *process);
void oms_metrics_destroy (oms_metrics_t **self_p);

//  Adds `n` to a counter; `label` is "key=value" or NULL. The name and help
//  must be string literals (they are kept, not copied).
void oms_metrics_count (oms_metrics_t *self, const char *name, const char *help, const char *label,
                        uint64_t n);
//  Sets a counter to a total kept elsewhere (it only ever grows).
void oms_metrics_total (oms_metrics_t *self, const char *name, const char *help, const char *label,
                        uint64_t total);
//  Sets a gauge.
void oms_metrics_set (oms_metrics_t *self, const char *name, const char *help, const char *label,
                      double value);
//  Records one observation in a histogram: seconds for *_seconds names,
//  else a count (e.g. a batch size); the buckets follow from the name.
void oms_metrics_observe (oms_metrics_t *self, const char *name, const char *help,
                          const char *label, double value);

//  Renders every series; the caller frees the text.
char *oms_metrics_render (oms_metrics_t *self);

//  Makes the current text what the HTTP endpoint answers.
void oms_metrics_publish (oms_metrics_t *self);

//  Serves GET /metrics on `address` ("host:port"). 0, or -1 after logging.
int oms_metrics_serve (oms_metrics_t *self, const char *address);

#endif
