/* vedbus_value: a com.victronenergy.BusItem value, apart from any item or service.
 *
 * - Wire encoding (vedbus_append_variant): invalid = variant of an empty int32 array ("ai"),
 *   integers as int32 "i" (int64 "x" when out of int32 range), doubles "d", strings "s".
 * - Decoding (vedbus_decode_set_value): nested variants are unwrapped, an empty array of any
 *   element type is invalid, every integer type and booleans become integers (uint64 above
 *   INT64_MAX is refused); containers and other types are refused.
 * - Default text: "---" for invalid, integers in decimal (or 0x%X), doubles as Python's str(float),
 *   strings as they are.
 * Functions return 0 or a negative errno unless said otherwise.
 */
#ifndef LYNX_VEDBUS_VALUE_H
#define LYNX_VEDBUS_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbus/dbus.h>

enum vedbus_type {
    VEDBUS_TYPE_INVALID = 0, /* as a value: invalid; as an item's declared type: any */
    VEDBUS_TYPE_INT,
    VEDBUS_TYPE_DOUBLE,
    VEDBUS_TYPE_STRING,
};

/* A value; s is borrowed (callers keep it alive for the call, items keep their own copy). */
struct vedbus_value {
    enum vedbus_type type;
    union {
        int64_t i;
        double d;
        const char *s;
    };
};

#define VEDBUS_INVALID   ((struct vedbus_value){.type = VEDBUS_TYPE_INVALID})
#define VEDBUS_INT(v)    ((struct vedbus_value){.type = VEDBUS_TYPE_INT, .i = (v)})
#define VEDBUS_DOUBLE(v) ((struct vedbus_value){.type = VEDBUS_TYPE_DOUBLE, .d = (v)})
#define VEDBUS_STRING(v) ((struct vedbus_value){.type = VEDBUS_TYPE_STRING, .s = (v)})

enum vedbus_text_format {
    VEDBUS_TEXT_DEFAULT = 0, /* integers in decimal, doubles shortest round-trip, strings as is */
    VEDBUS_TEXT_HEX,         /* integers as 0x%X (ProductId) */
};

#define VEDBUS_TEXT_MAX 256

bool vedbus_value_equal(const struct vedbus_value *a, const struct vedbus_value *b);
/* -EILSEQ for a string that is NULL or not valid UTF-8, -EINVAL for an unknown type. */
int vedbus_value_check(const struct vedbus_value *value);
/* Brings a value to a declared type: integers become doubles, integral doubles become integers;
 * anything else of another type is refused (-EINVAL). Invalid always passes, and so does
 * everything when declared is VEDBUS_TYPE_INVALID (any type). */
int vedbus_value_coerce(enum vedbus_type declared, const struct vedbus_value *in,
                        struct vedbus_value *out);
/* The default text of a value: buf filled in, the value's own string, or "---" (static). */
const char *vedbus_value_text(const struct vedbus_value *value, enum vedbus_text_format format,
                              char buf[VEDBUS_TEXT_MAX]);

/* Appends the value as a variant; false when out of memory (nothing is left half-open). */
bool vedbus_append_variant(DBusMessageIter *it, const struct vedbus_value *value);
/* Appends one dict entry {key: variant} (a{sv}) when value is set, else {key: text} (a{ss}). */
bool vedbus_append_entry(DBusMessageIter *dict, const char *key, const struct vedbus_value *value,
                         const char *text);

/* The value a SetValue call carries, brought to an item's declared type: the decoding and
 * coercion SetValue itself uses, without a bus (tests, fuzzing). Returns 0, or -EINVAL where
 * SetValue answers VEDBUS_SET_NOT_WRITEABLE (no argument, a container, a value of another type).
 * A string in *out is borrowed from msg. */
int vedbus_decode_set_value(DBusMessage *msg, enum vedbus_type declared, struct vedbus_value *out);

#endif
