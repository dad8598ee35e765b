/* The umockdev bridge seen by a real libusb client in this process (run under the preload).
 *
 * One file: both sections (the client's view, faults) run on one fixture (a bridge with its
 * adapters and a libusb context, set up around each test) and the client helpers above them;
 * split, the parts would share all of it through globals for two sections of one topic. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/ft232h.h"
#include "front/usb_bridge.h"

#define TIMEOUT_MS 2000
#define VENDOR_OUT (LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_ENDPOINT_OUT)
#define VENDOR_IN  (LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_ENDPOINT_IN)

static pthread_mutex_t hw_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_usb_bridge *bridge;
static struct sim_ft232h *adapter, *second;
static libusb_context *ctx;
static char *testbed_dir;

static struct sim_ft232h *new_adapter(const char *serial)
{
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = SIM_LYNX_ADAPTER_PID, .serial = serial};
    struct sim_ft232h *dev = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(dev);
    return dev;
}

static void setup(void)
{
    bridge = sim_usb_bridge_new(&hw_lock);
    cr_assert_not_null(bridge);
    testbed_dir = strdup(getenv("UMOCKDEV_DIR"));
    adapter = new_adapter("LX000001");
    cr_assert_eq(sim_usb_bridge_add(bridge, adapter), 0);
    cr_assert_eq(libusb_init(&ctx), 0);
}

static void teardown(void)
{
    libusb_exit(ctx); /* clients first: the bridge must outlive every open device */
    sim_usb_bridge_free(bridge);
    cr_expect_neq(access(testbed_dir, F_OK), 0, "the testbed directory is removed");
    free(testbed_dir);
    sim_ft232h_free(adapter);
    sim_ft232h_free(second);
    second = NULL;
}

TestSuite(usb_bridge, .init = setup, .fini = teardown, .timeout = 120);

static libusb_device_handle *open_adapter(void)
{
    libusb_device_handle *h =
        libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID);
    cr_assert_not_null(h, "the simulated adapter opens by VID/PID");
    cr_assert_eq(libusb_claim_interface(h, 0), 0);
    return h;
}

static int vendor_out(libusb_device_handle *h, uint8_t request, uint16_t value)
{
    return libusb_control_transfer(h, VENDOR_OUT, request, value, 1, NULL, 0, TIMEOUT_MS);
}

static int bulk_read(libusb_device_handle *h, uint8_t *buf, int len)
{
    int got = -1;
    int ret = libusb_bulk_transfer(h, SIM_FT232H_EP_IN, buf, len, &got, TIMEOUT_MS);
    return ret < 0 ? ret : got;
}

static void bulk_write(libusb_device_handle *h, const uint8_t *bytes, int len)
{
    int sent = -1;
    cr_assert_eq(
        libusb_bulk_transfer(h, SIM_FT232H_EP_OUT, (uint8_t *)bytes, len, &sent, TIMEOUT_MS), 0);
    cr_assert_eq(sent, len);
}

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 +
           (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static int count_adapters(void)
{
    libusb_device **list;
    int found = 0;
    ssize_t n = libusb_get_device_list(ctx, &list);

    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        libusb_get_device_descriptor(list[i], &d);
        found += d.idVendor == SIM_FTDI_VID && d.idProduct == SIM_LYNX_ADAPTER_PID;
    }
    libusb_free_device_list(list, 1);
    return found;
}

Test(usb_bridge, the_adapter_enumerates_with_the_ft232h_descriptor)
{
    libusb_device **list;
    struct libusb_device_descriptor d;
    struct libusb_config_descriptor *config;

    cr_assert_eq(libusb_get_device_list(ctx, &list), 1);
    cr_assert_eq(libusb_get_device_descriptor(list[0], &d), 0);
    cr_assert_eq(d.idVendor, 0x0403);
    cr_assert_eq(d.idProduct, 0xD4F8);
    cr_assert_eq(d.bcdDevice, 0x0900);
    cr_assert_eq(d.iSerialNumber, 3);
    cr_assert_eq(libusb_get_bus_number(list[0]), 1);

    cr_assert_eq(libusb_get_active_config_descriptor(list[0], &config), 0);
    cr_assert_eq(config->bNumInterfaces, 1);
    cr_assert_eq(config->interface[0].altsetting[0].bInterfaceClass, 0xFF);
    cr_assert_eq(config->interface[0].altsetting[0].bNumEndpoints, 2);
    cr_assert_eq(config->interface[0].altsetting[0].endpoint[0].bEndpointAddress, 0x81);
    cr_assert_eq(config->interface[0].altsetting[0].endpoint[0].wMaxPacketSize, 512);
    libusb_free_config_descriptor(config);
    libusb_free_device_list(list, 1);
}

Test(usb_bridge, string_descriptors_and_the_serial_are_read_by_control_transfers)
{
    libusb_device_handle *h = open_adapter();
    unsigned char text[64];

    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 1, text, sizeof(text)), 4);
    cr_assert_str_eq((char *)text, "FTDI");
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 2, text, sizeof(text)), 15);
    cr_assert_str_eq((char *)text, "Single RS232-HS");
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 3, text, sizeof(text)), 8);
    cr_assert_str_eq((char *)text, "LX000001");
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 4, text, sizeof(text)), LIBUSB_ERROR_PIPE);
    libusb_close(h);
}

Test(usb_bridge, vendor_requests_reach_the_model)
{
    libusb_device_handle *h = open_adapter();
    uint8_t data[2] = {0};

    cr_assert_eq(vendor_out(h, 0x00, 0), 0, "RESET");
    cr_assert_eq(vendor_out(h, 0x09, 2), 0, "SET_LATENCY_TIMER");
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x0A, 0, 1, data, 1, TIMEOUT_MS), 1);
    cr_assert_eq(data[0], 2);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x05, 0, 1, data, 2, TIMEOUT_MS), 2);
    cr_assert_eq(data[0], 0x32);
    cr_assert_eq(data[1], 0x60);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x90, 0, 0, data, 2, TIMEOUT_MS), 2);
    cr_assert_eq(data[0], 0xFF);
    cr_assert_eq(vendor_out(h, 0x91, 0), LIBUSB_ERROR_PIPE, "WRITE_EEPROM is not modelled");

    pthread_mutex_lock(&hw_lock);
    cr_assert_eq(sim_ft232h_latency_ms(adapter), 2);
    cr_assert_eq(sim_ft232h_stats(adapter)->control_in, 3);
    pthread_mutex_unlock(&hw_lock);
    libusb_close(h);
}

Test(usb_bridge, a_pin_read_in_mpsse_mode_comes_back_behind_the_status_bytes)
{
    libusb_device_handle *h = open_adapter();
    const uint8_t cmd[] = {0x80, 0x70, 0x70, 0x81, 0x87};
    uint8_t buf[512], pins = 0;

    cr_assert_eq(vendor_out(h, 0x0B, 0x0200), 0, "SET_BITMODE MPSSE");
    bulk_write(h, cmd, sizeof(cmd));
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 3);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_eq(buf[2] & 0x70, 0x70);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x0C, 0, 1, &pins, 1, TIMEOUT_MS), 1);
    cr_assert_eq(pins, buf[2], "READ_PINS agrees with the 0x81 reply");
    libusb_close(h);
}

Test(usb_bridge, an_idle_read_returns_a_bare_status_packet_after_the_latency_timer)
{
    libusb_device_handle *h = open_adapter();
    uint8_t buf[512];
    struct timespec start;

    /* The timer restarts when the model completes the first read, which a loaded machine may
     * report to this thread late: a 200 ms timer and a 100 ms bound keep the check about what
     * matters (the read waited for the timer, not for nothing and not for the USB timeout). */
    cr_assert_eq(vendor_out(h, 0x09, 200), 0);
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2, "first read restarts the timer");
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2);
    double waited = elapsed_ms(&start);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_geq(waited, 100.0, "waited %.1f ms for a 200 ms latency timer", waited);
    cr_assert_lt(waited, 1000.0, "waited %.1f ms", waited);
    libusb_close(h);
}

static void LIBUSB_CALL mark_done(struct libusb_transfer *t)
{
    *(int *)t->user_data = 1;
}

static void run_until(const int *flag)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!*flag && elapsed_ms(&start) < TIMEOUT_MS) {
        struct timeval tv = {0, 20000};
        libusb_handle_events_timeout_completed(ctx, &tv, (int *)flag);
    }
}

Test(usb_bridge, a_cancelled_read_completes_as_cancelled)
{
    libusb_device_handle *h = open_adapter();
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    uint8_t buf[512];
    int done = 0;

    cr_assert_eq(vendor_out(h, 0x09, 255), 0);
    libusb_fill_bulk_transfer(t, h, SIM_FT232H_EP_IN, buf, sizeof(buf), mark_done, &done, 0);
    cr_assert_eq(libusb_submit_transfer(t), 0);
    cr_assert_eq(libusb_cancel_transfer(t), 0);
    run_until(&done);
    cr_assert(done);
    cr_assert_eq(t->status, LIBUSB_TRANSFER_CANCELLED);
    libusb_free_transfer(t);
    libusb_close(h);
}

struct hotplug_count {
    int arrived, left;
};

static int LIBUSB_CALL count_hotplug(libusb_context *c, libusb_device *d, libusb_hotplug_event ev,
                                     void *user)
{
    struct hotplug_count *n = user;
    (void)c;
    (void)d;
    if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED)
        n->arrived++;
    else
        n->left++;
    return 0;
}

static libusb_hotplug_callback_handle watch_hotplug(struct hotplug_count *n)
{
    libusb_hotplug_callback_handle cb;
    cr_assert_eq(libusb_hotplug_register_callback(
                     ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
                     SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, LIBUSB_HOTPLUG_MATCH_ANY, count_hotplug, n,
                     &cb),
                 0);
    return cb;
}

Test(usb_bridge, unplug_fails_transfers_with_no_device_and_reports_the_device_left)
{
    struct hotplug_count events = {0};
    libusb_hotplug_callback_handle cb = watch_hotplug(&events);
    libusb_device_handle *h = open_adapter();
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    uint8_t buf[512];
    int done = 0;

    cr_assert_eq(vendor_out(h, 0x09, 255), 0);
    libusb_fill_bulk_transfer(t, h, SIM_FT232H_EP_IN, buf, sizeof(buf), mark_done, &done, 0);
    cr_assert_eq(libusb_submit_transfer(t), 0);

    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
    cr_assert_not(sim_usb_bridge_plugged(bridge, adapter));
    run_until(&done);
    cr_assert_eq(t->status, LIBUSB_TRANSFER_NO_DEVICE, "the waiting read fails");
    cr_assert_eq(vendor_out(h, 0x09, 16), LIBUSB_ERROR_NO_DEVICE);
    run_until(&events.left);
    cr_assert_eq(events.left, 1);
    cr_assert_eq(count_adapters(), 0);

    libusb_free_transfer(t);
    libusb_close(h);
    libusb_hotplug_deregister_callback(ctx, cb);
}

Test(usb_bridge, plugging_in_again_makes_the_adapter_arrive_under_a_new_address)
{
    struct hotplug_count events = {0};
    libusb_hotplug_callback_handle cb = watch_hotplug(&events);
    libusb_device_handle *h = open_adapter();
    const uint8_t old_address = libusb_get_device_address(libusb_get_device(h));
    unsigned char serial[32];

    libusb_close(h);
    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), -EALREADY);
    run_until(&events.left);
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    cr_assert(sim_usb_bridge_plugged(bridge, adapter));
    run_until(&events.arrived);
    cr_assert_eq(events.arrived, 1);

    h = open_adapter();
    cr_assert_neq(libusb_get_device_address(libusb_get_device(h)), old_address);
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 3, serial, sizeof(serial)), 8);
    cr_assert_str_eq((char *)serial, "LX000001");
    libusb_close(h);
    libusb_hotplug_deregister_callback(ctx, cb);
}

/* Handles libusb events until *counter reaches target (or the timeout). */
static void wait_count(const int *counter, int target)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (*counter < target && elapsed_ms(&start) < TIMEOUT_MS) {
        struct timeval tv = {0, 20000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    cr_assert_geq(*counter, target, "%d hot-plug events of %d", *counter, target);
}

/* The adapter at a device address (NULL when libusb does not list it). */
static libusb_device_handle *open_address(uint8_t address)
{
    libusb_device **list;
    libusb_device_handle *h = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n && !h; i++)
        if (libusb_get_device_address(list[i]) == address)
            cr_assert_eq(libusb_open(list[i], &h), 0);
    libusb_free_device_list(list, 1);
    return h;
}

/* The number after `after` that is not `taken`, as Linux's choose_devnum gives it (2..127). */
static int next_devnum(int after, int taken)
{
    int n = after == 127 ? 2 : after + 1;
    return n == taken ? next_devnum(n, taken) : n;
}

/* Device numbers as on a real hub: the next free one after the last assigned, wrapping around and
 * skipping one in use, so a soak can replug without limit. A client's descriptor opened before a
 * number came back stays dead; a new open of the same node reaches the replugged adapter. */
Test(usb_bridge, device_numbers_wrap_around_as_on_a_real_hub_and_never_collide)
{
    struct hotplug_count events = {0};
    libusb_hotplug_callback_handle cb = watch_hotplug(&events);
    second = new_adapter("LX000002");
    cr_assert_eq(sim_usb_bridge_add(bridge, second), 0);
    const int fixed = sim_usb_bridge_devnum(bridge, second);
    int devnum = sim_usb_bridge_devnum(bridge, adapter);
    cr_assert_eq(devnum, 2);
    cr_assert_eq(fixed, 3);
    libusb_device_handle *stale = open_address((uint8_t)devnum);
    cr_assert_not_null(stale);
    int wraps = 0, reopened = 0;

    for (int cycle = 0; cycle < 300; cycle++) {
        cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
        cr_assert_eq(sim_usb_bridge_devnum(bridge, adapter), -ENODEV);
        wait_count(&events.left, cycle + 1); /* libusb sees every replug, as from a real hub */
        cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
        wait_count(&events.arrived, cycle + 2); /* the second adapter's, then one a cycle */
        const int now = sim_usb_bridge_devnum(bridge, adapter);
        cr_assert_eq(now, next_devnum(devnum, fixed), "cycle %d: %d after %d", cycle, now, devnum);
        cr_assert_eq(sim_usb_bridge_devnum(bridge, second), fixed);
        wraps += now < devnum;
        devnum = now;
        if (devnum != 2)
            continue;
        /* the node of the first plug-in is back: the old descriptor still has no device */
        cr_assert_eq(vendor_out(stale, 0x09, 16), LIBUSB_ERROR_NO_DEVICE);
        libusb_device_handle *h = open_address((uint8_t)devnum);
        cr_assert_not_null(h, "the replugged adapter is listed at address %d", devnum);
        cr_assert_eq(vendor_out(h, 0x09, 16), 0);
        libusb_close(h);
        reopened++;
    }
    cr_assert_eq(wraps, 2, "300 plug-ins over 125 free numbers");
    cr_assert_eq(reopened, 2);
    libusb_close(stale);
    libusb_hotplug_deregister_callback(ctx, cb);
}

/* The adapter that /sys/dev/char/189:M names for devnum (on bus 1, minor = devnum - 1), by its
 * serial; "" when there is no link (lstat fails), "dangling" when it leads nowhere. */
static const char *char_link_serial(int devnum, char *out, size_t size)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/sys/dev/char/189:%d", testbed_dir, devnum - 1);
    if (lstat(path, &st) < 0)
        return "";
    strncat(path, "/serial", sizeof(path) - strlen(path) - 1);
    FILE *f = fopen(path, "r");
    if (!f)
        return "dangling";
    if (!fgets(out, (int)size, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* Two adapters unplugged and plugged in a random (fixed) order, both out at times, so that each
 * in turn takes numbers the other had: /sys/dev/char holds a link for exactly the numbers in use,
 * each to its own adapter. umockdev 0.17.16 leaves a removed device's link behind (it unlinks the
 * `dev` attribute's value with its newline): it named the wrong adapter, and an add of a number
 * whose link led nowhere aborted lynx-sim ("failed to symlink ... File exists"). */
Test(usb_bridge, two_adapters_replugged_a_thousand_times_keep_sys_dev_char_true)
{
    second = new_adapter("LX000002");
    cr_assert_eq(sim_usb_bridge_add(bridge, second), 0);
    struct sim_ft232h *const adapters[2] = {adapter, second};
    const char *const serials[2] = {"LX000001", "LX000002"};
    int devnums[2] = {sim_usb_bridge_devnum(bridge, adapter),
                      sim_usb_bridge_devnum(bridge, second)};
    unsigned seed = 7;
    char serial[32];

    for (int step = 0, replugs = 0; replugs < 1000; step++) {
        seed = seed * 1103515245u + 12345u;
        const int which = (seed >> 16) & 1;
        if (devnums[which] > 0) {
            cr_assert_eq(sim_usb_bridge_unplug(bridge, adapters[which]), 0);
        } else {
            cr_assert_eq(sim_usb_bridge_plug(bridge, adapters[which]), 0, "step %d", step);
            replugs++;
        }
        const int old = devnums[which];
        devnums[which] = sim_usb_bridge_devnum(bridge, adapters[which]);
        if (old > 0)
            cr_assert_str_empty(char_link_serial(old, serial, sizeof(serial)),
                                "step %d: 189:%d is gone with its device", step, old - 1);
        for (int i = 0; i < 2; i++)
            if (devnums[i] > 0)
                cr_assert_str_eq(char_link_serial(devnums[i], serial, sizeof(serial)), serials[i],
                                 "step %d: 189:%d names its own adapter", step, devnums[i] - 1);
    }
}

Test(usb_bridge, a_replugged_adapter_starts_in_its_power_on_state)
{
    libusb_device_handle *h = open_adapter();
    cr_assert_eq(vendor_out(h, 0x0B, 0x0200), 0);
    cr_assert_eq(vendor_out(h, 0x09, 3), 0);
    libusb_close(h);

    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    pthread_mutex_lock(&hw_lock);
    cr_assert_not(sim_ft232h_mpsse_enabled(adapter));
    cr_assert_eq(sim_ft232h_latency_ms(adapter), 16);
    pthread_mutex_unlock(&hw_lock);
}

Test(usb_bridge, two_adapters_with_different_serials_are_both_found)
{
    libusb_device **list;
    bool seen[2] = {false, false};

    second = new_adapter("LX000002");
    cr_assert_eq(sim_usb_bridge_add(bridge, second), 0);
    cr_assert_eq(sim_usb_bridge_add(bridge, second), -EEXIST);

    ssize_t n = libusb_get_device_list(ctx, &list);
    cr_assert_eq(n, 2);
    for (ssize_t i = 0; i < n; i++) {
        libusb_device_handle *h;
        struct libusb_device_descriptor d;
        unsigned char serial[32];

        cr_assert_eq(libusb_open(list[i], &h), 0);
        libusb_get_device_descriptor(list[i], &d);
        cr_assert_eq(libusb_get_string_descriptor_ascii(h, d.iSerialNumber, serial, sizeof(serial)),
                     8);
        if (strcmp((char *)serial, "LX000001") == 0)
            seen[0] = true;
        if (strcmp((char *)serial, "LX000002") == 0)
            seen[1] = true;
        libusb_close(h);
    }
    libusb_free_device_list(list, 1);
    cr_assert(seen[0] && seen[1]);
}

/* libusb only busy-reaps with REAPURBNDELAY; a blocking REAPURB must be answered by the bridge's
 * timer when the latency timer expires. Spoken here as raw usbdevfs ioctls. */
Test(usb_bridge, a_blocking_reap_returns_when_the_latency_timer_expires)
{
    libusb_device **list;
    char devnode[64];
    uint8_t buf[64];
    struct usbdevfs_urb urb = {.type = USBDEVFS_URB_TYPE_BULK,
                               .endpoint = SIM_FT232H_EP_IN,
                               .buffer = buf,
                               .buffer_length = sizeof(buf)};
    struct usbdevfs_urb *reaped = NULL;
    struct timespec start;

    cr_assert_eq(libusb_get_device_list(ctx, &list), 1);
    snprintf(devnode, sizeof(devnode), "/dev/bus/usb/%03d/%03d", libusb_get_bus_number(list[0]),
             libusb_get_device_address(list[0]));
    libusb_free_device_list(list, 1);
    pthread_mutex_lock(&hw_lock);
    uint64_t wake;
    clock_gettime(CLOCK_MONOTONIC, &start);
    sim_ft232h_bulk_in(adapter, buf, sizeof(buf), /* start the model's timer now */
                       (uint64_t)start.tv_sec * 1000000000ull + (uint64_t)start.tv_nsec, &wake);
    pthread_mutex_unlock(&hw_lock);

    int fd = open(devnode, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ioctl(fd, USBDEVFS_SUBMITURB, &urb), 0);
    cr_assert_eq(ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
    double waited = elapsed_ms(&start);
    cr_assert_eq(reaped, &urb);
    cr_assert_eq(urb.status, 0);
    cr_assert_eq(urb.actual_length, 2);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_geq(waited, 12.0, "waited %.1f ms for the 16 ms latency timer", waited);
    errno = 0;
    cr_assert_eq(ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped), -1);
    cr_assert_eq(errno, EAGAIN);
    close(fd);
}

/* ---- faults, as a libusb client sees them ---- */

static void arm(void (*fault)(struct sim_ft232h *, unsigned), unsigned count)
{
    pthread_mutex_lock(&hw_lock);
    fault(adapter, count);
    pthread_mutex_unlock(&hw_lock);
}

static void enter_mpsse(libusb_device_handle *h)
{
    cr_assert_eq(vendor_out(h, 0x0B, 0x0200), 0, "SET_BITMODE MPSSE");
}

Test(usb_bridge, usb_error_stalls_the_next_bulk_transfers_with_libusb_error_pipe)
{
    libusb_device_handle *h = open_adapter();
    const uint8_t cmd[] = {0x81, 0x87};
    uint8_t buf[512];
    int sent = -1;

    enter_mpsse(h);
    arm(sim_ft232h_fail_bulk, 2);
    cr_assert_eq(
        libusb_bulk_transfer(h, SIM_FT232H_EP_OUT, (uint8_t *)cmd, sizeof(cmd), &sent, TIMEOUT_MS),
        LIBUSB_ERROR_PIPE);
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), LIBUSB_ERROR_PIPE);
    pthread_mutex_lock(&hw_lock);
    cr_assert_eq(sim_ft232h_stats(adapter)->bytes_out, 0, "a stalled OUT delivers nothing");
    pthread_mutex_unlock(&hw_lock);

    bulk_write(h, cmd, sizeof(cmd));
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 3, "the fault is used up");
    libusb_close(h);
}

Test(usb_bridge, usb_timeout_makes_a_read_time_out_and_the_next_one_gets_the_data)
{
    libusb_device_handle *h = open_adapter();
    const uint8_t cmd[] = {0x81, 0x87};
    uint8_t buf[512];
    int got = -1;
    struct timespec start;

    enter_mpsse(h);
    arm(sim_ft232h_hang_bulk_in, 1);
    bulk_write(h, cmd, sizeof(cmd));
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_assert_eq(libusb_bulk_transfer(h, SIM_FT232H_EP_IN, buf, sizeof(buf), &got, 150),
                 LIBUSB_ERROR_TIMEOUT);
    double waited = elapsed_ms(&start);
    cr_assert_geq(waited, 140.0, "timed out after %.1f ms", waited);
    cr_assert_eq(got, 0);
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 3, "the reply stayed queued");
    cr_assert_eq(buf[0], 0x32);
    libusb_close(h);
}

Test(usb_bridge, short_and_empty_reads_reach_the_client)
{
    libusb_device_handle *h = open_adapter();
    const uint8_t cmd[] = {0x81, 0x81, 0x81, 0x81, 0x87};
    uint8_t buf[512];

    enter_mpsse(h);
    arm(sim_ft232h_empty_reads, 1);
    arm(sim_ft232h_short_reads, 1);
    bulk_write(h, cmd, sizeof(cmd));
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2, "empty read");
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2 + 2, "short read: half of four");
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2 + 2, "the rest");
    libusb_close(h);
}

Test(usb_bridge, unplug_mid_transfer_fails_the_next_read_and_the_device_leaves)
{
    struct hotplug_count events = {0};
    libusb_hotplug_callback_handle cb = watch_hotplug(&events);
    libusb_device_handle *h = open_adapter();
    uint8_t buf[512];

    cr_assert_eq(vendor_out(h, 0x09, 255), 0);
    cr_assert_eq(sim_usb_bridge_unplug_mid_transfer(bridge, adapter), 0);
    cr_assert(sim_usb_bridge_plugged(bridge, adapter), "only armed");
    cr_assert_eq(vendor_out(h, 0x09, 255), 0, "control transfers do not trigger it");
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), LIBUSB_ERROR_NO_DEVICE);
    cr_assert_not(sim_usb_bridge_plugged(bridge, adapter));
    run_until(&events.left);
    cr_assert_eq(events.left, 1, "the hot-plug 'left' event is sent");
    cr_assert_eq(count_adapters(), 0);
    libusb_close(h);

    cr_assert_eq(sim_usb_bridge_unplug_mid_transfer(bridge, adapter), -ENODEV);
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    run_until(&events.arrived);
    cr_assert_eq(events.arrived, 1);
    h = open_adapter();
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2, "back to normal after the re-plug");
    libusb_close(h);
    libusb_hotplug_deregister_callback(ctx, cb);
}

Test(usb_bridge, a_plug_right_after_unplug_mid_transfer_waits_for_the_removal)
{
    libusb_device_handle *h = open_adapter();
    uint8_t buf[512];

    cr_assert_eq(sim_usb_bridge_unplug_mid_transfer(bridge, adapter), 0);
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), LIBUSB_ERROR_NO_DEVICE);
    libusb_close(h);
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    cr_assert_eq(count_adapters(), 1, "exactly one device, the new one");
    h = open_adapter();
    cr_assert_eq(bulk_read(h, buf, sizeof(buf)), 2);
    libusb_close(h);
}

Test(usb_bridge, an_ft2232h_enumerates_with_two_interfaces_and_serves_port_b)
{
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = SIM_FT2232H_PID, .serial = "DUAL1", .chip = SIM_CHIP_FT2232H};
    const uint8_t cmd[] = {0x80, 0x70, 0x70, 0x81, 0x87};
    uint8_t buf[512];
    int got = -1;
    struct libusb_config_descriptor *config;

    second = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(second);
    cr_assert_eq(sim_usb_bridge_add(bridge, second), 0);
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_FT2232H_PID);
    cr_assert_not_null(h);
    struct libusb_device_descriptor d;
    libusb_get_device_descriptor(libusb_get_device(h), &d);
    cr_assert_eq(d.bcdDevice, 0x0700);
    cr_assert_eq(libusb_get_active_config_descriptor(libusb_get_device(h), &config), 0);
    cr_assert_eq(config->bNumInterfaces, 2);
    cr_assert_eq(config->interface[1].altsetting[0].endpoint[0].bEndpointAddress, 0x83);
    cr_assert_eq(config->interface[1].altsetting[0].endpoint[1].bEndpointAddress, 0x04);
    libusb_free_config_descriptor(config);

    cr_assert_eq(libusb_claim_interface(h, 1), 0);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_OUT, 0x0B, 0x0200, 2, NULL, 0, TIMEOUT_MS), 0);
    cr_assert_eq(libusb_bulk_transfer(h, 0x04, (uint8_t *)cmd, sizeof(cmd), &got, TIMEOUT_MS), 0);
    cr_assert_eq(libusb_bulk_transfer(h, 0x83, buf, sizeof(buf), &got, TIMEOUT_MS), 0);
    cr_assert_eq(got, 3);
    cr_assert_eq(buf[2] & 0x70, 0x70);
    cr_assert_eq(libusb_bulk_transfer(h, 0x85, buf, sizeof(buf), &got, TIMEOUT_MS), LIBUSB_ERROR_IO,
                 "no endpoint 0x85 on an FT2232H: the submit fails");
    libusb_close(h);
}

Test(usb_bridge, a_read_smaller_than_the_chips_packet_fails_with_libusb_error_overflow)
{
    libusb_device_handle *h = open_adapter();
    uint8_t cmd[41], buf[512];
    memset(cmd, 0x81, sizeof(cmd) - 1);
    cmd[sizeof(cmd) - 1] = 0x87; /* 40 pin reads: a 42-byte packet */

    enter_mpsse(h);
    bulk_write(h, cmd, sizeof(cmd));
    cr_assert_eq(bulk_read(h, buf, 16), LIBUSB_ERROR_OVERFLOW);
    bulk_write(h, cmd, sizeof(cmd));
    cr_assert_eq(bulk_read(h, buf, 42), 42, "a request the packet fits in is fine");
    libusb_close(h);
}

Test(usb_bridge, control_error_stalls_the_next_control_transfers_standard_and_vendor)
{
    libusb_device_handle *h = open_adapter();
    unsigned char text[64];

    arm(sim_ft232h_fail_control, 2);
    cr_assert_eq(vendor_out(h, 0x09, 16), LIBUSB_ERROR_PIPE, "SET_LATENCY_TIMER stalls");
    cr_assert_eq(libusb_get_string_descriptor(h, 1, 0x0409, text, sizeof(text)), LIBUSB_ERROR_PIPE,
                 "GET_DESCRIPTOR stalls");
    cr_assert_eq(vendor_out(h, 0x09, 16), 0, "the third one goes through");
    libusb_close(h);
}

Test(usb_bridge, control_timeout_makes_a_control_transfer_time_out_and_the_next_one_works)
{
    libusb_device_handle *h = open_adapter();
    uint8_t latency = 0;
    struct timespec start;

    arm(sim_ft232h_hang_control, 1);
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x0A, 0, 1, &latency, 1, 150),
                 LIBUSB_ERROR_TIMEOUT);
    cr_assert_geq(elapsed_ms(&start), 140.0);
    cr_assert_eq(libusb_control_transfer(h, VENDOR_IN, 0x0A, 0, 1, &latency, 1, TIMEOUT_MS), 1);
    cr_assert_eq(latency, 16);
    pthread_mutex_lock(&hw_lock);
    cr_assert_eq(sim_ft232h_stats(adapter)->control_unanswered, 1, "counted as unanswered");
    pthread_mutex_unlock(&hw_lock);
    libusb_close(h);
}

static void fail_serial_string(struct sim_ft232h *dev, unsigned count)
{
    (void)count;
    sim_ft232h_fail_serial_string(dev);
}

Test(usb_bridge, string_error_fails_the_serial_number_read_once)
{
    libusb_device_handle *h = open_adapter();
    unsigned char text[64];

    arm(fail_serial_string, 1);
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 1, text, sizeof(text)), 4,
                 "other strings are read");
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 3, text, sizeof(text)), LIBUSB_ERROR_PIPE);
    cr_assert_eq(libusb_get_string_descriptor_ascii(h, 3, text, sizeof(text)), 8, "only once");
    cr_assert_str_eq((char *)text, "LX000001");
    libusb_close(h);
}

static struct sim_usb_driver_stats driver_stats(void)
{
    struct sim_usb_driver_stats st;
    pthread_mutex_lock(&hw_lock);
    cr_assert_eq(sim_usb_bridge_driver_stats_locked(bridge, adapter, &st), 0);
    pthread_mutex_unlock(&hw_lock);
    return st;
}

Test(usb_bridge, a_bound_kernel_driver_refuses_the_claim_until_it_is_detached)
{
    sim_usb_bridge_driver_at_plug(bridge, adapter, true);
    libusb_device_handle *h =
        libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID);
    cr_assert_not_null(h);
    cr_assert_eq(libusb_kernel_driver_active(h, 0), 1, "ftdi_sio is bound");
    cr_assert_eq(libusb_claim_interface(h, 0), LIBUSB_ERROR_BUSY, "a bound interface is busy");
    cr_assert_eq(libusb_detach_kernel_driver(h, 0), 0);
    cr_assert_eq(libusb_kernel_driver_active(h, 0), 0);
    cr_assert_eq(libusb_detach_kernel_driver(h, 0), LIBUSB_ERROR_NOT_FOUND, "nothing to detach");
    cr_assert_eq(libusb_claim_interface(h, 0), 0);
    cr_assert_eq(libusb_attach_kernel_driver(h, 0), LIBUSB_ERROR_BUSY, "claimed: no attach");
    cr_assert_eq(sim_usb_bridge_bind_driver(bridge, adapter), -EBUSY, "nor a bind");
    cr_assert_eq(libusb_release_interface(h, 0), 0);
    int rc = libusb_attach_kernel_driver(h, 0);
    cr_assert_eq(rc, 0, "attach: %s", libusb_error_name(rc));
    cr_assert_eq(libusb_kernel_driver_active(h, 0), 1);
    struct sim_usb_driver_stats st = driver_stats();
    cr_assert(st.bound);
    cr_assert_eq(st.detaches, 1);
    cr_assert_eq(st.attaches, 1);
    libusb_close(h);
}

Test(usb_bridge, a_replug_binds_the_driver_afresh_and_a_bind_takes_a_released_port)
{
    sim_usb_bridge_driver_at_plug(bridge, adapter, true);
    libusb_device_handle *h =
        libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID);
    cr_assert_not_null(h);
    cr_assert_eq(libusb_detach_kernel_driver(h, 0), 0);
    libusb_close(h);
    cr_assert_not(driver_stats().bound, "closing does not give the driver back");
    cr_assert_eq(sim_usb_bridge_bind_driver(bridge, adapter), 0, "another program binds it");
    cr_assert(driver_stats().bound);
    cr_assert_eq(driver_stats().binds, 1);
    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    cr_assert(driver_stats().bound, "a replugged stock adapter is bound again");
}

Test(usb_bridge, without_a_driver_model_nothing_is_bound)
{
    libusb_device_handle *h = open_adapter(); /* claims: no driver on a reprogrammed id */
    cr_assert_eq(libusb_kernel_driver_active(h, 0), 0);
    cr_assert_not(driver_stats().bound);
    libusb_close(h);
}

/* As usbfs: a claim belongs to one open file; another file's claim fails with EBUSY until the
 * holder closes the node (the real kernel showed it under usbredir: umockdev let both claim). */
static bool claim_taken_within(libusb_device_handle *h, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (libusb_claim_interface(h, 0) == 0)
            return true;
        usleep(10000);
    }
    return false;
}

Test(usb_bridge, a_claim_is_one_files_until_it_is_closed)
{
    libusb_device_handle *a = open_adapter(); /* claims interface 0 */
    libusb_device_handle *b =
        libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID);
    cr_assert_not_null(b);
    cr_expect_eq(libusb_claim_interface(b, 0), LIBUSB_ERROR_BUSY, "another file has it");
    cr_expect_eq(libusb_claim_interface(b, 1), LIBUSB_ERROR_NOT_FOUND, "one interface only");
    cr_expect_eq(libusb_release_interface(a, 0), 0);
    cr_expect(claim_taken_within(b, TIMEOUT_MS), "released: free for the other file");
    cr_expect_eq(libusb_claim_interface(a, 0), LIBUSB_ERROR_BUSY);
    libusb_close(b);
    cr_expect(claim_taken_within(a, TIMEOUT_MS), "closing a file ends its claim");
    libusb_close(a);
}

/* The target of the adapter's interface 0 driver link in the testbed's sysfs ("" when none):
 * what a program reads without opening the device (the daemon's USB inventory). */
static const char *sysfs_driver(void)
{
    static char target[256];
    ssize_t n = readlink("/sys/bus/usb/devices/1-1/1-1:1.0/driver", target, sizeof(target) - 1);
    target[n < 0 ? 0 : n] = '\0';
    const char *slash = strrchr(target, '/');
    return slash ? slash + 1 : target;
}

static bool sysfs_has(const char *path)
{
    return access(path, F_OK) == 0;
}

Test(usb_bridge, sysfs_has_interface_0_and_its_driver_link_follows_binding)
{
    cr_assert(sysfs_has("/sys/bus/usb/devices/1-1/serial"));
    cr_assert(sysfs_has("/sys/bus/usb/devices/1-1/1-1:1.0/bInterfaceNumber"));
    cr_assert_str_eq(sysfs_driver(), "", "a reprogrammed id: no driver");
    sim_usb_bridge_driver_at_plug(bridge, adapter, true);
    cr_assert_str_eq(sysfs_driver(), "ftdi_sio");
    libusb_device_handle *h =
        libusb_open_device_with_vid_pid(ctx, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID);
    cr_assert_not_null(h);
    cr_assert_eq(libusb_detach_kernel_driver(h, 0), 0);
    cr_assert_str_eq(sysfs_driver(), "", "detached");
    cr_assert_eq(libusb_attach_kernel_driver(h, 0), 0);
    cr_assert_str_eq(sysfs_driver(), "ftdi_sio", "attached");
    cr_assert_eq(libusb_detach_kernel_driver(h, 0), 0);
    libusb_close(h);
    cr_assert_eq(sim_usb_bridge_bind_driver(bridge, adapter), 0);
    cr_assert_str_eq(sysfs_driver(), "ftdi_sio", "bound by another program");
    cr_assert_eq(sim_usb_bridge_unplug(bridge, adapter), 0);
    cr_assert_not(sysfs_has("/sys/bus/usb/devices/1-1/1-1:1.0"), "gone with its device");
    cr_assert_eq(sim_usb_bridge_plug(bridge, adapter), 0);
    cr_assert_str_eq(sysfs_driver(), "ftdi_sio", "bound afresh at the plug");
}
