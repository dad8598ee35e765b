/* The resident-memory floor of any process linked like the daemon: initialises libusb and
 * libdbus, does nothing else, and prints its own peak RSS (VmHWM, KiB). tools/bench.py reports
 * the daemon's peak RSS next to it, so what the daemon itself costs is visible apart from the
 * shared-library pages it cannot avoid. */
#include <dbus/dbus.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    libusb_context *usb = NULL;
    DBusError err;
    char line[256];
    libusb_init(&usb);
    dbus_error_init(&err);
    FILE *status = fopen("/proc/self/status", "r");
    while (status && fgets(line, sizeof(line), status))
        if (strncmp(line, "VmHWM:", 6) == 0)
            printf("%ld\n", strtol(line + 6, NULL, 10));
    if (usb)
        libusb_exit(usb);
    return 0;
}
