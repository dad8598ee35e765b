/* The uevent pacing (sim/front/uevent_pacing.c) in front of umockdev's preload, as lynx-sim
 * loads them (meson runs this with LD_PRELOAD=lynx-sim's preload:libumockdev-preload.so.0). A
 * listener is a uevent netlink socket, which umockdev's preload makes a Unix datagram socket in
 * the testbed; its queue takes one message more than net.unix.max_dgram_qlen (10 by default: the
 * kernel refuses once more than that are queued). umockdev sends each uevent without blocking and
 * aborts on EAGAIN: without the pacing, the 12th uevent to a listener that has not read yet kills
 * the sender. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

static UMockdevTestbed *testbed;
static gchar *syspath; /* the device the uevents are about */
static int listener = -1;
static int queue_len; /* what the listener's queue takes */

static void setup(void)
{
    testbed = umockdev_testbed_new(); /* sets UMOCKDEV_DIR */
    cr_assert_not_null(testbed);
    syspath = umockdev_testbed_add_device(testbed, "usb", "1-1", NULL, "idVendor", "0403", NULL,
                                          "DEVTYPE", "usb_device", NULL);
    cr_assert_not_null(syspath);
    listener = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    cr_assert_geq(listener, 0);
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = 2 /* udev's group */};
    FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%d", &queue_len), 1);
    fclose(f);
    queue_len++;
    cr_assert_eq(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0, "%s", strerror(errno));
}

static void teardown(void)
{
    close(listener);
    g_free(syspath);
    g_object_unref(testbed);
}

TestSuite(uevent_pacing, .init = setup, .fini = teardown, .timeout = 30);

/* Messages waiting on the listener, taken without waiting. */
static int drain(void)
{
    char buf[8192];
    int n = 0;
    while (recv(listener, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        n++;
    return n;
}

static atomic_int received;
static atomic_bool reading;

/* A listener that starts reading only once the sender is stuck on its full queue. */
static void *late_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&reading))
        usleep(1000);
    char buf[8192];
    while (atomic_load(&received) < 4 * queue_len) {
        struct pollfd pfd = {.fd = listener, .events = POLLIN};
        if (poll(&pfd, 1, 20000) != 1)
            break;
        if (recv(listener, buf, sizeof(buf), 0) > 0)
            atomic_fetch_add(&received, 1);
    }
    return NULL;
}

/* The sender's thread is the test's; it sends while the reader sleeps. The reader starts after
 * the queue is full: each send past it must wait for the reader, not abort, and nothing is lost. */
Test(uevent_pacing, a_listener_behind_gets_every_uevent_late_and_the_sender_lives)
{
    pthread_t reader;
    cr_assert_eq(pthread_create(&reader, NULL, late_reader, NULL), 0);
    for (int i = 0; i < queue_len; i++)
        umockdev_testbed_uevent(testbed, syspath, "change");
    atomic_store(&reading, true); /* the queue is full: from here each send may wait */
    for (int i = queue_len; i < 4 * queue_len; i++)
        umockdev_testbed_uevent(testbed, syspath, "change");
    pthread_join(reader, NULL);
    cr_assert_eq(atomic_load(&received), 4 * queue_len, "every uevent arrived, late");
}

/* A listener that never reads (stopped, in a debugger) costs each uevent past its queue the
 * pacing limit, then that uevent is dropped, as the kernel drops what a full socket cannot take;
 * the sender goes on and what the queue took is intact. */
Test(uevent_pacing, a_listener_that_never_reads_loses_the_uevent_past_its_queue_not_the_sender)
{
    for (int i = 0; i < queue_len; i++)
        umockdev_testbed_uevent(testbed, syspath, "change");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    umockdev_testbed_uevent(testbed, syspath, "change"); /* one too many */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_geq(waited, 4.9, "the one too many waited for room before it was dropped (%.2f s)",
                  waited);
    cr_assert_eq(drain(), queue_len);
    umockdev_testbed_uevent(testbed, syspath, "change"); /* room again: delivered at once */
    cr_assert_eq(drain(), 1);
}
