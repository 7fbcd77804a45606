/*
 * transition.c - the last steps: page tables the kernel can start on, ExitBootServices done the way
 * the spec asks, the allocator reconciled with the final map, and the jump.
 */
#include "loader.h"

#define PTE_P  0x1ull
#define PTE_W  0x2ull
#define PTE_PS 0x80ull
#define GIB    (1ull << 30)

static UINT64 *page(UINT64 base, UINT64 i)
{
    return (UINT64 *)(UINTN)(base + i * 4096);
}

/*
 * Identity map [0, top) with 2 MiB pages, and the kernel image at its link address with 4 KiB
 * pages. All table pages come from the allocator as one run, so they are the kernel's to free.
 */
EFI_STATUS transition_tables(struct boot *b, UINT64 top)
{
    UINT64 vlo = b->elf.vlo, vhi = b->elf.vhi;
    top = (top + GIB - 1) & ~(GIB - 1);
    UINT64 npd = top / GIB, npdpt = (npd + 511) / 512;
    UINT64 npt = ((vhi - 1) >> 21) - (vlo >> 21) + 1;
    if (((vlo >> 39) & 511) < npdpt || (vlo >> 30) != ((vhi - 1) >> 30)) {
        Print(L"loader: kernel link address 0x%lx collides with the identity map\n", vlo);
        return EFI_UNSUPPORTED;
    }
    UINT64 total = 1 + npdpt + npd + 2 + npt, base;
    int rc = pmm_alloc_run(b->pmm, total, 4096, 0, &base);
    if (rc) {
        Print(L"loader: no memory for %ld page-table pages: %a\n", total, pmm_strerror(rc));
        return EFI_OUT_OF_RESOURCES;
    }
    SetMem((void *)(UINTN)base, total * 4096, 0);
    UINT64 pml4 = base, pdpt0 = base + 4096, pd0 = pdpt0 + npdpt * 4096;
    UINT64 kpdpt = pd0 + npd * 4096, kpd = kpdpt + 4096, kpt0 = kpd + 4096;
    for (UINT64 i = 0; i < npdpt; i++)
        page(pml4, 0)[i] = (pdpt0 + i * 4096) | PTE_P | PTE_W;
    for (UINT64 j = 0; j < npd; j++) {
        page(pdpt0, 0)[j] = (pd0 + j * 4096) | PTE_P | PTE_W; /* PDPT pages are contiguous */
        UINT64 *pd = page(pd0, j);
        for (UINT64 e = 0; e < 512; e++)
            pd[e] = (j * GIB + e * (2ull << 20)) | PTE_P | PTE_W | PTE_PS;
    }
    page(pml4, 0)[(vlo >> 39) & 511] = kpdpt | PTE_P | PTE_W;
    page(kpdpt, 0)[(vlo >> 30) & 511] = kpd | PTE_P | PTE_W;
    for (UINT64 k = 0; k < npt; k++)
        page(kpd, 0)[((vlo >> 21) & 511) + k] = (kpt0 + k * 4096) | PTE_P | PTE_W;
    for (UINT64 va = vlo; va < vhi; va += 4096) {
        UINT64 k = (va >> 21) - (vlo >> 21);
        page(kpt0, k)[(va >> 12) & 511] = (b->h->kernel_phys + (va - vlo)) | PTE_P | PTE_W;
    }
    b->pml4 = pml4;
    b->h->boot_pt_phys = base;
    b->h->boot_pt_pages = total;
    b->h->identity_top = top;
    return EFI_SUCCESS;
}

static void __attribute__((noreturn)) halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void exit_failed(void *ctx, const char *what, EFI_STATUS st)
{
    loader_fatal(((struct boot *)ctx)->h, "cannot exit boot services", what, st);
}

EFI_STATUS exit_and_jump(struct boot *b)
{
    struct exit_ctx x = {BS,          b->image,         b->pmm,      0, &b->final,
                         &b->scratch, &b->scratch_size, exit_failed, b};
    EFI_STATUS st = exit_boot_services(&x);
    if (EFI_ERROR(st))
        return st; /* ExitBootServices never called: boot services are intact */

    struct pmm_handoff *h = b->h;
    h->tsc_exit = rdtsc();
    struct pmm_map m = {b->final.buf, b->final.size, b->final.desc_size};
    struct pmm_map_error err = {0, 0};
    int rc = pmm_reconcile(b->pmm, &m, b->scratch, b->scratch_size, b->reconcile_flags, &err);
    if (rc)
        loader_fatal(h, "cannot reconcile the allocator with the final memory map",
                     err.why ? err.why : pmm_strerror(rc), 0);
    h->memmap_buf_pages = (b->final.cap + 4095) / 4096;
    h->scratch_phys = (UINT64)(UINTN)b->scratch;
    h->scratch_pages = (b->scratch_size + 4095) / 4096;
    if (keep_config_tables(b->pmm, h, b->cfg, b->ncfg, 0))
        serial_puts("loader: kept[] is full: some configuration tables in boot-services memory "
                    "are not kept\r\n");
    h->memmap_phys = (UINT64)(UINTN)b->final.buf;
    h->memmap_size = b->final.size;
    h->memmap_desc_size = b->final.desc_size;
    h->memmap_desc_version = b->final.desc_version;
    h->memmap_checksum = pmm_fnv1a(b->final.buf, b->final.size, PMM_FNV_INIT);
    h->checksum = pmm_handoff_checksum(h);

    UINT64 stack_top = h->stack_phys + h->stack_pages * 4096;
    __asm__ volatile("cli\n\t"
                     "mov %0, %%cr3\n\t"
                     "mov %1, %%rsp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "jmp *%2"
                     :
                     : "r"(b->pml4), "r"(stack_top), "r"(b->elf.entry), "D"(h->self_phys)
                     : "memory");
    halt();
}
