/* The FT232H family as a generic USB model (sim_ft232h_usb_ops): the same chip through the
 * table a front end that knows no FTDI chip uses (the usbredir bridge). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ft232h_fixture.h"

static const struct sim_usb_model_ops *ops = &sim_ft232h_usb_ops;

Test(ft232h, usb_ops_serve_the_chips_descriptors_at_high_speed)
{
    uint8_t a[128], b[128];
    const size_t len = ops->descriptors(dev, a, sizeof(a));
    cr_assert_eq(len, sim_ft232h_descriptors(dev, b, sizeof(b)));
    cr_expect_arr_eq(a, b, len);
    cr_expect_eq(ops->speed, SIM_USB_HIGH_SPEED);
}

Test(ft232h, usb_ops_refuse_endpoints_the_chip_lacks)
{
    uint8_t buf[512];
    uint64_t wake;
    int status;
    cr_expect_eq(ops->data_submit(dev, 0x83), -EINVAL, "port B on an FT232H");
    cr_expect_eq(ops->data_out(dev, 0x81, buf, 1, T0), -EINVAL, "OUT to an IN endpoint");
    cr_expect_eq(ops->data_in(dev, 0x02, buf, sizeof(buf), T0, &wake, &status), -EINVAL);
    cr_expect_eq(ops->data_submit(dev, 0x81), 0);
}

Test(ft232h, usb_ops_carry_mpsse_commands_and_their_answers)
{
    enter_mpsse();
    const uint8_t cmd[] = {0x81, 0x87}; /* read pins, send immediate */
    cr_assert_eq(ops->data_out(dev, 0x02, cmd, sizeof(cmd), T0), 2);
    uint8_t buf[512];
    uint64_t wake = 0;
    int status = 1;
    cr_expect_eq(ops->data_in(dev, 0x81, buf, sizeof(buf), T0, &wake, &status), 3);
    cr_expect_eq(status, 0);
    cr_expect_eq(buf[0], 0x32);
    cr_expect_eq(buf[1], 0x60);
}

Test(ft232h, usb_ops_in_waits_for_the_latency_timer)
{
    uint8_t buf[512];
    uint64_t wake = 0;
    int status;
    cr_expect_eq(ops->data_in(dev, 0x81, buf, sizeof(buf), T0, &wake, &status), 0);
    cr_expect_eq(wake, T0 + 16 * MS);
    cr_expect_eq(ops->data_in(dev, 0x81, buf, sizeof(buf), wake, &wake, &status), 2);
}

Test(ft232h, usb_ops_a_request_too_small_for_a_packet_babbles)
{
    uint8_t buf[1];
    uint64_t wake = 0;
    int status = 0;
    cr_expect_eq(ops->data_in(dev, 0x81, buf, 0, T0, &wake, &status), -EOVERFLOW,
                 "a zero-length request: any packet overflows it, at once");
    cr_expect_eq(ops->data_in(dev, 0x81, buf, 1, T0, &wake, &status), 0, "the timer first");
    cr_expect_eq(ops->data_in(dev, 0x81, buf, 1, wake, &wake, &status), 1);
    cr_expect_eq(status, -EOVERFLOW, "the status packet does not fit in one byte");
}

Test(ft232h, usb_ops_control_submit_consumes_the_armed_faults)
{
    const struct sim_usb_setup setup = {0xC0, 0x0A, 0, 1, 1};
    sim_ft232h_fail_control(dev, 1);
    cr_expect_eq(ops->control_submit(dev, &setup), -EPIPE);
    cr_expect_eq(ops->control_submit(dev, &setup), 0);
    uint8_t latency = 0;
    cr_expect_eq(ops->control(dev, &setup, &latency, T0), 1);
    cr_expect_eq(latency, 16);
}

Test(ft232h, usb_ops_power_on_is_a_fresh_chip)
{
    enter_mpsse();
    cr_assert_eq(vendor_out(0x09, 77), 0);
    ops->power_on(dev, T0);
    cr_expect_not(sim_ft232h_mpsse_enabled(dev));
    cr_expect_eq(sim_ft232h_latency_ms(dev), 16);
    uint8_t config = 9;
    cr_expect_eq(ctl(0x80, 0x08, 0, 0, 1, &config), 1);
    cr_expect_eq(config, 0, "unconfigured");
}
