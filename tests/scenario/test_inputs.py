#!/usr/bin/python3
"""Bad input gets a clear answer (issue 12): the recording target, the daemon's and lynx-sim's
options, cut traces, and the signals a supervisor or a person sends to the running daemon.

  test_inputs.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)

Each test asserts what a user sees: exit codes, log lines, files, the D-Bus service.
"""
import os
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, ini, program, require, run, started, test  # noqa: E402

ALARM = 2
TRACE_HEADER = ("lynx-trace 1 poll-interval-ms=100\n"
                "adapter LYNX0001 vid=0x0403 pid=0xd4f8\n")


def wait_for_log(h, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in h.log_text():
        require(time.monotonic() < deadline, f"no log line with {text!r}:\n{h.log_text()}")
        h.pump(0.05)


def sim(*args, timeout=20):
    return subprocess.run([program("LYNX_SIM"), *args], capture_output=True, text=True,
                          timeout=timeout)


# ---- the recording target ---------------------------------------------------------------------

@test
def record_to_a_device_is_refused_at_start_and_the_device_is_left_alone():
    with Harness() as h:
        cfg = h.write_config(ini())
        for target in ("/dev/full", "/dev/null"):
            r = h.run_daemon_alone(["-c", cfg, "--record", target])
            require(r.returncode == 2, f"--record {target}: exit {r.returncode}\n{r.stderr}")
            require(f"{target} is not a regular file" in r.stderr and "not starting" in r.stderr,
                    f"--record {target}: the log does not say why it stops:\n{r.stderr}")
            require("recording stopped" not in r.stderr, r.stderr)
            require(stat.S_ISCHR(os.stat(target).st_mode), f"{target} is no longer a device")
            require(not os.path.exists(target + ".1"), f"{target}.1 exists")
        r = h.run_daemon_alone(["-c", cfg, "--record", h.tmp])
        require(r.returncode == 2 and "is not a regular file" in r.stderr, r.stderr)


@test
def daemon_options_name_the_real_problem():
    with Harness() as h:
        cfg = h.write_config(ini())
        trace = os.path.join(h.tmp, "t.trace")
        cases = [
            (["--record", trace, "--record-max", "17179869184G"], "is too large"),
            (["--record", trace, "--record-max", "100"], "below the minimum of 4096 bytes"),
            (["--record", trace, "--record-max", "4MB"], "expected a size in bytes"),
            (["--record-max", "4M"], "--record-max without --record"),
            (["--polls", " 5"], "--polls: expected a positive number, got ' 5'"),
            (["--diagnostics-interval", " 5"], "--diagnostics-interval: expected 1-86400"),
        ]
        for args, message in cases:
            r = h.run_daemon_alone(["-c", cfg, *args])
            require(r.returncode == 2, f"{args}: exit {r.returncode}\n{r.stderr}")
            require(message in r.stderr, f"{args}: no {message!r} in:\n{r.stderr}")
            require("at least 4096" not in r.stderr or "100" in args, f"{args}: {r.stderr}")
        # no D-Bus, and no adapter whose service would find that out: exit 1, as a service
        # that cannot connect does, for the supervisor to try again
        empty = h.write_config("[general]\n", "empty.ini")
        r = h.run_daemon_alone(["-c", empty])
        require(r.returncode == 1 and "cannot connect to D-Bus" in r.stderr,
                f"no D-Bus, no adapter: exit {r.returncode}\n{r.stderr}")


# ---- lynx-sim ----------------------------------------------------------------------------------

@test
def lynx_sim_options_and_inputs_name_the_real_problem():
    with Harness() as h:
        scn = os.path.join(program("SCENARIO_FIXTURES"), "all-ok.scn")
        r = sim("--scenario", scn, "--stats", "/dev/full", "--", "true")
        require(r.returncode != 0 and "--stats /dev/full: cannot write" in r.stderr,
                f"--stats /dev/full: exit {r.returncode}: {r.stderr!r}")
        r = sim("--scenario", scn, "--speed", "2", "--", "true")
        require(r.returncode == 2 and "--speed applies to --replay only" in r.stderr, r.stderr)
        r = sim("--scenario", h.tmp, "--", "true")
        require(r.returncode == 2 and f"{h.tmp}: cannot read: Is a directory" in r.stderr,
                r.stderr)
        nul = os.path.join(h.tmp, "nul.scn")
        with open(nul, "wb") as f:
            f.write(b"adapter LYNX0001\x00\ndistributor LYNX0001 A\n")
        r = sim("--scenario", nul, "--", "true")
        require(r.returncode == 2 and f"{nul}:1: contains a NUL byte" in r.stderr, r.stderr)
        only_header = os.path.join(h.tmp, "header.trace")
        with open(only_header, "w") as f:
            f.write(TRACE_HEADER)
        r = sim("--replay", only_header, "--", "true")
        require(r.returncode == 2 and "the trace has no observation" in r.stderr, r.stderr)
        big = os.path.join(h.tmp, "big.trace")
        with open(big, "w") as f:
            f.write(TRACE_HEADER + "1 LYNX0001 gone\n2 LYNX0001 same 18446744073709551615\n")
        r = sim("--replay", big, "--", "true")
        require(r.returncode == 2 and f"{big}:4: 'same 18446744073709551615' is too large"
                in r.stderr, r.stderr)
        # reads are bounded: an endless file, an endless line
        r = sim("--replay", "/dev/zero", "--", "true")
        require(r.returncode == 2 and "/dev/zero:1: contains a NUL byte" in r.stderr, r.stderr)
        long_line = os.path.join(h.tmp, "long.trace")
        with open(long_line, "w") as f:
            f.write(TRACE_HEADER + "# " + "x" * 2000 + "\n")
        r = sim("--replay", long_line, "--", "true")
        require(r.returncode == 2 and f"{long_line}:3: line longer than 1024 characters"
                in r.stderr, r.stderr)
        # lynx-simctl with a command but no socket says what is missing, not just its usage
        env = {k: v for k, v in os.environ.items() if k != "LYNX_SIM_CONTROL"}
        r = subprocess.run([program("LYNX_SIMCTL"), "stats"], capture_output=True, text=True,
                           env=env)
        require(r.returncode == 2 and "no control socket" in r.stderr, r.stderr)


@test
def a_trace_cut_in_its_last_line_replays_the_rest_with_a_warning():
    with Harness() as h:
        cut = os.path.join(h.tmp, "cut.trace")
        with open(cut, "w") as f:
            f.write(TRACE_HEADER + "0 LYNX0001 read A=00 B=nack C=nack D=nack\n"
                    "100 LYNX0001 read A=10 B=nack C=nack D=nack\n"
                    "5000 LYNX0001 same 49\n"
                    "5100 LYNX0001 read A=00 B=nack C=na")
        r = sim("--replay", cut, "--", "true")
        require(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
        require(f"{cut}:6: the last line has no end of line" in r.stderr
                and "lines 1-5 are replayed" in r.stderr, r.stderr)


# ---- signals ----------------------------------------------------------------------------------

@test
def hup_rereads_the_config_and_applies_installed_flags_without_dropping_the_service():
    with Harness() as h:
        h.start_bus()
        trace = os.path.join(h.tmp, "t.trace")
        h.start_daemon(fixture="all-ok.scn", args=["--record", trace])
        h.wait_for("/Adapter/Connected", 1)
        owner = h.bus.get_name_owner(h.default_service)
        require(h.get("/Distributor/B/Alarms/ConnectionLost") == 0, "B alarms before the HUP")
        pid = h.daemon_pid()

        # a bad file: reported with file:line, nothing changes
        h.pump(1.0)  # polls alike: a `same` count is pending
        h.write_config(ini(general={"poll_interval_ms": "fast"}), os.path.basename(h.config_path))
        os.kill(pid, signal.SIGHUP)
        wait_for_log(h, "keeping the running configuration")
        require(f"{h.config_path}:2: " in h.log_text(), h.log_text())
        # the pending `same` count reached the file with the HUP (and the daemon still runs)
        with open(trace) as f:
            text = f.read()
        require(" same " in text, f"no `same` count in the trace after SIGHUP:\n{text}")

        # B installed: "connection lost" after comm_lost_polls, the service stays on the bus
        h.write_config(ini(adapters={"LYNX0001": {"distributorBInstalled": "true",
                                                   "name": "Renamed"}}),
                       os.path.basename(h.config_path))
        os.kill(pid, signal.SIGHUP)
        wait_for_log(h, "installed flags of 1 distributor changed")
        require("take effect after a restart" in h.log_text(), "the name change is not named")
        h.wait_for("/Distributor/B/Alarms/ConnectionLost", ALARM)
        require(h.bus.get_name_owner(h.default_service) == owner, "the service was re-registered")

        # a file that cannot be read in full (a comment line past the 4096-character bound) is
        # refused at that line, not applied cut short: B stays installed and its alarm raised
        text = ini(adapters={"LYNX0001": {"distributorBInstalled": "false"}})
        h.write_config("; " + "x" * 5000 + "\n" + text, os.path.basename(h.config_path))
        os.kill(pid, signal.SIGHUP)
        wait_for_log(h, f"{h.config_path}:1: line too long")
        require("keeping the running configuration" in h.log_text().split("line too long")[-1],
                "the running configuration was not kept")
        h.pump(1.0)
        require(h.get("/Distributor/B/Alarms/ConnectionLost") == ALARM,
                "B's ConnectionLost alarm was cleared by a file read cut short")
        require(h.sim.poll() is None, "the daemon exited on SIGHUP")
        require(h.stop_daemon() == 0, "the daemon did not exit cleanly")


@test
def usr1_logs_the_state_and_usr2_toggles_debug_logging():
    with started(fixture="all-ok.scn") as h:
        pid = h.daemon_pid()
        os.kill(pid, signal.SIGUSR1)
        wait_for_log(h, "state:   distributor A (0x08)")
        log = h.log_text()
        require("state: 1 adapter, poll every" in log and "state: adapter LYNX0001" in log
                and "connected" in log, log)
        os.kill(pid, signal.SIGUSR2)
        wait_for_log(h, "SIGUSR2: debug logging on")
        os.kill(pid, signal.SIGUSR2)
        wait_for_log(h, "SIGUSR2: debug logging off")
        require(h.sim.poll() is None, "the daemon exited on a signal")
        require(h.stop_daemon() == 0, "the daemon did not exit cleanly")


if __name__ == "__main__":
    sys.exit(run())
