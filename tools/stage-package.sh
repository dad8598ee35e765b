#!/bin/sh
# Lays out the Venus OS package (the release tarball's contents) in DIR:
#   tools/stage-package.sh DIR DAEMON [LYNX_SCAN]
# DIR gets: dbus-lynx-distributor, lynx-scan (when given), install.sh, uninstall.sh,
# config.sample.ini, README.md, VERSION, service/run, service/log/run,
# udev/99-dbus-lynx-distributor.rules. Used by tools/release.sh and tests/install/test_install.sh.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR DAEMON [LYNX_SCAN]" >&2; exit 2; }
DIR=$1
DAEMON=$2
SCAN=${3:-}
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$TOP/meson.build" | head -n 1)
[ -n "$VERSION" ] || { echo "$0: no version in meson.build" >&2; exit 1; }

mkdir -p "$DIR/service/log" "$DIR/udev"
cp "$DAEMON" "$DIR/dbus-lynx-distributor"
chmod 755 "$DIR/dbus-lynx-distributor"
if [ -n "$SCAN" ]; then
    cp "$SCAN" "$DIR/lynx-scan"
    chmod 755 "$DIR/lynx-scan"
fi
for f in install.sh uninstall.sh service/run service/log/run; do
    cp "$TOP/$f" "$DIR/$f"
    chmod 755 "$DIR/$f"
done
for f in config.sample.ini README.md udev/99-dbus-lynx-distributor.rules; do
    cp "$TOP/$f" "$DIR/$f"
    chmod 644 "$DIR/$f"
done
printf '%s\n' "$VERSION" > "$DIR/VERSION"
chmod 644 "$DIR/VERSION"
