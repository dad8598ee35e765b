/* The dev guard, one part of lynx-sim's preload (with uevent_pacing.c): a preload lynx-sim puts
 * AHEAD of umockdev's libumockdev-preload in LD_PRELOAD when it re-executes itself under the
 * preload (sim_usb_bridge_reexec_under_preload), so that the daemon it starts inherits both. It
 * answers an open of one of the simulated machine's device nodes, /dev/i2c-N and /dev/bus/usb/...,
 * with -1 and ENOENT when the testbed
 * ($UMOCKDEV_DIR) has no such node, without calling the next open; every other open, and an
 * open of a node the testbed has, goes on to the next definition (umockdev's wrapper, then
 * libc). In a sanitized build the order is the same: ASan's runtime, which sanitized programs
 * load as a dependency after the preloads, intercepts none of these functions.
 *
 * Why:
 *  - umockdev 0.17.16's preload leaks on every FAILED open of a /dev path: its open wrappers
 *    hand the -1 to its ioctl emulation anyway, which opens a socket, connects it to the
 *    testbed's default ioctl socket and records fd -1 in a table of 50 entries that nothing
 *    frees (when the connect fails, the socket alone leaks). The 51st failed open prints
 *    "libumockdev-preload fd_map_add(): overflow" and aborts the process. The daemon opens an
 *    unplugged i2c-dev adapter's /dev/i2c-N again at every poll by design, so without this
 *    guard it died about 50 polls after such an unplug.
 *  - umockdev falls back to the real path when the testbed lacks a /dev node: the simulated
 *    machine would reach the host's own /dev/i2c-N or USB device nodes. With the guard it
 *    never does.
 *
 * Without UMOCKDEV_DIR (not in a testbed) everything goes through unchanged. Only absolute paths
 * are looked at: the daemon, lynx-scan and libusb name these nodes that way. What they call (nm
 * -D): the daemon open64 (its i2c-dev link), lynx-scan open64 (and open and __open_2 in a build
 * without sanitizers), libusb open and __open_2.
 * openat and openat64 are answered too, so that no spelling reaches a host node. */

/* Each wrapper defines its own name: no redirection of open to open64 (_FILE_OFFSET_BITS=64,
 * meson's default) and no fortified inline versions of them. */
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/preload_next.h"

#define EXPORT __attribute__((visibility("default")))

/* The simulated machine's nodes: lynx-sim's i2c-dev adapters and its USB devices. */
static bool simulated_node(const char *path)
{
    return strncmp(path, "/dev/i2c-", 9) == 0 || strncmp(path, "/dev/bus/usb/", 13) == 0;
}

/* True when the open of path must fail with ENOENT: a simulated node the testbed lacks. The
 * check is a raw faccessat system call, so that no wrapper (umockdev's, ASan's) runs for it. */
static bool absent_from_testbed(const char *path)
{
    if (!path || !simulated_node(path))
        return false;
    const char *root = getenv("UMOCKDEV_DIR");
    if (!root || !root[0])
        return false;
    char mocked[PATH_MAX];
    const int n = snprintf(mocked, sizeof(mocked), "%s%s", root, path);
    if (n < 0 || (size_t)n >= sizeof(mocked))
        return false; /* umockdev answers ENAMETOOLONG itself */
    /* an open that goes through sees the caller's errno */
    const int saved = errno;
    if (syscall(SYS_faccessat, AT_FDCWD, mocked, F_OK) == 0)
        return false;
    const bool absent = errno == ENOENT || errno == ENOTDIR;
    errno = saved;
    return absent;
}

void *sim_preload_next(_Atomic(void *) *cache, const char *name)
{
    void *fn = atomic_load(cache);
    if (!fn) {
        fn = dlsym(RTLD_NEXT, name);
        atomic_store(cache, fn);
    }
    if (!fn)
        errno = ENOSYS;
    return fn;
}

/* The mode argument is there only with O_CREAT or O_TMPFILE; passing 0 otherwise is harmless. */
#define MODE_ARG(flags, mode)                                                                      \
    do {                                                                                           \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = va_arg(ap, mode_t);                                                             \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);

static int guarded_open(_Atomic(void *) *cache, const char *name, const char *path, int flags,
                        mode_t mode)
{
    if (absent_from_testbed(path)) {
        errno = ENOENT;
        return -1;
    }
    open_fn fn = (open_fn)sim_preload_next(cache, name);
    return fn ? fn(path, flags, mode) : -1;
}

static int guarded_openat(_Atomic(void *) *cache, const char *name, int dirfd, const char *path,
                          int flags, mode_t mode)
{
    if (absent_from_testbed(path)) {
        errno = ENOENT;
        return -1;
    }
    openat_fn fn = (openat_fn)sim_preload_next(cache, name);
    return fn ? fn(dirfd, path, flags, mode) : -1;
}

static int guarded_open2(_Atomic(void *) *cache, const char *name, const char *path, int flags)
{
    if (absent_from_testbed(path)) {
        errno = ENOENT;
        return -1;
    }
    open2_fn fn = (open2_fn)sim_preload_next(cache, name);
    return fn ? fn(path, flags) : -1;
}

EXPORT int open(const char *path, int flags, ...)
{
    static _Atomic(void *) cache;
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_open(&cache, "open", path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
    static _Atomic(void *) cache;
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_open(&cache, "open64", path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    static _Atomic(void *) cache;
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_openat(&cache, "openat", dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    static _Atomic(void *) cache;
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_openat(&cache, "openat64", dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE's checked opens (no mode: they are called without O_CREAT). */
EXPORT int __open_2(const char *path, int flags);
EXPORT int __open_2(const char *path, int flags)
{
    static _Atomic(void *) cache;
    return guarded_open2(&cache, "__open_2", path, flags);
}

EXPORT int __open64_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags)
{
    static _Atomic(void *) cache;
    return guarded_open2(&cache, "__open64_2", path, flags);
}
