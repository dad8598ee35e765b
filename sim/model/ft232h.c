/* The FT232H as a USB device (see ft232h.h for the contract).
 *
 * Model decisions where the datasheets are silent:
 * - The latency timer restarts whenever an IN transfer completes, a RESET purges the IN side, or
 *   (when idle since creation) the first bulk transfer is seen. An IN transfer that finds nothing
 *   ready completes once latency_ms have passed since that restart, as the chip does by sending
 *   its status-only packet; so a read after a long idle gap completes at once.
 * - "A packet's worth" is what the first packet of the transfer can carry: min(max, 512) - 2.
 * - Once a transfer may complete, it takes everything queued that fits: full 512-byte packets,
 *   each with its own `32 60`, ending with one short packet.
 * - 0x87 (send immediate) makes the next IN transfer complete at once, even with nothing queued.
 * - A transfer of fewer than 2 bytes cannot hold a packet (the real chip would overflow it): it
 *   never completes (*wake_ns = UINT64_MAX); the bridge fails it with -EOVERFLOW.
 * - RESET 0 (reset) resets the MPSSE engine; RESET 1 (purge host-to-chip) only drops a partially
 *   received command, so a client's recovery purge keeps its clock and pin set-up; RESET 0 and 2
 *   (purge chip-to-host) empty the IN queue.
 * - SET_LATENCY_TIMER 0 is taken as 1 ms (clients validate 1..255; never let the timer be 0).
 * - FT2232H/FT4232H: the vendor requests' wIndex low byte names the port (A = 1 .. D = 4, 0 = A);
 *   FT4232H ports C and D have no MPSSE: SET_BITMODE 2 there leaves bulk OUT data unused.
 */
#include "model/ft232h.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_BYTE0   0x32 /* high-speed chip, CTS and DSR set */
#define STATUS_BYTE1   0x60 /* transmitter holding and shift registers empty */
#define STATUS_LEN     2
#define PACKET_PAYLOAD (SIM_FT232H_PACKET - STATUS_LEN)

static const uint8_t STATUS_BYTES[STATUS_LEN] = {STATUS_BYTE0, STATUS_BYTE1};

#define STR_SERIAL         3 /* iSerialNumber */
#define DEFAULT_LATENCY_MS 16
#define DEVICE_DESC_LEN    18
#define INTERFACE_DESC_LEN (9 + 7 + 7)
#define CONFIG_DESC_LEN(n) (9 + (n)*INTERFACE_DESC_LEN)
#define MAX_POWER_2MA      45 /* 90 mA, the FT232H EEPROM default */
#define LANGID_EN_US       0x0409
#define BITMODE_MPSSE      0x02
#define NS_PER_MS          1000000ull

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

struct chip_info {
    uint16_t bcd_device;
    unsigned ports;
    unsigned mpsse_ports; /* the first ports have an MPSSE engine */
    bool drive_zero;
    const char *product;
};

static const struct chip_info chips[] = {
    [SIM_CHIP_FT232H] = {SIM_FT232H_BCD_DEVICE, 1, 1, true, "Single RS232-HS"},
    [SIM_CHIP_FT2232H] = {0x0700, 2, 2, false, "Dual RS232-HS"},
    [SIM_CHIP_FT4232H] = {0x0800, 4, 2, false, "Quad RS232-HS"},
};

/* One channel of the chip: its interface, endpoints, buffers and engine. */
struct ft_port {
    struct sim_mpsse *mpsse; /* NULL: no MPSSE on this port */

    uint8_t *queue; /* reply bytes for the host, oldest first */
    size_t queued, queue_cap;
    bool flush_pending; /* 0x87 seen: next IN transfer completes at once */
    size_t flush_upto;  /* queued bytes that were covered by the last 0x87 */

    bool timer_running;
    uint64_t timer_start_ns;
    uint8_t latency_ms;

    uint8_t bitmode;
};

struct bulk_faults {
    unsigned stall;   /* usb-error */
    unsigned hang_in; /* usb-timeout */
    unsigned short_in;
    unsigned empty_in;
    unsigned control_stall;   /* control-error */
    unsigned control_hang;    /* control-timeout */
    bool serial_string_fails; /* string-error */
};

struct sim_ft232h {
    struct sim_ft232h_config cfg; /* strings owned */
    const struct chip_info *chip;
    struct ft_port ports[SIM_FTDI_MAX_PORTS];

    uint8_t configuration;
    struct bulk_faults faults;
    struct sim_ft232h_stats stats;
};

static void queue_append(void *ctx, const uint8_t *bytes, size_t len)
{
    struct ft_port *dev = ctx;

    if (len == 0)
        return;
    if (dev->queued + len > dev->queue_cap) {
        size_t cap = dev->queue_cap ? dev->queue_cap : SIM_FT232H_PACKET;
        while (cap < dev->queued + len)
            cap *= 2;
        uint8_t *grown = realloc(dev->queue, cap);
        if (!grown)
            abort(); /* a simulator out of memory cannot model anything sensible */
        dev->queue = grown;
        dev->queue_cap = cap;
    }
    memcpy(dev->queue + dev->queued, bytes, len);
    dev->queued += len;
}

static void queue_flush(void *ctx)
{
    struct ft_port *dev = ctx;

    dev->flush_pending = true;
    dev->flush_upto = dev->queued;
}

static void queue_consume(struct ft_port *dev, size_t n)
{
    if (n == 0)
        return;
    memmove(dev->queue, dev->queue + n, dev->queued - n);
    dev->queued -= n;
    dev->flush_upto = dev->flush_upto > n ? dev->flush_upto - n : 0;
    dev->flush_pending = dev->flush_upto > 0;
}

static void queue_purge(struct ft_port *dev)
{
    dev->queued = 0;
    dev->flush_pending = false;
    dev->flush_upto = 0;
    dev->timer_running = false;
}

static char *dup_or_default(const char *s, const char *fallback)
{
    return strdup(s ? s : fallback);
}

/* The bus is on port A; port B's engine drives unconnected pins. */
static bool init_ports(struct sim_ft232h *dev, struct sim_i2c_bus *bus)
{
    for (unsigned i = 0; i < dev->chip->ports; i++) {
        struct ft_port *port = &dev->ports[i];
        port->latency_ms = DEFAULT_LATENCY_MS;
        if (i >= dev->chip->mpsse_ports)
            continue;
        const struct sim_mpsse_sink sink = {
            .data = queue_append, .flush = queue_flush, .ctx = port};
        port->mpsse = sim_mpsse_new(i == 0 ? bus : NULL, &sink, dev->chip->drive_zero);
        if (!port->mpsse)
            return false;
    }
    return true;
}

struct sim_ft232h *sim_ft232h_new(const struct sim_ft232h_config *cfg, struct sim_i2c_bus *bus)
{
    if ((unsigned)cfg->chip >= sizeof(chips) / sizeof(chips[0]))
        return NULL;
    struct sim_ft232h *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;

    dev->chip = &chips[cfg->chip];
    dev->cfg.chip = cfg->chip;
    dev->cfg.vid = cfg->vid;
    dev->cfg.pid = cfg->pid;
    dev->cfg.serial = (cfg->serial && cfg->serial[0]) ? strdup(cfg->serial) : NULL;
    dev->cfg.manufacturer = dup_or_default(cfg->manufacturer, "FTDI");
    dev->cfg.product = dup_or_default(cfg->product, dev->chip->product);

    if (!init_ports(dev, bus) || !dev->cfg.manufacturer || !dev->cfg.product ||
        (cfg->serial && cfg->serial[0] && !dev->cfg.serial)) {
        sim_ft232h_free(dev);
        return NULL;
    }
    return dev;
}

void sim_ft232h_free(struct sim_ft232h *dev)
{
    if (!dev)
        return;
    for (unsigned i = 0; i < SIM_FTDI_MAX_PORTS; i++) {
        sim_mpsse_free(dev->ports[i].mpsse);
        free(dev->ports[i].queue);
    }
    free((char *)dev->cfg.serial);
    free((char *)dev->cfg.manufacturer);
    free((char *)dev->cfg.product);
    free(dev);
}

const struct sim_ft232h_config *sim_ft232h_config(const struct sim_ft232h *dev)
{
    return &dev->cfg;
}

enum sim_ftdi_chip sim_ft232h_chip(const struct sim_ft232h *dev)
{
    return dev->cfg.chip;
}

uint16_t sim_ft232h_bcd_device(const struct sim_ft232h *dev)
{
    return dev->chip->bcd_device;
}

unsigned sim_ft232h_ports(const struct sim_ft232h *dev)
{
    return dev->chip->ports;
}

int sim_ft232h_endpoint_port(const struct sim_ft232h *dev, uint8_t endpoint)
{
    const bool in = endpoint & 0x80;
    const unsigned number = endpoint & 0x0F;
    /* IN 0x81, 0x83, ... OUT 0x02, 0x04, ... */
    if ((endpoint & 0x70) || number == 0 || (number % 2 == 1) != in)
        return -EINVAL;
    const unsigned port = (number - 1) / 2;
    return port < dev->chip->ports ? (int)port : -EINVAL;
}

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
            queue_purge(dev);
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

static void timer_start_if_idle(struct ft_port *dev, uint64_t now_ns)
{
    if (!dev->timer_running) {
        dev->timer_running = true;
        dev->timer_start_ns = now_ns;
    }
}

static bool port_mpsse_enabled(const struct ft_port *port)
{
    return port->mpsse && port->bitmode == BITMODE_MPSSE;
}

void sim_ft232h_advance_to(struct sim_ft232h *dev, uint64_t now_ns)
{
    for (unsigned i = 0; i < dev->chip->ports; i++)
        if (dev->ports[i].mpsse)
            sim_mpsse_advance_to(dev->ports[i].mpsse, now_ns);
}

size_t sim_ft232h_bulk_out_port(struct sim_ft232h *dev, unsigned port, const uint8_t *data,
                                size_t len, uint64_t now_ns)
{
    if (port >= dev->chip->ports)
        return 0;
    struct ft_port *p = &dev->ports[port];
    timer_start_if_idle(p, now_ns);
    if (port_mpsse_enabled(p)) {
        sim_mpsse_advance_to(p->mpsse, now_ns); /* the bus idled since the last commands */
        sim_mpsse_write(p->mpsse, data, len);
    }
    dev->stats.bulk_out++;
    dev->stats.bytes_out += len;
    return len;
}

size_t sim_ft232h_bulk_out(struct sim_ft232h *dev, const uint8_t *data, size_t len, uint64_t now_ns)
{
    return sim_ft232h_bulk_out_port(dev, 0, data, len, now_ns);
}

/* Packs up to limit queued bytes into packets of at most 512 bytes, each led by the status
 * bytes, as the chip sends them: a packet's size is decided by the chip, not by the room left in
 * the host's buffer. A packet bigger than that room is babble: the host keeps what fits, the
 * transfer ends with -EOVERFLOW (*status) and the rest of that packet is lost. */
static size_t pack_packets(struct ft_port *dev, uint8_t *buf, size_t max, size_t limit, int *status)
{
    size_t out = 0;
    *status = 0;

    for (;;) {
        size_t room = max - out;
        size_t payload = PACKET_PAYLOAD;
        if (payload > dev->queued)
            payload = dev->queued;
        if (payload > limit)
            payload = limit;
        if (STATUS_LEN + payload > room) {
            size_t fits = room > STATUS_LEN ? room - STATUS_LEN : 0;
            memcpy(buf + out, STATUS_BYTES, room < STATUS_LEN ? room : STATUS_LEN);
            if (fits)
                memcpy(buf + out + STATUS_LEN, dev->queue, fits);
            queue_consume(dev, payload);
            *status = -EOVERFLOW;
            return max;
        }

        buf[out] = STATUS_BYTE0;
        buf[out + 1] = STATUS_BYTE1;
        if (payload) {
            memcpy(buf + out + STATUS_LEN, dev->queue, payload);
            queue_consume(dev, payload);
            limit -= payload;
        }
        out += STATUS_LEN + payload;

        /* a short packet ends the transfer; so does running out of data, limit or room */
        if (payload < PACKET_PAYLOAD || dev->queued == 0 || limit == 0 || max - out < STATUS_LEN)
            return out;
    }
}

/* What a transfer of max bytes could carry of the queue: the limit a short read halves. */
static size_t deliverable(const struct ft_port *dev, size_t max)
{
    const size_t packets = (max + SIM_FT232H_PACKET - 1) / SIM_FT232H_PACKET;
    const size_t capacity = max - packets * STATUS_LEN;
    return dev->queued < capacity ? dev->queued : capacity;
}

static size_t complete_in(struct sim_ft232h *dev, struct ft_port *port, uint8_t *buf, size_t max,
                          uint64_t now_ns, int *status)
{
    size_t limit = SIZE_MAX;
    if (dev->faults.empty_in > 0) {
        dev->faults.empty_in--;
        limit = 0;
    } else if (dev->faults.short_in > 0 && port->queued > 0) {
        dev->faults.short_in--;
        limit = deliverable(port, max) / 2;
    }
    size_t n = pack_packets(port, buf, max, limit, status);
    port->flush_pending = port->flush_upto > 0;
    port->timer_start_ns = now_ns;
    if (*status < 0)
        dev->stats.in_overflows++;
    dev->stats.bulk_in++;
    dev->stats.bytes_in += n;
    return n;
}

size_t sim_ft232h_bulk_in_status(struct sim_ft232h *dev, unsigned port, uint8_t *buf, size_t max,
                                 uint64_t now_ns, uint64_t *wake_ns, int *status)
{
    *status = 0;
    if (port >= dev->chip->ports || max == 0) {
        *wake_ns = UINT64_MAX;
        return 0;
    }
    struct ft_port *p = &dev->ports[port];
    timer_start_if_idle(p, now_ns);

    const size_t first_capacity = (max < SIM_FT232H_PACKET ? max : SIM_FT232H_PACKET) - STATUS_LEN;
    const uint64_t expiry = p->timer_start_ns + p->latency_ms * NS_PER_MS;
    const bool packet_full = max > STATUS_LEN && p->queued >= first_capacity;

    if (!p->flush_pending && !packet_full && now_ns < expiry && dev->faults.empty_in == 0) {
        *wake_ns = expiry;
        return 0;
    }
    return complete_in(dev, p, buf, max, now_ns, status);
}

size_t sim_ft232h_bulk_in_port(struct sim_ft232h *dev, unsigned port, uint8_t *buf, size_t max,
                               uint64_t now_ns, uint64_t *wake_ns)
{
    int status;
    return sim_ft232h_bulk_in_status(dev, port, buf, max, now_ns, wake_ns, &status);
}

size_t sim_ft232h_bulk_in(struct sim_ft232h *dev, uint8_t *buf, size_t max, uint64_t now_ns,
                          uint64_t *wake_ns)
{
    return sim_ft232h_bulk_in_port(dev, 0, buf, max, now_ns, wake_ns);
}

size_t sim_ft232h_queued(const struct sim_ft232h *dev)
{
    return dev->ports[0].queued;
}

uint8_t sim_ft232h_latency_ms(const struct sim_ft232h *dev)
{
    return dev->ports[0].latency_ms;
}

void sim_ft232h_set_latency_ms(struct sim_ft232h *dev, uint8_t ms)
{
    for (unsigned i = 0; i < dev->chip->ports; i++)
        dev->ports[i].latency_ms = ms ? ms : 1;
}

bool sim_ft232h_mpsse_enabled(const struct sim_ft232h *dev)
{
    return port_mpsse_enabled(&dev->ports[0]);
}

void sim_ft232h_fail_bulk(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.stall = count;
}

void sim_ft232h_hang_bulk_in(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.hang_in = count;
}

void sim_ft232h_short_reads(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.short_in = count;
}

void sim_ft232h_empty_reads(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.empty_in = count;
}

int sim_ft232h_bulk_submit(struct sim_ft232h *dev, bool in)
{
    if (dev->faults.stall > 0) {
        dev->faults.stall--;
        return -EPIPE;
    }
    if (in && dev->faults.hang_in > 0) {
        dev->faults.hang_in--;
        return -ETIMEDOUT;
    }
    return 0;
}

void sim_ft232h_fail_control(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.control_stall = count;
}

void sim_ft232h_hang_control(struct sim_ft232h *dev, unsigned count)
{
    dev->faults.control_hang = count;
}

void sim_ft232h_fail_serial_string(struct sim_ft232h *dev)
{
    dev->faults.serial_string_fails = true;
}

static bool is_serial_string_request(const struct sim_usb_setup *s)
{
    return s->bmRequestType == 0x80 && s->bRequest == 0x06 && s->wValue == (0x0300 | STR_SERIAL);
}

int sim_ft232h_control_submit(struct sim_ft232h *dev, const struct sim_usb_setup *setup)
{
    if (dev->faults.serial_string_fails && is_serial_string_request(setup)) {
        dev->faults.serial_string_fails = false;
        return -EPIPE;
    }
    if (dev->faults.control_stall > 0) {
        dev->faults.control_stall--;
        return -EPIPE;
    }
    if (dev->faults.control_hang > 0) {
        dev->faults.control_hang--;
        return -ETIMEDOUT;
    }
    return 0;
}

const struct sim_ft232h_stats *sim_ft232h_stats(const struct sim_ft232h *dev)
{
    return &dev->stats;
}

struct sim_mpsse *sim_ft232h_mpsse(struct sim_ft232h *dev)
{
    return dev->ports[0].mpsse;
}

struct sim_mpsse *sim_ft232h_port_mpsse(struct sim_ft232h *dev, unsigned port)
{
    return port < dev->chip->ports ? dev->ports[port].mpsse : NULL;
}
