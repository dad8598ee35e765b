/* The fleet's Linux I2C buses: the member of each [i2c:N] section (never found by looking), and
 * the kernel's uevents that say when its /dev/i2c-N comes or goes (fleet.h). */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"
#include "transport/i2cdev/i2cdev_link.h"

/* An [i2c:N] section: claimed only so, never found by looking. */
void fleet_i2c_add(struct fleet *fleet, const struct config_section *section)
{
    struct bus_link *link;
    if (i2cdev_link_new((unsigned)section->i2c_bus, &link) < 0) {
        log_error("adapter %s: out of memory", section->serial);
        return;
    }
    member_add(fleet, link, section->serial, section->i2c_bus, true, false);
}

/* A uevent of the i2c-dev class device of a configured bus (DEVNAME or kernel name i2c-N). */
static void on_uevent(void *user, const struct uevent *ev)
{
    struct fleet *fleet = user;
    if (ev->action == UEVENT_OTHER || strcmp(ev->subsystem, "i2c-dev") != 0)
        return;
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        const char *name = m->poller.link->name; /* "i2c-N" */
        if (m->i2c_bus < 0 || (strcmp(ev->devname, name) != 0 && strcmp(ev->kernel, name) != 0))
            continue;
        log_debug("uevent: %s %s", ev->action_name, name);
        member_hotplug_event(fleet, m, ev->action == UEVENT_REMOVE);
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
        for (size_t i = 0; i < fleet->n_members; i++)
            if (fleet->members[i].i2c_bus >= 0)
                member_hotplug_event(fleet, &fleet->members[i], false);
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
void fleet_i2c_watch_uevents(struct fleet *fleet)
{
    bool any = false;
    for (size_t i = 0; i < fleet->n_members; i++)
        any |= fleet->members[i].i2c_bus >= 0;
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
