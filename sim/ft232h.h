/* The FT232H as a USB device: descriptors, standard and FTDI vendor control requests, bulk OUT
 * command streams into the MPSSE engine and bulk IN framing.
 *
 * Bulk IN: every packet (<= 512 bytes) starts with the two modem status bytes 32 60. Queued data
 * leaves as soon as a packet's worth is queued or a 0x87 flush was seen; otherwise only when the
 * latency timer expires (then possibly as a bare `32 60` packet). A transfer never gets more
 * than it asked for; the rest stays queued. The model is not thread-safe: the caller serialises
 * access (the umockdev bridge holds the hardware lock). Time is passed in explicitly so tests can
 * drive it. */
#ifndef SIM_FT232H_H
#define SIM_FT232H_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "i2c_bus.h"
#include "mpsse.h"

#define SIM_FTDI_VID          0x0403
#define SIM_FT232H_PID        0x6014
#define SIM_LYNX_ADAPTER_PID  0xD4F8 /* the original project's reprogrammed adapters */
#define SIM_FT232H_BCD_DEVICE 0x0900
#define SIM_FT232H_PACKET     512
#define SIM_FT232H_EP_IN      0x81
#define SIM_FT232H_EP_OUT     0x02

struct sim_ft232h_config {
    uint16_t vid;
    uint16_t pid;
    const char *serial;       /* NULL or "" = no serial string (iSerialNumber 0) */
    const char *manufacturer; /* NULL = "FTDI" */
    const char *product;      /* NULL = "Single RS232-HS" */
};

/* USB setup packet, host byte order. */
struct sim_usb_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
};

struct sim_ft232h_stats {
    uint64_t control_in, control_out; /* control transfers by data direction */
    uint64_t bulk_in, bulk_out;       /* completed bulk transfers */
    uint64_t bytes_in, bytes_out;     /* bulk payload bytes, IN includes status bytes */
};

struct sim_ft232h;

/* bus: the I2C bus the MPSSE pins drive (may be NULL). Copies the strings. */
struct sim_ft232h *sim_ft232h_new(const struct sim_ft232h_config *cfg, struct sim_i2c_bus *bus);
void sim_ft232h_free(struct sim_ft232h *dev);

const struct sim_ft232h_config *sim_ft232h_config(const struct sim_ft232h *dev);

/* Device descriptor + configuration descriptor (interface, both endpoints) as the sysfs
 * `descriptors` attribute holds them. Returns the length written, or the length needed when
 * max is too small. */
size_t sim_ft232h_descriptors(const struct sim_ft232h *dev, uint8_t *buf, size_t max);

/* A control transfer. data holds wLength bytes (OUT: from the host; IN: filled here).
 * Returns the number of data bytes transferred, or -EPIPE for a stalled (unsupported) request. */
int sim_ft232h_control(struct sim_ft232h *dev, const struct sim_usb_setup *setup, uint8_t *data);

/* A bulk OUT transfer to endpoint 0x02: fed to the MPSSE engine in MPSSE mode. Returns len. */
size_t sim_ft232h_bulk_out(struct sim_ft232h *dev, const uint8_t *data, size_t len,
                           uint64_t now_ns);

/* Try to complete a bulk IN transfer of at most max bytes at time now_ns (CLOCK_MONOTONIC).
 * Returns the bytes written (>= 2, status bytes included), or 0 when the transfer must wait; then
 * *wake_ns is the time at which the latency timer lets it complete. */
size_t sim_ft232h_bulk_in(struct sim_ft232h *dev, uint8_t *buf, size_t max, uint64_t now_ns,
                          uint64_t *wake_ns);

/* Bytes queued for the host (not counting status bytes). */
size_t sim_ft232h_queued(const struct sim_ft232h *dev);

uint8_t sim_ft232h_latency_ms(const struct sim_ft232h *dev);
bool sim_ft232h_mpsse_enabled(const struct sim_ft232h *dev);

const struct sim_ft232h_stats *sim_ft232h_stats(const struct sim_ft232h *dev);
struct sim_mpsse *sim_ft232h_mpsse(struct sim_ft232h *dev);

#endif
