/* Deferred removal, shared by the umockdev front ends: the testbed part of an unplug that was
 * decided under the hardware lock (unplug-mid-transfer fires inside a request).
 *
 * Testbed calls (uevent, remove) must never happen under the hardware lock, because umockdev's
 * worker thread may be waiting for it inside a handler. So a front end that disconnects a device
 * under the lock only marks its removal due; the removals' own thread then does the testbed part
 * under the testbed lock, without the hardware lock. A plug finishes the removals still due first
 * (sim_removals_finish_locked), so it never races the removal of the device it brings back.
 *
 * Locks: due flags and the list are guarded by the hardware lock; the removal callback runs with
 * the testbed lock held and the hardware lock not held. */
#ifndef SIM_FRONT_REMOVAL_H
#define SIM_FRONT_REMOVAL_H

#include <pthread.h>
#include <stdbool.h>

/* One per device, embedded in the front end's device; zero-initialised (calloc) is ready. */
struct sim_removal {
    struct sim_removal *next;
    bool due;
};

/* Does the testbed part of one device's unplug: entry is the device's struct sim_removal. */
typedef void sim_removal_fn(struct sim_removal *entry);

struct sim_removals;

/* lock: the hardware lock; testbed_lock: the mutex serialising testbed changes. Starts the
 * removal thread. Returns NULL on failure. */
struct sim_removals *sim_removals_new(pthread_mutex_t *lock, pthread_mutex_t *testbed_lock,
                                      sim_removal_fn *remove);
/* Stops the removal thread (removals still due are left undone). Idempotent. */
void sim_removals_stop(struct sim_removals *rm);
/* Stops the thread if need be and frees. */
void sim_removals_free(struct sim_removals *rm);

/* With the hardware lock held: entry's removal is due; wakes the removal thread. */
void sim_removal_due_locked(struct sim_removals *rm, struct sim_removal *entry);
/* With the testbed lock held and the hardware lock not held: does the removals due now. */
void sim_removals_finish_locked(struct sim_removals *rm);

/* After umockdev_testbed_remove_device of a character device: removes its /sys/dev/char/MAJ:MIN
 * link, as the kernel does. umockdev 0.17.16 reads the `dev` attribute with its newline and so
 * unlinks a name that is not there, leaving the link dangling; its next add of that number for
 * another device then aborts the process ("failed to symlink ... File exists"). sys_dir: the
 * testbed's /sys. */
void sim_removal_unlink_char_link(const char *sys_dir, unsigned major, unsigned minor);

#endif
