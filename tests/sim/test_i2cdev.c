/* The i2c-dev engine: the kernel's request rules, each shown to fire, and what the Lynx models on
 * the bus answer to it. Requests are passed as a client's memory would be, resolved in place. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <string.h>

#include "model/i2c_bus.h"
#include "model/i2cdev.h"
#include "model/lynx_slave.h"

static struct sim_i2c_bus *bus;
static struct sim_lynx *lynx_a, *lynx_c;
static struct sim_i2cdev *dev;
static struct sim_i2cdev_client client;

/* The client's memory is ours: a pointer resolves to itself; NULL cannot be read. fail_at makes
 * the n-th resolution (1-based) fail as an unreadable pointer would. */
static unsigned resolutions, fail_at;

static void *resolve(void *ctx, void **field, size_t len)
{
    (void)ctx;
    (void)len;
    resolutions++;
    if (fail_at && resolutions == fail_at)
        return NULL;
    return *field;
}

static void make(enum sim_i2cdev_funcs funcs, int nack_errno, enum sim_i2c_mode mode)
{
    if (dev)
        sim_i2cdev_free(dev);
    struct sim_i2cdev_config cfg = {.funcs = funcs, .nack_errno = nack_errno, .mode = mode};
    dev = sim_i2cdev_new(bus, &cfg);
    cr_assert_not_null(dev);
}

static void setup(void)
{
    bus = sim_i2c_bus_new();
    lynx_a = sim_lynx_new('A');
    lynx_c = sim_lynx_new('C');
    cr_assert_eq(sim_lynx_attach(lynx_a, bus), 0);
    cr_assert_eq(sim_lynx_attach(lynx_c, bus), 0);
    make(SIM_I2CDEV_FUNCS_I2C, 0, SIM_I2C_STANDARD);
    memset(&client, 0, sizeof(client));
    resolutions = fail_at = 0;
}

static void teardown(void)
{
    sim_i2cdev_free(dev);
    dev = NULL;
    sim_lynx_free(lynx_a);
    sim_lynx_free(lynx_c);
    sim_i2c_bus_free(bus);
}

TestSuite(i2cdev, .init = setup, .fini = teardown);

static long ioctl_value(unsigned long request, unsigned long value)
{
    void *arg = (void *)value;
    return sim_i2cdev_ioctl(dev, &client, request, &arg, resolve, NULL, 0);
}

static long ioctl_ptr(unsigned long request, void *ptr)
{
    return sim_i2cdev_ioctl(dev, &client, request, &ptr, resolve, NULL, 0);
}

static long rdwr(struct i2c_msg *msgs, unsigned n)
{
    struct i2c_rdwr_ioctl_data data = {.msgs = msgs, .nmsgs = n};
    return ioctl_ptr(I2C_RDWR, &data);
}

static long smbus(uint8_t read_write, uint8_t command, uint32_t size, union i2c_smbus_data *data)
{
    struct i2c_smbus_ioctl_data a = {
        .read_write = read_write, .command = command, .size = size, .data = data};
    return ioctl_ptr(I2C_SMBUS, &a);
}

static int read_status(uint16_t addr, uint8_t *byte)
{
    client.addr = addr;
    return (int)sim_i2cdev_read(dev, &client, byte, 1, 0);
}

/* ---- plain ioctls ---- */

Test(i2cdev, funcs_are_bcm2835s_with_block_reads_or_an_smbus_hosts)
{
    unsigned long funcs = 0;
    cr_assert_eq(ioctl_ptr(I2C_FUNCS, &funcs), 0);
    cr_assert_eq(funcs, I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL_ALL);
    cr_assert_not(funcs & (I2C_FUNC_10BIT_ADDR | I2C_FUNC_PROTOCOL_MANGLING | I2C_FUNC_NOSTART));
    make(SIM_I2CDEV_FUNCS_SMBUS, 0, SIM_I2C_STANDARD);
    cr_assert_eq(ioctl_ptr(I2C_FUNCS, &funcs), 0);
    cr_assert_not(funcs & I2C_FUNC_I2C, "an SMBus-only adapter");
    cr_assert(funcs & I2C_FUNC_SMBUS_QUICK && funcs & I2C_FUNC_SMBUS_READ_BYTE);
    cr_assert_eq(ioctl_ptr(I2C_FUNCS, NULL), -EFAULT);
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_funcs, 2);
}

Test(i2cdev, slave_takes_7_bit_addresses_and_tenbit_is_refused)
{
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x08), 0);
    cr_assert_eq(client.addr, 0x08);
    cr_assert_eq(ioctl_value(I2C_SLAVE_FORCE, 0x7F), 0);
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x80), -EINVAL);
    cr_assert_eq(ioctl_value(I2C_SLAVE_FORCE, 0x3FF), -EINVAL);
    cr_assert_eq(client.addr, 0x7F, "a refused address leaves the old one");
    cr_assert_eq(ioctl_value(I2C_TENBIT, 1), -EINVAL);
    cr_assert_eq(ioctl_value(I2C_TENBIT, 0), 0);
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_slave, 4);
}

Test(i2cdev, retries_timeout_and_pec_are_taken_unknown_requests_are_enotty)
{
    cr_assert_eq(ioctl_value(I2C_RETRIES, 3), 0);
    cr_assert_eq(ioctl_value(I2C_TIMEOUT, 10), 0);
    cr_assert_eq(ioctl_value(I2C_RETRIES, (unsigned long)INT_MAX + 1), -EINVAL);
    cr_assert_eq(ioctl_value(I2C_TIMEOUT, (unsigned long)INT_MAX + 1), -EINVAL);
    cr_assert_eq(ioctl_value(I2C_PEC, 1), 0);
    cr_assert(client.pec);
    cr_assert_eq(ioctl_value(0x0799, 0), -ENOTTY);
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_other, 6);
}

/* ---- read() / write() ---- */

Test(i2cdev, read_returns_the_status_byte_and_an_absent_address_is_enxio)
{
    uint8_t byte = 0xEE;
    sim_lynx_set_fuse_open(lynx_a, 2, true);
    cr_assert_eq(read_status(0x08, &byte), 1);
    cr_assert_eq(byte, 0x20);
    sim_lynx_set_supply(lynx_c, false);
    cr_assert_eq(read_status(0x0A, &byte), 1);
    cr_assert_eq(byte, 0x02);
    byte = 0xEE;
    cr_assert_eq(read_status(0x09, &byte), -ENXIO);
    cr_assert_eq(byte, 0xEE, "nothing reaches the client of a failed read");
    const struct sim_i2cdev_stats *s = sim_i2cdev_stats(dev);
    cr_assert_eq(s->read_calls, 3);
    cr_assert_eq(s->nacks, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 3, "a NACK ends with a STOP");
}

Test(i2cdev, nack_eremoteio_is_what_bcm2835_reports)
{
    make(SIM_I2CDEV_FUNCS_I2C, EREMOTEIO, SIM_I2C_STANDARD);
    uint8_t byte;
    cr_assert_eq(read_status(0x09, &byte), -EREMOTEIO);
    sim_lynx_set_powered(lynx_a, false);
    cr_assert_eq(read_status(0x08, &byte), -EREMOTEIO, "an unpowered distributor never ACKs");
}

Test(i2cdev, a_read_clocks_address_and_data_byte_with_the_mode_timing)
{
    uint8_t byte;
    cr_assert_eq(read_status(0x08, &byte), 1);
    const struct sim_i2cdev_stats *s = sim_i2cdev_stats(dev);
    cr_assert_eq(s->scl_periods, 18, "9 clocks of address + ACK, 9 of data + NACK");
    cr_assert_eq(s->messages, 1);
    /* START hold 5 + 18 bits of 10 us + the STOP's 2.5 + 2.5 + 5 */
    cr_assert_eq(s->bus_time_ns, 5000 + 18 * 10000 + 10000);
    const struct sim_i2c_timing *t = sim_i2c_bus_timing(bus);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        cr_assert_eq(t->rules[r].violations, 0, "%s", sim_i2c_rule_name(r));
    cr_assert_gt(t->rules[SIM_I2C_T_HIGH].checks, 0);
}

Test(i2cdev, fast_mode_keeps_every_fast_mode_minimum)
{
    sim_i2c_bus_set_timing(bus, SIM_I2C_FAST, true);
    make(SIM_I2CDEV_FUNCS_I2C, 0, SIM_I2C_FAST);
    uint8_t byte;
    struct i2c_msg msgs[2] = {{.addr = 0x08, .len = 1, .buf = (uint8_t[]){0}},
                              {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &byte}};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(read_status(0x08, &byte), 1);
        cr_assert_eq(rdwr(msgs, 2), 2);
    }
    const struct sim_i2c_timing *t = sim_i2c_bus_timing(bus);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        cr_assert_eq(t->rules[r].violations, 0, "%s", sim_i2c_rule_name(r));
    cr_assert_eq(t->rules[SIM_I2C_T_HIGH].shortest_ns, 1100);
    cr_assert_eq(t->rules[SIM_I2C_T_LOW].shortest_ns, 1400);
    cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 0);
}

Test(i2cdev, write_is_acknowledged_and_ignored_by_a_lynx)
{
    client.addr = 0x08;
    cr_assert_eq(sim_i2cdev_write(dev, &client, (const uint8_t[]){0xFF, 0x12}, 2, 0), 2);
    cr_assert_eq(sim_lynx_stats(lynx_a)->writes, 2);
    uint8_t byte;
    cr_assert_eq(read_status(0x08, &byte), 1);
    cr_assert_eq(byte, 0x00);
    client.addr = 0x0B;
    cr_assert_eq(sim_i2cdev_write(dev, &client, (const uint8_t[]){1}, 1, 0), -ENXIO);
}

Test(i2cdev, read_and_write_are_cut_at_8192_bytes)
{
    static uint8_t buf[9000];
    client.addr = 0x08;
    cr_assert_eq(sim_i2cdev_read(dev, &client, buf, sizeof(buf), 0), SIM_I2CDEV_MAX_LEN);
    cr_assert_eq(sim_lynx_stats(lynx_a)->reads, SIM_I2CDEV_MAX_LEN);
    cr_assert_eq(sim_i2cdev_write(dev, &client, buf, sizeof(buf), 0), SIM_I2CDEV_MAX_LEN);
}

/* ---- I2C_RDWR ---- */

Test(i2cdev, rdwr_checks_its_arguments_in_the_kernels_order)
{
    uint8_t byte = 0, big[SIM_I2CDEV_MAX_LEN + 1];
    struct i2c_msg one = {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &byte};
    struct i2c_msg many[I2C_RDWR_IOCTL_MAX_MSGS + 1];
    for (int i = 0; i < I2C_RDWR_IOCTL_MAX_MSGS + 1; i++)
        many[i] = one;
    cr_assert_eq(rdwr(&one, 0), -EINVAL, "no message");
    cr_assert_eq(rdwr(NULL, 1), -EINVAL, "no message array");
    cr_assert_eq(rdwr(many, I2C_RDWR_IOCTL_MAX_MSGS + 1), -EINVAL, "more than 42");
    cr_assert_eq(rdwr(many, I2C_RDWR_IOCTL_MAX_MSGS), I2C_RDWR_IOCTL_MAX_MSGS);
    struct i2c_msg too_long = {.addr = 0x08, .len = SIM_I2CDEV_MAX_LEN + 1, .buf = big};
    cr_assert_eq(rdwr(&too_long, 1), -EINVAL);
    struct i2c_msg no_buf = {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = NULL};
    cr_assert_eq(rdwr(&no_buf, 1), -EFAULT);
    cr_assert_eq(ioctl_ptr(I2C_RDWR, NULL), -EFAULT);
    resolutions = 0;
    fail_at = 2; /* the message array */
    cr_assert_eq(rdwr(&one, 1), -EFAULT);
    fail_at = 0;
    struct i2c_msg ten = {.addr = 0x08, .flags = I2C_M_TEN, .len = 1, .buf = &byte};
    cr_assert_eq(rdwr(&ten, 1), -EOPNOTSUPP, "no 10-bit addressing");
    struct i2c_msg wide = {.addr = 0x80, .len = 1, .buf = &byte};
    cr_assert_eq(rdwr(&wide, 1), -EINVAL);
    cr_assert_eq(sim_i2cdev_stats(dev)->messages, I2C_RDWR_IOCTL_MAX_MSGS,
                 "only the good request reached the bus");
}

Test(i2cdev, rdwr_recv_len_needs_a_read_with_room_for_32_more_bytes)
{
    uint8_t buf[40] = {1};
    struct i2c_msg m = {.addr = 0x08, .flags = I2C_M_RD | I2C_M_RECV_LEN, .len = 32, .buf = buf};
    cr_assert_eq(rdwr(&m, 1), -EINVAL, "32 < 1 + 32");
    m.flags = I2C_M_RECV_LEN;
    m.len = 40;
    cr_assert_eq(rdwr(&m, 1), -EINVAL, "not a read");
    m.flags = I2C_M_RD | I2C_M_RECV_LEN;
    buf[0] = 0;
    cr_assert_eq(rdwr(&m, 1), -EINVAL, "no room for the count");
    buf[0] = 1;
    cr_assert_eq(rdwr(&m, 1), -EPROTO, "a Lynx announces 0x00 bytes: a bad count");
    sim_lynx_set_fuse_open(lynx_a, 1, true); /* status 0x10: 16 bytes follow */
    cr_assert_eq(rdwr(&m, 1), 1);
    cr_assert_eq(buf[0], 0x10);
    cr_assert_eq(buf[16], 0x10);
    cr_assert_eq(sim_lynx_stats(lynx_a)->reads, 1 + 1 + 16);
}

Test(i2cdev, rdwr_sends_messages_with_repeated_starts_and_returns_their_number)
{
    uint8_t a = 0, c = 0, reg = 0;
    sim_lynx_set_fuse_open(lynx_c, 3, true);
    struct i2c_msg msgs[3] = {{.addr = 0x08, .len = 1, .buf = &reg},
                              {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &a},
                              {.addr = 0x0A, .flags = I2C_M_RD, .len = 1, .buf = &c}};
    cr_assert_eq(rdwr(msgs, 3), 3);
    cr_assert_eq(c, 0x40);
    const struct sim_i2c_bus_stats *b = sim_i2c_bus_stats(bus);
    cr_assert_eq(b->starts, 3, "START + 2 repeated STARTs");
    cr_assert_eq(b->transactions, 1, "one STOP");
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_rdwr, 1);
}

Test(i2cdev, rdwr_stops_at_a_nack_and_returns_no_data)
{
    uint8_t a = 0xEE, b = 0xEE, c = 0xEE;
    struct i2c_msg msgs[3] = {{.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &a},
                              {.addr = 0x09, .flags = I2C_M_RD, .len = 1, .buf = &b},
                              {.addr = 0x0A, .flags = I2C_M_RD, .len = 1, .buf = &c}};
    cr_assert_eq(rdwr(msgs, 3), -ENXIO);
    cr_assert_eq(a, 0xEE, "the first message's data is not copied back");
    cr_assert_eq(sim_i2cdev_stats(dev)->messages, 2, "the third message is not sent");
    cr_assert_eq(sim_lynx_stats(lynx_c)->reads, 0);
}

/* ---- I2C_SMBUS ---- */

Test(i2cdev, smbus_quick_write_is_acknowledged_by_a_present_lynx)
{
    client.addr = 0x08;
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL), 0);
    client.addr = 0x09;
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL), -ENXIO);
    cr_assert_eq(sim_lynx_stats(lynx_a)->writes, 0, "address only");
}

Test(i2cdev, smbus_byte_byte_data_word_and_i2c_block_read_the_status_byte)
{
    union i2c_smbus_data d;
    client.addr = 0x08;
    sim_lynx_set_fuse_open(lynx_a, 4, true);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d), 0);
    cr_assert_eq(d.byte, 0x80);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0x55, I2C_SMBUS_BYTE_DATA, &d), 0);
    cr_assert_eq(d.byte, 0x80, "the command byte is written and ignored");
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_WORD_DATA, &d), 0);
    cr_assert_eq(d.word, 0x8080);
    d.block[0] = 3;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_I2C_BLOCK_DATA, &d), 0);
    cr_assert(d.block[0] == 3 && d.block[1] == 0x80 && d.block[3] == 0x80);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_I2C_BLOCK_BROKEN, &d), 0);
    cr_assert_eq(d.block[0], 32);
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0x01, I2C_SMBUS_BYTE, NULL), 0);
    d.word = 0x1234;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0x02, I2C_SMBUS_PROC_CALL, &d), 0);
    cr_assert_eq(d.word, 0x8080);
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_smbus, 7);
}

Test(i2cdev, smbus_block_read_takes_the_count_from_the_slave)
{
    union i2c_smbus_data d;
    client.addr = 0x08;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BLOCK_DATA, &d), -EPROTO, "count 0");
    sim_lynx_set_supply(lynx_a, false);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BLOCK_DATA, &d), 0);
    cr_assert(d.block[0] == 2 && d.block[1] == 2 && d.block[2] == 2);
}

Test(i2cdev, smbus_checks_size_direction_data_and_block_length)
{
    union i2c_smbus_data d = {.block = {33}};
    client.addr = 0x08;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, 9, &d), -EINVAL, "no such size");
    cr_assert_eq(smbus(2, 0, I2C_SMBUS_BYTE, &d), -EINVAL, "neither read nor write");
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, NULL), -EINVAL, "no data");
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_BLOCK_DATA, &d), -EINVAL);
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_I2C_BLOCK_DATA, &d), -EINVAL);
    cr_assert_eq(ioctl_ptr(I2C_SMBUS, NULL), -EFAULT);
    resolutions = 0;
    fail_at = 2; /* the data pointer */
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d), -EFAULT);
    cr_assert_eq(sim_i2cdev_stats(dev)->messages, 0);
}

Test(i2cdev, smbus_pec_is_checked_and_a_lynx_sends_none)
{
    union i2c_smbus_data d = {.byte = 0};
    client.addr = 0x08;
    client.pec = true;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d), -EBADMSG);
    cr_assert_eq(sim_lynx_stats(lynx_a)->reads, 2, "the byte and the PEC byte were read");
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_BYTE_DATA, &d), 0);
    cr_assert_eq(sim_lynx_stats(lynx_a)->writes, 3, "command, byte and PEC");
}

Test(i2cdev, smbus_only_adapter_refuses_i2c_transfers_after_their_checks)
{
    make(SIM_I2CDEV_FUNCS_SMBUS, 0, SIM_I2C_STANDARD);
    uint8_t byte;
    struct i2c_msg m = {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &byte};
    cr_assert_eq(rdwr(&m, 0), -EINVAL);
    cr_assert_eq(rdwr(&m, 1), -EOPNOTSUPP);
    cr_assert_eq(read_status(0x08, &byte), -EOPNOTSUPP);
    union i2c_smbus_data d = {.word = 0};
    client.addr = 0x08;
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_PROC_CALL, &d), -EOPNOTSUPP);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_I2C_BLOCK_DATA, &d), -EOPNOTSUPP);
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d), 0);
    cr_assert_eq(sim_i2cdev_stats(dev)->messages, 1);
}

/* ---- bus faults ---- */

Test(i2cdev, stuck_sda_is_arbitration_lost_and_retried_as_asked)
{
    uint8_t byte;
    sim_lynx_stick_sda(lynx_a);
    const uint64_t starts = sim_i2c_bus_stats(bus)->starts; /* the fault's own falling SDA */
    cr_assert_eq(read_status(0x0A, &byte), -EAGAIN);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, starts, "no START could be made");
    cr_assert_eq(ioctl_value(I2C_RETRIES, 2), 0);
    cr_assert_eq(read_status(0x0A, &byte), -EAGAIN);
    const struct sim_i2cdev_stats *s = sim_i2cdev_stats(dev);
    cr_assert_eq(s->transactions, 1 + 3);
    cr_assert_eq(s->bus_errors, 4);
    sim_lynx_set_powered(lynx_a, false); /* lets go */
    cr_assert_eq(read_status(0x0A, &byte), 1);
}

static bool hold_scl(const void *ctx)
{
    (void)ctx;
    return true;
}

Test(i2cdev, scl_held_low_times_out)
{
    static const struct sim_i2c_device_ops stretcher = {.scl_low = hold_scl};
    int token;
    cr_assert_eq(sim_i2c_bus_attach(bus, &stretcher, &token), 0);
    uint8_t byte;
    cr_assert_eq(read_status(0x08, &byte), -ETIMEDOUT);
    sim_i2c_bus_detach(bus, &token);
}

Test(i2cdev, a_quick_read_answered_with_a_0_bit_leaves_sda_held)
{
    client.addr = 0x08;
    sim_lynx_set_fuse_open(lynx_a, 4, true); /* status 0x80: the first bit is a 1 */
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_QUICK, NULL), 0);
    uint8_t byte;
    cr_assert_eq(read_status(0x08, &byte), 1);
    sim_lynx_set_fuse_open(lynx_a, 4, false); /* status 0x00: it drives a 0 after its ACK */
    cr_assert_eq(smbus(I2C_SMBUS_READ, 0, I2C_SMBUS_QUICK, NULL), 0);
    cr_assert_eq(read_status(0x08, &byte), -EAGAIN, "the STOP could not happen");
}

Test(i2cdev, distributor_faults_act_unchanged)
{
    uint8_t byte;
    cr_assert_eq(sim_lynx_script(lynx_a, (const int16_t[]){SIM_LYNX_SCRIPT_NACK, 0x7F}, 2), 0);
    cr_assert_eq(read_status(0x08, &byte), -ENXIO);
    cr_assert_eq(read_status(0x08, &byte), 1);
    cr_assert_eq(byte, 0x7F);
    sim_lynx_corrupt(lynx_a, 0x3F, 1);
    cr_assert_eq(read_status(0x08, &byte), 1);
    cr_assert_eq(byte, 0x3F);
    sim_lynx_set_nack_address(lynx_a, true);
    cr_assert_eq(read_status(0x08, &byte), -ENXIO);
}

/* ---- adapter faults ---- */

Test(i2cdev, injected_errors_fail_transfers_before_the_bus)
{
    uint8_t byte;
    sim_i2cdev_fail_transfers(dev, 2, EIO);
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x08), 0, "not a transfer");
    cr_assert_eq(read_status(0x08, &byte), -EIO);
    client.addr = 0x08;
    cr_assert_eq(smbus(I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL), -EIO);
    cr_assert_eq(read_status(0x08, &byte), 1);
    sim_i2cdev_fail_transfers(dev, 1, ETIMEDOUT);
    struct i2c_msg m = {.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &byte};
    cr_assert_eq(rdwr(&m, 0), -EINVAL, "the checks come first");
    cr_assert_eq(rdwr(&m, 1), -ETIMEDOUT);
    cr_assert_eq(sim_i2cdev_stats(dev)->injected, 3);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 1);
}

Test(i2cdev, unplug_mid_transfer_fails_the_next_transfer_with_enodev_once)
{
    uint8_t byte;
    sim_i2cdev_arm_unplug(dev);
    cr_assert_not(sim_i2cdev_take_unplug(dev));
    cr_assert_eq(read_status(0x08, &byte), -ENODEV);
    cr_assert(sim_i2cdev_take_unplug(dev));
    cr_assert_not(sim_i2cdev_take_unplug(dev));
    cr_assert_eq(sim_i2cdev_gone(dev, I2C_SMBUS, false, false), -ENODEV);
    cr_assert_eq(sim_i2cdev_gone(dev, 0, true, false), -ENODEV);
    cr_assert_eq(sim_i2cdev_stats(dev)->ioctl_smbus, 1);
    cr_assert_eq(sim_i2cdev_stats(dev)->read_calls, 2);
}

/* ---- controller=bcm2835: i2c-bcm2835's rules (i2cdev.h) ---- */

#define MS 1000000ull

static void make_bcm2835(void)
{
    if (dev)
        sim_i2cdev_free(dev);
    struct sim_i2cdev_config cfg = {.driver = SIM_I2CDEV_DRIVER_BCM2835};
    dev = sim_i2cdev_new(bus, &cfg);
    cr_assert_not_null(dev);
}

static int read_at(uint16_t addr, uint8_t *byte, uint64_t now_ns)
{
    client.addr = addr;
    return (int)sim_i2cdev_read(dev, &client, byte, 1, now_ns);
}

Test(i2cdev, bcm2835_funcs_and_any_nack_is_eremoteio)
{
    make_bcm2835();
    unsigned long funcs = 0;
    cr_assert_eq(ioctl_ptr(I2C_FUNCS, &funcs), 0);
    cr_assert_eq(funcs, I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL, "bcm2835_i2c_func()");
    uint8_t byte = 0xAA;
    cr_assert_eq(read_at(0x0B, &byte, 0), -EREMOTEIO, "nobody at 0x0B");
    cr_assert_eq(byte, 0xAA);
    cr_assert_eq(read_at(0x08, &byte, 0), 1);
    cr_assert_eq(byte, 0x00);
    uint8_t out[2] = {0x00, 0x01};
    struct i2c_msg w = {.addr = 0x0B, .len = 2, .buf = out};
    cr_assert_eq(rdwr(&w, 1), -EREMOTEIO);
    cr_assert_eq(sim_i2cdev_answer_at(dev), 0, "a NACK is answered at once");
}

Test(i2cdev, bcm2835_refuses_a_read_message_before_the_last)
{
    make_bcm2835();
    uint8_t a = 0, b = 0;
    struct i2c_msg msgs[2] = {{.addr = 0x08, .flags = I2C_M_RD, .len = 1, .buf = &a},
                              {.addr = 0x0A, .flags = I2C_M_RD, .len = 1, .buf = &b}};
    const uint64_t transactions = sim_i2cdev_stats(dev)->transactions;
    cr_assert_eq(rdwr(msgs, 2), -EOPNOTSUPP);
    cr_assert_eq(sim_i2cdev_stats(dev)->transactions, transactions, "nothing on the bus");
    msgs[0].flags = 0; /* a write, then the read: allowed */
    cr_assert_eq(rdwr(msgs, 2), 2);
}

Test(i2cdev, bcm2835_has_no_arbitration_check_sda_held_low_acks_every_address_with_0x00)
{
    uint8_t byte = 0xAA;
    sim_lynx_hold_line(lynx_c, true, true);
    cr_assert_eq(read_at(0x7F, &byte, 0), -EAGAIN, "the generic controller sees the busy bus");
    make_bcm2835();
    for (uint16_t addr = 0x08; addr <= 0x7F; addr += 0x77 - 0x08) {
        byte = 0xAA;
        cr_assert_eq(read_at(addr, &byte, 0), 1, "0x%02X looks acknowledged", addr);
        cr_assert_eq(byte, 0x00, "and reads 0x00: 'supplied, all fuses good'");
    }
    cr_assert_eq(read_at(0x7F, &byte, 0), 1, "also the reserved 0x7F");
    cr_assert_eq(sim_i2cdev_stats(dev)->bus_errors, 0);
    sim_lynx_hold_line(lynx_c, true, false);
    cr_assert_eq(read_at(0x7F, &byte, 0), -EREMOTEIO, "let go: nobody at 0x7F");
}

Test(i2cdev, bcm2835_scl_held_low_is_etimedout_after_the_adapter_timeout)
{
    make_bcm2835();
    uint8_t byte;
    sim_lynx_hold_line(lynx_a, false, true);
    const uint64_t t0 = 5000 * MS;
    cr_assert_eq(read_at(0x08, &byte, t0), -ETIMEDOUT);
    cr_assert_eq(sim_i2cdev_answer_at(dev), t0 + 1000 * MS, "the default timeout: 1 s (HZ)");
    cr_assert_eq(sim_i2cdev_stats(dev)->timeouts, 1);
    /* another client's transfer waits for the adapter, and times out after that */
    cr_assert_eq(read_at(0x0A, &byte, t0 + 10 * MS), -ETIMEDOUT);
    cr_assert_eq(sim_i2cdev_answer_at(dev), t0 + 2000 * MS);
    /* I2C_TIMEOUT, in 10 ms, for every client of the adapter */
    cr_assert_eq(ioctl_value(I2C_TIMEOUT, INT_MAX / 10 + 1), -EINVAL);
    cr_assert_eq(ioctl_value(I2C_TIMEOUT, 5), 0);
    const uint64_t t1 = 9000 * MS;
    cr_assert_eq(read_at(0x08, &byte, t1), -ETIMEDOUT);
    cr_assert_eq(sim_i2cdev_answer_at(dev), t1 + 50 * MS);
    sim_lynx_hold_line(lynx_a, false, false);
    cr_assert_eq(read_at(0x08, &byte, t1 + 100 * MS), 1, "let go: read again");
    cr_assert_eq(sim_i2cdev_answer_at(dev), 0, "answered at once");
}

Test(i2cdev, bcm2835_a_transfer_longer_than_the_timeout_is_etimedout)
{
    make_bcm2835();
    cr_assert_eq(ioctl_value(I2C_TIMEOUT, 1), 0); /* 10 ms: about 110 bytes at 100 kHz */
    static uint8_t buf[4096];
    client.addr = 0x08;
    cr_assert_eq(sim_i2cdev_read(dev, &client, buf, 100, 0), 100);
    cr_assert_eq(sim_i2cdev_read(dev, &client, buf, sizeof(buf), 0), -ETIMEDOUT);
}

Test(i2cdev, slave_to_an_address_a_kernel_driver_has_bound_is_ebusy_force_takes_it)
{
    sim_i2cdev_bind_address(dev, 0x09, true);
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x09), -EBUSY);
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x08), 0, "the others are free");
    cr_assert_eq(ioctl_value(I2C_SLAVE_FORCE, 0x09), 0);
    cr_assert_eq(client.addr, 0x09);
    sim_i2cdev_bind_address(dev, 0x09, false);
    cr_assert_eq(ioctl_value(I2C_SLAVE, 0x09), 0);
}
