"""Run inside a tools/vm.sh guest by test_vm.py: reports, as one JSON object on stdout, what the
guest's command saw of its working directory, environment, USB devices and control channel.

    guest_probe.py LYNX_SIMCTL

The control channel is exercised the way a test in the guest uses it, after leaving the stream
dirty the way a killed client would: an unread answer and half a command line. Then the first
adapter is unplugged and plugged in again through it, as the guest's sysfs sees it.
"""
import glob
import json
import os
import stat
import subprocess
import sys
import time

# Bounds the wait for the kernel to see a device go or come (well under a second normally).
DEVICE_WAIT_S = 60


def usb_devices():
    """(bus port path, "vid:pid", serial) of every USB device but the root hubs, by port."""
    found = []
    for d in sorted(glob.glob("/sys/bus/usb/devices/*")):
        def attr(name):
            try:
                with open(os.path.join(d, name)) as f:
                    return f.read().strip()
            except OSError:
                return None
        vid, pid = attr("idVendor"), attr("idProduct")
        if vid and vid != "1d6b":
            found.append([os.path.basename(d), f"{vid}:{pid}", attr("serial")])
    return found


def wait_serial(serial, present):
    deadline = time.monotonic() + DEVICE_WAIT_S
    while time.monotonic() < deadline:
        if any(s == serial for _, _, s in usb_devices()) == present:
            return True
        time.sleep(0.1)
    return False


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
        "machine": os.uname().machine,
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
    report["usb"] = usb_devices()
    report["unplug"] = simctl("unplug", "LYNX0001")
    report["gone"] = wait_serial("LYNX0001", False)
    report["plug"] = simctl("plug", "LYNX0001")
    report["back"] = wait_serial("LYNX0001", True)
    json.dump(report, sys.stdout)


main()
