/* What the ftdi_usb files share: the objects and the helpers one file gives the ones above it. Not
 * for other modules. The files, each using only those listed before it:
 *   ftdi_usb_common.c  errors, bulk IN framing and pending payload, a device found by address
 *   ftdi_usb_reap.c    handles closed once libusb's event handling has returned
 *   ftdi_usb_serial.c  the asynchronous serial read of a device not opened (host-level)
 *   ftdi_usb_halt.c    stalled endpoints cleared on the host's worker thread
 *   ftdi_usb_host.c    the libusb context: enumeration, serial numbers, hot-plug, event handling
 *   ftdi_usb_async.c   the asynchronous operations on an opened device
 *   ftdi_usb_sync.c    the same operations, waited for
 *   ftdi_usb_device.c  opening and closing one device */
#ifndef LYNX_FTDI_USB_PRIVATE_H
#define LYNX_FTDI_USB_PRIVATE_H

#include <libusb.h>

#include "transport/mpsse/ftdi_usb.h"
#include "base/worker.h"

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

struct ftdi_usb_serial_read;
struct ftdi_usb_clear;

/* A handle being closed, with the transfer it may still have in flight (cancelled). libusb_close
 * must not run inside a transfer callback: Linux's usbfs backend runs the callbacks with the
 * context's open_devs_lock held, and libusb_close takes that lock (a self-deadlock, seen with
 * libusb 1.0.26). So a close is done by ftdi_usb_host_reap() when no event handling is under way
 * on the host and the transfer has come back: at once outside the event handling, else as soon
 * as libusb's event handling returns, in the same ftdi_usb_host_handle_events() call. Nothing
 * waits for it. */
struct ftdi_usb_closing {
    struct ftdi_usb_closing *next;
    libusb_device_handle *handle;
    struct libusb_transfer *transfer; /* NULL, or the transfer the handle had (freed here) */
    bool in_flight;                   /* transfer cancelled, its callback not run yet */
    bool clearing;                    /* a clear-halt on the handle runs on the worker */
    uint8_t *rx;                      /* the IN buffer the transfer may still write to */
    bool release;                     /* interface 0 claimed: released first */
    bool give_back;                   /* then ftdi_sio attached again */
    char port_path[FTDI_PORT_PATH_MAX];
};

struct ftdi_usb_host {
    libusb_context *usb;
    struct ftdi_usb_serial_read *serial_reads; /* running (ftdi_usb_serial.c) */
    struct ftdi_usb_closing *closing;          /* handles to close (ftdi_usb_host_reap) */
    unsigned handling;                         /* libusb event handling under way (nesting) */
    struct worker *worker;                     /* runs libusb_clear_halt (ftdi_usb_halt.c) */
    struct ftdi_usb_clear *clears;             /* queued; the first runs when clear_running */
    bool clear_running;
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
    bool driver_detached; /* ftdi_sio detached by us and not bound since: given back at the end */
    struct ftdi_usb_op op;
    struct ftdi_usb_closing *closing; /* while open: what ftdi_usb_close hands to the host */
    struct ftdi_usb_clear *clear;     /* the clear-halt of the operation under way, or NULL */
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

/* A string descriptor (desc[0] its checked length) as ASCII: anything but printable ASCII becomes
 * '?' (serials reach logs and D-Bus). */
void ftdi_usb_decode_string(const uint8_t *desc, char *out, size_t size);
/* The device at bus/address in libusb's list (no device I/O), referenced (libusb_unref_device),
 * with its cached descriptor in *desc; NULL when there is none. */
libusb_device *ftdi_usb_find_at(struct ftdi_usb_host *host, uint8_t bus, uint8_t address,
                                struct libusb_device_descriptor *desc);

/* ---- ftdi_usb_reap.c ---- */

/* Handles libusb's events for up to *tv (libusb_handle_events_timeout_completed), then reaps
 * the closes that became possible. Every event handling on the host goes through here. */
int ftdi_usb_host_events(struct ftdi_usb_host *host, struct timeval *tv);
/* Takes c (allocated by the caller) and closes it at once when possible, else later. */
void ftdi_usb_host_close_later(struct ftdi_usb_host *host, struct ftdi_usb_closing *c);
/* Closes what can be closed now (see struct ftdi_usb_closing). */
void ftdi_usb_host_reap(struct ftdi_usb_host *host);
/* Closes everything, also handles whose transfer has not come back (the host goes; closing the
 * usbfs file makes the kernel kill its URBs). */
void ftdi_usb_host_reap_all(struct ftdi_usb_host *host);

/* ---- ftdi_usb_serial.c ---- */

/* Cancels the running serial reads (their done is not called): the host is being freed. */
void ftdi_usb_serial_reads_cancel(struct ftdi_usb_host *host);

/* ---- ftdi_usb_halt.c ---- */

/* The operation's bulk transfer on endpoint stalled: the halt is cleared on the host's worker
 * thread, then then(dev, -EPIPE) ends the operation on the loop's thread. 0 when queued. */
int ftdi_usb_clear_halt_later(struct ftdi_usb_device *dev, uint8_t endpoint,
                              void (*then)(struct ftdi_usb_device *dev, int rc));
/* Starts the next clear on the worker, unless one runs or libusb's event handling is under way
 * (the host calls it when that has returned). */
void ftdi_usb_clears_start(struct ftdi_usb_host *host);
/* The device closes: its clear is dropped when queued, or, when running, closing waits for it. */
void ftdi_usb_clear_abandon(struct ftdi_usb_device *dev, struct ftdi_usb_closing *closing);
/* The host goes: frees the queue (the worker's job, if any, is no longer waited for). */
void ftdi_usb_clears_free(struct ftdi_usb_host *host);

/* ---- ftdi_usb_host.c ---- */

/* ids, chip, bus, address and port path of a device from its descriptor; serial left empty. */
void ftdi_usb_fill_info(libusb_device *usb_dev, const struct libusb_device_descriptor *desc,
                        struct ftdi_usb_device_info *info);
/* The serial string of an open device: 0 or a negative code; "" when it has none. */
int ftdi_usb_read_serial(libusb_device_handle *handle, const struct libusb_device_descriptor *desc,
                         char *serial, size_t size);

/* ---- ftdi_usb_async.c ---- */

/* Ends the operation under way with rc: its done is called (and may start the next one). */
void ftdi_usb_op_finish(struct ftdi_usb_device *dev, int rc);
#endif
