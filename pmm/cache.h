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

/* Statistics read n from other CPUs. */
static inline void set_n(struct pmm_cache *pc, uint32_t n)
{
    __atomic_store_n(&pc->n, n, __ATOMIC_RELAXED);
}

/* The page on top of pc, now allocated with one reference; false if empty or the pool is short
 * (the slow half gives the cache back first). */
static inline bool cache_try_pop(struct pmm *p, struct pmm_cache *pc, uint64_t *phys)
{
    uint32_t n = pc->n;
    if (!n || pc->gen != __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED))
        return false;
    uint64_t pfn = pc->page[n - 1];
    st16(&p->at.refs[cidx_present(p, pfn)], 0); /* a held page lies in a present section */
    set_n(pc, n - 1);
    *phys = pfn << PMM_PAGE_SHIFT;
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

#endif
