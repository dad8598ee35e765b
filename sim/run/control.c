/* The control channel (see control.h for the contract): the socket, its clients' line buffers,
 * and the answers, driven by the owner's poll() loop. */
#include "run/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS  (SIM_CONTROL_MAX_FDS - 1)
#define LINE_MAX_LEN 512

struct control_client {
    int fd; /* -1 = free slot */
    size_t len;
    bool too_long; /* the line in progress went past LINE_MAX_LEN: refused at its end */
    char line[LINE_MAX_LEN];
};

struct sim_control {
    int listen_fd;
    char path[108];
    sim_control_handler handler;
    void *ctx;
    struct control_client clients[MAX_CLIENTS];
};

/* Only a stale socket (a file of type socket nobody listens on) may be replaced: a wrong --control
 * must never delete a user's file, nor take the socket of a running simulator. Returns 0 (path
 * free now) or an errno with err set. */
static int clear_stale_socket(const struct sockaddr_un *addr, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(addr->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : errno;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control socket %s: exists and is not a socket; not replacing it",
                 addr->sun_path);
        return EEXIST;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return errno;
    int live = connect(probe, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
    int why = errno;
    close(probe);
    if (live || why != ECONNREFUSED) {
        snprintf(err, errlen, "control socket %s: %s", addr->sun_path,
                 live ? "another process listens on it" : strerror(why));
        return EADDRINUSE;
    }
    unlink(addr->sun_path);
    return 0;
}

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

    int rc = clear_stale_socket(&addr, err, errlen);
    if (rc == EEXIST || rc == EADDRINUSE) {
        free(ctl);
        return NULL;
    }
    ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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
    c->too_long = false;
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

/* The handler's answer, collected in memory. Not open_memstream: under ASan, the umockdev
 * preload (ahead of the ASan runtime in the child's LD_PRELOAD) wraps fclose and reaches libc's
 * fclose without ASan's interceptor, so ASan never forgets the memstream it registered; when the
 * allocator hands the same FILE address to a later open_memstream, ASan's interceptor aborts
 * (its check that the address is new fails). A cookie stream has no such registration. */
struct answer {
    char *text;
    size_t len, cap;
    bool failed;
};

static ssize_t answer_write(void *cookie, const char *buf, size_t size)
{
    struct answer *a = cookie;
    if (a->len + size > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap < a->len + size)
            cap *= 2;
        char *grown = realloc(a->text, cap);
        if (!grown) {
            a->failed = true;
            return -1;
        }
        a->text = grown;
        a->cap = cap;
    }
    memcpy(a->text + a->len, buf, size);
    a->len += size;
    return (ssize_t)size;
}

static void run_line(struct sim_control *ctl, struct control_client *c)
{
    struct answer a = {0};
    FILE *out = fopencookie(&a, "w", (cookie_io_functions_t){.write = answer_write});
    if (!out) {
        reply(c->fd, false, "out of memory", 13);
        return;
    }
    bool ok = ctl->handler(ctl->ctx, c->line, out);
    fclose(out);
    if (a.failed)
        reply(c->fd, false, "out of memory", 13);
    else
        reply(c->fd, ok, a.text ? a.text : "", a.len);
    free(a.text);
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
            else
                c->too_long = true;
            continue;
        }
        c->line[c->len] = '\0';
        c->len = 0;
        if (c->too_long) {
            /* a cut line could still parse (a shorter count, fewer script answers): refuse it */
            static const char msg[] = "line too long (at most 511 characters)";
            c->too_long = false;
            reply(c->fd, false, msg, sizeof(msg) - 1);
            continue;
        }
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
