/*
 * cache.h - the per-CPU caches' fast halves, inlined into pmm_cpu_alloc/pmm_cpu_free and into
 * pmm_alloc/pmm_free (percpu.c has the slow halves and says what a cache is).
 *
 * Each reads the read-mostly header, the page's own words and the cache, and writes only the
 * cache and the page's count: no read-modify-write, no store to a line another CPU writes. When
 * one says no, the caller takes the slow half, which settles the case with its error code.
 */
#ifndef PMM_CACHE_H
#define PMM_CACHE_H

#include "pool.h"

/* The allocator's own cache may hold a page of page c's 64-page group (see home_try_pop). */
static inline bool homeg_test(const struct pmm *p, uint64_t c)
{
    return (ld64(&p->at.homeg[c >> 12]) >> ((c >> 6) & 63)) & 1;
}

/* Statistics read n from other CPUs. */
static inline void set_n(struct pmm_cache *pc, uint32_t n)
{
    __atomic_store_n(&pc->n, n, __ATOMIC_RELAXED);
}

/* The page on top of pc, now allocated with one reference; false if empty or the pool is short
 * (the slow half gives the cache back first). */
static inline uint64_t cache_pop(struct pmm *p, struct pmm_cache *pc, uint32_t n)
{
    uint64_t pfn = pc->page[n - 1];
    st16(&p->at.refs[cidx_present(p, pfn)], 0); /* a held page lies in a present section */
    set_n(pc, n - 1);
    return pfn << PMM_PAGE_SHIFT;
}
static inline bool cache_try_pop(struct pmm *p, struct pmm_cache *pc, uint64_t *phys)
{
    uint32_t n = pc->n;
    if (!n || pc->gen != __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED))
        return false;
    *phys = cache_pop(p, pc, n);
    return true;
}

/*
 * Page phys onto pc, held, if nothing can be wrong with the free: the page is owned (its block
 * ALL), allocated (free bit clear), with one reference (count 0) and its group already marked,
 * on the cache's node; the cache has room, no shortage was signalled, and the page goes on top
 * (it is high memory, or the top is low too). False for anything else.
 */
static inline bool cache_try_push(struct pmm *p, struct pmm_cache *pc, uint64_t phys)
{
    uint64_t pfn = phys >> PMM_PAGE_SHIFT, c;
    if ((phys & (PMM_PAGE_SIZE - 1)) || (c = cidx(p, pfn)) == PMM_NONE)
        return false;
    uint32_t n = pc->n;
    uint16_t *ref = &p->at.refs[c];
    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) == OWN_ALL &&
        (pc->node == PMM_NODE_ANY || ld8(&p->at.node[c >> PMM_BLOCK_SHIFT]) == pc->node) &&
        (p->concurrent || !homeg_test(p, c) || p->popped == pfn) && /* not on the own cache */
        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && marked(p, c) && c >= p->c_low &&
        (pfn >= p->pfn_high || !n || pc->page[n - 1] < p->pfn_high) && n < PMM_CPU_CACHE &&
        pc->gen == __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED) &&
        __atomic_load_n(ref, __ATOMIC_ACQUIRE) == 0) { /* after the others' releases */
        st16(ref, PMM_REF_HELD);
        st64(&pc->page[n], pfn);
        set_n(pc, n + 1);
        return true;
    }
    return false;
}

/* percpu.c: an empty or short-marked cache refilled (from `node` first), or PMM_ENOMEM. */
int cache_alloc_slow(struct pmm *p, struct pmm_cache *pc, uint32_t node, uint64_t *phys);

/*
 * The allocator's own cache (`home`, one CPU at a time). Its pages are held as a CPU cache's are,
 * but no other CPU can look, so their counts stay 0 and no group is marked: what is on it is
 * known from the cache itself, with one bit per 64-page group (homeg) saying where to look.
 * That keeps a page's count line out of pmm_alloc and pmm_free: freeing pages in random order
 * touches a bitmap word per page, not a count too.
 */
/* percpu.c: page pfn (compact c) is on the allocator's own cache. */
bool home_holds(const struct pmm *p, uint64_t pfn, uint64_t c);
/* percpu.c: pfn left the cache, the last of its group there: the group's bit goes, if so. */
void home_left(struct pmm *p, uint64_t pfn);
/* percpu.c: the cache is full: allocated page c (checked) to the pool; true. Out of line, so
 * that home_try_push keeps few registers. */
bool home_full(struct pmm *p, uint64_t c);

static inline uint64_t home_pop(struct pmm *p, uint32_t n)
{
    struct pmm_cache *pc = &p->home;
    uint64_t pfn = pc->page[n - 1];
    set_n(pc, n - 1);
    p->popped = pfn;
    if (n == 1 || pc->page[n - 2] >> 6 != pfn >> 6) /* a refill's pages lie together */
        home_left(p, pfn);
    return pfn << PMM_PAGE_SHIFT;
}
static inline bool home_try_pop(struct pmm *p, uint64_t *phys)
{
    uint32_t n = p->home.n;
    if (!n || p->home.gen != p->short_gen)
        return false;
    *phys = home_pop(p, n);
    return true;
}

/*
 * Page phys onto the allocator's own cache (or, if that is full, straight to the pool) if nothing
 * can be wrong with the free: owned (block ALL), allocated (free bit clear), one reference (its
 * group unmarked, or its count 0), not on the cache already (its group's bit clear, or it is the
 * page handed out last), no shortage, the page on top (high memory, or the top is low too).
 * False for anything else.
 */
static inline bool home_try_push(struct pmm *p, uint64_t phys)
{
    struct pmm_cache *pc = &p->home;
    uint64_t pfn = phys >> PMM_PAGE_SHIFT, c;
    if ((phys & (PMM_PAGE_SIZE - 1)) || (c = cidx(p, pfn)) == PMM_NONE)
        return false;
    uint32_t n = pc->n;
    uint64_t *g = &p->at.homeg[c >> 12], gw = ld64(g), gm = bit_mask(c >> 6);
    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) == OWN_ALL &&
        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && c >= p->c_low &&
        (!marked(p, c) || !ld16(&p->at.refs[c])) && (!(gw & gm) || p->popped == pfn) &&
        (pfn >= p->pfn_high || !n || n == PMM_CPU_CACHE || pc->page[n - 1] < p->pfn_high) &&
        pc->gen == p->short_gen) {
        if (n == PMM_CPU_CACHE)
            return home_full(p, c); /* this page to the pool (percpu.c cache_put) */
        st64(&pc->page[n], pfn);
        set_n(pc, n + 1);
        if (!(gw & gm))
            st64(g, gw | gm);
        if (p->popped == pfn)
            p->popped = PMM_NONE;
        return true;
    }
    return false;
}

#endif
