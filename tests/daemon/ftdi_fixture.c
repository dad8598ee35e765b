/* The fixture of the ftdi_usb tests (ftdi_fixture.h). */
#include "ftdi_fixture.h"

#include <criterion/criterion.h>

#include <poll.h>
#include <stdio.h>

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
struct sim_usb_bridge *bridge;
static struct sim_i2c_bus *bus;
struct sim_ft232h *model;
struct sim_ft232h *second_model;
struct ftdi_usb_host *host;
struct ftdi_usb_device *dev;

struct sim_ft232h *add_model(uint16_t pid, const char *serial)
{
    struct sim_ft232h_config cfg = {.vid = SIM_FTDI_VID, .pid = pid, .serial = serial};
    struct sim_ft232h *chip = sim_ft232h_new(&cfg, bus);
    cr_assert_not_null(chip);
    cr_assert_eq(sim_usb_bridge_add(bridge, chip), 0);
    return chip;
}

/* The bridge must exist before libusb starts: libusb_init scans the (faked) sysfs. */
void setup(void)
{
    bus = sim_i2c_bus_new();
    cr_assert_not_null(bus);
    bridge = sim_usb_bridge_new(&lock);
    cr_assert_not_null(bridge, "umockdev bridge (is LD_PRELOAD=libumockdev-preload.so.0 set?)");
    model = add_model(SIM_LYNX_ADAPTER_PID, SERIAL_A);
    cr_assert_eq(ftdi_usb_host_new(&host), 0);
    dev = ftdi_usb_device_new(host);
    cr_assert_not_null(dev);
}

void teardown(void)
{
    ftdi_usb_device_free(dev);
    ftdi_usb_host_free(host);
    sim_usb_bridge_free(bridge);
    sim_ft232h_free(model);
    if (second_model)
        sim_ft232h_free(second_model);
    second_model = NULL;
    sim_i2c_bus_free(bus);
}

void open_mpsse(void)
{
    cr_assert_eq(ftdi_usb_open(dev, SIM_FTDI_VID, SIM_LYNX_ADAPTER_PID, SERIAL_A), 0, "%s",
                 ftdi_usb_error(dev));
    cr_assert_eq(ftdi_usb_mpsse_setup(dev, 0), 0, "%s", ftdi_usb_error(dev));
}

void write_all(const uint8_t *bytes, size_t len)
{
    cr_assert_eq(ftdi_usb_write(dev, bytes, len, TIMEOUT_MS), 0, "%s", ftdi_usb_error(dev));
}

struct sim_ft232h_stats stats_of(struct sim_ft232h *chip)
{
    pthread_mutex_lock(&lock);
    struct sim_ft232h_stats s = *sim_ft232h_stats(chip);
    pthread_mutex_unlock(&lock);
    return s;
}

long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

void pump_until(const int *counter, int target, long max_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (*counter < target && elapsed_ms(&start) < max_ms) {
        struct pollfd fds[16];
        int n = ftdi_usb_host_pollfds(host, fds, 16);
        cr_assert_gt(n, 0, "%s", ftdi_usb_host_error(host));
        cr_assert_leq(n, 16);
        poll(fds, (nfds_t)n, 50);
        cr_assert_eq(ftdi_usb_host_handle_events(host), 0, "%s", ftdi_usb_host_error(host));
    }
}

struct ftdi_usb_device_info place_of(struct sim_ft232h *chip, const char *serial)
{
    struct ftdi_usb_device_info at = {.vid = SIM_FTDI_VID, .bus = 1};
    pthread_mutex_lock(&lock);
    at.pid = sim_ft232h_config(chip)->pid;
    pthread_mutex_unlock(&lock);
    int devnum = sim_usb_bridge_devnum(bridge, chip);
    cr_assert_gt(devnum, 0);
    at.address = (uint8_t)devnum;
    snprintf(at.serial, sizeof(at.serial), "%s", serial);
    return at;
}
