/* The config tests' fixture (test_config.c, test_config_bounds.c): a struct config loaded from
 * text as file "test.ini", the log lines written meanwhile, and a check that a text fails with one
 * message and keeps nothing. */
#ifndef LYNX_TEST_CONFIG_FIXTURE_H
#define LYNX_TEST_CONFIG_FIXTURE_H

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

static struct config cfg;
static char warnings[4096];

static void setup(void)
{
    config_init(&cfg);
    warnings[0] = '\0';
}

static void teardown(void)
{
    config_free(&cfg);
    cr_assert_eq(cfg.n_sections, 0);
    cr_assert_null(cfg.sections);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Loads text as file "test.ini"; the log lines written meanwhile land in `warnings`. */
static int load(const char *text)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(in);
    FILE *log = tmpfile();
    cr_assert_not_null(log);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(log), STDERR_FILENO);
    int rc = config_load_stream(&cfg, in, "test.ini");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(log);
    size_t n = fread(warnings, 1, sizeof(warnings) - 1, log);
    warnings[n] = '\0';
    fclose(log);
    fclose(in);
    return rc;
}

static void assert_fails(const char *text, const char *error)
{
    cr_assert_eq(load(text), -EINVAL, "should fail: %s", text);
    cr_assert_str_eq(cfg.error, error);
    cr_assert_eq(cfg.n_sections, 0, "a failed load keeps nothing");
}

#endif
