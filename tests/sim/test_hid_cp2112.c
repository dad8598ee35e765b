/* The i2c-dev engine with driver=hid-cp2112: a client's requests go through what Linux's
 * hid-cp2112 does with a CP2112 (the chip model), and come back with the driver's errnos. Each
 * case is the one the daemon meets on a CP2112 bus: a present distributor, an absent one, a bus
 * held low, arbitration lost, a distributor that NACKs once, and the driver's own limits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <string.h>

#include "model/i2c_bus.h"
#include "model/i2cdev.h"
#include "model/lynx_slave.h"
#include "rogue_slave.h"

#define MS 1000000ull

static struct sim_i2c_bus *bus;
static struct sim_lynx *lynx_a, *lynx_c;
static struct sim_i2cdev *dev;
static struct sim_i2cdev_client client;
static uint64_t now;

static void *resolve(void *ctx, void **field, size_t len)
{
    (void)ctx, (void)len;
    return *field;
}

static void setup(void)
{
    bus = sim_i2c_bus_new();
    lynx_a = sim_lynx_new('A');
    lynx_c = sim_lynx_new('C');
    cr_assert_eq(sim_lynx_attach(lynx_a, bus), 0);
    cr_assert_eq(sim_lynx_attach(lynx_c, bus), 0);
    struct sim_i2cdev_config cfg = {.driver = SIM_I2CDEV_DRIVER_HID_CP2112};
    dev = sim_i2cdev_new(bus, &cfg);
    cr_assert_not_null(dev);
    memset(&client, 0, sizeof(client));
    now = 1000 * MS;
}

static void teardown(void)
{
    sim_i2cdev_free(dev);
    sim_lynx_free(lynx_a);
    sim_lynx_free(lynx_c);
    sim_i2c_bus_free(bus);
}

TestSuite(hid_cp2112, .init = setup, .fini = teardown);

static long rdwr(struct i2c_msg *msgs, unsigned n)
{
    struct i2c_rdwr_ioctl_data data = {.msgs = msgs, .nmsgs = n};
    void *arg = &data;
    now += 100 * MS;
    return sim_i2cdev_ioctl(dev, &client, I2C_RDWR, &arg, resolve, NULL, now);
}

/* The daemon's read: one I2C_RDWR message of one byte. */
static long read_byte(uint16_t addr, uint8_t *byte)
{
    struct i2c_msg m = {.addr = addr, .flags = I2C_M_RD, .len = 1, .buf = byte};
    return rdwr(&m, 1);
}

Test(hid_cp2112, funcs_are_the_drivers_i2c_and_smbus_without_quick)
{
    unsigned long funcs = 0;
    void *arg = &funcs;
    cr_assert_eq(sim_i2cdev_ioctl(dev, &client, I2C_FUNCS, &arg, resolve, NULL, now), 0);
    cr_assert(funcs & I2C_FUNC_I2C, "the daemon reads with I2C_RDWR");
    cr_assert(funcs & I2C_FUNC_SMBUS_READ_BYTE);
    cr_assert(funcs & I2C_FUNC_SMBUS_BLOCK_PROC_CALL);
    cr_assert_not(funcs & I2C_FUNC_SMBUS_QUICK, "i2cdetect needs -r on a CP2112");
}

Test(hid_cp2112, a_present_distributor_reads_and_an_absent_one_is_etimedout)
{
    uint8_t byte = 0;
    sim_lynx_set_fuse_open(lynx_c, 3, true);
    cr_assert_eq(read_byte(0x0A, &byte), 1);
    cr_assert_eq(byte, 0x40);
    byte = 0xEE;
    cr_assert_eq(read_byte(0x09, &byte), -ETIMEDOUT, "status 03 00: timeout, address NACKed");
    cr_assert_eq(byte, 0xEE);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1 + 2, "the chip retried the NACK once");
    sim_lynx_set_powered(lynx_a, false);
    cr_assert_eq(read_byte(0x08, &byte), -ETIMEDOUT, "an unpowered distributor the same");
}

Test(hid_cp2112, a_bus_held_low_is_etimedout_too_and_clocks_nothing)
{
    uint8_t byte;
    sim_lynx_stick_sda(lynx_a);
    const uint64_t starts = sim_i2c_bus_stats(bus)->starts;
    cr_assert_eq(read_byte(0x0A, &byte), -ETIMEDOUT, "ten busy answers, a cancel");
    cr_assert_eq(read_byte(0x08, &byte), -ETIMEDOUT);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, starts);
    sim_lynx_set_powered(lynx_a, false); /* lets go */
    cr_assert_eq(read_byte(0x0A, &byte), 1);
}

Test(hid_cp2112, a_distributor_that_nacks_once_is_eio_though_the_retry_read_it)
{
    uint8_t byte = 0xEE;
    cr_assert_eq(sim_lynx_script(lynx_a, (const int16_t[]){SIM_LYNX_SCRIPT_NACK, 0x20}, 2), 0);
    cr_assert_eq(read_byte(0x08, &byte), -EIO, "status 03 05: success after retries");
    cr_assert_eq(byte, 0xEE, "the driver does not read what the retry got");
    cr_assert_eq(sim_lynx_stats(lynx_a)->reads, 1, "the distributor did send it");
    cr_assert_eq(read_byte(0x08, &byte), 1);
}

Test(hid_cp2112, arbitration_lost_is_eio)
{
    struct rogue_slave r = {0};
    cr_assert_eq(sim_i2c_bus_attach(bus, &rogue_slave_ops, &r), 0);
    uint8_t byte;
    cr_assert_eq(read_byte(0x08, &byte), -EIO, "status 03 02");
    sim_i2c_bus_detach(bus, &r);
}

Test(hid_cp2112, the_drivers_limits_come_before_the_chip)
{
    static uint8_t big[600];
    struct i2c_msg read513 = {.addr = 0x08, .flags = I2C_M_RD, .len = 513, .buf = big};
    cr_assert_eq(rdwr(&read513, 1), -EINVAL);
    struct i2c_msg write62 = {.addr = 0x08, .len = 62, .buf = big};
    cr_assert_eq(rdwr(&write62, 1), -EINVAL);
    struct i2c_msg three[3] = {{.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = big},
                               {.addr = 0x0A, .flags = I2C_M_RD, .len = 1, .buf = big + 1},
                               {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = big + 2}};
    cr_assert_eq(rdwr(three, 3), -EOPNOTSUPP, "one message per address, as the daemon does");
    struct i2c_msg two_reads[2] = {three[0], three[1]};
    cr_assert_eq(rdwr(two_reads, 2), -EOPNOTSUPP);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0);
    uint8_t cmd = 0, status = 0;
    struct i2c_msg write_read[2] = {{.addr = 0x0A, .len = 1, .buf = &cmd},
                                    {.addr = 0x0A, .flags = I2C_M_RD, .len = 1, .buf = &status}};
    sim_lynx_set_supply(lynx_c, false);
    cr_assert_eq(rdwr(write_read, 2), 2, "a write-read with a repeated START");
    cr_assert_eq(status, 0x02);
}

Test(hid_cp2112, a_long_read_comes_back_in_force_sends_of_61)
{
    static uint8_t buf[100];
    memset(buf, 0xEE, sizeof(buf));
    sim_lynx_set_fuse_open(lynx_a, 1, true);
    struct i2c_msg m = {.addr = 0x08, .flags = I2C_M_RD, .len = 100, .buf = buf};
    cr_assert_eq(rdwr(&m, 1), 1);
    cr_assert_eq(buf[0], 0x10);
    cr_assert_neq(buf[99], 0xEE, "the second force send filled the rest");
}

Test(hid_cp2112, an_smbus_quick_write_is_a_zero_byte_write_the_chip_drops)
{
    struct i2c_smbus_ioctl_data a = {.read_write = I2C_SMBUS_WRITE, .size = I2C_SMBUS_QUICK};
    void *arg = &a;
    client.addr = 0x08;
    cr_assert_eq(sim_i2cdev_ioctl(dev, &client, I2C_SMBUS, &arg, resolve, NULL, now), -EAGAIN,
                 "status idle");
    union i2c_smbus_data d;
    a = (struct i2c_smbus_ioctl_data){
        .read_write = I2C_SMBUS_READ, .size = I2C_SMBUS_BYTE, .data = &d};
    cr_assert_eq(sim_i2cdev_ioctl(dev, &client, I2C_SMBUS, &arg, resolve, NULL, now), 0);
    cr_assert_eq(d.byte, 0x00, "i2cget's receive byte");
}
