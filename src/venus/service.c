#include "venus/service.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "venus/battery_choice.h"
#include "venus/name.h"
#include "venus/service_diagnostics.h"
#include "venus/settings.h"
#include "venus/settings_paths.h"
#include "venus/vedbus.h"

#ifndef LYNX_VERSION
#define LYNX_VERSION "unknown"
#endif

#define PRODUCT_NAME "Lynx Distributor"
#define PRODUCT_ID   0xFFFF /* the original project's; real Lynx BMS ids are special-cased */

/* A GUI-writeable name and the localsettings path that persists it. */
struct name_binding {
    struct service *svc;
    struct vedbus_item *item;
    char setting[SETTINGS_PATH_MAX];
    char fallback[NAME_CUSTOM_MAX_BYTES + 1]; /* shown when the setting is "" */
    const struct name_limit *limit;
};

#define N_FUSE_NAMES (LYNX_DISTRIBUTORS * LYNX_FUSES)

struct distributor_items {
    struct vedbus_item *status;
    struct vedbus_item *connection_lost;
    struct vedbus_item *fuse_name[LYNX_FUSES]; /* by published index */
    struct vedbus_item *fuse_status[LYNX_FUSES];
    struct vedbus_item *fuse_blown[LYNX_FUSES];
};

struct service {
    struct mainloop *loop;
    bool bus_lost;
    struct vedbus_service *bus;
    struct vedbus_item *adapter_connected;
    struct vedbus_item *mgmt_connection, *hardware;
    struct vedbus_item *device_instance;
    struct vedbus_item *custom_name;
    struct vedbus_item *nr_of_distributors;
    struct distributor_items dist[LYNX_DISTRIBUTORS];
    struct poll_report published;
    struct settings_client *settings;
    char instance_setting[SETTINGS_PATH_MAX];
    /* Announcing: the bus name is requested once the instance is known (or the wait is over). */
    struct mainloop_timer *announce_timer; /* the settings wait, then name retries */
    uint32_t announce_retry_ms;            /* back-off after a refused RequestName */
    int announced_instance;                /* /DeviceInstance while the name is owned */
    bool waited;                           /* the settings wait is over */
    struct name_binding custom_name_binding;
    struct name_binding fuse_name_binding[N_FUSE_NAMES];
    struct service_diagnostics diagnostics;
    uint32_t settings_timeout_ms;
};

static const char *const distributor_status_text[] = {"Not available", "Connected", "No bus power",
                                                      "Communications lost"};
static const char *const fuse_status_text[] = {"Not available", "Not used", "Ok", "Blown"};
static const char *const alarm_text[] = {"Ok", "Warning", "Alarm"};

struct enum_text {
    const char *const *names;
    size_t count;
};
static const struct enum_text distributor_status_enum = {distributor_status_text, 4};
static const struct enum_text fuse_status_enum = {fuse_status_text, 4};
static const struct enum_text alarm_enum = {alarm_text, 3};

static void enum_text(const struct vedbus_value *value, char *buf, size_t size, void *user)
{
    const struct enum_text *e = user;
    if (value->type == VEDBUS_TYPE_INT && value->i >= 0 && (size_t)value->i < e->count)
        snprintf(buf, size, "%s", e->names[value->i]);
    else
        snprintf(buf, size, "%lld", (long long)value->i);
}

void service_settings_id(const char *serial, char *buf, size_t size)
{
    int n = snprintf(buf, size, SERVICE_SETTINGS_ID_PREFIX "%s", serial);
    for (size_t i = strlen(SERVICE_SETTINGS_ID_PREFIX); n > 0 && i < size && buf[i]; i++) {
        char c = buf[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            buf[i] = '_';
    }
}

/* A name written from the GUI or MQTT: the rules of name.h (vedbus has already checked the
 * UTF-8). An accepted name is written through to localsettings so it survives a restart; while
 * localsettings is away the settings client keeps it and writes it when it returns. The empty
 * name means the default: it is stored as "", and the default is what the item shows, at once
 * and whether localsettings is there or not. */
static int validate_name(struct vedbus_item *item, struct vedbus_value *proposed, void *user)
{
    struct name_binding *b = user;
    if (proposed->type != VEDBUS_TYPE_STRING)
        return -EINVAL;
    enum name_check rc = name_check(proposed->s, b->limit, NULL);
    if (rc != NAME_OK) {
        log_warn("%s: %s refused: %s", vedbus_service_name(b->svc->bus), vedbus_item_path(item),
                 name_check_message(rc));
        return -EINVAL;
    }
    if (b->svc->settings) {
        struct settings_value v = SETTINGS_STRING(proposed->s);
        settings_set(b->svc->settings, b->setting, &v);
    }
    if (!proposed->s[0])
        proposed->s = b->fallback;
    return 0;
}

static int add(struct service *svc, const char *path, struct vedbus_value initial,
               const struct vedbus_item_options *opt, struct vedbus_item **out)
{
    int rc = vedbus_add_item(svc->bus, path, &initial, opt, out);
    if (rc < 0)
        log_error("%s: cannot add %s: %s", vedbus_service_name(svc->bus), path, strerror(-rc));
    return rc;
}

static int add_enum(struct service *svc, const char *path, int value, const struct enum_text *e,
                    struct vedbus_item **out)
{
    struct vedbus_item_options opt = {
        .type = VEDBUS_TYPE_INT, .text = enum_text, .text_user = (void *)e};
    return add(svc, path, VEDBUS_INT(value), &opt, out);
}

static int add_mandatory(struct service *svc, const struct service_setup *setup)
{
    struct vedbus_item_options hex = {.format = VEDBUS_TEXT_HEX};
    struct name_binding *b = &svc->custom_name_binding;
    struct vedbus_item_options name = {.type = VEDBUS_TYPE_STRING,
                                       .writeable = true,
                                       .validate = validate_name,
                                       .validate_user = b};
    const char *id = setup->id;
    b->svc = svc;
    b->limit = &name_limit_custom;
    snprintf(b->fallback, sizeof(b->fallback), "%s", setup->custom_name);
    settings_device_path(b->setting, sizeof(b->setting), id, SETTINGS_LEAF_CUSTOM_NAME);
    int rc = 0;
    rc |= add(svc, "/Mgmt/ProcessName", VEDBUS_STRING("dbus-lynx-distributor"), NULL, NULL);
    rc |= add(svc, "/Mgmt/ProcessVersion", VEDBUS_STRING(LYNX_VERSION), NULL, NULL);
    rc |=
        add(svc, "/Mgmt/Connection", VEDBUS_STRING(setup->connection), NULL, &svc->mgmt_connection);
    rc |= add(svc, "/DeviceInstance", VEDBUS_INT(SERVICE_DEFAULT_DEVICE_INSTANCE), NULL,
              &svc->device_instance);
    rc |= add(svc, "/ProductId", VEDBUS_INT(PRODUCT_ID), &hex, NULL);
    rc |= add(svc, "/ProductName", VEDBUS_STRING(PRODUCT_NAME), NULL, NULL);
    rc |= add(svc, "/FirmwareVersion", VEDBUS_STRING(LYNX_VERSION), NULL, NULL);
    rc |= add(svc, "/HardwareVersion", VEDBUS_STRING(setup->hardware), NULL, &svc->hardware);
    rc |= add(svc, "/Serial", VEDBUS_STRING(setup->serial), NULL, NULL);
    /* Always 0: systemcalc counts a battery service as a battery monitor only when /Connected is
     * 1 (_remove_unconnected_services); the adapter's own state is /Adapter/Connected. */
    rc |= add(svc, "/Connected", VEDBUS_INT(0), NULL, NULL);
    rc |= add(svc, "/Adapter/Connected", VEDBUS_INT(0), NULL, &svc->adapter_connected);
    rc |= add(svc, "/CustomName", VEDBUS_STRING(setup->custom_name), &name, &svc->custom_name);
    b->item = svc->custom_name;
    return rc;
}

static int add_distributor(struct service *svc, const struct service_setup *setup, unsigned d)
{
    const struct lynx_distributor_setup *ds = &setup->distributor[d];
    struct distributor_items *it = &svc->dist[d];
    char path[64];
    const char *id = setup->id;
    int rc = 0;
    char letter = lynx_letter(d);

    snprintf(path, sizeof(path), "/Distributor/%c/Status", letter);
    rc |=
        add_enum(svc, path, LYNX_DISTRIBUTOR_NOT_AVAILABLE, &distributor_status_enum, &it->status);
    snprintf(path, sizeof(path), "/Distributor/%c/Alarms/ConnectionLost", letter);
    rc |= add_enum(svc, path, LYNX_ALARM_OK, &alarm_enum, &it->connection_lost);
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        const char *configured = setup->fuse_name[d][lynx_fuse_physical_index(ds->upside_down, f)];
        struct name_binding *b = &svc->fuse_name_binding[d * LYNX_FUSES + f];
        struct vedbus_item_options name = {.type = VEDBUS_TYPE_STRING,
                                           .writeable = true,
                                           .validate = validate_name,
                                           .validate_user = b};
        b->svc = svc;
        b->limit = &name_limit_fuse;
        if (configured && *configured)
            snprintf(b->fallback, sizeof(b->fallback), "%s", configured);
        else
            snprintf(b->fallback, sizeof(b->fallback), "Fuse %u", f + 1);
        settings_fuse_name_path(b->setting, sizeof(b->setting), id, letter, f);
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Name", letter, f);
        rc |= add(svc, path, VEDBUS_STRING(b->fallback), &name, &it->fuse_name[f]);
        b->item = it->fuse_name[f];
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Status", letter, f);
        rc |= add_enum(svc, path, LYNX_FUSE_NOT_AVAILABLE, &fuse_status_enum, &it->fuse_status[f]);
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Alarms/Blown", letter, f);
        rc |= add_enum(svc, path, LYNX_ALARM_OK, &alarm_enum, &it->fuse_blown[f]);
    }
    return rc;
}

/* The system bus is gone (dbus-daemon restarted): quit, so the supervisor starts us afresh. */
static void on_bus_lost(struct vedbus_service *bus, void *user)
{
    struct service *svc = user;
    log_error("%s: D-Bus connection lost: exiting so that the supervisor restarts the daemon",
              vedbus_service_name(bus));
    svc->bus_lost = true;
    mainloop_quit(svc->loop);
}

bool service_bus_lost(const struct service *svc)
{
    return svc->bus_lost;
}

static struct name_binding *find_binding(struct service *svc, const char *path)
{
    if (strcmp(svc->custom_name_binding.setting, path) == 0)
        return &svc->custom_name_binding;
    for (unsigned i = 0; i < N_FUSE_NAMES; i++)
        if (strcmp(svc->fuse_name_binding[i].setting, path) == 0)
            return &svc->fuse_name_binding[i];
    return NULL;
}

static int64_t device_instance(const struct service *svc)
{
    return vedbus_item_value(svc->device_instance).i;
}

static void instance_known(struct service *svc);

/* A refused or unanswered name: retried with a back-off. */
static void announce_failed(struct service *svc, int rc)
{
    log_error("%s: cannot own the bus name (%s); retrying in %u s", vedbus_service_name(svc->bus),
              rc == -EEXIST ? "another process has it" : strerror(-rc),
              (unsigned)(svc->announce_retry_ms / 1000));
    mainloop_timer_arm(svc->announce_timer, svc->announce_retry_ms);
    if (svc->announce_retry_ms < SERVICE_ANNOUNCE_RETRY_MAX_MS)
        svc->announce_retry_ms *= 2;
}

/* Requests the bus name. Consumers (systemcalc's dbusmonitor, dbus-flashmq) read /DeviceInstance
 * once, when the name appears, so this happens only once the instance is known. A refused name
 * (held by another process, or by our previous instance on its way out) is retried with a
 * back-off; polling goes on meanwhile and the values are read in full when the name appears. The
 * request never waits for the bus: its outcome comes to on_name. */
static void announce(struct service *svc)
{
    if (vedbus_name_registered(svc->bus) || vedbus_name_requested(svc->bus))
        return;
    svc->announced_instance = (int)device_instance(svc);
    int rc = vedbus_register_name(svc->bus);
    if (rc < 0)
        announce_failed(svc, rc);
}

static void on_name(struct vedbus_service *bus, int rc, void *user)
{
    struct service *svc = user;
    if (rc < 0) {
        announce_failed(svc, rc);
        return;
    }
    svc->announce_retry_ms = SERVICE_ANNOUNCE_RETRY_MIN_MS;
    log_info("%s: on the bus, device instance %d", vedbus_service_name(bus),
             svc->announced_instance);
    /* The instance changed while the name was being requested. */
    instance_known(svc);
}

/* The instance is known, or changed (localsettings came late, or the VRM-instance page wrote
 * ClassAndVrmInstance): announce, or leave the bus and come back so that consumers that cached
 * the old instance read the new one. */
static void instance_known(struct service *svc)
{
    svc->waited = true;
    if (!vedbus_name_registered(svc->bus)) {
        mainloop_timer_disarm(svc->announce_timer);
        announce(svc);
    } else if (device_instance(svc) != svc->announced_instance) {
        log_info("%s: device instance %d -> %lld: leaving the bus and coming back",
                 vedbus_service_name(svc->bus), svc->announced_instance,
                 (long long)device_instance(svc));
        vedbus_release_name(svc->bus);
        announce(svc);
    }
}

static void on_announce_timer(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    struct service *svc = user;
    (void)loop, (void)timer;
    if (!svc->waited)
        log_warn("%s: no answer from %s within %u s: going on with device instance %lld",
                 vedbus_service_name(svc->bus), SETTINGS_SERVICE_NAME,
                 (unsigned)(svc->settings_timeout_ms / 1000), (long long)device_instance(svc));
    svc->waited = true;
    announce(svc);
}

/* A name from localsettings: stored by an earlier run, or written there by another client. One
 * that is too long (a fuse name of up to 48 bytes stored by a version before 16-byte fuse names)
 * is published cut at a character boundary, and the setting is left as it is; one that breaks
 * another rule (written straight into localsettings) is not published. */
static void take_stored_name(struct service *svc, struct name_binding *b, const char *value)
{
    char cut[NAME_CUSTOM_MAX_BYTES + 1];
    enum name_check rc = name_check(value, b->limit, NULL);
    if (rc == NAME_TOO_LONG) {
        snprintf(cut, sizeof(cut), "%s", value); /* a character cut here is dropped by name_cut */
        name_cut(cut, b->limit);
        log_warn("%s: %s from the settings is too long (%s): showing '%s'",
                 vedbus_service_name(svc->bus), b->setting,
                 b->limit == &name_limit_fuse ? "a fuse name takes at most 16 bytes"
                                              : "at most 32 characters",
                 cut);
        value = cut;
        rc = NAME_OK;
    }
    if (rc != NAME_OK) {
        log_warn("%s: ignoring %s from the settings: %s", vedbus_service_name(svc->bus), b->setting,
                 name_check_message(rc));
        value = "";
    }
    vedbus_item_set_string(b->item, *value ? value : b->fallback);
}

/* localsettings reported a value: at registration, or changed by the GUI or another client. */
static void on_setting(struct settings_client *client, const char *path,
                       const struct settings_value *value, enum settings_origin origin, void *user)
{
    struct service *svc = user;
    if (value->type != SETTINGS_TYPE_STRING)
        return;
    if (strcmp(path, svc->instance_setting) == 0) {
        int instance;
        if (settings_parse_class_instance(value->s, "battery", &instance) == 0)
            vedbus_item_set_int(svc->device_instance, instance);
        else
            log_warn("%s: ignoring %s = '%s'", vedbus_service_name(svc->bus), path, value->s);
        if (origin == SETTINGS_ORIGIN_CHANGED)
            instance_known(svc);
    } else if (strcmp(path, BATTERY_CHOICE_SETTING) == 0) {
        if (origin == SETTINGS_ORIGIN_CHANGED) /* at registration: once the instance is known */
            battery_choice_check(client, device_instance(svc), vedbus_service_name(svc->bus));
    } else {
        struct name_binding *b = find_binding(svc, path);
        if (b)
            take_stored_name(svc, b, value->s);
    }
    /* The values of a registration go out together, in one ItemsChanged (on_settings_state). */
    if (origin == SETTINGS_ORIGIN_CHANGED)
        vedbus_flush(svc->bus);
}

static void on_settings_state(struct settings_client *client, enum settings_state state, void *user)
{
    struct service *svc = user;
    if (state == SETTINGS_STATE_FAILED && !svc->waited) {
        /* It answered, but not with our settings (the client logged why): waiting on for the
         * announce timer would only delay the service, and its "no answer" would be untrue. */
        log_warn("%s: %s did not register the settings (see above): going on with device "
                 "instance %lld",
                 vedbus_service_name(svc->bus), SETTINGS_SERVICE_NAME,
                 (long long)device_instance(svc));
        instance_known(svc);
        return;
    }
    if (state != SETTINGS_STATE_REGISTERED)
        return;
    vedbus_flush(svc->bus);
    instance_known(svc);
    battery_choice_check(client, device_instance(svc), vedbus_service_name(svc->bus));
}

/* Without a settings client the service still runs, on defaults. */
static void start_settings(struct service *svc, struct mainloop *loop, const char *id)
{
    struct settings_def defs[3 + N_FUSE_NAMES];
    char instance_default[32];
    size_t n = 0;
    snprintf(instance_default, sizeof(instance_default), "battery:%d",
             SERVICE_DEFAULT_DEVICE_INSTANCE);
    settings_device_path(svc->instance_setting, sizeof(svc->instance_setting), id,
                         SETTINGS_LEAF_CLASS_AND_INSTANCE);
    defs[n++] = (struct settings_def){.path = svc->instance_setting,
                                      .def = SETTINGS_STRING(instance_default)};
    defs[n++] =
        (struct settings_def){.path = svc->custom_name_binding.setting, .def = SETTINGS_STRING("")};
    for (unsigned i = 0; i < N_FUSE_NAMES; i++)
        defs[n++] = (struct settings_def){.path = svc->fuse_name_binding[i].setting,
                                          .def = SETTINGS_STRING("")};
    /* systemcalc's own setting, with its own default and type: registering it changes nothing */
    defs[n++] = (struct settings_def){.path = BATTERY_CHOICE_SETTING,
                                      .def = SETTINGS_STRING(BATTERY_CHOICE_AUTOMATIC)};
    struct settings_client_options opt = {
        .on_value = on_setting, .on_state = on_settings_state, .user = svc};
    int rc = settings_client_new(loop, vedbus_connection(svc->bus), defs, n, &opt, &svc->settings);
    if (rc < 0)
        log_warn("%s: no settings client (%s): names and instance will not persist",
                 vedbus_service_name(svc->bus), strerror(-rc));
}

int service_new(struct mainloop *loop, const struct service_setup *setup, const char *address,
                struct service **out)
{
    char name[160];
    snprintf(name, sizeof(name), SERVICE_NAME_PREFIX "%s", setup->id);

    struct service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return -ENOMEM;
    svc->loop = loop;
    svc->settings_timeout_ms = setup->settings_timeout_ms;
    svc->announce_retry_ms = SERVICE_ANNOUNCE_RETRY_MIN_MS;
    int rc = vedbus_service_new(loop, name, address, &svc->bus);
    if (rc < 0) {
        log_error("%s: cannot connect to D-Bus: %s", name, strerror(-rc));
        free(svc);
        return rc;
    }
    vedbus_set_disconnect_handler(svc->bus, on_bus_lost, svc);
    vedbus_set_name_handler(svc->bus, on_name, svc);
    rc = add_mandatory(svc, setup);
    rc |= add(svc, "/NrOfDistributors", VEDBUS_INT(0), NULL, &svc->nr_of_distributors);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS && rc == 0; d++)
        rc |= add_distributor(svc, setup, d);
    if (rc == 0)
        rc |= service_diagnostics_add(&svc->diagnostics, svc->bus,
                                      setup->diagnostics_interval_ms
                                          ? setup->diagnostics_interval_ms
                                          : SERVICE_DIAGNOSTICS_INTERVAL_MS);
    if (rc == 0)
        rc = mainloop_add_timer(loop, svc->settings_timeout_ms, false, on_announce_timer, svc,
                                &svc->announce_timer);
    else
        rc = -EINVAL;
    if (rc < 0) {
        service_free(svc);
        return rc;
    }
    start_settings(svc, loop, setup->id);
    if (!svc->settings || svc->settings_timeout_ms == 0) {
        mainloop_timer_disarm(svc->announce_timer);
        svc->waited = true;
        announce(svc);
    }
    *out = svc;
    return 0;
}

void service_free(struct service *svc)
{
    if (!svc)
        return;
    if (svc->settings)
        settings_client_free(svc->settings);
    if (svc->announce_timer)
        mainloop_remove_timer(svc->announce_timer);
    if (svc->bus)
        vedbus_service_free(svc->bus);
    free(svc);
}

int service_publish(struct service *svc, const struct poll_report *state)
{
    int nr = 0;

    vedbus_item_set_int(svc->adapter_connected, state->connected);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct lynx_distributor_state *ds = &state->distributor[d];
        struct distributor_items *it = &svc->dist[d];
        nr += state->counted[d];
        vedbus_item_set_int(it->status, ds->status);
        vedbus_item_set_int(it->connection_lost, ds->connection_lost_alarm);
        for (unsigned f = 0; f < LYNX_FUSES; f++) {
            vedbus_item_set_int(it->fuse_status[f], ds->fuse[f].status);
            vedbus_item_set_int(it->fuse_blown[f], ds->fuse[f].blown_alarm);
        }
    }
    vedbus_item_set_int(svc->nr_of_distributors, nr);
    service_diagnostics_publish(&svc->diagnostics, &state->diagnostics);
    svc->published = *state;
    return vedbus_flush(svc->bus);
}

void service_set_hardware(struct service *svc, const char *connection, const char *hardware)
{
    vedbus_item_set_string(svc->mgmt_connection, connection);
    vedbus_item_set_string(svc->hardware, hardware);
    vedbus_flush(svc->bus);
}

const char *service_name(const struct service *svc)
{
    return vedbus_service_name(svc->bus);
}

const struct poll_report *service_published(const struct service *svc)
{
    return &svc->published;
}
