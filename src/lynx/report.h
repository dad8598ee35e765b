/* What one poll of a bus found (poller.h), as plain data: the state of the adapter and of each
 * distributor, and the diagnostics counters. The poller fills it in; the daemon hands it to the
 * D-Bus service (venus/service.h), which publishes it. */
#ifndef LYNX_REPORT_H
#define LYNX_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "lynx/lynx.h"

struct distributor_diagnostics {
    uint64_t corrupt_reads;     /* ACKed reads with an impossible byte */
    uint64_t nacks;             /* reads whose address was not ACKed */
    uint64_t unconfirmed_reads; /* polls whose valid reads disagreed */
    uint64_t connection_losses; /* times it went to "communications lost" */
};

struct poll_diagnostics {
    uint64_t polls, usb_errors, reopens, bus_recoveries;
    uint64_t corrupt_reads, nacks, unconfirmed_reads; /* over the counted distributors */
    struct distributor_diagnostics distributor[LYNX_DISTRIBUTORS];
};

/* What one poll found. */
struct poll_report {
    bool connected; /* the adapter is open and polls do not keep failing on USB */
    bool counted[LYNX_DISTRIBUTORS];
    struct lynx_distributor_state distributor[LYNX_DISTRIBUTORS];
    struct poll_diagnostics diagnostics;
};

#endif
