/* The fixture of the ftdi_usb tests (test_ftdi_usb.c, test_ftdi_device.c): the sim's FT232H
 * model served through the umockdev bridge in this process (run with
 * LD_PRELOAD=libumockdev-preload.so.0), a libusb host and one device of the ftdi API. */
#ifndef TEST_FTDI_FIXTURE_H
#define TEST_FTDI_FIXTURE_H

#include <pthread.h>
#include <time.h>

#include "transport/mpsse/ftdi_usb.h"
#include "model/ft232h.h"
#include "model/i2c_bus.h"
#include "model/mpsse.h"
#include "front/usb_bridge.h"

#define SERIAL_A   "LYNXA001"
#define SERIAL_B   "LYNXB002"
#define TIMEOUT_MS 1000

extern pthread_mutex_t lock;
extern struct sim_usb_bridge *bridge;
extern struct sim_ft232h *model;        /* SERIAL_A, 0403:d4f8 */
extern struct sim_ft232h *second_model; /* added by the tests that need two adapters */
extern struct ftdi_usb_host *host;
extern struct ftdi_usb_device *dev;

struct sim_ft232h *add_model(uint16_t pid, const char *serial);
void setup(void);
void teardown(void);
void open_mpsse(void);
void write_all(const uint8_t *bytes, size_t len);
struct sim_ft232h_stats stats_of(struct sim_ft232h *chip);
long elapsed_ms(const struct timespec *since);
/* What the daemon's main loop does: poll libusb's fds, then handle events without blocking,
 * until *counter reaches target or max_ms pass. */
void pump_until(const int *counter, int target, long max_ms);
/* Where the adapter is, as the inventory reads it from sysfs (the bridge's bus 1). */
struct ftdi_usb_device_info place_of(struct sim_ft232h *chip, const char *serial);

#endif
