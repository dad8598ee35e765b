/* service_diagnostics: a battery service's /Diagnostics/... items, every counter of struct
 * poll_diagnostics (the adapter's, then each distributor's). They go out as a snapshot, taken at
 * the first poll and then once per interval when any count moved (on a healthy bus: the poll
 * count alone), so GetValue, GetItems and ItemsChanged always agree and the polls between
 * snapshots send nothing for them. */
#ifndef LYNX_SERVICE_DIAGNOSTICS_H
#define LYNX_SERVICE_DIAGNOSTICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lynx/report.h"
#include "venus/vedbus.h"

#define SERVICE_ADAPTER_DIAGNOSTICS     7 /* Polls, UsbErrors, Reopens, BusRecoveries, ... */
#define SERVICE_DISTRIBUTOR_DIAGNOSTICS 4 /* CorruptReads, Nacks, UnconfirmedReads, ... */
#define SERVICE_DIAGNOSTICS                                                                        \
    (SERVICE_ADAPTER_DIAGNOSTICS + LYNX_DISTRIBUTORS * SERVICE_DISTRIBUTOR_DIAGNOSTICS)

struct service_diagnostics {
    struct vedbus_item *item[SERVICE_DIAGNOSTICS]; /* the adapter's, then A's, B's, ... */
    uint64_t interval_ms;
    uint64_t at_ms; /* when the published snapshot was taken */
    bool published;
    struct poll_diagnostics snapshot; /* what was published last */
};

/* Adds the items (0) to bus, all 0 until the first snapshot; interval_ms between snapshots. */
int service_diagnostics_add(struct service_diagnostics *d, struct vedbus_service *bus,
                            uint64_t interval_ms);
/* A poll's counts: published when a snapshot is due (see above). */
void service_diagnostics_publish(struct service_diagnostics *d, const struct poll_diagnostics *c);

#endif
