#!/usr/bin/python3
"""Unplugs that last and unplugs without end: lynx-sim and the daemon survive any number of them
(issue: "the simulator dies in long replug runs").

  test_unplugged.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Two adapters unplugged and plugged 1,000 times, on either transport: umockdev left a removed
device's /sys/dev/char link behind and aborted lynx-sim when another device took its number, and
aborted it too when a uevent listener fell eleven events behind (docs/simulator.md, "Where umockdev
differs from the kernel").

An i2c-dev adapter left unplugged: the daemon opens its missing /dev/i2c-N again at every poll
(src/daemon/fleet_i2c.c: a failed open() costs microseconds), for as long as it stays away.

Under lynx-sim every such open() passes umockdev's preload, which leaks a socket and an entry of
its 50-entry fd table per FAILED open of a /dev path and aborts the process at the 51st
("fd_map_add(): overflow"). lynx-sim's dev guard (sim/front/dev_guard.c, ahead of the preload in
LD_PRELOAD) answers those opens itself. These tests keep the adapter unplugged for many more
failed opens than that and check that the daemon is still the same process, holds no more file
descriptors than before, and publishes the distributor again once the adapter is back.

The nightly one (LYNX_NIGHTLY=1, skipped otherwise) leaves it unplugged for 10 minutes at the
default poll interval, 1 s.
"""
import os
import random
import socket
import sys
import time

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (POLL_INTERVAL_MS, TRANSPORTS, Failure, Harness, Skip, ini, require,  # noqa: E402
                     run, service_name, test)

CONNECTED, OK, BLOWN_ALARM = 1, 0, 2
POLL_S = POLL_INTERVAL_MS / 1000.0
I2C_ONLY = ("i2c",)
# umockdev 0.17.16's preload: its fd table holds 50 entries, the 51st failed open aborts
PRELOAD_FD_TABLE = 50
SCENARIO = """adapter LYNX0001
distributor LYNX0001 A
"""
DIAG_INTERVAL = ("--diagnostics-interval", "1")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def alive_check(h, pid):
    """The daemon is still the process it was, and has not reported the preload's overflow."""
    require(h.sim.poll() is None and os.path.exists(f"/proc/{pid}"),
            f"the daemon (pid {pid}) is gone; lynx-sim exited with {h.sim.returncode}")
    require("fd_map_add(): overflow" not in h.log_text(), "umockdev's preload aborted the daemon")


def polls(h, pid):
    """/Diagnostics/Polls, once the daemon is known to be alive (a dead one has no service)."""
    alive_check(h, pid)
    try:
        got = h.get("/Diagnostics/Polls")
    except dbus.exceptions.DBusException as e:
        alive_check(h, pid)
        raise Failure(f"the daemon's service does not answer: {e}")
    return got if got is not None else 0


def unplugged_for(config, failed_opens, timeout):
    """Unplugs the adapter, waits for `failed_opens` more polls (each one an open() of the
    missing /dev/i2c-N) or `timeout` seconds, then plugs it back."""
    with harness.started(SCENARIO, config=config, args=DIAG_INTERVAL) as h:
        pid = h.daemon_pid()
        h.wait_for("/Distributor/A/Status", CONNECTED, timeout=10)
        h.simctl("unplug", "LYNX0001")
        h.wait_for("/Adapter/Connected", 0, timeout=10)
        # a few failed opens in: whatever the first ones set up is there from now on
        start = polls(h, pid)
        deadline = time.monotonic() + timeout
        while polls(h, pid) < start + 5:
            require(time.monotonic() < deadline, "the daemon stopped polling the unplugged bus")
            h.pump(0.1)
        fds_before = fd_count(pid)
        start = polls(h, pid)
        highest = fds_before
        while polls(h, pid) < start + failed_opens:
            highest = max(highest, fd_count(pid))
            require(time.monotonic() < deadline,
                    f"only {polls(h, pid) - start} polls of the unplugged bus in {timeout} s")
            h.pump(0.2)
        alive_check(h, pid)
        fds_after = fd_count(pid)
        print(f"{polls(h, pid) - start} failed opens: {fds_before} fds before, {fds_after} after "
              f"(at most {highest} in between)")
        # a transfer's or a reopen's own descriptor may come and go; one per failed open may not
        require(highest <= fds_before + 2,
                f"the daemon's descriptors grew from {fds_before} to {highest} over "
                f"{failed_opens} failed opens")
        h.simctl("plug", "LYNX0001")
        h.wait_for("/Adapter/Connected", 1, timeout=10)
        h.wait_for("/Distributor/A/Status", CONNECTED, timeout=10)
        h.expect({"/Distributor/A/Alarms/ConnectionLost": OK})
        require(h.daemon_pid() == pid, "the daemon was restarted")


def control(h, *words):
    """One command on lynx-sim's control socket, a connection each as lynx-simctl makes it, but
    without a process per command: a thousand replugs take seconds."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(h.control)
        s.sendall((" ".join(words) + "\n").encode())
        answer = b""
        while not answer.endswith(b"\n\n"):
            chunk = s.recv(4096)
            require(chunk, f"lynx-sim closed the control channel on {words}: {answer!r}")
            answer += chunk
    require(answer.startswith(b"ok"), f"{' '.join(words)}: {answer.decode(errors='replace')}")


@test(transports=TRANSPORTS)
def two_adapters_replugged_a_thousand_times_are_served_again_and_the_simulator_lives():
    # unplugs and plugs in a random (fixed) order, both adapters out at times, so that each takes
    # device numbers the other had: umockdev kept a removed device's /sys/dev/char link, and
    # lynx-sim aborted after 530-630 such actions
    serials = ("LYNX0001", "LYNX0002")
    scenario = ("adapter LYNX0001\ndistributor LYNX0001 A fuses=ok,open,ok,ok\n"
                "adapter LYNX0002\ndistributor LYNX0002 B\n")
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=scenario, serials=serials)
        for serial in serials:
            h.wait_for("/Adapter/Connected", 1, service=service_name(serial))
        daemon = h.daemon_pid()
        rng = random.Random(7)
        began = time.monotonic()
        plugged = set(serials)
        replugs = 0
        while replugs < 1000:
            serial = rng.choice(serials)
            if serial in plugged:
                control(h, "unplug", serial)
                plugged.remove(serial)
                continue
            control(h, "plug", serial)
            plugged.add(serial)
            replugs += 1
            if replugs % 100 == 0:  # now and then the daemon gets a poll in
                h.pump(POLL_S)
        for serial in set(serials) - plugged:
            control(h, "plug", serial)
        require(h.sim.poll() is None, f"lynx-sim stopped:\n{h.log_text()[-2000:]}")
        require(h.daemon_pid() == daemon, "the daemon was restarted")
        for serial, letter in zip(serials, "AB"):
            svc = service_name(serial)
            h.wait_for("/Adapter/Connected", 1, timeout=10, service=svc)
            h.wait_for(f"/Distributor/{letter}/Status", CONNECTED, timeout=10, service=svc)
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", BLOWN_ALARM, timeout=5,
                   service=service_name("LYNX0001"))
        print(f"1000 replugs in {time.monotonic() - began:.1f} s")


@test(transports=I2C_ONLY)
def an_i2c_adapter_unplugged_for_hundreds_of_fast_polls_leaves_the_daemon_alive_and_flat():
    # 20 ms polls (test_poll_interval_ms, for the simulator only): 250 failed opens in ~5 s,
    # five times what umockdev's preload survives without the dev guard
    unplugged_for(ini({"test_poll_interval_ms": 20}), 5 * PRELOAD_FD_TABLE, timeout=60)


@test(transports=I2C_ONLY)
def nightly_an_i2c_adapter_unplugged_for_ten_minutes_at_one_poll_a_second():
    if os.environ.get("LYNX_NIGHTLY") != "1":
        raise Skip("ten minutes unplugged runs in the nightly only (LYNX_NIGHTLY=1)")
    unplugged_for(ini({"poll_interval_ms": 1000}), 600, timeout=600 + 120)


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
