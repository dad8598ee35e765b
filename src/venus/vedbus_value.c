/* vedbus_value: a BusItem value by itself: comparison, conversion to an item's type, its default
 * text, and its encoding in and decoding from D-Bus variants. Knows nothing of items or services.
 */
#include "venus/vedbus_value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

bool vedbus_value_equal(const struct vedbus_value *a, const struct vedbus_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case VEDBUS_TYPE_INT:
        return a->i == b->i;
    case VEDBUS_TYPE_DOUBLE:
        return a->d == b->d || (isnan(a->d) && isnan(b->d));
    case VEDBUS_TYPE_STRING:
        return strcmp(a->s, b->s) == 0;
    case VEDBUS_TYPE_INVALID:
        break;
    }
    return true;
}

int vedbus_value_coerce(enum vedbus_type declared, const struct vedbus_value *in,
                        struct vedbus_value *out)
{
    *out = *in;
    if (in->type == VEDBUS_TYPE_INVALID || declared == VEDBUS_TYPE_INVALID || declared == in->type)
        return 0;
    if (declared == VEDBUS_TYPE_DOUBLE && in->type == VEDBUS_TYPE_INT) {
        *out = VEDBUS_DOUBLE((double)in->i);
        return 0;
    }
    if (declared == VEDBUS_TYPE_INT && in->type == VEDBUS_TYPE_DOUBLE && in->d > -9.2e18 &&
        in->d < 9.2e18 && (double)(int64_t)in->d == in->d) {
        *out = VEDBUS_INT((int64_t)in->d);
        return 0;
    }
    return -EINVAL;
}

static bool fits_int32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* Shortest text that reads back as the same double, in Python's str(float) style ("12.0",
 * "0.1", "1e+16"), so texts match what velib_python services show. */
static void format_double(double d, char *buf, size_t size)
{
    char text[40];
    if (isnan(d) || isinf(d)) {
        snprintf(buf, size, "%s", isnan(d) ? "nan" : d < 0 ? "-inf" : "inf");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(text, sizeof(text), "%.*e", digits - 1, d);
        if (strtod(text, NULL) == d)
            break;
    }
    const char *e = strchr(text, 'e');
    int exponent = e ? atoi(e + 1) : 0;
    if (exponent >= -4 && exponent < 16) {
        int decimals = digits - 1 - exponent;
        snprintf(text, sizeof(text), "%.*f", decimals > 0 ? decimals : 0, d);
        if (!strchr(text, '.'))
            strcat(text, ".0");
    } else {
        snprintf(text, sizeof(text), "%.*e", digits - 1, d);
    }
    snprintf(buf, size, "%s", text);
}

int vedbus_value_check(const struct vedbus_value *value)
{
    if (value->type == VEDBUS_TYPE_STRING && (!value->s || !dbus_validate_utf8(value->s, NULL)))
        return -EILSEQ;
    if (value->type > VEDBUS_TYPE_STRING)
        return -EINVAL;
    return 0;
}

const char *vedbus_value_text(const struct vedbus_value *v, enum vedbus_text_format format,
                              char buf[VEDBUS_TEXT_MAX])
{
    switch (v->type) {
    case VEDBUS_TYPE_INT:
        if (format == VEDBUS_TEXT_HEX)
            snprintf(buf, VEDBUS_TEXT_MAX, "0x%" PRIX64, (uint64_t)v->i);
        else
            snprintf(buf, VEDBUS_TEXT_MAX, "%" PRId64, v->i);
        return buf;
    case VEDBUS_TYPE_DOUBLE:
        format_double(v->d, buf, VEDBUS_TEXT_MAX);
        return buf;
    case VEDBUS_TYPE_STRING:
        return v->s;
    case VEDBUS_TYPE_INVALID:
        break;
    }
    return "---";
}

/* ---- the wire ---- */

bool vedbus_append_variant(DBusMessageIter *it, const struct vedbus_value *v)
{
    const char *signature = "ai";
    if (v->type == VEDBUS_TYPE_INT)
        signature = fits_int32(v->i) ? DBUS_TYPE_INT32_AS_STRING : DBUS_TYPE_INT64_AS_STRING;
    else if (v->type == VEDBUS_TYPE_DOUBLE)
        signature = DBUS_TYPE_DOUBLE_AS_STRING;
    else if (v->type == VEDBUS_TYPE_STRING)
        signature = DBUS_TYPE_STRING_AS_STRING;

    DBusMessageIter var = DBUS_MESSAGE_ITER_INIT_CLOSED;
    DBusMessageIter empty = DBUS_MESSAGE_ITER_INIT_CLOSED;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, signature, &var))
        return false;
    bool ok = false;
    switch (v->type) {
    case VEDBUS_TYPE_INVALID:
        ok = dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, DBUS_TYPE_INT32_AS_STRING,
                                              &empty) &&
             dbus_message_iter_close_container(&var, &empty);
        break;
    case VEDBUS_TYPE_INT:
        if (fits_int32(v->i)) {
            dbus_int32_t i32 = (dbus_int32_t)v->i;
            ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &i32);
        } else {
            dbus_int64_t i64 = v->i;
            ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_INT64, &i64);
        }
        break;
    case VEDBUS_TYPE_DOUBLE:
        ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_DOUBLE, &v->d);
        break;
    case VEDBUS_TYPE_STRING:
        ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &v->s);
        break;
    }
    if (!ok) {
        dbus_message_iter_abandon_container_if_open(&var, &empty);
        dbus_message_iter_abandon_container_if_open(it, &var);
        return false;
    }
    return dbus_message_iter_close_container(it, &var);
}

bool vedbus_append_entry(DBusMessageIter *dict, const char *key, const struct vedbus_value *value,
                         const char *text)
{
    DBusMessageIter entry = DBUS_MESSAGE_ITER_INIT_CLOSED;
    bool ok = dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
              dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
              (value ? vedbus_append_variant(&entry, value)
                     : dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &text)) &&
              dbus_message_iter_close_container(dict, &entry);
    if (!ok)
        dbus_message_iter_abandon_container_if_open(dict, &entry);
    return ok;
}

/* Reads a SetValue argument; nested variants are unwrapped, an empty array means invalid. */
static int decode_variant(DBusMessageIter *it, struct vedbus_value *out)
{
    DBusMessageIter sub;
    DBusBasicValue b;
    int type = dbus_message_iter_get_arg_type(it);
    if (type == DBUS_TYPE_VARIANT || type == DBUS_TYPE_ARRAY) {
        dbus_message_iter_recurse(it, &sub);
        if (type == DBUS_TYPE_VARIANT)
            return decode_variant(&sub, out);
        if (dbus_message_iter_get_arg_type(&sub) != DBUS_TYPE_INVALID)
            return -EINVAL;
        *out = VEDBUS_INVALID;
        return 0;
    }
    if (!dbus_type_is_basic(type))
        return -EINVAL;
    dbus_message_iter_get_basic(it, &b);
    switch (type) {
    case DBUS_TYPE_BOOLEAN:
        *out = VEDBUS_INT(b.bool_val ? 1 : 0);
        return 0;
    case DBUS_TYPE_BYTE:
        *out = VEDBUS_INT(b.byt);
        return 0;
    case DBUS_TYPE_INT16:
        *out = VEDBUS_INT(b.i16);
        return 0;
    case DBUS_TYPE_UINT16:
        *out = VEDBUS_INT(b.u16);
        return 0;
    case DBUS_TYPE_INT32:
        *out = VEDBUS_INT(b.i32);
        return 0;
    case DBUS_TYPE_UINT32:
        *out = VEDBUS_INT(b.u32);
        return 0;
    case DBUS_TYPE_INT64:
        *out = VEDBUS_INT(b.i64);
        return 0;
    case DBUS_TYPE_UINT64:
        if (b.u64 > INT64_MAX)
            return -ERANGE;
        *out = VEDBUS_INT((int64_t)b.u64);
        return 0;
    case DBUS_TYPE_DOUBLE:
        *out = VEDBUS_DOUBLE(b.dbl);
        return 0;
    case DBUS_TYPE_STRING:
        *out = VEDBUS_STRING(b.str);
        return 0;
    }
    return -EINVAL;
}

int vedbus_decode_set_value(DBusMessage *msg, enum vedbus_type declared, struct vedbus_value *out)
{
    DBusMessageIter args;
    struct vedbus_value in;
    if (!dbus_message_iter_init(msg, &args) || decode_variant(&args, &in) < 0)
        return -EINVAL;
    return vedbus_value_coerce(declared, &in, out);
}
