/* One simulated USB device served over usbredir: its state, and the packets QEMU sends it
 * (parsed by libusbredirparser in usb-host mode) answered from the device model, and the device
 * connect / disconnect that plug and unplug send. The connection itself (socket, parser, hello,
 * configuration packets) is usbredir_conn.c's; the bridge (usbredir_bridge.c) owns the devices,
 * the listening sockets and the thread that polls them.
 *
 * What happens to each packet:
 * - control packets go to the model's control op (GET_DESCRIPTOR and every other request; QEMU
 *   handles SET_ADDRESS itself), after control_submit decided their fate: -EPIPE answers
 *   usb_redir_stall, -ETIMEDOUT holds the packet until QEMU cancels it or the device goes;
 * - set/get configuration and alt setting packets are answered from the model's standard
 *   requests (no fault applies to them, as on the umockdev path);
 * - bulk and interrupt OUT packets go to data_out after data_submit;
 * - bulk IN packets are held, in order per endpoint, until the model has data for them or its
 *   wake time comes (the FT232H's latency timer); -EOVERFLOW becomes usb_redir_babble;
 * - interrupt IN is "interrupt receiving": once QEMU starts it on an endpoint, the server sends
 *   an interrupt packet whenever the model has a report, each one a transfer that data_submit
 *   decides first (a hung one silences the endpoint until QEMU stops receiving on it);
 * - unplug-mid-transfer: the next IN data packet (a bulk IN request, or a report due on an
 *   interrupt endpoint) disconnects the device; held packets are answered usb_redir_ioerror.
 *
 * Lock: every function here runs with the hardware lock held (it calls the model and the
 * parser; the parser is never used without it). */
#ifndef SIM_FRONT_USBREDIR_DEVICE_H
#define SIM_FRONT_USBREDIR_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "front/usbredir_bridge.h"
#include "front/usbredir_desc.h"
#include "model/usb_model.h"

struct held_packet;
struct usbredirparser;

struct sim_usbredir_device {
    struct sim_usb_model model;
    struct sim_usbredir_desc desc;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
    bool plugged;
    bool unplug_armed; /* unplug-mid-transfer */
    bool trace;        /* LYNX_SIM_USBREDIR_TRACE set: every control transfer on stderr */

    /* the connection (fd -1: none) */
    int fd;
    struct usbredirparser *parser;
    bool hello;               /* the peer's hello arrived */
    bool connected;           /* device_connect sent, no disconnect since */
    bool dead;                /* an I/O error or EOF: the bridge closes the connection */
    struct held_packet *held; /* in arrival order */
    uint32_t receiving;       /* interrupt IN endpoints QEMU receives on (bit = ep index) */
    uint32_t in_transfer;     /* ...whose next report is a transfer already submitted */
    uint32_t hung;            /* ...whose transfer never completes */
    uint8_t *scratch;         /* IN data buffer, grown as needed */
    size_t scratch_len;

    struct sim_usbredir_stats stats;
};

/* Sets the parser's handlers of the packets this file answers (control, bulk, interrupt,
 * interrupt receiving, cancel). */
void sim_usbredir_device_handlers(struct usbredirparser *parser);
/* Writes what the parser has queued, as far as the socket takes it. */
void sim_usbredir_device_flush(struct sim_usbredir_device *d);
/* Answers held IN packets and interrupt reports the model has data for. Returns the earliest
 * time the model may have more (UINT64_MAX: only after the next packet). */
uint64_t sim_usbredir_device_service(struct sim_usbredir_device *d, uint64_t now_ns);
/* Forgets every held packet without answering (the connection is gone). */
void sim_usbredir_device_drop_held(struct sim_usbredir_device *d);

/* Plug and unplug on a live connection: device_connect (with interface and endpoint info) when
 * the peer said hello; device_disconnect, held packets answered usb_redir_ioerror. */
void sim_usbredir_device_connect(struct sim_usbredir_device *d);
void sim_usbredir_device_disconnect(struct sim_usbredir_device *d);

uint64_t sim_usbredir_now_ns(void);
/* A model's errno as a usbredir status: -EPIPE stall, -EOVERFLOW babble, -EINVAL inval,
 * -ETIMEDOUT timeout, any other ioerror. */
uint8_t sim_usbredir_status(int err);
/* Counts an answer's status in the stats (stalls, babbles, ...). */
void sim_usbredir_count_status(struct sim_usbredir_stats *s, uint8_t status);

#endif
