/* The control-transfer faults shared by the USB device models (see usb_faults.h). */
#include "model/usb_faults.h"

#include <errno.h>

#define GET_DESCRIPTOR 0x06
#define DT_STRING      0x03

int sim_usb_control_faults_submit(struct sim_usb_control_faults *f, uint8_t serial_index,
                                  const struct sim_usb_setup *s)
{
    if (f->serial_string_fails && s->bmRequestType == 0x80 && s->bRequest == GET_DESCRIPTOR &&
        s->wValue == (DT_STRING << 8 | serial_index)) {
        f->serial_string_fails = false;
        return -EPIPE;
    }
    if (f->stall > 0) {
        f->stall--;
        return -EPIPE;
    }
    if (f->hang > 0) {
        f->hang--;
        return -ETIMEDOUT;
    }
    return 0;
}
