/* signals: asynchronous signals turned into events of the daemon's poll() loop.
 *
 * The signals are blocked and read from a signalfd watched by the mainloop, so their handler runs
 * inside the loop like any other callback (it may log, read files, touch D-Bus) and a signal that
 * arrives while another is handled waits its turn instead of interrupting it. A blocked signal
 * sent before signals_watch would still kill the process: call it right after mainloop_new.
 * SIGTERM/SIGINT stay with mainloop_catch_signals (they end the loop).
 * Functions return 0 or a negative errno. */
#ifndef LYNX_SIGNALS_H
#define LYNX_SIGNALS_H

#include "base/mainloop.h"

struct signals;

typedef void (*signals_fn)(int signo, void *user);

/* Delivers each of the count signals to fn, once per signal received (several of the same kind
 * received before the loop reads them may arrive as one, as with any standard signal). */
int signals_watch(struct mainloop *loop, const int *signals, unsigned count, signals_fn fn,
                  void *user, struct signals **out);
/* Stops watching and unblocks the signals (their default action applies again). NULL is fine. */
void signals_free(struct signals *s);

#endif
