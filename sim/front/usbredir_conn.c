/* A usbredir connection (see usbredir_conn.h): socket I/O, the parser, the hello and the packets
 * about the device's configuration. */
#include "front/usbredir_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <usbredirparser.h>

#define VERSION "lynx-sim usbredir server"

static struct sim_usbredir_device *dev_of(void *priv)
{
    return priv;
}

static void on_log(void *priv, int level, const char *msg)
{
    const struct sim_usbredir_device *d = dev_of(priv);
    if (level <= usbredirparser_warning)
        fprintf(stderr, "lynx-sim: usbredir %s: %s\n", d->path, msg);
}

/* 0 when the socket would block: the parser keeps the data and tries again. */
static int on_read(void *priv, uint8_t *data, int count)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const ssize_t n = recv(d->fd, data, (size_t)count, 0);
    if (n > 0)
        return (int)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    d->dead = true; /* EOF: QEMU closed its end */
    return -1;
}

static int on_write(void *priv, uint8_t *data, int count)
{
    struct sim_usbredir_device *d = dev_of(priv);
    const ssize_t n = send(d->fd, data, (size_t)count, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    d->dead = true;
    return -1;
}

static void on_hello(void *priv, struct usb_redir_hello_header *hello)
{
    struct sim_usbredir_device *d = dev_of(priv);
    (void)hello;
    d->stats.packets_in++;
    d->hello = true;
    if (d->plugged)
        sim_usbredir_device_connect(d);
}

/* A port reset the guest made: the device's USB state, not the chip's (configuration follows). */
static void on_reset(void *priv)
{
    struct sim_usbredir_device *d = dev_of(priv);
    d->stats.packets_in++;
    d->stats.resets++;
}

/* A standard request the configuration packets stand for: 0 or -errno (-ENODEV while not
 * connected). in_byte: the one byte an IN request reads. */
static int standard_request(struct sim_usbredir_device *d, uint8_t type, uint8_t request,
                            uint16_t value, uint16_t index, uint8_t *in_byte)
{
    const struct sim_usb_setup setup = {type, request, value, index, in_byte ? 1 : 0};
    if (!d->connected)
        return -ENODEV;
    const int ret = d->model.ops->control(d->model.dev, &setup, in_byte, sim_usbredir_now_ns());
    return ret < 0 ? ret : 0;
}

/* One control transfer on the wire, whatever the packet that stood for it. */
static void count_answer(struct sim_usbredir_device *d, uint8_t status)
{
    d->stats.packets_out++;
    d->stats.control++;
    sim_usbredir_count_status(&d->stats, status);
}

static void send_configuration_status(struct sim_usbredir_device *d, uint64_t id, int ret,
                                      uint8_t config)
{
    struct usb_redir_configuration_status_header st = {.status = sim_usbredir_status(ret),
                                                       .configuration = config};
    usbredirparser_send_configuration_status(d->parser, id, &st);
    count_answer(d, st.status);
}

static void on_set_configuration(void *priv, uint64_t id,
                                 struct usb_redir_set_configuration_header *s)
{
    struct sim_usbredir_device *d = dev_of(priv);
    d->stats.packets_in++;
    d->receiving = d->in_transfer = d->hung = 0; /* QEMU stopped its endpoints first */
    const int ret =
        standard_request(d, 0x00, 0x09 /* SET_CONFIGURATION */, s->configuration, 0, NULL);
    send_configuration_status(d, id, ret, s->configuration);
}

static void on_get_configuration(void *priv, uint64_t id)
{
    struct sim_usbredir_device *d = dev_of(priv);
    uint8_t config = 0;
    d->stats.packets_in++;
    const int ret = standard_request(d, 0x80, 0x08 /* GET_CONFIGURATION */, 0, 0, &config);
    send_configuration_status(d, id, ret, config);
}

static void send_alt_status(struct sim_usbredir_device *d, uint64_t id, int ret, uint8_t interface,
                            uint8_t alt)
{
    struct usb_redir_alt_setting_status_header st = {
        .status = sim_usbredir_status(ret), .interface = interface, .alt = alt};
    usbredirparser_send_alt_setting_status(d->parser, id, &st);
    count_answer(d, st.status);
}

static void on_set_alt_setting(void *priv, uint64_t id, struct usb_redir_set_alt_setting_header *s)
{
    struct sim_usbredir_device *d = dev_of(priv);
    d->stats.packets_in++;
    const int ret = standard_request(d, 0x01, 0x0B /* SET_INTERFACE */, s->alt, s->interface, NULL);
    send_alt_status(d, id, ret, s->interface, s->alt);
}

static void on_get_alt_setting(void *priv, uint64_t id, struct usb_redir_get_alt_setting_header *g)
{
    struct sim_usbredir_device *d = dev_of(priv);
    uint8_t alt = 0;
    d->stats.packets_in++;
    const int ret = standard_request(d, 0x81, 0x0A /* GET_INTERFACE */, 0, g->interface, &alt);
    send_alt_status(d, id, ret, g->interface, alt);
}

/* --- what no simulated device has: refused with a stall, as a device without it would --- */

static void on_start_iso_stream(void *priv, uint64_t id,
                                struct usb_redir_start_iso_stream_header *s)
{
    struct sim_usbredir_device *d = dev_of(priv);
    struct usb_redir_iso_stream_status_header st = {.status = usb_redir_stall,
                                                    .endpoint = s->endpoint};
    d->stats.packets_in++;
    usbredirparser_send_iso_stream_status(d->parser, id, &st);
    d->stats.packets_out++;
}

static void on_stop_iso_stream(void *priv, uint64_t id, struct usb_redir_stop_iso_stream_header *s)
{
    on_start_iso_stream(priv, id,
                        &(struct usb_redir_start_iso_stream_header){.endpoint = s->endpoint});
}

static void on_iso_packet(void *priv, uint64_t id, struct usb_redir_iso_packet_header *h,
                          uint8_t *data, int data_len)
{
    struct sim_usbredir_device *d = dev_of(priv);
    (void)id, (void)h, (void)data_len;
    d->stats.packets_in++;
    usbredirparser_free_packet_data(d->parser, data);
}

static void send_streams_status(struct sim_usbredir_device *d, uint64_t id, uint32_t endpoints)
{
    struct usb_redir_bulk_streams_status_header st = {.endpoints = endpoints,
                                                      .status = usb_redir_stall};
    d->stats.packets_in++;
    usbredirparser_send_bulk_streams_status(d->parser, id, &st);
    d->stats.packets_out++;
}

static void on_alloc_bulk_streams(void *priv, uint64_t id,
                                  struct usb_redir_alloc_bulk_streams_header *a)
{
    send_streams_status(dev_of(priv), id, a->endpoints);
}

static void on_free_bulk_streams(void *priv, uint64_t id,
                                 struct usb_redir_free_bulk_streams_header *f)
{
    send_streams_status(dev_of(priv), id, f->endpoints);
}

static void send_bulk_receiving_status(struct sim_usbredir_device *d, uint64_t id, uint32_t stream,
                                       uint8_t ep)
{
    struct usb_redir_bulk_receiving_status_header st = {
        .stream_id = stream, .endpoint = ep, .status = usb_redir_stall};
    d->stats.packets_in++;
    usbredirparser_send_bulk_receiving_status(d->parser, id, &st);
    d->stats.packets_out++;
}

static void on_start_bulk_receiving(void *priv, uint64_t id,
                                    struct usb_redir_start_bulk_receiving_header *s)
{
    send_bulk_receiving_status(dev_of(priv), id, s->stream_id, s->endpoint);
}

static void on_stop_bulk_receiving(void *priv, uint64_t id,
                                   struct usb_redir_stop_bulk_receiving_header *s)
{
    send_bulk_receiving_status(dev_of(priv), id, s->stream_id, s->endpoint);
}

static void on_filter_reject(void *priv)
{
    dev_of(priv)->stats.packets_in++;
}

/* QEMU's device filter (its -device usb-redir,filter=...): every simulated device is wanted. */
static void on_filter_filter(void *priv, struct usbredirfilter_rule *rules, int count)
{
    (void)count;
    dev_of(priv)->stats.packets_in++;
    free(rules);
}

static void set_handlers(struct usbredirparser *p, struct sim_usbredir_device *d)
{
    p->priv = d;
    p->log_func = on_log;
    p->read_func = on_read;
    p->write_func = on_write;
    p->hello_func = on_hello;
    p->reset_func = on_reset;
    p->set_configuration_func = on_set_configuration;
    p->get_configuration_func = on_get_configuration;
    p->set_alt_setting_func = on_set_alt_setting;
    p->get_alt_setting_func = on_get_alt_setting;
    p->start_iso_stream_func = on_start_iso_stream;
    p->stop_iso_stream_func = on_stop_iso_stream;
    p->iso_packet_func = on_iso_packet;
    p->alloc_bulk_streams_func = on_alloc_bulk_streams;
    p->free_bulk_streams_func = on_free_bulk_streams;
    p->start_bulk_receiving_func = on_start_bulk_receiving;
    p->stop_bulk_receiving_func = on_stop_bulk_receiving;
    p->filter_reject_func = on_filter_reject;
    p->filter_filter_func = on_filter_filter;
    sim_usbredir_device_handlers(p);
}

int sim_usbredir_conn_open(struct sim_usbredir_device *d, int fd)
{
    sim_usbredir_conn_close(d);
    struct usbredirparser *p = usbredirparser_create();
    if (!p) {
        close(fd);
        return -ENOMEM;
    }
    d->fd = fd;
    d->parser = p;
    d->stats.connections++;
    set_handlers(p, d);

    uint32_t caps[USB_REDIR_CAPS_SIZE] = {0};
    usbredirparser_caps_set_cap(caps, usb_redir_cap_connect_device_version);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_ep_info_max_packet_size);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_64bits_ids);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_32bits_bulk_length);
    usbredirparser_init(p, VERSION, caps, USB_REDIR_CAPS_SIZE, usbredirparser_fl_usb_host);
    d->stats.packets_out++; /* the hello */
    sim_usbredir_device_flush(d);
    return 0;
}

void sim_usbredir_conn_close(struct sim_usbredir_device *d)
{
    if (d->fd < 0)
        return;
    sim_usbredir_device_drop_held(d);
    usbredirparser_destroy(d->parser);
    close(d->fd);
    d->parser = NULL;
    d->fd = -1;
    d->hello = d->connected = d->dead = false;
    d->receiving = d->in_transfer = d->hung = 0;
}

int sim_usbredir_conn_read(struct sim_usbredir_device *d)
{
    /* a parse error skips the packet (the parser logged it); only I/O ends the connection */
    const int r = usbredirparser_do_read(d->parser);
    sim_usbredir_device_flush(d);
    return r == usbredirparser_read_io_error || d->dead ? -EIO : 0;
}

bool sim_usbredir_conn_wants_write(const struct sim_usbredir_device *d)
{
    return d->parser && usbredirparser_has_data_to_write(d->parser) > 0;
}
