/* config: what is read is bounded, and a file that cannot be read in full is an error. */
#include "config_fixture.h"

/* What is read is bounded: a comment line of at most 4096 characters, a file of at most 1 MiB.
 * Past either, and at a NUL byte or a read error, the file is refused at that line: never taken
 * as ending there (a reload would then apply a configuration cut short). */
Test(config, comment_lines_are_bounded_at_4096_characters)
{
    static char text[5000];
    char comment[4097];
    memset(comment, 'x', sizeof(comment) - 1);
    comment[4094] = '\0'; /* "; " + 4094 = 4096 characters */
    snprintf(text, sizeof(text), "[general]\n; %s\npoll_interval_ms = 500\n", comment);
    cr_assert_eq(load(text), 0, "%s", cfg.error);
    cr_assert_eq(cfg.poll_interval_ms, 500);
    comment[4094] = 'x'; /* 4097 */
    comment[4095] = '\0';
    snprintf(text, sizeof(text), "[general]\n; %s\npoll_interval_ms = 500\n", comment);
    assert_fails(text, "test.ini:2: line too long (at most 4096 characters)");
}

Test(config, an_endless_file_of_zeros_is_refused_at_once)
{
    cr_assert_eq(config_load(&cfg, "/dev/zero"), -EINVAL);
    cr_assert_str_eq(cfg.error, "/dev/zero:1: contains a NUL byte (is this a text file?)");
}

Test(config, a_file_over_1_mib_is_refused_at_the_line_that_passes_it)
{
    size_t len = 1024 * 1024 + 10;
    char *text = malloc(len + 1);
    cr_assert_not_null(text);
    memset(text, '\n', len); /* empty lines */
    text[len] = '\0';
    assert_fails(text, "test.ini:1048577: the file is longer than 1048576 bytes: is it the right "
                       "file?");
    free(text);
}

Test(config, a_read_error_is_an_error_not_the_end_of_the_file)
{
    /* A directory opens for reading on Linux; the first read fails with EISDIR. */
    cr_assert_eq(config_load(&cfg, "/"), -EINVAL);
    cr_assert_str_eq(cfg.error, "/:1: cannot read: Is a directory");
    cr_assert_eq(cfg.n_sections, 0);
}
