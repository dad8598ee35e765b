#!/usr/bin/python3
"""The venus suite: the daemon under lynx-sim against Victron's own localsettings and systemcalc
(../shared/venus), with velib_python doubles for a Multi, a BMV and a solar charger.

  test_venus.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Battery-monitor neutrality: for each system, systemcalc's choice of battery monitor and the
battery values the overview shows are read once settled without the Lynx service and again with
it; they must be equal. Each such test prints one JSON line "system: {...}" with both readings.
"""
import json
import os
import sys
import time

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from venus import Venus, SYSTEM_SERVICE  # noqa: E402
from harness import ini, require, run, service_name, settings_id, test  # noqa: E402

MULTI = ("com.victronenergy.vebus.ttyS3", 276, "MultiPlus-II 48/5000/70-50",
         {"/Soc": 76.0, "/ExtraBatteryCurrent": 0.0, "/Dc/0/Voltage": 52.1,
          "/Dc/0/Current": -3.2, "/Dc/0/Power": -167.0, "/State": 9, "/Mode": 3})
BMV = ("com.victronenergy.battery.ttyO1", 258, "BMV-712 Smart",
       {"/Soc": 64.5, "/Dc/0/Voltage": 51.8, "/Dc/0/Current": -5.0, "/Dc/0/Power": -259.0})
SOLAR = ("com.victronenergy.solarcharger.ttyUSB0", 278, "SmartSolar MPPT 150/35",
         {"/Dc/0/Voltage": 52.2, "/Dc/0/Current": 10.0, "/Yield/Power": 522.0, "/State": 3})
ONE_LYNX = "adapter LYNX0001\ndistributor LYNX0001 A fuses=ok,open,ok,ok\n"
TWO_LYNX = ONE_LYNX + "adapter LYNX0002\ndistributor LYNX0002 A\n"
CONFIG_PATH = "/Settings/SystemSetup/Batteries/Configuration"


def start_system(h, devices, battery_service=None):
    h.start_bus()
    h.start_settings()
    if battery_service:
        h.add_setting("/Settings/SystemSetup/BatteryService", "default")
        require(h.set_setting("/Settings/SystemSetup/BatteryService", battery_service) == 0,
                "the battery-monitor setting was refused")
    # the order of a GX's boot: localsettings, systemcalc, then the device services
    h.start_systemcalc()
    for device in devices:
        h.start_device(*device)


def neutral(system, devices, scenario=ONE_LYNX, battery_service=None):
    serials = tuple(line.split()[1] for line in scenario.splitlines()
                    if line.startswith("adapter "))
    with Venus() as h:
        start_system(h, devices, battery_service)
        without = h.settled_system()
        h.start_daemon(scenario=scenario, serials=serials)
        for serial in serials:
            h.wait_for("/Adapter/Connected", 1, service=service_name(serial))
        with_lynx = h.settled_system()
        print(f"system: {json.dumps({'system': system, 'without': without, 'with': with_lynx})}")
        wrong = {p: (without[p], with_lynx[p]) for p in without if without[p] != with_lynx[p]}
        require(not wrong, f"{system}: the Lynx service changed systemcalc's view "
                f"(path: (without, with)): {wrong}")
        # ... while it stays a battery service the GUI shows fuses for and names
        for serial in serials:
            h.expect({"/NrOfDistributors": 1, "/ProductName": "Lynx Distributor",
                      "/Connected": 0, "/Distributor/A/Status": 1},
                     service=service_name(serial))


@test
def lynx_alone_is_not_taken_as_the_battery_monitor():
    neutral("Lynx alone", [])


@test
def lynx_and_a_multi_with_soc_leave_the_multi_the_battery_monitor():
    neutral("Lynx + Multi (SoC)", [MULTI])


@test
def lynx_a_multi_and_a_solar_charger_leave_the_choice_unchanged():
    neutral("Lynx + Multi + solar charger", [MULTI, SOLAR])


@test
def lynx_and_a_bmv_leave_the_bmv_the_battery_monitor():
    neutral("Lynx + BMV", [BMV])


@test
def lynx_a_bmv_and_a_multi_leave_the_bmv_the_battery_monitor():
    neutral("Lynx + BMV + Multi", [BMV, MULTI])


@test
def two_lynx_adapters_and_a_multi_leave_the_multi_the_battery_monitor():
    neutral("two Lynx + Multi", [MULTI], scenario=TWO_LYNX)


@test
def an_explicit_battery_monitor_setting_is_unaffected():
    neutral("explicit setting (Multi) + BMV + Lynx", [BMV, MULTI],
            battery_service=f"com.victronenergy.vebus/{MULTI[1]}")


@test
def a_battery_monitor_choice_of_the_lynx_saved_by_the_old_plugin_is_set_back_to_automatic():
    # The Python plugin published /Connected = 1, so the owner could pick the Lynx (instance 990,
    # the one the daemon keeps) in Settings -> System setup -> Battery monitor.
    with Venus() as h:
        start_system(h, [MULTI], battery_service="com.victronenergy.battery/990")
        h.start_daemon(scenario=ONE_LYNX)
        h.wait_for("/Adapter/Connected", 1)
        wait_setting(h, "/Settings/SystemSetup/BatteryService", "default")
        system = h.settled_system()
        print(f"system: {json.dumps(system)}")
        require(system["/ActiveBatteryService"] == f"com.victronenergy.vebus/{MULTI[1]}",
                f"systemcalc's battery monitor is {system['/ActiveBatteryService']!r}, not the Multi")
        require(system["/Dc/Battery/Soc"] == MULTI[3]["/Soc"],
                f"the system's SoC is {system['/Dc/Battery/Soc']!r}, not the Multi's")
        require("setting it back to automatic" in h.log_text(), "the log does not say why")


def instances_systemcalc_saw(h):
    """The battery instances systemcalc's dbusmonitor read at discovery: its battery-list
    delegate registers a setting per battery service under the instance it read."""
    node = plain_node(h, CONFIG_PATH + "/com_victronenergy_battery")
    return sorted({int(k.split("/")[0]) for k in node})


def plain_node(h, path):
    try:
        v = h.bus.call_blocking("com.victronenergy.settings", path, "com.victronenergy.BusItem",
                                "GetValue", "", (), timeout=5)
    except dbus.DBusException:
        return {}
    return {str(k): x for k, x in v.items()} if isinstance(v, dbus.Dictionary) else {}


def first_instances(stored):
    """Two adapters; stored: ClassAndVrmInstance values left in the store by an earlier run."""
    with Venus() as h:
        start_system(h, [MULTI])
        for serial, value in stored.items():
            h.add_setting(f"/Settings/Devices/{settings_id(serial)}/ClassAndVrmInstance", value)
        since = h.mark()
        h.start_daemon(scenario=TWO_LYNX, wait=False)
        first = h.first_read_instances(("LYNX0001", "LYNX0002"), since)
        deadline = time.monotonic() + 10
        while len(instances_systemcalc_saw(h)) < 2:
            require(time.monotonic() < deadline,
                    f"systemcalc registered {instances_systemcalc_saw(h)} battery instances")
            h.pump(0.2)
        seen = instances_systemcalc_saw(h)
        print(f"instances: {json.dumps({'stored': stored, 'first read': first, 'systemcalc': seen})}")
        return first, seen


@test
def two_adapters_on_a_fresh_store_are_first_read_with_distinct_instances():
    first, seen = first_instances({})
    require(sorted(first.values()) == [990, 991], f"first read: {first}")
    require(seen == [990, 991], f"systemcalc took the services as instances {seen}")


@test
def a_stored_instance_is_the_one_every_consumer_reads_first():
    first, seen = first_instances({"LYNX0001": "battery:7"})
    require(first == {"LYNX0001": 7, "LYNX0002": 990}, f"first read: {first}")
    require(seen == [7, 990], f"systemcalc took the services as instances {seen}")


@test
def no_aggregate_fuse_alarm_and_each_fuse_alarm_carries_its_name():
    with Venus() as h:
        start_system(h, [])
        h.start_daemon(scenario=ONE_LYNX, config=ini(
            adapters={"LYNX0001": {"distributorAFuse1Name": "Bilge pump"}}))
        h.wait_for("/Distributor/A/Fuse/1/Alarms/Blown", 2)
        items = h.bus.call_blocking(h.default_service, "/", "com.victronenergy.BusItem",
                                    "GetItems", "", (), timeout=5)
        alarms = sorted(str(p) for p in items if "/Alarms/" in str(p)
                        and not str(p).startswith("/Distributor/"))
        require(not alarms, f"alarm paths besides the distributors': {alarms}")
        require(h.get("/Distributor/A/Fuse/1/Name") == "Bilge pump", "the fuse is not named")


@test
def names_count_characters_and_survive_localsettings_being_away():
    with Venus() as h:
        start_system(h, [])
        h.start_daemon(scenario=ONE_LYNX)
        prefix = f"/Settings/Devices/{settings_id('LYNX0001')}"
        name = "Ölbrenner Öltank Ölpumpe Ölfilt"  # 31 characters, 36 bytes
        require(h.set("/CustomName", dbus.String(name, variant_level=1)) == 0,
                "a 31-character name with accents was refused")
        wait_setting(h, prefix + "/CustomName", name)
        h.stop_settings()
        require(h.set("/CustomName", dbus.String("Galley", variant_level=1)) == 0,
                "a name set while localsettings is away was refused")
        h.start_settings()
        wait_setting(h, prefix + "/CustomName", "Galley")
        h.pump(1.0)
        require(h.get("/CustomName") == "Galley", "localsettings' stored name replaced the user's")


def wait_setting(h, path, value, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = h.setting(path)
        except dbus.DBusException as e:
            got = e.get_dbus_name()
        if got == value:
            return
        require(time.monotonic() < deadline, f"{path} is {got!r}, expected {value!r}")
        h.pump(0.1)


if __name__ == "__main__":
    sys.exit(run())
