/* The fleet's FTDI adapters on USB: which ids are looked for, which adapters are ours (fleet.h),
 * and libusb's file descriptors in the loop. Which adapter is which comes from the USB inventory
 * (transport/usb_inventory.h: sysfs, kept up to date by the kernel's uevents), without any device
 * I/O: a member's link is placed at the bus and address where the inventory sees its serial and
 * opened there by its poll (mpsse_link.h). Only a device whose sysfs has no serial attribute is
 * asked for it, asynchronously (ftdi_usb_host_read_serial), once per appearance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"
#include "transport/mpsse/mpsse_link.h"

#define SYSFS_ROOT "/sys"

/* FTDI's stock ids: shared with every USB-serial and JTAG adapter of these chips. */
static const struct usb_id stock_ids[] = {
    {FTDI_VID, FTDI_FT232H_PID},
    {FTDI_VID, FTDI_FT2232H_PID},
    {FTDI_VID, FTDI_FT4232H_PID},
};
#define N_STOCK_IDS (sizeof(stock_ids) / sizeof(stock_ids[0]))

/* Whether key was logged before; remembers it (a bounded set: beyond it, logs again). */
static bool logged_before(struct fleet *fleet, const char *key)
{
    for (size_t i = 0; i < fleet->n_logged; i++)
        if (strcmp(fleet->logged[i], key) == 0)
            return true;
    if (fleet->n_logged < MAX_LOGGED)
        snprintf(fleet->logged[fleet->n_logged++], sizeof(fleet->logged[0]), "%s", key);
    return false;
}

static bool is_stock(uint16_t vid, uint16_t pid)
{
    for (size_t i = 0; i < N_STOCK_IDS; i++)
        if (stock_ids[i].vid == vid && stock_ids[i].pid == pid)
            return true;
    return false;
}

static bool has_id(const struct fleet *fleet, uint16_t vid, uint16_t pid)
{
    for (size_t i = 0; i < fleet->n_ids; i++)
        if (fleet->ids[i].vid == vid && fleet->ids[i].pid == pid)
            return true;
    return false;
}

static bool has_section(const struct config *cfg, const char *serial)
{
    return config_ftdi_section(cfg, serial) != &cfg->defaults;
}

static void collect_ids(struct fleet *fleet)
{
    const struct config *cfg = fleet->opt.cfg;
    fleet->n_ids = 0;
    for (size_t i = 0; i < cfg->n_usb_ids && fleet->n_ids < MAX_IDS; i++)
        fleet->ids[fleet->n_ids++] = (struct usb_id){cfg->usb_ids[i].vid, cfg->usb_ids[i].pid};
    for (size_t i = 0; i < N_STOCK_IDS && fleet->n_ids < MAX_IDS; i++)
        if (!has_id(fleet, stock_ids[i].vid, stock_ids[i].pid))
            fleet->ids[fleet->n_ids++] = stock_ids[i];
}

static struct member *find_member(struct fleet *fleet, const char *serial)
{
    for (size_t i = 0; i < fleet->n_members; i++)
        if (fleet->members[i].i2c_bus < 0 && config_serial_equal(fleet->members[i].serial, serial))
            return &fleet->members[i];
    return NULL;
}

static void info_of(const struct usb_inventory_device *d, struct ftdi_usb_device_info *info)
{
    memset(info, 0, sizeof(*info));
    info->vid = d->vid;
    info->pid = d->pid;
    info->bcd_device = d->bcd_device;
    info->chip = ftdi_usb_chip_from_bcd(d->bcd_device);
    info->bus = d->bus;
    info->address = d->address;
    snprintf(info->port_path, sizeof(info->port_path), "%s", d->port);
    snprintf(info->serial, sizeof(info->serial), "%s", d->serial);
}

/* An FTDI adapter: found on USB (info), or configured and not found yet (address 0: not placed;
 * its polls fail as unplugged without any I/O until the inventory finds it). */
static struct member *add_ftdi(struct fleet *fleet, const struct ftdi_usb_device_info *info,
                               bool configured)
{
    const struct config_section *section = config_ftdi_section(fleet->opt.cfg, info->serial);
    struct bus_link *link;
    if (mpsse_link_new(fleet->host, info, fleet->opt.cfg->i2c_speed_khz * 1000u, &link) < 0) {
        log_error("adapter %s: out of memory", info->serial);
        return NULL;
    }
    return member_add(fleet, link, configured ? section->serial : info->serial, -1, configured,
                      info->address != 0);
}

/* ---- adapters found and gone ---- */

static void leave_alone(struct fleet *fleet, const struct ftdi_usb_device_info *info,
                        const char *driver)
{
    if (logged_before(fleet, info->serial))
        return;
    log_info("adapter %s (%04x:%04x, %s) on %s%s%s: a stock FTDI adapter that config.ini does "
             "not name: left alone. To watch Lynx Distributors through it, add a section "
             "[ftdi:%s] to config.ini",
             info->serial, info->vid, info->pid, ftdi_usb_chip_name(info->chip), info->port_path,
             driver[0] ? ", bound to " : "", driver, info->serial);
}

/* Claimed: named by a section, or a dedicated (non-stock) id among the configured ones. */
static bool ours(const struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    if (has_section(fleet->opt.cfg, info->serial))
        return true;
    const struct config *cfg = fleet->opt.cfg;
    for (size_t i = 0; i < cfg->n_usb_ids; i++)
        if (cfg->usb_ids[i].vid == info->vid && cfg->usb_ids[i].pid == info->pid)
            return !is_stock(info->vid, info->pid);
    return false;
}

/* An adapter with a serial is at info: a member's (placed there), a new one of ours, or left
 * alone. Its next regular poll opens it. */
static void take_found(struct fleet *fleet, const struct ftdi_usb_device_info *info,
                       const char *driver)
{
    struct member *m = find_member(fleet, info->serial);
    if (m) {
        const struct ftdi_usb_device_info *at = mpsse_link_device(m->poller.link);
        if (at->address && (at->bus != info->bus || at->address != info->address) &&
            usb_inventory_at(fleet->inventory, at->bus, at->address)) {
            char key[sizeof(fleet->logged[0])];
            snprintf(key, sizeof(key), "2%s", info->port_path);
            if (!logged_before(fleet, key))
                log_warn("adapter %s: another adapter with the same serial number on %s: ignored "
                         "(the one on %s is used)",
                         m->serial, info->port_path, at->port_path);
            return;
        }
        mpsse_link_place(m->poller.link, info);
        m->skip_next_poll = false; /* maybe one that left: its next regular poll opens it */
        if (!m->seen) {            /* a configured adapter, found */
            m->seen = true;
            log_info("adapter %s found (%04x:%04x, %s on %s)%s%s%s", m->serial, info->vid,
                     info->pid, ftdi_usb_chip_name(info->chip), info->port_path,
                     strcmp(m->serial, info->serial) ? "; its serial is written " : "",
                     strcmp(m->serial, info->serial) ? info->serial : "",
                     strcmp(m->serial, info->serial) ? ", the service keeps the section's spelling"
                                                     : "");
        }
        return;
    }
    if (!ours(fleet, info)) {
        leave_alone(fleet, info, driver);
        return;
    }
    add_ftdi(fleet, info, false); /* opened by its first poll */
}

/* The device at info's bus and address left: the member placed there is told, and polled at once
 * when its link is open (the poll publishes /Adapter/Connected 0). */
static void gone(struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        if (m->i2c_bus >= 0)
            continue;
        const struct ftdi_usb_device_info *d = mpsse_link_device(m->poller.link);
        if (d->address == 0 || d->bus != info->bus || d->address != info->address)
            continue;
        if (m->poller.link->open)
            member_hotplug_event(fleet, m, true);
        mpsse_link_place(m->poller.link, NULL);
    }
}

/* The serials present among the ids looked for, for the "not found" message. */
static void update_present(struct fleet *fleet)
{
    size_t used = 0;
    fleet->present[0] = '\0';
    for (size_t i = 0; i < usb_inventory_count(fleet->inventory); i++) {
        const struct usb_inventory_device *d = usb_inventory_get(fleet->inventory, i);
        if (!has_id(fleet, d->vid, d->pid) || !d->serial[0] || used >= sizeof(fleet->present))
            continue;
        used += (size_t)snprintf(fleet->present + used, sizeof(fleet->present) - used, "%s%s",
                                 used ? ", " : "", d->serial);
    }
}

/* ---- a device without a serial attribute: asked once, asynchronously ---- */

static void serial_read(void *user, int rc, const char *serial)
{
    struct fleet_serial_read *r = user;
    struct fleet *fleet = r->fleet;
    r->busy = false;
    const struct usb_inventory_device *d = usb_inventory_at(fleet->inventory, r->bus, r->address);
    if (!d || !has_id(fleet, d->vid, d->pid))
        return; /* gone meanwhile: its next appearance asks again */
    struct ftdi_usb_device_info info;
    info_of(d, &info);
    char key[sizeof(fleet->logged[0])];
    snprintf(key, sizeof(key), "?%s", info.port_path);
    if (rc < 0 || !serial[0]) {
        if (!logged_before(fleet, key))
            log_warn("adapter %04x:%04x on %s: %s: ignored until it is plugged in again", info.vid,
                     info.pid, info.port_path,
                     rc == -ENODATA || (rc == 0 && !serial[0])
                         ? "it has no serial number"
                         : "its serial number cannot be read");
        if (rc < 0 && rc != -ENODATA)
            log_debug("adapter on %s: serial read: %s", info.port_path, strerror(-rc));
        return;
    }
    snprintf(info.serial, sizeof(info.serial), "%s", serial);
    take_found(fleet, &info, d->driver);
}

static void ask_serial(struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    struct fleet_serial_read *r = NULL;
    for (size_t i = 0; i < FLEET_SERIAL_READS && !r; i++)
        if (!fleet->serial_reads[i].busy)
            r = &fleet->serial_reads[i];
    char key[sizeof(fleet->logged[0])];
    snprintf(key, sizeof(key), "?%s", info->port_path);
    int rc = r ? 0 : -EBUSY;
    if (r) {
        *r = (struct fleet_serial_read){.fleet = fleet, .bus = info->bus, .address = info->address};
        rc = ftdi_usb_host_read_serial(fleet->host, info->bus, info->address, serial_read, r);
        r->busy = rc == 0;
    }
    if (rc < 0 && !logged_before(fleet, key))
        log_warn("adapter %04x:%04x on %s: no serial number in sysfs, and it cannot be asked for "
                 "it (%s): ignored until it is plugged in again",
                 info->vid, info->pid, info->port_path, strerror(-rc));
}

/* ---- the inventory's changes ---- */

static void on_inventory(void *user, enum usb_inventory_change change,
                         const struct usb_inventory_device *d)
{
    struct fleet *fleet = user;
    if (!has_id(fleet, d->vid, d->pid))
        return;
    struct ftdi_usb_device_info info;
    info_of(d, &info);
    log_debug("USB device %04x:%04x on %s (bus %u address %u) %s", d->vid, d->pid, d->port, d->bus,
              d->address, change == USB_INVENTORY_ADDED ? "arrived" : "left");
    update_present(fleet);
    if (change == USB_INVENTORY_REMOVED) {
        gone(fleet, &info);
        return;
    }
    if (!d->has_serial) {
        ask_serial(fleet, &info);
        return;
    }
    char key[sizeof(fleet->logged[0])];
    snprintf(key, sizeof(key), "!%s", d->serial);
    if (d->serial_altered && !logged_before(fleet, key))
        log_warn("adapter %04x:%04x on %s: its serial number has characters other than printable "
                 "ASCII (or is too long), shown as '?': %s; a [ftdi:...] section names it so",
                 d->vid, d->pid, d->port, d->serial);
    if (!d->serial[0]) {
        snprintf(key, sizeof(key), "?%s", d->port);
        if (!logged_before(fleet, key))
            log_warn("adapter %04x:%04x on %s has an empty serial number: ignored", d->vid, d->pid,
                     d->port);
        return;
    }
    take_found(fleet, &info, d->driver);
}

void fleet_usb_refresh(struct fleet *fleet)
{
    int rc = usb_inventory_refresh(fleet->inventory);
    if (rc < 0 && !logged_before(fleet, "sysfs"))
        log_warn("cannot list USB devices in " SYSFS_ROOT "/bus/usb/devices: %s", strerror(-rc));
}

void fleet_usb_uevent(struct fleet *fleet, const struct uevent *ev)
{
    usb_inventory_uevent(fleet->inventory, ev);
}

void fleet_usb_claim_named(struct fleet *fleet)
{
    for (size_t i = 0; i < usb_inventory_count(fleet->inventory); i++) {
        const struct usb_inventory_device *d = usb_inventory_get(fleet->inventory, i);
        if (!has_id(fleet, d->vid, d->pid) || !d->serial[0])
            continue;
        /* a member placed already keeps its adapter; one a SIGHUP just added is placed here */
        const struct member *m = find_member(fleet, d->serial);
        if (m && mpsse_link_device(m->poller.link)->address)
            continue;
        struct ftdi_usb_device_info info;
        info_of(d, &info);
        take_found(fleet, &info, d->driver);
    }
}

static void on_refresh_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    fleet_usb_refresh(user);
}

void fleet_usb_events_lost(struct fleet *fleet)
{
    fleet_usb_refresh(fleet);
    mainloop_timer_arm(fleet->settle_timer, FLEET_SETTLE_MS);
}

void fleet_usb_without_uevents(struct fleet *fleet)
{
    mainloop_timer_arm(fleet->refresh_timer, FLEET_RESCAN_MS);
}

/* ---- libusb in the loop ---- */

static void on_usb_fd(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd, short revents,
                      void *user)
{
    (void)loop, (void)watch, (void)fd, (void)revents;
    ftdi_usb_host_handle_events(((struct fleet *)user)->host);
}

/* An fd libusb needs watched that the loop cannot watch would leave transfers that never
 * complete: the daemon stops and its supervisor starts it again (fleet_failed). */
static void usb_fd_failed(struct fleet *fleet, int fd, int rc)
{
    log_error("cannot watch libusb's file descriptor %d: %s: exiting", fd, strerror(-rc));
    fleet->failed = true;
    mainloop_quit(fleet->loop);
}

static void usb_fd_added(int fd, short events, void *user)
{
    struct fleet *fleet = user;
    for (int i = 0; i < MAX_LIBUSB_FDS; i++)
        if (!fleet->usb_watch[i]) {
            int rc =
                mainloop_add_fd(fleet->loop, fd, events, on_usb_fd, fleet, &fleet->usb_watch[i]);
            if (rc < 0) {
                fleet->usb_watch[i] = NULL;
                usb_fd_failed(fleet, fd, rc);
                return;
            }
            fleet->usb_fd[i] = fd;
            return;
        }
    usb_fd_failed(fleet, fd, -EMFILE);
}

static void usb_fd_removed(int fd, void *user)
{
    struct fleet *fleet = user;
    for (int i = 0; i < MAX_LIBUSB_FDS; i++)
        if (fleet->usb_watch[i] && fleet->usb_fd[i] == fd) {
            mainloop_remove_fd(fleet->usb_watch[i]);
            fleet->usb_watch[i] = NULL;
        }
}

int fleet_usb_open(struct fleet *fleet)
{
    collect_ids(fleet);
    int rc = ftdi_usb_host_new(&fleet->host);
    if (rc < 0) {
        log_error("cannot initialise libusb: %s", strerror(-rc));
        return rc;
    }
    struct pollfd fds[MAX_LIBUSB_FDS];
    int n = ftdi_usb_host_pollfds(fleet->host, fds, MAX_LIBUSB_FDS);
    for (int i = 0; i < n && i < MAX_LIBUSB_FDS && !fleet->failed; i++)
        usb_fd_added(fds[i].fd, fds[i].events, fleet);
    if (fleet->failed)
        return -ENOMEM;
    ftdi_usb_host_set_pollfd_notifiers(fleet->host, usb_fd_added, usb_fd_removed, fleet);

    rc = usb_inventory_new(SYSFS_ROOT, on_inventory, fleet, &fleet->inventory);
    if (rc == 0)
        rc = mainloop_add_timer(fleet->loop, FLEET_RESCAN_MS, true, on_refresh_timer, fleet,
                                &fleet->refresh_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->refresh_timer);
    if (rc == 0)
        rc = mainloop_add_timer(fleet->loop, FLEET_SETTLE_MS, false, on_refresh_timer, fleet,
                                &fleet->settle_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->settle_timer);
    return rc;
}

void fleet_usb_close(struct fleet *fleet)
{
    if (fleet->refresh_timer)
        mainloop_remove_timer(fleet->refresh_timer);
    if (fleet->settle_timer)
        mainloop_remove_timer(fleet->settle_timer);
    usb_inventory_free(fleet->inventory);
    if (fleet->host) {
        ftdi_usb_host_set_pollfd_notifiers(fleet->host, NULL, NULL, NULL);
        for (int i = 0; i < MAX_LIBUSB_FDS; i++)
            if (fleet->usb_watch[i])
                mainloop_remove_fd(fleet->usb_watch[i]);
        ftdi_usb_host_free(fleet->host); /* serial reads still running: their done never runs */
    }
}

void fleet_usb_add_configured(struct fleet *fleet, const struct config_section *section)
{
    struct ftdi_usb_device_info info = {.chip = FTDI_CHIP_UNKNOWN};
    snprintf(info.serial, sizeof(info.serial), "%s", section->serial);
    add_ftdi(fleet, &info, true);
}
