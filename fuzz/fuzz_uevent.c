/* uevent_parse (src/transport/uevent_monitor.h): a parser of kernel input, reached by anyone who
 * can send to the daemon's netlink socket. The first byte picks the sender (the kernel, a root
 * sender with credentials, or another one); the rest is the message. Contract: only the documented
 * codes; on success every field is a NUL-terminated string within its buffer, the action agrees
 * with its name, the subsystem is set, and the format matches a sender allowed to use it; the same
 * bytes always give the same result. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "transport/uevent_monitor.h"

static int terminated(const char *field)
{
    return memchr(field, '\0', UEVENT_FIELD_MAX) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct uevent_sender sender = {0};
    switch (data[0] % 4) {
    case 0: /* the kernel */
        sender = (struct uevent_sender){.netlink = true, .pid = 0};
        break;
    case 1: /* udevd, or umockdev's faked credentials */
        sender = (struct uevent_sender){.netlink = true, .pid = 1234, .has_creds = true, .uid = 0};
        break;
    case 2: /* an unprivileged process */
        sender =
            (struct uevent_sender){.netlink = true, .pid = 1234, .has_creds = true, .uid = 1000};
        break;
    default: /* not even netlink */
        sender = (struct uevent_sender){.netlink = false};
        break;
    }
    const uint8_t *msg = data + 1;
    size_t len = size - 1;

    struct uevent a, b;
    memset(&a, 0xAA, sizeof(a)); /* garbage where the parser must write */
    memset(&b, 0x55, sizeof(b));
    int rc = uevent_parse(msg, len, &sender, &a);
    int rc2 = uevent_parse(msg, len, &sender, &b);
    check(rc == rc2, "the same bytes gave two answers");
    check(rc == 0 || rc == -EMSGSIZE || rc == -EBADMSG || rc == -EPERM, "an undocumented code");
    if (rc != 0)
        return 0;
    check(terminated(a.action_name) && terminated(a.subsystem) && terminated(a.devtype) &&
              terminated(a.devname) && terminated(a.kernel),
          "a field not terminated within its buffer");
    check(strcmp(a.action_name, b.action_name) == 0 && strcmp(a.subsystem, b.subsystem) == 0 &&
              strcmp(a.devname, b.devname) == 0 && strcmp(a.kernel, b.kernel) == 0 &&
              strcmp(a.devtype, b.devtype) == 0 && a.action == b.action && a.format == b.format,
          "the same bytes gave two events");
    check(a.action_name[0] && a.subsystem[0], "an event without ACTION or SUBSYSTEM");
    check((a.action == UEVENT_ADD) == (strcmp(a.action_name, "add") == 0) &&
              (a.action == UEVENT_REMOVE) == (strcmp(a.action_name, "remove") == 0),
          "the action does not agree with its name");
    if (a.format == UEVENT_FORMAT_KERNEL)
        check(sender.netlink && sender.pid == 0, "the kernel's format from another sender");
    else
        check(sender.has_creds && sender.uid == 0, "libudev's format from a non-root sender");
    return 0;
}
