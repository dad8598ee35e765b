#!/usr/bin/python3
"""Scenario tests of the service's D-Bus face: SetValue and its refusals, names, the command
line and config errors, exits, and the device instance and names kept by localsettings. The
states of the distributors are in test_scenario.py; meson names both files' tests scenario/...

  test_service.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Each test asserts the values a Venus OS consumer reads (GetValue, GetItems through busitem-check,
ItemsChanged signals), never the daemon's internals.
"""
import os
import sys
import time

import dbus
import dbus.service

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TRANSPORTS, Failure, Harness, ini, require, run, service_name, settings_id,
                     started, test)  # noqa: E402
from published import (POLL_S, ALARM, CONNECTED, FUSE_OK, TWO_ADAPTERS, dist)  # noqa: E402


# ---- the BusItem interface ------------------------------------------------------------------

@test
def set_value_with_a_wrong_type_or_on_a_read_only_path_is_refused():
    with started(fixture="one-fuse-open.scn") as h:
        refused = [
            ("/CustomName", dbus.Int32(5, variant_level=1)),
            ("/Distributor/A/Fuse/0/Name", dbus.Int32(1, variant_level=1)),
            ("/Distributor/A/Fuse/0/Name", dbus.Double(1.5, variant_level=1)),
            ("/Distributor/A/Status", dbus.Int32(3, variant_level=1)),
            ("/Distributor/A/Fuse/1/Alarms/Blown", dbus.Int32(0, variant_level=1)),
            ("/Adapter/Connected", dbus.Int32(0, variant_level=1)),
            ("/DeviceInstance", dbus.Int32(5, variant_level=1)),
            ("/ProductName", dbus.String("Other", variant_level=1)),
        ]
        for path, value in refused:
            before = h.get(path)
            rc = h.set(path, value)
            require(rc != 0, f"SetValue({value!r}) on {path} answered 0")
            h.pump(POLL_S)
            require(h.get(path) == before, f"the refused SetValue changed {path}")
        # a right value on a writeable path is taken
        require(h.set("/CustomName", dbus.String("Port busbar", variant_level=1)) == 0,
                "SetValue of a string on /CustomName refused")
        h.wait_for("/CustomName", "Port busbar")


@test
def fuse_names_take_16_bytes_custom_names_32_characters_and_controls_and_bidi_are_refused():
    with started(fixture="all-ok.scn") as h:
        path = "/Distributor/A/Fuse/2/Name"
        # 17 bytes; 9 characters in 18 bytes; 12 + an emoji (4 bytes) = 16 characters in 16 bytes
        # plus one; a newline; ESC; U+202E (RLO)
        for name in ("ABCDEFGHIJKLMNOPQ", "\u00c4" * 9, "123456789012\U0001F50Bx", "Pump\n1",
                     "\x1b[31m", "Pump\u202e1"):
            rc = h.set(path, dbus.String(name, variant_level=1))
            require(rc == 2, f"SetValue of {name!r} answered {rc}, expected 2")
            require(h.get(path) == "Fuse 3", f"the refused name changed {path}")
        # 16 bytes each: ASCII, 8 x U+00C4, 12 ASCII + an emoji
        for name in ("ABCDEFGHIJKLMNOP", "\u00c4" * 8, "123456789012\U0001F50B"):
            rc = h.set(path, dbus.String(name, variant_level=1))
            require(rc == 0, f"SetValue of {name!r} (16 bytes) answered {rc}")
            h.wait_for(path, name)
        # a 31-character CustomName with accents (36 bytes) is a name gui-v2 lets a user type
        name = "Ölbrenner Öltank Ölpumpe Ölfilt"
        require(h.set("/CustomName", dbus.String(name, variant_level=1)) == 0,
                "a 31-character CustomName with accents was refused")
        h.wait_for("/CustomName", name)
        require(h.set("/CustomName", dbus.String("x" * 33, variant_level=1)) == 2,
                "a 33-character CustomName was accepted")


@test
def an_empty_name_means_the_default_with_or_without_localsettings():
    for settings in (False, True):
        with started(fixture="all-ok.scn", settings=settings,
                     config=ini(adapters={"LYNX0001": {"distributorAFuse1Name": "Bilge"}})) as h:
            where = "with" if settings else "without"
            for path, default in (("/Distributor/A/Fuse/2/Name", "Fuse 3"),
                                  ("/Distributor/A/Fuse/1/Name", "Bilge"),
                                  ("/CustomName", h.get("/CustomName"))):
                require(h.set(path, dbus.String("Pump", variant_level=1)) == 0, "a name refused")
                h.wait_for(path, "Pump")
                rc = h.set(path, dbus.String("", variant_level=1))
                require(rc == 0, f"{where} localsettings: SetValue '' on {path} answered {rc}")
                if settings:
                    # "" is stored, and the echoes of "Pump" and "" reach the daemon in that
                    # order: the name ends at the default (it was there at once, too, unless the
                    # echo of "Pump" came after it)
                    stored = f"/Settings/Devices/{settings_id('LYNX0001')}{path}"
                    deadline = time.monotonic() + 10
                    while h.setting(stored) != "":
                        require(time.monotonic() < deadline, f"{stored} was not stored as ''")
                        h.pump(0.05)
                    h.wait_for(path, default)
                require(h.get(path) == default,
                        f"{where} localsettings: {path} is {h.get(path)!r} after SetValue '', "
                        f"not the default {default!r}")
                h.pump(1.5)
                require(h.get(path) == default, f"{where} localsettings: {path} left the default")


class RefusingSettings(dbus.service.Object):
    """A com.victronenergy.settings that answers AddSettings with an error, as a localsettings
    that broke would."""

    @dbus.service.method("com.victronenergy.Settings", in_signature="aa{sv}",
                         out_signature="aa{sv}")
    def AddSettings(self, items):
        raise dbus.exceptions.DBusException("broken on purpose",
                                            name="com.victronenergy.Settings.Error")


@test
def a_settings_service_that_answers_with_an_error_is_not_called_silent():
    with Harness() as h:
        h.start_bus()
        bus_name = dbus.service.BusName("com.victronenergy.settings", h.bus)
        RefusingSettings(bus_name, "/")
        # a minute of patience for an answer: the error is one, the service goes on at once
        h.start_daemon(fixture="all-ok.scn", args=["--settings-timeout", "60"])
        h.wait_for_name(h.default_service, timeout=30)
        log = h.log_text()
        require("AddSettings failed: com.victronenergy.Settings.Error" in log, log)
        require("did not register the settings (see above): going on with device instance 990"
                in log, log)
        require("no answer from" not in log, f"an answer was called no answer:\n{log}")


@test
def unknown_method_answers_unknown_method():
    with started(fixture="all-ok.scn") as h:
        for path in ("/ProductName", "/Distributor/A/Fuse/0/Status", "/Distributor", "/"):
            try:
                h.call(path, "NoSuchMethod")
            except dbus.DBusException as e:
                require(e.get_dbus_name() == "org.freedesktop.DBus.Error.UnknownMethod",
                        f"{path}: NoSuchMethod gave {e.get_dbus_name()}")
            else:
                raise Failure(f"{path}: NoSuchMethod was answered")


# ---- configuration and process life ---------------------------------------------------------

@test
def config_with_a_bad_value_exits_non_zero_naming_file_and_line():
    with Harness() as h:
        cases = [("[general]\npoll_interval_ms = fast\n", 2),
                 ("[general]\npoll_interval_ms = 200\n\n[ftdi:LYNX0001]\n"
                  "mounted_upside_down = maybe\n", 5),
                 ("[general]\ncomm_lost_polls = 0\n", 2)]
        for n, (text, line) in enumerate(cases):
            path = h.write_config(text, f"bad-{n}.ini")
            r = h.run_daemon_alone(["-c", path])
            require(r.returncode != 0, f"case {n}: exit 0 with a bad value\n{r.stderr}")
            require(f"{path}:{line}: " in r.stderr,
                    f"case {n}: stderr does not name {path}:{line}:\n{r.stderr}")


@test
def missing_config_file_exits_non_zero():
    with Harness() as h:
        path = os.path.join(h.tmp, "does-not-exist.ini")
        r = h.run_daemon_alone(["-c", path])
        require(r.returncode != 0, "exit 0 without a config file")
        require(path in r.stderr, f"stderr does not name the file:\n{r.stderr}")


@test
def swapped_vid_and_pid_warn_but_the_adapter_is_still_found():
    config = "[general]\nvid = 0xD4F8\npid = 0x0403\npoll_interval_ms = 200\n"
    with started(fixture="all-ok.scn", config=config) as h:
        h.expect({"/Adapter/Connected": 1, **dist("A", CONNECTED, [FUSE_OK] * 4)})
        log = h.log_text()
        require(f"{h.config_path}:3: " in log and "swapped" in log,
                f"no swapped vid/pid warning naming the line:\n{log}")


@test
def sigterm_exits_0_without_publishing_an_alarm_change():
    config = ini(adapters={"LYNX0001": {"distributorBInstalled": "true"}})
    with started(fixture="one-fuse-open.scn", config=config) as h:
        h.wait_for("/Distributor/B/Alarms/ConnectionLost", ALARM)
        h.expect({"/Distributor/A/Fuse/1/Alarms/Blown": ALARM})
        since = h.mark()
        rc = h.stop_daemon()
        require(rc == 0, f"exit code {rc} after SIGTERM")
        sent = h.sent(since)
        require(not sent, f"published on the way out: {[s.values for s in sent]}")
        require(not h.has_owner(h.default_service), "the service is still on the bus")


@test
def custom_name_and_fuse_names_written_over_dbus_survive_a_daemon_restart():
    with started(fixture="all-ok.scn", settings=True) as h:
        prefix = f"/Settings/Devices/{settings_id('LYNX0001')}"
        require(h.set("/CustomName", dbus.String("Port busbar", variant_level=1)) == 0,
                "SetValue on /CustomName refused")
        require(h.set("/Distributor/A/Fuse/1/Name", dbus.String("Bilge pump", variant_level=1))
                == 0, "SetValue on a fuse name refused")
        deadline = time.monotonic() + 3
        while True:
            try:
                stored = (h.setting(f"{prefix}/CustomName"),
                          h.setting(f"{prefix}/Distributor/A/Fuse/1/Name"))
            except dbus.DBusException as e:
                stored = str(e)
            if stored == ("Port busbar", "Bilge pump"):
                break
            require(time.monotonic() < deadline, f"the settings hold {stored}")
            h.pump(0.05)
        require(h.stop_daemon() == 0, "the daemon did not exit cleanly")

        h.start_daemon(fixture="all-ok.scn")
        h.wait_for("/CustomName", "Port busbar")
        h.wait_for("/Distributor/A/Fuse/1/Name", "Bilge pump")
        h.expect({"/Distributor/A/Fuse/0/Name": "Fuse 1"})


# ---- the device instance and the settings service --------------------------------------------

@test
def each_service_appears_with_its_instance_from_the_settings_already_published():
    serials = ("LYNX0001", "FT6014X1")
    with Harness() as h:
        h.start_bus()
        h.write_settings({
            f"/Settings/Devices/{settings_id('LYNX0001')}/ClassAndVrmInstance": "battery:7"})
        h.start_settings()
        since = h.mark()
        h.start_daemon(fixture="two-adapters.scn", config=TWO_ADAPTERS, wait=False)
        first = h.first_read_instances(serials, since)
        # the stored instance, and for the new adapter the default bumped past nothing
        require(first == {"LYNX0001": 7, "FT6014X1": 990},
                f"/DeviceInstance read at the name's appearance: {first}")
        h.pump(1.0)
        for serial in serials:
            changes = h.name_changes(service_name(serial), since)
            require(len(changes) == 1, f"{serial}: the name changed owner {changes}")


@test
def two_new_adapters_on_a_fresh_store_appear_with_distinct_instances():
    serials = ("LYNX0001", "FT6014X1")
    with Harness() as h:
        h.start_bus()
        h.start_settings()
        since = h.mark()
        h.start_daemon(fixture="two-adapters.scn", config=TWO_ADAPTERS, wait=False)
        first = h.first_read_instances(serials, since)
        require(sorted(first.values()) == [990, 991],
                f"two services must not both appear as 990 (MQTT battery/990): {first}")


@test
def settings_appearing_late_move_the_service_to_its_stored_instance_by_leaving_and_returning():
    with Harness() as h:
        h.start_bus()
        since = h.mark()
        h.start_daemon(fixture="all-ok.scn", args=("--settings-timeout", "1"), wait=False)
        h.wait_for_name(h.default_service, timeout=5, proc=h.sim)
        waited = time.monotonic() - since
        require(waited >= 0.9, f"the name appeared {waited:.2f} s after the start, before the "
                "settings wait was over")
        require(h.get("/DeviceInstance") == 990, "not the default instance without settings")
        require("going on with device instance 990" in h.log_text(),
                "the log does not say that the default instance is used")
        h.wait_for("/Adapter/Connected", 1)
        h.write_settings({
            f"/Settings/Devices/{settings_id('LYNX0001')}/ClassAndVrmInstance": "battery:7"})
        moved = h.mark()
        h.start_settings()
        deadline = time.monotonic() + 5
        while len(h.name_changes(h.default_service, moved)) < 2:
            require(time.monotonic() < deadline,
                    f"name changes: {h.name_changes(h.default_service, moved)}")
            h.pump(0.01)
        left, back = h.name_changes(h.default_service, moved)[:2]
        require(left[1] == "" and back[0] == "" and back[1],
                f"expected the service to leave and come back: {left}, {back}")
        require(h.get("/DeviceInstance") == 7, "the stored instance is not published")
        # polling went on throughout
        h.wait_for("/Adapter/Connected", 1)


@test
def a_name_set_while_the_settings_service_is_away_is_written_when_it_returns():
    with started(fixture="all-ok.scn", settings=True) as h:
        prefix = f"/Settings/Devices/{settings_id('LYNX0001')}"
        require(h.set("/CustomName", dbus.String("Old", variant_level=1)) == 0, "refused")
        h.wait_for("/CustomName", "Old")
        deadline = time.monotonic() + 3
        while h.setting(f"{prefix}/CustomName") != "Old":
            require(time.monotonic() < deadline, "the first name did not reach the settings")
            h.pump(0.05)
        h.stop_settings()
        require(h.set("/CustomName", dbus.String("Galley", variant_level=1)) == 0,
                "a name set while the settings service is away was refused")
        h.wait_for("/CustomName", "Galley")
        h.start_settings()
        deadline = time.monotonic() + 5
        while h.setting(f"{prefix}/CustomName") != "Galley":
            require(time.monotonic() < deadline,
                    f"the settings hold {h.setting(prefix + '/CustomName')!r}, not the last word")
            h.pump(0.05)
        h.pump(0.5)
        require(h.get("/CustomName") == "Galley", "the stored name replaced the user's last word")


@test
def a_stored_name_too_long_is_cut_and_one_that_breaks_the_rules_is_not_published():
    with Harness() as h:
        h.start_bus()
        prefix = f"/Settings/Devices/{settings_id('LYNX0001')}"
        # "x" * 1000, and an 18-byte name an older version let through (16 characters were
        # allowed, in up to 48 bytes): both shown cut at a character boundary, at 16 bytes
        h.write_settings({f"{prefix}/Distributor/A/Fuse/0/Name": "x" * 1000,
                          f"{prefix}/Distributor/A/Fuse/1/Name": "Pump\u202e1",
                          f"{prefix}/Distributor/A/Fuse/2/Name": "Bilge",
                          f"{prefix}/Distributor/A/Fuse/3/Name": "Wechselrichter Öl"})
        h.start_settings()
        h.start_daemon(fixture="all-ok.scn")
        h.wait_for("/Distributor/A/Fuse/2/Name", "Bilge")
        h.expect({"/Distributor/A/Fuse/0/Name": "x" * 16, "/Distributor/A/Fuse/1/Name": "Fuse 2",
                  "/Distributor/A/Fuse/3/Name": "Wechselrichter "})
        log = h.log_text()
        require("Fuse/0/Name from the settings is too long (a fuse name takes at most 16 bytes)"
                in log and
                "Fuse/1/Name from the settings: contains a bidirectional override" in log,
                "the log does not say why the stored names were cut or ignored")


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
