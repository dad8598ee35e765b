/* The daemon's FT232H transport against the simulated adapter (ftdi_fixture.h), driven only
 * through the ftdi API: enumeration, open by serial, set-up, transfers, unplug, hot-plug.
 * Assertions look at what the model saw (requests, transfers, pins) and at what the API returned.
 * Opening by address, the serial read and the device's life cycle: test_ftdi_device.c. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftdi_fixture.h"

TestSuite(ftdi, .init = setup, .fini = teardown, .timeout = 30);

/* ---- enumeration and open ---- */

Test(ftdi, enumerate_finds_the_adapter_with_its_serial)
{
    struct ftdi_usb_device_info info[4];
    int n = ftdi_usb_enumerate(host, NULL, 0, info, 4);
    cr_assert_eq(n, 1, "%d: %s", n, ftdi_usb_host_error(host));
    cr_expect_eq(info[0].vid, SIM_FTDI_VID);
    cr_expect_eq(info[0].pid, SIM_LYNX_ADAPTER_PID);
    cr_expect_str_eq(info[0].serial, SERIAL_A);
    cr_expect_eq(info[0].serial_status, 0);
    cr_expect_gt(info[0].bus, 0);
    cr_expect_gt(info[0].address, 0);
}

Test(ftdi, enumerate_lists_only_the_requested_ids)
{
    second_model = add_model(SIM_FT232H_PID, SERIAL_B);
    struct ftdi_usb_device_info info[4];

    cr_assert_eq(ftdi_usb_enumerate(host, NULL, 0, info, 4), 2, "%s", ftdi_usb_host_error(host));
    bool seen_a = false, seen_b = false;
    for (int i = 0; i < 2; i++) {
        seen_a |= info[i].pid == SIM_LYNX_ADAPTER_PID && strcmp(info[i].serial, SERIAL_A) == 0;
        seen_b |= info[i].pid == SIM_FT232H_PID && strcmp(info[i].serial, SERIAL_B) == 0;
    }
    cr_expect(seen_a && seen_b);

    const struct usb_id stock_only[] = {{SIM_FTDI_VID, SIM_FT232H_PID}};
    cr_assert_eq(ftdi_usb_enumerate(host, stock_only, 1, info, 4), 1);
    cr_expect_str_eq(info[0].serial, SERIAL_B);

    const struct usb_id other[] = {{SIM_FTDI_VID, 0x6001}};
    cr_expect_eq(ftdi_usb_enumerate(host, other, 1, info, 4), 0);
}

Test(ftdi, enumerate_counts_adapters_beyond_the_output_size)
{
    second_model = add_model(SIM_LYNX_ADAPTER_PID, SERIAL_B);
    struct ftdi_usb_device_info info[1];
    cr_expect_eq(ftdi_usb_enumerate(host, NULL, 0, info, 1), 2);
}

Test(ftdi, open_selects_the_adapter_by_serial)
{
    second_model = add_model(SIM_LYNX_ADAPTER_PID, SERIAL_B);
    cr_assert_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, SERIAL_B), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_str_eq(ftdi_usb_opened_info(dev)->serial, SERIAL_B);
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 0), 0, "%s", ftdi_usb_error(dev));
    write_all((const uint8_t[]){0x81, 0x87}, 2);

    cr_expect_eq(stats_of(second_model).bulk_out, 1);
    cr_expect_eq(stats_of(model).bulk_out, 0);
    pthread_mutex_lock(&lock);
    cr_expect(sim_ft232h_mpsse_enabled(second_model));
    cr_expect_not(sim_ft232h_mpsse_enabled(model));
    pthread_mutex_unlock(&lock);
}

Test(ftdi, open_without_serial_takes_a_matching_adapter)
{
    cr_assert_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, NULL), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_str_eq(ftdi_usb_opened_info(dev)->serial, SERIAL_A);
    cr_expect(ftdi_usb_is_open(dev));
}

Test(ftdi, open_with_an_unknown_serial_fails_with_enoent)
{
    cr_expect_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, "NOPE"), -ENOENT);
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "NOPE"), "%s", ftdi_usb_error(dev));
    cr_expect_not(ftdi_usb_is_open(dev));
    cr_expect_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_FT232H_PID, NULL), -ENOENT);
}

/* Where the adapter is, as the inventory reads it from sysfs (the bridge's bus 1). */

Test(ftdi, calls_on_a_closed_adapter_fail_with_ebadf)
{
    uint8_t byte;
    cr_expect_eq(ftdi_usb_write(dev, "\x81", 1, TIMEOUT_MS), -EBADF);
    cr_expect_eq(ftdi_usb_read_exact(dev, &byte, 1, TIMEOUT_MS, NULL), -EBADF);
    cr_expect_eq(ftdi_usb_mpsse_setup(dev, 0), -EBADF);
    open_mpsse();
    ftdi_usb_close(dev);
    cr_expect_eq(ftdi_usb_write(dev, "\x81", 1, TIMEOUT_MS), -EBADF);
}

/* ---- MPSSE set-up ---- */

Test(ftdi, mpsse_setup_enables_mpsse_with_the_default_latency)
{
    pthread_mutex_lock(&lock);
    cr_assert_not(sim_ft232h_mpsse_enabled(model));
    pthread_mutex_unlock(&lock);

    open_mpsse();

    pthread_mutex_lock(&lock);
    cr_expect(sim_ft232h_mpsse_enabled(model));
    cr_expect_eq(sim_ft232h_latency_ms(model), FTDI_DEFAULT_LATENCY_MS);
    pthread_mutex_unlock(&lock);
    struct sim_ft232h_stats s = stats_of(model);
    cr_expect_eq(s.bulk_out, 0, "set-up is control requests only");
    cr_expect_geq(s.control_out, 8); /* reset, 2 purges, latency, 2 chars, 2 bit modes */
}

Test(ftdi, mpsse_setup_applies_a_chosen_latency)
{
    cr_assert_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, SERIAL_A), 0);
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 2), 0, "%s", ftdi_usb_error(dev));
    pthread_mutex_lock(&lock);
    cr_expect_eq(sim_ft232h_latency_ms(model), 2);
    pthread_mutex_unlock(&lock);
    cr_expect_eq(ftdi_usb_mpsse_setup(dev, 256), -EINVAL);
}

Test(ftdi, mpsse_sync_gets_the_bad_command_echo)
{
    open_mpsse();
    cr_assert_eq(ftdi_usb_mpsse_sync(dev, TIMEOUT_MS), 0, "%s", ftdi_usb_error(dev));
    pthread_mutex_lock(&lock);
    cr_expect_eq(sim_mpsse_stats(sim_ft232h_mpsse(model))->bad_commands, 1);
    pthread_mutex_unlock(&lock);
    cr_expect_eq(ftdi_usb_pending(dev), 0);
}

/* ---- bulk transfers ---- */

Test(ftdi, pin_read_returns_one_byte_without_status_bytes)
{
    open_mpsse();
    uint8_t pins = 0xEE;
    size_t got = 99;

    /* SCL high, SDA driven low: AD2 (SDA in, wired to the bus) must read low. */
    write_all((const uint8_t[]){0x80, 0x01, 0x03, 0x81, 0x87}, 5);
    cr_assert_eq(ftdi_usb_read_exact(dev, &pins, 1, TIMEOUT_MS, &got), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(got, 1);
    cr_expect_eq(pins & 0x07, 0x01, "pins %02X", pins);

    write_all((const uint8_t[]){0x80, 0x03, 0x03, 0x81, 0x87}, 5);
    cr_assert_eq(ftdi_usb_read_exact(dev, &pins, 1, TIMEOUT_MS, &got), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(pins & 0x07, 0x07, "pins %02X", pins);
    pthread_mutex_lock(&lock);
    cr_expect_eq(pins, sim_mpsse_read_pins(sim_ft232h_mpsse(model)));
    pthread_mutex_unlock(&lock);
    cr_expect_eq(ftdi_usb_pending(dev), 0);
}

Test(ftdi, read_spanning_several_packets_comes_in_one_transfer)
{
    open_mpsse();
    struct sim_ft232h_stats before = stats_of(model);
    uint8_t reply[1024];
    memset(reply, 0x32, sizeof(reply));

    /* 1024 bytes clocked in from an idle (pulled-up) SDA: 0xFF, unlike the status bytes 32 60. */
    write_all((const uint8_t[]){0x20, 0xFF, 0x03, 0x87}, 4);
    size_t got = 0;
    cr_assert_eq(ftdi_usb_read_exact(dev, reply, sizeof(reply), TIMEOUT_MS, &got), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(got, sizeof(reply));
    for (size_t i = 0; i < sizeof(reply); i++)
        cr_assert_eq(reply[i], 0xFF, "byte %zu is %02X", i, reply[i]);

    struct sim_ft232h_stats after = stats_of(model);
    cr_expect_eq(after.bulk_out - before.bulk_out, 1);
    cr_expect_eq(after.bulk_in - before.bulk_in, 1, "one bulk IN for a flushed reply");
    cr_expect_eq(after.bytes_in - before.bytes_in, 1024 + 3 * 2, "three packets");
    cr_expect_eq(ftdi_usb_pending(dev), 0);
}

Test(ftdi, looped_back_pattern_across_packets_keeps_its_order)
{
    open_mpsse();
    enum { N = 1300 };
    static uint8_t cmd[4 + N + 1], reply[N];
    cmd[0] = 0x84; /* loopback: TDI -> TDO */
    cmd[1] = 0x31; /* bytes out on -ve edge, in on +ve edge, MSB first */
    cmd[2] = (N - 1) & 0xFF;
    cmd[3] = (N - 1) >> 8;
    for (int i = 0; i < N; i++)
        cmd[4 + i] = (uint8_t)(i * 7 + i / 256);
    cmd[4 + N] = 0x87;

    write_all(cmd, sizeof(cmd));
    cr_assert_eq(ftdi_usb_read_exact(dev, reply, N, TIMEOUT_MS, NULL), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_arr_eq(reply, cmd + 4, N);
}

Test(ftdi, surplus_payload_is_kept_for_the_next_read)
{
    open_mpsse();
    write_all((const uint8_t[]){0x80, 0x01, 0x03, 0x81, 0x80, 0x03, 0x03, 0x81, 0x87}, 9);
    uint8_t first, second;
    cr_assert_eq(ftdi_usb_read_exact(dev, &first, 1, TIMEOUT_MS, NULL), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(ftdi_usb_pending(dev), 1);
    uint64_t bulk_in = stats_of(model).bulk_in;

    cr_assert_eq(ftdi_usb_read_exact(dev, &second, 1, TIMEOUT_MS, NULL), 0, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(stats_of(model).bulk_in, bulk_in, "served from what already arrived");
    cr_expect_eq(first & 0x07, 0x01);
    cr_expect_eq(second & 0x07, 0x07);
}

Test(ftdi, read_timeout_reports_how_many_bytes_arrived)
{
    open_mpsse();
    write_all((const uint8_t[]){0x81, 0x87}, 2);
    uint8_t buf[2];
    size_t got = 99;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);

    cr_assert_eq(ftdi_usb_read_exact(dev, buf, 2, 100, &got), -ETIMEDOUT);
    long took = elapsed_ms(&start);
    cr_expect_eq(got, 1);
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "1 of 2"), "%s", ftdi_usb_error(dev));
    cr_expect_geq(took, 95);
    cr_expect_lt(took, 600);
}

Test(ftdi, read_with_nothing_queued_times_out_with_zero_bytes)
{
    open_mpsse();
    uint8_t byte;
    size_t got = 99;
    cr_expect_eq(ftdi_usb_read_exact(dev, &byte, 1, 50, &got), -ETIMEDOUT);
    cr_expect_eq(got, 0);
}

Test(ftdi, drain_removes_a_stale_reply_before_the_next_scan)
{
    open_mpsse();
    /* Two replies left behind: one already received, one still queued in the chip. */
    write_all((const uint8_t[]){0x80, 0x01, 0x03, 0x81, 0x81, 0x87}, 6);
    uint8_t byte;
    cr_assert_eq(ftdi_usb_read_exact(dev, &byte, 1, TIMEOUT_MS, NULL), 0, "%s",
                 ftdi_usb_error(dev));
    write_all((const uint8_t[]){0x81, 0x87}, 2);
    cr_assert_eq(ftdi_usb_pending(dev), 1);

    int r = ftdi_usb_drain(dev, TIMEOUT_MS);
    cr_assert_eq(r, 0, "the purge, not the reads, should have removed the queued reply: %d %s", r,
                 ftdi_usb_error(dev));
    cr_expect_eq(ftdi_usb_pending(dev), 0);
    pthread_mutex_lock(&lock);
    cr_expect_eq(sim_ft232h_queued(model), 0);
    pthread_mutex_unlock(&lock);

    /* The next exchange sees only its own reply. */
    write_all((const uint8_t[]){0x80, 0x03, 0x03, 0x81, 0x87}, 5);
    uint8_t buf[2];
    size_t got = 0;
    cr_expect_eq(ftdi_usb_read_exact(dev, buf, 2, 100, &got), -ETIMEDOUT);
    cr_expect_eq(got, 1);
    cr_expect_eq(buf[0] & 0x07, 0x07);
}

/* ---- unplug ---- */

Test(ftdi, unplugged_adapter_gives_enodev)
{
    open_mpsse();
    cr_assert_eq(sim_usb_bridge_unplug(bridge, model), 0);
    uint8_t byte;
    cr_expect_eq(ftdi_usb_write(dev, (const uint8_t[]){0x81, 0x87}, 2, TIMEOUT_MS), -ENODEV, "%s",
                 ftdi_usb_error(dev));
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "gone"), "%s", ftdi_usb_error(dev));
    cr_expect_eq(ftdi_usb_read_exact(dev, &byte, 1, TIMEOUT_MS, NULL), -ENODEV, "%s",
                 ftdi_usb_error(dev));
    cr_expect_eq(ftdi_usb_drain(dev, TIMEOUT_MS), -ENODEV);
    cr_expect_eq(ftdi_usb_mpsse_setup(dev, 0), -ENODEV);
    ftdi_usb_close(dev);
    cr_expect_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, SERIAL_A), -ENOENT);
}

static void *unplug_later(void *arg)
{
    (void)arg;
    usleep(60 * 1000);
    sim_usb_bridge_unplug(bridge, model);
    return NULL;
}

Test(ftdi, unplug_during_a_read_ends_it_with_enodev)
{
    open_mpsse();
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, unplug_later, NULL), 0);
    uint8_t byte;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int r = ftdi_usb_read_exact(dev, &byte, 1, 5000, NULL);
    pthread_join(thread, NULL);
    cr_expect_eq(r, -ENODEV, "%d: %s", r, ftdi_usb_error(dev));
    cr_expect_lt(elapsed_ms(&start), 2000);
}

Test(ftdi, replugged_adapter_opens_again)
{
    open_mpsse();
    cr_assert_eq(sim_usb_bridge_unplug(bridge, model), 0);
    cr_expect_eq(ftdi_usb_write(dev, (const uint8_t[]){0x81, 0x87}, 2, TIMEOUT_MS), -ENODEV);
    ftdi_usb_close(dev);
    cr_assert_eq(sim_usb_bridge_plug(bridge, model), 0);
    open_mpsse();
    cr_expect_eq(ftdi_usb_mpsse_sync(dev, TIMEOUT_MS), 0, "%s", ftdi_usb_error(dev));
}

/* ---- hot-plug through the poll fds ---- */

struct hotplug_log {
    int arrived, left;
    struct ftdi_usb_device_info last;
};

static void record_hotplug(void *user, bool arrived, const struct ftdi_usb_device_info *info)
{
    struct hotplug_log *log = user;
    if (arrived)
        log->arrived++;
    else
        log->left++;
    log->last = *info;
}

Test(ftdi, hotplug_reports_leaving_and_arriving_adapters)
{
    cr_assert(ftdi_usb_host_has_hotplug(host));
    struct hotplug_log log = {0};
    struct ftdi_usb_hotplug *hp;
    cr_assert_eq(ftdi_usb_hotplug_register(host, NULL, 0, true, record_hotplug, &log, &hp), 0, "%s",
                 ftdi_usb_host_error(host));
    cr_expect_eq(log.arrived, 1, "enumerate_now reports the adapter already present");

    cr_assert_eq(sim_usb_bridge_unplug(bridge, model), 0);
    pump_until(&log.left, 1, 3000);
    cr_expect_eq(log.left, 1);
    cr_expect_eq(log.last.pid, SIM_LYNX_ADAPTER_PID);

    cr_assert_eq(sim_usb_bridge_plug(bridge, model), 0);
    pump_until(&log.arrived, 2, 3000);
    cr_expect_eq(log.arrived, 2);
    cr_expect_eq(log.last.vid, SIM_FTDI_VID);
    ftdi_usb_hotplug_deregister(hp);
}

Test(ftdi, hotplug_ignores_ids_outside_the_list)
{
    struct hotplug_log log = {0};
    struct ftdi_usb_hotplug *hp;
    const struct usb_id stock_only[] = {{SIM_FTDI_VID, SIM_FT232H_PID}};
    cr_assert_eq(ftdi_usb_hotplug_register(host, stock_only, 1, true, record_hotplug, &log, &hp),
                 0);
    cr_expect_eq(log.arrived, 0);

    second_model = add_model(SIM_FT232H_PID, SERIAL_B);
    pump_until(&log.arrived, 1, 3000);
    cr_expect_eq(log.arrived, 1);
    cr_expect_eq(log.last.pid, SIM_FT232H_PID);
    cr_assert_eq(sim_usb_bridge_unplug(bridge, model), 0); /* not in the list */
    pump_until(&log.left, 1, 300);
    cr_expect_eq(log.left, 0);
    ftdi_usb_hotplug_deregister(hp);
}

struct pollfd_log {
    int added_fd, removed_fd;
    int added, removed;
};

static void record_added(int fd, short events, void *user)
{
    struct pollfd_log *log = user;
    cr_expect(events & POLLOUT, "libusb watches a device fd for URB completions (POLLOUT)");
    log->added_fd = fd;
    log->added++;
}

static void record_removed(int fd, void *user)
{
    struct pollfd_log *log = user;
    log->removed_fd = fd;
    log->removed++;
}

Test(ftdi, pollfd_notifiers_follow_an_adapter_being_opened_and_closed)
{
    struct pollfd fds[16];
    int idle = ftdi_usb_host_pollfds(host, fds, 16);
    cr_assert_gt(idle, 0, "%s", ftdi_usb_host_error(host));
    struct pollfd_log log = {-1, -1, 0, 0};
    ftdi_usb_host_set_pollfd_notifiers(host, record_added, record_removed, &log);

    open_mpsse();
    cr_expect_eq(log.added, 1);
    cr_expect_eq(ftdi_usb_host_pollfds(host, fds, 16), idle + 1);
    ftdi_usb_close(dev);
    cr_expect_eq(log.removed, 1);
    cr_expect_eq(log.removed_fd, log.added_fd);
    cr_expect_eq(ftdi_usb_host_pollfds(host, fds, 16), idle);
    cr_expect_eq(ftdi_usb_host_next_timeout_ms(host), -1);
}
