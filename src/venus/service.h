/* The battery service of one adapter: com.victronenergy.battery.dbus_lynx_distributor_<serial>
 * with the mandatory Venus paths, /NrOfDistributors and /Distributor/[A-D]/...
 *
 * Neutral towards the system's battery monitor: systemcalc's automatic choice takes any battery
 * service whose /Connected is 1 (and whose /ProductName and /Mgmt/Connection are set) before it
 * falls back to a Multi's SoC, and then offers it in /AvailableBatteryServices. So /Connected is
 * always 0 and the adapter's state is /Adapter/Connected (1 while it is open and polls do not keep
 * failing on USB). gui-v2 lists and names the device, venus-platform registers its alarms and
 * dbus-flashmq publishes it whatever /Connected says.
 *
 * One notification per blown fuse: there is no aggregate alarm (venus-platform would notify
 * /Alarms/FuseBlown as a "Fuse blown" of its own next to the per-fuse one, which names the fuse).
 *
 * The instance before the name: consumers read /DeviceInstance once, when the name appears. The
 * service therefore requests its name only once localsettings has answered for
 * ClassAndVrmInstance, or after settings_timeout_ms without an answer (then with the default and a
 * log line). When the instance later changes (localsettings appears late, or the VRM-instance page
 * writes the setting) the service leaves the bus and comes back. A refused name is retried with a
 * back-off. Polls publish throughout: while the name is not owned, nothing is sent and consumers
 * read every value when it appears.
 *
 * The service exists as long as the daemon runs, also while its adapter is unplugged (then
 * /Adapter/Connected is 0 and the distributors go to "communications lost" through their
 * trackers), so consumers never see it vanish. service_publish() diffs a poll report against what
 * is on the bus and sends one ItemsChanged with only what changed. /CustomName and every fuse
 * /Name are writeable from the GUI under the rules of name.h; anything else is refused with
 * SetValue result 2 and changes nothing.
 *
 * Diagnostics: /Diagnostics/{Polls,UsbErrors,Reopens,BusRecoveries} of the adapter,
 * /Diagnostics/{CorruptReads,Nacks,UnconfirmedReads} summed over the counted distributors
 * (installed or seen: an absent address would NACK every poll), and per distributor
 * /Diagnostics/Distributor/[A-D]/{CorruptReads,Nacks,UnconfirmedReads,ConnectionLosses}.
 * They change nearly every poll, so they must not cost the "no message for an unchanged poll"
 * rule: they are a snapshot taken at the first poll and then once per diagnostics interval
 * (SERVICE_DIAGNOSTICS_INTERVAL_MS, 60 s, unless set up otherwise); the snapshot's changed counts
 * ride along in that poll's ItemsChanged, and the polls in between send nothing for them.
 * GetValue, GetItems and ItemsChanged therefore always agree.
 *
 * Losing the D-Bus connection (dbus-daemon restarted) makes the loop quit and service_bus_lost()
 * true: the daemon then exits non-zero and its supervisor (daemontools on Venus OS) starts it
 * afresh, which re-registers every name, setting and item the way a start does. */
#ifndef LYNX_SERVICE_H
#define LYNX_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lynx/lynx.h"
#include "lynx/report.h"
#include "base/mainloop.h"

#define SERVICE_NAME_PREFIX        "com.victronenergy.battery."
#define SERVICE_SETTINGS_ID_PREFIX "dbus_lynx_distributor_"
/* Clear of the low instances real battery monitors take (localsettings bumps it on a clash). */
#define SERVICE_DEFAULT_DEVICE_INSTANCE 990
#define SERVICE_DIAGNOSTICS_INTERVAL_MS 60000
#define SERVICE_SETTINGS_TIMEOUT_MS     30000 /* how long to wait for the instance at most */
#define SERVICE_ANNOUNCE_RETRY_MIN_MS   1000  /* a refused bus name: first retry ... */
#define SERVICE_ANNOUNCE_RETRY_MAX_MS   30000 /* ... doubling up to this */

struct service_setup {
    const char *serial;      /* adapter serial: /Serial */
    const char *id;          /* "dbus_lynx_distributor_<serial sanitised>", unique in the daemon:
                              * the bus name's last element and the settings' device id */
    const char *connection;  /* /Mgmt/Connection, e.g. "USB FT232H I2C" */
    const char *hardware;    /* /HardwareVersion: the adapter chip, e.g. "FT2232H I2C" */
    const char *custom_name; /* from the config file; "" = none */
    struct lynx_distributor_setup distributor[LYNX_DISTRIBUTORS];
    const char *fuse_name[LYNX_DISTRIBUTORS][LYNX_FUSES]; /* by physical index; NULL = default */
    unsigned diagnostics_interval_ms;                     /* 0 = SERVICE_DIAGNOSTICS_INTERVAL_MS */
    uint32_t settings_timeout_ms; /* the wait for the instance; 0 = request the name at once */
};

struct service;

/* Connects (bus address NULL = system bus), creates every item and starts the settings client;
 * the name follows from the loop (see above), or at once when settings_timeout_ms is 0. Returns 0
 * or a negative errno (no connection to the bus, out of memory). */
int service_new(struct mainloop *loop, const struct service_setup *setup, const char *address,
                struct service **out);
void service_free(struct service *svc);

/* "dbus_lynx_distributor_<serial>" with the serial sanitised to [A-Za-z0-9_]. */
void service_settings_id(const char *serial, char *buf, size_t size);

/* /Mgmt/Connection and /HardwareVersion, once the adapter's chip is known (a configured adapter
 * absent at start is published as "USB I2C adapter" until then). */
void service_set_hardware(struct service *svc, const char *connection, const char *hardware);

const char *service_name(const struct service *svc);

/* Publishes a poll's result; returns the number of items sent (0 = nothing changed). */
int service_publish(struct service *svc, const struct poll_report *report);

/* The poll report published last (for held alarms). */
const struct poll_report *service_published(const struct service *svc);

/* Whether the service lost its D-Bus connection (the loop was told to quit). */
bool service_bus_lost(const struct service *svc);

#endif
