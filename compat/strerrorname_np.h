/* strerrorname_np() for a C library without it: glibc 2.31, the one of Venus OS v3.00-v3.5x
 * (Yocto dunfell) and of the armhf release's sysroot (Debian bullseye, tools/armhf-sysroot.sh).
 * glibc added it in 2.32. meson.build force-includes this header (-include) only when the C
 * library does not declare strerrorname_np, so it never meets glibc's own declaration.
 *
 * Same contract as glibc's: the name of the errno constant ("EIO"), or NULL for a value that
 * names none (glibc names 0 "0"). EAGAIN, EDEADLK and EOPNOTSUPP are the names glibc gives the
 * values they share with EWOULDBLOCK, EDEADLOCK and ENOTSUP, so the recorder writes the same lines
 * on every glibc. */
#ifndef COMPAT_STRERRORNAME_NP_H
#define COMPAT_STRERRORNAME_NP_H

#include <errno.h>
#include <stddef.h>

static inline const char *strerrorname_np(int errnum)
{
#define COMPAT_ERRNO(e)                                                                            \
    {                                                                                              \
        e, #e                                                                                      \
    }
    static const struct {
        int value;
        const char *name;
    } names[] = {
        {0, "0"}, /* glibc's name for "no error" */
        COMPAT_ERRNO(EPERM),
        COMPAT_ERRNO(ENOENT),
        COMPAT_ERRNO(ESRCH),
        COMPAT_ERRNO(EINTR),
        COMPAT_ERRNO(EIO),
        COMPAT_ERRNO(ENXIO),
        COMPAT_ERRNO(E2BIG),
        COMPAT_ERRNO(ENOEXEC),
        COMPAT_ERRNO(EBADF),
        COMPAT_ERRNO(ECHILD),
        COMPAT_ERRNO(EAGAIN),
        COMPAT_ERRNO(ENOMEM),
        COMPAT_ERRNO(EACCES),
        COMPAT_ERRNO(EFAULT),
        COMPAT_ERRNO(ENOTBLK),
        COMPAT_ERRNO(EBUSY),
        COMPAT_ERRNO(EEXIST),
        COMPAT_ERRNO(EXDEV),
        COMPAT_ERRNO(ENODEV),
        COMPAT_ERRNO(ENOTDIR),
        COMPAT_ERRNO(EISDIR),
        COMPAT_ERRNO(EINVAL),
        COMPAT_ERRNO(ENFILE),
        COMPAT_ERRNO(EMFILE),
        COMPAT_ERRNO(ENOTTY),
        COMPAT_ERRNO(ETXTBSY),
        COMPAT_ERRNO(EFBIG),
        COMPAT_ERRNO(ENOSPC),
        COMPAT_ERRNO(ESPIPE),
        COMPAT_ERRNO(EROFS),
        COMPAT_ERRNO(EMLINK),
        COMPAT_ERRNO(EPIPE),
        COMPAT_ERRNO(EDOM),
        COMPAT_ERRNO(ERANGE),
        COMPAT_ERRNO(EDEADLK),
        COMPAT_ERRNO(ENAMETOOLONG),
        COMPAT_ERRNO(ENOLCK),
        COMPAT_ERRNO(ENOSYS),
        COMPAT_ERRNO(ENOTEMPTY),
        COMPAT_ERRNO(ELOOP),
        COMPAT_ERRNO(ENOMSG),
        COMPAT_ERRNO(EIDRM),
        COMPAT_ERRNO(ECHRNG),
        COMPAT_ERRNO(EL2NSYNC),
        COMPAT_ERRNO(EL3HLT),
        COMPAT_ERRNO(EL3RST),
        COMPAT_ERRNO(ELNRNG),
        COMPAT_ERRNO(EUNATCH),
        COMPAT_ERRNO(ENOCSI),
        COMPAT_ERRNO(EL2HLT),
        COMPAT_ERRNO(EBADE),
        COMPAT_ERRNO(EBADR),
        COMPAT_ERRNO(EXFULL),
        COMPAT_ERRNO(ENOANO),
        COMPAT_ERRNO(EBADRQC),
        COMPAT_ERRNO(EBADSLT),
        COMPAT_ERRNO(EBFONT),
        COMPAT_ERRNO(ENOSTR),
        COMPAT_ERRNO(ENODATA),
        COMPAT_ERRNO(ETIME),
        COMPAT_ERRNO(ENOSR),
        COMPAT_ERRNO(ENONET),
        COMPAT_ERRNO(ENOPKG),
        COMPAT_ERRNO(EREMOTE),
        COMPAT_ERRNO(ENOLINK),
        COMPAT_ERRNO(EADV),
        COMPAT_ERRNO(ESRMNT),
        COMPAT_ERRNO(ECOMM),
        COMPAT_ERRNO(EPROTO),
        COMPAT_ERRNO(EMULTIHOP),
        COMPAT_ERRNO(EDOTDOT),
        COMPAT_ERRNO(EBADMSG),
        COMPAT_ERRNO(EOVERFLOW),
        COMPAT_ERRNO(ENOTUNIQ),
        COMPAT_ERRNO(EBADFD),
        COMPAT_ERRNO(EREMCHG),
        COMPAT_ERRNO(ELIBACC),
        COMPAT_ERRNO(ELIBBAD),
        COMPAT_ERRNO(ELIBSCN),
        COMPAT_ERRNO(ELIBMAX),
        COMPAT_ERRNO(ELIBEXEC),
        COMPAT_ERRNO(EILSEQ),
        COMPAT_ERRNO(ERESTART),
        COMPAT_ERRNO(ESTRPIPE),
        COMPAT_ERRNO(EUSERS),
        COMPAT_ERRNO(ENOTSOCK),
        COMPAT_ERRNO(EDESTADDRREQ),
        COMPAT_ERRNO(EMSGSIZE),
        COMPAT_ERRNO(EPROTOTYPE),
        COMPAT_ERRNO(ENOPROTOOPT),
        COMPAT_ERRNO(EPROTONOSUPPORT),
        COMPAT_ERRNO(ESOCKTNOSUPPORT),
        COMPAT_ERRNO(EOPNOTSUPP),
        COMPAT_ERRNO(EPFNOSUPPORT),
        COMPAT_ERRNO(EAFNOSUPPORT),
        COMPAT_ERRNO(EADDRINUSE),
        COMPAT_ERRNO(EADDRNOTAVAIL),
        COMPAT_ERRNO(ENETDOWN),
        COMPAT_ERRNO(ENETUNREACH),
        COMPAT_ERRNO(ENETRESET),
        COMPAT_ERRNO(ECONNABORTED),
        COMPAT_ERRNO(ECONNRESET),
        COMPAT_ERRNO(ENOBUFS),
        COMPAT_ERRNO(EISCONN),
        COMPAT_ERRNO(ENOTCONN),
        COMPAT_ERRNO(ESHUTDOWN),
        COMPAT_ERRNO(ETOOMANYREFS),
        COMPAT_ERRNO(ETIMEDOUT),
        COMPAT_ERRNO(ECONNREFUSED),
        COMPAT_ERRNO(EHOSTDOWN),
        COMPAT_ERRNO(EHOSTUNREACH),
        COMPAT_ERRNO(EALREADY),
        COMPAT_ERRNO(EINPROGRESS),
        COMPAT_ERRNO(ESTALE),
        COMPAT_ERRNO(EUCLEAN),
        COMPAT_ERRNO(ENOTNAM),
        COMPAT_ERRNO(ENAVAIL),
        COMPAT_ERRNO(EISNAM),
        COMPAT_ERRNO(EREMOTEIO),
        COMPAT_ERRNO(EDQUOT),
        COMPAT_ERRNO(ENOMEDIUM),
        COMPAT_ERRNO(EMEDIUMTYPE),
        COMPAT_ERRNO(ECANCELED),
        COMPAT_ERRNO(ENOKEY),
        COMPAT_ERRNO(EKEYEXPIRED),
        COMPAT_ERRNO(EKEYREVOKED),
        COMPAT_ERRNO(EKEYREJECTED),
        COMPAT_ERRNO(EOWNERDEAD),
        COMPAT_ERRNO(ENOTRECOVERABLE),
        COMPAT_ERRNO(ERFKILL),
        COMPAT_ERRNO(EHWPOISON),
    };
#undef COMPAT_ERRNO
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].value == errnum)
            return names[i].name;
    }
    return NULL;
}

#endif
