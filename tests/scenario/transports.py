"""The transport under test (LYNX_TRANSPORT: ftdi or i2c) and what it changes: the names of an
adapter and its service, and scenarios, traces and configs rewritten for it (see harness.py,
"Transports"). Imported through harness."""
import os

SERVICE_PREFIX = "com.victronenergy.battery.dbus_lynx_distributor_"

TRANSPORT = os.environ.get("LYNX_TRANSPORT", "ftdi")
TRANSPORTS = ("ftdi", "i2c")
FTDI_ONLY = ("ftdi",)
# scenario options of an FTDI adapter that an i2c-dev adapter has too
I2C_ADAPTER_OPTIONS = ("plugged", "i2c", "strict-timing")

_i2c_buses = {}


def i2c_bus(serial):
    """The bus number an adapter of the scenario gets under LYNX_TRANSPORT=i2c."""
    return _i2c_buses.setdefault(serial, len(_i2c_buses) + 1)


def adapter_name(serial):
    """The adapter's name in the daemon's logs and traces."""
    return f"i2c-{i2c_bus(serial)}" if TRANSPORT == "i2c" else serial


def service_name(serial):
    if TRANSPORT == "i2c":
        return SERVICE_PREFIX + f"i2c{i2c_bus(serial)}"
    return SERVICE_PREFIX + "".join(c if c.isascii() and c.isalnum() else "_" for c in serial)


def _rewrite_adapters(text, rewrite):
    """Each `adapter` line of a scenario or trace through rewrite(words, line) -> (serial,
    line); returns (text, the serials in order)."""
    out, serials = [], []
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] == "adapter":
            serial, line = rewrite(words, line)
            serials.append(serial)
        out.append(line)
    return "\n".join(out) + "\n", serials


def scenario_for_transport(text):
    """A scenario's adapters on the transport under test; returns (text, serials declared)."""
    def rewrite(words, line):
        if TRANSPORT == "i2c":
            keep = [w for w in words[2:] if w.split("=")[0] in I2C_ADAPTER_OPTIONS]
            line = " ".join(["i2c-adapter", words[1], f"bus={i2c_bus(words[1])}", *keep])
        return words[1], line
    return _rewrite_adapters(text, rewrite)


def trace_for_transport(text):
    """A trace's adapters on the transport under test (its `adapter` lines); returns (text,
    serials declared)."""
    def rewrite(words, line):
        buses = [int(w[4:]) for w in words if w.startswith("bus=")]
        if buses:  # recorded on i2c-dev already: the serial that has this bus
            serial = next((k for k, b in _i2c_buses.items() if b == buses[0]), words[1])
            _i2c_buses.setdefault(serial, buses[0])
            return serial, line
        if TRANSPORT == "i2c":
            line = f"adapter {words[1]} transport=i2c bus={i2c_bus(words[1])}"
        return words[1], line
    return _rewrite_adapters(text, rewrite)


def adapter_identity(serial, chip="FT232H"):
    """What the service publishes about its adapter: /Serial, /Mgmt/Connection and
    /HardwareVersion (under i2c, lynx-sim names its adapter "lynx-sim <name>")."""
    if TRANSPORT == "i2c":
        return {"/Serial": adapter_name(serial),
                "/Mgmt/Connection": f"I2C bus i2c-{i2c_bus(serial)}",
                "/HardwareVersion": f"lynx-sim {serial}"}
    return {"/Serial": serial, "/Mgmt/Connection": f"USB {chip} I2C",
            "/HardwareVersion": f"{chip} I2C"}


def config_for_transport(text, serials):
    """The config with the adapters' sections for the transport under test."""
    if TRANSPORT != "i2c":
        return text
    lines, named = [], set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[ftdi:") and stripped.endswith("]"):
            serial = stripped[len("[ftdi:"):-1].strip()
            named.add(serial)
            line = f"[i2c:{i2c_bus(serial)}]"
        lines.append(line)
    for serial in serials:
        if serial not in named:
            lines += ["", f"[i2c:{i2c_bus(serial)}]"]
    return "\n".join(lines) + "\n"


def settings_id(serial):
    return service_name(serial)[len("com.victronenergy.battery."):]
