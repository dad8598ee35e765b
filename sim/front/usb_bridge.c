/* The umockdev bridge (see usb_bridge.h for the contract).
 *
 * Every adapter has its own UMockdevIoctlBase; umockdev calls it on its worker thread for each
 * ioctl on the adapter's /dev/bus/usb/001/NNN. URBs live on two per-adapter lists: bulk IN URBs
 * waiting for the model (pending) and finished URBs waiting to be reaped by the client that
 * submitted them (done). A timer thread completes pending IN URBs when the model's latency timer
 * says so and answers blocking REAPURBs; libusb itself only uses REAPURBNDELAY, which also
 * services pending URBs, so a busy-reaping client never depends on the timer thread.
 * Each port (FT2232H/FT4232H have several) has its own pending IN list: an endpoint's URBs
 * complete in order, one that never completes (usb-timeout) holds back those behind it on the
 * same endpoint until it is discarded, as on a real host controller.
 *
 * unplug-mid-transfer: the next bulk IN URB, once queued, fails with ENODEV together with the
 * whole device; the testbed part of that unplug (uevent, removal) is done by the timer thread,
 * outside the lock. Testbed changes are serialised by testbed_lock (taken before the hardware
 * lock, never while holding it), so a plug waits for a removal still to be done.
 *
 * Lock: every access to the models, the URB lists and the plug state happens with the
 * hardware lock held; umockdev testbed calls (add, uevent, remove) never happen under it,
 * because umockdev's worker thread may be waiting for it inside an ioctl handler. */
#include "front/usb_bridge.h"

#include <errno.h>
#include <limits.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#define BUS_NUMBER     1
#define MAX_ADAPTERS   16
#define FIRST_DEVNUM   2 /* 1 is the root hub on a real bus */
#define LAST_DEVNUM    127
#define DEVNUMS        (LAST_DEVNUM - FIRST_DEVNUM + 1)
#define PLUG_KEY       "lynx-sim-plug" /* a client's plug-in number, set as it opens the node */
#define SETUP_LEN      8
#define IDLE_POLL_NS   100000000ull /* timer thread rechecks for vanished clients */
#define PRELOAD_NAME   "libumockdev-preload.so.0"
#define DEVNODE_LEN    32
#define SYSPATH_LEN    96
#define USB_CHAR_MAJOR 189

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

struct bridged_device {
    struct sim_usb_bridge *br;
    struct sim_ft232h *dev;
    UMockdevIoctlBase *handler;
    int port;
    int devnum;
    unsigned plugs; /* plug-ins so far: a client opened during an earlier one is stale */
    char devnode[DEVNODE_LEN];
    char syspath[SYSPATH_LEN]; /* /sys/devices/... as the testbed calls it */
    atomic_bool plugged;
    bool unplug_armed; /* unplug-mid-transfer */
    bool removal_due;  /* disconnected; uevent + testbed removal still to do */
    struct urb *pending_in[SIM_FTDI_MAX_PORTS], *done;
    struct urb *hung_control; /* control-timeout: only a discard (or an unplug) ends them */
    struct parked_reaper *reapers;
    /* The kernel driver model of interface 0 (what usbfs tells of ftdi_sio): */
    bool driver_at_plug; /* bound to ftdi_sio when plugged in (stock product ids) */
    bool driver_bound;   /* ftdi_sio has the interface now */
    bool claimed;        /* a usbfs client claimed it */
    struct sim_usb_driver_stats driver;
    int connect_result; /* of the last USBDEVFS_IOCTL: 1 for a CONNECT, 0 otherwise */
};

struct sim_usb_bridge {
    pthread_mutex_t *lock;
    pthread_mutex_t testbed_lock; /* serialises testbed add/uevent/remove */
    UMockdevTestbed *testbed;
    struct bridged_device *adapters[MAX_ADAPTERS];
    atomic_size_t count;
    /* Device numbers as Linux's hub driver assigns them (choose_devnum): the first free one from
     * the number after the last assigned, wrapping to the lowest; guarded by testbed_lock. */
    int devnum_next;
    bool devnum_used[LAST_DEVNUM + 1];

    pthread_t timer;
    pthread_cond_t wake;
    bool stop;
};

static uint64_t now_ns(void)
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

static void finish_urb(struct bridged_device *ad, struct urb *u, int status, int actual_length)
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

static void answer_parked_reapers(struct bridged_device *ad)
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
static uint64_t service_port_in(struct bridged_device *ad, unsigned port, uint64_t now)
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
static uint64_t service_pending_in(struct bridged_device *ad, uint64_t now)
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

/* The part of an unplug that happens under the lock: from now on every URB fails with ENODEV. */
static void disconnect_locked(struct bridged_device *ad)
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

/* Drops the URBs and parked reaps of clients that closed their fd. */
static void prune_vanished_clients(struct bridged_device *ad)
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
static bool client_is_live(const struct bridged_device *ad, UMockdevIoctlClient *client)
{
    return atomic_load(&ad->plugged) &&
           GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(client), PLUG_KEY)) == ad->plugs;
}

static void client_connected(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct bridged_device *ad = user_data;
    (void)handler;
    pthread_mutex_lock(ad->br->lock);
    g_object_set_data(G_OBJECT(client), PLUG_KEY, GUINT_TO_POINTER(ad->plugs));
    pthread_mutex_unlock(ad->br->lock);
}

static void submit_control(struct bridged_device *ad, struct urb *u)
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
    sim_ft232h_advance_to(ad->dev, now_ns()); /* a RESET or SET_BITMODE moves the pins now */
    int ret = sim_ft232h_control(ad->dev, &setup, u->buffer->data + SETUP_LEN);
    if (ret < 0)
        finish_urb(ad, u, ret, 0);
    else
        finish_urb(ad, u, 0, ret);
}

static void submit_bulk(struct bridged_device *ad, struct urb *u, unsigned port)
{
    struct usbdevfs_urb *urb = urb_struct(u);
    const bool in = urb->endpoint & 0x80;
    const int fault = sim_ft232h_bulk_submit(ad->dev, in);

    if (fault == -EPIPE) {
        finish_urb(ad, u, -EPIPE, 0); /* a stall: libusb reports LIBUSB_ERROR_PIPE */
    } else if (!in) {
        size_t len = u->buffer ? (size_t)urb->buffer_length : 0;
        if (len)
            sim_ft232h_bulk_out_port(ad->dev, port, u->buffer->data, len, now_ns());
        finish_urb(ad, u, 0, (int)len);
    } else {
        u->hung = fault == -ETIMEDOUT;
        list_append(&ad->pending_in[port], u);
        if (ad->unplug_armed) {
            disconnect_locked(ad); /* the URB just queued fails with ENODEV */
            ad->removal_due = true;
        }
    }
}

/* Returns 0 or the errno for the SUBMITURB ioctl itself. */
static int submit_urb(struct bridged_device *ad, UMockdevIoctlClient *client)
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
    service_pending_in(ad, now_ns());
    pthread_cond_signal(&ad->br->wake);
    return 0;
}

static int discard_urb(struct bridged_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    const unsigned long addr = *(const unsigned long *)arg->data;

    for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++) {
        for (struct urb **p = &ad->pending_in[port]; *p; p = &(*p)->next) {
            struct urb *u = *p;
            if (u->client == client && u->data->client_addr == addr) {
                *p = u->next;
                finish_urb(ad, u, -ENOENT, 0);
                service_pending_in(ad, now_ns()); /* those behind a hung URB may go now */
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
static bool reap_urb(struct bridged_device *ad, UMockdevIoctlClient *client, bool block, bool live)
{
    if (live)
        service_pending_in(ad, now_ns());

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
    pthread_cond_signal(&ad->br->wake);
    return false;
}

static void complete_errno(UMockdevIoctlClient *client, int err)
{
    umockdev_ioctl_client_complete(client, err ? -1 : 0, err);
}

static int set_configuration(struct bridged_device *ad, UMockdevIoctlClient *client)
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

/* GETDRIVER: the name of the bound driver, ENODATA when none. */
static int get_driver(struct bridged_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
    if (!data)
        return EFAULT;
    struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)data->data;
    int rc = ENODATA;
    if (gd->interface == 0 && ad->driver_bound) {
        snprintf(gd->driver, sizeof(gd->driver), "ftdi_sio");
        rc = 0;
    }
    g_object_unref(data);
    return rc;
}

/* USBDEVFS_IOCTL: DISCONNECT (libusb_detach_kernel_driver) and CONNECT (attach). */
static int driver_ioctl(struct bridged_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
    if (!data)
        return EFAULT;
    const struct usbdevfs_ioctl *io = (const struct usbdevfs_ioctl *)data->data;
    int rc = io->ifno == 0 ? 0 : ENODATA;
    ad->connect_result = io->ioctl_code == (int)USBDEVFS_CONNECT ? 1 : 0;
    if (rc == 0 && io->ioctl_code == (int)USBDEVFS_DISCONNECT) {
        rc = ad->driver_bound ? 0 : ENODATA;
        if (rc == 0) {
            ad->driver_bound = false;
            ad->driver.detaches++;
        }
    } else if (rc == 0 && io->ioctl_code == (int)USBDEVFS_CONNECT) {
        rc = ad->claimed ? EBUSY : 0; /* the kernel cannot bind what a program claimed */
        if (rc == 0 && !ad->driver_bound) {
            ad->driver_bound = true;
            ad->driver.attaches++;
        }
    } else if (rc == 0) {
        rc = ENOTTY;
    }
    g_object_unref(data);
    return rc;
}

static int claim_interface(struct bridged_device *ad, bool disconnect)
{
    if (ad->driver_bound && disconnect) {
        ad->driver_bound = false;
        ad->driver.detaches++;
    }
    if (ad->driver_bound)
        return EBUSY; /* as usbfs: a driver has it */
    ad->claimed = true;
    return 0;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct bridged_device *ad = user_data;
    const unsigned long request = umockdev_ioctl_client_get_request(client);
    (void)handler;

    pthread_mutex_lock(ad->br->lock);
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
                       live ? claim_interface(ad, request == USBDEVFS_DISCONNECT_CLAIM) : ENODEV);
        break;
    case USBDEVFS_RELEASEINTERFACE:
        if (live)
            ad->claimed = false;
        complete_errno(client, live ? 0 : ENODEV);
        break;
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESET:
    case USBDEVFS_RESETEP:
        complete_errno(client, live ? 0 : ENODEV);
        break;
    case USBDEVFS_GETDRIVER:
        complete_errno(client, live ? get_driver(ad, client) : ENODEV);
        break;
    case USBDEVFS_IOCTL: {
        /* CONNECT answers as device_attach() does: 1 when a driver was bound (libusb reads 0 as
         * "no driver to attach") */
        int err = live ? driver_ioctl(ad, client) : ENODEV;
        umockdev_ioctl_client_complete(client, err ? -1 : ad->connect_result, err);
        break;
    }
    default:
        complete_errno(client, ENOTTY);
        break;
    }
    pthread_mutex_unlock(ad->br->lock);
    return TRUE;
}

/* Frees the device's number and detaches its node's ioctl handler: the node may be another
 * device's next (umockdev refuses to attach a second handler to a node). */
static void release_devnum(struct sim_usb_bridge *br, struct bridged_device *ad)
{
    GError *err = NULL;
    if (!umockdev_testbed_detach_ioctl(br->testbed, ad->devnode, &err))
        g_clear_error(&err);
    br->devnum_used[ad->devnum] = false;
}

/* The device number's node is free for the next device once this is done. */
static void remove_from_testbed(struct sim_usb_bridge *br, struct bridged_device *ad)
{
    /* the uevent carries the properties read from sysfs: send it before removing */
    umockdev_testbed_uevent(br->testbed, ad->syspath, "remove");
    umockdev_testbed_remove_device(br->testbed, ad->syspath);
    release_devnum(br, ad);
}

/* Does the testbed part of the unplugs decided under the lock (unplug-mid-transfer). Call with
 * testbed_lock held and the hardware lock not held. */
static void finish_removals_locked(struct sim_usb_bridge *br)
{
    const size_t count = atomic_load(&br->count);

    for (size_t i = 0; i < count; i++) {
        struct bridged_device *ad = br->adapters[i];
        pthread_mutex_lock(br->lock);
        const bool due = ad->removal_due;
        ad->removal_due = false;
        pthread_mutex_unlock(br->lock);
        if (due)
            remove_from_testbed(br, ad);
    }
}

static void finish_removals(struct sim_usb_bridge *br)
{
    pthread_mutex_lock(&br->testbed_lock);
    finish_removals_locked(br);
    pthread_mutex_unlock(&br->testbed_lock);
}

static void *timer_thread(void *arg)
{
    struct sim_usb_bridge *br = arg;

    pthread_mutex_lock(br->lock);
    while (!br->stop) {
        const uint64_t now = now_ns();
        uint64_t next = now + IDLE_POLL_NS;
        const size_t count = atomic_load(&br->count);

        bool removal_due = false;
        for (size_t i = 0; i < count; i++) {
            struct bridged_device *ad = br->adapters[i];
            prune_vanished_clients(ad);
            uint64_t wake = service_pending_in(ad, now);
            if (wake < next)
                next = wake;
            removal_due |= ad->removal_due;
        }
        if (removal_due) {
            pthread_mutex_unlock(br->lock);
            finish_removals(br);
            pthread_mutex_lock(br->lock);
            continue;
        }
        struct timespec until = {.tv_sec = (time_t)(next / 1000000000ull),
                                 .tv_nsec = (long)(next % 1000000000ull)};
        pthread_cond_timedwait(&br->wake, br->lock, &until);
    }
    pthread_mutex_unlock(br->lock);
    return NULL;
}

struct sim_usb_bridge *sim_usb_bridge_new(pthread_mutex_t *lock)
{
    struct sim_usb_bridge *br = calloc(1, sizeof(*br));
    if (!br)
        return NULL;
    br->lock = lock;
    br->devnum_next = FIRST_DEVNUM;
    pthread_mutex_init(&br->testbed_lock, NULL);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&br->wake, &attr);
    pthread_condattr_destroy(&attr);

    br->testbed = umockdev_testbed_new(); /* sets UMOCKDEV_DIR for this process */
    if (!br->testbed) {
        pthread_cond_destroy(&br->wake);
        free(br);
        return NULL;
    }
    if (pthread_create(&br->timer, NULL, timer_thread, br) != 0) {
        g_object_unref(br->testbed);
        pthread_cond_destroy(&br->wake);
        free(br);
        return NULL;
    }
    return br;
}

static void free_reapers(struct bridged_device *ad)
{
    while (ad->reapers) {
        struct parked_reaper *r = ad->reapers;
        ad->reapers = r->next;
        umockdev_ioctl_client_complete(r->client, -1, ENODEV);
        g_object_unref(r->client);
        free(r);
    }
}

void sim_usb_bridge_free(struct sim_usb_bridge *br)
{
    if (!br)
        return;
    pthread_mutex_lock(br->lock);
    br->stop = true;
    pthread_cond_signal(&br->wake);
    pthread_mutex_unlock(br->lock);
    pthread_join(br->timer, NULL);

    /* the testbed owns the worker thread: once it is gone no handler runs any more */
    g_object_unref(br->testbed);

    for (size_t i = 0; i < atomic_load(&br->count); i++) {
        struct bridged_device *ad = br->adapters[i];
        free_reapers(ad);
        for (unsigned port = 0; port < SIM_FTDI_MAX_PORTS; port++)
            list_free(&ad->pending_in[port]);
        list_free(&ad->done);
        list_free(&ad->hung_control);
        g_object_unref(ad->handler);
        free(ad);
    }
    pthread_cond_destroy(&br->wake);
    pthread_mutex_destroy(&br->testbed_lock);
    free(br);
}

static struct bridged_device *find_adapter(struct sim_usb_bridge *br, const struct sim_ft232h *dev)
{
    const size_t count = atomic_load(&br->count);

    for (size_t i = 0; i < count; i++)
        if (br->adapters[i]->dev == dev)
            return br->adapters[i];
    return NULL;
}

/* sysfs attribute values are written as `A: name=value\n` records: keep them on one line. */
static void append_attribute(GString *rec, const char *name, const char *value)
{
    g_string_append_printf(rec, "A: %s=", name);
    for (const char *c = value; *c; c++)
        g_string_append_c(rec, (*c >= 0x20 && *c < 0x7F && *c != '\\') ? *c : '_');
    g_string_append(rec, "\\n\n");
}

static char *device_record(const struct bridged_device *ad)
{
    const struct sim_ft232h_config *cfg = sim_ft232h_config(ad->dev);
    uint8_t desc[256];
    size_t desc_len = sim_ft232h_descriptors(ad->dev, desc, sizeof(desc));
    const uint16_t bcd_device = sim_ft232h_bcd_device(ad->dev);
    GString *rec = g_string_new(NULL);

    g_string_append_printf(rec, "P: %s\n", ad->syspath + strlen("/sys"));
    g_string_append_printf(rec, "N: %s\n", ad->devnode + strlen("/dev/"));
    g_string_append_printf(rec,
                           "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
                           "E: BUSNUM=%03d\nE: DEVNUM=%03d\nE: DEVNAME=%s\n"
                           "E: PRODUCT=%x/%x/%x\n",
                           BUS_NUMBER, ad->devnum, ad->devnode, cfg->vid, cfg->pid, bcd_device);
    g_string_append_printf(rec,
                           "A: busnum=%d\\n\nA: devnum=%d\\n\nA: dev=%d:%d\\n\n"
                           "A: speed=480\\n\nA: bConfigurationValue=1\\n\n"
                           "A: bNumConfigurations=1\\n\nA: bMaxPacketSize0=64\\n\n"
                           "A: idVendor=%04x\\n\nA: idProduct=%04x\\n\nA: bcdDevice=%04x\\n\n",
                           BUS_NUMBER, ad->devnum, USB_CHAR_MAJOR,
                           (BUS_NUMBER - 1) * 128 + ad->devnum - 1, cfg->vid, cfg->pid, bcd_device);
    append_attribute(rec, "manufacturer", cfg->manufacturer);
    append_attribute(rec, "product", cfg->product);
    if (cfg->serial)
        append_attribute(rec, "serial", cfg->serial);
    g_string_append(rec, "H: descriptors=");
    for (size_t i = 0; i < desc_len && desc_len <= sizeof(desc); i++)
        g_string_append_printf(rec, "%02X", desc[i]);
    g_string_append_c(rec, '\n');
    return g_string_free(rec, FALSE);
}

/* Power-on state of a freshly plugged chip, set through its own control requests. */
static void power_on_reset(struct sim_ft232h *dev)
{
    const struct sim_usb_setup requests[] = {
        {0x40, 0x0B, 0x0000, 1, 0}, /* SET_BITMODE reset */
        {0x40, 0x00, 0, 1, 0},      /* RESET */
        {0x40, 0x09, 16, 1, 0},     /* SET_LATENCY_TIMER default */
        {0x00, 0x09, 0, 0, 0},      /* unconfigured */
    };
    sim_ft232h_advance_to(dev, now_ns());
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        sim_ft232h_control(dev, &requests[i], NULL);
}

/* The number for a device being plugged in, or -ENOSPC: as Linux's choose_devnum, the first
 * number not in use from the one after the last assigned, wrapping around. */
static int alloc_devnum(struct sim_usb_bridge *br)
{
    for (int i = 0; i < DEVNUMS; i++) {
        const int n = FIRST_DEVNUM + (br->devnum_next - FIRST_DEVNUM + i) % DEVNUMS;
        if (br->devnum_used[n])
            continue;
        br->devnum_used[n] = true;
        br->devnum_next = n == LAST_DEVNUM ? FIRST_DEVNUM : n + 1;
        return n;
    }
    return -ENOSPC;
}

/* Attaches the ioctl handler to a new device node and adds the sysfs device ("add" uevent). */
static int plug_in(struct sim_usb_bridge *br, struct bridged_device *ad)
{
    /* the node is free: its last device's removal detached its handler (release_devnum) */
    const int devnum = alloc_devnum(br);
    if (devnum < 0)
        return devnum; /* 126 devices on the bus */
    ad->devnum = devnum;
    snprintf(ad->devnode, sizeof(ad->devnode), "/dev/bus/usb/%03d/%03d", BUS_NUMBER, ad->devnum);
    char *record = device_record(ad); /* descriptors depend on the immutable config only */
    pthread_mutex_lock(br->lock);
    ad->plugs++; /* who opens the node from now on is a client of this plug-in */
    pthread_mutex_unlock(br->lock);

    GError *err = NULL;
    /* before the device exists: a client reacting to the add uevent must find the handler */
    if (!umockdev_testbed_attach_ioctl(br->testbed, ad->devnode, ad->handler, &err)) {
        g_clear_error(&err);
        g_free(record);
        release_devnum(br, ad);
        return -EIO;
    }
    atomic_store(&ad->plugged, true);
    gboolean added = umockdev_testbed_add_from_string(br->testbed, record, &err);
    g_free(record);
    if (!added) {
        atomic_store(&ad->plugged, false);
        g_clear_error(&err);
        release_devnum(br, ad);
        return -EIO;
    }
    return 0;
}

int sim_usb_bridge_add(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    const size_t count = atomic_load(&br->count);

    if (count == MAX_ADAPTERS)
        return -ENOSPC;
    if (find_adapter(br, dev))
        return -EEXIST;

    struct bridged_device *ad = calloc(1, sizeof(*ad));
    if (!ad)
        return -ENOMEM;
    ad->br = br;
    ad->dev = dev;
    ad->port = (int)count + 1;
    snprintf(ad->syspath, sizeof(ad->syspath), "/sys/devices/pci0000:00/0000:00:14.0/usb%d/%d-%d",
             BUS_NUMBER, BUS_NUMBER, ad->port);
    ad->handler = umockdev_ioctl_base_new();
    g_signal_connect(ad->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), ad);
    g_signal_connect(ad->handler, "client-connected", G_CALLBACK(client_connected), ad);

    br->adapters[count] = ad;
    atomic_store(&br->count, count + 1); /* published: the timer thread may look at it now */
    pthread_mutex_lock(&br->testbed_lock);
    int rc = plug_in(br, ad);
    pthread_mutex_unlock(&br->testbed_lock);
    return rc;
}

int sim_usb_bridge_unplug(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;

    pthread_mutex_lock(&br->testbed_lock);
    pthread_mutex_lock(br->lock);
    if (!atomic_load(&ad->plugged)) {
        pthread_mutex_unlock(br->lock);
        pthread_mutex_unlock(&br->testbed_lock);
        return -EALREADY;
    }
    disconnect_locked(ad);
    pthread_mutex_unlock(br->lock);

    remove_from_testbed(br, ad);
    pthread_mutex_unlock(&br->testbed_lock);
    return 0;
}

int sim_usb_bridge_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;

    pthread_mutex_lock(&br->testbed_lock);
    finish_removals_locked(br); /* an unplug-mid-transfer not yet through the testbed */
    int rc = -EALREADY;
    if (!atomic_load(&ad->plugged)) {
        pthread_mutex_lock(br->lock);
        power_on_reset(ad->dev);
        ad->driver_bound = ad->driver_at_plug; /* the kernel binds a new device afresh */
        ad->claimed = false;
        pthread_mutex_unlock(br->lock);
        rc = plug_in(br, ad);
    }
    pthread_mutex_unlock(&br->testbed_lock);
    return rc;
}

int sim_usb_bridge_unplug_mid_transfer(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;

    pthread_mutex_lock(br->lock);
    int rc = atomic_load(&ad->plugged) ? 0 : -ENODEV;
    if (rc == 0)
        ad->unplug_armed = true;
    pthread_mutex_unlock(br->lock);
    return rc;
}

bool sim_usb_bridge_plugged(struct sim_usb_bridge *br, const struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    return ad && atomic_load(&ad->plugged);
}

UMockdevTestbed *sim_usb_bridge_testbed(struct sim_usb_bridge *br, pthread_mutex_t **testbed_lock)
{
    *testbed_lock = &br->testbed_lock;
    return br->testbed;
}

int sim_usb_bridge_devnum(struct sim_usb_bridge *br, const struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;
    pthread_mutex_lock(&br->testbed_lock);
    const int devnum = atomic_load(&ad->plugged) ? ad->devnum : -ENODEV;
    pthread_mutex_unlock(&br->testbed_lock);
    return devnum;
}

const char *sim_usb_bridge_preload_path(void)
{
    return PRELOAD_NAME;
}

/* Decided from LD_PRELOAD alone: umockdev_in_mock_environment() caches its first answer, and
 * asked before the testbed exists it would stay FALSE for the life of the process. */
static bool preload_active(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "libumockdev-preload") != NULL;
}

void sim_usb_bridge_reexec_under_preload(char **argv)
{
    if (preload_active())
        return;

    const char *old = getenv("LD_PRELOAD");
    char *value =
        (old && old[0]) ? g_strconcat(PRELOAD_NAME, ":", old, NULL) : g_strdup(PRELOAD_NAME);
    if (setenv("LD_PRELOAD", value, 1) == 0)
        execv("/proc/self/exe", argv);
    g_free(value);
    /* exec failed: carry on without the preload, hot-plug across processes will not work */
    if (old)
        setenv("LD_PRELOAD", old, 1);
    else
        unsetenv("LD_PRELOAD");
}

void sim_usb_bridge_driver_at_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev, bool bound)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return;
    pthread_mutex_lock(br->lock);
    ad->driver_at_plug = bound;
    if (!ad->claimed && ad->driver.detaches + ad->driver.attaches == 0)
        ad->driver_bound = bound; /* set up before any client: as bound at the plug */
    pthread_mutex_unlock(br->lock);
}

int sim_usb_bridge_bind_driver(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;
    pthread_mutex_lock(br->lock);
    int rc = !atomic_load(&ad->plugged) ? -ENODEV : ad->claimed ? -EBUSY : 0;
    if (rc == 0 && !ad->driver_bound) {
        ad->driver_bound = true;
        ad->driver.binds++;
    }
    pthread_mutex_unlock(br->lock);
    return rc;
}

int sim_usb_bridge_driver_stats_locked(struct sim_usb_bridge *br, const struct sim_ft232h *dev,
                                       struct sim_usb_driver_stats *out)
{
    struct bridged_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;
    *out = ad->driver;
    out->bound = ad->driver_bound;
    return 0;
}
