/*
 * verify.c - the kernel's side of the live-allocator contract (include/handoff.h): is this
 * response what the loader promised? Freestanding; the host tests and a fuzz target run it
 * against corrupted responses.
 */
#include "handoff.h"
#include "pmm.h"

#define PAGE       4096ull
#define MAX_CPUS   4096u    /* pmm.h's PMM_MAX_CPUS: the allocator has no more supplies */
#define MAX_ARRAY  65536ull /* handed or kept entries: far beyond any machine's */
#define PHYS_LIMIT (1ull << 52)

uint32_t pmm_response_checksum_at(const struct pmm_response *r, const void *cpus,
                                  const void *handed, const void *kept)
{
    struct pmm_response copy = *r;
    copy.checksum = 0;
    uint32_t h = pmm_fnv1a(&copy, sizeof copy, PMM_FNV_INIT);
    h = pmm_fnv1a(cpus, r->cpu_count * sizeof(struct pmm_cpu), h);
    h = pmm_fnv1a(handed, r->handed_count * sizeof(struct pmm_handed), h);
    return pmm_fnv1a(kept, r->kept_count * sizeof(struct pmm_kept), h);
}

uint32_t pmm_response_checksum(const struct pmm_response *r)
{
    return pmm_response_checksum_at(r, r->cpus, r->handed, r->kept);
}

/* An array of n entries of `size` bytes at virtual address a, inside the HHDM's 2^52 bytes. */
static int array_ok(const void *a, uint64_t n, uint64_t size, uint64_t hhdm)
{
    uint64_t v = (uint64_t)(uintptr_t)a;
    if (!n)
        return 1;
    return v >= hhdm && !(v & 7) && v - hhdm < PHYS_LIMIT && n * size <= PHYS_LIMIT - (v - hhdm);
}

const char *pmm_response_verify(const struct pmm_response *r, uint64_t hhdm)
{
    if (r->abi != PMM_ABI_VERSION)
        return "abi: the allocator state's layout is not the one this kernel's pmm/ reads; "
               "install the loader and the kernel from one build";
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
    return 0;
}
