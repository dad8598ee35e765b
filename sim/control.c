#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS  (SIM_CONTROL_MAX_FDS - 1)
#define LINE_MAX_LEN 512

struct control_client {
    int fd; /* -1 = free slot */
    size_t len;
    char line[LINE_MAX_LEN];
};

struct sim_control {
    int listen_fd;
    char path[108];
    sim_control_handler handler;
    void *ctx;
    struct control_client clients[MAX_CLIENTS];
};

struct sim_control *sim_control_new(const char *path, sim_control_handler handler, void *ctx,
                                    char *err, size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "control socket path too long: %s", path);
        return NULL;
    }
    struct sim_control *ctl = calloc(1, sizeof(*ctl));
    if (!ctl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    strcpy(addr.sun_path, path);
    strcpy(ctl->path, path);
    ctl->handler = handler;
    ctl->ctx = ctx;
    for (int i = 0; i < MAX_CLIENTS; i++)
        ctl->clients[i].fd = -1;

    ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(path);
    if (ctl->listen_fd < 0 || bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(ctl->listen_fd, 4) < 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        if (ctl->listen_fd >= 0)
            close(ctl->listen_fd);
        free(ctl);
        return NULL;
    }
    return ctl;
}

static void drop_client(struct control_client *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

void sim_control_free(struct sim_control *ctl)
{
    if (!ctl)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (ctl->clients[i].fd >= 0)
            drop_client(&ctl->clients[i]);
    close(ctl->listen_fd);
    unlink(ctl->path);
    free(ctl);
}

size_t sim_control_pollfds(const struct sim_control *ctl, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (n < max)
        fds[n++] = (struct pollfd){.fd = ctl->listen_fd, .events = POLLIN};
    for (int i = 0; i < MAX_CLIENTS && n < max; i++)
        if (ctl->clients[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = ctl->clients[i].fd, .events = POLLIN};
    return n;
}

static void accept_client(struct sim_control *ctl)
{
    int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (ctl->clients[i].fd < 0) {
            ctl->clients[i].fd = fd;
            return;
        }
    static const char busy[] = "error: too many control clients\n\n";
    (void)!write(fd, busy, sizeof(busy) - 1);
    close(fd);
}

/* Replies are small; a client that does not read them loses them rather than stall the loop. */
static void reply(int fd, bool ok, const char *payload, size_t len)
{
    char head[] = "ok\n";
    if (ok)
        (void)!write(fd, head, 3);
    else
        (void)!write(fd, "error: ", 7);
    (void)!write(fd, payload, len);
    if (len && payload[len - 1] != '\n')
        (void)!write(fd, "\n", 1);
    (void)!write(fd, "\n", 1);
}

static void run_line(struct sim_control *ctl, struct control_client *c)
{
    char *payload = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&payload, &len);
    if (!out) {
        reply(c->fd, false, "out of memory", 13);
        return;
    }
    bool ok = ctl->handler(ctl->ctx, c->line, out);
    fclose(out);
    reply(c->fd, ok, payload, len);
    free(payload);
}

static void read_client(struct sim_control *ctl, struct control_client *c)
{
    char buf[256];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            drop_client(c);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (c->len < sizeof(c->line) - 1)
                c->line[c->len++] = buf[i];
            continue;
        }
        c->line[c->len] = '\0';
        c->len = 0;
        run_line(ctl, c);
    }
}

void sim_control_dispatch(struct sim_control *ctl, const struct pollfd *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == ctl->listen_fd) {
            accept_client(ctl);
            continue;
        }
        for (int k = 0; k < MAX_CLIENTS; k++)
            if (ctl->clients[k].fd == fds[i].fd)
                read_client(ctl, &ctl->clients[k]);
    }
}
