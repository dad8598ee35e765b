/* The MPSSE engine tests' shared fixture (test_mpsse*.c): an engine on a bus with a probe device
 * that logs what it sees, created and freed around every test of suite mpsse; the reply capture
 * and its assertions; and the byte sequences real I2C clients (AN_255, pyftdi) send. */
#ifndef TEST_MPSSE_FIXTURE_H
#define TEST_MPSSE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/i2c_bus.h"
#include "model/lynx_slave.h"
#include "model/mpsse.h"

enum advance { ADVANCE_NEVER, ADVANCE_ON_FALL, ADVANCE_ON_RISE };

struct probe {
    char log[2048]; /* 'S' start, 'P' stop, '0'/'1' rise with SDA, 'f' fall */
    size_t log_len;
    bool hold_sda_low;
    const char *pattern; /* "1011..." driven on SDA, position advanced per the mode */
    size_t position;
    enum advance advance;
};

#define SEND(...)                                                                                  \
    do {                                                                                           \
        const uint8_t send_bytes_[] = {__VA_ARGS__};                                               \
        sim_mpsse_write(mpsse, send_bytes_, sizeof(send_bytes_));                                  \
    } while (0)

#define ASSERT_REPLY(...)                                                                          \
    do {                                                                                           \
        const uint8_t expected_[] = {__VA_ARGS__};                                                 \
        assert_reply(expected_, sizeof(expected_));                                                \
    } while (0)

#define ASSERT_NO_REPLY() cr_assert_eq(rx_len, 0, "%zu unexpected reply bytes", rx_len)

struct seq {
    uint8_t b[4096];
    size_t n;
};

#define PUT(s, ...)                                                                                \
    do {                                                                                           \
        const uint8_t put_bytes_[] = {__VA_ARGS__};                                                \
        put(s, put_bytes_, sizeof(put_bytes_));                                                    \
    } while (0)

#define PYFTDI_DELAY 3

extern uint8_t rx[8192];
extern size_t rx_len;
extern unsigned flushes;
extern const struct sim_mpsse_sink sink;
extern const struct sim_i2c_device_ops probe_ops;
const char *probe_samples(const struct probe *p);
/* Suite mpsse runs these around every test. */
void mpsse_setup(void);
void mpsse_teardown(void);
extern struct sim_i2c_bus *bus;
extern struct sim_mpsse *mpsse;
extern struct probe probe;
extern struct sim_lynx *lynx[4];
void add_distributors(int count);
void clear_reply(void);
void assert_reply(const uint8_t *expected, size_t len);
void assert_lines(bool scl, bool sda);
void open_drain_clock_low(void);
void put(struct seq *s, const uint8_t *bytes, size_t len);
void put_repeated(struct seq *s, int times, uint8_t a, uint8_t b, uint8_t c);
void an255_init(struct seq *s);
void an255_init_push_pull(struct seq *s);
void an255_start(struct seq *s);
void an255_address(struct seq *s, uint8_t address, bool read);
void an255_read_nack(struct seq *s);
void an255_stop(struct seq *s);
void an255_read_status(struct seq *s, uint8_t address);
void pyftdi_init(struct seq *s);
void pyftdi_start(struct seq *s);
void pyftdi_write_byte(struct seq *s, uint8_t byte);
void pyftdi_read_byte(struct seq *s, bool ack);
void pyftdi_stop(struct seq *s);
void run(const struct seq *s);

#endif
