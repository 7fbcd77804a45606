/*
 * main.c - the kernel stub: take the loader's allocator, use it, and say whether it worked.
 *
 *   validate the handoff block -> own GDT/IDT -> adopt the allocator in place (O(1), no rebuild)
 *   -> own page tables from allocator pages, offset moved to the direct map -> the allocator's
 *   spinlock -> self-test on this CPU -> the other CPUs started (smp.c) -> self-test on every
 *   CPU at once -> the APs parked -> summary line and verdict on COM1 -> isa-debug-exit.
 */
#include <stddef.h>

#include "kernel.h"

static struct pmm_handoff hb; /* our copy: the block itself is reached through the identity map */
static uint64_t t0;

static void __attribute__((noreturn)) direct_mapped(struct pmm *p);

/*
 * Whether the framebuffer fields can be trusted before the block is verified, so that a refusal
 * is on screen too (most PCs have no COM1): magic, a size that covers them, and the block's own
 * checksum over its own size, which holds whatever version wrote it (every version keeps the
 * fields up to fb_format where version 1 had them).
 */
static int fb_fields_intact(const struct pmm_handoff *h)
{
    uint64_t at = offsetof(struct pmm_handoff, checksum);
    if (h->magic != PMM_HANDOFF_MAGIC || h->size > 4096 ||
        h->size < offsetof(struct pmm_handoff, fb_format) + sizeof h->fb_format)
        return 0;
    static const uint8_t zero[4];
    uint32_t c = pmm_fnv1a(h, at, PMM_FNV_INIT);
    c = pmm_fnv1a(zero, sizeof zero, c);
    c = pmm_fnv1a((const uint8_t *)h + at + 4, h->size - at - 4, c);
    return c == h->checksum;
}

void kmain(uint64_t handoff_phys)
{
    t0 = rdtsc();
    con_init();
    const struct pmm_handoff *h = (const struct pmm_handoff *)(uintptr_t)handoff_phys;
    if (!handoff_phys || (handoff_phys & 4095))
        panic("handoff block address 0x%lx is not a page address", handoff_phys);
    if (fb_fields_intact(h))
        fbcon_init(h, 0); /* identity-mapped for now */
    if (h->magic == PMM_HANDOFF_MAGIC && h->version != PMM_HANDOFF_VERSION)
        panic("handoff block version %u, but this kernel reads version %u: the loader and the "
              "kernel come from different builds; install both from one build",
              h->version, PMM_HANDOFF_VERSION);
    const char *why = pmm_handoff_verify(h, h->magic == PMM_HANDOFF_MAGIC && h->size == sizeof *h
                                                ? (const void *)(uintptr_t)h->memmap_phys
                                                : 0);
    if (why)
        panic("handoff block refused: %s", why);
    hb = *h;
    kprintf("kernel: started, handoff block at 0x%lx\n", handoff_phys);
    kprintf("kernel: handoff lists %u CPU%s (%s), BSP APIC ID %u\n", hb.ncpus,
            hb.ncpus == 1 ? "" : "s",
            hb.cpu_source == PMM_CPUS_MP_SERVICES ? "MP services"
            : hb.cpu_source == PMM_CPUS_MADT      ? "ACPI MADT"
                                                  : "the boot CPU alone",
            hb.cpu_apic_id[hb.bsp]);
    cpu_init();

    int err;
    struct pmm_adopt_error refused = {"", ""};
    struct pmm *p = pmm_adopt_why(hb.pmm_state_phys, hb.pmm_virt_offset, &err, &refused);
    if (!p)
        panic("cannot adopt the allocator at 0x%lx: %s: %s: %s", hb.pmm_state_phys,
              pmm_strerror(err), refused.field, refused.why);
    char line[200];
    pmm_summary(p, line, sizeof line);
    kprintf("kernel: adopted the allocator at 0x%lx in place\n%s\n", hb.pmm_state_phys, line);
    /* Before the first allocation: nothing allocated that we cannot free, nothing listed free. */
    uint64_t at;
    why = handoff_allocated_check(p, &hb, &at);
    if (why)
        panic("handed-over memory: %s, at 0x%lx", why, at);
    for (uint32_t i = 0; i < hb.nkept; i++)
        kprintf("kernel: kept for the kernel: kind %u at 0x%lx, %lu bytes\n", hb.kept[i].kind,
                hb.kept[i].phys, hb.kept[i].bytes);
    kprintf("kernel: allocated pages are exactly the %u ranges the handoff block lists\n",
            6 + hb.nkept);
    paging_init(p, &hb, direct_mapped);
}

/* The rest runs on the kernel's own page tables, on a fresh stack frame. */
static void direct_mapped(struct pmm *p)
{
    fbcon_move(&hb, HHDM);
    paging_done(p, &hb);
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
    /* tests/qemu/fault.sh: the identity map is gone, so this must end in a page-fault report */
    kprintf("kernel: reading physical 0x1000 through the dropped identity map\n");
    (void)*(volatile uint64_t *)0x1000;
#endif
    if (hb.flags & PMM_HANDOFF_BOOT_HELD) {
        /* Nothing of the firmware's is in use any more (our GDT, IDT and page tables are in
         * place, and this stub never calls SetVirtualAddressMap): the held memory can go. */
        uint64_t n = 0;
        int rc = pmm_release_boot(p, &n);
        if (rc)
            panic("cannot release boot memory: %s", pmm_strerror(rc));
        kprintf("kernel: released %lu pages of boot-services memory held until now\n", n);
    }
    smp_init(p, &hb); /* the allocator's lock, before any other CPU can reach it */
    int failed = selftest(p, &hb);
    uint32_t up = smp_start(p, &hb);
    failed += selftest_smp(p);
    smp_park();
    kprintf("kernel: %u of %u CPUs took part\n", up, smp_cpus_listed());

    struct pmm_stats s;
    pmm_stats(p, &s);
    kprintf("kernel: memory: %lu MiB usable, %lu MiB free, %lu KiB metadata at 0x%lx, "
            "largest free run %lu MiB\n",
            s.total >> 8, s.free >> 8, s.meta * 4, s.meta_phys, s.largest >> 8);
    char line[200];
    pmm_summary(p, line, sizeof line);
    kprintf("%s\n", line);
    uint64_t t1 = rdtsc();
    kprintf("kernel: tsc efi_main->kernel=%lu kernel->verdict=%lu\n", t0 - hb.tsc_efi_main,
            t1 - t0);
    kexit(!failed);
}
