/* Descriptors into usbredir's device, interface and endpoint info (see usbredir_desc.h). */
#include "front/usbredir_desc.h"

#include <errno.h>
#include <string.h>

#define DT_DEVICE        0x01
#define DT_CONFIGURATION 0x02
#define DT_INTERFACE     0x04
#define DT_ENDPOINT      0x05
#define DEVICE_DESC_LEN  18
#define CONFIG_DESC_LEN  9
#define DESC_MAX         1024 /* descriptors bigger than this are not a simulated chip's */

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* wMaxPacketSize: bits 0-10 the size, bits 11-12 extra transactions per microframe (high-speed
 * periodic endpoints); usbredir wants the bytes per interval. */
static uint16_t max_packet_bytes(uint16_t w)
{
    return (uint16_t)((w & 0x7FF) * (((w >> 11) & 3) + 1));
}

static void init_endpoints(struct usb_redir_ep_info_header *eps, uint8_t max_packet0)
{
    memset(eps, 0, sizeof(*eps));
    memset(eps->type, usb_redir_type_invalid, sizeof(eps->type));
    eps->type[0] = eps->type[16] = usb_redir_type_control;
    eps->max_packet_size[0] = eps->max_packet_size[16] = max_packet0;
}

static int add_interface(struct usb_redir_interface_info_header *ifs, const uint8_t *d)
{
    if (ifs->interface_count == SIM_USBREDIR_ENDPOINTS)
        return -EINVAL;
    const uint32_t i = ifs->interface_count++;
    ifs->interface[i] = d[2];
    ifs->interface_class[i] = d[5];
    ifs->interface_subclass[i] = d[6];
    ifs->interface_protocol[i] = d[7];
    return 0;
}

static void add_endpoint(struct usb_redir_ep_info_header *eps, const uint8_t *d, uint8_t interface)
{
    const uint8_t address = d[2];
    const unsigned i = SIM_USBREDIR_EP_INDEX(address);
    if (i == 0 || i == 16)
        return; /* the control endpoint is not described by an endpoint descriptor */
    eps->type[i] = d[3] & 0x03;
    eps->interval[i] = d[6];
    eps->interface[i] = interface;
    eps->max_packet_size[i] = max_packet_bytes(le16(d + 4));
}

/* The interfaces and endpoints of the configuration at cfg (total bytes long). */
static int parse_configuration(const uint8_t *cfg, size_t total, struct sim_usbredir_desc *out)
{
    uint8_t interface = 0;
    int alt = -1; /* no interface descriptor seen yet */

    for (size_t off = cfg[0]; off < total;) {
        const uint8_t *d = cfg + off;
        if (total - off < 2 || d[0] < 2 || d[0] > total - off)
            return -EINVAL;
        if (d[1] == DT_INTERFACE) {
            if (d[0] < 9)
                return -EINVAL;
            interface = d[2];
            alt = d[3];
            if (alt == 0 && add_interface(&out->interfaces, d) < 0)
                return -EINVAL;
        } else if (d[1] == DT_ENDPOINT) {
            if (d[0] < 7 || alt < 0)
                return -EINVAL;
            if (alt == 0)
                add_endpoint(&out->endpoints, d, interface);
        }
        off += d[0];
    }
    return 0;
}

int sim_usbredir_desc_parse(const uint8_t *desc, size_t len, enum sim_usb_speed speed,
                            struct sim_usbredir_desc *out)
{
    memset(out, 0, sizeof(*out));
    if (len < DEVICE_DESC_LEN + CONFIG_DESC_LEN || desc[0] != DEVICE_DESC_LEN ||
        desc[1] != DT_DEVICE)
        return -EINVAL;
    const uint8_t *cfg = desc + DEVICE_DESC_LEN;
    const size_t total = le16(cfg + 2);
    if (cfg[0] < CONFIG_DESC_LEN || cfg[1] != DT_CONFIGURATION || total < cfg[0] ||
        total > len - DEVICE_DESC_LEN)
        return -EINVAL;

    out->connect = (struct usb_redir_device_connect_header){
        .speed = speed == SIM_USB_HIGH_SPEED ? usb_redir_speed_high : usb_redir_speed_full,
        .device_class = desc[4],
        .device_subclass = desc[5],
        .device_protocol = desc[6],
        .vendor_id = le16(desc + 8),
        .product_id = le16(desc + 10),
        .device_version_bcd = le16(desc + 12),
    };
    init_endpoints(&out->endpoints, desc[7]);
    return parse_configuration(cfg, total, out);
}

int sim_usbredir_desc_from_model(const struct sim_usb_model *model, struct sim_usbredir_desc *out)
{
    uint8_t desc[DESC_MAX];
    const size_t len = model->ops->descriptors(model->dev, desc, sizeof(desc));
    if (len > sizeof(desc))
        return -EINVAL;
    return sim_usbredir_desc_parse(desc, len, model->ops->speed, out);
}
