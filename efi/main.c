/*
 * main.c - the uefi-pmm loader (\EFI\BOOT\BOOTX64.EFI).
 *
 *   GetMemoryMap -> pmm_build (metadata claimed as EfiLoaderData) -> read and check the kernel ->
 *   allocate its image, stack, handoff block, final-map buffer and page tables from the allocator
 *   -> ExitBootServices -> pmm_reconcile -> jump (transition.c).
 *
 * Any failure before ExitBootServices prints what went wrong, gives back what the allocator
 * claimed, and returns an error status to the firmware.
 */
#include "loader.h"

#define STACK_PAGES 16

static EFI_STATUS fail(struct pmm *p, EFI_STATUS st)
{
    if (p) {
        /* Give back every claim: the pages we allocated, then the metadata itself. */
        struct pmm_stats s;
        pmm_stats(p, &s);
        for (uint64_t pfn = 1; pfn < s.span; pfn++)
            if (pmm_page_state(p, pfn) == PMM_PAGE_ALLOC)
                pmm_free(p, pfn << 12);
        uefi_call_wrapper(BS->FreePages, 2, s.meta_phys, s.meta);
    }
    return st;
}

static UINT64 pages_for(UINT64 bytes)
{
    return (bytes + 4095) / 4096;
}

/* Top of what the kernel must reach through the identity map: RAM, the framebuffer, 4 GiB. */
static UINT64 identity_top(const struct fwmap *m, const struct pmm_handoff *h)
{
    UINT64 top = 4ull << 30;
    for (UINTN off = 0; off + m->desc_size <= m->size; off += m->desc_size) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)m->buf + off);
        UINT64 end = d->PhysicalStart + d->NumberOfPages * 4096;
        if (pmm_classify(d->Type, d->Attribute) != PMM_KIND_NEVER && end > top)
            top = end;
    }
    if (h->fb_base + h->fb_size > top)
        top = h->fb_base + h->fb_size;
    return top;
}

#ifdef PMM_DEBUG_WAIT
/* `make debug`: spin here until GDB, having loaded our symbols at the printed base, clears it. */
volatile int pmm_debug_wait = 1;
#endif

/* Called by gnu-efi's crt0 with the System V convention, after self-relocation. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    UINT64 t0 = rdtsc();
    InitializeLib(image, systab);
    fw_disable_watchdog();
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    Print(L"loader: uefi-pmm, image base 0x%lx\n", li ? (UINT64)(UINTN)li->ImageBase : 0);
#ifdef PMM_DEBUG_WAIT
    Print(L"loader: waiting for the debugger (tools/debug.sh)\n");
    while (pmm_debug_wait)
        __asm__ volatile("pause");
#endif

    struct fwmap m;
    EFI_STATUS st = fw_get_map(&m);
    if (EFI_ERROR(st)) {
        Print(L"loader: GetMemoryMap failed: %r\n", st);
        return st;
    }
    struct pmm_build pb = {0};
    pb.map = (struct pmm_map){m.buf, m.size, m.desc_size};
    pb.scratch_size = pmm_map_scratch_size(&pb.map);
    pb.fw = fw_hooks;
    pb.extra_descriptors = 256;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, pb.scratch_size, &pb.scratch);
    if (EFI_ERROR(st))
        return st;
    struct pmm *p = NULL;
    struct pmm_map_error err = {0, 0};
    int rc = pmm_build(&pb, &p, &err);
    if (rc) {
        Print(L"loader: cannot build the allocator: %a", pmm_strerror(rc));
        if (err.why)
            Print(L": %a (descriptor %ld)", err.why, err.index);
        Print(L"\n");
        return EFI_LOAD_ERROR;
    }
    char line[200];
    pmm_summary(p, line, sizeof line);
    Print(L"loader: %d descriptors of %d bytes; %a\n", m.size / m.desc_size, m.desc_size, line);

    void *file;
    UINT64 fsize;
    st = kernel_read(image, &file, &fsize);
    if (EFI_ERROR(st))
        return fail(p, st);
    struct boot b = {0};
    b.image = image;
    b.pmm = p;
    const char *why = elf_check(file, fsize, &b.elf);
    if (why) {
        Print(L"loader: kernel rejected: %a\n", why);
        return fail(p, EFI_LOAD_ERROR);
    }

    UINT64 kphys, sphys, hphys, fphys, xphys;
    UINT64 kpages = (b.elf.vhi - b.elf.vlo) / 4096;
    UINT64 fcap = m.cap + 64 * m.desc_size;
    struct pmm_map fmap = {NULL, fcap - fcap % m.desc_size, m.desc_size};
    UINT64 xsize = pmm_map_scratch_size(&fmap);
    if ((rc = pmm_alloc_run(p, kpages, 2ull << 20, 0, &kphys)) ||
        (rc = pmm_alloc_run(p, STACK_PAGES, 4096, 0, &sphys)) || (rc = pmm_alloc(p, &hphys)) ||
        (rc = pmm_alloc_run(p, pages_for(fcap), 4096, 0, &fphys)) ||
        (rc = pmm_alloc_run(p, pages_for(xsize), 4096, 0, &xphys))) {
        Print(L"loader: out of memory for the kernel: %a\n", pmm_strerror(rc));
        return fail(p, EFI_OUT_OF_RESOURCES);
    }
    elf_load(file, &b.elf, (void *)(UINTN)kphys);
    FreePool(file);

    struct pmm_handoff *h = (struct pmm_handoff *)(UINTN)hphys;
    SetMem(h, 4096, 0);
    h->magic = PMM_HANDOFF_MAGIC;
    h->version = PMM_HANDOFF_VERSION;
    h->size = sizeof *h;
    h->self_phys = hphys;
    h->pmm_state_phys = pmm_state_phys(p);
    h->pmm_virt_offset = 0;
    h->kernel_phys = kphys;
    h->kernel_pages = kpages;
    h->kernel_virt = b.elf.vlo;
    h->stack_phys = sphys;
    h->stack_pages = STACK_PAGES;
    fw_graphics(h);
    h->acpi_rsdp = fw_rsdp();
    h->efi_system_table = (UINT64)(UINTN)systab;
    h->tsc_efi_main = t0;
    b.h = h;
    b.final.buf = (void *)(UINTN)fphys;
    b.final.cap = fmap.map_size;
    b.scratch = (void *)(UINTN)xphys;
    b.scratch_size = xsize;
    st = transition_tables(&b, identity_top(&m, h));
    if (EFI_ERROR(st))
        return fail(p, st);

    Print(L"loader: kernel at 0x%lx (%ld pages), entry 0x%lx; exiting boot services\n", kphys,
          kpages, b.elf.entry);
    st = exit_and_jump(&b);
    Print(L"loader: ExitBootServices failed: %r\n", st);
    return fail(p, st);
}
