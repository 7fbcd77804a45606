/*
 * cfgtables.c - keep the configuration tables that lie in boot-services memory.
 *
 * Firmware places some configuration tables in EfiBootServicesData: the ESRT, the Memory
 * Attributes Table, on some PCs SMBIOS. After ExitBootServices that memory is the kernel's, so
 * without this its first allocations could overwrite tables it still wants to read (Linux reserves
 * them with efi_mem_reserve for the same reason). Sizes come from each table's own header; for a
 * table this file does not know, its first page is kept.
 */
#include "cfgtables.h"

static const uint8_t esrt[16] = {0x63, 0xa2, 0x22, 0xb1, 0x61, 0x36, 0x68, 0x4f,
                                 0x99, 0x29, 0x78, 0xf8, 0xb0, 0xd6, 0x21, 0x80};
static const uint8_t memattr[16] = {0x1d, 0x91, 0xfa, 0xdc, 0xeb, 0x26, 0x9f, 0x46,
                                    0xa2, 0x20, 0x38, 0xb7, 0xdc, 0x46, 0x12, 0x20};
static const uint8_t smbios[16] = {0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11,
                                   0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d};
static const uint8_t smbios3[16] = {0x44, 0x15, 0xfd, 0xf2, 0x94, 0x97, 0x2c, 0x4a,
                                    0x99, 0x2e, 0xe5, 0xbb, 0xcf, 0x20, 0xe3, 0x94};

static int same(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 16; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Little-endian reads from physical memory (headers may be unaligned). */
static uint64_t rd(uint64_t phys, uint64_t off, int bytes)
{
    const uint8_t *b = (const uint8_t *)(uintptr_t)(phys + off);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* A page the allocator knows as RAM (so reading it cannot touch a device). */
static int ram(const struct pmm *p, uint64_t phys)
{
    enum pmm_page_state s = pmm_page_state(p, phys >> 12);
    return s != PMM_PAGE_NEVER && s != PMM_PAGE_HOLE;
}

/* Keep [phys, phys + bytes) and list it; 0 if listed or not ours to keep, 1 if kept[] was full. */
static int keep(struct pmm *p, struct kept_list *h, const uint8_t *guid, uint32_t kind,
                uint64_t phys, uint64_t bytes)
{
    if (!phys || !bytes || phys + bytes < phys)
        return 0;
    uint64_t first = phys & ~4095ull, pages = (phys + bytes - first + 4095) / 4096;
    if (h->n == h->cap)
        return 1;
    if (pmm_keep_range(p, first, pages, 0) != PMM_OK)
        return 0; /* runtime, ACPI, reserved: never handed out anyway */
    struct pmm_kept *k = &h->kept[h->n++];
    k->phys = phys;
    k->bytes = bytes;
    for (int i = 0; i < 16; i++)
        k->guid[i] = guid ? guid[i] : 0;
    k->kind = kind;
    k->pad = 0;
    return 0;
}

uint64_t keep_config_tables(struct pmm *p, struct kept_list *h, const struct cfg_entry *t,
                            uint64_t n, uint64_t off)
{
    uint64_t full = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *g = t[i].guid;
        uint64_t a = t[i].table;
        if (!a || !ram(p, a) || ((a + 64) >> 12 != a >> 12 && !ram(p, a + 64)))
            continue; /* nothing there, or not RAM: not ours */
        if (same(g, esrt)) {
            uint64_t count = rd(a, off, 4);
            full += keep(p, h, g, PMM_KEPT_ESRT, a, 16 + (count < 4096 ? count : 4096) * 40);
        } else if (same(g, memattr)) {
            uint64_t count = rd(a + 4, off, 4), dsize = rd(a + 8, off, 4);
            if (count > 65536 || dsize > 4096)
                count = dsize = 0;
            full += keep(p, h, g, PMM_KEPT_MEMATTR, a, 16 + count * dsize);
        } else if (same(g, smbios)) {
            full += keep(p, h, g, PMM_KEPT_SMBIOS, a, 31);
            full +=
                keep(p, h, g, PMM_KEPT_SMBIOS_TABLE, rd(a + 0x18, off, 4), rd(a + 0x16, off, 2));
        } else if (same(g, smbios3)) {
            full += keep(p, h, g, PMM_KEPT_SMBIOS3, a, 24);
            full +=
                keep(p, h, g, PMM_KEPT_SMBIOS_TABLE, rd(a + 0x10, off, 8), rd(a + 0x0c, off, 4));
        } else {
            full += keep(p, h, g, PMM_KEPT_TABLE, a, 1);
        }
    }
    return full;
}
