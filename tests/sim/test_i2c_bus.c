/* The open-drain I2C bus model: wired AND, START/STOP detection, edge dispatch, contention. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "model/i2c_bus.h"

/* A scripted device: pulls the lines when told to and logs what the bus shows it.
 * Log: 'S' start, 'P' stop, '0'/'1' SCL rise with the sampled SDA, 'f' SCL fall. */
struct probe {
    bool pull_sda;
    bool pull_scl;
    bool pull_sda_after_fall; /* take SDA low in the next scl_fall callback */
    char log[256];
    size_t log_len;
};

static void probe_log(struct probe *p, char c)
{
    if (p->log_len + 1 < sizeof(p->log)) {
        p->log[p->log_len++] = c;
        p->log[p->log_len] = '\0';
    }
}

static void probe_start(void *ctx)
{
    probe_log(ctx, 'S');
}

static void probe_stop(void *ctx)
{
    probe_log(ctx, 'P');
}

static void probe_rise(void *ctx, bool sda)
{
    probe_log(ctx, sda ? '1' : '0');
}

static void probe_fall(void *ctx)
{
    struct probe *p = ctx;
    probe_log(p, 'f');
    if (p->pull_sda_after_fall) {
        p->pull_sda = true;
        p->pull_sda_after_fall = false;
    }
}

static bool probe_sda_low(const void *ctx)
{
    return ((const struct probe *)ctx)->pull_sda;
}

static bool probe_scl_low(const void *ctx)
{
    return ((const struct probe *)ctx)->pull_scl;
}

static const struct sim_i2c_device_ops probe_ops = {
    .start = probe_start,
    .stop = probe_stop,
    .scl_rise = probe_rise,
    .scl_fall = probe_fall,
    .sda_low = probe_sda_low,
    .scl_low = probe_scl_low,
};

static struct sim_i2c_bus *bus;
static struct probe probe;

static void setup(void)
{
    memset(&probe, 0, sizeof(probe));
    bus = sim_i2c_bus_new();
    cr_assert_not_null(bus);
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &probe), 0);
}

static void teardown(void)
{
    sim_i2c_bus_free(bus);
}

#define F SIM_DRIVE_FLOAT
#define L SIM_DRIVE_LOW
#define H SIM_DRIVE_HIGH

static void master(enum sim_drive scl, enum sim_drive sda)
{
    sim_i2c_bus_set_master(bus, scl, sda);
}

static void assert_lines(bool scl, bool sda)
{
    cr_assert_eq(sim_i2c_bus_scl_level(bus), scl, "SCL is %d, expected %d",
                 sim_i2c_bus_scl_level(bus), scl);
    cr_assert_eq(sim_i2c_bus_sda_level(bus), sda, "SDA is %d, expected %d",
                 sim_i2c_bus_sda_level(bus), sda);
}

static void assert_log(const char *expected)
{
    cr_assert_str_eq(probe.log, expected);
}

/* START from idle: SDA low, then SCL low. */
static void start(void)
{
    master(F, L);
    master(L, L);
}

TestSuite(i2c_bus, .init = setup, .fini = teardown);

Test(i2c_bus, idle_lines_are_pulled_up_and_nothing_happened)
{
    assert_lines(true, true);
    const struct sim_i2c_bus_stats *st = sim_i2c_bus_stats(bus);
    cr_assert_eq(st->starts, 0);
    cr_assert_eq(st->transactions, 0);
    cr_assert_eq(st->contention, 0);
    assert_log("");
}

Test(i2c_bus, each_line_is_the_wired_and_of_master_and_devices)
{
    master(H, H);
    assert_lines(true, true);
    master(L, F);
    assert_lines(false, true);
    master(F, F);
    probe.pull_sda = true;
    sim_i2c_bus_update(bus);
    assert_lines(true, false);
    probe.pull_sda = false;
    probe.pull_scl = true;
    sim_i2c_bus_update(bus);
    assert_lines(false, true);
}

Test(i2c_bus, any_one_of_several_devices_pulling_low_holds_the_line_low)
{
    struct probe other = {0};
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &other), 0);
    other.pull_sda = true;
    sim_i2c_bus_update(bus);
    assert_lines(true, false);
    probe.pull_sda = true;
    other.pull_sda = false;
    sim_i2c_bus_update(bus);
    assert_lines(true, false);
    probe.pull_sda = false;
    sim_i2c_bus_update(bus);
    assert_lines(true, true);
}

Test(i2c_bus, sda_falling_while_scl_high_is_a_start)
{
    master(F, L);
    assert_log("S");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 0);
}

Test(i2c_bus, sda_rising_while_scl_high_after_a_start_is_a_stop_and_ends_a_transaction)
{
    start();
    master(F, L);
    master(F, F);
    assert_log("Sf0P");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(i2c_bus, a_stop_without_a_start_is_seen_but_counts_no_transaction)
{
    master(L, L); /* both fall in one write: SCL first, so no START */
    master(F, L);
    master(F, F);
    assert_log("f0P");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 0);
}

Test(i2c_bus, repeated_start_counts_a_start_but_not_a_second_transaction)
{
    start();
    master(L, F);
    master(F, F);
    master(F, L); /* repeated START */
    master(L, L);
    master(F, L);
    master(F, F); /* STOP */
    assert_log("Sf1Sf0P");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(i2c_bus, sda_changes_while_scl_low_are_no_condition)
{
    start();
    master(L, F);
    master(L, L);
    master(L, F);
    assert_log("Sf");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
}

Test(i2c_bus, scl_falling_with_an_sda_change_in_one_write_is_no_condition)
{
    start();
    master(F, L);
    /* SCL falls and SDA rises in one pin write: the clock falls first. */
    master(L, F);
    assert_lines(false, true);
    assert_log("Sf0f");
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 0);

    master(F, F);
    /* SCL falls and SDA falls together: no START either. */
    master(L, L);
    assert_log("Sf0f1f");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
}

Test(i2c_bus, scl_rising_with_an_sda_change_in_one_write_sets_up_data_before_the_clock)
{
    start();
    master(F, F); /* SDA rises with SCL: devices sample the new level, no STOP */
    assert_log("Sf1");
    master(L, F);
    master(F, L); /* SDA falls with SCL: no repeated START */
    assert_log("Sf1f0");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 0);
}

Test(i2c_bus, devices_sample_sda_on_each_rising_edge)
{
    start();
    const bool bits[] = {true, false, true, true, false};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        master(L, bits[i] ? F : L);
        master(F, bits[i] ? F : L);
        master(L, bits[i] ? F : L);
    }
    assert_log("Sf1f0f1f1f0f");
}

Test(i2c_bus, a_device_driving_sda_after_a_fall_is_seen_at_once)
{
    start();
    master(L, F);
    master(F, F);
    probe.pull_sda_after_fall = true;
    master(L, F);
    assert_lines(false, false);
    master(F, F); /* the master samples the device's bit */
    assert_lines(true, false);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 0);
    assert_log("Sf1f0");
}

Test(i2c_bus, push_pull_high_against_a_device_low_is_contention_and_reads_low)
{
    probe.pull_sda = true;
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0, "a floating master is no contention");
    master(F, H);
    assert_lines(true, false);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    master(F, H); /* the same episode */
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    probe.pull_sda = false;
    sim_i2c_bus_update(bus);
    assert_lines(true, true);
    probe.pull_sda = true;
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 2, "a new episode counts again");
}

Test(i2c_bus, push_pull_high_scl_against_a_stretching_device_is_contention)
{
    probe.pull_scl = true;
    master(H, F);
    assert_lines(false, true);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
}

Test(i2c_bus, master_driving_low_against_a_device_low_is_no_contention)
{
    probe.pull_sda = true;
    master(L, L);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0);
}

Test(i2c_bus, a_stretched_clock_rises_only_when_the_device_lets_go)
{
    start();
    probe.pull_scl = true;
    master(L, F);
    master(F, F);
    assert_lines(false, true);
    assert_log("Sf");
    probe.pull_scl = false;
    sim_i2c_bus_update(bus);
    assert_lines(true, true);
    assert_log("Sf1");
}

Test(i2c_bus, detaching_a_device_drops_its_drive_at_once)
{
    start();
    master(F, F);
    probe.pull_sda = true; /* device pulls SDA with SCL high: a repeated START */
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2);

    struct probe watcher = {0};
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &watcher), 0);
    sim_i2c_bus_detach(bus, &probe);
    assert_lines(true, true);
    cr_assert_str_eq(watcher.log, "P", "the release is a STOP for the others");
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);

    master(F, L); /* the detached device hears nothing more */
    cr_assert_str_eq(probe.log, "Sf1S");
}

Test(i2c_bus, attach_refuses_a_ninth_device)
{
    static struct probe more[SIM_I2C_MAX_DEVICES];
    for (int i = 0; i < SIM_I2C_MAX_DEVICES - 1; i++)
        cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &more[i]), 0);
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &more[SIM_I2C_MAX_DEVICES - 1]), -ENOSPC);
    sim_i2c_bus_detach(bus, &more[0]);
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &more[SIM_I2C_MAX_DEVICES - 1]), 0);
}

Test(i2c_bus, detaching_an_unknown_device_changes_nothing)
{
    struct probe stranger = {0};
    sim_i2c_bus_detach(bus, &stranger);
    probe.pull_sda = true;
    sim_i2c_bus_update(bus);
    assert_lines(true, false);
}

/* --- timing --- */

struct reports {
    int calls;
    enum sim_i2c_rule rule;
    uint64_t measured, minimum;
};

static void count_report(void *ctx, enum sim_i2c_rule rule, uint64_t measured_ns,
                         uint64_t minimum_ns, enum sim_i2c_mode mode)
{
    struct reports *r = ctx;
    (void)mode;
    r->calls++;
    r->rule = rule;
    r->measured = measured_ns;
    r->minimum = minimum_ns;
}

static void master_at(uint64_t ns, enum sim_drive scl, enum sim_drive sda)
{
    sim_i2c_bus_set_time(bus, ns);
    master(scl, sda);
}

Test(i2c_bus, a_timing_violation_is_reported_once_per_rule_and_counted_every_time)
{
    struct reports r = {0};
    sim_i2c_bus_on_violation(bus, count_report, &r);
    for (uint64_t i = 0; i < 3; i++) {
        master_at(10000 * i + 1000, L, F);
        master_at(10000 * i + 6000, F, F); /* low 5 us: fine */
        master_at(10000 * i + 9000, L, F); /* high 3 us: too short */
    }
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.rule, SIM_I2C_T_HIGH);
    cr_assert_eq(r.measured, 3000);
    cr_assert_eq(r.minimum, 4000);
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 3);
}

Test(i2c_bus, bus_time_never_goes_back)
{
    master_at(10000, L, F);
    master_at(5000, F, F); /* stamped 10000 still: SCL low for 0 ns */
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_LOW].shortest_ns, 0);
}

Test(i2c_bus, only_the_masters_own_data_changes_are_held_to_t_hd_dat)
{
    master_at(1000, L, F);
    probe.pull_sda = true; /* a slave changing SDA right at the edge is not checked */
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HD_DAT].checks, 0);
    probe.pull_sda = false;
    sim_i2c_bus_update(bus);
    master_at(1100, L, L); /* the master, 100 ns after SCL fell */
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HD_DAT].violations, 1);
}

Test(i2c_bus, fast_mode_is_chosen_per_bus_and_resets_the_counters)
{
    master_at(1000, L, F);
    master_at(2000, F, F);
    master_at(2700, L, F); /* 700 ns high */
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 1);
    sim_i2c_bus_set_timing(bus, SIM_I2C_FAST, false);
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 0);
    master_at(4100, F, F);
    master_at(4800, L, F);
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 0);
    cr_assert_eq(sim_i2c_bus_timing(bus)->mode, SIM_I2C_FAST);
    cr_assert_not(sim_i2c_bus_strict(bus));
}

Test(i2c_bus, a_device_acting_between_the_masters_writes_is_not_held_to_the_masters_timing)
{
    master_at(1000, F, F);
    master_at(2000, F, L); /* START */
    master_at(7000, F, F); /* STOP */
    probe.pull_sda = true; /* a slave stuck low at once: a START 0 ns after the STOP */
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_BUF].checks, 0);
    probe.pull_sda = false;
    sim_i2c_bus_update(bus);
    master_at(8000, F, L); /* the master's own START 1 us after the device's STOP */
    cr_assert_eq(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_BUF].violations, 1);
}
