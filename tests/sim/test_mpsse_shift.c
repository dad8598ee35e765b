/* The MPSSE engine's data-shifting opcodes: data out, data in, in and out, loopback, and the
 * reply each of them gives (fixture: mpsse_fixture.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpsse_fixture.h"

/* ========================= data out ========================= */

Test(mpsse, bytes_out_on_falling_edge_msb_first_are_set_up_before_each_rise)
{
    open_drain_clock_low();
    SEND(0x11, 0x01, 0x00, 0xA5, 0x3C);
    cr_assert_str_eq(probe_samples(&probe), "1010010100111100");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0, "no data change while SCL high");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
    assert_lines(false, false); /* DO keeps the last bit, TCK back at idle */
    ASSERT_NO_REPLY();
}

Test(mpsse, bytes_out_lsb_first_sends_bit_0_first)
{
    open_drain_clock_low();
    SEND(0x19, 0x00, 0x00, 0xA6);
    cr_assert_str_eq(probe_samples(&probe), "01100101");
}

Test(mpsse, bits_out_send_the_top_bits_msb_first)
{
    open_drain_clock_low();
    SEND(0x13, 0x02, 0xA0);
    cr_assert_str_eq(probe_samples(&probe), "101");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 3);
    ASSERT_NO_REPLY();
}

Test(mpsse, bits_out_lsb_first_send_the_low_bits)
{
    open_drain_clock_low();
    SEND(0x1B, 0x03, 0x05);
    cr_assert_str_eq(probe_samples(&probe), "1010");
}

Test(mpsse, bytes_out_on_rising_edge_change_sda_while_scl_is_high)
{
    /* With the clock idling low, a +ve write changes DO just after SCL rises: a device sampling
     * on that edge still sees the previous bit, and each change is a START or STOP. This is why
     * I2C clients use the -ve opcodes. */
    open_drain_clock_low();
    SEND(0x10, 0x00, 0x00, 0x55);
    cr_assert_str_eq(probe_samples(&probe), "10101010");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 4);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 4);
}

Test(mpsse, falling_edge_writes_with_the_clock_idling_high_change_data_after_the_fall)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    probe.log_len = 0;
    SEND(0x11, 0x00, 0x00, 0x96);
    cr_assert_str_eq(probe_samples(&probe), "10010110");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0);
    cr_assert(sim_i2c_bus_scl_level(bus), "TCK ends at its idle level");
}

/* ========================= data in ========================= */

Test(mpsse, bytes_in_on_rising_edge_read_what_a_device_sets_up_after_each_fall)
{
    open_drain_clock_low();
    probe.pattern = "1011001001111110";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x20, 0x01, 0x00);
    ASSERT_REPLY(0xB2, 0x7E);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
}

Test(mpsse, bytes_in_on_falling_edge_sample_before_the_device_reacts_to_the_fall)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x24, 0x00, 0x00);
    ASSERT_REPLY(0xB2);
}

Test(mpsse, the_read_edge_decides_which_bit_a_rise_changing_device_gives)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_RISE;
    sim_i2c_bus_update(bus);
    SEND(0x20, 0x00, 0x00); /* sampled before each rise */
    ASSERT_REPLY(0xB2);

    clear_reply();
    probe.position = 0;
    sim_i2c_bus_update(bus);
    SEND(0x24, 0x00, 0x00); /* sampled before each fall: one bit later, 1 after the end */
    ASSERT_REPLY(0x65);
}

Test(mpsse, bytes_in_lsb_first_put_the_first_bit_at_bit_0)
{
    open_drain_clock_low();
    probe.pattern = "10110010";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x28, 0x00, 0x00);
    ASSERT_REPLY(0x4D);
}

Test(mpsse, bit_reads_land_at_bit_0)
{
    open_drain_clock_low();
    probe.pattern = "101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x22, 0x02);
    ASSERT_REPLY(0x05);

    clear_reply();
    probe.pattern = "0";
    probe.position = 0;
    sim_i2c_bus_update(bus);
    SEND(0x26, 0x00); /* one bit, -ve edge: an ACK reads 0 */
    ASSERT_REPLY(0x00);

    clear_reply();
    probe.pattern = NULL;
    sim_i2c_bus_update(bus);
    SEND(0x22, 0x00); /* nobody drives: NACK */
    ASSERT_REPLY(0x01);
}

Test(mpsse, lsb_first_bit_reads_land_at_the_top)
{
    open_drain_clock_low();
    probe.pattern = "101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    SEND(0x2A, 0x02);
    ASSERT_REPLY(0xA0);
}

Test(mpsse, reads_do_not_move_sda_out)
{
    open_drain_clock_low();
    SEND(0x80, 0x00, 0x03); /* DO low */
    SEND(0x20, 0x00, 0x00);
    ASSERT_REPLY(0x00);
    assert_lines(false, false);
}

/* ========================= data in and out, loopback ========================= */

Test(mpsse, loopback_feeds_do_to_di_instead_of_the_bus)
{
    open_drain_clock_low();
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    SEND(0x84, 0x31, 0x01, 0x00, 0x12, 0x34);
    ASSERT_REPLY(0x12, 0x34);

    clear_reply();
    SEND(0x85, 0x31, 0x01, 0x00, 0x12, 0x34);
    ASSERT_REPLY(0x00, 0x00);
}

Test(mpsse, bits_in_and_out_in_loopback_land_at_bit_0)
{
    SEND(0x84, 0x80, 0x00, 0x03, 0x33, 0x03, 0xF0);
    ASSERT_REPLY(0x0F);
    clear_reply();
    SEND(0x33, 0x02, 0x40);
    ASSERT_REPLY(0x02);
}

Test(mpsse, in_and_out_with_opposite_edges_round_trip_in_loopback)
{
    const uint8_t ops[] = {0x31, 0x34, 0x39, 0x3C};
    SEND(0x84, 0x80, 0x00, 0x03);
    for (size_t i = 0; i < sizeof(ops); i++) {
        clear_reply();
        const uint8_t cmd[] = {ops[i], 0x02, 0x00, 0xC3, 0x5A, 0x01};
        sim_mpsse_write(mpsse, cmd, sizeof(cmd));
        ASSERT_REPLY(0xC3, 0x5A, 0x01);
    }
}

Test(mpsse, in_and_out_reads_the_bus_without_loopback)
{
    open_drain_clock_low();
    probe.pattern = "0000111100110101";
    probe.advance = ADVANCE_ON_FALL;
    sim_i2c_bus_update(bus);
    /* open drain: writing 0xFF releases SDA so the device's bits are read */
    SEND(0x31, 0x01, 0x00, 0xFF, 0xFF);
    ASSERT_REPLY(0x0F, 0x35);
}

Test(mpsse, every_data_shifting_opcode_replies_by_its_read_bit_and_length)
{
    SEND(0x84, 0x80, 0x00, 0x03);
    for (unsigned op = 0; op < 0x40; op++) {
        if (!(op & 0x30))
            continue;
        clear_reply();
        uint64_t periods = sim_mpsse_stats(mpsse)->scl_periods;
        bool bits = op & 0x02, writes = op & 0x10, reads = op & 0x20;
        uint8_t cmd[8] = {(uint8_t)op};
        size_t len;
        if (bits) {
            cmd[1] = 0x04;
            cmd[2] = 0xAA;
            len = writes ? 3 : 2;
        } else {
            cmd[1] = 0x02;
            cmd[2] = 0x00;
            cmd[3] = 0x11;
            cmd[4] = 0x22;
            cmd[5] = 0x33;
            len = writes ? 6 : 3;
        }
        sim_mpsse_write(mpsse, cmd, len);
        size_t expected_reply = reads ? (bits ? 1 : 3) : 0;
        cr_assert_eq(rx_len, expected_reply, "opcode %02X: %zu reply bytes", op, rx_len);
        cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods - periods, bits ? 5 : 24, "opcode %02X",
                     op);
    }
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 1 + 1 + 48);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
}
