#!/usr/bin/python3
"""lynx-scan --watch against four-mixed.scn while lynx-simctl changes the hardware: the initial
scan is printed first (the table, or one JSON object), then exactly one line per changed
distributor (a table row after the time and serial, or one JSON object) within a few polls, one
for the adapter when it is unplugged and when it answers again, nothing for polls that change
nothing, and SIGTERM ends it with the status of the last state.

usage: watch_scan.py EXPECTED_INITIAL LYNX_SCAN [ARG...]   (JSON lines when ARGs hold --json)
"""
import json
import re
import os
import select
import signal
import subprocess
import sys
import time

INTERVAL_MS = 200
TIMEOUT_S = 5.0


def fail(message, proc=None):
    print("FAIL: " + message)
    if proc:
        proc.kill()
    sys.exit(1)


class Lines:
    """Lines of the child's stdout as they arrive (own buffer: select() cannot see Python's)."""

    def __init__(self, proc):
        self.fd = proc.stdout.fileno()
        self.pending = b""

    def next(self, timeout=TIMEOUT_S):
        """The next line, or None when none comes within timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        line = line.decode() + "\n"
        print("| " + line, end="")
        return line


def simctl(*words):
    subprocess.run(["lynx-simctl"] + list(words), check=True, timeout=10)


FUSES_NA = ["n/a"] * 4


def row(letter, raw, status, fuses):
    """A table row as lynx-scan prints it (no trailing blanks)."""
    address = "0x%02X" % (0x08 + "ABCD".index(letter))
    cells = "".join("%-10s" % f for f in fuses[:3]) + fuses[3]
    return "%-6s%-6s%-6s%-15s%s" % (letter, address, raw, status, cells)


def text_line(pattern):
    return lambda line: re.fullmatch(r"\d\d:\d\d:\d\d LYNX0001 " + pattern + "\n", line)


def text_row(*args):
    return text_line(re.escape(row(*args)))


def json_line(check):
    def matches(line):
        got = json.loads(line)
        return (got.get("serial") == "LYNX0001" and re.fullmatch(r"\d\d:\d\d:\d\d", got["time"])
                and check(got))
    return matches


def json_row(letter, raw, status, fuses):
    words = {"ok": "ok", "blown": "blown", "n/a": "not_available"}
    want = {"distributor": letter, "address": 0x08 + "ABCD".index(letter),
            "answered": raw != "--", "raw": None if raw == "--" else int(raw, 16),
            "status": status.replace(" ", "_"),
            "fuses": [{"fuse": n + 1, "status": words[f]} for n, f in enumerate(fuses)]}
    return json_line(lambda got: set(got) == {"time", "serial", "change"} and got["change"] == want)


def steps(as_json):
    """(lynx-simctl action, what must follow: one matcher per line) in order."""
    on_row = json_row if as_json else text_row
    gone = (json_line(lambda got: set(got) == {"time", "serial", "error"} and got["error"])
            if as_json else text_line("error: .+"))
    back = (json_line(lambda got: set(got) == {"time", "serial", "error"} and got["error"] is None)
            if as_json else text_line("answering again"))
    lost = [on_row(d, "--", "comms lost", FUSES_NA) for d in "ABCD"]
    return [
        (("fuse", "LYNX0001", "A", "3", "open"),
         [on_row("A", "0x40", "connected", ["ok", "ok", "blown", "ok"])]),
        (("supply", "LYNX0001", "C", "on"), [on_row("C", "0x00", "connected", ["ok"] * 4)]),
        (("unplug", "LYNX0001"), [gone] + lost),
        (("plug", "LYNX0001"),
         [back, on_row("A", "0x40", "connected", ["ok", "ok", "blown", "ok"]),
          on_row("B", "0x20", "connected", ["ok", "blown", "ok", "ok"]),
          on_row("C", "0x00", "connected", ["ok"] * 4),
          on_row("D", "0x00", "connected", ["ok"] * 4)]),
    ]


def main(argv):
    expected_path, command = argv[0], argv[1:] + ["--watch", "--interval", str(INTERVAL_MS)]
    as_json = "--json" in command
    with open(expected_path, encoding="utf-8") as f:
        expected = f.read()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    lines = Lines(proc)

    if as_json:
        first = lines.next()
        if first is None or json.loads(first) != json.loads(expected):
            fail("the first JSON line is not the scan of %s" % expected_path, proc)
    else:
        got = "".join(lines.next() or "" for _ in expected.splitlines())
        if got != expected:
            fail("the initial table differs from %s" % expected_path, proc)
    if lines.next(timeout=4 * INTERVAL_MS / 1000) is not None:
        fail("a line was printed although nothing changed", proc)

    for action, expected_lines in steps(as_json):
        started = time.monotonic()
        simctl(*action)
        for matches in expected_lines:
            line = lines.next()
            if line is None:
                fail("a change line missing %.0f s after %s" % (TIMEOUT_S, " ".join(action)), proc)
            if not matches(line):
                fail("unexpected change line after %s" % " ".join(action), proc)
        print("changes seen %.2f s after %s" % (time.monotonic() - started, " ".join(action)))
        if lines.next(timeout=3 * INTERVAL_MS / 1000) is not None:
            fail("more lines than changes after %s" % " ".join(action), proc)

    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fail("SIGTERM did not end lynx-scan --watch", proc)
    if status != 0:
        fail("exit status %d after SIGTERM, expected 0 (distributors answering)" % status)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
