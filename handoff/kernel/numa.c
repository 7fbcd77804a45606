/*
 * numa.c - what the kernel learns about NUMA nodes from the live-allocator response: each node's
 * ACPI proximity domain, its distances, its physical memory, and each CPU's node, printed as
 * received (tests/qemu/numa.sh compares them with what QEMU was told to build).
 */
#include "kernel.h"

void numa_report(const struct pmm_response *r)
{
    uint64_t n = r->node_count;
    kprintf("kernel: numa: %lu node%s (%s)\n", n, n == 1 ? "" : "s",
            !(r->numa_flags & PMM_NUMA_FROM_SRAT) ? "one node: the loader used no ACPI SRAT"
            : r->numa_flags & PMM_NUMA_FROM_SLIT  ? "ACPI SRAT, distances from the SLIT"
                                                  : "ACPI SRAT; no SLIT: distances 10 and 20");
    for (uint64_t i = 0; i < n; i++) {
        con_hold(); /* one line of many pieces */
        kprintf("kernel: numa: node %lu: proximity domain %u, distances", i, r->node_domain[i]);
        for (uint64_t j = 0; j < n; j++)
            kprintf(" %u", r->distance[i * n + j]);
        kprintf("\n");
        con_release();
        for (uint64_t k = 0; k < r->numa_range_count; k++) {
            const struct pmm_numa_range *m = &r->numa_ranges[k];
            if (m->node == i)
                kprintf("kernel: numa: node %lu memory [0x%lx, 0x%lx)%s\n", i, m->start * 4096,
                        (m->start + m->npages) * 4096,
                        m->flags & PMM_NUMA_HOTPLUG ? " hot-pluggable" : "");
        }
    }
    for (uint64_t i = 0; i < r->cpu_count; i++)
        kprintf("kernel: numa: CPU %lu (APIC ID %u) on node %u\n", i, r->cpus[i].lapic_id,
                r->cpus[i].node);
}
