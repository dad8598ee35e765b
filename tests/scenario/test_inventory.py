#!/usr/bin/python3
"""The USB inventory (src/transport/usb_inventory.h, src/daemon/fleet_usb.c): adapters are told
apart from sysfs and the kernel's uevents, with no request to any device, so nothing on the
daemon's one thread waits for a device that does not answer. End to end under lynx-sim on a
private D-Bus.

  test_inventory.py TEST_NAME      (meson runs one test per name; exit 0 / 1 / 77 = skip)
"""
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FTDI_ONLY, SERVICE_PREFIX, TRANSPORT, TRANSPORTS, Harness,  # noqa: E402
                     POLL_INTERVAL_MS, ini, program, require, run, service_name, test)
from latency import getvalue_latencies  # noqa: E402

POLL_S = POLL_INTERVAL_MS / 1000.0
CONNECTED = 1
STOCK = ("STOCK0", "STOCK1", "STOCK2", "STOCK3")
# four stock FT232Hs (0403:6014, ftdi_sio bound) that never answer a control request: no serial
# string, no set-up; armed before the daemon's first look at USB
SILENT_STOCK = "".join(f"adapter {s} pid=0x6014\nat 0 control-timeout {s} count=1000000\n"
                       for s in STOCK)


def control_transfers(h, serial):
    """Control transfers the adapter was sent, answered or not (lynx-sim's stats)."""
    a = [x for x in h.sim_stats()["adapters"] if x.get("serial") == serial]
    require(len(a) == 1, f"no adapter {serial} in the simulator's stats")
    return sum(a[0][k] for k in ("usb_control_in", "usb_control_out", "usb_control_unanswered"))


@test(alone=True, transports=FTDI_ONLY)
def a_healthy_service_stays_prompt_beside_silent_stock_adapters_and_a_missing_configured_one():
    scenario = "adapter LYNX0001\ndistributor LYNX0001 A\n" + SILENT_STOCK
    config = ini(adapters={"LYNXGONE": {}})
    healthy = service_name("LYNX0001")
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=scenario, config=config, serials=("LYNX0001", "LYNXGONE"))
        h.wait_for("/Adapter/Connected", 1, timeout=5, service=healthy)
        h.pump(3 * POLL_S)
        times = getvalue_latencies(h, healthy, 3.0)
        median, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
        print(f"GetValue beside {len(STOCK)} silent stock adapters, LYNXGONE missing: "
              f"{len(times)} calls, median {median * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
              f"max {times[-1] * 1000:.2f} ms")
        # which adapter is which comes from sysfs: not one request to any of them
        sent = {s: control_transfers(h, s) for s in STOCK}
        require(all(n == 0 for n in sent.values()),
                f"control transfers to the stock adapters: {sent}")
        # generous bounds for a loaded machine: serial reads held each call 0.4-1.3 s here
        require(median < 0.05 and times[-1] < 0.3,
                f"median {median * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
        h.expect({"/Adapter/Connected": 0}, service=service_name("LYNXGONE"))
        require("add a section [ftdi:STOCK0] to config.ini" in h.log_text(),
                "the stock adapter is not named in the log")


@test(transports=FTDI_ONLY)
def a_configured_adapter_is_found_by_its_uevent_and_served_again_after_a_replug():
    scenario = ("adapter LYNX0001\ndistributor LYNX0001 A\n"
                "adapter LYNX0002 plugged=no\ndistributor LYNX0002 A\n")
    config = ini(adapters={"LYNX0002": {}})
    later = service_name("LYNX0002")
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=scenario, config=config, serials=("LYNX0001", "LYNX0002"))
        h.expect({"/Adapter/Connected": 0}, service=later)
        h.simctl("string-error", "LYNX0002")  # a serial read would fail: none is made
        h.simctl("plug", "LYNX0002")
        h.wait_for("/Adapter/Connected", 1, timeout=5, service=later)
        h.wait_for("/Distributor/A/Status", CONNECTED, service=later)
        require("adapter LYNX0002 found" in h.log_text(), "the log does not say it was found")
        h.simctl("unplug", "LYNX0002")
        h.wait_for("/Adapter/Connected", 0, timeout=5, service=later)
        h.simctl("plug", "LYNX0002")  # under the next device number
        h.wait_for("/Adapter/Connected", 1, timeout=5, service=later)
        h.wait_for("/Distributor/A/Status", CONNECTED, service=later)
        a = [x for x in h.sim_stats()["adapters"] if x.get("serial") == "LYNX0002"][0]
        require(a["usb_control_in"] == 0 and a["usb_control_unanswered"] == 0,
                f"LYNX0002 was asked for something (its serial?): {a}")


def start_with_lost_uevents(h, scenario, config, trigger):
    """The daemon under lynx-sim with enobufs_shim.c preloaded before umockdev: while `trigger`
    exists, its uevent socket's next read throws away what is queued and fails with ENOBUFS."""
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "LYNX_ENOBUFS_TRIGGER")}
    os.environ["LD_PRELOAD"] = program("LYNX_ENOBUFS_SHIM") + ":libumockdev-preload.so.0"
    os.environ["LYNX_ENOBUFS_TRIGGER"] = trigger
    try:
        h.start_daemon(scenario=scenario, config=config)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@test
def an_adapter_removed_while_uevents_were_lost_is_let_go_of_at_once():
    # the next regular poll is 20 s after the first: within the test only the daemon's reaction
    # to the lost events can make it look at the adapter (an i2c bus: its open /dev/i2c-N, which
    # a lost "remove" used to keep open until a poll; USB: the inventory read again)
    slow_s = 20.0
    config = ini({"poll_interval_ms": int(slow_s * 1000), "comm_lost_polls": 3},
                 {"LYNX0001": {}})
    with Harness() as h:
        h.start_bus()
        trigger = os.path.join(h.tmp, "lose-uevents")
        start_with_lost_uevents(h, "adapter LYNX0001\ndistributor LYNX0001 A\n", config, trigger)
        h.wait_for("/Adapter/Connected", 1, timeout=5)
        first_poll = h.mark()

        open(trigger, "w").close()
        since = h.mark()
        h.simctl("unplug", "LYNX0001")  # its "remove" is thrown away with ENOBUFS
        h.pump(0.5)
        require(not os.path.exists(trigger), "the daemon did not read its uevent socket")
        h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 0, since, 2.0)
        require("uevents were lost" in h.log_text(), "the log does not say events were lost")

        if TRANSPORT == "i2c":  # a bus back is polled at once (a USB adapter at its next poll)
            open(trigger, "w").close()
            since = h.mark()
            h.simctl("plug", "LYNX0001")  # its "add" is thrown away too
            h.wait_for_signal(lambda v: v.get("/Adapter/Connected") == 1, since, 2.0)
            h.wait_for("/Distributor/A/Status", CONNECTED)
        require(time.monotonic() - first_poll < slow_s - 2,
                "the test ran into the next regular poll: it would prove nothing")


def send_uevent(h, props):
    """A uevent as umockdev delivers one (libudev's format) to every uevent socket of the daemon:
    what a udev replay or a driver rebind can send, not the kernel's own doing."""
    with open(f"/proc/{h.daemon_pid()}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    testbed = env[b"UMOCKDEV_DIR"].decode()
    body = b"".join(f"{k}={v}".encode() + b"\0" for k, v in props.items())
    header = (b"libudev\0" + struct.pack(">I", 0xFEEDCAFE) +
              struct.pack("<IIIIIII", 40, 40, len(body), 0, 0, 0, 0))
    sent = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for name in os.listdir(testbed):
            if name.startswith("event"):
                try:
                    s.sendto(header + body, os.path.join(testbed, name))
                    sent += 1
                except OSError:
                    pass  # a socket of another process that has gone
    require(sent > 0, f"no uevent socket in {testbed}")


@test(transports=("i2c",))
def remove_uevents_for_a_bus_that_is_there_cost_no_poll_and_no_reopen():
    # B is installed and absent: every poll of the bus counts towards its "communications lost"
    lost_after = 10
    config = ini({"comm_lost_polls": lost_after},
                 {"LYNX0001": {"distributorBInstalled": "true"}})
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario="adapter LYNX0001\ndistributor LYNX0001 A\n", config=config)
        h.wait_for("/Adapter/Connected", 1, timeout=5)
        bus = h.get("/Mgmt/Connection").split()[-1]  # "I2C bus i2c-1"
        polls_before = h.get("/Diagnostics/Polls")
        for _ in range(50):  # a burst, faster than polls
            send_uevent(h, {"ACTION": "remove", "DEVPATH": f"/devices/virtual/i2c-dev/{bus}",
                            "SUBSYSTEM": "i2c-dev", "DEVNAME": f"/dev/{bus}", "SEQNUM": "1"})
        h.pump(3 * POLL_S)
        log = h.log_text()
        require(log.count(f"adapter {bus}: opened") == 1,
                f"the bus was opened again for a remove while its node was there:\n{log}")
        require(h.get("/Diagnostics/Reopens") == 0, "reopens counted")
        require(h.get("/Distributor/B/Alarms/ConnectionLost") == 0,
                "B was declared lost faster than its comm_lost_polls polls "
                f"({h.get('/Diagnostics/Polls') - polls_before} polls)")


def wait_for_log(h, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in h.log_text():
        require(time.monotonic() < deadline, f"no log line with {text!r}:\n{h.log_text()}")
        h.pump(0.05)


@test(transports=("i2c",))
def hup_adds_the_services_of_new_sections_and_names_removed_ones_as_needing_a_restart():
    # LYNX0001 is bus 1 (its section comes with the harness); bus 7 is there from the start,
    # without a section
    scenario = ("adapter LYNX0001\ndistributor LYNX0001 A\n"
                "i2c-adapter extra bus=7\ndistributor extra A\n")
    seven = SERVICE_PREFIX + "i2c7"
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=scenario)
        h.wait_for("/Adapter/Connected", 1)
        require(not h.has_owner(seven), "a bus without a section got a service")
        pid = h.daemon_pid()

        h.write_config("[i2c:1]\n[i2c:7]\n", os.path.basename(h.config_path))
        os.kill(pid, signal.SIGHUP)
        wait_for_log(h, "SIGHUP: [i2c:7] added")
        h.wait_for_name(seven, timeout=10)
        h.wait_for("/Distributor/A/Status", 1, service=seven)

        h.write_config("[i2c:7]\n", os.path.basename(h.config_path))
        os.kill(pid, signal.SIGHUP)
        wait_for_log(h, "SIGHUP: [i2c:1] is not in the file any more")
        require("take effect after a restart" in h.log_text(), "the restart is not named")
        h.pump(1.0)
        require(h.has_owner(h.default_service) and h.get("/Adapter/Connected") == 1,
                "the removed section's adapter did not keep its service until a restart")
        require(h.sim.poll() is None, "the daemon exited on SIGHUP")


@test(transports=FTDI_ONLY)
def hup_adds_the_service_of_a_new_ftdi_section_whose_adapter_is_already_plugged_in():
    # a stock FT232H without a section is left alone; its section added by SIGHUP claims it
    # where it is, with no replug
    scenario = ("adapter LYNX0001\ndistributor LYNX0001 A\n"
                "adapter FT6014X1 pid=0x6014\ndistributor FT6014X1 A\n")
    stock = service_name("FT6014X1")
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario=scenario)
        h.wait_for("/Adapter/Connected", 1)
        wait_for_log(h, "add a section [ftdi:FT6014X1] to config.ini")
        require(not h.has_owner(stock), "an adapter without a section got a service")
        h.write_config("[ftdi:LYNX0001]\n[ftdi:FT6014X1]\n", os.path.basename(h.config_path))
        os.kill(h.daemon_pid(), signal.SIGHUP)
        wait_for_log(h, "SIGHUP: [ftdi:FT6014X1] added")
        h.wait_for_name(stock, timeout=10)
        h.wait_for("/Adapter/Connected", 1, timeout=10, service=stock)
        h.wait_for("/Distributor/A/Status", 1, timeout=10, service=stock)


@test(transports=("i2c",))
def a_configured_bus_never_there_is_named_once_with_its_node():
    with Harness() as h:
        h.start_bus()
        h.start_daemon(scenario="adapter LYNX0001\ndistributor LYNX0001 A\n",
                       config="[general]\ncomm_lost_polls = 3\n[i2c:5]\n")
        wait_for_log(h, "adapter i2c-5 (configured) not opened after", timeout=10)
        line = next(x for x in h.log_text().splitlines() if "not opened after" in x)
        require(line.endswith("not opened after 3 polls: /dev/i2c-5: No such file or directory"),
                f"the line: {line!r}")


if __name__ == "__main__":
    sys.exit(run(transports=TRANSPORTS))
