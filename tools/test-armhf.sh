#!/bin/sh
# Cross-builds for armhf (cross/armhf.ini, against Debian bullseye: glibc 2.31 as Venus OS v3.00)
# and runs the pure unit tests under qemu-arm, built against the Criterion shim (tests/shim), plus
# the install test; then checks the binaries against the Venus OS allow-list, and runs the
# programs and the pure tests once more with bookworm's newer libraries (tools/armhf-compat.sh).
# Last line "N passed, N failed" (the run with the build's own libraries).
#   tools/test-armhf.sh [BUILD_DIR] [extra meson test arguments...]
# Not run on armhf (they need the build machine's umockdev preload or a dbus-daemon): the
# daemon's ftdi/vedbus/settings tests, sim/usb_bridge, sim/scenario, and the conformance,
# scenario and scan suites (list and reasons: tests/shim/meson.build).
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build-armhf}
[ $# -gt 0 ] && shift
./tools/setup-armhf.sh "$BUILD"
ninja -C "$BUILD"
status=0
meson test -C "$BUILD" --print-errorlogs "$@" || status=$?
binaries="$BUILD/src/dbus-lynx-distributor"
[ -f "$BUILD/src/lynx-scan" ] && binaries="$binaries $BUILD/src/lynx-scan"
./tools/check-armhf-binary.sh $binaries || status=1
NEWER_LOG=$BUILD/meson-logs/armhf-bookworm-libs.json
rm -f "$NEWER_LOG"
./tools/armhf-compat.sh "$BUILD" || status=1
[ ! -f "$NEWER_LOG" ] ||
    /usr/bin/python3 tools/meson-totals.py "$NEWER_LOG" "armhf, pure tests with bookworm's libraries"
/usr/bin/python3 tools/meson-totals.py "$BUILD/meson-logs/testlog.json" armhf
exit $status
