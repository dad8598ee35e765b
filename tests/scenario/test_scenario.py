#!/usr/bin/python3
"""Scenario tests: the daemon end to end against lynx-sim on a private D-Bus.

  test_scenario.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Each test asserts the values a Venus OS consumer reads (GetValue, GetItems through busitem-check,
ItemsChanged signals), never the daemon's internals.
"""
import os
import sys
import time

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TRANSPORTS, FTDI_ONLY, adapter_identity, Failure, Harness, TIMING_MARGIN_S,
                     ini, require, run, service_name, settings_id, started, test)  # noqa: E402
from published import (POLL_S, OK, ALARM, NOT_AVAILABLE, CONNECTED, NO_BUS_POWER, COMMS_LOST,
                       FUSE_NOT_AVAILABLE, FUSE_NOT_USED, FUSE_OK, FUSE_BLOWN, TWO_ADAPTERS, dist,
                       absent, one_adapter)  # noqa: E402


# ---- static states --------------------------------------------------------------------------

@test
def busitem_check_conformance_passes_on_the_running_service():
    with started(fixture="several-fuses-open.scn") as h:
        r = h.busitem_check(h.default_service)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        require(r.returncode == 0 and last.endswith(" 0 failed"),
                f"busitem-check exit {r.returncode}:\n{r.stdout}{r.stderr}")


@test
def all_ok_publishes_a_connected_distributor_with_good_fuses_and_no_alarm():
    with started(fixture="all-ok.scn") as h:
        want = {"/Adapter/Connected": 1, "/NrOfDistributors": 1, "/ProductName": "Lynx Distributor",
                **adapter_identity("LYNX0001")}
        want.update(dist("A", CONNECTED, [FUSE_OK] * 4))
        for letter in "BCD":
            want.update(absent(letter))
        h.expect(want)
        # the independent client reads the same through GetItems
        dump = h.dump()
        wrong = {p: dump.get(p) for p, v in want.items() if dump.get(p) != v}
        require(not wrong, f"busitem-check --dump disagrees: {wrong}")
        require(h.text("/Distributor/A/Status") == "Connected", "A/Status text is not Connected")


@test
def each_single_open_fuse_shows_blown_with_its_alarm():
    with Harness() as h:
        h.start_bus()
        for fuse in range(1, 5):
            states = ",".join("open" if f == fuse else "ok" for f in range(1, 5))
            h.start_daemon(scenario=f"adapter LYNX0001\ndistributor LYNX0001 A fuses={states}\n")
            h.wait_for("/Adapter/Connected", 1)
            fuses = [FUSE_BLOWN if n == fuse - 1 else FUSE_OK for n in range(4)]
            try:
                h.expect({**dist("A", CONNECTED, fuses)})
                require(h.text(f"/Distributor/A/Fuse/{fuse - 1}/Status") == "Blown",
                        "the fuse's text is not Blown")
            except Failure as e:
                raise Failure(f"fuse {fuse} open: {e}")
            require(h.stop_daemon() == 0, "the daemon did not exit cleanly")


@test
def several_open_fuses_on_two_distributors_all_show_blown():
    with started(fixture="several-fuses-open.scn") as h:
        h.expect({"/NrOfDistributors": 2, **dist("A", CONNECTED, [FUSE_BLOWN, FUSE_OK, FUSE_OK, FUSE_BLOWN]),
                  **dist("B", CONNECTED, [FUSE_OK, FUSE_BLOWN, FUSE_BLOWN, FUSE_OK]),
                  **absent("C"), **absent("D")})


@test
def no_busbar_supply_shows_no_bus_power_and_fuses_not_available_without_alarm():
    # the fuse bits are set too: without supply they mean nothing
    with started(scenario="adapter LYNX0001\n"
                          "distributor LYNX0001 A supply=off fuses=open,ok,open,ok\n") as h:
        h.expect({"/NrOfDistributors": 1, **dist("A", NO_BUS_POWER, [FUSE_NOT_AVAILABLE] * 4)})
        # and the supply coming back shows the real fuse states
        h.simctl("supply", "LYNX0001", "A", "on")
        h.wait_for("/Distributor/A/Status", CONNECTED)
        h.expect({**dist("A", CONNECTED, [FUSE_BLOWN, FUSE_OK, FUSE_BLOWN, FUSE_OK])})


@test(alone=True)
def installed_distributor_that_is_absent_raises_connection_lost_after_comm_lost_polls():
    polls = 4
    config = ini({"comm_lost_polls": polls}, {"LYNX0001": {"distributorBInstalled": "true"}})
    with started(fixture="distributor-missing.scn", config=config) as h:
        first = h.items_changed()
        require(first, "the first poll sent no ItemsChanged")
        require(first[0].values.get("/Distributor/B/Status", NOT_AVAILABLE) != COMMS_LOST,
                "B was lost at the first poll already")
        lost = h.wait_for_signal(lambda v: v.get("/Distributor/B/Status") == COMMS_LOST,
                                 0, polls * POLL_S + 2)
        after = lost.time - first[0].time
        # poll 1 published A; polls 2..N failed for B as well; poll N declares it lost
        require(after >= (polls - 1.5) * POLL_S,
                f"B lost {after:.3f} s after the first poll: fewer than {polls} polls")
        require(after <= (polls - 1) * POLL_S + TIMING_MARGIN_S,
                f"B lost only {after:.3f} s after the first poll")
        h.expect({"/NrOfDistributors": 3, **dist("A", CONNECTED, [FUSE_OK] * 4),
                  **dist("B", COMMS_LOST, [FUSE_NOT_AVAILABLE] * 4, lost=ALARM),
                  **dist("C", CONNECTED, [FUSE_OK] * 4), **absent("D")})
        # the distributor being plugged in clears the alarm
        h.simctl("distributor", "LYNX0001", "B", "back")
        h.wait_for("/Distributor/B/Status", CONNECTED)
        h.expect(dist("B", CONNECTED, [FUSE_OK] * 4, lost=OK))


@test
def absent_distributor_that_is_not_configured_stays_not_available_without_alarm():
    config = ini({"comm_lost_polls": 2})
    with started(fixture="distributor-missing.scn", config=config) as h:
        since = h.mark()
        h.pump(4 * POLL_S)  # twice comm_lost_polls
        for s in h.items_changed(since):
            touched = [p for p in s.values if p.startswith(("/Distributor/B/", "/Distributor/D/"))]
            require(not touched, f"an absent distributor changed: {s.values}")
        h.expect({"/NrOfDistributors": 2, **absent("B"), **absent("D")})


@test
def fuse_configured_not_installed_shows_not_used_and_never_alarms():
    # config keys number fuses physically from 0: Fuse2 is the scenario's fuse 3
    config = ini(adapters={"LYNX0001": {"distributorAFuse2Installed": "false"}})
    with started(scenario="adapter LYNX0001\ndistributor LYNX0001 A fuses=ok,ok,open,ok\n",
                 config=config) as h:
        h.expect({**dist("A", CONNECTED, [FUSE_OK, FUSE_OK, FUSE_NOT_USED, FUSE_OK])})
        since = h.mark()
        h.simctl("fuse", "LYNX0001", "A", "3", "ok")
        h.simctl("fuse", "LYNX0001", "A", "3", "open")
        h.pump(3 * POLL_S)
        h.expect({"/Distributor/A/Fuse/2/Status": FUSE_NOT_USED,
                  "/Distributor/A/Fuse/2/Alarms/Blown": OK})
        changed = [s.values for s in h.items_changed(since)]
        require(not changed, f"a fuse that is not installed changed something: {changed}")
        # an installed fuse on the same distributor still alarms
        h.simctl("fuse", "LYNX0001", "A", "1", "open")
        h.wait_for("/Distributor/A/Fuse/0/Alarms/Blown", ALARM)
        h.expect(dist("A", CONNECTED, [FUSE_BLOWN, FUSE_OK, FUSE_NOT_USED, FUSE_OK]))


@test
def upside_down_mounting_mirrors_fuse_numbers_and_a_distributor_can_override_it():
    config = ini(adapters={"LYNX0001": {"mounted_upside_down": "true",
                                        "distributorBUpsideDown": "false",
                                        "distributorAFuse0Name": "Inverter"}})
    with started(scenario="adapter LYNX0001\n"
                          "distributor LYNX0001 A fuses=open,ok,ok,ok\n"
                          "distributor LYNX0001 B fuses=open,ok,ok,ok\n", config=config) as h:
        h.expect({**dist("A", CONNECTED, [FUSE_OK, FUSE_OK, FUSE_OK, FUSE_BLOWN]),
                  **dist("B", CONNECTED, [FUSE_BLOWN, FUSE_OK, FUSE_OK, FUSE_OK]),
                  # a configured name stays with its physical fuse
                  "/Distributor/A/Fuse/3/Name": "Inverter", "/Distributor/A/Fuse/0/Name": "Fuse 1",
                  "/Distributor/B/Fuse/0/Name": "Fuse 1"})


@test
def distributors_a_and_c_only_are_published_and_counted():
    with started(scenario=one_adapter("A", "C")) as h:
        h.expect({"/NrOfDistributors": 2, **dist("A", CONNECTED, [FUSE_OK] * 4), **absent("B"),
                  **dist("C", CONNECTED, [FUSE_OK] * 4), **absent("D")})


@test
def two_adapters_publish_two_services_with_their_own_distributors():
    with started(fixture="two-adapters.scn", serials=("LYNX0001", "FT6014X1"),
                 config=TWO_ADAPTERS) as h:
        first, second = service_name("LYNX0001"), service_name("FT6014X1")
        h.expect({"/Serial": adapter_identity("LYNX0001")["/Serial"], "/NrOfDistributors": 2, **dist("A", CONNECTED, [FUSE_OK] * 4), **dist("B", CONNECTED, [FUSE_OK] * 4)},
                 service=first)
        h.expect({"/Serial": adapter_identity("FT6014X1")["/Serial"], "/NrOfDistributors": 1, **dist("A", CONNECTED, [FUSE_OK, FUSE_OK, FUSE_OK, FUSE_BLOWN]),
                  **absent("B")}, service=second)
        # a fuse on one adapter's bus does not touch the other service
        h.simctl("fuse", "LYNX0001", "B", "2", "open")
        h.wait_for("/Distributor/B/Fuse/1/Status", FUSE_BLOWN, service=first)
        h.expect({"/Distributor/B/Fuse/1/Alarms/Blown": ALARM}, service=first)
        h.expect({"/NrOfDistributors": 1, **absent("B")}, service=second)


@test
def two_adapters_get_distinct_device_instances_from_the_settings_service():
    with started(fixture="two-adapters.scn", serials=("LYNX0001", "FT6014X1"),
                 config=TWO_ADAPTERS, settings=True) as h:
        deadline = time.monotonic() + 5
        while True:
            inst = {s: h.get("/DeviceInstance", service_name(s)) for s in ("LYNX0001", "FT6014X1")}
            stored = {}
            for s in inst:
                path = f"/Settings/Devices/{settings_id(s)}/ClassAndVrmInstance"
                try:
                    stored[s] = h.setting(path)
                except dbus.DBusException:
                    stored[s] = None
            want = {s: int(v.split(":")[1]) if isinstance(v, str) and ":" in v else None
                    for s, v in stored.items()}
            if inst == want and len(set(inst.values())) == 2:
                break
            require(time.monotonic() < deadline,
                    f"DeviceInstance {inst}, ClassAndVrmInstance settings {stored}")
            h.pump(0.05)
        require(all(v.startswith("battery:") for v in stored.values()),
                f"the settings are not of class battery: {stored}")


# ---- changes while running ------------------------------------------------------------------

@test(alone=True)
def fuse_blowing_while_running_raises_the_alarm_within_one_poll_and_replacing_it_clears_it():
    with started(fixture="all-ok.scn") as h:
        h.expect(dist("A", CONNECTED, [FUSE_OK] * 4))
        for action, alarm, status in (("open", ALARM, FUSE_BLOWN), ("ok", OK, FUSE_OK)):
            since = h.mark()
            h.simctl("fuse", "LYNX0001", "A", "2", action)
            s = h.wait_for_signal(lambda v: v.get("/Distributor/A/Fuse/1/Alarms/Blown") == alarm,
                                  since,
                                  POLL_S + TIMING_MARGIN_S + 2)
            took = s.time - since
            require(took <= POLL_S + TIMING_MARGIN_S,
                    f"fuse 2 {action}: alarm {alarm} took {took:.3f} s (poll {POLL_S} s)")
            require(s.values.get("/Distributor/A/Fuse/1/Status") == status and
                    s.values.get("/Distributor/A/Fuse/1/Alarms/Blown") == alarm,
                    f"the fuse change is not in the same ItemsChanged: {s.values}")
            require("/Alarms/FuseBlown" not in s.values,
                    "an aggregate fuse alarm would notify every blown fuse twice")
            h.expect(dist("A", CONNECTED, [FUSE_OK, status, FUSE_OK, FUSE_OK]))


@test(alone=True)
def unplugged_adapter_keeps_its_service_loses_distributors_after_comm_lost_polls_and_recovers():
    polls = 3
    with started(fixture="all-ok.scn", config=ini({"comm_lost_polls": polls})) as h:
        h.simctl("fuse", "LYNX0001", "A", "2", "open")
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", ALARM)
        owner = h.owners[h.default_service]

        since = h.mark()
        h.simctl("unplug", "LYNX0001")
        gone = h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 0, since, POLL_S + 2)
        require(gone.time - since <= POLL_S + TIMING_MARGIN_S,
                f"/Adapter/Connected went 0 only {gone.time - since:.3f} s after the unplug")
        require(gone.values.get("/Distributor/A/Status", CONNECTED) == CONNECTED,
                "A was declared lost at the first failed poll")
        lost = h.wait_for_signal(lambda v: v.get("/Distributor/A/Status") == COMMS_LOST,
                                 since, polls * POLL_S + 2)
        after = lost.time - gone.time
        require((polls - 1.5) * POLL_S <= after <= (polls - 1) * POLL_S + TIMING_MARGIN_S,
                f"A lost {after:.3f} s after the first failed poll (expected {polls - 1} polls)")
        h.expect({"/Adapter/Connected": 0, "/NrOfDistributors": 1,
                  # a cable problem neither clears nor re-sounds the fuse alarm
                  **dist("A", COMMS_LOST, [FUSE_NOT_AVAILABLE] * 4, lost=ALARM,
                         blown=[OK, ALARM, OK, OK])})
        h.pump(2 * POLL_S)
        require(h.has_owner(h.default_service) and
                str(h.bus.get_name_owner(h.default_service)) == owner,
                "the service left the bus or changed owner while unplugged")

        since = h.mark()
        h.simctl("plug", "LYNX0001")
        h.wait_for("/Adapter/Connected", 1, timeout=5)
        h.wait_for("/Distributor/A/Status", CONNECTED)
        h.expect({**dist("A", CONNECTED, [FUSE_OK, FUSE_BLOWN, FUSE_OK, FUSE_OK])})
        h.pump(POLL_S)
        resent = [p for s in h.items_changed(since) for p in s.values
                  if p == "/Distributor/A/Fuse/1/Alarms/Blown"]
        require(not resent, f"the replug re-sent the held fuse alarm: {resent}")


@test(alone=True, transports=("i2c",))
def an_i2c_bus_removed_or_added_is_published_at_once_from_its_uevent_not_at_the_next_poll():
    # the next regular poll is 20 s after the first: within the test only a uevent can make the
    # daemon look at the bus
    slow_s = 20.0
    config = ini({"poll_interval_ms": int(slow_s * 1000), "comm_lost_polls": 3})
    with started(one_adapter("A"), config=config) as h:
        first_poll = h.mark()
        line = "i2c adapters plugged in or removed are seen at once by uevents"
        require(line in h.log_text(), f"the log does not say '{line}':\n{h.log_text()}")

        since = h.mark()
        h.simctl("unplug", "LYNX0001")
        gone = h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 0, since, 1.0)
        require(gone.values.get("/Distributor/A/Status", CONNECTED) == CONNECTED,
                "A was declared lost at the first failed poll")
        h.simctl("fuse", "LYNX0001", "A", "2", "open")  # while the bus is away

        since = h.mark()
        h.simctl("plug", "LYNX0001")
        back = h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 1, since, 1.0)
        require(back.values.get("/Distributor/A/Fuse/1/Status") == FUSE_BLOWN,
                f"the poll at the plug did not publish the bus as it is now: {back.values}")
        h.expect({"/Adapter/Connected": 1,
                  **dist("A", CONNECTED, [FUSE_OK, FUSE_BLOWN, FUSE_OK, FUSE_OK])})
        require(time.monotonic() - first_poll < slow_s - 2,
                "the test ran into the next regular poll: it would prove nothing")


@test(alone=True)
def an_unchanged_poll_emits_no_items_changed():
    with started(fixture="several-fuses-open.scn") as h:
        h.wait_for("/Distributor/B/Status", CONNECTED)
        h.pump(POLL_S)  # let the first poll's publishing finish
        # every poll reads the four addresses: four transactions on the bus, whatever the transport
        before = h.sim_stats()["total"]["i2c_transactions"]
        since = h.mark()
        h.pump(6 * POLL_S)
        polls = (h.sim_stats()["total"]["i2c_transactions"] - before) // 4
        require(polls >= 4, f"only {polls} polls' bus transactions: the daemon is not polling")
        quiet = h.sent(since)
        require(not quiet, f"{len(quiet)} signals without a change, first: {quiet[0].values}"
                if quiet else "")

        # the recorder sees a change, and the change alone
        since = h.mark()
        h.simctl("fuse", "LYNX0001", "A", "2", "open")
        h.wait_for("/Distributor/A/Fuse/1/Status", FUSE_BLOWN)
        h.pump(3 * POLL_S)
        sent = h.sent(since)
        require(len(sent) == 1 and sent[0].member == "ItemsChanged",
                f"expected one ItemsChanged, got {[(s.member, s.values) for s in sent]}")
        require(sent[0].values == {"/Distributor/A/Fuse/1/Status": FUSE_BLOWN,
                                   "/Distributor/A/Fuse/1/Alarms/Blown": ALARM},
                f"the ItemsChanged carries more than the change: {sent[0].values}")


def _assert_timing(h, mode, high_min, low_min):
    adapter = h.sim_stats()["adapters"][0]
    require(adapter["i2c_mode"] == mode, f"the bus checks {adapter['i2c_mode']} mode")
    bad = {rule: n for rule, n in adapter["timing_violations"].items() if n}
    require(not bad, f"UM10204 {mode}-mode violations: {bad}")
    shortest = adapter["timing_shortest_ns"]
    require(shortest["t_high"] >= high_min and shortest["t_low"] >= low_min,
            f"SCL high {shortest['t_high']} ns, low {shortest['t_low']} ns")
    require(adapter["i2c_transactions"] >= 4, "the daemon did not scan")
    return shortest


@test(transports=FTDI_ONLY)  # the MPSSE clock; a kernel I2C driver sets its own
def scl_high_and_low_times_measured_by_the_simulator_meet_standard_mode_and_the_log_says_the_rate():
    with started(fixture="four-distributors.scn") as h:
        h.wait_for("/Distributor/D/Status", CONNECTED)
        shortest = _assert_timing(h, "standard", 4000, 4700)
        require(shortest["t_high"] == 4000, f"SCL high {shortest['t_high']} ns: not the 12 us bit")
        log = h.log_text()
        require("I2C SCL at 83333 Hz (100000 Hz configured; UM10204 standard mode: high 4000 ns, "
                "low 8000 ns)" in log, f"the log does not state the SCL rate:\n{log}")


@test(transports=FTDI_ONLY)
def at_400_khz_the_daemon_meets_fast_mode_timing():
    scenario = "adapter LYNX0001 i2c=fast\ndistributor LYNX0001 A\ndistributor LYNX0001 B\n"
    with started(scenario=scenario, config=ini({"i2c_speed_khz": 400})) as h:
        h.wait_for("/Distributor/B/Status", CONNECTED)
        _assert_timing(h, "fast", 600, 1300)
        require("I2C SCL at 400000 Hz" in h.log_text(), "the log does not state 400 kHz")


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
