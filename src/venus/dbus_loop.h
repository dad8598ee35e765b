/* dbus_loop: drives libdbus connections from the mainloop (the only libdbus code the loop runs).
 *
 * Contract:
 * - A connection's watches become mainloop fd watches and its timeouts mainloop timers; the
 *   connection itself becomes a mainloop source that dispatches it until complete at the start of
 *   every iteration and after the iteration's callbacks, and keeps poll from blocking while
 *   libdbus reports queued messages. Message handlers therefore run inside the loop, never inside
 *   libdbus's I/O calls, and nothing blocks.
 * - mainloop_free detaches the connections still attached.
 * Functions return 0 or a negative errno.
 */
#ifndef LYNX_DBUS_LOOP_H
#define LYNX_DBUS_LOOP_H

#include <dbus/dbus.h>

#include "base/mainloop.h"

/* Drives conn from loop (takes a reference): -EEXIST if it already is. The connection's watch,
 * timeout and dispatch-status functions belong to the loop until dbus_loop_remove. */
int dbus_loop_add(struct mainloop *loop, DBusConnection *conn);
/* Gives the connection's functions back and drops the reference; nothing if conn is not attached.
 * Safe from inside the connection's own message handlers. */
void dbus_loop_remove(struct mainloop *loop, DBusConnection *conn);

#endif
