#include "run/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/lynx_slave.h"

#define TRACE_VERSION    1
#define TRACE_MAX_WORDS  16
#define AHEAD_POLLS      64 /* answers queued ahead per distributor: 64 polls of <= 4 reads */
#define DETECT_TICK_MS   5  /* how often the queue is checked while answers are pending */
#define IDLE_TICK_MS     50
#define INTERVAL_SAMPLES 8 /* consecutive read polls measured before judging the daemon's rate */
#define ERRNO_NAME_MAX   4096

/* ---- parsing ---------------------------------------------------------------------------- */

struct trace_parser {
    const char *name;
    unsigned line;
    struct sim_trace *t;
    bool have_header;
    bool back_pending[SIM_MAX_ADAPTERS];
    uint64_t last_ms[SIM_MAX_ADAPTERS];
    char *err;
    size_t errlen;
};

static int parse_fail(struct trace_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int parse_fail(struct trace_parser *p, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, what);
    return -EINVAL;
}

static bool parse_u64(const char *word, uint64_t *out)
{
    char *end;
    if (*word < '0' || *word > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(word, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_hex16(const char *word, uint16_t *out)
{
    char *end;
    if (strncmp(word, "0x", 2) != 0 || !word[2])
        return false;
    errno = 0;
    unsigned long v = strtoul(word + 2, &end, 16);
    if (errno || *end || v > 0xFFFF)
        return false;
    *out = (uint16_t)v;
    return true;
}

int sim_trace_errno(const char *word)
{
    char *end;
    if (word[0] == '-') {
        long v = strtol(word + 1, &end, 10);
        return *end || v <= 0 || v >= ERRNO_NAME_MAX ? 0 : (int)-v;
    }
    for (int e = 1; e < ERRNO_NAME_MAX; e++) {
        const char *name = strerrorname_np(e);
        if (name && strcmp(name, word) == 0)
            return -e;
    }
    return 0;
}

static struct sim_trace_adapter *find_trace_adapter(struct sim_trace *t, const char *serial,
                                                    size_t *index)
{
    for (size_t i = 0; i < t->n_adapters; i++)
        if (strcmp(t->adapters[i].serial, serial) == 0) {
            *index = i;
            return &t->adapters[i];
        }
    return NULL;
}

static int parse_header(struct trace_parser *p, char **w, int n)
{
    uint64_t version, interval;
    if (p->have_header)
        return parse_fail(p, "a second recording session starts here (the daemon restarted): "
                             "replay one session at a time (split the file at this line)");
    if (n != 3 || !parse_u64(w[1], &version) || strncmp(w[2], "poll-interval-ms=", 17) != 0 ||
        !parse_u64(w[2] + 17, &interval))
        return parse_fail(p, "expected 'lynx-trace %d poll-interval-ms=<ms>'", TRACE_VERSION);
    if (version != TRACE_VERSION)
        return parse_fail(p, "trace version %" PRIu64 " is not supported (expected %d)", version,
                          TRACE_VERSION);
    if (interval < 1 || interval > 3600000)
        return parse_fail(p, "expected a poll interval of 1-3600000 ms, got '%s'", w[2] + 17);
    p->t->poll_interval_ms = (unsigned)interval;
    p->have_header = true;
    return 0;
}

#define ADAPTER_USAGE                                                                              \
    "expected 'adapter <serial> [transport=ftdi] [vid=0x0403] [pid=0xd4f8]' or 'adapter <name> "   \
    "transport=i2c bus=<N>'"

static bool parse_bus(const char *word, unsigned *bus)
{
    uint64_t v;
    if (!parse_u64(word, &v) || v > SIM_I2C_BUS_MAX)
        return false;
    *bus = (unsigned)v;
    return true;
}

/* One key=value of an adapter line; *seen collects the keys given (1 vid, 2 pid, 4 bus). */
static int parse_adapter_option(struct trace_parser *p, struct sim_trace_adapter *a,
                                const char *word, unsigned *seen)
{
    unsigned key = strncmp(word, "vid=", 4) == 0   ? 1
                   : strncmp(word, "pid=", 4) == 0 ? 2
                   : strncmp(word, "bus=", 4) == 0 ? 4
                                                   : 0;
    bool ok = false;
    if (strcmp(word, "transport=ftdi") == 0 || strcmp(word, "transport=i2c") == 0) {
        a->transport = word[10] == 'i' ? SIM_TRANSPORT_I2C : SIM_TRANSPORT_FTDI;
        return 0;
    }
    if (key == 1 || key == 2)
        ok = parse_hex16(word + 4, key == 1 ? &a->vid : &a->pid);
    else if (key == 4)
        ok = parse_bus(word + 4, &a->bus);
    if (!ok || (*seen & key))
        return parse_fail(p, "%s, got '%s'", ADAPTER_USAGE, word);
    *seen |= key;
    return 0;
}

static int parse_adapter(struct trace_parser *p, char **w, int n)
{
    struct sim_trace *t = p->t;
    size_t index;
    if (n < 2 || n > 5)
        return parse_fail(p, ADAPTER_USAGE);
    if (!sim_valid_serial(w[1]))
        return parse_fail(p, "expected an adapter serial ([A-Za-z0-9._-]), got '%s'", w[1]);
    if (find_trace_adapter(t, w[1], &index))
        return parse_fail(p, "adapter %s is declared twice", w[1]);
    if (t->n_adapters == SIM_MAX_ADAPTERS)
        return parse_fail(p, "more than %d adapters", SIM_MAX_ADAPTERS);
    struct sim_trace_adapter *a = &t->adapters[t->n_adapters];
    memset(a, 0, sizeof(*a));
    strcpy(a->serial, w[1]);
    a->vid = 0x0403;
    a->pid = 0xD4F8;
    unsigned seen = 0;
    for (int i = 2; i < n; i++)
        if (parse_adapter_option(p, a, w[i], &seen) < 0)
            return -EINVAL;
    const bool i2c = a->transport == SIM_TRANSPORT_I2C;
    if (i2c && (seen & 3))
        return parse_fail(p, "adapter %s: transport=i2c has a bus=, not vid= or pid=", a->serial);
    if (!i2c && (seen & 4))
        return parse_fail(p, "adapter %s: bus= needs transport=i2c", a->serial);
    if (i2c && !(seen & 4))
        return parse_fail(p, "adapter %s: transport=i2c needs bus=<N>", a->serial);
    for (size_t i = 0; i2c && i < t->n_adapters; i++)
        if (t->adapters[i].transport == SIM_TRANSPORT_I2C && t->adapters[i].bus == a->bus)
            return parse_fail(p, "adapters %s and %s are both on bus %u", t->adapters[i].serial,
                              a->serial, a->bus);
    t->n_adapters++;
    return 0;
}

/* "A=08,nack" -> answers of one distributor. Returns the number of reads, or 0 on error. */
static unsigned parse_reads(const char *word, char letter, int16_t *answers)
{
    if (word[0] != letter || word[1] != '=')
        return 0;
    unsigned n = 0;
    const char *s = word + 2;
    for (;;) {
        if (n == SIM_TRACE_MAX_ROUNDS)
            return 0;
        if (strncmp(s, "nack", 4) == 0) {
            answers[n++] = SIM_LYNX_SCRIPT_NACK;
            s += 4;
        } else {
            static const char hex[] = "0123456789abcdefABCDEF";
            if (!s[0] || !s[1] || !strchr(hex, s[0]) || !strchr(hex, s[1]))
                return 0;
            char byte[3] = {s[0], s[1], 0};
            answers[n++] = (int16_t)strtol(byte, NULL, 16);
            s += 2;
        }
        if (*s == '\0')
            return n;
        if (*s++ != ',')
            return 0;
    }
}

static struct sim_trace_obs *append_obs(struct trace_parser *p, struct sim_trace_adapter *a)
{
    if (a->n_obs == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct sim_trace_obs *grown = realloc(a->obs, cap * sizeof(*grown));
        if (!grown) {
            snprintf(p->err, p->errlen, "%s:%u: out of memory", p->name, p->line);
            return NULL;
        }
        a->obs = grown;
        a->cap = cap;
    }
    struct sim_trace_obs *o = &a->obs[a->n_obs];
    memset(o, 0, sizeof(*o));
    o->line = p->line;
    o->count = 1;
    return o;
}

static int parse_observation(struct trace_parser *p, char **w, int n)
{
    uint64_t ms, same;
    size_t index;
    struct sim_trace_adapter *a;
    if (!p->have_header)
        return parse_fail(p, "expected 'lynx-trace %d poll-interval-ms=<ms>' first", TRACE_VERSION);
    if (n < 3 || !parse_u64(w[0], &ms))
        return parse_fail(p,
                          "expected '<ms> <serial> read|usb-error|gone|bus-stuck|back|same ...'");
    if (!(a = find_trace_adapter(p->t, w[1], &index)))
        return parse_fail(p, "adapter '%s' is not declared (expected an 'adapter %s' line before)",
                          w[1], w[1]);
    if (ms < p->last_ms[index])
        return parse_fail(p, "time goes backwards: %" PRIu64 " after %" PRIu64 " ms", ms,
                          p->last_ms[index]);
    p->last_ms[index] = ms;
    const char *what = w[2];

    if (strcmp(what, "back") == 0) {
        if (n != 3)
            return parse_fail(p, "expected '<ms> <serial> back'");
        p->back_pending[index] = true;
        return 0;
    }
    if (strcmp(what, "same") == 0) {
        bool digits = n == 4 && w[3][0] && strspn(w[3], "0123456789") == strlen(w[3]);
        if (digits && (!parse_u64(w[3], &same) || same > SIM_TRACE_MAX_POLLS - a->polls))
            return parse_fail(
                p, "'same %s' is too large: %s would have more than %" PRIu64 " polls (2^53)", w[3],
                a->serial, (uint64_t)SIM_TRACE_MAX_POLLS);
        if (!digits || same == 0)
            return parse_fail(p, "expected '<ms> <serial> same <polls, 1 or more>'");
        if (!a->n_obs)
            return parse_fail(p, "'same' before any observation of %s", a->serial);
        if (p->back_pending[index])
            return parse_fail(p, "'same' right after 'back': expected an observation");
        a->obs[a->n_obs - 1].count += same;
        a->obs[a->n_obs - 1].last_ms = ms;
        a->polls += same;
        return 0;
    }

    struct sim_trace_obs *o = append_obs(p, a);
    if (!o)
        return -ENOMEM;
    o->at_ms = o->last_ms = ms;
    if (strcmp(what, "read") == 0) {
        if (n != 3 + SIM_TRACE_DISTRIBUTORS)
            return parse_fail(p, "expected 'read A=<r>[,<r>...] B=... C=... D=...' (r = nack or "
                                 "a hex byte)");
        o->kind = SIM_TRACE_READ;
        for (unsigned d = 0; d < SIM_TRACE_DISTRIBUTORS; d++) {
            o->n_answers[d] = parse_reads(w[3 + d], (char)('A' + d), o->answers[d]);
            if (!o->n_answers[d])
                return parse_fail(p,
                                  "expected %c=<r>[,<r>...] with 1-%d reads (r = nack or a hex "
                                  "byte), got '%s'",
                                  'A' + d, SIM_TRACE_MAX_ROUNDS, w[3 + d]);
        }
    } else if (strcmp(what, "usb-error") == 0) {
        if (n != 4 || !(o->error = sim_trace_errno(w[3])))
            return parse_fail(p,
                              "expected 'usb-error <code>' (an errno name such as EPIPE, or "
                              "-<number>), got '%s'",
                              n > 3 ? w[3] : "");
        o->kind = SIM_TRACE_USB_ERROR;
    } else if (strcmp(what, "gone") == 0 || strcmp(what, "bus-stuck") == 0) {
        if (n != 3)
            return parse_fail(p, "expected '<ms> <serial> %s'", what);
        o->kind = what[0] == 'g' ? SIM_TRACE_GONE : SIM_TRACE_BUS_STUCK;
    } else {
        return parse_fail(p,
                          "unknown observation '%s' (expected read, usb-error, gone, "
                          "bus-stuck, back or same)",
                          what);
    }
    o->reopened = p->back_pending[index];
    p->back_pending[index] = false;
    a->n_obs++;
    a->polls++;
    return 0;
}

int sim_trace_parse(FILE *in, const char *name, struct sim_trace *t, char *err, size_t errlen)
{
    struct trace_parser p = {.name = name, .t = t, .err = err, .errlen = errlen};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    memset(t, 0, sizeof(*t));
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
        char *w[TRACE_MAX_WORDS];
        p.line++;
        if (len > 0 && line[len - 1] != '\n') {
            /* the recorder ends every line: this one was cut (full disk, power loss) */
            t->cut_line = p.line;
            break;
        }
        if ((size_t)len != strlen(line)) {
            rc = parse_fail(&p, "contains a NUL byte (is this a trace?)");
            break;
        }
        int n = sim_split_words(line, w, TRACE_MAX_WORDS);
        uint64_t ms;
        if (n == 0)
            continue;
        if (n < 0)
            rc = parse_fail(&p, "too many words (at most %d)", TRACE_MAX_WORDS);
        else if (strcmp(w[0], "lynx-trace") == 0)
            rc = parse_header(&p, w, n);
        else if (!p.have_header)
            rc = parse_fail(&p, "expected 'lynx-trace %d poll-interval-ms=<ms>' first, got '%s'",
                            TRACE_VERSION, w[0]);
        else if (strcmp(w[0], "adapter") == 0)
            rc = parse_adapter(&p, w, n);
        else if (parse_u64(w[0], &ms))
            rc = parse_observation(&p, w, n);
        else
            rc = parse_fail(&p,
                            "unknown statement '%s' (expected adapter or '<ms> <serial> "
                            "read|usb-error|gone|bus-stuck|back|same')",
                            w[0]);
    }
    free(line);
    if (rc == 0 && ferror(in)) {
        snprintf(err, errlen, "%s: cannot read: %s", name, strerror(errno ? errno : EIO));
        rc = -EIO;
    }
    if (rc == 0 && !p.have_header) {
        p.line++;
        rc = parse_fail(&p, "expected 'lynx-trace %d poll-interval-ms=<ms>' (empty trace)",
                        TRACE_VERSION);
    }
    uint64_t observations = 0;
    for (size_t i = 0; i < t->n_adapters; i++)
        observations += t->adapters[i].n_obs;
    if (rc == 0 && observations == 0)
        rc = parse_fail(&p, "the trace has no observation (%s): nothing to replay",
                        t->n_adapters ? "only a header and adapter lines" : "only a header");
    for (size_t i = 0; rc == 0 && !t->cut_line && i < t->n_adapters; i++)
        if (p.back_pending[i]) {
            rc = parse_fail(&p, "the trace ends after 'back' of %s: expected an observation",
                            t->adapters[i].serial);
        }
    if (rc < 0) {
        unsigned cut = t->cut_line;
        sim_trace_clear(t);
        t->cut_line = cut;
    }
    return rc;
}

int sim_trace_load(const char *path, struct sim_trace *t, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        memset(t, 0, sizeof(*t));
        return -errno;
    }
    int rc = sim_trace_parse(f, path, t, err, errlen);
    fclose(f);
    return rc;
}

void sim_trace_cut_warning(const struct sim_trace *t, const char *name, char *out, size_t max)
{
    if (!t->cut_line) {
        snprintf(out, max, "%s", "");
        return;
    }
    snprintf(out, max,
             "%s:%u: the last line has no end of line: it was cut while recording (full disk or "
             "power loss?); it is left out, lines 1-%u are replayed",
             name, t->cut_line, t->cut_line - 1);
}

void sim_trace_clear(struct sim_trace *t)
{
    for (size_t i = 0; i < t->n_adapters; i++)
        free(t->adapters[i].obs);
    memset(t, 0, sizeof(*t));
}

void sim_trace_scenario(const struct sim_trace *t, struct sim_scenario *sc)
{
    memset(sc, 0, sizeof(*sc));
    for (size_t i = 0; i < t->n_adapters; i++) {
        struct sim_adapter_spec *spec = &sc->adapters[i];
        strcpy(spec->serial, t->adapters[i].serial);
        spec->transport = t->adapters[i].transport;
        spec->vid = t->adapters[i].vid;
        spec->pid = t->adapters[i].pid;
        spec->i2c_bus = t->adapters[i].bus;
        spec->nack_errno = ENXIO;
        spec->plugged = true;
        for (int d = 0; d < SIM_MAX_DISTRIBUTORS; d++)
            spec->distributors[d] = (struct sim_distributor_spec){
                .declared = true, .supply = true, .powered = true, .present = true};
    }
    sc->n_adapters = t->n_adapters;
}

/* ---- replay ----------------------------------------------------------------------------- */

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
        if ((o->kind == SIM_TRACE_BUS_STUCK || o->error != (i2c ? -EIO : -EPIPE)) &&
            !ra->warned_code) {
            ra->warned_code = true;
            fprintf(r->log,
                    "lynx-sim: replay: %s: trace line %u: %s cannot be reproduced exactly: "
                    "replayed as a failed transfer (%s)\n",
                    ra->ta->serial, o->line,
                    o->kind == SIM_TRACE_BUS_STUCK ? "a stuck bus" : strerrorname_np(-o->error),
                    i2c ? "EIO" : "EPIPE, a stall");
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
