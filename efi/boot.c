/*
 * boot.c - the Limine boot path: from a chosen entry and a built allocator to the kernel.
 *
 *   before ExitBootServices (any failure is reported and everything given back):
 *     the kernel file -> ELF check -> its image placed (KASLR slide for position-independent
 *     kernels), relocated -> its requests found -> modules read -> what only the firmware can
 *     tell (screen, clock, tables, randomness, TSC rate) gathered -> exit
 *   after, in handover.c (a failure is fatal, on the screen and COM1):
 *     reconcile (boot memory held) -> configuration tables kept -> stacks, page tables, the
 *     parking page and the response arena from the allocator -> page tables -> APs parked ->
 *     responses -> boot memory released (unless the kernel holds it) -> memory map -> the
 *     allocator checked against what is handed over -> machine state -> jump (stubs.S)
 *
 * Every page the kernel receives allocated is in `handed`, and at the end the allocator's
 * allocated pages must be exactly those: the live-allocator response (include/handoff.h) lists
 * them and the memory map calls them bootloader-reclaimable.
 */
#include "blake2b.h"
#include "boot.h"

UINT64 boot_tsc_start;
static struct boot state; /* static: the APs reach it through the loader's identity map */

void hand(struct boot *b, UINT64 phys, UINT64 pages, UINT32 kind)
{
    if (pages && b->nhanded < MAX_HANDED)
        b->handed[b->nhanded++] = (struct pmm_handed){phys, pages, kind, 0};
}

/* Give back what was allocated for this boot (before exit only). */
static EFI_STATUS give_back(struct boot *b, EFI_STATUS st)
{
    for (UINT32 i = b->nhanded; i-- > 0;)
        if (b->handed[i].kind != PMM_HANDED_EARLIER)
            pmm_free_run(b->pmm, b->handed[i].phys, b->handed[i].pages);
    b->nhanded = 0;
    return st;
}

/* A file named by the configuration: read into allocator pages, its hash checked. */
static EFI_STATUS read_checked(struct boot *b, const struct volume *vol, const char *path,
                               const uint8_t *hash, UINT64 *phys, UINT64 *pages, UINT64 *size)
{
    if (b->secure && !hash) {
        Print(L"loader: Secure Boot: %a has no #hash in limine.conf; every file must carry "
              L"one\n",
              path);
        return EFI_SECURITY_VIOLATION;
    }
    EFI_STATUS st = vol_read_pages(vol, b->pmm, path, phys, pages, size);
    if (EFI_ERROR(st))
        return st;
    const char *why = hash ? hash_check((void *)(UINTN)*phys, *size, hash) : 0;
    if (why) {
        if (b->secure || !b->c->conf || b->c->conf->hash_mismatch_panic) {
            Print(L"loader: %a rejected: %a\n", path, why);
            pmm_free_run(b->pmm, *phys, *pages);
            return EFI_SECURITY_VIOLATION;
        }
        Print(L"loader: warning: %a: %a (hash_mismatch_panic: no)\n", path, why);
    }
    return EFI_SUCCESS;
}

static EFI_STATUS volume_for(struct boot *b, UINT32 partition, const char *path, struct volume *v)
{
    EFI_STATUS st = vol_partition(&b->c->vol, partition, v);
    if (EFI_ERROR(st))
        Print(L"loader: boot(%d): no such partition on the boot disk, for %a (%r)\n", partition,
              path, st);
    return st;
}

/* Check the image and place it: the slide, the run it is loaded into, relocations. */
static EFI_STATUS place_kernel(struct boot *b)
{
    const char *why = elf_check((void *)(UINTN)b->kfile, b->kfile_size, &b->elf);
    if (why) {
        Print(L"loader: kernel rejected: %a%a%a\n", why, b->elf.bad_reloc ? ": " : "",
              b->elf.bad_reloc ? elf_reloc_name(b->elf.bad_reloc) : "");
        return EFI_LOAD_ERROR;
    }
    UINT64 size = b->elf.vhi - b->elf.vlo, align = b->elf.align > 2 * MIB ? b->elf.align : 2 * MIB;
    UINT64 random = 0;
    if (b->elf.pie && b->e->kaslr)
        fw_random(&random, 1);
    why = kernel_slide(&b->elf, b->e->kaslr, random, &b->slide);
    if (why) {
        Print(L"loader: kernel rejected: %a (linked at 0x%lx)\n", why, b->elf.vlo);
        return EFI_LOAD_ERROR;
    }
    b->kpages = size / PG;
    int rc = pmm_alloc_run(b->pmm, b->kpages, align, 0, &b->kphys);
    if (rc) {
        Print(L"loader: out of memory for the kernel image: %a\n", pmm_strerror(rc));
        return EFI_OUT_OF_RESOURCES;
    }
    hand(b, b->kphys, b->kpages, PMM_HANDED_EXECUTABLE);
    elf_load((void *)(UINTN)b->kfile, &b->elf, (void *)(UINTN)b->kphys);
    if (b->elf.pie)
        elf_relocate((void *)(UINTN)b->kfile, (void *)(UINTN)b->kphys, &b->elf, b->slide);
    b->entry = b->elf.entry + b->slide;
    Print(L"loader: kernel %a at 0x%lx (%ld pages), linked at 0x%lx%a, slide 0x%lx\n",
          b->e->kernel.path, b->kphys, b->kpages, b->elf.vlo,
          b->elf.pie ? (b->e->kaslr ? ", relocated with KASLR" : ", relocated") : "", b->slide);
    return EFI_SUCCESS;
}

/* Loaded-image pointer of a kernel virtual address (inside the image), or 0. */
static void *kptr(struct boot *b, UINT64 va, UINT64 n)
{
    UINT64 lo = b->elf.vlo + b->slide;
    if (va < lo || va - lo > b->kpages * PG || n > b->kpages * PG - (va - lo))
        return 0;
    return (void *)(UINTN)(b->kphys + (va - lo));
}

/* A NUL-terminated string in the kernel image at va, of at most 1023 characters; 0 if not. */
static const char *kstr(struct boot *b, UINT64 va)
{
    const char *s = kptr(b, va, 1);
    for (UINT64 i = 0; s && i < 1024 && kptr(b, va + i, 1); i++)
        if (!s[i])
            return s;
    return 0;
}

static EFI_STATUS find_requests(struct boot *b)
{
    int which;
    UINT64 vbase = b->elf.vlo + b->slide;
    UINT64 reqs = b->elf.reqs_size ? b->elf.reqs + b->slide : 0;
    const char *why = lreq_scan((void *)(UINTN)b->kphys, b->kpages * PG, vbase, reqs,
                                b->elf.reqs_size, &b->req, &which);
    if (why) {
        Print(L"loader: kernel rejected: %a%a%a\n", why, which >= 0 ? ": " : "",
              which >= 0 ? lreq_name(which) : "");
        return EFI_LOAD_ERROR;
    }
    UINT64 want = b->req.wanted_revision;
    b->revision = revision_used(want);
    Print(L"loader: base revision %ld%a", b->revision,
          want > MAX_REVISION ? " (the kernel asks for a later one; it is told so)" : "");
    Print(L"; requests:");
    for (int r = 0; r < LREQ_COUNT; r++)
        if (b->req.req[r])
            Print(L" %a;", lreq_name(r));
    Print(L"\n");
    if (b->req.nunknown)
        Print(L"loader: %d request(s) this loader does not know are left unanswered\n",
              b->req.nunknown);
    struct limine_entry_point_request *ep = b->req.req[LREQ_ENTRY_POINT];
    if (ep) {
        UINT64 e = (UINT64)(UINTN)ep->entry;
        int ok = 0;
        for (UINT32 i = 0; i < b->elf.nload; i++) {
            const struct elf_load *l = &b->elf.load[i];
            ok |= (l->flags & 1) && e >= l->vaddr + b->slide && e < l->vaddr + l->memsz + b->slide;
        }
        if (!ok) {
            Print(L"loader: kernel rejected: the Entry Point request's entry 0x%lx is not in an "
                  L"executable segment\n",
                  e);
            return EFI_LOAD_ERROR;
        }
        b->entry = e;
    }
    struct limine_stack_size_request *ss = b->req.req[LREQ_STACK_SIZE];
    b->stack_size =
        ss && ss->stack_size > MIN_STACK ? (ss->stack_size + PG - 1) & ~(PG - 1) : MIN_STACK;
    if (b->stack_size > 256 * MIB) {
        Print(L"loader: kernel rejected: it asks for a stack of %ld bytes\n", ss->stack_size);
        return EFI_LOAD_ERROR;
    }
    struct pmm_request *pr = b->req.req[LREQ_PMM];
    b->pmm_flags = pr ? (UINT32)pr->flags : 0;
    return EFI_SUCCESS;
}

static UINT64 read_cr(int n)
{
    UINT64 v;
    if (n == 0)
        __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    else
        __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* The paging mode: what the kernel and limine.conf allow, among the modes the CPU has. The
 * firmware's mode only decides whether the last instructions switch (stubs.S, enter). */
static EFI_STATUS paging_mode(struct boot *b)
{
    UINT64 cr4 = read_cr(4), mode;
    int fw5 = (cr4 & CR4_LA57) != 0, cpu5 = fw5 || cpu_has_la57();
    const char *why = long_mode_check(read_cr(0), cr4, rdmsr(0xc0000080u));
    struct limine_paging_mode_request *pm = b->req.req[LREQ_PAGING_MODE];
    int rev1 = pm && pm->revision >= 1;
    if (!why)
        why = paging_choice(pm != 0, pm ? pm->mode : 0, pm ? (rev1 ? pm->max_mode : pm->mode) : 0,
                            rev1 ? pm->min_mode : LIMINE_PAGING_MODE_X86_64_MIN, b->e->paging_mode,
                            b->e->max_paging_mode, b->e->min_paging_mode, cpu5, &mode);
    if (why) {
        Print(L"loader: kernel rejected: %a\n", why);
        return EFI_UNSUPPORTED;
    }
    b->levels = (unsigned)mode + 4;
    b->hhdm = b->levels == 5 ? HHDM_5LEVEL : HHDM_4LEVEL;
    Print(
        L"loader: %d-level paging for the kernel (the CPU %a LA57; the firmware runs %d-level%a), "
        L"HHDM at 0x%lx\n",
        b->levels, cpu5 ? "has" : "has no", fw5 ? 5 : 4,
        (unsigned)fw5 + 4 != b->levels ? ", switched at the jump" : "", b->hhdm);
    return EFI_SUCCESS;
}

/* Config modules, then the kernel's internal ones (paths relative to the kernel's directory). */
static EFI_STATUS read_modules(struct boot *b)
{
    struct limine_module_request *mr = b->req.req[LREQ_MODULE];
    if (!mr)
        return EFI_SUCCESS; /* no request: modules named in limine.conf are not loaded */
    for (UINT32 i = 0; i < b->e->nmodules; i++) {
        const struct lconf_module *cm = &b->e->modules[i];
        struct module *m = &b->mods[b->nmods];
        EFI_STATUS st = volume_for(b, cm->file.partition, cm->file.path, &m->vol);
        if (!EFI_ERROR(st))
            st = read_checked(b, &m->vol, cm->file.path, cm->file.has_hash ? cm->file.hash : 0,
                              &m->phys, &m->pages, &m->size);
        if (EFI_ERROR(st)) {
            Print(L"loader: module %a (limine.conf line %d) cannot be loaded\n", cm->file.path,
                  cm->file.line);
            return st;
        }
        m->path = cm->file.path;
        m->cmdline = cm->cmdline;
        hand(b, m->phys, m->pages, PMM_HANDED_MODULE);
        b->nmods++;
    }
    if (mr->revision < 1 || !mr->internal_module_count)
        return EFI_SUCCESS;
    if (mr->internal_module_count > MAX_MODULES - b->nmods) {
        Print(L"loader: kernel rejected: %ld internal modules, more than %d\n",
              mr->internal_module_count, MAX_MODULES - b->nmods);
        return EFI_LOAD_ERROR;
    }
    UINT64 *list = kptr(b, (UINT64)(UINTN)mr->internal_modules, mr->internal_module_count * 8);
    if (!list) {
        Print(L"loader: kernel rejected: its internal module list is not in its image\n");
        return EFI_LOAD_ERROR;
    }
    const char *kp = b->e->kernel.path;
    UINTN dirlen = 0;
    for (UINTN i = 0; kp[i]; i++)
        if (kp[i] == '/')
            dirlen = i + 1;
    for (UINT64 i = 0; i < mr->internal_module_count; i++) {
        struct limine_internal_module *im = kptr(b, list[i], sizeof *im);
        const char *rel = im ? kstr(b, (UINT64)(UINTN)im->path) : 0;
        const char *str = im ? kstr(b, (UINT64)(UINTN)im->string) : 0;
        if (!rel || !str) {
            Print(L"loader: kernel rejected: internal module %ld is not a valid structure\n", i);
            return EFI_LOAD_ERROR;
        }
        if (im->flags & LIMINE_INTERNAL_MODULE_COMPRESSED) {
            Print(L"loader: kernel rejected: internal module %a is compressed; this loader does "
                  L"not decompress\n",
                  rel);
            return EFI_LOAD_ERROR;
        }
        /* "<dir of the kernel>/<rel>", and a "#hash" suffix split off */
        UINTN rl = 0, hashat = 0;
        while (rel[rl])
            rl++;
        for (UINTN k = 0; k < rl; k++)
            if (rel[k] == '#')
                hashat = k;
        UINTN plen = hashat ? hashat : rl;
        char *path = AllocatePool(dirlen + plen + 2);
        uint8_t *hash = 0;
        if (!path)
            return EFI_OUT_OF_RESOURCES;
        CopyMem(path, (void *)kp, dirlen);
        CopyMem(path + dirlen, (void *)rel, plen);
        path[dirlen + plen] = 0;
        if (hashat) {
            hash = AllocatePool(64);
            int ok = hash && rl - hashat - 1 == 128;
            for (int k = 0; ok && k < 128; k++) {
                char ch = rel[hashat + 1 + k];
                int v = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
                ok = v >= 0;
                hash[k / 2] = (uint8_t)(k & 1 ? hash[k / 2] | v : v << 4);
            }
            if (!ok) {
                Print(L"loader: kernel rejected: internal module %a: the hash after '#' is not "
                      L"128 hex digits\n",
                      rel);
                return EFI_LOAD_ERROR;
            }
        }
        struct module *m = &b->mods[b->nmods];
        m->vol = b->c->vol; /* the kernel's own volume */
        EFI_FILE_HANDLE probe;
        CHAR16 p16[512];
        UINTN k = 0;
        for (; path[k] && k < 511; k++)
            p16[k] = path[k] == '/' ? L'\\' : (CHAR16)path[k];
        p16[k] = 0;
        if (EFI_ERROR(uefi_call_wrapper(m->vol.root->Open, 5, m->vol.root, &probe, p16,
                                        EFI_FILE_MODE_READ, 0))) {
            if (im->flags & LIMINE_INTERNAL_MODULE_REQUIRED) {
                Print(L"loader: the kernel requires internal module %a, which is not there\n",
                      path);
                return EFI_NOT_FOUND;
            }
            Print(L"loader: internal module %a not found; it was optional\n", path);
            continue;
        }
        uefi_call_wrapper(probe->Close, 1, probe);
        EFI_STATUS st = read_checked(b, &m->vol, path, hash, &m->phys, &m->pages, &m->size);
        if (EFI_ERROR(st))
            return st;
        /* Internal modules come before the configuration's: move them up front. */
        struct module t = *m;
        for (UINT32 j = b->nmods; j > i; j--)
            b->mods[j] = b->mods[j - 1];
        t.path = path;
        t.cmdline = str;
        b->mods[i] = t;
        hand(b, t.phys, t.pages, PMM_HANDED_MODULE);
        b->nmods++;
    }
    return EFI_SUCCESS;
}

static const EFI_GUID smbios2_guid = SMBIOS_TABLE_GUID;
static const EFI_GUID smbios3_guid = SMBIOS3_TABLE_GUID;

/* A table's signature and length, to find the MADT, DMAR and IVRS through the RSDP. */
static const UINT8 *acpi_table(UINT64 rsdp, const char *sig, UINT32 *len)
{
    if (!rsdp)
        return 0;
    const UINT8 *r = (const UINT8 *)(UINTN)rsdp;
    int x = r[15] >= 2;
    UINT64 sdt = x ? *(const UINT64 *)(r + 24) : *(const UINT32 *)(r + 16);
    if (!sdt)
        return 0;
    const UINT8 *t = (const UINT8 *)(UINTN)sdt;
    UINT32 tl = *(const UINT32 *)(t + 4), es = x ? 8 : 4;
    if (tl < 36 || tl > (1u << 20))
        return 0;
    for (UINT32 at = 36; at + es <= tl; at += es) {
        UINT64 a = x ? *(const UINT64 *)(t + at) : *(const UINT32 *)(t + at);
        const UINT8 *h = (const UINT8 *)(UINTN)a;
        if (a && h[0] == sig[0] && h[1] == sig[1] && h[2] == sig[2] && h[3] == sig[3]) {
            *len = *(const UINT32 *)(h + 4);
            return *len >= 36 && *len <= (1u << 20) ? h : 0;
        }
    }
    return 0;
}

/* What only the firmware can say, read while boot services are alive. */
static void gather(struct boot *b)
{
    b->have_fb = fw_framebuffer(&b->fb, b->e->res_width, b->e->res_height, b->e->res_bpp);
    if (b->have_fb && b->fb.edid_size) {
        b->edid = AllocatePool(b->fb.edid_size);
        if (b->edid)
            CopyMem(b->edid, (void *)b->fb.edid, b->fb.edid_size);
    }
    fatal_screen(b->have_fb ? &b->fb : 0);
    b->rsdp = fw_rsdp();
    b->smbios32 = fw_config_table(&smbios2_guid);
    b->smbios64 = fw_config_table(&smbios3_guid);
    b->date = fw_unix_time();
    b->tsc_hz = fw_tsc_hz();
    struct limine_entropy_request *er = b->req.req[LREQ_ENTROPY];
    if (er) {
        b->nentropy = er->value_count < MAX_ENTROPY ? er->value_count : MAX_ENTROPY;
        b->entropy = AllocatePool((b->nentropy ? b->nentropy : 1) * 8);
        if (b->entropy)
            Print(L"loader: %ld random values from %a\n", b->nentropy,
                  fw_random(b->entropy, b->nentropy));
    }
    /* x2APIC when the kernel asks, and also when xAPIC would not do: the firmware left the BSP
     * in x2APIC mode (a CPU may have xAPIC locked out) or an APIC ID is above 254, which the xAPIC
     * ICR cannot address (efi/limine/mp.c) */
    struct limine_mp_request *mp = b->req.req[LREQ_MP];
    int x2 = (mp && (mp->flags & LIMINE_MP_REQUEST_X86_64_X2APIC)) || machine_x2apic();
    for (UINT32 i = 0; i < boot_cpus.list.n; i++)
        x2 |= boot_cpus.list.apic_id[i] > 0xfe;
    machine_init(&b->m, b->revision, b->levels, x2);
    b->m.madt = acpi_table(b->rsdp, "APIC", &b->m.madt_len);
    b->m.dmar = acpi_table(b->rsdp, "DMAR", &b->m.dmar_len);
    b->m.ivrs = acpi_table(b->rsdp, "IVRS", &b->m.ivrs_len);
    uint32_t r[4];
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        b->huge1g = (r[3] >> 26) & 1;
    }
    b->cfg = (const struct cfg_entry *)ST->ConfigurationTable;
    b->ncfg = ST->NumberOfTableEntries;
    b->st = (UINT64)(UINTN)ST;
    b->rt = (UINT64)(UINTN)ST->RuntimeServices;
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, b->image, &LoadedImageProtocol, (void **)&li);
    if (li) {
        b->loader_lo = (UINT64)(UINTN)li->ImageBase & ~(2 * MIB - 1);
        b->loader_hi =
            ((UINT64)(UINTN)li->ImageBase + li->ImageSize + 2 * MIB - 1) & ~(2 * MIB - 1);
    }
}

static void fatal_exit(void *ctx, const char *what, EFI_STATUS st)
{
    (void)ctx;
    loader_fatal("cannot exit boot services", what, st);
}

EFI_STATUS limine_boot(EFI_HANDLE image, struct pmm *p, struct boot_choice *c)
{
    struct boot *b = &state;
    SetMem(b, sizeof *b, 0);
    b->image = image;
    b->pmm = p;
    b->c = c;
    b->e = &c->entry;
    b->secure = secure_boot_on();
    /* What was allocated before this boot path (the shell's `pmm alloc`) is handed over too. */
    UINT64 s, n;
    for (UINT64 pfn = 0; pmm_next_alloc_range(p, pfn, &s, &n); pfn = s + n) {
        if (b->nhanded == MAX_HANDED / 2) {
            Print(L"loader: more than %d separate allocations made before boot; free some\n",
                  MAX_HANDED / 2);
            return EFI_OUT_OF_RESOURCES;
        }
        hand(b, s << 12, n, PMM_HANDED_EARLIER);
    }
    struct volume kv;
    EFI_STATUS st = volume_for(b, b->e->kernel.partition, b->e->kernel.path, &kv);
    if (!EFI_ERROR(st))
        st = read_checked(b, &kv, b->e->kernel.path, b->e->kernel.has_hash ? b->e->kernel.hash : 0,
                          &b->kfile, &b->kfile_pages, &b->kfile_size);
    if (EFI_ERROR(st))
        return give_back(b, st);
    hand(b, b->kfile, b->kfile_pages, PMM_HANDED_EXECUTABLE);
    st = place_kernel(b);
    if (!EFI_ERROR(st))
        st = find_requests(b);
    if (!EFI_ERROR(st))
        st = paging_mode(b);
    if (!EFI_ERROR(st))
        st = read_modules(b);
    if (EFI_ERROR(st))
        return give_back(b, st);
    if (!b->req.req[LREQ_EXECUTABLE_FILE]) { /* the file is not asked for: not handed over */
        pmm_free_run(p, b->kfile, b->kfile_pages);
        for (UINT32 i = 0; i < b->nhanded; i++)
            if (b->handed[i].phys == b->kfile)
                b->handed[i] = b->handed[--b->nhanded];
    }
    gather(b);
    cpus_print(&boot_cpus);
    nodes_print(&boot_nodes);

    /* the final map's buffer and reconcile's scratch, from the allocator */
    UINTN size = 0, key, dsize = 0;
    UINT32 dver;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &size, NULL, &key, &dsize, &dver);
    if (dsize < 40)
        return give_back(b, EFI_DEVICE_ERROR);
    UINT64 fcap = ((size + 128 * dsize + PG - 1) / PG) * PG;
    struct pmm_map fmap = {NULL, fcap - fcap % dsize, dsize};
    b->scratch_size = pmm_map_scratch_size(&fmap);
    UINT64 fbuf, sbuf;
    if (pmm_alloc_run(p, fcap / PG, PG, 0, &fbuf))
        return give_back(b, EFI_OUT_OF_RESOURCES);
    if (pmm_alloc_run(p, (b->scratch_size + PG - 1) / PG, PG, 0, &sbuf)) {
        pmm_free_run(p, fbuf, fcap / PG);
        return give_back(b, EFI_OUT_OF_RESOURCES);
    }
    b->final = (struct fwmap){(void *)(UINTN)fbuf, 0, fcap, 0, dsize, 0};
    b->scratch = (void *)(UINTN)sbuf;
    Print(L"loader: entry 0x%lx; exiting boot services\n", b->entry);
    struct exit_ctx x = {BS, image, p, 0, &b->final, &b->scratch, &b->scratch_size, fatal_exit, b};
    st = exit_boot_services(&x);
    if (EFI_ERROR(st)) { /* ExitBootServices never called: everything can go back */
        pmm_free_run(p, (UINT64)(UINTN)b->final.buf, b->final.cap / PG);
        pmm_free_run(p, (UINT64)(UINTN)b->scratch, (b->scratch_size + PG - 1) / PG);
        Print(L"loader: cannot take the final memory map: %r\n", st);
        return give_back(b, st);
    }
    after_exit(b);
}
