#!/bin/sh
# One boot of the kernel suite: tools/vm.sh with the given options runs a guest_*.py file in a QEMU
# guest (the daemon on the guest's own kernel and D-Bus, lynx-sim on the host).
#   boot.sh SOURCE_ROOT [--timing-exempt SERIAL]... VM_OPTION... -- COMMAND [ARG...]
# Skipped (77) when ../shared (busitem-check) or the guest's packages are missing; with CI=true
# that fails instead. Fails when lynx-sim reported an I2C timing violation on an adapter other
# than those exempted (the daemon's I2C must meet UM10204 through the real kernel too; a client
# nobody here wrote, such as pyftdi, may not).
set -u
TOP=$1
shift
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
missing=$("$TOP/tools/setup-debian.sh" --check vm) ||
    skip "the guest needs Debian packages ($missing): tools/setup-debian.sh vm installs them"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$TOP/tools/vm.sh" --no-build "$@" 2>"$log" || status=$?
cat "$log" >&2
if grep -vE "$exempt" "$log" | grep -q "I2C timing:"; then
    echo "FAIL: lynx-sim saw the daemon break the I2C timing (above)"
    [ "$status" = 0 ] && status=1
fi
exit $status
