/* The host: one libusb context and what concerns every device on it, not one opened device:
 * finding the FTDI chips (enumeration, the chip from bcdDevice, the serial string), hot-plug, and
 * the poll fds and event handling of the caller's loop. */
#include "transport/mpsse/ftdi_usb.h"

#include <errno.h>
#include <libusb.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/mpsse/ftdi_usb_private.h"

const struct usb_id ftdi_usb_default_ids[] = {
    {FTDI_VID, FTDI_LYNX_ADAPTER_PID},
    {FTDI_VID, FTDI_FT232H_PID},
};
const size_t ftdi_usb_default_ids_count =
    sizeof(ftdi_usb_default_ids) / sizeof(ftdi_usb_default_ids[0]);

struct ftdi_usb_hotplug {
    struct ftdi_usb_host *host;
    libusb_hotplug_callback_handle handle;
    struct usb_id *ids;
    size_t ids_count;
    ftdi_usb_hotplug_fn fn;
    void *user;
};

static int __attribute__((format(printf, 3, 4)))
host_fail(struct ftdi_usb_host *host, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(host->error, sizeof(host->error), fmt, ap);
    va_end(ap);
    return code;
}

const char *ftdi_usb_host_error(const struct ftdi_usb_host *host)
{
    return host->error;
}

/* ---- host ---- */

int ftdi_usb_host_new(struct ftdi_usb_host **out)
{
    *out = NULL;
    struct ftdi_usb_host *host = calloc(1, sizeof(*host));
    if (!host)
        return -ENOMEM;
    int r = libusb_init(&host->usb);
    if (r < 0) {
        int code = ftdi_usb_code_from_libusb(r);
        free(host);
        return code;
    }
    /* the worker (ftdi_usb_halt.c) starts with the first stall: no thread for a healthy bus */
    *out = host;
    return 0;
}

/* libusb's events, then the clear-halts that its callbacks queued (ftdi_usb_halt.c). */
static int events(struct ftdi_usb_host *host, struct timeval *tv)
{
    int r = ftdi_usb_host_events(host, tv);
    ftdi_usb_clears_start(host);
    return r;
}

/* The end of the host, once nothing runs on its handles any more. */
static void host_teardown(void *arg)
{
    struct ftdi_usb_host *host = arg;
    ftdi_usb_host_reap_all(host);
    ftdi_usb_clears_free(host);
    libusb_exit(host->usb);
    free(host);
}

void ftdi_usb_host_free(struct ftdi_usb_host *host)
{
    if (!host)
        return;
    ftdi_usb_serial_reads_cancel(host);
    /* What was cancelled comes back at once (usbfs discards synchronously), but only through
     * event handling: done here, bounded, as the host goes away. */
    struct timeval tick = {0, 100000};
    for (int i = 0; i < 20 && (host->serial_reads || host->closing); i++) {
        if (host->worker)
            worker_dispatch(host->worker);
        events(host, &tick);
    }
    libusb_set_pollfd_notifiers(host->usb, NULL, NULL, NULL);
    host->pollfd_added = NULL;
    host->pollfd_removed = NULL;
    /* A clear-halt still stuck in the kernel is not waited for: the worker's thread tears the
     * context down once it has returned (worker_free's release). */
    if (host->clear_running) {
        worker_free(host->worker, host_teardown, host);
        return;
    }
    worker_free(host->worker, NULL, NULL);
    host_teardown(host);
}

enum ftdi_usb_chip ftdi_usb_chip_from_bcd(uint16_t bcd_device)
{
    switch (bcd_device) {
    case 0x0700:
        return FTDI_CHIP_FT2232H;
    case 0x0800:
        return FTDI_CHIP_FT4232H;
    case 0x0900:
        return FTDI_CHIP_FT232H;
    default:
        return FTDI_CHIP_UNKNOWN;
    }
}

const char *ftdi_usb_chip_name(enum ftdi_usb_chip chip)
{
    switch (chip) {
    case FTDI_CHIP_FT2232H:
        return "FT2232H";
    case FTDI_CHIP_FT4232H:
        return "FT4232H";
    case FTDI_CHIP_FT232H:
        return "FT232H";
    case FTDI_CHIP_UNKNOWN:
        break;
    }
    return "unknown FTDI chip";
}

static bool id_matches(const struct usb_id *ids, size_t ids_count, uint16_t vid, uint16_t pid)
{
    for (size_t i = 0; i < ids_count; i++)
        if (ids[i].vid == vid && ids[i].pid == pid)
            return true;
    return false;
}

void ftdi_usb_fill_info(libusb_device *usb_dev, const struct libusb_device_descriptor *desc,
                        struct ftdi_usb_device_info *info)
{
    memset(info, 0, sizeof(*info));
    info->vid = desc->idVendor;
    info->pid = desc->idProduct;
    info->bcd_device = desc->bcdDevice;
    info->chip = ftdi_usb_chip_from_bcd(desc->bcdDevice);
    info->bus = libusb_get_bus_number(usb_dev);
    info->address = libusb_get_device_address(usb_dev);

    uint8_t ports[8];
    int n = libusb_get_port_numbers(usb_dev, ports, sizeof(ports));
    if (n <= 0)
        return;
    size_t used = (size_t)snprintf(info->port_path, sizeof(info->port_path), "%u", info->bus);
    for (int i = 0; i < n && used < sizeof(info->port_path); i++)
        used += (size_t)snprintf(info->port_path + used, sizeof(info->port_path) - used, "%c%u",
                                 i == 0 ? '-' : '.', ports[i]);
}

/* One string descriptor by GET_DESCRIPTOR, bounded by SERIAL_TIMEOUT_MS: libusb's own helper waits
 * up to a second per request, and these reads happen on the daemon's only thread (enumeration and
 * re-opening; everything else is asynchronous). Returns its length or a libusb error. */
static int get_string(libusb_device_handle *handle, uint8_t index, uint16_t langid, uint8_t *buf,
                      int size)
{
    return libusb_control_transfer(handle, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
                                   (uint16_t)(LIBUSB_DT_STRING << 8 | index), langid, buf,
                                   (uint16_t)size, SERIAL_TIMEOUT_MS);
}

/* Returns 0 or a negative code; serial is "" when the device has no serial string. */
int ftdi_usb_read_serial(libusb_device_handle *handle, const struct libusb_device_descriptor *desc,
                         char *serial, size_t size)
{
    uint8_t buf[255];
    serial[0] = '\0';
    if (desc->iSerialNumber == 0)
        return 0;
    int r = get_string(handle, 0, 0, buf, sizeof(buf)); /* the language ids */
    if (r >= 0 && (r < 4 || buf[1] != LIBUSB_DT_STRING))
        r = LIBUSB_ERROR_IO;
    if (r >= 0)
        r = get_string(handle, desc->iSerialNumber, (uint16_t)(buf[2] | buf[3] << 8), buf,
                       sizeof(buf));
    if (r >= 0 && (r < 2 || buf[1] != LIBUSB_DT_STRING || buf[0] > r))
        r = LIBUSB_ERROR_IO;
    if (r < 0)
        return ftdi_usb_code_from_libusb(r);
    ftdi_usb_decode_string(buf, serial, size);
    return 0;
}

int ftdi_usb_enumerate(struct ftdi_usb_host *host, const struct usb_id *ids, size_t ids_count,
                       struct ftdi_usb_device_info *out, size_t max)
{
    if (!ids) {
        ids = ftdi_usb_default_ids;
        ids_count = ftdi_usb_default_ids_count;
    }
    libusb_device **list;
    ssize_t count = libusb_get_device_list(host->usb, &list);
    if (count < 0)
        return host_fail(host, ftdi_usb_code_from_libusb((int)count), "listing USB devices: %s",
                         libusb_strerror((int)count));

    int found = 0;
    for (ssize_t i = 0; i < count; i++) {
        struct libusb_device_descriptor desc;
        if (libusb_get_device_descriptor(list[i], &desc) < 0 ||
            !id_matches(ids, ids_count, desc.idVendor, desc.idProduct))
            continue;
        if ((size_t)found < max) {
            struct ftdi_usb_device_info *info = &out[found];
            ftdi_usb_fill_info(list[i], &desc, info);
            libusb_device_handle *handle;
            int r = libusb_open(list[i], &handle);
            if (r < 0) {
                info->serial_status = ftdi_usb_code_from_libusb(r);
            } else {
                info->serial_status =
                    ftdi_usb_read_serial(handle, &desc, info->serial, sizeof(info->serial));
                libusb_close(handle);
            }
        }
        if (found < INT_MAX)
            found++;
    }
    libusb_free_device_list(list, 1);
    return found;
}

/* ---- hot-plug ---- */

bool ftdi_usb_host_has_hotplug(const struct ftdi_usb_host *host)
{
    (void)host; /* a property of the libusb build and platform */
    return libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) != 0;
}

static int LIBUSB_CALL on_hotplug(libusb_context *usb, libusb_device *usb_dev,
                                  libusb_hotplug_event event, void *user)
{
    (void)usb;
    struct ftdi_usb_hotplug *hp = user;
    struct libusb_device_descriptor desc;
    /* The descriptor is cached by libusb: safe here, also for a device that has left. */
    if (libusb_get_device_descriptor(usb_dev, &desc) < 0 ||
        !id_matches(hp->ids, hp->ids_count, desc.idVendor, desc.idProduct))
        return 0;
    struct ftdi_usb_device_info info;
    ftdi_usb_fill_info(usb_dev, &desc, &info);
    hp->fn(hp->user, event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, &info);
    return 0; /* stay registered */
}

int ftdi_usb_hotplug_register(struct ftdi_usb_host *host, const struct usb_id *ids,
                              size_t ids_count, bool enumerate_now, ftdi_usb_hotplug_fn fn,
                              void *user, struct ftdi_usb_hotplug **out)
{
    *out = NULL;
    if (!ftdi_usb_host_has_hotplug(host))
        return host_fail(host, -ENOTSUP, "libusb has no hot-plug support here");
    if (!ids) {
        ids = ftdi_usb_default_ids;
        ids_count = ftdi_usb_default_ids_count;
    }
    struct ftdi_usb_hotplug *hp = calloc(1, sizeof(*hp));
    if (hp)
        hp->ids = calloc(ids_count ? ids_count : 1, sizeof(*ids));
    if (!hp || !hp->ids) {
        free(hp);
        return host_fail(host, -ENOMEM, "allocating a hot-plug registration");
    }
    memcpy(hp->ids, ids, ids_count * sizeof(*ids));
    hp->ids_count = ids_count;
    hp->host = host;
    hp->fn = fn;
    hp->user = user;

    /* One registration for any device, filtered against the list in on_hotplug: libusb matches
     * only a single vid:pid per registration. */
    int r = libusb_hotplug_register_callback(
        host->usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
        enumerate_now ? LIBUSB_HOTPLUG_ENUMERATE : 0, LIBUSB_HOTPLUG_MATCH_ANY,
        LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, hp, &hp->handle);
    if (r < 0) {
        free(hp->ids);
        free(hp);
        return host_fail(host, ftdi_usb_code_from_libusb(r), "registering for hot-plug: %s",
                         libusb_strerror(r));
    }
    *out = hp;
    return 0;
}

void ftdi_usb_hotplug_deregister(struct ftdi_usb_hotplug *hp)
{
    if (!hp)
        return;
    libusb_hotplug_deregister_callback(hp->host->usb, hp->handle);
    free(hp->ids);
    free(hp);
}

/* ---- event loop integration ---- */

int ftdi_usb_host_pollfds(struct ftdi_usb_host *host, struct pollfd *out, size_t max)
{
    const struct libusb_pollfd **fds = libusb_get_pollfds(host->usb);
    if (!fds)
        return host_fail(host, -ENOTSUP, "libusb cannot export its poll fds here");
    int count = 0;
    for (; fds[count]; count++) {
        if ((size_t)count < max)
            out[count] = (struct pollfd){.fd = fds[count]->fd, .events = fds[count]->events};
    }
    libusb_free_pollfds(fds);
    /* and the worker's eventfd, once there is a worker (ftdi_usb_halt.c): its end is dispatched
     * by handle_events too */
    if (!host->worker)
        return count;
    if ((size_t)count < max)
        out[count] = (struct pollfd){.fd = worker_fd(host->worker), .events = POLLIN};
    return count + 1;
}

static void LIBUSB_CALL on_pollfd_added(int fd, short events, void *user)
{
    struct ftdi_usb_host *host = user;
    if (host->pollfd_added)
        host->pollfd_added(fd, events, host->pollfd_user);
}

static void LIBUSB_CALL on_pollfd_removed(int fd, void *user)
{
    struct ftdi_usb_host *host = user;
    if (host->pollfd_removed)
        host->pollfd_removed(fd, host->pollfd_user);
}

void ftdi_usb_host_set_pollfd_notifiers(struct ftdi_usb_host *host, ftdi_usb_pollfd_added_fn added,
                                        ftdi_usb_pollfd_removed_fn removed, void *user)
{
    host->pollfd_added = added;
    host->pollfd_removed = removed;
    host->pollfd_user = user;
    if (added || removed)
        libusb_set_pollfd_notifiers(host->usb, on_pollfd_added, on_pollfd_removed, host);
    else
        libusb_set_pollfd_notifiers(host->usb, NULL, NULL, NULL);
}

int ftdi_usb_host_handle_events(struct ftdi_usb_host *host)
{
    if (host->worker)
        worker_dispatch(host->worker); /* a clear-halt over: its operation ends */
    struct timeval zero = {0, 0};
    int r = events(host, &zero);
    if (r < 0)
        return host_fail(host, ftdi_usb_code_from_libusb(r), "handling USB events: %s",
                         libusb_strerror(r));
    return 0;
}

int ftdi_usb_host_wait(struct ftdi_usb_host *host)
{
    if (host->clear_running) { /* a program without a loop: waits for the clear-halt */
        worker_wait(host->worker);
        return 0;
    }
    struct timeval tick = {0, 100000};
    int r = events(host, &tick);
    return r < 0 ? ftdi_usb_code_from_libusb(r) : 0;
}

int ftdi_usb_host_next_timeout_ms(struct ftdi_usb_host *host)
{
    struct timeval tv;
    if (libusb_get_next_timeout(host->usb, &tv) != 1)
        return -1;
    long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}
