/* SMBus requests as I2C messages, as the kernel's i2c_smbus_xfer_emulated() builds them: the
 * part of the i2c-dev engine (i2cdev.h) that is pure message building, and SMBus PEC. */
#ifndef SIM_SMBUS_EMUL_H
#define SIM_SMBUS_EMUL_H

#include <linux/i2c.h>
#include <stdint.h>

#include "model/i2c_master.h"

struct sim_smbus {
    struct sim_i2c_msg msg[2];
    uint8_t buf0[I2C_SMBUS_BLOCK_MAX + 3];
    uint8_t buf1[I2C_SMBUS_BLOCK_MAX + 2];
    unsigned n;
};

/* The PEC (CRC-8, x^8 + x^2 + x + 1) of message m (its address byte and data) on top of crc. */
uint8_t sim_smbus_pec(uint8_t crc, const struct sim_i2c_msg *m);
/* Builds the messages of an SMBus request: a write of the command (and data), then for reads a
 * read. Process calls are reads (*read_write is set so). Returns 0, -EINVAL (a block size above
 * 32) or -EOPNOTSUPP (an unknown size). */
int sim_smbus_build(struct sim_smbus *s, uint16_t addr, uint8_t *read_write, uint8_t command,
                    uint32_t size, const union i2c_smbus_data *data);
/* What an SMBus read request read, into the caller's data. */
void sim_smbus_result(const struct sim_smbus *s, uint32_t size, union i2c_smbus_data *data);

#endif
