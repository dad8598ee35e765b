#!/bin/sh
# Boots the guest of tools/vm.sh under QEMU and waits for it: the command lynx-sim runs (so
# lynx-sim owns the timeline and the control channel, and QEMU is its grandchild).
#   tools/vm/launch.sh RUN_DIR
# RUN_DIR/launch.conf (written by tools/vm.sh) sets ARCH, KERNEL, INITRAMFS, MODULES, ROOT,
# STAGE2, TIMEOUT, MEMORY and ACCEL. From lynx-sim's environment:
#   LYNX_SIM_CONTROL   the control socket: QEMU connects it to the guest's port "lynx.control"
#   LYNX_SIM_USBREDIR  usbredir sockets separated by spaces, one usb-redir device each on one xHCI
#                      controller (none when unset or empty)
# The guest's stdout and stderr arrive in RUN_DIR/stdout and RUN_DIR/stderr (virtio-serial ports
# written by QEMU) and are copied to this process's stdout and stderr as they grow. Writes
# RUN_DIR/result (the exit code) and exits with the command's exit code, or:
#   124  the guest did not finish within TIMEOUT seconds (QEMU stopped)
#   125  the guest failed: QEMU could not start, the kernel panicked, or the guest stopped without
#        reporting the command's exit code (the end of the console log is shown)
#   130  stopped by SIGINT, SIGTERM or SIGHUP (QEMU is stopped first)
set -u
RUN=$1
. "$RUN/launch.conf"
CONSOLE=$RUN/console.log
# Modules udevd would load for the emulated PC that only cost boot time (the mouse probe alone
# takes a second under TCG) or get in the way: the PIIX4 SMBus would be /dev/i2c-0 beside the
# CP2112's bus. modprobe by name still loads them.
BLACKLIST=psmouse,pcspkr,serio_raw,evdev,kvm,kvm_amd,kvm_intel,i2c_piix4,i2c_i801

say() { echo "vm.sh: $*" >&2; }
finish() { # CODE
    echo "$1" >"$RUN/result"
    exit "$1"
}
console_tail() {
    say "the last lines of the guest's console ($CONSOLE):"
    tail -n 25 "$CONSOLE" | sed 's/^/    /' >&2
}

# Device arguments are kept in the positional parameters (paths may hold spaces).
set -- -nodefaults -no-user-config -display none -no-reboot -smp 1 -m "$MEMORY" \
    -kernel "$KERNEL" -initrd "$INITRAMFS" \
    -chardev "file,id=console,path=$CONSOLE" -serial chardev:console \
    -fsdev "local,id=root,path=$ROOT,security_model=none,readonly=on,multidevs=remap" \
    -device virtio-9p-pci,fsdev=root,mount_tag=root \
    -device virtio-serial-pci,id=vser,ioeventfd=off \
    -chardev "file,id=status,path=$RUN/status,append=on" \
    -device virtserialport,bus=vser.0,chardev=status,name=lynx.status \
    -chardev "file,id=stdout,path=$RUN/stdout,append=on" \
    -device virtserialport,bus=vser.0,chardev=stdout,name=lynx.stdout \
    -chardev "file,id=stderr,path=$RUN/stderr,append=on" \
    -device virtserialport,bus=vser.0,chardev=stderr,name=lynx.stderr \
    -device qemu-xhci,id=xhci,p2=8,p3=8
APPEND="panic=-1 quiet lynx_stage2=\"$STAGE2\" lynx_run=\"$RUN\""
case $ARCH in
amd64)
    QEMU=qemu-system-x86_64
    set -- "$@" -machine pc -device isa-debug-exit,iobase=0xf4,iosize=1 -append \
        "console=ttyS0 $APPEND modprobe.blacklist=$BLACKLIST lynx_modules=\"$MODULES\""
    case $ACCEL in
    kvm) set -- "$@" -accel kvm -cpu host ;;
    *) set -- "$@" -accel tcg -cpu qemu64 ;;
    esac
    ;;
armhf)
    # The Cerbo GX's kind of CPU (Cortex-A7 there; the A15 has the same ARMv7 instruction set).
    # Its root is an armhf Debian; the host's root comes as a second share.
    QEMU=qemu-system-arm
    set -- "$@" -machine virt,highmem=off -cpu cortex-a15 -accel tcg \
        -fsdev "local,id=host,path=/,security_model=none,readonly=on,multidevs=remap" \
        -device virtio-9p-pci,fsdev=host,mount_tag=host \
        -append "console=ttyAMA0 $APPEND lynx_host=1"
    ;;
esac
# The control channel: QEMU connects once at start (lynx-sim made the socket before it ran this
# script) and again a second later should the connection ever drop.
if [ -n "${LYNX_SIM_CONTROL:-}" ]; then
    set -- "$@" -chardev "socket,id=control,path=$LYNX_SIM_CONTROL,reconnect=1"
else
    set -- "$@" -chardev null,id=control
fi
set -- "$@" -device virtserialport,bus=vser.0,chardev=control,name=lynx.control
n=0
for sock in ${LYNX_SIM_USBREDIR:-}; do
    set -- "$@" -chardev "socket,id=usb$n,path=$sock,reconnect=1" \
        -device "usb-redir,chardev=usb$n,id=redir$n,bus=xhci.0"
    n=$((n + 1))
done

: >"$RUN/status"
: >"$RUN/stdout"
: >"$RUN/stderr"
# QEMU's own messages go to a file: the caller's stderr is the command's.
timeout --kill-after=10 "$TIMEOUT" $QEMU "$@" </dev/null >"$RUN/qemu.log" 2>&1 &
qemu=$!
interrupted=0
trap 'interrupted=1; kill -TERM $qemu 2>/dev/null' INT TERM HUP
# tail -f --pid: copies what the file gains until QEMU is gone, then what is left, and exits.
tail -c +1 -s 0.1 -f --pid=$qemu "$RUN/stdout" &
out=$!
tail -c +1 -s 0.1 -f --pid=$qemu "$RUN/stderr" >&2 &
err=$!
rc=0
wait $qemu || rc=$?
while [ $rc -gt 128 ] && kill -0 $qemu 2>/dev/null; do # a signal came: QEMU is being stopped
    rc=0
    wait $qemu || rc=$?
done
wait $out $err

code=$(sed -n 's/^exit \([0-9]*\)$/\1/p' "$RUN/status")
started=$(sed -n 's/^started //p' "$RUN/status")
[ -n "$started" ] && echo "$started" >"$RUN/started"
if [ $interrupted = 1 ]; then
    say "stopped by a signal while the guest ran; QEMU stopped"
    finish 130
fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    say "the guest did not finish within $TIMEOUT s (--timeout); QEMU stopped"
    console_tail
    finish 124
fi
# x86: the guest wrote CODE to isa-debug-exit as well; elsewhere it powered off (QEMU exits 0).
if [ -n "$code" ] && { [ $(((code * 2 + 1) & 255)) -eq $rc ] || [ "$ARCH$rc" = armhf0 ]; }; then
    finish "$code"
fi
if grep -q 'Kernel panic' "$CONSOLE"; then
    say "the guest's kernel panicked$([ -n "$started" ] && echo " while the command ran"):" \
        "$(grep -m 1 -o 'Kernel panic.*' "$CONSOLE")"
elif [ $rc -eq 1 ] && [ ! -s "$CONSOLE" ]; then
    say "QEMU failed:"
    sed 's/^/    /' "$RUN/qemu.log" >&2
    finish 125
elif [ -z "$started" ]; then
    say "the guest never ran the command (QEMU exit status $rc)"
else
    say "the guest stopped while the command ran, without its exit code (QEMU exit status $rc)"
fi
[ -s "$RUN/qemu.log" ] && sed 's/^/    qemu: /' "$RUN/qemu.log" >&2
console_tail
finish 125
