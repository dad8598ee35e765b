/* The i2c-dev front end's engine: see i2cdev.h for the contract.
 *
 * Layers, as in the kernel: request decoding and argument checks (i2cdev_*), the SMBus
 * emulation that turns an SMBus request into I2C messages (smbus_xfer here; the
 * messages themselves: smbus_emul.h), the core's transfer with
 * its retries on arbitration loss (transfer); the controller that clocks one transaction onto
 * the bus (bit level) is the shared master, i2c_master.h, whose outcomes become errnos here. */
#include "model/i2cdev.h"

#include <errno.h>
#include <limits.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdlib.h>
#include <string.h>

#include "model/hid_cp2112.h"
#include "model/i2c_master.h"
#include "model/smbus_emul.h"

#define FUNCS_I2C     (I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL_ALL)
#define FUNCS_BCM2835 (I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL)
#define NS_PER_10MS   10000000ull
/* i2c-piix4's set: an SMBus host controller, no I2C level transfers */
#define FUNCS_SMBUS                                                                                \
    (I2C_FUNC_SMBUS_QUICK | I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA |                       \
     I2C_FUNC_SMBUS_WORD_DATA | I2C_FUNC_SMBUS_BLOCK_DATA)
#define SUPPORTED_MSG_FLAGS (I2C_M_RD | I2C_M_RECV_LEN)
#define MAX_MSGS            I2C_RDWR_IOCTL_MAX_MSGS

struct sim_i2cdev {
    struct sim_i2c_master master;
    struct sim_cp2112 *cp2112; /* driver=hid-cp2112: the chip the driver talks to */
    uint64_t cp2112_ns;        /* the USB time the driver's last transfer ran up to */
    struct sim_i2cdev_config cfg;
    unsigned long retries;
    unsigned long timeout_10ms;
    uint64_t busy_until_ns; /* bcm2835: the adapter is locked by a transfer until then */
    uint64_t answer_at_ns;  /* the last request's answer is due then (0: at once) */
    bool bound[0x80];       /* addresses a kernel driver has bound */
    unsigned fail_count;
    int fail_errno;
    bool unplug_armed, unplug_fired;
    struct sim_i2cdev_stats stats;
};

struct sim_i2cdev *sim_i2cdev_new(struct sim_i2c_bus *bus, const struct sim_i2cdev_config *cfg)
{
    struct sim_i2cdev *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    sim_i2c_master_init(&dev->master, bus, cfg->mode);
    dev->cfg = *cfg;
    if (!dev->cfg.nack_errno)
        dev->cfg.nack_errno = ENXIO;
    if (cfg->driver == SIM_I2CDEV_DRIVER_BCM2835) {
        dev->cfg.funcs = SIM_I2CDEV_FUNCS_I2C;
        dev->cfg.nack_errno = EREMOTEIO;
        dev->master.no_arbitration = true;
    }
    if (cfg->driver == SIM_I2CDEV_DRIVER_HID_CP2112) {
        const struct sim_cp2112_config chip = {0};
        dev->cp2112 = sim_cp2112_new(&chip, bus);
        if (!dev->cp2112) {
            free(dev);
            return NULL;
        }
    }
    sim_i2cdev_reset(dev);
    return dev;
}

void sim_i2cdev_free(struct sim_i2cdev *dev)
{
    if (dev)
        sim_cp2112_free(dev->cp2112);
    free(dev);
}

void sim_i2cdev_reset(struct sim_i2cdev *dev)
{
    dev->retries = 0;
    dev->timeout_10ms = 100; /* HZ: the core's default adapter timeout, 1 s */
    dev->busy_until_ns = 0;
    if (dev->cp2112) {
        sim_cp2112_reset(dev->cp2112);
        sim_hid_cp2112_probe(dev->cp2112, &dev->cp2112_ns);
    }
}

const struct sim_i2cdev_config *sim_i2cdev_config(const struct sim_i2cdev *dev)
{
    return &dev->cfg;
}

unsigned long sim_i2cdev_funcs(const struct sim_i2cdev *dev)
{
    if (dev->cp2112)
        return sim_hid_cp2112_funcs();
    if (dev->cfg.driver == SIM_I2CDEV_DRIVER_BCM2835)
        return FUNCS_BCM2835;
    return dev->cfg.funcs == SIM_I2CDEV_FUNCS_SMBUS ? FUNCS_SMBUS : FUNCS_I2C;
}

const struct sim_i2cdev_stats *sim_i2cdev_stats(const struct sim_i2cdev *dev)
{
    return &dev->stats;
}

void sim_i2cdev_bind_address(struct sim_i2cdev *dev, uint8_t address, bool bound)
{
    if (address < 0x80)
        dev->bound[address] = bound;
}

uint64_t sim_i2cdev_answer_at(const struct sim_i2cdev *dev)
{
    return dev->answer_at_ns;
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

/* The controller's errno for what happened on the wire (see i2cdev.h). */
static int outcome_errno(const struct sim_i2cdev *dev, enum sim_i2c_outcome outcome)
{
    switch (outcome) {
    case SIM_I2C_OK:
        return 0;
    case SIM_I2C_BUS_BUSY:
    case SIM_I2C_ARB_LOST:
        return -EAGAIN;
    case SIM_I2C_SCL_LOW:
        return -ETIMEDOUT;
    case SIM_I2C_ADDR_NACK:
        return -dev->cfg.nack_errno;
    case SIM_I2C_DATA_NACK:
        return dev->cfg.nack_errno == ENXIO ? -EIO : -dev->cfg.nack_errno;
    case SIM_I2C_BAD_COUNT:
    default:
        return -EPROTO;
    }
}

/* One transfer through hid-cp2112 and the CP2112, on the USB time that never goes back. */
static int cp2112_xfer(struct sim_i2cdev *dev, struct sim_i2c_msg *msgs, unsigned n,
                       uint64_t now_ns)
{
    if (dev->cp2112_ns < now_ns)
        dev->cp2112_ns = now_ns;
    dev->stats.transactions++;
    int rc = sim_hid_cp2112_i2c_xfer(dev->cp2112, msgs, n, &dev->cp2112_ns);
    dev->stats.scl_periods = sim_cp2112_stats(dev->cp2112)->scl_periods;
    dev->stats.bus_time_ns = sim_cp2112_stats(dev->cp2112)->bus_time_ns;
    return rc;
}

static void copy_master_stats(struct sim_i2cdev *dev)
{
    const struct sim_i2c_master_stats *m = &dev->master.stats;
    dev->stats.transactions = m->transactions;
    dev->stats.messages = m->messages;
    dev->stats.nacks = m->nacks;
    dev->stats.bus_errors = m->bus_errors;
    dev->stats.scl_periods = m->scl_periods;
    dev->stats.bus_time_ns = m->bus_time_ns;
}

/* i2c-bcm2835's bcm2835_i2c_xfer(): the transfer starts once the adapter is free, and either ends
 * within the adapter's timeout or is ETIMEDOUT when that timeout has passed (SCL held low: the
 * clock stretch timeout is off, so the controller waits for ever). */
static int bcm2835_xfer(struct sim_i2cdev *dev, struct sim_i2c_msg *msgs, unsigned n,
                        uint64_t now_ns)
{
    for (unsigned i = 0; i + 1 < n; i++)
        if (msgs[i].flags & I2C_M_RD)
            return -EOPNOTSUPP;
    const uint64_t start = dev->busy_until_ns > now_ns ? dev->busy_until_ns : now_ns;
    const uint64_t before = dev->master.stats.bus_time_ns;
    const uint64_t timeout = (uint64_t)dev->timeout_10ms * NS_PER_10MS;
    struct sim_i2c_result res;
    sim_i2c_master_xfer(&dev->master, msgs, n, start, &res);
    copy_master_stats(dev);
    const uint64_t took = dev->master.stats.bus_time_ns - before;
    int rc = res.outcome == SIM_I2C_OK ? (int)n : outcome_errno(dev, res.outcome);
    uint64_t end = start + took;
    if (res.outcome == SIM_I2C_SCL_LOW || took > timeout) {
        rc = -ETIMEDOUT;
        end = start + timeout;
        dev->stats.timeouts++;
        if (dev->master.bus_ns < end)
            dev->master.bus_ns = end;
        dev->busy_until_ns = end; /* the bus time of other transfers is not waited for */
    }
    if (rc == -ETIMEDOUT || start > now_ns)
        dev->answer_at_ns = end;
    return rc;
}

/* One transaction through the master, its counters copied into the adapter's. */
static int master_xfer(struct sim_i2cdev *dev, struct sim_i2c_msg *msgs, unsigned n,
                       uint64_t now_ns)
{
    if (dev->cp2112)
        return cp2112_xfer(dev, msgs, n, now_ns);
    if (dev->cfg.driver == SIM_I2CDEV_DRIVER_BCM2835)
        return bcm2835_xfer(dev, msgs, n, now_ns);
    struct sim_i2c_result res;
    sim_i2c_master_xfer(&dev->master, msgs, n, now_ns, &res);
    copy_master_stats(dev);
    int rc = outcome_errno(dev, res.outcome);
    return rc < 0 ? rc : (int)n;
}

/* i2c_transfer(): messages already checked. Retries on arbitration loss as the core does. */
static int transfer(struct sim_i2cdev *dev, struct sim_i2c_msg *msgs, unsigned n, uint64_t now_ns)
{
    int rc = injected_fault(dev);
    if (rc < 0)
        return rc;
    for (unsigned long attempt = 0;; attempt++) {
        rc = master_xfer(dev, msgs, n, now_ns);
        if (rc != -EAGAIN || attempt >= dev->retries)
            return rc;
    }
}

/* An I2C-level transfer (I2C_RDWR, read, write): SMBus-only adapters have none. */
static int i2c_transfer(struct sim_i2cdev *dev, struct sim_i2c_msg *msgs, unsigned n,
                        uint64_t now_ns)
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
    dev->answer_at_ns = 0;
    dev->stats.read_calls++;
    uint8_t tmp[SIM_I2CDEV_MAX_LEN];
    struct sim_i2c_msg m = {.addr = client->addr,
                            .flags = I2C_M_RD,
                            .len =
                                (uint16_t)(count > SIM_I2CDEV_MAX_LEN ? SIM_I2CDEV_MAX_LEN : count),
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
    dev->answer_at_ns = 0;
    dev->stats.write_calls++;
    uint8_t tmp[SIM_I2CDEV_MAX_LEN];
    struct sim_i2c_msg m = {.addr = client->addr,
                            .len =
                                (uint16_t)(count > SIM_I2CDEV_MAX_LEN ? SIM_I2CDEV_MAX_LEN : count),
                            .buf = tmp};
    memcpy(tmp, buf, m.len);
    int rc = i2c_transfer(dev, &m, 1, now_ns);
    return rc < 0 ? rc : m.len;
}

/* ---- I2C_RDWR ----------------------------------------------------------------------------- */

struct rdwr {
    struct sim_i2c_msg msgs[MAX_MSGS];
    uint8_t *user[MAX_MSGS]; /* where a read message's data goes back to the client, or NULL */
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
        struct sim_i2c_msg *m = &k->msgs[i];
        if (msgs[i].len > SIM_I2CDEV_MAX_LEN)
            return -EINVAL;
        *m = (struct sim_i2c_msg){
            .addr = msgs[i].addr, .flags = msgs[i].flags, .len = msgs[i].len, .buf = k->bufs[i]};
        uint8_t *user = m->len ? resolve(ctx, (void **)&msgs[i].buf, m->len) : k->bufs[i];
        if (!user)
            return -EFAULT;
        memcpy(m->buf, user, m->len);
        k->user[i] = (m->flags & I2C_M_RD) ? user : NULL;
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
        if (k.user[i])
            memcpy(k.user[i], k.msgs[i].buf, k.msgs[i].len);
    return rc;
}

/* ---- I2C_SMBUS: i2c_smbus_xfer_emulated() ------------------------------------------------- */

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
    struct sim_smbus s;
    int rc = sim_smbus_build(&s, client->addr, &read_write, command, size, data);
    if (rc < 0)
        return rc;
    const bool pec = client->pec && dev->cfg.funcs == SIM_I2CDEV_FUNCS_I2C &&
                     size != I2C_SMBUS_QUICK && size != I2C_SMBUS_I2C_BLOCK_DATA;
    uint8_t partial = 0;
    if (pec && !(s.msg[0].flags & I2C_M_RD)) {
        if (s.n == 1)
            s.buf0[s.msg[0].len] = sim_smbus_pec(0, &s.msg[0]), s.msg[0].len++;
        else
            partial = sim_smbus_pec(0, &s.msg[0]);
    }
    struct sim_i2c_msg *last = &s.msg[s.n - 1];
    if (pec && (last->flags & I2C_M_RD))
        last->len++;
    rc = transfer(dev, s.msg, s.n, now_ns);
    if (rc < 0)
        return rc;
    if (pec && (last->flags & I2C_M_RD)) {
        uint8_t got = last->buf[--last->len];
        if (sim_smbus_pec(partial, last) != got)
            return -EBADMSG;
    }
    if (read_write == I2C_SMBUS_READ)
        sim_smbus_result(&s, size, data);
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
    dev->answer_at_ns = 0;
    switch (request) {
    case I2C_SLAVE:
    case I2C_SLAVE_FORCE:
        if (value > 0x7F) /* 7-bit addresses only: I2C_TENBIT is refused */
            return -EINVAL;
        if (request == I2C_SLAVE && dev->bound[value])
            return -EBUSY; /* a kernel driver's */
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
    case I2C_TIMEOUT: /* the adapter's, for every client: in 10 ms, at most INT_MAX / 10 */
        if (value > (request == I2C_TIMEOUT ? INT_MAX / 10 : INT_MAX))
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
