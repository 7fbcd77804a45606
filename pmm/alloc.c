/*
 * alloc.c - the public page calls: single pages, runs, frees, reference counts.
 *
 * Every call validates before it changes anything, so a refused call leaves every page as it
 * was. Boot-phase claims (p->fw.claim) are the one way a call can shrink the pool: a page the
 * firmware took behind our back was never ours to give. Where the pages come from is search.c;
 * how they are taken and given is pool.c; the caches are percpu.c.
 */
#include "cache.h"

static inline uint64_t cidx_of(const struct pmm *p, uint64_t phys)
{
    return cidx(p, phys >> PMM_PAGE_SHIFT);
}

/*
 * The error a free of compact page c (PMM_NONE: in no present section) gets: 0 if it is
 * allocated with one reference. A held page is free as far as its holder's caller knows. *count
 * gets the stored count when the page is allocated: one acquire load, which the reference calls
 * go on from, so that a decrement to 0 by the last other holder is read with its writes.
 */
static int free_error_at(const struct pmm *p, uint64_t c, uint16_t *count)
{
    *count = 0;
    if (c == PMM_NONE)
        return PMM_ENOTOWNED;
    unsigned o = own_of(p, c >> PMM_BLOCK_SHIFT);
    if (o == OWN_NONE || (o == OWN_SOME && !((ld64(&p->at.ownw[c >> 6]) >> (c & 63)) & 1)))
        return PMM_ENOTOWNED;
    if (o == OWN_FRESH || ((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1))
        return PMM_EDOUBLE;
    if (!p->concurrent && p->home.n && home_holds(p, cpfn(p, c), c))
        return PMM_EDOUBLE; /* on the allocator's own cache: free to its caller */
    uint16_t v = *count = __atomic_load_n(&p->at.refs[c], __ATOMIC_ACQUIRE);
    return v == PMM_REF_HELD ? PMM_EDOUBLE : v ? PMM_ESHARED : PMM_OK;
}
static int free_error(const struct pmm *p, uint64_t c)
{
    uint16_t v;
    return free_error_at(p, c, &v);
}

/* The error a reference call on page c gets: 0 if it is allocated, whatever its count. */
static int ref_error_at(const struct pmm *p, uint64_t c, uint16_t *count)
{
    int rc = free_error_at(p, c, count);
    return rc == PMM_ESHARED ? PMM_OK : rc;
}
static int ref_error(const struct pmm *p, uint64_t c)
{
    uint16_t v;
    return ref_error_at(p, c, &v);
}

void fw_release_run(struct pmm *p, uint64_t c, uint64_t n)
{
    if (p->fw.release)
        p->fw.release(p->fw.ctx, cpfn(p, c) << PMM_PAGE_SHIFT, n);
}

/* Pages [c, c + n), claimed from the pool, that the firmware took: they leave the pool. */
static void pool_drop(struct pmm *p, uint64_t c, uint64_t n)
{
    for (uint64_t i = c; i < c + n;) {
        uint64_t b = i >> PMM_BLOCK_SHIFT, e = (b + 1) << PMM_BLOCK_SHIFT, drop[8] = {0};
        if (e > c + n)
            e = c + n;
        for (uint64_t j = i; j < e; j = (j | 63) + 1)
            drop[(j >> 6) & 7] |= word_mask(j, e);
        own_leave(p, b, drop);
        p->dropped += e - i;
        i = e;
    }
}

static int fw_claim_pages(struct pmm *p, uint64_t c, uint64_t n)
{
    return p->fw.claim(p->fw.ctx, cpfn(p, c) << PMM_PAGE_SHIFT, n);
}

static int claim_split(struct pmm *p, uint64_t s, uint64_t n);

/* Claim [s, s + n) whole or, if the firmware refuses, in halves: 0, or -1 with nothing claimed. */
static int claim_pieces(struct pmm *p, uint64_t s, uint64_t n)
{
    if (fw_claim_pages(p, s, n) == 0)
        return 0;
    return claim_split(p, s, n);
}

/*
 * The firmware refused [s, s + n) as one claim: EDK2 refuses AllocatePages(AllocateAddress)
 * across two of its map entries, and intake merged adjacent conventional descriptors into one
 * free run; or it took some of the pages. Claim the halves, recursively: O(k log n) calls for k
 * entry boundaries. 0 with the whole run claimed; -1 with nothing claimed from the firmware and
 * every page it refused even on its own dropped from the pool, so every retry makes progress.
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
        fw_release_run(p, s, h);
        return -1;
    }
    return 0;
}

/*
 * Boot phase: pages [c, c + n), taken from the pool, claimed from the firmware. 0, or -1 with
 * the pages the firmware took dropped from the pool and the others given back to it.
 */
int fw_claim_run(struct pmm *p, uint64_t c, uint64_t n)
{
    if (!p->fw.claim || fw_claim_pages(p, c, n) == 0)
        return 0;
    if (claim_split(p, c, n) == 0)
        return 0;
    for (uint64_t i = c; i < c + n; i++) /* a dropped page is no longer owned */
        if ((own_view(p, i >> 6) >> (i & 63)) & 1)
            give_run(p, i, 1);
    return -1;
}

/* The pool path of pmm_alloc: one page, from any node or one. */
static int alloc_pool(struct pmm *p, uint32_t node, int strict, uint64_t *phys)
{
    for (;;) {
        uint64_t c;
        if (!pool_take(p, node, strict, 1, &p->cursor, &c))
            return PMM_ENOMEM;
        if (fw_claim_run(p, c, 1))
            continue; /* the firmware had it: dropped from the pool; look again */
        *phys = cpfn(p, c) << PMM_PAGE_SHIFT;
        return PMM_OK;
    }
}

static uint32_t caller_node(const struct pmm *p);

/* pmm_alloc with many CPUs, or in the boot phase: out of line, so that the one-CPU path keeps
 * no stack frame. */
__attribute__((noinline)) static int alloc_shared(struct pmm *p, uint64_t *phys)
{
    struct pmm_cache *pc = cache_for_caller(p);
    if (pc)
        return cache_alloc(p, pc, pc == &p->home ? PMM_NODE_ANY : pmm_cnode(p)[pc - p->at.cache],
                           phys);
    int rc = alloc_pool(p, caller_node(p), 0, phys);
    if (rc == PMM_ENOMEM && p->concurrent) { /* other CPUs' caches: back at their next call */
        pool_short(p);
        rc = alloc_pool(p, caller_node(p), 0, phys);
    }
    return rc;
}

int pmm_alloc(struct pmm *p, uint64_t *phys)
{
    if (!p->concurrent && p->live) { /* one CPU: the allocator's own cache, inline */
        if (home_try_pop(p, phys))
            return PMM_OK;
        return cache_alloc_slow(p, &p->home, PMM_NODE_ANY, phys);
    }
    return alloc_shared(p, phys);
}

int pmm_alloc_node(struct pmm *p, uint32_t node, uint64_t *phys)
{
    if (node >= p->nnodes)
        return PMM_EINVAL;
    int rc = alloc_pool(p, node, 1, phys);
    if (rc == PMM_ENOMEM) {
        pool_short(p);
        rc = alloc_pool(p, node, 1, phys);
    }
    return rc;
}

static int alloc_run(struct pmm *p, uint32_t node, int strict, uint64_t npages, uint64_t align,
                     uint64_t limit, uint64_t *phys)
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
    uint64_t clo = c_ceil(p, lo), chi = c_ceil(p, hi);
    for (int round = 0;; round++) {
        uint64_t s = pool_take_run(p, npages, apages, clo, chi, node, strict);
        if (s == PMM_NONE) {
            /* The caller's cache holds no page below 1 MiB, nor does any: nothing to ask for. */
            struct pmm_cache *pc = round ? 0 : cache_for_caller(p);
            if (round || lo < PMM_LOW_PFN || (!p->concurrent && (!pc || !pc->n)))
                return PMM_ENOMEM; /* nothing held anywhere that could help */
            if (pc)
                cache_spill(p, pc, pc->n);
            pool_short(p);
            continue;
        }
        if (fw_claim_run(p, s, npages)) {
            round = -1; /* the firmware had some of it: those pages left the pool; look again */
            continue;
        }
        *phys = cpfn(p, s) << PMM_PAGE_SHIFT;
        return PMM_OK;
    }
}

/* The calling CPU's node, if pmm_set_cpu_self says who calls: runs come from there first. */
static uint32_t caller_node(const struct pmm *p)
{
    if (p->nnodes < 2 || !p->cpu_self)
        return PMM_NODE_ANY;
    uint32_t self = p->cpu_self(p->cpu_ctx);
    return self < p->ncpus ? pmm_cnode(p)[self] : PMM_NODE_ANY;
}

/*
 * One 2 MiB block with no limit, the commonest large request (a huge page): the block freed
 * whole last if it is still whole and in the preferred zone (one CPU only: the hint is not
 * shared), else the first wholly free block of each zone in turn, O(levels) each. PMM_NONE if
 * there is none (nothing changed).
 */
static uint64_t block_fast(struct pmm *p)
{
    uint64_t bhigh = p->c_high >> PMM_BLOCK_SHIFT, bdma = p->c_dma >> PMM_BLOCK_SHIFT;
    uint64_t blow = (p->c_low + PMM_BLOCK_PAGES - 1) >> PMM_BLOCK_SHIFT;
    uint64_t first = bhigh < p->nblocks ? bhigh : bdma;
    if (!p->concurrent && p->hint != PMM_NONE) {
        uint64_t b = p->hint;
        p->hint = PMM_NONE;
        if (b >= first && b < p->nblocks && blk_whole(p, b) && take_whole(p, b))
            return b;
    }
    const struct pmm_sum *s = &p->whole;
    if (!ld64(sum_words(p, s, s->nlevels - 1)))
        return PMM_NONE; /* no wholly free block anywhere: one load */
    uint64_t zlo[3] = {bhigh, bdma, blow}, zhi[3] = {p->nblocks, bhigh, bdma};
    /* Many CPUs: each starts at its own place in the zone (then wraps), so that they do not all
     * race for the zone's first whole block and its summary word. */
    uint32_t self = p->concurrent && p->cpu_self ? p->cpu_self(p->cpu_ctx) : PMM_NODE_ANY;
    for (int z = 0; z < 3; z++) {
        uint64_t at = zlo[z];
        if (self < p->ncpus && zhi[z] > zlo[z])
            at += (zhi[z] - zlo[z]) * self / p->ncpus;
        for (int pass = 0; pass < 2; pass++) {
            uint64_t lim = pass ? at : zhi[z];
            for (uint64_t b = pass ? zlo[z] : at; (b = sum_next(p, s, b, lim)) != PMM_NONE; b++) {
                if (blk_whole(p, b) && take_whole(p, b))
                    return b;
                if (!blk_whole(p, b))
                    sum_clear(p, &p->whole, b, blk_whole);
            }
        }
    }
    /* A stale bit below where the zones' searches start is never met by them: clear them all, so
     * that the next attempt stops at the top word. */
    sum_scrub(p, s);
    return PMM_NONE;
}

int pmm_alloc_run(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit, uint64_t *phys)
{
    uint32_t node = caller_node(p);
    if (npages == PMM_BLOCK_PAGES && align == PMM_BLOCK_PAGES << PMM_PAGE_SHIFT &&
        (!limit || limit >> PMM_PAGE_SHIFT >= p->span) && !p->fw.claim && node == PMM_NODE_ANY) {
        uint64_t b = block_fast(p);
        if (b != PMM_NONE) {
            *phys = cpfn(p, b << PMM_BLOCK_SHIFT) << PMM_PAGE_SHIFT;
            return PMM_OK;
        }
        /* The general path would search the same blocks again; it alone tells PMM_ERANGE (a
         * block can never fit) from PMM_ENOMEM. */
        if (!p->concurrent && !p->home.n && PMM_BLOCK_PAGES <= p->total &&
            PMM_LOW_PFN + PMM_BLOCK_PAGES <= p->span)
            return PMM_ENOMEM;
    }
    return alloc_run(p, node, 0, npages, align, limit, phys);
}

int pmm_alloc_run_node(struct pmm *p, uint32_t node, uint64_t npages, uint64_t align,
                       uint64_t limit, uint64_t *phys)
{
    if (node >= p->nnodes)
        return PMM_EINVAL;
    return alloc_run(p, node, 1, npages, align, limit, phys);
}

/* pmm_free's and pmm_cpu_free's checks, and where the page goes when they pass. */
int free_slow(struct pmm *p, struct pmm_cache *pc, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    int rc = free_error(p, c);
    if (rc)
        return rc; /* and nothing written */
    /* A CPU's cache used with one CPU at a time: the allocator's own cache goes back, so that
     * its group bits stop sending this CPU's frees here. */
    if (pc && pc != &p->home && !p->concurrent && p->home.n)
        cache_spill(p, &p->home, p->home.n);
    if (pc) {
        cache_put(p, pc, c);
        return PMM_OK;
    }
    rc = give_one(p, c);
    if (!rc)
        fw_release_run(p, c, 1);
    return rc;
}

/* pmm_free with many CPUs, or in the boot phase (as alloc_shared). */
__attribute__((noinline)) static int free_shared(struct pmm *p, uint64_t phys)
{
    struct pmm_cache *pc = cache_for_caller(p);
    if (pc)
        return cache_free(p, pc, phys);
    return free_slow(p, 0, phys);
}

int pmm_free(struct pmm *p, uint64_t phys)
{
    if (!p->concurrent && p->live) { /* one CPU: the allocator's own cache, inline */
        if (home_try_push(p, phys))
            return PMM_OK;
        return free_slow(p, &p->home, phys);
    }
    return free_shared(p, phys);
}

/*
 * The first page of compact [c, c + n) that may not be freed, or PMM_NONE: a word of the maps at
 * a time, and a word of the marks per 4096 pages; counts are read only in a group the marks name.
 */
static uint64_t first_unfreeable(const struct pmm *p, uint64_t c, uint64_t n)
{
    uint64_t end = c + n;
    for (uint64_t i = c; i < end; i = (i | 63) + 1) {
        uint64_t x = (~own_view(p, i >> 6) | free_view(p, i >> 6)) & word_mask(i, end);
        if (x)
            return (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
    }
    uint64_t bad = PMM_NONE;
    for (uint32_t i = 0; !p->concurrent && i < p->home.n; i++) { /* on the own cache: free */
        uint64_t h = cidx_present(p, p->home.page[i]);
        if (h >= c && h < end && h < bad)
            bad = h;
    }
    if (bad != PMM_NONE)
        end = bad; /* the first page past which nothing counts: a shared page before it wins */
    uint64_t g1 = ((end - 1) >> 6) + 1;
    if (end == c)
        return bad;
    for (uint64_t g = c >> 6; g < g1; g = (g | 63) + 1) {
        for (uint64_t x = ld64(&p->at.marks[g >> 6]) & word_mask(g, g1); x; x &= x - 1) {
            uint64_t grp = (g & ~63ull) | (uint64_t)__builtin_ctzll(x);
            for (uint64_t i = grp << 6 > c ? grp << 6 : c; i < ((grp + 1) << 6) && i < end; i++)
                if (__atomic_load_n(&p->at.refs[i], __ATOMIC_ACQUIRE))
                    return i; /* shared, or held: free_error says which */
        }
    }
    return bad;
}

/* A 2 MiB block handed out whole: 8 words, a byte of marks, and one count add. */
static int free_block(struct pmm *p, uint64_t b)
{
    uint64_t *w = &p->at.free[b << 3], x = 0;
    if (own_of(p, b) != OWN_ALL)
        return 0;
    for (int i = 0; i < 8; i++)
        x |= ld64(&w[i]);
    if (x || ((ld64(&p->at.marks[b >> 3]) >> ((b & 7) * 8)) & 0xff) ||
        (!p->concurrent && ((ld64(&p->at.homeg[b >> 3]) >> ((b & 7) * 8)) & 0xff)))
        return 0; /* something is free, counted or cached: the general path says what */
    for (int i = 0; i < 8; i++)
        st64(&w[i], ~0ull);
    blk_unreserve(p, b, PMM_BLOCK_PAGES);
    if (!p->concurrent)
        p->hint = b;
    return 1;
}

int pmm_free_run(struct pmm *p, uint64_t phys, uint64_t npages)
{
    if (!npages || (phys & (PMM_PAGE_SIZE - 1)))
        return PMM_EINVAL;
    uint64_t s = phys >> PMM_PAGE_SHIFT, c;
    if (npages == PMM_BLOCK_PAGES && !(s & (PMM_BLOCK_PAGES - 1)) && !p->fw.release &&
        (c = cidx(p, s)) != PMM_NONE && free_block(p, c >> PMM_BLOCK_SHIFT))
        return PMM_OK;
    if (s >= p->span || npages > p->span - s)
        return PMM_ENOTOWNED;
    c = cidx(p, s);
    /*
     * Present sections in a row get consecutive slots, so the part of the run before its first
     * absent section is one compact run; a page in an absent section is not ours.
     */
    uint64_t ok = 0;
    while (ok < npages && p->at.sectab[(s + ok) >> PMM_SEC_SHIFT] != PMM_SEC_ABSENT) {
        uint64_t next = (((s + ok) >> PMM_SEC_SHIFT) + 1) << PMM_SEC_SHIFT;
        ok = next - s < npages ? next - s : npages;
    }
    if (!ok)
        return PMM_ENOTOWNED;
    uint64_t bad = first_unfreeable(p, c, ok);
    if (bad != PMM_NONE)
        return free_error(p, bad);
    if (ok < npages)
        return PMM_ENOTOWNED;
    give_run(p, c, npages);
    fw_release_run(p, c, npages);
    return PMM_OK;
}

/*
 * Reference counts change with a compare-and-swap on the page's own count. Going from one
 * reference to two marks the page's group first, so that a run free reading the marks sees it;
 * dropping the last reference frees the page like pmm_free.
 */
int pmm_ref_inc(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    uint16_t v;
    int rc = ref_error_at(p, c, &v);
    if (rc)
        return rc;
    uint16_t *ref = &p->at.refs[c];
    for (;;) {
        if (v == PMM_REF_HELD)
            return PMM_EDOUBLE;
        if (v == PMM_REF_MAX - 1)
            return PMM_EOVERFLOW;
        if (!v)
            mark_page(p, c);
        if (cas16_x(p, ref, &v, (uint16_t)(v + 1)))
            return PMM_OK;
    }
}

int pmm_ref_dec(struct pmm *p, uint64_t phys)
{
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    uint16_t v;
    int rc = ref_error_at(p, c, &v); /* v: acquired (free_error_at) */
    if (rc)
        return rc;
    uint16_t *ref = &p->at.refs[c];
    for (;;) {
        if (v == PMM_REF_HELD)
            return PMM_EDOUBLE;
        if (!v) { /* the last reference: the page is free */
            rc = give_one(p, c);
            if (!rc)
                fw_release_run(p, c, 1);
            return rc;
        }
        if (cas16_x(p, ref, &v, (uint16_t)(v - 1))) /* the mark stays: stale ones are allowed */
            return PMM_OK;
    }
}

int pmm_refcount(const struct pmm *p, uint64_t phys, uint32_t *count)
{
    *count = 0;
    if (phys & (PMM_PAGE_SIZE - 1))
        return PMM_EINVAL;
    uint64_t c = cidx_of(p, phys);
    int rc = ref_error(p, c);
    if (!rc) {
        uint16_t v = ld16(&p->at.refs[c]);
        if (v == PMM_REF_HELD)
            return PMM_EDOUBLE;
        *count = (uint32_t)v + 1;
    }
    return rc;
}
