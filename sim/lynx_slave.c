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
 * The decisions that faults will change later live in three functions only: acknowledge_address(),
 * acknowledge_write(), and begin_read_byte() / read_bit_pulls_low(). */
#include "lynx_slave.h"

#include <errno.h>
#include <stdlib.h>

enum lynx_phase {
    LYNX_IDLE,    /* not addressed: waits for a START */
    LYNX_ADDRESS, /* shifting in the address byte */
    LYNX_WRITE,   /* addressed for writing: shifting in data bytes */
    LYNX_READ,    /* addressed for reading: shifting out the status byte */
};

struct sim_lynx {
    char letter;
    bool powered;
    bool supplied;
    uint8_t fuses_open; /* bit n = fuse n+1 open */
    struct sim_i2c_bus *bus;

    enum lynx_phase phase;
    unsigned clock;  /* rising edges seen in the current 9-clock frame */
    uint8_t shift;   /* bits received in the current frame */
    bool reading;    /* the address byte had R/W = 1 */
    bool master_ack; /* the master's answer to the byte just sent */
    uint8_t tx_byte; /* byte being sent, latched at the start of the byte */
    bool sda_low;    /* our drive of SDA right now */

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

static bool acknowledge_address(const struct sim_lynx *lynx, uint8_t address_byte)
{
    return (address_byte >> 1) == sim_lynx_address(lynx);
}

static bool acknowledge_write(const struct sim_lynx *lynx, uint8_t data)
{
    (void)lynx;
    (void)data;
    return true; /* writes are acknowledged and ignored */
}

static void begin_read_byte(struct sim_lynx *lynx)
{
    lynx->tx_byte = sim_lynx_status_byte(lynx);
}

/* bit: 7 (first, MSB) .. 0 */
static bool read_bit_pulls_low(const struct sim_lynx *lynx, unsigned bit)
{
    return !(lynx->tx_byte & (1u << bit));
}

/* --- bus events --- */

static void on_start(void *ctx)
{
    struct sim_lynx *lynx = ctx;
    if (!lynx_answers(lynx))
        return;
    lynx->phase = LYNX_ADDRESS;
    lynx->clock = 0;
    lynx->shift = 0;
    lynx->sda_low = false;
}

static void on_stop(void *ctx)
{
    release_bus(ctx);
}

static void on_scl_rise(void *ctx, bool sda)
{
    struct sim_lynx *lynx = ctx;
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
    return lynx_answers(lynx) && lynx->sda_low;
}

static const struct sim_i2c_device_ops lynx_bus_ops = {
    .start = on_start,
    .stop = on_stop,
    .scl_rise = on_scl_rise,
    .scl_fall = on_scl_fall,
    .sda_low = on_sda_low,
    .scl_low = NULL,
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
