/* vedbus against a real, private dbus-daemon: the service is checked by busitem-check (Victron's
 * way of reading a service, python3-dbus) and by a libdbus client in this process that shares the
 * test's mainloop, so service and client both run while a test waits for an answer.
 *
 * One file on purpose: every test shares the fixture in the first part (private bus, client,
 * busitem-check, the service under test), and meson runs this one executable twice, filtered, to
 * keep the busitem-check tests (which need ../shared) apart from the rest. The tests follow in
 * sections by topic: wire types, tree, SetValue, ItemsChanged, registration, local API, loop. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mainloop.h"
#include "venus/dbus_loop.h"
#include "venus/vedbus.h"

#define SERVICE     "com.victronenergy.battery.lynxtest"
#define BUSITEM     "com.victronenergy.BusItem"
#define MAX_SIGNALS 16
#ifndef BUSITEM_CHECK_DEFAULT
#define BUSITEM_CHECK_DEFAULT "../shared/tools/busitem-check"
#endif

extern char **environ;

static char bus_dir[64];
static char bus_address[256];
static pid_t bus_daemon = -1;
static struct mainloop *loop;
static struct vedbus_service *svc;
static DBusConnection *client;
static DBusMessage *signals[MAX_SIGNALS];
static int signal_count;

/* ---- private bus ---- */

static void start_bus_daemon(void)
{
    strcpy(bus_dir, "/tmp/vedbus-test-XXXXXX");
    cr_assert_not_null(mkdtemp(bus_dir));
    char conf[128];
    snprintf(conf, sizeof(conf), "%s/bus.conf", bus_dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
            "<busconfig>\n"
            "  <type>session</type>\n"
            "  <listen>unix:path=%s/bus</listen>\n"
            "  <auth>EXTERNAL</auth>\n"
            "  <policy context=\"default\">\n"
            "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
            "    <allow eavesdrop=\"true\"/>\n"
            "    <allow own=\"*\"/>\n"
            "  </policy>\n"
            "</busconfig>\n",
            bus_dir);
    cr_assert_eq(fclose(f), 0);

    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t parent = getpid();
    bus_daemon = fork();
    cr_assert_geq(bus_daemon, 0);
    if (bus_daemon == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a crashed test */
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], STDOUT_FILENO);
        /* As root it complains it may not raise its fd limit; nothing else goes to stderr. */
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        char config_arg[160];
        snprintf(config_arg, sizeof(config_arg), "--config-file=%s", conf);
        execlp("dbus-daemon", "dbus-daemon", config_arg, "--nofork", "--print-address", NULL);
        _exit(127);
    }
    close(out[1]);
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    size_t len = 0;
    while (len < sizeof(bus_address) - 1 && !memchr(bus_address, '\n', len)) {
        cr_assert_gt(poll(&pfd, 1, 5000), 0, "dbus-daemon printed no address");
        ssize_t n = read(out[0], bus_address + len, sizeof(bus_address) - 1 - len);
        cr_assert_gt(n, 0, "dbus-daemon exited (is it installed?)");
        len += (size_t)n;
    }
    close(out[0]);
    bus_address[strcspn(bus_address, "\n")] = '\0';
}

static void stop_bus_daemon(void)
{
    if (bus_daemon > 0) {
        kill(bus_daemon, SIGTERM);
        waitpid(bus_daemon, NULL, 0);
        bus_daemon = -1;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/bus.conf", bus_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/bus", bus_dir);
    unlink(path);
    cr_assert_eq(rmdir(bus_dir), 0, "temporary bus directory left behind: %s", strerror(errno));
    struct stat st;
    cr_assert_neq(stat(bus_dir, &st), 0);
}

/* ---- client side ---- */

static DBusHandlerResult collect_items_changed(DBusConnection *conn, DBusMessage *msg, void *data)
{
    (void)conn;
    (void)data;
    if (dbus_message_is_signal(msg, BUSITEM, "ItemsChanged") && signal_count < MAX_SIGNALS)
        signals[signal_count++] = dbus_message_ref(msg);
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static void connect_client(void)
{
    DBusError err;
    dbus_error_init(&err);
    client = dbus_connection_open_private(bus_address, &err);
    cr_assert_not_null(client, "%s", err.message);
    cr_assert(dbus_bus_register(client, &err), "%s", err.message);
    dbus_connection_set_exit_on_disconnect(client, FALSE);
    cr_assert(dbus_connection_add_filter(client, collect_items_changed, NULL, NULL));
    dbus_bus_add_match(client, "type='signal',interface='" BUSITEM "',member='ItemsChanged'", &err);
    cr_assert_not(dbus_error_is_set(&err), "%s", err.message);
    cr_assert_eq(dbus_loop_add(loop, client), 0);
}

static void call_timed_out(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l;
    (void)t;
    cr_assert_fail("no answer within 10 s: %s", (const char *)user);
}

static void store_reply(DBusPendingCall *pending, void *user)
{
    *(DBusMessage **)user = dbus_pending_call_steal_reply(pending);
    mainloop_quit(loop);
}

/* Sends msg on conn and runs the loop until its reply arrives. */
static DBusMessage *roundtrip_on(DBusConnection *conn, DBusMessage *msg)
{
    DBusPendingCall *pending;
    DBusMessage *reply = NULL;
    struct mainloop_timer *guard;
    cr_assert(dbus_connection_send_with_reply(conn, msg, &pending, 5000));
    cr_assert(dbus_pending_call_set_notify(pending, store_reply, &reply, NULL));
    cr_assert_eq(mainloop_add_timer(loop, 10000, false, call_timed_out,
                                    (void *)dbus_message_get_member(msg), &guard),
                 0);
    while (!reply)
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(guard);
    dbus_pending_call_unref(pending);
    dbus_message_unref(msg);
    return reply;
}

/* Sends msg from the client and runs the loop until its reply arrives. */
static DBusMessage *roundtrip(DBusMessage *msg)
{
    return roundtrip_on(client, msg);
}

static DBusMessage *call(const char *path, const char *iface, const char *member)
{
    return roundtrip(dbus_message_new_method_call(SERVICE, path, iface, member));
}

static void expect_error(DBusMessage *reply, const char *error)
{
    cr_assert_eq(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
    cr_assert_str_eq(dbus_message_get_error_name(reply), error);
    dbus_message_unref(reply);
}

static void expect_return(DBusMessage *reply, const char *signature)
{
    cr_assert_eq(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN, "error %s",
                 dbus_message_get_error_name(reply));
    cr_assert_str_eq(dbus_message_get_signature(reply), signature);
}

/* The signature of the variant GetValue returns, with the reply kept for further reading. */
static DBusMessage *get_value(const char *path, DBusMessageIter *inner, char *signature)
{
    DBusMessage *reply = call(path, BUSITEM, "GetValue");
    expect_return(reply, "v");
    DBusMessageIter args;
    dbus_message_iter_init(reply, &args);
    dbus_message_iter_recurse(&args, inner);
    char *sig = dbus_message_iter_get_signature(inner);
    snprintf(signature, 32, "%s", sig);
    dbus_free(sig);
    return reply;
}

static char *get_text(const char *path)
{
    DBusMessage *reply = call(path, BUSITEM, "GetText");
    expect_return(reply, "s");
    const char *text;
    dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID);
    char *copy = strdup(text);
    dbus_message_unref(reply);
    return copy;
}

/* SetValue with a variant built by `fill`; returns the int32 result. */
static int set_value_with(const char *path, const char *signature,
                          void (*fill)(DBusMessageIter *var, const void *arg), const void *arg)
{
    DBusMessage *msg = dbus_message_new_method_call(SERVICE, path, BUSITEM, "SetValue");
    DBusMessageIter args, var;
    dbus_message_iter_init_append(msg, &args);
    cr_assert(dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, signature, &var));
    fill(&var, arg);
    cr_assert(dbus_message_iter_close_container(&args, &var));
    DBusMessage *reply = roundtrip(msg);
    expect_return(reply, "i");
    dbus_int32_t result;
    dbus_message_get_args(reply, NULL, DBUS_TYPE_INT32, &result, DBUS_TYPE_INVALID);
    dbus_message_unref(reply);
    return result;
}

static void fill_int32(DBusMessageIter *var, const void *arg)
{
    cr_assert(dbus_message_iter_append_basic(var, DBUS_TYPE_INT32, arg));
}

static void fill_double(DBusMessageIter *var, const void *arg)
{
    cr_assert(dbus_message_iter_append_basic(var, DBUS_TYPE_DOUBLE, arg));
}

static void fill_string(DBusMessageIter *var, const void *arg)
{
    cr_assert(dbus_message_iter_append_basic(var, DBUS_TYPE_STRING, &arg));
}

static void fill_int32_array(DBusMessageIter *var, const void *arg)
{
    DBusMessageIter array;
    cr_assert(dbus_message_iter_open_container(var, DBUS_TYPE_ARRAY, "i", &array));
    if (arg)
        cr_assert(dbus_message_iter_append_basic(&array, DBUS_TYPE_INT32, arg));
    cr_assert(dbus_message_iter_close_container(var, &array));
}

static int set_int(const char *path, dbus_int32_t v)
{
    return set_value_with(path, "i", fill_int32, &v);
}

static int set_string(const char *path, const char *s)
{
    return set_value_with(path, "s", fill_string, s);
}

/* The keys of a{s...} at iter (an array of dict entries), joined by ',' in wire order. */
static void dict_keys(DBusMessageIter *dict, char *out, size_t size)
{
    DBusMessageIter entry;
    out[0] = '\0';
    dbus_message_iter_recurse(dict, &entry);
    for (; dbus_message_iter_get_arg_type(&entry) == DBUS_TYPE_DICT_ENTRY;
         dbus_message_iter_next(&entry)) {
        DBusMessageIter kv;
        const char *key;
        dbus_message_iter_recurse(&entry, &kv);
        dbus_message_iter_get_basic(&kv, &key);
        if (out[0])
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, key, size - strlen(out) - 1);
    }
}

/* The keys of the ItemsChanged signal number n. */
static void signal_keys(int n, char *out, size_t size)
{
    cr_assert_lt(n, signal_count);
    cr_assert_str_eq(dbus_message_get_path(signals[n]), "/");
    cr_assert_str_eq(dbus_message_get_signature(signals[n]), "a{sa{sv}}");
    DBusMessageIter args;
    dbus_message_iter_init(signals[n], &args);
    dict_keys(&args, out, size);
}

/* A round trip to the service: every signal it sent earlier has reached the client after it. */
static void sync_with_service(void)
{
    dbus_message_unref(call("/", BUSITEM, "GetText"));
}

/* A round trip between the service's connection and the bus: the bus has handled everything the
 * service sent before, and the service has dispatched every reply it got before. */
static void sync_with_service_bus(void)
{
    dbus_message_unref(roundtrip_on(vedbus_connection(svc),
                                    dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                                                 DBUS_INTERFACE_DBUS, "GetId")));
}

/* ---- busitem-check ---- */

static const char *busitem_check_path(void)
{
    const char *p = getenv("BUSITEM_CHECK");
    return p && *p ? p : BUSITEM_CHECK_DEFAULT;
}

struct tool_output {
    char text[65536];
    size_t len;
    bool done;
};

static void read_tool_output(struct mainloop *l, struct mainloop_fd_watch *w, int fd, short revents,
                             void *user)
{
    (void)revents;
    struct tool_output *out = user;
    ssize_t n = read(fd, out->text + out->len, sizeof(out->text) - 1 - out->len);
    if (n > 0) {
        out->len += (size_t)n;
        return;
    }
    out->done = true;
    mainloop_remove_fd(w);
    mainloop_quit(l);
}

/* Runs busitem-check with args before the service name while the loop serves it; returns its
 * exit status. */
static int run_busitem_check(const char *arg1, const char *arg2, struct tool_output *out)
{
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipefd[0]);
    posix_spawn_file_actions_addclose(&actions, pipefd[1]);
    const char *argv[8] = {busitem_check_path(), "--address", bus_address};
    int argc = 3;
    /* meson runs these tests through tests/needs-shared.sh: skipped without ../shared */
    if (arg1)
        argv[argc++] = arg1;
    if (arg2)
        argv[argc++] = arg2;
    argv[argc++] = SERVICE;
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &actions, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipefd[1]);
    cr_assert_eq(r, 0, "cannot run %s: %s (set BUSITEM_CHECK)", argv[0], strerror(r));

    memset(out, 0, sizeof(*out));
    struct mainloop_timer *guard;
    cr_assert_eq(mainloop_add_fd(loop, pipefd[0], POLLIN, read_tool_output, out, NULL), 0);
    cr_assert_eq(mainloop_add_timer(loop, 30000, false, call_timed_out, "busitem-check", &guard),
                 0);
    while (!out->done)
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(guard);
    close(pipefd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ---- the service under test ---- */

static int refuse_longer_than(struct vedbus_item *item, struct vedbus_value *proposed, void *user)
{
    (void)item;
    return proposed->type == VEDBUS_TYPE_STRING && strlen(proposed->s) > (size_t)(intptr_t)user;
}

static void volts_text(const struct vedbus_value *v, char *buf, size_t size, void *user)
{
    (void)user;
    snprintf(buf, size, "%.2fV", v->d);
}

static void add(const char *path, struct vedbus_value value, const struct vedbus_item_options *o)
{
    cr_assert_eq(vedbus_add_item(svc, path, &value, o, NULL), 0, "adding %s", path);
}

static void populate_service(void)
{
    const struct vedbus_item_options hex = {.format = VEDBUS_TEXT_HEX};
    const struct vedbus_item_options int_item = {.type = VEDBUS_TYPE_INT};
    const struct vedbus_item_options custom_name = {
        .writeable = true, .validate = refuse_longer_than, .validate_user = (void *)32};
    const struct vedbus_item_options fuse_name = {
        .writeable = true, .validate = refuse_longer_than, .validate_user = (void *)16};
    const struct vedbus_item_options volts = {.writeable = true, .text = volts_text};
    const struct vedbus_item_options writeable_int = {.writeable = true};

    add("/Mgmt/ProcessName", VEDBUS_STRING("dbus-lynx-distributor"), NULL);
    add("/Mgmt/ProcessVersion", VEDBUS_STRING("0.1.0"), NULL);
    add("/Mgmt/Connection", VEDBUS_STRING("FT232H I2C"), NULL);
    add("/DeviceInstance", VEDBUS_INT(990), NULL);
    add("/ProductId", VEDBUS_INT(0xFFFF), &hex);
    add("/ProductName", VEDBUS_STRING("Lynx Distributor monitor"), NULL);
    add("/FirmwareVersion", VEDBUS_INVALID, NULL);
    add("/HardwareVersion", VEDBUS_INVALID, NULL);
    add("/Connected", VEDBUS_INT(1), NULL);
    add("/CustomName", VEDBUS_STRING(""), &custom_name);
    add("/Serial", VEDBUS_STRING("FT4XYZ12"), NULL);
    add("/NrOfDistributors", VEDBUS_INT(1), NULL);
    add("/Distributor/A/Status", VEDBUS_INT(1), NULL);
    add("/Distributor/A/Alarms/ConnectionLost", VEDBUS_INT(0), &writeable_int);
    add("/Distributor/A/Fuse/0/Name", VEDBUS_STRING("Inverter"), &fuse_name);
    add("/Distributor/A/Fuse/0/Status", VEDBUS_INT(2), NULL);
    add("/Distributor/A/Fuse/1/Status", VEDBUS_INVALID, &int_item);
    add("/Alarms/FuseBlown", VEDBUS_INT(0), NULL);
    add("/Test/Big", VEDBUS_INT(5000000000LL), NULL);
    add("/Test/Volts", VEDBUS_DOUBLE(12.5), &volts);
}

#define ITEM_COUNT 20

/* ---- bus name ---- */

#define NO_RESULT 1 /* no name handler call yet */

static void store_name_result(struct vedbus_service *service, int result, void *user)
{
    (void)service;
    *(int *)user = result;
    mainloop_quit(loop);
}

/* Runs the loop until the name handler stored a result (what: the call awaited, for the message
 * when the bus does not answer within 10 s). */
static void wait_for_name_result(const int *result, const char *what)
{
    struct mainloop_timer *guard;
    cr_assert_eq(mainloop_add_timer(loop, 10000, false, call_timed_out, (void *)what, &guard), 0);
    while (*result == NO_RESULT)
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(guard);
}

/* Requests the name and runs the loop until the bus has answered: the handler's result. */
static int register_and_wait(struct vedbus_service *service)
{
    int result = NO_RESULT;
    vedbus_set_name_handler(service, store_name_result, &result);
    int rc = vedbus_register_name(service);
    if (rc < 0)
        return rc;
    wait_for_name_result(&result, "RequestName");
    vedbus_set_name_handler(service, NULL, NULL);
    return result;
}

static void setup(void)
{
    start_bus_daemon();
    /* The service finds the bus the way the daemon will on Venus: through the environment. */
    cr_assert_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1), 0);
    cr_assert_eq(mainloop_new(&loop), 0);
    cr_assert_eq(vedbus_service_new(loop, SERVICE, NULL, &svc), 0);
    populate_service();
    connect_client();
    cr_assert_eq(register_and_wait(svc), 0);
}

static void teardown(void)
{
    vedbus_service_free(svc);
    for (int i = 0; i < signal_count; i++)
        dbus_message_unref(signals[i]);
    signal_count = 0;
    dbus_loop_remove(loop, client);
    dbus_connection_close(client);
    dbus_connection_unref(client);
    mainloop_free(loop);
    stop_bus_daemon();
}

TestSuite(vedbus, .init = setup, .fini = teardown, .timeout = 60);

/* ---- through busitem-check ---- */

Test(vedbus, busitem_check_finds_every_convention_satisfied)
{
    struct tool_output out;
    int status = run_busitem_check(NULL, NULL, &out);
    cr_assert_eq(status, 0, "busitem-check:\n%s", out.text);
    const char *summary = strstr(out.text, " passed, 0 failed\n");
    cr_assert(summary, "%s", out.text);
    while (summary > out.text && summary[-1] != '\n')
        summary--;
    cr_log_info("busitem-check: %s", summary);
}

Test(vedbus, busitem_check_dump_shows_values_and_texts_as_consumers_see_them)
{
    struct tool_output out;
    cr_assert_eq(run_busitem_check("--dump", NULL, &out), 0);
    const char *expected[] = {
        "/Connected\t1\t1\n",
        "/DeviceInstance\t990\t990\n",
        "/Distributor/A/Fuse/0/Name\t\"Inverter\"\tInverter\n",
        "/Distributor/A/Fuse/1/Status\tnull\t---\n",
        "/FirmwareVersion\tnull\t---\n",
        "/ProductId\t65535\t0xFFFF\n",
        "/ProductName\t\"Lynx Distributor monitor\"\tLynx Distributor monitor\n",
        "/Test/Big\t5000000000\t5000000000\n",
        "/Test/Volts\t12.5\t12.50V\n",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        cr_assert(strstr(out.text, expected[i]), "missing %s in:\n%s", expected[i], out.text);
    int lines = 0;
    for (const char *p = out.text; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, ITEM_COUNT);
}

Test(vedbus, busitem_check_reads_a_value_changed_over_the_bus)
{
    cr_assert_eq(set_string("/CustomName", "Main bus"), 0);
    struct tool_output out;
    cr_assert_eq(run_busitem_check("--get", "/CustomName", &out), 0);
    cr_assert_str_eq(out.text, "\"Main bus\"\n");
}

/* ---- wire types ---- */

Test(vedbus, invalid_value_is_a_variant_of_an_empty_int32_array_with_text_dashes)
{
    DBusMessageIter inner, array;
    char sig[32];
    DBusMessage *reply = get_value("/FirmwareVersion", &inner, sig);
    cr_assert_str_eq(sig, "ai");
    dbus_message_iter_recurse(&inner, &array);
    cr_assert_eq(dbus_message_iter_get_arg_type(&array), DBUS_TYPE_INVALID);
    dbus_message_unref(reply);
    char *text = get_text("/FirmwareVersion");
    cr_assert_str_eq(text, "---");
    free(text);
}

Test(vedbus, integers_are_int32_and_int64_only_beyond_int32_range)
{
    DBusMessageIter inner;
    char sig[32];
    DBusMessage *reply = get_value("/DeviceInstance", &inner, sig);
    cr_assert_str_eq(sig, "i");
    dbus_int32_t i32;
    dbus_message_iter_get_basic(&inner, &i32);
    cr_assert_eq(i32, 990);
    dbus_message_unref(reply);

    reply = get_value("/Test/Big", &inner, sig);
    cr_assert_str_eq(sig, "x");
    dbus_int64_t i64;
    dbus_message_iter_get_basic(&inner, &i64);
    cr_assert_eq(i64, 5000000000LL);
    dbus_message_unref(reply);
}

Test(vedbus, doubles_are_d_and_strings_are_s)
{
    DBusMessageIter inner;
    char sig[32];
    DBusMessage *reply = get_value("/Test/Volts", &inner, sig);
    cr_assert_str_eq(sig, "d");
    double d;
    dbus_message_iter_get_basic(&inner, &d);
    cr_assert_eq(d, 12.5);
    dbus_message_unref(reply);

    reply = get_value("/Mgmt/ProcessName", &inner, sig);
    cr_assert_str_eq(sig, "s");
    const char *s;
    dbus_message_iter_get_basic(&inner, &s);
    cr_assert_str_eq(s, "dbus-lynx-distributor");
    dbus_message_unref(reply);
}

Test(vedbus, text_uses_the_format_kind_or_the_item_formatter)
{
    char *text = get_text("/ProductId");
    cr_assert_str_eq(text, "0xFFFF");
    free(text);
    text = get_text("/Test/Volts");
    cr_assert_str_eq(text, "12.50V");
    free(text);
    text = get_text("/DeviceInstance");
    cr_assert_str_eq(text, "990");
    free(text);
}

Test(vedbus, default_double_text_is_the_shortest_round_trip_form)
{
    struct vedbus_item *item;
    const struct vedbus_value zero = VEDBUS_DOUBLE(0);
    cr_assert_eq(vedbus_add_item(svc, "/Test/Plain", &zero, NULL, &item), 0);
    const struct {
        double value;
        const char *text;
    } cases[] = {{12.0, "12.0"},
                 {0.1, "0.1"},
                 {100, "100.0"},
                 {-2.5, "-2.5"},
                 {1e16, "1e+16"},
                 {1.5e-5, "1.5e-05"},
                 {1.0 / 3, "0.3333333333333333"}};
    char buf[VEDBUS_TEXT_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_geq(vedbus_item_set_double(item, cases[i].value), 0);
        cr_assert_str_eq(vedbus_item_text(item, buf), cases[i].text);
    }
}

/* ---- tree ---- */

Test(vedbus, get_items_on_root_has_every_item_with_absolute_keys_value_and_text)
{
    DBusMessage *reply = call("/", BUSITEM, "GetItems");
    expect_return(reply, "a{sa{sv}}");
    DBusMessageIter args, entry;
    dbus_message_iter_init(reply, &args);
    dbus_message_iter_recurse(&args, &entry);
    int count = 0;
    for (; dbus_message_iter_get_arg_type(&entry) == DBUS_TYPE_DICT_ENTRY;
         dbus_message_iter_next(&entry), count++) {
        DBusMessageIter kv;
        const char *path;
        char props[64];
        dbus_message_iter_recurse(&entry, &kv);
        dbus_message_iter_get_basic(&kv, &path);
        cr_assert_eq(path[0], '/');
        dbus_message_iter_next(&kv);
        dict_keys(&kv, props, sizeof(props));
        cr_assert_str_eq(props, "Value,Text", "%s", path);
    }
    cr_assert_eq(count, ITEM_COUNT);
    dbus_message_unref(reply);
}

Test(vedbus, get_value_on_a_node_returns_its_leaves_with_relative_keys)
{
    DBusMessageIter inner;
    char sig[32], keys[512];
    DBusMessage *reply = get_value("/Distributor/A", &inner, sig);
    cr_assert_str_eq(sig, "a{sv}");
    dict_keys(&inner, keys, sizeof(keys));
    cr_assert_str_eq(keys, "Alarms/ConnectionLost,Fuse/0/Name,Fuse/0/Status,Fuse/1/Status,Status");
    dbus_message_unref(reply);

    reply = get_value("/", &inner, sig);
    cr_assert_str_eq(sig, "a{sv}");
    dict_keys(&inner, keys, sizeof(keys));
    cr_assert(strstr(keys, "Mgmt/ProcessName,"), "%s", keys);
    cr_assert_null(strstr(keys, "/Mgmt"), "%s", keys);
    dbus_message_unref(reply);
}

Test(vedbus, get_text_on_a_node_returns_texts_with_relative_keys)
{
    DBusMessage *reply = call("/Distributor/A/Fuse", BUSITEM, "GetText");
    expect_return(reply, "v");
    DBusMessageIter args, inner, entry, kv;
    dbus_message_iter_init(reply, &args);
    dbus_message_iter_recurse(&args, &inner);
    char *sig = dbus_message_iter_get_signature(&inner);
    cr_assert_str_eq(sig, "a{ss}");
    dbus_free(sig);
    char keys[128];
    dict_keys(&inner, keys, sizeof(keys));
    cr_assert_str_eq(keys, "0/Name,0/Status,1/Status");
    dbus_message_iter_recurse(&inner, &entry);
    dbus_message_iter_recurse(&entry, &kv);
    dbus_message_iter_next(&kv);
    const char *text;
    dbus_message_iter_get_basic(&kv, &text);
    cr_assert_str_eq(text, "Inverter");
    dbus_message_unref(reply);
}

static char *introspect(const char *path)
{
    DBusMessage *reply = call(path, DBUS_INTERFACE_INTROSPECTABLE, "Introspect");
    expect_return(reply, "s");
    const char *xml;
    dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &xml, DBUS_TYPE_INVALID);
    char *copy = strdup(xml);
    dbus_message_unref(reply);
    return copy;
}

static int count_child_nodes(const char *xml)
{
    int n = 0;
    for (const char *p = xml; (p = strstr(p, "<node name=")); p++)
        n++;
    return n;
}

Test(vedbus, introspect_lists_each_child_node_once)
{
    char *xml = introspect("/");
    const char *children[] = {
        "Alarms",          "Connected",       "CustomName", "DeviceInstance",   "Distributor",
        "FirmwareVersion", "HardwareVersion", "Mgmt",       "NrOfDistributors", "ProductId",
        "ProductName",     "Serial",          "Test"};
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
        char node[64];
        snprintf(node, sizeof(node), "<node name=\"%s\"/>", children[i]);
        cr_assert(strstr(xml, node), "missing %s in\n%s", node, xml);
    }
    cr_assert_eq(count_child_nodes(xml), 13, "%s", xml);
    cr_assert(strstr(xml, "GetItems"));
    free(xml);

    xml = introspect("/Distributor/A/Fuse");
    cr_assert_eq(count_child_nodes(xml), 2, "%s", xml);
    cr_assert(strstr(xml, "<node name=\"0\"/>") && strstr(xml, "<node name=\"1\"/>"), "%s", xml);
    cr_assert_null(strstr(xml, "GetItems"));
    free(xml);

    xml = introspect("/Distributor/A/Fuse/0/Name");
    cr_assert_eq(count_child_nodes(xml), 0, "%s", xml);
    cr_assert(strstr(xml, "SetValue"));
    free(xml);
}

Test(vedbus, unknown_methods_interfaces_and_paths_answer_unknown_method)
{
    expect_error(call("/ProductName", BUSITEM, "NoSuchMethod"), DBUS_ERROR_UNKNOWN_METHOD);
    expect_error(call("/ProductName", "org.example.Other", "GetValue"), DBUS_ERROR_UNKNOWN_METHOD);
    expect_error(call("/No/Such/Path", BUSITEM, "GetValue"), DBUS_ERROR_UNKNOWN_METHOD);
    expect_error(call("/Distributor", BUSITEM, "GetItems"), DBUS_ERROR_UNKNOWN_METHOD);
    expect_error(call("/Distributor", BUSITEM, "SetValue"), DBUS_ERROR_UNKNOWN_METHOD);
    /* A prefix of a path element is not a node. */
    expect_error(call("/Distrib", BUSITEM, "GetValue"), DBUS_ERROR_UNKNOWN_METHOD);
    /* The service still answers afterwards. */
    char *text = get_text("/Connected");
    cr_assert_str_eq(text, "1");
    free(text);
}

/* ---- SetValue ---- */

Test(vedbus, set_value_on_a_read_only_item_returns_1_and_changes_nothing)
{
    cr_assert_eq(set_string("/ProductName", "Other"), 1);
    char *text = get_text("/ProductName");
    cr_assert_str_eq(text, "Lynx Distributor monitor");
    free(text);
    sync_with_service();
    cr_assert_eq(signal_count, 0);
}

Test(vedbus, set_value_of_the_wrong_type_returns_1)
{
    cr_assert_eq(set_int("/CustomName", 5), 1);
    cr_assert_eq(set_string("/Distributor/A/Alarms/ConnectionLost", "2"), 1);
    dbus_int32_t two = 2;
    cr_assert_eq(
        set_value_with("/Distributor/A/Alarms/ConnectionLost", "ai", fill_int32_array, &two), 1);
    double fraction = 1.5;
    cr_assert_eq(
        set_value_with("/Distributor/A/Alarms/ConnectionLost", "d", fill_double, &fraction), 1);
    cr_assert_eq(vedbus_item_value(vedbus_find_item(svc, "/Distributor/A/Alarms/ConnectionLost")).i,
                 0);
}

Test(vedbus, set_value_refused_by_the_validator_returns_2)
{
    cr_assert_eq(set_string("/Distributor/A/Fuse/0/Name", "a name longer than 16"), 2);
    char *text = get_text("/Distributor/A/Fuse/0/Name");
    cr_assert_str_eq(text, "Inverter");
    free(text);
}

Test(vedbus, accepted_set_value_returns_0_and_sends_one_items_changed_with_that_item)
{
    vedbus_item_set_int(vedbus_find_item(svc, "/Connected"), 0); /* pending, not flushed */
    cr_assert_eq(set_string("/Distributor/A/Fuse/0/Name", "Solar"), 0);
    char keys[256];
    cr_assert_eq(signal_count, 1);
    signal_keys(0, keys, sizeof(keys));
    cr_assert_str_eq(keys, "/Distributor/A/Fuse/0/Name");
    char *text = get_text("/Distributor/A/Fuse/0/Name");
    cr_assert_str_eq(text, "Solar");
    free(text);
    /* The pending local change still goes out with the next flush. */
    cr_assert_eq(vedbus_flush(svc), 1);
}

Test(vedbus, set_value_equal_to_the_current_value_returns_0_and_sends_nothing)
{
    cr_assert_eq(set_string("/Distributor/A/Fuse/0/Name", "Inverter"), 0);
    sync_with_service();
    cr_assert_eq(signal_count, 0);
}

Test(vedbus, set_value_with_an_empty_array_makes_the_item_invalid)
{
    cr_assert_eq(
        set_value_with("/Distributor/A/Alarms/ConnectionLost", "ai", fill_int32_array, NULL), 0);
    DBusMessageIter inner;
    char sig[32];
    dbus_message_unref(get_value("/Distributor/A/Alarms/ConnectionLost", &inner, sig));
    cr_assert_str_eq(sig, "ai");
    cr_assert_eq(signal_count, 1);
    /* And back: the item keeps its declared type while invalid. */
    cr_assert_eq(set_string("/Distributor/A/Alarms/ConnectionLost", "2"), 1);
    cr_assert_eq(set_int("/Distributor/A/Alarms/ConnectionLost", 2), 0);
}

Test(vedbus, set_value_integer_on_a_double_item_is_stored_as_double)
{
    cr_assert_eq(set_int("/Test/Volts", 13), 0);
    DBusMessageIter inner;
    char sig[32];
    DBusMessage *reply = get_value("/Test/Volts", &inner, sig);
    cr_assert_str_eq(sig, "d");
    double d;
    dbus_message_iter_get_basic(&inner, &d);
    cr_assert_eq(d, 13.0);
    dbus_message_unref(reply);
}

/* ---- ItemsChanged ---- */

Test(vedbus, flush_sends_exactly_one_items_changed_with_only_the_changed_items)
{
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Distributor/A/Status"), 3), 1);
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Connected"), 0), 1);
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/DeviceInstance"), 990), 0);
    cr_assert_eq(vedbus_item_set_invalid(vedbus_find_item(svc, "/Distributor/A/Fuse/0/Status")), 1);
    cr_assert_eq(vedbus_flush(svc), 3);
    sync_with_service();

    cr_assert_eq(signal_count, 1);
    char keys[256];
    signal_keys(0, keys, sizeof(keys));
    cr_assert_str_eq(keys, "/Connected,/Distributor/A/Fuse/0/Status,/Distributor/A/Status");

    /* Value and Text of the invalidated item. */
    DBusMessageIter args, entry, kv, props, prop, value;
    dbus_message_iter_init(signals[0], &args);
    dbus_message_iter_recurse(&args, &entry);
    dbus_message_iter_next(&entry);
    dbus_message_iter_recurse(&entry, &kv);
    dbus_message_iter_next(&kv);
    dbus_message_iter_recurse(&kv, &props);
    dbus_message_iter_recurse(&props, &prop);
    dbus_message_iter_next(&prop);
    dbus_message_iter_recurse(&prop, &value);
    char *sig = dbus_message_iter_get_signature(&value);
    cr_assert_str_eq(sig, "ai");
    dbus_free(sig);
}

Test(vedbus, flush_with_nothing_changed_sends_nothing)
{
    cr_assert_eq(vedbus_flush(svc), 0);
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Connected"), 0), 1);
    cr_assert_eq(vedbus_flush(svc), 1);
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Connected"), 0), 0);
    cr_assert_eq(vedbus_item_set_string(vedbus_find_item(svc, "/Serial"), "FT4XYZ12"), 0);
    cr_assert_eq(vedbus_flush(svc), 0);
    sync_with_service();
    cr_assert_eq(signal_count, 1);
}

Test(vedbus, a_value_changed_and_changed_back_before_flush_is_still_announced_once)
{
    struct vedbus_item *status = vedbus_find_item(svc, "/Distributor/A/Status");
    cr_assert_eq(vedbus_item_set_int(status, 2), 1);
    cr_assert_eq(vedbus_item_set_int(status, 1), 1);
    cr_assert_eq(vedbus_flush(svc), 1);
    sync_with_service();
    cr_assert_eq(signal_count, 1);
}

Test(vedbus, item_added_after_registration_is_announced_by_the_next_flush)
{
    const struct vedbus_value two = VEDBUS_INT(2);
    cr_assert_eq(vedbus_add_item(svc, "/Distributor/B/Status", &two, NULL, NULL), 0);
    cr_assert_eq(vedbus_flush(svc), 1);
    sync_with_service();
    char keys[128];
    signal_keys(0, keys, sizeof(keys));
    cr_assert_str_eq(keys, "/Distributor/B/Status");
    char *xml = introspect("/Distributor");
    cr_assert(strstr(xml, "<node name=\"B\"/>"), "%s", xml);
    free(xml);
}

/* ---- registration ---- */

static bool name_has_owner(const char *name)
{
    DBusError err;
    dbus_error_init(&err);
    bool owned = dbus_bus_name_has_owner(client, name, &err);
    cr_assert_not(dbus_error_is_set(&err), "%s", err.message);
    return owned;
}

Test(vedbus, bus_name_appears_only_after_register_name)
{
    struct vedbus_service *late;
    const char *name = "com.victronenergy.battery.lynxlate";
    cr_assert_eq(vedbus_service_new(loop, name, bus_address, &late), 0);
    const struct vedbus_value one = VEDBUS_INT(1);
    cr_assert_eq(vedbus_add_item(late, "/Connected", &one, NULL, NULL), 0);
    cr_assert_not(name_has_owner(name));
    cr_assert_eq(register_and_wait(late), 0);
    cr_assert(vedbus_name_registered(late));
    cr_assert(name_has_owner(name));
    vedbus_service_free(late);
}

Test(vedbus, a_released_name_sends_nothing_until_it_is_owned_again)
{
    cr_assert(vedbus_name_registered(svc));
    cr_assert_eq(vedbus_release_name(svc), 0);
    cr_assert_not(vedbus_name_registered(svc));
    cr_assert_not(name_has_owner(SERVICE));
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Distributor/A/Status"), 3), 1);
    cr_assert_eq(vedbus_flush(svc), 0); /* nobody can have read it: the values wait for GetItems */
    cr_assert_eq(register_and_wait(svc), 0);
    cr_assert(name_has_owner(SERVICE));
    sync_with_service();
    cr_assert_eq(signal_count, 0);
    char *text = get_text("/Distributor/A/Status");
    cr_assert_str_eq(text, "3");
    free(text);
    cr_assert_eq(vedbus_flush(svc), 0); /* the change was not kept back for later either */
}

/* The bus may give the name (and a consumer read the values) before its answer reaches the
 * service: a change made while the request is in flight is sent, never lost. */
Test(vedbus, a_change_while_the_name_request_is_in_flight_is_sent)
{
    int result = NO_RESULT;
    cr_assert_eq(vedbus_release_name(svc), 0);
    sync_with_service_bus();
    vedbus_set_name_handler(svc, store_name_result, &result);
    cr_assert_eq(vedbus_register_name(svc), 0);
    cr_assert(vedbus_name_requested(svc));
    cr_assert_eq(vedbus_item_set_int(vedbus_find_item(svc, "/Distributor/A/Status"), 3), 1);
    cr_assert_eq(vedbus_flush(svc), 1);
    wait_for_name_result(&result, "RequestName");
    cr_assert_eq(result, 0);
    sync_with_service();
    cr_assert_eq(signal_count, 1);
    char keys[256];
    signal_keys(0, keys, sizeof(keys));
    cr_assert_str_eq(keys, "/Distributor/A/Status");
}

Test(vedbus, registering_a_name_that_is_taken_fails_with_eexist)
{
    struct vedbus_service *twin;
    cr_assert_eq(vedbus_service_new(loop, SERVICE, NULL, &twin), 0);
    cr_assert_eq(register_and_wait(twin), -EEXIST);
    cr_assert_not(vedbus_name_registered(twin));
    vedbus_service_free(twin);
    /* The first owner is unaffected. */
    char *text = get_text("/Connected");
    cr_assert_str_eq(text, "1");
    free(text);
}

/* The bus daemon is stopped (SIGSTOP) while the service asks for its name and gives it up: neither
 * call may wait for it. A SIGALRM resumes the bus after a generous 10 s, so a call that waited
 * returns only after bus_resumed is set instead of hanging the test. */
static volatile sig_atomic_t bus_resumed;

static void resume_bus(int sig)
{
    (void)sig;
    kill(bus_daemon, SIGCONT);
    bus_resumed = 1;
}

static void stop_bus_for_a_while(void)
{
    int status;
    struct sigaction sa = {.sa_handler = resume_bus};
    cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
    bus_resumed = 0;
    cr_assert_eq(kill(bus_daemon, SIGSTOP), 0);
    cr_assert_eq(waitpid(bus_daemon, &status, WUNTRACED), bus_daemon);
    cr_assert(WIFSTOPPED(status));
    alarm(10);
}

static void resume_bus_now(void)
{
    alarm(0);
    cr_assert_eq(kill(bus_daemon, SIGCONT), 0);
}

static void count_tick(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)t;
    if (++*(int *)user == 5)
        mainloop_quit(l);
}

/* Runs the loop until a 20 ms periodic timer has fired 5 times. */
static void run_five_ticks(void)
{
    int ticks = 0;
    struct mainloop_timer *tick;
    cr_assert_eq(mainloop_add_timer(loop, 20, true, count_tick, &ticks, &tick), 0);
    while (ticks < 5)
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(tick);
}

Test(vedbus, a_name_request_does_not_wait_for_a_stopped_bus)
{
    struct vedbus_service *late;
    const char *name = "com.victronenergy.battery.lynxlate";
    int result = NO_RESULT;
    cr_assert_eq(vedbus_service_new(loop, name, bus_address, &late), 0);
    vedbus_set_name_handler(late, store_name_result, &result);

    stop_bus_for_a_while();
    cr_assert_eq(vedbus_register_name(late), 0);
    cr_assert_not(bus_resumed, "vedbus_register_name waited for the stopped bus");
    cr_assert(vedbus_name_requested(late));
    cr_assert_eq(vedbus_register_name(late), 0); /* once is enough: nothing more is sent */
    run_five_ticks(); /* the loop goes on, and no outcome is made up meanwhile */
    cr_assert_not(bus_resumed, "the loop's timers stalled while the bus was stopped");
    cr_assert_eq(result, NO_RESULT);
    cr_assert_not(vedbus_name_registered(late));

    /* The bus answers late: the name is ours. */
    resume_bus_now();
    wait_for_name_result(&result, "RequestName");
    cr_assert_eq(result, 0);
    cr_assert(vedbus_name_registered(late));
    cr_assert_not(vedbus_name_requested(late));
    cr_assert(name_has_owner(name));
    vedbus_service_free(late);
}

Test(vedbus, a_service_created_while_the_bus_is_stopped_does_not_wait_for_it)
{
    struct vedbus_service *late;
    const char *name = "com.victronenergy.battery.lynxlate";
    stop_bus_for_a_while();
    /* Connecting, Hello, the items and the name request: nothing waits for the bus. */
    cr_assert_eq(vedbus_service_new(loop, name, bus_address, &late), 0);
    cr_assert_not(bus_resumed, "vedbus_service_new waited for the stopped bus");
    const struct vedbus_value one = VEDBUS_INT(1);
    cr_assert_eq(vedbus_add_item(late, "/Connected", &one, NULL, NULL), 0);
    int result = NO_RESULT;
    vedbus_set_name_handler(late, store_name_result, &result);
    cr_assert_eq(vedbus_register_name(late), 0);
    cr_assert_not(bus_resumed, "vedbus_register_name waited for the stopped bus");
    run_five_ticks();
    cr_assert_not(bus_resumed, "the loop's timers stalled while the bus was stopped");
    cr_assert_eq(result, NO_RESULT);

    /* The bus answers Hello, then the request, in order. */
    resume_bus_now();
    wait_for_name_result(&result, "Hello");
    cr_assert_eq(result, 0);
    cr_assert(vedbus_connected(late));
    cr_assert(name_has_owner(name));
    cr_assert_not_null(dbus_bus_get_unique_name(vedbus_connection(late)));
    vedbus_service_free(late);
}

Test(vedbus, releasing_the_name_does_not_wait_for_a_stopped_bus)
{
    stop_bus_for_a_while();
    cr_assert_eq(vedbus_release_name(svc), 0);
    cr_assert_not(bus_resumed, "vedbus_release_name waited for the stopped bus");
    cr_assert_not(vedbus_name_registered(svc));
    run_five_ticks();
    cr_assert_not(bus_resumed, "the loop's timers stalled while the bus was stopped");
    resume_bus_now();
    cr_assert_not(name_has_owner(SERVICE)); /* the bus handled the release once it ran again */
}

Test(vedbus, a_release_while_the_request_is_in_flight_drops_the_request)
{
    int result = NO_RESULT;
    cr_assert_eq(vedbus_release_name(svc), 0);
    vedbus_set_name_handler(svc, store_name_result, &result);
    cr_assert_eq(vedbus_register_name(svc), 0);
    cr_assert(vedbus_name_requested(svc));
    cr_assert_eq(vedbus_release_name(svc), 0);
    cr_assert_not(vedbus_name_requested(svc));
    sync_with_service_bus();
    cr_assert_eq(result, NO_RESULT); /* the dropped request's outcome is never reported */
    cr_assert_not(vedbus_name_registered(svc));
    cr_assert_not(name_has_owner(SERVICE)); /* the bus handled request and release in order */
    cr_assert_eq(register_and_wait(svc), 0);
    cr_assert(name_has_owner(SERVICE));
}

Test(vedbus, service_on_an_unreachable_bus_fails_cleanly)
{
    struct vedbus_service *lost;
    cr_assert_eq(vedbus_service_new(loop, SERVICE, "unix:path=/nonexistent/bus", &lost),
                 -ECONNREFUSED);
    cr_assert_eq(vedbus_service_new(loop, "not a bus name", NULL, &lost), -EINVAL);
}

/* ---- local API ---- */

Test(vedbus, invalid_utf8_is_refused_and_never_reaches_libdbus)
{
    struct vedbus_item *name = vedbus_find_item(svc, "/Distributor/A/Fuse/0/Name");
    cr_assert_eq(vedbus_item_set_string(name, "Fuse \xff\xfe"), -EILSEQ);
    cr_assert_eq(vedbus_item_set_string(name, "\xed\xa0\x80"), -EILSEQ); /* a surrogate */
    cr_assert_str_eq(vedbus_item_value(name).s, "Inverter");
    const struct vedbus_value bad = VEDBUS_STRING("\xc3");
    cr_assert_eq(vedbus_add_item(svc, "/Test/Bad", &bad, NULL, NULL), -EINVAL);
    cr_assert_eq(vedbus_flush(svc), 0);
    char *text = get_text("/Distributor/A/Fuse/0/Name");
    cr_assert_str_eq(text, "Inverter");
    free(text);
}

static void broken_text(const struct vedbus_value *v, char *buf, size_t size, void *user)
{
    (void)v;
    (void)user;
    snprintf(buf, size, "bad \xff text");
}

Test(vedbus, formatter_output_that_is_not_utf8_is_replaced)
{
    const struct vedbus_item_options opts = {.text = broken_text};
    const struct vedbus_value one = VEDBUS_INT(1);
    cr_assert_eq(vedbus_add_item(svc, "/Test/BrokenText", &one, &opts, NULL), 0);
    char *text = get_text("/Test/BrokenText");
    cr_assert_str_eq(text, "?");
    free(text);
}

Test(vedbus, add_item_refuses_bad_paths_duplicates_and_leaf_node_clashes)
{
    const struct vedbus_value one = VEDBUS_INT(1);
    cr_assert_eq(vedbus_add_item(svc, "/", &one, NULL, NULL), -EINVAL);
    cr_assert_eq(vedbus_add_item(svc, "NoSlash", &one, NULL, NULL), -EINVAL);
    cr_assert_eq(vedbus_add_item(svc, "/Trailing/", &one, NULL, NULL), -EINVAL);
    cr_assert_eq(vedbus_add_item(svc, "/Bad-Char", &one, NULL, NULL), -EINVAL);
    cr_assert_eq(vedbus_add_item(svc, "/Connected", &one, NULL, NULL), -EEXIST);
    cr_assert_eq(vedbus_add_item(svc, "/Connected/Sub", &one, NULL, NULL), -EEXIST);
    cr_assert_eq(vedbus_add_item(svc, "/Distributor/A", &one, NULL, NULL), -EEXIST);
    const struct vedbus_item_options string_item = {.type = VEDBUS_TYPE_STRING};
    cr_assert_eq(vedbus_add_item(svc, "/Test/Typed", &one, &string_item, NULL), -EINVAL);
}

Test(vedbus, local_setters_keep_the_declared_type)
{
    struct vedbus_item *status = vedbus_find_item(svc, "/Distributor/A/Fuse/1/Status");
    cr_assert_eq(vedbus_item_set_string(status, "2"), -EINVAL);
    cr_assert_eq(vedbus_item_set_int(status, 2), 1);
    struct vedbus_item *volts = vedbus_find_item(svc, "/Test/Volts");
    cr_assert_eq(vedbus_item_set_int(volts, 12), 1);
    cr_assert_eq(vedbus_item_value(volts).type, VEDBUS_TYPE_DOUBLE);
    cr_assert_eq(vedbus_item_value(volts).d, 12.0);
}

/* ---- loop integration ---- */

static void quit_after(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)t;
    (void)user;
    mainloop_quit(l);
}

Test(vedbus, idle_service_and_client_do_not_busy_wait)
{
    sync_with_service();
    uint64_t before = mainloop_iterations(loop);
    cr_assert_eq(mainloop_add_timer(loop, 200, false, quit_after, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    uint64_t iterations = mainloop_iterations(loop) - before;
    cr_assert_leq(iterations, 4, "%llu iterations in 200 ms", (unsigned long long)iterations);
}

static void on_disconnect(struct vedbus_service *s, void *user)
{
    (void)s;
    *(bool *)user = true;
    mainloop_quit(loop);
}

Test(vedbus, losing_the_bus_is_reported_instead_of_exiting)
{
    bool lost = false;
    vedbus_set_disconnect_handler(svc, on_disconnect, &lost);
    kill(bus_daemon, SIGTERM);
    waitpid(bus_daemon, NULL, 0);
    bus_daemon = -1;
    cr_assert_eq(mainloop_add_timer(loop, 5000, false, quit_after, NULL, NULL), 0);
    cr_assert_eq(mainloop_run(loop), 0);
    cr_assert(lost);
    cr_assert_not(vedbus_connected(svc));
}

/* vedbus_decode_set_value: SetValue's own decoding, without a bus. */
static DBusMessage *set_value_call(int type, const void *value)
{
    DBusMessage *msg =
        dbus_message_new_method_call("x.y", "/A", "com.victronenergy.BusItem", "SetValue");
    DBusMessageIter args, var;
    char signature[2] = {(char)type, '\0'};
    cr_assert_not_null(msg);
    dbus_message_iter_init_append(msg, &args);
    cr_assert(dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, signature, &var));
    cr_assert(dbus_message_iter_append_basic(&var, type, value));
    cr_assert(dbus_message_iter_close_container(&args, &var));
    return msg;
}

Test(vedbus_decode, set_value_argument_is_decoded_and_coerced_as_set_value_does_without_a_bus)
{
    struct vedbus_value v;
    dbus_int32_t i = 7;
    const char *s = "Inverter";
    DBusMessage *msg = set_value_call(DBUS_TYPE_INT32, &i);
    cr_assert_eq(vedbus_decode_set_value(msg, VEDBUS_TYPE_DOUBLE, &v), 0);
    cr_assert(v.type == VEDBUS_TYPE_DOUBLE && v.d == 7.0, "an integer on a double item");
    cr_assert_eq(vedbus_decode_set_value(msg, VEDBUS_TYPE_STRING, &v), -EINVAL);
    dbus_message_unref(msg);

    msg = set_value_call(DBUS_TYPE_STRING, &s);
    cr_assert_eq(vedbus_decode_set_value(msg, VEDBUS_TYPE_STRING, &v), 0);
    cr_assert(v.type == VEDBUS_TYPE_STRING);
    cr_assert_str_eq(v.s, "Inverter");
    cr_assert_eq(vedbus_decode_set_value(msg, VEDBUS_TYPE_INT, &v), -EINVAL);
    dbus_message_unref(msg);

    msg = dbus_message_new_method_call("x.y", "/A", "com.victronenergy.BusItem", "SetValue");
    cr_assert_eq(vedbus_decode_set_value(msg, VEDBUS_TYPE_INVALID, &v), -EINVAL, "no argument");
    dbus_message_unref(msg);
}
