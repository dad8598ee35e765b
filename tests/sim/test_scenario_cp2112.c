/* `adapter SERIAL chip=cp2112` from the scenario line to the hardware: its identity, the FTDI
 * options and faults it refuses, the umockdev bridge refusing it, the faults it takes acting on
 * the model, and its counters in the stats. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run/hardware.h"
#include "run/scenario.h"

static struct sim_scenario sc;
static struct sim_hardware hw;
static char err[300];

static int parse(const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    err[0] = '\0';
    int rc = sim_scenario_parse(f, "test.scn", &sc, err, sizeof(err));
    fclose(f);
    return rc;
}

static void refused(const char *text, const char *message)
{
    cr_assert_lt(parse(text), 0, "accepted: %s", text);
    cr_assert(strstr(err, message), "error '%s' does not contain '%s'", err, message);
}

/* Builds the models only (no front end), as lynx-sim's usbredir mode will. */
static void build(const char *text)
{
    cr_assert_eq(parse(text), 0, "%s", err);
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
}

static int apply(const char *line)
{
    char copy[120], *words[8];
    struct sim_action act;
    strcpy(copy, line);
    int n = sim_split_words(copy, words, 8);
    cr_assert_eq(sim_action_parse(words, (size_t)n, &act, err, sizeof(err)), 0, "%s", err);
    return sim_hardware_apply(&hw, &act, err, sizeof(err));
}

static void cleanup(void)
{
    sim_hardware_free(&hw);
    sim_scenario_clear(&sc);
}

TestSuite(cp2112_scenario, .fini = cleanup);

/* What --stats writes (free it). */
static char *stats_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    sim_hardware_write_stats(&hw, out);
    fclose(out);
    return text;
}

Test(cp2112_scenario, chip_cp2112_is_10c4_ea90_with_the_same_distributor_lines)
{
    cr_assert_eq(parse("adapter CP1 chip=cp2112\n"
                       "adapter CP2 chip=cp2112 pid=0xEA91 plugged=no i2c=fast\n"
                       "distributor CP1 A fuses=ok,open,ok,ok\n"
                       "distributor CP1 D supply=off\n"
                       "at 1 fuse CP1 A 1 open\n"
                       "at 2 usb-error CP1 count=2\n"),
                 0, "%s", err);
    const struct sim_adapter_spec *a = sim_scenario_adapter(&sc, "CP1");
    cr_assert(a->cp2112);
    cr_assert_eq(a->vid, 0x10C4);
    cr_assert_eq(a->pid, 0xEA90);
    cr_assert_not(a->driver_bound, "ftdi_sio's binding is not a CP2112's");
    cr_assert(a->distributors[0].fuse_open[1]);
    cr_assert_not(a->distributors[3].supply);
    const struct sim_adapter_spec *b = sim_scenario_adapter(&sc, "CP2");
    cr_assert_eq(b->pid, 0xEA91, "an explicit pid wins");
    cr_assert_not(b->plugged);
    cr_assert_eq(b->i2c_mode, SIM_I2C_FAST);
    cr_assert_eq(sc.n_events, 2);
}

Test(cp2112_scenario, ftdi_options_and_faults_are_refused_with_a_reason)
{
    refused("adapter CP1 chip=cp2112 driver=none\n",
            "test.scn:1: adapter 'CP1': driver= is an FTDI option (ftdi_sio); a CP2112 is always "
            "bound to hid-cp2112");
    refused("adapter CP1 driver=ftdi_sio chip=cp2112\n", "driver= is an FTDI option");
    static const char *const ftdi_only[] = {"short-read", "empty-read", "latency", "bind"};
    for (size_t i = 0; i < sizeof(ftdi_only) / sizeof(ftdi_only[0]); i++) {
        char text[200], want[200];
        snprintf(text, sizeof(text), "adapter CP1 chip=cp2112\nat 1 %s CP1%s\n", ftdi_only[i],
                 strcmp(ftdi_only[i], "latency") == 0 ? " 5" : "");
        snprintf(want, sizeof(want),
                 "test.scn:2: '%s' is an FTDI adapter fault: 'CP1' is a CP2112 (no latency "
                 "timer, no status bytes to cut short, no ftdi_sio)",
                 ftdi_only[i]);
        refused(text, want);
    }
}

Test(cp2112_scenario, the_umockdev_bridge_refuses_a_cp2112)
{
    cr_assert_eq(parse("adapter FT1\nadapter CP1 chip=cp2112\n"), 0, "%s", err);
    cr_assert_eq(sim_hardware_init(&hw, &sc, true, err, sizeof(err)), -EOPNOTSUPP);
    cr_assert_str_eq(err, "adapter CP1 is a CP2112 (chip=cp2112): only the usbredir front end "
                          "serves it (lynx-sim --usbredir, tools/vm.sh), the umockdev bridge "
                          "has no USB HID");
}

Test(cp2112_scenario, the_model_is_built_on_the_bus_with_its_distributors_and_takes_its_faults)
{
    build("adapter CP1 chip=cp2112\ndistributor CP1 B\n");
    struct sim_adapter *a = &hw.adapters[0];
    cr_assert_not_null(a->cp2112);
    cr_assert_null(a->dev);
    cr_assert_null(a->i2c);
    cr_assert_str_eq(sim_cp2112_config(a->cp2112)->serial, "CP1");
    cr_assert_not_null(a->lynx[1]);

    const struct sim_usb_model_ops *ops = &sim_cp2112_usb_ops;
    cr_assert_eq(apply("usb-error CP1 count=1"), 0, "%s", err);
    cr_assert_eq(ops->data_submit(a->cp2112, 0x01), -EPIPE);
    cr_assert_eq(ops->data_submit(a->cp2112, 0x01), 0);
    cr_assert_eq(apply("usb-timeout CP1"), 0, "%s", err);
    cr_assert_eq(ops->data_submit(a->cp2112, 0x81), -ETIMEDOUT);
    struct sim_usb_setup version = {0xA1, 0x01, 0x0305, 0, 3};
    cr_assert_eq(apply("control-error CP1 count=1"), 0, "%s", err);
    cr_assert_eq(ops->control_submit(a->cp2112, &version), -EPIPE);
    cr_assert_eq(apply("control-timeout CP1"), 0, "%s", err);
    cr_assert_eq(ops->control_submit(a->cp2112, &version), -ETIMEDOUT);
    cr_assert_eq(apply("string-error CP1"), 0, "%s", err);
    struct sim_usb_setup serial = {0x80, 0x06, 0x0303, 0x0409, 255};
    cr_assert_eq(ops->control_submit(a->cp2112, &serial), -EPIPE);

    cr_assert_eq(apply("latency CP1 5"), -EOPNOTSUPP, "from the control channel too");
    cr_assert(strstr(err, "'latency' is an FTDI adapter fault: 'CP1' is a CP2112"), "%s", err);
    cr_assert_eq(apply("unplug CP1"), -ENODEV, "no front end here");
}

Test(cp2112_scenario, stats_carry_the_chips_counters)
{
    build("adapter CP1 chip=cp2112\ndistributor CP1 A\n");
    struct sim_cp2112 *chip = hw.adapters[0].cp2112;
    const struct sim_usb_model_ops *ops = &sim_cp2112_usb_ops;
    const uint8_t read_a[4] = {0x10, 0x10, 0x00, 0x01}, status[2] = {0x15, 0x01};
    cr_assert_eq(ops->data_out(chip, 0x01, read_a, 4, 1000000000), 4);
    cr_assert_eq(ops->data_out(chip, 0x01, status, 2, 1001000000), 2);
    char *text = stats_text();
    cr_assert(strstr(text, "\"serial\": \"CP1\", \"transport\": \"cp2112\""), "%s", text);
    cr_assert(strstr(text, "\"i2c_transactions\": 1,"), "%s", text);
    cr_assert(strstr(text, "\"scl_periods\": 18,"), "%s", text);
    cr_assert(strstr(text, "\"hid_reports_out\": 2, \"hid_reports_in\": 0, \"smbus_transfers\": 1, "
                           "\"smbus_rejected\": 0, \"status_requests\": 1"),
              "%s", text);
    free(text);
}

Test(cp2112_scenario, an_i2c_adapter_with_driver_hid_cp2112_answers_as_the_driver)
{
    build("i2c-adapter i2c-2 bus=2 driver=hid-cp2112\ndistributor i2c-2 A\n"
          "i2c-adapter i2c-3 bus=3\n");
    cr_assert_eq(sc.adapters[0].i2c_driver, SIM_I2CDEV_DRIVER_HID_CP2112);
    cr_assert_eq(sc.adapters[1].i2c_driver, SIM_I2CDEV_DRIVER_GENERIC, "the default");
    struct sim_i2cdev_client client = {.addr = 0x09};
    uint8_t byte;
    cr_assert_eq(sim_i2cdev_read(hw.adapters[0].i2c, &client, &byte, 1, 1000000000), -ETIMEDOUT);
    cr_assert_eq(sim_i2cdev_read(hw.adapters[1].i2c, &client, &byte, 1, 1000000000), -ENXIO);
    cr_assert_eq(apply("usb-error i2c-2"), 0, "%s", err);
    client.addr = 0x08;
    cr_assert_eq(sim_i2cdev_read(hw.adapters[0].i2c, &client, &byte, 1, 2000000000), -EPIPE,
                 "a stalled USB transfer, as the USB core reports it");
    char *text = stats_text();
    cr_assert(strstr(text, "\"bus\": 2, \"driver\": \"hid-cp2112\""), "%s", text);
    free(text);
}

Test(cp2112_scenario, driver_hid_cp2112_refuses_the_generic_drivers_options)
{
    refused("i2c-adapter i2c-2 bus=2 driver=hid-cp2112 nack=eremoteio\n",
            "test.scn:1: i2c adapter 'i2c-2': funcs= and nack= are the generic driver's; "
            "driver=hid-cp2112 has the driver's own");
    refused("i2c-adapter i2c-2 bus=2 funcs=smbus driver=hid-cp2112\n", "funcs= and nack=");
    refused("i2c-adapter i2c-2 bus=2 driver=hid-cp2113\n", "driver=generic|hid-cp2112, got "
                                                           "'driver=hid-cp2113'");
}
