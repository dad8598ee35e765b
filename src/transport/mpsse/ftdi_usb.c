#include "transport/mpsse/ftdi_usb.h"

#include <errno.h>
#include <libusb.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "transport/mpsse/ftdi_usb_private.h"
#include "base/log.h"

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

int ftdi_usb_fail(struct ftdi_usb_device *ad, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_error(ad->error, fmt, ap);
    va_end(ap);
    return code;
}

static int __attribute__((format(printf, 3, 4)))
host_fail(struct ftdi_usb_host *host, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_error(host->error, fmt, ap);
    va_end(ap);
    return code;
}

/* Records what failed with libusb's reason; NO_DEVICE gets a wording the log reader understands. */
int ftdi_usb_fail_usb(struct ftdi_usb_device *ad, int usb_err, const char *what)
{
    if (usb_err == LIBUSB_ERROR_NO_DEVICE)
        return ftdi_usb_fail(ad, -ENODEV, "%s: adapter gone (unplugged)", what);
    return ftdi_usb_fail(ad, ftdi_usb_code_from_libusb(usb_err), "%s: %s", what,
                         libusb_strerror(usb_err));
}

const char *ftdi_usb_host_error(const struct ftdi_usb_host *host)
{
    return host->error;
}

const char *ftdi_usb_error(const struct ftdi_usb_device *ad)
{
    return ad->error;
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
    *out = host;
    return 0;
}

void ftdi_usb_host_free(struct ftdi_usb_host *host)
{
    if (!host)
        return;
    libusb_set_pollfd_notifiers(host->usb, NULL, NULL, NULL);
    libusb_exit(host->usb);
    free(host);
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

static void fill_location(libusb_device *dev, const struct libusb_device_descriptor *desc,
                          struct ftdi_usb_device_info *info)
{
    memset(info, 0, sizeof(*info));
    info->vid = desc->idVendor;
    info->pid = desc->idProduct;
    info->bcd_device = desc->bcdDevice;
    info->chip = ftdi_usb_chip_from_bcd(desc->bcdDevice);
    info->bus = libusb_get_bus_number(dev);
    info->address = libusb_get_device_address(dev);

    uint8_t ports[8];
    int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
    if (n <= 0)
        return;
    size_t used = (size_t)snprintf(info->port_path, sizeof(info->port_path), "%u", info->bus);
    for (int i = 0; i < n && used < sizeof(info->port_path); i++)
        used += (size_t)snprintf(info->port_path + used, sizeof(info->port_path) - used, "%c%u",
                                 i == 0 ? '-' : '.', ports[i]);
}

/* Returns 0 or a negative code; serial is "" when the device has no serial string. */
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

/* Returns 0 or a negative code; serial is "" when the device has no serial string. Non-ASCII
 * characters become '?', as libusb_get_string_descriptor_ascii does. */
static int read_serial(libusb_device_handle *handle, const struct libusb_device_descriptor *desc,
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
    size_t n = 0;
    for (int i = 2; i + 1 < buf[0] && n + 1 < size; i += 2)
        serial[n++] = buf[i + 1] == 0 && buf[i] < 0x80 ? (char)buf[i] : '?';
    serial[n] = '\0';
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
            fill_location(list[i], &desc, info);
            libusb_device_handle *handle;
            int r = libusb_open(list[i], &handle);
            if (r < 0) {
                info->serial_status = ftdi_usb_code_from_libusb(r);
            } else {
                info->serial_status =
                    read_serial(handle, &desc, info->serial, sizeof(info->serial));
                libusb_close(handle);
            }
        }
        if (found < INT_MAX)
            found++;
    }
    libusb_free_device_list(list, 1);
    return found;
}

/* ---- adapter: open / close ---- */

struct ftdi_usb_device *ftdi_usb_adapter_new(struct ftdi_usb_host *host)
{
    struct ftdi_usb_device *ad = calloc(1, sizeof(*ad));
    if (ad)
        ad->host = host;
    return ad;
}

static void give_driver_back(struct ftdi_usb_device *ad);

void ftdi_usb_adapter_free(struct ftdi_usb_device *ad)
{
    if (!ad)
        return;
    give_driver_back(ad);
    ftdi_usb_close(ad);
    free(ad);
}

bool ftdi_usb_is_open(const struct ftdi_usb_device *ad)
{
    return ad->handle != NULL;
}

const struct ftdi_usb_device_info *ftdi_usb_opened_info(const struct ftdi_usb_device *ad)
{
    return &ad->info;
}

/* Opens the first device matching vid:pid and serial. Returns 0 with *handle set, -ENOENT, or
 * the error of a candidate that could not be opened (more useful than "not found"). */
static int find_and_open(struct ftdi_usb_device *ad, uint16_t vid, uint16_t pid, const char *serial,
                         libusb_device_handle **handle)
{
    libusb_device **list;
    ssize_t count = libusb_get_device_list(ad->host->usb, &list);
    if (count < 0)
        return ftdi_usb_fail_usb(ad, (int)count, "listing USB devices");

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
        int sr = read_serial(h, &desc, found_serial, sizeof(found_serial));
        /* in any case: serials come from configuration files that users type */
        if (any_serial || (sr == 0 && strcasecmp(found_serial, serial) == 0)) {
            *handle = h;
            fill_location(list[i], &desc, &ad->info);
            memcpy(ad->info.serial, found_serial, sizeof(found_serial));
            ad->info.serial_status = sr;
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
        return ftdi_usb_fail(ad, candidate_code, "%s %04x:%04x (looking for serial %s): %s",
                             candidate_why, vid, pid, which, candidate_reason);
    return ftdi_usb_fail(ad, -ENOENT, "no adapter %04x:%04x with serial %s", vid, pid, which);
}

/* ftdi_sio is detached by hand, once, and stays detached while the daemon has the adapter: with
 * libusb's auto-detach every close (after each USB error, too) would hand the port back, its
 * ttyUSB node would come and go, and serial-starter would get a window each time.
 * ftdi_usb_adapter_free gives it back. */
static int claim_interface(struct ftdi_usb_device *ad)
{
    if (libusb_kernel_driver_active(ad->handle, FTDI_INTERFACE) == 1) {
        log_info("ftdi %s: detaching the kernel driver (ftdi_sio) from interface 0",
                 ad->info.port_path);
        int r = libusb_detach_kernel_driver(ad->handle, FTDI_INTERFACE);
        if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND)
            return ftdi_usb_fail_usb(ad, r, "detaching the kernel driver");
        ad->driver_detached = r == 0;
    }

    int config = 0;
    if (libusb_get_configuration(ad->handle, &config) == 0 && config != 1) {
        int r = libusb_set_configuration(ad->handle, 1);
        if (r < 0)
            return ftdi_usb_fail_usb(ad, r, "selecting configuration 1");
    }

    int r = libusb_claim_interface(ad->handle, FTDI_INTERFACE);
    if (r < 0)
        return ftdi_usb_fail_usb(ad, r, "claiming interface 0");
    return 0;
}

/* The daemon lets go of the adapter for good: the kernel driver it detached goes back. */
static void give_driver_back(struct ftdi_usb_device *ad)
{
    if (!ad->driver_detached)
        return;
    libusb_device_handle *handle = ad->handle;
    if (!handle && find_and_open(ad, ad->info.vid, ad->info.pid, ad->info.serial, &handle) < 0)
        return; /* gone: a new plug binds it afresh */
    if (ad->handle)
        libusb_release_interface(handle, FTDI_INTERFACE);
    int r = libusb_attach_kernel_driver(handle, FTDI_INTERFACE);
    if (r == 0)
        log_info("ftdi %s: kernel driver (ftdi_sio) attached again", ad->info.port_path);
    else
        log_warn("ftdi %s: cannot attach the kernel driver again: %s", ad->info.port_path,
                 libusb_strerror(r));
    ad->driver_detached = false;
    if (!ad->handle)
        libusb_close(handle);
}

int ftdi_usb_open(struct ftdi_usb_device *ad, uint16_t vid, uint16_t pid, const char *serial)
{
    if (ad->handle)
        return ftdi_usb_fail(ad, -EBUSY, "adapter already open");
    int r = find_and_open(ad, vid, pid, serial, &ad->handle);
    if (r < 0)
        return r;

    r = claim_interface(ad);
    if (r < 0)
        goto fail_close;

    int packet = libusb_get_max_packet_size(libusb_get_device(ad->handle), FTDI_EP_IN);
    ad->packet_size = packet > FTDI_STATUS_BYTES ? (size_t)packet : FTDI_DEFAULT_PACKET;
    ad->rx_capacity = FTDI_MAX_IN_TRANSFER / ad->packet_size * ad->packet_size;
    ad->rx = malloc(ad->rx_capacity);
    ad->op.transfer = libusb_alloc_transfer(0);
    if (!ad->rx || !ad->op.transfer) {
        free(ad->rx);
        ad->rx = NULL;
        libusb_free_transfer(ad->op.transfer);
        ad->op.transfer = NULL;
        r = ftdi_usb_fail(ad, -ENOMEM, "allocating the transfer buffers");
        goto fail_release;
    }
    ad->rx_off = ad->rx_len = 0;
    log_debug("ftdi %s: opened %04x:%04x serial '%s', %zu-byte packets", ad->info.port_path, vid,
              pid, ad->info.serial, ad->packet_size);
    return 0;

fail_release:
    libusb_release_interface(ad->handle, FTDI_INTERFACE);
fail_close:
    libusb_close(ad->handle);
    ad->handle = NULL;
    return r;
}

void ftdi_usb_close(struct ftdi_usb_device *ad)
{
    if (!ad->handle)
        return;
    ftdi_usb_cancel(ad);
    libusb_free_transfer(ad->op.transfer);
    ad->op.transfer = NULL;
    /* Fails harmlessly when the adapter is gone. */
    libusb_release_interface(ad->handle, FTDI_INTERFACE);
    libusb_close(ad->handle);
    ad->handle = NULL;
    free(ad->rx);
    ad->rx = NULL;
    ad->rx_capacity = ad->rx_off = ad->rx_len = 0;
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

size_t ftdi_usb_take_pending(struct ftdi_usb_device *ad, uint8_t *dst, size_t n)
{
    size_t avail = ad->rx_len - ad->rx_off;
    size_t take = avail < n ? avail : n;
    if (take == 0)
        return 0;
    memcpy(dst, ad->rx + ad->rx_off, take);
    ad->rx_off += take;
    return take;
}

size_t ftdi_usb_in_length(const struct ftdi_usb_device *ad, size_t wanted)
{
    size_t payload_per_packet = ad->packet_size - FTDI_STATUS_BYTES;
    size_t packets = (wanted + payload_per_packet - 1) / payload_per_packet;
    size_t length = packets * ad->packet_size;
    if (length == 0)
        length = ad->packet_size;
    return length > ad->rx_capacity ? ad->rx_capacity : length;
}

size_t ftdi_usb_pending(const struct ftdi_usb_device *ad)
{
    return ad->rx_len - ad->rx_off;
}

/* ---- hot-plug ---- */

bool ftdi_usb_host_has_hotplug(const struct ftdi_usb_host *host)
{
    (void)host; /* a property of the libusb build and platform */
    return libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) != 0;
}

static int LIBUSB_CALL on_hotplug(libusb_context *usb, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
    (void)usb;
    struct ftdi_usb_hotplug *hp = user;
    struct libusb_device_descriptor desc;
    /* The descriptor is cached by libusb: safe here, also for a device that has left. */
    if (libusb_get_device_descriptor(dev, &desc) < 0 ||
        !id_matches(hp->ids, hp->ids_count, desc.idVendor, desc.idProduct))
        return 0;
    struct ftdi_usb_device_info info;
    fill_location(dev, &desc, &info);
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
    return count;
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
    struct timeval zero = {0, 0};
    int r = libusb_handle_events_timeout_completed(host->usb, &zero, NULL);
    if (r < 0)
        return host_fail(host, ftdi_usb_code_from_libusb(r), "handling USB events: %s",
                         libusb_strerror(r));
    return 0;
}

int ftdi_usb_host_wait(struct ftdi_usb_host *host)
{
    struct timeval tick = {0, 100000};
    int r = libusb_handle_events_timeout_completed(host->usb, &tick, NULL);
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
