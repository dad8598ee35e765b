/* sim_hardware_write_stats: every layer's counters as JSON, per adapter and in total (the
 * MPSSE engine's or the i2c-dev master's, the bus and its timing checks, the USB front end's). */
#include "run/hardware.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "run/hardware_usbredir.h"

struct stats_totals {
    struct sim_ft232h_stats usb;
    struct sim_mpsse_stats mpsse;
    struct sim_i2c_bus_stats i2c;
    struct sim_i2c_rule_stats timing[SIM_I2C_RULES];
};

/* An i2c adapter's and a CP2112's clock count as the MPSSE engine's does. */
static void add_usb_totals(struct stats_totals *t, const struct sim_adapter *a)
{
    if (a->cp2112) {
        const struct sim_cp2112_stats *c = sim_cp2112_stats(a->cp2112);
        t->usb.control_in += c->control_in;
        t->usb.control_out += c->control_out;
        t->mpsse.scl_periods += c->scl_periods;
        t->mpsse.bus_time_ns += c->bus_time_ns;
        return;
    }
    if (a->i2c) {
        t->mpsse.scl_periods += sim_i2cdev_stats(a->i2c)->scl_periods;
        t->mpsse.bus_time_ns += sim_i2cdev_stats(a->i2c)->bus_time_ns;
        return;
    }
    const struct sim_ft232h_stats *u = sim_ft232h_stats(a->dev);
    const struct sim_mpsse_stats *m = sim_mpsse_stats(sim_ft232h_mpsse(a->dev));
    t->usb.control_in += u->control_in;
    t->usb.control_out += u->control_out;
    t->usb.control_unanswered += u->control_unanswered;
    t->usb.bulk_in += u->bulk_in;
    t->usb.bulk_out += u->bulk_out;
    t->usb.bytes_in += u->bytes_in;
    t->usb.bytes_out += u->bytes_out;
    t->usb.in_overflows += u->in_overflows;
    t->mpsse.commands += m->commands;
    t->mpsse.bad_commands += m->bad_commands;
    t->mpsse.scl_periods += m->scl_periods;
    t->mpsse.bus_time_ns += m->bus_time_ns;
}

static void add_totals(struct stats_totals *t, const struct sim_adapter *a)
{
    add_usb_totals(t, a);
    const struct sim_i2c_bus_stats *b = sim_i2c_bus_stats(a->bus);
    t->i2c.transactions += b->transactions;
    t->i2c.starts += b->starts;
    t->i2c.contention += b->contention;
    t->i2c.timing_aborts += b->timing_aborts;
    const struct sim_i2c_timing *tm = sim_i2c_bus_timing(a->bus);
    for (int r = 0; r < SIM_I2C_RULES; r++) {
        t->timing[r].checks += tm->rules[r].checks;
        t->timing[r].violations += tm->rules[r].violations;
        if (tm->rules[r].shortest_ns < t->timing[r].shortest_ns)
            t->timing[r].shortest_ns = tm->rules[r].shortest_ns;
    }
}

static void init_totals(struct stats_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int r = 0; r < SIM_I2C_RULES; r++)
        t->timing[r].shortest_ns = UINT64_MAX;
}

/* "timing_violations": {"t_high": N, ...}, "timing_shortest_ns": {"t_high": ns or null, ...} */
static void write_timing(FILE *out, const struct stats_totals *t)
{
    fprintf(out, ", \"i2c_timing_aborts\": %" PRIu64 ", \"timing_violations\": {",
            t->i2c.timing_aborts);
    for (int r = 0; r < SIM_I2C_RULES; r++)
        fprintf(out, "%s\"%s\": %" PRIu64, r ? ", " : "", sim_i2c_rule_key(r),
                t->timing[r].violations);
    fputs("}, \"timing_shortest_ns\": {", out);
    for (int r = 0; r < SIM_I2C_RULES; r++) {
        fprintf(out, "%s\"%s\": ", r ? ", " : "", sim_i2c_rule_key(r));
        if (t->timing[r].checks)
            fprintf(out, "%" PRIu64, t->timing[r].shortest_ns);
        else
            fputs("null", out);
    }
    fputc('}', out);
}

static void write_counters(FILE *out, const struct stats_totals *t)
{
    fprintf(out,
            "\"usb_control_in\": %" PRIu64 ", \"usb_control_out\": %" PRIu64
            ", \"usb_bulk_in\": %" PRIu64 ", \"usb_bulk_out\": %" PRIu64
            ", \"usb_bytes_in\": %" PRIu64 ", \"usb_bytes_out\": %" PRIu64
            ", \"mpsse_commands\": %" PRIu64 ", \"mpsse_bad_commands\": %" PRIu64
            ", \"i2c_transactions\": %" PRIu64 ", \"i2c_starts\": %" PRIu64
            ", \"i2c_contention\": %" PRIu64 ", \"scl_periods\": %" PRIu64
            ", \"bus_time_ns\": %" PRIu64,
            t->usb.control_in, t->usb.control_out, t->usb.bulk_in, t->usb.bulk_out, t->usb.bytes_in,
            t->usb.bytes_out, t->mpsse.commands, t->mpsse.bad_commands, t->i2c.transactions,
            t->i2c.starts, t->i2c.contention, t->mpsse.scl_periods, t->mpsse.bus_time_ns);
    fprintf(out, ", \"usb_in_overflows\": %" PRIu64 ", \"usb_control_unanswered\": %" PRIu64,
            t->usb.in_overflows, t->usb.control_unanswered);
    write_timing(out, t);
}

/* An i2c adapter: its bus and timing counters as the FTDI adapters have them, then i2c-dev's. */
static void write_i2c_adapter(FILE *out, const struct sim_adapter *a, const struct stats_totals *t)
{
    const struct sim_i2cdev_stats *s = sim_i2cdev_stats(a->i2c);
    fprintf(out,
            "\"bus\": %u, \"driver\": \"%s\", \"funcs\": \"%s\", \"nack\": \"%s\", "
            "\"i2c_transactions\": %" PRIu64 ", \"i2c_starts\": %" PRIu64
            ", \"i2c_contention\": %" PRIu64 ", \"scl_periods\": %" PRIu64
            ", \"bus_time_ns\": %" PRIu64,
            a->spec.i2c_bus,
            a->spec.i2c_driver == SIM_I2CDEV_DRIVER_HID_CP2112 ? "hid-cp2112"
            : a->spec.i2c_driver == SIM_I2CDEV_DRIVER_BCM2835  ? "bcm2835"
                                                               : "generic",
            a->spec.i2c_funcs == SIM_I2CDEV_FUNCS_SMBUS ? "smbus" : "i2c",
            a->spec.nack_errno == EREMOTEIO ? "eremoteio" : "enxio", t->i2c.transactions,
            t->i2c.starts, t->i2c.contention, s->scl_periods, s->bus_time_ns);
    write_timing(out, t);
    fprintf(out,
            ", \"ioctl_funcs\": %" PRIu64 ", \"ioctl_slave\": %" PRIu64 ", \"ioctl_rdwr\": %" PRIu64
            ", \"ioctl_smbus\": %" PRIu64 ", \"ioctl_other\": %" PRIu64 ", \"read_calls\": %" PRIu64
            ", \"write_calls\": %" PRIu64 ", \"i2c_transfers\": %" PRIu64
            ", \"i2c_messages\": %" PRIu64 ", \"i2c_nacks\": %" PRIu64
            ", \"i2c_bus_errors\": %" PRIu64 ", \"injected_errors\": %" PRIu64,
            s->ioctl_funcs, s->ioctl_slave, s->ioctl_rdwr, s->ioctl_smbus, s->ioctl_other,
            s->read_calls, s->write_calls, s->transactions, s->messages, s->nacks, s->bus_errors,
            s->injected);
}

/* A CP2112: the counters the FTDI adapters have (control transfers, bus, timing), then its own
 * (HID reports, SMBus transfers as the chip saw them, the interrupt faults that fired). */
static void write_cp2112_adapter(FILE *out, const struct sim_adapter *a,
                                 const struct stats_totals *t)
{
    const struct sim_cp2112_stats *s = sim_cp2112_stats(a->cp2112);
    write_counters(out, t);
    fprintf(out,
            ", \"hid_reports_out\": %" PRIu64 ", \"hid_reports_in\": %" PRIu64
            ", \"smbus_transfers\": %" PRIu64 ", \"smbus_rejected\": %" PRIu64
            ", \"status_requests\": %" PRIu64 ", \"cancels\": %" PRIu64
            ", \"smbus_retries\": %" PRIu64 ", \"smbus_errors\": %" PRIu64
            ", \"usb_stalls\": %" PRIu64 ", \"usb_hung\": %" PRIu64,
            s->reports_out, s->reports_in, s->transfers, s->rejected, s->status_requests,
            s->cancels, s->retries, s->errors, s->stalled, s->hung);
}

void sim_hardware_write_stats(struct sim_hardware *hw, FILE *out)
{
    struct stats_totals total;
    init_totals(&total);
    pthread_mutex_lock(&hw->lock);
    fputs("{\"adapters\": [", out);
    for (size_t i = 0; i < hw->n_adapters; i++) {
        struct stats_totals one;
        init_totals(&one);
        add_totals(&one, &hw->adapters[i]);
        add_totals(&total, &hw->adapters[i]);
        /* Serials come from our own scenario parser: no quotes or control characters. */
        const struct sim_adapter *a = &hw->adapters[i];
        fprintf(out,
                "%s{\"serial\": \"%s\", \"transport\": \"%s\", \"i2c_mode\": \"%s\", "
                "\"strict_timing\": %s, ",
                i ? ", " : "", a->spec.serial,
                a->i2c      ? "i2c"
                : a->cp2112 ? "cp2112"
                            : "ftdi",
                sim_i2c_mode_name(a->spec.i2c_mode), a->spec.strict_timing ? "true" : "false");
        if (a->i2c || a->cp2112) {
            if (a->i2c)
                write_i2c_adapter(out, a, &one);
            else
                write_cp2112_adapter(out, a, &one);
            fputc('}', out);
            continue;
        }
        write_counters(out, &one);
        sim_hardware_usbredir_write_adapter(hw, a, out);
        struct sim_usb_driver_stats drv = {0};
        if (hw->bridge)
            sim_usb_bridge_driver_stats_locked(hw->bridge, a->dev, &drv);
        if (!hw->redir) /* under usbredir the guest's kernel has the drivers */
            fprintf(out,
                    ", \"kernel_driver_bound\": %s, \"kernel_detaches\": %" PRIu64
                    ", \"kernel_attaches\": %" PRIu64 ", \"kernel_binds\": %" PRIu64,
                    drv.bound ? "true" : "false", drv.detaches, drv.attaches, drv.binds);
        fputc('}', out);
    }
    fputs("], \"total\": {", out);
    write_counters(out, &total);
    sim_hardware_usbredir_write_total(hw, out);
    fputs("}}\n", out);
    pthread_mutex_unlock(&hw->lock);
}
