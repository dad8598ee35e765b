"""The venus suite's harness: the scenario harness (private bus, lynx-sim, the daemon) plus
Victron's own services from ../shared/venus -- localsettings and dbus-systemcalc-py, unmodified --
and device doubles published with Victron's velib_python (fake_device.py).

Without ../shared/venus the tests skip (exit 77, naming what is missing); with CI=true they fail
instead (harness.shared_path), so a plain clone passes and CI cannot silently skip them.
"""
import json
import os
import sys
import time

import dbus

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))
import harness  # noqa: E402
from harness import Harness, SETTINGS_SERVICE, plain, require  # noqa: E402

SYSTEM_SERVICE = "com.victronenergy.system"
PYTHON = "/usr/bin/python3"
# What systemcalc decides about the battery monitor, and what the overview shows of it.
SYSTEM_PATHS = ("/AutoSelectedBatteryService", "/ActiveBatteryService", "/Dc/Battery/Soc",
                "/Dc/Battery/Voltage", "/Dc/Battery/Current", "/AvailableBatteryServices",
                "/AvailableBatteryMeasurements")


def venus_dir():
    """../shared/venus (harness.shared_path: skipped without it, failing instead with CI=true)."""
    for needed in ("localsettings/localsettings.py", "dbus-systemcalc-py/dbus_systemcalc.py",
                   "dbus-systemcalc-py/ext/velib_python/vedbus.py"):
        harness.shared_path("venus/" + needed)
    return harness.shared_path("venus")


class Venus(Harness):
    def __init__(self):
        self.venus = venus_dir()
        super().__init__()
        self.velib = os.path.join(self.venus, "dbus-systemcalc-py", "ext", "velib_python")

    def _venus_env(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # both would take the session bus
        return env

    def start_settings(self):
        """Victron's localsettings instead of the stand-in (same label: the harness's
        stop_settings and settings_running apply)."""
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf, exist_ok=True)
        p = self._spawn("settings", [PYTHON, "-B", "-u", "localsettings.py", "--path", conf],
                        cwd=os.path.join(self.venus, "localsettings"), env=self._venus_env())
        self.wait_for_name(SETTINGS_SERVICE, timeout=20, proc=p)
        return p

    def start_systemcalc(self):
        p = self._spawn("systemcalc", [PYTHON, "-B", "-u", "dbus_systemcalc.py"],
                        cwd=os.path.join(self.venus, "dbus-systemcalc-py"), env=self._venus_env())
        self.wait_for_name(SYSTEM_SERVICE, timeout=30, proc=p)
        return p

    def start_device(self, service, instance, product, paths):
        label = "device-" + service.rsplit(".", 2)[-2]
        p = self._spawn(label, [PYTHON, "-B", os.path.join(os.path.dirname(__file__),
                                                            "fake_device.py"),
                                self.velib, service, str(instance), product, json.dumps(paths)],
                        env=self._venus_env())
        self.wait_for_name(service, timeout=10, proc=p)
        return p

    def add_setting(self, path, default):
        """AddSettings as any Venus client does it (a store an earlier run left behind)."""
        item = {"path": path, "default": default}
        self.bus.call_blocking(SETTINGS_SERVICE, "/", "com.victronenergy.Settings",
                               "AddSettings", "aa{sv}", ([item],), timeout=10)

    def set_setting(self, path, value):
        return int(self.bus.call_blocking(SETTINGS_SERVICE, path, harness.BUSITEM, "SetValue",
                                          "v", (value,), timeout=5))

    def setting_exists(self, path):
        try:
            self.setting(path)
            return True
        except dbus.DBusException:
            return False

    def system(self):
        return {p: plain(self.bus.call_blocking(SYSTEM_SERVICE, p, harness.BUSITEM, "GetValue",
                                                "", (), timeout=5)) for p in SYSTEM_PATHS}

    def settled_system(self, quiet=3.0, timeout=30.0):
        """systemcalc's values once they have not changed for `quiet` seconds (it recomputes on
        a one-second timer)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            now = self.system()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return now
            require(time.monotonic() < deadline, f"systemcalc did not settle: {now}")
            self.pump(0.2)
