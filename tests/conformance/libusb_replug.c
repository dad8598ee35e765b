/* Conformance: a plain libusb-1.0 client, in another process than the simulator, sees the
 * simulated adapter vanish and come back, as it would a real one:
 *   open by VID/PID -> a vendor request works -> `unplug` over the control channel -> the next
 *   request fails with LIBUSB_ERROR_NO_DEVICE and the hot-plug "left" callback fires -> `plug`
 *   -> the "arrived" callback fires and the adapter opens again with the same serial.
 *
 * With CYCLES, that many more unplug/plug cycles follow, enough to run past device number 127:
 * the numbers wrap around as on a real hub, each replug arrives and opens at its new address,
 * and a handle kept open from the first plug-in still fails with NO_DEVICE once its number (and
 * so its node) serves the adapter again, while a new open of that node works.
 *
 *   libusb-replug VID PID SERIAL [CYCLES]   (run under lynx-sim; uses lynx-simctl from PATH) */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int arrived, left;

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
    (void)ctx, (void)dev, (void)user;
    if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED)
        arrived++;
    else
        left++;
    return 0;
}

static int simctl(const char *verb, const char *serial)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "lynx-simctl %s %s", verb, serial);
    return system(cmd);
}

/* Handle events until *counter moves or 5 s pass. */
static int wait_for(libusb_context *ctx, int *counter)
{
    int start = *counter;
    for (int i = 0; i < 100 && *counter == start; i++) {
        struct timeval tv = {0, 50000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    return *counter != start;
}

static int get_latency(libusb_device_handle *h)
{
    unsigned char latency;
    int rc = libusb_control_transfer(h, 0xC0, 0x0A, 0, 1, &latency, 1, 1000);
    return rc == 1 ? latency : rc;
}

static int check(int ok, const char *what)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static libusb_device_handle *open_checked(libusb_context *ctx, int vid, int pid, const char *serial)
{
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
    if (!h)
        return NULL;
    struct libusb_device_descriptor desc;
    unsigned char got[64] = "";
    libusb_get_device_descriptor(libusb_get_device(h), &desc);
    libusb_get_string_descriptor_ascii(h, desc.iSerialNumber, got, sizeof(got));
    if (strcmp((char *)got, serial) != 0) {
        libusb_close(h);
        return NULL;
    }
    return h;
}

/* cycles unplug/plug cycles; kept: a handle of an earlier plug-in, never closed meanwhile. */
static int replug_cycles(libusb_context *ctx, libusb_device_handle *kept, int vid, int pid,
                         const char *serial, int cycles)
{
    const int kept_address = libusb_get_device_address(libusb_get_device(kept));
    int address = kept_address, wraps = 0, reused = 0, failures = 0;
    for (int i = 0; i < cycles && !failures; i++) {
        failures += simctl("unplug", serial) != 0 || !wait_for(ctx, &left);
        failures += simctl("plug", serial) != 0 || !wait_for(ctx, &arrived);
        libusb_device_handle *h = open_checked(ctx, vid, pid, serial);
        if (!h || get_latency(h) <= 0) {
            printf("cycle %d: the replugged adapter does not open or answer\n", i + 1);
            failures++;
        } else {
            int now = libusb_get_device_address(libusb_get_device(h));
            wraps += now < address;
            address = now;
            if (address == kept_address) {
                reused++;
                failures += get_latency(kept) != LIBUSB_ERROR_NO_DEVICE;
            }
        }
        if (h)
            libusb_close(h);
    }
    printf("%d replugs: device numbers wrapped %d times, the first one's came back %d times\n",
           cycles, wraps, reused);
    failures += check(failures == 0, "every replug arrives, opens and answers");
    failures += check(wraps > 0 && reused > 0, "device numbers wrap around and are reused");
    failures += check(get_latency(kept) == LIBUSB_ERROR_NO_DEVICE,
                      "a handle of an earlier plug-in stays without device");
    return failures;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: libusb-replug VID PID SERIAL [CYCLES]\n");
        return 2;
    }
    const int cycles = argc == 5 ? atoi(argv[4]) : 0;
    int vid = (int)strtol(argv[1], NULL, 16), pid = (int)strtol(argv[2], NULL, 16);
    const char *serial = argv[3];
    libusb_context *ctx;
    if (libusb_init(&ctx) < 0)
        return 1;
    int failures = check(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG), "hot-plug capability");
    libusb_hotplug_callback_handle cb;
    libusb_hotplug_register_callback(
        ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0, vid, pid,
        LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL, &cb);

    libusb_device_handle *h = open_checked(ctx, vid, pid, serial);
    failures += check(h != NULL, "adapter opens with its serial");
    if (!h)
        return 1;
    failures += check(get_latency(h) > 0, "vendor request before unplug");

    failures += check(simctl("unplug", serial) == 0, "simulator unplugs the adapter");
    failures += check(wait_for(ctx, &left), "hot-plug 'left' callback");
    failures += check(get_latency(h) == LIBUSB_ERROR_NO_DEVICE, "request fails with NO_DEVICE");
    libusb_close(h);
    h = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
    failures += check(h == NULL, "unplugged adapter cannot be opened");

    failures += check(simctl("plug", serial) == 0, "simulator plugs the adapter back");
    failures += check(wait_for(ctx, &arrived), "hot-plug 'arrived' callback");
    h = open_checked(ctx, vid, pid, serial);
    failures += check(h != NULL, "re-plugged adapter opens with the same serial");
    if (h) {
        failures += check(get_latency(h) > 0, "vendor request after re-plug");
        if (cycles > 0)
            failures += replug_cycles(ctx, h, vid, pid, serial, cycles);
        libusb_close(h);
    }
    libusb_hotplug_deregister_callback(ctx, cb);
    libusb_exit(ctx);
    return failures ? 1 : 0;
}
