/* The i2c-dev engine's controller (see i2cdev.h for the contract): clocks one transaction of
 * messages onto the open-drain bus, bit by bit, with the master's timing for its mode, and tells
 * arbitration loss, a clock held low and NACKs apart. The requests and the core's retries are
 * i2cdev.c's. */
#include "model/i2cdev_state.h"

#include <errno.h>
#include <linux/i2c.h>

static const struct master_timing timing_standard = {
    .hold = 2500,
    .setup = 2500,
    .high = 5000, /* 100 kHz: tLOW 5.0 >= 4.7, tHIGH 5.0 >= 4.0 */
    .su_sta = 5000,
    .hd_sta = 5000,
    .su_sto = 5000,
    .buf = 5000};
static const struct master_timing timing_fast = {
    .hold = 700,
    .setup = 700,
    .high = 1100, /* 400 kHz: tLOW 1.4 >= 1.3, tHIGH 1.1 >= 0.6 */
    .su_sta = 700,
    .hd_sta = 700,
    .su_sto = 700,
    .buf = 1400};

const struct master_timing *sim_i2cdev_master_timing(enum sim_i2c_mode mode)
{
    return mode == SIM_I2C_FAST ? &timing_fast : &timing_standard;
}

struct xfer {
    struct sim_i2cdev *dev;
    uint64_t now;
    enum sim_drive scl, sda;
};

static void drive(struct xfer *x, uint64_t after_ns, enum sim_drive scl, enum sim_drive sda)
{
    x->now += after_ns;
    x->scl = scl;
    x->sda = sda;
    sim_i2c_bus_set_time(x->dev->bus, x->now);
    sim_i2c_bus_set_master(x->dev->bus, scl, sda);
}

/* Releases SCL after `after` ns; a slave holding it low for ever is the controller's timeout. */
static int scl_rise(struct xfer *x, uint64_t after_ns)
{
    drive(x, after_ns, SIM_DRIVE_FLOAT, x->sda);
    return sim_i2c_bus_scl_level(x->dev->bus) ? 0 : -ETIMEDOUT;
}

/* Lets go of both lines, as a controller that lost the bus does. */
static void let_go(struct xfer *x)
{
    drive(x, x->dev->t->hold, SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
}

/* START from an idle bus. Errno choice: a controller that finds SDA low where its START should
 * pull it low has lost the bus to whoever holds it: arbitration lost, EAGAIN in
 * Documentation/i2c/fault-codes.rst (i2c-imx says so when its bus-busy wait sees arbitration
 * lost), and the one code the core retries (I2C_RETRIES). SCL low is no arbitration but a clock
 * held for ever: the controller's wait for it times out, ETIMEDOUT. */
static int xfer_start(struct xfer *x)
{
    struct sim_i2c_bus *bus = x->dev->bus;
    if (!sim_i2c_bus_scl_level(bus))
        return -ETIMEDOUT;
    if (!sim_i2c_bus_sda_level(bus))
        return -EAGAIN;
    drive(x, 0, SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(x, x->dev->t->hd_sta, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    return 0;
}

/* Repeated START, SCL low on entry. */
static int xfer_restart(struct xfer *x)
{
    const struct master_timing *t = x->dev->t;
    drive(x, t->hold, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    int rc = scl_rise(x, t->setup);
    if (rc < 0)
        return rc;
    if (!sim_i2c_bus_sda_level(x->dev->bus))
        return -EAGAIN;
    drive(x, t->su_sta, SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(x, t->hd_sta, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    return 0;
}

/* STOP, SCL low on entry. A slave still holding SDA (a quick read answered with a 0 bit) makes
 * it fail silently, as it does on real controllers: the next START finds the bus busy. */
static void xfer_stop(struct xfer *x)
{
    const struct master_timing *t = x->dev->t;
    drive(x, t->hold, SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    if (scl_rise(x, t->setup) == 0)
        drive(x, t->su_sto, SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
    else
        let_go(x);
}

/* One clock with SDA driven (bit 0) or released (1). Returns the level read while SCL was
 * high (0/1) or -errno; check: a released SDA that reads low is arbitration lost. */
static int xfer_bit(struct xfer *x, bool bit, bool check)
{
    const struct master_timing *t = x->dev->t;
    drive(x, t->hold, SIM_DRIVE_LOW, bit ? SIM_DRIVE_FLOAT : SIM_DRIVE_LOW);
    int rc = scl_rise(x, t->setup);
    if (rc < 0)
        return rc;
    bool level = sim_i2c_bus_sda_level(x->dev->bus);
    drive(x, t->high, SIM_DRIVE_LOW, x->sda);
    x->dev->stats.scl_periods++;
    if (check && bit && !level)
        return -EAGAIN;
    return level;
}

/* Sends a byte. Returns 1 when acknowledged, 0 on NACK, or -errno. */
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
static int xfer_read_msg(struct xfer *x, struct kmsg *m)
{
    for (unsigned i = 0; i < m->len; i++) {
        int byte = xfer_read_bits(x);
        if (byte < 0)
            return byte;
        m->buf[i] = (uint8_t)byte;
        if (i == 0 && (m->flags & I2C_M_RECV_LEN)) {
            if (byte == 0 || byte > I2C_SMBUS_BLOCK_MAX) {
                int rc = xfer_ack(x, false);
                return rc < 0 ? rc : -EPROTO;
            }
            m->len = (uint16_t)(m->len + byte);
        }
        int rc = xfer_ack(x, i + 1 < m->len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Sends one message after its (repeated) START. Returns 0 or -errno (a NACK included). */
static int xfer_msg(struct xfer *x, struct kmsg *m)
{
    struct sim_i2cdev *dev = x->dev;
    dev->stats.messages++;
    int ack = xfer_write_byte(x, (uint8_t)(m->addr << 1 | (m->flags & I2C_M_RD ? 1 : 0)));
    if (ack < 0)
        return ack;
    if (!ack) {
        dev->stats.nacks++;
        return -dev->cfg.nack_errno;
    }
    if (m->flags & I2C_M_RD)
        return xfer_read_msg(x, m);
    for (unsigned i = 0; i < m->len; i++) {
        ack = xfer_write_byte(x, m->buf[i]);
        if (ack < 0)
            return ack;
        if (!ack) {
            dev->stats.nacks++;
            return dev->cfg.nack_errno == ENXIO ? -EIO : -dev->cfg.nack_errno;
        }
    }
    return 0;
}

int sim_i2cdev_master_xfer(struct sim_i2cdev *dev, struct kmsg *msgs, unsigned n, uint64_t now_ns)
{
    struct xfer x = {.dev = dev, .now = dev->bus_ns + dev->t->buf};
    if (x.now < now_ns)
        x.now = now_ns;
    const uint64_t began = x.now;
    dev->stats.transactions++;
    int rc = xfer_start(&x);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = xfer_restart(&x);
        if (rc == 0)
            rc = xfer_msg(&x, &msgs[i]);
    }
    if (rc == -EAGAIN || rc == -ETIMEDOUT) {
        dev->stats.bus_errors++;
        if (x.now != began)
            let_go(&x);
    } else {
        xfer_stop(&x);
    }
    dev->bus_ns = x.now;
    dev->stats.bus_time_ns += x.now - began;
    return rc < 0 ? rc : (int)n;
}
