/* The reference for the kernel benchmark (tools/bench_kernel.py): a process that wakes once per
 * poll interval and does nothing else. Its CPU time and context switches per wakeup, measured in
 * the same QEMU guest as the daemon, are the floor that TCG's slowness puts under any poller, so
 * the daemon's figures are reported as ratios against it.
 *   noop_waker INTERVAL_MS         (runs until killed) */
#include <poll.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int interval_ms = argc > 1 ? atoi(argv[1]) : 1000;
    if (interval_ms <= 0)
        return 2;
    for (;;)
        poll(NULL, 0, interval_ms);
}
