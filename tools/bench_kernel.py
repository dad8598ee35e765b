"""The kernel figures of tools/bench.sh: the daemon in a QEMU guest with Debian's kernel
(tools/vm.sh), where usbfs is real. tools/bench_guest.py measures inside the guest; this side
builds the no-op reference, boots the guest and turns the result into report lines and targets.

Under TCG every instruction is emulated, so absolute CPU times mean little; they are given as
ratios against tools/noop_waker.c, a process that wakes at the same interval and does nothing,
measured in the same guest at the same time."""
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TARGET_WAKEUPS_PER_POLL = 3


class KernelBenchError(Exception):
    pass


def measure(build, seconds):
    """Boots the guest and returns bench_guest.py's figures (a dict)."""
    missing = subprocess.run([os.path.join(HERE, "setup-debian.sh"), "--check", "vm"],
                             capture_output=True, text=True)
    if missing.returncode != 0:
        raise KernelBenchError(f"the guest needs {missing.stdout.strip()}: "
                               "tools/setup-debian.sh vm installs them")
    noop = os.path.join(os.path.abspath(build), "bench", "noop-waker")
    os.makedirs(os.path.dirname(noop), exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", noop, os.path.join(HERE, "noop_waker.c")], check=True)
    env = dict(os.environ,
               LYNX_DAEMON=os.path.abspath(os.path.join(build, "src", "dbus-lynx-distributor")),
               LYNX_SIMCTL=os.path.abspath(os.path.join(build, "sim", "lynx-simctl")),
               PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([os.path.join(HERE, "vm.sh"), "--no-build", "--build", build,
                        "--scenario", os.path.join(TOP, "fixtures/scenarios/four-distributors.scn"),
                        "--", "/usr/bin/python3", os.path.join(HERE, "bench_guest.py"), noop,
                        str(seconds)], env=env, capture_output=True, text=True, timeout=900)
    lines = [x for x in r.stdout.splitlines() if x.startswith("BENCH ")]
    if r.returncode != 0 or not lines:
        raise KernelBenchError(f"the guest run failed (exit {r.returncode}):\n{r.stdout}"
                               f"{r.stderr[-3000:]}")
    return json.loads(lines[-1][len("BENCH "):])


def report(k, fmt):
    """(lines, targets) for bench.py's report; fmt formats a number."""
    cpu_ratio = k["daemon_cpu_ms_per_poll"] / k["noop_cpu_ms_per_wakeup"] \
        if k["noop_cpu_ms_per_wakeup"] else float("inf")
    lines = [
        f"In a QEMU guest (TCG) with Debian's kernel, tools/vm.sh: {k['polls']} polls of "
        f"{k['poll_ms']} ms on an idle bus, four distributors, the adapter on the guest's xHCI "
        "over usbredir; the reference is tools/noop_waker.c waking at the same interval beside it.",
        "",
        "| per poll, in the guest | daemon | no-op waker | daemon / no-op |",
        "|---|---:|---:|---:|",
        f"| CPU time | {fmt(k['daemon_cpu_ms_per_poll'], 3)} ms | "
        f"{fmt(k['noop_cpu_ms_per_wakeup'], 3)} ms | {fmt(cpu_ratio, 3)} |",
        f"| wakeups (voluntary context switches) | {fmt(k['daemon_wakeups_per_poll'], 3)} | "
        f"{fmt(k['noop_wakeups_per_interval'], 3)} | "
        f"{fmt(k['daemon_wakeups_per_poll'] / max(k['noop_wakeups_per_interval'], 1e-9), 3)} |",
        f"| USB transfers (usbredir server's count) | {fmt(k['usb_transfers_per_poll'], 3)} | "
        "n/a | n/a |",
        f"| GetValue median / p99 | {fmt(k['getvalue_median_ms'])} / "
        f"{fmt(k['getvalue_p99_ms'])} ms | n/a | n/a |",
    ]
    targets = [
        (f"at most {TARGET_WAKEUPS_PER_POLL} wakeups per poll interval in the guest (so no "
         "timer faster than the poll interval)",
         k["daemon_wakeups_per_poll"] <= TARGET_WAKEUPS_PER_POLL,
         f"{fmt(k['daemon_wakeups_per_poll'], 3)} per {k['poll_ms']} ms poll"),
    ]
    return lines, targets
