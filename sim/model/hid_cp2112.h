/* What Linux's hid-cp2112 (drivers/hid/hid-cp2112.c, 6.1) does with a CP2112, played against
 * the CP2112 model (cp2112.h) through its USB operations, without a kernel: the probe's requests,
 * and an I2C transfer as cp2112_i2c_xfer() makes it. The i2c-dev engine uses it for an
 * `i2c-adapter ... driver=hid-cp2112`, so a client of /dev/i2c-N meets a CP2112's answers as the
 * real driver turns them into errnos (the kernel-in-the-loop suite checks the same through QEMU).
 *
 * The driver's rules, in its order:
 *   - one message: a read of 1-512 bytes (else EINVAL) is a 0x10 read request, a write of up to
 *     61 bytes (else EINVAL) a 0x14 write request (a write of 0 bytes goes out as such);
 *   - two messages, a write of up to 16 bytes then a read of 1-512 from the same address, on a
 *     chip whose version is above 1: a 0x11 write-read request (else EINVAL);
 *   - anything else: EOPNOTSUPP ("Multi-message I2C transactions not supported");
 *   - a failed interrupt OUT transfer: its USB errno (EPIPE for a stall);
 *   - then up to 10 transfer status requests (each a USB frame, 1 ms here), each answer awaited
 *     for at most 50 ms (ETIMEDOUT); idle: EAGAIN; busy: ask again, and after the 10th a cancel
 *     (0x17) and ETIMEDOUT; complete: go on; error with status 1 = 0x00 or 0x01: ETIMEDOUT,
 *     any other: EIO;
 *   - reads: 0x12 force sends of at most 61 bytes until the message is full; a response of 0
 *     bytes, or more than asked: EIO.
 * Returns the number of messages. Time goes on in *now_ns as it does on the USB; it never goes
 * back (a request may come before the time a previous one ran up to). */
#ifndef SIM_HID_CP2112_H
#define SIM_HID_CP2112_H

#include <stdint.h>

#include "model/cp2112.h"
#include "model/i2c_master.h"

/* cp2112_functionality(): I2C, and SMBus byte, byte data, word data, block data, I2C block,
 * process call and block process call (no quick). */
unsigned long sim_hid_cp2112_funcs(void);

/* cp2112_probe() after usbhid's SET_IDLE: version, SMBus configuration read and written back
 * with a retry count of 1, lock byte. Returns 0 or the failed request's -errno. */
int sim_hid_cp2112_probe(struct sim_cp2112 *chip, uint64_t *now_ns);

/* cp2112_i2c_xfer(): see above. */
int sim_hid_cp2112_i2c_xfer(struct sim_cp2112 *chip, struct sim_i2c_msg *msgs, unsigned n,
                            uint64_t *now_ns);

#endif
