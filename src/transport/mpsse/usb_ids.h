/* The USB ids of the FTDI chips with an MPSSE engine, and a VID:PID pair as the config file and
 * the enumeration take it. */
#ifndef LYNX_USB_IDS_H
#define LYNX_USB_IDS_H

#include <stdint.h>

#define FTDI_VID              0x0403
#define FTDI_FT232H_PID       0x6014
#define FTDI_LYNX_ADAPTER_PID 0xD4F8 /* the original project's reprogrammed adapters */
/* Stock PIDs of the dual and quad chips. Not looked for by default: countless USB-serial and
 * JTAG adapters use them, and claiming one would take its port away from ftdi_sio (on a GX
 * device: serial-starter's VE.Direct or Modbus link). Configure vid/pid to use them. */
#define FTDI_FT2232H_PID 0x6010
#define FTDI_FT4232H_PID 0x6011

struct usb_id {
    uint16_t vid;
    uint16_t pid;
};

#endif
