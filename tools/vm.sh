#!/bin/sh
# Runs a command in a QEMU guest with Debian's own Linux kernel, with the simulated adapters of a
# scenario plugged into the guest's USB (lynx-sim --usbredir). See docs/kernel.md.
#   tools/vm.sh [OPTIONS] -- COMMAND [ARG...]
# Exit status: COMMAND's, or 124 (timeout), 125 (the guest or this tool failed; the console log is
# kept and named), 126/127 (COMMAND not executable / not found in the guest), 130 (interrupted).
set -u
cd "$(dirname "$0")/.." || exit 125
SRC=$(pwd -P)
cd "$OLDPWD" || exit 125
CWD=$(pwd)

usage() {
    cat <<'EOF'
usage: tools/vm.sh [OPTIONS] -- COMMAND [ARG...]
Boots Debian's amd64 kernel under QEMU with the host's filesystem as a read-only root (a tmpfs
overlay on top: writable, thrown away), starts lynx-sim on the host with the adapters of the
scenario on the guest's USB (xHCI), and runs COMMAND in the guest as root, in the caller's working
directory, with its stdout and stderr passed through and its exit status returned.
  --scenario FILE     the simulated hardware and its timeline (lynx-sim's default without one)
  --replay TRACE      replay a recorded poll trace instead (with --speed X)
  --speed X           lynx-sim --speed (with --replay)
  --strict-timing     lynx-sim --strict-timing
  --control SOCKET    the control channel's socket on the host (default: in the run directory);
                      in the guest, LYNX_SIM_CONTROL names its virtio-serial port and
                      build/sim/lynx-simctl works with it
  --stats FILE        lynx-sim --stats: USB/MPSSE/I2C counters as JSON at the end
  --timeout SECONDS   stop the guest after this long, boot included (default 900): exit 124
  --memory MB         guest memory (default 256)
  --arch amd64|armhf  the guest: Debian's amd64 kernel on the host's own root (default), or
                      Debian's armmp kernel on an armhf Debian root (qemu-system-arm -M virt;
                      the caller's directory, the source tree, TMPDIR and the run directory are
                      the host's, mounted at their paths; PATH is the guest's)
  --build DIR         the build directory with sim/lynx-sim (default: build, in the source tree)
  --no-build          do not run ninja for lynx-sim and lynx-simctl first
  --prepare           install the packages and make the cached kernel, then exit
  -v, --verbose       wall time, the guest's uptime when COMMAND started, the accelerator and
                      the console log (kept) on stderr
Environment passed to COMMAND: PATH HOME USER LOGNAME CI TZ TERM TMPDIR LANG LANGUAGE LC_*
PYTHON* MESON_* LYNX_* (but LYNX_SIM_CONTROL, which is set to the guest's port, and
LYNX_SIM_USBREDIR), plus LYNX_VM=1. stdin is /dev/null.
LYNX_VM_ACCEL=tcg|kvm forces the accelerator (default: KVM only where it works: /dev/kvm, no
kvm_pvm, kvm_intel or kvm_amd loaded). LYNX_VM_KERNEL=VERSION picks another kernel package.
Exit status: COMMAND's; 124 timeout; 125 the guest failed (panic, never ran the command, QEMU or
lynx-sim failed; the console log is kept and named); 126/127 COMMAND not executable/not found;
130 interrupted (SIGINT, SIGTERM, SIGHUP). Details: docs/kernel.md.
EOF
}

say() { echo "vm.sh: $*" >&2; }
die() {
    say "$*"
    exit 125
}

SIM_ARGS=""
add_sim() { SIM_ARGS="$SIM_ARGS $1 $(quote "$2")"; }
# A shell word for any string (single quotes; also across newlines).
quote() { printf '%s\n' "$1" | sed "s/'/'\\\\''/g; 1s/^/'/; \$s/\$/'/"; }

BUILD=$SRC/build
ARCH=amd64
CONTROL=""
TIMEOUT=900
MEMORY=256
VERBOSE=0
BUILD_FIRST=1
PREPARE=0
while [ $# -gt 0 ]; do
    case $1 in
    --scenario | --replay | --speed | --stats)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $2 in /*) v=$2 ;; *) v=$CWD/$2 ;; esac
        [ "$1" = --speed ] && v=$2
        add_sim "$1" "$v"
        shift 2
        ;;
    --control)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $2 in /*) CONTROL=$2 ;; *) CONTROL=$CWD/$2 ;; esac
        shift 2
        ;;
    --strict-timing)
        SIM_ARGS="$SIM_ARGS --strict-timing"
        shift
        ;;
    --timeout | --memory)
        [ $# -ge 2 ] && [ "$2" -gt 0 ] 2>/dev/null || die "$1 needs a positive number"
        if [ "$1" = --timeout ]; then TIMEOUT=$2; else MEMORY=$2; fi
        shift 2
        ;;
    --build)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $2 in /*) BUILD=$2 ;; *) BUILD=$CWD/$2 ;; esac
        shift 2
        ;;
    --arch)
        case ${2:-} in amd64 | armhf) ARCH=$2 ;; *) die "--arch: amd64 or armhf" ;; esac
        shift 2
        ;;
    --no-build) BUILD_FIRST=0 && shift ;;
    --prepare) PREPARE=1 && shift ;;
    -v | --verbose) VERBOSE=1 && shift ;;
    -h | --help) usage && exit 0 ;;
    --) shift && break ;;
    *)
        usage >&2
        exit 125
        ;;
    esac
done
[ $PREPARE = 1 ] || [ $# -gt 0 ] || {
    usage >&2
    exit 125
}

# --- what the guest needs ------------------------------------------------------------------------
LISTS=vm
[ $ARCH = amd64 ] || LISTS="vm vm-$ARCH"
# shellcheck disable=SC2086 # the lists are words
"$SRC/tools/setup-debian.sh" --check $LISTS >/dev/null 2>&1 || "$SRC/tools/setup-debian.sh" $LISTS ||
    die "the packages the guest needs could not be installed (tools/setup-debian.sh $LISTS)"
kernel=$("$SRC/tools/vm/kernel.sh" --arch $ARCH) || die "no guest kernel (tools/vm/kernel.sh failed)"
KDIR=$(echo "$kernel" | sed -n 1p)
INITRAMFS=$(echo "$kernel" | sed -n 2p)
conf() { sed -n "s/^$1=//p" "$KDIR/guest.conf"; }
[ $PREPARE = 0 ] || exit 0

if [ $BUILD_FIRST = 1 ]; then
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$SRC" >/dev/null || die "meson setup $BUILD failed"
    fi
    ninja -C "$BUILD" sim/lynx-sim sim/lynx-simctl >/dev/null || die "ninja -C $BUILD failed"
fi
SIM=$BUILD/sim/lynx-sim
[ -x "$SIM" ] || die "no $SIM (build it: meson setup build && ninja -C build)"

ACCEL=${LYNX_VM_ACCEL:-}
if [ -z "$ACCEL" ]; then
    ACCEL=tcg
    # /dev/kvm alone is not enough: a paravirtual KVM (kvm_pvm) cannot run a stock kernel.
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] &&
        { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
        ACCEL=kvm
    fi
fi
case $ACCEL in tcg | kvm) ;; *) die "LYNX_VM_ACCEL must be tcg or kvm, not $ACCEL" ;; esac

# --- the run directory ---------------------------------------------------------------------------
# Its path goes on the kernel command line, in double quotes.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/lynx-vm.XXXXXX") || die "cannot make a run directory"
case $RUN$SRC$KDIR in *'"'* | *'
'*) die "a path with a double quote or a newline cannot go on the kernel command line: $RUN $SRC $KDIR" ;;
esac
[ -n "$CONTROL" ] || CONTROL=$RUN/control.sock

# The command file: the caller's environment and directory, then the command.
{
    echo "# made by tools/vm.sh; run by tools/vm/guest.sh in the guest"
    env -0 | sed -z -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | tr '\0' '\n' | sort -u |
        while IFS= read -r name; do
            case $name in
            LYNX_SIM_CONTROL | LYNX_SIM_USBREDIR) continue ;;
            PATH) [ $ARCH = amd64 ] || continue ;; # the host's programs are not armhf ones
            HOME | USER | LOGNAME | CI | TZ | TERM | TMPDIR | LANG | LANGUAGE | LC_*) ;;
            PYTHON* | MESON_* | LYNX_*) ;;
            *) continue ;;
            esac
            eval "value=\${$name}"
            # shellcheck disable=SC2154 # set by the eval
            printf 'export %s=' "$name" && quote "$value"
        done
    printf 'cd -- ' && quote "$CWD"
    echo '[ $? -eq 0 ] || { echo "vm.sh: cannot enter the working directory in the guest" >&2; exit 125; }'
    echo 'set --'
    for arg in "$@"; do
        printf 'set -- "$@" ' && quote "$arg"
    done
    # shellcheck disable=SC2016 # for the guest's shell
    echo 'command -v "$1" >/dev/null || { echo "vm.sh: $1: command not found in the guest" >&2; exit 127; }'
    echo 'exec "$@"'
} >"$RUN/command"
{
    echo "ARCH=$ARCH"
    echo "KERNEL=$(quote "$(conf KERNEL)")"
    echo "INITRAMFS=$(quote "$INITRAMFS")"
    echo "MODULES=$(quote "$(conf MODULES)")"
    echo "ROOT=$(quote "$(conf ROOT)")"
    echo "STAGE2=$(quote "$SRC/tools/vm/guest.sh")"
    echo "TIMEOUT=$TIMEOUT MEMORY=$MEMORY ACCEL=$ACCEL"
} >"$RUN/launch.conf"
# An armhf guest's root is not the host's: these host directories are mounted at their paths.
# ../shared next to the source tree (busitem-check, Victron's services) too, when it is there.
{
    printf '%s\n' "$RUN" "$CWD" "$SRC" "${TMPDIR:-/tmp}"
    [ -d "$SRC/../shared" ] && (cd "$SRC/../shared" && pwd -P)
} >"$RUN/binds"

# lynx-sim serves the scenario's USB adapters on sockets in RUN/usb (launch.sh plugs them in).
mkdir "$RUN/usb"
add_sim --usbredir "$RUN/usb"
add_sim --control "$CONTROL"

# --- run ------------------------------------------------------------------------------------------
start=$(date +%s.%N)
interrupted=0
sim=""
# A signal to this process alone (kill, timeout(1)) reaches QEMU through lynx-sim and the
# launcher; Ctrl-C reaches all of them at once.
trap 'interrupted=1; [ -n "$sim" ] && kill -TERM $sim 2>/dev/null' INT TERM HUP
eval "set -- $SIM_ARGS"
"$SIM" "$@" -- "$SRC/tools/vm/launch.sh" "$RUN" &
sim=$!
rc=0
wait $sim || rc=$?
while kill -0 $sim 2>/dev/null; do # a signal interrupted wait: lynx-sim passes it on
    rc=0
    wait $sim || rc=$?
done
end=$(date +%s.%N)

keep=$VERBOSE
if [ -f "$RUN/result" ]; then
    code=$(cat "$RUN/result")
    if [ "$code" != "$rc" ]; then
        say "lynx-sim exited $rc after the guest's command exited $code"
        code=125
    fi
else
    say "lynx-sim failed (exit status $rc) before the guest ran"
    code=125
fi
[ $interrupted = 1 ] && code=130
case $code in 124 | 125 | 130) keep=1 ;; esac
if [ $VERBOSE = 1 ]; then
    say "wall time $(awk "BEGIN { printf \"%.1f\", $end - $start }") s; guest uptime when the command" \
        "started: $(cat "$RUN/started" 2>/dev/null || echo '(never)') s; accelerator $ACCEL"
fi
if [ $keep = 1 ]; then
    rm -f "$RUN/stdout" "$RUN/stderr"
    say "console log: $RUN/console.log"
else
    rm -rf "$RUN"
fi
exit "$code"
