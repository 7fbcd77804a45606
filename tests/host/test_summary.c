/*
 * test_summary.c - the one-sided summaries over blocks (pmm/summary.c, state.h): `avail` (count >
 * 0) and `whole` (count == 512), each a bitmap with levels above it.
 *
 * First over bare summaries on host arrays, at sizes that are not multiples of 64 and with up to
 * four levels: sum_next against a naive scan while blocks are set and cleared as the pool does;
 * stale bits at every level, which a search passes over and clears; sum_clear's clear-then-recheck
 * (and its accounting of clears in flight, which searches read); sum_set at every level, even
 * above a bit that is already set; pool_confirm, which rebuilds the answer from the counts. Then
 * on a real state: a search that came back empty while a clear was in flight confirms from the
 * counts, so a summary never causes a false PMM_ENOMEM.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pool.h"
#include "rng.h"

HARNESS_GLOBALS

/* A bare state over host arrays (off = 0): the counts and both summaries for nblocks blocks. */
static struct pmm *bare(uint64_t nblocks)
{
    struct pmm *p = calloc(1, sizeof *p);
    p->nblocks = nblocks;
    p->at.count = calloc(nblocks ? nblocks : 1, sizeof(uint16_t));
    struct pmm_sum *sums[2] = {&p->avail, &p->whole};
    for (int m = 0; m < 2; m++) {
        struct pmm_sum *s = sums[m];
        s->nbits = nblocks;
        CHECK(sum_geometry(nblocks, s->nwords, &s->nlevels));
        for (uint32_t k = 0; k < s->nlevels; k++)
            s->phys[k] = (uint64_t)(uintptr_t)calloc(s->nwords[k], 8);
    }
    return p;
}

static void bare_free(struct pmm *p)
{
    for (int m = 0; m < 2; m++) {
        const struct pmm_sum *s = m ? &p->whole : &p->avail;
        for (uint32_t k = 0; k < s->nlevels; k++)
            free((void *)(uintptr_t)s->phys[k]);
    }
    free(p->at.count);
    free(p);
}

static int bit(const struct pmm *p, const struct pmm_sum *s, uint32_t k, uint64_t i)
{
    return (sum_words(p, s, k)[i >> 6] >> (i & 63)) & 1;
}
static void put_bit(const struct pmm *p, const struct pmm_sum *s, uint32_t k, uint64_t i, int v)
{
    uint64_t *w = sum_words(p, s, k) + (i >> 6);
    *w = v ? *w | bit_mask(i) : *w & ~bit_mask(i);
}
/* A stale bit at level k (over an empty word), with its ancestors set as its setter left them. */
static void put_stale(const struct pmm *p, const struct pmm_sum *s, uint32_t k, uint64_t i)
{
    for (; k < s->nlevels; k++, i >>= 6)
        put_bit(p, s, k, i, 1);
}

/* The first block in [from, limit) whose level-0 bit is set (a stale one too), by brute force. */
static uint64_t naive_next(const struct pmm *p, const struct pmm_sum *s, uint64_t from,
                           uint64_t limit)
{
    for (uint64_t b = from; b < limit && b < s->nbits; b++)
        if (bit(p, s, 0, b))
            return b;
    return PMM_NONE;
}

/*
 * The one-sided rule above level 0: bit j of level k set wherever word j of level k - 1 is not
 * zero (exact: and only there), and nothing set past the words below. How many bits break it.
 */
static uint64_t level_errors(const struct pmm *p, const struct pmm_sum *s, int exact)
{
    uint64_t bad = 0;
    for (uint32_t k = 1; k < s->nlevels; k++) {
        const uint64_t *below = sum_words(p, s, k - 1);
        for (uint64_t j = 0; j < s->nwords[k] * 64; j++) {
            int nz = j < s->nwords[k - 1] && below[j];
            int b = bit(p, s, k, j);
            bad += (nz && !b) || (exact && b && !nz) || (j >= s->nwords[k - 1] && b);
        }
    }
    return bad;
}

/* The predicate of s from block b's count, as the pool reads it. */
static bool (*pred_of(const struct pmm *p, const struct pmm_sum *s))(const struct pmm *, uint64_t)
{
    return s == &p->whole ? blk_whole : blk_avail;
}

/* Block b's count becomes v; the summaries follow as the pool's givers and takers keep them. */
static void set_count(struct pmm *p, uint64_t b, uint16_t v, int clear_stale)
{
    uint16_t old = p->at.count[b];
    p->at.count[b] = v;
    if (!old && v)
        sum_set(p, &p->avail, b);
    if (v == PMM_BLOCK_PAGES && old != PMM_BLOCK_PAGES)
        sum_set(p, &p->whole, b);
    if (old == PMM_BLOCK_PAGES && v != PMM_BLOCK_PAGES) /* the taker clears its whole bit */
        sum_clear(p, &p->whole, b, blk_whole);
    if (!v && old && clear_stale) /* otherwise stale: a search clears it */
        sum_clear(p, &p->avail, b, blk_avail);
}

TEST(geometry_for_sizes)
{
    static const struct {
        uint64_t nbits;
        uint32_t levels;
        uint64_t words0, words1;
    } want[] = {
        {0, 1, 1, 0},
        {1, 1, 1, 0},
        {64, 1, 1, 0},
        {65, 2, 2, 1},
        {4096, 2, 64, 1},
        {4097, 3, 65, 2},
        {262145, 4, 4097, 65},
        {1ull << 38, 7, 1ull << 32, 1ull << 26},
        {1ull << 48, 8, 1ull << 42, 1ull << 36},
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t nw[PMM_LEVELS];
        uint32_t nl = 99;
        memset(nw, 0xff, sizeof nw);
        CHECK_EQ(sum_geometry(want[i].nbits, nw, &nl), 1);
        CHECK_EQ(nl, want[i].levels);
        CHECK_EQ(nw[0], want[i].words0);
        CHECK_EQ(nw[1], want[i].words1);
        CHECK_EQ(nw[nl - 1], 1);
        for (uint32_t k = nl; k < PMM_LEVELS; k++)
            CHECK_EQ(nw[k], 0); /* unused levels hold no words: the layout sizes them 0 */
    }
    /* one bit more than eight levels of 64 cover: refused, with nothing written past nwords[] */
    struct {
        uint64_t nw[PMM_LEVELS], canary;
    } box;
    memset(&box, 0, sizeof box);
    uint32_t nl = 99;
    CHECK_EQ(sum_geometry((1ull << 48) + 1, box.nw, &nl), 0);
    CHECK_EQ(box.canary, 0);
    CHECK_EQ(nl, 99);
    CHECK_EQ(sum_geometry(~0ull, box.nw, &nl), 0);
    CHECK_EQ(box.canary, 0);
}

/*
 * Counts change at random; the summaries follow as the pool keeps them, some level-0 bits left
 * stale. sum_next must give the first level-0 bit set in [from, limit), both summaries, and leave
 * the levels one-sided. At the end a sweep clears every stale bit above level 0 on its way, and
 * the levels are exactly what level 0 gives.
 */
TEST(next_matches_naive_while_counts_change)
{
    static const uint64_t sizes[] = {1, 63, 64, 65, 4095, 4097, 262145};
    for (unsigned t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint64_t n = sizes[t];
        for (int conc = 0; conc < 2; conc++) {
            struct pmm *p = bare(n);
            p->concurrent = (uint32_t)conc;
            uint64_t changes = n < 200 ? 200 : 3000;
            for (uint64_t round = 0; round < changes; round++) {
                /* runs of blocks change together, so that whole words and summary words empty */
                uint64_t b = rnd() % n, len = 1 + rnd() % (rnd() % 4 ? 4 : n / 16 + 1);
                uint16_t v = rnd() % 3 == 0 ? 0 : rnd() % 2 ? PMM_BLOCK_PAGES : 1 + rnd() % 511;
                for (uint64_t i = b; i < b + len && i < n; i++)
                    set_count(p, i, v, (int)(rnd() & 1));
                for (int m = 0; m < 2; m++) {
                    const struct pmm_sum *s = m ? &p->whole : &p->avail;
                    uint64_t from = rnd() % n, lim = from + rnd() % (n - from + 1);
                    CHECK_EQ(sum_next(p, s, from, lim), naive_next(p, s, from, lim));
                    CHECK_EQ(sum_next(p, s, from, n), naive_next(p, s, from, n));
                    CHECK_EQ(level_errors(p, s, 0), 0);
                }
            }
            for (int m = 0; m < 2; m++) {
                const struct pmm_sum *s = m ? &p->whole : &p->avail;
                /* every block whose predicate holds has its bit: the summary never says no
                 * wrongly */
                uint64_t missed = 0;
                for (uint64_t b = 0; b < n; b++)
                    missed += pred_of(p, s)(p, b) && !bit(p, s, 0, b);
                CHECK_EQ(missed, 0);
                /* a sweep finds every level-0 bit, in order, and nothing else */
                uint64_t found = 0, want = 0, order = 1;
                for (uint64_t b = 0, last = 0; (b = sum_next(p, s, b, n)) != PMM_NONE; b++) {
                    order &= !found || b > last;
                    found += bit(p, s, 0, b);
                    last = b;
                }
                for (uint64_t b = 0; b < n; b++)
                    want += bit(p, s, 0, b);
                CHECK_EQ(found, want);
                CHECK(order);
                CHECK_EQ(level_errors(p, s, 0), 0);
            }
            CHECK_EQ(p->clearing, 0);
            bare_free(p);
        }
    }
}

/*
 * A stale bit at each level above 0 (set over an empty word), in front of the one real block:
 * the search passes over it, clears it, and finds the block; a clear counts itself (concurrent
 * mode). A search climbs past the bit over the word it has just read, so the stale bits are put
 * at position 1 of each level, which a search from block 0 reads. A stale bit at level 0 is the
 * searches' to clear (sum_clear after reading the count).
 */
TEST(stale_bits_at_every_level)
{
    uint64_t n = 600000; /* four levels: 9375, 147, 3 and 1 words */
    for (int conc = 0; conc < 2; conc++) {
        struct pmm *p = bare(n);
        const struct pmm_sum *s = &p->avail;
        CHECK_EQ(s->nlevels, 4);
        p->concurrent = (uint32_t)conc;
        uint64_t real = 590000;
        set_count(p, real, 5, 1);
        CHECK_EQ(sum_next(p, s, 0, n), real);
        for (uint32_t k = 1; k < s->nlevels; k++) {
            /* bit 1 of level k: its subtree lies wholly before `real` */
            uint64_t j = 1, gen = p->clear_gen;
            CHECK(((j + 1) << (6 * k)) <= real);
            put_stale(p, s, k, j);
            CHECK(level_errors(p, s, 1) >= 1); /* stale, and allowed: one-sided */
            CHECK_EQ(level_errors(p, s, 0), 0);
            CHECK_EQ(sum_next(p, s, 0, n), real);
            CHECK_EQ(bit(p, s, k, j), 0); /* cleared on the way */
            CHECK_EQ(level_errors(p, s, 0), 0);
            CHECK_EQ(p->clear_gen, gen + (uint64_t)conc); /* counted, in concurrent mode only */
            CHECK_EQ(p->clearing, 0);
            /* stale bits at every level at once, the top one too */
            for (uint32_t kk = 1; kk < s->nlevels; kk++)
                put_stale(p, s, kk, 1);
            CHECK_EQ(sum_next(p, s, 0, n), real);
            for (uint32_t kk = 1; kk < s->nlevels; kk++)
                CHECK_EQ(bit(p, s, kk, 1), 0);
            CHECK_EQ(level_errors(p, s, 0), 0);
            /* a bound before the real block: nothing, whatever is stale in front of it */
            put_stale(p, s, k, 1);
            CHECK_EQ(sum_next(p, s, 0, real), PMM_NONE);
            CHECK_EQ(bit(p, s, k, 1), 0);
        }
        /* level 0: a bit set over a count of 0 is returned (sum_next reads no count); the search
         * that takes nothing there clears it, and the bit stays clear */
        put_stale(p, s, 0, 7); /* its ancestors as a setter left them */
        CHECK_EQ(sum_next(p, s, 0, n), 7);
        CHECK_EQ(sum_clear(p, s, 7, blk_avail), 0);
        CHECK_EQ(bit(p, s, 0, 7), 0);
        CHECK_EQ(sum_next(p, s, 0, n), real);
        CHECK_EQ(sum_next(p, s, real + 1, n), PMM_NONE);
        CHECK_EQ(level_errors(p, s, 0), 0);
        /* a block whose count is not 0 keeps its bit through a clear, at every level */
        CHECK_EQ(sum_clear(p, s, real, blk_avail), 1);
        for (uint32_t k = 0; k < s->nlevels; k++)
            CHECK_EQ(bit(p, s, k, real >> (6 * k)), 1);
        /* the last bits of the last words: a limit past nbits is clipped */
        set_count(p, n - 1, PMM_BLOCK_PAGES, 1);
        CHECK_EQ(sum_next(p, &p->whole, 0, ~0ull), n - 1);
        CHECK_EQ(sum_next(p, &p->whole, n, ~0ull), PMM_NONE);
        CHECK_EQ(sum_next(p, &p->whole, n - 1, n - 1), PMM_NONE);
        bare_free(p);
    }
}

/*
 * sum_clear clears, then rechecks: the predicate is asked with the bit already clear and the
 * clear counted as in flight, and if it holds the bit is set again at every level. A search that
 * began before (search_begin) learns that a clear overlapped it (search_missed).
 */
static struct pmm *probe_p;
static uint64_t probe_b;
static int probe_answer, probe_bit, probe_clearing, probe_missed;
static uint64_t probe_gen0;
static bool probe(const struct pmm *p, uint64_t b)
{
    probe_bit = bit(p, &p->avail, 0, b);
    probe_clearing = (int)p->clearing;
    probe_missed = search_missed(p, probe_gen0);
    CHECK(p == probe_p && b == probe_b);
    return probe_answer;
}

TEST(clear_then_recheck)
{
    uint64_t n = 5000; /* three levels */
    for (int conc = 0; conc < 2; conc++) {
        struct pmm *p = bare(n);
        p->concurrent = (uint32_t)conc;
        probe_p = p;
        for (int answer = 0; answer < 2; answer++) {
            uint64_t b = probe_b = 4321;
            set_count(p, b, 9, 1);
            /* a clear of the level-1 bit above it was in flight too: the recheck's set must go
             * up every level, not stop where it finds a bit */
            put_bit(p, &p->avail, 1, b >> 6, 0);
            probe_answer = answer;
            probe_gen0 = search_begin(p);
            CHECK_EQ(search_missed(p, probe_gen0), 0);
            uint64_t gen = p->clear_gen;
            CHECK_EQ(sum_clear(p, &p->avail, b, probe), answer);
            CHECK_EQ(probe_bit, 0);         /* asked after the clear */
            CHECK_EQ(probe_clearing, conc); /* ... counted as in flight */
            CHECK_EQ(probe_missed, conc);   /* ... which a search sees */
            CHECK_EQ(p->clearing, 0);
            CHECK_EQ(p->clear_gen, gen + (uint64_t)conc);
            CHECK_EQ(search_missed(p, probe_gen0), conc); /* and after it, by the generation */
            CHECK_EQ(bit(p, &p->avail, 0, b), answer);
            if (answer) {
                for (uint32_t k = 0; k < p->avail.nlevels; k++)
                    CHECK_EQ(bit(p, &p->avail, k, b >> (6 * k)), 1);
                CHECK_EQ(sum_next(p, &p->avail, 0, n), b);
            } else {
                CHECK_EQ(sum_next(p, &p->avail, 0, n), PMM_NONE);
            }
            CHECK_EQ(level_errors(p, &p->avail, 0), 0);
        }
        bare_free(p);
    }
}

/*
 * sum_set sets every level. With many CPUs it goes on even above a bit that is already set: a
 * clear of a higher bit may be in flight, and its recheck of the word below must then find this
 * one. With one CPU a set bit's ancestors are set (a clear above happens only over an empty word)
 * and it may stop at the first one that is.
 */
TEST(set_reaches_every_level)
{
    uint64_t n = 262145;
    struct pmm *p = bare(n);
    const struct pmm_sum *s = &p->whole;
    uint64_t b = 150000;
    for (int conc = 0; conc < 2; conc++) {
        p->concurrent = (uint32_t)conc;
        for (uint32_t k = 0; k < s->nlevels; k++)
            put_bit(p, s, k, b >> (6 * k), 0);
        sum_set(p, s, b);
        for (uint32_t k = 0; k < s->nlevels; k++)
            CHECK_EQ(bit(p, s, k, b >> (6 * k)), 1);
        CHECK_EQ(level_errors(p, s, 0), 0);
        /* a neighbour in the same level-0 word: nothing more to set */
        sum_set(p, s, b + 1);
        CHECK_EQ(bit(p, s, 0, b + 1), 1);
        CHECK_EQ(level_errors(p, s, 0), 0);
        put_bit(p, s, 0, b + 1, 0);
    }
    /* many CPUs: level 1's bit already set (by another block of its word), levels 2 and 3
     * cleared by a clear in flight: the set goes on up */
    p->concurrent = 1;
    for (uint32_t k = 0; k < s->nlevels; k++)
        put_bit(p, s, k, b >> (6 * k), 0);
    put_bit(p, s, 0, b + 1, 1);
    put_bit(p, s, 1, (b + 1) >> 6, 1);
    sum_set(p, s, b);
    for (uint32_t k = 0; k < s->nlevels; k++)
        CHECK_EQ(bit(p, s, k, b >> (6 * k)), 1);
    /* and level 0 already set with nothing above it */
    for (uint32_t k = 1; k < s->nlevels; k++)
        put_bit(p, s, k, b >> (6 * k), 0);
    sum_set(p, s, b);
    for (uint32_t k = 0; k < s->nlevels; k++)
        CHECK_EQ(bit(p, s, k, b >> (6 * k)), 1);
    CHECK_EQ(level_errors(p, s, 0), 0);
    CHECK_EQ(sum_next(p, s, 0, n), b);
    bare_free(p);
}

/*
 * whole_taken: the CPU that took a block's count from 512 clears its `whole` bit at level 0, and
 * sets it again (every level) if the count is back at 512 by the recheck; not counted as a clear
 * in flight, since only its own pages could make the block whole again.
 */
TEST(the_taker_clears_the_whole_bit)
{
    uint64_t n = 5000, b = 4321;
    for (int conc = 0; conc < 2; conc++) {
        struct pmm *p = bare(n);
        p->concurrent = (uint32_t)conc;
        set_count(p, b, PMM_BLOCK_PAGES, 1);
        CHECK_EQ(bit(p, &p->whole, 0, b), 1);
        uint64_t gen = p->clear_gen;
        p->at.count[b] = 300; /* taken: the count left 512 */
        whole_taken(p, b);
        CHECK_EQ(bit(p, &p->whole, 0, b), 0);
        CHECK_EQ(bit(p, &p->avail, 0, b), 1);
        CHECK_EQ(p->clear_gen, gen); /* not counted */
        CHECK_EQ(p->clearing, 0);
        CHECK_EQ(sum_next(p, &p->whole, 0, n), PMM_NONE);
        /* back at 512 by the recheck (the taker's pages came back): set again, every level, even
         * with the level above cleared meanwhile */
        set_count(p, b, PMM_BLOCK_PAGES, 1);
        put_bit(p, &p->whole, 1, b >> 6, 0);
        put_bit(p, &p->whole, 2, b >> 12, 0);
        gen = p->clear_gen;
        whole_taken(p, b);
        for (uint32_t k = 0; k < p->whole.nlevels; k++)
            CHECK_EQ(bit(p, &p->whole, k, b >> (6 * k)), 1);
        CHECK_EQ(sum_next(p, &p->whole, 0, n), b);
        CHECK_EQ(p->clear_gen, gen);
        bare_free(p);
    }
}

/*
 * sum_scrub clears every stale bit above level 0, at every level (bottom up, so that a word it
 * empties is seen above), and nothing else: level 0 and every bit over a word with bits stay.
 */
TEST(scrub_clears_every_stale_bit_above_level_0)
{
    uint64_t n = 600000;
    for (int conc = 0; conc < 2; conc++) {
        struct pmm *p = bare(n);
        p->concurrent = (uint32_t)conc;
        const struct pmm_sum *s = &p->avail;
        static const uint64_t real[] = {3, 4097, 300000, 599999};
        for (int i = 0; i < 4; i++)
            set_count(p, real[i], 7, 1);
        put_stale(p, s, 0, 77); /* stale at level 0 (count 0): the scrub leaves it */
        for (uint32_t k = 1; k < s->nlevels; k++) /* stale above, at every level */
            for (uint64_t j = 1; j < s->nwords[k - 1]; j += 5)
                if (!sum_words(p, s, k - 1)[j])
                    put_stale(p, s, k, j);
        CHECK(level_errors(p, s, 1) > 20);
        uint64_t gen = p->clear_gen;
        sum_scrub(p, s);
        CHECK_EQ(level_errors(p, s, 1), 0); /* exactly what level 0 gives */
        CHECK(p->clear_gen > gen || !conc);
        CHECK_EQ(p->clearing, 0);
        CHECK_EQ(bit(p, s, 0, 77), 1);
        uint64_t b = 0, found = 0;
        for (; (b = sum_next(p, s, b, n)) != PMM_NONE; b++)
            found++;
        CHECK_EQ(found, 5);
        bare_free(p);
    }
}

/*
 * pool_confirm: the answer from the counts, for blocks [from, limit) only, each found block's bit
 * set at every level; `whole` asks for 512, `avail` for anything.
 */
TEST(confirm_rebuilds_from_the_counts)
{
    uint64_t n = 9000;
    struct pmm *p = bare(n);
    static const uint64_t blocks[] = {0, 63, 64, 4095, 4096, 4097, 8999};
    static const uint16_t counts[] = {1, PMM_BLOCK_PAGES, 511, PMM_BLOCK_PAGES, 3, 0, 512};
    for (unsigned i = 0; i < 7; i++)
        p->at.count[blocks[i]] = counts[i]; /* written behind the summaries' back */
    CHECK_EQ(sum_next(p, &p->avail, 0, n), PMM_NONE);
    CHECK_EQ(pool_confirm(p, &p->avail, 64, 4097), 3); /* 64, 4095, 4096 */
    CHECK_EQ(bit(p, &p->avail, 0, 0), 0);
    CHECK_EQ(bit(p, &p->avail, 0, 63), 0);
    CHECK_EQ(bit(p, &p->avail, 0, 4097), 0);
    CHECK_EQ(bit(p, &p->avail, 0, 8999), 0);
    CHECK_EQ(sum_next(p, &p->avail, 0, n), 64);
    CHECK_EQ(sum_next(p, &p->avail, 65, n), 4095);
    CHECK_EQ(sum_next(p, &p->avail, 4096, n), 4096);
    CHECK_EQ(sum_next(p, &p->avail, 4097, n), PMM_NONE);
    CHECK_EQ(level_errors(p, &p->avail, 0), 0);
    CHECK_EQ(pool_confirm(p, &p->whole, 0, ~0ull), 3); /* 63, 4095, 8999; limit clipped */
    CHECK_EQ(sum_next(p, &p->whole, 0, n), 63);
    CHECK_EQ(sum_next(p, &p->whole, 64, n), 4095);
    CHECK_EQ(sum_next(p, &p->whole, 4096, n), 8999);
    CHECK_EQ(level_errors(p, &p->whole, 0), 0);
    CHECK_EQ(pool_confirm(p, &p->whole, 9000, ~0ull), 0);
    bare_free(p);
}

/*
 * On a real state: every block with free pages hidden from `avail` (and the wholly free ones from
 * `whole`), as a clear in flight on another CPU could hide them from a search. With the clear
 * counted as in flight, a search that finds nothing confirms from the counts: pmm_alloc and
 * pmm_alloc_run succeed. Nothing in flight and no block hidden: the summaries are trusted.
 */
TEST(an_empty_search_during_a_clear_confirms_from_the_counts)
{
    struct pmm *p;
    struct sim *s = small_machine(0, 64, 0, &p); /* [1 MiB, 65 MiB): 32 blocks, one word */
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    uint64_t x, y, z;
    for (int kind = 0; kind < 3; kind++) {
        const struct pmm_sum *sm = kind == 2 ? &p->whole : &p->avail;
        for (uint32_t k = 0; k < sm->nlevels; k++)
            memset(sum_words(p, sm, k), 0, sm->nwords[k] * 8);
        p->clearing = 1; /* another CPU's clear, between its clear and its recheck */
        if (kind == 0) {
            CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
            CHECK(x >= MIB);
        } else if (kind == 1) {
            CHECK_EQ(pmm_alloc_run(p, 3, PG, 0, &y), PMM_OK);
        } else {
            CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &z), PMM_OK);
        }
        p->clearing = 0;
        CHECK_OK(p); /* the confirmation set every bit the counts call for */
    }
    /* a clear that ended while the search ran: told by the generation, not by `clearing` */
    for (uint32_t k = 0; k < p->avail.nlevels; k++)
        memset(sum_words(p, &p->avail, k), 0, p->avail.nwords[k] * 8);
    uint64_t gen0 = search_begin(p);
    p->clear_gen++;
    CHECK(search_missed(p, gen0));
    uint64_t got[4];
    CHECK_EQ(pool_take(p, PMM_NODE_ANY, 0, 4, &p->cursor, got), 0); /* began after: trusted */
    uint64_t with_free = 0;
    for (uint64_t b = 0; b < p->nblocks; b++)
        with_free += p->at.count[b] != 0;
    CHECK(with_free >= 32);
    CHECK_EQ(pool_confirm(p, &p->avail, 0, p->nblocks), with_free);
    CHECK_OK(p);
    for (int i = 0; i < 4; i++)
        CHECK(pool_take(p, PMM_NODE_ANY, 0, 1, &p->cursor, &got[i]) == 1);
    CHECK_EQ(pmm_free(p, cpfn(p, got[0]) << PMM_PAGE_SHIFT), PMM_OK);
    CHECK_EQ(pmm_free(p, cpfn(p, got[1]) << PMM_PAGE_SHIFT), PMM_OK);
    CHECK_EQ(pmm_free_run(p, cpfn(p, got[2]) << PMM_PAGE_SHIFT, 1), PMM_OK);
    CHECK_EQ(pmm_free_run(p, cpfn(p, got[3]) << PMM_PAGE_SHIFT, 1), PMM_OK);
    CHECK_EQ(pmm_free(p, x), PMM_OK);
    CHECK_EQ(pmm_free_run(p, y, 3), PMM_OK);
    CHECK_EQ(pmm_free_run(p, z, 512), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.free, 64 * MIB / PG - st.meta);
    sim_free(s);
}

/*
 * A free that has completed is found, whatever another free of the same block is doing. Every
 * page taken; then giver G1 frees page A and is stopped between its add to the count (0 to 1) and
 * its set of the summary bit (the state is written here as G1 leaves it); giver G2 frees page B of
 * the same block, and its call returns. A search that begins now must find B (or A): pmm.h's
 * "no false out-of-memory" and summary.c's rule, "a block whose predicate held when the search
 * began, and that nobody took from since, has its bit set when the search reaches it".
 *
 * It failed while blk_unreserve left the bit to the giver that took the count from 0 only: G2
 * saw 1, returned without looking, and the search met a clear bit and no clear in flight.
 * test_explore (a taker, two givers) finds the same interleaving in the model.
 */
TEST(a_free_that_completed_is_found_while_another_is_under_way)
{
    struct pmm *p;
    struct sim *s = small_machine(0, 16, 0, &p);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    uint64_t x, a = 0, bpage = 0, n = 0;
    while (pmm_alloc(p, &x) == PMM_OK) { /* many CPUs, no cpu_self: straight from the pool */
        if (x / PG % 512 == 100)
            a = x;
        n++;
    }
    CHECK(a != 0);
    bpage = a + PG;
    CHECK_EQ(pmm_page_state(p, bpage / PG), PMM_PAGE_ALLOC);
    uint64_t ca = cidx(p, a / PG), b = ca >> PMM_BLOCK_SHIFT;
    CHECK_EQ(p->at.count[b], 0);
    /* no stale bit left to find: as after the searches that emptied it */
    sum_clear(p, &p->avail, b, blk_avail);
    CHECK_EQ(bit(p, &p->avail, 0, b), 0);
    /* G1: its bit set, its add done, stopped before sum_set */
    p->at.free[ca >> 6] |= bit_mask(ca);
    p->at.count[b] = 1;
    /* G2: a whole free of page B */
    CHECK_EQ(pmm_free(p, bpage), PMM_OK);
    CHECK_EQ(p->at.count[b], 2);
    /* the search, after G2's call returned */
    int rc = pmm_alloc(p, &x);
    CHECK_EQ(rc, PMM_OK);
    if (rc == PMM_OK)
        CHECK(x == a || x == bpage);
    /* G1 goes on: its sum_set */
    sum_set(p, &p->avail, b);
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(geometry_for_sizes);
    RUN(next_matches_naive_while_counts_change);
    RUN(stale_bits_at_every_level);
    RUN(clear_then_recheck);
    RUN(set_reaches_every_level);
    RUN(the_taker_clears_the_whole_bit);
    RUN(scrub_clears_every_stale_bit_above_level_0);
    RUN(confirm_rebuilds_from_the_counts);
    RUN(an_empty_search_during_a_clear_confirms_from_the_counts);
    RUN(a_free_that_completed_is_found_while_another_is_under_way);
    HARNESS_MAIN_END();
}
