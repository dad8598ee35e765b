/* Scenario files: the simulated hardware and its timeline, as line-oriented text (format in
 * fixtures/README.md). Parsing is pure; errors name the file, the line and what was expected. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "run/action.h"
#include "model/ft232h.h"
#include "model/i2c_timing.h"
#include "model/i2cdev.h"

#define SIM_MAX_ADAPTERS     8
#define SIM_MAX_DISTRIBUTORS 4 /* per adapter: A..D */

struct sim_distributor_spec {
    bool declared;
    bool supply;  /* busbar supplied */
    bool powered; /* 5 V on the RJ10 port */
    bool present; /* on the I2C chain */
    bool fuse_open[4];
};

enum sim_transport {
    SIM_TRANSPORT_FTDI = 0, /* adapter: an FTDI chip on USB (usbfs) */
    SIM_TRANSPORT_I2C,      /* i2c-adapter: a Linux I2C adapter (/dev/i2c-N) */
};

#define SIM_I2C_BUS_MAX 255 /* i2c-adapter bus=0..255 */

struct sim_adapter_spec {
    char serial[SIM_SERIAL_MAX]; /* the FTDI serial, or the i2c adapter's name */
    enum sim_transport transport;
    unsigned i2c_bus;                  /* i2c-adapter: N of /dev/i2c-N */
    enum sim_i2cdev_funcs i2c_funcs;   /* i2c-adapter funcs=i2c|smbus */
    int nack_errno;                    /* i2c-adapter nack=enxio|eremoteio: ENXIO or EREMOTEIO */
    enum sim_i2cdev_driver i2c_driver; /* i2c-adapter driver=generic|hid-cp2112 */
    uint16_t vid, pid;
    enum sim_ftdi_chip chip; /* chip=ft232h|ft2232h|ft4232h */
    bool cp2112;             /* chip=cp2112: a Silicon Labs CP2112 (USB HID), not an FTDI chip */
    bool plugged;
    enum sim_i2c_mode i2c_mode; /* i2c=standard|fast: the UM10204 timing the bus checks */
    bool strict_timing;         /* strict-timing=yes: slaves NACK a mistimed START/address */
    bool driver_bound;          /* driver=ftdi_sio|none; default ftdi_sio for stock PIDs */
    struct sim_distributor_spec distributors[SIM_MAX_DISTRIBUTORS]; /* index = letter - 'A' */
};

struct sim_event {
    uint64_t at_ms; /* since the command started */
    struct sim_action action;
};

struct sim_scenario {
    struct sim_adapter_spec adapters[SIM_MAX_ADAPTERS];
    size_t n_adapters;
    struct sim_event *events; /* sorted by at_ms, stable */
    size_t n_events;
    uint64_t loop_ms; /* 0 = the timeline runs once; else it restarts every loop_ms */
};

/* Parse from a stream; name is used in messages. Returns 0 or -EINVAL/-ENOMEM with
 * "name:line: message" in err. */
int sim_scenario_parse(FILE *in, const char *name, struct sim_scenario *sc, char *err,
                       size_t errlen);
int sim_scenario_load(const char *path, struct sim_scenario *sc, char *err, size_t errlen);
/* The scenario used without --scenario: one adapter, one healthy distributor A. */
void sim_scenario_default(struct sim_scenario *sc);
void sim_scenario_clear(struct sim_scenario *sc);

const struct sim_adapter_spec *sim_scenario_adapter(const struct sim_scenario *sc,
                                                    const char *serial);

#endif
