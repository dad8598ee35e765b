/* vedbus_internal: what vedbus.c and vedbus_bus.c share: the service itself. */
#ifndef LYNX_VEDBUS_INTERNAL_H
#define LYNX_VEDBUS_INTERNAL_H

#include <dbus/dbus.h>

#include "venus/vedbus.h"
#include "venus/vedbus_items.h"

struct vedbus_service {
    struct mainloop *loop;
    DBusConnection *conn;
    char *name;
    bool connected;
    bool name_registered;
    DBusPendingCall *hello;        /* Hello sent, no reply yet */
    DBusPendingCall *name_request; /* RequestName sent, no reply yet */
    vedbus_disconnect_fn on_disconnect;
    void *on_disconnect_user;
    vedbus_name_fn on_name;
    void *on_name_user;
    struct vedbus_table table;
};

/* Opens the connection (address NULL: the system bus) and sends Hello without waiting for it:
 * 0, -ECONNREFUSED (err set) or -ENOMEM. */
int vedbus_connect(struct vedbus_service *svc, const char *address, DBusError *err);
/* Drops the calls in flight (Hello, RequestName): their answers are never handled. */
void vedbus_forget_calls(struct vedbus_service *svc);

#endif
