/* The configuration file: INI -> typed settings, per adapter (an FTDI adapter by its USB serial
 * number, a Linux I2C bus by its number). config_load.c reads the file; config.c holds the
 * result and answers lookups in it.
 *
 * Accepts the original project's files unchanged (Python configparser conventions: key names
 * case-insensitive, section names case-sensitive, booleans true/false yes/no on/off 1/0 in any
 * case, `;`/`#` comments, `=` or `:`, a [DEFAULT] section whose adapter keys apply to every
 * adapter that does not set them itself):
 *
 *   [general]        vid, pid (hex 0x.. or decimal), poll_interval_ms, i2c_speed_khz,
 *                    comm_lost_polls, test_poll_interval_ms (testing only: overrides
 *                    poll_interval_ms down to 1 ms, for soak tests against the simulator)
 *   [ftdi:<serial>]  name, mounted_upside_down, distributor{A-D}Installed,
 *                    distributor{A-D}UpsideDown, distributor{A-D}Fuse{0-3}Name,
 *                    distributor{A-D}Fuse{0-3}Installed
 *   [i2c:<N>]        the same keys, for the Linux I2C bus /dev/i2c-N (Raspberry Pi pins,
 *                    CP2112, ...): only buses named so are used
 *
 * Fuse numbers in keys are physical (see lynx.h): they do not change with upside-down mounting.
 * distributorXUpsideDown overrides the adapter-wide mounted_upside_down for one distributor.
 *
 * Unknown sections and keys are logged as warnings (file:line) and ignored. A bad value, a
 * duplicate key or a syntax error fails the load: the first problem is left in cfg->error as
 * `file:line: what is wrong` (libftdi style: the caller prints it). The swapped vid/pid of the
 * original sample (pid = 0x0403, FTDI's vendor id) is swapped back with a warning. */
#ifndef LYNX_CONFIG_H
#define LYNX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lynx/lynx.h"
#include "transport/mpsse/usb_ids.h"
#include "venus/name.h"

#define CONFIG_MAX_USB_IDS 2
#define CONFIG_I2C_BUS_MAX 1023 /* highest N of [i2c:N] */
#define CONFIG_ERROR_MAX   256

#define CONFIG_POLL_INTERVAL_MS_DEFAULT 1000
#define CONFIG_POLL_INTERVAL_MS_MIN     100
#define CONFIG_POLL_INTERVAL_MS_MAX     60000
#define CONFIG_I2C_SPEED_KHZ_DEFAULT    100
#define CONFIG_I2C_SPEED_KHZ_MIN        10
#define CONFIG_I2C_SPEED_KHZ_MAX        400
#define CONFIG_COMM_LOST_POLLS_DEFAULT  3
#define CONFIG_COMM_LOST_POLLS_MIN      1
#define CONFIG_COMM_LOST_POLLS_MAX      100
/* test_poll_interval_ms: for soak tests against the simulator only */
#define CONFIG_TEST_POLL_INTERVAL_MS_MIN 1

struct config_distributor {
    bool installed;                  /* default false: absence raises no alarm */
    bool upside_down;                /* resolved: own key, else mounted_upside_down */
    bool fuse_installed[LYNX_FUSES]; /* by physical index, default true */
    char fuse_name[LYNX_FUSES][NAME_FUSE_MAX_BYTES + 1]; /* by physical index, "" = not set */
};

struct config_section {
    char *serial; /* NULL for the defaults; "i2c-N" for an [i2c:N] section */
    int i2c_bus;  /* N of [i2c:N]; -1 for an FTDI adapter (and the defaults) */
    char name[NAME_CUSTOM_MAX_BYTES + 1]; /* "" = not set */
    bool mounted_upside_down;
    struct config_distributor distributor[LYNX_DISTRIBUTORS];
    uint64_t keys_set; /* which keys the file set (bookkeeping for duplicates and [DEFAULT]) */
};

struct config {
    /* Adapters to look for. Default: 0403:D4F8 and 0403:6014; a vid without pid looks for both
     * PIDs under that vid. */
    struct usb_id usb_ids[CONFIG_MAX_USB_IDS];
    size_t n_usb_ids;
    unsigned poll_interval_ms;
    unsigned i2c_speed_khz;
    unsigned comm_lost_polls;        /* consecutive failed polls before "communications lost" */
    struct config_section defaults;  /* adapters without a section */
    struct config_section *sections; /* one per [ftdi:...] or [i2c:...] section */
    size_t n_sections;
    char error[CONFIG_ERROR_MAX]; /* "" or why the last load failed */
};

/* The built-in defaults (what an empty file gives). */
void config_init(struct config *cfg);
/* Release what a load allocated; cfg is back to the defaults. */
void config_free(struct config *cfg);

/* Load a file into a cfg that went through config_init (or an earlier load, whose allocations
 * are released first). Starts from the defaults. Returns 0, -errno when the file cannot be
 * opened, -EINVAL for a bad file, -EIO, -ENOMEM; on failure cfg->error says why (the first
 * problem, `file:line: ...`, plus how many more there were) and cfg holds the defaults. */
int config_load(struct config *cfg, const char *path);
/* The same from an open stream; name is used in messages. */
int config_load_stream(struct config *cfg, FILE *stream, const char *name);

/* Whether two serial numbers name the same adapter: blanks around them ignored, letters in any
 * case (FTDI serials are upper-case letters and digits; users copy them from labels and logs as
 * they come: "[ftdi: lynx0001]" names LYNX0001). */
bool config_serial_equal(const char *a, const char *b);

/* The settings for the FTDI adapter with this serial number (config_serial_equal): its
 * [ftdi:...] section, else the defaults. */
const struct config_section *config_ftdi_section(const struct config *cfg, const char *serial);

/* The settings of the i2c-dev bus N: its [i2c:N] section, else the defaults. */
const struct config_section *config_i2c_section(const struct config *cfg, unsigned bus);

/* The decoder's view of one distributor (0..3) of a section. */
void config_lynx_setup(const struct config_section *section, unsigned distributor,
                       struct lynx_distributor_setup *out);

#endif
