/* settings: a client of com.victronenergy.settings (Venus OS "localsettings"), see venus-dbus.md.
 *
 * Contract:
 * - A client is bound to an existing bus connection (the battery service's own, already driven by
 *   the mainloop) and registers a fixed list of settings with AddSettings(aa{sv}) on "/". Nothing
 *   ever blocks: every call is a DBusPendingCall with a notify callback.
 * - Until the settings service answers, every setting holds its default (settings_get) and the
 *   daemon runs on those. The client watches NameOwnerChanged for com.victronenergy.settings: it
 *   registers as soon as the name has an owner, and again whenever a new owner appears (restart).
 *   A failed or timed-out AddSettings is retried after retry_ms while the service is on the bus.
 * - Each value localsettings reports -- in the AddSettings reply (SETTINGS_ORIGIN_REGISTERED) or in
 *   a PropertiesChanged on the setting's own path (SETTINGS_ORIGIN_CHANGED) -- updates the cached
 *   value and goes to on_value. Values are converted to the setting's declared type; a value of
 *   another kind (e.g. a string for an int setting, or "invalid" when a setting is removed) is
 *   ignored with a warning.
 * - settings_set writes through with SetValue; the cache changes only when localsettings reports
 *   the new value back (it emits PropertiesChanged for every change, whoever made it). A value
 *   set while the settings are not registered (the service is away, or has not answered yet) is
 *   kept, the last one per setting, and written at the next registration: it then replaces the
 *   stored value in the registration's report (the user's last word wins).
 * - Callbacks run from the loop; they may call settings_get/settings_set but must not free the
 *   client.
 * Functions return 0 or a negative errno.
 */
#ifndef LYNX_SETTINGS_H
#define LYNX_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbus/dbus.h>

#include "base/mainloop.h"
#include "venus/settings_wire.h"

#define SETTINGS_SERVICE_NAME "com.victronenergy.settings"

/* A buffer that holds any setting path a client accepts (longer paths are refused). */
#define SETTINGS_PATH_MAX 256

enum settings_origin {
    SETTINGS_ORIGIN_REGISTERED, /* the value AddSettings returned (stored, or the default) */
    SETTINGS_ORIGIN_CHANGED,    /* a PropertiesChanged: GUI, another client or settings_set */
};

enum settings_state {
    SETTINGS_STATE_WAITING,     /* the settings service is not on the bus; defaults in use */
    SETTINGS_STATE_REGISTERING, /* AddSettings sent, no answer yet */
    SETTINGS_STATE_REGISTERED,  /* values come from the settings service */
    SETTINGS_STATE_FAILED,      /* AddSettings failed or timed out; defaults in use, retry armed */
};

struct settings_client;

/* value is valid during the call only. */
typedef void (*settings_value_fn)(struct settings_client *client, const char *path,
                                  const struct settings_value *value, enum settings_origin origin,
                                  void *user);
typedef void (*settings_state_fn)(struct settings_client *client, enum settings_state state,
                                  void *user);

struct settings_client_options {
    settings_value_fn on_value; /* may be NULL */
    settings_state_fn on_state; /* may be NULL; called on every state transition */
    void *user;
    uint32_t reply_timeout_ms; /* AddSettings reply timeout; 0 = 10000 */
    uint32_t retry_ms;         /* retry after a failure; 0 = 30000 */
};

/* Copies defs (count > 0; paths must be valid object paths, unique), subscribes to the service's
 * name and the settings' PropertiesChanged on conn and starts watching for the service: the first
 * registration happens from the loop, never inside this call. conn must be driven by loop and stay
 * open until settings_client_free. -EINVAL for a bad definition. */
int settings_client_new(struct mainloop *loop, DBusConnection *conn,
                        const struct settings_def *defs, size_t count,
                        const struct settings_client_options *options,
                        struct settings_client **out);
/* Cancels pending calls, removes the filter, matches and timers. */
void settings_client_free(struct settings_client *client);

enum settings_state settings_client_state(const struct settings_client *client);

/* The current value (a string stays valid until the setting next changes); -ENOENT for a path
 * that was not registered. */
int settings_get(const struct settings_client *client, const char *path,
                 struct settings_value *out);

/* Sends SetValue(value) to the setting, converted to its type (an int for a double setting is
 * fine; anything else -EINVAL), or keeps it for the next registration (see above). -ENOENT:
 * unknown path. A rejection by localsettings is logged. */
int settings_set(struct settings_client *client, const char *path,
                 const struct settings_value *value);

#endif
