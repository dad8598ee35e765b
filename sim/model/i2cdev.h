/* The i2c-dev front end's engine: what Linux's i2c-dev driver and an I2C controller do with the
 * requests of a client of /dev/i2c-N, played on the simulated I2C bus. Pure: no umockdev; the
 * bridge (i2cdev_bridge.h) hands over each ioctl, read() and write() of a client.
 *
 * Requests follow linux/drivers/i2c/i2c-dev.c: argument checks and their errno come first, in the
 * kernel's order (I2C_RDWR: no messages or more than I2C_RDWR_IOCTL_MAX_MSGS, a message longer
 * than 8192 bytes, a bad I2C_M_RECV_LEN set-up: EINVAL; a pointer that cannot be read: EFAULT),
 * then the transfer. Read data reaches the client only when the whole transfer succeeded, and
 * I2C_RDWR returns the number of messages. SMBus requests are emulated with I2C messages as the
 * kernel's i2c_smbus_xfer_emulated() builds them (PEC included); an SMBus-only adapter
 * (funcs=smbus) has no I2C_FUNC_I2C, so I2C_RDWR, read() and write() fail with EOPNOTSUPP.
 *
 * Every transfer is clocked bit by bit onto the bus by the shared master (i2c_master.h), with the
 * adapter's virtual bus clock, so the slave models, their faults and the timing checks see what a
 * real controller would do. Errors:
 *   - address NACK: STOP, the remaining messages are not sent, -ENXIO (fault-codes.rst) or
 *     -EREMOTEIO (nack=eremoteio, what i2c-bcm2835 reports for any NACK);
 *   - data NACK while writing: STOP, -EIO (i2c-algo-bit) or -EREMOTEIO;
 *   - SDA low when a START is due, or a 1 sent that reads 0: arbitration lost, -EAGAIN; the core
 *     retries as many times as I2C_RETRIES says (0 by default, as most drivers leave it);
 *   - SCL held low (a slave stretching for ever): -ETIMEDOUT;
 *   - I2C_M_RECV_LEN / SMBus block read with a count of 0 or above 32: -EPROTO.
 * There is no bus recovery (i2c-bcm2835 has none): a stuck SDA stays stuck for every client
 * until the slave lets go (power, or removing it from the chain). */
#ifndef SIM_I2CDEV_H
#define SIM_I2CDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/i2c_bus.h"

#define SIM_I2CDEV_MAX_LEN 8192 /* a read(), write() or I2C_RDWR message (i2c-dev's limit) */

enum sim_i2cdev_funcs {
    SIM_I2CDEV_FUNCS_I2C = 0, /* I2C_FUNC_I2C + SMBus emulation, as i2c-bcm2835 */
    SIM_I2CDEV_FUNCS_SMBUS,   /* SMBus only: quick, byte, byte data, word data, block data */
};

/* The kernel driver behind the adapter. */
enum sim_i2cdev_driver {
    SIM_I2CDEV_DRIVER_GENERIC = 0, /* a controller with fault-codes.rst's errnos (above) */
    /* A CP2112 (cp2112.h) behind Linux's hid-cp2112 (hid_cp2112.h): the transfers go through
     * the driver's rules and the chip's reports, and come back with the driver's errnos (an
     * address NACK and a bus held low are ETIMEDOUT, arbitration lost EIO, ...). funcs and
     * nack_errno do not apply; I2C_FUNCS says the driver's set. SMBus requests are emulated
     * with I2C messages through its I2C path (the driver's own SMBus path differs in block
     * reads, and it ignores PEC). */
    SIM_I2CDEV_DRIVER_HID_CP2112,
    /* A Raspberry Pi's controller behind Linux's i2c-bcm2835 (controller=bcm2835), as its 6.1
     * source has it: I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL; a read message anywhere but last is
     * refused (EOPNOTSUPP, the driver's "only one read message supported"); any NACK, address or
     * data, is EREMOTEIO; no arbitration check (i2c_master.h: no_arbitration), so with SDA held
     * low every address ACKs and reads 0x00, and it never returns EAGAIN or EBUSY; the clock
     * stretch timeout is off (the driver writes CLKT = 0), so SCL held low, or a transfer that
     * does not end within the adapter's timeout (I2C_TIMEOUT, in 10 ms; 1 s by default), is
     * ETIMEDOUT, answered only when that timeout has passed (sim_i2cdev_answer_at). The adapter
     * is locked meanwhile: a transfer of another client starts after it. funcs and nack_errno do
     * not apply. */
    SIM_I2CDEV_DRIVER_BCM2835,
};

struct sim_i2cdev_config {
    enum sim_i2cdev_funcs funcs;
    int nack_errno;         /* ENXIO (default when 0) or EREMOTEIO */
    enum sim_i2c_mode mode; /* the master's clock: standard (100 kHz) or fast (400 kHz) */
    enum sim_i2cdev_driver driver;
};

struct sim_i2cdev_stats {
    uint64_t ioctl_funcs, ioctl_slave, ioctl_rdwr, ioctl_smbus, ioctl_other; /* every call */
    uint64_t read_calls, write_calls;
    uint64_t transactions; /* START..STOP attempts the engine made (retries included) */
    uint64_t messages;     /* messages addressed on the bus (one address byte each) */
    uint64_t nacks;        /* address and write-data NACKs */
    uint64_t bus_errors;   /* EAGAIN (arbitration lost, SDA low) and ETIMEDOUT (SCL low) */
    uint64_t injected;     /* transfers failed by usb-error, usb-timeout, unplug-mid-transfer */
    uint64_t timeouts;     /* bcm2835: transfers that ran into the adapter's timeout */
    uint64_t scl_periods;  /* SCL clock pulses (bits, ACKs included) */
    uint64_t bus_time_ns;  /* virtual time the transactions took on the bus */
};

/* One open file of /dev/i2c-N: the anonymous i2c_client i2c-dev keeps per fd. */
struct sim_i2cdev_client {
    uint16_t addr; /* I2C_SLAVE / I2C_SLAVE_FORCE; 0 until set */
    bool pec;      /* I2C_PEC */
};

struct sim_i2cdev;

/* bus: the simulated bus this adapter masters (not owned). */
struct sim_i2cdev *sim_i2cdev_new(struct sim_i2c_bus *bus, const struct sim_i2cdev_config *cfg);
void sim_i2cdev_free(struct sim_i2cdev *dev);

const struct sim_i2cdev_config *sim_i2cdev_config(const struct sim_i2cdev *dev);
/* What I2C_FUNCS reports. */
unsigned long sim_i2cdev_funcs(const struct sim_i2cdev *dev);
const struct sim_i2cdev_stats *sim_i2cdev_stats(const struct sim_i2cdev *dev);

/* Makes the client's pointer stored at *field usable: returns local memory of len bytes holding
 * what it points to (changes to it reach the client when the request completes), or NULL when
 * it cannot be read (EFAULT). The bridge resolves through umockdev; tests return *field. */
typedef void *(*sim_i2cdev_resolver)(void *ctx, void **field, size_t len);

/* An ioctl. *arg is the ioctl's argument: a value (I2C_SLAVE...) or the client's pointer
 * (I2C_FUNCS, I2C_RDWR, I2C_SMBUS), resolved through resolve. now_ns: CLOCK_MONOTONIC (the bus
 * idles until then since the last transfer). Returns the ioctl's result (>= 0) or -errno. */
long sim_i2cdev_ioctl(struct sim_i2cdev *dev, struct sim_i2cdev_client *client,
                      unsigned long request, void **arg, sim_i2cdev_resolver resolve, void *ctx,
                      uint64_t now_ns);
/* When the last request (ioctl, read, write) is answered, in CLOCK_MONOTONIC ns: 0 = at once.
 * Only controller=bcm2835 makes a client wait: for its adapter timeout, or for the transfer of
 * another client that holds the adapter. The bridge holds the answer back until then, without
 * holding up other requests. */
uint64_t sim_i2cdev_answer_at(const struct sim_i2cdev *dev);

/* read() / write() of count bytes at the client's address (one message, one transaction).
 * buf is local memory of count bytes: read fills it only on success. Returns the bytes
 * transferred (count, at most 8192) or -errno. */
ssize_t sim_i2cdev_read(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client,
                        uint8_t *buf, size_t count, uint64_t now_ns);
ssize_t sim_i2cdev_write(struct sim_i2cdev *dev, const struct sim_i2cdev_client *client,
                         const uint8_t *buf, size_t count, uint64_t now_ns);

/* An ioctl, read (request 0, read true) or write on a file whose adapter is gone: counted as
 * the call it is; returns -ENODEV. */
long sim_i2cdev_gone(struct sim_i2cdev *dev, unsigned long request, bool read, bool write);

/* A kernel driver is bound to address (a client of the adapter, e.g. an RTC's driver on a Pi
 * HAT): I2C_SLAVE to it is EBUSY (i2cdev_check_addr), I2C_SLAVE_FORCE still takes it. */
void sim_i2cdev_bind_address(struct sim_i2cdev *dev, uint8_t address, bool bound);

/* --- faults of the adapter (each call replaces what was armed) --- */

/* The next count transfers (I2C_RDWR, I2C_SMBUS, read, write that passed their argument checks)
 * fail with -err without reaching the bus: EPIPE for usb-error (a stalled USB transfer of a USB-I2C
 * bridge, which hid-cp2112 passes up as the USB core gives it), ETIMEDOUT for usb-timeout. count 0
 * disarms. */
void sim_i2cdev_fail_transfers(struct sim_i2cdev *dev, unsigned count, int err);
/* unplug-mid-transfer: the next transfer fails with -ENODEV, and sim_i2cdev_take_unplug() says
 * once that the adapter must go now. */
void sim_i2cdev_arm_unplug(struct sim_i2cdev *dev);
bool sim_i2cdev_take_unplug(struct sim_i2cdev *dev);
/* A re-plugged adapter: power-on state (faults armed stay armed, as on the FTDI model); a CP2112
 * is probed by its driver again. */
void sim_i2cdev_reset(struct sim_i2cdev *dev);

#endif
