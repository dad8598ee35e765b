/* The i2c-dev link (i2cdev_link.h): every operation is one job of the link's worker thread
 * (base/worker.h), whose results reach the link, its caller's out[] and the completion only in
 * the job's done, on the loop's thread. The job sees only its own struct job: the link may be
 * freed (the job then finishes on its own and release frees it) or told its node was removed
 * while a job runs. */
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
#include "base/worker.h"

#define ERROR_MAX    128
#define READS_MAX    8
#define ADAPTER_NAME 48
#define BCM2835_NAME "bcm2835 (" /* i2c-bcm2835's adapters: "bcm2835 (<device tree node>)" */

enum read_method {
    READ_RDWR,  /* I2C_RDWR: one read message */
    READ_SMBUS, /* I2C_SLAVE + SMBus receive byte */
};

/* One operation, as the worker's thread sees it. */
struct job {
    bool open;    /* open the node, else read addresses[] */
    unsigned bus; /* open */
    int fd;       /* read: the node; open: the fd opened (-1: none) */
    enum read_method method;
    bool timeout_is_stuck; /* i2c-bcm2835: ETIMEDOUT = the bus did not finish */
    uint8_t addresses[READS_MAX];
    size_t n;
    struct bus_read out[READS_MAX];
    bool stuck, unplugged;
    int result;
    char adapter_name[ADAPTER_NAME];
    char error[ERROR_MAX];
};

struct i2cdev_link {
    struct bus_link base;
    unsigned bus;
    int fd; /* -1 when closed */
    enum read_method method;
    bool timeout_is_stuck;
    bool close_after_job; /* removed while a job used the fd: closed when it ends */
    char adapter_name[ADAPTER_NAME];
    char error[ERROR_MAX];
    struct worker *worker;
    struct job job;
    /* the operation in flight */
    struct bus_read *out;
    bool *stuck;
    bus_link_done_fn done;
    void *user;
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

static int job_fail(struct job *j, int rc, const char *what)
{
    snprintf(j->error, sizeof(j->error), "%s: %s", what, strerror(-rc));
    return rc;
}

static int io(int fd, unsigned long request, void *arg)
{
    return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

static void close_fd(struct i2cdev_link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->base.open = false;
}

/* ---- the jobs (the worker's thread) ---- */

static int choose_method(struct job *j)
{
    unsigned long funcs = 0;
    int rc = io(j->fd, I2C_FUNCS, &funcs);
    if (rc < 0)
        return job_fail(j, rc, "I2C_FUNCS");
    if (funcs & I2C_FUNC_I2C) {
        j->method = READ_RDWR;
        return 0;
    }
    if (funcs & I2C_FUNC_SMBUS_READ_BYTE) {
        j->method = READ_SMBUS;
        return 0;
    }
    snprintf(j->error, sizeof(j->error),
             "the adapter offers neither plain I2C nor SMBus receive byte (functionality 0x%lx)",
             funcs);
    return -EOPNOTSUPP;
}

/* open(2), I2C_FUNCS and the adapter's name: no bus traffic, but a job like the reads, so that
 * every completion comes from the loop. */
static void job_open(struct job *j)
{
    char path[32];
    i2cdev_path(j->bus, path, sizeof(path));
    j->fd = open(path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0) {
        int rc = -errno;
        j->unplugged = rc == -ENOENT || rc == -ENODEV;
        j->result = job_fail(j, rc == -ENODEV ? -ENOENT : rc, path);
        return;
    }
    int rc = choose_method(j);
    if (rc < 0) {
        j->unplugged = rc == -ENODEV;
        close(j->fd);
        j->fd = -1;
        j->result = rc;
        return;
    }
    if (i2cdev_adapter_name(j->bus, j->adapter_name, sizeof(j->adapter_name)) < 0)
        snprintf(j->adapter_name, sizeof(j->adapter_name), "Linux I2C adapter");
    j->timeout_is_stuck = strncmp(j->adapter_name, BCM2835_NAME, strlen(BCM2835_NAME)) == 0;
    j->result = 0;
}

static int read_one(const struct job *j, uint8_t address, uint8_t *data)
{
    if (j->method == READ_RDWR) {
        struct i2c_msg msg = {.addr = address, .flags = I2C_M_RD, .len = 1, .buf = data};
        struct i2c_rdwr_ioctl_data rdwr = {.msgs = &msg, .nmsgs = 1};
        return io(j->fd, I2C_RDWR, &rdwr);
    }
    /* I2C_SLAVE refuses an address a kernel driver has bound (EBUSY): that address only, not
     * the bus (I2C_SLAVE_FORCE would talk behind the driver's back) */
    int rc = io(j->fd, I2C_SLAVE, (void *)(unsigned long)address);
    if (rc < 0)
        return rc == -EBUSY ? -EADDRINUSE : rc;
    union i2c_smbus_data value = {0};
    struct i2c_smbus_ioctl_data smbus = {
        .read_write = I2C_SMBUS_READ, .command = 0, .size = I2C_SMBUS_BYTE, .data = &value};
    rc = io(j->fd, I2C_SMBUS, &smbus);
    *data = value.byte;
    return rc;
}

/* Reads the addresses in order. See i2cdev_link.h for what each errno means. */
static void job_read(struct job *j)
{
    j->stuck = false;
    j->result = 0;
    size_t i = 0;
    for (; i < j->n && j->result == 0 && !j->stuck; i++) {
        uint8_t data = 0xFF;
        int rc = read_one(j, j->addresses[i], &data);
        struct bus_read *r = &j->out[i];
        *r = (struct bus_read){.address = j->addresses[i], .acked = rc == 0, .data = data};
        switch (rc) {
        case 0:
        case -ENXIO:
        case -EREMOTEIO:
        case -EIO:        /* failed on the bus (hid-cp2112: arbitration, success after a retry) */
        case -EADDRINUSE: /* SMBus: a kernel driver owns this address; the others are read */
            break;        /* read, or not answered */
        case -ETIMEDOUT:
            r->timed_out = true;
            j->stuck = j->timeout_is_stuck; /* i2c-bcm2835: the bus did not finish */
            break;
        case -EAGAIN:
        case -EBUSY:
            j->stuck = true;
            break;
        case -ENODEV:
            j->unplugged = true;
            /* fall through */
        default: {
            char what[48];
            snprintf(what, sizeof(what), "reading 0x%02X", j->addresses[i]);
            j->result = job_fail(j, rc, what);
        }
        }
    }
    for (; i < j->n; i++) /* not read: after a stuck bus or a failure */
        j->out[i] = (struct bus_read){.address = j->addresses[i], .data = 0xFF};
}

/* arg: the link, of which the job touches only its struct job (the link outlives the job: a
 * link freed meanwhile is released after it). */
static void job_run(void *arg)
{
    struct job *j = &((struct i2cdev_link *)arg)->job;
    j->error[0] = '\0';
    j->unplugged = false;
    if (j->open)
        job_open(j);
    else
        job_read(j);
}

/* ---- completions (the loop's thread) ---- */

static void open_done(struct i2cdev_link *l)
{
    struct job *j = &l->job;
    if (j->result < 0) {
        l->base.unplugged = j->unplugged;
        snprintf(l->error, sizeof(l->error), "%s", j->error);
        return;
    }
    l->fd = j->fd;
    l->method = j->method;
    l->timeout_is_stuck = j->timeout_is_stuck;
    snprintf(l->adapter_name, sizeof(l->adapter_name), "%s", j->adapter_name);
    l->base.open = true;
    l->base.unplugged = false;
    l->error[0] = '\0';
    char path[32];
    i2cdev_path(l->bus, path, sizeof(path));
    log_info("adapter %s: opened %s (%s), read with %s; the bus clock is the kernel driver's",
             l->base.name, path, l->adapter_name,
             l->method == READ_RDWR ? "I2C_RDWR, one ioctl per address"
                                    : "SMBus receive byte (no plain I2C), two ioctls per address");
}

static void read_done(struct i2cdev_link *l)
{
    struct job *j = &l->job;
    memcpy(l->out, j->out, j->n * sizeof(*l->out));
    *l->stuck = j->stuck;
    if (j->result < 0)
        snprintf(l->error, sizeof(l->error), "%s", j->error);
    if (j->unplugged) {
        l->base.unplugged = true;
        close_fd(l);
    }
}

static void job_done(void *arg)
{
    struct i2cdev_link *l = arg;
    if (l->job.open)
        open_done(l);
    else
        read_done(l);
    if (l->close_after_job) { /* removed meanwhile: an open that went through is undone */
        close_fd(l);
        l->base.unplugged = true;
        if (l->job.open && l->job.result == 0) {
            l->job.result = -ENOENT;
            snprintf(l->error, sizeof(l->error), "/dev/i2c-%u was removed", l->bus);
        }
    }
    l->close_after_job = false;
    bus_link_done_fn done = l->done;
    l->done = NULL;
    done(&l->base, l->job.result, l->user);
}

static int submit(struct i2cdev_link *l, bus_link_done_fn done, void *user)
{
    l->done = done;
    l->user = user;
    int rc = worker_submit(l->worker, job_run, job_done, l);
    if (rc < 0)
        l->done = NULL;
    return rc;
}

/* ---- the operations ---- */

static int link_open(struct bus_link *link, bus_link_done_fn done, void *user)
{
    struct i2cdev_link *l = from_base(link);
    if (worker_busy(l->worker))
        return -EBUSY;
    close_fd(l);
    l->job = (struct job){.open = true, .bus = l->bus, .fd = -1};
    return submit(l, done, user);
}

static int link_read(struct bus_link *link, const uint8_t *addresses, size_t n,
                     struct bus_read *out, bool *stuck, bus_link_done_fn done, void *user)
{
    struct i2cdev_link *l = from_base(link);
    if (l->fd < 0)
        return -EBADF;
    if (n > READS_MAX)
        return -EINVAL;
    if (worker_busy(l->worker))
        return -EBUSY;
    l->job = (struct job){
        .fd = l->fd, .method = l->method, .timeout_is_stuck = l->timeout_is_stuck, .n = n};
    memcpy(l->job.addresses, addresses, n);
    l->out = out;
    l->stuck = stuck;
    return submit(l, done, user);
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
    return worker_busy(from_const(link)->worker);
}

static void link_wait(struct bus_link *link)
{
    worker_wait(from_base(link)->worker);
}

static int link_event_fd(const struct bus_link *link)
{
    return worker_fd(from_const(link)->worker);
}

static void link_dispatch(struct bus_link *link)
{
    worker_dispatch(from_base(link)->worker);
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

/* After the job in flight, if any (the worker's thread then), or at once. */
static void release(void *arg)
{
    struct i2cdev_link *l = arg;
    close_fd(l);
    free(l);
}

static void link_free(struct bus_link *link)
{
    struct i2cdev_link *l = from_base(link);
    if (!l)
        return;
    worker_free(l->worker, release, l);
}

static const struct bus_link_ops i2cdev_link_ops = {
    .open = link_open,
    .read = link_read,
    .recover = link_recover,
    .resync = link_resync,
    .busy = link_busy,
    .wait = link_wait,
    .event_fd = link_event_fd,
    .dispatch = link_dispatch,
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
    int rc = worker_new(&l->worker);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = &l->base;
    return 0;
}

void i2cdev_link_removed(struct bus_link *link)
{
    struct i2cdev_link *l = from_base(link);
    if (worker_busy(l->worker)) /* the job still uses the fd: closed as it ends */
        l->close_after_job = true, l->base.open = false;
    else
        close_fd(l);
    l->base.unplugged = true;
    char path[32];
    i2cdev_path(l->bus, path, sizeof(path));
    snprintf(l->error, sizeof(l->error), "%s was removed", path);
}
