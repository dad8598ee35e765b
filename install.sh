#!/bin/sh
# Installs dbus-lynx-distributor on Venus OS from the unpacked release tarball, and restores it
# after a firmware update (/data/rcS.local runs it with --early, /data/rc.local with --boot, at
# every boot). POSIX sh for busybox. Idempotent: running it again gives the same files; an
# existing config.ini is kept.
#
#   sh install.sh [--root DIR] [--serial SERIAL]... [--i2c N]... [--all-adapters] [--boot|--early]
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
#                    (FT2232H and FT4232H adapters are only ever matched by --serial)
#   --boot           quiet; what /data/rc.local runs (late in the boot: the service link)
#   --early          quiet; what /data/rcS.local runs (early, before serial-starter): only the
#                    udev rule, and when it had to be put back, the ttys already there are
#                    re-evaluated with it
#
# What it makes (nothing else is touched):
#   /data/dbus-lynx-distributor/           the package, config.ini (from config.sample.ini once)
#   /service/dbus-lynx-distributor         -> /data/dbus-lynx-distributor/service (daemontools)
#   /etc/udev/rules.d/99-dbus-lynx-distributor.rules  (rootfs: remounted rw for the copy)
#   /data/rcS.local, /data/rc.local        one line each, right after the #! line (so that no exit
#                                          or if-block of the user's can skip it):
#                                          sh /data/dbus-lynx-distributor/install.sh --early || true
#                                          sh /data/dbus-lynx-distributor/install.sh --boot || true
#                                          When the GUI's "Disable custom startup scripts" renamed
#                                          one to *.disabled, the line goes into that file and no
#                                          new hook is made (re-enabling brings it back).
set -eu

NAME=dbus-lynx-distributor
APP=/data/$NAME
RULE=/etc/udev/rules.d/99-$NAME.rules
SERVICE_LINK=/service/$NAME
RC_LOCAL=/data/rc.local
RC_LINE="sh $APP/install.sh --boot || true"
RCS_LOCAL=/data/rcS.local
RCS_LINE="sh $APP/install.sh --early || true"
OLD_RC_LINE="sh $APP/install.sh --boot" # 0.1.0 put it before a final exit, where it could be skipped
PYTHON_PLUGIN_RC_LINE="bash $APP/install.sh"
PACKAGE_FILES="install.sh uninstall.sh config.sample.ini README.md VERSION udev/99-$NAME.rules"
PROGRAMS="$NAME lynx-scan"

ROOT=${ROOT:-}
BOOT=0
EARLY=0
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
    --early) BOOT=1; EARLY=1 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
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

# --- udev rule: serial-starter ignores the adapters -------------------------------------------
# The template's "#serial-only " lines (FT2232H, FT4232H: chips that drive many other serial
# devices) become rules only for the serials named with --serial.
write_rule() {
    template=$DEST/udev/99-$NAME.rules
    if [ ! -s "$DEST/udev-serials" ]; then
        cat "$template"
        return
    fi
    grep '^#' "$template" | grep -v '^#serial-only '
    echo "# Only the adapters named with install.sh --serial:"
    while read -r serial; do
        [ -n "$serial" ] || continue
        sed -n 's/^#serial-only //; /^ACTION/p' "$template" |
            sed "s/ENV{VE_SERVICE}/ATTRS{serial}==\"$serial\", ENV{VE_SERVICE}/"
    done < "$DEST/udev-serials"
}

# Runs "$@" with the root filesystem writable: Venus mounts it read-only (only /data survives a
# firmware update, which is why the boot hooks put the rule back).
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

# Puts the rule in place. When it was missing or different (after a firmware update, at the first
# install, with other serials), udevd reloads its rules and the ttys that exist already are
# evaluated again: "--reload-rules" alone only reaches devices added later, and serial-starter
# takes every tty without VE_SERVICE=ignore.
install_rule() {
    write_rule > "$DEST/.rule.new"
    if [ -f "$ROOT$RULE" ] && cmp -s "$DEST/.rule.new" "$ROOT$RULE"; then
        rm -f "$DEST/.rule.new"
        return 0
    fi
    mkdir -p "$ROOT/etc/udev/rules.d" 2>/dev/null || with_rootfs_writable mkdir -p "$ROOT/etc/udev/rules.d"
    with_rootfs_writable put_file "$DEST/.rule.new" "$ROOT$RULE" 644
    rm -f "$DEST/.rule.new"
    if [ -z "$ROOT" ] && command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload-rules || true
        udevadm trigger --action=add --subsystem-match=tty --sysname-match='ttyUSB*' || true
    fi
    say "installed $RULE"
}

# --early (rcS.local): only the udev rule, before svscan starts serial-starter.
if [ "$EARLY" = 1 ]; then
    [ -f "$DEST/udev/99-$NAME.rules" ] || exit 0
    install_rule
    exit 0
fi

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

# --- udev rule -----------------------------------------------------------------------------------
if [ "$ALL_ADAPTERS" = 1 ]; then
    rm -f "$DEST/udev-serials"
elif [ "$SERIALS_GIVEN" = 1 ]; then
    printf '%s\n' $SERIALS > "$DEST/udev-serials"
    chmod 644 "$DEST/udev-serials"
fi
install_rule

# --- boot hooks: put everything back after a firmware update ----------------------------------
# put_line FILE LINE OLD_LINES: LINE right after FILE's #! line, once; the lines in OLD_LINES
# (one per line) removed. The hook is the user's file: an "exit 0" or an if-block with an exit
# anywhere below would end it before a line further down runs. "|| true" in the line: a failing
# boot run must not end a hook written with "set -e" or "#!/bin/sh -e" either. Everything else of
# the file stays as it was, byte for byte: its other lines, CRLF line ends (the line gets one too,
# and a line of ours with a CR is still ours), and a missing final newline (so that uninstall.sh
# gives the file back exactly).
put_line() {
    nonl=0
    [ -z "$(tail -c 1 "$1")" ] || nonl=1
    awk -v line="$2" -v olds="$3" -v nonl="$nonl" '
        BEGIN { n_old = split(olds, old, "\n") }
        NR == 1 && /\r$/ { cr = "\r" }
        {
            t = $0
            sub(/\r$/, "", t)
            if (t == line) next
            for (k = 1; k <= n_old; k++) if (t == old[k]) next
            keep[++n] = $0
        }
        END {
            i = 1
            if (n >= 1 && keep[1] ~ /^#!/) { printf "%s\n", keep[1]; i = 2 }
            printf "%s%s", line, cr
            if (i <= n || !nonl) printf "\n"
            for (; i <= n; i++) printf (i < n || !nonl) ? "%s\n" : "%s", keep[i]
        }' "$1" > "$1.new.$$"
    if ! cmp -s "$1.new.$$" "$1"; then
        cat "$1.new.$$" > "$1"
    fi
    rm -f "$1.new.$$"
}

# install_hook FILE LINE OLD_LINES NAME: FILE gets LINE. When Settings -> General -> Support
# status -> "Disable custom startup scripts" renamed it to FILE.disabled, no new FILE is made
# (the GUI's "Re-enable" would refuse to bring the owner's back): the line goes into the disabled
# file instead, so re-enabling brings it too, and the owner is told. A hook that is not executable
# is made executable for its owner (a boot runs it only then); its mode is kept in
# $DEST/.NAME-mode for uninstall.sh, and a new hook is marked $DEST/.created-NAME.
DISABLED_HOOKS=
install_hook() {
    hook=$ROOT$1
    if [ ! -e "$hook" ] && [ -e "$hook.disabled" ]; then
        put_line "$hook.disabled" "$2" "$3"
        DISABLED_HOOKS="$DISABLED_HOOKS $1"
        return 0
    fi
    if [ ! -e "$hook" ]; then
        printf '#!/bin/sh\n' > "$hook"
        chmod 755 "$hook"
        : > "$DEST/.created-$4"
    fi
    put_line "$hook" "$2" "$3"
    if [ ! -x "$hook" ]; then
        [ -e "$DEST/.$4-mode" ] || stat -c %a "$hook" > "$DEST/.$4-mode"
        chmod u+x "$hook"
        say "made $1 executable for its owner, so that it runs at boot"
    fi
}

install_hook "$RCS_LOCAL" "$RCS_LINE" "" rcS-local
install_hook "$RC_LOCAL" "$RC_LINE" "$OLD_RC_LINE
$PYTHON_PLUGIN_RC_LINE" rc-local
if [ -n "$DISABLED_HOOKS" ] && [ "$BOOT" = 0 ]; then
    say "NOTE: custom startup scripts are disabled (Settings -> General -> Support status):"
    for hook in $DISABLED_HOOKS; do
        say "  $hook is $hook.disabled; this package's line was added to $hook.disabled"
    done
    say "  $NAME runs now, but after the next reboot it does not start, and after a firmware"
    say "  update serial-starter may take the adapter, until you choose \"Re-enable custom startup"
    say "  scripts\" there (or rename the .disabled files back)."
fi

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
