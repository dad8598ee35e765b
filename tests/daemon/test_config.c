/* config: every key, value and section rule of the file, with its file:line message. */
#include "config_fixture.h"

/* The original project's config.sample.ini, byte for byte. */
static const char original_sample[] =
    "[general]\n"
    "# PID/VID devices to scan for, defaults to given values\n"
    "pid = 0x0403\n"
    "vid = 0xD4F8\n"
    "\n"
    "# FT8ZT9MF is the serial number of the USB adapter\n"
    "[ftdi:FT8ZT9MF]\n"
    "# Custom name for the distributor\n"
    "name = My Lynx Distributor\n"
    "\n"
    "# Only required if missing distributors shall be detected (and alarmed)\n"
    "distributorAInstalled = True\n"
    "distributorBInstalled = False\n"
    "distributorCInstalled = False\n"
    "distributorDInstalled = False\n"
    "\n"
    "# Custom Name for a fuse\n"
    "distributorAFuse0Name = Multiplus\n"
    "distributorAFuse1Name = Battery\n"
    "distributorAFuse3Name = NA\n"
    "distributorAFuse4Name = NA\n"
    "\n"
    "# Only required if missing and blown fuses should be differentiated and blown fuses should "
    "be alarmed\n"
    "distributorAFuse0Installed = True\n"
    "distributorAFuse1Installed = True\n"
    "distributorAFuse2Installed = False\n"
    "distributorAFuse3Installed = False";

Test(config, defaults_poll_every_second_at_100khz_and_look_for_both_pids)
{
    cr_assert_eq(load(""), 0);
    cr_assert_eq(cfg.poll_interval_ms, 1000);
    cr_assert_eq(cfg.i2c_speed_khz, 100);
    cr_assert_eq(cfg.comm_lost_polls, 3);
    cr_assert_eq(cfg.n_usb_ids, 2);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[0].pid, 0xD4F8);
    cr_assert_eq(cfg.usb_ids[1].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[1].pid, 0x6014);
    const struct config_section *a = config_ftdi_section(&cfg, "ANY");
    cr_assert_eq(a, &cfg.defaults);
    cr_assert_str_eq(a->name, "");
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        cr_assert_not(a->distributor[d].installed);
        cr_assert_not(a->distributor[d].upside_down);
        for (unsigned f = 0; f < LYNX_FUSES; f++) {
            cr_assert(a->distributor[d].fuse_installed[f]);
            cr_assert_str_eq(a->distributor[d].fuse_name[f], "");
        }
    }
}

Test(config, original_sample_loads_unchanged_with_swapped_ids_fixed)
{
    cr_assert_eq(load(original_sample), 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 1);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[0].pid, 0xD4F8);
    cr_assert(strstr(warnings, "test.ini:3: vid and pid look swapped") != NULL, "%s", warnings);
    cr_assert(strstr(warnings, "`vid = 0x0403` and `pid = 0xD4F8`") != NULL, "%s", warnings);
    cr_assert(strstr(warnings, "test.ini:21: unknown key 'distributorAFuse4Name' in "
                               "[ftdi:FT8ZT9MF], ignored (fuses are numbered 0-3)") != NULL,
              "%s", warnings);

    cr_assert_eq(cfg.n_sections, 1);
    const struct config_section *a = config_ftdi_section(&cfg, "FT8ZT9MF");
    cr_assert_neq(a, &cfg.defaults);
    cr_assert_str_eq(a->serial, "FT8ZT9MF");
    cr_assert_str_eq(a->name, "My Lynx Distributor");
    const struct config_distributor *da = &a->distributor[0];
    cr_assert(da->installed);
    cr_assert_not(a->distributor[1].installed);
    cr_assert_not(a->distributor[3].installed);
    cr_assert_str_eq(da->fuse_name[0], "Multiplus");
    cr_assert_str_eq(da->fuse_name[1], "Battery");
    cr_assert_str_eq(da->fuse_name[2], "");
    cr_assert_str_eq(da->fuse_name[3], "NA");
    cr_assert(da->fuse_installed[0]);
    cr_assert(da->fuse_installed[1]);
    cr_assert_not(da->fuse_installed[2]);
    cr_assert_not(da->fuse_installed[3]);
    cr_assert(a->distributor[1].fuse_installed[2], "other distributors keep the default");
    cr_assert_eq(config_ftdi_section(&cfg, "FT8ZT9MG"), &cfg.defaults);
    cr_assert_eq(config_ftdi_section(&cfg, "ft8zt9mf"), a, "serials match in any case");
}

Test(config, near_miss_section_names_name_the_adapter_they_mean)
{
    cr_assert_eq(load("[ftdi: lynx0001 ]\nname = Port\n[FTDI:LYNX0002]\nname = Starboard\n"), 0,
                 "%s", cfg.error);
    cr_assert_str_eq(config_ftdi_section(&cfg, "LYNX0001")->name, "Port");
    cr_assert_str_eq(config_ftdi_section(&cfg, "LYNX0001")->serial, "lynx0001");
    cr_assert_str_eq(config_ftdi_section(&cfg, "lynx0002")->name, "Starboard");
    assert_fails("[ftdi:LYNX0001]\nname = a\n[ftdi: lynx0001]\nname = b\n",
                 "test.ini:3: [ftdi: lynx0001] again (first at line 1): write each adapter's keys "
                 "in one section (and 1 more error)");
    assert_fails("[ftdi:  ]\nname = a\n", "test.ini:1: section [ftdi:  ] names no serial number");
}

Test(config, fork_sample_with_correct_ids_and_upside_down_loads_without_warnings)
{
    static const char text[] = "[general]\n"
                               "vid = 0x0403\n"
                               "pid = 0xD4F8\n"
                               "[ftdi:FT8ZT9MF]\n"
                               "mounted_upside_down = False\n"
                               "distributorAInstalled = True\n";
    cr_assert_eq(load(text), 0, "%s", cfg.error);
    cr_assert_str_eq(warnings, "");
    cr_assert_eq(cfg.n_usb_ids, 1);
    cr_assert_eq(cfg.usb_ids[0].pid, 0xD4F8);
}

Test(config, every_boolean_spelling_of_configparser_is_accepted)
{
    static const char *const yes[] = {"True", "true", "TRUE", "yes", "Yes", "on", "ON", "1"};
    static const char *const no[] = {"False", "false", "no", "NO", "off", "Off", "0"};
    char text[128];
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), "[ftdi:X]\ndistributorCInstalled = %s\n", yes[i]);
        cr_assert_eq(load(text), 0, "%s: %s", yes[i], cfg.error);
        cr_assert(config_ftdi_section(&cfg, "X")->distributor[2].installed, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(text, sizeof(text), "[ftdi:X]\ndistributorCFuse2Installed = %s\n", no[i]);
        cr_assert_eq(load(text), 0, "%s: %s", no[i], cfg.error);
        cr_assert_not(config_ftdi_section(&cfg, "X")->distributor[2].fuse_installed[2], "%s",
                      no[i]);
    }
}

Test(config, key_names_are_case_insensitive_like_configparser)
{
    cr_assert_eq(load("[ftdi:X]\nDISTRIBUTORBFUSE3NAME = Shore\ndistributorbupsidedown = yes\n"
                      "Mounted_Upside_Down = no\n[general]\nPOLL_INTERVAL_MS = 500\n"),
                 0, "%s", cfg.error);
    const struct config_section *a = config_ftdi_section(&cfg, "X");
    cr_assert_str_eq(a->distributor[1].fuse_name[3], "Shore");
    cr_assert(a->distributor[1].upside_down);
    cr_assert_eq(cfg.poll_interval_ms, 500);
}

Test(config, per_distributor_upside_down_overrides_the_adapter_setting)
{
    cr_assert_eq(load("[ftdi:X]\nmounted_upside_down = true\ndistributorBUpsideDown = false\n"), 0,
                 "%s", cfg.error);
    const struct config_section *a = config_ftdi_section(&cfg, "X");
    cr_assert(a->distributor[0].upside_down);
    cr_assert_not(a->distributor[1].upside_down);
    cr_assert(a->distributor[2].upside_down);
    cr_assert(a->distributor[3].upside_down);

    struct lynx_distributor_setup setup;
    config_lynx_setup(a, 2, &setup);
    cr_assert(setup.upside_down);
    cr_assert_not(setup.installed);
    cr_assert(setup.fuse_installed[0] && setup.fuse_installed[3]);
}

Test(config, general_numbers_are_parsed_in_hex_or_decimal)
{
    cr_assert_eq(load("[general]\nvid = 1027\npid = 0x6014\ni2c_speed_khz = 400\n"
                      "comm_lost_polls = 5\npoll_interval_ms = 2000\n"),
                 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 1);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[0].pid, 0x6014);
    cr_assert_eq(cfg.i2c_speed_khz, 400);
    cr_assert_eq(cfg.comm_lost_polls, 5);
    cr_assert_eq(cfg.poll_interval_ms, 2000);
}

Test(config, a_vid_alone_looks_for_both_pids_under_it)
{
    cr_assert_eq(load("[general]\nvid = 0x1234\n"), 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 2);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x1234);
    cr_assert_eq(cfg.usb_ids[0].pid, 0xD4F8);
    cr_assert_eq(cfg.usb_ids[1].vid, 0x1234);
    cr_assert_eq(cfg.usb_ids[1].pid, 0x6014);
}

Test(config, swapped_ids_of_a_stock_ft232h_are_swapped_back)
{
    cr_assert_eq(load("[general]\npid = 0x0403\nvid = 0x6014\n"), 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 1);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[0].pid, 0x6014);
    cr_assert(strstr(warnings, "using vid 0x0403, pid 0x6014") != NULL, "%s", warnings);
}

Test(config, pid_0403_alone_means_the_default_adapters)
{
    cr_assert_eq(load("[general]\npid = 0x0403\n"), 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 1);
    cr_assert_eq(cfg.usb_ids[0].vid, 0x0403);
    cr_assert_eq(cfg.usb_ids[0].pid, 0xD4F8);
    cr_assert(strstr(warnings, "test.ini:2: vid and pid look swapped") != NULL, "%s", warnings);
}

Test(config, vid_and_pid_both_0403_is_an_error)
{
    assert_fails("[general]\nvid = 0x0403\npid = 0x0403\n",
                 "test.ini:3: pid: 0x0403 is FTDI's vendor id, not a product id (use pid = "
                 "0xD4F8 or 0x6014)");
}

Test(config, bad_values_fail_with_file_line_and_reason)
{
    assert_fails("[ftdi:X]\n\ndistributorAInstalled = maybe\n",
                 "test.ini:3: distributorAInstalled: 'maybe' is not a boolean (true/false, "
                 "yes/no, on/off, 1/0)");
    assert_fails("[ftdi:X]\ndistributorAFuse0Installed =\n",
                 "test.ini:2: distributorAFuse0Installed: '' is not a boolean (true/false, "
                 "yes/no, on/off, 1/0)");
    assert_fails("[general]\nvid = 0xG403\n",
                 "test.ini:2: vid: '0xG403' is not a number (write decimal, or hex as 0x...)");
    assert_fails("[general]\nvid = 0403\n",
                 "test.ini:2: vid: '0403' has a leading zero: write 0x0403 for hex, or drop the "
                 "zero");
    assert_fails("[general]\npid = 0x10000\n",
                 "test.ini:2: pid: 0x10000 is out of range (0x0-0xFFFF)");
    assert_fails("[general]\npid = -1\n",
                 "test.ini:2: pid: '-1' is not a number (write decimal, or hex as 0x...)");
    assert_fails("[general]\npoll_interval_ms = 99\n",
                 "test.ini:2: poll_interval_ms: 99 is out of range (100-60000)");
    assert_fails("[general]\ni2c_speed_khz = 1000\n",
                 "test.ini:2: i2c_speed_khz: 1000 is out of range (10-400)");
    assert_fails("[general]\ncomm_lost_polls = 0\n",
                 "test.ini:2: comm_lost_polls: 0 is out of range (1-100)");
    assert_fails("[general]\ncomm_lost_polls = 99999999999999999999999\n",
                 "test.ini:2: comm_lost_polls: 99999999999999999999999 is out of range (1-100)");
    assert_fails("[general]\npoll_interval_ms = 1000ms\n",
                 "test.ini:2: poll_interval_ms: '1000ms' is not a number (write decimal, or hex "
                 "as 0x...)");
}

Test(config, test_poll_interval_overrides_poll_interval_down_to_1_ms_with_a_warning)
{
    cr_assert_eq(load("[general]\ntest_poll_interval_ms = 1\npoll_interval_ms = 500\n"), 0);
    cr_assert_eq(cfg.poll_interval_ms, 1);
    cr_assert(strstr(warnings, "test.ini:2: test_poll_interval_ms = 1 is for testing"),
              "no warning: %s", warnings);
    assert_fails("[general]\ntest_poll_interval_ms = 0\n",
                 "test.ini:2: test_poll_interval_ms: 0 is out of range (1-60000)");
    assert_fails("[general]\ntest_poll_interval_ms = 5\ntest_poll_interval_ms = 6\n",
                 "test.ini:3: test_poll_interval_ms: duplicate key");
}

Test(config, fuse_names_longer_than_16_bytes_or_not_valid_fail)
{
    assert_fails("[ftdi:X]\ndistributorDFuse3Name = 12345678901234567\n",
                 "test.ini:2: distributorDFuse3Name: '12345678901234567' is 17 bytes long in "
                 "UTF-8, at most 16 allowed");
    /* 9 characters, 18 bytes */
    assert_fails("[ftdi:X]\ndistributorDFuse3Name = ÄÖÜäöüÄÖÜ\n",
                 "test.ini:2: distributorDFuse3Name: 'ÄÖÜäöüÄÖÜ' is 18 bytes long in UTF-8, at "
                 "most 16 allowed");
    assert_fails("[ftdi:X]\ndistributorAFuse0Name = Batt\xff\n",
                 "test.ini:2: distributorAFuse0Name: not valid UTF-8");
    assert_fails("[ftdi:X]\ndistributorAFuse0Name = a\tb\n",
                 "test.ini:2: distributorAFuse0Name: contains a control character");
    assert_fails("[ftdi:X]\ndistributorAFuse0Name = Pump\xe2\x80\xae"
                 "1\n",
                 "test.ini:2: distributorAFuse0Name: contains a bidirectional override "
                 "(U+202A-U+202E or U+2066-U+2069)");
}

Test(config, fuse_name_of_16_bytes_is_kept)
{
    /* 8 characters, 16 bytes of UTF-8: as much as the Lynx firmware's field holds. */
    cr_assert_eq(load("[ftdi:X]\ndistributorBFuse1Name = ÄÖÜäöüÄÖ\n"), 0, "%s", cfg.error);
    cr_assert_str_eq(config_ftdi_section(&cfg, "X")->distributor[1].fuse_name[1], "ÄÖÜäöüÄÖ");
}

Test(config, custom_name_is_limited_to_32_characters)
{
    /* 32 characters, 36 bytes: a name with accents is not cut short by its bytes */
    cr_assert_eq(load("[ftdi:X]\nname = Ölbrenner Öltank Ölpumpe Ölfiltr\n"), 0, "%s", cfg.error);
    assert_fails("[ftdi:X]\nname = 123456789012345678901234567890123\n",
                 "test.ini:2: name: '123456789012345678901234567890123' is 33 characters long, at "
                 "most 32 allowed");
}

Test(config, unknown_sections_and_keys_warn_with_file_and_line_and_are_ignored)
{
    static const char text[] = "[general]\n"
                               "frobnicate = 1\n"
                               "[serial]\n"
                               "baud = 9600\n"
                               "parity = none\n"
                               "[ftdi:X]\n"
                               "distributorEInstalled = true\n"
                               "distributorAFuse0Colour = red\n";
    cr_assert_eq(load(text), 0, "%s", cfg.error);
    cr_assert(strstr(warnings, "test.ini:2: unknown key 'frobnicate' in [general], ignored"));
    cr_assert(strstr(warnings, "test.ini:4: unknown section [serial], ignored"), "%s", warnings);
    cr_assert_null(strstr(warnings, "test.ini:5:"), "one warning per unknown section");
    cr_assert(strstr(warnings, "test.ini:7: unknown key 'distributorEInstalled' in [ftdi:X], "
                               "ignored (distributors are A-D)"),
              "%s", warnings);
    cr_assert(strstr(warnings, "test.ini:8: unknown key 'distributorAFuse0Colour'"), "%s",
              warnings);
    cr_assert_eq(cfg.n_sections, 1);
}

Test(config, duplicate_keys_fail_like_configparser_strict_mode)
{
    assert_fails("[ftdi:X]\ndistributorAInstalled = true\nDistributorAInstalled = false\n",
                 "test.ini:3: DistributorAInstalled: duplicate key");
    assert_fails("[general]\nvid = 0x0403\nvid = 0x0403\n", "test.ini:3: vid: duplicate key");
}

Test(config, indented_continuation_lines_are_explained)
{
    assert_fails("[ftdi:X]\nname = Lynx\n  Distributor\n",
                 "test.ini:3: name: multi-line values are not supported (is this line indented "
                 "by mistake?)");
}

Test(config, syntax_errors_report_the_line)
{
    assert_fails("[general]\n; fine\n\nthis line has no value\n",
                 "test.ini:4: syntax error: expected [section], key = value, or a ; or # comment");
    assert_fails("[general\nvid = 1\n",
                 "test.ini:1: syntax error: expected [section], key = value, or a ; or # comment "
                 "(and 1 more error)");
    assert_fails("vid = 0x0403\n", "test.ini:1: vid: key outside any section (start with "
                                   "[general] or [ftdi:<serial>])");
    assert_fails("[ftdi:]\nname = x\n", "test.ini:1: section [ftdi:] names no serial number");
}

Test(config, the_earliest_error_is_reported_with_a_count_of_the_rest)
{
    /* inih reports its syntax error only after the whole file: it must still come first. */
    assert_fails("[general]\nbroken\nvid = nonsense\npid = 0x6014\npid = 0x6014\n",
                 "test.ini:2: syntax error: expected [section], key = value, or a ; or # comment "
                 "(and 2 more errors)");
}

Test(config, over_long_lines_are_refused_and_line_numbers_stay_right)
{
    char text[1024];
    char name[400];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text), "[ftdi:X]\nname = %s\ndistributorAInstalled = perhaps\n", name);
    cr_assert_eq(load(text), -EINVAL);
    cr_assert(strncmp(cfg.error, "test.ini:2: line too long", 25) == 0, "%s", cfg.error);
    cr_assert(strstr(cfg.error, "(and 1 more error)"), "%s", cfg.error);
}

/* A comment longer than inih's 198 characters is still a comment (up to 4096: see below). */
Test(config, long_comment_lines_are_comments_and_line_numbers_stay_right)
{
    char text[1024];
    char name[400];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text), "[ftdi:X]\n; %s\n  # %s\ndistributorAInstalled = perhaps\n", name,
             name);
    assert_fails(text, "test.ini:4: distributorAInstalled: 'perhaps' is not a boolean (true/false, "
                       "yes/no, on/off, 1/0)");
    snprintf(text, sizeof(text), "[general]\n# %s\npoll_interval_ms = 500\n", name);
    cr_assert_eq(load(text), 0, "%s", cfg.error);
    cr_assert_eq(cfg.poll_interval_ms, 500);
}

static int load_bytes(const char *text, size_t len)
{
    FILE *in = fmemopen((void *)text, len, "r");
    cr_assert_not_null(in);
    int rc = config_load_stream(&cfg, in, "test.ini");
    fclose(in);
    return rc;
}

/* inih stopped at the NUL: "500\0garbage" was read as 500. */
Test(config, a_nul_byte_is_refused_with_its_line)
{
    static const char text[] = "[general]\n\npoll_interval_ms=500\0garbage\n";
    cr_assert_eq(load_bytes(text, sizeof(text) - 1), -EINVAL);
    cr_assert_str_eq(cfg.error, "test.ini:3: contains a NUL byte (is this a text file?)");
}

Test(config, a_vid_or_pid_of_0_is_no_usb_id)
{
    assert_fails("[general]\nvid = 0\n", "test.ini:2: vid: 0 is no USB vendor id (FTDI's vendor "
                                         "id is 0x0403; the adapters' product ids 0xD4F8 or "
                                         "0x6014)");
    assert_fails("[general]\nvid = 0x0403\npid = 0x0000\n",
                 "test.ini:3: pid: 0 is no USB product id (FTDI's vendor id is 0x0403; the "
                 "adapters' product ids 0xD4F8 or 0x6014)");
}

Test(config, line_numbers_count_comments_blank_lines_and_crlf)
{
    assert_fails("\r\n# comment\r\n; other\r\n[ftdi:X]\r\n\r\ndistributorAInstalled = x\r\n",
                 "test.ini:6: distributorAInstalled: 'x' is not a boolean (true/false, yes/no, "
                 "on/off, 1/0)");
}

Test(config, default_section_applies_to_adapters_that_do_not_override)
{
    static const char text[] = "[ftdi:ONE]\n"
                               "distributorAInstalled = false\n"
                               "[DEFAULT]\n"
                               "distributorAInstalled = true\n"
                               "mounted_upside_down = yes\n"
                               "distributorAFuse2Name = Inverter\n"
                               "[ftdi:TWO]\n"
                               "distributorAFuse2Name = Charger\n";
    cr_assert_eq(load(text), 0, "%s", cfg.error);
    const struct config_section *one = config_ftdi_section(&cfg, "ONE");
    const struct config_section *two = config_ftdi_section(&cfg, "TWO");
    const struct config_section *other = config_ftdi_section(&cfg, "THREE");
    cr_assert_not(one->distributor[0].installed, "own value wins, whatever the order");
    cr_assert(two->distributor[0].installed);
    cr_assert(other->distributor[0].installed);
    cr_assert(one->distributor[3].upside_down);
    cr_assert(other->distributor[1].upside_down);
    cr_assert_str_eq(one->distributor[0].fuse_name[2], "Inverter");
    cr_assert_str_eq(two->distributor[0].fuse_name[2], "Charger");
}

/* Two sections for one serial were merged silently; configparser (the original project) refuses
 * them too. */
Test(config, a_second_section_for_the_same_serial_is_refused_naming_both_lines)
{
    assert_fails("[ftdi:X]\ndistributorAInstalled = 1\n[ftdi:Y]\n\n[ftdi:X]\n"
                 "distributorBInstalled = 1\n",
                 "test.ini:5: [ftdi:X] again (first at line 1): write each adapter's keys in one "
                 "section");
    cr_assert_eq(load("[ftdi:X]\ndistributorAInstalled = 1\n[ftdi:Y]\n"), 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_sections, 2, "a section without keys still names its adapter");
    cr_assert_neq(config_ftdi_section(&cfg, "Y"), &cfg.defaults);
}

/* inih cuts a section name at 49 characters and hands its keys the cut name: found by the config
 * fuzzer, when a later [ftdi:<the cut name>] read past the table of section lines. */
Test(config, section_names_longer_than_inih_keeps_are_refused_not_cut)
{
    char text[512];
    const char *cut =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVW"; /* "ftdi:" + 44 of it: inih's cut */
    snprintf(text, sizeof(text),
             "[ftdi:A]\ndistributorAInstalled = 1\n[ftdi:%sXYZ]\ndistributorBInstalled = 1\n"
             "[ftdi:%.44s]\ndistributorCInstalled = 1\n",
             cut, cut);
    assert_fails(text, "test.ini:3: section name too long (at most 49 characters) (and 1 more "
                       "error)");
    snprintf(text, sizeof(text), "[ftdi:%.44s]\ndistributorCInstalled = 1\n", cut);
    cr_assert_eq(load(text), 0, "49 characters are kept: %s", cfg.error);
    cr_assert_eq(cfg.n_sections, 1);
    cr_assert_eq(strlen(cfg.sections[0].serial), 44);
}

Test(config, inline_comments_and_colons_work_like_configparser)
{
    cr_assert_eq(load("[ftdi:X]\ndistributorAFuse1Name: Solar ; the roof\n"), 0, "%s", cfg.error);
    cr_assert_str_eq(config_ftdi_section(&cfg, "X")->distributor[0].fuse_name[1], "Solar");
}

Test(config, missing_file_reports_path_and_errno)
{
    cr_assert_eq(config_load(&cfg, "/nonexistent/lynx.ini"), -ENOENT);
    cr_assert_str_eq(cfg.error, "/nonexistent/lynx.ini: No such file or directory");
}

Test(config, repo_sample_file_loads_cleanly)
{
    int rc = config_load(&cfg, SOURCE_ROOT "/config.sample.ini");
    cr_assert_eq(rc, 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_usb_ids, 2);
    cr_assert_eq(cfg.poll_interval_ms, 1000);
    cr_assert_eq(cfg.i2c_speed_khz, 100);
    cr_assert_eq(cfg.comm_lost_polls, 3);
    /* a fresh install names no adapter: no phantom service, no alarm for an example serial */
    cr_assert_eq(cfg.n_sections, 0);
}

Test(config, reload_releases_the_previous_adapters)
{
    cr_assert_eq(load("[ftdi:A]\nname = a\n[ftdi:B]\nname = b\n"), 0);
    cr_assert_eq(cfg.n_sections, 2);
    cr_assert_eq(load("[ftdi:C]\nname = c\n"), 0);
    cr_assert_eq(cfg.n_sections, 1);
    cr_assert_eq(config_ftdi_section(&cfg, "A"), &cfg.defaults);
    cr_assert_str_eq(config_ftdi_section(&cfg, "C")->name, "c");
    cr_assert_str_eq(cfg.error, "");
}

Test(config, i2c_sections_name_linux_buses_apart_from_ftdi_serials)
{
    cr_assert_eq(load("[DEFAULT]\ndistributorBInstalled = 1\n"
                      "[i2c:1]\nname = Pi bus\ndistributorAInstalled = true\n"
                      "[i2c: 12 ]\n"
                      "[ftdi:i2c-1]\nname = FTDI serial like a bus\n"),
                 0, "%s", cfg.error);
    cr_assert_eq(cfg.n_sections, 3);
    const struct config_section *pi = config_i2c_section(&cfg, 1);
    cr_assert_str_eq(pi->serial, "i2c-1");
    cr_assert_eq(pi->i2c_bus, 1);
    cr_assert_str_eq(pi->name, "Pi bus");
    cr_assert(pi->distributor[0].installed);
    cr_assert(pi->distributor[1].installed, "[DEFAULT] applies to i2c sections too");
    cr_assert_eq(config_i2c_section(&cfg, 12)->i2c_bus, 12, "blanks around the number are fine");
    cr_assert_eq(config_i2c_section(&cfg, 2), &cfg.defaults);
    /* the FTDI serial "i2c-1" and the bus 1 are different adapters */
    const struct config_section *ftdi = config_ftdi_section(&cfg, "i2c-1");
    cr_assert_eq(ftdi->i2c_bus, -1);
    cr_assert_str_eq(ftdi->name, "FTDI serial like a bus");
    cr_assert_eq(config_ftdi_section(&cfg, "I2C-12"), &cfg.defaults,
                 "a bus is never an FTDI serial");
}

Test(config, bad_i2c_sections_fail_with_the_line_and_what_a_bus_number_is)
{
    /* at the header, with keys or without: a section that names no adapter is never ignored */
    assert_fails("[i2c:one]\nname = a\n",
                 "test.ini:1: section [i2c:one] names no bus number (the N of /dev/i2c-N, 0-1023)");
    assert_fails("[general]\n[i2c:-1]\n",
                 "test.ini:2: section [i2c:-1] names no bus number (the N of /dev/i2c-N, 0-1023)");
    assert_fails("[i2c:1024]\n", "test.ini:1: section [i2c:1024] names no bus number "
                                 "(the N of /dev/i2c-N, 0-1023)");
    assert_fails("[i2c:0x1]\n", "test.ini:1: section [i2c:0x1] names no bus number "
                                "(the N of /dev/i2c-N, 0-1023)");
    assert_fails("[ftdi:]\n", "test.ini:1: section [ftdi:] names no serial number");
    assert_fails("[i2c:3]\nname = a\n[i2c:03]\nname = b\n",
                 "test.ini:3: [i2c:03] again (first at line 1): write each adapter's keys in one "
                 "section (and 1 more error)");
}
