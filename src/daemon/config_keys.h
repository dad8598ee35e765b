/* Inside the configuration (config.c, config_load.c; nobody else includes this): the keys a
 * section holds, with a bit each in config_section.keys_set, and the section table's helpers the
 * reader of the file (config_load.c) builds on. */
#ifndef LYNX_CONFIG_KEYS_H
#define LYNX_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

enum section_key_kind {
    KEY_NAME,
    KEY_MOUNTED_UPSIDE_DOWN,
    KEY_INSTALLED,
    KEY_UPSIDE_DOWN,
    KEY_FUSE_NAME,
    KEY_FUSE_INSTALLED,
};

/* One key of an [ftdi:...], [i2c:N] or [DEFAULT] section. */
struct section_key {
    enum section_key_kind kind;
    unsigned distributor, fuse;
};

/* Bit of a key in keys_set. */
unsigned section_key_bit(const struct section_key *k);

/* Parses a lower-cased key name. Returns 0, or -1 for an unknown key with *hint set (may be "")
 * to append to the warning. */
int section_key_parse(const char *key, struct section_key *out, const char **hint);

/* A section with nothing set: no name, not upside down, no distributor installed, every fuse
 * installed. */
void config_section_init(struct config_section *section);

/* The default ids to look for under vid: the Lynx adapter's PID and the FT232H's. */
void config_default_usb_ids(struct config *cfg, uint16_t vid);

/* s without the blanks around it: the start, and its length in *len. */
const char *config_trim(const char *s, size_t *len);

/* The section of an FTDI adapter (bus -1, by serial) or of an i2c-dev bus; NULL when none. */
struct config_section *config_find_section(const struct config *cfg, const char *serial, int bus);

/* After a good load: [DEFAULT]'s keys fill in what a section does not set, and a distributor
 * without its own UpsideDown key takes its section's mounted_upside_down. */
void config_finish_sections(struct config *cfg);

#endif
