#include "base/mainloop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define MAX_CAUGHT_SIGNALS 8

struct mainloop_fd_watch {
    struct mainloop *loop;
    int fd;
    short events;
    bool removed;
    mainloop_fd_fn fn;
    void *user;
    struct mainloop_fd_watch *next;
};

struct mainloop_timer {
    struct mainloop *loop;
    int64_t deadline_ns;
    uint32_t interval_ms;
    bool periodic;
    bool armed;
    bool removed;
    uint64_t seq;
    uint64_t fired_in_iteration;
    mainloop_timer_fn fn;
    void *user;
    struct mainloop_timer *next;
};

struct mainloop_source {
    struct mainloop *loop;
    bool pending;
    bool removed;
    mainloop_source_fn dispatch;
    mainloop_source_fn detach;
    void *user;
    struct mainloop_source *next;
};

struct caught_signal {
    int signo;
    struct sigaction previous;
};

struct mainloop {
    struct mainloop_fd_watch *watches;
    struct mainloop_timer *timers;
    struct mainloop_source *sources; /* newest first */
    uint64_t next_timer_seq;

    struct pollfd *pollfds;
    struct mainloop_fd_watch **pollfd_owners;
    size_t pollfd_capacity;

    int wake_pipe[2];
    struct mainloop_fd_watch *wake_watch;
    struct caught_signal caught[MAX_CAUGHT_SIGNALS];
    unsigned caught_count;

    bool in_dispatch;
    bool quit;
    int quit_signal;
    uint64_t iterations;
};

/* Write end of the self-pipe of the loop that catches signals; read by the signal handler. */
static volatile sig_atomic_t signal_pipe_fd = -1;

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_caught_signal(int signo)
{
    int saved_errno = errno;
    unsigned char byte = (unsigned char)signo;
    int fd = signal_pipe_fd;
    if (fd >= 0) {
        ssize_t ignored = write(fd, &byte, 1);
        (void)ignored;
    }
    errno = saved_errno;
}

static void on_wake_pipe(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                         short revents, void *user)
{
    (void)watch;
    (void)revents;
    (void)user;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != 0) {
                loop->quit_signal = buf[i];
                loop->quit = true;
            }
        }
    }
}

int mainloop_new(struct mainloop **out)
{
    struct mainloop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    if (pipe2(loop->wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    int r =
        mainloop_add_fd(loop, loop->wake_pipe[0], POLLIN, on_wake_pipe, NULL, &loop->wake_watch);
    if (r < 0) {
        close(loop->wake_pipe[0]);
        close(loop->wake_pipe[1]);
        free(loop);
        return r;
    }
    *out = loop;
    return 0;
}

static void free_removed(struct mainloop *loop)
{
    for (struct mainloop_fd_watch **w = &loop->watches; *w;) {
        if ((*w)->removed) {
            struct mainloop_fd_watch *dead = *w;
            *w = dead->next;
            free(dead);
        } else {
            w = &(*w)->next;
        }
    }
    for (struct mainloop_timer **t = &loop->timers; *t;) {
        if ((*t)->removed) {
            struct mainloop_timer *dead = *t;
            *t = dead->next;
            free(dead);
        } else {
            t = &(*t)->next;
        }
    }
    for (struct mainloop_source **s = &loop->sources; *s;) {
        if ((*s)->removed) {
            struct mainloop_source *dead = *s;
            *s = dead->next;
            free(dead);
        } else {
            s = &(*s)->next;
        }
    }
}

void mainloop_free(struct mainloop *loop)
{
    if (!loop)
        return;
    loop->in_dispatch = true; /* defer frees while walking the lists */
    for (struct mainloop_source *s = loop->sources; s; s = s->next)
        mainloop_remove_source(s);
    if (loop->caught_count > 0) {
        signal_pipe_fd = -1;
        for (unsigned i = 0; i < loop->caught_count; i++)
            sigaction(loop->caught[i].signo, &loop->caught[i].previous, NULL);
    }
    for (struct mainloop_fd_watch *w = loop->watches; w; w = w->next)
        w->removed = true;
    for (struct mainloop_timer *t = loop->timers; t; t = t->next)
        t->removed = true;
    free_removed(loop);
    close(loop->wake_pipe[0]);
    close(loop->wake_pipe[1]);
    free(loop->pollfds);
    free(loop->pollfd_owners);
    free(loop);
}

void mainloop_quit(struct mainloop *loop)
{
    loop->quit = true;
}

uint64_t mainloop_iterations(const struct mainloop *loop)
{
    return loop->iterations;
}

int mainloop_quit_signal(const struct mainloop *loop)
{
    return loop->quit_signal;
}

int mainloop_add_fd(struct mainloop *loop, int fd, short events, mainloop_fd_fn fn, void *user,
                    struct mainloop_fd_watch **out)
{
    if (fd < 0 || !fn)
        return -EINVAL;
    struct mainloop_fd_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->user = user;
    struct mainloop_fd_watch **tail = &loop->watches;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    if (out)
        *out = w;
    return 0;
}

void mainloop_fd_set_events(struct mainloop_fd_watch *watch, short events)
{
    watch->events = events;
}

void mainloop_remove_fd(struct mainloop_fd_watch *watch)
{
    if (!watch)
        return;
    watch->removed = true;
    if (!watch->loop->in_dispatch)
        free_removed(watch->loop);
}

int mainloop_add_timer(struct mainloop *loop, uint32_t interval_ms, bool periodic,
                       mainloop_timer_fn fn, void *user, struct mainloop_timer **out)
{
    if (!fn || (periodic && interval_ms == 0))
        return -EINVAL;
    struct mainloop_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->periodic = periodic;
    t->fn = fn;
    t->user = user;
    t->seq = loop->next_timer_seq++;
    t->fired_in_iteration = UINT64_MAX;
    mainloop_timer_arm(t, interval_ms);
    struct mainloop_timer **tail = &loop->timers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = t;
    if (out)
        *out = t;
    return 0;
}

int mainloop_timer_arm(struct mainloop_timer *timer, uint32_t interval_ms)
{
    if (timer->periodic && interval_ms == 0)
        return -EINVAL;
    timer->interval_ms = interval_ms;
    timer->deadline_ns = monotonic_ns() + (int64_t)interval_ms * 1000000;
    timer->armed = true;
    return 0;
}

void mainloop_timer_disarm(struct mainloop_timer *timer)
{
    timer->armed = false;
}

bool mainloop_timer_armed(const struct mainloop_timer *timer)
{
    return timer->armed && !timer->removed;
}

void mainloop_remove_timer(struct mainloop_timer *timer)
{
    if (!timer)
        return;
    timer->removed = true;
    timer->armed = false;
    if (!timer->loop->in_dispatch)
        free_removed(timer->loop);
}

int mainloop_catch_signals(struct mainloop *loop, const int *signals, unsigned count)
{
    if (count > MAX_CAUGHT_SIGNALS - loop->caught_count)
        return -EINVAL;
    if (signal_pipe_fd >= 0 && signal_pipe_fd != loop->wake_pipe[1])
        return -EBUSY;
    signal_pipe_fd = loop->wake_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_caught_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (unsigned i = 0; i < count; i++) {
        struct caught_signal *c = &loop->caught[loop->caught_count];
        if (sigaction(signals[i], &sa, &c->previous) < 0)
            return -errno;
        c->signo = signals[i];
        loop->caught_count++;
    }
    return 0;
}

static struct mainloop_timer *earliest_timer(struct mainloop *loop)
{
    struct mainloop_timer *best = NULL;
    for (struct mainloop_timer *t = loop->timers; t; t = t->next) {
        if (!t->armed || t->removed)
            continue;
        if (!best || t->deadline_ns < best->deadline_ns ||
            (t->deadline_ns == best->deadline_ns && t->seq < best->seq))
            best = t;
    }
    return best;
}

static bool sources_pending(struct mainloop *loop)
{
    for (struct mainloop_source *s = loop->sources; s; s = s->next)
        if (s->pending && !s->removed)
            return true;
    return false;
}

static int poll_timeout_ms(struct mainloop *loop, bool may_block)
{
    if (!may_block || loop->quit || sources_pending(loop))
        return 0;
    struct mainloop_timer *t = earliest_timer(loop);
    if (!t)
        return -1;
    int64_t wait_ns = t->deadline_ns - monotonic_ns();
    if (wait_ns <= 0)
        return 0;
    /* Round up: waking before the deadline would find nothing due and spin. */
    int64_t wait_ms = (wait_ns + 999999) / 1000000;
    return wait_ms > INT_MAX ? INT_MAX : (int)wait_ms;
}

static int build_pollfds(struct mainloop *loop, nfds_t *count)
{
    size_t n = 0;
    for (struct mainloop_fd_watch *w = loop->watches; w; w = w->next)
        if (!w->removed && w->events)
            n++;
    if (n > loop->pollfd_capacity) {
        struct pollfd *fds = realloc(loop->pollfds, n * sizeof(*fds));
        if (!fds)
            return -ENOMEM;
        loop->pollfds = fds;
        struct mainloop_fd_watch **owners = realloc(loop->pollfd_owners, n * sizeof(*owners));
        if (!owners)
            return -ENOMEM;
        loop->pollfd_owners = owners;
        loop->pollfd_capacity = n;
    }
    size_t i = 0;
    for (struct mainloop_fd_watch *w = loop->watches; w; w = w->next) {
        if (w->removed || !w->events)
            continue;
        loop->pollfds[i] = (struct pollfd){.fd = w->fd, .events = w->events};
        loop->pollfd_owners[i] = w;
        i++;
    }
    *count = n;
    return 0;
}

static void dispatch_fds(struct mainloop *loop, nfds_t count)
{
    for (nfds_t i = 0; i < count; i++) {
        struct mainloop_fd_watch *w = loop->pollfd_owners[i];
        short revents = loop->pollfds[i].revents & (w->events | POLLERR | POLLHUP | POLLNVAL);
        if (revents && !w->removed && w->events)
            w->fn(loop, w, w->fd, revents, w->user);
    }
}

static void fire_due_timers(struct mainloop *loop)
{
    int64_t now = monotonic_ns();
    for (;;) {
        struct mainloop_timer *due = NULL;
        for (struct mainloop_timer *t = loop->timers; t; t = t->next) {
            if (!t->armed || t->removed || t->deadline_ns > now ||
                t->fired_in_iteration == loop->iterations)
                continue;
            if (!due || t->deadline_ns < due->deadline_ns ||
                (t->deadline_ns == due->deadline_ns && t->seq < due->seq))
                due = t;
        }
        if (!due)
            return;
        due->fired_in_iteration = loop->iterations;
        if (due->periodic) {
            int64_t interval_ns = (int64_t)due->interval_ms * 1000000;
            due->deadline_ns += interval_ns;
            if (due->deadline_ns <= now)
                due->deadline_ns = now + interval_ns;
        } else {
            due->armed = false;
        }
        due->fn(loop, due, due->user);
    }
}

/* Sources added meanwhile (at the head of the list) wait for the next call. */
static void dispatch_sources(struct mainloop *loop)
{
    for (struct mainloop_source *s = loop->sources; s; s = s->next)
        if (!s->removed)
            s->dispatch(loop, s, s->user);
}

int mainloop_iterate(struct mainloop *loop, bool may_block)
{
    loop->in_dispatch = true;
    dispatch_sources(loop);

    nfds_t count;
    int r = build_pollfds(loop, &count);
    if (r < 0)
        goto out;
    int timeout = poll_timeout_ms(loop, may_block);
    int ready = poll(loop->pollfds, count, timeout);
    loop->iterations++;
    if (ready < 0 && errno != EINTR) {
        r = -errno;
        log_error("mainloop: poll failed: %s", strerror(errno));
        goto out;
    }
    if (ready > 0)
        dispatch_fds(loop, count);
    fire_due_timers(loop);
    dispatch_sources(loop);
    r = 0;
out:
    loop->in_dispatch = false;
    free_removed(loop);
    return r;
}

int mainloop_run(struct mainloop *loop)
{
    loop->quit_signal = 0;
    int r = 0;
    while (!loop->quit && r == 0)
        r = mainloop_iterate(loop, true);
    loop->quit = false;
    return r;
}

/* ---- sources ---- */

int mainloop_add_source(struct mainloop *loop, mainloop_source_fn dispatch,
                        mainloop_source_fn detach, void *user, struct mainloop_source **out)
{
    if (!dispatch)
        return -EINVAL;
    struct mainloop_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->dispatch = dispatch;
    s->detach = detach;
    s->user = user;
    s->next = loop->sources;
    loop->sources = s;
    if (out)
        *out = s;
    return 0;
}

struct mainloop_source *mainloop_find_source(struct mainloop *loop, mainloop_source_fn dispatch,
                                             const void *user)
{
    for (struct mainloop_source *s = loop->sources; s; s = s->next)
        if (!s->removed && s->dispatch == dispatch && s->user == user)
            return s;
    return NULL;
}

void mainloop_source_set_pending(struct mainloop_source *source, bool pending)
{
    source->pending = pending;
}

bool mainloop_source_active(const struct mainloop_source *source)
{
    return !source->removed;
}

void mainloop_remove_source(struct mainloop_source *source)
{
    if (!source || source->removed)
        return;
    /* Detach first: it may remove watches and timers, which sweeps removed entries when not
     * dispatching, so the source is marked only afterwards. */
    if (source->detach)
        source->detach(source->loop, source, source->user);
    source->removed = true;
    if (!source->loop->in_dispatch)
        free_removed(source->loop);
}
