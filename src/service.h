/* The battery service of one adapter: com.victronenergy.battery.dbus_lynx_distributor_<serial>
 * with the mandatory Venus paths, /NrOfDistributors, /Distributor/[A-D]/..., /Alarms/FuseBlown.
 *
 * The service exists as long as the daemon runs, also while its adapter is unplugged (then
 * /Connected is 0 and the distributors go to "communications lost" through their trackers), so
 * consumers never see it vanish. service_publish() diffs the new state against what is on the bus
 * and sends one ItemsChanged with only what changed. /CustomName and every fuse /Name are writeable
 * from the GUI: fuse names at most 16 bytes of valid UTF-8, anything else is refused with
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
 * afresh, which re-registers every name, setting and item the way a start does and raises no
 * alarm. */
#ifndef LYNX_SERVICE_H
#define LYNX_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "lynx.h"
#include "mainloop.h"

#define SERVICE_NAME_PREFIX        "com.victronenergy.battery."
#define SERVICE_SETTINGS_ID_PREFIX "dbus_lynx_distributor_"
/* Far above the instances of real battery monitors, so systemcalc's auto-selection (lowest
 * instance first) never picks a distributor-only service as the system battery. */
#define SERVICE_DEFAULT_DEVICE_INSTANCE 990
#define SERVICE_DIAGNOSTICS_INTERVAL_MS 60000

struct service_setup {
    const char *serial;      /* adapter serial */
    const char *connection;  /* /Mgmt/Connection, e.g. "USB FT232H I2C" */
    const char *hardware;    /* /HardwareVersion: the adapter chip, e.g. "FT2232H I2C" */
    const char *custom_name; /* from the config file; "" = none */
    struct lynx_distributor_setup distributor[LYNX_DISTRIBUTORS];
    const char *fuse_name[LYNX_DISTRIBUTORS][LYNX_FUSES]; /* by physical index; NULL = default */
    unsigned diagnostics_interval_ms;                     /* 0 = SERVICE_DIAGNOSTICS_INTERVAL_MS */
};

struct service_distributor_diagnostics {
    uint64_t corrupt_reads;     /* ACKed reads with an impossible byte */
    uint64_t nacks;             /* reads whose address was not ACKed */
    uint64_t unconfirmed_reads; /* polls whose valid reads disagreed */
    uint64_t connection_losses; /* times it went to "communications lost" */
};

struct service_diagnostics {
    uint64_t polls, usb_errors, reopens, bus_recoveries;
    uint64_t corrupt_reads, nacks, unconfirmed_reads; /* over the counted distributors */
    struct service_distributor_diagnostics distributor[LYNX_DISTRIBUTORS];
};

/* What one poll found, ready to publish. */
struct service_state {
    bool connected; /* the adapter is open and polls do not keep failing on USB */
    bool counted[LYNX_DISTRIBUTORS];
    struct lynx_distributor_state distributor[LYNX_DISTRIBUTORS];
    struct service_diagnostics diagnostics;
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

/* Whether the service lost its D-Bus connection (the loop was told to quit). */
bool service_bus_lost(const struct service *svc);

#endif
