#!/usr/bin/python3
"""Kernel suite, replay boot: a recorded field trace (fixtures/traces) replayed by lynx-sim on the
host (`tools/vm.sh --replay TRACE --speed X`) against the daemon in the guest, which must reach the
same verdict as under umockdev (tests/scenario/test_replay.py): it observes exactly the trace's
polls, lynx-sim sees no divergence, and the alarms on D-Bus are those the trace calls for, each at
its poll.

  guest_replay.py TRACE SPEED        (inside tools/vm.sh; see guest.py)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import SLOW, Guest, case, config, main, require  # noqa: E402
from harness import service_name  # noqa: E402
from test_replay import (COMM_LOST_POLLS, expected_alarms, load_trace, published_alarms,
                         same_observations, wait_replayed)  # noqa: E402

TRACE, SPEED = sys.argv[1], int(sys.argv[2])


@case
def the_replayed_trace_gets_the_same_verdict_through_the_real_kernel():
    interval, polls = load_trace(TRACE)
    require(interval % SPEED == 0, f"poll-interval-ms {interval} not divisible by {SPEED}")
    cfg = config(adapters=tuple(polls), general={"poll_interval_ms": interval // SPEED,
                                                 "comm_lost_polls": COMM_LOST_POLLS})
    with Guest() as h:
        h.start_bus()
        record = os.path.join(h.tmp, "replayed.trace")
        h.start_daemon(cfg, services=[service_name(s) for s in polls],
                       args=("--record", record))
        total = max(len(seq) for seq in polls.values())
        wait_replayed(h, total * interval / SPEED / 1000.0 + 1, 6 * SLOW)
        h.pump(2 * interval / SPEED / 1000.0)
        require(h.stop_daemon(timeout=SLOW) == 0, "the daemon did not exit cleanly")
        _, replayed = load_trace(record)
        for serial, seq in polls.items():
            what = f"{os.path.basename(TRACE)} {serial}"
            same_observations(seq, replayed[serial], what)
            times = [t for t, _ in replayed[serial]]
            want = sorted(expected_alarms(seq))
            got = sorted(published_alarms(h, times, service_name(serial), want))
            require(got == want, f"{what}: alarms on D-Bus (poll, path, value)\n  {got}\n"
                    f"the trace's polls call for\n  {want}")
            print(f"  {what}: {len(seq)} polls replayed, {len(want)} alarm changes as called for")


if __name__ == "__main__":
    sys.exit(main())
