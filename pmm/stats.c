/*
 * stats.c - counters, the shared summary line, and per-page answers for front ends.
 *
 * Nothing here changes the state. The public readers take the owner's lock (pmm.h says which and
 * why), so each answer is one consistent snapshot; a panic handler that may have interrupted a
 * lock holder drops the lock (pmm_set_lock(p, 0, 0, 0)) before it dumps the allocator.
 */
#include "state.h"

/*
 * Longest free run: contiguous in compact order, and broken where two slots are not neighbours. A
 * stacked block is free (blocks.c): the pool takes it back before a run would fail.
 */
static uint64_t largest_run(const struct pmm *p)
{
    const uint64_t *l0 = pmm_free_l0(p);
    const uint8_t *st = pmm_bst(p);
    uint64_t best = 0, cur = 0;
    for (uint64_t wi = 0; wi < p->freemap.nwords[0]; wi++) {
        if (wi && !((wi << 6) & (PMM_SEC_PAGES - 1)) && !c_adjacent(p, (wi << 6) - 1)) {
            best = cur > best ? cur : best;
            cur = 0;
        }
        uint64_t w = st[wi >> 3] == PMM_BLK_STACKED ? ~0ull : l0[wi];
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

/*
 * Pages on the per-CPU caches. Their CPUs change the counts without the lock, so the sum is of
 * counts read at slightly different moments; but every cached page is in nalloc (state.h), so
 * free = nfree + cached and alloc = nalloc - cached add up to the same total whatever it is.
 */
static uint64_t cached_pages(const struct pmm *p)
{
    uint64_t sum = 0, most = p->nalloc - ((uint64_t)p->btop << PMM_BLOCK_SHIFT);
    for (uint32_t i = 0; i < p->ncpus; i++)
        sum += ld64(&pmm_pcpu(p, i)->n);
    return sum < most ? sum : most; /* stacked blocks are in nalloc too */
}

void pmm_stats(const struct pmm *p, struct pmm_stats *s)
{
    pmm_lock(p);
    pmm_memset(s, 0, sizeof *s);
    uint64_t cached = cached_pages(p), stacked = (uint64_t)p->btop << PMM_BLOCK_SHIFT;
    s->total = p->total;
    s->free = p->nfree + cached + stacked; /* stacked blocks are free, out of the free map */
    s->used = p->total - s->free;
    s->meta = p->meta_pages;
    s->alloc = p->nalloc - cached - stacked;
    s->cached = cached;
    s->cpus = p->ncpus;
    s->withheld = p->total - p->nfree - p->nalloc - p->meta_pages;
    s->largest = largest_run(p);
    s->below4g = bits_count(pmm_free_l0(p), 0, c_ceil(p, 1ull << 20));
    s->below16m = bits_count(pmm_free_l0(p), 0, c_ceil(p, 1ull << 12));
    for (uint32_t i = 0; i < p->btop; i++) { /* entries are 2 MiB frames: pfn >> 9 */
        uint64_t pf = p->bstack[i] << PMM_BLOCK_SHIFT;
        s->below4g += pf < PMM_HIGH_PFN ? 1ull << PMM_BLOCK_SHIFT : 0;
        s->below16m += pf < (16ull << 20) >> PMM_PAGE_SHIFT ? 1ull << PMM_BLOCK_SHIFT : 0;
    }
    s->stacked = stacked;
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
    pmm_unlock(p);
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

static enum pmm_page_state page_state(const struct pmm *p, uint64_t pfn)
{
    if (pfn - meta_first(p) < p->meta_pages)
        return PMM_PAGE_META;
    uint64_t c = cidx(p, pfn);
    if (c != PMM_NONE && bit_test(pmm_own(p), c))
        return bit_test(pmm_free_l0(p), c) || ld16(&pmm_refs(p)[c]) == PMM_REF_CACHED ||
                       pmm_bst(p)[c >> PMM_BLOCK_SHIFT] == PMM_BLK_STACKED
                   ? PMM_PAGE_FREE
                   : PMM_PAGE_ALLOC;
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

enum pmm_page_state pmm_page_state(const struct pmm *p, uint64_t pfn)
{
    pmm_lock(p);
    enum pmm_page_state st = page_state(p, pfn);
    pmm_unlock(p);
    return st;
}

/* Word w of the map asked for: free pages (a stacked block's included), or allocated ones. */
static uint64_t state_word(const struct pmm *p, uint64_t wi, int alloc)
{
    uint64_t f = pmm_bst(p)[wi >> 3] == PMM_BLK_STACKED ? ~0ull : pmm_free_l0(p)[wi];
    return alloc ? pmm_own(p)[wi] & ~f : f;
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

static int next_range_locked(const struct pmm *p, uint64_t from, int alloc, uint64_t *start,
                             uint64_t *n)
{
    pmm_lock(p);
    int found = next_range(p, from, alloc, start, n);
    pmm_unlock(p);
    return found;
}

int pmm_next_free_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n)
{
    return next_range_locked(p, from, 0, start, n);
}

int pmm_next_alloc_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n)
{
    return next_range_locked(p, from, 1, start, n);
}
