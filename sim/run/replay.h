/* Trace replay: plays a poll trace recorded by `dbus-lynx-distributor --record` (format:
 * fixtures/README.md) back into the simulated hardware, so that a daemon polling it makes the
 * same observations, poll by poll, as the daemon that recorded it.
 *
 * The trace and its parser (sim_trace_*) are trace.h.
 *
 * The replay (sim_replay_*) is driven by the daemon's own polls, not by the trace's clock, and
 * knows a poll by its position and by what it carried, never by when it came:
 *  - A read observation becomes `script` answers queued on the distributors (all four A-D exist
 *    on every replayed adapter), consumed one per read transaction. Queued answers are consumed
 *    in order whatever the timing, so read polls are exact; a queued poll counts as made once
 *    every distributor has taken its answers.
 *  - A USB error (usb-error/usb-timeout count=1), the adapter going (unplug) and coming back
 *    (plug) must happen between two polls: they are applied half an interval before their poll
 *    on the daemon's timer grid (interval = the trace's poll-interval-ms / speed; the grid's
 *    phase is the least offset of its latest timer polls, as scheduling only ever delays a poll
 *    or its detection), and not before the poll before them is over (on an FTDI adapter: its
 *    reply has left the chip).
 *  - A divergence is the daemon reading a distributor with no answer of the trace queued for it:
 *    it polled the bus where the trace has no read (a USB error or an unplug was not in place at
 *    its poll), or read more than the recording daemon did. Each step of the replay that finds
 *    such reads counts one divergence and reports the polls made and the trace line due.
 *  - Jitter tolerance: any delay of the daemon's polls, of any length, is no divergence (reads
 *    wait in order). What is placed between polls holds as long as the simulator applies it
 *    before the daemon's next timer poll, i.e. within half an interval of its moment; a later
 *    one is a real divergence (the daemon then observed something else) and reported. A run of
 *    `gone` makes no I/O, so its length (plug before the right poll) is the one placement the
 *    replay cannot see: the daemon's own recording shows it (tests/scenario/test_replay.py
 *    compares it with the trace).
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

/* Does what is due at now_ms (CLOCK_MONOTONIC; any clock that only goes forward: the tests drive
 * it). Returns the milliseconds until it wants to be called again. */
int sim_replay_step(struct sim_replay *r, uint64_t now_ms);

/* Every trace observation's poll has happened (the last one is held from now on). */
bool sim_replay_finished(const struct sim_replay *r);
/* Polls that read without an answer of the trace (see above). */
unsigned sim_replay_divergences(const struct sim_replay *r);
/* One line per adapter (`<serial> <done>/<total> polls`), then `finished yes|no` and
 * `divergences <n>`. */
void sim_replay_write_status(const struct sim_replay *r, FILE *out);

#endif
