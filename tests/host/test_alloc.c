/*
 * test_alloc.c - the allocator's API over one simulated 64 MiB machine:
 *
 *   0        0x9f000 0x100000  0x800000 0x900000                 0x3f00000 0x4000000  0xfec00000
 *   | conv (low) |rsv| conv     | boot   | conv                     | rt data |  ....  | MMIO |
 *   ^ page 0: never handed out            ^ metadata goes at the top of this range
 *
 * Span ends at 0x3f00 pages: the MMIO descriptor far above RAM must not stretch the bitmap.
 */
#include "common.h"

HARNESS_GLOBALS

static struct sim *machine(void)
{
    struct sim *s = sim_new(64 * MIB);
    sim_add(s, PMM_EFI_RUNTIME_DATA, 0x3f00000, 0x100, PMM_EFI_ATTR_RUNTIME | 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0x100000, 0x700, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, 0x800000, 0x100, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0x900000, 0x3600, 0xf);
    sim_add(s, PMM_EFI_MMIO, 0xfec00000, 0x1, PMM_EFI_ATTR_RUNTIME);
    return s;
}

static const uint64_t conv_pages = 0x9f + 0x700 + 0x3600, boot_pages = 0x100;

TEST(build_layout)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.span, 0x3f00);
    CHECK_EQ(st.total, conv_pages + boot_pages);
    /* metadata: as large as the documented layout says for 7 descriptors (sim_build leaves room
     * for 64 more), at the top of the highest conventional range, and its pages are not free */
    uint64_t meta = layout_meta_pages(0x3f00, 1, 7, 64);
    CHECK_EQ(st.meta, meta);
    CHECK_EQ(st.meta_phys, 0x3f00000 - meta * PG);
    CHECK_EQ(pmm_state_phys(p), 0x3f00000 - meta * PG); /* the header is the run's first page */
    CHECK_EQ(pmm_meta_pages(p), meta);
    CHECK_EQ(st.free, conv_pages - 1 - st.meta); /* page 0 is withheld */
    CHECK_EQ(st.withheld, 1 + boot_pages);
    CHECK_EQ(st.alloc, 0);
    CHECK_EQ(st.used, boot_pages + 1 + meta); /* all but the free conventional pages */
    /* below 4 GiB is everything here; the largest run is the top range less the metadata */
    CHECK_EQ(st.below4g, conv_pages - 1 - meta);
    CHECK_EQ(st.kind_pages[PMM_KIND_FREE], conv_pages);
    CHECK_EQ(st.kind_pages[PMM_KIND_BOOT], boot_pages);
    CHECK_EQ(st.kind_pages[PMM_KIND_NEVER], 0x61 + 0x100 + 1);
    /* free below 16 MiB, from the drawing: [1, 0x9f) + [0x100, 0x800) + [0x900, 0x1000) */
    CHECK_EQ(st.below16m, 0x9e + 0x700 + 0x700);
    CHECK_EQ(st.largest, 0x3600 - meta);
    CHECK_EQ(pmm_page_state(p, 0), PMM_PAGE_WITHHELD);
    CHECK_EQ(pmm_page_state(p, 0x9f), PMM_PAGE_NEVER);
    CHECK_EQ(pmm_page_state(p, 0x800), PMM_PAGE_WITHHELD);
    CHECK_EQ(pmm_page_state(p, 0x100), PMM_PAGE_FREE);
    CHECK_EQ(pmm_page_state(p, st.meta_phys / PG), PMM_PAGE_META);
    CHECK_EQ(pmm_page_state(p, 0x10000), PMM_PAGE_HOLE);
    CHECK_EQ(pmm_page_state(p, 0xfec00), PMM_PAGE_NEVER);

    char line[256];
    pmm_summary(p, line, sizeof line);
    unsigned long long v[9];
    CHECK_EQ(sscanf(line,
                    "pmm: total=%llu free=%llu used=%llu meta=%llu alloc=%llu withheld=%llu "
                    "largest=%llu below4g=%llu below16m=%llu",
                    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]),
             9);
    CHECK_EQ(v[0], st.total);
    CHECK_EQ(v[1], st.free);
    CHECK_EQ(v[3], st.meta);
    CHECK_EQ(v[8], st.below16m);
    char tiny[8];
    CHECK_EQ(pmm_summary(p, tiny, sizeof tiny), strlen(line));
    CHECK(strcmp(tiny, "pmm: to") == 0);
    sim_free(s);
}

/*
 * Neighbours of one kind but different EFI types stay apart in the range table (front ends print
 * the type); neighbours of one type merge.
 *
 *   0x100     0x200     0x300     0x400     0x500
 *   | BS code | BS data | BS data | conv    |
 */
TEST(ranges_keep_their_efi_types)
{
    struct pmm_efi_desc d[4] = {{PMM_EFI_BOOT_CODE, 0, 0x100000, 0, 0x100, 0xf},
                                {PMM_EFI_BOOT_DATA, 0, 0x200000, 0, 0x100, 0xf},
                                {PMM_EFI_BOOT_DATA, 0, 0x300000, 0, 0x100, 0xf},
                                {PMM_EFI_CONVENTIONAL, 0, 0x400000, 0, 0x100, 0xf}};
    struct pmm_map m = {d, sizeof d, sizeof d[0]};
    static unsigned char scratch[4096];
    struct pmm_range out[16];
    uint64_t n = 0;
    struct pmm_map_error err;
    CHECK_EQ(pmm_map_ranges(&m, scratch, sizeof scratch, out, 16, &n, &err), PMM_OK);
    CHECK_EQ(n, 3);
    CHECK(out[0].start == 0x100 && out[0].npages == 0x100 && out[0].type == PMM_EFI_BOOT_CODE);
    CHECK(out[1].start == 0x200 && out[1].npages == 0x200 && out[1].type == PMM_EFI_BOOT_DATA);
    CHECK(out[2].start == 0x400 && out[2].kind == PMM_KIND_FREE);
}

/*
 * Firmware leaves junk in the memory the metadata goes into: the build may rely on nothing it did
 * not write. Fill the machine with a pattern first; every count must still read 1 on hand-out,
 * runs free, and the checker pass.
 */
TEST(metadata_built_in_dirty_memory)
{
    struct sim *s = machine();
    memset(s->mem, 0xa5, 64 * MIB);
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_OK(p);
    uint64_t x, run;
    uint32_t c;
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        CHECK_EQ(pmm_refcount(p, x, &c), PMM_OK);
        CHECK_EQ(c, 1);
    }
    CHECK_EQ(pmm_alloc_run(p, 1000, 2 * MIB, 0, &run), PMM_OK);
    for (uint64_t i = 0; i < 1000; i += 97) {
        CHECK_EQ(pmm_refcount(p, run + i * PG, &c), PMM_OK);
        CHECK_EQ(c, 1);
    }
    CHECK_EQ(pmm_free_run(p, run, 1000), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

TEST(single_pages_exhaust_and_return)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t low_free = 0x9f - 1, expect = st.free - low_free;
    uint64_t *got = malloc(expect * sizeof *got), n = 0, phys;
    char *seen = calloc(0x3f00, 1);
    while (pmm_alloc(p, &phys) == PMM_OK) {
        uint64_t pfn = phys / PG;
        CHECK(pfn >= 256 && pfn < 0x3f00);
        CHECK(!seen[pfn]);
        CHECK(pmm_page_state(p, pfn) == PMM_PAGE_ALLOC);
        seen[pfn] = 1;
        memset(s->mem + phys, 0x5a, PG); /* the owner writes its pages: metadata must not care */
        if (n < expect)
            got[n] = phys;
        n++;
    }
    CHECK_EQ(n, expect);
    CHECK_OK(p);
    /* low memory is still there for a request bounded below 1 MiB, and page 0 never comes */
    CHECK_EQ(pmm_alloc_run(p, 1, 0, 2 * MIB, &phys), PMM_ENOMEM);
    CHECK_EQ(pmm_alloc_run(p, 0x9e, 0, MIB, &phys), PMM_OK);
    CHECK_EQ(phys, PG);
    CHECK_EQ(pmm_alloc_run(p, 1, 0, MIB, &phys), PMM_ENOMEM);
    CHECK_EQ(pmm_free_run(p, PG, 0x9e), PMM_OK);
    for (uint64_t i = 0; i < n && i < expect; i++)
        CHECK_EQ(pmm_free(p, got[i]), PMM_OK);
    struct pmm_stats after;
    pmm_stats(p, &after);
    CHECK_EQ(after.free, st.free);
    CHECK_EQ(after.alloc, 0);
    CHECK_OK(p);
    free(got);
    free(seen);
    sim_free(s);
}

TEST(runs_aligned_and_bounded)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t a, b, c, d;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &a), PMM_OK);
    CHECK_EQ(a % (2 * MIB), 0);
    CHECK(a >= MIB);
    CHECK_EQ(pmm_alloc_run(p, 16, 64 * 1024, 16 * MIB, &b), PMM_OK);
    CHECK_EQ(b % (64 * 1024), 0);
    CHECK(b + 16 * PG <= 16 * MIB && b >= MIB);
    CHECK_EQ(pmm_alloc_run(p, 3, 0, 0, &c), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 1000, 8 * PG, 0, &d), PMM_OK);
    CHECK_EQ(d % (8 * PG), 0);
    /* no overlap between the runs */
    uint64_t r[4][2] = {{a, 512}, {b, 16}, {c, 3}, {d, 1000}};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECK(r[i][0] + r[i][1] * PG <= r[j][0] || r[j][0] + r[j][1] * PG <= r[i][0]);
    for (int i = 0; i < 4; i++)
        for (uint64_t k = 0; k < r[i][1]; k++) {
            uint32_t cnt;
            CHECK_EQ(pmm_refcount(p, r[i][0] + k * PG, &cnt), PMM_OK);
            CHECK_EQ(cnt, 1);
        }
    CHECK_OK(p);
    /* a single page of a run can be freed on its own; the rest stays */
    CHECK_EQ(pmm_free(p, d + 5 * PG), PMM_OK);
    CHECK_EQ(pmm_free_run(p, d, 5), PMM_OK);
    CHECK_EQ(pmm_free_run(p, d + 6 * PG, 994), PMM_OK);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 16), PMM_OK);
    CHECK_EQ(pmm_free_run(p, c, 3), PMM_OK);
    /* the whole 48 MiB conventional range minus metadata is one run again */
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(pmm_alloc_run(p, st.largest, 0, 0, &a), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 0x700, 0, 8 * MIB, &a), PMM_OK); /* all of [1M, 8M) */
    CHECK_EQ(a, MIB);
    CHECK_EQ(pmm_alloc_run(p, 1, 0, 8 * MIB, &a), PMM_ENOMEM);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * 2 MiB-aligned runs longer than whole blocks: the block map finds the blocks, the tail past the
 * last whole block is checked page by page in the free map. With everything else allocated, the
 * run [B, B + n) is free but for one page of its tail (X); the request must fail until X is freed,
 * then return exactly B. Tails cross word boundaries; X is the tail's first, middle or last page.
 *
 *   B (16 MiB)                      B + 512 * blocks
 *   |  whole free blocks ...        | tail: t pages, one of them (X) allocated |
 */
TEST(aligned_runs_with_partial_tails)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t x, got, B = 0x1000;
    while (pmm_alloc(p, &x) == PMM_OK)
        ;
    static const uint64_t tails[] = {1, 2, 63, 64, 65, 127, 128, 200, 511};
    for (uint64_t blocks = 1; blocks <= 2; blocks++) {
        for (unsigned ti = 0; ti < sizeof tails / sizeof tails[0]; ti++) {
            uint64_t t = tails[ti], n = 512 * blocks + t, align = blocks * 2 * MIB;
            uint64_t where[3] = {0, t / 2, t - 1};
            for (int w = 0; w < 3; w++) {
                uint64_t X = B + 512 * blocks + where[w];
                CHECK_EQ(pmm_free_run(p, B * PG, X - B), PMM_OK);
                if (X + 1 < B + n)
                    CHECK_EQ(pmm_free_run(p, (X + 1) * PG, B + n - X - 1), PMM_OK);
                CHECK_REJECTS(p, pmm_alloc_run(p, n, align, 0, &got), PMM_ENOMEM);
                CHECK_EQ(pmm_free(p, X * PG), PMM_OK);
                CHECK_EQ(pmm_alloc_run(p, n, align, 0, &got), PMM_OK);
                CHECK_EQ(got, B * PG);
                CHECK_OK(p);
            }
        }
    }
    sim_free(s);
}

TEST(runs_take_cached_pages_back)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t pg[100], run;
    for (int i = 0; i < 100; i++)
        CHECK_EQ(pmm_alloc(p, &pg[i]), PMM_OK);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(pmm_free(p, pg[i]), PMM_OK); /* held on the allocator's own cache */
    CHECK_EQ(pmm_alloc_run(p, 0x700, 0, 8 * MIB, &run), PMM_OK); /* all of [1M, 8M) */
    CHECK_EQ(run, MIB);
    CHECK_OK(p);
    for (int i = 0; i < 2000; i++) {
        uint64_t x;
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        CHECK(x >= 8 * MIB); /* never a page of the run */
    }
    CHECK_OK(p);
    sim_free(s);
}

TEST(bad_calls_change_nothing)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t x, y, run;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 4, 0, 0, &run), PMM_OK);

    CHECK_REJECTS(p, pmm_free(p, x + 1), PMM_EINVAL);
    CHECK_REJECTS(p, pmm_free(p, 0), PMM_ENOTOWNED);            /* page 0 */
    CHECK_REJECTS(p, pmm_free(p, 0x9f000), PMM_ENOTOWNED);      /* reserved */
    CHECK_REJECTS(p, pmm_free(p, 0x800000), PMM_ENOTOWNED);     /* boot data, withheld */
    CHECK_REJECTS(p, pmm_free(p, st.meta_phys), PMM_ENOTOWNED); /* metadata */
    CHECK_REJECTS(p, pmm_free(p, 0x3f00000), PMM_ENOTOWNED);    /* runtime, past the span */
    CHECK_REJECTS(p, pmm_free(p, 0xfec00000), PMM_ENOTOWNED);   /* MMIO */
    CHECK_REJECTS(p, pmm_free(p, ~0xfffull), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_free(p, 0x200000), PMM_EDOUBLE); /* free, never handed out */
    CHECK_REJECTS(p, pmm_free_run(p, run, 0), PMM_EINVAL);
    CHECK_REJECTS(p, pmm_free_run(p, run, 5), PMM_EDOUBLE); /* one page too many */
    CHECK_REJECTS(p, pmm_free_run(p, run, ~0ull), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_alloc_run(p, 0, 0, 0, &y), PMM_EINVAL);
    CHECK_REJECTS(p, pmm_alloc_run(p, 1, 3 * PG, 0, &y), PMM_EINVAL);
    CHECK_REJECTS(p, pmm_alloc_run(p, 0x4000, 0, 0, &y), PMM_ERANGE);  /* more than RAM */
    CHECK_REJECTS(p, pmm_alloc_run(p, 0x100, 0, MIB, &y), PMM_ERANGE); /* more than low memory */
    CHECK_REJECTS(p, pmm_alloc_run(p, 0x3600, 0, 0, &y), PMM_ENOMEM);  /* fits RAM, no run */
    CHECK_REJECTS(p, pmm_ref_inc(p, 0x200000), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, 0x9f000), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_ref_inc(p, x + 8), PMM_EINVAL);

    /* the double free proper: free once, then again */
    CHECK_EQ(pmm_free(p, x), PMM_OK);
    CHECK_REJECTS(p, pmm_free(p, x), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, x), PMM_EDOUBLE);
    CHECK_EQ(pmm_free_run(p, run, 4), PMM_OK);
    CHECK_REJECTS(p, pmm_free_run(p, run, 4), PMM_EDOUBLE);
    struct pmm_stats after;
    pmm_stats(p, &after);
    CHECK_EQ(after.free, st.free);
    sim_free(s);
}

TEST(reference_counts)
{
    struct sim *s = machine();
    struct pmm *p;
    sim_build(s, 0, &p);
    uint64_t x;
    uint32_t c;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, x), PMM_OK);
    CHECK_EQ(pmm_refcount(p, x, &c), PMM_OK);
    CHECK_EQ(c, 2);
    CHECK_REJECTS(p, pmm_free(p, x), PMM_ESHARED);
    CHECK_EQ(pmm_ref_dec(p, x), PMM_OK);
    CHECK_EQ(pmm_refcount(p, x, &c), PMM_OK);
    CHECK_EQ(c, 1);
    for (uint32_t i = 1; i < PMM_REF_MAX; i++)
        CHECK_EQ(pmm_ref_inc(p, x), PMM_OK);
    CHECK_REJECTS(p, pmm_ref_inc(p, x), PMM_EOVERFLOW);
    for (uint32_t i = PMM_REF_MAX; i > 1; i--)
        pmm_ref_dec(p, x);
    CHECK_EQ(pmm_refcount(p, x, &c), PMM_OK);
    CHECK_EQ(c, 1);
    CHECK_EQ(pmm_ref_dec(p, x), PMM_OK); /* the last reference frees the page */
    CHECK_EQ(pmm_refcount(p, x, &c), PMM_EDOUBLE);
    CHECK_EQ(c, 0);
    CHECK_EQ(pmm_refcount(p, 0x9f000, &c), PMM_ENOTOWNED);
    CHECK_OK(p);
    sim_free(s);
}

/*
 *   0  1M          2G            4G            6G
 *   |  | conv       |  hole       | conv        |
 */
static struct sim *two_zones(struct pmm **p)
{
    struct sim *s = sim_new(6 * GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (2 * GIB - MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 2 * GIB / PG, 0xf);
    CHECK_EQ(sim_build(s, 0, p), PMM_OK);
    return s;
}

/* Single pages come from above 4 GiB until it runs out, then from low memory. */
TEST(single_pages_prefer_high_memory)
{
    struct pmm *p;
    struct sim *s = two_zones(&p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t high = 2 * GIB / PG - st.meta, x, n = 0;
    CHECK(st.meta_phys >= 4 * GIB);
    while (n < high && pmm_alloc(p, &x) == PMM_OK) {
        if (x < 4 * GIB)
            break;
        n++;
    }
    CHECK_EQ(n, high);
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK(x >= MIB && x < 2 * GIB);
    CHECK_OK(p);
    sim_free(s);
}

/* After the refill cursor has wrapped into low memory, freed high memory is still
 * preferred: the cursor must not stay down there. */
TEST(high_memory_preferred_after_wrapping)
{
    struct pmm *p;
    struct sim *s = two_zones(&p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t n = 0, x, high = 0, *got = malloc(st.free * sizeof *got);
    while (pmm_alloc(p, &x) == PMM_OK)
        got[n++] = x;
    for (uint64_t i = 0; i < n; i++) /* high pages first: they fill the stack */
        if (got[i] >= 4 * GIB) {
            high++;
            CHECK_EQ(pmm_free(p, got[i]), PMM_OK);
        }
    for (uint64_t i = 0; i < n; i++)
        if (got[i] < 4 * GIB)
            CHECK_EQ(pmm_free(p, got[i]), PMM_OK);
    /* The allocator's own cache keeps the last freed low pages under its high ones and may hand
     * out up to a cache's worth of them; the pool itself must give high memory first. */
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    uint64_t low = 0;
    for (uint64_t i = 0; i < high; i++) {
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        low += x < 4 * GIB;
    }
    CHECK_EQ(low, 0);
    CHECK_OK(p);
    free(got);
    sim_free(s);
}

/*
 * Low memory stays for those who need it: 60 unbounded 64-page runs on an 8 GiB machine come from
 * above 4 GiB, like single pages, and leave every page below 16 MiB and below 4 GiB free; a
 * 64-page ISA-DMA request (below 16 MiB) still succeeds. With the high memory gone, runs take
 * [16 MiB, 4 GiB) before the last 15 MiB.
 *
 *   0  1M        16M                 3G      4G                     10G
 *   |  | ISA DMA  | 32-bit DMA        | hole  | high                  |
 */
TEST(low_memory_stays_for_those_who_need_it)
{
    struct sim *s = sim_new(10 * GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (3 * GIB - MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 6 * GIB / PG, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    struct pmm_stats before, after;
    pmm_stats(p, &before);
    CHECK_EQ(before.below16m, 15 * MIB / PG);
    CHECK_EQ(before.below4g, (3 * GIB - MIB) / PG);
    uint64_t x;
    for (int i = 0; i < 60; i++) {
        CHECK_EQ(pmm_alloc_run(p, 64, 0, 0, &x), PMM_OK);
        CHECK(x >= 4 * GIB);
    }
    pmm_stats(p, &after);
    CHECK_EQ(after.below16m, before.below16m);
    CHECK_EQ(after.below4g, before.below4g);
    CHECK_EQ(pmm_alloc_run(p, 64, 0, 16 * MIB, &x), PMM_OK);
    CHECK(x + 64 * PG <= 16 * MIB);
    /* without high memory, runs come from [16 MiB, 4 GiB) first */
    while (pmm_alloc_run(p, 4096, 0, 0, &x) == PMM_OK && x >= 4 * GIB)
        ;
    CHECK(x >= 16 * MIB && x < 4 * GIB);
    pmm_stats(p, &after);
    CHECK_EQ(after.below16m, before.below16m - 64);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Two sections of RAM with an absent one between them: neighbours in compact order, 128 MiB apart
 * physically. A run must never join the end of one to the start of the other, and a bound that
 * falls in the hole still admits everything below it.
 *
 *   1M            128M          256M          384M
 *   | section 0    | (absent)    | section 2    |
 *                ^^^ free tail    ^^^ free head: together long enough, but not contiguous
 */
TEST(runs_never_cross_a_hole)
{
    struct sim *s = sim_new(384 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 127 * MIB / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 256 * MIB, 128 * MIB / PG, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.present_sections, 2);
    uint64_t x;
    while (pmm_alloc(p, &x) == PMM_OK)
        ;
    /* free the last 1024 pages below 128 MiB (if not metadata) and the first 1024 above 256 MiB */
    uint64_t tail = 128 * MIB - 1024 * PG, head = 256 * MIB, freed = 0;
    for (uint64_t i = 0; i < 1024; i++) {
        freed += pmm_free(p, tail + i * PG) == PMM_OK;
        freed += pmm_free(p, head + i * PG) == PMM_OK;
    }
    CHECK_EQ(freed, 2048); /* the metadata sits at the top of section 2, away from both */
    CHECK_REJECTS(p, pmm_alloc_run(p, 1025, 0, 0, &x), PMM_ENOMEM);
    CHECK_REJECTS(p, pmm_alloc_run(p, 1536, 2 * MIB, 0, &x), PMM_ENOMEM);
    CHECK_EQ(pmm_alloc_run(p, 1024, 2 * MIB, 0, &x), PMM_OK);
    CHECK(x == head || x == tail);
    CHECK_EQ(pmm_free_run(p, x, 1024), PMM_OK);
    /* a limit inside the hole: only section 0 qualifies, and it has the free tail */
    CHECK_EQ(pmm_alloc_run(p, 512, 0, 200 * MIB, &x), PMM_OK);
    CHECK(x >= tail && x + 512 * PG <= 128 * MIB);
    CHECK_OK(p);
    sim_free(s);
}

/* Concurrent mode: refused while the firmware hooks are set; the same answers once in it. */
TEST(concurrent_mode_after_reconcile)
{
    struct sim *s = machine();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_ESTATE);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    uint64_t x, r;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 8, 0, 0, &r), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, x), PMM_OK);
    CHECK_REJECTS(p, pmm_free(p, x), PMM_ESHARED);
    CHECK_EQ(pmm_ref_dec(p, x), PMM_OK);
    CHECK_EQ(pmm_free(p, x), PMM_OK);
    CHECK_REJECTS(p, pmm_free(p, x), PMM_EDOUBLE);
    CHECK_EQ(pmm_free_run(p, r, 8), PMM_OK);
    CHECK_REJECTS(p, pmm_free_run(p, r, 8), PMM_EDOUBLE);
    CHECK_OK(p);
    CHECK_EQ(pmm_set_concurrent(p, 0), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * A 2 MiB block on a machine that cannot hold one at or above 1 MiB is PMM_ERANGE, as any other
 * run that can never fit, not PMM_ENOMEM: the one-CPU fast path for whole blocks used to answer
 * before alloc_run's range checks (found by fuzz_ops on its smaller machine).
 */
TEST(block_that_can_never_fit)
{
    static const uint64_t top[] = {0x100, 0x1ff}; /* fewer usable pages than a block; or above
                                                   * 1 MiB fewer than a block, more in all */
    for (unsigned k = 0; k < 2; k++) {
        struct sim *s = sim_new(4 * MIB);
        sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
        sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
        sim_add(s, PMM_EFI_CONVENTIONAL, MIB, top[k], 0xf);
        struct pmm *p;
        uint64_t x;
        CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
        CHECK_REJECTS(p, pmm_alloc_run(p, 512, 512 * PG, 0, &x), PMM_ERANGE);
        CHECK_REJECTS(p, pmm_alloc_run(p, 512, 0, 0, &x), PMM_ERANGE);
        sim_free(s);
    }
}

int main(void)
{
    RUN(build_layout);
    RUN(ranges_keep_their_efi_types);
    RUN(metadata_built_in_dirty_memory);
    RUN(single_pages_exhaust_and_return);
    RUN(runs_aligned_and_bounded);
    RUN(aligned_runs_with_partial_tails);
    RUN(runs_take_cached_pages_back);
    RUN(bad_calls_change_nothing);
    RUN(reference_counts);
    RUN(low_memory_stays_for_those_who_need_it);
    RUN(runs_never_cross_a_hole);
    RUN(concurrent_mode_after_reconcile);
    RUN(single_pages_prefer_high_memory);
    RUN(high_memory_preferred_after_wrapping);
    RUN(block_that_can_never_fit);
    HARNESS_MAIN_END();
}
