/* Unit tests of the FT232H USB device model's control side (model/ft232h_control.c):
 * descriptors, standard requests, FTDI vendor requests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ft232h_fixture.h"
#include "model/i2c_bus.h"

/* ---- descriptors ---- */

Test(ft232h, device_descriptor_is_an_ft232h_with_the_configured_ids)
{
    const uint8_t expected[18] = {18,   1,    0x00, 0x02, 0, 0, 0, 64, 0x03,
                                  0x04, 0xF8, 0xD4, 0x00, 9, 1, 2, 3,  1};
    uint8_t buf[64];

    cr_assert_eq(sim_ft232h_descriptors(dev, buf, sizeof(buf)), DESC_LEN);
    cr_assert_arr_eq(buf, expected, sizeof(expected));
}

Test(ft232h, configuration_descriptor_has_one_vendor_interface_and_two_bulk_endpoints)
{
    const uint8_t expected[32] = {
        9, 2, 32,   0, 1, 1,    0,    0x80, 45, /* configuration 1, bus powered, 90 mA */
        9, 4, 0,    0, 2, 0xFF, 0xFF, 0xFF, 2,  /* interface 0, vendor class */
        7, 5, 0x81, 2, 0, 2,    0,              /* bulk IN, 512 bytes */
        7, 5, 0x02, 2, 0, 2,    0};             /* bulk OUT, 512 bytes */
    uint8_t buf[64];

    sim_ft232h_descriptors(dev, buf, sizeof(buf));
    cr_assert_arr_eq(buf + 18, expected, sizeof(expected));
}

Test(ft232h, descriptors_report_the_length_needed_when_the_buffer_is_too_small)
{
    uint8_t buf[10];
    memset(buf, 0xAA, sizeof(buf));

    cr_assert_eq(sim_ft232h_descriptors(dev, buf, sizeof(buf)), DESC_LEN);
    cr_assert_eq(buf[0], 0xAA, "nothing may be written into a short buffer");
}

Test(ft232h, get_descriptor_returns_the_device_descriptor_cut_to_wlength)
{
    uint8_t full[64], data[64];
    sim_ft232h_descriptors(dev, full, sizeof(full));

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0100, 0, 64, data), 18);
    cr_assert_arr_eq(data, full, 18);
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0100, 0, 8, data), 8);
}

Test(ft232h, get_descriptor_returns_the_whole_configuration)
{
    uint8_t full[64], data[255];
    sim_ft232h_descriptors(dev, full, sizeof(full));

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0200, 0, 9, data), 9);
    cr_assert_eq(data[2], 32, "wTotalLength");
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0200, 0, 255, data), 32);
    cr_assert_arr_eq(data, full + 18, 32);
}

Test(ft232h, string_zero_lists_us_english)
{
    uint8_t data[255];
    const uint8_t expected[] = {4, 3, 0x09, 0x04};

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0300, 0, 255, data), 4);
    cr_assert_arr_eq(data, expected, 4);
}

Test(ft232h, strings_are_utf16le_with_ftdi_defaults_and_the_configured_serial)
{
    uint8_t data[255];
    const uint8_t manufacturer[] = {10, 3, 'F', 0, 'T', 0, 'D', 0, 'I', 0};
    const uint8_t serial[] = {18, 3,   'L', 0,   'X', 0,   '0', 0,   '0',
                              0,  '0', 0,   '0', 0,   '4', 0,   '2', 0};

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0301, 0x0409, 255, data), 10);
    cr_assert_arr_eq(data, manufacturer, sizeof(manufacturer));

    int n = ctl(DIR_IN | STD_DEV, 0x06, 0x0302, 0x0409, 255, data);
    cr_assert_eq(n, 2 + 2 * (int)strlen("Single RS232-HS"));
    cr_assert_eq(data[2], 'S');
    cr_assert_eq(data[n - 2], 'S');
    cr_assert_eq(data[n - 1], 0);

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0303, 0x0409, 255, data), 18);
    cr_assert_arr_eq(data, serial, sizeof(serial));
}

Test(ft232h, string_descriptor_is_cut_to_wlength)
{
    uint8_t data[255];
    memset(data, 0xEE, sizeof(data));

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0301, 0x0409, 2, data), 2);
    cr_assert_eq(data[0], 10, "bLength still tells the full length");
    cr_assert_eq(data[2], 0xEE);
}

Test(ft232h, custom_strings_are_reported)
{
    const struct sim_ft232h_config cfg = {.vid = 0x0403,
                                          .pid = 0x6014,
                                          .serial = "S1",
                                          .manufacturer = "Acme",
                                          .product = "Lynx adapter"};
    struct sim_ft232h *other = sim_ft232h_new(&cfg, NULL);
    const struct sim_usb_setup get_product = {DIR_IN, 0x06, 0x0302, 0x0409, 255};
    uint8_t data[255];

    cr_assert_eq(sim_ft232h_control(other, &get_product, data), 2 + 2 * 12);
    cr_assert_eq(data[2], 'L');
    cr_assert_str_eq(sim_ft232h_config(other)->manufacturer, "Acme");
    cr_assert_eq(sim_ft232h_config(other)->pid, 0x6014);
    sim_ft232h_free(other);
}

Test(ft232h, a_device_without_serial_has_serial_index_zero_and_no_string_three)
{
    const struct sim_ft232h_config cfg = {.vid = 0x0403, .pid = 0x6014, .serial = ""};
    struct sim_ft232h *other = sim_ft232h_new(&cfg, NULL);
    const struct sim_usb_setup get_serial = {DIR_IN, 0x06, 0x0303, 0x0409, 255};
    uint8_t buf[64];

    sim_ft232h_descriptors(other, buf, sizeof(buf));
    cr_assert_eq(buf[16], 0, "iSerialNumber");
    cr_assert_null(sim_ft232h_config(other)->serial);
    cr_assert_eq(sim_ft232h_control(other, &get_serial, buf), -EPIPE);
    sim_ft232h_free(other);
}

Test(ft232h, unknown_strings_and_descriptor_types_stall)
{
    uint8_t data[255];

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0304, 0x0409, 255, data), -EPIPE);
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0600, 0, 10, data), -EPIPE, "device qualifier");
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0201, 0, 9, data), -EPIPE, "configuration 1");
}

/* ---- standard requests ---- */

Test(ft232h, set_configuration_is_reported_by_get_configuration)
{
    uint8_t value = 0xEE;

    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x08, 0, 0, 1, &value), 1);
    cr_assert_eq(value, 0, "unconfigured after reset");
    cr_assert_eq(ctl(STD_DEV, 0x09, 1, 0, 0, NULL), 0);
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x08, 0, 0, 1, &value), 1);
    cr_assert_eq(value, 1);
    cr_assert_eq(ctl(STD_DEV, 0x09, 2, 0, 0, NULL), -EPIPE, "only configuration 1 exists");
}

Test(ft232h, get_status_returns_two_zero_bytes_for_device_interface_and_endpoint)
{
    for (uint8_t recipient = 0; recipient <= 2; recipient++) {
        uint8_t status[2] = {0xEE, 0xEE};
        cr_assert_eq(ctl(DIR_IN | recipient, 0x00, 0, 0, 2, status), 2);
        cr_assert_eq(status[0], 0);
        cr_assert_eq(status[1], 0);
    }
}

Test(ft232h, unsupported_standard_and_class_requests_stall)
{
    uint8_t data[8];

    cr_assert_eq(ctl(STD_DEV, 0x05, 7, 0, 0, NULL), -EPIPE, "SET_ADDRESS");
    cr_assert_eq(ctl(STD_DEV, 0x03, 1, 0, 0, NULL), -EPIPE, "SET_FEATURE");
    cr_assert_eq(ctl(STD_DEV, 0x06, 0x0100, 0, 0, NULL), -EPIPE, "GET_DESCRIPTOR as OUT");
    cr_assert_eq(ctl(DIR_IN | 0x21, 0x01, 0, 0, 8, data), -EPIPE, "class request");
}

/* ---- FTDI vendor requests ---- */

Test(ft232h, uart_and_reset_requests_are_accepted_on_port_0_and_1_only)
{
    const uint8_t requests[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x07};

    for (size_t i = 0; i < sizeof(requests); i++) {
        cr_assert_eq(ctl(VENDOR, requests[i], 0, 1, 0, NULL), 0, "request %02x", requests[i]);
        cr_assert_eq(ctl(VENDOR, requests[i], 0, 0, 0, NULL), 0, "request %02x", requests[i]);
        cr_assert_eq(ctl(VENDOR, requests[i], 0, 2, 0, NULL), -EPIPE, "port B does not exist");
    }
}

Test(ft232h, poll_modem_status_returns_the_bulk_status_bytes)
{
    uint8_t data[2] = {0};

    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x05, 0, 1, 2, data), 2);
    cr_assert_eq(data[0], 0x32);
    cr_assert_eq(data[1], 0x60);
}

Test(ft232h, latency_timer_defaults_to_16_ms_and_can_be_set)
{
    uint8_t value = 0;

    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0A, 0, 1, 1, &value), 1);
    cr_assert_eq(value, 16);
    cr_assert_eq(vendor_out(0x09, 2), 0);
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0A, 0, 1, 1, &value), 1);
    cr_assert_eq(value, 2);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 2);
    cr_assert_eq(vendor_out(0x09, 255), 0);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 255);
}

Test(ft232h, latency_zero_becomes_one_ms_and_above_255_stalls)
{
    cr_assert_eq(vendor_out(0x09, 0), 0);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 1);
    cr_assert_eq(vendor_out(0x09, 256), -EPIPE);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 1);
}

Test(ft232h, read_eeprom_returns_a_blank_word)
{
    uint8_t word[2] = {0};

    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x90, 0, 0x0A, 2, word), 2);
    cr_assert_eq(word[0], 0xFF);
    cr_assert_eq(word[1], 0xFF);
}

Test(ft232h, unknown_vendor_requests_and_wrong_directions_stall)
{
    uint8_t data[2];

    cr_assert_eq(vendor_out(0x91, 0x1234), -EPIPE, "WRITE_EEPROM");
    cr_assert_eq(vendor_out(0x0A, 0), -EPIPE, "GET_LATENCY as OUT");
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x09, 16, 1, 1, data), -EPIPE, "SET_LATENCY as IN");
}

Test(ft232h, set_bitmode_enters_and_leaves_mpsse)
{
    cr_assert_not(sim_ft232h_mpsse_enabled(dev));
    cr_assert_eq(vendor_out(0x0B, 0x020B), 0);
    cr_assert(sim_ft232h_mpsse_enabled(dev));
    cr_assert_eq(vendor_out(0x0B, 0x0000), 0);
    cr_assert_not(sim_ft232h_mpsse_enabled(dev));
    cr_assert_eq(vendor_out(0x0B, 0x01FF), 0, "async bit-bang is accepted");
    cr_assert_not(sim_ft232h_mpsse_enabled(dev));
}

Test(ft232h, read_pins_reports_the_engine_pin_levels)
{
    uint8_t pins = 0;
    const uint8_t drive_high[] = {0x80, 0x70, 0x70}, drive_low[] = {0x80, 0x00, 0x70};

    enter_mpsse();
    bulk_send(drive_high, sizeof(drive_high), T0);
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0C, 0, 1, 1, &pins), 1);
    cr_assert_eq(pins, sim_mpsse_read_pins(sim_ft232h_mpsse(dev)));
    cr_assert_eq(pins & 0x70, 0x70);

    bulk_send(drive_low, sizeof(drive_low), T0);
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0C, 0, 1, 1, &pins), 1);
    cr_assert_eq(pins & 0x70, 0x00);
}
