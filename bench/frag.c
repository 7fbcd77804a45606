/*
 * frag.c - `make bench`'s 2 MiB runs (512 pages, 2 MiB aligned, no limit: a kernel's huge page),
 * ours next to the buddy (order 9) and the LLFree-style baseline (llf_alloc_huge), each started
 * from the very pages ours has free (peers_init), on a 64 GiB machine.
 *
 *  runs_512_aligned_2m_fragmented_64g  every 2 MiB block has one page in use except one in ten;
 *                       allocate every whole block (and first-fit's first 200)
 *  run_pair_512_aligned_2m / page_pair  alloc+free pairs, half the blocks in use or none
 *  run_fail_seventh_64g  every 7th page held (pfn % 7 == 0): no whole block anywhere; one
 *                       attempt that must fail, ns per attempt
 *  run_sweep_seventh_b16_64g  the same, but every 16th block (index 0 mod 16) entirely free:
 *                       allocate every whole block, then free them all, ns per alloc / free
 *  run_sweep_seventh_b16_r16_64g  and also every 16th 16 MiB region (index 9 mod 16, so that it
 *                       holds none of the blocks above) entirely free: the same sweep
 *
 * In the sweeps more than 2,000 blocks are in flight at once, far more than a free-block cache
 * holds: the case of a kernel backing a VM or a file cache with huge pages.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "rng.h"

#define BLOCK 512 /* pages in 2 MiB */

static int run2m(struct pmm *p, uint64_t *phys)
{
    return pmm_alloc_run(p, BLOCK, 2 * MIB, 0, phys);
}

/*
 * 512-page runs aligned to 2 MiB on a fragmented 64 GiB: every 2 MiB block has one page in use,
 * except one block in ten, which is entirely free.
 */
void bench_runs(void)
{
    const uint64_t ram = 64 * GIB;
    struct sim *s = machine(ram);
    struct pmm *p = built(s);
    uint64_t cap = ram / (2 * MIB), nb = 0, x;
    uint64_t *blk = malloc(cap * sizeof *blk);
    while (nb < cap && run2m(p, &blk[nb]) == PMM_OK)
        nb++;
    uint64_t nfree = 0;
    for (uint64_t i = 0; i < nb; i++) {
        if (rnd() % 10 == 0) {
            pmm_free_run(p, blk[i], BLOCK);
            nfree++;
        } else {
            uint64_t keep = rnd() % BLOCK;
            if (keep)
                pmm_free_run(p, blk[i], keep);
            if (keep < BLOCK - 1)
                pmm_free_run(p, blk[i] + (keep + 1) * PG, BLOCK - 1 - keep);
        }
    }
    struct peers pe;
    peers_init(&pe, p, s->bytes / PG, 1);
    uint64_t *got = malloc((nfree + 1) * sizeof *got);
    double t[3][RUNS];
    uint64_t n = 0;
    for (int r = 0; r < RUNS; r++) {
        for (int k = 0; k < 3; k++) { /* the sweep ends at the first failure, which it counts */
            n = 0;
            double t0 = now_ns();
            if (k == 0)
                while (run2m(p, &x) == PMM_OK)
                    got[n++] = x;
            else if (k == 1)
                while ((x = buddy_alloc(&pe.b, 9)) != ~0ull)
                    got[n++] = x;
            else
                while (llf_alloc_huge(&pe.l, 0, &x) == 0)
                    got[n++] = x;
            t[k][r] = (now_ns() - t0) / (double)(n + 1);
            for (uint64_t i = 0; i < n; i++)
                if (k == 0)
                    pmm_free_run(p, got[i], BLOCK);
                else if (k == 1)
                    buddy_free(&pe.b, got[i], 9);
                else
                    llf_free_huge(&pe.l, 0, got[i]);
        }
    }
    double ours = median(t[0], RUNS);

    /* first-fit over the same pattern; it scans from page 0 each time, so it does the first 200 */
    const uint64_t npages = s->bytes / PG;
    struct ff f;
    ff_init(&f, npages, 0, 0);
    for (uint64_t pfn = 0; pfn < npages; pfn++)
        if (pmm_page_state(p, pfn) == PMM_PAGE_FREE)
            ff_free(&f, pfn, 1);
    const uint64_t fn = 200 < n ? 200 : n;
    double t0 = now_ns();
    for (uint64_t i = 0; i < fn; i++)
        ff_alloc_run(&f, BLOCK, BLOCK);
    double ff = (now_ns() - t0) / (double)fn;
    ff_destroy(&f);
    peers_destroy(&pe);
    free(blk);
    free(got);
    sim_free(s);
    printf("bench runs_512_aligned_2m_fragmented_64g runs=%llu pmm_us=%.3f buddy_us=%.3f "
           "llfree_us=%.3f buddy_over_pmm=%.2f llfree_over_pmm=%.2f firstfit_us=%.1f (first %llu) "
           "firstfit_over_pmm=%.0fx freelist=n/a(no runs)\n",
           (unsigned long long)n, ours / 1e3, median(t[1], RUNS) / 1e3, median(t[2], RUNS) / 1e3,
           median_ratio(t[1], t[0], RUNS), median_ratio(t[2], t[0], RUNS), ff / 1e3,
           (unsigned long long)fn, ff / ours);
}

/*
 * Alloc+free pairs of one 512-page 2 MiB-aligned run, and of one page, against the binary buddy
 * and llfree on a 64 GiB machine, in two states: every other 2 MiB block in use (the buddy's best
 * case: its order-9 list is never empty, nothing splits or merges), and empty (the buddy splits a
 * 1 GiB block on every allocation and merges it back on every free). The allocators' runs take
 * turns, so that a slower stretch of the host lands on all, and a ratio is the median of the
 * per-turn ratios. The buddy lays out its own blocks the same way; llfree starts from ours' free
 * pages.
 */
void bench_run_pairs(int half_used)
{
    const uint64_t ram = 64 * GIB, pairs = 1000000, lpairs = 200000;
    struct sim *s = machine(ram);
    struct pmm *p = built(s);
    uint64_t cap = ram / (2 * MIB), nb = 0, x;
    uint64_t *blk = malloc(cap * sizeof *blk);
    while (half_used && nb < cap && run2m(p, &blk[nb]) == PMM_OK)
        nb++;
    for (uint64_t i = 0; i < nb; i += 2)
        pmm_free_run(p, blk[i], BLOCK);
    struct peers pe;
    peers_init(&pe, p, s->bytes / PG, 1);

    const uint64_t npages = (ram + 2 * GIB) / PG;
    struct buddy b;
    /* Empty: free memory from 1 GiB, so that all of it is 1 GiB blocks and an order-9 request
     * splits one; from 1 MiB, the unaligned start would leave an order-9 block at 2 MiB to pop. */
    buddy_init(&b, npages, half_used ? MIB / PG : GIB / PG, npages);
    uint64_t *bb = malloc(cap * sizeof *bb), nbb = 0;
    while (half_used && nbb < cap && (bb[nbb] = buddy_alloc(&b, 9)) != ~0ull)
        nbb++;
    for (uint64_t i = 0; i < nbb; i += 2)
        buddy_free(&b, bb[i], 9);

    /* pmm run, buddy run, llfree run, pmm page, buddy page, llfree page */
    double t[6][RUNS], ratio[4][RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            run2m(p, &x);
            pmm_free_run(p, x, BLOCK);
        }
        double t1 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            buddy_free(&b, buddy_alloc(&b, 9), 9);
        double t2 = now_ns();
        for (uint64_t i = 0; i < lpairs; i++)
            if (llf_alloc_huge(&pe.l, 0, &x) || llf_free_huge(&pe.l, 0, x))
                die("run pairs: llfree failed");
        double t3 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_alloc(p, &x);
            pmm_free(p, x);
        }
        double t4 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            buddy_free(&b, buddy_alloc(&b, 0), 0);
        double t5 = now_ns();
        for (uint64_t i = 0; i < lpairs; i++)
            if (llf_alloc(&pe.l, 0, &x) || llf_free(&pe.l, 0, x))
                die("page pairs: llfree failed");
        double t6 = now_ns(), at[7] = {t0, t1, t2, t3, t4, t5, t6};
        for (int k = 0; k < 6; k++)
            t[k][r] = (at[k + 1] - at[k]) / (double)(k % 3 == 2 ? lpairs : pairs);
        ratio[0][r] = t[0][r] / t[1][r];
        ratio[1][r] = t[0][r] / t[2][r];
        ratio[2][r] = t[3][r] / t[4][r];
        ratio[3][r] = t[3][r] / t[5][r];
    }
    sim_free(s);
    buddy_destroy(&b);
    peers_destroy(&pe);
    free(bb);
    free(blk);
    const char *state = half_used ? "half_blocks_used" : "empty";
    printf("bench run_pair_512_aligned_2m ram_gib=64 %s pmm_ns=%.1f buddy_ns=%.1f llfree_ns=%.1f "
           "pmm_over_buddy=%.2f pmm_over_llfree=%.2f\n",
           state, median(t[0], RUNS), median(t[1], RUNS), median(t[2], RUNS),
           median(ratio[0], RUNS), median(ratio[1], RUNS));
    printf("bench page_pair ram_gib=64 %s pmm_ns=%.1f buddy_ns=%.1f llfree_ns=%.1f "
           "pmm_over_buddy=%.2f pmm_over_llfree=%.2f\n",
           state, median(t[3], RUNS), median(t[4], RUNS), median(t[5], RUNS),
           median(ratio[2], RUNS), median(ratio[3], RUNS));
}

/* Which pages the layouts below hold (keep allocated). */
enum layout { SEVENTH, SEVENTH_B16, SEVENTH_B16_R16 };

static int held(enum layout how, uint64_t pfn)
{
    if (pfn % 7)
        return 0;
    if (how >= SEVENTH_B16 && pfn / BLOCK % 16 == 0)
        return 0;
    if (how >= SEVENTH_B16_R16 && pfn / (8 * BLOCK) % 16 == 9)
        return 0;
    return 1;
}

/* Every page ours hands out allocated, then all but the held ones of `how` freed again. */
static void lay_out(struct pmm *p, enum layout how)
{
    uint64_t x, start, n;
    while (run2m(p, &x) == PMM_OK)
        ;
    while (pmm_alloc(p, &x) == PMM_OK)
        ;
    for (uint64_t from = 0; pmm_next_alloc_range(p, from, &start, &n); from = start + n)
        for (uint64_t i = start, j; i < start + n; i = j + 1) {
            for (j = i; j < start + n && !held(how, j); j++)
                ;
            if (j > i && pmm_free_run(p, i * PG, j - i))
                die("lay_out: free refused");
        }
}

/* From one layout to the next, which only frees pages. */
static void relax(struct pmm *p, enum layout from, enum layout to)
{
    uint64_t start, n;
    for (uint64_t at = 0; pmm_next_alloc_range(p, at, &start, &n); at = start + n)
        for (uint64_t pfn = start; pfn < start + n; pfn++)
            if (held(from, pfn) && !held(to, pfn) && pmm_free(p, pfn * PG))
                die("relax: free refused");
}

/* Attempts per repetition: each allocator's failing attempt costs what it costs. */
#define FAIL_TRIES     20000
#define FAIL_TRIES_LLF 100

/* b: a 2 MiB run that cannot succeed; every allocator must fail every attempt. */
static void fail_attempts(struct pmm *p, struct peers *pe)
{
    double t[3][RUNS];
    uint64_t x;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < FAIL_TRIES; i++)
            if (run2m(p, &x) != PMM_ENOMEM)
                die("fail: ours found a whole block");
        double t1 = now_ns();
        for (int i = 0; i < FAIL_TRIES; i++)
            if (buddy_alloc(&pe->b, 9) != ~0ull)
                die("fail: the buddy found a whole block");
        double t2 = now_ns();
        for (int i = 0; i < FAIL_TRIES_LLF; i++)
            if (llf_alloc_huge(&pe->l, 0, &x) != LLF_ENOMEM)
                die("fail: llfree found a whole frame");
        double t3 = now_ns();
        t[0][r] = (t1 - t0) / FAIL_TRIES;
        t[1][r] = (t2 - t1) / FAIL_TRIES;
        t[2][r] = (t3 - t2) / FAIL_TRIES_LLF;
    }
    printf("bench run_fail_seventh_64g pmm_ns=%.1f buddy_ns=%.1f llfree_ns=%.1f "
           "buddy_over_pmm=%.2f llfree_over_pmm=%.2f\n",
           median(t[0], RUNS), median(t[1], RUNS), median(t[2], RUNS),
           median_ratio(t[1], t[0], RUNS), median_ratio(t[2], t[0], RUNS));
}

/* c, d: allocate every whole block (as many as ours found), then free them all, in that order. */
static void sweep(struct pmm *p, struct peers *pe, const char *name)
{
    uint64_t cap = 64 * GIB / (2 * MIB), n = 0;
    uint64_t *got = malloc(cap * sizeof *got);
    while (n < cap && run2m(p, &got[n]) == PMM_OK)
        n++;
    for (uint64_t i = 0; i < n; i++)
        pmm_free_run(p, got[i], BLOCK);
    double ta[3][RUNS], tf[3][RUNS];
    for (int r = 0; r < RUNS; r++)
        for (int k = 0; k < 3; k++) {
            int bad = 0;
            double t0 = now_ns();
            for (uint64_t i = 0; i < n; i++)
                if (k == 0)
                    bad |= run2m(p, &got[i]);
                else if (k == 1)
                    bad |= (got[i] = buddy_alloc(&pe->b, 9)) == ~0ull;
                else
                    bad |= llf_alloc_huge(&pe->l, 0, &got[i]);
            double t1 = now_ns();
            for (uint64_t i = 0; i < n; i++)
                if (k == 0)
                    bad |= pmm_free_run(p, got[i], BLOCK);
                else if (k == 1)
                    buddy_free(&pe->b, got[i], 9);
                else
                    bad |= llf_free_huge(&pe->l, 0, got[i]);
            double t2 = now_ns();
            if (bad)
                die("sweep: an allocator found fewer whole blocks than ours");
            ta[k][r] = (t1 - t0) / (double)n;
            tf[k][r] = (t2 - t1) / (double)n;
        }
    printf("bench %s blocks=%llu pmm_alloc_ns=%.1f pmm_free_ns=%.1f buddy_alloc_ns=%.1f "
           "buddy_free_ns=%.1f llfree_alloc_ns=%.1f llfree_free_ns=%.1f "
           "buddy_over_pmm=%.2f/%.2f llfree_over_pmm=%.2f/%.2f (alloc/free)\n",
           name, (unsigned long long)n, median(ta[0], RUNS), median(tf[0], RUNS),
           median(ta[1], RUNS), median(tf[1], RUNS), median(ta[2], RUNS), median(tf[2], RUNS),
           median_ratio(ta[1], ta[0], RUNS), median_ratio(tf[1], tf[0], RUNS),
           median_ratio(ta[2], ta[0], RUNS), median_ratio(tf[2], tf[0], RUNS));
    free(got);
}

void bench_frag(void)
{
    struct sim *s = machine(64 * GIB);
    struct pmm *p = built(s);
    struct peers pe;
    lay_out(p, SEVENTH);
    peers_init(&pe, p, s->bytes / PG, 1);
    fail_attempts(p, &pe);
    peers_destroy(&pe);

    relax(p, SEVENTH, SEVENTH_B16);
    peers_init(&pe, p, s->bytes / PG, 1);
    sweep(p, &pe, "run_sweep_seventh_b16_64g");
    peers_destroy(&pe);

    relax(p, SEVENTH_B16, SEVENTH_B16_R16);
    peers_init(&pe, p, s->bytes / PG, 1);
    sweep(p, &pe, "run_sweep_seventh_b16_r16_64g");
    peers_destroy(&pe);
    sim_free(s);
}
