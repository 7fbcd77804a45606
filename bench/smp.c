/*
 * smp.c - `make bench`'s figures for the per-CPU page caches (pmm.h "Many CPUs"), each next to
 * what it is compared with, in the same run:
 *
 *  page_pair_percpu  one CPU: a pmm_cpu_alloc + pmm_cpu_free pair of one page in concurrent
 *                    mode (the kernel's) and in one-CPU mode, next to pmm_alloc + pmm_free
 *                    (the allocator's own cache, one CPU; the pool with atomics, concurrent and
 *                    no pmm_set_cpu_self), and next to the page-buffer stack that checks
 *                    nothing (baselines.h).
 *  threads           pages per second from 1 and 2 threads, each its own CPU, concurrent mode:
 *                    the per-CPU path against pmm_alloc/pmm_free straight to the pool, and what
 *                    2 threads give over 1 for each. Two workloads: alloc+free pairs (the cache
 *                    alone), and bursts of 64 allocations then 64 frees (a batch moves between
 *                    cache and pool every 31 pages).
 *  cross_cpu         1M pages allocated on one thread (CPU 0), then freed in random order on
 *                    another (CPU 1): ns per page, per-CPU path and the pool path.
 *
 * The calls are made through the library's objects, as a kernel makes them; the baseline is
 * compiled the same way, so both pay the same call overhead. The host is shared (other jobs take
 * turns on its cores), so these figures are the best of many short runs, fastest time or highest
 * rate, not medians: what the code costs when a core is left to it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "baselines.h"
#include "bench.h"

/* A test-and-test-and-set lock, pausing while it waits: what a caller would wrap around an
 * allocator without concurrency of its own (mixed.c compares it). */

void tas_lock(void *ctx)
{
    uint32_t *w = ctx;
    while (__atomic_exchange_n(w, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(w, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}

void tas_unlock(void *ctx)
{
    __atomic_store_n((uint32_t *)ctx, 0, __ATOMIC_RELEASE);
}

/* A machine with two per-CPU caches, allocator built; in concurrent mode if asked. */
static struct pmm *smp_machine(struct sim **s, uint64_t ram, int concurrent)
{
    *s = machine(ram);
    (*s)->max_cpus = 2;
    struct pmm *p = built(*s);
    if (concurrent && pmm_set_concurrent(p, 1)) {
        fprintf(stderr, "bench: pmm_set_concurrent failed\n");
        exit(1);
    }
    return p;
}

enum path { PERCPU, GLOBAL };

static double least(double a, double b)
{
    return a < b ? a : b;
}

static void alloc1(struct pmm *p, enum path how, uint32_t cpu, uint64_t *x)
{
    if ((how == PERCPU ? pmm_cpu_alloc(p, cpu, x) : pmm_alloc(p, x)) != PMM_OK) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
}

static void free1(struct pmm *p, enum path how, uint32_t cpu, uint64_t x)
{
    if ((how == PERCPU ? pmm_cpu_free(p, cpu, x) : pmm_free(p, x)) != PMM_OK) {
        fprintf(stderr, "bench: free refused\n");
        exit(1);
    }
}

#define WINDOW  20000 /* pairs timed at once */
#define WINDOWS 500

/* ns per pair in the fastest of WINDOWS windows; the stack baseline when p is NULL. */
static struct pbs stack;
static double pairs_ns(struct pmm *p, enum path how)
{
    double best = 1e9;
    uint64_t x;
    for (int k = 0; k < WINDOWS; k++) {
        double t0 = now_ns();
        if (!p)
            for (int i = 0; i < WINDOW; i++)
                pbs_free(&stack, pbs_alloc(&stack));
        else
            for (int i = 0; i < WINDOW; i++) {
                alloc1(p, how, 0, &x);
                free1(p, how, 0, x);
            }
        double ns = (now_ns() - t0) / WINDOW;
        best = ns < best ? ns : best;
    }
    return best;
}

void bench_percpu_pair(void)
{
    struct sim *s;
    struct pmm *p = smp_machine(&s, 4 * GIB, 0);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t x, stack_at;
    for (uint64_t i = 0, keep = st.free * 9 / 10; i < keep; i++) /* 90% in use, as bench_pair */
        alloc1(p, GLOBAL, 0, &x);
    /* the stack's pages: 1024 the allocator will not hand out meanwhile */
    if (pmm_alloc_run(p, 1024, 0, 0, &stack_at)) {
        fprintf(stderr, "bench: no run for the stack baseline\n");
        exit(1);
    }
    pbs_init(&stack, s->mem);
    for (uint64_t i = 0; i < 1024; i++)
        pbs_free(&stack, stack_at + i * PG);

    /* The kernel's mode first (concurrent: other CPUs could be at work), then one CPU's. */
    double cpu = 1e9, cpu1 = 1e9, glob = 1e9, gc = 1e9, stk = 1e9;
    for (int r = 0; r < RUNS; r++) { /* interleaved, so that the host's load hits all alike */
        pmm_set_concurrent(p, 1);
        cpu = least(cpu, pairs_ns(p, PERCPU));
        gc = least(gc, pairs_ns(p, GLOBAL)); /* no pmm_set_cpu_self: the pool, lock-free */
        pmm_set_concurrent(p, 0);
        cpu1 = least(cpu1, pairs_ns(p, PERCPU));
        glob = least(glob, pairs_ns(p, GLOBAL)); /* the allocator's own cache */
        stk = least(stk, pairs_ns(0, PERCPU));
    }
    printf("bench page_pair_percpu ram_gib=4 90pct_used percpu_ns=%.2f percpu_one_cpu_ns=%.2f "
           "global_ns=%.2f global_pool_concurrent_ns=%.2f stack_ns=%.2f percpu_over_stack=%.2fx "
           "global_over_percpu=%.2fx pool_over_percpu=%.2fx\n",
           cpu, cpu1, glob, gc, stk, cpu / stk, glob / cpu, gc / cpu);
    sim_free(s);
}

/* One thread's share of a throughput run. */
struct worker {
    pthread_t th;
    struct pmm *p;
    enum path how;
    uint32_t cpu, burst;
    uint64_t pages;
    double start, end; /* wall clock, taken by the thread itself */
    double cpu_ns;     /* the thread's own CPU time */
};
static pthread_barrier_t start_line;

static double thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t x[64];
    pthread_barrier_wait(&start_line);
    w->start = now_ns();
    double c0 = thread_cpu_ns();
    for (uint64_t done = 0; done < w->pages; done += w->burst) {
        for (uint32_t i = 0; i < w->burst; i++)
            alloc1(w->p, w->how, w->cpu, &x[i]);
        for (uint32_t i = 0; i < w->burst; i++)
            free1(w->p, w->how, w->cpu, x[i]);
    }
    w->cpu_ns = thread_cpu_ns() - c0;
    w->end = now_ns();
    return 0;
}

/*
 * One run of `threads` threads at once: million pages allocated and freed per second of wall
 * time, and how much of that time the threads had a core each (their CPU time over threads x
 * wall time: near 1 when both ran throughout, 0.5 when they took turns on one core).
 */
struct rate {
    double mpages_s, overlap;
};
static struct rate run_threads(struct pmm *p, enum path how, unsigned threads, uint32_t burst,
                               uint64_t pages)
{
    struct worker w[2];
    pthread_barrier_init(&start_line, 0, threads + 1);
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){0, p, how, i, burst, pages, 0, 0, 0};
        pthread_create(&w[i].th, 0, work, &w[i]);
    }
    pthread_barrier_wait(&start_line);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(w[i].th, 0);
    double t0 = w[0].start, t1 = w[0].end, busy = 0;
    for (unsigned i = 0; i < threads; i++) {
        t0 = least(t0, w[i].start);
        t1 = w[i].end > t1 ? w[i].end : t1;
        busy += w[i].cpu_ns;
    }
    double ns = t1 - t0;
    pthread_barrier_destroy(&start_line);
    return (struct rate){(double)(pages * threads) / ns * 1e3, busy / (ns * threads)};
}

#define TRUNS 15 /* short runs; the best counts */

void bench_threads(void)
{
    struct sim *s;
    struct pmm *p = smp_machine(&s, 4 * GIB, 1);
    const uint32_t bursts[2] = {1, 64};
    for (int b = 0; b < 2; b++) {
        struct rate v[2][2] = {{{0, 0}, {0, 0}}, {{0, 0}, {0, 0}}}; /* path, threads - 1: best */
        for (int r = 0; r < TRUNS; r++)
            for (int how = PERCPU; how <= GLOBAL; how++)
                for (unsigned t = 1; t <= 2; t++) {
                    struct rate x = run_threads(p, (enum path)how, t, bursts[b],
                                                how == PERCPU ? 4000000 : 1000000);
                    if (x.mpages_s > v[how][t - 1].mpages_s)
                        v[how][t - 1] = x;
                }
        struct rate c1 = v[PERCPU][0], c2 = v[PERCPU][1], g1 = v[GLOBAL][0], g2 = v[GLOBAL][1];
        /* Pages per second of a thread's own CPU time, 2 threads against 1: 1.00 when running
         * beside another CPU costs nothing. Read with the overlap: two threads that took turns
         * on one core did not contend. */
        double ce = (c2.mpages_s / c2.overlap) / (c1.mpages_s / c1.overlap) / 2;
        double ge = (g2.mpages_s / g2.overlap) / (g1.mpages_s / g1.overlap) / 2;
        printf("bench threads_%s percpu_1t_mpages_s=%.1f percpu_2t_mpages_s=%.1f "
               "percpu_2t_over_1t=%.2fx (overlap %.2f, per core-second %.2f) "
               "pool_1t_mpages_s=%.1f pool_2t_mpages_s=%.1f "
               "pool_2t_over_1t=%.2fx (overlap %.2f, per core-second %.2f)\n",
               b ? "burst64" : "pairs", c1.mpages_s, c2.mpages_s, c2.mpages_s / c1.mpages_s,
               c2.overlap, ce, g1.mpages_s, g2.mpages_s, g2.mpages_s / g1.mpages_s, g2.overlap, ge);
        for (uint32_t i = 0; i < 2; i++)
            pmm_cpu_drain(p, i, 0);
    }
    sim_free(s);
}

/* One phase of the cross-CPU run, on its own thread: n allocations, or n frees. */
struct phase {
    struct pmm *p;
    enum path how;
    uint32_t cpu;
    int freeing;
    uint64_t *pg, n;
    double ns;
};

static void *run_phase(void *arg)
{
    struct phase *f = arg;
    double t0 = now_ns();
    for (uint64_t i = 0; i < f->n; i++)
        if (f->freeing)
            free1(f->p, f->how, f->cpu, f->pg[i]);
        else
            alloc1(f->p, f->how, f->cpu, &f->pg[i]);
    f->ns = (now_ns() - t0) / (double)f->n;
    return 0;
}

static double on_thread(struct phase f)
{
    pthread_t th;
    pthread_create(&th, 0, run_phase, &f);
    pthread_join(th, 0);
    return f.ns;
}

void bench_cross_cpu(void)
{
    const uint64_t n = 1000000;
    uint64_t *pg = malloc(n * sizeof *pg);
    struct sim *s;
    struct pmm *p = smp_machine(&s, 4 * GIB + 64 * MIB, 1);
    double ta[2][RUNS], tf[2][RUNS];
    for (int r = 0; r < RUNS; r++) {
        for (int how = PERCPU; how <= GLOBAL; how++) {
            ta[how][r] = on_thread((struct phase){p, (enum path)how, 0, 0, pg, n, 0});
            shuffle(pg, n);
            tf[how][r] = on_thread((struct phase){p, (enum path)how, 1, 1, pg, n, 0});
            for (uint32_t i = 0; i < 2; i++) /* both threads are gone: drain for them */
                pmm_cpu_drain(p, i, 0);
        }
    }
    double best[2][2] = {{1e9, 1e9}, {1e9, 1e9}}; /* path; alloc, free */
    for (int how = PERCPU; how <= GLOBAL; how++)
        for (int r = 0; r < RUNS; r++) {
            best[how][0] = least(best[how][0], ta[how][r]);
            best[how][1] = least(best[how][1], tf[how][r]);
        }
    printf("bench cross_cpu_random_free_1M pages=%llu percpu_alloc_ns=%.2f percpu_free_ns=%.2f "
           "pool_alloc_ns=%.2f pool_free_ns=%.2f\n",
           (unsigned long long)n, best[PERCPU][0], best[PERCPU][1], best[GLOBAL][0],
           best[GLOBAL][1]);
    free(pg);
    sim_free(s);
}
