#!/bin/sh
# Installs what the armhf cross build (cross/armhf.ini) needs on Debian bookworm: the cross
# compiler, the armhf libraries through multiarch, qemu-user for the tests, busybox for the
# install test. Skips apt when everything is there; needs root (or sudo) otherwise.
set -eu

NATIVE="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross binutils-arm-linux-gnueabihf qemu-user
  meson ninja-build pkg-config busybox"
ARMHF="libusb-1.0-0-dev:armhf libdbus-1-dev:armhf libinih-dev:armhf"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=""
for p in $NATIVE $ARMHF; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! dpkg --print-foreign-architectures | grep -qx armhf; then
    $SUDO dpkg --add-architecture armhf
fi
echo "Installing:$missing"
# A mirror in the middle of a sync can fail one index; what the others have is enough to try.
$SUDO apt-get update -q || echo "apt-get update reported errors; trying with the indexes it has"

apt_install() {
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends --no-remove "$@"
}

# Version of $1 that apt would install (architecture-qualified name).
candidate() {
    apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1
}

if apt_install $missing; then
    exit 0
fi

# Multi-Arch: same libraries must have one version on both architectures. When the mirror has a
# newer amd64 build than armhf (an armhf index lagging behind, as bookworm-security's did), pin
# both to the armhf version, together with the installed packages built from the same source at
# the same version (e.g. liblzma-dev next to liblzma5), so apt upgrades instead of removing.
echo "Retrying with both architectures pinned to the armhf versions of the shared libraries"
pins=""
for lib in libc6 libgcc-s1 libstdc++6 gcc-12-base libdbus-1-3 libsystemd0 libudev1 libcap2 \
    libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1 libusb-1.0-0 libinih1 libinireader0; do
    want=$(candidate "$lib:armhf")
    [ -n "$want" ] && [ "$want" != "(none)" ] || continue
    have=$(dpkg-query -W -f='${Version}' "$lib:amd64" 2>/dev/null || true)
    [ "$have" = "$want" ] && continue
    if [ "$(candidate "$lib:amd64")" != "$want" ] &&
        ! apt-cache madison "$lib" | awk -v v="$want" '$3 == v { found = 1 } END { exit !found }'; then
        continue
    fi
    pins="$pins $lib:amd64=$want $lib:armhf=$want"
    [ -n "$have" ] || continue
    source=$(dpkg-query -W -f='${source:Package}' "$lib:amd64")
    for sibling in $(dpkg-query -W -f='${Package}:${Architecture} ${source:Package} ${Version}\n' |
        awk -v s="$source" -v v="$have" '$2 == s && $3 == v { print $1 }'); do
        case " $pins " in *" ${sibling}="*) ;; *) pins="$pins $sibling=$want" ;; esac
    done
done
apt_install $missing $pins
