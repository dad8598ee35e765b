/* Asynchronous operations on an opened device (ftdi_usb.h, "asynchronous operations"): each one a
 * short chain of libusb transfers on the device's one libusb_transfer, advanced from libusb's
 * callbacks, which run inside ftdi_usb_host_handle_events() when the loop finds a libusb fd ready.
 * No call here waits for the device. */
#include <errno.h>
#include <string.h>

#include "transport/mpsse/ftdi_usb_private.h"
#include "base/log.h"

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

static int submit(struct ftdi_usb_device *dev, const char *what)
{
    int r = libusb_submit_transfer(dev->op.transfer);
    if (r < 0)
        return ftdi_usb_fail_usb(dev, r, what);
    dev->op.in_flight = true;
    return 0;
}

static int submit_control(struct ftdi_usb_device *dev, uint8_t request, uint16_t value,
                          const char *what)
{
    libusb_fill_control_setup(dev->op.control, FTDI_REQ_OUT, request, value, FTDI_PORT_A_INDEX, 0);
    libusb_fill_control_transfer(dev->op.transfer, dev->handle, dev->op.control, on_transfer, dev,
                                 FTDI_CONTROL_TIMEOUT_MS);
    return submit(dev, what);
}

static int submit_out(struct ftdi_usb_device *dev)
{
    /* libusb never writes to an OUT buffer; its prototype just lacks the const. */
    libusb_fill_bulk_transfer(dev->op.transfer, dev->handle, FTDI_EP_OUT,
                              (unsigned char *)(uintptr_t)dev->op.out, (int)dev->op.out_len,
                              on_transfer, dev, remaining_ms(&dev->op));
    return submit(dev, "bulk OUT");
}

static int submit_in(struct ftdi_usb_device *dev, size_t wanted)
{
    libusb_fill_bulk_transfer(dev->op.transfer, dev->handle, FTDI_EP_IN, dev->rx,
                              (int)ftdi_usb_in_length(dev, wanted), on_transfer, dev,
                              remaining_ms(&dev->op));
    return submit(dev, "bulk IN");
}

/* Ends the operation: the callback may start the next one. */
void ftdi_usb_op_finish(struct ftdi_usb_device *dev, int rc)
{
    ftdi_usb_done_fn done = dev->op.done;
    void *user = dev->op.user;
    dev->op.kind = FTDI_OP_NONE;
    dev->op.done = NULL;
    if (done)
        done(dev, rc, user);
}

static int status_code(struct ftdi_usb_device *dev, enum libusb_transfer_status status,
                       const char *what)
{
    switch (status) {
    case LIBUSB_TRANSFER_COMPLETED:
        return 0;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return ftdi_usb_fail(dev, -ETIMEDOUT, "%s timed out", what);
    case LIBUSB_TRANSFER_STALL:
        return ftdi_usb_fail(dev, -EPIPE, "%s: endpoint stalled", what);
    case LIBUSB_TRANSFER_NO_DEVICE:
        return ftdi_usb_fail(dev, -ENODEV, "%s: adapter gone (unplugged)", what);
    case LIBUSB_TRANSFER_OVERFLOW:
        return ftdi_usb_fail(dev, -EOVERFLOW, "%s: more data than asked for", what);
    case LIBUSB_TRANSFER_CANCELLED:
        return ftdi_usb_fail(dev, -ECANCELED, "%s cancelled", what);
    case LIBUSB_TRANSFER_ERROR:
        break;
    }
    return ftdi_usb_fail(dev, -EIO, "%s failed", what);
}

/* A bulk endpoint stalled: the operation ends with -EPIPE once the halt is cleared, off the loop
 * (ftdi_usb_halt.c), so that the next transfer works. 0: under way. */
static int clear_halt(struct ftdi_usb_device *dev, uint8_t endpoint)
{
    int rc = ftdi_usb_clear_halt_later(dev, endpoint, ftdi_usb_op_finish);
    if (rc < 0)
        log_warn("ftdi %s: endpoint 0x%02x stalled and cannot be cleared: %s", dev->info.port_path,
                 endpoint, strerror(-rc));
    return rc < 0 ? -EPIPE : 0;
}

/* A setup step done: the next one, or the end. */
static int advance_setup(struct ftdi_usb_device *dev)
{
    if (dev->op.step == N_SETUP_STEPS)
        return 1;
    unsigned i = dev->op.step++;
    uint16_t value = setup_steps[i].request == FTDI_REQ_SET_LATENCY ? (uint16_t)dev->op.latency_ms
                                                                    : setup_steps[i].value;
    return submit_control(dev, setup_steps[i].request, value, setup_steps[i].what);
}

/* Payload that arrived: into in[] up to in_len, the rest stays pending for the next read. */
static void take_in(struct ftdi_usb_device *dev, const struct libusb_transfer *t)
{
    dev->rx_off = 0;
    dev->rx_len = ftdi_usb_strip_status_bytes(dev->rx, (size_t)t->actual_length, dev->packet_size);
    dev->op.got +=
        ftdi_usb_take_pending(dev, dev->op.in + dev->op.got, dev->op.in_len - dev->op.got);
}

/* One transfer of an exchange done. Returns 1 when the exchange is complete, 0 when another
 * transfer is on its way, or a negative code. */
static int advance_exchange(struct ftdi_usb_device *dev, const struct libusb_transfer *t)
{
    struct ftdi_usb_op *op = &dev->op;
    if (op->step == 0) { /* the OUT */
        int rc = status_code(dev, t->status, "bulk OUT");
        if (rc == -EPIPE)
            return clear_halt(dev, FTDI_EP_OUT);
        if (rc < 0)
            return rc;
        if ((size_t)t->actual_length != op->out_len)
            return ftdi_usb_fail(dev, -EIO, "bulk OUT short write: %d of %zu bytes",
                                 t->actual_length, op->out_len);
        op->step = 1;
        op->got = ftdi_usb_take_pending(dev, op->in, op->in_len);
    } else { /* an IN */
        int rc = status_code(dev, t->status, "bulk IN");
        take_in(dev, t);
        if (rc == -EPIPE)
            return clear_halt(dev, FTDI_EP_IN);
        if (rc == -ETIMEDOUT || (rc == 0 && op->got < op->in_len && remaining_ms(op) <= 1))
            return ftdi_usb_fail(dev, -ETIMEDOUT, "read timed out: %zu of %zu bytes", op->got,
                                 op->in_len);
        if (rc < 0)
            return rc;
    }
    if (op->got >= op->in_len)
        return 1;
    int rc = submit_in(dev, op->in_len - op->got);
    return rc < 0 ? rc : 0;
}

/* Purges first (two control requests), then reads until the chip answers a bare status packet. */
static int advance_drain(struct ftdi_usb_device *dev, const struct libusb_transfer *t)
{
    struct ftdi_usb_op *op = &dev->op;
    if (op->step < 2) {
        int rc = status_code(dev, t->status, "purging");
        if (rc < 0)
            return rc;
        op->step++;
        if (op->step == 1)
            return submit_control(dev, FTDI_REQ_RESET, FTDI_PURGE_FROM_CHIP,
                                  "purging the chip-to-host buffer");
    } else {
        int rc = status_code(dev, t->status, "draining");
        size_t payload =
            ftdi_usb_strip_status_bytes(dev->rx, (size_t)t->actual_length, dev->packet_size);
        op->discarded += payload;
        if (rc == 0 && payload == 0)
            return 1;
        if (rc == -ETIMEDOUT || (rc == 0 && remaining_ms(op) <= 1))
            return ftdi_usb_fail(dev, -ETIMEDOUT, "draining: still receiving (%zu bytes discarded)",
                                 op->discarded);
        if (rc < 0)
            return rc;
    }
    int rc = submit_in(dev, dev->rx_capacity);
    return rc < 0 ? rc : 0;
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *transfer)
{
    struct ftdi_usb_device *dev = transfer->user_data;
    dev->op.in_flight = false;
    int rc;
    switch (dev->op.kind) {
    case FTDI_OP_SETUP:
        rc = status_code(dev, transfer->status, setup_steps[dev->op.step - 1].what);
        if (rc == 0)
            rc = advance_setup(dev);
        break;
    case FTDI_OP_EXCHANGE:
        rc = advance_exchange(dev, transfer);
        break;
    case FTDI_OP_DRAIN:
        rc = advance_drain(dev, transfer);
        break;
    default:
        return;
    }
    if (rc != 0)
        ftdi_usb_op_finish(dev, rc > 0 ? 0 : rc);
}

/* Common start: the device is open and idle. */
static int begin(struct ftdi_usb_device *dev, enum ftdi_usb_op_kind kind, unsigned timeout_ms,
                 ftdi_usb_done_fn done, void *user)
{
    if (!dev->handle)
        return ftdi_usb_fail(dev, -EBADF, "adapter not open");
    if (dev->op.kind != FTDI_OP_NONE)
        return ftdi_usb_fail(dev, -EBUSY, "an operation is still in progress");
    dev->op.kind = kind;
    dev->op.step = 0;
    dev->op.got = dev->op.discarded = 0;
    dev->op.deadline_ms = ftdi_usb_now_ms() + (timeout_ms ? timeout_ms : 1);
    dev->op.done = done;
    dev->op.user = user;
    return 0;
}

/* A submission that failed at once ends the operation without a callback. */
static int started(struct ftdi_usb_device *dev, int rc)
{
    if (rc < 0) {
        dev->op.kind = FTDI_OP_NONE;
        dev->op.done = NULL;
    }
    return rc < 0 ? rc : 0;
}

int ftdi_usb_submit_setup(struct ftdi_usb_device *dev, unsigned latency_ms, ftdi_usb_done_fn done,
                          void *user)
{
    if (latency_ms == 0)
        latency_ms = FTDI_DEFAULT_LATENCY_MS;
    if (latency_ms > 255)
        return ftdi_usb_fail(dev, -EINVAL, "latency timer %u ms out of range 1-255", latency_ms);
    int rc = begin(dev, FTDI_OP_SETUP, FTDI_CONTROL_TIMEOUT_MS * N_SETUP_STEPS, done, user);
    if (rc < 0)
        return rc;
    dev->op.latency_ms = latency_ms;
    dev->rx_off = dev->rx_len = 0;
    return started(dev, advance_setup(dev));
}

int ftdi_usb_submit_exchange(struct ftdi_usb_device *dev, const void *out, size_t out_len, void *in,
                             size_t in_len, unsigned timeout_ms, ftdi_usb_done_fn done, void *user)
{
    if (out_len > INT32_MAX || (out_len == 0 && in_len == 0))
        return ftdi_usb_fail(dev, -EINVAL, "exchange of %zu bytes out, %zu in", out_len, in_len);
    int rc = begin(dev, FTDI_OP_EXCHANGE, timeout_ms, done, user);
    if (rc < 0)
        return rc;
    dev->op.out = out;
    dev->op.out_len = out_len;
    dev->op.in = in;
    dev->op.in_len = in_len;
    if (out_len)
        return started(dev, submit_out(dev));
    dev->op.step = 1; /* a read alone */
    dev->op.got = ftdi_usb_take_pending(dev, in, in_len);
    return started(dev, submit_in(dev, in_len - dev->op.got));
}

int ftdi_usb_submit_drain(struct ftdi_usb_device *dev, unsigned timeout_ms, ftdi_usb_done_fn done,
                          void *user)
{
    int rc = begin(dev, FTDI_OP_DRAIN, timeout_ms, done, user);
    if (rc < 0)
        return rc;
    dev->rx_off = dev->rx_len = 0;
    return started(dev, submit_control(dev, FTDI_REQ_RESET, FTDI_PURGE_TO_CHIP,
                                       "purging the host-to-chip buffer"));
}
