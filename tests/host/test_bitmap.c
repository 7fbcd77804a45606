/*
 * test_bitmap.c - the summary-level bitmaps and the run search, against naive versions, at sizes
 * that are not multiples of 64 (SerenityOS once lost the tail bits of its last word).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rng.h"
#include "state.h"

HARNESS_GLOBALS

/* A bare state over host arrays (off = 0): free map and block map for nbits pages. */
static struct pmm *bare(uint64_t nbits)
{
    struct pmm *p = calloc(1, sizeof *p);
    p->span = nbits;
    /* every section present, in order: compact index = page (the searches still ask the slots) */
    p->nsec = p->nslots = (nbits + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT;
    p->cspan = p->nslots << PMM_SEC_SHIFT;
    uint32_t *sl = calloc(p->nslots, 4);
    for (uint64_t k = 0; k < p->nslots; k++)
        sl[k] = (uint32_t)k;
    p->slots_phys = p->sec_phys = (uint64_t)(uintptr_t)sl;
    struct pmm_hbits *maps[2] = {&p->freemap, &p->blkmap};
    uint64_t bits[2] = {nbits, nbits >> PMM_BLOCK_SHIFT};
    for (int m = 0; m < 2; m++) {
        maps[m]->nbits = bits[m];
        hb_words_for(bits[m], maps[m]->nwords, &maps[m]->nlevels);
        for (uint32_t k = 0; k < maps[m]->nlevels; k++)
            maps[m]->phys[k] = (uint64_t)(uintptr_t)calloc(maps[m]->nwords[k], 8);
    }
    fast_ptrs(p); /* as build does once the arrays are placed */
    return p;
}

/* The block map from scratch, for a free map the test wrote directly (build derives it from the
 * ranges; here every block is asked). */
static void blk_from_scratch(struct pmm *p)
{
    for (uint32_t k = 0; k < p->blkmap.nlevels; k++)
        memset(pmm_words(p, &p->blkmap, k), 0, p->blkmap.nwords[k] * 8);
    for (uint64_t b = 0; b < p->blkmap.nbits; b++)
        blk_note_full(p, b);
}

static void bare_free(struct pmm *p)
{
    free((void *)(uintptr_t)p->slots_phys);
    for (uint32_t k = 0; k < p->freemap.nlevels; k++)
        free((void *)(uintptr_t)p->freemap.phys[k]);
    for (uint32_t k = 0; k < p->blkmap.nlevels; k++)
        free((void *)(uintptr_t)p->blkmap.phys[k]);
    free(p);
}

static int naive_test(const struct pmm *p, uint64_t i)
{
    return bit_test(pmm_free_l0(p), i);
}

static uint64_t naive_next(const struct pmm *p, uint64_t from, uint64_t limit)
{
    for (uint64_t i = from; i < limit; i++)
        if (naive_test(p, i))
            return i;
    return PMM_NONE;
}

static uint64_t naive_run(const struct pmm *p, uint64_t n, uint64_t a, uint64_t lo, uint64_t hi)
{
    for (uint64_t s = (lo + a - 1) / a * a; s + n <= hi; s += a) {
        uint64_t i = 0;
        while (i < n && naive_test(p, s + i))
            i++;
        if (i == n)
            return s;
    }
    return PMM_NONE;
}

TEST(levels_for_sizes)
{
    uint64_t nw[PMM_LEVELS];
    uint32_t nl;
    CHECK_EQ(hb_words_for(1, nw, &nl), 1);
    CHECK_EQ(nl, 1);
    CHECK_EQ(hb_words_for(0, nw, &nl), 1);
    CHECK_EQ(hb_words_for(65, nw, &nl), 3);
    CHECK_EQ(nl, 2);
    CHECK_EQ(hb_words_for(64 * 64 + 1, nw, &nl), 65 + 2 + 1);
    CHECK_EQ(nl, 3);
    hb_words_for(1ull << 40, nw, &nl); /* 4 PiB of pages still fits the level array */
    CHECK(nl <= PMM_LEVELS);
}

TEST(bits_helpers_with_tails)
{
    static const uint64_t sizes[] = {1, 63, 64, 65, 127, 129, 1000, 4097};
    for (unsigned t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint64_t n = sizes[t], words = (n + 63) / 64;
        uint64_t *w = calloc(words, 8);
        char *ref = calloc(n, 1);
        for (int round = 0; round < 200; round++) {
            uint64_t a = rnd() % (n + 1), b = rnd() % (n + 1);
            if (a > b) {
                uint64_t x = a;
                a = b;
                b = x;
            }
            int v = (int)(rnd() & 1);
            bits_fill(w, a, b, v);
            memset(ref + a, v, b - a);
            uint64_t from = rnd() % (n + 1), cnt = 0, ns = PMM_NONE, nc = PMM_NONE;
            for (uint64_t i = from; i < n; i++) {
                cnt += (uint64_t)ref[i];
                if (ref[i] && ns == PMM_NONE)
                    ns = i;
                if (!ref[i] && nc == PMM_NONE)
                    nc = i;
            }
            CHECK_EQ(bits_count(w, from, n), cnt);
            CHECK_EQ(bits_next_set(w, from, n), ns);
            CHECK_EQ(bits_next_clear(w, from, n), nc);
        }
        /* nothing was written past the last bit's word */
        CHECK_EQ(bits_count(w, n, words * 64), 0);
        free(w);
        free(ref);
    }
}

TEST(next_set_through_levels)
{
    static const uint64_t sizes[] = {1, 64, 65, 4095, 4097, 300001};
    for (unsigned t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint64_t n = sizes[t];
        struct pmm *p = bare(n);
        for (int round = 0; round < 300; round++) {
            /* sparse changes so that whole words and whole summary words go empty */
            uint64_t a = rnd() % n, len = 1 + rnd() % (n / 8 + 1);
            fm_fill(p, a, a + len < n ? a + len : n, (int)(rnd() % 3 == 0));
            uint64_t from = rnd() % n, lim = from + rnd() % (n - from + 1);
            CHECK_EQ(hb_next_set(p, &p->freemap, from, lim), naive_next(p, from, lim));
            CHECK_EQ(hb_next_set(p, &p->freemap, from, n), naive_next(p, from, n));
        }
        /* incremental upkeep must equal a rebuild from scratch: every word of every level,
         * compared with a copy taken before the rebuild rewrites them */
        uint64_t differ = 0;
        for (uint32_t k = 1; k < p->freemap.nlevels; k++) {
            uint64_t nw = p->freemap.nwords[k], *copy = malloc(nw * 8);
            memcpy(copy, pmm_words(p, &p->freemap, k), nw * 8);
            hb_rebuild(p, &p->freemap);
            for (uint64_t j = 0; j < nw; j++)
                differ += copy[j] != pmm_words(p, &p->freemap, k)[j];
            free(copy);
        }
        CHECK_EQ(differ, 0);
        bare_free(p);
    }
}

TEST(run_search_matches_naive)
{
    static const uint64_t sizes[] = {700, 4100, 70000};
    for (unsigned t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint64_t n = sizes[t];
        struct pmm *p = bare(n);
        fm_fill(p, 0, n, 1);
        blk_from_scratch(p);
        for (int round = 0; round < 400; round++) {
            uint64_t a = rnd() % n, len = 1 + rnd() % 300;
            fm_fill(p, a, a + len < n ? a + len : n, (int)(rnd() % 2));
            uint64_t want = 1 + (rnd() % 4 == 0 ? rnd() % 1500 : rnd() % 70);
            uint64_t align = 1ull << (rnd() % 11);
            uint64_t lo = rnd() % 2 ? 0 : rnd() % n, hi = lo + rnd() % (n - lo + 1);
            CHECK_EQ(fm_find_run(p, want, align, lo, hi), naive_run(p, want, align, lo, hi));
        }
        bare_free(p);
    }
}

TEST(block_runs)
{
    /* 5 blocks and a tail; block 1 has a hole, so the first 2-block aligned run is blocks 2-3. */
    uint64_t n = 5 * 512 + 100;
    struct pmm *p = bare(n);
    fm_fill(p, 0, n, 1);
    blk_from_scratch(p);
    fm_fill(p, 512 + 7, 512 + 8, 0);
    CHECK_EQ(fm_find_run(p, 1024, 512, 0, n), 1024);
    CHECK_EQ(fm_find_run(p, 1024, 1024, 0, n), 1024);
    CHECK_EQ(fm_find_run(p, 512 + 100, 512, 4 * 512, n), 4 * 512); /* last block + tail */
    CHECK_EQ(fm_find_run(p, 512 + 101, 512, 4 * 512, n), PMM_NONE);
    CHECK_EQ(fm_find_run(p, 512, 512, 0, 512 + 511), 0);
    fm_fill(p, 3, 4, 0);
    CHECK_EQ(fm_find_run(p, 512, 512, 0, n), 1024);
    /* a hole in block 2 too: 1024-aligned candidates 0, 1024 fail, 2048 runs past the end */
    fm_fill(p, 1030, 1031, 0);
    CHECK_EQ(fm_find_run(p, 1024, 1024, 0, n), PMM_NONE);
    CHECK_EQ(fm_find_run(p, 1024, 512, 0, n), 1536);
    bare_free(p);
}

int main(void)
{
    RUN(levels_for_sizes);
    RUN(bits_helpers_with_tails);
    RUN(next_set_through_levels);
    RUN(run_search_matches_naive);
    RUN(block_runs);
    HARNESS_MAIN_END();
}
