/*
 * alloc.c - handing pages out and taking them back: the free-page stack, runs, reference counts.
 *
 * Every public call validates everything before it changes anything, so a rejected call leaves the
 * state exactly as it was. Boot-phase claims (p->fw.claim) are the one exception that can shrink
 * the pool: a page the firmware took behind our back was never ours to give.
 */
#include "blocks.h"

static inline void push(struct pmm *p, uint64_t c)
{
    p->stack[p->top++] = c;
    if (c < p->stack_lo)
        p->stack_lo = c;
    if (c > p->stack_hi)
        p->stack_hi = c;
}

static inline void stack_reset_bounds(struct pmm *p)
{
    p->stack_lo = PMM_NONE;
    p->stack_hi = 0;
}

/*
 * Pull up to PMM_REFILL free pages from the free map. Two zones, the high one (at and above
 * 4 GiB, if there is memory there) before the low one ([1 MiB, 4 GiB)), so that memory 32-bit and
 * ISA devices can reach lasts; within a zone, next-fit from the cursor, wrapping to the zone's
 * start. A batch comes from one stretch only: it stops at the first stretch that had pages. All in
 * compact indices: the zones' bounds were converted at build.
 */
static uint64_t refill(struct pmm *p)
{
    const uint64_t *l0 = pmm_free_l0(p);
    uint64_t pref = p->c_high < p->cspan ? p->c_high : p->c_low, at = p->cursor, cur = at;
    uint64_t from[4], to[4];
    int n = 0;
    if (at >= pref) { /* cursor in the high zone */
        from[n] = at, to[n++] = p->cspan;
        from[n] = pref, to[n++] = at;
        from[n] = p->c_low, to[n++] = pref;
    } else { /* cursor in the low zone: look at the high zone again first */
        from[n] = pref, to[n++] = p->cspan;
        from[n] = at, to[n++] = pref;
        from[n] = p->c_low, to[n++] = at;
    }
    for (int k = 0; k < n && !p->top; k++) {
        if (from[k] < pref && p->btop)
            break; /* the stacked blocks (in the high zone) before low memory */
        for (cur = from[k]; p->top < PMM_REFILL;) {
            uint64_t i = hb_next_set(p, &p->freemap, cur, to[k]);
            if (i == PMM_NONE) {
                cur = to[k];
                break;
            }
            uint64_t w = l0[i >> 6] & (~0ull << (i & 63));
            if ((i | 63) >= to[k])
                w &= word_mask(i & ~63ull, to[k]);
            while (w && p->top < PMM_REFILL) {
                cur = (i & ~63ull) | (uint64_t)__builtin_ctzll(w);
                w &= w - 1;
                push(p, cur);
                refs_ready(p, cur, 1); /* so that taking it from the stack writes no counts */
            }
            cur = w ? (i & ~63ull) | (uint64_t)__builtin_ctzll(w) : (i & ~63ull) + 64;
        }
    }
    p->cursor = cur < p->cspan ? cur : pref;
    if (!p->top && p->btop) { /* blocks.c: the pool takes the stacked blocks back */
        blk_flush(p);
        return refill(p);
    }
    return p->top;
}

void stack_evict(struct pmm *p, uint64_t start, uint64_t n)
{
    if (!p->top || start > p->stack_hi || start + n <= p->stack_lo)
        return;
    uint32_t j = 0;
    for (uint32_t i = 0; i < p->top; i++)
        if (p->stack[i] - start >= n)
            p->stack[j++] = p->stack[i];
    p->top = j;
    if (!j)
        stack_reset_bounds(p);
}

/* Free pages [c, c + n), none of them stacked, leave the pool (the firmware has them). */
void pool_drop(struct pmm *p, uint64_t c, uint64_t n)
{
    fm_fill(p, c, c + n, 0);
    bits_fill(pmm_own(p), c, c + n, 0);
    p->nfree -= n;
    p->dropped += n;
}

/*
 * The reference counts of [c, c + n) are about to matter: zero each page of counts that was never
 * used (state.h). A run touches one or two such pages; the check is one bit each.
 */
void refs_ready(struct pmm *p, uint64_t c, uint64_t n)
{
    uint64_t *init = pmm_rinit(p);
    for (uint64_t k = c >> PMM_RINIT_SHIFT; k <= (c + n - 1) >> PMM_RINIT_SHIFT; k++) {
        if (!bit_test(init, k)) {
            pmm_memset(pmm_refs(p) + (k << PMM_RINIT_SHIFT), 0, PMM_PAGE_SIZE);
            init[k >> 6] |= bit_mask(k);
        }
    }
}

/* The single-page halves of take() and give(), inlined into the O(1) paths. */
static inline void take1(struct pmm *p, uint64_t c)
{
    uint64_t *l0 = pmm_free_l0(p), wi = c >> 6, old = l0[wi], new = old & ~bit_mask(c);
    st64(&l0[wi], new);
    fm_word_changed(p, wi, old, new); /* its counts page is ready: refill saw to it (state.h) */
    p->nfree--;
    p->nalloc++;
}

static inline void fw_release(struct pmm *p, uint64_t c, uint64_t n)
{
    if (p->fw.release)
        p->fw.release(p->fw.ctx, cpfn(p, c) << PMM_PAGE_SHIFT, n);
}

/* Its reference count is back at 0 (one reference): the page is free again. */
static inline void give1(struct pmm *p, uint64_t c)
{
    blk_touch1(p, c);
    uint64_t *l0 = pmm_free_l0(p), wi = c >> 6, old = l0[wi], new = old | bit_mask(c);
    st64(&l0[wi], new);
    fm_word_changed(p, wi, old, new);
    if (p->top < PMM_STACK_CAP && c >= p->c_low)
        push(p, c);
    p->nfree++;
    p->nalloc--;
    fw_release(p, c, 1);
}

/*
 * Mark free pages [c, c + n) allocated: their counts already say one reference (state.h). The
 * shared-map bits of the 64-page groups wholly inside the run were possibly stale (all 64 pages
 * were free, so their counts are 0) and are cleared, so that freeing the run reads no counts.
 */
static void take(struct pmm *p, uint64_t c, uint64_t n)
{
    fm_fill(p, c, c + n, 0);
    refs_ready(p, c, n);
    p->nfree -= n;
    p->nalloc += n;
    uint64_t *sh = pmm_shared(p);
    for (uint64_t g = (c + 63) >> 6, g1 = (c + n) >> 6; g < g1; g = (g & ~63ull) + 64) {
        uint64_t m = word_mask(g, g1), w = ld64(&sh[g >> 6]);
        if (w & m)
            st64(&sh[g >> 6], w & ~m);
    }
}

/* Under the lock: the pool hands one page out (compact index in *c), or 0 if it has none. */
int pool_take1(struct pmm *p, uint64_t *c)
{
    if (!p->top && !refill(p))
        return 0;
    *c = p->stack[--p->top];
    if (!p->top)
        stack_reset_bounds(p);
    take1(p, *c);
    return 1;
}

/* Under the lock, after reconcile: allocated page c (count 0) goes back to the pool. */
void pool_give1(struct pmm *p, uint64_t c)
{
    give1(p, c);
}

/* Under the lock: mark group c / 64 in the shared map (state.h). */
void shared_mark(struct pmm *p, uint64_t c)
{
    uint64_t *w = &pmm_shared(p)[c >> 12], m = bit_mask(c >> 6), v = ld64(w);
    blk_touch1(p, c);
    if (!(v & m))
        st64(w, v | m);
}

/* Return allocated pages [c, c + n) to the free map (and, in the boot phase, the firmware). */
static void give(struct pmm *p, uint64_t c, uint64_t n)
{
    if (n == 1) {
        give1(p, c);
        return;
    }
    blk_touched(p, c, n);
    fm_fill(p, c, c + n, 1);
    p->nfree += n;
    p->nalloc -= n;
    fw_release(p, c, n);
}

/*
 * 0 if compact page c (PMM_NONE: in no present section) is allocated; otherwise why it is not. A
 * page on a per-CPU cache is free. Owned and not free means its counts page is initialised
 * (state.h), so the count may be read; only a marked group can hold a cached page.
 */
static inline int allocated(const struct pmm *p, uint64_t c)
{
    if (c == PMM_NONE || !(ld64(&pmm_own(p)[c >> 6]) & bit_mask(c)))
        return PMM_ENOTOWNED;
    if (ld64(&pmm_free_l0(p)[c >> 6]) & bit_mask(c))
        return PMM_EDOUBLE;
    if (ld8(&pmm_bst(p)[c >> PMM_BLOCK_SHIFT]) == PMM_BLK_STACKED) /* blocks.c */
        return PMM_EDOUBLE;
    if ((ld64(&pmm_shared(p)[c >> 12]) & bit_mask(c >> 6)) &&
        ld16(&pmm_refs(p)[c]) == PMM_REF_CACHED)
        return PMM_EDOUBLE;
    return PMM_OK;
}

/*
 * 0 if c may be freed outright: allocated and not shared. The shared map answers for 64 pages at
 * once and stays in cache; the page's own count is read only when its group is marked.
 */
int sole_owner(const struct pmm *p, uint64_t c)
{
    int rc = allocated(p, c);
    return !rc && (ld64(&pmm_shared(p)[c >> 12]) & bit_mask(c >> 6)) && ld16(&pmm_refs(p)[c]) != 0
               ? PMM_ESHARED
               : rc;
}

static inline uint64_t cidx_of(const struct pmm *p, uint64_t phys)
{
    return cidx(p, phys >> PMM_PAGE_SHIFT);
}

static int alloc_locked(struct pmm *p, uint64_t *phys);

int pmm_alloc(struct pmm *p, uint64_t *phys)
{
    int rc = alloc_locked(p, phys);
    for (int round = 0;
         rc == PMM_ENOMEM && round < PMM_RECLAIM_ROUNDS && caches_reclaim(p, PMM_NONE); round++) {
        rc = alloc_locked(p, phys);
        reclaim_done(p);
    }
    return rc;
}

static int alloc_locked(struct pmm *p, uint64_t *phys)
{
    pmm_lock(p);
    for (;;) {
        if (!p->top && !refill(p)) {
            pmm_unlock(p);
            return PMM_ENOMEM;
        }
        uint64_t c = p->stack[--p->top];
        if (!p->top)
            stack_reset_bounds(p);
        uint64_t addr = cpfn(p, c) << PMM_PAGE_SHIFT;
        if (p->fw.claim && p->fw.claim(p->fw.ctx, addr, 1)) {
            pool_drop(p, c, 1);
            continue;
        }
        take1(p, c);
        *phys = addr;
        pmm_unlock(p);
        return PMM_OK;
    }
}

static inline int fw_claim(struct pmm *p, uint64_t c, uint64_t n)
{
    return p->fw.claim(p->fw.ctx, cpfn(p, c) << PMM_PAGE_SHIFT, n);
}

/*
 * The firmware refused a run we thought free: find which of its pages it took, one by one, and drop
 * those from the pool. Returns how many were dropped.
 */
static uint64_t drop_claimed(struct pmm *p, uint64_t s, uint64_t n)
{
    uint64_t dropped = 0;
    for (uint64_t c = s; c < s + n; c++) {
        if (fw_claim(p, c, 1) == 0) {
            fw_release(p, c, 1);
        } else {
            pool_drop(p, c, 1);
            dropped++;
        }
    }
    return dropped;
}

static int claim_split(struct pmm *p, uint64_t s, uint64_t n);

/* Claim [s, s + n) whole or, if the firmware refuses, in halves: 0, or -1 with nothing claimed. */
static int claim_pieces(struct pmm *p, uint64_t s, uint64_t n)
{
    if (fw_claim(p, s, n) == 0)
        return 0;
    return claim_split(p, s, n);
}

/*
 * The firmware refused [s, s + n) as one claim although none of its pages is taken: EDK2 refuses
 * AllocatePages(AllocateAddress) across two of its map entries, and intake merged adjacent
 * conventional descriptors into one free run. Claim the halves, recursively: O(k log n) calls for
 * k entry boundaries. 0 with the whole run claimed; -1 with nothing claimed and the page the
 * firmware refused even on its own dropped from the pool, so every retry makes progress.
 */
static int claim_split(struct pmm *p, uint64_t s, uint64_t n)
{
    if (n == 1) {
        pool_drop(p, s, 1);
        return -1;
    }
    uint64_t h = n / 2;
    if (claim_pieces(p, s, h))
        return -1;
    if (claim_pieces(p, s + h, n - h)) {
        fw_release(p, s, h);
        return -1;
    }
    return 0;
}

/*
 * Where runs are looked for, most plentiful memory first, as for single pages: at and above
 * 4 GiB, then [16 MiB, 4 GiB), then [1 MiB, 16 MiB), so that what 32-bit and ISA DMA can reach
 * stays for the callers that must have it. Each zone is clipped to [lo, hi) (compact).
 */
static uint64_t find_run(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi)
{
    uint64_t edge[4] = {hi, p->c_high, c_ceil(p, 16ull << (20 - PMM_PAGE_SHIFT)), lo};
    for (int z = 0; z < 3; z++) {
        uint64_t zlo = edge[z + 1] > lo ? edge[z + 1] : lo, zhi = edge[z] < hi ? edge[z] : hi;
        if (z == 2)
            zlo = lo;
        if (zlo >= zhi || zhi - zlo < n)
            continue;
        uint64_t s = fm_find_run(p, n, apages, zlo, zhi);
        if (s == PMM_NONE && blk_flush_in(p, zlo, zhi)) /* stacked blocks in this zone */
            s = fm_find_run(p, n, apages, zlo, zhi);
        if (s != PMM_NONE)
            return s;
    }
    return fm_find_run(p, n, apages, lo, hi); /* a run across a zone's edge */
}

static int alloc_run_locked(struct pmm *p, uint64_t npages, uint64_t apages, uint64_t lo,
                            uint64_t hi, uint64_t *phys);

/* Out of line, so that the fast paths above them save no registers. */
__attribute__((noinline)) static int alloc_run_slow(struct pmm *p, uint64_t npages, uint64_t align,
                                                    uint64_t limit, uint64_t *phys);

/* pmm_alloc_run when a lock is installed: blk_pop under it if the stack looks non-empty. */
__attribute__((noinline)) static int alloc_block_locked(struct pmm *p, uint64_t align,
                                                        uint64_t limit, uint64_t *phys)
{
    uint64_t a = 0;
    if (blk_any(p)) {
        pmm_lock(p);
        a = blk_pop(p);
        pmm_unlock(p);
    }
    if (!a)
        return alloc_run_slow(p, 1ull << PMM_BLOCK_SHIFT, align, limit, phys);
    *phys = a;
    return PMM_OK;
}

/*
 * One unbounded 2 MiB block comes off the free-block stack (blocks.c); anything else searches.
 * Without a lock (one CPU, or a caller that serialises) the pop is inline and calls nothing.
 */
int pmm_alloc_run(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit, uint64_t *phys)
{
    if (npages == 1ull << PMM_BLOCK_SHIFT && align <= npages << PMM_PAGE_SHIFT &&
        !(align & (align - 1)) && (!limit || limit >> PMM_PAGE_SHIFT >= p->span)) {
        if (p->lock)
            return alloc_block_locked(p, align, limit, phys);
        uint64_t a = blk_pop(p);
        if (a) {
            *phys = a;
            return PMM_OK;
        }
    }
    return alloc_run_slow(p, npages, align, limit, phys);
}

static int alloc_run_slow(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit,
                          uint64_t *phys)
{
    if (!npages || (align & (align - 1)))
        return PMM_EINVAL;
    uint64_t apages = align >> PMM_PAGE_SHIFT ? align >> PMM_PAGE_SHIFT : 1;
    uint64_t lo = limit && limit <= (PMM_LOW_PFN << PMM_PAGE_SHIFT) ? 1 : PMM_LOW_PFN;
    uint64_t hi = p->span;
    if (limit && (limit >> PMM_PAGE_SHIFT) < hi)
        hi = limit >> PMM_PAGE_SHIFT;
    if (hi <= lo || npages > hi - lo || npages > p->total)
        return PMM_ERANGE;

    int rc = alloc_run_locked(p, npages, apages, lo, hi, phys);
    /* No cache holds a page below 1 MiB: a run bounded there has nothing to reclaim. */
    for (int round = 0; rc == PMM_ENOMEM && lo >= PMM_LOW_PFN && round < PMM_RECLAIM_ROUNDS &&
                        caches_reclaim(p, PMM_NONE);
         round++) {
        rc = alloc_run_locked(p, npages, apages, lo, hi, phys);
        reclaim_done(p);
    }
    return rc;
}

static int alloc_run_locked(struct pmm *p, uint64_t npages, uint64_t apages, uint64_t lo,
                            uint64_t hi, uint64_t *phys)
{
    pmm_lock(p);
    uint64_t clo = c_ceil(p, lo), chi = c_ceil(p, hi), s;
    for (;;) {
        s = lo < PMM_LOW_PFN ? fm_find_run(p, npages, apages, clo, chi)
                             : find_run(p, npages, apages, clo, chi);
        if (s == PMM_NONE && blk_flush_in(p, clo, chi)) /* a run across zones may need them */
            continue;
        if (s == PMM_NONE) {
            pmm_unlock(p);
            return PMM_ENOMEM;
        }
        stack_evict(p, s, npages);
        /* Refused: drop the pages somebody else took and look again, or, if none was taken,
         * claim the run in pieces. A refused claim never fails a request that can be met. */
        if (p->fw.claim && fw_claim(p, s, npages) &&
            (drop_claimed(p, s, npages) || claim_split(p, s, npages)))
            continue;
        take(p, s, npages);
        blk_taken(p, s, npages);
        *phys = cpfn(p, s) << PMM_PAGE_SHIFT;
        pmm_unlock(p);
        return PMM_OK;
    }
}

int pmm_free(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    pmm_lock(p);
    uint64_t c = cidx_of(p, phys);
    int rc = sole_owner(p, c);
    if (!rc)
        give1(p, c);
    pmm_unlock(p);
    return rc;
}

/*
 * The first page of compact [c, c + n) that may not be freed, or PMM_NONE: a word of the maps at a
 * time, and a word of the shared map per 4096 pages; counts are read only in a 64-page group the
 * shared map marks.
 */
static uint64_t first_unfreeable(const struct pmm *p, uint64_t c, uint64_t n)
{
    const uint64_t *own = pmm_own(p), *l0 = pmm_free_l0(p), *sh = pmm_shared(p); /* lock held */
    uint64_t bad = PMM_NONE, end = c + n;
    for (uint64_t i = c; i < end; i = (i & ~63ull) + 64) {
        uint64_t x = ~(own[i >> 6] & ~l0[i >> 6]) & word_mask(i, end);
        if (x) {
            bad = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
            end = bad;
            break;
        }
    }
    if (c >= end)
        return bad;
    uint64_t st = blk_stacked_in(p, c, end - c); /* looks allocated, is free: blocks.c */
    if (st != PMM_NONE)
        return st;
    uint64_t g0 = c >> 6, g1 = ((end - 1) >> 6) + 1; /* groups of 64 pages */
    for (uint64_t g = g0; g < g1; g = (g & ~63ull) + 64) {
        for (uint64_t x = sh[g >> 6] & word_mask(g, g1); x; x &= x - 1) {
            uint64_t grp = (g & ~63ull) | (uint64_t)__builtin_ctzll(x);
            const uint16_t *refs = pmm_refs(p);
            for (uint64_t i = grp << 6 > c ? grp << 6 : c; i < ((grp + 1) << 6) && i < end; i++)
                if (ld16(&refs[i])) /* shared, or on a cache: sole_owner says which */
                    return i;
        }
    }
    return bad;
}

__attribute__((noinline)) static int free_run_slow(struct pmm *p, uint64_t phys, uint64_t npages);

/* pmm_free_run when a lock is installed: blk_push under it if block b is still whole. */
__attribute__((noinline)) static int free_block_locked(struct pmm *p, uint64_t phys, uint64_t b)
{
    pmm_lock(p);
    int stacked = blk_whole(p, b) && blk_push(p, phys >> (PMM_BLOCK_SHIFT + PMM_PAGE_SHIFT), b);
    pmm_unlock(p);
    return stacked ? PMM_OK : free_run_slow(p, phys, 1ull << PMM_BLOCK_SHIFT);
}

/* A block handed out whole and untouched since goes back on the block stack as it is (blocks.c). */
int pmm_free_run(struct pmm *p, uint64_t phys, uint64_t npages)
{
    uint64_t s = phys >> PMM_PAGE_SHIFT, c;
    if (npages == 1ull << PMM_BLOCK_SHIFT && !(phys & ((npages << PMM_PAGE_SHIFT) - 1)) &&
        (c = cidx(p, s)) != PMM_NONE && blk_whole(p, c >> PMM_BLOCK_SHIFT)) {
        if (p->lock)
            return free_block_locked(p, phys, c >> PMM_BLOCK_SHIFT);
        if (blk_push(p, s >> PMM_BLOCK_SHIFT, c >> PMM_BLOCK_SHIFT))
            return PMM_OK;
    }
    return free_run_slow(p, phys, npages);
}

static int free_run_slow(struct pmm *p, uint64_t phys, uint64_t npages)
{
    if (!npages || (phys & (PMM_PAGE_SIZE - 1)))
        return PMM_EINVAL;
    uint64_t s = phys >> PMM_PAGE_SHIFT;
    if (s >= p->span || npages > p->span - s)
        return PMM_ENOTOWNED;
    pmm_lock(p);
    uint64_t c = cidx(p, s), ok = 0;
    /*
     * Present sections in a row get consecutive slots, so the part of the run before its first
     * absent section is one compact run; a page in an absent section is not ours.
     */
    while (ok < npages && pmm_sectab(p)[(s + ok) >> PMM_SEC_SHIFT] != PMM_SEC_ABSENT) {
        uint64_t next = (((s + ok) >> PMM_SEC_SHIFT) + 1) << PMM_SEC_SHIFT;
        ok = next - s < npages ? next - s : npages;
    }
    int rc = ok ? PMM_OK : PMM_ENOTOWNED;
    if (ok) {
        uint64_t bad = first_unfreeable(p, c, ok);
        if (bad != PMM_NONE)
            rc = sole_owner(p, bad);
        else if (ok < npages)
            rc = PMM_ENOTOWNED;
    }
    if (!rc)
        give(p, c, npages);
    pmm_unlock(p);
    return rc;
}

/*
 * Reference counts change with a compare-and-swap, without the lock, while the page keeps two or
 * more references. Going from one reference to two takes the lock, which marks the page's group
 * in the shared map before the count can be read as shared (state.h); so does dropping the last
 * reference, which frees the page. So under the lock no count becomes, or stops being, 0.
 */
int pmm_ref_inc(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    int rc = allocated(p, c);
    if (rc)
        return rc;
    uint16_t *ref = pmm_refs(p) + c;
    for (uint16_t v; (v = ld16(ref)) != 0;) {
        if (v == PMM_REF_CACHED)
            return PMM_EDOUBLE;
        if (v == PMM_REF_MAX - 1)
            return PMM_EOVERFLOW;
        if (cas16(ref, v, v + 1))
            return PMM_OK;
    }
    pmm_lock(p);
    rc = allocated(p, c);
    while (!rc) {
        uint16_t v = ld16(ref);
        if (v == PMM_REF_MAX - 1) {
            rc = PMM_EOVERFLOW;
        } else {
            if (!v)
                shared_mark(p, c);
            if (cas16(ref, v, v + 1))
                break;
        }
    }
    pmm_unlock(p);
    return rc;
}

int pmm_ref_dec(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    int rc = allocated(p, c);
    if (rc)
        return rc;
    uint16_t *ref = pmm_refs(p) + c;
    for (uint16_t v; (v = ld16(ref)) >= 2;) {
        if (v == PMM_REF_CACHED)
            return PMM_EDOUBLE;
        if (cas16(ref, v, v - 1))
            return PMM_OK;
    }
    pmm_lock(p);
    rc = allocated(p, c);
    while (!rc) {
        uint16_t v = ld16(ref);
        if (!v) { /* the last reference: the page is free */
            give1(p, c);
            break;
        }
        if (cas16(ref, v, v - 1)) /* the group's bit stays: a stale one is allowed */
            break;
    }
    pmm_unlock(p);
    return rc;
}

int pmm_refcount(const struct pmm *p, uint64_t phys, uint32_t *count)
{
    *count = 0;
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    pmm_lock(p);
    uint64_t c = cidx_of(p, phys);
    int rc = allocated(p, c);
    if (!rc)
        *count = (uint32_t)ld16(&pmm_refs(p)[c]) + 1;
    pmm_unlock(p);
    return rc;
}
