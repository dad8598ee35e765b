#!/bin/sh
# Soak test: the real daemon against the simulator for POLLS polls (default 200000) at 1 ms
# (test_poll_interval_ms), with corrupt reads, NACK flaps and fuse changes thrown at it; checks
# memory (VmRSS growth after warm-up), that every fuse change was published and cleared, and that
# nothing else raised an alarm. Prints polls/s and the RSS figures. tests/scenario/soak.py has
# the details; meson's suite 'soak' runs a short version.
#   tools/soak.sh [POLLS] [--seed N] [--rss-growth-kib N]
#   tools/soak.sh --minutes M [--asan] [--seed N]
# --minutes M: heavy faults for M minutes instead (USB stalls and timeouts, unplugs, control
# faults, a stuck bus, corrupt reads...; soak.py heavy_soak): the daemon must recover from each
# with its poll loop running. --asan: lynx-sim and the daemon built with ASan + UBSan (build
# directory build-soak-asan unless SOAK_BUILD says otherwise); any sanitizer report fails.
# CI's nightly-length option (LYNX_NIGHTLY=1 .ci/run) runs `--asan --minutes 5`.
# SOAK_BUILD (default build) is the build directory, configured if needed.
set -eu
cd "$(dirname "$0")/.."
POLLS=200000 MINUTES="" ASAN="" EXTRA=""
while [ $# -gt 0 ]; do
    case $1 in
    --asan) ASAN=1 ;;
    --minutes) MINUTES=$2; shift ;;
    --seed | --rss-growth-kib) EXTRA="$EXTRA $1 $2"; shift ;;
    [0-9]*) POLLS=$1 ;;
    *) echo "usage: tools/soak.sh [POLLS | --minutes M] [--asan] [--seed N]" \
            "[--rss-growth-kib N]" >&2
       exit 2 ;;
    esac
    shift
done
if [ -n "$ASAN" ]; then
    BUILD=${SOAK_BUILD:-build-soak-asan}
    [ -f "$BUILD/build.ninja" ] || meson setup -Db_sanitize=address,undefined "$BUILD" >/dev/null
    # umockdev's preload comes before the ASan runtime in lynx-sim's child; a report ends the run
    export ASAN_OPTIONS=verify_asan_link_order=0:halt_on_error=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
else
    BUILD=${SOAK_BUILD:-build}
    [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" sim/lynx-sim sim/lynx-simctl src/dbus-lynx-distributor >/dev/null
export LYNX_SIM="$BUILD/sim/lynx-sim" LYNX_SIMCTL="$BUILD/sim/lynx-simctl"
export LYNX_DAEMON="$BUILD/src/dbus-lynx-distributor"
export BUSITEM_CHECK="$(pwd)/../shared/tools/busitem-check" PYTHONDONTWRITEBYTECODE=1
export SCENARIO_FIXTURES="$(pwd)/fixtures/scenarios" LOCALSETTINGS_STANDIN=""
if [ -n "$MINUTES" ]; then
    exec /usr/bin/python3 tests/scenario/soak.py --minutes "$MINUTES" $EXTRA
fi
exec /usr/bin/python3 tests/scenario/soak.py --polls "$POLLS" $EXTRA
