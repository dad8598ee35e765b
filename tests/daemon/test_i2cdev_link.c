/* The daemon's i2c-dev transport (transport/i2cdev/i2cdev_link.h) against the simulator's i2c-dev
 * engine served by the umockdev bridge in this process (run with
 * LD_PRELOAD=libumockdev-preload.so.0), on two adapters: /dev/i2c-1 a generic controller
 * (fault-codes.rst's errnos) and /dev/i2c-2 a CP2112 behind hid-cp2112 as the kernel's driver
 * answers (driver=hid-cp2112: an address NACK and a held bus are ETIMEDOUT, arbitration lost
 * and success after the chip's retry EIO). Each bus has distributors A (0x08) and C (0x0A).
 * Assertions look at what the link reports to the poller: acked reads, stuck, the poll's
 * result. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "transport/i2cdev/i2cdev_link.h"
#include "front/i2cdev_bridge.h"
#include "front/usb_bridge.h"
#include "model/i2c_bus.h"
#include "model/i2cdev.h"
#include "model/lynx_slave.h"
#include "../sim/rogue_slave.h"

#define GENERIC    0
#define CP2112     1
#define BCM2835    2 /* controller=bcm2835: i2c-bcm2835's errnos and adapter timeout */
#define SMBUS      3 /* an SMBus-only host controller (I2C_SLAVE + receive byte) */
#define N_ADAPTERS 4

struct adapter {
    struct sim_i2c_bus *bus;
    struct sim_lynx *a, *c;
    struct sim_i2cdev *dev;
    struct bus_link *link;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_usb_bridge *usb;
static struct sim_i2cdev_bridge *bridge;
static struct adapter adapters[N_ADAPTERS];

static void make(struct adapter *ad, unsigned bus, enum sim_i2cdev_driver driver,
                 enum sim_i2cdev_funcs funcs)
{
    ad->bus = sim_i2c_bus_new();
    ad->a = sim_lynx_new('A');
    ad->c = sim_lynx_new('C');
    cr_assert_eq(sim_lynx_attach(ad->a, ad->bus), 0);
    cr_assert_eq(sim_lynx_attach(ad->c, ad->bus), 0);
    struct sim_i2cdev_config cfg = {.driver = driver, .funcs = funcs};
    ad->dev = sim_i2cdev_new(ad->bus, &cfg);
    cr_assert_not_null(ad->dev);
    cr_assert_eq(sim_i2cdev_bridge_add(bridge, ad->dev, bus, "test", true), 0);
    cr_assert_eq(i2cdev_link_new(bus, &ad->link), 0);
}

static void setup(void)
{
    usb = sim_usb_bridge_new(&lock);
    cr_assert_not_null(usb, "umockdev bridge (is LD_PRELOAD=libumockdev-preload.so.0 set?)");
    bridge = sim_i2cdev_bridge_new(usb, &lock);
    cr_assert_not_null(bridge);
    make(&adapters[GENERIC], 1, SIM_I2CDEV_DRIVER_GENERIC, SIM_I2CDEV_FUNCS_I2C);
    make(&adapters[CP2112], 2, SIM_I2CDEV_DRIVER_HID_CP2112, SIM_I2CDEV_FUNCS_I2C);
    make(&adapters[BCM2835], 3, SIM_I2CDEV_DRIVER_BCM2835, SIM_I2CDEV_FUNCS_I2C);
    make(&adapters[SMBUS], 4, SIM_I2CDEV_DRIVER_GENERIC, SIM_I2CDEV_FUNCS_SMBUS);
}

static void teardown(void)
{
    for (int i = 0; i < N_ADAPTERS; i++)
        adapters[i].link->ops->free(adapters[i].link);
    sim_i2cdev_bridge_stop(bridge);
    sim_usb_bridge_free(usb);
    sim_i2cdev_bridge_free(bridge);
    for (int i = 0; i < N_ADAPTERS; i++) {
        struct adapter *ad = &adapters[i];
        sim_i2cdev_free(ad->dev);
        sim_lynx_free(ad->a);
        sim_lynx_free(ad->c);
        sim_i2c_bus_free(ad->bus);
    }
}

TestSuite(i2cdev_link, .init = setup, .fini = teardown);

/* The link's ioctls run on its worker thread: an operation completes from dispatch once its
 * event_fd polls readable, never before its start call returns. */
static int completed;

static void done(struct bus_link *link, int rc, void *user)
{
    (void)link, (void)user;
    completed = rc;
}

/* As the daemon's loop does: waits (generously) for the event fd, then dispatches. */
static void finish(struct adapter *ad)
{
    cr_assert_eq(completed, 1, "completed before the start call returned");
    cr_assert(ad->link->ops->busy(ad->link));
    struct pollfd pfd = {.fd = ad->link->ops->event_fd(ad->link), .events = POLLIN};
    cr_assert_geq(pfd.fd, 0);
    while (completed == 1) {
        cr_assert_eq(poll(&pfd, 1, 30000), 1, "the worker never rang");
        ad->link->ops->dispatch(ad->link);
    }
    cr_assert_not(ad->link->ops->busy(ad->link));
}

static void open_link(struct adapter *ad)
{
    completed = 1;
    cr_assert_eq(ad->link->ops->open(ad->link, done, NULL), 0, "%s",
                 ad->link->ops->error(ad->link));
    finish(ad);
    cr_assert_eq(completed, 0, "%s", ad->link->ops->error(ad->link));
}

/* A read of n addresses; returns the operation's result. */
static int read_n(struct adapter *ad, const uint8_t *addresses, size_t n, struct bus_read *out,
                  bool *stuck)
{
    completed = 1;
    int rc = ad->link->ops->read(ad->link, addresses, n, out, stuck, done, NULL);
    cr_assert_eq(rc, 0, "read: %s", strerror(-rc));
    finish(ad);
    return completed;
}

/* One scan of 0x08-0x0B; returns the poll's result. */
static int scan(struct adapter *ad, struct bus_read out[4], bool *stuck)
{
    static const uint8_t addresses[4] = {0x08, 0x09, 0x0A, 0x0B};
    return read_n(ad, addresses, 4, out, stuck);
}

static void expect_acked(const struct bus_read out[4], bool a, bool b, bool c, bool d)
{
    const bool want[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i].acked, want[i], "0x%02X acked %d, expected %d", out[i].address,
                     out[i].acked, want[i]);
}

static void with_lock(void (*fn)(struct adapter *), struct adapter *ad)
{
    pthread_mutex_lock(&lock);
    fn(ad);
    pthread_mutex_unlock(&lock);
}

Test(i2cdev_link, present_and_absent_distributors_read_the_same_through_either_driver)
{
    for (int i = 0; i < 2; i++) {
        struct adapter *ad = &adapters[i];
        sim_lynx_set_fuse_open(ad->c, 2, true);
        open_link(ad);
        struct bus_read out[4];
        bool stuck = true;
        cr_assert_eq(scan(ad, out, &stuck), 0, "%s", ad->link->ops->error(ad->link));
        cr_assert_not(stuck);
        expect_acked(out, true, false, true, false); /* B and D: ENXIO, or ETIMEDOUT */
        cr_assert_eq(out[0].data, 0x00);
        cr_assert_eq(out[2].data, 0x20);
    }
}

static void nack_once(struct adapter *ad)
{
    cr_assert_eq(sim_lynx_script(ad->a, (const int16_t[]){SIM_LYNX_SCRIPT_NACK, 0x10}, 2), 0);
}

/* hid-cp2112 makes EIO of the chip's "success after retries": one missed read, as the generic
 * adapter's ENXIO, not a failed poll. */
Test(i2cdev_link, a_distributor_that_nacks_once_is_one_missed_read_through_either_driver)
{
    for (int i = 0; i < 2; i++) {
        struct adapter *ad = &adapters[i];
        open_link(ad);
        with_lock(nack_once, ad);
        struct bus_read out[4];
        bool stuck = true;
        cr_assert_eq(scan(ad, out, &stuck), 0, "%s: %s", i ? "cp2112" : "generic",
                     ad->link->ops->error(ad->link));
        cr_assert_not(stuck);
        expect_acked(out, false, false, true, false);
        cr_assert(ad->link->open);
        cr_assert_eq(scan(ad, out, &stuck), 0);
        expect_acked(out, true, false, true, false);
        cr_assert_eq(out[0].data, i == CP2112 ? 0x00 : 0x10,
                     "the generic adapter's next transaction gets the scripted byte; the CP2112's "
                     "retry took it and the driver dropped it");
    }
}

Test(i2cdev_link, arbitration_lost_on_a_cp2112_is_missed_reads_and_the_adapter_stays)
{
    struct adapter *ad = &adapters[CP2112];
    open_link(ad);
    struct rogue_slave r = {0};
    pthread_mutex_lock(&lock);
    cr_assert_eq(sim_i2c_bus_attach(ad->bus, &rogue_slave_ops, &r), 0);
    pthread_mutex_unlock(&lock);
    struct bus_read out[4];
    bool stuck = true;
    cr_assert_eq(scan(ad, out, &stuck), 0, "EIO is no transport error: %s",
                 ad->link->ops->error(ad->link));
    cr_assert_not(stuck);
    expect_acked(out, false, false, false, false);
    pthread_mutex_lock(&lock);
    sim_i2c_bus_detach(ad->bus, &r);
    pthread_mutex_unlock(&lock);
    cr_assert_eq(scan(ad, out, &stuck), 0);
    expect_acked(out, true, false, true, false);
}

static void stick(struct adapter *ad)
{
    sim_lynx_stick_sda(ad->a);
}

Test(i2cdev_link, a_held_sda_is_a_stuck_bus_on_the_generic_adapter_and_absence_on_a_cp2112)
{
    struct bus_read out[4];
    bool stuck = false;
    struct adapter *generic = &adapters[GENERIC], *cp2112 = &adapters[CP2112];
    open_link(generic);
    with_lock(stick, generic);
    cr_assert_eq(scan(generic, out, &stuck), 0);
    cr_assert(stuck, "EAGAIN: a line held low");

    open_link(cp2112);
    with_lock(stick, cp2112);
    stuck = true;
    cr_assert_eq(scan(cp2112, out, &stuck), 0);
    cr_assert_not(stuck, "hid-cp2112 says ETIMEDOUT, as for a NACK");
    expect_acked(out, false, false, false, false);
    cr_assert(cp2112->link->open);
}

static void stall_next(struct adapter *ad)
{
    sim_i2cdev_fail_transfers(ad->dev, 1, EPIPE);
}

Test(i2cdev_link, a_stalled_usb_transfer_fails_the_poll_as_a_transport_error)
{
    struct adapter *ad = &adapters[CP2112];
    open_link(ad);
    with_lock(stall_next, ad);
    struct bus_read out[4];
    bool stuck;
    cr_assert_eq(scan(ad, out, &stuck), -EPIPE);
    cr_assert_str_eq(ad->link->ops->error(ad->link), "reading 0x08: Broken pipe");
    cr_assert(ad->link->open, "the node is still there");
    cr_assert_eq(scan(ad, out, &stuck), 0);
}

Test(i2cdev_link, unplug_mid_transfer_is_enodev_and_the_link_lets_go)
{
    struct adapter *ad = &adapters[CP2112];
    open_link(ad);
    cr_assert_eq(sim_i2cdev_bridge_unplug_mid_transfer(bridge, ad->dev), 0);
    struct bus_read out[4];
    bool stuck;
    cr_assert_eq(scan(ad, out, &stuck), -ENODEV);
    cr_assert(ad->link->unplugged);
    cr_assert_not(ad->link->open);
}

/* What lstat finds at the testbed's path (e.g. "/dev/i2c-2"): true when something is there. */
static bool in_testbed(const char *path)
{
    char full[512];
    struct stat st;
    snprintf(full, sizeof(full), "%s%s", getenv("UMOCKDEV_DIR"), path);
    return lstat(full, &st) == 0;
}

/* An unplugged bus leaves nothing behind, as with the kernel: not its node, not its
 * /sys/dev/char link (umockdev alone leaves a dangling one, front/removal.h); a replug brings
 * both back and the link opens again. */
Test(i2cdev_link, an_unplugged_bus_leaves_neither_node_nor_sys_dev_char_link)
{
    struct adapter *ad = &adapters[CP2112];
    for (int replug = 0; replug < 3; replug++) {
        cr_assert(in_testbed("/dev/i2c-2") && in_testbed("/sys/dev/char/89:2"));
        cr_assert_eq(sim_i2cdev_bridge_unplug(bridge, ad->dev), 0);
        cr_assert_not(in_testbed("/dev/i2c-2"));
        cr_assert_not(in_testbed("/sys/dev/char/89:2"), "replug %d: the link went", replug);
        cr_assert(in_testbed("/sys/dev/char/89:1"), "the other bus keeps its link");
        cr_assert_eq(sim_i2cdev_bridge_plug(bridge, ad->dev), 0);
    }
    open_link(ad);
}

/* ---- i2c-bcm2835 (controller=bcm2835), and the worker thread ---- */

static const uint8_t with_canary[5] = {0x08, 0x09, 0x0A, 0x0B, 0x7F};

static void hold_scl(struct adapter *ad)
{
    sim_lynx_hold_line(ad->c, false, true);
}

static void let_scl_go(struct adapter *ad)
{
    sim_lynx_hold_line(ad->c, false, false);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* i2c-bcm2835 answers a transfer on a held SCL with ETIMEDOUT after the adapter's timeout (1 s):
 * the ioctl waits on the link's worker, other adapters are read meanwhile, and the link reads no
 * further address of that scan (a bus that did not finish: stuck). */
Test(i2cdev_link, a_held_scl_on_a_bcm2835_costs_one_adapter_timeout_on_the_worker_not_the_caller)
{
    struct adapter *pi = &adapters[BCM2835], *other = &adapters[GENERIC];
    open_link(pi);
    open_link(other);
    with_lock(hold_scl, pi);
    struct bus_read out[5], other_out[4];
    bool stuck = false, other_stuck = true;
    const double began = now_s();
    completed = 1;
    cr_assert_eq(pi->link->ops->read(pi->link, with_canary, 5, out, &stuck, done, NULL), 0);
    cr_assert_eq(completed, 1, "the start call returned before the ioctl did");
    cr_assert(pi->link->ops->busy(pi->link));
    int pi_completed = completed;
    /* meanwhile another adapter is read (its own worker; the simulator holds only the Pi's
     * answer back) */
    cr_assert_eq(scan(other, other_out, &other_stuck), 0);
    expect_acked(other_out, true, false, true, false);
    completed = pi_completed;
    cr_assert(pi->link->ops->busy(pi->link), "the Pi's read still waits for its timeout");
    finish(pi);
    cr_assert_eq(completed, 0, "not a transport failure: %s", pi->link->ops->error(pi->link));
    cr_assert_geq(now_s() - began, 0.9, "answered after the adapter's timeout");
    cr_assert(stuck, "ETIMEDOUT on i2c-bcm2835: the bus did not finish");
    cr_assert(out[0].timed_out);
    cr_assert_not(out[0].acked);
    const struct sim_i2cdev_stats *st = sim_i2cdev_stats(pi->dev);
    cr_assert_eq(st->ioctl_rdwr, 1, "no further address read after the timeout");
    cr_assert_eq(st->timeouts, 1);
    with_lock(let_scl_go, pi);
    cr_assert_eq(read_n(pi, with_canary, 5, out, &stuck), 0);
    cr_assert_not(stuck);
    expect_acked(out, true, false, true, false);
    cr_assert_not(out[4].acked, "nobody at the canary");
}

static void hold_sda(struct adapter *ad)
{
    sim_lynx_hold_line(ad->c, true, true);
}

/* No arbitration check: the link sees every address ACK with 0x00, the canary too; telling that
 * from "all good" is the poller's business (test_poller.c). */
Test(i2cdev_link, a_held_sda_on_a_bcm2835_acks_every_address_even_the_canary)
{
    struct adapter *pi = &adapters[BCM2835];
    open_link(pi);
    with_lock(hold_sda, pi);
    struct bus_read out[5];
    bool stuck = true;
    cr_assert_eq(read_n(pi, with_canary, 5, out, &stuck), 0);
    cr_assert_not(stuck, "i2c-bcm2835 never says EAGAIN or EBUSY");
    for (int i = 0; i < 5; i++) {
        cr_assert(out[i].acked, "0x%02X", out[i].address);
        cr_assert_eq(out[i].data, 0x00);
    }
}

static void bind_b(struct adapter *ad)
{
    sim_i2cdev_bind_address(ad->dev, 0x09, true);
}

/* On the SMBus fallback I2C_SLAVE says EBUSY for an address a kernel driver has bound: that
 * address is not read, the others are. */
Test(i2cdev_link, an_address_a_kernel_driver_owns_fails_only_that_address_on_the_smbus_fallback)
{
    struct adapter *ad = &adapters[SMBUS];
    open_link(ad);
    with_lock(bind_b, ad);
    struct bus_read out[4];
    bool stuck = true;
    cr_assert_eq(scan(ad, out, &stuck), 0, "%s", ad->link->ops->error(ad->link));
    cr_assert_not(stuck);
    expect_acked(out, true, false, true, false);
    cr_assert_eq(sim_i2cdev_stats(ad->dev)->ioctl_slave, 4);
    cr_assert_eq(sim_i2cdev_stats(ad->dev)->ioctl_smbus, 3, "0x09 is not read");
}
