/* The FT232H family's chip (see ft232h.h for the contract): creation, each port's reply queue
 * and latency timer, bulk OUT into the MPSSE engine, bulk IN packets, the bulk faults and the
 * stats. The control side (descriptors, control requests) is ft232h_control.c.
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
 * - FT4232H ports C and D have no MPSSE: SET_BITMODE 2 there leaves bulk OUT data unused.
 */
#include "model/ft232h.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/ft232h_state.h"

#define STATUS_LEN     2
#define PACKET_PAYLOAD (SIM_FT232H_PACKET - STATUS_LEN)

static const uint8_t STATUS_BYTES[STATUS_LEN] = {STATUS_BYTE0, STATUS_BYTE1};

#define DEFAULT_LATENCY_MS 16
#define NS_PER_MS          1000000ull

static const struct chip_info chips[] = {
    [SIM_CHIP_FT232H] = {SIM_FT232H_BCD_DEVICE, 1, 1, true, "Single RS232-HS"},
    [SIM_CHIP_FT2232H] = {0x0700, 2, 2, false, "Dual RS232-HS"},
    [SIM_CHIP_FT4232H] = {0x0800, 4, 2, false, "Quad RS232-HS"},
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

void sim_ft232h_port_purge(struct ft_port *dev)
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
