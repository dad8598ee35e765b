/* The tests' QEMU stand-in (see usbredir_guest.h). */
#include "usbredir_guest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct guest {
    int fd;
    struct usbredirparser *parser;
    struct guest_event events[MAX_EVENTS];
    size_t n_events;
    uint64_t next_id;
};

uint64_t guest_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct guest_event *push(void *priv, enum guest_event_type type, uint64_t id)
{
    struct guest *g = priv;
    cr_assert_lt(g->n_events, MAX_EVENTS, "the guest's event queue overflowed");
    struct guest_event *e = &g->events[g->n_events++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->id = id;
    e->at_ns = guest_now_ns();
    return e;
}

static void keep_data(struct guest *g, struct guest_event *e, uint8_t *data, int len)
{
    e->data_len = len;
    memcpy(e->data, data, len < GUEST_DATA ? (size_t)len : GUEST_DATA);
    usbredirparser_free_packet_data(g->parser, data);
}

static void on_hello(void *priv, struct usb_redir_hello_header *h)
{
    (void)h;
    push(priv, EV_HELLO, 0);
}

static void on_connect(void *priv, struct usb_redir_device_connect_header *c)
{
    push(priv, EV_CONNECT, 0)->connect = *c;
}

static void on_disconnect(void *priv)
{
    push(priv, EV_DISCONNECT, 0);
}

static void on_interface_info(void *priv, struct usb_redir_interface_info_header *i)
{
    push(priv, EV_INTERFACE_INFO, 0)->interfaces = *i;
}

static void on_ep_info(void *priv, struct usb_redir_ep_info_header *e)
{
    push(priv, EV_EP_INFO, 0)->endpoints = *e;
}

static void on_configuration_status(void *priv, uint64_t id,
                                    struct usb_redir_configuration_status_header *s)
{
    struct guest_event *e = push(priv, EV_CONFIGURATION_STATUS, id);
    e->status = s->status;
    e->length = s->configuration;
}

static void on_alt_setting_status(void *priv, uint64_t id,
                                  struct usb_redir_alt_setting_status_header *s)
{
    push(priv, EV_ALT_SETTING_STATUS, id)->status = s->status;
}

static void on_interrupt_receiving_status(void *priv, uint64_t id,
                                          struct usb_redir_interrupt_receiving_status_header *s)
{
    struct guest_event *e = push(priv, EV_INTERRUPT_RECEIVING_STATUS, id);
    e->status = s->status;
    e->endpoint = s->endpoint;
}

static void on_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *c,
                       uint8_t *data, int len)
{
    struct guest_event *e = push(priv, EV_CONTROL, id);
    e->status = c->status;
    e->endpoint = c->endpoint;
    e->length = c->length;
    keep_data(priv, e, data, len);
}

static void on_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *b, uint8_t *data,
                    int len)
{
    struct guest_event *e = push(priv, EV_BULK, id);
    e->status = b->status;
    e->endpoint = b->endpoint;
    e->length = (uint32_t)b->length | (uint32_t)b->length_high << 16;
    keep_data(priv, e, data, len);
}

static void on_interrupt(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *i,
                         uint8_t *data, int len)
{
    struct guest_event *e = push(priv, EV_INTERRUPT, id);
    e->status = i->status;
    e->endpoint = i->endpoint;
    e->length = i->length;
    keep_data(priv, e, data, len);
}

static int on_read(void *priv, uint8_t *data, int count)
{
    struct guest *g = priv;
    const ssize_t n = recv(g->fd, data, (size_t)count, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return n > 0 ? (int)n : -1;
}

static int on_write(void *priv, uint8_t *data, int count)
{
    struct guest *g = priv;
    const ssize_t n = send(g->fd, data, (size_t)count, MSG_NOSIGNAL);
    return n < 0 ? (errno == EAGAIN ? 0 : -1) : (int)n;
}

static void on_log(void *priv, int level, const char *msg)
{
    (void)priv;
    if (level <= usbredirparser_warning)
        cr_log_warn("usbredir guest: %s", msg);
}

static int connect_once(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
        return fd;
    close(fd);
    return -1;
}

struct guest *guest_connect(const char *path)
{
    struct guest *g = calloc(1, sizeof(*g));
    cr_assert_not_null(g);
    const uint64_t until = guest_now_ns() + GUEST_WAIT_MS * 1000000ull;
    while ((g->fd = connect_once(path)) < 0 && guest_now_ns() < until)
        usleep(10000);
    cr_assert_geq(g->fd, 0, "connect to %s", path);

    struct usbredirparser *p = usbredirparser_create();
    cr_assert_not_null(p);
    g->parser = p;
    g->next_id = 1;
    p->priv = g;
    p->log_func = on_log;
    p->read_func = on_read;
    p->write_func = on_write;
    p->hello_func = on_hello;
    p->device_connect_func = on_connect;
    p->device_disconnect_func = on_disconnect;
    p->interface_info_func = on_interface_info;
    p->ep_info_func = on_ep_info;
    p->configuration_status_func = on_configuration_status;
    p->alt_setting_status_func = on_alt_setting_status;
    p->interrupt_receiving_status_func = on_interrupt_receiving_status;
    p->control_packet_func = on_control;
    p->bulk_packet_func = on_bulk;
    p->interrupt_packet_func = on_interrupt;

    uint32_t caps[USB_REDIR_CAPS_SIZE] = {0};
    usbredirparser_caps_set_cap(caps, usb_redir_cap_connect_device_version);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_ep_info_max_packet_size);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_64bits_ids);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_32bits_bulk_length);
    usbredirparser_init(p, "test guest", caps, USB_REDIR_CAPS_SIZE, 0);
    usbredirparser_do_write(p);
    return g;
}

void guest_close(struct guest *g)
{
    if (!g)
        return;
    usbredirparser_destroy(g->parser);
    close(g->fd);
    free(g);
}

static bool take(struct guest *g, enum guest_event_type type, struct guest_event *out)
{
    for (size_t i = 0; i < g->n_events; i++) {
        if (g->events[i].type != type)
            continue;
        if (out)
            *out = g->events[i];
        memmove(&g->events[i], &g->events[i + 1], (g->n_events - i - 1) * sizeof(g->events[0]));
        g->n_events--;
        return true;
    }
    return false;
}

bool guest_wait(struct guest *g, enum guest_event_type type, int ms, struct guest_event *out)
{
    const uint64_t until = guest_now_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        if (take(g, type, out))
            return true;
        const uint64_t now = guest_now_ns();
        if (now >= until)
            return false;
        struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)((until - now) / 1000000ull) + 1) > 0)
            cr_assert_geq(usbredirparser_do_read(g->parser), 0,
                          "the server closed or sent garbage");
    }
}

bool guest_has(struct guest *g, enum guest_event_type type, int ms)
{
    struct guest_event e;
    if (!guest_wait(g, type, ms, &e))
        return false;
    /* put it back for a later guest_wait */
    g->events[g->n_events++] = e;
    return true;
}

static void flush(struct guest *g)
{
    while (usbredirparser_has_data_to_write(g->parser))
        cr_assert_eq(usbredirparser_do_write(g->parser), 0);
}

uint64_t guest_control(struct guest *g, uint8_t requesttype, uint8_t request, uint16_t value,
                       uint16_t index, uint16_t length, const uint8_t *out_data)
{
    struct usb_redir_control_packet_header h = {.endpoint = requesttype & 0x80,
                                                .request = request,
                                                .requesttype = requesttype,
                                                .value = value,
                                                .index = index,
                                                .length = length};
    const bool in = requesttype & 0x80;
    const uint64_t id = g->next_id++;
    usbredirparser_send_control_packet(g->parser, id, &h, in ? NULL : (uint8_t *)out_data,
                                       in ? 0 : length);
    flush(g);
    return id;
}

uint64_t guest_bulk(struct guest *g, uint8_t ep, uint32_t length, const uint8_t *out_data)
{
    struct usb_redir_bulk_packet_header h = {
        .endpoint = ep, .length = (uint16_t)length, .length_high = (uint16_t)(length >> 16)};
    const bool in = ep & 0x80;
    const uint64_t id = g->next_id++;
    usbredirparser_send_bulk_packet(g->parser, id, &h, in ? NULL : (uint8_t *)out_data,
                                    in ? 0 : (int)length);
    flush(g);
    return id;
}

uint64_t guest_interrupt_out(struct guest *g, uint8_t ep, uint16_t length, const uint8_t *data)
{
    struct usb_redir_interrupt_packet_header h = {.endpoint = ep, .length = length};
    const uint64_t id = g->next_id++;
    usbredirparser_send_interrupt_packet(g->parser, id, &h, (uint8_t *)data, length);
    flush(g);
    return id;
}

void guest_start_interrupt_receiving(struct guest *g, uint8_t ep)
{
    struct usb_redir_start_interrupt_receiving_header h = {.endpoint = ep};
    usbredirparser_send_start_interrupt_receiving(g->parser, 0, &h);
    flush(g);
}

void guest_set_configuration(struct guest *g, uint8_t config)
{
    struct usb_redir_set_configuration_header h = {.configuration = config};
    usbredirparser_send_set_configuration(g->parser, g->next_id++, &h);
    flush(g);
}

void guest_cancel(struct guest *g, uint64_t id)
{
    usbredirparser_send_cancel_data_packet(g->parser, id);
    flush(g);
}
