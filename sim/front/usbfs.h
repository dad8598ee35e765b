/* usbfs as the simulated adapters' clients see it: the ioctls on /dev/bus/usb/BBB/DDD and the
 * URBs they submit, answered from the ft232h model.
 *
 * One struct sim_usb_device per adapter; the USB bridge (usb_bridge.c) owns it, adds it to the
 * testbed and plugs it in and out, and runs the timer that calls sim_usbfs_service_locked. Here:
 * URBs live on per-device lists: bulk IN URBs waiting for the model (pending, one list per port,
 * so an endpoint's URBs complete in order) and finished URBs waiting to be reaped by the client
 * that submitted them (done). A blocking REAPURB with nothing to reap parks until the timer or a
 * later ioctl has a URB for it; libusb itself only uses REAPURBNDELAY, which also services pending
 * URBs, so a busy-reaping client never depends on the timer thread.
 *
 * unplug-mid-transfer (unplug_armed): the next bulk IN URB, once queued, fails with ENODEV together
 * with the whole device; its testbed part is left to the deferred removal (removal.h).
 *
 * Lock: every function here, and umockdev's calls of the handler, run the models and touch the
 * lists with the hardware lock (*lock) held. */
#ifndef SIM_FRONT_USBFS_H
#define SIM_FRONT_USBFS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "front/removal.h"
#include "front/usb_bridge.h"
#include "model/ft232h.h"

#define SIM_USB_DEVNODE_LEN 32
#define SIM_USB_SYSPATH_LEN 96

struct urb;
struct parked_reaper;
typedef struct _UMockdevIoctlBase UMockdevIoctlBase;
typedef struct _UMockdevIoctlClient UMockdevIoctlClient;

/* One simulated adapter as a USB device: its node and sysfs path, plug state, URB lists and the
 * kernel driver model of interface 0. */
struct sim_usb_device {
    struct sim_usb_bridge *br; /* the owner; only usb_bridge.c looks inside */
    pthread_mutex_t *lock;     /* the hardware lock */
    pthread_cond_t *wake;      /* the bridge's timer: a URB or a parked reap wants servicing */
    struct sim_removals *removals;
    struct sim_ft232h *dev;
    UMockdevIoctlBase *handler;
    int port;
    int devnum;
    unsigned plugs; /* plug-ins so far: a client opened during an earlier one is stale */
    char devnode[SIM_USB_DEVNODE_LEN];
    char syspath[SIM_USB_SYSPATH_LEN]; /* /sys/devices/... as the testbed calls it */
    char driver_link[256]; /* interface 0's driver link, a real path in the testbed's directory */
    atomic_bool plugged;
    bool unplug_armed;          /* unplug-mid-transfer */
    struct sim_removal removal; /* disconnected; uevent + testbed removal still to do */
    struct urb *pending_in[SIM_FTDI_MAX_PORTS], *done;
    struct urb *hung_control; /* control-timeout: only a discard (or an unplug) ends them */
    struct parked_reaper *reapers;
    /* The kernel driver model of interface 0 (what usbfs tells of ftdi_sio): */
    bool driver_at_plug;          /* bound to ftdi_sio when plugged in (stock product ids) */
    bool driver_bound;            /* ftdi_sio has the interface now */
    unsigned rebind_after_detach; /* the next N detaches are undone at once (another program) */
    /* The usbfs client (a reference) that claimed each interface, NULL when none. As in the
     * kernel, one file's claim makes every other file's fail with EBUSY, and it ends when the
     * file is closed. */
    UMockdevIoctlClient *claimed_by[SIM_FTDI_MAX_PORTS];
    struct sim_usb_driver_stats driver;
    int connect_result; /* of the last USBDEVFS_IOCTL: 1 for a CONNECT, 0 otherwise */
};

/* The device's ioctl handler (for umockdev_testbed_attach_ioctl), set in ad->handler. */
void sim_usbfs_handler_new(struct sim_usb_device *ad);
/* The part of an unplug that happens under the lock: from now on every URB fails with ENODEV. */
void sim_usbfs_disconnect_locked(struct sim_usb_device *ad);
/* Completes pending IN URBs as far as the model lets them and answers parked reaps; returns the
 * earliest time a pending URB may complete (UINT64_MAX when none). */
uint64_t sim_usbfs_service_locked(struct sim_usb_device *ad, uint64_t now);
/* Drops the URBs (pending, done, hung control) of clients that closed their fd. */
void sim_usbfs_prune_locked(struct sim_usb_device *ad);
/* Fails parked reaps with ENODEV, frees every URB and the handler: once no handler can run. */
void sim_usbfs_release(struct sim_usb_device *ad);

uint64_t sim_usbfs_now_ns(void);

#endif
