#!/bin/sh
# Installs dbus-lynx-distributor on Venus OS from the unpacked release tarball, and restores it
# after a firmware update (/data/rc.local runs it with --boot at every boot). POSIX sh for
# busybox. Idempotent: running it again gives the same files; an existing config.ini is kept.
#
#   sh install.sh [--root DIR] [--serial SERIAL]... [--i2c N]... [--all-adapters] [--boot]
#
#   --root DIR       install under DIR instead of / (also ROOT=DIR); only files are written then:
#                    no remount, no udevadm, no svc (used by tests/install/test_install.sh)
#   --serial SERIAL  the adapter with this USB serial number is the daemon's: config.ini gets a
#                    [ftdi:SERIAL] section (once), and the udev rule keeps serial-starter away
#                    only from the adapters so named (repeatable; remembered for later runs).
#                    Without it, install.sh lists the stock adapters plugged in that config.ini
#                    does not name.
#   --i2c N          the Linux I2C bus /dev/i2c-N (a Raspberry Pi's pins, a CP2112) is the
#                    daemon's: config.ini gets an [i2c:N] section (once; repeatable). While
#                    config.ini names a bus, every run (and so every boot) loads the kernel's
#                    i2c-dev module if no /dev/i2c-* node is there yet.
#   --all-adapters   forget earlier --serial choices: every 0403:6014 and 0403:d4f8 adapter
#   --boot           quiet; what /data/rc.local runs
#
# What it makes (nothing else is touched):
#   /data/dbus-lynx-distributor/           the package, config.ini (from config.sample.ini once)
#   /service/dbus-lynx-distributor         -> /data/dbus-lynx-distributor/service (daemontools)
#   /etc/udev/rules.d/99-dbus-lynx-distributor.rules  (rootfs: remounted rw for the copy)
#   /data/rc.local                         one line, right after its #! line (so that no exit or
#                                          if-block of the user's can skip it):
#                                          sh /data/dbus-lynx-distributor/install.sh --boot || true
set -eu

NAME=dbus-lynx-distributor
APP=/data/$NAME
RULE=/etc/udev/rules.d/99-$NAME.rules
SERVICE_LINK=/service/$NAME
RC_LOCAL=/data/rc.local
RC_LINE="sh $APP/install.sh --boot || true"
OLD_RC_LINE="sh $APP/install.sh --boot" # 0.1.0 put it before a final exit, where it could be skipped
PYTHON_PLUGIN_RC_LINE="bash $APP/install.sh"
PACKAGE_FILES="install.sh uninstall.sh config.sample.ini README.md VERSION udev/99-$NAME.rules"
PROGRAMS="$NAME lynx-scan"

ROOT=${ROOT:-}
BOOT=0
SERIALS=
SERIALS_GIVEN=0
I2C_BUSES=
ALL_ADAPTERS=0

say() {
    [ "$BOOT" = 1 ] || printf '%s\n' "$*"
}

die() {
    printf '%s: %s\n' "$NAME install" "$*" >&2
    exit 1
}

# One --serial value is one serial number: checked here, before word splitting could make
# 'A B' two of them.
add_serial() {
    case $1 in
    '') die "--serial needs a serial number, got an empty one" ;;
    *[!A-Za-z0-9]*) die "serial number \"$1\": letters and digits only (one serial per --serial)" ;;
    esac
    SERIALS="$SERIALS $1"
    SERIALS_GIVEN=1
}

add_i2c_bus() {
    case $1 in
    '' | *[!0-9]*) die "--i2c needs a bus number (the N of /dev/i2c-N), got \"$1\"" ;;
    esac
    n=$(printf '%s' "$1" | sed 's/^0*//')
    [ "${#n}" -le 4 ] && [ "${n:-0}" -le 1023 ] || die "--i2c $1: bus numbers go up to 1023"
    I2C_BUSES="$I2C_BUSES ${n:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
    --root=*) ROOT=${1#--root=} ;;
    --serial) [ $# -ge 2 ] || die "--serial needs a serial number"; add_serial "$2"; shift ;;
    --serial=*) add_serial "${1#--serial=}" ;;
    --i2c) [ $# -ge 2 ] || die "--i2c needs a bus number"; add_i2c_bus "$2"; shift ;;
    --i2c=*) add_i2c_bus "${1#--i2c=}" ;;
    --all-adapters) ALL_ADAPTERS=1 ;;
    --boot) BOOT=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done
[ "$ROOT" = / ] && ROOT=
ROOT=${ROOT%/}
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "root $ROOT is not a directory"
    ROOT=$(cd "$ROOT" && pwd -P)
fi

SRC=$(cd "$(dirname "$0")" && pwd -P)
DEST=$ROOT$APP
IN_PLACE=0
if [ -d "$DEST" ] && [ "$(cd "$DEST" && pwd -P)" = "$SRC" ]; then
    IN_PLACE=1 # the boot run, or a tarball unpacked straight into /data/dbus-lynx-distributor
else
    [ -f "$SRC/$NAME" ] || die "no $NAME program next to install.sh: run the install.sh of the unpacked release tarball"
    for file in $PACKAGE_FILES service/run service/log/run; do
        [ -f "$SRC/$file" ] || die "the package lacks $file"
    done
fi

# Copies $1 to $2 with mode $3 unless $2 already has those bytes; a rename replaces the file, so
# a running daemon keeps its old binary until it restarts. Sets CHANGED when it wrote.
CHANGED=0
put_file() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        chmod "$3" "$2"
        return 0
    fi
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.new.$$"
    chmod "$3" "$2.new.$$"
    mv -f "$2.new.$$" "$2"
    CHANGED=1
}

# --- the package in /data ---------------------------------------------------------------------
if [ "$IN_PLACE" = 0 ]; then
    mkdir -p "$DEST"
    for program in $PROGRAMS; do
        if [ -f "$SRC/$program" ]; then
            put_file "$SRC/$program" "$DEST/$program" 755
        fi
    done
    for file in $PACKAGE_FILES; do
        put_file "$SRC/$file" "$DEST/$file" 644
    done
    put_file "$SRC/service/run" "$DEST/service/run" 755
    put_file "$SRC/service/log/run" "$DEST/service/log/run" 755
fi
[ -x "$DEST/$NAME" ] || die "$DEST/$NAME is missing"
chmod 755 "$DEST/install.sh" "$DEST/uninstall.sh"

if [ -f "$DEST/config.ini" ]; then
    say "keeping $APP/config.ini"
else
    cp "$DEST/config.sample.ini" "$DEST/config.ini"
    chmod 644 "$DEST/config.ini"
    say "created $APP/config.ini from config.sample.ini: edit it, then: svc -t $SERVICE_LINK"
fi

if [ -z "$ROOT" ] && ! "$DEST/$NAME" --version >/dev/null 2>"$DEST/.version-check"; then
    cat "$DEST/.version-check" >&2
    rm -f "$DEST/.version-check"
    die "$APP/$NAME does not run on this device (wrong architecture or Venus OS too old?)"
fi
rm -f "$DEST/.version-check"

# --- config.ini: the adapters named with --serial are the daemon's ---------------------------
# A stock FTDI adapter is claimed only when config.ini has a section for its serial (README,
# "Which adapters are the daemon's"); --serial writes it, once.
# section_exists PATTERN: config.ini has a section header matching [PATTERN] (any case, blanks
# around it allowed); add_section NAME PATTERN writes [NAME] unless one matches, once.
section_exists() {
    grep -qi "^[[:space:]]*\[$1[[:space:]]*\]" "$DEST/config.ini"
}
add_section() {
    section_exists "$2" && return 0
    printf '\n[%s]\n' "$1" >> "$DEST/config.ini"
    say "added [$1] to $APP/config.ini"
}
has_section() {
    section_exists "ftdi:[[:space:]]*$1"
}
for serial in $SERIALS; do
    add_section "ftdi:$serial" "ftdi:[[:space:]]*$serial"
done
for bus in $I2C_BUSES; do
    add_section "i2c:$bus" "i2c:[[:space:]]*0*$bus"
done
# A named Linux I2C bus needs the i2c-dev module, which Venus OS for Raspberry Pi does not load
# by itself (docs/hardware.md, "Enabling I2C on Venus OS for Raspberry Pi").
if [ -z "$ROOT" ] && section_exists 'i2c:[^]]*' &&
    ! ls /dev/i2c-* >/dev/null 2>&1; then
    modprobe i2c-dev 2>/dev/null || say "config.ini names an I2C bus but i2c-dev could not be loaded"
fi

# Stock FTDI adapters plugged in now that config.ini does not name (read from sysfs: opening
# them, as lynx-scan does, would take their serial port away for a moment).
list_unnamed_adapters() {
    for dev in "$ROOT"/sys/bus/usb/devices/*; do
        [ -f "$dev/idVendor" ] && [ -f "$dev/serial" ] || continue
        [ "$(cat "$dev/idVendor")" = 0403 ] || continue
        case $(cat "$dev/idProduct") in 6014 | 6010 | 6011) ;; *) continue ;; esac
        serial=$(cat "$dev/serial")
        has_section "$serial" || printf '%s %s\n' "$serial" "$(cat "$dev/idProduct")"
    done
}
if [ "$BOOT" = 0 ]; then
    list_unnamed_adapters | while read -r serial pid; do
        say "a stock FTDI adapter (0403:$pid) with serial $serial is plugged in and not in config.ini;"
        say "  to watch Lynx Distributors through it: sh $APP/install.sh --serial $serial"
    done
fi

# --- udev rule: serial-starter ignores the adapters -------------------------------------------
if [ "$ALL_ADAPTERS" = 1 ]; then
    rm -f "$DEST/udev-serials"
elif [ "$SERIALS_GIVEN" = 1 ]; then
    printf '%s\n' $SERIALS > "$DEST/udev-serials"
    chmod 644 "$DEST/udev-serials"
fi

write_rule() {
    template=$DEST/udev/99-$NAME.rules
    if [ ! -s "$DEST/udev-serials" ]; then
        cat "$template"
        return
    fi
    grep '^#' "$template"
    echo "# Only the adapters named with install.sh --serial:"
    while read -r serial; do
        [ -n "$serial" ] || continue
        grep -v '^#' "$template" | grep . |
            sed "s/ENV{VE_SERVICE}/ATTRS{serial}==\"$serial\", ENV{VE_SERVICE}/"
    done < "$DEST/udev-serials"
}

# Runs "$@" with the root filesystem writable: Venus mounts it read-only (only /data survives a
# firmware update, which is why rc.local puts the rule back).
with_rootfs_writable() {
    probe=$ROOT/etc/udev/rules.d/.$NAME-probe
    if [ -n "$ROOT" ] || { touch "$probe" 2>/dev/null && rm -f "$probe"; }; then
        "$@"
        return
    fi
    mount -o remount,rw / || die "cannot remount / read-write"
    status=0
    "$@" || status=$?
    mount -o remount,ro / || true
    return $status
}

write_rule > "$DEST/.rule.new"
if [ -f "$ROOT$RULE" ] && cmp -s "$DEST/.rule.new" "$ROOT$RULE"; then
    rm -f "$DEST/.rule.new"
else
    mkdir -p "$ROOT/etc/udev/rules.d" 2>/dev/null || with_rootfs_writable mkdir -p "$ROOT/etc/udev/rules.d"
    with_rootfs_writable put_file "$DEST/.rule.new" "$ROOT$RULE" 644
    rm -f "$DEST/.rule.new"
    if [ -z "$ROOT" ] && command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload-rules || true
    fi
    say "installed $RULE"
fi

# --- /data/rc.local: put everything back after a firmware update ------------------------------
rc=$ROOT$RC_LOCAL
if [ ! -e "$rc" ]; then
    printf '#!/bin/sh\n' > "$rc"
    chmod 755 "$rc"
    : > "$DEST/.created-rc-local"
fi
if grep -qxF "$PYTHON_PLUGIN_RC_LINE" "$rc"; then
    # the Python plugin re-ran its own installer from here; this one replaces it
    grep -vxF "$PYTHON_PLUGIN_RC_LINE" "$rc" > "$rc.new.$$" || true
    cat "$rc.new.$$" > "$rc"
    rm -f "$rc.new.$$"
fi
# The line goes right after the #! line: rc.local is the user's, and an "exit 0" or an if-block
# with an exit anywhere below would otherwise end it before the line runs. "|| true": a failing
# boot run must not end an rc.local written with "set -e" or "#!/bin/sh -e" either.
{ grep -vxF -e "$OLD_RC_LINE" -e "$RC_LINE" "$rc" || true; } | awk -v line="$RC_LINE" '
    NR == 1 && /^#!/ { print; print line; done = 1; next }
    !done { print line; done = 1 }
    { print }
    END { if (!done) print line }' > "$rc.new.$$"
if ! cmp -s "$rc.new.$$" "$rc"; then
    cat "$rc.new.$$" > "$rc"
fi
rm -f "$rc.new.$$"
[ -x "$rc" ] || chmod 755 "$rc"

# --- the daemontools service ------------------------------------------------------------------
mkdir -p "$ROOT/service"
if [ "$(readlink "$ROOT$SERVICE_LINK" 2>/dev/null || true)" != "$APP/service" ]; then
    rm -rf "$ROOT$SERVICE_LINK"
    ln -s "$APP/service" "$ROOT$SERVICE_LINK"
    say "linked $SERVICE_LINK: svscan starts it within 5 s"
elif [ -z "$ROOT" ] && [ "$CHANGED" = 1 ] && command -v svc >/dev/null 2>&1; then
    svc -t "$SERVICE_LINK" || true
    say "restarted $SERVICE_LINK"
fi

say "$NAME $(cat "$DEST/VERSION") installed in $APP; log: /var/log/$NAME/current"
