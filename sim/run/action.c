/* Action lines (see action.h for the contract): splitting a line into words, parsing one action
 * of the shared grammar into a struct sim_action, and what each kind of action applies to. */
#include "run/action.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
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

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

bool sim_valid_serial(const char *serial)
{
    size_t len = strlen(serial);
    return len > 0 && len < SIM_SERIAL_MAX &&
           strspn(serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               len;
}

struct action_syntax {
    const char *verb;
    enum sim_action_kind kind;
    size_t nwords;   /* positional words, including the verb */
    const char *yes; /* last positional word meaning on=true; NULL when there is none */
    const char *no;
    const char *option; /* name of an optional trailing key=value word, or NULL */
    const char *usage;
};

static const struct action_syntax action_syntax[] = {
    {"fuse", SIM_ACTION_FUSE, 5, "open", "ok", NULL, "fuse <serial> <A-D|all> <1-4> open|ok"},
    {"supply", SIM_ACTION_SUPPLY, 4, "on", "off", NULL, "supply <serial> <A-D|all> on|off"},
    {"power", SIM_ACTION_POWER, 4, "on", "off", NULL, "power <serial> <A-D|all> on|off"},
    {"distributor", SIM_ACTION_DISTRIBUTOR, 4, "back", "gone", NULL,
     "distributor <serial> <A-D|all> gone|back"},
    {"unplug", SIM_ACTION_UNPLUG, 2, NULL, NULL, NULL, "unplug <serial>"},
    {"plug", SIM_ACTION_PLUG, 2, NULL, NULL, NULL, "plug <serial>"},
    {"bind", SIM_ACTION_BIND, 2, NULL, NULL, NULL, "bind <serial>"},
    {"nack-address", SIM_ACTION_NACK_ADDRESS, 4, "on", "off", NULL,
     "nack-address <serial> <A-D|all> on|off"},
    {"nack-data", SIM_ACTION_NACK_DATA, 4, "on", "off", NULL,
     "nack-data <serial> <A-D|all> on|off"},
    {"corrupt", SIM_ACTION_CORRUPT, 4, NULL, NULL, "count",
     "corrupt <serial> <A-D|all> <hex byte> [count=N]"},
    {"corrupt-rate", SIM_ACTION_CORRUPT_RATE, 4, NULL, NULL, "seed",
     "corrupt-rate <serial> <A-D|all> <fraction 0-1> [seed=N]"},
    {"stuck-sda", SIM_ACTION_STUCK_SDA, 3, NULL, NULL, NULL, "stuck-sda <serial> <A-D|all>"},
    {"hold-sda", SIM_ACTION_HOLD_SDA, 4, "on", "off", NULL, "hold-sda <serial> <A-D|all> on|off"},
    {"hold-scl", SIM_ACTION_HOLD_SCL, 4, "on", "off", NULL, "hold-scl <serial> <A-D|all> on|off"},
    {"script", SIM_ACTION_SCRIPT, 4, NULL, NULL, NULL,
     "script <serial> <A-D|all> <nack|hex byte>[,<nack|hex byte>...]"},
    {"usb-error", SIM_ACTION_USB_ERROR, 2, NULL, NULL, "count", "usb-error <serial> [count=N]"},
    {"usb-timeout", SIM_ACTION_USB_TIMEOUT, 2, NULL, NULL, "count",
     "usb-timeout <serial> [count=N]"},
    {"short-read", SIM_ACTION_SHORT_READ, 2, NULL, NULL, "count", "short-read <serial> [count=N]"},
    {"empty-read", SIM_ACTION_EMPTY_READ, 2, NULL, NULL, "count", "empty-read <serial> [count=N]"},
    {"control-error", SIM_ACTION_CONTROL_ERROR, 2, NULL, NULL, "count",
     "control-error <serial> [count=N]"},
    {"control-timeout", SIM_ACTION_CONTROL_TIMEOUT, 2, NULL, NULL, "count",
     "control-timeout <serial> [count=N]"},
    {"string-error", SIM_ACTION_STRING_ERROR, 2, NULL, NULL, NULL, "string-error <serial>"},
    {"latency", SIM_ACTION_LATENCY, 3, NULL, NULL, NULL, "latency <serial> <1-255 ms>"},
    {"unplug-mid-transfer", SIM_ACTION_UNPLUG_MID_TRANSFER, 2, NULL, NULL, NULL,
     "unplug-mid-transfer <serial>"},
};

#define N_SYNTAX (sizeof(action_syntax) / sizeof(action_syntax[0]))

bool sim_action_targets_distributor(enum sim_action_kind kind)
{
    switch (kind) {
    case SIM_ACTION_UNPLUG:
    case SIM_ACTION_PLUG:
    case SIM_ACTION_BIND:
    case SIM_ACTION_USB_ERROR:
    case SIM_ACTION_USB_TIMEOUT:
    case SIM_ACTION_SHORT_READ:
    case SIM_ACTION_EMPTY_READ:
    case SIM_ACTION_CONTROL_ERROR:
    case SIM_ACTION_CONTROL_TIMEOUT:
    case SIM_ACTION_STRING_ERROR:
    case SIM_ACTION_LATENCY:
    case SIM_ACTION_UNPLUG_MID_TRANSFER:
        return false;
    default:
        return true;
    }
}

static const char *verb_of(enum sim_action_kind kind)
{
    for (size_t i = 0; i < N_SYNTAX; i++)
        if (action_syntax[i].kind == kind)
            return action_syntax[i].verb;
    return "?";
}

bool sim_action_ftdi_only(enum sim_action_kind kind)
{
    /* the adapter faults from short-read to latency (action.h's order), and bind */
    return kind == SIM_ACTION_BIND || (kind >= SIM_ACTION_SHORT_READ && kind <= SIM_ACTION_LATENCY);
}

void sim_action_refuse_i2c(enum sim_action_kind kind, const char *name, unsigned bus, char *err,
                           size_t errlen)
{
    const char *verb = verb_of(kind);
    snprintf(err, errlen,
             "'%s' is an FTDI adapter fault with no i2c-dev equivalent: '%s' is an i2c adapter "
             "(/dev/i2c-%u)",
             verb, name, bus);
}

bool sim_action_not_on_cp2112(enum sim_action_kind kind)
{
    return kind == SIM_ACTION_BIND || kind == SIM_ACTION_SHORT_READ ||
           kind == SIM_ACTION_EMPTY_READ || kind == SIM_ACTION_LATENCY;
}

void sim_action_refuse_cp2112(enum sim_action_kind kind, const char *serial, char *err,
                              size_t errlen)
{
    snprintf(err, errlen,
             "'%s' is an FTDI adapter fault: '%s' is a CP2112 (no latency timer, no status "
             "bytes to cut short, no ftdi_sio); it has usb-error, usb-timeout, control-error, "
             "control-timeout, string-error and the unplugs",
             verb_of(kind), serial);
}

static int parse_who(const char *word, struct sim_action *out)
{
    if (strcmp(word, "all") == 0) {
        out->all = true;
        return 0;
    }
    if (strlen(word) != 1 || word[0] < 'A' || word[0] > 'D')
        return -EINVAL;
    out->letter = word[0];
    return 0;
}

static int parse_unsigned(const char *text, unsigned long min, unsigned long max,
                          unsigned long *value)
{
    char *end;
    if (!isdigit((unsigned char)text[0]))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *value = v;
    return 0;
}

/* A hex byte: 7F or 0x7F. */
static int parse_hex_byte(const char *text, uint8_t *byte)
{
    const char *digits = (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) ? text + 2 : text;
    size_t len = strlen(digits);
    if (len < 1 || len > 2 || strspn(digits, "0123456789abcdefABCDEF") != len)
        return -EINVAL;
    *byte = (uint8_t)strtoul(digits, NULL, 16);
    return 0;
}

static int parse_fraction(const char *text, double *rate)
{
    char *end;
    if (!isdigit((unsigned char)text[0]) && text[0] != '.')
        return -EINVAL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return -EINVAL;
    *rate = v;
    return 0;
}

static int parse_script(const char *text, struct sim_action *out, char *err, size_t errlen)
{
    char copy[512];
    if (strlen(text) >= sizeof(copy))
        return fail(err, errlen, "script too long (at most %d answers)", SIM_ACTION_SCRIPT_MAX);
    strcpy(copy, text);
    if (copy[0] == ',' || copy[strlen(copy) - 1] == ',' || strstr(copy, ",,"))
        return fail(err, errlen, "expected nack or a hex byte between commas, got '%s'", text);
    char *save = NULL;
    for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        uint8_t byte;
        if (out->script_len == SIM_ACTION_SCRIPT_MAX)
            return fail(err, errlen, "too many script answers (at most %d)", SIM_ACTION_SCRIPT_MAX);
        if (strcmp(r, "nack") == 0)
            out->script[out->script_len++] = SIM_ACTION_SCRIPT_NACK;
        else if (parse_hex_byte(r, &byte) == 0)
            out->script[out->script_len++] = byte;
        else
            return fail(err, errlen, "expected nack or a hex byte (00-FF) in the script, got '%s'",
                        r);
    }
    return 0;
}

static int parse_option(const struct action_syntax *syn, const char *word, struct sim_action *out,
                        char *err, size_t errlen)
{
    const size_t name_len = strlen(syn->option);
    const char *value = word + name_len + 1;
    unsigned long v;

    if (strncmp(word, syn->option, name_len) != 0 || word[name_len] != '=')
        return fail(err, errlen, "expected %s=N, got '%s' (usage: '%s')", syn->option, word,
                    syn->usage);
    if (strcmp(syn->option, "count") == 0) {
        /* An adapter fault's count replaces what is armed, so count=0 disarms it (a test that
         * armed more than the client used up leaves the adapter healthy again). */
        const unsigned long least =
            syn->kind >= SIM_ACTION_USB_ERROR && syn->kind <= SIM_ACTION_CONTROL_TIMEOUT ? 0 : 1;
        if (parse_unsigned(value, least, UINT_MAX, &v) < 0)
            return fail(err, errlen, "expected count=<%lu or more>, got '%s'", least, word);
        out->count = (unsigned)v;
    } else {
        char *end;
        if (!isdigit((unsigned char)value[0]))
            return fail(err, errlen, "expected seed=<0 or more>, got '%s'", word);
        errno = 0;
        out->seed = strtoull(value, &end, 0);
        if (errno || *end)
            return fail(err, errlen, "expected seed=<0 or more>, got '%s'", word);
    }
    return 0;
}

/* The words between the target and the state word. */
static int parse_arguments(const struct action_syntax *syn, char *const *words,
                           struct sim_action *out, char *err, size_t errlen)
{
    unsigned long v;

    switch (syn->kind) {
    case SIM_ACTION_FUSE:
        if (parse_unsigned(words[3], 1, 4, &v) < 0)
            return fail(err, errlen, "expected a fuse number 1-4, got '%s'", words[3]);
        out->fuse = (int)v;
        return 0;
    case SIM_ACTION_CORRUPT:
        if (parse_hex_byte(words[3], &out->byte) < 0)
            return fail(err, errlen, "expected a hex byte (00-FF or 0x00-0xFF), got '%s'",
                        words[3]);
        return 0;
    case SIM_ACTION_CORRUPT_RATE:
        if (parse_fraction(words[3], &out->rate) < 0)
            return fail(err, errlen, "expected a fraction 0-1 (e.g. 0.005), got '%s'", words[3]);
        return 0;
    case SIM_ACTION_SCRIPT:
        return parse_script(words[3], out, err, errlen);
    case SIM_ACTION_LATENCY:
        if (parse_unsigned(words[2], 1, 255, &v) < 0)
            return fail(err, errlen, "expected a latency of 1-255 ms, got '%s'", words[2]);
        out->latency_ms = (unsigned)v;
        return 0;
    default:
        return 0;
    }
}

int sim_action_parse(char *const *words, size_t nwords, struct sim_action *out, char *err,
                     size_t errlen)
{
    const struct action_syntax *syn = NULL;
    if (nwords == 0)
        return fail(err, errlen, "expected an action");
    for (size_t i = 0; i < N_SYNTAX; i++)
        if (strcmp(words[0], action_syntax[i].verb) == 0)
            syn = &action_syntax[i];
    if (!syn)
        return fail(err, errlen,
                    "unknown action '%s' (expected fuse, supply, power, distributor, unplug, bind, "
                    "plug, nack-address, nack-data, corrupt, corrupt-rate, stuck-sda, hold-sda, "
                    "hold-scl, script, "
                    "usb-error, usb-timeout, short-read, empty-read, control-error, "
                    "control-timeout, string-error, latency or unplug-mid-transfer)",
                    words[0]);
    if (nwords != syn->nwords && !(syn->option && nwords == syn->nwords + 1))
        return fail(err, errlen, "expected '%s'", syn->usage);

    memset(out, 0, sizeof(*out));
    out->kind = syn->kind;
    out->count = 1;
    out->seed = 1;
    if (!sim_valid_serial(words[1]))
        return fail(err, errlen, "expected an adapter serial ([A-Za-z0-9._-]), got '%s'", words[1]);
    strcpy(out->serial, words[1]);
    if (sim_action_targets_distributor(syn->kind) && parse_who(words[2], out) < 0)
        return fail(err, errlen, "expected a distributor letter A-D or 'all', got '%s'", words[2]);
    int rc = parse_arguments(syn, words, out, err, errlen);
    if (rc < 0)
        return rc;
    const char *state = words[syn->nwords - 1];
    if (syn->yes && sim_parse_choice(state, syn->yes, syn->no, &out->on) < 0)
        return fail(err, errlen, "expected '%s' or '%s', got '%s'", syn->yes, syn->no, state);
    if (nwords > syn->nwords)
        return parse_option(syn, words[syn->nwords], out, err, errlen);
    return 0;
}
