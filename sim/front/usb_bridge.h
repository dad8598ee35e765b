/* The umockdev bridge: presents simulated FT232H adapters as USB devices to libusb clients.
 *
 * Creates a umockdev testbed (fake /sys and /dev, UMOCKDEV_DIR set in this process's
 * environment), adds each adapter as a usb_device with its sysfs descriptors, and answers the
 * usbdevfs ioctls of clients (in this process, or in children started with the preload in
 * LD_PRELOAD and UMOCKDEV_DIR inherited) from the ft232h model. Pending bulk IN URBs complete when
 * the model has data or its latency timer expires. Unplug makes pending and new URBs fail with
 * ENODEV and sends a "remove" uevent; plug adds the device again under the next free device number
 * (sim_usb_bridge_devnum) with an "add" uevent, so libusb clients see LIBUSB_ERROR_NO_DEVICE and
 * then hot-plug arrival. The adapter's bulk faults (ft232h.h) show as URB statuses: -EPIPE
 * (LIBUSB_ERROR_PIPE) for usb-error, a URB that never completes for usb-timeout (libusb's own
 * timeout then discards it).
 *
 * Every model access from the ioctl worker thread happens with `lock` held; the owner of the
 * hardware (runner, tests) takes the same lock to change the hardware. */
#ifndef SIM_USB_BRIDGE_H
#define SIM_USB_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>

#include "model/ft232h.h"

struct sim_usb_bridge;

/* Returns NULL on failure. For cross-process hot-plug the calling process must itself run
 * under libumockdev-preload (see sim_usb_bridge_reexec_under_preload). */
struct sim_usb_bridge *sim_usb_bridge_new(pthread_mutex_t *lock);
/* Stops serving; removes the testbed directory. Clients must have been stopped first. */
void sim_usb_bridge_free(struct sim_usb_bridge *br);

/* Add an adapter (plugged in). Returns 0 or a negative errno. The bridge does not own dev. */
int sim_usb_bridge_add(struct sim_usb_bridge *br, struct sim_ft232h *dev);
/* Unplug / re-plug a previously added adapter. Call with `lock` NOT held. */
int sim_usb_bridge_unplug(struct sim_usb_bridge *br, struct sim_ft232h *dev);
int sim_usb_bridge_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev);
bool sim_usb_bridge_plugged(struct sim_usb_bridge *br, const struct sim_ft232h *dev);
/* The adapter's USB device number while it is plugged in, else -ENODEV (-ENOENT: unknown).
 * Numbers are assigned as Linux's hub driver does: the first free one after the last assigned
 * (2..127, 1 being the root hub), wrapping around, so a number freed by an unplug comes back
 * after a wrap and a soak can replug without limit. */
int sim_usb_bridge_devnum(struct sim_usb_bridge *br, const struct sim_ft232h *dev);
/* Arm unplug-mid-transfer: the next bulk IN URB submitted to dev fails with ENODEV as the
 * adapter is unplugged (remove uevent and all, sent from the bridge's own thread). Returns 0,
 * -ENOENT for an unknown adapter or -ENODEV when it is not plugged in. Call with `lock` NOT held.
 * A plug right after waits for that unplug to be complete. */
int sim_usb_bridge_unplug_mid_transfer(struct sim_usb_bridge *br, struct sim_ft232h *dev);

/* The kernel driver model of interface 0, as usbfs shows it: while ftdi_sio is bound,
 * GETDRIVER names it and CLAIMINTERFACE fails with EBUSY; USBDEVFS_IOCTL DISCONNECT
 * (libusb_detach_kernel_driver) and DISCONNECT_CLAIM unbind it, CONNECT (attach) binds it again
 * unless a program has the interface claimed (EBUSY). A replug binds it afresh when at_plug. */
struct sim_usb_driver_stats {
    uint64_t detaches, attaches; /* by usbfs clients */
    uint64_t binds;              /* by sim_usb_bridge_set_driver(now): another program */
    bool bound;
};
/* Whether ftdi_sio binds the adapter when it is plugged in (also at once, before any client acted):
 * the scenario's driver= option, by default for FTDI's stock product ids. */
void sim_usb_bridge_driver_at_plug(struct sim_usb_bridge *br, struct sim_ft232h *dev, bool bound);
/* Binds ftdi_sio now, as another program would (the bind action): -EBUSY while a client has the
 * interface claimed, -ENODEV when unplugged. */
int sim_usb_bridge_bind_driver(struct sim_usb_bridge *br, struct sim_ft232h *dev);
/* The next count detaches of ftdi_sio (USBDEVFS_DISCONNECT) are followed at once by ftdi_sio
 * binding again, counted as binds: another program (a udev rule, a `bind`) winning the race
 * between a client's detach and its claim. */
void sim_usb_bridge_rebind_after_detach(struct sim_usb_bridge *br, struct sim_ft232h *dev,
                                        unsigned count);
/* With the hardware lock held (the one given to sim_usb_bridge_new). */
int sim_usb_bridge_driver_stats_locked(struct sim_usb_bridge *br, const struct sim_ft232h *dev,
                                       struct sim_usb_driver_stats *out);

/* The testbed, for another front end that adds devices to it (the i2c-dev bridge), and in
 * *testbed_lock the mutex that serialises every change of it (add, uevent, remove). */
typedef struct _UMockdevTestbed UMockdevTestbed;
UMockdevTestbed *sim_usb_bridge_testbed(struct sim_usb_bridge *br, pthread_mutex_t **testbed_lock);

/* Path of libumockdev-preload for LD_PRELOAD of children. */
const char *sim_usb_bridge_preload_path(void);

/* If this process is not yet running under the preload, re-exec argv with it prepended to
 * LD_PRELOAD (returns only on failure, or at once when already preloaded). */
void sim_usb_bridge_reexec_under_preload(char **argv);

#endif
