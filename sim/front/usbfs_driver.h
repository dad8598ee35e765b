/* usbfs' kernel-driver ioctls of one simulated device, as usbfs.c's handler runs them with the
 * hardware lock held: GETDRIVER and USBDEVFS_IOCTL DISCONNECT / CONNECT (the model of ftdi_sio
 * bound to interface 0, usb_bridge.h), and CLAIMINTERFACE, DISCONNECT_CLAIM and
 * RELEASEINTERFACE (a claim belongs to one open file: another file's claim fails with EBUSY, and
 * the claim ends when its file is closed). Each ioctl function returns 0 or the errno to
 * complete the ioctl with. */
#ifndef SIM_FRONT_USBFS_DRIVER_H
#define SIM_FRONT_USBFS_DRIVER_H

#include <stdbool.h>

#include "front/usbfs.h"

int sim_usbfs_get_driver(struct sim_usb_device *ad, UMockdevIoctlClient *client);
/* Sets ad->connect_result for the ioctl's return value. */
int sim_usbfs_driver_ioctl(struct sim_usb_device *ad, UMockdevIoctlClient *client);
int sim_usbfs_claim(struct sim_usb_device *ad, UMockdevIoctlClient *client, bool disconnect);
int sim_usbfs_release_claim(struct sim_usb_device *ad, UMockdevIoctlClient *client);

/* Makes interface 0's driver link in the testbed's sysfs (ad->driver_link, to ftdi_sio) follow
 * driver_bound: plain file-system calls, not testbed API calls, so allowed under the lock. */
void sim_usbfs_driver_link_locked(struct sim_usb_device *ad);

/* Whether a client that still has the node open holds interface 0's claim. */
bool sim_usbfs_claimed_locked(struct sim_usb_device *ad);
/* Ends every claim (the device was unplugged: a new one has none). */
void sim_usbfs_unclaim_locked(struct sim_usb_device *ad);

#endif
