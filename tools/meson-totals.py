#!/usr/bin/python3
"""Prints meson's totals of a test run as one line: `[PREFIX: ]N passed, N failed`.

  meson-totals.py BUILD_DIR/meson-logs/testlog.json [PREFIX]

Expected failures and skips count as passed (they are what the test asked for)."""
import json
import sys

passed = failed = 0
with open(sys.argv[1]) as log:
    for line in log:
        if json.loads(line)["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
            passed += 1
        else:
            failed += 1
prefix = f"{sys.argv[2]}: " if len(sys.argv) > 2 else ""
print(f"{prefix}{passed} passed, {failed} failed")
