/* One FT232H adapter and the Lynx Distributors on its I2C bus: opens the adapter and sets up the
 * MPSSE engine for I2C, runs the batched scan (every address read twice, one bulk OUT + one bulk
 * IN per poll), feeds the reads to a tracker per distributor, and turns the trackers into the
 * state the service publishes. A vanished adapter is closed and re-opened by serial when it comes
 * back; until then every poll counts as failed, so the distributors go to "communications lost"
 * after the configured number of polls while the service stays on the bus. */
#ifndef LYNX_ADAPTER_H
#define LYNX_ADAPTER_H

#include <stdbool.h>

#include "ftdi.h"
#include "lynx.h"
#include "mpsse_i2c.h"
#include "service.h"
#include "tracker.h"

#define ADAPTER_READS_PER_POLL 2 /* two agreeing reads confirm a change within the same poll */

struct adapter_counters {
    uint64_t usb_errors;
    uint64_t reopens;
};

struct adapter {
    struct ftdi_adapter *ftdi;
    struct ftdi_device_info id; /* vid, pid, serial to (re)open */
    struct mpsse_i2c_scan scan;
    uint8_t *scan_cmd; /* built once: the scan never changes */
    size_t scan_cmd_len;
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    struct tracker tracker[LYNX_DISTRIBUTORS];
    unsigned lost_after;
    bool open;
    bool answered;  /* the last poll read the bus */
    int last_error; /* logged once per distinct failure */
    struct adapter_counters counters;
};

/* i2c_hz: SCL rate; lost_after: consecutive failed polls before "communications lost". */
int adapter_init(struct adapter *ad, struct ftdi_host *host, const struct ftdi_device_info *id,
                 const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], uint32_t i2c_hz,
                 unsigned lost_after);
void adapter_deinit(struct adapter *ad);

/* Opens the adapter and sets it up for I2C. Returns 0 or a negative code (reason logged). */
int adapter_open(struct adapter *ad);

/* One poll: scan the bus (opening the adapter first if needed) and feed the trackers. Returns 0
 * when the bus was read, else the negative code of the failure. */
int adapter_poll(struct adapter *ad);

/* The state to publish; previous = what was published (its fuse alarms are held while lost). */
void adapter_state(const struct adapter *ad, const struct service_state *previous,
                   struct service_state *out);

#endif
