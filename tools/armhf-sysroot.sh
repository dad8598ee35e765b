#!/bin/sh
# Makes a Debian armhf root, once, and prints the path of the meson machine file that points
# cross/armhf.ini at it:
#   tools/armhf-sysroot.sh [bullseye]  ->  <cache>/armhf-bullseye-<key>/sysroot.ini
#   tools/armhf-sysroot.sh bookworm    ->  <cache>/armhf-bookworm-<key>/sysroot.ini
# (progress and errors on stderr). Needs mmdebstrap (tools/setup-armhf.sh installs it), not root.
#
# bullseye (the default) is the root the armhf release compiles and links against: its glibc 2.31
# is the one of Venus OS v3.00-v3.5x (Yocto dunfell), so the binaries load on every Venus OS since
# v3.00 (docs/armhf.md). bookworm (glibc 2.36, libusb 1.0.26, libdbus 1.14) is for running the
# same binaries and their tests once more on newer libraries, as Venus OS v3.60 and later have,
# and for one test program the allow-list must refuse (tools/armhf-compat.sh); no part of the
# release is built against it.
#
# Why a root of its own instead of multiarch apt (dpkg --add-architecture armhf): Multi-Arch:
# same libraries must have one version on both architectures, so the armhf libraries had to match
# whatever the host had installed, and a lagging armhf index (bookworm-security mid-sync) made them
# uninstallable. This root comes from the main suite only, is unpacked with
# `mmdebstrap --variant=extract` (no maintainer scripts, so no armhf code runs and no qemu/binfmt
# is needed; apt still resolves the dependencies) and shares nothing with the host's packages.
#
# Where: $LYNX_CACHE_DIR, else $XDG_CACHE_HOME/dbus-lynx-distributor, else
# ~/.cache/dbus-lynx-distributor. Outside the source tree, so neither meson nor git ever sees it,
# `git clean -fdx` keeps it, and every checkout and worktree on the machine shares it.
# The key is a hash of this script (the package list and the recipe): change either and the next
# run makes a new root beside the old ones (delete old ones freely; bookworm's is about 50 MB,
# bullseye's 110 MB: its libdbus-1-dev pulls in pkg-config, so perl and glib).
set -eu
cd "$(dirname "$0")/.."

SUITE=${1:-bullseye}
case $SUITE in
bullseye | bookworm) ;;
*) echo "usage: $0 [bullseye|bookworm]" >&2; exit 2 ;;
esac
# What the daemon and the tests link against; apt adds their dependencies (libsystemd0, libudev1,
# libgcc-s1, ...), which the test programs load under qemu-arm.
PACKAGES="libc6-dev libusb-1.0-0-dev libdbus-1-dev libinih-dev"
# Files the build cannot do without: a root missing one is not used.
REQUIRED="lib/ld-linux-armhf.so.3 usr/lib/arm-linux-gnueabihf/libc.so
  usr/lib/arm-linux-gnueabihf/pkgconfig/dbus-1.pc usr/lib/arm-linux-gnueabihf/pkgconfig/libusb-1.0.pc
  usr/lib/arm-linux-gnueabihf/pkgconfig/inih.pc usr/lib/arm-linux-gnueabihf/libinih.a"
# Waits between attempts when the package registry does not answer: with apt's own retries and
# timeouts (below) an unreachable registry fails the run in well under 10 minutes.
WAITS="20 60 120"

CACHE=${LYNX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbus-lynx-distributor}
KEY=$(sha256sum < tools/armhf-sysroot.sh | cut -c 1-12)
DIR=$CACHE/armhf-$SUITE-$KEY
if [ -f "$DIR/sysroot.ini" ]; then
    echo "$DIR/sysroot.ini"
    exit 0
fi

# MIRROR: the archive apt already uses; its proxy passed on to mmdebstrap.
. tools/apt-mirror.sh
# A release past its support moves from the mirrors to archive.debian.org (bullseye's LTS ended
# in August 2026): tried second, unless ARMHF_MIRROR names the one to use. The archive's Release
# files are no longer re-signed, so apt must not reject them as expired there.
ARCHIVE=http://archive.debian.org/debian
MIRRORS=$MIRROR
[ -n "${ARMHF_MIRROR:-}" ] || [ "$MIRROR" = "$ARCHIVE" ] || MIRRORS="$MIRROR $ARCHIVE"

mkdir -p "$CACHE"
# Made under a temporary name and renamed when complete: an interrupted run leaves no half root
# behind, and two runs at once do not see each other's.
TMP=$(mktemp -d "$CACHE/.armhf-$SUITE-$KEY.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
echo "Making the armhf sysroot ($SUITE main from $(echo $MIRRORS | sed 's/ / or /'):" \
    "$PACKAGES) in $DIR" >&2
# mmdebstrap runs it with the root in $1 while the downloaded packages are still there.
LIST_DEBS='for deb in "$1"/var/cache/apt/archives/*.deb; do dpkg-deb --show "$deb"; done'
# chrootless: extracting needs no chroot, so neither root nor user namespaces. A tarball,
# unpacked below. The extract hook records the exact package versions (the .debs go after).
fetch() { # MIRROR [apt options...]
    mirror=$1
    shift
    mmdebstrap --mode=chrootless --variant=extract --architectures=armhf \
        --include="$(echo $PACKAGES | tr ' ' ,)" \
        --aptopt='Acquire::Retries "2"' --aptopt='Acquire::http::Timeout "30"' "$@" \
        --extract-hook="$LIST_DEBS > '$TMP/packages'" \
        "$SUITE" "$TMP/root.tar" "$mirror" 2>>"$TMP/log"
}
fetched=""
for wait in $WAITS end; do
    : > "$TMP/log"
    for mirror in $MIRRORS; do
        case $mirror in
        "$ARCHIVE") fetch "$mirror" --aptopt='Acquire::Check-Valid-Until "false"' ;;
        *) fetch "$mirror" ;;
        esac && fetched=$mirror && break
    done
    [ -z "$fetched" ] || break
    if [ "$wait" = end ]; then
        cat "$TMP/log" >&2
        echo "FAILED: could not get the armhf packages $PACKAGES (and their dependencies) of" \
            "Debian $SUITE main from $(echo $MIRRORS | sed 's/ / or /') (apt's errors above name" \
            "what was missing)" >&2
        exit 1
    fi
    echo "mmdebstrap failed ($(grep -m 1 '^E:' "$TMP/log" || tail -n 1 "$TMP/log")); retrying in ${wait} s" >&2
    sleep "$wait"
done
echo "Got $SUITE from $fetched" >&2

mkdir "$TMP/root"
# /dev (device nodes) is of no use to a sysroot and cannot be unpacked without root.
tar -xf "$TMP/root.tar" -C "$TMP/root" --no-same-owner --exclude=./dev
rm "$TMP/root.tar" "$TMP/log"
# Debian's -dev packages link e.g. libdbus-1.so -> /lib/arm-linux-gnueabihf/libdbus-1.so.3: an
# absolute target would resolve on the host (no such file, or the host's multiarch copy). Make
# every such link relative, so it stays inside the root.
find "$TMP/root/lib" "$TMP/root/usr" -type l -lname '/*' | while IFS= read -r link; do
    up=$(dirname "${link#"$TMP/root/"}" | sed 's|[^/][^/]*|..|g')
    ln -sfn "$up$(readlink "$link")" "$link"
done
for file in $REQUIRED; do
    [ -e "$TMP/root/$file" ] || { echo "FAILED: the armhf sysroot has no $file" >&2; exit 1; }
done

# The machine file given to meson before cross/armhf.ini, which uses this constant.
printf "[constants]\nsysroot = '%s'\n" "$DIR/root" > "$TMP/sysroot.ini"
# -T: fail, rather than move it inside, when another run made the same root first (then use that).
chmod 755 "$TMP" # mktemp made it private
mv -T "$TMP" "$DIR" 2>/dev/null || [ -f "$DIR/sysroot.ini" ]
echo "$DIR/sysroot.ini"
