/* Deferred removal (see removal.h for the contract): the due list and the thread that works it
 * off. Due devices are taken in the order they became due. */
#include "front/removal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct sim_removals {
    pthread_mutex_t *lock;         /* the hardware lock: guards due, the list, stop */
    pthread_mutex_t *testbed_lock; /* held while removing */
    sim_removal_fn *remove;
    struct sim_removal *due, **due_tail;
    pthread_t thread;
    pthread_cond_t wake;
    bool stop, thread_running;
};

void sim_removal_due_locked(struct sim_removals *rm, struct sim_removal *entry)
{
    if (entry->due)
        return;
    entry->due = true;
    entry->next = NULL;
    *rm->due_tail = entry;
    rm->due_tail = &entry->next;
    pthread_cond_signal(&rm->wake);
}

/* With the hardware lock held: the next due entry, no longer due (NULL when none). */
static struct sim_removal *take_due(struct sim_removals *rm)
{
    struct sim_removal *entry = rm->due;
    if (!entry)
        return NULL;
    rm->due = entry->next;
    if (!rm->due)
        rm->due_tail = &rm->due;
    entry->next = NULL;
    entry->due = false;
    return entry;
}

void sim_removals_finish_locked(struct sim_removals *rm)
{
    for (;;) {
        pthread_mutex_lock(rm->lock);
        struct sim_removal *entry = take_due(rm);
        pthread_mutex_unlock(rm->lock);
        if (!entry)
            return;
        rm->remove(entry);
    }
}

static void *removal_thread(void *arg)
{
    struct sim_removals *rm = arg;
    pthread_mutex_lock(rm->lock);
    while (!rm->stop) {
        if (!rm->due) {
            pthread_cond_wait(&rm->wake, rm->lock);
            continue;
        }
        pthread_mutex_unlock(rm->lock);
        pthread_mutex_lock(rm->testbed_lock);
        sim_removals_finish_locked(rm);
        pthread_mutex_unlock(rm->testbed_lock);
        pthread_mutex_lock(rm->lock);
    }
    pthread_mutex_unlock(rm->lock);
    return NULL;
}

struct sim_removals *sim_removals_new(pthread_mutex_t *lock, pthread_mutex_t *testbed_lock,
                                      sim_removal_fn *remove)
{
    struct sim_removals *rm = calloc(1, sizeof(*rm));
    if (!rm)
        return NULL;
    rm->lock = lock;
    rm->testbed_lock = testbed_lock;
    rm->remove = remove;
    rm->due_tail = &rm->due;
    pthread_cond_init(&rm->wake, NULL);
    if (pthread_create(&rm->thread, NULL, removal_thread, rm) != 0) {
        pthread_cond_destroy(&rm->wake);
        free(rm);
        return NULL;
    }
    rm->thread_running = true;
    return rm;
}

void sim_removals_stop(struct sim_removals *rm)
{
    if (!rm || !rm->thread_running)
        return;
    pthread_mutex_lock(rm->lock);
    rm->stop = true;
    pthread_cond_signal(&rm->wake);
    pthread_mutex_unlock(rm->lock);
    pthread_join(rm->thread, NULL);
    rm->thread_running = false;
}

void sim_removals_free(struct sim_removals *rm)
{
    if (!rm)
        return;
    sim_removals_stop(rm);
    pthread_cond_destroy(&rm->wake);
    free(rm);
}

void sim_removal_unlink_char_link(const char *sys_dir, unsigned major, unsigned minor)
{
    char link[4096];
    if (snprintf(link, sizeof(link), "%s/dev/char/%u:%u", sys_dir, major, minor) <
        (int)sizeof(link))
        (void)unlink(link); /* ENOENT once umockdev unlinks it itself */
}
