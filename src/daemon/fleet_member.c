/* One member of the fleet: an adapter's poller and its D-Bus service, made together
 * (member_add), polled (member_poll), and what each poll found handed to the service: the daemon,
 * here, passes the poll report (lynx/report.h) to service_publish; the poller knows nothing of
 * D-Bus. Also the polls that a hot-plug event starts between the regular ones (fleet.h). */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "daemon/fleet_internal.h"
#include "transport/i2cdev/i2cdev_link.h"

#define BACK_SETTLE_MS 100 /* a hot-plugged bus is polled this long after its event */

const struct config_section *member_section(const struct member *m, const struct config *cfg)
{
    return m->i2c_bus >= 0 ? config_i2c_section(cfg, (unsigned)m->i2c_bus)
                           : config_ftdi_section(cfg, m->serial);
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
    for (size_t i = 0; i < fleet->n_members; i++) {
        if (strcmp(fleet->members[i].id, id) == 0) {
            size_t len = strlen(id);
            snprintf(id + len, size - len, "_%08x", (unsigned)serial_hash(serial));
            log_warn("adapter %s: its serial and adapter %s's give the same service name: "
                     "published as " SERVICE_NAME_PREFIX "%s",
                     serial, fleet->members[i].serial, id);
            return;
        }
    }
}

/* The link's completions that come through its own fd (an i2c-dev link's worker). */
static void on_link_event(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                          short revents, void *user)
{
    (void)loop, (void)watch, (void)fd, (void)revents;
    struct bus_link *link = ((struct member *)user)->poller.link;
    link->ops->dispatch(link);
}

static int watch_link(struct fleet *fleet, struct member *m)
{
    const struct bus_link *link = m->poller.link;
    int fd = link->ops->event_fd ? link->ops->event_fd(link) : -1;
    if (fd < 0)
        return 0;
    int rc = mainloop_add_fd(fleet->loop, fd, POLLIN, on_link_event, m, &m->link_watch);
    if (rc < 0)
        log_error("adapter %s: cannot watch its worker: %s", m->serial, strerror(-rc));
    return rc;
}

void member_free(struct member *m)
{
    if (m->link_watch)
        mainloop_remove_fd(m->link_watch);
    m->link_watch = NULL;
    service_free(m->svc);
    m->svc = NULL;
    poller_deinit(&m->poller);
}

struct member *member_add(struct fleet *fleet, struct bus_link *link, const char *serial,
                          int i2c_bus, bool configured, bool seen)
{
    if (fleet->n_members == FLEET_MAX_ADAPTERS) {
        log_warn("adapter %s: more than %d adapters, ignored", serial, FLEET_MAX_ADAPTERS);
        link->ops->free(link);
        return NULL;
    }
    const struct config *cfg = fleet->opt.cfg;
    struct member *m = &fleet->members[fleet->n_members];
    memset(m, 0, sizeof(*m));
    m->fleet = fleet;
    m->i2c_bus = i2c_bus;
    snprintf(m->serial, sizeof(m->serial), "%s", serial);
    m->configured = configured;
    m->seen = seen;
    const struct config_section *section = member_section(m, cfg);

    char base[32];
    if (i2c_bus >= 0) /* dbus_lynx_distributor_i2c<N> */
        snprintf(base, sizeof(base), "i2c%d", i2c_bus);
    unique_id(fleet, m->serial, i2c_bus >= 0 ? base : m->serial, m->id, sizeof(m->id));
    struct bus_link_info info;
    link->ops->describe(link, &info);
    snprintf(m->hardware_published, sizeof(m->hardware_published), "%s", info.hardware);
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    struct service_setup ss = {.serial = m->serial,
                               .id = m->id,
                               .connection = info.connection,
                               .hardware = info.hardware,
                               .custom_name = section->name,
                               .diagnostics_interval_ms = fleet->opt.diagnostics_interval_ms,
                               .settings_timeout_ms = fleet->opt.settings_timeout_ms};
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        config_lynx_setup(section, d, &setup[d]);
        ss.distributor[d] = setup[d];
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            ss.fuse_name[d][f] = section->distributor[d].fuse_name[f];
    }
    poller_init(&m->poller, link, setup, cfg->comm_lost_polls);
    recorder_attach(fleet->opt.recorder, &m->poller);
    if (watch_link(fleet, m) < 0 || service_new(fleet->loop, &ss, NULL, &m->svc) < 0) {
        /* no bus at all: nothing can be published; the supervisor starts us again */
        member_free(m);
        fleet->failed = true;
        mainloop_quit(fleet->loop);
        return NULL;
    }
    fleet->n_members++;
    log_info("adapter %s (%s): service %s", m->serial,
             seen         ? info.trace
             : configured ? "configured"
                          : "found",
             service_name(m->svc));
    return m;
}

/* A configured serial not found by the time its installed distributors count as lost: say which
 * serials are there, so that a typing error in the section shows next to the alarm. */
static void check_missing(struct fleet *fleet, struct member *m)
{
    m->seen |= m->poller.opened_once;
    if (m->seen || m->missing_logged || m->poller.counters.polls < fleet->opt.cfg->comm_lost_polls)
        return;
    m->missing_logged = true;
    if (m->i2c_bus >= 0) { /* the link's error names the node: "/dev/i2c-5: No such file..." */
        log_warn("adapter %s (configured) not opened after %llu polls: %s", m->serial,
                 (unsigned long long)m->poller.counters.polls,
                 m->poller.link->ops->error(m->poller.link));
        return;
    }
    log_warn("adapter %s (configured) not found after %llu polls; adapters present: %s", m->serial,
             (unsigned long long)m->poller.counters.polls,
             fleet->present[0] ? fleet->present : "none");
}

/* What the adapter is (its chip, the kernel's name for it) is known once it is opened. */
static void publish_hardware(struct member *m)
{
    struct bus_link_info info;
    m->poller.link->ops->describe(m->poller.link, &info);
    if (strcmp(info.hardware, m->hardware_published) == 0)
        return;
    snprintf(m->hardware_published, sizeof(m->hardware_published), "%s", info.hardware);
    service_set_hardware(m->svc, info.connection, info.hardware);
}

/* An adapter's poll ended: publish it. */
static void polled(struct poller *poller, void *user)
{
    struct member *m = user;
    if (!poller->poll_was_open && poller->link->open)
        publish_hardware(m);
    struct poll_report state;
    poller_report(poller, service_published(m->svc), &state);
    service_publish(m->svc, &state);
    check_missing(m->fleet, m);
    if (m->event_poll && !poller->polling) { /* not a poll refused while it runs (EBUSY) */
        m->event_poll = false;
        m->skip_next_poll = !m->event_poll_stood_in &&
                            (m->event_poll_gone ? poller->last_rc < 0 : poller->last_rc == 0);
        m->event_poll_stood_in = false;
    }
}

/* ---- hot-plug of known adapters: polled at once ---- */

/* A poll started by a hot-plug event instead of the poll timer. "Gone": the poll finds the
 * adapter unplugged (ENODEV, ENOENT) and publishes /Adapter/Connected 0 at once; when it failed,
 * it takes the place of the adapter's next regular poll, so that comm_lost_polls still counts
 * poll intervals (the distributors go "communications lost" no sooner than without events).
 * Nothing is polled for an adapter not open: its next poll's open() fails as before. "Back": the
 * poll opens the adapter and reads the bus now; when it did, it too takes the place of the next
 * regular poll, so that two polls never come a few ms apart (the same rhythm as without events,
 * which a replayed trace keeps step with). A poll still running is left to find it. */
static void event_poll(struct member *m, bool gone)
{
    struct poller *poller = &m->poller;
    /* open already for a "back": a regular poll got there first */
    if (poller->polling || poller->link->ops->busy(poller->link) || gone != poller->link->open)
        return;
    m->event_poll = true;
    m->event_poll_gone = gone;
    m->skip_next_poll = false;
    if (gone && m->i2c_bus >= 0)
        i2cdev_link_removed(poller->link); /* the poll's open() then finds the node gone */
    poller_poll_start(poller, polled, m);
}

void member_on_event_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    struct fleet *fleet = user;
    for (size_t i = 0; i < fleet->n_members && !fleet->failed; i++) {
        struct member *m = &fleet->members[i];
        bool gone = m->gone_event, back = m->back_event;
        m->gone_event = m->back_event = false;
        if (gone) /* first: a remove and an add read together leave the new node opened */
            event_poll(m, true);
        if (back)
            event_poll(m, false);
    }
}

/* "Gone" is polled in the next loop iteration; "back" BACK_SETTLE_MS after the event, as a USB
 * arrival is rescanned: udev sets the node's mode and group after the kernel's event (a daemon not
 * running as root would fail its first open()). One timer: a "gone" does not wait for it. */
void member_hotplug_event(struct fleet *fleet, struct member *m, bool gone)
{
    if (gone) {
        m->gone_event = true;
        mainloop_timer_arm(fleet->event_timer, 0);
        return;
    }
    m->back_event = true;
    if (!mainloop_timer_armed(fleet->event_timer))
        mainloop_timer_arm(fleet->event_timer, BACK_SETTLE_MS);
}

void member_poll(struct member *m)
{
    if (m->event_poll && m->poller.polling) {
        /* a hot-plug poll still runs (its ioctls on the link's worker): it stands in for this
         * one, rather than this one failing with -EBUSY */
        m->event_poll_stood_in = true;
        return;
    }
    poller_poll_start(&m->poller, polled, m);
}
