/* Scenario files and action lines: what parses, what it means, and the errors people get.
 *
 * One file: its three sections (scenario lines, faults and chip variants, applying actions to the
 * models) test one grammar (fixtures/README.md's tables) from the parser to the hardware. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/hardware.h"
#include "run/scenario.h"

static int parse_text(const char *text, struct sim_scenario *sc, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    int rc = sim_scenario_parse(f, "test.scn", sc, err, errlen);
    fclose(f);
    return rc;
}

static void expect_error(const char *text, const char *message)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_lt(parse_text(text, &sc, err, sizeof(err)), 0, "accepted: %s", text);
    cr_assert(strstr(err, message), "error '%s' does not contain '%s'", err, message);
}

Test(scenario, declares_adapters_distributors_and_sorted_events)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text("# two adapters\n"
                            "adapter LYNX0001\n"
                            "adapter FT9 vid=0x0403 pid=0x6014 plugged=no  # stock PID\n"
                            "distributor LYNX0001 A\n"
                            "distributor LYNX0001 C supply=off fuses=ok,open,ok,open\n"
                            "distributor FT9 D power=off present=no\n"
                            "at 5 plug FT9\n"
                            "at 1.5 fuse LYNX0001 A 2 open\n"
                            "at 1.5 supply LYNX0001 C on\n"
                            "loop 10\n",
                            &sc, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(sc.n_adapters, 2);
    const struct sim_adapter_spec *a = sim_scenario_adapter(&sc, "LYNX0001");
    cr_assert_eq(a->vid, 0x0403);
    cr_assert_eq(a->pid, 0xD4F8, "the default PID is the original project's adapter");
    cr_assert(a->plugged);
    cr_assert(a->distributors[0].declared && a->distributors[0].supply);
    cr_assert_not(a->distributors[1].declared);
    const struct sim_distributor_spec *c = &a->distributors[2];
    cr_assert_not(c->supply);
    cr_assert(c->powered && c->present);
    cr_assert(!c->fuse_open[0] && c->fuse_open[1] && !c->fuse_open[2] && c->fuse_open[3]);
    const struct sim_adapter_spec *b = sim_scenario_adapter(&sc, "FT9");
    cr_assert_eq(b->pid, 0x6014);
    cr_assert_not(b->plugged);
    cr_assert_not(b->distributors[3].powered);
    cr_assert_not(b->distributors[3].present);

    cr_assert_eq(sc.n_events, 3);
    cr_assert_eq(sc.events[0].at_ms, 1500);
    cr_assert_eq(sc.events[0].action.kind, SIM_ACTION_FUSE, "same time: file order kept");
    cr_assert_eq(sc.events[0].action.fuse, 2);
    cr_assert(sc.events[0].action.on);
    cr_assert_eq(sc.events[1].action.kind, SIM_ACTION_SUPPLY);
    cr_assert_eq(sc.events[1].action.letter, 'C');
    cr_assert_eq(sc.events[2].at_ms, 5000);
    cr_assert_eq(sc.events[2].action.kind, SIM_ACTION_PLUG);
    cr_assert_str_eq(sc.events[2].action.serial, "FT9");
    cr_assert_eq(sc.loop_ms, 10000);
    sim_scenario_clear(&sc);
}

Test(scenario, errors_name_file_line_and_what_was_expected)
{
    expect_error(
        "adapter A1\nbogus line\n",
        "test.scn:2: expected 'adapter', 'i2c-adapter', 'distributor', 'at' or 'loop', got "
        "'bogus'");
    expect_error("adapter A1\ndistributor A2 A\n", "test.scn:2: adapter 'A2' is not declared");
    expect_error("adapter A1\ndistributor A1 E\n",
                 "test.scn:2: expected 'distributor <serial> <A-D>");
    expect_error("adapter A1\ndistributor A1 A fuses=ok,ok,ok\n", "fuses=<4 of ok|open");
    expect_error("adapter A1\ndistributor A1 A supply=maybe\n", "got 'supply=maybe'");
    expect_error("adapter A1 vid=0x10000\n", "test.scn:1: expected vid=<0-0xFFFF>");
    expect_error("adapter A1\nadapter A1\n", "test.scn:2: adapter 'A1' is declared twice");
    expect_error("adapter bad\"serial\n", "expected an adapter serial");
    expect_error("adapter A1\ndistributor A1 A\nat soon fuse A1 A 1 open\n",
                 "test.scn:3: expected 'at <seconds> <action>'");
    expect_error("adapter A1\ndistributor A1 A\nat 1 fuse A1 A 5 open\n",
                 "test.scn:3: expected a fuse number 1-4, got '5'");
    expect_error("adapter A1\ndistributor A1 A\nat 1 fuse A1 A 1 blown\n",
                 "expected 'open' or 'ok', got 'blown'");
    expect_error("adapter A1\nat 1 fuse A1 B 1 open\n",
                 "test.scn:2: distributor A1 B is not declared");
    expect_error("adapter A1\nat 1 explode A1\n", "test.scn:2: unknown action 'explode'");
    expect_error("adapter A1\nat 1 unplug\n", "test.scn:2: expected 'unplug <serial>'");
    expect_error("adapter A1\nloop 0\n", "expected 'loop <seconds greater than 0>'");
    expect_error("# nothing\n",
                 "test.scn:2: expected at least one 'adapter' or 'i2c-adapter' line");
}

Test(scenario, a_nul_byte_or_a_directory_is_named_as_such)
{
    static const char text[] = "adapter A1\0 x\nadapter B1\n";
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
    cr_assert_not_null(f);
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_lt(sim_scenario_parse(f, "test.scn", &sc, err, sizeof(err)), 0);
    fclose(f);
    cr_assert_str_eq(err, "test.scn:1: contains a NUL byte (is this a scenario file?)");
    cr_assert_lt(sim_scenario_load("/tmp", &sc, err, sizeof(err)), 0);
    cr_assert_str_eq(err, "/tmp: cannot read: Is a directory");
}

Test(scenario, missing_file_names_the_file)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_lt(sim_scenario_load("/nonexistent/x.scn", &sc, err, sizeof(err)), 0);
    cr_assert(strstr(err, "/nonexistent/x.scn: No such file"), "%s", err);
}

Test(action, parses_every_verb_from_a_control_line)
{
    struct {
        const char *line;
        enum sim_action_kind kind;
        char letter;
        int fuse;
        bool on;
    } cases[] = {
        {"fuse S1 D 4 ok", SIM_ACTION_FUSE, 'D', 4, false},
        {"supply S1 B off", SIM_ACTION_SUPPLY, 'B', 0, false},
        {"power S1 A on", SIM_ACTION_POWER, 'A', 0, true},
        {"distributor S1 C gone", SIM_ACTION_DISTRIBUTOR, 'C', 0, false},
        {"distributor S1 C back  # comment", SIM_ACTION_DISTRIBUTOR, 'C', 0, true},
        {"unplug S1", SIM_ACTION_UNPLUG, 0, 0, false},
        {"plug S1", SIM_ACTION_PLUG, 0, 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[64], err[200], *w[8];
        strcpy(line, cases[i].line);
        int n = sim_split_words(line, w, 8);
        struct sim_action act;
        cr_assert_eq(sim_action_parse(w, (size_t)n, &act, err, sizeof(err)), 0, "%s: %s",
                     cases[i].line, err);
        cr_assert_eq(act.kind, cases[i].kind, "%s", cases[i].line);
        cr_assert_str_eq(act.serial, "S1");
        cr_assert_eq(act.letter, cases[i].letter, "%s", cases[i].line);
        cr_assert_eq(act.fuse, cases[i].fuse, "%s", cases[i].line);
        cr_assert_eq(act.on, cases[i].on, "%s", cases[i].line);
    }
}

Test(action, split_rejects_too_many_words)
{
    char line[] = "a b c d";
    char *w[3];
    cr_assert_eq(sim_split_words(line, w, 3), -E2BIG);
}

/* --- faults and chip variants --- */

static int parse_line(const char *text, struct sim_action *act, char *err, size_t errlen)
{
    char line[600], *w[16];
    strcpy(line, text);
    int n = sim_split_words(line, w, 16);
    cr_assert_geq(n, 0);
    return sim_action_parse(w, (size_t)n, act, err, errlen);
}

static struct sim_action parsed(const char *text)
{
    struct sim_action act;
    char err[300] = "";
    cr_assert_eq(parse_line(text, &act, err, sizeof(err)), 0, "%s: %s", text, err);
    return act;
}

static void expect_action_error(const char *text, const char *message)
{
    struct sim_action act;
    char err[300] = "";
    cr_assert_lt(parse_line(text, &act, err, sizeof(err)), 0, "accepted: %s", text);
    cr_assert(strstr(err, message), "%s: error '%s' does not contain '%s'", text, err, message);
}

Test(action, parses_the_distributor_faults)
{
    struct sim_action a = parsed("nack-address S1 B on");
    cr_assert_eq(a.kind, SIM_ACTION_NACK_ADDRESS);
    cr_assert_eq(a.letter, 'B');
    cr_assert(a.on);
    a = parsed("nack-data S1 all off");
    cr_assert_eq(a.kind, SIM_ACTION_NACK_DATA);
    cr_assert(a.all);
    cr_assert_eq(a.letter, 0);
    cr_assert_not(a.on);
    a = parsed("corrupt S1 A 0x7F");
    cr_assert_eq(a.kind, SIM_ACTION_CORRUPT);
    cr_assert_eq(a.byte, 0x7F);
    cr_assert_eq(a.count, 1, "count defaults to 1");
    a = parsed("corrupt S1 D 3f count=5");
    cr_assert_eq(a.byte, 0x3F);
    cr_assert_eq(a.count, 5);
    a = parsed("corrupt-rate S1 all 0.005 seed=42");
    cr_assert_eq(a.kind, SIM_ACTION_CORRUPT_RATE);
    cr_assert_float_eq(a.rate, 0.005, 1e-12);
    cr_assert_eq(a.seed, 42);
    a = parsed("corrupt-rate S1 C 0");
    cr_assert_float_eq(a.rate, 0.0, 1e-12);
    cr_assert_eq(a.seed, 1, "seed defaults to 1");
    a = parsed("stuck-sda S1 C");
    cr_assert_eq(a.kind, SIM_ACTION_STUCK_SDA);
    cr_assert_eq(a.letter, 'C');
    a = parsed("script S1 A nack,0x7F,20,nack");
    cr_assert_eq(a.kind, SIM_ACTION_SCRIPT);
    cr_assert_eq(a.script_len, 4);
    cr_assert_eq(a.script[0], SIM_ACTION_SCRIPT_NACK);
    cr_assert_eq(a.script[1], 0x7F);
    cr_assert_eq(a.script[2], 0x20);
    cr_assert_eq(a.script[3], SIM_ACTION_SCRIPT_NACK);
    a = parsed("power S1 all off");
    cr_assert(a.all && !a.on);
    a = parsed("supply S1 all off");
    cr_assert(a.all && !a.on);
}

Test(action, parses_the_adapter_faults)
{
    struct {
        const char *line;
        enum sim_action_kind kind;
        unsigned count;
    } cases[] = {
        {"usb-error S1", SIM_ACTION_USB_ERROR, 1},
        {"usb-error S1 count=3", SIM_ACTION_USB_ERROR, 3},
        {"usb-timeout S1 count=2", SIM_ACTION_USB_TIMEOUT, 2},
        {"usb-timeout S1 count=0", SIM_ACTION_USB_TIMEOUT, 0}, /* disarms */
        {"control-error S1 count=0", SIM_ACTION_CONTROL_ERROR, 0},
        {"short-read S1", SIM_ACTION_SHORT_READ, 1},
        {"empty-read S1 count=10", SIM_ACTION_EMPTY_READ, 10},
        {"unplug-mid-transfer S1", SIM_ACTION_UNPLUG_MID_TRANSFER, 1},
        {"control-error S1 count=4", SIM_ACTION_CONTROL_ERROR, 4},
        {"control-timeout S1", SIM_ACTION_CONTROL_TIMEOUT, 1},
        {"string-error S1", SIM_ACTION_STRING_ERROR, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_action a = parsed(cases[i].line);
        cr_assert_eq(a.kind, cases[i].kind, "%s", cases[i].line);
        cr_assert_eq(a.count, cases[i].count, "%s", cases[i].line);
        cr_assert_str_eq(a.serial, "S1");
        cr_assert_eq(a.letter, 0);
        cr_assert_not(sim_action_targets_distributor(a.kind));
    }
    struct sim_action a = parsed("latency S1 250");
    cr_assert_eq(a.kind, SIM_ACTION_LATENCY);
    cr_assert_eq(a.latency_ms, 250);
}

Test(action, fault_errors_say_what_was_expected)
{
    expect_action_error("nack-address S1 A maybe", "expected 'on' or 'off', got 'maybe'");
    expect_action_error("nack-data S1 E on", "expected a distributor letter A-D or 'all', got 'E'");
    expect_action_error("corrupt S1 A",
                        "expected 'corrupt <serial> <A-D|all> <hex byte> [count=N]'");
    expect_action_error("corrupt S1 A 0x100",
                        "expected a hex byte (00-FF or 0x00-0xFF), got '0x100'");
    expect_action_error("corrupt S1 A zz", "got 'zz'");
    expect_action_error("corrupt S1 A 7F count=0", "expected count=<1 or more>, got 'count=0'");
    expect_action_error("corrupt S1 A 7F times=2", "expected count=N, got 'times=2'");
    expect_action_error("corrupt-rate S1 A 1.5", "expected a fraction 0-1 (e.g. 0.005), got '1.5'");
    expect_action_error("corrupt-rate S1 A -0.1", "got '-0.1'");
    expect_action_error("corrupt-rate S1 A 0.1 seed=x", "expected seed=<0 or more>, got 'seed=x'");
    expect_action_error("stuck-sda S1", "expected 'stuck-sda <serial> <A-D|all>'");
    expect_action_error("script S1 A 7F,,nack", "expected nack or a hex byte between commas");
    expect_action_error("script S1 A 7F,ack", "in the script, got 'ack'");
    expect_action_error("usb-error S1 count=-1", "expected count=<0 or more>, got 'count=-1'");
    expect_action_error("usb-timeout S1 2", "expected count=N, got '2'");
    expect_action_error("latency S1 0", "expected a latency of 1-255 ms, got '0'");
    expect_action_error("latency S1 256", "got '256'");
    expect_action_error("unplug-mid-transfer S1 now", "expected 'unplug-mid-transfer <serial>'");
    expect_action_error("short-read", "expected 'short-read <serial> [count=N]'");
}

Test(action, a_script_holds_at_most_128_answers)
{
    char line[700] = "script S1 A ";
    for (int i = 0; i < SIM_ACTION_SCRIPT_MAX; i++)
        strcat(line, i ? ",7F" : "7F");
    struct sim_action a = parsed(line);
    cr_assert_eq(a.script_len, SIM_ACTION_SCRIPT_MAX);
    strcat(line, ",7F");
    expect_action_error(line, "too many script answers (at most 128)");
}

Test(scenario, fault_lines_in_a_scenario_name_file_and_line)
{
    expect_error("adapter A1\ndistributor A1 A\nat 1 corrupt A1 A 0x1FF\n",
                 "test.scn:3: expected a hex byte");
    expect_error("adapter A1\ndistributor A1 A\nat 1 stuck-sda A1 B\n",
                 "test.scn:3: distributor A1 B is not declared");
    expect_error("adapter A1\nat 2 power A1 all off\n",
                 "test.scn:2: 'all' needs at least one distributor declared on adapter 'A1'");
    expect_error("adapter A1\nat 2 usb-error A2\n", "test.scn:2: adapter 'A2' is not declared");
    expect_error("adapter A1\nat 2 latency A1 fast\n",
                 "test.scn:2: expected a latency of 1-255 ms, got 'fast'");
}

Test(scenario, chip_option_selects_the_variant_and_its_default_pid)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text("adapter S0\n"
                            "adapter S1 chip=ft232h\n"
                            "adapter S2 chip=ft2232h\n"
                            "adapter S3 chip=ft4232h\n"
                            "adapter S4 chip=ft2232h pid=0xD4F8\n"
                            "distributor S2 A\n"
                            "at 0 corrupt-rate S2 all 0.01 seed=3\n"
                            "at 0.5 usb-timeout S3 count=2\n",
                            &sc, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(sim_scenario_adapter(&sc, "S0")->chip, SIM_CHIP_FT232H);
    cr_assert_eq(sim_scenario_adapter(&sc, "S0")->pid, 0xD4F8);
    cr_assert_eq(sim_scenario_adapter(&sc, "S1")->pid, 0xD4F8);
    cr_assert_eq(sim_scenario_adapter(&sc, "S2")->chip, SIM_CHIP_FT2232H);
    cr_assert_eq(sim_scenario_adapter(&sc, "S2")->pid, 0x6010);
    cr_assert_eq(sim_scenario_adapter(&sc, "S3")->chip, SIM_CHIP_FT4232H);
    cr_assert_eq(sim_scenario_adapter(&sc, "S3")->pid, 0x6011);
    cr_assert_eq(sim_scenario_adapter(&sc, "S4")->pid, 0xD4F8, "an explicit pid wins");
    cr_assert_eq(sc.n_events, 2);
    cr_assert(sc.events[0].action.all);
    cr_assert_eq(sc.events[1].action.count, 2);
    sim_scenario_clear(&sc);

    expect_error("adapter S1 chip=ft232r\n",
                 "test.scn:1: expected vid=<0-0xFFFF>, pid=<0-0xFFFF>, plugged=yes|no, "
                 "chip=ft232h|ft2232h|ft4232h|cp2112, i2c=standard|fast, strict-timing=yes|no or "
                 "driver=ftdi_sio|none, got 'chip=ft232r'");
}

Test(scenario, the_kernel_driver_is_bound_by_default_to_stock_ids_only)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text("adapter S1\nadapter S2 pid=0x6014\nadapter S3 chip=ft2232h\n"
                            "adapter S4 pid=0x6014 driver=none\nadapter S5 driver=ftdi_sio\n",
                            &sc, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_not(sc.adapters[0].driver_bound, "a reprogrammed id: ftdi_sio does not bind it");
    cr_assert(sc.adapters[1].driver_bound);
    cr_assert(sc.adapters[2].driver_bound);
    cr_assert_not(sc.adapters[3].driver_bound);
    cr_assert(sc.adapters[4].driver_bound);
    sim_scenario_clear(&sc);
    expect_error("adapter S1 driver=usbserial\n",
                 "test.scn:1: expected vid=<0-0xFFFF>, pid=<0-0xFFFF>, plugged=yes|no, "
                 "chip=ft232h|ft2232h|ft4232h|cp2112, i2c=standard|fast, strict-timing=yes|no or "
                 "driver=ftdi_sio|none, got 'driver=usbserial'");
}

Test(scenario, timing_options_choose_the_i2c_mode_and_strictness_per_adapter)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text("adapter S0\n"
                            "adapter S1 i2c=fast strict-timing=yes\n",
                            &sc, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(sim_scenario_adapter(&sc, "S0")->i2c_mode, SIM_I2C_STANDARD, "the default");
    cr_assert_not(sim_scenario_adapter(&sc, "S0")->strict_timing);
    cr_assert_eq(sim_scenario_adapter(&sc, "S1")->i2c_mode, SIM_I2C_FAST);
    cr_assert(sim_scenario_adapter(&sc, "S1")->strict_timing);
    sim_scenario_clear(&sc);
    expect_error("adapter S1 i2c=hs\n", "got 'i2c=hs'");
    expect_error("adapter S1 strict-timing=maybe\n", "got 'strict-timing=maybe'");
}

/* --- applying actions to the models (no USB) --- */

static struct sim_hardware hw;

static void build_hardware(const char *text)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text(text, &sc, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
    sim_scenario_clear(&sc);
}

static int apply(const char *text, char *err, size_t errlen)
{
    struct sim_action act;
    cr_assert_eq(parse_line(text, &act, err, errlen), 0, "%s: %s", text, err);
    return sim_hardware_apply(&hw, &act, err, errlen);
}

static void apply_ok(const char *text)
{
    char err[300] = "";
    cr_assert_eq(apply(text, err, sizeof(err)), 0, "%s: %s", text, err);
}

static void free_hardware(void)
{
    sim_hardware_free(&hw);
}

TestSuite(apply, .fini = free_hardware);

Test(apply, the_bus_of_each_adapter_checks_the_mode_of_its_scenario_line)
{
    build_hardware("adapter S0\nadapter S1 i2c=fast strict-timing=yes\n");
    cr_assert_eq(sim_i2c_bus_timing(hw.adapters[0].bus)->mode, SIM_I2C_STANDARD);
    cr_assert_not(sim_i2c_bus_strict(hw.adapters[0].bus));
    cr_assert_eq(sim_i2c_bus_timing(hw.adapters[1].bus)->mode, SIM_I2C_FAST);
    cr_assert(sim_i2c_bus_strict(hw.adapters[1].bus));
}

Test(apply, stats_carry_the_timing_counters_per_rule)
{
    build_hardware("adapter S0\n");
    struct sim_i2c_bus *bus = hw.adapters[0].bus;
    sim_i2c_bus_set_time(bus, 1000);
    sim_i2c_bus_set_master(bus, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT);
    sim_i2c_bus_set_time(bus, 6000);
    sim_i2c_bus_set_master(bus, SIM_DRIVE_FLOAT, SIM_DRIVE_FLOAT);
    sim_i2c_bus_set_time(bus, 9000);
    sim_i2c_bus_set_master(bus, SIM_DRIVE_LOW, SIM_DRIVE_FLOAT); /* 3 us high */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    sim_hardware_write_stats(&hw, out);
    fclose(out);
    cr_assert(strstr(text, "\"i2c_mode\": \"standard\", \"strict_timing\": false"), "%s", text);
    cr_assert(strstr(text, "\"timing_violations\": {\"t_high\": 1, \"t_low\": 0,"), "%s", text);
    cr_assert(strstr(text, "\"timing_shortest_ns\": {\"t_high\": 3000, \"t_low\": 5000, "
                           "\"t_su_sta\": null"),
              "%s", text);
    free(text);
}

Test(apply, all_reaches_every_declared_distributor_and_only_those)
{
    build_hardware("adapter S1\ndistributor S1 A\ndistributor S1 C\n");
    apply_ok("stuck-sda S1 all");
    struct sim_adapter *a = &hw.adapters[0];
    cr_assert(sim_lynx_sda_stuck(a->lynx[0]));
    cr_assert(sim_lynx_sda_stuck(a->lynx[2]));
    cr_assert_null(a->lynx[1]);
    cr_assert_not(sim_i2c_bus_sda_level(a->bus), "the bus sees SDA held low");
    apply_ok("power S1 all off");
    cr_assert(sim_i2c_bus_sda_level(a->bus), "unpowered distributors let go");
    apply_ok("script S1 all nack,7F");
    cr_assert_eq(sim_lynx_script_pending(a->lynx[0]), 2);
    cr_assert_eq(sim_lynx_script_pending(a->lynx[2]), 2);
}

Test(apply, adapter_faults_arm_the_usb_model)
{
    build_hardware("adapter S1 chip=ft2232h\n");
    struct sim_ft232h *dev = hw.adapters[0].dev;
    cr_assert_eq(sim_ft232h_chip(dev), SIM_CHIP_FT2232H);
    cr_assert_eq(sim_ft232h_bcd_device(dev), 0x0700);
    apply_ok("usb-error S1 count=2");
    cr_assert_eq(sim_ft232h_bulk_submit(dev, false), -EPIPE);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), -EPIPE);
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), 0);
    apply_ok("usb-timeout S1");
    cr_assert_eq(sim_ft232h_bulk_submit(dev, false), 0, "OUT transfers are not hung");
    cr_assert_eq(sim_ft232h_bulk_submit(dev, true), -ETIMEDOUT);
    apply_ok("latency S1 200");
    cr_assert_eq(sim_ft232h_latency_ms(dev), 200);

    const struct sim_usb_setup vendor = {0x40, 0x09, 16, 1, 0};
    const struct sim_usb_setup serial = {0x80, 0x06, 0x0303, 0x0409, 255};
    const struct sim_usb_setup product = {0x80, 0x06, 0x0302, 0x0409, 255};
    apply_ok("control-error S1 count=2");
    cr_assert_eq(sim_ft232h_control_submit(dev, &vendor), -EPIPE);
    cr_assert_eq(sim_ft232h_control_submit(dev, &serial), -EPIPE);
    cr_assert_eq(sim_ft232h_control_submit(dev, &vendor), 0);
    apply_ok("control-timeout S1");
    cr_assert_eq(sim_ft232h_control_submit(dev, &vendor), -ETIMEDOUT);
    cr_assert_eq(sim_ft232h_control_submit(dev, &vendor), 0);
    apply_ok("string-error S1");
    cr_assert_eq(sim_ft232h_control_submit(dev, &product), 0, "only the serial number");
    cr_assert_eq(sim_ft232h_control_submit(dev, &serial), -EPIPE);
    cr_assert_eq(sim_ft232h_control_submit(dev, &serial), 0, "once");
}

Test(apply, errors_name_the_missing_target)
{
    char err[300] = "";
    build_hardware("adapter S1\nadapter S2\ndistributor S1 A\n");
    cr_assert_eq(apply("corrupt S1 B 7F", err, sizeof(err)), -ENOENT);
    cr_assert_str_eq(err, "no distributor B on adapter S1");
    cr_assert_eq(apply("nack-data S2 all on", err, sizeof(err)), -ENOENT);
    cr_assert_str_eq(err, "adapter S2 has no distributors");
    cr_assert_eq(apply("usb-error S9", err, sizeof(err)), -ENOENT);
    cr_assert_eq(apply("unplug-mid-transfer S1", err, sizeof(err)), -ENODEV);
    cr_assert(strstr(err, "no USB bridge"), "%s", err);
}

Test(apply, a_full_script_queue_refuses_the_whole_action)
{
    char line[700] = "script S1 all ";
    build_hardware("adapter S1\ndistributor S1 A\ndistributor S1 B\n");
    for (int i = 0; i < SIM_ACTION_SCRIPT_MAX; i++)
        strcat(line, i ? ",7F" : "7F");
    const int16_t one = 0x10;
    cr_assert_eq(sim_lynx_script(hw.adapters[0].lynx[1], &one, 1), 0);
    for (int i = 0; i < SIM_LYNX_SCRIPT_MAX / SIM_ACTION_SCRIPT_MAX - 1; i++)
        apply_ok(line);
    char err[300] = "";
    cr_assert_eq(apply(line, err, sizeof(err)), -ENOSPC);
    cr_assert(strstr(err, "script of distributor S1 B is full"), "%s", err);
    cr_assert_eq(sim_lynx_script_pending(hw.adapters[0].lynx[0]),
                 SIM_LYNX_SCRIPT_MAX - SIM_ACTION_SCRIPT_MAX, "A got nothing either");
}

Test(scenario, two_hundred_thousand_events_in_reverse_order_load_sorted_in_seconds)
{
#ifdef __SANITIZE_ADDRESS__
    enum { EVENTS = 5000 }; /* the sanitized parser is far slower: order and stability only */
#else
    enum { EVENTS = 200000 };
#endif
    size_t cap = 64 + (size_t)EVENTS * 48;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    size_t len = (size_t)snprintf(text, cap, "adapter S1\ndistributor S1 A\n");
    for (int i = EVENTS - 1; i >= 0; i--) { /* newest first, two per time: worst for insertion */
        char line[48]; /* one line at a time: sanitizers check the whole room snprintf is given */
        int n = snprintf(line, sizeof(line), "at %d.%03d fuse S1 A %d open\n", i / 2000,
                         (i / 2) % 1000, 1 + i % 2);
        memcpy(text + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    struct timespec t0, t1;
    struct sim_scenario sc;
    char err[300] = "";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(parse_text(text, &sc, err, sizeof(err)), 0, "%s", err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(s, 5.0, "loading took %.2f s", s);
    cr_assert_eq(sc.n_events, EVENTS);
    size_t unsorted = 0, unstable = 0;
    for (size_t i = 1; i < sc.n_events; i++) {
        unsorted += sc.events[i - 1].at_ms > sc.events[i].at_ms;
        unstable +=
            sc.events[i - 1].at_ms == sc.events[i].at_ms && sc.events[i - 1].action.fuse != 2;
    }
    cr_assert_eq(unsorted, 0, "events out of order");
    cr_assert_eq(unstable, 0, "equal times must keep file order");
    sim_scenario_clear(&sc);
    free(text);
}

static void expect_i2c_spec(const struct sim_adapter_spec *a, const struct sim_adapter_spec *want)
{
    cr_assert_not_null(a);
    cr_assert_eq(a->transport, want->transport);
    cr_assert_eq(a->i2c_bus, want->i2c_bus);
    cr_assert_eq(a->plugged, want->plugged);
    cr_assert_eq(a->i2c_mode, want->i2c_mode);
    cr_assert_eq(a->strict_timing, want->strict_timing);
    cr_assert_eq(a->i2c_funcs, want->i2c_funcs);
    cr_assert_eq(a->nack_errno, want->nack_errno);
}

Test(scenario, i2c_adapters_are_declared_with_a_bus_and_take_distributors_and_actions)
{
    struct sim_scenario sc;
    char err[300] = "";
    cr_assert_eq(parse_text("i2c-adapter i2c-1 bus=1\n"
                            "i2c-adapter pi.i2c bus=22 plugged=no i2c=fast strict-timing=yes "
                            "funcs=smbus nack=eremoteio\n"
                            "distributor i2c-1 A fuses=ok,open,ok,ok\n"
                            "at 1 unplug i2c-1\n"
                            "at 2 usb-error i2c-1 count=3\n"
                            "at 2 unplug-mid-transfer pi.i2c\n",
                            &sc, err, sizeof(err)),
                 0, "%s", err);
    const struct sim_adapter_spec defaults = {.transport = SIM_TRANSPORT_I2C,
                                              .i2c_bus = 1,
                                              .plugged = true,
                                              .i2c_mode = SIM_I2C_STANDARD,
                                              .i2c_funcs = SIM_I2CDEV_FUNCS_I2C,
                                              .nack_errno = ENXIO};
    const struct sim_adapter_spec every_option = {.transport = SIM_TRANSPORT_I2C,
                                                  .i2c_bus = 22,
                                                  .i2c_mode = SIM_I2C_FAST,
                                                  .strict_timing = true,
                                                  .i2c_funcs = SIM_I2CDEV_FUNCS_SMBUS,
                                                  .nack_errno = EREMOTEIO};
    expect_i2c_spec(sim_scenario_adapter(&sc, "i2c-1"), &defaults);
    expect_i2c_spec(sim_scenario_adapter(&sc, "pi.i2c"), &every_option);
    cr_assert(sim_scenario_adapter(&sc, "i2c-1")->distributors[0].fuse_open[1]);
    cr_assert_eq(sc.n_events, 3);
    sim_scenario_clear(&sc);
}

Test(scenario, i2c_adapter_errors_and_ftdi_faults_refused_on_it)
{
    expect_error("i2c-adapter i2c-1\n", "test.scn:1: i2c adapter 'i2c-1' needs bus=<0-255>");
    expect_error("i2c-adapter i2c-1 bus=256\n", "test.scn:1: expected bus=<0-255>, plugged=yes|no");
    expect_error("i2c-adapter i2c-1 bus=x\n", "got 'bus=x'");
    expect_error("i2c-adapter i2c-1 bus=1 funcs=spi\n", "got 'funcs=spi'");
    expect_error("i2c-adapter i2c-1 bus=1 nack=eio\n", "got 'nack=eio'");
    expect_error("i2c-adapter i2c-1 bus=1 vid=0x0403\n", "got 'vid=0x0403'");
    expect_error("i2c-adapter a bus=1\ni2c-adapter b bus=1\n",
                 "test.scn:2: bus 1 is already i2c adapter 'a' (/dev/i2c-1)");
    expect_error("adapter a\ni2c-adapter a bus=1\n", "test.scn:2: adapter 'a' is declared twice");
    expect_error("i2c-adapter i2c/1 bus=1\n", "expected an i2c adapter name");
    static const char *const ftdi_only[] = {"short-read i2c-1",    "empty-read i2c-1 count=2",
                                            "control-error i2c-1", "control-timeout i2c-1",
                                            "string-error i2c-1",  "latency i2c-1 5",
                                            "bind i2c-1"};
    for (size_t i = 0; i < sizeof(ftdi_only) / sizeof(ftdi_only[0]); i++) {
        char text[200], verb[40];
        snprintf(text, sizeof(text), "i2c-adapter i2c-1 bus=1\nat 1 %s\n", ftdi_only[i]);
        sscanf(ftdi_only[i], "%39s", verb);
        char want[200];
        snprintf(want, sizeof(want),
                 "test.scn:2: '%s' is an FTDI adapter fault with no i2c-dev equivalent: 'i2c-1' "
                 "is an i2c adapter (/dev/i2c-1)",
                 verb);
        expect_error(text, want);
    }
}

Test(scenario, i2c_adapter_faults_apply_to_the_i2c_dev_engine_and_ftdi_ones_are_refused)
{
    struct sim_scenario sc;
    struct sim_hardware hw;
    char err[300] = "";
    cr_assert_eq(
        parse_text("i2c-adapter i2c-1 bus=1\ndistributor i2c-1 A\n", &sc, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(sim_hardware_init(&hw, &sc, false, err, sizeof(err)), 0, "%s", err);
    struct sim_i2cdev *dev = hw.adapters[0].i2c;
    cr_assert_not_null(dev);
    struct sim_i2cdev_client client = {.addr = 0x08};
    uint8_t byte;
    char *words[4];
    char line[80];
    struct sim_action act;

    strcpy(line, "usb-timeout i2c-1");
    int n = sim_split_words(line, words, 4);
    cr_assert_eq(sim_action_parse(words, (size_t)n, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_hardware_apply(&hw, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_i2cdev_read(dev, &client, &byte, 1, 0), -ETIMEDOUT);
    strcpy(line, "usb-error i2c-1");
    n = sim_split_words(line, words, 4);
    cr_assert_eq(sim_action_parse(words, (size_t)n, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_hardware_apply(&hw, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_i2cdev_read(dev, &client, &byte, 1, 0), -EPIPE);
    cr_assert_eq(sim_i2cdev_read(dev, &client, &byte, 1, 0), 1);

    strcpy(line, "latency i2c-1 5");
    n = sim_split_words(line, words, 4);
    cr_assert_eq(sim_action_parse(words, (size_t)n, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_hardware_apply(&hw, &act, err, sizeof(err)), -EOPNOTSUPP);
    cr_assert(strstr(err, "'latency' is an FTDI adapter fault with no i2c-dev equivalent"), "%s",
              err);
    strcpy(line, "unplug i2c-1");
    n = sim_split_words(line, words, 4);
    cr_assert_eq(sim_action_parse(words, (size_t)n, &act, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_hardware_apply(&hw, &act, err, sizeof(err)), -ENODEV);
    cr_assert_str_eq(err, "no i2c-dev bridge: cannot unplug i2c-1");
    sim_hardware_free(&hw);
    sim_scenario_clear(&sc);
}
