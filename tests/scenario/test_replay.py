#!/usr/bin/python3
"""Trace replay: the daemon under `lynx-sim --replay` on a private D-Bus.

  test_replay.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Each field trace of fixtures/traces is replayed at --speed 5 (the traces are at the field's 1 s
poll interval, the daemon polls every 200 ms) with the daemon recording what it observes. Checked:
  - the daemon observed exactly the trace's polls, in order (what deterministic means here),
  - lynx-sim saw no divergence,
  - the alarms on D-Bus are exactly those an independent model of the daemon's rules derives from
    the trace, each at its poll: no false alarm, no lost alarm, none late or early. Signals are
    placed on polls by their order and what they carry (one ItemsChanged per poll with changes),
    bounded by the daemon's own recording (same CLOCK_MONOTONIC): none received before its poll,
    none more than SIGNAL_LATENESS_MS after it (scheduling on a loaded machine, not a budget).
And a round trip: a run with faults is recorded, replayed, and both D-Bus histories compared.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRANSPORTS, FTDI_ONLY, adapter_name, config_for_transport, trace_for_transport, Failure, Harness, ini, program, require, run, service_name, test  # noqa: E402

OK, ALARM = 0, 2
NOT_AVAILABLE, CONNECTED, NO_BUS_POWER, COMMS_LOST = 0, 1, 2, 3
LETTERS = "ABCD"
COMM_LOST_POLLS = 3
SPEED = 5
def traces_dir():
    return os.path.join(os.path.dirname(program("SCENARIO_FIXTURES")), "traces")


# ---- traces ------------------------------------------------------------------------------------

def parse_trace(text):
    """-> (poll_interval_ms, {serial: [(time_ms, observation)]}) with `same` expanded; an
    observation is ('read', ((A reads), (B reads), ...)) with reads as ints or None (nack),
    ('usb-error', code), ('gone',) or ('bus-stuck',). Times inside a `same` run are spread
    evenly between the observation and the run's last poll."""
    interval, polls = None, {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "lynx-trace":
            require(interval is None, "two sessions in one trace")
            interval = int(words[2].split("=")[1])
        elif words[0] == "adapter":
            polls.setdefault(words[1], [])
        else:
            t, serial, what = int(words[0]), words[1], words[2]
            seq = polls[serial]
            if what == "back":
                continue
            if what == "same":
                n = int(words[3])
                t0, obs = seq[-1]
                seq.extend((t0 + (t - t0) * (k + 1) / n, obs) for k in range(n))
            elif what == "read":
                reads = tuple(tuple(None if r == "nack" else int(r, 16)
                                    for r in w.split("=")[1].split(",")) for w in words[3:7])
                seq.append((t, ("read", reads)))
            else:
                seq.append((t, (what,) + tuple(words[3:])))
    return interval, polls


def load_trace(path):
    with open(path) as f:
        return parse_trace(f.read())


# ---- an independent model of the daemon's rules (docs/architecture.md, docs/dbus.md) -----------

def valid(byte):
    return byte is not None and byte & 0x0D == 0


def expected_alarms(observations, comm_lost_polls=COMM_LOST_POLLS):
    """[(poll, path, value)]: every change of the alarm paths and /Adapter/Connected a correct
    daemon publishes for these polls, starting from all 0 and /Adapter/Connected 1."""
    dist = [dict(status=None, seen=False, lost=False, failures=0) for _ in LETTERS]
    usb_failures = 0
    published = {"/Adapter/Connected": 1}
    events = []
    for poll, (_t, obs) in enumerate(observations):
        for d, st in enumerate(dist):
            reads = obs[1][d] if obs[0] == "read" else ()
            good = [r for r in reads if valid(r)]
            if len(good) >= 2 and good[0] == good[1]:
                st.update(status=good[0], seen=True, lost=False, failures=0)
            elif good and good[0] == st["status"] and not st["lost"]:
                st["failures"] = 0
            else:
                st["failures"] += 1
                if st["failures"] >= comm_lost_polls:
                    st["lost"] = True
        usb_failures = usb_failures + 1 if obs[0] == "usb-error" else 0
        values = {"/Adapter/Connected": int(obs[0] != "gone" and usb_failures < comm_lost_polls)}
        for d, st in enumerate(dist):
            p = f"/Distributor/{LETTERS[d]}"
            values[f"{p}/Alarms/ConnectionLost"] = ALARM if st["lost"] and st["seen"] else OK
            for n in range(4):
                path = f"{p}/Fuse/{n}/Alarms/Blown"
                if st["lost"]:
                    blown = published.get(path, OK)  # held while lost
                elif st["status"] is None or st["status"] & 0x02:
                    blown = OK
                else:
                    blown = ALARM if st["status"] & (0x10 << n) else OK
                values[path] = blown
        for path, v in values.items():
            if published.get(path, OK) != v:
                events.append((poll, path, v))
                published[path] = v
    return events


def watched(path):
    return path == "/Adapter/Connected" or "/Alarms/" in path


# How much later than its poll a signal may reach the test: the daemon sends it in the poll's own
# loop iteration, but dbus-daemon and this process may both be kept off the CPU on a loaded
# machine. Within that, the poll of each change is fixed by order and grouping, not by time.
SIGNAL_LATENESS_MS = 3000


def published_signals(h, service):
    """[(received_ms, {path: value})]: the watched changes of each ItemsChanged the service sent,
    in order (signals without one left out)."""
    out, current = [], {"/Adapter/Connected": 1}
    for s in h.items_changed(0.0, service):
        changes = {}
        for path, v in sorted(s.values.items()):
            if watched(path) and not path.startswith("/Diagnostics") and \
                    current.get(path, OK) != v:
                changes[path] = v
                current[path] = v
        if changes:
            out.append((s.time * 1000.0, changes))
    return out


def published_alarms(h, poll_times_ms, service, want):
    """[(poll, path, value)] the service published, each change put on its poll by order: the
    daemon sends one ItemsChanged per poll, in poll order, so the n-th signal with a watched
    change carries the changes of the n-th poll that `want` (the model's) has changes at, and
    exactly those. Time only bounds that: a signal cannot be received before its poll was
    recorded (same CLOCK_MONOTONIC), nor, on any machine, SIGNAL_LATENESS_MS after it. A signal
    that breaks the order, the grouping or the bounds is placed on the latest poll recorded before
    it was received, so the comparison with `want` shows it."""
    signals = published_signals(h, service)
    groups = {}
    for poll, path, v in want:
        groups.setdefault(poll, {})[path] = v
    polls = sorted(groups)

    def latest_before(at_ms):
        return max((i for i, t in enumerate(poll_times_ms) if t <= at_ms + 1), default=0)

    out = []
    for n, (at_ms, changes) in enumerate(signals):
        poll = polls[n] if n < len(polls) else None
        placed = (poll is not None and groups[poll] == changes and poll < len(poll_times_ms) and
                  poll_times_ms[poll] <= at_ms + 1 <= poll_times_ms[poll] + SIGNAL_LATENESS_MS)
        if not placed:
            poll = latest_before(at_ms)
        out.extend((poll, path, v) for path, v in changes.items())
    return out


def functional(path):
    # /HardwareVersion names the adapter's hardware, which a trace does not carry (an i2c-dev
    # adapter's kernel name)
    return (not path.startswith(("/Diagnostics", "/Mgmt")) and
            path not in ("/DeviceInstance", "/HardwareVersion"))


def history(h, service):
    """The ordered list of published changes of functional paths (diagnostics counters and
    start-up identity left out)."""
    out = []
    for s in h.items_changed(0.0, service):
        values = {p: v for p, v in s.values.items() if functional(p)}
        if values:
            out.append(values)
    return out


# ---- running a replay --------------------------------------------------------------------------

def start_replay(h, trace, speed, config, record):
    """lynx-sim --replay running the daemon (which records to `record`), the trace's adapters on
    the transport under test."""
    h.runs += 1
    n = h.runs
    with open(trace) as f:
        text, serials = trace_for_transport(f.read())
    trace = os.path.join(h.tmp, f"replay-{n}.trace")
    with open(trace, "w") as f:
        f.write(text)
    cfg = h.write_config(config_for_transport(config, serials), f"config-{n}.ini")
    h.control = os.path.join(h.tmp, f"ctl-{n}")
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=h.address, TMPDIR=h.tmp)
    h.sim = h._spawn(f"daemon-{n}", [program("LYNX_SIM"), "--replay", trace, "--speed",
                                     str(speed), "--control", h.control, *h.strict_args(), "--",
                                     program("LYNX_DAEMON"), "-c", cfg, "--record", record,
                                     "--settings-timeout", "0"],
                     env=env)
    return h.sim


def replay_status(h):
    out = h.simctl("replay")
    done = re.findall(r"^(\S+) (\d+)/(\d+) polls$", out, re.M)
    finished = re.search(r"^finished (yes|no)$", out, re.M).group(1) == "yes"
    divergences = int(re.search(r"^divergences (\d+)$", out, re.M).group(1))
    return done, finished, divergences


def wait_replayed(h, expected_s, timeout):
    """Dispatches signals (they are stamped as they are dispatched, so no lynx-simctl runs while
    the trace plays) for the expected duration, then asks lynx-sim until it has finished."""
    h.pump(expected_s)
    deadline = time.monotonic() + timeout
    while True:
        require(h.sim.poll() is None, f"lynx-sim exited with {h.sim.returncode}")
        _, finished, divergences = replay_status(h)
        require(divergences == 0, f"lynx-sim reports {divergences} divergences:\n"
                + h.log_text())
        if finished:
            return
        require(time.monotonic() < deadline, "the replay did not finish in time")
        h.pump(1.0)


def same_observations(recorded, replayed, what):
    """The replayed daemon's observations begin with the trace's (then the held last one)."""
    require(len(replayed) >= len(recorded),
            f"{what}: the daemon made {len(replayed)} polls, the trace has {len(recorded)}")
    for i, ((_, want), (_, got)) in enumerate(zip(recorded, replayed)):
        require(want == got, f"{what}: poll {i} observed {got}, the trace has {want}")
    for i, (_, got) in enumerate(replayed[len(recorded):], len(recorded)):
        require(got == recorded[-1][1], f"{what}: poll {i} after the trace observed {got}")


def replay_fixture(name):
    path = os.path.join(traces_dir(), name)
    interval, polls = load_trace(path)
    require(interval % SPEED == 0, f"{name}: poll-interval-ms {interval} not divisible by {SPEED}")
    config = ini({"poll_interval_ms": interval // SPEED, "comm_lost_polls": COMM_LOST_POLLS})
    with Harness() as h:
        h.start_bus()
        record = os.path.join(h.tmp, "replayed.trace")
        start_replay(h, path, SPEED, config, record)
        for serial in polls:
            h.wait_for_name(service_name(serial), proc=h.sim)
        total = max(len(seq) for seq in polls.values())
        wait_replayed(h, total * interval / SPEED / 1000.0 + 1, 30)
        h.pump(2 * interval / SPEED / 1000.0)  # a held poll or two after the last
        require(h.stop_daemon() == 0, "the daemon did not exit cleanly")
        _, replayed = load_trace(record)
        for serial, seq in polls.items():
            what = f"{name} {serial}"
            same_observations(seq, replayed[adapter_name(serial)], what)
            times = [t for t, _ in replayed[adapter_name(serial)]]
            want = expected_alarms(seq)
            got = published_alarms(h, times, service_name(serial), want)
            got.sort(key=lambda e: (e[0], e[1]))
            want.sort(key=lambda e: (e[0], e[1]))
            if os.environ.get("REPLAY_DEBUG"):
                for sig in h.items_changed(0.0, service_name(serial)):
                    print(f"signal {sig.time * 1000:.0f} {sig.values}")
                print("polls", [round(t) for t in times[:40]])
            require(got == want, f"{what}: alarms on D-Bus (poll, path, value)\n  {got}\n"
                    f"the trace's polls call for\n  {want}")
        return want


def alarm_paths(events, value=ALARM):
    return [(poll, path) for poll, path, v in events if v == value]


# ---- one test per field trace ------------------------------------------------------------------

@test(alone=True)
def corrupt_read_burst_replays_without_any_alarm_change():
    events = replay_fixture("corrupt-read-burst.trace")
    # fuse 3 of A is blown from the first poll and stays so; nothing else ever changes
    require(events == [(0, "/Distributor/A/Fuse/2/Alarms/Blown", ALARM)], f"events: {events}")


@test(alone=True)
def supply_sag_on_all_distributors_loses_all_three_at_once_and_recovers():
    events = replay_fixture("supply-sag-all.trace")
    lost = [e for e in events if e[1].endswith("ConnectionLost")]
    require(len(lost) == 6 and len({p for p, _, v in lost if v == ALARM}) == 1,
            f"expected A, B, C lost at one poll and back at one poll: {lost}")
    require(not [e for e in events if "Fuse/0/Alarms/Blown" in e[1] and e[0] > 0],
            f"B's held fuse alarm changed: {events}")


@test(alone=True)
def fuse_blowing_and_being_replaced_raises_and_clears_the_alarm_at_its_polls():
    events = replay_fixture("fuse-blow-replace.trace")
    require([(p, v) for _, p, v in events] ==
            [("/Distributor/A/Fuse/1/Alarms/Blown", ALARM),
             ("/Distributor/A/Fuse/1/Alarms/Blown", OK)],
            f"events: {events}")


@test(alone=True)
def adapter_unplugged_for_30_s_drops_connected_loses_comms_and_recovers():
    events = replay_fixture("adapter-unplug-30s.trace")
    connected = [(p, v) for p, path, v in events if path == "/Adapter/Connected"]
    require([v for _, v in connected] == [0, 1], f"/Adapter/Connected: {connected}")
    require(connected[1][0] - connected[0][0] == 30, f"30 polls unplugged: {connected}")


@test(alone=True)
def distributor_unplugged_from_the_chain_loses_only_that_one():
    events = replay_fixture("distributor-unplugged.trace")
    require([(p, v) for _, p, v in events] ==
            [("/Distributor/B/Alarms/ConnectionLost", ALARM),
             ("/Distributor/B/Alarms/ConnectionLost", OK)], f"events: {events}")


@test(alone=True)
def flapping_contact_alarms_only_for_the_drop_of_comm_lost_polls():
    events = replay_fixture("flapping-contact.trace")
    require([(p, v) for _, p, v in events] ==
            [("/Distributor/B/Alarms/ConnectionLost", ALARM),
             ("/Distributor/B/Alarms/ConnectionLost", OK)], f"events: {events}")


# ---- record, replay, compare -------------------------------------------------------------------

ROUND_TRIP_SCENARIO = """adapter LYNX0001
distributor LYNX0001 A
distributor LYNX0001 B fuses=ok,ok,open,ok
at 1.0 fuse LYNX0001 A 2 open
at 1.5 corrupt LYNX0001 B 0x07 count=2
at 2.0 usb-error LYNX0001
at 2.5 power LYNX0001 B off
at 3.5 power LYNX0001 B on
at 4.0 unplug LYNX0001
at 5.0 plug LYNX0001
at 6.0 fuse LYNX0001 A 2 ok
at 6.0 supply LYNX0001 A off
at 6.6 supply LYNX0001 A on
"""


@test(alone=True)
def a_recorded_run_with_faults_replays_to_the_same_dbus_history():
    config = ini({"comm_lost_polls": COMM_LOST_POLLS})
    with Harness() as h:
        h.start_bus()
        first = os.path.join(h.tmp, "first.trace")
        h.start_daemon(scenario=ROUND_TRIP_SCENARIO, config=config, args=("--record", first))
        h.wait_for("/Adapter/Connected", 1)
        h.pump(7.5)
        require(h.stop_daemon() == 0, "the recording daemon did not exit cleanly")
        recorded_history = history(h, h.default_service)
        _, recorded = load_trace(first)
        name = adapter_name("LYNX0001")
        kinds = {obs[0] for _, obs in recorded[name]}
        require({"read", "usb-error", "gone"} <= kinds, f"the run lacks faults: {kinds}")

        h.signals.clear()
        second = os.path.join(h.tmp, "second.trace")
        start_replay(h, first, 1, config, second)
        h.wait_for_name(h.default_service, proc=h.sim)
        wait_replayed(h, len(recorded[name]) * 0.2 + 1, 30)
        h.pump(0.5)
        require(h.stop_daemon() == 0, "the replayed daemon did not exit cleanly")
        replayed_history = history(h, h.default_service)
        _, replayed = load_trace(second)
        same_observations(recorded[name], replayed[name], "round trip")
        if replayed_history != recorded_history:
            for i, (a, b) in enumerate(zip(recorded_history, replayed_history)):
                if a != b:
                    raise Failure(f"ItemsChanged {i} differs:\n  recorded {a}\n  replayed {b}")
            raise Failure(f"{len(recorded_history)} ItemsChanged recorded, "
                          f"{len(replayed_history)} replayed")
        require(any(v == ALARM for s in recorded_history for p, v in s.items()
                    if p.endswith("ConnectionLost")), "the run raised no connection-lost alarm")


@test(alone=True)
def a_bad_trace_is_refused_naming_file_and_line():
    with Harness() as h:
        bad = os.path.join(h.tmp, "bad.trace")
        with open(bad, "w") as f:
            f.write("lynx-trace 1 poll-interval-ms=1000\nadapter X1\n5 X1 read A=00 B=00\n")
        p = subprocess.run([program("LYNX_SIM"), "--replay", bad, "--", "true"],
                           capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, TMPDIR=h.tmp))
        require(p.returncode == 2, f"lynx-sim exited {p.returncode}")
        require(f"{bad}:3: expected 'read A=" in p.stderr, f"stderr: {p.stderr}")


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
