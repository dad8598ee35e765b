/* The i2c-dev bridge (see i2cdev_bridge.h for the contract): umockdev glue around the engine.
 *
 * Every open file of /dev/i2c-N is one UMockdevIoctlClient; its i2c_client state (address, PEC)
 * and the plug generation it was opened in hang on it as object data, set when it connects. A
 * request of a file from an older generation, or while unplugged, fails with ENODEV. Pointers in
 * requests (I2C_RDWR's messages and their buffers, I2C_SMBUS's data) are resolved through
 * umockdev_ioctl_data_resolve as the engine asks for them; what the engine writes into them goes
 * back to the client when the request completes; an answer the engine holds back (i2c-bcm2835's
 * adapter timeout) completes from a timer, never by sleeping in the handler. */
#include "front/i2cdev_bridge.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <umockdev.h>

#include "front/removal.h"

#define MAX_NODES      16
#define NAME_LEN       96
#define PATH_LEN       160
#define I2C_CHAR_MAJOR 89
#define CLIENT_KEY     "lynx-sim-i2c-client"
#define MAX_RESOLVED   (2 + 1 + 42) /* argument, struct, messages, buffers */

struct node {
    struct sim_i2cdev_bridge *br;
    struct sim_i2cdev *dev;
    unsigned bus;
    char name[NAME_LEN];
    UMockdevIoctlBase *handler;
    char devnode[32];
    char adapter_syspath[PATH_LEN]; /* the i2c adapter device */
    char syspath[PATH_LEN + 32];    /* its i2c-dev class device */
    atomic_bool plugged;
    unsigned generation;        /* changes at every unplug and plug */
    struct sim_removal removal; /* unplug-mid-transfer fired: uevent + removal still to do */
};

struct sim_i2cdev_bridge {
    pthread_mutex_t *lock;
    pthread_mutex_t *testbed_lock;
    UMockdevTestbed *testbed;
    char *root_dir, *sys_dir; /* the testbed's (copies, made once) */
    struct node *nodes[MAX_NODES];
    atomic_size_t count;
    struct sim_removals *removals;
};

struct client_state {
    struct sim_i2cdev_client c;
    unsigned generation;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- requests (umockdev's worker thread) -------------------------------------------------- */

/* With the hardware lock held. */
static struct client_state *client_state(struct node *n, UMockdevIoctlClient *client)
{
    struct client_state *st = g_object_get_data(G_OBJECT(client), CLIENT_KEY);
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return NULL;
        st->generation = n->generation;
        g_object_set_data_full(G_OBJECT(client), CLIENT_KEY, st, free);
    }
    return st;
}

static void client_connected(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct node *n = user_data;
    (void)handler;
    pthread_mutex_lock(n->br->lock);
    client_state(n, client); /* opened now: belongs to the current generation */
    pthread_mutex_unlock(n->br->lock);
}

/* The request's file reaches the adapter (NULL: gone, or out of memory). */
static struct client_state *live_state(struct node *n, UMockdevIoctlClient *client)
{
    struct client_state *st = client_state(n, client);
    return st && atomic_load(&n->plugged) && st->generation == n->generation ? st : NULL;
}

struct resolved {
    UMockdevIoctlData *data[MAX_RESOLVED];
    size_t n;
};

/* The engine's resolver: *field lies in one of the blocks resolved so far. */
static void *resolve(void *ctx, void **field, size_t len)
{
    struct resolved *r = ctx;
    const guint8 *at = (const guint8 *)field;
    for (size_t i = 0; i < r->n && r->n < MAX_RESOLVED; i++) {
        UMockdevIoctlData *d = r->data[i];
        if (at < d->data || at + sizeof(void *) > d->data + d->data_len)
            continue;
        UMockdevIoctlData *child = umockdev_ioctl_data_resolve(d, (gsize)(at - d->data), len, NULL);
        if (!child)
            return NULL;
        r->data[r->n++] = child;
        return child->data;
    }
    return NULL;
}

static void release(struct resolved *r)
{
    for (size_t i = 1; i < r->n; i++) /* [0] is the client's argument, not ours */
        g_object_unref(r->data[i]);
}

/* After a transfer: an unplug-mid-transfer that fired takes the adapter away now. */
static void after_request(struct node *n)
{
    if (!sim_i2cdev_take_unplug(n->dev))
        return;
    atomic_store(&n->plugged, false);
    n->generation++;
    sim_removal_due_locked(n->br->removals, &n->removal);
}

static void complete(UMockdevIoctlClient *client, long rc)
{
    umockdev_ioctl_client_complete(client, rc < 0 ? -1 : rc, rc < 0 ? (int)-rc : 0);
}

/* An answer the engine holds back (sim_i2cdev_answer_at: i2c-bcm2835's adapter timeout): a
 * timer on this thread's main context completes it, so the requests of other files and adapters
 * go on meanwhile. What the engine wrote into the resolved blocks goes back with the answer. */
struct held_answer {
    UMockdevIoctlClient *client;
    struct resolved r;
    long rc;
};

static gboolean answer_due(gpointer data)
{
    struct held_answer *h = data;
    complete(h->client, h->rc);
    return G_SOURCE_REMOVE;
}

static void answer_free(gpointer data)
{
    struct held_answer *h = data;
    release(&h->r);
    g_object_unref(h->client);
    free(h);
}

/* Completes now, or at answer_at (CLOCK_MONOTONIC ns) when that is later. Takes r's blocks. */
static void complete_at(UMockdevIoctlClient *client, long rc, struct resolved *r,
                        uint64_t answer_at)
{
    const uint64_t now = now_ns();
    struct held_answer *h = answer_at > now ? calloc(1, sizeof(*h)) : NULL;
    if (!h) {
        complete(client, rc);
        release(r);
        return;
    }
    *h = (struct held_answer){.client = g_object_ref(client), .r = *r, .rc = rc};
    GSource *timer = g_timeout_source_new((guint)((answer_at - now + 999999) / 1000000));
    g_source_set_callback(timer, answer_due, h, answer_free);
    g_source_attach(timer, g_main_context_get_thread_default());
    g_source_unref(timer);
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    struct node *n = user_data;
    (void)handler;
    const unsigned long request = umockdev_ioctl_client_get_request(client);
    struct resolved r = {.data = {umockdev_ioctl_client_get_arg(client)}, .n = 1};
    long rc;
    uint64_t answer_at = 0;

    pthread_mutex_lock(n->br->lock);
    struct client_state *st = live_state(n, client);
    if (!st) {
        rc = sim_i2cdev_gone(n->dev, request, false, false);
    } else {
        rc = sim_i2cdev_ioctl(n->dev, &st->c, request, (void **)r.data[0]->data, resolve, &r,
                              now_ns());
        answer_at = sim_i2cdev_answer_at(n->dev);
        after_request(n);
    }
    pthread_mutex_unlock(n->br->lock);
    complete_at(client, rc, &r, answer_at);
    return TRUE;
}

/* read() and write(): the argument is the client's buffer, count bytes. */
static gboolean handle_rw(struct node *n, UMockdevIoctlClient *client, bool read)
{
    UMockdevIoctlData *buf = umockdev_ioctl_client_get_arg(client);
    const size_t count = buf->data_len > 0 ? (size_t)buf->data_len : 0;
    ssize_t rc;
    uint64_t answer_at = 0;

    pthread_mutex_lock(n->br->lock);
    struct client_state *st = live_state(n, client);
    if (!st)
        rc = sim_i2cdev_gone(n->dev, 0, read, !read);
    else if (read)
        rc = sim_i2cdev_read(n->dev, &st->c, buf->data, count, now_ns());
    else
        rc = sim_i2cdev_write(n->dev, &st->c, buf->data, count, now_ns());
    if (st) {
        answer_at = sim_i2cdev_answer_at(n->dev);
        after_request(n);
    }
    pthread_mutex_unlock(n->br->lock);
    struct resolved none = {.n = 1};
    complete_at(client, rc, &none, answer_at);
    return TRUE;
}

static gboolean handle_read(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                            gpointer user_data)
{
    (void)handler;
    return handle_rw(user_data, client, true);
}

static gboolean handle_write(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data)
{
    (void)handler;
    return handle_rw(user_data, client, false);
}

/* ---- the testbed (never under the hardware lock) ------------------------------------------ */

/* The i2c-dev class device, then its parent adapter (umockdev-record's order). The node is a
 * plain file (given contents) rather than umockdev's default pty, which could not be made twice
 * under one name: the handler answers every request on it anyway. */
static char *device_record(const struct node *n)
{
    return g_strdup_printf("P: %s\nN: %s=00\nE: SUBSYSTEM=i2c-dev\nE: DEVNAME=%s\nE: MAJOR=%d\n"
                           "E: MINOR=%u\nA: dev=%d:%u\\n\nA: name=%s\\n\n\n"
                           "P: %s\nE: SUBSYSTEM=i2c\nE: DEVTYPE=i2c_adapter\nA: name=%s\\n\n",
                           n->syspath + strlen("/sys"), n->devnode + strlen("/dev/"), n->devnode,
                           I2C_CHAR_MAJOR, n->bus, I2C_CHAR_MAJOR, n->bus, n->name,
                           n->adapter_syspath + strlen("/sys"), n->name);
}

static int add_to_testbed(struct sim_i2cdev_bridge *br, struct node *n)
{
    char *record = device_record(n);
    GError *err = NULL;
    gboolean added = umockdev_testbed_add_from_string(br->testbed, record, &err);
    g_free(record);
    if (!added) {
        g_clear_error(&err);
        return -EIO;
    }
    return 0;
}

static void remove_from_testbed(struct sim_i2cdev_bridge *br, struct node *n)
{
    /* The kernel deletes the node before it sends "remove" (device_del: devtmpfs first, the
     * uevent last), so a client reacting to the uevent finds /dev/i2c-N gone, as the daemon
     * relies on. The sysfs devices stay until after the uevents, which umockdev fills from them. */
    char *node = g_build_filename(br->root_dir, n->devnode, NULL);
    unlink(node);
    g_free(node);
    /* the uevents carry the properties read from sysfs: send them before removing */
    umockdev_testbed_uevent(br->testbed, n->syspath, "remove");
    umockdev_testbed_uevent(br->testbed, n->adapter_syspath, "remove");
    /* the class device first: removing a parent leaves its children's node and class link */
    umockdev_testbed_remove_device(br->testbed, n->syspath);
    umockdev_testbed_remove_device(br->testbed, n->adapter_syspath);
    sim_removal_unlink_char_link(br->sys_dir, I2C_CHAR_MAJOR, n->bus);
}

/* The deferred removal of an unplug-mid-transfer (removal.h). testbed_lock held. */
static void finish_removal(struct sim_removal *entry)
{
    struct node *n = (struct node *)((char *)entry - offsetof(struct node, removal));
    remove_from_testbed(n->br, n);
}

struct sim_i2cdev_bridge *sim_i2cdev_bridge_new(struct sim_usb_bridge *usb, pthread_mutex_t *lock)
{
    struct sim_i2cdev_bridge *br = calloc(1, sizeof(*br));
    if (!br)
        return NULL;
    br->lock = lock;
    br->testbed = sim_usb_bridge_testbed(usb, &br->testbed_lock);
    br->root_dir = umockdev_testbed_get_root_dir(br->testbed);
    br->sys_dir = umockdev_testbed_get_sys_dir(br->testbed);
    br->removals = sim_removals_new(lock, br->testbed_lock, finish_removal);
    if (!br->removals) {
        sim_i2cdev_bridge_free(br);
        return NULL;
    }
    return br;
}

void sim_i2cdev_bridge_stop(struct sim_i2cdev_bridge *br)
{
    if (br)
        sim_removals_stop(br->removals);
}

void sim_i2cdev_bridge_free(struct sim_i2cdev_bridge *br)
{
    if (!br)
        return;
    sim_removals_free(br->removals);
    for (size_t i = 0; i < atomic_load(&br->count); i++) {
        g_object_unref(br->nodes[i]->handler);
        free(br->nodes[i]);
    }
    g_free(br->root_dir);
    g_free(br->sys_dir);
    free(br);
}

static struct node *find_node(struct sim_i2cdev_bridge *br, const struct sim_i2cdev *dev)
{
    const size_t count = atomic_load(&br->count);
    for (size_t i = 0; i < count; i++)
        if (br->nodes[i]->dev == dev)
            return br->nodes[i];
    return NULL;
}

int sim_i2cdev_bridge_add(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev, unsigned bus,
                          const char *name, bool plugged)
{
    const size_t count = atomic_load(&br->count);
    if (count == MAX_NODES)
        return -ENOSPC;
    for (size_t i = 0; i < count; i++)
        if (br->nodes[i]->bus == bus || br->nodes[i]->dev == dev)
            return -EEXIST;
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->br = br;
    n->dev = dev;
    n->bus = bus;
    if (sim_i2cdev_config(dev)->driver == SIM_I2CDEV_DRIVER_BCM2835)
        snprintf(n->name, sizeof(n->name), "bcm2835 (lynx-sim %s)", name); /* the driver's form */
    else
        snprintf(n->name, sizeof(n->name), "lynx-sim %s", name);
    snprintf(n->devnode, sizeof(n->devnode), "/dev/i2c-%u", bus);
    snprintf(n->adapter_syspath, sizeof(n->adapter_syspath),
             "/sys/devices/platform/lynx-sim-i2c.%u/i2c-%u", bus, bus);
    snprintf(n->syspath, sizeof(n->syspath), "%s/i2c-dev/i2c-%u", n->adapter_syspath, bus);
    n->handler = umockdev_ioctl_base_new();
    g_signal_connect(n->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), n);
    g_signal_connect(n->handler, "handle-read", G_CALLBACK(handle_read), n);
    g_signal_connect(n->handler, "handle-write", G_CALLBACK(handle_write), n);
    g_signal_connect(n->handler, "client-connected", G_CALLBACK(client_connected), n);

    pthread_mutex_lock(br->testbed_lock);
    GError *err = NULL;
    int rc = 0;
    /* before the device exists: a client reacting to the add uevent must find the handler */
    if (!umockdev_testbed_attach_ioctl(br->testbed, n->devnode, n->handler, &err)) {
        g_clear_error(&err);
        rc = -EIO;
    }
    if (rc == 0) {
        br->nodes[count] = n;
        atomic_store(&br->count, count + 1);
        atomic_store(&n->plugged, plugged);
        if (plugged)
            rc = add_to_testbed(br, n);
    } else {
        g_object_unref(n->handler);
        free(n);
    }
    pthread_mutex_unlock(br->testbed_lock);
    return rc;
}

int sim_i2cdev_bridge_unplug(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev)
{
    struct node *n = find_node(br, dev);
    if (!n)
        return -ENOENT;
    pthread_mutex_lock(br->testbed_lock);
    pthread_mutex_lock(br->lock);
    const bool was = atomic_load(&n->plugged);
    if (was) {
        atomic_store(&n->plugged, false);
        n->generation++;
    }
    pthread_mutex_unlock(br->lock);
    if (was)
        remove_from_testbed(br, n);
    pthread_mutex_unlock(br->testbed_lock);
    return was ? 0 : -EALREADY;
}

int sim_i2cdev_bridge_plug(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev)
{
    struct node *n = find_node(br, dev);
    if (!n)
        return -ENOENT;
    pthread_mutex_lock(br->testbed_lock);
    sim_removals_finish_locked(
        br->removals); /* an unplug-mid-transfer not yet through the testbed */
    int rc = -EALREADY;
    if (!atomic_load(&n->plugged)) {
        pthread_mutex_lock(br->lock);
        sim_i2cdev_reset(n->dev);
        n->generation++;
        atomic_store(&n->plugged, true);
        pthread_mutex_unlock(br->lock);
        rc = add_to_testbed(br, n);
    }
    pthread_mutex_unlock(br->testbed_lock);
    return rc;
}

bool sim_i2cdev_bridge_plugged(struct sim_i2cdev_bridge *br, const struct sim_i2cdev *dev)
{
    struct node *n = find_node(br, dev);
    return n && atomic_load(&n->plugged);
}

int sim_i2cdev_bridge_unplug_mid_transfer(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev)
{
    struct node *n = find_node(br, dev);
    if (!n)
        return -ENOENT;
    pthread_mutex_lock(br->lock);
    int rc = atomic_load(&n->plugged) ? 0 : -ENODEV;
    if (rc == 0)
        sim_i2cdev_arm_unplug(n->dev);
    pthread_mutex_unlock(br->lock);
    return rc;
}
