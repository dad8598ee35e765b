#include "daemon/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/i2cdev/i2cdev_link.h"
#include "base/log.h"
#include "transport/mpsse/mpsse_link.h"
#include "transport/mpsse/ftdi_usb.h"
#include "transport/uevent_monitor.h"

#define MAX_LIBUSB_FDS   16
#define MAX_IDS          (CONFIG_MAX_USB_IDS + 3)
#define MAX_FOUND        16 /* adapters listed per rescan, ours or not */
#define MAX_LOGGED       16 /* stock adapters and unreadable serials logged once each */
#define RETRY_FIRST_MS   1000
#define BACK_SETTLE_MS   100 /* a hot-plugged bus is polled this long after its event */
#define PRESENT_TEXT_MAX 256

/* FTDI's stock ids: shared with every USB-serial and JTAG adapter of these chips. */
static const struct usb_id stock_ids[] = {
    {FTDI_VID, FTDI_FT232H_PID},
    {FTDI_VID, FTDI_FT2232H_PID},
    {FTDI_VID, FTDI_FT4232H_PID},
};
#define N_STOCK_IDS (sizeof(stock_ids) / sizeof(stock_ids[0]))

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
    struct member entries[FLEET_MAX_ADAPTERS];
    size_t n_entries;
    struct mainloop_fd_watch *usb_watch[MAX_LIBUSB_FDS];
    int usb_fd[MAX_LIBUSB_FDS];
    char logged[MAX_LOGGED][FTDI_SERIAL_MAX + FTDI_PORT_PATH_MAX + 2];
    size_t n_logged;
    char present[PRESENT_TEXT_MAX]; /* the serials of the last rescan, for messages */
    bool failed;
    struct uevent_monitor *uevents; /* NULL: no i2c-dev entry, or no socket */
    struct mainloop_fd_watch *uevent_watch;
    struct mainloop_timer *event_timer; /* polls the adapters a hot-plug event named */
};

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

static struct member *find_entry(struct fleet *fleet, const char *serial)
{
    for (size_t i = 0; i < fleet->n_entries; i++)
        if (fleet->entries[i].i2c_bus < 0 && config_serial_equal(fleet->entries[i].serial, serial))
            return &fleet->entries[i];
    return NULL;
}

static const struct config_section *entry_config(const struct member *e, const struct config *cfg)
{
    return e->i2c_bus >= 0 ? config_i2c_section(cfg, (unsigned)e->i2c_bus)
                           : config_ftdi_section(cfg, e->serial);
}

/* ---- services ---- */

/* 32-bit FNV-1a: a short, stable tag that tells two colliding serials apart. */
static uint32_t serial_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The sanitised id, made unique among the fleet's services. */
static void unique_id(struct fleet *fleet, const char *serial, const char *base, char *id,
                      size_t size)
{
    service_settings_id(base, id, size);
    for (size_t i = 0; i < fleet->n_entries; i++) {
        if (strcmp(fleet->entries[i].id, id) == 0) {
            size_t len = strlen(id);
            snprintf(id + len, size - len, "_%08x", (unsigned)serial_hash(serial));
            log_warn("adapter %s: its serial and adapter %s's give the same service name: "
                     "published as " SERVICE_NAME_PREFIX "%s",
                     serial, fleet->entries[i].serial, id);
            return;
        }
    }
}

/* An entry for an adapter whose link is made: found (seen), or configured and not found yet. */
static struct member *add_entry(struct fleet *fleet, struct bus_link *link, const char *serial,
                                int i2c_bus, bool configured, bool seen)
{
    if (fleet->n_entries == FLEET_MAX_ADAPTERS) {
        log_warn("adapter %s: more than %d adapters, ignored", serial, FLEET_MAX_ADAPTERS);
        link->ops->free(link);
        return NULL;
    }
    const struct config *cfg = fleet->opt.cfg;
    struct member *e = &fleet->entries[fleet->n_entries];
    memset(e, 0, sizeof(*e));
    e->fleet = fleet;
    e->i2c_bus = i2c_bus;
    snprintf(e->serial, sizeof(e->serial), "%s", serial);
    e->configured = configured;
    e->seen = seen;
    const struct config_section *ca = entry_config(e, cfg);

    char base[32];
    if (i2c_bus >= 0) /* dbus_lynx_distributor_i2c<N> */
        snprintf(base, sizeof(base), "i2c%d", i2c_bus);
    unique_id(fleet, e->serial, i2c_bus >= 0 ? base : e->serial, e->id, sizeof(e->id));
    struct bus_link_info info;
    link->ops->describe(link, &info);
    snprintf(e->hardware_published, sizeof(e->hardware_published), "%s", info.hardware);
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    struct service_setup ss = {.serial = e->serial,
                               .id = e->id,
                               .connection = info.connection,
                               .hardware = info.hardware,
                               .custom_name = ca->name,
                               .diagnostics_interval_ms = fleet->opt.diagnostics_interval_ms,
                               .settings_timeout_ms = fleet->opt.settings_timeout_ms};
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        config_lynx_setup(ca, d, &setup[d]);
        ss.distributor[d] = setup[d];
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            ss.fuse_name[d][f] = ca->distributor[d].fuse_name[f];
    }
    poller_init(&e->poller, link, setup, cfg->comm_lost_polls);
    recorder_attach(fleet->opt.recorder, &e->poller);
    if (service_new(fleet->loop, &ss, NULL, &e->svc) < 0) {
        /* no bus at all: nothing can be published; the supervisor starts us again */
        poller_deinit(&e->poller);
        fleet->failed = true;
        mainloop_quit(fleet->loop);
        return NULL;
    }
    fleet->n_entries++;
    log_info("adapter %s (%s): service %s", e->serial,
             seen         ? info.trace
             : configured ? "configured"
                          : "found",
             service_name(e->svc));
    return e;
}

/* An FTDI adapter: found on USB (info), or configured and not found yet (pid 0). */
static struct member *add_ftdi(struct fleet *fleet, const struct ftdi_usb_device_info *info,
                               bool configured)
{
    const struct config_section *ca = config_ftdi_section(fleet->opt.cfg, info->serial);
    struct bus_link *link;
    if (mpsse_link_new(fleet->host, info, fleet->ids, fleet->n_ids,
                       fleet->opt.cfg->i2c_speed_khz * 1000u, &link) < 0) {
        log_error("adapter %s: out of memory", info->serial);
        return NULL;
    }
    return add_entry(fleet, link, configured ? ca->serial : info->serial, -1, configured,
                     info->pid != 0);
}

/* An [i2c:N] section: claimed only so, never found by looking. */
static struct member *add_i2c(struct fleet *fleet, const struct config_section *ca)
{
    struct bus_link *link;
    if (i2cdev_link_new((unsigned)ca->i2c_bus, &link) < 0) {
        log_error("adapter %s: out of memory", ca->serial);
        return NULL;
    }
    return add_entry(fleet, link, ca->serial, ca->i2c_bus, true, false);
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
    struct member *e = find_entry(fleet, info->serial);
    if (e) {
        if (!e->seen) { /* a configured adapter, found: from now on opened by its real ids */
            e->seen = true;
            mpsse_link_set_device(e->poller.link, info);
            log_info("adapter %s found (%04x:%04x, %s on %s)%s%s%s", e->serial, info->vid,
                     info->pid, ftdi_usb_chip_name(info->chip), info->port_path,
                     strcmp(e->serial, info->serial) ? "; its serial is written " : "",
                     strcmp(e->serial, info->serial) ? info->serial : "",
                     strcmp(e->serial, info->serial) ? ", the service keeps the section's spelling"
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

static void rescan(struct fleet *fleet)
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
    rescan(user);
}

/* ---- hot-plug of known adapters: polled at once ---- */

static void polled(struct poller *ad, void *user);

/* A poll started by a hot-plug event instead of the poll timer. "Gone": the poll finds the
 * adapter unplugged (ENODEV, ENOENT) and publishes /Adapter/Connected 0 at once; when it failed,
 * it takes the place of the adapter's next regular poll, so that comm_lost_polls still counts
 * poll intervals (the distributors go "communications lost" no sooner than without events).
 * Nothing is polled for an adapter not open: its next poll's open() fails as before. "Back": the
 * poll opens the adapter and reads the bus now; when it did, it too takes the place of the next
 * regular poll, so that two polls never come a few ms apart (the same rhythm as without events,
 * which a replayed trace keeps step with). A poll still running is left to find it. */
static void event_poll(struct member *e, bool gone)
{
    struct poller *ad = &e->poller;
    /* open already for a "back": a regular poll got there first */
    if (ad->polling || ad->link->ops->busy(ad->link) || gone != ad->link->open)
        return;
    e->event_poll = true;
    e->event_poll_gone = gone;
    e->skip_next_poll = false;
    if (gone && e->i2c_bus >= 0)
        i2cdev_link_removed(ad->link); /* the poll's open() then finds the node gone */
    poller_poll_start(ad, polled, e);
}

static void on_event_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    struct fleet *fleet = user;
    for (size_t i = 0; i < fleet->n_entries && !fleet->failed; i++) {
        struct member *e = &fleet->entries[i];
        bool gone = e->gone_event, back = e->back_event;
        e->gone_event = e->back_event = false;
        if (gone) /* first: a remove and an add read together leave the new node opened */
            event_poll(e, true);
        if (back)
            event_poll(e, false);
    }
}

/* "Gone" is polled in the next loop iteration; "back" BACK_SETTLE_MS after the event, as a USB
 * arrival is rescanned: udev sets the node's mode and group after the kernel's event (a daemon not
 * running as root would fail its first open()). One timer: a "gone" does not wait for it. */
static void hotplug_event(struct fleet *fleet, struct member *e, bool gone)
{
    if (gone) {
        e->gone_event = true;
        mainloop_timer_arm(fleet->event_timer, 0);
        return;
    }
    e->back_event = true;
    if (!mainloop_timer_armed(fleet->event_timer))
        mainloop_timer_arm(fleet->event_timer, BACK_SETTLE_MS);
}

/* A uevent of the i2c-dev class device of a configured bus (DEVNAME or kernel name i2c-N). */
static void on_uevent(void *user, const struct uevent *ev)
{
    struct fleet *fleet = user;
    if (ev->action == UEVENT_OTHER || strcmp(ev->subsystem, "i2c-dev") != 0)
        return;
    for (size_t i = 0; i < fleet->n_entries; i++) {
        struct member *e = &fleet->entries[i];
        const char *name = e->poller.link->name; /* "i2c-N" */
        if (e->i2c_bus < 0 || (strcmp(ev->devname, name) != 0 && strcmp(ev->kernel, name) != 0))
            continue;
        log_debug("uevent: %s %s", ev->action_name, name);
        hotplug_event(fleet, e, ev->action == UEVENT_REMOVE);
    }
}

static void on_uevent_fd(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                         short revents, void *user)
{
    (void)loop, (void)fd, (void)revents;
    struct fleet *fleet = user;
    int rc = uevent_monitor_dispatch(fleet->uevents, on_uevent, fleet);
    if (rc == -ENOBUFS) { /* events were lost: whatever changed, a poll of each finds it */
        log_warn("uevents were lost (socket buffer full): polling every i2c adapter now");
        for (size_t i = 0; i < fleet->n_entries; i++)
            if (fleet->entries[i].i2c_bus >= 0)
                hotplug_event(fleet, &fleet->entries[i], false);
    } else if (rc < 0) {
        log_warn("cannot read uevents (%s): i2c adapters plugged in or removed are seen by the "
                 "next poll from now on",
                 strerror(-rc));
        mainloop_remove_fd(watch);
        fleet->uevent_watch = NULL;
        uevent_monitor_free(fleet->uevents);
        fleet->uevents = NULL;
    }
}

/* With an [i2c:N] section: the kernel's uevents say when a /dev/i2c-N comes or goes. Every poll
 * still opens a missing bus again either way: one failed open() costs microseconds, and a uevent
 * can be missed (a full socket buffer, a node made by hand). */
static void watch_uevents(struct fleet *fleet)
{
    bool any = false;
    for (size_t i = 0; i < fleet->n_entries; i++)
        any |= fleet->entries[i].i2c_bus >= 0;
    if (!any)
        return;
    int rc = uevent_monitor_open(&fleet->uevents);
    if (rc == 0)
        rc = mainloop_add_fd(fleet->loop, uevent_monitor_fd(fleet->uevents), POLLIN, on_uevent_fd,
                             fleet, &fleet->uevent_watch);
    if (rc < 0) {
        uevent_monitor_free(fleet->uevents);
        fleet->uevents = NULL;
        log_info("i2c adapters plugged in or removed are seen by the next poll (no uevent "
                 "socket: %s)",
                 strerror(-rc));
        return;
    }
    log_info("i2c adapters plugged in or removed are seen at once by uevents");
}

/* Hot-plug callbacks run inside libusb's event handling, where descriptors may not be read and
 * transfers should not be started: a rescan, or a poll of an adapter that left, is scheduled
 * from the loop instead. Re-opening known adapters is the poll's job. */
static void on_hotplug(void *user, bool arrived, const struct ftdi_usb_device_info *info)
{
    struct fleet *fleet = user;
    log_debug("hot-plug: %04x:%04x %s", info->vid, info->pid, arrived ? "arrived" : "left");
    for (size_t i = 0; i < fleet->n_entries; i++) {
        struct member *e = &fleet->entries[i];
        if (e->i2c_bus >= 0)
            continue;
        if (arrived) { /* maybe one that left: its next regular poll opens it */
            e->skip_next_poll = false;
            continue;
        }
        const struct ftdi_usb_device_info *d = mpsse_link_device(e->poller.link);
        if (e->poller.link->open && d->bus == info->bus && d->address == info->address)
            hotplug_event(fleet, e, true);
    }
    if (arrived)
        mainloop_timer_arm(fleet->rescan_timer, 100);
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

static int watch_usb(struct fleet *fleet)
{
    struct pollfd fds[MAX_LIBUSB_FDS];
    int n = ftdi_usb_host_pollfds(fleet->host, fds, MAX_LIBUSB_FDS);
    for (int i = 0; i < n && i < MAX_LIBUSB_FDS; i++)
        usb_fd_added(fds[i].fd, fds[i].events, fleet);
    ftdi_usb_host_set_pollfd_notifiers(fleet->host, usb_fd_added, usb_fd_removed, fleet);

    bool hotplug = ftdi_usb_host_has_hotplug(fleet->host);
    if (hotplug && ftdi_usb_hotplug_register(fleet->host, fleet->ids, fleet->n_ids, false,
                                             on_hotplug, fleet, &fleet->hotplug) < 0)
        hotplug = false;
    int rc = mainloop_add_timer(fleet->loop, FLEET_RESCAN_MS, !hotplug, on_rescan, fleet,
                                &fleet->rescan_timer);
    if (rc == 0 && hotplug)
        mainloop_timer_disarm(fleet->rescan_timer);
    if (rc == 0)
        rc = mainloop_add_timer(fleet->loop, RETRY_FIRST_MS, false, on_rescan, fleet,
                                &fleet->retry_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->retry_timer);
    if (rc == 0)
        rc = mainloop_add_timer(fleet->loop, 0, false, on_event_timer, fleet, &fleet->event_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->event_timer);
    log_info("new adapters found by %s", hotplug ? "hot-plug" : "a rescan every 5 s");
    return rc;
}

/* ---- the fleet ---- */

int fleet_new(struct mainloop *loop, const struct fleet_options *options, struct fleet **out)
{
    struct fleet *fleet = calloc(1, sizeof(*fleet));
    *out = NULL;
    if (!fleet)
        return -ENOMEM;
    fleet->loop = loop;
    fleet->opt = *options;
    collect_ids(fleet);
    int rc = ftdi_usb_host_new(&fleet->host);
    if (rc < 0) {
        log_error("cannot initialise libusb: %s", strerror(-rc));
        fleet_free(fleet);
        return rc;
    }
    if ((rc = watch_usb(fleet)) < 0) {
        fleet_free(fleet);
        return rc;
    }
    /* every configured adapter has its service from the start */
    const struct config *cfg = fleet->opt.cfg;
    for (size_t i = 0; i < cfg->n_sections && !fleet->failed; i++) {
        if (cfg->sections[i].i2c_bus >= 0) {
            add_i2c(fleet, &cfg->sections[i]);
            continue;
        }
        struct ftdi_usb_device_info info = {.chip = FTDI_CHIP_UNKNOWN};
        snprintf(info.serial, sizeof(info.serial), "%s", cfg->sections[i].serial);
        add_ftdi(fleet, &info, true);
    }
    if (!fleet->failed) {
        watch_uevents(fleet);
        rescan(fleet);
    }
    if (fleet->n_entries == 0)
        log_warn("no adapter found yet; waiting for one to be plugged in");
    *out = fleet;
    return 0;
}

void fleet_free(struct fleet *fleet)
{
    if (!fleet)
        return;
    for (size_t i = 0; i < fleet->n_entries; i++) {
        service_free(fleet->entries[i].svc);
        poller_deinit(&fleet->entries[i].poller);
    }
    ftdi_usb_hotplug_deregister(fleet->hotplug);
    if (fleet->rescan_timer)
        mainloop_remove_timer(fleet->rescan_timer);
    if (fleet->retry_timer)
        mainloop_remove_timer(fleet->retry_timer);
    if (fleet->event_timer)
        mainloop_remove_timer(fleet->event_timer);
    if (fleet->uevent_watch)
        mainloop_remove_fd(fleet->uevent_watch);
    uevent_monitor_free(fleet->uevents);
    if (fleet->host) {
        ftdi_usb_host_set_pollfd_notifiers(fleet->host, NULL, NULL, NULL);
        for (int i = 0; i < MAX_LIBUSB_FDS; i++)
            if (fleet->usb_watch[i])
                mainloop_remove_fd(fleet->usb_watch[i]);
        ftdi_usb_host_free(fleet->host);
    }
    free(fleet);
}

/* A configured serial not found by the time its installed distributors count as lost: say which
 * serials are there, so that a typing error in the section shows next to the alarm. */
static void check_missing(struct fleet *fleet, struct member *e)
{
    e->seen |= e->poller.opened_once;
    if (e->seen || e->missing_logged || e->poller.counters.polls < fleet->opt.cfg->comm_lost_polls)
        return;
    e->missing_logged = true;
    if (e->i2c_bus >= 0) {
        char path[32];
        i2cdev_path((unsigned)e->i2c_bus, path, sizeof(path));
        log_warn("adapter %s (configured) not opened after %llu polls: %s: %s", e->serial,
                 (unsigned long long)e->poller.counters.polls, path,
                 e->poller.link->ops->error(e->poller.link));
        return;
    }
    log_warn("adapter %s (configured) not found after %llu polls; adapters present: %s", e->serial,
             (unsigned long long)e->poller.counters.polls,
             fleet->present[0] ? fleet->present : "none");
}

/* What the adapter is (its chip, the kernel's name for it) is known once it is opened. */
static void publish_hardware(struct member *e)
{
    struct bus_link_info info;
    e->poller.link->ops->describe(e->poller.link, &info);
    if (strcmp(info.hardware, e->hardware_published) == 0)
        return;
    snprintf(e->hardware_published, sizeof(e->hardware_published), "%s", info.hardware);
    service_set_hardware(e->svc, info.connection, info.hardware);
}

/* An adapter's poll ended: publish it. */
static void polled(struct poller *ad, void *user)
{
    struct member *e = user;
    if (!ad->poll_was_open && ad->link->open)
        publish_hardware(e);
    struct poll_report state;
    poller_report(ad, service_published(e->svc), &state);
    service_publish(e->svc, &state);
    check_missing(e->fleet, e);
    if (e->event_poll && !ad->polling) { /* not a poll refused while it runs (EBUSY) */
        e->event_poll = false;
        e->skip_next_poll = e->event_poll_gone ? ad->last_rc < 0 : ad->last_rc == 0;
    }
}

void fleet_poll(struct fleet *fleet)
{
    for (size_t i = 0; i < fleet->n_entries; i++) {
        struct member *e = &fleet->entries[i];
        if (e->skip_next_poll) /* a poll after a hot-plug event stood in for this one */
            e->skip_next_poll = false;
        else
            poller_poll_start(&e->poller, polled, e);
    }
}

unsigned fleet_apply_config(struct fleet *fleet, const struct config *cfg, const struct config *old,
                            bool *restart)
{
    unsigned applied = 0;
    for (size_t i = 0; i < fleet->n_entries; i++) {
        struct poller *ad = &fleet->entries[i].poller;
        const struct config_section *now = entry_config(&fleet->entries[i], cfg);
        const struct config_section *was = entry_config(&fleet->entries[i], old);
        *restart |= strcmp(now->name, was->name) != 0;
        for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
            struct lynx_distributor_setup setup;
            config_lynx_setup(now, d, &setup);
            *restart |= setup.upside_down != ad->setup[d].upside_down ||
                        memcmp(now->distributor[d].fuse_name, was->distributor[d].fuse_name,
                               sizeof(now->distributor[d].fuse_name)) != 0;
            setup.upside_down = ad->setup[d].upside_down; /* the names are mapped by it */
            applied += memcmp(&setup, &ad->setup[d], sizeof(setup)) != 0;
            ad->setup[d] = setup;
        }
    }
    mainloop_timer_arm(fleet->rescan_timer, 0); /* a stock adapter named now is claimed */
    return applied;
}

void fleet_log_summary(const struct fleet *fleet)
{
    if (fleet->uevents)
        log_info("uevents: watched for the i2c buses; %lu messages dropped as malformed or not "
                 "from the kernel",
                 uevent_monitor_dropped(fleet->uevents));
    for (size_t i = 0; i < fleet->n_entries; i++)
        poller_log_summary(&fleet->entries[i].poller, service_published(fleet->entries[i].svc));
}

size_t fleet_count(const struct fleet *fleet)
{
    return fleet->n_entries;
}

bool fleet_failed(const struct fleet *fleet)
{
    if (fleet->failed)
        return true;
    for (size_t i = 0; i < fleet->n_entries; i++)
        if (service_bus_lost(fleet->entries[i].svc))
            return true;
    return false;
}
