/* The fleet (fleet.h): made and freed, its regular polls, SIGHUP's new configuration, the
 * kernel's uevents (for the USB inventory and the i2c-dev nodes), and its state. Finding the
 * adapters is fleet_usb.c's and fleet_i2c.c's job, a member's polls fleet_member.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"

static void on_uevent(void *user, const struct uevent *ev)
{
    struct fleet *fleet = user;
    fleet_i2c_uevent(fleet, ev);
    fleet_usb_uevent(fleet, ev);
}

static void without_uevents(struct fleet *fleet, const char *why)
{
    log_info("no uevents (%s): USB adapters are looked for in sysfs every %d s, and i2c adapters "
             "plugged in or removed are seen by the next poll",
             why, FLEET_RESCAN_MS / 1000);
    fleet_usb_without_uevents(fleet);
}

static void on_uevent_fd(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                         short revents, void *user)
{
    (void)loop, (void)fd, (void)revents;
    struct fleet *fleet = user;
    int rc = uevent_monitor_dispatch(fleet->uevents, on_uevent, fleet);
    if (rc == -ENOBUFS) { /* events were lost: whatever changed, looking again finds it */
        log_warn("uevents were lost (socket buffer full): reading the USB devices again and "
                 "re-opening every i2c adapter");
        fleet_i2c_resync(fleet);
        fleet_usb_events_lost(fleet);
    } else if (rc < 0) {
        mainloop_remove_fd(watch);
        fleet->uevent_watch = NULL;
        uevent_monitor_free(fleet->uevents);
        fleet->uevents = NULL;
        without_uevents(fleet, strerror(-rc));
    }
}

/* The kernel's uevents say when a USB device or a /dev/i2c-N comes or goes. */
static void watch_uevents(struct fleet *fleet)
{
    int rc = uevent_monitor_open(&fleet->uevents);
    if (rc == 0)
        rc = mainloop_add_fd(fleet->loop, uevent_monitor_fd(fleet->uevents), POLLIN, on_uevent_fd,
                             fleet, &fleet->uevent_watch);
    if (rc < 0) {
        uevent_monitor_free(fleet->uevents);
        fleet->uevents = NULL;
        without_uevents(fleet, strerror(-rc));
        return;
    }
    bool forced;
    int got = uevent_monitor_rcvbuf(fleet->uevents, &forced);
    if (got >= 2 * UEVENT_RCVBUF_BYTES)
        log_info(
            "USB and i2c adapters plugged in or removed are seen at once by uevents (socket buffer "
            "%d KiB)",
            got / 1024);
    else /* Linux reports twice what it grants */
        log_warn("USB and i2c adapters plugged in or removed are seen at once by uevents, but the "
                 "socket buffer is %d KiB, not the %d KiB asked for (SO_RCVBUFFORCE %s; SO_RCVBUF "
                 "is capped "
                 "by net.core.rmem_max): a burst of events may be lost, and is then made up for",
                 got / 1024, 2 * UEVENT_RCVBUF_BYTES / 1024,
                 forced ? "granted less" : "not permitted");
}

/* "[i2c:N]" or "[ftdi:SERIAL]": a member's section as the file spells it, for messages. */
static const char *section_label(const struct member *m, char *buf, size_t size)
{
    if (m->i2c_bus >= 0)
        snprintf(buf, size, "[i2c:%d]", m->i2c_bus);
    else
        snprintf(buf, size, "[ftdi:%s]", m->serial);
    return buf;
}

/* A member for every section that has none: at start, and after SIGHUP added sections. */
static void add_sections(struct fleet *fleet, bool reload)
{
    const struct config *cfg = fleet->opt.cfg;
    for (size_t i = 0; i < cfg->n_sections && !fleet->failed; i++) {
        const struct config_section *section = &cfg->sections[i];
        bool member = false;
        for (size_t k = 0; k < fleet->n_members && !member; k++)
            member = member_section(&fleet->members[k], cfg) == section;
        if (member)
            continue;
        size_t n = fleet->n_members;
        if (section->i2c_bus >= 0)
            fleet_i2c_add(fleet, section);
        else
            fleet_usb_add_configured(fleet, section);
        char label[96];
        if (reload && fleet->n_members > n)
            log_info("SIGHUP: %s added: %s",
                     section_label(&fleet->members[n], label, sizeof(label)),
                     service_name(fleet->members[n].svc));
    }
}

static void on_reload_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    add_sections(user, true);
    fleet_usb_claim_named(user);
}

int fleet_new(struct mainloop *loop, const struct fleet_options *options, struct fleet **out)
{
    struct fleet *fleet = calloc(1, sizeof(*fleet));
    *out = NULL;
    if (!fleet)
        return -ENOMEM;
    fleet->loop = loop;
    fleet->opt = *options;
    int rc = fleet_usb_open(fleet);
    if (rc == 0) /* the polls a hot-plug event starts, USB or i2c-dev */
        rc = mainloop_add_timer(fleet->loop, 0, false, member_on_event_timer, fleet,
                                &fleet->event_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->event_timer);
    if (rc == 0)
        rc =
            mainloop_add_timer(fleet->loop, 0, false, on_reload_timer, fleet, &fleet->reload_timer);
    if (rc == 0)
        mainloop_timer_disarm(fleet->reload_timer);
    if (rc < 0) {
        fleet_free(fleet);
        return rc;
    }
    add_sections(fleet, false); /* every configured adapter has its service from the start */
    if (!fleet->failed) {
        watch_uevents(fleet); /* first: nothing plugged in meanwhile is missed */
        fleet_usb_refresh(fleet);
    }
    if (fleet->n_members == 0)
        log_warn("no adapter found yet; waiting for one to be plugged in");
    *out = fleet;
    return 0;
}

void fleet_free(struct fleet *fleet)
{
    if (!fleet)
        return;
    for (size_t i = 0; i < fleet->n_members; i++)
        member_free(&fleet->members[i]);
    if (fleet->event_timer)
        mainloop_remove_timer(fleet->event_timer);
    if (fleet->reload_timer)
        mainloop_remove_timer(fleet->reload_timer);
    if (fleet->uevent_watch)
        mainloop_remove_fd(fleet->uevent_watch);
    uevent_monitor_free(fleet->uevents);
    fleet_usb_close(fleet);
    free(fleet);
}

void fleet_poll(struct fleet *fleet)
{
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        if (m->skip_next_poll) /* a poll after a hot-plug event stood in for this one */
            m->skip_next_poll = false;
        else
            member_poll(m);
    }
}

unsigned fleet_apply_config(struct fleet *fleet, const struct config *cfg, const struct config *old,
                            bool *restart)
{
    unsigned applied = 0;
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        struct poller *poller = &m->poller;
        const struct config_section *now = member_section(m, cfg);
        const struct config_section *was = member_section(m, old);
        if (m->configured && now == &cfg->defaults) {
            /* Its pointers are in the loop's callbacks: a member is never freed while running. */
            char label[96];
            log_warn("SIGHUP: %s is not in the file any more: adapter %s keeps its service and "
                     "its settings, polled as before, until a restart (svc -t)",
                     section_label(m, label, sizeof(label)), m->serial);
            *restart = true;
            continue;
        }
        *restart |= strcmp(now->name, was->name) != 0;
        for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
            struct lynx_distributor_setup setup;
            config_lynx_setup(now, d, &setup);
            *restart |= setup.upside_down != poller->setup[d].upside_down ||
                        memcmp(now->distributor[d].fuse_name, was->distributor[d].fuse_name,
                               sizeof(now->distributor[d].fuse_name)) != 0;
            setup.upside_down = poller->setup[d].upside_down; /* the names are mapped by it */
            applied += memcmp(&setup, &poller->setup[d], sizeof(setup)) != 0;
            poller->setup[d] = setup;
        }
    }
    /* new sections get their services, and a stock adapter named now is claimed, once cfg is in
     * place (the caller puts it there) */
    mainloop_timer_arm(fleet->reload_timer, 0);
    return applied;
}

void fleet_log_summary(const struct fleet *fleet)
{
    if (fleet->uevents)
        log_info("uevents: watched for USB devices and i2c buses; %lu messages dropped as "
                 "malformed or not from the kernel",
                 uevent_monitor_dropped(fleet->uevents));
    log_info("USB inventory: %zu devices, %lu left out (over %d, or unreadable in sysfs)",
             usb_inventory_count(fleet->inventory), usb_inventory_skipped(fleet->inventory),
             USB_INVENTORY_MAX);
    for (size_t i = 0; i < fleet->n_members; i++)
        poller_log_summary(&fleet->members[i].poller, service_published(fleet->members[i].svc));
}

size_t fleet_count(const struct fleet *fleet)
{
    return fleet->n_members;
}

bool fleet_failed(const struct fleet *fleet)
{
    if (fleet->failed)
        return true;
    for (size_t i = 0; i < fleet->n_members; i++)
        if (service_bus_lost(fleet->members[i].svc))
            return true;
    return false;
}
