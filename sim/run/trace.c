/* The trace parser (see trace.h for the contract): a trace file, line by line, into struct
 * sim_trace, and the scenario a replay of it needs. */
#include "run/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/lynx_slave.h"

#define TRACE_VERSION   1
#define TRACE_MAX_WORDS 16
#define TRACE_LINE_MAX  1024 /* characters in a line (the recorder writes fewer than 200) */
#define ERRNO_NAME_MAX  4096

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
    char line[TRACE_LINE_MAX + 2]; /* a line, its newline and a NUL: reads stay bounded */
    int rc = 0;
    memset(t, 0, sizeof(*t));
    while (rc == 0 && fgets(line, sizeof(line), in)) {
        char *w[TRACE_MAX_WORDS];
        size_t len = strlen(line);
        p.line++;
        bool ended = len > 0 && line[len - 1] == '\n';
        if (!ended && len == sizeof(line) - 1) {
            rc =
                parse_fail(&p, "line longer than %d characters (is this a trace?)", TRACE_LINE_MAX);
            break;
        }
        if (!ended && !feof(in)) { /* fgets went on past a NUL byte that strlen stopped at */
            rc = parse_fail(&p, "contains a NUL byte (is this a trace?)");
            break;
        }
        if (!ended) {
            /* the recorder ends every line: this one was cut (full disk, power loss) */
            t->cut_line = p.line;
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
