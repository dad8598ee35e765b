#!/usr/bin/python3
"""Kernel suite, CP2112 boot (fixtures/scenarios/kernel-cp2112.scn): the guest kernel's hid-cp2112
turns the simulated CP2112 into /dev/i2c-N; i2c-tools and the daemon's [i2c:N] transport read the
Lynx Distributors through the real i2c core and driver, with the driver's own errno for a
distributor that does not answer. Runs inside tools/vm.sh (see guest.py)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import SLOW, Guest, case, config, guest_run, main, require, wait_until  # noqa: E402
from harness import SERVICE_PREFIX  # noqa: E402
from published import (ALARM, COMMS_LOST, CONNECTED, FUSE_BLOWN, FUSE_OK, NO_BUS_POWER, OK,
                       absent, dist)  # noqa: E402


def cp2112_bus():
    """N of the /dev/i2c-N that hid-cp2112 made, or None."""
    for dev in sorted(os.listdir("/sys/class/i2c-dev")):
        with open(f"/sys/class/i2c-dev/{dev}/name") as f:
            if f.read().startswith("CP2112 SMBus Bridge"):
                return int(dev.split("-")[1])
    return None


def bus():
    return wait_until("/dev/i2c-N of the CP2112", cp2112_bus, timeout=3 * SLOW)


@case
def i2cdetect_and_i2cget_see_exactly_the_scenario():
    n = bus()
    out = guest_run(["i2cdetect", "-y", "-r", str(n)])  # -r: the CP2112 has no quick command
    found = sorted(int(w, 16) for line in out.splitlines()[1:]
                   for w in line.split(":", 1)[-1].split() if w not in ("--", "UU"))
    require(found == [0x08, 0x0A], f"i2cdetect found {[hex(a) for a in found]}:\n{out}")
    for addr, want in ((0x08, "0x10"), (0x0A, "0x02")):
        got = guest_run(["i2cget", "-y", str(n), hex(addr)]).strip()
        require(got == want, f"i2cget {hex(addr)}: {got}, the scenario has {want}")
    r = subprocess.run(["i2cget", "-y", str(n), "0x09"], capture_output=True, text=True)
    require(r.returncode != 0, f"i2cget 0x09 (not on the chain) read {r.stdout.strip()}")


@case
def the_daemon_publishes_the_bus_through_hid_cp2112():
    n = bus()
    svc = SERVICE_PREFIX + f"i2c{n}"
    cfg = config(i2c=((str(n), {"distributorBInstalled": "true"}),))
    with Guest() as h:
        h.start_bus()
        h.start_daemon(cfg, services=(svc,))
        h.expect_soon({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED}, svc)
        h.expect({**dist("A", CONNECTED, [FUSE_BLOWN, FUSE_OK, FUSE_OK, FUSE_OK]),
                  "/Distributor/C/Status": NO_BUS_POWER, **absent("D")}, service=svc)
        # B is installed but never answers: the driver's NACK errno must read as a missing
        # distributor (connection lost), not as a broken adapter
        h.wait_for("/Distributor/B/Alarms/ConnectionLost", ALARM, timeout=SLOW, service=svc)
        h.expect({"/Distributor/B/Status": COMMS_LOST, "/Adapter/Connected": 1}, service=svc)
        h.conforms(svc)
        # a fuse change on the chain shows at the next polls
        h.simctl("fuse", "CP2112A", "C", "4", "open")
        h.simctl("supply", "CP2112A", "C", "on")
        try:
            h.wait_for("/Distributor/C/Fuse/3/Status", FUSE_BLOWN, timeout=SLOW, service=svc)
        finally:
            h.simctl("supply", "CP2112A", "C", "off")
            h.simctl("fuse", "CP2112A", "C", "4", "ok")


@case
def unplug_and_replug_of_the_cp2112_loses_and_recovers_the_bus():
    n = bus()
    svc = SERVICE_PREFIX + f"i2c{n}"
    with Guest() as h:
        h.start_bus()
        h.start_daemon(config(i2c=(str(n),)), services=(svc,))
        h.expect_soon({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED}, svc)
        h.simctl("unplug", "CP2112A")
        try:
            wait_until(f"/dev/i2c-{n} gone", lambda: not os.path.exists(f"/dev/i2c-{n}"))
            h.wait_for("/Adapter/Connected", 0, timeout=SLOW, service=svc)
            h.wait_for("/Distributor/A/Alarms/ConnectionLost", ALARM, timeout=SLOW, service=svc)
        finally:
            h.simctl("plug", "CP2112A")
        require(bus() == n, f"the replugged CP2112 is i2c-{cp2112_bus()}, not i2c-{n}")
        h.wait_for("/Adapter/Connected", 1, timeout=3 * SLOW, service=svc)
        h.expect_soon({"/Distributor/A/Status": CONNECTED,
                       "/Distributor/A/Alarms/ConnectionLost": OK}, svc)


if __name__ == "__main__":
    sys.exit(main())
