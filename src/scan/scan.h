/* Inside lynx-scan (lynx_scan.c; nobody else includes this): what it knows of the adapters it
 * reads, and what its files give each other. scan_options.c reads the command line;
 * scan_adapters.c finds the adapters and polls them with the daemon's poller; scan_report.c
 * prints what they hold (text or JSON); scan_watch.c keeps polling and reports changes;
 * lynx_scan.c is the process. Calls go one way: lynx_scan.c -> scan_watch.c -> scan_report.c ->
 * scan_adapters.c; scan_options.c calls none of them. */
#ifndef LYNX_SCAN_H
#define LYNX_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "lynx/lynx.h"
#include "lynx/poller.h"
#include "transport/mpsse/ftdi_usb.h"

enum scan_exit {
    EXIT_FOUND = 0,
    EXIT_NO_DISTRIBUTOR = 1,
    EXIT_NO_ADAPTER = 2,
    EXIT_USAGE = 3,
};

#define SCAN_MAX_ADAPTERS 8
#define SCAN_MAX_IDS      8
#define SETTLE_POLLS      3 /* one-shot: polls before a silent distributor counts as absent */
#define ERROR_TEXT_MAX    300
#define SCAN_MAX_I2C      4

struct options {
    struct usb_id ids[CONFIG_MAX_USB_IDS];
    size_t n_ids; /* 0 = the daemon's defaults (or the config's) */
    const char *serial;
    unsigned i2c_bus[SCAN_MAX_I2C]; /* --i2c N */
    size_t n_i2c;
    unsigned speed_khz; /* 0 = default (or the config's) */
    unsigned interval_ms;
    bool watch;
    bool json;
    bool verbose;
    const char *config_path;
};

/* What is shown of one distributor; compared between polls to find changes. */
struct distributor_view {
    bool counted;  /* answered once, or configured installed: gets a table row */
    bool answered; /* raw holds the confirmed status byte */
    uint8_t raw;
    enum lynx_distributor_status status;
    enum lynx_fuse_status fuse[LYNX_FUSES]; /* by published index */
};

struct scanned_adapter {
    struct poller poller;
    int i2c_bus; /* N of /dev/i2c-N; -1 for an FTDI adapter */
    const char *fuse_name[LYNX_DISTRIBUTORS][LYNX_FUSES]; /* published order; NULL = none */
    int error;                                            /* of the last poll, 0 = bus read */
    char error_text[ERROR_TEXT_MAX];
    struct distributor_view view[LYNX_DISTRIBUTORS];
};

struct scan {
    struct options opt;
    struct config cfg;
    bool have_config;
    struct ftdi_usb_host *host;
    struct usb_id ids[SCAN_MAX_IDS];
    size_t n_ids;
    uint32_t i2c_hz;
    unsigned lost_after; /* --watch: failed polls before "comms lost", as the daemon counts */
    struct scanned_adapter adapters[SCAN_MAX_ADAPTERS];
    size_t n_adapters;
    bool tty;
};

/* ---- scan_options.c ---- */

/* Returns 0, 1 for --help/--version (already answered), or -EINVAL (message printed). */
int scan_parse_options(int argc, char **argv, struct options *opt);
/* Options first, then the config file, then the daemon's defaults. */
void scan_resolve_settings(struct scan *sc);

/* ---- scan_adapters.c ---- */

/* One poll of the adapter; its views and error refreshed. */
void scan_poll_adapter(struct scanned_adapter *sa);
/* The first reading (see scan_adapters.c); later polls count failures as the daemon does. */
void scan_first_scan(struct scanned_adapter *sa, unsigned lost_after);
/* The Linux I2C buses to read: --i2c, and the config's [i2c:N] sections. */
int scan_add_i2c_buses(struct scan *sc);
/* Adds the FTDI adapters not seen yet; returns how many were added or a negative code. */
int scan_find_new_adapters(struct scan *sc);
/* The Linux I2C buses present that nobody named: listed, not read. */
void scan_list_other_i2c_buses(const struct scan *sc, FILE *out);
unsigned scan_distributors_answering(const struct scan *sc);
/* enum scan_exit for the state seen last. */
int scan_exit_status(const struct scan *sc);

/* ---- scan_report.c ---- */

void scan_print_text(FILE *out, const struct scan *sc);
void scan_print_json(FILE *out, const struct scan *sc);
/* One adapter's header, address line and table (text). */
void scan_print_adapter(FILE *out, const struct scanned_adapter *sa);
/* One table row: distributor, address, raw byte, status, fuses 1-4 (no trailing blanks). */
void scan_print_row(FILE *out, const struct scanned_adapter *sa, unsigned d);
void scan_json_string(FILE *out, const char *s);
void scan_json_adapter(FILE *out, const struct scanned_adapter *sa);
void scan_json_distributor(FILE *out, const struct scanned_adapter *sa, unsigned d);

/* ---- scan_watch.c ---- */

/* SIGINT and SIGTERM end --watch (its sleeps at once). */
void scan_catch_stop_signals(void);
/* --watch: polls every interval until a stop signal, reporting each change. */
void scan_watch(struct scan *sc);

#endif
