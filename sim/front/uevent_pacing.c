/* Uevent pacing, the second part of lynx-sim's preload (with dev_guard.c; ahead of umockdev's
 * libumockdev-preload in LD_PRELOAD): a uevent for a listener whose queue is full waits for room
 * instead of killing the sender.
 *
 * Why: umockdev 0.17.16 sends each uevent (uevent_sender.c, sendmsg_one) with a non-blocking
 * sendmsg on a fresh socket connected to every listener's $UMOCKDEV_DIR/eventN (a udev or
 * netlink monitor under the preload is a Unix datagram socket bound there), and abort()s on any
 * error. A Unix datagram queue takes one message more than net.unix.max_dgram_qlen (10 by
 * default), so a listener eleven uevents behind -- libusb's monitor in a client, the daemon's under
 * ASan on a loaded machine, a burst of replugs -- aborted lynx-sim ("uevent_sender sendmsg_one:
 * sendmsg failed: Resource temporarily unavailable"). The kernel never fails the sender of a
 * uevent: it drops what a full socket cannot take and tells the listener with ENOBUFS.
 *
 * So a send to a testbed listener that fails with EAGAIN waits until the listener's queue has
 * room (poll for POLLOUT on the connected socket, which reports the peer's queue), for up to
 * PACING_LIMIT_MS per uevent: a slow listener gets its events late, not lost. A listener stopped
 * for longer (SIGSTOP, a debugger) loses that uevent, as from the kernel but without the ENOBUFS
 * (the sender cannot reach the receiver's socket state), with one line on stderr. Every other
 * sendmsg goes through unchanged. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "front/preload_next.h"

#define EXPORT          __attribute__((visibility("default")))
#define PACING_LIMIT_MS 5000

/* True when fd is connected to a testbed listener's socket, $UMOCKDEV_DIR/event... (umockdev
 * connects, then sends with a msg_name whose length it leaves 0: the peer is what counts). */
static bool to_testbed_listener(int fd, char *peer, size_t size)
{
    const char *root = getenv("UMOCKDEV_DIR");
    struct sockaddr_un to;
    socklen_t len = sizeof(to);
    if (!root || getpeername(fd, (struct sockaddr *)&to, &len) < 0 || to.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path))
        return false;
    snprintf(peer, size, "%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)), to.sun_path);
    const size_t root_len = strlen(root);
    return strncmp(peer, root, root_len) == 0 && strncmp(peer + root_len, "/event", 6) == 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t message_length(const struct msghdr *msg)
{
    size_t len = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    return len;
}

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static _Atomic(void *) cache;
    const sendmsg_fn next = (sendmsg_fn)sim_preload_next(&cache, "sendmsg");
    if (!next)
        return -1;
    ssize_t sent = next(fd, msg, flags);
    if (sent >= 0 || errno != EAGAIN)
        return sent;
    char peer[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    if (!to_testbed_listener(fd, peer, sizeof(peer))) {
        errno = EAGAIN; /* the caller's, not getpeername's */
        return sent;
    }

    const long long deadline = now_ms() + PACING_LIMIT_MS;
    for (long long left = PACING_LIMIT_MS; left > 0; left = deadline - now_ms()) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        (void)poll(&pfd, 1, (int)(left < 50 ? left : 50));
        sent = next(fd, msg, flags);
        if (sent >= 0 || errno != EAGAIN)
            return sent;
    }
    fprintf(stderr,
            "lynx-sim: a uevent listener (%s) took none for %d ms: this uevent is dropped, as "
            "the kernel drops what a full netlink socket cannot take\n",
            peer, PACING_LIMIT_MS);
    return (ssize_t)message_length(msg);
}
