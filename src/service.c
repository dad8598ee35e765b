#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vedbus.h"

#ifndef LYNX_VERSION
#define LYNX_VERSION "unknown"
#endif

#define PRODUCT_NAME "Lynx Distributor"
#define PRODUCT_ID   0xFFFF /* the original project's; real Lynx BMS ids are special-cased */

struct distributor_items {
    struct vedbus_item *status;
    struct vedbus_item *connection_lost;
    struct vedbus_item *fuse_name[LYNX_FUSES]; /* by published index */
    struct vedbus_item *fuse_status[LYNX_FUSES];
    struct vedbus_item *fuse_blown[LYNX_FUSES];
};

struct service {
    struct vedbus_service *bus;
    struct vedbus_item *connected;
    struct vedbus_item *device_instance;
    struct vedbus_item *custom_name;
    struct vedbus_item *nr_of_distributors;
    struct vedbus_item *fuse_blown;
    struct distributor_items dist[LYNX_DISTRIBUTORS];
    struct service_state published;
};

static const char *const distributor_status_text[] = {"Not available", "Connected",
                                                      "No bus power", "Communications lost"};
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

/* Fuse names: at most 16 bytes of valid UTF-8 (the limit of the Lynx firmware and the GUI). */
static int validate_fuse_name(struct vedbus_item *item, const struct vedbus_value *proposed,
                              void *user)
{
    (void)item, (void)user;
    if (proposed->type != VEDBUS_TYPE_STRING || strlen(proposed->s) > LYNX_FUSE_NAME_MAX)
        return -EINVAL;
    return 0; /* vedbus has already checked the UTF-8 */
}

static int validate_custom_name(struct vedbus_item *item, const struct vedbus_value *proposed,
                                void *user)
{
    (void)item, (void)user;
    return proposed->type == VEDBUS_TYPE_STRING && strlen(proposed->s) <= 32 ? 0 : -EINVAL;
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
    struct vedbus_item_options opt = {.type = VEDBUS_TYPE_INT, .text = enum_text,
                                      .text_user = (void *)e};
    return add(svc, path, VEDBUS_INT(value), &opt, out);
}

static int add_mandatory(struct service *svc, const struct service_setup *setup)
{
    struct vedbus_item_options hex = {.format = VEDBUS_TEXT_HEX};
    struct vedbus_item_options name = {.type = VEDBUS_TYPE_STRING, .writeable = true,
                                       .validate = validate_custom_name};
    int rc = 0;
    rc |= add(svc, "/Mgmt/ProcessName", VEDBUS_STRING("dbus-lynx-distributor"), NULL, NULL);
    rc |= add(svc, "/Mgmt/ProcessVersion", VEDBUS_STRING(LYNX_VERSION), NULL, NULL);
    rc |= add(svc, "/Mgmt/Connection", VEDBUS_STRING(setup->connection), NULL, NULL);
    rc |= add(svc, "/DeviceInstance", VEDBUS_INT(SERVICE_DEFAULT_DEVICE_INSTANCE), NULL,
              &svc->device_instance);
    rc |= add(svc, "/ProductId", VEDBUS_INT(PRODUCT_ID), &hex, NULL);
    rc |= add(svc, "/ProductName", VEDBUS_STRING(PRODUCT_NAME), NULL, NULL);
    rc |= add(svc, "/FirmwareVersion", VEDBUS_STRING(LYNX_VERSION), NULL, NULL);
    rc |= add(svc, "/HardwareVersion", VEDBUS_STRING("FT232H I2C"), NULL, NULL);
    rc |= add(svc, "/Serial", VEDBUS_STRING(setup->serial), NULL, NULL);
    rc |= add(svc, "/Connected", VEDBUS_INT(0), NULL, &svc->connected);
    rc |= add(svc, "/CustomName", VEDBUS_STRING(setup->custom_name), &name, &svc->custom_name);
    return rc;
}

static int add_distributor(struct service *svc, const struct service_setup *setup, unsigned d)
{
    const struct lynx_distributor_setup *ds = &setup->distributor[d];
    struct distributor_items *it = &svc->dist[d];
    struct vedbus_item_options name = {.type = VEDBUS_TYPE_STRING, .writeable = true,
                                       .validate = validate_fuse_name};
    char path[64];
    int rc = 0;
    char letter = lynx_letter(d);

    snprintf(path, sizeof(path), "/Distributor/%c/Status", letter);
    rc |= add_enum(svc, path, LYNX_DISTRIBUTOR_NOT_AVAILABLE, &distributor_status_enum,
                   &it->status);
    snprintf(path, sizeof(path), "/Distributor/%c/Alarms/ConnectionLost", letter);
    rc |= add_enum(svc, path, LYNX_ALARM_OK, &alarm_enum, &it->connection_lost);
    for (unsigned f = 0; f < LYNX_FUSES; f++) {
        const char *configured = setup->fuse_name[d][lynx_fuse_physical_index(ds->upside_down, f)];
        char fallback[16];
        snprintf(fallback, sizeof(fallback), "Fuse %u", f + 1);
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Name", letter, f);
        rc |= add(svc, path, VEDBUS_STRING(configured && *configured ? configured : fallback),
                  &name, &it->fuse_name[f]);
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Status", letter, f);
        rc |= add_enum(svc, path, LYNX_FUSE_NOT_AVAILABLE, &fuse_status_enum,
                       &it->fuse_status[f]);
        snprintf(path, sizeof(path), "/Distributor/%c/Fuse/%u/Alarms/Blown", letter, f);
        rc |= add_enum(svc, path, LYNX_ALARM_OK, &alarm_enum, &it->fuse_blown[f]);
    }
    return rc;
}

int service_new(struct mainloop *loop, const struct service_setup *setup, const char *address,
                struct service **out)
{
    char name[160], id[128];
    service_settings_id(setup->serial, id, sizeof(id));
    snprintf(name, sizeof(name), SERVICE_NAME_PREFIX "%s", id);

    struct service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return -ENOMEM;
    int rc = vedbus_service_new(loop, name, address, &svc->bus);
    if (rc < 0) {
        log_error("%s: cannot connect to D-Bus: %s", name, strerror(-rc));
        free(svc);
        return rc;
    }
    rc = add_mandatory(svc, setup);
    rc |= add_enum(svc, "/Alarms/FuseBlown", LYNX_ALARM_OK, &alarm_enum, &svc->fuse_blown);
    rc |= add(svc, "/NrOfDistributors", VEDBUS_INT(0), NULL, &svc->nr_of_distributors);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS && rc == 0; d++)
        rc |= add_distributor(svc, setup, d);
    if (rc == 0) {
        rc = vedbus_register_name(svc->bus);
        if (rc < 0)
            log_error("%s: cannot own the bus name: %s", name,
                      rc == -EEXIST ? "another process has it" : strerror(-rc));
    } else {
        rc = -EINVAL;
    }
    if (rc < 0) {
        service_free(svc);
        return rc;
    }
    *out = svc;
    return 0;
}

void service_free(struct service *svc)
{
    if (!svc)
        return;
    if (svc->bus)
        vedbus_service_free(svc->bus);
    free(svc);
}

int service_publish(struct service *svc, const struct service_state *state)
{
    int nr = 0;
    enum lynx_alarm any_blown = LYNX_ALARM_OK;

    vedbus_item_set_int(svc->connected, state->connected);
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        const struct lynx_distributor_state *ds = &state->distributor[d];
        struct distributor_items *it = &svc->dist[d];
        nr += state->counted[d];
        vedbus_item_set_int(it->status, ds->status);
        vedbus_item_set_int(it->connection_lost, ds->connection_lost_alarm);
        for (unsigned f = 0; f < LYNX_FUSES; f++) {
            vedbus_item_set_int(it->fuse_status[f], ds->fuse[f].status);
            vedbus_item_set_int(it->fuse_blown[f], ds->fuse[f].blown_alarm);
            if (ds->fuse[f].blown_alarm > any_blown)
                any_blown = ds->fuse[f].blown_alarm;
        }
    }
    vedbus_item_set_int(svc->nr_of_distributors, nr);
    vedbus_item_set_int(svc->fuse_blown, any_blown);
    svc->published = *state;
    return vedbus_flush(svc->bus);
}

const struct service_state *service_published(const struct service *svc)
{
    return &svc->published;
}
