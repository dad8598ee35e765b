/* The FT232H model tests' shared fixture: see ft232h_fixture.h. */
#include <criterion/criterion.h>

#include "ft232h_fixture.h"

struct sim_ft232h *dev;

static void make_default(void)
{
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = SIM_LYNX_ADAPTER_PID, .serial = "LX000042"};
    dev = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(dev);
}

static void free_dev(void)
{
    sim_ft232h_free(dev);
    dev = NULL;
}

TestSuite(ft232h, .init = make_default, .fini = free_dev);

int ctl(uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint16_t len, uint8_t *data)
{
    const struct sim_usb_setup s = {type, req, value, index, len};
    return sim_ft232h_control(dev, &s, data);
}

int vendor_out(uint8_t req, uint16_t value)
{
    return ctl(VENDOR, req, value, 1, 0, NULL);
}

void enter_mpsse(void)
{
    cr_assert_eq(vendor_out(0x0B, 0x0200), 0);
    cr_assert(sim_ft232h_mpsse_enabled(dev));
}

void bulk_send(const uint8_t *bytes, size_t len, uint64_t now)
{
    cr_assert_eq(sim_ft232h_bulk_out(dev, bytes, len, now), len);
}
