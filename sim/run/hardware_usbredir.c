/* The USB adapters over usbredir (see hardware_usbredir.h). */
#include "run/hardware_usbredir.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int sim_hardware_usbredir_start(struct sim_hardware *hw, const char *dir, char *err, size_t errlen)
{
    hw->redir = sim_usbredir_bridge_new(dir, &hw->lock, err, errlen);
    if (!hw->redir)
        return -EIO;
    for (size_t i = 0; i < hw->n_adapters; i++) {
        struct sim_adapter *a = &hw->adapters[i];
        if (!a->usb.ops)
            continue;
        char why[200];
        const int rc =
            sim_usbredir_bridge_add(hw->redir, &a->usb, a->spec.plugged, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, errlen, "adapter %s: %s", a->spec.serial, why);
            return rc;
        }
    }
    return 0;
}

static void add_stats(struct sim_usbredir_stats *t, const struct sim_usbredir_stats *s)
{
    t->connections += s->connections;
    t->connects += s->connects;
    t->disconnects += s->disconnects;
    t->resets += s->resets;
    t->packets_in += s->packets_in;
    t->packets_out += s->packets_out;
    t->control += s->control;
    t->bulk_in += s->bulk_in;
    t->bulk_out += s->bulk_out;
    t->interrupt_in += s->interrupt_in;
    t->interrupt_out += s->interrupt_out;
    t->stalls += s->stalls;
    t->babbles += s->babbles;
    t->cancelled += s->cancelled;
    t->ioerrors += s->ioerrors;
    t->invalid += s->invalid;
}

/* usbredir_transfers: every control, bulk and interrupt transfer answered, the figure the
 * benchmark quotes per poll. */
static void write_stats(FILE *out, const struct sim_usbredir_stats *s)
{
    const uint64_t transfers =
        s->control + s->bulk_in + s->bulk_out + s->interrupt_in + s->interrupt_out;
    fprintf(out,
            ", \"usbredir_transfers\": %" PRIu64 ", \"usbredir_control\": %" PRIu64
            ", \"usbredir_bulk_in\": %" PRIu64 ", \"usbredir_bulk_out\": %" PRIu64
            ", \"usbredir_interrupt_in\": %" PRIu64 ", \"usbredir_interrupt_out\": %" PRIu64
            ", \"usbredir_packets_in\": %" PRIu64 ", \"usbredir_packets_out\": %" PRIu64,
            transfers, s->control, s->bulk_in, s->bulk_out, s->interrupt_in, s->interrupt_out,
            s->packets_in, s->packets_out);
    fprintf(out,
            ", \"usbredir_stalls\": %" PRIu64 ", \"usbredir_babbles\": %" PRIu64
            ", \"usbredir_cancelled\": %" PRIu64 ", \"usbredir_ioerrors\": %" PRIu64
            ", \"usbredir_invalid\": %" PRIu64 ", \"usbredir_connections\": %" PRIu64
            ", \"usbredir_device_connects\": %" PRIu64 ", \"usbredir_device_disconnects\": %" PRIu64
            ", \"usbredir_resets\": %" PRIu64,
            s->stalls, s->babbles, s->cancelled, s->ioerrors, s->invalid, s->connections,
            s->connects, s->disconnects, s->resets);
}

void sim_hardware_usbredir_write_adapter(struct sim_hardware *hw, const struct sim_adapter *a,
                                         FILE *out)
{
    struct sim_usbredir_stats s;
    if (hw->redir && a->usb.ops && sim_usbredir_bridge_stats_locked(hw->redir, a->usb.dev, &s) == 0)
        write_stats(out, &s);
}

void sim_hardware_usbredir_write_total(struct sim_hardware *hw, FILE *out)
{
    struct sim_usbredir_stats total, s;
    if (!hw->redir)
        return;
    memset(&total, 0, sizeof(total));
    for (size_t i = 0; i < hw->n_adapters; i++) {
        const struct sim_adapter *a = &hw->adapters[i];
        if (a->usb.ops && sim_usbredir_bridge_stats_locked(hw->redir, a->usb.dev, &s) == 0)
            add_stats(&total, &s);
    }
    write_stats(out, &total);
}
