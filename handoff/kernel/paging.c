/*
 * paging.c - the kernel's own page tables, built from allocator pages while the loader's
 * identity map is still in force:
 *
 *   0xffff800000000000 + phys   direct map of [0, identity_top), 2 MiB pages, read-write,
 *                               no-execute
 *   kernel_virt                 the kernel image, 4 KiB pages by its ELF segments: text
 *                               read-execute, rodata read-only no-execute, data and bss
 *                               read-write no-execute (bounds from kernel.ld)
 *   0xffff800000000000 + phys   later, device pages (the local APIC) remapped uncached in
 *                               place: paging_map_mmio
 *
 * W^X holds from the switch on: EFER.NXE enables the no-execute bit and CR0.WP makes read-only
 * pages read-only for the kernel too. (The loader's transition tables, used only until here, map
 * everything read-write-execute.)
 *
 * Then CR3 switches, the allocator's offset moves to the direct map, and the loader's transition
 * tables go back to the allocator. From here on, a stray physical-address dereference faults.
 */
#include "kernel.h"

#define P   0x1ull
#define W   0x2ull
#define PS  0x80ull
#define PWT 0x8ull
#define PCD 0x10ull
#define NX  (1ull << 63)
#define PG  4096ull

extern const char __text_end[], __rodata_end[]; /* kernel.ld */

static uint64_t nx; /* NX, or 0 on a CPU without no-execute pages */

static struct pmm *pm;
static uint64_t tables; /* page-table pages allocated */
static uint64_t root;   /* the kernel's PML4, physical */

/* A zeroed table page, reached through whatever mapping is in force (offset `off`). */
static uint64_t new_table(uint64_t off)
{
    uint64_t phys;
    int rc = pmm_alloc(pm, &phys);
    if (rc)
        panic("no page for a page table: %s", pmm_strerror(rc));
    uint64_t *t = (uint64_t *)(uintptr_t)(phys + off);
    for (int i = 0; i < 512; i++)
        t[i] = 0;
    tables++;
    return phys;
}

static uint64_t *next(uint64_t *table, unsigned idx, uint64_t off)
{
    if (!(table[idx] & P))
        table[idx] = new_table(off) | P | W;
    return (uint64_t *)(uintptr_t)((table[idx] & 0x000ffffffffff000ull) + off);
}

/* Leaf entry for va -> pa with permission bits `perm` (W, NX); table entries allow all. */
static void map(uint64_t *pml4, uint64_t va, uint64_t pa, int big, uint64_t perm)
{
    uint64_t *pdpt = next(pml4, (va >> 39) & 511, 0);
    uint64_t *pd = next(pdpt, (va >> 30) & 511, 0);
    if (big) {
        pd[(va >> 21) & 511] = pa | P | PS | perm;
        return;
    }
    uint64_t *pt = next(pd, (va >> 21) & 511, 0);
    pt[(va >> 12) & 511] = pa | P | perm;
}

/* The kernel image page at va: text read-execute, rodata read-only, the rest read-write. */
static uint64_t image_perm(uint64_t va)
{
    if (va < (uint64_t)(uintptr_t)__text_end)
        return 0;
    if (va < (uint64_t)(uintptr_t)__rodata_end)
        return nx;
    return W | nx;
}

/* EFER.NXE if the CPU has no-execute pages (CPUID 0x80000001 EDX bit 20), CR0.WP always. */
static void enable_wx(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u));
    if (a >= 0x80000001u) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u));
        if (d & (1u << 20)) {
            uint32_t lo, hi;
            __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
            lo |= 1u << 11; /* EFER.NXE */
            __asm__ volatile("wrmsr" : : "a"(lo), "d"(hi), "c"(0xc0000080u));
            nx = NX;
        }
    }
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | (1ull << 16)) : "memory"); /* CR0.WP */
}

void paging_init(struct pmm *p, const struct pmm_handoff *h, void (*next)(struct pmm *))
{
    pm = p;
    enable_wx(); /* NXE before any table with NX bits is live */
    root = new_table(0);
    uint64_t *pml4 = (uint64_t *)(uintptr_t)root;
    for (uint64_t pa = 0; pa < h->identity_top; pa += 2ull << 20)
        map(pml4, HHDM + pa, pa, 1, W | nx);
    for (uint64_t i = 0; i < h->kernel_pages; i++) {
        uint64_t va = h->kernel_virt + i * PG;
        map(pml4, va, h->kernel_phys + i * PG, 0, image_perm(va));
    }
    p = pmm_set_offset(p, HHDM); /* written through the old mapping, valid after the switch */
    /*
     * Everything on the current stack is addressed through the identity map, which the new
     * tables drop, and the compiler may hold such addresses in registers. So no frame of ours
     * survives the switch: `next` starts afresh at the top of the same stack in the direct map.
     */
    uint64_t top = HHDM + h->stack_phys + h->stack_pages * PG;
    __asm__ volatile("mov %0, %%cr3\n\t"
                     "mov %1, %%rsp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "call *%2\n\t"
                     "ud2"
                     :
                     : "r"(root), "r"(top), "r"(next), "D"(p)
                     : "memory");
    __builtin_unreachable();
}

void paging_done(struct pmm *p, const struct pmm_handoff *h)
{
    int rc = pmm_free_run(p, h->boot_pt_phys, h->boot_pt_pages);
    if (rc)
        panic("cannot free the loader's page tables: %s", pmm_strerror(rc));
    kprintf("kernel: own page tables: %lu pages, direct map of %lu MiB at 0x%lx; "
            "freed the loader's %lu\n",
            tables, h->identity_top >> 20, HHDM, h->boot_pt_pages);
    kprintf("kernel: W^X: text read-execute, rodata read-only, data/bss/direct map read-write%s; "
            "CR0.WP on\n",
            nx ? " no-execute (EFER.NXE on)" : " (this CPU has no NX bit)");
}

uint64_t paging_root(void)
{
    return root;
}

/*
 * Device registers at phys: its 4 KiB page in the direct map becomes uncached (PCD and PWT: UC
 * whatever the PAT and MTRRs say), so each access reaches the device, in order. The page keeps
 * its direct-map address, so it has one mapping and one memory type (two mappings of one page
 * with different types are what the SDM warns against). A 2 MiB direct-map page around it is
 * split into 4 KiB pages first (a page-table page from the allocator). Called on one CPU, before
 * any other CPU runs on these tables.
 */
void *paging_map_mmio(struct pmm *p, uint64_t phys)
{
    pm = p; /* table pages come from the allocator as the caller reaches it now */
    uint64_t va = HHDM + (phys & ~(PG - 1));
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(root + HHDM);
    uint64_t *pdpt = next(pml4, (va >> 39) & 511, HHDM);
    uint64_t *pd = next(pdpt, (va >> 30) & 511, HHDM);
    uint64_t *pde = &pd[(va >> 21) & 511];
    if ((*pde & P) && (*pde & PS)) {
        uint64_t big = *pde & 0x000fffffffe00000ull, perm = *pde & (W | NX);
        uint64_t pt = new_table(HHDM);
        uint64_t *t = (uint64_t *)(uintptr_t)(pt + HHDM);
        for (int i = 0; i < 512; i++)
            t[i] = (big + (uint64_t)i * PG) | P | perm;
        *pde = pt | P | W;
    }
    uint64_t *pt = next(pd, (va >> 21) & 511, HHDM);
    pt[(va >> 12) & 511] = (phys & ~(PG - 1)) | P | W | PCD | PWT | nx;
    __asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory"); /* drop the old translation */
    return (void *)(uintptr_t)(va + (phys & (PG - 1)));
}
