/*  oms_log: levelled, structured log lines on stderr.

    One line per event of interest: time, level, process, then a message whose
    variable parts are key=value pairs (order_id=..., corr=...), so lines can
    be grepped and parsed.
*/
#ifndef OMS_LOG_H
#define OMS_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { OMS_LOG_ERROR, OMS_LOG_WARN, OMS_LOG_INFO, OMS_LOG_DEBUG } oms_log_level_t;

//  Sets the process name printed on every line and the level; "error",
//  "warn", "info" or "debug". -1 for an unknown level name.
int oms_log_init (const char *process, const char *level);
void oms_log_set_level (oms_log_level_t level);
//  Buffers lines until oms_log_flush (or an error line) instead of writing
//  each at once: for a process that logs many lines per turn of its loop.
void oms_log_buffer (void);
void oms_log_flush (void);
bool oms_log_enabled (oms_log_level_t level);

void oms_log (oms_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  A line that can repeat as fast as the loop turns (every commit on a full
//  disk fails): written at most once per OMS_LOG_LIMIT_S seconds per limit,
//  and the next one written says how many were held back. The caller owns
//  the limit, zeroed to start.
#define OMS_LOG_LIMIT_S 10
typedef struct {
    uint64_t next_ns; //  monotonic; none written before this
    uint64_t held;    //  held back since the last one written
} oms_log_limit_t;

void oms_log_limited (oms_log_limit_t *limit, oms_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define oms_error(...) oms_log (OMS_LOG_ERROR, __VA_ARGS__)
#define oms_warn(...)  oms_log (OMS_LOG_WARN, __VA_ARGS__)
#define oms_info(...)  oms_log (OMS_LOG_INFO, __VA_ARGS__)
#define oms_debug(...)                                                                             \
    do {                                                                                           \
        if (oms_log_enabled (OMS_LOG_DEBUG))                                                       \
            oms_log (OMS_LOG_DEBUG, __VA_ARGS__);                                                  \
    } while (0)

#endif
