#!/bin/sh
# Installs the Debian packages the build, the simulator and the tests need (bookworm or later).
#   tools/setup-debian.sh [--check] [LIST...]
# LIST: base (the default: build, simulator, tests) and/or vm (what tools/vm.sh needs to boot a
# guest: QEMU, kmod, cpio, udev; installed only by tools/vm.sh and tools/test.sh, so that e.g.
# tools/demo.sh does not pull QEMU), vm-armhf (tools/vm.sh --arch armhf: QEMU for ARM, mmdebstrap
# for the armhf root). --check installs nothing: it names what is missing and exits
# 1 if anything is. Skips apt when everything is already there; needs root (or sudo) otherwise.
set -eu
BASE="meson ninja-build pkg-config gcc libc6-dev
  libusb-1.0-0-dev libdbus-1-dev libinih-dev
  libumockdev-dev umockdev libcriterion-dev
  libusbredirparser-dev libftdi1-dev python3 python3-ftdi python3-usb python3-dbus python3-gi dbus-daemon
  python3-lxml python3-psutil i2c-tools python3-smbus
  valgrind busybox clang libclang-rt-14-dev"
# The kernel itself is not installed: tools/vm/kernel.sh fetches its package with apt-get download
# (and busybox-static's binary, when the dynamic busybox above is installed: the two conflict).
VM="qemu-system-x86 kmod cpio udev xz-utils zstd"
VM_ARMHF="qemu-system-arm mmdebstrap"

check=0
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
[ $# -gt 0 ] || set -- base
PACKAGES=""
for list in "$@"; do
    case $list in
    base) PACKAGES="$PACKAGES $BASE" ;;
    vm) PACKAGES="$PACKAGES $VM" ;;
    vm-armhf) PACKAGES="$PACKAGES $VM_ARMHF" ;;
    *)
        echo "setup-debian.sh: unknown list $list (base, vm, vm-armhf)" >&2
        exit 2
        ;;
    esac
done

# One dpkg-query for all (this runs before every tools/vm.sh).
# shellcheck disable=SC2086 # the list is words
INSTALLED=" $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' $PACKAGES busybox-static 2>/dev/null |
    sed -n 's/^installed //p' | tr '\n' ' ')"
missing=""
for p in $PACKAGES; do
    case $INSTALLED in *" $p "*) continue ;; esac
    # busybox-static is a busybox too (the two packages conflict: either will do).
    case $p$INSTALLED in busybox*" busybox-static "*) continue ;; esac
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ $check = 1 ]; then
    echo "missing:$missing"
    exit 1
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
