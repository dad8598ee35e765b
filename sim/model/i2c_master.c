/* The bit-level I2C master (see i2c_master.h for the contract): clocks one transaction of
 * messages onto the open-drain bus with the master's timing for its mode, and tells arbitration
 * loss, a bus found busy, a clock held low and NACKs apart. What they mean to a client (an errno,
 * a chip's status) is its user's business: i2cdev.c, cp2112.c. */
#include "model/i2c_master.h"

#include <linux/i2c.h>

static const struct sim_i2c_master_timing timing_standard = {
    .hold = 2500,
    .setup = 2500,
    .high = 5000, /* 100 kHz: tLOW 5.0 >= 4.7, tHIGH 5.0 >= 4.0 */
    .su_sta = 5000,
    .hd_sta = 5000,
    .su_sto = 5000,
    .buf = 5000};
static const struct sim_i2c_master_timing timing_fast = {
    .hold = 700,
    .setup = 700,
    .high = 1100, /* 400 kHz: tLOW 1.4 >= 1.3, tHIGH 1.1 >= 0.6 */
    .su_sta = 700,
    .hd_sta = 700,
    .su_sto = 700,
    .buf = 1400};

const struct sim_i2c_master_timing *sim_i2c_master_timing(enum sim_i2c_mode mode)
{
    return mode == SIM_I2C_FAST ? &timing_fast : &timing_standard;
}

void sim_i2c_master_init(struct sim_i2c_master *m, struct sim_i2c_bus *bus, enum sim_i2c_mode mode)
{
    *m = (struct sim_i2c_master){.bus = bus, .t = sim_i2c_master_timing(mode)};
}

/* The steps below return 0 (or a level / a byte, >= 0) or -outcome. */
#define FAIL(outcome) (-(int)(outcome))

struct xfer {
    struct sim_i2c_master *m;
    uint64_t now;
    enum sim_drive scl, sda;
    unsigned done; /* bytes of the current message */
};

static void drive(struct xfer *x, uint64_t after_ns, enum sim_drive scl, enum sim_drive sda)
{
    x->now += after_ns;
    x->scl = scl;
    x->sda = sda;
    sim_i2c_bus_set_time(x->m->bus, x->now);
    sim_i2c_bus_set_master(x->m->bus, scl, sda);
}

/* Releases SCL after `after` ns; a slave holding it low for ever is SCL_LOW. */
static int scl_rise(struct xfer *x, uint64_t after_ns)
{
    drive(x, after_ns, SIM_DRIVE_FLOAT, x->sda);
    return sim_i2c_bus_scl_level(x->m->bus) ? 0 : FAIL(SIM_I2C_SCL_LOW);
}

/* Lets go of both lines, as a controller that lost the bus does. */
static void let_go(struct xfer *x)
{
    drive(x, x->m->t->hold, SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
}

/* START from an idle bus: a line already low means the bus is not free, and nothing is driven. */
static int xfer_start(struct xfer *x)
{
    struct sim_i2c_bus *bus = x->m->bus;
    if (!sim_i2c_bus_scl_level(bus))
        return FAIL(SIM_I2C_SCL_LOW);
    if (!sim_i2c_bus_sda_level(bus) && !x->m->no_arbitration)
        return FAIL(SIM_I2C_BUS_BUSY);
    drive(x, 0, SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(x, x->m->t->hd_sta, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    return 0;
}

/* Repeated START, SCL low on entry: SDA held low by someone when it should rise has taken the
 * bus from us. */
static int xfer_restart(struct xfer *x)
{
    const struct sim_i2c_master_timing *t = x->m->t;
    drive(x, t->hold, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    int rc = scl_rise(x, t->setup);
    if (rc < 0)
        return rc;
    if (!sim_i2c_bus_sda_level(x->m->bus) && !x->m->no_arbitration)
        return FAIL(SIM_I2C_ARB_LOST);
    drive(x, t->su_sta, SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(x, t->hd_sta, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    return 0;
}

/* STOP, SCL low on entry. A slave still holding SDA (a quick read answered with a 0 bit) makes
 * it fail silently, as it does on real controllers: the next START finds the bus busy. */
static void xfer_stop(struct xfer *x)
{
    const struct sim_i2c_master_timing *t = x->m->t;
    drive(x, t->hold, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    if (scl_rise(x, t->setup) == 0)
        drive(x, t->su_sto, SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
    else
        let_go(x);
}

/* One clock with SDA driven (bit 0) or released (1). Returns the level read while SCL was
 * high (0/1) or -outcome; check: a released SDA that reads low is arbitration lost. */
static int xfer_bit(struct xfer *x, bool bit, bool check)
{
    const struct sim_i2c_master_timing *t = x->m->t;
    drive(x, t->hold, SIM_DRIVE_LOW, bit ? SIM_DRIVE_FLOAT : SIM_DRIVE_LOW);
    int rc = scl_rise(x, t->setup);
    if (rc < 0)
        return rc;
    bool level = sim_i2c_bus_sda_level(x->m->bus);
    drive(x, t->high, SIM_DRIVE_LOW, x->sda);
    x->m->stats.scl_periods++;
    if (check && bit && !level && !x->m->no_arbitration)
        return FAIL(SIM_I2C_ARB_LOST);
    return level;
}

/* Sends a byte. Returns 1 when acknowledged, 0 on NACK, or -outcome. */
static int xfer_write_byte(struct xfer *x, uint8_t byte)
{
    for (int i = 7; i >= 0; i--) {
        int rc = xfer_bit(x, (byte >> i) & 1, true);
        if (rc < 0)
            return rc;
    }
    int level = xfer_bit(x, true, false);
    return level < 0 ? level : !level;
}

/* Reads 8 bits (SDA released); the acknowledge is a separate xfer_bit. */
static int xfer_read_bits(struct xfer *x)
{
    int byte = 0;
    for (int i = 0; i < 8; i++) {
        int level = xfer_bit(x, true, false);
        if (level < 0)
            return level;
        byte = byte << 1 | level;
    }
    return byte;
}

static int xfer_ack(struct xfer *x, bool ack)
{
    int rc = xfer_bit(x, !ack, false);
    return rc < 0 ? rc : 0;
}

/* Reads a message's bytes; I2C_M_RECV_LEN grows it by the count its first byte announces. */
static int xfer_read_msg(struct xfer *x, struct sim_i2c_msg *msg)
{
    for (unsigned i = 0; i < msg->len; i++) {
        int byte = xfer_read_bits(x);
        if (byte < 0)
            return byte;
        msg->buf[i] = (uint8_t)byte;
        x->done = i + 1;
        if (i == 0 && (msg->flags & I2C_M_RECV_LEN)) {
            if (byte == 0 || byte > I2C_SMBUS_BLOCK_MAX) {
                int rc = xfer_ack(x, false);
                return rc < 0 ? rc : FAIL(SIM_I2C_BAD_COUNT);
            }
            msg->len = (uint16_t)(msg->len + byte);
        }
        int rc = xfer_ack(x, i + 1 < msg->len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Sends one message after its (repeated) START. Returns 0 or -outcome (a NACK included). */
static int xfer_msg(struct xfer *x, struct sim_i2c_msg *msg)
{
    struct sim_i2c_master *m = x->m;
    m->stats.messages++;
    int ack = xfer_write_byte(x, (uint8_t)(msg->addr << 1 | (msg->flags & I2C_M_RD ? 1 : 0)));
    if (ack < 0)
        return ack;
    if (!ack) {
        m->stats.nacks++;
        return FAIL(SIM_I2C_ADDR_NACK);
    }
    if (msg->flags & I2C_M_RD)
        return xfer_read_msg(x, msg);
    for (unsigned i = 0; i < msg->len; i++) {
        ack = xfer_write_byte(x, msg->buf[i]);
        if (ack < 0)
            return ack;
        if (!ack) {
            m->stats.nacks++;
            return FAIL(SIM_I2C_DATA_NACK);
        }
        x->done = i + 1;
    }
    return 0;
}

void sim_i2c_master_xfer(struct sim_i2c_master *m, struct sim_i2c_msg *msgs, unsigned n,
                         uint64_t now_ns, struct sim_i2c_result *res)
{
    struct xfer x = {.m = m, .now = m->bus_ns + m->t->buf};
    if (x.now < now_ns)
        x.now = now_ns;
    const uint64_t began = x.now;
    m->stats.transactions++;
    *res = (struct sim_i2c_result){0};
    int rc = xfer_start(&x);
    res->started = rc == 0;
    unsigned i = 0;
    for (; rc == 0 && i < n; i++) {
        x.done = 0;
        if (i > 0)
            rc = xfer_restart(&x);
        if (rc == 0)
            rc = xfer_msg(&x, &msgs[i]);
        if (rc < 0)
            break;
    }
    res->outcome = rc < 0 ? (enum sim_i2c_outcome) - rc : SIM_I2C_OK;
    res->msg = i;
    res->done = rc < 0 ? x.done : 0;
    switch (res->outcome) {
    case SIM_I2C_BUS_BUSY:
    case SIM_I2C_SCL_LOW:
    case SIM_I2C_ARB_LOST:
        m->stats.bus_errors++;
        if (x.now != began)
            let_go(&x);
        break;
    default:
        xfer_stop(&x);
        break;
    }
    m->bus_ns = x.now;
    m->stats.bus_time_ns += x.now - began;
}
