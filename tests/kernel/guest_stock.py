#!/usr/bin/python3
"""Kernel suite, stock-adapter boot (fixtures/scenarios/kernel-stock.scn): two FT232H with FTDI's
ids, bound by the guest kernel's own ftdi_sio. The daemon detaches ftdi_sio from the one it is
given and gives it back at exit; udevd applies the project's rule; install.sh and daemontools run
the service as on a GX; pyftdi, a client nobody here wrote, reads the other adapter.
Runs inside tools/vm.sh (see guest.py)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import SLOW, Failure, Guest, case, config, guest_run, main, require, wait_until  # noqa: E402
from harness import program, service_name  # noqa: E402
from published import ALARM, CONNECTED, FUSE_BLOWN, FUSE_OK, dist  # noqa: E402

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NAME = "dbus-lynx-distributor"
SA = service_name("FT232HA")


def usb_device_of_serial(serial):
    for dev in os.listdir("/sys/bus/usb/devices"):
        path = f"/sys/bus/usb/devices/{dev}/serial"
        if ":" not in dev and os.path.exists(path):
            with open(path) as f:
                if f.read().strip() == serial:
                    return dev
    return None


def tty_of(serial):
    """The ttyUSB that ftdi_sio made of the adapter with this serial, or None."""
    for tty in sorted(os.listdir("/sys/class/tty")):
        if not tty.startswith("ttyUSB"):
            continue
        # .../usbN/1-1/1-1:1.0/ttyUSB0: the USB device is two levels up
        usbdev = os.path.dirname(os.path.dirname(os.path.realpath(f"/sys/class/tty/{tty}/device")))
        try:
            with open(os.path.join(usbdev, "serial")) as f:
                if f.read().strip() == serial:
                    return tty
        except FileNotFoundError:
            continue
    return None


def ttys_of(serial):
    """Every ttyUSB of the adapter with this serial (one per port of a multi-port chip)."""
    ttys = []
    for tty in sorted(os.listdir("/sys/class/tty")):
        if tty.startswith("ttyUSB"):
            usbdev = os.path.dirname(os.path.dirname(os.path.realpath(f"/sys/class/tty/{tty}/device")))
            try:
                with open(os.path.join(usbdev, "serial")) as f:
                    if f.read().strip() == serial:
                        ttys.append(tty)
            except FileNotFoundError:
                continue
    return ttys


def interface_driver(serial):
    dev = wait_until(f"USB device {serial}", lambda: usb_device_of_serial(serial))
    link = f"/sys/bus/usb/devices/{dev}:1.0/driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def kernel_log():
    with open("/dev/kmsg", "rb") as f:
        os.set_blocking(f.fileno(), False)
        lines = []
        while True:
            try:
                line = f.readline()
            except BlockingIOError:
                break
            if not line:
                break
            lines.append(line.decode(errors="replace").split(";", 1)[-1].strip())
        return lines


def detaches(lines):
    return sum("converter now disconnected from ttyUSB" in line for line in lines)


@case
def ftdi_sio_binds_both_stock_adapters_in_the_guest_kernel():
    for serial in ("FT232HA", "FT232HB"):
        wait_until(f"a ttyUSB of {serial}", lambda: tty_of(serial))
        require(interface_driver(serial) == "ftdi_sio", f"{serial} is not bound to ftdi_sio")


@case
def ftdi_sio_is_detached_once_kept_detached_through_re_opens_and_given_back_at_exit():
    before = detaches(kernel_log())
    with Guest() as h:
        h.start_bus()
        h.start_daemon(config(adapters=("FT232HA",)), services=(SA,))
        h.expect_soon({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED}, SA)
        h.expect(dist("A", CONNECTED, [FUSE_OK, FUSE_OK, FUSE_BLOWN, FUSE_OK]), service=SA)
        require(tty_of("FT232HA") is None, "FT232HA still has its ttyUSB while the daemon runs")
        require(interface_driver("FT232HA") == "usbfs", "the daemon has not claimed FT232HA")
        require(tty_of("FT232HB") is not None, "the daemon took FT232HB, which it was not given")
        h.conforms(SA)
        # persistent USB errors: the daemon sets the adapter up again and re-opens it
        h.simctl("usb-error", "FT232HA", "count=40")
        h.wait_log("re-opening it", timeout=3 * SLOW)
        h.simctl("usb-error", "FT232HA", "count=0")  # what the daemon did not use up
        h.wait_for("/Adapter/Connected", 1, timeout=3 * SLOW, service=SA)
        require(detaches(kernel_log()) - before == 1,
                "ftdi_sio was detached more than once (or never) while the daemon ran")
        require(h.stop_daemon(timeout=SLOW) == 0, "the daemon did not exit cleanly")
    wait_until("FT232HA's ttyUSB back after the daemon's exit", lambda: tty_of("FT232HA"))
    require(interface_driver("FT232HA") == "ftdi_sio", "ftdi_sio was not given FT232HA back")


@case
def pyftdi_reads_the_adapter_the_daemon_was_not_given():
    out = guest_run(["/usr/bin/python3", os.path.join(TOP, "tests/conformance/pyftdi_scan.py"),
                     "0403:6014:FT232HB", "0x08=0x00", "0x09=0x02", "0x0A=nack", "0x0B=nack"])
    print("  " + out.strip().replace("\n", "\n  "))
    # pyftdi detaches ftdi_sio too (libusb auto-detach) and gives it back when it closes
    wait_until("FT232HB's ttyUSB back after pyftdi", lambda: tty_of("FT232HB"))


def service_log():
    try:
        with open(f"/var/log/{NAME}/current", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return "(none)"


def udev_property(tty, key):
    out = guest_run(["udevadm", "info", "--query=property", f"--name=/dev/{tty}"])
    for line in out.splitlines():
        k, _, v = line.partition("=")
        if k == key:
            return v
    return None


@case
def install_sh_sets_up_udev_and_daemontools_and_uninstall_sh_takes_it_away():
    stage = tempfile.mkdtemp(prefix="lynx-stage-")
    svscan = None
    try:
        scan = os.path.join(os.path.dirname(program("LYNX_DAEMON")), "lynx-scan")
        guest_run(["sh", os.path.join(TOP, "tools/stage-package.sh"), stage,
                   program("LYNX_DAEMON"), scan])
        c = wait_until("FT4232HC's four ttyUSB", lambda: len(ttys_of("FT4232HC")) == 4 and
                       ttys_of("FT4232HC"))
        print("  " + guest_run(["sh", f"{stage}/install.sh", "--serial", "FT232HA", "--serial",
                                "FT4232HC"]).strip().replace("\n", "\n  "))
        rule = f"/etc/udev/rules.d/99-{NAME}.rules"
        require(os.path.exists(rule), f"install.sh did not install {rule}")
        a, b = tty_of("FT232HA"), tty_of("FT232HB")
        require(a and b, f"ttys: FT232HA {a}, FT232HB {b}")

        def ignored(ttys):
            guest_run(["udevadm", "settle", "--timeout=60"])
            return {tty: udev_property(tty, "VE_SERVICE") for tty in ttys}

        def only_named_ignored(when):
            # the guest's real udevd applied the rule to the ttys that were there already (by
            # install.sh's own trigger): the adapters named with --serial, every port, are kept
            # from serial-starter, the other one is not
            got = ignored([a, b] + c)
            want = {tty: "ignore" for tty in [a] + c}
            want[b] = None
            require(got == want, f"{when}: VE_SERVICE of the ttys {got}, expected {want}")

        only_named_ignored("after install.sh")
        # A firmware update: a new rootfs without the rule; at boot udevd set the ttys up
        # without it. Then rcS.local runs, before svscan starts serial-starter.
        os.unlink(rule)
        guest_run(["udevadm", "control", "--reload-rules"])
        guest_run(["udevadm", "trigger", "--action=add", "--subsystem-match=tty"])
        require(set(ignored([a] + c).values()) == {None},
                f"the ttys kept VE_SERVICE without the rule: {ignored([a] + c)}")
        out = guest_run(["sh", "/data/rcS.local"])
        require(out.strip() == "", f"the early boot run is not quiet: {out!r}")
        require(os.path.exists(rule), "rcS.local did not put the rule back")
        only_named_ignored("after rcS.local put the rule back")
        with Guest() as h:
            h.start_bus()
            h.start_settings()  # the service's own start waits for localsettings, as on a GX
            # svscan runs the linked service as Venus OS does, on the guest's bus
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=h.address)
            svscan = subprocess.Popen(["svscan", "/service"], env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                h.wait_for_name(SA, timeout=3 * SLOW)
                h.expect_soon({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED}, SA)
                h.expect({"/Distributor/A/Fuse/2/Alarms/Blown": ALARM}, service=SA)
            except Failure as e:
                raise Failure(f"{e}\nthe service's log:\n{service_log()}")
            print("  " + guest_run(["sh", f"/data/{NAME}/uninstall.sh"])
                  .strip().replace("\n", "\n  "))
            deadline = time.monotonic() + 3 * SLOW
            while h.has_owner(SA):
                require(time.monotonic() < deadline, "the service still runs after uninstall.sh")
                h.pump(0.2)
        for gone in (f"/service/{NAME}", rule, f"/data/{NAME}"):
            require(not os.path.lexists(gone), f"uninstall.sh left {gone}")
        wait_until("FT232HA's ttyUSB back after uninstall", lambda: tty_of("FT232HA"))
    finally:
        if svscan:
            os.killpg(svscan.pid, signal.SIGTERM)
            svscan.wait()
            subprocess.run(["pkill", "-TERM", "-x", "supervise"])
        shutil.rmtree(stage, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
