/* Quiet logging for the fuzz targets: the parsers warn on every odd line, and printing each
 * warning would slow the fuzzer down by orders of magnitude. The message is still formatted, so
 * the sanitizers see every format argument. */
#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"

void log_set_verbose(bool verbose)
{
    (void)verbose;
}

void log_set_min_level(enum log_level level)
{
    (void)level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
}
