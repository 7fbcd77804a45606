/*
 * llfree.c - an LLFree-style lock-free page allocator, as a baseline (baselines.h).
 *
 * Our own writing after the design of LLFree (Wrenger, Rommel, Lohmann, USENIX ATC 2023, and the
 * shape of luhsra/llfree-c): per 2 MiB frame a 512-bit field and a 16-bit counter with a "huge"
 * flag, trees of 32 frames with a counter and a reserved flag in one word, one tree reserved per
 * core. Not their code, and smaller: one kind of page (no movable/fixed split), no persistence,
 * no statistics of where frees went.
 *
 * Why it looks like this:
 *  - A core allocates from the tree it reserved: its 4 KiB pages stay together, and the other
 *    trees' 2 MiB frames stay whole. The tree's free count moves to the core's budget when the
 *    core reserves it, so the core's allocations touch the shared tree word once per tree.
 *  - The budget lives in the core's own word and changes by CAS, because another core that finds
 *    nothing free anywhere takes the reservation back (steal_all) instead of waiting for the
 *    owner: no operation waits for another core, and no memory hides behind a reservation.
 *  - Counts are taken before bits (baselines.h): whoever holds a count in a tree or a frame is
 *    owed a page there, so each search for a frame or a bit ends; a failed CAS means another
 *    core's CAS succeeded (lock-free, not wait-free).
 */
#include <string.h>

#include "baselines.h"

#define ACQ __ATOMIC_ACQUIRE
#define AR  __ATOMIC_ACQ_REL

static uint64_t res_make(uint32_t tree, uint32_t budget)
{
    return (uint64_t)budget << 32 | tree;
}

static uint32_t res_tree(uint64_t r)
{
    return (uint32_t)r;
}

static uint32_t res_budget(uint64_t r)
{
    return (uint32_t)(r >> 32);
}

/* Compare-and-swap: 1 if *w was *old and is now new; else 0 with *old the value seen. */
static int cas64(uint64_t *w, uint64_t *old, uint64_t new)
{
    return __atomic_compare_exchange_n(w, old, new, 0, AR, ACQ);
}

static int cas32(uint32_t *w, uint32_t *old, uint32_t new)
{
    return __atomic_compare_exchange_n(w, old, new, 0, AR, ACQ);
}

static int cas16(uint16_t *w, uint16_t *old, uint16_t new)
{
    return __atomic_compare_exchange_n(w, old, new, 0, AR, ACQ);
}

static uint64_t up64(uint64_t n)
{
    return (n + 63) & ~63ull;
}

uint64_t llf_meta_bytes(uint64_t npages, uint32_t cores)
{
    uint64_t frames = (npages + LLF_FRAME_PAGES - 1) / LLF_FRAME_PAGES;
    uint64_t trees = (frames + LLF_TREE_FRAMES - 1) / LLF_TREE_FRAMES;
    return frames * 64 + up64(frames * 2) + up64(trees * 4) + cores * sizeof(struct llf_core);
}

/* Bits [lo, hi) of a word, 0 <= lo < hi <= 64. */
static uint64_t bit_range(unsigned lo, unsigned hi)
{
    return (hi == 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1);
}

void llf_init(struct llf *l, void *meta, uint64_t npages, uint32_t cores, const struct span *free,
              size_t nfree)
{
    unsigned char *m = meta;
    l->npages = npages;
    l->nframes = (npages + LLF_FRAME_PAGES - 1) / LLF_FRAME_PAGES;
    l->ntrees = (l->nframes + LLF_TREE_FRAMES - 1) / LLF_TREE_FRAMES;
    l->ncores = cores;
    l->bits = (uint64_t(*)[8])m;
    m += l->nframes * 64;
    l->child = (uint16_t *)m;
    m += up64(l->nframes * 2);
    l->tree = (uint32_t *)m;
    m += up64(l->ntrees * 4);
    l->core = (struct llf_core *)m;

    /* Each frame's field and counter written once, from the spans that cross it. */
    size_t s = 0;
    uint32_t in_tree = 0;
    for (uint64_t f = 0; f < l->nframes; f++) {
        uint64_t base = f * LLF_FRAME_PAGES, end = base + LLF_FRAME_PAGES, w[8];
        uint32_t n = 0;
        memset(w, 0xff, sizeof w);
        end = end < npages ? end : npages;
        while (s < nfree && free[s].pfn + free[s].n <= base)
            s++;
        for (size_t k = s; k < nfree && free[k].pfn < end; k++) {
            uint64_t lo = free[k].pfn > base ? free[k].pfn : base;
            uint64_t hi = free[k].pfn + free[k].n < end ? free[k].pfn + free[k].n : end;
            n += (uint32_t)(hi - lo);
            for (uint64_t i = lo - base; i < hi - base;) {
                unsigned top = (unsigned)((i | 63) + 1 < hi - base ? (i | 63) + 1 : hi - base);
                w[i / 64] &= ~bit_range((unsigned)(i % 64), (unsigned)(top - i / 64 * 64));
                i = top;
            }
        }
        memcpy(l->bits[f], w, sizeof w);
        l->child[f] = (uint16_t)n;
        in_tree += n;
        if (f % LLF_TREE_FRAMES == LLF_TREE_FRAMES - 1 || f == l->nframes - 1) {
            l->tree[f / LLF_TREE_FRAMES] = in_tree;
            in_tree = 0;
        }
    }
    for (uint32_t c = 0; c < cores; c++) /* cores start their searches spread out */
        l->core[c] =
            (struct llf_core){res_make(LLF_NO_TREE, 0), l->ntrees * c / cores * LLF_TREE_FRAMES,
                              l->ntrees * c / cores};
}

/* n pages of tree t go back to the tree's counter (and the tree is no longer reserved). */
static void tree_add(struct llf *l, uint32_t t, uint32_t n, int unreserve)
{
    uint32_t v = __atomic_load_n(&l->tree[t], ACQ);
    while (!cas32(&l->tree[t], &v, (v + n) & ~(unreserve ? LLF_RESERVED : 0u)))
        ;
}

/* Take n pages' worth of count from tree t's counter, reserved or not: 1 if taken. */
static int tree_take(struct llf *l, uint32_t t, uint32_t n)
{
    uint32_t v = __atomic_load_n(&l->tree[t], ACQ);
    while ((v & ~LLF_RESERVED) >= n)
        if (cas32(&l->tree[t], &v, v - n))
            return 1;
    return 0;
}

/* n pages of tree t became free: into the budget of core if it holds t, else the tree's count. */
static void credit(struct llf *l, uint32_t core, uint32_t t, uint32_t n)
{
    uint64_t *res = &l->core[core].res, r = __atomic_load_n(res, ACQ);
    while (res_tree(r) == t)
        if (cas64(res, &r, r + ((uint64_t)n << 32)))
            return;
    tree_add(l, t, n, 0);
}

/* End core's reservation r, if it is still r: 1 if it ended here (or there was none). */
static int unreserve(struct llf *l, uint32_t core, uint64_t r)
{
    if (res_tree(r) == LLF_NO_TREE)
        return 1;
    if (!cas64(&l->core[core].res, &r, res_make(LLF_NO_TREE, 0)))
        return 0;
    tree_add(l, res_tree(r), res_budget(r), 1);
    return 1;
}

void llf_drain(struct llf *l, uint32_t core)
{
    uint64_t r = __atomic_load_n(&l->core[core].res, ACQ);
    while (!unreserve(l, core, r))
        r = __atomic_load_n(&l->core[core].res, ACQ);
}

/* Take every core's reservation back: how many there were. For a core that found nothing. */
static unsigned steal_all(struct llf *l)
{
    unsigned n = 0;
    for (uint32_t k = 0; k < l->ncores; k++) {
        uint64_t r = __atomic_load_n(&l->core[k].res, ACQ);
        if (res_tree(r) != LLF_NO_TREE)
            n++;
        llf_drain(l, k);
    }
    return n;
}

static uint64_t tree_pages(const struct llf *l, uint64_t t)
{
    uint64_t first = t * LLF_TREE_PAGES;
    return l->npages - first < LLF_TREE_PAGES ? l->npages - first : LLF_TREE_PAGES;
}

/*
 * Reserve a tree for core (whose reservation is none), searching from tree `from` on: first a
 * partly used tree with at least 1/16 of its pages free (whole trees stay for 2 MiB pages, and a
 * nearly full one would be given back at once), then any tree with a free page. 1 if reserved.
 */
static int reserve(struct llf *l, uint32_t core, uint64_t from)
{
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t = from < l->ntrees ? from : 0;
        for (uint64_t i = 0; i < l->ntrees; i++, t = t + 1 == l->ntrees ? 0 : t + 1) {
            uint32_t v = __atomic_load_n(&l->tree[t], ACQ);
            while (!(v & LLF_RESERVED) && v &&
                   (pass || (v >= LLF_TREE_PAGES / 16 && v < tree_pages(l, t)))) {
                if (cas32(&l->tree[t], &v, LLF_RESERVED)) {
                    /* only stealers change a reservation that is not none: a store will do */
                    __atomic_store_n(&l->core[core].res, res_make((uint32_t)t, v),
                                     __ATOMIC_RELEASE);
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* One bit of frame f, whose counter the caller has taken one page from: the page's index. */
static unsigned take_bit(struct llf *l, uint64_t f)
{
    uint64_t *w = l->bits[f];
    for (unsigned i = 0;; i = (i + 1) % 8) {
        uint64_t v = __atomic_load_n(&w[i], ACQ);
        while (~v) {
            unsigned b = (unsigned)__builtin_ctzll(~v);
            if (cas64(&w[i], &v, v | 1ull << b))
                return i * 64 + b;
        }
    }
}

/* One page of tree t, the caller holding one page of count there. */
static uint64_t take_page(struct llf *l, struct llf_core *c, uint32_t t)
{
    uint64_t first = (uint64_t)t * LLF_TREE_FRAMES, end = first + LLF_TREE_FRAMES;
    end = end < l->nframes ? end : l->nframes;
    uint64_t f = c->next_frame >= first && c->next_frame < end ? c->next_frame : first;
    for (;;) {
        uint16_t v = __atomic_load_n(&l->child[f], ACQ);
        while (!(v & LLF_HUGE) && v) {
            if (cas16(&l->child[f], &v, (uint16_t)(v - 1))) {
                c->next_frame = f;
                return f * LLF_FRAME_PAGES + take_bit(l, f);
            }
        }
        f = f + 1 == end ? first : f + 1;
    }
}

int llf_alloc(struct llf *l, uint32_t core, uint64_t *pfn)
{
    struct llf_core *c = &l->core[core];
    int stolen = 0;
    uint64_t r = __atomic_load_n(&c->res, ACQ);
    for (;;) {
        uint32_t t = res_tree(r);
        if (t != LLF_NO_TREE && res_budget(r)) {
            if (!cas64(&c->res, &r, r - (1ull << 32)))
                continue;
            *pfn = take_page(l, c, t);
            return 0;
        }
        if (t != LLF_NO_TREE) { /* budget spent: take what others freed into the tree since */
            uint32_t v = __atomic_load_n(&l->tree[t], ACQ);
            if ((v & LLF_RESERVED) && (v & ~LLF_RESERVED) && cas32(&l->tree[t], &v, LLF_RESERVED)) {
                uint64_t want = r;
                if (!cas64(&c->res, &want, res_make(t, v & ~LLF_RESERVED)))
                    tree_add(l, t, v & ~LLF_RESERVED, 0); /* taken back meanwhile: return it */
                r = __atomic_load_n(&c->res, ACQ);
                continue;
            }
        }
        if (!unreserve(l, core, r)) {
            r = __atomic_load_n(&c->res, ACQ);
            continue;
        }
        uint64_t from = t != LLF_NO_TREE ? t : c->next_frame / LLF_TREE_FRAMES;
        if (reserve(l, core, from)) {
            r = __atomic_load_n(&c->res, ACQ);
            continue;
        }
        /* Every tree with free pages is reserved by another core: take one page from any
         * tree's counter without reserving it; then from the reservations themselves. */
        for (uint64_t i = 0, u = from < l->ntrees ? from : 0; i < l->ntrees;
             i++, u = u + 1 == l->ntrees ? 0 : u + 1)
            if (tree_take(l, (uint32_t)u, 1)) {
                *pfn = take_page(l, c, (uint32_t)u);
                return 0;
            }
        if (stolen || !steal_all(l))
            return LLF_ENOMEM;
        stolen = 1;
        r = __atomic_load_n(&c->res, ACQ);
    }
}

int llf_free(struct llf *l, uint32_t core, uint64_t pfn)
{
    if (pfn >= l->npages)
        return LLF_EINVAL;
    uint64_t f = pfn / LLF_FRAME_PAGES;
    if (__atomic_load_n(&l->child[f], ACQ) & LLF_HUGE)
        return LLF_EINVAL; /* part of a 2 MiB page */
    uint64_t *w = &l->bits[f][pfn % LLF_FRAME_PAGES / 64], m = 1ull << (pfn % 64);
    uint64_t v = __atomic_load_n(w, ACQ);
    do
        if (!(v & m))
            return LLF_EDOUBLE;
    while (!cas64(w, &v, v & ~m));
    uint16_t n = __atomic_load_n(&l->child[f], ACQ);
    while (!cas16(&l->child[f], &n, (uint16_t)(n + 1)))
        ;
    credit(l, core, (uint32_t)(f / LLF_TREE_FRAMES), 1);
    return 0;
}

/* An entirely free frame of tree t made huge, the caller holding 512 pages of count there. */
static int take_frame(struct llf *l, uint64_t t, uint64_t *pfn)
{
    uint64_t first = t * LLF_TREE_FRAMES, end = first + LLF_TREE_FRAMES;
    end = end < l->nframes ? end : l->nframes;
    for (uint64_t f = first; f < end; f++) {
        uint16_t v = __atomic_load_n(&l->child[f], ACQ);
        while (v == LLF_FRAME_PAGES)
            if (cas16(&l->child[f], &v, LLF_HUGE)) {
                *pfn = f * LLF_FRAME_PAGES;
                return 1;
            }
    }
    return 0;
}

/* Does tree t show an entirely free frame (a read of its one line of counters)? */
static int has_whole(const struct llf *l, uint64_t t)
{
    uint64_t first = t * LLF_TREE_FRAMES, end = first + LLF_TREE_FRAMES;
    end = end < l->nframes ? end : l->nframes;
    for (uint64_t f = first; f < end; f++)
        if (__atomic_load_n(&l->child[f], __ATOMIC_RELAXED) == LLF_FRAME_PAGES)
            return 1;
    return 0;
}

int llf_alloc_huge(struct llf *l, uint32_t core, uint64_t *pfn)
{
    struct llf_core *c = &l->core[core];
    uint64_t r = __atomic_load_n(&c->res, ACQ);
    while (res_tree(r) != LLF_NO_TREE && res_budget(r) >= LLF_FRAME_PAGES) { /* own tree first */
        if (!cas64(&c->res, &r, r - ((uint64_t)LLF_FRAME_PAGES << 32)))
            continue;
        if (take_frame(l, res_tree(r), pfn))
            return 0;
        credit(l, core, res_tree(r), LLF_FRAME_PAGES);
        break;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t = c->huge_tree < l->ntrees ? c->huge_tree : 0;
        for (uint64_t i = 0; i < l->ntrees; i++, t = t + 1 == l->ntrees ? 0 : t + 1) {
            uint32_t v = __atomic_load_n(&l->tree[t], ACQ);
            if ((v & ~LLF_RESERVED) < LLF_FRAME_PAGES || !has_whole(l, t) ||
                !tree_take(l, (uint32_t)t, LLF_FRAME_PAGES))
                continue;
            if (take_frame(l, t, pfn)) {
                c->huge_tree = t;
                return 0;
            }
            tree_add(l, (uint32_t)t, LLF_FRAME_PAGES, 0);
        }
        if (!steal_all(l)) /* whole frames may be counted in reservations' budgets */
            break;
    }
    return LLF_ENOMEM;
}

int llf_free_huge(struct llf *l, uint32_t core, uint64_t pfn)
{
    if (pfn >= l->npages || pfn % LLF_FRAME_PAGES)
        return LLF_EINVAL;
    uint64_t f = pfn / LLF_FRAME_PAGES;
    uint16_t v = __atomic_load_n(&l->child[f], ACQ);
    do
        if (v != LLF_HUGE)
            return v == LLF_FRAME_PAGES ? LLF_EDOUBLE : LLF_EINVAL;
    while (!cas16(&l->child[f], &v, LLF_FRAME_PAGES));
    credit(l, core, (uint32_t)(f / LLF_TREE_FRAMES), LLF_FRAME_PAGES);
    return 0;
}

uint64_t llf_free_pages(const struct llf *l)
{
    uint64_t n = 0;
    for (uint64_t t = 0; t < l->ntrees; t++)
        n += l->tree[t] & ~LLF_RESERVED;
    for (uint32_t c = 0; c < l->ncores; c++)
        if (res_tree(l->core[c].res) != LLF_NO_TREE)
            n += res_budget(l->core[c].res);
    return n;
}

uint64_t llf_free_frames(const struct llf *l)
{
    uint64_t n = 0;
    for (uint64_t f = 0; f < l->nframes; f++)
        n += l->child[f] == LLF_FRAME_PAGES;
    return n;
}
