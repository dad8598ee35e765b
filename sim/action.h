/* Hardware changes, as one line of text: the shared grammar of scenario timeline events and of
 * the control channel.
 *
 *   fuse <serial> <A-D> <1-4> open|ok     a fuse blows / is replaced
 *   supply <serial> <A-D> on|off          busbar supply (status bit 1)
 *   power <serial> <A-D> on|off           5 V on the RJ10 port: unpowered = never answers
 *   distributor <serial> <A-D> gone|back  unplugged from / plugged back into the I2C chain
 *   unplug <serial> / plug <serial>       the USB adapter
 *
 * Words are separated by blanks; parsing is pure (no hardware needed). */
#ifndef SIM_ACTION_H
#define SIM_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#define SIM_SERIAL_MAX 64

enum sim_action_kind {
    SIM_ACTION_FUSE,
    SIM_ACTION_SUPPLY,
    SIM_ACTION_POWER,
    SIM_ACTION_DISTRIBUTOR,
    SIM_ACTION_UNPLUG,
    SIM_ACTION_PLUG,
};

struct sim_action {
    enum sim_action_kind kind;
    char serial[SIM_SERIAL_MAX];
    char letter; /* 'A'..'D', distributor actions only */
    int fuse;    /* 1..4, SIM_ACTION_FUSE only */
    bool on;     /* fuse open, supply on, power on, distributor present */
};

/* Parse words[0..nwords). Returns 0, or -EINVAL with a message in err saying what was expected. */
int sim_action_parse(char *const *words, size_t nwords, struct sim_action *out, char *err,
                     size_t errlen);

/* Split a line in place into blank-separated words; stops at '#'. Returns the word count, or
 * -E2BIG when there are more than max. */
int sim_split_words(char *line, char **words, size_t max);

/* Serials are [A-Za-z0-9._-], 1..SIM_SERIAL_MAX-1 characters (as FTDI EEPROMs hold them). */
bool sim_valid_serial(const char *serial);

/* "on"/"off"-style word pairs; returns 0 and sets *value, or -EINVAL. */
int sim_parse_choice(const char *word, const char *yes, const char *no, bool *value);

#endif
