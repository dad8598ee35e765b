/* dbus-lynx-distributor: watches Victron Lynx Distributors through FT232H USB-I2C adapters and
 * publishes one com.victronenergy.battery service per adapter on D-Bus.
 *
 *   dbus-lynx-distributor -c FILE [-v] [--record FILE [--record-max SIZE]] [--polls N] [--version]
 *                         [--help]
 *
 * System bus by default; DBUS_SYSTEM_BUS_ADDRESS selects another (the tests use a private bus).
 * One thread, one poll() loop: the poll timer scans every adapter, libusb hot-plug (or a periodic
 * rescan where hot-plug is missing) finds adapters plugged in later, SIGTERM/SIGINT end the loop
 * and the services leave the bus without publishing anything else (a restart raises no alarm).
 * SIGHUP re-reads the config, SIGUSR1 logs the state, SIGUSR2 toggles debug logging (on_signal). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/fleet.h"
#include "base/log.h"
#include "base/mainloop.h"
#include "daemon/recorder.h"
#include "venus/service.h"
#include "venus/vedbus.h"
#include "daemon/signals.h"

struct daemon {
    struct config cfg;
    struct mainloop *loop;
    struct mainloop_timer *poll_timer;
    struct fleet *fleet;     /* the adapters and their services */
    const char *record_path; /* --record: every poll's observations (recorder.h) */
    uint64_t record_max;
    struct recorder *recorder;
    unsigned long max_polls; /* --polls: quit after that many polls (0 = never) */
    unsigned long polls;
    unsigned diagnostics_interval_ms; /* --diagnostics-interval; 0 = the service's default */
    uint32_t settings_timeout_ms;     /* --settings-timeout */
    const char *config_path;
    bool verbose;            /* -v, toggled by SIGUSR2 */
    struct signals *signals; /* SIGHUP, SIGUSR1, SIGUSR2: on_signal */
};

static void usage(FILE *out)
{
    fputs("usage: dbus-lynx-distributor -c FILE [-v] [--record FILE [--record-max SIZE]]\n"
          "       [--polls N] [--version] [--help]\n"
          "Publishes Victron Lynx Distributors read through FT232H USB-I2C adapters as\n"
          "com.victronenergy.battery services on D-Bus (DBUS_SYSTEM_BUS_ADDRESS, else the\n"
          "system bus).\n"
          "  -c, --config FILE  configuration (see config.sample.ini)\n"
          "  -v, --verbose      debug logging\n"
          "      --record FILE  append every poll's raw observations to FILE (a trace that\n"
          "                     lynx-sim --replay plays back); FILE.1 keeps the previous part\n"
          "      --record-max SIZE  bytes per trace file before it rotates (k/M suffix,\n"
          "                     default 4M)\n"
          "      --polls N      quit after N polls (for tools/bench.sh: two runs that differ\n"
          "                     only in N cancel the start-up and exit costs)\n"
          "      --diagnostics-interval SECONDS  how often the /Diagnostics counters are\n"
          "                     published (default 60)\n"
          "      --settings-timeout SECONDS  how long a service waits for its device\n"
          "                     instance from localsettings before it goes on the bus with\n"
          "                     the default (default 30; 0 = do not wait)\n"
          "      --version      print the version and exit\n"
          "Signals: HUP re-reads the config (installed flags apply at once), USR1 logs the\n"
          "state, USR2 switches debug logging on/off, TERM/INT stop.\n",
          out);
}

static void on_poll(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    struct daemon *dm = user;
    (void)loop, (void)timer;
    fleet_poll(dm->fleet);
    if (dm->max_polls && ++dm->polls == dm->max_polls)
        mainloop_quit(loop);
}

/* SIGHUP: config.ini again. What applies live (installed flags of distributors and fuses) does so
 * from the next poll; everything else is named as needing a restart. A bad file changes nothing. */
static void reload_config(struct daemon *dm)
{
    struct config fresh;
    config_init(&fresh);
    if (config_load(&fresh, dm->config_path) < 0) {
        log_error("SIGHUP: %s; keeping the running configuration", fresh.error);
        config_free(&fresh);
        return;
    }
    const struct config *old = &dm->cfg;
    bool restart = fresh.poll_interval_ms != old->poll_interval_ms ||
                   fresh.i2c_speed_khz != old->i2c_speed_khz ||
                   fresh.comm_lost_polls != old->comm_lost_polls ||
                   fresh.n_usb_ids != old->n_usb_ids ||
                   memcmp(fresh.usb_ids, old->usb_ids, sizeof(old->usb_ids[0]) * old->n_usb_ids);
    /* adapters found from now on use the new file; the running ones keep their general settings */
    fresh.poll_interval_ms = old->poll_interval_ms;
    fresh.i2c_speed_khz = old->i2c_speed_khz;
    fresh.comm_lost_polls = old->comm_lost_polls;
    fresh.n_usb_ids = old->n_usb_ids;
    memcpy(fresh.usb_ids, old->usb_ids, sizeof(fresh.usb_ids));
    unsigned applied = fleet_apply_config(dm->fleet, &fresh, &dm->cfg, &restart);
    config_free(&dm->cfg);
    dm->cfg = fresh;
    log_info("SIGHUP: %s re-read: installed flags of %u distributor%s changed, applied from the "
             "next poll%s",
             dm->config_path, applied, applied == 1 ? "" : "s",
             restart ? "; names, mounting, removed sections, USB ids, poll interval, I2C speed or "
                       "comm_lost_polls changed too: those take effect after a restart (svc -t)"
                     : "");
}

/* HUP: reload_config; USR1: the state in the log; USR2: debug logging on/off. Each also writes the
 * trace's pending `same` counts to disk, so the trace is complete up to now. */
static void on_signal(int signo, void *user)
{
    struct daemon *dm = user;
    recorder_sync(dm->recorder);
    if (signo == SIGHUP) {
        reload_config(dm);
    } else if (signo == SIGUSR1) {
        size_t n = fleet_count(dm->fleet);
        log_info("state: %zu adapter%s, poll every %u ms, I2C %u kHz, recording %s", n,
                 n == 1 ? "" : "s", dm->cfg.poll_interval_ms, dm->cfg.i2c_speed_khz,
                 dm->record_path ? dm->record_path : "off");
        fleet_log_summary(dm->fleet);
    } else if (signo == SIGUSR2) {
        dm->verbose = !dm->verbose;
        log_set_verbose(dm->verbose);
        log_info("SIGUSR2: debug logging %s", dm->verbose ? "on" : "off");
    }
}

static int run(struct daemon *dm)
{
    static const int signals[] = {SIGTERM, SIGINT};
    int rc;
    /* A recording target that cannot be recorded to is a start-up error, like a bad config: the
     * trace was asked for, and a daemon running without it would look like it recorded. */
    struct recorder_options ro = {.max_bytes = dm->record_max,
                                  .poll_interval_ms = dm->cfg.poll_interval_ms};
    if (dm->record_path && recorder_open(&dm->recorder, dm->record_path, &ro) < 0)
        return 2;
    static const int events[] = {SIGHUP, SIGUSR1, SIGUSR2};
    if ((rc = mainloop_new(&dm->loop)) < 0 ||
        (rc = mainloop_catch_signals(dm->loop, signals, 2)) < 0 ||
        (rc = signals_watch(dm->loop, events, 3, on_signal, dm, &dm->signals)) < 0 ||
        (rc = recorder_use_loop(dm->recorder, dm->loop)) < 0) {
        log_error("cannot set up the event loop: %s", strerror(-rc));
        return 1;
    }
    struct fleet_options fo = {.cfg = &dm->cfg,
                               .recorder = dm->recorder,
                               .diagnostics_interval_ms = dm->diagnostics_interval_ms,
                               .settings_timeout_ms = dm->settings_timeout_ms};
    if (fleet_new(dm->loop, &fo, &dm->fleet) < 0)
        return 1;
    char why[256];
    if (!fleet_failed(dm->fleet) && fleet_count(dm->fleet) == 0 &&
        vedbus_bus_reachable(NULL, why, sizeof(why)) < 0) {
        /* no service to find out on: exit as a service would, for the supervisor to retry */
        log_error("cannot connect to D-Bus: %s (and no adapter yet); exiting", why);
        return 1;
    }
    if (!fleet_failed(dm->fleet)) {
        on_poll(dm->loop, NULL, dm);
        rc = mainloop_add_timer(dm->loop, dm->cfg.poll_interval_ms, true, on_poll, dm,
                                &dm->poll_timer);
        if (rc == 0)
            rc = mainloop_run(dm->loop);
    }
    if (mainloop_quit_signal(dm->loop))
        log_info("stopping on signal %d", mainloop_quit_signal(dm->loop));
    /* D-Bus gone or unreachable: exit non-zero so daemontools starts us afresh (see fleet.h) */
    if (fleet_failed(dm->fleet))
        rc = -ENOTCONN;
    return rc < 0 ? 1 : 0;
}

static void cleanup(struct daemon *dm)
{
    fleet_free(dm->fleet);
    recorder_close(dm->recorder);
    signals_free(dm->signals);
    if (dm->loop)
        mainloop_free(dm->loop);
    config_free(&dm->cfg);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"record", required_argument, NULL, 'r'},
                                            {"record-max", required_argument, NULL, 'R'},
                                            {"polls", required_argument, NULL, 'P'},
                                            {"diagnostics-interval", required_argument, NULL, 'D'},
                                            {"settings-timeout", required_argument, NULL, 'S'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    static struct daemon dm = {.settings_timeout_ms = SERVICE_SETTINGS_TIMEOUT_MS};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'v':
            dm.verbose = true;
            log_set_verbose(true);
            break;
        case 'V':
            puts("dbus-lynx-distributor " LYNX_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'r':
            dm.record_path = optarg;
            break;
        case 'P': {
            char *end;
            errno = 0;
            dm.max_polls = strtoul(optarg, &end, 10);
            if (errno || !isdigit((unsigned char)optarg[0]) || *end || dm.max_polls == 0) {
                log_error("--polls: expected a positive number, got '%s'", optarg);
                return 2;
            }
            break;
        }
        case 'D': {
            char *end;
            errno = 0;
            unsigned long s = strtoul(optarg, &end, 10);
            if (errno || !isdigit((unsigned char)optarg[0]) || *end || s == 0 || s > 86400) {
                log_error("--diagnostics-interval: expected 1-86400 seconds, got '%s'", optarg);
                return 2;
            }
            dm.diagnostics_interval_ms = (unsigned)s * 1000u;
            break;
        }
        case 'S': {
            char *end;
            errno = 0;
            unsigned long s = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || s > 3600 || optarg[0] == '-') {
                log_error("--settings-timeout: expected 0-3600 seconds, got '%s'", optarg);
                return 2;
            }
            dm.settings_timeout_ms = (uint32_t)s * 1000u;
            break;
        }
        case 'R': {
            int rc = recorder_parse_size(optarg, &dm.record_max);
            if (rc == -ERANGE) {
                log_error("--record-max: '%s' is too large (more than 2^64 bytes)", optarg);
                return 2;
            }
            if (rc < 0) {
                log_error("--record-max: expected a size in bytes with an optional k/M/G suffix "
                          "(4096, 512k, 4M), got '%s'",
                          optarg);
                return 2;
            }
            if (dm.record_max < RECORDER_MAX_BYTES_MIN) {
                log_error("--record-max: '%s' is below the minimum of %u bytes", optarg,
                          RECORDER_MAX_BYTES_MIN);
                return 2;
            }
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (dm.record_max && !dm.record_path) {
        log_error("--record-max without --record FILE: there is no trace to limit");
        return 2;
    }
    config_init(&dm.cfg);
    dm.config_path = config_path;
    if (config_load(&dm.cfg, config_path) < 0) {
        log_error("%s", dm.cfg.error);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    log_info("dbus-lynx-distributor " LYNX_VERSION " starting: poll every %u ms, I2C %u kHz",
             dm.cfg.poll_interval_ms, dm.cfg.i2c_speed_khz);
    int rc = run(&dm);
    cleanup(&dm);
    return rc;
}
