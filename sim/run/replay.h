/* Trace replay: plays a poll trace recorded by `dbus-lynx-distributor --record` (format:
 * fixtures/README.md) back into the simulated hardware, so that a daemon polling it makes the
 * same observations, poll by poll, as the daemon that recorded it.
 *
 * Parsing (sim_trace_*) is pure; errors name the file, the line and what was expected.
 *
 * The replay (sim_replay_*) is driven by the daemon's own polls, not by the trace's clock:
 *  - A read observation becomes `script` answers queued on the distributors (all four A-D exist
 *    on every replayed adapter), consumed one per read transaction. Queued answers are consumed
 *    in order whatever the timing, so read polls are exact; the replay also learns when each
 *    poll happened from the queue draining.
 *  - A USB error (usb-error/usb-timeout count=1), the adapter going (unplug) and coming back
 *    (plug) must happen between two polls: they are applied half a poll interval after the
 *    poll before them (the daemon's poll timer keeps its phase), the interval being the trace's
 *    poll-interval-ms divided by the speed. Whether that placement held is checked when the next
 *    read poll drains its answers (it must come the expected number of intervals later, within
 *    half an interval); a miss is reported as a divergence.
 *  - Observations before the first read of an adapter are skipped (the daemon under test opens
 *    its adapters at start); after the last one the last observation is held.
 * Deterministic therefore means: per adapter, the sequence of observations the daemon makes is
 * the trace's (after expanding `same`), hence the same sequence of published values; times are
 * not reproduced. */
#ifndef SIM_REPLAY_H
#define SIM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "run/hardware.h"
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

struct sim_replay;

/* speed > 0: the daemon under test polls every poll_interval_ms / speed. Messages (divergences,
 * skipped observations) go to log. Returns 0 or a negative errno with err set. Queues the first
 * answers at once: call before the daemon starts. */
int sim_replay_new(struct sim_replay **out, const struct sim_trace *t, struct sim_hardware *hw,
                   double speed, FILE *log, char *err, size_t errlen);
void sim_replay_free(struct sim_replay *r);

/* Does what is due at now_ms (CLOCK_MONOTONIC). Returns the milliseconds until it wants to be
 * called again. */
int sim_replay_step(struct sim_replay *r, uint64_t now_ms);

/* Every trace observation's poll has happened (the last one is held from now on). */
bool sim_replay_finished(const struct sim_replay *r);
/* Placements that did not hold (see above). */
unsigned sim_replay_divergences(const struct sim_replay *r);
/* One line per adapter (`<serial> <done>/<total> polls`), then `finished yes|no` and
 * `divergences <n>`. */
void sim_replay_write_status(const struct sim_replay *r, FILE *out);

#endif
