"""tools/vm.sh's own contract, each case one real boot of the guest (tests/vm/meson.build):

    test_vm.py CASE

  output     exit code 3; 1 MB of binary stdout into a file (between the caller's own writes,
             through the caller's file offset) and 1.5 MB of binary stderr into a pipe, each
             complete and separate; the working directory (a name with a space and a quote) and
             the environment passed (and only what the documentation lists); LYNX_SIM_CONTROL a
             virtio-serial port on which lynx-simctl works, even after a client left an unread
             answer and half a line; the scenario's two adapters on the guest's USB in scenario
             order, one unplugged and plugged in again from the guest; --stats written on the
             host; no run directory or process left behind
  tty        exit 0 with stdout and stderr a terminal: both arrive, the terminal's settings are
             untouched; --control SOCKET: the guest's lynx-simctl reaches it, and it is gone after
  not-found  a command the guest does not have: exit 127 and a message naming it
  panic      a kernel panic during the command: exit 125, the panic named, the console log kept
             and named, holding the panic
  timeout    a command that hangs past --timeout: exit 124, the message, the console log, QEMU
             and every other process of the run gone
  interrupt  SIGINT to the caller's process group while the command runs: exit 130, QEMU gone
  armhf      the output case in an armhf guest (nightly only: LYNX_NIGHTLY=1; LYNX_ARMHF_BUILD,
             default build-armhf-release, gives the armhf lynx-simctl, built there if missing)

Needs the packages of `tools/setup-debian.sh vm` and a guest kernel (`tools/vm.sh --prepare`
fetches one the first time): without them the case is skipped (exit 77), or fails with CI=true.
Paths from the environment: LYNX_SOURCE_ROOT, LYNX_BUILD_ROOT, LYNX_SIMCTL.
"""
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

SRC = os.environ["LYNX_SOURCE_ROOT"]
BUILD = os.environ["LYNX_BUILD_ROOT"]
SIMCTL = os.environ["LYNX_SIMCTL"]
VM = [os.path.join(SRC, "tools", "vm.sh"), "--build", BUILD, "--no-build"]
PROBE = os.path.join(SRC, "tests", "vm", "guest_probe.py")
# Two adapters: a reprogrammed FT232H (d4f8) and a stock one (6014).
SCENARIO = os.path.join(SRC, "fixtures", "scenarios", "two-adapters.scn")
SERIALS = ["LYNX0001", "FT6014X1"]
# The armhf build whose lynx-simctl the armhf case runs in the guest (CI's release build).
ARMHF_BUILD = os.environ.get("LYNX_ARMHF_BUILD", os.path.join(SRC, "build-armhf-release"))
# Bounds a whole vm.sh run (a boot is a few seconds; generous for a loaded machine).
RUN_LIMIT_S = 600


class Failure(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise Failure(msg)


def skip_or_fail(msg):
    if os.environ.get("CI") == "true":
        print(f"FAIL: {msg} (CI=true, so this fails instead of skipping)")
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(77)


def prerequisites():
    r = subprocess.run([os.path.join(SRC, "tools", "setup-debian.sh"), "--check", "vm"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip_or_fail(f"the guest's packages are not installed ({r.stdout.strip()}; "
                     "tools/setup-debian.sh vm installs them)")
    r = subprocess.run(VM + ["--prepare"], capture_output=True, text=True, timeout=RUN_LIMIT_S)
    if r.returncode != 0:
        skip_or_fail(f"no guest kernel (tools/vm.sh --prepare exited {r.returncode}):\n"
                     f"{r.stderr[-3000:]}")


def processes_mentioning(text):
    """PIDs whose command line contains text (QEMU, lynx-sim, the launcher and its tails all
    name the run directory or a file in it)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def require_nothing_left(tmp):
    left = processes_mentioning(tmp)
    require(not left, f"processes of the run left behind: {left}")


def kept_console_log(stderr):
    m = re.search(r"vm\.sh: console log: (\S+)", stderr)
    require(m, f"no console log named on stderr:\n{stderr}")
    require(os.path.isfile(m.group(1)), f"the console log {m.group(1)} does not exist")
    with open(m.group(1), errors="replace") as f:
        return f.read()


def case_output(tmp, arch="amd64", simctl=SIMCTL):
    blob_out = os.urandom(1 << 20)
    blob_err = os.urandom(1500000)
    for name, blob in (("out.bin", blob_out), ("err.bin", blob_err)):
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(blob)
    cwd = os.path.join(tmp, "a dir with 'quotes'")
    os.mkdir(cwd)
    tricky = "it's \"quoted\" $HOME `x`\nsecond line\n"
    env = dict(os.environ, LYNX_TEST_VALUE=tricky, MESON_TEST_VALUE="m", LANG="C.UTF-8",
               CI=os.environ.get("CI", "no"), NOT_PASSED_VALUE="x", PYTHONDONTWRITEBYTECODE="1")
    stats = os.path.join(tmp, "stats.json")
    script = ('cat "$1"; cat "$2" >&2; printf "\\n--probe--\\n" >&2; '
              '/usr/bin/python3 "$3" "$4" >&2; exit 3')
    with open(os.path.join(tmp, "stdout"), "wb") as out:
        os.write(out.fileno(), b"before\n")
        r = subprocess.run(VM + ["--arch", arch, "--scenario", SCENARIO, "--stats", stats,
                                 "--", "sh", "-c", script, "sh",
                                 os.path.join(tmp, "out.bin"), os.path.join(tmp, "err.bin"),
                                 PROBE, simctl],
                           cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE,
                           timeout=RUN_LIMIT_S)
        # The caller's own write after vm.sh: at the offset vm.sh's writes moved on.
        os.write(out.fileno(), b"after\n")
    err = r.stderr
    require(r.returncode == 3, f"exit status {r.returncode}, expected 3:\n{err[-3000:]!r}")
    with open(os.path.join(tmp, "stdout"), "rb") as f:
        got = f.read()
    require(got == b"before\n" + blob_out + b"after\n",
            f"stdout: {len(got)} bytes, not 'before', the 1 MB blob and 'after' "
            f"(blob found at {got.find(blob_out[:64])})")
    require(err[:len(blob_err)] == blob_err,
            f"stderr does not start with the 1.5 MB blob (found at {err.find(blob_err[:64])})")
    tail = err[len(blob_err):]
    require(tail.startswith(b"\n--probe--\n"), f"stderr after the blob: {tail[:300]!r}")
    probe = json.loads(tail[len(b"\n--probe--\n"):])

    require(probe["cwd"] == cwd, f"working directory {probe['cwd']!r}, expected {cwd!r}")
    require(probe["uid"] == 0, f"the command runs as uid {probe['uid']}, not root")
    machine = {"amd64": "x86_64", "armhf": "armv7l"}[arch]
    require(probe["machine"] == machine, f"the guest is {probe['machine']}, not {machine}")
    genv = probe["environ"]
    # An armhf guest keeps its own PATH (the host's programs are not armhf ones).
    for name in (("PATH",) if arch == "amd64" else ()) + (
            "HOME", "LANG", "CI", "LYNX_TEST_VALUE", "MESON_TEST_VALUE",
            "PYTHONDONTWRITEBYTECODE"):
        require(genv.get(name) == env[name],
                f"{name} in the guest: {genv.get(name)!r}, expected {env[name]!r}")
    require("NOT_PASSED_VALUE" not in genv, "a variable outside the documented set was passed")
    require(genv.get("LYNX_VM") == "1", f"LYNX_VM={genv.get('LYNX_VM')!r}, expected 1")
    require("LYNX_SIM_USBREDIR" not in genv, "the host's LYNX_SIM_USBREDIR reached the guest")
    require(probe["control_is_char_device"] and probe["control_port_name"] == "lynx.control",
            f"LYNX_SIM_CONTROL={genv.get('LYNX_SIM_CONTROL')!r} is not the lynx.control port "
            f"({probe['control_port_name']!r})")

    def answered(key, rc, stdout=None, stderr=None):
        a = probe[key]
        require(a["rc"] == rc and (stdout is None or a["stdout"] == stdout)
                and (stderr is None or stderr in a["stderr"]),
                f"lynx-simctl ({key}) in the guest: {a}")
    answered("echo", 0, "probe-1\n")
    answered("fuse", 0, "")
    answered("bad_serial", 1, stderr="no adapter with serial 'NOSUCH'")
    answered("echo_again", 0, "probe-2\n")
    answered("stats", 0)
    adapters = json.loads(probe["stats"]["stdout"])["adapters"]
    require([a["serial"] for a in adapters] == SERIALS, f"stats in the guest: {adapters}")
    with open(stats) as f:
        host_stats = json.load(f)
    require([a["serial"] for a in host_stats["adapters"]] == SERIALS,
            f"--stats on the host: {host_stats}")
    # The scenario's adapters on the guest's xHCI, one port each, in scenario order.
    require([d[1:] for d in probe["usb"]] == [["0403:d4f8", "LYNX0001"],
                                              ["0403:6014", "FT6014X1"]],
            f"USB devices in the guest: {probe['usb']}")
    answered("unplug", 0, "")
    require(probe["gone"], "LYNX0001 still in the guest's sysfs after unplug")
    answered("plug", 0, "")
    require(probe["back"], "LYNX0001 not back in the guest's sysfs after plug")
    left = [n for n in os.listdir(tmp) if n.startswith("lynx-vm.")]
    require(not left, f"run directories left after a successful run: {left}")


def case_tty(tmp):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    control = os.path.join(tmp, "control.sock")
    script = (f'echo out-line; echo err-line >&2; "{SIMCTL}" echo via-socket; '
              'test -t 1 || echo "stdout is no tty in the guest (as documented)"')
    proc = subprocess.Popen(VM + ["--control", control, "--", "sh", "-c", script],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=tmp)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + RUN_LIMIT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=60)
    text = seen.decode(errors="replace")
    require(rc == 0, f"exit status {rc}, expected 0:\n{text}")
    for line in ("out-line", "err-line", "via-socket"):
        require(line in text, f"{line!r} did not reach the terminal:\n{text}")
    after = termios.tcgetattr(master)
    require(after[:6] == before[:6], f"the terminal's settings changed: {before} -> {after}")
    os.close(master)
    require(not os.path.exists(control), f"the control socket {control} is left after the run")


def case_not_found(tmp):
    r = subprocess.run(VM + ["--", "no-such-command-in-the-guest", "arg"], capture_output=True,
                       text=True, cwd=tmp, timeout=RUN_LIMIT_S)
    require(r.returncode == 127, f"exit status {r.returncode}, expected 127:\n{r.stderr}")
    require("no-such-command-in-the-guest: command not found in the guest" in r.stderr,
            f"no clear message:\n{r.stderr}")


def case_panic(tmp):
    r = subprocess.run(VM + ["--", "sh", "-c", "echo c > /proc/sysrq-trigger"],
                       capture_output=True, text=True, cwd=tmp, timeout=RUN_LIMIT_S)
    require(r.returncode == 125, f"exit status {r.returncode}, expected 125:\n{r.stderr}")
    require("the guest's kernel panicked while the command ran" in r.stderr
            and "Kernel panic - not syncing" in r.stderr, f"the panic is not named:\n{r.stderr}")
    require("Kernel panic" in kept_console_log(r.stderr), "the console log holds no panic")
    require_nothing_left(tmp)


def case_timeout(tmp):
    r = subprocess.run(VM + ["--timeout", "40", "--", "sh", "-c",
                             "echo hanging >&2; exec sleep 100000"],
                       capture_output=True, text=True, cwd=tmp, timeout=RUN_LIMIT_S)
    require(r.returncode == 124, f"exit status {r.returncode}, expected 124:\n{r.stderr}")
    require("hanging" in r.stderr, f"the command never ran (boot slower than 40 s?):\n{r.stderr}")
    require("the guest did not finish within 40 s (--timeout); QEMU stopped" in r.stderr,
            f"no clear message:\n{r.stderr}")
    kept_console_log(r.stderr)
    require_nothing_left(tmp)


def case_interrupt(tmp):
    proc = subprocess.Popen(VM + ["--", "sh", "-c", "echo ready >&2; exec sleep 100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp,
                            start_new_session=True)
    seen = b""
    deadline = time.monotonic() + RUN_LIMIT_S
    while b"ready" not in seen and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            seen += os.read(proc.stderr.fileno(), 4096)
    require(b"ready" in seen, f"the command never started:\n{seen.decode(errors='replace')}")
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal does
    _, rest = proc.communicate(timeout=120)
    require(proc.returncode == 130,
            f"exit status {proc.returncode}, expected 130:\n{(seen + rest).decode()}")
    require_nothing_left(tmp)


def case_armhf(tmp):
    """The output case again in an armhf guest (Debian's armmp kernel, an armhf root), with the
    armhf build's lynx-simctl. Nightly only (LYNX_NIGHTLY=1): its first run makes the armhf root
    (half a minute) and the armhf build."""
    if os.environ.get("LYNX_NIGHTLY") != "1":
        print("SKIP: the armhf guest runs in the nightly only (LYNX_NIGHTLY=1)")
        sys.exit(77)
    r = subprocess.run([os.path.join(SRC, "tools", "setup-debian.sh"), "--check", "vm-armhf"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip_or_fail(f"the armhf guest's packages are not installed ({r.stdout.strip()}; "
                     "tools/setup-debian.sh vm-armhf installs them)")
    r = subprocess.run(VM + ["--arch", "armhf", "--prepare"], capture_output=True, text=True,
                       timeout=RUN_LIMIT_S)
    if r.returncode != 0:
        skip_or_fail(f"no armhf guest (tools/vm.sh --arch armhf --prepare exited "
                     f"{r.returncode}):\n{r.stderr[-3000:]}")
    simctl = os.path.join(ARMHF_BUILD, "sim", "lynx-simctl")
    r = subprocess.run(f'"{SRC}/tools/setup-armhf.sh" "{ARMHF_BUILD}" --buildtype=release && '
                       f'ninja -C "{ARMHF_BUILD}" sim/lynx-simctl', shell=True,
                       capture_output=True, text=True, timeout=RUN_LIMIT_S)
    require(r.returncode == 0, f"no armhf lynx-simctl in {ARMHF_BUILD}:\n{r.stdout}{r.stderr}")
    case_output(tmp, "armhf", simctl)


CASES = {"output": case_output, "armhf": case_armhf, "tty": case_tty, "not-found": case_not_found,
         "panic": case_panic, "timeout": case_timeout, "interrupt": case_interrupt}


def main():
    case = CASES[sys.argv[1]]
    prerequisites()
    tmp = tempfile.mkdtemp(prefix="lynx-vm-test.")
    os.environ["TMPDIR"] = tmp  # vm.sh makes its run directory there
    try:
        case(tmp)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


sys.exit(main())
