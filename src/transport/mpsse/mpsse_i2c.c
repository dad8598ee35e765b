#include "transport/mpsse/mpsse_i2c.h"

#include <errno.h>

/* Opcodes (FTDI AN_108). */
enum {
    OP_BYTES_OUT_NVE_MSB = 0x11,
    OP_BITS_OUT_NVE_MSB = 0x13,
    OP_BYTES_IN_PVE_MSB = 0x20,
    OP_BITS_IN_PVE_MSB = 0x22,
    OP_SET_ADBUS = 0x80,
    OP_READ_ADBUS = 0x81,
    OP_LOOPBACK_OFF = 0x85,
    OP_CLOCK_DIVISOR = 0x86,
    OP_SEND_IMMEDIATE = 0x87,
    OP_DIV5_OFF = 0x8A,
    OP_3PHASE_ON = 0x8C,
    OP_ADAPTIVE_OFF = 0x97,
    OP_DRIVE_ZERO = 0x9E,
    OP_BOGUS = 0xAA,
};

#define PIN_SCL    0x01u
#define PIN_SDA_O  0x02u
#define PIN_SDA_I  0x04u
#define PIN_OUTPUT (PIN_SCL | PIN_SDA_O)

/* Line states: which lines the master releases (1) or pulls low (0). How a state becomes a pin
 * write depends on the chip, see put_lines. */
#define LINES_IDLE     (PIN_SCL | PIN_SDA_O)
#define LINES_SDA_LOW  PIN_SCL /* SCL high, SDA low: START, or the STOP set-up */
#define LINES_BOTH_LOW 0x00u
#define LINES_SCL_LOW  PIN_SDA_O /* SCL low, SDA released */

#define CLOCK_BASE_HZ 20000000u /* 60 MHz / 2 (half periods) * 2/3 (3-phase) */
#define CLOCK_UNIT_NS 50u       /* one bit lasts (1 + d) of these: 1 / CLOCK_BASE_HZ */

/* A pin write (80) takes about 0.5 us whatever the clock divisor (pyftdi's mpsse_bit_delay,
 * measured on an FT2232H; 4 writes gave 2.2 us on a scope in pyftdi issue #72; FTDI documents no
 * figure). The shortest plausible time is what counts: a START or STOP interval is made of
 * enough repeated writes to last its I2C minimum even at 0.5 us each. sim/model/mpsse.c charges the
 * same. */
#define SET_BITS_NS 500u

/* I2C minimum times (UM10204 table 10) in ns, by speed class. */
struct i2c_timing {
    unsigned hd_sta, su_sta, su_sto, buf, low, high;
};
static const struct i2c_timing MODES[] = {
    [MPSSE_I2C_STANDARD] = {4000, 4700, 4000, 4700, 4700, 4000},
    [MPSSE_I2C_FAST] = {600, 600, 600, 1300, 1300, 600},
    [MPSSE_I2C_FAST_PLUS] = {260, 260, 260, 500, 500, 260},
};

const char *mpsse_i2c_mode_name(enum mpsse_i2c_mode mode)
{
    switch (mode) {
    case MPSSE_I2C_STANDARD:
        return "standard";
    case MPSSE_I2C_FAST:
        return "fast";
    default:
        return "fast-plus";
    }
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static unsigned writes_for(unsigned ns)
{
    unsigned n = (ns + SET_BITS_NS - 1) / SET_BITS_NS;
    return n ? n : 1;
}

struct cmd {
    uint8_t *buf; /* NULL: only count */
    size_t len;
};

static void put(struct cmd *c, uint8_t byte)
{
    if (c->buf)
        c->buf[c->len] = byte;
    c->len++;
}

/* Drive-zero: both lines are outputs whose 1 floats. Direction emulation: SCL an output driven
 * push-pull, SDA an output driving 0 when low and an input when released. */
static void put_lines(struct cmd *c, const struct mpsse_i2c_clock *clk, unsigned lines,
                      unsigned repeats)
{
    uint8_t value = (uint8_t)lines, direction = PIN_OUTPUT;
    if (clk->drive == MPSSE_I2C_DRIVE_DIRECTION) {
        value = (uint8_t)(lines & PIN_SCL);
        direction = (uint8_t)(PIN_SCL | (~lines & PIN_SDA_O));
    }
    for (unsigned i = 0; i < repeats; i++) {
        put(c, OP_SET_ADBUS);
        put(c, value);
        put(c, direction);
    }
}

/* From an idle bus (the STOP before it or the set-up left the bus free for tBUF). */
static void put_start(struct cmd *c, const struct mpsse_i2c_clock *clk)
{
    put_lines(c, clk, LINES_SDA_LOW, clk->start_hold_repeats);
    put_lines(c, clk, LINES_BOTH_LOW, clk->scl_low_repeats);
}

/* idle_repeats: how long the bus stays free after it, at least 1. */
static void put_stop(struct cmd *c, const struct mpsse_i2c_clock *clk, unsigned idle_repeats)
{
    put_lines(c, clk, LINES_BOTH_LOW, clk->scl_low_repeats);
    put_lines(c, clk, LINES_SDA_LOW, clk->stop_setup_repeats);
    put_lines(c, clk, LINES_IDLE, idle_repeats);
}

int mpsse_i2c_clock_for(uint32_t requested_hz, struct mpsse_i2c_clock *out)
{
    if (requested_hz < MPSSE_I2C_MIN_HZ || requested_hz > MPSSE_I2C_MAX_HZ)
        return -EINVAL;
    enum mpsse_i2c_mode mode = requested_hz <= 100000   ? MPSSE_I2C_STANDARD
                               : requested_hz <= 400000 ? MPSSE_I2C_FAST
                                                        : MPSSE_I2C_FAST_PLUS;
    const struct i2c_timing *t = &MODES[mode];
    /* Bit length in 50 ns units: no faster than requested, high third >= tHIGH, low two
     * thirds >= tLOW. */
    uint32_t periods = div_up(CLOCK_BASE_HZ, requested_hz);
    periods = max_u32(periods, div_up(3 * t->high, CLOCK_UNIT_NS));
    periods = max_u32(periods, div_up(3 * t->low, 2 * CLOCK_UNIT_NS));
    out->divisor = (uint16_t)(periods - 1);
    out->scl_hz = CLOCK_BASE_HZ / periods;
    out->requested_hz = requested_hz;
    out->mode = mode;
    out->scl_high_ns = periods * CLOCK_UNIT_NS / 3;
    out->scl_low_ns = periods * CLOCK_UNIT_NS * 2 / 3;

    out->start_hold_repeats = writes_for(t->hd_sta);
    out->stop_setup_repeats = writes_for(t->su_sto);
    out->bus_free_repeats = writes_for(t->buf);
    /* A clocked bit (3-phase) holds SCL low for a third of its period on each side; the pin
     * writes next to a START or STOP add what tLOW needs beyond that. */
    unsigned third_ns = out->scl_high_ns;
    out->scl_low_repeats = writes_for(t->low > third_ns ? t->low - third_ns : 0);
    out->hold_repeats = writes_for(t->su_sta > t->buf ? t->su_sta : t->buf);
    out->drive = MPSSE_I2C_DRIVE_ZERO;
    return 0;
}

ssize_t mpsse_i2c_build_init(const struct mpsse_i2c_clock *clock, uint8_t *buf, size_t max)
{
    if (max < MPSSE_I2C_INIT_LEN)
        return -ENOSPC;
    struct cmd c = {.buf = buf};
    put(&c, OP_DIV5_OFF);
    put(&c, OP_ADAPTIVE_OFF);
    put(&c, OP_3PHASE_ON);
    if (clock->drive == MPSSE_I2C_DRIVE_ZERO) {
        put(&c, OP_DRIVE_ZERO);
        put(&c, PIN_SCL | PIN_SDA_O | PIN_SDA_I);
        put(&c, 0x00);
    }
    put(&c, OP_LOOPBACK_OFF);
    put(&c, OP_CLOCK_DIVISOR);
    put(&c, (uint8_t)(clock->divisor & 0xFF));
    put(&c, (uint8_t)(clock->divisor >> 8));
    put_lines(&c, clock, LINES_IDLE, 1);
    return (ssize_t)c.len;
}

ssize_t mpsse_i2c_build_sync(uint8_t *buf, size_t max)
{
    if (max < MPSSE_I2C_SYNC_LEN)
        return -ENOSPC;
    buf[0] = OP_BOGUS;
    buf[1] = OP_SEND_IMMEDIATE;
    return MPSSE_I2C_SYNC_LEN;
}

int mpsse_i2c_check_sync(const uint8_t *reply, size_t len)
{
    if (len != MPSSE_I2C_SYNC_REPLY || reply[0] != MPSSE_BAD_COMMAND || reply[1] != OP_BOGUS)
        return -EPROTO;
    return 0;
}

static bool scan_valid(const struct mpsse_i2c_scan *scan)
{
    if (scan->n_addresses == 0 || scan->n_addresses > MPSSE_I2C_MAX_ADDRESSES)
        return false;
    if (scan->rounds == 0 || scan->rounds > MPSSE_I2C_MAX_ROUNDS)
        return false;
    const struct mpsse_i2c_clock *clk = &scan->clock;
    if (!clk->hold_repeats || !clk->start_hold_repeats || !clk->stop_setup_repeats ||
        !clk->bus_free_repeats || !clk->scl_low_repeats)
        return false;
    if (scan->clock.drive != MPSSE_I2C_DRIVE_ZERO && scan->clock.drive != MPSSE_I2C_DRIVE_DIRECTION)
        return false;
    for (size_t i = 0; i < scan->n_addresses; i++)
        if (scan->addresses[i] > 0x7F)
            return false;
    return true;
}

/* Address byte and ACK bit. With direction emulation the R/W bit (1) is clocked with SDA already
 * an input: SDA is never driven high when the slave pulls it low for its ACK. */
static void put_address(struct cmd *c, const struct mpsse_i2c_clock *clk, uint8_t address)
{
    if (clk->drive == MPSSE_I2C_DRIVE_ZERO) {
        put(c, OP_BYTES_OUT_NVE_MSB);
        put(c, 0x00); /* length - 1, little endian */
        put(c, 0x00);
        put(c, (uint8_t)(address << 1 | 1));
        put_lines(c, clk, LINES_SCL_LOW, 1); /* release SDA for the slave's ACK */
    } else {
        put(c, OP_BITS_OUT_NVE_MSB);
        put(c, 0x06); /* 7 bits: the address */
        put(c, (uint8_t)(address << 1));
        put_lines(c, clk, LINES_SCL_LOW, 1);
        put(c, OP_BITS_OUT_NVE_MSB);
        put(c, 0x00); /* the R/W bit: 1 = read, by releasing SDA */
        put(c, 0xFF);
    }
    put(c, OP_BITS_IN_PVE_MSB);
    put(c, 0x00); /* 1 bit */
}

/* idle_repeats: the bus free time after its STOP (tBUF before another START). */
static void put_read_transaction(struct cmd *c, const struct mpsse_i2c_clock *clk, uint8_t address,
                                 unsigned idle_repeats)
{
    put_start(c, clk);
    put_address(c, clk, address);
    put(c, OP_BYTES_IN_PVE_MSB);
    put(c, 0x00);
    put(c, 0x00);
    put(c, OP_BITS_OUT_NVE_MSB); /* NACK: the last byte read */
    put(c, 0x00);
    put(c, 0xFF);
    put_stop(c, clk, idle_repeats);
}

static void put_scan(struct cmd *c, const struct mpsse_i2c_scan *scan)
{
    if (scan->check_bus) {
        put_lines(c, &scan->clock, LINES_IDLE, 1);
        put(c, OP_READ_ADBUS);
    }
    for (unsigned round = 0; round < scan->rounds; round++)
        for (size_t i = 0; i < scan->n_addresses; i++) {
            /* The last STOP needs no bus free time: whatever comes next arrives in another USB
             * transfer, at least a 125 us microframe later. Unless the pins are read right after
             * it: released lines rise through the pull-ups (an RC of a few us on a long cable),
             * and a line read before it is up would look stuck. */
            bool last = round + 1 == scan->rounds && i + 1 == scan->n_addresses;
            put_read_transaction(c, &scan->clock, scan->addresses[i],
                                 last && !scan->check_bus ? 1 : scan->clock.bus_free_repeats);
        }
    if (scan->check_bus) {
        put(c, OP_READ_ADBUS);
        put(c, OP_BOGUS);
    }
    put(c, OP_SEND_IMMEDIATE);
}

size_t mpsse_i2c_scan_command_len(const struct mpsse_i2c_scan *scan)
{
    if (!scan_valid(scan))
        return 0;
    struct cmd c = {0};
    put_scan(&c, scan);
    return c.len;
}

size_t mpsse_i2c_scan_reply_len(const struct mpsse_i2c_scan *scan)
{
    if (!scan_valid(scan))
        return 0;
    /* ACK bit byte + data byte per transaction */
    return 2 * scan->n_addresses * scan->rounds + (scan->check_bus ? MPSSE_I2C_CHECK_REPLY : 0);
}

ssize_t mpsse_i2c_build_scan(const struct mpsse_i2c_scan *scan, uint8_t *buf, size_t max)
{
    if (!scan_valid(scan))
        return -EINVAL;
    if (mpsse_i2c_scan_command_len(scan) > max)
        return -ENOSPC;
    struct cmd c = {.buf = buf};
    put_scan(&c, scan);
    return (ssize_t)c.len;
}

int mpsse_i2c_parse_scan(const struct mpsse_i2c_scan *scan, const uint8_t *reply, size_t len,
                         struct mpsse_i2c_read *out, size_t max_out)
{
    if (!scan_valid(scan))
        return -EINVAL;
    size_t count = scan->n_addresses * scan->rounds;
    if (max_out < count)
        return -ENOSPC;
    if (len != mpsse_i2c_scan_reply_len(scan))
        return -EPROTO;
    if (scan->check_bus && (reply[len - 2] != MPSSE_BAD_COMMAND || reply[len - 1] != OP_BOGUS))
        return -EPROTO;
    if (scan->check_bus)
        reply++; /* the levels before the first START */
    for (size_t t = 0; t < count; t++) {
        out[t] = (struct mpsse_i2c_read){
            .address = scan->addresses[t % scan->n_addresses],
            .round = (unsigned)(t / scan->n_addresses),
            .acked = (reply[2 * t] & 0x01) == 0, /* the slave pulled SDA low */
            .data = reply[2 * t + 1],
        };
    }
    return (int)count;
}

static void put_recovery(struct cmd *c, const struct mpsse_i2c_clock *clk)
{
    unsigned repeats = clk->hold_repeats;
    put_lines(c, clk, LINES_SCL_LOW, repeats);
    for (int pulse = 0; pulse < 9; pulse++) {
        put_lines(c, clk, LINES_IDLE, repeats);
        put_lines(c, clk, LINES_SCL_LOW, repeats);
    }
    put_stop(c, clk, repeats);
    put(c, OP_READ_ADBUS);
    put(c, OP_SEND_IMMEDIATE);
}

size_t mpsse_i2c_recovery_len(const struct mpsse_i2c_clock *clock)
{
    struct cmd c = {0};
    put_recovery(&c, clock);
    return c.len;
}

ssize_t mpsse_i2c_build_recovery(const struct mpsse_i2c_clock *clock, uint8_t *buf, size_t max)
{
    if (mpsse_i2c_recovery_len(clock) > max)
        return -ENOSPC;
    struct cmd c = {.buf = buf};
    put_recovery(&c, clock);
    return (ssize_t)c.len;
}

int mpsse_i2c_scan_levels(const struct mpsse_i2c_scan *scan, const uint8_t *reply, size_t len,
                          uint8_t *before, uint8_t *after)
{
    if (!scan_valid(scan) || !scan->check_bus)
        return -EINVAL;
    if (len != mpsse_i2c_scan_reply_len(scan))
        return -EPROTO;
    *before = reply[0];
    *after = reply[len - 3];
    return 0;
}

bool mpsse_i2c_bus_idle(uint8_t adbus_levels)
{
    return (adbus_levels & PIN_SCL) && (adbus_levels & PIN_SDA_I);
}
