/*
 * boot.c - from a built allocator and a kernel file to the kernel: check the image, allocate its
 * memory from the allocator, fill the handoff block, build the transition tables, exit boot
 * services and jump (transition.c). Shared by the loader and the shell's `pmm boot`.
 */
#include "loader.h"

#define STACK_PAGES 16

static UINT64 pages_for(UINT64 bytes)
{
    return (bytes + 4095) / 4096;
}

/* Top of what the kernel must reach through the identity map: RAM, the framebuffer, 4 GiB. */
static UINT64 identity_top(struct pmm *p, const struct pmm_handoff *h)
{
    UINT64 top = 4ull << 30, n;
    const struct pmm_range *r = pmm_ranges(p, &n);
    for (UINT64 i = 0; i < n; i++) {
        UINT64 end = (r[i].start + r[i].npages) << 12;
        if (r[i].kind != PMM_KIND_NEVER && end > top)
            top = end;
    }
    if (h->fb_base + h->fb_size > top)
        top = h->fb_base + h->fb_size;
    return top;
}

static UINT64 read_cr0(void)
{
    UINT64 v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static UINT64 read_cr4(void)
{
    UINT64 v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static UINT64 read_efer(void)
{
    UINT32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
    return ((UINT64)hi << 32) | lo;
}

/* A signed build carries 64 lower-case hex digits where unsigned builds have the placeholder. */
static int digest_set(void)
{
    for (int i = 0; i < 64; i++) {
        char c = pmm_kernel_sha256[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

/*
 * 1 if the firmware enforces Secure Boot. A variable that cannot be read for any reason but its
 * absence counts as on: the check exists to fail closed.
 */
static int secure_boot_on(void)
{
    UINT8 v = 0;
    UINTN n = sizeof v;
    UINT32 attr;
    EFI_STATUS st =
        uefi_call_wrapper(RT->GetVariable, 5, L"SecureBoot", &EfiGlobalVariable, &attr, &n, &v);
    if (st == EFI_NOT_FOUND)
        return 0;
    return EFI_ERROR(st) || v != 0;
}

struct held {
    UINT64 phys, pages;
};

static EFI_STATUS give_back(struct pmm *p, struct held *h, int n, EFI_STATUS st)
{
    while (n-- > 0)
        pmm_free_run(p, h[n].phys, h[n].pages);
    return st;
}

EFI_STATUS boot_kernel(EFI_HANDLE image, struct pmm *p, const void *file, UINT64 fsize,
                       unsigned reconcile_flags)
{
    struct boot b = {0};
    b.image = image;
    b.pmm = p;
    b.reconcile_flags = reconcile_flags;
    if (digest_set()) {
        uint8_t d[32];
        char hex[65];
        sha256(file, fsize, d);
        sha256_hex(d, hex);
        if (CompareMem(hex, pmm_kernel_sha256, 64)) {
            Print(L"loader: kernel rejected: its SHA-256 %a is not the %a this signed loader "
                  L"was built for\n",
                  hex, pmm_kernel_sha256);
            return EFI_SECURITY_VIOLATION;
        }
        Print(L"loader: kernel SHA-256 matches the digest in this signed loader\n");
    } else if (secure_boot_on()) {
        /* Signed by some other pipeline (plain sbsign, a signing service): the firmware vouched
         * for this loader, and the loader could vouch for no kernel. */
        Print(
            L"loader: Secure Boot is on, but this loader carries no kernel digest, so it cannot "
            L"check the kernel, and will not boot. Sign it with tools/sign.sh (make usb SIGN_KEY= "
            L"SIGN_CERT=), which writes the kernel's SHA-256 into the loader before signing\n");
        return EFI_SECURITY_VIOLATION;
    }
    const char *why = elf_check(file, fsize, &b.elf);
    if (!why)
        why = kernel_addresses_check(&b.elf);
    if (why) {
        Print(L"loader: kernel rejected: %a\n", why);
        return EFI_LOAD_ERROR;
    }
    /* What was allocated before this boot path (the shell's `pmm alloc`) is handed over too. */
    struct pmm_handoff_kept early[PMM_HANDOFF_MAX_KEPT / 2];
    UINT32 nearly = 0;
    UINT64 start, n;
    for (UINT64 pfn = 0; pmm_next_alloc_range(p, pfn, &start, &n); pfn = start + n) {
        if (nearly == PMM_HANDOFF_MAX_KEPT / 2) {
            Print(L"loader: more than %d separate allocations made before boot; free some\n",
                  PMM_HANDOFF_MAX_KEPT / 2);
            return EFI_OUT_OF_RESOURCES;
        }
        early[nearly++] = (struct pmm_handoff_kept){start << 12, n << 12, {0}, PMM_KEPT_EARLIER, 0};
    }
    _Static_assert(sizeof(struct cfg_entry) == sizeof(EFI_CONFIGURATION_TABLE),
                   "struct cfg_entry is EFI_CONFIGURATION_TABLE");
    b.cfg = (const struct cfg_entry *)ST->ConfigurationTable;
    b.ncfg = ST->NumberOfTableEntries;
    why = paging_mode_check(read_cr0(), read_cr4(), read_efer());
    if (why) {
        Print(L"loader: cannot start the kernel: %a\n", why);
        return EFI_UNSUPPORTED;
    }
    Print(L"loader: 4-level paging (CR4.LA57 clear)\n");
    UINTN size = 0, key, dsize = 0; /* only the sizes: the final map is taken at exit */
    UINT32 dver;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &size, NULL, &key, &dsize, &dver);
    if (dsize < 40)
        return EFI_DEVICE_ERROR;
    UINT64 fcap = pages_for(size + 128 * dsize) * 4096; /* exit.c grows it if need be */
    struct pmm_map fmap = {NULL, fcap - fcap % dsize, dsize};
    UINT64 xsize = pmm_map_scratch_size(&fmap);

    /* kernel image, stack, handoff block, final-map buffer, reconcile scratch */
    struct held h[5] = {{0, (b.elf.vhi - b.elf.vlo) / 4096},
                        {0, STACK_PAGES},
                        {0, 1},
                        {0, pages_for(fcap)},
                        {0, pages_for(xsize)}};
    const UINT64 align[5] = {2ull << 20, 4096, 4096, 4096, 4096};
    for (int i = 0; i < 5; i++) {
        int rc = pmm_alloc_run(p, h[i].pages, align[i], 0, &h[i].phys);
        if (rc) {
            Print(L"loader: out of memory for the kernel: %a\n", pmm_strerror(rc));
            return give_back(p, h, i, EFI_OUT_OF_RESOURCES);
        }
    }
    elf_load(file, &b.elf, (void *)(UINTN)h[0].phys);

    struct pmm_handoff *ho = (struct pmm_handoff *)(UINTN)h[2].phys;
    SetMem(ho, 4096, 0);
    ho->magic = PMM_HANDOFF_MAGIC;
    ho->version = PMM_HANDOFF_VERSION;
    ho->size = sizeof *ho;
    ho->self_phys = h[2].phys;
    ho->pmm_state_phys = pmm_state_phys(p);
    ho->pmm_virt_offset = 0;
    ho->kernel_phys = h[0].phys;
    ho->kernel_pages = h[0].pages;
    ho->kernel_virt = b.elf.vlo;
    ho->stack_phys = h[1].phys;
    ho->stack_pages = STACK_PAGES;
    fw_graphics(ho);
    ho->acpi_rsdp = fw_rsdp();
    ho->efi_system_table = (UINT64)(UINTN)ST;
    ho->tsc_efi_main = boot_tsc_start;
    ho->flags = reconcile_flags & PMM_HOLD_BOOT_MEMORY ? PMM_HANDOFF_BOOT_HELD : 0;
    for (UINT32 i = 0; i < nearly; i++)
        ho->kept[ho->nkept++] = early[i];
    /* The CPUs the allocator was built for: index i is CPU i's cache. */
    const struct cpu_list *cl = &boot_cpus.list;
    ho->ncpus = cl->n;
    ho->cpus_found = cl->found;
    ho->bsp = cl->bsp;
    ho->cpu_source = cl->source;
    CopyMem(ho->cpu_apic_id, (void *)cl->apic_id, cl->n * sizeof cl->apic_id[0]);
    cpus_print(&boot_cpus);
    b.h = ho;
    b.final.buf = (void *)(UINTN)h[3].phys;
    b.final.cap = fcap;
    b.final.desc_size = dsize;
    b.scratch = (void *)(UINTN)h[4].phys;
    b.scratch_size = xsize;
    EFI_STATUS st = transition_tables(&b, identity_top(p, ho));
    if (EFI_ERROR(st))
        return give_back(p, h, 5, st);

    Print(L"loader: kernel at 0x%lx (%ld pages), entry 0x%lx; exiting boot services\n", h[0].phys,
          h[0].pages, b.elf.entry);
    st = exit_and_jump(&b);
    /* Back here only if ExitBootServices was never called (GetMemoryMap failed, or the map
     * outgrew every buffer we could get): boot services are intact, so say so and give back. The
     * map buffer and scratch may have been replaced by larger ones. */
    h[3] = (struct held){(UINT64)(UINTN)b.final.buf, pages_for(b.final.cap)};
    h[4] = (struct held){(UINT64)(UINTN)b.scratch, pages_for(b.scratch_size)};
    pmm_free_run(p, ho->boot_pt_phys, ho->boot_pt_pages);
    Print(L"loader: cannot take the final memory map: %r\n", st);
    return give_back(p, h, 5, st);
}
