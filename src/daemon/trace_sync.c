/* trace_sync (trace_sync.h): fsync batches on a worker thread, one running and one waiting. */
#include "daemon/trace_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/worker.h"

static void batch_clear(struct trace_sync_batch *b)
{
    for (int i = 0; i < TRACE_SYNC_FDS; i++)
        b->fd[i] = -1;
    b->dir = false;
    b->err = 0;
}

static bool batch_empty(const struct trace_sync_batch *b)
{
    for (int i = 0; i < TRACE_SYNC_FDS; i++)
        if (b->fd[i] >= 0)
            return false;
    return !b->dir;
}

/* The job (the worker's thread, or the caller's without a loop): the files, then the directory,
 * and every descriptor closed (a close can flush on some file systems: here too off the loop). */
static void sync_batch(struct trace_sync_batch *b, const char *dir_path)
{
    for (int i = 0; i < TRACE_SYNC_FDS; i++) {
        if (b->fd[i] < 0)
            continue;
        if (fsync(b->fd[i]) < 0 && errno != EINVAL && !b->err)
            b->err = errno;
        close(b->fd[i]);
        b->fd[i] = -1;
    }
    if (b->dir) {
        int fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd); /* best effort: the data itself is what was asked to be kept */
            close(fd);
        }
    }
}

static void job(void *arg)
{
    struct trace_sync *ts = arg;
    sync_batch(&ts->run, ts->dir_path);
}

static void submit_queued(struct trace_sync *ts);

static void done(void *arg)
{
    struct trace_sync *ts = arg;
    ts->running = false;
    int err = ts->run.err;
    batch_clear(&ts->run);
    if (err && ts->failed)
        ts->failed(ts->user, err);
    else if (err && !ts->finish_err)
        ts->finish_err = err;
    submit_queued(ts);
}

static void submit_queued(struct trace_sync *ts)
{
    if (ts->running || batch_empty(&ts->queued))
        return;
    ts->run = ts->queued;
    batch_clear(&ts->queued);
    if (worker_submit(ts->worker, job, done, ts) == 0) {
        ts->running = true;
        return;
    }
    /* Never: `running` mirrors the worker's one slot. Sync here rather than lose the request. */
    sync_batch(&ts->run, ts->dir_path);
    batch_clear(&ts->run);
}

static void on_worker(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd, short revents,
                      void *user)
{
    (void)loop, (void)watch, (void)fd, (void)revents;
    worker_dispatch(((struct trace_sync *)user)->worker);
}

int trace_sync_init(struct trace_sync *ts, const char *dir_path, trace_sync_failed_fn failed,
                    void *user)
{
    memset(ts, 0, sizeof(*ts));
    batch_clear(&ts->run);
    batch_clear(&ts->queued);
    ts->failed = failed;
    ts->user = user;
    ts->dir_path = strdup(dir_path);
    return ts->dir_path ? 0 : -ENOMEM;
}

int trace_sync_use_loop(struct trace_sync *ts, struct mainloop *loop)
{
    if (ts->worker)
        return -EEXIST;
    int rc = worker_new(&ts->worker);
    if (rc == 0)
        rc = mainloop_add_fd(loop, worker_fd(ts->worker), POLLIN, on_worker, ts, &ts->watch);
    if (rc < 0) {
        worker_free(ts->worker, NULL, NULL);
        ts->worker = NULL;
    }
    return rc;
}

/* Adds fd to a waiting batch: one descriptor per generation, only the two newest kept. */
static void queue_fd(struct trace_sync *ts, int fd, uint64_t generation)
{
    struct trace_sync_batch *q = &ts->queued;
    for (int i = 0; i < TRACE_SYNC_FDS; i++) {
        bool stale = q->fd[i] >= 0 && q->generation[i] + 1 < generation; /* FILE.1 replaced */
        bool twin = q->fd[i] >= 0 && q->generation[i] == generation;     /* the same file */
        if (stale || twin) {
            close(q->fd[i]);
            q->fd[i] = -1;
        }
    }
    for (int i = 0; i < TRACE_SYNC_FDS; i++)
        if (q->fd[i] < 0) {
            q->fd[i] = fd;
            q->generation[i] = generation;
            return;
        }
}

int trace_sync_request(struct trace_sync *ts, int fd, uint64_t generation, bool dir)
{
    if (fd >= 0)
        queue_fd(ts, fd, generation);
    ts->queued.dir |= dir;
    if (ts->worker) {
        submit_queued(ts);
        return 0;
    }
    struct trace_sync_batch b = ts->queued;
    batch_clear(&ts->queued);
    sync_batch(&b, ts->dir_path);
    return -b.err;
}

bool trace_sync_busy(const struct trace_sync *ts)
{
    return ts->running || !batch_empty(&ts->queued);
}

int trace_sync_finish(struct trace_sync *ts)
{
    ts->failed = NULL; /* from here on the first error is returned */
    if (ts->worker) {
        mainloop_remove_fd(ts->watch);
        while (ts->running)
            worker_wait(ts->worker); /* runs done, which submits what waits */
        worker_free(ts->worker, NULL, NULL);
        ts->worker = NULL;
    }
    struct trace_sync_batch b = ts->queued;
    batch_clear(&ts->queued);
    sync_batch(&b, ts->dir_path);
    int err = ts->finish_err ? ts->finish_err : b.err;
    free(ts->dir_path);
    ts->dir_path = NULL;
    return -err;
}
