#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "lynx/lynx.h"

/* An independent formulation of the decoding, written from the published side: published fuse j
 * of an upside-down distributor is status bit 7 - j, otherwise bit 4 + j. */
static int expected_fuse_status(unsigned byte, bool upside_down, unsigned installed_mask,
                                unsigned published)
{
    unsigned bit = upside_down ? 7 - published : 4 + published;
    unsigned physical = bit - 4;
    if (!((installed_mask >> physical) & 1))
        return 1; /* not used */
    if (byte & 0x02)
        return 0; /* not available */
    return (byte >> bit) & 1 ? 3 : 2;
}

static struct lynx_distributor_setup make_setup(bool installed, bool upside_down,
                                                unsigned installed_mask)
{
    struct lynx_distributor_setup setup = {.installed = installed, .upside_down = upside_down};
    for (unsigned i = 0; i < LYNX_FUSES; i++)
        setup.fuse_installed[i] = (installed_mask >> i) & 1;
    return setup;
}

Test(lynx, every_status_byte_mounting_and_installed_set_decodes_like_the_reference)
{
    unsigned checked = 0;
    for (unsigned byte = 0; byte < 256; byte++) {
        for (int upside = 0; upside < 2; upside++) {
            for (unsigned mask = 0; mask < 16; mask++) {
                for (int installed = 0; installed < 2; installed++) {
                    struct lynx_distributor_setup setup = make_setup(installed, upside, mask);
                    struct lynx_distributor_state st;
                    memset(&st, 0xA5, sizeof(st));
                    int rc = lynx_decode_status((uint8_t)byte, &setup, &st);
                    if (byte & 0x0D) {
                        cr_assert_eq(rc, -EINVAL, "byte 0x%02X must be rejected", byte);
                        unsigned char untouched[sizeof(st)];
                        memset(untouched, 0xA5, sizeof(untouched));
                        cr_assert(memcmp(&st, untouched, sizeof(st)) == 0);
                        continue;
                    }
                    cr_assert_eq(rc, 0, "byte 0x%02X", byte);
                    cr_assert_eq((int)st.status, byte & 0x02 ? 2 : 1, "byte 0x%02X", byte);
                    cr_assert_eq((int)st.connection_lost_alarm, 0);
                    for (unsigned j = 0; j < 4; j++) {
                        int want = expected_fuse_status(byte, upside, mask, j);
                        cr_assert_eq((int)st.fuse[j].status, want,
                                     "byte 0x%02X upside %d mask %x fuse %u", byte, upside, mask,
                                     j);
                        cr_assert_eq((int)st.fuse[j].blown_alarm, want == 3 ? 2 : 0,
                                     "byte 0x%02X upside %d mask %x fuse %u", byte, upside, mask,
                                     j);
                    }
                    checked++;
                }
            }
        }
    }
    cr_assert_eq(checked, 32u * 2 * 16 * 2, "every valid byte was decoded");
}

Test(lynx, validity_rejects_exactly_the_bytes_with_bits_0_2_or_3)
{
    unsigned valid = 0;
    for (unsigned byte = 0; byte < 256; byte++) {
        bool expect = !(byte & 1) && !(byte & 4) && !(byte & 8);
        cr_assert_eq(lynx_status_valid((uint8_t)byte), expect, "byte 0x%02X", byte);
        valid += expect;
    }
    cr_assert_eq(valid, 32u);
}

Test(lynx, truncated_reads_seen_in_the_field_are_invalid)
{
    static const uint8_t truncated[] = {0x01, 0x03, 0x07, 0x1F, 0x3F, 0x7F, 0xFF};
    for (size_t i = 0; i < sizeof(truncated); i++)
        cr_assert_not(lynx_status_valid(truncated[i]), "0x%02X", truncated[i]);
}

Test(lynx, empty_distributor_reads_all_fuses_blown_and_alarms)
{
    struct lynx_distributor_setup setup = make_setup(true, false, 0xF);
    struct lynx_distributor_state st;
    cr_assert_eq(lynx_decode_status(0xF0, &setup, &st), 0);
    cr_assert_eq(st.status, LYNX_DISTRIBUTOR_CONNECTED);
    for (unsigned j = 0; j < LYNX_FUSES; j++) {
        cr_assert_eq(st.fuse[j].status, LYNX_FUSE_BLOWN);
        cr_assert_eq(st.fuse[j].blown_alarm, LYNX_ALARM_ALARM);
    }
}

Test(lynx, no_busbar_supply_hides_fuse_bits_and_raises_no_alarm)
{
    struct lynx_distributor_setup setup = make_setup(true, false, 0xF);
    struct lynx_distributor_state st;
    cr_assert_eq(lynx_decode_status(0xF2, &setup, &st), 0);
    cr_assert_eq(st.status, LYNX_DISTRIBUTOR_NO_BUS_POWER);
    for (unsigned j = 0; j < LYNX_FUSES; j++) {
        cr_assert_eq(st.fuse[j].status, LYNX_FUSE_NOT_AVAILABLE);
        cr_assert_eq(st.fuse[j].blown_alarm, LYNX_ALARM_OK);
    }
}

Test(lynx, first_fuse_blown_is_published_last_when_upside_down)
{
    struct lynx_distributor_setup setup = make_setup(true, true, 0xF);
    struct lynx_distributor_state st;
    cr_assert_eq(lynx_decode_status(LYNX_STATUS_FUSE_OPEN(0), &setup, &st), 0);
    cr_assert_eq(st.fuse[3].status, LYNX_FUSE_BLOWN);
    cr_assert_eq(st.fuse[0].status, LYNX_FUSE_OK);
    setup.upside_down = false;
    cr_assert_eq(lynx_decode_status(LYNX_STATUS_FUSE_OPEN(0), &setup, &st), 0);
    cr_assert_eq(st.fuse[0].status, LYNX_FUSE_BLOWN);
    cr_assert_eq(st.fuse[3].status, LYNX_FUSE_OK);
}

Test(lynx, uninstalled_fuse_follows_its_physical_position_when_mirrored)
{
    /* Physical fuse 1 not installed, open: published as index 2 upside down, never alarms. */
    struct lynx_distributor_setup setup = make_setup(true, true, 0xF & ~0x2u);
    struct lynx_distributor_state st;
    cr_assert_eq(lynx_decode_status(LYNX_STATUS_FUSE_OPEN(1), &setup, &st), 0);
    cr_assert_eq(st.fuse[2].status, LYNX_FUSE_NOT_USED);
    cr_assert_eq(st.fuse[2].blown_alarm, LYNX_ALARM_OK);
    for (unsigned j = 0; j < LYNX_FUSES; j++)
        if (j != 2)
            cr_assert_eq(st.fuse[j].status, LYNX_FUSE_OK, "fuse %u", j);
}

Test(lynx, absent_distributor_is_comms_lost_only_when_installed)
{
    for (unsigned mask = 0; mask < 16; mask++) {
        for (int upside = 0; upside < 2; upside++) {
            for (int installed = 0; installed < 2; installed++) {
                struct lynx_distributor_setup setup = make_setup(installed, upside, mask);
                struct lynx_distributor_state st;
                lynx_decode_absent(&setup, &st);
                cr_assert_eq((int)st.status, installed ? 3 : 0);
                cr_assert_eq((int)st.connection_lost_alarm, installed ? 2 : 0);
                for (unsigned j = 0; j < 4; j++) {
                    unsigned physical = upside ? 3 - j : j;
                    cr_assert_eq((int)st.fuse[j].status, (mask >> physical) & 1 ? 0 : 1,
                                 "mask %x upside %d fuse %u", mask, upside, j);
                    cr_assert_eq((int)st.fuse[j].blown_alarm, 0);
                }
            }
        }
    }
}

Test(lynx, enum_values_match_the_venus_dbus_paths)
{
    cr_assert_eq(LYNX_DISTRIBUTOR_NOT_AVAILABLE, 0);
    cr_assert_eq(LYNX_DISTRIBUTOR_CONNECTED, 1);
    cr_assert_eq(LYNX_DISTRIBUTOR_NO_BUS_POWER, 2);
    cr_assert_eq(LYNX_DISTRIBUTOR_COMMS_LOST, 3);
    cr_assert_eq(LYNX_FUSE_NOT_AVAILABLE, 0);
    cr_assert_eq(LYNX_FUSE_NOT_USED, 1);
    cr_assert_eq(LYNX_FUSE_OK, 2);
    cr_assert_eq(LYNX_FUSE_BLOWN, 3);
    cr_assert_eq(LYNX_ALARM_OK, 0);
    cr_assert_eq(LYNX_ALARM_ALARM, 2);
}

Test(lynx, fuse_mirroring_is_its_own_inverse)
{
    for (unsigned i = 0; i < LYNX_FUSES; i++) {
        cr_assert_eq(lynx_fuse_published_index(false, i), i);
        cr_assert_eq(lynx_fuse_published_index(true, i), 3 - i);
        cr_assert_eq(lynx_fuse_physical_index(true, lynx_fuse_published_index(true, i)), i);
    }
}

Test(lynx, fuse_names_move_with_their_fuses)
{
    const char *physical[LYNX_FUSES] = {"Multiplus", "Battery", "", "Solar"};
    const char *published[LYNX_FUSES] = {0};
    lynx_fuse_names_published(true, physical, published);
    cr_assert_str_eq(published[0], "Solar");
    cr_assert_str_eq(published[1], "");
    cr_assert_str_eq(published[2], "Battery");
    cr_assert_str_eq(published[3], "Multiplus");
    lynx_fuse_names_published(false, physical, published);
    cr_assert_str_eq(published[0], "Multiplus");
    cr_assert_str_eq(published[3], "Solar");
}

Test(lynx, addresses_and_letters_are_0x08_to_0x0b_and_a_to_d)
{
    static const uint8_t addr[] = {0x08, 0x09, 0x0A, 0x0B};
    for (unsigned d = 0; d < LYNX_DISTRIBUTORS; d++) {
        cr_assert_eq(lynx_address(d), addr[d]);
        cr_assert_eq(lynx_letter(d), "ABCD"[d]);
    }
}
