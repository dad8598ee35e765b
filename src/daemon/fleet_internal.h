/* Inside the fleet (fleet.h; nobody else includes this): its state, and what its files give each
 * other. fleet_member.c makes a member (a poller and its service) and runs its polls;
 * fleet_usb.c finds FTDI adapters in the USB inventory (sysfs and uevents); fleet_i2c.c makes the
 * members of [i2c:N] sections and follows their nodes; fleet.c is the fleet itself and reads the
 * kernel's uevents for both. Calls go one way: fleet.c -> fleet_usb.c, fleet_i2c.c ->
 * fleet_member.c. */
#ifndef LYNX_FLEET_INTERNAL_H
#define LYNX_FLEET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/fleet.h"
#include "lynx/poller.h"
#include "transport/mpsse/ftdi_usb.h"
#include "transport/uevent_monitor.h"
#include "transport/usb_inventory.h"
#include "venus/service.h"

#define MAX_LIBUSB_FDS     16
#define MAX_IDS            (CONFIG_MAX_USB_IDS + 3)
#define MAX_LOGGED         16 /* stock adapters and unreadable serials logged once each */
#define FLEET_SERIAL_READS 4  /* devices without a serial in sysfs asked at the same time */
#define PRESENT_TEXT_MAX   256
#define FLEET_SETTLE_MS    500 /* sysfs read again this long after lost uevents */

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
    /* hot-plug of a known adapter (a uevent of its /dev/i2c-N, the inventory's REMOVED): polled at
     * once */
    bool gone_event, back_event;      /* seen, the poll still to start */
    bool event_poll, event_poll_gone; /* the poll running was started by an event (a "gone") */
    bool skip_next_poll;              /* ... it stands in for the next regular poll */
    bool event_poll_stood_in;         /* ... a regular poll came while it ran, and was left out */
    struct mainloop_fd_watch *link_watch; /* the link's event_fd (an i2c-dev worker), or NULL */
};

/* A serial number asked of a device whose sysfs has none (ftdi_usb_host_read_serial). */
struct fleet_serial_read {
    struct fleet *fleet;
    uint8_t bus, address;
    bool busy;
};

struct fleet {
    struct mainloop *loop;
    struct fleet_options opt;
    struct ftdi_usb_host *host;
    struct usb_inventory *inventory;
    struct mainloop_timer *reload_timer;  /* SIGHUP: new sections, the inventory looked at again */
    struct mainloop_timer *refresh_timer; /* without uevents: sysfs read every FLEET_RESCAN_MS */
    struct mainloop_timer *settle_timer;  /* after lost uevents: sysfs read once more */
    struct fleet_serial_read serial_reads[FLEET_SERIAL_READS];
    struct usb_id ids[MAX_IDS]; /* looked for: the configured ids and the stock ones */
    size_t n_ids;
    struct member members[FLEET_MAX_ADAPTERS];
    size_t n_members;
    struct mainloop_fd_watch *usb_watch[MAX_LIBUSB_FDS];
    int usb_fd[MAX_LIBUSB_FDS];
    char logged[MAX_LOGGED][FTDI_SERIAL_MAX + FTDI_PORT_PATH_MAX + 2];
    size_t n_logged;
    char present[PRESENT_TEXT_MAX]; /* the serials in the inventory, for messages */
    bool failed;
    struct uevent_monitor *uevents; /* NULL: no socket */
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
/* A hot-plug event of a known adapter (the inventory's REMOVED, a uevent of its /dev/i2c-N): its
 * poll is scheduled. */
void member_hotplug_event(struct fleet *fleet, struct member *m, bool gone);
/* The fleet's event_timer: polls the members a hot-plug event named. */
void member_on_event_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user);

/* ---- fleet_usb.c ---- */

/* Initialises libusb and watches its fds in the loop; makes the (empty) USB inventory. */
int fleet_usb_open(struct fleet *fleet);
/* Frees what fleet_usb_open made, after the members (their links use the host). */
void fleet_usb_close(struct fleet *fleet);
/* The member of a [ftdi:<serial>] section, before the adapter is found. */
void fleet_usb_add_configured(struct fleet *fleet, const struct config_section *section);
/* Reads the USB inventory from sysfs again (start, lost uevents, no uevents): adapters found are
 * placed or claimed, adapters gone are told. */
void fleet_usb_refresh(struct fleet *fleet);
/* Uevents were lost: sysfs is read now and once more FLEET_SETTLE_MS later (the kernel sends a
 * "remove" before it takes the device out of sysfs: a read at once may still see it). */
void fleet_usb_events_lost(struct fleet *fleet);
/* A uevent: the inventory follows the usb ones. */
void fleet_usb_uevent(struct fleet *fleet, const struct uevent *ev);
/* Claims the adapters in the inventory that are ours now (after SIGHUP, from its reload_timer). */
void fleet_usb_claim_named(struct fleet *fleet);
/* No uevent socket: sysfs is read again every FLEET_RESCAN_MS. */
void fleet_usb_without_uevents(struct fleet *fleet);

/* ---- fleet_i2c.c ---- */

/* The member of an [i2c:N] section. */
void fleet_i2c_add(struct fleet *fleet, const struct config_section *section);
/* A uevent: those of the i2c-dev node of an [i2c:N] member poll it. */
void fleet_i2c_uevent(struct fleet *fleet, const struct uevent *ev);
/* Uevents were lost (ENOBUFS): every [i2c:N] member's node is looked at again. */
void fleet_i2c_resync(struct fleet *fleet);

#endif
