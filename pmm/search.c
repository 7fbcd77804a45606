/*
 * search.c - where pages and runs come from: zones, NUMA nodes, and the searches themselves.
 *
 * Single pages come from at or above 4 GiB first, then from [1 MiB, 4 GiB), next-fit from a
 * cursor, a block at a time; runs come from at or above 4 GiB, then [16 MiB, 4 GiB), then
 * [1 MiB, 16 MiB) (first fit in each), then across those edges: memory that 32-bit and ISA DMA
 * can reach lasts. With NUMA, the preferred node's memory is searched first (all its zones), then
 * the other nodes nearest first (pmm_build's distances).
 *
 * Searches read counts and the summaries, never take anything until they claim it, and claim
 * with the pool's compare-and-swaps (pool.c): a candidate that somebody else took first is simply
 * passed over.
 */
#include "pool.h"

/* Blocks [first, end) of node `node` (PMM_NODE_ANY: of every node) clipped to [lo, hi). */
struct piece {
    uint64_t lo, hi;
};

/* The pieces of node `node` inside blocks [lo, hi), in order: up to cap of them, from run *r. */
static uint32_t node_pieces(const struct pmm *p, uint32_t node, uint64_t lo, uint64_t hi,
                            struct piece *out, uint32_t cap, uint64_t *r)
{
    uint32_t n = 0;
    if (node == PMM_NODE_ANY) {
        if (!*r && lo < hi && cap)
            out[n++] = (struct piece){lo, hi};
        *r = 1;
        return n;
    }
    const struct pmm_node_run *run = pmm_runs(p);
    for (; *r < p->nruns && n < cap; (*r)++) {
        if (run[*r].node != node)
            continue;
        uint64_t a = run[*r].first > lo ? run[*r].first : lo;
        uint64_t e = run[*r].end < hi ? run[*r].end : hi;
        if (a < e)
            out[n++] = (struct piece){a, e};
    }
    return n;
}

/*
 * Up to want pages of block b, claimed: their compact indices in out[]. A FRESH block is opened
 * (taken whole, written free) by whoever gets it first; anyone else passes over it meanwhile.
 */
static uint64_t blk_take(struct pmm *p, uint64_t b, uint64_t want, uint64_t from, uint64_t *out)
{
    unsigned o = own_of(p, b);
    if (o == OWN_NONE)
        return 0;
    if (o == OWN_FRESH) {
        if (blk_reserve(p, b, PMM_BLOCK_PAGES, PMM_BLOCK_PAGES)) {
            fresh_open(p, b);
            uint64_t k = want < PMM_BLOCK_PAGES ? want : PMM_BLOCK_PAGES;
            uint64_t got = claim_any(p, b, k, from, out);
            blk_unreserve(p, b, PMM_BLOCK_PAGES - got);
            return got;
        }
        if (own_of(p, b) == OWN_FRESH)
            return 0;
    }
    uint64_t r = blk_reserve(p, b, want, 1);
    if (!r)
        return 0;
    uint64_t got = claim_any(p, b, r, from, out);
    if (got < r) /* the rest lies below `from` (or the state is corrupt: pmm_check says so) */
        blk_unreserve(p, b, r - got);
    return got;
}

/* Next-fit over blocks [lo, hi) from start: pages of the first block that gives some. */
static uint64_t take_in(struct pmm *p, uint64_t lo, uint64_t hi, uint64_t start, uint64_t want,
                        uint64_t *out, uint64_t *at)
{
    uint64_t from = p->c_low; /* the block holding 1 MiB: only its pages above */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t b = pass ? lo : start, end = pass ? start : hi;
        while ((b = sum_next(p, &p->avail, b, end)) != PMM_NONE) {
            uint64_t got = blk_take(p, b, want, from, out);
            if (got) {
                *at = b;
                return got;
            }
            if (!blk_avail(p, b))
                sum_clear(p, &p->avail, b, blk_avail);
            b++;
        }
    }
    return 0;
}

uint64_t pool_take(struct pmm *p, uint32_t node, int strict, uint64_t want, uint64_t *cursor,
                   uint64_t *out)
{
    /* single pages never come from below 1 MiB (claim_any skips them in the block holding it) */
    uint64_t blow = p->c_low >> PMM_BLOCK_SHIFT;
    uint64_t bhigh = p->c_high >> PMM_BLOCK_SHIFT;
    if (bhigh < blow)
        bhigh = blow;
    uint64_t zlo[2] = {bhigh, blow}, zhi[2] = {p->nblocks, bhigh};
    uint32_t nn = node == PMM_NODE_ANY || strict ? 1 : p->nnodes;
    for (int round = 0; round < 2; round++) {
        uint64_t gen0 = search_begin(p);
        for (uint32_t k = 0; k < nn; k++) {
            uint32_t nd = node == PMM_NODE_ANY ? node
                          : k                  ? pmm_order(p)[node * p->nnodes + k]
                                               : node;
            for (int z = 0; z < 2; z++) {
                struct piece pc[8];
                uint64_t r = 0;
                for (uint32_t np; (np = node_pieces(p, nd, zlo[z], zhi[z], pc, 8, &r));) {
                    for (uint32_t i = 0; i < np; i++) {
                        uint64_t c = ld64(cursor), at;
                        uint64_t start = c >= pc[i].lo && c < pc[i].hi ? c : pc[i].lo;
                        uint64_t got = take_in(p, pc[i].lo, pc[i].hi, start, want, out, &at);
                        if (got) {
                            st64(cursor, at);
                            return got;
                        }
                    }
                }
            }
        }
        /* Nothing: unless a summary clear overlapped the search, that is the answer. */
        if (!search_missed(p, gen0) || !pool_confirm(p, &p->avail, blow, p->nblocks))
            return 0;
    }
    return 0;
}

/* The first page of [c, e) that is not free, or PMM_NONE. */
static uint64_t first_used(const struct pmm *p, uint64_t c, uint64_t e)
{
    for (uint64_t i = c; i < e; i = (i | 63) + 1) {
        uint64_t x = ~free_view(p, i >> 6) & word_mask(i, e);
        if (x)
            return (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
    }
    return PMM_NONE;
}

/* The first free page of [c, e), or PMM_NONE. */
static uint64_t first_free(const struct pmm *p, uint64_t c, uint64_t e)
{
    for (uint64_t i = c; i < e; i = (i | 63) + 1) {
        uint64_t x = free_view(p, i >> 6) & word_mask(i, e);
        if (x)
            return (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
    }
    return PMM_NONE;
}

/* Blocks b .. b + k - 1 taken whole, then the tail [tc, tc + t): 1, or 0 with nothing taken. */
static int take_blocks(struct pmm *p, uint64_t b, uint64_t k, uint64_t tc, uint64_t t)
{
    for (uint64_t i = 0; i < k; i++) {
        if (!take_whole(p, b + i)) {
            if (i)
                give_run(p, b << PMM_BLOCK_SHIFT, i << PMM_BLOCK_SHIFT);
            return 0;
        }
    }
    if (t && !claim_exact(p, tc, t)) {
        give_run(p, b << PMM_BLOCK_SHIFT, k << PMM_BLOCK_SHIFT);
        return 0;
    }
    return 1;
}

/*
 * Runs of whole 2 MiB blocks (n >= 512, aligned to 2 MiB or more): the `whole` summary gives the
 * candidates, the counts confirm the blocks after the first, the tail's words are read. O(levels)
 * per candidate, and nothing at all when no block is wholly free.
 */
static uint64_t find_blocks(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi)
{
    uint64_t k = n >> PMM_BLOCK_SHIFT, t = n & (PMM_BLOCK_PAGES - 1);
    uint64_t b = (lo + PMM_BLOCK_PAGES - 1) >> PMM_BLOCK_SHIFT, bhi = hi >> PMM_BLOCK_SHIFT;
    while (b < bhi) {
        b = sum_next(p, &p->whole, b, bhi);
        if (b == PMM_NONE)
            return PMM_NONE;
        if (!blk_whole(p, b)) {
            sum_clear(p, &p->whole, b, blk_whole);
            b++;
            continue;
        }
        uint64_t s = c_align(p, b << PMM_BLOCK_SHIFT, apages);
        if (s == PMM_NONE || s >= hi || hi - s < n)
            return PMM_NONE;
        if (s != b << PMM_BLOCK_SHIFT) {
            b = s >> PMM_BLOCK_SHIFT;
            continue;
        }
        uint64_t x = b + 1;
        while (x < b + k && blk_whole(p, x))
            x++;
        if (x < b + k) {
            b = x + 1;
            continue;
        }
        uint64_t tc = s + (k << PMM_BLOCK_SHIFT);
        if (t && first_used(p, tc, tc + t) != PMM_NONE) {
            b++;
            continue;
        }
        uint64_t brk = c_break(p, s, n);
        if (brk != PMM_NONE) {
            b = brk >> PMM_BLOCK_SHIFT;
            continue;
        }
        if (take_blocks(p, b, k, tc, t))
            return s;
        b++; /* somebody took part of it first */
    }
    return PMM_NONE;
}

/*
 * Any other run: the `avail` summary skips blocks with nothing free, the words do the rest. Each
 * failed candidate moves the search past the page that broke it: O(fragments in the way).
 */
static uint64_t find_pages(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi)
{
    uint64_t pos = lo;
    while (pos < hi && hi - pos >= n) {
        uint64_t b =
            sum_next(p, &p->avail, pos >> PMM_BLOCK_SHIFT, ((hi - 1) >> PMM_BLOCK_SHIFT) + 1);
        if (b == PMM_NONE)
            return PMM_NONE;
        if (!blk_avail(p, b)) {
            sum_clear(p, &p->avail, b, blk_avail);
            pos = (b + 1) << PMM_BLOCK_SHIFT;
            continue;
        }
        uint64_t from = b << PMM_BLOCK_SHIFT > pos ? b << PMM_BLOCK_SHIFT : pos;
        uint64_t bend = (b + 1) << PMM_BLOCK_SHIFT < hi ? (b + 1) << PMM_BLOCK_SHIFT : hi;
        uint64_t s = first_free(p, from, bend);
        if (s == PMM_NONE) {
            pos = bend;
            continue;
        }
        s = c_align(p, s, apages);
        if (s == PMM_NONE || s >= hi || hi - s < n)
            return PMM_NONE;
        uint64_t z = first_used(p, s, s + n);
        if (z != PMM_NONE) {
            pos = z + 1;
            continue;
        }
        uint64_t brk = c_break(p, s, n);
        if (brk != PMM_NONE) {
            pos = brk;
            continue;
        }
        if (claim_exact(p, s, n))
            return s;
        pos = s + 1; /* somebody took part of it first */
    }
    return PMM_NONE;
}

static uint64_t find_run(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi)
{
    if (lo >= hi || hi - lo < n)
        return PMM_NONE;
    if (n >= PMM_BLOCK_PAGES && apages >= PMM_BLOCK_PAGES)
        return find_blocks(p, n, apages, lo, hi);
    return find_pages(p, n, apages, lo, hi);
}

/* The run in one node's pieces (or anywhere), zone by zone, then across the zones' edges. */
static uint64_t run_in_node(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi,
                            uint32_t node)
{
    uint64_t edge[4] = {hi, p->c_high, p->c_dma, lo};
    for (int z = 0; z < 4; z++) {
        uint64_t zlo = z == 3 ? lo : edge[z + 1] > lo ? edge[z + 1] : lo;
        uint64_t zhi = z == 3 ? hi : edge[z] < hi ? edge[z] : hi;
        if (z == 2)
            zlo = lo;
        if (zlo >= zhi || zhi - zlo < n)
            continue;
        struct piece pc[8];
        uint64_t r = 0;
        for (uint32_t np; (np = node_pieces(p, node, zlo >> PMM_BLOCK_SHIFT,
                                            ((zhi - 1) >> PMM_BLOCK_SHIFT) + 1, pc, 8, &r));) {
            for (uint32_t i = 0; i < np; i++) {
                uint64_t a = pc[i].lo << PMM_BLOCK_SHIFT, e = pc[i].hi << PMM_BLOCK_SHIFT;
                uint64_t s = find_run(p, n, apages, a > zlo ? a : zlo, e < zhi ? e : zhi);
                if (s != PMM_NONE)
                    return s;
            }
        }
    }
    return PMM_NONE;
}

uint64_t pool_take_run(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi,
                       uint32_t node, int strict)
{
    uint32_t nn = node == PMM_NODE_ANY || strict ? 1 : p->nnodes;
    const struct pmm_sum *s =
        n >= PMM_BLOCK_PAGES && apages >= PMM_BLOCK_PAGES ? &p->whole : &p->avail;
    for (int round = 0; round < 2; round++) {
        uint64_t gen0 = search_begin(p);
        for (uint32_t k = 0; k < nn; k++) {
            uint32_t nd = node == PMM_NODE_ANY ? node
                          : k                  ? pmm_order(p)[node * p->nnodes + k]
                                               : node;
            uint64_t c = run_in_node(p, n, apages, lo, hi, nd);
            if (c != PMM_NONE)
                return c;
        }
        if (!strict && node != PMM_NODE_ANY) { /* a run across nodes before none at all */
            uint64_t c = run_in_node(p, n, apages, lo, hi, PMM_NODE_ANY);
            if (c != PMM_NONE)
                return c;
        }
        if (!search_missed(p, gen0) ||
            !pool_confirm(p, s, lo >> PMM_BLOCK_SHIFT, ((hi - 1) >> PMM_BLOCK_SHIFT) + 1))
            return PMM_NONE;
    }
    return PMM_NONE;
}
