#include "adapter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define USB_TIMEOUT_MS  200
#define CONFIRM_CMD_MAX 1024 /* a scan of all four addresses at any rate fits */

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

int adapter_init(struct adapter *ad, struct ftdi_host *host, const struct ftdi_device_info *id,
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
    ad->ftdi = ftdi_adapter_new(host);
    return ad->ftdi ? 0 : -ENOMEM;
}

void adapter_deinit(struct adapter *ad)
{
    if (ad->ftdi)
        ftdi_adapter_free(ad->ftdi);
    free(ad->scan_cmd);
    free(ad->recovery_cmd);
    ad->ftdi = NULL;
    ad->scan_cmd = ad->recovery_cmd = NULL;
}

/* Logs a failure once, not every poll: a missing adapter must not fill the log. */
static int report(struct adapter *ad, int rc, const char *what)
{
    if (rc != ad->last_error)
        log_warn("adapter %s: %s: %s", ad->id.serial, what, ftdi_error(ad->ftdi));
    ad->last_error = rc;
    return rc;
}

/* Control requests, sync check and the I2C set-up on an opened adapter. */
static int setup_mpsse(struct adapter *ad)
{
    uint8_t init[MPSSE_I2C_INIT_LEN];
    int rc;
    if ((rc = ftdi_mpsse_setup(ad->ftdi, FTDI_DEFAULT_LATENCY_MS)) < 0 ||
        (rc = ftdi_mpsse_sync(ad->ftdi, USB_TIMEOUT_MS)) < 0 ||
        (rc = (int)mpsse_i2c_build_init(&ad->scan.clock, init, sizeof(init))) < 0 ||
        (rc = ftdi_write(ad->ftdi, init, (size_t)rc, USB_TIMEOUT_MS)) < 0)
        return rc;
    return 0;
}

/* The FT232H drives the lines open drain by itself; the FT2232H and FT4232H lack drive-zero. */
static int choose_drive(struct adapter *ad, const struct ftdi_device_info *info)
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

int adapter_open(struct adapter *ad)
{
    int rc = ftdi_open(ad->ftdi, ad->id.vid, ad->id.pid, ad->id.serial);
    if (rc == -ENOENT || rc == -ENODEV)
        ad->unplugged = true;
    if (rc < 0)
        return report(ad, rc, "cannot open");
    const struct ftdi_device_info *info = ftdi_opened_info(ad->ftdi);
    if ((rc = choose_drive(ad, info)) < 0) {
        ftdi_close(ad->ftdi);
        return rc;
    }
    if ((rc = setup_mpsse(ad)) < 0) {
        report(ad, rc, "cannot set up MPSSE I2C");
        ftdi_close(ad->ftdi);
        ad->unplugged = rc == -ENODEV;
        return rc;
    }
    if (ad->opened_once)
        ad->counters.reopens++;
    ad->open = ad->opened_once = true;
    ad->unplugged = false;
    ad->last_error = 0;
    const struct mpsse_i2c_clock *clk = &ad->scan.clock;
    log_info("adapter %s: opened %s (bcdDevice 0x%04x), I2C SCL at %u Hz (%u Hz configured; "
             "UM10204 %s mode: high %u ns, low %u ns)%s",
             ad->id.serial, ftdi_chip_name(info->chip), info->bcd_device, (unsigned)clk->scl_hz,
             (unsigned)clk->requested_hz, mpsse_i2c_mode_name(clk->mode),
             (unsigned)clk->scl_high_ns, (unsigned)clk->scl_low_ns,
             clk->drive == MPSSE_I2C_DRIVE_DIRECTION ? ", open drain by SDA direction" : "");
    return 0;
}

static void close_adapter(struct adapter *ad)
{
    ftdi_close(ad->ftdi);
    ad->open = false;
}

static void fail_all(struct adapter *ad)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_fail(&ad->tracker[d], ad->lost_after);
}

/* One scan round trip. *stuck: the pins showed SDA or SCL low before or after it. */
static int scan_once(struct adapter *ad, const struct mpsse_i2c_scan *scan, const uint8_t *cmd,
                     size_t cmd_len, struct mpsse_i2c_read *reads, size_t max, bool *stuck)
{
    uint8_t reply[LYNX_DISTRIBUTORS * ADAPTER_READS_PER_POLL * 2 + MPSSE_I2C_CHECK_REPLY];
    uint8_t before = 0, after = 0;
    size_t want = mpsse_i2c_scan_reply_len(scan);
    int rc = ftdi_write(ad->ftdi, cmd, cmd_len, USB_TIMEOUT_MS);
    if (rc == 0)
        rc = ftdi_read_exact(ad->ftdi, reply, want, USB_TIMEOUT_MS, NULL);
    if (rc < 0)
        return report(ad, rc, "scan failed");
    rc = mpsse_i2c_parse_scan(scan, reply, want, reads, max);
    if (rc >= 0)
        rc = mpsse_i2c_scan_levels(scan, reply, want, &before, &after);
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

/* 9 SCL pulses with SDA released and a STOP: a slave stopped mid-byte finishes it and lets go.
 * Returns 0 when the pins then show an idle bus, -EREMOTEIO when they do not. */
static int recover_bus(struct adapter *ad)
{
    uint8_t levels = 0;
    ad->counters.bus_recoveries++;
    int rc = ftdi_write(ad->ftdi, ad->recovery_cmd, ad->recovery_cmd_len, USB_TIMEOUT_MS);
    if (rc == 0)
        rc = ftdi_read_exact(ad->ftdi, &levels, MPSSE_I2C_RECOVERY_REPLY, USB_TIMEOUT_MS, NULL);
    if (rc < 0)
        return report(ad, rc, "bus recovery failed");
    return mpsse_i2c_bus_idle(levels) ? 0 : -EREMOTEIO;
}

/* Scans; a stuck bus is clocked free and scanned again (its reads are not trusted). */
static int scan_bus(struct adapter *ad, struct mpsse_i2c_read *reads, size_t max)
{
    bool stuck = false;
    int rc = scan_once(ad, &ad->scan, ad->scan_cmd, ad->scan_cmd_len, reads, max, &stuck);
    if (rc < 0 || !stuck) {
        if (rc == 0 && ad->bus_stuck)
            log_info("adapter %s: I2C bus free again (%llu recoveries in all)", ad->id.serial,
                     (unsigned long long)ad->counters.bus_recoveries);
        if (rc == 0)
            ad->bus_stuck = ad->bus_stuck_failed = false;
        return rc;
    }
    if (!ad->bus_stuck)
        log_warn("adapter %s: I2C bus stuck (SDA or SCL held low): clocking SCL 9 times and a STOP "
                 "to free it",
                 ad->id.serial);
    ad->bus_stuck = true;
    rc = recover_bus(ad);
    if (rc == 0)
        rc = scan_once(ad, &ad->scan, ad->scan_cmd, ad->scan_cmd_len, reads, max, &stuck);
    if (rc == 0 && stuck)
        rc = -EREMOTEIO;
    if (rc == -EREMOTEIO && !ad->bus_stuck_failed) {
        log_warn("adapter %s: I2C bus still stuck after a recovery: a distributor or the cable "
                 "holds a line low; retrying every poll",
                 ad->id.serial);
        ad->bus_stuck_failed = true;
    }
    return rc;
}

/* Reads again, in one more round trip of the same poll, the distributors whose first read needs
 * confirming, and appends those reads to reads[] after the first *n. An unchanged poll costs no
 * second round trip. A bus found stuck after it leaves the first reads unconfirmed. */
static int confirm_reads(struct adapter *ad, struct mpsse_i2c_read *reads, size_t *n)
{
    struct mpsse_i2c_scan confirm = ad->scan;
    confirm.n_addresses = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read first = {.acked = reads[d].acked, .data = reads[d].data};
        if (tracker_wants_second_read(&ad->tracker[d], first))
            confirm.addresses[confirm.n_addresses++] = lynx_address(d);
    }
    if (confirm.n_addresses == 0)
        return 0;
    uint8_t cmd[CONFIRM_CMD_MAX];
    ssize_t len = mpsse_i2c_build_scan(&confirm, cmd, sizeof(cmd));
    if (len < 0)
        return (int)len;
    bool stuck = false;
    int rc = scan_once(ad, &confirm, cmd, (size_t)len, reads + *n, confirm.n_addresses, &stuck);
    if (rc == 0 && !stuck)
        *n += confirm.n_addresses;
    return rc;
}

/* After a failed transfer: drop whatever is in flight and check the reply stream is in step;
 * when it is not, set the engine up again; when even that fails, close (re-open next poll). */
static void resynchronise(struct adapter *ad, int failure)
{
    int rc = failure == -ENODEV ? -ENODEV : ftdi_drain(ad->ftdi, USB_TIMEOUT_MS);
    if (rc >= 0)
        rc = ftdi_mpsse_sync(ad->ftdi, USB_TIMEOUT_MS);
    if (rc < 0 && rc != -ENODEV) {
        log_info("adapter %s: setting the MPSSE engine up again after: %s", ad->id.serial,
                 ftdi_error(ad->ftdi));
        rc = setup_mpsse(ad);
    }
    if (rc == -ENODEV) {
        log_warn("adapter %s: unplugged; will re-open it when it is back", ad->id.serial);
        close_adapter(ad);
        ad->unplugged = true;
    } else if (rc < 0) {
        log_warn("adapter %s: cannot set the adapter up again (%s): re-opening it", ad->id.serial,
                 ftdi_error(ad->ftdi));
        close_adapter(ad);
    }
}

/* Logged when every distributor that was answering stops at the same poll while the adapter
 * itself works: the classic sign of a sagging 5 V supply on the RJ10 port. */
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
    if (seen > 1 && newly_lost == seen)
        log_warn("adapter %s: all %u distributors stopped answering at once: check the 5 V "
                 "supply on the RJ10 port (pin 1) and the cable",
                 ad->id.serial, seen);
}

int adapter_poll(struct adapter *ad)
{
    struct mpsse_i2c_read reads[LYNX_DISTRIBUTORS * ADAPTER_READS_PER_POLL];
    bool was_lost[LYNX_DISTRIBUTORS];
    bool was_open = ad->open;
    ad->counters.polls++;
    int rc = ad->open ? 0 : adapter_open(ad);
    size_t n_reads = LYNX_DISTRIBUTORS;
    if (rc == 0)
        rc = scan_bus(ad, reads, sizeof(reads) / sizeof(reads[0]));
    if (rc == 0)
        rc = confirm_reads(ad, reads, &n_reads);
    ad->n_reads = rc == 0 ? n_reads : 0;
    ad->answered = rc == 0 || rc == -EREMOTEIO;
    if (ad->observer)
        ad->observer(ad->observer_user, ad, was_open, rc, rc == 0 ? reads : NULL);
    if (rc == -EREMOTEIO) { /* stuck bus: the adapter works, the distributors do not answer */
        ad->usb_failures = 0;
        fail_all(ad);
        return rc;
    }
    if (rc < 0) {
        if (was_open || rc != -ENOENT) /* not merely absent */
            ad->counters.usb_errors++;
        if (ad->open)
            resynchronise(ad, rc);
        ad->usb_failures++;
        fail_all(ad);
        return rc;
    }
    ad->usb_failures = 0;
    ad->last_error = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read r[ADAPTER_READS_PER_POLL];
        unsigned n = 0;
        for (size_t k = 0; k < n_reads && n < ADAPTER_READS_PER_POLL; k++)
            if (reads[k].address == lynx_address(d))
                r[n++] = (struct tracker_read){.acked = reads[k].acked, .data = reads[k].data};
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
    return 0;
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
        dd->corrupt_reads = tc->corrupt_reads;
        dd->nacks = tc->nacks;
        dd->unconfirmed_reads = tc->unconfirmed;
        dd->connection_losses = tc->lost_events;
        if (!tracker_counted(&ad->tracker[d], &ad->setup[d]))
            continue;
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
