#!/bin/sh
# The armhf build is linked against Debian bullseye (glibc 2.31, libusb 1.0.24, libdbus 1.12) so
# that it loads on every Venus OS since v3.00 (docs/armhf.md). This checks the two other sides:
#   tools/armhf-compat.sh BUILD_DIR      (a build directory tools/setup-armhf.sh configured)
# 1. newer libraries, as on Venus OS v3.60 and later (glibc 2.39, libusb 1.0.27, libdbus 1.14):
#    the programs load with every symbol bound (LD_BIND_NOW) under qemu-arm with the libraries of
#    the root they were built against and of a Debian bookworm root (glibc 2.36, libusb 1.0.26,
#    libdbus 1.14; tools/armhf-sysroot.sh bookworm, cached like the other), and the pure unit
#    tests run once more with bookworm's libraries (LYNX_ARMHF_LIBS, see cross/armhf.ini);
# 2. the allow-list (tools/check-armhf-binary.sh) refuses what Venus OS v3.00 cannot load: a
#    program built against bookworm (GLIBC_2.34) that calls libusb_wrap_sys_device (libusb 1.0.23).
# Exits 1 when any of it fails.
set -eu
cd "$(dirname "$0")/.."
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$1

# The root the build was configured with (setup-armhf.sh records its machine file), and bookworm's.
BUILT=$(sed -n "s/^sysroot = '\(.*\)'$/\1/p" "$(cat "$BUILD/armhf-sysroot")")
NEWER=$(dirname "$(./tools/armhf-sysroot.sh bookworm)")/root
status=0

echo "== the programs load with all symbols bound"
for root in "$BUILT" "$NEWER"; do
    for program in dbus-lynx-distributor lynx-scan; do
        [ -f "$BUILD/src/$program" ] || continue
        # qemu-arm passes its environment on: the loader binds every imported symbol at start
        # and refuses the program if a library lacks one.
        if out=$(LD_BIND_NOW=1 qemu-arm -L "$root" "$BUILD/src/$program" --version 2>&1); then
            echo "ok: $program with $(basename "$(dirname "$root")"): $out"
        else
            echo "FAIL: $program with the libraries of $root: $out"
            status=1
        fi
    done
done

echo "== the pure unit tests with bookworm's libraries"
LYNX_ARMHF_LIBS=$NEWER meson test -C "$BUILD" --suite pure --no-rebuild --print-errorlogs \
    --logbase armhf-bookworm-libs || status=1

echo "== the allow-list refuses a program built against bookworm"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
cat > "$TMP/newer.c" <<'EOF'
#include <libusb.h>
int main(int argc, char **argv)
{
    (void)argv;
    /* Never called; imported all the same. */
    return argc > 99 ? libusb_wrap_sys_device(NULL, 0, NULL) : 0;
}
EOF
arm-linux-gnueabihf-gcc --sysroot="$NEWER" -I"$NEWER/usr/include/libusb-1.0" -o "$TMP/newer" \
    "$TMP/newer.c" -lusb-1.0
if ./tools/check-armhf-binary.sh "$TMP/newer" > "$TMP/check.log"; then
    echo "FAIL: tools/check-armhf-binary.sh passed a program built against bookworm:"
    cat "$TMP/check.log"
    status=1
else
    for expected in "FAIL: needs GLIBC_2.34, newer than 2.31" \
        "FAIL: libusb_wrap_sys_device is not in libusb-1.0.22.symbols"; do
        if grep -qF "$expected" "$TMP/check.log"; then
            echo "ok: refused, $expected"
        else
            echo "FAIL: the check did not say '$expected':"
            cat "$TMP/check.log"
            status=1
        fi
    done
fi
exit $status
