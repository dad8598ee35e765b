#!/bin/sh
# The guest's PID 1 once tools/vm/init has switched to the host's root (read-only 9p under a tmpfs
# overlay, /dev, /proc, /sys and /run mounted, the drivers loaded): starts udevd, runs the command
# tools/vm.sh prepared, and ends the guest with its exit code. Settings come from the kernel
# command line (as environment variables):
#   lynx_run      the run directory of tools/vm.sh on the host (visible here at the same path):
#                 `command` is the script that sets the caller's environment and working directory
#                 and runs the command
#   lynx_modules  the directory holding lib/modules/<version> of the guest's kernel (amd64: the
#                 root is the host's, whose /lib/modules is not this kernel's)
#   lynx_host     1 in an armhf guest: the root is an armhf one, the host's root is under
#                 /run/host (writable, thrown away), and the run directory's `binds` lists the
#                 host directories to mount at their own paths (run directory, working directory,
#                 source tree, TMPDIR)
#
# What goes back to the host, each over a virtio-serial port (found by name in
# /sys/class/virtio-ports) that QEMU writes to a file of the run directory:
#   lynx.stdout, lynx.stderr  the command's output
#   lynx.status   "started UPTIME" before the command runs, "exit CODE" after
# then, on x86, CODE to the isa-debug-exit port (QEMU exits with (CODE << 1) | 1; elsewhere the
# guest powers off and QEMU exits 0). The ports are on a
# virtio-serial device without ioeventfd, so QEMU has written each write() of the guest to its
# file before the write returns: nothing is in flight when the guest ends.
# A failure before the command runs goes to the console and powers the guest off (QEMU exits 0).
# As PID 1, this shell also reaps the orphans the command leaves (while it waits for the command).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "lynx-vm guest: [$(cut -d ' ' -f 1 /proc/uptime)] $*" >/dev/console; }
poweroff() { # at once, without an init system (sysrq o)
    echo o >/proc/sysrq-trigger
    sleep 60
}
fail() {
    say "FAILED: $*"
    poweroff
}
status=""
report() { printf '%s\n' "$*" >"$status"; }
finish() { # CODE
    [ "$(uname -m)" = x86_64 ] || poweroff
    # The byte value CODE, written to I/O port 0xf4 (isa-debug-exit).
    printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
    fail "could not end the guest through isa-debug-exit (port 0xf4)"
}
port() { # NAME: the device of the virtio-serial port of that name
    for p in /sys/class/virtio-ports/*; do
        [ "$(cat "$p/name" 2>/dev/null)" = "$1" ] && echo "/dev/${p##*/}" && return
    done
    fail "no virtio-serial port named $1"
}

say "in the root"
if [ "${lynx_host:-}" = 1 ]; then
    while IFS= read -r dir; do
        mkdir -p "$dir" && mount --bind "/run/host$dir" "$dir" || fail "cannot mount the host's $dir"
    done <"/run/host$lynx_run/binds"
else
    [ -d "${lynx_modules:-}/lib/modules" ] || fail "no modules directory (lynx_modules=${lynx_modules:-})"
    # For udevd and modprobe: the guest kernel's modules, not the host's.
    mount --bind "$lynx_modules/lib/modules" /lib/modules || fail "cannot mount the modules"
fi
status=$(port lynx.status)
stdout=$(port lynx.stdout)
stderr=$(port lynx.stderr)
control=$(port lynx.control)

/lib/systemd/systemd-udevd --daemon || fail "systemd-udevd did not start"
udevadm trigger --action=add --subsystem-match=usb --subsystem-match=usbmisc --subsystem-match=hid --subsystem-match=hidraw --subsystem-match=i2c --subsystem-match=i2c-dev --subsystem-match=gpio
udevadm trigger --action=add --subsystem-match=tty --sysname-match='ttyUSB*' --sysname-match='ttyACM*'
udevadm settle --timeout=120 || say "udevadm settle: events still queued after 120 s"
say "udev settled"
ip link set lo up 2>/dev/null

[ -f "${lynx_run:-}/command" ] || fail "no command file (lynx_run=${lynx_run:-})"
report "started $(cut -d ' ' -f 1 /proc/uptime)"
# A clean environment: what the command file exports (an armhf guest keeps this PATH), the
# control channel's port, and LYNX_VM=1.
env -i PATH="$PATH" LYNX_SIM_CONTROL="$control" LYNX_VM=1 /bin/sh "$lynx_run/command" \
    </dev/null >"$stdout" 2>"$stderr"
code=$?
report "exit $code"
finish "$code"
