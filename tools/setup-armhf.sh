#!/bin/sh
# Prepares the armhf cross build (cross/armhf.ini) on Debian bookworm: installs the build
# machine's tools, makes the armhf sysroot (tools/armhf-sysroot.sh) and, given a build directory,
# configures it there:
#   tools/setup-armhf.sh [BUILD_DIR [meson setup options...]]
# Every package installed here is an amd64 one (no dpkg --add-architecture), so nothing depends on
# the host's installed library versions. Skips apt when everything is there; needs root (or sudo)
# otherwise. Fails, naming what is missing, when something cannot be had: CI must not skip armhf.
set -eu
cd "$(dirname "$0")/.."

# gcc-arm-linux-gnueabihf: Debian's cross compiler, its own armhf runtime (libgcc) inside, no
# multiarch; qemu-user: runs the armhf tests; mmdebstrap: makes the sysroot; busybox: the install
# test's Venus-like shell.
PACKAGES="gcc-arm-linux-gnueabihf binutils-arm-linux-gnueabihf qemu-user mmdebstrap
  meson ninja-build pkg-config busybox"
# Waits before each apt attempt (bounded): a mirror mid-sync or a registry hiccup gets a second chance.
WAITS="0 20 60"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
missing() {
    for p in $PACKAGES; do
        # busybox-static is a busybox too (the two conflict: installing one removes the other).
        [ "$p" = busybox ] && installed busybox-static && continue
        installed "$p" || printf ' %s' "$p"
    done
}

for wait in $WAITS end; do
    todo=$(missing)
    [ -n "$todo" ] || break
    if [ "$wait" = end ]; then
        echo "FAILED: apt could not install the armhf build's tools:$todo" >&2
        exit 1
    fi
    sleep "$wait"
    echo "Installing:$todo"
    # A mirror in the middle of a sync can fail one index; what the others have is enough to try.
    $SUDO apt-get update -q || echo "apt-get update reported errors; trying with the indexes it has"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $todo ||
        echo "apt-get install failed"
done

# Left behind by the multiarch set-up this one replaced; gcc searches its /usr/arm-linux-gnueabihf
# before the sysroot.
if installed libc6-dev-armhf-cross; then
    echo "note: libc6-dev-armhf-cross is installed: gcc takes glibc's headers and libc.so from" \
        "/usr/arm-linux-gnueabihf, not the sysroot; remove it to build from the sysroot only" >&2
fi

CROSS=$(./tools/armhf-sysroot.sh)
[ $# -gt 0 ] || exit 0
BUILD=$1
shift
# meson cannot change a build directory's cross files: one configured against another sysroot
# (the package list changed) or before the sysroot existed (multiarch) is made afresh.
if [ -d "$BUILD/meson-private" ] && [ "$(cat "$BUILD/armhf-sysroot" 2>/dev/null)" != "$CROSS" ]; then
    rm -rf "$BUILD"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup --cross-file "$CROSS" --cross-file cross/armhf.ini "$@" "$BUILD" >/dev/null
    echo "$CROSS" > "$BUILD/armhf-sysroot"
fi
