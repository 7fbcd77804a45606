/*
 * test_blocks.c - 2 MiB blocks (state.h): FRESH blocks whose per-page words are written on first
 * use, runs of whole blocks taken with one count each (take_whole) and freed the same way, runs of
 * several blocks with partial tails, and the searches in fragmented memory (issue 19's scenarios:
 * every 7th page held but for 1 block in 16, or 1 region of 16 MiB in 16).
 *
 * The machine most tests use: 2 GiB below 4 GiB and 2 GiB above, built in the boot phase and
 * reconciled, 2 caches; runs come from at or above 4 GiB first, first fit, so the first 2 MiB
 * block handed out is the one at 4 GiB.
 *
 *   0   1M                 2G         4G                    6G
 *   |   | conventional     |  (hole)  | conventional   meta |
 */
#include "common.h"

HARNESS_GLOBALS

static struct sim *machine(struct pmm **p, int reconcile)
{
    struct sim *s = sim_new(6 * GIB);
    s->max_cpus = 2;
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (2 * GIB - MIB) / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 2 * GIB / PG, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    if (reconcile)
        CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    CHECK_OK(*p);
    return s;
}

/* The block holding physical address a, and what the pool says of it. */
static uint64_t blk(const struct pmm *p, uint64_t a)
{
    return cidx(p, a / PG) >> PMM_BLOCK_SHIFT;
}
static unsigned own_at(const struct pmm *p, uint64_t a)
{
    return p->at.own[blk(p, a)];
}
static unsigned count_at(const struct pmm *p, uint64_t a)
{
    return p->at.count[blk(p, a)];
}
static int sum_bit(const struct pmm *p, const struct pmm_sum *s, uint64_t a)
{
    uint64_t b = blk(p, a);
    return (sum_words(p, s, 0)[b >> 6] >> (b & 63)) & 1;
}
/* The block is in the pool wholly free, as a searcher must see it: count, both summaries. */
static void whole_free(const struct pmm *p, uint64_t a)
{
    CHECK_EQ(count_at(p, a), PMM_BLOCK_PAGES);
    CHECK_EQ(sum_bit(p, &p->whole, a), 1);
    CHECK_EQ(sum_bit(p, &p->avail, a), 1);
}

static uint64_t block(struct pmm *p, uint64_t limit)
{
    uint64_t x = 0;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, limit, &x), PMM_OK);
    CHECK_EQ(x & (2 * MIB - 1), 0);
    return x;
}

static uint64_t nfree(const struct pmm *p)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st.free;
}

/* The first address at or above `from`, a multiple of align, where len pages are free, below `to`
 * (the pages' states one by one: a naive first fit). */
static uint64_t naive_fit(const struct pmm *p, uint64_t len, uint64_t align, uint64_t from,
                          uint64_t to)
{
    for (uint64_t a = (from + align - 1) & ~(align - 1); a + len * PG <= to; a += align) {
        uint64_t i = 0;
        while (i < len && pmm_page_state(p, a / PG + i) == PMM_PAGE_FREE)
            i++;
        if (i == len)
            return a;
    }
    return PMM_NONE;
}

/* Take every free page with single-page runs (straight from the pool: no cache holds them). */
static uint64_t take_all(struct pmm *p)
{
    uint64_t n = 0, z;
    while (pmm_alloc_run(p, 1, PG, 0, &z) == PMM_OK)
        n++;
    return n;
}

/* Every page of [a, a + n pages) allocated with one reference. */
static void allocated(const struct pmm *p, uint64_t a, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t c = 0;
        bad += pmm_refcount(p, a + i * PG, &c) != PMM_OK || c != 1 ||
               pmm_page_state(p, a / PG + i) != PMM_PAGE_ALLOC;
    }
    CHECK_EQ(bad, 0);
}

/*
 * The build writes no per-page word for plain free RAM: in memory full of junk, a FRESH block's
 * free words and counts are still junk after the build, and every reader takes the block as wholly
 * free all the same. The first page taken from it writes its words (ALL); a block beside it stays
 * FRESH and unwritten. Blocks at the edges of a range get their words at build (SOME).
 */
TEST(fresh_blocks_are_written_on_first_use)
{
    struct sim *s = sim_new(128 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 95 * MIB / PG, 0);
    memset(s->mem + 80 * MIB, 0xa5, 48 * MIB); /* the metadata goes at the top: junk there */
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    CHECK(pmm_state_phys(p) > 80 * MIB);
    uint64_t junk = 0xa5a5a5a5a5a5a5a5ull, b8 = 16 * MIB, b9 = 18 * MIB;
    CHECK_EQ(own_at(p, 0), OWN_SOME); /* [1 MiB, 2 MiB): some pages owned */
    CHECK_EQ(count_at(p, 0), 256);
    for (uint64_t a = 2 * MIB; a < 94 * MIB; a += 2 * MIB) {
        CHECK_EQ(own_at(p, a), OWN_FRESH);
        whole_free(p, a);
    }
    CHECK_EQ(p->span, 96 * MIB / PG);
    CHECK_EQ(p->at.own[48], OWN_NONE); /* past span, in its section: compact = page here */
    CHECK_EQ(p->at.count[48], 0);
    uint64_t c8 = cidx(p, b8 / PG), c9 = cidx(p, b9 / PG);
    CHECK_EQ(p->at.free[c8 >> 6], junk); /* FRESH: never written, read as all free */
    CHECK_EQ(p->at.refs[c8 + 7], 0xa5a5);
    CHECK_EQ(pmm_page_state(p, b8 / PG + 7), PMM_PAGE_FREE);
    uint64_t at = 0, n = 0;
    CHECK_EQ(pmm_next_free_range(p, 2 * MIB / PG, &at, &n), 1);
    CHECK_EQ(at, 2 * MIB / PG);
    CHECK(n >= 92 * MIB / PG);
    /* every call that wants an allocated page refuses a page of a FRESH block, writing nothing */
    uint32_t cnt;
    CHECK_REJECTS(p, pmm_free(p, b8 + 7 * PG), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, b8, 512), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, b8 + PG, 3), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_inc(p, b8), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, b8), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_refcount(p, b8, &cnt), PMM_EDOUBLE);
    CHECK_EQ(p->at.free[c8 >> 6], junk);
    CHECK_EQ(own_at(p, b8), OWN_FRESH);

    /* the first run in [16 MiB, 4 GiB) opens block 8: words written, all free but the page */
    uint64_t x;
    CHECK_EQ(pmm_alloc_run(p, 3, PG, 0, &x), PMM_OK);
    CHECK_EQ(x, b8);
    CHECK_EQ(own_at(p, b8), OWN_ALL);
    CHECK_EQ(count_at(p, b8), 509);
    CHECK_EQ(p->at.free[c8 >> 6], ~7ull);
    for (int i = 1; i < 8; i++)
        CHECK_EQ(p->at.free[(c8 >> 6) + (uint64_t)i], ~0ull);
    uint64_t refs_junk = 0;
    for (int i = 0; i < 512; i++)
        refs_junk += p->at.refs[c8 + (uint64_t)i] != 0;
    CHECK_EQ(refs_junk, 0);
    allocated(p, b8, 3);
    CHECK_EQ(own_at(p, b9), OWN_FRESH); /* its neighbour: untouched */
    CHECK_EQ(p->at.free[c9 >> 6], junk);
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, x, 3), PMM_OK);
    CHECK_EQ(own_at(p, b8), OWN_ALL); /* opened for good: ALL, wholly free */
    whole_free(p, b8);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * A FRESH block taken whole is written straight as allocated (no page by page claim): ALL, count
 * 0, its `whole` bit cleared by the taker; every page allocated with one reference. Freed whole,
 * it is one count add away from wholly free again (ALL, not FRESH), and the next 2 MiB run is the
 * same block (first fit). In concurrent mode the same.
 */
TEST(a_whole_block_taken_and_freed)
{
    for (int conc = 0; conc < 2; conc++) {
        struct pmm *p;
        struct sim *s = machine(&p, 1);
        CHECK_EQ(pmm_set_concurrent(p, conc), PMM_OK);
        uint64_t f0 = nfree(p), a = block(p, 0), b = block(p, 0);
        CHECK_EQ(a, 4 * GIB);
        CHECK_EQ(b, 4 * GIB + 2 * MIB);
        uint64_t c = cidx(p, a / PG);
        CHECK_EQ(own_at(p, a), OWN_ALL);
        CHECK_EQ(count_at(p, a), 0);
        CHECK_EQ(sum_bit(p, &p->whole, a), 0); /* cleared by the CPU that took it */
        for (int i = 0; i < 8; i++)
            CHECK_EQ(p->at.free[(c >> 6) + (uint64_t)i], 0);
        CHECK_EQ((p->at.marks[c >> 12] >> ((c >> 6) & 63)) & 0xff, 0);
        allocated(p, a, 512);
        CHECK_EQ(nfree(p), f0 - 1024);
        CHECK_OK(p);
        CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
        CHECK_EQ(own_at(p, a), OWN_ALL);
        whole_free(p, a);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(p->at.free[(c >> 6) + (uint64_t)i], ~0ull);
        CHECK_EQ(pmm_page_state(p, a / PG + 511), PMM_PAGE_FREE);
        CHECK_OK(p);
        CHECK_EQ(block(p, 0), a); /* first fit: the lowest wholly free block */
        CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
        CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
        CHECK_REJECTS(p, pmm_free_run(p, b, 512), PMM_EDOUBLE); /* twice */
        CHECK_EQ(nfree(p), f0);
        /* a run of 512 pages that need not be aligned is taken a block at a time as well */
        uint64_t u;
        CHECK_EQ(pmm_alloc_run(p, 512, PG, 0, &u), PMM_OK);
        CHECK_EQ(u, 4 * GIB);
        CHECK_EQ(count_at(p, u), 0);
        CHECK_EQ(pmm_free_run(p, u, 512), PMM_OK);
        whole_free(p, u);
        CHECK_OK(p);
        sim_free(s);
    }
}

/*
 * Runs of k whole blocks and a tail of t pages, 2 or 4 MiB aligned: the blocks taken whole, the
 * tail claimed in the next block (opened if it was FRESH), which keeps the rest of its pages free.
 * Freed with one call each, every block is wholly free again.
 */
TEST(runs_of_several_blocks_with_tails)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t f0 = nfree(p);
    static const uint64_t tails[] = {0, 1, 63, 64, 300, 511};
    uint64_t got[3 * 6 * 2], lens[3 * 6 * 2], n = 0, end = 4 * GIB;
    for (uint64_t k = 1; k <= 3; k++) {
        for (unsigned ti = 0; ti < 6; ti++) {
            for (uint64_t align = 2 * MIB; align <= 4 * MIB; align *= 2) {
                uint64_t len = 512 * k + tails[ti], x = 0;
                uint64_t want = naive_fit(p, len, align, 4 * GIB, 6 * GIB);
                CHECK_EQ(pmm_alloc_run(p, len, align, 0, &x), PMM_OK);
                CHECK_EQ(x, want); /* first fit at or above 4 GiB */
                for (uint64_t i = 0; i < k; i++) {
                    CHECK_EQ(count_at(p, x + i * 2 * MIB), 0);
                    CHECK_EQ(sum_bit(p, &p->whole, x + i * 2 * MIB), 0);
                }
                uint64_t tail = x + k * 2 * MIB;
                if (tails[ti]) {
                    CHECK_EQ(own_at(p, tail), OWN_ALL);
                    CHECK(count_at(p, tail) <= 512 - tails[ti]);
                    CHECK_EQ(pmm_page_state(p, tail / PG + tails[ti]), PMM_PAGE_FREE);
                    CHECK_EQ(sum_bit(p, &p->avail, tail), 1);
                    CHECK_EQ(sum_bit(p, &p->whole, tail), 0);
                }
                allocated(p, x, len);
                got[n] = x;
                lens[n++] = len;
                end = x + len * PG > end ? x + len * PG : end;
            }
        }
    }
    CHECK_OK(p);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_free_run(p, got[i], lens[i]), PMM_OK);
    for (uint64_t a = 4 * GIB; a < end; a += 2 * MIB)
        whole_free(p, a);
    CHECK_EQ(nfree(p), f0);
    CHECK_OK(p);
    sim_free(s);
}

/* A block with one page in use is passed over; an aligned run of blocks skips to the next
 * aligned candidate; a run that no k whole blocks in a row can hold fails, changing nothing. */
TEST(whole_runs_pass_over_blocks_that_are_not_whole)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t one, x;
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 0, &one), PMM_OK);
    CHECK_EQ(one, 4 * GIB);
    CHECK_EQ(block(p, 0), 4 * GIB + 2 * MIB);
    CHECK_EQ(pmm_alloc_run(p, 1024, 4 * MIB, 0, &x), PMM_OK); /* 4G + 4M, 8M: aligned */
    CHECK_EQ(x, 4 * GIB + 4 * MIB);
    uint64_t y;
    CHECK_EQ(pmm_alloc_run(p, 1024, 8 * MIB, 0, &y), PMM_OK);
    CHECK_EQ(y, 4 * GIB + 8 * MIB);
    CHECK_EQ(pmm_free_run(p, y, 1024), PMM_OK);
    /* the page at 4 GiB freed: on the allocator's own cache first (one CPU at a time), then in
     * the pool, and its block is whole again and the first fit for one block */
    CHECK_EQ(pmm_free(p, one), PMM_OK);
    CHECK_EQ(count_at(p, 4 * GIB), 511);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    whole_free(p, 4 * GIB);
    CHECK_EQ(block(p, 0), 4 * GIB);
    CHECK_OK(p);
    sim_free(s);

    /* 64 MiB of RAM, every page taken, then all given back but one page at 8, 24, 40 and 56 MiB:
     * the longest stretch of whole blocks is 7 (14 MiB), and runs come from [16 MiB, 4 GiB)
     * first */
    s = small_machine(0, 64, 0, &p);
    CHECK(take_all(p) > 16000);
    uint64_t top = 0, len = 0;
    CHECK_EQ(pmm_next_alloc_range(p, MIB / PG, &top, &len), 1);
    top = (top + len) * PG; /* where the metadata begins */
    static const uint64_t held[] = {8 * MIB, 24 * MIB, 40 * MIB, 56 * MIB};
    for (uint64_t i = 0, from = MIB; i <= 4; i++) {
        uint64_t to = i < 4 ? held[i] : top;
        CHECK_EQ(pmm_free_run(p, from, (to - from) / PG), PMM_OK);
        from = to + PG;
    }
    CHECK_EQ(pmm_page_state(p, 8 * MIB / PG), PMM_PAGE_ALLOC);
    CHECK_EQ(pmm_page_state(p, 24 * MIB / PG), PMM_PAGE_ALLOC);
    CHECK_OK(p);
    CHECK_REJECTS(p, pmm_alloc_run(p, 16 * MIB / PG, 2 * MIB, 0, &x), PMM_ENOMEM);
    CHECK_EQ(pmm_alloc_run(p, 14 * MIB / PG, 2 * MIB, 0, &x), PMM_OK);
    CHECK_EQ(x, 26 * MIB);
    CHECK_EQ(pmm_alloc_run(p, 14 * MIB / PG, 2 * MIB, 0, &y), PMM_OK);
    CHECK_EQ(y, 42 * MIB);
    CHECK_EQ(pmm_alloc_run(p, 14 * MIB / PG, 2 * MIB, 0, &y), PMM_OK);
    CHECK_EQ(y, 10 * MIB); /* across 16 MiB: after both zones alone came up empty */
    CHECK_EQ(pmm_alloc_run(p, 6 * MIB / PG, 2 * MIB, 0, &y), PMM_OK);
    CHECK_EQ(y, 58 * MIB);
    CHECK_EQ(pmm_alloc_run(p, 6 * MIB / PG, 2 * MIB, 0, &y), PMM_OK);
    CHECK_EQ(y, 2 * MIB); /* [1 MiB, 16 MiB) last */
    CHECK_OK(p);
    sim_free(s);
}

/*
 * A 2 MiB block freed whole in O(1) is checked whole first: a shared page, a free page or a page
 * held on a cache in it, a block that is FRESH, partly ours or not ours at all, each refused
 * with nothing changed; a stale mark (a page shared and released) sends it down the general path,
 * which frees it.
 */
TEST(a_block_freed_whole_is_checked_first)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), y;
    CHECK_EQ(pmm_ref_inc(p, a + 7 * PG), PMM_OK);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_ESHARED);
    CHECK_EQ(pmm_ref_dec(p, a + 7 * PG), PMM_OK); /* its group stays marked: stale */
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    whole_free(p, a);
    CHECK_EQ(block(p, 0), a); /* taken whole: the marks are cleared */
    CHECK_EQ(pmm_free_run(p, a + 300 * PG, 1), PMM_OK);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, a + 299 * PG, 2), PMM_EDOUBLE);
    CHECK_EQ(pmm_alloc_run(p, 1, PG, a + 301 * PG, &y), PMM_OK); /* the only free page below */
    CHECK_EQ(y, a + 300 * PG);
    CHECK_EQ(pmm_cpu_free(p, 1, a + 9 * PG), PMM_OK); /* held on CPU 1's cache */
    CHECK_EQ(count_at(p, a), 0);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, a + 9 * PG, 1), PMM_EDOUBLE);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &y), PMM_OK); /* back from the cache: the newest first */
    CHECK_EQ(y, a + 9 * PG);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    whole_free(p, a);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_EDOUBLE); /* now free */
    /* FRESH: free, never handed out */
    CHECK_EQ(own_at(p, 5 * GIB), OWN_FRESH);
    CHECK_REJECTS(p, pmm_free_run(p, 5 * GIB, 512), PMM_EDOUBLE);
    /* not the pool's: a block of the hole, the metadata's first whole block, page 0's block */
    CHECK_REJECTS(p, pmm_free_run(p, 3 * GIB, 512), PMM_ENOTOWNED);
    uint64_t meta = (pmm_state_phys(p) + 2 * MIB - 1) & ~(2 * MIB - 1);
    CHECK(meta + 2 * MIB <= pmm_state_phys(p) + pmm_meta_pages(p) * PG);
    CHECK_REJECTS(p, pmm_free_run(p, meta, 512), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_free_run(p, 0, 512), PMM_ENOTOWNED);
    CHECK_EQ(own_at(p, 0), OWN_SOME);
    CHECK_OK(p);
    sim_free(s);
}

/* In the boot phase every page of a run is claimed from the firmware and released to it; a block
 * whose page the firmware took behind our back loses that page and the run comes from the next. */
TEST(block_runs_in_the_boot_phase)
{
    struct pmm *p;
    struct sim *s = machine(&p, 0);
    uint64_t a = block(p, 0), used = 0;
    CHECK_EQ(a, 4 * GIB);
    for (uint64_t i = 0; i < 512; i++)
        used += sim_fw_used(s, a / PG + i) == 2;
    CHECK_EQ(used, 512);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    for (uint64_t i = 0; i < 512; i++)
        used -= sim_fw_used(s, a / PG + i) == 0;
    CHECK_EQ(used, 0);
    whole_free(p, a);
    sim_fw_take(s, a / PG + 100, 1);
    uint64_t b = block(p, 0);
    CHECK_EQ(b, a + 2 * MIB);
    CHECK_EQ(own_at(p, a), OWN_SOME); /* the page left the pool */
    CHECK_EQ(count_at(p, a), 511);
    CHECK_EQ(pmm_page_state(p, a / PG + 100), PMM_PAGE_WITHHELD);
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK); /* boot data now: back in the pool, free */
    CHECK_EQ(pmm_page_state(p, a / PG + 100), PMM_PAGE_FREE);
    CHECK_EQ(own_at(p, a), OWN_ALL);
    whole_free(p, a);
    CHECK_OK(p);
    sim_free(s);
}

/* pmm_keep_range inside a FRESH block writes the block's words: the kept pages allocated, the
 * others free. */
TEST(keeping_pages_of_a_fresh_block)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = 4 * GIB + 100 * MIB, t = 0;
    CHECK_EQ(own_at(p, a), OWN_FRESH);
    CHECK_EQ(pmm_keep_range(p, a + 5 * PG, 3, &t), PMM_OK);
    CHECK_EQ(t, 3);
    CHECK_EQ(own_at(p, a), OWN_ALL);
    CHECK_EQ(count_at(p, a), 509);
    allocated(p, a + 5 * PG, 3);
    CHECK_EQ(pmm_page_state(p, a / PG + 4), PMM_PAGE_FREE);
    CHECK_EQ(pmm_page_state(p, a / PG + 8), PMM_PAGE_FREE);
    CHECK_EQ(sum_bit(p, &p->whole, a), 0);
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, a + 5 * PG, 3), PMM_OK);
    whole_free(p, a);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Fragmented memory (issue 19): 512 MiB at 4 GiB taken as blocks, then given back but every 7th
 * page, except for 1 block in 16 (and, in the second round, also 1 region of 16 MiB in 16) given
 * back whole. The 2 MiB runs find exactly those blocks, lowest first, and then fail changing
 * nothing; a run that fits between the held pages is found; freed, every block is whole again.
 */
#define FRAG_BASE   (4 * GIB)
#define FRAG_BLOCKS 256ull
static int frag_free_block(uint64_t i, int regions)
{
    return i % 16 == 0 || (regions && (i / 8) % 16 == 0);
}

TEST(runs_in_fragmented_memory)
{
    for (int regions = 0; regions < 2; regions++) {
        struct sim *s = sim_new(6 * GIB);
        sim_add(s, PMM_EFI_CONVENTIONAL, FRAG_BASE, FRAG_BLOCKS * 2 * MIB / PG, 0);
        sim_add(s, PMM_EFI_CONVENTIONAL, 5 * GIB, 64 * MIB / PG, 0); /* the metadata's */
        struct pmm *p;
        CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
        CHECK_EQ(sim_reconcile(s, p), PMM_OK);
        uint64_t lim = FRAG_BASE + FRAG_BLOCKS * 2 * MIB, x, f0 = nfree(p), nwhole = 0;
        for (uint64_t i = 0; i < FRAG_BLOCKS; i++)
            CHECK_EQ(block(p, lim), FRAG_BASE + i * 2 * MIB);
        CHECK_REJECTS(p, pmm_alloc_run(p, 1, PG, lim, &x), PMM_ENOMEM);
        for (uint64_t i = 0; i < FRAG_BLOCKS; i++) {
            uint64_t a = FRAG_BASE + i * 2 * MIB;
            if (frag_free_block(i, regions)) {
                CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
                nwhole++;
                continue;
            }
            for (uint64_t j = i * 512; j < (i + 1) * 512;) { /* the gaps between every 7th */
                uint64_t e = j % 7 ? (j / 7 + 1) * 7 : j + 1;
                if (j % 7 == 0) {
                    j++;
                    continue;
                }
                e = e < (i + 1) * 512 ? e : (i + 1) * 512;
                CHECK_EQ(pmm_free_run(p, FRAG_BASE + j * PG, e - j), PMM_OK);
                j = e;
            }
        }
        CHECK_OK(p);
        if (regions) { /* 16 MiB runs: the two free regions, then nothing */
            CHECK_EQ(pmm_alloc_run(p, 4096, 16 * MIB, lim, &x), PMM_OK);
            CHECK_EQ(x, FRAG_BASE);
            uint64_t y;
            CHECK_EQ(pmm_alloc_run(p, 4096, 2 * MIB, lim, &y), PMM_OK);
            CHECK_EQ(y, FRAG_BASE + 128 * 2 * MIB);
            CHECK_REJECTS(p, pmm_alloc_run(p, 4096, 2 * MIB, lim, &y), PMM_ENOMEM);
            CHECK_EQ(pmm_free_run(p, x, 4096), PMM_OK);
            CHECK_EQ(pmm_free_run(p, y, 4096), PMM_OK);
        }
        /* every free block, lowest first; then nothing, aligned or not */
        uint64_t got[FRAG_BLOCKS], n = 0;
        for (uint64_t i = 0; i < FRAG_BLOCKS; i++) {
            if (!frag_free_block(i, regions))
                continue;
            got[n] = block(p, lim);
            CHECK_EQ(got[n], FRAG_BASE + i * 2 * MIB);
            n++;
        }
        CHECK_EQ(n, nwhole);
        CHECK_REJECTS(p, pmm_alloc_run(p, 512, 2 * MIB, lim, &x), PMM_ENOMEM);
        CHECK_REJECTS(p, pmm_alloc_run(p, 512, PG, lim, &x), PMM_ENOMEM);
        CHECK_REJECTS(p, pmm_alloc_run(p, 7, PG, lim, &x), PMM_ENOMEM);
        uint64_t want = naive_fit(p, 6, PG, FRAG_BASE, lim);
        CHECK(want != PMM_NONE);
        CHECK_EQ(pmm_alloc_run(p, 6, PG, lim, &x), PMM_OK);
        CHECK_EQ(x, want);
        CHECK_EQ(pmm_free_run(p, x, 6), PMM_OK);
        for (uint64_t i = 0; i < n; i++) {
            CHECK_EQ(pmm_free_run(p, got[i], 512), PMM_OK);
            whole_free(p, got[i]);
        }
        CHECK_OK(p);
        /* and back: every held page freed, every block whole, every page free again */
        for (uint64_t j = 0; j < FRAG_BLOCKS * 512; j += 7)
            if (!frag_free_block(j / 512, regions))
                CHECK_EQ(pmm_free_run(p, FRAG_BASE + j * PG, 1), PMM_OK);
        for (uint64_t i = 0; i < FRAG_BLOCKS; i++)
            whole_free(p, FRAG_BASE + i * 2 * MIB);
        CHECK_EQ(nfree(p), f0);
        CHECK_OK(p);
        sim_free(s);
    }
}

/*
 * One 2 MiB block with no limit (a huge page) in O(levels). With one CPU, the block freed whole
 * last comes first, if it is still whole and in the zone blocks come from first; with many CPUs
 * there is no such hint, and with pmm_set_cpu_self each CPU starts its search at its own place in
 * the zone, so that CPUs do not race for one block. When no block is wholly free anywhere the
 * request fails at once, changing nothing, and leaves no stale bit above level 0 behind.
 */
static uint32_t self_cpu;
static uint32_t self_fn(void *ctx)
{
    (void)ctx;
    return self_cpu;
}

TEST(one_block_fast)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), b = block(p, 0), c = block(p, 0), x;
    CHECK_EQ(c, 4 * GIB + 4 * MIB);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, c, 512), PMM_OK); /* freed last */
    CHECK_EQ(block(p, 0), c);                  /* before a, the first fit */
    CHECK_EQ(block(p, 0), a);
    /* freed last, but part of it taken since: the first fit */
    CHECK_EQ(pmm_free_run(p, c, 512), PMM_OK);
    CHECK_EQ(pmm_keep_range(p, c + 5 * PG, 1, 0), PMM_OK);
    CHECK_EQ(block(p, 0), c + 2 * MIB);
    CHECK_EQ(pmm_free_run(p, c + 5 * PG, 1), PMM_OK);
    CHECK_EQ(pmm_free_run(p, c + 2 * MIB, 512), PMM_OK);
    /* freed last, but below the zone blocks come from first */
    uint64_t lo = block(p, 4 * GIB);
    CHECK(lo < 4 * GIB);
    CHECK_EQ(pmm_free_run(p, lo, 512), PMM_OK);
    CHECK_EQ(block(p, 0), c);
    /* a limit: the general search, first fit below it */
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 4 * GIB, &x), PMM_OK);
    CHECK_EQ(x, lo);
    CHECK_EQ(pmm_free_run(p, x, 512), PMM_OK);
    CHECK_OK(p);

    /* many CPUs: no hint (the block freed last is not first); with cpu_self each CPU from its
     * own place in the zone */
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, c, 512), PMM_OK);
    CHECK_EQ(block(p, 0), a);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_EQ(pmm_set_cpu_self(p, self_fn, 0), PMM_OK);
    uint64_t bhigh = p->c_high >> PMM_BLOCK_SHIFT, half = (p->nblocks - bhigh) / 2;
    self_cpu = 0;
    CHECK_EQ(block(p, 0), 4 * GIB);
    self_cpu = 1;
    x = block(p, 0);
    CHECK_EQ(x, cpfn(p, (bhigh + half) << PMM_BLOCK_SHIFT) * PG);
    CHECK_EQ(x, 5 * GIB);
    CHECK_EQ(pmm_free_run(p, x, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, 4 * GIB, 512), PMM_OK);
    CHECK_OK(p);
    sim_free(s);

    /* no block wholly free anywhere: PMM_ENOMEM at once, nothing changed, and the stale bits
     * above level 0 cleared, so that the next one stops at the top word */
    s = small_machine(0, 64, 0, &p);
    uint64_t got[32], n = 0;
    while (n < 32 && pmm_alloc_run(p, 512, 2 * MIB, 0, &got[n]) == PMM_OK)
        n++;
    CHECK(n >= 30);
    for (uint64_t i = 0; i < n; i++) /* each keeps its first page */
        CHECK_EQ(pmm_free_run(p, got[i] + PG, 511), PMM_OK);
    CHECK_REJECTS(p, pmm_alloc_run(p, 512, 2 * MIB, 0, &x), PMM_ENOMEM);
    const struct pmm_sum *sm = &p->whole;
    for (uint32_t k = 1; k < sm->nlevels; k++)
        for (uint64_t j = 0; j < sm->nwords[k - 1]; j++)
            CHECK_EQ((sum_words(p, sm, k)[j >> 6] >> (j & 63)) & 1,
                     sum_words(p, sm, k - 1)[j] != 0);
    CHECK_EQ(pmm_alloc_run(p, 511, PG, 0, &x), PMM_OK); /* the general search */
    CHECK_EQ(pmm_free_run(p, x, 511), PMM_OK);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_free_run(p, got[i], 1), PMM_OK);
    CHECK_EQ(block(p, 0), 16 * MIB); /* made whole a page at a time: no hint, the first fit */
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(fresh_blocks_are_written_on_first_use);
    RUN(a_whole_block_taken_and_freed);
    RUN(runs_of_several_blocks_with_tails);
    RUN(whole_runs_pass_over_blocks_that_are_not_whole);
    RUN(a_block_freed_whole_is_checked_first);
    RUN(block_runs_in_the_boot_phase);
    RUN(keeping_pages_of_a_fresh_block);
    RUN(runs_in_fragmented_memory);
    RUN(one_block_fast);
    HARNESS_MAIN_END();
}
