/* A slave gone wrong, for the arbitration-lost tests (tests/sim/test_hid_cp2112.c,
 * tests/daemon/test_i2cdev_link.c): it pulls SDA low at the 4th SCL fall after each START, where
 * every address 0x08-0x0B sends a 1 (0001xxx R), so the master loses arbitration there. Attach it
 * with sim_i2c_bus_attach(bus, &rogue_slave_ops, &a_struct_rogue_slave_set_to_zero). */
#ifndef TESTS_SIM_ROGUE_SLAVE_H
#define TESTS_SIM_ROGUE_SLAVE_H

#include <stdbool.h>

#include "model/i2c_bus.h"

struct rogue_slave {
    unsigned falls;
};

static inline void rogue_slave_start(void *ctx)
{
    ((struct rogue_slave *)ctx)->falls = 0;
}

static inline void rogue_slave_fall(void *ctx)
{
    ((struct rogue_slave *)ctx)->falls++;
}

static inline bool rogue_slave_sda(const void *ctx)
{
    return ((const struct rogue_slave *)ctx)->falls == 4;
}

static const struct sim_i2c_device_ops rogue_slave_ops = {
    .start = rogue_slave_start, .scl_fall = rogue_slave_fall, .sda_low = rogue_slave_sda};

#endif
