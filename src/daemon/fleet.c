/* The fleet (fleet.h): made and freed, its regular polls, SIGHUP's new configuration, and its
 * state. Finding the adapters is fleet_usb.c's and fleet_i2c.c's job, a member's polls
 * fleet_member.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"

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
    if (rc < 0) {
        fleet_free(fleet);
        return rc;
    }
    /* every configured adapter has its service from the start */
    const struct config *cfg = fleet->opt.cfg;
    for (size_t i = 0; i < cfg->n_sections && !fleet->failed; i++) {
        if (cfg->sections[i].i2c_bus >= 0)
            fleet_i2c_add(fleet, &cfg->sections[i]);
        else
            fleet_usb_add_configured(fleet, &cfg->sections[i]);
    }
    if (!fleet->failed) {
        fleet_i2c_watch_uevents(fleet);
        fleet_usb_rescan(fleet);
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
        struct poller *poller = &fleet->members[i].poller;
        const struct config_section *now = member_section(&fleet->members[i], cfg);
        const struct config_section *was = member_section(&fleet->members[i], old);
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
    mainloop_timer_arm(fleet->rescan_timer, 0); /* a stock adapter named now is claimed */
    return applied;
}

void fleet_log_summary(const struct fleet *fleet)
{
    if (fleet->uevents)
        log_info("uevents: watched for the i2c buses; %lu messages dropped as malformed or not "
                 "from the kernel",
                 uevent_monitor_dropped(fleet->uevents));
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
