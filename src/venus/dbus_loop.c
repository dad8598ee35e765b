/* dbus_loop: a libdbus connection's watches, timeouts and dispatching on the mainloop. */
#include "venus/dbus_loop.h"

#include <errno.h>
#include <stdint.h>

static short dbus_watch_poll_events(DBusWatch *watch)
{
    if (!dbus_watch_get_enabled(watch))
        return 0;
    unsigned flags = dbus_watch_get_flags(watch);
    short events = 0;
    if (flags & DBUS_WATCH_READABLE)
        events |= POLLIN;
    if (flags & DBUS_WATCH_WRITABLE)
        events |= POLLOUT;
    return events;
}

static void on_dbus_watch_ready(struct mainloop *loop, struct mainloop_fd_watch *watch, int fd,
                                short revents, void *user)
{
    (void)loop;
    (void)watch;
    (void)fd;
    unsigned flags = 0;
    if (revents & POLLIN)
        flags |= DBUS_WATCH_READABLE;
    if (revents & POLLOUT)
        flags |= DBUS_WATCH_WRITABLE;
    if (revents & (POLLERR | POLLNVAL))
        flags |= DBUS_WATCH_ERROR;
    if (revents & POLLHUP)
        flags |= DBUS_WATCH_HANGUP;
    dbus_watch_handle(user, flags);
}

static dbus_bool_t on_dbus_add_watch(DBusWatch *dwatch, void *data)
{
    struct mainloop *loop = data;
    struct mainloop_fd_watch *w;
    if (mainloop_add_fd(loop, dbus_watch_get_unix_fd(dwatch), dbus_watch_poll_events(dwatch),
                        on_dbus_watch_ready, dwatch, &w) < 0)
        return FALSE;
    dbus_watch_set_data(dwatch, w, NULL);
    return TRUE;
}

static void on_dbus_remove_watch(DBusWatch *dwatch, void *data)
{
    (void)data;
    mainloop_remove_fd(dbus_watch_get_data(dwatch));
    dbus_watch_set_data(dwatch, NULL, NULL);
}

static void on_dbus_watch_toggled(DBusWatch *dwatch, void *data)
{
    (void)data;
    struct mainloop_fd_watch *w = dbus_watch_get_data(dwatch);
    if (w)
        mainloop_fd_set_events(w, dbus_watch_poll_events(dwatch));
}

static void on_dbus_timeout_expired(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop;
    (void)timer;
    dbus_timeout_handle(user);
}

static void sync_dbus_timeout(struct mainloop_timer *t, DBusTimeout *dtimeout)
{
    int interval = dbus_timeout_get_interval(dtimeout);
    if (dbus_timeout_get_enabled(dtimeout) && interval > 0)
        mainloop_timer_arm(t, (uint32_t)interval);
    else
        mainloop_timer_disarm(t);
}

static dbus_bool_t on_dbus_add_timeout(DBusTimeout *dtimeout, void *data)
{
    struct mainloop *loop = data;
    struct mainloop_timer *t;
    if (mainloop_add_timer(loop, 1, true, on_dbus_timeout_expired, dtimeout, &t) < 0)
        return FALSE;
    sync_dbus_timeout(t, dtimeout);
    dbus_timeout_set_data(dtimeout, t, NULL);
    return TRUE;
}

static void on_dbus_remove_timeout(DBusTimeout *dtimeout, void *data)
{
    (void)data;
    mainloop_remove_timer(dbus_timeout_get_data(dtimeout));
    dbus_timeout_set_data(dtimeout, NULL, NULL);
}

static void on_dbus_timeout_toggled(DBusTimeout *dtimeout, void *data)
{
    (void)data;
    struct mainloop_timer *t = dbus_timeout_get_data(dtimeout);
    if (t)
        sync_dbus_timeout(t, dtimeout);
}

/* Called from inside libdbus: only note it; dispatching here would re-enter the connection. */
static void on_dbus_dispatch_status(DBusConnection *conn, DBusDispatchStatus status, void *data)
{
    (void)conn;
    if (status == DBUS_DISPATCH_DATA_REMAINS)
        mainloop_source_set_pending(data, true);
}

/* The source's dispatch: the connection until complete, or until a handler removes it. */
static void dispatch_connection(struct mainloop *loop, struct mainloop_source *source, void *user)
{
    (void)loop;
    DBusConnection *conn = dbus_connection_ref(user);
    while (mainloop_source_active(source) &&
           dbus_connection_dispatch(conn) == DBUS_DISPATCH_DATA_REMAINS)
        ;
    mainloop_source_set_pending(source, false);
    dbus_connection_unref(conn);
}

/* The source's detach. Clearing the functions makes libdbus call the remove functions for every
 * watch and timeout. */
static void detach_connection(struct mainloop *loop, struct mainloop_source *source, void *user)
{
    (void)loop;
    (void)source;
    DBusConnection *conn = user;
    dbus_connection_set_dispatch_status_function(conn, NULL, NULL, NULL);
    dbus_connection_set_watch_functions(conn, NULL, NULL, NULL, NULL, NULL);
    dbus_connection_set_timeout_functions(conn, NULL, NULL, NULL, NULL, NULL);
    dbus_connection_unref(conn);
}

int dbus_loop_add(struct mainloop *loop, DBusConnection *conn)
{
    if (mainloop_find_source(loop, dispatch_connection, conn))
        return -EEXIST;
    struct mainloop_source *source;
    int r = mainloop_add_source(loop, dispatch_connection, detach_connection,
                                dbus_connection_ref(conn), &source);
    if (r < 0) {
        dbus_connection_unref(conn);
        return r;
    }
    if (!dbus_connection_set_watch_functions(conn, on_dbus_add_watch, on_dbus_remove_watch,
                                             on_dbus_watch_toggled, loop, NULL) ||
        !dbus_connection_set_timeout_functions(conn, on_dbus_add_timeout, on_dbus_remove_timeout,
                                               on_dbus_timeout_toggled, loop, NULL)) {
        mainloop_remove_source(source);
        return -ENOMEM;
    }
    dbus_connection_set_dispatch_status_function(conn, on_dbus_dispatch_status, source, NULL);
    mainloop_source_set_pending(source, dbus_connection_get_dispatch_status(conn) ==
                                            DBUS_DISPATCH_DATA_REMAINS);
    return 0;
}

void dbus_loop_remove(struct mainloop *loop, DBusConnection *conn)
{
    mainloop_remove_source(mainloop_find_source(loop, dispatch_connection, conn));
}
