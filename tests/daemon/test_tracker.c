/* The tracker: confirmation, corrupt reads, connection-lost counting and held alarms. */
#include <criterion/criterion.h>

#include "lynx/tracker.h"

#define LOST_AFTER 3

static const struct lynx_distributor_setup installed = {.installed = true,
                                                        .fuse_installed = {true, true, true, true}};
static const struct lynx_distributor_setup optional = {.installed = false,
                                                       .fuse_installed = {true, true, true, true}};

static bool feed2(struct tracker *t, int a, int b)
{
    /* -1 = NACK */
    struct tracker_read r[2] = {{a >= 0, (uint8_t)(a < 0 ? 0xFF : a)},
                                {b >= 0, (uint8_t)(b < 0 ? 0xFF : b)}};
    return tracker_feed(t, r, 2, LOST_AFTER);
}

static struct lynx_distributor_state state_of(const struct tracker *t,
                                              const struct lynx_distributor_setup *setup,
                                              const struct lynx_distributor_state *prev)
{
    struct lynx_distributor_state s;
    tracker_state(t, setup, prev, &s);
    return s;
}

Test(tracker, two_agreeing_reads_publish_a_change_in_the_same_poll)
{
    struct tracker t;
    tracker_init(&t);
    cr_assert(feed2(&t, 0x00, 0x00));
    cr_assert_eq(state_of(&t, &installed, NULL).status, LYNX_DISTRIBUTOR_CONNECTED);
    cr_assert(feed2(&t, 0x20, 0x20), "fuse 2 blowing is a change");
    struct lynx_distributor_state s = state_of(&t, &installed, NULL);
    cr_assert_eq(s.fuse[1].status, LYNX_FUSE_BLOWN);
    cr_assert_eq(s.fuse[1].blown_alarm, LYNX_ALARM_ALARM);
    cr_assert_not(feed2(&t, 0x20, 0x20), "the same byte again is no change");
}

Test(tracker, a_single_corrupt_or_disagreeing_read_changes_nothing)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x00, 0x00);
    cr_assert_not(feed2(&t, 0x00, 0x7F), "truncated second read, first agrees: healthy");
    cr_assert_not(feed2(&t, 0x10, 0x00), "one read says fuse 1 open, the other not: unconfirmed");
    cr_assert_not(feed2(&t, 0x10, 0x03), "an unconfirmed change with a corrupt read");
    cr_assert_eq(state_of(&t, &installed, NULL).fuse[0].status, LYNX_FUSE_OK);
    cr_assert_eq(t.counters.corrupt_reads, 2);
    cr_assert_eq(t.counters.unconfirmed, 1);
}

Test(tracker, connection_lost_only_after_consecutive_failed_polls)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x00, 0x00);
    for (int i = 1; i < LOST_AFTER; i++) {
        cr_assert_not(feed2(&t, -1, -1));
        cr_assert_eq(state_of(&t, &installed, NULL).status, LYNX_DISTRIBUTOR_CONNECTED);
    }
    cr_assert(feed2(&t, -1, -1), "poll %d: lost", LOST_AFTER);
    struct lynx_distributor_state s = state_of(&t, &optional, NULL);
    cr_assert_eq(s.status, LYNX_DISTRIBUTOR_COMMS_LOST, "seen before: lost even if not configured");
    cr_assert_eq(s.connection_lost_alarm, LYNX_ALARM_ALARM);
    cr_assert(feed2(&t, 0x00, 0x00), "back");
    cr_assert_eq(state_of(&t, &installed, NULL).connection_lost_alarm, LYNX_ALARM_OK);
}

Test(tracker, one_good_poll_resets_the_failure_count)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x00, 0x00);
    for (int round = 0; round < 10; round++) {
        for (int i = 1; i < LOST_AFTER; i++)
            feed2(&t, -1, -1);
        feed2(&t, 0x00, -1);
    }
    cr_assert_not(t.lost);
}

Test(tracker, never_seen_and_not_installed_is_not_available_without_alarm)
{
    struct tracker t;
    tracker_init(&t);
    for (int i = 0; i < 2 * LOST_AFTER; i++)
        feed2(&t, -1, -1);
    struct lynx_distributor_state s = state_of(&t, &optional, NULL);
    cr_assert_eq(s.status, LYNX_DISTRIBUTOR_NOT_AVAILABLE);
    cr_assert_eq(s.connection_lost_alarm, LYNX_ALARM_OK);
    cr_assert_not(tracker_counted(&t, &optional));
    s = state_of(&t, &installed, NULL);
    cr_assert_eq(s.status, LYNX_DISTRIBUTOR_COMMS_LOST, "configured installed: alarm");
    cr_assert_eq(s.connection_lost_alarm, LYNX_ALARM_ALARM);
}

Test(tracker, installed_but_absent_raises_nothing_before_the_threshold)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, -1, -1);
    struct lynx_distributor_state s = state_of(&t, &installed, NULL);
    cr_assert_eq(s.status, LYNX_DISTRIBUTOR_NOT_AVAILABLE, "a restart never sounds the buzzer");
    cr_assert_eq(s.connection_lost_alarm, LYNX_ALARM_OK);
}

Test(tracker, fuse_alarm_is_held_while_communication_is_lost)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x40, 0x40);
    struct lynx_distributor_state before = state_of(&t, &installed, NULL);
    cr_assert_eq(before.fuse[2].blown_alarm, LYNX_ALARM_ALARM);
    for (int i = 0; i < LOST_AFTER; i++)
        tracker_fail(&t, LOST_AFTER);
    struct lynx_distributor_state lost = state_of(&t, &installed, &before);
    cr_assert_eq(lost.status, LYNX_DISTRIBUTOR_COMMS_LOST);
    cr_assert_eq(lost.fuse[2].blown_alarm, LYNX_ALARM_ALARM);
    cr_assert_eq(lost.fuse[0].blown_alarm, LYNX_ALARM_OK);
}

Test(tracker, no_alarm_is_held_on_a_fuse_slot_declared_empty_while_lost)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x40, 0x40); /* fuse 2 blown */
    struct lynx_distributor_state before = state_of(&t, &installed, NULL);
    for (int i = 0; i < LOST_AFTER; i++)
        tracker_fail(&t, LOST_AFTER);
    /* a reload declares slot 2 empty while the distributor does not answer */
    struct lynx_distributor_setup slot2_empty = installed;
    slot2_empty.fuse_installed[2] = false;
    struct lynx_distributor_state lost = state_of(&t, &slot2_empty, &before);
    cr_assert_eq(lost.status, LYNX_DISTRIBUTOR_COMMS_LOST);
    cr_assert_eq(lost.fuse[2].status, LYNX_FUSE_NOT_USED);
    cr_assert_eq(lost.fuse[2].blown_alarm, LYNX_ALARM_OK, "an empty slot has no alarm");
}

static bool wants(const struct tracker *t, int first)
{
    return tracker_wants_second_read(t, (struct tracker_read){first >= 0, (uint8_t)first});
}

Test(tracker, only_a_read_that_differs_from_what_is_published_is_read_again)
{
    struct tracker t;
    tracker_init(&t);
    cr_assert(wants(&t, 0x00), "nothing published yet: a first status needs confirming");
    cr_assert_not(wants(&t, -1), "a NACK from a distributor never seen: nothing to confirm");
    feed2(&t, 0x40, 0x40);
    cr_assert_not(wants(&t, 0x40), "the published status: a healthy poll");
    cr_assert(wants(&t, 0x50), "a fuse more open: a change to confirm");
    cr_assert(wants(&t, 0x00), "a fuse replaced: a change to confirm");
    cr_assert(wants(&t, 0x7F), "a truncated read gets a second chance");
    cr_assert(wants(&t, -1), "a missed ACK of a connected distributor gets a second chance");
    for (int i = 0; i < LOST_AFTER; i++)
        feed2(&t, -1, -1);
    cr_assert(t.lost);
    cr_assert_not(wants(&t, -1), "lost: another NACK changes nothing");
    cr_assert(wants(&t, 0x40), "lost: even the old status must be confirmed to come back");
}

Test(tracker, a_healthy_first_read_alone_keeps_the_distributor_connected)
{
    struct tracker t;
    tracker_init(&t);
    feed2(&t, 0x00, 0x00);
    t.failures = 1;
    struct tracker_read one = {true, 0x00};
    cr_assert_not(tracker_feed(&t, &one, 1, LOST_AFTER));
    cr_assert_eq(t.failures, 0);
    cr_assert_eq(state_of(&t, &installed, NULL).status, LYNX_DISTRIBUTOR_CONNECTED);
}
