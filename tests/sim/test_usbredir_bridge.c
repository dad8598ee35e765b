/* The usbredir bridge (front/usbredir_bridge.h) seen from a QEMU stand-in (usbredir_guest.h):
 * hello, device connect and disconnect, reconnection, control and bulk transfers of the FT232H
 * model, latency-paced bulk IN, the faults as usbredir statuses, and interrupt endpoints of a
 * HID-shaped model. Timing checks are lower bounds only (the server never answers early). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/usbredir_bridge.h"
#include "front/usbredir_desc.h"
#include "model/ft232h.h"
#include "usbredir_guest.h"

#define QUIET_MS 300 /* "nothing arrives": a failure can only be a false alarm, not a pass */
#define MS       1000000ull

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char dir[64];
static struct sim_usbredir_bridge *bridge;
static struct sim_ft232h *chip;
static struct sim_usb_model model;
static struct guest *guest;

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/redir.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char err[200];
    bridge = sim_usbredir_bridge_new(dir, &lock, err, sizeof(err));
    cr_assert_not_null(bridge, "%s", err);
    const struct sim_ft232h_config cfg = {
        .vid = SIM_FTDI_VID, .pid = SIM_FT232H_PID, .serial = "FT000001"};
    chip = sim_ft232h_new(&cfg, NULL);
    cr_assert_not_null(chip);
    model = (struct sim_usb_model){&sim_ft232h_usb_ops, chip};
}

static void teardown(void)
{
    guest_close(guest);
    guest = NULL;
    sim_usbredir_bridge_free(bridge);
    sim_ft232h_free(chip);
    rmdir(dir);
}

TestSuite(usbredir_bridge, .init = setup, .fini = teardown, .timeout = 60);

static void add(const struct sim_usb_model *m, bool plugged)
{
    char err[200];
    cr_assert_geq(sim_usbredir_bridge_add(bridge, m, plugged, err, sizeof(err)), 0, "%s", err);
}

/* The FT232H plugged in, a guest connected to it and the device connected. */
static void connected(void)
{
    add(&model, true);
    guest = guest_connect(sim_usbredir_bridge_socket(bridge, 0));
    cr_assert(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, NULL), "device_connect after hello");
}

static struct sim_usbredir_stats stats(const void *dev)
{
    struct sim_usbredir_stats s;
    pthread_mutex_lock(&lock);
    cr_assert_eq(sim_usbredir_bridge_stats_locked(bridge, dev, &s), 0);
    pthread_mutex_unlock(&lock);
    return s;
}

static struct guest_event wait_bulk(uint64_t id)
{
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_BULK, GUEST_WAIT_MS, &e), "an answer to bulk packet %lu",
              (unsigned long)id);
    cr_assert_eq(e.id, id);
    return e;
}

static struct guest_event wait_control(uint64_t id)
{
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_CONTROL, GUEST_WAIT_MS, &e));
    cr_assert_eq(e.id, id);
    return e;
}

static void vendor_out(uint8_t request, uint16_t value)
{
    const uint64_t id = guest_control(guest, 0x40, request, value, 1, 0, NULL);
    cr_assert_eq(wait_control(id).status, usb_redir_success);
}

Test(usbredir_bridge, socket_paths_follow_the_order_of_adding)
{
    struct sim_ft232h *other = sim_ft232h_new(
        &(struct sim_ft232h_config){.vid = SIM_FTDI_VID, .pid = SIM_LYNX_ADAPTER_PID}, NULL);
    const struct sim_usb_model second = {&sim_ft232h_usb_ops, other};
    add(&model, true);
    add(&second, false);
    char want[128];
    snprintf(want, sizeof(want), "%s/usb1.sock", dir);
    cr_expect_eq(sim_usbredir_bridge_count(bridge), 2);
    cr_expect_str_eq(sim_usbredir_bridge_socket(bridge, 1), want);
    cr_expect_eq(access(want, F_OK), 0);
    char err[200];
    cr_expect_eq(sim_usbredir_bridge_add(bridge, &second, true, err, sizeof(err)), -EEXIST);
    sim_usbredir_bridge_free(bridge);
    bridge = NULL;
    cr_expect_neq(access(want, F_OK), 0, "the sockets are removed");
    sim_ft232h_free(other);
}

Test(usbredir_bridge, hello_brings_interface_and_endpoint_info_then_connect)
{
    add(&model, true);
    guest = guest_connect(sim_usbredir_bridge_socket(bridge, 0));
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_HELLO, GUEST_WAIT_MS, NULL));
    cr_assert(guest_wait(guest, EV_INTERFACE_INFO, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.interfaces.interface_count, 1);
    cr_assert(guest_wait(guest, EV_EP_INFO, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.endpoints.type[SIM_USBREDIR_EP_INDEX(0x81)], usb_redir_type_bulk);
    cr_expect_eq(e.endpoints.max_packet_size[SIM_USBREDIR_EP_INDEX(0x02)], 512);
    cr_assert(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.connect.speed, usb_redir_speed_high);
    cr_expect_eq(e.connect.product_id, 0x6014);
    cr_expect_eq(e.connect.device_version_bcd, 0x0900);
    cr_expect_eq(stats(chip).connects, 1);
}

Test(usbredir_bridge, unplugged_device_connects_at_plug_and_goes_at_unplug)
{
    add(&model, false);
    guest = guest_connect(sim_usbredir_bridge_socket(bridge, 0));
    cr_assert(guest_wait(guest, EV_HELLO, GUEST_WAIT_MS, NULL));
    cr_expect_not(guest_has(guest, EV_CONNECT, QUIET_MS), "no device while unplugged");
    cr_expect_not(sim_usbredir_bridge_plugged(bridge, chip));

    cr_assert_eq(sim_usbredir_bridge_plug(bridge, chip), 0);
    cr_expect(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, NULL));
    cr_expect_eq(sim_usbredir_bridge_plug(bridge, chip), -EALREADY);
    cr_assert_eq(sim_usbredir_bridge_unplug(bridge, chip), 0);
    cr_expect(guest_wait(guest, EV_DISCONNECT, GUEST_WAIT_MS, NULL));
    cr_expect_eq(stats(chip).disconnects, 1);
}

Test(usbredir_bridge, a_reconnecting_guest_gets_hello_and_the_device_again)
{
    connected();
    guest_close(guest);
    guest = guest_connect(sim_usbredir_bridge_socket(bridge, 0));
    cr_expect(guest_wait(guest, EV_HELLO, GUEST_WAIT_MS, NULL));
    cr_expect(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, NULL));
    cr_expect_eq(stats(chip).connections, 2);
    cr_expect_eq(stats(chip).connects, 2);
}

Test(usbredir_bridge, control_requests_are_the_models)
{
    connected();
    uint8_t desc[64];
    const size_t len = sim_ft232h_descriptors(chip, desc, sizeof(desc));
    cr_assert_geq(len, 18);

    struct guest_event e = wait_control(guest_control(guest, 0x80, 0x06, 0x0100, 0, 64, NULL));
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.data_len, 18, "a device descriptor, not the 64 bytes asked");
    cr_expect_arr_eq(e.data, desc, 18);

    e = wait_control(guest_control(guest, 0x80, 0x06, 0x0303, 0x0409, 255, NULL));
    cr_expect_eq(e.data_len, 2 + 2 * 8, "the serial string");
    cr_expect_eq(e.data[2], 'F');

    vendor_out(0x09, 40); /* SET_LATENCY_TIMER */
    e = wait_control(guest_control(guest, 0xC0, 0x0A, 0, 1, 1, NULL));
    cr_expect_eq(e.data_len, 1);
    cr_expect_eq(e.data[0], 40);

    e = wait_control(guest_control(guest, 0xC0, 0x55, 0, 1, 1, NULL));
    cr_expect_eq(e.status, usb_redir_stall, "a request the chip does not know stalls");
    cr_expect_eq(e.data_len, 0);

    guest_set_configuration(guest, 1);
    cr_assert(guest_wait(guest, EV_CONFIGURATION_STATUS, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.length, 1, "configuration 1");
    guest_set_configuration(guest, 7);
    cr_assert(guest_wait(guest, EV_CONFIGURATION_STATUS, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.status, usb_redir_stall);
}

Test(usbredir_bridge, control_faults_stall_or_hang_until_cancelled)
{
    connected();
    pthread_mutex_lock(&lock);
    sim_ft232h_fail_control(chip, 1);
    pthread_mutex_unlock(&lock);
    struct guest_event e = wait_control(guest_control(guest, 0xC0, 0x0A, 0, 1, 1, NULL));
    cr_expect_eq(e.status, usb_redir_stall, "control-error");

    pthread_mutex_lock(&lock);
    sim_ft232h_hang_control(chip, 1);
    pthread_mutex_unlock(&lock);
    const uint64_t id = guest_control(guest, 0xC0, 0x0A, 0, 1, 1, NULL);
    cr_expect_not(guest_has(guest, EV_CONTROL, QUIET_MS), "control-timeout: no answer");
    guest_cancel(guest, id);
    e = wait_control(id);
    cr_expect_eq(e.status, usb_redir_cancelled);
    e = wait_control(guest_control(guest, 0xC0, 0x0A, 0, 1, 1, NULL));
    cr_expect_eq(e.status, usb_redir_success, "one fault, one transfer");
}

Test(usbredir_bridge, bulk_in_waits_for_the_latency_timer_and_brings_the_status_bytes)
{
    connected();
    vendor_out(0x09, 60); /* 60 ms latency timer */
    const uint64_t sent = guest_now_ns();
    struct guest_event e = wait_bulk(guest_bulk(guest, 0x81, 512, NULL));
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.data_len, 2);
    cr_expect_eq(e.data[0], 0x32);
    cr_expect_eq(e.data[1], 0x60);
    cr_expect_geq(e.at_ns - sent, 60 * MS, "not before the latency timer expired");

    /* the first completed 60 ms after it arrived at the earliest, the second 60 ms after that */
    e = wait_bulk(guest_bulk(guest, 0x81, 512, NULL));
    cr_expect_geq(e.at_ns - sent, 120 * MS, "the timer restarts when a transfer completes");
    cr_expect_eq(stats(chip).bulk_in, 2);
}

/* MPSSE on, then n "read pins" commands and a send-immediate: n bytes queued for the host. */
static void queue_bytes(size_t n)
{
    uint8_t cmd[600];
    cr_assert_lt(n, sizeof(cmd));
    vendor_out(0x0B, 0x0200); /* SET_BITMODE MPSSE */
    memset(cmd, 0x81, n);
    cmd[n] = 0x87;
    struct guest_event e = wait_bulk(guest_bulk(guest, 0x02, (uint32_t)n + 1, cmd));
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.length, n + 1, "OUT: the bytes taken");
}

Test(usbredir_bridge, flushed_data_comes_with_the_next_in_request)
{
    connected();
    vendor_out(0x09, 255);
    queue_bytes(3);
    struct guest_event e = wait_bulk(guest_bulk(guest, 0x81, 512, NULL));
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.data_len, 2 + 3);
}

Test(usbredir_bridge, a_request_smaller_than_the_packet_babbles)
{
    connected();
    queue_bytes(200);
    struct guest_event e = wait_bulk(guest_bulk(guest, 0x81, 64, NULL));
    cr_expect_eq(e.status, usb_redir_babble);
    cr_expect_eq(e.data_len, 64, "what fits");
    cr_expect_eq(stats(chip).babbles, 1);
}

Test(usbredir_bridge, bulk_faults_stall_or_hang_until_cancelled)
{
    connected();
    pthread_mutex_lock(&lock);
    sim_ft232h_fail_bulk(chip, 1);
    pthread_mutex_unlock(&lock);
    const uint8_t byte = 0x87;
    cr_expect_eq(wait_bulk(guest_bulk(guest, 0x02, 1, &byte)).status, usb_redir_stall, "usb-error");

    pthread_mutex_lock(&lock);
    sim_ft232h_hang_bulk_in(chip, 1);
    pthread_mutex_unlock(&lock);
    const uint64_t hung = guest_bulk(guest, 0x81, 512, NULL);
    const uint64_t behind = guest_bulk(guest, 0x81, 512, NULL);
    cr_expect_not(guest_has(guest, EV_BULK, QUIET_MS), "usb-timeout holds its endpoint");
    guest_cancel(guest, hung);
    cr_expect_eq(wait_bulk(hung).status, usb_redir_cancelled);
    cr_expect_eq(wait_bulk(behind).status, usb_redir_success, "the one behind goes on");
}

Test(usbredir_bridge, unplug_mid_transfer_disconnects_on_the_next_in_request)
{
    connected();
    cr_assert_eq(sim_usbredir_bridge_unplug_mid_transfer(bridge, chip), 0);
    const uint8_t byte = 0x87;
    cr_expect_eq(wait_bulk(guest_bulk(guest, 0x02, 1, &byte)).status, usb_redir_success,
                 "OUT transfers do not trigger it");
    const uint64_t id = guest_bulk(guest, 0x81, 512, NULL);
    cr_expect(guest_wait(guest, EV_DISCONNECT, GUEST_WAIT_MS, NULL));
    cr_expect_eq(wait_bulk(id).status, usb_redir_ioerror);
    cr_expect_not(sim_usbredir_bridge_plugged(bridge, chip));
    cr_expect_eq(sim_usbredir_bridge_unplug_mid_transfer(bridge, chip), -ENODEV);
    cr_assert_eq(sim_usbredir_bridge_plug(bridge, chip), 0);
    cr_expect(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, NULL));
}

Test(usbredir_bridge, unplug_answers_held_requests_with_ioerror)
{
    connected();
    vendor_out(0x09, 255);
    const uint64_t id = guest_bulk(guest, 0x81, 512, NULL);
    cr_assert_eq(sim_usbredir_bridge_unplug(bridge, chip), 0);
    cr_expect(guest_wait(guest, EV_DISCONNECT, GUEST_WAIT_MS, NULL));
    cr_expect_eq(wait_bulk(id).status, usb_redir_ioerror);
    cr_expect_eq(wait_bulk(guest_bulk(guest, 0x81, 512, NULL)).status, usb_redir_ioerror,
                 "no device, no transfers");
}

Test(usbredir_bridge, plug_powers_the_chip_on_afresh)
{
    connected();
    vendor_out(0x09, 99);
    cr_assert_eq(sim_usbredir_bridge_unplug(bridge, chip), 0);
    cr_assert_eq(sim_usbredir_bridge_plug(bridge, chip), 0);
    cr_assert(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, NULL));
    struct guest_event e = wait_control(guest_control(guest, 0xC0, 0x0A, 0, 1, 1, NULL));
    cr_expect_eq(e.data[0], 16, "the default latency timer again");
}

/* --- a HID-shaped device (the CP2112's endpoints): interrupt IN 0x81 and OUT 0x01 at full
 * speed; it echoes every OUT report on IN. --- */

struct echo {
    uint8_t report[64];
    size_t len;
    bool pending;
    unsigned stalls; /* IN transfers to stall */
};

static const uint8_t echo_desc[] = {
    18, 0x01, 0x00, 0x02, 0,    0,    0,  64, 0xC4, 0x10, 0x90, 0xEA, 0x00, 0x01, 0, 0,    0,
    1,  9,    0x02, 32,   0,    1,    1,  0,  0x80, 50,   9,    0x04, 0,    0,    2, 0x03, 0,
    0,  0,    7,    0x05, 0x81, 0x03, 64, 0,  1,    7,    0x05, 0x01, 0x03, 64,   0, 1,
};

static size_t echo_descriptors(const void *dev, uint8_t *buf, size_t max)
{
    (void)dev;
    if (max >= sizeof(echo_desc))
        memcpy(buf, echo_desc, sizeof(echo_desc));
    return sizeof(echo_desc);
}

static int echo_control_submit(void *dev, const struct sim_usb_setup *setup)
{
    (void)dev, (void)setup;
    return 0;
}

static int echo_control(void *dev, const struct sim_usb_setup *setup, uint8_t *data, uint64_t now)
{
    (void)dev, (void)now;
    if (setup->bmRequestType & 0x80)
        memset(data, 1, setup->wLength);
    return setup->bmRequestType & 0x80 ? setup->wLength : 0;
}

static int echo_data_submit(void *dev, uint8_t ep)
{
    struct echo *e = dev;
    if (ep == 0x81 && e->stalls > 0) {
        e->stalls--;
        return -EPIPE;
    }
    return 0;
}

static int echo_data_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, uint64_t now)
{
    struct echo *e = dev;
    (void)now;
    if (ep != 0x01 || len > sizeof(e->report))
        return -EINVAL;
    memcpy(e->report, data, len);
    e->len = len;
    e->pending = true;
    return (int)len;
}

static int echo_data_in(void *dev, uint8_t ep, uint8_t *buf, size_t max, uint64_t now,
                        uint64_t *wake, int *status)
{
    struct echo *e = dev;
    (void)now;
    *status = 0;
    *wake = UINT64_MAX;
    if (ep != 0x81 || !e->pending)
        return 0;
    e->pending = false;
    memcpy(buf, e->report, e->len < max ? e->len : max);
    return (int)(e->len < max ? e->len : max);
}

static const struct sim_usb_model_ops echo_ops = {
    .speed = SIM_USB_FULL_SPEED,
    .descriptors = echo_descriptors,
    .control_submit = echo_control_submit,
    .control = echo_control,
    .data_submit = echo_data_submit,
    .data_out = echo_data_out,
    .data_in = echo_data_in,
};

static struct echo echo;

static void echo_connected(void)
{
    memset(&echo, 0, sizeof(echo));
    static const struct sim_usb_model echo_model = {&echo_ops, &echo};
    add(&echo_model, true);
    guest = guest_connect(sim_usbredir_bridge_socket(bridge, 0));
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_CONNECT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.connect.speed, usb_redir_speed_full);
}

static void start_receiving(uint8_t ep, uint8_t want)
{
    struct guest_event e;
    guest_start_interrupt_receiving(guest, ep);
    cr_assert(guest_wait(guest, EV_INTERRUPT_RECEIVING_STATUS, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.endpoint, ep);
    cr_expect_eq(e.status, want);
}

Test(usbredir_bridge, interrupt_reports_flow_both_ways)
{
    echo_connected();
    start_receiving(0x81, usb_redir_success);
    const uint8_t report[3] = {0x10, 0x42, 0x01};
    const uint64_t id = guest_interrupt_out(guest, 0x01, sizeof(report), report);

    struct guest_event e;
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.id, id);
    cr_expect_eq(e.endpoint, 0x01);
    cr_expect_eq(e.status, usb_redir_success);
    cr_expect_eq(e.length, 3, "the OUT report taken");
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.endpoint, 0x81);
    cr_expect_eq(e.data_len, 3);
    cr_expect_arr_eq(e.data, report, 3, "the model's IN report");
    cr_expect_not(guest_has(guest, EV_INTERRUPT, QUIET_MS), "one report, one packet");
    cr_expect_eq(stats(&echo).interrupt_in, 1);
    cr_expect_eq(stats(&echo).interrupt_out, 1);
}

Test(usbredir_bridge, an_interrupt_in_fault_is_a_stalled_report)
{
    echo_connected();
    echo.stalls = 1;
    start_receiving(0x81, usb_redir_success);
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.endpoint, 0x81);
    cr_expect_eq(e.status, usb_redir_stall);
    cr_expect_eq(e.data_len, 0);

    const uint8_t report[1] = {7};
    guest_interrupt_out(guest, 0x01, 1, report);
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e)); /* the OUT's answer */
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.status, usb_redir_success, "the next transfer goes through");
    cr_expect_eq(e.data[0], 7);
}

Test(usbredir_bridge, receiving_on_a_non_interrupt_endpoint_is_refused)
{
    echo_connected();
    start_receiving(0x82, usb_redir_inval);
}

Test(usbredir_bridge, unplug_mid_transfer_fires_on_a_due_report)
{
    echo_connected();
    start_receiving(0x81, usb_redir_success);
    cr_assert_eq(sim_usbredir_bridge_unplug_mid_transfer(bridge, &echo), 0);
    const uint8_t report[1] = {7};
    guest_interrupt_out(guest, 0x01, 1, report);
    cr_expect(guest_wait(guest, EV_DISCONNECT, GUEST_WAIT_MS, NULL));
    struct guest_event e;
    cr_assert(guest_wait(guest, EV_INTERRUPT, GUEST_WAIT_MS, &e));
    cr_expect_eq(e.endpoint, 0x01, "only the OUT's answer: the report went with the device");
    cr_expect_not(guest_has(guest, EV_INTERRUPT, QUIET_MS));
}
