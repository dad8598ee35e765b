/* UM10204 timing rules: each rule fires on an interval 1 ns short of its minimum and not at the
 * minimum itself, in standard and fast mode; counters and names. */
#include <criterion/criterion.h>
#include <errno.h>

#include "model/i2c_timing.h"

#define BIT(rule) (1u << (rule))

static struct sim_i2c_timing t;

static void standard(void)
{
    sim_i2c_timing_init(&t, SIM_I2C_STANDARD);
}

TestSuite(i2c_timing, .init = standard);

/* Helpers: SCL edges and SDA changes at absolute times (ns). */
static unsigned scl(uint64_t at, bool high)
{
    return sim_i2c_timing_scl(&t, at, high);
}

static unsigned sda(uint64_t at, bool high, bool scl_high, bool by_master)
{
    return sim_i2c_timing_sda(&t, at, high, scl_high, by_master);
}

Test(i2c_timing, scl_high_shorter_than_4_us_breaks_t_high)
{
    scl(0, true);
    cr_assert_eq(scl(3999, false), BIT(SIM_I2C_T_HIGH));
    scl(20000, true);
    cr_assert_eq(scl(24000, false), 0, "exactly the minimum is fine");
    cr_assert_eq(t.rules[SIM_I2C_T_HIGH].checks, 2);
    cr_assert_eq(t.rules[SIM_I2C_T_HIGH].violations, 1);
    cr_assert_eq(t.rules[SIM_I2C_T_HIGH].shortest_ns, 3999);
    cr_assert_eq(t.rules[SIM_I2C_T_HIGH].first_bad_ns, 3999);
}

Test(i2c_timing, scl_low_shorter_than_4_7_us_breaks_t_low)
{
    scl(0, false);
    cr_assert_eq(scl(4699, true), BIT(SIM_I2C_T_LOW));
    scl(10000, false);
    cr_assert_eq(scl(14700, true), 0);
}

Test(i2c_timing, a_repeated_start_too_soon_after_scl_rises_breaks_t_su_sta)
{
    scl(0, true);
    cr_assert_eq(sda(4699, false, true, true), BIT(SIM_I2C_T_SU_STA));
    sda(5000, true, true, true); /* STOP: far from the rise, fine */
    scl(10000, false);
    scl(20000, true);
    sda(21000, false, false, true);
    scl(30000, false);
    scl(40000, true);
    cr_assert_eq(sda(44700, false, true, true), 0);
}

Test(i2c_timing, scl_falling_too_soon_after_a_start_breaks_t_hd_sta)
{
    scl(0, true);
    sda(10000, false, true, true);
    cr_assert_eq(scl(13999, false), BIT(SIM_I2C_T_HD_STA));
    scl(30000, true);
    sda(40000, false, true, true);
    cr_assert_eq(scl(44000, false), 0);
}

Test(i2c_timing, a_stop_too_soon_after_scl_rises_breaks_t_su_sto)
{
    scl(0, false);
    sda(1000, false, false, true);
    scl(10000, true);
    cr_assert_eq(sda(13999, true, true, true), BIT(SIM_I2C_T_SU_STO));
    scl(20000, false);
    sda(21000, false, false, true);
    scl(30000, true);
    cr_assert_eq(sda(34000, true, true, true), 0);
}

Test(i2c_timing, a_start_too_soon_after_a_stop_breaks_t_buf_but_a_first_start_does_not)
{
    scl(0, true);
    cr_assert_eq(sda(100000, false, true, true), 0, "no STOP before: no bus free time to keep");
    scl(110000, false);
    scl(120000, true);
    sda(130000, true, true, true); /* STOP */
    cr_assert_eq(sda(134699, false, true, true), BIT(SIM_I2C_T_BUF));
    scl(140000, false);
    scl(150000, true);
    sda(160000, true, true, true);
    cr_assert_eq(sda(164700, false, true, true), 0);
}

Test(i2c_timing, data_changing_too_close_to_the_rising_edge_breaks_t_su_dat)
{
    scl(0, false);
    sda(5000, true, false, true);
    cr_assert_eq(scl(5249, true), BIT(SIM_I2C_T_SU_DAT));
    scl(10000, false);
    sda(15000, false, false, false); /* a slave's change counts for set-up too */
    cr_assert_eq(scl(15250, true), 0);
    cr_assert_eq(t.rules[SIM_I2C_T_SU_DAT].violations, 1);
}

Test(i2c_timing, the_master_changing_data_within_300_ns_of_scl_falling_breaks_t_hd_dat)
{
    scl(0, true);
    scl(5000, false);
    cr_assert_eq(sda(5299, true, false, true), BIT(SIM_I2C_T_HD_DAT));
    scl(20000, true);
    scl(25000, false);
    cr_assert_eq(sda(25000, false, false, false), 0, "slaves are not checked");
    scl(40000, true);
    scl(45000, false);
    cr_assert_eq(sda(45300, true, false, true), 0);
}

Test(i2c_timing, fast_mode_has_its_own_minima)
{
    sim_i2c_timing_init(&t, SIM_I2C_FAST);
    scl(0, true);
    cr_assert_eq(scl(599, false), BIT(SIM_I2C_T_HIGH));
    cr_assert_eq(scl(1898, true), BIT(SIM_I2C_T_LOW));
    cr_assert_eq(scl(2498, false), 0, "600 ns high is fast mode's minimum");
    cr_assert_eq(sim_i2c_rule_min_ns(SIM_I2C_FAST, SIM_I2C_T_BUF), 1300);
    cr_assert_eq(sim_i2c_rule_min_ns(SIM_I2C_STANDARD, SIM_I2C_T_BUF), 4700);
}

Test(i2c_timing, modes_and_rules_have_names)
{
    enum sim_i2c_mode m;
    cr_assert_eq(sim_i2c_mode_parse("fast", &m), 0);
    cr_assert_eq(m, SIM_I2C_FAST);
    cr_assert_eq(sim_i2c_mode_parse("standard", &m), 0);
    cr_assert_eq(m, SIM_I2C_STANDARD);
    cr_assert_eq(sim_i2c_mode_parse("turbo", &m), -EINVAL);
    cr_assert_str_eq(sim_i2c_rule_key(SIM_I2C_T_HD_STA), "t_hd_sta");
    cr_assert_str_eq(sim_i2c_rule_name(SIM_I2C_T_HD_STA), "tHD;STA");
    cr_assert_str_eq(sim_i2c_mode_name(SIM_I2C_FAST), "fast");
}
