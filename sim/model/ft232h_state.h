/* The FT232H family's state, shared by the model's two halves: ft232h.c (the chip, its ports'
 * reply queues, latency timers and bulk packets, the bulk faults) and ft232h_control.c (its USB
 * control side: descriptors, standard and FTDI vendor requests, the control faults). Only those
 * two include it; everyone else goes through ft232h.h. */
#ifndef SIM_FT232H_STATE_H
#define SIM_FT232H_STATE_H

#include "model/ft232h.h"
#include "model/usb_faults.h"

#define STATUS_BYTE0  0x32 /* high-speed chip, CTS and DSR set */
#define STATUS_BYTE1  0x60 /* transmitter holding and shift registers empty */
#define STR_SERIAL    3    /* iSerialNumber */
#define BITMODE_MPSSE 0x02

/* What tells the chips apart. */
struct chip_info {
    uint16_t bcd_device;
    unsigned ports;
    unsigned mpsse_ports; /* the first ports have an MPSSE engine */
    bool drive_zero;
    const char *product;
};

/* One channel of the chip: its interface, endpoints, buffers and engine. */
struct ft_port {
    struct sim_mpsse *mpsse; /* NULL: no MPSSE on this port */

    uint8_t *queue; /* reply bytes for the host, oldest first */
    size_t queued, queue_cap;
    bool flush_pending; /* 0x87 seen: next IN transfer completes at once */
    size_t flush_upto;  /* queued bytes that were covered by the last 0x87 */

    bool timer_running;
    uint64_t timer_start_ns;
    uint8_t latency_ms;

    uint8_t bitmode;
};

struct bulk_faults {
    unsigned stall;   /* usb-error */
    unsigned hang_in; /* usb-timeout */
    unsigned short_in;
    unsigned empty_in;
    struct sim_usb_control_faults control; /* control-error, control-timeout, string-error */
};

struct sim_ft232h {
    struct sim_ft232h_config cfg; /* strings owned */
    const struct chip_info *chip;
    struct ft_port ports[SIM_FTDI_MAX_PORTS];

    uint8_t configuration;
    struct bulk_faults faults;
    struct sim_ft232h_stats stats;
};

/* Drops the port's reply queue and any flush, and stops its latency timer (a RESET's purge). */
void sim_ft232h_port_purge(struct ft_port *port);

#endif
