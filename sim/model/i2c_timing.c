/* UM10204 timing rules: see i2c_timing.h for the contract. */
#include "model/i2c_timing.h"

#include <errno.h>
#include <string.h>

/* UM10204 rev. 7, table 10, minimum values in ns; tHD;DAT per the header comment. */
static const uint64_t MINIMUM_NS[2][SIM_I2C_RULES] = {
    [SIM_I2C_STANDARD] = {4000, 4700, 4700, 4000, 4000, 4700, 250, 300},
    [SIM_I2C_FAST] = {600, 1300, 600, 600, 600, 1300, 100, 300},
};

static const char *const KEYS[SIM_I2C_RULES] = {"t_high",   "t_low", "t_su_sta", "t_hd_sta",
                                                "t_su_sto", "t_buf", "t_su_dat", "t_hd_dat"};
static const char *const NAMES[SIM_I2C_RULES] = {"tHIGH",   "tLOW", "tSU;STA", "tHD;STA",
                                                 "tSU;STO", "tBUF", "tSU;DAT", "tHD;DAT"};

const char *sim_i2c_rule_key(enum sim_i2c_rule rule)
{
    return rule < SIM_I2C_RULES ? KEYS[rule] : "?";
}

const char *sim_i2c_rule_name(enum sim_i2c_rule rule)
{
    return rule < SIM_I2C_RULES ? NAMES[rule] : "?";
}

const char *sim_i2c_mode_name(enum sim_i2c_mode mode)
{
    return mode == SIM_I2C_FAST ? "fast" : "standard";
}

int sim_i2c_mode_parse(const char *text, enum sim_i2c_mode *mode)
{
    if (strcmp(text, "standard") == 0)
        *mode = SIM_I2C_STANDARD;
    else if (strcmp(text, "fast") == 0)
        *mode = SIM_I2C_FAST;
    else
        return -EINVAL;
    return 0;
}

uint64_t sim_i2c_rule_min_ns(enum sim_i2c_mode mode, enum sim_i2c_rule rule)
{
    return MINIMUM_NS[mode == SIM_I2C_FAST][rule];
}

void sim_i2c_timing_init(struct sim_i2c_timing *t, enum sim_i2c_mode mode)
{
    memset(t, 0, sizeof(*t));
    t->mode = mode;
    for (int r = 0; r < SIM_I2C_RULES; r++)
        t->rules[r].shortest_ns = UINT64_MAX;
}

/* Measures one interval; returns the rule's bit when it is too short. */
static unsigned check(struct sim_i2c_timing *t, enum sim_i2c_rule rule, uint64_t from, uint64_t to)
{
    struct sim_i2c_rule_stats *s = &t->rules[rule];
    uint64_t ns = to > from ? to - from : 0;
    if (t->quiet)
        return 0;
    s->checks++;
    if (ns < s->shortest_ns)
        s->shortest_ns = ns;
    if (ns >= sim_i2c_rule_min_ns(t->mode, rule))
        return 0;
    if (s->violations++ == 0)
        s->first_bad_ns = ns;
    return 1u << rule;
}

unsigned sim_i2c_timing_scl(struct sim_i2c_timing *t, uint64_t now, bool high)
{
    unsigned bad = 0;
    if (high) {
        if (t->seen_scl_fall)
            bad |= check(t, SIM_I2C_T_LOW, t->scl_fall, now);
        /* Set-up of the bit this edge clocks in: SDA's last change while SCL was low. */
        if (t->seen_sda_change && t->seen_scl_fall && t->sda_change >= t->scl_fall)
            bad |= check(t, SIM_I2C_T_SU_DAT, t->sda_change, now);
        t->scl_rise = now;
        t->seen_scl_rise = true;
        t->start_this_high = false;
    } else {
        if (t->seen_scl_rise)
            bad |= check(t, SIM_I2C_T_HIGH, t->scl_rise, now);
        if (t->start_this_high)
            bad |= check(t, SIM_I2C_T_HD_STA, t->start, now);
        t->scl_fall = now;
        t->seen_scl_fall = true;
    }
    return bad;
}

unsigned sim_i2c_timing_sda(struct sim_i2c_timing *t, uint64_t now, bool high, bool scl_high,
                            bool by_master)
{
    unsigned bad = 0;
    if (scl_high && !high) { /* START */
        if (t->seen_scl_rise)
            bad |= check(t, SIM_I2C_T_SU_STA, t->scl_rise, now);
        if (t->stop_last)
            bad |= check(t, SIM_I2C_T_BUF, t->stop, now);
        t->start = now;
        t->seen_start = t->start_this_high = true;
        t->stop_last = false;
    } else if (scl_high) { /* STOP */
        if (t->seen_scl_rise)
            bad |= check(t, SIM_I2C_T_SU_STO, t->scl_rise, now);
        t->stop = now;
        t->seen_stop = t->stop_last = true;
    } else if (by_master && t->seen_scl_fall) {
        bad |= check(t, SIM_I2C_T_HD_DAT, t->scl_fall, now);
    }
    t->sda_change = now;
    t->seen_sda_change = true;
    return bad;
}
