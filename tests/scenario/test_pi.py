#!/usr/bin/python3
"""A Raspberry Pi's I2C pins: the daemon end to end against lynx-sim's `i2c-adapter ...
controller=bcm2835` (i2c-bcm2835's rules, docs/simulator.md) on a private D-Bus.

  test_pi.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

i2c-bcm2835 has no arbitration check: with SDA held low every address ACKs and reads 0x00,
"supplied, all fuses good". The daemon reads an address nobody uses in every scan (the canary,
0x7F): when it answers, the bus is stuck and nothing read in that scan counts. And it answers a
transfer on a held SCL only after the adapter's timeout (1 s): the ioctls run on the link's worker
thread, so D-Bus is answered meanwhile.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (POLL_INTERVAL_MS, TIMING_MARGIN_S, ini, require, run, test)  # noqa: E402

POLL_S = POLL_INTERVAL_MS / 1000.0
PI_ONLY = ("i2c",)
CONNECTED, COMMS_LOST = 1, 3
FUSE_OK, FUSE_BLOWN = 2, 3
OK, ALARM = 0, 2
LOST_AFTER = 6  # the daemon's default comm_lost_polls

# A on bus 1 with its second fuse blown, B and C next to it; the service is the one of LYNX0001
# (harness: bus 1 under LYNX_TRANSPORT=i2c).
SCENARIO = """i2c-adapter LYNX0001 bus=1 controller=bcm2835
distributor LYNX0001 A fuses=ok,open,ok,ok
distributor LYNX0001 B
distributor LYNX0001 C
"""
CONFIG = ini(adapters={"LYNX0001": {"distributorAInstalled": 1}})


def started():
    return harness.started(SCENARIO, config=CONFIG, strict_timing=False)


@test(transports=PI_ONLY)
def a_held_sda_on_a_pi_is_a_stuck_bus_and_never_confirms_a_blown_fuse_as_good():
    with started() as h:
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", ALARM)
        h.expect({"/Distributor/A/Status": CONNECTED, "/Distributor/A/Fuse/1/Status": FUSE_BLOWN,
                  "/Distributor/A/Fuse/0/Status": FUSE_OK})
        since = h.mark()
        h.simctl("hold-sda", "LYNX0001", "B", "on")
        # Every address now ACKs with 0x00: two agreeing reads would confirm "all good".
        h.pump((LOST_AFTER + 2) * POLL_S)
        good = [s.values for s in h.items_changed(since)
                if s.values.get("/Distributor/A/Fuse/1/Status") == FUSE_OK or
                s.values.get("/Distributor/A/Fuse/1/Alarms/Blown") == OK]
        require(not good, f"the blown fuse was published as good: {good}")
        h.wait_for("/Distributor/A/Status", COMMS_LOST, timeout=4 * POLL_S + 2)
        h.expect({"/Adapter/Connected": 1, "/Distributor/A/Alarms/ConnectionLost": ALARM})
        log = h.log_text()
        require("which no device uses, answered" in log and "I2C bus stuck" in log,
                "the stuck bus is not logged")
        # let go: read again, the fuse still blown
        h.simctl("hold-sda", "LYNX0001", "B", "off")
        h.wait_for("/Distributor/A/Status", CONNECTED, timeout=4 * POLL_S + 2)
        h.expect({"/Distributor/A/Fuse/1/Status": FUSE_BLOWN,
                  "/Distributor/A/Alarms/ConnectionLost": OK})


@test(alone=True, transports=PI_ONLY)
def a_held_scl_on_a_pi_times_out_on_the_worker_and_d_bus_is_answered_meanwhile():
    with started() as h:
        h.wait_for("/Distributor/A/Status", CONNECTED)
        h.simctl("hold-scl", "LYNX0001", "C", "on")
        # each poll's first ioctl waits the adapter's 1 s timeout; the scan then stops there
        slowest, deadline = 0.0, time.monotonic() + 4.0
        while time.monotonic() < deadline:
            t = time.monotonic()
            h.get("/Distributor/A/Status")
            slowest = max(slowest, time.monotonic() - t)
            h.pump(0.05)
        # blocked ioctls on the loop would hold a GetValue for up to the 5 timeouts of a scan
        require(slowest < 0.5, f"a GetValue took {slowest:.3f} s while the bus timed out")
        h.wait_for("/Distributor/A/Status", COMMS_LOST, timeout=(LOST_AFTER + 4) * POLL_S + 4)
        stats = [a for a in h.sim_stats().get("adapters", []) if a.get("serial") == "LYNX0001"]
        require(stats, "no stats for LYNX0001")
        rdwr = stats[0]["ioctl_rdwr"]
        h.simctl("hold-scl", "LYNX0001", "C", "off")
        h.wait_for("/Distributor/A/Status", CONNECTED, timeout=4 * POLL_S + 4)
        log = h.log_text()
        require("still waiting for its previous transfers" in log,
                "polls due while the worker waits are not counted as failed")
        require(rdwr < 40, f"{rdwr} ioctls in about 5 s of timeouts: addresses were read after a "
                "timeout")


if __name__ == "__main__":
    sys.exit(run(transports=harness.TRANSPORTS))
