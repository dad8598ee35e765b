/* Scenario files and action lines: what parses, what it means, and the errors people get. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "scenario.h"

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
    expect_error("adapter A1\nbogus line\n",
                 "test.scn:2: expected 'adapter', 'distributor', 'at' or 'loop', got 'bogus'");
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
    expect_error("# nothing\n", "test.scn:2: expected at least one 'adapter' line");
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
