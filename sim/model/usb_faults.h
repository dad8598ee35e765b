/* The control-transfer faults every USB device model has (fixtures/README.md): control-error,
 * control-timeout and string-error, armed with a count and decided when a control transfer is
 * submitted. The FT232H family and the CP2112 each keep one of these. */
#ifndef SIM_USB_FAULTS_H
#define SIM_USB_FAULTS_H

#include <stdbool.h>

#include "model/usb_model.h"

struct sim_usb_control_faults {
    unsigned stall;           /* control-error: the next count control transfers stall */
    unsigned hang;            /* control-timeout: ... never complete (until cancelled) */
    bool serial_string_fails; /* string-error: the next read of the serial string stalls */
};

/* The fate of a control transfer being submitted to a device whose serial-number string has
 * index serial_index: 0 = serve it, -EPIPE = stall, -ETIMEDOUT = never completes. Consumes one
 * armed fault. */
int sim_usb_control_faults_submit(struct sim_usb_control_faults *f, uint8_t serial_index,
                                  const struct sim_usb_setup *setup);

#endif
