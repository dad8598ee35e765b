#!/usr/bin/python3
"""Fault tests: the daemon end to end against lynx-sim's injected faults (fixtures/README.md)
on a private D-Bus, asserting what a Venus OS consumer sees (GetValue, ItemsChanged) and the
/Diagnostics counters.

  test_faults.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

The daemon runs with --diagnostics-interval 1 where a test reads counters, so a snapshot is at
most a second old.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (TRANSPORT, TRANSPORTS, FTDI_ONLY, adapter_name, Failure, Harness, POLL_INTERVAL_MS, TIMING_MARGIN_S, ini, require, run, service_name, test)  # noqa: E402

POLL_S = POLL_INTERVAL_MS / 1000.0
OK, ALARM = 0, 2
NOT_AVAILABLE, CONNECTED, NO_BUS_POWER, COMMS_LOST = 0, 1, 2, 3
FUSE_OK, FUSE_BLOWN = 2, 3
DIAG_INTERVAL = ("--diagnostics-interval", "1")
DIAG_WAIT_S = 1.0 + 2 * POLL_S + TIMING_MARGIN_S  # until a snapshot shows what happened

def started(scenario, config=None, serials=("LYNX0001",), args=DIAG_INTERVAL):
    return harness.started(scenario, config=config, serials=serials, args=args)


def adapter(serial="LYNX0001", letters="A", extra=""):
    return (f"adapter {serial}{extra}\n" +
            "".join(f"distributor {serial} {x}\n" for x in letters))


def alarm_paths(values):
    """Paths of an ItemsChanged that raise an alarm or lose a distributor."""
    return {p: v for p, v in values.items()
            if ("/Alarms/" in p and v == ALARM) or (p.endswith("/Status") and
                                                   p.startswith("/Distributor/") and
                                                   p.count("/") == 3 and v == COMMS_LOST)}


def no_alarm_since(h, since, service=None):
    raised = [(round(s.time - since, 3), alarm_paths(s.values))
              for s in h.items_changed(since, service) if alarm_paths(s.values)]
    require(not raised, f"alarms raised: {raised}")


def state_changes_since(h, since, service=None):
    """Every non-diagnostics path an ItemsChanged carried since `since`."""
    return [{p: v for p, v in s.values.items() if not p.startswith("/Diagnostics/")}
            for s in h.items_changed(since, service)
            if any(not p.startswith("/Diagnostics/") for p in s.values)]


def wait_counter(h, path, minimum, timeout=DIAG_WAIT_S + 1, service=None):
    deadline = time.monotonic() + timeout
    while True:
        got = h.get(path, service)
        if got is not None and got >= minimum:
            return got
        require(time.monotonic() < deadline, f"{path} is {got}, expected at least {minimum}")
        h.pump(0.05)


def requests(h, serial="LYNX0001"):
    """What the daemon asked of the adapter so far: bulk OUT transfers of an FT232H (one or more
    per poll), I2C_RDWR/I2C_SMBUS ioctls of an i2c-dev adapter (one per address read; a poll
    that fails stops at the failed one)."""
    for a in h.sim_stats().get("adapters", []):
        if a.get("serial") == serial:
            if a.get("transport") == "i2c":
                return a["ioctl_rdwr"] + a["ioctl_smbus"]
            return a["usb_bulk_out"]
    raise Failure(f"lynx-sim has no adapter {serial}")


def expect_polling(h, polls=3):
    before = requests(h)
    h.pump(polls * POLL_S + TIMING_MARGIN_S)
    done = requests(h) - before
    require(done >= polls - 1, f"only {done} requests in {polls} polls: polling stopped")


# ---- distributor faults ----------------------------------------------------------------------

@test
def a_corrupt_byte_never_raises_a_fuse_alarm_and_is_counted():
    with started(adapter(letters="AB")) as h:
        h.expect({"/Distributor/A/Status": CONNECTED})
        start = wait_counter(h, "/Diagnostics/Polls", 1)
        corrupt0 = h.get("/Diagnostics/Distributor/A/CorruptReads")
        since = h.mark()
        invalid = ["7F", "01", "04", "08", "FF"]  # truncations, bits 2 and 3, nothing driven
        for byte in invalid:
            h.simctl("corrupt", "LYNX0001", "A", byte)
            h.pump(2 * POLL_S)
        # a plausible byte (fuse 1 open) read once is not confirmed by the second read
        h.simctl("corrupt", "LYNX0001", "A", "10")
        h.pump(2 * POLL_S)
        # every invalid byte in both reads of a poll: a failed poll, not an alarm
        h.simctl("corrupt", "LYNX0001", "B", "7F", "count=2")
        h.pump(3 * POLL_S)
        changes = state_changes_since(h, since)
        require(not changes, f"corrupt reads changed the published state: {changes}")
        no_alarm_since(h, since)
        got = wait_counter(h, "/Diagnostics/Distributor/A/CorruptReads", corrupt0 + len(invalid))
        require(got == corrupt0 + len(invalid),
                f"A/CorruptReads went from {corrupt0} to {got}, expected +{len(invalid)}")
        wait_counter(h, "/Diagnostics/Distributor/B/CorruptReads", 2)
        wait_counter(h, "/Diagnostics/CorruptReads", corrupt0 + len(invalid) + 2)
        require(h.get("/Diagnostics/Polls") > start, "/Diagnostics/Polls does not advance")
        h.expect({"/Distributor/A/Fuse/0/Status": FUSE_OK,
                  "/Distributor/A/Status": CONNECTED, "/Distributor/B/Status": CONNECTED})


@test(alone=True)
def corrupt_rate_of_5_percent_raises_no_false_alarm_and_fuse_changes_still_show_within_a_poll():
    with started(adapter(letters="AB")) as h:
        since = h.mark()
        h.simctl("corrupt-rate", "LYNX0001", "all", "0.05", "seed=42")
        h.pump(50 * POLL_S)  # ~200 reads per distributor, ~20 of them truncated
        no_alarm_since(h, since)
        changes = state_changes_since(h, since)
        require(not changes, f"truncated reads changed the published state: {changes}")
        wait_counter(h, "/Diagnostics/CorruptReads", 1)
        for action, alarm, status in (("open", ALARM, FUSE_BLOWN), ("ok", OK, FUSE_OK)) * 2:
            t0 = h.mark()
            h.simctl("fuse", "LYNX0001", "B", "3", action)
            s = h.wait_for_signal(lambda v: v.get("/Distributor/B/Fuse/2/Status") == status, t0,
                                  POLL_S + TIMING_MARGIN_S + 2)
            took = s.time - t0
            require(took <= POLL_S + TIMING_MARGIN_S,
                    f"fuse 3 {action} took {took:.3f} s to show (poll {POLL_S} s)")
            h.wait_for("/Distributor/B/Fuse/2/Alarms/Blown", alarm)
        lost = [s.values for s in h.items_changed(since)
                if any(p.endswith("/ConnectionLost") or
                       (p.endswith("/Status") and p.count("/") == 3 and v == COMMS_LOST)
                       for p, v in s.values.items())]
        require(not lost, f"truncated reads lost a distributor: {lost}")
        h.expect({"/Distributor/A/Status": CONNECTED, "/Distributor/B/Status": CONNECTED,
                  "/Distributor/A/Alarms/ConnectionLost": OK})


@test(alone=True)
def nack_address_for_fewer_than_comm_lost_polls_loses_nothing():
    config = ini({"comm_lost_polls": 6})
    with started(adapter(letters="AB"), config=config) as h:
        nacks0 = h.get("/Diagnostics/Distributor/A/Nacks")
        since = h.mark()
        h.simctl("nack-address", "LYNX0001", "A", "on")
        h.pump(2 * POLL_S)  # at most 3 polls of 6
        h.simctl("nack-address", "LYNX0001", "A", "off")
        h.pump(3 * POLL_S)
        changes = state_changes_since(h, since)
        require(not changes, f"a short NACK spell changed the published state: {changes}")
        wait_counter(h, "/Diagnostics/Distributor/A/Nacks", nacks0 + 2)
        h.expect({"/Distributor/A/Status": CONNECTED, "/Distributor/A/Alarms/ConnectionLost": OK})


@test(alone=True)
def nack_address_for_comm_lost_polls_raises_connection_lost_and_clears_when_it_answers():
    polls = 3
    with started(adapter(letters="AB") + "distributor LYNX0001 C fuses=ok,open,ok,ok\n",
                 config=ini({"comm_lost_polls": polls})) as h:
        h.wait_for("/Distributor/C/Fuse/1/Alarms/Blown", ALARM)
        t0 = h.mark()
        h.simctl("nack-address", "LYNX0001", "C", "on")
        lost = h.wait_for_signal(lambda v: v.get("/Distributor/C/Status") == COMMS_LOST, t0,
                                 polls * POLL_S + 2)
        require(lost.values.get("/Distributor/C/Alarms/ConnectionLost") == ALARM,
                f"no connection-lost alarm with the loss: {lost.values}")
        require(lost.time - t0 >= (polls - 1) * POLL_S,
                f"lost after {lost.time - t0:.3f} s: fewer than {polls} polls")
        h.expect({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED,
                  "/Distributor/B/Status": CONNECTED,
                  "/Distributor/C/Fuse/1/Alarms/Blown": ALARM})  # held while lost
        wait_counter(h, "/Diagnostics/Distributor/C/ConnectionLosses", 1)
        t1 = h.mark()
        h.simctl("nack-address", "LYNX0001", "C", "off")
        h.wait_for("/Distributor/C/Status", CONNECTED)
        h.expect({"/Distributor/C/Alarms/ConnectionLost": OK,
                  "/Distributor/C/Fuse/1/Status": FUSE_BLOWN})
        h.pump(POLL_S)
        resent = [p for s in h.items_changed(t1) for p in s.values
                  if p == "/Distributor/C/Fuse/1/Alarms/Blown"]
        require(not resent, f"the held fuse alarm was sent again: {resent}")


@test
def all_distributors_losing_power_at_once_lose_comms_and_the_log_suggests_the_5v_supply():
    polls = 3
    with started(adapter(letters="ABC"), config=ini({"comm_lost_polls": polls})) as h:
        h.simctl("power", "LYNX0001", "all", "off")
        for x in "ABC":
            h.wait_for(f"/Distributor/{x}/Status", COMMS_LOST, timeout=polls * POLL_S + 2)
            h.expect({f"/Distributor/{x}/Alarms/ConnectionLost": ALARM})
        h.expect({"/Adapter/Connected": 1, "/NrOfDistributors": 3})
        log = h.log_text()
        require("5 V" in log and "all 3 distributors" in log,
                f"no log line pointing at the 5 V supply:\n{log}")
        h.simctl("power", "LYNX0001", "all", "on")
        for x in "ABC":
            h.wait_for(f"/Distributor/{x}/Status", CONNECTED)
            h.expect({f"/Distributor/{x}/Alarms/ConnectionLost": OK})


@test
def a_single_distributor_losing_power_gets_the_5v_supply_hint_too():
    with started(adapter(letters="A"), config=ini({"comm_lost_polls": 2})) as h:
        h.simctl("power", "LYNX0001", "A", "off")
        h.wait_for("/Distributor/A/Status", COMMS_LOST, timeout=2 * POLL_S + 2)
        log = h.log_text()
        require("the only distributor stopped answering" in log and "5 V" in log,
                f"no log line pointing at the 5 V supply:\n{log}")


@test(transports=FTDI_ONLY)  # i2c-dev cannot clock a bus free: i2c_stuck_bus_... below
def a_stuck_sda_is_clocked_free_counted_and_readings_carry_on():
    with started(adapter(letters="AB"), config=ini({"comm_lost_polls": 3})) as h:
        since = h.mark()
        for _ in range(3):
            h.simctl("stuck-sda", "LYNX0001", "B")
            h.pump(2 * POLL_S)
        got = wait_counter(h, "/Diagnostics/BusRecoveries", 3)
        require(got <= 6, f"{got} bus recoveries for 3 stuck episodes")
        changes = state_changes_since(h, since)
        require(not changes, f"a stuck bus changed the published state: {changes}")
        no_alarm_since(h, since)
        # readings carry on: a real change still shows
        h.simctl("fuse", "LYNX0001", "B", "4", "open")
        h.wait_for("/Distributor/B/Fuse/3/Status", FUSE_BLOWN)
        log = h.log_text()
        require("I2C bus stuck" in log, f"no log line for the stuck bus:\n{log}")


@test(transports=("i2c",))
def an_i2c_stuck_bus_is_logged_once_loses_the_distributors_and_a_power_cycle_frees_it():
    polls = 3
    with started(adapter(letters="AB"), config=ini({"comm_lost_polls": polls})) as h:
        since = h.mark()
        h.simctl("stuck-sda", "LYNX0001", "B")
        lost = h.wait_for_signal(lambda v: v.get("/Distributor/A/Status") == COMMS_LOST, since,
                                 polls * POLL_S + 2)
        require(lost.time - since >= (polls - 1.5) * POLL_S,
                f"A lost {lost.time - since:.3f} s after the bus stuck: before {polls} polls")
        h.pump(3 * POLL_S)
        log = h.log_text()
        line = "this transport cannot clock it free"
        require(log.count(line) == 1, f"expected one log line with '{line}':\n{log}")
        # the adapter itself works: a stuck bus is not an unplugged adapter
        h.expect({"/Adapter/Connected": 1, "/Diagnostics/BusRecoveries": 0})
        # a slave stuck mid-byte lets go when it loses power
        h.simctl("power", "LYNX0001", "B", "off")
        h.simctl("power", "LYNX0001", "B", "on")
        h.wait_for("/Distributor/A/Status", CONNECTED, timeout=5)
        h.wait_for("/Distributor/B/Status", CONNECTED, timeout=5)
        h.expect({"/Distributor/A/Alarms/ConnectionLost": OK})


# ---- adapter faults --------------------------------------------------------------------------

@test
def single_usb_faults_keep_polling_without_an_alarm_and_connected_stays():
    with started(adapter(letters="AB"), config=ini({"comm_lost_polls": 3})) as h:
        since = h.mark()
        # short and empty reads are USB packet faults; an i2c-dev adapter has the other two
        faults = ("usb-error", "usb-timeout")
        if TRANSPORT == "ftdi":
            faults += ("short-read", "empty-read")
        for fault in faults:
            h.simctl(fault, "LYNX0001")
            try:
                expect_polling(h, 4)
            except Failure as e:
                raise Failure(f"after {fault}: {e}")
        changes = state_changes_since(h, since)
        require(not changes, f"single USB faults changed the published state: {changes}")
        # the stall and the timeout; on i2c-dev the timeout is ETIMEDOUT, which hid-cp2112 also
        # gives for an address NACK, so the daemon counts it as a NACK (src/i2cdev_link.h)
        wait_counter(h, "/Diagnostics/UsbErrors", 2 if TRANSPORT == "ftdi" else 1)
        h.expect({"/Adapter/Connected": 1, "/Distributor/A/Status": CONNECTED,
                  "/Distributor/B/Status": CONNECTED})
        # and readings are right afterwards
        h.simctl("fuse", "LYNX0001", "A", "1", "open")
        h.wait_for("/Distributor/A/Fuse/0/Status", FUSE_BLOWN)


@test(alone=True)
def persistent_usb_errors_drop_connected_after_comm_lost_polls_and_it_recovers():
    polls = 3
    with started(adapter(letters="A"), config=ini({"comm_lost_polls": polls})) as h:
        t0 = h.mark()
        h.simctl("usb-error", "LYNX0001", "count=20")
        gone = h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 0, t0, 10)
        require(gone.time - t0 >= (polls - 1) * POLL_S,
                f"/Connected went 0 after {gone.time - t0:.3f} s: before {polls} failed polls")
        h.wait_for("/Adapter/Connected", 1, timeout=20)
        h.wait_for("/Distributor/A/Status", CONNECTED)
        h.expect({"/Distributor/A/Alarms/ConnectionLost": OK})
        wait_counter(h, "/Diagnostics/UsbErrors", polls)
        expect_polling(h)


@test(alone=True)
def unplug_mid_transfer_drops_connected_loses_comms_after_n_polls_and_recovers_on_plug():
    polls = 3
    with started(adapter(letters="A"), config=ini({"comm_lost_polls": polls})) as h:
        owner = h.owners[h.default_service]
        t0 = h.mark()
        h.simctl("unplug-mid-transfer", "LYNX0001")
        gone = h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 0, t0, POLL_S + 2)
        require(gone.values.get("/Distributor/A/Status", CONNECTED) == CONNECTED,
                "A was lost at the first failed poll")
        lost = h.wait_for_signal(lambda v: v.get("/Distributor/A/Status") == COMMS_LOST, t0,
                                 polls * POLL_S + 2)
        # the unplug lands in the poll after t0; that poll and polls - 1 more fail before A is lost
        after = lost.time - t0
        require(lost.time > gone.time and after >= (polls - 1.5) * POLL_S,
                f"A lost {after:.3f} s after the unplug ({lost.time - gone.time:.3f} s after "
                f"/Connected 0): fewer than {polls} failed polls")
        require(h.has_owner(h.default_service) and
                str(h.bus.get_name_owner(h.default_service)) == owner,
                "the service left the bus or changed owner")
        h.simctl("plug", "LYNX0001")
        h.wait_for("/Adapter/Connected", 1, timeout=5)
        h.wait_for("/Distributor/A/Status", CONNECTED)
        h.expect({"/Distributor/A/Alarms/ConnectionLost": OK})
        wait_counter(h, "/Diagnostics/Reopens", 1)


@test(transports=FTDI_ONLY)
def an_adapter_plugged_in_later_gets_its_own_service():
    scenario = (adapter("LYNX0001", "A") + adapter("LATE0002", "A", " plugged=no") +
                "distributor LATE0002 B fuses=ok,open,ok,ok\n")
    with started(scenario) as h:
        late = service_name("LATE0002")
        h.pump(3 * POLL_S)
        require(not h.has_owner(late), "a service for an adapter that is not plugged in")
        h.simctl("plug", "LATE0002")
        h.wait_for_name(late, timeout=8)
        h.wait_for("/Adapter/Connected", 1, service=late)
        h.wait_for("/Distributor/B/Fuse/1/Status", FUSE_BLOWN, service=late)
        h.expect({"/Serial": "LATE0002", "/NrOfDistributors": 2,
                  "/Distributor/A/Status": CONNECTED, "/Distributor/B/Status": CONNECTED},
                 service=late)
        h.expect({"/Serial": "LYNX0001", "/NrOfDistributors": 1, "/Adapter/Connected": 1})


@test(transports=FTDI_ONLY)
def an_ft2232h_adapter_configured_by_pid_reads_its_distributors():
    scenario = ("adapter FT2232X1 pid=0x6010 chip=ft2232h\n"
                "distributor FT2232X1 A fuses=ok,open,ok,ok\n"
                "distributor FT2232X1 C supply=off\n")
    config = "[general]\nvid = 0x0403\npid = 0x6010\npoll_interval_ms = 200\n[ftdi:FT2232X1]\n"
    with started(scenario, config=config, serials=("FT2232X1",)) as h:
        svc = service_name("FT2232X1")
        h.expect({"/NrOfDistributors": 2, "/Distributor/A/Status": CONNECTED,
                  "/Distributor/A/Fuse/1/Status": FUSE_BLOWN,
                  "/Distributor/C/Status": NO_BUS_POWER,
                  "/Distributor/B/Status": NOT_AVAILABLE,
                  "/HardwareVersion": "FT2232H I2C",
                  "/Mgmt/Connection": "USB FT2232H I2C"}, service=svc)
        h.simctl("fuse", "FT2232X1", "A", "2", "ok")
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", OK, service=svc)
        require("FT2232H" in h.log_text(), "the log does not name the FT2232H")
        stats = h.sim_stats()["total"]
        require(stats.get("i2c_contention", 0) == 0,
                f"SDA driven high against a distributor {stats['i2c_contention']} times")


@test(transports=FTDI_ONLY)
def a_stock_ft2232h_is_not_claimed_without_configuration():
    scenario = adapter("LYNX0001", "A") + adapter("FT2232X1", "A", " pid=0x6010 chip=ft2232h")
    with started(scenario) as h:
        h.pump(3 * POLL_S)
        require(not h.has_owner(service_name("FT2232X1")),
                "a stock-PID FT2232H was claimed without vid/pid in the configuration")


# ---- process life ----------------------------------------------------------------------------

@test
def a_clean_restart_raises_no_alarm():
    config = ini({"comm_lost_polls": 2}, {"LYNX0001": {"distributorAInstalled": "true",
                                                       "distributorBInstalled": "true"}})
    with started(adapter(letters="AB"), config=config) as h:
        h.wait_for("/Distributor/B/Status", CONNECTED)
        since = h.mark()
        require(h.stop_daemon() == 0, "the daemon did not exit cleanly")
        h.start_daemon(scenario=adapter(letters="AB"), config=config, args=DIAG_INTERVAL)
        h.wait_for("/Adapter/Connected", 1)
        h.wait_for("/Distributor/B/Status", CONNECTED)
        h.pump(4 * POLL_S)
        h.pump()
        raised = [(s.sender, alarm_paths(s.values)) for s in h.signals
                  if s.time >= since and s.member == "ItemsChanged" and alarm_paths(s.values)]
        require(not raised, f"the restart raised alarms: {raised}")
        h.expect({"/Distributor/A/Alarms/ConnectionLost": OK,
                  "/Distributor/B/Alarms/ConnectionLost": OK})


@test
def losing_the_dbus_connection_exits_non_zero_for_the_supervisor_to_restart():
    with started(adapter(letters="A")) as h:
        bus = next(p for label, p in h.procs if label == "dbus-daemon")
        h.bus.close()
        h.bus = None
        bus.send_signal(signal.SIGTERM)
        bus.wait(5)
        deadline = time.monotonic() + 5
        while h.sim.poll() is None:
            require(time.monotonic() < deadline, "the daemon kept running without D-Bus")
            time.sleep(0.02)
        require(h.sim.returncode not in (0, None),
                f"exit {h.sim.returncode} after losing D-Bus: daemontools would not restart it")
        log = h.log_text()
        require("D-Bus connection lost" in log, f"no log line for the lost bus:\n{log}")


@test(alone=True)
def diagnostics_go_out_as_a_snapshot_at_most_once_per_interval():
    with started(adapter(letters="AB")) as h:
        h.pump(POLL_S)
        since = h.mark()
        h.simctl("corrupt-rate", "LYNX0001", "A", "0.2", "seed=3")  # counters move every poll
        h.pump(3.5)
        sent = [s for s in h.items_changed(since)
                if any(p.startswith("/Diagnostics/") for p in s.values)]
        require(2 <= len(sent) <= 5, f"{len(sent)} diagnostics snapshots in 3.5 s at a 1 s interval")
        gaps = [b.time - a.time for a, b in zip(sent, sent[1:])]
        require(all(g >= 1.0 - POLL_S for g in gaps), f"snapshots closer than 1 s: {gaps}")
        mixed = [s.values for s in sent if any(not p.startswith("/Diagnostics/") for p in s.values)]
        require(not mixed, f"a state change rode along without one happening: {mixed}")
        # GetValue says what the last snapshot announced (unless a newer one came meanwhile)
        for _ in range(3):
            last = {}
            for s in h.items_changed(since):
                last.update({p: v for p, v in s.values.items() if p.startswith("/Diagnostics/")})
            n = len(h.items_changed(since))
            now = {p: h.get(p) for p in last}
            if len(h.items_changed(since)) == n:
                stale = {p: (v, now[p]) for p, v in last.items() if now[p] != v}
                require(not stale, f"GetValue disagrees with the last snapshot: {stale}")
                break


@test
def a_healthy_bus_sends_the_poll_count_once_per_interval_and_unused_addresses_count_nothing():
    with started(adapter(letters="A")) as h:  # B-D are unused addresses: they NACK every poll
        h.pump(POLL_S)
        since = h.mark()
        h.pump(3.5)
        sent = [s.values for s in h.items_changed(since)]
        require(2 <= len(sent) <= 5, f"{len(sent)} snapshots in 3.5 s at a 1 s interval: {sent}")
        require(all(set(v) == {"/Diagnostics/Polls"} for v in sent),
                f"a healthy bus sent more than the poll count: {sent}")
        polls = [v["/Diagnostics/Polls"] for v in sent]
        require(polls == sorted(set(polls)), f"/Diagnostics/Polls does not advance: {polls}")
        for x in "BCD":
            require(h.get(f"/Diagnostics/Distributor/{x}/Nacks") == 0,
                    f"unused address {x} counts NACKs")


@test
def with_the_default_interval_counters_send_nothing_between_snapshots():
    with started(adapter(letters="AB"), config=ini({"comm_lost_polls": 20}), args=()) as h:
        h.pump(POLL_S)
        since = h.mark()
        h.simctl("corrupt-rate", "LYNX0001", "A", "0.3", "seed=5")
        h.simctl("nack-address", "LYNX0001", "B", "on")
        h.pump(4 * POLL_S)
        h.simctl("nack-address", "LYNX0001", "B", "off")
        h.pump(4 * POLL_S)
        sent = h.sent(since)
        require(not sent, f"{len(sent)} signals for counters alone: {[s.values for s in sent]}")
        # GetValue and GetItems agree (what busitem-check asserts for every path)
        dump = h.dump()
        for p in ("/Diagnostics/Polls", "/Diagnostics/Distributor/A/CorruptReads"):
            require(dump[p] == h.get(p), f"{p}: GetItems {dump[p]}, GetValue {h.get(p)}")


@test(transports=FTDI_ONLY)
def a_wedged_adapter_logs_each_failure_once_and_says_how_many_it_held_back():
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario="adapter LYNX0001\ndistributor LYNX0001 A\n")
        h.wait_for("/Adapter/Connected", 1)
        before = h.log_text().count("WARNING")
        # every bulk IN times out for a while: set-up, scans and the polls that find the previous
        # transfers still out fail, alternating, at every 200 ms poll
        h.simctl("usb-timeout", "LYNX0001", "count=25")
        deadline = time.monotonic() + 60
        while "polls work again" not in h.log_text():
            require(time.monotonic() < deadline, "the adapter did not work again")
            h.pump(0.2)
        log = h.log_text()
        warnings = log.count("WARNING") - before
        require(warnings <= 6, f"{warnings} warnings for one wedged episode:\n{log}")
        line = next(x for x in log.splitlines() if "polls work again" in x)
        held = int(line.split("; ")[1].split()[0])
        require(held >= 1, f"the recovery line says nothing was held back: {line!r}")


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
