/* The daemon's I2C commands on the simulated bus: the scan of an FT232H (drive-zero) and of an
 * FT2232H/FT4232H (open drain emulated by SDA's direction) run through the simulator's MPSSE
 * engine with Lynx Distributors attached, plus the scan's bus check (pin levels, FA AA echo) and
 * the recovery of a bus a distributor holds stuck. Also the chip detection from bcdDevice. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "transport/mpsse/ftdi_usb.h"
#include "model/i2c_bus.h"
#include "model/lynx_slave.h"
#include "model/mpsse.h"
#include "transport/mpsse/mpsse_i2c.h"

#define PIN_SCL   0x01u
#define PIN_SDA_O 0x02u
#define PIN_SDA_I 0x04u

struct reply {
    uint8_t bytes[512];
    size_t len;
};

static void on_data(void *ctx, const uint8_t *bytes, size_t len)
{
    struct reply *r = ctx;
    cr_assert_leq(r->len + len, sizeof(r->bytes));
    memcpy(r->bytes + r->len, bytes, len);
    r->len += len;
}

static void on_flush(void *ctx)
{
    (void)ctx;
}

/* A bus with distributors A and C (A: fuse 2 open, C: no busbar supply) and an engine of the
 * chip under test, set up with the daemon's own init sequence. */
struct rig {
    struct sim_i2c_bus *bus;
    struct sim_lynx *a, *c;
    struct sim_mpsse *mpsse;
    struct reply reply;
    struct mpsse_i2c_scan scan;
};

static void rig_up(struct rig *rig, enum mpsse_i2c_drive drive)
{
    memset(rig, 0, sizeof(*rig));
    rig->bus = sim_i2c_bus_new();
    rig->a = sim_lynx_new('A');
    rig->c = sim_lynx_new('C');
    cr_assert(rig->bus && rig->a && rig->c);
    cr_assert_eq(sim_lynx_attach(rig->a, rig->bus), 0);
    cr_assert_eq(sim_lynx_attach(rig->c, rig->bus), 0);
    sim_lynx_set_fuse_open(rig->a, 2, true);
    sim_lynx_set_supply(rig->c, false);
    struct sim_mpsse_sink sink = {.data = on_data, .flush = on_flush, .ctx = &rig->reply};
    rig->mpsse = sim_mpsse_new(rig->bus, &sink, drive == MPSSE_I2C_DRIVE_ZERO);
    cr_assert(rig->mpsse);

    rig->scan = (struct mpsse_i2c_scan){
        .addresses = {0x08, 0x09, 0x0A, 0x0B}, .n_addresses = 4, .rounds = 2, .check_bus = true};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &rig->scan.clock), 0);
    rig->scan.clock.drive = drive;
    uint8_t init[MPSSE_I2C_INIT_LEN];
    ssize_t n = mpsse_i2c_build_init(&rig->scan.clock, init, sizeof(init));
    cr_assert_gt(n, 0);
    sim_mpsse_write(rig->mpsse, init, (size_t)n);
    cr_assert_eq(rig->reply.len, 0, "the init sequence has no reply (no FA for an unknown opcode)");
}

static void rig_down(struct rig *rig)
{
    sim_mpsse_free(rig->mpsse);
    sim_lynx_free(rig->a);
    sim_lynx_free(rig->c);
    sim_i2c_bus_free(rig->bus);
}

/* Runs the scan; returns the reads, the reply left in rig->reply. */
static void run_scan(struct rig *rig, struct mpsse_i2c_read reads[8])
{
    uint8_t cmd[2048];
    ssize_t n = mpsse_i2c_build_scan(&rig->scan, cmd, sizeof(cmd));
    cr_assert_gt(n, 0);
    rig->reply.len = 0;
    sim_mpsse_write(rig->mpsse, cmd, (size_t)n);
    cr_assert_eq(rig->reply.len, mpsse_i2c_scan_reply_len(&rig->scan));
    cr_assert_eq(mpsse_i2c_parse_scan(&rig->scan, rig->reply.bytes, rig->reply.len, reads, 8), 8);
}

static void expect_lynx_reads(const struct mpsse_i2c_read reads[8])
{
    for (unsigned round = 0; round < 2; round++) {
        const struct mpsse_i2c_read *r = &reads[round * 4];
        cr_expect(r[0].acked && r[0].data == 0x20, "A: ACK 0x20, got %d 0x%02X", r[0].acked,
                  r[0].data);
        cr_expect(!r[1].acked, "B is absent");
        cr_expect(r[2].acked && r[2].data == 0x02, "C: ACK 0x02, got %d 0x%02X", r[2].acked,
                  r[2].data);
        cr_expect(!r[3].acked, "D is absent");
    }
}

static void expect_idle_levels(struct rig *rig)
{
    uint8_t before = 0, after = 0;
    cr_assert_eq(
        mpsse_i2c_scan_levels(&rig->scan, rig->reply.bytes, rig->reply.len, &before, &after), 0);
    cr_expect(mpsse_i2c_bus_idle(before), "levels before 0x%02X", before);
    cr_expect(mpsse_i2c_bus_idle(after), "levels after 0x%02X", after);
}

Test(bus_robustness, ft232h_scan_reads_every_distributor_without_contention)
{
    struct rig rig;
    rig_up(&rig, MPSSE_I2C_DRIVE_ZERO);
    struct mpsse_i2c_read reads[8];
    run_scan(&rig, reads);
    expect_lynx_reads(reads);
    expect_idle_levels(&rig);
    cr_expect_eq(sim_i2c_bus_stats(rig.bus)->contention, 0);
    cr_expect_eq(sim_mpsse_stats(rig.mpsse)->bad_commands, 1, "only the AA of the check");
    rig_down(&rig);
}

Test(bus_robustness, ft2232h_scan_emulates_open_drain_and_reads_every_distributor)
{
    struct rig rig;
    rig_up(&rig, MPSSE_I2C_DRIVE_DIRECTION);
    struct mpsse_i2c_read reads[8];
    run_scan(&rig, reads);
    expect_lynx_reads(reads);
    expect_idle_levels(&rig);
    /* SDA is never driven high against a distributor pulling it low (ACK, data bits) */
    cr_expect_eq(sim_i2c_bus_stats(rig.bus)->contention, 0);
    cr_expect_eq(sim_mpsse_stats(rig.mpsse)->bad_commands, 1, "no 9E: only the AA of the check");
    cr_expect_eq(sim_i2c_bus_stats(rig.bus)->transactions, 8);
    rig_down(&rig);
}

Test(bus_robustness, ft232h_bytes_on_a_chip_without_drive_zero_fight_the_distributors)
{
    /* why the FT2232H needs its own bytes: without 9E every 1 is driven high push-pull */
    struct rig rig;
    rig_up(&rig, MPSSE_I2C_DRIVE_DIRECTION);
    rig.scan.clock.drive = MPSSE_I2C_DRIVE_ZERO;
    uint8_t cmd[2048];
    ssize_t n = mpsse_i2c_build_scan(&rig.scan, cmd, sizeof(cmd));
    cr_assert_gt(n, 0);
    sim_mpsse_write(rig.mpsse, cmd, (size_t)n);
    cr_expect_gt(sim_i2c_bus_stats(rig.bus)->contention, 0);
    rig_down(&rig);
}

Test(bus_robustness, ft2232h_pin_writes_drive_sda_only_low_and_keep_scl_an_output)
{
    struct mpsse_i2c_scan scan = {.addresses = {0x08}, .n_addresses = 1, .rounds = 1};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &scan.clock), 0);
    scan.clock.drive = MPSSE_I2C_DRIVE_DIRECTION;
    uint8_t cmd[512];
    ssize_t n = mpsse_i2c_build_scan(&scan, cmd, sizeof(cmd));
    cr_assert_gt(n, 0);
    unsigned pin_writes = 0, sda_released = 0, sda_low = 0;
    for (ssize_t i = 0; i < n;) {
        switch (cmd[i]) {
        case 0x80: {
            uint8_t value = cmd[i + 1], dir = cmd[i + 2];
            cr_expect_eq(dir & ~(PIN_SCL | PIN_SDA_O), 0, "only SCL and SDA out are outputs");
            cr_expect(dir & PIN_SCL, "SCL stays an output");
            cr_expect_eq(value & PIN_SDA_O, 0, "SDA is never driven high by a pin write");
            if (dir & PIN_SDA_O)
                sda_low++;
            else
                sda_released++;
            pin_writes++;
            i += 3;
            break;
        }
        case 0x11: /* bytes out: never used, the R/W bit is clocked with SDA released */
            cr_expect_fail("byte-wide write at %zd", i);
            i += 4 + cmd[i + 1];
            break;
        case 0x13:
        case 0x22:
            i += cmd[i] == 0x22 ? 2 : 3;
            break;
        case 0x20:
            i += 3;
            break;
        case 0x87:
            i += 1;
            break;
        default:
            cr_assert_fail("unexpected opcode 0x%02X at %zd", cmd[i], i);
            return;
        }
    }
    cr_expect_gt(pin_writes, 0);
    cr_expect_gt(sda_low, 0);
    cr_expect_gt(sda_released, 0);
}

Test(bus_robustness, ft2232h_init_has_no_drive_zero_and_is_exact)
{
    struct mpsse_i2c_clock clock;
    cr_assert_eq(mpsse_i2c_clock_for(100000, &clock), 0);
    clock.drive = MPSSE_I2C_DRIVE_DIRECTION;
    static const uint8_t want[] = {0x8A, 0x97, 0x8C, 0x85, 0x86, 0xEF, 0x00, 0x80, 0x01, 0x01};
    uint8_t buf[MPSSE_I2C_INIT_LEN];
    memset(buf, 0xEE, sizeof(buf));
    cr_assert_eq(mpsse_i2c_build_init(&clock, buf, sizeof(buf)), (ssize_t)sizeof(want));
    cr_expect_arr_eq(buf, want, sizeof(want));
    cr_expect_eq(buf[sizeof(want)], 0xEE, "nothing written past the sequence");
}

Test(bus_robustness, ft232h_scan_bytes_are_unchanged_by_the_drive_field_default)
{
    struct mpsse_i2c_scan scan = {.addresses = {0x08}, .n_addresses = 1, .rounds = 1};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &scan.clock), 0);
    cr_expect_eq(scan.clock.drive, MPSSE_I2C_DRIVE_ZERO, "clock_for is for an FT232H");
    uint8_t cmd[512];
    ssize_t n = mpsse_i2c_build_scan(&scan, cmd, sizeof(cmd));
    cr_assert_gt(n, 0);
    for (ssize_t i = 0; i + 2 < n; i++)
        if (cmd[i] == 0x80) {
            cr_expect_eq(cmd[i + 2], 0x03, "direction fixed with drive-zero");
            i += 2;
        }
}

Test(bus_robustness, bus_check_adds_a_pin_read_at_both_ends_and_an_echo)
{
    struct mpsse_i2c_scan scan = {.addresses = {0x08}, .n_addresses = 1, .rounds = 1};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &scan.clock), 0);
    size_t plain = mpsse_i2c_scan_command_len(&scan);
    cr_assert_eq(mpsse_i2c_scan_reply_len(&scan), 2);
    scan.check_bus = true;
    uint8_t cmd[512];
    ssize_t n = mpsse_i2c_build_scan(&scan, cmd, sizeof(cmd));
    /* 80 03 03 81 in front; the last STOP keeps the bus free time (the lines rise before the
     * pins are read); 81 AA before the 87 */
    cr_assert_eq((size_t)n, plain + 3 + 1 + 3 * (scan.clock.bus_free_repeats - 1) + 2);
    for (unsigned k = 1; k <= scan.clock.bus_free_repeats; k++) {
        const uint8_t *w = cmd + n - 3 - 3 * k;
        cr_expect(w[0] == 0x80 && w[1] == 0x03 && w[2] == 0x03, "idle write %u before the read", k);
    }
    static const uint8_t head[] = {0x80, 0x03, 0x03, 0x81};
    static const uint8_t tail[] = {0x81, 0xAA, 0x87};
    cr_expect_arr_eq(cmd, head, sizeof(head));
    cr_expect_arr_eq(cmd + n - 3, tail, sizeof(tail));
    cr_assert_eq(mpsse_i2c_scan_reply_len(&scan), 2 + MPSSE_I2C_CHECK_REPLY);
}

Test(bus_robustness, a_reply_without_the_echo_at_its_end_is_out_of_step)
{
    struct mpsse_i2c_scan scan = {
        .addresses = {0x08}, .n_addresses = 1, .rounds = 1, .check_bus = true};
    cr_assert_eq(mpsse_i2c_clock_for(100000, &scan.clock), 0);
    struct mpsse_i2c_read r;
    uint8_t before, after;
    const uint8_t good[] = {0x07, 0x00, 0x20, 0x07, 0xFA, 0xAA};
    cr_assert_eq(mpsse_i2c_parse_scan(&scan, good, sizeof(good), &r, 1), 1);
    cr_expect(r.acked && r.data == 0x20);
    cr_assert_eq(mpsse_i2c_scan_levels(&scan, good, sizeof(good), &before, &after), 0);
    cr_expect_eq(before, 0x07);
    cr_expect_eq(after, 0x07);
    /* the same bytes one position late (a stale byte in front): the echo is not at the end */
    const uint8_t shifted[] = {0x20, 0x07, 0x00, 0x20, 0x07, 0xFA};
    cr_expect_eq(mpsse_i2c_parse_scan(&scan, shifted, sizeof(shifted), &r, 1), -EPROTO);
    cr_expect_eq(mpsse_i2c_scan_levels(&scan, good, sizeof(good) - 1, &before, &after), -EPROTO);
    scan.check_bus = false;
    cr_expect_eq(mpsse_i2c_scan_levels(&scan, good, 2, &before, &after), -EINVAL);
}

static void stuck_bus_is_seen_and_clocked_free(enum mpsse_i2c_drive drive)
{
    struct rig rig;
    rig_up(&rig, drive);
    sim_lynx_stick_sda(rig.c);
    cr_assert(sim_lynx_sda_stuck(rig.c));
    cr_assert(!mpsse_i2c_bus_idle(sim_mpsse_read_pins(rig.mpsse)), "SDA reads low");

    /* the scan sees it before its first START */
    struct mpsse_i2c_read reads[8];
    run_scan(&rig, reads);
    uint8_t before = 0xFF, after = 0;
    cr_assert_eq(mpsse_i2c_scan_levels(&rig.scan, rig.reply.bytes, rig.reply.len, &before, &after),
                 0);
    cr_expect(!mpsse_i2c_bus_idle(before), "levels before the scan 0x%02X", before);

    /* stick it again (the scan's own clocks may have freed it) and recover explicitly */
    sim_lynx_stick_sda(rig.c);
    uint8_t cmd[1024];
    ssize_t n = mpsse_i2c_build_recovery(&rig.scan.clock, cmd, sizeof(cmd));
    cr_assert_eq((size_t)n, mpsse_i2c_recovery_len(&rig.scan.clock));
    rig.reply.len = 0;
    sim_mpsse_write(rig.mpsse, cmd, (size_t)n);
    cr_assert_eq(rig.reply.len, MPSSE_I2C_RECOVERY_REPLY);
    cr_expect(mpsse_i2c_bus_idle(rig.reply.bytes[0]), "after the recovery 0x%02X",
              rig.reply.bytes[0]);
    cr_expect(!sim_lynx_sda_stuck(rig.c));

    run_scan(&rig, reads);
    expect_lynx_reads(reads);
    expect_idle_levels(&rig);
    rig_down(&rig);
}

Test(bus_robustness, ft232h_stuck_sda_shows_in_the_scan_levels_and_recovery_frees_it)
{
    stuck_bus_is_seen_and_clocked_free(MPSSE_I2C_DRIVE_ZERO);
}

Test(bus_robustness, ft2232h_stuck_sda_shows_in_the_scan_levels_and_recovery_frees_it)
{
    stuck_bus_is_seen_and_clocked_free(MPSSE_I2C_DRIVE_DIRECTION);
}

Test(bus_robustness, chip_is_told_by_bcd_device)
{
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x0900), FTDI_CHIP_FT232H);
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x0700), FTDI_CHIP_FT2232H);
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x0800), FTDI_CHIP_FT4232H);
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x0600), FTDI_CHIP_UNKNOWN, "FT232R: no MPSSE");
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x0500), FTDI_CHIP_UNKNOWN, "FT2232D: no 3-phase clock");
    cr_expect_eq(ftdi_usb_chip_from_bcd(0x1000), FTDI_CHIP_UNKNOWN, "FT-X");
    cr_expect_str_eq(ftdi_usb_chip_name(FTDI_CHIP_FT2232H), "FT2232H");
    cr_expect_str_eq(ftdi_usb_chip_name(FTDI_CHIP_FT4232H), "FT4232H");
    cr_expect_str_eq(ftdi_usb_chip_name(FTDI_CHIP_FT232H), "FT232H");
}
