/* The localsettings client against the settings stand-in, on a private dbus-daemon per test.
 *
 * Each test gets a temporary directory holding the bus config, the bus socket and the stand-in's
 * settings file; .fini stops every process it started and checks the directory is gone. The
 * client runs from the real mainloop; a "probe" connection plays the GUI (blocking calls are fine
 * in a test) and checks what the stand-in holds.
 *
 * One file on purpose: the tests share that fixture (bus, stand-in, clients, probe), and they are
 * one story, the client's life against a settings service that comes, goes and changes values. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mainloop.h"
#include "venus/dbus_loop.h"
#include "venus/settings.h"
#include "venus/settings_paths.h"

#define MAX_CLIENTS 2
#define MAX_REPORTS 32
#define WAIT_MS     5000
#define DEVICE_A    "/Settings/Devices/dbus_lynx_distributor_FT1A/"
#define DEVICE_B    "/Settings/Devices/dbus_lynx_distributor_FT2B/"
#define VRM_A       DEVICE_A "ClassAndVrmInstance"
#define VRM_B       DEVICE_B "ClassAndVrmInstance"
#define NAME_A      DEVICE_A "CustomName"
#define LEVEL_A     DEVICE_A "Level"
#define RATIO_A     DEVICE_A "Ratio"

struct report {
    int client;
    char path[SETTINGS_PATH_MAX];
    enum settings_type type;
    int64_t i;
    double d;
    char s[64];
    enum settings_origin origin;
};

static struct {
    char dir[64];
    char file[128];
    char address[512];
    pid_t bus_pid, standin_pid;
    struct mainloop *loop;
    struct mainloop_timer *tick;
    DBusConnection *probe;
    DBusConnection *conn[MAX_CLIENTS];
    struct settings_client *client[MAX_CLIENTS];
    int client_id[MAX_CLIENTS];
    struct report reports[MAX_REPORTS];
    unsigned report_count;
    enum settings_state states[MAX_REPORTS];
    unsigned state_count;
} fx;

/* ---- processes ---- */

/* quiet: stdout and stderr to /dev/null (dbus-daemon complains about rlimits as non-root). */
static pid_t spawn(char *const argv[], bool quiet)
{
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int devnull = open("/dev/null", O_WRONLY);
        if (quiet && devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int stop_process(pid_t *pid)
{
    int status = -1;
    if (*pid <= 0)
        return 0;
    kill(*pid, SIGTERM);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return status;
}

/* Returns false (leaving what it started to teardown) if the bus does not come up. */
static bool start_bus(void)
{
    char config[128];
    snprintf(config, sizeof(config), "%s/bus.conf", fx.dir);
    FILE *f = fopen(config, "w");
    if (!f)
        return false;
    fprintf(f,
            "<busconfig><type>session</type><listen>unix:dir=%s</listen>"
            "<auth>EXTERNAL</auth><policy context=\"default\">"
            "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>"
            "<allow own=\"*\"/></policy></busconfig>\n",
            fx.dir);
    fclose(f);

    int pipefd[2];
    if (pipe(pipefd) != 0)
        return false;
    char config_arg[160], fd_arg[32];
    snprintf(config_arg, sizeof(config_arg), "--config-file=%s", config);
    snprintf(fd_arg, sizeof(fd_arg), "--print-address=%d", pipefd[1]);
    char *argv[] = {"/usr/bin/dbus-daemon", config_arg, "--nofork", fd_arg, NULL};
    fx.bus_pid = spawn(argv, true);
    close(pipefd[1]);
    size_t len = 0;
    while (len < sizeof(fx.address) - 1) {
        ssize_t n = read(pipefd[0], fx.address + len, 1);
        if (n <= 0 || fx.address[len] == '\n')
            break;
        len++;
    }
    fx.address[len] = '\0';
    close(pipefd[0]);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", fx.address, 1);
    return len > 0;
}

static DBusConnection *try_connect_bus(void)
{
    DBusConnection *conn = dbus_connection_open_private(fx.address, NULL);
    if (!conn)
        return NULL;
    if (!dbus_bus_register(conn, NULL)) {
        dbus_connection_close(conn);
        dbus_connection_unref(conn);
        return NULL;
    }
    dbus_connection_set_exit_on_disconnect(conn, FALSE);
    return conn;
}

static DBusConnection *connect_bus(void)
{
    DBusConnection *conn = try_connect_bus();
    cr_assert_not_null(conn, "cannot connect to the test bus at %s", fx.address);
    return conn;
}

/* ---- the loop ---- */

static void on_tick(struct mainloop *loop, struct mainloop_timer *timer, void *user)
{
    (void)loop, (void)timer, (void)user;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_for(unsigned ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end)
        mainloop_iterate(fx.loop, true);
}

/* Runs the loop until cond holds; false after timeout_ms. */
#define RUN_UNTIL(cond, timeout_ms)                                                                \
    ({                                                                                             \
        int64_t end_ = now_ms() + (timeout_ms);                                                    \
        while (!(cond) && now_ms() < end_)                                                         \
            mainloop_iterate(fx.loop, true);                                                       \
        (bool)(cond);                                                                              \
    })

static bool settings_name_owned(void)
{
    return dbus_bus_name_has_owner(fx.probe, SETTINGS_SERVICE_NAME, NULL);
}

static void start_standin(void)
{
    const char *exe = getenv("SETTINGS_STANDIN");
    cr_assert_not_null(exe, "SETTINGS_STANDIN must name the stand-in executable");
    char *argv[] = {(char *)exe, "--file", fx.file, NULL};
    fx.standin_pid = spawn(argv, false);
    cr_assert(RUN_UNTIL(settings_name_owned(), WAIT_MS), "the stand-in never owned its name");
}

static void stop_standin(void)
{
    int status = stop_process(&fx.standin_pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the stand-in did not exit cleanly on SIGTERM (status %#x)", status);
    cr_assert(RUN_UNTIL(!settings_name_owned(), WAIT_MS));
}

/* ---- the clients ---- */

static void on_value(struct settings_client *client, const char *path,
                     const struct settings_value *value, enum settings_origin origin, void *user)
{
    (void)client;
    cr_assert_lt(fx.report_count, MAX_REPORTS);
    struct report *r = &fx.reports[fx.report_count++];
    r->client = *(int *)user;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->type = value->type;
    r->origin = origin;
    if (value->type == SETTINGS_TYPE_INT)
        r->i = value->i;
    else if (value->type == SETTINGS_TYPE_DOUBLE)
        r->d = value->d;
    else
        snprintf(r->s, sizeof(r->s), "%s", value->s);
}

static void on_state(struct settings_client *client, enum settings_state state, void *user)
{
    (void)client, (void)user;
    cr_assert_lt(fx.state_count, MAX_REPORTS);
    fx.states[fx.state_count++] = state;
}

static struct settings_client *new_client(int index, const struct settings_def *defs, size_t count,
                                          uint32_t timeout_ms, uint32_t retry_ms)
{
    fx.conn[index] = connect_bus();
    cr_assert_eq(dbus_loop_add(fx.loop, fx.conn[index]), 0);
    fx.client_id[index] = index;
    struct settings_client_options options = {
        .on_value = on_value,
        .on_state = on_state,
        .user = &fx.client_id[index],
        .reply_timeout_ms = timeout_ms,
        .retry_ms = retry_ms,
    };
    cr_assert_eq(
        settings_client_new(fx.loop, fx.conn[index], defs, count, &options, &fx.client[index]), 0);
    return fx.client[index];
}

static void free_client(int index)
{
    settings_client_free(fx.client[index]);
    fx.client[index] = NULL;
    if (fx.conn[index]) {
        dbus_loop_remove(fx.loop, fx.conn[index]);
        dbus_connection_close(fx.conn[index]);
        dbus_connection_unref(fx.conn[index]);
        fx.conn[index] = NULL;
    }
}

static const struct report *find_report(int client, const char *path, enum settings_origin origin)
{
    const struct report *found = NULL;
    for (unsigned i = 0; i < fx.report_count; i++)
        if (fx.reports[i].client == client && strcmp(fx.reports[i].path, path) == 0 &&
            fx.reports[i].origin == origin)
            found = &fx.reports[i]; /* the latest */
    return found;
}

static bool registered(int index)
{
    return settings_client_state(fx.client[index]) == SETTINGS_STATE_REGISTERED;
}

/* ---- the probe (the GUI's part) ---- */

static DBusMessage *probe_call(DBusMessage *msg)
{
    DBusError err;
    dbus_error_init(&err);
    DBusMessage *reply = dbus_connection_send_with_reply_and_block(fx.probe, msg, 2000, &err);
    dbus_message_unref(msg);
    cr_assert_not_null(reply, "call failed: %s", err.message);
    return reply;
}

static void append_variant(DBusMessageIter *iter, int type, const void *value)
{
    DBusMessageIter variant;
    char sig[2] = {(char)type, '\0'};
    dbus_message_iter_open_container(iter, DBUS_TYPE_VARIANT, sig, &variant);
    dbus_message_iter_append_basic(&variant, type, value);
    dbus_message_iter_close_container(iter, &variant);
}

static int32_t probe_set_value(const char *path, int type, const void *value)
{
    DBusMessage *msg = dbus_message_new_method_call(SETTINGS_SERVICE_NAME, path,
                                                    "com.victronenergy.BusItem", "SetValue");
    DBusMessageIter iter;
    dbus_message_iter_init_append(msg, &iter);
    append_variant(&iter, type, value);
    DBusMessage *reply = probe_call(msg);
    int32_t result = 99;
    cr_assert(dbus_message_get_args(reply, NULL, DBUS_TYPE_INT32, &result, DBUS_TYPE_INVALID));
    dbus_message_unref(reply);
    return result;
}

/* A BusItem getter answering a variant; returns the reply positioned at the variant's content. */
static DBusMessage *probe_get(const char *path, const char *member, DBusMessageIter *inner)
{
    DBusMessage *msg = dbus_message_new_method_call(SETTINGS_SERVICE_NAME, path,
                                                    "com.victronenergy.BusItem", member);
    DBusMessage *reply = probe_call(msg);
    DBusMessageIter iter;
    cr_assert_eq(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN, "%s on %s: %s",
                 member, path, dbus_message_get_error_name(reply));
    cr_assert(dbus_message_iter_init(reply, &iter));
    cr_assert_eq(dbus_message_iter_get_arg_type(&iter), DBUS_TYPE_VARIANT);
    dbus_message_iter_recurse(&iter, inner);
    return reply;
}

static int32_t probe_get_int(const char *path, const char *member)
{
    DBusMessageIter inner;
    DBusMessage *reply = probe_get(path, member, &inner);
    int32_t value;
    cr_assert_eq(dbus_message_iter_get_arg_type(&inner), DBUS_TYPE_INT32, "%s %s", path, member);
    dbus_message_iter_get_basic(&inner, &value);
    dbus_message_unref(reply);
    return value;
}

static bool file_contains(const char *needle)
{
    FILE *f = fopen(fx.file, "r");
    if (!f)
        return false;
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* ---- fixture ---- */

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    char file[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        unlink(file);
    }
    closedir(d);
    rmdir(path);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        free_client(i);
    if (fx.probe) {
        dbus_connection_close(fx.probe);
        dbus_connection_unref(fx.probe);
        fx.probe = NULL;
    }
    mainloop_free(fx.loop);
    fx.loop = NULL;
    stop_process(&fx.standin_pid);
    stop_process(&fx.bus_pid);
    remove_dir(fx.dir);
    cr_assert_neq(access(fx.dir, F_OK), 0, "%s was left behind", fx.dir);
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child process was left behind");
}

/* Criterion skips .fini when .init fails, so setup cleans up after itself before failing. */
static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/lynx-settings-XXXXXX");
    bool ok = mkdtemp(fx.dir) != NULL;
    snprintf(fx.file, sizeof(fx.file), "%s/settings.txt", fx.dir);
    ok = ok && start_bus() && mainloop_new(&fx.loop) == 0 &&
         /* wakes the loop now and then, so RUN_UNTIL also sees conditions no event announces */
         mainloop_add_timer(fx.loop, 10, true, on_tick, NULL, &fx.tick) == 0 &&
         (fx.probe = try_connect_bus()) != NULL;
    if (!ok) {
        teardown();
        cr_assert_fail("no private bus for the test (dbus-daemon at \"%s\")", fx.address);
    }
}

TestSuite(settings, .init = setup, .fini = teardown, .timeout = 30);

/* ---- tests ---- */

static const struct settings_def device_a_defs[] = {
    {.path = VRM_A, .def = SETTINGS_STRING("battery:1")},
    {.path = NAME_A, .def = SETTINGS_STRING("")},
    {.path = LEVEL_A,
     .def = SETTINGS_INT(5),
     .has_range = true,
     .min = SETTINGS_INT(0),
     .max = SETTINGS_INT(10)},
    {.path = RATIO_A, .def = SETTINGS_DOUBLE(0.5)},
};
#define DEVICE_A_COUNT (sizeof(device_a_defs) / sizeof(device_a_defs[0]))

Test(settings, a_new_setting_is_reported_with_its_default_value)
{
    start_standin();
    new_client(0, device_a_defs, DEVICE_A_COUNT, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));

    const struct report *r = find_report(0, LEVEL_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, SETTINGS_TYPE_INT);
    cr_assert_eq(r->i, 5);
    r = find_report(0, RATIO_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, SETTINGS_TYPE_DOUBLE);
    cr_assert_eq(r->d, 0.5);
    r = find_report(0, NAME_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->s, "");
    r = find_report(0, VRM_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->s, "battery:1");
    cr_assert_eq(fx.report_count, 4);
    cr_assert_eq(fx.state_count, 2);
    cr_assert_eq(fx.states[0], SETTINGS_STATE_REGISTERING);
    cr_assert_eq(fx.states[1], SETTINGS_STATE_REGISTERED);

    /* The range went along: localsettings knows min and max and stored the setting. */
    cr_assert_eq(probe_get_int(LEVEL_A, "GetMin"), 0);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetMax"), 10);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetDefault"), 5);
    cr_assert(file_contains(LEVEL_A "\ti\t5\t5\t0\t10\t0\n"));
    cr_assert(file_contains(RATIO_A "\tf\t0.5\t0.5\t\t\t0\n"));
}

Test(settings, two_devices_asking_for_battery_1_get_instances_1_and_2)
{
    static const struct settings_def a[] = {{.path = VRM_A, .def = SETTINGS_STRING("battery:1")}};
    static const struct settings_def b[] = {{.path = VRM_B, .def = SETTINGS_STRING("battery:1")}};
    start_standin();
    new_client(0, a, 1, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    new_client(1, b, 1, 0, 0);
    cr_assert(RUN_UNTIL(registered(1), WAIT_MS));

    struct settings_value value;
    int instance = -1;
    cr_assert_eq(settings_get(fx.client[0], VRM_A, &value), 0);
    cr_assert_eq(settings_parse_class_instance(value.s, "battery", &instance), 0);
    cr_assert_eq(instance, 1);
    cr_assert_eq(settings_get(fx.client[1], VRM_B, &value), 0);
    cr_assert_str_eq(value.s, "battery:2");
    cr_assert_eq(settings_parse_class_instance(value.s, "battery", &instance), 0);
    cr_assert_eq(instance, 2);

    /* A restarted daemon registers again and keeps its instance. */
    free_client(0);
    new_client(0, a, 1, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    cr_assert_eq(settings_get(fx.client[0], VRM_A, &value), 0);
    cr_assert_str_eq(value.s, "battery:1");
    /* The GUI moving device B onto instance 1 bumps it past A's. */
    const char *taken = "battery:1";
    cr_assert_eq(probe_set_value(VRM_B, DBUS_TYPE_STRING, &taken), 0);
    run_for(100);
    cr_assert_null(find_report(1, VRM_B, SETTINGS_ORIGIN_CHANGED), "B must stay on battery:2");
    cr_assert_eq(settings_get(fx.client[1], VRM_B, &value), 0);
    cr_assert_str_eq(value.s, "battery:2");
}

Test(settings, a_value_in_the_settings_file_survives_a_standin_restart)
{
    /* A file as a previous run left it: the user named the adapter "Aft bank". */
    FILE *f = fopen(fx.file, "w");
    cr_assert_not_null(f);
    fprintf(f, "# left by an earlier run\n" NAME_A "\ts\tAft bank\t\t\t\t0\n");
    fclose(f);
    start_standin();
    new_client(0, device_a_defs, DEVICE_A_COUNT, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    const struct report *r = find_report(0, NAME_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->s, "Aft bank");

    cr_assert_eq(settings_set(fx.client[0], NAME_A, &SETTINGS_STRING("Fwd\tbank")), 0);
    cr_assert(RUN_UNTIL(find_report(0, NAME_A, SETTINGS_ORIGIN_CHANGED), WAIT_MS));
    cr_assert(file_contains(NAME_A "\ts\tFwd\\tbank\t"));

    stop_standin();
    cr_assert(RUN_UNTIL(settings_client_state(fx.client[0]) == SETTINGS_STATE_WAITING, WAIT_MS));
    unsigned before = fx.report_count;
    start_standin();
    /* The client notices the new owner and registers again on its own. */
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    cr_assert_gt(fx.report_count, before);
    r = find_report(0, NAME_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_str_eq(r->s, "Fwd\tbank");
    struct settings_value value;
    cr_assert_eq(settings_get(fx.client[0], NAME_A, &value), 0);
    cr_assert_str_eq(value.s, "Fwd\tbank");
}

Test(settings, settings_set_is_reported_back_through_properties_changed)
{
    start_standin();
    new_client(0, device_a_defs, DEVICE_A_COUNT, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    unsigned registered_reports = fx.report_count;

    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_INT(7)), 0);
    /* Nothing changes locally before localsettings confirms. */
    struct settings_value value;
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.i, 5);
    cr_assert(RUN_UNTIL(find_report(0, LEVEL_A, SETTINGS_ORIGIN_CHANGED), WAIT_MS));
    cr_assert_eq(find_report(0, LEVEL_A, SETTINGS_ORIGIN_CHANGED)->i, 7);
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.i, 7);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetValue"), 7);

    /* An int for a double setting is converted; the GUI's change arrives the same way. */
    cr_assert_eq(settings_set(fx.client[0], RATIO_A, &SETTINGS_INT(2)), 0);
    cr_assert(RUN_UNTIL(find_report(0, RATIO_A, SETTINGS_ORIGIN_CHANGED), WAIT_MS));
    cr_assert_eq(find_report(0, RATIO_A, SETTINGS_ORIGIN_CHANGED)->d, 2.0);
    const char *name = "Starboard";
    cr_assert_eq(probe_set_value(NAME_A, DBUS_TYPE_STRING, &name), 0);
    cr_assert(RUN_UNTIL(find_report(0, NAME_A, SETTINGS_ORIGIN_CHANGED), WAIT_MS));
    cr_assert_str_eq(find_report(0, NAME_A, SETTINGS_ORIGIN_CHANGED)->s, "Starboard");
    cr_assert_eq(fx.report_count, registered_reports + 3);

    /* A value localsettings refuses (out of range) changes nothing and reports nothing. */
    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_INT(11)), 0);
    run_for(200);
    cr_assert_eq(fx.report_count, registered_reports + 3);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetValue"), 7);

    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_STRING("7")), -EINVAL);
    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_DOUBLE(7.0)), -EINVAL);
    cr_assert_eq(settings_set(fx.client[0], DEVICE_A "Nope", &SETTINGS_INT(1)), -ENOENT);
}

Test(settings, without_the_standin_the_defaults_hold_until_it_appears)
{
    new_client(0, device_a_defs, DEVICE_A_COUNT, 0, 0);
    run_for(300);
    cr_assert_eq(settings_client_state(fx.client[0]), SETTINGS_STATE_WAITING);
    cr_assert_eq(fx.report_count, 0);
    struct settings_value value;
    cr_assert_eq(settings_get(fx.client[0], VRM_A, &value), 0);
    cr_assert_str_eq(value.s, "battery:1");
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.i, 5);
    /* Set while localsettings is away: kept, and written when it comes (the last word wins). */
    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_INT(9)), 0);
    cr_assert_eq(settings_set(fx.client[0], LEVEL_A, &SETTINGS_INT(6)), 0);

    /* Another device already holds battery:1, so ours comes back bumped. */
    FILE *f = fopen(fx.file, "w");
    cr_assert_not_null(f);
    fprintf(f, VRM_B "\ts\tbattery:1\tbattery:1\t\t\t0\n");
    fclose(f);
    start_standin();
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    const struct report *r = find_report(0, VRM_A, SETTINGS_ORIGIN_REGISTERED);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->s, "battery:2");
    cr_assert_eq(fx.report_count, DEVICE_A_COUNT);
    /* The value set while it was away replaced the stored one, in the report and in the store. */
    cr_assert_eq(find_report(0, LEVEL_A, SETTINGS_ORIGIN_REGISTERED)->i, 6);
    cr_assert(RUN_UNTIL(probe_get_int(LEVEL_A, "GetValue") == 6, WAIT_MS));
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.i, 6);
}

Test(settings, an_unanswered_addsettings_times_out_and_is_retried)
{
    /* The probe owns the name but never reads its messages: a hung settings service. */
    DBusError err;
    dbus_error_init(&err);
    cr_assert_eq(
        dbus_bus_request_name(fx.probe, SETTINGS_SERVICE_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err),
        DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER);
    new_client(0, device_a_defs, DEVICE_A_COUNT, 200, 300);
    cr_assert(RUN_UNTIL(settings_client_state(fx.client[0]) == SETTINGS_STATE_FAILED, 2000));
    cr_assert_eq(fx.report_count, 0);
    struct settings_value value;
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.i, 5);
    /* The retry timer sends AddSettings again. */
    cr_assert(RUN_UNTIL(fx.state_count >= 3, 2000));
    cr_assert_eq(fx.states[0], SETTINGS_STATE_REGISTERING);
    cr_assert_eq(fx.states[1], SETTINGS_STATE_FAILED);
    cr_assert_eq(fx.states[2], SETTINGS_STATE_REGISTERING);

    /* The hung service goes away and a working one takes over. */
    cr_assert_eq(dbus_bus_release_name(fx.probe, SETTINGS_SERVICE_NAME, &err),
                 DBUS_RELEASE_NAME_REPLY_RELEASED);
    start_standin();
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    cr_assert_eq(fx.report_count, DEVICE_A_COUNT);
}

/* What localsettings' int()/str() conversion refuses (tests/settings_contract has the rest). */
Test(settings, the_standin_refuses_a_setvalue_localsettings_refuses)
{
    start_standin();
    new_client(0, device_a_defs, DEVICE_A_COUNT, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    const char *text = "seven";
    double fraction = NAN;
    int32_t number = 3;
    int32_t too_big = 11;
    cr_assert_eq(probe_set_value(LEVEL_A, DBUS_TYPE_STRING, &text), -1);
    cr_assert_eq(probe_set_value(LEVEL_A, DBUS_TYPE_DOUBLE, &fraction), -1);
    cr_assert_eq(probe_set_value(LEVEL_A, DBUS_TYPE_INT32, &too_big), -1);
    const char *bad_instance = "battery";
    cr_assert_eq(probe_set_value(VRM_A, DBUS_TYPE_STRING, &bad_instance), -1);
    run_for(100);
    cr_assert_eq(fx.report_count, DEVICE_A_COUNT, "a refused SetValue must not be announced");
    cr_assert_eq(probe_get_int(LEVEL_A, "GetValue"), 5);
    cr_assert(file_contains(LEVEL_A "\ti\t5\t"));

    cr_assert_eq(probe_set_value(LEVEL_A, DBUS_TYPE_INT32, &number), 0);
    cr_assert(RUN_UNTIL(find_report(0, LEVEL_A, SETTINGS_ORIGIN_CHANGED), WAIT_MS));
    cr_assert_eq(probe_get_int(LEVEL_A, "GetValue"), 3);
    cr_assert(file_contains(LEVEL_A "\ti\t3\t"));
}

Test(settings, the_standin_serves_the_older_addsetting_call)
{
    start_standin();
    DBusMessage *msg = dbus_message_new_method_call(SETTINGS_SERVICE_NAME, "/Settings",
                                                    "com.victronenergy.Settings", "AddSetting");
    const char *group = "Devices/dbus_lynx_distributor_FT1A", *name = "Level", *type = "i";
    int32_t def = 4, min = 1, max = 9;
    DBusMessageIter iter;
    dbus_message_iter_init_append(msg, &iter);
    dbus_message_iter_append_basic(&iter, DBUS_TYPE_STRING, &group);
    dbus_message_iter_append_basic(&iter, DBUS_TYPE_STRING, &name);
    append_variant(&iter, DBUS_TYPE_INT32, &def);
    dbus_message_iter_append_basic(&iter, DBUS_TYPE_STRING, &type);
    append_variant(&iter, DBUS_TYPE_INT32, &min);
    append_variant(&iter, DBUS_TYPE_INT32, &max);
    DBusMessage *reply = probe_call(msg);
    int32_t result = 99;
    cr_assert(dbus_message_get_args(reply, NULL, DBUS_TYPE_INT32, &result, DBUS_TYPE_INVALID));
    dbus_message_unref(reply);
    cr_assert_eq(result, 0);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetValue"), 4);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetMin"), 1);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetMax"), 9);

    /* The new API then finds the setting and keeps its value; a double default is refused
     * because the type differs (-5), and the client falls back to its default for it. */
    static const struct settings_def defs[] = {
        {.path = LEVEL_A,
         .def = SETTINGS_INT(5),
         .has_range = true,
         .min = SETTINGS_INT(0),
         .max = SETTINGS_INT(10)},
        {.path = DEVICE_A "Distributor/A/Fuse/0/Name", .def = SETTINGS_STRING("")},
    };
    new_client(0, defs, 2, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    cr_assert_eq(find_report(0, LEVEL_A, SETTINGS_ORIGIN_REGISTERED)->i, 4);
    cr_assert_eq(probe_get_int(LEVEL_A, "GetMax"), 10, "changed attributes are stored");
    free_client(0);
    static const struct settings_def wrong[] = {{.path = LEVEL_A, .def = SETTINGS_DOUBLE(5)}};
    fx.report_count = 0;
    new_client(0, wrong, 1, 0, 0);
    cr_assert(RUN_UNTIL(registered(0), WAIT_MS));
    cr_assert_eq(fx.report_count, 0);
    struct settings_value value;
    cr_assert_eq(settings_get(fx.client[0], LEVEL_A, &value), 0);
    cr_assert_eq(value.d, 5.0);
}

/* Pure helpers: no bus needed, but they share the suite's fixture harmlessly. */
Test(settings, class_instance_strings_parse_like_localsettings_splits_them)
{
    int n = -1;
    cr_assert_eq(settings_parse_class_instance("battery:1", "battery", &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(settings_parse_class_instance("battery:990", NULL, &n), 0);
    cr_assert_eq(n, 990);
    cr_assert_eq(settings_parse_class_instance("tank:2", "battery", &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("batteryx:2", "battery", &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery:", "battery", &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery", NULL, &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery:1:2", NULL, &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery:-1", NULL, &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery:1x", NULL, &n), -EINVAL);
    cr_assert_eq(settings_parse_class_instance("battery:99999999999", NULL, &n), -EINVAL);
    cr_assert_eq(n, 990, "a failed parse leaves the output alone");
}

Test(settings, setting_paths_follow_the_original_project)
{
    char path[SETTINGS_PATH_MAX];
    cr_assert_eq(settings_device_path(path, sizeof(path), "dbus_lynx_distributor_FT1A",
                                      SETTINGS_LEAF_CLASS_AND_INSTANCE),
                 0);
    cr_assert_str_eq(path, "/Settings/Devices/dbus_lynx_distributor_FT1A/ClassAndVrmInstance");
    cr_assert_eq(settings_fuse_name_path(path, sizeof(path), "dbus_lynx_distributor_FT1A", 'C', 3),
                 0);
    cr_assert_str_eq(path,
                     "/Settings/Devices/dbus_lynx_distributor_FT1A/Distributor/C/Fuse/3/Name");
    char small[16];
    cr_assert_eq(settings_device_path(small, sizeof(small), "dbus_lynx_distributor_FT1A",
                                      SETTINGS_LEAF_CUSTOM_NAME),
                 -ENAMETOOLONG);
}

Test(settings, bad_definitions_are_refused)
{
    DBusConnection *conn = fx.probe;
    struct settings_client *client = NULL;
    struct settings_def bad_path[] = {{.path = "/Settings/bad path", .def = SETTINGS_INT(1)}};
    struct settings_def range_on_string[] = {{.path = NAME_A,
                                              .def = SETTINGS_STRING(""),
                                              .has_range = true,
                                              .min = SETTINGS_STRING(""),
                                              .max = SETTINGS_STRING("")}};
    struct settings_def mixed_range[] = {{.path = LEVEL_A,
                                          .def = SETTINGS_INT(1),
                                          .has_range = true,
                                          .min = SETTINGS_DOUBLE(0),
                                          .max = SETTINGS_INT(2)}};
    struct settings_def twice[] = {{.path = LEVEL_A, .def = SETTINGS_INT(1)},
                                   {.path = LEVEL_A, .def = SETTINGS_INT(2)}};
    cr_assert_eq(settings_client_new(fx.loop, conn, bad_path, 1, NULL, &client), -EINVAL);
    cr_assert_eq(settings_client_new(fx.loop, conn, range_on_string, 1, NULL, &client), -EINVAL);
    cr_assert_eq(settings_client_new(fx.loop, conn, mixed_range, 1, NULL, &client), -EINVAL);
    cr_assert_eq(settings_client_new(fx.loop, conn, twice, 2, NULL, &client), -EINVAL);
    cr_assert_eq(settings_client_new(fx.loop, conn, twice, 0, NULL, &client), -EINVAL);
    cr_assert_null(client);
}
