/* The bus link (bus_link.h) of a Linux I2C adapter through i2c-dev: /dev/i2c-N, such as a
 * Raspberry Pi's I2C pins (i2c-bcm2835) or a USB bridge with a kernel driver (hid-cp2112).
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
 *  - ENXIO, EREMOTEIO (i2c-bcm2835) and ETIMEDOUT: the address did not answer, a NACK for the
 *    tracker. hid-cp2112 gives ETIMEDOUT for an address NACK (the chip's "timeout, address
 *    NACKed" after its one retry), and also for a bus held low (the chip waits for a free bus; the
 *    driver cancels after ten busy status answers) and for a USB answer lost for 50 ms; i2c-bcm2835
 *    for SCL held low. So on a CP2112 a stuck bus cannot be told from absent distributors: it
 *    shows as them, and no "bus stuck" line is logged.
 *  - EIO: this transaction failed on the bus, the adapter works: hid-cp2112's arbitration lost,
 *    incomplete transfer and "success after retries" (a distributor that NACKed once and answered
 *    the chip's retry; the driver drops the byte), a bad response length. Counted as not answered,
 *    so the tracker's confirming read asks again; it is not a transport failure.
 *  - EAGAIN (arbitration lost, SDA low at the START, where a controller says so) and EBUSY (the
 *    bus busy): a line held low, a stuck bus. hid-cp2112 gives EAGAIN only when the chip says it
 *    is idle (it dropped the request), never for a held line.
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
 * daemon's i2c_speed_khz does not apply. Every ioctl is synchronous: an operation completes before
 * its start call returns. */
#ifndef LYNX_I2CDEV_LINK_H
#define LYNX_I2CDEV_LINK_H

#include "transport/bus_link.h"

/* The link of /dev/i2c-<bus>; nothing is opened yet. Returns 0 or -ENOMEM. */
int i2cdev_link_new(unsigned bus, struct bus_link **out);

/* The node's path and the adapter's kernel name (/sys/class/i2c-dev/i2c-N/name) for bus. */
void i2cdev_path(unsigned bus, char *buf, size_t size);
/* 0, or a negative errno when the name cannot be read. */
int i2cdev_adapter_name(unsigned bus, char *buf, size_t size);

/* The node is gone (a "remove" uevent): the link lets go of it at once, as unplugged. An open
 * file of /dev/i2c-N holds a reference to the kernel's adapter, which the adapter's removal
 * (a CP2112 unplugged) waits for. */
void i2cdev_link_removed(struct bus_link *link);

#endif
