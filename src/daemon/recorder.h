/* Recorder: appends every poll's raw observations to a trace file (`--record FILE`), cheap
 * enough to leave on for weeks. Format: fixtures/README.md, "Trace format".
 *
 * Per adapter and poll one observation: the reads of the poll (per address, in order, ACK/NACK
 * and the raw byte of each: the first read and any confirming second one), a USB error with its
 * code, "gone" (the adapter could not be reached) or "bus-stuck";
 * `back` marks the poll that re-opened an adapter. Compact: an observation equal to the
 * adapter's previous one is only counted, and the count is written as `same <n>` before the next
 * different observation, or at least every heartbeat_ms, or when the file rotates or closes.
 * Expanding every `same <n>` gives back the exact sequence of observations, poll by poll.
 *
 * Buffered: the stream is flushed after each poll that wrote something (healthy installations
 * write one line per heartbeat). Bounded: when a line would take the file past max_bytes, FILE
 * becomes FILE.1 (replacing the older one) and a new FILE starts with its own header, so at most
 * 2 * max_bytes are on disk and every file can be replayed on its own. Durable: the file is
 * fsynced (and its directory) at open, at rotation (the old part, after its rename), at
 * recorder_sync and at close, so a power loss keeps every poll up to the last of those syncs that
 * completed; a poll cut in the middle leaves at most one cut last line (lynx-sim --replay replays
 * what comes before it). Never on the loop: once recorder_use_loop has given the recorder a loop,
 * the fsyncs of rotation and recorder_sync run on a worker thread (trace_sync.h) and the loop goes
 * on meanwhile; the sync at open runs before (its failure is a start-up error), and close waits
 * for every sync asked for. An fsync that fails stops the recording like a write error.
 *
 * Only a regular file is recorded to (or a new one created): a device, FIFO or directory is
 * refused at open, and rotation renames FILE only while it is still the file being written and
 * FILE.1 only if it is a regular file. A failure in recorder_open is the caller's to report (the
 * daemon does not start); a write error later is logged once and stops the recording while the
 * daemon goes on. */
#ifndef LYNX_RECORDER_H
#define LYNX_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mainloop.h"
#include "lynx/poller.h"
#include "lynx/lynx.h"

#define RECORDER_MAX_BYTES_DEFAULT    (4u * 1024u * 1024u)
#define RECORDER_MAX_BYTES_MIN        4096u
#define RECORDER_HEARTBEAT_MS_DEFAULT 60000u
#define RECORDER_MAX_READS            4  /* reads of one distributor in one poll */
#define RECORDER_ATTRIBUTES_MAX       96 /* of an `adapter` line: transport=... and its identity */

struct recorder_options {
    uint64_t max_bytes;        /* per file, RECORDER_MAX_BYTES_MIN or more; 0 = the default */
    unsigned heartbeat_ms;     /* 0 = the default */
    unsigned poll_interval_ms; /* the daemon's, for the header (the replay's time unit) */
};

enum recorder_kind {
    RECORDER_READ,      /* the scan came back: reads[][] hold it */
    RECORDER_USB_ERROR, /* the adapter is open but the scan failed: error */
    RECORDER_GONE,      /* unplugged, or it could not be opened */
    RECORDER_BUS_STUCK, /* the I2C bus stayed stuck after a recovery (-EREMOTEIO) */
};

struct recorder_read {
    bool acked;
    uint8_t data; /* meaningful only when acked */
};

struct recorder_observation {
    enum recorder_kind kind;
    bool reopened; /* this poll opened the adapter again (written as a `back` line first) */
    int error;     /* RECORDER_USB_ERROR: the negative errno */
    unsigned n_reads[LYNX_DISTRIBUTORS]; /* RECORDER_READ: reads of A-D, 1..RECORDER_MAX_READS */
    struct recorder_read reads[LYNX_DISTRIBUTORS][RECORDER_MAX_READS]; /* [A-D][in order] */
};

struct recorder;

/* Opens (appends to) path and writes a session header. Returns 0 or a negative errno; the reason
 * is logged. */
int recorder_open(struct recorder **out, const char *path, const struct recorder_options *opt);
/* From now on the fsyncs run on a worker thread whose completions loop dispatches (call before
 * the loop runs; recorder_close before mainloop_free). NULL is fine. 0 or a negative errno (the
 * syncs then stay on the caller's thread). */
int recorder_use_loop(struct recorder *rec, struct mainloop *loop);
/* Writes the pending `same` counts, flushes, and fsyncs the file (as at rotation): at once
 * without a loop, else on the worker (the call returns before the data is on disk). NULL is fine.
 * Returns 0, or a negative errno once recording stopped. */
int recorder_sync(struct recorder *rec);
/* An fsync asked for has not completed yet. */
bool recorder_syncing(const struct recorder *rec);
/* Writes the pending `same` counts, flushes, fsyncs (waiting for the worker's syncs) and closes.
 * NULL is fine. */
void recorder_close(struct recorder *rec);

/* Records one poll of the adapter with this serial (or i2c-dev name) taken at now_ms
 * (CLOCK_MONOTONIC milliseconds). attributes, for its declaration line ("transport=ftdi
 * vid=0x0403 pid=0xd4f8", "transport=i2c bus=1"), are read at its first poll only. Returns 0, or a
 * negative errno once recording stopped. */
int recorder_observe(struct recorder *rec, uint64_t now_ms, const char *serial,
                     const char *attributes, const struct recorder_observation *obs);

/* The poller observer (poller.h) that turns a poll's outcome into an observation and records
 * it at the current monotonic time; user is the recorder. */
void recorder_poller_observer(void *user, const struct poller *poller, bool was_open, int rc,
                              const struct bus_read *reads);
/* Hooks the recorder into a poller (after poller_init); a NULL recorder does nothing. */
void recorder_attach(struct recorder *rec, struct poller *poller);

/* Bytes written to the current file so far (header included). */
uint64_t recorder_file_bytes(const struct recorder *rec);

/* "4096", "512k", "4M", "1G" (binary units) -> bytes. Returns 0, -EINVAL (not a size) or -ERANGE
 * (more than 2^64 - 1 bytes). */
int recorder_parse_size(const char *text, uint64_t *bytes);

#endif
