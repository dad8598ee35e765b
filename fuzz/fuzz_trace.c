/* libFuzzer target: the trace parser (sim_trace_parse) on arbitrary file contents,
 * then the scenario a replay builds from a parsed trace (sim_trace_scenario). A failure names the
 * file and leaves an empty trace; a parsed trace has its observations in time order, each
 * standing for at least one poll, and the polls of an adapter add up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/trace.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f)
        return 0;
    struct sim_trace *t = calloc(1, sizeof(*t));
    if (!t) {
        fclose(f);
        return 0;
    }
    char err[256] = "";
    int rc = sim_trace_parse(f, "fuzz.trace", t, err, sizeof(err));
    fclose(f);
    if (rc < 0) {
        check(strncmp(err, "fuzz.trace", 10) == 0, "an error does not name the file");
        check(t->n_adapters == 0, "a failed parse left adapters");
        free(t);
        return 0;
    }
    check(t->n_adapters <= SIM_MAX_ADAPTERS, "adapter count");
    for (size_t i = 0; i < t->n_adapters; i++) {
        const struct sim_trace_adapter *a = &t->adapters[i];
        uint64_t polls = 0;
        check(sim_valid_serial(a->serial), "adapter serial not valid");
        for (size_t k = 0; k < a->n_obs; k++) {
            const struct sim_trace_obs *o = &a->obs[k];
            check(o->count >= 1 && o->at_ms <= o->last_ms, "observation count or times");
            check(k == 0 || a->obs[k - 1].last_ms <= o->at_ms, "observations out of order");
            polls += o->count;
        }
        check(polls == a->polls, "polls do not add up");
        check(a->polls <= SIM_TRACE_MAX_POLLS, "same counts past the limit were accepted");
    }
    struct sim_scenario *sc = calloc(1, sizeof(*sc));
    if (sc) {
        sim_trace_scenario(t, sc);
        check(sc->n_adapters == t->n_adapters, "replay scenario adapters");
        sim_scenario_clear(sc);
        free(sc);
    }
    sim_trace_clear(t);
    free(t);
    return 0;
}
