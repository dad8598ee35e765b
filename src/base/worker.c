/* The worker thread (worker.h): a mutex and a condition variable guard one job slot; the eventfd
 * is only the loop's doorbell. */
#include "base/worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The jobs are single system calls: a small stack keeps each thread's memory small. */
#define WORKER_STACK (64 * 1024)

enum slot { SLOT_EMPTY, SLOT_RUNNING, SLOT_FINISHED };

struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a job submitted or finished, or the worker stopping */
    int fd;
    enum slot slot;
    worker_fn job, done;
    void *arg;
    bool stopping;
    worker_fn release;
    void *release_arg;
};

static void ring(int fd)
{
    uint64_t one = 1;
    /* A full counter (never, at one job at a time) still leaves the fd readable. */
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r;
}

static void *run(void *user)
{
    struct worker *w = user;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stopping && w->slot != SLOT_RUNNING)
            pthread_cond_wait(&w->changed, &w->lock);
        if (w->slot == SLOT_RUNNING) {
            worker_fn job = w->job;
            void *arg = w->arg;
            pthread_mutex_unlock(&w->lock);
            job(arg);
            pthread_mutex_lock(&w->lock);
            w->slot = SLOT_FINISHED;
            pthread_cond_broadcast(&w->changed);
            if (!w->stopping)
                ring(w->fd);
            continue;
        }
        break; /* stopping, and no job left to run */
    }
    worker_fn release = w->release;
    void *release_arg = w->release_arg;
    pthread_mutex_unlock(&w->lock);
    if (release)
        release(release_arg);
    close(w->fd);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

int worker_new(struct worker **out)
{
    *out = NULL;
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr,
                              WORKER_STACK < PTHREAD_STACK_MIN ? PTHREAD_STACK_MIN : WORKER_STACK);
    /* The thread inherits this mask: signals stay with the loop's thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = -pthread_create(&w->thread, &attr, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc < 0) {
        close(w->fd);
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int worker_fd(const struct worker *w)
{
    return w->fd;
}

int worker_submit(struct worker *w, worker_fn job, worker_fn done, void *arg)
{
    pthread_mutex_lock(&w->lock);
    int rc = -EBUSY;
    if (w->slot == SLOT_EMPTY) {
        w->job = job;
        w->done = done;
        w->arg = arg;
        w->slot = SLOT_RUNNING;
        pthread_cond_broadcast(&w->changed);
        rc = 0;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

bool worker_busy(const struct worker *w)
{
    struct worker *m = (struct worker *)w; /* the lock only */
    pthread_mutex_lock(&m->lock);
    bool busy = m->slot != SLOT_EMPTY;
    pthread_mutex_unlock(&m->lock);
    return busy;
}

void worker_dispatch(struct worker *w)
{
    uint64_t count;
    ssize_t r = read(w->fd, &count, sizeof(count)); /* EAGAIN: nothing rang */
    (void)r;
    pthread_mutex_lock(&w->lock);
    worker_fn done = NULL;
    void *arg = NULL;
    if (w->slot == SLOT_FINISHED) {
        done = w->done;
        arg = w->arg;
        w->slot = SLOT_EMPTY;
    }
    pthread_mutex_unlock(&w->lock);
    if (done)
        done(arg); /* may submit the next job */
}

void worker_wait(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->slot == SLOT_RUNNING)
        pthread_cond_wait(&w->changed, &w->lock);
    pthread_mutex_unlock(&w->lock);
    worker_dispatch(w);
}

void worker_free(struct worker *w, worker_fn release, void *arg)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    w->release = release;
    w->release_arg = arg;
    bool running = w->slot == SLOT_RUNNING;
    pthread_t thread = w->thread;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    /* From here the thread owns w and frees it. */
    if (running)
        pthread_detach(thread);
    else
        pthread_join(thread, NULL);
}
