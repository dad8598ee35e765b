/* A usbredir connection from QEMU to one simulated device: the non-blocking socket, the
 * libusbredirparser in usb-host mode with our capabilities (what QEMU with xHCI needs:
 * ep_info_max_packet_size, 64bits_ids, 32bits_bulk_length, and connect_device_version), the hello
 * (after which a plugged device is connected), USB reset, the configuration and alternate-setting
 * packets, and refusals of what no simulated device has (iso streams, bulk streams, buffered bulk
 * receiving). The data packets are usbredir_device.c's.
 *
 * Lock: every function runs with the hardware lock held. */
#ifndef SIM_FRONT_USBREDIR_CONN_H
#define SIM_FRONT_USBREDIR_CONN_H

#include <stdbool.h>

#include "front/usbredir_device.h"

/* A new connection on fd (non-blocking; taken over, also on failure): a usb-host parser with our
 * hello queued. Returns 0 or -ENOMEM. An older connection of the device is closed first. */
int sim_usbredir_conn_open(struct sim_usbredir_device *d, int fd);
/* Drops the connection: held packets are forgotten (QEMU is gone), the fd is closed. The device
 * stays plugged or unplugged as it was. */
void sim_usbredir_conn_close(struct sim_usbredir_device *d);
/* Reads and handles every packet that has arrived, then writes the answers. Returns 0, or -EIO
 * when the connection is to be closed (EOF, an I/O error). */
int sim_usbredir_conn_read(struct sim_usbredir_device *d);
/* Answers wait in the parser for a socket that has room. */
bool sim_usbredir_conn_wants_write(const struct sim_usbredir_device *d);

#endif
