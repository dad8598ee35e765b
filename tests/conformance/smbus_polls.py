#!/usr/bin/python3
"""python3-smbus polls 0x08-0x0B as a daemon on i2c-dev would (one receive byte each, ROUNDS
times, POLL_S apart) and checks every answer.

usage: smbus_polls.py BUS 0x08=<byte|nack|errno name> ...
"""
import errno
import sys
import time

import smbus

ROUNDS = 3
POLL_S = 0.2


def main():
    bus_number = int(sys.argv[1])
    expected = {}
    for word in sys.argv[2:]:
        addr, _, answer = word.partition("=")
        if answer != "nack" and not answer.startswith("E"):
            answer = "0x%02x" % int(answer, 16)
        expected[int(addr, 16)] = answer
    bus = smbus.SMBus(bus_number)
    failures = 0
    for poll in range(ROUNDS):
        for addr, want in sorted(expected.items()):
            try:
                got = "0x%02x" % bus.read_byte(addr)
            except OSError as e:
                got = "nack" if e.errno == errno.ENXIO else errno.errorcode[e.errno]
            if got != want:
                print("poll %d: 0x%02X answered %s, expected %s" % (poll, addr, got, want),
                      file=sys.stderr)
                failures += 1
        time.sleep(POLL_S)
    bus.close()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
