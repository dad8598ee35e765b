/* settings: the localsettings client: watches com.victronenergy.settings, registers the settings
 * (AddSettings), follows their PropertiesChanged and writes settings_set through. The wire form is
 * in settings_wire.c, the SetValue calls in settings_calls.c. */
#include "venus/settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "venus/settings_calls.h"

#define SETTINGS_INTERFACE "com.victronenergy.Settings"
#define BUSITEM_INTERFACE  "com.victronenergy.BusItem"

#define DEFAULT_REPLY_TIMEOUT_MS 10000
#define DEFAULT_RETRY_MS         30000
#define MATCH_RULE_MAX           (SETTINGS_PATH_MAX + 256)

struct setting {
    char *path;
    enum settings_type type;
    struct settings_value def, min, max; /* def.s owned */
    bool has_range;
    bool silent;
    struct settings_value value;   /* value.s owned */
    bool has_pending;              /* written while localsettings was away (settings_set) */
    struct settings_value pending; /* pending.s owned */
};

struct settings_client {
    struct mainloop *loop;
    DBusConnection *conn;
    struct setting *settings;
    size_t count;
    struct settings_client_options options;

    enum settings_state state;
    char *owner; /* unique name of the settings service, NULL while absent */
    DBusPendingCall *owner_call;
    DBusPendingCall *register_call;
    struct settings_set_call *set_calls; /* SetValue calls in flight */
    struct mainloop_timer *retry_timer;

    bool filter_added;
    char owner_rule[MATCH_RULE_MAX];
    char properties_rule[MATCH_RULE_MAX];
};

static void send_add_settings(struct settings_client *client);

static int send_set_value(struct settings_client *client, const char *path,
                          const struct settings_value *value)
{
    return settings_set_value_send(client->conn, client->owner, path, value,
                                   client->options.reply_timeout_ms, &client->set_calls);
}

/* ---- the client's state ---- */

static struct setting *find_setting(const struct settings_client *client, const char *path)
{
    for (size_t i = 0; i < client->count; i++)
        if (strcmp(client->settings[i].path, path) == 0)
            return &client->settings[i];
    return NULL;
}

static void set_state(struct settings_client *client, enum settings_state state)
{
    if (client->state == state)
        return;
    client->state = state;
    if (client->options.on_state)
        client->options.on_state(client, state, client->options.user);
}

/* Takes a value localsettings reported for a setting; a CHANGED report that changes nothing is
 * not passed on (localsettings re-sends the value when only attributes changed). */
static void take_value(struct settings_client *client, struct setting *setting,
                       const struct settings_value *reported, enum settings_origin origin)
{
    struct settings_value value, copy;
    if (settings_value_coerce(setting->type, reported, &value) < 0) {
        log_warn("settings: %s: ignoring a value of the wrong type", setting->path);
        return;
    }
    if (origin == SETTINGS_ORIGIN_CHANGED && settings_value_equal(&setting->value, &value))
        return;
    if (settings_value_copy(&copy, &value) < 0) {
        log_error("settings: %s: out of memory", setting->path);
        return;
    }
    settings_value_free(&setting->value);
    setting->value = copy;
    if (client->options.on_value)
        client->options.on_value(client, setting->path, &setting->value, origin,
                                 client->options.user);
}

static void registration_failed(struct settings_client *client)
{
    set_state(client, SETTINGS_STATE_FAILED);
    mainloop_timer_arm(client->retry_timer, client->options.retry_ms);
}

static void owner_appeared(struct settings_client *client, const char *owner)
{
    if (client->owner && strcmp(client->owner, owner) == 0 &&
        client->state != SETTINGS_STATE_WAITING)
        return; /* the same owner reported twice (GetNameOwner reply and NameOwnerChanged) */
    char *copy = strdup(owner);
    if (!copy) {
        log_error("settings: out of memory");
        return;
    }
    free(client->owner);
    client->owner = copy;
    settings_call_cancel(&client->register_call);
    mainloop_timer_disarm(client->retry_timer);
    send_add_settings(client);
}

static void owner_vanished(struct settings_client *client)
{
    free(client->owner);
    client->owner = NULL;
    settings_call_cancel(&client->register_call);
    mainloop_timer_disarm(client->retry_timer);
    set_state(client, SETTINGS_STATE_WAITING);
}

/* ---- AddSettings ---- */

static DBusMessage *build_add_settings(const struct settings_client *client)
{
    DBusMessage *msg =
        dbus_message_new_method_call(client->owner, "/", SETTINGS_INTERFACE, "AddSettings");
    if (!msg)
        return NULL;
    dbus_message_set_auto_start(msg, FALSE);
    DBusMessageIter iter, array;
    dbus_message_iter_init_append(msg, &iter);
    if (!dbus_message_iter_open_container(&iter, DBUS_TYPE_ARRAY, "a{sv}", &array))
        goto fail;
    for (size_t i = 0; i < client->count; i++) {
        const struct setting *s = &client->settings[i];
        const struct settings_def def = {.path = s->path,
                                         .def = s->def,
                                         .has_range = s->has_range,
                                         .min = s->min,
                                         .max = s->max,
                                         .silent = s->silent};
        if (!settings_append_definition(&array, &def)) {
            dbus_message_iter_abandon_container(&iter, &array);
            goto fail;
        }
    }
    if (dbus_message_iter_close_container(&iter, &array))
        return msg;
fail:
    dbus_message_unref(msg);
    return NULL;
}

/* One result dict {"path": s, "error": i, "value": v}. */
static void take_add_result(struct settings_client *client, DBusMessageIter *dict)
{
    const char *path = NULL;
    int32_t error = 0;
    bool have_value = false;
    DBusMessageIter value_variant;
    for (; dbus_message_iter_get_arg_type(dict) == DBUS_TYPE_DICT_ENTRY;
         dbus_message_iter_next(dict)) {
        DBusMessageIter entry, inner;
        const char *key;
        dbus_message_iter_recurse(dict, &entry);
        dbus_message_iter_get_basic(&entry, &key);
        dbus_message_iter_next(&entry); /* now at the variant */
        dbus_message_iter_recurse(&entry, &inner);
        int type = dbus_message_iter_get_arg_type(&inner);
        if (strcmp(key, "value") == 0) {
            value_variant = entry;
            have_value = true;
        } else if (strcmp(key, "path") == 0 && type == DBUS_TYPE_STRING) {
            dbus_message_iter_get_basic(&inner, &path);
        } else if (strcmp(key, "error") == 0 && type == DBUS_TYPE_INT32) {
            dbus_message_iter_get_basic(&inner, &error);
        }
    }
    struct setting *setting = path ? find_setting(client, path) : NULL;
    if (!setting)
        return;
    if (error != 0) {
        log_warn("settings: localsettings refused %s (error %d); using the default", path,
                 (int)error);
        return;
    }
    if (setting->has_pending) {
        /* Written while localsettings was away: the user's last word wins over what it stored. */
        log_info("settings: writing %s, set while %s was away", path, SETTINGS_SERVICE_NAME);
        if (send_set_value(client, path, &setting->pending) == 0) {
            take_value(client, setting, &setting->pending, SETTINGS_ORIGIN_REGISTERED);
            setting->has_pending = false;
            settings_value_free(&setting->pending);
            return;
        }
    }
    struct settings_value value;
    if (!have_value || settings_read_variant(&value_variant, &value) < 0) {
        log_warn("settings: %s: AddSettings returned no usable value; using the default", path);
        return;
    }
    take_value(client, setting, &value, SETTINGS_ORIGIN_REGISTERED);
}

static void on_add_settings_reply(DBusPendingCall *pending, void *user)
{
    struct settings_client *client = user;
    DBusMessage *reply = dbus_pending_call_steal_reply(pending);
    dbus_pending_call_unref(client->register_call);
    client->register_call = NULL;
    if (!reply) {
        registration_failed(client);
        return;
    }
    DBusMessageIter iter, array;
    if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR) {
        log_warn("settings: AddSettings failed: %s; using defaults, retrying in %u ms",
                 dbus_message_get_error_name(reply), (unsigned)client->options.retry_ms);
        registration_failed(client);
    } else if (!dbus_message_iter_init(reply, &iter) ||
               strcmp(dbus_message_get_signature(reply), "aa{sv}") != 0) {
        log_warn("settings: AddSettings answered with signature \"%s\"; using defaults",
                 dbus_message_get_signature(reply));
        registration_failed(client);
    } else {
        dbus_message_iter_recurse(&iter, &array);
        for (; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_ARRAY;
             dbus_message_iter_next(&array)) {
            DBusMessageIter dict;
            dbus_message_iter_recurse(&array, &dict);
            take_add_result(client, &dict);
        }
        set_state(client, SETTINGS_STATE_REGISTERED);
    }
    dbus_message_unref(reply);
}

static void send_add_settings(struct settings_client *client)
{
    DBusMessage *msg = build_add_settings(client);
    DBusPendingCall *pending = NULL;
    if (msg &&
        dbus_connection_send_with_reply(client->conn, msg, &pending,
                                        (int)client->options.reply_timeout_ms) &&
        pending && dbus_pending_call_set_notify(pending, on_add_settings_reply, client, NULL)) {
        client->register_call = pending;
        dbus_message_unref(msg);
        set_state(client, SETTINGS_STATE_REGISTERING);
        return;
    }
    log_warn("settings: cannot send AddSettings; using defaults");
    if (pending) {
        dbus_pending_call_cancel(pending);
        dbus_pending_call_unref(pending);
    }
    if (msg)
        dbus_message_unref(msg);
    registration_failed(client);
}

static void on_retry(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer;
    struct settings_client *client = user;
    if (client->owner && !client->register_call)
        send_add_settings(client);
}

/* ---- watching the service ---- */

static void on_get_name_owner_reply(DBusPendingCall *pending, void *user)
{
    struct settings_client *client = user;
    DBusMessage *reply = dbus_pending_call_steal_reply(pending);
    dbus_pending_call_unref(client->owner_call);
    client->owner_call = NULL;
    const char *owner = NULL;
    if (reply && dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_METHOD_RETURN &&
        dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &owner, DBUS_TYPE_INVALID)) {
        owner_appeared(client, owner);
    } else {
        log_info("settings: %s is not on the bus yet; using defaults until it appears",
                 SETTINGS_SERVICE_NAME);
        owner_vanished(client);
    }
    if (reply)
        dbus_message_unref(reply);
}

static int ask_name_owner(struct settings_client *client)
{
    DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                                    DBUS_INTERFACE_DBUS, "GetNameOwner");
    const char *name = SETTINGS_SERVICE_NAME;
    DBusPendingCall *pending = NULL;
    int rc = -ENOMEM;
    if (msg && dbus_message_append_args(msg, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
        dbus_connection_send_with_reply(client->conn, msg, &pending, DBUS_TIMEOUT_USE_DEFAULT)) {
        rc = -ENOTCONN;
        if (pending) {
            rc = -ENOMEM;
            if (dbus_pending_call_set_notify(pending, on_get_name_owner_reply, client, NULL)) {
                client->owner_call = pending;
                pending = NULL;
                rc = 0;
            }
        }
    }
    if (pending) {
        dbus_pending_call_cancel(pending);
        dbus_pending_call_unref(pending);
    }
    if (msg)
        dbus_message_unref(msg);
    return rc;
}

static void handle_name_owner_changed(struct settings_client *client, DBusMessage *msg)
{
    const char *name, *old_owner, *new_owner;
    if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner,
                               DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) ||
        strcmp(name, SETTINGS_SERVICE_NAME) != 0)
        return;
    if (*new_owner) {
        log_info("settings: %s appeared; registering settings", SETTINGS_SERVICE_NAME);
        owner_appeared(client, new_owner);
    } else if (client->owner) {
        log_warn("settings: %s left the bus; keeping the last values", SETTINGS_SERVICE_NAME);
        owner_vanished(client);
    }
}

/* PropertiesChanged(a{sv}) on a setting's path: only "Value" matters. */
static void handle_properties_changed(struct settings_client *client, DBusMessage *msg)
{
    const char *sender = dbus_message_get_sender(msg);
    const char *path = dbus_message_get_path(msg);
    if (!client->owner || !sender || strcmp(sender, client->owner) != 0 || !path)
        return;
    /* localsettings announces what AddSettings does (a new setting, a bumped instance) before it
     * replies; the reply carries the same values and is reported as REGISTERED instead. */
    if (client->state == SETTINGS_STATE_REGISTERING)
        return;
    struct setting *setting = find_setting(client, path);
    DBusMessageIter iter, dict;
    if (!setting || !dbus_message_iter_init(msg, &iter) ||
        strcmp(dbus_message_get_signature(msg), "a{sv}") != 0)
        return;
    dbus_message_iter_recurse(&iter, &dict);
    for (; dbus_message_iter_get_arg_type(&dict) == DBUS_TYPE_DICT_ENTRY;
         dbus_message_iter_next(&dict)) {
        DBusMessageIter entry;
        const char *key;
        dbus_message_iter_recurse(&dict, &entry);
        dbus_message_iter_get_basic(&entry, &key);
        if (strcmp(key, "Value") != 0)
            continue;
        dbus_message_iter_next(&entry);
        struct settings_value value;
        if (settings_read_variant(&entry, &value) < 0) {
            log_warn("settings: %s became invalid (removed?); keeping the last value", path);
            return;
        }
        take_value(client, setting, &value, SETTINGS_ORIGIN_CHANGED);
        return;
    }
}

/* Signals are never consumed: the connection's other users (vedbus) may want them too. */
static DBusHandlerResult filter_message(DBusConnection *conn, DBusMessage *msg, void *user)
{
    (void)conn;
    struct settings_client *client = user;
    if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
        dbus_message_has_sender(msg, DBUS_SERVICE_DBUS))
        handle_name_owner_changed(client, msg);
    else if (dbus_message_is_signal(msg, BUSITEM_INTERFACE, "PropertiesChanged"))
        handle_properties_changed(client, msg);
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static bool element_end(char c)
{
    return c == '/' || c == '\0';
}

/* The longest path-element prefix shared by every setting path ("/" at worst): the
 * PropertiesChanged match then wakes us only for our own settings' subtree. */
static void common_path_prefix(const struct settings_client *client, char *buf, size_t size)
{
    snprintf(buf, size, "%s", client->settings[0].path);
    size_t len = strlen(buf);
    for (size_t i = 1; i < client->count; i++) {
        const char *p = client->settings[i].path;
        size_t n = 0;
        while (n < len && buf[n] == p[n])
            n++;
        while (n > 0 && !(element_end(buf[n]) && element_end(p[n])))
            n--; /* back to the end of the last element both share */
        len = n;
        buf[len] = '\0';
    }
    if (len == 0)
        snprintf(buf, size, "/");
}

static int subscribe(struct settings_client *client)
{
    char prefix[SETTINGS_PATH_MAX];
    common_path_prefix(client, prefix, sizeof(prefix));
    snprintf(client->owner_rule, sizeof(client->owner_rule),
             "type='signal',sender='" DBUS_SERVICE_DBUS "',path='" DBUS_PATH_DBUS
             "',interface='" DBUS_INTERFACE_DBUS "',member='NameOwnerChanged',arg0='%s'",
             SETTINGS_SERVICE_NAME);
    snprintf(client->properties_rule, sizeof(client->properties_rule),
             "type='signal',sender='%s',interface='" BUSITEM_INTERFACE
             "',member='PropertiesChanged',path_namespace='%s'",
             SETTINGS_SERVICE_NAME, prefix);
    if (!dbus_connection_add_filter(client->conn, filter_message, client, NULL))
        return -ENOMEM;
    client->filter_added = true;
    /* A NULL error makes these asynchronous: the bus applies them before our next call. */
    dbus_bus_add_match(client->conn, client->owner_rule, NULL);
    dbus_bus_add_match(client->conn, client->properties_rule, NULL);
    return 0;
}

/* ---- construction ---- */

static int check_definition(const struct settings_def *def)
{
    if (!def->path || strlen(def->path) >= SETTINGS_PATH_MAX ||
        !dbus_validate_path(def->path, NULL) || strcmp(def->path, "/") == 0)
        return -EINVAL;
    if (def->def.type == SETTINGS_TYPE_STRING)
        return def->def.s && dbus_validate_utf8(def->def.s, NULL) && !def->has_range ? 0 : -EINVAL;
    if (def->def.type != SETTINGS_TYPE_INT && def->def.type != SETTINGS_TYPE_DOUBLE)
        return -EINVAL;
    if (def->has_range && (def->min.type != def->def.type || def->max.type != def->def.type))
        return -EINVAL;
    return 0;
}

static int init_setting(struct setting *setting, const struct settings_def *def)
{
    int rc = check_definition(def);
    if (rc < 0)
        return rc;
    setting->path = strdup(def->path);
    setting->type = def->def.type;
    setting->has_range = def->has_range;
    setting->silent = def->silent;
    setting->min = def->min;
    setting->max = def->max;
    setting->def = SETTINGS_INT(0);
    setting->value = SETTINGS_INT(0);
    if (!setting->path || settings_value_copy(&setting->def, &def->def) < 0 ||
        settings_value_copy(&setting->value, &def->def) < 0)
        return -ENOMEM;
    return 0;
}

static void free_settings(struct settings_client *client)
{
    for (size_t i = 0; i < client->count; i++) {
        free(client->settings[i].path);
        settings_value_free(&client->settings[i].def);
        settings_value_free(&client->settings[i].value);
        if (client->settings[i].has_pending)
            settings_value_free(&client->settings[i].pending);
    }
    free(client->settings);
}

int settings_client_new(struct mainloop *loop, DBusConnection *conn,
                        const struct settings_def *defs, size_t count,
                        const struct settings_client_options *options, struct settings_client **out)
{
    if (!loop || !conn || !defs || count == 0 || !out)
        return -EINVAL;
    struct settings_client *client = calloc(1, sizeof(*client));
    if (!client)
        return -ENOMEM;
    client->loop = loop;
    client->conn = dbus_connection_ref(conn);
    client->state = SETTINGS_STATE_WAITING;
    if (options)
        client->options = *options;
    if (!client->options.reply_timeout_ms)
        client->options.reply_timeout_ms = DEFAULT_REPLY_TIMEOUT_MS;
    if (!client->options.retry_ms)
        client->options.retry_ms = DEFAULT_RETRY_MS;

    int rc = -ENOMEM;
    client->settings = calloc(count, sizeof(*client->settings));
    if (!client->settings)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        client->count = i + 1;
        rc = init_setting(&client->settings[i], &defs[i]);
        if (rc == 0 && find_setting(client, defs[i].path) != &client->settings[i])
            rc = -EINVAL; /* a duplicate path */
        if (rc < 0)
            goto fail;
    }
    rc = mainloop_add_timer(loop, client->options.retry_ms, false, on_retry, client,
                            &client->retry_timer);
    if (rc < 0)
        goto fail;
    mainloop_timer_disarm(client->retry_timer);
    rc = subscribe(client);
    if (rc == 0)
        rc = ask_name_owner(client);
    if (rc < 0)
        goto fail;
    *out = client;
    return 0;
fail:
    settings_client_free(client);
    return rc;
}

void settings_client_free(struct settings_client *client)
{
    if (!client)
        return;
    settings_call_cancel(&client->owner_call);
    settings_call_cancel(&client->register_call);
    settings_set_value_cancel_all(&client->set_calls);
    if (client->filter_added) {
        dbus_connection_remove_filter(client->conn, filter_message, client);
        if (dbus_connection_get_is_connected(client->conn)) {
            dbus_bus_remove_match(client->conn, client->owner_rule, NULL);
            dbus_bus_remove_match(client->conn, client->properties_rule, NULL);
        }
    }
    if (client->retry_timer)
        mainloop_remove_timer(client->retry_timer);
    free(client->owner);
    free_settings(client);
    dbus_connection_unref(client->conn);
    free(client);
}

enum settings_state settings_client_state(const struct settings_client *client)
{
    return client->state;
}

int settings_get(const struct settings_client *client, const char *path, struct settings_value *out)
{
    const struct setting *setting = find_setting(client, path);
    if (!setting)
        return -ENOENT;
    *out = setting->value;
    return 0;
}

int settings_set(struct settings_client *client, const char *path,
                 const struct settings_value *value)
{
    struct setting *setting = find_setting(client, path);
    if (!setting)
        return -ENOENT;
    struct settings_value coerced, copy;
    if (settings_value_coerce(setting->type, value, &coerced) < 0)
        return -EINVAL;
    if (coerced.type == SETTINGS_TYPE_STRING && !dbus_validate_utf8(coerced.s, NULL))
        return -EILSEQ;
    if (client->owner && client->state == SETTINGS_STATE_REGISTERED)
        return send_set_value(client, path, &coerced);
    /* Not registered (yet): keep it for the next registration, which writes it. */
    if (settings_value_copy(&copy, &coerced) < 0)
        return -ENOMEM;
    if (setting->has_pending)
        settings_value_free(&setting->pending);
    setting->pending = copy;
    setting->has_pending = true;
    log_info("settings: %s is not registered; %s will be written when it is", SETTINGS_SERVICE_NAME,
             path);
    return 0;
}
