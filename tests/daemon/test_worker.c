/* worker: a job runs on another thread and its done on the caller's, from dispatch once the fd
 * polls readable; one job at a time; freeing never waits for a job that is stuck, and release
 * runs after it. Each "stuck" job blocks on a pipe that the test controls, so nothing here
 * depends on timing. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "base/worker.h"

struct job_data {
    pthread_t job_thread, done_thread;
    int gate[2];     /* the job reads one byte from gate[0] before it returns (when gated) */
    int released[2]; /* release writes one byte here */
    bool gated;
    int jobs, dones, releases;
    bool signals_blocked;
};

static void job(void *arg)
{
    struct job_data *d = arg;
    d->job_thread = pthread_self();
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    d->signals_blocked = sigismember(&mask, SIGTERM) && sigismember(&mask, SIGHUP);
    if (d->gated) {
        char c;
        cr_assert_eq(read(d->gate[0], &c, 1), 1);
    }
    d->jobs++;
}

static void done(void *arg)
{
    struct job_data *d = arg;
    d->done_thread = pthread_self();
    d->dones++;
}

static void release(void *arg)
{
    struct job_data *d = arg;
    d->releases++;
    cr_assert_eq(write(d->released[1], "r", 1), 1);
}

static void open_pipes(struct job_data *d)
{
    cr_assert_eq(pipe(d->gate), 0);
    cr_assert_eq(pipe(d->released), 0);
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

Test(worker, job_on_its_thread_done_on_the_callers_after_the_fd_rings)
{
    struct worker *w;
    cr_assert_eq(worker_new(&w), 0);
    struct job_data d = {0};
    cr_assert_not(readable(worker_fd(w), 0));
    cr_assert_eq(worker_submit(w, job, done, &d), 0);
    cr_assert(worker_busy(w));
    cr_assert(readable(worker_fd(w), 30000), "the fd rings when the job has finished");
    cr_assert_eq(d.dones, 0, "done waits for dispatch");
    worker_dispatch(w);
    cr_assert_eq(d.jobs, 1);
    cr_assert_eq(d.dones, 1);
    cr_assert_not(pthread_equal(d.job_thread, pthread_self()));
    cr_assert(pthread_equal(d.done_thread, pthread_self()));
    cr_assert(d.signals_blocked, "the worker's thread leaves signals to the loop");
    cr_assert_not(worker_busy(w));
    cr_assert_not(readable(worker_fd(w), 0), "dispatch empties the doorbell");
    worker_dispatch(w); /* nothing finished: nothing runs */
    cr_assert_eq(d.dones, 1);
    worker_free(w, NULL, NULL);
}

Test(worker, one_job_at_a_time_until_its_done_ran)
{
    struct worker *w;
    cr_assert_eq(worker_new(&w), 0);
    struct job_data d = {.gated = true};
    open_pipes(&d);
    cr_assert_eq(worker_submit(w, job, done, &d), 0);
    cr_assert_eq(worker_submit(w, job, done, &d), -EBUSY, "while running");
    cr_assert_eq(write(d.gate[1], "g", 1), 1);
    cr_assert(readable(worker_fd(w), 30000));
    cr_assert_eq(worker_submit(w, job, done, &d), -EBUSY, "finished, its done not run yet");
    worker_dispatch(w);
    d.gated = false;
    cr_assert_eq(worker_submit(w, job, done, &d), 0);
    worker_wait(w);
    cr_assert_eq(d.jobs, 2);
    cr_assert_eq(d.dones, 2);
    worker_free(w, NULL, NULL);
}

Test(worker, free_does_not_wait_for_a_stuck_job_and_releases_after_it)
{
    struct worker *w;
    cr_assert_eq(worker_new(&w), 0);
    struct job_data d = {.gated = true};
    open_pipes(&d);
    cr_assert_eq(worker_submit(w, job, done, &d), 0);
    /* The job cannot return before the gate opens: free must return first. */
    worker_free(w, release, &d);
    cr_assert_eq(d.releases, 0, "release waits for the job");
    cr_assert_not(readable(d.released[0], 0));
    cr_assert_eq(write(d.gate[1], "g", 1), 1);
    cr_assert(readable(d.released[0], 30000), "release runs once the job returned");
    cr_assert_eq(d.jobs, 1);
    cr_assert_eq(d.releases, 1);
    cr_assert_eq(d.dones, 0, "a freed worker's done never runs");
}

Test(worker, free_when_idle_releases_before_it_returns)
{
    struct worker *w;
    cr_assert_eq(worker_new(&w), 0);
    struct job_data d = {0};
    open_pipes(&d);
    cr_assert_eq(worker_submit(w, job, done, &d), 0);
    worker_wait(w);
    worker_free(w, release, &d);
    cr_assert_eq(d.releases, 1);
    worker_free(NULL, release, &d); /* harmless */
    cr_assert_eq(d.releases, 1);
}
