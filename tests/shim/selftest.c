/* The Criterion shim's own tests: every check macro passes on true conditions (suite "pass"),
 * and each kind of failure fails the run (the other suites, run with --filter by meson with
 * should_fail). */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdint.h>
#include <unistd.h>

static int suite_inits, test_inits;

static void suite_init(void)
{
    suite_inits++;
}

static void test_init(void)
{
    cr_assert_eq(suite_inits, 1, "the suite .init runs before the test's");
    test_inits++;
}

TestSuite(pass, .init = suite_init);

Test(pass, runs_suite_then_test_init_once_in_a_fresh_process, .init = test_init)
{
    cr_assert_eq(suite_inits, 1);
    cr_assert_eq(test_inits, 1);
}

Test(pass, every_check_macro_accepts_a_true_condition)
{
    const uint8_t bytes[] = {1, 2, 3};
    const uint8_t same[] = {1, 2, 3};
    int64_t big = INT64_C(1) << 40;
    cr_assert(1);
    cr_assert(1, "with a message %d", 1);
    cr_expect(1);
    cr_assert_not(0);
    cr_expect_not(0);
    cr_assert_eq(big, INT64_C(1) << 40, "%lld", (long long)big);
    cr_expect_eq(2, 2);
    cr_assert_neq(1, 2);
    cr_expect_neq(1, 2);
    cr_assert_lt(1, 2);
    cr_expect_lt(1, 2);
    cr_assert_leq(2, 2);
    cr_assert_gt(3, 2);
    cr_expect_gt(3, 2);
    cr_assert_geq(2, 2);
    cr_expect_geq(3, 2);
    cr_assert_null(NULL);
    cr_assert_not_null(bytes);
    cr_expect_not_null(bytes);
    cr_assert_float_eq(0.1 + 0.2, 0.3, 1e-12);
    cr_expect_float_eq(1.0f, 1.0, 0);
    cr_assert_float_neq(0.5, 0.3, 0.1);
    cr_assert_str_neq("abc", "abd");
    cr_assert_str_eq("abc", "abc");
    cr_expect_str_eq("abc", "abc");
    cr_assert_arr_eq(bytes, same, sizeof(bytes));
    cr_expect_arr_eq(bytes, same, sizeof(bytes));
    cr_log_info("logging works: %s", "yes");
}

Test(pass, operands_are_evaluated_once)
{
    int n = 0;
    cr_assert_eq(++n, 1);
    cr_assert_str_eq((n++, "x"), "x");
    cr_assert_eq(n, 2);
}

Test(pass, disabled_tests_do_not_run, .disabled = true)
{
    cr_assert_fail("a disabled test ran");
}

Test(assert, failing_assert_fails_the_run)
{
    cr_assert_eq(1 + 1, 3, "arithmetic");
}

Test(assert, float_outside_epsilon_fails_the_run)
{
    cr_assert_float_eq(0.3, 0.31, 0.001);
}

Test(expect, failing_expect_fails_the_run_even_when_the_test_goes_on)
{
    cr_expect_str_eq("a", "b");
    cr_assert(1);
}

Test(crash, a_signal_fails_the_run)
{
    raise(SIGSEGV);
}

Test(timeout, a_test_over_its_timeout_fails_the_run, .timeout = 0.2)
{
    sleep(5);
}

static void failing_init(void)
{
    cr_assert_fail("init fails");
}

Test(init, a_failing_init_fails_the_run, .init = failing_init)
{
}

static void failing_fini(void)
{
    cr_assert_arr_eq("ab", "ac", 2);
}

Test(fini, a_failing_fini_fails_the_run, .fini = failing_fini)
{
}
