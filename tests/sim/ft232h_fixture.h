/* The FT232H model tests' shared fixture (test_ft232h.c, test_ft232h_control.c): a default
 * adapter created and freed around every test of suite ft232h, and the control and bulk helpers. */
#ifndef TEST_FT232H_FIXTURE_H
#define TEST_FT232H_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "model/ft232h.h"

#define MS       1000000ull
#define T0       (1000 * MS) /* an arbitrary CLOCK_MONOTONIC start */
#define DIR_IN   0x80
#define STD_DEV  0x00
#define VENDOR   0x40
#define DESC_LEN (18 + 32)

extern struct sim_ft232h *dev;

int ctl(uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint16_t len, uint8_t *data);
int vendor_out(uint8_t req, uint16_t value);
void enter_mpsse(void);
void bulk_send(const uint8_t *bytes, size_t len, uint64_t now);

#endif
