/* Tracker: turns each poll's raw reads of one distributor into the state to publish, so that a
 * corrupt read or a single missed poll never raises an alarm and a real change shows within one
 * poll.
 *
 * Each poll reads every distributor once in one batched scan (one USB round trip); only a
 * distributor whose read needs confirming (tracker_wants_second_read) is read a second time, in a
 * second batched scan of the same poll. A read is valid when the address was ACKed and the byte
 * has none of bits 0, 2, 3 set.
 *  - Two valid reads that agree confirm a status byte: it is published at once (no extra poll of
 *    latency), the distributor counts as seen and its failure count resets.
 *  - One valid read equal to the published byte is a healthy poll (nothing changes).
 *  - Anything else (NACKs, corrupt bytes, disagreeing reads) is a failed poll: the published
 *    state is kept. After `lost_after` consecutive failed polls the distributor is lost: if it is
 *    configured installed or was seen before it shows "communications lost" with its alarm,
 *    otherwise "not available" without one.
 *  - While lost, fuse-blown alarms keep their last value: a cable problem neither clears a real
 *    fuse alarm nor re-sounds it when communication returns.
 * Pure: no I/O. */
#ifndef LYNX_TRACKER_H
#define LYNX_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "lynx/lynx.h"

struct tracker_read {
    bool acked;
    uint8_t data;
};

struct tracker_counters {
    uint64_t polls;
    uint64_t nacks;         /* reads whose address was not ACKed */
    uint64_t corrupt_reads; /* ACKed reads with an impossible byte */
    uint64_t unconfirmed;   /* polls whose valid reads disagreed */
    uint64_t lost_events;   /* transitions into "lost" */
};

struct tracker {
    bool seen;        /* ever confirmed a status byte */
    bool have_status; /* `status` holds a confirmed byte */
    bool lost;
    uint8_t status;
    unsigned failures; /* consecutive failed polls */
    struct tracker_counters counters;
};

void tracker_init(struct tracker *t);

/* Feed one poll's reads (n >= 1). Returns true when the published state may have changed. */
bool tracker_feed(struct tracker *t, const struct tracker_read *reads, unsigned n,
                  unsigned lost_after);

/* Whether a poll's first read must be followed by a second one in the same poll before it is fed:
 * false when it is the published status of a connected distributor (a healthy poll) or a NACK
 * from one that is not answering anyway (never seen, or lost); true for anything else (a change,
 * a corrupt byte, a missed ACK of a connected distributor). Feeding the two reads then gives the
 * same outcome as two reads every poll, at half the bus time of an unchanged poll. */
bool tracker_wants_second_read(const struct tracker *t, struct tracker_read first);

/* A poll that could not read at all (adapter gone, USB error): a failed poll. */
bool tracker_fail(struct tracker *t, unsigned lost_after);

/* The state to publish. previous (may be NULL) is what was published before: its fuse alarms
 * are held while the distributor is lost. */
void tracker_state(const struct tracker *t, const struct lynx_distributor_setup *setup,
                   const struct lynx_distributor_state *previous,
                   struct lynx_distributor_state *out);

/* Whether the distributor should be counted in /NrOfDistributors. */
bool tracker_counted(const struct tracker *t, const struct lynx_distributor_setup *setup);

#endif
