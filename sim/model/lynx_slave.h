/* A software Lynx Distributor on the I2C bus.
 *
 * Address 0x08 + jumper (A = 0x08 .. D = 0x0B). Answers every read with its status byte
 * (bit 1 = no busbar supply, bits 4..7 = fuse 1..4 open), ACKs and ignores writes, and does not
 * answer at all (no ACK, SDA untouched) when unpowered or unplugged from the chain. Its state may
 * change at any time; a byte already being shifted out is not changed mid-byte.
 *
 * Faults (the grammar is in fixtures/README.md) act at bit level, at the same decision points:
 * whether to ACK the address, and which bits of a data byte to drive. A "read" is one data byte
 * sent; a "read transaction" is one address byte with R/W = 1 for this slave (after a START or a
 * repeated START). Precedence for a data byte: a scripted answer, then `corrupt`, then
 * `nack-data`, then `corrupt-rate`. A truncated byte is the slave letting go of SDA after k bits:
 * the k leading bits are the status byte's, the rest read 1 (pull-up). */
#ifndef SIM_LYNX_SLAVE_H
#define SIM_LYNX_SLAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/i2c_bus.h"

#define SIM_LYNX_BASE_ADDR    0x08
#define SIM_LYNX_NO_SUPPLY    0x02
#define SIM_LYNX_FUSE_OPEN(n) (0x10u << (n)) /* n = 0..3 for fuse 1..4 */

struct sim_lynx;

/* letter: 'A'..'D'. Starts powered, present on the bus, busbar supplied, all fuses ok.
 * Returns NULL on a bad letter or out of memory. */
struct sim_lynx *sim_lynx_new(char letter);
void sim_lynx_free(struct sim_lynx *lynx);

/* Attach to / detach from a bus (present = on the chain). Returns 0 or a negative errno. */
int sim_lynx_attach(struct sim_lynx *lynx, struct sim_i2c_bus *bus);
void sim_lynx_detach(struct sim_lynx *lynx);

char sim_lynx_letter(const struct sim_lynx *lynx);
uint8_t sim_lynx_address(const struct sim_lynx *lynx);

/* fuse: 1..4 */
void sim_lynx_set_fuse_open(struct sim_lynx *lynx, int fuse, bool open);
void sim_lynx_set_supply(struct sim_lynx *lynx, bool busbar_supplied);
/* powered = 5 V on the RJ10 port; an unpowered distributor never answers. */
void sim_lynx_set_powered(struct sim_lynx *lynx, bool powered);
bool sim_lynx_attached(const struct sim_lynx *lynx);

/* The byte a read returns in the current state. */
uint8_t sim_lynx_status_byte(const struct sim_lynx *lynx);

/* --- faults --- */

/* While on, the slave does not ACK its own address (reads and writes). */
void sim_lynx_set_nack_address(struct sim_lynx *lynx, bool on);
/* While on, the slave ACKs its address but never drives a data byte: reads return 0xFF. */
void sim_lynx_set_nack_data(struct sim_lynx *lynx, bool on);
/* The next count reads return byte (count 0 cancels). Bytes 0xFF >> k (0x7F .. 0x01, and 0xFF)
 * are produced by releasing SDA after the k leading zeros, as the real distributor does. */
void sim_lynx_corrupt(struct sim_lynx *lynx, uint8_t byte, unsigned count);
/* Each read is truncated after k bits (k uniform in 1..7) with probability rate; 0 = off. The
 * draws come from a PRNG seeded with seed and the letter: the same seed gives the same faults. */
void sim_lynx_set_corrupt_rate(struct sim_lynx *lynx, double rate, uint64_t seed);
/* Pull SDA low now, as a slave stopped mid-byte, until the master has clocked SCL 9 times; then
 * let go and wait for the next START. START/STOP cannot happen meanwhile. No effect on an
 * unpowered or detached slave. */
void sim_lynx_stick_sda(struct sim_lynx *lynx);
bool sim_lynx_sda_stuck(const struct sim_lynx *lynx);
/* hold-sda / hold-scl: the distributor holds SDA (sda) or SCL low for good while on, powered or
 * not, as a damaged transceiver or a shorted RJ10 pair does: no clocking frees it, only off (or
 * taking it off the chain). */
void sim_lynx_hold_line(struct sim_lynx *lynx, bool sda, bool on);

#define SIM_LYNX_SCRIPT_NACK (-1)
#define SIM_LYNX_SCRIPT_MAX  1024
/* Queue exact answers for the next read transactions, consumed one per transaction: NACK the
 * address, or ACK and send that byte as the first data byte (0..255). Returns 0, -EINVAL for a
 * value out of range or -ENOSPC when the queue would overflow (then nothing is queued). */
int sim_lynx_script(struct sim_lynx *lynx, const int16_t *answers, size_t n);
size_t sim_lynx_script_pending(const struct sim_lynx *lynx);

struct sim_lynx_stats {
    uint64_t reads;         /* data bytes sent */
    uint64_t writes;        /* data bytes received */
    uint64_t faulted_reads; /* reads whose byte came from a fault (script, corrupt, nack-data,
                               truncation) */
};
const struct sim_lynx_stats *sim_lynx_stats(const struct sim_lynx *lynx);

#endif
