/* I2C_FUNC_SMBUS_EMUL_ALL for Linux UAPI headers older than 5.12 (Debian bullseye's 5.10, the
 * armhf release's sysroot: tools/armhf-sysroot.sh): the simulator's i2c-dev model and its test
 * report what a current i2c-dev reports. The value is the kernel's (include/uapi/linux/i2c.h).
 * meson.build force-includes this header (-include) only when <linux/i2c.h> lacks the macro. */
#ifndef COMPAT_I2C_FUNC_SMBUS_EMUL_ALL_H
#define COMPAT_I2C_FUNC_SMBUS_EMUL_ALL_H

#include <linux/i2c.h>

#define I2C_FUNC_SMBUS_EMUL_ALL                                                                    \
    (I2C_FUNC_SMBUS_EMUL | I2C_FUNC_SMBUS_READ_BLOCK_DATA | I2C_FUNC_SMBUS_BLOCK_PROC_CALL)

#endif
