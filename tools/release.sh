#!/bin/sh
# Builds the Venus OS release for 32-bit ARM GX devices (Cerbo GX, Ekrano GX, Venus GX):
#   tools/release.sh     ->  dist/dbus-lynx-distributor-<version>-armhf.tar.gz
# 1. installs the cross toolchain and qemu-user, makes (or reuses) the armhf sysroot (Debian
#    bullseye: glibc 2.31, as Venus OS v3.00-v3.5x) and configures BUILD_DIR (default
#    build-armhf-release) with cross/armhf.ini, optimised (tools/setup-armhf.sh);
# 2. cross-builds there (libinih linked statically) and runs the pure unit tests and the install
#    test, the tests under qemu-arm;
# 3. checks the binaries against the Venus OS allow-list (tools/check-armhf-binary.sh: GLIBC at
#    most 2.31, libusb functions of 1.0.22), and runs the programs and the pure tests once more
#    with Debian bookworm's newer libraries, as on Venus OS v3.60 and later (tools/armhf-compat.sh);
# 4. stages the package (tools/stage-package.sh), strips the binaries and packs it.
# The tarball has one directory, dbus-lynx-distributor-<version>-armhf/, with install.sh at its top.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd -P)
BUILD=${BUILD_DIR:-build-armhf-release}

./tools/setup-armhf.sh "$BUILD" --buildtype=release
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs
./tools/check-armhf-binary.sh "$BUILD/src/dbus-lynx-distributor"
./tools/armhf-compat.sh "$BUILD"

VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
PACKAGE=dbus-lynx-distributor-$VERSION-armhf
STAGE=$TOP/dist/$PACKAGE
rm -rf "$STAGE"
mkdir -p dist
SCAN=""
[ -f "$BUILD/src/lynx-scan" ] && SCAN=$BUILD/src/lynx-scan
./tools/stage-package.sh "$STAGE" "$BUILD/src/dbus-lynx-distributor" $SCAN
for program in "$STAGE/dbus-lynx-distributor" "$STAGE/lynx-scan"; do
    [ -f "$program" ] && arm-linux-gnueabihf-strip "$program"
done
./tools/check-armhf-binary.sh "$STAGE/dbus-lynx-distributor" ${SCAN:+"$STAGE/lynx-scan"} >/dev/null

# Reproducible: sorted names, root-owned, one timestamp (the last commit, when there is one).
STAMP=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$STAMP" \
    -C dist -czf "dist/$PACKAGE.tar.gz" "$PACKAGE"
rm -rf "$STAGE"
echo "dist/$PACKAGE.tar.gz:"
tar -tvzf "dist/$PACKAGE.tar.gz"
