/* The poller: one I2C adapter and the Lynx Distributors on its bus, whatever the transport
 * (bus_link.h). Polls the bus (every address read once, the distributors whose read needs
 * confirming read again in the same poll), feeds the reads to a tracker per distributor, and turns
 * the trackers into a poll report (report.h) for whoever publishes it: the daemon's fleet hands it
 * to the D-Bus service; lynx-scan prints the trackers' state. Knows nothing of D-Bus.
 *
 * A poll never gives up for good; each failure costs at most that poll:
 *  - A stuck bus (the link saw SDA or SCL held low: a slave stopped mid-byte; or the canary,
 *    LYNX_CANARY_ADDRESS, read after the distributors in every scan and confirm, answered) is
 *    recovered (9 SCL pulses with SDA released, then a STOP), counted, logged once per stuck
 *    episode, and the bus is read again. Where the transport cannot recover a bus (i2c-dev), one
 *    line says so. The reads of a stuck scan are never fed to the trackers: a controller that sees
 *    every address ACK with 0x00 on a held SDA (i2c-bcm2835) cannot confirm "all good".
 *  - A read that timed out (bus_read.timed_out: the adapter's timeout ran out) is not read again
 *    in the same poll, so one slow bus costs at most one adapter timeout a read; on i2c-bcm2835 a
 *    timeout is a bus that did not finish, a stuck bus, and the link reads no more of that scan:
 *    one adapter timeout a poll.
 *  - A transport failure (USB stall, timeout, short or lost replies; a failed ioctl): the poll
 *    fails, and as it ends the link is told to bring itself back in step (bus_link resync),
 *    closing if it cannot, to be opened again at the next poll.
 *  - -ENODEV (unplugged, also in the middle of a transfer): the link closes; every later poll
 *    tries to open it again, and counts as failed until it is back, so the distributors go to
 *    "communications lost" after the configured number of polls while the service stays.
 * The report's `connected` (the service's /Adapter/Connected) is 0 from the poll that finds the
 * adapter gone, or after `lost_after` consecutive polls failed on the transport (also while it is
 * being set up again): a single error does not flicker it. */
#ifndef LYNX_POLLER_H
#define LYNX_POLLER_H

#include <stdbool.h>

#include "transport/bus_link.h"
#include "lynx/lynx.h"
#include "lynx/report.h"
#include "lynx/tracker.h"

/* Reads of one distributor in a poll, at most: the second only when the first needs confirming
 * (tracker_wants_second_read); two agreeing reads confirm a change within the same poll. */
#define POLLER_READS_PER_POLL 2

/* Where the poll stands: the link's operation in flight belongs to it. */
enum poller_stage {
    POLLER_IDLE,
    POLLER_OPEN,
    POLLER_SCAN,
    POLLER_RECOVER, /* stuck bus: 9 SCL pulses and a STOP */
    POLLER_RESCAN,  /* the scan again after a recovery */
    POLLER_CONFIRM, /* second reads of the distributors whose first read needs confirming */
};

struct poller_counters {
    uint64_t polls;          /* poller_poll calls */
    uint64_t usb_errors;     /* polls that failed on the transport (not merely: adapter absent) */
    uint64_t reopens;        /* opened again after it had been closed (unplug, USB failure) */
    uint64_t bus_recoveries; /* stuck-bus recoveries clocked (9 pulses + STOP) */
    uint64_t canary_acks;    /* scans and confirms whose canary answered: a held line */
};

/* Told the raw outcome of every poll (the recorder): was_open = the adapter was open when the poll
 * began, rc = 0 with poller->n_reads entries in reads[] (one per distributor A-D, then the
 * confirming second reads of some, each tagged with its address), else the failure (reads NULL);
 * poller->link->open says whether it is open now. Called before the trackers see the reads. */
struct poller;
typedef void (*poller_observer_fn)(void *user, const struct poller *poller, bool was_open, int rc,
                                   const struct bus_read *reads);
/* A poll has ended (poller_poll_start). */
typedef void (*poller_done_fn)(struct poller *poller, void *user);

struct poller {
    struct bus_link *link; /* owned; link->name names the adapter in logs */
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    struct tracker tracker[LYNX_DISTRIBUTORS];
    unsigned lost_after;
    bool opened_once;
    bool answered;          /* the last poll read the bus */
    unsigned link_failures; /* consecutive polls failed on the transport (or without it) */
    int last_error;         /* logged once per distinct failure */
    /* A run of failed polls logs each kind of failure once (a wedged adapter alternates two, poll
     * after poll); the repeats held back are counted and told when a poll works again. */
    struct {
        int rc;
        const char *what; /* "scan failed", "cannot set up I2C"...: a string constant */
    } episode_errors[6];
    unsigned n_episode_errors;
    unsigned held_back;
    bool bus_stuck;        /* in a stuck-bus episode (logged once) */
    bool bus_stuck_failed; /* ... in which a recovery did not free the bus (logged once) */
    struct poller_counters counters;
    size_t n_reads;              /* entries in the last poll's reads[] (see poller_observer_fn) */
    poller_observer_fn observer; /* NULL = none; set after poller_init */
    void *observer_user;
    /* the poll in progress */
    enum poller_stage stage;
    bool polling, poll_was_open, stuck;
    bool opened_in_poll; /* the link was opened in this poll */
    int last_rc;         /* the last poll's outcome */
    poller_done_fn done;
    void *done_user;
    /* the reads of the poll, and room for the canary's after the last (not in n_reads) */
    struct bus_read reads[LYNX_DISTRIBUTORS * POLLER_READS_PER_POLL + 1];
    uint8_t confirm[LYNX_DISTRIBUTORS + 1]; /* addresses read again, then the canary */
    size_t n_confirm;
};

/* Takes link (freed by poller_deinit, also when this fails); lost_after: consecutive failed
 * polls before "communications lost". */
int poller_init(struct poller *poller, struct bus_link *link,
                const struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS], unsigned lost_after);
void poller_deinit(struct poller *poller);
/* Starts one poll: open and set up the adapter if needed, scan the bus, confirm changed reads,
 * feed the trackers, then call done -- all without waiting where the transport is asynchronous
 * (MPSSE over libusb advances from the loop; i2c-dev ioctls run on the link's worker thread). If
 * the previous poll, or the resynchronisation after a failed one, still waits for the adapter, this
 * poll fails at once (-EBUSY, counted like any failed poll) and done is called before this returns:
 * a slow adapter never holds up the loop, the other adapters or D-Bus. A poll that failed on the
 * transport starts the link's resync (bus_link.h) before done is called: done may find the link
 * closed already (unplugged, or a resync that could not start); an asynchronous resync (MPSSE) runs
 * on after done, and a poll started while it does fails with -EBUSY. */
void poller_poll_start(struct poller *poller, poller_done_fn done, void *user);

/* The same, waiting for the poll (and the resynchronisation after it) to end: for lynx-scan, which
 * has no loop of its own. Returns 0 when the bus was read, else the failure's negative code. */
int poller_poll(struct poller *poller);

/* What the polls so far found, diagnostics included; previous = the report published last (its
 * fuse alarms are held while a distributor is lost), or NULL. */
void poller_report(const struct poller *poller, const struct poll_report *previous,
                   struct poll_report *out);

/* Logs the adapter's state in a few lines (SIGUSR1): open/connected and the counters, then per
 * distributor the published status, the last confirmed status byte and the fuses. */
void poller_log_summary(const struct poller *poller, const struct poll_report *published);

#endif
