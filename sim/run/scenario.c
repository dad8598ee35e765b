/* Scenario files (see scenario.h for the contract): the parser, line by line, into struct
 * sim_scenario with its sorted timeline. */
#include "run/scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/cp2112.h"
#include "model/ft232h.h"

#define MAX_WORDS 16

struct parser {
    const char *name;
    unsigned line;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int parse_error(struct parser *p, const char *fmt, ...)
{
    int n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, p->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static struct sim_adapter_spec *find_adapter(struct sim_scenario *sc, const char *serial)
{
    for (size_t i = 0; i < sc->n_adapters; i++)
        if (strcmp(sc->adapters[i].serial, serial) == 0)
            return &sc->adapters[i];
    return NULL;
}

const struct sim_adapter_spec *sim_scenario_adapter(const struct sim_scenario *sc,
                                                    const char *serial)
{
    return find_adapter((struct sim_scenario *)sc, serial);
}

/* Splits "key=value"; returns the value or NULL when there is no '='. */
static char *split_option(char *word)
{
    char *eq = strchr(word, '=');
    if (!eq)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

static int parse_u16(const char *text, uint16_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 0);
    if (errno || *end || end == text || v > 0xFFFF)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

static const struct {
    const char *name;
    enum sim_ftdi_chip chip;
    uint16_t default_pid;
} chip_names[] = {
    {"ft232h", SIM_CHIP_FT232H, SIM_LYNX_ADAPTER_PID},
    {"ft2232h", SIM_CHIP_FT2232H, SIM_FT2232H_PID},
    {"ft4232h", SIM_CHIP_FT4232H, SIM_FT4232H_PID},
};

static int parse_chip(const char *text, struct sim_adapter_spec *a)
{
    a->cp2112 = strcmp(text, "cp2112") == 0;
    if (a->cp2112)
        return 0;
    enum sim_ftdi_chip *chip = &a->chip;
    for (size_t i = 0; i < sizeof(chip_names) / sizeof(chip_names[0]); i++) {
        if (strcmp(text, chip_names[i].name) == 0) {
            *chip = chip_names[i].chip;
            return 0;
        }
    }
    return -EINVAL;
}

static uint16_t default_pid(enum sim_ftdi_chip chip)
{
    for (size_t i = 0; i < sizeof(chip_names) / sizeof(chip_names[0]); i++)
        if (chip_names[i].chip == chip)
            return chip_names[i].default_pid;
    return SIM_LYNX_ADAPTER_PID;
}

/* The name (serial) of an adapter line: valid and not declared before. */
static int check_new_adapter(struct parser *p, struct sim_scenario *sc, const char *name,
                             const char *what)
{
    if (sc->n_adapters == SIM_MAX_ADAPTERS)
        return parse_error(p, "too many adapters (at most %d)", SIM_MAX_ADAPTERS);
    if (!sim_valid_serial(name))
        return parse_error(p, "expected %s ([A-Za-z0-9._-], under %d characters), got '%s'", what,
                           SIM_SERIAL_MAX, name);
    if (find_adapter(sc, name))
        return parse_error(p, "adapter '%s' is declared twice", name);
    return 0;
}

/* The options both kinds of adapter have: 0, -EINVAL (a bad value) or -ENOENT (not one). */
static int parse_bus_option(const char *key, const char *value, struct sim_adapter_spec *a)
{
    if (strcmp(key, "plugged") == 0)
        return sim_parse_choice(value, "yes", "no", &a->plugged);
    if (strcmp(key, "i2c") == 0)
        return sim_i2c_mode_parse(value, &a->i2c_mode);
    if (strcmp(key, "strict-timing") == 0)
        return sim_parse_choice(value, "yes", "no", &a->strict_timing);
    return -ENOENT;
}

/* adapter ... chip=cp2112: a CP2112's identity; FTDI's driver binding does not apply (the guest
 * kernel binds hid-cp2112 to it, always). */
static int add_cp2112(struct parser *p, struct sim_scenario *sc, struct sim_adapter_spec *a,
                      bool vid_given, bool pid_given, bool driver_given)
{
    if (driver_given)
        return parse_error(p,
                           "adapter '%s': driver= is an FTDI option (ftdi_sio); a CP2112 is "
                           "always bound to hid-cp2112",
                           a->serial);
    if (!vid_given)
        a->vid = SIM_CP2112_VID;
    if (!pid_given)
        a->pid = SIM_CP2112_PID;
    a->driver_bound = false;
    sc->adapters[sc->n_adapters++] = *a;
    return 0;
}

static int parse_adapter(struct parser *p, struct sim_scenario *sc, char **w, int n)
{
    if (n < 2)
        return parse_error(p, "expected 'adapter <serial> [vid=0x0403] [pid=0xD4F8] "
                              "[plugged=yes|no] [chip=ft232h|ft2232h|ft4232h|cp2112] "
                              "[i2c=standard|fast] [strict-timing=yes|no] [driver=ftdi_sio|none]'");
    int rc = check_new_adapter(p, sc, w[1], "an adapter serial");
    if (rc < 0)
        return rc;

    struct sim_adapter_spec a = {.vid = SIM_FTDI_VID, .chip = SIM_CHIP_FT232H, .plugged = true};
    bool vid_given = false, pid_given = false, driver_given = false;
    strcpy(a.serial, w[1]);
    for (int i = 2; i < n; i++) {
        char *value = split_option(w[i]);
        rc = value ? parse_bus_option(w[i], value, &a) : -EINVAL;
        if (rc == -ENOENT && strcmp(w[i], "vid") == 0 && (rc = parse_u16(value, &a.vid)) == 0)
            vid_given = true;
        else if (rc == -ENOENT && strcmp(w[i], "pid") == 0 && (rc = parse_u16(value, &a.pid)) == 0)
            pid_given = true;
        else if (rc == -ENOENT && strcmp(w[i], "chip") == 0)
            rc = parse_chip(value, &a);
        else if (rc == -ENOENT && strcmp(w[i], "driver") == 0 &&
                 (rc = sim_parse_choice(value, "ftdi_sio", "none", &a.driver_bound)) == 0)
            driver_given = true;
        if (rc < 0)
            return parse_error(p,
                               "expected vid=<0-0xFFFF>, pid=<0-0xFFFF>, plugged=yes|no, "
                               "chip=ft232h|ft2232h|ft4232h|cp2112, i2c=standard|fast, "
                               "strict-timing=yes|no or driver=ftdi_sio|none, got '%s%s%s'",
                               w[i], value ? "=" : "", value ? value : "");
    }
    if (a.cp2112)
        return add_cp2112(p, sc, &a, vid_given, pid_given, driver_given);
    if (!pid_given)
        a.pid = default_pid(a.chip);
    if (!driver_given) /* ftdi_sio binds FTDI's own ids, not a reprogrammed product id */
        a.driver_bound =
            a.vid == SIM_FTDI_VID && (a.pid == 0x6014 || a.pid == 0x6010 || a.pid == 0x6011);
    sc->adapters[sc->n_adapters++] = a;
    return 0;
}

static int parse_bus_number(const char *text, unsigned *bus)
{
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v > SIM_I2C_BUS_MAX)
        return -EINVAL;
    *bus = (unsigned)v;
    return 0;
}

#define I2C_ADAPTER_USAGE                                                                          \
    "'i2c-adapter <name> bus=<0-255> [plugged=yes|no] [i2c=standard|fast] "                        \
    "[strict-timing=yes|no] [funcs=i2c|smbus] [nack=enxio|eremoteio] "                             \
    "[driver=generic|hid-cp2112] [controller=generic|bcm2835]'"

/* i2c-adapter: a Linux I2C adapter driving the bus, seen by clients as /dev/i2c-N. */
static int parse_i2c_adapter(struct parser *p, struct sim_scenario *sc, char **w, int n)
{
    if (n < 2)
        return parse_error(p, "expected " I2C_ADAPTER_USAGE);
    int rc = check_new_adapter(p, sc, w[1], "an i2c adapter name");
    if (rc < 0)
        return rc;
    struct sim_adapter_spec a = {
        .transport = SIM_TRANSPORT_I2C, .plugged = true, .nack_errno = ENXIO};
    bool bus_given = false, smbus = false, eremoteio = false, errnos_given = false;
    bool cp2112 = false, bcm2835 = false;
    strcpy(a.serial, w[1]);
    for (int i = 2; i < n; i++) {
        char *value = split_option(w[i]);
        rc = value ? parse_bus_option(w[i], value, &a) : -EINVAL;
        if (rc == -ENOENT && strcmp(w[i], "bus") == 0 &&
            (rc = parse_bus_number(value, &a.i2c_bus)) == 0)
            bus_given = true;
        else if (rc == -ENOENT && strcmp(w[i], "funcs") == 0)
            rc = sim_parse_choice(value, "smbus", "i2c", &smbus), errnos_given = true;
        else if (rc == -ENOENT && strcmp(w[i], "nack") == 0)
            rc = sim_parse_choice(value, "eremoteio", "enxio", &eremoteio), errnos_given = true;
        else if (rc == -ENOENT && strcmp(w[i], "driver") == 0)
            rc = sim_parse_choice(value, "hid-cp2112", "generic", &cp2112);
        else if (rc == -ENOENT && strcmp(w[i], "controller") == 0)
            rc = sim_parse_choice(value, "bcm2835", "generic", &bcm2835);
        if (rc < 0)
            return parse_error(p,
                               "expected bus=<0-%d>, plugged=yes|no, i2c=standard|fast, "
                               "strict-timing=yes|no, funcs=i2c|smbus, nack=enxio|eremoteio, "
                               "controller=generic|bcm2835 or driver=generic|hid-cp2112, got "
                               "'%s%s%s'",
                               SIM_I2C_BUS_MAX, w[i], value ? "=" : "", value ? value : "");
    }
    if (cp2112 && errnos_given)
        return parse_error(p,
                           "i2c adapter '%s': funcs= and nack= are the generic driver's; "
                           "driver=hid-cp2112 has the driver's own",
                           a.serial);
    if (bcm2835 && (cp2112 || errnos_given))
        return parse_error(p,
                           "i2c adapter '%s': controller=bcm2835 has i2c-bcm2835's own funcs and "
                           "NACK errno, and is not a hid-cp2112",
                           a.serial);
    if (!bus_given)
        return parse_error(p, "i2c adapter '%s' needs bus=<0-%d> (its /dev/i2c-N)", a.serial,
                           SIM_I2C_BUS_MAX);
    for (size_t i = 0; i < sc->n_adapters; i++)
        if (sc->adapters[i].transport == SIM_TRANSPORT_I2C && sc->adapters[i].i2c_bus == a.i2c_bus)
            return parse_error(p, "bus %u is already i2c adapter '%s' (/dev/i2c-%u)", a.i2c_bus,
                               sc->adapters[i].serial, a.i2c_bus);
    a.i2c_funcs = smbus ? SIM_I2CDEV_FUNCS_SMBUS : SIM_I2CDEV_FUNCS_I2C;
    a.nack_errno = eremoteio || bcm2835 ? EREMOTEIO : ENXIO;
    a.i2c_driver = cp2112    ? SIM_I2CDEV_DRIVER_HID_CP2112
                   : bcm2835 ? SIM_I2CDEV_DRIVER_BCM2835
                             : SIM_I2CDEV_DRIVER_GENERIC;
    sc->adapters[sc->n_adapters++] = a;
    return 0;
}

static int parse_fuses(const char *text, bool fuse_open[4])
{
    char copy[64];
    if (strlen(text) >= sizeof(copy))
        return -EINVAL;
    strcpy(copy, text);
    char *save = NULL;
    int i = 0;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save), i++)
        if (i == 4 || sim_parse_choice(f, "open", "ok", &fuse_open[i]) < 0)
            return -EINVAL;
    return i == 4 ? 0 : -EINVAL;
}

static int parse_distributor(struct parser *p, struct sim_scenario *sc, char **w, int n)
{
    if (n < 3 || strlen(w[2]) != 1 || w[2][0] < 'A' || w[2][0] > 'D')
        return parse_error(p, "expected 'distributor <serial> <A-D> [supply=on|off] "
                              "[power=on|off] [present=yes|no] [fuses=ok,ok,ok,ok]'");
    struct sim_adapter_spec *a = find_adapter(sc, w[1]);
    if (!a)
        return parse_error(p,
                           "adapter '%s' is not declared (expected an 'adapter %s' line "
                           "before)",
                           w[1], w[1]);
    struct sim_distributor_spec *d = &a->distributors[w[2][0] - 'A'];
    if (d->declared)
        return parse_error(p, "distributor %s %c is declared twice", w[1], w[2][0]);
    *d = (struct sim_distributor_spec){
        .declared = true, .supply = true, .powered = true, .present = true};
    for (int i = 3; i < n; i++) {
        char *value = split_option(w[i]);
        int rc = -EINVAL;
        if (value && strcmp(w[i], "supply") == 0)
            rc = sim_parse_choice(value, "on", "off", &d->supply);
        else if (value && strcmp(w[i], "power") == 0)
            rc = sim_parse_choice(value, "on", "off", &d->powered);
        else if (value && strcmp(w[i], "present") == 0)
            rc = sim_parse_choice(value, "yes", "no", &d->present);
        else if (value && strcmp(w[i], "fuses") == 0)
            rc = parse_fuses(value, d->fuse_open);
        if (rc < 0)
            return parse_error(p,
                               "expected supply=on|off, power=on|off, present=yes|no or "
                               "fuses=<4 of ok|open, comma-separated>, got '%s%s%s'",
                               w[i], value ? "=" : "", value ? value : "");
    }
    return 0;
}

static int parse_seconds(const char *text, uint64_t *ms)
{
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    if (errno || *end || end == text || !(s >= 0 && s < 1e9))
        return -EINVAL;
    *ms = (uint64_t)(s * 1000.0 + 0.5);
    return 0;
}

static int check_action_target(struct parser *p, struct sim_scenario *sc,
                               const struct sim_action *act)
{
    struct sim_adapter_spec *a = find_adapter(sc, act->serial);
    if (!a)
        return parse_error(p, "adapter '%s' is not declared", act->serial);
    if (a->transport == SIM_TRANSPORT_I2C && sim_action_ftdi_only(act->kind)) {
        char why[200];
        sim_action_refuse_i2c(act->kind, a->serial, a->i2c_bus, why, sizeof(why));
        return parse_error(p, "%s", why);
    }
    if (a->cp2112 && sim_action_not_on_cp2112(act->kind)) {
        char why[300];
        sim_action_refuse_cp2112(act->kind, a->serial, why, sizeof(why));
        return parse_error(p, "%s", why);
    }
    if (act->letter && !a->distributors[act->letter - 'A'].declared)
        return parse_error(p, "distributor %s %c is not declared", act->serial, act->letter);
    if (act->all) {
        bool any = false;
        for (int i = 0; i < SIM_MAX_DISTRIBUTORS; i++)
            any |= a->distributors[i].declared;
        if (!any)
            return parse_error(p,
                               "'all' needs at least one distributor declared on adapter '%s' "
                               "before this line",
                               act->serial);
    }
    return 0;
}

static int parse_event(struct parser *p, struct sim_scenario *sc, char **w, int n, size_t *cap)
{
    struct sim_event ev;
    char msg[160];
    if (n < 2 || parse_seconds(w[1], &ev.at_ms) < 0)
        return parse_error(p, "expected 'at <seconds> <action>'");
    if (sim_action_parse(w + 2, (size_t)(n - 2), &ev.action, msg, sizeof(msg)) < 0)
        return parse_error(p, "%s", msg);
    int rc = check_action_target(p, sc, &ev.action);
    if (rc < 0)
        return rc;
    if (sc->n_events == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct sim_event *grown = realloc(sc->events, ncap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        sc->events = grown;
        *cap = ncap;
    }
    sc->events[sc->n_events++] = ev; /* sorted once the file is read (sort_events) */
    return 0;
}

/* Stable merge sort by time (equal times run in file order): O(n log n), so a long generated
 * timeline (200k events) loads in well under a second. */
static int sort_events(struct sim_scenario *sc)
{
    size_t n = sc->n_events;
    if (n < 2)
        return 0;
    struct sim_event *tmp = malloc(n * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    struct sim_event *from = sc->events, *to = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                to[k++] = from[b].at_ms < from[a].at_ms ? from[b++] : from[a++];
            while (a < mid)
                to[k++] = from[a++];
            while (b < hi)
                to[k++] = from[b++];
        }
        struct sim_event *swap = from;
        from = to;
        to = swap;
    }
    if (from != sc->events)
        memcpy(sc->events, from, n * sizeof(*tmp));
    free(tmp);
    return 0;
}

static int parse_line(struct parser *p, struct sim_scenario *sc, char *line, size_t *cap)
{
    char *w[MAX_WORDS];
    int n = sim_split_words(line, w, MAX_WORDS);
    if (n < 0)
        return parse_error(p, "too many words (at most %d)", MAX_WORDS);
    if (n == 0)
        return 0;
    if (strcmp(w[0], "adapter") == 0)
        return parse_adapter(p, sc, w, n);
    if (strcmp(w[0], "i2c-adapter") == 0)
        return parse_i2c_adapter(p, sc, w, n);
    if (strcmp(w[0], "distributor") == 0)
        return parse_distributor(p, sc, w, n);
    if (strcmp(w[0], "at") == 0)
        return parse_event(p, sc, w, n, cap);
    if (strcmp(w[0], "loop") == 0) {
        if (n != 2 || parse_seconds(w[1], &sc->loop_ms) < 0 || sc->loop_ms == 0)
            return parse_error(p, "expected 'loop <seconds greater than 0>'");
        return 0;
    }
    return parse_error(
        p, "expected 'adapter', 'i2c-adapter', 'distributor', 'at' or 'loop', got '%s'", w[0]);
}

int sim_scenario_parse(FILE *in, const char *name, struct sim_scenario *sc, char *err,
                       size_t errlen)
{
    struct parser p = {.name = name, .err = err, .errlen = errlen};
    char line[512];
    size_t cap = 0;
    int rc = 0;

    memset(sc, 0, sizeof(*sc));
    while (rc == 0 && fgets(line, sizeof(line), in)) {
        p.line++;
        if (!strchr(line, '\n') && !feof(in))
            /* fgets stopped short of a full buffer without a newline: a NUL byte ended it */
            rc = strlen(line) < sizeof(line) - 1
                     ? parse_error(&p, "contains a NUL byte (is this a scenario file?)")
                     : parse_error(&p, "line longer than %zu characters", sizeof(line) - 2);
        else
            rc = parse_line(&p, sc, line, &cap);
    }
    if (rc == 0 && ferror(in)) {
        snprintf(err, errlen, "%s: cannot read: %s", name, strerror(errno ? errno : EIO));
        rc = -EIO;
    }
    if (rc == 0)
        rc = sort_events(sc);
    if (rc == 0 && sc->n_adapters == 0) {
        p.line++;
        rc = parse_error(&p, "expected at least one 'adapter' or 'i2c-adapter' line");
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    if (rc < 0)
        sim_scenario_clear(sc);
    return rc;
}

int sim_scenario_load(const char *path, struct sim_scenario *sc, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = sim_scenario_parse(f, path, sc, err, errlen);
    fclose(f);
    return rc;
}

void sim_scenario_default(struct sim_scenario *sc)
{
    memset(sc, 0, sizeof(*sc));
    struct sim_adapter_spec *a = &sc->adapters[sc->n_adapters++];
    strcpy(a->serial, "LYNX0001");
    a->vid = SIM_FTDI_VID;
    a->pid = SIM_LYNX_ADAPTER_PID;
    a->plugged = true;
    a->distributors[0] = (struct sim_distributor_spec){
        .declared = true, .supply = true, .powered = true, .present = true};
}

void sim_scenario_clear(struct sim_scenario *sc)
{
    free(sc->events);
    memset(sc, 0, sizeof(*sc));
}
