/*  oms_log: levelled, structured log lines on stderr.

    One line per event of interest: time, level, process, then a message whose
    variable parts are key=value pairs (order_id=..., corr=...), so lines can
    be grepped and parsed.
*/
#ifndef OMS_LOG_H
#define OMS_LOG_H

#include <stdbool.h>

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

#define oms_error(...) oms_log (OMS_LOG_ERROR, __VA_ARGS__)
#define oms_warn(...)  oms_log (OMS_LOG_WARN, __VA_ARGS__)
#define oms_info(...)  oms_log (OMS_LOG_INFO, __VA_ARGS__)
#define oms_debug(...)                                                                             \
    do {                                                                                           \
        if (oms_log_enabled (OMS_LOG_DEBUG))                                                       \
            oms_log (OMS_LOG_DEBUG, __VA_ARGS__);                                                  \
    } while (0)

#endif
