#!/bin/sh
# Installs the Debian packages the build, the simulator and the tests need (bookworm or later).
# Skips apt when everything is already there; needs root (or sudo) otherwise.
set -eu
PACKAGES="meson ninja-build pkg-config gcc libc6-dev
  libusb-1.0-0-dev libdbus-1-dev libinih-dev
  libumockdev-dev umockdev libcriterion-dev
  libusbredirparser-dev libftdi1-dev python3 python3-ftdi python3-usb python3-dbus python3-gi dbus-daemon
  python3-lxml python3-psutil i2c-tools python3-smbus
  valgrind busybox clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
