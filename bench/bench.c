/*
 * bench.c - `make bench`: the allocator's figures next to baselines of our own writing
 * (baselines.h), measured in the same run. Each figure is the median of several runs; one line
 * per figure:
 *   bench NAME key=value ...
 * Times are wall-clock on the host; the allocator works on simulated physical memory (sim.h) that
 * is real host memory, so cache and TLB behaviour are the host's. Only the public interface
 * (pmm.h) and the simulator (sim.h) are used, so the figures survive a rewrite of pmm/.
 *
 * `build/host/bench [PART...]` runs some parts; no PART runs them all (main() lists them). The
 * scenarios of issue 19, each with ours, the buddy and the LLFree-style baseline side by side
 * and the peer/ours ratio taken inside each repetition (above 1: ours is faster):
 *   pair    pair_alloc_free_90pct_used[_percpu]: one page allocated and freed, 4 GiB, 90% in use
 *   frag    run_fail_seventh_64g, run_sweep_seventh_b16_64g, run_sweep_seventh_b16_r16_64g: 2 MiB
 *           runs where every 7th page is held (frag.c)
 *   cold    build_cold_1t, resident_after_build_1t, metadata_1t: building on fresh memory (cold.c)
 *   random  random_order_1M: 1M single pages allocated, then freed in random order
 *   mixed   mixed_threads: 8 threads on this machine's cores against 1 (mixed.c, issue 18)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rng.h"

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

double median_ratio(const double *peer, const double *ours, int n)
{
    double r[64];
    for (int i = 0; i < n && i < 64; i++)
        r[i] = peer[i] / ours[i];
    return median(r, n < 64 ? n : 64);
}

void die(const char *why)
{
    fprintf(stderr, "bench: %s\n", why);
    exit(1);
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
    if (sim_build(s, 0, &p) || sim_reconcile(s, p))
        die("build failed");
    return p;
}

struct span *free_spans(const struct pmm *p, size_t *n)
{
    size_t cap = 1024;
    struct span *v = malloc(cap * sizeof *v);
    uint64_t from = 0, start, len;
    *n = 0;
    while (pmm_next_free_range(p, from, &start, &len)) {
        from = start + len;
        if (*n && v[*n - 1].pfn + v[*n - 1].n == start) { /* touching: one span */
            v[*n - 1].n += len;
            continue;
        }
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = (struct span){start, len};
    }
    return v;
}

void peers_init(struct peers *x, const struct pmm *p, uint64_t npages, uint32_t cores)
{
    size_t n;
    struct span *sp = free_spans(p, &n);
    if (posix_memalign(&x->lmeta, 64, llf_meta_bytes(npages, cores)))
        die("no memory for the llfree baseline");
    llf_init(&x->l, x->lmeta, npages, cores, sp, n);
    x->bmeta = malloc(buddy_meta_bytes(npages));
    buddy_init_spans(&x->b, x->bmeta, npages, sp, n);
    free(sp);
}

void peers_destroy(struct peers *x)
{
    free(x->bmeta);
    free(x->lmeta);
}

uint64_t resident_bytes(void)
{
    unsigned long size, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu %lu", &size, &res) != 2)
        die("cannot read /proc/self/statm");
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Single-page alloc+free pairs with 90% of 4 GiB in use: pmm_alloc/pmm_free on a state without
 * per-CPU caches, pmm_cpu_alloc/pmm_cpu_free for CPU 0 on a state built with one, the buddy
 * (order 0) and llfree (core 0) on the same free pages; and, apart, the first-fit bitmap and the
 * free list (baselines.h).
 */
static void bench_pair(void)
{
    const uint64_t ram = 4 * GIB, pairs = 2000000;
    struct sim *s = machine(ram), *sc = machine(ram);
    sc->max_cpus = 1;
    struct pmm *p = built(s), *pc = built(sc);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t keep = st.free * 9 / 10, x;
    for (uint64_t i = 0; i < keep; i++)
        if (pmm_alloc(p, &x) || pmm_alloc(pc, &x))
            die("pair: out of memory while filling");
    struct peers pe;
    peers_init(&pe, p, s->bytes / PG, 1);
    double t[4][RUNS]; /* pmm, pmm_cpu, buddy, llfree */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_alloc(p, &x);
            pmm_free(p, x);
        }
        double t1 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            pmm_cpu_alloc(pc, 0, &x);
            pmm_cpu_free(pc, 0, x);
        }
        double t2 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            buddy_free(&pe.b, buddy_alloc(&pe.b, 0), 0);
        double t3 = now_ns();
        for (uint64_t i = 0; i < pairs; i++)
            if (llf_alloc(&pe.l, 0, &x) || llf_free(&pe.l, 0, x))
                die("pair: llfree failed");
        double t4 = now_ns(), at[5] = {t0, t1, t2, t3, t4};
        for (int k = 0; k < 4; k++)
            t[k][r] = (at[k + 1] - at[k]) / (double)pairs;
    }
    double rb = median_ratio(t[2], t[0], RUNS), rl = median_ratio(t[3], t[0], RUNS);
    double rbc = median_ratio(t[2], t[1], RUNS), rlc = median_ratio(t[3], t[1], RUNS);
    double ours = median(t[0], RUNS), cpu = median(t[1], RUNS);
    double bd = median(t[2], RUNS), ll = median(t[3], RUNS);
    peers_destroy(&pe);
    sim_free(s);
    sim_free(sc);

    /* first-fit: the same 90% in use (lowest pages first, as first-fit would have placed them) */
    uint64_t npages = ram / PG;
    struct ff f;
    ff_init(&f, npages, 256, npages);
    for (uint64_t i = 0; i < keep; i++)
        f.bits[(256 + i) / 64] |= 1ull << ((256 + i) % 64);
    const uint64_t ffpairs = 20000;
    double tr[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < ffpairs; i++) {
            uint64_t pg = ff_alloc(&f);
            ff_free(&f, pg, 1);
        }
        tr[r] = (now_ns() - t0) / (double)ffpairs;
    }
    double ff = median(tr, RUNS);
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
        tr[r] = (now_ns() - t0) / (double)pairs;
    }
    double fl = median(tr, RUNS);
    sim_free(ls);
    printf("bench pair_alloc_free_90pct_used ram_gib=4 pmm_ns=%.2f buddy_ns=%.2f llfree_ns=%.2f "
           "buddy_over_pmm=%.2f llfree_over_pmm=%.2f firstfit_ns=%.1f freelist_ns=%.1f "
           "firstfit_over_pmm=%.0fx freelist_over_pmm=%.2fx\n",
           ours, bd, ll, rb, rl, ff, fl, ff / ours, fl / ours);
    printf("bench pair_alloc_free_90pct_used_percpu ram_gib=4 cpu=0 pmm_cpu_ns=%.2f buddy_ns=%.2f "
           "llfree_ns=%.2f buddy_over_pmm_cpu=%.2f llfree_over_pmm_cpu=%.2f\n",
           cpu, bd, ll, rbc, rlc);
}

void shuffle(uint64_t *v, uint64_t n)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rnd() % i, t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/*
 * n single-page allocations, then frees in random order: ours, the buddy and llfree (core 0)
 * from the same free pages (the whole machine free), each its own shuffle of what it handed
 * out; then the free list and first-fit apart.
 */
static void bench_random_order(void)
{
    const uint64_t n = 1000000;
    uint64_t *pg = malloc(n * sizeof *pg);
    struct sim *s = machine(4 * GIB + 64 * MIB);
    struct pmm *p = built(s);
    struct peers pe;
    peers_init(&pe, p, s->bytes / PG, 1);
    double ta[3][RUNS], tf[3][RUNS]; /* pmm, buddy, llfree */
    for (int r = 0; r < RUNS; r++) {
        for (int k = 0; k < 3; k++) {
            int bad = 0;
            double t0 = now_ns();
            for (uint64_t i = 0; i < n; i++)
                if (k == 0)
                    bad |= pmm_alloc(p, &pg[i]);
                else if (k == 1)
                    bad |= (pg[i] = buddy_alloc(&pe.b, 0)) == ~0ull;
                else
                    bad |= llf_alloc(&pe.l, 0, &pg[i]);
            double t1 = now_ns();
            if (bad)
                die("random: out of memory");
            shuffle(pg, n);
            double t2 = now_ns();
            for (uint64_t i = 0; i < n; i++)
                if (k == 0)
                    pmm_free(p, pg[i]);
                else if (k == 1)
                    buddy_free(&pe.b, pg[i], 0);
                else
                    llf_free(&pe.l, 0, pg[i]);
            tf[k][r] = (now_ns() - t2) / (double)n;
            ta[k][r] = (t1 - t0) / (double)n;
        }
    }
    double oa = median(ta[0], RUNS), of = median(tf[0], RUNS);
    double ra[2] = {median_ratio(ta[1], ta[0], RUNS), median_ratio(ta[2], ta[0], RUNS)};
    double rf[2] = {median_ratio(tf[1], tf[0], RUNS), median_ratio(tf[2], tf[0], RUNS)};
    double ba = median(ta[1], RUNS), bf = median(tf[1], RUNS);
    double la2 = median(ta[2], RUNS), lf2 = median(tf[2], RUNS);
    peers_destroy(&pe);

    /* the free list writes into every page: after ours, whose metadata is in the same memory */
    struct fl l;
    fl_init(&l, s->mem, 256, (4 * GIB + 64 * MIB) / PG);
    double t[2][RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            pg[i] = fl_alloc(&l);
        double t1 = now_ns();
        shuffle(pg, n);
        double t2 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            fl_free(&l, pg[i]);
        t[1][r] = (now_ns() - t2) / (double)n;
        t[0][r] = (t1 - t0) / (double)n;
    }
    double la = median(t[0], RUNS), lf = median(t[1], RUNS);
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
    printf("bench random_order_1M pages=%llu pmm_alloc_ns=%.1f pmm_free_ns=%.1f "
           "buddy_alloc_ns=%.1f buddy_free_ns=%.1f llfree_alloc_ns=%.1f llfree_free_ns=%.1f "
           "buddy_over_pmm=%.2f/%.2f llfree_over_pmm=%.2f/%.2f (alloc/free) "
           "freelist_alloc_ns=%.1f freelist_free_ns=%.1f firstfit_pages=%llu "
           "firstfit_alloc_ns=%.1f firstfit_free_ns=%.1f\n",
           (unsigned long long)n, oa, of, ba, bf, la2, lf2, ra[0], rf[0], ra[1], rf[1], la, lf,
           (unsigned long long)fn, ffa, fff);
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

    /* Build + reconcile, against a memset of the bytes they leave resident in the metadata run
     * (mincore after them, page granular; the bitmaps and their levels, the section table and
     * the state): the floor for writing them. */
    size_t fsize;
    void *fin = sim_final_map(s, &fsize);
    struct pmm_map fm = {fin, fsize, s->desc_size};
    uint64_t ssize = pmm_map_scratch_size(&fm);
    void *scratch = malloc(ssize);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        sim_build(s, 0, &p);
        struct pmm_map_error err;
        if (pmm_reconcile(p, &fm, scratch, ssize, 0, &err))
            die("reconcile failed");
        t[r] = (now_ns() - t0) / 1e6;
    }
    double both = median(t, RUNS);
    /* the same pages of the same (simulated physical) memory, a contiguous stretch at a time */
    mincore(s->mem + base, meta, vec);
    uint64_t bm = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        bm = 0;
        for (uint64_t i = 0, j; i < st.meta; i = j) {
            for (j = i; j < st.meta && (vec[j] & 1) == (vec[i] & 1); j++)
                ;
            if (vec[i] & 1) { /* ones, as the build writes for free RAM (zeroes run faster) */
                unsigned char *buf = s->mem + base + i * PG;
                memset(buf, 0xff, (j - i) * PG);
                __asm__ volatile("" : : "r"(buf) : "memory");
                bm += (j - i) * PG;
            }
        }
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
    printf("bench build_reconcile_%s resident_bytes=%llu build_reconcile_ms=%.3f memset_ms=%.3f "
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

static void part_runs(void)
{
    bench_runs();
    bench_run_pairs(1);
    bench_run_pairs(0);
}

static void part_run_pairs(void)
{
    bench_run_pairs(1);
    bench_run_pairs(0);
}

static void part_percpu(void)
{
    bench_percpu_pair();
    bench_threads();
    bench_cross_cpu();
}

static void part_build(void)
{
    bench_build(16 * GIB, "16g");
    bench_build(1024 * GIB, "1t");
    bench_build_freelist();
}

/* The parts, in the order of a full run. A name may belong to several (run_pairs is in runs). */
static const struct part {
    const char *name;
    void (*run)(void);
    int in_full_run;
} parts[] = {
    {"pair", bench_pair, 1},           /* single-page pairs, 90% in use */
    {"random", bench_random_order, 1}, /* 1M pages, random-order frees */
    {"runs", part_runs, 1},            /* 2 MiB runs: one in ten whole, and pairs */
    {"run_pairs", part_run_pairs, 0},  /* the pairs alone */
    {"frag", bench_frag, 1},           /* 2 MiB runs, every 7th page held (frag.c) */
    {"percpu", part_percpu, 1},        /* the per-CPU caches (smp.c) */
    {"mixed", bench_mixed, 1},         /* 8 threads, mixed workload (mixed.c) */
    {"llfree", bench_llfree_check, 1}, /* llfree's self-check (mixed.c) */
    {"build", part_build, 1},          /* build, warm (rebuilt in place) */
    {"cold", bench_cold, 1},           /* build on fresh memory (cold.c) */
};
#define NPARTS (sizeof parts / sizeof parts[0])

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0); /* each line as it is measured, also into a pipe */
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < NPARTS && strcmp(argv[i], parts[k].name))
            k++;
        if (k == NPARTS) {
            fprintf(stderr, "usage: bench [PART...]; parts:");
            for (k = 0; k < NPARTS; k++)
                fprintf(stderr, " %s", parts[k].name);
            fprintf(stderr, "\n");
            return 2;
        }
    }
    for (size_t k = 0; k < NPARTS; k++) {
        int want = argc == 1 && parts[k].in_full_run;
        for (int i = 1; i < argc; i++)
            want |= !strcmp(argv[i], parts[k].name);
        if (want)
            parts[k].run();
    }
    return 0;
}
