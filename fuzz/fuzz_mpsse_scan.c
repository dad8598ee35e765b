/* libFuzzer target: the MPSSE scan reply parser (mpsse_i2c_parse_scan) with arbitrary scans,
 * reply lengths and bytes, plus the builders it pairs with writing into buffers of arbitrary
 * size (exactly allocated, so any write past `max` is caught by ASan).
 *
 * Input: [flags: bit 0 check_bus, bit 1 drive by direction] [n_addresses] [rounds] [max_out]
 * [speed hi] [speed lo] [8 addresses] [buffer size / 4] then the reply bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/mpsse/mpsse_i2c.h"
#include "fuzz_util.h"

#define HEADER 15

static void fuzz_builders(const struct mpsse_i2c_scan *scan, size_t max)
{
    uint8_t *buf = malloc(max ? max : 1);
    if (!buf)
        return;
    ssize_t n = mpsse_i2c_build_scan(scan, buf, max);
    size_t need = mpsse_i2c_scan_command_len(scan);
    if (need == 0)
        check(n == -EINVAL, "an invalid scan was built");
    else if (need > max)
        check(n == -ENOSPC, "a scan was built into a buffer too small");
    else
        check(n == (ssize_t)need && buf[n - 1] == 0x87, "scan length or send-immediate");
    n = mpsse_i2c_build_recovery(&scan->clock, buf, max);
    check(n == -ENOSPC || (size_t)n == mpsse_i2c_recovery_len(&scan->clock), "recovery length");
    n = mpsse_i2c_build_init(&scan->clock, buf, max);
    check(max < MPSSE_I2C_INIT_LEN ? n == -ENOSPC : n > 0 && n <= MPSSE_I2C_INIT_LEN,
          "init length");
    n = mpsse_i2c_build_sync(buf, max);
    check(n == -ENOSPC || n == MPSSE_I2C_SYNC_LEN, "sync length");
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    const uint8_t flags = data[0];
    data++;
    struct mpsse_i2c_scan scan = {
        .n_addresses = data[0] % (MPSSE_I2C_MAX_ADDRESSES + 2), /* also 0 and too many */
        .rounds = data[1] % (MPSSE_I2C_MAX_ROUNDS + 2),
        .check_bus = flags & 1,
    };
    size_t max_out = data[2] % 40;
    uint32_t hz = (uint32_t)(data[3] << 8 | data[4]) * 100u;
    if (mpsse_i2c_clock_for(hz, &scan.clock) < 0)
        check(hz < MPSSE_I2C_MIN_HZ || hz > MPSSE_I2C_MAX_HZ, "a valid rate was refused");
    else
        check(scan.clock.scl_hz <= hz, "SCL faster than requested");
    scan.clock.drive = flags & 2 ? MPSSE_I2C_DRIVE_DIRECTION : MPSSE_I2C_DRIVE_ZERO;
    size_t n_addr =
        scan.n_addresses < MPSSE_I2C_MAX_ADDRESSES ? scan.n_addresses : MPSSE_I2C_MAX_ADDRESSES;
    memcpy(scan.addresses, data + 5, n_addr); /* addresses above 0x7F make the scan invalid */
    size_t buffer_size = (size_t)data[13] * 4;
    const uint8_t *reply = data + HEADER - 1;
    size_t len = size - HEADER;

    /* The reply in a buffer of exactly its length: the parser must read only reply[0..len). */
    uint8_t *copy = malloc(len ? len : 1);
    struct mpsse_i2c_read *out = malloc((max_out ? max_out : 1) * sizeof(*out));
    if (!copy || !out) {
        free(copy);
        free(out);
        return 0;
    }
    memcpy(copy, reply, len);
    int n = mpsse_i2c_parse_scan(&scan, copy, len, out, max_out);
    size_t expected = mpsse_i2c_scan_reply_len(&scan);
    size_t count = expected ? scan.n_addresses * scan.rounds : 0;
    size_t extra = scan.check_bus ? 4 : 0; /* levels before, levels after, FA AA */
    bool in_step = !scan.check_bus || (len >= 2 && copy[len - 2] == 0xFA && copy[len - 1] == 0xAA);
    if (expected == 0) {
        check(n == -EINVAL, "an invalid scan was parsed");
    } else if (max_out < count) {
        check(n == -ENOSPC, "parsed into too small an output");
    } else if (len != expected || !in_step) {
        check(expected == 2 * count + extra, "reply length");
        check(n == -EPROTO, "a reply of the wrong length or out of step was accepted");
    } else {
        check(n == (int)count, "entry count");
        const uint8_t *pairs = copy + (scan.check_bus ? 1 : 0);
        for (size_t t = 0; t < count; t++) {
            check(out[t].address == scan.addresses[t % scan.n_addresses], "address");
            check(out[t].round == t / scan.n_addresses, "round");
            check(out[t].acked == !(pairs[2 * t] & 1) && out[t].data == pairs[2 * t + 1],
                  "ACK bit or data byte");
        }
    }
    uint8_t before, after;
    int rc = mpsse_i2c_scan_levels(&scan, copy, len, &before, &after);
    if (expected == 0 || !scan.check_bus)
        check(rc == -EINVAL, "levels of a scan without check_bus");
    else if (len != expected)
        check(rc == -EPROTO, "levels of a reply of the wrong length");
    else
        check(rc == 0 && before == copy[0] && after == copy[len - 3], "levels");
    check((mpsse_i2c_check_sync(copy, len) == 0) ==
              (len == MPSSE_I2C_SYNC_REPLY && copy[0] == 0xFA && copy[1] == 0xAA),
          "sync check");
    if (len >= 1)
        check(mpsse_i2c_bus_idle(copy[0]) == ((copy[0] & 0x05) == 0x05), "bus idle");
    free(copy);
    free(out);
    if (mpsse_i2c_clock_for(hz, &scan.clock) == 0)
        fuzz_builders(&scan, buffer_size);
    return 0;
}
