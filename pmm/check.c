/*
 * check.c - pmm_check(): every invariant listed in state.h, verified from scratch.
 *
 * Costs O(sections + present pages / 64 + pages of counts in use * 2048 + stack^2 + cached pages *
 * cache entries). Reads only, under the owner's lock, at a quiet moment for the per-CPU caches
 * (pmm.h "Many CPUs").
 */
#include "state.h"

struct seg_check {
    const struct pmm *p;
    uint64_t bad;
    const char *what;
};

/* No owned page and no metadata page may lie outside usable ranges. */
static void check_segment(uint64_t from, uint64_t to, const struct pmm_range *r, int was, void *arg)
{
    struct seg_check *c = arg;
    (void)was;
    if ((r && r->kind != PMM_KIND_NEVER) || c->bad != PMM_NONE)
        return;
    uint64_t meta = meta_first(c->p);
    if (from < meta_end(c->p) && meta < to) {
        c->bad = from > meta ? from : meta;
        c->what = "metadata lies outside usable RAM";
        return;
    }
    for (uint64_t pf = from, k, len; (len = c_seg(c->p, &pf, to, &k));) {
        uint64_t i = bits_next_set(pmm_own(c->p), k, k + len);
        if (i != PMM_NONE) {
            c->bad = cpfn(c->p, i);
            c->what = "owned page lies in a reserved range or hole";
            return;
        }
    }
}

/* The section table and the slots describe each other; slots ascend; no present section empty. */
static int check_sections(const struct pmm *p, struct pmm_check_fail *f);

static int fail(struct pmm_check_fail *f, const char *what, uint64_t pfn)
{
    if (f) {
        f->what = what;
        f->pfn = pfn;
    }
    return PMM_ECHECK;
}

/*
 * The block states and the free-block stack (blocks.c): each stacked entry names a block marked
 * stacked, no block twice, and as many blocks are marked as there are entries, so none is lost
 * from it; a block that is whole or stacked lies in the first zone after reconcile and reads as
 * allocated and unshared in the maps (its counts are then 0: the shared-map check below).
 */
static int check_blocks(const struct pmm *p, struct pmm_check_fail *f)
{
    const uint8_t *st = pmm_bst(p);
    const uint64_t *own = pmm_own(p), *l0 = pmm_free_l0(p), *sh = pmm_shared(p);
    if (p->fast.bst != st || st != pmm_va(p, p->bst_phys))
        return fail(f, "fast-path pointers disagree with the current mapping", p->off);
    if (p->btop > PMM_BSTACK_CAP)
        return fail(f, "free-block stack holds more than PMM_BSTACK_CAP blocks", p->btop);
    if (p->bfront != (p->btop ? p->bstack[p->btop - 1] : 0))
        return fail(f, "free-block stack's front differs from its top entry", p->bfront);
    for (uint32_t i = 0; i < p->btop; i++) {
        uint64_t pf = p->bstack[i] << PMM_BLOCK_SHIFT, c = cidx(p, pf);
        if (p->bstack[i] >= p->span || c == PMM_NONE)
            return fail(f, "stacked block lies in no present section", pf);
        if (p->bblk[i] != c >> PMM_BLOCK_SHIFT)
            return fail(f, "stacked block's compact number differs from its frame's", pf);
        if (st[c >> PMM_BLOCK_SHIFT] != PMM_BLK_STACKED)
            return fail(f, "block on the free-block stack is not marked stacked", pf);
        for (uint32_t j = 0; j < i; j++)
            if (p->bstack[j] == p->bstack[i])
                return fail(f, "block is on the free-block stack twice", pf);
    }
    uint64_t nstacked = 0, first = blk_first_zone(p);
    for (uint64_t b = 0; b < p->blkmap.nbits; b++) {
        if (st[b] == PMM_BLK_NORMAL)
            continue;
        uint64_t c = b << PMM_BLOCK_SHIFT, all = ~0ull;
        if (st[b] != PMM_BLK_WHOLE && st[b] != PMM_BLK_STACKED)
            return fail(f, "block state byte is not a block state", cpfn(p, c));
        if (c < first || !p->reconciled)
            return fail(f,
                        "whole or stacked block lies below the zone unbounded runs come from "
                        "first, or before reconcile",
                        cpfn(p, c));
        for (int i = 0; i < 8; i++)
            all &= own[(c >> 6) + i] & ~l0[(c >> 6) + i];
        if (all != ~0ull)
            return fail(f, "whole or stacked block has a page that is free or not owned",
                        cpfn(p, c));
        if ((sh[c >> 12] >> ((c >> 6) & 63)) & 0xff)
            return fail(f, "whole or stacked block has a page marked shared or cached", cpfn(p, c));
        nstacked += st[b] == PMM_BLK_STACKED;
    }
    if (nstacked != p->btop)
        return fail(f, "blocks marked stacked differ from the free-block stack's entries",
                    nstacked);
    return PMM_OK;
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

/* How many entries of all per-CPU caches name page pfn. O(CPUs * PMM_CPU_CACHE). */
static uint64_t cache_holders(const struct pmm *p, uint64_t pfn)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < p->ncpus; i++) {
        const struct pmm_pcpu *pc = pmm_pcpu(p, i);
        for (uint64_t k = 0; k < pc->n; k++)
            n += pc->page[k] == pfn;
    }
    return n;
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
    int rc = check_sections(p, f);
    if (rc)
        return rc;
    if (c_usable(p, r, p->nranges) != p->total)
        return fail(f, "total differs from the usable pages in the range table", p->total);

    const uint64_t *own = pmm_own(p), *l0 = pmm_free_l0(p);
    uint64_t nw = p->freemap.nwords[0], nfree = 0, nalloc = 0;
    for (uint64_t wi = 0; wi < nw; wi++) {
        if (l0[wi] & ~own[wi])
            return fail(f, "free page is not owned",
                        cpfn(p, wi * 64 + (uint64_t)__builtin_ctzll(l0[wi] & ~own[wi])));
        nfree += popcount64(l0[wi]);
        nalloc += popcount64(own[wi] & ~l0[wi]);
    }
    uint64_t cend = cidx(p, p->span - 1) + 1; /* the last section may run past span */
    if (bits_next_set(own, cend, nw * 64) != PMM_NONE)
        return fail(f, "owned bit at or past span", p->span);
    if (pmm_sectab(p)[0] == 0 && bit_test(own, 0))
        return fail(f, "page 0 is in the pool", 0);
    uint64_t mc = cidx(p, meta_first(p));
    if (mc == PMM_NONE || cidx(p, meta_end(p) - 1) != mc + p->meta_pages - 1)
        return fail(f, "metadata run does not lie in present sections", meta_first(p));
    uint64_t meta_c = bits_next_set(own, mc, mc + p->meta_pages);
    if (meta_c != PMM_NONE)
        return fail(f, "metadata page is in the pool", cpfn(p, meta_c));
    if (nfree != p->nfree)
        return fail(f, "free counter differs from the free map", nfree);
    if (nalloc != p->nalloc)
        return fail(f, "allocated counter differs from the maps", nalloc);
    if (p->nfree + p->nalloc + p->meta_pages > p->total)
        return fail(f, "free + allocated + metadata exceed total", p->total);

    struct seg_check sc = {p, PMM_NONE, 0};
    walk_segments(p, r, p->nranges, 0, 0, check_segment, &sc);
    if (sc.bad != PMM_NONE)
        return fail(f, sc.what, sc.bad);

    rc = check_levels(p, &p->freemap, f);
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
            return fail(f, "block map misses a free block", cpfn(p, b << PMM_BLOCK_SHIFT));
        if (b >= p->blkmap.nbits && bit_test(bl0, b))
            return fail(f, "block map bit past the last block", b << PMM_BLOCK_SHIFT);
    }
    rc = check_levels(p, &p->blkmap, f);
    if (rc)
        return rc;

    for (uint32_t i = 0; i < p->top; i++) {
        uint64_t c = p->stack[i];
        if (c >= p->cspan || c < p->c_low || !bit_test(l0, c))
            return fail(f, "stacked page is not free (or is below 1 MiB)",
                        c < p->cspan ? cpfn(p, c) : c);
        if (!bit_test(pmm_rinit(p), c >> PMM_RINIT_SHIFT))
            return fail(f, "stacked page's reference counts were never initialised", cpfn(p, c));
        if (c < p->stack_lo || c > p->stack_hi)
            return fail(f, "stacked page lies outside the stack's bounds", cpfn(p, c));
        for (uint32_t j = 0; j < i; j++)
            if (p->stack[j] == c)
                return fail(f, "page is on the stack twice", cpfn(p, c));
    }

    rc = check_blocks(p, f);
    if (rc)
        return rc;

    /* The caches: each entry a page that is owned, out of the free map, at or above 1 MiB,
     * counted as cached; that it is on no other cache is checked from the counts below. */
    const uint16_t *refs = pmm_refs(p);
    const uint64_t *init = pmm_rinit(p);
    uint64_t ncached = 0, cached = 0;
    if (p->fast.own != pmm_own(p) || p->fast.free != l0 || p->fast.shared != pmm_shared(p) ||
        p->fast.refs != refs || p->fast.sectab != pmm_sectab(p) || p->fast.pcpu != pmm_pcpu(p, 0))
        return fail(f, "fast-path pointers disagree with the current mapping", p->off);
    if (p->reclaimers > p->ncpus)
        return fail(f, "more CPUs reclaiming than there are", p->reclaimers);
    if (p->cpus_live != (p->reconciled ? p->ncpus : 0))
        return fail(f, "per-CPU caches in use before reconcile, or not after", p->cpus_live);
    for (uint32_t i = 0; i < p->ncpus; i++) {
        const struct pmm_pcpu *pc = pmm_pcpu(p, i);
        if (pc->n > PMM_CPU_CACHE || (pc->n && !p->cpus_live))
            return fail(f, "per-CPU cache count out of range", i);
        for (uint64_t k = 0; k < pc->n; k++) {
            uint64_t c = cidx(p, pc->page[k]);
            if (c == PMM_NONE || c < p->c_low || !bit_test(own, c) || bit_test(l0, c))
                return fail(f, "cached page is not owned and out of the pool (or is below 1 MiB)",
                            pc->page[k]);
            if (!bit_test(init, c >> PMM_RINIT_SHIFT) || ld16(&refs[c]) != PMM_REF_CACHED)
                return fail(f, "cached page's reference count does not say cached", cpfn(p, c));
        }
        ncached += pc->n;
    }

    /* Counts hold count - 1: any value below PMM_REF_CACHED is a count for an allocated page, but
     * its page of counts must have been initialised; in an initialised page a free page's count
     * is 0. */
    for (uint64_t wi = 0; wi < nw; wi++) {
        uint64_t c0 = wi * 64;
        if (!bit_test(init, c0 >> PMM_RINIT_SHIFT)) {
            uint64_t a = own[wi] & ~l0[wi];
            if (a)
                return fail(f, "allocated page's reference counts were never initialised",
                            cpfn(p, c0 + (uint64_t)__builtin_ctzll(a)));
            continue;
        }
        for (uint64_t k = 0; k < 64; k++) {
            int is_alloc = (own[wi] >> k & 1) && !(l0[wi] >> k & 1);
            uint16_t count = ld16(&refs[c0 + k]); /* lock-free ref_inc/dec may run */
            if (!is_alloc && count)
                return fail(f, "page that is not allocated has a reference count", cpfn(p, c0 + k));
            if (is_alloc && count == PMM_REF_CACHED) {
                if (cache_holders(p, cpfn(p, c0 + k)) != 1)
                    return fail(f, "page counted as cached is not on exactly one per-CPU cache",
                                cpfn(p, c0 + k));
                cached++;
            }
        }
    }
    if (cached != ncached)
        return fail(f, "per-CPU caches hold a page not counted as cached", ncached);
    const uint64_t *sh = pmm_shared(p);
    for (uint64_t g = 0; g < shared_words(p) * 64; g++) {
        int any = 0;
        if (g < p->cspan / 64 && bit_test(init, (g << 6) >> PMM_RINIT_SHIFT))
            for (int k = 0; k < 64; k++)
                any |= ld16(&refs[(g << 6) + (uint64_t)k]) != 0;
        if (any && !bit_test(sh, g)) /* set bits may be stale; clear ones may not */
            return fail(f, "shared map misses a shared or cached page", cpfn(p, g << 6));
        if (g >= p->cspan / 64 && bit_test(sh, g))
            return fail(f, "shared map bit past the last page", g);
    }
    if (bits_next_set(init, (p->cspan + (1ull << PMM_RINIT_SHIFT) - 1) >> PMM_RINIT_SHIFT,
                      rinit_words(p) * 64) != PMM_NONE)
        return fail(f, "refs-init bit past the last page of counts", p->span);
    return PMM_OK;
}

static int check_sections(const struct pmm *p, struct pmm_check_fail *f)
{
    const uint32_t *sec = pmm_sectab(p), *sl = pmm_slots(p);
    if (p->nsec != (p->span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT ||
        p->cspan != p->nslots << PMM_SEC_SHIFT || !p->nslots || p->nslots > p->nsec)
        return fail(f, "section geometry disagrees with span", p->nsec);
    for (uint64_t s = 0; s < p->nslots; s++) {
        if (sl[s] >= p->nsec || (s && sl[s] <= sl[s - 1]))
            return fail(f, "slots are not ascending sections", s);
        if (sec[sl[s]] != s)
            return fail(f, "section table and slots disagree", (uint64_t)sl[s] << PMM_SEC_SHIFT);
    }
    uint64_t present = 0;
    for (uint64_t k = 0; k < p->nsec; k++)
        present += sec[k] != PMM_SEC_ABSENT;
    if (present != p->nslots)
        return fail(f, "section table has entries no slot names", present);
    if (p->c_low != c_ceil(p, PMM_LOW_PFN) || p->c_high != c_ceil(p, PMM_HIGH_PFN) ||
        p->cursor >= p->cspan)
        return fail(f, "zone bounds or cursor disagree with the sections", p->cursor);
    return PMM_OK;
}

int pmm_check(const struct pmm *p, struct pmm_check_fail *f)
{
    pmm_lock(p);
    int rc = check(p, f);
    pmm_unlock(p);
    return rc;
}
