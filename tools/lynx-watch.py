#!/usr/bin/python3
"""lynx-watch: shows the Lynx Distributors of a battery service live, as a table a person reads
at a glance. Reads the service the way Victron's GUI does (GetItems once, then ItemsChanged).

  lynx-watch.py [--address ADDR] [--seconds N] SERVICE

ADDR defaults to $DBUS_SYSTEM_BUS_ADDRESS. On a terminal the table is redrawn in place; otherwise
a new table is printed at every change. --seconds ends the watch (for scripts and CI).
"""
import argparse
import os
import sys
import time

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DIST_STATUS = {0: "not available", 1: "connected", 2: "NO BUS POWER", 3: "COMMS LOST"}
FUSE_STATUS = {0: "n/a", 1: "not used", 2: "ok", 3: "BLOWN"}


def plain(v):
    if isinstance(v, dbus.Array) and len(v) == 0:
        return None
    if isinstance(v, dbus.String):
        return str(v)
    if isinstance(v, (dbus.Int32, dbus.Int64, dbus.UInt32, dbus.Byte)):
        return int(v)
    return v


class Watch:
    def __init__(self, bus, service, tty):
        self.service, self.tty = service, tty
        root = bus.get_object(service, "/", introspect=False)
        self.values = {str(p): plain(d["Value"]) for p, d in root.GetItems(dbus_interface="com.victronenergy.BusItem").items()}
        bus.add_signal_receiver(self.changed, "ItemsChanged", "com.victronenergy.BusItem", service, "/")
        self.started = time.monotonic()
        self.draw()

    def changed(self, items):
        for p, d in items.items():
            if "Value" in d:
                self.values[str(p)] = plain(d["Value"])
        self.draw()

    def draw(self):
        v = self.values
        name = v.get("/CustomName") or v.get("/ProductName")
        lines = [f"{name}  serial {v.get('/Serial')}  instance {v.get('/DeviceInstance')}  "
                 f"adapter {'connected' if v.get('/Adapter/Connected') == 1 else 'NOT CONNECTED'}  "
                 f"fuse alarms {sum(1 for p, x in v.items() if p.endswith('/Alarms/Blown') and x == 2)}",
                 f"{'':4}{'distributor':16}" + "".join(f"{'fuse ' + str(n + 1):18}" for n in range(4))]
        for letter in "ABCD":
            status = v.get(f"/Distributor/{letter}/Status")
            if not status:
                continue
            row = f"{letter:4}{DIST_STATUS.get(status, status):16}"
            for n in range(4):
                base = f"/Distributor/{letter}/Fuse/{n}"
                cell = f"{FUSE_STATUS.get(v.get(base + '/Status'), '?')} ({v.get(base + '/Name')})"
                row += f"{cell:18}"
            if v.get(f"/Distributor/{letter}/Alarms/ConnectionLost") == 2:
                row += "  connection-lost alarm"
            lines.append(row)
        stamp = f"[{time.monotonic() - self.started:6.1f} s]"
        if self.tty:
            sys.stdout.write("\x1b[H\x1b[2J" + stamp + " " + self.service + "\n" + "\n".join(lines) + "\n\nCtrl-C ends the demo.\n")
        else:
            print(stamp, "\n".join(lines), sep="\n", end="\n\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("service")
    ap.add_argument("--address", default=os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"))
    ap.add_argument("--seconds", type=float, default=0)
    a = ap.parse_args()
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(a.address) if a.address else dbus.SystemBus()
    deadline = time.monotonic() + 10
    while not bus.name_has_owner(a.service):
        if time.monotonic() > deadline:
            sys.exit(f"lynx-watch: {a.service} did not appear on the bus")
        time.sleep(0.05)
    Watch(bus, a.service, sys.stdout.isatty())
    loop = GLib.MainLoop()
    if a.seconds:
        GLib.timeout_add(int(a.seconds * 1000), loop.quit)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
