/* The configuration in memory: the built-in defaults, the table of [ftdi:...] and [i2c:N]
 * sections and the lookups in it, and the keys a section holds (their names, their bits in
 * keys_set, and how [DEFAULT] fills in the ones a section does not set). Reading the INI file is
 * config_load.c's job. */
#include "daemon/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/config_keys.h"

/* ---- defaults and lookup -------------------------------------------------------------- */

void config_section_init(struct config_section *section)
{
    memset(section, 0, sizeof(*section));
    section->i2c_bus = -1;
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++)
        for (unsigned f = 0; f < LYNX_FUSES; f++)
            section->distributor[d].fuse_installed[f] = true;
}

void config_default_usb_ids(struct config *cfg, uint16_t vid)
{
    cfg->usb_ids[0] = (struct usb_id){vid, FTDI_LYNX_ADAPTER_PID};
    cfg->usb_ids[1] = (struct usb_id){vid, FTDI_FT232H_PID};
    cfg->n_usb_ids = 2;
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    config_default_usb_ids(cfg, FTDI_VID);
    cfg->poll_interval_ms = CONFIG_POLL_INTERVAL_MS_DEFAULT;
    cfg->i2c_speed_khz = CONFIG_I2C_SPEED_KHZ_DEFAULT;
    cfg->comm_lost_polls = CONFIG_COMM_LOST_POLLS_DEFAULT;
    config_section_init(&cfg->defaults);
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        free(cfg->sections[i].serial);
    free(cfg->sections);
    char error[CONFIG_ERROR_MAX];
    memcpy(error, cfg->error, sizeof(error));
    config_init(cfg);
    memcpy(cfg->error, error, sizeof(error));
}

const char *config_trim(const char *s, size_t *len)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

bool config_serial_equal(const char *a, const char *b)
{
    size_t na, nb;
    a = config_trim(a, &na);
    b = config_trim(b, &nb);
    return na == nb && strncasecmp(a, b, na) == 0;
}

struct config_section *config_find_section(const struct config *cfg, const char *serial, int bus)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (cfg->sections[i].i2c_bus == bus &&
            (bus >= 0 || config_serial_equal(cfg->sections[i].serial, serial)))
            return &cfg->sections[i];
    return NULL;
}

const struct config_section *config_ftdi_section(const struct config *cfg, const char *serial)
{
    const struct config_section *section = serial ? config_find_section(cfg, serial, -1) : NULL;
    return section ? section : &cfg->defaults;
}

const struct config_section *config_i2c_section(const struct config *cfg, unsigned bus)
{
    const struct config_section *section = config_find_section(cfg, NULL, (int)bus);
    return section ? section : &cfg->defaults;
}

void config_lynx_setup(const struct config_section *section, unsigned distributor,
                       struct lynx_distributor_setup *out)
{
    const struct config_distributor *d = &section->distributor[distributor];
    out->installed = d->installed;
    out->upside_down = d->upside_down;
    memcpy(out->fuse_installed, d->fuse_installed, sizeof(out->fuse_installed));
}

/* ---- section keys --------------------------------------------------------------------- */

/* 0 name, 1 mounted_upside_down, then 10 per distributor. */
unsigned section_key_bit(const struct section_key *k)
{
    switch (k->kind) {
    case KEY_NAME:
        return 0;
    case KEY_MOUNTED_UPSIDE_DOWN:
        return 1;
    case KEY_INSTALLED:
        return 2 + k->distributor * 10;
    case KEY_UPSIDE_DOWN:
        return 2 + k->distributor * 10 + 1;
    case KEY_FUSE_NAME:
        return 2 + k->distributor * 10 + 2 + k->fuse;
    case KEY_FUSE_INSTALLED:
    default:
        return 2 + k->distributor * 10 + 6 + k->fuse;
    }
}

#define SECTION_KEY_BITS (2 + LYNX_DISTRIBUTORS * 10)

static struct section_key key_from_bit(unsigned bit)
{
    if (bit == 0)
        return (struct section_key){.kind = KEY_NAME};
    if (bit == 1)
        return (struct section_key){.kind = KEY_MOUNTED_UPSIDE_DOWN};
    unsigned d = (bit - 2) / 10, r = (bit - 2) % 10;
    if (r == 0)
        return (struct section_key){.kind = KEY_INSTALLED, .distributor = d};
    if (r == 1)
        return (struct section_key){.kind = KEY_UPSIDE_DOWN, .distributor = d};
    if (r < 6)
        return (struct section_key){.kind = KEY_FUSE_NAME, .distributor = d, .fuse = r - 2};
    return (struct section_key){.kind = KEY_FUSE_INSTALLED, .distributor = d, .fuse = r - 6};
}

int section_key_parse(const char *key, struct section_key *out, const char **hint)
{
    *hint = "";
    if (strcmp(key, "name") == 0) {
        *out = (struct section_key){.kind = KEY_NAME};
        return 0;
    }
    if (strcmp(key, "mounted_upside_down") == 0) {
        *out = (struct section_key){.kind = KEY_MOUNTED_UPSIDE_DOWN};
        return 0;
    }
    if (strncmp(key, "distributor", 11) != 0 || !islower((unsigned char)key[11]))
        return -1;
    char letter = key[11];
    const char *rest = key + 12;
    if (letter > 'd') {
        *hint = " (distributors are A-D)";
        return -1;
    }
    out->distributor = (unsigned)(letter - 'a');
    out->fuse = 0;
    if (strcmp(rest, "installed") == 0) {
        out->kind = KEY_INSTALLED;
        return 0;
    }
    if (strcmp(rest, "upsidedown") == 0) {
        out->kind = KEY_UPSIDE_DOWN;
        return 0;
    }
    if (strncmp(rest, "fuse", 4) != 0 || !isdigit((unsigned char)rest[4]))
        return -1;
    const char *what = rest + 5;
    if (strcmp(what, "name") != 0 && strcmp(what, "installed") != 0)
        return -1;
    if (rest[4] > '3') {
        *hint = " (fuses are numbered 0-3)";
        return -1;
    }
    out->fuse = (unsigned)(rest[4] - '0');
    out->kind = strcmp(what, "name") == 0 ? KEY_FUSE_NAME : KEY_FUSE_INSTALLED;
    return 0;
}

static void copy_key(struct config_section *dst, const struct config_section *src,
                     const struct section_key *k)
{
    struct config_distributor *dd = &dst->distributor[k->distributor];
    const struct config_distributor *sd = &src->distributor[k->distributor];
    switch (k->kind) {
    case KEY_NAME:
        memcpy(dst->name, src->name, sizeof(dst->name));
        break;
    case KEY_MOUNTED_UPSIDE_DOWN:
        dst->mounted_upside_down = src->mounted_upside_down;
        break;
    case KEY_INSTALLED:
        dd->installed = sd->installed;
        break;
    case KEY_UPSIDE_DOWN:
        dd->upside_down = sd->upside_down;
        break;
    case KEY_FUSE_NAME:
        memcpy(dd->fuse_name[k->fuse], sd->fuse_name[k->fuse], sizeof(dd->fuse_name[0]));
        break;
    case KEY_FUSE_INSTALLED:
        dd->fuse_installed[k->fuse] = sd->fuse_installed[k->fuse];
        break;
    }
    dst->keys_set |= UINT64_C(1) << section_key_bit(k);
}

static void finish_section(struct config_section *section, const struct config_section *defaults)
{
    if (defaults) {
        for (unsigned bit = 0; bit < SECTION_KEY_BITS; bit++) {
            uint64_t mask = UINT64_C(1) << bit;
            if ((defaults->keys_set & mask) && !(section->keys_set & mask)) {
                struct section_key k = key_from_bit(bit);
                copy_key(section, defaults, &k);
            }
        }
    }
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        struct section_key k = {.kind = KEY_UPSIDE_DOWN, .distributor = d};
        if (!(section->keys_set & (UINT64_C(1) << section_key_bit(&k))))
            section->distributor[d].upside_down = section->mounted_upside_down;
    }
}

void config_finish_sections(struct config *cfg)
{
    finish_section(&cfg->defaults, NULL);
    for (size_t i = 0; i < cfg->n_sections; i++)
        finish_section(&cfg->sections[i], &cfg->defaults);
}
