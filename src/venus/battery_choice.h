/* battery_choice: systemcalc's saved battery-monitor choice, /Settings/SystemSetup/BatteryService
 * ("default" = automatic, or "com.victronenergy.battery/<instance>" for one service).
 *
 * systemcalc resolves a saved choice over every battery service, connected or not. The Python
 * plugin this daemon replaces published /Connected = 1, so an owner could pick the Lynx as the
 * battery monitor; the daemon keeps its settings id and so its instance, and after the upgrade the
 * Lynx would be the system battery again: the Multi's SoC lost, and a dropdown (which lists only
 * connected services) that cannot show the choice. A Lynx Distributor measures no battery, so a
 * choice that names the service's own instance is set back to automatic. */
#ifndef LYNX_BATTERY_CHOICE_H
#define LYNX_BATTERY_CHOICE_H

#include <stdbool.h>
#include <stdint.h>

#include "venus/settings.h"

#define BATTERY_CHOICE_SETTING   "/Settings/SystemSetup/BatteryService"
#define BATTERY_CHOICE_AUTOMATIC "default" /* systemcalc's own default: automatic selection */

/* Reads the choice from the client (registered with BATTERY_CHOICE_SETTING); when it names
 * instance, writes BATTERY_CHOICE_AUTOMATIC and logs one line for service. */
void battery_choice_check(struct settings_client *client, int64_t instance, const char *service);

#endif
