#!/bin/sh
# Builds everything and runs the whole test suite; the last line is "N passed, N failed".
#   tools/test.sh [BUILD_DIR] [extra meson test arguments...]
# MESON_SETUP_ARGS (e.g. "-Db_sanitize=address,undefined") configures a new BUILD_DIR.
set -eu
cd "$(dirname "$0")/.."
# base, and vm for the vm and kernel suites (QEMU; tools/demo.sh installs only base)
"./tools/setup-debian.sh" base vm
BUILD=${1:-build}
[ $# -gt 0 ] && shift
[ -f "$BUILD/build.ninja" ] || meson setup ${MESON_SETUP_ARGS:-} "$BUILD" >/dev/null
ninja -C "$BUILD"
status=0
meson test -C "$BUILD" --print-errorlogs "$@" || status=$?
/usr/bin/python3 tools/meson-totals.py "$BUILD/meson-logs/testlog.json"
exit $status
