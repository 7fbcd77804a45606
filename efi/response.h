/*
 * response.h - the parts of the live-allocator response (include/handoff.h) that describe the
 * machine: the CPU list with each CPU's node, and the node table (response.c). Freestanding, so
 * the host tests build a response of any size from hand-built ACPI tables and check it with the
 * kernel's own pmm_response_verify.
 */
#ifndef PMM_EFI_RESPONSE_H
#define PMM_EFI_RESPONSE_H

#include "cpulist.h"
#include "numa.h"

/* Where the arrays go: the loader's pointers to them, and what the kernel's pointers add. */
struct response_arrays {
    struct pmm_cpu *cpus;               /* l->n entries */
    struct pmm_numa_range *numa_ranges; /* n->nranges */
    uint8_t *distance;                  /* n->nnodes^2 */
    uint32_t *node_domain;              /* n->nnodes */
    uint64_t virt;                      /* kernel pointer = loader pointer + virt (the HHDM) */
};

/* Bytes response_machine writes into the arrays, each rounded up to 16. */
uint64_t response_machine_bytes(const struct cpu_list *l, const struct numa *n);

/*
 * Fill r's CPU and NUMA fields and a's arrays from the CPU list and the node table: each CPU's
 * APIC ID and node (processor_id and flags 0, for the caller to set before the checksum). Leaves
 * every other field and the checksum alone; sets the loader's view of the arrays in *sums for
 * pmm_response_checksum_at.
 */
void response_machine(struct pmm_response *r, const struct cpu_list *l, const struct numa *n,
                      const struct response_arrays *a, struct pmm_response_arrays *sums);

#endif
