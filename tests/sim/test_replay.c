/* Trace parsing (errors name file:line and what was expected), the recorder's output read back
 * poll by poll, and what a replay queues on the simulated distributors before the daemon runs. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run/hardware.h"
#include "model/lynx_slave.h"
#include "daemon/recorder.h"
#include "run/replay.h"

static int parse(const char *text, struct sim_trace *t, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    int rc = sim_trace_parse(f, "t.trace", t, err, errlen);
    fclose(f);
    return rc;
}

static void expect_error(const char *text, const char *message)
{
    struct sim_trace t;
    char err[300] = "";
    cr_assert_eq(parse(text, &t, err, sizeof(err)), -EINVAL, "accepted: %s", text);
    cr_assert_str_eq(err, message);
}

#define HEADER "lynx-trace 1 poll-interval-ms=1000\nadapter LYNX0001 vid=0x0403 pid=0xd4f8\n"

Test(trace, reads_usb_errors_gone_and_same_counts_become_observations_with_poll_counts)
{
    struct sim_trace t;
    char err[300];
    int rc = parse("# a comment\n" HEADER "1000 LYNX0001 read A=20,07 B=00 C=nack D=nack # x\n"
                   "5000 LYNX0001 same 4\n"
                   "6000 LYNX0001 usb-error ETIMEDOUT\n"
                   "7000 LYNX0001 gone\n"
                   "9000 LYNX0001 same 2\n"
                   "10000 LYNX0001 back\n"
                   "10000 LYNX0001 read A=00 B=00 C=nack D=nack\n"
                   "11000 LYNX0001 usb-error -5\n"
                   "12000 LYNX0001 bus-stuck\n",
                   &t, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(t.poll_interval_ms, 1000);
    cr_assert_eq(t.n_adapters, 1);
    const struct sim_trace_adapter *a = &t.adapters[0];
    cr_assert_str_eq(a->serial, "LYNX0001");
    cr_assert_eq(a->pid, 0xD4F8);
    cr_assert_eq(a->n_obs, 6);
    cr_assert_eq(a->polls, 5 + 1 + 3 + 1 + 1 + 1);
    const struct sim_trace_obs *o = a->obs;
    cr_assert_eq(o[0].kind, SIM_TRACE_READ);
    cr_assert_eq(o[0].count, 5);
    cr_assert_eq(o[0].at_ms, 1000);
    cr_assert_eq(o[0].last_ms, 5000);
    cr_assert_eq(o[0].n_answers[0], 2);
    cr_assert_eq(o[0].answers[0][0], 0x20);
    cr_assert_eq(o[0].answers[0][1], 0x07);
    cr_assert_eq(o[0].n_answers[1], 1);
    cr_assert_eq(o[0].answers[2][0], SIM_LYNX_SCRIPT_NACK);
    cr_assert_eq(o[1].kind, SIM_TRACE_USB_ERROR);
    cr_assert_eq(o[1].error, -ETIMEDOUT);
    cr_assert_eq(o[2].kind, SIM_TRACE_GONE);
    cr_assert_eq(o[2].count, 3);
    cr_assert(o[3].reopened);
    cr_assert_not(o[2].reopened);
    cr_assert_eq(o[4].error, -EIO);
    cr_assert_eq(o[5].kind, SIM_TRACE_BUS_STUCK);
    cr_assert_eq(o[5].line, 12);
    sim_trace_clear(&t);
}

Test(trace, errors_name_the_file_the_line_and_what_was_expected)
{
    expect_error("adapter LYNX0001\n",
                 "t.trace:1: expected 'lynx-trace 1 poll-interval-ms=<ms>' first, got 'adapter'");
    expect_error("", "t.trace:1: expected 'lynx-trace 1 poll-interval-ms=<ms>' (empty trace)");
    expect_error("lynx-trace 2 poll-interval-ms=1000\n",
                 "t.trace:1: trace version 2 is not supported (expected 1)");
    expect_error("lynx-trace 1 poll-interval=1000\n",
                 "t.trace:1: expected 'lynx-trace 1 poll-interval-ms=<ms>'");
    expect_error(HEADER "1 LYNX0001 read A=20 B=00 C=nack\n",
                 "t.trace:3: expected 'read A=<r>[,<r>...] B=... C=... D=...' (r = nack or a hex "
                 "byte)");
    expect_error(HEADER "1 LYNX0001 read A=20 B=0 C=nack D=nack\n",
                 "t.trace:3: expected B=<r>[,<r>...] with 1-4 reads (r = nack or a hex byte), got "
                 "'B=0'");
    expect_error(HEADER "1 LYNX0001 read A=20 C=00 B=nack D=nack\n",
                 "t.trace:3: expected B=<r>[,<r>...] with 1-4 reads (r = nack or a hex byte), got "
                 "'C=00'");
    expect_error(HEADER "1 LYNX0001 read A=1,2,3,4,5 B=00 C=nack D=nack\n",
                 "t.trace:3: expected A=<r>[,<r>...] with 1-4 reads (r = nack or a hex byte), got "
                 "'A=1,2,3,4,5'");
    expect_error(HEADER "1 LYNX0002 gone\n", "t.trace:3: adapter 'LYNX0002' is not declared "
                                             "(expected an 'adapter LYNX0002' line before)");
    expect_error(HEADER "1 LYNX0001 usb-error EFOO\n",
                 "t.trace:3: expected 'usb-error <code>' (an errno name such as EPIPE, or "
                 "-<number>), got 'EFOO'");
    expect_error(HEADER "1 LYNX0001 same 3\n", "t.trace:3: 'same' before any observation of "
                                               "LYNX0001");
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 same 0\n",
                 "t.trace:4: expected '<ms> <serial> same <polls, 1 or more>'");
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 back\n3 LYNX0001 same 1\n",
                 "t.trace:5: 'same' right after 'back': expected an observation");
    expect_error(HEADER "5 LYNX0001 gone\n4 LYNX0001 gone\n",
                 "t.trace:4: time goes backwards: 4 after 5 ms");
    expect_error(HEADER "5 LYNX0001 explode\n", "t.trace:3: unknown observation 'explode' "
                                                "(expected read, usb-error, gone, bus-stuck, "
                                                "back or same)");
    expect_error(HEADER "adapter LYNX0001\n", "t.trace:3: adapter LYNX0001 is declared twice");
    expect_error(HEADER "adapter LYNX0002 pid=d4f8\n",
                 "t.trace:3: expected 'adapter <serial> [transport=ftdi] [vid=0x0403] "
                 "[pid=0xd4f8]' or 'adapter <name> transport=i2c bus=<N>', got 'pid=d4f8'");
    expect_error(HEADER "1 LYNX0001 gone\nlynx-trace 1 poll-interval-ms=1000\n",
                 "t.trace:4: a second recording session starts here (the daemon restarted): "
                 "replay one session at a time (split the file at this line)");
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 back\n",
                 "t.trace:4: the trace ends after 'back' of LYNX0001: expected an observation");
    expect_error(HEADER "hello\n", "t.trace:3: unknown statement 'hello' (expected adapter or "
                                   "'<ms> <serial> read|usb-error|gone|bus-stuck|back|same')");
}

Test(trace, adapter_lines_name_their_transport_and_a_line_without_is_ftdi)
{
    struct sim_trace t;
    char err[300];
    cr_assert_eq(parse(HEADER "adapter FT2 transport=ftdi vid=0x0403 pid=0x6014\n"
                              "adapter i2c-1 transport=i2c bus=1\n"
                              "1 i2c-1 read A=20 B=nack C=nack D=nack\n",
                       &t, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(t.n_adapters, 3);
    cr_assert_eq(t.adapters[0].transport, SIM_TRANSPORT_FTDI);
    cr_assert_eq(t.adapters[0].pid, 0xD4F8);
    cr_assert_eq(t.adapters[1].transport, SIM_TRANSPORT_FTDI);
    cr_assert_eq(t.adapters[1].pid, 0x6014);
    cr_assert_eq(t.adapters[2].transport, SIM_TRANSPORT_I2C);
    cr_assert_eq(t.adapters[2].bus, 1);
    struct sim_scenario sc;
    sim_trace_scenario(&t, &sc);
    cr_assert_eq(sc.adapters[2].transport, SIM_TRANSPORT_I2C);
    cr_assert_eq(sc.adapters[2].i2c_bus, 1);
    cr_assert_str_eq(sc.adapters[2].serial, "i2c-1");
    cr_assert(sc.adapters[2].plugged && sc.adapters[2].distributors[3].declared);
    struct sim_hardware hw;
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(hw.adapters[2].i2c);
    cr_assert_null(hw.adapters[2].dev);
    sim_hardware_free(&hw);
    sim_scenario_clear(&sc);
    sim_trace_clear(&t);
}

Test(trace, i2c_adapter_lines_need_a_bus_and_no_usb_ids)
{
    expect_error(HEADER "adapter i2c-1 transport=i2c\n",
                 "t.trace:3: adapter i2c-1: transport=i2c needs bus=<N>");
    expect_error(HEADER "adapter i2c-1 transport=i2c bus=1 pid=0x6014\n",
                 "t.trace:3: adapter i2c-1: transport=i2c has a bus=, not vid= or pid=");
    expect_error(HEADER "adapter i2c-1 bus=1\n", "t.trace:3: adapter i2c-1: bus= needs "
                                                 "transport=i2c");
    expect_error(HEADER "adapter i2c-1 transport=spi bus=1\n",
                 "t.trace:3: expected 'adapter <serial> [transport=ftdi] [vid=0x0403] "
                 "[pid=0xd4f8]' or 'adapter <name> transport=i2c bus=<N>', got 'transport=spi'");
    expect_error(HEADER "adapter i2c-1 transport=i2c bus=256\n",
                 "t.trace:3: expected 'adapter <serial> [transport=ftdi] [vid=0x0403] "
                 "[pid=0xd4f8]' or 'adapter <name> transport=i2c bus=<N>', got 'bus=256'");
    expect_error(HEADER "adapter a transport=i2c bus=1\nadapter b transport=i2c bus=1\n",
                 "t.trace:4: adapters a and b are both on bus 1");
}

static int parse_bytes(const char *text, size_t len, struct sim_trace *t, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, len, "r");
    cr_assert_not_null(f);
    int rc = sim_trace_parse(f, "t.trace", t, err, errlen);
    fclose(f);
    return rc;
}

/* A full disk or a power loss cuts the recording mid-line: that line is left out with a
 * warning, everything before it is the trace. */
Test(trace, a_cut_last_line_is_left_out_and_the_rest_replays)
{
    static const char *const cuts[] = {
        "5 LYNX0001 read A=00 B=00 C=nack D=na", /* the error it used to be */
        "5 LYNX0001 same 1",                     /* parses, but "same 12" was cut */
        "5 LYNX0001 back",
        "5 LYNX0001 read A=00 B=00 C=nack D=nack", /* even complete words: no end of line */
        "\0\0\0\0",                                /* a power loss on ext4: zeros */
    };
    static const size_t lens[] = {37, 17, 15, 39, 4};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char text[512];
        size_t len = (size_t)snprintf(text, sizeof(text), "%s",
                                      HEADER "1 LYNX0001 read A=20 B=00 C=nack D=nack\n"
                                             "4 LYNX0001 same 3\n");
        memcpy(text + len, cuts[i], lens[i]);
        len += lens[i];
        struct sim_trace t;
        char err[300] = "";
        cr_assert_eq(parse_bytes(text, len, &t, err, sizeof(err)), 0, "cut %zu: %s", i, err);
        cr_assert_eq(t.cut_line, 5, "cut %zu", i);
        cr_assert_eq(t.adapters[0].n_obs, 1);
        cr_assert_eq(t.adapters[0].polls, 4);
        char warning[300];
        sim_trace_cut_warning(&t, "t.trace", warning, sizeof(warning));
        cr_assert_str_eq(warning, "t.trace:5: the last line has no end of line: it was cut while "
                                  "recording (full disk or power loss?); it is left out, lines "
                                  "1-4 are replayed");
        sim_trace_clear(&t);
    }
    struct sim_trace t;
    char err[300];
    cr_assert_eq(parse(HEADER "1 LYNX0001 gone\n", &t, err, sizeof(err)), 0);
    cr_assert_eq(t.cut_line, 0);
    sim_trace_clear(&t);
    /* a NUL byte inside a complete line is not a cut: an error */
    static const char nul[] = HEADER "1 LYNX0001 gone\0x\n2 LYNX0001 gone\n";
    cr_assert_eq(parse_bytes(nul, sizeof(nul) - 1, &t, err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "t.trace:3: contains a NUL byte (is this a trace?)");
}

Test(trace, same_counts_that_would_overflow_are_refused)
{
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 same 18446744073709551615\n",
                 "t.trace:4: 'same 18446744073709551615' is too large: LYNX0001 would have more "
                 "than 9007199254740992 polls (2^53)");
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 same 99999999999999999999999\n",
                 "t.trace:4: 'same 99999999999999999999999' is too large: LYNX0001 would have "
                 "more than 9007199254740992 polls (2^53)");
    /* two counts that fit one by one but not together */
    expect_error(HEADER "1 LYNX0001 gone\n2 LYNX0001 same 9007199254740000\n"
                        "3 LYNX0001 same 9007199254740000\n",
                 "t.trace:5: 'same 9007199254740000' is too large: LYNX0001 would have more "
                 "than 9007199254740992 polls (2^53)");
    struct sim_trace t;
    char err[300];
    cr_assert_eq(
        parse(HEADER "1 LYNX0001 gone\n2 LYNX0001 same 9007199254740991\n", &t, err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(t.adapters[0].polls, UINT64_C(9007199254740992));
    sim_trace_clear(&t);
}

Test(trace, a_trace_without_observations_or_a_directory_is_refused_by_name)
{
    expect_error("lynx-trace 1 poll-interval-ms=1000\n",
                 "t.trace:1: the trace has no observation (only a header): nothing to replay");
    expect_error(HEADER, "t.trace:2: the trace has no observation (only a header and adapter "
                         "lines): nothing to replay");
    struct sim_trace t;
    char err[300] = "";
    cr_assert_lt(sim_trace_load("/tmp", &t, err, sizeof(err)), 0);
    cr_assert_str_eq(err, "/tmp: cannot read: Is a directory");
}

Test(trace, errno_names_and_numbers_are_both_accepted)
{
    cr_assert_eq(sim_trace_errno("EPIPE"), -EPIPE);
    cr_assert_eq(sim_trace_errno("ENODEV"), -ENODEV);
    cr_assert_eq(sim_trace_errno("-110"), -110);
    cr_assert_eq(sim_trace_errno("EFOO"), 0);
    cr_assert_eq(sim_trace_errno("-0"), 0);
    cr_assert_eq(sim_trace_errno("-x"), 0);
}

/* The recorder writes what the parser reads: every poll comes back, in order. */
Test(trace, what_the_recorder_writes_parses_back_to_the_same_polls)
{
    char path[] = "/tmp/lynx-trace-rt-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    struct recorder *rec;
    struct recorder_options opt = {.poll_interval_ms = 200};
    /* 50 polls: healthy, a fuse blows (confirmed by 2 reads), a USB error, gone, back */
    struct recorder_observation seq[50];
    for (int i = 0; i < 50; i++) {
        struct recorder_observation *o = &seq[i];
        memset(o, 0, sizeof(*o));
        if (i >= 30 && i < 33) {
            o->kind = RECORDER_GONE;
            continue;
        }
        if (i == 25) {
            o->kind = RECORDER_USB_ERROR;
            o->error = -EPIPE;
            continue;
        }
        o->kind = RECORDER_READ;
        o->reopened = i == 33;
        for (int d = 0; d < 4; d++) {
            o->n_reads[d] = 1;
            o->reads[d][0].acked = d < 2;
        }
        o->reads[0][0].data = i >= 10 ? 0x20 : 0x00;
        if (i == 10) {
            o->n_reads[0] = 2;
            o->reads[0][1] = (struct recorder_read){.acked = true, .data = 0x20};
        }
    }
    cr_assert_eq(recorder_open(&rec, path, &opt), 0);
    for (int i = 0; i < 50; i++)
        recorder_observe(rec, 1000 + 200 * (uint64_t)i, "LYNX0001",
                         "transport=ftdi vid=0x0403 pid=0xd4f8", &seq[i]);
    recorder_close(rec);
    struct sim_trace t;
    char err[300];
    cr_assert_eq(sim_trace_load(path, &t, err, sizeof(err)), 0, "%s", err);
    unlink(path);
    const struct sim_trace_adapter *a = &t.adapters[0];
    cr_assert_eq(a->polls, 50);
    int poll = 0;
    for (size_t e = 0; e < a->n_obs; e++)
        for (uint64_t k = 0; k < a->obs[e].count; k++, poll++) {
            const struct sim_trace_obs *o = &a->obs[e];
            const struct recorder_observation *want = &seq[poll];
            cr_assert_eq((int)o->kind, (int)want->kind, "poll %d", poll);
            cr_assert_eq(o->reopened && k == 0, want->reopened, "poll %d", poll);
            if (want->kind == RECORDER_USB_ERROR)
                cr_assert_eq(o->error, want->error);
            if (want->kind != RECORDER_READ)
                continue;
            for (int d = 0; d < 4; d++) {
                cr_assert_eq(o->n_answers[d], want->n_reads[d], "poll %d %c", poll, 'A' + d);
                for (unsigned r = 0; r < want->n_reads[d]; r++)
                    cr_assert_eq(o->answers[d][r],
                                 want->reads[d][r].acked ? want->reads[d][r].data
                                                         : SIM_LYNX_SCRIPT_NACK,
                                 "poll %d %c read %u", poll, 'A' + d, r);
            }
        }
    cr_assert_eq(poll, 50);
    sim_trace_clear(&t);
}

Test(replay, queues_the_answers_of_the_reads_up_to_the_first_usb_error_before_the_daemon_starts)
{
    struct sim_trace t;
    char err[300];
    cr_assert_eq(parse(HEADER "0 LYNX0001 read A=00,00 B=10 C=nack D=nack\n"
                              "1000 LYNX0001 read A=00 B=10 C=nack D=nack\n"
                              "4000 LYNX0001 same 3\n"
                              "5000 LYNX0001 usb-error EPIPE\n"
                              "6000 LYNX0001 read A=00 B=10 C=nack D=nack\n",
                       &t, err, sizeof(err)),
                 0, "%s", err);
    struct sim_scenario sc;
    struct sim_hardware hw;
    sim_trace_scenario(&t, &sc);
    cr_assert_eq(sc.n_adapters, 1);
    cr_assert(sc.adapters[0].distributors[3].declared && sc.adapters[0].distributors[3].present);
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
    struct sim_replay *r;
    FILE *log = fopen("/dev/null", "w");
    cr_assert_eq(sim_replay_new(&r, &t, &hw, 5.0, log, err, sizeof(err)), 0, "%s", err);
    /* 5 read polls (A: 2 + 4 answers, the others 1 each) queued; the USB error waits for its
     * poll, and so does everything after it */
    cr_assert_eq(sim_lynx_script_pending(hw.adapters[0].lynx[0]), 6);
    cr_assert_eq(sim_lynx_script_pending(hw.adapters[0].lynx[1]), 5);
    cr_assert_eq(sim_lynx_script_pending(hw.adapters[0].lynx[3]), 5);
    cr_assert_not(sim_replay_finished(r));
    char status[200];
    FILE *out = fmemopen(status, sizeof(status), "w");
    sim_replay_write_status(r, out);
    fclose(out);
    cr_assert_str_eq(status, "LYNX0001 0/7 polls\nfinished no\ndivergences 0\n");
    sim_replay_free(r);
    fclose(log);
    sim_hardware_free(&hw);
    sim_scenario_clear(&sc);
    sim_trace_clear(&t);
}

Test(replay, a_trace_without_any_read_is_refused)
{
    struct sim_trace t;
    char err[300];
    cr_assert_eq(parse(HEADER "0 LYNX0001 gone\n", &t, err, sizeof(err)), 0, "%s", err);
    struct sim_scenario sc;
    struct sim_hardware hw;
    sim_trace_scenario(&t, &sc);
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
    struct sim_replay *r;
    cr_assert_eq(sim_replay_new(&r, &t, &hw, 1.0, stderr, err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "adapter LYNX0001: the trace has no read to replay");
    cr_assert_eq(sim_replay_new(&r, &t, &hw, 0.0, stderr, err, sizeof(err)), -EINVAL);
    sim_hardware_free(&hw);
    sim_scenario_clear(&sc);
    sim_trace_clear(&t);
}

/* ---- the replay judged by what the polls carry, not by when they come -------------------------
 * An i2c-dev adapter of the trace, and a stand-in for the daemon that polls it as the daemon
 * does: one read transaction per distributor A-D, then the confirming second reads, the poll
 * ending at its first failed transfer. The test drives the replay's clock. */

#define I2C_HEADER "lynx-trace 1 poll-interval-ms=1000\nadapter i2c-1 transport=i2c bus=1\n"

/* 5 reads, a stall, 2 reads (the first with a confirming second read of A), then held. */
static const char usb_error_trace[] = I2C_HEADER "0 i2c-1 read A=00 B=10 C=nack D=nack\n"
                                                 "4000 i2c-1 same 4\n"
                                                 "5000 i2c-1 usb-error EPIPE\n"
                                                 "6000 i2c-1 read A=20,20 B=10 C=nack D=nack\n"
                                                 "7000 i2c-1 read A=20 B=10 C=nack D=nack\n";

struct replay_rig {
    struct sim_trace t;
    struct sim_scenario sc;
    struct sim_hardware hw;
    struct sim_replay *r;
    char *log;
    size_t log_len;
    FILE *log_file;
};

static void rig_start(struct replay_rig *rig, const char *trace)
{
    char err[300];
    memset(rig, 0, sizeof(*rig));
    cr_assert_eq(parse(trace, &rig->t, err, sizeof(err)), 0, "%s", err);
    sim_trace_scenario(&rig->t, &rig->sc);
    cr_assert_eq(sim_hardware_init(&rig->hw, &rig->sc, false, err, sizeof(err)), 0, "%s", err);
    rig->log_file = open_memstream(&rig->log, &rig->log_len);
    cr_assert_not_null(rig->log_file);
    cr_assert_eq(sim_replay_new(&rig->r, &rig->t, &rig->hw, 1.0, rig->log_file, err, sizeof(err)),
                 0, "%s", err);
}

static void rig_stop(struct replay_rig *rig)
{
    sim_replay_free(rig->r);
    fclose(rig->log_file);
    free(rig->log);
    sim_hardware_free(&rig->hw);
    sim_scenario_clear(&rig->sc);
    sim_trace_clear(&rig->t);
}

/* One poll as the daemon makes it, written as the trace writes it: "A=00 B=10 C=nack D=nack"
 * (second reads of the letters in `again`), or "usb-error -32" when a transfer failed. */
static void daemon_poll(struct replay_rig *rig, uint64_t now_ms, const char *again, char *seen,
                        size_t max)
{
    struct sim_i2cdev *dev = rig->hw.adapters[0].i2c;
    int answers[4][2];
    unsigned n[4] = {0};
    for (int round = 0; round < 2; round++)
        for (int d = 0; d < 4; d++) {
            if (round == 1 && !strchr(again, 'A' + d))
                continue;
            struct sim_i2cdev_client client = {.addr = (uint16_t)(0x08 + d)};
            uint8_t byte;
            ssize_t rc = sim_i2cdev_read(dev, &client, &byte, 1, now_ms * 1000000);
            if (rc < 0 && rc != -ENXIO) {
                snprintf(seen, max, "usb-error %zd", rc);
                return;
            }
            answers[d][n[d]++] = rc < 0 ? -1 : byte;
        }
    size_t len = 0;
    seen[0] = '\0';
    for (int d = 0; d < 4; d++)
        for (unsigned k = 0; k < n[d]; k++) {
            const char *sep = k ? "," : d ? " " : "";
            len += (size_t)(answers[d][k] < 0
                                ? snprintf(seen + len, max - len, "%s%s%snack", sep,
                                           k ? "" : (char[]){(char)('A' + d), 0}, k ? "" : "=")
                                : snprintf(seen + len, max - len, "%s%s%s%02x", sep,
                                           k ? "" : (char[]){(char)('A' + d), 0}, k ? "" : "=",
                                           answers[d][k]));
        }
}

/* Polls on the daemon's 1 s grid, each seen by the replay right after it, the fault placed half
 * an interval before its poll; `late_ms[i]`: how much later than its tick poll i comes. */
static void replay_polls(struct replay_rig *rig, const uint64_t *late_ms, size_t n_polls,
                         char seen[][64])
{
    for (size_t i = 0; i < n_polls; i++) {
        uint64_t tick = 1000 + 1000 * i, at = tick + late_ms[i];
        sim_replay_step(rig->r, tick - 400); /* the replay's own tick, between two polls */
        daemon_poll(rig, at, i == 6 ? "A" : "", seen[i], sizeof(seen[i]));
        sim_replay_step(rig->r, at + 1);
    }
}

static const char *const usb_error_polls[] = {
    "A=00 B=10 C=nack D=nack",    "A=00 B=10 C=nack D=nack", "A=00 B=10 C=nack D=nack",
    "A=00 B=10 C=nack D=nack",    "A=00 B=10 C=nack D=nack", "usb-error -32",
    "A=20,20 B=10 C=nack D=nack", "A=20 B=10 C=nack D=nack", "A=20 B=10 C=nack D=nack"};

/* A loaded machine delays the daemon's polls (here by up to 40 s, and by more than an interval
 * around the stall): the polls still carry the trace's observations in order, so no divergence. */
Test(replay, polls_delayed_by_a_loaded_machine_are_not_a_divergence)
{
    struct replay_rig rig;
    rig_start(&rig, usb_error_trace);
    /* poll 5 (the stall) 900 ms late, poll 6 12 s late (a stopped daemon), 7 40 s late */
    static const uint64_t late[] = {0, 150, 0, 480, 0, 900, 12000, 40000, 40000};
    char seen[9][64];
    replay_polls(&rig, late, 9, seen);
    for (size_t i = 0; i < 9; i++)
        cr_assert_str_eq(seen[i], usb_error_polls[i], "poll %zu: %s", i, seen[i]);
    fflush(rig.log_file);
    cr_assert_eq(sim_replay_divergences(rig.r), 0, "%s", rig.log);
    cr_assert_null(strstr(rig.log, "diverged"), "%s", rig.log);
    cr_assert(sim_replay_finished(rig.r));
    rig_stop(&rig);
}

/* The replay itself comes too late (the simulator was not scheduled while the daemon polled):
 * the stall is not in place at its poll, the daemon reads the bus where the trace has a USB
 * error. That is a real divergence, reported with the poll and the trace line. */
Test(replay, a_poll_that_finds_its_usb_error_not_in_place_is_a_divergence)
{
    struct replay_rig rig;
    rig_start(&rig, usb_error_trace);
    static const uint64_t on_time[] = {0, 0, 0, 0, 0};
    char seen[9][64];
    replay_polls(&rig, on_time, 5, seen);
    /* poll 5 at its tick, but the replay's last step was right after poll 4 */
    daemon_poll(&rig, 6000, "", seen[5], sizeof(seen[5]));
    cr_assert_neq(strcmp(seen[5], "usb-error -32"), 0, "the stall was in place: %s", seen[5]);
    sim_replay_step(rig.r, 6001);
    fflush(rig.log_file);
    cr_assert_eq(sim_replay_divergences(rig.r), 1, "%s", rig.log);
    cr_assert_not_null(strstr(rig.log, "lynx-sim: replay: diverged: i2c-1: the daemon read A, B, "
                                       "C, D with no answer of the trace queued, after poll 5 of 8 "
                                       "(the trace's next poll is a USB error, line 5)"),
                       "%s", rig.log);
    rig_stop(&rig);
}

/* The daemon reads more than the trace's poll did (a confirming read the recording daemon did
 * not make): the answers run out of step with the polls; once the queue runs dry the daemon
 * reads without an answer of the trace, a divergence. */
Test(replay, reads_beyond_the_traces_answers_are_a_divergence)
{
    struct replay_rig rig;
    rig_start(&rig, I2C_HEADER "0 i2c-1 read A=00 B=10 C=nack D=nack\n"
                               "1000 i2c-1 usb-error EPIPE\n");
    char seen[64];
    daemon_poll(&rig, 1000, "AB", seen, sizeof(seen));
    sim_replay_step(rig.r, 1001);
    fflush(rig.log_file);
    cr_assert_eq(sim_replay_divergences(rig.r), 1, "%s", rig.log);
    cr_assert_not_null(strstr(rig.log, "the daemon read A, B with no answer"), "%s", rig.log);
    rig_stop(&rig);
}
