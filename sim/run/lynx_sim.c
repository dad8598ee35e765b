/* lynx-sim: runs a command against simulated FT232H adapters (or i2c-dev adapters, /dev/i2c-N)
 * and Lynx Distributors.
 *
 *   lynx-sim [--scenario FILE | --replay TRACE [--speed X]] [--stats FILE] [--control SOCKET]
 *            [--strict-timing] [--usbredir DIR] -- COMMAND [ARG...]
 *
 * Builds the hardware of the scenario, presents the adapters to COMMAND (run as a child under
 * the umockdev preload) as USB devices, applies the scenario's timeline, serves the control
 * channel (path exported to the child as LYNX_SIM_CONTROL), and exits with the child's status.
 * With --usbredir the USB adapters are served instead to QEMU (COMMAND, typically) as usbredir
 * servers on DIR/usbN.sock, exported as LYNX_SIM_USBREDIR; there is no testbed and no preload.
 * SIGINT/SIGTERM are passed on to the child; the testbed is removed after the child is gone.
 * With --replay the hardware and what it answers come from a daemon's poll trace (replay.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/control.h"
#include "run/hardware.h"
#include "run/replay.h"
#include "run/scenario.h"

#define CHILD_GRACE_MS 5000

struct runner {
    struct sim_hardware hw;
    struct sim_scenario sc;
    struct sim_control *control;
    struct sim_trace trace;
    struct sim_replay *replay; /* NULL without --replay */
    pid_t child;
    int child_status;
    uint64_t start_ms;   /* timeline origin */
    size_t next_event;   /* index into sc.events */
    uint64_t kill_at_ms; /* SIGKILL deadline after passing on SIGTERM; 0 = none */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(FILE *out)
{
    fputs("usage: lynx-sim [--scenario FILE | --replay TRACE [--speed X]] [--stats FILE]\n"
          "                [--control SOCKET] [--strict-timing] [--usbredir DIR]\n"
          "                -- COMMAND [ARG...]\n"
          "Runs COMMAND against simulated FT232H or i2c-dev adapters and Lynx Distributors.\n"
          "  --scenario FILE   hardware and timeline (fixtures/README.md); default: one adapter\n"
          "                    LYNX0001 (0403:d4f8) with one healthy distributor A\n"
          "  --replay TRACE    hardware and answers from a poll trace of dbus-lynx-distributor\n"
          "                    --record: COMMAND (the daemon) makes the same observations\n"
          "  --speed X         the daemon under test polls X times as often as the recording\n"
          "                    one (poll_interval_ms = poll-interval-ms / X); default 1\n"
          "  --stats FILE      write USB/MPSSE/I2C counters as JSON at exit\n"
          "  --control SOCKET  control channel path (default $TMPDIR/lynx-sim.<pid>.sock),\n"
          "                    exported to COMMAND as LYNX_SIM_CONTROL; see lynx-simctl\n"
          "  --strict-timing   every adapter as with strict-timing=yes: a distributor does\n"
          "                    not acknowledge a START or address byte that breaks UM10204\n"
          "  --usbredir DIR    serve the USB adapters to a QEMU guest instead of through\n"
          "                    umockdev: adapter N (scenario order, plugged or not) on the\n"
          "                    usbredir socket DIR/usbN.sock, the paths exported to COMMAND\n"
          "                    as LYNX_SIM_USBREDIR (space-separated); for QEMU's\n"
          "                    -chardev socket,path=...,reconnect=1 -device usb-redir.\n"
          "                    plug/unplug connect/disconnect the device; no i2c-adapter\n",
          out);
}

/* Control channel commands: the actions of action.h, plus "stats", "replay" and "echo WORD". */
static bool handle_command(void *ctx, char *line, FILE *out)
{
    struct runner *r = ctx;
    char *words[8];
    char err[200];
    int n = sim_split_words(line, words, 8);
    if (n == 1 && strcmp(words[0], "stats") == 0) {
        sim_hardware_write_stats(&r->hw, out);
        return true;
    }
    if (n == 2 && strcmp(words[0], "echo") == 0) { /* lynx-simctl's sync on a shared stream */
        fputs(words[1], out);
        return true;
    }
    if (n == 1 && strcmp(words[0], "replay") == 0) {
        if (r->replay)
            sim_replay_write_status(r->replay, out);
        else
            fputs("not replaying a trace", out);
        return r->replay != NULL;
    }
    struct sim_action act;
    if (n < 0 || sim_action_parse(words, (size_t)(n < 0 ? 0 : n), &act, err, sizeof(err)) < 0 ||
        sim_hardware_apply(&r->hw, &act, err, sizeof(err)) < 0) {
        fputs(n < 0 ? "too many words" : err, out);
        return false;
    }
    return true;
}

static void run_due_events(struct runner *r)
{
    const struct sim_scenario *sc = &r->sc;
    char err[200];
    for (;;) {
        if (r->next_event == sc->n_events) {
            if (!sc->loop_ms || !sc->n_events)
                return;
            r->start_ms += sc->loop_ms;
            r->next_event = 0;
        }
        const struct sim_event *ev = &sc->events[r->next_event];
        if (r->start_ms + ev->at_ms > now_ms())
            return;
        if (sim_hardware_apply(&r->hw, &ev->action, err, sizeof(err)) < 0)
            fprintf(stderr, "lynx-sim: event at %.3f s: %s\n", ev->at_ms / 1000.0, err);
        r->next_event++;
    }
}

/* Milliseconds until the next timeline event or kill deadline; -1 = none. */
static int next_timeout(const struct runner *r)
{
    uint64_t due = UINT64_MAX;
    const struct sim_scenario *sc = &r->sc;
    if (r->next_event < sc->n_events)
        due = r->start_ms + sc->events[r->next_event].at_ms;
    else if (sc->loop_ms && sc->n_events)
        due = r->start_ms + sc->loop_ms + sc->events[0].at_ms;
    if (r->kill_at_ms && r->kill_at_ms < due)
        due = r->kill_at_ms;
    if (due == UINT64_MAX)
        return -1;
    uint64_t now = now_ms();
    return due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
}

static pid_t spawn_child(char **argv, const sigset_t *blocked)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    sigprocmask(SIG_UNBLOCK, blocked, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "lynx-sim: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void handle_signal(struct runner *r, int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            continue; /* reaped below */
        if (r->child > 0) {
            kill(r->child, SIGTERM);
            if (!r->kill_at_ms)
                r->kill_at_ms = now_ms() + CHILD_GRACE_MS;
        }
    }
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

static int run(struct runner *r, char **child_argv, int sigfd, const sigset_t *blocked)
{
    r->start_ms = now_ms();
    r->child = spawn_child(child_argv, blocked);
    if (r->child < 0) {
        perror("lynx-sim: fork");
        return 1;
    }
    for (;;) {
        pid_t done = waitpid(r->child, &r->child_status, WNOHANG);
        if (done == r->child)
            return exit_code(r->child_status);
        if (r->kill_at_ms && now_ms() >= r->kill_at_ms) {
            kill(r->child, SIGKILL);
            r->kill_at_ms = 0;
        }
        run_due_events(r);

        int timeout = next_timeout(r);
        if (r->replay) {
            int replay_wait = sim_replay_step(r->replay, now_ms());
            timeout = timeout < 0 || replay_wait < timeout ? replay_wait : timeout;
        }

        struct pollfd fds[1 + SIM_CONTROL_MAX_FDS];
        fds[0] = (struct pollfd){.fd = sigfd, .events = POLLIN};
        size_t n = 1 + sim_control_pollfds(r->control, fds + 1, SIM_CONTROL_MAX_FDS);
        if (poll(fds, n, timeout) < 0 && errno != EINTR) {
            perror("lynx-sim: poll");
            kill(r->child, SIGKILL);
        }
        if (fds[0].revents)
            handle_signal(r, sigfd);
        sim_control_dispatch(r->control, fds + 1, n - 1);
    }
}

/* The hardware behind the umockdev bridges, or behind the usbredir bridge with its socket paths
 * exported to COMMAND (LYNX_SIM_USBREDIR, space-separated, in scenario order). */
static int init_hardware(struct runner *r, const char *usbredir_dir, char *err, size_t errlen)
{
    if (!usbredir_dir)
        return sim_hardware_init(&r->hw, &r->sc, true, err, errlen);
    int rc = sim_hardware_init_usbredir(&r->hw, &r->sc, usbredir_dir, err, errlen);
    if (rc < 0)
        return rc;
    const size_t n = sim_usbredir_bridge_count(r->hw.redir);
    char paths[SIM_USBREDIR_MAX_DEVICES * 110] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(paths); i++)
        len += (size_t)snprintf(paths + len, sizeof(paths) - len, "%s%s", i ? " " : "",
                                sim_usbredir_bridge_socket(r->hw.redir, i));
    setenv("LYNX_SIM_USBREDIR", paths, 1);
    return 0;
}

static int write_stats(struct sim_hardware *hw, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lynx-sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    sim_hardware_write_stats(hw, f);
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "lynx-sim: --stats %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"scenario", required_argument, NULL, 's'},
                                            {"stats", required_argument, NULL, 'S'},
                                            {"control", required_argument, NULL, 'c'},
                                            {"replay", required_argument, NULL, 'r'},
                                            {"speed", required_argument, NULL, 'x'},
                                            {"strict-timing", no_argument, NULL, 'T'},
                                            {"usbredir", required_argument, NULL, 'u'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *scenario_path = NULL, *stats_path = NULL, *control_path = NULL;
    const char *replay_path = NULL, *usbredir_dir = NULL;
    double speed = 1.0;
    bool speed_given = false;
    bool strict_timing = false;
    char *end;
    int opt;
    while ((opt = getopt_long(argc, argv, "+s:S:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            scenario_path = optarg;
            break;
        case 'S':
            stats_path = optarg;
            break;
        case 'c':
            control_path = optarg;
            break;
        case 'r':
            replay_path = optarg;
            break;
        case 'x':
            speed = strtod(optarg, &end);
            speed_given = true;
            if (*end || !(speed > 0) || speed > 1e6) {
                fprintf(stderr, "lynx-sim: --speed: expected a number above 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'T':
            strict_timing = true;
            break;
        case 'u':
            usbredir_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || (scenario_path && replay_path)) {
        usage(stderr);
        return 2;
    }
    if (speed_given && !replay_path) {
        fputs("lynx-sim: --speed applies to --replay only (a scenario runs in real time)\n",
              stderr);
        return 2;
    }

    static struct runner r;
    char err[300];
    if (scenario_path) {
        if (sim_scenario_load(scenario_path, &r.sc, err, sizeof(err)) < 0) {
            fprintf(stderr, "lynx-sim: %s\n", err);
            return 2;
        }
    } else if (replay_path) {
        if (sim_trace_load(replay_path, &r.trace, err, sizeof(err)) < 0) {
            fprintf(stderr, "lynx-sim: %s\n", err);
            return 2;
        }
        sim_trace_scenario(&r.trace, &r.sc);
    } else {
        sim_scenario_default(&r.sc);
    }
    for (size_t i = 0; strict_timing && i < r.sc.n_adapters; i++)
        r.sc.adapters[i].strict_timing = true;
    /* Hot-plug uevents reach the child only when this process runs under the preload too
     * (not needed under usbredir: the guest's kernel sends its own). */
    if (!usbredir_dir)
        sim_usb_bridge_reexec_under_preload(argv);
    if (replay_path && r.trace.cut_line) {
        sim_trace_cut_warning(&r.trace, replay_path, err, sizeof(err));
        fprintf(stderr, "lynx-sim: warning: %s\n", err);
    }

    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    int sigfd = signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK);

    char default_control[96];
    if (!control_path) {
        const char *tmp = getenv("TMPDIR");
        snprintf(default_control, sizeof(default_control), "%s/lynx-sim.%d.sock",
                 tmp && *tmp ? tmp : "/tmp", (int)getpid());
        control_path = default_control;
    }
    int rc = 1, hw_rc = 0;
    if (sigfd < 0) {
        perror("lynx-sim: signalfd");
    } else if ((hw_rc = init_hardware(&r, usbredir_dir, err, sizeof(err))) < 0) {
        fprintf(stderr, "lynx-sim: %s\n", err);
        rc = hw_rc == -EOPNOTSUPP ? 2 : 1; /* a scenario this mode cannot serve */
    } else if (replay_path &&
               sim_replay_new(&r.replay, &r.trace, &r.hw, speed, stderr, err, sizeof(err)) < 0) {
        fprintf(stderr, "lynx-sim: %s: %s\n", replay_path, err);
        sim_hardware_free(&r.hw);
    } else {
        r.control = sim_control_new(control_path, handle_command, &r, err, sizeof(err));
        if (!r.control) {
            fprintf(stderr, "lynx-sim: %s\n", err);
        } else {
            setenv("LYNX_SIM_CONTROL", control_path, 1);
            rc = run(&r, argv + optind, sigfd, &blocked);
            sim_control_free(r.control);
        }
        if (stats_path && write_stats(&r.hw, stats_path) < 0 && rc == 0)
            rc = 1;
        if (r.replay && sim_replay_divergences(r.replay))
            fprintf(stderr, "lynx-sim: replay: %u divergences from the trace\n",
                    sim_replay_divergences(r.replay));
        sim_replay_free(r.replay);
        sim_hardware_free(&r.hw);
    }
    sim_scenario_clear(&r.sc);
    sim_trace_clear(&r.trace);
    return rc;
}
