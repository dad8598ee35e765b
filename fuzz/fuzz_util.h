/* What every fuzz target shares: a contract check that aborts (so libFuzzer keeps the input),
 * and the fuzz bytes as a file for the parsers that read streams. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void check(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "contract broken: %s\n", what);
        abort();
    }
}

/* fmemopen() refuses an empty buffer; an empty file is what /dev/null gives. NULL on failure. */
static inline FILE *fuzz_open(const uint8_t *data, size_t size)
{
    return size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
}

#endif
