/* Lynx Distributor status decoding: the status byte one I2C read returns -> the values the
 * battery service publishes under /Distributor/X (enums exactly as venus-dbus.md lists them).
 *
 * Pure functions, no I/O. Fuse numbering: a *physical* fuse index 0..3 is the distributor's own
 * numbering (status bit 4 + index; fuse 0 is the leftmost fuse in normal mounting). The config
 * file's distributorXFuseN keys use physical indexes, like the original project, so a name stays
 * with its fuse. The *published* index is the N in /Distributor/X/Fuse/N: equal to the physical
 * index, or mirrored (3 - index) when the distributor is mounted upside down, so the GUI lists
 * the fuses in the order a person sees them. Mirroring is its own inverse. */
#ifndef LYNX_LYNX_H
#define LYNX_LYNX_H

#include <stdbool.h>
#include <stdint.h>

#define LYNX_DISTRIBUTORS 4    /* A..D on one bus */
#define LYNX_FUSES        4    /* per distributor */
#define LYNX_BASE_ADDRESS 0x08 /* A = 0x08 (factory default) .. D = 0x0B */

/* The canary: an address no distributor and no other device answers, read in every scan after the
 * distributors. An ACK there means a line is held low, not a device: a controller without an
 * arbitration check (i2c-bcm2835) sees every address ACK and read 0x00 on a stuck SDA, which would
 * read as "supplied, all fuses good". 0x7F (1111 111) is one of UM10204's reserved addresses
 * (1111 1XX, "reserved for future purposes"), outside the 0x08..0x77 that devices (and Pi HATs,
 * and i2cdetect's default range) use; not 0x78..0x7B (the 10-bit address prefix, which a 10-bit
 * slave may act on), not 0x7C (device ID), not 0x04..0x07 (the Hs-mode master codes, which switch
 * Hs-capable devices to Hs mode). Its address byte with the read bit is 0xFF: any bit held low
 * shows. Linux lets it through: I2C_SLAVE takes 0..0x7F, and I2C_RDWR checks no address. */
#define LYNX_CANARY_ADDRESS 0x7F

#define LYNX_STATUS_NO_SUPPLY           0x02 /* no supply on the busbar: fuse bits meaningless */
#define LYNX_STATUS_INVALID_MASK        0x0D /* bits never set in a valid read (truncated reads) */
#define LYNX_STATUS_FUSE_OPEN(physical) ((uint8_t)(0x10u << (physical)))

/* /Distributor/X/Status */
enum lynx_distributor_status {
    LYNX_DISTRIBUTOR_NOT_AVAILABLE = 0,
    LYNX_DISTRIBUTOR_CONNECTED = 1,
    LYNX_DISTRIBUTOR_NO_BUS_POWER = 2,
    LYNX_DISTRIBUTOR_COMMS_LOST = 3,
};

/* /Distributor/X/Fuse/N/Status */
enum lynx_fuse_status {
    LYNX_FUSE_NOT_AVAILABLE = 0,
    LYNX_FUSE_NOT_USED = 1,
    LYNX_FUSE_OK = 2,
    LYNX_FUSE_BLOWN = 3,
};

/* /Distributor/X/Alarms/ConnectionLost and /Distributor/X/Fuse/N/Alarms/Blown */
enum lynx_alarm {
    LYNX_ALARM_OK = 0,
    LYNX_ALARM_ALARM = 2,
};

/* What the configuration says about one distributor. */
struct lynx_distributor_setup {
    bool installed;                  /* a missing distributor raises "connection lost" */
    bool upside_down;                /* published fuse indexes are mirrored */
    bool fuse_installed[LYNX_FUSES]; /* by physical index; false = "not used", never alarms */
};

struct lynx_fuse_state {
    enum lynx_fuse_status status;
    enum lynx_alarm blown_alarm;
};

struct lynx_distributor_state {
    enum lynx_distributor_status status;
    enum lynx_alarm connection_lost_alarm;
    struct lynx_fuse_state fuse[LYNX_FUSES]; /* by published index */
};

/* 7-bit I2C address of distributor 0..3 (A..D). */
uint8_t lynx_address(unsigned distributor);
/* 'A'..'D' for distributor 0..3. */
char lynx_letter(unsigned distributor);

/* False when the byte cannot be a complete read (any bit of LYNX_STATUS_INVALID_MASK set). */
bool lynx_status_valid(uint8_t status);

/* Published index of a physical fuse and back (the same mapping: i <-> 3 - i when upside down). */
unsigned lynx_fuse_published_index(bool upside_down, unsigned physical);
unsigned lynx_fuse_physical_index(bool upside_down, unsigned published);

/* Reorder per-fuse pointers (e.g. configured names) from physical to published order. */
void lynx_fuse_names_published(bool upside_down, const char *const physical[LYNX_FUSES],
                               const char *published[LYNX_FUSES]);

/* Decode a status byte read from a distributor that answered. Returns 0, or -EINVAL when the byte
 * is not a valid read (then *out is untouched and the caller reads again). */
int lynx_decode_status(uint8_t status, const struct lynx_distributor_setup *setup,
                       struct lynx_distributor_state *out);

/* The state of a distributor that does not answer (once the caller has decided the connection is
 * lost): "communications lost" with its alarm when installed, else "not available" without.
 * Fuses not installed stay "not used"; the others are "not available". */
void lynx_decode_absent(const struct lynx_distributor_setup *setup,
                        struct lynx_distributor_state *out);

#endif
