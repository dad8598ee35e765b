#!/usr/bin/python3
"""Conformance of the i2c-dev front end with clients nobody here wrote: i2c-tools (i2cdetect,
i2cget, i2ctransfer) and python3-smbus, run unmodified against /dev/i2c-N under lynx-sim.

usage: i2c_tools.py [--smbus-only] [--nack-errno NAME] [--faults] BUS NAME 0x08=<byte|nack> ...

Each address 0x08-0x0B must answer as given (its status byte, or no ACK), whatever the client and
the kind of transfer; every other address is empty. The simulator's counters (lynx-simctl stats)
must show exactly the requests each client made. --faults then plays the bus and adapter faults
(nack-address, stuck-sda, usb-error, usb-timeout, unplug, unplug-mid-transfer) through the
control channel and checks the errno each client sees.
"""
import argparse
import errno
import fcntl
import json
import os
import subprocess
import sys

import smbus

I2C_SLAVE = 0x0703
LYNX = [0x08, 0x09, 0x0A, 0x0B]
# i2cdetect's default range: one SMBus probe per address (a quick write, or a read byte for
# 0x30-0x37 and 0x50-0x5F and with -r)
DETECT = range(0x08, 0x78)

failures = []
os.environ["PATH"] += ":/usr/sbin:/sbin"  # where Debian puts i2c-tools


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def simctl(*words):
    r = run("lynx-simctl", *words)
    if r.returncode != 0:
        sys.exit("lynx-simctl %s: %s%s" % (" ".join(words), r.stdout, r.stderr))
    return r.stdout


def stats(name):
    for adapter in json.loads(simctl("stats"))["adapters"]:
        if adapter["serial"] == name:
            return adapter
    sys.exit("no adapter %s in the stats" % name)


def delta(before, after):
    return {k: after[k] - before[k] for k in after if isinstance(after[k], int)
            and not isinstance(after[k], bool)}


def expect_counts(d, want, what):
    for key, value in want.items():
        check(d.get(key) == value, "%s: %s went up by %s, expected %s" % (what, key, d.get(key),
                                                                          value))


def detect_grid(out):
    """i2cdetect's grid -> {address: cell}."""
    cells = {}
    for line in out.splitlines()[1:]:
        row, _, rest = line.partition(":")
        base = int(row, 16)
        for i in range(16):
            cell = rest[1 + 3 * i:3 + 3 * i]
            if cell.strip():
                cells[base + i] = cell
    return cells


def check_i2cdetect(args, expected, extra):
    before = stats(args.name)
    r = run("i2cdetect", "-y", *extra, str(args.bus))
    what = "i2cdetect -y %s%s" % (" ".join(extra) + " " if extra else "", args.bus)
    check(r.returncode == 0, "%s exits %d: %s" % (what, r.returncode, r.stderr))
    grid = detect_grid(r.stdout)
    for addr in DETECT:
        want = "%02x" % addr if expected.get(addr, "nack") != "nack" else "--"
        check(grid.get(addr) == want, "%s: 0x%02X shows %r, expected %r" % (what, addr,
                                                                           grid.get(addr), want))
    acked = sum(1 for a in LYNX if expected[a] != "nack")
    n = len(DETECT)
    expect_counts(delta(before, stats(args.name)),
                  {"ioctl_funcs": 1, "ioctl_slave": n, "ioctl_smbus": n, "ioctl_rdwr": 0,
                   "i2c_transactions": n, "i2c_messages": n, "i2c_nacks": n - acked,
                   "i2c_bus_errors": 0}, what)


def check_i2cget(args, addr, want, data_address=None):
    before = stats(args.name)
    argv = ["i2cget", "-y", str(args.bus), "0x%02x" % addr]
    if data_address is not None:
        argv.append("0x%02x" % data_address)
    r = run(*argv)
    what = " ".join(argv)
    if want == "nack":
        check(r.returncode != 0 and "Read failed" in r.stderr,
              "%s: expected 'Read failed', got %d %r" % (what, r.returncode, r.stdout + r.stderr))
    else:
        check(r.returncode == 0 and r.stdout.strip() == "0x%02x" % want,
              "%s: expected 0x%02x, got %d %r" % (what, want, r.returncode, r.stdout + r.stderr))
    # a receive byte is one message; a read byte data writes the data address first
    acked = want != "nack"
    messages = 1 if data_address is None or not acked else 2
    expect_counts(delta(before, stats(args.name)),
                  {"ioctl_funcs": 1, "ioctl_slave": 1, "ioctl_smbus": 1, "i2c_transactions": 1,
                   "i2c_messages": messages, "i2c_nacks": 0 if acked else 1}, what)


def check_i2ctransfer(args, addr, want):
    before = stats(args.name)
    argv = ["i2ctransfer", "-y", str(args.bus), "r1@0x%02x" % addr]
    r = run(*argv)
    what = " ".join(argv)
    if args.smbus_only:
        check(r.returncode != 0 and "I2C transfers" in r.stderr,
              "%s on an SMBus-only adapter: %d %r" % (what, r.returncode, r.stderr))
        return
    if want == "nack":
        check(r.returncode != 0 and os.strerror(args.nack_errno) in r.stderr,
              "%s: expected '%s', got %d %r" % (what, os.strerror(args.nack_errno),
                                                 r.returncode, r.stdout + r.stderr))
    else:
        check(r.returncode == 0 and r.stdout.strip() == "0x%02x" % want,
              "%s: expected 0x%02x, got %d %r" % (what, want, r.returncode, r.stdout + r.stderr))
    expect_counts(delta(before, stats(args.name)),
                  {"ioctl_rdwr": 1, "i2c_transactions": 1, "i2c_messages": 1}, what)


def smbus_read(args, addr):
    """The status byte, or the errno of the OSError python3-smbus raised."""
    bus = smbus.SMBus(args.bus)
    try:
        return bus.read_byte(addr)
    except OSError as e:
        return errno.errorcode.get(e.errno, e.errno)
    finally:
        bus.close()


def check_writes_are_ignored(args, expected):
    """A Lynx acknowledges writes and ignores them (lynx-distributor.md: nothing needs to be
    written; the original code's address-only probe was acknowledged)."""
    addr = next(a for a in LYNX if expected[a] != "nack")
    bus = smbus.SMBus(args.bus)
    bus.write_quick(addr)
    bus.write_byte_data(addr, 0x12, 0x34)
    bus.close()
    if not args.smbus_only:
        r = run("i2ctransfer", "-y", str(args.bus), "w2@0x%02x" % addr, "0xff", "0x00")
        check(r.returncode == 0, "a two-byte write to 0x%02X: %r" % (addr, r.stderr))
    check(smbus_read(args, addr) == expected[addr], "a write changed what 0x%02X reads" % addr)


def os_error(call):
    try:
        call()
    except OSError as e:
        return errno.errorcode.get(e.errno, e.errno)
    return None


def check_faults(args, expected):
    nack = errno.errorcode[args.nack_errno]
    name = args.name
    a = next(x for x in LYNX if expected[x] != "nack")
    letter = "ABCD"[a - 0x08]
    # a distributor that does not acknowledge its address
    simctl("nack-address", name, letter, "on")
    check(smbus_read(args, a) == nack, "nack-address: python3-smbus saw %r" % smbus_read(args, a))
    check_i2cget(args, a, "nack")
    simctl("nack-address", name, letter, "off")
    # a stuck SDA: no START can be made (arbitration lost) until the distributor lets go
    before = stats(name)
    simctl("stuck-sda", name, letter)
    check(smbus_read(args, a) == "EAGAIN", "stuck-sda: python3-smbus saw %r" % smbus_read(args, a))
    r = run("i2cget", "-y", str(args.bus), "0x%02x" % a)
    check(r.returncode != 0, "i2cget on a stuck bus succeeded: %r" % r.stdout)
    r = run("i2cdetect", "-y", str(args.bus))
    check(all(c == "--" for c in detect_grid(r.stdout).values()),
          "i2cdetect on a stuck bus found something:\n" + r.stdout)
    d = delta(before, stats(name))
    # the only START is the fault's own: SDA pulled low while SCL is high
    check(d["i2c_bus_errors"] == 2 + 1 + len(DETECT) and d["i2c_starts"] == 1,
          "stuck-sda: bus errors +%d, starts +%d" % (d["i2c_bus_errors"], d["i2c_starts"]))
    simctl("power", name, letter, "off")
    simctl("power", name, letter, "on")
    check(smbus_read(args, a) == expected[a], "the bus did not recover after a power cycle")
    # adapter faults: what a USB-I2C bridge's driver reports
    simctl("usb-error", name, "count=2")
    check(smbus_read(args, a) == "EPIPE", "usb-error: first read")
    check(smbus_read(args, a) == "EPIPE", "usb-error: second read")
    check(smbus_read(args, a) == expected[a], "usb-error count=2 lasted longer")
    simctl("usb-timeout", name)
    check(smbus_read(args, a) == "ETIMEDOUT", "usb-timeout")
    # unplug: a file opened before fails with ENODEV, also after the adapter is back
    fd = os.open("/dev/i2c-%d" % args.bus, os.O_RDWR)
    fcntl.ioctl(fd, I2C_SLAVE, a)
    simctl("unplug", name)
    check(not os.path.exists("/dev/i2c-%d" % args.bus), "the node is still there after unplug")
    check(os_error(lambda: os.read(fd, 1)) == "ENODEV", "read after unplug")
    check(os_error(lambda: fcntl.ioctl(fd, I2C_SLAVE, a)) == "ENODEV", "ioctl after unplug")
    simctl("plug", name)
    check(os_error(lambda: os.read(fd, 1)) == "ENODEV", "old file after plug")
    os.close(fd)
    check(smbus_read(args, a) == expected[a], "a new file after plug")
    bus = smbus.SMBus(args.bus)
    simctl("unplug-mid-transfer", name)
    check(os_error(lambda: bus.read_byte(a)) == "ENODEV", "unplug-mid-transfer")
    check(os_error(lambda: bus.read_byte(a)) == "ENODEV", "after unplug-mid-transfer")
    bus.close()
    simctl("plug", name)
    check(smbus_read(args, a) == expected[a], "after unplug-mid-transfer and plug")
    r = run("lynx-simctl", "latency", name, "5")
    check(r.returncode == 1 and "no i2c-dev equivalent" in r.stdout + r.stderr,
          "latency on an i2c adapter: %r" % (r.stdout + r.stderr))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smbus-only", action="store_true")
    p.add_argument("--nack-errno", default="ENXIO")
    p.add_argument("--faults", action="store_true")
    p.add_argument("bus", type=int)
    p.add_argument("name")
    p.add_argument("expected", nargs=4)
    args = p.parse_args()
    args.nack_errno = getattr(errno, args.nack_errno)
    expected = {}
    for word in args.expected:
        addr, _, answer = word.partition("=")
        expected[int(addr, 16)] = answer if answer == "nack" else int(answer, 16)

    adapter = stats(args.name)
    check(adapter["transport"] == "i2c" and adapter["bus"] == args.bus,
          "stats: %s is not i2c adapter %d" % (args.name, args.bus))
    with open("/sys/class/i2c-dev/i2c-%d/name" % args.bus) as f:
        check(args.name in f.read(), "sysfs name of i2c-%d" % args.bus)

    check_i2cdetect(args, expected, [])
    check_i2cdetect(args, expected, ["-r"])
    for a in LYNX:
        check_i2cget(args, a, expected[a])
        check_i2cget(args, a, expected[a], data_address=0x00)
        check_i2ctransfer(args, a, expected[a])
        got = smbus_read(args, a)
        want = errno.errorcode[args.nack_errno] if expected[a] == "nack" else expected[a]
        check(got == want, "python3-smbus read_byte(0x%02X): %r, expected %r" % (a, got, want))
    check_writes_are_ignored(args, expected)
    after = stats(args.name)
    check(all(v == 0 for v in after["timing_violations"].values()),
          "timing violations: %s" % after["timing_violations"])
    check(after["i2c_timing_aborts"] == 0, "strict timing dropped a transaction")
    if args.faults:
        check_faults(args, expected)
    if failures:
        sys.exit("%d failures" % len(failures))
    print("ok: %s (/dev/i2c-%d) answers %s" % (args.name, args.bus, " ".join(args.expected)))


if __name__ == "__main__":
    main()
