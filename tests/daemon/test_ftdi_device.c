/* The ftdi_usb device's placing and life cycle against the simulated adapter (ftdi_fixture.h):
 * opening by bus and address (no device I/O), the asynchronous serial read, closing with a
 * transfer in flight, the kernel driver given back, a clear-halt off the loop. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ftdi_fixture.h"

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
