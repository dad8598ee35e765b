#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool log_verbose;

void log_set_verbose(bool verbose)
{
    log_verbose = verbose;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    if (level == LOG_LEVEL_DEBUG && !log_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s ", prefix[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
