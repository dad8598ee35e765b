/* libFuzzer target: one action line (the grammar shared by scenario timelines and the control
 * channel): sim_split_words then sim_action_parse, on arbitrary bytes. A parsed action names a
 * valid serial and, where it has one, a distributor letter A-D; a refusal says why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/action.h"
#include "fuzz_util.h"

#define MAX_WORDS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* A line as the control channel hands it over: NUL-terminated, stopping at the first NUL. */
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    char *words[MAX_WORDS];
    int n = sim_split_words(line, words, MAX_WORDS);
    if (n >= 0) {
        check(n <= MAX_WORDS, "more words than asked for");
        struct sim_action action;
        char err[160] = "";
        int rc = sim_action_parse(words, (size_t)n, &action, err, sizeof(err));
        if (rc == 0) {
            check(sim_valid_serial(action.serial), "parsed serial not valid");
            check(action.letter == 0 || (action.letter >= 'A' && action.letter <= 'D'),
                  "distributor letter out of A-D");
        } else {
            check(err[0] != '\0', "a refusal without a message");
        }
    }
    free(line);
    return 0;
}
