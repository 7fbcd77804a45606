/*
 * bench.c - `make bench`: the allocator's figures next to two simple baselines (baselines.h),
 * measured in the same run. Each figure is the median of several runs; one line per figure:
 *   bench NAME key=value ...
 * Times are wall-clock on the host; the allocator works on simulated physical memory (sim.h) that
 * is real host memory, so cache and TLB behaviour are the host's.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "baselines.h"
#include "bench.h"
#include "pmm.h"
#include "state.h"
#include "rng.h"
#include "sim.h"

double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* A PC-like map: low memory, a hole below 1 MiB, RAM to 2 GiB, a 2 GiB PCI hole, RAM above 4 GiB.
 */
struct sim *machine(uint64_t ram)
{
    uint64_t top = ram <= 2 * GIB ? ram : ram + 2 * GIB;
    struct sim *s = sim_new(top);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0xa0, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0xa0000, 0x60, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, ((ram < 2 * GIB ? ram : 2 * GIB) - MIB) / PG, 0xf);
    if (ram > 2 * GIB) {
        sim_add(s, PMM_EFI_MMIO, 3 * GIB, GIB / PG, PMM_EFI_ATTR_RUNTIME);
        sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, (ram - 2 * GIB) / PG, 0xf);
    }
    return s;
}

struct pmm *built(struct sim *s)
{
    struct pmm *p;
    if (sim_build(s, 0, &p) || sim_reconcile(s, p)) {
        fprintf(stderr, "bench: build failed\n");
        exit(1);
    }
    return p;
}

/* Median time of one single-page alloc+free pair, over RUNS runs of `pairs` pairs. */
static double page_pairs_ns(struct pmm *p, uint64_t pairs)
{
    double t[RUNS];
    uint64_t x;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_alloc(p, &x);
            pmm_free(p, x);
        }
        t[r] = (now_ns() - t0) / (double)pairs;
    }
    return median(t, RUNS);
}

/* Single-page alloc+free pairs with 90% of memory in use. */
static void bench_pair(void)
{
    const uint64_t ram = 4 * GIB, pairs = 2000000;
    struct sim *s = machine(ram);
    struct pmm *p = built(s);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t keep = st.free * 9 / 10, x;
    for (uint64_t i = 0; i < keep; i++)
        pmm_alloc(p, &x);
    double t[RUNS], ours = page_pairs_ns(p, pairs);
    sim_free(s);

    /* first-fit: the same 90% in use (lowest pages first, as first-fit would have placed them) */
    uint64_t npages = ram / PG;
    struct ff f;
    ff_init(&f, npages, 256, npages);
    for (uint64_t i = 0; i < keep; i++)
        f.bits[(256 + i) / 64] |= 1ull << ((256 + i) % 64);
    const uint64_t ffpairs = 20000;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < ffpairs; i++) {
            uint64_t pg = ff_alloc(&f);
            ff_free(&f, pg, 1);
        }
        t[r] = (now_ns() - t0) / (double)ffpairs;
    }
    double ff = median(t, RUNS);
    ff_destroy(&f);

    /* intrusive free list over 1 GiB (its cost does not depend on size; building it writes
     * every page) */
    struct sim *ls = machine(GIB);
    struct fl l;
    fl_init(&l, ls->mem, 256, GIB / PG);
    for (uint64_t i = 0; i < (GIB / PG) * 9 / 10; i++)
        fl_alloc(&l);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            fl_free(&l, fl_alloc(&l));
        t[r] = (now_ns() - t0) / (double)pairs;
    }
    double fl = median(t, RUNS);
    sim_free(ls);
    printf(
        "bench pair_alloc_free_90pct_used ram_gib=4 pmm_ns=%.1f firstfit_ns=%.1f freelist_ns=%.1f "
        "firstfit_over_pmm=%.0fx freelist_over_pmm=%.2fx\n",
        ours, ff, fl, ff / ours, fl / ours);
}

void shuffle(uint64_t *v, uint64_t n)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rnd() % i, t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* n single-page allocations, then frees in random order. */
static void bench_random_order(void)
{
    const uint64_t n = 1000000;
    uint64_t *pg = malloc(n * sizeof *pg);
    struct sim *s = machine(4 * GIB + 64 * MIB);
    struct pmm *p = built(s);
    double ta[RUNS], tf[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            pmm_alloc(p, &pg[i]);
        double t1 = now_ns();
        shuffle(pg, n);
        double t2 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            pmm_free(p, pg[i]);
        tf[r] = (now_ns() - t2) / (double)n;
        ta[r] = (t1 - t0) / (double)n;
    }
    double oa = median(ta, RUNS), of = median(tf, RUNS);

    struct fl l;
    fl_init(&l, s->mem, 256, (4 * GIB + 64 * MIB) / PG);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            pg[i] = fl_alloc(&l);
        double t1 = now_ns();
        shuffle(pg, n);
        double t2 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            fl_free(&l, pg[i]);
        tf[r] = (now_ns() - t2) / (double)n;
        ta[r] = (t1 - t0) / (double)n;
    }
    double la = median(ta, RUNS), lf = median(tf, RUNS);
    sim_free(s);

    /* first-fit scans from page 0 for every page: quadratic, so it gets 1/8 of the pages */
    const uint64_t fn = n / 8;
    struct ff f;
    ff_init(&f, fn + 256, 256, fn + 256);
    double t0 = now_ns();
    for (uint64_t i = 0; i < fn; i++)
        pg[i] = ff_alloc(&f);
    double t1 = now_ns();
    shuffle(pg, fn);
    double t2 = now_ns();
    for (uint64_t i = 0; i < fn; i++)
        ff_free(&f, pg[i], 1);
    double ffa = (t1 - t0) / (double)fn, fff = (now_ns() - t2) / (double)fn;
    ff_destroy(&f);
    free(pg);
    printf(
        "bench random_order_1M pages=%llu pmm_alloc_ns=%.1f pmm_free_ns=%.1f "
        "freelist_alloc_ns=%.1f "
        "freelist_free_ns=%.1f firstfit_pages=%llu firstfit_alloc_ns=%.1f firstfit_free_ns=%.1f\n",
        (unsigned long long)n, oa, of, la, lf, (unsigned long long)fn, ffa, fff);
}

/*
 * 512-page runs aligned to 2 MiB on a fragmented 64 GiB: every 2 MiB block has one page in use,
 * except one block in ten, which is entirely free.
 */
static void bench_runs(void)
{
    const uint64_t ram = 64 * GIB;
    struct sim *s = machine(ram);
    struct pmm *p = built(s);
    uint64_t cap = ram / (2 * MIB), nb = 0, x;
    uint64_t *blk = malloc(cap * sizeof *blk);
    while (nb < cap && pmm_alloc_run(p, 512, 2 * MIB, 0, &blk[nb]) == PMM_OK)
        nb++;
    uint64_t nfree = 0;
    for (uint64_t i = 0; i < nb; i++) {
        if (rnd() % 10 == 0) {
            pmm_free_run(p, blk[i], 512);
            nfree++;
        } else {
            uint64_t keep = rnd() % 512;
            if (keep)
                pmm_free_run(p, blk[i], keep);
            if (keep < 511)
                pmm_free_run(p, blk[i] + (keep + 1) * PG, 511 - keep);
        }
    }
    uint64_t *got = malloc(nfree * sizeof *got);
    double t[RUNS];
    uint64_t n = 0;
    for (int r = 0; r < RUNS; r++) {
        n = 0;
        double t0 = now_ns();
        while (pmm_alloc_run(p, 512, 2 * MIB, 0, &x) == PMM_OK)
            got[n++] = x;
        t[r] = (now_ns() - t0) / (double)(n + 1);
        for (uint64_t i = 0; i < n; i++)
            pmm_free_run(p, got[i], 512);
    }
    double ours = median(t, RUNS);

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
        ff_alloc_run(&f, 512, 512);
    double ff = (now_ns() - t0) / (double)fn;
    ff_destroy(&f);
    free(blk);
    free(got);
    sim_free(s);
    printf("bench runs_512_aligned_2m_fragmented_64g runs=%llu pmm_us=%.3f firstfit_us=%.1f "
           "(first %llu) firstfit_over_pmm=%.0fx freelist=n/a(no runs)\n",
           (unsigned long long)n, ours / 1e3, ff / 1e3, (unsigned long long)fn, ff / ours);
}

/*
 * Alloc+free pairs of one 512-page 2 MiB-aligned run, and of one page, against the binary buddy
 * on a 64 GiB machine, in two states: every other 2 MiB block in use (the buddy's best case: its
 * order-9 list is never empty, nothing splits or merges), and empty (the buddy splits a 1 GiB
 * block on every allocation and merges it back on every free). The two allocators' runs take
 * turns, so that a slower stretch of the host lands on both, and a ratio is the median of the
 * per-turn ratios.
 */
static void bench_run_pairs(int half_used)
{
    const uint64_t ram = 64 * GIB, pairs = 1000000;
    struct sim *s = machine(ram);
    struct pmm *p = built(s);
    uint64_t cap = ram / (2 * MIB), nb = 0, x;
    uint64_t *blk = malloc(cap * sizeof *blk);
    while (half_used && nb < cap && pmm_alloc_run(p, 512, 2 * MIB, 0, &blk[nb]) == PMM_OK)
        nb++;
    for (uint64_t i = 0; i < nb; i += 2)
        pmm_free_run(p, blk[i], 512);

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

    double t[4][RUNS], ratio[2][RUNS]; /* pmm run, buddy run, pmm page, buddy page */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_alloc_run(p, 512, 2 * MIB, 0, &x);
            pmm_free_run(p, x, 512);
        }
        double t1 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            buddy_free(&b, buddy_alloc(&b, 9), 9);
        double t2 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_alloc(p, &x);
            pmm_free(p, x);
        }
        double t3 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            buddy_free(&b, buddy_alloc(&b, 0), 0);
        double t4 = now_ns(), at[5] = {t0, t1, t2, t3, t4};
        for (int k = 0; k < 4; k++)
            t[k][r] = (at[k + 1] - at[k]) / (double)pairs;
        ratio[0][r] = t[0][r] / t[1][r];
        ratio[1][r] = t[2][r] / t[3][r];
    }
    sim_free(s);
    buddy_destroy(&b);
    free(bb);
    free(blk);
    const char *state = half_used ? "half_blocks_used" : "empty";
    printf("bench run_pair_512_aligned_2m ram_gib=64 %s pmm_ns=%.1f buddy_ns=%.1f "
           "pmm_over_buddy=%.2f\n",
           state, median(t[0], RUNS), median(t[1], RUNS), median(ratio[0], RUNS));
    printf("bench page_pair ram_gib=64 %s pmm_ns=%.1f buddy_ns=%.1f pmm_over_buddy=%.2f\n", state,
           median(t[2], RUNS), median(t[3], RUNS), median(ratio[1], RUNS));
}

/* Building the allocator; metadata size; bytes the build touches. */
static void bench_build(uint64_t ram, const char *name)
{
    struct sim *s = machine(ram);
    struct pmm *p;
    double t[RUNS];
    sim_build(s, 0, &p); /* first build: the host faults the metadata pages in */
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t meta = st.meta * PG, base = st.meta_phys;
    unsigned char *vec = malloc(st.meta + 1);
    mincore(s->mem + base, meta, vec);
    uint64_t touched = 0;
    for (uint64_t i = 0; i < st.meta; i++)
        touched += vec[i] & 1;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        sim_build(s, 0, &p);
        t[r] = (now_ns() - t0) / 1e6;
    }
    double ours = median(t, RUNS);
    double gib = (double)(st.total * PG) / (double)GIB;

    /* first-fit's build: set its bitmap (one bit per page up to the top of RAM) */
    uint64_t words = (st.span + 63) / 64;
    uint64_t *bits = malloc(words * 8);
    memset(bits, 0, words * 8);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        memset(bits, 0xff, words * 8);
        memset(bits + 256 / 64, 0, (words - 4) * 8);
        t[r] = (now_ns() - t0) / 1e6;
    }
    double ff = median(t, RUNS);
    free(bits);

    /* Build + reconcile, against a memset of as many bytes as the bitmaps have (free map and its
     * levels, block map and its levels, owned map, refs-init and shared maps): the floor for
     * writing them. */
    uint64_t bm = p->own_phys - p->freemap.phys[0] + p->freemap.nwords[0] * 8 + rinit_words(p) * 8 +
                  shared_words(p) * 8;
    size_t fsize;
    void *fin = sim_final_map(s, &fsize);
    struct pmm_map fm = {fin, fsize, s->desc_size};
    uint64_t ssize = pmm_map_scratch_size(&fm);
    void *scratch = malloc(ssize);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        sim_build(s, 0, &p);
        struct pmm_map_error err;
        if (pmm_reconcile(p, &fm, scratch, ssize, 0, &err)) {
            fprintf(stderr, "bench: reconcile failed\n");
            exit(1);
        }
        t[r] = (now_ns() - t0) / 1e6;
    }
    double both = median(t, RUNS);
    /* the same bytes of the same (simulated physical) memory: where the bitmaps are */
    unsigned char *buf = s->mem + p->freemap.phys[0];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        memset(buf, 0xff, bm); /* ones, as the build writes for free RAM (zeroes run faster) */
        __asm__ volatile("" : : "r"(buf) : "memory");
        t[r] = (now_ns() - t0) / 1e6;
    }
    double ms = median(t, RUNS);
    free(scratch);
    free(fin);
    free(vec);
    sim_free(s);
    printf("bench build_%s ram_gib=%.1f pmm_ms=%.3f firstfit_ms=%.3f meta_bytes_per_gib=%.0f "
           "touched_bytes_per_gib=%.0f\n",
           name, gib, ours, ff, (double)meta / gib, (double)(touched * PG) / gib);
    printf("bench build_reconcile_%s bitmap_bytes=%llu build_reconcile_ms=%.3f memset_ms=%.3f "
           "over_memset=%.2f\n",
           name, (unsigned long long)bm, both, ms, both / ms);
}

/* The free list's build writes a pointer into every page: measured on 1 GiB, scaled per GiB. */
static void bench_build_freelist(void)
{
    struct sim *s = machine(GIB);
    struct fl l;
    fl_init(&l, s->mem, 256, GIB / PG); /* fault the pages in first */
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        fl_init(&l, s->mem, 256, GIB / PG);
        t[r] = (now_ns() - t0) / 1e6;
    }
    double ms = median(t, RUNS);
    sim_free(s);
    printf("bench build_freelist_baseline ms_per_gib=%.3f ms_per_tib_extrapolated=%.0f "
           "touched_bytes_per_gib=%.0f\n",
           ms, ms * 1024, (double)GIB);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "";
    if (!*only || !strcmp(only, "pair"))
        bench_pair();
    if (!*only || !strcmp(only, "random"))
        bench_random_order();
    if (!*only || !strcmp(only, "runs"))
        bench_runs();
    if (!*only || !strcmp(only, "runs") || !strcmp(only, "run_pairs")) {
        bench_run_pairs(1);
        bench_run_pairs(0);
    }
    if (!*only || !strcmp(only, "percpu")) {
        bench_percpu_pair();
        bench_threads();
        bench_cross_cpu();
    }
    if (!*only || !strcmp(only, "build")) {
        bench_build(16 * GIB, "16g");
        bench_build(1024 * GIB, "1t");
        bench_build_freelist();
    }
    return 0;
}
