/* Open-drain I2C bus model: see i2c_bus.h for the contract.
 *
 * Edge ordering. The master changes its SCL and SDA drive in one call, as one write of the pins
 * would. An SDA change that coincides with an SCL edge is taken to happen while SCL is low: before
 * a rising edge (data set up, then the clock rises) and after a falling edge (the clock falls,
 * then data changes). Only an SDA change while SCL stays high is a START or STOP. This is what a
 * real master relies on when it drops SCL and changes SDA in the same pin write.
 *
 * Settling. After every change the bus recomputes both lines from all drivers, handles at most one
 * event (an SCL edge or an SDA change), lets the devices react, and repeats until the lines are
 * stable: a device that changes its drive in a callback is seen at once. */
#include "model/i2c_bus.h"

#include <errno.h>
#include <stdlib.h>

/* A device that keeps toggling a line in its callbacks would otherwise loop forever. */
#define SETTLE_ROUNDS_MAX 64

struct attached_device {
    const struct sim_i2c_device_ops *ops;
    void *ctx;
};

struct sim_i2c_bus {
    struct attached_device devices[SIM_I2C_MAX_DEVICES];
    size_t device_count;
    enum sim_drive master_scl;
    enum sim_drive master_sda;
    bool scl; /* settled line levels */
    bool sda;
    bool scl_contention; /* contention in progress, to count each episode once */
    bool sda_contention;
    bool in_transaction; /* a START was seen and no STOP yet */
    bool settling;
    struct sim_i2c_bus_stats stats;

    uint64_t now_ns;
    struct sim_i2c_timing timing;
    bool strict;
    bool master_sda_moved; /* the settle in progress applies a change of the master's SDA */
    bool address_phase;    /* between a START and the slaves' ACK decision */
    unsigned falls_since_start;
    unsigned reported; /* rules already reported */
    sim_i2c_timing_report report;
    void *report_ctx;
};

struct sim_i2c_bus *sim_i2c_bus_new(void)
{
    struct sim_i2c_bus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return NULL;
    bus->master_scl = SIM_DRIVE_FLOAT;
    bus->master_sda = SIM_DRIVE_FLOAT;
    bus->scl = true;
    bus->sda = true;
    sim_i2c_timing_init(&bus->timing, SIM_I2C_STANDARD);
    return bus;
}

void sim_i2c_bus_free(struct sim_i2c_bus *bus)
{
    free(bus);
}

static bool devices_pull_scl(const struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++) {
        const struct attached_device *d = &bus->devices[i];
        if (d->ops->scl_low && d->ops->scl_low(d->ctx))
            return true;
    }
    return false;
}

static bool devices_pull_sda(const struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++) {
        const struct attached_device *d = &bus->devices[i];
        if (d->ops->sda_low && d->ops->sda_low(d->ctx))
            return true;
    }
    return false;
}

/* Wired AND: low as soon as anybody pulls low, high (pull-up or push-pull) otherwise. */
static bool line_level(enum sim_drive master, bool device_pulls_low)
{
    return master != SIM_DRIVE_LOW && !device_pulls_low;
}

static void count_contention(bool *in_progress, bool now, uint64_t *counter)
{
    if (now && !*in_progress)
        (*counter)++;
    *in_progress = now;
}

static void dispatch_start(struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++)
        if (bus->devices[i].ops->start)
            bus->devices[i].ops->start(bus->devices[i].ctx);
}

static void dispatch_stop(struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++)
        if (bus->devices[i].ops->stop)
            bus->devices[i].ops->stop(bus->devices[i].ctx);
}

static void dispatch_scl_rise(struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++)
        if (bus->devices[i].ops->scl_rise)
            bus->devices[i].ops->scl_rise(bus->devices[i].ctx, bus->sda);
}

static void dispatch_scl_fall(struct sim_i2c_bus *bus)
{
    for (size_t i = 0; i < bus->device_count; i++)
        if (bus->devices[i].ops->scl_fall)
            bus->devices[i].ops->scl_fall(bus->devices[i].ctx);
}

/* Violations found at one change: reported once per rule; in strict mode, a violation in the
 * START or address phase makes the slaves drop the transaction (they are shown a STOP). Returns
 * whether the transaction was dropped. */
static bool timing_result(struct sim_i2c_bus *bus, unsigned bad)
{
    if (!bad)
        return false;
    for (int r = 0; r < SIM_I2C_RULES; r++) {
        unsigned bit = 1u << r;
        if (!(bad & bit) || (bus->reported & bit))
            continue;
        bus->reported |= bit;
        if (bus->report)
            bus->report(bus->report_ctx, (enum sim_i2c_rule)r, bus->timing.rules[r].first_bad_ns,
                        sim_i2c_rule_min_ns(bus->timing.mode, (enum sim_i2c_rule)r),
                        bus->timing.mode);
    }
    if (!bus->strict || !bus->address_phase)
        return false;
    bus->address_phase = false;
    bus->stats.timing_aborts++;
    dispatch_stop(bus);
    return true;
}

static void sda_changed_while_scl_high(struct sim_i2c_bus *bus, unsigned bad)
{
    if (!bus->sda) {
        bus->stats.starts++;
        bus->in_transaction = true;
        bus->address_phase = true;
        bus->falls_since_start = 0;
        if (!timing_result(bus, bad))
            dispatch_start(bus);
    } else {
        if (bus->in_transaction)
            bus->stats.transactions++;
        bus->in_transaction = false;
        bus->address_phase = false;
        timing_result(bus, bad);
        dispatch_stop(bus);
    }
}

/* The slaves decide on their ACK at the 9th SCL fall after a START (the first ends the START's
 * hold time, eight more clock the address byte). */
#define ADDRESS_PHASE_FALLS 9

/* Move from the settled levels towards (scl, sda) by one event, following the edge ordering in
 * the header comment. */
static void apply_one_event(struct sim_i2c_bus *bus, bool scl, bool sda)
{
    uint64_t now = bus->now_ns;
    if (scl != bus->scl) {
        unsigned bad = 0;
        if (scl) {
            if (sda != bus->sda) /* set up while SCL is still low */
                bad |= sim_i2c_timing_sda(&bus->timing, now, sda, false, bus->master_sda_moved);
            bus->sda = sda;
            bus->scl = true;
            bad |= sim_i2c_timing_scl(&bus->timing, now, true);
            timing_result(bus, bad);
            dispatch_scl_rise(bus);
        } else {
            /* SDA is left alone: the next round applies its change with SCL already low. */
            bus->scl = false;
            bad |= sim_i2c_timing_scl(&bus->timing, now, false);
            timing_result(bus, bad);
            dispatch_scl_fall(bus);
            if (bus->address_phase && ++bus->falls_since_start == ADDRESS_PHASE_FALLS)
                bus->address_phase = false;
        }
        return;
    }
    bus->sda = sda;
    unsigned bad = sim_i2c_timing_sda(&bus->timing, now, sda, bus->scl, bus->master_sda_moved);
    if (bus->scl)
        sda_changed_while_scl_high(bus, bad);
    else
        timing_result(bus, bad);
}

static void settle(struct sim_i2c_bus *bus)
{
    /* A device reacting inside a callback: the loop below re-reads every drive anyway. */
    if (bus->settling)
        return;
    bus->settling = true;
    for (int round = 0; round < SETTLE_ROUNDS_MAX; round++) {
        bool dev_scl = devices_pull_scl(bus);
        bool dev_sda = devices_pull_sda(bus);
        count_contention(&bus->scl_contention, bus->master_scl == SIM_DRIVE_HIGH && dev_scl,
                         &bus->stats.contention);
        count_contention(&bus->sda_contention, bus->master_sda == SIM_DRIVE_HIGH && dev_sda,
                         &bus->stats.contention);
        bool scl = line_level(bus->master_scl, dev_scl);
        bool sda = line_level(bus->master_sda, dev_sda);
        if (scl == bus->scl && sda == bus->sda)
            break;
        apply_one_event(bus, scl, sda);
    }
    bus->settling = false;
}

/* A device acting on its own, between the master's writes (a fault switched on, a slave plugged
 * in): the bus reacts, but the intervals it makes are not the master's timing. */
static void settle_quietly(struct sim_i2c_bus *bus)
{
    bus->timing.quiet = true;
    settle(bus);
    bus->timing.quiet = false;
}

int sim_i2c_bus_attach(struct sim_i2c_bus *bus, const struct sim_i2c_device_ops *ops, void *ctx)
{
    if (!bus || !ops)
        return -EINVAL;
    if (bus->device_count == SIM_I2C_MAX_DEVICES)
        return -ENOSPC;
    bus->devices[bus->device_count].ops = ops;
    bus->devices[bus->device_count].ctx = ctx;
    bus->device_count++;
    settle_quietly(bus);
    return 0;
}

void sim_i2c_bus_detach(struct sim_i2c_bus *bus, void *ctx)
{
    for (size_t i = 0; i < bus->device_count; i++) {
        if (bus->devices[i].ctx != ctx)
            continue;
        for (size_t j = i + 1; j < bus->device_count; j++)
            bus->devices[j - 1] = bus->devices[j];
        bus->device_count--;
        settle_quietly(bus);
        return;
    }
}

void sim_i2c_bus_set_master(struct sim_i2c_bus *bus, enum sim_drive scl, enum sim_drive sda)
{
    bus->master_sda_moved = sda != bus->master_sda;
    bus->master_scl = scl;
    bus->master_sda = sda;
    settle(bus);
    bus->master_sda_moved = false;
}

bool sim_i2c_bus_scl_level(const struct sim_i2c_bus *bus)
{
    return bus->scl;
}

bool sim_i2c_bus_sda_level(const struct sim_i2c_bus *bus)
{
    return bus->sda;
}

void sim_i2c_bus_update(struct sim_i2c_bus *bus)
{
    settle_quietly(bus);
}

const struct sim_i2c_bus_stats *sim_i2c_bus_stats(const struct sim_i2c_bus *bus)
{
    return &bus->stats;
}

void sim_i2c_bus_set_time(struct sim_i2c_bus *bus, uint64_t now_ns)
{
    if (now_ns > bus->now_ns)
        bus->now_ns = now_ns;
}

void sim_i2c_bus_set_timing(struct sim_i2c_bus *bus, enum sim_i2c_mode mode, bool strict)
{
    sim_i2c_timing_init(&bus->timing, mode);
    bus->strict = strict;
    bus->reported = 0;
}

void sim_i2c_bus_on_violation(struct sim_i2c_bus *bus, sim_i2c_timing_report report, void *ctx)
{
    bus->report = report;
    bus->report_ctx = ctx;
}

const struct sim_i2c_timing *sim_i2c_bus_timing(const struct sim_i2c_bus *bus)
{
    return &bus->timing;
}

bool sim_i2c_bus_strict(const struct sim_i2c_bus *bus)
{
    return bus->strict;
}
