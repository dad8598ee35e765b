/* lynx-scan's report of what the adapters hold: a header per adapter, an i2cdetect-like address
 * line and a table of the distributors and their fuses; or the same as JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scan/scan.h"
#include "transport/mpsse/mpsse_link.h"
#include "venus/name.h"

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

void scan_print_row(FILE *out, const struct scanned_adapter *sa, unsigned d)
{
    const struct distributor_view *v = &sa->view[d];
    char raw[8] = "--";
    if (v->answered)
        snprintf(raw, sizeof(raw), "0x%02X", v->raw);
    fprintf(out, "%c     0x%02X  %-4s  ", lynx_letter(d), lynx_address(d), raw);
    print_padded(out, status_name(v->status, false), 15);
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        char cell[NAME_FUSE_MAX_BYTES + 16];
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

void scan_print_adapter(FILE *out, const struct scanned_adapter *sa)
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
            scan_print_row(out, sa, d);
        }
}

void scan_print_text(FILE *out, const struct scan *sc)
{
    if (sc->n_adapters == 0)
        fputs("no adapter found\n", out);
    for (size_t i = 0; i < sc->n_adapters; i++) {
        if (i)
            fputc('\n', out);
        scan_print_adapter(out, &sc->adapters[i]);
    }
    scan_list_other_i2c_buses(sc, out);
}

/* ---- JSON output ---- */

void scan_json_string(FILE *out, const char *s)
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

void scan_json_distributor(FILE *out, const struct scanned_adapter *sa, unsigned d)
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
            scan_json_string(out, sa->fuse_name[d][f]);
        }
        fputc('}', out);
    }
    fputs("]}", out);
}

void scan_json_adapter(FILE *out, const struct scanned_adapter *sa)
{
    fputs("{\"serial\":", out);
    scan_json_string(out, sa->poller.link->name);
    if (sa->i2c_bus >= 0) {
        struct bus_link_info info;
        sa->poller.link->ops->describe(sa->poller.link, &info);
        fprintf(out, ",\"transport\":\"i2c\",\"i2c_bus\":%d,\"name\":", sa->i2c_bus);
        scan_json_string(out, info.hardware);
    } else {
        const struct ftdi_usb_device_info *id = mpsse_link_device(sa->poller.link);
        const struct mpsse_i2c_clock *clk = mpsse_link_clock(sa->poller.link);
        fprintf(out,
                ",\"transport\":\"ftdi\",\"usb_id\":\"%04x:%04x\",\"chip\":\"%s\",\"bus\":%u,"
                "\"device\":%u,\"port\":",
                id->vid, id->pid, ftdi_usb_chip_name(id->chip), id->bus, id->address);
        scan_json_string(out, id->port_path);
        fprintf(out, ",\"i2c_hz\":%" PRIu32 ",\"i2c_mode\":\"%s\"", clk->scl_hz,
                mpsse_i2c_mode_name(clk->mode));
    }
    fputs(",\"error\":", out);
    if (sa->error < 0)
        scan_json_string(out, sa->error_text);
    else
        fputs("null", out);
    fputs(",\"distributors\":[", out);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        if (d)
            fputc(',', out);
        scan_json_distributor(out, sa, d);
    }
    fputs("]}", out);
}

void scan_print_json(FILE *out, const struct scan *sc)
{
    fputs("{\"adapters\":[", out);
    for (size_t i = 0; i < sc->n_adapters; i++) {
        if (i)
            fputc(',', out);
        scan_json_adapter(out, &sc->adapters[i]);
    }
    fprintf(out, "],\"distributors_answering\":%u}\n", scan_distributors_answering(sc));
}
