/*
 * kernel.h for the host, force-included (-include) so that it wins over the real one and its
 * include guard turns that into nothing. Lets tools/pmmsim compile the kernel stub's own self-test
 * (handoff/kernel/selftest.c) unchanged. The "direct map" is the simulator's mapping of simulated
 * physical memory, and kprintf goes to stdout.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdint.h>

#include "handoff.h"
#include "pmm.h"

extern uint64_t sim_direct_map; /* host address of simulated physical 0 */
#define HHDM sim_direct_map

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int selftest(struct pmm *p, const struct pmm_handoff *h);

#endif
