/* compat/strerrorname_np.h, the fallback the armhf release uses on glibc 2.31 (Venus OS
 * v3.00-v3.5x), gives glibc's own answer for every errno value: the recorder's "usb-error EIO"
 * lines must read the same whichever glibc wrote them. Native builds only (glibc 2.32 or later,
 * whose strerrorname_np is the reference). Prints each difference; exits 1 on any. */
#include <stdio.h>
#include <string.h>

#define strerrorname_np compat_strerrorname_np
#include "strerrorname_np.h"
#undef strerrorname_np

int main(void)
{
    int differences = 0, named = 0;
    for (int e = -1; e <= 300; e++) {
        const char *ours = compat_strerrorname_np(e), *glibc = strerrorname_np(e);
        if (glibc)
            named++;
        if ((ours == NULL) != (glibc == NULL) || (ours && strcmp(ours, glibc) != 0)) {
            printf("errno %d: compat %s, glibc %s\n", e, ours ? ours : "NULL",
                   glibc ? glibc : "NULL");
            differences++;
        }
    }
    printf("%d errno values named by glibc, %d differences\n", named, differences);
    return differences ? 1 : 0;
}
