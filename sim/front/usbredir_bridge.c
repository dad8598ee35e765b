/* The usbredir bridge (see usbredir_bridge.h for the contract): the listening sockets, the
 * thread that polls them, the connections and the models' wake times, and plug / unplug. A
 * connection's packets are usbredir_conn.c's and usbredir_device.c's.
 *
 * The thread holds the hardware lock except while it waits in ppoll; plug and unplug (from the
 * runner's thread) take the lock, send what they must on the connection, and wake the thread
 * through a pipe so that it polls for the new state. */
#include "front/usbredir_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "front/usbredir_conn.h"
#include "front/usbredir_device.h"

#define LISTEN_BACKLOG 4

struct sim_usbredir_bridge {
    pthread_mutex_t *lock;
    char *dir;
    bool made_dir;
    struct sim_usbredir_device *devices[SIM_USBREDIR_MAX_DEVICES];
    size_t count; /* changed with the lock held */
    int wake[2];  /* a byte written to wake[1] ends the thread's wait */
    pthread_t thread;
    bool stop;
};

static void wake_thread(struct sim_usbredir_bridge *br)
{
    const char byte = 1;
    if (write(br->wake[1], &byte, 1) < 0 && errno != EAGAIN)
        perror("lynx-sim: usbredir: wake");
}

static void drain_wake(struct sim_usbredir_bridge *br)
{
    char buf[64];
    while (read(br->wake[0], buf, sizeof(buf)) > 0)
        ;
}

static void accept_connection(struct sim_usbredir_device *d)
{
    const int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return; /* EAGAIN, or a client that went away before we took it */
    if (sim_usbredir_conn_open(d, fd) < 0)
        fprintf(stderr, "lynx-sim: usbredir %s: out of memory for a connection\n", d->path);
}

/* What one pollfd stands for. */
struct watched {
    struct sim_usbredir_device *d;
    int fd;
    bool listening;
};

/* Services every connection; fills the pollfds. Returns how many, *next the earliest wake. */
static size_t prepare(struct sim_usbredir_bridge *br, struct pollfd *fds, struct watched *who,
                      uint64_t *next)
{
    const uint64_t now = sim_usbredir_now_ns();
    size_t n = 1;
    fds[0] = (struct pollfd){.fd = br->wake[0], .events = POLLIN};
    *next = UINT64_MAX;
    for (size_t i = 0; i < br->count; i++) {
        struct sim_usbredir_device *d = br->devices[i];
        fds[n] = (struct pollfd){.fd = d->listen_fd, .events = POLLIN};
        who[n++] = (struct watched){d, d->listen_fd, true};
        if (d->fd < 0)
            continue;
        const uint64_t wake = sim_usbredir_device_service(d, now);
        *next = wake < *next ? wake : *next;
        fds[n] = (struct pollfd){
            .fd = d->fd,
            .events = (short)(POLLIN | (sim_usbredir_conn_wants_write(d) ? POLLOUT : 0))};
        who[n++] = (struct watched){d, d->fd, false};
    }
    return n;
}

static void dispatch(struct pollfd *fds, const struct watched *who, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct sim_usbredir_device *d = who[i].d;
        if (!fds[i].revents)
            continue;
        if (who[i].listening) {
            accept_connection(d);
        } else if (d->fd == who[i].fd) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && sim_usbredir_conn_read(d) < 0)
                sim_usbredir_conn_close(d);
            else if (fds[i].revents & POLLOUT)
                sim_usbredir_device_flush(d);
            if (d->dead)
                sim_usbredir_conn_close(d);
        }
    }
}

static void *bridge_thread(void *arg)
{
    struct sim_usbredir_bridge *br = arg;
    struct pollfd fds[1 + 2 * SIM_USBREDIR_MAX_DEVICES];
    struct watched who[1 + 2 * SIM_USBREDIR_MAX_DEVICES];

    pthread_mutex_lock(br->lock);
    while (!br->stop) {
        uint64_t next;
        const size_t n = prepare(br, fds, who, &next);
        const uint64_t now = sim_usbredir_now_ns();
        const uint64_t wait = next == UINT64_MAX ? 0 : next > now ? next - now : 0;
        const struct timespec timeout = {.tv_sec = (time_t)(wait / 1000000000ull),
                                         .tv_nsec = (long)(wait % 1000000000ull)};
        pthread_mutex_unlock(br->lock);
        const int ready = ppoll(fds, n, next == UINT64_MAX ? NULL : &timeout, NULL);
        pthread_mutex_lock(br->lock);
        if (ready < 0 && errno != EINTR) {
            perror("lynx-sim: usbredir: poll");
            break;
        }
        if (ready <= 0)
            continue;
        if (fds[0].revents)
            drain_wake(br);
        dispatch(fds, who, n);
    }
    pthread_mutex_unlock(br->lock);
    return NULL;
}

static void free_bridge(struct sim_usbredir_bridge *br)
{
    if (br->made_dir)
        rmdir(br->dir);
    if (br->wake[0] >= 0) {
        close(br->wake[0]);
        close(br->wake[1]);
    }
    free(br->dir);
    free(br);
}

/* DIR exists afterwards (made here when it did not). Returns 0 or an errno. */
static int make_dir(struct sim_usbredir_bridge *br)
{
    struct stat st;
    if (mkdir(br->dir, 0700) == 0) {
        br->made_dir = true;
        return 0;
    }
    if (errno != EEXIST)
        return errno;
    return stat(br->dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

struct sim_usbredir_bridge *sim_usbredir_bridge_new(const char *dir, pthread_mutex_t *lock,
                                                    char *err, size_t errlen)
{
    struct sim_usbredir_bridge *br = calloc(1, sizeof(*br));
    if (!br || !(br->dir = strdup(dir))) {
        snprintf(err, errlen, "out of memory");
        free(br);
        return NULL;
    }
    br->lock = lock;
    br->wake[0] = br->wake[1] = -1;
    int rc = make_dir(br);
    if (rc != 0)
        snprintf(err, errlen, "--usbredir %s: %s", dir, strerror(rc));
    else if (pipe2(br->wake, O_NONBLOCK | O_CLOEXEC) < 0)
        snprintf(err, errlen, "usbredir: pipe: %s", strerror(rc = errno));
    else if ((rc = pthread_create(&br->thread, NULL, bridge_thread, br)) != 0)
        snprintf(err, errlen, "usbredir: thread: %s", strerror(rc));
    if (rc == 0)
        return br;
    free_bridge(br);
    return NULL;
}

void sim_usbredir_bridge_free(struct sim_usbredir_bridge *br)
{
    if (!br)
        return;
    pthread_mutex_lock(br->lock);
    br->stop = true;
    pthread_mutex_unlock(br->lock);
    wake_thread(br);
    pthread_join(br->thread, NULL);

    for (size_t i = 0; i < br->count; i++) {
        struct sim_usbredir_device *d = br->devices[i];
        sim_usbredir_conn_close(d);
        close(d->listen_fd);
        unlink(d->path);
        free(d->scratch);
        free(d);
    }
    free_bridge(br);
}

/* A listening socket at path; a stale socket file there (a simulator that is gone) is replaced,
 * anything else is not. Returns the fd or -errno. */
static int listen_at(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    if (strlen(path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);

    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        const int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static struct sim_usbredir_device *find_locked(struct sim_usbredir_bridge *br, const void *dev)
{
    for (size_t i = 0; i < br->count; i++)
        if (br->devices[i]->model.dev == dev)
            return br->devices[i];
    return NULL;
}

static struct sim_usbredir_device *new_device(const struct sim_usb_model *model, bool plugged,
                                              char *err, size_t errlen)
{
    struct sim_usbredir_device *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->model = *model;
    d->plugged = plugged;
    d->fd = d->listen_fd = -1;
    d->trace = getenv("LYNX_SIM_USBREDIR_TRACE") != NULL;
    if (sim_usbredir_desc_from_model(model, &d->desc) < 0) {
        snprintf(err, errlen, "usbredir: the device model's descriptors do not parse");
        free(d);
        return NULL;
    }
    return d;
}

int sim_usbredir_bridge_add(struct sim_usbredir_bridge *br, const struct sim_usb_model *model,
                            bool plugged, char *err, size_t errlen)
{
    pthread_mutex_lock(br->lock);
    const size_t n = br->count;
    int rc = n == SIM_USBREDIR_MAX_DEVICES ? -ENOSPC : find_locked(br, model->dev) ? -EEXIST : 0;
    struct sim_usbredir_device *d = rc == 0 ? new_device(model, plugged, err, errlen) : NULL;
    pthread_mutex_unlock(br->lock);
    if (rc < 0) {
        snprintf(err, errlen, "usbredir: cannot add a device: %s", strerror(-rc));
        return rc;
    }
    if (!d)
        return -EINVAL;

    snprintf(d->path, sizeof(d->path), "%s/usb%zu.sock", br->dir, n);
    if (strlen(br->dir) + 16 > sizeof(d->path))
        rc = -ENAMETOOLONG;
    else
        rc = d->listen_fd = listen_at(d->path);
    if (rc < 0) {
        snprintf(err, errlen, "usbredir: %s/usb%zu.sock: %s", br->dir, n, strerror(-rc));
        free(d);
        return rc;
    }
    pthread_mutex_lock(br->lock);
    br->devices[br->count++] = d;
    pthread_mutex_unlock(br->lock);
    wake_thread(br); /* poll the new socket */
    return (int)n;
}

size_t sim_usbredir_bridge_count(const struct sim_usbredir_bridge *br)
{
    return br->count;
}

const char *sim_usbredir_bridge_socket(const struct sim_usbredir_bridge *br, size_t n)
{
    return n < br->count ? br->devices[n]->path : NULL;
}

int sim_usbredir_bridge_plug(struct sim_usbredir_bridge *br, const void *dev)
{
    pthread_mutex_lock(br->lock);
    struct sim_usbredir_device *d = find_locked(br, dev);
    const int rc = !d ? -ENOENT : d->plugged ? -EALREADY : 0;
    if (rc == 0) {
        d->plugged = true;
        d->unplug_armed = false;
        if (d->model.ops->power_on)
            d->model.ops->power_on(d->model.dev, sim_usbredir_now_ns());
        sim_usbredir_device_connect(d); /* or at QEMU's next hello */
    }
    pthread_mutex_unlock(br->lock);
    wake_thread(br);
    return rc;
}

int sim_usbredir_bridge_unplug(struct sim_usbredir_bridge *br, const void *dev)
{
    pthread_mutex_lock(br->lock);
    struct sim_usbredir_device *d = find_locked(br, dev);
    const int rc = !d ? -ENOENT : !d->plugged ? -EALREADY : 0;
    if (rc == 0) {
        d->plugged = false;
        d->unplug_armed = false;
        sim_usbredir_device_disconnect(d);
    }
    pthread_mutex_unlock(br->lock);
    wake_thread(br);
    return rc;
}

bool sim_usbredir_bridge_plugged(struct sim_usbredir_bridge *br, const void *dev)
{
    pthread_mutex_lock(br->lock);
    const struct sim_usbredir_device *d = find_locked(br, dev);
    const bool plugged = d && d->plugged;
    pthread_mutex_unlock(br->lock);
    return plugged;
}

int sim_usbredir_bridge_unplug_mid_transfer(struct sim_usbredir_bridge *br, const void *dev)
{
    pthread_mutex_lock(br->lock);
    struct sim_usbredir_device *d = find_locked(br, dev);
    const int rc = !d ? -ENOENT : !d->plugged ? -ENODEV : 0;
    if (rc == 0)
        d->unplug_armed = true;
    pthread_mutex_unlock(br->lock);
    return rc;
}

int sim_usbredir_bridge_stats_locked(struct sim_usbredir_bridge *br, const void *dev,
                                     struct sim_usbredir_stats *out)
{
    const struct sim_usbredir_device *d = find_locked(br, dev);
    if (!d)
        return -ENOENT;
    *out = d->stats;
    return 0;
}
