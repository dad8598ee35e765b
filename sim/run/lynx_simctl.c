/* lynx-simctl: sends one command to a running lynx-sim's control channel and prints the answer.
 *
 *   lynx-simctl [--socket PATH] COMMAND [ARG...]     (PATH defaults to $LYNX_SIM_CONTROL)
 *
 * Exit status 0 when the simulator answered "ok", 1 on "error: ...", 2 when it cannot be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *path = getenv("LYNX_SIM_CONTROL");
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
        path = argv[2];
        first = 3;
    }
    if (first >= argc || !path) {
        fputs("usage: lynx-simctl [--socket PATH] COMMAND [ARG...]\n"
              "PATH defaults to $LYNX_SIM_CONTROL (set by lynx-sim for its command).\n"
              "Commands: fuse|supply|power|distributor|unplug|plug ... (fixtures/README.md), "
              "stats\n",
              stderr);
        return 2;
    }
    int fd = connect_socket(path);
    if (fd < 0) {
        fprintf(stderr, "lynx-simctl: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[512] = "";
    for (int i = first; i < argc; i++) {
        if (strlen(line) + strlen(argv[i]) + 2 >= sizeof(line)) {
            fputs("lynx-simctl: command too long\n", stderr);
            return 2;
        }
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "\n");
    }
    if (write(fd, line, strlen(line)) < 0) {
        perror("lynx-simctl: write");
        return 2;
    }
    shutdown(fd, SHUT_WR);

    /* The answer ends with an empty line; the server keeps the connection for more commands. */
    char answer[65536];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(answer) - 1 && (n = read(fd, answer + len, sizeof(answer) - 1 - len)) > 0) {
        len += (size_t)n;
        answer[len] = '\0';
        if (len >= 2 && strcmp(answer + len - 2, "\n\n") == 0)
            break;
    }
    close(fd);
    answer[len] = '\0';
    if (len && answer[len - 1] == '\n')
        answer[--len] = '\0'; /* the terminating empty line */
    if (strncmp(answer, "ok\n", 3) == 0) {
        fputs(answer + 3, stdout);
        return 0;
    }
    fprintf(stderr, "lynx-simctl: %s", len ? answer : "no answer\n");
    return len ? 1 : 2;
}
