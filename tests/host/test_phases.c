/*
 * test_phases.c - the three owners: loader with boot services (claims from the firmware), the
 * reconcile at ExitBootServices, and a kernel adopting the state through another mapping.
 *
 *   0x100000            0x1000000 0x1100000                            0x8000000
 *   | conventional      | boot data|  conventional                      |
 */
#include <sys/mman.h>

#include "common.h"

HARNESS_GLOBALS

static struct sim *machine(void)
{
    struct sim *s = sim_new(128 * MIB);
    sim_add(s, PMM_EFI_BOOT_CODE, 0, 1, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0x1000, 0x9e, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 0xf00, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, 16 * MIB, 0x100, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 17 * MIB, 0x6f00, 0xf);
    return s;
}

TEST(boot_phase_claims_everything_it_hands_out)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    struct pmm_stats st;
    pmm_stats(p, &st);
    for (uint64_t i = 0; i < st.meta; i++)
        CHECK_EQ(sim_fw_used(s, st.meta_phys / PG + i), 2); /* metadata claimed as loader data */
    uint64_t x, r;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(sim_fw_used(s, x / PG), 2);
    CHECK_EQ(pmm_alloc_run(p, 64, 64 * PG, 0, &r), PMM_OK);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(sim_fw_used(s, r / PG + (uint64_t)i), 2);
    CHECK_EQ(pmm_free(p, x), PMM_OK);
    CHECK_EQ(sim_fw_used(s, x / PG), 0); /* released to the firmware */
    CHECK_OK(p);
    sim_free(s);
}

TEST(firmware_taking_pages_shrinks_the_pool)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    struct pmm_stats st;
    pmm_stats(p, &st);
    /* The firmware allocates behind our back: every 7th claim finds its page gone. */
    s->refuse_every = 7;
    uint64_t pages[3000], r;
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ(pmm_alloc(p, &pages[i]), PMM_OK);
        CHECK_EQ(sim_fw_used(s, pages[i] / PG), 2);
    }
    CHECK_EQ(pmm_alloc_run(p, 100, 0, 0, &r), PMM_OK);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(sim_fw_used(s, r / PG + (uint64_t)i), 2);
    CHECK_OK(p);
    struct pmm_stats mid;
    pmm_stats(p, &mid);
    CHECK(s->refusals > 400);
    CHECK_EQ(mid.free + mid.alloc + s->refusals, st.free); /* each refusal lost one page */
    s->refuse_every = 0;

    /* ExitBootServices: the pages the firmware took were boot data; now they and the original
     * boot data join the pool, and everything handed out stays handed out. The final map is far
     * more fragmented than the range table's room (2 * (5 descriptors + 64 extra) + 1), so this
     * reconcile only succeeds by merging. */
    size_t fbytes;
    free(sim_final_map(s, &fbytes));
    CHECK(fbytes / s->desc_size > 2 * (5 + 64) + 1);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats fin;
    pmm_stats(p, &fin);
    CHECK_EQ(fin.alloc, 3100);
    CHECK_EQ(fin.free, st.free + 0x100 - 3100); /* the refused pages came back with boot data */
    uint64_t n;
    pmm_ranges(p, &n);
    CHECK(n <= 2 * (5 + 64) + 1); /* merged to fit */
    /* merging kept what the allocator may do with each page: every usable page of the machine
     * (0x1 + 0x9e + 0xf00 + 0x100 + 0x6f00), and the reserved ones not at all */
    CHECK_EQ(fin.total, 0x1 + 0x9e + 0xf00 + 0x100 + 0x6f00);
    CHECK_EQ(fin.kind_pages[PMM_KIND_NEVER], 0);
    sim_free(s);
}

TEST(reconcile_then_adopt_through_another_mapping)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    uint64_t kernel, x;
    CHECK_EQ(pmm_alloc_run(p, 32, 2 * MIB, 0, &kernel), PMM_OK); /* "kernel image" */
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    struct pmm_stats before;
    pmm_stats(p, &before);
    /* not reconciled yet: no kernel may adopt it */
    int err = 0;
    CHECK(pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err) == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    struct pmm_stats after;
    pmm_stats(p, &after);
    CHECK_EQ(after.alloc, 33);
    CHECK_EQ(after.free, before.free + 0x100); /* boot data joined, free */
    CHECK_EQ(after.withheld, 1);               /* page 0 (boot code) only */
    CHECK_EQ(after.total, before.total);
    CHECK(after.reconciled);
    /* a second reconcile is refused */
    CHECK_REJECTS(p, sim_reconcile(s, p), PMM_ESTATE);

    /* The kernel maps physical memory elsewhere and adopts the state there. */
    unsigned char *alias = sim_alias(s);
    uint64_t phys = pmm_state_phys(p);
    struct pmm *k = pmm_adopt(phys, (uint64_t)(uintptr_t)alias, &err);
    CHECK(k != 0);
    CHECK_EQ(err, PMM_OK);
    CHECK((unsigned char *)k == alias + phys);
    CHECK_OK(k);
    uint32_t c;
    CHECK_EQ(pmm_refcount(k, kernel, &c), PMM_OK); /* allocated before exit, still allocated */
    CHECK_EQ(pmm_free(k, x), PMM_OK);
    CHECK_EQ(pmm_free(k, x), PMM_EDOUBLE);
    uint64_t y;
    CHECK_EQ(pmm_alloc_run(k, 256, 0, 0, &y), PMM_OK);
    CHECK_OK(k);
    /* and moves once more: the old view is dropped, the new offset is in force */
    struct pmm *k2 = pmm_set_offset(k, (uint64_t)(uintptr_t)s->mem);
    CHECK((unsigned char *)k2 == s->mem + phys);
    CHECK_EQ(pmm_virt_offset(k2), (uint64_t)(uintptr_t)s->mem);
    CHECK_EQ(pmm_free_run(k2, y, 256), PMM_OK);
    CHECK_OK(k2);
    munmap(alias, s->bytes);
    sim_free(s);
}

TEST(adopt_rejects_what_is_not_a_state)
{
    struct sim *s = machine();
    int err = 0;
    CHECK(pmm_adopt(2 * MIB, (uint64_t)(uintptr_t)s->mem, &err) == 0); /* zeroes */
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(pmm_adopt(0, (uint64_t)(uintptr_t)s->mem, &err) == 0);
    CHECK(pmm_adopt(2 * MIB + 8, (uint64_t)(uintptr_t)s->mem, &err) == 0);
    struct pmm *p;
    sim_build(s, 0, &p);
    sim_reconcile(s, p);
    uint64_t phys = pmm_state_phys(p), off = (uint64_t)(uintptr_t)s->mem;
    /* a copy at another physical address is not the state (self address differs) */
    memcpy(s->mem + 4 * MIB, s->mem + phys, PG);
    CHECK(pmm_adopt(4 * MIB, off, &err) == 0);
    s->mem[phys] ^= 1; /* magic */
    CHECK(pmm_adopt(phys, off, &err) == 0);
    s->mem[phys] ^= 1;
    CHECK(pmm_adopt(phys, off, &err) != 0);
    sim_free(s);
}

/* The final map takes back a page we handed out: refused, nothing changed. */
TEST(reconcile_conflict_changes_nothing)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t x;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    struct sim *fin = sim_new(128 * MIB);
    sim_add(fin, PMM_EFI_CONVENTIONAL, MIB, 0xf00, 0xf);
    sim_add(fin, PMM_EFI_RESERVED, x, 1, 0);
    sim_add(fin, PMM_EFI_CONVENTIONAL, 17 * MIB, 0x6f00, 0xf);
    struct pmm_map m = sim_map(fin);
    uint64_t size = pmm_map_scratch_size(&m);
    void *scratch = malloc(size);
    struct pmm_map_error e;
    CHECK_REJECTS(p, pmm_reconcile(p, &m, scratch, size, 0, &e), PMM_ECONFLICT);
    CHECK_EQ((uint64_t)e.index, x / PG);
    /* a map that drops the metadata is refused too */
    struct sim *fin2 = sim_new(128 * MIB);
    sim_add(fin2, PMM_EFI_CONVENTIONAL, MIB, 0xf00, 0xf);
    struct pmm_map m2 = sim_map(fin2);
    CHECK_REJECTS(p, pmm_reconcile(p, &m2, scratch, size, 0, &e), PMM_ECONFLICT);
    /* malformed final map */
    struct pmm_map bad = {m.desc, m.map_size - 1, m.desc_size};
    CHECK_REJECTS(p, pmm_reconcile(p, &bad, scratch, size, 0, &e), PMM_EMAP);
    free(scratch);
    sim_free(fin);
    sim_free(fin2);
    sim_free(s);
}

/* Free memory the final map reports as runtime data (allocated after build) leaves the pool. */
TEST(reconcile_drops_memory_the_firmware_kept)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t pg[10];
    for (int i = 0; i < 10; i++)
        pmm_alloc(p, &pg[i]);
    for (int i = 0; i < 10; i++)
        pmm_free(p, pg[i]); /* stacked */
    struct pmm_stats st;
    pmm_stats(p, &st);
    struct sim *fin = sim_new(128 * MIB);
    sim_add(fin, PMM_EFI_BOOT_CODE, 0, 1, 0xf);
    sim_add(fin, PMM_EFI_CONVENTIONAL, 0x1000, 0x9e, 0xf);
    sim_add(fin, PMM_EFI_CONVENTIONAL, MIB, 0xf00, 0xf);
    sim_add(fin, PMM_EFI_BOOT_DATA, 16 * MIB, 0x100, 0xf);
    sim_add(fin, PMM_EFI_CONVENTIONAL, 17 * MIB, 0x6f00, 0xf);
    /* runtime data carved out of the top conventional range, where the stacked pages are */
    uint64_t rt = pg[0] & ~(64 * PG - 1);
    sim_add(fin, PMM_EFI_RUNTIME_DATA, rt, 64, PMM_EFI_ATTR_RUNTIME);
    struct pmm_map m = sim_map(fin);
    uint64_t size = pmm_map_scratch_size(&m);
    void *scratch = malloc(size);
    struct pmm_map_error e;
    CHECK_EQ(pmm_reconcile(p, &m, scratch, size, 0, &e), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats after;
    pmm_stats(p, &after);
    CHECK_EQ(after.free, st.free + 0x100 - 64);
    CHECK_EQ(after.total, st.total - 64);
    CHECK_EQ(pmm_page_state(p, rt / PG), PMM_PAGE_NEVER);
    for (int i = 0; i < 5000; i++) {
        uint64_t x;
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        CHECK(x < rt || x >= rt + 64 * PG);
    }
    free(scratch);
    sim_free(fin);
    sim_free(s);
}

/*
 * With PMM_HOLD_BOOT_MEMORY the boot data at 16 MiB stays withheld across reconcile and adoption;
 * nothing is handed out from it until pmm_release_boot, which gives exactly those pages back.
 */
TEST(boot_memory_held_until_released)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    uint64_t x;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    struct pmm_stats before;
    pmm_stats(p, &before);
    s->reconcile_flags = PMM_HOLD_BOOT_MEMORY;
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats held;
    pmm_stats(p, &held);
    CHECK(held.boot_held);
    CHECK_EQ(held.free, before.free);
    CHECK_EQ(held.withheld, 1 + 0x100);
    CHECK_EQ(pmm_page_state(p, 16 * MIB / PG), PMM_PAGE_WITHHELD);
    int err;
    p = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err);
    CHECK(p != 0);
    uint64_t *got = malloc(held.free * sizeof *got), n = 0, y;
    while (pmm_alloc(p, &y) == PMM_OK) {
        CHECK(y < 16 * MIB || y >= 17 * MIB);
        got[n++] = y;
    }
    uint64_t r;
    CHECK_EQ(pmm_alloc_run(p, 1, 0, 0, &r), PMM_ENOMEM);
    for (uint64_t i = 0; i < n; i++)
        pmm_free(p, got[i]);
    free(got);
    uint64_t released = 0;
    CHECK_EQ(pmm_release_boot(p, &released), PMM_OK);
    CHECK_EQ(released, 0x100);
    CHECK_OK(p);
    struct pmm_stats after;
    pmm_stats(p, &after);
    CHECK(!after.boot_held);
    CHECK_EQ(after.free, before.free + 0x100);
    CHECK_EQ(after.withheld, 1);
    CHECK_EQ(pmm_release_boot(p, &released), PMM_OK); /* nothing left to give */
    CHECK_EQ(released, 0);
    sim_free(s);
}

/*
 * Firmware quirks from real maps, all at once (the list):
 *   1,500 descriptors, given in a shuffled order; runtime data below 1 MiB; reserved holes in the
 *   middle of RAM; attribute bits the spec does not define; MMIO without the UC attribute;
 *   dozens of boot-services fragments.
 * Expected: the allocator builds, reconciles and checks clean; never-usable pages are never handed
 * out; the usable count equals what the descriptors say (computed here by brute force).
 */
/*
 * Hold mode and a final map too fragmented for the range table at once: the merge may widen a
 * boot-services range over conventional neighbours, but that must neither free held boot memory
 * early nor take free conventional pages out of the pool.
 */
TEST(hold_mode_with_a_merged_final_map)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    s->refuse_every = 5; /* the firmware took every 5th page we tried: boot data at exit */
    static uint64_t x[6000];
    for (int i = 0; i < 6000; i++)
        CHECK_EQ(pmm_alloc(p, &x[i]), PMM_OK);
    s->refuse_every = 0;
    /* every other page back: conventional and loader data alternate, so only a merge across
     * kinds (conventional into the more restrictive boot kind) fits the range table */
    for (int i = 0; i < 6000; i += 2)
        CHECK_EQ(pmm_free(p, x[i]), PMM_OK);
    struct pmm_stats mid;
    pmm_stats(p, &mid);
    size_t fbytes;
    free(sim_final_map(s, &fbytes));
    CHECK(fbytes / s->desc_size > 2 * (5 + 64) + 1);
    s->reconcile_flags = PMM_HOLD_BOOT_MEMORY;
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats fin;
    pmm_stats(p, &fin);
    uint64_t taken = s->refusals, meta = layout_meta_pages(0x8000, 1, 5, 64);
    CHECK(taken >= 1200);
    CHECK_EQ(fin.alloc, 3000);
    uint64_t nr;
    const struct pmm_range *rt = pmm_ranges(p, &nr);
    uint64_t mixed = 0; /* merged ranges that hold conventional pages the pool has free */
    for (uint64_t i = 0; i < nr; i++) {
        uint64_t fs, fn;
        mixed += rt[i].kind == PMM_KIND_BOOT && pmm_next_free_range(p, rt[i].start, &fs, &fn) &&
                 fs < rt[i].start + rt[i].npages;
    }
    CHECK(mixed > 0);
    CHECK_EQ(fin.boot_held, 1);
    /* free: the conventional pages (0x9e + 0xf00 + 0x6f00) less metadata, ours and the taken */
    CHECK_EQ(fin.free, 0x9e + 0xf00 + 0x6f00 - meta - 3000 - taken);
    CHECK_EQ(fin.withheld, 1 + 0x100 + taken); /* page 0, boot data, what the firmware took */
    uint64_t released;
    CHECK_EQ(pmm_release_boot(p, &released), PMM_OK);
    CHECK_EQ(released, 0x100 + taken);
    pmm_stats(p, &fin);
    CHECK_EQ(fin.free, 0x9e + 0xf00 + 0x6f00 + 0x100 - meta - 3000);
    CHECK_EQ(fin.withheld, 1);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Sections: the build sees RAM at [1 MiB, 64 MiB) and [256 MiB, 320 MiB); the final map shows
 * usable memory the build never saw, in the absent section between them and past the span. It
 * cannot join (it has no metadata) and must not vanish: it is counted as unmanaged and reported.
 *
 *   0  1M      64M  128M   192M  256M     320M   384M
 *   |  | RAM    |    | new  |    | RAM     | new  |
 */
TEST(memory_the_build_never_saw_is_reported)
{
    struct sim *s = sim_new(512 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 63 * MIB / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 256 * MIB, 64 * MIB / PG, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.sections, 3); /* [0, 320 MiB) */
    CHECK_EQ(st.present_sections, 2);
    CHECK_EQ(st.meta, layout_meta_pages(320 * MIB / PG, 2, 2, 64));
    size_t bytes;
    unsigned char *fin = sim_final_map(s, &bytes);
    unsigned char *m = malloc(bytes + 2 * s->desc_size);
    memcpy(m, fin, bytes);
    struct pmm_efi_desc more[2] = {{PMM_EFI_CONVENTIONAL, 0, 128 * MIB, 0, 64 * MIB / PG, 0xf},
                                   {PMM_EFI_BOOT_DATA, 0, 320 * MIB, 0, 64 * MIB / PG, 0xf}};
    for (int i = 0; i < 2; i++) {
        memset(m + bytes + (size_t)i * s->desc_size, 0, s->desc_size);
        memcpy(m + bytes + (size_t)i * s->desc_size, &more[i], sizeof more[i]);
    }
    struct pmm_map fm = {m, bytes + 2 * s->desc_size, s->desc_size};
    uint64_t ss = pmm_map_scratch_size(&fm);
    void *scratch = malloc(ss);
    struct pmm_map_error err;
    CHECK_EQ(pmm_reconcile(p, &fm, scratch, ss, 0, &err), PMM_OK);
    pmm_stats(p, &st);
    CHECK_EQ(st.unmanaged, 2 * 64 * MIB / PG);
    CHECK_EQ(st.total, (63 + 64) * MIB / PG);
    CHECK_EQ(pmm_page_state(p, 130 * MIB / PG), PMM_PAGE_WITHHELD);
    char line[256];
    pmm_summary(p, line, sizeof line);
    CHECK(strstr(line, " sections=2/3 unmanaged=32768") != 0);
    CHECK_OK(p);
    free(scratch);
    free(m);
    free(fin);
    sim_free(s);
}

TEST(firmware_quirks)
{
    enum { N = 1500, PAGES = 0x20000 }; /* 512 MiB */
    struct sim *s = sim_new((uint64_t)PAGES * PG);
    uint32_t type[N];
    uint64_t start[N], len[N], attr[N];
    uint64_t pfn = 0;
    for (int i = 0; i < N; i++) {
        len[i] = i == N - 1 ? PAGES - pfn : 1 + (uint64_t)(i * 7919 % 160);
        start[i] = pfn;
        pfn += len[i];
        static const uint32_t cycle[] = {PMM_EFI_CONVENTIONAL, PMM_EFI_BOOT_DATA,
                                         PMM_EFI_CONVENTIONAL, PMM_EFI_BOOT_CODE,
                                         PMM_EFI_CONVENTIONAL, PMM_EFI_RESERVED};
        type[i] = cycle[i % 6];
        attr[i] = 0xf | (i % 5 == 0 ? 0x0700000000000000ull : 0); /* undefined bits */
    }
    type[3] = PMM_EFI_RUNTIME_DATA; /* runtime data below 1 MiB */
    attr[3] |= PMM_EFI_ATTR_RUNTIME;
    type[700] = PMM_EFI_MMIO; /* MMIO in the middle, without UC */
    attr[700] = 0;
    type[N - 1] = PMM_EFI_CONVENTIONAL;
    CHECK(start[3] < 256);
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) { /* deterministic shuffle */
        int j = (int)((uint64_t)i * 2654435761u % (uint64_t)(i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int k = 0; k < N; k++) {
        int i = order[k];
        sim_add(s, type[i], start[i] * PG, len[i], attr[i]);
    }
    uint64_t usable = 0;
    for (int i = 0; i < N; i++)
        usable += pmm_classify(type[i], attr[i]) != PMM_KIND_NEVER ? len[i] : 0;
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.total, usable);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    uint64_t x, n = 0;
    while (pmm_alloc(p, &x) == PMM_OK) {
        uint64_t q = x / PG;
        for (int i = 0; i < N; i++)
            if (q >= start[i] && q < start[i] + len[i] &&
                pmm_classify(type[i], attr[i]) == PMM_KIND_NEVER)
                CHECK(!"handed out a never-usable page");
        n++;
    }
    /* what is left is exactly the usable memory below 1 MiB, less page 0 */
    uint64_t low = 0;
    for (int i = 0; i < N; i++)
        for (uint64_t q = start[i]; q < start[i] + len[i] && q < 256; q++)
            low += q > 0 && pmm_classify(type[i], attr[i]) != PMM_KIND_NEVER;
    pmm_stats(p, &st);
    fprintf(stderr, "  quirks: %llu usable, %llu singles, %llu left below 1 MiB\n",
            (unsigned long long)usable, (unsigned long long)n, (unsigned long long)low);
    CHECK_EQ(st.free, low);
    CHECK_EQ(n, usable - st.meta - low - (pmm_classify(type[0], attr[0]) != PMM_KIND_NEVER));
    while (pmm_alloc_run(p, 1, 0, MIB, &x) == PMM_OK)
        CHECK(x / PG < start[3] || x / PG >= start[3] + len[3]); /* not the runtime data */
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(boot_phase_claims_everything_it_hands_out);
    RUN(firmware_taking_pages_shrinks_the_pool);
    RUN(reconcile_then_adopt_through_another_mapping);
    RUN(adopt_rejects_what_is_not_a_state);
    RUN(reconcile_conflict_changes_nothing);
    RUN(reconcile_drops_memory_the_firmware_kept);
    RUN(boot_memory_held_until_released);
    RUN(hold_mode_with_a_merged_final_map);
    RUN(memory_the_build_never_saw_is_reported);
    RUN(firmware_quirks);
    HARNESS_MAIN_END();
}
