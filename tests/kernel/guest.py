"""The kernel suite's side inside the guest (tools/vm.sh): the scenario harness, with the daemon
started directly on the guest's own D-Bus instead of under lynx-sim, because here lynx-sim runs on
the host and reaches the daemon only through the guest kernel's USB stack (usbredir).

The hardware is the boot's: one scenario per boot (tests/kernel/meson.build), changed through the
control channel (LYNX_SIM_CONTROL, a virtio-serial port to the host's lynx-sim). Several cases run
in one boot, in order; each case leaves the hardware as it found it.

A case file calls main(CASES); it prints one line per case and exits 0 when all passed, 1 when one
failed, 77 when the first case skipped (../shared missing, see harness.shared_path).
"""
import os
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))
from harness import EXIT_SKIP, Failure, Harness, Skip, program, require  # noqa: E402

# The guest runs under TCG, about 20 times slower than the host: the daemon polls at 0.5 s, and
# waits allow for the slow start of every process.
POLL_MS = 500
SLOW = 10.0

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def config(adapters=(), i2c=(), general=None):
    """An INI for the daemon: [ftdi:SERIAL] per entry of adapters, [i2c:N] per entry of i2c
    (each a name, or a (name, {key: value}) pair)."""
    g = {"poll_interval_ms": POLL_MS, "comm_lost_polls": 3}
    g.update(general or {})
    lines = ["[general]"] + [f"{k} = {v}" for k, v in g.items()]
    for kind, entries in (("ftdi", adapters), ("i2c", i2c)):
        for entry in entries:
            name, keys = entry if isinstance(entry, tuple) else (entry, {})
            lines += ["", f"[{kind}:{name}]"] + [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


class Guest(Harness):
    """A Harness whose daemon is a direct child (no lynx-sim in the guest)."""

    def start_daemon(self, config_text, services=(), args=()):
        require(self.sim is None or self.sim.poll() is not None, "the daemon is already running")
        self.runs += 1
        cfg = self.write_config(config_text, f"config-{self.runs}.ini")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, TMPDIR=self.tmp)
        if "--settings-timeout" not in args:
            args = ("--settings-timeout", "0", *args)
        self.sim = self._spawn(f"daemon-{self.runs}",
                               [program("LYNX_DAEMON"), "-c", cfg, *args], env=env)
        self.config_path = cfg
        for name in services:
            self.wait_for_name(name, timeout=SLOW, proc=self.sim)
        return self.sim

    def daemon_pid(self):
        return self.sim.pid

    def simctl(self, *words):
        control = os.environ.get("LYNX_SIM_CONTROL", "")
        require(control, "LYNX_SIM_CONTROL is not set: run this through tools/vm.sh")
        r = subprocess.run([program("LYNX_SIMCTL"), "--socket", control, *words],
                           capture_output=True, text=True, timeout=30)
        require(r.returncode == 0,
                f"lynx-simctl {' '.join(words)}: exit {r.returncode}: {r.stdout}{r.stderr}")
        return r.stdout

    def wait_log(self, text, timeout=SLOW):
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            require(time.monotonic() < deadline, f"no log line with '{text}':\n{self.log_text()}")
            self.pump(0.1)

    def expect_soon(self, expected, service, timeout=SLOW):
        """Every path reaches its value within timeout (they change at polls, not all at once)."""
        for path, value in expected.items():
            self.wait_for(path, value, timeout=timeout, service=service)

    def conforms(self, service):
        """busitem-check, the independent client, finds no convention broken."""
        r = self.busitem_check(service)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        require(r.returncode == 0 and last.endswith(" 0 failed"),
                f"busitem-check {service}: exit {r.returncode}:\n{r.stdout}{r.stderr}")


def guest_run(argv, timeout=60):
    """A command in the guest; its output, or a failure with its exit code and output."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    require(r.returncode == 0, f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


def wait_until(what, predicate, timeout=SLOW, step=0.2):
    """predicate's first value that is neither None nor False (0 is a value: bus i2c-0)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        require(time.monotonic() < deadline, f"{what}: not within {timeout} s")
        time.sleep(step)


def main(cases=CASES):
    """Runs every case in order; a failure does not stop the others (each says what it saw)."""
    failed = 0
    for n, fn in enumerate(cases):
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            print(f"SKIP {fn.__name__}: {e}", flush=True)
            if n == 0:
                return EXIT_SKIP
            failed += 1
            continue
        except Failure as e:
            print(f"FAIL {fn.__name__}: {e}", flush=True)
            failed += 1
            continue
        except Exception:  # a bug in the case itself is a failure, not a crash of the boot
            print(f"FAIL {fn.__name__}:\n{traceback.format_exc()}", flush=True)
            failed += 1
            continue
        print(f"ok   {fn.__name__} ({time.monotonic() - start:.1f} s)", flush=True)
    print(f"{len(cases) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
