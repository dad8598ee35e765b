/* The simulated installation (see hardware.h for the contract): builds the models from a
 * scenario, hands them to the umockdev bridges (or the usbredir bridge: hardware_usbredir.c),
 * applies actions to them, and writes the stats. */
#include "run/hardware.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "run/hardware_usbredir.h"

static void apply_distributor_spec(struct sim_lynx *lynx, const struct sim_distributor_spec *d,
                                   struct sim_i2c_bus *bus)
{
    for (int f = 0; f < 4; f++)
        sim_lynx_set_fuse_open(lynx, f + 1, d->fuse_open[f]);
    sim_lynx_set_supply(lynx, d->supply);
    sim_lynx_set_powered(lynx, d->powered);
    if (d->present)
        sim_lynx_attach(lynx, bus);
}

/* First violation of each timing rule on an adapter's bus: one line, then only counted. */
static void report_timing(void *ctx, enum sim_i2c_rule rule, uint64_t measured_ns,
                          uint64_t minimum_ns, enum sim_i2c_mode mode)
{
    const struct sim_adapter *a = ctx;
    fprintf(stderr,
            "lynx-sim: %s: I2C timing: %s of %" PRIu64 " ns, below the %s-mode minimum of %" PRIu64
            " ns%s (logged once; every one is counted in the stats)\n",
            a->spec.serial, sim_i2c_rule_name(rule), measured_ns, sim_i2c_mode_name(mode),
            minimum_ns,
            sim_i2c_bus_strict(a->bus) ? "; strict timing: a START or address byte so timed is "
                                         "not acknowledged"
                                       : "");
}

static int init_adapter(struct sim_adapter *a, const struct sim_adapter_spec *spec)
{
    a->spec = *spec;
    a->bus = sim_i2c_bus_new();
    if (!a->bus)
        return -ENOMEM;
    sim_i2c_bus_set_timing(a->bus, spec->i2c_mode, spec->strict_timing);
    sim_i2c_bus_on_violation(a->bus, report_timing, a);
    if (spec->cp2112) {
        struct sim_cp2112_config cfg = {.vid = spec->vid, .pid = spec->pid, .serial = spec->serial};
        a->cp2112 = sim_cp2112_new(&cfg, a->bus);
        a->usb = (struct sim_usb_model){&sim_cp2112_usb_ops, a->cp2112};
    } else if (spec->transport == SIM_TRANSPORT_I2C) {
        struct sim_i2cdev_config cfg = {.funcs = spec->i2c_funcs,
                                        .nack_errno = spec->nack_errno,
                                        .mode = spec->i2c_mode,
                                        .driver = spec->i2c_driver};
        a->i2c = sim_i2cdev_new(a->bus, &cfg);
    } else {
        struct sim_ft232h_config cfg = {
            .vid = spec->vid, .pid = spec->pid, .serial = spec->serial, .chip = spec->chip};
        a->dev = sim_ft232h_new(&cfg, a->bus);
        a->usb = (struct sim_usb_model){&sim_ft232h_usb_ops, a->dev};
    }
    if (!a->dev && !a->i2c && !a->cp2112)
        return -ENOMEM;
    for (int i = 0; i < SIM_MAX_DISTRIBUTORS; i++) {
        if (!spec->distributors[i].declared)
            continue;
        a->lynx[i] = sim_lynx_new((char)('A' + i));
        if (!a->lynx[i])
            return -ENOMEM;
        apply_distributor_spec(a->lynx[i], &spec->distributors[i], a->bus);
    }
    return 0;
}

static int add_usb_adapter(struct sim_hardware *hw, struct sim_adapter *a)
{
    int rc = sim_usb_bridge_add(hw->bridge, a->dev);
    if (rc == 0)
        sim_usb_bridge_driver_at_plug(hw->bridge, a->dev, a->spec.driver_bound);
    if (rc == 0 && !a->spec.plugged)
        rc = sim_usb_bridge_unplug(hw->bridge, a->dev);
    return rc;
}

static int add_i2c_adapter(struct sim_hardware *hw, struct sim_adapter *a)
{
    if (!hw->i2c_bridge)
        hw->i2c_bridge = sim_i2cdev_bridge_new(hw->bridge, &hw->lock);
    if (!hw->i2c_bridge)
        return -ENOMEM;
    return sim_i2cdev_bridge_add(hw->i2c_bridge, a->i2c, a->spec.i2c_bus, a->spec.serial,
                                 a->spec.plugged);
}

int sim_hardware_init(struct sim_hardware *hw, const struct sim_scenario *sc, bool with_usb,
                      char *err, size_t errlen)
{
    memset(hw, 0, sizeof(*hw));
    pthread_mutex_init(&hw->lock, NULL);
    for (size_t i = 0; i < sc->n_adapters; i++) {
        hw->n_adapters++;
        if (init_adapter(&hw->adapters[i], &sc->adapters[i]) < 0) {
            snprintf(err, errlen, "out of memory building adapter %s", sc->adapters[i].serial);
            sim_hardware_free(hw);
            return -ENOMEM;
        }
    }
    if (!with_usb)
        return 0;
    for (size_t i = 0; i < hw->n_adapters; i++) {
        if (hw->adapters[i].cp2112) {
            snprintf(err, errlen,
                     "adapter %s is a CP2112 (chip=cp2112): only the usbredir front end serves it "
                     "(lynx-sim --usbredir, tools/vm.sh), the umockdev bridge has no USB HID",
                     hw->adapters[i].spec.serial);
            sim_hardware_free(hw);
            return -EOPNOTSUPP;
        }
    }
    hw->bridge = sim_usb_bridge_new(&hw->lock);
    if (!hw->bridge) {
        snprintf(err, errlen, "cannot create the umockdev testbed");
        sim_hardware_free(hw);
        return -EIO;
    }
    for (size_t i = 0; i < hw->n_adapters; i++) {
        struct sim_adapter *a = &hw->adapters[i];
        int rc = a->i2c ? add_i2c_adapter(hw, a) : add_usb_adapter(hw, a);
        if (rc < 0) {
            snprintf(err, errlen, "cannot add adapter %s to the testbed: %s", a->spec.serial,
                     strerror(-rc));
            sim_hardware_free(hw);
            return rc;
        }
    }
    return 0;
}

int sim_hardware_init_usbredir(struct sim_hardware *hw, const struct sim_scenario *sc,
                               const char *dir, char *err, size_t errlen)
{
    for (size_t i = 0; i < sc->n_adapters; i++) {
        if (sc->adapters[i].transport != SIM_TRANSPORT_I2C)
            continue;
        snprintf(err, errlen,
                 "i2c-adapter %s: an i2c-dev adapter cannot be served over usbredir; in a guest "
                 "an I2C bus comes from a USB adapter ('adapter SERIAL chip=cp2112')",
                 sc->adapters[i].serial);
        return -EOPNOTSUPP;
    }
    int rc = sim_hardware_init(hw, sc, false, err, errlen);
    if (rc == 0 && (rc = sim_hardware_usbredir_start(hw, dir, err, errlen)) < 0)
        sim_hardware_free(hw);
    return rc;
}

void sim_hardware_free(struct sim_hardware *hw)
{
    sim_usbredir_bridge_free(hw->redir); /* its thread runs the models: stopped first */
    /* the i2c bridge's thread uses the testbed, its handlers live until the testbed is gone */
    sim_i2cdev_bridge_stop(hw->i2c_bridge);
    if (hw->bridge)
        sim_usb_bridge_free(hw->bridge);
    sim_i2cdev_bridge_free(hw->i2c_bridge);
    for (size_t i = 0; i < hw->n_adapters; i++) {
        struct sim_adapter *a = &hw->adapters[i];
        for (int d = 0; d < SIM_MAX_DISTRIBUTORS; d++)
            if (a->lynx[d]) {
                sim_lynx_detach(a->lynx[d]);
                sim_lynx_free(a->lynx[d]);
            }
        if (a->dev)
            sim_ft232h_free(a->dev);
        sim_i2cdev_free(a->i2c);
        sim_cp2112_free(a->cp2112);
        if (a->bus)
            sim_i2c_bus_free(a->bus);
    }
    pthread_mutex_destroy(&hw->lock);
    memset(hw, 0, sizeof(*hw));
}

static struct sim_adapter *find_adapter(struct sim_hardware *hw, const char *serial)
{
    for (size_t i = 0; i < hw->n_adapters; i++)
        if (strcmp(hw->adapters[i].spec.serial, serial) == 0)
            return &hw->adapters[i];
    return NULL;
}

static bool has_bridge(const struct sim_hardware *hw, const struct sim_adapter *a)
{
    if (a->cp2112)
        return hw->redir != NULL; /* the umockdev bridge never has one */
    return a->i2c ? hw->i2c_bridge != NULL : hw->bridge != NULL || hw->redir != NULL;
}

static bool is_plugged(struct sim_hardware *hw, const struct sim_adapter *a)
{
    if (a->i2c)
        return sim_i2cdev_bridge_plugged(hw->i2c_bridge, a->i2c);
    return hw->redir ? sim_usbredir_bridge_plugged(hw->redir, a->usb.dev)
                     : sim_usb_bridge_plugged(hw->bridge, a->dev);
}

static int plug_adapter(struct sim_hardware *hw, struct sim_adapter *a, bool plug)
{
    if (a->i2c)
        return plug ? sim_i2cdev_bridge_plug(hw->i2c_bridge, a->i2c)
                    : sim_i2cdev_bridge_unplug(hw->i2c_bridge, a->i2c);
    if (hw->redir)
        return plug ? sim_usbredir_bridge_plug(hw->redir, a->usb.dev)
                    : sim_usbredir_bridge_unplug(hw->redir, a->usb.dev);
    return plug ? sim_usb_bridge_plug(hw->bridge, a->dev)
                : sim_usb_bridge_unplug(hw->bridge, a->dev);
}

static int unplug_mid_transfer(struct sim_hardware *hw, struct sim_adapter *a)
{
    if (a->i2c)
        return sim_i2cdev_bridge_unplug_mid_transfer(hw->i2c_bridge, a->i2c);
    return hw->redir ? sim_usbredir_bridge_unplug_mid_transfer(hw->redir, a->usb.dev)
                     : sim_usb_bridge_unplug_mid_transfer(hw->bridge, a->dev);
}

static int apply_usb(struct sim_hardware *hw, struct sim_adapter *a, bool plug, char *err,
                     size_t errlen)
{
    if (!has_bridge(hw, a)) {
        snprintf(err, errlen, "no %s bridge: cannot %s %s", a->i2c ? "i2c-dev" : "USB",
                 plug ? "plug" : "unplug", a->spec.serial);
        return -ENODEV;
    }
    if (is_plugged(hw, a) == plug)
        return 0; /* already in that state: idempotent, as a person at the cable would expect */
    int rc = plug_adapter(hw, a, plug);
    if (rc < 0)
        snprintf(err, errlen, "%s %s failed: %s", plug ? "plug" : "unplug", a->spec.serial,
                 strerror(-rc));
    return rc;
}

static int apply_distributor(struct sim_adapter *a, struct sim_lynx *lynx,
                             const struct sim_action *act, char *err, size_t errlen)
{
    switch (act->kind) {
    case SIM_ACTION_FUSE:
        sim_lynx_set_fuse_open(lynx, act->fuse, act->on);
        return 0;
    case SIM_ACTION_SUPPLY:
        sim_lynx_set_supply(lynx, act->on);
        return 0;
    case SIM_ACTION_POWER:
        sim_lynx_set_powered(lynx, act->on);
        return 0;
    case SIM_ACTION_DISTRIBUTOR:
        if (act->on && !sim_lynx_attached(lynx)) {
            int rc = sim_lynx_attach(lynx, a->bus);
            if (rc < 0)
                snprintf(err, errlen, "cannot put distributor %s %c back on the bus: %s",
                         act->serial, sim_lynx_letter(lynx), strerror(-rc));
            return rc;
        }
        if (!act->on)
            sim_lynx_detach(lynx);
        return 0;
    case SIM_ACTION_NACK_ADDRESS:
        sim_lynx_set_nack_address(lynx, act->on);
        return 0;
    case SIM_ACTION_NACK_DATA:
        sim_lynx_set_nack_data(lynx, act->on);
        return 0;
    case SIM_ACTION_CORRUPT:
        sim_lynx_corrupt(lynx, act->byte, act->count);
        return 0;
    case SIM_ACTION_CORRUPT_RATE:
        sim_lynx_set_corrupt_rate(lynx, act->rate, act->seed);
        return 0;
    case SIM_ACTION_STUCK_SDA:
        sim_lynx_stick_sda(lynx);
        return 0;
    case SIM_ACTION_HOLD_SDA:
    case SIM_ACTION_HOLD_SCL:
        sim_lynx_hold_line(lynx, act->kind == SIM_ACTION_HOLD_SDA, act->on);
        return 0;
    case SIM_ACTION_SCRIPT: {
        int rc = sim_lynx_script(lynx, act->script, act->script_len);
        if (rc == -ENOSPC)
            snprintf(err, errlen, "script of distributor %s %c is full (%d answers queued)",
                     act->serial, sim_lynx_letter(lynx), SIM_LYNX_SCRIPT_MAX);
        return rc;
    }
    default:
        snprintf(err, errlen, "not a distributor action");
        return -EINVAL;
    }
}

/* The distributors an action addresses: one letter, or every declared one with `all`. */
static int distributor_targets(struct sim_adapter *a, const struct sim_action *act,
                               struct sim_lynx **out, char *err, size_t errlen)
{
    int n = 0;
    for (int i = 0; i < SIM_MAX_DISTRIBUTORS; i++)
        if (a->lynx[i] && (act->all || act->letter == 'A' + i))
            out[n++] = a->lynx[i];
    if (n > 0)
        return n;
    if (act->all)
        snprintf(err, errlen, "adapter %s has no distributors", act->serial);
    else
        snprintf(err, errlen, "no distributor %c on adapter %s", act->letter, act->serial);
    return -ENOENT;
}

/* Script answers are checked for room on every target first: all or nothing. */
static int check_script_room(struct sim_lynx **targets, int n, const struct sim_action *act,
                             char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sim_lynx_script_pending(targets[i]) + act->script_len > SIM_LYNX_SCRIPT_MAX) {
            snprintf(err, errlen, "script of distributor %s %c is full (%d answers queued)",
                     act->serial, sim_lynx_letter(targets[i]), SIM_LYNX_SCRIPT_MAX);
            return -ENOSPC;
        }
    }
    return 0;
}

/* The USB faults a CP2112 has (the others are refused before, sim_action_not_on_cp2112). */
static void apply_cp2112_fault(struct sim_cp2112 *chip, const struct sim_action *act)
{
    if (act->kind == SIM_ACTION_USB_ERROR)
        sim_cp2112_fail_interrupt(chip, act->count);
    else if (act->kind == SIM_ACTION_USB_TIMEOUT)
        sim_cp2112_hang_interrupt_in(chip, act->count);
    else if (act->kind == SIM_ACTION_CONTROL_ERROR)
        sim_cp2112_fail_control(chip, act->count);
    else if (act->kind == SIM_ACTION_CONTROL_TIMEOUT)
        sim_cp2112_hang_control(chip, act->count);
    else if (act->kind == SIM_ACTION_STRING_ERROR)
        sim_cp2112_fail_serial_string(chip);
}

static int apply_adapter_fault(struct sim_hardware *hw, struct sim_adapter *a,
                               const struct sim_action *act, char *err, size_t errlen)
{
    if (act->kind == SIM_ACTION_UNPLUG_MID_TRANSFER) {
        if (!has_bridge(hw, a)) {
            snprintf(err, errlen, "no %s bridge: cannot unplug %s", a->i2c ? "i2c-dev" : "USB",
                     a->spec.serial);
            return -ENODEV;
        }
        int rc = unplug_mid_transfer(hw, a);
        if (rc < 0)
            snprintf(err, errlen, "adapter %s is not plugged in", a->spec.serial);
        return rc;
    }
    pthread_mutex_lock(&hw->lock);
    if (a->cp2112) {
        apply_cp2112_fault(a->cp2112, act);
        pthread_mutex_unlock(&hw->lock);
        return 0;
    }
    if (a->i2c) { /* what a USB-I2C bridge's driver (hid-cp2112) passes up to i2c-dev */
        sim_i2cdev_fail_transfers(a->i2c, act->count,
                                  act->kind == SIM_ACTION_USB_TIMEOUT ? ETIMEDOUT : EPIPE);
        pthread_mutex_unlock(&hw->lock);
        return 0;
    }
    switch (act->kind) {
    case SIM_ACTION_USB_ERROR:
        sim_ft232h_fail_bulk(a->dev, act->count);
        break;
    case SIM_ACTION_USB_TIMEOUT:
        sim_ft232h_hang_bulk_in(a->dev, act->count);
        break;
    case SIM_ACTION_SHORT_READ:
        sim_ft232h_short_reads(a->dev, act->count);
        break;
    case SIM_ACTION_EMPTY_READ:
        sim_ft232h_empty_reads(a->dev, act->count);
        break;
    case SIM_ACTION_CONTROL_ERROR:
        sim_ft232h_fail_control(a->dev, act->count);
        break;
    case SIM_ACTION_CONTROL_TIMEOUT:
        sim_ft232h_hang_control(a->dev, act->count);
        break;
    case SIM_ACTION_STRING_ERROR:
        sim_ft232h_fail_serial_string(a->dev);
        break;
    case SIM_ACTION_LATENCY:
        sim_ft232h_set_latency_ms(a->dev, (uint8_t)act->latency_ms);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&hw->lock);
    return 0;
}

int sim_hardware_apply(struct sim_hardware *hw, const struct sim_action *act, char *err,
                       size_t errlen)
{
    struct sim_adapter *a = find_adapter(hw, act->serial);
    if (!a) {
        snprintf(err, errlen, "no adapter with serial '%s'", act->serial);
        return -ENOENT;
    }
    if (a->i2c && sim_action_ftdi_only(act->kind)) {
        sim_action_refuse_i2c(act->kind, a->spec.serial, a->spec.i2c_bus, err, errlen);
        return -EOPNOTSUPP;
    }
    if (a->cp2112 && sim_action_not_on_cp2112(act->kind)) {
        sim_action_refuse_cp2112(act->kind, a->spec.serial, err, errlen);
        return -EOPNOTSUPP;
    }
    if (act->kind == SIM_ACTION_UNPLUG || act->kind == SIM_ACTION_PLUG)
        return apply_usb(hw, a, act->kind == SIM_ACTION_PLUG, err, errlen);
    if (act->kind == SIM_ACTION_BIND && hw->redir) {
        snprintf(err, errlen, "bind %s: under --usbredir the guest's kernel binds its drivers",
                 a->spec.serial);
        return -EOPNOTSUPP;
    }
    if (act->kind == SIM_ACTION_BIND) {
        int rc = hw->bridge ? sim_usb_bridge_bind_driver(hw->bridge, a->dev) : -ENODEV;
        if (rc < 0)
            snprintf(err, errlen, "bind %s: %s", a->spec.serial,
                     rc == -EBUSY ? "a program has the interface claimed" : strerror(-rc));
        return rc;
    }
    if (!sim_action_targets_distributor(act->kind))
        return apply_adapter_fault(hw, a, act, err, errlen);

    struct sim_lynx *targets[SIM_MAX_DISTRIBUTORS];
    int n = distributor_targets(a, act, targets, err, errlen);
    if (n < 0)
        return n;
    pthread_mutex_lock(&hw->lock);
    int rc = act->kind == SIM_ACTION_SCRIPT ? check_script_room(targets, n, act, err, errlen) : 0;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = apply_distributor(a, targets[i], act, err, errlen);
    pthread_mutex_unlock(&hw->lock);
    return rc;
}
