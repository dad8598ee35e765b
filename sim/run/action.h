/* Hardware changes, as one line of text: the shared grammar of scenario timeline events and of
 * the control channel (the table in fixtures/README.md is the reference).
 *
 *   fuse <serial> <who> <1-4> open|ok     a fuse blows / is replaced
 *   supply <serial> <who> on|off          busbar supply (status bit 1)
 *   power <serial> <who> on|off           5 V on the RJ10 port: unpowered = never answers
 *   distributor <serial> <who> gone|back  unplugged from / plugged back into the I2C chain
 *   unplug <serial> / plug <serial>       the USB adapter (or the i2c adapter's /dev/i2c-N)
 *
 * Distributor faults: nack-address|nack-data <serial> <who> on|off, corrupt <serial> <who> <byte>
 * [count=N], corrupt-rate <serial> <who> <fraction> [seed=N], stuck-sda <serial> <who>,
 * script <serial> <who> <r>[,<r>...] (r = nack or a hex byte).
 * Adapter faults: usb-error|usb-timeout|short-read|empty-read <serial> [count=N],
 * control-error|control-timeout <serial> [count=N], string-error <serial>,
 * latency <serial> <ms>, unplug-mid-transfer <serial>.
 *
 * <serial> is also the name of an i2c-adapter (i2c-dev front end); see sim_action_ftdi_only.
 * <who> is a letter A-D or `all` (every distributor declared on that adapter). Bytes are hex,
 * with or without 0x. Words are separated by blanks; parsing is pure (no hardware needed). */
#ifndef SIM_ACTION_H
#define SIM_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_SERIAL_MAX         64
#define SIM_ACTION_SCRIPT_MAX  128 /* answers in one `script` action */
#define SIM_ACTION_SCRIPT_NACK (-1)

enum sim_action_kind {
    SIM_ACTION_FUSE,
    SIM_ACTION_SUPPLY,
    SIM_ACTION_POWER,
    SIM_ACTION_DISTRIBUTOR,
    SIM_ACTION_UNPLUG,
    SIM_ACTION_BIND, /* ftdi_sio binds the adapter, as another program would make it */
    SIM_ACTION_PLUG,
    /* distributor faults */
    SIM_ACTION_NACK_ADDRESS,
    SIM_ACTION_NACK_DATA,
    SIM_ACTION_CORRUPT,
    SIM_ACTION_CORRUPT_RATE,
    SIM_ACTION_STUCK_SDA,
    SIM_ACTION_HOLD_SDA,
    SIM_ACTION_HOLD_SCL,
    SIM_ACTION_SCRIPT,
    /* adapter faults (sim_action_ftdi_only relies on short-read .. latency being in a row, count=0
     * on usb-error .. control-timeout) */
    SIM_ACTION_USB_ERROR,
    SIM_ACTION_USB_TIMEOUT,
    SIM_ACTION_SHORT_READ,
    SIM_ACTION_EMPTY_READ,
    SIM_ACTION_CONTROL_ERROR,
    SIM_ACTION_CONTROL_TIMEOUT,
    SIM_ACTION_STRING_ERROR,
    SIM_ACTION_LATENCY,
    SIM_ACTION_UNPLUG_MID_TRANSFER,
};

struct sim_action {
    enum sim_action_kind kind;
    char serial[SIM_SERIAL_MAX];
    char letter;    /* 'A'..'D' for distributor actions, 0 with `all` and for adapter actions */
    bool all;       /* distributor actions: every distributor declared on the adapter */
    int fuse;       /* 1..4, SIM_ACTION_FUSE only */
    bool on;        /* fuse open, supply on, power on, distributor present, nack-* on */
    uint8_t byte;   /* corrupt */
    unsigned count; /* corrupt, usb-error, usb-timeout, short-read, empty-read (>= 1) */
    double rate;    /* corrupt-rate, 0..1 */
    uint64_t seed;  /* corrupt-rate (default 1) */
    unsigned latency_ms; /* latency, 1..255 */
    size_t script_len;   /* script: answers, SIM_ACTION_SCRIPT_NACK or 0..255 */
    int16_t script[SIM_ACTION_SCRIPT_MAX];
};

/* Parse words[0..nwords). Returns 0, or -EINVAL with a message in err saying what was expected. */
int sim_action_parse(char *const *words, size_t nwords, struct sim_action *out, char *err,
                     size_t errlen);

/* Whether the action addresses a distributor (letter or all) rather than the adapter. */
bool sim_action_targets_distributor(enum sim_action_kind kind);

/* Adapter actions that only an FTDI adapter has (USB packets, control requests, the latency
 * timer, ftdi_sio binding): an i2c-adapter refuses them. usb-error, usb-timeout, unplug,
 * unplug-mid-transfer and plug have i2c-dev equivalents (fixtures/README.md). */
bool sim_action_ftdi_only(enum sim_action_kind kind);
/* The message refusing such an action on i2c adapter `name` (/dev/i2c-<bus>). */
void sim_action_refuse_i2c(enum sim_action_kind kind, const char *name, unsigned bus, char *err,
                           size_t errlen);

/* Adapter actions a CP2112 (adapter chip=cp2112) does not have: short-read, empty-read, latency
 * and bind are FTDI-only; the other USB faults act on its interrupt and control transfers. */
bool sim_action_not_on_cp2112(enum sim_action_kind kind);
void sim_action_refuse_cp2112(enum sim_action_kind kind, const char *serial, char *err,
                              size_t errlen);

/* Split a line in place into blank-separated words; stops at '#'. Returns the word count, or
 * -E2BIG when there are more than max. */
int sim_split_words(char *line, char **words, size_t max);

/* Serials are [A-Za-z0-9._-], 1..SIM_SERIAL_MAX-1 characters (as FTDI EEPROMs hold them). */
bool sim_valid_serial(const char *serial);

/* "on"/"off"-style word pairs; returns 0 and sets *value, or -EINVAL. */
int sim_parse_choice(const char *word, const char *yes, const char *no, bool *value);

#endif
