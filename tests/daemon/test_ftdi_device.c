/* The ftdi_usb device's placing and life cycle against the simulated adapter (ftdi_fixture.h):
 * opening by bus and address (no device I/O), the asynchronous serial read, closing with a
 * transfer in flight, the kernel driver given back, a clear-halt off the loop. */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <libusb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ftdi_fixture.h"
#include "transport/mpsse/mpsse_link.h"

TestSuite(ftdi_device, .init = setup, .fini = teardown, .timeout = 30);

Test(ftdi_device, open_at_opens_the_adapter_at_its_address_without_a_control_request)
{
    second_model = add_model(SIM_LYNX_ADAPTER_PID, SERIAL_B);
    struct ftdi_usb_device_info at = place_of(second_model, SERIAL_B);
    struct sim_ft232h_stats a = stats_of(model), b = stats_of(second_model);

    cr_assert_eq(ftdi_usb_open_at(dev, &at), 0, "%s", ftdi_usb_error(dev));
    struct sim_ft232h_stats b_after = stats_of(second_model);
    cr_expect_eq(b_after.control_in, b.control_in, "no descriptor read (serial from sysfs)");
    cr_expect_eq(b_after.control_out, b.control_out);
    cr_expect_eq(stats_of(model).control_in, a.control_in, "the other adapter untouched");
    const struct ftdi_usb_device_info *info = ftdi_usb_opened_info(dev);
    cr_expect_str_eq(info->serial, SERIAL_B);
    cr_expect_eq(info->address, at.address);
    cr_expect_eq(info->chip, FTDI_CHIP_FT232H, "bcdDevice from the cached descriptor");

    /* and it is the adapter there that answers */
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 0), 0, "%s", ftdi_usb_error(dev));
    pthread_mutex_lock(&lock);
    cr_expect(sim_ft232h_mpsse_enabled(second_model));
    cr_expect_not(sim_ft232h_mpsse_enabled(model));
    pthread_mutex_unlock(&lock);
}

Test(ftdi_device, open_at_an_empty_address_or_another_device_fails_as_unplugged)
{
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    struct ftdi_usb_device_info nowhere = at;
    nowhere.address = 0;
    cr_expect_eq(ftdi_usb_open_at(dev, &nowhere), -ENOENT, "not placed");
    nowhere.address = (uint8_t)(at.address + 50);
    cr_expect_eq(ftdi_usb_open_at(dev, &nowhere), -ENOENT, "%s", ftdi_usb_error(dev));
    struct ftdi_usb_device_info other = at;
    other.pid = SIM_FT232H_PID;
    cr_expect_eq(ftdi_usb_open_at(dev, &other), -ENODEV, "%s", ftdi_usb_error(dev));
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "not 0403:6014"), "%s", ftdi_usb_error(dev));
    cr_expect_not(ftdi_usb_is_open(dev));
    cr_expect_eq(stats_of(model).control_in, 0);

    cr_assert_eq(sim_usb_bridge_unplug(bridge, model), 0);
    cr_expect_eq(ftdi_usb_open_at(dev, &at), -ENOENT, "%s", ftdi_usb_error(dev));
}

struct serial_result {
    int calls, rc;
    char serial[FTDI_SERIAL_MAX];
};

static void serial_read(void *user, int rc, const char *serial)
{
    struct serial_result *r = user;
    r->calls++;
    r->rc = rc;
    snprintf(r->serial, sizeof(r->serial), "%s", serial);
}

Test(ftdi_device, read_serial_reads_it_asynchronously_from_the_event_handling)
{
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    struct serial_result r = {0};
    cr_assert_eq(ftdi_usb_host_read_serial(host, at.bus, at.address, serial_read, &r), 0);
    cr_expect_eq(r.calls, 0, "done comes from the event handling, not from the call");
    cr_expect_eq(ftdi_usb_host_read_serial(host, at.bus, at.address, serial_read, &r), -EBUSY);
    pump_until(&r.calls, 1, 3000);
    cr_assert_eq(r.calls, 1);
    cr_expect_eq(r.rc, 0);
    cr_expect_str_eq(r.serial, SERIAL_A);
    cr_expect_eq(stats_of(model).control_in, 2, "language ids, then the string");

    /* a device that refuses: the code, and a read can start again */
    pthread_mutex_lock(&lock);
    sim_ft232h_fail_serial_string(model);
    pthread_mutex_unlock(&lock);
    cr_assert_eq(ftdi_usb_host_read_serial(host, at.bus, at.address, serial_read, &r), 0);
    pump_until(&r.calls, 2, 3000);
    cr_expect_eq(r.rc, -EPIPE);
    cr_expect_str_eq(r.serial, "");
    cr_expect_eq(
        ftdi_usb_host_read_serial(host, at.bus, (uint8_t)(at.address + 50), serial_read, &r),
        -ENOENT);
}

Test(ftdi_device, read_serial_still_running_when_the_host_goes_does_not_call_done)
{
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    pthread_mutex_lock(&lock);
    sim_ft232h_hang_control(model, 1);
    pthread_mutex_unlock(&lock);
    struct serial_result r = {0};
    cr_assert_eq(ftdi_usb_host_read_serial(host, at.bus, at.address, serial_read, &r), 0);
    ftdi_usb_device_free(dev);
    dev = NULL;
    ftdi_usb_host_free(host); /* the hung request is cancelled, its handle closed */
    host = NULL;
    cr_expect_eq(r.calls, 0);
}

/* ---- closing never waits ---- */

struct pollfd_log {
    int added, removed;
};

static void fd_added(int fd, short events, void *user)
{
    (void)fd, (void)events;
    ((struct pollfd_log *)user)->added++;
}

static void fd_removed(int fd, void *user)
{
    (void)fd;
    ((struct pollfd_log *)user)->removed++;
}

static void count_done(struct ftdi_usb_device *d, int rc, void *user)
{
    (void)d, (void)rc;
    ++*(int *)user;
}

/* A bulk IN that never completes on dev (usb-timeout), in flight. */
static void start_hung_read(int *done_count)
{
    static uint8_t byte;
    pthread_mutex_lock(&lock);
    sim_ft232h_hang_bulk_in(model, 1);
    pthread_mutex_unlock(&lock);
    cr_assert_eq(ftdi_usb_submit_exchange(dev, NULL, 0, &byte, 1, 20000, count_done, done_count), 0,
                 "%s", ftdi_usb_error(dev));
}

/* A second device on the second adapter, opened by address. */
static struct ftdi_usb_device *open_second(void)
{
    second_model = add_model(SIM_FT232H_PID, SERIAL_B);
    struct ftdi_usb_device_info at = place_of(second_model, SERIAL_B);
    struct ftdi_usb_device *other = ftdi_usb_device_new(host);
    cr_assert_not_null(other);
    cr_assert_eq(ftdi_usb_open_at(other, &at), 0, "%s", ftdi_usb_error(other));
    return other;
}

Test(ftdi_device, close_with_a_transfer_in_flight_handles_no_events_and_the_handle_goes_later)
{
    open_mpsse();
    struct ftdi_usb_device *other = open_second();
    struct pollfd_log fds = {0};
    ftdi_usb_host_set_pollfd_notifiers(host, fd_added, fd_removed, &fds);
    int hung_done = 0, other_done = 0;
    start_hung_read(&hung_done);
    /* a completion ready on the other device: a write completes at once */
    cr_assert_eq(ftdi_usb_submit_exchange(other, "\x81\x87", 2, NULL, 0, TIMEOUT_MS, count_done,
                                          &other_done),
                 0);

    ftdi_usb_close(dev);
    cr_expect_eq(other_done, 0, "close ran libusb's event handling (waited on the loop)");
    cr_expect_eq(hung_done, 0, "the abandoned operation ends without its done");
    cr_expect_not(ftdi_usb_is_open(dev));
    cr_expect_eq(sim_usb_bridge_bind_driver(bridge, model), -EBUSY,
                 "the handle stays, interface claimed, until the cancelled transfer is back");

    pump_until(&fds.removed, 1, 5000);
    cr_expect_eq(fds.removed, 1, "the handle closed once the cancelled transfer came back");
    cr_expect_eq(other_done, 1);
    cr_expect_eq(hung_done, 0);
    cr_expect_eq(sim_usb_bridge_bind_driver(bridge, model), 0, "interface 0 released");
    ftdi_usb_host_set_pollfd_notifiers(host, NULL, NULL, NULL);
    ftdi_usb_device_free(other);
}

struct close_in_callback {
    struct timespec start;
    long took_ms;
    int removed_inside;
    struct pollfd_log *fds;
};

static void close_dev_from_callback(struct ftdi_usb_device *d, int rc, void *user)
{
    struct close_in_callback *c = user;
    (void)d, (void)rc;
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    ftdi_usb_close(dev); /* inside libusb's event handling, dev's transfer in flight */
    c->took_ms = elapsed_ms(&c->start);
    c->removed_inside = c->fds->removed;
}

Test(ftdi_device, close_inside_a_callback_with_a_transfer_in_flight_returns_at_once)
{
    open_mpsse();
    struct ftdi_usb_device *other = open_second();
    struct pollfd_log fds = {0};
    ftdi_usb_host_set_pollfd_notifiers(host, fd_added, fd_removed, &fds);
    int hung_done = 0;
    start_hung_read(&hung_done);
    struct close_in_callback c = {.took_ms = -1, .fds = &fds};
    cr_assert_eq(ftdi_usb_submit_exchange(other, "\x81\x87", 2, NULL, 0, TIMEOUT_MS,
                                          close_dev_from_callback, &c),
                 0);

    pump_until(&fds.removed, 1, 10000);
    cr_assert_geq(c.took_ms, 0, "the callback ran");
    /* the old close spun libusb's event handling for 3 s here, then libusb_close deadlocked */
    cr_expect_lt(c.took_ms, 1000, "close waited %ld ms inside a callback", c.took_ms);
    cr_expect_eq(c.removed_inside, 0, "no libusb_close inside the callback");
    cr_expect_eq(fds.removed, 1, "closed after the event handling returned");
    cr_expect_eq(hung_done, 0);
    ftdi_usb_host_set_pollfd_notifiers(host, NULL, NULL, NULL);
    ftdi_usb_device_free(other);
}

/* ---- the kernel driver ---- */

static struct sim_usb_driver_stats driver_of(struct sim_ft232h *chip)
{
    struct sim_usb_driver_stats s;
    pthread_mutex_lock(&lock);
    cr_assert_eq(sim_usb_bridge_driver_stats_locked(bridge, chip, &s), 0);
    pthread_mutex_unlock(&lock);
    return s;
}

Test(ftdi_device, free_cancels_our_transfer_then_gives_ftdi_sio_back_without_reading_a_serial)
{
    sim_usb_bridge_driver_at_plug(bridge, model, true);
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    cr_assert_eq(ftdi_usb_open_at(dev, &at), 0, "%s", ftdi_usb_error(dev));
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 0), 0, "%s", ftdi_usb_error(dev));
    cr_expect_eq(driver_of(model).detaches, 1);
    int hung_done = 0;
    start_hung_read(&hung_done);
    uint64_t control_in = stats_of(model).control_in;

    ftdi_usb_device_free(dev);
    dev = NULL;
    int dummy = 0;
    pump_until(&dummy, 1, 300); /* the cancelled transfer comes back: the give-back follows */
    struct sim_usb_driver_stats s = driver_of(model);
    cr_expect_eq(s.attaches, 1);
    cr_expect(s.bound);
    cr_expect_eq(stats_of(model).control_in, control_in, "no descriptor read to find it");
    cr_expect_eq(hung_done, 0);
}

Test(ftdi_device, free_of_a_closed_device_gives_ftdi_sio_back_at_its_address)
{
    sim_usb_bridge_driver_at_plug(bridge, model, true);
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    cr_assert_eq(ftdi_usb_open_at(dev, &at), 0, "%s", ftdi_usb_error(dev));
    ftdi_usb_close(dev);
    cr_expect_not(driver_of(model).bound, "a close keeps it detached");
    uint64_t control_in = stats_of(model).control_in;
    ftdi_usb_device_free(dev);
    dev = NULL;
    cr_expect(driver_of(model).bound);
    cr_expect_eq(driver_of(model).attaches, 1);
    cr_expect_eq(stats_of(model).control_in, control_in, "no serial read");
}

Test(ftdi_device, ftdi_sio_bound_again_between_detach_and_claim_is_detached_once_more)
{
    sim_usb_bridge_driver_at_plug(bridge, model, true);
    sim_usb_bridge_rebind_after_detach(bridge, model, 1);
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    cr_assert_eq(ftdi_usb_open_at(dev, &at), 0, "%s", ftdi_usb_error(dev));
    struct sim_usb_driver_stats s = driver_of(model);
    cr_expect_eq(s.detaches, 2);
    cr_expect_eq(s.binds, 1);
    cr_expect_not(s.bound);
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 0), 0, "%s", ftdi_usb_error(dev));
    ftdi_usb_device_free(dev);
    dev = NULL;
    cr_expect(driver_of(model).bound, "given back at the end: we held it detached");
    cr_expect_eq(driver_of(model).attaches, 1);
}

Test(ftdi_device, ftdi_sio_bound_again_each_time_fails_clearly_and_is_not_ours_to_give_back)
{
    sim_usb_bridge_driver_at_plug(bridge, model, true);
    sim_usb_bridge_rebind_after_detach(bridge, model, 5);
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    cr_expect_eq(ftdi_usb_open_at(dev, &at), -EBUSY);
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "bound again"), "%s", ftdi_usb_error(dev));
    cr_expect_not(ftdi_usb_is_open(dev));
    struct sim_usb_driver_stats s = driver_of(model);
    cr_expect_eq(s.detaches, 2, "one retry, not more");
    cr_expect(s.bound);
    char pattern[512];
    glob_t links;
    snprintf(pattern, sizeof(pattern), "%s/sys/bus/usb/devices/*:1.0/driver",
             getenv("UMOCKDEV_DIR"));
    cr_expect_eq(glob(pattern, 0, NULL, &links), 0, "sysfs shows ftdi_sio bound again");
    cr_expect_eq(links.gl_pathc, 1, "on this adapter alone");
    globfree(&links);
    ftdi_usb_device_free(dev);
    dev = NULL;
    cr_expect_eq(driver_of(model).attaches, 0, "not ours to give back: someone else bound it");
}

/* ---- the bus link on it ---- */

static void link_done(struct bus_link *link, int rc, void *user)
{
    int *r = user;
    (void)link;
    r[0]++;
    r[1] = rc;
}

Test(ftdi_device, a_link_not_placed_opens_nothing_until_it_is_placed)
{
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A), nowhere = at;
    nowhere.bus = nowhere.address = 0;
    struct bus_link *link;
    cr_assert_eq(mpsse_link_new(host, &nowhere, 100000, &link), 0);
    int res[2] = {0, 0};
    cr_expect_eq(link->ops->open(link, link_done, res), -ENOENT);
    cr_expect(link->unplugged);
    cr_expect_eq(res[0], 0, "done is not called");
    struct sim_ft232h_stats s = stats_of(model);
    cr_expect_eq(s.control_in + s.control_out + s.bulk_in + s.bulk_out, 0, "no I/O");

    mpsse_link_place(link, &at);
    cr_assert_eq(link->ops->open(link, link_done, res), 0, "%s", link->ops->error(link));
    pump_until(&res[0], 1, 5000);
    cr_expect_eq(res[1], 0, "%s", link->ops->error(link));
    cr_expect(link->open);
    cr_expect_eq(mpsse_link_device(link)->address, at.address);

    mpsse_link_place(link, NULL); /* gone: the next open is -ENOENT without I/O */
    link->ops->free(link);
}

Test(ftdi_device, a_link_whose_open_fails_closes_its_device_at_once)
{
    struct ftdi_usb_device_info at = place_of(model, SERIAL_A);
    struct bus_link *link;
    cr_assert_eq(mpsse_link_new(host, &at, 100000, &link), 0);
    struct pollfd_log fds = {0};
    ftdi_usb_host_set_pollfd_notifiers(host, fd_added, fd_removed, &fds);
    pthread_mutex_lock(&lock);
    sim_ft232h_fail_control(model, 1); /* the first set-up request stalls */
    pthread_mutex_unlock(&lock);
    int res[2] = {0, 0};
    cr_assert_eq(link->ops->open(link, link_done, res), 0, "%s", link->ops->error(link));
    pump_until(&res[0], 1, 5000);
    cr_assert_eq(res[0], 1);
    cr_expect_eq(res[1], -EPIPE);
    cr_expect_not(link->open);
    cr_expect_eq(fds.removed, 1, "the device's fd is gone, not kept until the next open");
    cr_expect_eq(sim_usb_bridge_bind_driver(bridge, model), 0, "interface 0 released");
    ftdi_usb_host_set_pollfd_notifiers(host, NULL, NULL, NULL);
    link->ops->free(link);
}

/* ---- a stalled endpoint is cleared off the loop ----
 *
 * libusb_clear_halt is interposed here (this executable's definition comes before libusb's): it
 * notes the thread it runs on and can be held, as a hub or bridge that takes its time (the
 * kernel's limit is 5 s). Holding it here rather than in the simulated kernel matters: umockdev's
 * preload serialises the ioctls of a file, and the simulated device polls ready all the time, so
 * a held CLEAR_HALT there would also hold the loop's reaps, which a real kernel does not do while
 * no URB of that device is pending. */

static pthread_mutex_t halt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t halt_changed = PTHREAD_COND_INITIALIZER;
static bool halt_held;
static int halt_calls;
static bool halt_on_test_thread;
static pthread_t test_thread;

int libusb_clear_halt(libusb_device_handle *handle, unsigned char endpoint)
{
    static int (*real)(libusb_device_handle *, unsigned char);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "libusb_clear_halt");
    pthread_mutex_lock(&halt_lock);
    halt_calls++;
    halt_on_test_thread |= pthread_equal(pthread_self(), test_thread);
    pthread_cond_broadcast(&halt_changed);
    while (halt_held)
        pthread_cond_wait(&halt_changed, &halt_lock);
    pthread_mutex_unlock(&halt_lock);
    return real(handle, endpoint);
}

static void hold_clear_halt(bool hold)
{
    pthread_mutex_lock(&halt_lock);
    halt_held = hold;
    pthread_cond_broadcast(&halt_changed);
    pthread_mutex_unlock(&halt_lock);
}

static int clear_halt_calls(void)
{
    pthread_mutex_lock(&halt_lock);
    int n = halt_calls;
    pthread_mutex_unlock(&halt_lock);
    return n;
}

struct op_result {
    int calls, rc;
};

static void op_done(struct ftdi_usb_device *d, int rc, void *user)
{
    struct op_result *r = user;
    (void)d;
    r->calls++;
    r->rc = rc;
}

/* A bulk OUT that stalls, its clear-halt held. */
static void stall_with_clear_halt_held(struct op_result *r)
{
    test_thread = pthread_self();
    hold_clear_halt(true);
    pthread_mutex_lock(&lock);
    sim_ft232h_fail_bulk(model, 1);
    pthread_mutex_unlock(&lock);
    cr_assert_eq(ftdi_usb_submit_exchange(dev, "\x81\x87", 2, NULL, 0, TIMEOUT_MS, op_done, r), 0,
                 "%s", ftdi_usb_error(dev));
}

/* The clear-halt has been called (on whatever thread), within max_ms of event handling. */
static void pump_until_clear_halt_called(long max_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int never = 0;
    while (clear_halt_calls() == 0 && elapsed_ms(&start) < max_ms)
        pump_until(&never, 1, 20);
}

Test(ftdi_device, a_stall_is_cleared_on_the_worker_and_the_event_handling_goes_on)
{
    open_mpsse();
    struct op_result r = {0};
    stall_with_clear_halt_held(&r);

    /* Before: libusb_clear_halt ran in the transfer's callback, on this thread, inside this
     * event handling, which then waited for it (here: for ever, the test hung). */
    pump_until_clear_halt_called(5000);
    cr_assert_eq(clear_halt_calls(), 1);
    cr_expect_not(halt_on_test_thread, "libusb_clear_halt ran on the loop's thread");
    int never = 0;
    pump_until(&never, 1, 100); /* the event handling goes on meanwhile */
    cr_expect_eq(r.calls, 0, "the operation ends only once the halt is cleared");
    cr_expect_not_null(strstr(ftdi_usb_error(dev), "stalled"), "%s", ftdi_usb_error(dev));
    cr_expect_eq(ftdi_usb_submit_exchange(dev, "\x81", 1, NULL, 0, TIMEOUT_MS, op_done, &r),
                 -EBUSY);

    hold_clear_halt(false);
    pump_until(&r.calls, 1, 5000);
    cr_assert_eq(r.calls, 1);
    cr_expect_eq(r.rc, -EPIPE);
    write_all((const uint8_t[]){0x81, 0x87}, 2); /* the next transfer works */
}

Test(ftdi_device, a_device_closed_while_its_halt_is_cleared_closes_after_the_clear)
{
    open_mpsse();
    struct pollfd_log fds = {0};
    ftdi_usb_host_set_pollfd_notifiers(host, fd_added, fd_removed, &fds);
    struct op_result r = {0};
    stall_with_clear_halt_held(&r);
    pump_until_clear_halt_called(5000);
    cr_assert_eq(clear_halt_calls(), 1);

    ftdi_usb_close(dev);
    pump_until(&fds.removed, 1, 200);
    cr_expect_eq(fds.removed, 0, "the handle is not closed under the worker's clear-halt");
    hold_clear_halt(false);
    pump_until(&fds.removed, 1, 5000);
    cr_expect_eq(fds.removed, 1);
    cr_expect_eq(r.calls, 0, "a closed device's operation ends without its done");
    ftdi_usb_host_set_pollfd_notifiers(host, NULL, NULL, NULL);
}
