#!/usr/bin/python3
"""Conformance: the exact AN_255 byte sequences of ft232h-mpsse.md, sent over raw USB with pyusb
(Debian python3-usb), give the expected ACK bits and status bytes from a simulated adapter.

  an255_raw.py [--stuck-sda SERIAL] VID:PID EXPECT...
                                   EXPECT = 0x08=0x20 (status byte) or 0x09=nack

Run under lynx-sim. Also checks the bad-command echo (FA <op>) and the 32 60 packet framing.
With --stuck-sda, first makes distributor A of SERIAL hold SDA low (lynx-simctl, the control
channel) and checks the bus recovery: SDA reads low on the pins after 8 SCL pulses and high
after the 9th, and a STOP then leaves the bus idle for the scan.
"""
import subprocess
import sys
import time

import usb.core
import usb.util

OUT_REQ, IN_REQ = 0x40, 0xC0
INIT = bytes.fromhex("8A 97 8C 9E 07 00 85") + bytes.fromhex("86 C8 00")
IDLE = bytes.fromhex("80 FF FB 82 FF 40")
START = bytes.fromhex("80 FD FB") * 4 + bytes.fromhex("80 FC FB") * 4
STOP = bytes.fromhex("80 FC FB") * 4 + bytes.fromhex("80 FD FB") * 4 + bytes.fromhex("80 FF FB") * 4
READ_NACK = bytes.fromhex("20 00 00 13 00 FF 80 FE FB 87")
SCL_LOW_SDA_FREE = bytes.fromhex("80 FE FB")
SCL_HIGH_SDA_FREE = bytes.fromhex("80 FF FB")
READ_PINS = bytes.fromhex("81 87")
PIN_SCL, PIN_SDA_IN = 0x01, 0x04


def address_ack(addr):
    return bytes.fromhex("11 00 00") + bytes([addr << 1 | 1]) + bytes.fromhex("80 FE FB 22 00 87")


class Adapter:
    def __init__(self, vid, pid):
        self.dev = usb.core.find(idVendor=vid, idProduct=pid)
        if self.dev is None:
            sys.exit(f"no adapter {vid:04x}:{pid:04x}")
        self.dev.set_configuration()
        ctrl = self.dev.ctrl_transfer
        ctrl(OUT_REQ, 0x00, 0, 1)        # reset
        ctrl(OUT_REQ, 0x00, 1, 1)        # purge host-to-chip
        ctrl(OUT_REQ, 0x00, 2, 1)        # purge chip-to-host
        ctrl(OUT_REQ, 0x09, 16, 1)       # latency timer 16 ms
        assert ctrl(IN_REQ, 0x0A, 0, 1, 1)[0] == 16, "latency timer read back"
        ctrl(OUT_REQ, 0x0B, 0x0000, 1)   # bitmode reset
        ctrl(OUT_REQ, 0x0B, 0x0200, 1)   # MPSSE

    def write(self, data):
        assert self.dev.write(0x02, data, 1000) == len(data)

    def read(self, n, timeout=1.0):
        """n payload bytes; every 512-byte packet must start with the status bytes 32 60."""
        payload = bytearray()
        deadline = time.monotonic() + timeout
        while len(payload) < n and time.monotonic() < deadline:
            chunk = bytes(self.dev.read(0x81, 512, 1000))
            assert chunk[:2] == b"\x32\x60", f"status bytes {chunk[:2].hex()}"
            payload += chunk[2:]
        assert len(payload) == n, f"wanted {n} bytes, got {payload.hex()}"
        return bytes(payload)


def sda_high(ad):
    ad.write(READ_PINS)
    return bool(ad.read(1)[0] & PIN_SDA_IN)


def recover_stuck_sda(ad, serial):
    """Returns the number of failed checks."""
    subprocess.run(["lynx-simctl", "stuck-sda", serial, "A"], check=True)
    checks = [("SDA held low by the stuck slave", not sda_high(ad))]
    ad.write(SCL_LOW_SDA_FREE)
    for _ in range(8):
        ad.write(SCL_HIGH_SDA_FREE + SCL_LOW_SDA_FREE)
    checks.append(("SDA still low after 8 SCL pulses", not sda_high(ad)))
    ad.write(SCL_HIGH_SDA_FREE + SCL_LOW_SDA_FREE)
    checks.append(("SDA released after the 9th pulse", sda_high(ad)))
    ad.write(STOP)
    ad.write(READ_PINS)
    pins = ad.read(1)[0]
    checks.append(("bus idle after the STOP", pins & (PIN_SCL | PIN_SDA_IN) == PIN_SCL | PIN_SDA_IN))
    for what, ok in checks:
        print(f"{what}: {'ok' if ok else 'FAILED'}")
    return sum(not ok for _, ok in checks)


def main():
    args = sys.argv[1:]
    stuck_serial = None
    if args[:1] == ["--stuck-sda"]:
        stuck_serial, args = args[1], args[2:]
    vid, pid = (int(x, 16) for x in args[0].split(":"))
    expected = {}
    for word in args[1:]:
        addr, _, value = word.partition("=")
        expected[int(addr, 0)] = None if value == "nack" else int(value, 0)

    ad = Adapter(vid, pid)
    ad.write(bytes.fromhex("AB 87"))                # bad command: echoed as FA AB
    assert ad.read(2) == b"\xFA\xAB", "bad-command echo"
    ad.write(INIT + IDLE)
    failures = recover_stuck_sda(ad, stuck_serial) if stuck_serial else 0
    for addr in range(0x08, 0x0C):
        ad.write(START + address_ack(addr))
        acked = (ad.read(1)[0] & 0x01) == 0
        got = None
        if acked:
            ad.write(READ_NACK)
            got = ad.read(1)[0]
        ad.write(STOP)
        shown = "nack" if got is None else f"0x{got:02X}"
        ok = got == expected.get(addr)
        failures += not ok
        print(f"0x{addr:02X}: {shown}" + ("" if ok else f"  MISMATCH, expected {expected.get(addr)}"))
    usb.util.dispose_resources(ad.dev)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
