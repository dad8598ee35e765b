/* The CP2112's SMBus engine (see cp2112.h for the contract): the interrupt OUT reports, each
 * transfer on the simulated bus through the shared master with the chip's retries and timeouts,
 * its status as the 0x16 report encodes it, the read buffer and the 0x13 reports, the queue of
 * interrupt IN reports, and the interrupt faults. The USB control side is cp2112_usb.c.
 *
 * Model decisions where AN495 is silent:
 * - A request the chip cannot take (read length 0 or above 512, write length 0 or above 61,
 *   target address length 0 or above 16, an odd slave address, a report shorter than its
 *   fields) is dropped, and the transfer status goes idle: hid-cp2112 then gets status 0 =
 *   idle, which it reports as EAGAIN.
 * - A transfer request while one is busy is dropped; the running one goes on.
 * - The status of a finished transfer stays until the next transfer request or a cancel.
 * - Status 1 of a transfer complete at the first attempt is 0x05 with 0 retries.
 * - Busy: status 1 is 0x01 (address not acknowledged yet) while the bus is not free or an
 *   attempt was NACKed, else 0x02 reading / 0x03 writing.
 * - A force send (0x12) while a transfer is busy answers one 0x13 report with status busy and
 *   no data; after it, up to its length of what was read and not sent yet, in reports of up to
 *   61 bytes; with nothing left, one report with length 0.
 * - The model runs an attempt on the bus at once (in bus time, from the request on); a cancel
 *   before its bus time is over drops its result but does not shorten it on the wire. */
#include "model/cp2112.h"

#include <errno.h>
#include <linux/i2c.h>
#include <stdlib.h>
#include <string.h>

#include "model/cp2112_state.h"

#define NS_PER_MS 1000000ull

struct sim_cp2112 *sim_cp2112_new(const struct sim_cp2112_config *cfg, struct sim_i2c_bus *bus)
{
    struct sim_cp2112 *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->cfg = *cfg;
    if (!dev->cfg.vid && !dev->cfg.pid) {
        dev->cfg.vid = SIM_CP2112_VID;
        dev->cfg.pid = SIM_CP2112_PID;
    }
    if (!dev->cfg.version)
        dev->cfg.version = CP2112_DEFAULT_VERSION;
    dev->cfg.serial = cfg->serial && cfg->serial[0] ? strdup(cfg->serial) : NULL;
    if (cfg->serial && cfg->serial[0] && !dev->cfg.serial) {
        free(dev);
        return NULL;
    }
    sim_i2c_master_init(&dev->master, bus, SIM_I2C_STANDARD);
    sim_cp2112_reset(dev);
    return dev;
}

void sim_cp2112_free(struct sim_cp2112 *dev)
{
    if (!dev)
        return;
    free((char *)dev->cfg.serial);
    free(dev);
}

void sim_cp2112_reset(struct sim_cp2112 *dev)
{
    dev->smbus = (struct cp2112_smbus){.clock_hz = CP2112_DEFAULT_CLOCK,
                                       .address = CP2112_DEFAULT_SLAVE}; /* AN495's defaults */
    dev->gpio_direction = dev->gpio_push_pull = dev->gpio_special = 0;
    dev->gpio_clock_divider = 0;
    dev->gpio_latch = 0xFF;
    dev->configuration = 0;
    dev->x = (struct cp2112_transfer){.phase = PHASE_IDLE};
    dev->rlen = dev->rsent = 0;
    dev->qhead = dev->qlen = 0;
    cp2112_retime(dev);
}

const struct sim_cp2112_config *sim_cp2112_config(const struct sim_cp2112 *dev)
{
    return &dev->cfg;
}

const struct sim_cp2112_stats *sim_cp2112_stats(const struct sim_cp2112 *dev)
{
    return &dev->stats;
}

void cp2112_retime(struct sim_cp2112 *dev)
{
    /* Clocks up to 100 kHz get standard-mode timing, faster ones fast-mode (400 kHz) timing. */
    dev->master.t =
        sim_i2c_master_timing(dev->smbus.clock_hz > 100000 ? SIM_I2C_FAST : SIM_I2C_STANDARD);
}

/* ---- the report queue ------------------------------------------------------------------- */

static void push_report(struct sim_cp2112 *dev, const uint8_t *data, size_t len, uint64_t ready)
{
    if (dev->qlen == CP2112_QUEUE_MAX)
        return; /* the host reads nothing: the oldest answers are the ones it asked for */
    struct cp2112_report *r = &dev->queue[(dev->qhead + dev->qlen++) % CP2112_QUEUE_MAX];
    memset(r->data, 0, sizeof(r->data));
    memcpy(r->data, data, len);
    r->len = (uint8_t)len;
    r->ready_ns = ready;
}

/* A cancel drops the read responses not taken yet; status responses stay. */
static void drop_read_responses(struct sim_cp2112 *dev)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < dev->qlen; i++) {
        struct cp2112_report r = dev->queue[(dev->qhead + i) % CP2112_QUEUE_MAX];
        if (r.data[0] != SIM_CP2112_READ_RESPONSE)
            dev->queue[(dev->qhead + kept++) % CP2112_QUEUE_MAX] = r;
    }
    dev->qlen = kept;
}

/* 0x13: status 0, length, up to 61 bytes of the buffer, padded to 64. */
static void queue_read_response(struct sim_cp2112 *dev, uint8_t s0, uint16_t n, uint64_t ready)
{
    uint8_t r[SIM_CP2112_REPORT_MAX] = {SIM_CP2112_READ_RESPONSE, s0, (uint8_t)n};
    memcpy(r + 3, dev->rbuf + dev->rsent, n);
    dev->rsent = (uint16_t)(dev->rsent + n);
    push_report(dev, r, sizeof(r), ready);
}

/* What was read and not sent yet, up to max bytes, in reports of up to 61. */
static void send_read_data(struct sim_cp2112 *dev, uint8_t s0, unsigned max, uint64_t ready)
{
    unsigned left = dev->rlen - dev->rsent;
    if (left > max)
        left = max;
    if (left == 0)
        queue_read_response(dev, s0, 0, ready);
    while (left > 0) {
        unsigned n = left < SIM_CP2112_WRITE_MAX ? left : SIM_CP2112_WRITE_MAX;
        queue_read_response(dev, s0, (uint16_t)n, ready);
        left -= n;
    }
}

/* ---- transfers on the bus --------------------------------------------------------------- */

static bool reads(const struct cp2112_transfer *x)
{
    return x->kind != KIND_WRITE;
}

/* The transfer ends as s0/s1 once the bus time up to end_ns has passed. */
static void conclude(struct sim_cp2112 *dev, uint8_t s0, uint8_t s1, uint64_t end_ns)
{
    struct cp2112_transfer *x = &dev->x;
    x->s0 = s0;
    x->s1 = s1;
    x->end_ns = end_ns;
    x->phase = PHASE_RUNNING;
    if (s0 == SIM_CP2112_ERROR && s1 != SIM_CP2112_SUCCESS_AFTER_RETRIES)
        dev->stats.errors++;
    const bool success = s0 == SIM_CP2112_COMPLETE || s1 == SIM_CP2112_SUCCESS_AFTER_RETRIES;
    if (success && dev->smbus.auto_send_read && x->length > 0)
        send_read_data(dev, s0, x->length, end_ns);
}

static uint8_t failure_status(enum sim_i2c_outcome outcome)
{
    switch (outcome) {
    case SIM_I2C_ADDR_NACK:
        return SIM_CP2112_TIMEOUT_NACK;
    case SIM_I2C_ARB_LOST:
        return SIM_CP2112_ARBITRATION_LOST;
    default:
        return SIM_CP2112_WRITE_INCOMPLETE; /* a data byte written not acknowledged */
    }
}

static unsigned build_messages(struct sim_cp2112 *dev, struct sim_i2c_msg msgs[2])
{
    struct cp2112_transfer *x = &dev->x;
    struct sim_i2c_msg out = {.addr = x->addr, .len = x->out_len, .buf = x->out};
    struct sim_i2c_msg in = {
        .addr = x->addr, .flags = I2C_M_RD, .len = x->read_len, .buf = dev->rbuf};
    switch (x->kind) {
    case KIND_READ:
        msgs[0] = in;
        return 1;
    case KIND_WRITE:
        msgs[0] = out;
        return 1;
    default:
        msgs[0] = out;
        msgs[1] = in;
        return 2;
    }
}

static void note_scl(struct cp2112_transfer *x, bool low, uint64_t now_ns)
{
    if (low && !x->scl_low_seen)
        x->scl_low_ns = now_ns;
    x->scl_low_seen = low;
}

/* Attempts at now_ns: back to back while the retry count allows, one when it has no end. */
static void attempt(struct sim_cp2112 *dev, uint64_t now_ns)
{
    struct cp2112_transfer *x = &dev->x;
    struct sim_i2c_msg msgs[2];
    const unsigned n = build_messages(dev, msgs);
    uint64_t at = now_ns;
    for (;;) {
        struct sim_i2c_result res;
        sim_i2c_master_xfer(&dev->master, msgs, n, at, &res);
        dev->stats.scl_periods = dev->master.stats.scl_periods;
        dev->stats.bus_time_ns = dev->master.stats.bus_time_ns;
        if (!res.started) { /* not free: no attempt made, the chip waits */
            note_scl(x, res.outcome == SIM_I2C_SCL_LOW, now_ns);
            x->phase = PHASE_WAIT_BUS;
            return;
        }
        if (x->attempts++ > 0)
            dev->stats.retries++;
        x->last = res.outcome;
        x->length = 0;
        if (reads(x))
            x->length = res.outcome == SIM_I2C_OK ? x->read_len
                        : res.msg == n - 1        ? (uint16_t)res.done
                                                  : 0;
        dev->rlen = x->length;
        dev->rsent = 0;
        switch (res.outcome) {
        case SIM_I2C_OK:
            conclude(dev, x->attempts > 1 ? SIM_CP2112_ERROR : SIM_CP2112_COMPLETE,
                     SIM_CP2112_SUCCESS_AFTER_RETRIES, dev->master.bus_ns);
            return;
        case SIM_I2C_SCL_LOW: /* stretched for ever in the middle */
            note_scl(x, true, now_ns);
            x->phase = PHASE_STALLED;
            return;
        default: /* NACK or arbitration lost: retried */
            if (dev->smbus.retry_time && x->attempts > dev->smbus.retry_time) {
                conclude(dev, SIM_CP2112_ERROR, failure_status(res.outcome), dev->master.bus_ns);
                return;
            }
            if (!dev->smbus.retry_time) {
                x->phase = PHASE_RETRYING;
                return;
            }
            at = dev->master.bus_ns;
        }
    }
}

static uint16_t timeout_ms(const struct sim_cp2112 *dev)
{
    return reads(&dev->x) ? dev->smbus.read_timeout_ms : dev->smbus.write_timeout_ms;
}

/* A transfer still waiting or stalled at now_ns: ended by a timeout, or tried again. */
static void wait_or_retry(struct sim_cp2112 *dev, uint64_t now_ns)
{
    struct cp2112_transfer *x = &dev->x;
    if (x->phase != PHASE_RETRYING)
        note_scl(x, !sim_i2c_bus_scl_level(dev->master.bus), now_ns);
    const uint16_t t = timeout_ms(dev);
    if (dev->smbus.scl_low_timeout && x->phase != PHASE_RETRYING && x->scl_low_seen &&
        now_ns - x->scl_low_ns >= SIM_CP2112_SCL_LOW_TIMEOUT_MS * NS_PER_MS) {
        conclude(dev, SIM_CP2112_ERROR, SIM_CP2112_TIMEOUT_BUS, now_ns); /* the SMBus reset */
    } else if (t && now_ns - x->start_ns >= t * NS_PER_MS) {
        uint8_t s1 = SIM_CP2112_TIMEOUT_BUS;
        if (x->phase == PHASE_RETRYING)
            s1 = failure_status(x->last);
        else if (x->phase == PHASE_STALLED)
            s1 = reads(x) ? SIM_CP2112_READ_INCOMPLETE : SIM_CP2112_WRITE_INCOMPLETE;
        conclude(dev, SIM_CP2112_ERROR, s1, now_ns);
    } else if (x->phase != PHASE_STALLED) {
        attempt(dev, now_ns);
    }
}

/* Brings the transfer up to now_ns: every host request and poll goes through here. */
static void advance(struct sim_cp2112 *dev, uint64_t now_ns)
{
    struct cp2112_transfer *x = &dev->x;
    if (x->phase == PHASE_WAIT_BUS || x->phase == PHASE_RETRYING || x->phase == PHASE_STALLED)
        wait_or_retry(dev, now_ns);
    if (x->phase == PHASE_RUNNING && now_ns >= x->end_ns)
        x->phase = PHASE_DONE;
}

static bool busy(const struct cp2112_transfer *x)
{
    return x->phase != PHASE_IDLE && x->phase != PHASE_DONE;
}

/* ---- the interrupt OUT reports ------------------------------------------------------------ */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Takes a new transfer of kind from a checked request; starts it at once. */
static void start(struct sim_cp2112 *dev, enum cp2112_kind kind, uint8_t slave, uint16_t read_len,
                  const uint8_t *out, uint8_t out_len, uint64_t now_ns)
{
    dev->x = (struct cp2112_transfer){.kind = kind,
                                      .addr = slave >> 1,
                                      .read_len = read_len,
                                      .out_len = out_len,
                                      .start_ns = now_ns};
    if (out_len) /* a read request carries no bytes to write (out may be NULL) */
        memcpy(dev->x.out, out, out_len);
    dev->rlen = dev->rsent = 0;
    drop_read_responses(dev);
    dev->stats.transfers++;
    attempt(dev, now_ns);
}

/* A transfer request: checked as the chip would (see the top), then started. */
static void transfer_request(struct sim_cp2112 *dev, const uint8_t *d, size_t len, uint64_t now_ns)
{
    advance(dev, now_ns);
    if (busy(&dev->x)) {
        dev->stats.rejected++;
        return;
    }
    bool ok = len >= 3 && !(d[1] & 1) && d[1] != 0;
    uint16_t read_len = 0;
    const uint8_t *out = NULL;
    uint8_t out_len = 0;
    enum cp2112_kind kind = KIND_WRITE;
    if (ok && d[0] == SIM_CP2112_READ_REQUEST) {
        kind = KIND_READ;
        ok = len >= 4 && (read_len = be16(d + 2)) >= 1 && read_len <= SIM_CP2112_READ_MAX;
    } else if (ok && d[0] == SIM_CP2112_WRITE_READ_REQUEST) {
        kind = KIND_WRITE_READ;
        ok = len >= 5 && (read_len = be16(d + 2)) >= 1 && read_len <= SIM_CP2112_READ_MAX &&
             (out_len = d[4]) >= 1 && out_len <= SIM_CP2112_TARGET_MAX && len >= 5u + out_len;
        out = d + 5;
    } else if (ok) {
        out_len = d[2];
        ok = out_len >= 1 && out_len <= SIM_CP2112_WRITE_MAX && len >= 3u + out_len;
        out = d + 3;
    }
    if (!ok) {
        dev->stats.rejected++;
        dev->x = (struct cp2112_transfer){.phase = PHASE_IDLE};
        return;
    }
    start(dev, kind, d[1], read_len, out, out_len, now_ns);
}

static uint16_t retries_made(const struct cp2112_transfer *x)
{
    return x->attempts ? (uint16_t)(x->attempts - 1) : 0;
}

/* 0x16: the transfer as it stands at now_ns. */
static void status_response(struct sim_cp2112 *dev, uint64_t now_ns)
{
    const struct cp2112_transfer *x = &dev->x;
    uint8_t s0 = SIM_CP2112_IDLE, s1 = 0;
    uint16_t retries = 0, length = 0;
    switch (x->phase) {
    case PHASE_IDLE:
        break;
    case PHASE_DONE:
        s0 = x->s0;
        s1 = x->s1;
        retries = retries_made(x);
        length = x->length;
        break;
    default:
        s0 = SIM_CP2112_BUSY;
        retries = retries_made(x);
        if (x->phase == PHASE_WAIT_BUS || x->last == SIM_I2C_ADDR_NACK)
            s1 = SIM_CP2112_BUSY_ADDRESS_NACKED;
        else
            s1 = reads(x) ? SIM_CP2112_BUSY_READING : SIM_CP2112_BUSY_WRITING;
        break;
    }
    const uint8_t r[7] = {SIM_CP2112_STATUS_RESPONSE,
                          s0,
                          s1,
                          (uint8_t)(retries >> 8),
                          (uint8_t)retries,
                          (uint8_t)(length >> 8),
                          (uint8_t)length};
    push_report(dev, r, sizeof(r), now_ns);
}

static void force_send(struct sim_cp2112 *dev, const uint8_t *d, size_t len, uint64_t now_ns)
{
    uint16_t want = len >= 3 ? be16(d + 1) : 0;
    if (want < 1 || want > SIM_CP2112_READ_MAX) {
        dev->stats.rejected++;
        return;
    }
    if (busy(&dev->x)) {
        queue_read_response(dev, SIM_CP2112_BUSY, 0, now_ns);
        return;
    }
    send_read_data(dev, dev->x.phase == PHASE_DONE ? dev->x.s0 : SIM_CP2112_IDLE, want, now_ns);
}

void cp2112_interrupt_out(struct sim_cp2112 *dev, const uint8_t *d, size_t len, uint64_t now_ns)
{
    if (len == 0)
        return;
    dev->stats.reports_out++;
    switch (d[0]) {
    case SIM_CP2112_READ_REQUEST:
    case SIM_CP2112_WRITE_READ_REQUEST:
    case SIM_CP2112_WRITE_REQUEST:
        transfer_request(dev, d, len, now_ns);
        return;
    case SIM_CP2112_READ_FORCE_SEND:
        advance(dev, now_ns);
        force_send(dev, d, len, now_ns);
        return;
    case SIM_CP2112_STATUS_REQUEST:
        if (len < 2 || d[1] != 0x01)
            break;
        dev->stats.status_requests++;
        advance(dev, now_ns);
        status_response(dev, now_ns);
        return;
    case SIM_CP2112_CANCEL:
        if (len < 2 || d[1] != 0x01)
            break;
        dev->stats.cancels++;
        dev->x = (struct cp2112_transfer){.phase = PHASE_IDLE};
        dev->rlen = dev->rsent = 0;
        drop_read_responses(dev);
        return;
    default:
        break;
    }
    dev->stats.rejected++; /* not a report the chip takes on its OUT endpoint */
}

/* ---- the interrupt endpoints ------------------------------------------------------------- */

int cp2112_data_submit(void *ctx, uint8_t ep)
{
    struct sim_cp2112 *dev = ctx;
    if (ep != SIM_CP2112_EP_IN && ep != SIM_CP2112_EP_OUT)
        return 0;
    if (dev->faults.stall > 0) {
        dev->faults.stall--;
        dev->stats.stalled++;
        return -EPIPE;
    }
    if (ep == SIM_CP2112_EP_IN && dev->faults.hang_in > 0) {
        dev->faults.hang_in--;
        dev->stats.hung++;
        return -ETIMEDOUT;
    }
    return 0;
}

int cp2112_data_out(void *ctx, uint8_t ep, const uint8_t *data, size_t len, uint64_t now_ns)
{
    struct sim_cp2112 *dev = ctx;
    if (ep != SIM_CP2112_EP_OUT)
        return -EINVAL;
    /* one report per 64-byte packet */
    for (size_t off = 0; off < len; off += SIM_CP2112_REPORT_MAX) {
        size_t n = len - off < SIM_CP2112_REPORT_MAX ? len - off : SIM_CP2112_REPORT_MAX;
        cp2112_interrupt_out(dev, data + off, n, now_ns);
    }
    return (int)len;
}

int cp2112_data_in(void *ctx, uint8_t ep, uint8_t *buf, size_t max, uint64_t now_ns,
                   uint64_t *wake_ns, int *status)
{
    struct sim_cp2112 *dev = ctx;
    *status = 0;
    if (ep != SIM_CP2112_EP_IN)
        return -EINVAL;
    if (dev->qlen == 0 || dev->queue[dev->qhead].ready_ns > now_ns) {
        /* nothing to send yet: reports come from host requests, and with auto send read from a
         * transfer's end (a wait for the bus is looked at again at the next host request) */
        *wake_ns = dev->qlen ? dev->queue[dev->qhead].ready_ns : UINT64_MAX;
        return 0;
    }
    const struct cp2112_report *r = &dev->queue[dev->qhead];
    size_t n = r->len;
    if (n > max) {
        n = max;
        *status = -EOVERFLOW;
    }
    memcpy(buf, r->data, n);
    dev->qhead = (dev->qhead + 1) % CP2112_QUEUE_MAX;
    dev->qlen--;
    dev->stats.reports_in++;
    return (int)n;
}

/* ---- faults ------------------------------------------------------------------------------- */

void sim_cp2112_fail_interrupt(struct sim_cp2112 *dev, unsigned count)
{
    dev->faults.stall = count;
}

void sim_cp2112_hang_interrupt_in(struct sim_cp2112 *dev, unsigned count)
{
    dev->faults.hang_in = count;
}
