/*
 * paging.c - the kernel's own page tables, built from allocator pages on the loader's, in the
 * paging mode the kernel runs (4- or 5-level: boot.levels; 5-level adds a PML5 on top):
 *
 *   HHDM + phys   direct map of every RAM and framebuffer range of the memory map, 2 MiB pages
 *                 where they fit, read-write, no-execute, at the loader's own HHDM offset (so
 *                 every pointer in the responses stays valid); the framebuffer write-combining
 *                 (PAT entry 5 in the Limine layout), everything else write-back
 *   the image     4 KiB pages by its sections: text read-execute, rodata read-only no-execute,
 *                 data and bss read-write no-execute (bounds from kernel.ld)
 *
 * W^X holds from the switch on: EFER.NXE enables the no-execute bit and CR0.WP makes read-only
 * pages read-only for the kernel too. Nothing is mapped in the lower half: a stray physical
 * address faults. The loader's tables go back to the allocator once no CPU runs on them
 * (paging_done, after the APs moved to these).
 */
#include "kernel.h"

#define P       0x1ull
#define W       0x2ull
#define PWT     0x8ull
#define PS      0x80ull
#define PAT_BIG 0x1000ull
#define NX      (1ull << 63)
#define PG      4096ull
#define MIB2    (2ull << 20)

extern const char __text_end[], __rodata_end[]; /* kernel.ld */

static uint64_t nx; /* NX, or 0 on a CPU without no-execute pages */
static struct pmm *pm;
static uint64_t tables; /* page-table pages allocated */
static uint64_t root;   /* the kernel's top table (PML4 or PML5), physical */

static uint64_t new_table(void)
{
    uint64_t phys;
    int rc = pmm_alloc(pm, &phys);
    if (rc)
        panic("no page for a page table: %s", pmm_strerror(rc));
    uint64_t *t = (uint64_t *)(uintptr_t)(phys + HHDM);
    for (int i = 0; i < 512; i++)
        t[i] = 0;
    tables++;
    return phys;
}

static uint64_t *next(uint64_t *table, unsigned idx)
{
    if (!(table[idx] & P))
        table[idx] = new_table() | P | W;
    return (uint64_t *)(uintptr_t)((table[idx] & 0x000ffffffffff000ull) + HHDM);
}

/*
 * One leaf: a 2 MiB page (big) or a 4 KiB one, with the permission and cache bits given. The
 * walk starts at the PML5 in 5-level mode (boot.levels), which only adds a level on top: bits
 * 56:48 of va pick its entry, the levels below are the 4-level ones.
 */
static void map(uint64_t va, uint64_t pa, int big, uint64_t bits)
{
    uint64_t *t = (uint64_t *)(uintptr_t)(root + HHDM);
    for (unsigned level = boot.levels; level > (big ? 2u : 1u); level--)
        t = next(t, (unsigned)(va >> (12 + 9 * (level - 1))) & 511);
    t[(va >> (big ? 21 : 12)) & 511] = pa | P | bits | (big ? PS : 0);
}

/* [lo, hi) of physical memory into the direct map, 2 MiB pages where they fit. */
static void direct(uint64_t lo, uint64_t hi, int wc)
{
    lo &= ~(PG - 1);
    hi = (hi + PG - 1) & ~(PG - 1);
    while (lo < hi) {
        int big = !(lo & (MIB2 - 1)) && hi - lo >= MIB2;
        map(HHDM + lo, lo, big, W | nx | (wc ? PWT | (big ? PAT_BIG : 0x80) : 0));
        lo += big ? MIB2 : PG;
    }
}

static uint64_t image_perm(uint64_t va)
{
    if (va < (uint64_t)(uintptr_t)__text_end)
        return 0;
    if (va < (uint64_t)(uintptr_t)__rodata_end)
        return nx;
    return W | nx;
}

static void enable_wx(void)
{
    uint32_t r[4];
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        if (r[3] & (1u << 20)) {
            wrmsr(0xc0000080u, rdmsr(0xc0000080u) | (1u << 11)); /* EFER.NXE */
            nx = NX;
        }
    }
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | (1ull << 16)) : "memory"); /* CR0.WP */
}

void paging_init(struct pmm *p)
{
    pm = p;
    paging_mode_settle(p); /* boot.levels final from here on */
    enable_wx();           /* NXE before any table with NX bits is live */
    root = new_table();
    uint64_t ram = 0;
    for (uint64_t i = 0; i < boot.memmap_count; i++) {
        const struct limine_memmap_entry *e = boot.memmap[i];
        switch (e->type) {
        case LIMINE_MEMMAP_USABLE:
        case LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE:
        case LIMINE_MEMMAP_EXECUTABLE_AND_MODULES:
        case LIMINE_MEMMAP_ACPI_RECLAIMABLE:
        case LIMINE_MEMMAP_ACPI_NVS:
        case LIMINE_MEMMAP_RESERVED_MAPPED:
            direct(e->base, e->base + e->length, 0);
            ram += e->length;
            break;
        case LIMINE_MEMMAP_FRAMEBUFFER:
            direct(e->base, e->base + e->length, 1);
            break;
        default:
            break;
        }
    }
    for (uint64_t i = 0; i < boot.kernel_pages; i++) {
        uint64_t va = boot.kernel_virt + i * PG;
        map(va, boot.kernel_phys + i * PG, 0, image_perm(va));
    }
    __asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory");
    kprintf("kernel: own page tables (%u-level): %lu pages, direct map of %lu MiB of RAM at "
            "0x%lx\n",
            boot.levels, tables, ram >> 20, HHDM);
    kprintf("kernel: W^X: text read-execute, rodata read-only, data/bss/direct map read-write%s; "
            "CR0.WP on\n",
            nx ? " no-execute (EFER.NXE on)" : " (this CPU has no NX bit)");
}

void paging_done(struct pmm *p)
{
    uint64_t t = handed_free(p, boot.pmm, PMM_HANDED_PAGE_TABLES);
    uint64_t m = handed_free(p, boot.pmm, PMM_HANDED_MP);
    paging_mode_done(p);
    kprintf("kernel: freed the loader's %lu pages of page tables and %lu of AP parking and "
            "stacks\n",
            t, m);
}

uint64_t paging_root(void)
{
    return root;
}
