"""Run inside a tools/vm.sh guest by test_vm.py: reports, as one JSON object on stdout, what the
guest's command saw of its working directory, environment and control channel.

    guest_probe.py LYNX_SIMCTL

The control channel is exercised the way a test in the guest uses it, after leaving the stream
dirty the way a killed client would: an unread answer and half a command line.
"""
import glob
import json
import os
import stat
import subprocess
import sys


def simctl(*words):
    r = subprocess.run([sys.argv[1], *words], capture_output=True, text=True, timeout=120)
    return {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr}


def main():
    control = os.environ.get("LYNX_SIM_CONTROL", "")
    port_name = None
    for p in glob.glob("/sys/class/virtio-ports/*"):
        if "/dev/" + os.path.basename(p) == control:
            with open(p + "/name") as f:
                port_name = f.read().strip()
    report = {
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "uid": os.getuid(),
        "control_is_char_device": bool(control) and stat.S_ISCHR(os.stat(control).st_mode),
        "control_port_name": port_name,
    }
    # A client that sent a command and never read its answer, then half a line.
    with open(control, "wb", buffering=0) as port:
        port.write(b"stats\n")
        port.write(b"fuse LYNX00")
    report["echo"] = simctl("echo", "probe-1")
    report["fuse"] = simctl("fuse", "LYNX0001", "A", "2", "open")
    report["stats"] = simctl("stats")
    report["bad_serial"] = simctl("fuse", "NOSUCH", "A", "2", "open")
    report["echo_again"] = simctl("echo", "probe-2")
    json.dump(report, sys.stdout)


main()
