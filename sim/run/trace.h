/* Poll traces recorded by `dbus-lynx-distributor --record` (format: fixtures/README.md): the
 * parsed form and its parser, and the scenario a replay of one needs. Pure: no hardware; the
 * replay that plays a trace into the simulated hardware is replay.h. Errors name the file, the
 * line and what was expected. */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "run/scenario.h"

#define SIM_TRACE_DISTRIBUTORS 4
#define SIM_TRACE_MAX_ROUNDS   4

enum sim_trace_kind {
    SIM_TRACE_READ,      /* the scan came back */
    SIM_TRACE_USB_ERROR, /* the scan failed with `error` */
    SIM_TRACE_GONE,      /* the adapter could not be reached */
    SIM_TRACE_BUS_STUCK, /* the I2C bus stayed stuck after a recovery */
};

/* One observation and the identical ones that followed it (`same`). */
struct sim_trace_obs {
    enum sim_trace_kind kind;
    bool reopened;                              /* preceded by `back` */
    int error;                                  /* SIM_TRACE_USB_ERROR: negative errno */
    unsigned n_answers[SIM_TRACE_DISTRIBUTORS]; /* SIM_TRACE_READ: reads of A-D, 1..4 */
    int16_t answers[SIM_TRACE_DISTRIBUTORS][SIM_TRACE_MAX_ROUNDS]; /* nack = -1, else the byte */
    uint64_t count;   /* polls: 1 + the `same` counts that followed */
    uint64_t at_ms;   /* trace time of the first of them */
    uint64_t last_ms; /* and of the last */
    unsigned line;
};

struct sim_trace_adapter {
    char serial[SIM_SERIAL_MAX];  /* the FTDI serial, or the i2c adapter's name (i2c-<N>) */
    enum sim_transport transport; /* transport=ftdi (default) or i2c */
    uint16_t vid, pid;            /* ftdi */
    unsigned bus;                 /* i2c: /dev/i2c-<bus> */
    struct sim_trace_obs *obs;
    size_t n_obs, cap;
    uint64_t polls; /* sum of the counts */
};

#define SIM_TRACE_MAX_POLLS (UINT64_C(1) << 53) /* per adapter, `same` counts included */

struct sim_trace {
    unsigned poll_interval_ms;
    unsigned cut_line; /* 0, or the last line, left out: it has no end (a cut recording) */
    struct sim_trace_adapter adapters[SIM_MAX_ADAPTERS];
    size_t n_adapters;
};

/* Parse a whole trace (one recording session). Returns 0 or -EINVAL/-ENOMEM/-EIO with
 * "name:line: what was expected" in err. A last line without its end of line was cut while
 * recording (full disk, power loss): it is left out and cut_line says which it was (the caller
 * warns); what comes before it is the trace. A trace without any observation is refused. */
int sim_trace_parse(FILE *in, const char *name, struct sim_trace *t, char *err, size_t errlen);
int sim_trace_load(const char *path, struct sim_trace *t, char *err, size_t errlen);
/* The warning for a cut trace ("name:line: ..."), empty when t->cut_line is 0. */
void sim_trace_cut_warning(const struct sim_trace *t, const char *name, char *out, size_t max);
void sim_trace_clear(struct sim_trace *t);

/* "EPIPE" or "-32" -> -32; 0 when unknown. */
int sim_trace_errno(const char *word);

/* The hardware a replay needs: every adapter of the trace, plugged, with distributors A-D
 * present, powered, supplied, fuses ok (the scripts decide what they answer). */
void sim_trace_scenario(const struct sim_trace *t, struct sim_scenario *sc);

#endif
