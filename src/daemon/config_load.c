/* Reading the configuration file (config.h): inih splits it into sections and keys; this checks
 * every line and value, keeps the first error with its file:line, and fills in a struct config
 * through the section table of config.c. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "daemon/config.h"
#include "daemon/config_keys.h"
#include "venus/name.h"

#define KEY_MAX 64 /* longest key name we recognise is far shorter */
/* inih keeps at most 49 characters of a section name (its MAX_SECTION, 50) and silently cuts
 * the rest: a longer [ftdi:...] would configure an adapter named by the cut. */
#define INIH_SECTION_NAME_MAX 49
#define SECTION_MAX           (INIH_SECTION_NAME_MAX + 1)
/* Bounds on what is read, so that no input (a huge comment, /dev/zero, an endless pipe) can make
 * the daemon allocate or read without end: inih itself takes lines of at most INI_MAX_LINE - 2
 * characters (198); a comment line may be longer, up to CONFIG_COMMENT_MAX characters; the whole
 * file up to CONFIG_FILE_MAX bytes. Past either, the file is refused at that line. */
#define CONFIG_COMMENT_MAX 4096
#define CONFIG_FILE_MAX    (1024 * 1024)

/* "ftdi:<serial>" in any case: the serial, trimmed, into buf, *bus -1; "i2c:<N>": "i2c-N" into
 * buf, *bus N, or "" when N is not a bus number; NULL for another section. */
static const char *section_serial(const char *section, char *buf, size_t size, int *bus)
{
    size_t n;
    *bus = -1;
    if (strncasecmp(section, "i2c:", 4) == 0) {
        const char *s = config_trim(section + 4, &n);
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        buf[0] = '\0';
        if (n > 0 && isdigit((unsigned char)*s) && (size_t)(end - s) == n &&
            v <= CONFIG_I2C_BUS_MAX) {
            *bus = (int)v;
            snprintf(buf, size, "i2c-%lu", v);
        }
        return buf;
    }
    if (strncasecmp(section, "ftdi:", 5) != 0)
        return NULL;
    const char *s = config_trim(section + 5, &n);
    snprintf(buf, size, "%.*s", (int)n, s);
    return buf;
}

/* ---- the parser ----------------------------------------------------------------------- */

struct parser {
    struct config *cfg;
    const char *name; /* file name for messages */
    FILE *stream;
    char line_buf[CONFIG_COMMENT_MAX + 2]; /* a line, its newline and a NUL */
    size_t bytes;                          /* read so far */
    bool stopped;                          /* a line that cannot be read: the file ends there */
    int line;                              /* number of the line inih is working on */
    bool line_indented; /* it starts with white space: a continuation line for inih */
    int errors;
    int error_line; /* line of the message in cfg->error */
    bool out_of_memory;
    char warned_section[128]; /* last unknown section warned about, to warn once */
    int warned_section_line;
    int *section_line; /* per cfg->sections entry: the line of its [ftdi:...] section */
    int header_line;   /* the latest [section] line read */
    bool vid_set, pid_set;
    uint16_t vid, pid;
    int pid_line;
    unsigned general_set;           /* bit per general key, for duplicates */
    unsigned test_poll_interval_ms; /* 0 = not set */
};

static void fail_at(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an error. The message of the earliest line is kept (inih reports its syntax errors only
 * at the end). */
static void fail_at(struct parser *p, int line, const char *fmt, ...)
{
    if (p->errors++ > 0 && line >= p->error_line)
        return;
    p->error_line = line;
    int n = snprintf(p->cfg->error, sizeof(p->cfg->error), "%s:%d: ", p->name, line);
    if (n < 0 || (size_t)n >= sizeof(p->cfg->error))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->cfg->error + n, sizeof(p->cfg->error) - (size_t)n, fmt, ap);
    va_end(ap);
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static void fail_duplicate(struct parser *p, const char *key)
{
    if (p->line_indented)
        fail(p, "%s: multi-line values are not supported (is this line indented by mistake?)", key);
    else
        fail(p, "%s: duplicate key", key);
}

/* inih's reader callback, called once per line: keeps our line count in step with inih's. */
/* The first entry of a section: a second [ftdi:X] would silently merge into the first. */
static int note_section(struct parser *p, const char *section);

/* One line into p->line_buf (with its newline, if any): its length; 0 at the end of the file. A
 * line that cannot be taken stops the reading with an error at that line (and -1): a NUL byte, a
 * line longer than CONFIG_COMMENT_MAX, a file longer than CONFIG_FILE_MAX, a read error. A read
 * error is never taken for the end of the file. */
static ssize_t next_line(struct parser *p)
{
    size_t n = 0;
    int c = EOF;
    while (n < sizeof(p->line_buf) - 1 && (c = getc(p->stream)) != EOF) {
        p->line_buf[n++] = (char)c;
        if (++p->bytes > CONFIG_FILE_MAX) {
            fail(p, "the file is longer than %d bytes: is it the right file?", CONFIG_FILE_MAX);
            return -1;
        }
        if (c == '\0') {
            /* inih would stop at the NUL: "500\0garbage" would read as 500 */
            fail(p, "contains a NUL byte (is this a text file?)");
            return -1;
        }
        if (c == '\n')
            break;
    }
    p->line_buf[n] = '\0';
    if (c == EOF && ferror(p->stream)) {
        fail(p, "cannot read: %s", strerror(errno ? errno : EIO));
        return -1;
    }
    if (n == sizeof(p->line_buf) - 1 && c != '\n') {
        fail(p, "line too long (at most %d characters)", CONFIG_COMMENT_MAX);
        return -1;
    }
    return (ssize_t)n;
}

static char *read_line(char *str, int num, void *stream)
{
    struct parser *p = stream;
    if (p->stopped)
        return NULL;
    p->line++;
    ssize_t n = next_line(p);
    if (n <= 0) {
        p->stopped = true;
        return NULL;
    }
    p->line_indented = p->line_buf[0] == ' ' || p->line_buf[0] == '\t';
    const char *bracket = p->line_buf + strspn(p->line_buf, " \t");
    if (*bracket == '[') {
        p->header_line = p->line;
        /* A section counts from its header, keys or not: "[ftdi:X]" alone claims adapter X. */
        const char *end = strchr(bracket, ']');
        int len = end ? (int)(end - bracket - 1) : -1;
        if (len > INIH_SECTION_NAME_MAX) {
            fail(p, "section name too long (at most %d characters)", INIH_SECTION_NAME_MAX);
        } else if (len >= 0) {
            char section[SECTION_MAX];
            snprintf(section, sizeof(section), "%.*s", len, bracket + 1);
            note_section(p, section);
        }
    }
    if (n > num - 1) {
        const char *text = p->line_buf + strspn(p->line_buf, " \t");
        if (*text != ';' && *text != '#') /* a long comment is still a comment */
            fail(p, "line too long (at most %d characters)", num - 2);
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    memcpy(str, p->line_buf, (size_t)n + 1);
    return str;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Hex with 0x, or decimal. A decimal with a leading zero is refused (0403 looks like hex). */
static bool parse_number(struct parser *p, const char *key, const char *v, unsigned long min,
                         unsigned long max, bool hex_in_message, unsigned long *out)
{
    const char *digits = v;
    int base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        digits = v + 2;
        base = 16;
    }
    bool ok = isxdigit((unsigned char)digits[0]) != 0;
    for (const char *c = digits; ok && *c; c++)
        ok = base == 16 ? isxdigit((unsigned char)*c) != 0 : isdigit((unsigned char)*c) != 0;
    if (!ok) {
        fail(p, "%s: '%s' is not a number (write decimal, or hex as 0x...)", key, v);
        return false;
    }
    if (base == 10 && digits[0] == '0' && digits[1]) {
        fail(p, "%s: '%s' has a leading zero: write 0x%s for hex, or drop the zero", key, v,
             digits);
        return false;
    }
    errno = 0;
    unsigned long n = strtoul(digits, NULL, base);
    if (errno == ERANGE || n < min || n > max) {
        if (hex_in_message)
            fail(p, "%s: %s is out of range (0x%lX-0x%lX)", key, v, min, max);
        else
            fail(p, "%s: %s is out of range (%lu-%lu)", key, v, min, max);
        return false;
    }
    *out = n;
    return true;
}

static void set_name(struct parser *p, const char *key, const char *value, char *dst,
                     const struct name_limit *limit)
{
    size_t chars = 0;
    enum name_check rc = name_check(value, limit, &chars);
    if (rc == NAME_TOO_LONG && strlen(value) > limit->max_bytes)
        fail(p, "%s: '%s' is %zu bytes long in UTF-8, at most %zu allowed", key, value,
             strlen(value), limit->max_bytes);
    else if (rc == NAME_TOO_LONG)
        fail(p, "%s: '%s' is %zu characters long, at most %zu allowed", key, value, chars,
             limit->max_chars);
    else if (rc != NAME_OK)
        fail(p, "%s: %s", key, name_check_message(rc));
    else
        strcpy(dst, value); /* within limit->max_bytes: dst holds that many */
}

static void set_section_key(struct parser *p, struct config_section *section,
                            const struct section_key *k, const char *key, const char *value)
{
    uint64_t bit = UINT64_C(1) << section_key_bit(k);
    if (section->keys_set & bit) {
        fail_duplicate(p, key);
        return;
    }
    section->keys_set |= bit;

    struct config_distributor *d = &section->distributor[k->distributor];
    bool *flag = NULL;
    switch (k->kind) {
    case KEY_NAME:
        set_name(p, key, value, section->name, &name_limit_custom);
        return;
    case KEY_FUSE_NAME:
        set_name(p, key, value, d->fuse_name[k->fuse], &name_limit_fuse);
        return;
    case KEY_MOUNTED_UPSIDE_DOWN:
        flag = &section->mounted_upside_down;
        break;
    case KEY_INSTALLED:
        flag = &d->installed;
        break;
    case KEY_UPSIDE_DOWN:
        flag = &d->upside_down;
        break;
    case KEY_FUSE_INSTALLED:
        flag = &d->fuse_installed[k->fuse];
        break;
    }
    if (!parse_bool(value, flag))
        fail(p, "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", key, value);
}

static struct config_section *section_for_serial(struct parser *p, const char *serial, int bus)
{
    struct config *cfg = p->cfg;
    struct config_section *found = config_find_section(cfg, serial, bus);
    if (found)
        return found;
    struct config_section *grown =
        realloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*cfg->sections));
    if (!grown)
        return NULL;
    cfg->sections = grown;
    /* Grown with the sections, whichever of note_section or handle_entry creates one: inih can
     * hand a key a section that read_line did not see as a header (it cuts long names). */
    int *lines = realloc(p->section_line, (cfg->n_sections + 1) * sizeof(*lines));
    if (!lines)
        return NULL;
    p->section_line = lines;
    lines[cfg->n_sections] = p->header_line;
    struct config_section *added = &cfg->sections[cfg->n_sections];
    config_section_init(added);
    added->i2c_bus = bus;
    added->serial = strdup(serial);
    if (!added->serial)
        return NULL;
    cfg->n_sections++;
    return added;
}

static void handle_general(struct parser *p, const char *key, const char *lkey, const char *value)
{
    static const char *const keys[] = {"vid",
                                       "pid",
                                       "poll_interval_ms",
                                       "i2c_speed_khz",
                                       "comm_lost_polls",
                                       "test_poll_interval_ms"};
    size_t i = 0;
    while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(lkey, keys[i]) != 0)
        i++;
    if (i == sizeof(keys) / sizeof(keys[0])) {
        log_warn("%s:%d: unknown key '%s' in [general], ignored", p->name, p->line, key);
        return;
    }
    if (p->general_set & (1u << i)) {
        fail_duplicate(p, key);
        return;
    }
    p->general_set |= 1u << i;

    struct config *cfg = p->cfg;
    unsigned long n;
    switch (i) {
    case 0:
    case 1:
        if (!parse_number(p, key, value, 0, 0xFFFF, true, &n))
            return;
        if (n == 0) {
            fail(p,
                 "%s: 0 is no USB %s id (FTDI's vendor id is 0x0403; the adapters' product "
                 "ids 0x%04X or 0x%04X)",
                 key, i == 0 ? "vendor" : "product", FTDI_LYNX_ADAPTER_PID, FTDI_FT232H_PID);
            return;
        }
        if (i == 0) {
            p->vid = (uint16_t)n;
            p->vid_set = true;
        } else {
            p->pid = (uint16_t)n;
            p->pid_set = true;
            p->pid_line = p->line;
        }
        return;
    case 2:
        if (parse_number(p, key, value, CONFIG_POLL_INTERVAL_MS_MIN, CONFIG_POLL_INTERVAL_MS_MAX,
                         false, &n))
            cfg->poll_interval_ms = (unsigned)n;
        return;
    case 3:
        if (parse_number(p, key, value, CONFIG_I2C_SPEED_KHZ_MIN, CONFIG_I2C_SPEED_KHZ_MAX, false,
                         &n))
            cfg->i2c_speed_khz = (unsigned)n;
        return;
    case 4:
        if (parse_number(p, key, value, CONFIG_COMM_LOST_POLLS_MIN, CONFIG_COMM_LOST_POLLS_MAX,
                         false, &n))
            cfg->comm_lost_polls = (unsigned)n;
        return;
    default:
        if (parse_number(p, key, value, CONFIG_TEST_POLL_INTERVAL_MS_MIN,
                         CONFIG_POLL_INTERVAL_MS_MAX, false, &n)) {
            p->test_poll_interval_ms = (unsigned)n;
            log_warn("%s:%d: %s = %lu is for testing against the simulator only", p->name, p->line,
                     key, n);
        }
        return;
    }
}

static void warn_unknown_section(struct parser *p, const char *section)
{
    if (strcmp(p->warned_section, section) == 0 && p->warned_section_line > 0)
        return;
    snprintf(p->warned_section, sizeof(p->warned_section), "%s", section);
    p->warned_section_line = p->line;
    log_warn("%s:%d: unknown section [%s], ignored (known: [general], [ftdi:<serial>], "
             "[i2c:<bus number>])",
             p->name, p->line, section);
}

/* [ftdi:] or [i2c:x]: an adapter section that names no adapter, keys or not. */
static void fail_nameless(struct parser *p, int line, const char *section)
{
    fail_at(p, line,
            strncasecmp(section, "i2c:", 4) == 0
                ? "section [%s] names no bus number (the N of /dev/i2c-N, 0-%d)"
                : "section [%s] names no serial number",
            section, CONFIG_I2C_BUS_MAX);
}

static int note_section(struct parser *p, const char *section)
{
    char buf[SECTION_MAX];
    int bus;
    const char *serial = section_serial(section, buf, sizeof(buf), &bus);
    if (!serial)
        return 0;
    if (!serial[0]) { /* its keys, if any, are refused by handle_entry: one message */
        fail_nameless(p, p->header_line, section);
        return 0;
    }
    const struct config *cfg = p->cfg;
    const struct config_section *first = config_find_section(cfg, serial, bus);
    if (first) {
        fail_at(p, p->header_line,
                "[%s] again (first at line %d): write each adapter's keys in one section", section,
                p->section_line[first - cfg->sections]);
        return 0;
    }
    if (!section_for_serial(p, serial, bus)) {
        p->out_of_memory = true;
        return -1;
    }
    return 0;
}

static int handle_entry(void *user, const char *section, const char *key, const char *value)
{
    struct parser *p = user;
    char lkey[KEY_MAX];
    size_t len = strlen(key);
    if (len >= sizeof(lkey))
        len = sizeof(lkey) - 1; /* too long to be ours: stays unknown */
    for (size_t i = 0; i < len; i++)
        lkey[i] = (char)tolower((unsigned char)key[i]);
    lkey[len] = '\0';

    if (section[0] == '\0') {
        fail(p, "%s: key outside any section (start with [general] or [ftdi:<serial>])", key);
        return 1;
    }
    if (strcmp(section, "general") == 0) {
        handle_general(p, key, lkey, value);
        return 1;
    }

    struct config_section *target;
    char buf[SECTION_MAX];
    int bus;
    const char *serial = section_serial(section, buf, sizeof(buf), &bus);
    if (strcmp(section, "DEFAULT") == 0) {
        target = &p->cfg->defaults;
    } else if (serial) {
        if (serial[0] == '\0')
            return 1; /* refused at its header (note_section) */
        target = section_for_serial(p, serial, bus);
        if (!target) {
            p->out_of_memory = true;
            return 0;
        }
    } else {
        warn_unknown_section(p, section);
        return 1;
    }

    struct section_key k;
    const char *hint;
    if (section_key_parse(lkey, &k, &hint) < 0) {
        log_warn("%s:%d: unknown key '%s' in [%s], ignored%s", p->name, p->line, key, section,
                 hint);
        return 1;
    }
    set_section_key(p, target, &k, key, value);
    return 1;
}

/* The original project's sample file has vid and pid the wrong way round (its code swapped them
 * back when reading). */
static int resolve_usb_ids(struct parser *p)
{
    struct config *cfg = p->cfg;
    if (p->pid_set && p->pid == FTDI_VID) {
        if (p->vid_set && p->vid == FTDI_VID) {
            fail_at(p, p->pid_line,
                    "pid: 0x0403 is FTDI's vendor id, not a product id (use pid = 0x%04X or "
                    "0x%04X)",
                    FTDI_LYNX_ADAPTER_PID, FTDI_FT232H_PID);
            return -EINVAL;
        }
        uint16_t pid = p->vid_set ? p->vid : FTDI_LYNX_ADAPTER_PID;
        log_warn("%s:%d: vid and pid look swapped (pid = 0x0403 is FTDI's vendor id, as in the "
                 "original project's sample): using vid 0x0403, pid 0x%04X; write "
                 "`vid = 0x0403` and `pid = 0x%04X` to silence this",
                 p->name, p->pid_line, pid, pid);
        p->vid = FTDI_VID;
        p->vid_set = true;
        p->pid = pid;
    }
    uint16_t vid = p->vid_set ? p->vid : FTDI_VID;
    if (p->pid_set) {
        cfg->usb_ids[0] = (struct usb_id){vid, p->pid};
        cfg->n_usb_ids = 1;
    } else {
        config_default_usb_ids(cfg, vid);
    }
    return 0;
}

int config_load_stream(struct config *cfg, FILE *stream, const char *name)
{
    config_free(cfg);
    cfg->error[0] = '\0';
    struct parser p = {.cfg = cfg, .name = name, .stream = stream};

    errno = 0;
    int rc = ini_parse_stream(read_line, &p, handle_entry, &p);
    free(p.section_line);
    if (p.out_of_memory || rc == -2) {
        snprintf(cfg->error, sizeof(cfg->error), "%s: out of memory", name);
        config_free(cfg);
        return -ENOMEM;
    }
    if (rc > 0) {
        /* inih found a line it cannot parse; it counts lines exactly as read_line does. */
        fail_at(&p, rc, "syntax error: expected [section], key = value, or a ; or # comment");
    }
    if (p.errors == 0)
        resolve_usb_ids(&p);
    if (p.errors > 0) {
        if (p.errors > 1) {
            size_t len = strlen(cfg->error);
            snprintf(cfg->error + len, sizeof(cfg->error) - len, " (and %d more error%s)",
                     p.errors - 1, p.errors > 2 ? "s" : "");
        }
        config_free(cfg);
        return -EINVAL;
    }
    if (p.test_poll_interval_ms)
        cfg->poll_interval_ms = p.test_poll_interval_ms;
    config_finish_sections(cfg);
    return 0;
}

int config_load(struct config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        config_free(cfg);
        snprintf(cfg->error, sizeof(cfg->error), "%s: %s", path, strerror(err));
        return -err;
    }
    int rc = config_load_stream(cfg, f, path);
    fclose(f);
    return rc;
}
