#!/bin/sh
# Makes the armhf guest of `tools/vm.sh --arch armhf` in DIR (called by tools/vm/kernel.sh, which
# caches it): a Debian bookworm armhf root with Debian's armmp kernel, the Cerbo GX's architecture
# on a real armhf kernel.
#   MODULE_DIRS=... tools/vm/armhf-root.sh DIR     (progress and errors on stderr)
# DIR/root is the guest's root (shared read-only over 9p, under a tmpfs overlay), its
# /boot/vmlinuz-<version> the kernel QEMU boots, its /lib/modules/<version> the modules (pruned as
# tools/vm/kernel.sh prunes amd64's, with depmod's index); DIR/guest.conf says where each is.
#
# Made without root and without running armhf code: `mmdebstrap --variant=extract` downloads
# and unpacks the packages (apt resolves their dependencies) and runs no maintainer scripts, so
# what those scripts would make is made here: /etc/passwd and /etc/group (dbus-daemon refuses to
# start without its messagebus user), the alternatives (awk), /etc/machine-id. The mirror and
# proxy are the host apt's (ARMHF_MIRROR overrides), as for tools/armhf-sysroot.sh.
set -eu
cd "$(dirname "$0")/../.."
DIR=$1
SUITE=bookworm
# extract installs nothing it is not given, not even Essential packages: the base userland
# tools/vm/guest.sh and tests use is listed.
PACKAGES="base-files base-passwd bash coreutils dash debianutils diffutils findutils grep gzip
  hostname libc-bin mawk sed tar util-linux mount procps iproute2 kmod udev busybox-static
  linux-image-armmp
  libusb-1.0-0 libdbus-1-3 dbus-daemon dbus-bin
  python3 python3-dbus python3-gi python3-usb python3-ftdi i2c-tools usbutils daemontools"

say() { echo "vm/armhf-root.sh: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

. tools/apt-mirror.sh # MIRROR, and the host apt's proxy for mmdebstrap

say "making the armhf guest root ($SUITE main from $MIRROR) in $DIR"
mkdir -p "$DIR"
# chrootless: extracting needs neither root nor user namespaces.
for wait in 20 60 end; do
    if mmdebstrap --mode=chrootless --variant=extract --architectures=armhf \
        --include="$(echo $PACKAGES | tr ' ' ,)" \
        --aptopt='Acquire::Retries "2"' --aptopt='Acquire::http::Timeout "30"' \
        "$SUITE" "$DIR/root.tar" "$MIRROR" 2>"$DIR/mmdebstrap.log"; then
        break
    fi
    [ "$wait" != end ] || { cat "$DIR/mmdebstrap.log" >&2 && die "mmdebstrap failed (above)"; }
    say "mmdebstrap failed ($(grep -m 1 '^E:' "$DIR/mmdebstrap.log" || tail -n 1 "$DIR/mmdebstrap.log")); retrying in $wait s"
    sleep "$wait"
done
mkdir "$DIR/root"
R=$DIR/root
tar -xf "$DIR/root.tar" -C "$R" --no-same-owner --exclude=./dev
rm "$DIR/root.tar" "$DIR/mmdebstrap.log"
rm -rf "$R/usr/share/doc" "$R/usr/share/man" "$R/usr/share/info" "$R/usr/share/locale"

version=$(ls "$R/lib/modules" | sort -V | tail -n 1)
[ -n "$version" ] && [ -f "$R/boot/vmlinuz-$version" ] || die "no armmp kernel in the root"
# Only the module directories a guest can need (tools/vm/kernel.sh: MODULE_DIRS).
mods=$R/lib/modules/$version/kernel
mv "$mods" "$mods.all"
for d in $MODULE_DIRS; do
    if [ -d "$mods.all/$d" ]; then
        mkdir -p "$mods/$(dirname "$d")"
        mv "$mods.all/$d" "$mods/$d"
    fi
done
rm -rf "$mods.all"
find "$R/lib/modules" -name '*.ko.xz' -exec xz -d {} +
depmod -b "$R" "$version" || die "depmod failed"

# What the maintainer scripts would have made.
cp "$R/usr/share/base-passwd/passwd.master" "$R/etc/passwd"
cp "$R/usr/share/base-passwd/group.master" "$R/etc/group"
echo "messagebus:x:100:101::/nonexistent:/usr/sbin/nologin" >>"$R/etc/passwd"
echo "messagebus:x:101:" >>"$R/etc/group"
[ -e "$R/bin/sh" ] || ln -s dash "$R/bin/sh"
[ -e "$R/usr/bin/awk" ] || ln -s mawk "$R/usr/bin/awk"
echo "lynx-vm" >"$R/etc/hostname"
od -An -tx1 -N 16 /dev/urandom | tr -d ' \n' >"$R/etc/machine-id"
echo >>"$R/etc/machine-id"

# KEY=VALUE lines (read by tools/vm/kernel.sh and tools/vm.sh, never evaluated).
printf 'VERSION=%s\nKERNEL=%s\nMODULES=%s\nROOT=%s\nBUSYBOX=%s\n' "$version" \
    "$R/boot/vmlinuz-$version" "$R" "$R" "$R/bin/busybox" >"$DIR/guest.conf"
