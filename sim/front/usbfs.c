/* usbfs (see usbfs.h for the contract): the usbdevfs ioctls and the URB lists of one simulated
 * USB device. The bridge (usb_bridge.c) does everything that touches the testbed. */
#include "front/usbfs.h"
#include "front/usbfs_driver.h"

#include <errno.h>
#include <limits.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <umockdev.h>

#define PLUG_KEY  "lynx-sim-plug" /* a client's plug-in number, set as it opens the node */
#define SETUP_LEN 8

struct urb {
    struct urb *next;
    bool hung; /* usb-timeout: never completes, only a discard ends it */
    UMockdevIoctlClient *client;
    UMockdevIoctlData *data;   /* struct usbdevfs_urb, a local copy of the client's */
    UMockdevIoctlData *buffer; /* its transfer buffer, NULL when empty */
};

struct parked_reaper { /* a blocking REAPURB waiting for a URB of its client */
    struct parked_reaper *next;
    UMockdevIoctlClient *client;
};

uint64_t sim_usbfs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct usbdevfs_urb *urb_struct(const struct urb *u)
{
    return (struct usbdevfs_urb *)u->data->data;
}

static void urb_free(struct urb *u)
{
    g_object_unref(u->client);
    g_object_unref(u->data);
    if (u->buffer)
        g_object_unref(u->buffer);
    free(u);
}

static void list_append(struct urb **head, struct urb *u)
{
    u->next = NULL;
    while (*head)
        head = &(*head)->next;
    *head = u;
}

/* Unlinks and returns the first URB of client on the list (NULL when none). */
static struct urb *list_take_client(struct urb **head, UMockdevIoctlClient *client)
{
    for (; *head; head = &(*head)->next) {
        if ((*head)->client == client) {
            struct urb *u = *head;
            *head = u->next;
            return u;
        }
    }
    return NULL;
}

static void list_free(struct urb **head)
{
    while (*head) {
        struct urb *u = *head;
        *head = u->next;
        urb_free(u);
    }
}

static void finish_urb(struct sim_usb_device *ad, struct urb *u, int status, int actual_length)
{
    urb_struct(u)->status = status;
    urb_struct(u)->actual_length = actual_length;
    list_append(&ad->done, u);
}

/* Hands u to the client through the reap argument and completes that ioctl. */
static void deliver_reap(UMockdevIoctlClient *client, struct urb *u)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);

    if (!ptr) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
    } else {
        umockdev_ioctl_data_set_ptr(ptr, 0, u->data); /* the reap completion flushes it back */
        g_object_unref(ptr);
        umockdev_ioctl_client_complete(client, 0, 0);
    }
    urb_free(u);
}

static void answer_parked_reapers(struct sim_usb_device *ad)
{
    struct parked_reaper **p = &ad->reapers;

    while (*p) {
        struct parked_reaper *r = *p;
        struct urb *u = list_take_client(&ad->done, r->client);
        if (!u && atomic_load(&ad->plugged)) {
            p = &r->next;
            continue;
        }
        if (u)
            deliver_reap(r->client, u);
        else
            umockdev_ioctl_client_complete(r->client, -1, ENODEV);
        *p = r->next;
        g_object_unref(r->client);
        free(r);
    }
}

/* Completes one port's pending IN URBs, oldest first, as far as the model lets them. Returns
 * the time the head URB may complete (UINT64_MAX when none is pending or it never will). */
static uint64_t service_port_in(struct sim_usb_device *ad, unsigned port, uint64_t now)
{
    struct urb **head = &ad->pending_in[port];

    while (*head && !(*head)->hung) {
        struct urb *u = *head;
        uint8_t *buf = u->buffer ? u->buffer->data : NULL;
        size_t max = u->buffer ? (size_t)urb_struct(u)->buffer_length : 0;
        uint64_t wake = UINT64_MAX;
        int status = 0;
        size_t n = sim_ft232h_bulk_in_status(ad->dev, port, buf, max, now, &wake, &status);

        if (n == 0 && wake != UINT64_MAX)
            return wake;
        *head = u->next;
        if (n == 0)
            finish_urb(ad, u, -EOVERFLOW, 0); /* a zero-length request: any packet overflows */
        else
            finish_urb(ad, u, status, (int)n);
    }
    return UINT64_MAX;
}

/* Every port; returns the earliest time a head URB may complete. */
uint64_t sim_usbfs_service_locked(struct sim_usb_device *ad, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++) {
        uint64_t wake = service_port_in(ad, port, now);
        if (wake < next)
            next = wake;
    }
    answer_parked_reapers(ad);
    return next;
}

void sim_usbfs_disconnect_locked(struct sim_usb_device *ad)
{
    atomic_store(&ad->plugged, false);
    ad->unplug_armed = false;
    for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++) {
        while (ad->pending_in[port]) {
            struct urb *u = ad->pending_in[port];
            ad->pending_in[port] = u->next;
            finish_urb(ad, u, -ENODEV, 0);
        }
    }
    while (ad->hung_control) {
        struct urb *u = ad->hung_control;
        ad->hung_control = u->next;
        finish_urb(ad, u, -ENODEV, 0);
    }
    answer_parked_reapers(ad);
}

/* Drops the URBs (pending, done, hung control) of clients that closed their fd. */
void sim_usbfs_prune_locked(struct sim_usb_device *ad)
{
    struct urb **lists[] = {&ad->pending_in[0], &ad->pending_in[1], &ad->pending_in[2],
                            &ad->pending_in[3], &ad->done,          &ad->hung_control};

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct urb **p = lists[i];
        while (*p) {
            struct urb *u = *p;
            if (umockdev_ioctl_client_get_connected(u->client)) {
                p = &u->next;
                continue;
            }
            *p = u->next;
            urb_free(u);
        }
    }
}

/* A client's file descriptor belongs to the plug-in during which it opened the node: after an
 * unplug it fails with ENODEV for good, even once the device number, and so the node, is reused
 * (as usbfs: the fd is bound to the usb_device, not to the path). */
static bool client_is_live(const struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    return atomic_load(&ad->plugged) &&
           GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(client), PLUG_KEY)) == ad->plugs;
}

static void client_connected(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct sim_usb_device *ad = user_data;
    (void)handler;
    pthread_mutex_lock(ad->lock);
    g_object_set_data(G_OBJECT(client), PLUG_KEY, GUINT_TO_POINTER(ad->plugs));
    pthread_mutex_unlock(ad->lock);
}

static void submit_control(struct sim_usb_device *ad, struct urb *u)
{
    struct usbdevfs_urb *urb = urb_struct(u);
    const uint8_t *raw = u->buffer ? u->buffer->data : NULL;

    if (!raw || urb->buffer_length < SETUP_LEN) {
        finish_urb(ad, u, -EINVAL, 0);
        return;
    }
    struct sim_usb_setup setup = {
        .bmRequestType = raw[0],
        .bRequest = raw[1],
        .wValue = (uint16_t)(raw[2] | raw[3] << 8),
        .wIndex = (uint16_t)(raw[4] | raw[5] << 8),
        .wLength = (uint16_t)(raw[6] | raw[7] << 8),
    };
    if (setup.wLength > urb->buffer_length - SETUP_LEN)
        setup.wLength = (uint16_t)(urb->buffer_length - SETUP_LEN);

    const int fault = sim_ft232h_control_submit(ad->dev, &setup);
    if (fault == -EPIPE) {
        finish_urb(ad, u, -EPIPE, 0);
        return;
    }
    if (fault == -ETIMEDOUT) {
        list_append(&ad->hung_control, u);
        return;
    }
    sim_ft232h_advance_to(ad->dev,
                          sim_usbfs_now_ns()); /* a RESET or SET_BITMODE moves the pins now */
    int ret = sim_ft232h_control(ad->dev, &setup, u->buffer->data + SETUP_LEN);
    if (ret < 0)
        finish_urb(ad, u, ret, 0);
    else
        finish_urb(ad, u, 0, ret);
}

static void submit_bulk(struct sim_usb_device *ad, struct urb *u, unsigned port)
{
    struct usbdevfs_urb *urb = urb_struct(u);
    const bool in = urb->endpoint & 0x80;
    const int fault = sim_ft232h_bulk_submit(ad->dev, in);

    if (fault == -EPIPE) {
        finish_urb(ad, u, -EPIPE, 0); /* a stall: libusb reports LIBUSB_ERROR_PIPE */
    } else if (!in) {
        size_t len = u->buffer ? (size_t)urb->buffer_length : 0;
        if (len)
            sim_ft232h_bulk_out_port(ad->dev, port, u->buffer->data, len, sim_usbfs_now_ns());
        finish_urb(ad, u, 0, (int)len);
    } else {
        u->hung = fault == -ETIMEDOUT;
        list_append(&ad->pending_in[port], u);
        if (ad->unplug_armed) {
            sim_usbfs_disconnect_locked(ad); /* the URB just queued fails with ENODEV */
            sim_removal_due_locked(ad->removals, &ad->removal);
        }
    }
}

/* Returns 0 or the errno for the SUBMITURB ioctl itself. */
static int submit_urb(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (!data)
        return EFAULT;

    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)data->data;
    if (urb->buffer_length < 0) {
        g_object_unref(data);
        return EINVAL;
    }

    struct urb *u = calloc(1, sizeof(*u));
    if (!u) {
        g_object_unref(data);
        return ENOMEM;
    }
    u->client = g_object_ref(client);
    u->data = data; /* resolve() hands out references */
    u->buffer = umockdev_ioctl_data_resolve(data, offsetof(struct usbdevfs_urb, buffer),
                                            (size_t)urb->buffer_length, NULL);

    const int port = sim_ft232h_endpoint_port(ad->dev, urb->endpoint);
    if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
        submit_control(ad, u);
    } else if (urb->type != USBDEVFS_URB_TYPE_BULK || port < 0) {
        urb_free(u);
        return EINVAL; /* no such endpoint or transfer type on this device */
    } else {
        submit_bulk(ad, u, (unsigned)port);
    }
    /* any transfer may have queued data or a flush: pending reads may go now */
    sim_usbfs_service_locked(ad, sim_usbfs_now_ns());
    pthread_cond_signal(ad->wake);
    return 0;
}

static int discard_urb(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    const unsigned long addr = *(const unsigned long *)arg->data;

    for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++) {
        for (struct urb **p = &ad->pending_in[port]; *p; p = &(*p)->next) {
            struct urb *u = *p;
            if (u->client == client && u->data->client_addr == addr) {
                *p = u->next;
                finish_urb(ad, u, -ENOENT, 0);
                sim_usbfs_service_locked(
                    ad, sim_usbfs_now_ns()); /* those behind a hung URB may go now */
                return 0;
            }
        }
    }
    for (struct urb **p = &ad->hung_control; *p; p = &(*p)->next) {
        struct urb *u = *p;
        if (u->client == client && u->data->client_addr == addr) {
            *p = u->next;
            finish_urb(ad, u, -ENOENT, 0);
            return 0;
        }
    }
    return EINVAL; /* already completed or unknown */
}

/* Returns true when the ioctl was completed here (reaped or failed), false when parked. */
static bool reap_urb(struct sim_usb_device *ad, UMockdevIoctlClient *client, bool block, bool live)
{
    if (live)
        sim_usbfs_service_locked(ad, sim_usbfs_now_ns());

    struct urb *u = list_take_client(&ad->done, client);
    if (u) {
        deliver_reap(client, u);
        return true;
    }
    if (!live) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
        return true;
    }
    if (!block) {
        umockdev_ioctl_client_complete(client, -1, EAGAIN);
        return true;
    }
    struct parked_reaper *r = calloc(1, sizeof(*r));
    if (!r) {
        umockdev_ioctl_client_complete(client, -1, ENOMEM);
        return true;
    }
    r->client = g_object_ref(client);
    r->next = ad->reapers;
    ad->reapers = r;
    pthread_cond_signal(ad->wake);
    return false;
}

static void complete_errno(UMockdevIoctlClient *client, int err)
{
    umockdev_ioctl_client_complete(client, err ? -1 : 0, err);
}

static int set_configuration(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *value = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned int), NULL);
    if (!value)
        return EFAULT;

    const unsigned int config = *(const unsigned int *)value->data;
    g_object_unref(value);
    const struct sim_usb_setup setup = {0x00, 0x09, (uint16_t)config, 0, 0};
    if (config > UINT16_MAX || sim_ft232h_control(ad->dev, &setup, NULL) < 0)
        return EINVAL;
    return 0;
}

static int get_capabilities(UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *caps = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);
    if (!caps)
        return EFAULT;

    const uint32_t value = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                           USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
    memcpy(caps->data, &value, sizeof(value));
    g_object_unref(caps);
    return 0;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct sim_usb_device *ad = user_data;
    const unsigned long request = umockdev_ioctl_client_get_request(client);
    (void)handler;

    pthread_mutex_lock(ad->lock);
    const bool live = client_is_live(ad, client);

    switch (request) {
    case USBDEVFS_GET_CAPABILITIES:
        complete_errno(client, get_capabilities(client));
        break;
    case USBDEVFS_SUBMITURB:
        complete_errno(client, live ? submit_urb(ad, client) : ENODEV);
        break;
    case USBDEVFS_REAPURBNDELAY:
    case USBDEVFS_REAPURB:
        reap_urb(ad, client, request == USBDEVFS_REAPURB, live);
        break;
    case USBDEVFS_DISCARDURB:
        complete_errno(client, discard_urb(ad, client));
        break;
    case USBDEVFS_SETCONFIGURATION:
        complete_errno(client, live ? set_configuration(ad, client) : ENODEV);
        break;
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_DISCONNECT_CLAIM:
        complete_errno(client,
                       live ? sim_usbfs_claim(ad, client, request == USBDEVFS_DISCONNECT_CLAIM)
                            : ENODEV);
        break;
    case USBDEVFS_RELEASEINTERFACE:
        complete_errno(client, live ? sim_usbfs_release_claim(ad, client) : ENODEV);
        break;
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESET:
    case USBDEVFS_RESETEP:
        complete_errno(client, live ? 0 : ENODEV);
        break;
    case USBDEVFS_GETDRIVER:
        complete_errno(client, live ? sim_usbfs_get_driver(ad, client) : ENODEV);
        break;
    case USBDEVFS_IOCTL: {
        /* CONNECT answers as device_attach() does: 1 when a driver was bound (libusb reads 0 as
         * "no driver to attach") */
        int err = live ? sim_usbfs_driver_ioctl(ad, client) : ENODEV;
        umockdev_ioctl_client_complete(client, err ? -1 : ad->connect_result, err);
        break;
    }
    default:
        complete_errno(client, ENOTTY);
        break;
    }
    pthread_mutex_unlock(ad->lock);
    return TRUE;
}

static void free_reapers(struct sim_usb_device *ad)
{
    while (ad->reapers) {
        struct parked_reaper *r = ad->reapers;
        ad->reapers = r->next;
        umockdev_ioctl_client_complete(r->client, -1, ENODEV);
        g_object_unref(r->client);
        free(r);
    }
}

void sim_usbfs_handler_new(struct sim_usb_device *ad)
{
    ad->handler = umockdev_ioctl_base_new();
    g_signal_connect(ad->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), ad);
    g_signal_connect(ad->handler, "client-connected", G_CALLBACK(client_connected), ad);
}

void sim_usbfs_release(struct sim_usb_device *ad)
{
    free_reapers(ad);
    sim_usbfs_unclaim_locked(ad);
    for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++)
        list_free(&ad->pending_in[port]);
    list_free(&ad->done);
    list_free(&ad->hung_control);
    g_object_unref(ad->handler);
}
