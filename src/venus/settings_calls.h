/* settings_calls: calls to localsettings in flight.
 *
 * - settings_set_value_send sends SetValue(v) on a setting's path to the settings service and keeps
 *   the call on the caller's list until it is answered or cancelled. The answer is only logged:
 *   the new value comes back in localsettings' PropertiesChanged.
 * Functions return 0 or a negative errno.
 */
#ifndef LYNX_SETTINGS_CALLS_H
#define LYNX_SETTINGS_CALLS_H

#include <stdint.h>

#include <dbus/dbus.h>

#include "venus/settings_wire.h"

struct settings_set_call;

/* Cancels and drops a pending call, if any; *pending becomes NULL. */
void settings_call_cancel(DBusPendingCall **pending);

/* Sends SetValue(value) to path at owner (no auto-start): -ENOMEM, or -ENOTCONN when the
 * connection is closed. list must stay where it is while calls are on it. */
int settings_set_value_send(DBusConnection *conn, const char *owner, const char *path,
                            const struct settings_value *value, uint32_t timeout_ms,
                            struct settings_set_call **list);
/* Cancels every call on the list; their answers are never logged. */
void settings_set_value_cancel_all(struct settings_set_call **list);

#endif
