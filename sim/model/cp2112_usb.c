/* The CP2112's USB control side (see cp2112.h for the contract): the device, configuration, HID
 * and report descriptors, the standard requests, the HID class requests (SET_IDLE, GET_IDLE,
 * GET_REPORT and SET_REPORT of the feature reports), the control faults, and the operations
 * table a front end drives. The SMBus engine behind the interrupt endpoints is cp2112.c.
 *
 * The report descriptor is this model's own: one vendor-defined application collection (usage
 * page 0xFF00) with one numbered report per AN495 report ID, of AN495's size, Feature, Input or
 * Output as the report goes. Model decisions where AN495 is silent:
 * - The one-time programmable fields (lock byte 0x20, USB configuration 0x21, strings 0x22-0x24)
 *   read back what the descriptors say, with every field unlocked (lock byte 0xFF); writing them
 *   stalls: the model's PROM is read-only.
 * - A reset (feature report 0x01) returns the chip to its power-on state; it does not make the
 *   device leave the bus and enumerate again as the silicon does.
 * - An SMBus configuration out of AN495's ranges (clock 0, an odd or zero slave address,
 *   timeouts or retries above 1000) stalls and changes nothing. */
#include "model/cp2112.h"

#include <errno.h>
#include <string.h>

#include "model/cp2112_state.h"

#define DEVICE_DESC_LEN 18
#define CONFIG_DESC_LEN (9 + 9 + 9 + 7 + 7)
#define HID_DESC_OFFSET (9 + 9)
#define MAX_POWER_2MA   50 /* 100 mA */
#define LANGID_EN_US    0x0409
#define STR_SERIAL      3
#define MANUFACTURER    "Silicon Laboratories"
#define PRODUCT         "CP2112 HID USB-to-SMBus Bridge"

enum { DT_DEVICE = 1, DT_CONFIG = 2, DT_STRING = 3, DT_HID = 0x21, DT_REPORT = 0x22 };
enum {
    REQ_GET_STATUS = 0x00,
    REQ_CLEAR_FEATURE = 0x01,
    REQ_GET_DESCRIPTOR = 0x06,
    REQ_GET_CONFIGURATION = 0x08,
    REQ_SET_CONFIGURATION = 0x09,
    REQ_GET_INTERFACE = 0x0A,
    REQ_SET_INTERFACE = 0x0B,
};
enum { HID_GET_REPORT = 0x01, HID_GET_IDLE = 0x02, HID_SET_REPORT = 0x09, HID_SET_IDLE = 0x0A };
enum { HID_INPUT = 1, HID_OUTPUT = 2, HID_FEATURE = 3 }; /* GET/SET_REPORT wValue high byte */

#define TYPE_DIR_IN     0x80
#define TYPE_MASK       0x60
#define TYPE_STANDARD   0x00
#define TYPE_CLASS      0x20
#define RECIPIENT_MASK  0x1F
#define RECIP_DEVICE    0
#define RECIP_INTERFACE 1
#define RECIP_ENDPOINT  2

/* The reports: ID, payload bytes (the ID not counted), and the main item (Feature 0xB1, Input
 * 0x81, Output 0x91). */
static const struct {
    uint8_t id, size, item;
} reports[] = {
    {SIM_CP2112_RESET, 1, 0xB1},           {SIM_CP2112_GPIO_CONFIG, 4, 0xB1},
    {SIM_CP2112_GPIO_GET, 1, 0xB1},        {SIM_CP2112_GPIO_SET, 2, 0xB1},
    {SIM_CP2112_VERSION, 2, 0xB1},         {SIM_CP2112_SMBUS_CONFIG, 13, 0xB1},
    {SIM_CP2112_READ_REQUEST, 3, 0x91},    {SIM_CP2112_WRITE_READ_REQUEST, 20, 0x91},
    {SIM_CP2112_READ_FORCE_SEND, 2, 0x91}, {SIM_CP2112_READ_RESPONSE, 63, 0x81},
    {SIM_CP2112_WRITE_REQUEST, 63, 0x91},  {SIM_CP2112_STATUS_REQUEST, 1, 0x91},
    {SIM_CP2112_STATUS_RESPONSE, 6, 0x81}, {SIM_CP2112_CANCEL, 1, 0x91},
    {SIM_CP2112_LOCK_BYTE, 1, 0xB1},       {SIM_CP2112_USB_CONFIG, 9, 0xB1},
    {SIM_CP2112_MANUFACTURER, 62, 0xB1},   {SIM_CP2112_PRODUCT, 62, 0xB1},
    {SIM_CP2112_SERIAL, 62, 0xB1},
};
#define N_REPORTS         (sizeof(reports) / sizeof(reports[0]))
#define REPORT_HEAD_LEN   14 /* usage page, usage, collection, logical min/max, report size */
#define REPORT_ITEM_LEN   8  /* report ID, report count, usage, main item */
#define REPORT_DESC_LEN   (REPORT_HEAD_LEN + N_REPORTS * REPORT_ITEM_LEN + 1)
#define DESCRIPTORS_TOTAL (DEVICE_DESC_LEN + CONFIG_DESC_LEN)

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = v & 0xFF;
    p[1] = v >> 8;
}

static void build_report_descriptor(uint8_t *d)
{
    static const uint8_t head[REPORT_HEAD_LEN] = {
        0x06, 0x00, 0xFF, /* Usage Page (Vendor Defined 0xFF00) */
        0x09, 0x01,       /* Usage (0x01) */
        0xA1, 0x01,       /* Collection (Application) */
        0x15, 0x00,       /* Logical Minimum (0) */
        0x26, 0xFF, 0x00, /* Logical Maximum (255) */
        0x75, 0x08,       /* Report Size (8) */
    };
    memcpy(d, head, sizeof(head));
    uint8_t *p = d + sizeof(head);
    for (size_t i = 0; i < N_REPORTS; i++) {
        const uint8_t item[REPORT_ITEM_LEN] = {0x85, reports[i].id,   0x95, reports[i].size, 0x09,
                                               0x01, reports[i].item, 0x02};
        memcpy(p, item, sizeof(item));
        p += sizeof(item);
    }
    *p = 0xC0; /* End Collection */
}

static void build_device_descriptor(const struct sim_cp2112 *dev, uint8_t *d)
{
    const uint8_t head[8] = {DEVICE_DESC_LEN, DT_DEVICE, 0x00, 0x02, 0, 0, 0, 64};
    memcpy(d, head, sizeof(head));
    put_le16(d + 8, dev->cfg.vid);
    put_le16(d + 10, dev->cfg.pid);
    put_le16(d + 12, 0x0000); /* bcdDevice: the release version field, not programmed */
    d[14] = 1;                /* iManufacturer */
    d[15] = 2;                /* iProduct */
    d[16] = dev->cfg.serial ? STR_SERIAL : 0;
    d[17] = 1; /* bNumConfigurations */
}

static void build_config_descriptor(uint8_t *d)
{
    const uint8_t config[CONFIG_DESC_LEN] = {
        /* configuration: 1 interface, bus powered, 100 mA */
        9, DT_CONFIG, CONFIG_DESC_LEN, 0, 1, 1, 0, 0x80, MAX_POWER_2MA,
        /* interface 0: HID, no subclass or protocol, 2 endpoints */
        9, 0x04, 0, 0, 2, 0x03, 0x00, 0x00, 0,
        /* HID 1.01, one report descriptor */
        9, DT_HID, 0x01, 0x01, 0x00, 1, DT_REPORT, REPORT_DESC_LEN & 0xFF, REPORT_DESC_LEN >> 8,
        /* interrupt IN 0x81 and OUT 0x01, 64 bytes, every frame */
        7, 0x05, SIM_CP2112_EP_IN, 0x03, 64, 0, 1, 7, 0x05, SIM_CP2112_EP_OUT, 0x03, 64, 0, 1};
    memcpy(d, config, sizeof(config));
}

static size_t descriptors(const void *ctx, uint8_t *buf, size_t max)
{
    if (max < DESCRIPTORS_TOTAL)
        return DESCRIPTORS_TOTAL;
    build_device_descriptor(ctx, buf);
    build_config_descriptor(buf + DEVICE_DESC_LEN);
    return DESCRIPTORS_TOTAL;
}

/* Copies at most wLength bytes of a reply; returns the count. */
static int reply(uint8_t *data, uint16_t wLength, const uint8_t *bytes, size_t len)
{
    size_t n = len < wLength ? len : wLength;
    memcpy(data, bytes, n);
    return (int)n;
}

/* A string as UTF-16LE after a length and a type byte (a USB string descriptor's layout, and the
 * CP2112's string reports'), at most max_chars characters. Returns the bytes written. */
static size_t utf16_string(uint8_t *d, const char *s, size_t max_chars)
{
    size_t chars = strlen(s) < max_chars ? strlen(s) : max_chars;
    d[0] = (uint8_t)(2 + 2 * chars);
    d[1] = DT_STRING;
    for (size_t i = 0; i < chars; i++)
        put_le16(d + 2 + 2 * i, (uint8_t)s[i]);
    return 2 + 2 * chars;
}

static int get_descriptor(const struct sim_cp2112 *dev, const struct sim_usb_setup *s,
                          uint8_t *data)
{
    const uint8_t type = s->wValue >> 8, index = s->wValue & 0xFF;
    uint8_t d[255];
    const char *string = NULL;
    switch (type) {
    case DT_DEVICE:
        build_device_descriptor(dev, d);
        return index ? -EPIPE : reply(data, s->wLength, d, DEVICE_DESC_LEN);
    case DT_CONFIG:
        build_config_descriptor(d);
        return index ? -EPIPE : reply(data, s->wLength, d, CONFIG_DESC_LEN);
    case DT_STRING:
        if (index == 0) {
            const uint8_t langids[] = {4, DT_STRING, LANGID_EN_US & 0xFF, LANGID_EN_US >> 8};
            return reply(data, s->wLength, langids, sizeof(langids));
        }
        string = index == 1 ? MANUFACTURER : index == 2 ? PRODUCT : NULL;
        if (index == STR_SERIAL)
            string = dev->cfg.serial;
        if (!string)
            return -EPIPE;
        return reply(data, s->wLength, d, utf16_string(d, string, (sizeof(d) - 2) / 2));
    default:
        return -EPIPE;
    }
}

/* GET_DESCRIPTOR of the interface's class descriptors (how usbhid reads the report descriptor). */
static int get_class_descriptor(const struct sim_usb_setup *s, uint8_t *data)
{
    uint8_t d[REPORT_DESC_LEN > CONFIG_DESC_LEN ? REPORT_DESC_LEN : CONFIG_DESC_LEN];
    if (s->wIndex != 0)
        return -EPIPE;
    switch (s->wValue >> 8) {
    case DT_HID:
        build_config_descriptor(d);
        return reply(data, s->wLength, d + HID_DESC_OFFSET, 9);
    case DT_REPORT:
        build_report_descriptor(d);
        return reply(data, s->wLength, d, REPORT_DESC_LEN);
    default:
        return -EPIPE;
    }
}

static int standard_request(struct sim_cp2112 *dev, const struct sim_usb_setup *s, uint8_t *data)
{
    const bool in = s->bmRequestType & TYPE_DIR_IN;
    const uint8_t recipient = s->bmRequestType & RECIPIENT_MASK;
    const uint8_t zero[2] = {0, 0};
    switch (s->bRequest) {
    case REQ_GET_DESCRIPTOR:
        if (in && recipient == RECIP_DEVICE)
            return get_descriptor(dev, s, data);
        return in && recipient == RECIP_INTERFACE ? get_class_descriptor(s, data) : -EPIPE;
    case REQ_GET_CONFIGURATION:
        return in && recipient == RECIP_DEVICE ? reply(data, s->wLength, &dev->configuration, 1)
                                               : -EPIPE;
    case REQ_SET_CONFIGURATION:
        if (in || recipient != RECIP_DEVICE || s->wValue > 1)
            return -EPIPE;
        dev->configuration = (uint8_t)s->wValue;
        return 0;
    case REQ_GET_STATUS: /* bus powered, no remote wakeup, endpoints never halted */
        return in && recipient <= RECIP_ENDPOINT ? reply(data, s->wLength, zero, 2) : -EPIPE;
    case REQ_GET_INTERFACE:
        return in && recipient == RECIP_INTERFACE && s->wIndex == 0
                   ? reply(data, s->wLength, zero, 1)
                   : -EPIPE;
    case REQ_SET_INTERFACE:
        return !in && recipient == RECIP_INTERFACE && s->wIndex == 0 && s->wValue == 0 ? 0 : -EPIPE;
    case REQ_CLEAR_FEATURE: /* ENDPOINT_HALT after a stall: nothing stays halted */
        return !in && recipient == RECIP_ENDPOINT ? 0 : -EPIPE;
    default:
        return -EPIPE;
    }
}

/* ---- feature reports ------------------------------------------------------------------------ */

/* A feature report's bytes, ID first. Returns the length or -EPIPE (no such feature report). */
static int get_feature(const struct sim_cp2112 *dev, uint8_t id, uint8_t *r)
{
    const struct cp2112_smbus *c = &dev->smbus;
    r[0] = id;
    switch (id) {
    case SIM_CP2112_GPIO_CONFIG:
        r[1] = dev->gpio_direction;
        r[2] = dev->gpio_push_pull;
        r[3] = dev->gpio_special;
        r[4] = dev->gpio_clock_divider;
        return 5;
    case SIM_CP2112_GPIO_GET:
        /* outputs read their latch, inputs float high (nothing is wired to them) */
        r[1] = (uint8_t)((dev->gpio_latch & dev->gpio_direction) | ~dev->gpio_direction);
        return 2;
    case SIM_CP2112_VERSION:
        r[1] = SIM_CP2112_PART_NUMBER;
        r[2] = dev->cfg.version;
        return 3;
    case SIM_CP2112_SMBUS_CONFIG: {
        const uint8_t b[14] = {id,
                               (uint8_t)(c->clock_hz >> 24),
                               (uint8_t)(c->clock_hz >> 16),
                               (uint8_t)(c->clock_hz >> 8),
                               (uint8_t)c->clock_hz,
                               c->address,
                               c->auto_send_read,
                               (uint8_t)(c->write_timeout_ms >> 8),
                               (uint8_t)c->write_timeout_ms,
                               (uint8_t)(c->read_timeout_ms >> 8),
                               (uint8_t)c->read_timeout_ms,
                               c->scl_low_timeout,
                               (uint8_t)(c->retry_time >> 8),
                               (uint8_t)c->retry_time};
        memcpy(r, b, sizeof(b));
        return sizeof(b);
    }
    case SIM_CP2112_LOCK_BYTE:
        r[1] = 0xFF; /* every field unlocked */
        return 2;
    case SIM_CP2112_USB_CONFIG:
        put_le16(r + 1, dev->cfg.vid);
        put_le16(r + 3, dev->cfg.pid);
        r[5] = MAX_POWER_2MA;
        r[6] = 0; /* bus powered */
        r[7] = r[8] = 0;
        r[9] = 0; /* mask: only meaningful when writing */
        return 10;
    case SIM_CP2112_MANUFACTURER:
    case SIM_CP2112_PRODUCT:
    case SIM_CP2112_SERIAL: {
        const char *s = id == SIM_CP2112_MANUFACTURER ? MANUFACTURER
                        : id == SIM_CP2112_PRODUCT    ? PRODUCT
                        : dev->cfg.serial             ? dev->cfg.serial
                                                      : "";
        memset(r + 1, 0, 62);
        utf16_string(r + 1, s, 30);
        return 63;
    }
    default:
        return -EPIPE;
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* SET_REPORT of the SMBus configuration: checked against AN495's ranges, then taken. */
static int set_smbus_config(struct sim_cp2112 *dev, const uint8_t *d, size_t len)
{
    if (len < 14)
        return -EPIPE;
    const struct cp2112_smbus c = {.clock_hz = (uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 |
                                               (uint32_t)d[3] << 8 | d[4],
                                   .address = d[5],
                                   .auto_send_read = d[6] != 0,
                                   .write_timeout_ms = be16(d + 7),
                                   .read_timeout_ms = be16(d + 9),
                                   .scl_low_timeout = d[11] != 0,
                                   .retry_time = be16(d + 12)};
    if (c.clock_hz == 0 || c.address == 0 || (c.address & 1) || c.write_timeout_ms > 1000 ||
        c.read_timeout_ms > 1000 || c.retry_time > 1000)
        return -EPIPE;
    dev->smbus = c;
    cp2112_retime(dev);
    return (int)len;
}

static int set_feature(struct sim_cp2112 *dev, uint8_t id, const uint8_t *d, size_t len)
{
    switch (id) {
    case SIM_CP2112_RESET:
        if (len < 2 || d[1] != 0x01)
            return -EPIPE;
        sim_cp2112_reset(dev);
        return (int)len;
    case SIM_CP2112_GPIO_CONFIG:
        if (len < 5)
            return -EPIPE;
        dev->gpio_direction = d[1];
        dev->gpio_push_pull = d[2];
        dev->gpio_special = d[3];
        dev->gpio_clock_divider = d[4];
        return (int)len;
    case SIM_CP2112_GPIO_SET:
        if (len < 3)
            return -EPIPE;
        dev->gpio_latch = (uint8_t)((dev->gpio_latch & ~d[2]) | (d[1] & d[2]));
        return (int)len;
    case SIM_CP2112_SMBUS_CONFIG:
        return set_smbus_config(dev, d, len);
    default:
        return -EPIPE; /* read-only, or not a feature report */
    }
}

/* The HID class requests of interface 0. */
static int class_request(struct sim_cp2112 *dev, const struct sim_usb_setup *s, uint8_t *data,
                         uint64_t now_ns)
{
    const bool in = s->bmRequestType & TYPE_DIR_IN;
    const uint8_t type = s->wValue >> 8, id = s->wValue & 0xFF;
    if ((s->bmRequestType & RECIPIENT_MASK) != RECIP_INTERFACE || s->wIndex != 0)
        return -EPIPE;
    switch (s->bRequest) {
    case HID_SET_IDLE:
        return in ? -EPIPE : 0; /* no input report is sent unasked anyway */
    case HID_GET_IDLE: {
        const uint8_t rate = 0;
        return in ? reply(data, s->wLength, &rate, 1) : -EPIPE;
    }
    case HID_GET_REPORT: {
        uint8_t r[SIM_CP2112_REPORT_MAX];
        int n = in && type == HID_FEATURE ? get_feature(dev, id, r) : -EPIPE;
        return n < 0 ? n : reply(data, s->wLength, r, (size_t)n);
    }
    case HID_SET_REPORT:
        if (in || s->wLength == 0 || data[0] != id)
            return -EPIPE;
        if (type == HID_OUTPUT) { /* the OUT endpoint's reports, sent on endpoint 0 */
            cp2112_interrupt_out(dev, data, s->wLength, now_ns);
            return s->wLength;
        }
        return type == HID_FEATURE ? set_feature(dev, id, data, s->wLength) : -EPIPE;
    default:
        return -EPIPE;
    }
}

static int control(void *ctx, const struct sim_usb_setup *setup, uint8_t *data, uint64_t now_ns)
{
    struct sim_cp2112 *dev = ctx;
    int ret = -EPIPE;
    if ((setup->bmRequestType & TYPE_MASK) == TYPE_STANDARD)
        ret = standard_request(dev, setup, data);
    else if ((setup->bmRequestType & TYPE_MASK) == TYPE_CLASS)
        ret = class_request(dev, setup, data, now_ns);
    if (ret >= 0) {
        if (setup->bmRequestType & TYPE_DIR_IN)
            dev->stats.control_in++;
        else
            dev->stats.control_out++;
    }
    return ret;
}

/* ---- control faults --------------------------------------------------------------------- */

void sim_cp2112_fail_control(struct sim_cp2112 *dev, unsigned count)
{
    dev->faults.control.stall = count;
}

void sim_cp2112_hang_control(struct sim_cp2112 *dev, unsigned count)
{
    dev->faults.control.hang = count;
}

void sim_cp2112_fail_serial_string(struct sim_cp2112 *dev)
{
    dev->faults.control.serial_string_fails = true;
}

static int control_submit(void *ctx, const struct sim_usb_setup *setup)
{
    struct sim_cp2112 *dev = ctx;
    return sim_usb_control_faults_submit(&dev->faults.control, STR_SERIAL, setup);
}

/* A plug: the chip starts from its power-on state (faults armed stay armed). */
static void power_on(void *dev, uint64_t now_ns)
{
    (void)now_ns;
    sim_cp2112_reset(dev);
}

const struct sim_usb_model_ops sim_cp2112_usb_ops = {
    .speed = SIM_USB_FULL_SPEED,
    .descriptors = descriptors,
    .control_submit = control_submit,
    .control = control,
    .data_submit = cp2112_data_submit,
    .data_out = cp2112_data_out,
    .data_in = cp2112_data_in,
    .power_on = power_on,
};
