/*
 * sim.h - a simulated machine for host tests: sparse physical memory, a firmware map built
 * descriptor by descriptor, and a firmware that can refuse claims.
 *
 * Physical address X lives at host address sim->mem + X. The mapping is reserved, not committed:
 * pages cost memory only once the allocator touches them (its metadata), so a 1 TiB machine is
 * cheap. The memory comes from a memfd, so the same "physical" pages can be mapped a second time
 * at another address to test that the state survives a change of mapping.
 */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>
#include "pmm.h"

#define SIM_DESC_SIZE 48 /* OVMF's DescriptorSize: larger than the spec struct, on purpose */

struct sim {
    int fd;
    uint64_t bytes;      /* size of simulated physical address space */
    unsigned char *mem;  /* phys 0 here */
    unsigned char *desc; /* descriptors, SIM_DESC_SIZE apart */
    size_t ndesc, cap;
    size_t desc_size;
    /* simulated firmware: one byte per page, 1 = allocated by somebody */
    unsigned char *fw_used;
    uint64_t fw_pages;
    uint64_t claims, refusals;
    int refuse_every;         /* refuse every Nth claim (0: never) */
    int one_descriptor;       /* refuse a claim across two descriptors, as EDK2 does */
    unsigned reconcile_flags; /* passed to pmm_reconcile by sim_reconcile */
    uint32_t max_cpus;        /* per-CPU caches sim_build reserves (pmm_build's max_cpus) */
    const struct pmm_numa_range *numa; /* NUMA table sim_build passes on (or NULL) */
    uint64_t numa_count;
    uint32_t nnodes;
    void *scratch;
    /* Told of every claim the simulated firmware grants (NULL: nobody); the fuzz targets open
     * the pages pmm_build claims for its metadata to writes this way. */
    void (*on_claim)(struct sim *s, uint64_t phys, uint64_t npages);
};

/* A machine with `bytes` of physical address space (no RAM described yet). */
struct sim *sim_new(uint64_t bytes);
void sim_free(struct sim *s);

/* Append a descriptor; phys and npages as the firmware would give them. */
void sim_add(struct sim *s, uint32_t type, uint64_t phys, uint64_t npages, uint64_t attr);

struct pmm_map sim_map(const struct sim *s);

/* Build over the current descriptors with the simulated firmware's hooks (fw != 0) or none. */
int sim_build(struct sim *s, int fw, struct pmm **out);

/*
 * Simulate ExitBootServices: turn every descriptor of type `from` (e.g. boot data) into the types a
 * firmware would report at exit, and reconcile. Pages the allocator claimed appear as LoaderData.
 */
int sim_reconcile(struct sim *s, struct pmm *p);

/* The map the firmware would give at ExitBootServices (malloc'd; *size bytes). */
void *sim_final_map(struct sim *s, size_t *size);

/* Second view of the same physical memory at a different host address. */
unsigned char *sim_alias(struct sim *s);

/* The firmware's answer for one page: 1 if somebody allocated it. */
int sim_fw_used(const struct sim *s, uint64_t pfn);

/* Mark pages as taken by the firmware behind the allocator's back. */
void sim_fw_take(struct sim *s, uint64_t pfn, uint64_t n);

#endif
