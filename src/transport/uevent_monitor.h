/* uevent_monitor: device hot-plug from the kernel's uevents (a NETLINK_KOBJECT_UEVENT socket),
 * for /dev/i2c-N nodes that come and go with a USB bridge (hid-cp2112 and the like), and for USB
 * devices (subsystem usb, DEVTYPE usb_device) that the USB inventory (usb_inventory.h) follows.
 *
 * The socket: AF_NETLINK, SOCK_RAW, non-blocking, close-on-exec, SO_PASSCRED, bound to multicast
 * group 1 (UEVENT_GROUP_KERNEL), the kernel's own. The kernel sends to it from device_add and
 * device_del, after devtmpfs has made (or before it removes) the node: the event comes the
 * moment /dev/i2c-N exists, whether or not udevd runs. Group 2 is udevd's re-broadcast, sent
 * only after udevd ran its rules, and only where udevd runs: not chosen. The socket's owner adds
 * uevent_monitor_fd to its loop and calls uevent_monitor_dispatch when it is readable.
 *
 * Under umockdev (0.17.16, src/libumockdev-preload.c "Wrappers for accessing netlink socket"):
 * with $UMOCKDEV_DIR set, socket(AF_NETLINK, type, NETLINK_KOBJECT_UEVENT) gives an AF_UNIX
 * socket of the same type (SOCK_RAW becomes a datagram socket), and bind() ignores the address
 * passed -- the group included -- and binds it to $UMOCKDEV_DIR/event<fd>. The testbed's
 * umockdev_testbed_uevent (src/uevent_sender.c) sends each uevent to every event* socket there,
 * always in libudev's format: "libudev\0", magic 0xfeedcafe (network order), header_size 40,
 * properties_off and properties_len (host order), then ACTION, DEVPATH, SUBSYSTEM, SEQNUM and the
 * device's uevent file (the simulator writes DEVNAME=/dev/i2c-N there). Only recvmsg() is
 * wrapped: it overwrites msg_name with a netlink address {AF_NETLINK, pid 0, groups 2} (setting
 * msg_namelen to the size of a pointer, so the length is not relied on here: the address is
 * preset with a pid that is not 0), and the uid of the first control message with 0. Hence:
 * group 1 works there too, messages are read with recvmsg only, and both formats are parsed.
 *
 * Trust (the socket is reachable by privileged senders only, but its content is parsed as
 * untrusted): the kernel's format ("ACTION@DEVPATH\0KEY=VALUE\0...") is accepted only from
 * netlink pid 0, the kernel; libudev's only from a sender whose credentials say uid 0 (udevd,
 * or umockdev's faked credentials). A message over UEVENT_MSG_MAX, cut short (MSG_TRUNC, or a
 * last property without its NUL), with a wrong prefix or magic, offsets outside the message, or
 * without ACTION or SUBSYSTEM is dropped; nothing is read past the length received. */
#ifndef LYNX_UEVENT_MONITOR_H
#define LYNX_UEVENT_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UEVENT_GROUP_KERNEL 1u
#define UEVENT_MSG_MAX      16384 /* larger messages are dropped (the kernel's are < 2 KiB) */
#define UEVENT_FIELD_MAX    64    /* a longer value leaves its field empty */
/* The socket's receive buffer asked for: a burst (a hub with its devices, a boot) must not
 * overflow it. Linux doubles what is asked (for its bookkeeping) and caps SO_RCVBUF at
 * net.core.rmem_max (212992 bytes by default); SO_RCVBUFFORCE, permitted with CAP_NET_ADMIN (the
 * daemon runs as root), is not capped. It is a limit, not an allocation: memory is used only by
 * messages queued. */
#define UEVENT_RCVBUF_BYTES (8 * 1024 * 1024)

enum uevent_action { UEVENT_OTHER, UEVENT_ADD, UEVENT_REMOVE };
enum uevent_format { UEVENT_FORMAT_KERNEL, UEVENT_FORMAT_LIBUDEV };

/* Who sent a message, as recvmsg reported it. */
struct uevent_sender {
    bool netlink;   /* the address is AF_NETLINK */
    uint32_t pid;   /* its nl_pid: 0 = the kernel */
    bool has_creds; /* SCM_CREDENTIALS came along */
    uint32_t uid;
};

struct uevent {
    enum uevent_action action;
    enum uevent_format format;
    char action_name[UEVENT_FIELD_MAX]; /* "add", "remove", "change", ... */
    char subsystem[UEVENT_FIELD_MAX];   /* "i2c-dev", "usb" */
    char devtype[UEVENT_FIELD_MAX];     /* DEVTYPE: "usb_device", "usb_interface"; "" if none */
    char devname[UEVENT_FIELD_MAX];     /* DEVNAME without "/dev/" ("i2c-3"); "" if none */
    char kernel[UEVENT_FIELD_MAX];      /* the kernel name: DEVPATH's last component */
};

/* Parses one message of len bytes from sender. 0 and *out filled, or: -EMSGSIZE (empty or over
 * UEVENT_MSG_MAX), -EBADMSG (malformed, truncated, wrong magic, no ACTION or SUBSYSTEM),
 * -EPERM (not from the kernel or a root sender, as above). Pure: no I/O, no global state. */
int uevent_parse(const void *msg, size_t len, const struct uevent_sender *sender,
                 struct uevent *out);

struct uevent_monitor;
typedef void (*uevent_fn)(void *user, const struct uevent *event);

/* The socket, bound: 0 or a negative errno (e.g. -EPERM in a sandbox without netlink). Its receive
 * buffer is set with SO_RCVBUFFORCE when permitted, else with SO_RCVBUF (capped by the kernel):
 * uevent_monitor_rcvbuf says what it got. */
int uevent_monitor_open(struct uevent_monitor **out);
void uevent_monitor_free(struct uevent_monitor *mon);
int uevent_monitor_fd(const struct uevent_monitor *mon);

/* Reads what is queued (at most a bounded number of messages per call; the fd stays readable
 * if more wait) and calls fn for each message accepted. Returns 0; -ENOBUFS when the kernel
 * dropped messages because the socket's buffer was full (events were lost: look again at
 * everything watched); another negative errno if reading failed. */
int uevent_monitor_dispatch(struct uevent_monitor *mon, uevent_fn fn, void *user);

/* The receive buffer the socket got (getsockopt SO_RCVBUF: twice what was granted, as Linux
 * reports it); *forced: SO_RCVBUFFORCE was permitted. Below 2 * UEVENT_RCVBUF_BYTES: capped. */
int uevent_monitor_rcvbuf(const struct uevent_monitor *mon, bool *forced);

/* Messages read and dropped by uevent_parse since open. */
unsigned long uevent_monitor_dropped(const struct uevent_monitor *mon);

#endif
