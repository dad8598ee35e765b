#include "adapter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* (Re)builds the scan and recovery commands for the drive mode of the opened chip. */
static int build_commands(struct adapter *ad)
{
    free(ad->scan_cmd);
    free(ad->recovery_cmd);
    ad->scan_cmd_len = mpsse_i2c_scan_command_len(&ad->scan);
    ad->recovery_cmd_len = mpsse_i2c_recovery_len(&ad->scan.clock);
    ad->scan_cmd = malloc(ad->scan_cmd_len ? ad->scan_cmd_len : 1);
    ad->recovery_cmd = malloc(ad->recovery_cmd_len);
    if (!ad->scan_cmd || !ad->recovery_cmd)
        return -ENOMEM;
    ssize_t rc = mpsse_i2c_build_scan(&ad->scan, ad->scan_cmd, ad->scan_cmd_len);
    if (rc >= 0)
        rc = mpsse_i2c_build_recovery(&ad->scan.clock, ad->recovery_cmd, ad->recovery_cmd_len);
    return rc < 0 ? (int)rc : 0;
}

int adapter_init(struct adapter *ad, struct mpsse_usb_host *host,
                 const struct mpsse_usb_device_info *id,
                 const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], uint32_t i2c_hz,
                 unsigned lost_after)
{
    memset(ad, 0, sizeof(*ad));
    ad->id = *id;
    ad->lost_after = lost_after;
    memcpy(ad->setup, setup, sizeof(ad->setup));
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        ad->scan.addresses[d] = lynx_address(d);
        tracker_init(&ad->tracker[d]);
    }
    ad->scan.n_addresses = LYNX_DISTRIBUTORS;
    ad->scan.rounds = 1; /* second reads only where needed: confirm_reads */
    ad->scan.check_bus = true;
    int rc = mpsse_i2c_clock_for(i2c_hz, &ad->scan.clock);
    if (rc < 0)
        return rc;
    if ((rc = build_commands(ad)) < 0)
        return rc;
    ad->host = host;
    ad->ftdi = mpsse_usb_adapter_new(host);
    return ad->ftdi ? 0 : -ENOMEM;
}

void adapter_deinit(struct adapter *ad)
{
    if (ad->ftdi)
        mpsse_usb_adapter_free(ad->ftdi);
    free(ad->scan_cmd);
    free(ad->recovery_cmd);
    ad->ftdi = NULL;
    ad->scan_cmd = ad->recovery_cmd = NULL;
}

/* Logs a failure once, not every poll: a missing adapter must not fill the log. */
static int report(struct adapter *ad, int rc, const char *what)
{
    if (rc != ad->last_error)
        log_warn("adapter %s: %s: %s", ad->id.serial, what, mpsse_usb_error(ad->ftdi));
    ad->last_error = rc;
    return rc;
}

/* The FT232H drives the lines open drain by itself; the FT2232H and FT4232H lack drive-zero. */
static int choose_drive(struct adapter *ad, const struct mpsse_usb_device_info *info)
{
    switch (info->chip) {
    case FTDI_CHIP_FT232H:
        ad->scan.clock.drive = MPSSE_I2C_DRIVE_ZERO;
        break;
    case FTDI_CHIP_FT2232H:
    case FTDI_CHIP_FT4232H:
        ad->scan.clock.drive = MPSSE_I2C_DRIVE_DIRECTION;
        break;
    case FTDI_CHIP_UNKNOWN:
        if (ad->last_error != -ENOTSUP)
            log_warn("adapter %s: bcdDevice 0x%04x is not an FT232H, FT2232H or FT4232H: no "
                     "MPSSE I2C",
                     ad->id.serial, info->bcd_device);
        ad->last_error = -ENOTSUP;
        return -ENOTSUP;
    }
    return build_commands(ad);
}

/* By the known ids; a configured adapter not found yet is looked for under every id. */
static int open_device(struct adapter *ad)
{
    if (ad->id.pid)
        return mpsse_usb_open(ad->ftdi, ad->id.vid, ad->id.pid, ad->id.serial);
    int rc = -ENOENT;
    for (size_t i = 0; i < ad->n_ids && rc == -ENOENT; i++)
        rc = mpsse_usb_open(ad->ftdi, ad->ids[i].vid, ad->ids[i].pid, ad->id.serial);
    return rc;
}

/* Closed at once for every purpose but libusb's: libusb_close must not run inside a transfer
 * callback (it waits for the event lock the callback runs under), so the handle is let go of at
 * the start of the next poll (close_pending). */
static void close_adapter(struct adapter *ad)
{
    ad->open = false;
    ad->close_pending = true;
}

static void close_pending(struct adapter *ad)
{
    if (ad->close_pending)
        mpsse_usb_close(ad->ftdi);
    ad->close_pending = false;
}

static void fail_all(struct adapter *ad)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_fail(&ad->tracker[d], ad->lost_after);
}

/* ---- the steps: each starts one asynchronous exchange whose completion runs step_done ---- */

static void step_done(struct mpsse_usb_adapter *ftdi, int rc, void *user);
static void finish_poll(struct adapter *ad, int rc);
static void resynchronise(struct adapter *ad, int failure);

static int exchange(struct adapter *ad, enum adapter_stage stage, const uint8_t *out,
                    size_t out_len, uint8_t *in, size_t in_len)
{
    ad->stage = stage;
    int rc = mpsse_usb_submit_exchange(ad->ftdi, out, out_len, in, in_len, ADAPTER_USB_TIMEOUT_MS,
                                       step_done, ad);
    if (rc < 0)
        ad->stage = ADAPTER_IDLE;
    return rc;
}

static int start_sync(struct adapter *ad, enum adapter_stage stage)
{
    static const uint8_t bad_command[] = {0xAA, 0x87};
    return exchange(ad, stage, bad_command, sizeof(bad_command), ad->reply, 2);
}

static int check_sync(struct adapter *ad)
{
    if (ad->reply[0] == 0xFA && ad->reply[1] == 0xAA)
        return 0;
    log_debug("adapter %s: MPSSE sync: expected FA AA, got %02X %02X", ad->id.serial, ad->reply[0],
              ad->reply[1]);
    return -EPROTO;
}

static int start_setup(struct adapter *ad, enum adapter_stage stage)
{
    ad->stage = stage;
    int rc = mpsse_usb_submit_setup(ad->ftdi, FTDI_DEFAULT_LATENCY_MS, step_done, ad);
    if (rc < 0)
        ad->stage = ADAPTER_IDLE;
    return rc;
}

static int start_init(struct adapter *ad, enum adapter_stage stage)
{
    ssize_t n = mpsse_i2c_build_init(&ad->scan.clock, ad->init_cmd, sizeof(ad->init_cmd));
    return n < 0 ? (int)n : exchange(ad, stage, ad->init_cmd, (size_t)n, NULL, 0);
}

static int start_scan(struct adapter *ad, enum adapter_stage stage)
{
    return exchange(ad, stage, ad->scan_cmd, ad->scan_cmd_len, ad->reply,
                    mpsse_i2c_scan_reply_len(&ad->scan));
}

static void opened(struct adapter *ad)
{
    const struct mpsse_usb_device_info *info = mpsse_usb_opened_info(ad->ftdi);
    if (ad->opened_once)
        ad->counters.reopens++;
    ad->open = ad->opened_once = true;
    ad->unplugged = false;
    ad->last_error = 0;
    const struct mpsse_i2c_clock *clk = &ad->scan.clock;
    log_info("adapter %s: opened %s (bcdDevice 0x%04x), I2C SCL at %u Hz (%u Hz configured; "
             "UM10204 %s mode: high %u ns, low %u ns)%s",
             ad->id.serial, mpsse_usb_chip_name(info->chip), info->bcd_device,
             (unsigned)clk->scl_hz, (unsigned)clk->requested_hz, mpsse_i2c_mode_name(clk->mode),
             (unsigned)clk->scl_high_ns, (unsigned)clk->scl_low_ns,
             clk->drive == MPSSE_I2C_DRIVE_DIRECTION ? ", open drain by SDA direction" : "");
}

/* Parses a scan reply. *stuck: the pins showed SDA or SCL low before or after it. */
static int parse_scan(struct adapter *ad, const struct mpsse_i2c_scan *scan,
                      struct mpsse_i2c_read *reads, size_t max, bool *stuck)
{
    uint8_t before = 0, after = 0;
    size_t want = mpsse_i2c_scan_reply_len(scan);
    int rc = mpsse_i2c_parse_scan(scan, ad->reply, want, reads, max);
    if (rc >= 0)
        rc = mpsse_i2c_scan_levels(scan, ad->reply, want, &before, &after);
    if (rc < 0) {
        if (rc != ad->last_error)
            log_warn("adapter %s: scan reply out of step (no FA AA at its end): resynchronising",
                     ad->id.serial);
        ad->last_error = rc;
        return rc;
    }
    *stuck = !mpsse_i2c_bus_idle(before) || !mpsse_i2c_bus_idle(after);
    return 0;
}

/* The distributors whose first read needs confirming are read again, in one more round trip of
 * the same poll. Returns 1 when none needs it. */
static int start_confirm(struct adapter *ad)
{
    ad->confirm = ad->scan;
    ad->confirm.n_addresses = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read first = {.acked = ad->reads[d].acked, .data = ad->reads[d].data};
        if (tracker_wants_second_read(&ad->tracker[d], first))
            ad->confirm.addresses[ad->confirm.n_addresses++] = lynx_address(d);
    }
    if (ad->confirm.n_addresses == 0)
        return 1;
    ssize_t len = mpsse_i2c_build_scan(&ad->confirm, ad->confirm_cmd, sizeof(ad->confirm_cmd));
    if (len < 0)
        return (int)len;
    return exchange(ad, ADAPTER_CONFIRM, ad->confirm_cmd, (size_t)len, ad->reply,
                    mpsse_i2c_scan_reply_len(&ad->confirm));
}

/* A scan (first or after a recovery) is in: parse it and go on. Returns 0 when the poll goes on
 * with another exchange, 1 when it is complete, or a negative code. */
static int scanned(struct adapter *ad, enum adapter_stage stage)
{
    bool stuck = false;
    int rc = parse_scan(ad, &ad->scan, ad->reads, LYNX_DISTRIBUTORS, &stuck);
    if (rc < 0)
        return rc;
    if (stuck) {
        if (stage == ADAPTER_RESCAN)
            return -EREMOTEIO;
        if (!ad->bus_stuck)
            log_warn("adapter %s: I2C bus stuck (SDA or SCL held low): clocking SCL 9 times and "
                     "a STOP to free it",
                     ad->id.serial);
        ad->bus_stuck = true;
        ad->counters.bus_recoveries++;
        /* 9 SCL pulses with SDA released and a STOP: a slave stopped mid-byte lets go */
        rc = exchange(ad, ADAPTER_RECOVER, ad->recovery_cmd, ad->recovery_cmd_len, ad->reply,
                      MPSSE_I2C_RECOVERY_REPLY);
        return rc < 0 ? report(ad, rc, "bus recovery failed") : 0;
    }
    if (ad->bus_stuck)
        log_info("adapter %s: I2C bus free again (%llu recoveries in all)", ad->id.serial,
                 (unsigned long long)ad->counters.bus_recoveries);
    ad->bus_stuck = ad->bus_stuck_failed = false;
    ad->n_reads = LYNX_DISTRIBUTORS;
    rc = start_confirm(ad);
    return rc < 0 ? report(ad, rc, "scan failed") : rc;
}

/* The poll's next step after an exchange of it ended well. 0: another exchange runs; 1: the poll
 * is complete; negative: it failed. */
static int poll_step(struct adapter *ad, enum adapter_stage stage)
{
    int rc;
    switch (stage) {
    case ADAPTER_OPEN_SETUP:
        return start_sync(ad, ADAPTER_OPEN_SYNC);
    case ADAPTER_OPEN_SYNC:
        rc = check_sync(ad);
        return rc < 0 ? rc : start_init(ad, ADAPTER_OPEN_INIT);
    case ADAPTER_OPEN_INIT:
        opened(ad);
        return start_scan(ad, ADAPTER_SCAN);
    case ADAPTER_SCAN:
    case ADAPTER_RESCAN:
        return scanned(ad, stage);
    case ADAPTER_RECOVER:
        if (!mpsse_i2c_bus_idle(ad->reply[0]))
            return -EREMOTEIO;
        return start_scan(ad, ADAPTER_RESCAN);
    case ADAPTER_CONFIRM: {
        bool stuck = false;
        rc = parse_scan(ad, &ad->confirm, ad->reads + ad->n_reads, ad->confirm.n_addresses, &stuck);
        if (rc == 0 && !stuck) /* a bus found stuck after it leaves the first reads unconfirmed */
            ad->n_reads += ad->confirm.n_addresses;
        return rc < 0 ? rc : 1;
    }
    default:
        return -EINVAL;
    }
}

/* Where an exchange (or the set-up) ended: the poll goes on, or the resynchronisation does. */
static void step_done(struct mpsse_usb_adapter *ftdi, int rc, void *user)
{
    struct adapter *ad = user;
    (void)ftdi;
    enum adapter_stage stage = ad->stage;
    ad->stage = ADAPTER_IDLE;
    if (stage >= ADAPTER_RESYNC_DRAIN) {
        resynchronise(ad, rc);
        return;
    }
    if (rc < 0) {
        bool opening = stage <= ADAPTER_OPEN_INIT;
        report(ad, rc, opening ? "cannot set up MPSSE I2C" : "scan failed");
        if (opening) {
            close_adapter(ad);
            ad->unplugged = rc == -ENODEV;
        }
        finish_poll(ad, rc);
        return;
    }
    rc = poll_step(ad, stage);
    if (rc != 0) {
        ad->stage = ADAPTER_IDLE;
        finish_poll(ad, rc > 0 ? 0 : rc);
    }
}

/* ---- resynchronising after a failed transfer ----
 *
 * Runs after the poll's result is published: drop whatever is in flight and check the reply
 * stream is in step; when it is not, set the engine up again; when even that fails, close
 * (re-open at the next poll). A poll that comes meanwhile counts as failed. */
static void resync_failed(struct adapter *ad, int rc)
{
    if (rc == -ENODEV) {
        log_warn("adapter %s: unplugged; will re-open it when it is back", ad->id.serial);
        close_adapter(ad);
        ad->unplugged = true;
    } else {
        log_warn("adapter %s: cannot set the adapter up again (%s): re-opening it", ad->id.serial,
                 mpsse_usb_error(ad->ftdi));
        close_adapter(ad);
    }
}

static void resynchronise(struct adapter *ad, int rc)
{
    enum adapter_stage at = ad->resync_stage, next = ADAPTER_IDLE;
    if (at == ADAPTER_IDLE) { /* the failure itself */
        if (rc != -ENODEV) {
            rc = mpsse_usb_submit_drain(ad->ftdi, ADAPTER_USB_TIMEOUT_MS, step_done, ad);
            next = ADAPTER_RESYNC_DRAIN;
        }
    } else if (at == ADAPTER_RESYNC_DRAIN && rc == 0) {
        rc = start_sync(ad, ADAPTER_RESYNC_SYNC);
        next = ADAPTER_RESYNC_SYNC;
    } else if (at == ADAPTER_RESYNC_SYNC && rc == 0 && (rc = check_sync(ad)) == 0) {
        /* in step again */
    } else if ((at == ADAPTER_RESYNC_DRAIN || at == ADAPTER_RESYNC_SYNC) && rc != -ENODEV) {
        log_info("adapter %s: setting the MPSSE engine up again after: %s", ad->id.serial,
                 rc == -EPROTO ? "a reply out of step" : mpsse_usb_error(ad->ftdi));
        rc = start_setup(ad, ADAPTER_RESYNC_SETUP);
        next = ADAPTER_RESYNC_SETUP;
    } else if (at == ADAPTER_RESYNC_SETUP && rc == 0) {
        rc = start_sync(ad, ADAPTER_RESYNC_SETUP_SYNC);
        next = ADAPTER_RESYNC_SETUP_SYNC;
    } else if (at == ADAPTER_RESYNC_SETUP_SYNC && rc == 0 && (rc = check_sync(ad)) == 0) {
        rc = start_init(ad, ADAPTER_RESYNC_INIT);
        next = ADAPTER_RESYNC_INIT;
    }
    if (next != ADAPTER_IDLE && rc == 0) {
        ad->resync_stage = ad->stage = next;
        return;
    }
    ad->resync_stage = ad->stage = ADAPTER_IDLE;
    if (rc < 0)
        resync_failed(ad, rc);
}

/* Logged when every distributor that was answering (one or several) stops at the same poll while
 * the adapter itself works: the distributors' 5 V comes from the RJ10 port, so a sagging supply or
 * a pulled cable silences all of them together. */
static void check_all_lost(const struct adapter *ad, const bool was_lost[LYNX_DISTRIBUTORS])
{
    unsigned seen = 0, newly_lost = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (!ad->tracker[d].seen)
            continue;
        seen++;
        if (ad->tracker[d].lost) {
            if (was_lost[d])
                return;
            newly_lost++;
        }
    }
    if (seen == 1 && newly_lost == 1)
        log_warn("adapter %s: the only distributor stopped answering: check the 5 V supply on "
                 "the RJ10 port (pin 1) and the cable",
                 ad->id.serial);
    else if (seen > 1 && newly_lost == seen)
        log_warn("adapter %s: all %u distributors stopped answering at once: check the 5 V "
                 "supply on the RJ10 port (pin 1) and the cable",
                 ad->id.serial, seen);
}

static void feed_trackers(struct adapter *ad)
{
    bool was_lost[LYNX_DISTRIBUTORS];
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read r[ADAPTER_READS_PER_POLL];
        unsigned n = 0;
        for (size_t k = 0; k < ad->n_reads && n < ADAPTER_READS_PER_POLL; k++)
            if (ad->reads[k].address == lynx_address(d))
                r[n++] =
                    (struct tracker_read){.acked = ad->reads[k].acked, .data = ad->reads[k].data};
        was_lost[d] = ad->tracker[d].lost;
        const struct tracker *t = &ad->tracker[d];
        if (!tracker_feed(&ad->tracker[d], r, n, ad->lost_after))
            continue;
        if (!t->lost)
            log_info("adapter %s: distributor %c: status 0x%02X", ad->id.serial, lynx_letter(d),
                     t->status);
        else if (tracker_counted(t, &ad->setup[d]))
            log_warn("adapter %s: distributor %c: not answering for %u polls: connection lost",
                     ad->id.serial, lynx_letter(d), t->failures);
    }
    check_all_lost(ad, was_lost);
}

/* A poll's result goes to the observer and the trackers. */
static void apply_result(struct adapter *ad, int rc, bool was_open)
{
    if (rc == -EREMOTEIO && !ad->bus_stuck_failed) {
        log_warn("adapter %s: I2C bus still stuck after a recovery: a distributor or the cable "
                 "holds a line low; retrying every poll",
                 ad->id.serial);
        ad->bus_stuck_failed = true;
    }
    if (ad->observer)
        ad->observer(ad->observer_user, ad, was_open, rc, rc == 0 ? ad->reads : NULL);
    if (rc == -EREMOTEIO) { /* stuck bus: the adapter works, the distributors do not answer */
        ad->usb_failures = 0;
        fail_all(ad);
    } else if (rc < 0) {
        if (was_open || rc != -ENOENT) /* not merely absent */
            ad->counters.usb_errors++;
        ad->usb_failures++;
        fail_all(ad);
    } else {
        ad->usb_failures = 0;
        ad->last_error = 0;
        feed_trackers(ad);
    }
}

/* The poll ends: its result applied and published (done); a USB failure then resynchronises. */
static void finish_poll(struct adapter *ad, int rc)
{
    ad->last_rc = rc;
    if (rc != 0)
        ad->n_reads = 0;
    ad->answered = rc == 0 || rc == -EREMOTEIO;
    apply_result(ad, rc, ad->poll_was_open);
    ad->polling = false;
    if (rc < 0 && rc != -EREMOTEIO && ad->open)
        resynchronise(ad, rc);
    if (ad->done)
        ad->done(ad, ad->done_user);
}

/* Opens the adapter (a local open and claim) and starts its set-up; the poll goes on from there. */
static int adapter_open(struct adapter *ad)
{
    int rc = open_device(ad);
    if (rc == -ENOENT || rc == -ENODEV)
        ad->unplugged = true;
    if (rc < 0)
        return report(ad, rc, "cannot open");
    ad->id = *mpsse_usb_opened_info(ad->ftdi); /* from now on re-opened by its own ids */
    if ((rc = choose_drive(ad, &ad->id)) < 0) {
        mpsse_usb_close(ad->ftdi);
        return rc;
    }
    rc = start_setup(ad, ADAPTER_OPEN_SETUP);
    if (rc < 0) {
        report(ad, rc, "cannot set up MPSSE I2C");
        mpsse_usb_close(ad->ftdi);
        ad->unplugged = rc == -ENODEV;
    }
    return rc;
}

void adapter_poll_start(struct adapter *ad, adapter_done_fn done, void *user)
{
    ad->counters.polls++;
    if (ad->stage == ADAPTER_IDLE)
        close_pending(ad);
    if (ad->polling || ad->stage != ADAPTER_IDLE) {
        /* the previous poll or a resynchronisation still waits for the adapter: this poll fails
         * now instead of waiting for it, and leaves the running work alone */
        if (ad->last_error != -EBUSY)
            log_warn("adapter %s: still waiting for its previous transfers: this poll counts "
                     "as failed",
                     ad->id.serial);
        ad->last_error = ad->last_rc = -EBUSY;
        apply_result(ad, -EBUSY, ad->open);
        if (done)
            done(ad, user);
        return;
    }
    ad->done = done;
    ad->done_user = user;
    ad->poll_was_open = ad->open;
    ad->n_reads = 0;
    ad->polling = true;
    int rc = ad->open ? start_scan(ad, ADAPTER_SCAN) : adapter_open(ad);
    if (rc < 0) {
        if (ad->open)
            report(ad, rc, "scan failed");
        finish_poll(ad, rc);
    }
}

static void poll_completed(struct adapter *ad, void *user)
{
    (void)ad;
    *(bool *)user = true;
}

int adapter_poll(struct adapter *ad)
{
    bool completed = false;
    adapter_poll_start(ad, poll_completed, &completed);
    while (!completed || ad->stage != ADAPTER_IDLE)
        mpsse_usb_host_wait(ad->host);
    return ad->last_rc;
}

static void diagnostics(const struct adapter *ad, struct service_diagnostics *out)
{
    memset(out, 0, sizeof(*out));
    out->polls = ad->counters.polls;
    out->usb_errors = ad->counters.usb_errors;
    out->reopens = ad->counters.reopens;
    out->bus_recoveries = ad->counters.bus_recoveries;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker_counters *tc = &ad->tracker[d].counters;
        struct service_distributor_diagnostics *dd = &out->distributor[d];
        /* an unused address NACKs every poll: its counts would be noise (and move every poll) */
        if (!tracker_counted(&ad->tracker[d], &ad->setup[d]))
            continue;
        dd->corrupt_reads = tc->corrupt_reads;
        dd->nacks = tc->nacks;
        dd->unconfirmed_reads = tc->unconfirmed;
        dd->connection_losses = tc->lost_events;
        out->corrupt_reads += dd->corrupt_reads;
        out->nacks += dd->nacks;
        out->unconfirmed_reads += dd->unconfirmed_reads;
    }
}

void adapter_state(const struct adapter *ad, const struct service_state *previous,
                   struct service_state *out)
{
    out->connected = ad->opened_once && !ad->unplugged &&
                     ad->usb_failures < (ad->lost_after ? ad->lost_after : 1);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        tracker_state(&ad->tracker[d], &ad->setup[d], previous ? &previous->distributor[d] : NULL,
                      &out->distributor[d]);
        out->counted[d] = tracker_counted(&ad->tracker[d], &ad->setup[d]);
    }
    diagnostics(ad, &out->diagnostics);
}

void adapter_log_summary(const struct adapter *ad, const struct service_state *published)
{
    static const char *const status_words[] = {"not available", "connected", "no bus power",
                                               "communications lost"};
    static const char *const fuse_words[] = {"n/a", "not used", "ok", "blown"};
    const struct adapter_counters *c = &ad->counters;
    log_info("state: adapter %s (%04x:%04x): %s, %s; %" PRIu64 " polls, %" PRIu64
             " USB errors, %" PRIu64 " re-opens, %" PRIu64 " bus recoveries",
             ad->id.serial, ad->id.vid, ad->id.pid, ad->open ? "open" : "closed",
             published && published->connected ? "connected" : "not connected", c->polls,
             c->usb_errors, c->reopens, c->bus_recoveries);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker *t = &ad->tracker[d];
        const struct lynx_distributor_state *st = published ? &published->distributor[d] : NULL;
        if (!t->seen && !ad->setup[d].installed)
            continue;
        char byte[8] = "none";
        if (t->have_status)
            snprintf(byte, sizeof(byte), "0x%02X", t->status);
        unsigned status = st ? (unsigned)st->status : 0;
        const char *f[LYNX_FUSES];
        for (unsigned i = 0; i < LYNX_FUSES; i++)
            f[i] = st && st->fuse[i].status < 4 ? fuse_words[st->fuse[i].status] : "n/a";
        log_info("state:   distributor %c (0x%02X)%s: %s, status byte %s, %u failed polls; "
                 "fuses %s, %s, %s, %s",
                 lynx_letter(d), lynx_address(d), ad->setup[d].installed ? " installed" : "",
                 status < 4 ? status_words[status] : "?", byte, t->failures, f[0], f[1], f[2],
                 f[3]);
    }
}
