#!/bin/sh
# Makes the guest kernel tools/vm.sh boots, once per kernel version (amd64) or recipe (armhf), and
# prints its directory and initramfs:
#   tools/vm/kernel.sh [--arch amd64|armhf]  ->  <cache>/vm/amd64-<version>  (or armhf-bookworm-<key>)
#                                                <that directory>/initramfs-<key>.cpio
# (progress and errors on stderr). The directory's guest.conf says, as KEY=VALUE lines:
#   VERSION  the kernel's release (uname -r)
#   KERNEL   the image QEMU boots: amd64's uncompressed vmlinux (QEMU boots it through its PVH
#            entry point, about twice as fast to the first command as the compressed vmlinuz
#            under TCG); armhf's zImage
#   MODULES  the directory holding lib/modules/VERSION: the kernel's modules this project's guests
#            can need (MODULE_DIRS), with modules.dep made by depmod; mounted at /lib/modules
#   ROOT     the guest's root: / (the host's own) for amd64, an armhf Debian root for armhf
#            (tools/vm/armhf-root.sh)
#   BUSYBOX  armhf only: the root's static busybox, for the initramfs
# initramfs-<key>.cpio holds busybox-static, tools/vm/init and the modules it loads
# (ROOT_MODULES); the key is a hash of what goes into it, so changing tools/vm/init or ROOT_MODULES
# makes a new one beside the old.
#
# The amd64 kernel: Debian's linux-image-<version> package, where <version> is what
# linux-image-amd64 depends on (LYNX_VM_KERNEL=<version>, e.g. 6.1.0-57-amd64, picks another),
# fetched with `apt-get download` and unpacked with dpkg-deb: no kernel needs to be installed and
# nothing runs update-initramfs. When the package cannot be fetched (offline), an installed one
# (/boot/vmlinuz-<version> and /lib/modules/<version>) is used instead. The armhf one comes with
# its root (tools/vm/armhf-root.sh), made again when that script changes.
#
# Where: $LYNX_CACHE_DIR/vm, else $XDG_CACHE_HOME/dbus-lynx-distributor/vm, else
# ~/.cache/dbus-lynx-distributor/vm (as tools/armhf-sysroot.sh): shared by every checkout, outside
# the source tree. A directory is made under a temporary name and renamed when complete. About
# 115 MB per amd64 kernel version; delete old ones freely.
set -eu
cd "$(dirname "$0")/../.."

# The modules tools/vm/init loads (the list is there too): the root (virtio-9p under an overlay),
# the command's output (virtio_console), and USB, FTDI, HID, CP2112 and i2c-dev. modprobe resolves
# their dependencies from modules.dep.
ROOT_MODULES="virtio_pci 9pnet_virtio 9p overlay virtio_console
  xhci_pci usbserial ftdi_sio usbhid hid_cp2112 i2c_dev"
# The parts of the modules tree kept (under lib/modules/V/kernel): USB (xhci, ftdi_sio, usbserial,
# usb-storage...), HID (usbhid, hid-cp2112), I2C (i2c-dev), virtio, character devices, input, tty,
# GPIO, the filesystems and 9p, and what they build on. The rest (GPU, network, sound, media, SCSI:
# 300 of its 390 MB) has no use in these guests.
MODULE_DIRS="arch block crypto fs lib mm virt net/9p drivers/base drivers/char drivers/gpio
  drivers/hid drivers/i2c drivers/input drivers/tty drivers/usb drivers/virtio"

CACHE=${LYNX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbus-lynx-distributor}/vm
ARCH=amd64
if [ "${1:-}" = --arch ] && [ $# -ge 2 ]; then
    ARCH=$2
fi

say() { echo "vm/kernel.sh: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

# The amd64 version: given, else the one Debian's meta-package points at, else the newest
# installed. apt-cache takes a second or more; its answer is kept until apt's lists or dpkg's
# database change.
resolve_amd64_version() {
    version=${LYNX_VM_KERNEL:-}
    RESOLVED=$CACHE/linux-image-$ARCH.version
    if [ -z "$version" ] && [ -s "$RESOLVED" ] &&
        [ -n "$(find "$RESOLVED" -newer /var/lib/apt/lists -newer /var/lib/dpkg/status)" ]; then
        version=$(cat "$RESOLVED")
    fi
    if [ -z "$version" ]; then
        version=$(apt-cache depends "linux-image-$ARCH" 2>/dev/null |
            sed -n "s/^ *Depends: linux-image-\([0-9][^ ]*-$ARCH\)\$/\1/p" | head -n 1)
        if [ -n "$version" ]; then
            mkdir -p "$CACHE"
            echo "$version" >"$RESOLVED.$$" && mv "$RESOLVED.$$" "$RESOLVED"
        fi
    fi
    if [ -z "$version" ]; then
        version=$(ls /boot 2>/dev/null | sed -n "s/^vmlinuz-\(.*-$ARCH\)\$/\1/p" | sort -V | tail -n 1)
    fi
    [ -n "$version" ] || die "no kernel version: apt knows no linux-image-$ARCH and none is" \
        "installed (set LYNX_VM_KERNEL=<version>)"
}

# --- vmlinux out of a bzImage ---------------------------------------------------------------------
# A bzImage is real-mode setup code followed by the protected-mode part, whose payload is the
# compressed vmlinux with its uncompressed size appended (4 bytes, little-endian). The boot header
# (Documentation/x86/boot.rst, protocol 2.08+) gives where the payload starts and how long it is.
le32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
extract_vmlinux() { # BZIMAGE OUT
    [ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || die "$1: not a bzImage"
    setup_sects=$(od -An -tu1 -j 497 -N 1 "$1" | tr -d ' ')
    [ "$setup_sects" -ne 0 ] || setup_sects=4
    start=$(((setup_sects + 1) * 512 + $(le32 "$1" 584)))
    length=$(le32 "$1" 588)
    [ "$length" -gt 4 ] || die "$1: no payload in the boot header (boot protocol older than 2.08?)"
    tail -c +$((start + 1)) "$1" | head -c $((length - 4)) >"$2.z"
    size=$(tail -c +$((start + length - 3)) "$1" | head -c 4 | od -An -tu4 | tr -d ' ')
    case $(od -An -tx1 -N 4 "$2.z" | tr -d ' ') in
    fd377a58) unpack="xz -dc" ;;
    28b52ffd) unpack="zstd -dcq" ;;
    1f8b*) unpack="gzip -dc" ;;
    5d0000*) unpack="xz -dc --format=lzma" ;;
    02214c18) unpack="lz4 -dc" ;;
    425a68*) unpack="bzip2 -dc" ;;
    *) die "$1: unknown compression of the payload ($(od -An -tx1 -N 4 "$2.z"))" ;;
    esac
    command -v "${unpack%% *}" >/dev/null || die "$1 needs ${unpack%% *} to unpack (tools/setup-debian.sh vm)"
    $unpack <"$2.z" >"$2" || die "$1: $unpack failed"
    rm "$2.z"
    [ "$(od -An -c -N 4 "$2" | tr -d ' ')" = '177ELF' ] || die "$1: the payload is not an ELF kernel"
    [ "$(wc -c <"$2")" -eq "$size" ] || die "$1: unpacked $(wc -c <"$2") bytes, the header says $size"
}

# --- the kernel directory -------------------------------------------------------------------------
make_kernel_dir() {
    mkdir -p "$CACHE"
    TMP=$(mktemp -d "$CACHE/.$ARCH-$version.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT INT TERM
    mkdir "$TMP/pkg"
    # `tar --wildcards`: each pattern matches the bookworm layout (lib/modules) and the merged-/usr
    # one (usr/lib/modules) alike.
    patterns="*/boot/vmlinuz-$version */modules/$version/modules.builtin*
      */modules/$version/modules.order"
    for d in $MODULE_DIRS; do
        patterns="$patterns */modules/$version/kernel/$d/*"
    done
    if (cd "$TMP" && apt-get download -q "linux-image-$version" >"$TMP/apt.log" 2>&1); then
        deb=$(ls "$TMP"/linux-image-*.deb)
        say "unpacking $(basename "$deb") into $DIR"
        # shellcheck disable=SC2086 # the patterns are words
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$TMP/pkg" --wildcards $patterns
        dpkg-deb -f "$deb" Package Version | tr '\n' ' ' >"$TMP/source"
        rm "$deb" "$TMP/apt.log"
    elif [ -f "/boot/vmlinuz-$version" ] && [ -d "/lib/modules/$version/kernel" ]; then
        say "apt-get download linux-image-$version failed ($(tail -n 1 "$TMP/apt.log"));" \
            "using the installed kernel"
        mkdir -p "$TMP/pkg/boot" "$TMP/pkg/lib/modules/$version/kernel"
        cp "/boot/vmlinuz-$version" "$TMP/pkg/boot/"
        cp /lib/modules/"$version"/modules.builtin* /lib/modules/"$version"/modules.order \
            "$TMP/pkg/lib/modules/$version/"
        for d in $MODULE_DIRS; do
            if [ -d "/lib/modules/$version/kernel/$d" ]; then
                mkdir -p "$TMP/pkg/lib/modules/$version/kernel/$(dirname "$d")"
                cp -R "/lib/modules/$version/kernel/$d" "$TMP/pkg/lib/modules/$version/kernel/$d"
            fi
        done
        echo "installed /boot/vmlinuz-$version" >"$TMP/source"
        rm "$TMP/apt.log"
    else
        cat "$TMP/apt.log" >&2
        die "cannot get linux-image-$version: apt-get download failed (above) and it is not installed"
    fi
    extract_vmlinux "$TMP/pkg/boot/vmlinuz-$version" "$TMP/vmlinux"
    # Modules in one place whatever the package layout; compressed ones (.ko.xz, .ko.zst) are
    # unpacked so that busybox's modprobe in the initramfs can load them as well.
    tree=$(find "$TMP/pkg" -type d -path "*/modules/$version" | head -n 1)
    [ -n "$tree" ] || die "linux-image-$version has no modules/$version"
    mkdir -p "$TMP/modules/lib/modules"
    mv "$tree" "$TMP/modules/lib/modules/$version"
    rm -rf "$TMP/pkg"
    find "$TMP/modules" -name '*.ko.xz' -exec xz -d {} +
    find "$TMP/modules" -name '*.ko.zst' -exec zstd -dq --rm {} +
    depmod -b "$TMP/modules" "$version" || die "depmod failed"
    write_amd64_conf "$TMP"
    publish
}

write_amd64_conf() { # DIR (KEY=VALUE lines, never evaluated)
    printf 'VERSION=%s\nKERNEL=%s\nMODULES=%s\nROOT=/\nBUSYBOX=\n' "$version" "$DIR/vmlinux" \
        "$DIR/modules" >"$1/guest.conf"
}

make_armhf_dir() {
    mkdir -p "$CACHE"
    TMP=$(mktemp -d "$CACHE/.armhf.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT INT TERM
    MODULE_DIRS=$MODULE_DIRS tools/vm/armhf-root.sh "$TMP" || die "tools/vm/armhf-root.sh failed"
    # It wrote its paths inside TMP: they are to be inside DIR.
    sed "s|$TMP|$DIR|" "$TMP/guest.conf" >"$TMP/guest.conf.new"
    mv "$TMP/guest.conf.new" "$TMP/guest.conf"
    publish
}

publish() { # TMP -> DIR
    chmod 755 "$TMP"
    # -T: fail, rather than move it inside, when another run made the same directory first.
    mv -T "$TMP" "$DIR" 2>/dev/null || [ -f "$DIR/guest.conf" ] || die "cannot rename $TMP to $DIR"
    trap - EXIT INT TERM
    rm -rf "$TMP"
}

# --- the initramfs ---------------------------------------------------------------------------------
# busybox must be static (it runs before any library can be found). busybox-static provides one;
# where the dynamic busybox is installed instead (the two packages conflict), busybox-static's
# binary is taken from its package without installing it.
static_busybox() {
    if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
        echo /bin/busybox
        return
    fi
    bb=$CACHE/busybox-static
    if [ ! -x "$bb" ]; then
        tmp=$(mktemp -d "$CACHE/.busybox.XXXXXX")
        (cd "$tmp" && apt-get download -q busybox-static >&2) ||
            die "no static busybox: /bin/busybox is dynamic and apt-get download busybox-static failed"
        dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
        cp "$tmp/x/bin/busybox" "$bb.new" && mv "$bb.new" "$bb"
        rm -rf "$tmp"
    fi
    echo "$bb"
}

make_initramfs() { # OUT
    stage=$(mktemp -d "$DIR/.initramfs.XXXXXX")
    mods=$MODULES/lib/modules/$version
    mkdir -p "$stage/bin" "$stage/lib/modules/$version" "$stage/dev" "$stage/proc" "$stage/sys"
    cp "$BUSYBOX" "$stage/bin/busybox"
    cp tools/vm/init "$stage/init"
    chmod 755 "$stage/init"
    cp "$mods"/modules.builtin* "$mods/modules.order" "$stage/lib/modules/$version/"
    # shellcheck disable=SC2086 # the list is words
    modprobe -d "$MODULES" -S "$version" --show-depends -a $ROOT_MODULES |
        sed -n 's/^insmod \([^ ]*\).*/\1/p' | sort -u | while IFS= read -r ko; do
        rel=${ko#"$mods/"}
        mkdir -p "$stage/lib/modules/$version/$(dirname "$rel")"
        cp "$ko" "$stage/lib/modules/$version/$rel"
    done
    depmod -b "$stage" "$version"
    (cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet) >"$stage.cpio"
    mv "$stage.cpio" "$1"
    rm -rf "$stage"
}

case $ARCH in
amd64)
    resolve_amd64_version
    DIR=$CACHE/$ARCH-$version
    [ -f "$DIR/vmlinux" ] || make_kernel_dir
    [ -f "$DIR/guest.conf" ] || write_amd64_conf "$DIR" # made before there was one
    ;;
armhf)
    DIR=$CACHE/armhf-bookworm-$(cat tools/vm/armhf-root.sh tools/vm/kernel.sh | sha256sum | cut -c 1-12)
    [ -f "$DIR/guest.conf" ] || make_armhf_dir
    ;;
*) die "unknown architecture $ARCH (amd64, armhf)" ;;
esac
conf() { sed -n "s/^$1=//p" "$DIR/guest.conf"; }
version=$(conf VERSION)
MODULES=$(conf MODULES)
BUSYBOX=$(conf BUSYBOX)
[ -n "$BUSYBOX" ] || BUSYBOX=$(static_busybox)
key=$( (cat tools/vm/init "$BUSYBOX"
    echo "$ROOT_MODULES") | sha256sum | cut -c 1-12)
INITRAMFS=$DIR/initramfs-$key.cpio
[ -f "$INITRAMFS" ] || make_initramfs "$INITRAMFS"
echo "$DIR"
echo "$INITRAMFS"
