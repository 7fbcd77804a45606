/*
 * spinlock.h - a ticket lock: CPUs take a number and are served in that order, so no CPU waits
 * forever while others keep taking the lock (a plain test-and-set lock makes no such promise).
 *
 * Interrupts are never enabled in this kernel, so a holder is never interrupted by code that
 * wants the same lock; the lock is not recursive. The waiter spins on a read with PAUSE, which
 * tells the CPU (and a hypervisor, and QEMU) that this is a spin loop.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdint.h>

#include "x86.h"

struct spinlock {
    uint32_t next;  /* the next ticket to hand out */
    uint32_t owner; /* the ticket being served */
};

static inline void spin_lock(struct spinlock *l)
{
    uint32_t me = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != me)
        cpu_relax();
}

/* Only the holder writes owner, so a plain increment published with release is enough. */
static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

/* Take the lock if nobody holds it or waits for it; 1 if taken. */
static inline int spin_trylock(struct spinlock *l)
{
    uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
    uint32_t expect = owner;
    return __atomic_compare_exchange_n(&l->next, &expect, owner + 1, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

#endif
