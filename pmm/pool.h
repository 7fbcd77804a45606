/*
 * pool.h - the shared pool's primitives (pool.c, summary.c): counts, claims, gives, searches.
 *
 * Everything here is safe with other CPUs at work when p->concurrent is set, and uses plain
 * loads and stores when it is not. state.h says what the structures mean; this file says who may
 * call what.
 */
#ifndef PMM_POOL_H
#define PMM_POOL_H

#include "state.h"

/* Read-modify-writes: atomic (acquire-release) when other CPUs may be at work. */
static inline uint64_t or64_x(const struct pmm *p, uint64_t *w, uint64_t m)
{
    if (p->concurrent)
        return __atomic_fetch_or(w, m, __ATOMIC_ACQ_REL);
    uint64_t o = ld64(w);
    st64(w, o | m);
    return o;
}
static inline uint64_t and64_x(const struct pmm *p, uint64_t *w, uint64_t m)
{
    if (p->concurrent)
        return __atomic_fetch_and(w, m, __ATOMIC_ACQ_REL);
    uint64_t o = ld64(w);
    st64(w, o & m);
    return o;
}
/* Compare-and-swap of a word: 1 and *old unchanged on success, 0 and *old = what is there. */
static inline bool cas64_x(const struct pmm *p, uint64_t *w, uint64_t *old, uint64_t new)
{
    if (p->concurrent)
        return __atomic_compare_exchange_n(w, old, new, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    uint64_t v = ld64(w);
    if (v != *old) {
        *old = v;
        return 0;
    }
    st64(w, new);
    return 1;
}
static inline bool cas16_x(const struct pmm *p, uint16_t *r, uint16_t *old, uint16_t new)
{
    if (p->concurrent)
        return __atomic_compare_exchange_n(r, old, new, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    uint16_t v = ld16(r);
    if (v != *old) {
        *old = v;
        return 0;
    }
    st16(r, new);
    return 1;
}
static inline uint16_t add16_x(const struct pmm *p, uint16_t *r, uint16_t n)
{
    if (p->concurrent)
        return __atomic_fetch_add(r, n, __ATOMIC_ACQ_REL);
    uint16_t o = ld16(r);
    st16(r, (uint16_t)(o + n));
    return o;
}

/* Block b's count, acquired: what the givers wrote before adding to it is visible. */
static inline uint64_t count_of(const struct pmm *p, uint64_t b)
{
    return __atomic_load_n(&p->at.count[b], __ATOMIC_ACQUIRE);
}

/* The free word wi as the block's own state says: a FRESH block's are all ones unwritten. */
static inline uint64_t free_view(const struct pmm *p, uint64_t wi)
{
    unsigned o = own_of(p, wi >> 3);
    return o == OWN_FRESH ? ~0ull : o == OWN_NONE ? 0 : ld64(&p->at.free[wi]);
}
/* The own word wi likewise: all ones in FRESH and ALL blocks, none in NONE ones. */
static inline uint64_t own_view(const struct pmm *p, uint64_t wi)
{
    unsigned o = own_of(p, wi >> 3);
    return o == OWN_SOME ? ld64(&p->at.ownw[wi]) : o == OWN_NONE ? 0 : ~0ull;
}

/* summary.c: the one-sided summaries (state.h). */
void sum_set(const struct pmm *p, const struct pmm_sum *s, uint64_t b);
/* Clear block b's level-0 bit; set it again if still(p, b) holds after. Returns still's answer. */
bool sum_clear(struct pmm *p, const struct pmm_sum *s, uint64_t b,
               bool (*still)(const struct pmm *, uint64_t));
/* Block b's count left 512 by the caller's reservation: its `whole` bit goes (not counted). */
void whole_taken(struct pmm *p, uint64_t b);
/* The first block in [from, limit) whose bit is set at every level, or PMM_NONE. */
uint64_t sum_next(struct pmm *p, const struct pmm_sum *s, uint64_t from, uint64_t limit);
/* Clear every stale bit above level 0 (a set bit over an empty word). O(summary words). */
void sum_scrub(struct pmm *p, const struct pmm_sum *s);
bool blk_avail(const struct pmm *p, uint64_t b);
bool blk_whole(const struct pmm *p, uint64_t b);

/*
 * A search that relied on the summaries brackets itself with these: a clear in flight while it
 * ran may have hidden a block from it, and then pool_confirm reads the counts to be sure.
 */
static inline uint64_t search_begin(const struct pmm *p)
{
    return p->concurrent ? __atomic_load_n(&p->clear_gen, __ATOMIC_SEQ_CST) : 0;
}
static inline int search_missed(const struct pmm *p, uint64_t gen0)
{
    return p->concurrent && (__atomic_load_n(&p->clearing, __ATOMIC_SEQ_CST) != 0 ||
                             __atomic_load_n(&p->clear_gen, __ATOMIC_SEQ_CST) != gen0);
}
/*
 * Read every count of blocks [from, limit) and set the summary bits of those for which s's
 * predicate holds (sum_set): how many there were. O(blocks); only when a search came back empty
 * while a clear was in flight.
 */
uint64_t pool_confirm(struct pmm *p, const struct pmm_sum *s, uint64_t from, uint64_t limit);

/* pool.c: counts and bits. */

/*
 * Reserve up to want pages of block b (at least min, or nothing): returns how many. A FRESH
 * block is only ever taken whole, by fresh_open.
 */
uint64_t blk_reserve(struct pmm *p, uint64_t b, uint64_t want, uint64_t min);
/* n pages go back to block b's count (their bits already set), with the summaries. */
void blk_unreserve(struct pmm *p, uint64_t b, uint64_t n);
/*
 * The caller holds block b's whole count and the block is FRESH (or was, and somebody opened it
 * since: then nothing is written): its words become all free, its counts 0, its marks clear, and
 * it is ALL.
 */
void fresh_open(struct pmm *p, uint64_t b);
/*
 * Claim k free bits of block b at or above compact index `from`, which the caller reserved: their
 * compact indices go to out[]. Returns k, or fewer if the bits are not there (below `from`, or a
 * corrupt state): the caller gives back the rest of its reservation.
 */
uint64_t claim_any(struct pmm *p, uint64_t b, uint64_t k, uint64_t from, uint64_t *out);
/*
 * Take exactly pages [c, c + n) (one run, possibly over several blocks, opening FRESH ones): 1,
 * or 0 with nothing changed if one of them is not free (somebody else took it first).
 */
int claim_exact(struct pmm *p, uint64_t c, uint64_t n);
/* Block b, wholly free, taken whole: 1, or 0 if it was not (any more). */
int take_whole(struct pmm *p, uint64_t b);
/* Allocated pages [c, c + n) become free: bits, then counts, then summaries. */
void give_run(struct pmm *p, uint64_t c, uint64_t n);
/* One page, likewise; 0, or PMM_EDOUBLE if its bit was set already (nothing changed then). */
int give_one(struct pmm *p, uint64_t c);

/* Clear the marks of the 64-page groups wholly inside [c, c + n), all of whose pages are ours. */
void marks_clear(struct pmm *p, uint64_t c, uint64_t n);
/* Mark page c's group (before its count becomes non-zero). */
static inline void mark_page(const struct pmm *p, uint64_t c)
{
    uint64_t *w = &p->at.marks[c >> 12], m = bit_mask(c >> 6);
    if (!(ld64(w) & m))
        or64_x(p, w, m);
}
static inline bool marked(const struct pmm *p, uint64_t c)
{
    return (ld64(&p->at.marks[c >> 12]) >> ((c >> 6) & 63)) & 1;
}

/*
 * search.c: where pages and runs come from (zones, then NUMA nodes: node first, then the others
 * nearest first unless strict; PMM_NODE_ANY: anywhere).
 */
/* Up to want single pages from one block, claimed, compact indices in out[]: how many. cursor is
 * the caller's next-fit hint (a block number). Never below 1 MiB. */
uint64_t pool_take(struct pmm *p, uint32_t node, int strict, uint64_t want, uint64_t *cursor,
                   uint64_t *out);
/* A run of n pages aligned to apages (compact [lo, hi)), claimed: its compact start, or PMM_NONE.
 */
uint64_t pool_take_run(struct pmm *p, uint64_t n, uint64_t apages, uint64_t lo, uint64_t hi,
                       uint32_t node, int strict);

/* percpu.c: the oldest k pages of a cache back to the pool. */
void cache_spill(struct pmm *p, struct pmm_cache *pc, uint64_t k);
/* One page from cache pc (refilled from `node` first when empty). */
int cache_alloc(struct pmm *p, struct pmm_cache *pc, uint32_t node, uint64_t *phys);
/* Free one page to cache pc: the fast checks, else free_slow's. */
int cache_free(struct pmm *p, struct pmm_cache *pc, uint64_t phys);
/* Page c, checked freeable, onto pc (to the pool if it is low memory or the pool is short). */
void cache_put(struct pmm *p, struct pmm_cache *pc, uint64_t c);
/* alloc.c: pmm_free's checks, then the page to pc (NULL: to the pool). */
int free_slow(struct pmm *p, struct pmm_cache *pc, uint64_t phys);
/* The cache pmm_alloc and pmm_free use, or NULL: the home cache alone, the caller's with many. */
struct pmm_cache *cache_for_caller(struct pmm *p);
/* The pool ran short: say so to every cache (they give their pages back at their next call). */
void pool_short(struct pmm *p);

/* alloc.c: the boot phase's firmware claims. */
int fw_claim_run(struct pmm *p, uint64_t c, uint64_t n);
void fw_release_run(struct pmm *p, uint64_t c, uint64_t n);

/* own.c: ownership, for the calls that change it with no other CPU at work (and release_boot). */
/* Make [c, c + n) (one block) owned and free where `add` has bits, per word. */
void own_join(struct pmm *p, uint64_t b, const uint64_t add[8], int quiet);
/* Pages of block b with bits in `drop` (owned, free or allocated by us) leave the pool. */
void own_leave(struct pmm *p, uint64_t b, const uint64_t drop[8]);
/* Pages of block b with bits in `keep`: owned (joining if need be) and allocated, count 1. */
void own_keep(struct pmm *p, uint64_t b, const uint64_t keep[8]);

#endif
