/* The replay (see replay.h for the contract): drives the simulated hardware so that a daemon
 * polling it makes a parsed trace's observations, poll by poll, and reports where the daemon read
 * the bus when the trace had no read for it. The trace parser is trace.c. */
#include "run/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/lynx_slave.h"

#define AHEAD_POLLS      64 /* answers queued ahead per distributor: 64 polls of <= 4 reads */
#define DETECT_TICK_MS   5  /* how often the queue is checked while answers are pending */
#define IDLE_TICK_MS     50
#define INTERVAL_SAMPLES 8 /* consecutive read polls measured before judging the daemon's rate */
#define PHASE_WINDOW     8 /* the latest timer polls whose times give the timer grid's phase */

struct queued_poll {
    uint64_t index; /* observation number (0-based) */
    unsigned answers[SIM_TRACE_DISTRIBUTORS];
    bool filler;  /* answers of a usb-timeout poll: the daemon never sees them */
    bool on_grid; /* made by the daemon's poll timer (not the first poll, nor one re-opening the
                     adapter, which the daemon may make at once on a uevent) */
};

struct replay_adapter {
    const struct sim_trace_adapter *ta;
    struct sim_adapter *hw;
    size_t entry; /* cursor: observation `next` is repetition `rep` of ta->obs[entry] */
    uint64_t rep;
    uint64_t next;  /* observations set up */
    uint64_t done;  /* observations whose poll has happened */
    uint64_t first; /* the first read: the daemon's first poll */
    struct queued_poll queue[AHEAD_POLLS];
    size_t q_head, q_len;
    size_t expected_pending[SIM_TRACE_DISTRIBUTORS]; /* answers queued and not yet consumed */
    uint64_t unscripted[SIM_TRACE_DISTRIBUTORS];     /* reads answered without a queued answer */
    bool have_anchor; /* the latest poll seen draining its answers: */
    uint64_t anchor_index, anchor_ms;
    bool anchor_read;
    /* offsets (seen - index * interval) of the latest timer polls: their least is the phase of
     * the daemon's timer grid (a poll is never seen before it happens, only after) */
    double offsets[PHASE_WINDOW];
    size_t n_offsets, offsets_next;
    bool unplugged;
    bool warned_code;
    double interval_sum;
    unsigned interval_samples;
};

struct sim_replay {
    const struct sim_trace *t;
    struct sim_hardware *hw;
    double interval_ms;
    double speed;
    FILE *log;
    struct replay_adapter adapters[SIM_MAX_ADAPTERS];
    size_t n_adapters;
    unsigned divergences;
};

static const struct sim_trace_obs *current_obs(const struct replay_adapter *ra)
{
    const struct sim_trace_adapter *ta = ra->ta;
    return &ta->obs[ra->entry < ta->n_obs ? ra->entry : ta->n_obs - 1];
}

static void advance(struct replay_adapter *ra)
{
    if (ra->entry < ra->ta->n_obs && ++ra->rep >= ra->ta->obs[ra->entry].count) {
        ra->entry++;
        ra->rep = 0;
    }
    ra->next++;
}

static int apply(struct sim_replay *r, const struct sim_action *act)
{
    char err[200];
    int rc = sim_hardware_apply(r->hw, act, err, sizeof(err));
    if (rc < 0)
        fprintf(r->log, "lynx-sim: replay: %s\n", err);
    return rc;
}

static int adapter_action(struct sim_replay *r, struct replay_adapter *ra,
                          enum sim_action_kind kind)
{
    struct sim_action act = {.kind = kind, .count = 1};
    strcpy(act.serial, ra->ta->serial);
    return apply(r, &act);
}

static int queue_poll(struct sim_replay *r, struct replay_adapter *ra,
                      const int16_t answers[SIM_TRACE_DISTRIBUTORS][SIM_TRACE_MAX_ROUNDS],
                      const unsigned n_answers[SIM_TRACE_DISTRIBUTORS], bool filler, bool on_grid)
{
    struct sim_action act = {.kind = SIM_ACTION_SCRIPT};
    struct queued_poll qp = {.index = ra->next, .filler = filler, .on_grid = on_grid};
    strcpy(act.serial, ra->ta->serial);
    for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++) {
        act.letter = (char)('A' + d);
        act.script_len = n_answers[d];
        for (unsigned k = 0; k < n_answers[d]; k++)
            act.script[k] = answers[d][k];
        int rc = apply(r, &act);
        if (rc < 0)
            return rc;
        qp.answers[d] = n_answers[d];
        ra->expected_pending[d] += n_answers[d];
    }
    ra->queue[(ra->q_head + ra->q_len) % AHEAD_POLLS] = qp;
    ra->q_len++;
    return 0;
}

static const char *kind_name(const struct sim_trace_obs *o)
{
    switch (o->kind) {
    case SIM_TRACE_READ:
        return "a read";
    case SIM_TRACE_USB_ERROR:
        return "a USB error";
    case SIM_TRACE_GONE:
        return "the adapter gone";
    case SIM_TRACE_BUS_STUCK:
        return "a stuck bus";
    }
    return "?";
}

/* The daemon read a distributor that had no answer of the trace queued: it polled the bus where
 * the trace has no read (a USB error or an unplug was not in place yet), or read more than the
 * trace's poll did. What it observed is not the trace's from here on. */
static void diverged(struct sim_replay *r, struct replay_adapter *ra, const char *letters)
{
    r->divergences++;
    fprintf(r->log,
            "lynx-sim: replay: diverged: %s: the daemon read %s with no answer of the trace "
            "queued, after poll %" PRIu64 " of %" PRIu64 " (the trace's next poll is %s, line %u): "
            "a USB error or an unplug landed in another poll than recorded, or the daemon read "
            "more than the recording daemon did\n",
            ra->ta->serial, letters, ra->done, ra->ta->polls, kind_name(current_obs(ra)),
            current_obs(ra)->line);
}

static void judge_interval(struct sim_replay *r, struct replay_adapter *ra, uint64_t took_ms)
{
    if (ra->interval_samples == INTERVAL_SAMPLES)
        return;
    ra->interval_sum += (double)took_ms;
    if (++ra->interval_samples < INTERVAL_SAMPLES)
        return;
    double mean = ra->interval_sum / INTERVAL_SAMPLES;
    if (fabs(mean - r->interval_ms) > r->interval_ms / 4)
        fprintf(r->log,
                "lynx-sim: replay: %s: the daemon polls every %.0f ms, the replay expects %.0f "
                "ms (poll-interval-ms %u / speed %g): configure poll_interval_ms = %.0f\n",
                ra->ta->serial, mean, r->interval_ms, r->t->poll_interval_ms, r->speed,
                r->interval_ms);
}

/* A queued poll drained: the daemon made that poll at about now (a little earlier, never later). */
static void poll_seen(struct sim_replay *r, struct replay_adapter *ra, const struct queued_poll *qp,
                      uint64_t now_ms)
{
    if (ra->have_anchor && qp->index == ra->anchor_index + 1 && ra->anchor_read && !qp->filler &&
        qp->on_grid)
        judge_interval(r, ra, now_ms - ra->anchor_ms);
    if (qp->on_grid) {
        ra->offsets[ra->offsets_next] = (double)now_ms - (double)qp->index * r->interval_ms;
        ra->offsets_next = (ra->offsets_next + 1) % PHASE_WINDOW;
        if (ra->n_offsets < PHASE_WINDOW)
            ra->n_offsets++;
    }
    if (ra->done < qp->index + 1)
        ra->done = qp->index + 1;
    ra->have_anchor = true;
    ra->anchor_index = qp->index;
    ra->anchor_ms = now_ms;
    ra->anchor_read = !qp->filler;
}

/* What the distributors tell: which queued polls the daemon has made (every distributor took its
 * answers), and whether it read any without a queued answer. */
static void detect_polls(struct sim_replay *r, struct replay_adapter *ra, uint64_t now_ms)
{
    size_t consumed[SIM_TRACE_DISTRIBUTORS];
    uint64_t unscripted[SIM_TRACE_DISTRIBUTORS];
    pthread_mutex_lock(&r->hw->lock);
    for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++) {
        size_t pending = sim_lynx_script_pending(ra->hw->lynx[d]);
        const struct sim_lynx_stats *st = sim_lynx_stats(ra->hw->lynx[d]);
        consumed[d] = pending < ra->expected_pending[d] ? ra->expected_pending[d] - pending : 0;
        unscripted[d] = st->reads - st->faulted_reads; /* a replay arms no other fault */
    }
    pthread_mutex_unlock(&r->hw->lock);
    while (ra->q_len) {
        const struct queued_poll *head = &ra->queue[ra->q_head];
        bool made = true;
        for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++)
            made = made && consumed[d] >= head->answers[d];
        if (!made)
            break;
        struct queued_poll qp = *head;
        ra->q_head = (ra->q_head + 1) % AHEAD_POLLS;
        ra->q_len--;
        for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++) {
            consumed[d] -= qp.answers[d];
            ra->expected_pending[d] -= qp.answers[d];
        }
        poll_seen(r, ra, &qp, now_ms);
    }
    char letters[64] = "";
    size_t len = 0;
    for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++)
        if (unscripted[d] > ra->unscripted[d]) {
            len += (size_t)snprintf(letters + len, sizeof(letters) - len, "%s%c", len ? ", " : "",
                                    'A' + d);
            ra->unscripted[d] = unscripted[d];
        }
    if (len)
        diverged(r, ra, letters); /* one divergence per poll found, whatever it read */
}

/* Time of the daemon's poll that makes observation `index`, on its timer grid: the least offset
 * of the latest timer polls (scheduling only ever delays a poll, or its detection here), else
 * the latest poll seen. */
static double poll_time(const struct sim_replay *r, const struct replay_adapter *ra, uint64_t index)
{
    double phase = (double)ra->anchor_ms - (double)ra->anchor_index * r->interval_ms;
    for (size_t i = 0; i < ra->n_offsets; i++)
        phase = i == 0 || ra->offsets[i] < phase ? ra->offsets[i] : phase;
    return phase + (double)index * r->interval_ms;
}

/* The reply of the latest read poll has left the chip: that poll is over, a fault armed now hits
 * the next one. (An i2c-dev read returns its byte with the transaction.) */
static bool reply_taken(struct sim_replay *r, const struct replay_adapter *ra)
{
    if (!ra->hw->dev || ra->unplugged || !ra->anchor_read || ra->done != ra->anchor_index + 1)
        return true;
    pthread_mutex_lock(&r->hw->lock);
    size_t queued = sim_ft232h_queued(ra->hw->dev);
    pthread_mutex_unlock(&r->hw->lock);
    return queued == 0;
}

/* Observations not made from queued answers (a stalled transfer, an absent adapter) are taken
 * as done half an interval after their poll. */
static void complete_unqueued(struct sim_replay *r, struct replay_adapter *ra, uint64_t now_ms)
{
    while (ra->have_anchor && ra->done < ra->next) {
        if (ra->q_len && ra->queue[ra->q_head].index == ra->done)
            return; /* waits for its answers to drain */
        if ((double)now_ms < poll_time(r, ra, ra->done) + r->interval_ms / 2)
            return;
        ra->done++;
    }
}

/* Whether the daemon's poll timer makes the poll of observation `next` (o): not its first poll,
 * made at start, nor one that re-opens the adapter, which it may make at once on a uevent. */
static bool timer_poll(const struct replay_adapter *ra, const struct sim_trace_obs *o)
{
    return ra->next != ra->first && !(o->reopened && ra->rep == 0);
}

/* The hardware for the trace's next observation. An adapter unplugged before is plugged in last,
 * once the answers or the fault are in place: a client that polls the moment it sees the
 * adapter back (the daemon does on a uevent) meets the trace, not the live model. */
static int set_up_between_polls(struct sim_replay *r, struct replay_adapter *ra,
                                const struct sim_trace_obs *o)
{
    static const int16_t nacks[SIM_TRACE_DISTRIBUTORS][SIM_TRACE_MAX_ROUNDS] = {
        {-1}, {-1}, {-1}, {-1}};
    static const unsigned one_each[SIM_TRACE_DISTRIBUTORS] = {1, 1, 1, 1};
    const bool i2c = ra->ta->transport == SIM_TRANSPORT_I2C;
    int rc = 0;
    switch (o->kind) {
    case SIM_TRACE_GONE:
        if (ra->unplugged)
            return 0;
        ra->unplugged = true;
        return adapter_action(r, ra, SIM_ACTION_UNPLUG);
    case SIM_TRACE_READ:
        rc = queue_poll(r, ra, o->answers, o->n_answers, false, timer_poll(ra, o));
        break;
    case SIM_TRACE_USB_ERROR:
        if (o->error == -ETIMEDOUT) {
            /* FTDI: the first scan reaches the bus, only its reply is lost: its reads take
             * answers. i2c: the transfer fails before the bus (and the poll with it). */
            rc = adapter_action(r, ra, SIM_ACTION_USB_TIMEOUT);
            if (rc == 0 && !i2c)
                rc = queue_poll(r, ra, nacks, one_each, true, true);
            break;
        }
        /* fall through */
    case SIM_TRACE_BUS_STUCK:
        if ((o->kind == SIM_TRACE_BUS_STUCK || o->error != -EPIPE) && !ra->warned_code) {
            ra->warned_code = true;
            fprintf(r->log,
                    "lynx-sim: replay: %s: trace line %u: %s cannot be reproduced exactly: "
                    "replayed as a failed transfer (EPIPE, a stall)\n",
                    ra->ta->serial, o->line,
                    o->kind == SIM_TRACE_BUS_STUCK ? "a stuck bus" : strerrorname_np(-o->error));
        }
        rc = adapter_action(r, ra, SIM_ACTION_USB_ERROR);
        break;
    }
    if (rc == 0 && ra->unplugged) {
        rc = adapter_action(r, ra, SIM_ACTION_PLUG);
        ra->unplugged = false;
    }
    return rc;
}

/* Sets up what is due; 1 when something waits for its moment between two polls. */
static int set_up(struct sim_replay *r, struct replay_adapter *ra, uint64_t now_ms)
{
    while (ra->next - ra->done < AHEAD_POLLS && ra->q_len < AHEAD_POLLS) {
        const struct sim_trace_obs *o = current_obs(ra);
        int rc = 0;
        if (o->kind == SIM_TRACE_READ && !ra->unplugged) {
            /* order places it */
            rc = queue_poll(r, ra, o->answers, o->n_answers, false, timer_poll(ra, o));
        } else if (!(o->kind == SIM_TRACE_GONE && ra->unplugged)) {
            /* half an interval before its poll on the daemon's timer grid, once the poll before
             * is over */
            if (ra->done != ra->next || !ra->have_anchor ||
                (double)now_ms < poll_time(r, ra, ra->next) - r->interval_ms / 2 ||
                !reply_taken(r, ra))
                return 1;
            rc = set_up_between_polls(r, ra, o);
        }
        if (rc < 0)
            return rc;
        advance(ra);
    }
    return 0;
}

int sim_replay_new(struct sim_replay **out, const struct sim_trace *t, struct sim_hardware *hw,
                   double speed, FILE *log, char *err, size_t errlen)
{
    *out = NULL;
    if (!(speed > 0) || !t->poll_interval_ms) {
        snprintf(err, errlen, "the speed must be above 0");
        return -EINVAL;
    }
    struct sim_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->t = t;
    r->hw = hw;
    r->speed = speed;
    r->interval_ms = t->poll_interval_ms / speed;
    r->log = log;
    for (size_t i = 0; i < t->n_adapters; i++) {
        struct replay_adapter *ra = &r->adapters[r->n_adapters++];
        ra->ta = &t->adapters[i];
        for (size_t k = 0; k < hw->n_adapters; k++)
            if (strcmp(hw->adapters[k].spec.serial, ra->ta->serial) == 0)
                ra->hw = &hw->adapters[k];
        bool complete = ra->hw != NULL;
        for (int d = 0; complete && d < SIM_TRACE_DISTRIBUTORS; d++)
            complete = ra->hw->lynx[d] != NULL;
        if (!complete) {
            snprintf(err, errlen, "adapter %s of the trace is not fully simulated", ra->ta->serial);
            sim_replay_free(r);
            return -ENOENT;
        }
        while (ra->entry < ra->ta->n_obs && ra->ta->obs[ra->entry].kind != SIM_TRACE_READ)
            advance(ra);
        if (ra->entry == ra->ta->n_obs) {
            snprintf(err, errlen, "adapter %s: the trace has no read to replay", ra->ta->serial);
            sim_replay_free(r);
            return -EINVAL;
        }
        if (ra->next)
            fprintf(log,
                    "lynx-sim: replay: %s: the %" PRIu64 " polls before the first read (trace "
                    "line %u) are skipped: the daemon opens its adapters at start\n",
                    ra->ta->serial, ra->next, ra->ta->obs[ra->entry].line);
        ra->done = ra->first = ra->next;
        int rc = set_up(r, ra, 0);
        if (rc < 0) {
            snprintf(err, errlen, "adapter %s: cannot queue the answers", ra->ta->serial);
            sim_replay_free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void sim_replay_free(struct sim_replay *r)
{
    free(r);
}

int sim_replay_step(struct sim_replay *r, uint64_t now_ms)
{
    int wait = IDLE_TICK_MS;
    for (size_t i = 0; i < r->n_adapters; i++) {
        struct replay_adapter *ra = &r->adapters[i];
        detect_polls(r, ra, now_ms);
        complete_unqueued(r, ra, now_ms);
        /* a placement waiting for its moment is watched as closely as a poll: lateness here is
         * what the jitter tolerance is spent on */
        if (set_up(r, ra, now_ms) > 0 || ra->q_len || ra->done < ra->next)
            wait = DETECT_TICK_MS;
    }
    return wait;
}

bool sim_replay_finished(const struct sim_replay *r)
{
    for (size_t i = 0; i < r->n_adapters; i++)
        if (r->adapters[i].done < r->adapters[i].ta->polls)
            return false;
    return true;
}

unsigned sim_replay_divergences(const struct sim_replay *r)
{
    return r->divergences;
}

void sim_replay_write_status(const struct sim_replay *r, FILE *out)
{
    for (size_t i = 0; i < r->n_adapters; i++) {
        const struct replay_adapter *ra = &r->adapters[i];
        uint64_t total = ra->ta->polls;
        fprintf(out, "%s %" PRIu64 "/%" PRIu64 " polls\n", ra->ta->serial,
                ra->done < total ? ra->done : total, total);
    }
    fprintf(out, "finished %s\ndivergences %u\n", sim_replay_finished(r) ? "yes" : "no",
            r->divergences);
}
