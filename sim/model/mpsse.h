/* The FT232H's MPSSE engine: executes the command stream a host sends in MPSSE mode.
 *
 * Every opcode of AN_108 is parsed with its real length, so a stray byte shifts the stream as on
 * the chip: data shifting (10-3F), TMS shifting (4A/4B/6A/6B/6E/6F), pins (80-83), loopback,
 * divisor, send immediate, 8A-8F, waits on GPIOL1 (88/89, 94/95: AD5 is not wired and reads high,
 * so waiting for low stalls the engine until a reset or purge), 9C/9D, 96/97, 9E (FT232H only)
 * and the MCU host emulation commands 90-93 (reads answer one byte). Anything else is a bad
 * command. Commands may straddle sim_mpsse_write() calls (partial commands are kept). Replies (read
 * data, pin reads, `FA <op>` for bad commands) go to the sink as they are produced; 0x87 (send
 * immediate) calls sink->flush. Pins: ADBUS0 = SCL (TCK), ADBUS1 = SDA out (TDI/DO), ADBUS2 = SDA
 * in (TDO/DI, wired to ADBUS1 on the board), ADBUS7 = SCL feedback. Output pins drive the I2C bus
 * push-pull unless their bit is set in the drive-zero mask (0x9E), where 1 floats. The engine
 * keeps a modelled bus clock: SCL periods issued and bus time in nanoseconds derived from the
 * clock divisor, divide-by-5 and 3-phase settings, and a bus time (below) that stamps every pin
 * change for the bus's timing checks. */
#ifndef SIM_MPSSE_H
#define SIM_MPSSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/i2c_bus.h"

struct sim_mpsse_sink {
    void (*data)(void *ctx, const uint8_t *bytes, size_t len); /* reply bytes, in order */
    void (*flush)(void *ctx);                                  /* 0x87 send immediate */
    void *ctx;
};

struct sim_mpsse_stats {
    uint64_t commands;      /* complete commands executed (including bad ones) */
    uint64_t bad_commands;  /* answered with FA <op> */
    uint64_t scl_periods;   /* full clock periods issued on TCK/SCL */
    uint64_t bus_time_ns;   /* modelled time the clocked commands took on the bus */
    uint64_t stalled_bytes; /* swallowed while waiting for GPIOL1 (88/89, 94/95) */
};

struct sim_mpsse;

/* bus may be NULL (pins unconnected). drive_zero: the chip has opcode 0x9E (FT232H yes,
 * FT2232H/FT4232H no: 0x9E is then a bad command). */
struct sim_mpsse *sim_mpsse_new(struct sim_i2c_bus *bus, const struct sim_mpsse_sink *sink,
                                bool drive_zero);
void sim_mpsse_free(struct sim_mpsse *m);

/* Power-on / SET_BITMODE state: all pins inputs, divisor 0, divide-by-5 on, 3-phase off,
 * loopback off, drive-zero masks 0, partial command dropped. */
void sim_mpsse_reset(struct sim_mpsse *m);

/* Purge of the host-to-chip buffer: drops a partially received command and ends a stall;
 * settings and pins stay. */
void sim_mpsse_purge(struct sim_mpsse *m);
/* Waiting for GPIOL1 (AD5, not wired: reads high) to go low (89, 95) or high: until reset/purge. */
bool sim_mpsse_stalled(const struct sim_mpsse *m);

/* Feed command bytes; executes every complete command. */
void sim_mpsse_write(struct sim_mpsse *m, const uint8_t *bytes, size_t len);

/* Current ADBUS pin levels (what READ_PINS / 0x81 report). */
uint8_t sim_mpsse_read_pins(const struct sim_mpsse *m);

/* SCL frequency in Hz with the current clock settings. */
uint32_t sim_mpsse_scl_hz(const struct sim_mpsse *m);

const struct sim_mpsse_stats *sim_mpsse_stats(const struct sim_mpsse *m);

/* Bus time. It advances with every clocked bit and pin write; between host transfers the bus
 * idles: a transfer arriving at time now_ns (CLOCK_MONOTONIC) cannot start before it, so the
 * bus time jumps there when it is behind (the chip has run out of commands). The I2C bus gets
 * its pin changes stamped with this time (its timing checks). */
void sim_mpsse_advance_to(struct sim_mpsse *m, uint64_t now_ns);
uint64_t sim_mpsse_now_ns(const struct sim_mpsse *m);

#endif
