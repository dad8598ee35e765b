/* The control channel: what it refuses (a path that is not a stale socket, an over-long line) and
 * that answers come back whole, many times over. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "run/control.h"

static char dir[64], path[128];
static struct sim_control *ctl;

static bool echo(void *ctx, char *line, FILE *out)
{
    (void)ctx;
    fprintf(out, "got %zu: ", strlen(line));
    fputs(line, out);
    return strcmp(line, "bad") != 0;
}

static void setup(void)
{
    strcpy(dir, "/tmp/lynx-ctl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
}

static void teardown(void)
{
    if (ctl)
        sim_control_free(ctl);
    unlink(path);
    rmdir(dir);
}

TestSuite(control, .init = setup, .fini = teardown, .timeout = 20);

static void start(void)
{
    char err[200] = "";
    ctl = sim_control_new(path, echo, NULL, err, sizeof(err));
    cr_assert_not_null(ctl, "%s", err);
}

static int connect_client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

/* Serve until the answer (ending in an empty line) is complete; returns it. */
static char *ask(int fd, const char *text)
{
    static char answer[2048];
    size_t len = 0;
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    for (int round = 0; round < 200; round++) {
        struct pollfd fds[SIM_CONTROL_MAX_FDS];
        size_t n = sim_control_pollfds(ctl, fds, SIM_CONTROL_MAX_FDS);
        poll(fds, n, 50);
        sim_control_dispatch(ctl, fds, n);
        ssize_t got = recv(fd, answer + len, sizeof(answer) - 1 - len, MSG_DONTWAIT);
        if (got > 0)
            len += (size_t)got;
        answer[len] = '\0';
        if (len >= 2 && strcmp(answer + len - 2, "\n\n") == 0)
            return answer;
    }
    cr_assert_fail("no complete answer: '%s'", answer);
    return NULL;
}

Test(control, answers_ok_with_the_payload_or_error_with_the_reason)
{
    start();
    int fd = connect_client();
    cr_assert_str_eq(ask(fd, "hello\n"), "ok\ngot 5: hello\n\n");
    cr_assert_str_eq(ask(fd, "bad\n"), "error: got 3: bad\n\n");
    close(fd);
}

Test(control, a_line_over_the_limit_is_refused_not_cut_and_run)
{
    start();
    int fd = connect_client();
    char line[700];
    memset(line, 'x', sizeof(line) - 2);
    line[sizeof(line) - 2] = '\n';
    line[sizeof(line) - 1] = '\0';
    cr_assert_str_eq(ask(fd, line), "error: line too long (at most 511 characters)\n\n");
    cr_assert_str_eq(ask(fd, "next\n"), "ok\ngot 4: next\n\n", "the next line is fine");
    close(fd);
}

Test(control, many_answers_in_a_row_come_back_whole)
{
    start();
    int fd = connect_client();
    for (int i = 0; i < 2000; i++)
        cr_assert_str_eq(ask(fd, "again\n"), "ok\ngot 5: again\n\n");
    close(fd);
}

Test(control, a_regular_file_at_the_path_is_never_replaced)
{
    int f = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(f, 0);
    close(f);
    char err[200] = "";
    cr_assert_null(sim_control_new(path, echo, NULL, err, sizeof(err)));
    cr_assert(strstr(err, "is not a socket"), "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode), "the file is still there");
}

Test(control, a_live_socket_is_refused_and_a_stale_one_replaced)
{
    start();
    char err[200] = "";
    cr_assert_null(sim_control_new(path, echo, NULL, err, sizeof(err)));
    cr_assert(strstr(err, "another process listens on it"), "%s", err);

    /* a stale socket: bound, then its listener gone without removing the file */
    sim_control_free(ctl);
    ctl = NULL;
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    cr_assert_eq(bind(stale, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(stale);
    struct sim_control *again = sim_control_new(path, echo, NULL, err, sizeof(err));
    cr_assert_not_null(again, "%s", err);
    ctl = again;
    int fd = connect_client();
    cr_assert_str_eq(ask(fd, "hi\n"), "ok\ngot 2: hi\n\n");
    close(fd);
}
