/* The fleet's FTDI adapters on USB: which ids are looked for, which adapters found are ours
 * (fleet.h), the rescans that find them (on hot-plug, periodically without it, and again for a
 * serial number that could not be read), libusb's "left" for a known adapter, and libusb's file
 * descriptors in the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"
#include "transport/mpsse/mpsse_link.h"

#define MAX_FOUND      16 /* adapters listed per rescan, ours or not */
#define RETRY_FIRST_MS 1000

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

/* An FTDI adapter: found on USB (info), or configured and not found yet (address 0: the link is
 * placed when a rescan finds it). */
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
                      info->pid != 0);
}

/* ---- finding adapters ---- */

/* A serial that could not be read: logged once per port, retried with a back-off. */
static void serial_unreadable(struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    char key[sizeof(fleet->logged[0])];
    snprintf(key, sizeof(key), "?%s", info->port_path);
    if (!logged_before(fleet, key))
        log_warn("adapter %04x:%04x on %s: cannot read its serial number (%s): trying again",
                 info->vid, info->pid, info->port_path, strerror(-info->serial_status));
    if (!mainloop_timer_armed(fleet->retry_timer)) {
        fleet->retry_ms = fleet->retry_ms ? fleet->retry_ms * 2 : RETRY_FIRST_MS;
        if (fleet->retry_ms > FLEET_RESCAN_MS)
            fleet->retry_ms = FLEET_RESCAN_MS;
        mainloop_timer_arm(fleet->retry_timer, fleet->retry_ms);
    }
}

static void leave_alone(struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    if (logged_before(fleet, info->serial))
        return;
    log_info("adapter %s (%04x:%04x, %s) on %s: a stock FTDI adapter that config.ini does not "
             "name: left alone. To watch Lynx Distributors through it, add a section "
             "[ftdi:%s] to config.ini",
             info->serial, info->vid, info->pid, ftdi_usb_chip_name(info->chip), info->port_path,
             info->serial);
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

static void take_found(struct fleet *fleet, const struct ftdi_usb_device_info *info)
{
    struct member *m = find_member(fleet, info->serial);
    if (m) {
        mpsse_link_place(m->poller.link, info); /* where it is now (a replug moves it) */
        if (!m->seen) {                         /* a configured adapter, found */
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
        leave_alone(fleet, info);
        return;
    }
    add_ftdi(fleet, info, false); /* opened by its first poll */
}

void fleet_usb_rescan(struct fleet *fleet)
{
    struct ftdi_usb_device_info found[MAX_FOUND];
    int n = ftdi_usb_enumerate(fleet->host, fleet->ids, fleet->n_ids, found, MAX_FOUND);
    if (n < 0) {
        log_warn("cannot list USB devices: %s", ftdi_usb_host_error(fleet->host));
        return;
    }
    bool unreadable = false;
    size_t used = 0;
    fleet->present[0] = '\0';
    for (int i = 0; i < n && i < MAX_FOUND; i++) {
        const struct ftdi_usb_device_info *info = &found[i];
        if (!info->serial[0]) {
            if (info->serial_status != 0) {
                serial_unreadable(fleet, info);
                unreadable = true;
            } else if (!logged_before(fleet, info->port_path)) {
                log_warn("adapter %04x:%04x on %s has no serial number: ignored", info->vid,
                         info->pid, info->port_path);
            }
            continue;
        }
        if (used < sizeof(fleet->present))
            used += (size_t)snprintf(fleet->present + used, sizeof(fleet->present) - used, "%s%s",
                                     used ? ", " : "", info->serial);
        take_found(fleet, info);
    }
    if (!unreadable)
        fleet->retry_ms = 0;
}

static void on_rescan(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    fleet_usb_rescan(user);
}

/* Hot-plug callbacks run inside libusb's event handling, where descriptors may not be read and
 * transfers should not be started: a rescan, or a poll of an adapter that left, is scheduled
 * from the loop instead. Re-opening known adapters is the poll's job. */
static void on_hotplug(void *user, bool arrived, const struct ftdi_usb_device_info *info)
{
    struct fleet *fleet = user;
    log_debug("hot-plug: %04x:%04x %s", info->vid, info->pid, arrived ? "arrived" : "left");
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        if (m->i2c_bus >= 0)
            continue;
        if (arrived) { /* maybe one that left: its next regular poll opens it */
            m->skip_next_poll = false;
            continue;
        }
        const struct ftdi_usb_device_info *d = mpsse_link_device(m->poller.link);
        if (d->address == 0 || d->bus != info->bus || d->address != info->address)
            continue;
        if (m->poller.link->open)
            member_hotplug_event(fleet, m, true);
        mpsse_link_place(m->poller.link, NULL); /* gone until a rescan finds it again */
    }
    if (arrived) /* at once (the next loop turn): a link is re-opened only once it is placed */
        mainloop_timer_arm(fleet->rescan_timer, 0);
}

/* ---- libusb in the loop ---- */

static void on_usb_fd(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd, short revents,
                      void *user)
{
    (void)loop, (void)watch, (void)fd, (void)revents;
    ftdi_usb_host_handle_events(((struct fleet *)user)->host);
}

static void usb_fd_added(int fd, short events, void *user)
{
    struct fleet *fleet = user;
    for (int i = 0; i < MAX_LIBUSB_FDS; i++)
        if (!fleet->usb_watch[i]) {
            fleet->usb_fd[i] = fd;
            mainloop_add_fd(fleet->loop, fd, events, on_usb_fd, fleet, &fleet->usb_watch[i]);
            return;
        }
    log_error("too many libusb file descriptors");
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
    for (int i = 0; i < n && i < MAX_LIBUSB_FDS; i++)
        usb_fd_added(fds[i].fd, fds[i].events, fleet);
    ftdi_usb_host_set_pollfd_notifiers(fleet->host, usb_fd_added, usb_fd_removed, fleet);

    bool hotplug = ftdi_usb_host_has_hotplug(fleet->host);
    if (hotplug && ftdi_usb_hotplug_register(fleet->host, fleet->ids, fleet->n_ids, false,
                                             on_hotplug, fleet, &fleet->hotplug) < 0)
        hotplug = false;
    rc = mainloop_add_timer(fleet->loop, FLEET_RESCAN_MS, !hotplug, on_rescan, fleet,
                            &fleet->rescan_timer);
    if (rc == 0 && hotplug)
        mainloop_timer_disarm(fleet->rescan_timer);
    if (rc == 0)
        rc = mainloop_add_timer(fleet->loop, RETRY_FIRST_MS, false, on_rescan, fleet,
                                &fleet->retry_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->retry_timer);
    log_info("new adapters found by %s", hotplug ? "hot-plug" : "a rescan every 5 s");
    return rc;
}

void fleet_usb_add_configured(struct fleet *fleet, const struct config_section *section)
{
    struct ftdi_usb_device_info info = {.chip = FTDI_CHIP_UNKNOWN};
    snprintf(info.serial, sizeof(info.serial), "%s", section->serial);
    add_ftdi(fleet, &info, true);
}
