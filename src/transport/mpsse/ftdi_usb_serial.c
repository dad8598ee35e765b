/* The asynchronous serial read of ftdi_usb_host_read_serial (ftdi_usb.h): for a device whose sysfs
 * has no `serial` attribute. The usbfs node is opened (local), then two GET_DESCRIPTOR control
 * transfers run inside the host's event handling: the language ids, then the serial string. The
 * transfer is freed in its last callback and the handle closed as soon as libusb's event handling
 * returns (not in the callback: see struct ftdi_usb_closing); the read is over before the
 * caller's done runs, so done may start another read of the same device. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/mpsse/ftdi_usb_private.h"

#define STRING_MAX 255

struct ftdi_usb_serial_read {
    struct ftdi_usb_serial_read *next;
    struct ftdi_usb_host *host;
    uint8_t bus, address;
    uint8_t index; /* iSerialNumber */
    bool langids_done;
    bool cancelled; /* the host goes: done is not called */
    libusb_device_handle *handle;
    struct libusb_transfer *transfer;
    struct ftdi_usb_closing *closing; /* allocated at the start: the end cannot fail */
    void (*done)(void *user, int rc, const char *serial);
    void *user;
    uint8_t buf[LIBUSB_CONTROL_SETUP_SIZE + STRING_MAX];
};

static void LIBUSB_CALL on_string(struct libusb_transfer *transfer);

static void unlink_read(struct ftdi_usb_serial_read *sr)
{
    for (struct ftdi_usb_serial_read **p = &sr->host->serial_reads; *p; p = &(*p)->next)
        if (*p == sr) {
            *p = sr->next;
            return;
        }
}

static int submit_string(struct ftdi_usb_serial_read *sr, uint8_t index, uint16_t langid)
{
    libusb_fill_control_setup(sr->buf, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
                              (uint16_t)(LIBUSB_DT_STRING << 8 | index), langid, STRING_MAX);
    libusb_fill_control_transfer(sr->transfer, sr->handle, sr->buf, on_string, sr,
                                 FTDI_CONTROL_TIMEOUT_MS);
    int r = libusb_submit_transfer(sr->transfer);
    return r < 0 ? ftdi_usb_code_from_libusb(r) : 0;
}

static int transfer_code(const struct libusb_transfer *t)
{
    switch (t->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        return 0;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return -ETIMEDOUT;
    case LIBUSB_TRANSFER_STALL:
        return -EPIPE;
    case LIBUSB_TRANSFER_NO_DEVICE:
        return -ENODEV;
    case LIBUSB_TRANSFER_CANCELLED:
        return -ECANCELED;
    case LIBUSB_TRANSFER_OVERFLOW:
        return -EOVERFLOW;
    case LIBUSB_TRANSFER_ERROR:
        break;
    }
    return -EIO;
}

/* The string descriptor that arrived, checked: its length, or -EIO. */
static int string_length(const struct libusb_transfer *t)
{
    const uint8_t *d = libusb_control_transfer_get_data((struct libusb_transfer *)t);
    if (t->actual_length < 2 || d[1] != LIBUSB_DT_STRING || d[0] > t->actual_length)
        return -EIO;
    return d[0];
}

static void LIBUSB_CALL on_string(struct libusb_transfer *transfer)
{
    struct ftdi_usb_serial_read *sr = transfer->user_data;
    const uint8_t *d = libusb_control_transfer_get_data(transfer);
    char serial[FTDI_SERIAL_MAX] = "";
    int rc = sr->cancelled ? -ECANCELED : transfer_code(transfer);
    if (rc == 0)
        rc = string_length(transfer) < 0 ? -EIO : 0;
    if (rc == 0 && !sr->langids_done) {
        if (d[0] < 4) {
            rc = -EIO;
        } else {
            sr->langids_done = true;
            rc = submit_string(sr, sr->index, (uint16_t)(d[2] | d[3] << 8));
            if (rc == 0)
                return; /* the string itself next */
        }
    } else if (rc == 0) {
        ftdi_usb_decode_string(d, serial, sizeof(serial));
    }

    /* The end: the read goes first, so done may start another one of the same device. The
     * handle is closed once libusb's event handling has returned (ftdi_usb_host_reap). */
    void (*done)(void *, int, const char *) = sr->cancelled ? NULL : sr->done;
    void *user = sr->user;
    struct ftdi_usb_host *host = sr->host;
    struct ftdi_usb_closing *c = sr->closing;
    c->handle = sr->handle;
    unlink_read(sr);
    libusb_free_transfer(transfer); /* legal in its own callback */
    free(sr);
    ftdi_usb_host_close_later(host, c);
    if (done)
        done(user, rc, serial);
}

int ftdi_usb_host_read_serial(struct ftdi_usb_host *host, uint8_t bus, uint8_t address,
                              void (*done)(void *user, int rc, const char *serial), void *user)
{
    for (const struct ftdi_usb_serial_read *sr = host->serial_reads; sr; sr = sr->next)
        if (sr->bus == bus && sr->address == address)
            return -EBUSY;
    struct libusb_device_descriptor desc;
    libusb_device *usb_dev = ftdi_usb_find_at(host, bus, address, &desc);
    if (!usb_dev)
        return -ENOENT;
    if (desc.iSerialNumber == 0) {
        libusb_unref_device(usb_dev);
        return -ENODATA;
    }
    struct ftdi_usb_serial_read *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        libusb_unref_device(usb_dev);
        return -ENOMEM;
    }
    *sr = (struct ftdi_usb_serial_read){
        .host = host, .bus = bus, .address = address, .index = desc.iSerialNumber};
    sr->done = done;
    sr->user = user;
    int r = libusb_open(usb_dev, &sr->handle);
    libusb_unref_device(usb_dev);
    if (r < 0) {
        free(sr);
        return ftdi_usb_code_from_libusb(r);
    }
    int rc = -ENOMEM;
    sr->transfer = libusb_alloc_transfer(0);
    sr->closing = calloc(1, sizeof(*sr->closing));
    if (sr->transfer && sr->closing)
        rc = submit_string(sr, 0, 0);
    if (rc < 0) {
        libusb_free_transfer(sr->transfer);
        free(sr->closing);
        libusb_close(sr->handle); /* not in a callback: the caller's own call */
        free(sr);
        return rc;
    }
    sr->next = host->serial_reads;
    host->serial_reads = sr;
    return 0;
}

void ftdi_usb_serial_reads_cancel(struct ftdi_usb_host *host)
{
    for (struct ftdi_usb_serial_read *sr = host->serial_reads; sr; sr = sr->next) {
        sr->cancelled = true;
        libusb_cancel_transfer(sr->transfer);
    }
}
