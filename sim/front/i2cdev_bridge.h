/* The i2c-dev bridge: presents simulated I2C adapters as Linux i2c-dev nodes (/dev/i2c-N) in the
 * umockdev testbed the USB bridge made, and answers their clients' ioctl(), read() and write()
 * from the i2c-dev engine (i2cdev.h).
 *
 * Each adapter is a sysfs device in subsystem i2c-dev (/sys/class/i2c-dev/i2c-N, dev 89:N, its
 * `name` attribute) under an i2c adapter device (subsystem i2c), with devnode /dev/i2c-N and an
 * ioctl handler attached for good (the node keeps its name across replugs, as a real adapter
 * that comes back as the same bus number does). Unplug sends a "remove" uevent and removes the
 * device and node; from then on every request on a file opened before fails with ENODEV, also
 * after a plug ("add" uevent) brings the node back: only files opened since then reach the new
 * adapter. unplug-mid-transfer: the next transfer fails with ENODEV as the node goes (removed by
 * the bridge's own thread, outside the hardware lock).
 *
 * Locks as in the USB bridge: requests run the engine with the hardware lock held; testbed
 * changes happen under the USB bridge's testbed lock and never under the hardware lock. */
#ifndef SIM_I2CDEV_BRIDGE_H
#define SIM_I2CDEV_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>

#include "model/i2cdev.h"
#include "front/usb_bridge.h"

struct sim_i2cdev_bridge;

/* Serves i2c-dev nodes in the testbed of usb (which must outlive the bridge's thread, see
 * sim_i2cdev_bridge_stop). Returns NULL on failure. */
struct sim_i2cdev_bridge *sim_i2cdev_bridge_new(struct sim_usb_bridge *usb, pthread_mutex_t *lock);
/* Stops the bridge's thread: call before the USB bridge (and so the testbed) is freed. */
void sim_i2cdev_bridge_stop(struct sim_i2cdev_bridge *br);
/* Frees the rest: call once the testbed is gone (no handler can run any more). */
void sim_i2cdev_bridge_free(struct sim_i2cdev_bridge *br);

/* Adds adapter dev as /dev/i2c-<bus>, plugged in or not. Its sysfs `name` is "lynx-sim <name>",
 * or for controller=bcm2835 "bcm2835 (lynx-sim <name>)", the form i2c-bcm2835 gives its adapters
 * ("bcm2835 (<device tree node>)"), by which the daemon knows the driver. Returns 0 or a
 * negative errno (-EEXIST: that bus number is taken). The bridge does not own dev. */
int sim_i2cdev_bridge_add(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev, unsigned bus,
                          const char *name, bool plugged);
/* Call with the hardware lock NOT held. -EALREADY when already in that state. */
int sim_i2cdev_bridge_unplug(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev);
int sim_i2cdev_bridge_plug(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev);
bool sim_i2cdev_bridge_plugged(struct sim_i2cdev_bridge *br, const struct sim_i2cdev *dev);
/* Arms unplug-mid-transfer; -ENODEV when not plugged in. Call with the hardware lock NOT held. */
int sim_i2cdev_bridge_unplug_mid_transfer(struct sim_i2cdev_bridge *br, struct sim_i2cdev *dev);

#endif
