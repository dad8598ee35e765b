/* usbfs' kernel-driver side of one simulated device (see usbfs_driver.h): ftdi_sio's binding of
 * interface 0 and the claims of usbfs files. */
#include "front/usbfs_driver.h"

#include <errno.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stdio.h>
#include <unistd.h>

#include <umockdev.h>

void sim_usbfs_driver_link_locked(struct sim_usb_device *ad)
{
    /* from /sys/devices/pci0000:00/0000:00:14.0/usb1/1-N/1-N:1.0: six levels up to /sys */
    if (ad->driver_bound && atomic_load(&ad->plugged))
        (void)symlink("../../../../../../bus/usb/drivers/ftdi_sio", ad->driver_link);
    else
        (void)unlink(ad->driver_link);
}

/* GETDRIVER: the name of the bound driver, ENODATA when none. */
int sim_usbfs_get_driver(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
    if (!data)
        return EFAULT;
    struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)data->data;
    int rc = ENODATA;
    if (gd->interface == 0 && ad->driver_bound) {
        snprintf(gd->driver, sizeof(gd->driver), "ftdi_sio");
        rc = 0;
    }
    g_object_unref(data);
    return rc;
}

/* USBDEVFS_IOCTL: DISCONNECT (libusb_detach_kernel_driver) and CONNECT (attach). */
int sim_usbfs_driver_ioctl(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
    if (!data)
        return EFAULT;
    const struct usbdevfs_ioctl *io = (const struct usbdevfs_ioctl *)data->data;
    int rc = io->ifno == 0 ? 0 : ENODATA;
    ad->connect_result = io->ioctl_code == (int)USBDEVFS_CONNECT ? 1 : 0;
    if (rc == 0 && io->ioctl_code == (int)USBDEVFS_DISCONNECT) {
        rc = ad->driver_bound ? 0 : ENODATA;
        if (rc == 0) {
            ad->driver_bound = false;
            ad->driver.detaches++;
        }
        if (rc == 0 && ad->rebind_after_detach > 0) { /* bound again before the claim */
            ad->rebind_after_detach--;
            ad->driver_bound = true;
            ad->driver.binds++;
        }
        sim_usbfs_driver_link_locked(ad); /* sysfs shows where that left the binding */
    } else if (rc == 0 && io->ioctl_code == (int)USBDEVFS_CONNECT) {
        /* the kernel cannot bind what a program claimed */
        rc = sim_usbfs_claimed_locked(ad) ? EBUSY : 0;
        if (rc == 0 && !ad->driver_bound) {
            ad->driver_bound = true;
            ad->driver.attaches++;
            sim_usbfs_driver_link_locked(ad);
        }
    } else if (rc == 0) {
        rc = ENOTTY;
    }
    g_object_unref(data);
    return rc;
}

/* The client holding interface ifno's claim, NULL when none: a claim ends when its client has
 * closed the node (the kernel releases a file's claims as the file is closed). */
static UMockdevIoctlClient *claimant(struct sim_usb_device *ad, unsigned ifno)
{
    UMockdevIoctlClient *c = ad->claimed_by[ifno];
    if (c && !umockdev_ioctl_client_get_connected(c)) {
        g_object_unref(c);
        ad->claimed_by[ifno] = NULL;
        return NULL;
    }
    return c;
}

bool sim_usbfs_claimed_locked(struct sim_usb_device *ad)
{
    return claimant(ad, 0) != NULL;
}

void sim_usbfs_unclaim_locked(struct sim_usb_device *ad)
{
    for (unsigned i = 0; i < SIM_FTDI_MAX_PORTS; i++) {
        if (ad->claimed_by[i])
            g_object_unref(ad->claimed_by[i]);
        ad->claimed_by[i] = NULL;
    }
}

/* The interface number an ioctl names (CLAIMINTERFACE, RELEASEINTERFACE: an unsigned int;
 * DISCONNECT_CLAIM: a struct that starts with it). Returns 0 or EFAULT. */
static int interface_arg(UMockdevIoctlClient *client, unsigned *ifno)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *value = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned int), NULL);
    if (!value)
        return EFAULT;
    *ifno = *(const unsigned int *)value->data;
    g_object_unref(value);
    return 0;
}

/* As usbfs: ENOENT for an interface the chip lacks; a claim this file holds is taken again;
 * EBUSY while another file (or, unless disconnect, ftdi_sio on interface 0) has it. */
int sim_usbfs_claim(struct sim_usb_device *ad, UMockdevIoctlClient *client, bool disconnect)
{
    unsigned ifno;
    int rc = interface_arg(client, &ifno);
    if (rc != 0)
        return rc;
    if (ifno >= sim_ft232h_ports(ad->dev))
        return ENOENT;
    UMockdevIoctlClient *holder = claimant(ad, ifno);
    if (holder)
        return holder == client ? 0 : EBUSY;
    if (ifno == 0 && ad->driver_bound && disconnect) {
        ad->driver_bound = false;
        ad->driver.detaches++;
        sim_usbfs_driver_link_locked(ad);
    }
    if (ifno == 0 && ad->driver_bound)
        return EBUSY; /* as usbfs: a driver has it */
    ad->claimed_by[ifno] = g_object_ref(client);
    return 0;
}

/* EINVAL, as the kernel's, when this file does not hold the claim. */
int sim_usbfs_release_claim(struct sim_usb_device *ad, UMockdevIoctlClient *client)
{
    unsigned ifno;
    int rc = interface_arg(client, &ifno);
    if (rc != 0)
        return rc;
    if (ifno >= sim_ft232h_ports(ad->dev))
        return ENOENT;
    if (claimant(ad, ifno) != client)
        return EINVAL;
    g_object_unref(client);
    ad->claimed_by[ifno] = NULL;
    return 0;
}
