/* Clearing a stalled bulk endpoint off the loop. libusb_clear_halt is a synchronous CLEAR_FEATURE
 * request (usbfs' CLEAR_HALT ioctl, up to 5 s in the kernel): it runs on the host's worker thread
 * (base/worker.h), one at a time, the others queued, and only once libusb's event handling has
 * returned: the kernel holds the usb_device's lock for the whole CLEAR_HALT, and every usbfs ioctl
 * on that device waits for it (a reap too: libusb reaps again right after a callback), so the
 * loop must not touch that device meanwhile. It does not: the operation whose transfer stalled
 * stays
 * under way (the device busy) until the clear is over; it then ends with -EPIPE on the loop's
 * thread, from the host's event handling, so the next transfer finds the endpoint working. A
 * device closed meanwhile: a clear not started yet is dropped; the handle of one running is
 * closed only after it has returned (struct ftdi_usb_closing). */
#include <errno.h>
#include <stdlib.h>

#include "transport/mpsse/ftdi_usb_private.h"
#include "base/log.h"

struct ftdi_usb_clear {
    struct ftdi_usb_clear *next;
    struct ftdi_usb_host *host;
    struct ftdi_usb_device *dev;      /* NULL once the device has closed */
    struct ftdi_usb_closing *closing; /* then: its handle, waiting for this clear */
    libusb_device_handle *handle;
    uint8_t endpoint;
    int rc; /* of libusb_clear_halt, set on the worker's thread */
    void (*then)(struct ftdi_usb_device *dev, int rc);
};

/* On the worker's thread: only the handle and the endpoint are touched. */
static void clear_job(void *arg)
{
    struct ftdi_usb_clear *c = arg;
    c->rc = libusb_clear_halt(c->handle, c->endpoint);
}

/* Back on the loop's thread (worker_dispatch, from the host's event handling). */
static void clear_done(void *arg)
{
    struct ftdi_usb_clear *c = arg;
    struct ftdi_usb_host *host = c->host;
    struct ftdi_usb_device *dev = c->dev;
    void (*then)(struct ftdi_usb_device *, int) = c->then;
    host->clears = c->next;
    host->clear_running = false;
    if (c->closing)
        c->closing->clearing = false;
    if (dev) {
        dev->clear = NULL;
        if (c->rc < 0 && c->rc != LIBUSB_ERROR_NO_DEVICE)
            log_debug("ftdi %s: clearing the halt of endpoint 0x%02x: %s", dev->info.port_path,
                      c->endpoint, libusb_strerror(c->rc));
    }
    free(c);
    ftdi_usb_clears_start(host);
    if (dev)
        then(dev, -EPIPE); /* the stall's reason is in dev's error already */
    ftdi_usb_host_reap(host);
}

/* The worker starts with the first stall, so that an adapter that never stalls costs no thread
 * (the peak RSS target); its eventfd is announced to the caller's loop as libusb's fds are. */
static int start_worker(struct ftdi_usb_host *host)
{
    if (host->worker)
        return 0;
    int rc = worker_new(&host->worker);
    if (rc == 0 && host->pollfd_added)
        host->pollfd_added(worker_fd(host->worker), POLLIN, host->pollfd_user);
    return rc;
}

void ftdi_usb_clears_start(struct ftdi_usb_host *host)
{
    if (host->clear_running || !host->clears || host->handling)
        return;
    if (start_worker(host) < 0) {
        /* no thread to be had: the clear is not made (never on the loop: it can take 5 s); the
         * operation ends with its -EPIPE, and the endpoint's next stall asks for a thread again */
        log_warn("ftdi: no worker thread for clearing a stall: the endpoint stays halted");
        host->clears->rc = LIBUSB_ERROR_NO_MEM;
        clear_done(host->clears);
        return;
    }
    if (worker_submit(host->worker, clear_job, clear_done, host->clears) == 0)
        host->clear_running = true;
}

int ftdi_usb_clear_halt_later(struct ftdi_usb_device *dev, uint8_t endpoint,
                              void (*then)(struct ftdi_usb_device *dev, int rc))
{
    struct ftdi_usb_host *host = dev->host;
    struct ftdi_usb_clear *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (struct ftdi_usb_clear){
        .host = host, .dev = dev, .handle = dev->handle, .endpoint = endpoint, .then = then};
    struct ftdi_usb_clear **tail = &host->clears;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    dev->clear = c;
    ftdi_usb_clears_start(host);
    return 0;
}

void ftdi_usb_clear_abandon(struct ftdi_usb_device *dev, struct ftdi_usb_closing *closing)
{
    struct ftdi_usb_clear *c = dev->clear;
    if (!c)
        return;
    dev->clear = NULL;
    c->dev = NULL;
    if (c == dev->host->clears && dev->host->clear_running) {
        c->closing = closing; /* running: the handle waits for it */
        closing->clearing = true;
        return;
    }
    for (struct ftdi_usb_clear **p = &dev->host->clears; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    free(c);
}

void ftdi_usb_clears_free(struct ftdi_usb_host *host)
{
    while (host->clears) {
        struct ftdi_usb_clear *c = host->clears;
        host->clears = c->next;
        free(c);
    }
}
