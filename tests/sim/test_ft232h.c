/* Unit tests of the FT232H USB device model (model/ft232h.c): bulk framing and the latency
 * timer, chip variants, faults. The control side is test_ft232h_control.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ft232h_fixture.h"
#include "model/i2c_bus.h"

/* ---- bulk framing ---- */

Test(ft232h, pin_read_with_send_immediate_completes_at_once_with_status_bytes)
{
    const uint8_t cmd[] = {0x80, 0x70, 0x70, 0x81, 0x87};
    uint8_t buf[512];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(cmd, sizeof(cmd), T0);
    cr_assert_eq(sim_ft232h_queued(dev), 1);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_eq(buf[2], sim_mpsse_read_pins(sim_ft232h_mpsse(dev)));
    cr_assert_eq(buf[2] & 0x70, 0x70);
    cr_assert_eq(sim_ft232h_queued(dev), 0);
}

Test(ft232h, reply_without_send_immediate_waits_for_the_latency_timer)
{
    const uint8_t cmd[] = {0x81};
    uint8_t buf[512];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(cmd, sizeof(cmd), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 1 * MS, &wake), 0);
    cr_assert_eq(wake, T0 + 16 * MS);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 16 * MS - 1, &wake), 0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 16 * MS, &wake), 3);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
}

Test(ft232h, idle_read_gets_a_bare_status_packet_when_the_latency_timer_expires)
{
    uint8_t buf[64];
    uint64_t wake = 0;

    cr_assert_eq(vendor_out(0x09, 5), 0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0);
    cr_assert_eq(wake, T0 + 5 * MS);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), wake, &wake), 2);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);

    /* the timer restarts with every packet sent */
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 6 * MS, &wake), 0);
    cr_assert_eq(wake, T0 + 10 * MS);
}

Test(ft232h, a_read_after_a_long_idle_gap_completes_at_once)
{
    uint8_t buf[64];
    uint64_t wake = 0;

    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 16 * MS, &wake), 2);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 500 * MS, &wake), 2,
                 "the timer expired long ago: the status packet is ready");
}

Test(ft232h, a_command_straddling_two_transfers_is_executed_once_complete)
{
    const uint8_t first[] = {0x80, 0x70}, second[] = {0x70, 0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(first, sizeof(first), T0);
    cr_assert_eq(sim_ft232h_queued(dev), 0);
    bulk_send(second, sizeof(second), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3);
    cr_assert_eq(buf[2] & 0x70, 0x70, "the set-pins command took both halves as arguments");
}

Test(ft232h, bulk_out_outside_mpsse_mode_is_accepted_and_dropped)
{
    const uint8_t cmd[] = {0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    bulk_send(cmd, sizeof(cmd), T0);
    cr_assert_eq(sim_ft232h_queued(dev), 0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0, "no flush either");
    cr_assert_eq(sim_ft232h_stats(dev)->bytes_out, 2);
}

static void queue_pin_reads(size_t n, bool flush)
{
    uint8_t cmd[2048];
    cr_assert(n < sizeof(cmd));
    memset(cmd, 0x81, n);
    if (flush)
        cmd[n++] = 0x87;
    bulk_send(cmd, n, T0);
}

static size_t read_in(uint8_t *buf, size_t max, uint64_t now, int *status)
{
    uint64_t wake = 0;
    return sim_ft232h_bulk_in_status(dev, 0, buf, max, now, &wake, status);
}

Test(ft232h, a_request_smaller_than_the_packet_the_chip_sends_overflows_and_loses_the_rest)
{
    uint8_t buf[8];
    int status = 1;

    enter_mpsse();
    queue_pin_reads(5, true); /* the chip sends one 7-byte packet */
    memset(buf, 0xEE, sizeof(buf));
    cr_assert_eq(read_in(buf, 4, T0, &status), 4, "what fits is kept");
    cr_assert_eq(status, -EOVERFLOW);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[4], 0xEE, "nothing written past max");
    cr_assert_eq(sim_ft232h_queued(dev), 0, "the packet's rest is lost, not kept queued");
    cr_assert_eq(sim_ft232h_stats(dev)->in_overflows, 1);
}

Test(ft232h, a_request_that_holds_the_whole_packet_does_not_overflow)
{
    uint8_t buf[8];
    int status = 1;

    enter_mpsse();
    queue_pin_reads(5, true);
    cr_assert_eq(read_in(buf, 7, T0, &status), 7);
    cr_assert_eq(status, 0);
    cr_assert_eq(sim_ft232h_stats(dev)->in_overflows, 0);
}

Test(ft232h, a_request_of_whole_packets_takes_whole_packets_and_the_rest_stays_queued)
{
    static uint8_t buf[1024];
    int status = 1;

    enter_mpsse();
    queue_pin_reads(1200, true);
    cr_assert_eq(read_in(buf, 1024, T0, &status), 1024);
    cr_assert_eq(status, 0);
    cr_assert_eq(sim_ft232h_queued(dev), 1200 - 2 * 510);
}

Test(ft232h, a_1_byte_request_overflows_even_on_a_bare_status_packet)
{
    uint8_t buf[2];
    int status = 1;

    enter_mpsse();
    queue_pin_reads(0, true);
    cr_assert_eq(read_in(buf, 1, T0, &status), 1);
    cr_assert_eq(status, -EOVERFLOW);
    cr_assert_eq(buf[0], 0x32);
}

Test(ft232h, a_long_reply_gets_status_bytes_at_the_start_of_every_512_byte_packet)
{
    static uint8_t buf[1024];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(600, true);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 512 + 2 + 90);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_eq(buf[512], 0x32);
    cr_assert_eq(buf[513], 0x60);
    cr_assert_eq(buf[511], buf[2], "payload bytes are pin reads");
    cr_assert_eq(buf[514], buf[2]);
}

Test(ft232h, a_full_packet_leaves_without_waiting_for_the_timer)
{
    static uint8_t buf[512];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(509, false);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0);
    queue_pin_reads(1, false);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 512);
}

Test(ft232h, a_two_byte_request_overflows_when_data_is_queued)
{
    uint8_t buf[2];
    int status = 1;

    enter_mpsse();
    queue_pin_reads(1, true);
    cr_assert_eq(read_in(buf, 2, T0, &status), 2);
    cr_assert_eq(status, -EOVERFLOW, "the chip sends 32 60 + 1 byte");
    cr_assert_eq(sim_ft232h_queued(dev), 0);
}

Test(ft232h, send_immediate_with_nothing_queued_sends_a_bare_status_packet_at_once)
{
    const uint8_t cmd[] = {0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(cmd, sizeof(cmd), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 2);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0, "flush is consumed");
}

Test(ft232h, purging_the_chip_to_host_buffer_empties_the_in_queue)
{
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(4, true);
    cr_assert_eq(vendor_out(0x00, 2), 0);
    cr_assert_eq(sim_ft232h_queued(dev), 0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0, "the flush is gone");
    cr_assert(sim_ft232h_mpsse_enabled(dev), "purge keeps the bit mode");
}

Test(ft232h, purging_the_host_to_chip_buffer_drops_a_partial_command)
{
    const uint8_t partial[] = {0x80, 0x70}, read[] = {0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(partial, sizeof(partial), T0);
    cr_assert_eq(vendor_out(0x00, 1), 0);
    bulk_send(read, sizeof(read), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3,
                 "81 is a command again, not the argument of 80");
}

Test(ft232h, purging_the_host_to_chip_buffer_keeps_the_pin_setup)
{
    const uint8_t drive_high[] = {0x80, 0x70, 0x70}, read[] = {0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(drive_high, sizeof(drive_high), T0);
    cr_assert_eq(vendor_out(0x00, 1), 0);
    bulk_send(read, sizeof(read), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3);
    cr_assert_eq(buf[2] & 0x70, 0x70, "a recovery purge must not undo the client's pin set-up");
}

Test(ft232h, reset_empties_the_queue_and_drops_a_partial_command)
{
    const uint8_t partial[] = {0x80}, read[] = {0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(3, false);
    bulk_send(partial, sizeof(partial), T0);
    cr_assert_eq(vendor_out(0x00, 0), 0);
    cr_assert_eq(sim_ft232h_queued(dev), 0);
    bulk_send(read, sizeof(read), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3);
}

/* A RESET floats every pin when it arrives, not when the last commands ended: SCL held low by
 * the last transfer is low until the RESET a millisecond later. */
Test(ft232h, a_reset_releases_the_pins_when_it_arrives)
{
    struct sim_i2c_bus *bus = sim_i2c_bus_new();
    cr_assert_not_null(bus);
    const struct sim_ft232h_config cfg = {.vid = SIM_FTDI_VID, .pid = SIM_LYNX_ADAPTER_PID};
    struct sim_ft232h *d = sim_ft232h_new(&cfg, bus);
    cr_assert_not_null(d);
    const struct sim_usb_setup mpsse = {VENDOR, 0x0B, 0x0200, 1, 0};
    const struct sim_usb_setup reset = {VENDOR, 0x00, 0, 1, 0};
    sim_ft232h_advance_to(d, T0);
    cr_assert_eq(sim_ft232h_control(d, &mpsse, NULL), 0);
    const uint8_t clock_low[] = {0x8A, 0x9E, 0x07, 0x00, 0x80, 0x00, 0x03};
    cr_assert_eq(sim_ft232h_bulk_out(d, clock_low, sizeof(clock_low), T0), sizeof(clock_low));
    cr_assert_not(sim_i2c_bus_scl_level(bus));
    sim_ft232h_advance_to(d, T0 + MS);
    cr_assert_eq(sim_ft232h_control(d, &reset, NULL), 0);
    cr_assert(sim_i2c_bus_scl_level(bus));
    const struct sim_i2c_rule_stats *low = &sim_i2c_bus_timing(bus)->rules[SIM_I2C_T_LOW];
    cr_assert_eq(low->shortest_ns, MS, "SCL low from T0 to the RESET");
    cr_assert_eq(low->violations, 0);
    sim_ft232h_free(d);
    sim_i2c_bus_free(bus);
}

Test(ft232h, set_bitmode_drops_a_partial_command)
{
    const uint8_t partial[] = {0x86, 0x00}, read[] = {0x81, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    bulk_send(partial, sizeof(partial), T0);
    enter_mpsse();
    bulk_send(read, sizeof(read), T0);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 3);
}

Test(ft232h, stats_count_transfers_and_bytes_in_each_direction)
{
    const uint8_t cmd[] = {0x81, 0x81, 0x87};
    uint8_t buf[64], value;
    uint64_t wake = 0;

    enter_mpsse();                                                  /* control out 1 */
    ctl(DIR_IN | VENDOR, 0x0A, 0, 1, 1, &value);                    /* control in 1 */
    ctl(STD_DEV, 0x05, 7, 0, 0, NULL);                              /* stalled: not counted */
    bulk_send(cmd, sizeof(cmd), T0);                                /* bulk out 3 bytes */
    sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake);           /* 4 bytes */
    sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake);           /* waits: not counted */
    sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 16 * MS, &wake); /* bare status: 2 bytes */

    const struct sim_ft232h_stats *st = sim_ft232h_stats(dev);
    cr_assert_eq(st->control_out, 1);
    cr_assert_eq(st->control_in, 1);
    cr_assert_eq(st->bulk_out, 1);
    cr_assert_eq(st->bytes_out, 3);
    cr_assert_eq(st->bulk_in, 2);
    cr_assert_eq(st->bytes_in, 6);
}

/* ---- chip variants ---- */

static struct sim_ft232h *make_chip(enum sim_ftdi_chip chip, uint16_t pid)
{
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = pid, .serial = "VAR1", .chip = chip};
    struct sim_ft232h *d = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(d);
    return d;
}

static void string_of(uint8_t index, char *out, size_t max)
{
    uint8_t data[255];
    int n = ctl(DIR_IN | STD_DEV, 0x06, (uint16_t)(0x0300 | index), 0x0409, 255, data);
    cr_assert_gt(n, 2);
    size_t chars = (size_t)(n - 2) / 2;
    cr_assert_lt(chars, max);
    for (size_t i = 0; i < chars; i++)
        out[i] = (char)data[2 + 2 * i];
    out[chars] = '\0';
}

Test(ft232h, an_ft2232h_has_two_interfaces_with_their_own_endpoints)
{
    const uint8_t expected[9 + 2 * 23] = {
        9, 2, 55,   0, 2, 1,    0,    0x80, 45, /* two interfaces */
        9, 4, 0,    0, 2, 0xFF, 0xFF, 0xFF, 2,  /* A */
        7, 5, 0x81, 2, 0, 2,    0,    7,    5,  0x02, 2, 0, 2, 0,
        9, 4, 1,    0, 2, 0xFF, 0xFF, 0xFF, 2, /* B */
        7, 5, 0x83, 2, 0, 2,    0,    7,    5,  0x04, 2, 0, 2, 0};
    uint8_t buf[256];
    char product[64];

    sim_ft232h_free(dev);
    dev = make_chip(SIM_CHIP_FT2232H, SIM_FT2232H_PID);
    cr_assert_eq(sim_ft232h_descriptors(dev, buf, sizeof(buf)), 18 + sizeof(expected));
    cr_assert_eq(buf[12] | buf[13] << 8, 0x0700, "bcdDevice");
    cr_assert_eq(buf[10] | buf[11] << 8, 0x6010);
    cr_assert_arr_eq(buf + 18, expected, sizeof(expected));
    cr_assert_eq(ctl(DIR_IN | STD_DEV, 0x06, 0x0200, 0, 255, buf), (int)sizeof(expected));
    cr_assert_arr_eq(buf, expected, sizeof(expected));
    string_of(2, product, sizeof(product));
    cr_assert_str_eq(product, "Dual RS232-HS");
    cr_assert_eq(sim_ft232h_ports(dev), 2);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x81), 0);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x02), 0);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x83), 1);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x04), 1);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x85), -EINVAL);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x82), -EINVAL, "an OUT number with the IN bit");
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x01), -EINVAL);
}

Test(ft232h, an_ft232h_has_only_endpoints_0x81_and_0x02)
{
    cr_assert_eq(sim_ft232h_ports(dev), 1);
    cr_assert_eq(sim_ft232h_bcd_device(dev), 0x0900);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x81), 0);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x02), 0);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x83), -EINVAL);
    cr_assert_eq(sim_ft232h_endpoint_port(dev, 0x04), -EINVAL);
    cr_assert_eq(vendor_out(0x09, 5), 0);
    cr_assert_eq(ctl(VENDOR, 0x09, 5, 2, 0, NULL), -EPIPE, "no port B");
}

Test(ft232h, an_ft2232h_answers_drive_zero_with_a_bad_command_echo)
{
    const uint8_t cmd[] = {0x9E, 0x07, 0x00, 0x87};
    uint8_t buf[64];
    uint64_t wake = 0;

    sim_ft232h_free(dev);
    dev = make_chip(SIM_CHIP_FT2232H, SIM_FT2232H_PID);
    enter_mpsse();
    bulk_send(cmd, sizeof(cmd), T0);
    /* FA 9E, then 07 and 00 are opcodes of their own: 07 is bad too, 00 as well */
    cr_assert_geq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 4);
    cr_assert_eq(buf[2], 0xFA);
    cr_assert_eq(buf[3], 0x9E);
}

Test(ft232h, port_b_of_an_ft2232h_is_a_second_mpsse_with_its_own_buffers)
{
    const uint8_t cmd[] = {0x80, 0x70, 0x70, 0x81, 0x87};
    uint8_t buf[64], latency = 0;
    uint64_t wake = 0;

    sim_ft232h_free(dev);
    dev = make_chip(SIM_CHIP_FT2232H, SIM_FT2232H_PID);
    cr_assert_eq(ctl(VENDOR, 0x0B, 0x0200, 2, 0, NULL), 0, "SET_BITMODE MPSSE on B");
    cr_assert_eq(ctl(VENDOR, 0x09, 7, 2, 0, NULL), 0);
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0A, 0, 2, 1, &latency), 1);
    cr_assert_eq(latency, 7);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 16, "port A keeps its own timer");
    cr_assert_not(sim_ft232h_mpsse_enabled(dev), "port A is still in reset mode");
    cr_assert_eq(sim_ft232h_bulk_out_port(dev, 1, cmd, sizeof(cmd), T0), sizeof(cmd));
    cr_assert_eq(sim_ft232h_queued(dev), 0, "nothing on port A");
    cr_assert_eq(sim_ft232h_bulk_in_port(dev, 1, buf, sizeof(buf), T0, &wake), 3);
    cr_assert_eq(buf[2] & 0x70, 0x70);
    cr_assert_not_null(sim_ft232h_port_mpsse(dev, 1));
    cr_assert_eq(ctl(VENDOR, 0x09, 7, 3, 0, NULL), -EPIPE, "no port C on an FT2232H");
}

Test(ft232h, an_ft4232h_has_four_interfaces_and_mpsse_on_a_and_b_only)
{
    const uint8_t cmd[] = {0x81, 0x87};
    uint8_t buf[256];
    uint64_t wake = 0;
    char product[64];

    sim_ft232h_free(dev);
    dev = make_chip(SIM_CHIP_FT4232H, SIM_FT4232H_PID);
    cr_assert_eq(sim_ft232h_descriptors(dev, buf, sizeof(buf)), 18 + 9 + 4 * 23);
    cr_assert_eq(buf[12] | buf[13] << 8, 0x0800);
    cr_assert_eq(buf[18 + 4], 4, "bNumInterfaces");
    const uint8_t *d = buf + 18 + 9 + 3 * 23;
    cr_assert_eq(d[2], 3, "interface D");
    cr_assert_eq(d[9 + 2], 0x87);
    cr_assert_eq(d[16 + 2], 0x08);
    string_of(2, product, sizeof(product));
    cr_assert_str_eq(product, "Quad RS232-HS");
    cr_assert_not_null(sim_ft232h_port_mpsse(dev, 1));
    cr_assert_null(sim_ft232h_port_mpsse(dev, 2));
    cr_assert_null(sim_ft232h_port_mpsse(dev, 3));

    cr_assert_eq(ctl(VENDOR, 0x0B, 0x0200, 3, 0, NULL), 0, "the request is taken on C");
    cr_assert_eq(sim_ft232h_bulk_out_port(dev, 2, cmd, sizeof(cmd), T0), sizeof(cmd));
    cr_assert_eq(sim_ft232h_bulk_in_port(dev, 2, buf, sizeof(buf), T0, &wake), 0,
                 "no MPSSE on C: nothing answers, not even the flush");
    cr_assert_eq(sim_ft232h_bulk_in_port(dev, 2, buf, sizeof(buf), wake, &wake), 2);
}

/* ---- faults ---- */

Test(ft232h, usb_error_stalls_the_next_transfers_in_either_direction)
{
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), 0);
    sim_ft232h_fail_bulk(dev, 2);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, false), -EPIPE);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), -EPIPE);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), 0);
    sim_ft232h_fail_bulk(dev, 5);
    sim_ft232h_fail_bulk(dev, 0);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, false), 0, "a count of 0 disarms");
}

Test(ft232h, usb_timeout_hangs_only_in_transfers)
{
    sim_ft232h_hang_bulk_in(dev, 1);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, false), 0);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), -ETIMEDOUT);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), 0);
}

Test(ft232h, a_short_read_takes_half_and_leaves_the_rest_for_the_next_transfer)
{
    uint8_t buf[512];
    uint64_t wake = 0;

    enter_mpsse();
    sim_ft232h_short_reads(dev, 1);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0, "timer started");
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 100 * MS, &wake), 2,
                 "an idle read does not use up the short read");
    queue_pin_reads(10, true);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 100 * MS, &wake), 2 + 5);
    cr_assert_eq(sim_ft232h_queued(dev), 5);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 100 * MS, &wake), 2 + 5,
                 "the rest is still flushed at once");
    queue_pin_reads(10, true);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0 + 100 * MS, &wake), 2 + 10);
}

Test(ft232h, a_short_read_halves_what_fits_in_the_transfer)
{
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(100, true);
    sim_ft232h_short_reads(dev, 2);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, 34, T0, &wake), 2 + 16);
    cr_assert_eq(sim_ft232h_queued(dev), 84);
    queue_pin_reads(0, false);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, 3, T0, &wake), 2, "one byte fits: half is none");
    cr_assert_eq(sim_ft232h_queued(dev), 84);
}

Test(ft232h, an_empty_read_completes_at_once_with_bare_status_and_keeps_the_data)
{
    uint8_t buf[64];
    uint64_t wake = 0;

    enter_mpsse();
    queue_pin_reads(3, true);
    sim_ft232h_empty_reads(dev, 2);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 2);
    cr_assert_eq(buf[0], 0x32);
    cr_assert_eq(buf[1], 0x60);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 2);
    cr_assert_eq(sim_ft232h_queued(dev), 3);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 2 + 3);
    cr_assert_eq(sim_ft232h_stats(dev)->bulk_in, 3);
}

Test(ft232h, the_latency_setter_changes_the_timer_as_the_request_would)
{
    uint8_t buf[64], latency = 0;
    uint64_t wake = 0;

    sim_ft232h_set_latency_ms(dev, 200);
    cr_assert_eq(ctl(DIR_IN | VENDOR, 0x0A, 0, 1, 1, &latency), 1);
    cr_assert_eq(latency, 200);
    cr_assert_eq(sim_ft232h_bulk_in(dev, buf, sizeof(buf), T0, &wake), 0);
    cr_assert_eq(wake, T0 + 200 * MS);
    sim_ft232h_set_latency_ms(dev, 0);
    cr_assert_eq(sim_ft232h_latency_ms(dev), 1);
}
