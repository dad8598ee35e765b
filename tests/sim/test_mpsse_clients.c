/* The byte sequences real I2C clients send (AN_255, pyftdi; ft232h-mpsse.md) run by the MPSSE
 * engine against a bus with Lynx Distributors (fixture: mpsse_fixture.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpsse_fixture.h"

/* ========================= real client sequences against Lynx Distributors ================ */

Test(mpsse, an255_read_of_a_healthy_distributor_acks_and_returns_00)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x00, 0x00);
    cr_assert_eq(flushes, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0);
    cr_assert_eq(sim_lynx_stats(lynx[0])->reads, 1);
    cr_assert_eq(sim_mpsse_stats(mpsse)->bad_commands, 0);
    assert_lines(true, true);
}

Test(mpsse, an255_read_with_fuse_2_open_returns_20)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 2, true);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x00, 0x20);
}

Test(mpsse, an255_read_of_a_missing_address_gives_nack_bit_1_and_ff)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x09);
    run(&s);
    ASSERT_REPLY(0x01, 0xFF);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(mpsse, an255_read_of_an_unpowered_distributor_is_a_nack)
{
    add_distributors(1);
    sim_lynx_set_powered(lynx[0], false);
    struct seq s = {.n = 0};
    an255_init(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    ASSERT_REPLY(0x01, 0xFF);
}

Test(mpsse, an255_scan_of_four_distributors_in_one_buffer_with_one_flush)
{
    add_distributors(4);
    sim_lynx_set_supply(lynx[1], false);
    sim_lynx_set_fuse_open(lynx[2], 1, true);
    sim_lynx_set_fuse_open(lynx[2], 4, true);
    sim_lynx_detach(lynx[3]);
    struct seq s = {.n = 0};
    an255_init(&s);
    for (uint8_t address = 0x08; address <= 0x0B; address++) {
        an255_start(&s);
        PUT(&s, 0x11, 0x00, 0x00, (uint8_t)(address << 1 | 1), 0x80, 0xFE, 0xFB, 0x22, 0x00);
        PUT(&s, 0x20, 0x00, 0x00, 0x13, 0x00, 0xFF, 0x80, 0xFE, 0xFB);
        an255_stop(&s);
    }
    PUT(&s, 0x87);
    run(&s);
    ASSERT_REPLY(0x00, 0x00, 0x00, 0x02, 0x00, 0x90, 0x01, 0xFF);
    cr_assert_eq(flushes, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 4);
    cr_assert_eq(sim_mpsse_stats(mpsse)->scl_periods, 4 * 18);
    /* 72 bits at 99.5 kHz (10.05 us) + 4 * 22 pin writes and 2 init pin writes at 0.5 us */
    cr_assert_eq(sim_mpsse_stats(mpsse)->bus_time_ns, 72 * 10050 + 90 * 500);
}

Test(mpsse, an255_push_pull_variant_fights_the_ack_but_still_reads_it)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 1, true);
    struct seq s = {.n = 0};
    an255_init_push_pull(&s);
    an255_read_status(&s, 0x08);
    run(&s);
    /* The ACK and the zero data bits are pulled low against the master's push-pull high:
     * wired AND reads them low, and the bus counts the fights. */
    ASSERT_REPLY(0x00, 0x10);
    cr_assert_geq(sim_i2c_bus_stats(bus)->contention, 2);
}

Test(mpsse, pyftdi_read_of_a_distributor_acks_and_returns_the_status_byte)
{
    add_distributors(2);
    sim_lynx_set_supply(lynx[1], false);
    sim_lynx_set_fuse_open(lynx[1], 2, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x09 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x22);
    cr_assert_eq(flushes, 2);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->contention, 0);
    cr_assert_eq(sim_mpsse_scl_hz(mpsse), 100000);
    assert_lines(true, true);
}

Test(mpsse, pyftdi_multi_byte_read_acks_then_nacks_the_last_byte)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 4, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, true);
    pyftdi_read_byte(&s, true);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x80, 0x80, 0x80);
    cr_assert_eq(sim_lynx_stats(lynx[0])->reads, 3);
    assert_lines(true, true);
}

Test(mpsse, pyftdi_write_then_read_is_acked_and_the_write_ignored)
{
    add_distributors(1);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1);
    pyftdi_write_byte(&s, 0x42);
    pyftdi_stop(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    run(&s);
    ASSERT_REPLY(0x00, 0x00, 0x00, 0x00);
    cr_assert_eq(sim_lynx_stats(lynx[0])->writes, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 2);
}

Test(mpsse, pyftdi_retries_a_nacked_address_three_times)
{
    add_distributors(1);
    sim_lynx_detach(lynx[0]);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    for (int attempt = 0; attempt < 3; attempt++) {
        pyftdi_start(&s);
        pyftdi_write_byte(&s, 0x08 << 1 | 1);
        pyftdi_stop(&s);
    }
    run(&s);
    ASSERT_REPLY(0x01, 0x01, 0x01);
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 3);
    cr_assert_eq(flushes, 3);
}

Test(mpsse, pyftdi_byte_by_byte_round_trips_match_one_buffer)
{
    add_distributors(1);
    sim_lynx_set_fuse_open(lynx[0], 3, true);
    struct seq s = {.n = 0};
    pyftdi_init(&s);
    pyftdi_start(&s);
    pyftdi_write_byte(&s, 0x08 << 1 | 1);
    pyftdi_read_byte(&s, false);
    pyftdi_stop(&s);
    /* split at every odd place: 5 bytes, 3 bytes, ... */
    size_t offset = 0, chunk = 5;
    while (offset < s.n) {
        size_t len = s.n - offset < chunk ? s.n - offset : chunk;
        sim_mpsse_write(mpsse, s.b + offset, len);
        offset += len;
        chunk = chunk == 5 ? 3 : 5;
    }
    ASSERT_REPLY(0x00, 0x40);
}
