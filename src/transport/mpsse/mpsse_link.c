/* The FTDI bus link (mpsse_link.h): open, read, recover and resync as one state machine on the
 * asynchronous operations of ftdi_usb.h. */
#include "transport/mpsse/mpsse_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define CMD_MAX   1024 /* a scan of eight addresses at any rate fits */
#define REPLY_MAX (MPSSE_I2C_MAX_ADDRESSES * 2 + MPSSE_I2C_CHECK_REPLY)

/* The link's one state machine. A state other than IDLE names the transfer in flight (an exchange,
 * the set-up control requests, or a drain); its completion (transfer_done) is the only transition
 * out of it. Opening, reading and recovering are operations: they end with the caller's done.
 * The RESYNC states run after a failed operation, on their own, and end without a callback.
 *
 *   open:    OPEN_SETUP -> OPEN_SYNC -> OPEN_INIT -> IDLE (opened); a failure closes the link
 *   read:    READ -> IDLE            recover: RECOVER -> IDLE
 *   resync:  RESYNC_DRAIN -> RESYNC_SYNC -> IDLE (in step); when the drain or the sync fails,
 *            RESYNC_SETUP -> RESYNC_SETUP_SYNC -> RESYNC_INIT -> IDLE; any other failure, and
 *            -ENODEV anywhere, closes the link */
enum state {
    IDLE,              /* nothing in flight */
    OPEN_SETUP,        /* opening: the set-up control requests */
    OPEN_SYNC,         /* opening: AA -> FA AA */
    OPEN_INIT,         /* opening: clock and pins */
    READ,              /* the scan of a read */
    RECOVER,           /* the recovery clocking */
    RESYNC_DRAIN,      /* resync: the reply stream drained */
    RESYNC_SYNC,       /* resync: in step again? (AA -> FA AA) */
    RESYNC_SETUP,      /* resync, out of step: the set-up control requests again */
    RESYNC_SETUP_SYNC, /* resync: AA -> FA AA after the set-up */
    RESYNC_INIT,       /* resync: clock and pins again */
};

struct mpsse_link {
    struct bus_link base;
    struct ftdi_usb_host *host;
    struct ftdi_usb_device *ftdi;
    struct ftdi_usb_device_info id; /* where to (re)open it; address 0: not placed */
    struct mpsse_i2c_scan scan;     /* the read in flight; its clock is the link's */
    enum state state;
    bool chip_refused; /* logged once: not an MPSSE chip */
    bool *stuck;
    struct bus_read *out;
    bus_link_done_fn done;
    void *done_user;
    uint8_t cmd[CMD_MAX];      /* set-up, sync, recovery */
    uint8_t scan_cmd[CMD_MAX]; /* the last read's command: built again only for other addresses */
    size_t scan_len;
    uint8_t reply[REPLY_MAX];
};

static struct mpsse_link *from_base(struct bus_link *link)
{
    return (struct mpsse_link *)link;
}

static const struct mpsse_link *from_const(const struct bus_link *link)
{
    return (const struct mpsse_link *)link;
}

static void transfer_done(struct ftdi_usb_device *ftdi, int rc, void *user);

/* Starts one exchange and enters its state (back to IDLE when it could not start). */
static int exchange(struct mpsse_link *l, enum state to, const uint8_t *out, size_t out_len,
                    size_t in_len)
{
    l->state = to;
    int rc = ftdi_usb_submit_exchange(l->ftdi, out, out_len, in_len ? l->reply : NULL, in_len,
                                      MPSSE_LINK_TIMEOUT_MS, transfer_done, l);
    if (rc < 0)
        l->state = IDLE;
    return rc;
}

static int start_sync(struct mpsse_link *l, enum state to)
{
    ssize_t n = mpsse_i2c_build_sync(l->cmd, sizeof(l->cmd));
    return n < 0 ? (int)n : exchange(l, to, l->cmd, (size_t)n, MPSSE_I2C_SYNC_REPLY);
}

static int check_sync(struct mpsse_link *l)
{
    int rc = mpsse_i2c_check_sync(l->reply, MPSSE_I2C_SYNC_REPLY);
    if (rc < 0)
        log_debug("adapter %s: MPSSE sync: expected FA AA, got %02X %02X", l->base.name,
                  l->reply[0], l->reply[1]);
    return rc;
}

static int start_setup(struct mpsse_link *l, enum state to)
{
    l->state = to;
    int rc = ftdi_usb_submit_setup(l->ftdi, FTDI_DEFAULT_LATENCY_MS, transfer_done, l);
    if (rc < 0)
        l->state = IDLE;
    return rc;
}

static int start_init(struct mpsse_link *l, enum state to)
{
    ssize_t n = mpsse_i2c_build_init(&l->scan.clock, l->cmd, sizeof(l->cmd));
    return n < 0 ? (int)n : exchange(l, to, l->cmd, (size_t)n, 0);
}

/* Closes the device at once, also inside a completion: ftdi_usb_close never waits, and the
 * handle goes as soon as the host's event handling returns. */
static void close_link(struct mpsse_link *l)
{
    l->base.open = false;
    ftdi_usb_close(l->ftdi);
}

/* ---- open ---- */

/* The FT232H drives the lines open drain by itself; the FT2232H and FT4232H lack drive-zero. */
static int choose_drive(struct mpsse_link *l)
{
    switch (l->id.chip) {
    case FTDI_CHIP_FT232H:
        l->scan.clock.drive = MPSSE_I2C_DRIVE_ZERO;
        return 0;
    case FTDI_CHIP_FT2232H:
    case FTDI_CHIP_FT4232H:
        l->scan.clock.drive = MPSSE_I2C_DRIVE_DIRECTION;
        return 0;
    case FTDI_CHIP_UNKNOWN:
        break;
    }
    if (!l->chip_refused)
        log_warn("adapter %s: bcdDevice 0x%04x is not an FT232H, FT2232H or FT4232H: no MPSSE I2C",
                 l->base.name, l->id.bcd_device);
    l->chip_refused = true;
    return -ENOTSUP;
}

/* Where it was placed; not placed (address 0): -ENOENT without any I/O. */
static int open_device(struct mpsse_link *l)
{
    return ftdi_usb_open_at(l->ftdi, &l->id);
}

static void opened(struct mpsse_link *l)
{
    const struct mpsse_i2c_clock *clk = &l->scan.clock;
    l->base.open = true;
    l->base.unplugged = false;
    log_info("adapter %s: opened %s (bcdDevice 0x%04x), I2C SCL at %u Hz (%u Hz configured; "
             "UM10204 %s mode: high %u ns, low %u ns)%s",
             l->base.name, ftdi_usb_chip_name(l->id.chip), l->id.bcd_device, (unsigned)clk->scl_hz,
             (unsigned)clk->requested_hz, mpsse_i2c_mode_name(clk->mode),
             (unsigned)clk->scl_high_ns, (unsigned)clk->scl_low_ns,
             clk->drive == MPSSE_I2C_DRIVE_DIRECTION ? ", open drain by SDA direction" : "");
}

static int link_open(struct bus_link *link, bus_link_done_fn done, void *user)
{
    struct mpsse_link *l = from_base(link);
    int rc = open_device(l);
    if (rc < 0) {
        l->base.unplugged = rc == -ENOENT || rc == -ENODEV;
        return rc;
    }
    l->id = *ftdi_usb_opened_info(l->ftdi); /* from now on re-opened by its own ids */
    if ((rc = choose_drive(l)) == 0) {
        l->scan_len = 0; /* the drive mode may have changed: the scan is built again */
        l->done = done;
        l->done_user = user;
        rc = start_setup(l, OPEN_SETUP);
    }
    if (rc < 0) {
        ftdi_usb_close(l->ftdi);
        l->base.unplugged = rc == -ENODEV;
    }
    return rc;
}

/* ---- read and recover ---- */

static int link_read(struct bus_link *link, const uint8_t *addresses, size_t n,
                     struct bus_read *out, bool *stuck, bus_link_done_fn done, void *user)
{
    struct mpsse_link *l = from_base(link);
    if (n == 0 || n > MPSSE_I2C_MAX_ADDRESSES)
        return -EINVAL;
    if (l->scan_len == 0 || n != l->scan.n_addresses || memcmp(addresses, l->scan.addresses, n)) {
        memcpy(l->scan.addresses, addresses, n);
        l->scan.n_addresses = n;
        ssize_t len = mpsse_i2c_build_scan(&l->scan, l->scan_cmd, sizeof(l->scan_cmd));
        l->scan_len = len < 0 ? 0 : (size_t)len;
        if (len < 0)
            return (int)len;
    }
    l->out = out;
    l->stuck = stuck;
    l->done = done;
    l->done_user = user;
    return exchange(l, READ, l->scan_cmd, l->scan_len, mpsse_i2c_scan_reply_len(&l->scan));
}

/* The reply of a read: the reads, and the pins before and after them. */
static int parse_read(struct mpsse_link *l)
{
    struct mpsse_i2c_read reads[MPSSE_I2C_MAX_ADDRESSES];
    uint8_t before = 0, after = 0;
    size_t want = mpsse_i2c_scan_reply_len(&l->scan);
    int rc = mpsse_i2c_parse_scan(&l->scan, l->reply, want, reads, MPSSE_I2C_MAX_ADDRESSES);
    if (rc >= 0)
        rc = mpsse_i2c_scan_levels(&l->scan, l->reply, want, &before, &after);
    if (rc < 0) {
        log_debug("adapter %s: scan reply out of step (no FA AA at its end)", l->base.name);
        return rc;
    }
    for (size_t i = 0; i < l->scan.n_addresses; i++)
        l->out[i] = (struct bus_read){
            .address = reads[i].address, .acked = reads[i].acked, .data = reads[i].data};
    *l->stuck = !mpsse_i2c_bus_idle(before) || !mpsse_i2c_bus_idle(after);
    return 0;
}

static int link_recover(struct bus_link *link, bus_link_done_fn done, void *user)
{
    struct mpsse_link *l = from_base(link);
    ssize_t n = mpsse_i2c_build_recovery(&l->scan.clock, l->cmd, sizeof(l->cmd));
    if (n < 0)
        return (int)n;
    l->done = done;
    l->done_user = user;
    return exchange(l, RECOVER, l->cmd, (size_t)n, MPSSE_I2C_RECOVERY_REPLY);
}

/* ---- resynchronising after a failed transfer ----
 *
 * Drop whatever is in flight and check the reply stream is in step; when it is not, set the
 * engine up again; when even that fails, close (re-opened at the next poll). */
static void resync_failed(struct mpsse_link *l, int rc)
{
    if (rc == -ENODEV)
        log_warn("adapter %s: unplugged; will re-open it when it is back", l->base.name);
    else
        log_warn("adapter %s: cannot set the adapter up again (%s): re-opening it", l->base.name,
                 ftdi_usb_error(l->ftdi));
    close_link(l);
    l->base.unplugged = rc == -ENODEV;
}

static int start_drain(struct mpsse_link *l)
{
    l->state = RESYNC_DRAIN;
    int rc = ftdi_usb_submit_drain(l->ftdi, MPSSE_LINK_TIMEOUT_MS, transfer_done, l);
    if (rc < 0)
        l->state = IDLE;
    return rc;
}

/* The drain or the sync of a resync failed (rc, not -ENODEV): the engine is set up again. */
static int start_setup_again(struct mpsse_link *l, int rc)
{
    log_info("adapter %s: setting the MPSSE engine up again after: %s", l->base.name,
             rc == -EPROTO ? "a reply out of step" : ftdi_usb_error(l->ftdi));
    return start_setup(l, RESYNC_SETUP);
}

static void link_resync(struct bus_link *link, int failure)
{
    struct mpsse_link *l = from_base(link);
    if (!l->base.open || l->state != IDLE)
        return;
    int rc = failure == -ENODEV ? failure : start_drain(l);
    if (rc < 0)
        resync_failed(l, rc);
}

/* ---- completions: the transitions ---- */

/* An operation ends with rc (0 or a negative code); an open that failed closes the link. */
static void end_operation(struct mpsse_link *l, bool opening, int rc)
{
    l->state = IDLE;
    if (rc < 0 && opening) {
        close_link(l);
        l->base.unplugged = rc == -ENODEV;
    }
    l->done(&l->base, rc, l->done_user);
}

/* The transfer of state `at` ended with rc (0 or a negative code): the next transfer starts (its
 * state entered), or the operation or resync ends. */
static void advance(struct mpsse_link *l, enum state at, int rc)
{
    switch (at) {
    case OPEN_SETUP:
        if (rc == 0 && (rc = start_sync(l, OPEN_SYNC)) == 0)
            return;
        end_operation(l, true, rc);
        return;
    case OPEN_SYNC:
        if (rc == 0 && (rc = check_sync(l)) == 0 && (rc = start_init(l, OPEN_INIT)) == 0)
            return;
        end_operation(l, true, rc);
        return;
    case OPEN_INIT:
        if (rc == 0)
            opened(l);
        end_operation(l, true, rc);
        return;
    case READ:
        end_operation(l, false, rc == 0 ? parse_read(l) : rc);
        return;
    case RECOVER:
        if (rc == 0)
            rc = mpsse_i2c_bus_idle(l->reply[0]) ? 0 : -EREMOTEIO;
        end_operation(l, false, rc);
        return;
    case IDLE: /* not reached: every transfer the link starts enters a state */
        end_operation(l, true, rc == 0 ? -EINVAL : rc);
        return;
    case RESYNC_DRAIN:
        if (rc == 0)
            rc = start_sync(l, RESYNC_SYNC);
        else if (rc != -ENODEV)
            rc = start_setup_again(l, rc);
        break;
    case RESYNC_SYNC:
        if (rc == 0)
            rc = check_sync(l); /* 0: in step again, the resync is over */
        if (rc < 0 && rc != -ENODEV)
            rc = start_setup_again(l, rc);
        break;
    case RESYNC_SETUP:
        if (rc == 0)
            rc = start_sync(l, RESYNC_SETUP_SYNC);
        break;
    case RESYNC_SETUP_SYNC:
        if (rc == 0 && (rc = check_sync(l)) == 0)
            rc = start_init(l, RESYNC_INIT);
        break;
    case RESYNC_INIT:
        break; /* rc 0: set up and in step again */
    }
    if (rc < 0) {
        l->state = IDLE;
        resync_failed(l, rc);
    }
}

static void transfer_done(struct ftdi_usb_device *ftdi, int rc, void *user)
{
    struct mpsse_link *l = user;
    (void)ftdi;
    enum state at = l->state;
    l->state = IDLE;
    advance(l, at, rc);
}

/* ---- the rest of the interface ---- */

static bool link_busy(const struct bus_link *link)
{
    return from_const(link)->state != IDLE;
}

static void link_wait(struct bus_link *link)
{
    ftdi_usb_host_wait(from_base(link)->host);
}

static void link_describe(const struct bus_link *link, struct bus_link_info *out)
{
    const struct mpsse_link *l = from_const(link);
    memset(out, 0, sizeof(*out));
    out->transport = "ftdi";
    out->scl_hz = l->scan.clock.scl_hz;
    if (l->id.chip == FTDI_CHIP_UNKNOWN) {
        snprintf(out->connection, sizeof(out->connection), "USB I2C adapter");
        snprintf(out->hardware, sizeof(out->hardware), "not found yet");
    } else {
        snprintf(out->connection, sizeof(out->connection), "USB %s I2C",
                 ftdi_usb_chip_name(l->id.chip));
        snprintf(out->hardware, sizeof(out->hardware), "%s I2C", ftdi_usb_chip_name(l->id.chip));
    }
    snprintf(out->trace, sizeof(out->trace), "vid=0x%04x pid=0x%04x", l->id.vid, l->id.pid);
}

static const char *link_error(const struct bus_link *link)
{
    return ftdi_usb_error(from_const(link)->ftdi);
}

static void link_free(struct bus_link *link)
{
    struct mpsse_link *l = from_base(link);
    if (!l)
        return;
    if (l->ftdi)
        ftdi_usb_device_free(l->ftdi);
    free(l);
}

static const struct bus_link_ops mpsse_link_ops = {
    .open = link_open,
    .read = link_read,
    .recover = link_recover,
    .resync = link_resync,
    .busy = link_busy,
    .wait = link_wait,
    .describe = link_describe,
    .error = link_error,
    .free = link_free,
};

int mpsse_link_new(struct ftdi_usb_host *host, const struct ftdi_usb_device_info *at,
                   uint32_t i2c_hz, struct bus_link **out)
{
    *out = NULL;
    struct mpsse_link *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->base.ops = &mpsse_link_ops;
    l->base.can_recover = true;
    snprintf(l->base.name, sizeof(l->base.name), "%s", at->serial);
    l->host = host;
    l->id = *at;
    l->scan.rounds = 1;
    l->scan.check_bus = true;
    int rc = mpsse_i2c_clock_for(i2c_hz, &l->scan.clock);
    if (rc == 0 && !(l->ftdi = ftdi_usb_device_new(host)))
        rc = -ENOMEM;
    if (rc < 0) {
        link_free(&l->base);
        return rc;
    }
    *out = &l->base;
    return 0;
}

const struct ftdi_usb_device_info *mpsse_link_device(const struct bus_link *link)
{
    return &from_const(link)->id;
}

void mpsse_link_place(struct bus_link *link, const struct ftdi_usb_device_info *at)
{
    struct mpsse_link *l = from_base(link);
    if (at) {
        l->id = *at;
    } else {
        l->id.bus = 0;
        l->id.address = 0;
    }
}

const struct mpsse_i2c_clock *mpsse_link_clock(const struct bus_link *link)
{
    return &from_const(link)->scan.clock;
}
