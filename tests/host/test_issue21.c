/*
 * test_issue21.c - the three defects issue 21 found by review, as permanent tests (each named
 * after its defect). Found in the design before the lock-free pool; each must stay fixed in this
 * one, whose structures differ.
 *
 *  d1  A bound that cuts a 2 MiB block freed whole: the block's pages below the bound are free
 *      and a bounded run must get them (once, a freed block sat on a stack out of the pool).
 *  d2  A header consistent with itself whose span is near 2^52 pages: adopt must refuse it,
 *      naming the field, before it computes anything from it (once, a ninth summary level was
 *      written into an eight-entry array on adopt's stack before the refusal).
 *  d3  A search cursor at the lowest block: single pages must still never come from below 1 MiB
 *      (once, a refill cursor below 1 MiB passed pmm_check and pmm_adopt and pmm_alloc then handed
 *      out the AP start-up page). Cursors are block numbers now, and the block holding 1 MiB is
 *      block 0, which holds page 0 too: a cursor cannot point below 1 MiB, so the guarantee
 *      must hold with every cursor at block 0, and a cursor past the blocks is refused.
 */
#include "common.h"
#include "layout.h"

HARNESS_GLOBALS

#define TOP (4 * GIB - 2 * MIB) /* the highest 2 MiB block below 4 GiB */

static uint64_t nfree(const struct pmm *p)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st.free;
}

/* Three ways to hold the state: one CPU at a time, concurrent, adopted by a new owner. */
static struct pmm *mode(struct sim *s, struct pmm *p, int m)
{
    if (m == 1)
        CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    if (m == 2) {
        CHECK_EQ(pmm_drain(p, 0), PMM_OK);
        int err = 0;
        p = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err);
        CHECK(p != 0);
    }
    return p;
}

/*
 * d1: a 3 GiB machine ([1 MiB, 2 GiB) and [3 GiB, 4 GiB), and 64 MiB above 4 GiB that holds the
 * metadata), every page handed out, then the block [4 GiB - 2 MiB, 4 GiB) freed whole, and the one
 * at 16 MiB: a 32-bit DMA mask (limit 0xffffffff) leaves 511 of the top block's pages, a limit of
 * 17 MiB half of the other's. Each bounded request that fits in them succeeds there; one that
 * does not fails with nothing changed.
 */
TEST(d1_a_bound_through_a_freed_block_finds_its_pages)
{
    for (int m = 0; m < 3; m++) {
        struct sim *s = sim_new(5 * GIB);
        s->max_cpus = 2;
        sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (2 * GIB - MIB) / PG, 0);
        sim_add(s, PMM_EFI_CONVENTIONAL, 3 * GIB, GIB / PG, 0);
        sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 64 * MIB / PG, 0);
        struct pmm *p;
        CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
        CHECK_EQ(sim_reconcile(s, p), PMM_OK);
        p = mode(s, p, m);
        uint64_t x, blocks = 0, singles = 0;
        while (pmm_alloc_run(p, 512, 2 * MIB, 0, &x) == PMM_OK) /* whole blocks, taken whole */
            blocks++;
        while (pmm_alloc_run(p, 1, PG, 0, &x) == PMM_OK)
            singles++;
        CHECK(blocks > 1500);
        CHECK_EQ(nfree(p), 0);
        CHECK_EQ(pmm_page_state(p, TOP / PG), PMM_PAGE_ALLOC);
        static const struct {
            uint64_t n, align, limit, at; /* at 0: must fail */
        } asks[2][7] = {{
                            {1, 0, 0xffffffff, TOP},
                            {511, PG, 0xffffffff, TOP},
                            {511, 2 * MIB, 0xffffffff, TOP},
                            {300, 64 * PG, 0xffffffff, TOP},
                            {512, PG, 0xffffffff, 0}, /* the last page is past the mask */
                            {512, 2 * MIB, 0xffffffff, 0},
                            {1, PG, TOP, 0}, /* nothing of it below the block */
                        },
                        {
                            {1, 0, 17 * MIB, 16 * MIB},
                            {256, PG, 17 * MIB, 16 * MIB},
                            {256, MIB, 17 * MIB, 16 * MIB},
                            {128, 2 * MIB, 17 * MIB, 16 * MIB},
                            {257, PG, 17 * MIB, 0},
                            {2, PG, 16 * MIB + 4 * PG, 16 * MIB},
                            {1, PG, 16 * MIB, 0},
                        }};
        for (int phase = 0; phase < 2; phase++) {
            uint64_t a = phase ? 16 * MIB : TOP;
            CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK); /* the only free block */
            CHECK_OK(p);
            for (unsigned i = 0; i < 7; i++) {
                if (!asks[phase][i].at) {
                    CHECK_REJECTS(p,
                                  pmm_alloc_run(p, asks[phase][i].n, asks[phase][i].align,
                                                asks[phase][i].limit, &x),
                                  PMM_ENOMEM);
                    continue;
                }
                x = 0;
                CHECK_EQ(pmm_alloc_run(p, asks[phase][i].n, asks[phase][i].align,
                                       asks[phase][i].limit, &x),
                         PMM_OK);
                CHECK_EQ(x, asks[phase][i].at);
                CHECK_OK(p);
                CHECK_EQ(pmm_free_run(p, x, asks[phase][i].n), PMM_OK);
            }
            if (!phase) { /* taken back whole */
                CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &x), PMM_OK);
                CHECK_EQ(x, TOP);
            }
        }
        /* and single pages: the allocator's own path finds them too */
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        CHECK(x >= 16 * MIB && x < 18 * MIB);
        CHECK_EQ(pmm_free_run(p, x, 1), PMM_OK);
        CHECK_EQ(pmm_drain(p, 0), PMM_OK);
        CHECK_EQ(nfree(p), 512);
        CHECK_OK(p);
        sim_free(s);
    }
}

/*
 * d2: a real state's header rewritten as a self-consistent whole (tests/host/layout.h: every
 * derived field, table place and summary level agreeing) for a span pmm_layout refuses. Adopt
 * names the span, and the whole metadata run is as it was (run under ASan too: nothing on adopt's
 * stack is written past its end).
 */
TEST(d2_adopt_refuses_a_hostile_geometry_before_using_it)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 64, 0, &p);
    uint64_t phys = pmm_state_phys(p), off = (uint64_t)(uintptr_t)s->mem;
    uint64_t mbytes = pmm_meta_pages(p) * PG;
    unsigned char *good = malloc(mbytes), *before = malloc(mbytes);
    memcpy(good, p, mbytes);
    /* near 2^52 pages (the case: eight levels of 64 cover 2^48 blocks, this needs all
     * eight), just past the 2^47 pages that 2^32 sections hold, and the largest span there is */
    static const uint64_t spans[] = {(1ull << 52) - 1, (1ull << 52) - PMM_SEC_PAGES - 3,
                                     (PMM_MAX_SECTIONS << PMM_SEC_SHIFT) + 1, 1ull << 63, ~0ull};
    for (unsigned i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        memcpy(p, good, mbytes);
        /* every section present: the summaries as large as the span makes them */
        layout_rewrite(p, spans[i], spans[i] / PMM_SEC_PAGES + (spans[i] % PMM_SEC_PAGES != 0));
        if (i == 0)
            CHECK(p->avail.nlevels == PMM_LEVELS && p->avail.nwords[PMM_LEVELS - 1] == 1);
        memcpy(before, p, mbytes);
        int err = 0;
        struct pmm_adopt_error why = {0, 0};
        CHECK(pmm_adopt_why(phys, off, &err, &why) == 0);
        CHECK_EQ(err, PMM_ESTATE);
        CHECK(why.field && !strcmp(why.field, "span"));
        CHECK(memcmp(before, p, mbytes) == 0); /* nothing written: the whole metadata run */
        CHECK(pmm_adopt(phys, off, &err) == 0);
        CHECK(memcmp(before, p, mbytes) == 0);
    }
    /* the layout's own bound: pmm_layout refuses the same geometries, writing only its struct */
    uint64_t pmm_layout(struct pmm * t);
    for (unsigned i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        struct {
            struct pmm t;
            uint64_t canary[8];
        } box;
        memset(&box, 0, sizeof box);
        box.t.span = spans[i];
        box.t.nslots = (spans[i] >> PMM_SEC_SHIFT) + 1;
        box.t.nnodes = 1;
        CHECK_EQ(pmm_layout(&box.t), 0);
        box.t.nslots = 1;
        CHECK_EQ(pmm_layout(&box.t), 0);
        for (int k = 0; k < 8; k++)
            CHECK_EQ(box.canary[k], 0);
    }
    memcpy(p, good, mbytes);
    int err = 0;
    CHECK(pmm_adopt(phys, off, &err) == p);
    CHECK_OK(p);
    free(good);
    free(before);
    sim_free(s);
}

/*
 * d3: low memory [4 KiB, 640 KiB) beside [1 MiB, 33 MiB), two CPUs. Every search cursor (the
 * pool's, each cache's, the allocator's own) forced to block 0, the one that holds page 0 and
 * 1 MiB: in each mode, single pages from every path run out with all of low memory still free,
 * and a request bounded below 1 MiB then gets a low page. pmm_check and pmm_adopt accept a cursor
 * at block 0 and refuse one past the blocks.
 */
TEST(d3_no_page_below_1mib_whatever_the_cursors)
{
    uint64_t low = 0x9f; /* pages [1, 0xa0): page 0 is never the pool's */
    for (int m = 0; m < 3; m++) {
        struct sim *s = sim_new(GIB);
        s->max_cpus = 2;
        sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0xa0, 0);
        sim_add(s, PMM_EFI_RESERVED, 0xa0000, 0x60, 0);
        sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 32 * MIB / PG, 0);
        struct pmm *p;
        CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
        CHECK_EQ(sim_reconcile(s, p), PMM_OK);
        p->cursor = 0;
        p->home.cursor = 0;
        p->at.cache[0].cursor = p->at.cache[1].cursor = 0;
        CHECK_OK(p);
        p = mode(s, p, m);
        CHECK_EQ(p->cursor, 0);
        uint64_t x, got = 0, bad = 0;
        for (int path = 0; path < 3; path++) {
            int rc;
            while ((rc = path == 0   ? pmm_alloc(p, &x)
                         : path == 1 ? pmm_cpu_alloc(p, 0, &x)
                                     : pmm_cpu_alloc(p, 1, &x)) == PMM_OK) {
                bad += x < MIB;
                got++;
            }
            CHECK_EQ(rc, PMM_ENOMEM);
        }
        CHECK_EQ(bad, 0);
        CHECK(got > 8000);
        CHECK_EQ(nfree(p), low + pmm_cpu_cached(p, 0) + pmm_cpu_cached(p, 1) + p->home.n);
        CHECK_EQ(pmm_drain(p, 0), PMM_OK);
        for (int i = 0; i < 4; i++) {
            CHECK_EQ(pmm_alloc(p, &x), PMM_ENOMEM); /* the caches' pages are back and taken */
            if (pmm_cpu_alloc(p, (uint32_t)i % 2, &x) == PMM_OK)
                CHECK(x >= MIB);
        }
        CHECK_EQ(pmm_drain(p, 0), PMM_OK);
        uint64_t lowfree = 0;
        for (uint64_t pfn = 0; pfn < 256; pfn++)
            lowfree += pmm_page_state(p, pfn) == PMM_PAGE_FREE;
        CHECK_EQ(lowfree, low);
        CHECK_EQ(pmm_alloc_run(p, 1, PG, MIB, &x), PMM_OK); /* the AP start-up page */
        CHECK(x && x < MIB);
        CHECK_OK(p);
        sim_free(s);
    }

    /* the only cursor that is wrong: past the blocks, for the pool, a cache, the allocator's */
    struct pmm *p;
    struct sim *s = small_machine(2, 32, 0, &p);
    uint64_t phys = pmm_state_phys(p), off = (uint64_t)(uintptr_t)s->mem;
    uint64_t *cursors[] = {&p->cursor, &p->at.cache[0].cursor, &p->at.cache[1].cursor,
                           &p->home.cursor};
    const char *field[] = {"cursor", "cache_phys", "cache_phys", "home"};
    for (int i = 0; i < 4; i++) {
        uint64_t keep = *cursors[i];
        *cursors[i] = 0;
        CHECK_OK(p);
        *cursors[i] = p->nblocks;
        check_fails_with(p, "cursor");
        int err = 0;
        struct pmm_adopt_error why = {0, 0};
        CHECK(pmm_adopt_why(phys, off, &err, &why) == 0);
        CHECK(why.field && !strcmp(why.field, field[i]));
        *cursors[i] = keep;
    }
    int err = 0;
    CHECK(pmm_adopt(phys, off, &err) == p);
    sim_free(s);
}

int main(void)
{
    RUN(d1_a_bound_through_a_freed_block_finds_its_pages);
    RUN(d2_adopt_refuses_a_hostile_geometry_before_using_it);
    RUN(d3_no_page_below_1mib_whatever_the_cursors);
    HARNESS_MAIN_END();
}
