/*
 * A small stand-in for Criterion 2.4's <criterion/criterion.h>, enough for the pure unit tests
 * (no USB, no D-Bus daemon) to build and run where Criterion is not packaged: the armhf cross
 * build under qemu-arm (Debian has no armhf libcriterion-dev), or a machine without Criterion.
 * The test sources are the same ones the Criterion build uses; only this header differs.
 *
 * What it implements, with Criterion's meaning:
 * - Test(suite, name, .init, .fini, .timeout, .description, .disabled) and
 *   TestSuite(suite, .init, .fini, .timeout, .description, .disabled); tests register themselves
 *   from constructors and tests/shim/criterion_shim.c provides main().
 * - Each test runs in its own forked process: suite .init, test .init, the test, test .fini,
 *   suite .fini. A failed .init skips the test and the .fini functions (as Criterion does).
 * - cr_assert* ends the test at the first failure (the .fini functions still run); cr_expect*
 *   records the failure and goes on. Both take an optional printf-style message.
 * - Comparisons evaluate their operands once, with C's own operators (as Criterion does).
 * Anything else of Criterion's API is missing on purpose: a test that uses it fails to build in
 * the shim build, which is the signal to add it here.
 */
#ifndef CRITERION_SHIM_CRITERION_H
#define CRITERION_SHIM_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct shim_options {
    int sentinel_; /* lets Test(suite, name) with no options expand to a valid initializer */
    void (*init)(void);
    void (*fini)(void);
    double timeout; /* seconds; 0 = none */
    const char *description;
    bool disabled;
};

struct shim_test {
    const char *suite;
    const char *name;
    void (*function)(void);
    const struct shim_options *options;
    const char *file;
    struct shim_test *next;
};

struct shim_suite {
    const char *name;
    const struct shim_options *options;
    struct shim_suite *next;
};

void shim_register_test(struct shim_test *test);
void shim_register_suite(struct shim_suite *suite);

/* Messages are format-checked (a wrong conversion for int64_t or size_t is an ARM bug too); a
 * check without a message passes the empty format "", which is fine here. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

/* Reports a failed check; fatal ones end the test. The message is a printf format and its
 * arguments, or empty ("") when the test gave none: then the expression text is printed. */
void shim_fail(bool fatal, const char *file, int line, const char *expression, const char *format,
               ...) __attribute__((format(printf, 5, 6)));
void shim_fail_arrays(bool fatal, const char *file, int line, const char *expression,
                      const void *actual, const void *expected, size_t size, const char *format,
                      ...) __attribute__((format(printf, 8, 9)));
void shim_fail_strings(bool fatal, const char *file, int line, const char *expression,
                       const char *actual, const char *expected, const char *format, ...)
    __attribute__((format(printf, 7, 8)));
void shim_log_info(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* cr_skip_test: the test ends here, neither passed nor failed (counted as not failing). */
_Noreturn void shim_skip(const char *format, ...) __attribute__((format(printf, 1, 2)));

#define SHIM_ID_(suite, name, what) shim_##suite##_##name##_##what

#define Test(suite, name, ...)                                                                     \
    static void SHIM_ID_(suite, name, function)(void);                                             \
    static const struct shim_options SHIM_ID_(suite, name, options) = {.sentinel_ = 0,             \
                                                                       __VA_ARGS__};               \
    static struct shim_test SHIM_ID_(suite, name, test) = {                                        \
        #suite,   #name, SHIM_ID_(suite, name, function), &SHIM_ID_(suite, name, options),         \
        __FILE__, NULL};                                                                           \
    __attribute__((constructor)) static void SHIM_ID_(suite, name, register)(void)                 \
    {                                                                                              \
        shim_register_test(&SHIM_ID_(suite, name, test));                                          \
    }                                                                                              \
    static void SHIM_ID_(suite, name, function)(void)

#define TestSuite(suite, ...)                                                                      \
    static const struct shim_options SHIM_ID_(suite, suite, suite_options) = {.sentinel_ = 0,      \
                                                                              __VA_ARGS__};        \
    static struct shim_suite SHIM_ID_(suite, suite, suite) = {                                     \
        #suite, &SHIM_ID_(suite, suite, suite_options), NULL};                                     \
    __attribute__((constructor)) static void SHIM_ID_(suite, suite, register_suite)(void)          \
    {                                                                                              \
        shim_register_suite(&SHIM_ID_(suite, suite, suite));                                       \
    }                                                                                              \
    struct shim_swallow_semicolon_

/* "" __VA_ARGS__ turns an absent message into "" and a literal format into itself. */
#define SHIM_CHECK_(fatal, condition, text, ...)                                                   \
    do {                                                                                           \
        if (!(condition))                                                                          \
            shim_fail(fatal, __FILE__, __LINE__, text, "" __VA_ARGS__);                            \
    } while (0)

#define SHIM_CMP_(fatal, a, op, b, ...) SHIM_CHECK_(fatal, (a)op(b), #a " " #op " " #b, __VA_ARGS__)

#define SHIM_ARR_EQ_(fatal, a, b, size, ...)                                                       \
    do {                                                                                           \
        const void *shim_a_ = (a), *shim_b_ = (b);                                                 \
        size_t shim_n_ = (size);                                                                   \
        if (memcmp(shim_a_, shim_b_, shim_n_) != 0)                                                \
            shim_fail_arrays(fatal, __FILE__, __LINE__, #a " == " #b, shim_a_, shim_b_, shim_n_,   \
                             "" __VA_ARGS__);                                                      \
    } while (0)

#define SHIM_STR_EQ_(fatal, a, b, ...)                                                             \
    do {                                                                                           \
        const char *shim_a_ = (a), *shim_b_ = (b);                                                 \
        if (shim_a_ == NULL || shim_b_ == NULL || strcmp(shim_a_, shim_b_) != 0)                   \
            shim_fail_strings(fatal, __FILE__, __LINE__, #a " == " #b, shim_a_, shim_b_,           \
                              "" __VA_ARGS__);                                                     \
    } while (0)

#define cr_assert(condition, ...) SHIM_CHECK_(true, condition, #condition, __VA_ARGS__)
#define cr_expect(condition, ...) SHIM_CHECK_(false, condition, #condition, __VA_ARGS__)
#define cr_assert_not(condition, ...)                                                              \
    SHIM_CHECK_(true, !(condition), "!(" #condition ")", __VA_ARGS__)
#define cr_expect_not(condition, ...)                                                              \
    SHIM_CHECK_(false, !(condition), "!(" #condition ")", __VA_ARGS__)
#define cr_skip_test(...)   shim_skip("" __VA_ARGS__)
#define cr_assert_fail(...) shim_fail(true, __FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_expect_fail(...) shim_fail(false, __FILE__, __LINE__, "cr_expect_fail", "" __VA_ARGS__)

#define cr_assert_eq(a, b, ...)  SHIM_CMP_(true, a, ==, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)  SHIM_CMP_(false, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CMP_(true, a, !=, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) SHIM_CMP_(false, a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)  SHIM_CMP_(true, a, <, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)  SHIM_CMP_(false, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CMP_(true, a, <=, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) SHIM_CMP_(false, a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)  SHIM_CMP_(true, a, >, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)  SHIM_CMP_(false, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CMP_(true, a, >=, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) SHIM_CMP_(false, a, >=, b, __VA_ARGS__)

#define cr_assert_null(p, ...)     SHIM_CHECK_(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)     SHIM_CHECK_(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK_(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) SHIM_CHECK_(false, (p) != NULL, #p " != NULL", __VA_ARGS__)

/* |actual - expected| <= epsilon, as Criterion writes it (no libm needed) */
#define SHIM_FLOAT_NEAR_(a, b, eps)                                                                \
    ((double)(a) - (double)(b) <= (double)(eps) && (double)(b) - (double)(a) <= (double)(eps))
#define cr_assert_float_eq(a, b, eps, ...)                                                         \
    SHIM_CHECK_(true, SHIM_FLOAT_NEAR_(a, b, eps), #a " == " #b " within " #eps, __VA_ARGS__)
#define cr_expect_float_eq(a, b, eps, ...)                                                         \
    SHIM_CHECK_(false, SHIM_FLOAT_NEAR_(a, b, eps), #a " == " #b " within " #eps, __VA_ARGS__)
#define cr_assert_float_neq(a, b, eps, ...)                                                        \
    SHIM_CHECK_(true, !SHIM_FLOAT_NEAR_(a, b, eps), #a " != " #b " beyond " #eps, __VA_ARGS__)
#define cr_expect_float_neq(a, b, eps, ...)                                                        \
    SHIM_CHECK_(false, !SHIM_FLOAT_NEAR_(a, b, eps), #a " != " #b " beyond " #eps, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                                               \
    SHIM_CHECK_(true, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...)                                                               \
    SHIM_CHECK_(false, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)

#define cr_assert_str_eq(a, b, ...)       SHIM_STR_EQ_(true, a, b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)       SHIM_STR_EQ_(false, a, b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, size, ...) SHIM_ARR_EQ_(true, a, b, size, __VA_ARGS__)
#define cr_expect_arr_eq(a, b, size, ...) SHIM_ARR_EQ_(false, a, b, size, __VA_ARGS__)

#define cr_log_info(...) shim_log_info(__VA_ARGS__)

#endif
