/* settings_calls: calls to localsettings in flight: cancelling a pending call, and the SetValue
 * calls a client sends, whose answers are only logged. */
#include "venus/settings_calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define BUSITEM_INTERFACE "com.victronenergy.BusItem"

struct settings_set_call {
    struct settings_set_call **list;
    DBusPendingCall *pending;
    char *path;
    struct settings_set_call *next;
};

void settings_call_cancel(DBusPendingCall **pending)
{
    if (!*pending)
        return;
    dbus_pending_call_cancel(*pending);
    dbus_pending_call_unref(*pending);
    *pending = NULL;
}

static void on_set_value_reply(DBusPendingCall *pending, void *user)
{
    struct settings_set_call *call = user;
    DBusMessage *reply = dbus_pending_call_steal_reply(pending);
    int32_t result = 0;
    if (!reply || dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
        log_warn("settings: SetValue on %s failed: %s", call->path,
                 reply ? dbus_message_get_error_name(reply) : "no reply");
    else if (!dbus_message_get_args(reply, NULL, DBUS_TYPE_INT32, &result, DBUS_TYPE_INVALID) ||
             result != 0)
        log_warn("settings: localsettings rejected the new value of %s (%d)", call->path,
                 (int)result);
    if (reply)
        dbus_message_unref(reply);
    for (struct settings_set_call **p = call->list; *p; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            break;
        }
    }
    dbus_pending_call_unref(call->pending);
    free(call->path);
    free(call);
}

int settings_set_value_send(DBusConnection *conn, const char *owner, const char *path,
                            const struct settings_value *value, uint32_t timeout_ms,
                            struct settings_set_call **list)
{
    struct settings_set_call *call = calloc(1, sizeof(*call));
    DBusMessage *msg = dbus_message_new_method_call(owner, path, BUSITEM_INTERFACE, "SetValue");
    DBusMessageIter iter;
    int rc = -ENOMEM;
    if (!call || !msg || !(call->path = strdup(path)))
        goto out;
    dbus_message_set_auto_start(msg, FALSE);
    dbus_message_iter_init_append(msg, &iter);
    if (!settings_append_variant(&iter, value) ||
        !dbus_connection_send_with_reply(conn, msg, &call->pending, (int)timeout_ms))
        goto out;
    rc = -ENOTCONN;
    if (!call->pending)
        goto out;
    rc = -ENOMEM;
    if (!dbus_pending_call_set_notify(call->pending, on_set_value_reply, call, NULL))
        goto out;
    char text[64];
    settings_value_describe(value, text, sizeof(text));
    log_debug("settings: SetValue %s = %s", path, text);
    call->list = list;
    call->next = *list;
    *list = call;
    dbus_message_unref(msg);
    return 0;
out:
    if (call) {
        settings_call_cancel(&call->pending);
        free(call->path);
        free(call);
    }
    if (msg)
        dbus_message_unref(msg);
    return rc;
}

void settings_set_value_cancel_all(struct settings_set_call **list)
{
    while (*list) {
        struct settings_set_call *call = *list;
        *list = call->next;
        settings_call_cancel(&call->pending);
        free(call->path);
        free(call);
    }
}
