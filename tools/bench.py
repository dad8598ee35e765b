#!/usr/bin/python3
"""Benchmark: the real daemon under lynx-sim against four distributors, and a baseline scan with
pyftdi's I2cController done the way the original Python plugin did it, in one invocation.

  tools/bench.py --build DIR [--short] [--readme FILE]    (tools/bench.sh builds and calls this)

How each figure is measured (fixtures/scenarios/four-distributors.scn, I2C at 100 kHz, polls every
100 ms, a private dbus-daemon with the settings stand-in):
  * Per poll (USB transfers and bytes, SCL periods, modelled bus time, CPU, D-Bus messages): two
    runs of the daemon that differ only in `--polls N` (it quits after N polls); every figure is
    (run with N2 - run with N1) / (N2 - N1), so start-up, set-up and exit cancel out exactly.
    USB and bus figures come from `lynx-sim --stats`; CPU (user + sys) and peak RSS from wait4()
    on the daemon (this script execs it, under lynx-sim, with --exec-child); D-Bus messages are
    every message the daemon's connection sends, seen by a monitor (BecomeMonitor) on the bus
    (with --diagnostics-interval 3600: the diagnostics snapshot, once a minute by default, is not
    poll traffic).
  * Start-up: from the exec of the daemon to NameOwnerChanged of its service on the bus (median
    of the runs).
  * Fuse latency: `fuse LYNX0001 A 1 open` (and `ok`) sent on the control socket, to the
    ItemsChanged that carries /Distributor/A/Fuse/0/Status 3 (2); with 100 ms polls the
    expectation is about half a poll interval on average.
  * Instructions per poll: callgrind (valgrind) total Ir of two runs, differenced like the above.
  * The same four distributors on a Linux i2c-dev adapter (`i2c-adapter ... bus=1`, config
    [i2c:1]): ioctls, I2C transactions and modelled bus time per poll, differenced the same way
    (ioctls from the adapter's counters in `lynx-sim --stats`), next to the FT232H's.
  * Baseline: per scan of the four addresses, pyftdi I2cController at 100 kHz: I2cPort.poll()
    (address probe) then I2cPort.read(1) for each address, scans back to back in one process;
    two runs with M1 and M2 scans, differenced; CPU and peak RSS of that Python process.
  * In a QEMU guest with Debian's kernel (tools/bench_kernel.py, tools/bench_guest.py): CPU time
    and wakeups per poll at the field's 1 s interval, against a no-op process waking as often;
    USB transfers per poll as the usbredir server counts them; GetValue latency.
  * GetValue with silent stock adapters: four stock FT232Hs (0403:6014) armed with
    `control-timeout count=1000000` from the start (no control request of theirs is ever answered:
    no serial string, no set-up) next to LYNX0001, and a configured adapter ([ftdi:LYNXGONE]) that
    is not there; p99 and max of back-to-back GetValue calls on LYNX0001's service.
Exits 1 when a target is missed, 2 when the benchmark itself could not run.
"""
import argparse
import json
import os
import platform
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import bench_kernel  # the same figures from a QEMU guest with a real kernel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENARIO = os.path.join(ROOT, "fixtures", "scenarios", "four-distributors.scn")
SERIAL = "LYNX0001"
SERVICE = "com.victronenergy.battery.dbus_lynx_distributor_" + SERIAL
SETTINGS = "com.victronenergy.settings"
POLL_MS = 100
SCL_HZ = 100000
DISTRIBUTORS = 4
SCAN_READS = DISTRIBUTORS + 1  # and the canary, 0x7F (src/lynx/lynx.h): a stuck bus answers it
LYNX_ADDRESSES = range(0x08, 0x0C)
# UM10204 standard mode (the configured 100 kHz): START = bus free before it + hold, STOP = set-up.
T_BUF, T_HD_STA, T_SU_STO = 4.7e-6, 4.0e-6, 4.0e-6
T_HIGH, T_LOW = 4.0e-6, 4.7e-6
# The shortest compliant bit of an MPSSE master: 3-phase clocking (which I2C needs for data hold)
# keeps SCL high for a third of a bit and low for two thirds, so tHIGH, not the 100 kHz rate,
# sets the bit length: 3 x 4.0 us = 12 us (83.3 kHz).
BIT_S = max(1 / SCL_HZ, 3 * T_HIGH, 1.5 * T_LOW)
TARGET_BUS_RATIO = 1.5
TARGET_RSS_ABOVE_FLOOR_KIB = 768  # the daemon's own memory: 0.75 MiB above the no-op's peak
FLOOR_RUNS = 5
TARGET_STARTUP_S = 0.050
TARGET_GETVALUE_P99_S = 0.010
TARGET_GETVALUE_MAX_S = 0.050  # with stock adapters that never answer and a configured one missing
STOCK_ADAPTERS = 4
MISSING_SERIAL = "LYNXGONE"
FUSE_PATH = "/Distributor/A/Fuse/0/Status"
FUSE_BLOWN, FUSE_OK = 3, 2
USB_FIELDS = ("usb_bulk_out", "usb_bulk_in", "usb_control_out", "usb_control_in", "usb_bytes_out",
              "usb_bytes_in", "i2c_transactions", "scl_periods", "bus_time_ns")


class BenchError(Exception):
    pass


# ---- helpers run inside lynx-sim ------------------------------------------------------------

def exec_child(out_path, argv):
    """Runs argv as a child, then writes its exec time (CLOCK_MONOTONIC), exit status and
    rusage (wait4) to out_path; exits with the child's status."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, repr(time.monotonic()).encode())
        os.close(w)
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(w)
    started = float(os.read(r, 64).decode())
    os.close(r)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
    # ru_maxrss would count this forked Python before the exec: VmHWM belongs to the exec'd image
    memory = {}
    while True:
        try:
            done, status, usage = os.wait4(pid, os.WNOHANG)
        except InterruptedError:
            continue
        if done:
            break
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                execed = f.read().split(b"\0")[:-1] == [a.encode() for a in argv]
            if execed:
                memory = {k: int(fields[k].split()[0]) for k in ("VmHWM", "RssAnon", "RssFile")}
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    with open(out_path, "w") as f:
        json.dump({"exec_time": started, "exit": code, "utime": usage.ru_utime,
                   "stime": usage.ru_stime, "maxrss_kib": memory.get("VmHWM", 0),
                   "anon_kib": memory.get("RssAnon", 0)}, f)
    sys.exit(code if code >= 0 else 128 - code)


def baseline_scans(count):
    """What the original Python plugin does per poll, with pyftdi (Debian python3-ftdi)."""
    from pyftdi.ftdi import Ftdi
    from pyftdi.i2c import I2cController, I2cNackError
    Ftdi.add_custom_product(0x0403, 0xD4F8, "lynx")
    i2c = I2cController()
    i2c.configure("ftdi://0x0403:0xd4f8/1", frequency=SCL_HZ)
    ports = [i2c.get_port(a) for a in LYNX_ADDRESSES]
    seen = {}
    for _ in range(count):
        for port in ports:
            if not port.poll():
                seen[port.address] = None
                continue
            try:
                seen[port.address] = port.read(1)[0]
            except I2cNackError:
                seen[port.address] = None
    i2c.close()
    expected = {0x08: 0x00, 0x09: 0x00, 0x0A: 0x40, 0x0B: 0x00}
    if seen != expected:
        print(f"baseline read {seen}, expected {expected}", file=sys.stderr)
        sys.exit(3)


# ---- the bench ------------------------------------------------------------------------------

class Bus:
    """A private dbus-daemon and a monitor connection that timestamps every message."""

    def __init__(self, tmp):
        import dbus
        import dbus.mainloop.glib
        from gi.repository import GLib
        self.dbus, self.glib = dbus, GLib
        conf = os.path.join(tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={tmp}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
""")
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork",
                                      "--print-address=1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        line = b""
        deadline = time.monotonic() + 5
        while not line.endswith(b"\n"):
            if time.monotonic() > deadline or not select.select([self.proc.stdout], [], [], 1)[0]:
                if time.monotonic() > deadline:
                    raise BenchError("dbus-daemon did not print its address")
                continue
            chunk = os.read(self.proc.stdout.fileno(), 512)
            if not chunk:
                raise BenchError("dbus-daemon exited")
            line += chunk
        self.address = line.decode().strip()
        loop = dbus.mainloop.glib.DBusGMainLoop()
        self.monitor = dbus.bus.BusConnection(self.address, mainloop=loop)
        self.monitor.add_message_filter(self._on_message)
        self.monitor.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus.Monitoring", "BecomeMonitor", "asu",
                                   ([], 0))
        self.messages = []  # (time, sender, type, member, args)
        self.client = dbus.bus.BusConnection(self.address, mainloop=loop)

    def _on_message(self, conn, msg):
        t = time.monotonic()
        member = msg.get_member()
        args = ()
        if member in ("ItemsChanged", "NameOwnerChanged"):
            args = msg.get_args_list()
        self.messages.append((t, msg.get_sender(), msg.get_type(), member, args))
        return self.dbus.lowlevel.HANDLER_RESULT_HANDLED

    def pump(self, seconds=0.0):
        ctx = self.glib.MainContext.default()
        deadline = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= deadline:
                return
            time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))

    def name_appeared(self, name, since):
        """(time, unique name) of the first NameOwnerChanged giving name an owner after since."""
        for t, _s, _ty, member, args in self.messages:
            if member == "NameOwnerChanged" and t >= since and str(args[0]) == name and args[2]:
                return t, str(args[2])
        return None

    def wait_name(self, name, since, timeout, proc=None):
        deadline = time.monotonic() + timeout
        while True:
            self.pump(0.002)
            got = self.name_appeared(name, since)
            if got:
                return got
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"{name}: the process exited ({proc.returncode}) before it "
                                 "appeared on the bus")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not appear within {timeout} s")

    def sent_by(self, unique):
        return [m for m in self.messages if m[1] == unique]

    def close(self):
        self.monitor.close()
        self.client.close()
        self.proc.terminate()
        self.proc.wait()


class Bench:
    def __init__(self, build, short):
        self.build = os.path.abspath(build)
        self.short = short
        self.sim = os.path.join(self.build, "sim", "lynx-sim")
        self.daemon = os.path.join(self.build, "src", "dbus-lynx-distributor")
        self.standin = os.path.join(self.build, "tests", "settings_standin",
                                    "localsettings-standin")
        for exe in (self.sim, self.daemon):
            if not os.access(exe, os.X_OK):
                raise BenchError(f"{exe} is missing: build first")
        self.tmp = tempfile.mkdtemp(prefix="lynx-bench-")
        self.config = os.path.join(self.tmp, "bench.ini")
        with open(self.config, "w") as f:
            f.write(f"[general]\npoll_interval_ms = {POLL_MS}\ni2c_speed_khz = {SCL_HZ // 1000}\n")
        self.bus = Bus(self.tmp)
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        self.env.pop("LD_PRELOAD", None)
        self.standin_proc = None
        if os.access(self.standin, os.X_OK):
            since = time.monotonic()
            self.standin_proc = subprocess.Popen(
                [self.standin, "--file", os.path.join(self.tmp, "settings.xml")], env=self.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            self.bus.wait_name(SETTINGS, since, 5, self.standin_proc)
        self.runs = 0

    def close(self):
        if self.standin_proc:
            self.standin_proc.terminate()
            self.standin_proc.wait()
        self.bus.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- one run of a command under lynx-sim --

    def start(self, command, control=False, scenario=SCENARIO):
        """lynx-sim with the four-distributor scenario (or another) running command (through
        exec_child). Returns (process, stats path, rusage path, control socket path)."""
        self.runs += 1
        n = self.runs
        stats = os.path.join(self.tmp, f"stats-{n}.json")
        usage = os.path.join(self.tmp, f"usage-{n}.json")
        sock = os.path.join(self.tmp, f"control-{n}.sock")
        argv = [self.sim, "--scenario", scenario, "--stats", stats]
        if control:
            argv += ["--control", sock]
        argv += ["--", sys.executable, os.path.abspath(__file__), "--exec-child", usage, "--",
                 *command]
        log = open(os.path.join(self.tmp, f"run-{n}.log"), "w")
        p = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        return p, stats, usage, sock

    def finish(self, p, stats, usage, timeout):
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise BenchError(f"run {self.runs} did not end within {timeout} s: {self.log_tail()}")
        if p.returncode != 0:
            raise BenchError(f"run {self.runs} exited with {p.returncode}: {self.log_tail()}")
        with open(stats) as f:
            full = json.load(f)
        s = full["total"]
        # i2c-dev adapters: every request the client made of /dev/i2c-N
        s["ioctls"] = sum(v for a in full.get("adapters", []) if a.get("transport") == "i2c"
                          for k, v in a.items() if k.startswith("ioctl_"))
        with open(usage) as f:
            u = json.load(f)
        return s, u

    def log_tail(self):
        with open(os.path.join(self.tmp, f"run-{self.runs}.log"), errors="replace") as f:
            return "".join(f.readlines()[-15:])

    def daemon_run(self, polls, prefix=(), i2c=False):
        """The daemon for exactly `polls` polls (i2c: on the i2c-dev variant of the scenario);
        returns stats, rusage, start-up time and the messages its connection sent."""
        since = time.monotonic()
        config, scenario, service = self.config, SCENARIO, SERVICE
        if i2c:
            config, scenario, service = self.i2c_variant()
        # the once-a-minute diagnostics snapshot is not poll traffic: out of the way here
        cmd = [*prefix, self.daemon, "-c", config, "--polls", str(polls),
               "--diagnostics-interval", "3600"]
        p, stats, usage, _ = self.start(cmd, scenario=scenario)
        slow = 30 if prefix else 0
        appeared, unique = self.bus.wait_name(service, since, 10 + slow, p)
        deadline = time.monotonic() + polls * POLL_MS / 1000 + 10 + slow
        while p.poll() is None and time.monotonic() < deadline:
            self.bus.pump(0.02)
        s, u = self.finish(p, stats, usage, 5)
        self.bus.pump(0.1)
        sent = self.bus.sent_by(unique)
        kinds = {}
        for _t, _s, kind, member, args in sent:
            kinds[(kind, member)] = kinds.get((kind, member), 0) + 1
            if member == "ItemsChanged":  # which paths, to name what an unchanged poll sent
                for path in map(str, args[0]):
                    kinds[("ItemsChanged", path)] = kinds.get(("ItemsChanged", path), 0) + 1
        return {"stats": s, "usage": u, "startup": appeared - u["exec_time"],
                "messages": len(sent), "kinds": kinds}

    def i2c_variant(self):
        """The scenario's adapter as /dev/i2c-1: (config, scenario, service)."""
        scenario = os.path.join(self.tmp, "four-distributors-i2c.scn")
        with open(SCENARIO) as f:
            text = f.read().replace(f"adapter {SERIAL}", f"i2c-adapter {SERIAL} bus=1")
        with open(scenario, "w") as f:
            f.write(text)
        config = os.path.join(self.tmp, "bench-i2c.ini")
        with open(config, "w") as f:
            f.write(f"[general]\npoll_interval_ms = {POLL_MS}\n[i2c:1]\n")
        return config, scenario, "com.victronenergy.battery.dbus_lynx_distributor_i2c1"

    # -- the figures --

    def i2c_per_poll(self, n1, n2):
        a = self.daemon_run(n1, i2c=True)
        b = self.daemon_run(n2, i2c=True)
        return {k: (b["stats"][k] - a["stats"][k]) / (n2 - n1)
                for k in ("ioctls", "i2c_transactions", "scl_periods", "bus_time_ns")}

    def per_poll(self, n1, n2, prefix=()):
        a = self.daemon_run(n1, prefix)
        b = self.daemon_run(n2, prefix)
        d = n2 - n1
        out = {k: (b["stats"][k] - a["stats"][k]) / d for k in USB_FIELDS}
        cpu = lambda r: r["usage"]["utime"] + r["usage"]["stime"]  # noqa: E731
        out["cpu_s_per_1000"] = (cpu(b) - cpu(a)) / d * 1000
        out["maxrss_kib"] = max(a["usage"]["maxrss_kib"], b["usage"]["maxrss_kib"])
        out["anon_kib"] = b["usage"]["anon_kib"]
        out["dbus_messages"] = (b["messages"] - a["messages"]) / d
        extra = {k: v - a["kinds"].get(k, 0) for k, v in b["kinds"].items()
                 if v != a["kinds"].get(k, 0)}
        if extra:  # (message type, member) or ("ItemsChanged", path): how many more
            print(f"          D-Bus messages only the longer run sent: {extra}", file=sys.stderr)
        out["startups"] = [a["startup"], b["startup"]]
        out["polls"] = (n1, n2)
        return out

    def control(self, sock, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(sock)
            s.sendall(line.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        text = answer.decode()
        if not text.startswith("ok"):
            raise BenchError(f"lynx-simctl {line}: {text.strip()}")
        return text

    def fuse_latency(self, events):
        """Seconds from a fuse change on the control socket to the matching ItemsChanged."""
        since = time.monotonic()
        p, stats, usage, sock = self.start([self.daemon, "-c", self.config], control=True)
        appeared, unique = self.bus.wait_name(SERVICE, since, 10, p)
        self.bus.pump(3 * POLL_MS / 1000)
        latencies = []
        phases = random.Random(5)
        for i in range(events):
            state, want = ("open", FUSE_BLOWN) if i % 2 == 0 else ("ok", FUSE_OK)
            self.bus.pump(phases.uniform(0, POLL_MS / 1000))  # any phase against the poll timer
            t0 = time.monotonic()
            self.control(sock, f"fuse {SERIAL} A 1 {state}")
            deadline = t0 + 2
            found = None
            while found is None:
                self.bus.pump(0.001)
                for t, sender, _ty, member, args in self.bus.messages:
                    if sender == unique and member == "ItemsChanged" and t >= t0:
                        item = args[0].get(FUSE_PATH)
                        if item is not None and int(item["Value"]) == want:
                            found = t
                            break
                if time.monotonic() > deadline:
                    raise BenchError(f"no ItemsChanged with {FUSE_PATH} = {want} within 2 s")
            latencies.append(found - t0)
        p.send_signal(signal.SIGTERM)
        s, u = self.finish(p, stats, usage, 10)
        return latencies, appeared - u["exec_time"]

    def getvalue_times(self, seconds):
        """Seconds of each back-to-back GetValue on LYNX0001's service for that long, sorted."""
        self.bus.pump(0.5)
        proxy = self.bus.client.get_object(SERVICE, "/Distributor/A/Status", introspect=False)
        times = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            proxy.GetValue(dbus_interface="com.victronenergy.BusItem")
            times.append(time.monotonic() - t0)
        return sorted(times)

    def getvalue_latency(self, seconds, timeouts):
        """(median, p99) seconds of GetValue on LYNX0001's service, with a second adapter on the
        bus whose every bulk IN hangs until the daemon's transfer timeout when timeouts."""
        scenario = os.path.join(self.tmp, "two-adapters.scn")
        with open(scenario, "w") as f:
            f.write(open(SCENARIO).read() + "\nadapter LYNX0002\ndistributor LYNX0002 A\n")
        since = time.monotonic()
        p, stats, usage, sock = self.start([self.daemon, "-c", self.config], control=True,
                                           scenario=scenario)
        self.bus.wait_name(SERVICE, since, 10, p)
        if timeouts:
            self.control(sock, "usb-timeout LYNX0002 count=1000000")
        times = self.getvalue_times(seconds)
        p.send_signal(signal.SIGTERM)
        self.finish(p, stats, usage, 10)
        return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]

    def getvalue_stock(self, seconds):
        """(median, p99, max) seconds of GetValue on LYNX0001's service while four stock FT232Hs
        (0403:6014) whose control requests are never answered are plugged in and a configured
        adapter ([ftdi:LYNXGONE]) is missing: whatever the daemon does to find adapters must not
        hold up its answers."""
        scenario = os.path.join(self.tmp, "stock-silent.scn")
        with open(scenario, "w") as f:
            f.write(open(SCENARIO).read())
            for i in range(STOCK_ADAPTERS):
                f.write(f"\nadapter STOCK{i} pid=0x6014\nat 0 control-timeout STOCK{i} "
                        "count=1000000\n")
        config = os.path.join(self.tmp, "bench-missing.ini")
        with open(self.config) as f, open(config, "w") as out:
            out.write(f.read() + f"[ftdi:{MISSING_SERIAL}]\n")
        since = time.monotonic()
        p, stats, usage, _ = self.start([self.daemon, "-c", config], scenario=scenario)
        self.bus.wait_name(SERVICE, since, 10, p)
        times = self.getvalue_times(seconds)
        p.send_signal(signal.SIGTERM)
        self.finish(p, stats, usage, 10)
        return (times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))],
                times[-1])

    def baseline(self, m1, m2):
        runs = []
        for m in (m1, m2):
            p, stats, usage, _ = self.start([sys.executable, os.path.abspath(__file__),
                                             "--baseline-scans", str(m)])
            runs.append(self.finish(p, stats, usage, 120 + m))
        (sa, ua), (sb, ub) = runs
        d = m2 - m1
        out = {k: (sb[k] - sa[k]) / d for k in USB_FIELDS}
        out["cpu_s_per_1000"] = ((ub["utime"] + ub["stime"]) - (ua["utime"] + ua["stime"])) / d * 1000
        out["maxrss_kib"] = max(ua["maxrss_kib"], ub["maxrss_kib"])
        out["anon_kib"] = ub["anon_kib"]
        out["polls"] = (m1, m2)
        return out

    def callgrind(self, n1, n2):
        if not shutil.which("valgrind"):
            raise BenchError("valgrind is not installed (Debian package valgrind)")
        irs, polls = [], []
        for n in (n1, n2):
            out = os.path.join(self.tmp, f"callgrind-{n}.out")
            self.daemon_run(n, prefix=(shutil.which("valgrind"), "--tool=callgrind", "-q",
                                       f"--callgrind-out-file={out}"))
            irs.append(callgrind_total(out))
            # the poll starts its transfers (on_poll) and runs from their completions (the MPSSE
            # link's transfer_done, which runs the adapter's steps): the daemon's own work per
            # poll, without libusb's event handling
            polls.append(callgrind_inclusive(out, "on_poll") +
                         callgrind_inclusive(out, "transfer_done"))
            print(f"          {n} polls: Ir {irs[-1]}, on_poll + transfer_done inclusive "
                  f"{polls[-1]}", file=sys.stderr)
        return (irs[1] - irs[0]) / (n2 - n1), (polls[1] - polls[0]) / (n2 - n1)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise BenchError(f"{path}: no totals")


def callgrind_inclusive(path, function):
    """Inclusive Ir of a function (callgrind_annotate --inclusive=yes). Debug info may name its
    file two ways (relative and absolute), which callgrind_annotate lists apart: add them up."""
    r = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no",
                        path], capture_output=True, text=True, check=True)
    total, found = 0, False
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0][0].isdigit() and parts[3].endswith(":" + function):
            total += int(parts[0].replace(",", ""))
            found = True
    if not found:
        raise BenchError(f"{path}: no {function} in callgrind_annotate")
    return total


def bus_minimum_s():
    per = 18 * BIT_S + T_BUF + T_HD_STA + T_SU_STO
    return SCAN_READS * per


_RSS_FLOOR = []


def rss_floor_kib():
    """VmHWM of tools/rss_floor.c: libusb and libdbus initialised, nothing else. The highest of
    FLOOR_RUNS runs: one run's figure moves by +-100 KiB (where the loader and the libraries'
    first pages land), and the daemon's side is the higher of its two runs too."""
    if not _RSS_FLOOR:
        here = os.path.dirname(os.path.abspath(__file__))
        exe = os.path.join(tempfile.mkdtemp(prefix="lynx-rss-"), "rss_floor")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libusb-1.0", "dbus-1"],
                               check=True, capture_output=True, text=True).stdout.split()
        subprocess.run(["cc", "-O2", os.path.join(here, "rss_floor.c"), "-o", exe] + flags,
                       check=True)
        _RSS_FLOOR.append(max(int(subprocess.run([exe], check=True, capture_output=True,
                                                 text=True).stdout.strip())
                              for _ in range(FLOOR_RUNS)))
        shutil.rmtree(os.path.dirname(exe))
    return _RSS_FLOOR[0]


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} x {model}, Linux {platform.release()}, Python {platform.python_version()}"


def fmt(v, digits=2):
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}f}"
    return f"{int(v)}" if isinstance(v, (int, float)) else str(v)


def transport_table(d, i):
    """FT232H next to i2c-dev, per poll of the four distributors."""
    rows = [
        ("requests to the adapter", f"{fmt(d['usb_bulk_out'])} bulk OUT + "
         f"{fmt(d['usb_bulk_in'])} bulk IN", f"{fmt(i['ioctls'])} ioctls (I2C_RDWR)"),
        ("I2C transactions", fmt(d["i2c_transactions"]), fmt(i["i2c_transactions"])),
        ("SCL periods", fmt(d["scl_periods"]), fmt(i["scl_periods"])),
        ("modelled bus time", f"{fmt(d['bus_time_ns'] / 1000, 1)} us",
         f"{fmt(i['bus_time_ns'] / 1000, 1)} us"),
    ]
    lines = ["| per poll, four distributors | FT232H (MPSSE over libusb) | i2c-dev (/dev/i2c-N) |",
             "|---|---:|---:|"]
    lines += [f"| {name} | {x} | {y} |" for name, x, y in rows]
    lines.append("")
    lines.append("The i2c-dev bus time is lynx-sim's kernel-like master (standard mode: SCL high "
                 "and low 5 us each, 100 kHz); a real driver's gaps between the ioctls come on "
                 "top of it.")
    return lines


def report(d, b, lat, startup, ir, getvalue, short, i2c, kernel):
    lat_ms = [x * 1000 for x in lat]
    startup_ms = statistics.median(startup) * 1000
    bus_us = d["bus_time_ns"] / 1000
    minimum_us = bus_minimum_s() * 1e6
    rows = [
        # (figure, daemon, baseline or None, unit)
        ("USB bulk OUT transfers", d["usb_bulk_out"], b["usb_bulk_out"], "per poll"),
        ("USB bulk IN transfers", d["usb_bulk_in"], b["usb_bulk_in"], "per poll"),
        ("USB control transfers", d["usb_control_out"] + d["usb_control_in"],
         b["usb_control_out"] + b["usb_control_in"], "per poll"),
        ("USB bytes OUT (host to chip)", d["usb_bytes_out"], b["usb_bytes_out"], "per poll"),
        ("USB bytes IN (incl. 2 status bytes a packet)", d["usb_bytes_in"], b["usb_bytes_in"],
         "per poll"),
        ("I2C transactions", d["i2c_transactions"], b["i2c_transactions"], "per poll"),
        ("SCL periods", d["scl_periods"], b["scl_periods"], "per poll"),
        ("modelled bus time", bus_us, b["bus_time_ns"] / 1000, "us per poll"),
        ("CPU time (user + sys)", d["cpu_s_per_1000"] * 1000, b["cpu_s_per_1000"] * 1000,
         "ms per 1,000 polls"),
        ("peak RSS (VmHWM)", d["maxrss_kib"], b["maxrss_kib"], "KiB"),
        ("peak RSS of a no-op linked with the same libraries", rss_floor_kib(), None, "KiB"),
        ("private memory (RssAnon) at the end", d["anon_kib"], b["anon_kib"], "KiB"),
        ("D-Bus messages, unchanged poll", d["dbus_messages"], None, "per poll"),
        ("fuse opens -> ItemsChanged, median", statistics.median(lat_ms), None,
         f"ms ({POLL_MS} ms polls)"),
        ("fuse opens -> ItemsChanged, max", max(lat_ms), None, "ms"),
        ("start-up to the service on D-Bus, median", startup_ms, None, "ms"),
        ("instructions, whole process (callgrind Ir)", ir[0], None, "per poll"),
        ("instructions in the poll itself (on_poll + transfer_done, inclusive)", ir[1], None,
         "per poll"),
        ("GetValue on a healthy adapter's service, median / p99", getvalue["healthy"][0] * 1000,
         None, f"ms (p99 {fmt(getvalue['healthy'][1] * 1000)} ms)"),
        ("... while another adapter's reads time out, median / p99",
         getvalue["timeouts"][0] * 1000, None,
         f"ms (p99 {fmt(getvalue['timeouts'][1] * 1000)} ms)"),
        (f"... with {STOCK_ADAPTERS} silent stock adapters and a configured one missing, p99 / max",
         getvalue["stock"][1] * 1000, None, f"ms (max {fmt(getvalue['stock'][2] * 1000)} ms)"),
    ]
    lines = []
    n1, n2 = d["polls"]
    m1, m2 = b["polls"]
    lines.append(f"Machine: {machine()}")
    lines.append(f"Mode: {'short' if short else 'full'}; daemon runs of {n1} and {n2} polls "
                 f"(every {POLL_MS} ms), baseline runs of {m1} and {m2} scans; I2C {SCL_HZ // 1000} "
                 "kHz; fixtures/scenarios/four-distributors.scn")
    lines.append("")
    lines.append("| figure | daemon | baseline (pyftdi) | daemon / baseline | unit |")
    lines.append("|---|---:|---:|---:|---|")
    for name, dv, bv, unit in rows:
        ratio = "" if bv in (None, 0) else fmt(dv / bv, 3)
        lines.append(f"| {name} | {fmt(dv)} | {'n/a' if bv is None else fmt(bv)} | "
                     f"{ratio or 'n/a'} | {unit} |")
    lines.append("")
    lines += transport_table(d, i2c)
    lines.append("")
    kernel_lines, kernel_targets = bench_kernel.report(kernel, fmt)
    lines += kernel_lines
    lines.append("")
    targets = [
        ("a full scan is 1 bulk OUT + 1 bulk IN",
         d["usb_bulk_out"] == 1 and d["usb_bulk_in"] == 1,
         f"{fmt(d['usb_bulk_out'])} OUT + {fmt(d['usb_bulk_in'])} IN per poll"),
        # per I2C transaction, not per poll: a poll that reads a distributor twice (a poll refused
        # while the previous one still ran, on a loaded machine) has more of both; and within half
        # a request, since a job still on the worker when --polls ends the daemon is counted by
        # the simulator in one run and not the other
        ("an i2c-dev scan is one ioctl per address",
         abs(i2c["ioctls"] - i2c["i2c_transactions"]) < 0.5,
         f"{fmt(i2c['ioctls'])} ioctls for {fmt(i2c['i2c_transactions'])} I2C transactions per "
         f"poll ({SCAN_READS} addresses a scan)"),
        (f"bus time per scan <= {TARGET_BUS_RATIO}x the minimum",
         bus_us <= TARGET_BUS_RATIO * minimum_us,
         f"{fmt(bus_us, 1)} us = {fmt(bus_us / minimum_us, 3)} x {fmt(minimum_us, 1)} us "
         f"({SCAN_READS} x (tBUF + tHD;STA + 18 bits of 12 us + tSU;STO))"),
        ("no D-Bus traffic for an unchanged poll", d["dbus_messages"] == 0,
         f"{fmt(d['dbus_messages'], 3)} messages per poll"),
        ("daemon peak RSS within 0.75 MiB of a no-op linked with the same libraries",
         d["maxrss_kib"] - rss_floor_kib() <= TARGET_RSS_ABOVE_FLOOR_KIB,
         f"{d['maxrss_kib']} KiB, {d['maxrss_kib'] - rss_floor_kib()} KiB above the no-op's "
         f"{rss_floor_kib()} KiB (tools/rss_floor.c: libusb-1.0 and libdbus-1 initialised; "
         "Debian's libdbus pulls in libsystemd, libgcrypt, liblz4, libzstd, liblzma, libcap, so "
         "an absolute figure would measure them)"),
        ("start-up to the service on D-Bus < 50 ms", startup_ms < TARGET_STARTUP_S * 1000,
         f"{fmt(startup_ms, 1)} ms (median of {len(startup)} starts)"),
        ("GetValue p99 < 10 ms, also while another adapter times out",
         max(getvalue["healthy"][1], getvalue["timeouts"][1]) < TARGET_GETVALUE_P99_S,
         f"{fmt(getvalue['healthy'][1] * 1000)} ms healthy, "
         f"{fmt(getvalue['timeouts'][1] * 1000)} ms with LYNX0002's reads timing out"),
        (f"GetValue p99 < {TARGET_GETVALUE_P99_S * 1000:.0f} ms and max < "
         f"{TARGET_GETVALUE_MAX_S * 1000:.0f} ms while {STOCK_ADAPTERS} stock FT232Hs that never "
         "answer a control request are plugged in and a configured adapter is missing",
         getvalue["stock"][1] < TARGET_GETVALUE_P99_S and
         getvalue["stock"][2] < TARGET_GETVALUE_MAX_S,
         f"p99 {fmt(getvalue['stock'][1] * 1000)} ms, max {fmt(getvalue['stock'][2] * 1000)} ms "
         f"([ftdi:{MISSING_SERIAL}] absent, every control request to 0403:6014 unanswered)"),
    ]
    targets += kernel_targets
    for name, ok, detail in targets:
        lines.append(f"- {'MET   ' if ok else 'MISSED'} {name}: {detail}")
    lines.append("")
    lines.append("Notes: per-poll figures are differences of two runs (start-up cancels out). "
                 "Under the simulator the adapter's /dev node is a regular file that poll() always "
                 "reports writable, so libusb busy-reaps while the device is open "
                 "(../shared/docs/umockdev-usb.md): the CPU times and the whole-process "
                 "instruction count are dominated by that emulation artifact, for both columns; "
                 "\"instructions in the poll itself\" is the daemon's own work per poll. Peak RSS "
                 "counts the resident pages of shared libraries (libc, libdbus, libusb, libudev, "
                 "and under the simulator the umockdev preload); RssAnon is the process's own "
                 "memory.")
    return "\n".join(lines), all(ok for _, ok, _ in targets)


README_BEGIN = "<!-- bench:begin (tools/bench.sh --readme) -->"
README_END = "<!-- bench:end -->"


def update_readme(path, text):
    with open(path) as f:
        readme = f.read()
    if README_BEGIN not in readme or README_END not in readme:
        raise BenchError(f"{path}: no {README_BEGIN} ... {README_END} block to replace")
    head, rest = readme.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    with open(path, "w") as f:
        f.write(head + README_BEGIN + "\n" + text + "\n" + README_END + tail)


def only_stock(build, seconds):
    """The one figure of issue 20's problem 1, on its own (a quick before/after)."""
    bench = None
    try:
        bench = Bench(build, True)
        med, p99, worst = bench.getvalue_stock(seconds)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    finally:
        if bench:
            bench.close()
    ok = p99 < TARGET_GETVALUE_P99_S and worst < TARGET_GETVALUE_MAX_S
    print(f"- {'MET   ' if ok else 'MISSED'} GetValue with {STOCK_ADAPTERS} silent stock adapters "
          f"and [ftdi:{MISSING_SERIAL}] missing, over {seconds:g} s: median {fmt(med * 1000)} ms, "
          f"p99 {fmt(p99 * 1000)} ms (target < {TARGET_GETVALUE_P99_S * 1000:.0f}), max "
          f"{fmt(worst * 1000)} ms (target < {TARGET_GETVALUE_MAX_S * 1000:.0f})")
    return 0 if ok else 1


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--exec-child":
        exec_child(sys.argv[2], sys.argv[4:])
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-scans":
        baseline_scans(int(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--short", action="store_true", help="few polls (CI): about 30 s")
    ap.add_argument("--readme", metavar="FILE", help="replace the results block in FILE")
    ap.add_argument("--only-stock", metavar="SECONDS", type=float,
                    help="only the GetValue figure with silent stock adapters, over SECONDS")
    args = ap.parse_args()
    if args.only_stock:
        return only_stock(args.build, args.only_stock)
    if args.short:
        polls, scans, events, grind, gv_seconds = (10, 30), (5, 15), 4, (3, 8), 2
        kernel_s = 20  # fewer polls would let one stray wakeup move the figure by a tenth
    else:
        polls, scans, events, grind, gv_seconds = (20, 1020), (20, 220), 20, (10, 110), 10
        kernel_s = 60
    bench = None
    t0 = time.monotonic()
    phase = lambda what: print(f"[{time.monotonic() - t0:5.1f} s] {what}", file=sys.stderr)  # noqa
    try:
        bench = Bench(args.build, args.short)
        phase(f"daemon: {polls[0]} and {polls[1]} polls ...")
        d = bench.per_poll(*polls)
        phase(f"daemon on i2c-dev: {polls[0]} and {polls[1]} polls ...")
        i2c = bench.i2c_per_poll(*polls)
        phase(f"fuse latency: {events} changes ...")
        lat, startup3 = bench.fuse_latency(events)
        phase(f"callgrind: {grind[0]} and {grind[1]} polls ...")
        ir = bench.callgrind(*grind)
        phase(f"GetValue latency: {gv_seconds} s healthy, {gv_seconds} s with timeouts, "
              f"{gv_seconds} s with silent stock adapters ...")
        getvalue = {"healthy": bench.getvalue_latency(gv_seconds, False),
                    "timeouts": bench.getvalue_latency(gv_seconds, True),
                    "stock": bench.getvalue_stock(gv_seconds)}
        phase(f"baseline: {scans[0]} and {scans[1]} pyftdi scans ...")
        b = bench.baseline(*scans)
        phase(f"in a QEMU guest: {kernel_s} s of polls ...")
        kernel = bench_kernel.measure(args.build, kernel_s)
        phase("done")
    except (BenchError, bench_kernel.KernelBenchError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    finally:
        if bench:
            bench.close()
    text, ok = report(d, b, lat, d["startups"] + [startup3], ir, getvalue, args.short, i2c,
                      kernel)
    print(text)
    if args.readme:
        update_readme(args.readme, text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
