/* lynx-scan: a field tool for installers. Lists the FTDI adapters found and the Linux I2C buses
 * named with --i2c (or by [i2c:N] sections of the config), reads every Lynx address 0x08-0x0B on
 * each bus with the daemon's own driver code (its bus links and poller, so a change is confirmed
 * by two agreeing reads exactly as the daemon does) and prints the decoded state: a header per
 * adapter, an i2cdetect-like address line and a table of the distributors and their fuses. --json
 * prints the same as one JSON object; --watch keeps polling and reports every change (a redrawn
 * screen on a terminal, one line per change otherwise, JSON lines with --json).
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
 * state seen when SIGINT/SIGTERM ended it.
 *
 * This file is the process (the config file, the first reading, the exit status); scan.h names the
 * files that do the rest. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "scan/scan.h"

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

static int run(struct scan *sc)
{
    int rc = ftdi_usb_host_new(&sc->host);
    if (rc < 0) {
        fprintf(stderr, "lynx-scan: cannot initialise libusb: %s\n", strerror(-rc));
        return EXIT_NO_ADAPTER;
    }
    rc = scan_add_i2c_buses(sc);
    if (rc >= 0)
        rc = scan_find_new_adapters(sc);
    if (rc < 0) {
        fprintf(stderr, "lynx-scan: %s\n",
                rc == -ENOMEM ? strerror(-rc) : ftdi_usb_host_error(sc->host));
        return EXIT_NO_ADAPTER;
    }
    for (size_t i = 0; i < sc->n_adapters; i++)
        scan_first_scan(&sc->adapters[i], sc->lost_after);
    if (!sc->opt.watch || !sc->tty) {
        if (sc->opt.json)
            scan_print_json(stdout, sc);
        else
            scan_print_text(stdout, sc);
        fflush(stdout);
    }
    if (sc->opt.watch)
        scan_watch(sc);
    return scan_exit_status(sc);
}

int main(int argc, char **argv)
{
    static struct scan sc;
    int rc = scan_parse_options(argc, argv, &sc.opt);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    log_set_verbose(sc.opt.verbose);
    if (load_config(&sc) < 0) {
        config_free(&sc.cfg);
        return EXIT_USAGE;
    }
    scan_resolve_settings(&sc);
    /* The driver modules log as the daemon does; here the results go to stdout, so only -v shows
     * the driver's own account of failures. */
    if (!sc.opt.verbose)
        log_set_min_level(LOG_LEVEL_ERROR);
    sc.tty = isatty(STDOUT_FILENO);
    scan_catch_stop_signals();
    signal(SIGPIPE, SIG_IGN);

    int status = run(&sc);

    for (size_t i = 0; i < sc.n_adapters; i++)
        poller_deinit(&sc.adapters[i].poller);
    ftdi_usb_host_free(sc.host);
    config_free(&sc.cfg);
    return status;
}
