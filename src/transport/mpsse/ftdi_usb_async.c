/* Asynchronous operations on an opened adapter (ftdi_usb.h, "asynchronous operations"): each one a
 * short chain of libusb transfers on the adapter's one libusb_transfer, advanced from libusb's
 * callbacks, which run inside ftdi_usb_host_handle_events() when the loop finds a libusb fd ready.
 * No call here waits for the device. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "transport/mpsse/ftdi_usb_private.h"

/* ftdi_usb_mpsse_setup's requests, in order. */
static const struct {
    uint8_t request;
    uint16_t value; /* FTDI_SETUP_LATENCY: the latency timer */
    const char *what;
} setup_steps[] = {
    {FTDI_REQ_RESET, FTDI_RESET_SIO, "resetting the chip"},
    {FTDI_REQ_RESET, FTDI_PURGE_TO_CHIP, "purging the host-to-chip buffer"},
    {FTDI_REQ_RESET, FTDI_PURGE_FROM_CHIP, "purging the chip-to-host buffer"},
    {FTDI_REQ_SET_LATENCY, 0, "setting the latency timer"},
    {FTDI_REQ_SET_EVENT_CHAR, 0, "disabling the event character"},
    {FTDI_REQ_SET_ERROR_CHAR, 0, "disabling the error character"},
    {FTDI_REQ_SET_BITMODE, FTDI_BITMODE_RESET << 8, "resetting the bit mode"},
    {FTDI_REQ_SET_BITMODE, FTDI_BITMODE_MPSSE << 8, "enabling MPSSE"},
};
#define N_SETUP_STEPS (sizeof(setup_steps) / sizeof(setup_steps[0]))

static void LIBUSB_CALL on_transfer(struct libusb_transfer *transfer);

/* Milliseconds left of the operation, at least 1 (libusb's 0 means "forever"). */
static unsigned remaining_ms(const struct ftdi_usb_op *op)
{
    uint64_t now = ftdi_usb_now_ms();
    return now < op->deadline_ms ? (unsigned)(op->deadline_ms - now) : 1;
}

static int submit(struct ftdi_usb_device *ad, const char *what)
{
    int r = libusb_submit_transfer(ad->op.transfer);
    if (r < 0)
        return ftdi_usb_fail_usb(ad, r, what);
    ad->op.in_flight = true;
    return 0;
}

static int submit_control(struct ftdi_usb_device *ad, uint8_t request, uint16_t value,
                          const char *what)
{
    libusb_fill_control_setup(ad->op.control, FTDI_REQ_OUT, request, value, FTDI_PORT_A_INDEX, 0);
    libusb_fill_control_transfer(ad->op.transfer, ad->handle, ad->op.control, on_transfer, ad,
                                 FTDI_CONTROL_TIMEOUT_MS);
    return submit(ad, what);
}

static int submit_out(struct ftdi_usb_device *ad)
{
    /* libusb never writes to an OUT buffer; its prototype just lacks the const. */
    libusb_fill_bulk_transfer(ad->op.transfer, ad->handle, FTDI_EP_OUT,
                              (unsigned char *)(uintptr_t)ad->op.out, (int)ad->op.out_len,
                              on_transfer, ad, remaining_ms(&ad->op));
    return submit(ad, "bulk OUT");
}

static int submit_in(struct ftdi_usb_device *ad, size_t wanted)
{
    libusb_fill_bulk_transfer(ad->op.transfer, ad->handle, FTDI_EP_IN, ad->rx,
                              (int)ftdi_usb_in_length(ad, wanted), on_transfer, ad,
                              remaining_ms(&ad->op));
    return submit(ad, "bulk IN");
}

/* Ends the operation: the callback may start the next one. */
static void finish(struct ftdi_usb_device *ad, int rc)
{
    ftdi_usb_done_fn done = ad->op.done;
    void *user = ad->op.user;
    ad->op.kind = FTDI_OP_NONE;
    ad->op.done = NULL;
    if (done)
        done(ad, rc, user);
}

static int status_code(struct ftdi_usb_device *ad, enum libusb_transfer_status status,
                       const char *what)
{
    switch (status) {
    case LIBUSB_TRANSFER_COMPLETED:
        return 0;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return ftdi_usb_fail(ad, -ETIMEDOUT, "%s timed out", what);
    case LIBUSB_TRANSFER_STALL:
        return ftdi_usb_fail(ad, -EPIPE, "%s: endpoint stalled", what);
    case LIBUSB_TRANSFER_NO_DEVICE:
        return ftdi_usb_fail(ad, -ENODEV, "%s: adapter gone (unplugged)", what);
    case LIBUSB_TRANSFER_OVERFLOW:
        return ftdi_usb_fail(ad, -EOVERFLOW, "%s: more data than asked for", what);
    case LIBUSB_TRANSFER_CANCELLED:
        return ftdi_usb_fail(ad, -ECANCELED, "%s cancelled", what);
    case LIBUSB_TRANSFER_ERROR:
        break;
    }
    return ftdi_usb_fail(ad, -EIO, "%s failed", what);
}

/* A setup step done: the next one, or the end. */
static int advance_setup(struct ftdi_usb_device *ad)
{
    if (ad->op.step == N_SETUP_STEPS)
        return 1;
    unsigned i = ad->op.step++;
    uint16_t value = setup_steps[i].request == FTDI_REQ_SET_LATENCY ? (uint16_t)ad->op.latency_ms
                                                                    : setup_steps[i].value;
    return submit_control(ad, setup_steps[i].request, value, setup_steps[i].what);
}

/* Payload that arrived: into in[] up to in_len, the rest stays pending for the next read. */
static void take_in(struct ftdi_usb_device *ad, const struct libusb_transfer *t)
{
    ad->rx_off = 0;
    ad->rx_len = ftdi_usb_strip_status_bytes(ad->rx, (size_t)t->actual_length, ad->packet_size);
    ad->op.got += ftdi_usb_take_pending(ad, ad->op.in + ad->op.got, ad->op.in_len - ad->op.got);
}

/* One transfer of an exchange done. Returns 1 when the exchange is complete, 0 when another
 * transfer is on its way, or a negative code. */
static int advance_exchange(struct ftdi_usb_device *ad, const struct libusb_transfer *t)
{
    struct ftdi_usb_op *op = &ad->op;
    if (op->step == 0) { /* the OUT */
        int rc = status_code(ad, t->status, "bulk OUT");
        if (rc == -EPIPE)
            libusb_clear_halt(ad->handle, FTDI_EP_OUT); /* best effort; the caller sees -EPIPE */
        if (rc < 0)
            return rc;
        if ((size_t)t->actual_length != op->out_len)
            return ftdi_usb_fail(ad, -EIO, "bulk OUT short write: %d of %zu bytes",
                                 t->actual_length, op->out_len);
        op->step = 1;
        op->got = ftdi_usb_take_pending(ad, op->in, op->in_len);
    } else { /* an IN */
        int rc = status_code(ad, t->status, "bulk IN");
        take_in(ad, t);
        if (rc == -EPIPE)
            libusb_clear_halt(ad->handle, FTDI_EP_IN);
        if (rc == -ETIMEDOUT || (rc == 0 && op->got < op->in_len && remaining_ms(op) <= 1))
            return ftdi_usb_fail(ad, -ETIMEDOUT, "read timed out: %zu of %zu bytes", op->got,
                                 op->in_len);
        if (rc < 0)
            return rc;
    }
    if (op->got >= op->in_len)
        return 1;
    int rc = submit_in(ad, op->in_len - op->got);
    return rc < 0 ? rc : 0;
}

/* Purges first (two control requests), then reads until the chip answers a bare status packet. */
static int advance_drain(struct ftdi_usb_device *ad, const struct libusb_transfer *t)
{
    struct ftdi_usb_op *op = &ad->op;
    if (op->step < 2) {
        int rc = status_code(ad, t->status, "purging");
        if (rc < 0)
            return rc;
        op->step++;
        if (op->step == 1)
            return submit_control(ad, FTDI_REQ_RESET, FTDI_PURGE_FROM_CHIP,
                                  "purging the chip-to-host buffer");
    } else {
        int rc = status_code(ad, t->status, "draining");
        size_t payload =
            ftdi_usb_strip_status_bytes(ad->rx, (size_t)t->actual_length, ad->packet_size);
        op->discarded += payload;
        if (rc == 0 && payload == 0)
            return 1;
        if (rc == -ETIMEDOUT || (rc == 0 && remaining_ms(op) <= 1))
            return ftdi_usb_fail(ad, -ETIMEDOUT, "draining: still receiving (%zu bytes discarded)",
                                 op->discarded);
        if (rc < 0)
            return rc;
    }
    int rc = submit_in(ad, ad->rx_capacity);
    return rc < 0 ? rc : 0;
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *transfer)
{
    struct ftdi_usb_device *ad = transfer->user_data;
    ad->op.in_flight = false;
    if (ad->op.cancelled)
        return; /* ftdi_usb_cancel is waiting for this */
    int rc;
    switch (ad->op.kind) {
    case FTDI_OP_SETUP:
        rc = status_code(ad, transfer->status, setup_steps[ad->op.step - 1].what);
        if (rc == 0)
            rc = advance_setup(ad);
        break;
    case FTDI_OP_EXCHANGE:
        rc = advance_exchange(ad, transfer);
        break;
    case FTDI_OP_DRAIN:
        rc = advance_drain(ad, transfer);
        break;
    default:
        return;
    }
    if (rc != 0)
        finish(ad, rc > 0 ? 0 : rc);
}

/* Common start: the adapter is open and idle. */
static int begin(struct ftdi_usb_device *ad, enum ftdi_usb_op_kind kind, unsigned timeout_ms,
                 ftdi_usb_done_fn done, void *user)
{
    if (!ad->handle)
        return ftdi_usb_fail(ad, -EBADF, "adapter not open");
    if (ad->op.kind != FTDI_OP_NONE)
        return ftdi_usb_fail(ad, -EBUSY, "an operation is still in progress");
    ad->op.kind = kind;
    ad->op.step = 0;
    ad->op.got = ad->op.discarded = 0;
    ad->op.deadline_ms = ftdi_usb_now_ms() + (timeout_ms ? timeout_ms : 1);
    ad->op.done = done;
    ad->op.user = user;
    return 0;
}

/* A submission that failed at once ends the operation without a callback. */
static int started(struct ftdi_usb_device *ad, int rc)
{
    if (rc < 0) {
        ad->op.kind = FTDI_OP_NONE;
        ad->op.done = NULL;
    }
    return rc < 0 ? rc : 0;
}

int ftdi_usb_submit_setup(struct ftdi_usb_device *ad, unsigned latency_ms, ftdi_usb_done_fn done,
                          void *user)
{
    if (latency_ms == 0)
        latency_ms = FTDI_DEFAULT_LATENCY_MS;
    if (latency_ms > 255)
        return ftdi_usb_fail(ad, -EINVAL, "latency timer %u ms out of range 1-255", latency_ms);
    int rc = begin(ad, FTDI_OP_SETUP, FTDI_CONTROL_TIMEOUT_MS * N_SETUP_STEPS, done, user);
    if (rc < 0)
        return rc;
    ad->op.latency_ms = latency_ms;
    ad->rx_off = ad->rx_len = 0;
    return started(ad, advance_setup(ad));
}

int ftdi_usb_submit_exchange(struct ftdi_usb_device *ad, const void *out, size_t out_len, void *in,
                             size_t in_len, unsigned timeout_ms, ftdi_usb_done_fn done, void *user)
{
    if (out_len > INT32_MAX || (out_len == 0 && in_len == 0))
        return ftdi_usb_fail(ad, -EINVAL, "exchange of %zu bytes out, %zu in", out_len, in_len);
    int rc = begin(ad, FTDI_OP_EXCHANGE, timeout_ms, done, user);
    if (rc < 0)
        return rc;
    ad->op.out = out;
    ad->op.out_len = out_len;
    ad->op.in = in;
    ad->op.in_len = in_len;
    if (out_len)
        return started(ad, submit_out(ad));
    ad->op.step = 1; /* a read alone */
    ad->op.got = ftdi_usb_take_pending(ad, in, in_len);
    return started(ad, submit_in(ad, in_len - ad->op.got));
}

int ftdi_usb_submit_drain(struct ftdi_usb_device *ad, unsigned timeout_ms, ftdi_usb_done_fn done,
                          void *user)
{
    int rc = begin(ad, FTDI_OP_DRAIN, timeout_ms, done, user);
    if (rc < 0)
        return rc;
    ad->rx_off = ad->rx_len = 0;
    return started(ad, submit_control(ad, FTDI_REQ_RESET, FTDI_PURGE_TO_CHIP,
                                      "purging the host-to-chip buffer"));
}

void ftdi_usb_cancel(struct ftdi_usb_device *ad)
{
    if (ad->op.in_flight) {
        ad->op.cancelled = true;
        libusb_cancel_transfer(ad->op.transfer);
        /* The callback must have run before the transfer or the adapter may go: wait for it
         * here, outside any callback (see ftdi_usb.h). */
        struct timeval tick = {0, 100000};
        for (int i = 0; i < 30 && ad->op.in_flight; i++)
            libusb_handle_events_timeout_completed(ad->host->usb, &tick, NULL);
        ad->op.cancelled = false;
    }
    ad->op.kind = FTDI_OP_NONE;
    ad->op.done = NULL;
}

/* ---- the same operations, waited for (a program without a loop of its own; the tests) ---- */

struct waiter {
    bool done;
    int rc;
};

static void waited(struct ftdi_usb_device *ad, int rc, void *user)
{
    struct waiter *w = user;
    (void)ad;
    w->rc = rc;
    w->done = true;
}

/* rc: what the submission returned. */
static int wait_for(struct ftdi_usb_device *ad, int rc, struct waiter *w)
{
    while (rc == 0 && !w->done)
        ftdi_usb_host_wait(ad->host);
    return rc < 0 ? rc : w->rc;
}

int ftdi_usb_mpsse_setup(struct ftdi_usb_device *ad, unsigned latency_ms)
{
    struct waiter w = {0};
    return wait_for(ad, ftdi_usb_submit_setup(ad, latency_ms, waited, &w), &w);
}

int ftdi_usb_write(struct ftdi_usb_device *ad, const void *buf, size_t len, unsigned timeout_ms)
{
    struct waiter w = {0};
    if (!ad->handle)
        return ftdi_usb_fail(ad, -EBADF, "adapter not open");
    if (len == 0)
        return 0;
    return wait_for(ad, ftdi_usb_submit_exchange(ad, buf, len, NULL, 0, timeout_ms, waited, &w),
                    &w);
}

int ftdi_usb_read_exact(struct ftdi_usb_device *ad, void *buf, size_t n, unsigned timeout_ms,
                        size_t *got)
{
    struct waiter w = {0};
    if (got)
        *got = 0;
    if (!ad->handle)
        return ftdi_usb_fail(ad, -EBADF, "adapter not open");
    size_t copied = ftdi_usb_take_pending(ad, buf, n);
    int rc = 0;
    if (copied < n) {
        rc = wait_for(ad,
                      ftdi_usb_submit_exchange(ad, NULL, 0, (uint8_t *)buf + copied, n - copied,
                                               timeout_ms, waited, &w),
                      &w);
        if (w.done)
            copied += ad->op.got;
    }
    if (got)
        *got = copied;
    return rc;
}

int ftdi_usb_drain(struct ftdi_usb_device *ad, unsigned timeout_ms)
{
    struct waiter w = {0};
    int rc = wait_for(ad, ftdi_usb_submit_drain(ad, timeout_ms, waited, &w), &w);
    return rc < 0 ? rc : ad->op.discarded > INT_MAX ? INT_MAX : (int)ad->op.discarded;
}

int ftdi_usb_mpsse_sync(struct ftdi_usb_device *ad, unsigned timeout_ms)
{
    static const uint8_t bad_command[] = {0xAA, 0x87};
    uint8_t reply[2];
    struct waiter w = {0};
    int rc = wait_for(ad,
                      ftdi_usb_submit_exchange(ad, bad_command, sizeof(bad_command), reply,
                                               sizeof(reply), timeout_ms, waited, &w),
                      &w);
    if (rc == 0 && (reply[0] != 0xFA || reply[1] != 0xAA))
        rc = ftdi_usb_fail(ad, -EPROTO, "MPSSE sync: expected FA AA, got %02X %02X", reply[0],
                           reply[1]);
    return rc;
}
