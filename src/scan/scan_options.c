/* lynx-scan's command line: the options, checked, and the settings they give with the config
 * file's and the daemon's defaults. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan.h"

#define DEFAULT_INTERVAL_MS 1000

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

int scan_parse_options(int argc, char **argv, struct options *opt)
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

void scan_resolve_settings(struct scan *sc)
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
