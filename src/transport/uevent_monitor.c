#include "transport/uevent_monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIBUDEV_PREFIX      "libudev" /* with its NUL: 8 bytes */
#define LIBUDEV_PREFIX_LEN  8
#define LIBUDEV_MAGIC       0xfeedcafeu
#define LIBUDEV_HEADER_SIZE 40 /* prefix, magic, header_size, properties_off/len, 4 filters */
#define MAX_PER_DISPATCH    64

/* ---- the parser ---- */

/* Copies the NUL-terminated value v (within the message) into field, or leaves it empty when it
 * does not fit: a cut name could pass for another. */
static void set_field(char field[UEVENT_FIELD_MAX], const char *v)
{
    size_t n = strlen(v);
    if (n < UEVENT_FIELD_MAX)
        memcpy(field, v, n + 1);
}

/* The last component of a device path: "/devices/.../i2c-dev/i2c-3" -> "i2c-3". */
static void set_kernel_name(struct uevent *out, const char *devpath)
{
    const char *slash = strrchr(devpath, '/');
    set_field(out->kernel, slash ? slash + 1 : devpath);
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* KEY=VALUE\0 items of [p, end): the first ACTION, DEVPATH, SUBSYSTEM, DEVTYPE and DEVNAME are
 * kept. An item without its NUL before end means the message was cut: -EBADMSG. */
static int parse_properties(const char *p, const char *end, struct uevent *out)
{
    bool action = false, devpath = false, subsystem = false, devname = false, devtype = false;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            return -EBADMSG;
        if (!action && strncmp(p, "ACTION=", 7) == 0) {
            action = true;
            set_field(out->action_name, p + 7);
        } else if (!devpath && strncmp(p, "DEVPATH=", 8) == 0) {
            devpath = true;
            set_kernel_name(out, p + 8);
        } else if (!subsystem && strncmp(p, "SUBSYSTEM=", 10) == 0) {
            subsystem = true;
            set_field(out->subsystem, p + 10);
        } else if (!devtype && strncmp(p, "DEVTYPE=", 8) == 0) {
            devtype = true;
            set_field(out->devtype, p + 8);
        } else if (!devname && strncmp(p, "DEVNAME=", 8) == 0) {
            devname = true;
            /* the kernel's is relative to /dev, udev's (and umockdev's) absolute */
            const char *v = p + 8;
            set_field(out->devname, strncmp(v, "/dev/", 5) == 0 ? v + 5 : v);
        }
        p = nul + 1;
    }
    return 0;
}

/* "libudev\0", magic, header_size, properties_off, properties_len, filter hashes; then the
 * properties where properties_off says. */
static int parse_libudev(const unsigned char *m, size_t len, struct uevent *out)
{
    if (len < LIBUDEV_HEADER_SIZE)
        return -EBADMSG;
    if (ntohl(get_u32(m + 8)) != LIBUDEV_MAGIC)
        return -EBADMSG;
    uint32_t off = get_u32(m + 16), plen = get_u32(m + 20);
    if (off < LIBUDEV_HEADER_SIZE || off > len || plen > len - off)
        return -EBADMSG;
    out->format = UEVENT_FORMAT_LIBUDEV;
    return parse_properties((const char *)m + off, (const char *)m + off + plen, out);
}

/* "ACTION@DEVPATH\0" then the properties to the end of the message. */
static int parse_kernel(const unsigned char *m, size_t len, struct uevent *out)
{
    const char *s = (const char *)m;
    const char *nul = memchr(s, '\0', len);
    if (!nul)
        return -EBADMSG;
    const char *at = memchr(s, '@', (size_t)(nul - s));
    if (!at || at == s || at[1] != '/')
        return -EBADMSG;
    out->format = UEVENT_FORMAT_KERNEL;
    int rc = parse_properties(nul + 1, s + len, out);
    if (rc < 0)
        return rc;
    /* the header says the same as ACTION= and DEVPATH=; it fills in what they do not */
    if (!out->action_name[0] && (size_t)(at - s) < UEVENT_FIELD_MAX) {
        memcpy(out->action_name, s, (size_t)(at - s));
        out->action_name[at - s] = '\0';
    }
    if (!out->kernel[0])
        set_kernel_name(out, at + 1);
    return 0;
}

static bool trusted(enum uevent_format format, const struct uevent_sender *sender)
{
    if (format == UEVENT_FORMAT_KERNEL)
        return sender->netlink && sender->pid == 0;
    return sender->has_creds && sender->uid == 0;
}

int uevent_parse(const void *msg, size_t len, const struct uevent_sender *sender,
                 struct uevent *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > UEVENT_MSG_MAX)
        return -EMSGSIZE;
    const unsigned char *m = msg;
    bool libudev = len >= LIBUDEV_PREFIX_LEN && memcmp(m, LIBUDEV_PREFIX, LIBUDEV_PREFIX_LEN) == 0;
    int rc = libudev ? parse_libudev(m, len, out) : parse_kernel(m, len, out);
    if (rc == 0 && (!out->action_name[0] || !out->subsystem[0]))
        rc = -EBADMSG;
    if (rc == 0 && !trusted(out->format, sender))
        rc = -EPERM;
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (strcmp(out->action_name, "add") == 0)
        out->action = UEVENT_ADD;
    else if (strcmp(out->action_name, "remove") == 0)
        out->action = UEVENT_REMOVE;
    else
        out->action = UEVENT_OTHER;
    return 0;
}

/* ---- the socket ---- */

struct uevent_monitor {
    int fd;
    int rcvbuf;
    bool rcvbuf_forced;
    unsigned long dropped;
    unsigned char buf[UEVENT_MSG_MAX];
};

int uevent_monitor_open(struct uevent_monitor **out)
{
    *out = NULL;
    struct uevent_monitor *mon = calloc(1, sizeof(*mon));
    if (!mon)
        return -ENOMEM;
    mon->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (mon->fd < 0) {
        int rc = -errno;
        free(mon);
        return rc;
    }
    int one = 1, rcvbuf = UEVENT_RCVBUF_BYTES;
    /* SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it SO_RCVBUF's cap (net.core.rmem_max) applies,
     * which is not worth failing for: the owner logs what it got */
    mon->rcvbuf_forced =
        setsockopt(mon->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == 0;
    if (!mon->rcvbuf_forced)
        (void)setsockopt(mon->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    socklen_t len = sizeof(mon->rcvbuf);
    if (getsockopt(mon->fd, SOL_SOCKET, SO_RCVBUF, &mon->rcvbuf, &len) < 0)
        mon->rcvbuf = 0;
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = UEVENT_GROUP_KERNEL};
    if (setsockopt(mon->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
        bind(mon->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int rc = -errno;
        uevent_monitor_free(mon);
        return rc;
    }
    *out = mon;
    return 0;
}

void uevent_monitor_free(struct uevent_monitor *mon)
{
    if (!mon)
        return;
    if (mon->fd >= 0)
        close(mon->fd);
    free(mon);
}

int uevent_monitor_fd(const struct uevent_monitor *mon)
{
    return mon->fd;
}

int uevent_monitor_rcvbuf(const struct uevent_monitor *mon, bool *forced)
{
    *forced = mon->rcvbuf_forced;
    return mon->rcvbuf;
}

unsigned long uevent_monitor_dropped(const struct uevent_monitor *mon)
{
    return mon->dropped;
}

static void sender_of(struct msghdr *msg, const struct sockaddr_nl *addr, struct uevent_sender *out)
{
    memset(out, 0, sizeof(*out));
    out->netlink = addr->nl_family == AF_NETLINK;
    out->pid = addr->nl_pid;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            out->has_creds = true;
            out->uid = cred.uid;
        }
    }
}

/* One message: 1 when read (accepted or not), 0 when none is queued, or a negative errno. */
static int receive_one(struct uevent_monitor *mon, uevent_fn fn, void *user)
{
    /* nl_pid preset to a value no sender has: an address not written (umockdev writes only its
     * fields) never passes for the kernel's */
    struct sockaddr_nl addr = {.nl_family = AF_UNSPEC, .nl_pid = UINT32_MAX};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = {.iov_base = mon->buf, .iov_len = sizeof(mon->buf)};
    struct msghdr msg = {.msg_name = &addr,
                         .msg_namelen = sizeof(addr),
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    ssize_t n = recvmsg(mon->fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -errno;
    }
    struct uevent_sender sender;
    sender_of(&msg, &addr, &sender);
    struct uevent event;
    if ((msg.msg_flags & MSG_TRUNC) || uevent_parse(mon->buf, (size_t)n, &sender, &event) < 0) {
        mon->dropped++;
        return 1;
    }
    fn(user, &event);
    return 1;
}

int uevent_monitor_dispatch(struct uevent_monitor *mon, uevent_fn fn, void *user)
{
    bool lost = false;
    for (int i = 0; i < MAX_PER_DISPATCH; i++) {
        int rc = receive_one(mon, fn, user);
        if (rc == -EINTR)
            continue;
        if (rc == -ENOBUFS) { /* reported once; what is still queued follows */
            lost = true;
            continue;
        }
        if (rc <= 0)
            return rc < 0 ? rc : lost ? -ENOBUFS : 0;
    }
    return lost ? -ENOBUFS : 0;
}
