/*
 * verify.c - the kernel's side of the handoff contract (include/handoff.h): is this block what the
 * loader promised? Freestanding; the host tests run it against corrupted blocks.
 */
#include "handoff.h"

#define PAGE 4096ull

uint32_t pmm_handoff_checksum(const struct pmm_handoff *h)
{
    struct pmm_handoff copy = *h;
    copy.checksum = 0;
    uint64_t n = h->size < sizeof copy ? h->size : sizeof copy;
    return pmm_fnv1a(&copy, n, PMM_FNV_INIT);
}

/*
 * The ranges the block names, each [phys, phys + pages * 4K). Every end is computed without
 * wrapping: a size that would carry past 2^64 is refused as such, before any overlap test, so a
 * huge count can never shrink a range to nothing and hide it from the overlap check.
 */
enum { R_SELF, R_KERNEL, R_STACK, R_PT, R_MAP, NRANGES };
static const char *const past_2_64[NRANGES] = {
    "self_phys: the handoff block runs past 2^64",
    "kernel_pages: the kernel image runs past 2^64",
    "stack_pages: the stack runs past 2^64",
    "boot_pt_pages: the transition page tables run past 2^64",
    "memmap_size: the memory map runs past 2^64",
};
/* One message per pair (i, j), i < j, in the order the loop below visits them. */
static const char *const overlaps[NRANGES * (NRANGES - 1) / 2] = {
    "handoff ranges overlap: the block and the kernel image",
    "handoff ranges overlap: the block and the stack",
    "handoff ranges overlap: the block and the page tables",
    "handoff ranges overlap: the block and the memory map",
    "handoff ranges overlap: the kernel image and the stack",
    "handoff ranges overlap: the kernel image and the page tables",
    "handoff ranges overlap: the kernel image and the memory map",
    "handoff ranges overlap: the stack and the page tables",
    "handoff ranges overlap: the stack and the memory map",
    "handoff ranges overlap: the page tables and the memory map",
};

/* *end = phys + pages * PAGE; 0 if that is not below 2^64. */
static int range_end(uint64_t phys, uint64_t pages, uint64_t *end)
{
    if (pages > (~0ull - phys) / PAGE)
        return 0;
    *end = phys + pages * PAGE;
    return 1;
}

/* The CPU list (version 3): a kernel indexes its per-CPU data by position in it. */
static const char *cpus_check(const struct pmm_handoff *h)
{
    if (!h->ncpus)
        return "ncpus: no CPU listed";
    if (h->ncpus > PMM_HANDOFF_MAX_CPUS)
        return "ncpus: more CPUs than cpu_apic_id[] holds";
    if (h->bsp >= h->ncpus)
        return "bsp: not the index of a listed CPU";
    if (h->cpus_found < h->ncpus)
        return "cpus_found: fewer CPUs found than listed";
    if (h->cpu_source < PMM_CPUS_MP_SERVICES || h->cpu_source > PMM_CPUS_BSP_ONLY)
        return "cpu_source: unknown source of the CPU list";
    for (uint32_t i = 1; i < h->ncpus; i++)
        for (uint32_t j = 0; j < i; j++)
            if (h->cpu_apic_id[i] == h->cpu_apic_id[j])
                return "cpu_apic_id: an APIC ID is listed twice";
    return 0;
}

const char *pmm_handoff_verify(const struct pmm_handoff *h, const void *map)
{
    if (h->magic != PMM_HANDOFF_MAGIC)
        return "bad magic: not a uefi-pmm handoff block";
    if (h->version != PMM_HANDOFF_VERSION)
        return "unsupported handoff version";
    if (h->size != sizeof *h)
        return "handoff size does not match this kernel's struct";
    if (pmm_handoff_checksum(h) != h->checksum)
        return "handoff checksum mismatch: block is corrupt";
    if ((h->self_phys | h->pmm_state_phys | h->memmap_phys | h->kernel_phys | h->stack_phys |
         h->boot_pt_phys) &
        (PAGE - 1))
        return "a handoff address is not page aligned";
    if (!h->memmap_desc_size || h->memmap_desc_size < 40 || h->memmap_size % h->memmap_desc_size)
        return "memory map size is not a multiple of a valid descriptor size";
    if (!h->kernel_pages || !h->stack_pages || !h->boot_pt_pages)
        return "kernel, stack or page-table range is empty";
    const uint64_t r[NRANGES][2] = {
        [R_SELF] = {h->self_phys, 1},
        [R_KERNEL] = {h->kernel_phys, h->kernel_pages},
        [R_STACK] = {h->stack_phys, h->stack_pages},
        [R_PT] = {h->boot_pt_phys, h->boot_pt_pages},
        [R_MAP] = {h->memmap_phys, h->memmap_size / PAGE + (h->memmap_size % PAGE != 0)},
    };
    uint64_t end[NRANGES];
    for (int i = 0; i < NRANGES; i++)
        if (!range_end(r[i][0], r[i][1], &end[i]))
            return past_2_64[i];
    for (int i = 0, k = 0; i < NRANGES; i++)
        for (int j = i + 1; j < NRANGES; j++, k++)
            if (r[i][1] && r[j][1] && r[i][0] < end[j] && r[j][0] < end[i])
                return overlaps[k];
    const char *why = cpus_check(h);
    if (why)
        return why;
    /* Read the map only once its extent is known to be a real range. */
    if (map && pmm_fnv1a(map, h->memmap_size, PMM_FNV_INIT) != h->memmap_checksum)
        return "memory map checksum mismatch";
    return 0;
}
