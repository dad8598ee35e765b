/* Open-drain I2C bus model.
 *
 * SCL and SDA are the wired-AND of the master's drive and every attached device's drive, pulled
 * up when nobody pulls low. The master (the MPSSE engine) changes its drive with
 * sim_i2c_bus_set_master(); the bus recomputes both lines, detects START / repeated START / STOP
 * (SDA edge while SCL high) and SCL edges, and lets the devices react (devices sample SDA on SCL
 * rising edges and change their SDA drive only while SCL is low). A master driving a line high
 * push-pull while a device pulls it low is counted as contention (the line reads low).
 *
 * Timing. The master stamps its changes with the bus time (sim_i2c_bus_set_time, in ns; the
 * MPSSE engine knows when each pin moves) and the bus measures every UM10204 interval on the
 * lines as they settle (i2c_timing.h), in the mode chosen with sim_i2c_bus_set_timing (standard
 * by default). Only changes made by the master's writes are measured: a device acting on its
 * own between them (sim_i2c_bus_update, attach, detach) is not the master's timing. Violations are
 * counted per rule and reported once per rule through the hook. With strict timing, a violation
 * between a START and the slaves' ACK decision on the address byte (the START's own tBUF / tSU;STA,
 * tHD;STA, and the address bits) makes the slaves drop the transaction, as a marginal slave that
 * missed the START or a bit would: they are shown a STOP (no STOP is counted) and so do not ACK. */
#ifndef SIM_I2C_BUS_H
#define SIM_I2C_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/i2c_timing.h"

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
    uint64_t transactions;  /* START..STOP sequences completed */
    uint64_t starts;        /* START and repeated START conditions */
    uint64_t contention;    /* push-pull high from the master while a device pulled low */
    uint64_t timing_aborts; /* strict timing: transactions the slaves dropped */
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

/* The time of the master's next changes, in ns; never goes back (an earlier time is ignored). */
void sim_i2c_bus_set_time(struct sim_i2c_bus *bus, uint64_t now_ns);
/* Timing mode and strictness; resets the timing counters. */
void sim_i2c_bus_set_timing(struct sim_i2c_bus *bus, enum sim_i2c_mode mode, bool strict);
/* Called on the first violation of each rule (measured ns is the offending interval). */
typedef void (*sim_i2c_timing_report)(void *ctx, enum sim_i2c_rule rule, uint64_t measured_ns,
                                      uint64_t minimum_ns, enum sim_i2c_mode mode);
void sim_i2c_bus_on_violation(struct sim_i2c_bus *bus, sim_i2c_timing_report report, void *ctx);
/* Per-rule counters and the mode. */
const struct sim_i2c_timing *sim_i2c_bus_timing(const struct sim_i2c_bus *bus);
bool sim_i2c_bus_strict(const struct sim_i2c_bus *bus);

#endif
