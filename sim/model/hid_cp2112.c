/* hid-cp2112's side of a CP2112 (see hid_cp2112.h for the contract), played through the model's
 * USB operations as usbhid carries the driver's requests: feature reports as control transfers,
 * the rest as interrupt OUT reports, the answers as interrupt IN reports. */
#include "model/hid_cp2112.h"

#include <errno.h>
#include <linux/i2c.h>
#include <string.h>

#define MS                   1000000ull
#define XFER_STATUS_RETRIES  10 /* the driver's */
#define RESPONSE_TIMEOUT_MS  50 /* the driver's */
#define IN_STALLS_TOLERATED  8  /* usbhid clears a halted IN endpoint and submits again */
#define CP2112_READ_DATA_MAX 61

unsigned long sim_hid_cp2112_funcs(void)
{
    return I2C_FUNC_I2C | I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA |
           I2C_FUNC_SMBUS_WORD_DATA | I2C_FUNC_SMBUS_BLOCK_DATA | I2C_FUNC_SMBUS_I2C_BLOCK |
           I2C_FUNC_SMBUS_PROC_CALL | I2C_FUNC_SMBUS_BLOCK_PROC_CALL;
}

static int control(struct sim_cp2112 *chip, uint8_t type, uint8_t request, uint16_t value,
                   uint8_t *data, uint16_t len, uint64_t now_ns)
{
    const struct sim_usb_setup s = {type, request, value, 0, len};
    int rc = sim_cp2112_usb_ops.control_submit(chip, &s);
    return rc < 0 ? rc : sim_cp2112_usb_ops.control(chip, &s, data, now_ns);
}

/* hid_hw_raw_request() of a feature report: what the driver checks is the length. */
static int feature(struct sim_cp2112 *chip, bool set, uint8_t *buf, uint16_t len, uint64_t now)
{
    int rc = control(chip, set ? 0x21 : 0xA1, set ? 0x09 : 0x01, (uint16_t)(0x0300 | buf[0]), buf,
                     len, now);
    return rc < 0 ? rc : rc == len ? 0 : -EIO;
}

int sim_hid_cp2112_probe(struct sim_cp2112 *chip, uint64_t *now_ns)
{
    uint8_t buf[14] = {0};
    int rc = control(chip, 0x21, 0x0A, 0, buf, 0, *now_ns); /* usbhid: SET_IDLE */
    buf[0] = SIM_CP2112_VERSION;
    if (rc == 0)
        rc = feature(chip, false, buf, 3, *now_ns);
    buf[0] = SIM_CP2112_SMBUS_CONFIG;
    if (rc == 0)
        rc = feature(chip, false, buf, 14, *now_ns);
    buf[12] = 0; /* config.retry_time = cpu_to_be16(1) */
    buf[13] = 1;
    if (rc == 0)
        rc = feature(chip, true, buf, 14, *now_ns);
    buf[0] = SIM_CP2112_LOCK_BYTE;
    if (rc == 0)
        feature(chip, false, buf, 2, *now_ns); /* only logged when it fails */
    return rc;
}

/* hid_hw_output_report(): one interrupt OUT transfer in the next frame. */
static int output(struct sim_cp2112 *chip, const uint8_t *report, size_t len, uint64_t *now_ns)
{
    *now_ns += MS;
    int rc = sim_cp2112_usb_ops.data_submit(chip, SIM_CP2112_EP_OUT);
    return rc < 0 ? rc : sim_cp2112_usb_ops.data_out(chip, SIM_CP2112_EP_OUT, report, len, *now_ns);
}

/* cp2112_wait(): the interrupt IN reports until one with id comes; ETIMEDOUT when none does
 * within 50 ms (nothing queued, or an IN transfer that never completes). */
static int await(struct sim_cp2112 *chip, uint8_t id, uint8_t *report, uint64_t *now_ns)
{
    for (unsigned stalls = 0;;) {
        *now_ns += MS;
        int rc = sim_cp2112_usb_ops.data_submit(chip, SIM_CP2112_EP_IN);
        if (rc == -EPIPE && ++stalls < IN_STALLS_TOLERATED)
            continue;
        uint64_t wake = UINT64_MAX;
        int status = 0;
        int n = rc < 0 ? 0
                       : sim_cp2112_usb_ops.data_in(chip, SIM_CP2112_EP_IN, report,
                                                    SIM_CP2112_REPORT_MAX, *now_ns, &wake, &status);
        if (n == 0 && wake != UINT64_MAX && wake <= *now_ns + RESPONSE_TIMEOUT_MS * MS) {
            *now_ns = wake; /* auto send read: it comes when the transfer ends */
            continue;
        }
        if (n <= 0) {
            *now_ns += RESPONSE_TIMEOUT_MS * MS;
            return -ETIMEDOUT;
        }
        if (report[0] == id)
            return 0;
    }
}

/* cp2112_xfer_status() and cp2112_raw_event(): the transfer's status as an errno, or the bytes
 * read. */
static int transfer_status(struct sim_cp2112 *chip, uint64_t *now_ns)
{
    const uint8_t request[2] = {SIM_CP2112_STATUS_REQUEST, 0x01};
    uint8_t r[SIM_CP2112_REPORT_MAX];
    int rc = output(chip, request, sizeof(request), now_ns);
    if (rc >= 0)
        rc = await(chip, SIM_CP2112_STATUS_RESPONSE, r, now_ns);
    if (rc < 0)
        return rc;
    switch (r[1]) {
    case SIM_CP2112_IDLE:
        return -EAGAIN;
    case SIM_CP2112_BUSY:
        return -EBUSY;
    case SIM_CP2112_COMPLETE:
        return r[5] << 8 | r[6];
    case SIM_CP2112_ERROR:
        return r[2] == SIM_CP2112_TIMEOUT_NACK || r[2] == SIM_CP2112_TIMEOUT_BUS ? -ETIMEDOUT
                                                                                 : -EIO;
    default:
        return -EINVAL;
    }
}

/* cp2112_read(): one force send of at most 61 bytes; returns the bytes the response carries. */
static int read_some(struct sim_cp2112 *chip, uint8_t *data, unsigned size, uint64_t *now_ns)
{
    if (size > CP2112_READ_DATA_MAX)
        size = CP2112_READ_DATA_MAX;
    const uint8_t request[3] = {SIM_CP2112_READ_FORCE_SEND, (uint8_t)(size >> 8), (uint8_t)size};
    uint8_t r[SIM_CP2112_REPORT_MAX];
    int rc = output(chip, request, sizeof(request), now_ns);
    if (rc >= 0)
        rc = await(chip, SIM_CP2112_READ_RESPONSE, r, now_ns);
    if (rc < 0)
        return rc;
    unsigned got = r[2] > CP2112_READ_DATA_MAX ? CP2112_READ_DATA_MAX : r[2];
    memcpy(data, r + 3, got < size ? got : size);
    return (int)got;
}

/* The request report cp2112_i2c_xfer() builds; its length, or -errno. */
static int build_request(const struct sim_cp2112 *chip, const struct sim_i2c_msg *msgs, unsigned n,
                         uint8_t *r)
{
    const struct sim_i2c_msg *m = msgs;
    r[1] = (uint8_t)(m->addr << 1);
    if (n == 1 && (m->flags & I2C_M_RD)) {
        if (m->len < 1 || m->len > SIM_CP2112_READ_MAX)
            return -EINVAL;
        r[0] = SIM_CP2112_READ_REQUEST;
        r[2] = (uint8_t)(m->len >> 8);
        r[3] = (uint8_t)m->len;
        return 4;
    }
    if (n == 1) {
        if (m->len > SIM_CP2112_WRITE_MAX)
            return -EINVAL;
        r[0] = SIM_CP2112_WRITE_REQUEST;
        r[2] = (uint8_t)m->len;
        memcpy(r + 3, m->buf, m->len);
        return 3 + m->len;
    }
    if (n == 2 && sim_cp2112_config(chip)->version > 1 && msgs[0].addr == msgs[1].addr &&
        !(msgs[0].flags & I2C_M_RD) && (msgs[1].flags & I2C_M_RD)) {
        if (msgs[1].len < 1 || msgs[1].len > SIM_CP2112_READ_MAX ||
            msgs[0].len > SIM_CP2112_TARGET_MAX)
            return -EINVAL;
        r[0] = SIM_CP2112_WRITE_READ_REQUEST;
        r[2] = (uint8_t)(msgs[1].len >> 8);
        r[3] = (uint8_t)msgs[1].len;
        r[4] = (uint8_t)msgs[0].len;
        memcpy(r + 5, msgs[0].buf, msgs[0].len);
        return 5 + msgs[0].len;
    }
    return -EOPNOTSUPP;
}

int sim_hid_cp2112_i2c_xfer(struct sim_cp2112 *chip, struct sim_i2c_msg *msgs, unsigned n,
                            uint64_t *now_ns)
{
    uint8_t request[SIM_CP2112_REPORT_MAX];
    int len = build_request(chip, msgs, n, request);
    if (len < 0)
        return len;
    int rc = output(chip, request, (size_t)len, now_ns);
    if (rc < 0)
        return rc;
    unsigned polls = 0;
    do
        rc = transfer_status(chip, now_ns);
    while (rc == -EBUSY && ++polls < XFER_STATUS_RETRIES);
    if (rc == -EBUSY) {
        const uint8_t cancel[2] = {SIM_CP2112_CANCEL, 0x01};
        output(chip, cancel, sizeof(cancel), now_ns);
        return -ETIMEDOUT;
    }
    if (rc < 0)
        return rc;
    struct sim_i2c_msg *in = (msgs[n - 1].flags & I2C_M_RD) ? &msgs[n - 1] : NULL;
    for (unsigned count = 0; in && count < in->len;) {
        rc = read_some(chip, in->buf + count, in->len - count, now_ns);
        if (rc < 0)
            return rc;
        if (rc == 0 || count + (unsigned)rc > in->len)
            return -EIO; /* "read returned 0", "long read" */
        count += (unsigned)rc;
    }
    return (int)n;
}
