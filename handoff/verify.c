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

static int overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn * PAGE && b < a + an * PAGE;
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
    if (map && pmm_fnv1a(map, h->memmap_size, PMM_FNV_INIT) != h->memmap_checksum)
        return "memory map checksum mismatch";
    if (!h->kernel_pages || !h->stack_pages || !h->boot_pt_pages)
        return "kernel, stack or page-table range is empty";
    uint64_t mp = (h->memmap_size + PAGE - 1) / PAGE;
    const uint64_t r[5][2] = {{h->self_phys, 1},
                              {h->kernel_phys, h->kernel_pages},
                              {h->stack_phys, h->stack_pages},
                              {h->boot_pt_phys, h->boot_pt_pages},
                              {h->memmap_phys, mp}};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (overlap(r[i][0], r[i][1], r[j][0], r[j][1]))
                return "handoff ranges overlap";
    return 0;
}
