/* The uevent parser (src/transport/uevent_monitor.h): the kernel's format and libudev's, who may
 * send which, and messages that are cut, oversized, garbage or incomplete. Every message is parsed
 * from a heap copy of exactly its length, so a read past it is caught by the sanitizers and
 * valgrind. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport/uevent_monitor.h"

static const struct uevent_sender KERNEL = {.netlink = true, .pid = 0};
/* what umockdev's recvmsg makes of the testbed's sender: pid 0, groups 2, uid 0 */
static const struct uevent_sender UMOCKDEV = {
    .netlink = true, .pid = 0, .has_creds = true, .uid = 0};

#define CP2112_PATH "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:10C4:EA90.0001/i2c-3"
/* As the kernel sends it (the items end in NUL; sizeof - 1 drops the literal's own). */
static const char KERNEL_ADD[] = "add@" CP2112_PATH "/i2c-dev/i2c-3\0"
                                 "ACTION=add\0"
                                 "DEVPATH=" CP2112_PATH "/i2c-dev/i2c-3\0"
                                 "SUBSYSTEM=i2c-dev\0"
                                 "MAJOR=89\0"
                                 "MINOR=3\0"
                                 "DEVNAME=i2c-3\0"
                                 "SEQNUM=2417\0";
static const char KERNEL_REMOVE[] = "remove@" CP2112_PATH "/i2c-dev/i2c-3\0"
                                    "ACTION=remove\0"
                                    "DEVPATH=" CP2112_PATH "/i2c-dev/i2c-3\0"
                                    "SUBSYSTEM=i2c-dev\0"
                                    "MAJOR=89\0"
                                    "MINOR=3\0"
                                    "DEVNAME=i2c-3\0"
                                    "SEQNUM=2420\0";
/* umockdev's testbed: its own four, then the device's uevent file (SUBSYSTEM again) */
static const char UMOCKDEV_REMOVE_PROPS[] = "ACTION=remove\0"
                                            "DEVPATH=/devices/lynx-sim/i2c-1/i2c-dev/i2c-1\0"
                                            "SUBSYSTEM=i2c-dev\0"
                                            "SEQNUM=7\0"
                                            "SUBSYSTEM=i2c-dev\0"
                                            "DEVNAME=/dev/i2c-1\0"
                                            "MAJOR=89\0"
                                            "MINOR=1\0";

static int parse(const void *msg, size_t len, const struct uevent_sender *from, struct uevent *out)
{
    void *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, msg, len);
    int rc = uevent_parse(copy, len, from, out);
    free(copy);
    return rc;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* A libudev message: the 40-byte header (magic and hashes in network order, the rest in host
 * order, as libudev and umockdev write it), then props. Returns its length. */
static size_t libudev_message(unsigned char *buf, size_t size, uint32_t magic_host,
                              const char *props, size_t props_len)
{
    cr_assert(40 + props_len <= size);
    memset(buf, 0, 40);
    memcpy(buf, "libudev", 8);
    put_u32(buf + 8, htonl(magic_host));
    put_u32(buf + 12, 40);
    put_u32(buf + 16, 40);
    put_u32(buf + 20, (uint32_t)props_len);
    put_u32(buf + 24, htonl(0x12345678u)); /* subsystem hash: not looked at */
    memcpy(buf + 40, props, props_len);
    return 40 + props_len;
}

Test(uevent, kernel_add_and_remove_of_an_i2c_dev_node)
{
    struct uevent ev;
    cr_assert_eq(parse(KERNEL_ADD, sizeof(KERNEL_ADD) - 1, &KERNEL, &ev), 0);
    cr_assert_eq(ev.format, UEVENT_FORMAT_KERNEL);
    cr_assert_eq(ev.action, UEVENT_ADD);
    cr_assert_str_eq(ev.action_name, "add");
    cr_assert_str_eq(ev.subsystem, "i2c-dev");
    cr_assert_str_eq(ev.devname, "i2c-3");
    cr_assert_str_eq(ev.kernel, "i2c-3");

    cr_assert_eq(parse(KERNEL_REMOVE, sizeof(KERNEL_REMOVE) - 1, &KERNEL, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_REMOVE);
    cr_assert_str_eq(ev.subsystem, "i2c-dev");
    cr_assert_str_eq(ev.devname, "i2c-3");
}

Test(uevent, kernel_other_actions_and_the_header_alone_for_action_and_name)
{
    static const char change[] = "change@/devices/virtual/net/lo\0"
                                 "ACTION=change\0"
                                 "DEVPATH=/devices/virtual/net/lo\0"
                                 "SUBSYSTEM=net\0";
    struct uevent ev;
    cr_assert_eq(parse(change, sizeof(change) - 1, &KERNEL, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_OTHER);
    cr_assert_str_eq(ev.action_name, "change");
    cr_assert_str_eq(ev.devname, "");
    cr_assert_str_eq(ev.kernel, "lo");

    /* without ACTION= and DEVPATH=, the header says both */
    static const char bare[] = "remove@/devices/x/i2c-7/i2c-dev/i2c-7\0SUBSYSTEM=i2c-dev\0";
    cr_assert_eq(parse(bare, sizeof(bare) - 1, &KERNEL, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_REMOVE);
    cr_assert_str_eq(ev.kernel, "i2c-7");
    cr_assert_str_eq(ev.devname, "");
}

Test(uevent, libudev_format_as_umockdev_sends_it)
{
    unsigned char buf[512];
    size_t len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, UMOCKDEV_REMOVE_PROPS,
                                 sizeof(UMOCKDEV_REMOVE_PROPS) - 1);
    struct uevent ev;
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), 0);
    cr_assert_eq(ev.format, UEVENT_FORMAT_LIBUDEV);
    cr_assert_eq(ev.action, UEVENT_REMOVE);
    cr_assert_str_eq(ev.subsystem, "i2c-dev");
    cr_assert_str_eq(ev.devname, "i2c-1"); /* "/dev/" dropped */
    cr_assert_str_eq(ev.kernel, "i2c-1");

    static const char add[] = "ACTION=add\0DEVPATH=/devices/a/i2c-2/i2c-dev/i2c-2\0"
                              "SUBSYSTEM=i2c-dev\0SEQNUM=8\0DEVNAME=/dev/i2c-2\0";
    len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, add, sizeof(add) - 1);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_ADD);
    cr_assert_str_eq(ev.devname, "i2c-2");
}

Test(uevent, libudev_properties_where_the_header_points)
{
    /* properties after a longer header (a newer sender): properties_off says where */
    unsigned char buf[512];
    static const char props[] = "ACTION=add\0SUBSYSTEM=i2c-dev\0DEVNAME=/dev/i2c-4\0";
    size_t len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, "", 0);
    memset(buf + len, 0xAA, 16); /* unknown header fields */
    memcpy(buf + len + 16, props, sizeof(props) - 1);
    put_u32(buf + 12, 56);
    put_u32(buf + 16, 56);
    put_u32(buf + 20, sizeof(props) - 1);
    struct uevent ev;
    cr_assert_eq(parse(buf, 56 + sizeof(props) - 1, &UMOCKDEV, &ev), 0);
    cr_assert_str_eq(ev.devname, "i2c-4");
}

Test(uevent, the_kernel_format_only_from_the_kernel)
{
    struct uevent ev;
    struct uevent_sender process = {.netlink = true, .pid = 4242};
    cr_assert_eq(parse(KERNEL_ADD, sizeof(KERNEL_ADD) - 1, &process, &ev), -EPERM);
    /* root credentials do not make a process the kernel */
    process.has_creds = true;
    cr_assert_eq(parse(KERNEL_ADD, sizeof(KERNEL_ADD) - 1, &process, &ev), -EPERM);
    struct uevent_sender not_netlink = {.netlink = false, .pid = 0};
    cr_assert_eq(parse(KERNEL_ADD, sizeof(KERNEL_ADD) - 1, &not_netlink, &ev), -EPERM);
    cr_assert_str_eq(ev.subsystem, ""); /* nothing handed out */
}

Test(uevent, the_libudev_format_only_from_root)
{
    unsigned char buf[512];
    size_t len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, UMOCKDEV_REMOVE_PROPS,
                                 sizeof(UMOCKDEV_REMOVE_PROPS) - 1);
    struct uevent ev;
    struct uevent_sender no_creds = {.netlink = true, .pid = 0};
    cr_assert_eq(parse(buf, len, &no_creds, &ev), -EPERM);
    struct uevent_sender user = {.netlink = true, .pid = 0, .has_creds = true, .uid = 1000};
    cr_assert_eq(parse(buf, len, &user, &ev), -EPERM);
}

Test(uevent, empty_and_oversized_messages_are_dropped)
{
    struct uevent ev;
    cr_assert_eq(parse("", 0, &KERNEL, &ev), -EMSGSIZE);
    size_t big = UEVENT_MSG_MAX + 1;
    char *msg = malloc(big);
    cr_assert_not_null(msg);
    memcpy(msg, KERNEL_ADD, sizeof(KERNEL_ADD) - 1);
    memset(msg + sizeof(KERNEL_ADD) - 1, 0, big - (sizeof(KERNEL_ADD) - 1));
    cr_assert_eq(parse(msg, big, &KERNEL, &ev), -EMSGSIZE);
    /* the same at the limit is read (empty items are skipped) */
    cr_assert_eq(parse(msg, UEVENT_MSG_MAX, &KERNEL, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_ADD);
    free(msg);
}

Test(uevent, every_cut_of_a_message_is_refused_or_complete)
{
    /* a cut inside an item leaves it without its NUL: refused; a cut between items leaves a
     * shorter but whole message, taken only if it still has ACTION and SUBSYSTEM */
    struct uevent ev;
    size_t full = sizeof(KERNEL_ADD) - 1;
    const char *subsystem = memmem(KERNEL_ADD, full, "SUBSYSTEM=i2c-dev", 17);
    cr_assert_not_null(subsystem);
    size_t subsystem_end = (size_t)(subsystem - KERNEL_ADD) + 17 + 1;
    for (size_t len = 1; len < full; len++) {
        int rc = parse(KERNEL_ADD, len, &KERNEL, &ev);
        bool at_boundary = KERNEL_ADD[len - 1] == '\0';
        if (at_boundary && len >= subsystem_end)
            cr_assert_eq(rc, 0, "cut at %zu: %d", len, rc);
        else
            cr_assert_eq(rc, -EBADMSG, "cut at %zu: %d", len, rc);
    }

    unsigned char buf[512];
    size_t len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, UMOCKDEV_REMOVE_PROPS,
                                 sizeof(UMOCKDEV_REMOVE_PROPS) - 1);
    for (size_t cut = 1; cut < len; cut++) /* properties_len now points past the end */
        cr_assert_eq(parse(buf, cut, &UMOCKDEV, &ev), -EBADMSG, "cut at %zu", cut);
    /* properties_len cut inside an item: the item has no NUL within it */
    put_u32(buf + 20, 20);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
}

Test(uevent, a_message_without_subsystem_or_action_is_dropped)
{
    static const char no_subsystem[] = "add@/devices/x/i2c-3\0ACTION=add\0DEVNAME=i2c-3\0";
    struct uevent ev;
    cr_assert_eq(parse(no_subsystem, sizeof(no_subsystem) - 1, &KERNEL, &ev), -EBADMSG);

    unsigned char buf[256];
    static const char no_action[] = "DEVPATH=/devices/x/i2c-3\0SUBSYSTEM=i2c-dev\0";
    size_t len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, no_action, sizeof(no_action) - 1);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    static const char empty_subsystem[] = "ACTION=add\0SUBSYSTEM=\0DEVNAME=/dev/i2c-3\0";
    len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, empty_subsystem,
                          sizeof(empty_subsystem) - 1);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
}

Test(uevent, libudev_with_a_wrong_magic_or_offsets_outside_is_dropped)
{
    unsigned char buf[512];
    const char *p = UMOCKDEV_REMOVE_PROPS;
    size_t plen = sizeof(UMOCKDEV_REMOVE_PROPS) - 1;
    struct uevent ev;
    size_t len = libudev_message(buf, sizeof(buf), 0xdeadbeefu, p, plen);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, p, plen);
    put_u32(buf + 8, 0xfeedcafeu); /* host order: wrong on a little-endian machine */
    if (htonl(1) != 1)
        cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);

    len = libudev_message(buf, sizeof(buf), 0xfeedcafeu, p, plen);
    put_u32(buf + 16, 8); /* properties inside the header */
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    put_u32(buf + 16, (uint32_t)len + 1); /* past the end */
    put_u32(buf + 20, 0);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    put_u32(buf + 16, 0xFFFFFFF0u); /* off + len wraps around */
    put_u32(buf + 20, 0x20);
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    put_u32(buf + 16, 40);
    put_u32(buf + 20, (uint32_t)plen + 1); /* one byte more than received */
    cr_assert_eq(parse(buf, len, &UMOCKDEV, &ev), -EBADMSG);
    /* shorter than the header */
    cr_assert_eq(parse("libudev", 8, &UMOCKDEV, &ev), -EBADMSG);
}

Test(uevent, garbage_is_dropped)
{
    struct uevent ev;
#define JUNK(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    static const struct {
        const char *msg;
        size_t len;
    } junk[] = {
        JUNK("hello world"),                        /* no NUL, no '@' */
        JUNK("hello world\0"),                      /* no '@' */
        JUNK("@/devices/x\0SUBSYSTEM=x\0"),         /* no action */
        JUNK("add@devices/x\0SUBSYSTEM=x\0"),       /* not a path */
        JUNK("add@\0SUBSYSTEM=x\0"),                /* no path at all */
        JUNK("libudev\0SUBSYSTEM=x\0ACTION=add\0"), /* the prefix, but no header */
    };
#undef JUNK
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        cr_assert_eq(parse(junk[i].msg, junk[i].len, &KERNEL, &ev), -EBADMSG, "junk %zu", i);

    /* random bytes, with and without the libudev prefix: never accepted here, never a crash */
    unsigned char buf[300];
    srand(13);
    for (int round = 0; round < 2000; round++) {
        size_t len = 1 + (size_t)rand() % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rand();
        if (round % 2 && len >= 40) {
            memcpy(buf, "libudev", 8);
            put_u32(buf + 8, htonl(0xfeedcafeu));
        }
        int rc = parse(buf, len, &UMOCKDEV, &ev);
        cr_assert(rc == 0 || rc == -EBADMSG || rc == -EPERM, "round %d: %d", round, rc);
        if (rc == 0) /* only if the bytes happened to hold ACTION= and SUBSYSTEM= */
            cr_assert(ev.action_name[0] && ev.subsystem[0]);
    }
}

Test(uevent, a_value_too_long_for_its_field_leaves_it_empty)
{
    char msg[512];
    char long_name[100];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    /* DEVNAME too long: no name, never a cut one; the message still comes */
    int n = snprintf(msg, sizeof(msg),
                     "add@/devices/x/i2c-3%cACTION=add%cSUBSYSTEM=i2c-dev%c"
                     "DEVNAME=i2c-3%s%c",
                     0, 0, 0, long_name, 0);
    struct uevent ev;
    cr_assert_eq(parse(msg, (size_t)n, &KERNEL, &ev), 0);
    cr_assert_str_eq(ev.devname, "");
    cr_assert_str_eq(ev.kernel, "i2c-3");
    /* SUBSYSTEM too long: as if it had none */
    n = snprintf(msg, sizeof(msg), "add@/devices/x/i2c-3%cACTION=add%cSUBSYSTEM=%s%c", 0, 0,
                 long_name, 0);
    cr_assert_eq(parse(msg, (size_t)n, &KERNEL, &ev), -EBADMSG);
}

Test(uevent, the_socket_is_non_blocking_and_close_on_exec)
{
    struct uevent_monitor *mon;
    int rc = uevent_monitor_open(&mon);
    if (rc < 0)
        cr_skip_test("no NETLINK_KOBJECT_UEVENT socket here: %s", strerror(-rc));
    int fd = uevent_monitor_fd(mon);
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    uevent_monitor_free(mon);
}

/* A USB device's own uevent (not its interfaces'): DEVTYPE tells them apart. */
Test(uevent, a_usb_device_event_carries_its_devtype)
{
    static const char msg[] = "add@/devices/pci0000:00/0000:00:14.0/usb1/1-2\0"
                              "ACTION=add\0"
                              "DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-2\0"
                              "SUBSYSTEM=usb\0"
                              "DEVNAME=bus/usb/001/005\0"
                              "DEVTYPE=usb_device\0"
                              "PRODUCT=403/6014/900\0"
                              "BUSNUM=001\0"
                              "DEVNUM=005\0";
    struct uevent ev;
    cr_assert_eq(parse(msg, sizeof(msg) - 1, &KERNEL, &ev), 0);
    cr_assert_eq(ev.action, UEVENT_ADD);
    cr_assert_str_eq(ev.subsystem, "usb");
    cr_assert_str_eq(ev.devtype, "usb_device");
    cr_assert_str_eq(ev.kernel, "1-2");
    /* an i2c-dev node has none */
    cr_assert_eq(parse(KERNEL_ADD, sizeof(KERNEL_ADD) - 1, &KERNEL, &ev), 0);
    cr_assert_str_eq(ev.devtype, "");
}

static bool has_cap_net_admin(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return false;
    return d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

/* SO_RCVBUF is capped at net.core.rmem_max; with CAP_NET_ADMIN the monitor forces the size it
 * asks for, and it says what it got either way. */
Test(uevent, the_receive_buffer_is_forced_when_permitted_and_reported)
{
    struct uevent_monitor *mon;
    int rc = uevent_monitor_open(&mon);
    if (rc < 0)
        cr_skip_test("no NETLINK_KOBJECT_UEVENT socket here: %s", strerror(-rc));
    int got = 0;
    socklen_t len = sizeof(got);
    cr_assert_eq(getsockopt(uevent_monitor_fd(mon), SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    bool forced;
    cr_assert_eq(uevent_monitor_rcvbuf(mon, &forced), got);
    if (has_cap_net_admin()) {
        cr_assert(forced);
        cr_assert_geq(got, 2 * UEVENT_RCVBUF_BYTES, "got %d bytes", got);
    }
    uevent_monitor_free(mon);
}

/* Without CAP_NET_ADMIN (dropped in a child): SO_RCVBUF, and forced false. */
Test(uevent, without_cap_net_admin_the_capped_buffer_is_reported)
{
    if (!has_cap_net_admin())
        cr_skip_test("already without CAP_NET_ADMIN");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
            _exit(10);
        d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
        if (syscall(SYS_capset, &h, d) < 0)
            _exit(11);
        struct uevent_monitor *mon;
        if (uevent_monitor_open(&mon) < 0)
            _exit(12);
        int got = 0;
        socklen_t len = sizeof(got);
        bool forced = true;
        int reported = uevent_monitor_rcvbuf(mon, &forced);
        getsockopt(uevent_monitor_fd(mon), SOL_SOCKET, SO_RCVBUF, &got, &len);
        _exit(forced ? 13 : reported != got ? 14 : 0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d", WEXITSTATUS(status));
}
