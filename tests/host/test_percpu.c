/*
 * test_percpu.c - the per-CPU page caches on one thread (percpu.c, state.h): a page on a cache is
 * held (allocated as far as the pool can tell, free as far as the statistics go); caches refill
 * from and spill to the pool PMM_CPU_BATCH pages at a time; every check of pmm_free holds on the
 * fast path, each of its conditions shown to matter; a held page freed again is PMM_EDOUBLE on
 * every path; pages below 1 MiB go to the pool, pages below 4 GiB under the high ones; a CPU that
 * finds the pool short makes every
 * other cache give its pages back at that cache's next call; drains give everything back.
 * tests/host/test_smp.c drives the same calls from many threads.
 */
#include "common.h"
#include "cache.h" /* home_holds */

HARNESS_GLOBALS

#define NCPUS 4

/* Page 0, [512 KiB, 1 GiB) conventional, 64 MiB of boot data, reconciled, with `cpus` caches.
 * No memory above 4 GiB: every page from 1 MiB up is cached alike (pfn_high 0). */
static struct sim *machine(struct pmm **p, uint32_t cpus)
{
    struct sim *s = sim_new(2 * GIB);
    s->max_cpus = cpus;
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 1, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB / 2, (GIB - MIB / 2) / PG, 0);
    sim_add(s, PMM_EFI_BOOT_DATA, GIB, 64 * MIB / PG, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    CHECK_OK(*p);
    return s;
}

/* 256 MiB below 4 GiB and 256 MiB above: a cache hands out its pages above 4 GiB first. */
static struct sim *machine_high(struct pmm **p, uint32_t cpus)
{
    struct sim *s = sim_new(5 * GIB);
    s->max_cpus = cpus;
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 255 * MIB / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 256 * MIB / PG, 0);
    CHECK_EQ(sim_build(s, 0, p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    CHECK_OK(*p);
    return s;
}

static struct pmm_stats stats(const struct pmm *p)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st;
}

static uint64_t cached_total(const struct pmm *p)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < pmm_cpus(p); i++)
        n += pmm_cpu_cached(p, i);
    return n + p->home.n;
}

/* What the pool says of page a: held (on a cache), free in the pool, or neither. */
static int is_held(const struct pmm *p, uint64_t a)
{
    uint64_t c = cidx(p, a / PG);
    return p->at.refs[c] == PMM_REF_HELD && !((p->at.free[c >> 6] >> (c & 63)) & 1);
}
/* On the allocator's own cache: the cache says so, the count stays 0 (cache.h). */
static int on_home(const struct pmm *p, uint64_t a)
{
    uint64_t c = cidx(p, a / PG);
    return home_holds(p, a / PG, c) && p->at.refs[c] == 0 &&
           !((p->at.free[c >> 6] >> (c & 63)) & 1);
}
static int in_pool(const struct pmm *p, uint64_t a)
{
    uint64_t c = cidx(p, a / PG);
    return p->at.refs[c] == 0 && ((p->at.free[c >> 6] >> (c & 63)) & 1);
}

TEST(metadata_holds_the_caches)
{
    struct pmm *p0, *p4;
    struct sim *a = machine(&p0, 0), *b = machine(&p4, NCPUS);
    CHECK_EQ(pmm_cpus(p0), 0);
    CHECK_EQ(pmm_cpus(p4), NCPUS);
    /* 512 bytes per CPU and 2 for its node: the layout drawn in state.h */
    uint64_t span = (GIB + 64 * MIB) / PG; /* 9 sections; 3 descriptors */
    CHECK_EQ(pmm_meta_pages(p0), layout_meta_pages_cpus(span, 9, 3, 64, 0));
    CHECK_EQ(pmm_meta_pages(p4), layout_meta_pages_cpus(span, 9, 3, 64, NCPUS));
    /* 4 caches may fit in the slack of a page: 64 (32 KiB) cannot, so a layout that left the
     * caches out would show here */
    struct pmm *p64;
    struct sim *c = machine(&p64, 64);
    CHECK_EQ(pmm_meta_pages(p64), layout_meta_pages_cpus(span, 9, 3, 64, 64));
    CHECK(pmm_meta_pages(p64) >= pmm_meta_pages(p0) + 64 * 512 / PG);
    /* the caches' cursors start spread over the blocks */
    for (uint32_t i = 1; i < 64; i++)
        CHECK(p64->at.cache[i].cursor > p64->at.cache[i - 1].cursor);
    CHECK(p64->at.cache[63].cursor < p64->nblocks);
    sim_free(c);

    uint64_t x;
    CHECK_EQ(pmm_cpu_alloc(p0, 0, &x), PMM_EINVAL); /* no caches */
    CHECK_EQ(pmm_cpu_free(p0, 0, 2 * MIB), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_alloc(p4, NCPUS, &x), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_free(p4, NCPUS, 2 * MIB), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_drain(p4, NCPUS, &x), PMM_EINVAL);
    CHECK_EQ(x, 0);
    CHECK_EQ(pmm_cpu_cached(p4, NCPUS), 0);
    CHECK_EQ(pmm_cpu_node(p4, 0), 0);
    CHECK_EQ(pmm_cpu_node(p4, NCPUS), PMM_NODE_ANY);
    sim_free(a);
    sim_free(b);

    struct sim *s = sim_new(GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 16 * MIB / PG, 0);
    s->max_cpus = PMM_MAX_CPUS + 1;
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_EINVAL);
    sim_free(s);
}

/* Before reconcile the firmware still owns memory: the per-CPU calls take the claiming path. */
TEST(before_reconcile_no_cache_fills)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 64, 1, &p);
    uint64_t a;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &a), PMM_OK);
    CHECK(sim_fw_used(s, a >> 12)); /* claimed from the firmware, as pmm_alloc does */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_EQ(p->home.n, 0);
    CHECK_EQ(pmm_cpu_free(p, 1, a), PMM_OK);
    CHECK(!sim_fw_used(s, a >> 12)); /* and released to it */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK(in_pool(p, a));
    CHECK_OK(p);
    sim_free(s);
}

/*
 * The first allocation fills a batch and hands out one; the cache's pages are held: allocated to
 * the pool (marked, counted PMM_REF_HELD), free to the statistics. Freed on another CPU a page
 * goes on that CPU's cache, free; every way of freeing or sharing it again is a double free,
 * refused with nothing changed.
 */
TEST(a_held_page_is_free)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    uint64_t a, b;
    CHECK_EQ(pmm_cpu_alloc(p, 0, &a), PMM_OK);
    CHECK(a >= MIB);
    CHECK_EQ(pmm_cpu_cached(p, 0), PMM_CPU_BATCH - 1);
    struct pmm_stats st = stats(p);
    CHECK_EQ(st.free, before.free - 1);
    CHECK_EQ(st.alloc, before.alloc + 1);
    CHECK_EQ(st.cached, PMM_CPU_BATCH - 1);
    CHECK_EQ(st.cpus, NCPUS);
    for (uint32_t k = 0; k < PMM_CPU_BATCH - 1; k++) {
        uint64_t c = cidx(p, p->at.cache[0].page[k]);
        CHECK(is_held(p, p->at.cache[0].page[k] * PG));
        CHECK((p->at.marks[c >> 12] >> ((c >> 6) & 63)) & 1); /* marked before it was held */
    }
    CHECK_EQ(pmm_page_state(p, a >> 12), PMM_PAGE_ALLOC);
    CHECK_EQ(pmm_page_state(p, p->at.cache[0].page[0]), PMM_PAGE_FREE);
    uint32_t count;
    CHECK_EQ(pmm_refcount(p, a, &count), PMM_OK);
    CHECK_EQ(count, 1);
    CHECK_OK(p);

    CHECK_EQ(pmm_cpu_free(p, 2, a), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), 1);
    CHECK(is_held(p, a));
    CHECK_EQ(pmm_page_state(p, a >> 12), PMM_PAGE_FREE);
    CHECK_EQ(stats(p).free, before.free);
    CHECK_OK(p);

    CHECK_REJECTS(p, pmm_cpu_free(p, 2, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, a, 1), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_inc(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_refcount(p, a, &count), PMM_EDOUBLE);
    CHECK_EQ(count, 0);
    CHECK_REJECTS(p, pmm_keep_range(p, a, 1, 0), PMM_EBUSY);
    CHECK_EQ(pmm_cpu_cached(p, 2), 1);

    /* a run around it: its other pages allocated, the held one makes the free a double free */
    CHECK_EQ(pmm_cpu_drain(p, 2, 0), PMM_OK);
    CHECK(in_pool(p, a));
    CHECK_EQ(pmm_alloc_run(p, 64, 64 * PG, 0, &b), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 3, b + 10 * PG), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 3), 1);
    CHECK_REJECTS(p, pmm_free_run(p, b, 64), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, b + 10 * PG, 1), PMM_EDOUBLE);
    uint64_t again;
    CHECK_EQ(pmm_cpu_alloc(p, 3, &again), PMM_OK); /* the newest first */
    CHECK_EQ(again, b + 10 * PG);
    CHECK_EQ(pmm_free_run(p, b, 64), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Batches: a cache fills PMM_CPU_BATCH pages when empty. A full cache (PMM_CPU_CACHE) gives the
 * page being freed to the pool (free, count 0) and keeps the ones it holds: spilling older pages
 * would write their counts too, and a run of frees would touch every count twice.
 */
TEST(refill_and_spill_in_batches)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t pool0 = stats(p).free - stats(p).cached, x[2 * PMM_CPU_CACHE];
    for (int i = 0; i < PMM_CPU_BATCH; i++)
        CHECK_EQ(pmm_cpu_alloc(p, 1, &x[i]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 1), 0); /* one batch, all handed out */
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x[PMM_CPU_BATCH]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 1), PMM_CPU_BATCH - 1); /* the next batch */
    for (int i = PMM_CPU_BATCH + 1; i < 2 * PMM_CPU_CACHE; i++)
        CHECK_EQ(pmm_cpu_alloc(p, 1, &x[i]), PMM_OK);
    uint64_t held0 = pmm_cpu_cached(p, 1);
    CHECK_EQ(stats(p).free - stats(p).cached, pool0 - 2 * PMM_CPU_CACHE - held0);
    /* free onto CPU 2's empty cache until it is full */
    for (int i = 0; i < PMM_CPU_CACHE; i++)
        CHECK_EQ(pmm_cpu_free(p, 2, x[i]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), PMM_CPU_CACHE);
    for (int i = 0; i < PMM_CPU_CACHE; i++)
        CHECK(is_held(p, x[i]));
    /* one more: that page goes to the pool, the cache keeps what it holds, in order */
    CHECK_EQ(pmm_cpu_free(p, 2, x[PMM_CPU_CACHE]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), PMM_CPU_CACHE);
    CHECK(in_pool(p, x[PMM_CPU_CACHE]));
    for (int i = 0; i < PMM_CPU_CACHE; i++)
        CHECK(is_held(p, x[i]));
    CHECK_EQ(p->at.cache[2].page[0], x[0] / PG);
    CHECK_EQ(p->at.cache[2].page[PMM_CPU_CACHE - 1], x[PMM_CPU_CACHE - 1] / PG);
    CHECK_OK(p);
    /* handed out newest first; the room made takes the next frees */
    uint64_t y;
    CHECK_EQ(pmm_cpu_alloc(p, 2, &y), PMM_OK);
    CHECK_EQ(y, x[PMM_CPU_CACHE - 1]);
    CHECK_EQ(pmm_cpu_free(p, 2, x[PMM_CPU_CACHE + 1]), PMM_OK);
    CHECK(is_held(p, x[PMM_CPU_CACHE + 1]));
    CHECK_EQ(pmm_cpu_free(p, 2, y), PMM_OK);
    CHECK(in_pool(p, y));
    for (int i = PMM_CPU_CACHE + 2; i < 2 * PMM_CPU_CACHE; i++)
        CHECK_EQ(pmm_cpu_free(p, 2, x[i]), PMM_OK);
    uint64_t d = 0;
    CHECK_EQ(pmm_cpu_drain(p, 2, &d), PMM_OK);
    CHECK_EQ(d, PMM_CPU_CACHE);
    CHECK_EQ(pmm_cpu_drain(p, 1, &d), PMM_OK);
    CHECK_EQ(d, held0);
    CHECK_EQ(stats(p).free - stats(p).cached, pool0);
    CHECK_EQ(cached_total(p), 0);
    CHECK_OK(p);
    sim_free(s);
}

/* Each condition of the wait-free free (cache_free) matters: a page that fails one is settled by
 * the slow path, which refuses it or does what the fast path may not. */
TEST(fast_path_keeps_every_check)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t a, r;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &a), PMM_OK);
    /* shared (count not 0), unaligned */
    CHECK_EQ(pmm_ref_inc(p, a), PMM_OK);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_ESHARED);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a + 1), PMM_EINVAL);
    CHECK_EQ(pmm_ref_dec(p, a), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 1, a), PMM_OK);
    /* not the pool's */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, 0), PMM_ENOTOWNED);                 /* page 0 */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, pmm_state_phys(p)), PMM_ENOTOWNED); /* metadata */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, GIB + 128 * MIB), PMM_ENOTOWNED);   /* a hole */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, 1ull << 50), PMM_ENOTOWNED);        /* past span */
    /* free in the pool: never handed out (a FRESH block), or free again in a group that a cache
     * marked (the mark is stale, the free word says free) */
    uint64_t at, n;
    CHECK(pmm_next_free_range(p, 300 * MIB >> 12, &at, &n));
    CHECK_EQ(p->at.own[cidx(p, at) >> PMM_BLOCK_SHIFT], OWN_FRESH);
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, at << 12), PMM_EDOUBLE);
    CHECK_EQ(pmm_cpu_drain(p, 1, 0), PMM_OK);
    CHECK(in_pool(p, a));
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_EDOUBLE);
    /* a page the pool does not own, in a block it partly owns, in a marked group: the metadata's
     * first page, beside free pages whose group a shared page marked */
    uint64_t m = pmm_state_phys(p), c = cidx(p, m / PG);
    CHECK_EQ(p->at.own[c >> PMM_BLOCK_SHIFT], OWN_SOME);
    CHECK(c & 63); /* free pages below it in its group */
    uint64_t below = m - PG;
    CHECK_EQ(pmm_keep_range(p, below, 1, 0), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, below), PMM_OK); /* marks the group */
    CHECK_REJECTS(p, pmm_cpu_free(p, 2, m), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_cpu_free(p, 2, m + 5 * PG), PMM_ENOTOWNED);
    CHECK_EQ(pmm_ref_dec(p, below), PMM_OK);
    CHECK_EQ(pmm_free_run(p, below, 1), PMM_OK);
    /* an allocated page in an unmarked group (a 2 MiB block taken whole clears its marks): the
     * cache marks it before it holds it */
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &r), PMM_OK);
    c = cidx(p, r / PG + 70);
    CHECK_EQ((p->at.marks[c >> 12] >> ((c >> 6) & 63)) & 1, 0);
    CHECK_EQ(pmm_cpu_free(p, 3, r + 70 * PG), PMM_OK);
    CHECK_EQ((p->at.marks[c >> 12] >> ((c >> 6) & 63)) & 1, 1);
    CHECK(is_held(p, r + 70 * PG));
    CHECK_OK(p);
    CHECK_REJECTS(p, pmm_free_run(p, r, 512), PMM_EDOUBLE);
    uint64_t y;
    CHECK_EQ(pmm_cpu_alloc(p, 3, &y), PMM_OK);
    CHECK_EQ(y, r + 70 * PG);
    CHECK_EQ(pmm_free_run(p, r, 512), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Low memory is for callers that ask for it: a page below 1 MiB freed on a CPU goes to the pool,
 * on the fast path's terms too (a marked group, a cache with room). With memory above 4 GiB
 * (pfn_high), a page below 4 GiB freed on a CPU goes under the cache's high pages: handed out
 * after them, spilled before them, so that a CPU hands out high memory first.
 */
TEST(low_pages_go_to_the_pool_and_under_the_high_ones)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    CHECK_EQ(p->pfn_high, 0); /* no memory above 4 GiB: any page from 1 MiB up is cached */
    uint64_t low;
    CHECK_EQ(pmm_alloc_run(p, 1, PG, MIB, &low), PMM_OK);
    CHECK(low < MIB);
    CHECK_EQ(pmm_ref_inc(p, low), PMM_OK); /* marks its group */
    CHECK_EQ(pmm_ref_dec(p, low), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 0, low), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 0), 0);
    CHECK(in_pool(p, low));
    for (int i = 0; i < 1000; i++) {
        uint64_t x;
        CHECK_EQ(pmm_cpu_alloc(p, 0, &x), PMM_OK);
        CHECK(x >= MIB);
    }
    CHECK_OK(p);
    sim_free(s);

    s = machine_high(&p, NCPUS);
    CHECK_EQ(p->pfn_high, 4 * GIB / PG);
    uint64_t mid, mid2, hi, x;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &hi), PMM_OK);
    CHECK(hi >= 4 * GIB); /* single pages: high memory first */
    uint32_t n = (uint32_t)pmm_cpu_cached(p, 1);
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 4 * GIB, &mid), PMM_OK);
    CHECK(mid >= 16 * MIB && mid < 4 * GIB);
    CHECK_EQ(pmm_cpu_free(p, 1, mid), PMM_OK); /* an unmarked group: the slow path */
    CHECK_EQ(pmm_cpu_cached(p, 1), n + 1);
    CHECK_EQ(p->at.cache[1].page[0], mid / PG); /* under the high pages */
    CHECK(is_held(p, mid));
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 4 * GIB, &mid2), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, mid2), PMM_OK);
    CHECK_EQ(pmm_ref_dec(p, mid2), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 1, mid2), PMM_OK); /* the fast path's terms, but the top is high */
    CHECK_EQ(p->at.cache[1].page[0], mid2 / PG);
    CHECK_EQ(p->at.cache[1].page[1], mid / PG);
    CHECK_EQ(pmm_cpu_free(p, 1, hi), PMM_OK); /* a high page: on top */
    CHECK_EQ(p->at.cache[1].page[pmm_cpu_cached(p, 1) - 1], hi / PG);
    CHECK_OK(p);
    for (uint32_t i = 0; i < n + 1; i++) { /* the high pages first, the low ones last */
        CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK);
        CHECK(x >= 4 * GIB);
    }
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK);
    CHECK_EQ(x, mid);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK);
    CHECK_EQ(x, mid2);
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    /* an empty cache, or one whose top is low: a low page goes on top */
    CHECK_EQ(pmm_cpu_free(p, 1, mid), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 1, mid2), PMM_OK);
    CHECK_EQ(p->at.cache[1].page[1], mid2 / PG);
    /* a full cache keeps its low pages under the high ones and gives the freed page to the pool */
    uint64_t his[PMM_CPU_CACHE];
    for (int i = 0; i < PMM_CPU_CACHE; i++)
        CHECK_EQ(pmm_cpu_alloc(p, 2, &his[i]), PMM_OK);
    for (int i = 0; i < PMM_CPU_CACHE - 2; i++)
        CHECK_EQ(pmm_cpu_free(p, 1, his[i]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 1), PMM_CPU_CACHE);
    CHECK_EQ(p->at.cache[1].page[0], mid / PG);
    CHECK_EQ(p->at.cache[1].page[1], mid2 / PG);
    CHECK_EQ(pmm_cpu_free(p, 1, his[PMM_CPU_CACHE - 2]), PMM_OK);
    CHECK(in_pool(p, his[PMM_CPU_CACHE - 2]));
    CHECK(is_held(p, mid) && is_held(p, mid2));
    CHECK_EQ(pmm_free(p, mid), PMM_EDOUBLE);
    CHECK_EQ(pmm_cpu_free(p, 1, his[PMM_CPU_CACHE - 1]), PMM_OK);
    /* one CPU at a time, pmm_free goes through the allocator's own cache: the same rules */
    CHECK_EQ(pmm_cpu_drain(p, 1, 0), PMM_OK);
    CHECK_EQ(pmm_alloc(p, &hi), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 4 * GIB, &mid), PMM_OK);
    CHECK_EQ(pmm_free(p, mid), PMM_OK);
    CHECK_EQ(p->home.page[0], mid / PG);
    CHECK(on_home(p, mid) && !is_held(p, mid));
    CHECK_EQ(pmm_free(p, hi), PMM_OK);
    CHECK_EQ(p->home.page[p->home.n - 1], hi / PG);
    CHECK_OK(p);
    sim_free(s);
}

/* pmm_drain gives every cache back, the allocator's own included, and says how many pages. */
TEST(drains)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    enum { N = 1000 };
    static uint64_t pg[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pmm_cpu_alloc(p, (uint32_t)i % NCPUS, &pg[i]), PMM_OK);
        for (int j = 0; j < i; j += 97)
            CHECK(pg[j] != pg[i]);
        CHECK(pmm_cpu_cached(p, (uint32_t)i % NCPUS) <= PMM_CPU_CACHE);
    }
    CHECK_EQ(stats(p).alloc, before.alloc + N);
    CHECK_OK(p);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(i % 3 ? pmm_cpu_free(p, 0, pg[i]) : pmm_free(p, pg[i]), PMM_OK);
        CHECK(pmm_cpu_cached(p, 0) <= PMM_CPU_CACHE);
        CHECK(p->home.n <= PMM_CPU_CACHE);
    }
    CHECK_EQ(stats(p).free, before.free);
    CHECK(p->home.n > 0);
    CHECK_OK(p);
    uint64_t had = cached_total(p), drained = 0, sum = 0;
    CHECK(had > p->home.n);
    CHECK_EQ(pmm_cpu_drain(p, 1, &drained), PMM_OK);
    sum += drained;
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_EQ(pmm_drain(p, &drained), PMM_OK);
    sum += drained;
    CHECK_EQ(sum, had);
    CHECK_EQ(cached_total(p), 0);
    struct pmm_stats after = stats(p);
    CHECK_EQ(after.free, before.free);
    CHECK_EQ(after.cached, 0);
    CHECK_EQ(pmm_drain(p, &drained), PMM_OK);
    CHECK_EQ(drained, 0);
    CHECK_OK(p);
    sim_free(s);
}

/* The pool runs dry only when no page is left anywhere: one CPU takes everything. */
TEST(exhaustion_is_exact_on_one_cpu)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 8, 0, &p);
    uint64_t free0 = stats(p).free, got = 0, x;
    while (pmm_cpu_alloc(p, 1, &x) == PMM_OK)
        got++;
    CHECK_EQ(got, free0);
    CHECK_EQ(stats(p).free, 0);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * No waiting for memory: a CPU that finds the pool short bumps the shortage generation and fails;
 * every other CPU gives its whole cache back at its next call (whatever the call), and then the
 * first CPU's next try succeeds. A CPU that makes no call keeps its pages until it is drained.
 */
TEST(a_shortage_makes_other_caches_give_back)
{
    struct pmm *p;
    struct sim *s = small_machine(3, 64, 0, &p);
    uint64_t a, c, x, blk, free0 = stats(p).free;
    CHECK_EQ(pmm_cpu_alloc(p, 0, &a), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 0), PMM_CPU_BATCH - 1);
    /* CPU 2 holds 10 pages of a block all of whose pages are the pool's, where its fast free
     * works, and has handed out an 11th */
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &blk), PMM_OK);
    for (uint64_t k = 0; k <= 10; k++)
        CHECK_EQ(pmm_cpu_free(p, 2, blk + k * PG), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(p, 2, &c), PMM_OK);
    CHECK_EQ(c, blk + 10 * PG);
    CHECK_EQ(pmm_free_run(p, blk + 11 * PG, 501), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), 10);
    uint64_t taken = 2;
    while (pmm_alloc_run(p, 1, PG, 0, &x) == PMM_OK) /* the pool runs dry; runs use no cache */
        taken++;
    CHECK_EQ(taken, free0 - (PMM_CPU_BATCH - 1) - 10);
    uint32_t gen = p->short_gen;
    CHECK_REJECTS(p, pmm_cpu_alloc(p, 1, &x), PMM_ENOMEM);
    CHECK(p->short_gen != gen);
    CHECK_EQ(pmm_cpu_cached(p, 2), 10); /* nobody took them: no waiting */
    /* CPU 2's next call, a free that its fast path would otherwise take (a page of a block all
     * of whose pages are the pool's): its whole cache goes back first */
    CHECK_EQ(p->at.own[cidx(p, c / PG) >> PMM_BLOCK_SHIFT], OWN_ALL);
    CHECK_EQ(pmm_cpu_free(p, 2, c), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), 1);
    CHECK_EQ(p->at.cache[2].page[0], c / PG);
    CHECK_EQ(p->at.cache[2].gen, p->short_gen);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK);         /* CPU 1 finds them */
    CHECK_EQ(pmm_cpu_cached(p, 1), 10 - 1);            /* CPU 2's ten, a batch of 31 asked for */
    CHECK_EQ(pmm_cpu_cached(p, 0), PMM_CPU_BATCH - 1); /* no call: still its own */
    CHECK_OK(p);
    /* CPU 0's next call, an allocation: its cache goes back, and it refills from what is there */
    gen = p->short_gen;
    CHECK_EQ(pmm_cpu_alloc(p, 0, &x), PMM_OK);
    CHECK_EQ(p->short_gen, gen); /* it did not run short: the pool had its pages back */
    CHECK_EQ(p->at.cache[0].gen, gen);
    (void)a;
    /* pmm_alloc, one CPU at a time, through the allocator's own cache: the same answer */
    CHECK(p->home.gen != p->short_gen);
    while (pmm_alloc(p, &x) == PMM_OK)
        ;
    CHECK_EQ(p->home.n, 0);
    CHECK_EQ(p->home.gen, p->short_gen);
    CHECK_OK(p);
    sim_free(s);
}

static uint32_t self_is_1(void *ctx)
{
    (void)ctx;
    return 1;
}

/*
 * pmm_alloc and pmm_free take no CPU index: with many CPUs and told the caller's
 * (pmm_set_cpu_self) they use that CPU's cache, and give it back when the pool runs dry, so a CPU
 * never runs out while its own cache holds pages; pmm_alloc_run spills it too.
 */
TEST(global_calls_use_and_take_back_their_own_cache)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 8, 0, &p);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    uint64_t free0 = stats(p).free, x, got = 0;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK); /* no cpu_self: the pool, no cache */
    CHECK_EQ(cached_total(p), 0);
    CHECK_EQ(pmm_free(p, x), PMM_OK);
    CHECK(in_pool(p, x));
    CHECK_EQ(pmm_set_cpu_self(p, self_is_1, 0), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK); /* CPU 1's cache fills */
    CHECK_EQ(pmm_cpu_cached(p, 1), PMM_CPU_BATCH - 1);
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK); /* from CPU 1's cache */
    CHECK_EQ(pmm_cpu_cached(p, 1), PMM_CPU_BATCH - 2);
    CHECK_EQ(pmm_free(p, x), PMM_OK); /* back onto it */
    CHECK_EQ(pmm_cpu_cached(p, 1), PMM_CPU_BATCH - 1);
    CHECK_EQ(p->home.n, 0);
    got = 1;
    while (pmm_alloc(p, &x) == PMM_OK)
        got++;
    CHECK_EQ(got, free0); /* every page, the cached ones too */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_OK(p);
    /* a run: free 8 pages in a row onto the cache, then ask for them as a run */
    uint64_t base;
    CHECK(pmm_next_alloc_range(p, 0, &base, &x));
    for (uint64_t i = 0; i < 8; i++)
        CHECK_EQ(pmm_free(p, (base + i) << 12), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 1), 8);
    CHECK_EQ(pmm_alloc_run(p, 8, PG, 0, &x), PMM_OK);
    CHECK_EQ(x, base << 12);
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * One CPU at a time, the allocator's own cache keeps its pages' counts at 0 and knows them by a
 * bit per 64-page group and the page it handed out last (cache.h). A second free of a page on
 * it is refused on every path, and a 2 MiB block with a page on it is not freed whole.
 */
TEST(the_own_cache_refuses_what_it_holds)
{
    struct pmm *p;
    struct sim *s = machine(&p, 0);
    /* pages of a block all of whose pages are the pool's (block 0 holds reserved pages, and its
     * frees take the slow path), freed one by one onto the cache */
    uint64_t blk, c;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &blk), PMM_OK);
    CHECK_EQ(p->at.own[cidx(p, blk / PG) >> PMM_BLOCK_SHIFT], OWN_ALL);
    uint64_t a = blk, b = blk + PG;
    CHECK_EQ(pmm_free(p, a), PMM_OK); /* the fast path: the group had no page on the cache */
    CHECK(on_home(p, a));
    CHECK_EQ(pmm_free(p, a), PMM_EDOUBLE); /* its group's bit sends it to the slow path */
    CHECK_EQ(pmm_free_run(p, a, 1), PMM_EDOUBLE);
    CHECK_EQ(pmm_ref_inc(p, a), PMM_EDOUBLE);
    CHECK_EQ(pmm_free(p, b), PMM_OK); /* the same group, not on it: the slow path says yes */
    CHECK_EQ(pmm_free(p, b), PMM_EDOUBLE);
    CHECK_OK(p);
    CHECK_EQ(pmm_alloc(p, &c), PMM_OK); /* the last out is the exception to its group's bit */
    CHECK_EQ(c, b);
    CHECK(!on_home(p, c));
    CHECK_EQ(pmm_free(p, c), PMM_OK);
    CHECK_EQ(pmm_free(p, c), PMM_EDOUBLE);
    CHECK_OK(p);
    /* the block with pages on the cache: refused by name, not freed whole */
    CHECK_EQ(pmm_free(p, blk + 7 * PG), PMM_OK);
    CHECK(on_home(p, blk + 7 * PG));
    CHECK_EQ(pmm_free_run(p, blk, 512), PMM_EDOUBLE);
    CHECK(on_home(p, a) && on_home(p, b) && on_home(p, blk + 7 * PG));
    CHECK_OK(p);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    CHECK(in_pool(p, a) && in_pool(p, b) && in_pool(p, blk + 7 * PG));
    CHECK_EQ(pmm_free_run(p, blk + 2 * PG, 5), PMM_OK);
    CHECK_EQ(pmm_free_run(p, blk + 8 * PG, 504), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * One CPU at a time, pmm_alloc and pmm_free go through the allocator's own cache; with many CPUs
 * nobody uses it (pmm_alloc goes to the pool, or to the caller's cache with cpu_self). Entering
 * concurrent mode must therefore leave no page on it: every free page stays within reach of
 * pmm_alloc and pmm_alloc_run (pmm.h: a request fails only when no page is left but those on
 * other CPUs' caches). It failed while pmm_set_concurrent left the own cache as it was: its
 * pages were out of everyone's reach until a pmm_drain.
 */
TEST(entering_concurrent_mode_strands_no_page)
{
    for (int with_self = 0; with_self < 2; with_self++) {
        struct pmm *p;
        struct sim *s = small_machine(2, 8, 0, &p);
        uint64_t free0 = stats(p).free, x, got = 0;
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK); /* one CPU at a time: a batch on the own cache */
        CHECK_EQ(pmm_free(p, x), PMM_OK);
        CHECK_EQ(p->home.n, PMM_CPU_BATCH);
        CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
        if (with_self)
            CHECK_EQ(pmm_set_cpu_self(p, self_is_1, 0), PMM_OK);
        while (pmm_alloc(p, &x) == PMM_OK)
            got++;
        CHECK_EQ(got, free0);
        CHECK_EQ(stats(p).free, 0);
        CHECK_EQ(pmm_alloc_run(p, 1, PG, 0, &x), PMM_ENOMEM);
        CHECK_EQ(pmm_drain(p, 0), PMM_OK);
        CHECK_EQ(pmm_alloc(p, &x), PMM_ENOMEM); /* nothing was left behind */
        CHECK_OK(p);
        sim_free(s);
    }
}

/* A state goes to its next owner only with empty caches: adopt names the field otherwise. */
TEST(adopt_wants_drained_caches)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t a;
    CHECK_EQ(pmm_cpu_alloc(p, 3, &a), PMM_OK);
    int err = 0;
    struct pmm_adopt_error why = {0, 0};
    uint64_t off = pmm_virt_offset(p);
    CHECK(pmm_adopt_why(pmm_state_phys(p), off, &err, &why) == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(why.field && !strcmp(why.field, "cache_phys"));
    CHECK_EQ(pmm_cpu_drain(p, 3, 0), PMM_OK);
    struct pmm *q = pmm_adopt(pmm_state_phys(p), off, &err);
    CHECK(q != 0);
    CHECK_EQ(pmm_cpus(q), NCPUS);
    CHECK_EQ(pmm_cpu_free(q, 0, a), PMM_OK); /* the new owner's CPUs use the caches at once */
    CHECK_EQ(pmm_cpu_cached(q, 0), 1);
    CHECK_OK(q);
    sim_free(s);
}

/*
 * A shared page stays unfreeable beside runs: its group's mark is never cleared while it is
 * shared, whatever runs are taken and given around it in the same group.
 */
TEST(runs_keep_their_neighbours_marks)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t r, x;
    CHECK_EQ(pmm_alloc_run(p, 256, 256 * PG, 0, &r), PMM_OK);
    CHECK_EQ(pmm_free_run(p, r, 256), PMM_OK); /* [r, r + 256 pages) is free now */
    CHECK_EQ(pmm_alloc_run(p, 1, PG, r + 256 * PG, &x), PMM_OK);
    CHECK(x >= r && x < r + 256 * PG);
    CHECK_EQ(pmm_ref_inc(p, x), PMM_OK); /* marks x's group */
    uint64_t y[20];
    int ny = 0;
    while (ny < 20 && pmm_alloc_run(p, 3, PG, r + 256 * PG, &y[ny]) == PMM_OK)
        ny++;
    while (ny)
        CHECK_EQ(pmm_free_run(p, y[--ny], 3), PMM_OK);
    CHECK_REJECTS(p, pmm_free(p, x), PMM_ESHARED);
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, x), PMM_ESHARED);
    CHECK_REJECTS(p, pmm_free_run(p, x & ~(64 * PG - 1), 64), PMM_EDOUBLE);
    CHECK_EQ(pmm_ref_dec(p, x), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 0, x), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Random single-page and run operations spread over the CPUs, against a model of what is held;
 * pmm_check at intervals, and at the end every page is given back and the free count is what it
 * was.
 */
TEST(random_against_a_model)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    enum { HELD = 4096 };
    static uint64_t held[HELD], len[HELD];
    uint64_t n = 0, seed = 12345;
    for (int op = 0; op < 200000; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33), cpu = r % NCPUS;
        if (n < HELD && (r & 0x300) != 0x300) {
            uint64_t x;
            if ((r & 0xf000) == 0) {
                uint64_t k = 1 + (r >> 20) % 40;
                CHECK_EQ(pmm_alloc_run(p, k, PG << ((r >> 26) % 4), 0, &x), PMM_OK);
                len[n] = k;
            } else {
                CHECK_EQ(r & 0x10000 ? pmm_alloc(p, &x) : pmm_cpu_alloc(p, cpu, &x), PMM_OK);
                len[n] = 1;
            }
            *(uint64_t *)(s->mem + x) = x ^ 0x5a5a; /* a tag, checked when it goes back */
            held[n++] = x;
        } else if (n) {
            uint64_t i = (r >> 12) % n, x = held[i];
            CHECK_EQ(*(uint64_t *)(s->mem + x), x ^ 0x5a5a);
            if (len[i] == 1)
                CHECK_EQ(r & 0x10000 ? pmm_free(p, x) : pmm_cpu_free(p, cpu, x), PMM_OK);
            else
                CHECK_EQ(pmm_free_run(p, x, len[i]), PMM_OK);
            held[i] = held[--n];
            len[i] = len[n];
        }
        if (op % 20000 == 0)
            CHECK_OK(p);
    }
    while (n--)
        CHECK_EQ(len[n] == 1 ? pmm_cpu_free(p, 0, held[n]) : pmm_free_run(p, held[n], len[n]),
                 PMM_OK);
    CHECK_OK(p);
    CHECK_EQ(stats(p).free, before.free);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    CHECK_EQ(stats(p).free, before.free);
    CHECK_EQ(stats(p).cached, 0);
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(metadata_holds_the_caches);
    RUN(before_reconcile_no_cache_fills);
    RUN(a_held_page_is_free);
    RUN(refill_and_spill_in_batches);
    RUN(fast_path_keeps_every_check);
    RUN(low_pages_go_to_the_pool_and_under_the_high_ones);
    RUN(drains);
    RUN(exhaustion_is_exact_on_one_cpu);
    RUN(a_shortage_makes_other_caches_give_back);
    RUN(global_calls_use_and_take_back_their_own_cache);
    RUN(the_own_cache_refuses_what_it_holds);
    RUN(entering_concurrent_mode_strands_no_page);
    RUN(adopt_wants_drained_caches);
    RUN(runs_keep_their_neighbours_marks);
    RUN(random_against_a_model);
    HARNESS_MAIN_END();
}
