#!/bin/sh
# One boot of the kernel suite: tools/vm.sh with the given options runs a guest_*.py file in a QEMU
# guest (the daemon on the guest's own kernel and D-Bus, lynx-sim on the host).
#   boot.sh SOURCE_ROOT BUILD_ROOT [--armhf] [--timing-exempt SERIAL]... VM_OPTION... -- COMMAND [ARG...]
# --armhf: the nightly's run (LYNX_NIGHTLY=1; skipped otherwise) in an armhf guest, with the
# daemon and lynx-simctl of the armhf release build (LYNX_ARMHF_BUILD, default
# build-armhf-release, as tools/release.sh makes it; built there when missing).
# Skipped (77) when ../shared (busitem-check) or the guest's packages are missing; with CI=true
# that fails instead. Fails when lynx-sim reported an I2C timing violation on an adapter other
# than those exempted (the daemon's I2C must meet UM10204 through the real kernel too; a client
# nobody here wrote, such as pyftdi, may not).
set -u
TOP=$1
BUILD=$2
shift 2
arch=""
if [ "${1:-}" = --armhf ]; then
    shift
    if [ "${LYNX_NIGHTLY:-}" != 1 ]; then
        echo "SKIP: the armhf guest runs in the nightly only (LYNX_NIGHTLY=1)"
        exit 77
    fi
    arch="--arch armhf"
fi
exempt="^$"
while [ "${1:-}" = --timing-exempt ]; do
    exempt="$exempt|^lynx-sim: $2: I2C timing:"
    shift 2
done
skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $*; CI=true, so this fails instead of skipping"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
[ -e "$TOP/../shared/tools/busitem-check" ] || skip "../shared/tools/busitem-check is missing"
lists=vm
[ -n "$arch" ] && lists="vm vm-armhf"
# shellcheck disable=SC2086 # the lists are words
missing=$("$TOP/tools/setup-debian.sh" --check $lists) ||
    skip "the guest needs Debian packages ($missing): tools/setup-debian.sh $lists installs them"
if [ -n "$arch" ]; then
    armhf=${LYNX_ARMHF_BUILD:-$TOP/build-armhf-release}
    { [ -f "$armhf/build.ninja" ] || "$TOP/tools/setup-armhf.sh" "$armhf" --buildtype=release; } &&
        ninja -C "$armhf" src/dbus-lynx-distributor sim/lynx-simctl >/dev/null ||
        { echo "FAIL: no armhf build of the daemon and lynx-simctl in $armhf"; exit 1; }
    LYNX_DAEMON=$armhf/src/dbus-lynx-distributor
    LYNX_SIMCTL=$armhf/sim/lynx-simctl
    export LYNX_DAEMON LYNX_SIMCTL
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# shellcheck disable=SC2086 # empty or two words
"$TOP/tools/vm.sh" --no-build --build "$BUILD" $arch "$@" 2>"$log" || status=$?
cat "$log" >&2
if grep -vE "$exempt" "$log" | grep -q "I2C timing:"; then
    echo "FAIL: lynx-sim saw the daemon break the I2C timing (above)"
    [ "$status" = 0 ] && status=1
fi
exit $status
