/*
 * percpu.c - per-CPU page caches: the lock-free single-page path and the batches behind it.
 *
 * The contract is in pmm.h ("Many CPUs"), the invariants of a cached page in state.h. The fast
 * half of pmm_cpu_alloc and pmm_cpu_free reads the read-mostly header and maps and writes three
 * things: the calling CPU's count and slot, and the page's own reference count. No lock, no
 * read-modify-write instruction, no store to a line another CPU writes. Everything else (an empty
 * or full cache, a page the fast path cannot vouch for, a request to drain) goes to the slow half,
 * which takes the lock and moves PMM_CPU_BATCH pages between the cache and the shared pool.
 */
#include "state.h"

uint32_t pmm_cpus(const struct pmm *p)
{
    return p->ncpus;
}

uint64_t pmm_cpu_cached(const struct pmm *p, uint32_t cpu)
{
    return cpu < p->ncpus ? ld64(&pmm_pcpu(p, cpu)->n) : 0;
}

static inline int drain_asked(const struct pmm_pcpu *pc)
{
    return __atomic_load_n(&pc->drain_req, __ATOMIC_ACQUIRE) != 0;
}

/* Under the lock: the oldest k pages of pc go back to the pool, free. */
static void cache_drain(struct pmm *p, struct pmm_pcpu *pc, uint64_t k)
{
    uint64_t n = pc->n;
    uint16_t *refs = pmm_refs(p);
    k = k < n ? k : n;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t c = cidx(p, pc->page[i]);
        st16(&refs[c], 0); /* a free page counts 0 (state.h) */
        pool_give1(p, c);
    }
    for (uint64_t i = k; i < n; i++)
        pc->page[i - k] = pc->page[i];
    st64(&pc->n, n - k);
}

/* Under the lock: up to k pages from the pool onto pc. */
static void cache_fill(struct pmm *p, struct pmm_pcpu *pc, uint64_t k)
{
    uint64_t n = pc->n, c;
    uint16_t *refs = pmm_refs(p);
    for (; k && n < PMM_CPU_CACHE && pool_take1(p, &c); k--) {
        shared_mark(p, c); /* before the count says cached: free_run must see the mark */
        st16(&refs[c], PMM_REF_CACHED);
        pc->page[n++] = cpfn(p, c);
    }
    st64(&pc->n, n);
}

/* Under the lock: if another CPU asked this one to drain, drain and say so. 1 if it had asked. */
static int answer_drain(struct pmm *p, struct pmm_pcpu *pc)
{
    if (!drain_asked(pc))
        return 0;
    cache_drain(p, pc, pc->n);
    __atomic_store_n(&pc->drain_req, 0, __ATOMIC_RELEASE);
    return 1;
}

/* The page on top of pc, now allocated. The caller made sure there is one. */
static inline uint64_t cache_pop(struct pmm *p, struct pmm_pcpu *pc, uint64_t n)
{
    uint64_t pfn = pc->page[n - 1];
    uint16_t *ref = pmm_refs(p) + cidx_present(p, pfn); /* a cached page is present */
    st64(&pc->n, n - 1);
    st16(ref, 0); /* one reference */
    return pfn << PMM_PAGE_SHIFT;
}

__attribute__((noinline, cold)) static int cpu_alloc_slow(struct pmm *p, uint32_t cpu,
                                                          uint64_t *phys)
{
    if (cpu >= p->ncpus)
        return PMM_EINVAL;
    if (!p->cpus_live) /* before reconcile every page is claimed from the firmware */
        return pmm_alloc(p, phys);
    struct pmm_pcpu *pc = pmm_pcpu(p, cpu);
    for (int round = 0, retry = 0;; round++) {
        pmm_lock(p);
        /* Memory is short (this CPU was asked to drain, or a CPU waits for pages after asking):
         * take one page, not a batch, or the pages drained for it come straight back here. */
        uint64_t want = answer_drain(p, pc) || p->reclaimers ? 1 : PMM_CPU_BATCH;
        if (!pc->n)
            cache_fill(p, pc, want);
        if (retry) /* this was the retry a reclaim allowed */
            p->reclaimers--, retry = 0;
        if (pc->n) {
            *phys = cache_pop(p, pc, pc->n);
            pmm_unlock(p);
            return PMM_OK;
        }
        pmm_unlock(p);
        if (round == PMM_RECLAIM_ROUNDS || !(retry = caches_reclaim(p, cpu)))
            return PMM_ENOMEM;
    }
}

int pmm_cpu_alloc(struct pmm *p, uint32_t cpu, uint64_t *phys)
{
    if (cpu < p->cpus_live) {
        struct pmm_pcpu *pc = pmm_pcpu(p, cpu);
        uint64_t n = ld64(&pc->n);
        if (n && !__atomic_load_n(&pc->drain_req, __ATOMIC_RELAXED)) {
            *phys = cache_pop(p, pc, n);
            return PMM_OK;
        }
    }
    return cpu_alloc_slow(p, cpu, phys);
}

__attribute__((noinline, cold)) static int cpu_free_slow(struct pmm *p, uint32_t cpu, uint64_t phys)
{
    if (cpu >= p->ncpus || (phys & (PMM_PAGE_SIZE - 1)))
        return PMM_EINVAL;
    if (!p->cpus_live) /* before reconcile a freed page goes back to the firmware */
        return pmm_free(p, phys);
    struct pmm_pcpu *pc = pmm_pcpu(p, cpu);
    uint64_t c = cidx(p, phys >> PMM_PAGE_SHIFT);
    pmm_lock(p);
    int rc = sole_owner(p, c);
    if (!rc) {
        if (answer_drain(p, pc) || c < p->c_low) { /* short of memory, or low memory: the pool */
            pool_give1(p, c);
        } else {
            if (pc->n == PMM_CPU_CACHE)
                cache_drain(p, pc, PMM_CPU_BATCH);
            shared_mark(p, c);
            st16(&pmm_refs(p)[c], PMM_REF_CACHED);
            pc->page[pc->n] = phys >> PMM_PAGE_SHIFT;
            st64(&pc->n, pc->n + 1);
        }
    }
    pmm_unlock(p);
    return rc;
}

int pmm_cpu_free(struct pmm *p, uint32_t cpu, uint64_t phys)
{
    uint64_t pfn = phys >> PMM_PAGE_SHIFT, c;
    if (cpu < p->cpus_live && !(phys & (PMM_PAGE_SIZE - 1)) && pfn >= PMM_LOW_PFN &&
        (c = cidx(p, pfn)) != PMM_NONE) {
        struct pmm_pcpu *pc = pmm_pcpu(p, cpu);
        uint64_t n = ld64(&pc->n), wi = c >> 6;
        uint16_t *ref = pmm_refs(p) + c;
        uint16_t count = __atomic_load_n(ref, __ATOMIC_ACQUIRE); /* after the others' releases */
        /*
         * Allocated (owned, not free), its group marked, one reference: then nothing can be wrong
         * with the free, and the count was readable (state.h). Anything else is settled, with its
         * error code, under the lock. One branch for all of it: the loads are safe to make.
         */
        uint64_t ok = (ld64(&pmm_own(p)[wi]) & ~ld64(&pmm_free_l0(p)[wi])) >> (c & 63) &
                      ld64(&pmm_shared(p)[c >> 12]) >> (wi & 63) & 1;
        if (ok & (n < PMM_CPU_CACHE) &
            !(__atomic_load_n(&pc->drain_req, __ATOMIC_RELAXED) | count)) {
            pc->page[n] = pfn;
            st16(ref, PMM_REF_CACHED);
            st64(&pc->n, n + 1);
            return PMM_OK;
        }
    }
    return cpu_free_slow(p, cpu, phys);
}

int pmm_cpu_drain(struct pmm *p, uint32_t cpu, uint64_t *drained)
{
    if (drained)
        *drained = 0;
    if (cpu >= p->ncpus)
        return PMM_EINVAL;
    struct pmm_pcpu *pc = pmm_pcpu(p, cpu);
    pmm_lock(p);
    uint64_t n = pc->n;
    cache_drain(p, pc, n);
    __atomic_store_n(&pc->drain_req, 0, __ATOMIC_RELEASE);
    pmm_unlock(p);
    if (drained)
        *drained = n;
    return PMM_OK;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int pmm_set_cpu_self(struct pmm *p, uint32_t (*self)(void *ctx), void *ctx)
{
    p->cpu_self = self;
    p->cpu_ctx = ctx;
    return PMM_OK;
}

int caches_reclaim(struct pmm *p, uint64_t self)
{
    if (!p->cpus_live)
        return 0;
    if (self == PMM_NONE) {
        /* Without the caller's index its own cache cannot be told from the others, and asking
         * it would mean waiting for ourselves: no reclaim (pmm.h, pmm_set_cpu_self). */
        uint32_t s = p->cpu_self ? p->cpu_self(p->cpu_ctx) : PMM_MAX_CPUS;
        if (s >= p->ncpus)
            return 0;
        self = s;
    }
    uint64_t asked_map[PMM_MAX_CPUS / 64] = {0}, asked = 0, own;
    pmm_lock(p);
    p->reclaimers++;
    struct pmm_pcpu *mine = pmm_pcpu(p, self); /* needs no asking */
    own = mine->n;
    cache_drain(p, mine, own);
    __atomic_store_n(&mine->drain_req, 0, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i < p->ncpus; i++) {
        struct pmm_pcpu *pc = pmm_pcpu(p, i);
        if (i != self && ld64(&pc->n)) {
            __atomic_store_n(&pc->drain_req, 1, __ATOMIC_RELEASE);
            asked_map[i >> 6] |= bit_mask(i);
            asked++;
        }
    }
    pmm_unlock(p);
    if (!asked && !own) {
        reclaim_done(p);
        return 0;
    }
    /*
     * Wait with the lock released, so the CPUs asked can drain; count only those (another CPU's
     * request may be pending on a CPU with nothing cached). One pass costs ncpus of the budget,
     * so the bound is in loads whatever the CPU count. While waiting, answer requests to this CPU
     * too: two CPUs short of memory at once must not wait for each other.
     */
    uint64_t waiting = asked;
    for (uint64_t budget = 0; waiting && budget < PMM_DRAIN_SPINS; budget += p->ncpus) {
        waiting = 0;
        for (uint32_t i = 0; i < p->ncpus; i++)
            if (asked_map[i >> 6] & bit_mask(i))
                waiting += drain_asked(pmm_pcpu(p, i));
        if (drain_asked(mine)) {
            pmm_lock(p);
            answer_drain(p, mine);
            pmm_unlock(p);
        }
        cpu_relax();
    }
    if (own || waiting < asked)
        return 1; /* some pages came back: worth another try */
    reclaim_done(p);
    return 0;
}

void reclaim_done(struct pmm *p)
{
    pmm_lock(p);
    p->reclaimers--;
    pmm_unlock(p);
}
