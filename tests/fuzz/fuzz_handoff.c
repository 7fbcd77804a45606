/*
 * fuzz_handoff.c - the kernel's check of the handoff block (handoff/verify.c, include/handoff.h).
 *
 * FUZZ-LINK: handoff/verify.c
 *
 * Input: a flags byte, then the block's bytes (struct pmm_handoff), then memory map bytes.
 * Flags make the mutated block get past the first checks so the later ones are reached: bit 0
 * writes the right magic, version and size; bit 1 recomputes the block's checksum (after bit 3);
 * bit 2 passes the map (when the input holds memmap_size bytes of it); bit 3 recomputes the
 * map's checksum.
 *
 * Property: pmm_handoff_verify accepts exactly the blocks an independent reading of the contract
 * accepts, with every range end computed in 128 bits: magic, version, size and checksum; the
 * addresses page aligned; a descriptor size of at least 40 dividing the map size; kernel, stack
 * and page tables not empty; no range (block, kernel, stack, page tables, map) whose end is not
 * a 64-bit number (ending at 2^64 is refused too) or that overlaps another; the map's checksum when
 * the map is given; the CPU list: 1 to PMM_HANDOFF_MAX_CPUS entries, the BSP one of them, no
 * fewer found than listed, a known source, no APIC ID twice. It reads nothing but the block and
 * memmap_size bytes of the map (exact-size copies, so ASan sees an overrun).
 */
#include "fuzz.h"
#include "handoff.h"

typedef unsigned __int128 u128;

static int acceptable(const struct pmm_handoff *h, const void *map)
{
    struct pmm_handoff c = *h;
    c.checksum = 0;
    if (h->magic != PMM_HANDOFF_MAGIC || h->version != PMM_HANDOFF_VERSION ||
        h->size != sizeof *h || pmm_fnv1a(&c, sizeof c, PMM_FNV_INIT) != h->checksum)
        return 0;
    const uint64_t addr[5] = {h->self_phys, h->kernel_phys, h->stack_phys, h->boot_pt_phys,
                              h->memmap_phys};
    for (int i = 0; i < 5; i++)
        if (addr[i] % 4096 || h->pmm_state_phys % 4096)
            return 0;
    if (h->memmap_desc_size < 40 || h->memmap_size % h->memmap_desc_size)
        return 0;
    if (!h->kernel_pages || !h->stack_pages || !h->boot_pt_pages)
        return 0;
    const u128 len[5] = {4096, (u128)h->kernel_pages * 4096, (u128)h->stack_pages * 4096,
                         (u128)h->boot_pt_pages * 4096,
                         ((u128)h->memmap_size + 4095) / 4096 * 4096};
    for (int i = 0; i < 5; i++)
        if (addr[i] + len[i] > UINT64_MAX) /* its end must be a 64-bit address */
            return 0;
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (len[i] && len[j] && addr[i] < addr[j] + len[j] && addr[j] < addr[i] + len[i])
                return 0;
    if (h->ncpus < 1 || h->ncpus > PMM_HANDOFF_MAX_CPUS || h->bsp >= h->ncpus ||
        h->cpus_found < h->ncpus || h->cpu_source < PMM_CPUS_MP_SERVICES ||
        h->cpu_source > PMM_CPUS_BSP_ONLY)
        return 0;
    for (uint32_t i = 0; i < h->ncpus; i++)
        for (uint32_t j = i + 1; j < h->ncpus; j++)
            if (h->cpu_apic_id[i] == h->cpu_apic_id[j])
                return 0;
    return !map || pmm_fnv1a(map, h->memmap_size, PMM_FNV_INIT) == h->memmap_checksum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + sizeof(struct pmm_handoff))
        return 0;
    uint8_t flags = data[0];
    struct pmm_handoff *h = malloc(sizeof *h);
    memcpy(h, data + 1, sizeof *h);
    const uint8_t *rest = data + 1 + sizeof *h;
    size_t nrest = size - 1 - sizeof *h;
    if (flags & 1) {
        h->magic = PMM_HANDOFF_MAGIC;
        h->version = PMM_HANDOFF_VERSION;
        h->size = sizeof *h;
    }
    void *map = 0;
    if ((flags & 4) && h->memmap_size <= nrest) {
        map = malloc(h->memmap_size ? h->memmap_size : 1);
        memcpy(map, rest, h->memmap_size);
        if (flags & 8)
            h->memmap_checksum = pmm_fnv1a(map, h->memmap_size, PMM_FNV_INIT);
    }
    if (flags & 2)
        h->checksum = pmm_handoff_checksum(h);
    const char *why = pmm_handoff_verify(h, map);
    int want = acceptable(h, map);
    FZ_ASSERT((why == 0) == want, "verify says '%s', the contract says %s", why ? why : "ok",
              want ? "acceptable" : "refuse");
    free(map);
    free(h);
    return 0;
}
