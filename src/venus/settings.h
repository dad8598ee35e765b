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

#define SETTINGS_SERVICE_NAME "com.victronenergy.settings"

/* Setting paths of one adapter, all below /Settings/Devices/<device id>/ where the device id is
 * "dbus_lynx_distributor_<serial>" (service_settings_id). ClassAndVrmInstance is the path the
 * original Python project registered (default "battery:1" there), kept so an upgrade keeps its
 * VRM instance. The original kept the custom name and fuse names in its INI file only; here both
 * are settings too, so names edited in the GUI survive a restart:
 *   /Settings/Devices/<id>/ClassAndVrmInstance       "battery:N"
 *   /Settings/Devices/<id>/CustomName                 "" = use the configured/product name
 *   /Settings/Devices/<id>/Distributor/<A-D>/Fuse/<0-3>/Name   "" = use the configured name
 * Fuse names are keyed by the published /Distributor/X/Fuse/N index (after the upside-down
 * mapping), i.e. by the label the user edited. */
#define SETTINGS_DEVICES_PREFIX          "/Settings/Devices/"
#define SETTINGS_LEAF_CLASS_AND_INSTANCE "ClassAndVrmInstance"
#define SETTINGS_LEAF_CUSTOM_NAME        "CustomName"
#define SETTINGS_PATH_MAX                256

enum settings_type {
    SETTINGS_TYPE_INT,
    SETTINGS_TYPE_DOUBLE,
    SETTINGS_TYPE_STRING,
};

/* A value; s is borrowed (callers keep it alive for the call; the client keeps its own copy). */
struct settings_value {
    enum settings_type type;
    union {
        int64_t i;
        double d;
        const char *s;
    };
};

#define SETTINGS_INT(v)    ((struct settings_value){.type = SETTINGS_TYPE_INT, .i = (v)})
#define SETTINGS_DOUBLE(v) ((struct settings_value){.type = SETTINGS_TYPE_DOUBLE, .d = (v)})
#define SETTINGS_STRING(v) ((struct settings_value){.type = SETTINGS_TYPE_STRING, .s = (v)})

/* One setting to register. The default's type is the setting's type. min/max only for numbers,
 * both of the default's type; has_range false registers no range (localsettings' min=max=0). */
struct settings_def {
    const char *path;
    struct settings_value def;
    bool has_range;
    struct settings_value min, max;
    bool silent; /* localsettings does not log changes of a silent setting */
};

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

/* Parses "<class>:<N>" (e.g. "battery:1") into N. expected_class may be NULL (any class).
 * -EINVAL if malformed, N outside 0..INT32_MAX or the class differs. */
int settings_parse_class_instance(const char *value, const char *expected_class, int *instance);

/* "/Settings/Devices/<device_id>/<leaf>"; -ENAMETOOLONG if it does not fit in size. */
int settings_device_path(char *buf, size_t size, const char *device_id, const char *leaf);
/* "/Settings/Devices/<device_id>/Distributor/<letter>/Fuse/<fuse>/Name". */
int settings_fuse_name_path(char *buf, size_t size, const char *device_id, char distributor,
                            unsigned fuse);

#endif
