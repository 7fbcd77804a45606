/*
 * pool.c - the shared pool: reserving from a block's count, claiming and giving bits.
 *
 * Reserve, then claim (state.h): a taker takes from count[b] with a compare-and-swap, which
 * entitles it to that many free bits of block b, and then clears bits with a compare-and-swap on
 * their words; a giver sets its bits, then adds to the count. The count is never more than the
 * free bits nobody is entitled to, so a claim always finds its bits: nobody waits for anybody,
 * and a failed compare-and-swap means another CPU's step went through.
 */
#include "pool.h"

uint64_t blk_reserve(struct pmm *p, uint64_t b, uint64_t want, uint64_t min)
{
    uint16_t *cnt = &p->at.count[b], c = (uint16_t)count_of(p, b);
    for (;;) {
        if (!c || c < min)
            return 0;
        uint16_t take = c < want ? c : (uint16_t)want;
        if (cas16_x(p, cnt, &c, (uint16_t)(c - take))) {
            if (c == PMM_BLOCK_PAGES) /* no longer wholly free: the taker clears its bit */
                whole_taken(p, b);
            return take;
        }
    }
}

/*
 * Every giver makes sure of the `avail` bit, not only the one that took the count from 0: that
 * one may be stopped between its add and its set while another giver's free completes, and a
 * search would then miss a block with a completed free in it (found by tests/host/test_explore).
 * sum_set costs a load per level when the bits are there. Only the giver that makes the count
 * 512 can make the block whole, so `whole` needs no such care.
 */
void blk_unreserve(struct pmm *p, uint64_t b, uint64_t n)
{
    uint64_t old = add16_x(p, &p->at.count[b], (uint16_t)n);
    if (n)
        sum_set(p, &p->avail, b);
    if (old + n == PMM_BLOCK_PAGES)
        sum_set(p, &p->whole, b);
}

/* The 8 marks of block b (its 64-page groups) cleared: the caller holds all of its pages. */
static void marks_clear_block(struct pmm *p, uint64_t b)
{
    uint64_t *w = &p->at.marks[b >> 3], m = 0xffull << ((b & 7) * 8);
    if (ld64(w) & m)
        and64_x(p, w, ~m);
}

void fresh_open(struct pmm *p, uint64_t b)
{
    if (own_of(p, b) != OWN_FRESH)
        return; /* opened by somebody else, whose pages have come back since */
    uint64_t *w = &p->at.free[b << 3];
    for (int i = 0; i < 8; i++)
        st64(&w[i], ~0ull);
    pmm_memset(&p->at.refs[b << PMM_BLOCK_SHIFT], 0, PMM_BLOCK_PAGES * sizeof(uint16_t));
    marks_clear_block(p, b);
    __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE); /* words before the state */
}

/* The lowest k set bits of v (all of them if it has no more). */
static uint64_t low_bits(uint64_t v, uint64_t k)
{
    if (popcount64(v) <= k)
        return v;
    uint64_t m = 0;
    for (; k; k--) {
        uint64_t lb = v & (~v + 1);
        m |= lb;
        v ^= lb;
    }
    return m;
}

uint64_t claim_any(struct pmm *p, uint64_t b, uint64_t k, uint64_t from, uint64_t *out)
{
    uint64_t *w = &p->at.free[b << 3], got = 0;
    /*
     * A pass that sees no free bit at all, while the reservation says there are some, means that
     * other takers and givers moved bits under it; thousands in a row mean a corrupt state. With
     * part of the block out of bounds (from), the bits may all be below it: one pass settles it.
     */
    uint32_t passes = from > b << PMM_BLOCK_SHIFT ? 1 : PMM_CLAIM_PASSES;
    for (uint32_t empty = 0; got < k && empty < passes;) {
        int seen = 0;
        for (int i = 0; i < 8 && got < k; i++) {
            uint64_t base = ((b << 3) + (uint64_t)i) << 6, lim = 0;
            if (from > base)
                lim = from - base >= 64 ? ~0ull : (1ull << (from - base)) - 1;
            uint64_t v = ld64(&w[i]);
            while ((v & ~lim) && got < k) {
                seen = 1;
                uint64_t m = low_bits(v & ~lim, k - got);
                if (cas64_x(p, &w[i], &v, v & ~m)) {
                    for (; m; m &= m - 1)
                        out[got++] = base | (uint64_t)__builtin_ctzll(m);
                    v = ld64(&w[i]);
                }
            }
        }
        empty = seen ? 0 : empty + 1;
    }
    return got;
}

int take_whole(struct pmm *p, uint64_t b)
{
    uint64_t *w = &p->at.free[b << 3];
    /* The block's words and marks are lines of their own, rarely in cache: ask for them while
     * the count is taken. */
    __builtin_prefetch(w, 1);
    __builtin_prefetch(&p->at.marks[b >> 3], 0);
    if (!blk_reserve(p, b, PMM_BLOCK_PAGES, PMM_BLOCK_PAGES))
        return 0;
    if (own_of(p, b) == OWN_FRESH) { /* taken whole: written straight as allocated */
        pmm_memset(&p->at.refs[b << PMM_BLOCK_SHIFT], 0, PMM_BLOCK_PAGES * sizeof(uint16_t));
        for (int i = 0; i < 8; i++)
            st64(&w[i], 0);
        marks_clear_block(p, b);
        __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE);
        return 1;
    }
    /* All 512 bits are ours: nobody else holds a reservation here, so plain stores do. */
    for (int i = 0; i < 8; i++)
        st64(&w[i], 0);
    marks_clear_block(p, b);
    return 1;
}

/*
 * Claim exactly the bits m of word wi, which the caller reserved from its block: 1, or 0 with the
 * word as it was if one of them is not free.
 */
static int claim_word(struct pmm *p, uint64_t wi, uint64_t m)
{
    uint64_t *w = &p->at.free[wi], v = ld64(w);
    do {
        if ((v & m) != m)
            return 0;
    } while (!cas64_x(p, w, &v, v & ~m));
    return 1;
}

/* Undo a partial claim: the bits of [c, e), within one block, set again. */
static void unclaim_bits(struct pmm *p, uint64_t c, uint64_t e)
{
    for (uint64_t i = c; i < e; i = (i | 63) + 1)
        or64_x(p, &p->at.free[i >> 6], word_mask(i, e));
}

/* [c, e) inside block b: reserve it and claim its bits. 1, or 0 with nothing changed. */
static int claim_in_block(struct pmm *p, uint64_t c, uint64_t e)
{
    uint64_t b = c >> PMM_BLOCK_SHIFT, n = e - c;
    if (n == PMM_BLOCK_PAGES)
        return take_whole(p, b);
    unsigned o = own_of(p, b);
    if (o == OWN_NONE)
        return 0;
    if (o == OWN_FRESH) { /* open it (take it whole, write it free, give it back), then claim */
        if (!blk_reserve(p, b, PMM_BLOCK_PAGES, PMM_BLOCK_PAGES)) {
            if (own_of(p, b) == OWN_FRESH)
                return 0; /* somebody else holds it whole */
        } else {
            fresh_open(p, b);
            blk_unreserve(p, b, PMM_BLOCK_PAGES);
        }
    }
    if (!blk_reserve(p, b, n, n))
        return 0;
    for (uint64_t i = c; i < e; i = (i | 63) + 1) {
        if (!claim_word(p, i >> 6, word_mask(i, e))) {
            unclaim_bits(p, c, i);
            blk_unreserve(p, b, n);
            return 0;
        }
    }
    return 1;
}

int claim_exact(struct pmm *p, uint64_t c, uint64_t n)
{
    uint64_t end = c + n;
    for (uint64_t i = c; i < end;) {
        uint64_t e = ((i >> PMM_BLOCK_SHIFT) + 1) << PMM_BLOCK_SHIFT;
        if (e > end)
            e = end;
        if (!claim_in_block(p, i, e)) {
            if (i > c)
                give_run(p, c, i - c);
            return 0;
        }
        i = e;
    }
    return 1;
}

void give_run(struct pmm *p, uint64_t c, uint64_t n)
{
    uint64_t end = c + n;
    while (c < end) {
        uint64_t b = c >> PMM_BLOCK_SHIFT, e = (b + 1) << PMM_BLOCK_SHIFT;
        if (e > end)
            e = end;
        for (uint64_t i = c; i < e; i = (i | 63) + 1) {
            uint64_t m = word_mask(i, e);
            if (m == ~0ull) /* the whole word is ours: no taker can be claiming from it */
                st64(&p->at.free[i >> 6], ~0ull);
            else
                or64_x(p, &p->at.free[i >> 6], m);
        }
        blk_unreserve(p, b, e - c);
        c = e;
    }
}

int give_one(struct pmm *p, uint64_t c)
{
    uint64_t m = bit_mask(c);
    if (or64_x(p, &p->at.free[c >> 6], m) & m)
        return PMM_EDOUBLE; /* two frees raced: the second one set nothing */
    blk_unreserve(p, c >> PMM_BLOCK_SHIFT, 1);
    return PMM_OK;
}

void marks_clear(struct pmm *p, uint64_t c, uint64_t n)
{
    uint64_t g = (c + 63) >> 6, g1 = (c + n) >> 6;
    while (g < g1) {
        uint64_t m = word_mask(g, g1), *w = &p->at.marks[g >> 6];
        if (ld64(w) & m)
            and64_x(p, w, ~m);
        g = (g | 63) + 1;
    }
}
