/* The asynchronous operations of ftdi_usb_async.c, waited for: the synchronous calls of ftdi_usb.h
 * (set-up, write, read, drain, sync) for a program without a loop of its own, and the tests. */
#include <errno.h>
#include <limits.h>

#include "transport/mpsse/ftdi_usb_private.h"

struct waiter {
    bool done;
    int rc;
};

static void waited(struct ftdi_usb_device *dev, int rc, void *user)
{
    struct waiter *w = user;
    (void)dev;
    w->rc = rc;
    w->done = true;
}

/* rc: what the submission returned. */
static int wait_for(struct ftdi_usb_device *dev, int rc, struct waiter *w)
{
    while (rc == 0 && !w->done)
        ftdi_usb_host_wait(dev->host);
    return rc < 0 ? rc : w->rc;
}

int ftdi_usb_mpsse_setup(struct ftdi_usb_device *dev, unsigned latency_ms)
{
    struct waiter w = {0};
    return wait_for(dev, ftdi_usb_submit_setup(dev, latency_ms, waited, &w), &w);
}

int ftdi_usb_write(struct ftdi_usb_device *dev, const void *buf, size_t len, unsigned timeout_ms)
{
    struct waiter w = {0};
    if (!dev->handle)
        return ftdi_usb_fail(dev, -EBADF, "adapter not open");
    if (len == 0)
        return 0;
    return wait_for(dev, ftdi_usb_submit_exchange(dev, buf, len, NULL, 0, timeout_ms, waited, &w),
                    &w);
}

int ftdi_usb_read_exact(struct ftdi_usb_device *dev, void *buf, size_t n, unsigned timeout_ms,
                        size_t *got)
{
    struct waiter w = {0};
    if (got)
        *got = 0;
    if (!dev->handle)
        return ftdi_usb_fail(dev, -EBADF, "adapter not open");
    size_t copied = ftdi_usb_take_pending(dev, buf, n);
    int rc = 0;
    if (copied < n) {
        rc = wait_for(dev,
                      ftdi_usb_submit_exchange(dev, NULL, 0, (uint8_t *)buf + copied, n - copied,
                                               timeout_ms, waited, &w),
                      &w);
        if (w.done)
            copied += dev->op.got;
    }
    if (got)
        *got = copied;
    return rc;
}

int ftdi_usb_drain(struct ftdi_usb_device *dev, unsigned timeout_ms)
{
    struct waiter w = {0};
    int rc = wait_for(dev, ftdi_usb_submit_drain(dev, timeout_ms, waited, &w), &w);
    return rc < 0 ? rc : dev->op.discarded > INT_MAX ? INT_MAX : (int)dev->op.discarded;
}

int ftdi_usb_mpsse_sync(struct ftdi_usb_device *dev, unsigned timeout_ms)
{
    static const uint8_t bad_command[] = {0xAA, 0x87};
    uint8_t reply[2];
    struct waiter w = {0};
    int rc = wait_for(dev,
                      ftdi_usb_submit_exchange(dev, bad_command, sizeof(bad_command), reply,
                                               sizeof(reply), timeout_ms, waited, &w),
                      &w);
    if (rc == 0 && (reply[0] != 0xFA || reply[1] != 0xAA))
        rc = ftdi_usb_fail(dev, -EPROTO, "MPSSE sync: expected FA AA, got %02X %02X", reply[0],
                           reply[1]);
    return rc;
}
