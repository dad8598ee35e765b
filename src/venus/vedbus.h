/* vedbus: a Venus OS com.victronenergy.BusItem service on libdbus-1 (see venus-dbus.md).
 *
 * Contract:
 * - A service owns one private bus connection, driven by the caller's mainloop. Every item path,
 *   every intermediate node and "/" answer Introspect (with child <node>s) and GetValue/GetText;
 *   leaves also answer SetValue, "/" also GetItems. Anything else, including unknown paths,
 *   answers org.freedesktop.DBus.Error.UnknownMethod.
 * - Wire encoding: invalid = variant of an empty int32 array ("ai"), integers as int32 "i" (int64
 *   "x" when out of int32 range), doubles "d", strings "s" (always valid UTF-8). Text is "---" for
 *   invalid values, else the item's formatter's output.
 * - Create all items first, then vedbus_register_name (DO_NOT_QUEUE): consumers scan the service
 *   the moment its name appears. Name requests and releases never wait on the bus: the outcome of
 *   a request comes back through the name handler, from the loop.
 * - Local setters only mark an item changed when its value really differs; vedbus_flush sends one
 *   ItemsChanged(a{sa{sv}}) on "/" with {"Value","Text"} of every item changed since the previous
 *   flush, and nothing when nothing changed. A SetValue from the bus that changes a value sends its
 *   own ItemsChanged for that item before the reply.
 * - No per-path PropertiesChanged is emitted. Victron's consumers of battery services (dbusmonitor
 *   in systemcalc, veutil in gui-v2 and venus-platform, dbus-flashmq) subscribe to ItemsChanged on
 *   "/" as well as PropertiesChanged, and veutil's own exporter and velib_python's batched
 *   ServiceContext send only ItemsChanged. Sending both would double every notification.
 * Functions return 0 (or a count) on success and a negative errno on failure.
 */
#ifndef LYNX_VEDBUS_H
#define LYNX_VEDBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbus/dbus.h>

#include "base/mainloop.h"
#include "venus/vedbus_value.h"

struct vedbus_service;
struct vedbus_item;

/* SetValue results on the wire. */
enum vedbus_set_result {
    VEDBUS_SET_OK = 0,            /* accepted, or equal to the current value */
    VEDBUS_SET_NOT_WRITEABLE = 1, /* read-only item or a value of the wrong type */
    VEDBUS_SET_REJECTED = 2,      /* refused by the item's validate callback */
};

/* Writes the text of a valid value into buf (NUL-terminated, at most size bytes). */
typedef void (*vedbus_text_fn)(const struct vedbus_value *value, char *buf, size_t size,
                               void *user);
/* Called from the mainloop's dispatch for a SetValue that would change the item (value already
 * coerced to the item's type, or invalid for an empty array). Return 0 to accept (the item then
 * takes the value), non-zero to reject (the caller gets 2). It may replace *proposed by the value
 * the item is to take instead, of the same type (an empty name by the default name; a string it
 * points to must outlive the call). */
typedef int (*vedbus_validate_fn)(struct vedbus_item *item, struct vedbus_value *proposed,
                                  void *user);
typedef void (*vedbus_disconnect_fn)(struct vedbus_service *service, void *user);

struct vedbus_item_options {
    /* Declared type; VEDBUS_TYPE_INVALID takes the initial value's type (any type if that is
     * invalid too). Integers set on a double item are converted; other mismatches are refused. */
    enum vedbus_type type;
    bool writeable;
    enum vedbus_text_format format;
    vedbus_text_fn text;
    void *text_user;
    vedbus_validate_fn validate; /* NULL accepts every well-typed value, invalid included */
    void *validate_user;
};

/* Whether the bus at address (NULL: the system bus, $DBUS_SYSTEM_BUS_ADDRESS honoured) takes a
 * connection: its socket is connected to and closed again, no message is exchanged. 0, or
 * -ECONNREFUSED with the reason in why. */
int vedbus_bus_reachable(const char *address, char *why, size_t size);

/* Connects privately to the bus at address, or to the system bus ($DBUS_SYSTEM_BUS_ADDRESS
 * honoured) when address is NULL, and attaches the connection to loop. The bus name is only
 * requested by vedbus_register_name. */
int vedbus_service_new(struct mainloop *loop, const char *bus_name, const char *address,
                       struct vedbus_service **out);
/* Releases the name, detaches from the loop, closes the connection and frees every item. */
void vedbus_service_free(struct vedbus_service *service);

/* How long a RequestName may wait for the bus's answer (libdbus's default). */
#define VEDBUS_NAME_TIMEOUT_MS 25000

/* The outcome of vedbus_register_name, called from the loop: 0 (the name is ours), -EEXIST
 * (another connection owns it) or -EIO (the bus refused, or gave no answer within
 * VEDBUS_NAME_TIMEOUT_MS). */
typedef void (*vedbus_name_fn)(struct vedbus_service *service, int result, void *user);
void vedbus_set_name_handler(struct vedbus_service *service, vedbus_name_fn fn, void *user);

/* Sends RequestName (DO_NOT_QUEUE) and returns at once, never waiting for the bus: 0 when sent (or
 * when the name is already owned or requested), -ENOTCONN, -ENOMEM. The outcome goes to the name
 * handler; vedbus_name_registered is true from then on if it is 0. Call after adding the items
 * consumers expect at first sight. */
int vedbus_register_name(struct vedbus_service *service);
/* Gives the name up, or drops a request still in flight (its outcome is then never reported):
 * ReleaseName is sent without waiting for a reply (consumers see the service leave). The items
 * stay, ready for the next vedbus_register_name. While the name is neither owned nor requested,
 * vedbus_flush sends nothing: a consumer reads every value when the name appears. 0 or -ENOMEM. */
int vedbus_release_name(struct vedbus_service *service);
/* A RequestName is in flight. */
bool vedbus_name_requested(const struct vedbus_service *service);
bool vedbus_name_registered(const struct vedbus_service *service);
const char *vedbus_service_name(const struct vedbus_service *service);
/* The service's connection, e.g. for a settings client that must share it. */
DBusConnection *vedbus_connection(struct vedbus_service *service);
bool vedbus_connected(const struct vedbus_service *service);
void vedbus_set_disconnect_handler(struct vedbus_service *service, vedbus_disconnect_fn fn,
                                   void *user);

/* Adds a leaf. options may be NULL (read-only, default text). -EINVAL for a malformed path, "/",
 * a value of the wrong type or invalid UTF-8; -EEXIST if the path exists or would make a leaf a
 * node (or a node a leaf). Items added after vedbus_register_name go out with the next flush. */
int vedbus_add_item(struct vedbus_service *service, const char *path,
                    const struct vedbus_value *initial, const struct vedbus_item_options *options,
                    struct vedbus_item **out);
struct vedbus_item *vedbus_find_item(struct vedbus_service *service, const char *path);
const char *vedbus_item_path(const struct vedbus_item *item);

/* Returns 1 if the value changed, 0 if it was equal, -EINVAL for a wrong type, -EILSEQ for a
 * string that is not valid UTF-8, -ENOMEM. */
int vedbus_item_set(struct vedbus_item *item, const struct vedbus_value *value);
int vedbus_item_set_int(struct vedbus_item *item, int64_t value);
int vedbus_item_set_double(struct vedbus_item *item, double value);
int vedbus_item_set_string(struct vedbus_item *item, const char *value);
int vedbus_item_set_invalid(struct vedbus_item *item);
/* Marks an item changed although its value is not (its text callback's output changed). */
void vedbus_item_mark_changed(struct vedbus_item *item);
/* The current value; a string stays valid until the item next changes. */
struct vedbus_value vedbus_item_value(const struct vedbus_item *item);
/* The text GetText would return: buf (VEDBUS_TEXT_MAX bytes) filled in, or a string owned by
 * the item or static ("---"); valid until the item next changes. */
const char *vedbus_item_text(const struct vedbus_item *item, char buf[VEDBUS_TEXT_MAX]);

/* Sends one ItemsChanged with every item changed since the last flush. Returns the number of items
 * sent (0: nothing changed, nothing sent) or -ENOMEM. */
int vedbus_flush(struct vedbus_service *service);

#endif
