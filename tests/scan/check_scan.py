#!/usr/bin/python3
"""Runs lynx-scan once (as lynx-sim's child, so it sees the simulated adapters) and checks what a
script relies on: the exit status, stdout exactly as expected (text line for line; --json as one
JSON object on one line, compared as data) and stderr (empty, or containing a given message).

usage: check_scan.py [--stderr TEXT] EXIT_STATUS EXPECTED_FILE|- LYNX_SCAN [ARG...]
"""
import difflib
import json
import subprocess
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def main(argv):
    stderr_text = None
    if argv[:1] == ["--stderr"]:
        stderr_text, argv = argv[1], argv[2:]
    want_status, expected_path, command = int(argv[0]), argv[1], argv[2:]
    run = subprocess.run(command, capture_output=True, text=True, timeout=30)
    print("$ " + " ".join(command))
    print(run.stdout, end="")
    if run.stderr:
        print("stderr: " + run.stderr, end="")

    if run.returncode != want_status:
        fail("exit status %d, expected %d" % (run.returncode, want_status))
    if stderr_text is None and run.stderr:
        fail("unexpected output on stderr")
    if stderr_text is not None and stderr_text not in run.stderr:
        fail("stderr does not say %r" % stderr_text)
    if expected_path == "-":
        return
    with open(expected_path, encoding="utf-8") as f:
        expected = f.read()
    if expected_path.endswith(".json"):
        lines = run.stdout.splitlines()
        if len(lines) != 1:
            fail("--json printed %d lines, expected one JSON object" % len(lines))
        if json.loads(lines[0]) != json.loads(expected):
            fail("JSON differs from %s" % expected_path)
    elif run.stdout != expected:
        diff = difflib.unified_diff(expected.splitlines(), run.stdout.splitlines(),
                                    "expected", "lynx-scan", lineterm="")
        fail("output differs from %s:\n%s" % (expected_path, "\n".join(diff)))
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
