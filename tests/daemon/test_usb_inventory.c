/* The USB inventory (src/transport/usb_inventory.h) over a sysfs tree made in a temporary
 * directory: what it reads, the serial made printable, uevent-driven add and remove (messages in
 * the kernel's format through uevent_parse), a missed remove, the interface's driver, and a
 * refresh after lost events (ENOBUFS) that reports what went and what came. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/usb_inventory.h"

#define MAX_SEEN 16

static char root[64];
static struct {
    enum usb_inventory_change change;
    struct usb_inventory_device dev;
} seen[MAX_SEEN];
static size_t n_seen;

static void on_change(void *user, enum usb_inventory_change change,
                      const struct usb_inventory_device *dev)
{
    (void)user;
    cr_assert_lt(n_seen, MAX_SEEN);
    seen[n_seen].change = change;
    seen[n_seen++].dev = *dev;
}

static void run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void write_file(const char *dir, const char *name, const char *content, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(content, 1, len, f), len);
    fclose(f);
}

/* A device as the kernel lays it out: the directory under devices/, its link in bus/usb/devices.
 * serial NULL: no serial attribute. driver NULL: interface 0 without a driver. */
static void plug(const char *port, const char *vidpid_bcd, int devnum, const char *serial,
                 size_t serial_len, const char *driver)
{
    char dir[256], buf[64];
    snprintf(dir, sizeof(dir), "%s/devices/pci0000:00/usb1/%s", root, port);
    run("mkdir -p '%s/%s:1.0' && ln -sfn ../../../devices/pci0000:00/usb1/%s "
        "'%s/bus/usb/devices/%s'",
        dir, port, port, root, port);
    unsigned vid, pid, bcd;
    cr_assert_eq(sscanf(vidpid_bcd, "%x:%x/%x", &vid, &pid, &bcd), 3);
    snprintf(buf, sizeof(buf), "%04x\n", vid);
    write_file(dir, "idVendor", buf, strlen(buf));
    snprintf(buf, sizeof(buf), "%04x\n", pid);
    write_file(dir, "idProduct", buf, strlen(buf));
    snprintf(buf, sizeof(buf), "%04x\n", bcd);
    write_file(dir, "bcdDevice", buf, strlen(buf));
    write_file(dir, "busnum", "1\n", 2);
    snprintf(buf, sizeof(buf), "%d\n", devnum);
    write_file(dir, "devnum", buf, strlen(buf));
    if (serial) {
        char s[256];
        memcpy(s, serial, serial_len);
        s[serial_len] = '\n';
        write_file(dir, "serial", s, serial_len + 1);
    }
    if (driver)
        run("mkdir -p '%s/bus/usb/drivers/%s' && ln -sfn ../../../../../bus/usb/drivers/%s "
            "'%s/%s:1.0/driver'",
            root, driver, driver, dir, port);
}

static void unplug(const char *port)
{
    run("rm -rf '%s/devices/pci0000:00/usb1/%s' '%s/bus/usb/devices/%s'", root, port, root, port);
}

/* A kernel uevent of subsystem usb for port, parsed as the monitor would. */
static void uevent(struct usb_inventory *inv, const char *action, const char *kernel,
                   const char *devtype)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "%s@/devices/pci0000:00/usb1/%s%cACTION=%s%cDEVPATH=/devices/pci0000:00/usb1/"
                     "%s%cSUBSYSTEM=usb%cDEVTYPE=%s%c",
                     action, kernel, 0, action, 0, kernel, 0, 0, devtype, 0);
    static const struct uevent_sender kernel_sender = {.netlink = true, .pid = 0};
    struct uevent ev;
    cr_assert_eq(uevent_parse(msg, (size_t)n, &kernel_sender, &ev), 0);
    usb_inventory_uevent(inv, &ev);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/usb-inventory-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    run("mkdir -p '%s/bus/usb/devices' '%s/devices/pci0000:00/usb1'", root, root);
    /* a root hub and an interface are listed there too, and are not devices */
    run("ln -s ../../../devices/pci0000:00/usb1 '%s/bus/usb/devices/usb1'", root);
    n_seen = 0;
}

static void teardown(void)
{
    run("rm -rf '%s'", root);
}

TestSuite(usb_inventory, .init = setup, .fini = teardown);

static struct usb_inventory *open_inventory(void)
{
    struct usb_inventory *inv;
    cr_assert_eq(usb_inventory_new(root, on_change, NULL, &inv), 0);
    return inv;
}

Test(usb_inventory, reads_ids_address_serial_and_driver_from_sysfs)
{
    plug("1-1", "0403:d4f8/0900", 5, "LYNX0001", 8, NULL);
    plug("1-1.4", "0403:6014/0900", 12, "FT6014X1", 8, "ftdi_sio");
    plug("1-2", "0403:6010/0700", 7, NULL, 0, "ftdi_sio");
    run("ln -s ../../../devices/pci0000:00/usb1/1-1/1-1:1.0 '%s/bus/usb/devices/1-1:1.0'", root);
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_count(inv), 0, "nothing before a refresh");
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(usb_inventory_count(inv), 3);
    cr_assert_eq(n_seen, 3);
    for (size_t i = 0; i < n_seen; i++)
        cr_assert_eq(seen[i].change, USB_INVENTORY_ADDED);

    const struct usb_inventory_device *d = usb_inventory_at(inv, 1, 12);
    cr_assert_not_null(d);
    cr_assert_str_eq(d->port, "1-1.4");
    cr_assert_eq(d->vid, 0x0403);
    cr_assert_eq(d->pid, 0x6014);
    cr_assert_eq(d->bcd_device, 0x0900);
    cr_assert(d->has_serial);
    cr_assert_not(d->serial_altered);
    cr_assert_str_eq(d->serial, "FT6014X1");
    cr_assert_str_eq(d->driver, "ftdi_sio");

    d = usb_inventory_at(inv, 1, 5);
    cr_assert_str_eq(d->serial, "LYNX0001");
    cr_assert_str_eq(d->driver, "");

    d = usb_inventory_at(inv, 1, 7);
    cr_assert_not(d->has_serial, "no serial attribute");
    cr_assert_str_eq(d->serial, "");
    cr_assert_eq(d->bcd_device, 0x0700);

    /* read again, nothing changed: nothing reported */
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(n_seen, 3);
    usb_inventory_free(inv);
}

Test(usb_inventory, a_serial_with_control_characters_is_made_printable)
{
    static const char raw[] = "AB\x1b[2J\r\nCD\x7f\xc3\xa9";
    plug("1-3", "0403:6014/0900", 9, raw, sizeof(raw) - 1, NULL);
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    const struct usb_inventory_device *d = usb_inventory_at(inv, 1, 9);
    cr_assert_not_null(d);
    cr_assert(d->serial_altered);
    cr_assert_str_eq(d->serial, "AB?[2J??CD???");
    for (const char *c = d->serial; *c; c++)
        cr_assert(*c >= 0x20 && *c < 0x7f);
    usb_inventory_free(inv);

    char out[8];
    cr_assert(usb_inventory_sanitize("0123456789", 10, out, sizeof(out)), "cut: altered");
    cr_assert_str_eq(out, "0123456");
    cr_assert_not(usb_inventory_sanitize("A-1 b.c", 7, out, sizeof(out)));
    cr_assert_str_eq(out, "A-1 b.c");
}

Test(usb_inventory, uevents_add_and_remove_devices)
{
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(n_seen, 0);

    plug("1-2", "0403:6014/0900", 3, "STOCK0", 6, "ftdi_sio");
    uevent(inv, "add", "1-2", "usb_device");
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].change, USB_INVENTORY_ADDED);
    cr_assert_str_eq(seen[0].dev.serial, "STOCK0");
    cr_assert_eq(seen[0].dev.address, 3);

    /* the interface's add and bind are not devices */
    uevent(inv, "add", "1-2:1.0", "usb_interface");
    uevent(inv, "bind", "1-2:1.0", "usb_interface");
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(usb_inventory_count(inv), 1);

    /* the driver let go (a program detached ftdi_sio): unbind updates it */
    run("rm '%s/devices/pci0000:00/usb1/1-2/1-2:1.0/driver'", root);
    uevent(inv, "unbind", "1-2:1.0", "usb_interface");
    cr_assert_str_eq(usb_inventory_at(inv, 1, 3)->driver, "");
    cr_assert_eq(n_seen, 1, "a driver change is not reported");

    /* the same add twice (a refresh got there first): reported once */
    uevent(inv, "add", "1-2", "usb_device");
    cr_assert_eq(n_seen, 1);

    unplug("1-2");
    uevent(inv, "remove", "1-2", "usb_device");
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].change, USB_INVENTORY_REMOVED);
    cr_assert_eq(seen[1].dev.address, 3);
    cr_assert_eq(usb_inventory_count(inv), 0);

    /* an add whose device is gone again before it is read: nothing */
    uevent(inv, "add", "1-2", "usb_device");
    cr_assert_eq(n_seen, 2);
    /* another subsystem: ignored */
    usb_inventory_free(inv);
}

Test(usb_inventory, an_add_after_a_missed_remove_replaces_the_device)
{
    plug("1-2", "0403:6014/0900", 3, "STOCK0", 6, NULL);
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    unplug("1-2");
    plug("1-2", "0403:d4f8/0900", 4, "LYNX0009", 8, NULL); /* another device on that port */
    uevent(inv, "add", "1-2", "usb_device");
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[1].change, USB_INVENTORY_REMOVED);
    cr_assert_str_eq(seen[1].dev.serial, "STOCK0");
    cr_assert_eq(seen[2].change, USB_INVENTORY_ADDED);
    cr_assert_str_eq(seen[2].dev.serial, "LYNX0009");
    cr_assert_eq(usb_inventory_count(inv), 1);
    usb_inventory_free(inv);
}

/* After ENOBUFS the owner refreshes: a device gone without its event is reported removed, one
 * plugged in again (new address) removed and added, a new one added. */
Test(usb_inventory, a_refresh_after_lost_events_reports_what_went_and_came)
{
    plug("1-1", "0403:d4f8/0900", 2, "LYNX0001", 8, NULL);
    plug("1-2", "0403:6014/0900", 3, "STOCK0", 6, NULL);
    plug("1-3", "0403:6014/0900", 4, "STOCK1", 6, NULL);
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(n_seen, 3);
    n_seen = 0;

    unplug("1-2");                                       /* its remove lost */
    unplug("1-3");                                       /* replugged: */
    plug("1-3", "0403:6014/0900", 5, "STOCK1", 6, NULL); /* a new address */
    plug("1-4", "0403:6014/0900", 6, "STOCK2", 6, NULL); /* its add lost */
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(n_seen, 4);
    cr_assert_eq(seen[0].change, USB_INVENTORY_REMOVED);
    cr_assert_eq(seen[1].change, USB_INVENTORY_REMOVED);
    cr_assert_eq(seen[2].change, USB_INVENTORY_ADDED);
    cr_assert_eq(seen[3].change, USB_INVENTORY_ADDED);
    bool gone2 = false, gone3_at4 = false, came3_at5 = false, came4 = false;
    for (size_t i = 0; i < n_seen; i++) {
        const struct usb_inventory_device *d = &seen[i].dev;
        gone2 |= seen[i].change == USB_INVENTORY_REMOVED && strcmp(d->serial, "STOCK0") == 0;
        gone3_at4 |= seen[i].change == USB_INVENTORY_REMOVED && d->address == 4;
        came3_at5 |= seen[i].change == USB_INVENTORY_ADDED && d->address == 5;
        came4 |= seen[i].change == USB_INVENTORY_ADDED && strcmp(d->serial, "STOCK2") == 0;
    }
    cr_assert(gone2 && gone3_at4 && came3_at5 && came4);
    cr_assert_eq(usb_inventory_count(inv), 3);
    cr_assert_null(usb_inventory_at(inv, 1, 3));
    cr_assert_not_null(usb_inventory_at(inv, 1, 2));
    usb_inventory_free(inv);
}

Test(usb_inventory, nonsense_attributes_and_a_missing_directory)
{
    plug("1-5", "0403:6014/0900", 8, "X", 1, NULL);
    write_file(root, "devices/pci0000:00/usb1/1-5/devnum", "0\n", 2);
    struct usb_inventory *inv = open_inventory();
    cr_assert_eq(usb_inventory_refresh(inv), 0);
    cr_assert_eq(usb_inventory_count(inv), 0, "devnum 0 is no device address");
    cr_assert_eq(usb_inventory_skipped(inv), 1);
    usb_inventory_free(inv);

    struct usb_inventory *none;
    cr_assert_eq(usb_inventory_new("/nonexistent-sysfs", on_change, NULL, &none), 0);
    cr_assert_eq(usb_inventory_refresh(none), 0, "no USB bus: no device");
    cr_assert_eq(usb_inventory_count(none), 0);
    usb_inventory_free(none);
}
