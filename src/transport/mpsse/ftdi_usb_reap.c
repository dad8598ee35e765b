/* Closing usbfs handles out of libusb's callbacks (struct ftdi_usb_closing in
 * ftdi_usb_private.h): the host's list of handles to close, the event handling that counts how
 * deep it is, and the reaping that closes what can be closed once it has returned. */
#include <stdlib.h>

#include "transport/mpsse/ftdi_usb_private.h"
#include "base/log.h"

int ftdi_usb_host_events(struct ftdi_usb_host *host, struct timeval *tv)
{
    host->handling++;
    int r = libusb_handle_events_timeout_completed(host->usb, tv, NULL);
    host->handling--;
    ftdi_usb_host_reap(host);
    return r;
}

static void reap(struct ftdi_usb_host *host, bool all);

void ftdi_usb_host_close_later(struct ftdi_usb_host *host, struct ftdi_usb_closing *c)
{
    c->next = host->closing;
    host->closing = c;
    ftdi_usb_host_reap(host);
}

static void close_now(struct ftdi_usb_closing *c)
{
    if (c->release)
        libusb_release_interface(c->handle, FTDI_INTERFACE); /* fails harmlessly when gone */
    if (c->give_back) {
        int r = libusb_attach_kernel_driver(c->handle, FTDI_INTERFACE);
        if (r == 0)
            log_info("ftdi %s: kernel driver (ftdi_sio) attached again", c->port_path);
        else if (r != LIBUSB_ERROR_NO_DEVICE)
            log_warn("ftdi %s: cannot attach the kernel driver again: %s", c->port_path,
                     libusb_strerror(r));
    }
    libusb_close(c->handle);
    libusb_free_transfer(c->transfer);
    free(c->rx);
}

static void reap(struct ftdi_usb_host *host, bool all)
{
    for (struct ftdi_usb_closing **p = &host->closing; *p;) {
        struct ftdi_usb_closing *c = *p;
        if (!all && (c->in_flight || c->clearing)) {
            p = &c->next;
            continue;
        }
        *p = c->next;
        close_now(c);
        free(c);
    }
}

void ftdi_usb_host_reap(struct ftdi_usb_host *host)
{
    if (!host->handling) /* else inside a callback: libusb_close would deadlock */
        reap(host, false);
}

void ftdi_usb_host_reap_all(struct ftdi_usb_host *host)
{
    reap(host, true);
}
