/* The usbredir front end's view of a model (front/usbredir_desc.h): device, interface and
 * endpoint info parsed from the descriptors alone, for the FT232H family and for a HID device
 * with interrupt endpoints at full speed (the CP2112's shape), and malformed descriptors refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "front/usbredir_desc.h"
#include "model/ft232h.h"

#define IDX(ep) SIM_USBREDIR_EP_INDEX(ep)

static struct sim_usbredir_desc parse_chip(enum sim_ftdi_chip chip, uint16_t pid)
{
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = pid, .serial = "FT000001", .chip = chip};
    struct sim_ft232h *dev = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(dev);
    const struct sim_usb_model model = {&sim_ft232h_usb_ops, dev};
    struct sim_usbredir_desc d;
    cr_assert_eq(sim_usbredir_desc_from_model(&model, &d), 0);
    sim_ft232h_free(dev);
    return d;
}

Test(usbredir_desc, ft232h)
{
    const struct sim_usbredir_desc d = parse_chip(SIM_CHIP_FT232H, SIM_FT232H_PID);

    cr_expect_eq(d.connect.speed, usb_redir_speed_high);
    cr_expect_eq(d.connect.vendor_id, 0x0403);
    cr_expect_eq(d.connect.product_id, 0x6014);
    cr_expect_eq(d.connect.device_version_bcd, 0x0900);
    cr_expect_eq(d.connect.device_class, 0, "class per interface");
    cr_expect_eq(d.interfaces.interface_count, 1);
    cr_expect_eq(d.interfaces.interface_class[0], 0xFF);
    cr_expect_eq(d.endpoints.type[IDX(0x81)], usb_redir_type_bulk);
    cr_expect_eq(d.endpoints.type[IDX(0x02)], usb_redir_type_bulk);
    cr_expect_eq(d.endpoints.max_packet_size[IDX(0x81)], 512);
    cr_expect_eq(d.endpoints.max_packet_size[IDX(0x02)], 512);
    cr_expect_eq(d.endpoints.type[0], usb_redir_type_control);
    cr_expect_eq(d.endpoints.type[16], usb_redir_type_control);
    cr_expect_eq(d.endpoints.max_packet_size[0], 64, "bMaxPacketSize0");
    cr_expect_eq(d.endpoints.type[IDX(0x01)], usb_redir_type_invalid);
    cr_expect_eq(d.endpoints.type[IDX(0x82)], usb_redir_type_invalid);
}

Test(usbredir_desc, ft4232h_has_four_interfaces)
{
    const struct sim_usbredir_desc d = parse_chip(SIM_CHIP_FT4232H, SIM_FT4232H_PID);

    cr_expect_eq(d.connect.device_version_bcd, 0x0800);
    cr_expect_eq(d.interfaces.interface_count, 4);
    for (unsigned i = 0; i < 4; i++) {
        cr_expect_eq(d.interfaces.interface[i], i);
        cr_expect_eq(d.endpoints.type[IDX(0x81 + 2 * i)], usb_redir_type_bulk);
        cr_expect_eq(d.endpoints.interface[IDX(0x81 + 2 * i)], i);
        cr_expect_eq(d.endpoints.interface[IDX(0x02 + 2 * i)], i);
    }
}

/* A HID device as the CP2112 is: class 0 device, one HID interface with a HID class descriptor,
 * interrupt IN 0x81 and OUT 0x01 of 64 bytes, bInterval 1 ms; an alternate setting 1 whose
 * endpoint must be left out. */
static const uint8_t hid_desc[] = {
    18,   0x01, 0x00, 0x02, 0,    0,  0, 64,   0xC4, 0x10, 0x90, 0xEA, 0x00, 0x01, 1,
    2,    3,    1,    9,    0x02, 57, 0, 1,    1,    0,    0x80, 50,   9,    0x04, 0,
    0,    2,    0x03, 0,    0,    0,  9, 0x21, 0x01, 0x01, 0,    1,    0x22, 0x00, 0x01,
    7,    0x05, 0x81, 0x03, 64,   0,  1, 7,    0x05, 0x01, 0x03, 64,   0,    1,    9,
    0x04, 0,    1,    1,    0x03, 0,  0, 0,    7,    0x05, 0x82, 0x03, 8,    0,    10,
};

Test(usbredir_desc, hid_interrupt_endpoints_at_full_speed)
{
    struct sim_usbredir_desc d;
    cr_assert_eq(sim_usbredir_desc_parse(hid_desc, sizeof(hid_desc), SIM_USB_FULL_SPEED, &d), 0);

    cr_expect_eq(d.connect.speed, usb_redir_speed_full);
    cr_expect_eq(d.connect.vendor_id, 0x10C4);
    cr_expect_eq(d.connect.product_id, 0xEA90);
    cr_expect_eq(d.interfaces.interface_count, 1, "alternate settings are not interfaces");
    cr_expect_eq(d.interfaces.interface_class[0], 0x03);
    cr_expect_eq(d.endpoints.type[IDX(0x81)], usb_redir_type_interrupt);
    cr_expect_eq(d.endpoints.type[IDX(0x01)], usb_redir_type_interrupt);
    cr_expect_eq(d.endpoints.interval[IDX(0x81)], 1);
    cr_expect_eq(d.endpoints.max_packet_size[IDX(0x01)], 64);
    cr_expect_eq(d.endpoints.type[IDX(0x82)], usb_redir_type_invalid, "alt 1 only");
}

Test(usbredir_desc, high_bandwidth_max_packet_counts_every_transaction)
{
    uint8_t desc[sizeof(hid_desc)];
    memcpy(desc, hid_desc, sizeof(desc));
    desc[18 + 9 + 9 + 9 + 4] = 0x00; /* 0x81: 1024 bytes, 3 transactions per microframe */
    desc[18 + 9 + 9 + 9 + 5] = 0x14;
    struct sim_usbredir_desc d;
    cr_assert_eq(sim_usbredir_desc_parse(desc, sizeof(desc), SIM_USB_HIGH_SPEED, &d), 0);
    cr_expect_eq(d.endpoints.max_packet_size[IDX(0x81)], 3 * 1024);
}

Test(usbredir_desc, malformed_descriptors_are_refused)
{
    struct sim_usbredir_desc d;
    uint8_t desc[sizeof(hid_desc)];

    cr_expect_eq(sim_usbredir_desc_parse(hid_desc, sizeof(hid_desc) - 1, SIM_USB_FULL_SPEED, &d),
                 -EINVAL, "wTotalLength past the end");
    memcpy(desc, hid_desc, sizeof(desc));
    desc[1] = 0x02;
    cr_expect_eq(sim_usbredir_desc_parse(desc, sizeof(desc), SIM_USB_FULL_SPEED, &d), -EINVAL,
                 "no device descriptor first");
    memcpy(desc, hid_desc, sizeof(desc));
    desc[18 + 9] = 0;
    cr_expect_eq(sim_usbredir_desc_parse(desc, sizeof(desc), SIM_USB_FULL_SPEED, &d), -EINVAL,
                 "a zero-length descriptor");
    memcpy(desc, hid_desc, sizeof(desc));
    desc[18 + 9 + 1] = 0x05; /* the interface descriptor becomes an endpoint before any */
    cr_expect_eq(sim_usbredir_desc_parse(desc, sizeof(desc), SIM_USB_FULL_SPEED, &d), -EINVAL,
                 "an endpoint outside an interface");
}
