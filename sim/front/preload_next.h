/* The preload's lookup of the definition it wraps (dev_guard.c; used by uevent_pacing.c too). */
#ifndef SIM_FRONT_PRELOAD_NEXT_H
#define SIM_FRONT_PRELOAD_NEXT_H

/* The next definition of name after lynx-sim's preload (dlsym RTLD_NEXT), looked up once into
 * *cache; NULL with errno ENOSYS when there is none. Hidden: not exported from the library. */
void *sim_preload_next(_Atomic(void *) *cache, const char *name);

#endif
