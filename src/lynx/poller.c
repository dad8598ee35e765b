#include "lynx/poller.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

int poller_init(struct poller *ad, struct bus_link *link,
                const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], unsigned lost_after)
{
    memset(ad, 0, sizeof(*ad));
    ad->link = link;
    ad->lost_after = lost_after;
    memcpy(ad->setup, setup, sizeof(ad->setup));
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_init(&ad->tracker[d]);
    return link ? 0 : -EINVAL;
}

void poller_deinit(struct poller *ad)
{
    if (ad->link)
        ad->link->ops->free(ad->link);
    ad->link = NULL;
}

static const char *name(const struct poller *ad)
{
    return ad->link->name;
}

/* Logs a failure once, not every poll: a missing adapter must not fill the log. */
static int report(struct poller *ad, int rc, const char *what)
{
    if (rc != ad->last_error) {
        const char *why = ad->link->ops->error(ad->link);
        if (rc == -EPROTO)
            why = "a reply out of step";
        log_warn("adapter %s: %s: %s", name(ad), what, why && why[0] ? why : strerror(-rc));
    }
    ad->last_error = rc;
    return rc;
}

static void fail_all(struct poller *ad)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_fail(&ad->tracker[d], ad->lost_after);
}

/* ---- the steps: each starts one operation of the link, whose completion runs step_done ---- */

static void step_done(struct bus_link *link, int rc, void *user);
static void finish_poll(struct poller *ad, int rc);

static int start_read(struct poller *ad, enum poller_stage stage, const uint8_t *addresses,
                      size_t n, struct bus_read *out)
{
    ad->stage = stage;
    ad->stuck = false;
    int rc = ad->link->ops->read(ad->link, addresses, n, out, &ad->stuck, step_done, ad);
    if (rc < 0)
        ad->stage = POLLER_IDLE;
    return rc;
}

static int start_scan(struct poller *ad, enum poller_stage stage)
{
    uint8_t all[LYNX_DISTRIBUTORS];
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        all[d] = lynx_address(d);
    return start_read(ad, stage, all, LYNX_DISTRIBUTORS, ad->reads);
}

/* The distributors whose first read needs confirming are read again, in one more round trip of
 * the same poll. Returns 1 when none needs it. */
static int start_confirm(struct poller *ad)
{
    ad->n_confirm = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read first = {.acked = ad->reads[d].acked, .data = ad->reads[d].data};
        if (tracker_wants_second_read(&ad->tracker[d], first))
            ad->confirm[ad->n_confirm++] = lynx_address(d);
    }
    if (ad->n_confirm == 0)
        return 1;
    return start_read(ad, POLLER_CONFIRM, ad->confirm, ad->n_confirm, ad->reads + ad->n_reads);
}

static int start_recovery(struct poller *ad)
{
    if (!ad->link->can_recover) {
        if (!ad->bus_stuck)
            log_warn("adapter %s: I2C bus stuck (a line held low), and this transport cannot "
                     "clock it free from user space (the kernel's driver recovers a bus where it "
                     "can): check the cable, or power the distributors off and on; retrying "
                     "every poll",
                     name(ad));
        ad->bus_stuck = ad->bus_stuck_failed = true;
        return -EREMOTEIO;
    }
    if (!ad->bus_stuck)
        log_warn("adapter %s: I2C bus stuck (SDA or SCL held low): clocking SCL 9 times and "
                 "a STOP to free it",
                 name(ad));
    ad->bus_stuck = true;
    ad->counters.bus_recoveries++;
    ad->stage = POLLER_RECOVER;
    int rc = ad->link->ops->recover(ad->link, step_done, ad);
    if (rc < 0)
        ad->stage = POLLER_IDLE;
    return rc < 0 ? report(ad, rc, "bus recovery failed") : 0;
}

/* A scan (first or after a recovery) is in. Returns 0 when the poll goes on with another
 * operation, 1 when it is complete, or a negative code. */
static int scanned(struct poller *ad, enum poller_stage stage)
{
    if (ad->stuck)
        return stage == POLLER_RESCAN ? -EREMOTEIO : start_recovery(ad);
    if (ad->bus_stuck)
        log_info("adapter %s: I2C bus free again (%llu recoveries in all)", name(ad),
                 (unsigned long long)ad->counters.bus_recoveries);
    ad->bus_stuck = ad->bus_stuck_failed = false;
    ad->n_reads = LYNX_DISTRIBUTORS;
    int rc = start_confirm(ad);
    return rc < 0 ? report(ad, rc, "scan failed") : rc;
}

static void opened(struct poller *ad)
{
    if (ad->opened_once)
        ad->counters.reopens++;
    ad->opened_once = true;
    ad->last_error = 0;
}

/* The poll's next step after an operation of it ended well. 0: another operation runs; 1: the
 * poll is complete; negative: it failed. */
static int poll_step(struct poller *ad, enum poller_stage stage)
{
    switch (stage) {
    case POLLER_OPEN:
        opened(ad);
        return start_scan(ad, POLLER_SCAN);
    case POLLER_SCAN:
    case POLLER_RESCAN:
        return scanned(ad, stage);
    case POLLER_RECOVER:
        return start_scan(ad, POLLER_RESCAN);
    case POLLER_CONFIRM:
        if (!ad->stuck) /* a bus found stuck after it leaves the first reads unconfirmed */
            ad->n_reads += ad->n_confirm;
        return 1;
    default:
        return -EINVAL;
    }
}

/* Where an operation ended: the poll goes on, or ends. */
static void step_done(struct bus_link *link, int rc, void *user)
{
    struct poller *ad = user;
    (void)link;
    enum poller_stage stage = ad->stage;
    ad->stage = POLLER_IDLE;
    if (rc < 0) {
        if (rc != -EREMOTEIO)
            report(ad, rc, stage == POLLER_OPEN ? "cannot set up I2C" : "scan failed");
        finish_poll(ad, rc);
        return;
    }
    rc = poll_step(ad, stage);
    if (rc != 0) {
        ad->stage = POLLER_IDLE;
        finish_poll(ad, rc > 0 ? 0 : rc);
    }
}

/* Logged when every distributor that was answering (one or several) stops at the same poll while
 * the adapter itself works: the distributors' 5 V comes from the RJ10 port, so a sagging supply or
 * a pulled cable silences all of them together. */
static void check_all_lost(const struct poller *ad, const bool was_lost[LYNX_DISTRIBUTORS])
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
                 name(ad));
    else if (seen > 1 && newly_lost == seen)
        log_warn("adapter %s: all %u distributors stopped answering at once: check the 5 V "
                 "supply on the RJ10 port (pin 1) and the cable",
                 name(ad), seen);
}

static void feed_trackers(struct poller *ad)
{
    bool was_lost[LYNX_DISTRIBUTORS];
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read r[POLLER_READS_PER_POLL];
        unsigned n = 0;
        for (size_t k = 0; k < ad->n_reads && n < POLLER_READS_PER_POLL; k++)
            if (ad->reads[k].address == lynx_address(d))
                r[n++] =
                    (struct tracker_read){.acked = ad->reads[k].acked, .data = ad->reads[k].data};
        was_lost[d] = ad->tracker[d].lost;
        const struct tracker *t = &ad->tracker[d];
        if (!tracker_feed(&ad->tracker[d], r, n, ad->lost_after))
            continue;
        if (!t->lost)
            log_info("adapter %s: distributor %c: status 0x%02X", name(ad), lynx_letter(d),
                     t->status);
        else if (tracker_counted(t, &ad->setup[d]))
            log_warn("adapter %s: distributor %c: not answering for %u polls: connection lost",
                     name(ad), lynx_letter(d), t->failures);
    }
    check_all_lost(ad, was_lost);
}

/* A poll's result goes to the observer and the trackers. */
static void apply_result(struct poller *ad, int rc, bool was_open)
{
    if (rc == -EREMOTEIO && !ad->bus_stuck_failed) {
        log_warn("adapter %s: I2C bus still stuck after a recovery: a distributor or the cable "
                 "holds a line low; retrying every poll",
                 name(ad));
        ad->bus_stuck_failed = true;
    }
    if (ad->observer)
        ad->observer(ad->observer_user, ad, was_open, rc, rc == 0 ? ad->reads : NULL);
    if (rc == -EREMOTEIO) { /* stuck bus: the adapter works, the distributors do not answer */
        ad->link_failures = 0;
        fail_all(ad);
    } else if (rc < 0) {
        if (was_open || rc != -ENOENT) /* not merely absent */
            ad->counters.usb_errors++;
        ad->link_failures++;
        fail_all(ad);
    } else {
        ad->link_failures = 0;
        ad->last_error = 0;
        feed_trackers(ad);
    }
}

/* The poll ends: its result applied and published (done); a transport failure then has the link
 * bring itself back in step. */
static void finish_poll(struct poller *ad, int rc)
{
    ad->last_rc = rc;
    if (rc != 0)
        ad->n_reads = 0;
    ad->answered = rc == 0 || rc == -EREMOTEIO;
    apply_result(ad, rc, ad->poll_was_open);
    ad->polling = false;
    if (rc < 0 && rc != -EREMOTEIO && ad->link->open)
        ad->link->ops->resync(ad->link, rc);
    if (ad->done)
        ad->done(ad, ad->done_user);
}

void poller_poll_start(struct poller *ad, poller_done_fn done, void *user)
{
    struct bus_link *link = ad->link;
    ad->counters.polls++;
    if (ad->polling || link->ops->busy(link)) {
        /* the previous poll or a resynchronisation still waits for the adapter: this poll fails
         * now instead of waiting for it, and leaves the running work alone */
        if (ad->last_error != -EBUSY)
            log_warn("adapter %s: still waiting for its previous transfers: this poll counts "
                     "as failed",
                     name(ad));
        ad->last_error = ad->last_rc = -EBUSY;
        apply_result(ad, -EBUSY, link->open);
        if (done)
            done(ad, user);
        return;
    }
    ad->done = done;
    ad->done_user = user;
    ad->poll_was_open = link->open;
    ad->n_reads = 0;
    ad->polling = true;
    int rc;
    if (link->open) {
        rc = start_scan(ad, POLLER_SCAN);
        if (rc < 0)
            report(ad, rc, "scan failed");
    } else {
        ad->stage = POLLER_OPEN;
        rc = link->ops->open(link, step_done, ad);
        if (rc < 0) {
            ad->stage = POLLER_IDLE;
            report(ad, rc, "cannot open");
        }
    }
    if (rc < 0)
        finish_poll(ad, rc);
}

static void poll_completed(struct poller *ad, void *user)
{
    (void)ad;
    *(bool *)user = true;
}

int poller_poll(struct poller *ad)
{
    bool completed = false;
    poller_poll_start(ad, poll_completed, &completed);
    while (!completed || ad->link->ops->busy(ad->link))
        ad->link->ops->wait(ad->link);
    return ad->last_rc;
}

static void diagnostics(const struct poller *ad, struct poll_diagnostics *out)
{
    memset(out, 0, sizeof(*out));
    out->polls = ad->counters.polls;
    out->usb_errors = ad->counters.usb_errors;
    out->reopens = ad->counters.reopens;
    out->bus_recoveries = ad->counters.bus_recoveries;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker_counters *tc = &ad->tracker[d].counters;
        struct distributor_diagnostics *dd = &out->distributor[d];
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

void poller_report(const struct poller *ad, const struct poll_report *previous,
                   struct poll_report *out)
{
    out->connected = ad->opened_once && !ad->link->unplugged &&
                     ad->link_failures < (ad->lost_after ? ad->lost_after : 1);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        tracker_state(&ad->tracker[d], &ad->setup[d], previous ? &previous->distributor[d] : NULL,
                      &out->distributor[d]);
        out->counted[d] = tracker_counted(&ad->tracker[d], &ad->setup[d]);
    }
    diagnostics(ad, &out->diagnostics);
}

void poller_log_summary(const struct poller *ad, const struct poll_report *published)
{
    static const char *const status_words[] = {"not available", "connected", "no bus power",
                                               "communications lost"};
    static const char *const fuse_words[] = {"n/a", "not used", "ok", "blown"};
    const struct poller_counters *c = &ad->counters;
    struct bus_link_info info;
    ad->link->ops->describe(ad->link, &info);
    log_info("state: adapter %s (%s %s): %s, %s; %" PRIu64 " polls, %" PRIu64
             " transport errors, %" PRIu64 " re-opens, %" PRIu64 " bus recoveries",
             name(ad), info.transport, info.trace, ad->link->open ? "open" : "closed",
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
