/* Conformance: libftdi1 (Debian libftdi1-dev, code nobody here wrote) opens a simulated adapter,
 * enters MPSSE mode and does pin write/read round trips: SDA out (ADBUS1) drives the bus, SDA in
 * (ADBUS2) reads the line back, SCL (ADBUS0) reads as driven, and a bad opcode is echoed FA <op>.
 *
 *   libftdi-pins VID PID SERIAL      (run under lynx-sim; exit 0 when every check holds) */
#include <ftdi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int failures;

static void check(int ok, const char *what, unsigned got, unsigned want)
{
    printf("%s: got 0x%02X, want 0x%02X%s\n", what, got, want, ok ? "" : "  MISMATCH");
    failures += !ok;
}

/* libftdi returns what is there; wait (up to 1 s) until n bytes have arrived. */
static int read_exact(struct ftdi_context *ftdi, unsigned char *buf, int n)
{
    int got = 0;
    for (int tries = 0; got < n && tries < 100; tries++) {
        int rc = ftdi_read_data(ftdi, buf + got, n - got);
        if (rc < 0)
            return rc;
        got += rc;
        if (got < n)
            nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    return got;
}

static unsigned read_pins_after(struct ftdi_context *ftdi, unsigned char value, unsigned char dir)
{
    unsigned char cmd[] = {0x80, value, dir, 0x81, 0x87};
    unsigned char pins = 0;
    if (ftdi_write_data(ftdi, cmd, sizeof(cmd)) != sizeof(cmd) || read_exact(ftdi, &pins, 1) != 1) {
        fprintf(stderr, "pin round trip failed: %s\n", ftdi_get_error_string(ftdi));
        exit(1);
    }
    return pins;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: libftdi-pins VID PID SERIAL\n");
        return 2;
    }
    int vid = (int)strtol(argv[1], NULL, 16), pid = (int)strtol(argv[2], NULL, 16);
    struct ftdi_context *ftdi = ftdi_new();
    if (!ftdi || ftdi_set_interface(ftdi, INTERFACE_A) < 0 ||
        ftdi_usb_open_desc(ftdi, vid, pid, NULL, argv[3]) < 0) {
        fprintf(stderr, "open %04x:%04x %s: %s\n", vid, pid, argv[3],
                ftdi ? ftdi_get_error_string(ftdi) : "no memory");
        return 1;
    }
    if (ftdi_usb_reset(ftdi) < 0 || ftdi_tcioflush(ftdi) < 0 ||
        ftdi_set_latency_timer(ftdi, 2) < 0 || ftdi_set_bitmode(ftdi, 0, BITMODE_RESET) < 0 ||
        ftdi_set_bitmode(ftdi, 0, BITMODE_MPSSE) < 0) {
        fprintf(stderr, "MPSSE set-up: %s\n", ftdi_get_error_string(ftdi));
        return 1;
    }
    unsigned char latency = 0;
    ftdi_get_latency_timer(ftdi, &latency);
    check(latency == 2, "latency timer", latency, 2);

    /* Push-pull outputs on ADBUS0 (SCL) and ADBUS1 (SDA out), ADBUS2 (SDA in) an input. */
    unsigned pins = read_pins_after(ftdi, 0x03, 0x03);
    check((pins & 0x07) == 0x07, "SCL high, SDA high -> SDA in high", pins & 0x07, 0x07);
    pins = read_pins_after(ftdi, 0x01, 0x03);
    check((pins & 0x07) == 0x01, "SCL high, SDA low -> SDA in low", pins & 0x07, 0x01);
    pins = read_pins_after(ftdi, 0x02, 0x03);
    check((pins & 0x07) == 0x06, "SCL low, SDA high -> SDA in high", pins & 0x07, 0x06);

    unsigned char bad[] = {0xAA, 0x87}, echo[2] = {0};
    if (ftdi_write_data(ftdi, bad, 2) != 2 || read_exact(ftdi, echo, 2) != 2)
        failures++;
    check(echo[0] == 0xFA && echo[1] == 0xAA, "bad opcode AA echo", echo[0] << 8 | echo[1], 0xFAAA);

    ftdi_set_bitmode(ftdi, 0, BITMODE_RESET);
    ftdi_usb_close(ftdi);
    ftdi_free(ftdi);
    return failures ? 1 : 0;
}
