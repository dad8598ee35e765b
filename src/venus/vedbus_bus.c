/* vedbus_bus: a service's conversation with the bus daemon, none of it waiting for an answer:
 * Hello when connecting, RequestName (its answer handled from the loop), ReleaseName (no answer
 * wanted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "venus/vedbus_internal.h"

/* ---- connection ---- */

/* The D-Bus specification's address of the system bus when $DBUS_SYSTEM_BUS_ADDRESS is unset. */
#define SYSTEM_BUS_DEFAULT_ADDRESS "unix:path=/var/run/dbus/system_bus_socket"

/* Hello's reply: the connection's unique name, as dbus_bus_register would have set it. A bus that
 * refuses Hello (or gives no answer) is a lost bus: the connection is closed, and its Disconnected
 * reaches on_filter_message. */
static void on_hello_reply(DBusPendingCall *pending, void *data)
{
    struct vedbus_service *svc = data;
    DBusMessage *reply = dbus_pending_call_steal_reply(pending);
    dbus_pending_call_unref(svc->hello);
    svc->hello = NULL;
    DBusError err;
    dbus_error_init(&err);
    const char *unique = NULL;
    if (reply && !dbus_set_error_from_message(&err, reply) &&
        dbus_message_get_args(reply, &err, DBUS_TYPE_STRING, &unique, DBUS_TYPE_INVALID) &&
        dbus_bus_set_unique_name(svc->conn, unique)) {
        dbus_message_unref(reply);
        return;
    }
    log_error("vedbus: %s: the bus did not accept the connection: %s", svc->name,
              dbus_error_is_set(&err) ? err.message : "out of memory");
    dbus_error_free(&err);
    if (reply)
        dbus_message_unref(reply);
    dbus_connection_close(svc->conn);
}

/* Connects (a local socket: no wait for the bus process) and sends Hello without waiting for its
 * answer; the messages sent after it are handled by the bus in order, after Hello. */
static const char *bus_address(const char *address)
{
    if (!address)
        address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return address ? address : SYSTEM_BUS_DEFAULT_ADDRESS;
}

int vedbus_bus_reachable(const char *address, char *why, size_t size)
{
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *conn = dbus_connection_open_private(bus_address(address), &err);
    if (!conn) {
        snprintf(why, size, "%s", err.message ? err.message : "unknown error");
        dbus_error_free(&err);
        return -ECONNREFUSED;
    }
    dbus_connection_close(conn);
    dbus_connection_unref(conn);
    return 0;
}

int vedbus_connect(struct vedbus_service *svc, const char *address, DBusError *err)
{
    svc->conn = dbus_connection_open_private(bus_address(address), err);
    if (!svc->conn)
        return -ECONNREFUSED;
    DBusMessage *hello = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                                      DBUS_INTERFACE_DBUS, "Hello");
    bool ok = hello && dbus_connection_send_with_reply(svc->conn, hello, &svc->hello,
                                                       DBUS_TIMEOUT_USE_DEFAULT);
    if (hello)
        dbus_message_unref(hello);
    if (!ok || !svc->hello || !dbus_pending_call_set_notify(svc->hello, on_hello_reply, svc, NULL))
        return -ENOMEM;
    return 0;
}

/* ---- bus name ---- */

/* The RequestName reply, from the loop's dispatch (or libdbus's own timeout error reply). */
static int name_reply_result(struct vedbus_service *svc, DBusMessage *reply)
{
    DBusError err;
    dbus_error_init(&err);
    dbus_uint32_t r = 0;
    if (dbus_set_error_from_message(&err, reply) ||
        !dbus_message_get_args(reply, &err, DBUS_TYPE_UINT32, &r, DBUS_TYPE_INVALID)) {
        log_error("vedbus: cannot request bus name %s: %s", svc->name, err.message);
        dbus_error_free(&err);
        return -EIO;
    }
    if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER && r != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
        log_error("vedbus: bus name %s is already taken", svc->name);
        return -EEXIST;
    }
    return 0;
}

static void on_name_reply(DBusPendingCall *pending, void *data)
{
    struct vedbus_service *svc = data;
    DBusMessage *reply = dbus_pending_call_steal_reply(pending);
    dbus_pending_call_unref(svc->name_request);
    svc->name_request = NULL;
    int rc = reply ? name_reply_result(svc, reply) : -EIO;
    if (reply)
        dbus_message_unref(reply);
    svc->name_registered = rc == 0;
    if (svc->on_name)
        svc->on_name(svc, rc, svc->on_name_user);
}

/* Drops a request still waiting for its reply: its outcome no longer matters (a ReleaseName sent
 * after it undoes it on the bus, which handles one connection's messages in order). */
static void forget_name_request(struct vedbus_service *svc)
{
    if (!svc->name_request)
        return;
    dbus_pending_call_cancel(svc->name_request);
    dbus_pending_call_unref(svc->name_request);
    svc->name_request = NULL;
}

void vedbus_forget_calls(struct vedbus_service *svc)
{
    if (svc->hello) {
        dbus_pending_call_cancel(svc->hello);
        dbus_pending_call_unref(svc->hello);
        svc->hello = NULL;
    }
    forget_name_request(svc);
}

int vedbus_register_name(struct vedbus_service *svc)
{
    if (svc->name_registered || svc->name_request)
        return 0;
    DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                                    DBUS_INTERFACE_DBUS, "RequestName");
    dbus_uint32_t flags = DBUS_NAME_FLAG_DO_NOT_QUEUE;
    const char *name = svc->name;
    DBusPendingCall *pending = NULL;
    bool ok = msg &&
              dbus_message_append_args(msg, DBUS_TYPE_STRING, &name, DBUS_TYPE_UINT32, &flags,
                                       DBUS_TYPE_INVALID) &&
              dbus_connection_send_with_reply(svc->conn, msg, &pending, VEDBUS_NAME_TIMEOUT_MS);
    if (msg)
        dbus_message_unref(msg);
    if (!ok)
        return -ENOMEM;
    if (!pending) /* the connection is closed */
        return -ENOTCONN;
    if (!dbus_pending_call_set_notify(pending, on_name_reply, svc, NULL)) {
        dbus_pending_call_cancel(pending);
        dbus_pending_call_unref(pending);
        return -ENOMEM;
    }
    /* The reply can only come from the loop's dispatch (one thread), so never before this. */
    svc->name_request = pending;
    return 0;
}

int vedbus_release_name(struct vedbus_service *svc)
{
    if (!svc->name_registered && !svc->name_request)
        return 0;
    svc->name_registered = false;
    forget_name_request(svc);
    /* No reply wanted: the name is ours or pending, so the bus can only release it. */
    DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                                    DBUS_INTERFACE_DBUS, "ReleaseName");
    const char *name = svc->name;
    bool ok = msg && dbus_message_append_args(msg, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID);
    if (ok) {
        dbus_message_set_no_reply(msg, TRUE);
        ok = dbus_connection_send(svc->conn, msg, NULL);
    }
    if (msg)
        dbus_message_unref(msg);
    return ok ? 0 : -ENOMEM;
}

bool vedbus_name_registered(const struct vedbus_service *svc)
{
    return svc->name_registered;
}

bool vedbus_name_requested(const struct vedbus_service *svc)
{
    return svc->name_request != NULL;
}

void vedbus_set_name_handler(struct vedbus_service *svc, vedbus_name_fn fn, void *user)
{
    svc->on_name = fn;
    svc->on_name_user = user;
}
