/* lynx-simctl: sends one command to a running lynx-sim's control channel and prints the answer.
 *
 *   lynx-simctl [--socket PATH] COMMAND [ARG...]     (PATH defaults to $LYNX_SIM_CONTROL)
 *
 * PATH is lynx-sim's Unix socket, or a character device joined to it: in a tools/vm.sh guest, the
 * virtio-serial port QEMU connects to the host's socket. A socket gives each run a connection of
 * its own. A port is one stream for the whole guest, connected once: an earlier client killed
 * mid-command can have left half a line in it, or an answer nobody read. So on a device the
 * client first holds an exclusive lock on it (one command at a time), ends any half line, sends
 * "echo NONCE" and drops everything up to that answer, and only then sends the command.
 *
 * Exit status 0 when the simulator answered "ok", 1 on "error: ...", 2 when it cannot be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How long a device may take to answer: the round trip through a guest under TCG is well under a
 * second; this only bounds a channel nobody serves. */
#define DEVICE_ANSWER_MS 60000
#define ANSWER_MAX       65536

static int connect_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The stream of answers: each ends with an empty line ("\n\n"). */
struct reader {
    int fd;
    int timeout_ms; /* per read; -1 = none (a socket: the server is there or the read fails) */
    size_t len;
    char buf[ANSWER_MAX + 1]; /* + a terminating NUL */
};

/* Reads until buf holds an answer; returns its length including the "\n\n", 0 at end of stream
 * (or a full buffer), -1 (errno set) on error or timeout. */
static ssize_t read_answer(struct reader *r)
{
    for (;;) {
        char *end = r->len >= 2 ? memmem(r->buf, r->len, "\n\n", 2) : NULL;
        if (end)
            return end + 2 - r->buf;
        if (r->len == ANSWER_MAX)
            return 0;
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        int ready = poll(&pfd, 1, r->timeout_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0)
            errno = ETIMEDOUT;
        if (ready <= 0)
            return -1;
        ssize_t n = read(r->fd, r->buf + r->len, ANSWER_MAX - r->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        r->len += (size_t)n;
    }
}

static void consume(struct reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

/* On a device: lock it, drop what earlier clients left, and synchronise on an echoed nonce. */
static int sync_device(struct reader *r)
{
    if (flock(r->fd, LOCK_EX) < 0)
        return -1;
    char junk[4096];
    int flags = fcntl(r->fd, F_GETFL);
    fcntl(r->fd, F_SETFL, flags | O_NONBLOCK);
    while (read(r->fd, junk, sizeof(junk)) > 0)
        ;
    fcntl(r->fd, F_SETFL, flags);

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char nonce[64], line[80], expect[96];
    snprintf(nonce, sizeof(nonce), "lynx-simctl-%ld-%ld%09ld", (long)getpid(), (long)now.tv_sec,
             now.tv_nsec);
    /* The leading newline ends a half line; the server answers it (an error), dropped below. */
    snprintf(line, sizeof(line), "\necho %s\n", nonce);
    snprintf(expect, sizeof(expect), "ok\n%s\n\n", nonce);
    if (write_all(r->fd, line, strlen(line)) < 0)
        return -1;
    for (;;) {
        ssize_t n = read_answer(r);
        if (n <= 0) {
            if (n == 0)
                errno = ECONNRESET;
            return -1;
        }
        bool mine = (size_t)n == strlen(expect) && memcmp(r->buf, expect, (size_t)n) == 0;
        consume(r, (size_t)n);
        if (mine)
            return 0;
    }
}

int main(int argc, char **argv)
{
    const char *path = getenv("LYNX_SIM_CONTROL");
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
        path = argv[2];
        first = 3;
    }
    if (first < argc && (!path || !*path)) {
        /* a command, but nowhere to send it: say so, not just the usage */
        fputs("lynx-simctl: no control socket: give --socket PATH, or run under lynx-sim "
              "(which sets LYNX_SIM_CONTROL for its command)\n",
              stderr);
        return 2;
    }
    if (first >= argc) {
        fputs("usage: lynx-simctl [--socket PATH] COMMAND [ARG...]\n"
              "PATH defaults to $LYNX_SIM_CONTROL (set by lynx-sim for its command): the control\n"
              "socket, or a character device joined to it (a tools/vm.sh guest's port).\n"
              "Commands: fuse|supply|power|distributor|unplug|plug ... (fixtures/README.md), "
              "stats, replay, echo WORD\n",
              stderr);
        return 2;
    }
    char line[512] = "";
    for (int i = first; i < argc; i++) {
        if (strlen(line) + strlen(argv[i]) + 2 >= sizeof(line)) {
            fputs("lynx-simctl: command too long\n", stderr);
            return 2;
        }
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "\n");
    }

    static struct reader r;
    struct stat st;
    bool device = stat(path, &st) == 0 && S_ISCHR(st.st_mode);
    r.fd = device ? open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) : connect_socket(path);
    r.timeout_ms = device ? DEVICE_ANSWER_MS : -1;
    if (r.fd < 0 || (device && sync_device(&r) < 0)) {
        fprintf(stderr, "lynx-simctl: %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (write_all(r.fd, line, strlen(line)) < 0) {
        perror("lynx-simctl: write");
        return 2;
    }
    if (!device)
        shutdown(r.fd, SHUT_WR);

    /* One answer; the server keeps the connection for more commands. */
    ssize_t n = read_answer(&r);
    int read_errno = errno;
    close(r.fd);
    size_t len = n > 0 ? (size_t)n - 1 : r.len; /* without the terminating empty line */
    r.buf[len] = '\0';
    if (n < 0 && read_errno == ETIMEDOUT) {
        fprintf(stderr, "lynx-simctl: %s: no answer within %d s\n", path, DEVICE_ANSWER_MS / 1000);
        return 2;
    }
    if (strncmp(r.buf, "ok\n", 3) == 0) {
        fputs(r.buf + 3, stdout);
        return 0;
    }
    fprintf(stderr, "lynx-simctl: %s", len ? r.buf : "no answer\n");
    return len ? 1 : 2;
}
