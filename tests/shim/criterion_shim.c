/*
 * The runner behind tests/shim/criterion/criterion.h: main() runs every registered test in its
 * own forked process (sorted by suite and name, like Criterion), enforces .timeout from the
 * parent, prints one line per test and Criterion's closing "Synthesis" line (on stderr, as
 * Criterion does), and exits 0 only
 * when every test that ran passed.
 *
 *   test_x [--filter=SUITE/NAME-GLOB] [--list]
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct shim_test *tests;
static struct shim_suite *suites;

/* State of the test running in this (child) process. */
static const struct shim_test *current;
static bool current_failed;
static jmp_buf abort_test;

void shim_register_test(struct shim_test *test)
{
    test->next = tests;
    tests = test;
}

void shim_register_suite(struct shim_suite *suite)
{
    suite->next = suites;
    suites = suite;
}

static const struct shim_options *suite_options(const char *name)
{
    for (const struct shim_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s->options;
    return NULL;
}

static void report_failure(bool fatal, const char *file, int line, const char *expression,
                           const char *format, va_list args)
{
    fprintf(stderr, "[----] %s:%d: %s: ", file, line,
            fatal ? "Assertion failed" : "Expectation failed");
    if (format[0] != '\0')
        vfprintf(stderr, format, args);
    else
        fprintf(stderr, "%s", expression);
    fputc('\n', stderr);
    current_failed = true;
}

static void end_if_fatal(bool fatal)
{
    fflush(stderr);
    if (fatal)
        longjmp(abort_test, 1);
}

void shim_fail(bool fatal, const char *file, int line, const char *expression, const char *format,
               ...)
{
    va_list args;
    va_start(args, format);
    report_failure(fatal, file, line, expression, format, args);
    va_end(args);
    end_if_fatal(fatal);
}

void shim_skip(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "[SKIP] %s: ", current ? current->name : "?");
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(stderr);
    longjmp(abort_test, 1);
}

static void dump_bytes(const char *label, const unsigned char *bytes, size_t size, size_t first)
{
    size_t from = first > 8 ? first - 8 : 0;
    size_t to = first + 8 < size ? first + 8 : size;
    fprintf(stderr, "[----]   %s [%zu..%zu):", label, from, to);
    for (size_t i = from; i < to; i++)
        fprintf(stderr, i == first ? " [%02X]" : " %02X", bytes[i]);
    fputc('\n', stderr);
}

void shim_fail_arrays(bool fatal, const char *file, int line, const char *expression,
                      const void *actual, const void *expected, size_t size, const char *format,
                      ...)
{
    va_list args;
    va_start(args, format);
    report_failure(fatal, file, line, expression, format, args);
    va_end(args);
    const unsigned char *a = actual, *b = expected;
    size_t first = 0;
    while (first < size && a[first] == b[first])
        first++;
    fprintf(stderr, "[----]   first difference at byte %zu of %zu\n", first, size);
    dump_bytes("actual  ", a, size, first);
    dump_bytes("expected", b, size, first);
    end_if_fatal(fatal);
}

void shim_fail_strings(bool fatal, const char *file, int line, const char *expression,
                       const char *actual, const char *expected, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    report_failure(fatal, file, line, expression, format, args);
    va_end(args);
    fprintf(stderr, "[----]   actual:   %s%s%s\n", actual ? "\"" : "", actual ? actual : "NULL",
            actual ? "\"" : "");
    fprintf(stderr, "[----]   expected: %s%s%s\n", expected ? "\"" : "",
            expected ? expected : "NULL", expected ? "\"" : "");
    end_if_fatal(fatal);
}

void shim_log_info(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "[----] %s::%s: ", current ? current->suite : "?",
            current ? current->name : "?");
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

/* In the child: init, test, fini, as Criterion orders them; a failed init skips the rest. */
static _Noreturn void run_in_child(const struct shim_test *test, const struct shim_options *suite)
{
    current = test;
    current_failed = false;
    if (setjmp(abort_test) == 0) {
        if (suite && suite->init)
            suite->init();
        if (test->options->init)
            test->options->init();
    } else {
        fflush(NULL);
        _exit(1);
    }
    if (setjmp(abort_test) == 0)
        test->function();
    if (setjmp(abort_test) == 0) {
        if (test->options->fini)
            test->options->fini();
        if (suite && suite->fini)
            suite->fini();
    }
    fflush(NULL);
    _exit(current_failed ? 1 : 0);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

enum outcome { PASSED, FAILED, CRASHED, TIMED_OUT };

static enum outcome wait_for(pid_t pid, double timeout)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status;
    for (;;) {
        pid_t done = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);
        if (done == pid)
            break;
        if (done < 0 && errno != EINTR) {
            perror("waitpid");
            return CRASHED;
        }
        if (timeout > 0 && seconds_since(&start) > timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return TIMED_OUT;
        }
        nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "[----] killed by signal %d (%s)\n", WTERMSIG(status),
                strsignal(WTERMSIG(status)));
        return CRASHED;
    }
    return WEXITSTATUS(status) == 0 ? PASSED : FAILED;
}

static enum outcome run_test(const struct shim_test *test, const struct shim_options *suite)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return CRASHED;
    }
    if (pid == 0)
        run_in_child(test, suite);
    double timeout = test->options->timeout > 0 ? test->options->timeout
                     : suite                    ? suite->timeout
                                                : 0;
    return wait_for(pid, timeout);
}

static int by_suite_then_name(const void *a, const void *b)
{
    const struct shim_test *x = *(const struct shim_test *const *)a;
    const struct shim_test *y = *(const struct shim_test *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

static int usage(const char *program, int status)
{
    fprintf(status ? stderr : stdout,
            "usage: %s [--filter=SUITE/NAME-GLOB] [--list]\n"
            "Criterion-compatible runner (tests/shim): each test in its own process.\n",
            program);
    return status;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--filter=", 9) == 0)
            filter = argv[i] + 9;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "--list") == 0 || strcmp(argv[i], "-l") == 0)
            list = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(argv[0], 0);
        else
            return usage(argv[0], 2);
    }

    size_t n = 0;
    for (struct shim_test *t = tests; t; t = t->next)
        n++;
    struct shim_test **sorted = calloc(n ? n : 1, sizeof(*sorted));
    if (!sorted)
        return 1;
    n = 0;
    for (struct shim_test *t = tests; t; t = t->next)
        sorted[n++] = t;
    qsort(sorted, n, sizeof(*sorted), by_suite_then_name);

    unsigned tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const struct shim_test *t = sorted[i];
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
        if (filter && fnmatch(filter, full, 0) != 0)
            continue;
        if (list) {
            printf("%s\n", full);
            continue;
        }
        const struct shim_options *suite = suite_options(t->suite);
        if (t->options->disabled || (suite && suite->disabled)) {
            fprintf(stderr, "[SKIP] %s::%s: disabled\n", t->suite, t->name);
            skipped++;
            continue;
        }
        tested++;
        enum outcome outcome = run_test(t, suite);
        static const char *const tags[] = {"PASS", "FAIL", "CRASH", "TIMEOUT"};
        fprintf(stderr, "[%s] %s::%s\n", tags[outcome], t->suite, t->name);
        if (outcome == PASSED)
            passing++;
        else if (outcome == FAILED)
            failing++;
        else
            crashing++;
    }
    free(sorted);
    if (!list)
        fprintf(stderr,
                "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u%s\n",
                tested, passing, failing, crashing, skipped ? " (some skipped)" : "");
    return failing || crashing ? 1 : 0;
}
