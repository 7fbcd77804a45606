/*
 * la57.c - the paging mode the kernel runs: 5-level wherever the CPU has LA57.
 *
 * The stub asks for 5-level in its Paging Mode request (requests.c). A loader that answers it
 * chose the mode, and the stub keeps it (4-level then means the CPU has no LA57, or limine.conf
 * capped the mode). A loader that does not answer it leaves the firmware's mode, 4-level on
 * every PC firmware we know; on a CPU with LA57 the stub then switches itself, once on the boot
 * CPU (paging_mode_settle, before its own tables are built) and once on each AP as it arrives
 * (paging_mode_ap), all through la57_switch.S in a page below 4 GiB.
 *
 * For the switch, an interim PML5 keeps every higher-half address where it was: its entry 511
 * points at the loader's PML4 (in 5-level mode bits 56:48 of a 4-level higher-half address are
 * all ones, so entry 511 is the one a walk takes, and the levels below are the same), so the
 * HHDM pointers, the image and the stacks stay valid; its entry 0 and the loader's PML4 entry 0
 * (empty at base revision >= 1) share tables that identity-map the switch page. The HHDM offset
 * stays the loader's. paging_init then builds the kernel's own 5-level tables; paging_mode_done
 * gives back the switch page and the interim tables once every CPU is on those.
 */
#include "la57.h"
#include "kernel.h"
#include "spinlock.h"

#define P     0x1ull
#define W     0x2ull
#define PG    4096ull
#define ADDR  0x000ffffffffff000ull
#define LA57  (1ull << 12)
#define PCIDE (1ull << 17)
#define LOW4G (1ull << 32)

/* The interim tables: the PML5 (below 4 GiB: CR3 is written in compatibility mode, 32 bits),
 * and a lower-half PML4, PDPT, PD and PT that identity-map the switch page. */
enum { T_PML5, T_PML4, T_PDPT, T_PD, T_PT, NTABLE };

extern volatile struct limine_paging_mode_request paging_req;

static uint64_t page;          /* the switch page: code, then the parameters at its end */
static uint64_t table[NTABLE]; /* physical */
static uint64_t *loader_pml4;  /* the loader's top table (HHDM), whose entry 0 we borrow */
static struct spinlock lock;   /* one CPU in the switch page at a time */
static int switched;           /* the kernel switched the boot CPU: the APs must follow */

static uint64_t *at(uint64_t phys)
{
    return (uint64_t *)(uintptr_t)(phys + HHDM);
}

static uint64_t read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* Run the switch on this CPU: from 4-level on the loader's tables to 5-level on the interim. */
static void switch_here(void)
{
    spin_lock(&lock);
    uint64_t cr4 = read_cr4();
    if (cr4 & PCIDE) /* paging cannot go off with PCIDE set; nothing here uses PCIDs */
        __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 & ~PCIDE) : "memory");
    struct la57_params *lp = (struct la57_params *)(uintptr_t)(page + PG - sizeof *lp);
    lp->cr3 = table[T_PML5];
    lp->cr4 = (cr4 | LA57) & ~PCIDE;
    /* the page's identity address: mapped in the loader's PML4 and the interim PML5 alike */
    ((void (*)(struct la57_params *))(uintptr_t)page)(lp);
    spin_unlock(&lock);
    if (!(read_cr4() & LA57))
        panic("paging: the switch to 5-level paging returned with CR4.LA57 clear");
}

static uint64_t zeroed(struct pmm *p, uint64_t limit)
{
    uint64_t phys;
    int rc = pmm_alloc_run(p, 1, PG, limit, &phys);
    if (rc)
        panic("paging: no page%s for the switch to 5-level paging: %s", limit ? " below 4 GiB" : "",
              pmm_strerror(rc));
    uint64_t *t = at(phys);
    for (int i = 0; i < 512; i++)
        t[i] = 0;
    return phys;
}

/* Build the interim PML5 and the switch page, then switch the boot CPU. */
static void switch_boot_cpu(struct pmm *p)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    loader_pml4 = at(cr3 & ADDR);
    if (loader_pml4[0] & P)
        panic("paging: the loader's tables map the lower half; the switch page has no room");
    page = zeroed(p, LOW4G);
    for (int i = 0; i < NTABLE; i++)
        table[i] = zeroed(p, i == T_PML5 ? LOW4G : 0);
    at(table[T_PML4])[0] = table[T_PDPT] | P | W; /* the page is below 4 GiB: PML4 entry 0 */
    at(table[T_PDPT])[(page >> 30) & 511] = table[T_PD] | P | W;
    at(table[T_PD])[(page >> 21) & 511] = table[T_PT] | P | W;
    at(table[T_PT])[(page >> 12) & 511] = page | P | W; /* executable: no NX bit */
    uint64_t *pml5 = at(table[T_PML5]);
    pml5[0] = table[T_PML4] | P | W;
    pml5[511] = (cr3 & ADDR) | P | W;
    loader_pml4[0] = table[T_PDPT] | P | W;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    uint8_t *dst = (uint8_t *)at(page);
    for (uint64_t i = 0; i < (uint64_t)(la57_switch_end - la57_switch_start); i++)
        dst[i] = (uint8_t)la57_switch_start[i];
    switch_here();
    switched = 1;
}

void paging_mode_settle(struct pmm *p)
{
    if (boot.levels == 5) {
        kprintf("kernel: paging: 5-level (the loader's Paging Mode response and CR4.LA57 agree)\n");
        return;
    }
    if (!cpu_has_la57()) {
        kprintf("kernel: paging: 4-level (this CPU has no LA57)\n");
        return;
    }
    if (paging_req.response) {
        kprintf("kernel: paging: 4-level (the loader chose it over the 5-level asked for)\n");
        return;
    }
    switch_boot_cpu(p);
    boot.levels = 5;
    kprintf("kernel: paging: 5-level (switched by the kernel: the loader left 4-level paging and "
            "did not answer the Paging Mode request)\n");
}

void paging_mode_ap(void)
{
    if (switched && !(read_cr4() & LA57))
        switch_here();
}

void paging_mode_done(struct pmm *p)
{
    if (!switched)
        return;
    loader_pml4[0] = 0;
    uint64_t all[NTABLE + 1] = {page};
    for (int i = 0; i < NTABLE; i++)
        all[1 + i] = table[i];
    for (int i = 0; i < NTABLE + 1; i++) {
        int rc = pmm_free(p, all[i]);
        if (rc)
            panic("paging: cannot free the 5-level switch's page 0x%lx: %s", all[i],
                  pmm_strerror(rc));
    }
    switched = 0;
}
