#!/usr/bin/python3
"""Conformance: pyftdi's I2cController (Debian python3-ftdi, code nobody here wrote) scans the
Lynx addresses on a simulated adapter and must read exactly what the scenario declares.

  pyftdi_scan.py VID:PID[:SERIAL] EXPECT...    EXPECT = 0x08=0x20 (status byte) or 0x09=nack

Run under lynx-sim. Prints one line per address; exits 1 on the first mismatch.
"""
import sys

from pyftdi.ftdi import Ftdi
from pyftdi.i2c import I2cController, I2cNackError

LYNX_ADDRESSES = range(0x08, 0x0C)


def parse_expectations(words):
    expected = {}
    for word in words:
        addr, _, value = word.partition("=")
        expected[int(addr, 0)] = None if value == "nack" else int(value, 0)
    return expected


def main():
    vid, pid, *serial = sys.argv[1].split(":", 2)
    vid, pid = int(vid, 16), int(pid, 16)
    device = f"0x{vid:04x}:0x{pid:04x}" + "".join(f":{s}" for s in serial)
    expected = parse_expectations(sys.argv[2:])
    if pid not in (0x6014, 0x6010, 0x6011):  # pyftdi knows the stock FT232H/FT2232H/FT4232H
        Ftdi.add_custom_product(vid, pid, "lynx")
    i2c = I2cController()
    i2c.configure(f"ftdi://{device}/1", frequency=100000)
    failures = 0
    for addr in LYNX_ADDRESSES:
        try:
            got = i2c.get_port(addr).read(1)[0]
            shown = f"0x{got:02X}"
        except I2cNackError:
            got, shown = None, "nack"
        want = expected.get(addr)
        ok = got == want
        failures += not ok
        print(f"0x{addr:02X}: {shown}" + ("" if ok else f"  MISMATCH, expected {want}"))
    i2c.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
