/* The control channel: a Unix stream socket that takes one command per line and answers each
 * with "ok" (optionally followed by payload lines) or "error: <why>", then an empty line. It
 * lets tests and people change the hardware while the command under test runs:
 *
 *   lynx-simctl fuse LYNX0001 A 2 open
 *   printf 'supply LYNX0001 A off\n' | nc -U "$LYNX_SIM_CONTROL"
 *
 * The server is driven by the owner's poll() loop and never blocks on a client. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Executes one command line; writes the payload (after "ok") to out, or returns false and
 * writes the reason to out. */
typedef bool (*sim_control_handler)(void *ctx, char *line, FILE *out);

struct sim_control;

/* Listen on path. A stale socket file there (nobody listening) is replaced; anything else (a
 * regular file, a live socket) is refused. Returns NULL with err set. A command line longer
 * than 511 characters is refused ("error: line too long"), never cut and run. */
struct sim_control *sim_control_new(const char *path, sim_control_handler handler, void *ctx,
                                    char *err, size_t errlen);
/* Closes every client and removes the socket file. */
void sim_control_free(struct sim_control *ctl);

#define SIM_CONTROL_MAX_FDS 9 /* the listener + clients */

/* Fill the descriptors to poll; returns how many. */
size_t sim_control_pollfds(const struct sim_control *ctl, struct pollfd *fds, size_t max);
/* Handle whatever poll() reported on those descriptors. */
void sim_control_dispatch(struct sim_control *ctl, const struct pollfd *fds, size_t n);

#endif
