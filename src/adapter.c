#include "adapter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define USB_TIMEOUT_MS 200

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
    ad->scan.rounds = ADAPTER_READS_PER_POLL;
    int rc = mpsse_i2c_clock_for(i2c_hz, &ad->scan.clock);
    if (rc < 0)
        return rc;
    ad->scan_cmd_len = mpsse_i2c_scan_command_len(&ad->scan);
    ad->scan_cmd = malloc(ad->scan_cmd_len);
    if (!ad->scan_cmd)
        return -ENOMEM;
    rc = (int)mpsse_i2c_build_scan(&ad->scan, ad->scan_cmd, ad->scan_cmd_len);
    if (rc < 0)
        return rc;
    ad->ftdi = ftdi_adapter_new(host);
    return ad->ftdi ? 0 : -ENOMEM;
}

void adapter_deinit(struct adapter *ad)
{
    if (ad->ftdi)
        ftdi_adapter_free(ad->ftdi);
    free(ad->scan_cmd);
    ad->ftdi = NULL;
    ad->scan_cmd = NULL;
}

/* Logs a failure once, not every poll: a missing adapter must not fill the log. */
static int report(struct adapter *ad, int rc, const char *what)
{
    if (rc != ad->last_error)
        log_warn("adapter %s: %s: %s", ad->id.serial, what, ftdi_error(ad->ftdi));
    ad->last_error = rc;
    return rc;
}

int adapter_open(struct adapter *ad)
{
    uint8_t init[MPSSE_I2C_INIT_LEN];
    int rc = ftdi_open(ad->ftdi, ad->id.vid, ad->id.pid, ad->id.serial);
    if (rc < 0)
        return report(ad, rc, "cannot open");
    if ((rc = ftdi_mpsse_setup(ad->ftdi, FTDI_DEFAULT_LATENCY_MS)) < 0 ||
        (rc = ftdi_mpsse_sync(ad->ftdi, USB_TIMEOUT_MS)) < 0 ||
        (rc = (int)mpsse_i2c_build_init(&ad->scan.clock, init, sizeof(init))) < 0 ||
        (rc = ftdi_write(ad->ftdi, init, (size_t)rc, USB_TIMEOUT_MS)) < 0) {
        report(ad, rc, "cannot set up MPSSE I2C");
        ftdi_close(ad->ftdi);
        return rc;
    }
    if (ad->open || ad->counters.reopens || ad->last_error)
        ad->counters.reopens++;
    ad->open = true;
    ad->last_error = 0;
    log_info("adapter %s: opened, I2C at %u Hz", ad->id.serial, (unsigned)ad->scan.clock.scl_hz);
    return 0;
}

static void fail_all(struct adapter *ad)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_fail(&ad->tracker[d], ad->lost_after);
}

static int scan_bus(struct adapter *ad, struct mpsse_i2c_read *reads, size_t max)
{
    uint8_t reply[LYNX_DISTRIBUTORS * ADAPTER_READS_PER_POLL * 2];
    size_t want = mpsse_i2c_scan_reply_len(&ad->scan);
    int rc = ftdi_write(ad->ftdi, ad->scan_cmd, ad->scan_cmd_len, USB_TIMEOUT_MS);
    if (rc == 0)
        rc = ftdi_read_exact(ad->ftdi, reply, want, USB_TIMEOUT_MS, NULL);
    if (rc < 0)
        return report(ad, rc, "scan failed");
    rc = mpsse_i2c_parse_scan(&ad->scan, reply, want, reads, max);
    return rc < 0 ? report(ad, rc, "unexpected scan reply") : 0;
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
    int rc = ad->open ? 0 : adapter_open(ad);
    if (rc == 0)
        rc = scan_bus(ad, reads, sizeof(reads) / sizeof(reads[0]));
    ad->answered = rc == 0;
    if (rc < 0) {
        ad->counters.usb_errors += ad->open;
        if (ad->open && rc == -ENODEV) {
            log_warn("adapter %s: unplugged; will re-open it when it is back", ad->id.serial);
            ftdi_close(ad->ftdi);
            ad->open = false;
        } else if (ad->open) {
            ftdi_drain(ad->ftdi, USB_TIMEOUT_MS); /* no stale reply may reach the next scan */
        }
        fail_all(ad);
        return rc;
    }
    ad->last_error = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read r[ADAPTER_READS_PER_POLL];
        for (unsigned k = 0; k < ADAPTER_READS_PER_POLL; k++) {
            const struct mpsse_i2c_read *one = &reads[k * LYNX_DISTRIBUTORS + d];
            r[k] = (struct tracker_read){.acked = one->acked, .data = one->data};
        }
        was_lost[d] = ad->tracker[d].lost;
        const struct tracker *t = &ad->tracker[d];
        if (!tracker_feed(&ad->tracker[d], r, ADAPTER_READS_PER_POLL, ad->lost_after))
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

void adapter_state(const struct adapter *ad, const struct service_state *previous,
                   struct service_state *out)
{
    out->connected = ad->answered;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        tracker_state(&ad->tracker[d], &ad->setup[d], previous ? &previous->distributor[d] : NULL,
                      &out->distributor[d]);
        out->counted[d] = tracker_counted(&ad->tracker[d], &ad->setup[d]);
    }
}
