/* The poller (poller.h): one poll of one bus as a chain of link operations (open, scan, recovery,
 * confirming reads), each started by the step before it and ended in step_done; the reads fed to
 * the trackers; the poll report built from them. */
#include "lynx/poller.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

int poller_init(struct poller *p, struct bus_link *link,
                const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], unsigned lost_after)
{
    memset(p, 0, sizeof(*p));
    p->link = link;
    p->lost_after = lost_after;
    memcpy(p->setup, setup, sizeof(p->setup));
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_init(&p->tracker[d]);
    return link ? 0 : -EINVAL;
}

void poller_deinit(struct poller *p)
{
    if (p->link)
        p->link->ops->free(p->link);
    p->link = NULL;
}

static const char *name(const struct poller *p)
{
    return p->link->name;
}

/* What failed, as the log names it (NULL: nothing more than rc). */
static bool same_what(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether a failure of this kind is logged: once per run of failed polls (a missing or wedged
 * adapter must not fill the log); the others are counted as held back. */
static bool first_of_episode(struct poller *p, int rc, const char *what)
{
    for (unsigned i = 0; i < p->n_episode_errors; i++)
        if (p->episode_errors[i].rc == rc && same_what(p->episode_errors[i].what, what)) {
            p->held_back++;
            return false;
        }
    if (p->n_episode_errors < sizeof(p->episode_errors) / sizeof(p->episode_errors[0])) {
        p->episode_errors[p->n_episode_errors].rc = rc;
        p->episode_errors[p->n_episode_errors++].what = what;
    }
    return true;
}

/* A poll worked: the run of failures is over, and the log says how many warnings it held back. */
static void episode_over(struct poller *p)
{
    if (p->held_back)
        log_info("adapter %s: polls work again; %u repeated warning%s held back meanwhile", name(p),
                 p->held_back, p->held_back == 1 ? " was" : "s were");
    p->held_back = 0;
    p->n_episode_errors = 0;
}

/* Logs a failure once, not every poll: a missing adapter must not fill the log. */
static int report(struct poller *p, int rc, const char *what)
{
    /* the episode counts every repeat, also those last_error holds back */
    if (first_of_episode(p, rc, what) && rc != p->last_error) {
        const char *why = p->link->ops->error(p->link);
        if (rc == -EPROTO)
            why = "a reply out of step";
        log_warn("adapter %s: %s: %s", name(p), what, why && why[0] ? why : strerror(-rc));
    }
    p->last_error = rc;
    return rc;
}

static void fail_all(struct poller *p)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        tracker_fail(&p->tracker[d], p->lost_after);
}

/* ---- the steps: each starts one operation of the link, whose completion runs step_done ---- */

static void step_done(struct bus_link *link, int rc, void *user);
static void finish_poll(struct poller *p, int rc);

static int start_read(struct poller *p, enum poller_stage stage, const uint8_t *addresses, size_t n,
                      struct bus_read *out)
{
    p->stage = stage;
    p->stuck = false;
    int rc = p->link->ops->read(p->link, addresses, n, out, &p->stuck, step_done, p);
    if (rc < 0)
        p->stage = POLLER_IDLE;
    return rc;
}

/* Every distributor, then the canary (lynx.h): reads[0..4]. */
static int start_scan(struct poller *p, enum poller_stage stage)
{
    uint8_t all[LYNX_DISTRIBUTORS + 1];
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        all[d] = lynx_address(d);
    all[LYNX_DISTRIBUTORS] = LYNX_CANARY_ADDRESS;
    return start_read(p, stage, all, LYNX_DISTRIBUTORS + 1, p->reads);
}

/* The canary's read, after the n distributor reads at from, answered: a line is held low. */
static void check_canary(struct poller *p, const struct bus_read *from, size_t n)
{
    if (p->stuck || !from[n].acked)
        return;
    if (!p->bus_stuck)
        log_warn("adapter %s: address 0x%02X, which no device uses, answered (0x%02X): a line is "
                 "held low, the reads of this scan are not used",
                 name(p), LYNX_CANARY_ADDRESS, from[n].data);
    p->counters.canary_acks++;
    p->stuck = true;
}

/* The distributors whose first read needs confirming are read again, then the canary, in one more
 * round trip of the same poll; a read that timed out is not read again. Returns 1 when none needs
 * it. */
static int start_confirm(struct poller *p)
{
    p->n_confirm = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read first = {.acked = p->reads[d].acked, .data = p->reads[d].data};
        if (!p->reads[d].timed_out && tracker_wants_second_read(&p->tracker[d], first))
            p->confirm[p->n_confirm++] = lynx_address(d);
    }
    if (p->n_confirm == 0)
        return 1;
    p->confirm[p->n_confirm] = LYNX_CANARY_ADDRESS;
    return start_read(p, POLLER_CONFIRM, p->confirm, p->n_confirm + 1, p->reads + p->n_reads);
}

static int start_recovery(struct poller *p)
{
    if (!p->link->can_recover) {
        if (!p->bus_stuck)
            log_warn("adapter %s: I2C bus stuck (a line held low), and this transport cannot "
                     "clock it free from user space (the kernel's driver recovers a bus where it "
                     "can): check the cable, or power the distributors off and on; retrying "
                     "every poll",
                     name(p));
        p->bus_stuck = p->bus_stuck_failed = true;
        return -EREMOTEIO;
    }
    if (!p->bus_stuck)
        log_warn("adapter %s: I2C bus stuck (SDA or SCL held low): clocking SCL 9 times and "
                 "a STOP to free it",
                 name(p));
    p->bus_stuck = true;
    p->counters.bus_recoveries++;
    p->stage = POLLER_RECOVER;
    int rc = p->link->ops->recover(p->link, step_done, p);
    if (rc < 0)
        p->stage = POLLER_IDLE;
    return rc < 0 ? report(p, rc, "bus recovery failed") : 0;
}

/* A scan (first or after a recovery) is in. Returns 0 when the poll goes on with another
 * operation, 1 when it is complete, or a negative code. */
static int scanned(struct poller *p, enum poller_stage stage)
{
    check_canary(p, p->reads, LYNX_DISTRIBUTORS);
    if (p->stuck)
        return stage == POLLER_RESCAN ? -EREMOTEIO : start_recovery(p);
    if (p->bus_stuck)
        log_info("adapter %s: I2C bus free again (%llu recoveries in all)", name(p),
                 (unsigned long long)p->counters.bus_recoveries);
    p->bus_stuck = p->bus_stuck_failed = false;
    p->n_reads = LYNX_DISTRIBUTORS;
    int rc = start_confirm(p);
    return rc < 0 ? report(p, rc, "scan failed") : rc;
}

static void opened(struct poller *p)
{
    if (p->opened_once)
        p->counters.reopens++;
    p->opened_in_poll = true; /* opened_once when this poll ends (finish_poll) */
    p->last_error = 0;
}

/* The poll's next step after an operation of it ended well. 0: another operation runs; 1: the
 * poll is complete; negative: it failed. */
static int poll_step(struct poller *p, enum poller_stage stage)
{
    switch (stage) {
    case POLLER_OPEN:
        opened(p);
        return start_scan(p, POLLER_SCAN);
    case POLLER_SCAN:
    case POLLER_RESCAN:
        return scanned(p, stage);
    case POLLER_RECOVER:
        return start_scan(p, POLLER_RESCAN);
    case POLLER_CONFIRM:
        check_canary(p, p->reads + p->n_reads, p->n_confirm);
        if (!p->stuck) /* a bus found stuck after it leaves the first reads unconfirmed */
            p->n_reads += p->n_confirm;
        return 1;
    default:
        return -EINVAL;
    }
}

/* Where an operation ended: the poll goes on, or ends. */
static void step_done(struct bus_link *link, int rc, void *user)
{
    struct poller *p = user;
    (void)link;
    enum poller_stage stage = p->stage;
    p->stage = POLLER_IDLE;
    if (rc < 0) {
        if (rc != -EREMOTEIO)
            report(p, rc, stage == POLLER_OPEN ? "cannot set up I2C" : "scan failed");
        finish_poll(p, rc);
        return;
    }
    rc = poll_step(p, stage);
    if (rc != 0) {
        p->stage = POLLER_IDLE;
        finish_poll(p, rc > 0 ? 0 : rc);
    }
}

/* Logged when every distributor that was answering (one or several) stops at the same poll while
 * the adapter itself works: the distributors' 5 V comes from the RJ10 port, so a sagging supply or
 * a pulled cable silences all of them together. */
static void check_all_lost(const struct poller *p, const bool was_lost[LYNX_DISTRIBUTORS])
{
    unsigned seen = 0, newly_lost = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (!p->tracker[d].seen)
            continue;
        seen++;
        if (p->tracker[d].lost) {
            if (was_lost[d])
                return;
            newly_lost++;
        }
    }
    if (seen == 1 && newly_lost == 1)
        log_warn("adapter %s: the only distributor stopped answering: check the 5 V supply on "
                 "the RJ10 port (pin 1) and the cable",
                 name(p));
    else if (seen > 1 && newly_lost == seen)
        log_warn("adapter %s: all %u distributors stopped answering at once: check the 5 V "
                 "supply on the RJ10 port (pin 1) and the cable",
                 name(p), seen);
}

static void feed_trackers(struct poller *p)
{
    bool was_lost[LYNX_DISTRIBUTORS];
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct tracker_read r[POLLER_READS_PER_POLL];
        unsigned n = 0;
        for (size_t k = 0; k < p->n_reads && n < POLLER_READS_PER_POLL; k++)
            if (p->reads[k].address == lynx_address(d))
                r[n++] =
                    (struct tracker_read){.acked = p->reads[k].acked, .data = p->reads[k].data};
        was_lost[d] = p->tracker[d].lost;
        const struct tracker *t = &p->tracker[d];
        if (!tracker_feed(&p->tracker[d], r, n, p->lost_after))
            continue;
        if (!t->lost)
            log_info("adapter %s: distributor %c: status 0x%02X", name(p), lynx_letter(d),
                     t->status);
        else if (tracker_counted(t, &p->setup[d]))
            log_warn("adapter %s: distributor %c: not answering for %u polls: connection lost",
                     name(p), lynx_letter(d), t->failures);
    }
    check_all_lost(p, was_lost);
}

/* A poll's result goes to the observer and the trackers. */
static void apply_result(struct poller *p, int rc, bool was_open)
{
    if (rc == -EREMOTEIO && !p->bus_stuck_failed) {
        log_warn("adapter %s: I2C bus still stuck after a recovery: a distributor or the cable "
                 "holds a line low; retrying every poll",
                 name(p));
        p->bus_stuck_failed = true;
    }
    if (p->observer)
        p->observer(p->observer_user, p, was_open, rc, rc == 0 ? p->reads : NULL);
    if (rc == -EREMOTEIO) { /* stuck bus: the adapter works, the distributors do not answer */
        p->link_failures = 0;
        fail_all(p);
    } else if (rc < 0) {
        if (was_open || rc != -ENOENT) /* not merely absent */
            p->counters.usb_errors++;
        p->link_failures++;
        fail_all(p);
    } else {
        p->link_failures = 0;
        p->last_error = 0;
        episode_over(p);
        feed_trackers(p);
    }
}

/* The poll ends: its result applied (the observer, the trackers); after a transport failure the
 * link's resync is started; then done, which publishes it. */
static void finish_poll(struct poller *p, int rc)
{
    /* Only now: a poll refused (-EBUSY) while this one still runs (a link whose completions come
     * from a worker) must not report the adapter connected before its first scan is in. */
    p->opened_once |= p->opened_in_poll;
    p->opened_in_poll = false;
    p->last_rc = rc;
    if (rc != 0)
        p->n_reads = 0;
    p->answered = rc == 0 || rc == -EREMOTEIO;
    apply_result(p, rc, p->poll_was_open);
    p->polling = false;
    if (rc < 0 && rc != -EREMOTEIO && p->link->open)
        p->link->ops->resync(p->link, rc);
    if (p->done)
        p->done(p, p->done_user);
}

void poller_poll_start(struct poller *p, poller_done_fn done, void *user)
{
    struct bus_link *link = p->link;
    p->counters.polls++;
    if (p->polling || link->ops->busy(link)) {
        /* the previous poll or a resynchronisation still waits for the adapter: this poll fails
         * now instead of waiting for it, and leaves the running work alone */
        if (first_of_episode(p, -EBUSY, NULL) && p->last_error != -EBUSY)
            log_warn("adapter %s: still waiting for its previous transfers: this poll counts "
                     "as failed",
                     name(p));
        p->last_error = p->last_rc = -EBUSY;
        apply_result(p, -EBUSY, link->open);
        if (done)
            done(p, user);
        return;
    }
    p->done = done;
    p->done_user = user;
    p->poll_was_open = link->open;
    p->n_reads = 0;
    p->polling = true;
    int rc;
    if (link->open) {
        rc = start_scan(p, POLLER_SCAN);
        if (rc < 0)
            report(p, rc, "scan failed");
    } else {
        p->stage = POLLER_OPEN;
        rc = link->ops->open(link, step_done, p);
        if (rc < 0) {
            p->stage = POLLER_IDLE;
            report(p, rc, "cannot open");
        }
    }
    if (rc < 0)
        finish_poll(p, rc);
}

static void poll_completed(struct poller *p, void *user)
{
    (void)p;
    *(bool *)user = true;
}

int poller_poll(struct poller *p)
{
    bool completed = false;
    poller_poll_start(p, poll_completed, &completed);
    while (!completed || p->link->ops->busy(p->link))
        p->link->ops->wait(p->link);
    return p->last_rc;
}

static void diagnostics(const struct poller *p, struct poll_diagnostics *out)
{
    memset(out, 0, sizeof(*out));
    out->polls = p->counters.polls;
    out->usb_errors = p->counters.usb_errors;
    out->reopens = p->counters.reopens;
    out->bus_recoveries = p->counters.bus_recoveries;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker_counters *tc = &p->tracker[d].counters;
        struct distributor_diagnostics *dd = &out->distributor[d];
        /* an unused address NACKs every poll: its counts would be noise (and move every poll) */
        if (!tracker_counted(&p->tracker[d], &p->setup[d]))
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

void poller_report(const struct poller *p, const struct poll_report *previous,
                   struct poll_report *out)
{
    out->connected = p->opened_once && !p->link->unplugged &&
                     p->link_failures < (p->lost_after ? p->lost_after : 1);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        tracker_state(&p->tracker[d], &p->setup[d], previous ? &previous->distributor[d] : NULL,
                      &out->distributor[d]);
        out->counted[d] = tracker_counted(&p->tracker[d], &p->setup[d]);
    }
    diagnostics(p, &out->diagnostics);
}

void poller_log_summary(const struct poller *p, const struct poll_report *published)
{
    static const char *const status_words[] = {"not available", "connected", "no bus power",
                                               "communications lost"};
    static const char *const fuse_words[] = {"n/a", "not used", "ok", "blown"};
    const struct poller_counters *c = &p->counters;
    struct bus_link_info info;
    p->link->ops->describe(p->link, &info);
    log_info("state: adapter %s (%s %s): %s, %s; %" PRIu64 " polls, %" PRIu64
             " transport errors, %" PRIu64 " re-opens, %" PRIu64 " bus recoveries",
             name(p), info.transport, info.trace, p->link->open ? "open" : "closed",
             published && published->connected ? "connected" : "not connected", c->polls,
             c->usb_errors, c->reopens, c->bus_recoveries);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker *t = &p->tracker[d];
        const struct lynx_distributor_state *st = published ? &published->distributor[d] : NULL;
        if (!t->seen && !p->setup[d].installed)
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
                 lynx_letter(d), lynx_address(d), p->setup[d].installed ? " installed" : "",
                 status < 4 ? status_words[status] : "?", byte, t->failures, f[0], f[1], f[2],
                 f[3]);
    }
}
