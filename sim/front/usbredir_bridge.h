/* The usbredir bridge: serves simulated USB devices (any model behind usb_model.h: the FT232H
 * family, the CP2112) to QEMU's usb-redir devices, so a guest's real kernel sees them on its
 * xHCI bus. A second front end to the models the umockdev bridge (usb_bridge.h) drives.
 *
 * Each device gets a listening unix socket DIR/usbN.sock (N = 0, 1, ... in the order they are
 * added); QEMU connects to it as a client (`-chardev socket,path=...,reconnect=1 -device
 * usb-redir,chardev=...`). The server plays libusbredirparser's usb-host side. A plugged device
 * is connected (device_connect) as soon as QEMU's hello arrives; an unplugged one leaves the
 * connection up with no device. When QEMU reconnects, hello and connect happen again.
 * usbredir_conn.h says what each packet does and how the model's faults show.
 *
 * A thread of the bridge polls the sockets and the models' wake times; every model and parser
 * call is made with `lock` (the hardware lock) held. */
#ifndef SIM_FRONT_USBREDIR_BRIDGE_H
#define SIM_FRONT_USBREDIR_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/usb_model.h"

#define SIM_USBREDIR_MAX_DEVICES 16

/* Per device, since the bridge was created. */
struct sim_usbredir_stats {
    uint64_t connections;             /* QEMU connections accepted */
    uint64_t connects, disconnects;   /* device_connect / device_disconnect sent */
    uint64_t resets;                  /* USB resets the guest asked for */
    uint64_t packets_in, packets_out; /* usbredir packets received / sent, of every type */
    /* transfers answered (whatever their status) */
    uint64_t control, bulk_in, bulk_out, interrupt_in, interrupt_out;
    /* answers that were not usb_redir_success */
    uint64_t stalls, babbles, cancelled, ioerrors, invalid;
};

struct sim_usbredir_bridge;

/* Creates DIR when it does not exist and starts the bridge's thread. Returns NULL with err set. */
struct sim_usbredir_bridge *sim_usbredir_bridge_new(const char *dir, pthread_mutex_t *lock,
                                                    char *err, size_t errlen);
/* Stops the thread, closes the connections and removes the sockets (and DIR when it was made
 * here). */
void sim_usbredir_bridge_free(struct sim_usbredir_bridge *br);

/* Adds a device (model->dev is its identity; the bridge does not own it) and starts listening on
 * DIR/usbN.sock. Returns N, or a negative errno with err set (-EINVAL: descriptors that do not
 * parse, -ENOSPC, -EEXIST, or the socket's errno). Call with `lock` NOT held. */
int sim_usbredir_bridge_add(struct sim_usbredir_bridge *br, const struct sim_usb_model *model,
                            bool plugged, char *err, size_t errlen);
size_t sim_usbredir_bridge_count(const struct sim_usbredir_bridge *br);
/* The socket path of device N. */
const char *sim_usbredir_bridge_socket(const struct sim_usbredir_bridge *br, size_t n);

/* Plug / unplug: device_connect / device_disconnect on the live connection (or at the next
 * hello). Plugging runs the model's power_on. -ENOENT: unknown device, -EALREADY: already in
 * that state. Call with `lock` NOT held. */
int sim_usbredir_bridge_plug(struct sim_usbredir_bridge *br, const void *dev);
int sim_usbredir_bridge_unplug(struct sim_usbredir_bridge *br, const void *dev);
bool sim_usbredir_bridge_plugged(struct sim_usbredir_bridge *br, const void *dev);
/* Arms unplug-mid-transfer: the next IN data packet disconnects the device. -ENODEV when it is
 * not plugged in. Call with `lock` NOT held. */
int sim_usbredir_bridge_unplug_mid_transfer(struct sim_usbredir_bridge *br, const void *dev);

/* With `lock` held. -ENOENT for an unknown device. */
int sim_usbredir_bridge_stats_locked(struct sim_usbredir_bridge *br, const void *dev,
                                     struct sim_usbredir_stats *out);

#endif
