/*
 * main.c - the kernel stub: take the loader's allocator, use it, and say whether it worked.
 *
 *   Limine responses checked -> own GDT/IDT -> the allocator adopted in place (O(1), no rebuild)
 *   -> the allocated pages checked against what the response hands over -> own page tables from
 *   allocator pages -> self-test on this CPU -> the parked CPUs released onto the kernel's tables
 *   -> the loader's tables and AP stacks freed -> self-test on every CPU at once -> the APs
 *   parked -> summary line and verdict on COM1 -> isa-debug-exit.
 */
#include "kernel.h"

extern volatile uint64_t base_revision[3];
extern volatile struct limine_request_header efi_memmap_req, fb_req, tsc_req, info_req, module_req,
    cmdline_req;
extern volatile struct limine_mp_request mp_req;
extern volatile struct pmm_request pmm_req;

struct boot_info boot;
static uint64_t t0;

/* The framebuffer, if the loader gave one the console can draw on (32-bit RGB or BGR). */
static void screen(void)
{
    struct limine_framebuffer_response *r = fb_req.response;
    if (!r || !r->framebuffer_count)
        return;
    struct limine_framebuffer *f = r->framebuffers[0];
    if (f->bpp != 32 || f->memory_model != LIMINE_FRAMEBUFFER_RGB || f->pitch % 4)
        return;
    int rgb = f->red_mask_shift == 0 && f->blue_mask_shift == 16;
    int bgr = f->red_mask_shift == 16 && f->blue_mask_shift == 0;
    if (rgb || bgr)
        fbcon_init((uint64_t)(uintptr_t)f->address, (uint32_t)f->width, (uint32_t)f->height,
                   (uint32_t)(f->pitch / 4), rgb);
}

/* Every response the stub relies on, before it trusts any. */
static void responses(void)
{
    if (!LIMINE_BASE_REVISION_SUPPORTED(base_revision))
        panic("the loader does not support base revision 6 (the tag still says %lu)",
              base_revision[2]);
    boot.revision = LIMINE_LOADED_BASE_REVISION_VALID(base_revision)
                        ? LIMINE_LOADED_BASE_REVISION(base_revision)
                        : 6;
    boot.efi_memmap = efi_memmap_req.response;
    boot.mp = mp_req.response;
    struct limine_tsc_frequency_response *t = tsc_req.response;
    boot.tsc_hz = t ? t->frequency : 0;
    const struct pmm_response *r = pmm_req.response;
    if (!r)
        panic("the loader did not answer the live-allocator request: not a uefi-pmm loader?");
    if (r->abi != PMM_ABI_VERSION)
        panic("the allocator's state has layout version %u, but this kernel reads version %u: the "
              "loader and the kernel come from different builds; install both from one build",
              r->abi, PMM_ABI_VERSION);
    const char *why = pmm_response_verify(r, boot.hhdm);
    if (why)
        panic("live-allocator response refused: %s", why);
    boot.pmm = r;
}

void kmain(void)
{
    t0 = rdtsc();
    con_init();
    arrival(); /* the paging mode; the responses below checked field by field (arrival.c) */
    screen();
    responses();
    struct limine_bootloader_info_response *bi = info_req.response;
    kprintf("kernel: started by %s %s, base revision %lu, HHDM at 0x%lx\n",
            bi ? bi->name : "an unnamed loader", bi ? bi->version : "", boot.revision, boot.hhdm);
    struct limine_executable_cmdline_response *cl = cmdline_req.response;
    if (cl && cl->cmdline[0])
        kprintf("kernel: command line: %s\n", cl->cmdline);
    struct limine_module_response *mods = module_req.response;
    for (uint64_t i = 0; mods && i < mods->module_count; i++)
        kprintf(
            "kernel: module %s, %lu byte%s at 0x%lx, command line '%s'\n", mods->modules[i]->path,
            mods->modules[i]->size, mods->modules[i]->size == 1 ? "" : "s",
            (uint64_t)(uintptr_t)mods->modules[i]->address - boot.hhdm, mods->modules[i]->string);
    const struct pmm_response *r = boot.pmm;
    kprintf("kernel: the loader lists %lu CPU%s (%s), BSP APIC ID %u\n", r->cpu_count,
            r->cpu_count == 1 ? "" : "s",
            r->cpu_source == PMM_CPUS_MP_SERVICES ? "MP services"
            : r->cpu_source == PMM_CPUS_MADT      ? "ACPI MADT"
                                                  : "the boot CPU alone",
            r->cpus[r->bsp].lapic_id);
    numa_report(r);
    cpu_init();
    if (boot.tsc_hz) {
        tsc_set_hz(boot.tsc_hz);
    } else { /* a loader without the TSC Frequency response: the PIT, else 10 GHz assumed */
        uint64_t bracket, hz = tsc_calibrate(&bracket);
        kprintf("kernel: TSC %lu MHz (%s)\n", hz / 1000000,
                tsc_from_pit() ? "no TSC Frequency response: measured against the PIT"
                               : "no TSC Frequency response and no PIT: 10 GHz assumed");
    }

    int err;
    struct pmm_adopt_error refused = {"", ""};
    struct pmm *p = pmm_adopt_why(r->state_phys, r->virt_offset, &err, &refused);
    if (!p)
        panic("cannot adopt the allocator at 0x%lx: %s: %s: %s", r->state_phys, pmm_strerror(err),
              refused.field, refused.why);
    char line[200];
    pmm_summary(p, line, sizeof line);
    kprintf("kernel: adopted the allocator at 0x%lx in place\n%s\n", r->state_phys, line);
    /* Before the first allocation: nothing allocated that we cannot free, nothing listed free. */
    uint64_t at;
    const char *why = handoff_allocated_check(p, r, &at);
    if (why)
        panic("handed-over memory: %s, at 0x%lx", why, at);
    for (uint64_t i = 0; i < r->kept_count; i++)
        kprintf("kernel: kept for the kernel: kind %u at 0x%lx, %lu byte%s\n", r->kept[i].kind,
                r->kept[i].phys, r->kept[i].bytes, r->kept[i].bytes == 1 ? "" : "s");
    kprintf("kernel: allocated pages are exactly the %lu runs the response hands over\n",
            r->handed_count);
    int failed = selftest_entry(p);
    paging_init(p);
#ifdef PMM_WX_TEST_TEXT
    /* tests/qemu/wx.sh: text is read-only, so this must end in a page-fault report */
    kprintf("kernel: writing to its own text at 0x%lx\n", (uint64_t)(uintptr_t)kmain);
    *(volatile uint8_t *)(uintptr_t)kmain = 0xcc;
#endif
#ifdef PMM_WX_TEST_EXEC
    /* tests/qemu/wx.sh: the direct map is no-execute, so this must end in a page-fault report */
    uint64_t page;
    if (pmm_alloc(p, &page))
        panic("no page for the execute test");
    *(volatile uint8_t *)(uintptr_t)(HHDM + page) = 0xc3; /* ret */
    kprintf("kernel: calling a ret at 0x%lx in the direct map\n", HHDM + page);
    ((void (*)(void))(uintptr_t)(HHDM + page))();
#endif
#ifdef PMM_FAULT_TEST
    /* tests/qemu/fault.sh: nothing is mapped at low addresses, so this must end in a page fault */
    kprintf("kernel: reading physical 0x1000 through an identity map that is not there\n");
    (void)*(volatile uint64_t *)0x1000;
#endif
    if (r->flags & PMM_RESPONSE_BOOT_HELD) {
        /* Nothing of the firmware's is in use any more (our GDT, IDT and page tables are in
         * place, and this stub never calls SetVirtualAddressMap): the held memory can go. */
        uint64_t n = 0;
        int rc = pmm_release_boot(p, &n);
        if (rc)
            panic("cannot release boot memory: %s", pmm_strerror(rc));
        kprintf("kernel: released %lu pages of boot-services memory held until now\n", n);
    }
    smp_init(p);
    failed += selftest(p);
    uint32_t up = smp_start(p);
    paging_done(p); /* every CPU is on the kernel's tables now */
    failed += selftest_smp(p);
    smp_park();
    kprintf("kernel: %u of %u CPUs took part\n", up, smp_cpus_listed());

    struct pmm_stats s;
    pmm_stats(p, &s);
    kprintf("kernel: memory: %lu MiB usable, %lu MiB free, %lu KiB metadata at 0x%lx, "
            "largest free run %lu MiB\n",
            s.total >> 8, s.free >> 8, s.meta * 4, s.meta_phys, s.largest >> 8);
    for (uint32_t n = 0; s.nodes > 1 && n < s.nodes; n++) {
        struct pmm_node_stats ns;
        if (!pmm_node_stats(p, n, &ns))
            kprintf("kernel: numa: node %u: %lu pages, %lu free\n", n, ns.total,
                    ns.free + ns.cached);
    }
    pmm_summary(p, line, sizeof line);
    kprintf("%s\n", line);
    uint64_t t1 = rdtsc();
    kprintf("kernel: tsc loader->kernel=%lu kernel->verdict=%lu\n", t0 - r->tsc_start, t1 - t0);
    kexit(!failed);
}
