#!/usr/bin/python3
"""The kernel benchmark's side inside the QEMU guest (run by tools/bench_kernel.py through
tools/vm.sh): the daemon polls fixtures/scenarios/four-distributors.scn through the guest kernel's
USB stack, where usbfs is real (no busy reaping as under umockdev).

  bench_guest.py NOOP_WAKER SECONDS

Measures over SECONDS of an idle bus (nothing changes, no D-Bus client calls):
  - the daemon's CPU time (schedstat, every thread) and context switches (voluntary = wakeups,
    every thread) per poll interval, and the same per wakeup of tools/noop_waker.c started beside it with
    the same interval;
  - the USB transfers per poll as lynx-sim's usbredir server counted them;
then GetValue latencies on the service. Prints one line: BENCH <json>."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "kernel"))
from guest import SLOW, Guest, config, require  # noqa: E402
from harness import service_name  # noqa: E402

POLL_MS = 1000  # the field default
SERVICE = service_name("LYNX0001")


def task_counters(pid):
    """(CPU ns, voluntary switches, involuntary switches) summed over the process's threads."""
    cpu = vol = invol = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            cpu += int(f.read().split()[0])
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    invol += int(line.split()[1])
    return cpu, vol, invol


def usb_transfers(h):
    stats = h.sim_stats()
    return [a for a in stats["adapters"] if a["serial"] == "LYNX0001"][0]["usbredir_transfers"]


def main():
    noop_exe, seconds = sys.argv[1], float(sys.argv[2])
    with Guest() as h:
        h.start_bus()
        # Per poll the loop wakes for its timer and for each URB that completes while it sleeps
        # (the bulk OUT, the bulk IN: 1 to 3). The /Diagnostics snapshot (once a minute) is not
        # poll traffic: put off, as tools/bench.py does on the host.
        h.start_daemon(config(adapters=("LYNX0001",), general={"poll_interval_ms": POLL_MS}),
                       services=(SERVICE,), args=("--diagnostics-interval", "3600"))
        h.wait_for("/Distributor/D/Status", 1, timeout=SLOW, service=SERVICE)
        noop = subprocess.Popen([noop_exe, str(POLL_MS)])
        try:
            # settled: the first polls and signals are past, and so is the guest's udev coldplug,
            # whose events would wake libusb's hot-plug thread inside the window
            subprocess.run(["udevadm", "settle", "--timeout=30"], check=False)
            time.sleep(5 * POLL_MS / 1000)
            usb0 = usb_transfers(h)
            d0, n0 = task_counters(h.sim.pid), task_counters(noop.pid)
            time.sleep(seconds)  # idle: nobody talks to the daemon meanwhile
            d1, n1 = task_counters(h.sim.pid), task_counters(noop.pid)
            usb = usb_transfers(h) - usb0
        finally:
            noop.kill()
            noop.wait()
        # the daemon polls on a fixed-interval timer (its /Diagnostics are published only once a
        # minute), so the window holds this many polls, give or take one
        polls = wakeups = seconds * 1000 / POLL_MS
        require(usb > 0, "no USB transfer while measured: the daemon did not poll")
        times = []
        for _ in range(200):
            t0 = time.monotonic()
            h.get("/Distributor/A/Status", service=SERVICE)
            times.append(time.monotonic() - t0)
        times.sort()
        result = {
            "seconds": seconds, "poll_ms": POLL_MS, "polls": round(polls),
            "daemon_cpu_ms_per_poll": (d1[0] - d0[0]) / 1e6 / polls,
            "daemon_wakeups_per_poll": (d1[1] - d0[1]) / polls,
            "daemon_preemptions_per_poll": (d1[2] - d0[2]) / polls,
            "noop_cpu_ms_per_wakeup": (n1[0] - n0[0]) / 1e6 / wakeups,
            "noop_wakeups_per_interval": (n1[1] - n0[1]) / wakeups,
            "usb_transfers_per_poll": usb / polls,
            "getvalue_median_ms": times[len(times) // 2] * 1000,
            "getvalue_p99_ms": times[int(len(times) * 0.99)] * 1000,
        }
        print("BENCH " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
