"""Scenario test harness: the real daemon against the simulated hardware on a private D-Bus.

One Harness per test. It starts, in this order and each only on request:
  1. a private dbus-daemon (temporary config that allows everything, --print-address),
  2. the settings stand-in (com.victronenergy.settings), when the build has one,
  3. `lynx-sim --scenario X --control SOCK -- dbus-lynx-distributor -c CONFIG` with
     DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus.
It stops them in reverse order on exit (SIGTERM, then SIGKILL to the process group it created),
removes its temporary directory and then checks that none of its processes and no temporary
files are left: a leak fails the test.

Values are read with python-dbus GetValue (fast) or the independent client busitem-check. Every
BusItem signal on the bus (ItemsChanged, PropertiesChanged) and NameOwnerChanged is recorded with
its arrival time, so tests can assert what was (not) sent and when. Waits poll against a
deadline; there are no fixed sleeps beyond watching a quiet period on purpose.

Transports. LYNX_TRANSPORT=i2c runs the same test with every adapter of the scenario on a Linux
I2C bus instead of an FT232H: `adapter <serial> ...` becomes `i2c-adapter <serial> bus=<N>` (the
USB-only options dropped), the config's `[ftdi:<serial>]` becomes `[i2c:<N>]` (and every adapter
of the scenario gets a section: i2c buses are only claimed when configured), and service_name()
and adapter_name() give the i2c names. N is given per serial in order of first use, from 1.
Tests that are about USB itself say so (@test(transports=FTDI_ONLY)).

Paths of the programs come from the environment (set by tests/scenario/meson.build):
LYNX_SIM, LYNX_SIMCTL, LYNX_DAEMON, SCENARIO_FIXTURES, and LOCALSETTINGS_STANDIN (empty when the
build has no settings stand-in). busitem-check and Victron's services come from ../shared
(shared_path: a test needing them skips without it, or fails when CI=true).
"""
import collections
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

# The test registry and outcomes, the transport under test and its names (re-exported for the
# tests, which import everything from harness).
from registry import (EXIT_SKIP, Failure, Skip, require, run, test)  # noqa: F401
from transports import (FTDI_ONLY, SERVICE_PREFIX, TRANSPORT, TRANSPORTS, adapter_identity,  # noqa: F401
                        adapter_name, config_for_transport, i2c_bus, scenario_for_transport,
                        service_name, settings_id, trace_for_transport)

BUSITEM = "com.victronenergy.BusItem"
SETTINGS_SERVICE = "com.victronenergy.settings"

POLL_INTERVAL_MS = 200
# How late a change may show beyond the poll that should carry it (scheduling on a busy machine).
TIMING_MARGIN_S = float(os.environ.get("SCENARIO_TIMING_MARGIN_MS", "400")) / 1000.0

Signal = collections.namedtuple("Signal", "time sender path member values")


def shared_path(relative):
    """The path of `relative` in ../shared, the folder next to the project that holds software
    we did not write (Victron's services in venus/, tools/busitem-check); $LYNX_SHARED_DIR
    overrides where it is. When it is missing the test is skipped (meson's exit code 77) with a
    message naming it; with CI=true in the environment it fails instead."""
    root = os.environ.get("LYNX_SHARED_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
    path = os.path.normpath(os.path.join(root, relative))
    if os.path.exists(path):
        return path
    message = f"../shared/{relative} is missing (looked for {path})"
    if os.environ.get("CI") == "true":
        raise Failure(message + "; CI=true, so this fails instead of skipping")
    raise Skip(message)


def program(env_name):
    path = os.environ.get(env_name, "")
    if not path:
        raise Failure(f"${env_name} is not set (run the tests through meson)")
    return path


def is_invalid(v):
    return isinstance(v, dbus.Array) and len(v) == 0 and v.signature == "i"


def plain(v):
    """D-Bus value -> Python value; the invalid value (empty int32 array) -> None."""
    if is_invalid(v):
        return None
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16, dbus.UInt32,
                      dbus.UInt64)):
        return int(v)
    if isinstance(v, dbus.Double):
        return float(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath)):
        return str(v)
    if isinstance(v, dbus.Array):
        return [plain(x) for x in v]
    if isinstance(v, dbus.Dictionary):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def ini(general=None, adapters=None):
    """A config file: [general] (poll_interval_ms defaults to the fast test rate) and one
    [ftdi:<serial>] section per entry of adapters."""
    g = {"poll_interval_ms": POLL_INTERVAL_MS}
    g.update(general or {})
    lines = ["[general]"] + [f"{k} = {v}" for k, v in g.items()]
    for serial, keys in (adapters or {}).items():
        lines += ["", f"[ftdi:{serial}]"] + [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Harness:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="lynx-scn-")
        self.procs = []  # (label, Popen) in start order
        self.pids = set()  # every process id seen, for the leak check
        self.logs = []
        self.bus = None
        self.address = None
        self.signals = []
        self.owners = {}  # well-known name -> unique name while it was owned
        self.sim = None
        self.control = None
        self.runs = 0
        self.default_service = service_name("LYNX0001")
        # lynx-sim --strict-timing, and no timing violation allowed (see start_daemon): the
        # daemon's I2C must meet UM10204 in every test. A test that means to break the timing
        # sets it False before starting the daemon.
        self.strict_timing = True

    # ---- lifetime ------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return False
        if not issubclass(exc_type, Skip):
            self.print_logs()
        try:
            self.close()
        except Failure as e:  # the test's own failure is the one to report
            print(f"also: {e}", file=sys.stderr)
        return False

    def close(self):
        unclean = []
        for label, p in reversed(self.procs):
            if label == "dbus-daemon" and self.bus is not None:
                self.bus.close()
                self.bus = None
            running = p.poll() is None
            self._stop(p)
            # lynx-sim exits with the daemon's status: a running daemon must stop cleanly
            # (also catches sanitizer reports at exit)
            if running and label.startswith("daemon-") and p.returncode != 0:
                unclean.append(f"{label} exited with {p.returncode} on SIGTERM")
        self.procs = []
        if self.strict_timing:
            unclean += self._timing_violations()
        shutil.rmtree(self.tmp, ignore_errors=True)
        left = sorted(pid for pid in self.pids if _alive(pid))
        require(not left, f"processes left behind: {left}")
        require(not os.path.exists(self.tmp), f"temporary directory left behind: {self.tmp}")
        require(not unclean, "; ".join(unclean))

    def strict_args(self):
        return ("--strict-timing",) if self.strict_timing else ()

    def _timing_violations(self):
        """lynx-sim logs the first violation of each I2C timing rule: the daemon must have none."""
        found = []
        for label, path in self.logs:
            if not label.startswith("daemon-"):
                continue
            try:
                with open(path, errors="replace") as f:
                    found += [f"{label}: {line.strip()}" for line in f if "I2C timing:" in line]
            except FileNotFoundError:
                pass
        return found

    def _stop(self, p, timeout=3.0):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Anything still in the group we created (a daemon that outlived lynx-sim, say).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()

    def _spawn(self, label, argv, **kw):
        log = open(os.path.join(self.tmp, f"{label}.log"), "w")
        self.logs.append((label, log.name))
        p = subprocess.Popen(argv, stdout=kw.pop("stdout", log), stderr=log,
                             start_new_session=True, **kw)
        log.close()
        self.procs.append((label, p))
        self.pids.add(p.pid)
        return p

    def print_logs(self):
        for label, path in self.logs:
            try:
                with open(path, errors="replace") as f:
                    lines = f.readlines()
            except FileNotFoundError:
                continue
            print(f"----- {label} (last {min(len(lines), 60)} lines) -----", file=sys.stderr)
            sys.stderr.writelines(lines[-60:])

    def log_text(self, label=None):
        label = label or f"daemon-{self.runs}"
        with open(os.path.join(self.tmp, f"{label}.log"), errors="replace") as f:
            return f.read()

    # ---- the bus -------------------------------------------------------------------------

    def start_bus(self):
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={self.tmp}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
""")
        daemon = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"
        p = self._spawn("dbus-daemon", [daemon, "--config-file=" + conf, "--nofork",
                                        "--print-address=1"], stdout=subprocess.PIPE)
        deadline = time.monotonic() + 5
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            require(left > 0 and p.poll() is None, "dbus-daemon did not print its address")
            if select.select([p.stdout], [], [], left)[0]:
                chunk = os.read(p.stdout.fileno(), 512)
                require(chunk, "dbus-daemon closed its output before printing its address")
                line += chunk
        p.stdout.close()
        self.address = line.decode().strip()
        self.bus = dbus.bus.BusConnection(
            self.address, mainloop=dbus.mainloop.glib.DBusGMainLoop())
        self.bus.add_signal_receiver(self._on_busitem_signal, dbus_interface=BUSITEM,
                                     sender_keyword="sender", path_keyword="path",
                                     member_keyword="member")
        self.bus.add_signal_receiver(self._on_name_owner, signal_name="NameOwnerChanged",
                                     dbus_interface="org.freedesktop.DBus",
                                     bus_name="org.freedesktop.DBus")
        self.pump()  # the match rules are in place before anything else starts
        return self.address

    def _on_busitem_signal(self, *args, sender=None, path=None, member=None):
        values = {}
        if member == "ItemsChanged" and args:
            values = {str(p): plain(d.get("Value")) for p, d in args[0].items()}
        elif member == "PropertiesChanged" and args and "Value" in args[0]:
            values = {str(path): plain(args[0]["Value"])}
        self.signals.append(Signal(time.monotonic(), str(sender), str(path), str(member), values))

    def _on_name_owner(self, name, old, new):
        self.signals.append(Signal(time.monotonic(), "org.freedesktop.DBus", "/",
                                   "NameOwnerChanged", {str(name): (str(old), str(new))}))
        if new:
            self.owners[str(name)] = str(new)

    def pump(self, seconds=0.0):
        """Dispatch what arrived, for at least `seconds`."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= deadline:
                return
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))

    def mark(self):
        """The time to watch signals from: first dispatches what already arrived, which would
        otherwise be stamped later than it was sent."""
        self.pump()
        return time.monotonic()

    def has_owner(self, name):
        return bool(self.bus.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "NameHasOwner", "s",
                                           (name,), timeout=2))

    def wait_for_name(self, name, timeout=5.0, proc=None):
        deadline = time.monotonic() + timeout
        while not self.has_owner(name):
            if proc is not None and proc.poll() is not None:
                raise Failure(f"waiting for {name}: the process exited with {proc.returncode}")
            require(time.monotonic() < deadline, f"{name} did not appear within {timeout} s")
            self.pump(0.02)
        self.owners[name] = str(self.bus.get_name_owner(name))

    # ---- reading and writing values ------------------------------------------------------

    def call(self, path, method, signature="", args=(), service=None):
        return self.bus.call_blocking(service or self.default_service, path, BUSITEM, method,
                                      signature, args, timeout=3)

    def get(self, path, service=None):
        return plain(self.call(path, "GetValue", service=service))

    def text(self, path, service=None):
        return str(self.call(path, "GetText", service=service))

    def set(self, path, value, service=None):
        """SetValue with a python-dbus typed value; returns the service's result code."""
        return int(self.call(path, "SetValue", "v", (value,), service=service))

    def wait_for(self, path, value, timeout=3.0, service=None):
        """Waits until path holds value; returns the seconds it took."""
        start = time.monotonic()
        while True:
            got = self.get(path, service)
            if got == value:
                return time.monotonic() - start
            require(time.monotonic() - start < timeout,
                    f"{path} is {got!r}, expected {value!r} within {timeout} s")
            self.pump(0.01)

    def expect(self, expected, service=None):
        """Asserts several path -> value pairs at once and names every mismatch."""
        wrong = []
        for path, value in expected.items():
            got = self.get(path, service)
            if got != value:
                wrong.append(f"{path} = {got!r} (expected {value!r})")
        require(not wrong, "; ".join(wrong))

    def busitem_check(self, *args):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        exe = shared_path("tools/busitem-check")
        return subprocess.run(["/usr/bin/python3", exe, *args], env=env,
                              capture_output=True, text=True, timeout=30)

    def dump(self, service=None):
        """Every path -> value as the independent client busitem-check reads them."""
        r = self.busitem_check("--dump", service or self.default_service)
        require(r.returncode == 0, f"busitem-check --dump failed ({r.returncode}): {r.stderr}")
        out = {}
        for line in r.stdout.splitlines():
            path, value, _text = line.split("\t", 2)
            out[path] = json.loads(value)
        return out

    def items_changed(self, since=0.0, service=None):
        """The ItemsChanged signals the service sent at or after `since`."""
        self.pump()
        owner = self.owners.get(service or self.default_service)
        return [s for s in self.signals
                if s.member == "ItemsChanged" and s.sender == owner and s.time >= since]

    def sent(self, since=0.0, service=None):
        """Every BusItem signal (ItemsChanged, PropertiesChanged) the service sent."""
        self.pump()
        owner = self.owners.get(service or self.default_service)
        return [s for s in self.signals
                if s.member in ("ItemsChanged", "PropertiesChanged") and s.sender == owner
                and s.time >= since]

    def wait_for_signal(self, match, since, timeout, service=None):
        """The first ItemsChanged at or after `since` whose values satisfy match(values)."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.items_changed(since, service):
                if match(s.values):
                    return s
            require(time.monotonic() < deadline, f"no matching ItemsChanged within {timeout} s")
            self.pump(0.01)

    # ---- the settings stand-in -----------------------------------------------------------

    def start_settings(self):
        """Starts the settings stand-in; raises Skip when the build has none."""
        exe = os.environ.get("LOCALSETTINGS_STANDIN", "")
        if not exe or not os.access(exe, os.X_OK):
            raise Skip("no settings stand-in in this build (tests/settings_standin)")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        p = self._spawn("settings", [exe, "--file", os.path.join(self.tmp, "settings.xml")],
                        env=env)
        self.wait_for_name(SETTINGS_SERVICE, proc=p)
        return p

    def stop_settings(self):
        """SIGTERM to the settings stand-in (it saves its file first); waits until its name is
        gone."""
        for label, p in self.procs:
            if label == "settings" and p.poll() is None:
                self._stop(p)
        deadline = time.monotonic() + 5
        while self.has_owner(SETTINGS_SERVICE):
            require(time.monotonic() < deadline, "the settings service did not leave the bus")
            self.pump(0.02)

    def write_settings(self, values):
        """Pre-fills the stand-in's store with string settings {path: value} (before it starts),
        as a store an earlier run or another device left behind."""
        with open(os.path.join(self.tmp, "settings.xml"), "w") as f:
            for path, value in values.items():
                f.write(f"{path}\ts\t{value}\t{value}\t\t\t0\n")

    def name_changes(self, name, since=0.0):
        """(old owner, new owner) of every NameOwnerChanged of name at or after since."""
        self.pump()
        return [s.values[name] for s in self.signals
                if s.member == "NameOwnerChanged" and name in s.values and s.time >= since]

    def first_read_instances(self, serials, since):
        """{serial: /DeviceInstance} read the moment each service's name appeared after since,
        as systemcalc's dbusmonitor and dbus-flashmq read it (once, at discovery)."""
        names = {service_name(s): s for s in serials}
        first = {}
        deadline = time.monotonic() + 10
        while len(first) < len(names):
            require(time.monotonic() < deadline, f"services seen: {sorted(first)}")
            for name in names:
                if name not in first and any(new for _old, new in self.name_changes(name, since)):
                    first[name] = self.get("/DeviceInstance", service=name)
            self.pump(0.002)
        return {names[n]: v for n, v in first.items()}

    def settings_running(self):
        return any(label == "settings" and p.poll() is None for label, p in self.procs)

    def setting(self, path):
        return plain(self.bus.call_blocking(SETTINGS_SERVICE, path, BUSITEM, "GetValue", "", (),
                                            timeout=3))

    # ---- the simulator and the daemon ----------------------------------------------------

    def start_daemon(self, scenario=None, fixture=None, config=None, serials=("LYNX0001",),
                     wait=True, args=(), sim_args=()):
        """lynx-sim running the daemon. scenario: the text of a scenario; fixture: a file in
        fixtures/scenarios; config: the INI text (default: ini()). Waits for the services of
        `serials` unless wait is false."""
        require(self.sim is None or self.sim.poll() is not None, "the daemon is already running")
        self.runs += 1
        n = self.runs
        if fixture:
            with open(os.path.join(program("SCENARIO_FIXTURES"), fixture)) as f:
                scenario = f.read()
        scenario, declared = scenario_for_transport(scenario)
        scn = os.path.join(self.tmp, f"scenario-{n}.scn")
        with open(scn, "w") as f:
            f.write(scenario)
        config = config_for_transport(config if config is not None else ini(), declared)
        cfg = self.write_config(config, f"config-{n}.ini")
        self.control = os.path.join(self.tmp, f"ctl-{n}")
        # TMPDIR: whatever the simulator (umockdev) leaves behind is inside our directory.
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, TMPDIR=self.tmp)
        if "--settings-timeout" not in args and not self.settings_running():
            # nothing will answer for the instance: do not wait the 30 s a GX allows
            args = ("--settings-timeout", "0", *args)
        # --strict-timing: a START or address byte that breaks UM10204 is not acknowledged, as
        # a marginal distributor would; close() also fails on any timing violation at all.
        self.sim = self._spawn(f"daemon-{n}", [program("LYNX_SIM"), "--scenario", scn,
                                               "--control", self.control,
                                               *self.strict_args(), *sim_args, "--",
                                               program("LYNX_DAEMON"), "-c", cfg, *args],
                               env=env)
        self.config_path = cfg
        if wait:
            for serial in serials:
                self.wait_for_name(service_name(serial), proc=self.sim)
            self.daemon_pid()
        return self.sim

    def write_config(self, text, name="config.ini"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def daemon_pid(self):
        """The daemon: lynx-sim's child."""
        task_dir = f"/proc/{self.sim.pid}/task"
        for task in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
            if kids:
                self.pids.update(kids)
                return kids[0]
        raise Failure("lynx-sim has no child process")

    def stop_daemon(self, timeout=5.0):
        """SIGTERM to the daemon itself; returns lynx-sim's exit code (the daemon's)."""
        os.kill(self.daemon_pid(), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.sim.poll() is None:
            require(time.monotonic() < deadline, f"the daemon did not exit within {timeout} s")
            self.pump(0.01)
        self.pump(0.05)
        return self.sim.returncode

    def simctl(self, *words):
        r = subprocess.run([program("LYNX_SIMCTL"), "--socket", self.control, *words],
                           capture_output=True, text=True, timeout=10)
        require(r.returncode == 0,
                f"lynx-simctl {' '.join(words)}: exit {r.returncode}: {r.stdout}{r.stderr}")
        return r.stdout

    def sim_stats(self):
        out = self.simctl("stats")
        body = out[out.index("{"):]
        return json.loads(body)

    def run_daemon_alone(self, args, timeout=10):
        """The daemon without simulator, for start-up errors; D-Bus points into our directory so
        a daemon that goes on anyway cannot reach a real bus."""
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address or
                   f"unix:path={self.tmp}/no-bus")
        return subprocess.run([program("LYNX_DAEMON"), *args], env=env, capture_output=True,
                              text=True, timeout=timeout)


def started(scenario=None, fixture=None, config=None, serials=("LYNX0001",), settings=False,
            args=(), strict_timing=True):
    """A harness with the bus, optionally the settings stand-in, and the daemon running, after
    the daemon's first poll has published (/Adapter/Connected is 1 on every service)."""
    h = Harness()
    h.strict_timing = strict_timing
    try:
        h.start_bus()
        if settings:
            h.start_settings()
        h.start_daemon(scenario=scenario, fixture=fixture, config=config, serials=serials,
                       args=args)
        for serial in serials:
            h.wait_for("/Adapter/Connected", 1, service=service_name(serial))
    except BaseException:
        h.__exit__(*sys.exc_info())
        raise
    return h
