/* The MPSSE engine: every opcode's effect on pins, bus and reply bytes, the clock model, and the
 * byte sequences real I2C clients send, run against a bus with Lynx Distributors. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model/i2c_bus.h"
#include "model/lynx_slave.h"
#include "model/mpsse.h"

/* --- reply capture --- */

static uint8_t rx[8192];
static size_t rx_len;
static unsigned flushes;

static void sink_data(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    cr_assert_leq(rx_len + len, sizeof(rx));
    memcpy(rx + rx_len, bytes, len);
    rx_len += len;
}

static void sink_flush(void *ctx)
{
    (void)ctx;
    flushes++;
}

static const struct sim_mpsse_sink sink = {.data = sink_data, .flush = sink_flush, .ctx = NULL};

/* --- a probe device: logs what it sees, optionally drives a bit pattern on SDA --- */

enum advance { ADVANCE_NEVER, ADVANCE_ON_FALL, ADVANCE_ON_RISE };

struct probe {
    char log[2048]; /* 'S' start, 'P' stop, '0'/'1' rise with SDA, 'f' fall */
    size_t log_len;
    bool hold_sda_low;
    const char *pattern; /* "1011..." driven on SDA, position advanced per the mode */
    size_t position;
    enum advance advance;
};

static void probe_log(struct probe *p, char c)
{
    if (p->log_len + 1 < sizeof(p->log)) {
        p->log[p->log_len++] = c;
        p->log[p->log_len] = '\0';
    }
}

static void probe_step(struct probe *p)
{
    if (p->pattern && p->pattern[p->position])
        p->position++;
}

static void probe_start(void *ctx)
{
    probe_log(ctx, 'S');
}

static void probe_stop(void *ctx)
{
    probe_log(ctx, 'P');
}

static void probe_rise(void *ctx, bool sda)
{
    struct probe *p = ctx;
    probe_log(p, sda ? '1' : '0');
    if (p->advance == ADVANCE_ON_RISE)
        probe_step(p);
}

static void probe_fall(void *ctx)
{
    struct probe *p = ctx;
    probe_log(p, 'f');
    if (p->advance == ADVANCE_ON_FALL)
        probe_step(p);
}

static bool probe_sda_low(const void *ctx)
{
    const struct probe *p = ctx;
    if (p->hold_sda_low)
        return true;
    return p->pattern && p->pattern[p->position] == '0';
}

static const struct sim_i2c_device_ops probe_ops = {
    .start = probe_start,
    .stop = probe_stop,
    .scl_rise = probe_rise,
    .scl_fall = probe_fall,
    .sda_low = probe_sda_low,
    .scl_low = NULL,
};

/* The SDA levels the probe sampled on rising edges, in order. */
static const char *probe_samples(const struct probe *p)
{
    static char samples[2048];
    size_t n = 0;
    for (size_t i = 0; i < p->log_len; i++)
        if (p->log[i] == '0' || p->log[i] == '1')
            samples[n++] = p->log[i];
    samples[n] = '\0';
    return samples;
}

/* --- fixture --- */

static struct sim_i2c_bus *bus;
static struct sim_mpsse *mpsse;
static struct probe probe;
static struct sim_lynx *lynx[4];

static void setup(void)
{
    rx_len = 0;
    flushes = 0;
    memset(&probe, 0, sizeof(probe));
    memset(lynx, 0, sizeof(lynx));
    bus = sim_i2c_bus_new();
    cr_assert_not_null(bus);
    cr_assert_eq(sim_i2c_bus_attach(bus, &probe_ops, &probe), 0);
    mpsse = sim_mpsse_new(bus, &sink, true);
    cr_assert_not_null(mpsse);
}

static void teardown(void)
{
    sim_mpsse_free(mpsse);
    for (int i = 0; i < 4; i++)
        sim_lynx_free(lynx[i]);
    sim_i2c_bus_free(bus);
}

TestSuite(mpsse, .init = setup, .fini = teardown);

/* Lynx distributors 'A'.. on the bus, all powered and fine. */
static void add_distributors(int count)
{
    for (int i = 0; i < count; i++) {
        lynx[i] = sim_lynx_new((char)('A' + i));
        cr_assert_not_null(lynx[i]);
        cr_assert_eq(sim_lynx_attach(lynx[i], bus), 0);
    }
}

#define SEND(...)                                                                                  \
    do {                                                                                           \
        const uint8_t send_bytes_[] = {__VA_ARGS__};                                               \
        sim_mpsse_write(mpsse, send_bytes_, sizeof(send_bytes_));                                  \
    } while (0)

static void clear_reply(void)
{
    rx_len = 0;
    flushes = 0;
}

static void assert_reply(const uint8_t *expected, size_t len)
{
    char got[256] = "", want[256] = "";
    for (size_t i = 0; i < rx_len && i < 60; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%02X ", rx[i]);
    for (size_t i = 0; i < len && i < 60; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%02X ", expected[i]);
    cr_assert(rx_len == len && memcmp(rx, expected, len) == 0, "reply [%s], expected [%s]", got,
              want);
}

#define ASSERT_REPLY(...)                                                                          \
    do {                                                                                           \
        const uint8_t expected_[] = {__VA_ARGS__};                                                 \
        assert_reply(expected_, sizeof(expected_));                                                \
    } while (0)

#define ASSERT_NO_REPLY() cr_assert_eq(rx_len, 0, "%zu unexpected reply bytes", rx_len)

static void assert_lines(bool scl, bool sda)
{
    cr_assert_eq(sim_i2c_bus_scl_level(bus), scl, "SCL %d, expected %d", sim_i2c_bus_scl_level(bus),
                 scl);
    cr_assert_eq(sim_i2c_bus_sda_level(bus), sda, "SDA %d, expected %d", sim_i2c_bus_sda_level(bus),
                 sda);
}

/* Open drain on AD0..AD2, SCL low (idle for clocking), SDA released. */
static void open_drain_clock_low(void)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x02, 0x03);
    probe.log_len = 0;
    probe.log[0] = '\0';
}

/* --- byte sequences of real clients (ft232h-mpsse.md) --- */

struct seq {
    uint8_t b[4096];
    size_t n;
};

static void put(struct seq *s, const uint8_t *bytes, size_t len)
{
    cr_assert_leq(s->n + len, sizeof(s->b));
    memcpy(s->b + s->n, bytes, len);
    s->n += len;
}

#define PUT(s, ...)                                                                                \
    do {                                                                                           \
        const uint8_t put_bytes_[] = {__VA_ARGS__};                                                \
        put(s, put_bytes_, sizeof(put_bytes_));                                                    \
    } while (0)

static void put_repeated(struct seq *s, int times, uint8_t a, uint8_t b, uint8_t c)
{
    for (int i = 0; i < times; i++)
        PUT(s, a, b, c);
}

static void an255_init(struct seq *s)
{
    PUT(s, 0x8A, 0x97, 0x8C, 0x9E, 0x07, 0x00, 0x85);
    PUT(s, 0x86, 0xC8, 0x00);
    PUT(s, 0x80, 0xFF, 0xFB, 0x82, 0xFF, 0x40);
}

/* The AN_255 init with push-pull pins: no 0x9E. */
static void an255_init_push_pull(struct seq *s)
{
    PUT(s, 0x8A, 0x97, 0x8C, 0x85);
    PUT(s, 0x86, 0xC8, 0x00);
    PUT(s, 0x80, 0xFF, 0xFB, 0x82, 0xFF, 0x40);
}

static void an255_start(struct seq *s)
{
    put_repeated(s, 4, 0x80, 0xFD, 0xFB);
    put_repeated(s, 4, 0x80, 0xFC, 0xFB);
}

static void an255_address(struct seq *s, uint8_t address, bool read)
{
    PUT(s, 0x11, 0x00, 0x00, (uint8_t)(address << 1 | (read ? 1 : 0)));
    PUT(s, 0x80, 0xFE, 0xFB, 0x22, 0x00, 0x87);
}

static void an255_read_nack(struct seq *s)
{
    PUT(s, 0x20, 0x00, 0x00, 0x13, 0x00, 0xFF, 0x80, 0xFE, 0xFB, 0x87);
}

static void an255_stop(struct seq *s)
{
    put_repeated(s, 4, 0x80, 0xFC, 0xFB);
    put_repeated(s, 4, 0x80, 0xFD, 0xFB);
    put_repeated(s, 4, 0x80, 0xFF, 0xFB);
}

static void an255_read_status(struct seq *s, uint8_t address)
{
    an255_start(s);
    an255_address(s, address, true);
    an255_read_nack(s);
    an255_stop(s);
}

#define PYFTDI_DELAY 3

static void pyftdi_init(struct seq *s)
{
    PUT(s, 0x8B, 0x86, 0x27, 0x00);
    PUT(s, 0x80, 0xFF, 0x03, 0x82, 0x00, 0x00);
    PUT(s, 0x85);
    PUT(s, 0x97);
    PUT(s, 0x8C);
    PUT(s, 0x9E, 0x07, 0x00);
    PUT(s, 0x80, 0x03, 0x03);
}

static void pyftdi_start(struct seq *s)
{
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x01, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x00, 0x03);
}

static void pyftdi_write_byte(struct seq *s, uint8_t byte)
{
    PUT(s, 0x11, 0x00, 0x00, byte);
    PUT(s, 0x80, 0x02, 0x03, 0x22, 0x00, 0x87);
}

static void pyftdi_read_byte(struct seq *s, bool ack)
{
    PUT(s, 0x20, 0x00, 0x00, 0x13, 0x00, ack ? 0x00 : 0xFF, 0x80, 0x02, 0x03, 0x87);
}

static void pyftdi_stop(struct seq *s)
{
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x02, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x00, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x01, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x03, 0x03);
}

static void run(const struct seq *s)
{
    sim_mpsse_write(mpsse, s->b, s->n);
}

/* ========================= pins: 0x80 .. 0x83, 0x9E ========================= */

Test(mpsse, power_on_pins_are_inputs_and_the_bus_floats_high)
{
    assert_lines(true, true);
    SEND(0x81);
    ASSERT_REPLY(0xFF);
    cr_assert_eq(sim_mpsse_read_pins(mpsse), 0xFF);
}

Test(mpsse, set_adbus_drives_scl_from_ad0_and_sda_from_ad1)
{
    SEND(0x80, 0x00, 0x03);
    assert_lines(false, false);
    SEND(0x80, 0x01, 0x03);
    assert_lines(true, false);
    SEND(0x80, 0x02, 0x03);
    assert_lines(false, true);
    SEND(0x80, 0x03, 0x03);
    assert_lines(true, true);
    ASSERT_NO_REPLY();
}

Test(mpsse, an_input_pin_floats_whatever_its_value)
{
    SEND(0x80, 0x00, 0x00);
    assert_lines(true, true);
    SEND(0x80, 0x00, 0x01);
    assert_lines(false, true);
}

Test(mpsse, ad2_is_tied_to_sda_and_drives_it_as_an_output)
{
    SEND(0x80, 0x07, 0x07);
    assert_lines(true, true);
    SEND(0x80, 0x03, 0x07); /* AD1 high, AD2 low: low wins */
    assert_lines(true, false);
    SEND(0x80, 0x05, 0x05); /* AD1 input, AD2 output high */
    assert_lines(true, true);
    SEND(0x80, 0x01, 0x05); /* AD1 input, AD2 output low */
    assert_lines(true, false);
}

Test(mpsse, ad7_as_an_output_does_not_drive_scl)
{
    SEND(0x80, 0x01, 0x81); /* AD7 output low, AD0 high */
    assert_lines(true, true);
}

Test(mpsse, read_adbus_reports_line_levels_and_pulled_up_inputs)
{
    SEND(0x80, 0x00, 0x03, 0x81);
    /* AD0 SCL 0, AD1/AD2 SDA 0, AD3..AD6 inputs 1, AD7 senses SCL 0 */
    ASSERT_REPLY(0x78);
    clear_reply();
    SEND(0x80, 0xA8, 0xFB, 0x81);
    /* AD3..AD7 outputs read their value 1,0,1,0,1; AD0..AD2 low */
    ASSERT_REPLY(0xA8);
    cr_assert_eq(sim_mpsse_read_pins(mpsse), 0xA8);
}

Test(mpsse, read_adbus_sees_a_device_pulling_sda_low)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    SEND(0x81);
    ASSERT_REPLY(0xF9);
}

Test(mpsse, ad7_reads_the_scl_line_as_feedback)
{
    SEND(0x80, 0x00, 0x01, 0x81);
    ASSERT_REPLY(0x7E); /* SCL low: AD0 and AD7 read 0 */
}

Test(mpsse, set_and_read_acbus)
{
    SEND(0x83);
    ASSERT_REPLY(0xFF);
    clear_reply();
    SEND(0x82, 0xA5, 0x0F, 0x83);
    ASSERT_REPLY(0xF5);
    assert_lines(true, true);
}

Test(mpsse, drive_zero_makes_a_one_float_instead_of_fighting_a_device)
{
    probe.hold_sda_low = true;
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "push-pull high against a low device");
    SEND(0x80, 0x01, 0x03); /* drive low: the fight ends */
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "open drain: no new contention");
    assert_lines(true, false);
    SEND(0x80, 0x00, 0x03);
    assert_lines(false, false);
}

Test(mpsse, drive_zero_applies_at_once_to_pins_already_high)
{
    probe.hold_sda_low = true;
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    SEND(0x9E, 0x02, 0x00);
    probe.hold_sda_low = false;
    sim_i2c_bus_update(bus);
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    SEND(0x9E, 0x00, 0x00);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 2);
}

Test(mpsse, drive_zero_opcode_is_a_bad_command_without_chip_support)
{
    struct sim_mpsse *ft2232 = sim_mpsse_new(bus, &sink, false);
    const uint8_t cmd[] = {0x9E, 0x07, 0x00, 0x81};
    sim_mpsse_write(ft2232, cmd, sizeof(cmd));
    /* 9E is refused alone, so its arguments are read as opcodes too */
    ASSERT_REPLY(0xFA, 0x9E, 0xFA, 0x07, 0xFA, 0x00, 0xFF);
    cr_assert_eq(sim_mpsse_stats(ft2232)->bad_commands, 3);
    cr_assert_eq(sim_mpsse_stats(ft2232)->commands, 4);
    sim_mpsse_free(ft2232);
}

/* ========================= bad commands ========================= */

static bool is_valid_opcode(unsigned op)
{
    if (op < 0x40 && (op & 0x30))
        return true; /* data shifting */
    switch (op) {
    case 0x4A: /* TMS */
    case 0x4B:
    case 0x6A:
    case 0x6B:
    case 0x6E:
    case 0x6F:
    case 0x88: /* wait on GPIOL1 */
    case 0x89:
    case 0x90: /* MCU host emulation */
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94: /* clock until GPIOL1 */
    case 0x95:
    case 0x9C:
    case 0x9D:
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x8A:
    case 0x8B:
    case 0x8C:
    case 0x8D:
    case 0x8E:
    case 0x8F:
    case 0x96:
    case 0x97:
    case 0x9E:
        return true;
    default:
        return false;
    }
}

Test(mpsse, every_unknown_opcode_is_answered_with_fa_and_the_opcode)
{
    unsigned bad = 0;
    for (unsigned op = 0; op < 256; op++) {
        if (is_valid_opcode(op))
            continue;
        clear_reply();
        uint8_t byte = (uint8_t)op;
        sim_mpsse_write(mpsse, &byte, 1);
        ASSERT_REPLY(0xFA, byte);
        bad++;
    }
    cr_assert_eq(bad, 256 - 81);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, bad);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, bad);
    cr_assert_eq(flushes, 0);
}

Test(mpsse, sync_bytes_aa_and_ab_are_echoed_as_bad_commands_in_stream_order)
{
    SEND(0x81, 0xAA, 0x83, 0xAB, 0x87);
    ASSERT_REPLY(0xFF, 0xFA, 0xAA, 0xFF, 0xFA, 0xAB);
    cr_assert_eq(flushes, 1);
}

Test(mpsse, a_bad_command_does_not_disturb_the_following_command)
{
    SEND(0x00, 0x80, 0x00, 0x03, 0x81);
    ASSERT_REPLY(0xFA, 0x00, 0x78);
}

/* ========================= clocking opcodes 0x8E, 0x8F ========================= */

Test(mpsse, clock_bits_without_data_gives_n_plus_one_clocks_and_keeps_sda)
{
    open_drain_clock_low();
    SEND(0x8E, 0x04);
    cr_assert_str_eq(probe.log, "1f1f1f1f1f");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 5);
    SEND(0x80, 0x00, 0x03);
    probe.log_len = 0;
    SEND(0x8E, 0x01);
    cr_assert_str_eq(probe.log, "0f0f");
    ASSERT_NO_REPLY();
}

Test(mpsse, clock_bytes_without_data_gives_eight_clocks_per_byte)
{
    open_drain_clock_low();
    SEND(0x8F, 0x01, 0x00);
    cr_assert_str_eq(probe_samples(&probe), "1111111111111111");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
    ASSERT_NO_REPLY();
}

Test(mpsse, a_clock_idling_high_falls_first_and_ends_high)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x8E, 0x02);
    cr_assert_str_eq(probe.log, "f1f1f1");
    assert_lines(true, true);
}

Test(mpsse, the_bit_length_of_clock_bits_uses_three_bits)
{
    open_drain_clock_low();
    SEND(0x8E, 0x0F); /* 15 & 7 = 7: eight clocks */
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 8);
}

/* ========================= data out ========================= */

Test(mpsse, bytes_out_on_falling_edge_msb_first_are_set_up_before_each_rise)
{
    open_drain_clock_low();
    SEND(0x11, 0x01, 0x00, 0xA5, 0x3C);
    cr_assert_str_eq(probe_samples(&probe), "1010010100111100");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0, "no data change while SCL high");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
    assert_lines(false, false); /* DO keeps the last bit, TCK back at idle */
    ASSERT_NO_REPLY();
}

Test(mpsse, bytes_out_lsb_first_sends_bit_0_first)
{
    open_drain_clock_low();
    SEND(0x19, 0x00, 0x00, 0xA6);
    cr_assert_str_eq(probe_samples(&probe), "01100101");
}

Test(mpsse, bits_out_send_the_top_bits_msb_first)
{
    open_drain_clock_low();
    SEND(0x13, 0x02, 0xA0);
    cr_assert_str_eq(probe_samples(&probe), "101");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 3);
    ASSERT_NO_REPLY();
}

Test(mpsse, bits_out_lsb_first_send_the_low_bits)
{
    open_drain_clock_low();
    SEND(0x1B, 0x03, 0x05);
    cr_assert_str_eq(probe_samples(&probe), "1010");
}

Test(mpsse, bytes_out_on_rising_edge_change_sda_while_scl_is_high)
{
    /* With the clock idling low, a +ve write changes DO just after SCL rises: a device sampling
     * on that edge still sees the previous bit, and each change is a START or STOP. This is why
     * I2C clients use the -ve opcodes. */
    open_drain_clock_low();
    SEND(0x10, 0x00, 0x00, 0x55);
    cr_assert_str_eq(probe_samples(&probe), "10101010");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 4);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 4);
}

Test(mpsse, falling_edge_writes_with_the_clock_idling_high_change_data_after_the_fall)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    probe.log_len = 0;
    SEND(0x11, 0x00, 0x00, 0x96);
    cr_assert_str_eq(probe_samples(&probe), "10010110");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0);
    cr_assert(sim_i2c_bus_scl_level(bus), "TCK ends at its idle level");
}

/* ========================= data in ========================= */

Test(mpsse, bytes_in_on_rising_edge_read_what_a_device_sets_up_after_each_fall)
{
    open_drain_clock_low();
    probe.pattern = "1011001001111110";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x20, 0x01, 0x00);
    ASSERT_REPLY(0xB2, 0x7E);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
}

Test(mpsse, bytes_in_on_falling_edge_sample_before_the_device_reacts_to_the_fall)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x24, 0x00, 0x00);
    ASSERT_REPLY(0xB2);
}

Test(mpsse, the_read_edge_decides_which_bit_a_rise_changing_device_gives)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_RISE;
    sim_i2c_bus_update(bus);
    SEND(0x20, 0x00, 0x00); /* sampled before each rise */
    ASSERT_REPLY(0xB2);

    clear_reply();
    probe.position = 0;
    sim_i2c_bus_update(bus);
    SEND(0x24, 0x00, 0x00); /* sampled before each fall: one bit later, 1 after the end */
    ASSERT_REPLY(0x65);
}

Test(mpsse, bytes_in_lsb_first_put_the_first_bit_at_bit_0)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x28, 0x00, 0x00);
    ASSERT_REPLY(0x4D);
}

Test(mpsse, bit_reads_land_at_bit_0)
{
    open_drain_clock_low();
    probe.pattern = "101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x22, 0x02);
    ASSERT_REPLY(0x05);

    clear_reply();
    probe.pattern = "0";
    probe.position = 0;
    sim_i2c_bus_update(bus);
    SEND(0x26, 0x00); /* one bit, -ve edge: an ACK reads 0 */
    ASSERT_REPLY(0x00);

    clear_reply();
    probe.pattern = NULL;
    sim_i2c_bus_update(bus);
    SEND(0x22, 0x00); /* nobody drives: NACK */
    ASSERT_REPLY(0x01);
}

Test(mpsse, lsb_first_bit_reads_land_at_the_top)
{
    open_drain_clock_low();
    probe.pattern = "101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x2A, 0x02);
    ASSERT_REPLY(0xA0);
}

Test(mpsse, reads_do_not_move_sda_out)
{
    open_drain_clock_low();
    SEND(0x80, 0x00, 0x03); /* DO low */
    SEND(0x20, 0x00, 0x00);
    ASSERT_REPLY(0x00);
    assert_lines(false, false);
}

/* ========================= data in and out, loopback ========================= */

Test(mpsse, loopback_feeds_do_to_di_instead_of_the_bus)
{
    open_drain_clock_low();
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    SEND(0x84, 0x31, 0x01, 0x00, 0x12, 0x34);
    ASSERT_REPLY(0x12, 0x34);

    clear_reply();
    SEND(0x85, 0x31, 0x01, 0x00, 0x12, 0x34);
    ASSERT_REPLY(0x00, 0x00);
}

Test(mpsse, bits_in_and_out_in_loopback_land_at_bit_0)
{
    SEND(0x84, 0x80, 0x00, 0x03, 0x33, 0x03, 0xF0);
    ASSERT_REPLY(0x0F);
    clear_reply();
    SEND(0x33, 0x02, 0x40);
    ASSERT_REPLY(0x02);
}

Test(mpsse, in_and_out_with_opposite_edges_round_trip_in_loopback)
{
    const uint8_t ops[] = {0x31, 0x34, 0x39, 0x3C};
    SEND(0x84, 0x80, 0x00, 0x03);
    for (size_t i = 0; i < sizeof(ops); i++) {
        clear_reply();
        const uint8_t cmd[] = {ops[i], 0x02, 0x00, 0xC3, 0x5A, 0x01};
        sim_mpsse_write(mpsse, cmd, sizeof(cmd));
        ASSERT_REPLY(0xC3, 0x5A, 0x01);
    }
}

Test(mpsse, in_and_out_reads_the_bus_without_loopback)
{
    open_drain_clock_low();
    probe.pattern = "0000111100110101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    /* open drain: writing 0xFF releases SDA so the device's bits are read */
    SEND(0x31, 0x01, 0x00, 0xFF, 0xFF);
    ASSERT_REPLY(0x0F, 0x35);
}

Test(mpsse, every_data_shifting_opcode_replies_by_its_read_bit_and_length)
{
    SEND(0x84, 0x80, 0x00, 0x03);
    for (unsigned op = 0; op < 0x40; op++) {
        if (!(op & 0x30))
            continue;
        clear_reply();
        uint64_t periods = sim_mpsse_stats(mpsse)->scl_periods;
        bool bits = op & 0x02, writes = op & 0x10, reads = op & 0x20;
        uint8_t cmd[8] = {(uint8_t)op};
        size_t len;
        if (bits) {
            cmd[1] = 0x04;
            cmd[2] = 0xAA;
            len = writes ? 3 : 2;
        } else {
            cmd[1] = 0x02;
            cmd[2] = 0x00;
            cmd[3] = 0x11;
            cmd[4] = 0x22;
            cmd[5] = 0x33;
            len = writes ? 6 : 3;
        }
        sim_mpsse_write(mpsse, cmd, len);
        size_t expected_reply = reads ? (bits ? 1 : 3) : 0;
        cr_assert_eq(rx_len, expected_reply, "opcode %02X: %zu reply bytes", op, rx_len);
        cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods - periods, bits ? 5 : 24, "opcode %02X",
                     op);
    }
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 1 + 1 + 48);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
}

/* ========================= 0x87, 0x96/0x97, reset ========================= */

Test(mpsse, send_immediate_flushes_without_reply_bytes)
{
    SEND(0x87);
    cr_assert_eq(flushes, 1);
    ASSERT_NO_REPLY();
    SEND(0x81, 0x87, 0x87);
    cr_assert_eq(flushes, 3);
    ASSERT_REPLY(0xFF);
}

Test(mpsse, adaptive_clocking_and_loopback_toggles_are_accepted_silently)
{
    SEND(0x96, 0x97, 0x84, 0x85, 0x8C, 0x8D, 0x8A, 0x8B);
    ASSERT_NO_REPLY();
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 8);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
}

Test(mpsse, a_missing_sink_drops_replies)
{
    struct sim_mpsse *quiet = sim_mpsse_new(bus, NULL, true);
    const uint8_t cmd[] = {0x81, 0xAA, 0x87};
    sim_mpsse_write(quiet, cmd, sizeof(cmd));
    cr_assert_eq(sim_mpsse_stats(quiet)->commands, 3);
    sim_mpsse_free(quiet);
    ASSERT_NO_REPLY();
}

Test(mpsse, reset_restores_power_on_state_and_drops_a_partial_command)
{
    SEND(0x8A, 0x8C, 0x84, 0x86, 0x05, 0x00, 0x9E, 0x07, 0x00, 0x80, 0x00, 0x03);
    SEND(0x80, 0x00);
    sim_mpsse_reset(mpsse);
    assert_lines(true, true);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 6000000);
    SEND(0x03); /* not the tail of the dropped 80: a bad opcode of its own */
    ASSERT_REPLY(0xFA, 0x03);

    clear_reply();
    probe.hold_sda_low = true;
    SEND(0x80, 0x02, 0x03, 0x31, 0x00, 0x00, 0xFF);
    ASSERT_REPLY(0x00); /* loopback off again: the bus is read */
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "drive-zero masks cleared");
}

/* ========================= straddled commands ========================= */

Test(mpsse, an_incomplete_command_waits_for_its_remaining_bytes)
{
    SEND(0x80, 0x00);
    assert_lines(true, true);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 0);
    SEND(0x03);
    assert_lines(false, false);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 1);
}

Test(mpsse, a_data_write_split_inside_its_length_and_payload_still_shifts_every_byte)
{
    open_drain_clock_low();
    SEND(0x11, 0x02);
    SEND(0x00, 0xF0);
    SEND(0x0F);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0);
    SEND(0xAA, 0x81);
    cr_assert_str_eq(probe_samples(&probe), "111100000000111110101010");
    ASSERT_REPLY(0x78 | 0x00);
}

Test(mpsse, every_command_fed_byte_by_byte_gives_the_same_replies)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 3, true);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    PUT(&s, 0x81, 0x83, 0xAB, 0x8E, 0x02, 0x8F, 0x00, 0x00, 0x82, 0x55, 0xF0, 0x83);
    for (size_t i = 0; i < s.n; i++)
        sim_mpsse_write(mpsse, &s.b[i], 1);
    ASSERT_REPLY(0x00, 0x40, 0xFF, 0xFF, 0xFA, 0xAB, 0x5F);
    cr_assert_eq(flushes, 2);

    /* The same stream in one write, on a fresh engine and bus. */
    uint8_t byte_by_byte[sizeof(rx)];
    size_t byte_by_byte_len = rx_len;
    memcpy(byte_by_byte, rx, rx_len);
    uint64_t periods = sim_mpsse_stats(mpsse)->scl_periods;
    uint64_t time_ns = sim_mpsse_stats(mpsse)->bus_time_ns;
    clear_reply();
    sim_mpsse_free(mpsse);
    mpsse = sim_mpsse_new(bus, &sink, true);
    run(&s);
    assert_reply(byte_by_byte, byte_by_byte_len);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, periods);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, time_ns);
}

/* ========================= clock model ========================= */

Test(mpsse, power_on_clock_is_6_mhz_from_12_mhz_base)
{
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 6000000);
}

Test(mpsse, an255_clock_settings_give_about_99_5_khz)
{
    SEND(0x8A, 0x86, 0xC8, 0x00, 0x8C);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 99502); /* 60 MHz / 402 * 2/3 */
    SEND(0x8D);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 149254);
}

Test(mpsse, pyftdi_clock_settings_give_exact_i2c_speeds)
{
    SEND(0x8B, 0x8C, 0x86, 0x27, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 100000);
    SEND(0x86, 0x09, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 400000);
    SEND(0x86, 0x03, 0x00);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 1000000);
    SEND(0x8D);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 1500000);
    SEND(0x8A);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 7500000);
}

Test(mpsse, a_divisor_is_a_little_endian_16_bit_value)
{
    SEND(0x8A, 0x86, 0x00, 0x01); /* 256: 60 MHz / 514 */
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 116732);
    SEND(0x86, 0xFF, 0xFF); /* slowest divisor: 60 MHz / 131072 */
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 458);
}

Test(mpsse, bus_time_counts_each_clocked_bit_at_the_scl_period)
{
    SEND(0x8B, 0x86, 0x27, 0x00, 0x8C);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 0, "settings alone take no bus time");
    open_drain_clock_low(); /* one 0x80: 500 ns */
    uint64_t t0 = sim_mpsse_stats(mpsse)->bus_time_ns;
    cr_assert_eq(t0, 500);
    SEND(0x8E, 0x07);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 500 + 80000);
    SEND(0x11, 0x00, 0x00, 0x00, 0x22, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 500 + 170000);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 17);
    SEND(0x8D, 0x8E, 0x00); /* 2-phase: one TCK period per bit */
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 177166);
}

Test(mpsse, pin_writes_cost_500_ns_each_whatever_the_clock)
{
    SEND(0x8A, 0x86, 0xC8, 0x00, 0x8C); /* TCK 149.25 kHz */
    SEND(0x80, 0x03, 0x03, 0x80, 0x03, 0x03, 0x82, 0x00, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 1500);
    SEND(0x8B, 0x86, 0xFF, 0xFF); /* the slowest clock: still 500 ns a write */
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 2000);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0);
}

/* ========================= real client sequences against Lynx Distributors ================ */

Test(mpsse, an255_read_of_a_healthy_distributor_acks_and_returns_00)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x00, 0x00);
    cr_assert_eq(flushes, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0);
    cr_assert_eq(sim_lynx_stats(lynx[0])->reads, 1);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
    assert_lines(true, true);
}

Test(mpsse, an255_read_with_fuse_2_open_returns_20)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 2, true);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x00, 0x20);
}

Test(mpsse, an255_read_of_a_missing_address_gives_nack_bit_1_and_ff)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x09);
    run(&s);
    ASSERT_REPLY(0x01, 0xFF);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(mpsse, an255_read_of_an_unpowered_distributor_is_a_nack)
{
    add_distributors(1);
    sim_lynx_set_powered(lynx[0], false);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x01, 0xFF);
}

Test(mpsse, an255_scan_of_four_distributors_in_one_buffer_with_one_flush)
{
    add_distributors(4);
    sim_lynx_set_supply(lynx[1], false);
    sim_lynx_set_fuse_open(lynx[2], 1, true);
    sim_lynx_set_fuse_open(lynx[2], 4, true);
    sim_lynx_detach(lynx[3]);
    struct seq s = {.n = 0};
    an255_init(&s);
    for (uint8_t address = 0x08; address <= 0x0B; address++) {
        an255_start(&s);
        PUT(&s, 0x11, 0x00, 0x00, (uint8_t)(address << 1 | 1), 0x80, 0xFE, 0xFB, 0x22, 0x00);
        PUT(&s, 0x20, 0x00, 0x00, 0x13, 0x00, 0xFF, 0x80, 0xFE, 0xFB);
        an255_stop(&s);
    }
    PUT(&s, 0x87);
    run(&s);
    ASSERT_REPLY(0x00, 0x00, 0x00, 0x02, 0x00, 0x90, 0x01, 0xFF);
    cr_assert_eq(flushes, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 4);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 4 * 18);
    /* 72 bits at 99.5 kHz (10.05 us) + 4 * 22 pin writes and 2 init pin writes at 0.5 us */
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 72 * 10050 + 90 * 500);
}

Test(mpsse, an255_push_pull_variant_fights_the_ack_but_still_reads_it)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 1, true);
    struct seq s = {.n = 0};
    an255_init_push_pull(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    /* The ACK and the zero data bits are pulled low against the master's push-pull high:
     * wired AND reads them low, and the bus counts the fights. */
    ASSERT_REPLY(0x00, 0x10);
    cr_assert_geq(sim_i2c_bus_stats(bus)->contention, 2);
}

Test(mpsse, pyftdi_read_of_a_distributor_acks_and_returns_the_status_byte)
{
    add_distributors(2);
    sim_lynx_set_supply(lynx[1], false);
    sim_lynx_set_fuse_open(lynx[1], 2, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x09 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x22);
    cr_assert_eq(flushes, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 100000);
    assert_lines(true, true);
}

Test(mpsse, pyftdi_multi_byte_read_acks_then_nacks_the_last_byte)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 4, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, true);
    pyftdi_read_byte(&s, true);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x80, 0x80, 0x80);
    cr_assert_eq(sim_lynx_stats(lynx[0])->reads, 3);
    assert_lines(true, true);
}

Test(mpsse, pyftdi_write_then_read_is_acked_and_the_write_ignored)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1);
    pyftdi_write_byte(&s, 0x42);
    pyftdi_stop(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x00, 0x00, 0x00);
    cr_assert_eq(sim_lynx_stats(lynx[0])->writes, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 2);
}

Test(mpsse, pyftdi_retries_a_nacked_address_three_times)
{
    add_distributors(1);
    sim_lynx_detach(lynx[0]);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    for (int attempt = 0; attempt < 3; attempt++) {
        pyftdi_start(&s);
        pyftdi_write_byte(&s, 0x08 << 1 | 1);
        pyftdi_stop(&s);
    }
    run(&s);
    ASSERT_REPLY(0x01, 0x01, 0x01);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 3);
    cr_assert_eq(flushes, 3);
}

Test(mpsse, pyftdi_byte_by_byte_round_trips_match_one_buffer)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 3, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    /* split at every odd place: 5 bytes, 3 bytes, ... */
    size_t offset = 0, chunk = 5;
    while (offset < s.n) {
        size_t len = s.n - offset < chunk ? s.n - offset : chunk;
        sim_mpsse_write(mpsse, s.b + offset, len);
        offset += len;
        chunk = chunk == 5 ? 3 : 5;
    }
    ASSERT_REPLY(0x00, 0x40);
}

/* ========================= no bus attached ========================= */

Test(mpsse, without_a_bus_the_pins_read_their_own_drive)
{
    struct sim_mpsse *alone = sim_mpsse_new(NULL, &sink, true);
    const uint8_t cmd[] = {0x81, 0x80, 0x00, 0x03, 0x81, 0x84, 0x31, 0x00, 0x00, 0x69, 0x81};
    sim_mpsse_write(alone, cmd, sizeof(cmd));
    /* AD2 is tied to AD1; last 0x31 leaves DO at bit 0 of 0x69 = 1 */
    ASSERT_REPLY(0xFF, 0x78, 0x69, 0x7E);
    cr_assert_eq(sim_mpsse_stats(alone)->scl_periods, 8);
    sim_mpsse_free(alone);
    assert_lines(true, true); /* the fixture's bus untouched */
}

/* --- bus time: when each pin moves (the I2C bus's timing checks) --- */

static const struct sim_i2c_rule_stats *rule(enum sim_i2c_rule r)
{
    return &sim_i2c_bus_timing(bus)->rules[r];
}

Test(mpsse, pyftdi_100khz_clocking_holds_scl_high_3333_ns_which_breaks_standard_mode)
{
    /* pyftdi's I2cController at 100 kHz: divide-by-5 on, divisor 0x27, 3-phase */
    SEND(0x8B, 0x86, 0x27, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x80, 0x01, 0x03, 0x80, 0x00, 0x03);       /* START */
    SEND(0x11, 0x00, 0x00, 0x11, 0x80, 0x02, 0x03); /* address byte, release SDA */
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 3333);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->violations, 8);
    cr_assert_eq(rule(SIM_I2C_T_LOW)->shortest_ns, 3833, "one pin write + a third of a bit");
    cr_assert_eq(rule(SIM_I2C_T_LOW)->violations, 1, "only next to the START");
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->violations, 0, "3-phase holds data a third");
}

Test(mpsse, a_3_phase_bit_is_high_a_third_and_low_two_thirds_of_its_period)
{
    /* 60 MHz, divisor 239: a 12 us bit */
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x02, 0x03); /* SCL low 5 us before the first bit */
    SEND(0x11, 0x01, 0x00, 0x55, 0xAA);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 4000);
    cr_assert_eq(rule(SIM_I2C_T_LOW)->shortest_ns, 8000);
    cr_assert_eq(rule(SIM_I2C_T_SU_DAT)->shortest_ns, 4000);
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->shortest_ns, 4000);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        cr_assert_eq(rule(r)->violations, 0, "%s", sim_i2c_rule_name(r));
}

Test(mpsse, without_3_phase_data_changes_as_scl_falls_and_breaks_the_data_hold)
{
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8D, 0x9E, 0x07, 0x00, 0x80, 0x02, 0x03);
    SEND(0x11, 0x00, 0x00, 0x55);
    cr_assert_eq(rule(SIM_I2C_T_HD_DAT)->shortest_ns, 0);
    cr_assert_gt(rule(SIM_I2C_T_HD_DAT)->violations, 0);
    cr_assert_eq(rule(SIM_I2C_T_HIGH)->shortest_ns, 4000, "high and low half an 8 us bit");
}

Test(mpsse, pin_writes_move_the_pins_half_a_microsecond_apart)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x80, 0x01, 0x03, 0x80, 0x01, 0x03, 0x80, 0x01, 0x03, 0x80, 0x00, 0x03); /* START */
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->shortest_ns, 1500, "3 writes of 0.5 us");
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->violations, 1);
}

Test(mpsse, a_transfer_arriving_later_finds_the_bus_idle_since_the_last_command)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03, 0x80, 0x01, 0x03);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), 1000);
    sim_mpsse_advance_to(mpsse, 500); /* the bus is ahead of it: no change */
    cr_assert_eq(sim_mpsse_now_ns(mpsse), 1000);
    sim_mpsse_advance_to(mpsse, 2000000);
    SEND(0x80, 0x00, 0x03); /* SCL falls 2 ms after the START */
    cr_assert_eq(rule(SIM_I2C_T_HD_STA)->shortest_ns, 2000000 - 500);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 1500, "idle time is not bus time");
}

/* The bus time is CLOCK_MONOTONIC, which on a machine up for days is far beyond 2^64 / 10^9
 * units (153.7 s): converting it to ns must not overflow, or the stamps wrap every 153.7 s and
 * the bus, which never goes back in time, measures 0 ns intervals until they catch up. */
Test(mpsse, bus_time_stays_exact_after_days_of_uptime)
{
    const uint64_t days = 3ull * 86400 * 1000000000;
    sim_mpsse_advance_to(mpsse, days);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), days);
    SEND(0x8A, 0x80, 0x03, 0x03);
    cr_assert_eq(sim_mpsse_now_ns(mpsse), days + 500);
}

/* A compliant 12 us-bit transaction from a given bus time: every interval as long as at time 0. */
static void compliant_transaction_at(uint64_t start_ns)
{
    SEND(0x8A, 0x86, 0xEF, 0x00, 0x8C, 0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    sim_mpsse_advance_to(mpsse, start_ns);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* START, held 5 us */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
    SEND(0x11, 0x00, 0x00, 0x11, 0x80, 0x02, 0x03, 0x22, 0x00); /* address, ACK bit */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* SCL high, SDA low: set-up of the STOP */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x03, 0x03); /* STOP, then the bus free */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x01, 0x03); /* the next START */
    for (int i = 0; i < 10; i++)
        SEND(0x80, 0x00, 0x03);
}

Test(mpsse, a_compliant_transaction_across_153_7_s_of_bus_time_measures_no_violation)
{
    /* 2^64 / 10^9 units of 1/120 MHz: where units * 10^9 used to wrap */
    const uint64_t wrap_ns = 18446744074ull * 1000 / 120;
    for (uint64_t before = 0; before <= 200000; before += 500) {
        teardown(); /* a fresh engine and bus for each start time */
        setup();
        sim_i2c_bus_set_timing(bus, SIM_I2C_STANDARD, true);
        compliant_transaction_at(wrap_ns * 2 - before);
        cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2);
        for (int r = 0; r < SIM_I2C_RULES; r++)
            cr_assert_eq(rule(r)->violations, 0, "%s: %" PRIu64 " ns, %" PRIu64 " ns before",
                         sim_i2c_rule_name(r), rule(r)->shortest_ns, before);
        cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 0);
    }
}

/* --- the opcodes a stray byte may hit: each takes its real length --- */

Test(mpsse, tms_commands_take_three_bytes_and_the_reading_ones_answer_one_byte)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x02, 0x0B);
    SEND(0x4B, 0x02, 0x05, 0xAA, 0x87);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 3, "3 TMS bits clocked on TCK");
    clear_reply();
    SEND(0x6B, 0x00, 0x80, 0xAA);
    cr_assert_eq(rx_len, 3, "one byte read, then FA AA");
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAA);
    cr_assert_eq(rx[0] & 0x80, 0x80, "SDA released (DO = bit 7 = 1) reads 1");
    clear_reply();
    SEND(0x6E, 0x06, 0x00, 0x4A, 0x00, 0x00, 0xAA);
    cr_assert_eq(rx_len, 3);
    cr_assert_eq(rx[0] & 0x80, 0, "DO held low by bit 7 = 0: SDA reads 0");
}

Test(mpsse, mcu_host_commands_take_their_length_and_the_reads_shift_the_reply)
{
    SEND(0x90, 0xAA, 0xAB); /* 2 bytes: read short address AA; AB is a bad command */
    cr_assert_eq(rx_len, 3);
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAB);
    clear_reply();
    SEND(0x91, 0xAA, 0xAA, 0x92, 0xAA, 0xAA, 0x93, 0xAA, 0xAA, 0xAA, 0xAB);
    cr_assert_eq(rx_len, 3, "91 answers one byte, 92 and 93 none");
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAB);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 2);
}

Test(mpsse, waiting_for_gpiol1_high_returns_at_once_as_the_pin_floats_high)
{
    SEND(0x88, 0x94, 0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_not(sim_mpsse_stalled(mpsse));
}

Test(mpsse, waiting_for_gpiol1_low_stalls_the_engine_until_a_purge)
{
    SEND(0x89, 0xAA, 0x81, 0x87);
    ASSERT_NO_REPLY();
    cr_assert(sim_mpsse_stalled(mpsse));
    SEND(0xAA);
    ASSERT_NO_REPLY();
    cr_assert_eq(sim_mpsse_stats(mpsse)->stalled_bytes, 4);
    sim_mpsse_purge(mpsse);
    SEND(0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    SEND(0x95); /* clock until low: the same */
    cr_assert(sim_mpsse_stalled(mpsse));
    sim_mpsse_reset(mpsse);
    cr_assert_not(sim_mpsse_stalled(mpsse));
}

Test(mpsse, a_gpiol1_low_output_satisfies_the_wait_for_low)
{
    SEND(0x80, 0x00, 0x20, 0x89, 0xAA); /* AD5 an output driving 0 */
    ASSERT_REPLY(0xFA, 0xAA);
}

Test(mpsse, clock_bytes_until_gpiol1_stops_at_once_for_high_and_clocks_all_for_low)
{
    SEND(0x8A, 0x9C, 0x01, 0x00, 0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0, "GPIOL1 is already high");
    SEND(0x9D, 0x01, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16, "2 bytes of clocks: it never goes low");
}
