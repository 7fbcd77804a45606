/*
 * pmm_numa.h - which NUMA node each page and each CPU belongs to: what the loader learns from the
 * ACPI SRAT and SLIT (efi/numa.c) before the allocator is built, in the form the allocator takes
 * at build (struct pmm_build) and the kernel receives in the live-allocator response
 * (include/handoff.h). Freestanding: <stdint.h> only, so include/pmm.h can include it.
 *
 * Nodes are numbered 0 .. nnodes-1 in ascending order of their ACPI proximity domain (a 32-bit
 * number the firmware picks, not necessarily dense): the node of the lowest domain is node 0.
 * Without an SRAT (or with one the loader refused) there is one node, 0, and no ranges: every page
 * and every CPU is on node 0.
 */
#ifndef PMM_NUMA_H
#define PMM_NUMA_H

#include <stdint.h>

/* Where a node table came from; neither: one node, the loader read no SRAT. */
#define PMM_NUMA_FROM_SRAT (1u << 0) /* nodes, ranges and CPUs' nodes from the ACPI SRAT */
#define PMM_NUMA_FROM_SLIT (1u << 1) /* distances from the ACPI SLIT (else 10 and 20) */

/* Range flags. */
#define PMM_NUMA_HOTPLUG (1u << 0) /* the SRAT marks it hot-pluggable (it may be absent now) */

#define PMM_NUMA_MAX_NODES   1024u /* as Linux's largest NODES_SHIFT: more is refused */
#define PMM_NUMA_LOCAL       10u   /* the distance from a node to itself (ACPI: always 10) */
#define PMM_NUMA_REMOTE      20u   /* the distance between two nodes when there is no SLIT */
#define PMM_NUMA_UNREACHABLE 255u  /* SLIT: no path between the two */

/*
 * Physical memory of one node: pages [start, start + npages). An array of them is sorted by start,
 * disjoint, and adjacent entries of the same node and flags are merged. Pages no range covers
 * (holes, MMIO, RAM the SRAT forgot) belong to no node in particular: node 0 by convention.
 */
struct pmm_numa_range {
    uint64_t start;  /* first page frame number */
    uint64_t npages; /* > 0 */
    uint32_t node;   /* < nnodes */
    uint32_t flags;  /* PMM_NUMA_* */
};

/*
 * The distance matrix is nnodes * nnodes bytes, row-major: distance[i * nnodes + j] is from node
 * i to node j (it need not be symmetric), PMM_NUMA_LOCAL on the diagonal, at least
 * PMM_NUMA_LOCAL elsewhere, PMM_NUMA_UNREACHABLE for no path.
 */

#endif
