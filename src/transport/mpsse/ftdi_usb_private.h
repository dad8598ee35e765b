/* What the ftdi_usb files share: the objects and the helpers one file gives the ones above it. Not
 * for other modules. The files, each using only those listed before it:
 *   ftdi_usb_common.c  errors, bulk IN framing and pending payload
 *   ftdi_usb_host.c    the libusb context: enumeration, serial numbers, hot-plug, event handling
 *   ftdi_usb_async.c   the asynchronous operations on an opened device
 *   ftdi_usb_sync.c    the same operations, waited for
 *   ftdi_usb_device.c  opening and closing one device */
#ifndef LYNX_FTDI_USB_PRIVATE_H
#define LYNX_FTDI_USB_PRIVATE_H

#include <libusb.h>

#include "transport/mpsse/ftdi_usb.h"

/* FTDI vendor requests (bmRequestType 0x40 host-to-device, vendor, device). */
#define FTDI_REQ_OUT            (LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE | LIBUSB_ENDPOINT_OUT)
#define FTDI_REQ_RESET          0x00
#define FTDI_REQ_SET_EVENT_CHAR 0x06
#define FTDI_REQ_SET_ERROR_CHAR 0x07
#define FTDI_REQ_SET_LATENCY    0x09
#define FTDI_REQ_SET_BITMODE    0x0B

#define FTDI_RESET_SIO       0
#define FTDI_PURGE_TO_CHIP   1 /* host-to-chip FIFO: commands not yet executed */
#define FTDI_PURGE_FROM_CHIP 2 /* chip-to-host FIFO: replies not yet read */

#define FTDI_BITMODE_RESET 0x00
#define FTDI_BITMODE_MPSSE 0x02

#define FTDI_INTERFACE      0
#define FTDI_PORT_A_INDEX   1 /* wIndex of vendor requests: port A */
#define FTDI_EP_OUT         0x02
#define FTDI_EP_IN          0x81
#define FTDI_STATUS_BYTES   2
#define FTDI_DEFAULT_PACKET 512

/* Largest bulk IN transfer: 32 high-speed packets, 16320 payload bytes. A Lynx scan reply is a
 * few bytes; bigger replies simply take several transfers. */
#define FTDI_MAX_IN_TRANSFER 16384

#define FTDI_CONTROL_TIMEOUT_MS 1000
#define SERIAL_TIMEOUT_MS       100 /* each of the two requests that read a serial number */

#define ERROR_MAX 256

/* The device's one asynchronous operation (ftdi_usb_async.c). */
enum ftdi_usb_op_kind {
    FTDI_OP_NONE,
    FTDI_OP_SETUP,    /* the control requests of ftdi_usb_mpsse_setup */
    FTDI_OP_EXCHANGE, /* one bulk OUT, then bulk INs until in_len payload bytes */
    FTDI_OP_DRAIN,    /* purge both buffers, then bulk INs until a bare status packet */
};

struct ftdi_usb_op {
    enum ftdi_usb_op_kind kind;
    unsigned step;
    struct libusb_transfer *transfer; /* one per device, reused; allocated at open */
    bool in_flight;                   /* transfer submitted, its callback not run yet */
    bool cancelled;                   /* closing: the callback only frees */
    uint8_t control[LIBUSB_CONTROL_SETUP_SIZE];
    const uint8_t *out;
    size_t out_len;
    uint8_t *in;
    size_t in_len, got, discarded;
    unsigned latency_ms;
    uint64_t deadline_ms;
    ftdi_usb_done_fn done;
    void *user;
};

struct ftdi_usb_host {
    libusb_context *usb;
    ftdi_usb_pollfd_added_fn pollfd_added;
    ftdi_usb_pollfd_removed_fn pollfd_removed;
    void *pollfd_user;
    char error[ERROR_MAX];
};

struct ftdi_usb_device {
    struct ftdi_usb_host *host;
    libusb_device_handle *handle;
    struct ftdi_usb_device_info info;
    size_t packet_size;
    /* One bulk IN transfer lands here; it is then compacted in place to payload only, of which
     * rx[rx_off, rx_len) has not been handed out yet. */
    uint8_t *rx;
    size_t rx_capacity;
    size_t rx_off, rx_len;
    char error[ERROR_MAX];
    bool driver_detached; /* we detached ftdi_sio: given back by ftdi_usb_device_free */
    struct ftdi_usb_op op;
};

/* ---- ftdi_usb_common.c ---- */

int ftdi_usb_code_from_libusb(int err);
/* Records the reason in dev->error; returns code. */
int ftdi_usb_fail(struct ftdi_usb_device *dev, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with libusb's reason; NO_DEVICE gets a wording the log reader understands. */
int ftdi_usb_fail_usb(struct ftdi_usb_device *dev, int usb_err, const char *what);
uint64_t ftdi_usb_now_ms(void);
/* Strips the status bytes of every packet of one IN transfer in place; returns the payload. */
size_t ftdi_usb_strip_status_bytes(uint8_t *buf, size_t len, size_t packet_size);
/* Hands out up to n bytes of received payload not yet handed out. */
size_t ftdi_usb_take_pending(struct ftdi_usb_device *dev, uint8_t *dst, size_t n);
/* The length of one bulk IN transfer that holds `wanted` payload bytes (whole packets). */
size_t ftdi_usb_in_length(const struct ftdi_usb_device *dev, size_t wanted);

/* ---- ftdi_usb_host.c ---- */

/* ids, chip, bus, address and port path of a device from its descriptor; serial left empty. */
void ftdi_usb_fill_info(libusb_device *usb_dev, const struct libusb_device_descriptor *desc,
                        struct ftdi_usb_device_info *info);
/* The serial string of an open device: 0 or a negative code; "" when it has none. */
int ftdi_usb_read_serial(libusb_device_handle *handle, const struct libusb_device_descriptor *desc,
                         char *serial, size_t size);

#endif
