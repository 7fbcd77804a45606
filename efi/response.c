/*
 * response.c - the CPU list and the node table, copied into the live-allocator response.
 */
#include "response.h"

static uint64_t up16(uint64_t n)
{
    return (n + 15) & ~15ull;
}

uint64_t response_machine_bytes(const struct cpu_list *l, const struct numa *n)
{
    uint64_t nodes = n->nnodes;
    return up16((uint64_t)l->n * sizeof(struct pmm_cpu)) +
           up16(n->nranges * sizeof(struct pmm_numa_range)) + up16(nodes * nodes) +
           up16(nodes * sizeof(uint32_t));
}

static void *kernel_ptr(const struct response_arrays *a, void *p)
{
    return p ? (void *)((uintptr_t)p + a->virt) : 0;
}

void response_machine(struct pmm_response *r, const struct cpu_list *l, const struct numa *n,
                      const struct response_arrays *a, struct pmm_response_arrays *sums)
{
    for (uint32_t i = 0; i < l->n; i++)
        a->cpus[i] =
            (struct pmm_cpu){l->apic_id[i], 0, 0, n->cpu_node && i < n->ncpus ? n->cpu_node[i] : 0};
    for (uint64_t i = 0; i < n->nranges; i++)
        a->numa_ranges[i] = n->range[i];
    uint64_t nodes = n->nnodes;
    for (uint64_t i = 0; i < nodes * nodes; i++)
        a->distance[i] = n->distance[i];
    for (uint64_t i = 0; i < nodes; i++)
        a->node_domain[i] = n->domain[i];
    r->bsp = l->bsp;
    r->cpu_source = l->source;
    r->cpus_found = l->found;
    r->cpu_count = l->n;
    r->cpus = kernel_ptr(a, a->cpus);
    r->numa_flags = n->flags;
    r->node_count = n->nnodes;
    r->numa_range_count = n->nranges;
    r->numa_ranges = n->nranges ? kernel_ptr(a, a->numa_ranges) : 0;
    r->distance = kernel_ptr(a, a->distance);
    r->node_domain = kernel_ptr(a, a->node_domain);
    sums->cpus = a->cpus;
    sums->numa_ranges = a->numa_ranges;
    sums->distance = a->distance;
    sums->node_domain = a->node_domain;
}
