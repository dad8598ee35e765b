/* The saved battery-monitor choice (battery_choice.h). */
#include "venus/battery_choice.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* Whether value names com.victronenergy.battery/<instance>. */
static bool battery_choice_names(const char *value, int64_t instance)
{
    char own[64];
    snprintf(own, sizeof(own), "com.victronenergy.battery/%" PRId64, instance);
    return strcmp(value, own) == 0;
}

void battery_choice_check(struct settings_client *client, int64_t instance, const char *service)
{
    struct settings_value v;
    if (!client || settings_get(client, BATTERY_CHOICE_SETTING, &v) < 0 ||
        v.type != SETTINGS_TYPE_STRING || !battery_choice_names(v.s, instance))
        return;
    log_warn("%s: the system's battery monitor (%s) is set to this Lynx Distributor, %s (an "
             "earlier version published /Connected = 1): setting it back to automatic, since a "
             "Lynx Distributor measures no battery",
             service, BATTERY_CHOICE_SETTING, v.s);
    struct settings_value automatic = SETTINGS_STRING(BATTERY_CHOICE_AUTOMATIC);
    settings_set(client, BATTERY_CHOICE_SETTING, &automatic);
}
