/* The Lynx Distributor slave, driven bit by bit by an open-drain master on the bus model.
 *
 * One file: every section (behaviour, faults, strict timing) runs on the bit-banging master
 * defined at the top; it is the fixture, not a topic of its own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "model/i2c_bus.h"
#include "model/lynx_slave.h"

static struct sim_i2c_bus *bus;
static struct sim_lynx *lynx;

static void setup(void)
{
    bus = sim_i2c_bus_new();
    cr_assert_not_null(bus);
    lynx = sim_lynx_new('A');
    cr_assert_not_null(lynx);
    cr_assert_eq(sim_lynx_attach(lynx, bus), 0);
}

static void teardown(void)
{
    sim_lynx_free(lynx);
    sim_i2c_bus_free(bus);
}

TestSuite(lynx, .init = setup, .fini = teardown);

/* --- an open-drain bit-banging master --- */

/* Each change of the master's drive comes step_ns after the one before: 5 us keeps every UM10204
 * standard-mode interval (the tests of strict timing shorten it). */
static uint64_t now_ns, step_ns = 5000;

static void drive(enum sim_drive scl, enum sim_drive sda)
{
    now_ns += step_ns;
    sim_i2c_bus_set_time(bus, now_ns);
    sim_i2c_bus_set_master(bus, scl, sda);
}

static enum sim_drive level(bool high)
{
    return high ? SIM_DRIVE_FLOAT : SIM_DRIVE_LOW;
}

static void i2c_start(void)
{
    drive(SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
    drive(SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(SIM_DRIVE_LOW, SIM_DRIVE_LOW);
}

/* Expects SCL low (after a bit or a START). */
static void i2c_stop(void)
{
    drive(SIM_DRIVE_LOW, SIM_DRIVE_LOW);
    drive(SIM_DRIVE_FLOAT, SIM_DRIVE_LOW);
    drive(SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
}

/* Repeated START from SCL low. */
static void i2c_restart(void)
{
    drive(SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    i2c_start();
}

/* One clock: put bit on SDA while SCL low, sample while SCL high, drop SCL. Returns SDA. */
static bool i2c_clock(bool bit)
{
    drive(SIM_DRIVE_LOW, level(bit));
    drive(SIM_DRIVE_FLOAT, level(bit));
    bool sda = sim_i2c_bus_sda_level(bus);
    drive(SIM_DRIVE_LOW, level(bit));
    return sda;
}

/* Returns true when the byte was acknowledged. */
static bool i2c_write_byte(uint8_t byte)
{
    for (int bit = 7; bit >= 0; bit--)
        i2c_clock(byte & (1u << bit));
    return !i2c_clock(true);
}

static uint8_t i2c_read_byte(bool ack)
{
    uint8_t byte = 0;
    for (int bit = 0; bit < 8; bit++)
        byte = (uint8_t)(byte << 1 | i2c_clock(true));
    i2c_clock(!ack);
    return byte;
}

/* A complete one-byte read: START, address+R, data with NACK, STOP. Returns the ACK of the
 * address; *status gets the data byte (0xFF when nobody drives SDA). */
static bool read_status(uint8_t address, uint8_t *status)
{
    i2c_start();
    bool acked = i2c_write_byte((uint8_t)(address << 1 | 1));
    *status = i2c_read_byte(false);
    i2c_stop();
    return acked;
}

static void assert_reads(uint8_t expected)
{
    uint8_t status = 0;
    cr_assert(read_status(0x08, &status), "address 0x08 not acknowledged");
    cr_assert_eq(status, expected, "status 0x%02x, expected 0x%02x", status, expected);
}

static void assert_nack(uint8_t address)
{
    uint8_t status = 0;
    cr_assert_not(read_status(address, &status), "address 0x%02x acknowledged", address);
    cr_assert_eq(status, 0xFF, "SDA driven (0x%02x) by a slave that did not ACK", status);
}

/* --- tests --- */

Test(lynx, a_powered_distributor_acks_and_reads_all_fine)
{
    assert_reads(0x00);
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert(sim_i2c_bus_sda_level(bus), "SDA released after the transaction");
}

Test(lynx, each_open_fuse_sets_its_own_bit)
{
    for (int fuse = 1; fuse <= 4; fuse++) {
        sim_lynx_set_fuse_open(lynx, fuse, true);
        assert_reads((uint8_t)(0x10u << (fuse - 1)));
        sim_lynx_set_fuse_open(lynx, fuse, false);
    }
    assert_reads(0x00);
}

Test(lynx, open_fuses_or_together_and_an_empty_distributor_reads_f0)
{
    sim_lynx_set_fuse_open(lynx, 2, true);
    assert_reads(0x20);
    sim_lynx_set_fuse_open(lynx, 4, true);
    assert_reads(0xA0);
    sim_lynx_set_fuse_open(lynx, 1, true);
    sim_lynx_set_fuse_open(lynx, 3, true);
    assert_reads(0xF0);
    cr_assert_eq(sim_lynx_status_byte(lynx), 0xF0);
}

Test(lynx, out_of_range_fuse_numbers_are_ignored)
{
    sim_lynx_set_fuse_open(lynx, 0, true);
    sim_lynx_set_fuse_open(lynx, 5, true);
    sim_lynx_set_fuse_open(lynx, -1, true);
    assert_reads(0x00);
}

Test(lynx, no_busbar_supply_sets_bit_1)
{
    sim_lynx_set_supply(lynx, false);
    assert_reads(SIM_LYNX_NO_SUPPLY);
    sim_lynx_set_fuse_open(lynx, 2, true);
    assert_reads(0x22);
    sim_lynx_set_supply(lynx, true);
    assert_reads(0x20);
}

Test(lynx, an_unpowered_distributor_never_answers)
{
    sim_lynx_set_powered(lynx, false);
    assert_nack(0x08);
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 0);
    sim_lynx_set_powered(lynx, true);
    assert_reads(0x00);
}

Test(lynx, a_detached_distributor_never_answers)
{
    sim_lynx_detach(lynx);
    cr_assert_not(sim_lynx_attached(lynx));
    assert_nack(0x08);
    cr_assert_eq(sim_lynx_attach(lynx, bus), 0);
    cr_assert(sim_lynx_attached(lynx));
    assert_reads(0x00);
}

Test(lynx, other_addresses_are_not_acknowledged)
{
    const uint8_t others[] = {0x00, 0x07, 0x09, 0x0A, 0x0B, 0x0C, 0x18, 0x48, 0x7F};
    for (size_t i = 0; i < sizeof(others); i++)
        assert_nack(others[i]);
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 0);
    assert_reads(0x00);
}

Test(lynx, each_jumper_letter_answers_at_its_own_address)
{
    for (char letter = 'A'; letter <= 'D'; letter++) {
        struct sim_i2c_bus *own_bus = sim_i2c_bus_new();
        struct sim_lynx *dist = sim_lynx_new(letter);
        cr_assert_not_null(dist);
        cr_assert_eq(sim_lynx_letter(dist), letter);
        cr_assert_eq(sim_lynx_address(dist), 0x08 + (letter - 'A'));
        cr_assert_eq(sim_lynx_attach(dist, own_bus), 0);
        sim_lynx_set_fuse_open(dist, 3, true);

        struct sim_i2c_bus *saved = bus;
        bus = own_bus;
        for (uint8_t address = 0x08; address <= 0x0B; address++) {
            uint8_t status = 0;
            bool acked = read_status(address, &status);
            cr_assert_eq(acked, address == sim_lynx_address(dist), "%c at 0x%02x", letter, address);
            cr_assert_eq(status, acked ? 0x40 : 0xFF);
        }
        bus = saved;
        sim_lynx_free(dist);
        sim_i2c_bus_free(own_bus);
    }
}

Test(lynx, bad_letters_are_refused)
{
    cr_assert_null(sim_lynx_new('E'));
    cr_assert_null(sim_lynx_new('a'));
    cr_assert_null(sim_lynx_new('@'));
}

Test(lynx, writes_are_acknowledged_and_ignored)
{
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1));
    cr_assert(i2c_write_byte(0xFF));
    cr_assert(i2c_write_byte(0x00));
    cr_assert(i2c_write_byte(0x5A));
    i2c_stop();
    cr_assert_eq(sim_lynx_stats(lynx)->writes, 3);
    assert_reads(0x00);
}

Test(lynx, an_address_only_probe_is_acknowledged)
{
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1));
    i2c_stop();
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    assert_reads(0x00);
}

Test(lynx, two_reads_in_one_transaction_each_return_the_status_byte)
{
    sim_lynx_set_fuse_open(lynx, 1, true);
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_eq(i2c_read_byte(false), 0x10);
    i2c_restart();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_eq(i2c_read_byte(false), 0x10);
    i2c_stop();
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2);
}

Test(lynx, acknowledged_read_bytes_repeat_the_status_byte)
{
    sim_lynx_set_supply(lynx, false);
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_eq(i2c_read_byte(true), 0x02);
    cr_assert_eq(i2c_read_byte(true), 0x02);
    cr_assert_eq(i2c_read_byte(false), 0x02);
    i2c_stop();
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 3);
}

Test(lynx, a_master_nack_releases_sda_for_the_stop)
{
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    i2c_read_byte(false);
    cr_assert(sim_i2c_bus_sda_level(bus), "SDA still held after the NACK");
    /* More clocks after the NACK read all ones: the slave is out of the transfer. */
    for (int i = 0; i < 9; i++)
        cr_assert(i2c_clock(true));
    i2c_stop();
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 1);
}

Test(lynx, a_state_change_mid_byte_shows_in_the_next_byte_only)
{
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    uint8_t byte = 0;
    for (int bit = 0; bit < 4; bit++)
        byte = (uint8_t)(byte << 1 | i2c_clock(true));
    sim_lynx_set_fuse_open(lynx, 4, true);
    sim_lynx_set_fuse_open(lynx, 1, true);
    for (int bit = 4; bit < 8; bit++)
        byte = (uint8_t)(byte << 1 | i2c_clock(true));
    i2c_clock(false); /* ACK: one more byte */
    cr_assert_eq(byte, 0x00);
    cr_assert_eq(i2c_read_byte(false), 0x90);
    i2c_stop();
}

Test(lynx, losing_power_mid_read_releases_sda_at_once)
{
    sim_lynx_set_fuse_open(lynx, 1, true); /* 0x10: bits 7..5 are zeros */
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_not(sim_i2c_bus_sda_level(bus), "bit 7 (0) driven");
    sim_lynx_set_powered(lynx, false);
    cr_assert(sim_i2c_bus_sda_level(bus), "an unpowered slave still pulls SDA");
    cr_assert_eq(i2c_read_byte(false), 0xFF);
    i2c_stop();

    /* Power back mid-transaction: silent until the next START. */
    i2c_start();
    cr_assert_not(i2c_write_byte(0x08 << 1 | 1));
    sim_lynx_set_powered(lynx, true);
    cr_assert_eq(i2c_read_byte(false), 0xFF);
    i2c_stop();
    assert_reads(0x10);
}

Test(lynx, traffic_for_another_address_leaves_the_slave_idle)
{
    i2c_start();
    cr_assert_not(i2c_write_byte(0x09 << 1 | 1));
    cr_assert_eq(i2c_read_byte(false), 0xFF);
    cr_assert_not(i2c_write_byte(0x08 << 1 | 1), "the data phase is no new address phase");
    i2c_stop();
    assert_reads(0x00);
}

Test(lynx, four_distributors_share_a_bus)
{
    struct sim_lynx *others[3];
    for (int i = 0; i < 3; i++) {
        others[i] = sim_lynx_new((char)('B' + i));
        cr_assert_eq(sim_lynx_attach(others[i], bus), 0);
        sim_lynx_set_fuse_open(others[i], i + 2, true);
    }
    const uint8_t expected[4] = {0x00, 0x20, 0x40, 0x80};
    for (uint8_t address = 0x08; address <= 0x0B; address++) {
        uint8_t status = 0;
        cr_assert(read_status(address, &status));
        cr_assert_eq(status, expected[address - 0x08]);
    }
    assert_nack(0x0C);
    for (int i = 0; i < 3; i++)
        sim_lynx_free(others[i]);
}

Test(lynx, attaching_twice_or_to_a_full_bus_fails)
{
    cr_assert_eq(sim_lynx_attach(lynx, bus), -EBUSY);
    struct sim_i2c_bus *full = sim_i2c_bus_new();
    struct sim_lynx *fillers[SIM_I2C_MAX_DEVICES];
    for (int i = 0; i < SIM_I2C_MAX_DEVICES; i++) {
        fillers[i] = sim_lynx_new('B');
        cr_assert_eq(sim_lynx_attach(fillers[i], full), 0);
    }
    struct sim_lynx *extra = sim_lynx_new('C');
    cr_assert_eq(sim_lynx_attach(extra, full), -ENOSPC);
    cr_assert_not(sim_lynx_attached(extra));
    sim_lynx_free(extra);
    for (int i = 0; i < SIM_I2C_MAX_DEVICES; i++)
        sim_lynx_free(fillers[i]);
    sim_i2c_bus_free(full);
}

/* --- faults --- */

Test(lynx, nack_address_refuses_the_address_until_switched_off)
{
    sim_lynx_set_nack_address(lynx, true);
    assert_nack(0x08);
    i2c_start();
    cr_assert_not(i2c_write_byte(0x08 << 1), "a write address is refused too");
    i2c_stop();
    sim_lynx_set_nack_address(lynx, false);
    assert_reads(0x00);
}

Test(lynx, nack_data_acks_the_address_but_leaves_sda_to_the_pull_up)
{
    sim_lynx_set_fuse_open(lynx, 1, true);
    sim_lynx_set_nack_data(lynx, true);
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    for (int bit = 0; bit < 8; bit++)
        cr_assert(i2c_clock(true), "SDA low in data bit %d", bit);
    i2c_clock(true);
    i2c_stop();
    sim_lynx_set_nack_data(lynx, false);
    assert_reads(0x10);
}

Test(lynx, corrupt_returns_the_exact_byte_count_times_then_the_status_again)
{
    sim_lynx_set_fuse_open(lynx, 2, true);
    sim_lynx_corrupt(lynx, 0x42, 2);
    assert_reads(0x42);
    assert_reads(0x42);
    assert_reads(0x20);
    cr_assert_eq(sim_lynx_stats(lynx)->faulted_reads, 2);
}

Test(lynx, a_corrupt_7f_is_the_slave_letting_go_of_sda_after_one_bit)
{
    sim_lynx_corrupt(lynx, 0x7F, 1);
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_not(i2c_clock(true), "bit 7 driven low");
    /* after the first bit nobody pulls SDA: the master sees it released even while SCL is low */
    sim_i2c_bus_set_master(bus, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    cr_assert(sim_i2c_bus_sda_level(bus), "SDA still held after the truncation point");
    for (int bit = 1; bit < 8; bit++)
        cr_assert(i2c_clock(true));
    i2c_clock(true);
    i2c_stop();
}

Test(lynx, every_truncated_form_reads_back_as_asked)
{
    const uint8_t forms[] = {0x01, 0x03, 0x07, 0x0F, 0x1F, 0x3F, 0x7F, 0xFF, 0x00, 0xA5};
    for (size_t i = 0; i < sizeof(forms); i++) {
        sim_lynx_corrupt(lynx, forms[i], 1);
        assert_reads(forms[i]);
    }
    assert_reads(0x00);
}

Test(lynx, corrupt_with_count_zero_cancels)
{
    sim_lynx_corrupt(lynx, 0x7F, 5);
    sim_lynx_corrupt(lynx, 0x7F, 0);
    assert_reads(0x00);
}

/* Reads n bytes; returns how many differed from expected, checking each is a truncation. */
static unsigned count_truncated(unsigned n, uint8_t expected, uint8_t *log)
{
    unsigned bad = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t status = 0;
        cr_assert(read_status(0x08, &status));
        if (log)
            log[i] = status;
        if (status == expected)
            continue;
        bad++;
        bool is_truncation = false;
        for (unsigned k = 1; k <= 7; k++)
            is_truncation |= status == (uint8_t)((expected & ~(0xFFu >> k)) | (0xFFu >> k));
        cr_assert(is_truncation, "0x%02x is no truncation of 0x%02x", status, expected);
    }
    return bad;
}

Test(lynx, corrupt_rate_truncates_about_that_fraction_reproducibly)
{
    uint8_t first[400], second[400];
    sim_lynx_set_fuse_open(lynx, 3, true); /* 0x40 */
    sim_lynx_set_corrupt_rate(lynx, 0.25, 7);
    unsigned bad = count_truncated(400, 0x40, first);
    cr_assert(bad > 60 && bad < 140, "%u of 400 truncated at rate 0.25", bad);
    cr_assert_eq(sim_lynx_stats(lynx)->faulted_reads, bad);

    sim_lynx_set_corrupt_rate(lynx, 0.25, 7);
    count_truncated(400, 0x40, second);
    cr_assert_arr_eq(first, second, sizeof(first), "the same seed gives the same reads");

    sim_lynx_set_corrupt_rate(lynx, 0.25, 8);
    count_truncated(400, 0x40, second);
    cr_assert(memcmp(first, second, sizeof(first)) != 0, "another seed, other reads");

    sim_lynx_set_corrupt_rate(lynx, 0, 7);
    cr_assert_eq(count_truncated(100, 0x40, NULL), 0, "rate 0 is off");
}

Test(lynx, corrupt_rate_uses_every_truncation_point)
{
    bool seen[8] = {false};
    sim_lynx_set_corrupt_rate(lynx, 1.0, 1);
    for (int i = 0; i < 200; i++) {
        uint8_t status = 0;
        cr_assert(read_status(0x08, &status));
        unsigned k = 0;
        while (k < 8 && status != (0xFFu >> k))
            k++;
        cr_assert(k >= 1 && k <= 7, "0x%02x", status);
        seen[k] = true;
    }
    for (int k = 1; k <= 7; k++)
        cr_assert(seen[k], "never truncated after %d bits", k);
}

Test(lynx, stuck_sda_holds_the_bus_low_until_nine_clock_pulses)
{
    sim_lynx_stick_sda(lynx);
    cr_assert(sim_lynx_sda_stuck(lynx));
    cr_assert_not(sim_i2c_bus_sda_level(bus), "SDA held low at once");
    /* a STOP cannot happen: SDA does not rise (its SCL low-high is pulse 1) */
    i2c_stop();
    cr_assert_not(sim_i2c_bus_sda_level(bus));
    sim_i2c_bus_set_master(bus, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    for (int pulse = 2; pulse <= 8; pulse++) {
        cr_assert_not(i2c_clock(true), "SDA free after %d pulses", pulse);
        cr_assert_not(sim_i2c_bus_sda_level(bus));
    }
    cr_assert_not(i2c_clock(true), "still low while SCL is high in the 9th pulse");
    cr_assert(sim_i2c_bus_sda_level(bus), "released after the 9th pulse");
    cr_assert_not(sim_lynx_sda_stuck(lynx));
    uint64_t transactions = sim_i2c_bus_stats(bus)->transactions;
    i2c_stop();
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, transactions + 1, "the STOP is seen");
    assert_reads(0x00);
}

Test(lynx, stuck_sda_ignores_start_conditions_and_answers_nothing)
{
    sim_lynx_stick_sda(lynx);
    i2c_start();
    for (int bit = 0; bit < 8; bit++)
        cr_assert_not(i2c_clock(true));
    cr_assert_not(i2c_clock(true), "the 9th clock still reads low (a false ACK)");
    cr_assert(sim_i2c_bus_sda_level(bus));
    cr_assert_eq(i2c_read_byte(false), 0xFF, "not addressed: nothing driven after release");
    i2c_stop();
    cr_assert_eq(sim_lynx_stats(lynx)->reads, 0);
    assert_reads(0x00);
}

Test(lynx, losing_power_frees_a_stuck_sda_and_an_unpowered_slave_cannot_stick)
{
    sim_lynx_stick_sda(lynx);
    sim_lynx_set_powered(lynx, false);
    cr_assert(sim_i2c_bus_sda_level(bus));
    sim_lynx_stick_sda(lynx);
    cr_assert_not(sim_lynx_sda_stuck(lynx));
    cr_assert(sim_i2c_bus_sda_level(bus));
}

Test(lynx, a_script_answers_each_read_transaction_in_order_then_normal_resumes)
{
    const int16_t answers[] = {0x7F, SIM_LYNX_SCRIPT_NACK, 0x10};
    sim_lynx_set_fuse_open(lynx, 4, true);
    cr_assert_eq(sim_lynx_script(lynx, answers, 3), 0);
    cr_assert_eq(sim_lynx_script_pending(lynx), 3);

    /* a write transaction does not consume an answer */
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1));
    i2c_stop();
    assert_reads(0x7F);
    assert_nack(0x08);
    /* only the first byte of a scripted read is scripted */
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    cr_assert_eq(i2c_read_byte(true), 0x10);
    cr_assert_eq(i2c_read_byte(false), 0x80);
    i2c_stop();
    cr_assert_eq(sim_lynx_script_pending(lynx), 0);
    assert_reads(0x80);
}

Test(lynx, a_script_wins_over_other_faults_and_rejects_bad_values)
{
    const int16_t answers[] = {0x20};
    const int16_t bad[] = {0x100};
    sim_lynx_set_nack_address(lynx, true);
    sim_lynx_corrupt(lynx, 0x01, 1);
    cr_assert_eq(sim_lynx_script(lynx, answers, 1), 0);
    assert_reads(0x20);
    assert_nack(0x08);
    cr_assert_eq(sim_lynx_script(lynx, bad, 1), -EINVAL);
    cr_assert_eq(sim_lynx_script_pending(lynx), 0);
}

Test(lynx, the_script_queue_refuses_what_does_not_fit)
{
    static int16_t many[SIM_LYNX_SCRIPT_MAX];
    cr_assert_eq(sim_lynx_script(lynx, many, SIM_LYNX_SCRIPT_MAX), 0);
    cr_assert_eq(sim_lynx_script(lynx, many, 1), -ENOSPC);
    cr_assert_eq(sim_lynx_script_pending(lynx), SIM_LYNX_SCRIPT_MAX);
    assert_reads(0x00);
    cr_assert_eq(sim_lynx_script(lynx, many, 1), 0, "room again after one was consumed");
}

Test(lynx, a_fault_switched_on_mid_byte_changes_the_next_byte_only)
{
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    uint8_t byte = 0;
    for (int bit = 0; bit < 3; bit++)
        byte = (uint8_t)(byte << 1 | i2c_clock(true));
    sim_lynx_set_nack_data(lynx, true);
    for (int bit = 3; bit < 8; bit++)
        byte = (uint8_t)(byte << 1 | i2c_clock(true));
    i2c_clock(false);
    cr_assert_eq(byte, 0x00, "the byte being shifted is latched");
    cr_assert_eq(i2c_read_byte(false), 0xFF);
    i2c_stop();
}

/* --- strict timing --- */

Test(lynx, a_well_timed_master_breaks_no_timing_rule)
{
    sim_i2c_bus_set_timing(bus, SIM_I2C_STANDARD, true);
    assert_reads(0x00);
    const struct sim_i2c_timing *t = sim_i2c_bus_timing(bus);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        cr_assert_eq(t->rules[r].violations, 0, "%s", sim_i2c_rule_name(r));
    cr_assert_eq(t->rules[SIM_I2C_T_HIGH].shortest_ns, 5000);
}

Test(lynx, with_strict_timing_a_mistimed_address_is_not_acknowledged)
{
    sim_i2c_bus_set_timing(bus, SIM_I2C_STANDARD, true);
    step_ns = 3000; /* SCL high 3 us, START hold 3 us */
    assert_nack(0x08);
    cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 1);
    step_ns = 5000;
    assert_reads(0x00); /* the next well-timed transaction is answered */
    cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 1);
}

Test(lynx, without_strict_timing_a_mistimed_address_is_answered_and_counted)
{
    step_ns = 3000;
    assert_reads(0x00);
    cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 0);
    cr_assert_gt(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 0);
    cr_assert_gt(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HD_STA].violations, 0);
}

Test(lynx, with_strict_timing_a_mistimed_data_byte_is_still_sent)
{
    /* Only the START and the address decide; a slave that has ACKed carries on. */
    sim_i2c_bus_set_timing(bus, SIM_I2C_STANDARD, true);
    uint8_t status = 0xAA;
    i2c_start();
    cr_assert(i2c_write_byte(0x08 << 1 | 1));
    step_ns = 3000;
    status = i2c_read_byte(false);
    i2c_stop();
    cr_assert_eq(status, 0x00);
    cr_assert_eq(sim_i2c_bus_stats(bus)->timing_aborts, 0);
    cr_assert_gt(sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_HIGH].violations, 0);
}
