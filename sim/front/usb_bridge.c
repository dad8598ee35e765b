/* The umockdev bridge (see usb_bridge.h for the contract): the simulated adapters as devices in
 * the testbed. Here: the testbed, device numbers, the sysfs record, plug and unplug, the timer
 * thread, the driver-model API and the preload; the usbfs ioctls and URBs are usbfs.c's.
 *
 * Every adapter has its own UMockdevIoctlBase (usbfs.h); umockdev calls it on its worker thread
 * for each ioctl on the adapter's /dev/bus/usb/001/NNN. A timer thread completes pending IN URBs
 * when the model's latency timer says so and answers blocking REAPURBs.
 *
 * unplug-mid-transfer: the testbed part of that unplug (uevent, removal) is done by the deferred
 * removal's thread (removal.h), outside the lock. Testbed changes are serialised by testbed_lock
 * (taken before the hardware lock, never while holding it), so a plug waits for a removal still
 * to be done.
 *
 * Lock: every access to the models, the URB lists and the plug state happens with the
 * hardware lock held; umockdev testbed calls (add, uevent, remove) never happen under it,
 * because umockdev's worker thread may be waiting for it inside an ioctl handler. */
#include "front/usb_bridge.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#include "front/removal.h"
#include "front/usbfs.h"
#include "front/usbfs_driver.h"

#define BUS_NUMBER       1
#define MAX_ADAPTERS     16
#define FIRST_DEVNUM     2 /* 1 is the root hub on a real bus */
#define LAST_DEVNUM      127
#define DEVNUMS          (LAST_DEVNUM - FIRST_DEVNUM + 1)
#define IDLE_POLL_NS     100000000ull /* timer thread rechecks for vanished clients */
#define PRELOAD_NAME     "libumockdev-preload.so.0"
#define SIM_PRELOAD_NAME "liblynx-sim-preload.so" /* sim/meson.build's sim_preload */
#define USB_CHAR_MAJOR   189

struct sim_usb_bridge {
    pthread_mutex_t *lock;
    pthread_mutex_t testbed_lock; /* serialises testbed add/uevent/remove */
    UMockdevTestbed *testbed;
    char *
        sys_dir; /* the testbed's /sys, a real directory: interface 0's driver link is made there */
    struct sim_usb_device *adapters[MAX_ADAPTERS];
    atomic_size_t count;
    /* Device numbers as Linux's hub driver assigns them (choose_devnum): the first free one from
     * the number after the last assigned, wrapping to the lowest; guarded by testbed_lock. */
    int devnum_next;
    bool devnum_used[LAST_DEVNUM + 1];
    struct sim_removals *removals;

    pthread_t timer;
    pthread_cond_t wake;
    bool stop;
};

/* The minor of usbfs's node for devnum on our bus, as the kernel numbers them. */
static unsigned usb_minor(int devnum)
{
    return (BUS_NUMBER - 1) * 128 + (unsigned)devnum - 1;
}

/* Frees the device's number and detaches its node's ioctl handler: the node may be another
 * device's next (umockdev refuses to attach a second handler to a node). */
static void release_devnum(struct sim_usb_bridge *br, struct sim_usb_device *ad)
{
    GError *err = NULL;
    if (!umockdev_testbed_detach_ioctl(br->testbed, ad->devnode, &err))
        g_clear_error(&err);
    br->devnum_used[ad->devnum] = false;
}

/* The device number's node is free for the next device once this is done. */
static void remove_from_testbed(struct sim_usb_bridge *br, struct sim_usb_device *ad)
{
    /* the interface's directory goes with its device's; its link in /sys/bus/usb/devices would
     * make the next plug fail */
    char link[SIM_USB_SYSPATH_LEN + 256];
    snprintf(link, sizeof(link), "%s/bus/usb/devices/%s:1.0", br->sys_dir,
             strrchr(ad->syspath, '/') + 1);
    (void)unlink(link);
    umockdev_testbed_uevent(br->testbed, ad->syspath, "remove");
    umockdev_testbed_remove_device(br->testbed, ad->syspath);
    sim_removal_unlink_char_link(br->sys_dir, USB_CHAR_MAJOR, usb_minor(ad->devnum));
    release_devnum(br, ad);
}

/* The deferred removal of an unplug-mid-transfer (removal.h). testbed_lock held, the hardware
 * lock not held. */
static void finish_removal(struct sim_removal *entry)
{
    struct sim_usb_device *ad =
        (struct sim_usb_device *)((char *)entry - offsetof(struct sim_usb_device, removal));
    remove_from_testbed(ad->br, ad);
}

static void *timer_thread(void *arg)
{
    struct sim_usb_bridge *br = arg;

    pthread_mutex_lock(br->lock);
    while (!br->stop) {
        const uint64_t now = sim_usbfs_now_ns();
        uint64_t next = now + IDLE_POLL_NS;
        const size_t count = atomic_load(&br->count);

        for (size_t i = 0; i < count; i++) {
            struct sim_usb_device *ad = br->adapters[i];
            sim_usbfs_prune_locked(ad);
            uint64_t wake = sim_usbfs_service_locked(ad, now);
            if (wake < next)
                next = wake;
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
    br->sys_dir = umockdev_testbed_get_sys_dir(br->testbed);
    br->removals = sim_removals_new(lock, &br->testbed_lock, finish_removal);
    if (!br->removals) {
        g_free(br->sys_dir);
        g_object_unref(br->testbed);
        pthread_cond_destroy(&br->wake);
        free(br);
        return NULL;
    }
    if (pthread_create(&br->timer, NULL, timer_thread, br) != 0) {
        sim_removals_free(br->removals);
        g_free(br->sys_dir);
        g_object_unref(br->testbed);
        pthread_cond_destroy(&br->wake);
        free(br);
        return NULL;
    }
    return br;
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
    sim_removals_stop(br->removals);

    /* the testbed owns the worker thread: once it is gone no handler runs any more */
    g_object_unref(br->testbed);

    for (size_t i = 0; i < atomic_load(&br->count); i++) {
        sim_usbfs_release(br->adapters[i]);
        free(br->adapters[i]);
    }
    sim_removals_free(br->removals);
    g_free(br->sys_dir);
    pthread_cond_destroy(&br->wake);
    pthread_mutex_destroy(&br->testbed_lock);
    free(br);
}

static struct sim_usb_device *find_adapter(struct sim_usb_bridge *br, const struct sim_ft232h *dev)
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

static char *device_record(const struct sim_usb_device *ad)
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
                           "A: busnum=%d\\n\nA: devnum=%d\\n\nA: dev=%d:%u\\n\n"
                           "A: speed=480\\n\nA: bConfigurationValue=1\\n\n"
                           "A: bNumConfigurations=1\\n\nA: bMaxPacketSize0=64\\n\n"
                           "A: idVendor=%04x\\n\nA: idProduct=%04x\\n\nA: bcdDevice=%04x\\n\n",
                           BUS_NUMBER, ad->devnum, USB_CHAR_MAJOR, usb_minor(ad->devnum), cfg->vid,
                           cfg->pid, bcd_device);
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

static void write_attribute(const char *dir, const char *name, const char *value)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(value, f);
        fclose(f);
    }
}

/* Interface 0 (<port>:1.0) after its device, as the kernel adds it: class vendor-specific (0xFF,
 * FTDI's); its driver link is sim_usbfs_driver_link_locked's. Made with plain file-system calls
 * in the testbed's directory, not as a testbed device: that would cost two more uevents (add and
 * remove) per plug, which nothing here listens to (the daemon's inventory reads the driver link
 * when its device comes, and again on a usb_interface bind or unbind). */
static void make_interface(struct sim_usb_bridge *br, const struct sim_usb_device *ad)
{
    const char *port = strrchr(ad->syspath, '/') + 1;
    char dir[256], link[320], target[256];
    snprintf(dir, sizeof(dir), "%s%s/%s:1.0", br->sys_dir, ad->syspath + strlen("/sys"), port);
    if (mkdir(dir, 0755) < 0)
        return;
    write_attribute(dir, "bInterfaceNumber", "00\n");
    write_attribute(dir, "bInterfaceClass", "ff\n");
    write_attribute(dir, "bAlternateSetting", " 0\n");
    write_attribute(dir, "bNumEndpoints", "02\n");
    write_attribute(dir, "uevent", "DEVTYPE=usb_interface\nINTERFACE=255/255/255\n");
    snprintf(link, sizeof(link), "%s/subsystem", dir);
    (void)symlink("../../../../../../bus/usb", link);
    snprintf(link, sizeof(link), "%s/bus/usb/devices/%s:1.0", br->sys_dir, port);
    snprintf(target, sizeof(target), "../../..%s/%s:1.0", ad->syspath + strlen("/sys"), port);
    (void)symlink(target, link);
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
static int plug_in(struct sim_usb_bridge *br, struct sim_usb_device *ad)
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
    if (added) { /* its interface, then ftdi_sio's link */
        make_interface(br, ad);
        pthread_mutex_lock(br->lock);
        sim_usbfs_driver_link_locked(ad);
        pthread_mutex_unlock(br->lock);
    }
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

    struct sim_usb_device *ad = calloc(1, sizeof(*ad));
    if (!ad)
        return -ENOMEM;
    ad->br = br;
    ad->lock = br->lock;
    ad->wake = &br->wake;
    ad->removals = br->removals;
    ad->dev = dev;
    ad->port = (int)count + 1;
    snprintf(ad->syspath, sizeof(ad->syspath), "/sys/devices/pci0000:00/0000:00:14.0/usb%d/%d-%d",
             BUS_NUMBER, BUS_NUMBER, ad->port);
    snprintf(ad->driver_link, sizeof(ad->driver_link), "%s%s/%d-%d:1.0/driver", br->sys_dir,
             ad->syspath + strlen("/sys"), BUS_NUMBER, ad->port);
    sim_usbfs_handler_new(ad);

    br->adapters[count] = ad;
    atomic_store(&br->count, count + 1); /* published: the timer thread may look at it now */
    pthread_mutex_lock(&br->testbed_lock);
    int rc = plug_in(br, ad);
    pthread_mutex_unlock(&br->testbed_lock);
    return rc;
}

int sim_usb_bridge_unplug(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;

    pthread_mutex_lock(&br->testbed_lock);
    pthread_mutex_lock(br->lock);
    if (!atomic_load(&ad->plugged)) {
        pthread_mutex_unlock(br->lock);
        pthread_mutex_unlock(&br->testbed_lock);
        return -EALREADY;
    }
    sim_usbfs_disconnect_locked(ad);
    pthread_mutex_unlock(br->lock);

    remove_from_testbed(br, ad);
    pthread_mutex_unlock(&br->testbed_lock);
    return 0;
}

int sim_usb_bridge_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;

    pthread_mutex_lock(&br->testbed_lock);
    sim_removals_finish_locked(
        br->removals); /* an unplug-mid-transfer not yet through the testbed */
    int rc = -EALREADY;
    if (!atomic_load(&ad->plugged)) {
        pthread_mutex_lock(br->lock);
        sim_ft232h_power_on(ad->dev, sim_usbfs_now_ns());
        ad->driver_bound = ad->driver_at_plug; /* the kernel binds a new device afresh */
        sim_usbfs_unclaim_locked(ad);
        pthread_mutex_unlock(br->lock);
        rc = plug_in(br, ad);
    }
    pthread_mutex_unlock(&br->testbed_lock);
    return rc;
}

int sim_usb_bridge_unplug_mid_transfer(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
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
    struct sim_usb_device *ad = find_adapter(br, dev);
    return ad && atomic_load(&ad->plugged);
}

UMockdevTestbed *sim_usb_bridge_testbed(struct sim_usb_bridge *br, pthread_mutex_t **testbed_lock)
{
    *testbed_lock = &br->testbed_lock;
    return br->testbed;
}

int sim_usb_bridge_devnum(struct sim_usb_bridge *br, const struct sim_ft232h *dev)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
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

/* lynx-sim's own preload (dev_guard.c, uevent_pacing.c) next to this executable, or NULL with a
 * warning: lynx-sim then runs without it. LD_PRELOAD splits at ':' and ' ', so a path with one of
 * them cannot go there. */
static char *sim_preload_path(void)
{
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *path = NULL;
    if (n > 0) {
        exe[n] = '\0';
        char *dir = g_path_get_dirname(exe);
        path = g_build_filename(dir, SIM_PRELOAD_NAME, NULL);
        g_free(dir);
    }
    if (path && access(path, R_OK) == 0 && !strpbrk(path, ": "))
        return path;
    fprintf(stderr,
            "lynx-sim: warning: no usable %s next to lynx-sim: a client's failed opens of "
            "/dev/i2c-N and /dev/bus/usb nodes leak in umockdev's preload, which aborts it at the "
            "51st, and reach the host's nodes; a uevent listener eleven events behind aborts "
            "lynx-sim\n",
            SIM_PRELOAD_NAME);
    g_free(path);
    return NULL;
}

void sim_usb_bridge_reexec_under_preload(char **argv)
{
    if (preload_active())
        return;

    /* ours first: it must see an open or a sendmsg before umockdev's wrappers do */
    const char *old = getenv("LD_PRELOAD");
    char *guard = sim_preload_path();
    GString *value = g_string_new(NULL);
    if (guard)
        g_string_append_printf(value, "%s:", guard);
    g_string_append(value, PRELOAD_NAME);
    if (old && old[0])
        g_string_append_printf(value, ":%s", old);
    g_free(guard);
    if (setenv("LD_PRELOAD", value->str, 1) == 0)
        execv("/proc/self/exe", argv);
    g_string_free(value, TRUE);
    /* exec failed: carry on without the preload, hot-plug across processes will not work */
    if (old)
        setenv("LD_PRELOAD", old, 1);
    else
        unsetenv("LD_PRELOAD");
}

void sim_usb_bridge_driver_at_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev, bool bound)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return;
    pthread_mutex_lock(br->lock);
    ad->driver_at_plug = bound;
    if (!sim_usbfs_claimed_locked(ad) && ad->driver.detaches + ad->driver.attaches == 0)
        ad->driver_bound = bound; /* set up before any client: as bound at the plug */
    sim_usbfs_driver_link_locked(ad);
    pthread_mutex_unlock(br->lock);
}

int sim_usb_bridge_bind_driver(struct sim_usb_bridge *br, struct sim_ft232h *dev)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;
    pthread_mutex_lock(br->lock);
    int rc = !atomic_load(&ad->plugged) ? -ENODEV : sim_usbfs_claimed_locked(ad) ? -EBUSY : 0;
    if (rc == 0 && !ad->driver_bound) {
        ad->driver_bound = true;
        ad->driver.binds++;
        sim_usbfs_driver_link_locked(ad);
    }
    pthread_mutex_unlock(br->lock);
    return rc;
}

void sim_usb_bridge_rebind_after_detach(struct sim_usb_bridge *br, struct sim_ft232h *dev,
                                        unsigned count)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return;
    pthread_mutex_lock(br->lock);
    ad->rebind_after_detach = count;
    pthread_mutex_unlock(br->lock);
}

int sim_usb_bridge_driver_stats_locked(struct sim_usb_bridge *br, const struct sim_ft232h *dev,
                                       struct sim_usb_driver_stats *out)
{
    struct sim_usb_device *ad = find_adapter(br, dev);
    if (!ad)
        return -ENOENT;
    *out = ad->driver;
    out->bound = ad->driver_bound;
    return 0;
}
