#!/usr/bin/python3
"""Soak test: the real daemon polling the simulator as fast as it can (test_poll_interval_ms = 1)
for POLLS polls while a script throws faults at it, then checks what a long run would show.

  soak.py [--polls N] [--seed N] [--rss-growth-kib N]
  soak.py --minutes M [--seed N]        (heavy faults for M minutes: see heavy_soak)

Faults (lynx-simctl, the simulator's fault actions): every distributor truncates a fraction of
its reads (corrupt-rate), distributor D stops ACKing its address for a few milliseconds now and
then (nack-address on/off), and fuses of A-C blow and are replaced one at a time, each change
waited for on the bus.

Checks at the end:
  - memory: the daemon's VmRSS after all polls exceeds its VmRSS after warm-up by at most
    --rss-growth-kib (default 256 KiB); VmHWM is reported (not enforced for an ASan build, whose
    quarantine holds freed memory; LeakSanitizer checks that daemon at exit instead);
  - every fuse change was published: per fuse, the ItemsChanged transitions of its Alarms/Blown
    (0 -> 2 and 2 -> 0) are exactly the blows and replacements made;
  - no false alarm: no fuse alarm on D (its fuses never change), no ConnectionLost on A-C, and no
    fuse status other than what the script set;
  - the daemon is still running, still answers (busitem-check passes) and exits 0 on SIGTERM.
Prints the figures (polls, polls/s, RSS) and exits 0 / 1 (harness conventions).

Polls are counted as the simulator's bulk OUT transfers: every poll is one (a poll that needs a
confirming second read adds one more, so the count is an upper bound by the few such polls).
Paths of the programs come from the environment, as for the scenario tests.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import EXIT_SKIP, Failure, Harness, Skip, ini, require  # noqa: E402

SERIAL = "LYNX0001"
LETTERS = "ABCD"
SCENARIO = (f"adapter {SERIAL}\n" +
            "".join(f"distributor {SERIAL} {d}\n" for d in LETTERS))
CORRUPT_RATE = "0.005"
WARM_UP_POLLS = 2000


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def polls(h):
    return int(h.sim_stats()["adapters"][0]["usb_bulk_out"])


def soak(n_polls, seed, rss_growth_kib):
    rng = random.Random(seed)
    config = ini(general={"test_poll_interval_ms": 1},
                 adapters={SERIAL: {f"distributor{d}Installed": "true" for d in LETTERS}})
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=SCENARIO, config=config)
        h.wait_for("/Adapter/Connected", 1)
        for d in LETTERS:
            h.wait_for(f"/Distributor/{d}/Status", 1)
        pid = h.daemon_pid()
        with open(f"/proc/{pid}/maps") as f:
            sanitized = "libasan" in f.read()
        initial = {p: v for p, v in h.dump().items()
                   if "Alarms" in p or p.endswith("/Status")}
        since = h.mark()
        h.simctl("corrupt-rate", SERIAL, "all", CORRUPT_RATE, f"seed={seed}")

        start_polls, start = polls(h), time.monotonic()
        warm = None
        blows = {}  # published fuse path -> number of blow + replace cycles
        flaps = 0
        while True:
            done = polls(h) - start_polls
            if warm is None and done >= min(WARM_UP_POLLS, n_polls // 2):
                warm = rss_kib(pid)
            if done >= n_polls:
                break
            if rng.random() < 0.5:
                d, fuse = rng.choice("ABC"), rng.randrange(4)
                alarm = f"/Distributor/{d}/Fuse/{fuse}/Alarms/Blown"
                h.simctl("fuse", SERIAL, d, str(fuse + 1), "open")
                h.wait_for(alarm, 2, timeout=5)
                h.simctl("fuse", SERIAL, d, str(fuse + 1), "ok")
                h.wait_for(alarm, 0, timeout=5)
                blows[alarm] = blows.get(alarm, 0) + 1
            else:
                h.simctl("nack-address", SERIAL, "D", "on")
                h.pump(rng.uniform(0, 0.02))
                h.simctl("nack-address", SERIAL, "D", "off")
                flaps += 1
            h.pump()
        seconds = time.monotonic() - start
        done = polls(h) - start_polls
        end = rss_kib(pid)
        require(h.sim.poll() is None, f"the daemon exited with {h.sim.returncode}")

        # Let the last changes arrive, then account for every alarm transition on the bus.
        h.simctl("corrupt-rate", SERIAL, "all", "0")
        h.wait_for("/Distributor/D/Status", 1, timeout=5)
        h.pump(0.2)
        transitions, last = {}, dict(initial)
        for s in h.items_changed(since):
            for path, value in s.values.items():
                if "Alarms" in path or path.endswith("/Status"):
                    if path in last and last[path] != value:
                        transitions.setdefault(path, []).append((last[path], value))
                    last[path] = value
        wrong = []
        for d in LETTERS:
            for fuse in range(4):
                alarm = f"/Distributor/{d}/Fuse/{fuse}/Alarms/Blown"
                want = [(0, 2), (2, 0)] * blows.get(alarm, 0)
                if transitions.get(alarm, []) != want:
                    wrong.append(f"{alarm}: {len(transitions.get(alarm, []))} transitions, "
                                 f"expected {len(want)}")
                status = f"/Distributor/{d}/Fuse/{fuse}/Status"
                seen = transitions.get(status, [])
                if d == "D":  # not available while D's connection is lost, never blown
                    if set(seen) - {(2, 0), (0, 2)}:
                        wrong.append(f"false alarm: {status} went {sorted(set(seen))}")
                elif seen != [(2, 3), (3, 2)] * blows.get(alarm, 0):
                    wrong.append(f"{status}: transitions {seen[:8]}...")
        for d in "ABC":
            for path in (f"/Distributor/{d}/Alarms/ConnectionLost", f"/Distributor/{d}/Status"):
                if transitions.get(path):
                    wrong.append(f"false alarm: {path} {transitions[path]}")
        lost_d = sum(1 for t in transitions.get("/Distributor/D/Alarms/ConnectionLost", [])
                     if t == (0, 2))

        total_blows = sum(blows.values())
        r = h.busitem_check(h.default_service)
        failures = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
        growth = end["VmRSS"] - warm["VmRSS"]
        print(f"soak: {done} polls in {seconds:.1f} s ({done / seconds:.0f} polls/s), "
              f"{total_blows} fuse blow/replace cycles, {flaps} NACK flaps on D "
              f"({lost_d} long enough to raise ConnectionLost)")
        print(f"soak: VmRSS after warm-up {warm['VmRSS']} KiB, at the end {end['VmRSS']} KiB "
              f"(growth {growth} KiB, bound {rss_growth_kib} KiB); VmHWM {end['VmHWM']} KiB")
        require(not wrong, "; ".join(wrong[:12]))
        require(r.stdout.strip() and not failures, f"busitem-check: {failures or r.stderr}")
        if sanitized:
            print("soak: RSS bound not enforced: an ASan daemon keeps freed memory in its "
                  "quarantine (its leak check runs at exit instead)")
        else:
            require(growth <= rss_growth_kib, f"VmRSS grew by {growth} KiB over {done} polls")
        require(h.stop_daemon() == 0, "the daemon did not exit 0 on SIGTERM")


# ---- heavy faults for a given time ------------------------------------------------------------

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
CONNECTED, FUSE_OK = 1, 2
RECOVERY_S = 30  # a fault's effects must be over by then
DIAG_INTERVAL_S = 20  # /Diagnostics snapshots (busitem-check reads them twice: rarely moving)


def sanitizer_reports(h):
    """Lines of sanitizer reports in the log of lynx-sim and the daemon (they share it)."""
    return [line for line in h.log_text().splitlines()
            if any(mark in line for mark in SANITIZER_MARKS)]


def healthy(h, polls_before):
    """Waits until the adapter and every distributor are connected again, then requires the poll
    loop to run: more bulk OUT transfers within half a second (a few hundred at 1 ms)."""
    require(h.sim.poll() is None, f"lynx-sim (and the daemon) exited with {h.sim.returncode}")
    h.wait_for("/Adapter/Connected", 1, timeout=RECOVERY_S)
    for d in LETTERS:
        h.wait_for(f"/Distributor/{d}/Status", CONNECTED, timeout=RECOVERY_S)
    before = polls(h)
    h.pump(0.5)
    after = polls(h)
    require(after > before and after > polls_before, "the poll loop stopped")
    return after


def replug(h, rng, mid_transfer=False):
    if mid_transfer:
        h.simctl("unplug-mid-transfer", SERIAL)
    else:
        h.simctl("unplug", SERIAL)
    h.wait_for("/Adapter/Connected", 0, timeout=RECOVERY_S)
    h.pump(rng.uniform(0, 0.5))
    h.simctl("plug", SERIAL)


def heavy_fault(h, rng, name):
    """Applies one fault of the heavy mix; returns the number of replugs it made."""
    if name == "fuse":
        d, fuse = rng.choice(LETTERS), rng.randrange(4)
        alarm = f"/Distributor/{d}/Fuse/{fuse}/Alarms/Blown"
        h.simctl("fuse", SERIAL, d, str(fuse + 1), "open")
        h.wait_for(alarm, 2, timeout=RECOVERY_S)
        h.simctl("fuse", SERIAL, d, str(fuse + 1), "ok")
        h.wait_for(alarm, 0, timeout=RECOVERY_S)
    elif name in ("nack-address", "power"):
        d = rng.choice(LETTERS)
        h.simctl(name, SERIAL, d, "on" if name == "nack-address" else "off")
        h.pump(rng.uniform(0, 0.2))
        h.simctl(name, SERIAL, d, "off" if name == "nack-address" else "on")
    elif name == "stuck-sda":
        h.simctl("stuck-sda", SERIAL, rng.choice(LETTERS))
    elif name in ("usb-error", "usb-timeout", "short-read", "empty-read"):
        most = {"usb-error": 30, "usb-timeout": 3, "short-read": 10, "empty-read": 10}[name]
        h.simctl(name, SERIAL, f"count={rng.randint(1, most)}")
    elif name == "unplug":
        replug(h, rng)
        return 1
    elif name == "unplug-mid-transfer":
        replug(h, rng, mid_transfer=True)
        return 1
    else:  # control-error, control-timeout, string-error: met by the opening after a replug
        h.simctl(name, SERIAL, *(() if name == "string-error" else (f"count={rng.randint(1, 3)}",)))
        replug(h, rng)
        return 1
    return 0


HEAVY_FAULTS = ("fuse", "nack-address", "power", "stuck-sda", "usb-error", "usb-timeout",
                "short-read", "empty-read", "unplug", "unplug-mid-transfer", "control-error",
                "control-timeout", "string-error")


def heavy_soak(minutes, seed):
    """Heavy faults for `minutes`: every distributor truncates 1 % of its reads throughout, and
    one fault after another is thrown at the adapter and the distributors (HEAVY_FAULTS: USB
    stalls, timeouts, short and empty reads, unplugs also mid-transfer, control-transfer stalls
    and timeouts and an unreadable serial met by the reopening after a replug, a stuck SDA, NACK
    and power flaps, fuse changes). After each one the daemon must be back (adapter and every
    distributor connected within RECOVERY_S) with its poll loop running. At the end the faults
    stop and every fuse must read OK; then busitem-check, SIGTERM (exit 0, LeakSanitizer runs),
    and no sanitizer report in the log of lynx-sim or the daemon. Strict timing is on (the
    harness's default): any I2C timing violation fails the run too."""
    rng = random.Random(seed)
    config = ini(general={"test_poll_interval_ms": 1},
                 adapters={SERIAL: {f"distributor{d}Installed": "true" for d in LETTERS}})
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=SCENARIO, config=config,
                       args=("--diagnostics-interval", str(DIAG_INTERVAL_S),
                             "--settings-timeout", "0"))
        pid = h.daemon_pid()
        sim_pid = h.sim.pid
        done = healthy(h, 0)
        h.simctl("corrupt-rate", SERIAL, "all", "0.01", f"seed={seed}")
        first = done
        applied = {name: 0 for name in HEAVY_FAULTS}
        replugs = 0
        start = time.monotonic()
        warm = sim_warm = None
        while time.monotonic() - start < minutes * 60:
            if warm is None and time.monotonic() - start >= min(30, minutes * 30):
                warm, sim_warm = rss_kib(pid), rss_kib(sim_pid)
            name = rng.choice(HEAVY_FAULTS)
            try:
                replugs += heavy_fault(h, rng, name)
                done = healthy(h, done)
            except Failure as e:
                raise Failure(f"after {name} ({sum(applied.values())} faults in "
                              f"{time.monotonic() - start:.0f} s): {e}")
            applied[name] += 1
            require(not sanitizer_reports(h), "; ".join(sanitizer_reports(h)[:5]))
        seconds = time.monotonic() - start
        h.simctl("corrupt-rate", SERIAL, "all", "0")
        done = healthy(h, done)
        # the diagnostics snapshot after the last fault
        h.wait_for_signal(lambda v: "/Diagnostics/Polls" in v, h.mark(), DIAG_INTERVAL_S + 5)
        for d in LETTERS:
            for fuse in range(4):
                h.wait_for(f"/Distributor/{d}/Fuse/{fuse}/Status", FUSE_OK, timeout=5)
                h.wait_for(f"/Distributor/{d}/Fuse/{fuse}/Alarms/Blown", 0, timeout=5)
        end, sim_end = rss_kib(pid), rss_kib(sim_pid)
        warm, sim_warm = warm or end, sim_warm or sim_end
        diag = {k: h.get(f"/Diagnostics/{k}") for k in
                ("Polls", "UsbErrors", "Reopens", "BusRecoveries", "CorruptReads", "Nacks")}
        adapter = h.sim_stats()["adapters"][0]
        violations = sum(adapter["timing_violations"].values())
        for _ in range(3):  # a snapshot may move /Diagnostics between two of its reads
            r = h.busitem_check(h.default_service)
            failures = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
            if not failures or not all("Diagnostics/" in line for line in failures):
                break
        require(r.stdout.strip() and not failures, f"busitem-check: {failures or r.stderr}")
        code = h.stop_daemon()
        reports = sanitizer_reports(h)
        print(f"soak: {seconds:.0f} s of heavy faults: {sum(applied.values())} faults "
              f"({', '.join(f'{n} {c}' for n, c in applied.items())}), {replugs} replugs")
        print(f"soak: {done - first} polls (bulk OUT transfers, {(done - first) / seconds:.0f}/s);"
              f" the daemon's diagnostics: " + ", ".join(f"{k} {v}" for k, v in diag.items()))
        print(f"soak: VmRSS after warm-up / at the end / VmHWM: daemon {warm['VmRSS']} / "
              f"{end['VmRSS']} / {end['VmHWM']} KiB, lynx-sim {sim_warm['VmRSS']} / "
              f"{sim_end['VmRSS']} / {sim_end['VmHWM']} KiB")
        print(f"soak: I2C timing violations {violations}, strict-timing aborts "
              f"{adapter['i2c_timing_aborts']}; sanitizer reports {len(reports)}; exit {code}")
        require(not reports, "; ".join(reports[:5]))
        require(violations == 0, f"I2C timing violations: {adapter['timing_violations']}")
        require(code == 0, f"lynx-sim and the daemon exited with {code} on SIGTERM")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--polls", type=int, default=200000)
    ap.add_argument("--minutes", type=float, help="heavy faults for this long (not --polls)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-growth-kib", type=int, default=256)
    args = ap.parse_args()
    start = time.monotonic()
    try:
        if args.minutes:
            heavy_soak(args.minutes, args.seed)
        else:
            soak(args.polls, args.seed, args.rss_growth_kib)
    except Skip as e:
        print(f"SKIP: {e}")
        return EXIT_SKIP
    except (Failure, AssertionError) as e:
        print(f"FAIL: {e}")
        return 1
    print(f"PASS ({time.monotonic() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
