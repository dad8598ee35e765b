/* settings_paths: where a device's settings live below /Settings/Devices, and the
 * "<class>:<N>" form of ClassAndVrmInstance. */
#include "venus/settings_paths.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int settings_parse_class_instance(const char *value, const char *expected_class, int *instance)
{
    if (!value)
        return -EINVAL;
    const char *colon = strchr(value, ':');
    if (!colon || strchr(colon + 1, ':') || colon[1] == '\0')
        return -EINVAL;
    if (expected_class && (strlen(expected_class) != (size_t)(colon - value) ||
                           strncmp(value, expected_class, colon - value) != 0))
        return -EINVAL;
    long long n = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        n = n * 10 + (*p - '0');
        if (n > INT32_MAX)
            return -EINVAL;
    }
    *instance = (int)n;
    return 0;
}

int settings_device_path(char *buf, size_t size, const char *device_id, const char *leaf)
{
    int n = snprintf(buf, size, SETTINGS_DEVICES_PREFIX "%s/%s", device_id, leaf);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int settings_fuse_name_path(char *buf, size_t size, const char *device_id, char distributor,
                            unsigned fuse)
{
    int n = snprintf(buf, size, SETTINGS_DEVICES_PREFIX "%s/Distributor/%c/Fuse/%u/Name", device_id,
                     distributor, fuse);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
