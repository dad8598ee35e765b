/* The battery service of one adapter: com.victronenergy.battery.dbus_lynx_distributor_<serial>
 * with the mandatory Venus paths, /NrOfDistributors, /Distributor/[A-D]/..., /Alarms/FuseBlown.
 *
 * The service exists as long as the daemon runs, also while its adapter is unplugged (then
 * /Connected is 0 and the distributors go to "communications lost" through their trackers), so
 * consumers never see it vanish. service_publish() diffs the new state against what is on the bus
 * and sends one ItemsChanged with only what changed. /CustomName and every fuse /Name are writeable
 * from the GUI: fuse names at most 16 bytes of valid UTF-8, anything else is refused with
 * SetValue result 2 and changes nothing. */
#ifndef LYNX_SERVICE_H
#define LYNX_SERVICE_H

#include <stdbool.h>

#include "lynx.h"
#include "mainloop.h"

#define SERVICE_NAME_PREFIX        "com.victronenergy.battery."
#define SERVICE_SETTINGS_ID_PREFIX "dbus_lynx_distributor_"
/* Far above the instances of real battery monitors, so systemcalc's auto-selection (lowest
 * instance first) never picks a distributor-only service as the system battery. */
#define SERVICE_DEFAULT_DEVICE_INSTANCE 990

struct service_setup {
    const char *serial;      /* adapter serial */
    const char *connection;  /* /Mgmt/Connection, e.g. "USB 1-1.2 FT232H I2C" */
    const char *custom_name; /* from the config file; "" = none */
    struct lynx_distributor_setup distributor[LYNX_DISTRIBUTORS];
    const char *fuse_name[LYNX_DISTRIBUTORS][LYNX_FUSES]; /* by physical index; NULL = default */
};

/* What one poll found, ready to publish. */
struct service_state {
    bool connected; /* the adapter answered this poll */
    bool counted[LYNX_DISTRIBUTORS];
    struct lynx_distributor_state distributor[LYNX_DISTRIBUTORS];
};

struct service;

/* Creates every item, then requests the bus name; bus address NULL = system bus. Returns 0 or a
 * negative errno (-EEXIST: the name is taken by another process). */
int service_new(struct mainloop *loop, const struct service_setup *setup, const char *address,
                struct service **out);
void service_free(struct service *svc);

/* "dbus_lynx_distributor_<serial>" with the serial sanitised to [A-Za-z0-9_]. */
void service_settings_id(const char *serial, char *buf, size_t size);

/* Publishes a poll's result; returns the number of items sent (0 = nothing changed). */
int service_publish(struct service *svc, const struct service_state *state);

/* The state published last (for held alarms). */
const struct service_state *service_published(const struct service *svc);

#endif
