/* localsettings-standin: a small com.victronenergy.settings for tests, behaving like Victron's
 * localsettings (v1.76) where a client can tell. tests/settings_contract runs the same assertions
 * against both; the demo and the fast suites run this one.
 *
 *   localsettings-standin [--file PATH] [-v]
 *
 * Owns com.victronenergy.settings on the bus of $DBUS_SYSTEM_BUS_ADDRESS (else the session bus if
 * $DBUS_SESSION_BUS_ADDRESS is set, else the system bus) and serves:
 * - on every group node ("/", "/Settings", "/Settings/Devices" always; others while a setting is
 *   below them), interface com.victronenergy.Settings:
 *   AddSettings(aa{sv}) -> aa{sv} and the older AddSetting(s group, s name, v default, s type,
 *   v min, v max) -> i, with localsettings' error codes (-2 "/_" in the path, -3 unknown type:
 *   AddSettings takes the type from the default's D-Bus type, int32/int64, double or string only;
 *   -4 no path, -5 type differs from the existing setting, -6 invalid default, -7 default out of
 *   range, -8 path is a group, -9 added on "/" and not starting with "/Settings/"). min/max are
 *   converted like SetValue values. An existing setting keeps its value; changed attributes are
 *   stored and announced. A path no D-Bus object can have (invalid characters, "//", a trailing
 *   '/', below a setting) fails the whole call with a D-Bus error; the settings before it in the
 *   same call stay added (localsettings raises there). RemoveSettings(as) -> ai (0 removed, -1 no
 *   such setting). GetValue on a group -> a{sv} of every setting below it, keys relative;
 *   GetItems on "/" -> a{sa{sv}} with Value, Text, Default and, when set, Min and Max.
 * - on every setting, interface com.victronenergy.BusItem: GetValue, GetText (s), SetValue (0 ok,
 *   -1 refused), GetMin/GetMax (int32 0 when unset), GetDefault, SetDefault (an error on a
 *   ClassAndVrmInstance, where localsettings raises); and the signal PropertiesChanged
 *   {"Value","Text"} (plus Default/Min/Max when AddSettings created it or changed attributes) on
 *   the setting's path for every change, and {"Value": invalid, "Text": ""} when it is removed.
 * - SetValue converts like localsettings, with Python's int()/float()/str(): 7.9 -> 7 and "5" -> 5
 *   on an int setting, 5 -> "5" and 7.5 -> "7.5" on a string setting; refused (-1) when Python
 *   refuses ("5.0" or NaN for an int) or the value is outside min/max. An equal value answers 0
 *   and announces nothing.
 * - /Settings/Devices/<id>/ClassAndVrmInstance values "<class>:<N>" never collide: adding or
 *   setting one bumps N until no other ClassAndVrmInstance setting below /Settings/Devices holds
 *   "<class>:<N>" (SetValue then answers 0 and announces the bumped value).
 * - Unknown paths answer org.freedesktop.DBus.Error.UnknownObject, unknown methods UnknownMethod.
 * Known differences, none of which a client here relies on: error names where localsettings
 * raises (org.freedesktop.DBus.Python.* there, InvalidArgs/Failed here); SetValue of the invalid
 * value or a container on a string setting is refused (localsettings stores Python's str() of it,
 * "dbus.Array(...)"); SetValue of an int beyond int32 is stored and announced (localsettings
 * stores it but its PropertiesChanged raises OverflowError, so the caller gets an error and no
 * signal); a non-string "path" in AddSettings is not echoed in the result; no GetSilent,
 * GetAttributes or AddSilentSetting; and it saves at once, where localsettings saves settings.xml
 * about 2 s after a change (and at SIGTERM): only a SIGKILL or power cut within those 2 s tells.
 *
 * Persistence: PATH is read at start and rewritten (temp file + rename) after every change, one
 * setting per line, tab-separated:
 *   path  type(i|f|s)  value  default  min  max  silent(0|1)
 * with min/max empty when unset and \\, \t, \n escaped in strings; '#' lines are comments.
 * SIGTERM/SIGINT end it with status 0. It prints nothing but errors (and a ready line with -v).
 *
 * One file on purpose: a test double whose only job is the contract above, and most of it works
 * on the one struct standin; split, that struct would have to be shared by every part. Its sections
 * follow the data: values, the settings table, persistence, changing values, AddSetting(s),
 * BusItem methods, group nodes, main.
 */
#include <dbus/dbus.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mainloop.h"
#include "venus/dbus_loop.h"

#define SERVICE_NAME       "com.victronenergy.settings"
#define BUSITEM_INTERFACE  "com.victronenergy.BusItem"
#define SETTINGS_INTERFACE "com.victronenergy.Settings"
#define DEVICES_PREFIX     "/Settings/Devices/"
#define CLASS_INSTANCE     "ClassAndVrmInstance"
#define TEXT_MAX           64

enum add_error {
    ADD_OK = 0,
    ADD_UNDERSCORE_PREFIX = -2,
    ADD_UNKNOWN_TYPE = -3,
    ADD_INVALID_PATH = -4,
    ADD_TYPE_DIFFERS = -5,
    ADD_INVALID_DEFAULT = -6,
    ADD_DEFAULT_OUT_OF_RANGE = -7,
    ADD_IS_GROUP = -8,
    ADD_NOT_IN_SETTINGS = -9,
    /* Not a code: localsettings cannot create the D-Bus object (not a valid object path, or
     * below a setting), raises, and the whole call answers a D-Bus error. */
    ADD_RAISES = -100,
};

/* A value of a setting's type ('i', 'f' or 's'); s owned where stored. */
struct value {
    int64_t i;
    double d;
    char *s;
};

/* A value as it came off the wire, before conversion to a setting type. dbus_type: its D-Bus
 * type (AddSettings takes the setting type from it; str() of a byte is a character). */
struct wire_value {
    enum { WIRE_NONE, WIRE_INT, WIRE_DOUBLE, WIRE_STRING } kind;
    int dbus_type;
    int64_t i;
    double d;
    const char *s;
};

struct setting {
    char *path;
    char type;
    struct value value, def, min, max;
    bool has_min, has_max, silent;
};

struct standin {
    struct mainloop *loop;
    DBusConnection *conn;
    const char *file;
    struct setting *settings;
    size_t count, capacity;
};

static void fail(const char *what)
{
    fprintf(stderr, "localsettings-standin: %s\n", what);
}

/* ---- values ---- */

static bool values_equal(char type, const struct value *a, const struct value *b)
{
    switch (type) {
    case 'i':
        return a->i == b->i;
    case 'f':
        return a->d == b->d;
    default:
        return strcmp(a->s, b->s) == 0;
    }
}

static int value_compare(char type, const struct value *a, const struct value *b)
{
    if (type == 'i')
        return (a->i > b->i) - (a->i < b->i);
    return (a->d > b->d) - (a->d < b->d);
}

static void free_value(char type, struct value *v)
{
    if (type == 's') {
        free(v->s);
        v->s = NULL;
    }
}

static int copy_value(char type, struct value *dst, const struct value *src)
{
    *dst = *src;
    if (type == 's' && !(dst->s = strdup(src->s)))
        return -ENOMEM;
    return 0;
}

/* Like Python's repr(float): the shortest digits that read back as the same double, in fixed
 * notation for exponents -4..15 ("1000.0", "0.001") and in exponent notation otherwise
 * ("1e+16", "1.5e-05"). */
static void format_double(double d, char *buf, size_t size)
{
    if (isnan(d) || isinf(d)) {
        snprintf(buf, size, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    snprintf(buf, size, "%.*e", digits - 1, d);
    int exponent = atoi(strchr(buf, 'e') + 1);
    if (exponent < -4 || exponent >= 16)
        return;
    snprintf(buf, size, "%.*f", digits - 1 - exponent > 0 ? digits - 1 - exponent : 0, d);
    if (!strchr(buf, '.'))
        strncat(buf, ".0", size - strlen(buf) - 1);
}

/* GetText of a setting: Python's str() of the value, as localsettings does. */
static const char *value_text(char type, const struct value *v, char buf[TEXT_MAX])
{
    if (type == 's')
        return v->s;
    if (type == 'i')
        snprintf(buf, TEXT_MAX, "%" PRId64, v->i);
    else
        format_double(v->d, buf, TEXT_MAX);
    return buf;
}

/* Python's int() and float() of a string: surrounding whitespace is ignored and '_' may stand
 * between two digits. The text without them goes to buf; false if it is not a number's text. */
static bool python_number_text(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    while (isspace((unsigned char)*s))
        s++;
    for (; *s; s++) {
        if (*s == '_' && n > 0 && isdigit((unsigned char)buf[n - 1]) &&
            isdigit((unsigned char)s[1]))
            continue;
        if (*s == '_' || n + 1 >= size)
            return false;
        buf[n++] = *s;
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    return n > 0;
}

static bool python_int(const char *s, int64_t *out)
{
    char buf[TEXT_MAX], *end;
    if (!python_number_text(s, buf, sizeof(buf)))
        return false;
    const char *digits = buf + (buf[0] == '+' || buf[0] == '-');
    if (!*digits || strspn(digits, "0123456789") != strlen(digits))
        return false;
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool python_float(const char *s, double *out)
{
    char buf[TEXT_MAX], *end;
    /* strtod also reads hexadecimal and "nan(...)", which float() refuses */
    if (!python_number_text(s, buf, sizeof(buf)) || strpbrk(buf, "xX(") ||
        isspace((unsigned char)buf[0]))
        return false;
    errno = 0;
    *out = strtod(buf, &end);
    return *end == '\0' && !(errno == ERANGE && *out == 0.0 && strpbrk(buf, "123456789"));
}

/* A value converted to a setting type the way localsettings' convertToType does it, with Python's
 * int(), float() or str(): 7.9 -> 7, "5" -> 5, 5 -> "5", 7.5 -> "7.5", a byte 65 -> "A". A string
 * made from a number is allocated; otherwise borrowed. Fails for what Python refuses and for the
 * invalid value (an empty array), of which str() would make "dbus.Array([], ...)". */
static int convert(char type, const struct wire_value *in, struct value *out, bool *allocated)
{
    *allocated = false;
    memset(out, 0, sizeof(*out));
    switch (type) {
    case 'i':
        if (in->kind == WIRE_INT)
            out->i = in->i;
        else if (in->kind == WIRE_DOUBLE && isfinite(in->d) && fabs(in->d) < 9.2e18)
            out->i = (int64_t)in->d;
        else if (in->kind != WIRE_STRING || !python_int(in->s, &out->i))
            return -EINVAL;
        return 0;
    case 'f':
        if (in->kind == WIRE_DOUBLE)
            out->d = in->d;
        else if (in->kind == WIRE_INT)
            out->d = (double)in->i;
        else if (in->kind != WIRE_STRING || !python_float(in->s, &out->d))
            return -EINVAL;
        return 0;
    case 's':
        if (in->kind == WIRE_STRING) {
            out->s = (char *)in->s;
            return 0;
        }
        if (in->kind == WIRE_NONE)
            return -EINVAL;
        char buf[TEXT_MAX];
        struct value tmp = {.i = in->i, .d = in->d};
        if (in->dbus_type == DBUS_TYPE_BYTE && in->i < 0x80)
            snprintf(buf, sizeof(buf), "%c", (char)in->i); /* dbus.Byte's str() is chr() */
        else if (in->dbus_type == DBUS_TYPE_BYTE)
            snprintf(buf, sizeof(buf), "%c%c", (char)(0xC0 | in->i >> 6),
                     (char)(0x80 | (in->i & 0x3F)));
        else
            value_text(in->kind == WIRE_INT ? 'i' : 'f', &tmp, buf);
        if (!(out->s = strdup(buf)))
            return -ENOMEM;
        *allocated = true;
        return 0;
    }
    return -EINVAL;
}

static bool read_wire_value(DBusMessageIter *variant, struct wire_value *out)
{
    DBusMessageIter inner;
    DBusBasicValue v;
    memset(out, 0, sizeof(*out));
    /* dbus-python callers without introspection data send a bare value where a variant is
     * declared; localsettings (dbus-python too) takes it, so do we. */
    if (dbus_message_iter_get_arg_type(variant) == DBUS_TYPE_VARIANT)
        dbus_message_iter_recurse(variant, &inner);
    else if (dbus_type_is_basic(dbus_message_iter_get_arg_type(variant)))
        inner = *variant;
    else
        return false;
    int type = dbus_message_iter_get_arg_type(&inner);
    if (dbus_type_is_basic(type))
        dbus_message_iter_get_basic(&inner, &v);
    out->dbus_type = type;
    switch (type) {
    case DBUS_TYPE_BYTE:
        out->kind = WIRE_INT, out->i = v.byt;
        break;
    case DBUS_TYPE_BOOLEAN: /* a Python int: str(True) is "1" for dbus.Boolean */
        out->kind = WIRE_INT, out->i = v.bool_val ? 1 : 0;
        break;
    case DBUS_TYPE_INT16:
        out->kind = WIRE_INT, out->i = v.i16;
        break;
    case DBUS_TYPE_UINT16:
        out->kind = WIRE_INT, out->i = v.u16;
        break;
    case DBUS_TYPE_INT32:
        out->kind = WIRE_INT, out->i = v.i32;
        break;
    case DBUS_TYPE_UINT32:
        out->kind = WIRE_INT, out->i = v.u32;
        break;
    case DBUS_TYPE_INT64:
        out->kind = WIRE_INT, out->i = v.i64;
        break;
    case DBUS_TYPE_UINT64:
        out->kind = v.u64 <= INT64_MAX ? WIRE_INT : WIRE_NONE, out->i = (int64_t)v.u64;
        break;
    case DBUS_TYPE_DOUBLE:
        out->kind = WIRE_DOUBLE, out->d = v.dbl;
        break;
    case DBUS_TYPE_STRING:
    case DBUS_TYPE_OBJECT_PATH:
    case DBUS_TYPE_SIGNATURE:
        out->kind = WIRE_STRING, out->s = v.str;
        break;
    default: /* an empty "ai" (invalid) and everything else */
        out->kind = WIRE_NONE;
        break;
    }
    return true;
}

static bool append_value(DBusMessageIter *iter, char type, const struct value *v)
{
    DBusMessageIter variant;
    DBusBasicValue b;
    int dtype;
    if (type == 'i' && v->i >= INT32_MIN && v->i <= INT32_MAX)
        dtype = DBUS_TYPE_INT32, b.i32 = (int32_t)v->i;
    else if (type == 'i')
        dtype = DBUS_TYPE_INT64, b.i64 = v->i;
    else if (type == 'f')
        dtype = DBUS_TYPE_DOUBLE, b.dbl = v->d;
    else
        dtype = DBUS_TYPE_STRING, b.str = v->s;
    char sig[2] = {(char)dtype, '\0'};
    if (!dbus_message_iter_open_container(iter, DBUS_TYPE_VARIANT, sig, &variant))
        return false;
    if (!dbus_message_iter_append_basic(&variant, dtype, &b)) {
        dbus_message_iter_abandon_container(iter, &variant);
        return false;
    }
    return dbus_message_iter_close_container(iter, &variant);
}

static bool append_entry(DBusMessageIter *dict, const char *key, char type, const struct value *v)
{
    DBusMessageIter entry;
    if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry))
        return false;
    if (!dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) ||
        !append_value(&entry, type, v)) {
        dbus_message_iter_abandon_container(dict, &entry);
        return false;
    }
    return dbus_message_iter_close_container(dict, &entry);
}

/* ---- the settings table ---- */

static struct setting *find_setting(struct standin *st, const char *path)
{
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->settings[i].path, path) == 0)
            return &st->settings[i];
    return NULL;
}

static bool path_below(const char *path, const char *group)
{
    if (strcmp(group, "/") == 0)
        return path[0] == '/' && path[1] != '\0';
    size_t n = strlen(group);
    return strncmp(path, group, n) == 0 && path[n] == '/';
}

/* "/", "/Settings" and "/Settings/Devices" always exist (localsettings creates them at start);
 * other groups exist while a setting lies below them. */
static bool is_group(struct standin *st, const char *path)
{
    if (strcmp(path, "/") == 0 || strcmp(path, "/Settings") == 0 ||
        strcmp(path, "/Settings/Devices") == 0)
        return true;
    for (size_t i = 0; i < st->count; i++)
        if (path_below(st->settings[i].path, path))
            return true;
    return false;
}

/* True if a proper prefix of path is a setting (a setting cannot have children). */
static bool below_a_setting(struct standin *st, const char *path)
{
    for (size_t i = 0; i < st->count; i++)
        if (path_below(path, st->settings[i].path))
            return true;
    return false;
}

static const char *last_element(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* localsettings makes /Settings/Devices/<id>/ClassAndVrmInstance (and only that) special. */
static bool is_class_instance_setting(const char *path)
{
    if (strncmp(path, DEVICES_PREFIX, strlen(DEVICES_PREFIX)) != 0)
        return false;
    const char *id = path + strlen(DEVICES_PREFIX);
    const char *slash = strchr(id, '/');
    return slash && slash > id && strcmp(slash + 1, CLASS_INSTANCE) == 0;
}

/* "<class>:<N>": the class length and N, as Python's split(":") and int() see it. */
static bool parse_class_instance(const char *s, size_t *class_len, long long *instance)
{
    const char *colon = strchr(s, ':');
    if (!colon || strchr(colon + 1, ':'))
        return false;
    int64_t n;
    if (!python_int(colon + 1, &n))
        return false;
    *instance = n;
    *class_len = (size_t)(colon - s);
    return true;
}

/* The first "<class>:<N'>" with N' >= N not held by another ClassAndVrmInstance setting. */
static char *free_class_instance(struct standin *st, const struct setting *self, const char *cls,
                                 size_t class_len, long long instance)
{
    char candidate[256];
    for (;; instance++) {
        snprintf(candidate, sizeof(candidate), "%.*s:%lld", (int)class_len, cls, instance);
        bool taken = false;
        for (size_t i = 0; i < st->count && !taken; i++) {
            const struct setting *other = &st->settings[i];
            taken = other != self && other->type == 's' &&
                    strncmp(other->path, DEVICES_PREFIX, strlen(DEVICES_PREFIX)) == 0 &&
                    strcmp(last_element(other->path), CLASS_INSTANCE) == 0 &&
                    strcmp(other->value.s, candidate) == 0;
        }
        if (!taken)
            return strdup(candidate);
    }
}

/* ---- persistence ---- */

static void write_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\t')
            fputs("\\t", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void write_value(FILE *f, char type, const struct value *v)
{
    char buf[TEXT_MAX];
    if (type == 's')
        write_escaped(f, v->s);
    else if (type == 'i')
        fprintf(f, "%" PRId64, v->i);
    else
        fprintf(f, "%s", (snprintf(buf, sizeof(buf), "%.17g", v->d), buf));
}

static int save_file(struct standin *st)
{
    if (!st->file)
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", st->file);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "localsettings-standin: cannot write %s: %s\n", tmp, strerror(errno));
        return -errno;
    }
    fprintf(f, "# localsettings-standin: path type value default min max silent\n");
    for (size_t i = 0; i < st->count; i++) {
        const struct setting *s = &st->settings[i];
        fprintf(f, "%s\t%c\t", s->path, s->type);
        write_value(f, s->type, &s->value);
        fputc('\t', f);
        write_value(f, s->type, &s->def);
        fputc('\t', f);
        if (s->has_min)
            write_value(f, s->type, &s->min);
        fputc('\t', f);
        if (s->has_max)
            write_value(f, s->type, &s->max);
        fprintf(f, "\t%d\n", s->silent ? 1 : 0);
    }
    int rc = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, st->file) != 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "localsettings-standin: cannot save %s: %s\n", st->file, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}

static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *out++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static bool parse_field(char type, char *text, struct value *out)
{
    char *end;
    memset(out, 0, sizeof(*out));
    errno = 0;
    if (type == 's') {
        unescape(text);
        return dbus_validate_utf8(text, NULL) && (out->s = strdup(text)) != NULL;
    }
    if (type == 'i')
        out->i = strtoll(text, &end, 10);
    else
        out->d = strtod(text, &end);
    return *text && *end == '\0' && errno == 0;
}

static struct setting *append_setting(struct standin *st, const char *path, char type)
{
    if (st->count == st->capacity) {
        size_t capacity = st->capacity ? st->capacity * 2 : 32;
        struct setting *grown = realloc(st->settings, capacity * sizeof(*grown));
        if (!grown)
            return NULL;
        st->settings = grown;
        st->capacity = capacity;
    }
    struct setting *s = &st->settings[st->count];
    memset(s, 0, sizeof(*s));
    if (!(s->path = strdup(path)))
        return NULL;
    s->type = type;
    st->count++;
    return s;
}

static void free_setting_values(struct setting *s)
{
    free_value(s->type, &s->value);
    free_value(s->type, &s->def);
    free(s->path);
}

/* One line: path type value default min max silent. */
static bool load_line(struct standin *st, char *line)
{
    char *field[7];
    int n = 0;
    for (char *p = line; n < 7; n++) {
        field[n] = p;
        p = strchr(p, '\t');
        if (!p) {
            n++;
            break;
        }
        *p++ = '\0';
    }
    if (n != 7 || strlen(field[1]) != 1 || !strchr("ifs", field[1][0]) ||
        !dbus_validate_path(field[0], NULL) || find_setting(st, field[0]))
        return false;
    char type = field[1][0];
    struct setting tmp = {.type = type};
    bool ok = parse_field(type, field[2], &tmp.value) && parse_field(type, field[3], &tmp.def);
    if (ok && type != 's' && *field[4])
        ok = tmp.has_min = parse_field(type, field[4], &tmp.min);
    if (ok && type != 's' && *field[5])
        ok = tmp.has_max = parse_field(type, field[5], &tmp.max);
    struct setting *s = ok ? append_setting(st, field[0], type) : NULL;
    if (!s) {
        free_value(type, &tmp.value);
        free_value(type, &tmp.def);
        return false;
    }
    tmp.path = s->path;
    tmp.silent = strcmp(field[6], "1") == 0;
    *s = tmp;
    return true;
}

static int load_file(struct standin *st)
{
    FILE *f = fopen(st->file, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t size = 0;
    unsigned number = 0;
    ssize_t len;
    while ((len = getline(&line, &size, f)) >= 0) {
        number++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (!load_line(st, line))
            fprintf(stderr, "localsettings-standin: %s:%u: ignoring a malformed line\n", st->file,
                    number);
    }
    free(line);
    fclose(f);
    return 0;
}

/* ---- changing values ---- */

static void emit_properties_changed(struct standin *st, const struct setting *s,
                                    bool with_attributes)
{
    DBusMessage *sig = dbus_message_new_signal(s->path, BUSITEM_INTERFACE, "PropertiesChanged");
    DBusMessageIter iter, dict;
    char buf[TEXT_MAX];
    struct value text = {.s = (char *)value_text(s->type, &s->value, buf)};
    struct value zero = {0};
    if (!sig)
        return;
    dbus_message_iter_init_append(sig, &iter);
    bool ok = dbus_message_iter_open_container(&iter, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
              append_entry(&dict, "Value", s->type, &s->value) &&
              append_entry(&dict, "Text", 's', &text);
    if (ok && with_attributes) {
        ok = append_entry(&dict, "Default", s->type, &s->def);
        if (ok && s->type != 's')
            ok = append_entry(&dict, "Min", s->has_min ? s->type : 'i',
                              s->has_min ? &s->min : &zero) &&
                 append_entry(&dict, "Max", s->has_max ? s->type : 'i',
                              s->has_max ? &s->max : &zero);
    }
    if (ok && dbus_message_iter_close_container(&iter, &dict))
        dbus_connection_send(st->conn, sig, NULL);
    else
        fail("out of memory building PropertiesChanged");
    dbus_message_unref(sig);
}

/* What localsettings sends when a setting goes away: {"Value": invalid (an empty "ai"), "Text":
 * ""}. */
static void emit_removed(struct standin *st, const char *path)
{
    DBusMessage *sig = dbus_message_new_signal(path, BUSITEM_INTERFACE, "PropertiesChanged");
    DBusMessageIter iter, dict, entry, variant, array;
    const char *value_key = "Value", *text_key = "Text", *empty = "";
    if (!sig)
        return;
    dbus_message_iter_init_append(sig, &iter);
    bool ok = dbus_message_iter_open_container(&iter, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
              dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
              dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &value_key) &&
              dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "ai", &variant) &&
              dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, "i", &array) &&
              dbus_message_iter_close_container(&variant, &array) &&
              dbus_message_iter_close_container(&entry, &variant) &&
              dbus_message_iter_close_container(&dict, &entry) &&
              dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
              dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &text_key) &&
              dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &variant) &&
              dbus_message_iter_append_basic(&variant, DBUS_TYPE_STRING, &empty) &&
              dbus_message_iter_close_container(&entry, &variant) &&
              dbus_message_iter_close_container(&dict, &entry) &&
              dbus_message_iter_close_container(&iter, &dict);
    if (ok)
        dbus_connection_send(st->conn, sig, NULL);
    else
        fail("out of memory building PropertiesChanged");
    dbus_message_unref(sig);
}

/* Stores a value (a ClassAndVrmInstance bumped to a free instance first), announces it and saves.
 * false: not a valid ClassAndVrmInstance value, or out of memory. */
static bool store_value(struct standin *st, struct setting *s, const struct value *v,
                        bool with_attributes)
{
    struct value copy;
    if (is_class_instance_setting(s->path)) {
        size_t class_len;
        long long instance;
        if (!parse_class_instance(v->s, &class_len, &instance))
            return false;
        copy.s = free_class_instance(st, s, v->s, class_len, instance);
        if (!copy.s)
            return false;
    } else if (copy_value(s->type, &copy, v) < 0) {
        return false;
    }
    free_value(s->type, &s->value);
    s->value = copy;
    save_file(st); /* first, so whoever sees the signal finds the file up to date */
    emit_properties_changed(st, s, with_attributes);
    return true;
}

/* ---- AddSetting(s) ---- */

struct add_request {
    const char *path; /* absolute */
    char type;
    const struct wire_value *def, *min, *max; /* min/max may be NULL */
    bool silent;
    bool on_root;
};

static enum add_error add_setting(struct standin *st, const struct add_request *req,
                                  struct setting **out)
{
    *out = NULL;
    if (strstr(req->path, "/_"))
        return ADD_UNDERSCORE_PREFIX;
    if (!req->type || !strchr("ifs", req->type))
        return ADD_UNKNOWN_TYPE;
    struct value def, min = {0}, max = {0};
    bool def_allocated, min_allocated, max_allocated, has_min = false, has_max = false;
    if (convert(req->type, req->def, &def, &def_allocated) < 0)
        return ADD_INVALID_DEFAULT;
    enum add_error rc = ADD_OK;
    if (req->type != 's') {
        has_min = req->min && convert(req->type, req->min, &min, &min_allocated) == 0;
        has_max = req->max && convert(req->type, req->max, &max, &max_allocated) == 0;
        if (has_min && has_max && min.i == 0 && min.d == 0 && max.i == 0 && max.d == 0)
            has_min = has_max = false; /* min = max = 0 means "no range" */
        if ((has_min && value_compare(req->type, &def, &min) < 0) ||
            (has_max && value_compare(req->type, &def, &max) > 0))
            rc = ADD_DEFAULT_OUT_OF_RANGE;
    }
    if (rc == ADD_OK && req->on_root && strncmp(req->path, "/Settings/", 10) != 0)
        rc = ADD_NOT_IN_SETTINGS;

    struct setting *s = rc == ADD_OK ? find_setting(st, req->path) : NULL;
    bool created = false;
    size_t class_len;
    long long instance;
    if (rc == ADD_OK && s) {
        if (s->type != req->type) {
            rc = ADD_TYPE_DIFFERS;
        } else if (is_class_instance_setting(s->path) &&
                   !parse_class_instance(def.s, &class_len, &instance)) {
            rc = ADD_INVALID_DEFAULT; /* nothing changes; the reply still has the value */
            *out = s;
        } else if (values_equal(s->type, &s->def, &def) && s->has_min == has_min &&
                   s->has_max == has_max && (!has_min || values_equal(s->type, &s->min, &min)) &&
                   (!has_max || values_equal(s->type, &s->max, &max)) && s->silent == req->silent) {
            *out = s; /* nothing changed */
        }
    } else if (rc == ADD_OK) {
        if (is_group(st, req->path)) {
            rc = ADD_IS_GROUP;
        } else if (!dbus_validate_path(req->path, NULL) || below_a_setting(st, req->path)) {
            rc = ADD_RAISES;
        } else if (is_class_instance_setting(req->path) &&
                   (req->type != 's' || !parse_class_instance(def.s, &class_len, &instance))) {
            /* localsettings creates the setting, fails to store the value and removes it */
            emit_removed(st, req->path);
            rc = ADD_INVALID_DEFAULT;
        } else if (!(s = append_setting(st, req->path, req->type))) {
            rc = ADD_INVALID_DEFAULT;
        } else {
            created = true;
        }
    }
    if (rc == ADD_OK && !*out) {
        /* New, or attributes changed: store them and (re)announce the value. */
        struct value current;
        free_value(s->type, &s->def);
        copy_value(s->type, &s->def, &def);
        s->min = min, s->max = max, s->has_min = has_min, s->has_max = has_max;
        s->silent = req->silent;
        if (created)
            s->value = (struct value){0};
        if (copy_value(s->type, &current, created ? &def : &s->value) < 0 ||
            !store_value(st, s, &current, true)) {
            rc = ADD_INVALID_DEFAULT;
        }
        free_value(s->type, &current);
        if (rc != ADD_OK && created) {
            free_setting_values(s);
            st->count--;
        } else {
            *out = s;
        }
    }
    if (def_allocated)
        free(def.s);
    (void)min_allocated, (void)max_allocated; /* numbers only: never allocated */
    return rc;
}

/* The absolute path of a setting named on group node `object` with a relative path. Like
 * localsettings: below "/" the path is taken as it is (AddSettings then wants "/Settings/..."),
 * below other groups a leading '/' is optional. */
static void join_path(char *buf, size_t size, const char *object, const char *relative)
{
    if (strcmp(object, "/") == 0)
        snprintf(buf, size, "%s", relative);
    else
        snprintf(buf, size, "%s/%s", object, relative + (relative[0] == '/'));
}

static bool append_add_result(DBusMessageIter *array, const char *path, enum add_error error,
                              const struct setting *s)
{
    DBusMessageIter dict;
    struct value p = {.s = (char *)path}, e = {.i = error};
    if (!dbus_message_iter_open_container(array, DBUS_TYPE_ARRAY, "{sv}", &dict))
        return false;
    bool ok = (!path || append_entry(&dict, "path", 's', &p)) &&
              append_entry(&dict, "error", 'i', &e) &&
              (!s || append_entry(&dict, "value", s->type, &s->value));
    if (!ok) {
        dbus_message_iter_abandon_container(array, &dict);
        return false;
    }
    return dbus_message_iter_close_container(array, &dict);
}

/* One AddSettings item {"path": s, "default": v, "min": v, "max": v, "silent": v}. */
static bool add_one(struct standin *st, const char *object, DBusMessageIter *item,
                    DBusMessageIter *results, bool *raised)
{
    struct wire_value path = {0}, def = {0}, min, max, silent = {0};
    bool has_min = false, has_max = false;
    DBusMessageIter dict;
    dbus_message_iter_recurse(item, &dict);
    for (; dbus_message_iter_get_arg_type(&dict) == DBUS_TYPE_DICT_ENTRY;
         dbus_message_iter_next(&dict)) {
        DBusMessageIter entry;
        const char *key;
        dbus_message_iter_recurse(&dict, &entry);
        dbus_message_iter_get_basic(&entry, &key);
        dbus_message_iter_next(&entry);
        if (strcmp(key, "path") == 0)
            read_wire_value(&entry, &path);
        else if (strcmp(key, "default") == 0)
            read_wire_value(&entry, &def);
        else if (strcmp(key, "min") == 0)
            has_min = read_wire_value(&entry, &min);
        else if (strcmp(key, "max") == 0)
            has_max = read_wire_value(&entry, &max);
        else if (strcmp(key, "silent") == 0)
            read_wire_value(&entry, &silent);
    }
    if (path.kind != WIRE_STRING)
        return append_add_result(results, NULL, ADD_INVALID_PATH, NULL);

    char full[1024];
    join_path(full, sizeof(full), object, path.s);
    /* The type comes from the default's D-Bus type: int32/int64 -> i, double -> f, string -> s;
     * any other (a byte, uint32, boolean...) is an unknown type. */
    char type = def.dbus_type == DBUS_TYPE_INT32 || def.dbus_type == DBUS_TYPE_INT64 ? 'i'
                : def.dbus_type == DBUS_TYPE_DOUBLE                                  ? 'f'
                : def.dbus_type == DBUS_TYPE_STRING                                  ? 's'
                                                                                     : 0;
    struct setting *s = NULL;
    enum add_error error = ADD_UNKNOWN_TYPE;
    if (type) {
        struct add_request req = {
            .path = full,
            .type = type,
            .def = &def,
            .min = has_min ? &min : NULL,
            .max = has_max ? &max : NULL,
            .silent = (silent.kind == WIRE_INT && silent.i) ||
                      (silent.kind == WIRE_DOUBLE && silent.d != 0) ||
                      (silent.kind == WIRE_STRING && *silent.s),
            .on_root = strcmp(object, "/") == 0,
        };
        error = add_setting(st, &req, &s);
    }
    if (error == ADD_RAISES) {
        *raised = true;
        return true;
    }
    return append_add_result(results, path.s, error, s);
}

/* localsettings' answer when dbus-python cannot create the object (ValueError, KeyError). */
static DBusMessage *raise_bad_path(DBusMessage *msg)
{
    return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS,
                                  "not a path a setting can have (localsettings raises)");
}

static DBusMessage *handle_add_settings(struct standin *st, DBusMessage *msg, const char *object)
{
    DBusMessageIter iter, items, results_iter, results;
    if (strcmp(dbus_message_get_signature(msg), "aa{sv}") != 0)
        return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "expected aa{sv}");
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (!reply)
        return NULL;
    dbus_message_iter_init(msg, &iter);
    dbus_message_iter_recurse(&iter, &items);
    dbus_message_iter_init_append(reply, &results_iter);
    bool ok = dbus_message_iter_open_container(&results_iter, DBUS_TYPE_ARRAY, "a{sv}", &results);
    bool raised = false;
    for (; ok && !raised && dbus_message_iter_get_arg_type(&items) == DBUS_TYPE_ARRAY;
         dbus_message_iter_next(&items))
        ok = add_one(st, object, &items, &results, &raised);
    if (raised) {
        /* The settings before the bad one stay added, as in localsettings. */
        dbus_message_iter_abandon_container(&results_iter, &results);
        dbus_message_unref(reply);
        return raise_bad_path(msg);
    }
    if (ok && dbus_message_iter_close_container(&results_iter, &results))
        return reply;
    dbus_message_unref(reply);
    return NULL;
}

static DBusMessage *handle_add_setting(struct standin *st, DBusMessage *msg, const char *object)
{
    DBusMessageIter iter;
    const char *group, *name, *type_name;
    struct wire_value def, min, max;
    bool ok = dbus_message_iter_init(msg, &iter) &&
              dbus_message_iter_get_arg_type(&iter) == DBUS_TYPE_STRING;
    if (ok) {
        dbus_message_iter_get_basic(&iter, &group);
        ok = dbus_message_iter_next(&iter) &&
             dbus_message_iter_get_arg_type(&iter) == DBUS_TYPE_STRING;
    }
    if (ok) {
        dbus_message_iter_get_basic(&iter, &name);
        ok = dbus_message_iter_next(&iter) && read_wire_value(&iter, &def) &&
             dbus_message_iter_next(&iter) &&
             dbus_message_iter_get_arg_type(&iter) == DBUS_TYPE_STRING;
    }
    if (ok) {
        dbus_message_iter_get_basic(&iter, &type_name);
        ok = dbus_message_iter_next(&iter) && read_wire_value(&iter, &min) &&
             dbus_message_iter_next(&iter) && read_wire_value(&iter, &max) &&
             !dbus_message_iter_next(&iter);
    }
    if (!ok)
        return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "expected ssvsvv");

    char relative[1024], full[2048];
    snprintf(relative, sizeof(relative), "%s%s%s%s", group[0] == '/' || !*group ? "" : "/", group,
             name[0] == '/' ? "" : "/", name);
    join_path(full, sizeof(full), object, relative);
    struct add_request req = {
        .path = full,
        .type = strlen(type_name) == 1 ? type_name[0] : 0,
        .def = &def,
        .min = &min,
        .max = &max,
        .on_root = strcmp(object, "/") == 0,
    };
    struct setting *s;
    int32_t rc = add_setting(st, &req, &s);
    if (rc == ADD_RAISES)
        return raise_bad_path(msg);
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (reply && !dbus_message_append_args(reply, DBUS_TYPE_INT32, &rc, DBUS_TYPE_INVALID)) {
        dbus_message_unref(reply);
        reply = NULL;
    }
    return reply;
}

/* ---- BusItem methods ---- */

static DBusMessage *reply_value(DBusMessage *msg, char type, const struct value *v)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    DBusMessageIter iter;
    if (!reply)
        return NULL;
    dbus_message_iter_init_append(reply, &iter);
    if (append_value(&iter, type, v))
        return reply;
    dbus_message_unref(reply);
    return NULL;
}

static DBusMessage *reply_int32(DBusMessage *msg, int32_t n)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (reply && !dbus_message_append_args(reply, DBUS_TYPE_INT32, &n, DBUS_TYPE_INVALID)) {
        dbus_message_unref(reply);
        return NULL;
    }
    return reply;
}

static int32_t set_value(struct standin *st, struct setting *s, const struct wire_value *in)
{
    struct value v;
    bool allocated;
    int32_t rc = 0;
    if (convert(s->type, in, &v, &allocated) < 0)
        return -1;
    if ((s->has_min && value_compare(s->type, &v, &s->min) < 0) ||
        (s->has_max && value_compare(s->type, &v, &s->max) > 0))
        rc = -1;
    else if (!values_equal(s->type, &v, &s->value) && !store_value(st, s, &v, false))
        rc = -1;
    if (allocated)
        free(v.s);
    return rc;
}

static DBusMessage *handle_setting(struct standin *st, DBusMessage *msg, struct setting *s)
{
    const char *member = dbus_message_get_member(msg);
    const struct value zero = {0};
    char buf[TEXT_MAX];
    if (strcmp(member, "GetValue") == 0)
        return reply_value(msg, s->type, &s->value);
    if (strcmp(member, "GetText") == 0) { /* "s", not a variant */
        const char *text = value_text(s->type, &s->value, buf);
        DBusMessage *reply = dbus_message_new_method_return(msg);
        if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID)) {
            dbus_message_unref(reply);
            reply = NULL;
        }
        return reply;
    }
    if (strcmp(member, "GetDefault") == 0)
        return reply_value(msg, s->type, &s->def);
    /* Without a range localsettings answers int32 0. */
    if (strcmp(member, "GetMin") == 0)
        return s->has_min ? reply_value(msg, s->type, &s->min) : reply_value(msg, 'i', &zero);
    if (strcmp(member, "GetMax") == 0)
        return s->has_max ? reply_value(msg, s->type, &s->max) : reply_value(msg, 'i', &zero);
    if (strcmp(member, "SetValue") == 0) {
        DBusMessageIter iter;
        struct wire_value in;
        if (!dbus_message_iter_init(msg, &iter) || !read_wire_value(&iter, &in))
            return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "expected v");
        return reply_int32(msg, set_value(st, s, &in));
    }
    if (strcmp(member, "SetDefault") == 0) {
        if (is_class_instance_setting(s->path)) /* localsettings raises a TypeError here */
            return dbus_message_new_error(msg, DBUS_ERROR_FAILED,
                                          "SetDefault is not supported on ClassAndVrmInstance");
        struct wire_value def = {.kind = s->type == 'i'   ? WIRE_INT
                                         : s->type == 'f' ? WIRE_DOUBLE
                                                          : WIRE_STRING,
                                 .i = s->def.i,
                                 .d = s->def.d,
                                 .s = s->def.s};
        return reply_int32(msg, set_value(st, s, &def));
    }
    return NULL;
}

/* ---- group nodes ---- */

/* GetValue (a{sv}) or GetText (a{ss}) of a group: every setting below it, keys relative. */
static DBusMessage *reply_group(struct standin *st, DBusMessage *msg, const char *object, bool text)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    DBusMessageIter iter, variant, dict;
    size_t prefix = strcmp(object, "/") == 0 ? 1 : strlen(object) + 1;
    char buf[TEXT_MAX];
    if (!reply)
        return NULL;
    dbus_message_iter_init_append(reply, &iter);
    bool ok =
        dbus_message_iter_open_container(&iter, DBUS_TYPE_VARIANT, text ? "a{ss}" : "a{sv}",
                                         &variant) &&
        dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, text ? "{ss}" : "{sv}", &dict);
    for (size_t i = 0; ok && i < st->count; i++) {
        const struct setting *s = &st->settings[i];
        if (!path_below(s->path, object))
            continue;
        const char *key = s->path + prefix;
        if (text) {
            DBusMessageIter entry;
            const char *t = value_text(s->type, &s->value, buf);
            ok = dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
                 dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
                 dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &t) &&
                 dbus_message_iter_close_container(&dict, &entry);
        } else {
            ok = append_entry(&dict, key, s->type, &s->value);
        }
    }
    if (ok && dbus_message_iter_close_container(&variant, &dict) &&
        dbus_message_iter_close_container(&iter, &variant))
        return reply;
    dbus_message_unref(reply);
    return NULL;
}

/* GetItems on "/": {"/abs/path": {"Value": v, "Text": s, "Default": v, "Min": v, "Max": v}} for
 * every setting; Min and Max only when the setting has them. */
static DBusMessage *reply_items(struct standin *st, DBusMessage *msg)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    DBusMessageIter iter, items;
    char buf[TEXT_MAX];
    if (!reply)
        return NULL;
    dbus_message_iter_init_append(reply, &iter);
    bool ok = dbus_message_iter_open_container(&iter, DBUS_TYPE_ARRAY, "{sa{sv}}", &items);
    for (size_t i = 0; ok && i < st->count; i++) {
        const struct setting *s = &st->settings[i];
        struct value text = {.s = (char *)value_text(s->type, &s->value, buf)};
        DBusMessageIter entry, props;
        const char *path = s->path;
        ok = dbus_message_iter_open_container(&items, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
             dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &path) &&
             dbus_message_iter_open_container(&entry, DBUS_TYPE_ARRAY, "{sv}", &props) &&
             append_entry(&props, "Value", s->type, &s->value) &&
             append_entry(&props, "Text", 's', &text) &&
             append_entry(&props, "Default", s->type, &s->def) &&
             (!s->has_min || append_entry(&props, "Min", s->type, &s->min)) &&
             (!s->has_max || append_entry(&props, "Max", s->type, &s->max)) &&
             dbus_message_iter_close_container(&entry, &props) &&
             dbus_message_iter_close_container(&items, &entry);
    }
    if (ok && dbus_message_iter_close_container(&iter, &items))
        return reply;
    dbus_message_unref(reply);
    return NULL;
}

/* RemoveSettings(as) -> ai: 0 for each setting removed (it announces an invalid value), -1 for a
 * path that is no setting. Paths are relative to the group node (a leading '/' optional). */
static DBusMessage *handle_remove_settings(struct standin *st, DBusMessage *msg, const char *object)
{
    DBusMessageIter iter, paths, results_iter, results;
    if (strcmp(dbus_message_get_signature(msg), "as") != 0)
        return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "expected as");
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (!reply)
        return NULL;
    dbus_message_iter_init(msg, &iter);
    dbus_message_iter_recurse(&iter, &paths);
    dbus_message_iter_init_append(reply, &results_iter);
    bool ok = dbus_message_iter_open_container(&results_iter, DBUS_TYPE_ARRAY, "i", &results);
    for (; ok && dbus_message_iter_get_arg_type(&paths) == DBUS_TYPE_STRING;
         dbus_message_iter_next(&paths)) {
        const char *relative;
        char full[1024];
        dbus_message_iter_get_basic(&paths, &relative);
        if (strcmp(object, "/") == 0) /* "/" + relative, less the leading '/' */
            snprintf(full, sizeof(full), "/%s", relative + (relative[0] == '/'));
        else
            join_path(full, sizeof(full), object, relative);
        struct setting *s = find_setting(st, full);
        int32_t rc = s ? 0 : -1;
        if (s) {
            emit_removed(st, s->path);
            free_setting_values(s);
            memmove(s, s + 1, (size_t)(&st->settings[st->count] - (s + 1)) * sizeof(*s));
            st->count--;
        }
        ok = dbus_message_iter_append_basic(&results, DBUS_TYPE_INT32, &rc);
    }
    save_file(st);
    if (ok && dbus_message_iter_close_container(&results_iter, &results))
        return reply;
    dbus_message_unref(reply);
    return NULL;
}

static DBusMessage *handle_group(struct standin *st, DBusMessage *msg, const char *object)
{
    const char *member = dbus_message_get_member(msg);
    if (strcmp(member, "AddSettings") == 0)
        return handle_add_settings(st, msg, object);
    if (strcmp(member, "AddSetting") == 0)
        return handle_add_setting(st, msg, object);
    if (strcmp(member, "RemoveSettings") == 0)
        return handle_remove_settings(st, msg, object);
    if (strcmp(member, "GetValue") == 0)
        return reply_group(st, msg, object, false);
    if (strcmp(member, "GetText") == 0)
        return reply_group(st, msg, object, true);
    if (strcmp(member, "GetItems") == 0 && strcmp(object, "/") == 0)
        return reply_items(st, msg);
    return NULL;
}

/* Introspect: the interface of the node's kind and a <node> per direct child. */
static DBusMessage *reply_introspect(struct standin *st, DBusMessage *msg, const char *object,
                                     bool setting)
{
    char *xml = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&xml, &size);
    if (!f)
        return NULL;
    fputs(DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
          "<node>\n"
          "  <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
          "    <method name=\"Introspect\"><arg direction=\"out\" type=\"s\"/></method>\n"
          "  </interface>\n",
          f);
    if (setting)
        fputs("  <interface name=\"" BUSITEM_INTERFACE "\">\n"
              "    <method name=\"GetValue\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "    <method name=\"GetText\"><arg direction=\"out\" type=\"s\"/></method>\n"
              "    <method name=\"SetValue\"><arg direction=\"in\" type=\"v\"/>"
              "<arg direction=\"out\" type=\"i\"/></method>\n"
              "    <method name=\"GetMin\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "    <method name=\"GetMax\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "    <method name=\"GetDefault\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "    <method name=\"SetDefault\"><arg direction=\"out\" type=\"i\"/></method>\n"
              "    <signal name=\"PropertiesChanged\"><arg type=\"a{sv}\"/></signal>\n"
              "  </interface>\n",
              f);
    else
        fputs("  <interface name=\"" BUSITEM_INTERFACE "\">\n"
              "    <method name=\"GetValue\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "    <method name=\"GetText\"><arg direction=\"out\" type=\"v\"/></method>\n"
              "  </interface>\n"
              "  <interface name=\"" SETTINGS_INTERFACE "\">\n"
              "    <method name=\"AddSettings\"><arg direction=\"in\" type=\"aa{sv}\"/>"
              "<arg direction=\"out\" type=\"aa{sv}\"/></method>\n"
              "    <method name=\"AddSetting\"><arg direction=\"in\" type=\"s\"/>"
              "<arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"v\"/>"
              "<arg direction=\"in\" type=\"s\"/><arg direction=\"in\" type=\"v\"/>"
              "<arg direction=\"in\" type=\"v\"/><arg direction=\"out\" type=\"i\"/></method>\n"
              "    <method name=\"RemoveSettings\"><arg direction=\"in\" type=\"as\"/>"
              "<arg direction=\"out\" type=\"ai\"/></method>\n"
              "  </interface>\n",
              f);
    size_t prefix = strcmp(object, "/") == 0 ? 1 : strlen(object) + 1;
    for (size_t i = 0; !setting && i < st->count; i++) {
        const char *child = st->settings[i].path + prefix;
        size_t len = strcspn(child, "/");
        bool seen = false;
        if (!path_below(st->settings[i].path, object))
            continue;
        for (size_t j = 0; j < i && !seen; j++) /* list each child once */
            seen = path_below(st->settings[j].path, object) &&
                   strncmp(st->settings[j].path + prefix, child, len) == 0 &&
                   (st->settings[j].path[prefix + len] == '/' ||
                    st->settings[j].path[prefix + len] == '\0');
        if (!seen)
            fprintf(f, "  <node name=\"%.*s\"/>\n", (int)len, child);
    }
    fputs("</node>\n", f);
    if (fclose(f) != 0) {
        free(xml);
        return NULL;
    }
    DBusMessage *reply = dbus_message_new_method_return(msg);
    const char *text = xml;
    if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID)) {
        dbus_message_unref(reply);
        reply = NULL;
    }
    free(xml);
    return reply;
}

/* Every object path comes here (a fallback registered on "/"). */
static DBusHandlerResult handle_message(DBusConnection *conn, DBusMessage *msg, void *user)
{
    struct standin *st = user;
    if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    const char *path = dbus_message_get_path(msg);
    const char *interface = dbus_message_get_interface(msg);
    DBusMessage *reply = NULL;
    bool known_interface = !interface || strcmp(interface, BUSITEM_INTERFACE) == 0 ||
                           strcmp(interface, SETTINGS_INTERFACE) == 0;
    struct setting *s = find_setting(st, path);
    if (dbus_message_is_method_call(msg, DBUS_INTERFACE_INTROSPECTABLE, "Introspect") &&
        (s || is_group(st, path)))
        reply = reply_introspect(st, msg, path, s != NULL);
    else if (known_interface && s)
        reply = handle_setting(st, msg, s);
    else if (known_interface && is_group(st, path))
        reply = handle_group(st, msg, path);
    if (!reply && !s && !is_group(st, path)) /* as libdbus answers for dbus-python */
        reply = dbus_message_new_error_printf(msg, DBUS_ERROR_UNKNOWN_OBJECT, "no object %s", path);
    else if (!reply)
        reply = dbus_message_new_error_printf(msg, DBUS_ERROR_UNKNOWN_METHOD, "no method %s on %s",
                                              dbus_message_get_member(msg), path);
    if (!reply)
        return DBUS_HANDLER_RESULT_NEED_MEMORY;
    if (!dbus_message_get_no_reply(msg))
        dbus_connection_send(conn, reply, NULL);
    dbus_message_unref(reply);
    return DBUS_HANDLER_RESULT_HANDLED;
}

static DBusHandlerResult watch_disconnect(DBusConnection *conn, DBusMessage *msg, void *user)
{
    (void)conn;
    struct standin *st = user;
    if (dbus_message_is_signal(msg, DBUS_INTERFACE_LOCAL, "Disconnected")) {
        fail("the bus went away");
        mainloop_quit(st->loop);
    }
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* ---- main ---- */

static DBusConnection *connect_bus(void)
{
    DBusBusType type = DBUS_BUS_SYSTEM;
    if (!getenv("DBUS_SYSTEM_BUS_ADDRESS") && getenv("DBUS_SESSION_BUS_ADDRESS"))
        type = DBUS_BUS_SESSION;
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *conn = dbus_bus_get_private(type, &err);
    if (!conn) {
        fprintf(stderr, "localsettings-standin: cannot connect to the bus: %s\n", err.message);
        dbus_error_free(&err);
        return NULL;
    }
    dbus_connection_set_exit_on_disconnect(conn, FALSE);
    return conn;
}

static int claim_name(DBusConnection *conn)
{
    DBusError err;
    dbus_error_init(&err);
    int rc = dbus_bus_request_name(conn, SERVICE_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
    if (rc == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "localsettings-standin: cannot own " SERVICE_NAME ": %s\n", err.message);
        dbus_error_free(&err);
    } else {
        fail(SERVICE_NAME " is already owned by another process");
    }
    return -EEXIST;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: localsettings-standin [--file PATH] [-v]\n"
               "Serves com.victronenergy.settings on $DBUS_SYSTEM_BUS_ADDRESS for tests;\n"
               "settings persist in PATH (tab-separated lines) when given.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct standin st = {0};
    bool verbose = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "f:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            st.file = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    int status = 1;
    if (st.file) {
        int rc = load_file(&st);
        if (rc < 0) {
            fprintf(stderr, "localsettings-standin: cannot read %s: %s\n", st.file, strerror(-rc));
            return 1;
        }
    }
    static const int signals[] = {SIGTERM, SIGINT};
    static const DBusObjectPathVTable vtable = {.message_function = handle_message};
    if (mainloop_new(&st.loop) < 0 || mainloop_catch_signals(st.loop, signals, 2) < 0) {
        fail("cannot set up the main loop");
        goto out;
    }
    st.conn = connect_bus();
    if (!st.conn)
        goto out;
    if (dbus_loop_add(st.loop, st.conn) < 0 ||
        !dbus_connection_add_filter(st.conn, watch_disconnect, &st, NULL) ||
        !dbus_connection_register_fallback(st.conn, "/", &vtable, &st)) {
        fail("out of memory");
        goto out;
    }
    if (claim_name(st.conn) < 0)
        goto out;
    if (verbose) {
        printf("localsettings-standin: ready as %s with %zu settings\n",
               dbus_bus_get_unique_name(st.conn), st.count);
        fflush(stdout);
    }
    status = mainloop_run(st.loop) < 0 ? 1 : 0;
    if (!dbus_connection_get_is_connected(st.conn))
        status = 1;
out:
    if (st.conn) {
        if (st.loop)
            dbus_loop_remove(st.loop, st.conn);
        dbus_connection_close(st.conn);
        dbus_connection_unref(st.conn);
    }
    mainloop_free(st.loop);
    for (size_t i = 0; i < st.count; i++)
        free_setting_values(&st.settings[i]);
    free(st.settings);
    dbus_shutdown();
    return status;
}
