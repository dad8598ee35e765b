/* The Silicon Labs CP2112 (HID USB to SMBus/I2C bridge) as a USB device, after Silicon Labs
 * AN495 ("CP2112 Interface Specification"): 10c4:ea90, full speed, one HID interface with an
 * interrupt IN endpoint 0x81 and an interrupt OUT endpoint 0x01 (64-byte reports, bInterval 1).
 * Linux's hid-cp2112 makes /dev/i2c-N of it.
 *
 * Feature reports (HID GET_REPORT / SET_REPORT on endpoint 0): 0x01 reset, 0x02-0x04 GPIO,
 * 0x05 version (part number 0x0C, device version), 0x06 SMBus configuration (13 bytes, stored
 * and returned), 0x20 lock byte, 0x21 USB configuration, 0x22-0x24 manufacturer, product and
 * serial strings (read only here). Interrupt reports: OUT 0x10 data read request, 0x11 data
 * write-read request (repeated START), 0x12 data read force send, 0x14 data write request,
 * 0x15 transfer status request, 0x17 cancel; IN 0x13 data read response (up to 61 bytes) and
 * 0x16 transfer status response (status 0, status 1, retries, bytes read; big-endian).
 *
 * Transfers are clocked onto the simulated I2C bus bit by bit by the shared master
 * (i2c_master.h), at the clock of the SMBus configuration (up to 100 kHz: standard-mode timing,
 * above: fast-mode). A transfer takes its bus time: a status request before its end answers
 * busy. What the chip reports comes from what happened on the bus:
 *   - the bus not free (SDA or SCL held low when the START is due): the chip waits, busy, until
 *     the bus frees, a read/write timeout of the configuration (0 = none) ends it with error
 *     0x01 "timeout, bus not free", or the SCL low timeout (when enabled, SCL low for 25 ms) does;
 *   - an address NACK, arbitration lost, a data byte written not acknowledged: the transfer is
 *     retried as many times as the configuration's retry count says (0 = for ever, one attempt
 *     at each host request, until a timeout), then ends with error 0x00 "timeout, address
 *     NACKed", 0x02 "arbitration lost" or 0x04 "write incomplete";
 *   - success: complete (status 0 = 0x02) at the first attempt; after retries, error with
 *     status 1 = 0x05 "succeeded after retries" (Silicon Labs' SLABHIDtoSMBus.h: "complete" is
 *     "without error and without retry", 0x05 is listed among the errors);
 *   - SCL held low in the middle of a transfer: busy until the SCL low timeout (error 0x01) or
 *     the read/write timeout (error 0x03 "read incomplete" / 0x04 "write incomplete", with the
 *     bytes read so far); the model does not resume a transfer a slave stalled.
 * Read data wait in the chip's 512-byte buffer for a 0x12 force send (or leave on their own with
 * auto send read on); each 0x13 report carries up to 61 of them.
 *
 * Where AN495 is silent, the model chooses (and says so in cp2112.c): a request the chip cannot
 * take (a read of 0 or more than 512 bytes, a write of 0 or more than 61, a target address of 0
 * or more than 16 bytes, an odd slave address) is dropped and the status goes idle; a request
 * while a transfer is busy is dropped and the running one goes on; a status of a finished
 * transfer stays until the next request or a cancel.
 *
 * The model is not thread-safe (callers hold the hardware lock). Time is passed in. */
#ifndef SIM_CP2112_H
#define SIM_CP2112_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/i2c_bus.h"
#include "model/usb_model.h"

#define SIM_CP2112_VID         0x10C4
#define SIM_CP2112_PID         0xEA90
#define SIM_CP2112_EP_IN       0x81
#define SIM_CP2112_EP_OUT      0x01
#define SIM_CP2112_REPORT_MAX  64
#define SIM_CP2112_PART_NUMBER 0x0C
#define SIM_CP2112_READ_MAX    512 /* one read request */
#define SIM_CP2112_WRITE_MAX   61  /* one write request, one read response */
#define SIM_CP2112_TARGET_MAX  16  /* the write part of a write-read request */

enum sim_cp2112_report {
    SIM_CP2112_RESET = 0x01,
    SIM_CP2112_GPIO_CONFIG = 0x02,
    SIM_CP2112_GPIO_GET = 0x03,
    SIM_CP2112_GPIO_SET = 0x04,
    SIM_CP2112_VERSION = 0x05,
    SIM_CP2112_SMBUS_CONFIG = 0x06,
    SIM_CP2112_READ_REQUEST = 0x10,
    SIM_CP2112_WRITE_READ_REQUEST = 0x11,
    SIM_CP2112_READ_FORCE_SEND = 0x12,
    SIM_CP2112_READ_RESPONSE = 0x13,
    SIM_CP2112_WRITE_REQUEST = 0x14,
    SIM_CP2112_STATUS_REQUEST = 0x15,
    SIM_CP2112_STATUS_RESPONSE = 0x16,
    SIM_CP2112_CANCEL = 0x17,
    SIM_CP2112_LOCK_BYTE = 0x20,
    SIM_CP2112_USB_CONFIG = 0x21,
    SIM_CP2112_MANUFACTURER = 0x22,
    SIM_CP2112_PRODUCT = 0x23,
    SIM_CP2112_SERIAL = 0x24,
};

/* Transfer status response 0x16, status 0 */
enum { SIM_CP2112_IDLE = 0, SIM_CP2112_BUSY = 1, SIM_CP2112_COMPLETE = 2, SIM_CP2112_ERROR = 3 };
/* status 1 while busy */
enum {
    SIM_CP2112_BUSY_ADDRESS_ACKED = 0,
    SIM_CP2112_BUSY_ADDRESS_NACKED = 1,
    SIM_CP2112_BUSY_READING = 2,
    SIM_CP2112_BUSY_WRITING = 3,
};
/* status 1 after an error */
enum {
    SIM_CP2112_TIMEOUT_NACK = 0,
    SIM_CP2112_TIMEOUT_BUS = 1,
    SIM_CP2112_ARBITRATION_LOST = 2,
    SIM_CP2112_READ_INCOMPLETE = 3,
    SIM_CP2112_WRITE_INCOMPLETE = 4,
    SIM_CP2112_SUCCESS_AFTER_RETRIES = 5,
};

#define SIM_CP2112_SCL_LOW_TIMEOUT_MS 25

struct sim_cp2112_config {
    uint16_t vid, pid;  /* 0 = 10c4:ea90 */
    const char *serial; /* NULL or "" = no serial string (iSerialNumber 0) */
    uint8_t version;    /* the 0x05 report's device version; 0 = 2 (hid-cp2112 needs > 1 for
                           write-read with a repeated START) */
};

struct sim_cp2112_stats {
    uint64_t control_in, control_out; /* control transfers served, by data direction */
    uint64_t reports_out, reports_in; /* interrupt reports received and sent */
    uint64_t transfers;               /* read, write-read and write requests taken */
    uint64_t rejected;                /* requests dropped: out of range, or while busy */
    uint64_t status_requests;
    uint64_t cancels;
    uint64_t retries;     /* attempts after the first, over all transfers */
    uint64_t errors;      /* transfers that ended with status 0 = error */
    uint64_t stalled;     /* interrupt transfers failed by usb-error */
    uint64_t hung;        /* IN transfers held by usb-timeout */
    uint64_t scl_periods; /* the master's, as the MPSSE engine counts them */
    uint64_t bus_time_ns;
};

struct sim_cp2112;

/* bus: the I2C bus it masters (not owned). Copies the strings. NULL when out of memory. */
struct sim_cp2112 *sim_cp2112_new(const struct sim_cp2112_config *cfg, struct sim_i2c_bus *bus);
void sim_cp2112_free(struct sim_cp2112 *dev);

/* Power-on state (the SMBus and GPIO configuration, no transfer, nothing queued); armed faults
 * stay armed, as on the FTDI model. A replug does this; so does the reset feature report. */
void sim_cp2112_reset(struct sim_cp2112 *dev);

const struct sim_cp2112_config *sim_cp2112_config(const struct sim_cp2112 *dev);
const struct sim_cp2112_stats *sim_cp2112_stats(const struct sim_cp2112 *dev);

/* --- faults (fixtures/README.md); each call replaces the count armed before, 0 disarms --- */

/* usb-error: the next count interrupt transfers (either direction) stall. */
void sim_cp2112_fail_interrupt(struct sim_cp2112 *dev, unsigned count);
/* usb-timeout: the next count interrupt IN transfers never complete (until cancelled); the
 * reports queued stay for the transfers after them. */
void sim_cp2112_hang_interrupt_in(struct sim_cp2112 *dev, unsigned count);
/* control-error / control-timeout: the next count control transfers stall / never complete. */
void sim_cp2112_fail_control(struct sim_cp2112 *dev, unsigned count);
void sim_cp2112_hang_control(struct sim_cp2112 *dev, unsigned count);
/* string-error: the next read of the serial-number string descriptor stalls, once. */
void sim_cp2112_fail_serial_string(struct sim_cp2112 *dev);

/* The USB face of the chip for any front end (usb_model.h): dev is a struct sim_cp2112 *. */
extern const struct sim_usb_model_ops sim_cp2112_usb_ops;

#endif
