/*
 * check.c - pmm_check(): every invariant listed in state.h, verified from scratch.
 *
 * Costs O(span / 64 + allocated pages + stack^2). Reads only, under the owner's lock.
 */
#include "state.h"

struct seg_check {
    const struct pmm *p;
    uint64_t bad;
    const char *what;
};

/* No owned page and no metadata page may lie outside usable ranges. */
static void check_segment(uint64_t from, uint64_t to, const struct pmm_range *r, void *arg)
{
    struct seg_check *c = arg;
    if ((r && r->kind != PMM_KIND_NEVER) || c->bad != PMM_NONE)
        return;
    uint64_t meta = meta_first(c->p);
    if (from < meta_end(c->p) && meta < to) {
        c->bad = from > meta ? from : meta;
        c->what = "metadata lies outside usable RAM";
        return;
    }
    uint64_t i = bits_next_set(pmm_own(c->p), from, to);
    if (i != PMM_NONE) {
        c->bad = i;
        c->what = "owned page lies in a reserved range or hole";
    }
}

static int fail(struct pmm_check_fail *f, const char *what, uint64_t pfn)
{
    if (f) {
        f->what = what;
        f->pfn = pfn;
    }
    return PMM_ECHECK;
}

/* Summary levels of h agree with the level below; bits past the end are clear. */
static int check_levels(const struct pmm *p, const struct pmm_hbits *h, struct pmm_check_fail *f)
{
    for (uint32_t k = 1; k < h->nlevels; k++) {
        const uint64_t *below = pmm_words(p, h, k - 1), *lk = pmm_words(p, h, k);
        for (uint64_t j = 0; j < h->nwords[k] * 64; j++) {
            int want = j < h->nwords[k - 1] && below[j] != 0;
            if (bit_test(lk, j) != want)
                return fail(f, "summary bit disagrees with the words it summarises", j);
        }
    }
    return PMM_OK;
}

static int check(const struct pmm *p, struct pmm_check_fail *f)
{
    if (p->magic != PMM_MAGIC || p->version != PMM_VERSION || p->size != sizeof *p)
        return fail(f, "header magic, version or size is wrong", 0);
    if (p->top > PMM_STACK_CAP || p->nranges > p->range_cap)
        return fail(f, "header fields out of range", 0);

    const struct pmm_range *r = pmm_rtab(p);
    for (uint64_t i = 0; i < p->nranges; i++) {
        if (!r[i].npages || r[i].kind >= PMM_NKINDS)
            return fail(f, "range table entry is empty or of no kind", i);
        if (i && r[i - 1].start + r[i - 1].npages > r[i].start)
            return fail(f, "range table is not sorted or overlaps", i);
    }
    if (usable_pages(r, p->nranges, p->span) != p->total)
        return fail(f, "total differs from the usable pages in the range table", p->total);

    const uint64_t *own = pmm_own(p), *l0 = pmm_free_l0(p);
    uint64_t nw = p->freemap.nwords[0], nfree = 0, nalloc = 0;
    for (uint64_t wi = 0; wi < nw; wi++) {
        if (l0[wi] & ~own[wi])
            return fail(f, "free page is not owned",
                        wi * 64 + (uint64_t)__builtin_ctzll(l0[wi] & ~own[wi]));
        nfree += popcount64(l0[wi]);
        nalloc += popcount64(own[wi] & ~l0[wi]);
    }
    if (bits_next_set(own, p->span, nw * 64) != PMM_NONE)
        return fail(f, "owned bit past the end of the span", bits_next_set(own, p->span, nw * 64));
    if (bit_test(own, 0))
        return fail(f, "page 0 is in the pool", 0);
    uint64_t meta_pfn = bits_next_set(own, meta_first(p), meta_end(p));
    if (meta_pfn != PMM_NONE)
        return fail(f, "metadata page is in the pool", meta_pfn);
    if (nfree != p->nfree)
        return fail(f, "free counter differs from the free map", nfree);
    if (nalloc != p->nalloc)
        return fail(f, "allocated counter differs from the maps", nalloc);
    if (p->nfree + p->nalloc + p->meta_pages > p->total)
        return fail(f, "free + allocated + metadata exceed total", p->total);

    struct seg_check sc = {p, PMM_NONE, 0};
    walk_segments(p, r, p->nranges, check_segment, &sc);
    if (sc.bad != PMM_NONE)
        return fail(f, sc.what, sc.bad);

    int rc = check_levels(p, &p->freemap, f);
    if (rc)
        return rc;
    const uint64_t *bl0 = pmm_words(p, &p->blkmap, 0);
    for (uint64_t b = 0; b < p->blkmap.nwords[0] * 64; b++) {
        int want = 0;
        if (b < p->blkmap.nbits) {
            uint64_t all = ~0ull;
            for (int i = 0; i < 8; i++)
                all &= l0[b * 8 + i];
            want = all == ~0ull;
        }
        if (want && !bit_test(bl0, b)) /* set bits may be stale hints; clear ones may not */
            return fail(f, "block map misses a free block", b << PMM_BLOCK_SHIFT);
        if (b >= p->blkmap.nbits && bit_test(bl0, b))
            return fail(f, "block map bit past the last block", b << PMM_BLOCK_SHIFT);
    }
    rc = check_levels(p, &p->blkmap, f);
    if (rc)
        return rc;

    for (uint32_t i = 0; i < p->top; i++) {
        uint64_t pfn = p->stack[i];
        if (pfn >= p->span || pfn < PMM_LOW_PFN || !bit_test(l0, pfn))
            return fail(f, "stacked page is not free (or is below 1 MiB)", pfn);
        if (pfn < p->stack_lo || pfn > p->stack_hi)
            return fail(f, "stacked page lies outside the stack's bounds", pfn);
        for (uint32_t j = 0; j < i; j++)
            if (p->stack[j] == pfn)
                return fail(f, "page is on the stack twice", pfn);
    }

    const uint16_t *refs = pmm_refs(p);
    for (uint64_t wi = 0; wi < nw; wi++) {
        for (uint64_t a = own[wi] & ~l0[wi]; a; a &= a - 1) {
            uint64_t pfn = wi * 64 + (uint64_t)__builtin_ctzll(a);
            if (refs[pfn] == 0)
                return fail(f, "allocated page has reference count 0", pfn);
        }
    }
    return PMM_OK;
}

int pmm_check(const struct pmm *p, struct pmm_check_fail *f)
{
    pmm_lock(p);
    int rc = check(p, f);
    pmm_unlock(p);
    return rc;
}
