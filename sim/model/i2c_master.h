/* A bit-level I2C master on the simulated open-drain bus: the controller inside the i2c-dev
 * engine (i2cdev.h) and inside the CP2112 (cp2112.h). It clocks one transaction of messages onto
 * the bus, bit by bit: START, address, ACK, data, the master's NACK after the last byte read, a
 * repeated START between messages, STOP. Each pin change is stamped with the master's virtual
 * bus clock (standard mode: SCL low 5 us, high 5 us; fast mode: low 1.4 us, high 1.1 us; set-up
 * and hold of START, STOP and data, and the bus free time, above UM10204's minima), so the slave
 * models, their faults and the timing checks see what a real controller would do.
 *
 * It tells apart what can happen on the wire, and leaves the errno (or the chip's status code)
 * to its user, since each controller reports them its own way:
 *   - the bus is not free at the START (SDA or SCL held low): nothing is driven;
 *   - arbitration lost (a 1 sent that reads 0, or SDA low at a repeated START): it lets go of both
 *     lines, as a controller that lost the bus does;
 *   - SCL held low while clocking (a slave stretching for ever): it lets go;
 *   - the address or a data byte written not acknowledged: STOP, the later messages not sent;
 *   - I2C_M_RECV_LEN with a count of 0 or above 32: NACK, STOP.
 * There is no bus recovery: a stuck SDA stays stuck until the slave lets go.
 *
 * A master without an arbitration check (no_arbitration: i2c-bcm2835's controller, which has
 * none) makes no such checks on SDA: it STARTs on a busy bus and reads back nothing it sends, so
 * with SDA held low every address byte looks acknowledged and every byte read is 0x00. It still
 * waits for SCL (a clock held low is SCL_LOW). */
#ifndef SIM_I2C_MASTER_H
#define SIM_I2C_MASTER_H

#include <stdbool.h>
#include <stdint.h>

#include "model/i2c_bus.h"

/* The master's clock, in ns: each interval above UM10204's minimum for the mode. */
struct sim_i2c_master_timing {
    uint64_t hold;  /* SCL fall -> SDA change (tHD;DAT >= 300) */
    uint64_t setup; /* SDA change -> SCL rise (tSU;DAT; hold + setup = tLOW) */
    uint64_t high;  /* tHIGH */
    uint64_t su_sta, hd_sta, su_sto, buf;
};

const struct sim_i2c_master_timing *sim_i2c_master_timing(enum sim_i2c_mode mode);

/* One message, as the kernel's struct i2c_msg: flags I2C_M_RD and I2C_M_RECV_LEN (linux/i2c.h).
 * With I2C_M_RECV_LEN, len grows by the count the first byte read announces. */
struct sim_i2c_msg {
    uint16_t addr, flags, len;
    uint8_t *buf;
};

enum sim_i2c_outcome {
    SIM_I2C_OK = 0,
    SIM_I2C_BUS_BUSY,  /* SDA held low when the START was due: nothing driven */
    SIM_I2C_SCL_LOW,   /* SCL held low: at the START (nothing driven) or while clocking */
    SIM_I2C_ARB_LOST,  /* a 1 sent read back 0, or SDA low at a repeated START */
    SIM_I2C_ADDR_NACK, /* the address byte of msgs[msg] not acknowledged */
    SIM_I2C_DATA_NACK, /* a data byte written not acknowledged */
    SIM_I2C_BAD_COUNT, /* I2C_M_RECV_LEN: a count of 0 or above 32 */
};

struct sim_i2c_result {
    enum sim_i2c_outcome outcome;
    unsigned msg;  /* the message it ended in (n when every one went) */
    unsigned done; /* bytes of that message transferred: written and acknowledged, or read */
    bool started;  /* a START was made (false: the bus was not free, nothing driven) */
};

struct sim_i2c_master_stats {
    uint64_t transactions; /* START..STOP attempts (a bus found busy included) */
    uint64_t messages;     /* messages addressed on the bus (one address byte each) */
    uint64_t nacks;        /* address and write-data NACKs */
    uint64_t bus_errors;   /* bus busy, SCL held low, arbitration lost */
    uint64_t scl_periods;  /* SCL clock pulses (bits, ACKs included) */
    uint64_t bus_time_ns;  /* virtual time the transactions took on the bus */
};

struct sim_i2c_master {
    struct sim_i2c_bus *bus; /* not owned */
    const struct sim_i2c_master_timing *t;
    uint64_t bus_ns;     /* the time of the master's last change */
    bool no_arbitration; /* see above; false after sim_i2c_master_init */
    struct sim_i2c_master_stats stats;
};

void sim_i2c_master_init(struct sim_i2c_master *m, struct sim_i2c_bus *bus, enum sim_i2c_mode mode);

/* One START .. STOP with every message, from the last change + tBUF or now_ns, whichever is
 * later. Fills *res; m->bus_ns is the time of the master's last change afterwards. */
void sim_i2c_master_xfer(struct sim_i2c_master *m, struct sim_i2c_msg *msgs, unsigned n,
                         uint64_t now_ns, struct sim_i2c_result *res);

#endif
