/* The recorder (recorder.h): the trace file written, rotated and synced, and each poll's outcome
 * turned into an observation (recorder_poller_observer). */
#include "daemon/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/trace_sync.h"

#define RECORDER_MAX_ADAPTERS 16
#define LINE_MAX_BYTES        1024 /* one poll's lines: same + adapter + back + observation */
#define U64_DIGITS            20

struct recorded_adapter {
    char serial[BUS_LINK_NAME_MAX];
    char attributes[RECORDER_ATTRIBUTES_MAX]; /* of its `adapter` line */
    bool declared;                            /* its `adapter` line is in the current file */
    bool have_last;                           /* last was written to the current file */
    struct recorder_observation last;
    uint64_t repeats;    /* polls equal to last not yet written as `same` */
    uint64_t repeat_ms;  /* time of the latest of them */
    uint64_t written_ms; /* time of the latest line written for this adapter */
};

struct recorder {
    FILE *file;
    char *path, *old_path;
    struct recorder_options opt;
    uint64_t bytes; /* size of the current file */
    struct recorded_adapter adapters[RECORDER_MAX_ADAPTERS];
    size_t n_adapters;
    bool failed;
    bool started; /* recorder_open succeeded: a failure from now on stops only the recording */
    dev_t dev;    /* the file being written, to check FILE is still it before rotating */
    ino_t ino;
    uint64_t generation; /* rotations so far: FILE's generation (trace_sync.h) */
    bool sync_ready;     /* `sync` is initialised */
    struct trace_sync sync;
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Logs why (once) and stops: at start-up the daemon then does not start, later it goes on. */
static int stop_because(struct recorder *rec, int err, const char *why)
{
    if (!rec->started)
        log_error("recorder: %s; not starting (--record needs a writable regular file)", why);
    else if (!rec->failed)
        log_warn("recorder: %s; recording stopped, polling goes on without it", why);
    rec->failed = true;
    if (rec->file)
        fclose(rec->file);
    rec->file = NULL;
    return -err;
}

static int stop_recording(struct recorder *rec, int err, const char *what)
{
    char why[PATH_MAX + 128];
    snprintf(why, sizeof(why), "%s %s: %s", what, rec->path, strerror(err));
    return stop_because(rec, err, why);
}

static int stop_not_regular(struct recorder *rec, const char *path, const char *what)
{
    char why[PATH_MAX + 128];
    snprintf(why, sizeof(why), "%s %s", path, what);
    return stop_because(rec, EINVAL, why);
}

static int write_text(struct recorder *rec, const char *text, size_t len)
{
    if (fwrite(text, 1, len, rec->file) != len)
        return stop_recording(rec, errno ? errno : EIO, "cannot write");
    rec->bytes += len;
    return 0;
}

static int write_header(struct recorder *rec)
{
    char when[40] = "unknown";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char text[320];
    int len = snprintf(text, sizeof(text),
                       "# dbus-lynx-distributor " LYNX_VERSION " poll trace (format: "
                       "fixtures/README.md)\n"
                       "# started %s, monotonic clock %" PRIu64 " ms\n"
                       "lynx-trace 1 poll-interval-ms=%u\n",
                       when, monotonic_ms(), rec->opt.poll_interval_ms);
    return write_text(rec, text, (size_t)len);
}

/* The longest `same` line an adapter can need: what must stay free for it in the file. */
static uint64_t same_line_max(const struct recorded_adapter *a)
{
    return U64_DIGITS + 1 + strlen(a->serial) + sizeof(" same ") - 1 + U64_DIGITS + 1;
}

static uint64_t reserved_bytes(const struct recorder *rec)
{
    uint64_t total = 0;
    for (size_t i = 0; i < rec->n_adapters; i++)
        if (rec->adapters[i].declared)
            total += same_line_max(&rec->adapters[i]);
    return total;
}

static size_t format_same(const struct recorded_adapter *a, char *buf, size_t max)
{
    return (size_t)snprintf(buf, max, "%" PRIu64 " %s same %" PRIu64 "\n", a->repeat_ms, a->serial,
                            a->repeats);
}

static int write_pending_same(struct recorder *rec, struct recorded_adapter *a)
{
    char line[LINE_MAX_BYTES];
    if (!a->repeats)
        return 0;
    size_t len = format_same(a, line, sizeof(line));
    a->repeats = 0;
    a->written_ms = a->repeat_ms;
    return write_text(rec, line, len);
}

/* Everything written so far to the file of this generation (fd, taken) on disk, and the
 * directory's entries too if dir (a rename, a new file): after a power loss the trace holds every
 * poll up to the last completed sync. With a loop the fsyncs run on the worker thread; their
 * failure then stops the recording from the loop (on_sync_failed). */
static int sync_fd(struct recorder *rec, int fd, uint64_t generation, bool dir)
{
    int rc = trace_sync_request(&rec->sync, fd, generation, dir);
    return rc < 0 ? stop_recording(rec, -rc, "cannot write") : 0;
}

static int sync_file(struct recorder *rec, bool dir)
{
    int fd = -1;
    if (fflush(rec->file) != 0 || (fd = fcntl(fileno(rec->file), F_DUPFD_CLOEXEC, 0)) < 0)
        return stop_recording(rec, errno, "cannot write");
    return sync_fd(rec, fd, rec->generation, dir);
}

static void on_sync_failed(void *user, int err)
{
    stop_recording(user, err, "cannot write");
}

static int flush(struct recorder *rec)
{
    if (fflush(rec->file) != 0)
        return stop_recording(rec, errno, "cannot write");
    return 0;
}

/* Rotation renames whatever is at FILE and FILE.1: only ever the regular file being written. */
static int check_rotation_target(struct recorder *rec)
{
    struct stat st;
    if (stat(rec->path, &st) < 0)
        return stop_recording(rec, errno, "cannot rotate");
    if (!S_ISREG(st.st_mode) || st.st_dev != rec->dev || st.st_ino != rec->ino)
        return stop_not_regular(rec, rec->path,
                                "is no longer the file being recorded (replaced): nothing rotated");
    if (lstat(rec->old_path, &st) == 0 && !S_ISREG(st.st_mode))
        return stop_not_regular(rec, rec->old_path, "is not a regular file: nothing rotated");
    return 0;
}

static int open_file(struct recorder *rec, const char *mode)
{
    struct stat st;
    rec->file = fopen(rec->path, mode);
    if (!rec->file || fstat(fileno(rec->file), &st) < 0)
        return stop_recording(rec, errno, "cannot open");
    if (!S_ISREG(st.st_mode))
        return stop_not_regular(rec, rec->path, "is not a regular file");
    setvbuf(rec->file, NULL, _IOFBF, 16384);
    rec->dev = st.st_dev;
    rec->ino = st.st_ino;
    rec->bytes = (uint64_t)st.st_size;
    return 0;
}

/* FILE -> FILE.1, a new FILE with its own header; pending counts stay in the old file (there is
 * always room for them: see reserved_bytes). */
static int rotate(struct recorder *rec)
{
    int rc = 0;
    for (size_t i = 0; i < rec->n_adapters && rc == 0; i++)
        rc = write_pending_same(rec, &rec->adapters[i]);
    if (rc < 0 || (rc = flush(rec)) < 0 || (rc = check_rotation_target(rec)) < 0)
        return rc;
    /* The old part is synced through its own descriptor after the rename (the syncs may run on
     * the worker while the new part is written). */
    int old_fd = fcntl(fileno(rec->file), F_DUPFD_CLOEXEC, 0);
    if (old_fd < 0)
        return stop_recording(rec, errno, "cannot write");
    if (fclose(rec->file) != 0) {
        rec->file = NULL;
        close(old_fd);
        return stop_recording(rec, errno, "cannot write");
    }
    rec->file = NULL;
    if (rename(rec->path, rec->old_path) < 0) {
        close(old_fd);
        return stop_recording(rec, errno, "cannot rotate");
    }
    if ((rc = open_file(rec, "wxe")) < 0) {
        close(old_fd);
        return rc;
    }
    rec->generation++;
    if ((rc = sync_fd(rec, old_fd, rec->generation - 1, true)) < 0)
        return rc;
    rec->bytes = 0;
    for (size_t i = 0; i < rec->n_adapters; i++) {
        rec->adapters[i].declared = false;
        rec->adapters[i].have_last = false;
    }
    log_info("recorder: %s full, previous part kept as %s", rec->path, rec->old_path);
    return write_header(rec);
}

int recorder_parse_size(const char *text, uint64_t *bytes)
{
    char *end;
    errno = 0;
    if (!text || *text < '0' || *text > '9')
        return -EINVAL;
    unsigned long long v = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || v > (UINT64_MAX >> shift))
        return -ERANGE;
    *bytes = (uint64_t)v << shift;
    return 0;
}

int recorder_open(struct recorder **out, const char *path, const struct recorder_options *opt)
{
    *out = NULL;
    struct recorder *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return -ENOMEM;
    rec->opt = *opt;
    if (!rec->opt.max_bytes)
        rec->opt.max_bytes = RECORDER_MAX_BYTES_DEFAULT;
    if (!rec->opt.heartbeat_ms)
        rec->opt.heartbeat_ms = RECORDER_HEARTBEAT_MS_DEFAULT;
    if (rec->opt.max_bytes < RECORDER_MAX_BYTES_MIN) {
        log_error("recorder: a trace file of %" PRIu64 " bytes is too small (at least %u)",
                  rec->opt.max_bytes, RECORDER_MAX_BYTES_MIN);
        free(rec);
        return -EINVAL;
    }
    rec->path = strdup(path);
    char *dir = rec->path ? strdup(path) : NULL;
    rec->sync_ready = dir && trace_sync_init(&rec->sync, dirname(dir), on_sync_failed, rec) == 0;
    free(dir);
    if (!rec->sync_ready || asprintf(&rec->old_path, "%s.1", path) < 0) {
        rec->old_path = NULL;
        recorder_close(rec);
        return -ENOMEM;
    }
    /* Not even opened unless it is a regular file (or new): opening a FIFO would block, and
     * rotating a device node would rename it. */
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        rc = stop_not_regular(rec, path, "is not a regular file (a device, FIFO or directory)");
    if (rc == 0)
        rc = open_file(rec, "ae");
    if (rc == 0)
        rc = rec->bytes + LINE_MAX_BYTES > rec->opt.max_bytes ? rotate(rec) : write_header(rec);
    if (rc == 0)
        rc = sync_file(rec, true); /* no loop yet: on this thread, its error reported */
    if (rc < 0) {
        recorder_close(rec);
        return rc;
    }
    rec->started = true;
    *out = rec;
    return 0;
}

int recorder_use_loop(struct recorder *rec, struct mainloop *loop)
{
    return rec ? trace_sync_use_loop(&rec->sync, loop) : 0;
}

static int sync_all(struct recorder *rec, bool dir)
{
    if (!rec || rec->failed)
        return rec ? -EIO : 0;
    int rc = 0;
    for (size_t i = 0; i < rec->n_adapters && rc == 0; i++)
        rc = write_pending_same(rec, &rec->adapters[i]);
    return rc < 0 ? rc : sync_file(rec, dir);
}

int recorder_sync(struct recorder *rec)
{
    return sync_all(rec, false);
}

bool recorder_syncing(const struct recorder *rec)
{
    return rec && rec->sync_ready && trace_sync_busy(&rec->sync);
}

void recorder_close(struct recorder *rec)
{
    if (!rec)
        return;
    if (rec->started && rec->file)
        sync_all(rec, true);
    /* The close guarantee: every sync asked for has completed (this waits for the worker). */
    int rc = rec->sync_ready ? trace_sync_finish(&rec->sync) : 0;
    if (rc < 0 && rec->started)
        stop_recording(rec, -rc, "cannot write");
    if (rec->file && fclose(rec->file) != 0)
        log_warn("recorder: cannot write %s: %s", rec->path, strerror(errno));
    free(rec->path);
    free(rec->old_path);
    free(rec);
}

uint64_t recorder_file_bytes(const struct recorder *rec)
{
    return rec->bytes;
}

static struct recorded_adapter *known_adapter(struct recorder *rec, const char *serial)
{
    for (size_t i = 0; i < rec->n_adapters; i++)
        if (strcmp(rec->adapters[i].serial, serial) == 0)
            return &rec->adapters[i];
    return NULL;
}

static struct recorded_adapter *find_adapter(struct recorder *rec, const char *serial,
                                             const char *attributes)
{
    struct recorded_adapter *known = known_adapter(rec, serial);
    if (known)
        return known;
    if (rec->n_adapters == RECORDER_MAX_ADAPTERS || !serial[0] ||
        strlen(serial) >= BUS_LINK_NAME_MAX || strpbrk(serial, " \t\r\n#") ||
        strlen(attributes) >= RECORDER_ATTRIBUTES_MAX || strpbrk(attributes, "\r\n#"))
        return NULL;
    struct recorded_adapter *a = &rec->adapters[rec->n_adapters++];
    memset(a, 0, sizeof(*a));
    strcpy(a->serial, serial);
    strcpy(a->attributes, attributes);
    return a;
}

static bool same_observation(const struct recorder_observation *a,
                             const struct recorder_observation *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == RECORDER_USB_ERROR)
        return a->error == b->error;
    if (a->kind != RECORDER_READ)
        return true;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (a->n_reads[d] != b->n_reads[d])
            return false;
        for (unsigned k = 0; k < a->n_reads[d]; k++) {
            const struct recorder_read *x = &a->reads[d][k], *y = &b->reads[d][k];
            if (x->acked != y->acked || (x->acked && x->data != y->data))
                return false;
        }
    }
    return true;
}

static size_t format_observation(const struct recorded_adapter *a, uint64_t now_ms,
                                 const struct recorder_observation *obs, char *buf, size_t max)
{
    size_t len = (size_t)snprintf(buf, max, "%" PRIu64 " %s ", now_ms, a->serial);
    switch (obs->kind) {
    case RECORDER_READ:
        len += (size_t)snprintf(buf + len, max - len, "read");
        for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
            len += (size_t)snprintf(buf + len, max - len, " %c=", lynx_letter(d));
            for (unsigned k = 0; k < obs->n_reads[d]; k++) {
                const struct recorder_read *r = &obs->reads[d][k];
                len += r->acked
                           ? (size_t)snprintf(buf + len, max - len, "%s%02x", k ? "," : "", r->data)
                           : (size_t)snprintf(buf + len, max - len, "%snack", k ? "," : "");
            }
        }
        break;
    case RECORDER_USB_ERROR: {
        const char *name = strerrorname_np(-obs->error);
        len += name ? (size_t)snprintf(buf + len, max - len, "usb-error %s", name)
                    : (size_t)snprintf(buf + len, max - len, "usb-error %d", obs->error);
        break;
    }
    case RECORDER_GONE:
        len += (size_t)snprintf(buf + len, max - len, "gone");
        break;
    case RECORDER_BUS_STUCK:
        len += (size_t)snprintf(buf + len, max - len, "bus-stuck");
        break;
    }
    len += (size_t)snprintf(buf + len, max - len, "\n");
    return len;
}

/* The lines of an observation that differs from the previous one. */
static size_t format_change(const struct recorded_adapter *a, uint64_t now_ms,
                            const struct recorder_observation *obs, char *buf, size_t max)
{
    size_t len = 0;
    if (a->repeats)
        len += format_same(a, buf, max);
    if (!a->declared)
        len += (size_t)snprintf(buf + len, max - len, "adapter %s %s\n", a->serial, a->attributes);
    if (obs->reopened)
        len += (size_t)snprintf(buf + len, max - len, "%" PRIu64 " %s back\n", now_ms, a->serial);
    return len + format_observation(a, now_ms, obs, buf + len, max - len);
}

static bool has_room(const struct recorder *rec, const struct recorded_adapter *a, size_t len)
{
    uint64_t reserve = reserved_bytes(rec) + (a->declared ? 0 : same_line_max(a));
    return rec->bytes + len + reserve <= rec->opt.max_bytes;
}

int recorder_observe(struct recorder *rec, uint64_t now_ms, const char *serial,
                     const char *attributes, const struct recorder_observation *obs)
{
    char lines[LINE_MAX_BYTES];
    size_t len;
    int rc;
    if (rec->failed)
        return -EIO;
    for (unsigned d = 0; obs->kind == RECORDER_READ && d < LYNX_DISTRIBUTORS; d++)
        if (obs->n_reads[d] < 1 || obs->n_reads[d] > RECORDER_MAX_READS)
            return -EINVAL;
    struct recorded_adapter *a = find_adapter(rec, serial, attributes);
    if (!a)
        return -ENOSPC;

    if (a->have_last && !obs->reopened && same_observation(&a->last, obs)) {
        a->repeats++;
        a->repeat_ms = now_ms;
        if (now_ms - a->written_ms < rec->opt.heartbeat_ms)
            return 0;
        len = format_same(a, lines, sizeof(lines));
        if (!has_room(rec, a, len))
            rc = rotate(rec); /* writes this count into the old file */
        else
            rc = write_pending_same(rec, a);
        return rc < 0 ? rc : flush(rec);
    }

    len = format_change(a, now_ms, obs, lines, sizeof(lines));
    if (!has_room(rec, a, len)) {
        if ((rc = rotate(rec)) < 0)
            return rc;
        len = format_change(a, now_ms, obs, lines, sizeof(lines));
    }
    if ((rc = write_text(rec, lines, len)) < 0)
        return rc;
    a->declared = true;
    a->have_last = true;
    a->last = *obs;
    a->repeats = 0;
    a->written_ms = now_ms;
    return flush(rec);
}

void recorder_poller_observer(void *user, const struct poller *poller, bool was_open, int rc,
                              const struct bus_read *reads)
{
    struct recorder_observation obs;
    memset(&obs, 0, sizeof(obs));
    if (rc == 0 && reads) {
        obs.kind = RECORDER_READ;
        obs.reopened = !was_open;
        for (size_t k = 0; k < poller->n_reads; k++) {
            unsigned d = (unsigned)(reads[k].address - lynx_address(0));
            if (d < LYNX_DISTRIBUTORS && obs.n_reads[d] < RECORDER_MAX_READS)
                obs.reads[d][obs.n_reads[d]++] =
                    (struct recorder_read){.acked = reads[k].acked, .data = reads[k].data};
        }
    } else if (rc == -EREMOTEIO && poller->link->open) {
        obs.kind = RECORDER_BUS_STUCK;
        obs.reopened = !was_open;
    } else if (rc == -ENODEV || !poller->link->open) {
        obs.kind = RECORDER_GONE; /* the daemon's view is the same whichever way it went */
    } else {
        obs.kind = RECORDER_USB_ERROR;
        obs.reopened = !was_open;
        obs.error = rc < 0 ? rc : -EIO;
    }
    /* the attributes only declare an adapter: described once, not at every poll */
    char attributes[RECORDER_ATTRIBUTES_MAX] = "";
    if (!known_adapter(user, poller->link->name)) {
        struct bus_link_info info;
        poller->link->ops->describe(poller->link, &info);
        snprintf(attributes, sizeof(attributes), "transport=%s %s", info.transport, info.trace);
    }
    recorder_observe(user, monotonic_ms(), poller->link->name, attributes, &obs);
}

void recorder_attach(struct recorder *rec, struct poller *poller)
{
    if (!rec)
        return;
    poller->observer = recorder_poller_observer;
    poller->observer_user = rec;
}
