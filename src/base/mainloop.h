/* mainloop: the daemon's single-threaded poll() event loop.
 *
 * Contract:
 * - fd watches (POLLIN/POLLOUT) and monotonic timers (one-shot or periodic) share one poll(); poll
 *   blocks until the earliest armed timer or an fd event, so an idle loop costs one wakeup per
 *   timer expiry and nothing else.
 * - Watches and timers are owned by the caller: create, then remove exactly once (or leave them to
 *   mainloop_free). Removing any watch or timer, including the one whose callback is running, is
 *   safe from inside a callback; a removed watch or timer is never called again.
 * - Timers due in the same iteration fire in deadline order (creation order on ties), each at most
 *   once per iteration. A periodic timer keeps its phase; if the loop fell behind it skips missed
 *   ticks instead of firing a burst.
 * - mainloop_catch_signals installs async-signal-safe handlers (self-pipe) that make mainloop_run
 *   return; mainloop_quit_signal tells which signal did it.
 * - Sources are work queued outside poll() (e.g. the messages a libdbus connection has read):
 *   every source's dispatch runs at the start of each iteration and again after its fd and timer
 *   callbacks, newest source first; while a source is marked pending, poll does not block. Its
 *   handlers therefore run inside the loop, never inside the I/O calls that queued the work.
 * Functions return 0 or a negative errno.
 */
#ifndef LYNX_MAINLOOP_H
#define LYNX_MAINLOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct mainloop;
struct mainloop_fd_watch;
struct mainloop_timer;
struct mainloop_source;

/* revents as returned by poll(); POLLERR/POLLHUP/POLLNVAL are reported even when not asked for. */
typedef void (*mainloop_fd_fn)(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                               short revents, void *user);
typedef void (*mainloop_timer_fn)(struct mainloop *loop, struct mainloop_timer *timer, void *user);
typedef void (*mainloop_source_fn)(struct mainloop *loop, struct mainloop_source *source,
                                   void *user);

int mainloop_new(struct mainloop **out);
/* Removes the remaining sources (calling their detach), frees remaining watches and timers,
 * restores signal handlers. */
void mainloop_free(struct mainloop *loop);

/* Runs until mainloop_quit or a caught signal; then returns 0 (negative errno if poll fails). */
int mainloop_run(struct mainloop *loop);
/* One iteration: poll (blocking only if may_block) and dispatch whatever is ready. */
int mainloop_iterate(struct mainloop *loop, bool may_block);
/* Makes mainloop_run return after the current iteration. Not for signal handlers. */
void mainloop_quit(struct mainloop *loop);
/* Number of poll() calls made so far. */
uint64_t mainloop_iterations(const struct mainloop *loop);

/* events: POLLIN and/or POLLOUT; 0 keeps the watch but stops polling its fd. */
int mainloop_add_fd(struct mainloop *loop, int fd, short events, mainloop_fd_fn fn, void *user,
                    struct mainloop_fd_watch **out);
void mainloop_fd_set_events(struct mainloop_fd_watch *watch, short events);
void mainloop_remove_fd(struct mainloop_fd_watch *watch);

/* Arms a timer interval_ms from now. A periodic timer needs interval_ms > 0; a one-shot timer with
 * interval 0 fires in the next iteration. A one-shot timer stays allocated (disarmed) after firing.
 */
int mainloop_add_timer(struct mainloop *loop, uint32_t interval_ms, bool periodic,
                       mainloop_timer_fn fn, void *user, struct mainloop_timer **out);
/* (Re)starts the countdown with a new interval; -EINVAL for a periodic timer with interval 0. */
int mainloop_timer_arm(struct mainloop_timer *timer, uint32_t interval_ms);
void mainloop_timer_disarm(struct mainloop_timer *timer);
bool mainloop_timer_armed(const struct mainloop_timer *timer);
void mainloop_remove_timer(struct mainloop_timer *timer);

/* Catches the given signals (e.g. SIGTERM, SIGINT): each makes mainloop_run return. Only one loop
 * per process may catch signals (-EBUSY otherwise). */
int mainloop_catch_signals(struct mainloop *loop, const int *signals, unsigned count);
/* The signal that ended the last mainloop_run, 0 if none. */
int mainloop_quit_signal(const struct mainloop *loop);

/* Adds a source: dispatch runs in every iteration (see above); detach (may be NULL) runs once when
 * the source is removed, by mainloop_remove_source or mainloop_free, before it is marked removed.
 */
int mainloop_add_source(struct mainloop *loop, mainloop_source_fn dispatch,
                        mainloop_source_fn detach, void *user, struct mainloop_source **out);
/* The source added with this dispatch function and user that is not removed, or NULL. */
struct mainloop_source *mainloop_find_source(struct mainloop *loop, mainloop_source_fn dispatch,
                                             const void *user);
/* A pending source keeps poll from blocking until it is marked not pending. */
void mainloop_source_set_pending(struct mainloop_source *source, bool pending);
/* False once the source is removed; a source removed from inside a callback stays readable until
 * the iteration ends, so its own dispatch can ask this to stop early. */
bool mainloop_source_active(const struct mainloop_source *source);
void mainloop_remove_source(struct mainloop_source *source);

#endif
