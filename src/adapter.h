/* One FTDI adapter (FT232H; FT2232H/FT4232H port A) and the Lynx Distributors on its I2C bus:
 * opens the adapter and sets up the MPSSE engine for I2C (open drain by drive-zero on the FT232H,
 * emulated by SDA's direction on the others, chosen from bcdDevice), runs the batched scan (every
 * address read twice, one bulk OUT + one bulk IN per poll), feeds the reads to a tracker per
 * distributor, and turns the trackers into the state the service publishes.
 *
 * A poll never gives up for good; each failure costs at most that poll:
 *  - The scan also reads the pins before its first START and after its last STOP, and ends with a
 *    bad-command echo. SDA or SCL low there is a stuck bus (a slave stopped mid-byte): the poll
 *    clocks it free (9 SCL pulses with SDA released, then a STOP), counts a bus recovery, logs one
 *    line per stuck episode, and scans again. A reply without the echo is out of step: an error.
 *  - USB errors (stall, timeout, short or lost replies): the poll fails, the reply stream is
 *    drained and checked with a sync; if that does not answer, the MPSSE engine is set up again
 *    from scratch, and if even that fails the adapter is closed and re-opened at the next poll.
 *  - -ENODEV (unplugged, also in the middle of a transfer): the adapter is closed and re-opened
 *    by serial when it is back. Until then every poll counts as failed, so the distributors go to
 *    "communications lost" after the configured number of polls while the service stays.
 * /Connected (adapter_state) is 0 from the poll that finds the adapter unplugged, or after
 * `lost_after` consecutive polls failed on USB (also while it is being set up again): a single USB
 * error does not flicker it. */
#ifndef LYNX_ADAPTER_H
#define LYNX_ADAPTER_H

#include <stdbool.h>

#include "mpsse_usb.h"
#include "lynx.h"
#include "mpsse_i2c.h"
#include "service.h"
#include "tracker.h"

/* Reads of one distributor in a poll, at most: the second only when the first needs confirming
 * (tracker_wants_second_read); two agreeing reads confirm a change within the same poll. */
#define ADAPTER_READS_PER_POLL 2
#define ADAPTER_USB_TIMEOUT_MS 200  /* one exchange (bulk OUT + its reply) */
#define ADAPTER_CMD_MAX        1024 /* a scan of all four addresses at any rate fits */
#define ADAPTER_REPLY_MAX      (LYNX_DISTRIBUTORS * ADAPTER_READS_PER_POLL * 2 + 16)

/* Where the adapter's asynchronous work stands: the exchange in flight belongs to it. */
enum adapter_stage {
    ADAPTER_IDLE,
    ADAPTER_OPEN_SETUP, /* opening: control requests */
    ADAPTER_OPEN_SYNC,  /* opening: AA -> FA AA */
    ADAPTER_OPEN_INIT,  /* opening: clock and pins */
    ADAPTER_SCAN,
    ADAPTER_RECOVER,      /* stuck bus: 9 SCL pulses and a STOP */
    ADAPTER_RESCAN,       /* the scan again after a recovery */
    ADAPTER_CONFIRM,      /* second reads of the distributors whose first read needs confirming */
    ADAPTER_RESYNC_DRAIN, /* after a failed poll (adapter_poll_start's contract) */
    ADAPTER_RESYNC_SYNC,
    ADAPTER_RESYNC_SETUP,
    ADAPTER_RESYNC_SETUP_SYNC,
    ADAPTER_RESYNC_INIT,
};

struct adapter_counters {
    uint64_t polls;          /* adapter_poll calls */
    uint64_t usb_errors;     /* polls that failed on USB (not merely: adapter absent) */
    uint64_t reopens;        /* opened again after it had been closed (unplug, USB failure) */
    uint64_t bus_recoveries; /* stuck-bus recoveries clocked (9 pulses + STOP) */
};

/* Told the raw outcome of every poll (the recorder): was_open = the adapter was open when the poll
 * began, rc = 0 with ad->n_reads entries in reads[] (one per distributor A-D, then the confirming
 * second reads of some, each tagged with its address), else the failure (reads NULL);
 * ad->open says whether it is open now. Called before the trackers see the reads. */
struct adapter;
typedef void (*adapter_observer_fn)(void *user, const struct adapter *ad, bool was_open, int rc,
                                    const struct mpsse_i2c_read *reads);
/* A poll has ended (adapter_poll_start). */
typedef void (*adapter_done_fn)(struct adapter *ad, void *user);

struct adapter {
    struct mpsse_usb_host *host;
    struct mpsse_usb_adapter *ftdi;
    struct mpsse_usb_device_info id;    /* vid, pid, serial to (re)open; pid 0: not found yet */
    const struct mpsse_usb_usb_id *ids; /* while pid is 0: the ids to look for the serial under */
    size_t n_ids;
    struct mpsse_i2c_scan scan;
    uint8_t *scan_cmd; /* built at open for the chip: the scan never changes */
    size_t scan_cmd_len;
    uint8_t *recovery_cmd;
    size_t recovery_cmd_len;
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    struct tracker tracker[LYNX_DISTRIBUTORS];
    unsigned lost_after;
    bool open;
    bool opened_once;
    bool unplugged;        /* gone from USB (-ENODEV, or not found when re-opening) */
    bool answered;         /* the last poll read the bus */
    unsigned usb_failures; /* consecutive polls failed on USB (or without the adapter) */
    int last_error;        /* logged once per distinct failure */
    bool bus_stuck;        /* in a stuck-bus episode (logged once) */
    bool bus_stuck_failed; /* ... in which a recovery did not free the bus (logged once) */
    struct adapter_counters counters;
    size_t n_reads;               /* entries in the last poll's reads[] (see adapter_observer_fn) */
    adapter_observer_fn observer; /* NULL = none; set after adapter_init */
    void *observer_user;
    /* the poll in progress */
    enum adapter_stage stage, resync_stage;
    bool polling, poll_was_open;
    bool close_pending; /* closed inside a callback: the handle goes at the next poll */
    int last_rc;        /* the last poll's outcome */
    adapter_done_fn done;
    void *done_user;
    struct mpsse_i2c_read reads[LYNX_DISTRIBUTORS * ADAPTER_READS_PER_POLL];
    struct mpsse_i2c_scan confirm;
    uint8_t confirm_cmd[ADAPTER_CMD_MAX];
    uint8_t init_cmd[MPSSE_I2C_INIT_LEN];
    uint8_t reply[ADAPTER_REPLY_MAX];
};

/* i2c_hz: SCL rate; lost_after: consecutive failed polls before "communications lost". */
int adapter_init(struct adapter *ad, struct mpsse_usb_host *host,
                 const struct mpsse_usb_device_info *id,
                 const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], uint32_t i2c_hz,
                 unsigned lost_after);
void adapter_deinit(struct adapter *ad);

/* Starts one poll: open and set up the adapter if needed, scan the bus, confirm changed reads,
 * feed the trackers, then call done -- all without waiting: every USB transfer is asynchronous
 * (mpsse_usb.h) and advances from the loop. If the previous poll, or the resynchronisation after a
 * failed one, still waits for the adapter, this poll fails at once (-EBUSY, counted like any
 * failed poll) and done is called before this returns: a slow adapter never holds up the loop,
 * the other adapters or D-Bus. A poll that failed on USB is published first; the drain, sync
 * and set-up that bring the adapter back in step run after it. */
void adapter_poll_start(struct adapter *ad, adapter_done_fn done, void *user);

/* The same, waiting for the poll (and the resynchronisation after it) to end: for lynx-scan, which
 * has no loop of its own. Returns 0 when the bus was read, else the failure's negative code. */
int adapter_poll(struct adapter *ad);

/* The state to publish, diagnostics included; previous = what was published (its fuse alarms are
 * held while lost). */
void adapter_state(const struct adapter *ad, const struct service_state *previous,
                   struct service_state *out);

/* Logs the adapter's state in a few lines (SIGUSR1): open/connected and the counters, then per
 * distributor the published status, the last confirmed status byte and the fuses. */
void adapter_log_summary(const struct adapter *ad, const struct service_state *published);

#endif
