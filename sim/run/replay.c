/* The replay (see replay.h for the contract): drives the simulated hardware so that a daemon
 * polling it makes a parsed trace's observations, poll by poll, and judges whether the placements
 * between polls held. The trace parser is trace.c. */
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

struct queued_poll {
    uint64_t index; /* observation number (0-based) */
    unsigned answers;
    bool filler; /* answers of a usb-timeout poll: the daemon never sees them */
};

struct replay_adapter {
    const struct sim_trace_adapter *ta;
    struct sim_adapter *hw;
    size_t entry; /* cursor: observation `next` is repetition `rep` of ta->obs[entry] */
    uint64_t rep;
    uint64_t next; /* observations set up */
    uint64_t done; /* observations whose poll has happened */
    struct queued_poll queue[AHEAD_POLLS];
    size_t q_head, q_len;
    size_t expected_pending; /* answers queued on distributor A and not yet consumed */
    bool have_anchor;        /* the latest poll seen draining its answers: */
    uint64_t anchor_index, anchor_ms;
    bool anchor_read;
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
                      const unsigned n_answers[SIM_TRACE_DISTRIBUTORS], bool filler)
{
    struct sim_action act = {.kind = SIM_ACTION_SCRIPT};
    strcpy(act.serial, ra->ta->serial);
    for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++) {
        act.letter = (char)('A' + d);
        act.script_len = n_answers[d];
        for (unsigned k = 0; k < n_answers[d]; k++)
            act.script[k] = answers[d][k];
        int rc = apply(r, &act);
        if (rc < 0)
            return rc;
    }
    ra->queue[(ra->q_head + ra->q_len) % AHEAD_POLLS] =
        (struct queued_poll){.index = ra->next, .answers = n_answers[0], .filler = filler};
    ra->q_len++;
    ra->expected_pending += n_answers[0];
    return 0;
}

static void diverged(struct sim_replay *r, struct replay_adapter *ra, uint64_t index,
                     uint64_t took_ms, uint64_t polls)
{
    r->divergences++;
    fprintf(r->log,
            "lynx-sim: replay: diverged: %s: poll %" PRIu64 " came %" PRIu64
            " ms after poll %" PRIu64 ", expected %" PRIu64 " polls of %.0f ms: a USB error or "
            "an unplug landed in another poll than recorded\n",
            ra->ta->serial, index + 1, took_ms, ra->anchor_index + 1, polls, r->interval_ms);
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

/* A queued poll drained: the daemon made that poll at about now. */
static void poll_seen(struct sim_replay *r, struct replay_adapter *ra, const struct queued_poll *qp,
                      uint64_t now_ms)
{
    if (ra->have_anchor && qp->index > ra->anchor_index) {
        uint64_t polls = qp->index - ra->anchor_index, took = now_ms - ra->anchor_ms;
        if (polls > 1 && fabs((double)took - (double)polls * r->interval_ms) > r->interval_ms / 2)
            diverged(r, ra, qp->index, took, polls);
        else if (polls == 1 && ra->anchor_read && !qp->filler)
            judge_interval(r, ra, took);
    }
    if (ra->done < qp->index + 1)
        ra->done = qp->index + 1;
    ra->have_anchor = true;
    ra->anchor_index = qp->index;
    ra->anchor_ms = now_ms;
    ra->anchor_read = !qp->filler;
}

static void detect_polls(struct sim_replay *r, struct replay_adapter *ra, uint64_t now_ms)
{
    if (!ra->q_len)
        return;
    pthread_mutex_lock(&r->hw->lock);
    size_t pending = sim_lynx_script_pending(ra->hw->lynx[0]);
    pthread_mutex_unlock(&r->hw->lock);
    size_t consumed = pending < ra->expected_pending ? ra->expected_pending - pending : 0;
    while (ra->q_len && consumed >= ra->queue[ra->q_head].answers) {
        struct queued_poll qp = ra->queue[ra->q_head];
        ra->q_head = (ra->q_head + 1) % AHEAD_POLLS;
        ra->q_len--;
        consumed -= qp.answers;
        ra->expected_pending -= qp.answers;
        poll_seen(r, ra, &qp, now_ms);
    }
}

/* Time of the daemon's poll that makes observation `index`, on the grid of the latest one seen
 * (the daemon's poll timer keeps its phase). */
static double poll_time(const struct sim_replay *r, const struct replay_adapter *ra, uint64_t index)
{
    return (double)ra->anchor_ms + ((double)index - (double)ra->anchor_index) * r->interval_ms;
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
        rc = queue_poll(r, ra, o->answers, o->n_answers, false);
        break;
    case SIM_TRACE_USB_ERROR:
        if (o->error == -ETIMEDOUT) {
            /* FTDI: the first scan reaches the bus, only its reply is lost: its reads take
             * answers. i2c: the transfer fails before the bus (and the poll with it). */
            rc = adapter_action(r, ra, SIM_ACTION_USB_TIMEOUT);
            if (rc == 0 && !i2c)
                rc = queue_poll(r, ra, nacks, one_each, true);
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

static int set_up(struct sim_replay *r, struct replay_adapter *ra, uint64_t now_ms)
{
    while (ra->next - ra->done < AHEAD_POLLS && ra->q_len < AHEAD_POLLS) {
        const struct sim_trace_obs *o = current_obs(ra);
        int rc = 0;
        if (o->kind == SIM_TRACE_READ && !ra->unplugged) {
            rc = queue_poll(r, ra, o->answers, o->n_answers, false); /* order places it */
        } else if (!(o->kind == SIM_TRACE_GONE && ra->unplugged)) {
            if (ra->done != ra->next || !ra->have_anchor ||
                (double)now_ms < poll_time(r, ra, ra->next) - r->interval_ms / 2)
                return 0;
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
        ra->done = ra->next;
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
        set_up(r, ra, now_ms);
        if (ra->q_len || ra->done < ra->next)
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
