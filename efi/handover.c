/*
 * handover.c - the Limine boot path after ExitBootServices: the allocator reconciled, the kernel's
 * page tables, stacks and responses from it, the APs parked, the memory map, the checks, the jump.
 *
 * Nothing here may call the firmware or gnu-efi's library (boot services are gone; a runtime call
 * would need SetVirtualAddressMap's rules): tests/static.sh checks this whole file. A failure is
 * fatal (loader_fatal: on the screen and COM1, then halt).
 */
#include "boot.h"
#include "fw5test.h"
#include "memmap.h"
#include "response.h"
#include "stubs.h"

/* Memory helpers of our own: after ExitBootServices nothing of gnu-efi's library may run. */
static void copy(void *d, const void *src, UINT64 n)
{
    UINT8 *dd = d;
    const UINT8 *ss = src;
    while (n--)
        *dd++ = *ss++;
}

static void zero(void *d, UINT64 n)
{
    UINT8 *dd = d;
    while (n--)
        *dd++ = 0;
}

/* Every allocation after exit: failure there is fatal. */
static UINT64 must_alloc(struct boot *b, UINT64 pages, UINT64 align, UINT64 limit, UINT32 kind,
                         const char *what)
{
    UINT64 phys;
    int rc = pmm_alloc_run(b->pmm, pages, align, limit, &phys);
    if (rc)
        loader_fatal(what, pmm_strerror(rc), 0);
    zero((void *)(UINTN)phys, pages * PG);
    if (kind)
        hand(b, phys, pages, kind);
    return phys;
}

static UINT64 pt_page(void *ctx)
{
    struct boot *b = ctx;
    if (b->ptpool_used == b->ptpool_pages)
        return 0;
    return b->ptpool + PG * b->ptpool_used++;
}

/* The response arena: bump allocation, 16-byte aligned, zeroed; returns the loader's pointer. */
static void *arena(struct boot *b, UINT64 bytes)
{
    bytes = (bytes + 15) & ~15ull;
    if (bytes > b->arena_pages * PG - b->arena_used)
        loader_fatal("the response area is too small", "a loader bug: its estimate was short", 0);
    void *p = (void *)(UINTN)(b->arena + b->arena_used);
    b->arena_used += bytes;
    return p;
}

/* The kernel's pointer for a loader pointer into memory the HHDM maps. */
static void *virt(struct boot *b, const void *p)
{
    return p ? (void *)((UINTN)p + b->hhdm) : 0;
}

static char *arena_str(struct boot *b, const char *s)
{
    UINTN n = 0;
    while (s && s[n])
        n++;
    char *d = arena(b, n + 1);
    copy(d, (void *)s, n);
    return d;
}

/* Bytes the responses may take (the memory map's entries counted by the caller). */
static UINT64 arena_estimate(struct boot *b, UINT64 memmap_entries, UINT32 ncpus)
{
    UINT64 n = 64 * 1024 + memmap_entries * 40 + (UINT64)ncpus * (64 + 16 + 24 + 24) +
               b->nmods * 2600 + (UINT64)b->fb.nmodes * 64 + b->fb.edid_size + b->nentropy * 8 +
               (GDT_FIXED + 2 * (UINT64)ncpus) * 8 + MAX_HANDED * 24 + MAX_KEPT * 40 + 4096 +
               response_machine_bytes(&boot_cpus.list, &boot_nodes.numa);
    return (n + PG - 1) / PG;
}

/* Which memory map types the HHDM covers at this base revision (beyond the first 4 GiB rule). */
static int hhdm_maps(UINT64 type, UINT64 rev)
{
    switch (type) {
    case LIMINE_MEMMAP_USABLE:
    case LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE:
    case LIMINE_MEMMAP_EXECUTABLE_AND_MODULES:
    case LIMINE_MEMMAP_FRAMEBUFFER:
        return 1;
    case LIMINE_MEMMAP_ACPI_RECLAIMABLE:
    case LIMINE_MEMMAP_ACPI_NVS:
    case LIMINE_MEMMAP_RESERVED_MAPPED:
        return rev >= 4 || rev <= 2;
    default: /* reserved, bad memory */
        return rev == 0;
    }
}

static void map_or_die(struct boot *b, UINT64 va, UINT64 pa, UINT64 len, unsigned f)
{
    if (pt_map(&b->pt, va, pa, len, f))
        loader_fatal("cannot build the kernel's page tables", "out of table pages", 0);
}

/* The extras of the memory map: the framebuffer and, per revision, tables kept mapped. */
static UINT32 extras(struct boot *b, struct lmm_extra *x)
{
    UINT32 n = 0;
    if (b->have_fb)
        x[n++] = (struct lmm_extra){b->fb.base, b->fb.size, LIMINE_MEMMAP_FRAMEBUFFER, 0};
    if (b->revision >= 5) {
        for (UINT32 i = 0; i < b->nkept && n < 48; i++)
            if (b->kept[i].kind >= PMM_KEPT_SMBIOS && b->kept[i].kind <= PMM_KEPT_SMBIOS_TABLE)
                x[n++] = (struct lmm_extra){b->kept[i].phys, b->kept[i].bytes,
                                            LIMINE_MEMMAP_RESERVED_MAPPED, 0};
        x[n++] =
            (struct lmm_extra){b->st, sizeof(EFI_SYSTEM_TABLE), LIMINE_MEMMAP_RESERVED_MAPPED, 0};
        x[n++] = (struct lmm_extra){b->rt, sizeof(EFI_RUNTIME_SERVICES),
                                    LIMINE_MEMMAP_RESERVED_MAPPED, 0};
        x[n++] = (struct lmm_extra){(UINT64)(UINTN)b->cfg, b->ncfg * sizeof(struct cfg_entry),
                                    LIMINE_MEMMAP_RESERVED_MAPPED, 0};
    }
    return n;
}

/* The kernel's page tables: HHDM per revision, the image by its segments' permissions, and the
 * identity map (revision 0) or a temporary one the last instructions drop. */
static void build_tables(struct boot *b, const struct limine_memmap_entry *mm, UINT64 nmm)
{
    b->pt = (struct pt){0,       b->levels, b->huge1g, (b->m.efer & (1ull << 11)) ? 1ull << 63 : 0,
                        pt_page, b,         0,         0};
    if (pt_init(&b->pt))
        loader_fatal("cannot build the kernel's page tables", "no table page", 0);
    unsigned rwx = PT_WRITE | PT_EXEC;
    if (b->revision <= 2) { /* the first 4 GiB whole; revision 0's identity map from 0x1000 */
        map_or_die(b, b->hhdm, 0, 4 * GIB, rwx);
        if (b->revision == 0)
            map_or_die(b, PG, PG, 4 * GIB - PG, rwx);
    }
    for (UINT64 i = 0; i < nmm; i++) {
        UINT64 lo = mm[i].base & ~(PG - 1), hi = (mm[i].base + mm[i].length + PG - 1) & ~(PG - 1);
        int fb = mm[i].type == LIMINE_MEMMAP_FRAMEBUFFER;
        if (b->revision <= 2 && !fb && lo < 4 * GIB)
            lo = 4 * GIB; /* below: mapped whole already */
        if (lo >= hi || !hhdm_maps(mm[i].type, b->revision))
            continue;
        unsigned f = fb ? rwx | PT_WC : rwx;
        map_or_die(b, b->hhdm + lo, lo, hi - lo, f);
        if (b->revision == 0 && lo)
            map_or_die(b, lo, lo, hi - lo, f);
    }
    /* the kernel image: each page with the union of the permissions of the segments on it */
    UINT64 vlo = b->elf.vlo + b->slide;
    for (UINT64 pg = 0; pg < b->kpages;) {
        unsigned f = 0;
        int used = 0;
        UINT64 va = vlo + pg * PG, run = 1;
        for (UINT32 i = 0; i < b->elf.nload; i++) {
            const struct elf_load *l = &b->elf.load[i];
            UINT64 s = (l->vaddr + b->slide) & ~(PG - 1), e = l->vaddr + b->slide + l->memsz;
            if (va >= s && va < e) {
                used = 1;
                f |= (l->flags & 2 ? PT_WRITE : 0) | (l->flags & 1 ? PT_EXEC : 0);
            }
        }
        if (used)
            map_or_die(b, va, b->kphys + pg * PG, run * PG, f);
        pg += run;
    }
    /* temporary: the loader and the pages below 4 GiB it runs the last steps and the APs from */
    if (b->revision >= 1) {
        map_or_die(b, 0, 0, 4 * GIB, rwx);
        if (b->loader_hi > 4 * GIB)
            map_or_die(b, b->loader_lo, b->loader_lo, b->loader_hi - b->loader_lo, rwx);
    }
}

static struct mp_setup mps;

/* ACPI processor UID of the CPU with this APIC ID, from the MADT; fallback if not listed. */
static UINT32 madt_uid(const struct machine *m, UINT32 apic, UINT32 fallback)
{
    for (UINT32 at = 44; m->madt && at + 2 <= m->madt_len;) {
        const UINT8 *e = m->madt + at;
        if (e[1] < 2 || at + e[1] > m->madt_len)
            break;
        if (e[0] == 0 && e[1] >= 8 && e[3] == apic)
            return e[2];
        if (e[0] == 9 && e[1] >= 16 && *(const UINT32 *)(e + 4) == apic)
            return *(const UINT32 *)(e + 12);
        at += e[1];
    }
    return fallback;
}

static void uuid_of(struct limine_uuid *u, const UINT8 *g)
{
    copy(u, (void *)g, 16); /* an EFI GUID is laid out as a limine_uuid */
}

static struct limine_file *file_response(struct boot *b, UINT64 phys, UINT64 size, const char *path,
                                         char *string, const struct volume *v)
{
    struct limine_file *f = arena(b, sizeof *f);
    f->address = (void *)(UINTN)(phys + b->hhdm);
    f->size = size;
    f->path = virt(b, arena_str(b, path));
    f->string = virt(b, string);
    f->media_type = LIMINE_MEDIA_TYPE_GENERIC;
    f->partition_index = v->partition;
    f->mbr_disk_id = v->mbr_id;
    uuid_of(&f->gpt_part_uuid, v->part_guid);
    uuid_of(&f->gpt_disk_uuid, v->disk_guid);
    return virt(b, f);
}

static void respond(struct boot *b, int r, void *resp)
{
    struct limine_request_header *h = b->req.req[r];
    if (h && resp)
        h->response = virt(b, resp);
}

static void framebuffer_response(struct boot *b)
{
    if (!b->have_fb)
        return;
    struct limine_framebuffer_response *r = arena(b, sizeof *r);
    struct limine_framebuffer *f = arena(b, sizeof *f);
    struct limine_framebuffer **list = arena(b, sizeof *list);
    static const UINT32 rgb[4] = {0xff, 0xff00, 0xff0000, 0}, bgr[4] = {0xff0000, 0xff00, 0xff, 0};
    const UINT32 *k = b->fb.format == PixelRedGreenBlueReserved8BitPerColor   ? rgb
                      : b->fb.format == PixelBlueGreenRedReserved8BitPerColor ? bgr
                                                                              : b->fb.masks;
    f->address = (void *)(UINTN)(b->fb.base + b->hhdm);
    f->width = b->fb.width;
    f->height = b->fb.height;
    f->pitch = (UINT64)b->fb.stride * 4;
    f->bpp = 32;
    f->memory_model = LIMINE_FRAMEBUFFER_RGB;
    for (int c = 0; c < 3; c++) {
        UINT32 m = k[c];
        UINT8 shift = 0, size = 0;
        while (m && !(m & 1))
            m >>= 1, shift++;
        while (m & 1)
            m >>= 1, size++;
        UINT8 *dst = &f->red_mask_size + 2 * c;
        dst[0] = size;
        dst[1] = shift;
    }
    if (b->edid) {
        void *e = arena(b, b->fb.edid_size);
        copy(e, b->edid, b->fb.edid_size);
        f->edid = virt(b, e);
        f->edid_size = b->fb.edid_size;
    }
    f->mode_count = b->fb.nmodes;
    struct limine_video_mode **modes = arena(b, b->fb.nmodes * sizeof *modes + 8);
    for (UINT32 i = 0; i < b->fb.nmodes; i++) {
        struct limine_video_mode *m = arena(b, sizeof *m);
        *m = b->fb.modes[i];
        modes[i] = virt(b, m);
    }
    f->modes = virt(b, modes);
    list[0] = virt(b, f);
    r->revision = 1;
    r->framebuffer_count = 1;
    r->framebuffers = virt(b, list);
    respond(b, LREQ_FRAMEBUFFER, r);
}

/* Everything but the memory map and the live allocator, which wait for the allocator's end state.
 */
static void responses(struct boot *b, struct limine_mp_info *info, UINT32 *in_mp)
{
    char *cmdline = arena_str(b, b->e->cmdline ? b->e->cmdline : "");
    if (b->req.req[LREQ_BOOTLOADER_INFO]) {
        struct limine_bootloader_info_response *r = arena(b, sizeof *r);
        r->name = virt(b, arena_str(b, LOADER_NAME));
        r->version = virt(b, arena_str(b, LOADER_VERSION));
        respond(b, LREQ_BOOTLOADER_INFO, r);
    }
    if (b->req.req[LREQ_EXECUTABLE_CMDLINE]) {
        struct limine_executable_cmdline_response *r = arena(b, sizeof *r);
        r->cmdline = virt(b, cmdline);
        respond(b, LREQ_EXECUTABLE_CMDLINE, r);
    }
    if (b->req.req[LREQ_FIRMWARE_TYPE]) {
        struct limine_firmware_type_response *r = arena(b, sizeof *r);
        r->firmware_type = LIMINE_FIRMWARE_TYPE_EFI64;
        respond(b, LREQ_FIRMWARE_TYPE, r);
    }
    respond(b, LREQ_STACK_SIZE, b->req.req[LREQ_STACK_SIZE] ? arena(b, 8) : 0);
    if (b->req.req[LREQ_HHDM]) {
        struct limine_hhdm_response *r = arena(b, sizeof *r);
        r->offset = b->hhdm;
        respond(b, LREQ_HHDM, r);
    }
    if (b->req.req[LREQ_FRAMEBUFFER])
        framebuffer_response(b);
    if (b->req.req[LREQ_PAGING_MODE]) {
        struct limine_paging_mode_response *r = arena(b, sizeof *r);
        r->mode = b->levels == 5 ? LIMINE_PAGING_MODE_X86_64_5LVL : LIMINE_PAGING_MODE_X86_64_4LVL;
        respond(b, LREQ_PAGING_MODE, r);
    }
    if (b->req.req[LREQ_MP]) {
        const struct cpu_list *l = &boot_cpus.list;
        struct limine_mp_response *r = arena(b, sizeof *r);
        struct limine_mp_info **list = arena(b, (UINT64)l->n * sizeof *list);
        for (UINT32 i = 0; i < l->n; i++)
            if (in_mp[i])
                list[r->cpu_count++] = virt(b, &info[i]);
        r->flags = machine_x2apic() ? LIMINE_MP_RESPONSE_X86_64_X2APIC : 0;
        r->bsp_lapic_id = l->apic_id[l->bsp];
        r->cpus = virt(b, list);
        respond(b, LREQ_MP, r);
    }
    respond(b, LREQ_ENTRY_POINT, b->req.req[LREQ_ENTRY_POINT] ? arena(b, 8) : 0);
    if (b->req.req[LREQ_EXECUTABLE_FILE]) {
        struct limine_executable_file_response *r = arena(b, sizeof *r);
        struct volume kv;
        if (EFI_ERROR(vol_partition(&b->c->vol, b->e->kernel.partition, &kv)))
            kv = b->c->vol;
        r->executable_file =
            file_response(b, b->kfile, b->kfile_size, b->e->kernel.path, cmdline, &kv);
        respond(b, LREQ_EXECUTABLE_FILE, r);
    }
    if (b->req.req[LREQ_MODULE] && b->nmods) {
        struct limine_module_response *r = arena(b, sizeof *r);
        struct limine_file **list = arena(b, b->nmods * sizeof *list);
        for (UINT32 i = 0; i < b->nmods; i++)
            list[i] = file_response(b, b->mods[i].phys, b->mods[i].size, b->mods[i].path,
                                    arena_str(b, b->mods[i].cmdline), &b->mods[i].vol);
        r->revision = 1;
        r->module_count = b->nmods;
        r->modules = virt(b, list);
        respond(b, LREQ_MODULE, r);
    }
    if (b->req.req[LREQ_RSDP] && b->rsdp) {
        struct limine_rsdp_response *r = arena(b, sizeof *r);
        r->address = b->revision == 3 ? b->rsdp : b->rsdp + b->hhdm;
        respond(b, LREQ_RSDP, r);
    }
    int phys34 = b->revision == 3 || b->revision == 4;
    if (b->req.req[LREQ_SMBIOS] && (b->smbios32 || b->smbios64)) {
        struct limine_smbios_response *r = arena(b, sizeof *r);
        r->entry_32 = b->smbios32 && !phys34 ? b->smbios32 + b->hhdm : b->smbios32;
        r->entry_64 = b->smbios64 && !phys34 ? b->smbios64 + b->hhdm : b->smbios64;
        respond(b, LREQ_SMBIOS, r);
    }
    if (b->req.req[LREQ_EFI_SYSTEM_TABLE]) {
        struct limine_efi_system_table_response *r = arena(b, sizeof *r);
        r->address = b->st + (phys34 ? 0 : b->hhdm);
        respond(b, LREQ_EFI_SYSTEM_TABLE, r);
    }
    if (b->req.req[LREQ_EFI_MEMMAP]) {
        struct limine_efi_memmap_response *r = arena(b, sizeof *r);
        r->memmap = (void *)((UINTN)b->final.buf + b->hhdm);
        r->memmap_size = b->final.size;
        r->desc_size = b->final.desc_size;
        r->desc_version = b->final.desc_version;
        respond(b, LREQ_EFI_MEMMAP, r);
    }
    if (b->req.req[LREQ_DATE_AT_BOOT]) {
        struct limine_date_at_boot_response *r = arena(b, sizeof *r);
        r->timestamp = b->date;
        respond(b, LREQ_DATE_AT_BOOT, r);
    }
    if (b->req.req[LREQ_EXECUTABLE_ADDRESS]) {
        struct limine_executable_address_response *r = arena(b, sizeof *r);
        r->physical_base = b->kphys;
        r->virtual_base = b->elf.vlo + b->slide;
#ifdef PMM_TEST_BAD_EXEC_ADDRESS /* tests/qemu/badresponse.sh: an address in the direct map */
        r->virtual_base = b->hhdm + 2 * MIB;
#endif
        respond(b, LREQ_EXECUTABLE_ADDRESS, r);
    }
    respond(b, LREQ_KEEP_IOMMU, b->req.req[LREQ_KEEP_IOMMU] ? arena(b, 8) : 0);
    if (b->req.req[LREQ_TSC_FREQUENCY] && b->tsc_hz) {
        struct limine_tsc_frequency_response *r = arena(b, sizeof *r);
        r->frequency = b->tsc_hz;
        respond(b, LREQ_TSC_FREQUENCY, r);
    }
    if (b->req.req[LREQ_ENTROPY] && b->entropy) {
        struct limine_entropy_response *r = arena(b, sizeof *r);
        UINT64 *v = arena(b, b->nentropy * 8 + 8);
        copy(v, b->entropy, b->nentropy * 8);
        r->value_count = b->nentropy;
        r->values = b->nentropy ? virt(b, v) : 0;
        respond(b, LREQ_ENTROPY, r);
    }
}

/* The response's CPU list and node table (response.c), in the response area. mp: the kernel
 * placed an MP request (whose response lists the CPUs with in_mp[i] set). */
static void machine_response(struct boot *b, struct pmm_response *pr,
                             const struct limine_mp_info *info, const UINT32 *in_mp, int mp,
                             struct pmm_response_arrays *sums)
{
    const struct cpu_list *l = &boot_cpus.list;
    const struct numa *nm = &boot_nodes.numa;
    struct response_arrays a = {arena(b, (UINT64)l->n * sizeof(struct pmm_cpu)),
                                arena(b, nm->nranges * sizeof(struct pmm_numa_range)),
                                arena(b, (UINT64)nm->nnodes * nm->nnodes),
                                arena(b, (UINT64)nm->nnodes * sizeof(UINT32)), b->hhdm};
    response_machine(pr, l, nm, &a, sums);
    for (UINT32 i = 0; i < l->n; i++) {
        a.cpus[i].processor_id = info[i].processor_id;
        a.cpus[i].flags = in_mp[i] && mp ? PMM_CPU_IN_MP : 0;
    }
}

/* Sort handed runs by address and merge overlapping ones (tables kept may share pages). */
static void normalize_handed(struct boot *b)
{
    for (UINT32 i = 1; i < b->nhanded; i++)
        for (UINT32 j = i; j > 0 && b->handed[j].phys < b->handed[j - 1].phys; j--) {
            struct pmm_handed t = b->handed[j];
            b->handed[j] = b->handed[j - 1];
            b->handed[j - 1] = t;
        }
    UINT32 m = 0;
    for (UINT32 i = 0; i < b->nhanded; i++) {
        struct pmm_handed *h = &b->handed[i], *last = m ? &b->handed[m - 1] : 0;
        if (last && h->phys < last->phys + last->pages * PG) {
            UINT64 end = h->phys + h->pages * PG, lend = last->phys + last->pages * PG;
            if (end > lend)
                last->pages = (end - last->phys) / PG;
            continue;
        }
        b->handed[m++] = *h;
    }
    b->nhanded = m;
}

/* The allocator's allocated pages must be exactly the handed runs: else a loader bug. */
static void check_handed(struct boot *b)
{
    UINT64 s, n, pfn = 0;
    UINT32 i = 0;
    UINT64 lo = 0, hi = 0; /* the handed union's current maximal run, pages */
    for (;;) {
        if (i < b->nhanded && hi == 0) {
            lo = b->handed[i].phys / PG, hi = lo + b->handed[i].pages;
            for (i++; i < b->nhanded && b->handed[i].phys / PG == hi; i++)
                hi += b->handed[i].pages;
        }
        int more = pmm_next_alloc_range(b->pmm, pfn, &s, &n);
        if (!more && !hi)
            return;
        if (!more || s != lo || s + n != hi) {
            char msg[80] = "allocated run at 0x";
            UINT64 at = more ? s << 12 : lo << 12;
            for (int k = 0; k < 16; k++)
                msg[19 + k] = "0123456789abcdef"[(at >> (60 - 4 * k)) & 15];
            msg[35] = 0;
            loader_fatal("the allocator's allocated pages differ from the list handed over", msg,
                         0);
        }
        pfn = s + n;
        hi = 0;
    }
}

void after_exit(struct boot *b)
{
    b->tsc_exit = rdtsc();
#ifdef PMM_TEST_FIRMWARE_5LEVEL /* tests/qemu/la57.sh: as if the firmware ran 5-level paging */
    fw5test_switch();
#endif
    struct pmm *p = b->pmm;
    struct pmm_map fm = {b->final.buf, b->final.size, b->final.desc_size};
    struct pmm_map_error err = {0, 0};
    /* Boot memory stays held while the loader runs from it (its code, stack and pool). */
    int rc = pmm_reconcile(p, &fm, b->scratch, b->scratch_size, PMM_HOLD_BOOT_MEMORY, &err);
    if (rc)
        loader_fatal("cannot reconcile the allocator with the final memory map",
                     err.why ? err.why : pmm_strerror(rc), 0);
    pmm_free_run(p, (UINT64)(UINTN)b->scratch, (b->scratch_size + PG - 1) / PG);
    hand(b, (UINT64)(UINTN)b->final.buf, (b->final.cap + PG - 1) / PG, PMM_HANDED_EFI_MEMMAP);
    struct kept_list kl = {b->kept, 0, MAX_KEPT};
    if (keep_config_tables(p, &kl, b->cfg, b->ncfg, 0))
        serial_puts("loader: too many configuration tables in boot-services memory to keep\r\n");
    b->nkept = kl.n;
    for (UINT32 i = 0; i < b->nkept; i++) {
        UINT64 first = b->kept[i].phys & ~(PG - 1);
        hand(b, first, (b->kept[i].phys + b->kept[i].bytes - first + PG - 1) / PG, PMM_HANDED_KEPT);
    }

    const struct cpu_list *l = &boot_cpus.list;
    int mp = b->req.req[LREQ_MP] != 0 && l->n > 1; /* APs to start */
    b->stack =
        must_alloc(b, b->stack_size / PG, PG, 0, PMM_HANDED_STACK, "no memory for the stack");
    b->park = must_alloc(b, 1, PG, 4 * GIB, PMM_HANDED_MP, "no page below 4 GiB to park the APs");
    if (mp) {
        b->apstacks = must_alloc(b, (l->n - 1) * (b->stack_size / PG), PG, 0, PMM_HANDED_MP,
                                 "no memory for the APs' stacks");
        b->tramp = must_alloc(b, 1, PG, MIB, 0, "no page below 1 MiB for the APs' start-up code");
    }
    /* the memory map's size now, for the page tables and the response area */
    struct lmm_extra x[64];
    struct lmm_input in = {p, b->handed, b->nhanded, x, extras(b, x), b->revision};
    normalize_handed(b);
    in.nhanded = b->nhanded;
    UINT64 entries = lmm_build(&in, 0, 0) + 64;
    b->ptpool_pages =
        64 + 16 * entries + (b->kpages + 511) / 512 * 2 + 4 * (b->levels == 5 ? 2 : 1);
    if (!b->huge1g)
        b->ptpool_pages += 8 * 1024; /* 2 MiB pages: one table per GiB, up to 8 TiB */
    b->ptpool =
        must_alloc(b, b->ptpool_pages, PG, 4 * GIB, 0, "no memory below 4 GiB for page tables");
    b->arena_pages = arena_estimate(b, entries + 16, l->n);
    b->arena =
        must_alloc(b, b->arena_pages, PG, 0, PMM_HANDED_RESPONSES, "no memory for the responses");
    UINT64 tmp_pages = (entries * sizeof(struct limine_memmap_entry) + PG - 1) / PG;
    UINT64 tmp = must_alloc(b, tmp_pages, PG, 0, 0, "no memory for the memory map");
    normalize_handed(b);
    in.handed = b->handed, in.nhanded = b->nhanded;
    struct limine_memmap_entry *mm = (void *)(UINTN)tmp;
    UINT64 nmm = lmm_build(&in, mm, entries);
    if (nmm == ~0ull)
        loader_fatal("the memory map has more entries than its buffer", "a loader bug", 0);
    build_tables(b, mm, nmm);
    pmm_free_run(p, tmp, tmp_pages);
    UINT64 apic = rdmsr(0x1b) & 0x000ffffffffff000ull;
    map_or_die(b, apic, apic, PG, PT_WRITE | PT_UC); /* the APs' own APIC, in the identity map */

    /* GDT: the seven descriptors the protocol names, then one TSS per CPU (revision 5) */
    UINT32 tss = b->revision >= 5;
    UINT64 ngdt = GDT_FIXED + (tss ? 2 * (UINT64)l->n : 0);
    UINT64 *gdt = arena(b, ngdt * 8);
    static const UINT64 fixed[GDT_FIXED] = {0,
                                            0x00009a000000ffffull,
                                            0x000092000000ffffull,
                                            0x00cf9a000000ffffull,
                                            0x00cf92000000ffffull,
                                            0x00af9a000000ffffull,
                                            0x00cf92000000ffffull};
    copy(gdt, (void *)fixed, sizeof fixed);
    for (UINT64 i = GDT_FIXED; i < ngdt; i += 2)
        gdt[i] = 0x0000890000000000ull, gdt[i + 1] = 0; /* available 64-bit TSS, base 0, limit 0 */
    UINT16 gdtr_limit = (UINT16)(ngdt * 8 - 1);
    UINT64 gdt_virt = (UINT64)(UINTN)gdt + b->hhdm;

    /* the APs, parked */
    struct limine_mp_info *info = arena(b, (UINT64)l->n * sizeof *info);
    UINT32 *in_mp = arena(b, (UINT64)l->n * 4);
    struct ap_ctx *ctx = arena(b, (UINT64)l->n * sizeof *ctx);
    void *slots = arena(b, mp_slots_size(l->n));
    for (UINT32 i = 0; i < l->n; i++) {
        info[i].lapic_id = l->apic_id[i];
        info[i].processor_id = madt_uid(&b->m, l->apic_id[i], i);
        UINT64 k = i < l->bsp ? i : i - 1; /* the BSP has no AP stack */
        ctx[i] = (struct ap_ctx){&mps,
                                 l->apic_id[i],
                                 info[i].processor_id,
                                 (UINT64)(UINTN)&info[i] + b->hhdm,
                                 0,
                                 tss ? 0x38 + 16ull * i : 0,
                                 0,
                                 0};
        if (mp && i != l->bsp) {
            ctx[i].stack = b->apstacks + (k + 1) * b->stack_size + b->hhdm;
            info[i].reserved = ctx[i].stack;
        }
    }
    in_mp[l->bsp] = 1;
    const char *park_code = park_start;
    copy((void *)(UINTN)b->park, (void *)park_code, park_end - park_start);
    UINT64 enter_at = (((UINT64)(park_end - park_start)) + 63) & ~63ull;
    copy((void *)(UINTN)(b->park + enter_at), (void *)enter_start, enter_end - enter_start);
    machine_cpu(&b->m, 1, info[l->bsp].processor_id);
    UINT32 iommus = machine_platform(&b->m, b->req.req[LREQ_KEEP_IOMMU] != 0);
    if (mp) {
        mps = (struct mp_setup){&b->m,    b->tsc_hz, b->hhdm, b->pt.root, {0, 0}, b->park + b->hhdm,
                                b->tramp, l->n,      l->bsp,  ctx,        0};
        ((UINT16 *)mps.gdtr)[0] = gdtr_limit;
        copy((UINT8 *)mps.gdtr + 2, &gdt_virt, 8);
        /* the trampoline and ap_main run on the kernel's tables: ctx and the slots through the
         * HHDM (the arena may lie above 4 GiB), the loader through the identity map */
        for (UINT32 i = 0; i < l->n; i++)
            ctx[i].s = &mps;
        mps.ctx = ctx;
        UINT32 up = mp_start(&mps, slots);
        if (mps.why)
            serial_puts("loader: the APs could not be started; the kernel gets the BSP alone\r\n");
        for (UINT32 i = 0; i < l->n; i++)
            in_mp[i] |= __atomic_load_n(&ctx[i].up, __ATOMIC_ACQUIRE);
        (void)up;
        pmm_free(p, b->tramp);
    }
    /* The APs are parked and touch their APIC no more: at revision 0, whose identity map the
     * kernel keeps, the page is mapped as the protocol maps all of it (rwx, write-back). */
    if (b->revision == 0)
        map_or_die(b, apic, apic, PG, PT_WRITE | PT_EXEC);
    (void)iommus;
    responses(b, info, in_mp);

    /* the page-table pool: what was used is handed over, the rest goes back */
    if (b->ptpool_used < b->ptpool_pages)
        pmm_free_run(p, b->ptpool + b->ptpool_used * PG, b->ptpool_pages - b->ptpool_used);
    hand(b, b->ptpool, b->ptpool_used, PMM_HANDED_PAGE_TABLES);

    /* the live allocator: what describes the machine is copied now, while the pool memory the
     * loader found it in is still held */
    struct pmm_response *pr = 0;
    struct pmm_handed *ph = 0;
    struct pmm_kept *pk = 0;
    struct pmm_response_arrays pa = {0, 0, 0, 0, 0, 0};
    if (b->req.req[LREQ_PMM]) {
        pr = arena(b, sizeof *pr);
        ph = arena(b, MAX_HANDED * sizeof *ph);
        pk = arena(b, (b->nkept + 1) * sizeof *pk);
        machine_response(b, pr, info, in_mp, b->req.req[LREQ_MP] != 0, &pa);
    }
    struct limine_memmap_response *mr = 0;
    struct limine_memmap_entry *ents = 0, **eptr = 0;
    if (b->req.req[LREQ_MEMMAP]) {
        mr = arena(b, sizeof *mr);
        ents = arena(b, entries * sizeof *ents);
        eptr = arena(b, entries * sizeof *eptr);
    }
    normalize_handed(b);
    /* the allocator's end state: boot memory freed unless the kernel holds it */
    int hold = (b->pmm_flags & PMM_REQUEST_HOLD_BOOT_MEMORY) != 0;
    if (!hold && pmm_release_boot(p, 0))
        loader_fatal("cannot release boot memory to the allocator", 0, 0);
    pmm_drain(p, 0); /* the allocator's own cache back: the kernel adopts it empty */
    check_handed(b);
    if (mr) {
        in.handed = b->handed, in.nhanded = b->nhanded;
        UINT64 n = lmm_build(&in, ents, entries);
        if (n == ~0ull)
            loader_fatal("the memory map has more entries than its response holds", 0, 0);
        for (UINT64 i = 0; i < n; i++)
            eptr[i] = virt(b, &ents[i]);
        mr->entry_count = n;
        mr->entries = virt(b, eptr);
        respond(b, LREQ_MEMMAP, mr);
    }
    if (pr) {
        copy(ph, b->handed, b->nhanded * sizeof *ph);
        copy(pk, b->kept, b->nkept * sizeof *pk);
        pr->revision = PMM_RESPONSE_REVISION;
        pr->state_phys = pmm_state_phys(p);
        pr->virt_offset = b->hhdm;
        pr->abi = PMM_ABI_VERSION;
        pr->flags = hold ? PMM_RESPONSE_BOOT_HELD : 0;
        pr->handed_count = b->nhanded;
        pr->handed = virt(b, ph);
        pr->kept_count = b->nkept;
        pr->kept = b->nkept ? virt(b, pk) : 0;
        pr->tsc_start = boot_tsc_start;
        pr->tsc_exit = b->tsc_exit;
        pa.handed = ph;
        pa.kept = pk;
        pr->checksum = pmm_response_checksum_at(pr, &pa);
        respond(b, LREQ_PMM, pr);
    }
    if (b->req.req[LREQ_BOOTLOADER_PERFORMANCE] && b->tsc_hz) {
        struct limine_bootloader_performance_response *r = arena(b, sizeof *r);
        r->init_usec = boot_tsc_start / (b->tsc_hz / 1000000);
        r->exec_usec = rdtsc() / (b->tsc_hz / 1000000);
        respond(b, LREQ_BOOTLOADER_PERFORMANCE, r);
    }
    if (b->req.base_tag) {
        if (b->req.wanted_revision <= MAX_REVISION)
            b->req.base_tag[2] = 0;
        b->req.base_tag[1] = b->revision;
    }

    /* the last steps, from the parking page */
    struct enter_args *a = (struct enter_args *)(UINTN)(b->park + PG - sizeof *a);
    *a = (struct enter_args){0};
    a->cr3 = b->pt.root;
    a->hhdm = b->hhdm;
    a->gdtr_limit = gdtr_limit;
    a->gdtr_base = gdt_virt;
    a->stack = b->stack + b->stack_size + b->hhdm;
    a->entry = b->entry;
    a->lower = b->revision >= 1;
    a->cr0 = b->m.cr0;
    a->cr4 = b->m.cr4;
    a->efer = b->m.efer;
    a->tss = tss ? 0x38 + 16ull * l->bsp : 0;
    a->top = b->pt.root + b->hhdm;
    void (*enter)(struct enter_args *) = (void (*)(struct enter_args *))(UINTN)(b->park + enter_at);
    enter(a);
    __builtin_unreachable();
}
