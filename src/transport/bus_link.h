/* A link to one I2C bus: what the poller (lynx/poller.c) needs of a transport, whatever it is. Two
 * implement it:
 *  - mpsse_link.c: an FTDI FT232H/FT2232H/FT4232H in MPSSE mode over libusb (asynchronous);
 *  - i2cdev_link.c: a Linux I2C adapter through /dev/i2c-N (Raspberry Pi pins, CP2112, ...).
 * The poller (and so the trackers and the service behind it) and the recorder see only this
 * interface; the fleet and lynx-scan create the links, and read an FTDI link's device and clock.
 *
 * Every operation is started with a completion (done) and returns 0 when it was started, or a
 * negative code when it could not be (done is then not called). done is never called before the
 * start call returns: it comes from the caller's loop (the MPSSE link's libusb events; the i2c-dev
 * link's worker thread through event_fd and dispatch) or from wait. One operation at a time.
 *
 * Codes the completions give: 0; -ENODEV (the adapter is gone); -ENOENT (not found when opening);
 * -EREMOTEIO (recover: the bus is still held low); -EOPNOTSUPP (recover: the transport cannot);
 * others are transport failures (the link's error text says what). */
#ifndef LYNX_BUS_LINK_H
#define LYNX_BUS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_LINK_NAME_MAX 64

/* One read transaction: START, address with the read bit, one data byte, NACK, STOP. */
struct bus_read {
    uint8_t address;
    bool acked; /* false: nobody answered; data is meaningless */
    uint8_t data;
    bool timed_out; /* not acked because the adapter's timeout ran out (ETIMEDOUT): not read
                     * again in the same poll, so a slow bus costs one timeout, not one a read */
};

/* What the adapter is, for logs, the service's /Mgmt/Connection and /HardwareVersion, and the
 * trace's adapter line. */
struct bus_link_info {
    const char *transport; /* "ftdi" or "i2c" */
    char connection[48];   /* /Mgmt/Connection: "USB FT232H I2C", "I2C bus i2c-1" */
    char hardware[48];     /* /HardwareVersion: "FT232H I2C", the kernel adapter's name */
    char trace[64];        /* the trace's adapter attributes: "vid=0x0403 pid=0xd4f8", "bus=1" */
    uint32_t scl_hz;       /* the bus clock, 0 when the link does not set it */
};

struct bus_link;
typedef void (*bus_link_done_fn)(struct bus_link *link, int rc, void *user);

struct bus_link_ops {
    /* Opens the adapter and sets it up for I2C; completes with 0 when it is open. */
    int (*open)(struct bus_link *link, bus_link_done_fn done, void *user);
    /* One read transaction per address, in order (n <= 8): out[i] for addresses[i]. *stuck is
     * set when the link saw SDA or SCL held low around them (a stuck bus); out[] is then not
     * meaningful. */
    int (*read)(struct bus_link *link, const uint8_t *addresses, size_t n, struct bus_read *out,
                bool *stuck, bus_link_done_fn done, void *user);
    /* Frees a stuck bus (9 SCL pulses and a STOP); completes with 0 when the bus is idle after.
     * -EOPNOTSUPP where the link cannot (can_recover false). */
    int (*recover)(struct bus_link *link, bus_link_done_fn done, void *user);
    /* After a failed operation: brings the link back in step, or closes it (link->open false)
     * so that the next poll opens it again. Runs on its own; busy() until it is over. */
    void (*resync)(struct bus_link *link, int failure);
    /* An operation or a resync is in flight. */
    bool (*busy)(const struct bus_link *link);
    /* Waits for the link's next event: for callers without a loop (lynx-scan). */
    void (*wait)(struct bus_link *link);
    /* A file descriptor the loop watches for POLLIN, then calls dispatch (which never blocks and
     * runs the completions that are due). NULL or -1: none (the MPSSE link's events come through
     * the libusb host's fds). The i2c-dev link: its worker's eventfd. Fixed for the link's life. */
    int (*event_fd)(const struct bus_link *link);
    void (*dispatch)(struct bus_link *link);
    void (*describe)(const struct bus_link *link, struct bus_link_info *out);
    /* Why the last operation failed, in words ("" when unknown). */
    const char *(*error)(const struct bus_link *link);
    void (*free)(struct bus_link *link);
};

struct bus_link {
    const struct bus_link_ops *ops;
    char name[BUS_LINK_NAME_MAX]; /* the adapter in logs and traces: serial, or "i2c-N" */
    bool open;                    /* set and cleared by the link */
    bool unplugged;               /* gone (-ENODEV), or not found when opening */
    bool can_recover;             /* recover can clock a stuck bus free */
};

#endif
