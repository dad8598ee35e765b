/* settings_wire: settings and their values as com.victronenergy.settings reads and writes them:
 * copies, comparison and conversion of values, values in variants, and a setting's definition in
 * an AddSettings call. No calls are made here. */
#include "venus/settings_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

int settings_value_copy(struct settings_value *dst, const struct settings_value *src)
{
    if (src->type == SETTINGS_TYPE_STRING) {
        char *s = strdup(src->s);
        if (!s)
            return -ENOMEM;
        *dst = SETTINGS_STRING(s);
    } else {
        *dst = *src;
    }
    return 0;
}

void settings_value_free(struct settings_value *value)
{
    if (value->type == SETTINGS_TYPE_STRING)
        free((char *)value->s);
    value->s = NULL;
}

bool settings_value_equal(const struct settings_value *a, const struct settings_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SETTINGS_TYPE_INT:
        return a->i == b->i;
    case SETTINGS_TYPE_DOUBLE:
        return a->d == b->d;
    case SETTINGS_TYPE_STRING:
        return strcmp(a->s, b->s) == 0;
    }
    return false;
}

int settings_value_coerce(enum settings_type type, const struct settings_value *in,
                          struct settings_value *out)
{
    if (in->type == type) {
        *out = *in;
        return 0;
    }
    if (type == SETTINGS_TYPE_DOUBLE && in->type == SETTINGS_TYPE_INT) {
        *out = SETTINGS_DOUBLE((double)in->i);
        return 0;
    }
    return -EINVAL;
}

int settings_read_variant(DBusMessageIter *variant, struct settings_value *out)
{
    DBusMessageIter inner;
    dbus_message_iter_recurse(variant, &inner);
    DBusBasicValue v;
    switch (dbus_message_iter_get_arg_type(&inner)) {
    case DBUS_TYPE_BYTE:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.byt);
        return 0;
    case DBUS_TYPE_INT16:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.i16);
        return 0;
    case DBUS_TYPE_UINT16:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.u16);
        return 0;
    case DBUS_TYPE_INT32:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.i32);
        return 0;
    case DBUS_TYPE_UINT32:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.u32);
        return 0;
    case DBUS_TYPE_INT64:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_INT(v.i64);
        return 0;
    case DBUS_TYPE_UINT64:
        dbus_message_iter_get_basic(&inner, &v);
        if (v.u64 > INT64_MAX)
            return -ERANGE;
        *out = SETTINGS_INT((int64_t)v.u64);
        return 0;
    case DBUS_TYPE_DOUBLE:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_DOUBLE(v.dbl);
        return 0;
    case DBUS_TYPE_STRING:
        dbus_message_iter_get_basic(&inner, &v);
        *out = SETTINGS_STRING(v.str);
        return 0;
    default: /* "invalid" (an empty array) or a type localsettings never sends */
        return -EINVAL;
    }
}

bool settings_append_variant(DBusMessageIter *iter, const struct settings_value *value)
{
    DBusMessageIter variant;
    const char *sig;
    DBusBasicValue v;
    int type;
    switch (value->type) {
    case SETTINGS_TYPE_INT:
        if (value->i >= INT32_MIN && value->i <= INT32_MAX) {
            sig = DBUS_TYPE_INT32_AS_STRING, type = DBUS_TYPE_INT32, v.i32 = (int32_t)value->i;
        } else {
            sig = DBUS_TYPE_INT64_AS_STRING, type = DBUS_TYPE_INT64, v.i64 = value->i;
        }
        break;
    case SETTINGS_TYPE_DOUBLE:
        sig = DBUS_TYPE_DOUBLE_AS_STRING, type = DBUS_TYPE_DOUBLE, v.dbl = value->d;
        break;
    case SETTINGS_TYPE_STRING:
        sig = DBUS_TYPE_STRING_AS_STRING, type = DBUS_TYPE_STRING, v.str = (char *)value->s;
        break;
    default:
        return false;
    }
    if (!dbus_message_iter_open_container(iter, DBUS_TYPE_VARIANT, sig, &variant))
        return false;
    if (!dbus_message_iter_append_basic(&variant, type, &v)) {
        dbus_message_iter_abandon_container(iter, &variant);
        return false;
    }
    return dbus_message_iter_close_container(iter, &variant);
}

void settings_value_describe(const struct settings_value *value, char *buf, size_t size)
{
    switch (value->type) {
    case SETTINGS_TYPE_INT:
        snprintf(buf, size, "%lld", (long long)value->i);
        break;
    case SETTINGS_TYPE_DOUBLE:
        snprintf(buf, size, "%g", value->d);
        break;
    case SETTINGS_TYPE_STRING:
        snprintf(buf, size, "\"%s\"", value->s);
        break;
    }
}

/* ---- the wire ---- */

static bool append_entry_value(DBusMessageIter *dict, const char *key,
                               const struct settings_value *value)
{
    DBusMessageIter entry;
    if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry))
        return false;
    if (!dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) ||
        !settings_append_variant(&entry, value)) {
        dbus_message_iter_abandon_container(dict, &entry);
        return false;
    }
    return dbus_message_iter_close_container(dict, &entry);
}

bool settings_append_definition(DBusMessageIter *array, const struct settings_def *def)
{
    DBusMessageIter dict;
    if (!dbus_message_iter_open_container(array, DBUS_TYPE_ARRAY, "{sv}", &dict))
        return false;
    bool ok = append_entry_value(&dict, "path", &SETTINGS_STRING(def->path)) &&
              append_entry_value(&dict, "default", &def->def);
    if (ok && def->has_range)
        ok = append_entry_value(&dict, "min", &def->min) &&
             append_entry_value(&dict, "max", &def->max);
    if (ok && def->silent)
        ok = append_entry_value(&dict, "silent", &SETTINGS_INT(1));
    if (!ok) {
        dbus_message_iter_abandon_container(array, &dict);
        return false;
    }
    return dbus_message_iter_close_container(array, &dict);
}
