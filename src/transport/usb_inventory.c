/* The USB inventory (usb_inventory.h): sysfs read into a table, and changes reported. */
#include "transport/usb_inventory.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEVICES_DIR "bus/usb/devices"
#define ATTR_MAX    256 /* the longest attribute read (a serial string is at most 126 chars) */

struct usb_inventory {
    char root[PATH_MAX - 64]; /* room for what follows it */
    usb_inventory_fn fn;
    void *user;
    struct usb_inventory_device dev[USB_INVENTORY_MAX];
    size_t n;
    struct usb_inventory_device scratch[USB_INVENTORY_MAX]; /* a refresh's new table */
    unsigned long skipped;
};

bool usb_inventory_sanitize(const char *raw, size_t len, char *out, size_t size)
{
    bool altered = false;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o + 1 >= size) {
            altered = true;
            break;
        }
        unsigned char c = (unsigned char)raw[i];
        bool printable = c >= 0x20 && c < 0x7F;
        altered |= !printable;
        out[o++] = printable ? (char)c : '?';
    }
    if (size)
        out[o] = '\0';
    return altered;
}

/* A device's kernel name: "B-P" or "B-P.P...", digits only (root hubs and interfaces are not). */
static bool is_device_name(const char *name)
{
    const char *p = name;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p++ != '-')
        return false;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '\0')
            return strlen(name) < USB_INVENTORY_PORT_MAX;
        if (*p++ != '.')
            return false;
    }
}

/* The attribute's content without its trailing newline: its length, or -errno. */
static ssize_t read_attr(const struct usb_inventory *inv, const char *port, const char *attr,
                         char *buf, size_t size)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/" DEVICES_DIR "/%s/%s", inv->root, port, attr) >=
        sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = read(fd, buf, size - 1);
    while (n < 0 && errno == EINTR);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return n;
}

/* A number attribute in base (16 or 10) within [1 or 0, max]. */
static int read_number(const struct usb_inventory *inv, const char *port, const char *attr,
                       int base, unsigned long max, unsigned long *out)
{
    char buf[32];
    ssize_t n = read_attr(inv, port, attr, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 ? (int)n : -EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(buf, &end, base);
    if (errno || *end || v > max || !isxdigit((unsigned char)buf[0]))
        return -EINVAL;
    *out = v;
    return 0;
}

/* The driver bound to interface 0: the last component of <port>:1.0/driver's target. */
static void read_driver(const struct usb_inventory *inv, struct usb_inventory_device *d)
{
    char path[PATH_MAX], target[PATH_MAX];
    d->driver[0] = '\0';
    if ((size_t)snprintf(path, sizeof(path), "%s/" DEVICES_DIR "/%s/%s:1.0/driver", inv->root,
                         d->port, d->port) >= sizeof(path))
        return;
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return;
    target[n] = '\0';
    const char *slash = strrchr(target, '/');
    usb_inventory_sanitize(slash ? slash + 1 : target, strlen(slash ? slash + 1 : target),
                           d->driver, sizeof(d->driver));
}

/* Reads the device named port: 0, or -errno (gone, or attributes that make no sense). */
static int read_device(const struct usb_inventory *inv, const char *port,
                       struct usb_inventory_device *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->port, sizeof(d->port), "%s", port);
    unsigned long vid, pid, bcd, bus, address;
    int rc = read_number(inv, port, "idVendor", 16, 0xFFFF, &vid);
    if (rc == 0)
        rc = read_number(inv, port, "idProduct", 16, 0xFFFF, &pid);
    if (rc == 0)
        rc = read_number(inv, port, "bcdDevice", 16, 0xFFFF, &bcd);
    if (rc == 0)
        rc = read_number(inv, port, "busnum", 10, 255, &bus);
    if (rc == 0)
        rc = read_number(inv, port, "devnum", 10, 255, &address);
    if (rc == 0 && (bus == 0 || address == 0))
        rc = -EINVAL;
    if (rc < 0)
        return rc;
    d->vid = (uint16_t)vid;
    d->pid = (uint16_t)pid;
    d->bcd_device = (uint16_t)bcd;
    d->bus = (uint8_t)bus;
    d->address = (uint8_t)address;
    char raw[ATTR_MAX];
    ssize_t n = read_attr(inv, port, "serial", raw, sizeof(raw));
    if (n >= 0) {
        d->has_serial = true;
        d->serial_altered = usb_inventory_sanitize(raw, (size_t)n, d->serial, sizeof(d->serial)) ||
                            n == (ssize_t)sizeof(raw) - 1;
    }
    read_driver(inv, d);
    return 0;
}

static bool same_device(const struct usb_inventory_device *a, const struct usb_inventory_device *b)
{
    return strcmp(a->port, b->port) == 0 && a->bus == b->bus && a->address == b->address &&
           a->vid == b->vid && a->pid == b->pid && strcmp(a->serial, b->serial) == 0;
}

static ssize_t find_port(const struct usb_inventory *inv, const char *port)
{
    for (size_t i = 0; i < inv->n; i++)
        if (strcmp(inv->dev[i].port, port) == 0)
            return (ssize_t)i;
    return -1;
}

static void remove_at(struct usb_inventory *inv, size_t i)
{
    struct usb_inventory_device gone = inv->dev[i];
    memmove(&inv->dev[i], &inv->dev[i + 1], (inv->n - i - 1) * sizeof(inv->dev[0]));
    inv->n--;
    inv->fn(inv->user, USB_INVENTORY_REMOVED, &gone);
}

static void add(struct usb_inventory *inv, const struct usb_inventory_device *d)
{
    if (inv->n == USB_INVENTORY_MAX) {
        inv->skipped++;
        return;
    }
    inv->dev[inv->n++] = *d;
    inv->fn(inv->user, USB_INVENTORY_ADDED, &inv->dev[inv->n - 1]);
}

int usb_inventory_new(const char *sysfs_root, usb_inventory_fn fn, void *user,
                      struct usb_inventory **out)
{
    *out = NULL;
    struct usb_inventory *inv = calloc(1, sizeof(*inv));
    if (!inv)
        return -ENOMEM;
    snprintf(inv->root, sizeof(inv->root), "%s", sysfs_root);
    inv->fn = fn;
    inv->user = user;
    *out = inv;
    return 0;
}

void usb_inventory_free(struct usb_inventory *inv)
{
    free(inv);
}

int usb_inventory_refresh(struct usb_inventory *inv)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/" DEVICES_DIR, inv->root) >= sizeof(path))
        return -ENAMETOOLONG;
    DIR *dir = opendir(path);
    if (!dir && errno != ENOENT)
        return -errno;
    size_t n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        if (!is_device_name(e->d_name))
            continue;
        if (n == USB_INVENTORY_MAX) {
            inv->skipped++;
            continue;
        }
        int rc = read_device(inv, e->d_name, &inv->scratch[n]);
        if (rc == 0)
            n++;
        else if (rc != -ENOENT)
            inv->skipped++; /* gone between readdir and the read is no fault */
    }
    if (dir)
        closedir(dir);
    /* what went first, then what came: a replug on another address is removed, then added */
    for (size_t i = inv->n; i-- > 0;) {
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++)
            kept = same_device(&inv->dev[i], &inv->scratch[j]);
        if (!kept)
            remove_at(inv, i);
        else /* the driver may have changed; it is not a change reported */
            for (size_t j = 0; j < n; j++)
                if (same_device(&inv->dev[i], &inv->scratch[j]))
                    memcpy(inv->dev[i].driver, inv->scratch[j].driver, sizeof(inv->dev[i].driver));
    }
    for (size_t j = 0; j < n; j++) {
        bool known = false;
        for (size_t i = 0; i < inv->n && !known; i++)
            known = same_device(&inv->dev[i], &inv->scratch[j]);
        if (!known)
            add(inv, &inv->scratch[j]);
    }
    return 0;
}

/* "1-2:1.0" -> "1-2" when the interface is number 0 of configuration 1. */
static bool interface0_port(const char *kernel, char *port, size_t size)
{
    const char *colon = strchr(kernel, ':');
    if (!colon || strcmp(colon, ":1.0") != 0 || (size_t)(colon - kernel) >= size)
        return false;
    memcpy(port, kernel, (size_t)(colon - kernel));
    port[colon - kernel] = '\0';
    return is_device_name(port);
}

void usb_inventory_uevent(struct usb_inventory *inv, const struct uevent *ev)
{
    if (strcmp(ev->subsystem, "usb") != 0)
        return;
    char port[USB_INVENTORY_PORT_MAX];
    if (strcmp(ev->devtype, "usb_interface") == 0) {
        ssize_t i = interface0_port(ev->kernel, port, sizeof(port)) ? find_port(inv, port) : -1;
        if (i >= 0)
            read_driver(inv, &inv->dev[i]);
        return;
    }
    if (strcmp(ev->devtype, "usb_device") != 0 || !is_device_name(ev->kernel))
        return;
    ssize_t i = find_port(inv, ev->kernel);
    if (ev->action == UEVENT_REMOVE) {
        if (i >= 0)
            remove_at(inv, (size_t)i);
        return;
    }
    if (ev->action != UEVENT_ADD)
        return;
    struct usb_inventory_device d;
    if (read_device(inv, ev->kernel, &d) < 0) {
        /* gone again already, or not readable: as if removed */
        if (i >= 0)
            remove_at(inv, (size_t)i);
        return;
    }
    if (i >= 0 && same_device(&inv->dev[i], &d))
        return; /* known already (read by a refresh after the device came) */
    if (i >= 0) /* its "remove" was missed */
        remove_at(inv, (size_t)i);
    add(inv, &d);
}

size_t usb_inventory_count(const struct usb_inventory *inv)
{
    return inv->n;
}

const struct usb_inventory_device *usb_inventory_get(const struct usb_inventory *inv, size_t i)
{
    return i < inv->n ? &inv->dev[i] : NULL;
}

const struct usb_inventory_device *usb_inventory_at(const struct usb_inventory *inv, uint8_t bus,
                                                    uint8_t address)
{
    for (size_t i = 0; i < inv->n; i++)
        if (inv->dev[i].bus == bus && inv->dev[i].address == address)
            return &inv->dev[i];
    return NULL;
}

unsigned long usb_inventory_skipped(const struct usb_inventory *inv)
{
    return inv->skipped;
}
