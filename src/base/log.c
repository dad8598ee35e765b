#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level log_min_level = LOG_LEVEL_INFO;

void log_set_verbose(bool verbose)
{
    log_min_level = verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
}

void log_set_min_level(enum log_level level)
{
    log_min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    if (level < log_min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s ", prefix[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
