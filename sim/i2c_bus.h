/* Open-drain I2C bus model.
 *
 * SCL and SDA are the wired-AND of the master's drive and every attached device's drive, pulled
 * up when nobody pulls low. The master (the MPSSE engine) changes its drive with
 * sim_i2c_bus_set_master(); the bus recomputes both lines, detects START / repeated START / STOP
 * (SDA edge while SCL high) and SCL edges, and lets the devices react (devices sample SDA on SCL
 * rising edges and change their SDA drive only while SCL is low). A master driving a line high
 * push-pull while a device pulls it low is counted as contention (the line reads low). */
#ifndef SIM_I2C_BUS_H
#define SIM_I2C_BUS_H

#include <stdbool.h>
#include <stdint.h>

enum sim_drive {
    SIM_DRIVE_FLOAT = 0, /* high impedance: the pull-up decides */
    SIM_DRIVE_LOW,       /* actively pulled low */
    SIM_DRIVE_HIGH,      /* push-pull high: fights a device pulling low */
};

/* A bit-level participant on the bus (a slave). The bus calls these on line events; the device
 * answers through sda_low(): whether it pulls SDA low right now. Devices may also pull SCL low
 * (clock stretching, stuck bus) through scl_low (NULL = never). */
struct sim_i2c_device_ops {
    void (*start)(void *ctx);              /* START or repeated START seen */
    void (*stop)(void *ctx);               /* STOP seen */
    void (*scl_rise)(void *ctx, bool sda); /* SCL went high; sda = line level to sample */
    void (*scl_fall)(void *ctx);           /* SCL went low; device may change its SDA drive */
    bool (*sda_low)(const void *ctx);      /* does the device pull SDA low now */
    bool (*scl_low)(const void *ctx);      /* optional */
};

struct sim_i2c_bus_stats {
    uint64_t transactions; /* START..STOP sequences completed */
    uint64_t starts;       /* START and repeated START conditions */
    uint64_t contention;   /* push-pull high from the master while a device pulled low */
};

#define SIM_I2C_MAX_DEVICES 8

struct sim_i2c_bus;

struct sim_i2c_bus *sim_i2c_bus_new(void);
void sim_i2c_bus_free(struct sim_i2c_bus *bus);

/* Attach a device; returns 0 or -ENOSPC. The bus does not own ctx. */
int sim_i2c_bus_attach(struct sim_i2c_bus *bus, const struct sim_i2c_device_ops *ops, void *ctx);
/* Detach (e.g. unplugged from the chain); its drive stops counting at once. */
void sim_i2c_bus_detach(struct sim_i2c_bus *bus, void *ctx);

/* The master changes its drive of the lines. Triggers edge/condition handling. */
void sim_i2c_bus_set_master(struct sim_i2c_bus *bus, enum sim_drive scl, enum sim_drive sda);

/* Line levels as every participant sees them (true = high). */
bool sim_i2c_bus_scl_level(const struct sim_i2c_bus *bus);
bool sim_i2c_bus_sda_level(const struct sim_i2c_bus *bus);

/* Re-evaluate the lines after a device changed its drive on its own (e.g. a state change). */
void sim_i2c_bus_update(struct sim_i2c_bus *bus);

const struct sim_i2c_bus_stats *sim_i2c_bus_stats(const struct sim_i2c_bus *bus);

#endif
