/* The bus link (bus_link.h) of a Linux I2C adapter through i2c-dev: /dev/i2c-N, such as a
 * Raspberry Pi's I2C pins (i2c-bcm2835) or a USB bridge with a kernel driver (hid-cp2112).
 *
 * Every operation (open, read) is one job of the link's worker thread (base/worker.h): the
 * ioctls wait for the bus there, never on the daemon's loop, and the completion comes from the
 * loop when the worker's eventfd (event_fd) is readable and dispatch runs, or from wait. A worker,
 * not I2C_TIMEOUT set short: the timeout is the adapter's, for every user of the bus (a HAT's
 * driver on the Pi's pins), it is in 10 ms steps and still blocks for that long per address, and
 * hid-cp2112 waits up to 5 s for a hung interrupt transfer whatever it says.
 *
 * Open: open(2) the node, then I2C_FUNCS. An adapter with I2C_FUNC_I2C is read with I2C_RDWR,
 * one ioctl per address: ONE read message of one byte (START, address + R, the status byte, NACK,
 * STOP). The addresses cannot share an ioctl: the kernel stops a message list at the first NACK
 * and reports only an errno, so one absent distributor would hide the others. An SMBus-only
 * adapter (no I2C_FUNC_I2C, but I2C_FUNC_SMBUS_READ_BYTE) is read with I2C_SLAVE and an SMBus
 * "receive byte" (I2C_SMBUS), two ioctls per address: the same transaction on the wire.
 *
 * Errors of one transaction, as the drivers give them (fault-codes.rst is advice; i2c-bcm2835's
 * and hid-cp2112's 6.1 sources say what they really return):
 *  - ENXIO and EREMOTEIO (i2c-bcm2835, for any NACK): the address did not answer.
 *  - ETIMEDOUT: the read is not acked and marked timed_out (the poller does not read it again in
 *    the same poll). hid-cp2112 gives it for an address NACK (the chip's "timeout, address
 *    NACKed" after its one retry), for a bus held low (the chip waits for a free bus; the driver
 *    cancels after ten busy status answers) and for a USB answer lost for 50 ms: on a CP2112 a
 *    stuck bus cannot be told from absent distributors. i2c-bcm2835 (an adapter named
 *    "bcm2835 (<node>)", its driver's form) gives it only when a transfer did not finish within
 *    the adapter's timeout (1 s by default; SCL held low: the driver turns the clock-stretch
 *    timeout off): a stuck bus, and the rest of the addresses are not read, so one scan costs at
 *    most one adapter timeout.
 *  - EIO: this transaction failed on the bus, the adapter works: hid-cp2112's arbitration lost,
 *    incomplete transfer and "success after retries" (a distributor that NACKed once and answered
 *    the chip's retry; the driver drops the byte), a bad response length. Counted as not answered,
 *    so the tracker's confirming read asks again; it is not a transport failure.
 *  - EAGAIN (arbitration lost, SDA low at the START, where a controller says so) and EBUSY (the
 *    bus busy): a line held low, a stuck bus. i2c-bcm2835 never returns them (it has no
 *    arbitration check: on a held SDA every address ACKs and reads 0x00; the poller's canary,
 *    lynx.h, catches that), and hid-cp2112 gives EAGAIN only when the chip says it is idle.
 *  - On the SMBus path, I2C_SLAVE's EBUSY means a kernel driver owns that address: it is not
 *    read (not answered), and the other addresses are.
 *  - ENODEV: the adapter is gone (a USB bridge unplugged: hid-cp2112's transfers fail so while
 *    its removal waits for this file to close); the node is closed, and every later poll tries to
 *    open it again.
 *  - Anything else fails the poll as a transport error: EPIPE, EPROTO, ESHUTDOWN... are the USB
 *    core's codes that hid-cp2112 passes up from a failed interrupt transfer.
 * The link itself waits for polls: the daemon (daemon/fleet_i2c.c, uevent_monitor.h) polls a bus
 * at once when the kernel's uevent says its node was removed or created, so an unplug is
 * published at once and a bridge plugged back in is read 0.1 s after its node appears; without
 * uevents, within one poll interval.
 *
 * There is no bus recovery from user space: the kernel's i2c core clocks a bus free itself where
 * the driver supports it (i2c_bus_recovery_info), so recover says -EOPNOTSUPP and the adapter logs
 * a line. The bus clock is the kernel driver's (a Raspberry Pi's dtparam=i2c_arm_baudrate); the
 * daemon's i2c_speed_khz does not apply. */
#ifndef LYNX_I2CDEV_LINK_H
#define LYNX_I2CDEV_LINK_H

#include "transport/bus_link.h"

/* The link of /dev/i2c-<bus>, with its worker thread; nothing is opened yet. Returns 0 or a
 * negative errno (-ENOMEM, or the thread's or eventfd's failure). */
int i2cdev_link_new(unsigned bus, struct bus_link **out);

/* The node's path and the adapter's kernel name (/sys/class/i2c-dev/i2c-N/name) for bus. */
void i2cdev_path(unsigned bus, char *buf, size_t size);
/* 0, or a negative errno when the name cannot be read. */
int i2cdev_adapter_name(unsigned bus, char *buf, size_t size);

/* The node is gone (a "remove" uevent): the link lets go of it at once, as unplugged (or, while
 * a job still uses it, as that job ends). An open file of /dev/i2c-N holds a reference to the
 * kernel's adapter, which the adapter's removal (a CP2112 unplugged) waits for. */
void i2cdev_link_removed(struct bus_link *link);

#endif
