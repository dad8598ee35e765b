/* lynx-scan's adapters: the FTDI adapters found on USB and the Linux I2C buses named, each with
 * the daemon's own poller (so a change is confirmed by two agreeing reads exactly as the daemon
 * does), polled, and what each poll shows of its distributors. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan.h"
#include "transport/i2cdev/i2cdev_link.h"
#include "transport/mpsse/mpsse_link.h"

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

void scan_poll_adapter(struct scanned_adapter *sa)
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
void scan_first_scan(struct scanned_adapter *sa, unsigned lost_after)
{
    for (unsigned p = 0; p < SETTLE_POLLS; p++) {
        scan_poll_adapter(sa);
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
    const struct config_section *section = NULL;
    if (sc->have_config)
        section = i2c_bus >= 0 ? config_i2c_section(&sc->cfg, (unsigned)i2c_bus)
                               : config_ftdi_section(&sc->cfg, link->name);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (!section) {
            setup[d] = (struct lynx_distributor_setup){.fuse_installed = {true, true, true, true}};
            continue;
        }
        config_lynx_setup(section, d, &setup[d]);
        const char *physical[LYNX_FUSES];
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            physical[f] = section->distributor[d].fuse_name[f][0]
                              ? section->distributor[d].fuse_name[f]
                              : NULL;
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
    int rc = mpsse_link_new(sc->host, info, sc->i2c_hz, &link);
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

int scan_add_i2c_buses(struct scan *sc)
{
    int rc = 0;
    for (size_t i = 0; i < sc->opt.n_i2c && rc == 0; i++)
        rc = add_i2c(sc, sc->opt.i2c_bus[i]);
    for (size_t i = 0; sc->have_config && i < sc->cfg.n_sections && rc == 0; i++)
        if (sc->cfg.sections[i].i2c_bus >= 0)
            rc = add_i2c(sc, (unsigned)sc->cfg.sections[i].i2c_bus);
    return rc;
}

void scan_list_other_i2c_buses(const struct scan *sc, FILE *out)
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

int scan_find_new_adapters(struct scan *sc)
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
        struct scanned_adapter *known = find_adapter(sc, found[i].serial);
        if (known) { /* where it is now: a replug gives it a new address */
            mpsse_link_place(known->poller.link, &found[i]);
            continue;
        }
        int rc = add_ftdi(sc, &found[i]);
        if (rc < 0)
            return rc;
        added++;
    }
    return added;
}

unsigned scan_distributors_answering(const struct scan *sc)
{
    unsigned n = 0;
    for (size_t i = 0; i < sc->n_adapters; i++)
        for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
            n += sc->adapters[i].view[d].answered;
    return n;
}

int scan_exit_status(const struct scan *sc)
{
    bool opened = false; /* a bus or adapter named but never there is not an adapter found */
    for (size_t i = 0; i < sc->n_adapters; i++)
        opened |= sc->adapters[i].poller.opened_once;
    if (!opened)
        return EXIT_NO_ADAPTER;
    return scan_distributors_answering(sc) ? EXIT_FOUND : EXIT_NO_DISTRIBUTOR;
}
