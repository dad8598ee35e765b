/* The simulated installation: every adapter (an FT232H model, or an i2c-dev adapter, with its
 * I2C bus) and the Lynx Distributors on each bus, built from a scenario, changed by actions, and
 * exposed to clients through the umockdev bridges (libusb: usb_bridge.h; /dev/i2c-N:
 * i2cdev_bridge.h) or, with lynx-sim --usbredir, the USB adapters to a QEMU guest through the
 * usbredir bridge (usbredir_bridge.h).
 *
 * `lock` serialises the bridges' threads (which run the models) against hardware changes made
 * by the timeline and the control channel. */
#ifndef SIM_HARDWARE_H
#define SIM_HARDWARE_H

#include <pthread.h>
#include <stdio.h>

#include "model/cp2112.h"
#include "model/ft232h.h"
#include "model/i2c_bus.h"
#include "model/i2cdev.h"
#include "front/i2cdev_bridge.h"
#include "model/lynx_slave.h"
#include "run/scenario.h"
#include "front/usb_bridge.h"
#include "front/usbredir_bridge.h"
#include "model/usb_model.h"

struct sim_adapter {
    struct sim_adapter_spec spec;
    struct sim_i2c_bus *bus;
    struct sim_ft232h *dev;                      /* transport ftdi, else NULL */
    struct sim_i2cdev *i2c;                      /* transport i2c, else NULL */
    struct sim_cp2112 *cp2112;                   /* chip=cp2112 (usbredir only), else NULL */
    struct sim_usb_model usb;                    /* a USB adapter's model; ops NULL: none */
    struct sim_lynx *lynx[SIM_MAX_DISTRIBUTORS]; /* NULL when not declared */
};

struct sim_hardware {
    pthread_mutex_t lock;
    struct sim_adapter adapters[SIM_MAX_ADAPTERS];
    size_t n_adapters;
    struct sim_usb_bridge *bridge;        /* NULL: models only (unit tests) */
    struct sim_i2cdev_bridge *i2c_bridge; /* with the USB bridge when there are i2c adapters */
    struct sim_usbredir_bridge *redir;    /* --usbredir: the USB adapters on QEMU's bus */
};

/* Build the models of every adapter and distributor of sc. When with_usb, also create the
 * umockdev bridge and plug in the adapters the scenario has plugged; a CP2112 (chip=cp2112) is
 * refused then (-EOPNOTSUPP): only the usbredir front end serves it. Returns 0 or a negative
 * errno with a message in err. */
int sim_hardware_init(struct sim_hardware *hw, const struct sim_scenario *sc, bool with_usb,
                      char *err, size_t errlen);
/* The same with the USB adapters served over usbredir on DIR/usbN.sock (N in scenario order)
 * instead of umockdev: no testbed. -EOPNOTSUPP for a scenario with an i2c-adapter (a guest gets
 * its I2C bus from a USB adapter: chip=cp2112). */
int sim_hardware_init_usbredir(struct sim_hardware *hw, const struct sim_scenario *sc,
                               const char *dir, char *err, size_t errlen);
void sim_hardware_free(struct sim_hardware *hw);

/* Apply one action (takes the lock itself): the single entry point for scenario events, the
 * control channel and trace replay. `all` applies a distributor action to every distributor
 * declared on the adapter. Returns 0 or a negative errno with err set: -ENOENT (no such adapter
 * or distributor), -ENODEV (no USB bridge / adapter not plugged for unplug-mid-transfer),
 * -ENOSPC (script queue full; nothing queued). */
int sim_hardware_apply(struct sim_hardware *hw, const struct sim_action *act, char *err,
                       size_t errlen);

/* Counters of every layer as JSON: totals and per adapter (takes the lock). */
void sim_hardware_write_stats(struct sim_hardware *hw, FILE *out);

#endif
