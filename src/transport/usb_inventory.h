/* usb_inventory: the USB devices present, from sysfs alone, kept up to date by the kernel's
 * uevents (uevent_monitor.h). No device I/O: which adapter is which is known without opening one.
 *
 * Each device is a directory <root>/bus/usb/devices/<port>/ (port: the kernel's name, "1-2" or
 * "1-1.4", a hub's ports after the dot; root hubs "usbN" and interfaces "1-2:1.0" are not
 * devices here). Read from it: idVendor, idProduct, bcdDevice (hex), busnum, devnum (decimal),
 * serial (absent when the device has no serial-number string), and the driver bound to
 * interface 0 (the name of the link <port>:1.0/driver points to: "ftdi_sio"; "" when none). The
 * kernel reads the device and string descriptors once, at enumeration, and serves these
 * attributes from memory: reading them sends nothing to the device and cannot block on it.
 *
 * The serial is kept as printable ASCII (0x20-0x7E): a byte outside that range (a control
 * character, DEL, a byte of a UTF-8 sequence) becomes '?' and serial_altered says so; one longer
 * than USB_INVENTORY_SERIAL_MAX - 1 is cut there (altered too). So a serial in the inventory can
 * be logged as it is. A device whose sysfs has no serial attribute has has_serial false.
 *
 * Changes are reported to the owner's function as ADDED or REMOVED: from usb_inventory_refresh
 * (everything read again and compared: what went is reported first, then what came), and from
 * usb_inventory_uevent for an event of subsystem usb. A device plugged in again (a new address)
 * is a REMOVED and an ADDED. usb_inventory_refresh is what to call at start, after the uevent
 * socket lost events (ENOBUFS), and periodically where no uevent socket could be opened.
 *
 * Not thread-safe: the owner's thread only. */
#ifndef LYNX_USB_INVENTORY_H
#define LYNX_USB_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/uevent_monitor.h"

#define USB_INVENTORY_MAX        64 /* devices kept; more are left out (and counted) */
#define USB_INVENTORY_PORT_MAX   32
#define USB_INVENTORY_SERIAL_MAX 64
#define USB_INVENTORY_DRIVER_MAX 32

struct usb_inventory_device {
    char port[USB_INVENTORY_PORT_MAX]; /* "1-2", "1-1.4" */
    uint16_t vid, pid, bcd_device;
    uint8_t bus, address; /* busnum, devnum: the usbfs node /dev/bus/usb/BBB/AAA */
    bool has_serial;      /* sysfs has a serial attribute */
    bool serial_altered;  /* bytes outside printable ASCII replaced with '?', or cut */
    char serial[USB_INVENTORY_SERIAL_MAX];
    char driver[USB_INVENTORY_DRIVER_MAX]; /* bound to interface 0; "" none */
};

enum usb_inventory_change { USB_INVENTORY_ADDED, USB_INVENTORY_REMOVED };

/* dev is valid during the call only; fn must not call back into the inventory's refresh or
 * uevent (reading it is fine). */
typedef void (*usb_inventory_fn)(void *user, enum usb_inventory_change change,
                                 const struct usb_inventory_device *dev);

struct usb_inventory;

/* sysfs_root: "/sys", or a directory laid out the same way (tests). fn: told of every change.
 * Reads nothing yet (usb_inventory_refresh does). 0 or -ENOMEM. */
int usb_inventory_new(const char *sysfs_root, usb_inventory_fn fn, void *user,
                      struct usb_inventory **out);
void usb_inventory_free(struct usb_inventory *inv);

/* Reads every device again and reports the differences. 0, or a negative errno when the devices
 * directory cannot be listed (the inventory is then left as it was). No such directory is no
 * USB device (no USB bus, or umockdev's testbed after its last device went). */
int usb_inventory_refresh(struct usb_inventory *inv);

/* An event of subsystem usb: a usb_device's add (read from sysfs) or remove; a usb_interface's
 * bind or unbind updates its device's driver (not reported). Others are ignored. */
void usb_inventory_uevent(struct usb_inventory *inv, const struct uevent *ev);

size_t usb_inventory_count(const struct usb_inventory *inv);
const struct usb_inventory_device *usb_inventory_get(const struct usb_inventory *inv, size_t i);
/* The device at bus/address, or NULL. */
const struct usb_inventory_device *usb_inventory_at(const struct usb_inventory *inv, uint8_t bus,
                                                    uint8_t address);
/* Devices left out since new because USB_INVENTORY_MAX were kept already, or whose attributes
 * could not be read or made no sense. */
unsigned long usb_inventory_skipped(const struct usb_inventory *inv);

/* Exposed for tests: the printable-ASCII form of raw (len bytes) in out; true when altered. */
bool usb_inventory_sanitize(const char *raw, size_t len, char *out, size_t size);

#endif
