/* The MPSSE engine tests' shared fixture: see mpsse_fixture.h. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mpsse_fixture.h"

/* --- reply capture --- */

uint8_t rx[8192];
size_t rx_len;
unsigned flushes;

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

const struct sim_mpsse_sink sink = {.data = sink_data, .flush = sink_flush, .ctx = NULL};

/* --- a probe device: logs what it sees, optionally drives a bit pattern on SDA --- */

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

const struct sim_i2c_device_ops probe_ops = {
    .start = probe_start,
    .stop = probe_stop,
    .scl_rise = probe_rise,
    .scl_fall = probe_fall,
    .sda_low = probe_sda_low,
    .scl_low = NULL,
};

/* The SDA levels the probe sampled on rising edges, in order. */
const char *probe_samples(const struct probe *p)
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

struct sim_i2c_bus *bus;
struct sim_mpsse *mpsse;
struct probe probe;
struct sim_lynx *lynx[4];

void mpsse_setup(void)
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

void mpsse_teardown(void)
{
    sim_mpsse_free(mpsse);
    for (int i = 0; i < 4; i++)
        sim_lynx_free(lynx[i]);
    sim_i2c_bus_free(bus);
}

TestSuite(mpsse, .init = mpsse_setup, .fini = mpsse_teardown);

/* Lynx distributors 'A'.. on the bus, all powered and fine. */
void add_distributors(int count)
{
    for (int i = 0; i < count; i++) {
        lynx[i] = sim_lynx_new((char)('A' + i));
        cr_assert_not_null(lynx[i]);
        cr_assert_eq(sim_lynx_attach(lynx[i], bus), 0);
    }
}

void clear_reply(void)
{
    rx_len = 0;
    flushes = 0;
}

void assert_reply(const uint8_t *expected, size_t len)
{
    char got[256] = "", want[256] = "";
    for (size_t i = 0; i < rx_len && i < 60; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%02X ", rx[i]);
    for (size_t i = 0; i < len && i < 60; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%02X ", expected[i]);
    cr_assert(rx_len == len && memcmp(rx, expected, len) == 0, "reply [%s], expected [%s]", got,
              want);
}

void assert_lines(bool scl, bool sda)
{
    cr_assert_eq(sim_i2c_bus_scl_level(bus), scl, "SCL %d, expected %d", sim_i2c_bus_scl_level(bus),
                 scl);
    cr_assert_eq(sim_i2c_bus_sda_level(bus), sda, "SDA %d, expected %d", sim_i2c_bus_sda_level(bus),
                 sda);
}

/* Open drain on AD0..AD2, SCL low (idle for clocking), SDA released. */
void open_drain_clock_low(void)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x02, 0x03);
    probe.log_len = 0;
    probe.log[0] = '\0';
}

/* --- byte sequences of real clients (ft232h-mpsse.md) --- */

void put(struct seq *s, const uint8_t *bytes, size_t len)
{
    cr_assert_leq(s->n + len, sizeof(s->b));
    memcpy(s->b + s->n, bytes, len);
    s->n += len;
}

void put_repeated(struct seq *s, int times, uint8_t a, uint8_t b, uint8_t c)
{
    for (int i = 0; i < times; i++)
        PUT(s, a, b, c);
}

void an255_init(struct seq *s)
{
    PUT(s, 0x8A, 0x97, 0x8C, 0x9E, 0x07, 0x00, 0x85);
    PUT(s, 0x86, 0xC8, 0x00);
    PUT(s, 0x80, 0xFF, 0xFB, 0x82, 0xFF, 0x40);
}

/* The AN_255 init with push-pull pins: no 0x9E. */
void an255_init_push_pull(struct seq *s)
{
    PUT(s, 0x8A, 0x97, 0x8C, 0x85);
    PUT(s, 0x86, 0xC8, 0x00);
    PUT(s, 0x80, 0xFF, 0xFB, 0x82, 0xFF, 0x40);
}

void an255_start(struct seq *s)
{
    put_repeated(s, 4, 0x80, 0xFD, 0xFB);
    put_repeated(s, 4, 0x80, 0xFC, 0xFB);
}

void an255_address(struct seq *s, uint8_t address, bool read)
{
    PUT(s, 0x11, 0x00, 0x00, (uint8_t)(address << 1 | (read ? 1 : 0)));
    PUT(s, 0x80, 0xFE, 0xFB, 0x22, 0x00, 0x87);
}

void an255_read_nack(struct seq *s)
{
    PUT(s, 0x20, 0x00, 0x00, 0x13, 0x00, 0xFF, 0x80, 0xFE, 0xFB, 0x87);
}

void an255_stop(struct seq *s)
{
    put_repeated(s, 4, 0x80, 0xFC, 0xFB);
    put_repeated(s, 4, 0x80, 0xFD, 0xFB);
    put_repeated(s, 4, 0x80, 0xFF, 0xFB);
}

void an255_read_status(struct seq *s, uint8_t address)
{
    an255_start(s);
    an255_address(s, address, true);
    an255_read_nack(s);
    an255_stop(s);
}

void pyftdi_init(struct seq *s)
{
    PUT(s, 0x8B, 0x86, 0x27, 0x00);
    PUT(s, 0x80, 0xFF, 0x03, 0x82, 0x00, 0x00);
    PUT(s, 0x85);
    PUT(s, 0x97);
    PUT(s, 0x8C);
    PUT(s, 0x9E, 0x07, 0x00);
    PUT(s, 0x80, 0x03, 0x03);
}

void pyftdi_start(struct seq *s)
{
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x01, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x00, 0x03);
}

void pyftdi_write_byte(struct seq *s, uint8_t byte)
{
    PUT(s, 0x11, 0x00, 0x00, byte);
    PUT(s, 0x80, 0x02, 0x03, 0x22, 0x00, 0x87);
}

void pyftdi_read_byte(struct seq *s, bool ack)
{
    PUT(s, 0x20, 0x00, 0x00, 0x13, 0x00, ack ? 0x00 : 0xFF, 0x80, 0x02, 0x03, 0x87);
}

void pyftdi_stop(struct seq *s)
{
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x02, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x00, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x01, 0x03);
    put_repeated(s, PYFTDI_DELAY, 0x80, 0x03, 0x03);
}

void run(const struct seq *s)
{
    sim_mpsse_write(mpsse, s->b, s->n);
}
