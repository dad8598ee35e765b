/* The name rules (src/venus/name.h): UTF-8, controls, bidi overrides; a CustomName's length as
 * gui-v2 counts it, a fuse name's in bytes of UTF-8 as Victron documents it; cutting a stored name
 * that is too long at a character boundary. */
#include <criterion/criterion.h>

#include <string.h>

#include "venus/name.h"

static enum name_check fuse(const char *s)
{
    return name_check(s, &name_limit_fuse, NULL);
}

Test(name, valid_names_pass_and_empty_means_default)
{
    cr_assert_eq(fuse(""), NAME_OK);
    cr_assert_eq(fuse("Multiplus"), NAME_OK);
    cr_assert_eq(fuse("1234567890123456"), NAME_OK);
    cr_assert_eq(fuse("\xc3\xa4"), NAME_OK);         /* ä */
    cr_assert_eq(fuse("\xf0\x9f\x94\x8b"), NAME_OK); /* U+1F50B battery */
    cr_assert_eq(fuse("\xe2\x80\x8f"), NAME_OK);     /* U+200F RLM: a mark, not an override */
}

Test(name, malformed_utf8_is_refused)
{
    cr_assert_eq(fuse("\xc3"), NAME_BAD_UTF8);                 /* truncated sequence */
    cr_assert_eq(fuse("\xc0\xaf"), NAME_BAD_UTF8);             /* overlong '/' */
    cr_assert_eq(fuse("\xe0\x80\xaf"), NAME_BAD_UTF8);         /* overlong */
    cr_assert_eq(fuse("\xed\xa0\x80"), NAME_BAD_UTF8);         /* surrogate U+D800 */
    cr_assert_eq(fuse("\xf4\x90\x80\x80"), NAME_BAD_UTF8);     /* above U+10FFFF */
    cr_assert_eq(fuse("\xf8\x88\x80\x80\x80"), NAME_BAD_UTF8); /* 5-byte form */
    cr_assert_eq(fuse("\x80"), NAME_BAD_UTF8);                 /* lone continuation */
    /* malformed wins over everything else found before it */
    cr_assert_eq(fuse("a\nb\xff"), NAME_BAD_UTF8);
}

Test(name, control_characters_are_refused)
{
    cr_assert_eq(fuse("a\nb"), NAME_CONTROL);
    cr_assert_eq(fuse("\x1b[31mred"), NAME_CONTROL); /* ESC: a terminal escape in the log */
    cr_assert_eq(fuse("\x7f"), NAME_CONTROL);
    cr_assert_eq(fuse("\xc2\x85"), NAME_CONTROL); /* C1 NEL */
    cr_assert_eq(fuse("a\xe2\x80\xa8"
                      "b"),
                 NAME_CONTROL); /* U+2028 line separator */
}

Test(name, bidi_overrides_and_isolates_are_refused)
{
    cr_assert_eq(fuse("Fuse\xe2\x80\xae"
                      "1"),
                 NAME_BIDI);                        /* U+202E RLO */
    cr_assert_eq(fuse("\xe2\x80\xaa"), NAME_BIDI);  /* U+202A LRE */
    cr_assert_eq(fuse("\xe2\x81\xa6x"), NAME_BIDI); /* U+2066 LRI */
    cr_assert_eq(fuse("\xe2\x81\xa9"), NAME_BIDI);  /* U+2069 PDI */
}

static enum name_check custom(const char *s, size_t *chars)
{
    return name_check(s, &name_limit_custom, chars);
}

Test(name, custom_name_length_is_counted_in_utf16_units_as_gui_v2_counts)
{
    size_t n = 0;
    cr_assert_eq(custom("\xc3\x84\xc3\x96", &n), NAME_OK);
    cr_assert_eq(n, 2); /* two characters, four bytes */
    cr_assert_eq(custom("\xf0\x9f\x94\x8b", &n), NAME_OK);
    cr_assert_eq(n, 2); /* beyond U+FFFF: a surrogate pair in QString */
    /* a 31-character CustomName with accents: 36 bytes, fine */
    cr_assert_eq(custom("Ölbrenner Öltank Ölpumpe Ölfilt", &n), NAME_OK);
    cr_assert_eq(n, 31);
    cr_assert_eq(custom("12345678901234567890123456789012", NULL), NAME_OK);
    cr_assert_eq(custom("123456789012345678901234567890123", NULL), NAME_TOO_LONG);
    /* 31 + an emoji (2 units) = 33 */
    cr_assert_eq(custom("1234567890123456789012345678901\xf0\x9f\x94\x8b", NULL), NAME_TOO_LONG);
}

Test(name, fuse_name_length_is_counted_in_bytes_of_utf8)
{
    cr_assert_eq(fuse("1234567890123456"), NAME_OK);
    cr_assert_eq(fuse("12345678901234567"), NAME_TOO_LONG);
    cr_assert_eq(fuse("ÄÄÄÄÄÄÄÄ"), NAME_OK);                     /* 8 characters, 16 bytes */
    cr_assert_eq(fuse("ÄÄÄÄÄÄÄÄÄ"), NAME_TOO_LONG);              /* 9 characters, 18 bytes */
    cr_assert_eq(fuse("123456789012\xf0\x9f\x94\x8b"), NAME_OK); /* 12 + 4 bytes */
    cr_assert_eq(fuse("1234567890123\xf0\x9f\x94\x8b"), NAME_TOO_LONG);
    /* a rule broken before the length is reported first */
    cr_assert_eq(fuse("12345678901234567\n"), NAME_CONTROL);
}

Test(name, a_name_too_long_is_cut_at_a_character_boundary)
{
    char s[64] = "Wechselrichter Öl"; /* 18 bytes: Ö would straddle byte 16 */
    cr_assert_eq(name_cut(s, &name_limit_fuse), 15);
    cr_assert_str_eq(s, "Wechselrichter ");
    strcpy(s, "12345678901234\xf0\x9f\x94\x8b"); /* the emoji would end at byte 18 */
    cr_assert_eq(name_cut(s, &name_limit_fuse), 14);
    strcpy(s, "ÄÖÜäöüÄÖÜ");
    cr_assert_eq(name_cut(s, &name_limit_fuse), 16);
    cr_assert_str_eq(s, "ÄÖÜäöüÄÖ");
    cr_assert_eq(name_check(s, &name_limit_fuse, NULL), NAME_OK);
    strcpy(s, "short");
    cr_assert_eq(name_cut(s, &name_limit_fuse), 5);
    cr_assert_str_eq(s, "short");
    /* a CustomName by its characters: 33 emoji-free characters cut to 32 */
    strcpy(s, "123456789012345678901234567890123");
    cr_assert_eq(name_cut(s, &name_limit_custom), 32);
    /* a character cut in half by a copy is dropped, not kept as broken UTF-8 */
    strcpy(s, "ab\xc3");
    cr_assert_eq(name_cut(s, &name_limit_fuse), 2);
}

Test(name, every_result_has_a_message)
{
    cr_assert_str_eq(name_check_message(NAME_BAD_UTF8), "not valid UTF-8");
    cr_assert_str_eq(name_check_message(NAME_CONTROL), "contains a control character");
    cr_assert_str_eq(name_check_message(NAME_TOO_LONG), "too long");
    cr_assert(name_check_message(NAME_BIDI)[0]);
}
