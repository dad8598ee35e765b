/* The bus link (bus_link.h) of an FTDI adapter (FT232H; FT2232H/FT4232H port A) in MPSSE mode.
 *
 * Open: a local open and claim at the bus and address where it was placed (ftdi_usb_open_at),
 * then, each an asynchronous transfer: the set-up control requests, the AN_135 sync (AA -> FA
 * AA), and the clock and pins (mpsse_i2c.h; open drain by drive-zero on the FT232H, by SDA's
 * direction on the others, chosen from bcdDevice). A read is ONE bulk OUT carrying every
 * transaction and ONE bulk IN for the replies: the pins are read before the first START and after
 * the last STOP (SDA or SCL low there: a stuck bus), and a bad-command echo at the end proves the
 * reply stream is in step. Recovery clocks 9 SCL pulses with SDA released, then a STOP, and reads
 * the pins.
 *
 * After a failure (resync): the reply stream is drained and checked with a sync; if that does not
 * answer, the engine is set up again from scratch; if even that fails the link closes and the
 * next open starts over. -ENODEV closes it as unplugged.
 *
 * Closing the link (an open failing after its first transfer started, a failed resync: mostly
 * found inside a transfer completion) closes the device at once (ftdi_usb_close, which never
 * waits): the usbfs handle is released and closed as soon as the host's event handling returns,
 * not inside the completion, because libusb_close there deadlocks on Linux (the usbfs backend
 * runs completions holding the lock that libusb_close takes; libusb 1.0.26). No dead fd and no
 * claimed interface are kept until the next poll. */
#ifndef LYNX_MPSSE_LINK_H
#define LYNX_MPSSE_LINK_H

#include "transport/bus_link.h"
#include "transport/mpsse/mpsse_i2c.h"
#include "transport/mpsse/ftdi_usb.h"

#define MPSSE_LINK_TIMEOUT_MS 200 /* one exchange (bulk OUT + its reply) */

/* at: the adapter and where it is (vid, pid, bcd_device, bus, address, serial: the link's name).
 * at->address 0: not placed (a configured adapter not found yet): open then completes nothing and
 * returns -ENOENT (unplugged) without any I/O, until mpsse_link_place. i2c_hz: requested SCL.
 * Returns 0, -EINVAL (rate out of range) or -ENOMEM. */
int mpsse_link_new(struct ftdi_usb_host *host, const struct ftdi_usb_device_info *at,
                   uint32_t i2c_hz, struct bus_link **out);

/* The adapter found (again) at `at` (a replug gets a new address): the next open opens it there.
 * NULL: gone (not placed; bus and address 0, the rest kept for describe). A link open at the
 * time stays open: its transfers fail with -ENODEV by themselves when the adapter is gone. */
void mpsse_link_place(struct bus_link *link, const struct ftdi_usb_device_info *at);
/* The adapter as placed or last opened (vid, pid, chip, bus, address, serial...). */
const struct ftdi_usb_device_info *mpsse_link_device(const struct bus_link *link);
/* The I2C clock chosen for the rate (and, once opened, the chip's drive mode). */
const struct mpsse_i2c_clock *mpsse_link_clock(const struct bus_link *link);

#endif
