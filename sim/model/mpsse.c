/* The FT232H MPSSE engine: see mpsse.h for the contract.
 *
 * Pins. AD0 (TCK) drives SCL; AD1 (DO) and AD2 (DI, tied to AD1 on the board) drive SDA when they
 * are outputs; AD7 only senses SCL (as an output it drives nothing on the bus: on AN_255's board
 * it is unconnected, and the idle `80 FF FB` makes it an output). An output pin drives push-pull
 * unless its bit is in the drive-zero mask (0 drives low, 1 floats); an input floats. Pins with
 * nothing attached read their output value, or 1 as inputs (the chip's internal pull-ups).
 *
 * Clocking one data bit. TCK idles at the level 0x80 last gave AD0; a bit is two TCK edges, the
 * first away from the idle level and the second back. The command's write edge (b0) and read
 * edge (b2) say at which edge DO changes and DI is sampled:
 *   - DO changing on the second edge means the bit is set up before the first edge, while the
 *     clock still idles (idle low, -ve write: data while SCL low, then SCL rises and falls);
 *   - DO changing on the first edge is applied after that edge (the pin changes just after the
 *     clock, so a device sampling on that edge still sees the old bit);
 *   - DI is sampled just before its edge is applied (the level at the edge, before a slave reacts
 *     to a falling edge).
 * DO keeps the last bit after a command. 3-phase clocking only stretches time (the data is held a
 * further half period after the falling edge); the order of the events is the same.
 *
 * Time. TCK = base / ((1 + divisor) * 2), base 12 MHz with divide-by-5 (power-on) else 60 MHz. A
 * data bit (and a bit of 0x8E/0x8F) costs one TCK period, 1.5 with 3-phase clocking. A 0x80 /
 * 0x82 pin write costs a fixed PIN_WRITE_NS whatever the clock divisor: the command processor,
 * not the TCK divider, executes it. That figure is the one measured on real chips: pyftdi's
 * mpsse_bit_delay (0.5 us, measured on an FT2232H) and pyftdi issue #72 (4 consecutive pin writes
 * held SDA low for 2.2 us on a scope, "the same at any speed"); FTDI documents no figure. Clients
 * repeat pin writes to stretch bus set-up and hold times, so they must assume the same figure.
 * Time is kept in units of 1/120 MHz so every setting gives an exact integer.
 *
 * One file on purpose: pins, time and the command interpreter are one state machine (every
 * command moves pins at offsets in time on the same engine state, and the pin model decides what
 * a shift command reads back); split, each part would need the others' internals. */
#include "model/mpsse.h"

#include <stdlib.h>
#include <string.h>

#define PIN_TCK       0x01 /* AD0: SCL */
#define PIN_DO        0x02 /* AD1: SDA out */
#define PIN_DI        0x04 /* AD2: SDA in */
#define PIN_TMS       0x08 /* AD3: TMS/CS, not wired to the bus */
#define PIN_GPIOL1    0x20 /* AD5: GPIOL1, the pin 88/89, 94/95 and 9C/9D wait for */
#define PIN_SCL_SENSE 0x80 /* AD7: SCL feedback */

/* Data-shifting opcode bits (b7 = 0; b6 = 1 with b1 and b3 set: TMS shifting, 4A-4B, 6A-6F). */
#define SHIFT_WRITE_FALLING 0x01
#define SHIFT_BIT_MODE      0x02
#define SHIFT_READ_FALLING  0x04
#define SHIFT_LSB_FIRST     0x08
#define SHIFT_WRITE         0x10
#define SHIFT_READ          0x20
#define SHIFT_TMS           0x40

#define BAD_COMMAND_REPLY 0xFA

#define UNITS_PER_SECOND   120000000ull /* time unit: 1/120 MHz */
#define UNITS_DIV5_CYCLE   10           /* one 12 MHz cycle */
#define UNITS_NODIV5_CYCLE 2            /* one 60 MHz cycle */
#define PIN_WRITE_NS       500u
#define UNITS_PIN_WRITE    (PIN_WRITE_NS * UNITS_PER_SECOND / 1000000000u)

#define COMMAND_MAX (3 + 65536) /* the longest command: a 65536-byte write */

struct sim_mpsse {
    struct sim_i2c_bus *bus;
    struct sim_mpsse_sink sink;
    bool has_drive_zero;

    uint8_t ad_value, ad_dir;
    uint8_t ac_value, ac_dir;
    uint8_t drive_zero_low, drive_zero_high;
    uint16_t divisor;
    bool divide_by_5;
    bool three_phase;
    bool loopback;
    bool adaptive;

    bool stalled; /* waiting for GPIOL1 to change, which nothing here does: until reset/purge */
    uint64_t time_units; /* busy time: clocked bits and pin writes */
    uint64_t now_units;  /* bus time: busy time plus the idle time between host transfers */
    struct sim_mpsse_stats stats;

    size_t pending_len;
    uint8_t pending[COMMAND_MAX];
};

/* --- pins and the bus --- */

static enum sim_drive pin_drive(const struct sim_mpsse *m, uint8_t pin)
{
    if (!(m->ad_dir & pin))
        return SIM_DRIVE_FLOAT;
    if (!(m->ad_value & pin))
        return SIM_DRIVE_LOW;
    return (m->drive_zero_low & pin) ? SIM_DRIVE_FLOAT : SIM_DRIVE_HIGH;
}

/* Two pins on one line: low wins, then push-pull high, else floating. */
static enum sim_drive combine(enum sim_drive a, enum sim_drive b)
{
    if (a == SIM_DRIVE_LOW || b == SIM_DRIVE_LOW)
        return SIM_DRIVE_LOW;
    if (a == SIM_DRIVE_HIGH || b == SIM_DRIVE_HIGH)
        return SIM_DRIVE_HIGH;
    return SIM_DRIVE_FLOAT;
}

static enum sim_drive scl_drive(const struct sim_mpsse *m)
{
    return pin_drive(m, PIN_TCK);
}

static enum sim_drive sda_drive(const struct sim_mpsse *m)
{
    return combine(pin_drive(m, PIN_DO), pin_drive(m, PIN_DI));
}

static bool scl_line(const struct sim_mpsse *m)
{
    return m->bus ? sim_i2c_bus_scl_level(m->bus) : scl_drive(m) != SIM_DRIVE_LOW;
}

static bool sda_line(const struct sim_mpsse *m)
{
    return m->bus ? sim_i2c_bus_sda_level(m->bus) : sda_drive(m) != SIM_DRIVE_LOW;
}

/* A unit is 25/3 ns. The bus time is CLOCK_MONOTONIC, up to days: units * 10^9 would overflow
 * past 2^64 / 10^9 units (153.7 s) and wrap the stamps every 153.7 s. */
#define NS_PER_3_UNITS (3 * 1000000000ull / UNITS_PER_SECOND)
_Static_assert(3 * 1000000000ull % UNITS_PER_SECOND == 0, "3 units are whole ns");

static uint64_t units_to_ns(uint64_t units)
{
    return units / 3 * NS_PER_3_UNITS + units % 3 * NS_PER_3_UNITS / 3;
}

/* The pins as they are now, at bus time now_units + offset. */
static void apply_pins_at(struct sim_mpsse *m, uint64_t offset)
{
    if (!m->bus)
        return;
    sim_i2c_bus_set_time(m->bus, units_to_ns(m->now_units + offset));
    sim_i2c_bus_set_master(m->bus, scl_drive(m), sda_drive(m));
}

static void apply_pins(struct sim_mpsse *m)
{
    apply_pins_at(m, 0);
}

static void set_pin_at(struct sim_mpsse *m, uint64_t offset, uint8_t pin, bool level)
{
    uint8_t value = level ? (uint8_t)(m->ad_value | pin) : (uint8_t)(m->ad_value & ~pin);
    if (value == m->ad_value)
        return;
    m->ad_value = value;
    apply_pins_at(m, offset);
}

static bool sample_di(const struct sim_mpsse *m)
{
    return m->loopback ? (m->ad_value & PIN_DO) != 0 : sda_line(m);
}

uint8_t sim_mpsse_read_pins(const struct sim_mpsse *m)
{
    uint8_t levels = 0;
    for (unsigned bit = 0; bit < 8; bit++) {
        uint8_t pin = (uint8_t)(1u << bit);
        bool level;
        if (pin == PIN_TCK)
            level = scl_line(m);
        else if (pin == PIN_DO || pin == PIN_DI)
            level = sda_line(m);
        else if (pin == PIN_SCL_SENSE && !(m->ad_dir & pin))
            level = scl_line(m);
        else
            level = !(m->ad_dir & pin) || (m->ad_value & pin);
        if (level)
            levels |= pin;
    }
    return levels;
}

/* ACBUS: nothing attached. */
static uint8_t read_acbus(const struct sim_mpsse *m)
{
    return (uint8_t)(~m->ac_dir | m->ac_value);
}

/* --- clock and time --- */

static uint64_t tck_period_units(const struct sim_mpsse *m)
{
    uint64_t cycle = m->divide_by_5 ? UNITS_DIV5_CYCLE : UNITS_NODIV5_CYCLE;
    return (1 + (uint64_t)m->divisor) * 2 * cycle;
}

static uint64_t bit_period_units(const struct sim_mpsse *m)
{
    uint64_t tck = tck_period_units(m);
    return m->three_phase ? tck * 3 / 2 : tck;
}

static void spend_time(struct sim_mpsse *m, uint64_t units)
{
    m->time_units += units;
    m->now_units += units;
    m->stats.bus_time_ns = units_to_ns(m->time_units);
}

void sim_mpsse_advance_to(struct sim_mpsse *m, uint64_t now_ns)
{
    uint64_t units = now_ns / 1000u * (UNITS_PER_SECOND / 1000000u) +
                     now_ns % 1000u * (UNITS_PER_SECOND / 1000000u) / 1000u;
    if (units > m->now_units)
        m->now_units = units;
}

uint64_t sim_mpsse_now_ns(const struct sim_mpsse *m)
{
    return units_to_ns(m->now_units);
}

uint32_t sim_mpsse_scl_hz(const struct sim_mpsse *m)
{
    uint64_t units = bit_period_units(m);
    return (uint32_t)((UNITS_PER_SECOND + units / 2) / units);
}

/* One bit clocked on TCK; op carries the write/read flags and edges (0 = clock only).
 * Returns the DI sample (false when the command does not read). The bit starts at bus time
 * now_units; its first edge comes after a third of the bit with 3-phase clocking (data set-up,
 * clock, data hold: a third each), else after half of it; the second edge ends the clock pulse
 * (3-phase) or the bit. */
static bool clock_one_bit(struct sim_mpsse *m, uint8_t op, bool out_bit)
{
    bool idle_high = m->ad_value & PIN_TCK;
    bool writes = op & SHIFT_WRITE;
    bool reads = op & SHIFT_READ;
    /* The first edge goes away from the idle level: falling when TCK idles high. */
    bool write_on_first = ((op & SHIFT_WRITE_FALLING) != 0) == idle_high;
    bool read_on_first = ((op & SHIFT_READ_FALLING) != 0) == idle_high;
    bool in_bit = false;
    uint64_t period = bit_period_units(m);
    uint64_t first = m->three_phase ? period / 3 : period / 2;
    uint64_t second = m->three_phase ? 2 * period / 3 : period;

    if (writes && !write_on_first)
        set_pin_at(m, 0, PIN_DO, out_bit);
    if (reads && read_on_first)
        in_bit = sample_di(m);
    set_pin_at(m, first, PIN_TCK, !idle_high);
    if (writes && write_on_first)
        set_pin_at(m, first, PIN_DO, out_bit);
    if (reads && !read_on_first)
        in_bit = sample_di(m);
    set_pin_at(m, second, PIN_TCK, idle_high);

    m->stats.scl_periods++;
    spend_time(m, period);
    return in_bit;
}

/* Shift up to 8 bits out of out and in; MSB first unless the opcode says LSB first. Read bits
 * land at bit 0 (MSB first) or bit 7 (LSB first), as the chip shifts them in. */
static uint8_t shift_bits(struct sim_mpsse *m, uint8_t op, uint8_t out, unsigned count)
{
    bool lsb_first = op & SHIFT_LSB_FIRST;
    uint8_t in = 0;
    for (unsigned i = 0; i < count; i++) {
        bool out_bit = lsb_first ? (out >> i) & 1 : (out >> (7 - i)) & 1;
        bool in_bit = clock_one_bit(m, op, out_bit);
        if (lsb_first)
            in = (uint8_t)(in >> 1 | (in_bit ? 0x80 : 0));
        else
            in = (uint8_t)(in << 1 | (in_bit ? 1 : 0));
    }
    return in;
}

static void clock_only(struct sim_mpsse *m, uint64_t bits)
{
    for (uint64_t i = 0; i < bits; i++)
        clock_one_bit(m, 0, false);
}

/* --- commands --- */

static void reply(struct sim_mpsse *m, const uint8_t *bytes, size_t len)
{
    if (m->sink.data)
        m->sink.data(m->sink.ctx, bytes, len);
}

static void reply_byte(struct sim_mpsse *m, uint8_t byte)
{
    reply(m, &byte, 1);
}

static bool is_shift_command(uint8_t op)
{
    return op < 0x40 && (op & (SHIFT_WRITE | SHIFT_READ));
}

/* 4A/4B (TMS out), 6A/6B (and read on +ve edge), 6E/6F (read on -ve edge): always bit mode, LSB
 * first, 1-7 bits of the data byte's bits 0-6 on TMS, bit 7 on DO for the whole shift. */
static bool is_tms_command(uint8_t op)
{
    return op == 0x4A || op == 0x4B || op == 0x6A || op == 0x6B || op == 0x6E || op == 0x6F;
}

static size_t byte_count(const uint8_t *cmd)
{
    return (size_t)(cmd[1] | cmd[2] << 8) + 1;
}

/* Total length of the command starting at cmd, given the have bytes already there: the length
 * of its header while the header is incomplete. Lengths as AN_108 gives them; an unknown opcode
 * is one byte (answered FA <op>). */
static size_t command_length(const struct sim_mpsse *m, const uint8_t *cmd, size_t have)
{
    uint8_t op = cmd[0];
    if (is_shift_command(op)) {
        bool writes = op & SHIFT_WRITE;
        if (op & SHIFT_BIT_MODE)
            return writes ? 3 : 2;
        if (have < 3)
            return 3;
        return writes ? 3 + byte_count(cmd) : 3;
    }
    if (is_tms_command(op))
        return 3;
    switch (op) {
    case 0x80:
    case 0x82:
    case 0x86:
    case 0x8F:
    case 0x91: /* MCU host: read extended address (AH AL) */
    case 0x92: /* MCU host: write short address (A D) */
    case 0x9C:
    case 0x9D:
        return 3;
    case 0x8E:
    case 0x90: /* MCU host: read short address (A) */
        return 2;
    case 0x93: /* MCU host: write extended address (AH AL D) */
        return 4;
    case 0x9E:
        return m->has_drive_zero ? 3 : 1;
    default:
        return 1;
    }
}

static void run_shift_command(struct sim_mpsse *m, const uint8_t *cmd)
{
    uint8_t op = cmd[0];
    bool writes = op & SHIFT_WRITE;
    bool reads = op & SHIFT_READ;

    if (op & SHIFT_BIT_MODE) {
        uint8_t in = shift_bits(m, op, writes ? cmd[2] : 0, (cmd[1] & 7u) + 1);
        if (reads)
            reply_byte(m, in);
        return;
    }
    size_t count = byte_count(cmd);
    const uint8_t *out = cmd + 3;
    uint8_t in[64];
    size_t in_len = 0;
    for (size_t i = 0; i < count; i++) {
        in[in_len++] = shift_bits(m, op, writes ? out[i] : 0, 8);
        if (in_len == sizeof(in) || i + 1 == count) {
            if (reads)
                reply(m, in, in_len);
            in_len = 0;
        }
    }
}

/* TMS shifting: DO holds bit 7 of the data byte from the start; bits 0.. go out on AD3 (TMS)
 * LSB first on the write edge; DI is sampled as for a bit-mode read. */
static void run_tms_command(struct sim_mpsse *m, const uint8_t *cmd)
{
    uint8_t op = cmd[0];
    unsigned count = (cmd[1] & 7u) + 1;
    if (count > 7)
        count = 7; /* bit 7 is DO's, not a TMS bit */
    set_pin_at(m, 0, PIN_DO, cmd[2] & 0x80);
    uint8_t in = 0;
    for (unsigned i = 0; i < count; i++) {
        bool tms = (cmd[2] >> i) & 1;
        m->ad_value = tms ? (uint8_t)(m->ad_value | PIN_TMS) : (uint8_t)(m->ad_value & ~PIN_TMS);
        /* the data-shifting machinery with DO left alone: read flags and edges only */
        bool bit = clock_one_bit(m, (uint8_t)(op & (SHIFT_READ | SHIFT_READ_FALLING)), false);
        in = (uint8_t)(in >> 1 | (bit ? 0x80 : 0));
    }
    if (op & SHIFT_READ)
        reply_byte(m, in);
}

static bool gpiol1_high(const struct sim_mpsse *m)
{
    return (sim_mpsse_read_pins(m) & PIN_GPIOL1) != 0;
}

/* 88/89 wait for GPIOL1 high/low, 94/95 clock until it is: when the level is not there already
 * nothing in the simulator will change it (AD5 is not wired), so the engine stalls as the chip
 * would: every later command is swallowed until a reset (SET_BITMODE) or a purge. */
static void wait_for_gpiol1(struct sim_mpsse *m, bool high)
{
    if (gpiol1_high(m) != high)
        m->stalled = true;
}

/* 9C/9D: clock up to n * 8 bits, stopping as soon as GPIOL1 is high (9C) / low (9D). */
static void clock_bytes_until(struct sim_mpsse *m, const uint8_t *cmd, bool high)
{
    uint64_t bits = (uint64_t)byte_count(cmd) * 8;
    for (uint64_t i = 0; i < bits && gpiol1_high(m) != high; i++)
        clock_one_bit(m, 0, false);
}

/* 90-93, the MCU host bus emulation commands, with their lengths: the reads answer one byte (the
 * ADBUS levels: in that mode ADBUS is the data bus); the writes drive nothing here, as no MCU
 * bus is attached. */
static void mcu_host_command(struct sim_mpsse *m, uint8_t op)
{
    if (op == 0x90 || op == 0x91)
        reply_byte(m, sim_mpsse_read_pins(m));
}

static void bad_command(struct sim_mpsse *m, uint8_t op)
{
    uint8_t answer[2] = {BAD_COMMAND_REPLY, op};
    m->stats.bad_commands++;
    reply(m, answer, sizeof(answer));
}

static void execute(struct sim_mpsse *m, const uint8_t *cmd)
{
    uint8_t op = cmd[0];
    m->stats.commands++;
    if (is_shift_command(op)) {
        run_shift_command(m, cmd);
        return;
    }
    if (is_tms_command(op)) {
        run_tms_command(m, cmd);
        return;
    }
    switch (op) {
    case 0x80:
        m->ad_value = cmd[1];
        m->ad_dir = cmd[2];
        apply_pins(m);
        spend_time(m, UNITS_PIN_WRITE);
        break;
    case 0x82:
        m->ac_value = cmd[1];
        m->ac_dir = cmd[2];
        spend_time(m, UNITS_PIN_WRITE);
        break;
    case 0x81:
        reply_byte(m, sim_mpsse_read_pins(m));
        break;
    case 0x83:
        reply_byte(m, read_acbus(m));
        break;
    case 0x84:
    case 0x85:
        m->loopback = op == 0x84;
        break;
    case 0x86:
        m->divisor = (uint16_t)(cmd[1] | cmd[2] << 8);
        break;
    case 0x87:
        if (m->sink.flush)
            m->sink.flush(m->sink.ctx);
        break;
    case 0x8A:
    case 0x8B:
        m->divide_by_5 = op == 0x8B;
        break;
    case 0x8C:
    case 0x8D:
        m->three_phase = op == 0x8C;
        break;
    case 0x8E:
        clock_only(m, (cmd[1] & 7u) + 1);
        break;
    case 0x8F:
        clock_only(m, (uint64_t)byte_count(cmd) * 8);
        break;
    case 0x88:
    case 0x89:
        wait_for_gpiol1(m, op == 0x88);
        break;
    case 0x90:
    case 0x91:
    case 0x92:
    case 0x93:
        mcu_host_command(m, op);
        break;
    case 0x94:
    case 0x95:
        wait_for_gpiol1(m, op == 0x94);
        break;
    case 0x9C:
    case 0x9D:
        clock_bytes_until(m, cmd, op == 0x9C);
        break;
    case 0x96:
    case 0x97:
        /* Recorded only: the engine never waits for AD7, as nothing in the simulator can
         * release a stretched clock while a command runs. */
        m->adaptive = op == 0x96;
        break;
    case 0x9E:
        if (!m->has_drive_zero) {
            bad_command(m, op);
            break;
        }
        m->drive_zero_low = cmd[1];
        m->drive_zero_high = cmd[2];
        apply_pins(m);
        break;
    default:
        bad_command(m, op);
        break;
    }
}

void sim_mpsse_write(struct sim_mpsse *m, const uint8_t *bytes, size_t len)
{
    if (m->stalled) {
        m->stats.stalled_bytes += len;
        return;
    }
    while (len > 0 && !m->stalled) {
        if (m->pending_len == 0) {
            m->pending[0] = *bytes++;
            len--;
            m->pending_len = 1;
        }
        size_t need = command_length(m, m->pending, m->pending_len);
        size_t take = need - m->pending_len;
        if (take > len)
            take = len;
        memcpy(m->pending + m->pending_len, bytes, take);
        m->pending_len += take;
        bytes += take;
        len -= take;
        /* A completed header may reveal a payload still to come. */
        if (m->pending_len == command_length(m, m->pending, m->pending_len)) {
            m->pending_len = 0;
            execute(m, m->pending);
        }
    }
    m->stats.stalled_bytes += len; /* what came after a stalling command */
}

/* --- lifetime --- */

void sim_mpsse_reset(struct sim_mpsse *m)
{
    m->ad_value = 0;
    m->ad_dir = 0;
    m->ac_value = 0;
    m->ac_dir = 0;
    m->drive_zero_low = 0;
    m->drive_zero_high = 0;
    m->divisor = 0;
    m->divide_by_5 = true;
    m->three_phase = false;
    m->loopback = false;
    m->adaptive = false;
    m->pending_len = 0;
    m->stalled = false;
    apply_pins(m);
}

void sim_mpsse_purge(struct sim_mpsse *m)
{
    m->pending_len = 0;
    m->stalled = false;
}

bool sim_mpsse_stalled(const struct sim_mpsse *m)
{
    return m->stalled;
}

struct sim_mpsse *sim_mpsse_new(struct sim_i2c_bus *bus, const struct sim_mpsse_sink *sink,
                                bool drive_zero)
{
    struct sim_mpsse *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->bus = bus;
    if (sink)
        m->sink = *sink;
    m->has_drive_zero = drive_zero;
    sim_mpsse_reset(m);
    return m;
}

void sim_mpsse_free(struct sim_mpsse *m)
{
    free(m);
}

const struct sim_mpsse_stats *sim_mpsse_stats(const struct sim_mpsse *m)
{
    return &m->stats;
}
