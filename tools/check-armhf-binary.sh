#!/bin/sh
# Checks that armhf binaries will load on Venus OS (docs/armhf.md):
#   tools/check-armhf-binary.sh BINARY...
# - 32-bit ARM EABI5, hard-float, interpreter /lib/ld-linux-armhf.so.3;
# - every NEEDED library is on the allow-list (what every Venus OS image has);
# - the highest GLIBC_x.y symbol version needed is at most MAX_GLIBC (2.31: Venus OS v3.00);
# - every libusb_* function imported is one libusb 1.0.22 (Venus OS v3.00) has: the names listed in
#   LIBUSB_SYMBOLS (default cross/libusb-1.0.22.symbols).
# Prints its findings; exits 1 on any violation.
set -eu

# Allow-list. libc/ld.so: glibc itself; libpthread: glibc's too (a library of its own before
# glibc 2.34, kept as a stub by 2.34 and later, so it is on every Venus OS). libdbus-1: Venus'
# D-Bus. libusb-1.0: on every Venus image (libftdi for ftdi-control and usbutils are in
# packagegroup-venus-base and depend on it). libinih is not on Venus OS: it must be linked
# statically (cross/armhf.ini: static_inih).
ALLOWED_NEEDED=${ALLOWED_NEEDED:-"libc.so.6 ld-linux-armhf.so.3 libpthread.so.0 libdbus-1.so.3 libusb-1.0.so.0"}
# Venus OS v3.00-v3.5x are built on Yocto dunfell: glibc 2.31 (v3.60 and later: scarthgap, 2.39).
MAX_GLIBC=${MAX_GLIBC:-2.31}
# Their libusb is 1.0.22 (v3.60 and later: 1.0.27).
LIBUSB_SYMBOLS=${LIBUSB_SYMBOLS:-$(dirname "$0")/../cross/libusb-1.0.22.symbols}
[ -r "$LIBUSB_SYMBOLS" ] || { echo "$0: cannot read $LIBUSB_SYMBOLS" >&2; exit 2; }

[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
READELF=readelf
command -v readelf >/dev/null 2>&1 || READELF=arm-linux-gnueabihf-readelf

# 0 when version $1 <= $2 (x.y[.z] numbers)
version_le() {
    [ "$(printf '%s\n%s\n' "$1" "$2" | sort -t . -k 1,1n -k 2,2n -k 3,3n | head -n 1)" = "$1" ]
}

status=0
fail() {
    echo "  FAIL: $*"
    status=1
}

for binary in "$@"; do
    echo "$binary:"
    header=$($READELF -h "$binary")
    echo "$header" | grep -q 'Class: *ELF32' || fail "not a 32-bit ELF file"
    echo "$header" | grep -q 'Machine: *ARM$' || fail "not an ARM binary"
    echo "$header" | grep -q 'hard-float ABI' || fail "not the hard-float ABI (armhf)"
    interpreter=$($READELF -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    echo "  interpreter: $interpreter"
    [ "$interpreter" = /lib/ld-linux-armhf.so.3 ] || fail "interpreter is not /lib/ld-linux-armhf.so.3"

    needed=$($READELF -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    echo "  NEEDED: $(echo $needed)"
    for library in $needed; do
        case " $ALLOWED_NEEDED " in
        *" $library "*) ;;
        *) fail "$library is not on the allow-list ($ALLOWED_NEEDED)" ;;
        esac
    done

    glibc=$($READELF -V "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
        sort -t . -k 1,1n -k 2,2n -k 3,3n -u)
    highest=$(echo "$glibc" | tail -n 1)
    echo "  GLIBC versions: $(echo $glibc)"
    echo "  highest GLIBC: ${highest:-none} (allowed: <= $MAX_GLIBC)"
    if [ -n "$highest" ] && ! version_le "$highest" "$MAX_GLIBC"; then
        fail "needs GLIBC_$highest, newer than $MAX_GLIBC"
    fi
    # libusb's symbols carry no version: its functions are checked by name.
    libusb=$($READELF --dyn-syms -W "$binary" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }' |
        grep '^libusb_' | sort -u || true)
    newer=$(echo "$libusb" | grep -vxF -f "$LIBUSB_SYMBOLS" || true)
    echo "  libusb functions: $(echo "$libusb" | grep -c . || true), in $(basename "$LIBUSB_SYMBOLS"):" \
        "$(echo "$libusb" | grep -c -xF -f "$LIBUSB_SYMBOLS" || true)"
    for symbol in $newer; do
        fail "$symbol is not in $(basename "$LIBUSB_SYMBOLS") (a newer libusb than Venus OS v3.00's)"
    done
    other=$($READELF -V "$binary" | sed -n 's/.*Name: \([A-Za-z_][A-Za-z0-9_.]*\).*/\1/p' |
        grep -v '^GLIBC_' | sort -u || true)
    [ -z "$other" ] || echo "  other symbol versions: $(echo $other)"
done
[ $status = 0 ] && echo "OK: within the Venus OS allow-list"
exit $status
