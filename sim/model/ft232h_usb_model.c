/* The FT232H family as a generic USB device model (usb_model.h): thin wrappers over ft232h.h,
 * so a front end that knows no FTDI chip (the usbredir bridge) drives the same model the umockdev
 * bridge drives. Endpoints map to ports with sim_ft232h_endpoint_port; every bulk endpoint of the
 * chip is a "data" endpoint. */
#include "model/ft232h.h"

#include <errno.h>

static size_t descriptors(const void *dev, uint8_t *buf, size_t max)
{
    return sim_ft232h_descriptors(dev, buf, max);
}

static int control_submit(void *dev, const struct sim_usb_setup *setup)
{
    return sim_ft232h_control_submit(dev, setup);
}

/* A RESET or SET_BITMODE moves the pins when it arrives: the engines idle up to now first. */
static int control(void *dev, const struct sim_usb_setup *setup, uint8_t *data, uint64_t now_ns)
{
    sim_ft232h_advance_to(dev, now_ns);
    return sim_ft232h_control(dev, setup, data);
}

/* -EINVAL for an endpoint the chip does not have (a front end answers "invalid"). */
static int data_submit(void *dev, uint8_t ep)
{
    if (sim_ft232h_endpoint_port(dev, ep) < 0)
        return -EINVAL;
    return sim_ft232h_bulk_submit(dev, ep & 0x80);
}

static int data_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, uint64_t now_ns)
{
    const int port = sim_ft232h_endpoint_port(dev, ep);
    if (port < 0 || (ep & 0x80))
        return -EINVAL;
    return (int)sim_ft232h_bulk_out_port(dev, (unsigned)port, data, len, now_ns);
}

/* A zero-length request can never hold a packet (the model never completes it): whatever the
 * chip sends overflows it, so it ends at once in babble with no data, as the umockdev bridge
 * ends such a URB. */
static int data_in(void *dev, uint8_t ep, uint8_t *buf, size_t max, uint64_t now_ns,
                   uint64_t *wake_ns, int *status)
{
    const int port = sim_ft232h_endpoint_port(dev, ep);
    *status = 0;
    if (port < 0 || !(ep & 0x80))
        return -EINVAL;
    size_t n = sim_ft232h_bulk_in_status(dev, (unsigned)port, buf, max, now_ns, wake_ns, status);
    if (n == 0 && *wake_ns == UINT64_MAX)
        return -EOVERFLOW;
    return (int)n;
}

/* The chip as a freshly plugged one: bit mode reset, purged, default latency, unconfigured. */
static void power_on(void *dev, uint64_t now_ns)
{
    sim_ft232h_power_on(dev, now_ns);
}

const struct sim_usb_model_ops sim_ft232h_usb_ops = {
    .speed = SIM_USB_HIGH_SPEED,
    .descriptors = descriptors,
    .control_submit = control_submit,
    .control = control,
    .data_submit = data_submit,
    .data_out = data_out,
    .data_in = data_in,
    .power_on = power_on,
};
