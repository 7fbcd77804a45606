/*
 * own.c - which pages are the pool's: the block-level rewrites behind reconcile, release_boot,
 * keep_range and the boot phase's drops.
 *
 * These run with no other CPU in the allocator (pmm.h "Many CPUs"), but for release_boot, which
 * only adds pages: to a NONE block, which nobody else reads, by rewriting it whole before its
 * state and count say so; to a SOME block, with the same order a giver keeps (own bits, then
 * free bits, then the count).
 */
#include "pool.h"

static uint64_t pop8(const uint64_t w[8])
{
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n += popcount64(w[i]);
    return n;
}

/* Block b's own and free words as its state says (FRESH: all ones; NONE: none). */
static void blk_words(const struct pmm *p, uint64_t b, uint64_t own[8], uint64_t fr[8])
{
    for (int i = 0; i < 8; i++) {
        own[i] = own_view(p, (b << 3) + (uint64_t)i);
        fr[i] = free_view(p, (b << 3) + (uint64_t)i);
    }
}

/*
 * Rewrite block b with these own and free words (free implies own), choosing the cheapest state
 * that says it: FRESH for a wholly owned, wholly free block that never had its words written,
 * else ALL, SOME or NONE. Counts and summaries follow. The block's counts must be 0 for every
 * page that is free or not owned (state.h); a block that had no words gets them zeroed here.
 */
static void blk_write(struct pmm *p, uint64_t b, const uint64_t own[8], const uint64_t fr[8])
{
    unsigned old = own_of(p, b), st;
    uint64_t all_own = ~0ull, any_own = 0, all_free = ~0ull;
    for (int i = 0; i < 8; i++) {
        all_own &= own[i];
        any_own |= own[i];
        all_free &= fr[i];
    }
    int wordless = old == OWN_FRESH || old == OWN_NONE;
    if (all_own == ~0ull && all_free == ~0ull && wordless) {
        st = OWN_FRESH;
    } else {
        if (wordless) {
            pmm_memset(&p->at.refs[b << PMM_BLOCK_SHIFT], 0, PMM_BLOCK_PAGES * sizeof(uint16_t));
            uint64_t *mw = &p->at.marks[b >> 3], mm = 0xffull << ((b & 7) * 8);
            if (ld64(mw) & mm)
                and64_x(p, mw, ~mm);
        }
        for (int i = 0; i < 8; i++)
            st64(&p->at.free[(b << 3) + (uint64_t)i], fr[i]);
        if (all_own == ~0ull) {
            st = OWN_ALL;
        } else if (!any_own) {
            st = OWN_NONE;
        } else {
            for (int i = 0; i < 8; i++)
                st64(&p->at.ownw[(b << 3) + (uint64_t)i], own[i]);
            st = OWN_SOME;
        }
    }
    uint64_t c0 = count_of(p, b), c1 = pop8(fr);
    __atomic_store_n(&p->at.own[b], (uint8_t)st, __ATOMIC_RELEASE);
    __atomic_store_n(&p->at.count[b], (uint16_t)c1, __ATOMIC_RELEASE);
    if (c1)
        sum_set(p, &p->avail, b);
    else if (c0)
        sum_clear(p, &p->avail, b, blk_avail);
    if (c1 == PMM_BLOCK_PAGES)
        sum_set(p, &p->whole, b);
    else if (c0 == PMM_BLOCK_PAGES)
        sum_clear(p, &p->whole, b, blk_whole);
}

static void owned_add(struct pmm *p, uint64_t n)
{
    if (p->concurrent)
        __atomic_fetch_add(&p->owned, n, __ATOMIC_RELAXED);
    else
        p->owned += n;
}

void own_join(struct pmm *p, uint64_t b, const uint64_t add[8], int quiet)
{
    uint64_t own[8], fr[8], n = pop8(add);
    if (!n)
        return;
    unsigned o = own_of(p, b);
    if (o == OWN_FRESH || o == OWN_ALL)
        return; /* every page is owned already: the caller asks only for pages that are not */
    if (o == OWN_NONE || quiet) {
        blk_words(p, b, own, fr);
        for (int i = 0; i < 8; i++)
            own[i] |= add[i], fr[i] |= add[i];
        blk_write(p, b, own, fr);
    } else { /* SOME, with other CPUs at work: own bits, free bits, then the count */
        uint64_t all = ~0ull;
        for (int i = 0; i < 8; i++)
            all &= or64_x(p, &p->at.ownw[(b << 3) + (uint64_t)i], add[i]) | add[i];
        for (int i = 0; i < 8; i++)
            if (add[i])
                or64_x(p, &p->at.free[(b << 3) + (uint64_t)i], add[i]);
        if (all == ~0ull)
            __atomic_store_n(&p->at.own[b], (uint8_t)OWN_ALL, __ATOMIC_RELEASE);
        blk_unreserve(p, b, n);
    }
    owned_add(p, n);
}

void own_leave(struct pmm *p, uint64_t b, const uint64_t drop[8])
{
    uint64_t own[8], fr[8], n = 0;
    blk_words(p, b, own, fr);
    for (int i = 0; i < 8; i++) {
        n += popcount64(own[i] & drop[i]);
        own[i] &= ~drop[i];
        fr[i] &= ~drop[i];
    }
    if (!n)
        return;
    blk_write(p, b, own, fr);
    p->owned -= n;
}

void own_keep(struct pmm *p, uint64_t b, const uint64_t keep[8])
{
    uint64_t own[8], fr[8], joined = 0, taken = 0;
    blk_words(p, b, own, fr);
    for (int i = 0; i < 8; i++) {
        joined += popcount64(keep[i] & ~own[i]);
        taken += popcount64(keep[i] & fr[i]);
        own[i] |= keep[i];
        fr[i] &= ~keep[i];
    }
    if (!joined && !taken)
        return;
    blk_write(p, b, own, fr);
    p->owned += joined;
}
