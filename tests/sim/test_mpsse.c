/* The MPSSE engine: every opcode's effect on pins, bus and reply bytes (pins, bad commands,
 * clocking opcodes, flush and reset, commands split across writes, the opcodes a stray byte may
 * hit). Data shifting is test_mpsse_shift.c, the clock model test_mpsse_timing.c, real clients'
 * byte sequences test_mpsse_clients.c; the fixture is mpsse_fixture.c. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpsse_fixture.h"

/* ========================= pins: 0x80 .. 0x83, 0x9E ========================= */

Test(mpsse, power_on_pins_are_inputs_and_the_bus_floats_high)
{
    assert_lines(true, true);
    SEND(0x81);
    ASSERT_REPLY(0xFF);
    cr_assert_eq(sim_mpsse_read_pins(mpsse), 0xFF);
}

Test(mpsse, set_adbus_drives_scl_from_ad0_and_sda_from_ad1)
{
    SEND(0x80, 0x00, 0x03);
    assert_lines(false, false);
    SEND(0x80, 0x01, 0x03);
    assert_lines(true, false);
    SEND(0x80, 0x02, 0x03);
    assert_lines(false, true);
    SEND(0x80, 0x03, 0x03);
    assert_lines(true, true);
    ASSERT_NO_REPLY();
}

Test(mpsse, an_input_pin_floats_whatever_its_value)
{
    SEND(0x80, 0x00, 0x00);
    assert_lines(true, true);
    SEND(0x80, 0x00, 0x01);
    assert_lines(false, true);
}

Test(mpsse, ad2_is_tied_to_sda_and_drives_it_as_an_output)
{
    SEND(0x80, 0x07, 0x07);
    assert_lines(true, true);
    SEND(0x80, 0x03, 0x07); /* AD1 high, AD2 low: low wins */
    assert_lines(true, false);
    SEND(0x80, 0x05, 0x05); /* AD1 input, AD2 output high */
    assert_lines(true, true);
    SEND(0x80, 0x01, 0x05); /* AD1 input, AD2 output low */
    assert_lines(true, false);
}

Test(mpsse, ad7_as_an_output_does_not_drive_scl)
{
    SEND(0x80, 0x01, 0x81); /* AD7 output low, AD0 high */
    assert_lines(true, true);
}

Test(mpsse, read_adbus_reports_line_levels_and_pulled_up_inputs)
{
    SEND(0x80, 0x00, 0x03, 0x81);
    /* AD0 SCL 0, AD1/AD2 SDA 0, AD3..AD6 inputs 1, AD7 senses SCL 0 */
    ASSERT_REPLY(0x78);
    clear_reply();
    SEND(0x80, 0xA8, 0xFB, 0x81);
    /* AD3..AD7 outputs read their value 1,0,1,0,1; AD0..AD2 low */
    ASSERT_REPLY(0xA8);
    cr_assert_eq(sim_mpsse_read_pins(mpsse), 0xA8);
}

Test(mpsse, read_adbus_sees_a_device_pulling_sda_low)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    SEND(0x81);
    ASSERT_REPLY(0xF9);
}

Test(mpsse, ad7_reads_the_scl_line_as_feedback)
{
    SEND(0x80, 0x00, 0x01, 0x81);
    ASSERT_REPLY(0x7E); /* SCL low: AD0 and AD7 read 0 */
}

Test(mpsse, set_and_read_acbus)
{
    SEND(0x83);
    ASSERT_REPLY(0xFF);
    clear_reply();
    SEND(0x82, 0xA5, 0x0F, 0x83);
    ASSERT_REPLY(0xF5);
    assert_lines(true, true);
}

Test(mpsse, drive_zero_makes_a_one_float_instead_of_fighting_a_device)
{
    probe.hold_sda_low = true;
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "push-pull high against a low device");
    SEND(0x80, 0x01, 0x03); /* drive low: the fight ends */
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "open drain: no new contention");
    assert_lines(true, false);
    SEND(0x80, 0x00, 0x03);
    assert_lines(false, false);
}

Test(mpsse, drive_zero_applies_at_once_to_pins_already_high)
{
    probe.hold_sda_low = true;
    SEND(0x80, 0x03, 0x03);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    SEND(0x9E, 0x02, 0x00);
    probe.hold_sda_low = false;
    sim_i2c_bus_update(bus);
    probe.hold_sda_low = true;
    sim_i2c_bus_update(bus);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1);
    SEND(0x9E, 0x00, 0x00);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 2);
}

Test(mpsse, drive_zero_opcode_is_a_bad_command_without_chip_support)
{
    struct sim_mpsse *ft2232 = sim_mpsse_new(bus, &sink, false);
    const uint8_t cmd[] = {0x9E, 0x07, 0x00, 0x81};
    sim_mpsse_write(ft2232, cmd, sizeof(cmd));
    /* 9E is refused alone, so its arguments are read as opcodes too */
    ASSERT_REPLY(0xFA, 0x9E, 0xFA, 0x07, 0xFA, 0x00, 0xFF);
    cr_assert_eq(sim_mpsse_stats(ft2232)->bad_commands, 3);
    cr_assert_eq(sim_mpsse_stats(ft2232)->commands, 4);
    sim_mpsse_free(ft2232);
}

/* ========================= bad commands ========================= */

static bool is_valid_opcode(unsigned op)
{
    if (op < 0x40 && (op & 0x30))
        return true; /* data shifting */
    switch (op) {
    case 0x4A: /* TMS */
    case 0x4B:
    case 0x6A:
    case 0x6B:
    case 0x6E:
    case 0x6F:
    case 0x88: /* wait on GPIOL1 */
    case 0x89:
    case 0x90: /* MCU host emulation */
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94: /* clock until GPIOL1 */
    case 0x95:
    case 0x9C:
    case 0x9D:
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x8A:
    case 0x8B:
    case 0x8C:
    case 0x8D:
    case 0x8E:
    case 0x8F:
    case 0x96:
    case 0x97:
    case 0x9E:
        return true;
    default:
        return false;
    }
}

Test(mpsse, every_unknown_opcode_is_answered_with_fa_and_the_opcode)
{
    unsigned bad = 0;
    for (unsigned op = 0; op < 256; op++) {
        if (is_valid_opcode(op))
            continue;
        clear_reply();
        uint8_t byte = (uint8_t)op;
        sim_mpsse_write(mpsse, &byte, 1);
        ASSERT_REPLY(0xFA, byte);
        bad++;
    }
    cr_assert_eq(bad, 256 - 81);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, bad);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, bad);
    cr_assert_eq(flushes, 0);
}

Test(mpsse, sync_bytes_aa_and_ab_are_echoed_as_bad_commands_in_stream_order)
{
    SEND(0x81, 0xAA, 0x83, 0xAB, 0x87);
    ASSERT_REPLY(0xFF, 0xFA, 0xAA, 0xFF, 0xFA, 0xAB);
    cr_assert_eq(flushes, 1);
}

Test(mpsse, a_bad_command_does_not_disturb_the_following_command)
{
    SEND(0x00, 0x80, 0x00, 0x03, 0x81);
    ASSERT_REPLY(0xFA, 0x00, 0x78);
}

/* ========================= clocking opcodes 0x8E, 0x8F ========================= */

Test(mpsse, clock_bits_without_data_gives_n_plus_one_clocks_and_keeps_sda)
{
    open_drain_clock_low();
    SEND(0x8E, 0x04);
    cr_assert_str_eq(probe.log, "1f1f1f1f1f");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 5);
    SEND(0x80, 0x00, 0x03);
    probe.log_len = 0;
    SEND(0x8E, 0x01);
    cr_assert_str_eq(probe.log, "0f0f");
    ASSERT_NO_REPLY();
}

Test(mpsse, clock_bytes_without_data_gives_eight_clocks_per_byte)
{
    open_drain_clock_low();
    SEND(0x8F, 0x01, 0x00);
    cr_assert_str_eq(probe_samples(&probe), "1111111111111111");
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16);
    ASSERT_NO_REPLY();
}

Test(mpsse, a_clock_idling_high_falls_first_and_ends_high)
{
    SEND(0x9E, 0x07, 0x00, 0x80, 0x03, 0x03);
    SEND(0x8E, 0x02);
    cr_assert_str_eq(probe.log, "f1f1f1");
    assert_lines(true, true);
}

Test(mpsse, the_bit_length_of_clock_bits_uses_three_bits)
{
    open_drain_clock_low();
    SEND(0x8E, 0x0F); /* 15 & 7 = 7: eight clocks */
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 8);
}

/* ========================= 0x87, 0x96/0x97, reset ========================= */

Test(mpsse, send_immediate_flushes_without_reply_bytes)
{
    SEND(0x87);
    cr_assert_eq(flushes, 1);
    ASSERT_NO_REPLY();
    SEND(0x81, 0x87, 0x87);
    cr_assert_eq(flushes, 3);
    ASSERT_REPLY(0xFF);
}

Test(mpsse, adaptive_clocking_and_loopback_toggles_are_accepted_silently)
{
    SEND(0x96, 0x97, 0x84, 0x85, 0x8C, 0x8D, 0x8A, 0x8B);
    ASSERT_NO_REPLY();
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 8);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
}

Test(mpsse, a_missing_sink_drops_replies)
{
    struct sim_mpsse *quiet = sim_mpsse_new(bus, NULL, true);
    const uint8_t cmd[] = {0x81, 0xAA, 0x87};
    sim_mpsse_write(quiet, cmd, sizeof(cmd));
    cr_assert_eq(sim_mpsse_stats(quiet)->commands, 3);
    sim_mpsse_free(quiet);
    ASSERT_NO_REPLY();
}

Test(mpsse, reset_restores_power_on_state_and_drops_a_partial_command)
{
    SEND(0x8A, 0x8C, 0x84, 0x86, 0x05, 0x00, 0x9E, 0x07, 0x00, 0x80, 0x00, 0x03);
    SEND(0x80, 0x00);
    sim_mpsse_reset(mpsse);
    assert_lines(true, true);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 6000000);
    SEND(0x03); /* not the tail of the dropped 80: a bad opcode of its own */
    ASSERT_REPLY(0xFA, 0x03);

    clear_reply();
    probe.hold_sda_low = true;
    SEND(0x80, 0x02, 0x03, 0x31, 0x00, 0x00, 0xFF);
    ASSERT_REPLY(0x00); /* loopback off again: the bus is read */
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 1, "drive-zero masks cleared");
}

/* ========================= straddled commands ========================= */

Test(mpsse, an_incomplete_command_waits_for_its_remaining_bytes)
{
    SEND(0x80, 0x00);
    assert_lines(true, true);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 0);
    SEND(0x03);
    assert_lines(false, false);
    cr_assert_eq(sim_mpsse_stats(mpsse)->commands, 1);
}

Test(mpsse, a_data_write_split_inside_its_length_and_payload_still_shifts_every_byte)
{
    open_drain_clock_low();
    SEND(0x11, 0x02);
    SEND(0x00, 0xF0);
    SEND(0x0F);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0);
    SEND(0xAA, 0x81);
    cr_assert_str_eq(probe_samples(&probe), "111100000000111110101010");
    ASSERT_REPLY(0x78 | 0x00);
}

Test(mpsse, every_command_fed_byte_by_byte_gives_the_same_replies)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 3, true);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    PUT(&s, 0x81, 0x83, 0xAB, 0x8E, 0x02, 0x8F, 0x00, 0x00, 0x82, 0x55, 0xF0, 0x83);
    for (size_t i = 0; i < s.n; i++)
        sim_mpsse_write(mpsse, &s.b[i], 1);
    ASSERT_REPLY(0x00, 0x40, 0xFF, 0xFF, 0xFA, 0xAB, 0x5F);
    cr_assert_eq(flushes, 2);

    /* The same stream in one write, on a fresh engine and bus. */
    uint8_t byte_by_byte[sizeof(rx)];
    size_t byte_by_byte_len = rx_len;
    memcpy(byte_by_byte, rx, rx_len);
    uint64_t periods = sim_mpsse_stats(mpsse)->scl_periods;
    uint64_t time_ns = sim_mpsse_stats(mpsse)->bus_time_ns;
    clear_reply();
    sim_mpsse_free(mpsse);
    mpsse = sim_mpsse_new(bus, &sink, true);
    run(&s);
    assert_reply(byte_by_byte, byte_by_byte_len);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, periods);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, time_ns);
}

/* ========================= no bus attached ========================= */

Test(mpsse, without_a_bus_the_pins_read_their_own_drive)
{
    struct sim_mpsse *alone = sim_mpsse_new(NULL, &sink, true);
    const uint8_t cmd[] = {0x81, 0x80, 0x00, 0x03, 0x81, 0x84, 0x31, 0x00, 0x00, 0x69, 0x81};
    sim_mpsse_write(alone, cmd, sizeof(cmd));
    /* AD2 is tied to AD1; last 0x31 leaves DO at bit 0 of 0x69 = 1 */
    ASSERT_REPLY(0xFF, 0x78, 0x69, 0x7E);
    cr_assert_eq(sim_mpsse_stats(alone)->scl_periods, 8);
    sim_mpsse_free(alone);
    assert_lines(true, true); /* the fixture's bus untouched */
}

/* --- the opcodes a stray byte may hit: each takes its real length --- */

Test(mpsse, tms_commands_take_three_bytes_and_the_reading_ones_answer_one_byte)
{
    SEND(0x8A, 0x9E, 0x07, 0x00, 0x80, 0x02, 0x0B);
    SEND(0x4B, 0x02, 0x05, 0xAA, 0x87);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 3, "3 TMS bits clocked on TCK");
    clear_reply();
    SEND(0x6B, 0x00, 0x80, 0xAA);
    cr_assert_eq(rx_len, 3, "one byte read, then FA AA");
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAA);
    cr_assert_eq(rx[0] & 0x80, 0x80, "SDA released (DO = bit 7 = 1) reads 1");
    clear_reply();
    SEND(0x6E, 0x06, 0x00, 0x4A, 0x00, 0x00, 0xAA);
    cr_assert_eq(rx_len, 3);
    cr_assert_eq(rx[0] & 0x80, 0, "DO held low by bit 7 = 0: SDA reads 0");
}

Test(mpsse, mcu_host_commands_take_their_length_and_the_reads_shift_the_reply)
{
    SEND(0x90, 0xAA, 0xAB); /* 2 bytes: read short address AA; AB is a bad command */
    cr_assert_eq(rx_len, 3);
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAB);
    clear_reply();
    SEND(0x91, 0xAA, 0xAA, 0x92, 0xAA, 0xAA, 0x93, 0xAA, 0xAA, 0xAA, 0xAB);
    cr_assert_eq(rx_len, 3, "91 answers one byte, 92 and 93 none");
    cr_assert_eq(rx[1], 0xFA);
    cr_assert_eq(rx[2], 0xAB);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 2);
}

Test(mpsse, waiting_for_gpiol1_high_returns_at_once_as_the_pin_floats_high)
{
    SEND(0x88, 0x94, 0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_not(sim_mpsse_stalled(mpsse));
}

Test(mpsse, waiting_for_gpiol1_low_stalls_the_engine_until_a_purge)
{
    SEND(0x89, 0xAA, 0x81, 0x87);
    ASSERT_NO_REPLY();
    cr_assert(sim_mpsse_stalled(mpsse));
    SEND(0xAA);
    ASSERT_NO_REPLY();
    cr_assert_eq(sim_mpsse_stats(mpsse)->stalled_bytes, 4);
    sim_mpsse_purge(mpsse);
    SEND(0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    SEND(0x95); /* clock until low: the same */
    cr_assert(sim_mpsse_stalled(mpsse));
    sim_mpsse_reset(mpsse);
    cr_assert_not(sim_mpsse_stalled(mpsse));
}

Test(mpsse, a_gpiol1_low_output_satisfies_the_wait_for_low)
{
    SEND(0x80, 0x00, 0x20, 0x89, 0xAA); /* AD5 an output driving 0 */
    ASSERT_REPLY(0xFA, 0xAA);
}

Test(mpsse, clock_bytes_until_gpiol1_stops_at_once_for_high_and_clocks_all_for_low)
{
    SEND(0x8A, 0x9C, 0x01, 0x00, 0xAA);
    ASSERT_REPLY(0xFA, 0xAA);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 0, "GPIOL1 is already high");
    SEND(0x9D, 0x01, 0x00);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 16, "2 bytes of clocks: it never goes low");
}
