/* The CP2112 model driven through its USB operations exactly as Linux's hid-cp2112 drives a
 * CP2112 (drivers/hid/hid-cp2112.c, 6.1): the probe's requests, then SMBus and I2C transfers as
 * interrupt OUT reports, answered by interrupt IN reports that are checked byte by byte. Time is
 * the test's: each poll of the driver comes a millisecond after the one before, as on a full-speed
 * bus. The Lynx models answer at 0x08 (A) and 0x0A (C); 0x09 is nobody. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "model/cp2112.h"
#include "model/i2c_bus.h"
#include "model/lynx_slave.h"

#define MS 1000000ull

static struct sim_i2c_bus *bus;
static struct sim_lynx *lynx_a, *lynx_c;
static struct sim_cp2112 *chip;
static const struct sim_usb_model_ops *ops = &sim_cp2112_usb_ops;
static uint64_t now;

static void setup(void)
{
    bus = sim_i2c_bus_new();
    lynx_a = sim_lynx_new('A');
    lynx_c = sim_lynx_new('C');
    cr_assert_eq(sim_lynx_attach(lynx_a, bus), 0);
    cr_assert_eq(sim_lynx_attach(lynx_c, bus), 0);
    struct sim_cp2112_config cfg = {.serial = "CP2112-7"};
    chip = sim_cp2112_new(&cfg, bus);
    cr_assert_not_null(chip);
    now = 1000 * MS;
}

static void teardown(void)
{
    sim_cp2112_free(chip);
    sim_lynx_free(lynx_a);
    sim_lynx_free(lynx_c);
    sim_i2c_bus_free(bus);
}

TestSuite(cp2112, .init = setup, .fini = teardown);

/* ---- the host's side ---- */

static int control(uint8_t type, uint8_t request, uint16_t value, uint16_t index, uint8_t *data,
                   uint16_t length)
{
    struct sim_usb_setup s = {type, request, value, index, length};
    int rc = ops->control_submit(chip, &s);
    return rc < 0 ? rc : ops->control(chip, &s, data, now);
}

/* hid_hw_raw_request(GET_REPORT, feature) as usbhid makes it. */
static int get_feature(uint8_t id, uint8_t *buf, uint16_t len)
{
    return control(0xA1, 0x01, (uint16_t)(0x0300 | id), 0, buf, len);
}

static int set_feature(const uint8_t *bytes, uint16_t len)
{
    uint8_t buf[64];
    memcpy(buf, bytes, len);
    return control(0x21, 0x09, (uint16_t)(0x0300 | bytes[0]), 0, buf, len);
}

/* hid_hw_output_report: an interrupt OUT transfer of exactly the driver's bytes. */
static void out(const uint8_t *bytes, size_t len)
{
    cr_assert_eq(ops->data_submit(chip, 0x01), 0);
    cr_assert_eq(ops->data_out(chip, 0x01, bytes, len, now), (int)len);
}

#define OUT(...)                                                                                   \
    do {                                                                                           \
        const uint8_t bytes_[] = {__VA_ARGS__};                                                    \
        out(bytes_, sizeof(bytes_));                                                               \
    } while (0)

/* The interrupt IN transfer usbhid keeps pending: one report, or 0 when none is queued. */
static int in(uint8_t *buf)
{
    uint64_t wake = 0;
    int status = 1;
    cr_assert_eq(ops->data_submit(chip, 0x81), 0);
    int n = ops->data_in(chip, 0x81, buf, 64, now, &wake, &status);
    cr_assert_eq(status, 0);
    if (n == 0)
        cr_assert_eq(wake, UINT64_MAX, "a report only comes when the host asked for one");
    return n;
}

static void expect_in(const uint8_t *want, size_t len)
{
    uint8_t got[64];
    int n = in(got);
    cr_assert_eq(n, (int)len, "report of %d bytes, expected %zu (first byte 0x%02X)", n, len,
                 n > 0 ? got[0] : 0);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], want[i], "byte %zu: 0x%02X, expected 0x%02X", i, got[i], want[i]);
}

#define EXPECT_IN(...)                                                                             \
    do {                                                                                           \
        const uint8_t want_[] = {__VA_ARGS__};                                                     \
        expect_in(want_, sizeof(want_));                                                           \
    } while (0)

/* A 0x13 data read response: 64 bytes, the data after status 0 and the length, zeros after. */
static void expect_read_response(uint8_t s0, const uint8_t *data, uint8_t n)
{
    uint8_t want[64] = {0x13, s0, n};
    memcpy(want + 3, data, n);
    expect_in(want, sizeof(want));
}

/* cp2112_xfer_status(): 0x15 0x01, then the 0x16 answer, a millisecond later. */
static void expect_status(uint8_t s0, uint8_t s1, uint16_t retries, uint16_t length)
{
    now += MS;
    OUT(0x15, 0x01);
    EXPECT_IN(0x16, s0, s1, (uint8_t)(retries >> 8), (uint8_t)retries, (uint8_t)(length >> 8),
              (uint8_t)length);
}

/* cp2112_probe(): the version, the SMBus configuration read, set back with retry_time 1, and
 * the lock byte (after usbhid's SET_IDLE). */
static void probe(void)
{
    uint8_t buf[64];
    cr_assert_eq(control(0x21, 0x0A, 0, 0, buf, 0), 0, "SET_IDLE");
    cr_assert_eq(get_feature(0x05, buf, 3), 3);
    cr_assert_eq(buf[0], 0x05);
    cr_assert_eq(buf[1], 0x0C, "part number");
    cr_assert_eq(buf[2], 0x02, "version: write-read with repeated START works from 2 on");
    const uint8_t defaults[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(get_feature(0x06, buf, 14), 14);
    cr_assert_arr_eq(buf, defaults, 14, "100 kHz, address 0x02, no timeouts, endless retries");
    buf[12] = 0x00, buf[13] = 0x01; /* config.retry_time = cpu_to_be16(1) */
    cr_assert_eq(set_feature(buf, 14), 14);
    cr_assert_eq(get_feature(0x20, buf, 2), 2);
    cr_assert_eq(buf[1], 0xFF, "lock byte: every field still programmable");
}

/* ---- USB identity and the probe ---- */

Test(cp2112, descriptors_are_a_full_speed_hid_device_with_two_interrupt_endpoints)
{
    cr_assert_eq(ops->speed, SIM_USB_FULL_SPEED);
    uint8_t d[128];
    size_t n = ops->descriptors(chip, d, sizeof(d));
    cr_assert_eq(n, 18 + 41);
    cr_assert_eq(ops->descriptors(chip, d, 10), 59, "too small: the length needed");
    cr_assert_eq(d[8] | d[9] << 8, 0x10C4);
    cr_assert_eq(d[10] | d[11] << 8, 0xEA90);
    cr_assert_eq(d[16], 3, "iSerialNumber");
    const uint8_t *c = d + 18;
    cr_assert_eq(c[2] | c[3] << 8, 41, "wTotalLength");
    cr_assert_eq(c[9 + 5], 0x03, "interface class HID");
    cr_assert_eq(c[18 + 1], 0x21, "HID descriptor after the interface");
    const uint8_t in_ep[7] = {7, 5, 0x81, 0x03, 64, 0, 1}, out_ep[7] = {7, 5, 0x01, 0x03, 64, 0, 1};
    cr_assert_arr_eq(c + 27, in_ep, 7);
    cr_assert_arr_eq(c + 34, out_ep, 7);
    uint8_t s[64];
    int len = control(0x80, 0x06, 0x0303, 0x0409, s, sizeof(s));
    cr_assert_eq(len, 2 + 2 * 8);
    cr_assert_eq(s[2], 'C');
    cr_assert_eq(s[16], '7', "the serial from the scenario");
}

/* Walks the report descriptor as hid-core would and returns the size of report id of the
 * given main item (0x81 input, 0x91 output, 0xB1 feature), or -1. */
static int report_size(const uint8_t *d, int len, uint8_t id, uint8_t main_item)
{
    uint8_t cur_id = 0, count = 0, bits = 0;
    for (int i = 0; i < len;) {
        uint8_t item = d[i], size = item & 3;
        uint32_t v = size ? d[i + 1] : 0;
        if (size == 2)
            v |= (uint32_t)d[i + 2] << 8;
        if (item == 0x85)
            cur_id = (uint8_t)v;
        else if (item == 0x95)
            count = (uint8_t)v;
        else if (item == 0x75)
            bits = (uint8_t)v;
        else if (item == main_item && cur_id == id)
            return count * bits / 8;
        i += 1 + (size == 3 ? 4 : size);
    }
    return -1;
}

Test(cp2112, the_report_descriptor_has_every_report_hid_cp2112_uses_at_an495s_sizes)
{
    uint8_t hid[9], d[256];
    cr_assert_eq(control(0x81, 0x06, 0x2100, 0, hid, 9), 9);
    const int len = hid[7] | hid[8] << 8;
    cr_assert_eq(control(0x81, 0x06, 0x2200, 0, d, (uint16_t)len), len);
    cr_assert_eq(d[0], 0x06);
    cr_assert_eq(d[len - 1], 0xC0, "ends its collection");
    const struct {
        uint8_t id, item;
        int size;
    } want[] = {{0x05, 0xB1, 2},  {0x06, 0xB1, 13}, {0x20, 0xB1, 1},  {0x10, 0x91, 3},
                {0x11, 0x91, 20}, {0x12, 0x91, 2},  {0x14, 0x91, 63}, {0x15, 0x91, 1},
                {0x17, 0x91, 1},  {0x13, 0x81, 63}, {0x16, 0x81, 6},  {0x24, 0xB1, 62}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert_eq(report_size(d, len, want[i].id, want[i].item), want[i].size, "report 0x%02X",
                     want[i].id);
}

Test(cp2112, the_probe_reads_version_and_config_and_the_config_is_stored)
{
    probe();
    uint8_t buf[64];
    cr_assert_eq(get_feature(0x06, buf, 14), 14);
    cr_assert_eq(buf[12] << 8 | buf[13], 1, "retry_time as the driver set it");
    cr_assert_eq(get_feature(0x06, buf, 3), 3, "a shorter GET_REPORT gets the start");
    const uint8_t bad[14] = {0x06, 0, 0, 0, 0, 0x02}; /* clock 0 */
    cr_assert_eq(set_feature(bad, 14), -EPIPE);
    cr_assert_eq(get_feature(0x06, buf, 14), 14);
    cr_assert_eq(buf[4], 0xA0, "a refused configuration changes nothing");
    cr_assert_eq(get_feature(0x07, buf, 2), -EPIPE, "no such feature report");
    cr_assert_eq(get_feature(0x24, buf, 63), 63);
    cr_assert_eq(buf[1], 2 + 2 * 8, "serial string report: its length");
    cr_assert_eq(buf[2], 0x03);
    cr_assert_eq(buf[3], 'C');
}

/* ---- transfers as hid-cp2112 makes them ---- */

Test(cp2112, smbus_byte_read_of_a_lynx_is_read_request_status_and_force_send)
{
    probe();
    sim_lynx_set_fuse_open(lynx_a, 2, true);
    sim_lynx_set_supply(lynx_a, false);
    OUT(0x10, 0x08 << 1, 0x00, 0x01); /* cp2112_read_req(addr 0x08, 1) */
    /* asked at once, the transfer is still on the wire: about 190 us at 100 kHz */
    OUT(0x15, 0x01);
    EXPECT_IN(0x16, 0x01, 0x02, 0, 0, 0, 0);
    expect_status(0x02, 0x05, 0, 1);
    OUT(0x12, 0x00, 0x01); /* cp2112_read(1) */
    expect_read_response(0x02, (const uint8_t[]){0x22}, 1);
    uint8_t none[64];
    cr_assert_eq(in(none), 0, "nothing more");
    const struct sim_cp2112_stats *s = sim_cp2112_stats(chip);
    cr_assert_eq(s->scl_periods, 18, "9 clocks of address + ACK, 9 of data + NACK");
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(cp2112, smbus_byte_data_read_is_a_write_read_with_a_repeated_start)
{
    probe();
    sim_lynx_set_fuse_open(lynx_c, 4, true);
    OUT(0x11, 0x0A << 1, 0x00, 0x01, 0x01, 0x00); /* cp2112_write_read_req(0x0A, 1, cmd 0) */
    expect_status(0x02, 0x05, 0, 1);
    OUT(0x12, 0x00, 0x01);
    expect_read_response(0x02, (const uint8_t[]){0x80}, 1);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 2, "START and a repeated START");
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 1);
}

Test(cp2112, a_write_completes_with_nothing_read)
{
    probe();
    OUT(0x14, 0x08 << 1, 0x02, 0x00, 0x55); /* cp2112_write_req(0x08, cmd 0, one byte) */
    expect_status(0x02, 0x05, 0, 0);
    cr_assert_eq(sim_lynx_stats(lynx_a)->writes, 2);
}

Test(cp2112, a_nacked_address_is_retried_once_then_timeout_nack)
{
    probe();
    OUT(0x10, 0x09 << 1, 0x00, 0x01);
    expect_status(0x03, 0x00, 1, 0); /* hid-cp2112: ETIMEDOUT */
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 2, "the attempt and its one retry");
    OUT(0x12, 0x00, 0x01);
    expect_read_response(0x03, NULL, 0);
}

Test(cp2112, success_after_a_retry_is_reported_among_the_errors)
{
    probe();
    cr_assert_eq(sim_lynx_script(lynx_a, (const int16_t[]){SIM_LYNX_SCRIPT_NACK, 0x5A}, 2), 0);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x03, 0x05, 1, 1); /* hid-cp2112: EIO, and it reads nothing */
    OUT(0x12, 0x00, 0x01);
    expect_read_response(0x03, (const uint8_t[]){0x5A}, 1);
}

Test(cp2112, endless_retries_of_the_power_on_config_try_once_per_host_request)
{
    OUT(0x10, 0x09 << 1, 0x00, 0x01); /* the first attempt */
    expect_status(0x01, 0x01, 1, 0);  /* one more at each request */
    expect_status(0x01, 0x01, 2, 0);
    const uint8_t timeout[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 0, 0, 0, 0, 5, 0, 0, 0};
    cr_assert_eq(set_feature(timeout, 14), 14, "read timeout 5 ms");
    now += 4 * MS;
    expect_status(0x03, 0x00, 2, 0); /* 7 ms after the request: no attempt more */
    cr_assert_eq(sim_i2c_bus_stats(bus)->transactions, 3);
}

Test(cp2112, a_held_sda_keeps_it_busy_until_cancelled_and_nothing_is_clocked)
{
    probe();
    sim_lynx_stick_sda(lynx_a);
    const uint64_t starts = sim_i2c_bus_stats(bus)->starts;
    OUT(0x10, 0x0A << 1, 0x00, 0x01);
    for (int poll = 0; poll < 10; poll++) /* XFER_STATUS_RETRIES */
        expect_status(0x01, 0x01, 0, 0);
    OUT(0x17, 0x01); /* then hid-cp2112 cancels and says ETIMEDOUT */
    expect_status(0x00, 0x00, 0, 0);
    cr_assert_eq(sim_cp2112_stats(chip)->scl_periods, 0, "the chip never clocks a busy bus");
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, starts);
    sim_lynx_set_powered(lynx_a, false); /* lets go */
    OUT(0x10, 0x0A << 1, 0x00, 0x01);
    expect_status(0x02, 0x05, 0, 1);
}

Test(cp2112, a_bus_not_free_ends_with_the_read_timeout_when_one_is_set)
{
    probe();
    const uint8_t cfg[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 0, 0, 0, 0, 10, 0, 0, 1};
    cr_assert_eq(set_feature(cfg, 14), 14);
    sim_lynx_stick_sda(lynx_a);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x01, 0x01, 0, 0);
    now += 9 * MS;
    expect_status(0x03, 0x01, 0, 0); /* 10 ms after the request: bus not free */
}

static bool hold_scl(const void *ctx)
{
    return *(const bool *)ctx;
}

Test(cp2112, scl_held_low_is_the_scl_low_timeout_after_25_ms_when_enabled)
{
    probe();
    static const struct sim_i2c_device_ops stretcher = {.scl_low = hold_scl};
    bool holding = true;
    cr_assert_eq(sim_i2c_bus_attach(bus, &stretcher, &holding), 0);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x01, 0x01, 0, 0);
    now += 30 * MS;
    expect_status(0x01, 0x01, 0, 0); /* disabled: waits for ever */
    OUT(0x17, 0x01);
    const uint8_t cfg[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 0, 0, 0, 0, 0, 1, 0, 1};
    cr_assert_eq(set_feature(cfg, 14), 14);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x01, 0x01, 0, 0); /* first seen low */
    now += 24 * MS;
    expect_status(0x03, 0x01, 0, 0);
    sim_i2c_bus_detach(bus, &holding);
}

/* A slave gone wrong: counts SCL falls since a START and acts at one of them. */
struct rogue {
    unsigned falls;
    unsigned sda_at;   /* pulls SDA low while falls == sda_at (0 = never) */
    unsigned scl_from; /* holds SCL low once falls >= scl_from (0 = never) */
};

static void rogue_start(void *ctx)
{
    ((struct rogue *)ctx)->falls = 0;
}

static void rogue_fall(void *ctx)
{
    ((struct rogue *)ctx)->falls++;
}

static bool rogue_sda(const void *ctx)
{
    const struct rogue *r = ctx;
    return r->sda_at && r->falls == r->sda_at;
}

static bool rogue_scl(const void *ctx)
{
    const struct rogue *r = ctx;
    return r->scl_from && r->falls >= r->scl_from;
}

static const struct sim_i2c_device_ops rogue_ops = {
    .start = rogue_start, .scl_fall = rogue_fall, .sda_low = rogue_sda, .scl_low = rogue_scl};

Test(cp2112, a_one_sent_that_reads_zero_is_arbitration_lost_after_the_retry)
{
    probe();
    /* 0x08 read = 0001 0001: the 4th bit is a 1, driven after the 4th SCL fall */
    struct rogue r = {.sda_at = 4};
    cr_assert_eq(sim_i2c_bus_attach(bus, &rogue_ops, &r), 0);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x03, 0x02, 1, 0); /* hid-cp2112: EIO */
    sim_i2c_bus_detach(bus, &r);
}

Test(cp2112, scl_stalled_mid_read_is_read_incomplete_with_the_bytes_so_far)
{
    probe();
    const uint8_t cfg[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 0, 0, 0, 0, 10, 0, 0, 1};
    cr_assert_eq(set_feature(cfg, 14), 14);
    /* START, 9 clocks of address, 9 of the first byte: held from the second byte on */
    struct rogue r = {.scl_from = 19};
    cr_assert_eq(sim_i2c_bus_attach(bus, &rogue_ops, &r), 0);
    sim_lynx_set_fuse_open(lynx_a, 1, true);
    OUT(0x10, 0x08 << 1, 0x00, 0x02);
    expect_status(0x01, 0x02, 0, 0);
    now += 10 * MS;
    expect_status(0x03, 0x03, 0, 1);
    OUT(0x12, 0x00, 0x02);
    expect_read_response(0x03, (const uint8_t[]){0x10}, 1);
    sim_i2c_bus_detach(bus, &r);
}

/* ---- the chip's own rules ---- */

Test(cp2112, requests_out_of_an495s_ranges_are_dropped_and_the_status_is_idle)
{
    probe();
    OUT(0x10, 0x08 << 1, 0x02, 0x01); /* 513 bytes */
    expect_status(0x00, 0x00, 0, 0);
    uint8_t write[64] = {0x14, 0x08 << 1, 62};
    out(write, 64); /* 62 bytes */
    expect_status(0x00, 0x00, 0, 0);
    uint8_t wr[22] = {0x11, 0x08 << 1, 0x00, 0x01, 17};
    out(wr, sizeof(wr)); /* a target address of 17 bytes */
    expect_status(0x00, 0x00, 0, 0);
    OUT(0x10, 0x08 << 1 | 1, 0x00, 0x01); /* the R/W bit set */
    expect_status(0x00, 0x00, 0, 0);
    OUT(0x10, 0x08 << 1, 0x00, 0x00); /* 0 bytes */
    expect_status(0x00, 0x00, 0, 0);
    cr_assert_eq(sim_cp2112_stats(chip)->rejected, 5);
    cr_assert_eq(sim_i2c_bus_stats(bus)->starts, 0);
}

Test(cp2112, a_request_while_busy_is_dropped_and_the_first_goes_on)
{
    probe();
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    OUT(0x14, 0x0A << 1, 0x01, 0x00); /* at once: the read is still on the wire */
    cr_assert_eq(sim_cp2112_stats(chip)->rejected, 1);
    expect_status(0x02, 0x05, 0, 1);
    cr_assert_eq(sim_lynx_stats(lynx_c)->writes, 0);
}

Test(cp2112, a_force_send_while_busy_answers_busy_without_data)
{
    probe();
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    OUT(0x12, 0x00, 0x01);
    expect_read_response(0x01, NULL, 0);
}

Test(cp2112, a_512_byte_read_comes_back_in_reports_of_61)
{
    probe();
    OUT(0x10, 0x08 << 1, 0x02, 0x00);
    now += 50 * MS; /* 512 bytes at 100 kHz: about 46 ms */
    expect_status(0x02, 0x05, 0, 512);
    OUT(0x12, 0x02, 0x00);
    uint8_t r[64];
    unsigned total = 0, reports = 0;
    int n;
    while ((n = in(r)) > 0) {
        cr_assert_eq(n, 64);
        cr_assert_eq(r[0], 0x13);
        cr_assert_leq(r[2], 61);
        total += r[2];
        reports++;
    }
    cr_assert_eq(total, 512);
    cr_assert_eq(reports, 9);
}

Test(cp2112, auto_send_read_sends_the_data_when_the_transfer_ends)
{
    probe();
    const uint8_t cfg[14] = {0x06, 0x00, 0x01, 0x86, 0xA0, 0x02, 1, 0, 0, 0, 0, 0, 0, 1};
    cr_assert_eq(set_feature(cfg, 14), 14);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    uint8_t r[64];
    uint64_t wake = 0;
    int status;
    cr_assert_eq(ops->data_in(chip, 0x81, r, 64, now, &wake, &status), 0);
    cr_assert_gt(wake, now, "ready when the read is over on the wire");
    cr_assert_lt(wake, now + MS);
    now = wake;
    expect_read_response(0x02, (const uint8_t[]){0x00}, 1);
}

Test(cp2112, a_cancel_drops_the_data_not_sent)
{
    probe();
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x02, 0x05, 0, 1);
    OUT(0x17, 0x01);
    OUT(0x12, 0x00, 0x01);
    expect_read_response(0x00, NULL, 0);
}

Test(cp2112, the_clock_of_the_smbus_config_sets_the_master_timing)
{
    probe();
    const uint8_t fast[14] = {0x06, 0x00, 0x06, 0x1A, 0x80, 0x02, 0, 0, 0, 0, 0, 0, 0, 1};
    cr_assert_eq(set_feature(fast, 14), 14, "400 kHz");
    sim_i2c_bus_set_timing(bus, SIM_I2C_FAST, true);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x02, 0x05, 0, 1);
    const struct sim_i2c_timing *t = sim_i2c_bus_timing(bus);
    cr_assert_eq(t->rules[SIM_I2C_T_HIGH].shortest_ns, 1100);
    for (int rule = 0; rule < SIM_I2C_RULES; rule++)
        cr_assert_eq(t->rules[rule].violations, 0, "%s", sim_i2c_rule_name(rule));
}

/* ---- faults ---- */

Test(cp2112, usb_error_stalls_interrupt_transfers_and_usb_timeout_holds_an_in)
{
    probe();
    sim_cp2112_fail_interrupt(chip, 2);
    cr_assert_eq(ops->data_submit(chip, 0x01), -EPIPE);
    cr_assert_eq(ops->data_submit(chip, 0x81), -EPIPE);
    cr_assert_eq(ops->data_submit(chip, 0x01), 0);
    sim_cp2112_hang_interrupt_in(chip, 1);
    cr_assert_eq(ops->data_submit(chip, 0x01), 0, "OUT transfers go on");
    cr_assert_eq(ops->data_submit(chip, 0x81), -ETIMEDOUT);
    OUT(0x10, 0x08 << 1, 0x00, 0x01);
    expect_status(0x02, 0x05, 0, 1); /* the report waited for the next IN transfer */
    const struct sim_cp2112_stats *s = sim_cp2112_stats(chip);
    cr_assert_eq(s->stalled, 2);
    cr_assert_eq(s->hung, 1);
}

Test(cp2112, control_faults_act_at_submission)
{
    uint8_t buf[64];
    sim_cp2112_fail_control(chip, 1);
    cr_assert_eq(get_feature(0x05, buf, 3), -EPIPE);
    cr_assert_eq(get_feature(0x05, buf, 3), 3);
    sim_cp2112_hang_control(chip, 1);
    cr_assert_eq(get_feature(0x05, buf, 3), -ETIMEDOUT);
    sim_cp2112_fail_serial_string(chip);
    cr_assert_eq(control(0x80, 0x06, 0x0302, 0x0409, buf, 64), 2 + 2 * 30, "the product");
    cr_assert_eq(control(0x80, 0x06, 0x0303, 0x0409, buf, 64), -EPIPE);
    cr_assert_eq(control(0x80, 0x06, 0x0303, 0x0409, buf, 64), 18, "once");
}

Test(cp2112, a_short_in_transfer_overflows_and_an_unknown_endpoint_is_einval)
{
    probe();
    OUT(0x15, 0x01);
    uint8_t r[64];
    uint64_t wake;
    int status = 0;
    cr_assert_eq(ops->data_in(chip, 0x81, r, 4, now, &wake, &status), 4);
    cr_assert_eq(status, -EOVERFLOW);
    cr_assert_eq(ops->data_in(chip, 0x82, r, 64, now, &wake, &status), -EINVAL);
    cr_assert_eq(ops->data_out(chip, 0x02, r, 1, now), -EINVAL);
}

Test(cp2112, reset_returns_to_the_power_on_config)
{
    probe();
    cr_assert_eq(set_feature((const uint8_t[]){0x01, 0x01}, 2), 2);
    uint8_t buf[14];
    cr_assert_eq(get_feature(0x06, buf, 14), 14);
    cr_assert_eq(buf[13], 0, "retry_time back to 0");
}
