/* vedbus: the service on the bus: its private connection, the object tree answering
 * Introspect/GetValue/GetText/SetValue/GetItems, and ItemsChanged. Hello and the bus name live in
 * vedbus_bus.c, items in vedbus_items.c, values and their wire form in vedbus_value.c. */
#include "venus/vedbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "venus/dbus_loop.h"
#include "venus/vedbus_internal.h"
#include "venus/vedbus_items.h"

#define BUSITEM_INTERFACE "com.victronenergy.BusItem"

/* ---- message building ---- */

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
              vedbus_append_entry(&props, "Value", &item->value, NULL) &&
              vedbus_append_entry(&props, "Text", &text, NULL) &&
              dbus_message_iter_close_container(&entry, &props) &&
              dbus_message_iter_close_container(dict, &entry);
    if (!ok) {
        dbus_message_iter_abandon_container_if_open(&entry, &props);
        dbus_message_iter_abandon_container_if_open(dict, &entry);
    }
    return ok;
}

/* ---- items ---- */

int vedbus_add_item(struct vedbus_service *svc, const char *path,
                    const struct vedbus_value *initial, const struct vedbus_item_options *options,
                    struct vedbus_item **out)
{
    /* Consumers that scanned the service learn about late items from the next ItemsChanged. */
    return vedbus_table_add(&svc->table, path, initial, options,
                            svc->name_registered || svc->name_request, out);
}

struct vedbus_item *vedbus_find_item(struct vedbus_service *svc, const char *path)
{
    return vedbus_table_find(&svc->table, path);
}

/* ---- signals ---- */

/* One ItemsChanged with `only`, or with every changed item when only is NULL. */
static int emit_items_changed(struct vedbus_service *svc, struct vedbus_item *only)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->table.count; i++)
        if (only ? svc->table.items[i] == only : svc->table.items[i]->changed)
            n++;
    if (n == 0)
        return 0;
    if (!svc->name_registered && !svc->name_request) {
        /* Nobody can have read the service yet: the values go out with the first GetItems. While
         * a RequestName is in flight the bus may already have given us the name and a consumer
         * read the values: from then on every change is sent. */
        for (size_t i = 0; i < svc->table.count; i++)
            svc->table.items[i]->changed = false;
        return 0;
    }

    DBusMessage *msg = dbus_message_new_signal("/", BUSITEM_INTERFACE, "ItemsChanged");
    if (!msg)
        return -ENOMEM;
    DBusMessageIter args, dict = DBUS_MESSAGE_ITER_INIT_CLOSED;
    dbus_message_iter_init_append(msg, &args);
    bool ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sa{sv}}", &dict);
    for (size_t i = 0; ok && i < svc->table.count; i++)
        if (only ? svc->table.items[i] == only : svc->table.items[i]->changed)
            ok = append_item_entry(&dict, svc->table.items[i]);
    ok = ok && dbus_message_iter_close_container(&args, &dict);
    if (!ok)
        dbus_message_iter_abandon_container_if_open(&args, &dict);
    ok = ok && dbus_connection_send(svc->conn, msg, NULL);
    dbus_message_unref(msg);
    if (!ok)
        return -ENOMEM;
    for (size_t i = 0; i < svc->table.count; i++)
        if (!only || svc->table.items[i] == only)
            svc->table.items[i]->changed = false;
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
    if (!vedbus_append_variant(&args, value)) {
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
    for (size_t i = 0; ok && i < svc->table.count; i++) {
        const struct vedbus_item *item = svc->table.items[i];
        size_t skip = vedbus_below_node(item->path, node);
        if (!skip)
            continue;
        char buf[VEDBUS_TEXT_MAX];
        ok = text ? vedbus_append_entry(&dict, item->path + skip, NULL, vedbus_item_text(item, buf))
                  : vedbus_append_entry(&dict, item->path + skip, &item->value, NULL);
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
    for (size_t i = 0; ok && i < svc->table.count; i++)
        ok = append_item_entry(&dict, svc->table.items[i]);
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
    for (size_t i = 0; !leaf && i < svc->table.count; i++) {
        size_t skip = vedbus_below_node(svc->table.items[i]->path, path);
        if (!skip)
            continue;
        const char *child = svc->table.items[i]->path + skip;
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

/* Returns the SetValue result, or -ENOMEM. */
static int set_value_from_bus(struct vedbus_service *svc, struct vedbus_item *item,
                              DBusMessage *msg)
{
    if (!item->options.writeable)
        return VEDBUS_SET_NOT_WRITEABLE;
    struct vedbus_value value;
    if (vedbus_decode_set_value(msg, item->declared, &value) < 0)
        return VEDBUS_SET_NOT_WRITEABLE;
    if (vedbus_value_equal(&item->value, &value))
        return VEDBUS_SET_OK;
    if (item->options.validate &&
        item->options.validate(item, &value, item->options.validate_user) != 0)
        return VEDBUS_SET_REJECTED;
    if (vedbus_value_equal(&item->value, &value)) /* replaced by what the item holds already */
        return VEDBUS_SET_OK;
    int r = vedbus_item_store(item, &value);
    if (r < 0)
        return r;
    /* The writer and every watcher learn the new value before the reply arrives. */
    r = emit_items_changed(svc, item);
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
    bool node = !leaf && vedbus_table_is_node(&svc->table, path);
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
        int r = set_value_from_bus(svc, leaf, msg);
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
    int rc = vedbus_connect(svc, address, &err);
    if (rc < 0) {
        if (rc == -ECONNREFUSED)
            log_error("vedbus: %s: cannot connect to %s: %s", bus_name,
                      address ? address : "the system bus", err.message);
        dbus_error_free(&err);
        vedbus_service_free(svc);
        return rc;
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
    vedbus_forget_calls(svc);
    if (svc->conn) {
        /* The last changes (e.g. invalidated values): what the socket takes now. Never waits
         * for the bus (dbus_connection_flush would wait for a bus that does not read). */
        for (int i = 0; svc->connected && i < 8 && dbus_connection_has_messages_to_send(svc->conn);
             i++)
            if (!dbus_connection_read_write(svc->conn, 0))
                break;
        dbus_loop_remove(svc->loop, svc->conn);
        dbus_connection_unregister_object_path(svc->conn, "/");
        dbus_connection_remove_filter(svc->conn, on_filter_message, svc);
        dbus_connection_close(svc->conn);
        dbus_connection_unref(svc->conn);
    }
    vedbus_table_free(&svc->table);
    free(svc->name);
    free(svc);
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
