/*
 * verify.c - the kernel's side of the live-allocator contract (include/handoff.h): is this
 * response what the loader promised? Freestanding; the host tests and a fuzz target run it
 * against corrupted responses.
 */
#include "handoff.h"
#include "pmm.h"

#define PAGE       4096ull
#define MAX_CPUS   4096u    /* the loader lists at most 4092 (efi/cpus.c CPU_CAP): a bound */
#define MAX_ARRAY  65536ull /* handed or kept entries: far beyond any machine's */
#define PHYS_LIMIT (1ull << 52)

uint32_t pmm_response_checksum_at(const struct pmm_response *r, const struct pmm_response_arrays *a)
{
    struct pmm_response copy = *r;
    copy.checksum = 0;
    uint64_t nodes = r->node_count;
    uint32_t h = pmm_fnv1a(&copy, sizeof copy, PMM_FNV_INIT);
    h = pmm_fnv1a(a->cpus, r->cpu_count * sizeof(struct pmm_cpu), h);
    h = pmm_fnv1a(a->handed, r->handed_count * sizeof(struct pmm_handed), h);
    h = pmm_fnv1a(a->kept, r->kept_count * sizeof(struct pmm_kept), h);
    h = pmm_fnv1a(a->numa_ranges, r->numa_range_count * sizeof(struct pmm_numa_range), h);
    h = pmm_fnv1a(a->distance, nodes * nodes, h);
    return pmm_fnv1a(a->node_domain, nodes * sizeof(uint32_t), h);
}

uint32_t pmm_response_checksum(const struct pmm_response *r)
{
    struct pmm_response_arrays a = {r->cpus,        r->handed,   r->kept,
                                    r->numa_ranges, r->distance, r->node_domain};
    return pmm_response_checksum_at(r, &a);
}

/* An array of n entries of `size` bytes at virtual address a, inside the HHDM's 2^52 bytes, 8-byte
 * aligned (the loader aligns every array to 16). */
static int array_ok(const void *a, uint64_t n, uint64_t size, uint64_t hhdm)
{
    uint64_t v = (uint64_t)(uintptr_t)a;
    if (!n)
        return 1;
    return v >= hhdm && !(v & 7) && v - hhdm < PHYS_LIMIT && n * size <= PHYS_LIMIT - (v - hhdm);
}

/* The NUMA arrays' contents (their addresses and the checksum already checked). */
static const char *numa_verify(const struct pmm_response *r)
{
    uint64_t nodes = r->node_count;
    for (uint64_t i = 0; i < r->cpu_count; i++)
        if (r->cpus[i].node >= nodes)
            return "cpus: a CPU on a node past node_count";
    for (uint64_t i = 1; i < nodes; i++)
        if (r->node_domain[i] <= r->node_domain[i - 1])
            return "node_domain: proximity domains not in ascending order";
    for (uint64_t i = 0; i < nodes; i++)
        for (uint64_t j = 0; j < nodes; j++) {
            uint8_t d = r->distance[i * nodes + j];
            if (i == j ? d != PMM_NUMA_LOCAL : d < PMM_NUMA_LOCAL)
                return "distance: not 10 from a node to itself, or below 10 between two";
        }
    uint64_t end = 0;
    for (uint64_t i = 0; i < r->numa_range_count; i++) {
        const struct pmm_numa_range *n = &r->numa_ranges[i];
        if (!n->npages || n->start >= PHYS_LIMIT / PAGE || n->npages > PHYS_LIMIT / PAGE - n->start)
            return "numa_ranges: a range that is empty or past physical memory";
        if (n->node >= nodes)
            return "numa_ranges: a range on a node past node_count";
        if (n->flags & ~PMM_NUMA_HOTPLUG)
            return "numa_ranges: flags this kernel does not know";
        if (i && n->start < end)
            return "numa_ranges: ranges not sorted, or overlapping";
        end = n->start + n->npages;
    }
    return 0;
}

const char *pmm_response_verify(const struct pmm_response *r, uint64_t hhdm)
{
    if (r->abi != PMM_ABI_VERSION)
        return "abi: the allocator state's layout is not the one this kernel's pmm/ reads; "
               "install the loader and the kernel from one build";
    if (r->revision != PMM_RESPONSE_REVISION)
        return "revision: not the response layout this kernel reads; install the loader and the "
               "kernel from one build";
    if (!r->state_phys || (r->state_phys & (PAGE - 1)) || r->state_phys >= PHYS_LIMIT)
        return "state_phys: zero, not page aligned, or beyond physical memory";
    if (r->virt_offset != hhdm)
        return "virt_offset: differs from the HHDM offset";
    if (r->flags & ~PMM_RESPONSE_BOOT_HELD)
        return "flags: bits this kernel does not know";
    if (!r->cpu_count || r->cpu_count > MAX_CPUS)
        return "cpu_count: zero, or more CPUs than the allocator can serve";
    if (r->bsp >= r->cpu_count)
        return "bsp: not the index of a listed CPU";
    if (r->cpus_found < r->cpu_count)
        return "cpus_found: fewer CPUs found than listed";
    if (r->cpu_source < PMM_CPUS_MP_SERVICES || r->cpu_source > PMM_CPUS_BSP_ONLY)
        return "cpu_source: unknown source of the CPU list";
    if (!array_ok(r->cpus, r->cpu_count, sizeof *r->cpus, hhdm))
        return "cpus: not an array in the HHDM";
    if (r->handed_count > MAX_ARRAY ||
        !array_ok(r->handed, r->handed_count, sizeof *r->handed, hhdm))
        return "handed: not an array in the HHDM";
    if (r->kept_count > MAX_ARRAY || !array_ok(r->kept, r->kept_count, sizeof *r->kept, hhdm))
        return "kept: not an array in the HHDM";
    if (r->numa_flags & ~(PMM_NUMA_FROM_SRAT | PMM_NUMA_FROM_SLIT))
        return "numa_flags: bits this kernel does not know";
    if (!r->node_count || r->node_count > PMM_NUMA_MAX_NODES)
        return "node_count: zero, or more than PMM_NUMA_MAX_NODES";
    uint64_t nodes = r->node_count;
    if (r->numa_range_count > MAX_ARRAY ||
        !array_ok(r->numa_ranges, r->numa_range_count, sizeof *r->numa_ranges, hhdm))
        return "numa_ranges: not an array in the HHDM";
    if (!array_ok(r->distance, nodes * nodes, 1, hhdm))
        return "distance: not an array in the HHDM";
    if (!array_ok(r->node_domain, nodes, sizeof *r->node_domain, hhdm))
        return "node_domain: not an array in the HHDM";
    if (pmm_response_checksum(r) != r->checksum)
        return "checksum: the response or its arrays are corrupt";
    for (uint64_t i = 0; i < r->cpu_count; i++) {
        if (r->cpus[i].flags & ~PMM_CPU_IN_MP)
            return "cpus: flags this kernel does not know";
        for (uint64_t j = 0; j < i; j++)
            if (r->cpus[i].lapic_id == r->cpus[j].lapic_id)
                return "cpus: an APIC ID is listed twice";
    }
    uint64_t end = 0;
    for (uint64_t i = 0; i < r->handed_count; i++) {
        const struct pmm_handed *h = &r->handed[i];
        if ((h->phys & (PAGE - 1)) || !h->pages || h->phys >= PHYS_LIMIT ||
            h->pages > (PHYS_LIMIT - h->phys) / PAGE)
            return "handed: a run that is empty, unaligned or past physical memory";
        if (h->kind < PMM_HANDED_EXECUTABLE || h->kind > PMM_HANDED_EARLIER)
            return "handed: a run of unknown kind";
        if (i && h->phys < end)
            return "handed: runs not sorted, or overlapping";
        end = h->phys + h->pages * PAGE;
    }
    for (uint64_t i = 0; i < r->kept_count; i++) {
        const struct pmm_kept *k = &r->kept[i];
        if (k->kind < PMM_KEPT_ESRT || k->kind > PMM_KEPT_TABLE)
            return "kept: an entry of unknown kind";
        if (!k->bytes || k->phys >= PHYS_LIMIT || k->bytes > PHYS_LIMIT - k->phys)
            return "kept: an empty table, or one past physical memory";
        uint64_t lo = k->phys & ~(PAGE - 1), hi = (k->phys + k->bytes + PAGE - 1) & ~(PAGE - 1);
        int covered = 0;
        for (uint64_t j = 0; j < r->handed_count && !covered; j++) {
            const struct pmm_handed *h = &r->handed[j];
            covered = lo >= h->phys && hi <= h->phys + h->pages * PAGE;
        }
        if (!covered)
            return "kept: a table whose pages no handed run covers";
    }
    return numa_verify(r);
}
