#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/mpsse/mpsse_i2c.h"

/* A small line-level reading of a command buffer, independent of the builder: tracks what SCL
 * and SDA do (as driven by the master) and records the I2C events in order. */
enum event_kind {
    EV_START,
    EV_STOP,
    EV_WRITE_BYTE,
    EV_READ_ACK,
    EV_READ_BYTE,
    EV_WRITE_BIT,
    EV_READ_PINS,
    EV_SCL_RISE_SDA_RELEASED
};

struct event {
    enum event_kind kind;
    uint8_t value;
};

struct trace {
    struct event ev[512];
    size_t n;
    size_t reply_len;
    size_t flushes;
    bool flush_last;
    unsigned min_start_hold; /* fewest identical pin writes between SDA falling and SCL falling */
};

static void record(struct trace *t, enum event_kind kind, uint8_t value)
{
    cr_assert_lt(t->n, sizeof(t->ev) / sizeof(t->ev[0]));
    t->ev[t->n++] = (struct event){kind, value};
}

static void interpret(const uint8_t *cmd, size_t len, struct trace *t)
{
    memset(t, 0, sizeof(*t));
    t->min_start_hold = ~0u;
    int scl = 1, sda = 1;
    unsigned hold = 0;
    bool in_start_hold = false;
    size_t i = 0;
    while (i < len) {
        uint8_t op = cmd[i];
        t->flush_last = false;
        switch (op) {
        case 0x80: {
            cr_assert_leq(i + 3, len);
            cr_assert_eq(cmd[i + 2], 0x03, "direction stays SCL+SDA out");
            int nscl = cmd[i + 1] & 1, nsda = (cmd[i + 1] >> 1) & 1;
            cr_assert_eq(cmd[i + 1] & ~0x03, 0);
            if (scl && nscl && sda && !nsda) {
                record(t, EV_START, 0);
                in_start_hold = true;
                hold = 0;
            } else if (scl && nscl && !sda && nsda) {
                record(t, EV_STOP, 0);
            }
            if (in_start_hold) {
                if (nscl && !nsda) {
                    hold++;
                } else {
                    in_start_hold = false;
                    if (hold < t->min_start_hold)
                        t->min_start_hold = hold;
                }
            }
            if (!scl && nscl && nsda)
                record(t, EV_SCL_RISE_SDA_RELEASED, 0);
            scl = nscl;
            sda = nsda;
            i += 3;
            break;
        }
        case 0x11:
            cr_assert_leq(i + 4, len);
            cr_assert_eq(cmd[i + 1], 0);
            cr_assert_eq(cmd[i + 2], 0);
            cr_assert_eq(scl, 0, "bytes are clocked out from SCL low");
            record(t, EV_WRITE_BYTE, cmd[i + 3]);
            sda = cmd[i + 3] & 1;
            i += 4;
            break;
        case 0x13:
            cr_assert_leq(i + 3, len);
            cr_assert_eq(cmd[i + 1], 0, "one bit");
            cr_assert_eq(scl, 0);
            record(t, EV_WRITE_BIT, cmd[i + 2] >> 7);
            sda = cmd[i + 2] >> 7;
            i += 3;
            break;
        case 0x22:
            cr_assert_leq(i + 2, len);
            cr_assert_eq(cmd[i + 1], 0, "one bit");
            cr_assert_eq(sda, 1, "SDA released while the slave answers");
            cr_assert_eq(scl, 0);
            record(t, EV_READ_ACK, 0);
            t->reply_len++;
            i += 2;
            break;
        case 0x20:
            cr_assert_leq(i + 3, len);
            cr_assert_eq(cmd[i + 1], 0);
            cr_assert_eq(cmd[i + 2], 0);
            cr_assert_eq(sda, 1, "SDA released while the slave sends");
            record(t, EV_READ_BYTE, 0);
            t->reply_len++;
            i += 3;
            break;
        case 0x81:
            record(t, EV_READ_PINS, 0);
            t->reply_len++;
            i += 1;
            break;
        case 0x87:
            t->flushes++;
            t->flush_last = true;
            i += 1;
            break;
        default:
            cr_assert_fail("unexpected opcode 0x%02X at %zu", op, i);
        }
    }
}

static struct mpsse_i2c_scan lynx_scan(unsigned rounds, uint32_t hz)
{
    struct mpsse_i2c_scan scan = {
        .addresses = {0x08, 0x09, 0x0A, 0x0B}, .n_addresses = 4, .rounds = rounds};
    cr_assert_eq(mpsse_i2c_clock_for(hz, &scan.clock), 0);
    return scan;
}

static size_t build(const struct mpsse_i2c_scan *scan, uint8_t **out)
{
    size_t len = mpsse_i2c_scan_command_len(scan);
    cr_assert_gt(len, 0);
    *out = malloc(len);
    cr_assert_eq(mpsse_i2c_build_scan(scan, *out, len), (ssize_t)len);
    return len;
}

Test(mpsse_i2c, clock_for_100khz_runs_at_83_khz_so_scl_is_high_4_us_as_standard_mode_requires)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clk), 0);
    cr_assert_eq(clk.divisor, 239, "a 12 us bit: 3-phase keeps SCL high a third of it");
    cr_assert_eq(clk.scl_hz, 83333);
    cr_assert_eq(clk.requested_hz, 100000);
    cr_assert_eq(clk.mode, MPSSE_I2C_STANDARD);
    cr_assert_str_eq(mpsse_i2c_mode_name(clk.mode), "standard");
    cr_assert_eq(clk.scl_high_ns, 4000, "UM10204 standard mode tHIGH >= 4.0 us");
    cr_assert_eq(clk.scl_low_ns, 8000, "UM10204 standard mode tLOW >= 4.7 us");
    cr_assert_eq(clk.hold_repeats, 10);
}

Test(mpsse_i2c, every_rate_meets_the_high_and_low_minimum_of_its_mode)
{
    static const uint32_t high_min[] = {4000, 600, 260}, low_min[] = {4700, 1300, 500};
    for (uint32_t hz = MPSSE_I2C_MIN_HZ; hz <= MPSSE_I2C_MAX_HZ; hz += 997) {
        struct mpsse_i2c_clock clk;
        cr_assert_eq(mpsse_i2c_clock_for(hz, &clk), 0);
        unsigned mode = hz <= 100000 ? 0 : hz <= 400000 ? 1 : 2;
        cr_assert_eq(clk.mode, mode, "%u Hz", hz);
        double bit_ns = (1.0 + clk.divisor) * 50; /* 20 MHz / (1 + d) */
        cr_assert_geq(bit_ns / 3, high_min[mode], "%u Hz: SCL high", hz);
        cr_assert_geq(bit_ns * 2 / 3, low_min[mode], "%u Hz: SCL low", hz);
        cr_assert_eq(clk.scl_high_ns, (uint32_t)(bit_ns / 3), "%u Hz", hz);
    }
}

Test(mpsse_i2c, start_and_stop_intervals_last_their_i2c_minimum_at_half_a_microsecond_a_write)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clk), 0); /* standard mode */
    cr_assert_eq(clk.start_hold_repeats, 8, "tHD;STA 4.0 us");
    cr_assert_eq(clk.stop_setup_repeats, 8, "tSU;STO 4.0 us");
    cr_assert_eq(clk.bus_free_repeats, 10, "tBUF 4.7 us");
    cr_assert_eq(clk.scl_low_repeats, 2, "tLOW 4.7 us = 4.0 us of the bit + 1.0 us");
    cr_assert_eq(mpsse_i2c_clock_for(400000, &clk), 0); /* fast mode */
    cr_assert_eq(clk.start_hold_repeats, 2, "tHD;STA 0.6 us");
    cr_assert_eq(clk.stop_setup_repeats, 2, "tSU;STO 0.6 us");
    cr_assert_eq(clk.bus_free_repeats, 3, "tBUF 1.3 us");
    cr_assert_eq(clk.scl_low_repeats, 1, "tLOW 1.3 us = 0.83 us of the bit + 0.5 us");
    cr_assert_eq(mpsse_i2c_clock_for(1000000, &clk), 0); /* fast mode plus */
    cr_assert_eq(clk.start_hold_repeats + clk.stop_setup_repeats + clk.bus_free_repeats, 3);
    cr_assert_eq(mpsse_i2c_clock_for(10000, &clk), 0);
    cr_assert_eq(clk.scl_low_repeats, 1, "a 33 us low third is long enough: one write");
    cr_assert_eq(clk.start_hold_repeats, 8, "the minima do not grow on a slower bus");
}

Test(mpsse_i2c, fast_mode_rates_are_not_slowed_when_they_already_comply)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(200000, &clk), 0);
    cr_assert_eq(clk.divisor, 99);
    cr_assert_eq(clk.scl_hz, 200000);
    cr_assert_eq(clk.mode, MPSSE_I2C_FAST);
}

Test(mpsse_i2c, clock_for_400khz_and_10khz)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(400000, &clk), 0);
    cr_assert_eq(clk.divisor, 49);
    cr_assert_eq(clk.scl_hz, 400000);
    cr_assert_eq(clk.hold_repeats, 3);
    cr_assert_eq(mpsse_i2c_clock_for(10000, &clk), 0);
    cr_assert_eq(clk.divisor, 1999);
    cr_assert_eq(clk.scl_hz, 10000);
}

Test(mpsse_i2c, clock_never_exceeds_the_request_and_is_the_closest_compliant_below)
{
    static const uint32_t high_min[] = {4000, 600, 260}, low_min[] = {4700, 1300, 500};
    for (uint32_t hz = MPSSE_I2C_MIN_HZ; hz <= MPSSE_I2C_MAX_HZ; hz += 997) {
        struct mpsse_i2c_clock clk;
        cr_assert_eq(mpsse_i2c_clock_for(hz, &clk), 0);
        double actual = 60e6 / ((1.0 + clk.divisor) * 2) * 2 / 3;
        cr_assert_leq(actual, hz + 1e-6, "%u Hz", hz);
        /* one divisor less is either faster than asked or breaks tHIGH / tLOW */
        double faster = 60e6 / ((double)clk.divisor * 2) * 2 / 3;
        double faster_bit_ns = clk.divisor * 50.0;
        unsigned mode = clk.mode;
        cr_assert(faster > hz || faster_bit_ns / 3 < high_min[mode] ||
                      faster_bit_ns * 2 / 3 < low_min[mode],
                  "%u Hz: divisor %u is not the smallest", hz, clk.divisor);
        cr_assert_eq(clk.scl_hz, (uint32_t)actual, "%u Hz", hz);
    }
}

Test(mpsse_i2c, clock_rejects_rates_out_of_range)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(MPSSE_I2C_MIN_HZ - 1, &clk), -EINVAL);
    cr_assert_eq(mpsse_i2c_clock_for(MPSSE_I2C_MAX_HZ + 1, &clk), -EINVAL);
    cr_assert_eq(mpsse_i2c_clock_for(0, &clk), -EINVAL);
}

Test(mpsse_i2c, init_sequence_is_exact)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clk), 0);
    uint8_t buf[32];
    static const uint8_t want[] = {0x8A, 0x97, 0x8C, 0x9E, 0x07, 0x00, 0x85,
                                   0x86, 0xEF, 0x00, 0x80, 0x03, 0x03};
    cr_assert_eq(mpsse_i2c_build_init(&clk, buf, sizeof(buf)), (ssize_t)sizeof(want));
    cr_assert_arr_eq(buf, want, sizeof(want));
    cr_assert_eq(MPSSE_I2C_INIT_LEN, sizeof(want));

    cr_assert_eq(mpsse_i2c_clock_for(10000, &clk), 0);
    cr_assert_eq(mpsse_i2c_build_init(&clk, buf, sizeof(buf)), (ssize_t)sizeof(want));
    cr_assert_eq(buf[8], 0xCF); /* 1999 = 0x07CF, little endian */
    cr_assert_eq(buf[9], 0x07);
}

Test(mpsse_i2c, init_needs_room_for_the_whole_sequence)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clk), 0);
    uint8_t buf[MPSSE_I2C_INIT_LEN];
    memset(buf, 0x5A, sizeof(buf));
    cr_assert_eq(mpsse_i2c_build_init(&clk, buf, sizeof(buf) - 1), -ENOSPC);
    for (size_t i = 0; i < sizeof(buf); i++)
        cr_assert_eq(buf[i], 0x5A, "nothing written on error");
}

Test(mpsse_i2c, single_read_transaction_bytes_are_exact)
{
    struct mpsse_i2c_scan scan = {.addresses = {0x08}, .n_addresses = 1, .rounds = 1};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &scan.clock), 0);
    uint8_t want[256];
    size_t n = 0;
#define PINS(v, reps)                                                                              \
    for (int r = 0; r < (reps); r++) {                                                             \
        want[n++] = 0x80;                                                                          \
        want[n++] = (v);                                                                           \
        want[n++] = 0x03;                                                                          \
    }
    PINS(0x01, 8);                                           /* START: SDA falls, tHD;STA */
    PINS(0x00, 2);                                           /* SCL low: tLOW */
    static const uint8_t middle[] = {0x11, 0x00, 0x00, 0x11, /* address 0x08, read */
                                     0x80, 0x02, 0x03,       /* release SDA */
                                     0x22, 0x00,             /* ACK bit in */
                                     0x20, 0x00, 0x00,       /* data byte in */
                                     0x13, 0x00, 0xFF};      /* NACK out */
    memcpy(want + n, middle, sizeof(middle));
    n += sizeof(middle);
    PINS(0x00, 2); /* STOP: SDA low, SCL low (tLOW) */
    PINS(0x01, 8); /* SCL high: tSU;STO */
    PINS(0x03, 1); /* SDA rises while SCL high; the last STOP of a scan needs no tBUF */
    want[n++] = 0x87;
#undef PINS
    uint8_t buf[256];
    cr_assert_eq(mpsse_i2c_scan_command_len(&scan), n);
    cr_assert_eq(mpsse_i2c_build_scan(&scan, buf, sizeof(buf)), (ssize_t)n);
    cr_assert_arr_eq(buf, want, n);
    cr_assert_eq(mpsse_i2c_scan_reply_len(&scan), 2);
}

Test(mpsse_i2c, lynx_scan_is_one_buffer_of_four_transactions_ending_in_87)
{
    struct mpsse_i2c_scan scan = lynx_scan(1, 100000);
    uint8_t *cmd;
    size_t len = build(&scan, &cmd);
    /* 12 bytes of shifting per transaction; pin writes: START 8 + 2, release 1, STOP 2 + 8, then
     * tBUF 10 (1 after the last) */
    cr_assert_eq(len, 3 * (31 * 3 + 12) + (22 * 3 + 12) + 1);
    cr_assert_eq(cmd[len - 1], 0x87);
    size_t flushes = 0;
    for (size_t i = 0; i < len; i++)
        flushes += cmd[i] == 0x87;
    cr_assert_eq(flushes, 1, "one send-immediate: one USB round trip");

    struct trace t;
    interpret(cmd, len, &t);
    cr_assert(t.flush_last);
    cr_assert_eq(t.reply_len, 8);
    cr_assert_eq(t.reply_len, mpsse_i2c_scan_reply_len(&scan));
    cr_assert_eq(t.n, 4 * 6);
    for (unsigned a = 0; a < 4; a++) {
        const struct event *e = &t.ev[a * 6];
        cr_assert_eq(e[0].kind, EV_START);
        cr_assert_eq(e[1].kind, EV_WRITE_BYTE);
        cr_assert_eq(e[1].value, (0x08 + a) << 1 | 1, "address %u read", a);
        cr_assert_eq(e[2].kind, EV_READ_ACK);
        cr_assert_eq(e[3].kind, EV_READ_BYTE);
        cr_assert_eq(e[4].kind, EV_WRITE_BIT);
        cr_assert_eq(e[4].value, 1, "NACK after the only byte");
        cr_assert_eq(e[5].kind, EV_STOP);
    }
    cr_assert_geq(t.min_start_hold, 8);
    free(cmd);
}

Test(mpsse_i2c, two_rounds_read_every_address_twice_round_major)
{
    struct mpsse_i2c_scan scan = lynx_scan(2, 400000);
    uint8_t *cmd;
    size_t len = build(&scan, &cmd);
    /* 400 kHz: START 2 + 1, release 1, STOP 1 + 2, tBUF 3 (1 after the last) */
    cr_assert_eq(len, 7 * (10 * 3 + 12) + (8 * 3 + 12) + 1);
    struct trace t;
    interpret(cmd, len, &t);
    cr_assert_eq(t.flushes, 1);
    cr_assert_eq(t.reply_len, 16);
    cr_assert_eq(mpsse_i2c_scan_reply_len(&scan), 16);
    size_t starts = 0, stops = 0, w = 0;
    uint8_t written[8];
    for (size_t i = 0; i < t.n; i++) {
        starts += t.ev[i].kind == EV_START;
        stops += t.ev[i].kind == EV_STOP;
        if (t.ev[i].kind == EV_WRITE_BYTE)
            written[w++] = t.ev[i].value;
    }
    cr_assert_eq(starts, 8);
    cr_assert_eq(stops, 8);
    static const uint8_t order[] = {0x11, 0x13, 0x15, 0x17, 0x11, 0x13, 0x15, 0x17};
    cr_assert_eq(w, 8);
    cr_assert_arr_eq(written, order, 8);
    cr_assert_geq(t.min_start_hold, 2);
    free(cmd);
}

Test(mpsse_i2c, build_refuses_a_buffer_one_byte_short_without_writing)
{
    struct mpsse_i2c_scan scan = lynx_scan(1, 100000);
    size_t len = mpsse_i2c_scan_command_len(&scan);
    uint8_t *buf = malloc(len);
    memset(buf, 0x5A, len);
    cr_assert_eq(mpsse_i2c_build_scan(&scan, buf, len - 1), -ENOSPC);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(buf[i], 0x5A);
    free(buf);
}

Test(mpsse_i2c, build_rejects_invalid_scans)
{
    uint8_t buf[4096];
    struct mpsse_i2c_scan scan = lynx_scan(1, 100000);
    struct mpsse_i2c_scan bad = scan;
    bad.n_addresses = 0;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
    cr_assert_eq(mpsse_i2c_scan_command_len(&bad), 0);
    cr_assert_eq(mpsse_i2c_scan_reply_len(&bad), 0);
    bad = scan;
    bad.n_addresses = MPSSE_I2C_MAX_ADDRESSES + 1;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
    bad = scan;
    bad.addresses[2] = 0x80;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
    bad = scan;
    bad.rounds = 0;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
    bad = scan;
    bad.rounds = MPSSE_I2C_MAX_ROUNDS + 1;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
    bad = scan;
    bad.clock.hold_repeats = 0;
    cr_assert_eq(mpsse_i2c_build_scan(&bad, buf, sizeof(buf)), -EINVAL);
}

Test(mpsse_i2c, parser_reports_acked_bytes_and_absent_addresses)
{
    struct mpsse_i2c_scan scan = lynx_scan(1, 100000);
    /* A: ok 0x00; B: 0xF0 with junk above the ACK bit; C: NACK, bus floats 0xFF; D: 0x02. */
    static const uint8_t reply[] = {0x00, 0x00, 0xFE, 0xF0, 0x01, 0xFF, 0x00, 0x02};
    struct mpsse_i2c_read r[4];
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, reply, sizeof(reply), r, 4), 4);
    cr_assert_eq(r[0].address, 0x08);
    cr_assert(r[0].acked);
    cr_assert_eq(r[0].data, 0x00);
    cr_assert_eq(r[1].address, 0x09);
    cr_assert(r[1].acked);
    cr_assert_eq(r[1].data, 0xF0);
    cr_assert_eq(r[2].address, 0x0A);
    cr_assert_not(r[2].acked, "a NACKed address is absent even though a byte came back");
    cr_assert_eq(r[3].address, 0x0B);
    cr_assert(r[3].acked);
    cr_assert_eq(r[3].data, 0x02);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r[i].round, 0);
}

Test(mpsse_i2c, parser_orders_two_rounds_like_the_builder)
{
    struct mpsse_i2c_scan scan = lynx_scan(2, 100000);
    uint8_t reply[16];
    for (int t = 0; t < 8; t++) {
        reply[2 * t] = t == 5 ? 0x01 : 0x00;
        reply[2 * t + 1] = (uint8_t)(0x10 * t);
    }
    struct mpsse_i2c_read r[8];
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, reply, sizeof(reply), r, 8), 8);
    for (int t = 0; t < 8; t++) {
        cr_assert_eq(r[t].address, 0x08 + t % 4);
        cr_assert_eq(r[t].round, (unsigned)t / 4);
        cr_assert_eq(r[t].data, 0x10 * t);
        cr_assert_eq(r[t].acked, t != 5);
    }
}

Test(mpsse_i2c, parser_rejects_short_and_long_replies_without_reading_past_them)
{
    struct mpsse_i2c_scan scan = lynx_scan(1, 100000);
    size_t want = mpsse_i2c_scan_reply_len(&scan);
    struct mpsse_i2c_read r[4];
    memset(r, 0x5A, sizeof(r));
    for (size_t len = 0; len < want; len++) {
        /* Exactly-sized heap buffers: ASan flags any read past the reply. */
        uint8_t *reply = malloc(len ? len : 1);
        memset(reply, 0, len ? len : 1);
        cr_assert_eq(mpsse_i2c_parse_scan(&scan, reply, len, r, 4), -EPROTO, "len %zu", len);
        free(reply);
    }
    uint8_t *longer = calloc(want + 2, 1);
    longer[want] = MPSSE_BAD_COMMAND; /* a rejected opcode echoes FA <op> */
    longer[want + 1] = 0x9E;
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, longer, want + 2, r, 4), -EPROTO);
    free(longer);
    uint8_t check[sizeof(r)];
    memset(check, 0x5A, sizeof(check));
    cr_assert(memcmp(r, check, sizeof(r)) == 0, "results untouched on error");
}

Test(mpsse_i2c, parser_needs_room_for_every_transaction)
{
    struct mpsse_i2c_scan scan = lynx_scan(2, 100000);
    uint8_t reply[16] = {0};
    struct mpsse_i2c_read r[8];
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, reply, sizeof(reply), r, 7), -ENOSPC);
    scan.rounds = 0;
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, reply, sizeof(reply), r, 8), -EINVAL);
}

Test(mpsse_i2c, sync_is_a_bogus_opcode_answered_by_fa)
{
    uint8_t buf[2];
    cr_assert_eq(mpsse_i2c_build_sync(buf, 1), -ENOSPC);
    cr_assert_eq(mpsse_i2c_build_sync(buf, sizeof(buf)), 2);
    cr_assert_eq(buf[0], 0xAA);
    cr_assert_eq(buf[1], 0x87);
    static const uint8_t good[] = {0xFA, 0xAA}, wrong_op[] = {0xFA, 0xAB},
                         extra[] = {0xFA, 0xAA, 0x00};
    cr_assert_eq(mpsse_i2c_check_sync(good, 2), 0);
    cr_assert_eq(mpsse_i2c_check_sync(wrong_op, 2), -EPROTO);
    cr_assert_eq(mpsse_i2c_check_sync(extra, 3), -EPROTO);
    cr_assert_eq(mpsse_i2c_check_sync(good, 1), -EPROTO);
}

Test(mpsse_i2c, recovery_clocks_nine_pulses_with_sda_released_then_stops)
{
    struct mpsse_i2c_clock clk;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clk), 0);
    size_t len = mpsse_i2c_recovery_len(&clk);
    /* 10 writes SCL low, 9 pulses of 10 + 10, a STOP of 2 + 8 + 10 */
    cr_assert_eq(len, 3 * (10 + 9 * 20 + 20) + 2);
    uint8_t *buf = malloc(len);
    cr_assert_eq(mpsse_i2c_build_recovery(&clk, buf, len - 1), -ENOSPC);
    cr_assert_eq(mpsse_i2c_build_recovery(&clk, buf, len), (ssize_t)len);
    cr_assert_eq(buf[0], 0x80);
    cr_assert_eq(buf[1], 0x02, "starts with SCL low and SDA released");
    struct trace t;
    interpret(buf, len, &t);
    cr_assert_eq(t.reply_len, MPSSE_I2C_RECOVERY_REPLY);
    cr_assert(t.flush_last);
    size_t pulses = 0, i = 0;
    while (i < t.n && t.ev[i].kind == EV_SCL_RISE_SDA_RELEASED) {
        pulses++;
        i++;
    }
    cr_assert_eq(pulses, 9);
    cr_assert_lt(i + 1, t.n);
    cr_assert_eq(t.ev[i].kind, EV_STOP);
    cr_assert_eq(t.ev[i + 1].kind, EV_READ_PINS);
    cr_assert_eq(t.n, i + 2);
    cr_assert_eq(buf[len - 2], 0x81);
    cr_assert_eq(buf[len - 1], 0x87);
    free(buf);
}

Test(mpsse_i2c, bus_idle_needs_scl_and_sda_in_high)
{
    cr_assert(mpsse_i2c_bus_idle(0x07));
    cr_assert(mpsse_i2c_bus_idle(0x05));
    cr_assert_not(mpsse_i2c_bus_idle(0x03), "SDA held low by a slave");
    cr_assert_not(mpsse_i2c_bus_idle(0x06), "SCL held low");
    cr_assert_not(mpsse_i2c_bus_idle(0x00));
}
