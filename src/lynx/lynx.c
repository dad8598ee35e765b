/* Lynx status decoding (lynx.h): a status byte to the published state, fuse index mapping. */
#include "lynx/lynx.h"

#include <errno.h>

uint8_t lynx_address(unsigned distributor)
{
    return (uint8_t)(LYNX_BASE_ADDRESS + distributor);
}

char lynx_letter(unsigned distributor)
{
    return (char)('A' + distributor);
}

bool lynx_status_valid(uint8_t status)
{
    return (status & LYNX_STATUS_INVALID_MASK) == 0;
}

unsigned lynx_fuse_published_index(bool upside_down, unsigned physical)
{
    return upside_down ? LYNX_FUSES - 1 - physical : physical;
}

unsigned lynx_fuse_physical_index(bool upside_down, unsigned published)
{
    return lynx_fuse_published_index(upside_down, published);
}

void lynx_fuse_names_published(bool upside_down, const char *const physical[LYNX_FUSES],
                               const char *published[LYNX_FUSES])
{
    for (unsigned i = 0; i < LYNX_FUSES; i++)
        published[lynx_fuse_published_index(upside_down, i)] = physical[i];
}

static struct lynx_fuse_state fuse_state(enum lynx_fuse_status status)
{
    return (struct lynx_fuse_state){
        .status = status,
        .blown_alarm = status == LYNX_FUSE_BLOWN ? LYNX_ALARM_ALARM : LYNX_ALARM_OK,
    };
}

int lynx_decode_status(uint8_t status, const struct lynx_distributor_setup *setup,
                       struct lynx_distributor_state *out)
{
    if (!lynx_status_valid(status))
        return -EINVAL;

    bool supplied = !(status & LYNX_STATUS_NO_SUPPLY);
    out->status = supplied ? LYNX_DISTRIBUTOR_CONNECTED : LYNX_DISTRIBUTOR_NO_BUS_POWER;
    out->connection_lost_alarm = LYNX_ALARM_OK;

    for (unsigned physical = 0; physical < LYNX_FUSES; physical++) {
        enum lynx_fuse_status fuse;
        if (!setup->fuse_installed[physical])
            fuse = LYNX_FUSE_NOT_USED;
        else if (!supplied) /* fuse sensing measures across the fuse: no supply, no reading */
            fuse = LYNX_FUSE_NOT_AVAILABLE;
        else if (status & LYNX_STATUS_FUSE_OPEN(physical))
            fuse = LYNX_FUSE_BLOWN;
        else
            fuse = LYNX_FUSE_OK;
        out->fuse[lynx_fuse_published_index(setup->upside_down, physical)] = fuse_state(fuse);
    }
    return 0;
}

void lynx_decode_absent(const struct lynx_distributor_setup *setup,
                        struct lynx_distributor_state *out)
{
    out->status = setup->installed ? LYNX_DISTRIBUTOR_COMMS_LOST : LYNX_DISTRIBUTOR_NOT_AVAILABLE;
    out->connection_lost_alarm = setup->installed ? LYNX_ALARM_ALARM : LYNX_ALARM_OK;
    for (unsigned physical = 0; physical < LYNX_FUSES; physical++) {
        enum lynx_fuse_status fuse =
            setup->fuse_installed[physical] ? LYNX_FUSE_NOT_AVAILABLE : LYNX_FUSE_NOT_USED;
        out->fuse[lynx_fuse_published_index(setup->upside_down, physical)] = fuse_state(fuse);
    }
}
