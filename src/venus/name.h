/* name: the rules for the names a user gives an adapter (/CustomName) and its fuses
 * (/Distributor/X/Fuse/N/Name), the same wherever a name comes from: config.ini, a SetValue from
 * the GUI or MQTT, or a value stored in localsettings.
 *
 * A name is valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), holds no
 * control character (C0, DEL, C1, U+2028/U+2029 line and paragraph separators) and no bidi
 * embedding, override or isolate (U+202A-U+202E, U+2066-U+2069: "Fuse 1<U+202E>" would show
 * reversed text in every notification), and is at most max characters long. Characters are
 * counted the way gui-v2 counts them: its text fields limit QString length, i.e. UTF-16 code
 * units, so "Ä" counts 1 and an emoji beyond U+FFFF counts 2. The empty name is valid (it means
 * "use the default"). */
#ifndef LYNX_NAME_H
#define LYNX_NAME_H

#include <stddef.h>

#define NAME_CUSTOM_MAX_CHARS 32 /* gui-v2 PageDeviceInfo: CustomName maximumLength */
#define NAME_FUSE_MAX_CHARS   16 /* the Lynx firmware's fuse name field */
/* Bytes of UTF-8 a name of max_chars characters can need: 3 per UTF-16 unit at most. */
#define NAME_MAX_BYTES(max_chars) ((max_chars)*3)

enum name_check {
    NAME_OK = 0,
    NAME_BAD_UTF8,
    NAME_CONTROL,
    NAME_BIDI,
    NAME_TOO_LONG,
};

/* Checks s against the rules with at most max_chars characters; *chars (may be NULL) gets the
 * count as gui-v2 counts it, when the text is valid UTF-8. */
enum name_check name_check(const char *s, size_t max_chars, size_t *chars);

/* "not valid UTF-8", "contains a control character", ... for messages. */
const char *name_check_message(enum name_check result);

#endif
