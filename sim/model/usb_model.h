/* A USB device model as a front end drives it, whatever the chip: the FT232H family
 * (ft232h.h) and the CP2112 (cp2112.h) each provide one table of these operations, so a front
 * end (the usbredir bridge) serves any of them without knowing the chip. Every call is made with
 * the hardware lock held; time is CLOCK_MONOTONIC in ns, passed in so tests can drive it.
 *
 * Transfers on an endpoint other than 0 are "data" transfers (bulk or interrupt, as the
 * descriptors say). A front end asks the model first whether a transfer is to fail
 * (control_submit, data_submit: the armed faults), then serves it. */
#ifndef SIM_USB_MODEL_H
#define SIM_USB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* USB setup packet, host byte order. */
struct sim_usb_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
};

enum sim_usb_speed {
    SIM_USB_FULL_SPEED = 0, /* 12 Mbit/s: the CP2112 */
    SIM_USB_HIGH_SPEED,     /* 480 Mbit/s: the FT232H family */
};

struct sim_usb_model_ops {
    enum sim_usb_speed speed;
    /* Device descriptor followed by the configuration descriptor (interfaces, class descriptors,
     * endpoints), as sysfs' `descriptors` holds them. Returns the length written, or the length
     * needed when max is too small. */
    size_t (*descriptors)(const void *dev, uint8_t *buf, size_t max);
    /* The fate of a control transfer being submitted: 0 = serve it, -EPIPE = stall at once,
     * -ETIMEDOUT = never completes (until cancelled). Consumes one armed fault. */
    int (*control_submit)(void *dev, const struct sim_usb_setup *setup);
    /* A control transfer at now_ns. data holds wLength bytes (OUT: from the host; IN: filled
     * here). Returns the data bytes transferred, or -EPIPE for a stalled (unsupported) request. */
    int (*control)(void *dev, const struct sim_usb_setup *setup, uint8_t *data, uint64_t now_ns);
    /* The fate of a data transfer on endpoint ep being submitted, as control_submit. */
    int (*data_submit)(void *dev, uint8_t ep);
    /* An OUT transfer of len bytes. Returns the bytes taken, or -EPIPE / -EINVAL (no such
     * endpoint). */
    int (*data_out)(void *dev, uint8_t ep, const uint8_t *data, size_t len, uint64_t now_ns);
    /* Try to complete an IN transfer of at most max bytes. Returns the bytes written (> 0), 0 when
     * it must wait (then *wake_ns is when to ask again; UINT64_MAX = only after the next
     * OUT or control transfer), or -errno. *status is 0, or -EOVERFLOW when the device sent more
     * than max (babble: buf holds max bytes). */
    int (*data_in)(void *dev, uint8_t ep, uint8_t *buf, size_t max, uint64_t now_ns,
                   uint64_t *wake_ns, int *status);
    /* Optional (NULL: nothing to do): the chip's power-on state, called as it is plugged in. */
    void (*power_on)(void *dev, uint64_t now_ns);
};

/* One device: its operations and the model they act on. */
struct sim_usb_model {
    const struct sim_usb_model_ops *ops;
    void *dev;
};

#endif
