/* The i2c-dev front end's engine: see i2cdev.h for the contract.
 *
 * Layers, as in the kernel: request decoding and argument checks (i2cdev_*), the SMBus
 * emulation that turns an SMBus request into I2C messages (smbus_*), the core's transfer with
 * its retries on arbitration loss (transfer), and the controller that clocks one transaction
 * onto the bus (xfer_*, bit level). */
#include "model/i2cdev.h"

#include <errno.h>
#include <limits.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdlib.h>
#include <string.h>

#define FUNCS_I2C (I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL_ALL)
/* i2c-piix4's set: an SMBus host controller, no I2C level transfers */
#define FUNCS_SMBUS                                                                                \
    (I2C_FUNC_SMBUS_QUICK | I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA |                       \
     I2C_FUNC_SMBUS_WORD_DATA | I2C_FUNC_SMBUS_BLOCK_DATA)
#define SUPPORTED_MSG_FLAGS (I2C_M_RD | I2C_M_RECV_LEN)
#define MAX_MSGS            I2C_RDWR_IOCTL_MAX_MSGS

/* The master's clock, in ns: each interval above UM10204's minimum for the mode. */
struct master_timing {
    uint64_t hold;  /* SCL fall -> SDA change (tHD;DAT >= 300) */
    uint64_t setup; /* SDA change -> SCL rise (tSU;DAT; hold + setup = tLOW) */
    uint64_t high;  /* tHIGH */
    uint64_t su_sta, hd_sta, su_sto, buf;
};

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

struct sim_i2cdev {
    struct sim_i2c_bus *bus;
    struct sim_i2cdev_config cfg;
    const struct master_timing *t;
    uint64_t bus_ns; /* the time of the master's last change */
    unsigned long retries;
    unsigned long timeout_10ms;
    unsigned fail_count;
    int fail_errno;
    bool unplug_armed, unplug_fired;
    struct sim_i2cdev_stats stats;
};

/* A message as the kernel holds it: its own copy of the buffer (buf), and where the client's
 * data goes back (user, NULL for writes). */
struct kmsg {
    uint16_t addr, flags, len;
    uint8_t *buf;
    uint8_t *user;
};

struct sim_i2cdev *sim_i2cdev_new(struct sim_i2c_bus *bus, const struct sim_i2cdev_config *cfg)
{
    struct sim_i2cdev *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->bus = bus;
    dev->cfg = *cfg;
    if (!dev->cfg.nack_errno)
        dev->cfg.nack_errno = ENXIO;
    dev->t = cfg->mode == SIM_I2C_FAST ? &timing_fast : &timing_standard;
    sim_i2cdev_reset(dev);
    return dev;
}

void sim_i2cdev_free(struct sim_i2cdev *dev)
{
    free(dev);
}

void sim_i2cdev_reset(struct sim_i2cdev *dev)
{
    dev->retries = 0;
    dev->timeout_10ms = 100; /* HZ: the core's default adapter timeout, 1 s */
}

const struct sim_i2cdev_config *sim_i2cdev_config(const struct sim_i2cdev *dev)
{
    return &dev->cfg;
}

unsigned long sim_i2cdev_funcs(const struct sim_i2cdev *dev)
{
    return dev->cfg.funcs == SIM_I2CDEV_FUNCS_SMBUS ? FUNCS_SMBUS : FUNCS_I2C;
}

const struct sim_i2cdev_stats *sim_i2cdev_stats(const struct sim_i2cdev *dev)
{
    return &dev->stats;
}

void sim_i2cdev_fail_transfers(struct sim_i2cdev *dev, unsigned count, int err)
{
    dev->fail_count = count;
    dev->fail_errno = err;
}

void sim_i2cdev_arm_unplug(struct sim_i2cdev *dev)
{
    dev->unplug_armed = true;
}

bool sim_i2cdev_take_unplug(struct sim_i2cdev *dev)
{
    bool fired = dev->unplug_fired;
    dev->unplug_fired = false;
    return fired;
}

/* ---- the controller: one transaction, bit by bit ---------------------------------------- */

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

/* One START .. STOP with every message. Returns the number of messages or -errno. */
static int xfer_once(struct sim_i2cdev *dev, struct kmsg *msgs, unsigned n, uint64_t now_ns)
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

/* ---- the core: i2c_transfer --------------------------------------------------------------- */

/* An armed adapter fault decides the transfer before the bus: 0 = go on, else -errno. */
static int injected_fault(struct sim_i2cdev *dev)
{
    if (dev->unplug_armed) {
        dev->unplug_armed = false;
        dev->unplug_fired = true;
        dev->stats.injected++;
        return -ENODEV;
    }
    if (!dev->fail_count)
        return 0;
    dev->fail_count--;
    dev->stats.injected++;
    return -dev->fail_errno;
}

/* i2c_transfer(): messages already checked. Retries on arbitration loss as the core does. */
static int transfer(struct sim_i2cdev *dev, struct kmsg *msgs, unsigned n, uint64_t now_ns)
{
    int rc = injected_fault(dev);
    if (rc < 0)
        return rc;
    for (unsigned long attempt = 0;; attempt++) {
        rc = xfer_once(dev, msgs, n, now_ns);
        if (rc != -EAGAIN || attempt >= dev->retries)
            return rc;
    }
}

/* An I2C-level transfer (I2C_RDWR, read, write): SMBus-only adapters have none. */
static int i2c_transfer(struct sim_i2cdev *dev, struct kmsg *msgs, unsigned n, uint64_t now_ns)
{
    if (dev->cfg.funcs == SIM_I2CDEV_FUNCS_SMBUS)
        return -EOPNOTSUPP;
    for (unsigned i = 0; i < n; i++)
        if ((msgs[i].flags & ~SUPPORTED_MSG_FLAGS) || msgs[i].addr > 0x7F)
            return (msgs[i].flags & ~SUPPORTED_MSG_FLAGS) ? -EOPNOTSUPP : -EINVAL;
    return transfer(dev, msgs, n, now_ns);
}

/* ---- read() / write() ------------------------------------------------------------------- */

ssize_t sim_i2cdev_read(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client,
                        uint8_t *buf, size_t count, uint64_t now_ns)
{
    dev->stats.read_calls++;
    uint8_t tmp[SIM_I2CDEV_MAX_LEN];
    struct kmsg m = {.addr = client->addr,
                     .flags = I2C_M_RD,
                     .len = (uint16_t)(count > SIM_I2CDEV_MAX_LEN ? SIM_I2CDEV_MAX_LEN : count),
                     .buf = tmp};
    int rc = i2c_transfer(dev, &m, 1, now_ns);
    if (rc < 0)
        return rc;
    memcpy(buf, tmp, m.len);
    return m.len;
}

ssize_t sim_i2cdev_write(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client,
                         const uint8_t *buf, size_t count, uint64_t now_ns)
{
    dev->stats.write_calls++;
    uint8_t tmp[SIM_I2CDEV_MAX_LEN];
    struct kmsg m = {.addr = client->addr,
                     .len = (uint16_t)(count > SIM_I2CDEV_MAX_LEN ? SIM_I2CDEV_MAX_LEN : count),
                     .buf = tmp};
    memcpy(tmp, buf, m.len);
    int rc = i2c_transfer(dev, &m, 1, now_ns);
    return rc < 0 ? rc : m.len;
}

/* ---- I2C_RDWR ----------------------------------------------------------------------------- */

struct rdwr {
    struct kmsg msgs[MAX_MSGS];
    uint8_t bufs[MAX_MSGS][SIM_I2CDEV_MAX_LEN];
};

/* The checks and copies of i2cdev_ioctl_rdwr(), in its order. */
static int rdwr_prepare(struct rdwr *k, void **arg, sim_i2cdev_resolver resolve, void *ctx,
                        unsigned *n)
{
    struct i2c_rdwr_ioctl_data *data = resolve(ctx, arg, sizeof(*data));
    if (!data)
        return -EFAULT;
    if (!data->msgs || data->nmsgs == 0 || data->nmsgs > MAX_MSGS)
        return -EINVAL;
    struct i2c_msg *msgs = resolve(ctx, (void **)&data->msgs, data->nmsgs * sizeof(*msgs));
    if (!msgs)
        return -EFAULT;
    *n = data->nmsgs;
    for (unsigned i = 0; i < *n; i++) {
        struct kmsg *m = &k->msgs[i];
        if (msgs[i].len > SIM_I2CDEV_MAX_LEN)
            return -EINVAL;
        *m = (struct kmsg){
            .addr = msgs[i].addr, .flags = msgs[i].flags, .len = msgs[i].len, .buf = k->bufs[i]};
        uint8_t *user = m->len ? resolve(ctx, (void **)&msgs[i].buf, m->len) : k->bufs[i];
        if (!user)
            return -EFAULT;
        memcpy(m->buf, user, m->len);
        if (m->flags & I2C_M_RD)
            m->user = user;
        if (m->flags & I2C_M_RECV_LEN) {
            if (!(m->flags & I2C_M_RD) || !m->len || m->buf[0] < 1 ||
                m->len < m->buf[0] + I2C_SMBUS_BLOCK_MAX)
                return -EINVAL;
            m->len = m->buf[0];
        }
    }
    return 0;
}

static long ioctl_rdwr(struct sim_i2cdev *dev, void **arg, sim_i2cdev_resolver resolve, void *ctx,
                       uint64_t now_ns)
{
    static struct rdwr k; /* 340 KiB: the bridge serialises requests under the hardware lock */
    unsigned n = 0;
    int rc = rdwr_prepare(&k, arg, resolve, ctx, &n);
    if (rc == 0)
        rc = i2c_transfer(dev, k.msgs, n, now_ns);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        if (k.msgs[i].user)
            memcpy(k.msgs[i].user, k.msgs[i].buf, k.msgs[i].len);
    return rc;
}

/* ---- I2C_SMBUS: i2c_smbus_xfer_emulated() ------------------------------------------------- */

/* CRC-8 with polynomial x^8 + x^2 + x + 1, as SMBus PEC. */
static uint8_t crc8(uint8_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)(crc & 0x80 ? crc << 1 ^ 0x07 : crc << 1);
    }
    return crc;
}

static uint8_t msg_pec(uint8_t crc, const struct kmsg *m)
{
    uint8_t address = (uint8_t)(m->addr << 1 | (m->flags & I2C_M_RD ? 1 : 0));
    crc = crc8(crc, &address, 1);
    return crc8(crc, m->buf, m->len);
}

struct smbus {
    struct kmsg msg[2];
    uint8_t buf0[I2C_SMBUS_BLOCK_MAX + 3];
    uint8_t buf1[I2C_SMBUS_BLOCK_MAX + 2];
    unsigned n;
};

static void put_word(uint8_t *p, uint16_t word)
{
    p[0] = (uint8_t)(word & 0xFF);
    p[1] = (uint8_t)(word >> 8);
}

/* Builds the messages of an SMBus request: a write of the command (and data), then for reads a
 * read. Process calls are reads. Returns 0 or -EINVAL (a block size above 32). */
static int smbus_build(struct smbus *s, uint16_t addr, uint8_t *read_write, uint8_t command,
                       uint32_t size, const union i2c_smbus_data *data)
{
    if (size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL)
        *read_write = I2C_SMBUS_READ;
    const bool reading = *read_write == I2C_SMBUS_READ;
    const bool sends_data =
        !reading || size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL;
    struct kmsg *out = &s->msg[0], *in = &s->msg[1];
    *out = (struct kmsg){.addr = addr, .len = 1, .buf = s->buf0};
    *in = (struct kmsg){.addr = addr, .flags = I2C_M_RD, .buf = s->buf1};
    s->buf0[0] = command;
    s->n = reading ? 2 : 1;
    switch (size) {
    case I2C_SMBUS_QUICK:
        out->len = 0;
        out->flags = reading ? I2C_M_RD : 0;
        s->n = 1;
        return 0;
    case I2C_SMBUS_BYTE:
        out->flags = reading ? I2C_M_RD : 0;
        s->n = 1;
        return 0;
    case I2C_SMBUS_BYTE_DATA:
        in->len = 1;
        if (sends_data) {
            out->len = 2;
            s->buf0[1] = data->byte;
        }
        return 0;
    case I2C_SMBUS_WORD_DATA:
    case I2C_SMBUS_PROC_CALL:
        in->len = 2;
        if (sends_data) {
            out->len = 3;
            put_word(s->buf0 + 1, data->word);
        }
        return 0;
    case I2C_SMBUS_BLOCK_DATA:
    case I2C_SMBUS_BLOCK_PROC_CALL:
        in->flags |= I2C_M_RECV_LEN;
        in->len = 1; /* the count byte; the controller adds what it announces */
        if (sends_data) {
            if (data->block[0] > I2C_SMBUS_BLOCK_MAX)
                return -EINVAL;
            out->len = (uint16_t)(data->block[0] + 2);
            memcpy(s->buf0 + 1, data->block, data->block[0] + 1u);
        }
        return 0;
    case I2C_SMBUS_I2C_BLOCK_DATA:
        if (data->block[0] > I2C_SMBUS_BLOCK_MAX)
            return -EINVAL;
        in->len = data->block[0];
        if (sends_data) {
            out->len = (uint16_t)(data->block[0] + 1);
            memcpy(s->buf0 + 1, data->block + 1, data->block[0]);
        }
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

/* What an SMBus request read goes to the caller's data. */
static void smbus_result(const struct smbus *s, uint32_t size, union i2c_smbus_data *data)
{
    const struct kmsg *in = &s->msg[s->n - 1];
    switch (size) {
    case I2C_SMBUS_BYTE:
    case I2C_SMBUS_BYTE_DATA:
        data->byte = in->buf[0];
        break;
    case I2C_SMBUS_WORD_DATA:
    case I2C_SMBUS_PROC_CALL:
        data->word = (uint16_t)(in->buf[0] | in->buf[1] << 8);
        break;
    case I2C_SMBUS_BLOCK_DATA:
    case I2C_SMBUS_BLOCK_PROC_CALL:
        memcpy(data->block, in->buf, in->buf[0] + 1u);
        break;
    case I2C_SMBUS_I2C_BLOCK_DATA:
        memcpy(data->block + 1, in->buf, data->block[0]);
        break;
    default:
        break;
    }
}

/* PEC: appended to a lone write, checked on the read that ends the request (not for quick and
 * I2C block transfers, as the kernel). */
static int smbus_xfer(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client,
                      uint8_t read_write, uint8_t command, uint32_t size,
                      union i2c_smbus_data *data, uint64_t now_ns)
{
    if (dev->cfg.funcs == SIM_I2CDEV_FUNCS_SMBUS &&
        (size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL ||
         size == I2C_SMBUS_I2C_BLOCK_DATA))
        return -EOPNOTSUPP; /* what an SMBus host controller says to what it cannot do */
    struct smbus s;
    int rc = smbus_build(&s, client->addr, &read_write, command, size, data);
    if (rc < 0)
        return rc;
    const bool pec = client->pec && dev->cfg.funcs == SIM_I2CDEV_FUNCS_I2C &&
                     size != I2C_SMBUS_QUICK && size != I2C_SMBUS_I2C_BLOCK_DATA;
    uint8_t partial = 0;
    if (pec && !(s.msg[0].flags & I2C_M_RD)) {
        if (s.n == 1)
            s.buf0[s.msg[0].len] = msg_pec(0, &s.msg[0]), s.msg[0].len++;
        else
            partial = msg_pec(0, &s.msg[0]);
    }
    struct kmsg *last = &s.msg[s.n - 1];
    if (pec && (last->flags & I2C_M_RD))
        last->len++;
    rc = transfer(dev, s.msg, s.n, now_ns);
    if (rc < 0)
        return rc;
    if (pec && (last->flags & I2C_M_RD)) {
        uint8_t got = last->buf[--last->len];
        if (msg_pec(partial, last) != got)
            return -EBADMSG;
    }
    if (read_write == I2C_SMBUS_READ)
        smbus_result(&s, size, data);
    return 0;
}

/* i2cdev_ioctl_smbus(): the checks, then the copies in and out of the caller's data. */
static long ioctl_smbus(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client, void **arg,
                        sim_i2cdev_resolver resolve, void *ctx, uint64_t now_ns)
{
    struct i2c_smbus_ioctl_data *a = resolve(ctx, arg, sizeof(*a));
    if (!a)
        return -EFAULT;
    uint32_t size = a->size;
    if (size > I2C_SMBUS_I2C_BLOCK_DATA)
        return -EINVAL;
    if (a->read_write != I2C_SMBUS_READ && a->read_write != I2C_SMBUS_WRITE)
        return -EINVAL;
    union i2c_smbus_data temp;
    memset(&temp, 0, sizeof(temp));
    if (size == I2C_SMBUS_QUICK || (size == I2C_SMBUS_BYTE && a->read_write == I2C_SMBUS_WRITE))
        return smbus_xfer(dev, client, a->read_write, a->command, size, &temp, now_ns);
    if (!a->data)
        return -EINVAL;
    size_t datasize = sizeof(temp.block);
    if (size == I2C_SMBUS_BYTE || size == I2C_SMBUS_BYTE_DATA)
        datasize = sizeof(temp.byte);
    else if (size == I2C_SMBUS_WORD_DATA || size == I2C_SMBUS_PROC_CALL)
        datasize = sizeof(temp.word);
    const bool copy_in = size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL ||
                         size == I2C_SMBUS_I2C_BLOCK_DATA || a->read_write == I2C_SMBUS_WRITE;
    const bool copy_out = size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL ||
                          a->read_write == I2C_SMBUS_READ;
    uint8_t read_write = a->read_write, command = a->command;
    union i2c_smbus_data *user = resolve(ctx, (void **)&a->data, datasize);
    if (!user)
        return -EFAULT;
    if (copy_in)
        memcpy(&temp, user, datasize);
    if (size == I2C_SMBUS_I2C_BLOCK_BROKEN) { /* the old I2C block convention */
        size = I2C_SMBUS_I2C_BLOCK_DATA;
        if (read_write == I2C_SMBUS_READ)
            temp.block[0] = I2C_SMBUS_BLOCK_MAX;
    }
    int rc = smbus_xfer(dev, client, read_write, command, size, &temp, now_ns);
    if (rc == 0 && copy_out)
        memcpy(user, &temp, datasize);
    return rc;
}

/* ---- ioctl -------------------------------------------------------------------------------- */

static void count_ioctl(struct sim_i2cdev *dev, unsigned long request)
{
    struct sim_i2cdev_stats *s = &dev->stats;
    switch (request) {
    case I2C_FUNCS:
        s->ioctl_funcs++;
        break;
    case I2C_SLAVE:
    case I2C_SLAVE_FORCE:
        s->ioctl_slave++;
        break;
    case I2C_RDWR:
        s->ioctl_rdwr++;
        break;
    case I2C_SMBUS:
        s->ioctl_smbus++;
        break;
    default:
        s->ioctl_other++;
        break;
    }
}

long sim_i2cdev_gone(struct sim_i2cdev *dev, unsigned long request, bool read, bool write)
{
    if (read)
        dev->stats.read_calls++;
    else if (write)
        dev->stats.write_calls++;
    else
        count_ioctl(dev, request);
    return -ENODEV;
}

long sim_i2cdev_ioctl(struct sim_i2cdev *dev, struct sim_i2cdev_client *client,
                      unsigned long request, void **arg, sim_i2cdev_resolver resolve, void *ctx,
                      uint64_t now_ns)
{
    const unsigned long value = (unsigned long)*arg;
    count_ioctl(dev, request);
    switch (request) {
    case I2C_SLAVE:
    case I2C_SLAVE_FORCE:
        if (value > 0x7F) /* 7-bit addresses only: I2C_TENBIT is refused */
            return -EINVAL;
        client->addr = (uint16_t)value;
        return 0;
    case I2C_TENBIT:
        /* The kernel takes the flag and lets the transfer fail; no 10-bit address can work on
         * this adapter (no I2C_FUNC_10BIT_ADDR), so it is refused at once. */
        return value ? -EINVAL : 0;
    case I2C_PEC:
        client->pec = value != 0;
        return 0;
    case I2C_FUNCS: {
        unsigned long *funcs = resolve(ctx, arg, sizeof(*funcs));
        if (!funcs)
            return -EFAULT;
        *funcs = sim_i2cdev_funcs(dev);
        return 0;
    }
    case I2C_RDWR:
        return ioctl_rdwr(dev, arg, resolve, ctx, now_ns);
    case I2C_SMBUS:
        return ioctl_smbus(dev, client, arg, resolve, ctx, now_ns);
    case I2C_RETRIES:
    case I2C_TIMEOUT:
        if (value > INT_MAX)
            return -EINVAL;
        if (request == I2C_RETRIES)
            dev->retries = value;
        else
            dev->timeout_10ms = value;
        return 0;
    default:
        return -ENOTTY;
    }
}
