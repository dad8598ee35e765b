#include "venus/vedbus.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "venus/dbus_loop.h"

#define BUSITEM_INTERFACE "com.victronenergy.BusItem"

struct vedbus_item {
    struct vedbus_service *service;
    char *path;
    enum vedbus_type declared;
    struct vedbus_value value; /* value.s is owned here */
    struct vedbus_item_options options;
    bool changed;
};

struct vedbus_service {
    struct mainloop *loop;
    DBusConnection *conn;
    char *name;
    bool connected;
    bool name_registered;
    vedbus_disconnect_fn on_disconnect;
    void *on_disconnect_user;
    struct vedbus_item **items; /* sorted by path */
    size_t count;
    size_t capacity;
};

/* ---- values ---- */

static bool values_equal(const struct vedbus_value *a, const struct vedbus_value *b)
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

/* Brings a value to the item's declared type: integers become doubles, integral doubles become
 * integers; anything else of another type is refused. Invalid always passes. */
static int coerce_value(enum vedbus_type declared, const struct vedbus_value *in,
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

const char *vedbus_item_text(const struct vedbus_item *item, char buf[VEDBUS_TEXT_MAX])
{
    const struct vedbus_value *v = &item->value;
    if (v->type == VEDBUS_TYPE_INVALID)
        return "---";
    if (item->options.text) {
        buf[0] = '\0';
        item->options.text(v, buf, VEDBUS_TEXT_MAX, item->options.text_user);
        buf[VEDBUS_TEXT_MAX - 1] = '\0';
        if (!dbus_validate_utf8(buf, NULL)) {
            log_warn("vedbus: %s: text formatter produced invalid UTF-8", item->path);
            return "?";
        }
        return buf;
    }
    switch (v->type) {
    case VEDBUS_TYPE_INT:
        if (item->options.format == VEDBUS_TEXT_HEX)
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

/* ---- message building ---- */

static bool append_variant(DBusMessageIter *it, const struct vedbus_value *v)
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

/* One dict entry {key: variant} (a{sv}) or {key: string} (a{ss}). */
static bool append_entry(DBusMessageIter *dict, const char *key, const struct vedbus_value *value,
                         const char *text)
{
    DBusMessageIter entry = DBUS_MESSAGE_ITER_INIT_CLOSED;
    bool ok = dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
              dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
              (value ? append_variant(&entry, value)
                     : dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &text)) &&
              dbus_message_iter_close_container(dict, &entry);
    if (!ok)
        dbus_message_iter_abandon_container_if_open(dict, &entry);
    return ok;
}

/* {"/Abs/Path": {"Value": v, "Text": s}} as used by GetItems and ItemsChanged. */
static bool append_item_entry(DBusMessageIter *dict, const struct vedbus_item *item)
{
    char buf[VEDBUS_TEXT_MAX];
    struct vedbus_value text = VEDBUS_STRING(vedbus_item_text(item, buf));
    DBusMessageIter entry = DBUS_MESSAGE_ITER_INIT_CLOSED;
    DBusMessageIter props = DBUS_MESSAGE_ITER_INIT_CLOSED;
    const char *path = item->path;
    bool ok = dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
              dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &path) &&
              dbus_message_iter_open_container(&entry, DBUS_TYPE_ARRAY, "{sv}", &props) &&
              append_entry(&props, "Value", &item->value, NULL) &&
              append_entry(&props, "Text", &text, NULL) &&
              dbus_message_iter_close_container(&entry, &props) &&
              dbus_message_iter_close_container(dict, &entry);
    if (!ok) {
        dbus_message_iter_abandon_container_if_open(&entry, &props);
        dbus_message_iter_abandon_container_if_open(dict, &entry);
    }
    return ok;
}

/* ---- the item table ---- */

/* Index of the first item whose path is >= path. */
static size_t lower_bound(const struct vedbus_service *svc, const char *path)
{
    size_t lo = 0, hi = svc->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(svc->items[mid]->path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct vedbus_item *vedbus_find_item(struct vedbus_service *svc, const char *path)
{
    size_t i = lower_bound(svc, path);
    return i < svc->count && strcmp(svc->items[i]->path, path) == 0 ? svc->items[i] : NULL;
}

/* Length of the prefix to strip from item paths below node, or 0 if path is not below node. */
static size_t below_node(const char *path, const char *node)
{
    if (strcmp(node, "/") == 0)
        return 1;
    size_t len = strlen(node);
    return strncmp(path, node, len) == 0 && path[len] == '/' ? len + 1 : 0;
}

static bool is_node(const struct vedbus_service *svc, const char *path)
{
    if (strcmp(path, "/") == 0)
        return true;
    /* Paths sharing a prefix are contiguous in sorted order. */
    size_t len = strlen(path);
    for (size_t i = lower_bound(svc, path); i < svc->count; i++) {
        const char *p = svc->items[i]->path;
        if (strncmp(p, path, len) != 0)
            break;
        if (p[len] == '/')
            return true;
    }
    return false;
}

static bool leaf_is_prefix_of(struct vedbus_service *svc, const char *path)
{
    char *copy = strdup(path);
    bool found = false;
    if (!copy)
        return false;
    for (char *slash = strchr(copy + 1, '/'); slash && !found; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        found = vedbus_find_item(svc, copy) != NULL;
        *slash = '/';
    }
    free(copy);
    return found;
}

static void free_item(struct vedbus_item *item)
{
    if (item->value.type == VEDBUS_TYPE_STRING)
        free((char *)item->value.s);
    free(item->path);
    free(item);
}

/* Stores an already coerced value; returns 1 if it changed, 0 if equal. */
static int store_value(struct vedbus_item *item, const struct vedbus_value *value)
{
    if (values_equal(&item->value, value))
        return 0;
    struct vedbus_value copy = *value;
    if (value->type == VEDBUS_TYPE_STRING) {
        copy.s = strdup(value->s);
        if (!copy.s)
            return -ENOMEM;
    }
    if (item->value.type == VEDBUS_TYPE_STRING)
        free((char *)item->value.s);
    item->value = copy;
    item->changed = true;
    return 1;
}

static int check_value(const struct vedbus_value *value)
{
    if (value->type == VEDBUS_TYPE_STRING && (!value->s || !dbus_validate_utf8(value->s, NULL)))
        return -EILSEQ;
    if (value->type > VEDBUS_TYPE_STRING)
        return -EINVAL;
    return 0;
}

int vedbus_add_item(struct vedbus_service *svc, const char *path,
                    const struct vedbus_value *initial, const struct vedbus_item_options *options,
                    struct vedbus_item **out)
{
    if (!path || strcmp(path, "/") == 0 || !dbus_validate_path(path, NULL))
        return -EINVAL;
    int r = check_value(initial);
    if (r < 0)
        return r == -EILSEQ ? -EINVAL : r;
    if (vedbus_find_item(svc, path) || is_node(svc, path) || leaf_is_prefix_of(svc, path))
        return -EEXIST;

    struct vedbus_item *item = calloc(1, sizeof(*item));
    if (!item)
        return -ENOMEM;
    item->service = svc;
    if (options)
        item->options = *options;
    item->declared = item->options.type != VEDBUS_TYPE_INVALID ? item->options.type : initial->type;
    item->path = strdup(path);
    struct vedbus_value value;
    r = item->path ? coerce_value(item->declared, initial, &value) : -ENOMEM;
    if (r == 0)
        r = store_value(item, &value) < 0 ? -ENOMEM : 0;
    if (r == 0 && svc->count == svc->capacity) {
        size_t capacity = svc->capacity ? svc->capacity * 2 : 64;
        struct vedbus_item **items = realloc(svc->items, capacity * sizeof(*items));
        if (items) {
            svc->items = items;
            svc->capacity = capacity;
        } else {
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        free_item(item);
        return r;
    }
    size_t at = lower_bound(svc, path);
    memmove(&svc->items[at + 1], &svc->items[at], (svc->count - at) * sizeof(*svc->items));
    svc->items[at] = item;
    svc->count++;
    /* Consumers that scanned the service learn about late items from the next ItemsChanged. */
    item->changed = svc->name_registered;
    if (out)
        *out = item;
    return 0;
}

const char *vedbus_item_path(const struct vedbus_item *item)
{
    return item->path;
}

int vedbus_item_set(struct vedbus_item *item, const struct vedbus_value *value)
{
    int r = check_value(value);
    if (r < 0)
        return r;
    struct vedbus_value coerced;
    r = coerce_value(item->declared, value, &coerced);
    if (r < 0)
        return r;
    return store_value(item, &coerced);
}

int vedbus_item_set_int(struct vedbus_item *item, int64_t value)
{
    return vedbus_item_set(item, &VEDBUS_INT(value));
}

int vedbus_item_set_double(struct vedbus_item *item, double value)
{
    return vedbus_item_set(item, &VEDBUS_DOUBLE(value));
}

int vedbus_item_set_string(struct vedbus_item *item, const char *value)
{
    return vedbus_item_set(item, &VEDBUS_STRING(value));
}

int vedbus_item_set_invalid(struct vedbus_item *item)
{
    return vedbus_item_set(item, &VEDBUS_INVALID);
}

void vedbus_item_mark_changed(struct vedbus_item *item)
{
    item->changed = true;
}

struct vedbus_value vedbus_item_value(const struct vedbus_item *item)
{
    return item->value;
}

/* ---- signals ---- */

/* One ItemsChanged with `only`, or with every changed item when only is NULL. */
static int emit_items_changed(struct vedbus_service *svc, struct vedbus_item *only)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->count; i++)
        if (only ? svc->items[i] == only : svc->items[i]->changed)
            n++;
    if (n == 0)
        return 0;
    if (!svc->name_registered) {
        /* Nobody can have read the service yet: the values go out with the first GetItems. */
        for (size_t i = 0; i < svc->count; i++)
            svc->items[i]->changed = false;
        return 0;
    }

    DBusMessage *msg = dbus_message_new_signal("/", BUSITEM_INTERFACE, "ItemsChanged");
    if (!msg)
        return -ENOMEM;
    DBusMessageIter args, dict = DBUS_MESSAGE_ITER_INIT_CLOSED;
    dbus_message_iter_init_append(msg, &args);
    bool ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sa{sv}}", &dict);
    for (size_t i = 0; ok && i < svc->count; i++)
        if (only ? svc->items[i] == only : svc->items[i]->changed)
            ok = append_item_entry(&dict, svc->items[i]);
    ok = ok && dbus_message_iter_close_container(&args, &dict);
    if (!ok)
        dbus_message_iter_abandon_container_if_open(&args, &dict);
    ok = ok && dbus_connection_send(svc->conn, msg, NULL);
    dbus_message_unref(msg);
    if (!ok)
        return -ENOMEM;
    for (size_t i = 0; i < svc->count; i++)
        if (!only || svc->items[i] == only)
            svc->items[i]->changed = false;
    return (int)n;
}

int vedbus_flush(struct vedbus_service *svc)
{
    return emit_items_changed(svc, NULL);
}

/* ---- method handlers ---- */

static DBusMessage *reply_unknown_method(DBusMessage *msg)
{
    const char *iface = dbus_message_get_interface(msg);
    return dbus_message_new_error_printf(
        msg, DBUS_ERROR_UNKNOWN_METHOD, "No method %s.%s with signature \"%s\" on %s",
        iface ? iface : "(any)", dbus_message_get_member(msg), dbus_message_get_signature(msg),
        dbus_message_get_path(msg));
}

static DBusMessage *reply_value(DBusMessage *msg, const struct vedbus_value *value)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    DBusMessageIter args;
    if (!reply)
        return NULL;
    dbus_message_iter_init_append(reply, &args);
    if (!append_variant(&args, value)) {
        dbus_message_unref(reply);
        return NULL;
    }
    return reply;
}

static DBusMessage *reply_string(DBusMessage *msg, const char *s)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
        dbus_message_unref(reply);
        return NULL;
    }
    return reply;
}

/* GetValue / GetText on a node: a variant holding a{sv} / a{ss} of the leaves below, keyed
 * relative to the node. */
static DBusMessage *reply_node(struct vedbus_service *svc, DBusMessage *msg, const char *node,
                               bool text)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (!reply)
        return NULL;
    DBusMessageIter args, var = DBUS_MESSAGE_ITER_INIT_CLOSED, dict = DBUS_MESSAGE_ITER_INIT_CLOSED;
    dbus_message_iter_init_append(reply, &args);
    bool ok =
        dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, text ? "a{ss}" : "a{sv}",
                                         &var) &&
        dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, text ? "{ss}" : "{sv}", &dict);
    for (size_t i = 0; ok && i < svc->count; i++) {
        const struct vedbus_item *item = svc->items[i];
        size_t skip = below_node(item->path, node);
        if (!skip)
            continue;
        char buf[VEDBUS_TEXT_MAX];
        ok = text ? append_entry(&dict, item->path + skip, NULL, vedbus_item_text(item, buf))
                  : append_entry(&dict, item->path + skip, &item->value, NULL);
    }
    ok = ok && dbus_message_iter_close_container(&var, &dict) &&
         dbus_message_iter_close_container(&args, &var);
    if (!ok) {
        dbus_message_iter_abandon_container_if_open(&var, &dict);
        dbus_message_iter_abandon_container_if_open(&args, &var);
        dbus_message_unref(reply);
        return NULL;
    }
    return reply;
}

static DBusMessage *reply_get_items(struct vedbus_service *svc, DBusMessage *msg)
{
    DBusMessage *reply = dbus_message_new_method_return(msg);
    if (!reply)
        return NULL;
    DBusMessageIter args, dict = DBUS_MESSAGE_ITER_INIT_CLOSED;
    dbus_message_iter_init_append(reply, &args);
    bool ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sa{sv}}", &dict);
    for (size_t i = 0; ok && i < svc->count; i++)
        ok = append_item_entry(&dict, svc->items[i]);
    ok = ok && dbus_message_iter_close_container(&args, &dict);
    if (!ok) {
        dbus_message_iter_abandon_container_if_open(&args, &dict);
        dbus_message_unref(reply);
        return NULL;
    }
    return reply;
}

static const char introspect_head[] = DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
    "<node>\n"
    "  <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
    "    <method name=\"Introspect\"><arg direction=\"out\" type=\"s\"/></method>\n"
    "  </interface>\n"
    "  <interface name=\"" BUSITEM_INTERFACE "\">\n"
    "    <method name=\"GetValue\"><arg direction=\"out\" type=\"v\"/></method>\n"
    "    <method name=\"GetText\"><arg direction=\"out\" type=\"%s\"/></method>\n";

static DBusMessage *reply_introspect(struct vedbus_service *svc, DBusMessage *msg, const char *path,
                                     bool leaf)
{
    char *xml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&xml, &len);
    if (!f)
        return NULL;
    fprintf(f, introspect_head, leaf ? "s" : "v");
    if (leaf)
        fputs("    <method name=\"SetValue\"><arg direction=\"in\" type=\"v\"/>"
              "<arg direction=\"out\" type=\"i\"/></method>\n",
              f);
    if (strcmp(path, "/") == 0)
        fputs("    <method name=\"GetItems\"><arg direction=\"out\" type=\"a{sa{sv}}\"/></method>\n"
              "    <signal name=\"ItemsChanged\"><arg type=\"a{sa{sv}}\"/></signal>\n",
              f);
    fputs("  </interface>\n", f);
    /* Child names: the next path element of every leaf below, each once (they are adjacent). */
    const char *last = NULL;
    size_t last_len = 0;
    for (size_t i = 0; !leaf && i < svc->count; i++) {
        size_t skip = below_node(svc->items[i]->path, path);
        if (!skip)
            continue;
        const char *child = svc->items[i]->path + skip;
        size_t child_len = strcspn(child, "/");
        if (last && child_len == last_len && strncmp(child, last, child_len) == 0)
            continue;
        fprintf(f, "  <node name=\"%.*s\"/>\n", (int)child_len, child);
        last = child;
        last_len = child_len;
    }
    fputs("</node>\n", f);
    if (fclose(f) != 0) {
        free(xml);
        return NULL;
    }
    DBusMessage *reply = reply_string(msg, xml);
    free(xml);
    return reply;
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
    return coerce_value(declared, &in, out);
}

/* Returns the SetValue result, or -ENOMEM. */
static int set_value_from_bus(struct vedbus_item *item, DBusMessage *msg)
{
    if (!item->options.writeable)
        return VEDBUS_SET_NOT_WRITEABLE;
    struct vedbus_value value;
    if (vedbus_decode_set_value(msg, item->declared, &value) < 0)
        return VEDBUS_SET_NOT_WRITEABLE;
    if (values_equal(&item->value, &value))
        return VEDBUS_SET_OK;
    if (item->options.validate &&
        item->options.validate(item, &value, item->options.validate_user) != 0)
        return VEDBUS_SET_REJECTED;
    int r = store_value(item, &value);
    if (r < 0)
        return r;
    /* The writer and every watcher learn the new value before the reply arrives. */
    r = emit_items_changed(item->service, item);
    return r < 0 ? r : VEDBUS_SET_OK;
}

static bool is_call(DBusMessage *msg, const char *iface, const char *member, const char *signature)
{
    const char *msg_iface = dbus_message_get_interface(msg);
    return (!msg_iface || strcmp(msg_iface, iface) == 0) &&
           strcmp(dbus_message_get_member(msg), member) == 0 &&
           strcmp(dbus_message_get_signature(msg), signature) == 0;
}

static DBusMessage *handle_call(struct vedbus_service *svc, DBusMessage *msg, bool *oom)
{
    const char *path = dbus_message_get_path(msg);
    struct vedbus_item *leaf = vedbus_find_item(svc, path);
    bool node = !leaf && is_node(svc, path);
    DBusMessage *reply = NULL;
    *oom = false;
    if (!leaf && !node)
        reply = reply_unknown_method(msg);
    else if (is_call(msg, DBUS_INTERFACE_INTROSPECTABLE, "Introspect", ""))
        reply = reply_introspect(svc, msg, path, leaf != NULL);
    else if (is_call(msg, BUSITEM_INTERFACE, "GetValue", ""))
        reply = leaf ? reply_value(msg, &leaf->value) : reply_node(svc, msg, path, false);
    else if (is_call(msg, BUSITEM_INTERFACE, "GetText", "")) {
        char buf[VEDBUS_TEXT_MAX];
        reply = leaf ? reply_string(msg, vedbus_item_text(leaf, buf))
                     : reply_node(svc, msg, path, true);
    } else if (leaf && is_call(msg, BUSITEM_INTERFACE, "SetValue", DBUS_TYPE_VARIANT_AS_STRING)) {
        int r = set_value_from_bus(leaf, msg);
        dbus_int32_t result = r;
        if (r < 0)
            *oom = true;
        else if ((reply = dbus_message_new_method_return(msg)) &&
                 !dbus_message_append_args(reply, DBUS_TYPE_INT32, &result, DBUS_TYPE_INVALID)) {
            dbus_message_unref(reply);
            reply = NULL;
        }
    } else if (node && strcmp(path, "/") == 0 && is_call(msg, BUSITEM_INTERFACE, "GetItems", ""))
        reply = reply_get_items(svc, msg);
    else
        reply = reply_unknown_method(msg);
    if (!reply)
        *oom = true;
    return reply;
}

static DBusHandlerResult on_object_message(DBusConnection *conn, DBusMessage *msg, void *data)
{
    if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    bool oom;
    DBusMessage *reply = handle_call(data, msg, &oom);
    if (oom) {
        if (reply)
            dbus_message_unref(reply);
        return DBUS_HANDLER_RESULT_NEED_MEMORY;
    }
    if (!dbus_message_get_no_reply(msg))
        dbus_connection_send(conn, reply, NULL);
    dbus_message_unref(reply);
    return DBUS_HANDLER_RESULT_HANDLED;
}

static DBusHandlerResult on_filter_message(DBusConnection *conn, DBusMessage *msg, void *data)
{
    (void)conn;
    struct vedbus_service *svc = data;
    if (dbus_message_is_signal(msg, DBUS_INTERFACE_LOCAL, "Disconnected") && svc->connected) {
        svc->connected = false;
        log_error("vedbus: %s: lost the D-Bus connection", svc->name);
        if (svc->on_disconnect)
            svc->on_disconnect(svc, svc->on_disconnect_user);
    }
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* ---- service ---- */

static DBusConnection *connect_bus(const char *address, DBusError *err)
{
    if (!address)
        return dbus_bus_get_private(DBUS_BUS_SYSTEM, err);
    DBusConnection *conn = dbus_connection_open_private(address, err);
    if (conn && !dbus_bus_register(conn, err)) {
        dbus_connection_close(conn);
        dbus_connection_unref(conn);
        conn = NULL;
    }
    return conn;
}

int vedbus_service_new(struct mainloop *loop, const char *bus_name, const char *address,
                       struct vedbus_service **out)
{
    if (!loop || !bus_name || !dbus_validate_bus_name(bus_name, NULL) || bus_name[0] == ':')
        return -EINVAL;
    struct vedbus_service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return -ENOMEM;
    svc->loop = loop;
    svc->name = strdup(bus_name);
    if (!svc->name) {
        free(svc);
        return -ENOMEM;
    }

    DBusError err;
    dbus_error_init(&err);
    svc->conn = connect_bus(address, &err);
    if (!svc->conn) {
        log_error("vedbus: %s: cannot connect to %s: %s", bus_name,
                  address ? address : "the system bus", err.message);
        dbus_error_free(&err);
        vedbus_service_free(svc);
        return -ECONNREFUSED;
    }
    svc->connected = true;
    dbus_connection_set_exit_on_disconnect(svc->conn, FALSE);

    static const DBusObjectPathVTable vtable = {.message_function = on_object_message};
    int r = 0;
    if (!dbus_connection_add_filter(svc->conn, on_filter_message, svc, NULL) ||
        !dbus_connection_try_register_fallback(svc->conn, "/", &vtable, svc, &err))
        r = -ENOMEM;
    if (r == 0)
        r = dbus_loop_add(loop, svc->conn);
    dbus_error_free(&err);
    if (r < 0) {
        vedbus_service_free(svc);
        return r;
    }
    *out = svc;
    return 0;
}

void vedbus_service_free(struct vedbus_service *svc)
{
    if (!svc)
        return;
    if (svc->conn) {
        if (svc->connected)
            dbus_connection_flush(svc->conn); /* last changes, e.g. invalidated values */
        dbus_loop_remove(svc->loop, svc->conn);
        dbus_connection_unregister_object_path(svc->conn, "/");
        dbus_connection_remove_filter(svc->conn, on_filter_message, svc);
        dbus_connection_close(svc->conn);
        dbus_connection_unref(svc->conn);
    }
    for (size_t i = 0; i < svc->count; i++)
        free_item(svc->items[i]);
    free(svc->items);
    free(svc->name);
    free(svc);
}

int vedbus_register_name(struct vedbus_service *svc)
{
    DBusError err;
    dbus_error_init(&err);
    int r = dbus_bus_request_name(svc->conn, svc->name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
    if (dbus_error_is_set(&err)) {
        log_error("vedbus: cannot request bus name %s: %s", svc->name, err.message);
        dbus_error_free(&err);
        return -EIO;
    }
    if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER && r != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
        log_error("vedbus: bus name %s is already taken", svc->name);
        return -EEXIST;
    }
    svc->name_registered = true;
    return 0;
}

int vedbus_release_name(struct vedbus_service *svc)
{
    if (!svc->name_registered)
        return 0;
    svc->name_registered = false;
    DBusError err;
    dbus_error_init(&err);
    dbus_bus_release_name(svc->conn, svc->name, &err);
    if (dbus_error_is_set(&err)) {
        log_error("vedbus: cannot release bus name %s: %s", svc->name, err.message);
        dbus_error_free(&err);
        return -EIO;
    }
    return 0;
}

bool vedbus_name_registered(const struct vedbus_service *svc)
{
    return svc->name_registered;
}

const char *vedbus_service_name(const struct vedbus_service *svc)
{
    return svc->name;
}

DBusConnection *vedbus_connection(struct vedbus_service *svc)
{
    return svc->conn;
}

bool vedbus_connected(const struct vedbus_service *svc)
{
    return svc->connected;
}

void vedbus_set_disconnect_handler(struct vedbus_service *svc, vedbus_disconnect_fn fn, void *user)
{
    svc->on_disconnect = fn;
    svc->on_disconnect_user = user;
}
