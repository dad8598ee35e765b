/* The dev guard (sim/front/dev_guard.c) in front of umockdev's preload, as lynx-sim loads them
 * (meson runs this with LD_PRELOAD=guard:libumockdev-preload.so.0): opens of simulated nodes the
 * testbed lacks fail with ENOENT, hundreds of times, without umockdev's leak or abort; a node the
 * testbed has and any other path go through. Every exported spelling is called by its name
 * (dlsym), whatever this file's headers would redirect open to. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <umockdev.h>

#define FAILED_OPENS 200 /* umockdev 0.17.16's preload aborts at the 51st without the guard */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);

static UMockdevTestbed *testbed;

static void setup(void)
{
    testbed = umockdev_testbed_new(); /* sets UMOCKDEV_DIR */
    cr_assert_not_null(testbed);
    GError *err = NULL;
    cr_assert(umockdev_testbed_add_from_string(testbed,
                                               "P: /devices/platform/i2c-7/i2c-dev/i2c-7\n"
                                               "N: i2c-7\n"
                                               "E: SUBSYSTEM=i2c-dev\n"
                                               "E: DEVNAME=/dev/i2c-7\n",
                                               &err),
              "%s", err ? err->message : "");
}

static void teardown(void)
{
    g_object_unref(testbed);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Calls the exported function `name` on path; returns its result with errno in *err. */
static int call_open(const char *name, const char *path, int *err)
{
    void *fn = dlsym(RTLD_DEFAULT, name);
    cr_assert_not_null(fn, "%s is not defined", name);
    int fd;
    errno = 0;
    if (strncmp(name, "openat", 6) == 0)
        fd = ((openat_fn)fn)(AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    else if (strstr(name, "_2"))
        fd = ((open2_fn)fn)(path, O_RDWR | O_CLOEXEC);
    else
        fd = ((open_fn)fn)(path, O_RDWR | O_CLOEXEC);
    *err = errno;
    return fd;
}

static const char *const names[] = {"open",     "open64",   "openat",
                                    "openat64", "__open_2", "__open64_2"};

TestSuite(dev_guard, .init = setup, .fini = teardown);

Test(dev_guard, a_node_absent_from_the_testbed_is_enoent_every_time_and_costs_no_descriptor)
{
    const char *absent[] = {"/dev/i2c-8", "/dev/bus/usb/001/099"};
    const int before = open_fds();
    for (int i = 0; i < FAILED_OPENS; i++) {
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
            int err;
            const char *path = absent[(size_t)i % 2];
            const int fd = call_open(names[n], path, &err);
            cr_assert_eq(fd, -1, "%s(%s) opened %d", names[n], path, fd);
            cr_assert_eq(err, ENOENT, "%s(%s): %s", names[n], path, strerror(err));
        }
    }
    cr_assert_eq(open_fds(), before, "%d descriptors before, %d after", before, open_fds());
}

Test(dev_guard, a_node_the_testbed_has_and_other_paths_go_through)
{
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        int err;
        const int fd = call_open(names[n], "/dev/i2c-7", &err);
        cr_assert_geq(fd, 0, "%s(/dev/i2c-7): %s", names[n], strerror(err));
        close(fd);
    }
    /* not a simulated node: the guard does not look at it (a missing file stays ENOENT, a
     * directory is EISDIR from the kernel, not the guard's ENOENT) */
    int err;
    cr_assert_eq(call_open("open", "/proc/self", &err), -1);
    cr_assert_eq(err, EISDIR, "%s", strerror(err));
}
