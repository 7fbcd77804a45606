/*
 * fuzz_ops.c - operation sequences against a reference model.
 *
 * Input: a flags byte (bits 0 and 3 both: a second RAM window of 4 MiB at 4 GiB, so both
 * single-page zones exist, in a second section that every scan of the state then reads too: a
 * quarter of the flag bytes, not half; bit 1: reconcile with PMM_HOLD_BOOT_MEMORY; bit 2: two
 * per-CPU caches), a count and that
 * many extra descriptors laid over a small PC's map of 8 MiB (type, start, length, runtime bit),
 * then up to 128 operations, one byte of opcode and its arguments each: alloc, drain (everything
 * in reach allocated), alloc_run (count, alignment including 0 and non-powers of two, limit
 * including 0, below 1 MiB and arbitrary), free and free_run (of allocated pages or of arbitrary,
 * unaligned or huge addresses), ref_inc (one, a few, or a burst up to the limit), ref_dec,
 * refcount, reconcile (the simulated ExitBootServices; operations before it run in the boot phase
 * with a claiming firmware), release_boot, and with caches cpu_alloc, cpu_free and cpu_drain on
 * either CPU; pmm_drain; and entering or leaving concurrent mode (after reconcile), where the same
 * calls take the atomic paths and pmm_alloc goes to the pool.
 *
 * The model is one state and one reference count per page; pages held on a cache are free to it,
 * and where they are is read from the caches. Every return code is the one the model predicts
 * (PMM_ENOMEM exactly when no page or run is within reach: the pool's pages and the caller's own
 * cache, not another CPU's, pmm.h "No waiting for memory"); every page handed out was free and
 * lies where the request allowed; a refused call leaves the metadata byte for byte as it was, or,
 * for PMM_ENOMEM (which may give the caller's cache back and clear stale summary bits), every
 * page's state and count. After each operation the pages it changed are compared with the model
 * (their owned and free bits and counts) and the free pages counted; every EVERY operations every
 * page is, with each page's state, pmm_stats and pmm_check; at the end every allocated page is
 * released, the caches drained, and the pool must be whole again (every page, its state, and
 * pmm_check). Nothing outside the metadata run may be written, nor most of it (state_snap).
 *
 * The machine is small and the sequences short on purpose: what an input costs is what it can
 * touch (fuzzing at scale, issue 21), and the checks follow what it touched.
 */
#include <stddef.h>

#include "fuzz.h"
#include "pool.h"

#define LOW_PAGES  2048ull      /* RAM window 1: [0, 8 MiB) */
#define HIGH_BASE  (1ull << 20) /* RAM window 2: [4 GiB, 4 GiB + 4 MiB) when enabled */
#define HIGH_PAGES 1024ull
#define NPAGES     (LOW_PAGES + HIGH_PAGES)
#define MAX_OPS    128
#define NCPUS      2
/* Every page compared and pmm_check run every EVERY operations (the pages an operation changed
 * are compared after it). */
#define EVERY 64

enum { M_HOLE, M_NEVER, M_WITHHELD, M_META, M_FREE, M_ALLOC };

static struct fz_machine small, big, *mach;
static struct sim *s;
static struct pmm *p;
static unsigned char kind[NPAGES], st[NPAGES], blocked[NPAGES];
static uint32_t ref[NPAGES];
/* What the allocator stores for each page when it is not on a cache: count - 1 if allocated,
 * else 0 (set_ref keeps it with ref[]), compared 64 counts at a time. */
static uint16_t eref[NPAGES];
static void set_ref(uint64_t i, uint32_t r)
{
    ref[i] = r;
    eref[i] = (uint16_t)(r ? r - 1 : 0);
}
static uint64_t alloc_list[NPAGES], alloc_pos[NPAGES], nlist, nfree, nfree_high; /* >= 1 MiB */
static uint64_t span, total, meta, mpages, windows;
static int fresh_build; /* setup built the machine (not a copy of the same build: fz_build) */
static uint64_t npg; /* the model's pages: the low window's, then the high one's if there is one */
static uint32_t ncpus;
static int reconciled, hold, held;

static int64_t idx(uint64_t pfn)
{
    if (pfn < LOW_PAGES)
        return (int64_t)pfn;
    if (windows > 1 && pfn >= HIGH_BASE && pfn - HIGH_BASE < HIGH_PAGES)
        return (int64_t)(LOW_PAGES + pfn - HIGH_BASE);
    return -1;
}
static uint64_t pfn_of(uint64_t i)
{
    return i < LOW_PAGES ? i : HIGH_BASE + i - LOW_PAGES;
}
static unsigned state(uint64_t pfn)
{
    int64_t i = idx(pfn);
    return i < 0 ? M_HOLE : st[i];
}

/*
 * The model's pages a word at a time, as the allocator keeps them: owned (free or allocated) and
 * free, 64 pages a word, kept with st[] by set_st. Words an operation changed are listed (dirty)
 * and compared after it; every EVERY operations, all of them.
 */
static uint64_t mown[NPAGES / 64], mfree[NPAGES / 64];
static uint32_t dirty[NPAGES / 64], ndirty, dirty_gen[NPAGES / 64], gen = 1;
static void set_st(uint64_t i, unsigned char v)
{
    uint64_t w = i / 64, m = 1ull << (i % 64);
    st[i] = v;
    mown[w] = v == M_FREE || v == M_ALLOC ? mown[w] | m : mown[w] & ~m;
    mfree[w] = v == M_FREE ? mfree[w] | m : mfree[w] & ~m;
    if (dirty_gen[w] != gen) {
        dirty_gen[w] = gen;
        dirty[ndirty++] = (uint32_t)w;
    }
}

static void m_alloc(uint64_t pfn)
{
    int64_t i = idx(pfn);
    set_st((uint64_t)i, M_ALLOC);
    set_ref((uint64_t)i, 1);
    alloc_pos[i] = nlist;
    alloc_list[nlist++] = pfn;
    nfree--;
    nfree_high -= pfn >= 256;
}
static void m_free(uint64_t pfn)
{
    int64_t i = idx(pfn), last = idx(alloc_list[--nlist]);
    set_st((uint64_t)i, M_FREE);
    set_ref((uint64_t)i, 0);
    alloc_list[alloc_pos[i]] = pfn_of((uint64_t)last);
    alloc_pos[last] = alloc_pos[i];
    nfree++;
    nfree_high += pfn >= 256;
}

/* Cache k: the CPUs' (k < ncpus) and the allocator's own (k == ncpus). */
static const struct pmm_cache *cache(uint32_t k)
{
    return k < ncpus ? &p->at.cache[k] : &p->home;
}
/* Pages held on caches other than `mine` (ncpus + 1: on any): out of reach of the caller. */
static uint64_t held_elsewhere(uint32_t mine)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k <= ncpus; k++)
        n += k == mine ? 0 : cache(k)->n;
    return n;
}
/* The cache pmm_alloc and pmm_free use (pool.h cache_for_caller): ncpus + 1 for none. */
static uint32_t callers_cache(void)
{
    return !reconciled || p->concurrent ? ncpus + 1 : ncpus;
}

/*
 * A refused call must leave the metadata as it was, byte for byte. The run is cut into three
 * kinds of parts (layout_meta):
 *  - live: what a call may write: the header, the tables (range table to the own cache's group
 *    bits), and the free words, own words and counts of the RAM windows' pages. Copied before a
 *    call the model expects to be refused (snap) and compared after it.
 *  - read-only: the pages of counts of a section's pages outside the windows, never the pool's
 *    (14 of a section's 16 here): a write there faults on the spot, whatever the call.
 *  - quiet: the rest (the tails of the header page and of the tables, the bitmaps' words outside
 *    the windows), which nothing writes after the build: copied then (built), and compared with
 *    every page in compare_all.
 *
 * A PMM_ENOMEM may give the caller's cache back and clear stale summary bits: if its bytes
 * changed, every page's state and count and the fixed header must still be the same (view, of
 * the state after the call and of the copy put back for the moment).
 */
struct part {
    uint64_t off, len; /* bytes of the metadata run */
};
static struct part live[8], quiet[16];
static uint64_t wblk[2][2]; /* the windows' blocks: [first, end) */
static unsigned nwblk;
static unsigned nlive, nquiet;
static unsigned char snap[1u << 16], now[1u << 16], built[1u << 18];

static void state_snap(void)
{
    unsigned char *m = (unsigned char *)p, *d = snap;
    for (unsigned k = 0; k < nlive; d += live[k].len, k++)
        fz_copy(d, m + live[k].off, live[k].len);
}
/* The quiet parts as the build left them. */
static void compare_quiet(const char *after)
{
    const unsigned char *m = (const unsigned char *)p, *d = built;
    for (unsigned k = 0; k < nquiet; d += quiet[k].len, k++) {
        if (fz_same(d, m + quiet[k].off, quiet[k].len))
            continue;
        uint64_t i = 0;
        while (d[i] == m[quiet[k].off + i])
            i++;
        FZ_FAIL("after %s: metadata byte %#llx changed, which nothing writes after the build",
                after, (unsigned long long)(quiet[k].off + i));
    }
}

/* Where byte `off` of the run (in a live part) is kept in snap. */
static unsigned char *snap_at(uint64_t off)
{
    unsigned char *d = snap;
    for (unsigned k = 0; k < nlive; d += live[k].len, k++)
        if (off - live[k].off < live[k].len)
            return d + (off - live[k].off);
    FZ_FAIL("metadata byte %#llx is not live", (unsigned long long)off);
}
/* The first byte of the live metadata that differs from snap, or ~0. */
static uint64_t state_diff(void)
{
    const unsigned char *m = (const unsigned char *)p, *d = snap;
    for (unsigned k = 0; k < nlive; d += live[k].len, k++) {
        if (fz_same(d, m + live[k].off, live[k].len))
            continue;
        uint64_t i = 0;
        while (d[i] == m[live[k].off + i])
            i++;
        return live[k].off + i;
    }
    return ~0ull;
}
/* Swap the live metadata and snap (through `now`). */
static void state_swap(void)
{
    unsigned char *m = (unsigned char *)p, *d = snap;
    for (unsigned k = 0; k < nlive; d += live[k].len, k++) {
        fz_copy(now, m + live[k].off, live[k].len);
        fz_copy(m + live[k].off, d, live[k].len);
        fz_copy(d, now, live[k].len);
    }
}

/*
 * On the allocator's own cache (held, count left at 0): homed[i] == homed_gen, and for its word
 * homed_w[w] (valid where homed_wgen[w] == homed_gen) has its bit.
 */
static uint32_t homed[NPAGES], homed_wgen[NPAGES / 64], homed_gen;
static uint64_t homed_w[NPAGES / 64];
static void find_homed(void)
{
    if (!++homed_gen) { /* wrapped: stamps of 2^32 calls ago would read as current */
        memset(homed, 0, sizeof homed);
        memset(homed_wgen, 0, sizeof homed_wgen);
        homed_gen = 1;
    }
    for (uint32_t j = 0; j < cache(ncpus)->n; j++) {
        int64_t h = idx(cache(ncpus)->page[j]);
        FZ_ASSERT(h >= 0, "page %#llx on the own cache is outside the map",
                  (unsigned long long)cache(ncpus)->page[j]);
        homed[h] = homed_gen;
        if (homed_wgen[h / 64] != homed_gen) {
            homed_wgen[h / 64] = homed_gen;
            homed_w[h / 64] = 0;
        }
        homed_w[h / 64] |= 1ull << (h % 64);
    }
}
/*
 * The state as the model sees it: the fixed header, and for each word of pages which are owned,
 * which are free (held ones too: on a CPU's cache, count PMM_REF_HELD, or on the allocator's own,
 * count 0) and the stored counts of the others (0 for pages that are not allocated, as the
 * allocator keeps them in written blocks).
 */
struct view {
    unsigned char header[offsetof(struct pmm, at)];
    struct {
        uint64_t own, fr;
        uint16_t refs[64];
    } w[NPAGES / 64];
};
static struct view vbefore, vafter;
static void view(struct view *v)
{
    uint64_t held[NPAGES / 64] = {0};
    for (uint32_t k = 0; k <= ncpus; k++)
        for (uint32_t j = 0; j < cache(k)->n; j++) {
            int64_t i = idx(cache(k)->page[j]);
            FZ_ASSERT(i >= 0, "page %#llx on a cache is outside the map",
                      (unsigned long long)cache(k)->page[j]);
            held[i / 64] |= 1ull << (i % 64);
        }
    memcpy(v->header, p, sizeof v->header);
    for (uint64_t w = 0; w < npg / 64; w++) {
        uint64_t pfn = pfn_of(w * 64), c = pfn < span ? cidx(p, pfn) : PMM_NONE;
        if (c == PMM_NONE) { /* past span, or a window with no usable page: no metadata */
            memset(&v->w[w], 0, sizeof v->w[w]);
            continue;
        }
        uint64_t own = own_view(p, c >> 6), fr = free_view(p, c >> 6);
        v->w[w].own = own;
        v->w[w].fr = fr | (own & held[w]);
        if (!(own & ~v->w[w].fr)) {
            memset(v->w[w].refs, 0, sizeof v->w[w].refs);
            continue;
        }
        memcpy(v->w[w].refs, &p->at.refs[c], sizeof v->w[w].refs);
        for (uint64_t x = own & ~fr & held[w]; x; x &= x - 1)
            v->w[w].refs[__builtin_ctzll(x)] = 0;
    }
}
/* The bytes a PMM_ENOMEM changed changed nothing the model sees. */
static int same_view(void)
{
    view(&vafter);
    state_swap();
    view(&vbefore);
    state_swap();
    return !memcmp(&vbefore, &vafter, offsetof(struct view, w) + npg / 64 * sizeof vafter.w[0]);
}
/*
 * The stamps a PMM_ENOMEM moves as it looks harder (view does not read them): the shortage's
 * generation and the caches' (pool_short, and a cache given back takes it), the summary clears
 * completed, the page the own cache handed out last. Taken over into snap as they are now.
 */
static void enomem_stamps(void)
{
#define TAKE(off, field) memcpy(snap_at(off), &(field), sizeof(field))
    TAKE(offsetof(struct pmm, short_gen), p->short_gen);
    TAKE(offsetof(struct pmm, clear_gen), p->clear_gen);
    TAKE(offsetof(struct pmm, popped), p->popped);
    TAKE(offsetof(struct pmm, home.gen), p->home.gen);
    for (uint32_t k = 0; k < ncpus; k++)
        TAKE(p->cache_phys - p->self_phys + k * sizeof(struct pmm_cache) +
                 offsetof(struct pmm_cache, gen),
             p->at.cache[k].gen);
#undef TAKE
}
#define SAME_STATE(call, enomem)                                                                   \
    do {                                                                                           \
        if (enomem)                                                                                \
            enomem_stamps();                                                                       \
        uint64_t at_ = state_diff();                                                               \
        if (at_ != ~0ull && (!(enomem) || !same_view()))                                           \
            FZ_FAIL("a refused %s changed the state (metadata byte %#llx)", call,                  \
                    (unsigned long long)at_);                                                      \
    } while (0)

/*
 * Does a run of n free pages at a multiple of a (pages) lie in [lo, hi), none of them on a cache
 * other than the caller's? By brute force.
 */
static int m_run_exists(uint64_t n, uint64_t a, uint64_t lo, uint64_t hi)
{
    uint64_t wlo[2] = {0, HIGH_BASE}, whi[2] = {LOW_PAGES, HIGH_BASE + HIGH_PAGES};
    for (uint64_t w = 0; w < windows; w++) {
        uint64_t from = lo > wlo[w] ? lo : wlo[w], to = hi < whi[w] ? hi : whi[w];
        for (uint64_t s0 = (from + a - 1) / a * a; s0 < to && n <= to - s0; s0 += a) {
            uint64_t k = 0;
            while (k < n && state(s0 + k) == M_FREE && !blocked[idx(s0 + k)])
                k++;
            if (k == n)
                return 1;
            s0 = (s0 + k) / a * a; /* the next candidate lies past the page that is not free */
        }
    }
    return 0;
}
/* blocked[]: the pages on caches other than `mine` (ncpus + 1: every cache). */
static void block_cached(uint32_t mine)
{
    memset(blocked, 0, sizeof blocked);
    for (uint32_t k = 0; k <= ncpus; k++)
        for (uint32_t j = 0; k != mine && j < cache(k)->n; j++) {
            int64_t i = idx(cache(k)->page[j]);
            FZ_ASSERT(i >= 0 && st[i] == M_FREE, "cached page %#llx is not free in the model",
                      (unsigned long long)cache(k)->page[j]);
            blocked[i] = 1;
        }
}

/* The result pmm_free / ref_* / refcount must give for one page address. */
static int expect_page(uint64_t addr, int sole)
{
    if (addr % PG)
        return PMM_EINVAL;
    uint64_t pfn = addr / PG;
    switch (state(pfn)) {
    case M_ALLOC:
        return sole && ref[idx(pfn)] > 1 ? PMM_ESHARED : PMM_OK;
    case M_FREE:
        return PMM_EDOUBLE;
    default:
        return PMM_ENOTOWNED;
    }
}

/*
 * Word w of the model's pages (64 pages from page index 64 w) against the allocator's: owned and
 * free (held counts as free), and the count of every allocated page. find_homed first.
 */
static void compare_word(uint64_t w, const char *after)
{
    uint64_t i = w * 64, pfn = pfn_of(i), ao = 0, af = 0;
    uint64_t c = pfn < span ? cidx(p, pfn) : PMM_NONE; /* compact: state.h */
    if (c != PMM_NONE) {
        ao = own_view(p, c >> 6);
        af = free_view(p, c >> 6);
    }
    if (!(ao & ~af)) {
        /* nothing allocated or held: no count to read */
    } else if (!memcmp(&p->at.refs[c], &eref[i], 64 * sizeof(uint16_t))) {
        /* every stored count as the model's (so none is PMM_REF_HELD): the word's pages on the
         * allocator's own cache, counts left at 0, are free to the model */
        if (homed_wgen[w] == homed_gen)
            af |= homed_w[w];
    } else {
        for (uint64_t x = ao & ~af; x; x &= x - 1) {
            unsigned b = (unsigned)__builtin_ctzll(x);
            uint16_t v = p->at.refs[c + b];
            if (homed[i + b] == homed_gen) {
                /* the allocator's own cache keeps its pages' counts at 0 (cache.h) */
                FZ_ASSERT(v == 0, "after %s: page %#llx on the own cache has count %u", after,
                          (unsigned long long)(pfn + b), v + 1u);
                af |= 1ull << b;
            } else if (v == PMM_REF_HELD)
                af |= 1ull << b; /* held: free to everyone but its cache */
            else                 /* counts are stored as count - 1 */
                FZ_ASSERT(st[i + b] != M_ALLOC || v + 1u == ref[i + b],
                          "after %s: page %#llx has count %u, model %u", after,
                          (unsigned long long)(pfn + b), v + 1u, ref[i + b]);
        }
    }
    FZ_ASSERT(ao == mown[w] && af == mfree[w],
              "after %s: pages %#llx+64: owned %#llx free %#llx, model %#llx %#llx", after,
              (unsigned long long)pfn, (unsigned long long)ao, (unsigned long long)af,
              (unsigned long long)mown[w], (unsigned long long)mfree[w]);
}

/*
 * Each page's state (pmm_page_state) as the model's. Owned pages were compared word by word:
 * one is asked per word. The others' answers come from the metadata run's bounds and the range
 * table, so they change only where a range or the run starts or ends; the model's only where its
 * state does: a page is asked where either may change (edges[]), and nowhere between two such.
 */
static unsigned char edge[NPAGES];
static void compare_states(const char *after)
{
    static const enum pmm_page_state as[] = {
        [M_HOLE] = PMM_PAGE_HOLE, [M_NEVER] = PMM_PAGE_NEVER, [M_WITHHELD] = PMM_PAGE_WITHHELD,
        [M_META] = PMM_PAGE_META, [M_FREE] = PMM_PAGE_FREE,   [M_ALLOC] = PMM_PAGE_ALLOC,
    };
    uint64_t n = npg, nr;
    memset(edge, 0, n);
    const struct pmm_range *r = pmm_ranges(p, &nr);
    for (uint64_t k = 0; k <= nr; k++) {
        /* where a range (k < nr) or the metadata run (k == nr) starts or ends: the last page
         * before and the first page after each */
        uint64_t a = k < nr ? r[k].start : meta_first(p),
                 e = k < nr ? a + r[k].npages : meta_end(p);
        uint64_t at[4] = {a - 1, a, e - 1, e};
        for (int j = 0; j < 4; j++) {
            int64_t x = idx(at[j]);
            if (x >= 0)
                edge[x] = 1;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        if (i % 64 && !edge[i] && st[i] == st[i - 1] && (i + 1 == n || st[i + 1] == st[i]))
            continue;
        if (i % 64 && (mown[i / 64] >> (i % 64) & 1))
            continue;
        enum pmm_page_state ps = pmm_page_state(p, pfn_of(i));
        FZ_ASSERT(ps == as[st[i]], "after %s: page %#llx is %d, model %d", after,
                  (unsigned long long)pfn_of(i), (int)ps, (int)as[st[i]]);
    }
}

/* No word changed since now. */
static void dirty_reset(void)
{
    ndirty = 0;
    if (!++gen) { /* wrapped: stamps of 2^32 compares ago would read as current */
        memset(dirty_gen, 0, sizeof dirty_gen);
        gen = 1;
    }
}

/* The words the last operations changed (see set_st). */
static void compare_dirty(const char *after)
{
    find_homed();
    for (uint32_t k = 0; k < ndirty; k++)
        compare_word(dirty[k], after);
    dirty_reset();
}

/*
 * Every word, then pmm_check; with CMP_STATES each page's state too, with CMP_STATS pmm_stats.
 * The statistics go with the compares every EVERY operations, where pages are allocated and held
 * on caches; on the released pool at the end their sums follow from the counts and bits
 * pmm_check and the words have just been found right.
 */
enum { CMP_STATES = 1, CMP_STATS = 2 };
static void compare_all(const char *after, unsigned what)
{
    find_homed();
    for (uint64_t w = 0; w < npg / 64; w++)
        compare_word(w, after);
    dirty_reset();
    compare_quiet(after);
    if (what & CMP_STATES)
        compare_states(after);
    if (what & CMP_STATS) {
        struct pmm_stats sts;
        pmm_stats(p, &sts);
        FZ_ASSERT(
            sts.free == nfree && sts.alloc == nlist && sts.cached == held_elsewhere(ncpus + 1),
            "after %s: stats free %llu alloc %llu cached %llu, model %llu %llu", after,
            (unsigned long long)sts.free, (unsigned long long)sts.alloc,
            (unsigned long long)sts.cached, (unsigned long long)nfree, (unsigned long long)nlist);
    }
    FZ_CHECK(p, after);
}

/* An address for free/ref operations: mostly an allocated page, else anything. */
static uint64_t pick_addr(struct fz_in *in)
{
    uint8_t sel = fz_u8(in);
    if (sel < 160 && nlist)
        return alloc_list[fz_u16(in) % nlist] * PG;
    if (sel < 224)
        return (uint64_t)(fz_u16(in) % (span + 64)) * PG;
    if (sel < 240)
        return (uint64_t)(fz_u16(in) % (span + 64)) * PG + 1 + sel % 16 * 255;
    return fz_u64(in);
}

/* One page from cache `mine` (ncpus + 1: the pool only): PMM_ENOMEM exactly when neither that
 * cache nor the pool has a page at or above 1 MiB. */
static void one_page(const char *what, uint32_t mine, int rc, uint64_t x, int refuse)
{
    if (rc == PMM_OK) {
        FZ_ASSERT(!refuse, "%s gave a page the model says is out of reach", what);
        FZ_ASSERT(x % PG == 0 && x / PG >= 256 && state(x / PG) == M_FREE,
                  "%s gave %#llx (model state %u)", what, (unsigned long long)x, state(x / PG));
        m_alloc(x / PG);
    } else {
        FZ_ASSERT(rc == PMM_ENOMEM && refuse,
                  "%s refused (%d) with a page in reach (cache %u: %u pages, pool %llu)", what, rc,
                  mine, mine <= ncpus ? cache(mine)->n : 0,
                  (unsigned long long)(nfree_high - held_elsewhere(ncpus + 1)));
        SAME_STATE(what, 1);
    }
}
static int out_of_reach(uint32_t mine)
{
    return (mine > ncpus || !cache(mine)->n) && nfree_high == held_elsewhere(ncpus + 1);
}

static void op_alloc(void)
{
    uint64_t x = 0;
    uint32_t mine = callers_cache();
    int refuse = out_of_reach(mine);
    if (refuse) /* the state is copied only when the model expects a refusal */
        state_snap();
    one_page("alloc", mine, pmm_alloc(p, &x), x, refuse);
}

static void op_cpu_alloc(struct fz_in *in)
{
    uint64_t x = 0;
    uint32_t cpu = fz_u8(in) % (ncpus + 1); /* ncpus: not a CPU */
    if (cpu == ncpus) {
        state_snap();
        int rc = pmm_cpu_alloc(p, cpu, &x);
        FZ_ASSERT(rc == PMM_EINVAL, "cpu_alloc on CPU %u of %u gave %d", cpu, ncpus, rc);
        SAME_STATE("cpu_alloc", 0);
        return;
    }
    uint32_t mine = reconciled ? cpu : ncpus + 1; /* boot phase: pmm_alloc */
    int refuse = out_of_reach(mine);
    if (refuse)
        state_snap();
    one_page("cpu_alloc", mine, pmm_cpu_alloc(p, cpu, &x), x, refuse);
}

/*
 * Everything in reach allocated: later frees then cut holes of exact sizes and places. Runs take
 * the bulk, whole blocks first, then 64 and 8 pages anywhere (single pages would cost thousands of
 * calls on every input that drains, and op_alloc makes single pages); single pages then take the
 * rest until none is left, the caller's cache included.
 */
static void op_drain(void)
{
    static const uint64_t bulk[][2] = {{PMM_BLOCK_PAGES, PMM_BLOCK_PAGES}, {64, 1}, {8, 1}};
    uint64_t x;
    int rc;
    for (unsigned k = 0; k < 3; k++) {
        uint64_t n = bulk[k][0], a = bulk[k][1];
        /* no run the pool could give (op_alloc_run asks for those) */
        if (nfree_high - held_elsewhere(ncpus + 1) < n)
            continue;
        while (pmm_alloc_run(p, n, a * PG, 0, &x) == PMM_OK) {
            for (uint64_t j = 0; j < n; j++) {
                uint64_t pfn = x / PG + j;
                FZ_ASSERT(x % (a * PG) == 0 && pfn >= 256 && state(pfn) == M_FREE,
                          "alloc_run(%llu) gave %#llx (page %#llx: model state %u)",
                          (unsigned long long)n, (unsigned long long)x, (unsigned long long)pfn,
                          state(pfn));
                m_alloc(pfn);
            }
        }
    }
    while ((rc = pmm_alloc(p, &x)) == PMM_OK) {
        FZ_ASSERT(x % PG == 0 && x / PG >= 256 && state(x / PG) == M_FREE,
                  "alloc gave %#llx (model state %u)", (unsigned long long)x, state(x / PG));
        m_alloc(x / PG);
    }
    FZ_ASSERT(rc == PMM_ENOMEM && out_of_reach(callers_cache()),
              "alloc refused (%d) with a page in reach", rc);
}

static void op_alloc_run(struct fz_in *in)
{
    uint16_t v = fz_u16(in);
    uint64_t n = v & 0x8000 ? v & 0x7fff : 1 + (v & 63);
    uint8_t a = fz_u8(in);
    uint64_t align = a % 16 <= 12   ? PG << (a % 16)
                     : a % 16 == 13 ? 0
                     : a % 16 == 14 ? 3 * PG
                                    : 1ull << (a >> 2);
    uint64_t limit;
    switch (fz_u8(in) % 8) {
    case 0:
        limit = 0;
        break;
    case 1:
        limit = MIB;
        break;
    case 2:
        limit = 16 * MIB;
        break;
    case 3:
        limit = 4 * GIB;
        break;
    case 4:
        limit = (uint64_t)fz_u16(in) * PG;
        break;
    case 5:
        limit = (uint64_t)fz_u16(in) * 64 * PG + fz_u8(in);
        break;
    case 6:
        limit = 1 + fz_u8(in);
        break;
    default:
        limit = fz_u64(in);
        break;
    }

    int want;
    uint64_t apages = align >> 12 ? align >> 12 : 1;
    uint64_t lo = limit && limit <= MIB ? 1 : 256, hi = span;
    if (limit && limit / PG < hi)
        hi = limit / PG;
    if (!n || (align & (align - 1))) {
        want = PMM_EINVAL;
    } else if (hi <= lo || n > hi - lo || n > total) {
        want = PMM_ERANGE;
    } else {
        /* a failed search gives the caller's cache back (unless the run is below 1 MiB, where
         * no cache has pages) and looks again: only the other caches' pages are out of reach */
        block_cached(lo < 256 ? ncpus + 1 : callers_cache());
        want = m_run_exists(n, apages, lo, hi) ? PMM_OK : PMM_ENOMEM;
    }

    uint64_t x = 0;
    if (want)
        state_snap();
    int rc = pmm_alloc_run(p, n, align, limit, &x);
    FZ_ASSERT(rc == want, "alloc_run(%llu, %#llx, %#llx) = %d, model %d", (unsigned long long)n,
              (unsigned long long)align, (unsigned long long)limit, rc, want);
    if (rc) {
        SAME_STATE("alloc_run", rc == PMM_ENOMEM);
        return;
    }
    uint64_t s0 = x / PG;
    FZ_ASSERT(x % PG == 0 && s0 % apages == 0 && s0 >= lo && s0 + n <= hi,
              "alloc_run(%llu, %#llx, %#llx) gave %#llx", (unsigned long long)n,
              (unsigned long long)align, (unsigned long long)limit, (unsigned long long)x);
    for (uint64_t k = 0; k < n; k++) {
        FZ_ASSERT(state(s0 + k) == M_FREE, "alloc_run handed out page %#llx (model state %u)",
                  (unsigned long long)(s0 + k), state(s0 + k));
        m_alloc(s0 + k);
    }
}

static void op_free(struct fz_in *in, int cpu_call)
{
    uint32_t cpu = cpu_call ? fz_u8(in) % (ncpus + 1) : 0;
    uint64_t addr = pick_addr(in);
    int want = cpu_call && cpu == ncpus ? PMM_EINVAL : expect_page(addr, 1);
    if (want)
        state_snap();
    int rc = cpu_call ? pmm_cpu_free(p, cpu, addr) : pmm_free(p, addr);
    FZ_ASSERT(rc == want, "%sfree(%#llx) = %d, model %d", cpu_call ? "cpu_" : "",
              (unsigned long long)addr, rc, want);
    if (rc)
        SAME_STATE(cpu_call ? "cpu_free" : "free", 0);
    else
        m_free(addr / PG);
}

static void op_free_run(struct fz_in *in)
{
    uint64_t addr = pick_addr(in), n = fz_u8(in);
    if (n >= 192)
        n = fz_u64(in);
    int want = PMM_OK;
    if (!n || addr % PG)
        want = PMM_EINVAL;
    else if (addr / PG >= span || n > span - addr / PG)
        want = PMM_ENOTOWNED;
    /* Which page a refusal names: one that is not the pool's or free in it first (the words are
     * read before any count), then one held on a cache or shared, each the first in order. */
    if (!want)
        block_cached(ncpus + 1);
    int second = PMM_OK;
    for (uint64_t k = 0; !want && k < n; k++) {
        uint64_t pfn = addr / PG + k;
        int e = expect_page(pfn * PG, 1);
        if (e == PMM_ENOTOWNED || (e == PMM_EDOUBLE && !blocked[idx(pfn)]))
            want = e;
        else if (e && !second)
            second = e;
    }
    if (!want)
        want = second;
    if (want)
        state_snap();
    int rc = pmm_free_run(p, addr, n);
    FZ_ASSERT(rc == want, "free_run(%#llx, %llu) = %d, model %d", (unsigned long long)addr,
              (unsigned long long)n, rc, want);
    if (rc) {
        SAME_STATE("free_run", 0);
        return;
    }
    for (uint64_t k = 0; k < n; k++)
        m_free(addr / PG + k);
}

/* How many references a burst adds: a few, or enough to reach PMM_REF_MAX in one go. */
static unsigned burst(struct fz_in *in)
{
    uint8_t t = fz_u8(in);
    return t < 255 ? t % 16 : PMM_REF_MAX - 600 + fz_u16(in) % 700;
}

/*
 * Between two references and PMM_REF_MAX - 1 every pmm_ref_inc and pmm_ref_dec is the same one
 * compare-and-swap on the stored count (the group was marked when the count left one): a long
 * burst makes its first and last SKIP_EDGE calls and stores the count in between as the calls
 * would have, not 65,000 of them.
 */
#define SKIP_EDGE 16
static void skip_refs(uint64_t pfn, int64_t by)
{
    int64_t i = idx(pfn);
    uint64_t c = cidx(p, pfn);
    FZ_ASSERT(st[i] == M_ALLOC && ref[i] >= 2 && (int64_t)ref[i] + by >= 2 &&
                  (int64_t)ref[i] + by < PMM_REF_MAX && p->at.refs[c] + 1u == ref[i],
              "skipping %lld references of page %#llx (count %u, stored %u)", (long long)by,
              (unsigned long long)pfn, ref[i], p->at.refs[c] + 1u);
    set_ref((uint64_t)i, (uint32_t)((int64_t)ref[i] + by));
    p->at.refs[c] = (uint16_t)(ref[i] - 1);
}

static void op_ref(struct fz_in *in, int inc, unsigned times)
{
    uint64_t addr = pick_addr(in);
    for (unsigned t = 0; t < times; t++) {
        int want = expect_page(addr, 0);
        if (!want && inc && ref[idx(addr / PG)] == PMM_REF_MAX)
            want = PMM_EOVERFLOW;
        if (want)
            state_snap();
        int rc = inc ? pmm_ref_inc(p, addr) : pmm_ref_dec(p, addr);
        FZ_ASSERT(rc == want, "ref_%s(%#llx) = %d, model %d", inc ? "inc" : "dec",
                  (unsigned long long)addr, rc, want);
        if (rc) {
            SAME_STATE(inc ? "ref_inc" : "ref_dec", 0);
            return;
        }
        int64_t i = idx(addr / PG);
        if (inc)
            set_ref((uint64_t)i, ref[i] + 1);
        else if (ref[i] == 1)
            m_free(addr / PG);
        else
            set_ref((uint64_t)i, ref[i] - 1);
        if (inc && t + 1 == SKIP_EDGE && times - t - 1 > SKIP_EDGE) {
            /* to SKIP_EDGE calls before the end, or before the last count the calls can reach */
            uint64_t k = times - t - 1 - SKIP_EDGE, room = PMM_REF_MAX - SKIP_EDGE - ref[i];
            k = ref[i] + SKIP_EDGE >= PMM_REF_MAX ? 0 : k < room ? k : room;
            if (k) {
                skip_refs(addr / PG, (int64_t)k);
                t += (unsigned)k;
            }
        }
    }
}

static void op_refcount(struct fz_in *in)
{
    uint64_t addr = pick_addr(in);
    uint32_t c = 7;
    int want = expect_page(addr, 0);
    if (want)
        state_snap();
    int rc = pmm_refcount(p, addr, &c);
    uint32_t wc = want ? 0 : ref[idx(addr / PG)];
    FZ_ASSERT(rc == want && c == wc, "refcount(%#llx) = %d count %u, model %d count %u",
              (unsigned long long)addr, rc, c, want, wc);
    if (want)
        SAME_STATE("refcount", 0);
}

/* Withheld boot-services and loader pages join the pool, free (what reconcile and release do). */
static uint64_t m_release_boot(void)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < npg; i++) {
        if (st[i] == M_WITHHELD && kind[i] == PMM_KIND_BOOT && pfn_of(i) != 0) {
            set_st(i, M_FREE);
            nfree++;
            nfree_high += pfn_of(i) >= 256;
            n++;
        }
    }
    return n;
}

static void op_reconcile(void)
{
    if (reconciled) { /* refused whatever the map: the build-time one will do, and costs less */
        static unsigned char scratch[1 << 14];
        struct pmm_map m = sim_map(s);
        state_snap();
        int rc = pmm_reconcile(p, &m, scratch, sizeof scratch, 0, 0);
        FZ_ASSERT(rc == PMM_ESTATE, "second reconcile gave %d", rc);
        SAME_STATE("second reconcile", 0);
        return;
    }
    s->reconcile_flags = hold ? PMM_HOLD_BOOT_MEMORY : 0;
    int rc = sim_reconcile(s, p);
    free(s->scratch); /* sim keeps it; freed here so libFuzzer sees no leak to chase */
    s->scratch = 0;
    FZ_ASSERT(rc == PMM_OK, "reconcile of the simulated firmware's final map gave %d", rc);
    reconciled = 1;
    held = hold;
    if (!hold)
        m_release_boot();
}

static void op_release(void)
{
    uint64_t got = 7;
    state_snap();
    int rc = pmm_release_boot(p, &got);
    if (!reconciled) {
        FZ_ASSERT(rc == PMM_ESTATE, "release before reconcile gave %d", rc);
        SAME_STATE("release_boot before reconcile", 0);
        return;
    }
    uint64_t want = held ? m_release_boot() : 0;
    held = 0;
    FZ_ASSERT(rc == PMM_OK && got == want, "release_boot gave %d, %llu pages, model %llu", rc,
              (unsigned long long)got, (unsigned long long)want);
}

/* Drains: pages move from caches to the pool, and no page's state changes for the model. */
static void op_cache_drain(struct fz_in *in)
{
    uint32_t cpu = fz_u8(in) % (ncpus + 2);
    uint64_t n = 7, want = cpu <= ncpus ? cache(cpu)->n : held_elsewhere(ncpus + 1);
    int rc = cpu <= ncpus ? pmm_cpu_drain(p, cpu, &n) : pmm_drain(p, &n);
    if (cpu == ncpus) { /* not a CPU */
        FZ_ASSERT(rc == PMM_EINVAL && n == 0, "cpu_drain of CPU %u of %u gave %d", cpu, ncpus, rc);
        return;
    }
    FZ_ASSERT(rc == PMM_OK && n == want, "drain gave %d, %llu pages, %llu held", rc,
              (unsigned long long)n, (unsigned long long)want);
    FZ_ASSERT(cpu < ncpus ? !cache(cpu)->n : !held_elsewhere(ncpus + 1), "a cache kept pages");
}

/*
 * Concurrent mode, and back: refused before reconcile. Entering it gives the allocator's own
 * cache back (nobody uses it with many CPUs; test_percpu entering_concurrent_mode_strands_no_page):
 * the model's next PMM_ENOMEM says whether a page was left behind.
 */
static void op_mode(void)
{
    int on = !p->concurrent;
    int rc = pmm_set_concurrent(p, on);
    FZ_ASSERT(rc == (reconciled ? PMM_OK : PMM_ESTATE), "set_concurrent(%d) gave %d", on, rc);
    FZ_ASSERT(!on || rc || !p->home.n, "concurrent mode with %u pages on the own cache", p->home.n);
}

/* Append [off, off + len) to parts v (in increasing order), joined to the last if they touch. */
static void add_part(struct part *v, unsigned *n, unsigned cap, uint64_t off, uint64_t len)
{
    if (!len)
        return;
    if (*n && off <= v[*n - 1].off + v[*n - 1].len) {
        uint64_t e =
            off + len > v[*n - 1].off + v[*n - 1].len ? off + len : v[*n - 1].off + v[*n - 1].len;
        v[*n - 1].len = e - v[*n - 1].off;
        return;
    }
    FZ_ASSERT(*n < cap, "metadata cut into more than %u parts", cap);
    v[(*n)++] = (struct part){off, len};
}

/* The parts of the metadata run (see state_snap): live, then read-only and quiet around it. */
static void layout_meta(void)
{
    uint64_t base = p->self_phys, bytes = mpages * PG, mw = marks_words(p), nb = p->nblocks;
    /* the tables: from the first to the end of the last (pmm_layout's order is not assumed) */
    uint64_t tab[][2] = {
        {p->ranges_phys, p->range_cap * sizeof(struct pmm_range)},
        {p->sec_phys, p->nsec * 4},
        {p->slots_phys, p->nslots * 4},
        {p->runs_phys, p->runs_cap * sizeof(struct pmm_node_run)},
        {p->dist_phys, (uint64_t)p->nnodes * p->nnodes},
        {p->order_phys, (uint64_t)p->nnodes * p->nnodes},
        {p->cache_phys, p->ncpus * sizeof(struct pmm_cache)},
        {p->cnode_phys, p->ncpus * 2ull},
        {p->count_phys, nb * 2},
        {p->own_phys, nb},
        {p->node_phys, nb},
        {p->marks_phys, mw * 8},
        {p->homeg_phys, mw * 8},
        {p->avail.phys[0], p->avail.nwords[0] * 8},
        {p->whole.phys[0], p->whole.nwords[0] * 8},
    };
    uint64_t t0 = ~0ull, t1 = 0;
    for (unsigned k = 0; k < sizeof tab / sizeof tab[0]; k++) {
        t0 = tab[k][0] < t0 ? tab[k][0] : t0;
        t1 = tab[k][0] + tab[k][1] > t1 ? tab[k][0] + tab[k][1] : t1;
    }
    for (unsigned l = 1; l < PMM_LEVELS; l++) { /* the summaries' upper levels */
        if (l < p->avail.nlevels)
            t1 = p->avail.phys[l] + p->avail.nwords[l] * 8 > t1
                     ? p->avail.phys[l] + p->avail.nwords[l] * 8
                     : t1;
        if (l < p->whole.nlevels)
            t1 = p->whole.phys[l] + p->whole.nwords[l] * 8 > t1
                     ? p->whole.phys[l] + p->whole.nwords[l] * 8
                     : t1;
    }
    FZ_ASSERT(t0 >= base + sizeof(struct pmm) && t1 <= p->free_phys,
              "tables at +%#llx..+%#llx, words at +%#llx", (unsigned long long)(t0 - base),
              (unsigned long long)(t1 - base), (unsigned long long)(p->free_phys - base));
    nlive = nquiet = 0;
    add_part(live, &nlive, 8, 0, sizeof(struct pmm));
    add_part(live, &nlive, 8, t0 - base, t1 - t0);
    /* the windows' words and counts; a window's pages lie at its section's slot */
    uint64_t wlo[2] = {0, HIGH_BASE}, wn[2] = {LOW_PAGES, HIGH_PAGES}, c0[2], have[2] = {0, 0};
    for (uint64_t w = 0; w < windows; w++) {
        uint64_t sec = wlo[w] >> PMM_SEC_SHIFT;
        have[w] = sec < p->nsec && p->at.sectab[sec] != PMM_SEC_ABSENT;
        c0[w] = have[w] ? cidx_present(p, wlo[w]) : 0; /* absent: no usable page there */
    }
    nwblk = 0;
    for (uint64_t w = 0; w < windows; w++)
        if (have[w]) {
            wblk[nwblk][0] = c0[w] >> PMM_BLOCK_SHIFT;
            wblk[nwblk++][1] = (c0[w] + wn[w] + PMM_BLOCK_PAGES - 1) >> PMM_BLOCK_SHIFT;
        }
    uint64_t arr[3][2] = {{p->free_phys, 1}, {p->ownw_phys, 1}, {p->refs_phys, 16}};
    for (unsigned a = 0; a < 3; a++) /* bytes per 8 pages: 1 (a bit each) or 16 (two bytes) */
        for (uint64_t w = 0; w < windows; w++)
            if (have[w])
                add_part(live, &nlive, 8, arr[a][0] - base + c0[w] / 8 * arr[a][1],
                         wn[w] / 8 * arr[a][1]);
    /* the rest: quiet, but for whole pages of counts, read-only */
    uint64_t refs = p->refs_phys - base, nq = 0, nl = 0, ro[FZ_MAX_CLOSED][2];
    unsigned nro = 0;
    for (unsigned k = 0; k <= nlive; k++) {
        uint64_t a = k ? live[k - 1].off + live[k - 1].len : 0, e = k < nlive ? live[k].off : bytes;
        uint64_t pa = (a + PG - 1) / PG * PG, pe = e / PG * PG;
        if (k < nlive)
            nl += live[k].len;
        if (a >= e)
            continue;
        if (a < refs || pa >= pe) {
            add_part(quiet, &nquiet, 16, a, e - a);
            continue;
        }
        add_part(quiet, &nquiet, 16, a, pa - a);
        FZ_ASSERT(nro < FZ_MAX_CLOSED, "more than %d read-only pieces", FZ_MAX_CLOSED);
        ro[nro][0] = base + pa;
        ro[nro++][1] = pe - pa;
        add_part(quiet, &nquiet, 16, pe, e - pe);
    }
    fz_close(mach, (const uint64_t(*)[2])ro, nro);
    unsigned char *m = (unsigned char *)p;
    for (unsigned k = 0; k < nquiet; nq += quiet[k].len, k++) {
        FZ_ASSERT(nq + quiet[k].len <= sizeof built, "%llu quiet bytes", (unsigned long long)nq);
        fz_copy(built + nq, m + quiet[k].off, quiet[k].len);
    }
    FZ_ASSERT(live[nlive - 1].off + live[nlive - 1].len <= bytes && nl <= sizeof snap,
              "metadata of %llu pages, %llu bytes live", (unsigned long long)mpages,
              (unsigned long long)nl);
}

/* Lay the map out from the input and build with the simulated firmware's claim hooks. */
static int setup(struct fz_in *in)
{
    uint8_t flags = fz_u8(in);
    windows = (flags & 9) == 9 ? 2 : 1;
    hold = (flags >> 1) & 1;
    ncpus = flags & 4 ? NCPUS : 0;
    reconciled = held = 0;
    mach = windows > 1 ? &big : &small;
    s = fz_machine(mach, windows > 1 ? (HIGH_BASE + HIGH_PAGES) * PG : LOW_PAGES * PG);
    s->max_cpus = ncpus;

    npg = windows > 1 ? NPAGES : LOW_PAGES;
    memset(kind, PMM_KIND_FREE, npg);
    memset(kind + 0x9f, PMM_KIND_NEVER, 0x100 - 0x9f);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, LOW_PAGES - 256, 0xf);
    if (windows > 1)
        sim_add(s, PMM_EFI_CONVENTIONAL, HIGH_BASE * PG, HIGH_PAGES, 0xf);
    unsigned extra = fz_u8(in) % 8;
    for (unsigned e = 0; e < extra; e++) {
        uint32_t type = fz_u8(in) % 16;
        uint16_t where = fz_u16(in), len = fz_u16(in);
        uint64_t attr = len & 0x8000 ? PMM_EFI_ATTR_RUNTIME | 0xf : 0xf;
        uint64_t wbase = windows > 1 && (where & 0x8000) ? HIGH_BASE : 0;
        uint64_t wpages = wbase ? HIGH_PAGES : LOW_PAGES, start = (where & 0x7fff) % wpages;
        uint64_t n = 1 + (len & 0x7fff) % 1024;
        if (n > wpages - start)
            n = wpages - start;
        sim_add(s, type, (wbase + start) * PG, n, attr);
        unsigned k = fz_kind(type, attr);
        for (uint64_t j = 0, i = (uint64_t)idx(wbase + start); j < n; j++)
            if (k > kind[i + j])
                kind[i + j] = (unsigned char)k;
    }

    int rc = fz_build(mach, &p, &fresh_build);
    span = total = 0;
    for (uint64_t i = 0; i < npg; i++) {
        if (kind[i] == PMM_KIND_NEVER)
            continue;
        span = pfn_of(i) + 1;
        total++;
    }
    if (rc == PMM_ENOMEM || rc == PMM_EMAP)
        return 0; /* the extra descriptors took the conventional memory the metadata needs */
    FZ_ASSERT(rc == PMM_OK, "build gave %d", rc);
    meta = pmm_state_phys(p) / PG;
    mpages = pmm_meta_pages(p);
    nlist = nfree = nfree_high = 0;
    memset(ref, 0, npg * sizeof ref[0]);
    memset(eref, 0, npg * sizeof eref[0]);
    memset(mown, 0, sizeof mown);
    memset(mfree, 0, sizeof mfree);
    for (uint64_t i = 0; i < npg; i++) {
        uint64_t pfn = pfn_of(i);
        st[i] = pfn - meta < mpages                ? M_META
                : kind[i] == PMM_KIND_NEVER        ? M_NEVER
                : kind[i] == PMM_KIND_BOOT || !pfn ? M_WITHHELD
                                                   : M_FREE;
        if (st[i] == M_FREE) {
            mown[i / 64] |= 1ull << (i % 64);
            mfree[i / 64] |= 1ull << (i % 64);
            nfree++;
            nfree_high += pfn >= 256;
        }
    }
    dirty_reset();
    FZ_ASSERT(p->span == span && p->total == total, "span %llu total %llu, model %llu %llu",
              (unsigned long long)p->span, (unsigned long long)p->total, (unsigned long long)span,
              (unsigned long long)total);
    layout_meta();
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    if (!setup(&in))
        return 0;
    if (fresh_build) /* else the same build was compared before (fz_build) */
        compare_all("build", 0);
    for (unsigned op = 0; in.n && op < MAX_OPS; op++) {
        uint8_t o = fz_u8(&in);
        unsigned k = o % (ncpus ? 16 : 13);
        static const char *const name[16] = {
            "alloc",     "alloc",     "alloc_run", "free",      "free_run", "ref_inc",
            "ref burst", "ref_dec",   "refcount",  "reconcile", "drain",    "release_boot",
            "a drain",   "cpu_alloc", "cpu_alloc", "cpu_free",
        };
        switch (k) {
        case 0:
        case 1:
            op_alloc();
            break;
        case 2:
            op_alloc_run(&in);
            break;
        case 3:
            op_free(&in, 0);
            break;
        case 4:
            op_free_run(&in);
            break;
        case 5:
            op_ref(&in, 1, 1);
            break;
        case 6:
            op_ref(&in, 1, burst(&in));
            break;
        case 7:
            op_ref(&in, 0, 1);
            break;
        case 8:
            op_refcount(&in);
            break;
        case 9:
            op_reconcile();
            break;
        case 10:
            op_drain();
            break;
        case 11:
            op_release();
            break;
        case 12:
            if (o & 0x80)
                op_mode();
            else
                op_cache_drain(&in);
            break;
        case 13:
        case 14:
            op_cpu_alloc(&in);
            break;
        default:
            op_free(&in, 1);
            break;
        }
        /* free pages: the blocks' counts and the caches (what pmm_stats adds up); a block
         * outside the windows owns no page, and pmm_check sees that its count is 0 */
        uint64_t fr = held_elsewhere(ncpus + 1);
        for (unsigned r = 0; r < nwblk; r++)
            for (uint64_t b = wblk[r][0]; b < wblk[r][1]; b++)
                fr += p->at.count[b];
        FZ_ASSERT(fr == nfree && p->owned - fr == nlist,
                  "counters after %s: free %llu alloc %llu, model %llu %llu", name[k],
                  (unsigned long long)fr, (unsigned long long)(p->owned - fr),
                  (unsigned long long)nfree, (unsigned long long)nlist);
        if (op % EVERY == EVERY - 1 && in.n && op + 1 < MAX_OPS) /* the last: see below */
            compare_all(name[k], CMP_STATES | CMP_STATS);
        else
            compare_dirty(name[k]);
    }

    /*
     * Release everything, and the pool is whole again: shared pages down to one reference with
     * ref_dec, then each stretch of allocated pages with one free_run (page by page would cost
     * more than all the operations before), then every cache drained.
     */
    static const uint16_t zero[64];
    for (uint64_t w = 0; w < npg / 64; w++) {
        uint64_t x = mown[w] & ~mfree[w];
        if (!x || !memcmp(&eref[w * 64], zero, sizeof zero))
            continue; /* no page of the word has more than one reference */
        for (; x; x &= x - 1) {
            uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(x);
            if (ref[i] > 2 * SKIP_EDGE + 2) {
                for (unsigned k = 0; k < SKIP_EDGE; k++, set_ref(i, ref[i] - 1))
                    FZ_ASSERT(pmm_ref_dec(p, pfn_of(i) * PG) == PMM_OK, "ref_dec of shared page");
                skip_refs(pfn_of(i), -(int64_t)(ref[i] - SKIP_EDGE - 2));
            }
            for (; ref[i] > 1; set_ref(i, ref[i] - 1)) {
                int rc = pmm_ref_dec(p, pfn_of(i) * PG);
                FZ_ASSERT(rc == PMM_OK, "ref_dec of shared page %#llx gave %d",
                          (unsigned long long)pfn_of(i), rc);
            }
        }
    }
    /* each stretch of allocated pages (the bits of mown & ~mfree in a row, in one window) */
    uint64_t freed = 0, low = 0;
    for (uint64_t i = 0; i < npg;) {
        uint64_t x = (mown[i / 64] & ~mfree[i / 64]) >> (i % 64);
        if (!x) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (uint64_t)__builtin_ctzll(x);
        uint64_t start = i;
        for (;;) {
            uint64_t y = ~((mown[i / 64] & ~mfree[i / 64]) >> (i % 64));
            uint64_t run = y ? (uint64_t)__builtin_ctzll(y) : 64 - i % 64;
            run = run < 64 - i % 64 ? run : 64 - i % 64;
            i += run;
            if (i % 64 || run == 0 || i >= npg || i == LOW_PAGES)
                break; /* the stretch ends in this word, or a window ends */
        }
        int rc = pmm_free_run(p, pfn_of(start) * PG, i - start);
        FZ_ASSERT(rc == PMM_OK, "free_run(%#llx, %llu) of allocated pages gave %d",
                  (unsigned long long)(pfn_of(start) * PG), (unsigned long long)(i - start), rc);
        freed += i - start;
        low += start < 256 ? (i < 256 ? i : 256) - start : 0;
    }
    /* the model likewise: every allocated page free, one reference less */
    FZ_ASSERT(freed == nlist, "%llu pages in stretches, %llu allocated", (unsigned long long)freed,
              (unsigned long long)nlist);
    for (uint64_t i = 0; i < npg; i++)
        st[i] = st[i] == M_ALLOC ? M_FREE : st[i];
    for (uint64_t w = 0; w < npg / 64; w++)
        mfree[w] |= mown[w];
    memset(ref, 0, npg * sizeof ref[0]);
    memset(eref, 0, npg * sizeof eref[0]);
    nfree += freed;
    nfree_high += freed - low;
    nlist = 0;
    FZ_ASSERT(!nlist, "%llu pages still allocated", (unsigned long long)nlist);
    FZ_ASSERT(pmm_drain(p, 0) == PMM_OK && !held_elsewhere(ncpus + 1), "drain");
    compare_all("releasing every page", CMP_STATES);
    return 0;
}
