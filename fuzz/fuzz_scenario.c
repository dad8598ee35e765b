/* libFuzzer target: the scenario parser (sim_scenario_parse) on arbitrary file contents. Asserts
 * its contract besides the sanitizers' checks: a failure names the file and leaves an empty
 * scenario; a success has at least one valid adapter and its events sorted by time, each aimed at
 * a declared adapter (and distributor). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/scenario.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f)
        return 0;
    struct sim_scenario sc;
    char err[256] = "";
    int rc = sim_scenario_parse(f, "fuzz.scn", &sc, err, sizeof(err));
    fclose(f);
    if (rc < 0) {
        check(strncmp(err, "fuzz.scn:", 9) == 0, "an error does not name the file");
        check(sc.n_adapters == 0 && sc.events == NULL && sc.n_events == 0,
              "a failed parse left a scenario");
        return 0;
    }
    check(sc.n_adapters >= 1 && sc.n_adapters <= SIM_MAX_ADAPTERS, "adapter count");
    for (size_t i = 0; i < sc.n_adapters; i++) {
        check(sim_valid_serial(sc.adapters[i].serial), "adapter serial not valid");
        check(sim_scenario_adapter(&sc, sc.adapters[i].serial) == &sc.adapters[i],
              "adapter serial declared twice");
    }
    for (size_t i = 0; i < sc.n_events; i++) {
        const struct sim_action *a = &sc.events[i].action;
        check(i == 0 || sc.events[i - 1].at_ms <= sc.events[i].at_ms, "events not sorted");
        const struct sim_adapter_spec *spec = sim_scenario_adapter(&sc, a->serial);
        check(spec != NULL, "event for an undeclared adapter");
        if (a->letter)
            check(a->letter >= 'A' && a->letter <= 'D' &&
                      spec->distributors[a->letter - 'A'].declared,
                  "event for an undeclared distributor");
    }
    sim_scenario_clear(&sc);
    return 0;
}
