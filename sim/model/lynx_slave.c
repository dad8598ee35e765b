/* A software Lynx Distributor: a bit-level I2C slave. See lynx_slave.h for the contract.
 *
 * Every byte on the bus is a 9-clock frame: 8 data bits and an acknowledge bit. The slave counts
 * SCL rising edges within the frame (clock 0..8); it samples SDA on rising edges and changes its
 * own SDA drive only on falling edges:
 *   - after the 8th rise of the address byte it decides whether to acknowledge;
 *   - on the falling edge that ends the acknowledge clock it either starts the first data bit
 *     (read) or releases SDA (write);
 *   - while sending, each falling edge puts the next bit on SDA and the falling edge after bit 0
 *     releases SDA so the master can ACK or NACK; a master NACK ends the slave's part until the
 *     next START.
 * The decisions that faults change live in acknowledge_address(), acknowledge_write() and
 * begin_read_byte() / read_bit_pulls_low(); a stuck SDA is a phase of its own (LYNX_STUCK) that
 * only counts SCL pulses. */
#include "model/lynx_slave.h"

#include <errno.h>
#include <stdlib.h>

#define STUCK_RELEASE_PULSES 9

enum lynx_phase {
    LYNX_IDLE,    /* not addressed: waits for a START */
    LYNX_ADDRESS, /* shifting in the address byte */
    LYNX_WRITE,   /* addressed for writing: shifting in data bytes */
    LYNX_READ,    /* addressed for reading: shifting out the status byte */
    LYNX_STUCK,   /* holding SDA low until the master clocks it free */
};

struct lynx_faults {
    bool nack_address;
    bool nack_data;
    uint8_t corrupt_byte;
    unsigned corrupt_count;
    double truncate_rate;
    uint64_t rng; /* splitmix64 state */
    unsigned stuck_pulses;
    bool hold_sda, hold_scl; /* a line held low for good (hold-sda / hold-scl), powered or not */

    int16_t script[SIM_LYNX_SCRIPT_MAX]; /* ring buffer */
    size_t script_head, script_len;
    bool script_byte_pending; /* the address of a scripted read was ACKed: send script_byte */
    uint8_t script_byte;
};

struct sim_lynx {
    char letter;
    bool powered;
    bool supplied;
    uint8_t fuses_open; /* bit n = fuse n+1 open */
    struct sim_i2c_bus *bus;

    enum lynx_phase phase;
    unsigned clock;          /* rising edges seen in the current 9-clock frame */
    uint8_t shift;           /* bits received in the current frame */
    bool reading;            /* the address byte had R/W = 1 */
    bool master_ack;         /* the master's answer to the byte just sent */
    uint8_t tx_byte;         /* byte being sent, latched at the start of the byte */
    unsigned tx_driven_bits; /* leading bits of tx_byte driven; SDA released after them */
    bool sda_low;            /* our drive of SDA right now */

    struct lynx_faults faults;

    struct sim_lynx_stats stats;
};

static bool lynx_answers(const struct sim_lynx *lynx)
{
    return lynx->powered && lynx->bus;
}

static void release_bus(struct sim_lynx *lynx)
{
    lynx->phase = LYNX_IDLE;
    lynx->sda_low = false;
}

/* --- decisions (the place where bit-level faults hook in) --- */

static uint64_t next_random(struct lynx_faults *f)
{
    uint64_t z = (f->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double random_fraction(struct lynx_faults *f)
{
    return (double)(next_random(f) >> 11) * 0x1.0p-53;
}

static int16_t script_pop(struct lynx_faults *f)
{
    int16_t answer = f->script[f->script_head];
    f->script_head = (f->script_head + 1) % SIM_LYNX_SCRIPT_MAX;
    f->script_len--;
    return answer;
}

static bool acknowledge_address(struct sim_lynx *lynx, uint8_t address_byte)
{
    struct lynx_faults *f = &lynx->faults;

    if ((address_byte >> 1) != sim_lynx_address(lynx))
        return false;
    if ((address_byte & 1) && f->script_len > 0) {
        int16_t answer = script_pop(f);
        if (answer == SIM_LYNX_SCRIPT_NACK)
            return false;
        f->script_byte = (uint8_t)answer;
        f->script_byte_pending = true;
        return true;
    }
    return !f->nack_address;
}

static bool acknowledge_write(const struct sim_lynx *lynx, uint8_t data)
{
    (void)lynx;
    (void)data;
    return true; /* writes are acknowledged and ignored */
}

/* Sends byte; 0xFF >> k is sent as k driven zeros and then SDA let go. */
static void send_exact(struct sim_lynx *lynx, uint8_t byte)
{
    unsigned leading_zeros = 0;
    while (leading_zeros < 8 && !(byte & (0x80u >> leading_zeros)))
        leading_zeros++;
    lynx->tx_byte = byte;
    lynx->tx_driven_bits = (byte == (0xFFu >> leading_zeros)) ? leading_zeros : 8;
}

static void begin_read_byte(struct sim_lynx *lynx)
{
    struct lynx_faults *f = &lynx->faults;

    lynx->tx_byte = sim_lynx_status_byte(lynx);
    lynx->tx_driven_bits = 8;
    if (f->script_byte_pending) {
        f->script_byte_pending = false;
        send_exact(lynx, f->script_byte);
    } else if (f->corrupt_count > 0) {
        f->corrupt_count--;
        send_exact(lynx, f->corrupt_byte);
    } else if (f->nack_data) {
        lynx->tx_byte = 0xFF;
        lynx->tx_driven_bits = 0;
    } else if (f->truncate_rate > 0 && random_fraction(f) < f->truncate_rate) {
        lynx->tx_driven_bits = 1 + (unsigned)(next_random(f) % 7);
    } else {
        return;
    }
    lynx->stats.faulted_reads++;
}

/* bit: 7 (first, MSB) .. 0 */
static bool read_bit_pulls_low(const struct sim_lynx *lynx, unsigned bit)
{
    if (7 - bit >= lynx->tx_driven_bits)
        return false; /* let go: the pull-up makes it a 1 */
    return !(lynx->tx_byte & (1u << bit));
}

/* --- bus events --- */

static void on_start(void *ctx)
{
    struct sim_lynx *lynx = ctx;
    if (!lynx_answers(lynx) || lynx->phase == LYNX_STUCK)
        return;
    lynx->faults.script_byte_pending = false;
    lynx->phase = LYNX_ADDRESS;
    lynx->clock = 0;
    lynx->shift = 0;
    lynx->sda_low = false;
}

static void on_stop(void *ctx)
{
    struct sim_lynx *lynx = ctx;
    if (lynx->phase == LYNX_STUCK)
        return; /* cannot happen while SDA is held low; kept for clarity */
    lynx->faults.script_byte_pending = false;
    release_bus(lynx);
}

static void on_scl_rise(void *ctx, bool sda)
{
    struct sim_lynx *lynx = ctx;
    if (lynx->phase == LYNX_STUCK) {
        lynx->faults.stuck_pulses++;
        return;
    }
    if (lynx->phase == LYNX_IDLE || lynx->clock > 8)
        return;
    if (lynx->clock < 8) {
        lynx->shift = (uint8_t)(lynx->shift << 1 | (sda ? 1 : 0));
    } else if (lynx->phase == LYNX_READ) {
        lynx->master_ack = !sda;
    }
    lynx->clock++;
}

static void start_read_frame(struct sim_lynx *lynx)
{
    lynx->phase = LYNX_READ;
    lynx->clock = 0;
    begin_read_byte(lynx);
    lynx->sda_low = read_bit_pulls_low(lynx, 7);
}

static void start_write_frame(struct sim_lynx *lynx)
{
    lynx->phase = LYNX_WRITE;
    lynx->clock = 0;
    lynx->shift = 0;
    lynx->sda_low = false;
}

/* Falling edge after the 8th bit of a received byte: acknowledge or drop out. */
static void byte_received(struct sim_lynx *lynx)
{
    if (lynx->phase == LYNX_ADDRESS) {
        if (!acknowledge_address(lynx, lynx->shift)) {
            release_bus(lynx);
            return;
        }
        lynx->reading = lynx->shift & 1;
    } else {
        lynx->stats.writes++;
        if (!acknowledge_write(lynx, lynx->shift)) {
            release_bus(lynx);
            return;
        }
    }
    lynx->sda_low = true;
}

static void on_scl_fall(void *ctx)
{
    struct sim_lynx *lynx = ctx;
    switch (lynx->phase) {
    case LYNX_IDLE:
        return;
    case LYNX_STUCK:
        /* changes SDA only while SCL is low: after the falling edge that ends the 9th pulse */
        if (lynx->faults.stuck_pulses >= STUCK_RELEASE_PULSES)
            release_bus(lynx);
        return;
    case LYNX_ADDRESS:
    case LYNX_WRITE:
        if (lynx->clock == 8) {
            byte_received(lynx);
        } else if (lynx->clock == 9) {
            if (lynx->phase == LYNX_ADDRESS && lynx->reading)
                start_read_frame(lynx);
            else
                start_write_frame(lynx);
        }
        return;
    case LYNX_READ:
        if (lynx->clock >= 1 && lynx->clock <= 7) {
            lynx->sda_low = read_bit_pulls_low(lynx, 7 - lynx->clock);
        } else if (lynx->clock == 8) {
            lynx->stats.reads++;
            lynx->sda_low = false; /* the master's acknowledge bit */
        } else if (lynx->clock == 9) {
            if (lynx->master_ack)
                start_read_frame(lynx);
            else
                release_bus(lynx);
        }
        return;
    }
}

static bool on_sda_low(const void *ctx)
{
    const struct sim_lynx *lynx = ctx;
    return lynx->faults.hold_sda || (lynx_answers(lynx) && lynx->sda_low);
}

static bool on_scl_low(const void *ctx)
{
    const struct sim_lynx *lynx = ctx;
    return lynx->faults.hold_scl;
}

static const struct sim_i2c_device_ops lynx_bus_ops = {
    .start = on_start,
    .stop = on_stop,
    .scl_rise = on_scl_rise,
    .scl_fall = on_scl_fall,
    .sda_low = on_sda_low,
    .scl_low = on_scl_low,
};

/* --- public API --- */

struct sim_lynx *sim_lynx_new(char letter)
{
    if (letter < 'A' || letter > 'D')
        return NULL;
    struct sim_lynx *lynx = calloc(1, sizeof(*lynx));
    if (!lynx)
        return NULL;
    lynx->letter = letter;
    lynx->faults.rng = (uint64_t)letter;
    lynx->powered = true;
    lynx->supplied = true;
    lynx->phase = LYNX_IDLE;
    return lynx;
}

void sim_lynx_free(struct sim_lynx *lynx)
{
    if (!lynx)
        return;
    sim_lynx_detach(lynx);
    free(lynx);
}

int sim_lynx_attach(struct sim_lynx *lynx, struct sim_i2c_bus *bus)
{
    if (!lynx || !bus)
        return -EINVAL;
    if (lynx->bus)
        return -EBUSY;
    release_bus(lynx);
    int ret = sim_i2c_bus_attach(bus, &lynx_bus_ops, lynx);
    if (ret < 0)
        return ret;
    lynx->bus = bus;
    return 0;
}

void sim_lynx_detach(struct sim_lynx *lynx)
{
    if (!lynx->bus)
        return;
    struct sim_i2c_bus *bus = lynx->bus;
    lynx->bus = NULL;
    release_bus(lynx);
    sim_i2c_bus_detach(bus, lynx);
}

char sim_lynx_letter(const struct sim_lynx *lynx)
{
    return lynx->letter;
}

uint8_t sim_lynx_address(const struct sim_lynx *lynx)
{
    return (uint8_t)(SIM_LYNX_BASE_ADDR + (lynx->letter - 'A'));
}

void sim_lynx_set_fuse_open(struct sim_lynx *lynx, int fuse, bool open)
{
    if (fuse < 1 || fuse > 4)
        return;
    uint8_t bit = (uint8_t)(1u << (fuse - 1));
    if (open)
        lynx->fuses_open |= bit;
    else
        lynx->fuses_open &= (uint8_t)~bit;
}

void sim_lynx_set_supply(struct sim_lynx *lynx, bool busbar_supplied)
{
    lynx->supplied = busbar_supplied;
}

void sim_lynx_set_powered(struct sim_lynx *lynx, bool powered)
{
    if (lynx->powered == powered)
        return;
    lynx->powered = powered;
    /* Losing power drops whatever the slave was driving; regaining it, the MCU waits for the
     * next START like after any reset. */
    release_bus(lynx);
    if (lynx->bus)
        sim_i2c_bus_update(lynx->bus);
}

bool sim_lynx_attached(const struct sim_lynx *lynx)
{
    return lynx->bus != NULL;
}

uint8_t sim_lynx_status_byte(const struct sim_lynx *lynx)
{
    uint8_t status = (uint8_t)(lynx->fuses_open << 4);
    if (!lynx->supplied)
        status |= SIM_LYNX_NO_SUPPLY;
    return status;
}

const struct sim_lynx_stats *sim_lynx_stats(const struct sim_lynx *lynx)
{
    return &lynx->stats;
}

void sim_lynx_set_nack_address(struct sim_lynx *lynx, bool on)
{
    lynx->faults.nack_address = on;
}

void sim_lynx_set_nack_data(struct sim_lynx *lynx, bool on)
{
    lynx->faults.nack_data = on;
}

void sim_lynx_corrupt(struct sim_lynx *lynx, uint8_t byte, unsigned count)
{
    lynx->faults.corrupt_byte = byte;
    lynx->faults.corrupt_count = count;
}

void sim_lynx_set_corrupt_rate(struct sim_lynx *lynx, double rate, uint64_t seed)
{
    lynx->faults.truncate_rate = rate > 0 ? rate : 0;
    /* one stream per distributor: `all` with one seed must not make them fail in lockstep */
    lynx->faults.rng = seed ^ ((uint64_t)lynx->letter << 56);
}

void sim_lynx_stick_sda(struct sim_lynx *lynx)
{
    if (!lynx_answers(lynx))
        return;
    lynx->phase = LYNX_STUCK;
    lynx->faults.stuck_pulses = 0;
    lynx->faults.script_byte_pending = false;
    lynx->sda_low = true;
    sim_i2c_bus_update(lynx->bus);
}

void sim_lynx_hold_line(struct sim_lynx *lynx, bool sda, bool on)
{
    if (sda)
        lynx->faults.hold_sda = on;
    else
        lynx->faults.hold_scl = on;
    if (lynx->bus)
        sim_i2c_bus_update(lynx->bus);
}

bool sim_lynx_sda_stuck(const struct sim_lynx *lynx)
{
    return lynx->phase == LYNX_STUCK;
}

int sim_lynx_script(struct sim_lynx *lynx, const int16_t *answers, size_t n)
{
    struct lynx_faults *f = &lynx->faults;

    for (size_t i = 0; i < n; i++)
        if (answers[i] != SIM_LYNX_SCRIPT_NACK && (answers[i] < 0 || answers[i] > 0xFF))
            return -EINVAL;
    if (n > SIM_LYNX_SCRIPT_MAX - f->script_len)
        return -ENOSPC;
    for (size_t i = 0; i < n; i++)
        f->script[(f->script_head + f->script_len++) % SIM_LYNX_SCRIPT_MAX] = answers[i];
    return 0;
}

size_t sim_lynx_script_pending(const struct sim_lynx *lynx)
{
    return lynx->faults.script_len;
}
