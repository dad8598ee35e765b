/* mainloop: timers fire in deadline order, fd watches see data, caught signals end the loop, and
 * an idle loop blocks in poll instead of spinning (asserted by counting iterations, not time). */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mainloop.h"

static struct mainloop *loop;

static void setup(void)
{
    cr_assert_eq(mainloop_new(&loop), 0);
}

static void teardown(void)
{
    mainloop_free(loop);
}

TestSuite(mainloop, .init = setup, .fini = teardown, .timeout = 20);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fire_log {
    int order[8];
    int count;
};

struct tagged {
    struct fire_log *log;
    int tag;
};

static void record_tag(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (void)t;
    struct tagged *tg = user;
    tg->log->order[tg->log->count++] = tg->tag;
}

static void quit_loop(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)t;
    (void)user;
    mainloop_quit(l);
}

Test(mainloop, one_shot_timers_fire_in_deadline_order_not_creation_order)
{
    struct fire_log log = {0};
    struct tagged t30 = {&log, 30}, t10 = {&log, 10}, t20 = {&log, 20}, t0 = {&log, 0};
    cr_assert_eq(mainloop_add_timer(loop, 30, false, record_tag, &t30, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 10, false, record_tag, &t10, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 20, false, record_tag, &t20, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 0, false, record_tag, &t0, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 40, false, quit_loop, NULL, NULL), 0);

    cr_assert_eq(mainloop_run(loop), 0);

    cr_assert_eq(log.count, 4);
    cr_assert_eq(log.order[0], 0);
    cr_assert_eq(log.order[1], 10);
    cr_assert_eq(log.order[2], 20);
    cr_assert_eq(log.order[3], 30);
}

Test(mainloop, one_shot_timer_fires_once_and_can_be_rearmed)
{
    struct fire_log log = {0};
    struct tagged tag = {&log, 1};
    struct mainloop_timer *once;
    cr_assert_eq(mainloop_add_timer(loop, 5, false, record_tag, &tag, &once), 0);
    cr_assert_eq(mainloop_add_timer(loop, 30, false, quit_loop, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(log.count, 1);
    cr_assert_not(mainloop_timer_armed(once));

    cr_assert_eq(mainloop_timer_arm(once, 5), 0);
    struct mainloop_timer *quit;
    cr_assert_eq(mainloop_add_timer(loop, 30, false, quit_loop, NULL, &quit), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(log.count, 2);
}

struct ticks {
    int count;
    int64_t first_ms, last_ms;
};

static void count_tick(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (void)t;
    struct ticks *ticks = user;
    ticks->last_ms = now_ms();
    ticks->count++;
}

Test(mainloop, periodic_timer_ticks_at_its_interval_without_bursts)
{
    struct ticks ticks = {0};
    int64_t start = now_ms();
    cr_assert_eq(mainloop_add_timer(loop, 10, true, count_tick, &ticks, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 105, false, quit_loop, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    int64_t elapsed = now_ms() - start;

    /* Never more ticks than intervals elapsed; on a loaded machine possibly fewer. */
    cr_assert_leq(ticks.count, elapsed / 10, "%d ticks in %lld ms", ticks.count,
                  (long long)elapsed);
    cr_assert_geq(ticks.count, 5, "%d ticks in %lld ms", ticks.count, (long long)elapsed);
}

Test(mainloop, periodic_timer_with_zero_interval_is_refused)
{
    cr_assert_eq(mainloop_add_timer(loop, 0, true, count_tick, NULL, NULL), -EINVAL);
}

static void remove_self(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (*(int *)user)++;
    mainloop_remove_timer(t);
}

Test(mainloop, periodic_timer_removing_itself_in_its_callback_stops)
{
    int calls = 0;
    cr_assert_eq(mainloop_add_timer(loop, 2, true, remove_self, &calls, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 30, false, quit_loop, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(calls, 1);
}

struct pipe_reader {
    char buf[32];
    size_t len;
    struct mainloop_fd_watch *other; /* removed by the first callback */
    int other_calls;
};

static void read_pipe(struct mainloop *l, struct mainloop_fd_watch *w, int fd, short revents,
                      void *user)
{
    (void)w;
    struct pipe_reader *r = user;
    cr_assert(revents & POLLIN);
    ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
    cr_assert_gt(n, 0);
    r->len += (size_t)n;
    if (r->other) {
        mainloop_remove_fd(r->other);
        r->other = NULL;
    }
    mainloop_quit(l);
}

static void count_other(struct mainloop *l, struct mainloop_fd_watch *w, int fd, short revents,
                        void *user)
{
    (void)l;
    (void)w;
    (void)fd;
    (void)revents;
    ((struct pipe_reader *)user)->other_calls++;
}

static void write_hello(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (void)t;
    cr_assert_eq(write(*(int *)user, "hello", 5), 5);
}

Test(mainloop, fd_watch_receives_data_written_later_by_a_timer)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct pipe_reader reader = {0};
    cr_assert_eq(mainloop_add_fd(loop, fds[0], POLLIN, read_pipe, &reader, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 20, false, write_hello, &fds[1], NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_str_eq(reader.buf, "hello");
    close(fds[0]);
    close(fds[1]);
}

Test(mainloop, watch_removed_by_an_earlier_callback_is_not_called_in_the_same_iteration)
{
    int a[2], b[2];
    cr_assert_eq(pipe(a), 0);
    cr_assert_eq(pipe(b), 0);
    struct pipe_reader reader = {0};
    cr_assert_eq(mainloop_add_fd(loop, a[0], POLLIN, read_pipe, &reader, NULL), 0);
    cr_assert_eq(mainloop_add_fd(loop, b[0], POLLIN, count_other, &reader, &reader.other), 0);
    cr_assert_eq(write(a[1], "x", 1), 1);
    cr_assert_eq(write(b[1], "y", 1), 1);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(reader.other_calls, 0);
    cr_assert_null(reader.other);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}

Test(mainloop, fd_watch_with_no_events_is_not_polled)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct pipe_reader reader = {0};
    struct mainloop_fd_watch *w;
    cr_assert_eq(mainloop_add_fd(loop, fds[0], POLLIN, count_other, &reader, &w), 0);
    mainloop_fd_set_events(w, 0);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    cr_assert_eq(mainloop_add_timer(loop, 20, false, quit_loop, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(reader.other_calls, 0);

    mainloop_fd_set_events(w, POLLIN);
    cr_assert_eq(mainloop_iterate(loop, false), 0);
    cr_assert_eq(reader.other_calls, 1);
    close(fds[0]);
    close(fds[1]);
}

static void raise_sigterm(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (void)t;
    (void)user;
    raise(SIGTERM);
}

Test(mainloop, sigterm_from_a_callback_ends_run_and_is_reported)
{
    const int signals[] = {SIGTERM, SIGINT};
    cr_assert_eq(mainloop_catch_signals(loop, signals, 2), 0);
    cr_assert_eq(mainloop_add_timer(loop, 5, false, raise_sigterm, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(mainloop_quit_signal(loop), SIGTERM);
}

Test(mainloop, sigint_arriving_while_blocked_in_poll_ends_run)
{
    const int signals[] = {SIGTERM, SIGINT};
    cr_assert_eq(mainloop_catch_signals(loop, signals, 2), 0);
    pid_t parent = getpid();
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        usleep(50 * 1000);
        kill(parent, SIGINT);
        _exit(0);
    }
    /* No timer at all: poll would block forever unless the signal wakes the loop. */
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert_eq(mainloop_quit_signal(loop), SIGINT);
    cr_assert_leq(mainloop_iterations(loop), 3);
    waitpid(child, NULL, 0);
}

Test(mainloop, second_loop_cannot_catch_signals_while_the_first_does)
{
    const int signals[] = {SIGTERM};
    struct mainloop *other;
    cr_assert_eq(mainloop_catch_signals(loop, signals, 1), 0);
    cr_assert_eq(mainloop_new(&other), 0);
    cr_assert_eq(mainloop_catch_signals(other, signals, 1), -EBUSY);
    mainloop_free(other);
}

Test(mainloop, freeing_the_loop_restores_the_previous_signal_handler)
{
    const int signals[] = {SIGTERM};
    struct sigaction before, after;
    sigaction(SIGTERM, NULL, &before);
    struct mainloop *other;
    mainloop_free(loop);
    cr_assert_eq(mainloop_new(&other), 0);
    cr_assert_eq(mainloop_catch_signals(other, signals, 1), 0);
    mainloop_free(other);
    sigaction(SIGTERM, NULL, &after);
    cr_assert_eq(after.sa_handler, before.sa_handler);
    cr_assert_eq(mainloop_new(&loop), 0); /* for teardown */
}

Test(mainloop, idle_wait_of_200_ms_takes_a_handful_of_iterations_not_a_busy_loop)
{
    struct ticks ticks = {0};
    cr_assert_eq(mainloop_add_timer(loop, 50, true, count_tick, &ticks, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 200, false, quit_loop, NULL, NULL), 0);
    uint64_t before = mainloop_iterations(loop);
    cr_assert_eq(mainloop_run(loop), 0);
    uint64_t iterations = mainloop_iterations(loop) - before;
    /* One wakeup per expiry (4 ticks + quit, some coinciding) and nothing in between. */
    cr_assert_leq(iterations, 6, "%llu iterations for 200 ms", (unsigned long long)iterations);
    cr_assert_geq(ticks.count, 3);
}
