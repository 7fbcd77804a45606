/*
 * percpu.c - per-CPU caches: the wait-free single-page path and the batches behind it.
 *
 * The contract is in pmm.h ("Many CPUs"), the page states in state.h. A cache is private to its
 * CPU: the fast halves of pmm_cpu_alloc and pmm_cpu_free read the read-mostly header, the page's
 * words and the cache, and write only the cache and the page's own count. Everything else (an
 * empty or full cache, a page the fast path cannot vouch for, a shortage) goes to the slow half,
 * which moves PMM_CPU_BATCH pages between the cache and the pool with the pool's lock-free
 * primitives. The pool knows nothing of caches: to it a held page is an allocated one.
 */
#include "cache.h"

uint32_t pmm_cpus(const struct pmm *p)
{
    return p->ncpus;
}

uint64_t pmm_cpu_cached(const struct pmm *p, uint32_t cpu)
{
    return cpu < p->ncpus ? __atomic_load_n(&p->at.cache[cpu].n, __ATOMIC_RELAXED) : 0;
}

uint32_t pmm_cpu_node(const struct pmm *p, uint32_t cpu)
{
    return cpu < p->ncpus ? pmm_cnode(p)[cpu] : PMM_NODE_ANY;
}

/* Caches are in use once the firmware hooks are gone: before, every page is claimed from it. */
static inline bool caches_live(const struct pmm *p)
{
    return p->live;
}

/*
 * The oldest k pages of pc go back to the pool, free. Pages that share a free word go back with
 * one read-modify-write, and pages of one block with one add to its count: a cache is usually
 * refilled from one block, so a spill is a handful of atomics, not one per page.
 */
void cache_spill(struct pmm *p, struct pmm_cache *pc, uint64_t k)
{
    uint32_t n = pc->n;
    if (k > n)
        k = n;
    uint64_t wi = PMM_NONE, m = 0, b = PMM_NONE, nb = 0;
    int home = pc == &p->home; /* its pages count 0 already (cache.h) */
    for (uint64_t i = 0; i <= k; i++) {
        uint64_t c = i < k ? cidx_present(p, pc->page[i]) : PMM_NONE;
        if (c == PMM_NONE || c >> 6 != wi) {
            if (m)
                or64_x(p, &p->at.free[wi], m);
            wi = c == PMM_NONE ? PMM_NONE : c >> 6;
            m = 0;
        }
        if (c == PMM_NONE || c >> PMM_BLOCK_SHIFT != b) {
            if (nb)
                blk_unreserve(p, b, nb);
            b = c == PMM_NONE ? PMM_NONE : c >> PMM_BLOCK_SHIFT;
            nb = 0;
        }
        if (c == PMM_NONE)
            break;
        if (home) { /* the group's bit goes when the cache is emptied */
            if (k == n)
                st64(&p->at.homeg[c >> 12], ld64(&p->at.homeg[c >> 12]) & ~bit_mask(c >> 6));
        } else {
            st16(&p->at.refs[c], 0); /* a free page counts 0 (state.h) */
        }
        m |= bit_mask(c);
        nb++;
    }
    for (uint32_t i = (uint32_t)k; i < n; i++)
        st64(&pc->page[i - k], pc->page[i]);
    set_n(pc, (uint32_t)(n - k));
}

/* Up to k pages from the pool onto pc, from `node` first. */
static void cache_fill(struct pmm *p, struct pmm_cache *pc, uint32_t node, uint64_t k)
{
    uint64_t got[PMM_CPU_BATCH], n = pc->n;
    if (k > PMM_CPU_CACHE - n)
        k = PMM_CPU_CACHE - n;
    if (k > PMM_CPU_BATCH)
        k = PMM_CPU_BATCH;
    uint64_t g = pool_take(p, node, 0, k, &pc->cursor, got);
    for (uint64_t i = 0; i < g; i++) {
        if (pc == &p->home) { /* counts stay 0; the group's bit says where to look (cache.h) */
            uint64_t *w = &p->at.homeg[got[i] >> 12];
            st64(w, ld64(w) | bit_mask(got[i] >> 6));
        } else {
            mark_page(p, got[i]); /* before the count says held (state.h, marks) */
            st16(&p->at.refs[got[i]], PMM_REF_HELD);
        }
        st64(&pc->page[n++], cpfn(p, got[i]));
    }
    if (pc == &p->home)
        p->popped = PMM_NONE; /* a page handed out and freed to the pool may be back on */
    set_n(pc, (uint32_t)n);
}

void pool_short(struct pmm *p)
{
    if (p->concurrent)
        __atomic_fetch_add(&p->short_gen, 1, __ATOMIC_RELEASE);
    else
        p->short_gen++;
}

/* The short mark moved since pc last looked: give everything back first. */
static inline void answer_short(struct pmm *p, struct pmm_cache *pc)
{
    uint32_t g = __atomic_load_n(&p->short_gen, __ATOMIC_ACQUIRE);
    if (pc->gen != g) {
        cache_spill(p, pc, pc->n);
        pc->gen = g;
    }
}

/* An empty (or short-marked) cache: refill, or give up after one more look at the pool. */
__attribute__((noinline)) int cache_alloc_slow(struct pmm *p, struct pmm_cache *pc, uint32_t node,
                                               uint64_t *phys)
{
    answer_short(p, pc);
    if (!pc->n)
        cache_fill(p, pc, node, PMM_CPU_BATCH);
    if (!pc->n) {
        pool_short(p); /* everyone's caches back; this CPU's is empty already */
        pc->gen = __atomic_load_n(&p->short_gen, __ATOMIC_ACQUIRE);
        cache_fill(p, pc, node, 1);
        if (!pc->n)
            return PMM_ENOMEM;
    }
    /* The top page, whatever the short mark says now: it was answered above, and another CPU
     * may have moved it again since (its pages are for the next call). */
    *phys = pc == &p->home ? home_pop(p, pc->n) : cache_pop(p, pc, pc->n);
    return PMM_OK;
}

int cache_alloc(struct pmm *p, struct pmm_cache *pc, uint32_t node, uint64_t *phys)
{
    if (cache_try_pop(p, pc, phys))
        return PMM_OK;
    return cache_alloc_slow(p, pc, node, phys);
}

int pmm_cpu_alloc(struct pmm *p, uint32_t cpu, uint64_t *phys)
{
    if (cpu < p->ncpus && caches_live(p)) {
        struct pmm_cache *pc = &p->at.cache[cpu];
        if (cache_try_pop(p, pc, phys))
            return PMM_OK;
        return cache_alloc_slow(p, pc, pmm_cnode(p)[cpu], phys);
    }
    if (cpu >= p->ncpus)
        return PMM_EINVAL;
    return pmm_alloc(p, phys); /* boot phase: every page claimed from the firmware */
}

/* Allocated page c (validated) onto pc: to the pool instead if it is low or memory is short. */
__attribute__((noinline)) static void cache_put_slow(struct pmm *p, struct pmm_cache *pc,
                                                     uint64_t c)
{
    answer_short(p, pc);
    if (c < p->c_low || /* below 1 MiB: for bounded requests, never on a cache */
        (pc->node != PMM_NODE_ANY && p->at.node[c >> PMM_BLOCK_SHIFT] != pc->node)) { /* remote */
        give_one(p, c);
        return;
    }
    if (pc->n == PMM_CPU_CACHE) {
        /* Full: this page goes to the pool. Spilling older pages instead would write each of
         * their counts back (held to free) on top of this page's: a run of frees (a process
         * exiting, pages freed in random order) would touch every count twice. */
        give_one(p, c);
        return;
    }
    uint64_t pfn = cpfn(p, c);
    if (pc == &p->home) {
        uint64_t *w = &p->at.homeg[c >> 12];
        st64(w, ld64(w) | bit_mask(c >> 6));
        if (p->popped == pfn)
            p->popped = PMM_NONE;
    } else {
        mark_page(p, c);
        st16(&p->at.refs[c], PMM_REF_HELD);
    }
    uint32_t n = pc->n, at = n;
    if (pfn < p->pfn_high && n && pc->page[n - 1] >= p->pfn_high) {
        at = 0; /* below the high pages: handed out after them, spilled before them */
        for (uint32_t i = n; i > 0; i--)
            st64(&pc->page[i], pc->page[i - 1]);
    }
    st64(&pc->page[at], pfn);
    set_n(pc, n + 1);
}

int cache_free(struct pmm *p, struct pmm_cache *pc, uint64_t phys)
{
    if (cache_try_push(p, pc, phys))
        return PMM_OK;
    return free_slow(p, pc, phys);
}

int pmm_cpu_free(struct pmm *p, uint32_t cpu, uint64_t phys)
{
    if (cpu < p->ncpus && caches_live(p)) {
        struct pmm_cache *pc = &p->at.cache[cpu];
        if (cache_try_push(p, pc, phys))
            return PMM_OK;
        return free_slow(p, pc, phys);
    }
    if (cpu >= p->ncpus)
        return PMM_EINVAL;
    return pmm_free(p, phys);
}

/* Called by free_slow (alloc.c) once the page passed free_error. */
void cache_put(struct pmm *p, struct pmm_cache *pc, uint64_t c)
{
    cache_put_slow(p, pc, c);
}

int pmm_cpu_drain(struct pmm *p, uint32_t cpu, uint64_t *drained)
{
    if (drained)
        *drained = 0;
    if (cpu >= p->ncpus)
        return PMM_EINVAL;
    struct pmm_cache *pc = &p->at.cache[cpu];
    if (drained)
        *drained = pc->n;
    cache_spill(p, pc, pc->n);
    return PMM_OK;
}

int pmm_drain(struct pmm *p, uint64_t *drained)
{
    uint64_t n = p->home.n;
    cache_spill(p, &p->home, p->home.n);
    for (uint32_t i = 0; i < p->ncpus; i++) {
        n += p->at.cache[i].n;
        cache_spill(p, &p->at.cache[i], p->at.cache[i].n);
    }
    if (drained)
        *drained = n;
    return PMM_OK;
}

bool home_holds(const struct pmm *p, uint64_t pfn, uint64_t c)
{
    if (!homeg_test(p, c) || p->popped == pfn)
        return false;
    for (uint32_t i = 0; i < p->home.n; i++)
        if (p->home.page[i] == pfn)
            return true;
    return false;
}

__attribute__((noinline)) bool home_full(struct pmm *p, uint64_t c)
{
    give_one(p, c);
    return true;
}

void home_left(struct pmm *p, uint64_t pfn)
{
    for (uint32_t i = 0; i < p->home.n; i++)
        if (p->home.page[i] >> 6 == pfn >> 6)
            return; /* another page of the group is still on it */
    uint64_t c = cidx_present(p, pfn), *w = &p->at.homeg[c >> 12];
    st64(w, ld64(w) & ~bit_mask(c >> 6));
}

int pmm_set_cpu_self(struct pmm *p, uint32_t (*self)(void *ctx), void *ctx)
{
    p->cpu_self = self;
    p->cpu_ctx = ctx;
    return PMM_OK;
}

struct pmm_cache *cache_for_caller(struct pmm *p)
{
    if (!caches_live(p))
        return 0;
    if (!p->concurrent)
        return &p->home;
    if (p->cpu_self) {
        uint32_t self = p->cpu_self(p->cpu_ctx);
        if (self < p->ncpus)
            return &p->at.cache[self];
    }
    return 0;
}
