/* name: the rules for the names a user gives an adapter (/CustomName) and its fuses
 * (/Distributor/X/Fuse/N/Name), the same wherever a name comes from: config.ini, a SetValue from
 * the GUI or MQTT, or a value stored in localsettings.
 *
 * A name is valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), holds no
 * control character (C0, DEL, C1, U+2028/U+2029 line and paragraph separators) and no bidi
 * embedding, override or isolate (U+202A-U+202E, U+2066-U+2069: "Fuse 1<U+202E>" would show
 * reversed text in every notification), and keeps to its limit:
 *  - a CustomName: at most 32 characters, counted the way gui-v2 counts them (its text field
 *    limits QString length, i.e. UTF-16 code units, so "Ä" counts 1 and an emoji beyond U+FFFF
 *    counts 2);
 *  - a fuse name: at most 16 bytes of UTF-8, as Victron documents the Lynx's fuse names ("UTF-8
 *    string, limited to 16 bytes in firmware"): "Wechselrichter" fits, 16 x "Ä" (32 bytes) does
 *    not.
 * The empty name is valid (it means "use the default"). */
#ifndef LYNX_NAME_H
#define LYNX_NAME_H

#include <stddef.h>

#define NAME_CUSTOM_MAX_CHARS 32 /* gui-v2 PageDeviceInfo: CustomName maximumLength */
#define NAME_FUSE_MAX_BYTES   16 /* the Lynx firmware's fuse name field */
/* Bytes of UTF-8 a CustomName can need: 3 per UTF-16 unit at most. */
#define NAME_CUSTOM_MAX_BYTES (NAME_CUSTOM_MAX_CHARS * 3)

/* A name's limit: characters as gui-v2 counts them, and bytes of UTF-8. */
struct name_limit {
    size_t max_chars;
    size_t max_bytes;
};
extern const struct name_limit name_limit_custom; /* 32 characters */
extern const struct name_limit name_limit_fuse;   /* 16 bytes */

enum name_check {
    NAME_OK = 0,
    NAME_BAD_UTF8,
    NAME_CONTROL,
    NAME_BIDI,
    NAME_TOO_LONG,
};

/* Checks s against the rules and limit; *chars (may be NULL) gets the count as gui-v2 counts
 * it, when the text is valid UTF-8. */
enum name_check name_check(const char *s, const struct name_limit *limit, size_t *chars);

/* Shortens a name in place to its limit, at a character boundary (and before any invalid UTF-8);
 * returns its new length in bytes. */
size_t name_cut(char *s, const struct name_limit *limit);

/* "not valid UTF-8", "contains a control character", ... for messages. */
const char *name_check_message(enum name_check result);

#endif
