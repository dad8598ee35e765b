/* settings_wire: a setting and its value as com.victronenergy.settings (localsettings) sees them.
 *
 * - Values are int, double or string. In a variant, integers go out as int32 when they fit and
 *   int64 otherwise, like localsettings does; every D-Bus integer type, doubles and strings read
 *   back; "invalid" (an empty array) and other types are refused.
 * - A definition goes into AddSettings(aa{sv}) as {"path", "default"[, "min", "max"][, "silent"]}.
 * Functions return 0 or a negative errno unless said otherwise.
 */
#ifndef LYNX_SETTINGS_WIRE_H
#define LYNX_SETTINGS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbus/dbus.h>

enum settings_type {
    SETTINGS_TYPE_INT,
    SETTINGS_TYPE_DOUBLE,
    SETTINGS_TYPE_STRING,
};

/* A value; s is borrowed (callers keep it alive for the call; the client keeps its own copy). */
struct settings_value {
    enum settings_type type;
    union {
        int64_t i;
        double d;
        const char *s;
    };
};

#define SETTINGS_INT(v)    ((struct settings_value){.type = SETTINGS_TYPE_INT, .i = (v)})
#define SETTINGS_DOUBLE(v) ((struct settings_value){.type = SETTINGS_TYPE_DOUBLE, .d = (v)})
#define SETTINGS_STRING(v) ((struct settings_value){.type = SETTINGS_TYPE_STRING, .s = (v)})

/* One setting to register. The default's type is the setting's type. min/max only for numbers,
 * both of the default's type; has_range false registers no range (localsettings' min=max=0). */
struct settings_def {
    const char *path;
    struct settings_value def;
    bool has_range;
    struct settings_value min, max;
    bool silent; /* localsettings does not log changes of a silent setting */
};

/* A copy with its own string (-ENOMEM); settings_value_free frees the string of a copy. */
int settings_value_copy(struct settings_value *dst, const struct settings_value *src);
void settings_value_free(struct settings_value *value);
bool settings_value_equal(const struct settings_value *a, const struct settings_value *b);
/* Converts a value to a setting type: ints widen to doubles, nothing else converts (-EINVAL). */
int settings_value_coerce(enum settings_type type, const struct settings_value *in,
                          struct settings_value *out);
/* The value for a log line: 12, 1.5 or "text". */
void settings_value_describe(const struct settings_value *value, char *buf, size_t size);

/* Reads a variant's content as a value; strings are borrowed from the message. -EINVAL for
 * invalid and other types, -ERANGE for a uint64 above INT64_MAX. */
int settings_read_variant(DBusMessageIter *variant, struct settings_value *out);
/* false when out of memory (nothing is left half-open). */
bool settings_append_variant(DBusMessageIter *iter, const struct settings_value *value);
/* One definition of AddSettings' array; false when out of memory. */
bool settings_append_definition(DBusMessageIter *array, const struct settings_def *def);

#endif
