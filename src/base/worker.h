/* worker: one thread that runs a call that may block (an ioctl that waits for an I2C bus, a
 * libusb_clear_halt, an fsync) off the daemon's loop, one job at a time, and wakes the loop
 * through an eventfd when it has finished.
 *
 * A job runs on the worker's thread; its done runs on the owner's thread, from worker_dispatch
 * (when worker_fd polls readable) or worker_wait. The owner keeps the job's data alive until done
 * runs. The thread blocks every signal, so the loop's signal handling is unchanged.
 *
 * Freeing never waits for a job: a job stuck in the kernel (a USB bridge that never answers holds
 * an ioctl for seconds) must not hold up the loop that frees its adapter. The job's done is then
 * never called; release(arg) runs on the worker's thread once the job has returned, and the
 * thread ends and frees the worker itself. */
#ifndef LYNX_WORKER_H
#define LYNX_WORKER_H

#include <stdbool.h>

struct worker;
typedef void (*worker_fn)(void *arg);

/* Starts the thread. 0, or a negative errno (*out NULL). */
int worker_new(struct worker **out);
/* Readable (POLLIN) when a job has finished and its done has not run yet. */
int worker_fd(const struct worker *w);
/* Runs job(arg) on the worker's thread, then done(arg) (may be NULL) from worker_dispatch or
 * worker_wait. 0, or -EBUSY while another job's done has not run. */
int worker_submit(struct worker *w, worker_fn job, worker_fn done, void *arg);
/* A job submitted whose done has not run. */
bool worker_busy(const struct worker *w);
/* Never blocks: runs the done of a finished job, if there is one. */
void worker_dispatch(struct worker *w);
/* Blocks until the job (if any) has finished, then dispatches: for a program without a loop. */
void worker_wait(struct worker *w);
/* Stops the worker (NULL: nothing). release(arg) (may be NULL) runs on the worker's thread after
 * the job in flight, or before this returns when none is. */
void worker_free(struct worker *w, worker_fn release, void *arg);

#endif
