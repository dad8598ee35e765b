/* An FTDI chip with an MPSSE engine (FT232H; FT2232H/FT4232H port A) over libusb-1.0. The
 * ftdi_usb files are the only part of the daemon that touches libusb (their split: see
 * ftdi_usb_private.h).
 *
 * Two objects, libftdi style. A `struct ftdi_usb_host` is one libusb context: enumeration,
 * hot-plug and the poll fds of an external poll() loop. A `struct ftdi_usb_device` is one chip the
 * daemon opens (interface A, endpoints 0x02 OUT / 0x81 IN). Calls return 0 (or a count where said)
 * or a negative errno code, and leave a human-readable reason in their object for the caller to
 * print once with its own context (ftdi_usb_host_error / ftdi_usb_error):
 *   -ENODEV     the adapter is gone (unplugged): close it and re-open it when it comes back
 *   -ENOENT     no matching adapter (open)
 *   -ETIMEDOUT  a write or read did not complete in time (read: *got says how much arrived)
 *   -EIO        short write, or another USB failure
 *   -EPROTO     the MPSSE engine answered something unexpected (ftdi_usb_mpsse_sync)
 *   -EBADF      the device is not open
 *   -EBUSY      open: already open, or ftdi_sio bound again after each detach; a transfer:
 *               another operation is still under way (a stalled one until its clear-halt ends)
 *   -EPIPE      the endpoint stalled (the operation ends once the halt is cleared, on the host's
 *               worker thread, so the next transfer works)
 *   -EACCES, -EOVERFLOW, -ENOMEM, -EINTR, -ENOTSUP, -EINVAL  as libusb reports them
 *
 * Bulk IN framing: the chip starts every packet (wMaxPacketSize, 512 bytes at high speed) with
 * two modem status bytes; ftdi_usb_read_exact() strips them and returns payload only. Payload that
 * arrives beyond what a read asked for is kept for the next read (ftdi_usb_pending);
 * ftdi_usb_drain() throws it and anything still in the chip away.
 *
 * Latency timer: the daemon ends every command batch with 0x87 (send immediate), so replies never
 * wait for the timer. It only decides when the chip gives up on an IN request with nothing
 * flushed, answering a bare status packet. A short timer would make such bare packets arrive in
 * the middle of a scan that is still clocking on the bus (~1 ms at 100 kHz), costing extra IN
 * round trips; a long one only delays ftdi_usb_drain() and replies that lack 0x87. Hence the
 * chip's own default, FTDI_DEFAULT_LATENCY_MS = 16.
 *
 * Timeouts are in milliseconds; 0 is taken as 1 (libusb's 0 would mean "forever").
 *
 * Not thread-safe: one thread drives a host and its devices. The host has a worker thread of its
 * own (base/worker.h) for the one libusb call that waits on a device, libusb_clear_halt. */
#ifndef LYNX_FTDI_USB_H
#define LYNX_FTDI_USB_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/mpsse/usb_ids.h"

#define FTDI_DEFAULT_LATENCY_MS 16

/* 0x0403:0xD4F8 then 0x0403:0x6014. */
extern const struct usb_id ftdi_usb_default_ids[];
extern const size_t ftdi_usb_default_ids_count;

#define FTDI_PORT_PATH_MAX 32
#define FTDI_SERIAL_MAX    64

/* The chips with an MPSSE engine fit for I2C (3-phase clocking, 60 MHz), told apart by bcdDevice.
 * Only the FT232H has drive-only-zero (opcode 0x9E). */
enum ftdi_usb_chip {
    FTDI_CHIP_UNKNOWN = 0, /* no H-series MPSSE (FT232R, FT-X, FT2232D, ...) */
    FTDI_CHIP_FT2232H,     /* bcdDevice 0x0700 */
    FTDI_CHIP_FT4232H,     /* bcdDevice 0x0800 */
    FTDI_CHIP_FT232H,      /* bcdDevice 0x0900 */
};

enum ftdi_usb_chip ftdi_usb_chip_from_bcd(uint16_t bcd_device);
/* "FT232H", "FT2232H", "FT4232H" or "unknown FTDI chip". */
const char *ftdi_usb_chip_name(enum ftdi_usb_chip chip);

struct ftdi_usb_device_info {
    uint16_t vid, pid;
    uint16_t bcd_device;
    enum ftdi_usb_chip chip; /* from bcd_device */
    uint8_t bus;
    uint8_t address;
    char port_path[FTDI_PORT_PATH_MAX]; /* "bus-port.port...", "" when unknown */
    char serial[FTDI_SERIAL_MAX];       /* "" when the adapter has none or it was unreadable */
    int serial_status;                  /* 0, or why serial could not be read (e.g. -EACCES) */
};

struct ftdi_usb_host;
struct ftdi_usb_device;

/* ---- host: libusb context, enumeration ---- */

/* Returns 0 or a negative code; *out is NULL on failure. */
int ftdi_usb_host_new(struct ftdi_usb_host **out);
void ftdi_usb_host_free(struct ftdi_usb_host *host);
const char *ftdi_usb_host_error(const struct ftdi_usb_host *host);

/* Lists adapters matching ids (NULL = ftdi_usb_default_ids), reading each serial string descriptor
 * (which briefly opens the device: two synchronous control requests per adapter, up to 100 ms
 * each; for lynx-scan, not for the daemon's loop). Writes up to max entries; returns the number
 * of matching adapters (may exceed max) or a negative code. */
int ftdi_usb_enumerate(struct ftdi_usb_host *host, const struct usb_id *ids, size_t ids_count,
                       struct ftdi_usb_device_info *out, size_t max);

/* Reads the serial string of the device at bus/address asynchronously, for a device whose sysfs
 * has no `serial` attribute: opens its usbfs node (local, no device I/O), then two GET_DESCRIPTOR
 * control transfers (the language ids, then the string), advanced inside
 * ftdi_usb_host_handle_events(), which calls done(user, 0, serial) or done(user, code, "") with
 * the codes above (-ENODEV: gone; -ETIMEDOUT; -EPIPE: it refused). Returns 0 when started (done
 * comes later, never from inside this call), -ENOENT when no device is at bus/address, -ENODATA
 * when the device has no serial string, -EBUSY when a read of that device is already running, or
 * another negative code (done not called). Characters other than printable ASCII read as '?'.
 * ftdi_usb_host_free cancels reads still running without calling their done. */
int ftdi_usb_host_read_serial(struct ftdi_usb_host *host, uint8_t bus, uint8_t address,
                              void (*done)(void *user, int rc, const char *serial), void *user);

/* ---- device: open, MPSSE set-up, bulk transfers (synchronous: ftdi_usb_sync.c) ---- */

struct ftdi_usb_device *ftdi_usb_device_new(struct ftdi_usb_host *host);
/* Closes the device if open (ftdi_usb_close: our transfers are cancelled and the interface released
 * first), then gives back the kernel driver that the open detached, on the same handle, or, when
 * the device was already closed, on the device at the same bus and address (no serial read; a
 * replugged adapter has a new address, and ftdi_sio bound afresh). Waits for no transfer: a
 * transfer in flight is cancelled and the give-back done once it is back (ftdi_usb_close). The
 * attach itself is a usbfs ioctl during which the kernel probes ftdi_sio, which talks to the chip:
 * meant for the end (exit, an adapter the daemon lets go of for good). */
void ftdi_usb_device_free(struct ftdi_usb_device *dev);
const char *ftdi_usb_error(const struct ftdi_usb_device *dev);

/* Opens the device at at->bus / at->address, found in libusb's device list (on Linux built from
 * sysfs and kept by its hot-plug monitor: no device I/O), after checking that its vid:pid (from the
 * cached device descriptor) are at's; then detaches ftdi_sio and claims interface 0 as
 * ftdi_usb_open does. No control request, no serial read: the caller knows which adapter is
 * there (sysfs). -ENOENT when nothing is at that address (or at->address is 0: not placed; no
 * I/O at all), -ENODEV when another device is, -EBUSY when already open or when ftdi_sio keeps
 * being bound again (see claim_interface in ftdi_usb_device.c). ftdi_usb_opened_info() then
 * returns *at, with bcd_device, chip and port_path from the device where at left them empty. */
int ftdi_usb_open_at(struct ftdi_usb_device *dev, const struct ftdi_usb_device_info *at);

/* Opens the first adapter with vid:pid whose serial equals serial in any case (NULL or "" = any),
 * reading serials synchronously (lynx-scan; the daemon opens with ftdi_usb_open_at).
 * Detaches a kernel driver (ftdi_sio) from interface 0, once: ftdi_usb_close keeps it detached, so
 * a re-open after an error does not hand the port to the kernel and back. Selects configuration 1
 * if another is active, claims interface 0. -ENOENT when none matches, -EBUSY when already open. */
int ftdi_usb_open(struct ftdi_usb_device *dev, uint16_t vid, uint16_t pid, const char *serial);
/* Closes the device; harmless when not open; never waits, and may be called from any callback.
 * The operation under way ends without its done. A transfer in flight is cancelled: it and the
 * usbfs handle (interface still claimed) stay with the host until the cancelled transfer has come
 * back, and are released, closed and freed as soon as the host's event handling returns (at once
 * when nothing is in flight and no event handling is under way). libusb_close is never called
 * inside a libusb callback: Linux's usbfs backend runs the callbacks holding a lock that
 * libusb_close takes. */
void ftdi_usb_close(struct ftdi_usb_device *dev);
bool ftdi_usb_is_open(const struct ftdi_usb_device *dev);
/* What was opened (bus, address, port path, serial). */
const struct ftdi_usb_device_info *ftdi_usb_opened_info(const struct ftdi_usb_device *dev);

/* Control requests: chip reset, purge both buffers, latency timer (1-255 ms, 0 = default), event
 * and error characters off, bit mode reset, then MPSSE. Clock and pins are the MPSSE layer's. */
int ftdi_usb_mpsse_setup(struct ftdi_usb_device *dev, unsigned latency_ms);

/* Checks that the MPSSE engine answers and the reply stream is in step: sends the bad opcode
 * 0xAA and expects `FA AA` back (AN_135's synchronisation). -EPROTO on another answer. */
int ftdi_usb_mpsse_sync(struct ftdi_usb_device *dev, unsigned timeout_ms);

/* One bulk OUT transfer of the whole buffer. A short write is -EIO. */
int ftdi_usb_write(struct ftdi_usb_device *dev, const void *buf, size_t len, unsigned timeout_ms);

/* Reads exactly n payload bytes (status bytes stripped) within timeout_ms overall, asking for
 * enough packets that a reply flushed at once arrives in a single bulk IN transfer. *got (may be
 * NULL) is set to the payload bytes stored in buf, also on failure. */
int ftdi_usb_read_exact(struct ftdi_usb_device *dev, void *buf, size_t n, unsigned timeout_ms,
                        size_t *got);

/* Payload bytes received but not yet returned by ftdi_usb_read_exact. */
size_t ftdi_usb_pending(const struct ftdi_usb_device *dev);

/* After an error: drops pending payload, purges the chip's buffers, then reads and discards until
 * the chip answers a bare status packet (nothing left in flight) or timeout_ms passes. Returns
 * the number of payload bytes discarded after the purge, or a negative code. Whether the chip's
 * purge also drops a command cut in half inside the MPSSE engine is not documented: after a write
 * that failed part-way, re-run ftdi_usb_mpsse_setup() (its bit mode reset clears it for sure). */
int ftdi_usb_drain(struct ftdi_usb_device *dev, unsigned timeout_ms);

/* ---- asynchronous operations ----
 *
 * The daemon's poll loop must never wait for an adapter: these start an operation and return at
 * once; libusb runs it inside ftdi_usb_host_handle_events() (the loop calls it when a libusb fd is
 * ready, also for the transfer timeouts, which are a timerfd among those fds) and calls done with
 * 0 or the operation's negative code (the codes above) when it ends. One operation at a time per
 * device (-EBUSY otherwise); done may start the next. A submission that fails at once returns
 * its code and done is not called. The synchronous calls above are these same operations,
 * waited for (ftdi_usb_sync.c): -EBUSY while another operation runs. */
typedef void (*ftdi_usb_done_fn)(struct ftdi_usb_device *dev, int rc, void *user);

/* ftdi_usb_mpsse_setup's control requests. */
int ftdi_usb_submit_setup(struct ftdi_usb_device *dev, unsigned latency_ms, ftdi_usb_done_fn done,
                          void *user);
/* One bulk OUT of out (kept alive by the caller), then bulk INs until in_len payload bytes are in
 * in (in_len 0: the write alone; out_len 0: the read alone, pending payload first), all within
 * timeout_ms; payload beyond in_len stays pending. */
int ftdi_usb_submit_exchange(struct ftdi_usb_device *dev, const void *out, size_t out_len, void *in,
                             size_t in_len, unsigned timeout_ms, ftdi_usb_done_fn done, void *user);
/* ftdi_usb_drain's purge and read-until-quiet. */
int ftdi_usb_submit_drain(struct ftdi_usb_device *dev, unsigned timeout_ms, ftdi_usb_done_fn done,
                          void *user);

/* ---- hot-plug and event loop integration ---- */

bool ftdi_usb_host_has_hotplug(const struct ftdi_usb_host *host);

/* arrived: true = plugged in, false = left. info carries vid, pid, bus, address and port path;
 * its serial is empty (libusb forbids reading descriptors inside the callback: enumerate or open
 * from the main loop instead). */
typedef void (*ftdi_usb_hotplug_fn)(void *user, bool arrived,
                                    const struct ftdi_usb_device_info *info);

struct ftdi_usb_hotplug;

/* Calls fn for adapters matching ids (NULL = defaults) arriving or leaving; with enumerate_now,
 * also at once for those already present. Callbacks run inside ftdi_usb_host_handle_events() (or
 * any blocking call on the host). */
int ftdi_usb_hotplug_register(struct ftdi_usb_host *host, const struct usb_id *ids,
                              size_t ids_count, bool enumerate_now, ftdi_usb_hotplug_fn fn,
                              void *user, struct ftdi_usb_hotplug **out);
void ftdi_usb_hotplug_deregister(struct ftdi_usb_hotplug *hp);

/* The fds to watch (events filled in, revents 0): libusb's, and the eventfd of the host's worker
 * thread (POLLIN; it exists as long as the host, so the notifiers below never name it), which
 * clears stalled endpoints off the loop. Writes up to max; returns the total count or a negative
 * code. ftdi_usb_host_handle_events() serves them all. */
int ftdi_usb_host_pollfds(struct ftdi_usb_host *host, struct pollfd *out, size_t max);

/* Told when libusb adds or removes an fd (NULL, NULL to stop). */
typedef void (*ftdi_usb_pollfd_added_fn)(int fd, short events, void *user);
typedef void (*ftdi_usb_pollfd_removed_fn)(int fd, void *user);
void ftdi_usb_host_set_pollfd_notifiers(struct ftdi_usb_host *host, ftdi_usb_pollfd_added_fn added,
                                        ftdi_usb_pollfd_removed_fn removed, void *user);

/* Handles whatever is ready without blocking (call when one of the host's fds polled ready): a
 * clear-halt that ended, libusb's events, then the handles to close and the clear-halts to start
 * that those events left (neither is done inside a libusb callback). */
int ftdi_usb_host_handle_events(struct ftdi_usb_host *host);
/* Waits up to 100 ms for events and handles them, or for a clear-halt under way to end (a
 * program without a poll loop of its own). */
int ftdi_usb_host_wait(struct ftdi_usb_host *host);

/* Milliseconds until libusb needs ftdi_usb_host_handle_events() for an internal timeout, or -1
 * when none. The daemon does not call it: on Linux libusb keeps its transfer timeouts in a timerfd
 * among its poll fds, so this stays -1 and the loop needs no timer of its own for libusb. The
 * tests (test_ftdi_usb.c) call it to check exactly that. */
int ftdi_usb_host_next_timeout_ms(struct ftdi_usb_host *host);

#endif
