/* I2C timing rules of UM10204 (table 10), checked on the edges of an I2C bus.
 *
 * Pure: fed the time-stamped line changes of one bus (SCL edges, SDA changes, and whether the
 * master made an SDA change), it measures every interval the specification bounds from below and
 * reports the rules each change violates. The bus model (i2c_bus.c) feeds it; the MPSSE engine
 * supplies the times (clocked bits and pin writes, see mpsse.c).
 *
 * Data hold (tHD;DAT). UM10204 lets a transmitter change SDA right as SCL falls (minimum 0), but
 * only because every receiver must bridge the undefined region of SCL's falling edge with an
 * internal hold of at least 300 ns (note 3 of table 10). A master changing SDA within those
 * 300 ns is betting on that bridge: a marginal slave sees SDA move while SCL still looks high
 * (a false START or STOP). The checker counts a master SDA change less than 300 ns (both modes)
 * after its own SCL fall; MPSSE masters meet it with 3-phase clocking. Slave changes are not
 * checked (the simulated slaves are ideal). */
#ifndef SIM_I2C_TIMING_H
#define SIM_I2C_TIMING_H

#include <stdbool.h>
#include <stdint.h>

enum sim_i2c_mode {
    SIM_I2C_STANDARD = 0, /* up to 100 kHz */
    SIM_I2C_FAST,         /* up to 400 kHz */
};

enum sim_i2c_rule {
    SIM_I2C_T_HIGH = 0, /* SCL high */
    SIM_I2C_T_LOW,      /* SCL low */
    SIM_I2C_T_SU_STA,   /* SCL rise -> (repeated) START */
    SIM_I2C_T_HD_STA,   /* START -> SCL fall */
    SIM_I2C_T_SU_STO,   /* SCL rise -> STOP */
    SIM_I2C_T_BUF,      /* STOP -> next START */
    SIM_I2C_T_SU_DAT,   /* SDA change -> SCL rise */
    SIM_I2C_T_HD_DAT,   /* SCL fall -> master's SDA change (see above) */
    SIM_I2C_RULES
};

/* Names as they appear in --stats ("t_high" ...) and in log lines ("tHIGH" ...). */
const char *sim_i2c_rule_key(enum sim_i2c_rule rule);
const char *sim_i2c_rule_name(enum sim_i2c_rule rule);
const char *sim_i2c_mode_name(enum sim_i2c_mode mode);
/* Parses "standard" / "fast"; 0 or -EINVAL. */
int sim_i2c_mode_parse(const char *text, enum sim_i2c_mode *mode);
/* The minimum of a rule in a mode, in ns. */
uint64_t sim_i2c_rule_min_ns(enum sim_i2c_mode mode, enum sim_i2c_rule rule);

struct sim_i2c_rule_stats {
    uint64_t checks;       /* intervals measured */
    uint64_t violations;   /* of which shorter than the minimum */
    uint64_t shortest_ns;  /* the shortest measured; UINT64_MAX before the first */
    uint64_t first_bad_ns; /* the first violation's measured interval */
};

struct sim_i2c_timing {
    enum sim_i2c_mode mode;
    struct sim_i2c_rule_stats rules[SIM_I2C_RULES];
    /* last events; a time is only used once its flag says it happened */
    uint64_t scl_rise, scl_fall, sda_change, start, stop;
    bool seen_scl_rise, seen_scl_fall, seen_sda_change, seen_start, seen_stop;
    bool start_this_high; /* a START happened since SCL last rose */
    bool stop_last;       /* the last condition was a STOP: the next START ends a bus free time */
    /* Changes a device makes on its own (a fault switched on between two host transfers) are
     * not the master's timing: while quiet, events are recorded but nothing is measured. */
    bool quiet;
};

void sim_i2c_timing_init(struct sim_i2c_timing *t, enum sim_i2c_mode mode);

/* Each returns a bit mask (1u << rule) of the rules the change violates. */
unsigned sim_i2c_timing_scl(struct sim_i2c_timing *t, uint64_t now_ns, bool high);
/* An SDA change. scl_high: a START (falling SDA) or STOP (rising); by_master: the master's own
 * drive changed it (only those are checked for tHD;DAT). */
unsigned sim_i2c_timing_sda(struct sim_i2c_timing *t, uint64_t now_ns, bool high, bool scl_high,
                            bool by_master);

#endif
