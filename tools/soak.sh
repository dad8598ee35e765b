#!/bin/sh
# Soak test: the real daemon against the simulator for POLLS polls (default 200000) at 1 ms
# (test_poll_interval_ms), with corrupt reads, NACK flaps and fuse changes thrown at it; checks
# memory (VmRSS growth after warm-up), that every fuse change was published and cleared, and that
# nothing else raised an alarm. Prints polls/s and the RSS figures. tests/scenario/soak.py has
# the details; meson's suite 'soak' runs a short version.
#   tools/soak.sh [POLLS] [--seed N] [--rss-growth-kib N]
# SOAK_BUILD (default build) is the build directory, configured if needed.
set -eu
cd "$(dirname "$0")/.."
POLLS=${1:-200000}
[ $# -gt 0 ] && shift
BUILD=${SOAK_BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" sim/lynx-sim sim/lynx-simctl src/dbus-lynx-distributor >/dev/null
export LYNX_SIM="$BUILD/sim/lynx-sim" LYNX_SIMCTL="$BUILD/sim/lynx-simctl"
export LYNX_DAEMON="$BUILD/src/dbus-lynx-distributor"
export BUSITEM_CHECK="$(pwd)/../shared/tools/busitem-check" PYTHONDONTWRITEBYTECODE=1
export SCENARIO_FIXTURES="$(pwd)/fixtures/scenarios" LOCALSETTINGS_STANDIN=""
exec /usr/bin/python3 tests/scenario/soak.py --polls "$POLLS" "$@"
