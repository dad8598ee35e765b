/* The CP2112's state, shared by the model's two halves: cp2112.c (the SMBus engine: the
 * interrupt reports, transfers on the bus, the report queue, the interrupt faults) and
 * cp2112_usb.c (its USB control side: descriptors, standard and HID class requests, the feature
 * reports, the control faults, the ops table). Only those two include it; everyone else goes
 * through cp2112.h. */
#ifndef SIM_CP2112_STATE_H
#define SIM_CP2112_STATE_H

#include "model/cp2112.h"
#include "model/i2c_master.h"
#include "model/usb_faults.h"

#define CP2112_QUEUE_MAX       16 /* interrupt IN reports waiting for the host */
#define CP2112_DEFAULT_CLOCK   100000
#define CP2112_DEFAULT_SLAVE   0x02
#define CP2112_DEFAULT_VERSION 2

/* Feature report 0x06, in host order. */
struct cp2112_smbus {
    uint32_t clock_hz;
    uint8_t address; /* the chip's own slave address (it never answers here) */
    bool auto_send_read;
    uint16_t write_timeout_ms, read_timeout_ms; /* 0 = none */
    bool scl_low_timeout;
    uint16_t retry_time; /* retries after a failed attempt, 0 = without end */
};

enum cp2112_kind { KIND_READ, KIND_WRITE_READ, KIND_WRITE };

enum cp2112_phase {
    PHASE_IDLE,     /* no transfer since power-on, a cancel or a dropped request */
    PHASE_WAIT_BUS, /* the bus was not free: tried again at each host request */
    PHASE_RETRYING, /* retry_time 0 after a failed attempt: tried again at each host request */
    PHASE_STALLED,  /* a slave held SCL low in the middle: only a timeout ends it */
    PHASE_RUNNING,  /* done on the bus, but the bus time has not passed yet (busy) */
    PHASE_DONE,     /* s0, s1, retries and length say how it ended */
};

struct cp2112_transfer {
    enum cp2112_phase phase;
    enum cp2112_kind kind;
    uint8_t addr; /* 7-bit */
    uint16_t read_len;
    uint8_t out[SIM_CP2112_WRITE_MAX]; /* write data, or the target address of a write-read */
    uint8_t out_len;
    uint64_t start_ns; /* when the request came: the read/write timeout counts from it */
    uint64_t end_ns;   /* PHASE_RUNNING: when the bus transaction ends */
    bool scl_low_seen;
    uint64_t scl_low_ns; /* the first host request that found SCL low */
    enum sim_i2c_outcome last;
    uint16_t attempts; /* started on the bus (a bus found not free is none) */
    uint16_t length;   /* bytes read */
    uint8_t s0, s1;    /* PHASE_RUNNING: how it will end; PHASE_DONE: how it ended */
};

struct cp2112_report {
    uint8_t data[SIM_CP2112_REPORT_MAX];
    uint8_t len;
    uint64_t ready_ns;
};

struct cp2112_faults {
    unsigned stall;                        /* usb-error */
    unsigned hang_in;                      /* usb-timeout */
    struct sim_usb_control_faults control; /* control-error, control-timeout, string-error */
};

struct sim_cp2112 {
    struct sim_cp2112_config cfg; /* serial owned */
    struct sim_i2c_master master;
    struct cp2112_smbus smbus;
    uint8_t gpio_direction, gpio_push_pull, gpio_special, gpio_clock_divider, gpio_latch;
    uint8_t configuration;

    struct cp2112_transfer x;
    uint8_t rbuf[SIM_CP2112_READ_MAX];
    uint16_t rlen, rsent; /* bytes read into rbuf, and sent to the host */

    struct cp2112_report queue[CP2112_QUEUE_MAX];
    unsigned qhead, qlen;

    struct cp2112_faults faults;
    struct sim_cp2112_stats stats;
};

/* The master's clock after the SMBus configuration changed. */
void cp2112_retime(struct sim_cp2112 *dev);
/* One interrupt OUT report (also what SET_REPORT of an output report carries). */
void cp2112_interrupt_out(struct sim_cp2112 *dev, const uint8_t *data, size_t len, uint64_t now_ns);

/* The interrupt half of sim_cp2112_usb_ops (usb_model.h). */
int cp2112_data_submit(void *dev, uint8_t ep);
int cp2112_data_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, uint64_t now_ns);
int cp2112_data_in(void *dev, uint8_t ep, uint8_t *buf, size_t max, uint64_t now_ns,
                   uint64_t *wake_ns, int *status);

#endif
