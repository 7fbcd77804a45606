/*
 * full.c - the `full` test kernel: an ELF executable at 0xffffffff80000000, base revision 6,
 * every request the specification defines for x86_64 (and two it does not: one unknown ID,
 * which must stay unanswered, and a request revision from the future, which must still be
 * served), entered through the Entry Point request, its APs released through goto_address,
 * and the live allocator taken (include/handoff.h): adopted with pmm/'s own pmm_adopt, then
 * its free pages compared with the memory map's usable entries, page for page.
 */
#include "handoff.h"
#include "lt.h"
#include "pmm.h"

#define REQ       __attribute__((used, section(".requests"), aligned(8)))
#define REQ_START __attribute__((used, section(".requests_start"), aligned(8)))
#define REQ_END   __attribute__((used, section(".requests_end"), aligned(8)))

/* Not a page multiple, and above the 64 KiB default: the loader must round up, not down. */
#define STACK_ASKED 300000ull

static struct limine_internal_module inmod_present = {"inmod.bin", "internal module one",
                                                      LIMINE_INTERNAL_MODULE_REQUIRED};
static struct limine_internal_module inmod_absent = {"absent.bin", "", 0};
static struct limine_internal_module *inmods[2] = {&inmod_present, &inmod_absent};

REQ_START static volatile uint64_t start_marker[4] = LT_START_MARKER;
REQ static volatile uint64_t base_tag[3] = LT_BASE_REVISION(6);
REQ static volatile struct lt_req info_req = {LT_BOOTLOADER_INFO, 3, 0}; /* a future revision */
REQ static volatile struct lt_req cmdline_req = {LT_EXEC_CMDLINE, 0, 0};
REQ static volatile struct lt_req fwtype_req = {LT_FIRMWARE_TYPE, 0, 0};
REQ static volatile struct lt_req1 stack_req = {LT_STACK_SIZE, 0, 0, STACK_ASKED};
REQ static volatile struct lt_req hhdm_req = {LT_HHDM, 0, 0};
REQ static volatile struct lt_req fb_req = {LT_FRAMEBUFFER, 1, 0};
REQ static volatile struct limine_paging_mode_request paging_req = {LT_PAGING_MODE, 1, 0, 0, 0, 0};
REQ static volatile struct lt_req1 mp_req = {LT_MP, 0, 0, 0};
REQ static volatile struct lt_req hartid_req = {LT_RISCV_HARTID, 0, 0};
REQ static volatile struct lt_req memmap_req = {LT_MEMMAP, 0, 0};
REQ static volatile struct limine_entry_point_request entry_req = {LT_ENTRY_POINT, 0, 0, lt_entry};
REQ static volatile struct lt_req exec_file_req = {LT_EXEC_FILE, 0, 0};
REQ static volatile struct limine_module_request module_req = {LT_MODULE, 1, 0, 2, inmods};
REQ static volatile struct lt_req rsdp_req = {LT_RSDP, 0, 0};
REQ static volatile struct lt_req smbios_req = {LT_SMBIOS, 0, 0};
REQ static volatile struct lt_req est_req = {LT_EFI_SYSTEM_TABLE, 0, 0};
REQ static volatile struct lt_req tpm_req = {LT_TPM_EVENT_LOG, 0, 0};
REQ static volatile struct lt_req efi_memmap_req = {LT_EFI_MEMMAP, 0, 0};
REQ static volatile struct lt_req date_req = {LT_DATE_AT_BOOT, 0, 0};
REQ static volatile struct lt_req exec_addr_req = {LT_EXEC_ADDRESS, 0, 0};
REQ static volatile struct lt_req dtb_req = {LT_DTB, 0, 0};
REQ static volatile struct lt_req perf_req = {LT_BOOTLOADER_PERF, 0, 0};
REQ static volatile struct lt_req iommu_req = {LT_KEEP_IOMMU, 0, 0};
REQ static volatile struct lt_req tsc_req = {LT_TSC_FREQUENCY, 0, 0};
REQ static volatile struct lt_req flanterm_req = {LT_FLANTERM_PARAMS, 0, 0};
REQ static volatile struct lt_req1 entropy_req = {LT_ENTROPY, 0, 0, 8};
/* an ID no specification defines: "left untouched", so it keeps what we put there */
REQ static volatile struct lt_req unknown_req = {
    LT_ID(0x0123456789abcdefull, 0xfedcba9876543210ull), 0, (void *)0x5eed};
REQ static volatile struct pmm_request pmm_req = {PMM_REQUEST_ID, 0, 0, 0};
REQ_END static volatile uint64_t end_marker[2] = LT_END_MARKER;

extern const char __image_start[], __image_end[], __text_end[], __rodata_end[];

/* The ELF header's entry: the loader must not come here, the Entry Point request names
 * lt_entry instead. */
void lt_elf_entry(void);
void lt_elf_entry(void)
{
    fatal("entry point", "the loader entered at the ELF entry, not at the Entry Point request's");
}

/* Usable entries, merged where adjacent, against the allocator's free runs: the same list. */
static void usable_is_free(struct pmm *p)
{
    uint64_t i = 0, pfn = 0, s, n, runs = 0, pages = 0, bad_at = ~0ull;
    for (;;) {
        uint64_t lo = 0, hi = 0;
        for (; i < lt_mm_n; i++) {
            const struct limine_memmap_entry *e = lt_mm[i];
            if (e->type != LIMINE_MEMMAP_USABLE)
                continue;
            if (hi && e->base != hi)
                break;
            if (!hi)
                lo = e->base;
            hi = e->base + e->length;
        }
        int more = pmm_next_free_range(p, pfn, &s, &n);
        /* the allocator's runs may be split where the map's are not: merge them too */
        while (more && hi && (s + n) * PG < hi) {
            uint64_t s2, n2;
            if (!pmm_next_free_range(p, s + n, &s2, &n2) || s2 != s + n)
                break;
            n += n2;
        }
        if (!more && !hi)
            break;
        if (!more || !hi || s * PG != lo || (s + n) * PG != hi) {
            bad_at = more ? (hi && s * PG > lo ? lo : s * PG) : lo;
            break;
        }
        runs++;
        pages += n;
        pfn = s + n;
    }
    check(bad_at == ~0ull, "live allocator: usable is free",
          "%lu usable runs, %lu pages, are exactly the allocator's free pages%s0x%lx", runs, pages,
          bad_at == ~0ull ? " " : "; they differ at ", bad_at == ~0ull ? 0 : bad_at);
}

static void live_allocator(void)
{
    const struct pmm_response *r = pmm_req.response;
    if (!check(r != 0, "live allocator", "the uefi-pmm request is answered"))
        return;
    check(lt_mm_all((uint64_t)(uintptr_t)r - lt_hhdm, sizeof *r, T(BOOTLOADER_RECLAIMABLE)),
          "live allocator", "response in bootloader-reclaimable memory");
    const char *why = pmm_response_verify(r, lt_hhdm);
    if (!check(!why, "live allocator response", "%s", why ? why : "pmm_response_verify accepts it"))
        return;
    int err = 0;
    struct pmm *p = pmm_adopt(r->state_phys, r->virt_offset, &err);
    if (!check(p != 0, "live allocator adopted", "at 0x%lx through the HHDM (%s)", r->state_phys,
               p ? "ok" : pmm_strerror(err)))
        return;
    struct pmm_check_fail f;
    check(pmm_check(p, &f) == 0, "live allocator consistent", "pmm_check at entry");
    usable_is_free(p);
    check(lt_mm_all(r->state_phys, pmm_meta_pages(p) * PG, T(BOOTLOADER_RECLAIMABLE)),
          "live allocator metadata", "%lu pages at 0x%lx: bootloader-reclaimable",
          pmm_meta_pages(p), r->state_phys);
    /* what it hands over allocated is what is allocated, and none of it is usable */
    uint64_t h = 0, pfn = 0, s, n, bad = 0;
    while (pmm_next_alloc_range(p, pfn, &s, &n)) {
        uint64_t lo = r->handed[h].phys / PG, hi = lo + r->handed[h].pages;
        for (h++; h < r->handed_count && r->handed[h].phys / PG == hi; h++)
            hi += r->handed[h].pages;
        if (s != lo || s + n != hi) {
            bad = s * PG;
            break;
        }
        pfn = s + n;
        if (h == r->handed_count)
            break;
    }
    if (!bad && (h != r->handed_count || pmm_next_alloc_range(p, pfn, &s, &n)))
        bad = pfn * PG;
    check(!bad, "live allocator handed", "the %lu handed runs are the allocated pages%s0x%lx",
          r->handed_count, bad ? "; not at " : " ", bad);
    int usable = 0;
    for (uint64_t i = 0; i < r->handed_count; i++)
        usable |= !lt_mm_all(r->handed[i].phys, r->handed[i].pages * PG, 0x1feu);
    check(!usable, "live allocator handed", "no handed page is in a usable entry");
    /* the CPU list: cpus[i] is the MP response's cpus[i] when every AP started */
    const struct limine_mp_response *mp = mp_req.response;
    int same = mp && mp->cpu_count == r->cpu_count, listed = 1;
    for (uint64_t i = 0; same && i < r->cpu_count; i++) {
        same = mp->cpus[i]->lapic_id == r->cpus[i].lapic_id;
        listed &= (r->cpus[i].flags & PMM_CPU_IN_MP) != 0;
    }
    check(same && r->cpus[r->bsp].lapic_id == lt_apic_id(), "live allocator CPUs",
          "%lu CPUs in the MP response's order; bsp index %u is this CPU", r->cpu_count, r->bsp);
    /* handoff.h: PMM_CPU_IN_MP is "listed in the MP response: the BSP, each AP that parked" */
    check(listed, "live allocator CPUs",
          "every CPU the MP response lists is flagged "
          "PMM_CPU_IN_MP (the BSP too)");
    /* and it allocates: a page from usable memory, ours to write, back again */
    uint64_t page = 0;
    int rc = pmm_alloc(p, &page);
    int ok = rc == 0 && lt_mm_all(page, PG, T(USABLE));
    if (ok) {
        volatile uint64_t *w = (volatile uint64_t *)(lt_hhdm + page);
        w[0] = 0xfeedfacecafebeefull;
        ok = w[0] == 0xfeedfacecafebeefull && pmm_free(p, page) == 0 && pmm_check(p, &f) == 0;
    }
    check(ok, "live allocator allocates",
          "page 0x%lx from a usable entry, written, freed, "
          "pmm_check ok",
          page);
}

void lt_main(void)
{
    struct lt_kernel k = {0};
    k.name = "full";
    k.base_tag = base_tag;
    k.asked = 6;
    k.elf_entry = lt_elf_entry;
    k.entered = lt_entry;
    k.image_start = __image_start;
    k.image_end = __image_end;
    k.text_start = __image_start;
    k.text_end = __text_end;
    k.rodata_end = __rodata_end;
    k.info = &info_req, k.cmdline = &cmdline_req, k.fwtype = &fwtype_req, k.hhdm = &hhdm_req;
    k.fb = &fb_req, k.memmap = &memmap_req, k.exec_file = &exec_file_req;
    k.exec_addr = &exec_addr_req, k.rsdp = &rsdp_req, k.smbios = &smbios_req, k.est = &est_req;
    k.efi_memmap = &efi_memmap_req, k.date = &date_req, k.tsc = &tsc_req, k.perf = &perf_req;
    k.iommu = &iommu_req, k.dtb = &dtb_req, k.hartid = &hartid_req, k.tpm = &tpm_req;
    k.flanterm = &flanterm_req, k.stack = &stack_req, k.mp = &mp_req, k.entry = (vreq1 *)&entry_req;
    k.entropy = &entropy_req, k.paging = &paging_req, k.module = &module_req;
    k.unknown = &unknown_req, k.unknown_was = (void *)0x5eed;
    (void)start_marker, (void)end_marker;
    lt_check_all(&k);
    lt_check_mp(&k);
    live_allocator();
    finish();
}
