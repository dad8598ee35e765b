"""The settings contract: what the daemon (src/venus/settings.c) and its tests rely on of
com.victronenergy.settings, asserted the same way against Victron's real localsettings and
against our stand-in (tests/settings_standin).

    test_settings_contract.py --list | TEST      implementation from $SETTINGS_IMPL

SETTINGS_IMPL=standin runs $LOCALSETTINGS_STANDIN; SETTINGS_IMPL=localsettings runs
../shared/venus/localsettings/localsettings.py with Debian's python3 on the private bus (skipped
when ../shared is missing, failing instead with CI=true). Each test starts one settings service
on its own private dbus-daemon (the persistence test two, one after the other).
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

import dbus  # noqa: E402

from harness import (BUSITEM, SETTINGS_SERVICE, Failure, Harness, Skip, plain,  # noqa: E402
                     require, run, shared_path, test)

SETTINGS = "com.victronenergy.Settings"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
DEV = "/Settings/Devices"
T = "/Settings/Contract"


class Settings:
    """One settings service on a private bus, with every PropertiesChanged it sent."""

    def __init__(self, h):
        self.h = h
        self.impl = os.environ.get("SETTINGS_IMPL", "standin")
        self.proc = None
        self.owner = None
        self.changes = []  # (sender, path, {key: plain value})
        h.bus.add_signal_receiver(self._on_changed, signal_name="PropertiesChanged",
                                  dbus_interface=BUSITEM, sender_keyword="sender",
                                  path_keyword="path")
        self.conf = os.path.join(h.tmp, "conf")
        os.mkdir(self.conf)

    def _on_changed(self, changes, sender=None, path=None):
        self.changes.append((str(sender), str(path), {str(k): plain(v) for k, v in changes.items()}))

    def start(self):
        h = self.h
        if self.impl == "standin":
            p = h.start_settings()
        elif self.impl == "localsettings":
            script = shared_path("venus/localsettings/localsettings.py")
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=h.address)
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            # Its own folder as cwd (it imports migrate.py and ext/velib_python); -B: shared/ is
            # read-only in CI.
            p = h._spawn("settings", ["/usr/bin/python3", "-B", "-u", script, "--path", self.conf],
                         env=env, cwd=os.path.dirname(script))
            h.wait_for_name(SETTINGS_SERVICE, timeout=20, proc=p)
        else:
            raise Failure(f"SETTINGS_IMPL={self.impl!r}: expected standin or localsettings")
        self.proc = p
        self.owner = str(h.bus.get_name_owner(SETTINGS_SERVICE))
        return p

    def stop(self):
        """SIGTERM, as daemontools stops it (localsettings saves what is pending)."""
        self.h._stop(self.proc, timeout=10)
        require(self.proc.returncode == 0, f"settings exited with {self.proc.returncode}")
        self.h.pump(0.05)

    # ---- calls ---------------------------------------------------------------------------

    def call(self, path, interface, method, signature="", args=()):
        return self.h.bus.call_blocking(SETTINGS_SERVICE, path, interface, method, signature,
                                        args, timeout=10)

    def add(self, *items, on="/"):
        """AddSettings(aa{sv}) -> one {"path", "error", "value"} dict (plain values) per item."""
        return [{str(k): plain(v) for k, v in r.items()}
                for r in self.call(on, SETTINGS, "AddSettings", "aa{sv}", (list(items),))]

    def get(self, path):
        return self.call(path, BUSITEM, "GetValue")

    def text(self, path):
        return self.call(path, BUSITEM, "GetText")

    def set(self, path, value):
        return int(self.call(path, BUSITEM, "SetValue", "v", (value,)))

    def error(self, path, method, signature="", args=(), interface=BUSITEM):
        """The D-Bus error name a call answers (fails if it is answered)."""
        try:
            self.call(path, interface, method, signature, args)
        except dbus.DBusException as e:
            return e.get_dbus_name()
        raise Failure(f"{method} on {path} was answered")

    def changed(self, path=None):
        """The PropertiesChanged received since the last call (of path, if given)."""
        self.h.pump(0.2)  # a signal is sent before the reply, but give the bus a moment
        got = [c for c in self.changes if path is None or c[1] == path]
        self.changes = [c for c in self.changes if c not in got]
        for sender, p, _ in got:
            require(sender == self.owner, f"PropertiesChanged on {p} from {sender}, not the service")
        return [c[2] for c in got]


def typed(v):
    """A D-Bus value with its type, for asserting the wire type too."""
    for t, name in ((dbus.Int32, "i"), (dbus.Int64, "x"), (dbus.Double, "d"), (dbus.String, "s")):
        if isinstance(v, t):
            return name, plain(v)
    return type(v).__name__, plain(v)


def expect_eq(got, want, what):
    require(got == want, f"{what}: got {got!r}, expected {want!r}")


def settings_test(fn):
    """A test with a bus and one started settings service, handed to fn(s)."""
    def wrapper():
        with Harness() as h:
            h.start_bus()
            s = Settings(h)
            s.start()
            fn(s)
    wrapper.__name__ = fn.__name__
    return test(wrapper)


# ---- AddSettings ---------------------------------------------------------------------------

@settings_test
def add_settings_creates_settings_with_their_defaults_types_and_ranges(s):
    r = s.add({"path": T + "/Name", "default": "Fuse 1"},
              {"path": T + "/Level", "default": dbus.Int32(5), "min": dbus.Int32(0),
               "max": dbus.Int32(10)},
              {"path": T + "/Big", "default": dbus.Int64(7)},
              {"path": T + "/Ratio", "default": 1.5, "silent": dbus.Int32(1)})
    expect_eq(r, [{"path": T + "/Name", "error": 0, "value": "Fuse 1"},
                  {"path": T + "/Level", "error": 0, "value": 5},
                  {"path": T + "/Big", "error": 0, "value": 7},
                  {"path": T + "/Ratio", "error": 0, "value": 1.5}], "AddSettings reply")
    expect_eq([typed(s.get(T + p)) for p in ("/Name", "/Level", "/Big", "/Ratio")],
              [("s", "Fuse 1"), ("i", 5), ("i", 7), ("d", 1.5)], "GetValue with types")
    expect_eq([typed(s.text(T + p)) for p in ("/Name", "/Level", "/Ratio")],
              [("s", "Fuse 1"), ("s", "5"), ("s", "1.5")], "GetText (a plain string)")
    expect_eq([typed(s.call(T + "/Level", BUSITEM, m)) for m in ("GetMin", "GetMax", "GetDefault")],
              [("i", 0), ("i", 10), ("i", 5)], "GetMin/GetMax/GetDefault of /Level")
    expect_eq([typed(s.call(T + "/Name", BUSITEM, m)) for m in ("GetMin", "GetMax")],
              [("i", 0), ("i", 0)], "GetMin/GetMax without a range (int32 0)")
    # A new setting is announced with its attributes, before the reply.
    expect_eq(s.changed(T + "/Name"), [{"Value": "Fuse 1", "Text": "Fuse 1", "Default": "Fuse 1"}],
              "PropertiesChanged of a new string setting")
    expect_eq(s.changed(T + "/Level"),
              [{"Value": 5, "Text": "5", "Default": 5, "Min": 0, "Max": 10}],
              "PropertiesChanged of a new int setting")
    expect_eq(s.changed(T + "/Big"), [{"Value": 7, "Text": "7", "Default": 7, "Min": 0, "Max": 0}],
              "PropertiesChanged of a new setting without range")
    # GetItems on "/" carries Default, and Min/Max when the setting has a range.
    items = {str(k): {str(a): plain(b) for a, b in v.items()}
             for k, v in s.call("/", BUSITEM, "GetItems").items()}
    expect_eq(items.get(T + "/Level"), {"Value": 5, "Text": "5", "Default": 5, "Min": 0, "Max": 10},
              "GetItems of /Level")
    expect_eq(items.get(T + "/Name"), {"Value": "Fuse 1", "Text": "Fuse 1", "Default": "Fuse 1"},
              "GetItems of /Name")
    expect_eq(items.get(T + "/Big"), {"Value": 7, "Text": "7", "Default": 7}, "GetItems of /Big")
    # GetValue of a group: every setting below it, keys relative.
    expect_eq(plain(s.get(T)), {"Name": "Fuse 1", "Level": 5, "Big": 7, "Ratio": 1.5},
              "GetValue of the group")


@settings_test
def add_settings_again_keeps_the_value_and_announces_changed_attributes(s):
    s.add({"path": T + "/Name", "default": "a"}, {"path": T + "/Level", "default": dbus.Int32(5)})
    require(s.set(T + "/Name", "mine") == 0, "SetValue refused")
    s.changed()
    r = s.add({"path": T + "/Name", "default": "a"}, {"path": T + "/Level", "default": dbus.Int32(5)})
    expect_eq(r, [{"path": T + "/Name", "error": 0, "value": "mine"},
                  {"path": T + "/Level", "error": 0, "value": 5}], "the same AddSettings again")
    expect_eq(s.changed(), [], "PropertiesChanged for an unchanged registration")
    r = s.add({"path": T + "/Name", "default": "b"},
              {"path": T + "/Level", "default": dbus.Int32(5), "min": dbus.Int32(1),
               "max": dbus.Int32(9)})
    expect_eq(r, [{"path": T + "/Name", "error": 0, "value": "mine"},
                  {"path": T + "/Level", "error": 0, "value": 5}], "AddSettings with new attributes")
    expect_eq(s.changed(T + "/Name"), [{"Value": "mine", "Text": "mine", "Default": "b"}],
              "PropertiesChanged of a new default")
    expect_eq(s.changed(T + "/Level"), [{"Value": 5, "Text": "5", "Default": 5, "Min": 1, "Max": 9}],
              "PropertiesChanged of a new range")


@settings_test
def add_settings_bumps_a_taken_vrm_instance_to_the_next_free_one(s):
    def cls(dev):
        return f"{DEV}/{dev}/ClassAndVrmInstance"
    r = s.add({"path": cls("a"), "default": "battery:5"}, {"path": cls("b"), "default": "battery:5"},
              {"path": cls("c"), "default": "tank:5"})
    expect_eq([x.get("value") for x in r], ["battery:5", "battery:6", "tank:5"],
              "instances of two batteries and a tank asking for 5")
    expect_eq(s.changed(cls("b")), [{"Value": "battery:6", "Text": "battery:6",
                                     "Default": "battery:5"}], "PropertiesChanged of the bump")
    expect_eq(s.add({"path": cls("a"), "default": "battery:5"})[0]["value"], "battery:5",
              "a device registering again keeps its own instance")
    # Python's int(): whitespace is allowed, and the stored value is normalised.
    expect_eq(s.add({"path": cls("d"), "default": "battery: 5 "})[0]["value"], "battery:7",
              "a default with spaces")
    # SetValue to a taken instance answers 0 and bumps (and announces even when that is the
    # value it had).
    require(s.set(cls("b"), "battery:5") == 0, "SetValue of a taken instance refused")
    expect_eq(plain(s.get(cls("b"))), "battery:6", "SetValue of a taken instance")
    expect_eq(s.changed(cls("b")), [{"Value": "battery:6", "Text": "battery:6"}],
              "PropertiesChanged of a SetValue that was bumped")
    require(s.set(cls("b"), "battery:20") == 0, "SetValue of a free instance refused")
    expect_eq(plain(s.get(cls("b"))), "battery:20", "SetValue of a free instance")
    expect_eq(s.add({"path": cls("e"), "default": "battery:5"})[0]["value"], "battery:6",
              "an instance freed by SetValue is taken again")
    expect_eq(s.set(cls("b"), "battery"), -1, "SetValue of a value without ':'")
    expect_eq(s.set(cls("b"), dbus.Int32(3)), -1, "SetValue of a number")
    # Invalid defaults: a new setting is not created (an invalid value is announced on its path);
    # an existing one is left alone and its value is in the reply.
    expect_eq(s.add({"path": cls("f"), "default": "battery"},
                    {"path": cls("g"), "default": dbus.Int32(1)}),
              [{"path": cls("f"), "error": -6}, {"path": cls("g"), "error": -6}],
              "new ClassAndVrmInstance with invalid defaults")
    expect_eq(s.error(cls("f"), "GetValue"), UNKNOWN_OBJECT, "the refused setting")
    expect_eq(s.add({"path": cls("a"), "default": "nope"}),
              [{"path": cls("a"), "error": -6, "value": "battery:5"}],
              "an existing ClassAndVrmInstance with an invalid default")
    expect_eq(plain(s.get(cls("a"))), "battery:5", "the existing setting after an invalid default")


@settings_test
def add_settings_answers_localsettings_error_codes(s):
    s.add({"path": T + "/Name", "default": "x"})
    cases = [
        ({"path": T + "/_x", "default": "x"}, -2),  # "/_" is the escape of the XML file
        ({"path": T + "/U32", "default": dbus.UInt32(1)}, -3),  # only int32/int64/double/string
        ({"path": T + "/Byte", "default": dbus.Byte(1)}, -3),
        ({"path": T + "/Bool", "default": dbus.Boolean(True)}, -3),
        ({"path": T + "/NoDefault"}, -3),
        ({"path": T + "/Name", "default": dbus.Int32(1)}, -5),  # type differs
        ({"path": T + "/Out", "default": dbus.Int32(11), "min": dbus.Int32(0),
          "max": dbus.Int32(10)}, -7),
        ({"path": "/Settings/Contract", "default": "x"}, -8),  # a group
        ({"path": "/Foo/x", "default": "x"}, -9),  # on "/", only below /Settings/
        ({"path": "Settings/Contract/Rel", "default": "x"}, -9),  # on "/", relative is not
    ]
    r = s.add(*[c[0] for c in cases])
    expect_eq([(x.get("path"), x["error"], "value" in x) for x in r],
              [(c[0]["path"], c[1], False) for c in cases], "error codes")
    expect_eq(s.add({"default": "x"}), [{"error": -4}], "an item without a path")
    # min/max are converted to the setting's type with Python's int()/float().
    r = s.add({"path": T + "/Conv", "default": dbus.Int32(5), "min": "1", "max": 9.7})
    expect_eq(r, [{"path": T + "/Conv", "error": 0, "value": 5}], "min and max of other types")
    expect_eq([plain(s.call(T + "/Conv", BUSITEM, m)) for m in ("GetMin", "GetMax")], [1, 9],
              "converted min and max")
    # On another group node the path is relative to it.
    expect_eq(s.add({"path": "Contract/Rel", "default": "r"}, on="/Settings"),
              [{"path": "Contract/Rel", "error": 0, "value": "r"}], "AddSettings on /Settings")
    expect_eq(plain(s.get(T + "/Rel")), "r", "a setting added on /Settings")


@settings_test
def add_settings_with_a_path_no_object_can_have_fails_the_whole_call(s):
    s.add({"path": T + "/Name", "default": "x"})
    for bad in (T + "/a b", T + "/Trailing/", T + "//x", T + "/Name/Below"):
        try:
            s.add({"path": T + "/Before", "default": "b"}, {"path": bad, "default": "x"},
                  {"path": T + "/After", "default": "a"})
        except dbus.DBusException:
            pass
        else:
            raise Failure(f"AddSettings with {bad!r} was answered")
        # What came before the bad path was added; what came after was not.
        expect_eq(plain(s.get(T + "/Before")), "b", f"the setting before {bad!r}")
        expect_eq(s.error(T + "/After", "GetValue"), UNKNOWN_OBJECT, f"the setting after {bad!r}")
    expect_eq(plain(s.get(T + "/Name")), "x", "the setting a bad path went below")


# ---- SetValue ------------------------------------------------------------------------------

@settings_test
def set_value_converts_the_value_like_python_and_announces_changes(s):
    s.add({"path": T + "/S", "default": "x"},
          {"path": T + "/I", "default": dbus.Int32(3), "min": dbus.Int32(-5),
           "max": dbus.Int32(10)},
          {"path": T + "/F", "default": 1.5})
    s.changed()
    cases = [  # path, value sent, answer, value then (type, value), its text
        ("/S", dbus.Int32(5), 0, ("s", "5"), "5"),  # str()
        ("/S", 7.5, 0, ("s", "7.5"), "7.5"),
        ("/S", 1e16, 0, ("s", "1e+16"), "1e+16"),
        ("/S", dbus.Boolean(True), 0, ("s", "1"), "1"),
        ("/S", "plain", 0, ("s", "plain"), "plain"),
        ("/I", 7.9, 0, ("i", 7), "7"),  # int() truncates
        ("/I", -0.5, 0, ("i", 0), "0"),
        ("/I", "5", 0, ("i", 5), "5"),
        ("/I", " 6 ", 0, ("i", 6), "6"),
        ("/I", "1_0", 0, ("i", 10), "10"),
        ("/I", dbus.UInt32(4), 0, ("i", 4), "4"),
        ("/I", dbus.Boolean(True), 0, ("i", 1), "1"),
        ("/I", "5.0", -1, ("i", 1), "1"),  # int("5.0") raises
        ("/I", "abc", -1, ("i", 1), "1"),
        ("/I", float("nan"), -1, ("i", 1), "1"),
        ("/I", dbus.Int32(11), -1, ("i", 1), "1"),  # above max
        ("/I", -5.9, 0, ("i", -5), "-5"),  # truncated, then in range
        ("/F", "2.5", 0, ("d", 2.5), "2.5"),  # float()
        ("/F", dbus.Int32(3), 0, ("d", 3.0), "3.0"),
        ("/F", "1e3", 0, ("d", 1000.0), "1000.0"),
        ("/F", "0x10", -1, ("d", 1000.0), "1000.0"),
        ("/F", 0.0001, 0, ("d", 0.0001), "0.0001"),
        ("/F", "inf", 0, ("d", math.inf), "inf"),
    ]
    wrong = []
    for path, value, answer, then, text in cases:
        before = plain(s.get(T + path))
        got = s.set(T + path, value)
        now, now_text = typed(s.get(T + path)), str(s.text(T + path))
        signals = s.changed(T + path)
        want_signals = [{"Value": then[1], "Text": text}] if answer == 0 and then[1] != before else []
        if (got, now, now_text, signals) != (answer, then, text, want_signals):
            wrong.append(f"SetValue({value!r}) on {path}: answered {got}, then {now} {now_text!r} "
                         f"with signals {signals} (expected {answer}, {then} {text!r}, "
                         f"{want_signals})")
    require(not wrong, "\n".join(wrong))
    # The same value again: 0 and no signal.
    expect_eq(s.set(T + "/F", "inf"), 0, "SetValue of the value it has")
    expect_eq(s.changed(), [], "PropertiesChanged for an unchanged value")


# ---- errors and removal --------------------------------------------------------------------

@settings_test
def missing_paths_answer_unknown_object_and_unknown_methods_unknown_method(s):
    s.add({"path": T + "/Name", "default": "x"})
    for path in (T + "/Missing", "/Settings/Nope/Name", T + "/Name/Below"):
        for method, sig, args in (("GetValue", "", ()), ("SetValue", "v", ("y",)),
                                  ("GetText", "", ())):
            expect_eq(s.error(path, method, sig, args), UNKNOWN_OBJECT, f"{method} on {path}")
    expect_eq(s.error(T + "/Name", "NoSuchMethod"), UNKNOWN_METHOD, "NoSuchMethod on a setting")
    # The groups localsettings always has answer GetValue even when empty.
    expect_eq(plain(s.get(T)), {"Name": "x"}, "GetValue of a group")
    require(isinstance(plain(s.get(DEV)), dict), "GetValue of /Settings/Devices")


@settings_test
def remove_settings_removes_and_announces_an_invalid_value(s):
    s.add({"path": T + "/A", "default": "a"}, {"path": T + "/B", "default": dbus.Int32(1)})
    s.changed()
    r = s.call("/", SETTINGS, "RemoveSettings", "as", ([T + "/A", T + "/Missing"],))
    expect_eq([int(x) for x in r], [0, -1], "RemoveSettings results")
    expect_eq(s.changed(T + "/A"), [{"Value": None, "Text": ""}], "PropertiesChanged of removal")
    expect_eq(s.error(T + "/A", "GetValue"), UNKNOWN_OBJECT, "GetValue of a removed setting")
    r = s.call("/Settings", SETTINGS, "RemoveSettings", "as", (["Contract/B"],))
    expect_eq([int(x) for x in r], [0], "RemoveSettings relative to /Settings")
    expect_eq(s.add({"path": T + "/A", "default": "new"})[0].get("value"), "new",
              "a removed setting added again starts from its default")


# ---- the service's life --------------------------------------------------------------------

@test
def values_survive_a_restart_and_the_new_owner_is_announced():
    with Harness() as h:
        h.start_bus()
        s = Settings(h)
        s.start()
        first = s.owner
        cls = DEV + "/dbus_lynx_distributor_X/ClassAndVrmInstance"
        s.add({"path": cls, "default": "battery:990"}, {"path": T + "/Name", "default": ""})
        require(s.set(cls, "battery:7") == 0 and s.set(T + "/Name", "kept") == 0, "SetValue")
        start = h.mark()
        s.stop()
        s.start()
        owners = [x.values[SETTINGS_SERVICE] for x in h.signals
                  if x.member == "NameOwnerChanged" and x.time >= start
                  and SETTINGS_SERVICE in x.values]
        expect_eq(owners, [(first, ""), ("", s.owner)], "NameOwnerChanged of the restart")
        r = s.add({"path": cls, "default": "battery:990"}, {"path": T + "/Name", "default": ""})
        expect_eq([x.get("value") for x in r], ["battery:7", "kept"],
                  "AddSettings after a restart (SIGTERM)")


if __name__ == "__main__":
    sys.exit(run())
