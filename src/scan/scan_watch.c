/* lynx-scan --watch: keeps polling until SIGINT or SIGTERM and reports every change (a redrawn
 * screen on a terminal, one line per change otherwise, JSON lines with --json); looks for adapters
 * plugged in later every RESCAN_MS. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "scan/scan.h"

#define RESCAN_MS 5000 /* how often to look for adapters plugged in later */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

void scan_catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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
        scan_print_json(out, sc);
    else
        scan_print_text(out, sc);
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
        scan_json_string(stdout, sa->poller.link->name);
        fputs(",\"change\":", stdout);
        scan_json_distributor(stdout, sa, d);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s %s ", when, sa->poller.link->name);
        scan_print_row(stdout, sa, d);
    }
}

static void report_adapter_change(const struct scan *sc, const struct scanned_adapter *sa,
                                  const char *when)
{
    if (sc->opt.json) {
        fprintf(stdout, "{\"time\":\"%s\",\"serial\":", when);
        scan_json_string(stdout, sa->poller.link->name);
        fputs(",\"error\":", stdout);
        if (sa->error < 0)
            scan_json_string(stdout, sa->error_text);
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
        scan_json_adapter(stdout, sa);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s new ", when);
        scan_print_adapter(stdout, sa);
    }
}

/* Sleeps up to ms; returns early on a stop signal. */
static void pause_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (!stop_signal && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void scan_watch(struct scan *sc)
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
            if (scan_find_new_adapters(sc) < 0)
                log_warn("cannot list USB devices: %s", ftdi_usb_host_error(sc->host));
        }
        for (size_t i = 0; i < sc->n_adapters; i++) {
            struct scanned_adapter *sa = &sc->adapters[i];
            if (i >= known) {
                scan_first_scan(sa, sc->lost_after);
                if (!sc->tty)
                    report_new_adapter(sc, sa, when);
                changed = true;
                continue;
            }
            struct distributor_view before[LYNX_DISTRIBUTORS];
            memcpy(before, sa->view, sizeof(before));
            int error_before = sa->error;
            scan_poll_adapter(sa);
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
