#!/usr/bin/python3
"""The daemon under valgrind's memcheck, run by lynx-sim through a scenario:

  lynx-sim --scenario ... -- valgrind --leak-check=full ... dbus-lynx-distributor -c CONFIG

valgrind inherits the umockdev preload from lynx-sim (LD_PRELOAD) and passes it on to the
daemon together with its own preloads, so the daemon sees the simulated adapter as usual. The
daemon runs for a few seconds through fuse changes, a SetValue, an unplug and a replug, then gets
SIGTERM. valgrind.supp holds the one suppression (umockdev's own, not the daemon's). Fails on
any memcheck error or definitely lost block (valgrind's exit code, and its
summary lines read back), or when the daemon does not exit cleanly.

  test_valgrind.py TEST_NAME      (exit 0 / 1 / 77 = skipped: no valgrind)
"""
import os
import re
import shutil
import sys

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, Skip, ini, program, require, run, service_name, test  # noqa: E402

SCENARIO = "adapter LYNX0001\ndistributor LYNX0001 A\ndistributor LYNX0001 B supply=off\n"
SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
STARTUP_S = 60  # valgrind makes start-up some 20-50 times slower

@test(alone=True)
def daemon_under_valgrind_has_no_memory_error_and_no_definite_leak():
    valgrind = shutil.which("valgrind")
    if not valgrind:
        raise Skip("valgrind is not installed (apt-get install valgrind)")
    with Harness() as h:
        log = os.path.join(h.tmp, "valgrind.log")
        wrapper = os.path.join(h.tmp, "daemon-under-valgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    f"exec {valgrind} --leak-check=full --errors-for-leak-kinds=definite "
                    "--show-leak-kinds=definite --error-exitcode=1 "
                    f"--suppressions={SUPPRESSIONS} "
                    f"--log-file={log} {program('LYNX_DAEMON')} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        os.environ["LYNX_DAEMON"] = wrapper
        h.start_bus()
        h.start_daemon(scenario=SCENARIO, config=ini(adapters={
            "LYNX0001": {"distributorAInstalled": "true"}}), wait=False)
        h.wait_for_name(service_name("LYNX0001"), timeout=STARTUP_S, proc=h.sim)
        h.wait_for("/Adapter/Connected", 1, timeout=STARTUP_S)
        h.wait_for("/Distributor/A/Status", 1, timeout=10)
        h.simctl("fuse", "LYNX0001", "A", "2", "open")
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", 2, timeout=10)
        h.simctl("fuse", "LYNX0001", "A", "2", "ok")
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", 0, timeout=10)
        require(h.set("/Distributor/A/Fuse/0/Name", dbus.String("Inverter", variant_level=1))
                == 0, "SetValue of a fuse name refused")
        require(h.set("/Distributor/A/Fuse/0/Name", dbus.Int32(1, variant_level=1)) == 1,
                "SetValue of a wrong type not refused")
        h.simctl("unplug", "LYNX0001")
        h.wait_for("/Distributor/A/Status", 3, timeout=20)
        h.simctl("plug", "LYNX0001")
        h.wait_for("/Distributor/A/Status", 1, timeout=30)
        code = h.stop_daemon(timeout=60)
        with open(log, errors="replace") as f:
            report = f.read()
        # The summaries; the whole report when something was found.
        print("\n".join(line for line in report.splitlines() if re.search(
            r"in use at exit|total heap usage|definitely lost|indirectly lost|possibly lost|"
            r"still reachable|ERROR SUMMARY|All heap blocks", line)))
        errors = re.search(r"ERROR SUMMARY: (\d+) errors", report)
        require(errors, f"no memcheck summary in the valgrind log:\n{report}")
        require(int(errors.group(1)) == 0, f"memcheck reported errors:\n{report}")
        require("definitely lost" not in report or
                re.search(r"definitely lost: 0 bytes", report), "memcheck found a definite leak")
        require(code == 0, f"the daemon under valgrind exited with {code} (1: memcheck errors)")


if __name__ == "__main__":
    sys.exit(run())
