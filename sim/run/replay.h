/* Trace replay: plays a poll trace recorded by `dbus-lynx-distributor --record` (format:
 * fixtures/README.md) back into the simulated hardware, so that a daemon polling it makes the
 * same observations, poll by poll, as the daemon that recorded it.
 *
 * The trace and its parser (sim_trace_*) are trace.h.
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
#include "run/trace.h"

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
