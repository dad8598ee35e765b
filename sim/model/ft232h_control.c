/* The FT232H family's USB control side (see ft232h.h for the contract): the descriptors, the
 * standard and FTDI vendor control requests, and the control faults decided at submission. The
 * chip itself (queues, latency timer, bulk packets) is ft232h.c.
 *
 * Model decisions where the datasheets are silent:
 * - RESET 0 (reset) resets the MPSSE engine; RESET 1 (purge host-to-chip) only drops a partially
 *   received command, so a client's recovery purge keeps its clock and pin set-up; RESET 0 and 2
 *   (purge chip-to-host) empty the IN queue.
 * - SET_LATENCY_TIMER 0 is taken as 1 ms (clients validate 1..255; never let the timer be 0).
 * - FT2232H/FT4232H: the vendor requests' wIndex low byte names the port (A = 1 .. D = 4, 0 = A).
 */
#include "model/ft232h.h"

#include <errno.h>
#include <string.h>

#include "model/ft232h_state.h"

#define DEVICE_DESC_LEN    18
#define INTERFACE_DESC_LEN (9 + 7 + 7)
#define CONFIG_DESC_LEN(n) (9 + (n)*INTERFACE_DESC_LEN)
#define MAX_POWER_2MA      45 /* 90 mA, the FT232H EEPROM default */
#define LANGID_EN_US       0x0409

enum std_request {
    REQ_GET_STATUS = 0x00,
    REQ_CLEAR_FEATURE = 0x01,
    REQ_SET_FEATURE = 0x03,
    REQ_GET_DESCRIPTOR = 0x06,
    REQ_GET_CONFIGURATION = 0x08,
    REQ_SET_CONFIGURATION = 0x09,
    REQ_GET_INTERFACE = 0x0A,
    REQ_SET_INTERFACE = 0x0B,
};

enum ftdi_request {
    SIO_RESET = 0x00,
    SIO_SET_MODEM_CTRL = 0x01,
    SIO_SET_FLOW_CTRL = 0x02,
    SIO_SET_BAUDRATE = 0x03,
    SIO_SET_DATA = 0x04,
    SIO_POLL_MODEM_STATUS = 0x05,
    SIO_SET_EVENT_CHAR = 0x06,
    SIO_SET_ERROR_CHAR = 0x07,
    SIO_SET_LATENCY_TIMER = 0x09,
    SIO_GET_LATENCY_TIMER = 0x0A,
    SIO_SET_BITMODE = 0x0B,
    SIO_READ_PINS = 0x0C,
    SIO_READ_EEPROM = 0x90,
};

enum { SIO_RESET_SIO = 0, SIO_RESET_PURGE_HOST_TO_CHIP = 1, SIO_RESET_PURGE_CHIP_TO_HOST = 2 };

#define TYPE_DIR_IN     0x80
#define TYPE_MASK       0x60
#define TYPE_STANDARD   0x00
#define TYPE_VENDOR     0x40
#define RECIPIENT_MASK  0x1F
#define RECIP_DEVICE    0
#define RECIP_INTERFACE 1
#define RECIP_ENDPOINT  2
static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = v & 0xFF;
    p[1] = v >> 8;
}

static void build_device_descriptor(const struct sim_ft232h *dev, uint8_t *d)
{
    d[0] = DEVICE_DESC_LEN;
    d[1] = 0x01; /* DEVICE */
    put_le16(d + 2, 0x0200);
    d[4] = 0x00; /* class per interface */
    d[5] = 0x00;
    d[6] = 0x00;
    d[7] = 64; /* bMaxPacketSize0 */
    put_le16(d + 8, dev->cfg.vid);
    put_le16(d + 10, dev->cfg.pid);
    put_le16(d + 12, dev->chip->bcd_device);
    d[14] = 1; /* iManufacturer */
    d[15] = 2; /* iProduct */
    d[16] = dev->cfg.serial ? STR_SERIAL : 0;
    d[17] = 1; /* bNumConfigurations */
}

static void build_endpoint(uint8_t *d, uint8_t address)
{
    d[0] = 7;
    d[1] = 0x05; /* ENDPOINT */
    d[2] = address;
    d[3] = 0x02; /* bulk */
    put_le16(d + 4, SIM_FT232H_PACKET);
    d[6] = 0; /* bInterval */
}

static void build_interface(uint8_t *itf, unsigned number)
{
    itf[0] = 9;
    itf[1] = 0x04; /* INTERFACE */
    itf[2] = (uint8_t)number;
    itf[3] = 0; /* bAlternateSetting */
    itf[4] = 2; /* bNumEndpoints */
    itf[5] = 0xFF;
    itf[6] = 0xFF;
    itf[7] = 0xFF;
    itf[8] = 2; /* iInterface: the product string, as FTDI chips do */

    build_endpoint(itf + 9, (uint8_t)(SIM_FT232H_EP_IN + 2 * number));
    build_endpoint(itf + 16, (uint8_t)(SIM_FT232H_EP_OUT + 2 * number));
}

static void build_config_descriptor(const struct sim_ft232h *dev, uint8_t *d)
{
    const unsigned ports = dev->chip->ports;

    d[0] = 9;
    d[1] = 0x02; /* CONFIGURATION */
    put_le16(d + 2, (uint16_t)CONFIG_DESC_LEN(ports));
    d[4] = (uint8_t)ports; /* bNumInterfaces */
    d[5] = 1;              /* bConfigurationValue */
    d[6] = 0;              /* iConfiguration */
    d[7] = 0x80;           /* bus powered, no remote wakeup */
    d[8] = MAX_POWER_2MA;

    for (unsigned i = 0; i < ports; i++)
        build_interface(d + 9 + i * INTERFACE_DESC_LEN, i);
}

size_t sim_ft232h_descriptors(const struct sim_ft232h *dev, uint8_t *buf, size_t max)
{
    const size_t len = DEVICE_DESC_LEN + CONFIG_DESC_LEN(dev->chip->ports);

    if (max < len)
        return len;
    build_device_descriptor(dev, buf);
    build_config_descriptor(dev, buf + DEVICE_DESC_LEN);
    return len;
}

/* Copies at most wLength bytes of a reply; returns the count. */
static int reply(uint8_t *data, uint16_t wLength, const uint8_t *bytes, size_t len)
{
    size_t n = len < wLength ? len : wLength;
    memcpy(data, bytes, n);
    return (int)n;
}

/* String descriptor: ASCII/Latin-1 widened to UTF-16LE, truncated to the 255-byte limit. */
static int string_descriptor(const char *s, uint8_t *data, uint16_t wLength)
{
    uint8_t d[255];
    size_t chars = strlen(s);

    if (chars > (sizeof(d) - 2) / 2)
        chars = (sizeof(d) - 2) / 2;
    d[0] = (uint8_t)(2 + 2 * chars);
    d[1] = 0x03; /* STRING */
    for (size_t i = 0; i < chars; i++)
        put_le16(d + 2 + 2 * i, (uint8_t)s[i]);
    return reply(data, wLength, d, d[0]);
}

static int get_descriptor(struct sim_ft232h *dev, const struct sim_usb_setup *s, uint8_t *data)
{
    uint8_t type = s->wValue >> 8, index = s->wValue & 0xFF;
    uint8_t d[CONFIG_DESC_LEN(SIM_FTDI_MAX_PORTS)];

    switch (type) {
    case 0x01:
        if (index != 0)
            return -EPIPE;
        build_device_descriptor(dev, d);
        return reply(data, s->wLength, d, DEVICE_DESC_LEN);
    case 0x02:
        if (index != 0)
            return -EPIPE;
        build_config_descriptor(dev, d);
        return reply(data, s->wLength, d, CONFIG_DESC_LEN(dev->chip->ports));
    case 0x03:
        switch (index) {
        case 0: {
            const uint8_t langids[] = {4, 0x03, LANGID_EN_US & 0xFF, LANGID_EN_US >> 8};
            return reply(data, s->wLength, langids, sizeof(langids));
        }
        case 1:
            return string_descriptor(dev->cfg.manufacturer, data, s->wLength);
        case 2:
            return string_descriptor(dev->cfg.product, data, s->wLength);
        case STR_SERIAL:
            if (dev->cfg.serial)
                return string_descriptor(dev->cfg.serial, data, s->wLength);
            return -EPIPE;
        default:
            return -EPIPE;
        }
    default:
        return -EPIPE; /* no device qualifier, BOS or other-speed descriptors */
    }
}

static int standard_request(struct sim_ft232h *dev, const struct sim_usb_setup *s, uint8_t *data)
{
    const bool in = s->bmRequestType & TYPE_DIR_IN;
    const uint8_t recipient = s->bmRequestType & RECIPIENT_MASK;
    const uint8_t zero_status[2] = {0, 0};

    switch (s->bRequest) {
    case REQ_GET_DESCRIPTOR:
        if (!in || recipient != RECIP_DEVICE)
            return -EPIPE;
        return get_descriptor(dev, s, data);
    case REQ_GET_CONFIGURATION:
        if (!in || recipient != RECIP_DEVICE)
            return -EPIPE;
        return reply(data, s->wLength, &dev->configuration, 1);
    case REQ_SET_CONFIGURATION:
        if (in || recipient != RECIP_DEVICE || s->wValue > 1)
            return -EPIPE;
        dev->configuration = (uint8_t)s->wValue;
        return 0;
    case REQ_GET_STATUS:
        /* bus powered, no remote wakeup, interface 0, endpoints never halted */
        if (!in || recipient > RECIP_ENDPOINT)
            return -EPIPE;
        return reply(data, s->wLength, zero_status, sizeof(zero_status));
    case REQ_GET_INTERFACE:
        if (!in || recipient != RECIP_INTERFACE || s->wIndex >= dev->chip->ports)
            return -EPIPE;
        return reply(data, s->wLength, zero_status, 1);
    case REQ_SET_INTERFACE:
        if (in || recipient != RECIP_INTERFACE || s->wIndex >= dev->chip->ports || s->wValue != 0)
            return -EPIPE;
        return 0;
    case REQ_CLEAR_FEATURE:
        if (in || recipient != RECIP_ENDPOINT) /* ENDPOINT_HALT: nothing ever halts */
            return -EPIPE;
        return 0;
    default:
        return -EPIPE;
    }
}

static void enter_bitmode(struct ft_port *dev, uint8_t mode)
{
    dev->bitmode = mode; /* the pin mask only matters to the bit-bang modes */
    if (dev->mpsse)
        sim_mpsse_reset(dev->mpsse); /* entering or leaving MPSSE starts the engine afresh */
}

static int vendor_out(struct ft_port *dev, const struct sim_usb_setup *s)
{
    switch (s->bRequest) {
    case SIO_RESET:
        if (s->wValue > SIO_RESET_PURGE_CHIP_TO_HOST)
            return -EPIPE;
        if (s->wValue == SIO_RESET_SIO && dev->mpsse)
            sim_mpsse_reset(dev->mpsse);
        else if (s->wValue == SIO_RESET_PURGE_HOST_TO_CHIP && dev->mpsse)
            sim_mpsse_purge(dev->mpsse);
        if (s->wValue != SIO_RESET_PURGE_HOST_TO_CHIP)
            sim_ft232h_port_purge(dev);
        return 0;
    case SIO_SET_MODEM_CTRL:
    case SIO_SET_FLOW_CTRL:
    case SIO_SET_BAUDRATE:
    case SIO_SET_DATA:
    case SIO_SET_EVENT_CHAR:
    case SIO_SET_ERROR_CHAR:
        return 0; /* UART settings: no effect in MPSSE mode */
    case SIO_SET_LATENCY_TIMER:
        if (s->wValue > 255)
            return -EPIPE;
        dev->latency_ms = s->wValue ? (uint8_t)s->wValue : 1;
        return 0;
    case SIO_SET_BITMODE:
        enter_bitmode(dev, s->wValue >> 8);
        return 0;
    default:
        return -EPIPE;
    }
}

static int vendor_in(struct ft_port *dev, const struct sim_usb_setup *s, uint8_t *data)
{
    switch (s->bRequest) {
    case SIO_POLL_MODEM_STATUS: {
        const uint8_t status[2] = {STATUS_BYTE0, STATUS_BYTE1};
        return reply(data, s->wLength, status, sizeof(status));
    }
    case SIO_GET_LATENCY_TIMER:
        return reply(data, s->wLength, &dev->latency_ms, 1);
    case SIO_READ_PINS: {
        const uint8_t pins = dev->mpsse ? sim_mpsse_read_pins(dev->mpsse) : 0xFF;
        return reply(data, s->wLength, &pins, 1);
    }
    case SIO_READ_EEPROM: {
        const uint8_t blank[2] = {0xFF, 0xFF};
        return reply(data, s->wLength, blank, sizeof(blank));
    }
    default:
        return -EPIPE;
    }
}

static int vendor_request(struct sim_ft232h *dev, const struct sim_usb_setup *s, uint8_t *data)
{
    const bool in = s->bmRequestType & TYPE_DIR_IN;

    /* The low byte of wIndex names the port (A = 1 .. D = 4, 0 taken as A); SET_BAUDRATE on H
     * chips carries divisor bits in the high byte, READ_EEPROM the word address in all of it. */
    const unsigned index = s->wIndex & 0xFF;
    const unsigned port = (s->bRequest == SIO_READ_EEPROM || index == 0) ? 0 : index - 1;
    if (port >= dev->chip->ports)
        return -EPIPE;
    return in ? vendor_in(&dev->ports[port], s, data) : vendor_out(&dev->ports[port], s);
}

int sim_ft232h_control(struct sim_ft232h *dev, const struct sim_usb_setup *setup, uint8_t *data)
{
    int ret;

    switch (setup->bmRequestType & TYPE_MASK) {
    case TYPE_STANDARD:
        ret = standard_request(dev, setup, data);
        break;
    case TYPE_VENDOR:
        ret = vendor_request(dev, setup, data);
        break;
    default:
        ret = -EPIPE;
        break;
    }
    if (ret >= 0) {
        if (setup->bmRequestType & TYPE_DIR_IN)
            dev->stats.control_in++;
        else
            dev->stats.control_out++;
    }
    return ret;
}

void sim_ft232h_power_on(struct sim_ft232h *dev, uint64_t now_ns)
{
    const struct sim_usb_setup requests[] = {
        {0x40, SIO_SET_BITMODE, 0x0000, 1, 0},   /* bit mode reset */
        {0x40, SIO_RESET, SIO_RESET_SIO, 1, 0},  /* reset, purge */
        {0x40, SIO_SET_LATENCY_TIMER, 16, 1, 0}, /* the default latency */
        {0x00, REQ_SET_CONFIGURATION, 0, 0, 0},  /* unconfigured */
    };
    sim_ft232h_advance_to(dev, now_ns);
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        sim_ft232h_control(dev, &requests[i], NULL);
}

void sim_ft232h_fail_control(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.control.stall = count;
}

void sim_ft232h_hang_control(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.control.hang = count;
}

void sim_ft232h_fail_serial_string(struct sim_ft232h *dev)
{
    dev->faults.control.serial_string_fails = true;
}

int sim_ft232h_control_submit(struct sim_ft232h *dev, const struct sim_usb_setup *setup)
{
    int rc = sim_usb_control_faults_submit(&dev->faults.control, STR_SERIAL, setup);
    if (rc == -ETIMEDOUT)
        dev->stats.control_unanswered++;
    return rc;
}
