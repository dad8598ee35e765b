/* One simulated device's packets (see usbredir_device.h for what each one does). The parser
 * calls the handlers below while the bridge's thread reads the connection, with the hardware
 * lock held. */
#include "front/usbredir_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <usbredirparser.h>

#define EP_BIT(ep)    (1u << SIM_USBREDIR_EP_INDEX(ep))
#define REPORTS_BURST 64 /* interrupt reports sent per endpoint per service, at most */

/* A packet waiting for the model: a bulk IN request, or a control transfer that hangs. */
struct held_packet {
    struct held_packet *next;
    uint64_t id;
    bool control;
    bool hung; /* usb-timeout / control-timeout: only a cancel or a disconnect ends it */
    struct usb_redir_control_packet_header control_header;
    struct usb_redir_bulk_packet_header bulk_header;
    uint32_t length; /* bytes asked for */
};

uint64_t sim_usbredir_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint8_t sim_usbredir_status(int err)
{
    switch (err) {
    case 0:
        return usb_redir_success;
    case -EPIPE:
        return usb_redir_stall;
    case -EOVERFLOW:
        return usb_redir_babble;
    case -EINVAL:
        return usb_redir_inval;
    case -ETIMEDOUT:
        return usb_redir_timeout;
    default:
        return usb_redir_ioerror;
    }
}

void sim_usbredir_count_status(struct sim_usbredir_stats *s, uint8_t status)
{
    switch (status) {
    case usb_redir_success:
        break;
    case usb_redir_stall:
        s->stalls++;
        break;
    case usb_redir_babble:
        s->babbles++;
        break;
    case usb_redir_cancelled:
        s->cancelled++;
        break;
    case usb_redir_inval:
        s->invalid++;
        break;
    default:
        s->ioerrors++;
        break;
    }
}

static uint8_t *scratch(struct sim_usbredir_device *d, size_t len)
{
    if (len > d->scratch_len) {
        uint8_t *grown = realloc(d->scratch, len);
        if (!grown)
            return NULL;
        d->scratch = grown;
        d->scratch_len = len;
    }
    return d->scratch ? d->scratch : (uint8_t *)"";
}

/* --- answers --- */

static void answer_control(struct sim_usbredir_device *d, uint64_t id,
                           const struct usb_redir_control_packet_header *request, uint8_t status,
                           uint8_t *data, int len)
{
    struct usb_redir_control_packet_header h = *request;
    h.status = status;
    h.length = (uint16_t)(status == usb_redir_success ? len : 0);
    const bool in = h.requesttype & 0x80;
    usbredirparser_send_control_packet(d->parser, id, &h, in ? data : NULL, in ? h.length : 0);
    d->stats.packets_out++;
    d->stats.control++;
    sim_usbredir_count_status(&d->stats, status);
}

static void answer_bulk(struct sim_usbredir_device *d, uint64_t id,
                        const struct usb_redir_bulk_packet_header *request, uint8_t status,
                        uint8_t *data, uint32_t len)
{
    struct usb_redir_bulk_packet_header h = *request;
    const bool in = h.endpoint & 0x80;
    h.status = status;
    h.length = (uint16_t)len;
    h.length_high = (uint16_t)(len >> 16);
    usbredirparser_send_bulk_packet(d->parser, id, &h, in ? data : NULL, in ? (int)len : 0);
    d->stats.packets_out++;
    if (in)
        d->stats.bulk_in++;
    else
        d->stats.bulk_out++;
    sim_usbredir_count_status(&d->stats, status);
}

static void send_interrupt(struct sim_usbredir_device *d, uint64_t id, uint8_t ep, uint8_t status,
                           uint8_t *data, uint16_t len)
{
    const bool in = ep & 0x80;
    struct usb_redir_interrupt_packet_header h = {.endpoint = ep, .status = status, .length = len};
    usbredirparser_send_interrupt_packet(d->parser, id, &h, in ? data : NULL, in ? len : 0);
    d->stats.packets_out++;
    if (in)
        d->stats.interrupt_in++;
    else
        d->stats.interrupt_out++;
    sim_usbredir_count_status(&d->stats, status);
}

static void answer_held(struct sim_usbredir_device *d, struct held_packet *h, uint8_t status)
{
    if (h->control)
        answer_control(d, h->id, &h->control_header, status, NULL, 0);
    else
        answer_bulk(d, h->id, &h->bulk_header, status, NULL, 0);
}

static void hold(struct sim_usbredir_device *d, struct held_packet *h)
{
    struct held_packet **p = &d->held;
    while (*p)
        p = &(*p)->next;
    h->next = NULL;
    *p = h;
}

void sim_usbredir_device_drop_held(struct sim_usbredir_device *d)
{
    while (d->held) {
        struct held_packet *h = d->held;
        d->held = h->next;
        free(h);
    }
}

/* --- connect and disconnect --- */

void sim_usbredir_device_flush(struct sim_usbredir_device *d)
{
    if (d->parser && usbredirparser_has_data_to_write(d->parser))
        usbredirparser_do_write(d->parser); /* -1 also when the socket is full: not an error */
}

void sim_usbredir_device_connect(struct sim_usbredir_device *d)
{
    if (!d->parser || !d->hello || d->connected)
        return;
    usbredirparser_send_interface_info(d->parser, &d->desc.interfaces);
    usbredirparser_send_ep_info(d->parser, &d->desc.endpoints);
    usbredirparser_send_device_connect(d->parser, &d->desc.connect);
    d->stats.packets_out += 3;
    d->stats.connects++;
    d->connected = true;
    sim_usbredir_device_flush(d);
}

/* The device is gone for QEMU first, then what it was waiting for fails (QEMU drops those
 * answers: its transfers ended with the detach, as a real removal ends them). */
void sim_usbredir_device_disconnect(struct sim_usbredir_device *d)
{
    d->receiving = d->in_transfer = d->hung = 0;
    if (!d->parser || !d->connected) {
        sim_usbredir_device_drop_held(d);
        return;
    }
    usbredirparser_send_device_disconnect(d->parser);
    d->stats.packets_out++;
    d->stats.disconnects++;
    d->connected = false;
    while (d->held) {
        struct held_packet *h = d->held;
        d->held = h->next;
        answer_held(d, h, usb_redir_ioerror);
        free(h);
    }
    sim_usbredir_device_flush(d);
}

/* unplug-mid-transfer fires on an IN data packet. */
static bool unplug_now(struct sim_usbredir_device *d)
{
    if (!d->unplug_armed)
        return false;
    d->unplug_armed = false;
    d->plugged = false;
    sim_usbredir_device_disconnect(d);
    return true;
}

/* --- servicing held IN packets and interrupt receiving --- */

/* Returns when the model may have data for the packet (UINT64_MAX: not by itself), or 0 when
 * it was answered. */
static uint64_t try_bulk_in(struct sim_usbredir_device *d, struct held_packet *h, uint64_t now)
{
    uint8_t *buf = scratch(d, h->length);
    if (!buf) {
        answer_held(d, h, usb_redir_ioerror);
        return 0;
    }
    uint64_t wake = UINT64_MAX;
    int status = 0;
    const int n = d->model.ops->data_in(d->model.dev, h->bulk_header.endpoint, buf, h->length, now,
                                        &wake, &status);
    if (n == 0)
        return wake;
    if (n < 0)
        answer_held(d, h, sim_usbredir_status(n));
    else
        answer_bulk(d, h->id, &h->bulk_header, sim_usbredir_status(status), buf, (uint32_t)n);
    return 0;
}

/* Held packets in order; one that waits (or hangs) holds back those behind it on its endpoint. */
static uint64_t service_held(struct sim_usbredir_device *d, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    uint32_t blocked = 0;

    for (struct held_packet **p = &d->held; *p;) {
        struct held_packet *h = *p;
        const uint32_t bit = EP_BIT(h->bulk_header.endpoint);
        if (h->control || (blocked & bit) || h->hung) {
            blocked |= h->control ? 0 : bit;
            p = &h->next;
            continue;
        }
        const uint64_t wake = try_bulk_in(d, h, now);
        if (wake != 0) {
            blocked |= bit;
            next = wake < next ? wake : next;
            p = &h->next;
            continue;
        }
        *p = h->next;
        free(h);
    }
    return next;
}

/* One endpoint QEMU receives interrupt reports on: every report the model has, each one a
 * transfer data_submit decided. Returns the model's wake time. */
static uint64_t service_interrupt(struct sim_usbredir_device *d, uint8_t ep, uint64_t now)
{
    const uint32_t bit = EP_BIT(ep);
    const size_t max = d->desc.endpoints.max_packet_size[SIM_USBREDIR_EP_INDEX(ep)];
    uint8_t *buf = scratch(d, max);

    for (int burst = 0; burst < REPORTS_BURST && buf && d->connected; burst++) {
        if (!(d->in_transfer & bit)) {
            const int fault = d->model.ops->data_submit(d->model.dev, ep);
            if (fault == -ETIMEDOUT)
                d->hung |= bit;
            if (fault == -ETIMEDOUT || fault == -EINVAL)
                return UINT64_MAX;
            if (fault < 0) {
                send_interrupt(d, 0, ep, sim_usbredir_status(fault), NULL, 0);
                continue;
            }
            d->in_transfer |= bit;
        }
        uint64_t wake = UINT64_MAX;
        int status = 0;
        const int n = d->model.ops->data_in(d->model.dev, ep, buf, max, now, &wake, &status);
        if (n == 0)
            return wake;
        if (unplug_now(d))
            return UINT64_MAX;
        d->in_transfer &= ~bit;
        if (n < 0)
            send_interrupt(d, 0, ep, sim_usbredir_status(n), NULL, 0);
        else
            send_interrupt(d, 0, ep, sim_usbredir_status(status), buf, (uint16_t)n);
    }
    return now; /* more may be ready: come back at once */
}

uint64_t sim_usbredir_device_service(struct sim_usbredir_device *d, uint64_t now_ns)
{
    if (!d->parser || !d->connected)
        return UINT64_MAX;
    uint64_t next = service_held(d, now_ns);
    for (unsigned i = 16; i < SIM_USBREDIR_ENDPOINTS; i++) {
        const uint32_t bit = 1u << i;
        if (!(d->receiving & bit) || (d->hung & bit))
            continue;
        const uint64_t wake = service_interrupt(d, (uint8_t)(0x80 | (i & 0x0F)), now_ns);
        next = wake < next ? wake : next;
    }
    sim_usbredir_device_flush(d);
    return next;
}

/* --- packets from QEMU --- */

static struct sim_usbredir_device *dev_of(void *priv)
{
    return priv;
}

static uint8_t ep_type(const struct sim_usbredir_device *d, uint8_t ep)
{
    return d->desc.endpoints.type[SIM_USBREDIR_EP_INDEX(ep)];
}

/* Runs a control transfer the model takes: 0 or -errno; *len the data bytes. */
static int run_control(struct sim_usbredir_device *d, const struct sim_usb_setup *setup,
                       const uint8_t *data, int data_len, uint8_t **buf, int *len)
{
    *len = 0;
    *buf = scratch(d, setup->wLength);
    if (!*buf)
        return -ENOMEM;
    if (!(setup->bmRequestType & 0x80))
        memcpy(*buf, data, (size_t)data_len < setup->wLength ? (size_t)data_len : setup->wLength);
    const int ret = d->model.ops->control(d->model.dev, setup, *buf, sim_usbredir_now_ns());
    *len = ret < 0 ? 0 : ret;
    return ret < 0 ? ret : 0;
}

static void on_control_packet(void *priv, uint64_t id, struct usb_redir_control_packet_header *c,
                              uint8_t *data, int data_len)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const struct sim_usb_setup setup = {c->requesttype, c->request, c->value, c->index, c->length};
    uint8_t *buf = NULL;
    int len = 0;
    d->stats.packets_in++;

    int ret = d->connected ? d->model.ops->control_submit(d->model.dev, &setup) : -ENODEV;
    struct held_packet *h = ret == -ETIMEDOUT ? calloc(1, sizeof(*h)) : NULL;
    if (h) {
        *h = (struct held_packet){.id = id, .control = true, .hung = true, .control_header = *c};
        hold(d, h); /* control-timeout: until QEMU cancels it */
    } else {
        if (ret == 0)
            ret = run_control(d, &setup, data, data_len, &buf, &len);
        answer_control(d, id, c, sim_usbredir_status(ret), buf, len);
    }
    if (d->trace)
        fprintf(stderr, "lynx-sim: usbredir %s: control %02x %02x %04x %04x %u: %s (%d bytes)\n",
                d->path, c->requesttype, c->request, c->value, c->index, c->length,
                h     ? "held"
                : ret ? strerror(-ret)
                      : "ok",
                len);
    usbredirparser_free_packet_data(d->parser, data);
}

static void on_bulk_packet(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *b,
                           uint8_t *data, int data_len)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const bool in = b->endpoint & 0x80;
    const uint32_t length = (uint32_t)b->length | (uint32_t)b->length_high << 16;
    d->stats.packets_in++;

    int fault = !d->connected                                    ? -ENODEV
                : ep_type(d, b->endpoint) != usb_redir_type_bulk ? -EINVAL
                                                                 : 0;
    if (fault == 0 && in && d->unplug_armed) {
        fault = -ENODEV; /* answered by the disconnect's ioerror, as the packet it interrupts */
        unplug_now(d);
    }
    if (fault == 0)
        fault = d->model.ops->data_submit(d->model.dev, b->endpoint);
    if (fault == 0 && !in) {
        const int n = d->model.ops->data_out(d->model.dev, b->endpoint, data, (size_t)data_len,
                                             sim_usbredir_now_ns());
        answer_bulk(d, id, b, sim_usbredir_status(n < 0 ? n : 0), NULL, n < 0 ? 0 : (uint32_t)n);
    } else if ((fault == 0 || fault == -ETIMEDOUT) && in) {
        struct held_packet *h = calloc(1, sizeof(*h));
        if (h) {
            *h = (struct held_packet){
                .id = id, .hung = fault == -ETIMEDOUT, .bulk_header = *b, .length = length};
            hold(d, h);
        } else {
            answer_bulk(d, id, b, usb_redir_ioerror, NULL, 0);
        }
    } else {
        answer_bulk(d, id, b, sim_usbredir_status(fault), NULL, 0); /* -ENODEV: ioerror */
    }
    usbredirparser_free_packet_data(d->parser, data);
}

/* QEMU sends interrupt packets for OUT endpoints only (IN is interrupt receiving). */
static void on_interrupt_packet(void *priv, uint64_t id,
                                struct usb_redir_interrupt_packet_header *i, uint8_t *data,
                                int data_len)
{
    struct sim_usbredir_device *d = dev_of(priv);
    d->stats.packets_in++;
    int ret = !d->connected ? -ENODEV
              : (i->endpoint & 0x80) || ep_type(d, i->endpoint) != usb_redir_type_interrupt
                  ? -EINVAL
                  : 0;
    if (ret == 0)
        ret = d->model.ops->data_submit(d->model.dev, i->endpoint);
    if (ret == -ETIMEDOUT)
        ret = -EIO; /* QEMU has completed the transfer already: it cannot wait */
    if (ret == 0)
        ret = d->model.ops->data_out(d->model.dev, i->endpoint, data, (size_t)data_len,
                                     sim_usbredir_now_ns());
    send_interrupt(d, id, i->endpoint, sim_usbredir_status(ret < 0 ? ret : 0), NULL,
                   (uint16_t)(ret < 0 ? 0 : ret));
    usbredirparser_free_packet_data(d->parser, data);
}

static void on_start_interrupt_receiving(void *priv, uint64_t id,
                                         struct usb_redir_start_interrupt_receiving_header *s)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const bool ok =
        d->connected && (s->endpoint & 0x80) && ep_type(d, s->endpoint) == usb_redir_type_interrupt;
    d->stats.packets_in++;
    if (ok)
        d->receiving |= EP_BIT(s->endpoint);
    struct usb_redir_interrupt_receiving_status_header st = {
        .status = ok ? usb_redir_success : usb_redir_inval, .endpoint = s->endpoint};
    usbredirparser_send_interrupt_receiving_status(d->parser, id, &st);
    d->stats.packets_out++;
}

static void on_stop_interrupt_receiving(void *priv, uint64_t id,
                                        struct usb_redir_stop_interrupt_receiving_header *s)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const uint32_t bit = EP_BIT(s->endpoint);
    d->stats.packets_in++;
    d->receiving &= ~bit;
    d->in_transfer &= ~bit; /* a submitted or hung transfer is cancelled with it */
    d->hung &= ~bit;
    struct usb_redir_interrupt_receiving_status_header st = {.status = usb_redir_success,
                                                             .endpoint = s->endpoint};
    usbredirparser_send_interrupt_receiving_status(d->parser, id, &st);
    d->stats.packets_out++;
}

static void on_cancel_data_packet(void *priv, uint64_t id)
{
    struct sim_usbredir_device *d = dev_of(priv);
    d->stats.packets_in++;
    for (struct held_packet **p = &d->held; *p; p = &(*p)->next) {
        struct held_packet *h = *p;
        if (h->id == id) {
            *p = h->next;
            answer_held(d, h, usb_redir_cancelled);
            free(h);
            return;
        }
    }
    /* already answered: QEMU drops the answer it still gets */
}

void sim_usbredir_device_handlers(struct usbredirparser *parser)
{
    parser->control_packet_func = on_control_packet;
    parser->bulk_packet_func = on_bulk_packet;
    parser->interrupt_packet_func = on_interrupt_packet;
    parser->start_interrupt_receiving_func = on_start_interrupt_receiving;
    parser->stop_interrupt_receiving_func = on_stop_interrupt_receiving;
    parser->cancel_data_packet_func = on_cancel_data_packet;
}
