/* A preload for the daemon in scenario tests: uevents lost as when the kernel's socket buffer
 * overflows. While the file named by $LYNX_ENOBUFS_TRIGGER exists, the next recvmsg() of the
 * daemon's main thread on a datagram socket with MSG_DONTWAIT (its uevent socket, as
 * uevent_monitor.c reads it; D-Bus is a stream socket, and libusb's udev monitor, which
 * libusb_get_device_list also reads on the calling thread, passes no flags) deletes the file,
 * throws away every message queued there and fails with ENOBUFS, as Linux does after dropping
 * messages. It must come before umockdev's preload in LD_PRELOAD (umockdev calls libc
 * directly). */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);

static bool is_daemon_main_thread(void)
{
    return strcmp(program_invocation_short_name, "dbus-lynx-distributor") == 0 &&
           syscall(SYS_gettid) == getpid();
}

static bool is_datagram(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static recvmsg_fn next;
    if (!next)
        next = (recvmsg_fn)dlsym(RTLD_NEXT, "recvmsg");
    const char *trigger = getenv("LYNX_ENOBUFS_TRIGGER");
    if (trigger && (flags & MSG_DONTWAIT) && is_daemon_main_thread() && is_datagram(fd) &&
        unlink(trigger) == 0) {
        /* umockdev's recvmsg writes a sender address and credentials: room for both */
        char buf[16384], name[128], control[256];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr drop = {.msg_name = name,
                              .msg_namelen = sizeof(name),
                              .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = control,
                              .msg_controllen = sizeof(control)};
        while (next(fd, &drop, MSG_DONTWAIT) >= 0) {
            drop.msg_namelen = sizeof(name);
            drop.msg_controllen = sizeof(control);
        }
        errno = ENOBUFS;
        return -1;
    }
    return next(fd, msg, flags);
}
