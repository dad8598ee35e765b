/* Inside the fleet (fleet.h; nobody else includes this): its state, and what its files give each
 * other. fleet_member.c makes a member (a poller and its service) and runs its polls;
 * fleet_usb.c finds FTDI adapters on USB and follows libusb's hot-plug; fleet_i2c.c makes the
 * members of [i2c:N] sections and follows the kernel's uevents; fleet.c is the fleet itself.
 * Calls go one way: fleet.c -> fleet_usb.c, fleet_i2c.c -> fleet_member.c. */
#ifndef LYNX_FLEET_INTERNAL_H
#define LYNX_FLEET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/fleet.h"
#include "lynx/poller.h"
#include "transport/mpsse/ftdi_usb.h"
#include "transport/uevent_monitor.h"
#include "venus/service.h"

#define MAX_LIBUSB_FDS   16
#define MAX_IDS          (CONFIG_MAX_USB_IDS + 3)
#define MAX_LOGGED       16 /* stock adapters and unreadable serials logged once each */
#define PRESENT_TEXT_MAX 256

struct member {
    struct fleet *fleet;
    struct poller poller;
    struct service *svc;
    char serial[FTDI_SERIAL_MAX]; /* the configured spelling, or the device's; "i2c-N" */
    char id[160];                 /* the service's id (service_setup.id) */
    int i2c_bus;                  /* N of an [i2c:N] section; -1 for an FTDI adapter */
    bool configured;              /* named by a [ftdi:<serial>] or [i2c:N] section */
    bool seen;                    /* found at least once */
    bool missing_logged;
    char hardware_published[48];
    /* hot-plug of a known adapter (a uevent of its /dev/i2c-N, libusb's "left"): polled at once */
    bool gone_event, back_event;      /* seen, the poll still to start */
    bool event_poll, event_poll_gone; /* the poll running was started by an event (a "gone") */
    bool skip_next_poll;              /* ... it stands in for the next regular poll */
    bool event_poll_stood_in;         /* ... a regular poll came while it ran, and was left out */
    struct mainloop_fd_watch *link_watch; /* the link's event_fd (an i2c-dev worker), or NULL */
};

struct fleet {
    struct mainloop *loop;
    struct fleet_options opt;
    struct ftdi_usb_host *host;
    struct ftdi_usb_hotplug *hotplug;
    struct mainloop_timer *rescan_timer; /* hot-plug's deferred rescan, or the periodic one */
    struct mainloop_timer *retry_timer;  /* an unreadable serial number */
    uint32_t retry_ms;
    struct usb_id ids[MAX_IDS]; /* looked for: the configured ids and the stock ones */
    size_t n_ids;
    struct member members[FLEET_MAX_ADAPTERS];
    size_t n_members;
    struct mainloop_fd_watch *usb_watch[MAX_LIBUSB_FDS];
    int usb_fd[MAX_LIBUSB_FDS];
    char logged[MAX_LOGGED][FTDI_SERIAL_MAX + FTDI_PORT_PATH_MAX + 2];
    size_t n_logged;
    char present[PRESENT_TEXT_MAX]; /* the serials of the last rescan, for messages */
    bool failed;
    struct uevent_monitor *uevents; /* NULL: no i2c-dev member, or no socket */
    struct mainloop_fd_watch *uevent_watch;
    struct mainloop_timer *event_timer; /* polls the adapters a hot-plug event named */
};

/* ---- fleet_member.c ---- */

/* A member for an adapter whose link is made (taken: freed on failure): found (seen), or configured
 * and not found yet. Its service is created; NULL when there is no room, or no D-Bus at all (then
 * fleet->failed is set and the loop quits). */
struct member *member_add(struct fleet *fleet, struct bus_link *link, const char *serial,
                          int i2c_bus, bool configured, bool seen);
/* The member's section in cfg (or the defaults). */
const struct config_section *member_section(const struct member *m, const struct config *cfg);
/* Starts the member's regular poll; its end publishes it. */
void member_poll(struct member *m);
/* Frees the member's poller (and so its link) and service. */
void member_free(struct member *m);
/* A hot-plug event of a known adapter (libusb's "left", a uevent of its /dev/i2c-N): its poll is
 * scheduled. */
void member_hotplug_event(struct fleet *fleet, struct member *m, bool gone);
/* The fleet's event_timer: polls the members a hot-plug event named. */
void member_on_event_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user);

/* ---- fleet_usb.c ---- */

/* Initialises libusb and watches its fds and hot-plug (or rescans periodically) in the loop. */
int fleet_usb_open(struct fleet *fleet);
/* The member of a [ftdi:<serial>] section, before the adapter is found. */
void fleet_usb_add_configured(struct fleet *fleet, const struct config_section *section);
/* Lists the adapters present and claims the new ones that are ours. */
void fleet_usb_rescan(struct fleet *fleet);

/* ---- fleet_i2c.c ---- */

/* The member of an [i2c:N] section. */
void fleet_i2c_add(struct fleet *fleet, const struct config_section *section);
/* With any [i2c:N] member: the kernel's uevents say when a /dev/i2c-N comes or goes. */
void fleet_i2c_watch_uevents(struct fleet *fleet);

#endif
