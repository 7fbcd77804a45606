/*
 * summary.c - the one-sided summaries over blocks (state.h): `avail` (count > 0) and `whole`
 * (count == 512), and how they stay right while CPUs set, clear and search them at once.
 *
 * The rule every search relies on: a block whose predicate held when the search began, and that
 * nobody took from since, has its bit set at every level when the search reaches it. Three
 * moves keep it:
 *
 *  - set (sum_set): whoever makes the predicate true sets the block's bit at every level, after
 *    its count changed. Every level, even above a bit that is already set: a concurrent clear of
 *    that higher bit rechecks the word below it, and finds this one.
 *  - clear (sum_clear, and stale higher bits met by sum_next): clear, then recheck the predicate
 *    (or the word below) and set again if it holds. A search passing between the clear and the
 *    set again misses the block; so a clear counts itself in `clearing` while it is in flight and
 *    in `clear_gen` when it is done, and a search that finds nothing checks both (pool.h
 *    search_missed) and, if a clear overlapped it, confirms from the counts (pool_confirm). One
 *    clear needs no counting: the taker's of a `whole` bit at level 0 (whole_taken), which only
 *    that taker's own pages could make wrong, and they are not back before its call returns. So
 *    the global counters see stale-bit clean-up, not every 2 MiB allocation.
 *  - with one CPU (p->concurrent clear) none of this can interleave, and none of it is counted.
 *
 * In the C11 model the set's count update, its loads of the summary words, the clear's and/or and
 * its recheck load are all sequentially consistent: a clear either sees the setter's count or the
 * setter sees the clear (the store-load pattern that needs a full fence on x86 too).
 */
#include "pool.h"

static inline uint64_t ld_sc(const struct pmm *p, const uint64_t *w)
{
    return p->concurrent ? __atomic_load_n(w, __ATOMIC_SEQ_CST) : ld64(w);
}
static inline void or_sc(const struct pmm *p, uint64_t *w, uint64_t m)
{
    if (p->concurrent)
        __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST);
    else
        st64(w, ld64(w) | m);
}
static inline void and_sc(const struct pmm *p, uint64_t *w, uint64_t m)
{
    if (p->concurrent)
        __atomic_fetch_and(w, m, __ATOMIC_SEQ_CST);
    else
        st64(w, ld64(w) & m);
}

bool blk_avail(const struct pmm *p, uint64_t b)
{
    return (p->concurrent ? __atomic_load_n(&p->at.count[b], __ATOMIC_SEQ_CST)
                          : ld16(&p->at.count[b])) != 0;
}
bool blk_whole(const struct pmm *p, uint64_t b)
{
    return (p->concurrent ? __atomic_load_n(&p->at.count[b], __ATOMIC_SEQ_CST)
                          : ld16(&p->at.count[b])) == PMM_BLOCK_PAGES;
}

/*
 * Bit i of level k and its ancestors, each set unless it already is. With one CPU a set bit's
 * ancestors are set (a clear above happens only over an empty word), so the walk stops at the
 * first bit that is; with several, a clear of an ancestor may be under way, and it goes on.
 */
static void set_from(const struct pmm *p, const struct pmm_sum *s, uint32_t k, uint64_t i)
{
    for (; k < s->nlevels; k++, i >>= 6) {
        uint64_t *w = sum_words(p, s, k) + (i >> 6), m = bit_mask(i);
        if (!(ld_sc(p, w) & m))
            or_sc(p, w, m);
        else if (!p->concurrent)
            return;
    }
}

void sum_set(const struct pmm *p, const struct pmm_sum *s, uint64_t b)
{
    set_from(p, s, 0, b);
}

static void clear_begin(struct pmm *p)
{
    if (p->concurrent)
        __atomic_fetch_add(&p->clearing, 1, __ATOMIC_SEQ_CST);
}
static void clear_end(struct pmm *p)
{
    if (p->concurrent) {
        __atomic_fetch_add(&p->clear_gen, 1, __ATOMIC_SEQ_CST);
        __atomic_fetch_sub(&p->clearing, 1, __ATOMIC_SEQ_CST);
    }
}

bool sum_clear(struct pmm *p, const struct pmm_sum *s, uint64_t b,
               bool (*still)(const struct pmm *, uint64_t))
{
    clear_begin(p);
    and_sc(p, sum_words(p, s, 0) + (b >> 6), ~bit_mask(b));
    bool again = still(p, b);
    if (again)
        set_from(p, s, 0, b);
    clear_end(p);
    return again;
}

/*
 * The taker that took block b's count from 512 clears its `whole` bit. Nothing can make the
 * block wholly free again but pages this taker has not handed out yet, so no completed free can
 * hide in the moment between the clear and the recheck: this clear is not counted.
 */
void whole_taken(struct pmm *p, uint64_t b)
{
    and_sc(p, sum_words(p, &p->whole, 0) + (b >> 6), ~bit_mask(b));
    if (blk_whole(p, b))
        set_from(p, &p->whole, 0, b);
}

/* Bit i of level k (k >= 1) was set over an empty word: clear it unless the word filled again. */
static void clear_stale(struct pmm *p, const struct pmm_sum *s, uint32_t k, uint64_t i)
{
    clear_begin(p);
    and_sc(p, sum_words(p, s, k) + (i >> 6), ~bit_mask(i));
    if (ld_sc(p, sum_words(p, s, k - 1) + i))
        set_from(p, s, k, i);
    clear_end(p);
}

/*
 * Climb from `from` until a level has a set bit at or after the position, then descend along
 * the first set bits. A set bit over an empty word is stale: it is cleared on the way and the
 * search moves past it, so every step moves forward and the walk ends.
 */
uint64_t sum_next(struct pmm *p, const struct pmm_sum *s, uint64_t from, uint64_t limit)
{
    if (limit > s->nbits)
        limit = s->nbits;
    if (from >= limit)
        return PMM_NONE;
    uint64_t i = from;
    uint32_t k = 0;
    for (;;) {
        if ((i >> 6) >= s->nwords[k])
            return PMM_NONE;
        uint64_t v = ld_sc(p, sum_words(p, s, k) + (i >> 6)) & (~0ull << (i & 63));
        if (!v) { /* nothing left in this word: one level up, the next word's bit */
            if (k + 1 == s->nlevels)
                return PMM_NONE;
            i = (i >> 6) + 1;
            k++;
            if (i << (6 * k) >= limit)
                return PMM_NONE;
            continue;
        }
        i = (i & ~63ull) | (uint64_t)__builtin_ctzll(v);
        if (k == 0)
            return i < limit ? i : PMM_NONE;
        if (i << (6 * k) >= limit)
            return PMM_NONE;
        if (!ld_sc(p, sum_words(p, s, k - 1) + i)) {
            clear_stale(p, s, k, i);
            i++;
            if (i << (6 * k) >= limit)
                return PMM_NONE;
            continue;
        }
        k--;
        i <<= 6;
    }
}

void sum_scrub(struct pmm *p, const struct pmm_sum *s)
{
    for (uint32_t k = 1; k < s->nlevels; k++) { /* bottom up: a word emptied here is seen above */
        const uint64_t *below = sum_words(p, s, k - 1);
        for (uint64_t j = 0; j < s->nwords[k]; j++)
            for (uint64_t x = ld_sc(p, sum_words(p, s, k) + j); x; x &= x - 1) {
                uint64_t i = (j << 6) | (uint64_t)__builtin_ctzll(x);
                if (i < s->nwords[k - 1] && !ld_sc(p, &below[i]))
                    clear_stale(p, s, k, i);
            }
    }
}

uint64_t pool_confirm(struct pmm *p, const struct pmm_sum *s, uint64_t from, uint64_t limit)
{
    bool (*pred)(const struct pmm *, uint64_t) = s == &p->whole ? blk_whole : blk_avail;
    uint64_t found = 0;
    if (limit > s->nbits)
        limit = s->nbits;
    for (uint64_t b = from; b < limit; b++) {
        if (pred(p, b)) {
            set_from(p, s, 0, b);
            found++;
        }
    }
    return found;
}
