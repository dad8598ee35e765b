/* The poller (lynx/poller.h) over a scripted link: what it reads (the canary after the
 * distributors), what it makes of a canary that answers (a stuck bus, never "all good") and of a
 * read that timed out (not read again in the same poll). The link completes its operations only
 * from wait, as a link with a loop does from it: never before the start call returns. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "lynx/poller.h"

#define MAX_LOG 64

struct fake {
    struct bus_link base;
    /* the bus: what each address answers */
    bool acked[128];
    uint8_t data[128];
    bool timed_out[128];
    bool sda_held; /* i2c-bcm2835 on a held SDA: every address ACKs and reads 0x00 */
    /* what was asked */
    uint8_t log[MAX_LOG];
    size_t n_log;
    unsigned recoveries;
    /* the operation in flight, completed by wait */
    bus_link_done_fn done;
    void *user;
    int rc;
};

static struct fake *fake;

static int fake_open(struct bus_link *link, bus_link_done_fn done, void *user)
{
    struct fake *f = (struct fake *)link;
    f->base.open = true;
    f->done = done, f->user = user, f->rc = 0;
    return 0;
}

static int fake_read(struct bus_link *link, const uint8_t *addresses, size_t n,
                     struct bus_read *out, bool *stuck, bus_link_done_fn done, void *user)
{
    struct fake *f = (struct fake *)link;
    cr_assert_leq(n, 8, "a link reads at most 8 addresses at a time");
    for (size_t i = 0; i < n; i++) {
        uint8_t a = addresses[i];
        cr_assert_lt(f->n_log, MAX_LOG);
        f->log[f->n_log++] = a;
        out[i] = f->sda_held ? (struct bus_read){.address = a, .acked = true, .data = 0x00}
                             : (struct bus_read){.address = a,
                                                 .acked = f->acked[a],
                                                 .data = f->acked[a] ? f->data[a] : 0xFF,
                                                 .timed_out = f->timed_out[a]};
    }
    *stuck = false; /* no pin check: only the canary can tell */
    f->done = done, f->user = user, f->rc = 0;
    return 0;
}

static int fake_recover(struct bus_link *link, bus_link_done_fn done, void *user)
{
    (void)link, (void)done, (void)user;
    return -EOPNOTSUPP;
}

static void fake_resync(struct bus_link *link, int failure)
{
    (void)link, (void)failure;
}

static bool fake_busy(const struct bus_link *link)
{
    return ((const struct fake *)link)->done != NULL;
}

static void fake_wait(struct bus_link *link)
{
    struct fake *f = (struct fake *)link;
    bus_link_done_fn done = f->done;
    f->done = NULL;
    if (done)
        done(link, f->rc, f->user);
}

static void fake_describe(const struct bus_link *link, struct bus_link_info *out)
{
    (void)link;
    memset(out, 0, sizeof(*out));
    out->transport = "i2c";
}

static const char *fake_error(const struct bus_link *link)
{
    (void)link;
    return "";
}

static void fake_free(struct bus_link *link)
{
    (void)link;
}

static const struct bus_link_ops fake_ops = {
    .open = fake_open,
    .read = fake_read,
    .recover = fake_recover,
    .resync = fake_resync,
    .busy = fake_busy,
    .wait = fake_wait,
    .describe = fake_describe,
    .error = fake_error,
    .free = fake_free,
};

static struct fake the_fake;
static struct poller poller;

static void setup(void)
{
    memset(&the_fake, 0, sizeof(the_fake));
    fake = &the_fake;
    fake->base.ops = &fake_ops;
    strcpy(fake->base.name, "i2c-1");
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS] = {0};
    setup[0].installed = true;
    for (unsigned i = 0; i < LYNX_FUSES; i++)
        setup[0].fuse_installed[i] = true;
    cr_assert_eq(poller_init(&poller, &fake->base, setup, 3), 0);
}

static void teardown(void)
{
    poller_deinit(&poller);
}

TestSuite(poller, .init = setup, .fini = teardown);

static unsigned reads_of(uint8_t address)
{
    unsigned n = 0;
    for (size_t i = 0; i < fake->n_log; i++)
        n += fake->log[i] == address;
    return n;
}

static struct poll_report report(void)
{
    struct poll_report r;
    poller_report(&poller, NULL, &r);
    return r;
}

Test(poller, every_scan_reads_the_canary_after_the_distributors)
{
    fake->acked[0x08] = true, fake->data[0x08] = 0x00;
    cr_assert_eq(poller_poll(&poller), 0);
    /* the scan, then A confirmed (its first read is a change) with the canary again */
    static const uint8_t expected[] = {
        0x08, 0x09, 0x0A, 0x0B, LYNX_CANARY_ADDRESS, 0x08, LYNX_CANARY_ADDRESS};
    cr_assert_eq(fake->n_log, sizeof(expected));
    cr_assert_arr_eq(fake->log, expected, sizeof(expected));
    cr_assert_eq(poller.n_reads, 5, "the canary is not one of the poll's reads");
    fake->n_log = 0;
    cr_assert_eq(poller_poll(&poller), 0);
    cr_assert_eq(fake->n_log, 5, "an unchanged poll: the scan and its canary only");
    cr_assert_eq(fake->log[4], LYNX_CANARY_ADDRESS);
    cr_assert_eq(poller.counters.canary_acks, 0);
}

/* i2c-bcm2835 has no arbitration check: with SDA held low every address ACKs and reads 0x00,
 * "supplied, all fuses good". The canary answering makes it a stuck bus: the blown fuse stays
 * blown until the distributor counts as lost, and no "good" is ever confirmed. */
Test(poller, a_canary_that_answers_is_a_stuck_bus_and_never_confirms_all_good)
{
    fake->acked[0x08] = true, fake->data[0x08] = LYNX_STATUS_FUSE_OPEN(1);
    cr_assert_eq(poller_poll(&poller), 0);
    struct poll_report r = report();
    cr_assert_eq(r.distributor[0].status, LYNX_DISTRIBUTOR_CONNECTED);
    cr_assert_eq(r.distributor[0].fuse[1].status, LYNX_FUSE_BLOWN);

    fake->sda_held = true;
    for (int poll = 0; poll < 6; poll++) {
        cr_assert_eq(poller_poll(&poller), -EREMOTEIO, "poll %d: a stuck bus", poll);
        cr_assert(poller.bus_stuck);
        r = report();
        cr_assert_neq(r.distributor[0].fuse[1].status, LYNX_FUSE_OK,
                      "poll %d: the blown fuse read as good", poll);
        cr_assert(r.connected, "the adapter itself works");
    }
    cr_assert_eq(r.distributor[0].status, LYNX_DISTRIBUTOR_COMMS_LOST,
                 "no answer the poller believes: lost after comm_lost_polls");
    cr_assert_eq(poller.counters.canary_acks, 6);

    fake->sda_held = false;
    cr_assert_eq(poller_poll(&poller), 0);
    cr_assert_not(poller.bus_stuck, "free again");
    r = report();
    cr_assert_eq(r.distributor[0].status, LYNX_DISTRIBUTOR_CONNECTED);
    cr_assert_eq(r.distributor[0].fuse[1].status, LYNX_FUSE_BLOWN);
}

Test(poller, a_read_that_timed_out_is_not_read_again_in_the_same_poll)
{
    fake->acked[0x08] = true, fake->data[0x08] = 0x00;
    cr_assert_eq(poller_poll(&poller), 0);
    cr_assert_eq(poller_poll(&poller), 0);
    fake->n_log = 0;
    fake->acked[0x08] = false; /* a missed ACK of a connected distributor is read again ... */
    cr_assert_eq(poller_poll(&poller), 0);
    cr_assert_eq(reads_of(0x08), 2);
    fake->n_log = 0;
    fake->timed_out[0x08] = true; /* ... unless it cost the adapter's timeout */
    cr_assert_eq(poller_poll(&poller), 0);
    cr_assert_eq(reads_of(0x08), 1);
    cr_assert_eq(fake->n_log, 5, "the scan and its canary only");
}

static void poll_ended(struct poller *p, void *user)
{
    (void)p;
    (*(int *)user)++;
}

/* A link that completes from a worker: a poll due while the first one is still scanning is
 * refused (-EBUSY); that must not publish the adapter as connected before its first scan is in. */
Test(poller, a_poll_refused_during_the_first_poll_does_not_report_connected_before_its_scan)
{
    fake->acked[0x08] = true, fake->data[0x08] = 0x00;
    int ended = 0;
    poller_poll_start(&poller, poll_ended, &ended);
    fake_wait(&fake->base); /* the open completes; the scan is in flight */
    cr_assert(fake->base.open);
    cr_assert(poller.polling);
    poller_poll_start(&poller, poll_ended, &ended);
    cr_assert_eq(ended, 1, "refused at once");
    cr_assert_eq(poller.last_rc, -EBUSY);
    cr_assert_not(report().connected, "connected before the first scan is in");
    while (poller.polling)
        fake_wait(&fake->base);
    cr_assert_eq(ended, 2);
    struct poll_report r = report();
    cr_assert(r.connected);
    cr_assert_eq(r.distributor[0].status, LYNX_DISTRIBUTOR_CONNECTED);
}
