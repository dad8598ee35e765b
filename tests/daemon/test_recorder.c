/* The recorder: trace lines, compaction with `same`, heartbeat, rotation and its size bound. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/mainloop.h"

#include "daemon/recorder.h"

static char dir[] = "/tmp/lynx-recorder-XXXXXX";
static char path[128], old_path[140];

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.trace", dir);
    snprintf(old_path, sizeof(old_path), "%s.1", path);
}

static void remove_dir(void)
{
    unlink(path);
    unlink(old_path);
    rmdir(dir);
}

TestSuite(recorder, .init = make_dir, .fini = remove_dir);

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The file without comment lines. */
static char *body(const char *p)
{
    char *all = slurp(p);
    static char out[1 << 20];
    out[0] = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            strcat(strcat(out, line), "\n");
    return out;
}

static struct recorder_observation reading(uint8_t a, uint8_t b)
{
    struct recorder_observation o = {.kind = RECORDER_READ};
    o.n_reads[0] = o.n_reads[1] = o.n_reads[2] = o.n_reads[3] = 1;
    o.reads[0][0] = (struct recorder_read){.acked = true, .data = a};
    o.reads[1][0] = (struct recorder_read){.acked = true, .data = b};
    return o;
}

static struct recorder *open_rec(uint64_t max, unsigned heartbeat)
{
    struct recorder *rec;
    struct recorder_options opt = {
        .max_bytes = max, .heartbeat_ms = heartbeat, .poll_interval_ms = 1000};
    cr_assert_eq(recorder_open(&rec, path, &opt), 0);
    return rec;
}

Test(recorder, a_poll_is_one_line_with_every_read_and_nacks_without_a_byte)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation o = reading(0x20, 0x00);
    o.n_reads[0] = 2;
    o.reads[0][1] = (struct recorder_read){.acked = true, .data = 0x07};
    o.reads[2][0] = (struct recorder_read){.acked = false, .data = 0xFF};
    cr_assert_eq(
        recorder_observe(rec, 5000, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &o), 0);
    recorder_close(rec);
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter LYNX0001 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "5000 LYNX0001 read A=20,07 B=00 C=nack D=nack\n");
}

Test(recorder, unchanged_polls_are_counted_and_written_as_same_before_the_next_change)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation ok = reading(0, 0), blown = reading(0x20, 0);
    recorder_observe(rec, 1000, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    for (uint64_t t = 2000; t <= 4000; t += 1000)
        recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    recorder_observe(rec, 5000, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &blown);
    recorder_observe(rec, 6000, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &blown);
    recorder_close(rec); /* writes the pending count */
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter LYNX0001 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "1000 LYNX0001 read A=00 B=00 C=nack D=nack\n"
                                 "4000 LYNX0001 same 3\n"
                                 "5000 LYNX0001 read A=20 B=00 C=nack D=nack\n"
                                 "6000 LYNX0001 same 1\n");
}

Test(recorder, usb_errors_gone_back_and_a_stuck_bus_are_written_by_name)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation ok = reading(0, 0);
    struct recorder_observation err = {.kind = RECORDER_USB_ERROR, .error = -EPIPE};
    struct recorder_observation gone = {.kind = RECORDER_GONE};
    struct recorder_observation stuck = {.kind = RECORDER_BUS_STUCK};
    recorder_observe(rec, 1, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &ok);
    recorder_observe(rec, 2, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &err);
    recorder_observe(rec, 3, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &gone);
    recorder_observe(rec, 4, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &gone);
    ok.reopened = true;
    recorder_observe(rec, 5, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &ok);
    recorder_observe(rec, 6, "X1", "transport=ftdi vid=0x0403 pid=0x6014", &stuck);
    recorder_close(rec);
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter X1 transport=ftdi vid=0x0403 pid=0x6014\n"
                                 "1 X1 read A=00 B=00 C=nack D=nack\n"
                                 "2 X1 usb-error EPIPE\n"
                                 "3 X1 gone\n"
                                 "4 X1 same 1\n"
                                 "5 X1 back\n"
                                 "5 X1 read A=00 B=00 C=nack D=nack\n"
                                 "6 X1 bus-stuck\n");
}

Test(recorder, a_long_quiet_run_writes_a_heartbeat_count_every_heartbeat_interval)
{
    struct recorder *rec = open_rec(0, 10000);
    struct recorder_observation ok = reading(0, 0);
    for (uint64_t t = 0; t <= 25000; t += 1000)
        recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    /* before closing: the heartbeats alone are in the file */
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter LYNX0001 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "0 LYNX0001 read A=00 B=00 C=nack D=nack\n"
                                 "10000 LYNX0001 same 10\n"
                                 "20000 LYNX0001 same 10\n");
    recorder_close(rec);
    cr_assert(strstr(body(path), "20000 LYNX0001 same 10\n25000 LYNX0001 same 5\n"));
}

Test(recorder, two_adapters_are_compacted_each_against_its_own_previous_poll)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation a = reading(0, 0), b = reading(0x10, 0);
    for (uint64_t t = 0; t < 3; t++) {
        recorder_observe(rec, t, "A1", "transport=ftdi vid=0x0403 pid=0xd4f8", &a);
        recorder_observe(rec, t, "B2", "transport=ftdi vid=0x0403 pid=0xd4f8", &b);
    }
    recorder_close(rec);
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter A1 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "0 A1 read A=00 B=00 C=nack D=nack\n"
                                 "adapter B2 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "0 B2 read A=10 B=00 C=nack D=nack\n"
                                 "2 A1 same 2\n"
                                 "2 B2 same 2\n");
}

Test(recorder, a_full_file_rotates_to_dot_1_and_neither_part_exceeds_the_limit)
{
    const uint64_t max = 4096;
    struct recorder *rec = open_rec(max, 0);
    struct stat st;
    uint64_t t = 0;
    bool rotated = false;
    /* every poll differs: the worst case for size */
    for (int i = 0; i < 400; i++, t += 1000) {
        struct recorder_observation o = reading((uint8_t)(i & 1 ? 0x20 : 0x00), 0);
        cr_assert_eq(
            recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &o), 0);
        cr_assert_leq(recorder_file_bytes(rec), max);
        if (stat(old_path, &st) == 0) {
            rotated = true;
            cr_assert_leq((uint64_t)st.st_size, max, "FILE.1 has %lld bytes",
                          (long long)st.st_size);
        }
    }
    recorder_close(rec);
    cr_assert(rotated, "400 changed polls did not fill 4096 bytes");
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_leq((uint64_t)st.st_size, max);
    /* each part starts with its own header and declaration, so it replays on its own */
    char *part = body(path);
    cr_assert(strncmp(part, "lynx-trace 1 poll-interval-ms=1000\nadapter LYNX0001 ", 52) == 0,
              "the new part starts with: %.80s", part);
    char *old = body(old_path);
    cr_assert(strncmp(old, "lynx-trace 1 poll-interval-ms=1000\nadapter LYNX0001 ", 52) == 0);
}

Test(recorder, a_pending_count_goes_into_the_old_part_when_the_file_rotates)
{
    const uint64_t max = 4096;
    struct recorder *rec = open_rec(max, 0);
    uint64_t t = 0;
    struct recorder_observation o;
    while (access(old_path, F_OK) != 0) {
        o = reading(t & 2 ? 0x20 : 0x00, 0);
        recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8",
                         &o); /* fills the file */
        o = reading(0x70, 0);
        recorder_observe(rec, t + 1, "OTHER", "transport=ftdi vid=0x0403 pid=0xd4f8",
                         &o); /* repeats, pending */
        t += 2;
    }
    o = reading(0x70, 0);
    recorder_observe(rec, t + 1, "OTHER", "transport=ftdi vid=0x0403 pid=0xd4f8", &o);
    recorder_close(rec);
    cr_assert(strstr(body(old_path), " OTHER same "),
              "OTHER's pending count is not in the old part");
    /* the new part starts OTHER afresh with a full observation, no count without a base */
    char *part = body(path);
    char *full = strstr(part, " OTHER read A=70 "), *count = strstr(part, " OTHER same ");
    cr_assert(full && (!count || count > full), "new part: %s", part);
}

Test(recorder, reopening_appends_a_new_session_to_the_existing_file)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation ok = reading(0, 0);
    recorder_observe(rec, 1, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    recorder_close(rec);
    rec = open_rec(0, 0);
    recorder_observe(rec, 9, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    recorder_close(rec);
    cr_assert_str_eq(body(path), "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter LYNX0001 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "1 LYNX0001 read A=00 B=00 C=nack D=nack\n"
                                 "lynx-trace 1 poll-interval-ms=1000\n"
                                 "adapter LYNX0001 transport=ftdi vid=0x0403 pid=0xd4f8\n"
                                 "9 LYNX0001 read A=00 B=00 C=nack D=nack\n");
}

Test(recorder, a_limit_below_4096_bytes_or_an_unwritable_path_is_refused)
{
    struct recorder *rec;
    struct recorder_options opt = {.max_bytes = 4095, .poll_interval_ms = 1000};
    cr_assert_eq(recorder_open(&rec, path, &opt), -EINVAL);
    cr_assert_null(rec);
    opt.max_bytes = 0;
    cr_assert_eq(recorder_open(&rec, "/nonexistent-dir/t.trace", &opt), -ENOENT);
    cr_assert_null(rec);
}

Test(recorder, sizes_take_k_m_and_g_suffixes_and_reject_anything_else)
{
    uint64_t v;
    cr_assert_eq(recorder_parse_size("4096", &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(recorder_parse_size("512k", &v), 0);
    cr_assert_eq(v, 512u * 1024);
    cr_assert_eq(recorder_parse_size("4M", &v), 0);
    cr_assert_eq(v, 4u << 20);
    cr_assert_eq(recorder_parse_size("1G", &v), 0);
    cr_assert_eq(v, 1u << 30);
    cr_assert_eq(recorder_parse_size("4MB", &v), -EINVAL);
    cr_assert_eq(recorder_parse_size("-1", &v), -EINVAL);
    cr_assert_eq(recorder_parse_size("", &v), -EINVAL);
    cr_assert_eq(recorder_parse_size("99999999999999999999", &v), -ERANGE);
    /* 2^34 G = 2^64 bytes: too large, not "too small" */
    cr_assert_eq(recorder_parse_size("17179869184G", &v), -ERANGE);
    cr_assert_eq(recorder_parse_size("17179869183G", &v), 0);
}

static void mode_is(const char *p, mode_t type)
{
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
    cr_assert_eq(st.st_mode & S_IFMT, type, "%s changed type", p);
}

/* The first rotation used to rename /dev/null to /dev/null.1, the second to delete it. Nothing
 * but a regular file is even opened. */
Test(recorder, a_device_a_fifo_or_a_directory_is_refused_and_left_as_it_is)
{
    struct recorder *rec;
    struct recorder_options opt = {.max_bytes = 4096, .poll_interval_ms = 1000};
    cr_assert_eq(recorder_open(&rec, "/dev/null", &opt), -EINVAL);
    cr_assert_null(rec);
    mode_is("/dev/null", S_IFCHR);
    cr_assert_eq(recorder_open(&rec, "/dev/full", &opt), -EINVAL);
    cr_assert_null(rec);
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(recorder_open(&rec, path, &opt), -EINVAL); /* and does not block */
    cr_assert_null(rec);
    mode_is(path, S_IFIFO);
    unlink(path);
    cr_assert_eq(recorder_open(&rec, dir, &opt), -EINVAL);
    cr_assert_null(rec);
}

/* FILE replaced while recording (here by a FIFO): rotation stops instead of renaming it. */
Test(recorder, a_file_replaced_while_recording_is_not_rotated)
{
    struct recorder *rec = open_rec(4096, 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkfifo(path, 0600), 0);
    int rc = 0;
    for (uint64_t t = 0; t < 400 && rc == 0; t++) {
        struct recorder_observation o = reading((uint8_t)(t & 1 ? 0x20 : 0x00), 0);
        rc = recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &o);
    }
    cr_assert_lt(rc, 0, "recording went on past the rotation point");
    mode_is(path, S_IFIFO);
    cr_assert_neq(access(old_path, F_OK), 0, "something was renamed to FILE.1");
    recorder_close(rec);
}

Test(recorder, a_fifo_at_file_dot_1_is_not_replaced_by_the_rotation)
{
    struct recorder *rec = open_rec(4096, 0);
    cr_assert_eq(mkfifo(old_path, 0600), 0);
    int rc = 0;
    for (uint64_t t = 0; t < 400 && rc == 0; t++) {
        struct recorder_observation o = reading((uint8_t)(t & 1 ? 0x20 : 0x00), 0);
        rc = recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &o);
    }
    cr_assert_lt(rc, 0);
    mode_is(old_path, S_IFIFO);
    mode_is(path, S_IFREG);
    recorder_close(rec);
}

/* recorder_sync: the pending count is written and on disk without closing (signals use it). */
Test(recorder, sync_writes_the_pending_count_and_recording_goes_on)
{
    struct recorder *rec = open_rec(0, 0);
    struct recorder_observation ok = reading(0, 0);
    for (uint64_t t = 1; t <= 5; t++)
        recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    cr_assert_eq(recorder_sync(rec), 0);
    cr_assert(strstr(body(path), "5 LYNX0001 same 4\n"), "%s", body(path));
    recorder_observe(rec, 6, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);
    recorder_close(rec);
    cr_assert(strstr(body(path), "6 LYNX0001 same 1\n"), "%s", body(path));
}

/* ---- the fsyncs run off the loop ----
 *
 * A slow disk stands in: this executable's own fsync, which the recorder's objects (linked in
 * statically) call instead of libc's. It counts the calls made on the loop's thread, can hold a
 * call made on any other thread until the test opens the gate (a stuck SD card), and can fail. */

static atomic_long loop_tid; /* the thread running the loop; 0: not watched */
static atomic_int fsyncs_on_loop, fsyncs_off_loop;
static atomic_bool hold_fsync; /* fsyncs off the loop wait for the gate */
static atomic_bool fsync_held; /* one is waiting now */
static atomic_int fsync_error; /* fail every fsync with this errno */
static int gate[2] = {-1, -1};

int fsync(int fd)
{
    if (syscall(SYS_gettid) == atomic_load(&loop_tid)) {
        fsyncs_on_loop++;
    } else {
        fsyncs_off_loop++;
        if (hold_fsync) {
            fsync_held = true;
            struct pollfd p = {.fd = gate[0], .events = POLLIN};
            char c;
            if (poll(&p, 1, 30000) == 1 && read(gate[0], &c, 1) == 1) /* never forever */
                fsync_held = false;
        }
    }
    if (fsync_error) {
        errno = fsync_error;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

static struct mainloop *loop;

static void loop_timed_out(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)l, (void)t;
    cr_assert_fail("waited 20 s for %s", (const char *)user);
}

static void stop_loop(struct mainloop *l, struct mainloop_timer *t, void *user)
{
    (void)t, (void)user;
    mainloop_quit(l);
}

/* Runs the loop, ticking every 10 ms, until *flag is set (a generous 20 s guard). */
static void run_until(atomic_bool *flag, const char *what)
{
    struct mainloop_timer *tick, *guard;
    cr_assert_eq(mainloop_add_timer(loop, 10, true, stop_loop, NULL, &tick), 0);
    cr_assert_eq(mainloop_add_timer(loop, 20000, false, loop_timed_out, (void *)what, &guard), 0);
    while (!*flag)
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(guard);
    mainloop_remove_timer(tick);
}

static void run_until_synced(struct recorder *rec)
{
    struct mainloop_timer *tick, *guard;
    cr_assert_eq(mainloop_add_timer(loop, 10, true, stop_loop, NULL, &tick), 0);
    cr_assert_eq(mainloop_add_timer(loop, 20000, false, loop_timed_out, "the sync", &guard), 0);
    while (recorder_syncing(rec))
        cr_assert_eq(mainloop_run(loop), 0);
    mainloop_remove_timer(guard);
    mainloop_remove_timer(tick);
}

static void open_gate(void)
{
    hold_fsync = false;
    cr_assert_eq(write(gate[1], "x", 1), 1);
}

static struct recorder *open_rec_on_loop(uint64_t max)
{
    cr_assert_eq(pipe(gate), 0);
    cr_assert_eq(mainloop_new(&loop), 0);
    struct recorder *rec = open_rec(max, 0); /* its first sync: at start-up, before the loop */
    cr_assert_eq(recorder_use_loop(rec, loop), 0);
    loop_tid = syscall(SYS_gettid);
    return rec;
}

static void close_rec_on_loop(struct recorder *rec)
{
    loop_tid = 0;
    recorder_close(rec);
    mainloop_free(loop);
    close(gate[0]);
    close(gate[1]);
}

static int open_fds(void)
{
    int n = 0;
    char p[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        n += access(p, F_OK) == 0;
    }
    return n;
}

Test(recorder, a_sync_waits_on_a_worker_while_the_loop_goes_on)
{
    struct recorder *rec = open_rec_on_loop(0);
    struct recorder_observation ok = reading(0, 0);
    for (uint64_t t = 1; t <= 5; t++)
        recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok);

    hold_fsync = true;
    cr_assert_eq(recorder_sync(rec), 0);
    cr_assert_eq(fsyncs_on_loop, 0, "recorder_sync called fsync on the loop's thread");
    cr_assert(recorder_syncing(rec));
    run_until(&fsync_held, "the worker's fsync");
    /* The fsync is stuck: the loop still runs its timers, and the sync is still open. */
    for (int i = 0; i < 5; i++) {
        struct mainloop_timer *t;
        cr_assert_eq(mainloop_add_timer(loop, 10, false, stop_loop, NULL, &t), 0);
        cr_assert_eq(mainloop_run(loop), 0);
        mainloop_remove_timer(t);
    }
    cr_assert(fsync_held);
    cr_assert(recorder_syncing(rec));
    /* Written already (the loop flushed it); on disk once the gate opens. */
    cr_assert(strstr(body(path), "5 LYNX0001 same 4\n"), "%s", body(path));

    open_gate();
    run_until_synced(rec);
    cr_assert_geq(fsyncs_off_loop, 1);
    cr_assert_eq(fsyncs_on_loop, 0);
    close_rec_on_loop(rec);
}

Test(recorder, rotations_while_the_disk_is_stuck_keep_the_size_bound_and_leak_nothing)
{
    int fds_before = open_fds();
    struct recorder *rec = open_rec_on_loop(4096);
    hold_fsync = true;
    for (uint64_t t = 0; t < 1000; t++) {
        struct recorder_observation o = reading((uint8_t)(t & 1 ? 0x20 : 0x00), 0);
        cr_assert_eq(
            recorder_observe(rec, t, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &o), 0,
            "poll %llu", (unsigned long long)t);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_leq(st.st_size, 4096);
    }
    cr_assert_eq(fsyncs_on_loop, 0, "a rotation called fsync on the loop's thread");
    cr_assert(recorder_syncing(rec));
    run_until(&fsync_held, "the worker's fsync");
    /* Many rotations, one sync stuck: what waits is at most FILE and FILE.1 (and the worker's). */
    cr_assert_leq(open_fds(), fds_before + 2 /* loop */ + 2 /* gate */ + 2 /* worker */ + 4);
    open_gate();
    run_until_synced(rec);
    struct stat st;
    cr_assert_eq(stat(old_path, &st), 0);
    cr_assert_leq(st.st_size, 4096);
    close_rec_on_loop(rec);
    cr_assert_eq(open_fds(), fds_before, "a descriptor was left open");
    cr_assert_eq(fsyncs_on_loop, 0);
}

Test(recorder, an_fsync_that_fails_on_the_worker_stops_the_recording)
{
    struct recorder *rec = open_rec_on_loop(0);
    struct recorder_observation ok = reading(0, 0);
    cr_assert_eq(recorder_observe(rec, 1, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok),
                 0);
    fsync_error = ENOSPC;
    cr_assert_eq(recorder_sync(rec), 0); /* the outcome comes later, from the loop */
    run_until_synced(rec);
    cr_assert_eq(recorder_observe(rec, 2, "LYNX0001", "transport=ftdi vid=0x0403 pid=0xd4f8", &ok),
                 -EIO);
    fsync_error = 0;
    close_rec_on_loop(rec);
    cr_assert_eq(fsyncs_on_loop, 0);
}
