/* settings_paths: the paths of a device's settings and the value of ClassAndVrmInstance.
 *
 * The settings of one adapter are all below /Settings/Devices/<device id>/ where the device id is
 * "dbus_lynx_distributor_<serial>" (service_settings_id). ClassAndVrmInstance is the path the
 * original Python project registered (default "battery:1" there), kept so an upgrade keeps its
 * VRM instance. The original kept the custom name and fuse names in its INI file only; here both
 * are settings too, so names edited in the GUI survive a restart:
 *   /Settings/Devices/<id>/ClassAndVrmInstance       "battery:N"
 *   /Settings/Devices/<id>/CustomName                 "" = use the configured/product name
 *   /Settings/Devices/<id>/Distributor/<A-D>/Fuse/<0-3>/Name   "" = use the configured name
 * Fuse names are keyed by the published /Distributor/X/Fuse/N index (after the upside-down
 * mapping), i.e. by the label the user edited.
 */
#ifndef LYNX_SETTINGS_PATHS_H
#define LYNX_SETTINGS_PATHS_H

#include <stddef.h>

#define SETTINGS_DEVICES_PREFIX          "/Settings/Devices/"
#define SETTINGS_LEAF_CLASS_AND_INSTANCE "ClassAndVrmInstance"
#define SETTINGS_LEAF_CUSTOM_NAME        "CustomName"

/* Parses "<class>:<N>" (e.g. "battery:1") into N. expected_class may be NULL (any class).
 * -EINVAL if malformed, N outside 0..INT32_MAX or the class differs. */
int settings_parse_class_instance(const char *value, const char *expected_class, int *instance);

/* "/Settings/Devices/<device_id>/<leaf>"; -ENAMETOOLONG if it does not fit in size. */
int settings_device_path(char *buf, size_t size, const char *device_id, const char *leaf);
/* "/Settings/Devices/<device_id>/Distributor/<letter>/Fuse/<fuse>/Name". */
int settings_fuse_name_path(char *buf, size_t size, const char *device_id, char distributor,
                            unsigned fuse);

#endif
