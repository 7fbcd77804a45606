/*
 * alloc.c - handing pages out and taking them back: the free-page stack, runs, reference counts.
 *
 * Every public call validates everything before it changes anything, so a rejected call leaves the
 * state exactly as it was. Boot-phase claims (p->fw.claim) are the one exception that can shrink
 * the pool: a page the firmware took behind our back was never ours to give.
 */
#include "state.h"

static inline void push(struct pmm *p, uint64_t pfn)
{
    p->stack[p->top++] = pfn;
    if (pfn < p->stack_lo)
        p->stack_lo = pfn;
    if (pfn > p->stack_hi)
        p->stack_hi = pfn;
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
 * start. A batch comes from one stretch only: it stops at the first stretch that had pages.
 */
static uint64_t refill(struct pmm *p)
{
    const uint64_t *l0 = pmm_free_l0(p);
    uint64_t pref = p->span > PMM_HIGH_PFN ? PMM_HIGH_PFN : PMM_LOW_PFN, at = p->cursor, cur = at;
    uint64_t from[4], to[4];
    int n = 0;
    if (at >= pref) { /* cursor in the high zone */
        from[n] = at, to[n++] = p->span;
        from[n] = pref, to[n++] = at;
        from[n] = PMM_LOW_PFN, to[n++] = pref;
    } else { /* cursor in the low zone: look at the high zone again first */
        from[n] = pref, to[n++] = p->span;
        from[n] = at, to[n++] = pref;
        from[n] = PMM_LOW_PFN, to[n++] = at;
    }
    for (int k = 0; k < n && !p->top; k++) {
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
            }
            cur = w ? (i & ~63ull) | (uint64_t)__builtin_ctzll(w) : (i & ~63ull) + 64;
        }
    }
    p->cursor = cur < p->span ? cur : pref;
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

/* Free pages [pfn, pfn + n), none of them stacked, leave the pool (the firmware has them). */
void pool_drop(struct pmm *p, uint64_t pfn, uint64_t n)
{
    fm_fill(p, pfn, pfn + n, 0);
    bits_fill(pmm_own(p), pfn, pfn + n, 0);
    p->nfree -= n;
}

/* The single-page halves of take() and give(), inlined into the O(1) paths. */
static inline void take1(struct pmm *p, uint64_t pfn)
{
    uint64_t *l0 = pmm_free_l0(p), wi = pfn >> 6, old = l0[wi], new = old & ~bit_mask(pfn);
    l0[wi] = new;
    fm_word_changed(p, wi, old, new);
    pmm_refs(p)[pfn] = 1;
    p->nfree--;
    p->nalloc++;
}

static inline void give1(struct pmm *p, uint64_t pfn)
{
    uint64_t *l0 = pmm_free_l0(p), wi = pfn >> 6, old = l0[wi], new = old | bit_mask(pfn);
    l0[wi] = new;
    fm_word_changed(p, wi, old, new);
    if (p->top < PMM_STACK_CAP && pfn >= PMM_LOW_PFN)
        push(p, pfn);
    p->nfree++;
    p->nalloc--;
    if (p->fw.release)
        p->fw.release(p->fw.ctx, pfn << PMM_PAGE_SHIFT, 1);
}

/* Mark free pages [pfn, pfn + n) allocated with reference count 1. */
static void take(struct pmm *p, uint64_t pfn, uint64_t n)
{
    fm_fill(p, pfn, pfn + n, 0);
    uint16_t *refs = pmm_refs(p) + pfn;
    for (uint64_t i = 0; i < n; i++)
        refs[i] = 1;
    p->nfree -= n;
    p->nalloc += n;
}

/* Return allocated pages [pfn, pfn + n) to the free map (and, in the boot phase, the firmware). */
static void give(struct pmm *p, uint64_t pfn, uint64_t n)
{
    if (n == 1) {
        give1(p, pfn);
        return;
    }
    fm_fill(p, pfn, pfn + n, 1);
    p->nfree += n;
    p->nalloc -= n;
    if (p->fw.release)
        p->fw.release(p->fw.ctx, pfn << PMM_PAGE_SHIFT, n);
}

/* 0 if pfn is allocated; otherwise why it is not. */
static inline int allocated(const struct pmm *p, uint64_t pfn)
{
    if (pfn >= p->span || !bit_test(pmm_own(p), pfn))
        return PMM_ENOTOWNED;
    if (bit_test(pmm_free_l0(p), pfn))
        return PMM_EDOUBLE;
    return PMM_OK;
}

/* 0 if pfn may be freed outright: allocated and not shared. */
static inline int sole_owner(const struct pmm *p, uint64_t pfn)
{
    int rc = allocated(p, pfn);
    return !rc && pmm_refs(p)[pfn] != 1 ? PMM_ESHARED : rc;
}

int pmm_alloc(struct pmm *p, uint64_t *phys)
{
    pmm_lock(p);
    for (;;) {
        if (!p->top && !refill(p)) {
            pmm_unlock(p);
            return PMM_ENOMEM;
        }
        uint64_t pfn = p->stack[--p->top];
        if (!p->top)
            stack_reset_bounds(p);
        if (p->fw.claim && p->fw.claim(p->fw.ctx, pfn << PMM_PAGE_SHIFT, 1)) {
            pool_drop(p, pfn, 1);
            continue;
        }
        take1(p, pfn);
        *phys = pfn << PMM_PAGE_SHIFT;
        pmm_unlock(p);
        return PMM_OK;
    }
}

/*
 * The firmware refused a run we thought free: find which of its pages it took, one by one, and drop
 * those from the pool. Returns how many were dropped.
 */
static uint64_t drop_claimed(struct pmm *p, uint64_t s, uint64_t n)
{
    uint64_t dropped = 0;
    for (uint64_t pfn = s; pfn < s + n; pfn++) {
        if (p->fw.claim(p->fw.ctx, pfn << PMM_PAGE_SHIFT, 1) == 0) {
            p->fw.release(p->fw.ctx, pfn << PMM_PAGE_SHIFT, 1);
        } else {
            pool_drop(p, pfn, 1);
            dropped++;
        }
    }
    return dropped;
}

static int claim_split(struct pmm *p, uint64_t s, uint64_t n);

/* Claim [s, s + n) whole or, if the firmware refuses, in halves: 0, or -1 with nothing claimed. */
static int claim_pieces(struct pmm *p, uint64_t s, uint64_t n)
{
    if (p->fw.claim(p->fw.ctx, s << PMM_PAGE_SHIFT, n) == 0)
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
        p->fw.release(p->fw.ctx, s << PMM_PAGE_SHIFT, h);
        return -1;
    }
    return 0;
}

int pmm_alloc_run(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit, uint64_t *phys)
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

    pmm_lock(p);
    for (;;) {
        uint64_t s = fm_find_run(p, npages, apages, lo, hi);
        if (s == PMM_NONE) {
            pmm_unlock(p);
            return PMM_ENOMEM;
        }
        stack_evict(p, s, npages);
        /* Refused: drop the pages somebody else took and look again, or, if none was taken,
         * claim the run in pieces. A refused claim never fails a request that can be met. */
        if (p->fw.claim && p->fw.claim(p->fw.ctx, s << PMM_PAGE_SHIFT, npages) &&
            (drop_claimed(p, s, npages) || claim_split(p, s, npages)))
            continue;
        take(p, s, npages);
        *phys = s << PMM_PAGE_SHIFT;
        pmm_unlock(p);
        return PMM_OK;
    }
}

int pmm_free(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t pfn = phys >> PMM_PAGE_SHIFT;
    pmm_lock(p);
    int rc = sole_owner(p, pfn);
    if (!rc)
        give1(p, pfn);
    pmm_unlock(p);
    return rc;
}

int pmm_free_run(struct pmm *p, uint64_t phys, uint64_t npages)
{
    if (!npages || (phys & (PMM_PAGE_SIZE - 1)))
        return PMM_EINVAL;
    uint64_t s = phys >> PMM_PAGE_SHIFT;
    if (s >= p->span || npages > p->span - s)
        return PMM_ENOTOWNED;
    pmm_lock(p);
    int rc = PMM_OK;
    for (uint64_t pfn = s; pfn < s + npages && !rc; pfn++)
        rc = sole_owner(p, pfn);
    if (!rc)
        give(p, s, npages);
    pmm_unlock(p);
    return rc;
}

int pmm_ref_inc(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t pfn = phys >> PMM_PAGE_SHIFT;
    pmm_lock(p);
    int rc = allocated(p, pfn);
    uint16_t *ref = pmm_refs(p) + pfn;
    if (!rc && *ref == PMM_REF_MAX)
        rc = PMM_EOVERFLOW;
    if (!rc)
        (*ref)++;
    pmm_unlock(p);
    return rc;
}

int pmm_ref_dec(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t pfn = phys >> PMM_PAGE_SHIFT;
    pmm_lock(p);
    int rc = allocated(p, pfn);
    if (!rc) {
        uint16_t *ref = pmm_refs(p) + pfn;
        if (*ref == 1)
            give1(p, pfn);
        else
            (*ref)--;
    }
    pmm_unlock(p);
    return rc;
}

int pmm_refcount(const struct pmm *p, uint64_t phys, uint32_t *count)
{
    *count = 0;
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t pfn = phys >> PMM_PAGE_SHIFT;
    pmm_lock(p);
    int rc = allocated(p, pfn);
    if (!rc)
        *count = pmm_refs(p)[pfn];
    pmm_unlock(p);
    return rc;
}
