#include "action.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_split_words(char *line, char **words, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return -E2BIG;
        words[n++] = w;
    }
    return (int)n;
}

int sim_parse_choice(const char *word, const char *yes, const char *no, bool *value)
{
    if (strcmp(word, yes) == 0)
        *value = true;
    else if (strcmp(word, no) == 0)
        *value = false;
    else
        return -EINVAL;
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -EINVAL;
}

static int parse_letter(const char *word, char *letter)
{
    if (strlen(word) != 1 || word[0] < 'A' || word[0] > 'D')
        return -EINVAL;
    *letter = word[0];
    return 0;
}

bool sim_valid_serial(const char *serial)
{
    size_t len = strlen(serial);
    return len > 0 && len < SIM_SERIAL_MAX &&
           strspn(serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               len;
}

static int parse_serial(const char *word, struct sim_action *out)
{
    if (!sim_valid_serial(word))
        return -EINVAL;
    strcpy(out->serial, word);
    return 0;
}

struct action_syntax {
    const char *verb;
    enum sim_action_kind kind;
    size_t nwords;   /* including the verb */
    const char *yes; /* last word meaning on=true; NULL when the action has no state word */
    const char *no;
    const char *usage;
};

static const struct action_syntax action_syntax[] = {
    {"fuse", SIM_ACTION_FUSE, 5, "open", "ok", "fuse <serial> <A-D> <1-4> open|ok"},
    {"supply", SIM_ACTION_SUPPLY, 4, "on", "off", "supply <serial> <A-D> on|off"},
    {"power", SIM_ACTION_POWER, 4, "on", "off", "power <serial> <A-D> on|off"},
    {"distributor", SIM_ACTION_DISTRIBUTOR, 4, "back", "gone",
     "distributor <serial> <A-D> gone|back"},
    {"unplug", SIM_ACTION_UNPLUG, 2, NULL, NULL, "unplug <serial>"},
    {"plug", SIM_ACTION_PLUG, 2, NULL, NULL, "plug <serial>"},
};

int sim_action_parse(char *const *words, size_t nwords, struct sim_action *out, char *err,
                     size_t errlen)
{
    const struct action_syntax *syn = NULL;
    if (nwords == 0)
        return fail(err, errlen, "expected an action%s", "");
    for (size_t i = 0; i < sizeof(action_syntax) / sizeof(action_syntax[0]); i++)
        if (strcmp(words[0], action_syntax[i].verb) == 0)
            syn = &action_syntax[i];
    if (!syn)
        return fail(err, errlen,
                    "unknown action '%s' (expected fuse, supply, power, distributor, unplug, plug)",
                    words[0]);
    if (nwords != syn->nwords)
        return fail(err, errlen, "expected '%s'", syn->usage);

    memset(out, 0, sizeof(*out));
    out->kind = syn->kind;
    if (parse_serial(words[1], out) < 0)
        return fail(err, errlen, "expected an adapter serial ([A-Za-z0-9._-]), got '%s'", words[1]);
    if (nwords >= 4 && parse_letter(words[2], &out->letter) < 0)
        return fail(err, errlen, "expected a distributor letter A-D, got '%s'", words[2]);
    if (syn->kind == SIM_ACTION_FUSE) {
        char *end;
        long fuse = strtol(words[3], &end, 10);
        if (*end || fuse < 1 || fuse > 4)
            return fail(err, errlen, "expected a fuse number 1-4, got '%s'", words[3]);
        out->fuse = (int)fuse;
    }
    if (syn->yes && sim_parse_choice(words[nwords - 1], syn->yes, syn->no, &out->on) < 0) {
        snprintf(err, errlen, "expected '%s' or '%s', got '%s'", syn->yes, syn->no,
                 words[nwords - 1]);
        return -EINVAL;
    }
    return 0;
}
