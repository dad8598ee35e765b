#include "transport/i2cdev/i2cdev_link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.h"

#define ERROR_MAX 128

enum read_method {
    READ_RDWR,  /* I2C_RDWR: one read message */
    READ_SMBUS, /* I2C_SLAVE + SMBus receive byte */
};

struct i2cdev_link {
    struct bus_link base;
    unsigned bus;
    int fd; /* -1 when closed */
    enum read_method method;
    char adapter_name[48];
    char error[ERROR_MAX];
};

static struct i2cdev_link *from_base(struct bus_link *link)
{
    return (struct i2cdev_link *)link;
}

static const struct i2cdev_link *from_const(const struct bus_link *link)
{
    return (const struct i2cdev_link *)link;
}

void i2cdev_path(unsigned bus, char *buf, size_t size)
{
    snprintf(buf, size, "/dev/i2c-%u", bus);
}

int i2cdev_adapter_name(unsigned bus, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/class/i2c-dev/i2c-%u/name", bus);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        return -EIO;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static int fail(struct i2cdev_link *l, int rc, const char *what)
{
    snprintf(l->error, sizeof(l->error), "%s: %s", what, strerror(-rc));
    return rc;
}

static int io(struct i2cdev_link *l, unsigned long request, void *arg)
{
    return ioctl(l->fd, request, arg) < 0 ? -errno : 0;
}

static void close_fd(struct i2cdev_link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->base.open = false;
}

/* ---- open ---- */

static int choose_method(struct i2cdev_link *l)
{
    unsigned long funcs = 0;
    int rc = io(l, I2C_FUNCS, &funcs);
    if (rc < 0)
        return fail(l, rc, "I2C_FUNCS");
    if (funcs & I2C_FUNC_I2C) {
        l->method = READ_RDWR;
        return 0;
    }
    if (funcs & I2C_FUNC_SMBUS_READ_BYTE) {
        l->method = READ_SMBUS;
        return 0;
    }
    snprintf(l->error, sizeof(l->error),
             "the adapter offers neither plain I2C nor SMBus receive byte (functionality 0x%lx)",
             funcs);
    return -EOPNOTSUPP;
}

static int link_open(struct bus_link *link, bus_link_done_fn done, void *user)
{
    struct i2cdev_link *l = from_base(link);
    char path[32];
    i2cdev_path(l->bus, path, sizeof(path));
    close_fd(l);
    l->fd = open(path, O_RDWR | O_CLOEXEC);
    if (l->fd < 0) {
        int rc = -errno;
        l->base.unplugged = rc == -ENOENT || rc == -ENODEV;
        return fail(l, rc == -ENODEV ? -ENOENT : rc, path);
    }
    int rc = choose_method(l);
    if (rc < 0) {
        l->base.unplugged = rc == -ENODEV;
        close_fd(l);
        return rc;
    }
    if (i2cdev_adapter_name(l->bus, l->adapter_name, sizeof(l->adapter_name)) < 0)
        snprintf(l->adapter_name, sizeof(l->adapter_name), "Linux I2C adapter");
    l->base.open = true;
    l->base.unplugged = false;
    l->error[0] = '\0';
    log_info("adapter %s: opened %s (%s), read with %s; the bus clock is the kernel driver's",
             l->base.name, path, l->adapter_name,
             l->method == READ_RDWR ? "I2C_RDWR, one ioctl per address"
                                    : "SMBus receive byte (no plain I2C), two ioctls per address");
    done(link, 0, user);
    return 0;
}

/* ---- reads ---- */

static int read_one(struct i2cdev_link *l, uint8_t address, uint8_t *data)
{
    if (l->method == READ_RDWR) {
        struct i2c_msg msg = {.addr = address, .flags = I2C_M_RD, .len = 1, .buf = data};
        struct i2c_rdwr_ioctl_data rdwr = {.msgs = &msg, .nmsgs = 1};
        return io(l, I2C_RDWR, &rdwr);
    }
    int rc = io(l, I2C_SLAVE, (void *)(unsigned long)address);
    if (rc < 0)
        return rc == -EBUSY ? -EADDRINUSE : rc; /* a kernel driver owns the address */
    union i2c_smbus_data value = {0};
    struct i2c_smbus_ioctl_data smbus = {
        .read_write = I2C_SMBUS_READ, .command = 0, .size = I2C_SMBUS_BYTE, .data = &value};
    rc = io(l, I2C_SMBUS, &smbus);
    *data = value.byte;
    return rc;
}

static int link_read(struct bus_link *link, const uint8_t *addresses, size_t n,
                     struct bus_read *out, bool *stuck, bus_link_done_fn done, void *user)
{
    struct i2cdev_link *l = from_base(link);
    if (l->fd < 0)
        return -EBADF;
    *stuck = false;
    int result = 0;
    for (size_t i = 0; i < n && result == 0 && !*stuck; i++) {
        uint8_t data = 0xFF;
        int rc = read_one(l, addresses[i], &data);
        out[i] = (struct bus_read){.address = addresses[i], .acked = rc == 0, .data = data};
        switch (rc) {
        case 0:
        case -ENXIO:
        case -EREMOTEIO:
        case -ETIMEDOUT:
        case -EIO: /* failed on the bus (hid-cp2112: arbitration, success after a retry) */
            break; /* read, or not answered */
        case -EAGAIN:
        case -EBUSY:
            *stuck = true;
            break;
        case -ENODEV:
            l->base.unplugged = true;
            close_fd(l);
            /* fall through */
        default: {
            char what[48];
            snprintf(what, sizeof(what), "reading 0x%02X", addresses[i]);
            result = fail(l, rc, what);
        }
        }
    }
    done(link, result, user);
    return 0;
}

static int link_recover(struct bus_link *link, bus_link_done_fn done, void *user)
{
    (void)link, (void)done, (void)user;
    return -EOPNOTSUPP;
}

/* A failed ioctl leaves nothing out of step: the next poll simply tries again. */
static void link_resync(struct bus_link *link, int failure)
{
    (void)link, (void)failure;
}

static bool link_busy(const struct bus_link *link)
{
    (void)link;
    return false;
}

static void link_wait(struct bus_link *link)
{
    (void)link;
}

static void link_describe(const struct bus_link *link, struct bus_link_info *out)
{
    const struct i2cdev_link *l = from_const(link);
    memset(out, 0, sizeof(*out));
    out->transport = "i2c";
    snprintf(out->connection, sizeof(out->connection), "I2C bus i2c-%u", l->bus);
    snprintf(out->hardware, sizeof(out->hardware), "%s",
             l->adapter_name[0] ? l->adapter_name : "not found yet");
    snprintf(out->trace, sizeof(out->trace), "bus=%u", l->bus);
}

static const char *link_error(const struct bus_link *link)
{
    return from_const(link)->error;
}

static void link_free(struct bus_link *link)
{
    struct i2cdev_link *l = from_base(link);
    if (!l)
        return;
    close_fd(l);
    free(l);
}

static const struct bus_link_ops i2cdev_link_ops = {
    .open = link_open,
    .read = link_read,
    .recover = link_recover,
    .resync = link_resync,
    .busy = link_busy,
    .wait = link_wait,
    .describe = link_describe,
    .error = link_error,
    .free = link_free,
};

int i2cdev_link_new(unsigned bus, struct bus_link **out)
{
    struct i2cdev_link *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l)
        return -ENOMEM;
    l->base.ops = &i2cdev_link_ops;
    snprintf(l->base.name, sizeof(l->base.name), "i2c-%u", bus);
    l->bus = bus;
    l->fd = -1;
    *out = &l->base;
    return 0;
}

void i2cdev_link_removed(struct bus_link *link)
{
    struct i2cdev_link *l = from_base(link);
    close_fd(l);
    l->base.unplugged = true;
    char path[32];
    i2cdev_path(l->bus, path, sizeof(path));
    snprintf(l->error, sizeof(l->error), "%s was removed", path);
}
