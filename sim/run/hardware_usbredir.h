/* The simulated installation's USB adapters served over usbredir (lynx-sim --usbredir DIR): the
 * usbredir bridge made and filled from the hardware, and its counters in the stats. hardware.c
 * routes plug, unplug and unplug-mid-transfer to whichever USB front end is active. */
#ifndef SIM_HARDWARE_USBREDIR_H
#define SIM_HARDWARE_USBREDIR_H

#include <stdio.h>

#include "run/hardware.h"

/* Creates hw->redir on DIR and adds every USB adapter (a->usb set) in order, plugged as the
 * scenario has it: adapter N is served on DIR/usbN.sock. Returns 0 or a negative errno with a
 * message in err. */
int sim_hardware_usbredir_start(struct sim_hardware *hw, const char *dir, char *err, size_t errlen);

/* An adapter's usbredir counters as JSON members (", \"usbredir_...\": N" ...), with the lock
 * held; nothing for an adapter the bridge does not serve. */
void sim_hardware_usbredir_write_adapter(struct sim_hardware *hw, const struct sim_adapter *a,
                                         FILE *out);
/* The sum over the adapters, as the same members. */
void sim_hardware_usbredir_write_total(struct sim_hardware *hw, FILE *out);

#endif
