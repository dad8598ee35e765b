/* libFuzzer target: the configuration parser (config_load_stream) on arbitrary file contents.
 * Besides the sanitizers' checks it asserts the parser's contract: a load either fails with a
 * message and leaves the defaults, or yields values inside their documented ranges and fuse names
 * the GUI accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "fuzz_util.h"

static void check_adapter(const struct config_section *a)
{
    check(name_check(a->name, &name_limit_custom, NULL) == NAME_OK,
          "a loaded adapter name is not valid");
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct lynx_distributor_setup setup;
        config_lynx_setup(a, d, &setup);
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            check(name_check(a->distributor[d].fuse_name[f], &name_limit_fuse, NULL) == NAME_OK,
                  "a loaded fuse name is not valid");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f)
        return 0;
    struct config cfg;
    config_init(&cfg);
    int rc = config_load_stream(&cfg, f, "fuzz.ini");
    fclose(f);
    if (rc < 0) {
        check(cfg.error[0] != '\0', "a failed load left no message");
        check(cfg.n_sections == 0 && cfg.sections == NULL, "a failed load kept adapters");
    } else {
        check(cfg.error[0] == '\0', "a good load left a message");
        check(cfg.poll_interval_ms >= CONFIG_TEST_POLL_INTERVAL_MS_MIN &&
                  cfg.poll_interval_ms <= CONFIG_POLL_INTERVAL_MS_MAX,
              "poll_interval_ms out of range");
        check(cfg.i2c_speed_khz >= CONFIG_I2C_SPEED_KHZ_MIN &&
                  cfg.i2c_speed_khz <= CONFIG_I2C_SPEED_KHZ_MAX,
              "i2c_speed_khz out of range");
        check(cfg.comm_lost_polls >= CONFIG_COMM_LOST_POLLS_MIN &&
                  cfg.comm_lost_polls <= CONFIG_COMM_LOST_POLLS_MAX,
              "comm_lost_polls out of range");
        check(cfg.n_usb_ids >= 1 && cfg.n_usb_ids <= CONFIG_MAX_USB_IDS, "no USB id to look for");
        check_adapter(&cfg.defaults);
        for (size_t i = 0; i < cfg.n_sections; i++) {
            check(cfg.sections[i].serial && cfg.sections[i].serial[0], "adapter without serial");
            const struct config_section *a = &cfg.sections[i];
            if (a->i2c_bus >= 0) {
                /* "i2c-N" is how an [i2c:N] section is shown, never an FTDI serial to match. */
                check(config_i2c_section(&cfg, (unsigned)a->i2c_bus) == a,
                      "lookup by bus finds another adapter");
                check(config_ftdi_section(&cfg, a->serial) != a,
                      "an FTDI serial matched an i2c bus");
            } else {
                check(config_ftdi_section(&cfg, a->serial) == a,
                      "lookup by serial finds another adapter");
            }
            check_adapter(&cfg.sections[i]);
        }
    }
    config_free(&cfg);
    return 0;
}
