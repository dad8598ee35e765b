/* The fleet's Linux I2C buses: the member of each [i2c:N] section (never found by looking), and
 * the kernel's uevents that say when its /dev/i2c-N comes or goes (fleet.h). Every poll still
 * opens a missing bus again either way: one failed open() costs microseconds, and a uevent can be
 * missed (a node made by hand, no uevent socket). */
#include <string.h>
#include <unistd.h>

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

/* The kernel deletes a device's node before it sends its "remove" (device_del: devtmpfs first,
 * the uevent last, in 6.1), and an i2c adapter's number is not given again while a file of the
 * old one is open. So a "remove" while /dev/i2c-N is there is not this bus going: a udev replay,
 * a driver rebind, a forged message. Letting go of the bus for it would re-open it and poll it
 * once more, and a burst of them would count polls (and "communications lost") faster than the
 * poll interval does. A stat is no device I/O. */
static bool node_exists(int bus)
{
    char path[32];
    i2cdev_path((unsigned)bus, path, sizeof(path));
    return access(path, F_OK) == 0;
}

/* A uevent of the i2c-dev class device of a configured bus (DEVNAME or kernel name i2c-N). */
void fleet_i2c_uevent(struct fleet *fleet, const struct uevent *ev)
{
    if (ev->action == UEVENT_OTHER || strcmp(ev->subsystem, "i2c-dev") != 0)
        return;
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        const char *name = m->poller.link->name; /* "i2c-N" */
        if (m->i2c_bus < 0 || (strcmp(ev->devname, name) != 0 && strcmp(ev->kernel, name) != 0))
            continue;
        if (ev->action == UEVENT_REMOVE && node_exists(m->i2c_bus)) {
            log_debug("uevent: remove %s, but its node is there: not the bus going", name);
            continue;
        }
        log_debug("uevent: %s %s", ev->action_name, name);
        member_hotplug_event(fleet, m, ev->action == UEVENT_REMOVE);
    }
}

/* Events were lost: a node may have gone, come, or gone and come back (a new adapter behind the
 * same number) without a word. A bus not open is polled now (the poll opens it if its node is
 * there); an open one is let go of and polled now ("gone": the poll opens the node again if it
 * is there, else publishes the adapter as unplugged), so that a lost "remove" does not keep a
 * dead /dev/i2c-N open, which would also hold up the kernel's removal of a USB bridge. */
void fleet_i2c_resync(struct fleet *fleet)
{
    for (size_t i = 0; i < fleet->n_members; i++) {
        struct member *m = &fleet->members[i];
        if (m->i2c_bus >= 0)
            member_hotplug_event(fleet, m, m->poller.link->open);
    }
}
