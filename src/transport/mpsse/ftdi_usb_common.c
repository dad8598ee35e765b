/* What every ftdi_usb file shares, at the bottom of them: the error codes and texts an ftdi_usb
 * device records, and the framing of bulk IN transfers (status bytes stripped, payload kept
 * pending for the next read), a device found by bus and address in libusb's list (no I/O), and
 * string descriptors as text. No transfers here. */
#include <errno.h>
#include <libusb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "transport/mpsse/ftdi_usb_private.h"

/* ---- errors ---- */

int ftdi_usb_code_from_libusb(int err)
{
    switch (err) {
    case LIBUSB_SUCCESS:
        return 0;
    case LIBUSB_ERROR_NO_DEVICE:
        return -ENODEV;
    case LIBUSB_ERROR_TIMEOUT:
        return -ETIMEDOUT;
    case LIBUSB_ERROR_ACCESS:
        return -EACCES;
    case LIBUSB_ERROR_BUSY:
        return -EBUSY;
    case LIBUSB_ERROR_NOT_FOUND:
        return -ENOENT;
    case LIBUSB_ERROR_PIPE:
        return -EPIPE;
    case LIBUSB_ERROR_OVERFLOW:
        return -EOVERFLOW;
    case LIBUSB_ERROR_NO_MEM:
        return -ENOMEM;
    case LIBUSB_ERROR_INTERRUPTED:
        return -EINTR;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return -ENOTSUP;
    case LIBUSB_ERROR_INVALID_PARAM:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static void format_error(char *dst, const char *fmt, va_list ap)
{
    vsnprintf(dst, ERROR_MAX, fmt, ap);
}

int ftdi_usb_fail(struct ftdi_usb_device *dev, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_error(dev->error, fmt, ap);
    va_end(ap);
    return code;
}

/* Records what failed with libusb's reason; NO_DEVICE gets a wording the log reader understands. */
int ftdi_usb_fail_usb(struct ftdi_usb_device *dev, int usb_err, const char *what)
{
    if (usb_err == LIBUSB_ERROR_NO_DEVICE)
        return ftdi_usb_fail(dev, -ENODEV, "%s: adapter gone (unplugged)", what);
    return ftdi_usb_fail(dev, ftdi_usb_code_from_libusb(usb_err), "%s: %s", what,
                         libusb_strerror(usb_err));
}

const char *ftdi_usb_error(const struct ftdi_usb_device *dev)
{
    return dev->error;
}

/* ---- bulk IN framing (the transfers themselves: ftdi_usb_async.c) ---- */

uint64_t ftdi_usb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Removes the status bytes at the start of every packet of one transfer, compacting the payload
 * to the front of buf. Returns the payload length. */
size_t ftdi_usb_strip_status_bytes(uint8_t *buf, size_t len, size_t packet_size)
{
    size_t payload = 0;
    for (size_t start = 0; start < len; start += packet_size) {
        size_t chunk = len - start < packet_size ? len - start : packet_size;
        if (chunk <= FTDI_STATUS_BYTES)
            continue;
        memmove(buf + payload, buf + start + FTDI_STATUS_BYTES, chunk - FTDI_STATUS_BYTES);
        payload += chunk - FTDI_STATUS_BYTES;
    }
    return payload;
}

size_t ftdi_usb_take_pending(struct ftdi_usb_device *dev, uint8_t *dst, size_t n)
{
    size_t avail = dev->rx_len - dev->rx_off;
    size_t take = avail < n ? avail : n;
    if (take == 0)
        return 0;
    memcpy(dst, dev->rx + dev->rx_off, take);
    dev->rx_off += take;
    return take;
}

size_t ftdi_usb_in_length(const struct ftdi_usb_device *dev, size_t wanted)
{
    size_t payload_per_packet = dev->packet_size - FTDI_STATUS_BYTES;
    size_t packets = (wanted + payload_per_packet - 1) / payload_per_packet;
    size_t length = packets * dev->packet_size;
    if (length == 0)
        length = dev->packet_size;
    return length > dev->rx_capacity ? dev->rx_capacity : length;
}

size_t ftdi_usb_pending(const struct ftdi_usb_device *dev)
{
    return dev->rx_len - dev->rx_off;
}

/* ---- finding a device, string descriptors ---- */

void ftdi_usb_decode_string(const uint8_t *desc, char *out, size_t size)
{
    size_t n = 0;
    for (int i = 2; i + 1 < desc[0] && n + 1 < size; i += 2)
        out[n++] = desc[i + 1] == 0 && desc[i] >= 0x20 && desc[i] < 0x7F ? (char)desc[i] : '?';
    out[n] = '\0';
}

libusb_device *ftdi_usb_find_at(struct ftdi_usb_host *host, uint8_t bus, uint8_t address,
                                struct libusb_device_descriptor *desc)
{
    libusb_device **list;
    ssize_t count = libusb_get_device_list(host->usb, &list);
    if (count < 0)
        return NULL;
    libusb_device *found = NULL;
    for (ssize_t i = 0; i < count && !found; i++)
        if (libusb_get_bus_number(list[i]) == bus &&
            libusb_get_device_address(list[i]) == address &&
            libusb_get_device_descriptor(list[i], desc) == 0)
            found = libusb_ref_device(list[i]);
    libusb_free_device_list(list, 1);
    return found;
}
