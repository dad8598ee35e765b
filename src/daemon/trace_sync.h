/* trace_sync: the recorder's fsyncs, kept off the daemon's loop.
 *
 * Contract:
 * - A request names a file descriptor to fsync (taken: closed once synced, or dropped unsynced
 *   when the file it belongs to has been replaced since, see below) and whether the trace's
 *   directory is fsynced after it (a rename, a new file).
 * - Without a loop (start-up, a program without one) a request runs at once, on the caller's
 *   thread, and returns the first fsync error as a negative errno.
 * - With a loop (trace_sync_use_loop) it runs on a worker thread and the request returns 0 at once;
 *   a request made while one runs waits for it (at most one running and one waiting, merged), and
 *   a failed file fsync is reported to the failure callback from the loop. EINVAL (a file system
 *   without fsync) is not a failure; a directory's fsync is best effort.
 * - Each descriptor carries its file's generation (the recorder counts rotations): the trace keeps
 *   generations g (FILE) and g - 1 (FILE.1); a waiting descriptor of an older generation belongs
 *   to a file that a rotation has since deleted and is closed without a sync.
 * - trace_sync_finish waits for what runs, syncs what waits on the caller's thread and stops the
 *   worker (for closing the trace: the close guarantee is a completed sync).
 * Functions return 0 or a negative errno. */
#ifndef LYNX_TRACE_SYNC_H
#define LYNX_TRACE_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/mainloop.h"

#define TRACE_SYNC_FDS 2 /* FILE and FILE.1 */

typedef void (*trace_sync_failed_fn)(void *user, int err);

/* One batch of syncs: the files, then maybe the directory. */
struct trace_sync_batch {
    int fd[TRACE_SYNC_FDS]; /* -1: none */
    uint64_t generation[TRACE_SYNC_FDS];
    bool dir;
    int err; /* the job's result: the first file fsync error (positive errno), or 0 */
};

struct trace_sync {
    char *dir_path;
    struct worker *worker; /* NULL: requests run on the caller's thread */
    struct mainloop_fd_watch *watch;
    bool running;                   /* `run` is on the worker */
    struct trace_sync_batch run;    /* being synced */
    struct trace_sync_batch queued; /* asked for while `run` ran */
    trace_sync_failed_fn failed;
    void *user;
    int finish_err; /* an error while finishing (failed is then NULL) */
};

/* dir_path: the trace's directory (copied). */
int trace_sync_init(struct trace_sync *ts, const char *dir_path, trace_sync_failed_fn failed,
                    void *user);
/* From now on requests run on a worker thread, its completions dispatched by loop. */
int trace_sync_use_loop(struct trace_sync *ts, struct mainloop *loop);
/* fd (taken; -1 for the directory alone) belongs to the file of this generation. */
int trace_sync_request(struct trace_sync *ts, int fd, uint64_t generation, bool dir);
/* A sync is running or waiting. */
bool trace_sync_busy(const struct trace_sync *ts);
/* Waits for the running sync, syncs what waits, stops the worker and frees everything: the first
 * file fsync error as a negative errno, or 0. */
int trace_sync_finish(struct trace_sync *ts);

#endif
