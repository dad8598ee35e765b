#include "venus/name.h"

#include <stdint.h>

const struct name_limit name_limit_custom = {NAME_CUSTOM_MAX_CHARS, NAME_CUSTOM_MAX_BYTES};
const struct name_limit name_limit_fuse = {NAME_FUSE_MAX_BYTES, NAME_FUSE_MAX_BYTES};

/* Decodes one UTF-8 sequence at p; returns its length, 0 if it is not valid UTF-8. */
static unsigned decode_utf8(const unsigned char *p, uint32_t *cp)
{
    unsigned c = *p, len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (unsigned i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static enum name_check classify(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029)
        return NAME_CONTROL;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
        return NAME_BIDI;
    return NAME_OK;
}

enum name_check name_check(const char *s, const struct name_limit *limit, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s;
    enum name_check worst = NAME_OK;
    size_t units = 0;
    while (*p) {
        uint32_t cp;
        unsigned len = decode_utf8(p, &cp);
        if (len == 0)
            return NAME_BAD_UTF8;
        if (worst == NAME_OK)
            worst = classify(cp);
        units += cp > 0xFFFF ? 2 : 1;
        p += len;
    }
    if (chars)
        *chars = units;
    if (worst == NAME_OK &&
        (units > limit->max_chars || (size_t)(p - (const unsigned char *)s) > limit->max_bytes))
        worst = NAME_TOO_LONG;
    return worst;
}

size_t name_cut(char *s, const struct name_limit *limit)
{
    unsigned char *p = (unsigned char *)s;
    size_t units = 0;
    while (*p) {
        uint32_t cp;
        unsigned len = decode_utf8(p, &cp);
        if (len == 0)
            break;
        unsigned char_units = cp > 0xFFFF ? 2 : 1;
        if (units + char_units > limit->max_chars ||
            (size_t)(p - (unsigned char *)s) + len > limit->max_bytes)
            break;
        units += char_units;
        p += len;
    }
    *p = '\0';
    return (size_t)(p - (unsigned char *)s);
}

const char *name_check_message(enum name_check result)
{
    switch (result) {
    case NAME_OK:
        return "valid";
    case NAME_BAD_UTF8:
        return "not valid UTF-8";
    case NAME_CONTROL:
        return "contains a control character";
    case NAME_BIDI:
        return "contains a bidirectional override (U+202A-U+202E or U+2066-U+2069)";
    case NAME_TOO_LONG:
        return "too long";
    }
    return "invalid";
}
