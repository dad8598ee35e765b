/* The MPSSE engine's clock model: TCK from the divisor settings, the bus time each command costs,
 * and when each pin moves as the I2C bus's timing checks see it (fixture: mpsse_fixture.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpsse_fixture.h"

/* ========================= clock model ========================= */

Test(mpsse, power_on_clock_is_6_mhz_from_12_mhz_base)
{
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 6000000);
}

Test(mpsse, an255_clock_settings_give_about_99_5_khz)
{
    SEND(0x8A, 0x86, 0xC8, 0x00, 0x8C);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 99502); /* 60 MHz / 402 * 2/3 */
    SEND(0x8D);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 149254);
}

Test(mpsse, pyftdi_clock_settings_give_exact_i2c_speeds)
{
    SEND(0x8B, 0x8C, 0x86, 0x27, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 100000);
    SEND(0x86, 0x09, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 400000);
    SEND(0x86, 0x03, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 1000000);
    SEND(0x8D);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 1500000);
    SEND(0x8A);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 7500000);
}

Test(mpsse, a_divisor_is_a_little_endian_16_bit_value)
{
    SEND(0x8A, 0x86, 0x00, 0x01); /* 256: 60 MHz / 514 */
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 116732);
    SEND(0x86, 0xFF, 0xFF); /* slowest divisor: 60 MHz / 131072 */
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 458);
}

Test(mpsse, bus_time_counts_each_clocked_bit_at_the_scl_period)
{
    SEND(0x8B, 0x86, 0x27, 0x00, 0x8C);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 0, "settings alone take no bus time");
    open_drain_clock_low(); /* one 0x80: 500 ns */
    uint64_t t0 = sim_mpsse_stats(mpsse)->bus_time_ns;
    cr_assert_eq(t0, 500);
    SEND(0x8E, 0x07);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 500 + 80000);
    SEND(0x11, 0x00, 0x00, 0x00, 0x22, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 500 + 170000);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 17);
    SEND(0x8D, 0x8E, 0x00); /* 2-phase: one TCK period per bit */
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 177166);
}

Test(mpsse, pin_writes_cost_500_ns_each_whatever_the_clock)
{
    SEND(0x8A, 0x86, 0xC8, 0x00, 0x8C); /* TCK 149.25 kHz */
    SEND(0x80, 0x03, 0x03, 0x80, 0x03, 0x03, 0x82, 0x00, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 1500);
    SEND(0x8B, 0x86, 0xFF, 0xFF); /* the slowest clock: still 500 ns a write */
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 2000);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0);
}

/* --- bus time: when each pin moves (the I2C bus's timing checks) --- */

static const struct sim_i2c_rule_stats *rule(enum sim_i2c_rule r)
{
    return &sim_i2c_bus_timing(bus)->rules[r];
}

Test(mpsse, pyftdi_100khz_clocking_holds_scl_high_3333_ns_which_breaks_standard_mode)
{
    /* pyftdi's I2cController at 100 kHz: divide-by-5 on, divisor 0x27, 3-phase */
    SEND(0x8B, 0x86, 0x27, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x80, 0x01, 0x03, 0x80, 0x00, 0x03);       /* START */
    SEND(0x11, 0x00, 0x00, 0x11, 0x80, 0x02, 0x03); /* address byte, release SDA */
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 3333);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->violations, 8);
    cr_assert_eq(rule(SIM_I2C_T_LOW)->shortest_ns, 3833, "one pin write + a third of a bit");
    cr_assert_eq(rule(SIM_I2C_T_LOW)->violations, 1, "only next to the START");
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->violations, 0, "3-phase holds data a third");
}

Test(mpsse, a_3_phase_bit_is_high_a_third_and_low_two_thirds_of_its_period)
{
    /* 60 MHz, divisor 239: a 12 us bit */
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x02, 0x03); /* SCL low 5 us before the first bit */
    SEND(0x11, 0x01, 0x00, 0x55, 0xAA);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 4000);
    cr_assert_eq(rule(SIM_I2C_T_LOW)->shortest_ns, 8000);
    cr_assert_eq(rule(SIM_I2C_T_SU_DAT)->shortest_ns, 4000);
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->shortest_ns, 4000);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        cr_assert_eq(rule(r)->violations, 0, "%s", sim_i2c_rule_name(r));
}

Test(mpsse, without_3_phase_data_changes_as_scl_falls_and_breaks_the_data_hold)
{
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8D, 0x9E, 0x07, 0x00, 0x80, 0x02, 0x03);
    SEND(0x11, 0x00, 0x00, 0x55);
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->shortest_ns, 0);
    cr_assert_gt(rule(SIM_I2C_T_HD_DAT)->violations, 0);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 4000, "high and low half an 8 us bit");
}

Test(mpsse, pin_writes_move_the_pins_half_a_microsecond_apart)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x80, 0x01, 0x03, 0x80, 0x01, 0x03, 0x80, 0x01, 0x03, 0x80, 0x00, 0x03); /* START */
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->shortest_ns, 1500, "3 writes of 0.5 us");
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->violations, 1);
}

Test(mpsse, a_transfer_arriving_later_finds_the_bus_idle_since_the_last_command)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03, 0x80, 0x01, 0x03);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), 1000);
    sim_mpsse_advance_to(mpsse, 500); /* the bus is ahead of it: no change */
    cr_assert_eq(sim_mpsse_now_ns(mpsse), 1000);
    sim_mpsse_advance_to(mpsse, 2000000);
    SEND(0x80, 0x00, 0x03); /* SCL falls 2 ms after the START */
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->shortest_ns, 2000000 - 500);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 1500, "idle time is not bus time");
}

/* The bus time is CLOCK_MONOTONIC, which on a machine up for days is far beyond 2^64 / 10^9
 * units (153.7 s): converting it to ns must not overflow, or the stamps wrap every 153.7 s and
 * the bus, which never goes back in time, measures 0 ns intervals until they catch up. */
Test(mpsse, bus_time_stays_exact_after_days_of_uptime)
{
    const uint64_t days = 3ull * 86400 * 1000000000;
    sim_mpsse_advance_to(mpsse, days);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), days);
    SEND(0x8A, 0x80, 0x03, 0x03);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), days + 500);
}

/* A compliant 12 us-bit transaction from a given bus time: every interval as long as at time 0. */
static void compliant_transaction_at(uint64_t start_ns)
{
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    sim_mpsse_advance_to(mpsse, start_ns);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* START, held 5 us */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
    SEND(0x11, 0x00, 0x00, 0x11, 0x80, 0x02, 0x03, 0x22, 0x00); /* address, ACK bit */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* SCL high, SDA low: set-up of the STOP */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x03, 0x03); /* STOP, then the bus free */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* the next START */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
}

Test(mpsse, a_compliant_transaction_across_153_7_s_of_bus_time_measures_no_violation)
{
    /* 2^64 / 10^9 units of 1/120 MHz: where units * 10^9 used to wrap */
    const uint64_t wrap_ns = 18446744074ull * 1000 / 120;
    for (uint64_t before = 0; before <= 200000; before += 500) {
        mpsse_teardown(); /* a fresh engine and bus for each start time */
        mpsse_setup();
        sim_i2c_bus_set_timing(bus, SIM_I2C_STANDARD, true);
        compliant_transaction_at(wrap_ns * 2 - before);
        cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2);
        for (int r = 0; r < SIM_I2C_RULES; r++)
            cr_assert_eq(rule(r)->violations, 0, "%s: %" PRIu64 " ns, %" PRIu64 " ns before",
                         sim_i2c_rule_name(r), rule(r)->shortest_ns, before);
        cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 0);
    }
}
