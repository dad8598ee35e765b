/* A tiny stand-in for QEMU's usb-redir device in the tests: a unix socket client with
 * libusbredirparser in usb-guest mode and QEMU's capabilities, which records what the server
 * sends as events and waits for them (bounded waits: conditions, not timings). */
#ifndef TESTS_SIM_USBREDIR_GUEST_H
#define TESTS_SIM_USBREDIR_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <usbredirparser.h>

#define GUEST_WAIT_MS 5000 /* generous: a bridge answers in microseconds when it answers */
#define GUEST_DATA    1024

enum guest_event_type {
    EV_HELLO = 1,
    EV_CONNECT,
    EV_DISCONNECT,
    EV_INTERFACE_INFO,
    EV_EP_INFO,
    EV_CONFIGURATION_STATUS,
    EV_ALT_SETTING_STATUS,
    EV_INTERRUPT_RECEIVING_STATUS,
    EV_CONTROL,
    EV_BULK,
    EV_INTERRUPT,
};

struct guest_event {
    enum guest_event_type type;
    uint64_t id;
    uint8_t status, endpoint;
    uint32_t length; /* the header's */
    int data_len;
    uint8_t data[GUEST_DATA];
    uint64_t at_ns; /* CLOCK_MONOTONIC when it was read */
    struct usb_redir_device_connect_header connect;
    struct usb_redir_interface_info_header interfaces;
    struct usb_redir_ep_info_header endpoints;
};

struct guest;

/* Connects to path (retrying until the server listens, within GUEST_WAIT_MS). */
struct guest *guest_connect(const char *path);
void guest_close(struct guest *g);

/* Waits for the next event of that type (events of other types stay queued). Returns false
 * when none came within ms. */
bool guest_wait(struct guest *g, enum guest_event_type type, int ms, struct guest_event *out);
/* True when an event of that type arrives within ms (for "nothing happens" checks use a short
 * ms: a false negative then cannot make a test pass wrongly, only fail). */
bool guest_has(struct guest *g, enum guest_event_type type, int ms);

/* Packets as QEMU sends them; each returns the id used. */
uint64_t guest_control(struct guest *g, uint8_t requesttype, uint8_t request, uint16_t value,
                       uint16_t index, uint16_t length, const uint8_t *out_data);
uint64_t guest_bulk(struct guest *g, uint8_t ep, uint32_t length, const uint8_t *out_data);
uint64_t guest_interrupt_out(struct guest *g, uint8_t ep, uint16_t length, const uint8_t *data);
void guest_start_interrupt_receiving(struct guest *g, uint8_t ep);
void guest_set_configuration(struct guest *g, uint8_t config);
void guest_cancel(struct guest *g, uint64_t id);

uint64_t guest_now_ns(void);

#endif
