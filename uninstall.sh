#!/bin/sh
# Removes what install.sh made: stops the service, removes the /service link, the udev rule, the
# rcS.local and rc.local lines (also from rcS.local.disabled and rc.local.disabled; and each file
# itself when install.sh created it and nothing else was added), the log directory and
# /data/dbus-lynx-distributor. POSIX sh for busybox.
#
#   sh uninstall.sh [--root DIR] [--keep-config]
#
#   --root DIR       work under DIR instead of / (also ROOT=DIR); files only, no svc/remount
#   --keep-config    leave /data/dbus-lynx-distributor/config.ini (and only that) behind
#
# Left alone on purpose: the daemon's settings in localsettings (/data/conf/settings.xml: VRM
# instance, custom name, fuse names), so a later install gets the same device instance.
set -eu

NAME=dbus-lynx-distributor
APP=/data/$NAME
RULE=/etc/udev/rules.d/99-$NAME.rules
SERVICE_LINK=/service/$NAME
RC_LOCAL=/data/rc.local
RC_LINE="sh $APP/install.sh --boot || true"
OLD_RC_LINE="sh $APP/install.sh --boot" # written by 0.1.0
RCS_LOCAL=/data/rcS.local
RCS_LINE="sh $APP/install.sh --early || true"

ROOT=${ROOT:-}
KEEP_CONFIG=0

die() {
    printf '%s: %s\n' "$NAME uninstall" "$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
    --root=*) ROOT=${1#--root=} ;;
    --keep-config) KEEP_CONFIG=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
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
DEST=$ROOT$APP
HOOKS="$ROOT$RCS_LOCAL $ROOT$RCS_LOCAL.disabled $ROOT$RC_LOCAL $ROOT$RC_LOCAL.disabled"

has_line() { # file (our lines, with or without a CR at the end)
    [ -f "$1" ] && tr -d '\r' < "$1" | grep -qxF -e "$RC_LINE" -e "$OLD_RC_LINE" -e "$RCS_LINE"
}

any_hook_line() {
    for hook in $HOOKS; do
        has_line "$hook" && return 0
    done
    return 1
}

if [ ! -e "$DEST" ] && [ ! -L "$ROOT$SERVICE_LINK" ] && [ ! -e "$ROOT$SERVICE_LINK" ] &&
    [ ! -e "$ROOT$RULE" ] && [ ! -e "$ROOT/var/log/$NAME" ] && ! any_hook_line; then
    echo "$NAME is not installed: no $APP, $SERVICE_LINK, $RULE, boot hook line or log; nothing removed"
    exit 0
fi

# The service: unlink it first so svscan does not restart it, then stop the daemon and logger
# and their supervise processes.
if [ -L "$ROOT$SERVICE_LINK" ] || [ -e "$ROOT$SERVICE_LINK" ]; then
    rm -rf "$ROOT$SERVICE_LINK"
fi
if [ -z "$ROOT" ] && [ -d "$DEST/service" ] && command -v svc >/dev/null 2>&1; then
    svc -dx "$DEST/service" "$DEST/service/log" 2>/dev/null || true
fi

# The udev rule lives on the read-only rootfs.
if [ -e "$ROOT$RULE" ]; then
    if [ -z "$ROOT" ] && ! rm -f "$RULE" 2>/dev/null; then
        mount -o remount,rw / || die "cannot remount / read-write"
        status=0
        rm -f "$RULE" || status=$?
        mount -o remount,ro / || true
        [ "$status" = 0 ] || die "cannot remove $RULE"
    else
        rm -f "$ROOT$RULE"
    fi
    if [ -z "$ROOT" ] && command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload-rules || true
    fi
fi

# remove_line FILE NAME: our lines out of a boot hook (also with a CR: a hook with CRLF line ends
# got one), everything else byte for byte, a missing final newline too; its mode back if
# install.sh changed it ($DEST/.NAME-mode); the hook itself removed when install.sh created it
# ($DEST/.created-NAME) and "#!/bin/sh" is all that is left.
remove_line() {
    [ -f "$1" ] || return 0
    if has_line "$1"; then
        nonl=0
        [ -z "$(tail -c 1 "$1")" ] || nonl=1
        awk -v a="$RC_LINE" -v b="$OLD_RC_LINE" -v c="$RCS_LINE" -v nonl="$nonl" '
            { t = $0; sub(/\r$/, "", t) }
            t == a || t == b || t == c { next }
            { keep[++n] = $0 }
            END { for (i = 1; i <= n; i++) printf (i < n || !nonl) ? "%s\n" : "%s", keep[i] }
        ' "$1" > "$1.new.$$"
        cat "$1.new.$$" > "$1"
        rm -f "$1.new.$$"
    fi
    if [ -f "$DEST/.$2-mode" ]; then
        chmod "$(cat "$DEST/.$2-mode")" "$1"
    fi
    if [ -f "$DEST/.created-$2" ] && [ -z "$(grep -v '^#!/bin/sh$' "$1" | tr -d ' \t\n')" ]; then
        rm -f "$1"
    fi
}
remove_line "$ROOT$RCS_LOCAL" rcS-local
remove_line "$ROOT$RCS_LOCAL.disabled" rcS-local
remove_line "$ROOT$RC_LOCAL" rc-local
remove_line "$ROOT$RC_LOCAL.disabled" rc-local

rm -rf "$ROOT/var/log/$NAME"

if [ "$KEEP_CONFIG" = 1 ] && [ -f "$DEST/config.ini" ]; then
    for entry in "$DEST"/* "$DEST"/.[!.]*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        [ "$entry" = "$DEST/config.ini" ] || rm -rf "$entry"
    done
    echo "removed $NAME; kept $APP/config.ini"
else
    rm -rf "$DEST"
    echo "removed $NAME"
fi
