/*
 * check.c - pmm_check(): every invariant listed in state.h, verified from scratch.
 *
 * Costs O(sections + blocks + present pages / 64 + counts in written blocks + cached pages *
 * caches). Reads only, at a quiet moment (pmm.h "Many CPUs": with no other CPU in the allocator
 * the counts are exact and no reservation is outstanding).
 */
#include "pool.h"

static int fail(struct pmm_check_fail *f, const char *what, uint64_t pfn)
{
    if (f) {
        f->what = what;
        f->pfn = pfn;
    }
    return PMM_ECHECK;
}

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
        for (uint64_t i = k; i < k + len; i = (i | 63) + 1) {
            uint64_t x = own_view(c->p, i >> 6) & word_mask(i, k + len);
            if (x) {
                c->bad = cpfn(c->p, (i & ~63ull) | (uint64_t)__builtin_ctzll(x));
                c->what = "owned page lies in a reserved range or hole";
                return;
            }
        }
    }
}

static int check_sections(const struct pmm *p, struct pmm_check_fail *f)
{
    const uint32_t *sec = p->at.sectab, *sl = pmm_slots(p);
    if (p->nsec != (p->span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT ||
        p->cspan != p->nslots << PMM_SEC_SHIFT || !p->nslots || p->nslots > p->nsec ||
        p->nblocks != p->cspan >> PMM_BLOCK_SHIFT)
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
    if (p->c_low != c_ceil(p, PMM_LOW_PFN) || p->c_dma != c_ceil(p, PMM_DMA_PFN) ||
        p->c_high != c_ceil(p, PMM_HIGH_PFN))
        return fail(f, "zone bounds disagree with the sections", p->c_low);
    return PMM_OK;
}

/* Level k+1 bit j set wherever word j of level k is non-zero (set bits may be stale). */
static int check_sum(const struct pmm *p, const struct pmm_sum *s,
                     bool (*pred)(const struct pmm *, uint64_t), const char *what,
                     struct pmm_check_fail *f)
{
    const uint64_t *l0 = sum_words(p, s, 0);
    for (uint64_t b = 0; b < s->nwords[0] * 64; b++) {
        int bit = (l0[b >> 6] >> (b & 63)) & 1;
        if (b >= s->nbits && bit)
            return fail(f, "summary bit past the last block", b);
        if (b < s->nbits && !bit && pred(p, b))
            return fail(f, what, cpfn(p, b << PMM_BLOCK_SHIFT));
    }
    for (uint32_t k = 1; k < s->nlevels; k++) {
        const uint64_t *below = sum_words(p, s, k - 1), *lk = sum_words(p, s, k);
        for (uint64_t j = 0; j < s->nwords[k] * 64; j++) {
            int bit = (lk[j >> 6] >> (j & 63)) & 1;
            if (j >= s->nwords[k - 1] ? bit : (below[j] && !bit))
                return fail(f, "summary level misses a word below it, or has a bit past the end",
                            j);
        }
    }
    return PMM_OK;
}

/* How many entries of all caches name page pfn. */
static uint64_t cache_holders(const struct pmm *p, uint64_t pfn)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i <= p->ncpus; i++) {
        const struct pmm_cache *pc = i < p->ncpus ? &p->at.cache[i] : &p->home;
        for (uint32_t k = 0; k < pc->n && k < PMM_CPU_CACHE; k++)
            n += pc->page[k] == pfn;
    }
    return n;
}

/* One block: its state, its count, and its words and counts where they are written. */
static int check_block(const struct pmm *p, uint64_t b, uint64_t *owned, uint64_t *held,
                       struct pmm_check_fail *f)
{
    unsigned o = own_of(p, b);
    uint64_t cnt = ld16(&p->at.count[b]), c0 = b << PMM_BLOCK_SHIFT;
    if (o > OWN_SOME)
        return fail(f, "block state byte is not a block state", cpfn(p, c0));
    if (cnt > PMM_BLOCK_PAGES)
        return fail(f, "block count above 512", cpfn(p, c0));
    if (o == OWN_NONE) {
        if (cnt)
            return fail(f, "block with no owned page has a free count", cpfn(p, c0));
        return PMM_OK;
    }
    if (o == OWN_FRESH) {
        if (cnt != PMM_BLOCK_PAGES)
            return fail(f, "fresh block's count is not 512", cpfn(p, c0));
        *owned += PMM_BLOCK_PAGES;
        return PMM_OK;
    }
    uint64_t nfree = 0, nown = 0, all = ~0ull;
    for (uint64_t w = b << 3; w < (b + 1) << 3; w++) {
        uint64_t own = own_view(p, w), fr = ld64(&p->at.free[w]);
        if (fr & ~own)
            return fail(f, "free page is not owned",
                        cpfn(p, (w << 6) | (uint64_t)__builtin_ctzll(fr & ~own)));
        nfree += popcount64(fr);
        nown += popcount64(own);
        all &= own;
        for (uint64_t k = 0; k < 64; k++) {
            uint64_t c = (w << 6) | k;
            uint16_t v = ld16(&p->at.refs[c]);
            int alloc = (own >> k & 1) && !(fr >> k & 1);
            if (!alloc && v)
                return fail(f, "page that is not allocated has a reference count", cpfn(p, c));
            if (v && !((ld64(&p->at.marks[w >> 6]) >> (w & 63)) & 1))
                return fail(f, "marks miss a shared or held page", cpfn(p, c));
            if (v == PMM_REF_HELD) {
                if (c < p->c_low)
                    return fail(f, "page below 1 MiB is held on a cache", cpfn(p, c));
                if (cache_holders(p, cpfn(p, c)) != 1)
                    return fail(f, "page counted as held is not on exactly one cache", cpfn(p, c));
                (*held)++;
            }
        }
    }
    if (o == OWN_SOME && all == ~0ull)
        return fail(f, "block whose own words are all set is not ALL", cpfn(p, c0));
    if (o == OWN_SOME && !nown)
        return fail(f, "block with no owned page is not NONE", cpfn(p, c0));
    if (cnt != nfree)
        return fail(f, "block count differs from its free pages", cpfn(p, c0));
    *owned += nown;
    return PMM_OK;
}

static int check_numa(const struct pmm *p, struct pmm_check_fail *f)
{
    const struct pmm_node_run *run = pmm_runs(p);
    if (!p->nnodes || p->nnodes > PMM_MAX_NODES || !p->nruns || p->nruns > p->runs_cap)
        return fail(f, "NUMA geometry out of bounds", p->nnodes);
    for (uint64_t i = 0; i < p->nruns; i++) {
        if (run[i].first != (i ? run[i - 1].end : 0) || run[i].end <= run[i].first ||
            run[i].node >= p->nnodes)
            return fail(f, "node runs do not tile the blocks", i);
        for (uint64_t b = run[i].first; b < run[i].end; b++)
            if (p->at.node[b] != run[i].node)
                return fail(f, "block's node differs from its run's",
                            cpfn(p, b << PMM_BLOCK_SHIFT));
    }
    if (run[p->nruns - 1].end != p->nblocks)
        return fail(f, "node runs do not end at the last block", p->nblocks);
    for (uint32_t i = 0; i < p->ncpus; i++)
        if (pmm_cnode(p)[i] >= p->nnodes)
            return fail(f, "a CPU's node is out of range", i);
    const uint8_t *d = pmm_dist(p), *o = pmm_order(p);
    for (uint32_t i = 0, n = p->nnodes; i < n; i++) {
        uint64_t seen = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t j = o[i * n + k];
            if (j >= n || (seen >> j & 1) || (k == 0 && j != i) ||
                (k > 1 && d[i * n + j] < d[i * n + o[i * n + k - 1]]))
                return fail(f, "a node's nearest-first order is not every node by distance", i);
            seen |= 1ull << j;
        }
    }
    return PMM_OK;
}

static int check(const struct pmm *p, struct pmm_check_fail *f)
{
    if (p->magic != PMM_MAGIC || p->version != PMM_VERSION || p->size != sizeof *p)
        return fail(f, "header magic, version or size is wrong", 0);
    if (p->nranges > p->range_cap)
        return fail(f, "header fields out of range", 0);
    if (p->at.free != pmm_va(p, p->free_phys) || p->at.refs != pmm_va(p, p->refs_phys) ||
        p->at.count != pmm_va(p, p->count_phys) || p->at.own != pmm_va(p, p->own_phys) ||
        p->at.sectab != pmm_va(p, p->sec_phys) || p->at.cache != pmm_va(p, p->cache_phys) ||
        p->at.marks != pmm_va(p, p->marks_phys) || p->at.ownw != pmm_va(p, p->ownw_phys) ||
        p->at.node != pmm_va(p, p->node_phys))
        return fail(f, "owner-local pointers disagree with the current mapping", p->off);

    const struct pmm_range *r = pmm_rtab(p);
    for (uint64_t i = 0; i < p->nranges; i++) {
        if (!r[i].npages || r[i].kind >= PMM_NKINDS)
            return fail(f, "range table entry is empty or of no kind", i);
        if (i && r[i - 1].start + r[i - 1].npages > r[i].start)
            return fail(f, "range table is not sorted or overlaps", i);
    }
    int rc = check_sections(p, f);
    if (!rc)
        rc = check_numa(p, f);
    if (rc)
        return rc;
    if (c_usable(p, r, p->nranges) != p->total)
        return fail(f, "total differs from the usable pages in the range table", p->total);
    if (p->clearing)
        return fail(f, "a summary clear is in flight at a quiet moment", p->clearing);

    uint64_t owned = 0, held = 0, cached = 0;
    for (uint64_t b = 0; b < p->nblocks; b++) {
        rc = check_block(p, b, &owned, &held, f);
        if (rc)
            return rc;
    }
    if (owned != p->owned)
        return fail(f, "owned counter differs from the blocks' owned pages", owned);
    if (p->owned + p->meta_pages > p->total)
        return fail(f, "owned + metadata exceed total", p->total);
    uint64_t cend = cidx(p, p->span - 1) + 1; /* the last section may run past span */
    for (uint64_t i = cend; i < p->cspan; i = (i | 63) + 1)
        if (own_view(p, i >> 6) & word_mask(i, p->cspan))
            return fail(f, "owned page at or past span", p->span);
    if (p->at.sectab[0] == 0 && (own_view(p, 0) & 1))
        return fail(f, "page 0 is in the pool", 0);
    uint64_t mc = cidx(p, meta_first(p));
    if (mc == PMM_NONE || cidx(p, meta_end(p) - 1) != mc + p->meta_pages - 1)
        return fail(f, "metadata run does not lie in present sections", meta_first(p));
    for (uint64_t i = mc; i < mc + p->meta_pages; i = (i | 63) + 1)
        if (own_view(p, i >> 6) & word_mask(i, mc + p->meta_pages))
            return fail(f, "metadata page is in the pool", cpfn(p, i));

    struct seg_check sc = {p, PMM_NONE, 0};
    walk_segments(p, r, p->nranges, 0, 0, check_segment, &sc);
    if (sc.bad != PMM_NONE)
        return fail(f, sc.what, sc.bad);

    rc = check_sum(p, &p->avail, blk_avail, "avail summary misses a block with free pages", f);
    if (!rc)
        rc = check_sum(p, &p->whole, blk_whole, "whole summary misses a wholly free block", f);
    if (rc)
        return rc;

    /* The caches: each entry a held page (checked from the counts above, each on one cache). */
    if (p->cursor >= p->nblocks || p->cursor < blk_low(p))
        return fail(f, "pool cursor below the block holding 1 MiB, or past the blocks", p->cursor);
    if (p->pfn_high != (p->c_high < p->cspan ? PMM_HIGH_PFN : 0))
        return fail(f, "pfn_high differs from what the zone bounds give", p->pfn_high);
    for (uint32_t i = 0; i <= p->ncpus; i++) {
        const struct pmm_cache *pc = i < p->ncpus ? &p->at.cache[i] : &p->home;
        if (pc->n > PMM_CPU_CACHE)
            return fail(f, "cache count out of range", i);
        if (pc->cursor >= p->nblocks)
            return fail(f, "cache cursor past the blocks", i);
        if (pc->node != (i < p->ncpus && p->nnodes > 1 ? pmm_cnode(p)[i] : PMM_NODE_ANY))
            return fail(f, "cache's node differs from its CPU's", i);
        if (pc->n && p->fw.claim)
            return fail(f, "a cache holds pages in the boot phase", i);
        if (p->live != (!p->fw.claim && !p->fw.release))
            return fail(f, "caches live with firmware hooks set, or not without", i);
        for (uint32_t k = 0; k < pc->n; k++) {
            uint64_t c = cidx(p, pc->page[k]);
            unsigned o = c == PMM_NONE ? OWN_NONE : own_of(p, c >> PMM_BLOCK_SHIFT);
            if (o != OWN_ALL && o != OWN_SOME)
                return fail(f, "cached page lies in no written block", pc->page[k]);
            if (ld16(&p->at.refs[c]) != PMM_REF_HELD || ((free_view(p, c >> 6) >> (c & 63)) & 1))
                return fail(f, "cached page is not held", pc->page[k]);
            if (pc->node != PMM_NODE_ANY && p->at.node[c >> PMM_BLOCK_SHIFT] != pc->node)
                return fail(f, "cached page lies on another node than its cache's", pc->page[k]);
        }
        cached += pc->n;
    }
    if (cached != held)
        return fail(f, "caches hold a page not counted as held", cached);
    return PMM_OK;
}

int pmm_check(const struct pmm *p, struct pmm_check_fail *f)
{
    return check(p, f);
}
