/*
 * stats.c - counters, the shared summary line, and per-page answers for front ends.
 *
 * Nothing here changes the state, and nothing here waits: with other CPUs at work the answers are
 * built from words read at slightly different moments (pmm.h "Many CPUs"), exact at a quiet
 * moment. Free pages are the blocks' counts plus the pages held on caches, so statistics cost
 * O(RAM / 2 MiB); listings read a word per 64 pages.
 */
#include "pool.h"

/*
 * Longest free run: contiguous in compact order, and broken where two slots are not neighbours.
 * Pool pages only (held ones are not part of a run anyone could take).
 */
static uint64_t largest_run(const struct pmm *p)
{
    uint64_t best = 0, cur = 0;
    for (uint64_t wi = 0; wi < page_words(p); wi++) {
        if (wi && !((wi << 6) & (PMM_SEC_PAGES - 1)) && !c_adjacent(p, (wi << 6) - 1)) {
            best = cur > best ? cur : best;
            cur = 0;
        }
        uint64_t w = free_view(p, wi);
        if (w == ~0ull) {
            cur += 64;
            continue;
        }
        for (int b = 0; b < 64; b++) {
            if ((w >> b) & 1) {
                cur++;
            } else {
                best = cur > best ? cur : best;
                cur = 0;
            }
        }
    }
    return cur > best ? cur : best;
}

/* Free pages of the pool in blocks [b0, b1): the counts (exact with no other CPU at work). */
static uint64_t pool_free(const struct pmm *p, uint64_t b0, uint64_t b1)
{
    uint64_t n = 0;
    for (uint64_t b = b0; b < b1; b++)
        n += ld16(&p->at.count[b]);
    return n;
}

static uint64_t cached_pages(const struct pmm *p)
{
    uint64_t sum = __atomic_load_n(&p->home.n, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < p->ncpus; i++)
        sum += __atomic_load_n(&p->at.cache[i].n, __ATOMIC_RELAXED);
    return sum;
}

void pmm_stats(const struct pmm *p, struct pmm_stats *s)
{
    pmm_memset(s, 0, sizeof *s);
    uint64_t owned = __atomic_load_n(&p->owned, __ATOMIC_RELAXED);
    uint64_t pool = pool_free(p, 0, p->nblocks), cached = cached_pages(p);
    if (pool > owned) /* counts read while other CPUs work: keep the sums whole */
        pool = owned;
    if (cached > owned - pool)
        cached = owned - pool;
    s->total = p->total;
    s->free = pool + cached;
    s->used = p->total - s->free;
    s->meta = p->meta_pages;
    s->alloc = owned - pool - cached;
    s->cached = cached;
    s->cpus = p->ncpus;
    s->nodes = p->nnodes;
    s->withheld = p->total - owned - p->meta_pages;
    s->largest = largest_run(p);
    s->below4g = pool_free(p, 0, p->c_high >> PMM_BLOCK_SHIFT);
    s->below16m = pool_free(p, 0, p->c_dma >> PMM_BLOCK_SHIFT);
    const struct pmm_range *r = pmm_rtab(p);
    for (uint64_t i = 0; i < p->nranges; i++)
        if (r[i].kind < PMM_NKINDS) /* pmm_adopt does not read the table; pmm_check refuses it */
            s->kind_pages[r[i].kind] += r[i].npages;
    s->span = p->span;
    s->sections = p->nsec;
    s->present_sections = p->nslots;
    s->unmanaged = p->unmanaged;
    s->meta_phys = p->self_phys;
    s->reconciled = p->reconciled;
    s->boot_held = p->boot_held;
}

/* Pages of block b the pool owns. */
static uint64_t owned_in(const struct pmm *p, uint64_t b)
{
    unsigned o = own_of(p, b);
    if (o != OWN_SOME)
        return o == OWN_NONE ? 0 : PMM_BLOCK_PAGES;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n += popcount64(ld64(&p->at.ownw[(b << 3) + (uint64_t)i]));
    return n;
}

int pmm_node_stats(const struct pmm *p, uint32_t node, struct pmm_node_stats *s)
{
    pmm_memset(s, 0, sizeof *s);
    if (node >= p->nnodes)
        return PMM_EINVAL;
    const struct pmm_node_run *run = pmm_runs(p);
    for (uint64_t i = 0; i < p->nruns; i++) {
        if (run[i].node != node)
            continue;
        for (uint64_t b = run[i].first; b < run[i].end; b++)
            s->total += owned_in(p, b);
        s->free += pool_free(p, run[i].first, run[i].end);
    }
    for (uint32_t i = 0; i <= p->ncpus; i++) {
        const struct pmm_cache *pc = i < p->ncpus ? &p->at.cache[i] : &p->home;
        uint32_t n = __atomic_load_n(&pc->n, __ATOMIC_RELAXED);
        for (uint32_t k = 0; k < n && k < PMM_CPU_CACHE; k++)
            s->cached += pmm_page_node(p, ld64(&pc->page[k])) == node; /* its CPU writes */
    }
    return PMM_OK;
}

struct out {
    char *buf;
    uint64_t len, at;
};

static void put(struct out *o, const char *s)
{
    for (; *s; s++, o->at++)
        if (o->at + 1 < o->len)
            o->buf[o->at] = *s;
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[21];
    int i = 20;
    tmp[i] = 0;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i);
}

uint64_t pmm_summary(const struct pmm *p, char *buf, uint64_t len)
{
    struct pmm_stats s;
    pmm_stats(p, &s);
    const char *names[] = {
        "pmm: total=", " free=",    " used=",     " meta=",     " alloc=", " withheld=",
        " largest=",   " below4g=", " below16m=", " sections=", "/",       " unmanaged="};
    uint64_t vals[] = {s.total,    s.free,     s.used,    s.meta,     s.alloc,
                       s.withheld, s.largest,  s.below4g, s.below16m, s.present_sections,
                       s.sections, s.unmanaged};
    struct out o = {buf, len, 0};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        put(&o, names[i]);
        put_u64(&o, vals[i]);
    }
    if (len)
        buf[o.at < len ? o.at : len - 1] = 0;
    return o.at;
}

const struct pmm_range *pmm_ranges(const struct pmm *p, uint64_t *n)
{
    *n = p->nranges;
    return pmm_rtab(p);
}

/* Pages of word wi held on a cache: owned, not free, counted PMM_REF_HELD (marked groups only). */
static uint64_t held_bits(const struct pmm *p, uint64_t wi, uint64_t own, uint64_t fr)
{
    uint64_t x = own & ~fr, h = 0;
    if (!x || !((ld64(&p->at.marks[wi >> 6]) >> (wi & 63)) & 1))
        return 0;
    for (; x; x &= x - 1) {
        uint64_t k = (uint64_t)__builtin_ctzll(x);
        if (ld16(&p->at.refs[(wi << 6) | k]) == PMM_REF_HELD)
            h |= 1ull << k;
    }
    return h;
}

enum pmm_page_state pmm_page_state(const struct pmm *p, uint64_t pfn)
{
    if (pfn - meta_first(p) < p->meta_pages)
        return PMM_PAGE_META;
    uint64_t c = cidx(p, pfn);
    if (c != PMM_NONE) {
        uint64_t wi = c >> 6, own = own_view(p, wi), fr = free_view(p, wi);
        if ((own >> (c & 63)) & 1)
            return ((fr | held_bits(p, wi, own, fr)) >> (c & 63)) & 1 ? PMM_PAGE_FREE
                                                                      : PMM_PAGE_ALLOC;
    }
    const struct pmm_range *r = pmm_rtab(p);
    uint64_t lo = 0, hi = p->nranges;
    while (lo < hi) { /* first range ending after pfn */
        uint64_t mid = lo + (hi - lo) / 2;
        if (r[mid].start + r[mid].npages <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->nranges || r[lo].start > pfn)
        return PMM_PAGE_HOLE;
    return r[lo].kind == PMM_KIND_NEVER ? PMM_PAGE_NEVER : PMM_PAGE_WITHHELD;
}

/* Word wi of the map asked for: free pages (held ones included), or allocated ones. */
static uint64_t state_word(const struct pmm *p, uint64_t wi, int alloc)
{
    uint64_t own = own_view(p, wi), fr = free_view(p, wi);
    fr |= held_bits(p, wi, own, fr);
    return alloc ? own & ~fr : fr;
}

static int next_range(const struct pmm *p, uint64_t from, int alloc, uint64_t *start, uint64_t *n)
{
    uint64_t i = c_ceil(p, from), s = PMM_NONE;
    while (i < p->cspan) { /* find the first page of the run */
        uint64_t w = state_word(p, i >> 6, alloc) & (~0ull << (i & 63));
        if (w) {
            s = (i & ~63ull) | (uint64_t)__builtin_ctzll(w);
            break;
        }
        i = (i & ~63ull) + 64;
    }
    if (s >= p->cspan)
        return 0;
    uint64_t e = s;
    while (e < p->cspan) { /* and the first page after it, or the end of its physical stretch */
        uint64_t w = ~state_word(p, e >> 6, alloc) & (~0ull << (e & 63));
        uint64_t slot_end = (e | (PMM_SEC_PAGES - 1)) + 1;
        if (w) {
            uint64_t x = (e & ~63ull) | (uint64_t)__builtin_ctzll(w);
            if (x < slot_end) {
                e = x;
                break;
            }
        }
        e = (e & ~63ull) + 64;
        if (e == slot_end && !c_adjacent(p, e - 1))
            break;
    }
    if (e > p->cspan)
        e = p->cspan;
    *start = cpfn(p, s);
    *n = e - s;
    return 1;
}

int pmm_next_free_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n)
{
    return next_range(p, from, 0, start, n);
}

int pmm_next_alloc_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n)
{
    return next_range(p, from, 1, start, n);
}
