/* What a usbredir server tells its peer (QEMU) about a device before connecting it, derived from
 * the device model's descriptors (usb_model.h) alone, so any model is served the same way: the
 * device_connect header (speed, class, vid:pid, bcdDevice), the interfaces of configuration 1
 * (alternate setting 0) and every endpoint's type, interval, interface and max packet size.
 *
 * Endpoints are indexed as usbredir indexes them: ((address & 0x80) >> 3) | (address & 0x0F), so
 * OUT 0x01..0x0F are 1..15 and IN 0x81..0x8F are 17..31; 0 and 16 are the control endpoint. An
 * index no endpoint uses has type usb_redir_type_invalid. */
#ifndef SIM_FRONT_USBREDIR_DESC_H
#define SIM_FRONT_USBREDIR_DESC_H

#include <stddef.h>
#include <stdint.h>

#include <usbredirproto.h>

#include "model/usb_model.h"

#define SIM_USBREDIR_ENDPOINTS    32
#define SIM_USBREDIR_EP_INDEX(ep) ((((ep)&0x80) >> 3) | ((ep)&0x0F))

struct sim_usbredir_desc {
    struct usb_redir_device_connect_header connect;
    struct usb_redir_interface_info_header interfaces;
    struct usb_redir_ep_info_header endpoints;
};

/* Parses the device descriptor followed by the configuration descriptor (as the model's
 * descriptors op returns them). Returns 0, or -EINVAL when they are malformed (a length that
 * runs past the end, a wrong descriptor type, more than 32 interfaces). */
int sim_usbredir_desc_parse(const uint8_t *desc, size_t len, enum sim_usb_speed speed,
                            struct sim_usbredir_desc *out);

/* The same from the model itself. */
int sim_usbredir_desc_from_model(const struct sim_usb_model *model, struct sim_usbredir_desc *out);

#endif
