/*
 * reconcile.c - after ExitBootServices: the final map decides what the pool holds.
 *
 * The final map differs from the one the allocator was built from: the loader's own allocations
 * (our metadata and the pages we handed out, as EfiLoaderData), whatever the firmware allocated in
 * between, and boot-services memory, which is now ours to reuse. Two walks over [0, span), each
 * visiting only where the build's map and the final one can disagree (see apply):
 *
 *   final map:  |  usable (FREE/BOOT)   | NEVER or hole |  usable  |
 *   pass 1:      nothing to check        no allocated or metadata page may lie here
 *   pass 2:      not-owned pages join    free pages leave the pool
 *                the pool, free
 *
 * Pass 1 changes nothing, so a conflicting map is refused with the state intact.
 */
#include "pool.h"

/* Call fn on [from, to) against the old table: its kind there, or WAS_HOLE; WAS_ANY without one. */
static void split_old(uint64_t from, uint64_t to, const struct pmm_range *r,
                      const struct pmm_range *old, uint64_t nold, uint64_t *j, segment_fn fn,
                      void *arg)
{
    if (!old) {
        fn(from, to, r, WAS_ANY, arg);
        return;
    }
    while (from < to) {
        while (*j < nold && old[*j].start + old[*j].npages <= from)
            (*j)++;
        if (*j == nold || old[*j].start >= to) {
            fn(from, to, r, WAS_HOLE, arg);
            return;
        }
        if (old[*j].start > from) {
            fn(from, old[*j].start, r, WAS_HOLE, arg);
            from = old[*j].start;
        }
        uint64_t e = old[*j].start + old[*j].npages < to ? old[*j].start + old[*j].npages : to;
        fn(from, e, r, (int)old[*j].kind, arg);
        from = e;
    }
}

void walk_segments(const struct pmm *p, const struct pmm_range *r, uint64_t n,
                   const struct pmm_range *old, uint64_t nold, segment_fn fn, void *arg)
{
    uint64_t cur = 0, j = 0;
    for (uint64_t i = 0; i < n && cur < p->span; i++) {
        uint64_t s = r[i].start, e = r[i].start + r[i].npages;
        if (e > p->span)
            e = p->span;
        if (e <= cur)
            continue;
        if (s > cur)
            split_old(cur, s < p->span ? s : p->span, 0, old, nold, &j, fn, arg);
        if (s < e)
            split_old(s > cur ? s : cur, e, &r[i], old, nold, &j, fn, arg);
        cur = e;
    }
    if (cur < p->span)
        split_old(cur, p->span, 0, old, nold, &j, fn, arg);
}

struct conflict {
    const struct pmm *p;
    uint64_t bad;
};

static int usable(const struct pmm_range *r)
{
    return r && r->kind != PMM_KIND_NEVER;
}

/*
 * An allocated or metadata page where the final map shows no usable memory. Both can only lie
 * where the build saw conventional memory: nothing else was ever owned.
 */
static void find_conflict(uint64_t from, uint64_t to, const struct pmm_range *r, int was, void *arg)
{
    struct conflict *k = arg;
    const struct pmm *p = k->p;
    if (usable(r) || k->bad != PMM_NONE || (was != PMM_KIND_FREE && was != WAS_ANY))
        return;
    uint64_t meta = meta_first(p);
    if (from < meta_end(p) && meta < to) {
        k->bad = from > meta ? from : meta;
        return;
    }
    for (uint64_t pf = from, c, len; (len = c_seg(p, &pf, to, &c));) {
        for (uint64_t i = c; i < c + len; i = (i | 63) + 1) {
            uint64_t x = own_view(p, i >> 6) & ~free_view(p, i >> 6) & word_mask(i, c + len);
            if (x) {
                k->bad = cpfn(p, (i & ~63ull) | (uint64_t)__builtin_ctzll(x));
                return;
            }
        }
    }
}

struct apply {
    struct pmm *p;
    int hold;            /* leave boot-services and loader memory withheld */
    int quiet;           /* no other CPU at work (reconcile); release_boot only joins */
    uint64_t joined;     /* pages that joined the pool */
    uint64_t unmanaged;  /* usable pages in sections the build did not see */
    uint64_t meta, mend; /* the metadata run, compact (one stretch: its sections are neighbours) */
};

/* Per block of compact [c, e): join (not owned, not metadata, not page 0) or leave (owned free). */
static void apply_blocks(struct apply *a, uint64_t c, uint64_t e, int join)
{
    struct pmm *p = a->p;
    int page0 = p->at.sectab[0] == 0; /* compact 0 is page 0 */
    while (c < e) {
        uint64_t b = c >> PMM_BLOCK_SHIFT, be = (b + 1) << PMM_BLOCK_SHIFT, m[8] = {0}, any = 0;
        if (be > e)
            be = e;
        if (join && !(c & (PMM_BLOCK_PAGES - 1)) && be - c == PMM_BLOCK_PAGES &&
            (own_of(p, b) == OWN_FRESH || own_of(p, b) == OWN_ALL)) {
            c = be; /* wholly owned already: nothing to join */
            continue;
        }
        for (uint64_t i = c; i < be; i = (i | 63) + 1) {
            uint64_t wi = i >> 6, x = word_mask(i, be), wlo = wi << 6;
            if (join) {
                x &= ~own_view(p, wi);
                if (a->meta < wlo + 64 && a->mend > wlo)
                    x &= ~word_mask(a->meta > wlo ? a->meta : wlo, a->mend);
                if (wi == 0 && page0)
                    x &= ~1ull;
            } else {
                x &= own_view(p, wi) & free_view(p, wi); /* outside usable memory, owned is free */
            }
            m[wi & 7] = x;
            any |= x;
        }
        if (any && join) {
            uint64_t n = 0;
            for (int i = 0; i < 8; i++)
                n += popcount64(m[i]);
            own_join(p, b, m, a->quiet);
            a->joined += n;
        } else if (any) {
            own_leave(p, b, m);
        }
        c = be;
    }
}

/*
 * Usable pages nobody owns join the pool; owned free pages outside usable memory leave it. Held
 * boot memory (a->hold) neither joins nor keeps free pages: a page that was conventional at build
 * and that the firmware took as boot-services memory since (file-system and USB buffers, without
 * the allocator noticing) is free in the pool here and leaves it with the rest of that memory,
 * until pmm_release_boot. Allocated pages there (the loader's, as loader data) stay as they are.
 *
 * Only what can have changed is visited: where the build saw conventional memory every page is
 * already owned (but for page 0, the metadata and pages the firmware took, counted in dropped),
 * and where it saw none, nothing is owned. So the cost follows boot-services memory and the
 * differences between the maps, not the size of RAM.
 */
static void apply(uint64_t from, uint64_t to, const struct pmm_range *r, int was, void *arg)
{
    struct apply *a = arg;
    struct pmm *p = a->p;
    int join = usable(r) && !(a->hold && r->kind == PMM_KIND_BOOT);
    if (join && was == PMM_KIND_FREE && !p->dropped)
        return;
    if (!join && ((was != PMM_KIND_FREE && was != WAS_ANY) || !a->quiet))
        return;
    uint64_t present = 0;
    for (uint64_t pf = from, c, len; (len = c_seg(p, &pf, to, &c));) {
        present += len;
        apply_blocks(a, c, c + len, join);
    }
    if (join)
        a->unmanaged += to - from - present;
}

/*
 * A final map can be far more fragmented than the first one (every claim the loader made is a
 * descriptor). When the range table would overflow, neighbours merge: first those of the same
 * kind (MERGE_KIND), then (MERGE_USABLE) any two usable ones, which after ExitBootServices are
 * equally free and take the more restrictive kind. The merged table is only for statistics and
 * the checker: reconcile applies the unmerged map to the pool, so a merge never decides what
 * happens to a page (in hold mode, a conventional page merged into a boot range stays free).
 * Writes the result to out (may be NULL, to count) and returns its length.
 */
enum { MERGE_NONE, MERGE_KIND, MERGE_USABLE };
static uint64_t merge_ranges(struct pmm_range *out, const struct pmm_range *r, uint64_t n, int how)
{
    uint64_t k = 0;
    struct pmm_range last = {0, 0, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        int same = k && (how == MERGE_KIND ? last.kind == r[i].kind
                         : how == MERGE_USABLE
                             ? (last.kind == PMM_KIND_NEVER) == (r[i].kind == PMM_KIND_NEVER)
                             : 0);
        if (same && last.start + last.npages == r[i].start) {
            last.npages += r[i].npages;
            if (r[i].kind > last.kind) {
                last.kind = r[i].kind;
                last.type = r[i].type;
            }
        } else {
            if (k && out)
                out[k - 1] = last;
            last = r[i];
            k++;
        }
    }
    if (k && out)
        out[k - 1] = last;
    return k;
}

/* The metadata run in compact indices: [*c, *end). Its sections are present and neighbours. */
static void meta_compact(const struct pmm *p, uint64_t *c, uint64_t *end)
{
    *c = cidx(p, meta_first(p));
    *end = *c + p->meta_pages;
}

int pmm_reconcile(struct pmm *p, const struct pmm_map *final, void *scratch, uint64_t scratch_size,
                  unsigned flags, struct pmm_map_error *err)
{
    if (p->reconciled) {
        if (err)
            *err = (struct pmm_map_error){-1, "allocator was already reconciled"};
        return PMM_ESTATE;
    }
    if (final->desc_size && scratch_size < pmm_map_scratch_size(final)) {
        if (err)
            *err =
                (struct pmm_map_error){-1, "scratch buffer is smaller than pmm_map_scratch_size()"};
        return PMM_EINVAL;
    }
    uint64_t ndesc = map_count(final), n;
    struct pmm_range *r = (struct pmm_range *)((char *)scratch + map_events_size(ndesc));
    int rc = map_parse(final, scratch, r, 2 * ndesc + 1, &n, err);
    if (rc)
        return rc;
    int how = MERGE_NONE;
    while (how < MERGE_USABLE && merge_ranges(0, r, n, how) > p->range_cap)
        how++;
    if (merge_ranges(0, r, n, how) > p->range_cap) {
        if (err)
            *err =
                (struct pmm_map_error){-1, "final map has more ranges than the state has room for"};
        return PMM_ERANGE;
    }
    /* Held pages are allocated to the pool: the caches go back first, so that a page of one is
     * judged as the free page it is. */
    pmm_drain(p, 0);
    /* The range table still holds the build's map here: it tells where anything can differ. */
    const struct pmm_range *built = pmm_rtab(p);
    struct conflict c = {p, PMM_NONE};
    walk_segments(p, r, n, built, p->nranges, find_conflict, &c);
    uint64_t bad = c.bad;
    if (bad != PMM_NONE) {
        if (err)
            *err = (struct pmm_map_error){(int64_t)bad, "final map does not show an allocated or "
                                                        "metadata page (pfn in index) as usable"};
        return PMM_ECONFLICT;
    }
    struct apply a = {p, (flags & PMM_HOLD_BOOT_MEMORY) != 0, 1, 0, 0, 0, 0};
    meta_compact(p, &a.meta, &a.mend);
    walk_segments(p, r, n, built, p->nranges, apply, &a);
    for (uint64_t i = 0; i < n; i++) /* usable memory past everything the build saw */
        if (usable(&r[i]) && r[i].start + r[i].npages > p->span)
            a.unmanaged += r[i].start + r[i].npages - (r[i].start > p->span ? r[i].start : p->span);
    p->boot_held = (uint32_t)a.hold;
    p->nranges = merge_ranges(pmm_rtab(p), r, n, how);
    p->total = c_usable(p, r, n);
    p->unmanaged = a.unmanaged;
    p->fw = (struct pmm_firmware){0, 0, 0};
    p->live = 1;
    p->reconciled = 1;
    return PMM_OK;
}

int pmm_release_boot(struct pmm *p, uint64_t *released)
{
    if (released)
        *released = 0;
    if (!p->reconciled)
        return PMM_ESTATE;
    struct apply a = {p, 0, 0, 0, 0, 0, 0};
    meta_compact(p, &a.meta, &a.mend);
    if (p->boot_held)
        walk_segments(p, pmm_rtab(p), p->nranges, 0, 0, apply, &a);
    p->boot_held = 0;
    if (released)
        *released = a.joined;
    return PMM_OK;
}

int pmm_keep_range(struct pmm *p, uint64_t phys, uint64_t npages, uint64_t *taken)
{
    if (taken)
        *taken = 0;
    if (!npages || (phys & (PMM_PAGE_SIZE - 1)))
        return PMM_EINVAL;
    if (!p->reconciled)
        return PMM_ESTATE;
    uint64_t s = phys >> PMM_PAGE_SHIFT;
    if (s == 0 || s >= p->span || npages > p->span - s)
        return PMM_ENOTOWNED;
    if (s < meta_end(p) && meta_first(p) < s + npages)
        return PMM_ENOTOWNED;
    /* every page in a usable range of the final map: ranges are sorted and non-overlapping */
    const struct pmm_range *r = pmm_rtab(p);
    for (uint64_t i = 0, at = s; at < s + npages; i++) {
        if (i == p->nranges || r[i].start > at)
            return PMM_ENOTOWNED;
        if (r[i].start + r[i].npages <= at)
            continue;
        if (r[i].kind == PMM_KIND_NEVER)
            return PMM_ENOTOWNED;
        at = r[i].start + r[i].npages;
    }
    /* ... and in sections the allocator has metadata for, none held on a cache (but the
     * allocator's own, which goes back first: it is the caller's) */
    cache_spill(p, &p->home, p->home.n);
    uint64_t covered = 0;
    for (uint64_t pf = s, c, len; (len = c_seg(p, &pf, s + npages, &c));) {
        covered += len;
        for (uint64_t i = c; i < c + len; i++) {
            unsigned o = own_of(p, i >> PMM_BLOCK_SHIFT);
            if ((o == OWN_ALL || o == OWN_SOME) && !((free_view(p, i >> 6) >> (i & 63)) & 1) &&
                ld16(&p->at.refs[i]) == PMM_REF_HELD)
                return PMM_EBUSY;
        }
    }
    if (covered != npages)
        return PMM_ENOTOWNED;
    uint64_t n = 0;
    for (uint64_t pf = s, c, len; (len = c_seg(p, &pf, s + npages, &c));) {
        for (uint64_t i = c; i < c + len;) {
            uint64_t b = i >> PMM_BLOCK_SHIFT, e = (b + 1) << PMM_BLOCK_SHIFT, m[8] = {0};
            if (e > c + len)
                e = c + len;
            for (uint64_t j = i; j < e; j = (j | 63) + 1) {
                uint64_t wi = j >> 6, x = word_mask(j, e);
                /* newly allocated: free ones, and usable ones not owned (held boot memory) */
                n += popcount64(x & (free_view(p, wi) | ~own_view(p, wi)));
                m[wi & 7] = x;
            }
            own_keep(p, b, m);
            i = e;
        }
    }
    if (taken)
        *taken = n;
    return PMM_OK;
}
