/* The tracker (tracker.h): one distributor's reads, poll by poll, to the state to publish. */
#include "lynx/tracker.h"

#include <string.h>

void tracker_init(struct tracker *t)
{
    memset(t, 0, sizeof(*t));
}

static bool fail_poll(struct tracker *t, unsigned lost_after)
{
    t->failures++;
    if (t->lost || t->failures < (lost_after ? lost_after : 1))
        return false;
    t->lost = true;
    t->counters.lost_events++;
    return true;
}

bool tracker_fail(struct tracker *t, unsigned lost_after)
{
    t->counters.polls++;
    return fail_poll(t, lost_after);
}

bool tracker_feed(struct tracker *t, const struct tracker_read *reads, unsigned n,
                  unsigned lost_after)
{
    uint8_t valid[8];
    unsigned n_valid = 0;

    t->counters.polls++;
    for (unsigned i = 0; i < n; i++) {
        if (!reads[i].acked)
            t->counters.nacks++;
        else if (!lynx_status_valid(reads[i].data))
            t->counters.corrupt_reads++;
        else if (n_valid < sizeof(valid))
            valid[n_valid++] = reads[i].data;
    }

    for (unsigned i = 0; i < n_valid; i++)
        for (unsigned k = i + 1; k < n_valid; k++)
            if (valid[i] == valid[k]) {
                bool changed = !t->have_status || t->status != valid[i] || t->lost;
                t->status = valid[i];
                t->have_status = t->seen = true;
                t->lost = false;
                t->failures = 0;
                return changed;
            }

    for (unsigned i = 0; i < n_valid; i++)
        if (t->have_status && !t->lost && valid[i] == t->status) {
            t->failures = 0;
            return false;
        }
    if (n_valid > 0)
        t->counters.unconfirmed++;
    return fail_poll(t, lost_after);
}

bool tracker_wants_second_read(const struct tracker *t, struct tracker_read first)
{
    bool connected = t->have_status && !t->lost;
    if (!first.acked)
        return connected;
    return !(connected && lynx_status_valid(first.data) && first.data == t->status);
}

void tracker_state(const struct tracker *t, const struct lynx_distributor_setup *setup,
                   const struct lynx_distributor_state *previous,
                   struct lynx_distributor_state *out)
{
    if (t->have_status && !t->lost && lynx_decode_status(t->status, setup, out) == 0)
        return;

    struct lynx_distributor_setup absent = *setup;
    absent.installed = t->lost && (setup->installed || t->seen);
    lynx_decode_absent(&absent, out);
    /* A lost distributor's fuse alarms are held (it may be the blown fuse that silenced it), but
     * only on slots still declared installed: a slot declared empty meanwhile has no alarm. */
    if (t->lost && previous)
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            if (out->fuse[f].status != LYNX_FUSE_NOT_USED)
                out->fuse[f].blown_alarm = previous->fuse[f].blown_alarm;
}

bool tracker_counted(const struct tracker *t, const struct lynx_distributor_setup *setup)
{
    return setup->installed || t->seen;
}
