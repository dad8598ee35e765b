/* signals.h: the daemon's asynchronous signals read from a signalfd in the loop. */
#include "daemon/signals.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct signals {
    int fd;
    sigset_t set;
    struct mainloop_fd_watch *watch;
    signals_fn fn;
    void *user;
};

static void on_readable(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                        short revents, void *user)
{
    struct signals *s = user;
    struct signalfd_siginfo info;
    (void)loop, (void)watch, (void)revents;
    while (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
        s->fn((int)info.ssi_signo, s->user);
}

int signals_watch(struct mainloop *loop, const int *signals, unsigned count, signals_fn fn,
                  void *user, struct signals **out)
{
    *out = NULL;
    struct signals *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->fn = fn;
    s->user = user;
    sigemptyset(&s->set);
    for (unsigned i = 0; i < count; i++)
        sigaddset(&s->set, signals[i]);
    int rc = 0;
    if (sigprocmask(SIG_BLOCK, &s->set, NULL) < 0 ||
        (s->fd = signalfd(-1, &s->set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        rc = -errno;
        sigprocmask(SIG_UNBLOCK, &s->set, NULL);
        free(s);
        return rc;
    }
    if ((rc = mainloop_add_fd(loop, s->fd, POLLIN, on_readable, s, &s->watch)) < 0) {
        s->watch = NULL;
        signals_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void signals_free(struct signals *s)
{
    if (!s)
        return;
    if (s->watch)
        mainloop_remove_fd(s->watch);
    close(s->fd);
    sigprocmask(SIG_UNBLOCK, &s->set, NULL);
    free(s);
}
