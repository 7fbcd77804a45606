/*
 * numa.h - the machine's NUMA nodes from the ACPI SRAT and SLIT (numa.c), in the form the
 * allocator takes at build and the handoff passes on (include/pmm_numa.h). Freestanding:
 * efi/nodes.c finds the tables and gives the memory, tests/host/test_numa.c and
 * tests/fuzz/fuzz_numa.c feed it hand-built ones.
 *
 * Reading is two steps, so the caller can size the arrays before any is filled: srat_check checks
 * the whole table and counts, srat_read fills. A table either step refuses leaves nothing
 * half-read: numa_one then describes the machine as one node, which is always true enough to run.
 */
#ifndef PMM_EFI_NUMA_H
#define PMM_EFI_NUMA_H

#include <stdint.h>

#include "pmm_numa.h"

/* What the loader knows about nodes; the arrays are the caller's. */
struct numa {
    uint32_t nnodes;              /* >= 1 */
    uint32_t flags;               /* PMM_NUMA_FROM_SRAT, PMM_NUMA_FROM_SLIT: what was used */
    uint32_t *domain;             /* [nnodes] proximity domain of node i, ascending */
    struct pmm_numa_range *range; /* [nranges]: sorted, disjoint, merged (pmm_numa.h) */
    uint64_t nranges;
    uint8_t *distance;  /* [nnodes * nnodes], row i from node i; PMM_NUMA_REMOTE without a SLIT */
    uint32_t *cpu_node; /* [ncpus]: the node of CPU list entry i; 0 (and ncpus 0) when the
                           loader had no memory for it: every CPU is on node 0 */
    uint32_t ncpus;
    uint32_t unplaced; /* CPUs of the list no SRAT entry names: put on node 0 */
};

/* What an SRAT describes, for sizing struct numa's arrays. */
struct srat_counts {
    uint32_t nodes;  /* distinct proximity domains of enabled entries, at most PMM_NUMA_MAX_NODES */
    uint64_t ranges; /* enabled memory entries of at least one byte (merging only lowers it) */
};

/*
 * Check an SRAT ("SRAT", System Resource Affinity Table) of `avail` readable bytes: signature,
 * length, checksum, every entry's length (processor local APIC affinity, type 0: 16 bytes;
 * memory affinity, type 1: 40; processor x2APIC affinity, type 2: 24; other types are skipped),
 * enabled memory ranges inside 2^52, at most PMM_NUMA_MAX_NODES domains. Entries whose Enabled
 * flag is clear are ignored. Returns 0 and *c, or a message naming the problem ("SRAT: ...") and
 * *at, the byte offset of the offending entry (0 for the header).
 */
const char *srat_check(const uint8_t *srat, uint64_t avail, struct srat_counts *c, uint64_t *at);

/*
 * Fill n from an SRAT srat_check accepted, for the CPUs of a CPU list (their APIC IDs): domains
 * sorted into node numbers, ranges in pages (a partial page at either end of a range is left
 * out), every CPU's node, distances PMM_NUMA_LOCAL and PMM_NUMA_REMOTE. n->domain must hold
 * c.nodes entries, n->range c.ranges, n->distance c.nodes^2, n->cpu_node ncpus. Refuses (same
 * contract as srat_check) ranges that overlap and a CPU placed in two domains; n is then
 * unusable (use numa_one).
 */
const char *srat_read(const uint8_t *srat, struct numa *n, const uint32_t *apic_id, uint32_t ncpus,
                      uint64_t *at);

/*
 * Take the distances between n's nodes from a SLIT ("SLIT", System Locality Information Table)
 * of `avail` bytes: checks signature, length, checksum, that its N x N matrix fits the table,
 * has 10 on the diagonal and nothing below 10 elsewhere (255: unreachable), and covers every
 * domain n has. Returns 0 (n->distance filled, PMM_NUMA_FROM_SLIT set), or a message naming the
 * problem ("SLIT: ...") and *at, leaving n as it was.
 */
const char *slit_read(const uint8_t *slit, uint64_t avail, struct numa *n, uint64_t *at);

/*
 * One node holding everything: nnodes 1, domain 0, distance 10, no ranges, every CPU on it. The
 * arrays must hold one domain, one distance and ncpus CPU nodes.
 */
void numa_one(struct numa *n, uint32_t ncpus);

#endif
