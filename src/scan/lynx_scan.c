/* lynx-scan: a field tool for installers. Lists the FTDI adapters found and the Linux I2C buses
 * named with --i2c (or by [i2c:N] sections of the config), reads every Lynx address 0x08-0x0B on
 * each bus with the daemon's own driver code (the bus links, tracker and adapter modules, so a
 * change is confirmed by two agreeing reads exactly as the daemon does) and prints
 * the decoded state: a header per adapter, an i2cdetect-like address line and a table of the
 * distributors and their fuses. --json prints the same as one JSON object; --watch keeps polling
 * and reports every change (a redrawn screen on a terminal, one line per change otherwise, JSON
 * lines with --json).
 *
 *   lynx-scan [--vid V] [--pid P] [--serial S] [--speed-khz K] [--i2c N]...
 *             [--watch [--interval MS]] [--json] [-c CONFIG] [-v]
 *
 * A Linux I2C bus is only read when named: a Raspberry Pi's bus carries other devices, and an
 * unknown bus is not ours to probe. The buses present are listed anyway (/dev/i2c-N and the
 * kernel adapter's name), so the right N is easy to find.
 *
 * Exit status: 0 at least one distributor answered, 1 adapters found but no distributor answered,
 * 2 no adapter found, 3 usage or configuration error. With --watch the status describes the last
 * state seen when SIGINT/SIGTERM ended it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "lynx/poller.h"
#include "daemon/config.h"
#include "transport/i2cdev/i2cdev_link.h"
#include "base/log.h"
#include "lynx/lynx.h"
#include "transport/mpsse/mpsse_link.h"
#include "transport/mpsse/ftdi_usb.h"

enum scan_exit {
    EXIT_FOUND = 0,
    EXIT_NO_DISTRIBUTOR = 1,
    EXIT_NO_ADAPTER = 2,
    EXIT_USAGE = 3,
};

#define SCAN_MAX_ADAPTERS   8
#define SCAN_MAX_IDS        8
#define SETTLE_POLLS        3    /* one-shot: polls before a silent distributor counts as absent */
#define RESCAN_MS           5000 /* --watch: how often to look for adapters plugged in later */
#define DEFAULT_INTERVAL_MS 1000
#define ERROR_TEXT_MAX      300
#define SCAN_MAX_I2C        4

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

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fputs("usage: lynx-scan [--vid V] [--pid P] [--serial S] [--speed-khz K] [--i2c N]...\n"
          "                 [--watch [--interval MS]] [--json] [-c CONFIG] [-v]\n"
          "Lists the FTDI USB-I2C adapters found and the Linux I2C buses named, reads the Lynx\n"
          "Distributors at 0x08-0x0B on each bus and prints their decoded state.\n"
          "  --vid V, --pid P  USB ids in hex (default 0403:d4f8 and 0403:6014, or the config's)\n"
          "  --serial S        only the FTDI adapter with this serial number\n"
          "  --speed-khz K     FTDI I2C speed, 10-400 kHz (default 100, or the config's)\n"
          "  --i2c N           also read the Linux I2C bus /dev/i2c-N (up to 4; the config's\n"
          "                    [i2c:N] sections too). Without it, the buses present are listed\n"
          "  -w, --watch       keep polling and report every change until interrupted\n"
          "  --interval MS     poll interval with --watch, 100-60000 (default 1000)\n"
          "  -j, --json        JSON (one object; JSON lines with --watch)\n"
          "  -c, --config F    use the daemon's configuration: fuse names, installed flags,\n"
          "                    upside-down mounting (without it: raw, every fuse installed)\n"
          "  -v, --verbose     log what the driver does on stderr\n"
          "  --version, --help\n"
          "Exit status: 0 at least one distributor answered, 1 adapters found but no\n"
          "distributor answered, 2 no adapter found, 3 usage or configuration error.\n",
          out);
}

static bool parse_number(const char *s, int base, unsigned long min, unsigned long max,
                         unsigned long *out)
{
    char *end;
    if (base == 16 && (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0))
        s += 2;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Returns 0, 1 for --help/--version (already answered), or -EINVAL (message printed). */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_VID = 256, OPT_PID, OPT_SERIAL, OPT_SPEED, OPT_INTERVAL, OPT_I2C, OPT_VERSION };
    static const struct option options[] = {{"vid", required_argument, NULL, OPT_VID},
                                            {"i2c", required_argument, NULL, OPT_I2C},
                                            {"pid", required_argument, NULL, OPT_PID},
                                            {"serial", required_argument, NULL, OPT_SERIAL},
                                            {"speed-khz", required_argument, NULL, OPT_SPEED},
                                            {"watch", no_argument, NULL, 'w'},
                                            {"interval", required_argument, NULL, OPT_INTERVAL},
                                            {"json", no_argument, NULL, 'j'},
                                            {"config", required_argument, NULL, 'c'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"version", no_argument, NULL, OPT_VERSION},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    unsigned long vid = 0, pid = 0, v;
    bool have_vid = false, have_pid = false, have_interval = false;
    int c;
    while ((c = getopt_long(argc, argv, "wjc:vh", options, NULL)) != -1) {
        switch (c) {
        case OPT_VID:
        case OPT_PID:
            if (!parse_number(optarg, 16, 0, 0xFFFF, &v)) {
                fprintf(stderr,
                        "lynx-scan: --%s: expected a USB id in hex (0x0000-0xffff), "
                        "got '%s'\n",
                        c == OPT_VID ? "vid" : "pid", optarg);
                return -EINVAL;
            }
            *(c == OPT_VID ? &vid : &pid) = v;
            *(c == OPT_VID ? &have_vid : &have_pid) = true;
            break;
        case OPT_SERIAL:
            opt->serial = optarg;
            break;
        case OPT_I2C:
            if (!parse_number(optarg, 10, 0, CONFIG_I2C_BUS_MAX, &v) ||
                opt->n_i2c == SCAN_MAX_I2C) {
                fprintf(stderr,
                        "lynx-scan: --i2c: expected a bus number 0-%d (at most %d), "
                        "got '%s'\n",
                        CONFIG_I2C_BUS_MAX, SCAN_MAX_I2C, optarg);
                return -EINVAL;
            }
            opt->i2c_bus[opt->n_i2c++] = (unsigned)v;
            break;
        case OPT_SPEED:
            if (!parse_number(optarg, 10, CONFIG_I2C_SPEED_KHZ_MIN, CONFIG_I2C_SPEED_KHZ_MAX, &v)) {
                fprintf(stderr, "lynx-scan: --speed-khz: expected %d-%d, got '%s'\n",
                        CONFIG_I2C_SPEED_KHZ_MIN, CONFIG_I2C_SPEED_KHZ_MAX, optarg);
                return -EINVAL;
            }
            opt->speed_khz = (unsigned)v;
            break;
        case OPT_INTERVAL:
            if (!parse_number(optarg, 10, CONFIG_POLL_INTERVAL_MS_MIN, CONFIG_POLL_INTERVAL_MS_MAX,
                              &v)) {
                fprintf(stderr, "lynx-scan: --interval: expected %d-%d ms, got '%s'\n",
                        CONFIG_POLL_INTERVAL_MS_MIN, CONFIG_POLL_INTERVAL_MS_MAX, optarg);
                return -EINVAL;
            }
            opt->interval_ms = (unsigned)v;
            have_interval = true;
            break;
        case 'w':
            opt->watch = true;
            break;
        case 'j':
            opt->json = true;
            break;
        case 'c':
            opt->config_path = optarg;
            break;
        case 'v':
            opt->verbose = true;
            break;
        case OPT_VERSION:
            puts("lynx-scan " LYNX_VERSION);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "lynx-scan: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -EINVAL;
    }
    if (have_interval && !opt->watch) {
        fputs("lynx-scan: --interval needs --watch\n", stderr);
        return -EINVAL;
    }
    if (have_pid) {
        opt->ids[0] = (struct usb_id){have_vid ? (uint16_t)vid : FTDI_VID, (uint16_t)pid};
        opt->n_ids = 1;
    } else if (have_vid) {
        opt->ids[0] = (struct usb_id){(uint16_t)vid, FTDI_LYNX_ADAPTER_PID};
        opt->ids[1] = (struct usb_id){(uint16_t)vid, FTDI_FT232H_PID};
        opt->n_ids = 2;
    }
    return 0;
}

/* Options first, then the config file, then the daemon's defaults. */
static void resolve_settings(struct scan *sc)
{
    const struct options *opt = &sc->opt;
    sc->n_ids = 0;
    if (opt->n_ids) {
        for (size_t i = 0; i < opt->n_ids; i++)
            sc->ids[sc->n_ids++] = opt->ids[i];
    } else if (sc->have_config) {
        for (size_t i = 0; i < sc->cfg.n_usb_ids; i++)
            sc->ids[sc->n_ids++] = (struct usb_id){sc->cfg.usb_ids[i].vid, sc->cfg.usb_ids[i].pid};
    } else {
        for (size_t i = 0; i < ftdi_usb_default_ids_count && i < SCAN_MAX_IDS; i++)
            sc->ids[sc->n_ids++] = ftdi_usb_default_ids[i];
    }
    unsigned khz = opt->speed_khz    ? opt->speed_khz
                   : sc->have_config ? sc->cfg.i2c_speed_khz
                                     : CONFIG_I2C_SPEED_KHZ_DEFAULT;
    sc->i2c_hz = khz * 1000u;
    if (!sc->opt.interval_ms)
        sc->opt.interval_ms = sc->have_config ? sc->cfg.poll_interval_ms : DEFAULT_INTERVAL_MS;
    sc->lost_after = sc->have_config ? sc->cfg.comm_lost_polls : CONFIG_COMM_LOST_POLLS_DEFAULT;
}

/* ---- names ---- */

/* Indexed by the enums of lynx.h: [value][0] for people, [value][1] for --json. */
static const char *const distributor_status_names[][2] = {
    {"not available", "not_available"},
    {"connected", "connected"},
    {"no bus power", "no_bus_power"},
    {"comms lost", "comms_lost"},
};
static const char *const fuse_status_names[][2] = {
    {"n/a", "not_available"},
    {"not used", "not_used"},
    {"ok", "ok"},
    {"blown", "blown"},
};

static const char *status_name(enum lynx_distributor_status s, bool json)
{
    return distributor_status_names[(unsigned)s <= LYNX_DISTRIBUTOR_COMMS_LOST ? s : 0][json];
}

static const char *fuse_name(enum lynx_fuse_status s, bool json)
{
    return fuse_status_names[(unsigned)s <= LYNX_FUSE_BLOWN ? s : 0][json];
}

/* ---- scanning ---- */

static void refresh_views(struct scanned_adapter *sa)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker *t = &sa->poller.tracker[d];
        struct lynx_distributor_state state;
        tracker_state(t, &sa->poller.setup[d], NULL, &state);
        struct distributor_view *v = &sa->view[d];
        memset(v, 0, sizeof(*v));
        v->counted = tracker_counted(t, &sa->poller.setup[d]);
        v->answered = t->have_status && !t->lost;
        v->raw = v->answered ? t->status : 0;
        v->status = state.status;
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            v->fuse[f] = state.fuse[f].status;
    }
}

static void poll_adapter(struct scanned_adapter *sa)
{
    int rc = poller_poll(&sa->poller);
    sa->error = rc;
    sa->error_text[0] = '\0';
    if (rc == -EPROTO) /* the reply parser's verdict: the transport's message is older */
        snprintf(sa->error_text, sizeof(sa->error_text),
                 "unexpected reply from the MPSSE engine (%s)", strerror(-rc));
    else if (rc < 0) {
        const char *why = sa->poller.link->ops->error(sa->poller.link);
        snprintf(sa->error_text, sizeof(sa->error_text), "%s", why[0] ? why : strerror(-rc));
    }
    refresh_views(sa);
}

static bool settled(const struct scanned_adapter *sa)
{
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct tracker *t = &sa->poller.tracker[d];
        if (!t->lost && !(t->have_status && t->failures == 0))
            return false;
    }
    return true;
}

/* The first reading: poll until every distributor has either confirmed a status byte or stayed
 * silent for SETTLE_POLLS polls; an adapter that cannot be read is not retried. Later polls
 * (--watch) count failures as the daemon does. */
static void first_scan(struct scanned_adapter *sa, unsigned lost_after)
{
    for (unsigned p = 0; p < SETTLE_POLLS; p++) {
        poll_adapter(sa);
        if (sa->error < 0 || settled(sa))
            break;
    }
    sa->poller.lost_after = lost_after;
}

static struct scanned_adapter *find_adapter(struct scan *sc, const char *serial)
{
    for (size_t i = 0; i < sc->n_adapters; i++)
        if (sc->adapters[i].i2c_bus < 0 && strcmp(sc->adapters[i].poller.link->name, serial) == 0)
            return &sc->adapters[i];
    return NULL;
}

/* Sets up the adapter's driver state with the config's view of its distributors (or raw). Takes
 * link. */
static int add_adapter(struct scan *sc, struct bus_link *link, int i2c_bus)
{
    struct scanned_adapter *sa = &sc->adapters[sc->n_adapters];
    memset(sa, 0, sizeof(*sa));
    sa->i2c_bus = i2c_bus;
    struct lynx_distributor_setup setup[LYNX_DISTRIBUTORS];
    const struct config_section *ca = NULL;
    if (sc->have_config)
        ca = i2c_bus >= 0 ? config_i2c_section(&sc->cfg, (unsigned)i2c_bus)
                          : config_ftdi_section(&sc->cfg, link->name);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (!ca) {
            setup[d] = (struct lynx_distributor_setup){.fuse_installed = {true, true, true, true}};
            continue;
        }
        config_lynx_setup(ca, d, &setup[d]);
        const char *physical[LYNX_FUSES];
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            physical[f] =
                ca->distributor[d].fuse_name[f][0] ? ca->distributor[d].fuse_name[f] : NULL;
        lynx_fuse_names_published(setup[d].upside_down, physical, sa->fuse_name[d]);
    }
    int rc = poller_init(&sa->poller, link, setup, SETTLE_POLLS);
    if (rc < 0) {
        poller_deinit(&sa->poller);
        return rc;
    }
    sc->n_adapters++;
    return 0;
}

static int add_ftdi(struct scan *sc, const struct ftdi_usb_device_info *info)
{
    struct bus_link *link;
    int rc = mpsse_link_new(sc->host, info, NULL, 0, sc->i2c_hz, &link);
    return rc < 0 ? rc : add_adapter(sc, link, -1);
}

static bool i2c_named(const struct scan *sc, unsigned bus)
{
    for (size_t i = 0; i < sc->n_adapters; i++)
        if (sc->adapters[i].i2c_bus == (int)bus)
            return true;
    return false;
}

static int add_i2c(struct scan *sc, unsigned bus)
{
    struct bus_link *link;
    if (i2c_named(sc, bus) || sc->n_adapters == SCAN_MAX_ADAPTERS)
        return 0;
    int rc = i2cdev_link_new(bus, &link);
    return rc < 0 ? rc : add_adapter(sc, link, (int)bus);
}

/* The Linux I2C buses to read: --i2c, and the config's [i2c:N] sections. */
static int add_i2c_buses(struct scan *sc)
{
    int rc = 0;
    for (size_t i = 0; i < sc->opt.n_i2c && rc == 0; i++)
        rc = add_i2c(sc, sc->opt.i2c_bus[i]);
    for (size_t i = 0; sc->have_config && i < sc->cfg.n_sections && rc == 0; i++)
        if (sc->cfg.sections[i].i2c_bus >= 0)
            rc = add_i2c(sc, (unsigned)sc->cfg.sections[i].i2c_bus);
    return rc;
}

/* The Linux I2C buses present that nobody named: listed, not read. */
static void list_other_i2c_buses(const struct scan *sc, FILE *out)
{
    DIR *dir = opendir("/sys/class/i2c-dev");
    if (!dir)
        return;
    bool any = false;
    struct dirent *de;
    while ((de = readdir(dir))) {
        unsigned bus;
        char tail;
        if (sscanf(de->d_name, "i2c-%u%c", &bus, &tail) != 1 || i2c_named(sc, bus))
            continue;
        char name[64] = "?";
        i2cdev_adapter_name(bus, name, sizeof(name));
        if (!any)
            fputs("Linux I2C buses not read (name one with --i2c N):\n", out);
        fprintf(out, "  i2c-%u  %s\n", bus, name);
        any = true;
    }
    closedir(dir);
}

/* Listed by physical position (USB port path), which stays put across re-plugging. */
static int by_port(const void *a, const void *b)
{
    const struct ftdi_usb_device_info *x = a, *y = b;
    if (x->bus != y->bus)
        return x->bus < y->bus ? -1 : 1;
    return strverscmp(x->port_path, y->port_path);
}

/* Adds the adapters not seen yet; returns how many were added or a negative code. */
static int find_new_adapters(struct scan *sc)
{
    struct ftdi_usb_device_info found[SCAN_MAX_ADAPTERS];
    int n = ftdi_usb_enumerate(sc->host, sc->ids, sc->n_ids, found, SCAN_MAX_ADAPTERS);
    if (n < 0)
        return n;
    qsort(found, (size_t)(n < SCAN_MAX_ADAPTERS ? n : SCAN_MAX_ADAPTERS), sizeof(found[0]),
          by_port);
    int added = 0;
    for (int i = 0; i < n && i < SCAN_MAX_ADAPTERS && sc->n_adapters < SCAN_MAX_ADAPTERS; i++) {
        if (sc->opt.serial && strcmp(found[i].serial, sc->opt.serial) != 0)
            continue;
        if (find_adapter(sc, found[i].serial))
            continue;
        int rc = add_ftdi(sc, &found[i]);
        if (rc < 0)
            return rc;
        added++;
    }
    return added;
}

static unsigned distributors_answering(const struct scan *sc)
{
    unsigned n = 0;
    for (size_t i = 0; i < sc->n_adapters; i++)
        for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
            n += sc->adapters[i].view[d].answered;
    return n;
}

static int exit_status(const struct scan *sc)
{
    if (sc->n_adapters == 0)
        return EXIT_NO_ADAPTER;
    return distributors_answering(sc) ? EXIT_FOUND : EXIT_NO_DISTRIBUTOR;
}

/* ---- text output ---- */

/* Columns of a fuse cell: UTF-8 code points, not bytes. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void fuse_cell(const struct scanned_adapter *sa, unsigned d, unsigned f, char *buf,
                      size_t size)
{
    const char *name = sa->fuse_name[d][f];
    if (name)
        snprintf(buf, size, "%s (%s)", fuse_name(sa->view[d].fuse[f], false), name);
    else
        snprintf(buf, size, "%s", fuse_name(sa->view[d].fuse[f], false));
}

/* Width of fuse column f: the longest state plus the longest name in that column. */
static size_t fuse_column_width(const struct scanned_adapter *sa, unsigned f)
{
    size_t longest_name = 0;
    bool any = false;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        if (sa->fuse_name[d][f]) {
            size_t w = display_width(sa->fuse_name[d][f]);
            longest_name = w > longest_name ? w : longest_name;
            any = true;
        }
    return strlen("not used") + (any ? longest_name + 3 : 0);
}

static void print_padded(FILE *out, const char *text, size_t width)
{
    fputs(text, out);
    for (size_t w = display_width(text); w < width; w++)
        fputc(' ', out);
}

/* One table row: distributor, address, raw byte, status, fuses 1-4 (no trailing blanks). */
static void print_row(FILE *out, const struct scanned_adapter *sa, unsigned d)
{
    const struct distributor_view *v = &sa->view[d];
    char raw[8] = "--";
    if (v->answered)
        snprintf(raw, sizeof(raw), "0x%02X", v->raw);
    fprintf(out, "%c     0x%02X  %-4s  ", lynx_letter(d), lynx_address(d), raw);
    print_padded(out, status_name(v->status, false), 15);
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        char cell[NAME_MAX_BYTES(NAME_FUSE_MAX_CHARS) + 16];
        fuse_cell(sa, d, f, cell, sizeof(cell));
        if (f == LYNX_FUSES - 1)
            fputs(cell, out);
        else
            print_padded(out, cell, fuse_column_width(sa, f) + 2);
    }
    fputc('\n', out);
}

static void print_header(FILE *out, const struct scanned_adapter *sa)
{
    if (sa->i2c_bus >= 0) {
        struct bus_link_info info;
        sa->poller.link->ops->describe(sa->poller.link, &info);
        fprintf(out, "adapter %s  /dev/i2c-%d  %s\n", sa->poller.link->name, sa->i2c_bus,
                info.hardware);
        return;
    }
    const struct ftdi_usb_device_info *id = mpsse_link_device(sa->poller.link);
    fprintf(out, "adapter %s  %04x:%04x  %s  bus %03u device %03u  port %s\n",
            id->serial[0] ? id->serial : "(no serial)", id->vid, id->pid,
            ftdi_usb_chip_name(id->chip), id->bus, id->address,
            id->port_path[0] ? id->port_path : "?");
}

/* The effective SCL rate: a requested 100 kHz runs slower so that SCL is high long enough. */
static void print_clock(FILE *out, const struct scanned_adapter *sa)
{
    if (sa->i2c_bus >= 0) {
        fputs("  I2C clock set by the kernel driver\n", out);
        return;
    }
    const struct mpsse_i2c_clock *clk = mpsse_link_clock(sa->poller.link);
    fprintf(out, "  I2C %.1f kHz (%u kHz asked; %s mode: SCL high %.1f us, low %.1f us)\n",
            clk->scl_hz / 1000.0, (unsigned)(clk->requested_hz / 1000u),
            mpsse_i2c_mode_name(clk->mode), clk->scl_high_ns / 1000.0, clk->scl_low_ns / 1000.0);
}

static void print_adapter(FILE *out, const struct scanned_adapter *sa)
{
    print_header(out, sa);
    if (sa->error < 0) {
        fprintf(out, "  error: %s\n", sa->error_text);
        return;
    }
    print_clock(out, sa);
    /* i2cdetect style: the letter where a distributor answered, -- where nobody did */
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        char cell[3] = "--";
        if (sa->view[d].answered)
            snprintf(cell, sizeof(cell), "%c", lynx_letter(d));
        fprintf(out, "  %02X: %s", lynx_address(d), cell);
    }
    fputc('\n', out);

    unsigned rows = 0;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        rows += sa->view[d].counted;
    if (rows == 0) {
        fputs("  no distributor answered\n", out);
        return;
    }
    fputs("  dist  addr  raw   status         ", out);
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        char title[16];
        snprintf(title, sizeof(title), "fuse %u", f + 1);
        if (f == LYNX_FUSES - 1)
            fputs(title, out);
        else
            print_padded(out, title, fuse_column_width(sa, f) + 2);
    }
    fputc('\n', out);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        if (sa->view[d].counted) {
            fputs("  ", out);
            print_row(out, sa, d);
        }
}

static void print_text(FILE *out, const struct scan *sc)
{
    if (sc->n_adapters == 0)
        fputs("no adapter found\n", out);
    for (size_t i = 0; i < sc->n_adapters; i++) {
        if (i)
            fputc('\n', out);
        print_adapter(out, &sc->adapters[i]);
    }
    list_other_i2c_buses(sc, out);
}

/* ---- JSON output ---- */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_distributor(FILE *out, const struct scanned_adapter *sa, unsigned d)
{
    const struct distributor_view *v = &sa->view[d];
    fprintf(out, "{\"distributor\":\"%c\",\"address\":%u,\"answered\":%s,\"raw\":", lynx_letter(d),
            lynx_address(d), v->answered ? "true" : "false");
    if (v->answered)
        fprintf(out, "%u", v->raw);
    else
        fputs("null", out);
    fprintf(out, ",\"status\":\"%s\",\"fuses\":[", status_name(v->status, true));
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        fprintf(out, "%s{\"fuse\":%u,\"status\":\"%s\"", f ? "," : "", f + 1,
                fuse_name(v->fuse[f], true));
        if (sa->fuse_name[d][f]) {
            fputs(",\"name\":", out);
            json_string(out, sa->fuse_name[d][f]);
        }
        fputc('}', out);
    }
    fputs("]}", out);
}

static void json_adapter(FILE *out, const struct scanned_adapter *sa)
{
    fputs("{\"serial\":", out);
    json_string(out, sa->poller.link->name);
    if (sa->i2c_bus >= 0) {
        struct bus_link_info info;
        sa->poller.link->ops->describe(sa->poller.link, &info);
        fprintf(out, ",\"transport\":\"i2c\",\"i2c_bus\":%d,\"name\":", sa->i2c_bus);
        json_string(out, info.hardware);
    } else {
        const struct ftdi_usb_device_info *id = mpsse_link_device(sa->poller.link);
        const struct mpsse_i2c_clock *clk = mpsse_link_clock(sa->poller.link);
        fprintf(out,
                ",\"transport\":\"ftdi\",\"usb_id\":\"%04x:%04x\",\"chip\":\"%s\",\"bus\":%u,"
                "\"device\":%u,\"port\":",
                id->vid, id->pid, ftdi_usb_chip_name(id->chip), id->bus, id->address);
        json_string(out, id->port_path);
        fprintf(out, ",\"i2c_hz\":%" PRIu32 ",\"i2c_mode\":\"%s\"", clk->scl_hz,
                mpsse_i2c_mode_name(clk->mode));
    }
    fputs(",\"error\":", out);
    if (sa->error < 0)
        json_string(out, sa->error_text);
    else
        fputs("null", out);
    fputs(",\"distributors\":[", out);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (d)
            fputc(',', out);
        json_distributor(out, sa, d);
    }
    fputs("]}", out);
}

static void print_json(FILE *out, const struct scan *sc)
{
    fputs("{\"adapters\":[", out);
    for (size_t i = 0; i < sc->n_adapters; i++) {
        if (i)
            fputc(',', out);
        json_adapter(out, &sc->adapters[i]);
    }
    fprintf(out, "],\"distributors_answering\":%u}\n", distributors_answering(sc));
}

/* ---- watching ---- */

static void timestamp(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, size, "%H:%M:%S", &tm);
}

static void redraw(const struct scan *sc, const char *last_change)
{
    FILE *out = stdout;
    fputs("\033[H\033[2J", out);
    if (sc->opt.json)
        print_json(out, sc);
    else
        print_text(out, sc);
    fprintf(out, "\nwatching every %u ms, last change %s; Ctrl-C ends\n", sc->opt.interval_ms,
            last_change);
}

static bool same_view(const struct distributor_view *a, const struct distributor_view *b)
{
    return a->counted == b->counted && a->answered == b->answered && a->raw == b->raw &&
           a->status == b->status && memcmp(a->fuse, b->fuse, sizeof(a->fuse)) == 0;
}

/* Not a terminal: one line (or JSON object) per change, flushed at once for readers of a pipe. */
static void report_distributor_change(const struct scan *sc, const struct scanned_adapter *sa,
                                      unsigned d, const char *when)
{
    if (sc->opt.json) {
        fprintf(stdout, "{\"time\":\"%s\",\"serial\":", when);
        json_string(stdout, sa->poller.link->name);
        fputs(",\"change\":", stdout);
        json_distributor(stdout, sa, d);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s %s ", when, sa->poller.link->name);
        print_row(stdout, sa, d);
    }
}

static void report_adapter_change(const struct scan *sc, const struct scanned_adapter *sa,
                                  const char *when)
{
    if (sc->opt.json) {
        fprintf(stdout, "{\"time\":\"%s\",\"serial\":", when);
        json_string(stdout, sa->poller.link->name);
        fputs(",\"error\":", stdout);
        if (sa->error < 0)
            json_string(stdout, sa->error_text);
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
    } else if (sa->error < 0) {
        fprintf(stdout, "%s %s error: %s\n", when, sa->poller.link->name, sa->error_text);
    } else {
        fprintf(stdout, "%s %s answering again\n", when, sa->poller.link->name);
    }
}

static void report_new_adapter(const struct scan *sc, const struct scanned_adapter *sa,
                               const char *when)
{
    if (sc->opt.json) {
        fprintf(stdout, "{\"time\":\"%s\",\"adapter\":", when);
        json_adapter(stdout, sa);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s new ", when);
        print_adapter(stdout, sa);
    }
}

/* Sleeps up to ms; returns early on a stop signal. */
static void pause_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (!stop_signal && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void watch(struct scan *sc)
{
    char last_change[16] = "-";
    unsigned since_rescan = 0;
    if (sc->tty)
        redraw(sc, last_change);
    while (!stop_signal) {
        pause_ms(sc->opt.interval_ms);
        if (stop_signal)
            break;
        char when[16];
        timestamp(when, sizeof(when));
        bool changed = false;

        size_t known = sc->n_adapters;
        since_rescan += sc->opt.interval_ms;
        if (since_rescan >= RESCAN_MS) {
            since_rescan = 0;
            if (find_new_adapters(sc) < 0)
                log_warn("cannot list USB devices: %s", ftdi_usb_host_error(sc->host));
        }
        for (size_t i = 0; i < sc->n_adapters; i++) {
            struct scanned_adapter *sa = &sc->adapters[i];
            if (i >= known) {
                first_scan(sa, sc->lost_after);
                if (!sc->tty)
                    report_new_adapter(sc, sa, when);
                changed = true;
                continue;
            }
            struct distributor_view before[LYNX_DISTRIBUTORS];
            memcpy(before, sa->view, sizeof(before));
            int error_before = sa->error;
            poll_adapter(sa);
            if ((error_before < 0) != (sa->error < 0)) {
                changed = true;
                if (!sc->tty)
                    report_adapter_change(sc, sa, when);
            }
            for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
                if (!same_view(&before[d], &sa->view[d])) {
                    changed = true;
                    if (!sc->tty)
                        report_distributor_change(sc, sa, d, when);
                }
        }
        if (changed) {
            memcpy(last_change, when, sizeof(last_change));
            if (sc->tty)
                redraw(sc, last_change);
        }
        fflush(stdout);
    }
}

/* ---- the process ---- */

static int load_config(struct scan *sc)
{
    config_init(&sc->cfg);
    if (!sc->opt.config_path)
        return 0;
    if (config_load(&sc->cfg, sc->opt.config_path) < 0) {
        fprintf(stderr, "lynx-scan: %s\n", sc->cfg.error);
        return -EINVAL;
    }
    sc->have_config = true;
    return 0;
}

static void catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int run(struct scan *sc)
{
    int rc = ftdi_usb_host_new(&sc->host);
    if (rc < 0) {
        fprintf(stderr, "lynx-scan: cannot initialise libusb: %s\n", strerror(-rc));
        return EXIT_NO_ADAPTER;
    }
    rc = add_i2c_buses(sc);
    if (rc >= 0)
        rc = find_new_adapters(sc);
    if (rc < 0) {
        fprintf(stderr, "lynx-scan: %s\n",
                rc == -ENOMEM ? strerror(-rc) : ftdi_usb_host_error(sc->host));
        return EXIT_NO_ADAPTER;
    }
    for (size_t i = 0; i < sc->n_adapters; i++)
        first_scan(&sc->adapters[i], sc->lost_after);
    if (!sc->opt.watch || !sc->tty) {
        if (sc->opt.json)
            print_json(stdout, sc);
        else
            print_text(stdout, sc);
        fflush(stdout);
    }
    if (sc->opt.watch)
        watch(sc);
    return exit_status(sc);
}

int main(int argc, char **argv)
{
    static struct scan sc;
    int rc = parse_options(argc, argv, &sc.opt);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    log_set_verbose(sc.opt.verbose);
    if (load_config(&sc) < 0) {
        config_free(&sc.cfg);
        return EXIT_USAGE;
    }
    resolve_settings(&sc);
    /* The driver modules log as the daemon does; here the results go to stdout, so only -v shows
     * the driver's own account of failures. */
    if (!sc.opt.verbose)
        log_set_min_level(LOG_LEVEL_ERROR);
    sc.tty = isatty(STDOUT_FILENO);
    catch_stop_signals();
    signal(SIGPIPE, SIG_IGN);

    int status = run(&sc);

    for (size_t i = 0; i < sc.n_adapters; i++)
        poller_deinit(&sc.adapters[i].poller);
    ftdi_usb_host_free(sc.host);
    config_free(&sc.cfg);
    return status;
}
