/*  oms_log: levelled log lines on stderr.

    A line is formatted whole into one buffer and written by one fprintf:
    stdio locks the stream for the call, so lines from the threads of one
    process never interleave. Unbuffered, each line is a single write, so
    lines of concurrent processes stay whole too. A busy service instead
    buffers (oms_log_buffer) and flushes once per turn of its loop: one write
    for many lines; errors are flushed at once.
*/
#include "oms_log.h"
#include "oms_clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  Longer messages are truncated; a log line is not a data channel.
#define S_LINE_MAX 2048

static const char *const s_level_names[] = {"error", "warn", "info", "debug"};

//  Before oms_log_init, lines carry the program's own name.
static char s_process[64];
static oms_log_level_t s_level = OMS_LOG_INFO;
//  stderr's buffer once oms_log_buffer is called: it must outlive every
//  write to stderr, so it belongs to the process, not to a call.
static char s_buffer[1 << 16];

int
oms_log_init (const char *process, const char *level)
{
    if (process)
        snprintf (s_process, sizeof s_process, "%s", process);
    for (int index = OMS_LOG_ERROR; index <= OMS_LOG_DEBUG; index++) {
        if (level && strcmp (level, s_level_names[index]) == 0) {
            s_level = (oms_log_level_t) index;
            return 0;
        }
    }
    return -1;
}

void
oms_log_set_level (oms_log_level_t level)
{
    if (level >= OMS_LOG_ERROR && level <= OMS_LOG_DEBUG)
        s_level = level;
}

void
oms_log_buffer (void)
{
    setvbuf (stderr, s_buffer, _IOFBF, sizeof s_buffer);
}

void
oms_log_flush (void)
{
    fflush (stderr);
}

bool
oms_log_enabled (oms_log_level_t level)
{
    return level <= s_level;
}

static void
s_write (oms_log_level_t level, const char *suffix, const char *format, va_list args)
{
    //  A failing log call must not change errno for the caller's next check.
    int saved_errno = errno;

    uint64_t now_ns = oms_clock_wall_ns ();
    time_t seconds = (time_t) (now_ns / 1000000000u);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char stamp[32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char message[S_LINE_MAX];
    vsnprintf (message, sizeof message, format, args);
    //  A message ending in a newline would leave an empty line behind.
    size_t length = strlen (message);
    while (length > 0 && message[length - 1] == '\n')
        message[--length] = '\0';

    const char *process = s_process[0] ? s_process : program_invocation_short_name;
    fprintf (stderr, "%s.%06ldZ %s %s: %s%s\n", stamp, (long) (now_ns % 1000000000u / 1000),
             s_level_names[level], process, message, suffix);
    if (level == OMS_LOG_ERROR)
        fflush (stderr);
    errno = saved_errno;
}

void
oms_log (oms_log_level_t level, const char *format, ...)
{
    if ((unsigned) level > OMS_LOG_DEBUG || !oms_log_enabled (level))
        return;
    va_list args;
    va_start (args, format);
    s_write (level, "", format, args);
    va_end (args);
}

void
oms_log_limited (oms_log_limit_t *limit, oms_log_level_t level, const char *format, ...)
{
    if ((unsigned) level > OMS_LOG_DEBUG || !oms_log_enabled (level))
        return;
    uint64_t now = oms_clock_steady_ns ();
    if (now < limit->next_ns) {
        limit->held++;
        return;
    }
    char suffix[96] = "";
    if (limit->held)
        snprintf (suffix, sizeof suffix, " (and %llu more like it in the last %d s)",
                  (unsigned long long) limit->held, OMS_LOG_LIMIT_S);
    limit->next_ns = now + OMS_LOG_LIMIT_S * 1000000000ull;
    limit->held = 0;
    va_list args;
    va_start (args, format);
    s_write (level, suffix, format, args);
    va_end (args);
}
