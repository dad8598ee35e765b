/* SMBus emulation with I2C messages (smbus_emul.h). */
#include "model/smbus_emul.h"

#include <errno.h>
#include <linux/i2c.h>
#include <string.h>

/* CRC-8 with polynomial x^8 + x^2 + x + 1, as SMBus PEC. */
static uint8_t crc8(uint8_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)(crc & 0x80 ? crc << 1 ^ 0x07 : crc << 1);
    }
    return crc;
}

uint8_t sim_smbus_pec(uint8_t crc, const struct sim_i2c_msg *m)
{
    uint8_t address = (uint8_t)(m->addr << 1 | (m->flags & I2C_M_RD ? 1 : 0));
    crc = crc8(crc, &address, 1);
    return crc8(crc, m->buf, m->len);
}

static void put_word(uint8_t *p, uint16_t word)
{
    p[0] = (uint8_t)(word & 0xFF);
    p[1] = (uint8_t)(word >> 8);
}

/* Builds the messages of an SMBus request: a write of the command (and data), then for reads a
 * read. Process calls are reads. Returns 0 or -EINVAL (a block size above 32). */
int sim_smbus_build(struct sim_smbus *s, uint16_t addr, uint8_t *read_write, uint8_t command,
                    uint32_t size, const union i2c_smbus_data *data)
{
    if (size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL)
        *read_write = I2C_SMBUS_READ;
    const bool reading = *read_write == I2C_SMBUS_READ;
    const bool sends_data =
        !reading || size == I2C_SMBUS_PROC_CALL || size == I2C_SMBUS_BLOCK_PROC_CALL;
    struct sim_i2c_msg *out = &s->msg[0], *in = &s->msg[1];
    *out = (struct sim_i2c_msg){.addr = addr, .len = 1, .buf = s->buf0};
    *in = (struct sim_i2c_msg){.addr = addr, .flags = I2C_M_RD, .buf = s->buf1};
    s->buf0[0] = command;
    s->n = reading ? 2 : 1;
    switch (size) {
    case I2C_SMBUS_QUICK:
        out->len = 0;
        out->flags = reading ? I2C_M_RD : 0;
        s->n = 1;
        return 0;
    case I2C_SMBUS_BYTE:
        out->flags = reading ? I2C_M_RD : 0;
        s->n = 1;
        return 0;
    case I2C_SMBUS_BYTE_DATA:
        in->len = 1;
        if (sends_data) {
            out->len = 2;
            s->buf0[1] = data->byte;
        }
        return 0;
    case I2C_SMBUS_WORD_DATA:
    case I2C_SMBUS_PROC_CALL:
        in->len = 2;
        if (sends_data) {
            out->len = 3;
            put_word(s->buf0 + 1, data->word);
        }
        return 0;
    case I2C_SMBUS_BLOCK_DATA:
    case I2C_SMBUS_BLOCK_PROC_CALL:
        in->flags |= I2C_M_RECV_LEN;
        in->len = 1; /* the count byte; the controller adds what it announces */
        if (sends_data) {
            if (data->block[0] > I2C_SMBUS_BLOCK_MAX)
                return -EINVAL;
            out->len = (uint16_t)(data->block[0] + 2);
            memcpy(s->buf0 + 1, data->block, data->block[0] + 1u);
        }
        return 0;
    case I2C_SMBUS_I2C_BLOCK_DATA:
        if (data->block[0] > I2C_SMBUS_BLOCK_MAX)
            return -EINVAL;
        in->len = data->block[0];
        if (sends_data) {
            out->len = (uint16_t)(data->block[0] + 1);
            memcpy(s->buf0 + 1, data->block + 1, data->block[0]);
        }
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

/* What an SMBus request read goes to the caller's data. */
void sim_smbus_result(const struct sim_smbus *s, uint32_t size, union i2c_smbus_data *data)
{
    const struct sim_i2c_msg *in = &s->msg[s->n - 1];
    switch (size) {
    case I2C_SMBUS_BYTE:
    case I2C_SMBUS_BYTE_DATA:
        data->byte = in->buf[0];
        break;
    case I2C_SMBUS_WORD_DATA:
    case I2C_SMBUS_PROC_CALL:
        data->word = (uint16_t)(in->buf[0] | in->buf[1] << 8);
        break;
    case I2C_SMBUS_BLOCK_DATA:
    case I2C_SMBUS_BLOCK_PROC_CALL:
        memcpy(data->block, in->buf, in->buf[0] + 1u);
        break;
    case I2C_SMBUS_I2C_BLOCK_DATA:
        memcpy(data->block + 1, in->buf, data->block[0]);
        break;
    default:
        break;
    }
}
