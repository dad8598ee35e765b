/* The FT232H as a USB device: descriptors, standard and FTDI vendor control requests, bulk OUT
 * command streams into the MPSSE engine and bulk IN framing. The same model plays the FT2232H
 * (two ports A and B, both MPSSE-capable) and the FT4232H (four ports, MPSSE on A and B): each
 * port has its own interface, endpoints (IN 0x81 + 2n, OUT 0x02 + 2n), buffers, latency timer
 * and bit mode; the I2C bus is wired to port A. Those chips have no drive-zero opcode (0x9E).
 *
 * Bulk IN: every packet (<= 512 bytes) starts with the two modem status bytes 32 60. Queued data
 * leaves as soon as a packet's worth is queued or a 0x87 flush was seen; otherwise only when the
 * latency timer expires (then possibly as a bare `32 60` packet). Packets are sized by the chip:
 * a transfer that asks for a multiple of 512 bytes gets whole packets and the rest stays queued;
 * one that asks for less than the packet the chip sends overflows (babble, -EOVERFLOW). The model
 * is not thread-safe: the caller serialises access (the umockdev bridge holds the hardware lock).
 * Time is passed in explicitly so tests can drive it.
 *
 * Faults (fixtures/README.md): armed with a count, consumed transfer by transfer on any port.
 * usb-error and usb-timeout are decided when the transfer is submitted (sim_ft232h_bulk_submit,
 * called by the bridge); short-read and empty-read when an IN transfer completes. The control
 * faults (control-error, control-timeout, string-error) are decided at submission too
 * (sim_ft232h_control_submit). */
#ifndef SIM_FT232H_H
#define SIM_FT232H_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/i2c_bus.h"
#include "model/mpsse.h"
#include "model/usb_model.h"

#define SIM_FTDI_VID          0x0403
#define SIM_FT232H_PID        0x6014
#define SIM_LYNX_ADAPTER_PID  0xD4F8 /* the original project's reprogrammed adapters */
#define SIM_FT232H_BCD_DEVICE 0x0900
#define SIM_FT232H_PACKET     512
#define SIM_FT232H_EP_IN      0x81
#define SIM_FT232H_EP_OUT     0x02
#define SIM_FT2232H_PID       0x6010
#define SIM_FT4232H_PID       0x6011
#define SIM_FTDI_MAX_PORTS    4

enum sim_ftdi_chip {
    SIM_CHIP_FT232H = 0, /* bcdDevice 0x0900, one port, drive-zero */
    SIM_CHIP_FT2232H,    /* bcdDevice 0x0700, ports A B, MPSSE on both */
    SIM_CHIP_FT4232H,    /* bcdDevice 0x0800, ports A-D, MPSSE on A and B */
};

struct sim_ft232h_config {
    uint16_t vid;
    uint16_t pid;
    const char *serial;       /* NULL or "" = no serial string (iSerialNumber 0) */
    const char *manufacturer; /* NULL = "FTDI" */
    const char *product;      /* NULL = the chip's: "Single/Dual/Quad RS232-HS" */
    enum sim_ftdi_chip chip;  /* 0 = FT232H */
};

struct sim_ft232h_stats {
    uint64_t control_in, control_out; /* control transfers by data direction */
    uint64_t control_unanswered;      /* held by control-timeout: never answered */
    uint64_t bulk_in, bulk_out;       /* completed bulk transfers */
    uint64_t bytes_in, bytes_out;     /* bulk payload bytes, IN includes status bytes */
    uint64_t in_overflows;            /* IN transfers that ended in babble (-EOVERFLOW) */
};

struct sim_ft232h;

/* bus: the I2C bus the MPSSE pins drive (may be NULL). Copies the strings. */
struct sim_ft232h *sim_ft232h_new(const struct sim_ft232h_config *cfg, struct sim_i2c_bus *bus);
void sim_ft232h_free(struct sim_ft232h *dev);

const struct sim_ft232h_config *sim_ft232h_config(const struct sim_ft232h *dev);

enum sim_ftdi_chip sim_ft232h_chip(const struct sim_ft232h *dev);
uint16_t sim_ft232h_bcd_device(const struct sim_ft232h *dev);
unsigned sim_ft232h_ports(const struct sim_ft232h *dev);
/* The port (0 = A) a bulk endpoint address belongs to, or -EINVAL when the chip has no such
 * endpoint. */
int sim_ft232h_endpoint_port(const struct sim_ft232h *dev, uint8_t endpoint);

/* Device descriptor + configuration descriptor (interfaces, their endpoints) as the sysfs
 * `descriptors` attribute holds them. Returns the length written, or the length needed when
 * max is too small. */
size_t sim_ft232h_descriptors(const struct sim_ft232h *dev, uint8_t *buf, size_t max);

/* A control transfer. data holds wLength bytes (OUT: from the host; IN: filled here).
 * Returns the number of data bytes transferred, or -EPIPE for a stalled (unsupported) request. */
int sim_ft232h_control(struct sim_ft232h *dev, const struct sim_usb_setup *setup, uint8_t *data);

/* A host request arrives at now_ns (CLOCK_MONOTONIC): the engines' bus time idles up to it, so a
 * control request that moves the pins (RESET, SET_BITMODE) moves them then, not when the last
 * commands ended. Bulk OUT transfers do it themselves; the bridge calls it before each control
 * transfer. */
void sim_ft232h_advance_to(struct sim_ft232h *dev, uint64_t now_ns);

/* A bulk OUT transfer to endpoint 0x02: fed to the MPSSE engine in MPSSE mode. Returns len. */
size_t sim_ft232h_bulk_out(struct sim_ft232h *dev, const uint8_t *data, size_t len,
                           uint64_t now_ns);
/* The same for any port (0 = A). Returns len, or 0 for a port the chip does not have. */
size_t sim_ft232h_bulk_out_port(struct sim_ft232h *dev, unsigned port, const uint8_t *data,
                                size_t len, uint64_t now_ns);

/* Try to complete a bulk IN transfer of at most max bytes at time now_ns (CLOCK_MONOTONIC).
 * Returns the bytes written (>= 2, status bytes included), or 0 when the transfer must wait; then
 * *wake_ns is the time at which the latency timer lets it complete. */
size_t sim_ft232h_bulk_in(struct sim_ft232h *dev, uint8_t *buf, size_t max, uint64_t now_ns,
                          uint64_t *wake_ns);
size_t sim_ft232h_bulk_in_port(struct sim_ft232h *dev, unsigned port, uint8_t *buf, size_t max,
                               uint64_t now_ns, uint64_t *wake_ns);
/* The same with the transfer's status: 0, or -EOVERFLOW when the chip sent a packet bigger than
 * the room left in buf (a request that is not a multiple of 512 bytes while more is queued than
 * fits). Then buf is filled to max, and what did not fit of that packet is lost, as on a real
 * host. */
size_t sim_ft232h_bulk_in_status(struct sim_ft232h *dev, unsigned port, uint8_t *buf, size_t max,
                                 uint64_t now_ns, uint64_t *wake_ns, int *status);

/* Bytes queued for the host (not counting status bytes). */
size_t sim_ft232h_queued(const struct sim_ft232h *dev);

/* Port A's latency timer; the setter changes every port's, as SET_LATENCY_TIMER would (1..255,
 * 0 is taken as 1). */
uint8_t sim_ft232h_latency_ms(const struct sim_ft232h *dev);
void sim_ft232h_set_latency_ms(struct sim_ft232h *dev, uint8_t ms);
bool sim_ft232h_mpsse_enabled(const struct sim_ft232h *dev);

/* --- faults: each call replaces the count armed before (0 disarms) --- */

/* usb-error: the next count bulk transfers (either direction) stall. */
void sim_ft232h_fail_bulk(struct sim_ft232h *dev, unsigned count);
/* usb-timeout: the next count bulk IN transfers never complete. */
void sim_ft232h_hang_bulk_in(struct sim_ft232h *dev, unsigned count);
/* short-read: the next count IN transfers that find data queued take only half of what they
 * could (rounded down, so one byte queued gives a bare `32 60`); the rest stays queued. */
void sim_ft232h_short_reads(struct sim_ft232h *dev, unsigned count);
/* empty-read: the next count IN transfers complete at once with a bare `32 60`; queued data
 * stays queued. */
void sim_ft232h_empty_reads(struct sim_ft232h *dev, unsigned count);

/* Decides the fate of a bulk transfer being submitted (the bridge calls it for every one):
 * 0 = serve it normally, -EPIPE = it stalls at once (OUT data is not taken), -ETIMEDOUT = an IN
 * transfer that never completes (until cancelled). Consumes one armed fault. */
int sim_ft232h_bulk_submit(struct sim_ft232h *dev, bool in);

/* control-error: the next count control transfers (standard or vendor) stall (-EPIPE). */
void sim_ft232h_fail_control(struct sim_ft232h *dev, unsigned count);
/* control-timeout: the next count control transfers never complete (until cancelled). */
void sim_ft232h_hang_control(struct sim_ft232h *dev, unsigned count);
/* string-error: the next read of the serial-number string descriptor stalls, once. */
void sim_ft232h_fail_serial_string(struct sim_ft232h *dev);
/* Decides the fate of a control transfer being submitted, as sim_ft232h_bulk_submit does for
 * bulk: 0, -EPIPE (stall) or -ETIMEDOUT (never completes). Consumes one armed fault. */
int sim_ft232h_control_submit(struct sim_ft232h *dev, const struct sim_usb_setup *setup);

/* The state of a freshly plugged chip, set through its own control requests: bit mode reset,
 * purged, default latency timer, unconfigured. Front ends call it at every plug-in. */
void sim_ft232h_power_on(struct sim_ft232h *dev, uint64_t now_ns);

/* The chip as a generic USB device (usb_model.h), for the front ends that know no FTDI chip. */
extern const struct sim_usb_model_ops sim_ft232h_usb_ops;

const struct sim_ft232h_stats *sim_ft232h_stats(const struct sim_ft232h *dev);
struct sim_mpsse *sim_ft232h_mpsse(struct sim_ft232h *dev);
/* The MPSSE engine of a port, NULL when the port has none (FT4232H C, D) or does not exist. */
struct sim_mpsse *sim_ft232h_port_mpsse(struct sim_ft232h *dev, unsigned port);

#endif
