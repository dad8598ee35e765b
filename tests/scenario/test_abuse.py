#!/usr/bin/python3
"""D-Bus abuse tests: the real daemon under lynx-sim takes malformed, hostile and heavy traffic on
its BusItem service and stays correct.

  test_abuse.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Every call must be answered, with an error or with the right value; afterwards the service must
be unharmed: busitem-check passes, every value is what it was, and the daemon still polls (a fuse
that blows still shows). Invalid UTF-8 is sent as raw wire bytes from a hand-made connection,
because python-dbus (like every libdbus client) refuses to marshal it.
"""
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import Gio, GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (BUSITEM, Failure, Harness, POLL_INTERVAL_MS, plain, require, run, test)  # noqa: E402

POLL_S = POLL_INTERVAL_MS / 1000.0
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
NOT_WRITEABLE, REJECTED = 1, 2
FUSE_BLOWN = 3
LETTERS = "ABCD"
# What the GUI may write; every other path is read-only.
WRITEABLE = ["/CustomName"] + [f"/Distributor/{d}/Fuse/{n}/Name" for d in LETTERS
                               for n in range(4)]
SCENARIO = "adapter LYNX0001\ndistributor LYNX0001 A\ndistributor LYNX0001 B fuses=ok,open,ok,ok\n"

def started():
    h = harness.started(scenario=SCENARIO)
    try:
        h.wait_for("/Distributor/B/Fuse/1/Status", FUSE_BLOWN)
    except BaseException:
        h.__exit__(*sys.exc_info())
        raise
    return h


def wrong_types():
    """Values of every D-Bus type except a string, as SetValue arguments (variant_level=1)."""
    v = {"variant_level": 1}
    return [
        dbus.Boolean(True, **v), dbus.Byte(65, **v), dbus.Int16(-1, **v), dbus.UInt16(7, **v),
        dbus.Int32(5, **v), dbus.UInt32(2**32 - 1, **v), dbus.Int64(-2**63, **v),
        dbus.UInt64(2**64 - 1, **v), dbus.Double(1.5, **v), dbus.Double(float("nan"), **v),
        dbus.Double(float("inf"), **v), dbus.ObjectPath("/CustomName", **v),
        dbus.Signature("s", **v), dbus.Array(["a", "b"], signature="s", **v),
        dbus.Array([1], signature="i", **v), dbus.Array([], signature="i", **v),
        dbus.Array([], signature="s", **v), dbus.ByteArray(b"\xff\xfe invalid UTF-8", **v),
        dbus.Struct((1, "x"), signature="is", **v),
        dbus.Dictionary({"Value": dbus.String("x", variant_level=1)}, signature="sv", **v),
        dbus.Int32(5, variant_level=2),
    ]


def is_counter(path):
    """Diagnostic counters (a snapshot now and then) are not part of the state to compare."""
    return path.startswith("/Diagnostics/")


def dump(h):
    return {p: v for p, v in h.dump().items() if not is_counter(p)}


def assert_unharmed(h, before, also_polling=True):
    """busitem-check passes, every value is as before, and the daemon still polls."""
    require(h.sim.poll() is None, f"the daemon exited with {h.sim.returncode}")
    r = h.busitem_check(h.default_service)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    require(r.returncode == 0 and last.endswith(" 0 failed"),
            f"busitem-check exit {r.returncode}:\n{r.stdout}{r.stderr}")
    after = dump(h)
    changed = {p: (before.get(p), after.get(p)) for p in set(before) | set(after)
               if before.get(p) != after.get(p)}
    require(not changed, f"values changed: {changed}")
    if also_polling:
        h.simctl("fuse", "LYNX0001", "A", "3", "open")
        h.wait_for("/Distributor/A/Fuse/2/Status", FUSE_BLOWN, timeout=3)
        h.wait_for("/Distributor/A/Fuse/2/Alarms/Blown", 2, timeout=1)
        h.simctl("fuse", "LYNX0001", "A", "3", "ok")
        h.wait_for("/Distributor/A/Fuse/2/Alarms/Blown", 0, timeout=3)


def expect_unknown_method(h, path, method, signature="", args=(), interface=BUSITEM):
    try:
        h.bus.call_blocking(h.default_service, path, interface, method, signature, args,
                            timeout=3)
    except dbus.DBusException as e:
        require(e.get_dbus_name() == UNKNOWN_METHOD,
                f"{interface}.{method}({signature}) on {path}: {e.get_dbus_name()}")
    else:
        raise Failure(f"{interface}.{method}({signature}) on {path} was answered")


# ---- a hand-made D-Bus connection for bytes libdbus clients refuse to send ------------------

class RawConnection:
    """A D-Bus client on a bare socket: SASL EXTERNAL, Hello, then whatever bytes we write."""

    def __init__(self, address):
        path = dict(kv.split("=", 1) for kv in address.split(":", 1)[1].split(","))["path"]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(3)
        self.sock.connect(path)
        uid = str(os.getuid()).encode().hex().encode()
        self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        require(self._line().startswith(b"OK "), "the bus refused our authentication")
        self.sock.sendall(b"BEGIN\r\n")
        self.buf = b""
        self.serial = 0
        hello = Gio.DBusMessage.new_method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                "org.freedesktop.DBus", "Hello")
        self.reply(self.send(hello))

    def _line(self):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            require(chunk, "the bus closed the connection during authentication")
            data += chunk
        return data

    def blob(self, msg):
        self.serial += 1
        msg.set_serial(self.serial)
        return self.serial, bytearray(msg.to_blob(Gio.DBusCapabilityFlags.NONE))

    def send(self, msg, patch=None):
        """Sends msg; patch(bytearray) may rewrite the bytes (keeping their length)."""
        serial, data = self.blob(msg)
        if patch:
            patch(data)
        self.sock.sendall(bytes(data))
        return serial

    def reply(self, serial):
        """The reply (or error) to serial as a Gio.DBusMessage, or None when the bus closed the
        connection instead."""
        while True:
            while len(self.buf) >= 16:
                need = Gio.DBusMessage.bytes_needed(self.buf[:16])
                if len(self.buf) < need:
                    break
                msg = Gio.DBusMessage.new_from_blob(self.buf[:need],
                                                    Gio.DBusCapabilityFlags.NONE)
                self.buf = self.buf[need:]
                if msg.get_reply_serial() == serial:
                    return msg
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk

    def close(self):
        self.sock.close()


def set_value_message(service, path, text):
    msg = Gio.DBusMessage.new_method_call(service, path, BUSITEM, "SetValue")
    msg.set_body(GLib.Variant("(v)", (GLib.Variant("s", text),)))
    return msg


# ---- the tests ------------------------------------------------------------------------------

@test(alone=True)
def exactly_the_name_paths_are_writeable_and_every_wrong_type_on_them_is_refused():
    with started() as h:
        before = dump(h)
        # Writing back the current value is accepted exactly where writing is allowed.
        writeable = sorted(p for p, v in before.items()
                           if isinstance(v, str) and h.set(p, dbus.String(v, variant_level=1)) == 0)
        require(writeable == sorted(WRITEABLE), f"writeable paths: {writeable}")
        since = h.mark()
        for path in WRITEABLE:
            for value in wrong_types():
                rc = h.set(path, value)
                require(rc in (NOT_WRITEABLE, REJECTED),
                        f"SetValue({value!r}) on {path} answered {rc}")
        require(not h.items_changed(since), "a refused SetValue sent ItemsChanged")
        # Read-only paths refuse every type, strings included.
        for path in sorted(set(before) - set(WRITEABLE)):
            for value in wrong_types()[::4] + [dbus.String("x", variant_level=1)]:
                require(h.set(path, value) == NOT_WRITEABLE, f"SetValue on {path} not refused")
        # Wrong argument lists are not SetValue calls at all.
        for sig, args in (("", ()), ("s", ("x",)), ("vv", ("x", "y")), ("i", (1,))):
            expect_unknown_method(h, "/CustomName", "SetValue", sig, args)
        assert_unharmed(h, before)


@test(alone=True)
def oversized_and_invalid_utf8_names_are_refused_and_change_nothing():
    with started() as h:
        before = dump(h)
        path = "/Distributor/A/Fuse/0/Name"
        for p, limit in ((path, 16), ("/CustomName", 32)):
            for size in (limit + 1, 4096, 1 << 20):
                rc = h.set(p, dbus.String("N" * size, variant_level=1))
                require(rc == REJECTED, f"a {size}-byte name on {p} answered {rc}")
            rc = h.set(p, dbus.String("\u00e9" * limit + "x", variant_level=1))
            require(rc == REJECTED, f"{limit} characters and one more on {p}: {rc}")
        # Invalid UTF-8 as bytes reaches the daemon (as "ay") and is refused as the wrong type.
        for raw in (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"Fuse\x00one"):
            rc = h.set(path, dbus.ByteArray(raw, variant_level=1))
            require(rc == NOT_WRITEABLE, f"SetValue of bytes {raw!r} answered {rc}")

        # Invalid UTF-8 inside a string, on the wire. First prove the raw client reaches the
        # daemon with a valid string of the same length...
        raw = RawConnection(h.address)
        try:
            ok = raw.reply(raw.send(set_value_message(h.default_service, path, "RAW-ok")))
            require(ok is not None and ok.get_message_type() == Gio.DBusMessageType.METHOD_RETURN
                    and ok.get_body().unpack() == (0,), f"the raw SetValue was answered {ok}")
            h.wait_for(path, "RAW-ok")

            def make_invalid(data):
                at = data.index(b"BADUTF")
                data[at:at + 6] = b"\xff\xfe\xc0\x80\xed\xa0"

            serial = raw.send(set_value_message(h.default_service, path, "BADUTF"), make_invalid)
            answer = raw.reply(serial)
        finally:
            raw.close()
        print(f"invalid UTF-8 on the wire: {'connection closed by the bus' if answer is None else answer.get_error_name()}")
        # ...then the bus (libdbus validates on receipt) drops the sender or answers an error;
        # nothing reaches the daemon and nothing changes.
        require(answer is None or answer.get_message_type() == Gio.DBusMessageType.ERROR,
                f"invalid UTF-8 was answered {answer}")
        h.wait_for(path, "RAW-ok")
        require(h.set(path, dbus.String(before[path], variant_level=1)) == 0, "restoring failed")

        # Oversized paths and member names are answered with errors.
        expect_unknown_method(h, "/Distributor/A" + "/x" * 30000, "GetValue")
        expect_unknown_method(h, "/CustomName", "M" * 255)
        assert_unharmed(h, before)


@test(alone=True)
def unknown_paths_methods_and_interfaces_answer_unknown_method_and_nodes_answer_get_value():
    with started() as h:
        before = dump(h)
        for path in ("/NoSuch", "/Distributor/E/Status", "/Distributor/A/Fuse/4/Name",
                     "/CustomName/Below", "/Distributor/A/Fuse/0/Name/x", "/Distributo",
                     "/Distributor/A/Fuse/0/Nam"):
            for method in ("GetValue", "GetText", "Introspect"):
                iface = BUSITEM if method != "Introspect" else "org.freedesktop.DBus.Introspectable"
                expect_unknown_method(h, path, method, interface=iface)
            expect_unknown_method(h, path, "SetValue", "v", (dbus.String("x", variant_level=1),))
        for path in ("/CustomName", "/Distributor/A/Status", "/Distributor", "/"):
            expect_unknown_method(h, path, "NoSuchMethod")
            expect_unknown_method(h, path, "GetValue", interface="org.example.Nope")
            expect_unknown_method(h, path, "Get", "ss", (BUSITEM, "Value"),
                                  interface="org.freedesktop.DBus.Properties")
            expect_unknown_method(h, path, "GetValue", "i", (1,))
        for node in ("/Distributor", "/Distributor/A", "/Mgmt", "/"):
            expect_unknown_method(h, node, "SetValue", "v", (dbus.String("x", variant_level=1),))
        for node in ("/Distributor", "/Distributor/A"):
            expect_unknown_method(h, node, "GetItems")
        # GetValue and GetText on nodes: the leaves below, keyed relative to the node.
        for node in ("/", "/Distributor", "/Distributor/B", "/Distributor/B/Fuse/1", "/Mgmt"):
            prefix = "" if node == "/" else node
            want = {p[len(prefix) + 1:]: v for p, v in before.items()
                    if p.startswith(prefix + "/")}
            got = {k: v for k, v in plain(h.call(node, "GetValue")).items()
                   if not is_counter(f"{prefix}/{k}")}
            require(got == want, f"GetValue on {node}: {got} (expected {want})")
            texts = [str(k) for k in h.call(node, "GetText") if not is_counter(f"{prefix}/{k}")]
            require(sorted(texts) == sorted(want),
                    f"GetText on {node} has keys {sorted(texts)}")
        assert_unharmed(h, before)


BURST_CLIENTS = 4
BURST_CALLS = 1500  # per client
BURST_WINDOW = 64  # calls in flight per client


def burst_client(address, service, index, calls, expected_json):
    """One client of the burst (a process of its own): `calls` calls with BURST_WINDOW in
    flight, each answer checked; prints a JSON summary."""
    expected = json.loads(expected_json)
    loop = GLib.MainLoop()
    bus = dbus.bus.BusConnection(address, mainloop=dbus.mainloop.glib.DBusGMainLoop())
    own = f"/Distributor/{LETTERS[index % 4]}/Fuse/{index // 4 % 4}/Name"
    rng = random.Random(index)
    paths = sorted(p for p in expected if p not in WRITEABLE)
    state = {"sent": 0, "answered": 0, "wrong": [], "in_flight": 0, "name": expected[own]}

    def check(ok, what):
        state["answered"] += 1
        state["in_flight"] -= 1
        if not ok and len(state["wrong"]) < 10:
            state["wrong"].append(what)
        pump()

    def call(path, method, sig, args, verify, interface=BUSITEM):
        state["sent"] += 1
        state["in_flight"] += 1
        bus.call_async(service, path, interface, method, sig, args,
                       lambda *r: check(verify(r), f"{method} {path} -> {r!r}"),
                       lambda e: check(verify(e), f"{method} {path} -> {e.get_dbus_name()}"),
                       timeout=30)

    def is_unknown(r):
        return isinstance(r, dbus.DBusException) and r.get_dbus_name() == UNKNOWN_METHOD

    def one():
        kind = rng.randrange(8)
        path = rng.choice(paths)
        if kind <= 2:
            call(path, "GetValue", "", (), lambda r: not isinstance(r, Exception)
                 and plain(r[0]) == expected[path])
        elif kind == 3:
            call(path, "GetText", "", (), lambda r: not isinstance(r, Exception)
                 and isinstance(r[0], str))
        elif kind == 4:
            call(path, "SetValue", "v", (dbus.Int32(1, variant_level=1),),
                 lambda r: not isinstance(r, Exception) and r[0] == NOT_WRITEABLE)
        elif kind == 5:
            # The client's own name path: sequential writes from one client are ordered.
            name = f"c{index}-{state['sent']}"[:16]
            call(own, "SetValue", "v", (dbus.String(name, variant_level=1),),
                 lambda r: not isinstance(r, Exception) and r[0] == 0)
            call(own, "GetValue", "", (), lambda r: not isinstance(r, Exception)
                 and str(r[0]) == name)
        elif kind == 6:
            call(path, "NoSuchMethod", "", (), is_unknown)
        else:
            call("/", "GetItems", "", (), lambda r: not isinstance(r, Exception)
                 and plain(r[0][path]["Value"]) == expected[path])

    def pump():
        while state["in_flight"] < BURST_WINDOW and state["sent"] < calls:
            one()
        if state["answered"] >= state["sent"] >= calls and state["in_flight"] <= 0:
            loop.quit()

    GLib.timeout_add_seconds(50, loop.quit)
    GLib.idle_add(lambda: pump() and False)
    loop.run()
    # Put the name back as it was.
    restored = bus.call_blocking(service, own, BUSITEM, "SetValue", "v",
                                 (dbus.String(state["name"], variant_level=1),), timeout=5)
    print(json.dumps({"sent": state["sent"], "answered": state["answered"],
                      "wrong": state["wrong"], "restored": int(restored)}))
    return 0


@test(alone=True)
def a_burst_of_thousands_of_concurrent_calls_is_answered_right_and_leaves_the_service_unharmed():
    with started() as h:
        before = dump(h)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        start = time.monotonic()
        clients = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--burst-client",
                                     h.address, h.default_service, str(i), str(BURST_CALLS),
                                     json.dumps(before)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env)
                   for i in range(BURST_CLIENTS)]
        results = []
        for c in clients:
            h.pids.add(c.pid)
            out, err = c.communicate(timeout=55)
            require(c.returncode == 0 and out.strip(), f"burst client failed: {err}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        seconds = time.monotonic() - start
        total = sum(r["answered"] for r in results)
        for r in results:
            require(r["sent"] >= BURST_CALLS and r["answered"] == r["sent"],
                    f"a client had {r['sent']} calls sent, {r['answered']} answered")
            require(not r["wrong"], f"wrong answers: {r['wrong']}")
            require(r["restored"] == 0, "restoring a name was refused")
        print(f"burst: {total} calls from {BURST_CLIENTS} clients in {seconds:.1f} s "
              f"({total / seconds:.0f} calls/s)")
        assert_unharmed(h, before)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--burst-client":
        sys.exit(burst_client(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                              sys.argv[6]))
    sys.exit(run())
