#!/bin/sh
# install.sh and uninstall.sh rehearsed in scratch roots shaped like Venus OS (/data, /service,
# /etc/udev/rules.d, /var/log), with the package staged exactly as the release tarball lays it
# out. Checks the installed files, that a second run changes nothing, that config.ini is kept,
# the rc.local line, the udev rule (with and without --serial), the upgrade from the Python
# plugin, and that uninstall leaves each root byte for byte as it was before.
#
#   tests/install/test_install.sh SOURCE_ROOT DAEMON_BINARY [sh|busybox|both]
#
# Runs everything with /bin/sh and the host's tools, and (when busybox is installed) with busybox
# sh and only busybox applets on PATH, as on Venus OS: both by default, or the one named (meson
# runs them as two tests). Ends "N passed, N failed".
set -u
TOP=${1:?usage: $0 SOURCE_ROOT DAEMON_BINARY}
DAEMON=${2:?usage: $0 SOURCE_ROOT DAEMON_BINARY}
WHICH=${3:-both}
NAME=dbus-lynx-distributor
RC_LINE="sh /data/$NAME/install.sh --boot || true"
RCS_LINE="sh /data/$NAME/install.sh --early || true"
OLD_RC_LINE="sh /data/$NAME/install.sh --boot"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/lynx-install-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
PASSED=0
FAILED=0
VARIANT=none

check() { # description, then a command that must succeed
    description=$1
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        echo "ok - [$VARIANT] $description"
    else
        FAILED=$((FAILED + 1))
        echo "not ok - [$VARIANT] $description"
    fi
}

# One line per entry: type, path, mode, and the content hash or the link target.
snapshot() {
    (cd "$1" && find . -print | LC_ALL=C sort | while IFS= read -r p; do
        if [ -L "$p" ]; then
            echo "L $p -> $(readlink "$p")"
        elif [ -d "$p" ]; then
            echo "D $p $(stat -c %a "$p")"
        else
            echo "F $p $(stat -c %a "$p") $(sha256sum < "$p" | cut -d ' ' -f 1)"
        fi
    done)
}

same_tree() { # root, saved snapshot file
    snapshot "$1" > "$SCRATCH/now.txt"
    if cmp -s "$2" "$SCRATCH/now.txt"; then
        return 0
    fi
    diff "$2" "$SCRATCH/now.txt" | sed 's/^/#   /'
    return 1
}

venus_root() { # a fresh scratch root with what a GX device has before the install
    r=$SCRATCH/root-$1
    rm -rf "$r"
    mkdir -p "$r/data/conf" "$r/service" "$r/etc/udev/rules.d" "$r/var/log" "$r/opt/victronenergy/x"
    echo '<Settings/>' > "$r/data/conf/settings.xml"
    echo 'ACTION=="add", KERNEL=="ttyS4", ENV{VE_SERVICE}="mkx"' > "$r/etc/udev/rules.d/machine.rules"
    ln -s /opt/victronenergy/x "$r/service/other-service"
    echo "$r"
}

run_install() { # root, extra arguments...; output in $SCRATCH/out.txt
    r=$1
    shift
    $SH "$PKG/install.sh" --root "$r" "$@" > "$SCRATCH/out.txt" 2>&1
}

run_boot() { # what /data/rc.local runs, with the installed install.sh
    $SH "$1/data/$NAME/install.sh" --root "$1" --boot > "$SCRATCH/out.txt" 2>&1
}

run_early() { # what /data/rcS.local runs
    $SH "$1/data/$NAME/install.sh" --root "$1" --early > "$SCRATCH/out.txt" 2>&1
}

run_uninstall() {
    r=$1
    shift
    $SH "$r/data/$NAME/uninstall.sh" --root "$r" "$@" > "$SCRATCH/out.txt" 2>&1
}

fails() { # the command must fail
    ! "$@"
}

count_lines() { # file, exact line
    grep -cxF "$2" "$1" 2>/dev/null || true
}

has_mode() { # path, octal mode
    [ "$(stat -c %a "$1")" = "$2" ]
}

fresh_install_and_uninstall() {
    r=$(venus_root fresh)
    app=$r/data/$NAME
    snapshot "$r" > "$SCRATCH/before.txt"

    check "install succeeds" run_install "$r"
    check "the daemon is installed executable and unchanged" cmp -s "$DAEMON" "$app/$NAME"
    check "daemon mode 755" has_mode "$app/$NAME" 755
    check "service/run execs the daemon with the config" \
        grep -qxF "exec /data/$NAME/$NAME -c /data/$NAME/config.ini" "$app/service/run"
    check "service/run sends stderr to the log" grep -qxF 'exec 2>&1' "$app/service/run"
    check "service/run and log/run are executable" test -x "$app/service/run" -a -x "$app/service/log/run"
    check "log/run runs multilog" \
        grep -qxF "exec multilog t s25000 n4 /var/log/$NAME" "$app/service/log/run"
    check "/service link points at the service directory" \
        test "$(readlink "$r/service/$NAME")" = "/data/$NAME/service"
    check "config.ini is created from config.sample.ini" cmp -s "$TOP/config.sample.ini" "$app/config.ini"
    check "README, uninstall.sh and VERSION come along" \
        test -f "$app/README.md" -a -x "$app/uninstall.sh" -a -s "$app/VERSION"
    rule=$r/etc/udev/rules.d/99-$NAME.rules
    check "udev rule ignores the stock FT232H" \
        grep -q 'ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6014", ENV{VE_SERVICE}="ignore"' "$rule"
    check "udev rule ignores the custom-PID adapter" \
        grep -q 'ATTRS{idVendor}=="0403", ATTRS{idProduct}=="d4f8", ENV{VE_SERVICE}="ignore"' "$rule"
    check "a new rc.local is executable and starts with #!/bin/sh" \
        test -x "$r/data/rc.local" -a "$(head -n 1 "$r/data/rc.local")" = '#!/bin/sh'
    check "rc.local re-runs install.sh exactly once" test "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 1
    check "a new rcS.local is executable, and its second line puts the rule back early" \
        test -x "$r/data/rcS.local" -a "$(cat "$r/data/rcS.local")" = "$(printf '#!/bin/sh\n%s' "$RCS_LINE")"
    check "without --serial, no rule for FT2232H or FT4232H" \
        test "$(grep -v '^#' "$rule" | grep -c '"601[01]"')" = 0
    check "other udev rules, services and settings are untouched" \
        test -f "$r/etc/udev/rules.d/machine.rules" -a -L "$r/service/other-service" -a -f "$r/data/conf/settings.xml"

    snapshot "$r" > "$SCRATCH/installed.txt"
    check "a second install succeeds" run_install "$r"
    check "a second install changes nothing" same_tree "$r" "$SCRATCH/installed.txt"
    check "the boot run from rc.local succeeds" run_boot "$r"
    check "the boot run changes nothing" same_tree "$r" "$SCRATCH/installed.txt"
    check "the boot run is quiet" test ! -s "$SCRATCH/out.txt"
    check "the early run from rcS.local succeeds" run_early "$r"
    check "the early run changes nothing" same_tree "$r" "$SCRATCH/installed.txt"
    # A firmware update: a new rootfs without the rule. rcS.local runs before svscan.
    rm "$rule"
    check "after a firmware update the early run succeeds" run_early "$r"
    check "... and is quiet" test ! -s "$SCRATCH/out.txt"
    check "... and puts the rule back, before serial-starter starts" same_tree "$r" "$SCRATCH/installed.txt"

    # What svscan and multilog leave behind on a running system.
    mkdir -p "$app/service/supervise" "$app/service/log/supervise" "$r/var/log/$NAME"
    echo "@4000 started" > "$r/var/log/$NAME/current"

    # An upgrade: a newer package (different daemon) over an edited config.ini.
    echo "# edited by the user" >> "$app/config.ini"
    cp "$app/config.ini" "$SCRATCH/edited.ini"
    cp "$DAEMON" "$SCRATCH/newer-daemon"
    printf 'newer' >> "$SCRATCH/newer-daemon"
    cp "$SCRATCH/newer-daemon" "$PKG/$NAME"
    check "installing a newer package succeeds" run_install "$r"
    check "the newer daemon replaces the old one" cmp -s "$SCRATCH/newer-daemon" "$app/$NAME"
    check "an edited config.ini is kept" cmp -s "$SCRATCH/edited.ini" "$app/config.ini"
    check "the install says it kept config.ini" grep -q "keeping /data/$NAME/config.ini" "$SCRATCH/out.txt"
    check "rc.local still has the line once" test "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 1
    cp "$DAEMON" "$PKG/$NAME"

    check "uninstall succeeds" run_uninstall "$r"
    check "uninstall leaves the root exactly as before the install" same_tree "$r" "$SCRATCH/before.txt"
    check "uninstalling again (with the package's uninstall.sh) is harmless" \
        eval '$SH "$PKG/uninstall.sh" --root "$r" > "$SCRATCH/out.txt" 2>&1'
    check "... and still leaves the root as before" same_tree "$r" "$SCRATCH/before.txt"
}

existing_rc_local() {
    r=$(venus_root rclocal)
    printf '#!/bin/sh\n# mine\n/data/other/start.sh &\nexit 0\n' > "$r/data/rc.local"
    chmod 700 "$r/data/rc.local"
    snapshot "$r" > "$SCRATCH/before.txt"
    check "install with an existing rc.local succeeds" run_install "$r"
    check "the line goes right after the #! line, the user's lines stay" test \
        "$(cat "$r/data/rc.local")" = "$(printf '#!/bin/sh\n%s\n# mine\n/data/other/start.sh &\nexit 0' "$RC_LINE")"
    check "the rc.local mode is kept" has_mode "$r/data/rc.local" 700
    check "uninstall restores the user's rc.local exactly" run_uninstall "$r"
    check "... and the whole root" same_tree "$r" "$SCRATCH/before.txt"
}

# Runs rc.local as the boot would, with the boot line replaced by an echo: does the line run?
boot_line_runs() { # root
    awk -v line="$RC_LINE" '{ t = $0; sub(/\r$/, "", t) } t == line { print "echo BOOT-LINE-RAN"; next } { print }' \
        "$1/data/rc.local" > "$SCRATCH/rc.local.sh"
    $SH "$SCRATCH/rc.local.sh" 2>/dev/null | grep -qxF BOOT-LINE-RAN
}

rc_local_shapes() {
    n=0
    for shape in \
        '#!/bin/sh\nif [ -d /data ]; then\n    /data/other/start.sh &\n    exit 0\nfi\nexit 1\n' \
        '#!/bin/sh -e\nfalse\necho never\n' \
        '#!/bin/bash\nset -e\nexit 0\n' \
        'exit 0\n' \
        '#!/bin/sh\ncase x in x) exit 0 ;; esac\n' \
        ''; do
        n=$((n + 1))
        r=$(venus_root shape$n)
        printf "$shape" > "$r/data/rc.local"
        chmod 755 "$r/data/rc.local"
        cp "$r/data/rc.local" "$SCRATCH/rc.before"
        run_install "$r"
        check "rc.local shape $n: the boot line runs" boot_line_runs "$r"
        check "rc.local shape $n: the line is there once" \
            test "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 1
        run_uninstall "$r"
        check "rc.local shape $n: uninstall restores it" cmp -s "$SCRATCH/rc.before" "$r/data/rc.local"
    done

    # 0.1.0 put its line before the first exit, inside an if-block here: an upgrade moves it.
    r=$(venus_root oldline)
    printf '#!/bin/sh\nif true; then\n%s\nexit 0\nfi\n' "$OLD_RC_LINE" > "$r/data/rc.local"
    check "install over a 0.1.0 rc.local line succeeds" run_install "$r"
    check "the old line is gone" test "$(count_lines "$r/data/rc.local" "$OLD_RC_LINE")" = 0
    check "the new line runs" boot_line_runs "$r"
    snapshot "$r" > "$SCRATCH/installed.txt"
    check "the boot run then changes nothing" run_boot "$r"
    check "... nothing at all" same_tree "$r" "$SCRATCH/installed.txt"
    run_uninstall "$r"
    check "uninstall removes the line" test "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 0
}

uninstall_nothing() {
    r=$(venus_root nothing)
    snapshot "$r" > "$SCRATCH/before.txt"
    check "uninstall with nothing installed succeeds" \
        eval '$SH "$PKG/uninstall.sh" --root "$r" > "$SCRATCH/out.txt" 2>&1'
    check "it says nothing was installed" grep -q "$NAME is not installed" "$SCRATCH/out.txt"
    check "it does not claim to have removed anything" fails grep -q '^removed' "$SCRATCH/out.txt"
    check "the root is unchanged" same_tree "$r" "$SCRATCH/before.txt"
}

python_plugin_upgrade() {
    r=$(venus_root python)
    app=$r/data/$NAME
    mkdir -p "$app/service/log" "$app/dbus_lynx_distributor"
    printf '[general]\npid = 0x0403\nvid = 0xD4F8\n\n[ftdi:FT8ZT9MF]\nname = Boat\n' > "$app/config.ini"
    cp "$app/config.ini" "$SCRATCH/python.ini"
    printf '#!/bin/sh\nexec python -m dbus_lynx_distributor -c config.ini -v\n' > "$app/service/run"
    echo "print('old')" > "$app/dbus_lynx_distributor/__main__.py"
    printf '#!/bin/bash\n\nbash /data/%s/install.sh\n' "$NAME" > "$r/data/rc.local"
    chmod 777 "$r/data/rc.local"
    ln -s "/data/$NAME/service" "$r/service/$NAME"
    check "install over the Python plugin succeeds" run_install "$r"
    check "its config.ini is kept" cmp -s "$SCRATCH/python.ini" "$app/config.ini"
    check "its service/run is replaced" grep -qxF "exec /data/$NAME/$NAME -c /data/$NAME/config.ini" "$app/service/run"
    check "its rc.local line is replaced by ours" test \
        "$(count_lines "$r/data/rc.local" "bash /data/$NAME/install.sh")" = 0 -a \
        "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 1
    check "uninstall --keep-config succeeds" run_uninstall "$r" --keep-config
    check "only config.ini is left in /data/$NAME" test "$(ls -A "$app")" = config.ini
    check "the kept config.ini is the user's" cmp -s "$SCRATCH/python.ini" "$app/config.ini"
    check "the /service link is gone" test ! -e "$r/service/$NAME" -a ! -L "$r/service/$NAME"
}

serial_rules() {
    r=$(venus_root serial)
    rule=$r/etc/udev/rules.d/99-$NAME.rules
    check "install --serial succeeds" run_install "$r" --serial FT8ZT9MF --serial FTABC123
    check "every rule line names one of the serials" \
        test "$(grep -v '^#' "$rule" | grep -c 'ATTRS{serial}=="FT[A-Z0-9]*"')" = 8
    check "no rule line matches every adapter" \
        test "$(grep -v '^#' "$rule" | grep -vc 'ATTRS{serial}')" = 0
    for pid in 6014 d4f8 6010 6011; do
        check "each serial gets a rule for 0403:$pid (FT2232H, FT4232H: every port)" test \
            "$(grep -c "^ACTION==\"add\", SUBSYSTEM==\"tty\", SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"0403\", ATTRS{idProduct}==\"$pid\", ATTRS{serial}==\"FTABC123\", ENV{VE_SERVICE}=\"ignore\"\$" "$rule")" = 1
    done
    snapshot "$r" > "$SCRATCH/installed.txt"
    check "each serial gets its config.ini section" \
        test "$(grep -c '^\[ftdi:FT8ZT9MF\]$\|^\[ftdi:FTABC123\]$' "$r/data/dbus-lynx-distributor/config.ini")" = 2
    check "the boot run keeps the serials" run_boot "$r"
    check "... so nothing changes" same_tree "$r" "$SCRATCH/installed.txt"
    check "install --serial again" run_install "$r" --serial ftabc123
    check "... adds no second section (serials match in any case)" \
        test "$(grep -ci '^\[ftdi:FTABC123\]$' "$r/data/dbus-lynx-distributor/config.ini")" = 1
    check "install --i2c 1 --i2c 007" run_install "$r" --i2c 1 --i2c 007
    check "... gives [i2c:1] and [i2c:7]" \
        test "$(grep -c '^\[i2c:1\]$\|^\[i2c:7\]$' "$r/data/dbus-lynx-distributor/config.ini")" = 2
    check "install --i2c 7 again" run_install "$r" --i2c 7
    check "... adds no second section" \
        test "$(grep -c '^\[i2c:7\]$' "$r/data/dbus-lynx-distributor/config.ini")" = 1
    check "install --all-adapters succeeds" run_install "$r" --all-adapters
    check "the rule matches every adapter again" cmp -s "$TOP/udev/99-$NAME.rules" "$rule"
    run_uninstall "$r"
}

# Settings -> General -> Support status -> "Disable custom startup scripts" renamed the owner's
# hooks: install.sh must not make new ones (the GUI's "Re-enable" would then refuse).
disabled_hooks() {
    r=$(venus_root disabled)
    printf '#!/bin/sh\n/data/mine/start.sh &\n' > "$r/data/rc.local.disabled"
    printf '#!/bin/sh\necho early\n' > "$r/data/rcS.local.disabled"
    chmod 755 "$r/data/rc.local.disabled" "$r/data/rcS.local.disabled"
    cp "$r/data/rc.local.disabled" "$SCRATCH/rc.disabled.before"
    snapshot "$r" > "$SCRATCH/before.txt"
    check "install with custom startup scripts disabled succeeds" run_install "$r"
    check "no new rc.local or rcS.local is made" test ! -e "$r/data/rc.local" -a ! -e "$r/data/rcS.local"
    check "the boot lines go into the disabled files, so re-enabling brings them" test \
        "$(cat "$r/data/rc.local.disabled")" = "$(printf '#!/bin/sh\n%s\n/data/mine/start.sh &' "$RC_LINE")" -a \
        "$(count_lines "$r/data/rcS.local.disabled" "$RCS_LINE")" = 1
    check "the install says so, and what to do" \
        grep -q 'custom startup scripts are disabled' "$SCRATCH/out.txt"
    check "... naming the GUI's button" grep -q 'Re-enable custom startup' "$SCRATCH/out.txt"
    snapshot "$r" > "$SCRATCH/installed.txt"
    check "a second install changes nothing" run_install "$r"
    check "... nothing at all" same_tree "$r" "$SCRATCH/installed.txt"
    # The owner re-enables them: the GUI renames the files back.
    mv "$r/data/rc.local.disabled" "$r/data/rc.local"
    mv "$r/data/rcS.local.disabled" "$r/data/rcS.local"
    check "after re-enabling, the boot run succeeds" run_boot "$r"
    check "... and the hook has the line once" test "$(count_lines "$r/data/rc.local" "$RC_LINE")" = 1
    mv "$r/data/rc.local" "$r/data/rc.local.disabled"
    mv "$r/data/rcS.local" "$r/data/rcS.local.disabled"
    check "uninstall succeeds" run_uninstall "$r"
    check "uninstall restores the disabled files and the whole root" same_tree "$r" "$SCRATCH/before.txt"
}

# The owner's hooks come back byte for byte: mode, CRLF line ends, a missing final newline.
owner_files() {
    n=0
    for shape in 644:'#!/bin/sh\n/data/mine/start.sh &\n' 600:'#!/bin/sh\necho mine\n' \
        755:'#!/bin/sh\r\necho windows\r\n' 755:'#!/bin/sh\necho no-final-newline' \
        755:'#!/bin/sh' 640:'echo no-shebang\r\nexit 0'; do
        n=$((n + 1))
        mode=${shape%%:*}
        r=$(venus_root owner$n)
        for hook in rc.local rcS.local; do
            printf "${shape#*:}" > "$r/data/$hook"
            chmod "$mode" "$r/data/$hook"
        done
        snapshot "$r" > "$SCRATCH/before.txt"
        run_install "$r"
        check "owner's hooks $n (mode $mode): the boot lines are there once" test \
            "$(tr -d '\r' < "$r/data/rc.local" | grep -cxF "$RC_LINE")" = 1 -a \
            "$(tr -d '\r' < "$r/data/rcS.local" | grep -cxF "$RCS_LINE")" = 1
        check "owner's hooks $n: executable, so that they run" test -x "$r/data/rc.local" -a -x "$r/data/rcS.local"
        check "owner's hooks $n: the boot line runs" boot_line_runs "$r"
        run_install "$r"
        run_boot "$r"
        check "owner's hooks $n: a second install and a boot run add no second line" test \
            "$(tr -d '\r' < "$r/data/rc.local" | grep -cxF "$RC_LINE")" = 1
        run_uninstall "$r"
        check "owner's hooks $n: uninstall gives them back byte for byte, with their mode" \
            same_tree "$r" "$SCRATCH/before.txt"
    done
}

refusals() {
    r=$(venus_root refuse)
    snapshot "$r" > "$SCRATCH/before.txt"
    PKG_SAVED=$PKG
    PKG=$TOP # a source checkout: install.sh without the daemon next to it
    check "install.sh without a daemon next to it fails" fails run_install "$r"
    check "it names the problem" grep -q "no $NAME program next to install.sh" "$SCRATCH/out.txt"
    PKG=$PKG_SAVED
    check "unknown options are refused" fails run_install "$r" --bogus
    check "a serial with other characters is refused" fails run_install "$r" --serial 'a;b'
    check "an empty serial is refused" fails run_install "$r" --serial ''
    check "... naming the problem" grep -q 'empty' "$SCRATCH/out.txt"
    check "an empty --serial= is refused" fails run_install "$r" --serial=
    check "'A B' is refused, not taken as two serials" fails run_install "$r" --serial 'A B'
    check "... naming the serial" grep -q '"A B"' "$SCRATCH/out.txt"
    check "an --i2c that is not a number is refused" fails run_install "$r" --i2c one
    check "... naming the problem" grep -q 'bus number' "$SCRATCH/out.txt"
    check "an --i2c above 1023 is refused" fails run_install "$r" --i2c 1024
    check "refused runs leave the root unchanged" same_tree "$r" "$SCRATCH/before.txt"
}

run_all() {
    PKG=$SCRATCH/package-$VARIANT
    rm -rf "$PKG"
    "$TOP/tools/stage-package.sh" "$PKG" "$DAEMON" >/dev/null
    fresh_install_and_uninstall
    existing_rc_local
    python_plugin_upgrade
    serial_rules
    disabled_hooks
    owner_files
    refusals
    rc_local_shapes
    uninstall_nothing
}

if [ "$WHICH" != busybox ]; then
    VARIANT="sh"
    SH="sh"
    run_all
fi

if [ "$WHICH" = sh ]; then
    :
elif command -v busybox >/dev/null 2>&1; then
    # Venus OS has busybox: only its applets on PATH (the checks' own tools, sha256sum, stat,
    # find, diff, are busybox's too).
    BB=$SCRATCH/busybox-bin
    mkdir -p "$BB"
    for applet in $(busybox --list); do
        ln -s "$(command -v busybox)" "$BB/$applet"
    done
    VARIANT=busybox
    SH="$BB/sh"
    OLD_PATH=$PATH
    PATH=$BB
    run_all
    PATH=$OLD_PATH
else
    echo "# busybox not installed: the busybox variant was not run (apt-get install busybox)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
