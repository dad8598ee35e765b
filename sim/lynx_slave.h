/* A software Lynx Distributor on the I2C bus.
 *
 * Address 0x08 + jumper (A = 0x08 .. D = 0x0B). Answers every read with its status byte
 * (bit 1 = no busbar supply, bits 4..7 = fuse 1..4 open), ACKs and ignores writes, and does not
 * answer at all (no ACK, SDA untouched) when unpowered or unplugged from the chain. Its state may
 * change at any time; a byte already being shifted out is not changed mid-byte. */
#ifndef SIM_LYNX_SLAVE_H
#define SIM_LYNX_SLAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "i2c_bus.h"

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

struct sim_lynx_stats {
    uint64_t reads;  /* data bytes sent */
    uint64_t writes; /* data bytes received */
};
const struct sim_lynx_stats *sim_lynx_stats(const struct sim_lynx *lynx);

#endif
