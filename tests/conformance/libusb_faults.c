/* Conformance: a plain libusb-1.0 client, in another process than the simulator, sees the USB
 * faults of the control channel as it would see them from a failing real adapter:
 *   usb-error -> LIBUSB_ERROR_PIPE on the next bulk OUT and IN, then normal again;
 *   usb-timeout -> LIBUSB_ERROR_TIMEOUT on the next read, whose reply then comes with the next;
 *   empty-read / short-read -> a bare `32 60` / half the reply, the rest with the next read;
 *   latency -> GET_LATENCY_TIMER reads the new value and an idle read waits that long;
 *   unplug-mid-transfer -> the next read fails with LIBUSB_ERROR_NO_DEVICE, hot-plug "left".
 *
 *   libusb-faults VID PID SERIAL      (run under lynx-sim; uses lynx-simctl from PATH) */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EP_IN      0x81
#define EP_OUT     0x02
#define TIMEOUT_MS 1000

static int left;

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
    (void)ctx, (void)dev, (void)user;
    if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT)
        left++;
    return 0;
}

static int simctl(const char *action, const char *serial, const char *arg)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "lynx-simctl %s %s %s", action, serial, arg);
    return system(cmd);
}

static int check(int ok, const char *what)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static int bulk_write(libusb_device_handle *h, const char *hex)
{
    unsigned char buf[64];
    int len = 0, sent = 0;
    char *end;
    for (const char *p = hex; *p && len < (int)sizeof(buf); p = end)
        buf[len++] = (unsigned char)strtoul(p, &end, 16);
    int rc = libusb_bulk_transfer(h, EP_OUT, buf, len, &sent, TIMEOUT_MS);
    return rc < 0 ? rc : sent;
}

/* Returns the bytes read (status bytes included) or a LIBUSB_ERROR code. */
static int bulk_read(libusb_device_handle *h, unsigned timeout_ms)
{
    unsigned char buf[512];
    int got = 0;
    int rc = libusb_bulk_transfer(h, EP_IN, buf, sizeof(buf), &got, timeout_ms);
    if (rc == 0 && (got < 2 || buf[0] != 0x32 || buf[1] != 0x60))
        return LIBUSB_ERROR_OTHER; /* every packet starts with the modem status */
    return rc < 0 ? rc : got;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int stall_and_timeout(libusb_device_handle *h, const char *serial)
{
    int failures = check(simctl("usb-error", serial, "count=2") == 0, "usb-error armed");
    failures += check(bulk_write(h, "81 87") == LIBUSB_ERROR_PIPE, "bulk OUT stalls (PIPE)");
    failures += check(bulk_read(h, TIMEOUT_MS) == LIBUSB_ERROR_PIPE, "bulk IN stalls (PIPE)");
    failures += check(bulk_write(h, "81 87") == 2, "bulk OUT works again");
    failures += check(bulk_read(h, TIMEOUT_MS) == 3, "pin read answers after the stalls");

    failures += check(simctl("usb-timeout", serial, "") == 0, "usb-timeout armed");
    failures += check(bulk_write(h, "81 87") == 2, "bulk OUT is not affected");
    failures += check(bulk_read(h, 200) == LIBUSB_ERROR_TIMEOUT, "bulk IN times out");
    failures += check(bulk_read(h, TIMEOUT_MS) == 3, "the reply comes with the next read");
    return failures;
}

static int empty_short_latency(libusb_device_handle *h, const char *serial)
{
    int failures = check(simctl("empty-read", serial, "") == 0, "empty-read armed");
    failures += check(bulk_write(h, "81 87") == 2 && bulk_read(h, TIMEOUT_MS) == 2,
                      "the read gets a bare 32 60");
    failures += check(bulk_read(h, TIMEOUT_MS) == 3, "the reply comes with the next read");

    failures += check(simctl("short-read", serial, "") == 0, "short-read armed");
    failures += check(bulk_write(h, "81 81 81 81 87") == 5 && bulk_read(h, TIMEOUT_MS) == 4,
                      "the read gets half of the four bytes");
    failures += check(bulk_read(h, TIMEOUT_MS) == 4, "the other half with the next read");

    unsigned char latency = 0;
    struct timespec t0;
    failures += check(simctl("latency", serial, "120") == 0, "latency set to 120 ms");
    libusb_control_transfer(h, 0xC0, 0x0A, 0, 1, &latency, 1, TIMEOUT_MS);
    failures += check(latency == 120, "GET_LATENCY_TIMER reads 120");
    bulk_read(h, TIMEOUT_MS); /* restarts the timer */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    failures += check(bulk_read(h, TIMEOUT_MS) == 2 && ms_since(&t0) >= 100.0,
                      "an idle read waits for the slow latency timer");
    return failures;
}

static int unplug_mid_transfer(libusb_context *ctx, libusb_device_handle *h, const char *serial)
{
    int failures = check(simctl("unplug-mid-transfer", serial, "") == 0, "unplug armed");
    failures += check(bulk_write(h, "81 87") == 2, "bulk OUT before the read still works");
    failures +=
        check(bulk_read(h, TIMEOUT_MS) == LIBUSB_ERROR_NO_DEVICE, "the read fails with NO_DEVICE");
    for (int i = 0; i < 100 && !left; i++) {
        struct timeval tv = {0, 50000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    failures += check(left == 1, "hot-plug 'left' callback");
    return failures;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: libusb-faults VID PID SERIAL\n");
        return 2;
    }
    const int vid = (int)strtol(argv[1], NULL, 16), pid = (int)strtol(argv[2], NULL, 16);
    const char *serial = argv[3];
    libusb_context *ctx;
    libusb_hotplug_callback_handle cb;
    if (libusb_init(&ctx) < 0)
        return 1;
    libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0, vid, pid,
                                     LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL, &cb);
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
    int failures = check(h != NULL, "adapter opens");
    if (!h)
        return 1;
    failures += check(libusb_claim_interface(h, 0) == 0, "interface 0 claimed");
    failures += check(libusb_control_transfer(h, 0x40, 0x0B, 0x0200, 1, NULL, 0, TIMEOUT_MS) == 0,
                      "MPSSE mode");

    failures += stall_and_timeout(h, serial);
    failures += empty_short_latency(h, serial);
    failures += unplug_mid_transfer(ctx, h, serial);

    libusb_close(h);
    libusb_hotplug_deregister_callback(ctx, cb);
    libusb_exit(ctx);
    return failures ? 1 : 0;
}
