#include "mpsse_i2c.h"

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

/* ADBUS values (direction is always PIN_OUTPUT; a 1 floats, see drive-zero). */
#define LINES_IDLE     (PIN_SCL | PIN_SDA_O)
#define LINES_SDA_LOW  PIN_SCL /* SCL high, SDA low: START, or the STOP set-up */
#define LINES_BOTH_LOW 0x00u
#define LINES_SCL_LOW  PIN_SDA_O /* SCL low, SDA released */

#define CLOCK_BASE_HZ 20000000u /* 60 MHz / 2 (half periods) * 2/3 (3-phase) */

/* A SET_BITS command takes roughly 0.5 us to execute (measured on the FT2232H family), so pin
 * writes are repeated to stretch the START/STOP set-up and hold times. */
#define SET_BITS_NS 500u

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

static void put_lines(struct cmd *c, unsigned lines, unsigned repeats)
{
    for (unsigned i = 0; i < repeats; i++) {
        put(c, OP_SET_ADBUS);
        put(c, (uint8_t)lines);
        put(c, PIN_OUTPUT);
    }
}

static void put_start(struct cmd *c, unsigned repeats)
{
    put_lines(c, LINES_IDLE, repeats); /* bus free time / repeated-START set-up */
    put_lines(c, LINES_SDA_LOW, repeats);
    put_lines(c, LINES_BOTH_LOW, repeats);
}

static void put_stop(struct cmd *c, unsigned repeats, unsigned idle_repeats)
{
    put_lines(c, LINES_BOTH_LOW, repeats);
    put_lines(c, LINES_SDA_LOW, repeats);
    put_lines(c, LINES_IDLE, idle_repeats);
}

int mpsse_i2c_clock_for(uint32_t requested_hz, struct mpsse_i2c_clock *out)
{
    if (requested_hz < MPSSE_I2C_MIN_HZ || requested_hz > MPSSE_I2C_MAX_HZ)
        return -EINVAL;
    uint32_t periods = (CLOCK_BASE_HZ + requested_hz - 1) / requested_hz; /* round down SCL */
    out->divisor = (uint16_t)(periods - 1);
    out->scl_hz = CLOCK_BASE_HZ / periods;

    /* Longest of tSU;STA, tHD;STA, tSU;STO, tBUF in the I2C speed class of the rate. */
    unsigned hold_ns = requested_hz <= 100000 ? 4700 : requested_hz <= 400000 ? 1300 : 500;
    out->hold_repeats = (hold_ns + SET_BITS_NS - 1) / SET_BITS_NS;
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
    put(&c, OP_DRIVE_ZERO);
    put(&c, PIN_SCL | PIN_SDA_O | PIN_SDA_I);
    put(&c, 0x00);
    put(&c, OP_LOOPBACK_OFF);
    put(&c, OP_CLOCK_DIVISOR);
    put(&c, (uint8_t)(clock->divisor & 0xFF));
    put(&c, (uint8_t)(clock->divisor >> 8));
    put_lines(&c, LINES_IDLE, 1);
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
    if (scan->clock.hold_repeats == 0)
        return false;
    for (size_t i = 0; i < scan->n_addresses; i++)
        if (scan->addresses[i] > 0x7F)
            return false;
    return true;
}

static void put_read_transaction(struct cmd *c, uint8_t address, unsigned repeats)
{
    put_start(c, repeats);
    put(c, OP_BYTES_OUT_NVE_MSB);
    put(c, 0x00); /* length - 1, little endian */
    put(c, 0x00);
    put(c, (uint8_t)(address << 1 | 1));
    put_lines(c, LINES_SCL_LOW, 1); /* release SDA for the slave's ACK */
    put(c, OP_BITS_IN_PVE_MSB);
    put(c, 0x00); /* 1 bit */
    put(c, OP_BYTES_IN_PVE_MSB);
    put(c, 0x00);
    put(c, 0x00);
    put(c, OP_BITS_OUT_NVE_MSB); /* NACK: the last byte read */
    put(c, 0x00);
    put(c, 0xFF);
    put_stop(c, repeats, 1);
}

static void put_scan(struct cmd *c, const struct mpsse_i2c_scan *scan)
{
    for (unsigned round = 0; round < scan->rounds; round++)
        for (size_t i = 0; i < scan->n_addresses; i++)
            put_read_transaction(c, scan->addresses[i], scan->clock.hold_repeats);
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
    return 2 * scan->n_addresses * scan->rounds; /* ACK bit byte + data byte */
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

static void put_recovery(struct cmd *c, unsigned repeats)
{
    put_lines(c, LINES_SCL_LOW, repeats);
    for (int pulse = 0; pulse < 9; pulse++) {
        put_lines(c, LINES_IDLE, repeats);
        put_lines(c, LINES_SCL_LOW, repeats);
    }
    put_stop(c, repeats, repeats);
    put(c, OP_READ_ADBUS);
    put(c, OP_SEND_IMMEDIATE);
}

size_t mpsse_i2c_recovery_len(const struct mpsse_i2c_clock *clock)
{
    struct cmd c = {0};
    put_recovery(&c, clock->hold_repeats);
    return c.len;
}

ssize_t mpsse_i2c_build_recovery(const struct mpsse_i2c_clock *clock, uint8_t *buf, size_t max)
{
    if (mpsse_i2c_recovery_len(clock) > max)
        return -ENOSPC;
    struct cmd c = {.buf = buf};
    put_recovery(&c, clock->hold_repeats);
    return (ssize_t)c.len;
}

bool mpsse_i2c_bus_idle(uint8_t adbus_levels)
{
    return (adbus_levels & PIN_SCL) && (adbus_levels & PIN_SDA_I);
}
