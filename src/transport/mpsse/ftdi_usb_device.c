/* One device: opening an FTDI chip by VID:PID and serial (interface A claimed, the kernel's
 * ftdi_sio detached once and given back at the end), closing it, and what it was opened as. The
 * transfers on an opened device: ftdi_usb_async.c and ftdi_usb_sync.c. */
#include "transport/mpsse/ftdi_usb.h"

#include <errno.h>
#include <libusb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/mpsse/ftdi_usb_private.h"
#include "base/log.h"

struct ftdi_usb_device *ftdi_usb_device_new(struct ftdi_usb_host *host)
{
    struct ftdi_usb_device *dev = calloc(1, sizeof(*dev));
    if (dev)
        dev->host = host;
    return dev;
}

static void give_driver_back(struct ftdi_usb_device *dev);
static int open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at,
                   libusb_device_handle **handle);

void ftdi_usb_device_free(struct ftdi_usb_device *dev)
{
    if (!dev)
        return;
    give_driver_back(dev);
    ftdi_usb_close(dev);
    free(dev);
}

bool ftdi_usb_is_open(const struct ftdi_usb_device *dev)
{
    return dev->handle != NULL;
}

const struct ftdi_usb_device_info *ftdi_usb_opened_info(const struct ftdi_usb_device *dev)
{
    return &dev->info;
}

/* Opens the first device matching vid:pid and serial. Returns 0 with *handle set, -ENOENT, or
 * the error of a candidate that could not be opened (more useful than "not found"). */
static int find_and_open(struct ftdi_usb_device *dev, uint16_t vid, uint16_t pid,
                         const char *serial, libusb_device_handle **handle)
{
    libusb_device **list;
    ssize_t count = libusb_get_device_list(dev->host->usb, &list);
    if (count < 0)
        return ftdi_usb_fail_usb(dev, (int)count, "listing USB devices");

    bool any_serial = !serial || !serial[0];
    int candidate_code = 0; /* why the first candidate we could not check failed */
    const char *candidate_why = "", *candidate_reason = "";
    *handle = NULL;
    for (ssize_t i = 0; i < count && !*handle; i++) {
        struct libusb_device_descriptor desc;
        if (libusb_get_device_descriptor(list[i], &desc) < 0 || desc.idVendor != vid ||
            desc.idProduct != pid)
            continue;
        libusb_device_handle *h;
        int r = libusb_open(list[i], &h);
        if (r < 0) {
            if (candidate_code == 0) {
                candidate_code = ftdi_usb_code_from_libusb(r);
                candidate_why = "opening";
                candidate_reason = libusb_strerror(r);
            }
            continue;
        }
        char found_serial[FTDI_SERIAL_MAX];
        int sr = ftdi_usb_read_serial(h, &desc, found_serial, sizeof(found_serial));
        /* in any case: serials come from configuration files that users type */
        if (any_serial || (sr == 0 && strcasecmp(found_serial, serial) == 0)) {
            *handle = h;
            ftdi_usb_fill_info(list[i], &desc, &dev->info);
            memcpy(dev->info.serial, found_serial, sizeof(found_serial));
            dev->info.serial_status = sr;
        } else {
            if (sr < 0 && candidate_code == 0) {
                candidate_code = sr;
                candidate_why = "reading the serial of";
                candidate_reason = strerror(-sr);
            }
            libusb_close(h);
        }
    }
    libusb_free_device_list(list, 1);

    if (*handle)
        return 0;
    const char *which = any_serial ? "any" : serial;
    if (candidate_code)
        return ftdi_usb_fail(dev, candidate_code, "%s %04x:%04x (looking for serial %s): %s",
                             candidate_why, vid, pid, which, candidate_reason);
    return ftdi_usb_fail(dev, -ENOENT, "no adapter %04x:%04x with serial %s", vid, pid, which);
}

/* ftdi_sio is detached by hand, once, and stays detached while the daemon has the adapter: with
 * libusb's auto-detach every close (after each USB error, too) would hand the port back, its
 * ttyUSB node would come and go, and serial-starter would get a window each time.
 * ftdi_usb_device_free gives it back. */
static int claim_interface(struct ftdi_usb_device *dev)
{
    if (libusb_kernel_driver_active(dev->handle, FTDI_INTERFACE) == 1) {
        log_info("ftdi %s: detaching the kernel driver (ftdi_sio) from interface 0",
                 dev->info.port_path);
        int r = libusb_detach_kernel_driver(dev->handle, FTDI_INTERFACE);
        if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND)
            return ftdi_usb_fail_usb(dev, r, "detaching the kernel driver");
        dev->driver_detached = r == 0;
    }

    int config = 0;
    if (libusb_get_configuration(dev->handle, &config) == 0 && config != 1) {
        int r = libusb_set_configuration(dev->handle, 1);
        if (r < 0)
            return ftdi_usb_fail_usb(dev, r, "selecting configuration 1");
    }

    int r = libusb_claim_interface(dev->handle, FTDI_INTERFACE);
    if (r < 0)
        return ftdi_usb_fail_usb(dev, r, "claiming interface 0");
    return 0;
}

/* The daemon lets go of the adapter for good: the kernel driver it detached goes back. */
static void give_driver_back(struct ftdi_usb_device *dev)
{
    if (!dev->driver_detached)
        return;
    libusb_device_handle *handle = dev->handle;
    struct ftdi_usb_device_info at = dev->info;
    if (!handle && open_at(dev, &at, &handle) < 0) {
        dev->driver_detached = false;
        return; /* gone: a new plug binds it afresh */
    }
    if (dev->handle)
        libusb_release_interface(handle, FTDI_INTERFACE);
    int r = libusb_attach_kernel_driver(handle, FTDI_INTERFACE);
    if (r == 0)
        log_info("ftdi %s: kernel driver (ftdi_sio) attached again", dev->info.port_path);
    else
        log_warn("ftdi %s: cannot attach the kernel driver again: %s", dev->info.port_path,
                 libusb_strerror(r));
    dev->driver_detached = false;
    if (!dev->handle)
        libusb_close(handle);
}

/* The device at at's bus and address, when it has at's ids: 0 with *handle set, or a code. */
static int open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at,
                   libusb_device_handle **handle)
{
    *handle = NULL;
    if (!at || at->address == 0)
        return ftdi_usb_fail(dev, -ENOENT, "adapter %s not found",
                             at && at->serial[0] ? at->serial : "(no serial)");
    struct libusb_device_descriptor desc;
    libusb_device *usb_dev = ftdi_usb_find_at(dev->host, at->bus, at->address, &desc);
    if (!usb_dev)
        return ftdi_usb_fail(dev, -ENOENT, "no USB device at bus %u address %u (adapter %s gone)",
                             at->bus, at->address, at->serial);
    if (desc.idVendor != at->vid || desc.idProduct != at->pid) {
        libusb_unref_device(usb_dev);
        return ftdi_usb_fail(dev, -ENODEV,
                             "USB device at bus %u address %u is %04x:%04x, not %04x:%04x "
                             "(adapter %s gone)",
                             at->bus, at->address, desc.idVendor, desc.idProduct, at->vid, at->pid,
                             at->serial);
    }
    struct ftdi_usb_device_info found;
    ftdi_usb_fill_info(usb_dev, &desc, &found);
    int r = libusb_open(usb_dev, handle);
    libusb_unref_device(usb_dev);
    if (r < 0) {
        *handle = NULL;
        return ftdi_usb_fail_usb(dev, r, "opening the adapter");
    }
    dev->info = *at;
    if (dev->info.bcd_device == 0) {
        dev->info.bcd_device = found.bcd_device;
        dev->info.chip = found.chip;
    }
    if (!dev->info.port_path[0])
        memcpy(dev->info.port_path, found.port_path, sizeof(found.port_path));
    return 0;
}

static int finish_open(struct ftdi_usb_device *dev);

int ftdi_usb_open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at)
{
    if (dev->handle)
        return ftdi_usb_fail(dev, -EBUSY, "adapter already open");
    int r = open_at(dev, at, &dev->handle);
    return r < 0 ? r : finish_open(dev);
}

int ftdi_usb_open(struct ftdi_usb_device *dev, uint16_t vid, uint16_t pid, const char *serial)
{
    if (dev->handle)
        return ftdi_usb_fail(dev, -EBUSY, "adapter already open");
    int r = find_and_open(dev, vid, pid, serial, &dev->handle);
    return r < 0 ? r : finish_open(dev);
}

/* The device is open (dev->handle): the interface claimed, the transfer buffers allocated. */
static int finish_open(struct ftdi_usb_device *dev)
{
    int r = claim_interface(dev);
    if (r < 0)
        goto fail_close;

    int packet = libusb_get_max_packet_size(libusb_get_device(dev->handle), FTDI_EP_IN);
    dev->packet_size = packet > FTDI_STATUS_BYTES ? (size_t)packet : FTDI_DEFAULT_PACKET;
    dev->rx_capacity = FTDI_MAX_IN_TRANSFER / dev->packet_size * dev->packet_size;
    dev->rx = malloc(dev->rx_capacity);
    dev->op.transfer = libusb_alloc_transfer(0);
    if (!dev->rx || !dev->op.transfer) {
        free(dev->rx);
        dev->rx = NULL;
        libusb_free_transfer(dev->op.transfer);
        dev->op.transfer = NULL;
        r = ftdi_usb_fail(dev, -ENOMEM, "allocating the transfer buffers");
        goto fail_release;
    }
    dev->rx_off = dev->rx_len = 0;
    log_debug("ftdi %s: opened %04x:%04x serial '%s', %zu-byte packets", dev->info.port_path,
              dev->info.vid, dev->info.pid, dev->info.serial, dev->packet_size);
    return 0;

fail_release:
    libusb_release_interface(dev->handle, FTDI_INTERFACE);
fail_close:
    libusb_close(dev->handle);
    dev->handle = NULL;
    return r;
}

void ftdi_usb_close(struct ftdi_usb_device *dev)
{
    if (!dev->handle)
        return;
    ftdi_usb_cancel(dev);
    libusb_free_transfer(dev->op.transfer);
    dev->op.transfer = NULL;
    /* Fails harmlessly when the adapter is gone. */
    libusb_release_interface(dev->handle, FTDI_INTERFACE);
    libusb_close(dev->handle);
    dev->handle = NULL;
    free(dev->rx);
    dev->rx = NULL;
    dev->rx_capacity = dev->rx_off = dev->rx_len = 0;
}
