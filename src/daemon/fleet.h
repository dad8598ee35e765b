/* fleet: which adapters exist, which of them are ours, which are missing, and what is retried.
 * Each adapter of the fleet is a member: its poller (lynx/poller.h) and its D-Bus service
 * (venus/service.h); the fleet hands each poll's report to the service. fleet_internal.h says
 * which file does what.
 *
 * Ownership (an adapter is claimed, i.e. opened, its ftdi_sio detached and a service published):
 *  - an adapter whose serial has a [ftdi:<serial>] section (config_serial_equal), whatever its
 *    VID:PID among the configured ones and FTDI's stock FT232H/FT2232H/FT4232H ids;
 *  - an adapter with a dedicated id, i.e. a configured VID:PID that is not one of FTDI's stock ids
 *    (by default the reprogrammed Lynx adapter 0403:D4F8).
 * A stock adapter (0403:6014, 6010, 6011) that no section names is left alone, logged once with
 * the section to add: it may be somebody's serial port, and taking it would detach ftdi_sio.
 *
 * Every configured adapter has its service from the start, present or not: until it is found its
 * /Adapter/Connected is 0 and its installed distributors go to "communications lost" after
 * comm_lost_polls polls, exactly as for an adapter unplugged later; then a line names the serials
 * that are present (a typing error in the section shows next to the alarm). Serials match as
 * config_serial_equal says; the service is named after the section's spelling.
 *
 * Finding adapters: the USB inventory (transport/usb_inventory.h) says which device is which from
 * sysfs (ids, bus and address, serial), kept up to date by the kernel's uevents: no request to any
 * device, so nothing here waits for one. A configured adapter's link is placed at the bus and
 * address where its serial shows up (again, after a replug) and opened there by its next poll;
 * until then its polls fail as unplugged without any I/O. A device whose sysfs has no serial is
 * asked for it asynchronously, once per appearance. After lost uevents (ENOBUFS) the inventory is
 * read again in full; without a uevent socket, every FLEET_RESCAN_MS. Two serials that sanitise to
 * the same service name (LYNX-1, LYNX.1) get distinct names: the later one's carries a hash of
 * its serial.
 *
 * Hot-plug of a known adapter is polled at once, between the regular polls: the kernel's uevent
 * (uevent_monitor.h) of the /dev/i2c-N of an [i2c:N] section being removed or created, and the
 * inventory's "removed" for an open FTDI adapter. The poll after a removal publishes
 * /Adapter/Connected 0 at once; when it failed it stands in for the adapter's next regular poll, so
 * that comm_lost_polls keeps counting poll intervals. The poll 0.1 s after a creation opens the bus
 * and publishes it. Polls still try a missing /dev/i2c-N every time (one open()): the fallback when
 * no uevent socket can be opened, and for a uevent missed; the log says at start which applies.
 * A service that cannot reach the bus at all ends the loop (fleet_failed): the supervisor starts
 * the daemon again. */
#ifndef LYNX_FLEET_H
#define LYNX_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "base/mainloop.h"
#include "daemon/config.h"
#include "daemon/recorder.h"

#define FLEET_MAX_ADAPTERS 8
#define FLEET_RESCAN_MS    5000 /* sysfs read again this often when there is no uevent socket */

struct fleet_options {
    const struct config *cfg; /* borrowed; fleet_set_config replaces it */
    struct recorder *recorder;
    unsigned diagnostics_interval_ms;
    uint32_t settings_timeout_ms;
};

struct fleet;

/* Initialises libusb and watches its fds in loop, creates the services of the configured adapters,
 * opens the uevent socket and reads the USB inventory. 0 or a negative code (reason logged). */
int fleet_new(struct mainloop *loop, const struct fleet_options *options, struct fleet **out);
void fleet_free(struct fleet *fleet);

/* Starts one poll of every adapter (but one whose hot-plug poll stood in for it); when a poll
 * ends its report goes to the adapter's service. */
void fleet_poll(struct fleet *fleet);

/* SIGHUP: cfg replaces old, and the caller then puts it where fleet_options.cfg points. Installed
 * flags apply from the next poll; returns the number of distributors whose flags changed, and
 * sets *restart when something only a restart applies (names, mounting, a section removed: its
 * member keeps its service and settings, named in the log) changed. Then, from the loop, every
 * section added gets its member and service, and the USB inventory is looked at again with cfg
 * (no device I/O): a stock adapter named now is claimed. */
unsigned fleet_apply_config(struct fleet *fleet, const struct config *cfg, const struct config *old,
                            bool *restart);

/* SIGUSR1: the adapters' state in the log. */
void fleet_log_summary(const struct fleet *fleet);
size_t fleet_count(const struct fleet *fleet);

/* A service lost the bus, or could not reach it: the daemon should exit for its supervisor. */
bool fleet_failed(const struct fleet *fleet);

#endif
