/* The /Diagnostics/... items of a battery service (service_diagnostics.h). */
#include "venus/service_diagnostics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

/* Every counter of struct poll_diagnostics, by offset. */
struct diagnostic_path {
    const char *name;
    size_t offset;
};

static const struct diagnostic_path adapter_diagnostics[SERVICE_ADAPTER_DIAGNOSTICS] = {
    {"Polls", offsetof(struct poll_diagnostics, polls)},
    {"UsbErrors", offsetof(struct poll_diagnostics, usb_errors)},
    {"Reopens", offsetof(struct poll_diagnostics, reopens)},
    {"BusRecoveries", offsetof(struct poll_diagnostics, bus_recoveries)},
    {"CorruptReads", offsetof(struct poll_diagnostics, corrupt_reads)},
    {"Nacks", offsetof(struct poll_diagnostics, nacks)},
    {"UnconfirmedReads", offsetof(struct poll_diagnostics, unconfirmed_reads)},
};
static const struct diagnostic_path distributor_diagnostics[SERVICE_DISTRIBUTOR_DIAGNOSTICS] = {
    {"CorruptReads", offsetof(struct distributor_diagnostics, corrupt_reads)},
    {"Nacks", offsetof(struct distributor_diagnostics, nacks)},
    {"UnconfirmedReads", offsetof(struct distributor_diagnostics, unconfirmed_reads)},
    {"ConnectionLosses", offsetof(struct distributor_diagnostics, connection_losses)},
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int add_one(struct vedbus_service *bus, const char *path, struct vedbus_item **out)
{
    struct vedbus_item_options count = {.type = VEDBUS_TYPE_INT};
    struct vedbus_value zero = VEDBUS_INT(0);
    int rc = vedbus_add_item(bus, path, &zero, &count, out);
    if (rc < 0)
        log_error("%s: cannot add %s: %s", vedbus_service_name(bus), path, strerror(-rc));
    return rc;
}

int service_diagnostics_add(struct service_diagnostics *d, struct vedbus_service *bus,
                            uint64_t interval_ms)
{
    char path[96];
    int rc = 0;
    size_t n = 0;
    d->interval_ms = interval_ms;
    for (size_t i = 0; i < SERVICE_ADAPTER_DIAGNOSTICS; i++) {
        snprintf(path, sizeof(path), "/Diagnostics/%s", adapter_diagnostics[i].name);
        rc |= add_one(bus, path, &d->item[n++]);
    }
    for (unsigned dist = 0; dist < LYNX_DISTRIBUTORS; dist++)
        for (size_t i = 0; i < SERVICE_DISTRIBUTOR_DIAGNOSTICS; i++) {
            snprintf(path, sizeof(path), "/Diagnostics/Distributor/%c/%s", lynx_letter(dist),
                     distributor_diagnostics[i].name);
            rc |= add_one(bus, path, &d->item[n++]);
        }
    return rc;
}

static void set_counter(struct vedbus_item *item, const void *base, size_t offset)
{
    uint64_t v;
    memcpy(&v, (const char *)base + offset, sizeof(v));
    vedbus_item_set_int(item, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

void service_diagnostics_publish(struct service_diagnostics *d, const struct poll_diagnostics *c)
{
    uint64_t now = monotonic_ms();
    if (d->published &&
        (now - d->at_ms < d->interval_ms || memcmp(c, &d->snapshot, sizeof(*c)) == 0))
        return;
    d->snapshot = *c;
    d->published = true;
    d->at_ms = now;
    size_t n = 0;
    for (size_t i = 0; i < SERVICE_ADAPTER_DIAGNOSTICS; i++)
        set_counter(d->item[n++], c, adapter_diagnostics[i].offset);
    for (unsigned dist = 0; dist < LYNX_DISTRIBUTORS; dist++)
        for (size_t i = 0; i < SERVICE_DISTRIBUTOR_DIAGNOSTICS; i++)
            set_counter(d->item[n++], &c->distributor[dist], distributor_diagnostics[i].offset);
}
