/* MPSSE command builder and reply parser for an I2C master on an FT232H, FT2232H or FT4232H. Pure:
 * fills caller buffers with the bytes to send in one bulk OUT and parses the bytes read back
 * (status bytes already stripped); no USB.
 *
 * Pins: AD0 = SCL, AD1 = SDA out, AD2 = SDA in (AD1 and AD2 tied). Two ways to drive them, by
 * chip (struct mpsse_i2c_clock.drive):
 *  - FT232H (MPSSE_I2C_DRIVE_ZERO): both outputs are set drive-only-zero (0x9E), so writing 1
 *    releases a line (open drain) and the direction never changes: every pin write is
 *    `80 <value> 03`.
 *  - FT2232H / FT4232H (MPSSE_I2C_DRIVE_DIRECTION): no 0x9E, so open drain is emulated on SDA by
 *    its direction: a released SDA is an input (`80 <scl> 01`), a low SDA an output driving 0
 *    (`80 <scl> 03`). The ACK bit and the data byte are read with SDA an input, and the NACK is
 *    clocked with SDA still released. SCL stays an output driven push-pull (the MPSSE clock
 *    needs AD0 as an output; Lynx Distributors never stretch the clock), and so does SDA while
 *    the address byte is shifted out (the slaves only listen then).
 *
 * Clock: divide-by-5 off (60 MHz base), 3-phase clocking on, so SCL = 60 MHz / ((1 + d) * 2) * 2/3
 * = 20 MHz / (1 + d). 3-phase clocking (which I2C needs: SDA is held a third of a bit after SCL
 * falls) makes SCL high for a third of each bit and low for two thirds, so the requested rate
 * alone does not meet UM10204: 100 kHz would give a 3.33 us high time against standard mode's
 * 4.0 us minimum. The divisor is the smallest that keeps SCL at or below the requested rate AND
 * meets tHIGH and tLOW of the mode the requested rate falls in (standard up to 100 kHz, fast up
 * to 400 kHz, fast-mode plus above): 100 kHz requested runs at 83.3 kHz (4.0 us high, 8.0 us
 * low); 400 kHz and 1 MHz run as requested. scl_hz is the effective rate, for the logs.
 *
 * Scan: one read transaction per (address, round): START, address byte (addr << 1 | 1), ACK bit
 * read, one data byte read, NACK, STOP. All transactions of a scan go in ONE command buffer ending
 * with 87 (send immediate); the chip answers with exactly 2 bytes per transaction (the ACK bit in
 * bit 0 of the first, then the data byte), in the order the transactions were built: round-major
 * (all addresses of round 0, then round 1, ...). A NACKed address still returns a data byte (0xFF:
 * nobody drives the bus); the parser reports it as absent. */
#ifndef LYNX_MPSSE_I2C_H
#define LYNX_MPSSE_I2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MPSSE_I2C_MIN_HZ        1000u
#define MPSSE_I2C_MAX_HZ        1000000u
#define MPSSE_I2C_MAX_ADDRESSES 8u
#define MPSSE_I2C_MAX_ROUNDS    4u

#define MPSSE_I2C_INIT_LEN       13u /* 8A 97 8C 9E 07 00 85 86 dl dh 80 03 03 (the longest) */
#define MPSSE_I2C_SYNC_LEN       2u  /* AA 87 */
#define MPSSE_I2C_SYNC_REPLY     2u  /* FA AA */
#define MPSSE_I2C_RECOVERY_REPLY 1u  /* ADBUS pin levels after the recovery */

/* The chip's reply to an opcode it does not know: FA <opcode>. */
#define MPSSE_BAD_COMMAND 0xFA

enum mpsse_i2c_drive {
    MPSSE_I2C_DRIVE_ZERO = 0,      /* FT232H: drive-only-zero (0x9E), direction never changes */
    MPSSE_I2C_DRIVE_DIRECTION = 1, /* FT2232H, FT4232H: SDA released by making it an input */
};

/* The timing of the bus and how its lines are driven: every builder below takes it. */
enum mpsse_i2c_mode {
    MPSSE_I2C_STANDARD = 0, /* up to 100 kHz */
    MPSSE_I2C_FAST,         /* up to 400 kHz */
    MPSSE_I2C_FAST_PLUS,    /* up to 1 MHz */
};

struct mpsse_i2c_clock {
    uint16_t divisor; /* argument of opcode 86 (with 8A and 8C) */
    uint32_t scl_hz;  /* resulting (effective) SCL frequency */
    uint32_t requested_hz;
    enum mpsse_i2c_mode mode; /* the UM10204 mode of requested_hz, whose minima are met */
    uint32_t scl_high_ns;     /* a clocked bit's SCL high time (a third of the bit) */
    uint32_t scl_low_ns;      /* SCL low between two clocked bits (two thirds) */
    /* Pin writes (about 0.5 us each, whatever the divisor) that make each START/STOP interval
     * last its I2C minimum in the speed class of scl_hz: */
    unsigned start_hold_repeats; /* tHD;STA: SDA low before SCL falls */
    unsigned stop_setup_repeats; /* tSU;STO: SCL high before SDA rises */
    unsigned bus_free_repeats;   /* tBUF: bus free between a STOP and the next START */
    unsigned scl_low_repeats;    /* tLOW next to a START/STOP, beyond a clocked bit's low third */
    unsigned hold_repeats;       /* the longest of tSU;STA and tBUF (bus recovery) */
    enum mpsse_i2c_drive drive;
};

/* "standard", "fast" or "fast-plus". */
const char *mpsse_i2c_mode_name(enum mpsse_i2c_mode mode);

/* Choose the clock for a requested SCL rate, for an FT232H (drive = MPSSE_I2C_DRIVE_ZERO; set
 * drive afterwards for another chip). Returns 0 or -EINVAL (out of MIN_HZ..MAX_HZ). */
int mpsse_i2c_clock_for(uint32_t requested_hz, struct mpsse_i2c_clock *out);

/* MPSSE setup for I2C (after SET_BITMODE MPSSE): writes at most MPSSE_I2C_INIT_LEN bytes (13 for
 * an FT232H; 10 without the drive-zero command) and returns the length, or -ENOSPC when max is
 * below MPSSE_I2C_INIT_LEN. No reply is expected. */
ssize_t mpsse_i2c_build_init(const struct mpsse_i2c_clock *clock, uint8_t *buf, size_t max);

/* Synchronisation check (AN_135): a bogus opcode AA must come back as FA AA. */
ssize_t mpsse_i2c_build_sync(uint8_t *buf, size_t max);
/* 0 when the reply is exactly FA AA, -EPROTO otherwise. */
int mpsse_i2c_check_sync(const uint8_t *reply, size_t len);

struct mpsse_i2c_scan {
    uint8_t addresses[MPSSE_I2C_MAX_ADDRESSES]; /* 7-bit addresses */
    size_t n_addresses;                         /* 1..MPSSE_I2C_MAX_ADDRESSES */
    unsigned rounds;                            /* reads per address, 1..MPSSE_I2C_MAX_ROUNDS */
    struct mpsse_i2c_clock clock;
    /* Checks the bus and the reply stream: the scan starts with the lines released and a pin
     * read (`80 <idle> 81`) and ends, after the bus free time, with `81 AA` before the 87. The
     * reply then carries 4 more bytes: the ADBUS levels before the first START (first byte) and
     * after the last STOP, then the bad-command echo `FA AA` (last two bytes), which proves the
     * reply stream is in step: a stale or shifted reply cannot pass as status bytes. A level with
     * SDA or SCL low shows a stuck bus (mpsse_i2c_bus_idle). */
    bool check_bus;
};
#define MPSSE_I2C_CHECK_REPLY 4u /* levels before, levels after, FA, AA */

struct mpsse_i2c_read {
    uint8_t address;
    unsigned round;
    bool acked; /* false: nobody answered; data is meaningless */
    uint8_t data;
};

/* Command and reply sizes of a scan, or 0 when the scan is invalid. */
size_t mpsse_i2c_scan_command_len(const struct mpsse_i2c_scan *scan);
size_t mpsse_i2c_scan_reply_len(const struct mpsse_i2c_scan *scan);

/* Build the whole scan into buf. Returns the length written, -EINVAL for a bad scan (no
 * addresses, address > 0x7F, rounds out of range) or -ENOSPC when max is too small. */
ssize_t mpsse_i2c_build_scan(const struct mpsse_i2c_scan *scan, uint8_t *buf, size_t max);

/* Parse the reply of a scan into out[], one entry per transaction in build order
 * (index = round * n_addresses + address index). Returns the number of entries, -EINVAL for a bad
 * scan, -ENOSPC when max_out is too small, or -EPROTO when len is not exactly the expected reply
 * length (a short read, or extra bytes such as FA <op> for a rejected command) or, with
 * check_bus, when the reply does not end in FA AA; reads only reply[0..len). */
int mpsse_i2c_parse_scan(const struct mpsse_i2c_scan *scan, const uint8_t *reply, size_t len,
                         struct mpsse_i2c_read *out, size_t max_out);

/* With check_bus: the ADBUS levels read before the scan's first START and after its last STOP,
 * for mpsse_i2c_bus_idle(). Returns 0, -EINVAL without check_bus or for a bad scan, -EPROTO for a
 * wrong len. */
int mpsse_i2c_scan_levels(const struct mpsse_i2c_scan *scan, const uint8_t *reply, size_t len,
                          uint8_t *before, uint8_t *after);

/* Bus recovery: SCL low with SDA released, 9 SCL pulses (a slave stuck mid-byte finishes it and
 * lets go of SDA), a STOP, then a pin read (81) and 87. The reply is one byte of ADBUS levels.
 * Returns the length written or -ENOSPC. */
size_t mpsse_i2c_recovery_len(const struct mpsse_i2c_clock *clock);
ssize_t mpsse_i2c_build_recovery(const struct mpsse_i2c_clock *clock, uint8_t *buf, size_t max);
/* Whether the ADBUS levels show an idle bus (SCL and SDA in both high). */
bool mpsse_i2c_bus_idle(uint8_t adbus_levels);

#endif
