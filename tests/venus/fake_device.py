#!/usr/bin/python3
"""A Venus OS device double for the venus suite: one D-Bus service published with Victron's own
velib_python (from ../shared/venus), holding fixed values, the way a Multi, a BMV or a solar
charger shows itself to systemcalc.

  fake_device.py VELIB_DIR SERVICE DEVICE_INSTANCE PRODUCT_NAME JSON_PATHS

JSON_PATHS: {"/Soc": 81.0, ...} besides the mandatory paths (/Connected is 1). Runs until SIGTERM.
"""
import json
import signal
import sys

from gi.repository import GLib


def main():
    velib, service, instance, product, paths = sys.argv[1:6]
    sys.path.insert(0, velib)
    import dbus.mainloop.glib
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    from vedbus import VeDbusService

    svc = VeDbusService(service, register=False)
    svc.add_mandatory_paths(sys.argv[0], "1.0", "test double", int(instance), 0xFFF0, product,
                            "1.0", "1.0", 1)
    for path, value in json.loads(paths).items():
        svc.add_path(path, value)
    svc.register()
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
