/* The i2c-dev engine's state, shared by its two halves: i2cdev.c (requests, SMBus emulation, the
 * core's transfer) and i2cdev_master.c (the controller that clocks one transaction onto the bus).
 * Only those two include it; everyone else goes through i2cdev.h. */
#ifndef SIM_I2CDEV_STATE_H
#define SIM_I2CDEV_STATE_H

#include "model/i2cdev.h"

/* The master's clock, in ns: each interval above UM10204's minimum for the mode. */
struct master_timing {
    uint64_t hold;  /* SCL fall -> SDA change (tHD;DAT >= 300) */
    uint64_t setup; /* SDA change -> SCL rise (tSU;DAT; hold + setup = tLOW) */
    uint64_t high;  /* tHIGH */
    uint64_t su_sta, hd_sta, su_sto, buf;
};

struct sim_i2cdev {
    struct sim_i2c_bus *bus;
    struct sim_i2cdev_config cfg;
    const struct master_timing *t;
    uint64_t bus_ns; /* the time of the master's last change */
    unsigned long retries;
    unsigned long timeout_10ms;
    unsigned fail_count;
    int fail_errno;
    bool unplug_armed, unplug_fired;
    struct sim_i2cdev_stats stats;
};

/* A message as the kernel holds it: its own copy of the buffer (buf), and where the client's
 * data goes back (user, NULL for writes). */
struct kmsg {
    uint16_t addr, flags, len;
    uint8_t *buf;
    uint8_t *user;
};

/* The master's timing for the adapter's mode. */
const struct master_timing *sim_i2cdev_master_timing(enum sim_i2c_mode mode);
/* One START .. STOP with every message, from dev->bus_ns + tBUF or now_ns, whichever is later.
 * Returns the number of messages or -errno. */
int sim_i2cdev_master_xfer(struct sim_i2cdev *dev, struct kmsg *msgs, unsigned n, uint64_t now_ns);

#endif
