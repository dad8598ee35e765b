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
static void close_device(struct ftdi_usb_device *dev, bool give_back);
static int open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at,
                   libusb_device_handle **handle);

/* Our transfers are cancelled and the interface released first (ftdi_usb_close), then ftdi_sio
 * goes back, on the same handle while it is open, else on the device at the same bus and
 * address (no serial read: a replugged adapter has a new address and ftdi_sio bound afresh). */
void ftdi_usb_device_free(struct ftdi_usb_device *dev)
{
    if (!dev)
        return;
    if (dev->handle)
        close_device(dev, dev->driver_detached);
    else if (dev->driver_detached)
        give_driver_back(dev);
    free(dev->closing);
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

/* ftdi_sio off interface 0, when it is bound there. */
static int detach_driver(struct ftdi_usb_device *dev)
{
    if (libusb_kernel_driver_active(dev->handle, FTDI_INTERFACE) != 1)
        return 0;
    log_info("ftdi %s: detaching the kernel driver (ftdi_sio) from interface 0",
             dev->info.port_path);
    int r = libusb_detach_kernel_driver(dev->handle, FTDI_INTERFACE);
    if (r == 0)
        dev->driver_detached = true;
    else if (r != LIBUSB_ERROR_NOT_FOUND)
        return ftdi_usb_fail_usb(dev, r, "detaching the kernel driver");
    return 0;
}

/* ftdi_sio is detached by hand, once, and stays detached while the daemon has the adapter: with
 * libusb's auto-detach every close (after each USB error, too) would hand the port back, its
 * ttyUSB node would come and go, and serial-starter would get a window each time.
 * ftdi_usb_device_free gives it back. Between the detach and the claim another program (a udev
 * rule, a `bind`) can bind ftdi_sio again: the claim then fails with BUSY, and detach and claim
 * are tried once more. driver_detached stays true only while ftdi_sio is really off because of
 * us. */
static int claim_interface(struct ftdi_usb_device *dev)
{
    for (int attempt = 0;; attempt++) {
        int r = detach_driver(dev);
        if (r < 0)
            return r;
        int config = 0;
        if (attempt == 0 && libusb_get_configuration(dev->handle, &config) == 0 && config != 1) {
            r = libusb_set_configuration(dev->handle, 1);
            if (r < 0)
                return ftdi_usb_fail_usb(dev, r, "selecting configuration 1");
        }
        r = libusb_claim_interface(dev->handle, FTDI_INTERFACE);
        if (r == 0)
            return 0;
        bool rebound =
            r == LIBUSB_ERROR_BUSY && libusb_kernel_driver_active(dev->handle, FTDI_INTERFACE) == 1;
        if (rebound)
            dev->driver_detached = false; /* bound again: no longer ours to give back */
        if (!rebound)
            return ftdi_usb_fail_usb(dev, r, "claiming interface 0");
        if (attempt == 1)
            return ftdi_usb_fail(dev, -EBUSY,
                                 "claiming interface 0: the kernel driver (ftdi_sio) was bound "
                                 "again right after each detach; another program binds it (a "
                                 "udev rule, serial-starter?)");
        log_info("ftdi %s: ftdi_sio was bound again before interface 0 could be claimed: "
                 "detaching it once more",
                 dev->info.port_path);
    }
}

/* The adapter is closed and the daemon lets go of it for good: the kernel driver it detached
 * goes back, through the device at the same bus and address. */
static void give_driver_back(struct ftdi_usb_device *dev)
{
    struct ftdi_usb_device_info at = dev->info;
    libusb_device_handle *handle;
    struct ftdi_usb_closing *c = calloc(1, sizeof(*c));
    dev->driver_detached = false;
    if (!c || open_at(dev, &at, &handle) < 0) {
        free(c);
        return; /* gone: a new plug binds it afresh */
    }
    c->handle = handle;
    c->give_back = true;
    memcpy(c->port_path, dev->info.port_path, sizeof(c->port_path));
    ftdi_usb_host_close_later(dev->host, c);
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

/* Before a handle exists: what closing it will take, so that a close cannot fail. */
static int can_open(struct ftdi_usb_device *dev)
{
    if (dev->handle)
        return ftdi_usb_fail(dev, -EBUSY, "adapter already open");
    if (!dev->closing && !(dev->closing = calloc(1, sizeof(*dev->closing))))
        return ftdi_usb_fail(dev, -ENOMEM, "allocating the device");
    return 0;
}

int ftdi_usb_open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at)
{
    int r = can_open(dev);
    if (r == 0)
        r = open_at(dev, at, &dev->handle);
    return r < 0 ? r : finish_open(dev);
}

int ftdi_usb_open(struct ftdi_usb_device *dev, uint16_t vid, uint16_t pid, const char *serial)
{
    int r = can_open(dev);
    if (r == 0)
        r = find_and_open(dev, vid, pid, serial, &dev->handle);
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
        r = ftdi_usb_fail(dev, -ENOMEM, "allocating the transfer buffers");
        close_device(dev, false);
        return r;
    }
    dev->rx_off = dev->rx_len = 0;
    log_debug("ftdi %s: opened %04x:%04x serial '%s', %zu-byte packets", dev->info.port_path,
              dev->info.vid, dev->info.pid, dev->info.serial, dev->packet_size);
    return 0;

fail_close:
    close_device(dev, false);
    return r;
}

static void LIBUSB_CALL on_closed_transfer(struct libusb_transfer *transfer)
{
    struct ftdi_usb_closing *c = transfer->user_data;
    c->in_flight = false; /* the host reaps it once its event handling returns */
}

/* Never waits: a transfer in flight is cancelled and handed, with the handle and its IN buffer, to
 * the host, which releases the interface, gives ftdi_sio back when asked, closes the handle and
 * frees the transfer once the cancelled transfer has come back (ftdi_usb_closing). */
static void close_device(struct ftdi_usb_device *dev, bool give_back)
{
    struct ftdi_usb_closing *c = dev->closing;
    c->handle = dev->handle;
    c->transfer = dev->op.transfer;
    c->rx = dev->rx;
    c->release = true;
    c->give_back = give_back;
    memcpy(c->port_path, dev->info.port_path, sizeof(c->port_path));
    ftdi_usb_clear_abandon(dev, c);
    if (dev->op.in_flight) {
        c->in_flight = true;
        c->transfer->user_data = c;
        c->transfer->callback = on_closed_transfer;
        libusb_cancel_transfer(c->transfer); /* when it fails, the transfer is ending anyway */
    }
    if (give_back)
        dev->driver_detached = false;
    dev->closing = NULL;
    dev->handle = NULL;
    dev->op = (struct ftdi_usb_op){.kind = FTDI_OP_NONE};
    dev->rx = NULL;
    dev->rx_capacity = dev->rx_off = dev->rx_len = 0;
    ftdi_usb_host_close_later(dev->host, c);
}

void ftdi_usb_close(struct ftdi_usb_device *dev)
{
    if (dev->handle)
        close_device(dev, false);
}
