/*
 * mixed.c - many threads on one allocator, more threads than cores (issue 18), and llfree's
 * self-check.
 *
 *  mixed_threads  operations per second of wall time from 1 thread and from MIXED_THREADS
 *                 threads at once (one CPU index each, on however many cores this host has), and
 *                 their ratio, taken inside each repetition. Each thread repeats a round of:
 *                   32 single-page alloc+free pairs;
 *                   a burst of 64 single pages allocated, then the 64 freed;
 *                   one 512-page 2 MiB-aligned run allocated and freed;
 *                   8 pages allocated and posted to the next thread, which frees them (so a
 *                   page is freed on another CPU than the one it came from);
 *                   2 pages allocated, shared (ref_inc) and posted to the next thread, which
 *                   drops its reference; the sender drops its own a round later, so the two
 *                   drops race and the later one frees the page.
 *                 Every allocator call counts as one operation. Ours goes through the calls a
 *                 kernel makes (pmm_cpu_alloc / pmm_cpu_free for single pages, pmm_alloc_run /
 *                 pmm_free_run, pmm_ref_inc / pmm_ref_dec) in concurrent mode, with no lock
 *                 (the allocator's own guarantees, pmm.h "Many CPUs"), and, for comparison,
 *                 with a lock around every call as an allocator without them would need: the
 *                 kernel's ticket lock (handoff/kernel/spinlock.h, included as it is), a
 *                 test-and-set lock (smp.c) and a pthread mutex. llfree takes no lock; having
 *                 no reference counts, its
 *                 shared pages use a side table of 16-bit counts changed by CAS, as a kernel's
 *                 page structures would hold them. "busy" is the threads' CPU time over wall
 *                 time times the cores they could use: near 1 when every core worked all along,
 *                 lower when threads slept (a mutex) or the host ran something else (this host
 *                 is shared: read a ratio with it). per_cpu_second is operations per second of
 *                 the threads' own CPU time, 8 threads over 1: 1.00 when running beside the
 *                 others costs nothing, whatever else the host ran; spinning lowers it.
 *                 The pages posted between threads travel in single-producer single-consumer
 *                 rings, so the harness itself never waits for a thread that is not running.
 *                 After each run every page comes back and the free count must be what it was.
 *  llfree_selfcheck  llfree alone: every page and 2 MiB frame handed out once until memory is
 *                 exhausted, double and bad frees refused with nothing changed; then threads on
 *                 few trees (so that reservations are taken back from each other) allocating,
 *                 freeing and passing pages, each hand-out checked against an owner table with
 *                 an atomic exchange; at the end no page lost.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kernel/spinlock.h"

#define MIXED_THREADS 8
#define MIXED_RUNS    3
#define MIXED_MS      250
#define RING          256
#define PAIRS         32
#define BURST         64
#define CROSS         8
#define SHARE         2

/* One producer, one consumer: indices only ever grow; each side writes its own. */
struct ring {
    uint64_t head __attribute__((aligned(64))); /* consumer's */
    uint64_t tail __attribute__((aligned(64))); /* producer's */
    uint64_t v[RING];
};

static int ring_put(struct ring *r, uint64_t x)
{
    uint64_t t = r->tail; /* only the producer writes tail */
    if (t - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == RING)
        return 0;
    r->v[t % RING] = x;
    __atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
    return 1;
}

static int ring_get(struct ring *r, uint64_t *x)
{
    uint64_t h = r->head; /* only the consumer writes head */
    if (h == __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE))
        return 0;
    *x = r->v[h % RING];
    __atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
    return 1;
}

enum who { OURS, LLFREE };

struct shared {
    enum who who;
    struct pmm *p;
    struct llf *l;
    uint16_t *refs; /* llfree's side table, per page */
    unsigned threads;
    int stop;
    uint64_t errors;
    struct ring cross[MIXED_THREADS], share[MIXED_THREADS]; /* inbox of thread i */
    pthread_barrier_t start;
    /* A lock around every allocator call, as a kernel would need for an allocator that takes
     * none of its own; NULL: none (the allocator's own guarantees, pmm.h "Many CPUs"). */
    void (*lock)(void *), (*unlock)(void *);
    void *lockctx;
};

#define LOCKED(sh, call)                                                                           \
    ({                                                                                             \
        if ((sh)->lock)                                                                            \
            (sh)->lock((sh)->lockctx);                                                             \
        int _rc = (call);                                                                          \
        if ((sh)->lock)                                                                            \
            (sh)->unlock((sh)->lockctx);                                                           \
        _rc;                                                                                       \
    })

struct worker {
    pthread_t th;
    struct shared *sh;
    uint32_t cpu;
    uint64_t ops;
    double start, end, cpu_ns;
    uint64_t mine[SHARE]; /* pages shared last round: this thread's reference */
    int nmine;
} __attribute__((aligned(64)));

static void err(struct shared *sh)
{
    __atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED);
}

/* The allocator calls, as physical addresses; each returns 0 or fails. */
static int a1(struct shared *sh, uint32_t cpu, uint64_t *x)
{
    if (sh->who == OURS)
        return LOCKED(sh, pmm_cpu_alloc(sh->p, cpu, x));
    int rc = llf_alloc(sh->l, cpu, x);
    *x *= PG;
    return rc;
}

static int f1(struct shared *sh, uint32_t cpu, uint64_t x)
{
    return sh->who == OURS ? LOCKED(sh, pmm_cpu_free(sh->p, cpu, x)) : llf_free(sh->l, cpu, x / PG);
}

static int arun(struct shared *sh, uint32_t cpu, uint64_t *x)
{
    if (sh->who == OURS)
        return LOCKED(sh, pmm_alloc_run(sh->p, 512, 2 * MIB, 0, x));
    int rc = llf_alloc_huge(sh->l, cpu, x);
    *x *= PG;
    return rc;
}

static int frun(struct shared *sh, uint32_t cpu, uint64_t x)
{
    return sh->who == OURS ? LOCKED(sh, pmm_free_run(sh->p, x, 512))
                           : llf_free_huge(sh->l, cpu, x / PG);
}

static int ref_inc(struct shared *sh, uint64_t x)
{
    if (sh->who == OURS)
        return LOCKED(sh, pmm_ref_inc(sh->p, x));
    uint16_t *c = &sh->refs[x / PG], v = __atomic_load_n(c, __ATOMIC_ACQUIRE);
    do
        if (!v || v == 0xffff)
            return -1;
    while (!__atomic_compare_exchange_n(c, &v, (uint16_t)(v + 1), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE));
    return 0;
}

static int ref_dec(struct shared *sh, uint32_t cpu, uint64_t x)
{
    if (sh->who == OURS)
        return LOCKED(sh, pmm_ref_dec(sh->p, x));
    uint16_t *c = &sh->refs[x / PG], v = __atomic_load_n(c, __ATOMIC_ACQUIRE);
    do
        if (!v)
            return -1;
    while (!__atomic_compare_exchange_n(c, &v, (uint16_t)(v - 1), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE));
    return v == 1 ? f1(sh, cpu, x) : 0;
}

/* A page about to be shared: llfree's side table starts it at one reference (not an operation:
 * a kernel sets up its page structure when it takes the page). */
static void owned_once(struct shared *sh, uint64_t x)
{
    if (sh->who == LLFREE)
        __atomic_store_n(&sh->refs[x / PG], 1, __ATOMIC_RELEASE);
}

#define CALL(w, e)                                                                                 \
    do {                                                                                           \
        (w)->ops++;                                                                                \
        if (e)                                                                                     \
            err((w)->sh);                                                                          \
    } while (0)

static void round_of(struct worker *w)
{
    struct shared *sh = w->sh;
    uint32_t cpu = w->cpu, next = (cpu + 1) % sh->threads;
    uint64_t x[BURST];
    for (int i = 0; i < PAIRS; i++) {
        CALL(w, a1(sh, cpu, &x[0]));
        CALL(w, f1(sh, cpu, x[0]));
    }
    for (int i = 0; i < BURST; i++)
        CALL(w, a1(sh, cpu, &x[i]));
    for (int i = 0; i < BURST; i++)
        CALL(w, f1(sh, cpu, x[i]));
    CALL(w, arun(sh, cpu, &x[0]));
    CALL(w, frun(sh, cpu, x[0]));
    for (int i = 0; i < CROSS; i++) {
        CALL(w, a1(sh, cpu, &x[i]));
        if (!ring_put(&sh->cross[next], x[i]))
            CALL(w, f1(sh, cpu, x[i])); /* the next thread is behind: free it here */
    }
    while (ring_get(&sh->cross[cpu], &x[0]))
        CALL(w, f1(sh, cpu, x[0]));
    for (int i = 0; i < w->nmine; i++)
        CALL(w, ref_dec(sh, cpu, w->mine[i]));
    w->nmine = 0;
    for (int i = 0; i < SHARE; i++) {
        CALL(w, a1(sh, cpu, &x[i]));
        owned_once(sh, x[i]);
        CALL(w, ref_inc(sh, x[i]));
        if (!ring_put(&sh->share[next], x[i]))
            CALL(w, ref_dec(sh, cpu, x[i]));
        w->mine[w->nmine++] = x[i];
    }
    while (ring_get(&sh->share[cpu], &x[0]))
        CALL(w, ref_dec(sh, cpu, x[0]));
}

/* Each thread's CPU index, as a kernel's per-CPU data gives it (pmm_set_cpu_self). */
static _Thread_local uint32_t this_cpu = ~0u;
static uint32_t cpu_self(void *ctx)
{
    (void)ctx;
    return this_cpu;
}

static double thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    this_cpu = w->cpu;
    pthread_barrier_wait(&w->sh->start);
    w->start = now_ns();
    double c0 = thread_cpu_ns();
    while (!__atomic_load_n(&w->sh->stop, __ATOMIC_ACQUIRE))
        round_of(w);
    w->end = now_ns();
    w->cpu_ns = thread_cpu_ns() - c0;
    for (int i = 0; i < w->nmine; i++) /* not timed: the last round's own references */
        if (ref_dec(w->sh, w->cpu, w->mine[i]))
            err(w->sh);
    return 0;
}

struct rate {
    double ops_s, busy, ops_cpu_s; /* per second of wall time; per second of the threads' CPU */
};

/* One timed run of n threads; afterwards every page is back (checked by the caller). */
static struct rate run(struct shared *sh, unsigned n)
{
    static struct worker w[MIXED_THREADS];
    sh->threads = n;
    sh->stop = 0;
    pthread_barrier_init(&sh->start, 0, n + 1);
    for (unsigned i = 0; i < n; i++) {
        w[i] = (struct worker){.sh = sh, .cpu = i};
        pthread_create(&w[i].th, 0, work, &w[i]);
    }
    pthread_barrier_wait(&sh->start);
    struct timespec d = {0, MIXED_MS * 1000000L};
    nanosleep(&d, 0);
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    double t0 = 1e300, t1 = 0, busy = 0;
    uint64_t ops = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(w[i].th, 0);
        t0 = w[i].start < t0 ? w[i].start : t0;
        t1 = w[i].end > t1 ? w[i].end : t1;
        ops += w[i].ops;
        busy += w[i].cpu_ns;
    }
    pthread_barrier_destroy(&sh->start);
    /* what is still posted: the receivers are gone, so free it here (CPU 0 for llfree) */
    uint64_t x;
    for (unsigned i = 0; i < n; i++) {
        while (ring_get(&sh->cross[i], &x))
            if (sh->who == OURS ? pmm_free(sh->p, x) : llf_free(sh->l, 0, x / PG))
                err(sh);
        while (ring_get(&sh->share[i], &x))
            if (sh->who == OURS ? pmm_ref_dec(sh->p, x) : ref_dec(sh, 0, x))
                err(sh);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double usable = (double)(n < (unsigned)cores ? n : (unsigned)cores);
    return (struct rate){(double)ops / (t1 - t0) * 1e9, busy / ((t1 - t0) * usable),
                         (double)ops / busy * 1e9};
}

static uint64_t free_now(struct shared *sh)
{
    if (sh->who == LLFREE) {
        for (uint32_t c = 0; c < MIXED_THREADS; c++)
            llf_drain(sh->l, c);
        return llf_free_pages(sh->l);
    }
    struct pmm_stats st;
    for (uint32_t c = 0; c < MIXED_THREADS; c++) /* the threads are gone: drain for them */
        pmm_cpu_drain(sh->p, c, 0);
    pmm_stats(sh->p, &st);
    return st.free;
}

static void measure(struct shared *sh, const char *alloc, const char *lock)
{
    double one[MIXED_RUNS], many[MIXED_RUNS], busy[MIXED_RUNS], cpu1[MIXED_RUNS], cpun[MIXED_RUNS];
    uint64_t before = free_now(sh);
    for (int r = 0; r < MIXED_RUNS; r++) {
        struct rate o = run(sh, 1), m = run(sh, MIXED_THREADS);
        one[r] = o.ops_s;
        cpu1[r] = o.ops_cpu_s;
        many[r] = m.ops_s;
        busy[r] = m.busy;
        cpun[r] = m.ops_cpu_s;
    }
    if (sh->errors || free_now(sh) != before) {
        fprintf(stderr, "bench: mixed %s/%s: %llu calls failed, %llu pages free of %llu\n", alloc,
                lock, (unsigned long long)sh->errors, (unsigned long long)free_now(sh),
                (unsigned long long)before);
        exit(1);
    }
    double ratio = median_ratio(many, one, MIXED_RUNS), least = many[0] / one[0];
    for (int r = 1; r < MIXED_RUNS; r++)
        least = many[r] / one[r] < least ? many[r] / one[r] : least;
    printf("bench mixed_threads alloc=%s lock=%s threads=%d cores=%ld mops_1t=%.2f mops_%dt=%.2f "
           "%dt_over_1t=%.2f min_%dt_over_1t=%.2f busy_%dt=%.2f per_cpu_second_%dt_over_1t=%.2f\n",
           alloc, lock, MIXED_THREADS, sysconf(_SC_NPROCESSORS_ONLN), median(one, MIXED_RUNS) / 1e6,
           MIXED_THREADS, median(many, MIXED_RUNS) / 1e6, MIXED_THREADS, ratio, MIXED_THREADS,
           least, MIXED_THREADS, median(busy, MIXED_RUNS), MIXED_THREADS,
           median_ratio(cpun, cpu1, MIXED_RUNS));
}

/* The kernel's ticket lock, around every call of an allocator that has no concurrency of its own.
 */
static void ticket_lock(void *c)
{
    spin_lock(c);
}

static void ticket_unlock(void *c)
{
    spin_unlock(c);
}

static void mutex_lock(void *c)
{
    pthread_mutex_lock(c);
}

static void mutex_unlock(void *c)
{
    pthread_mutex_unlock(c);
}

void bench_mixed(void)
{
    static struct shared sh; /* rings: large, and zeroed */
    static struct spinlock ticket;
    static uint32_t tas;
    static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    struct sim *s = machine(4 * GIB);
    s->max_cpus = MIXED_THREADS;
    sh.who = OURS;
    sh.p = built(s);
    if (pmm_set_concurrent(sh.p, 1) || pmm_set_cpu_self(sh.p, cpu_self, 0))
        die("pmm_set_concurrent failed");
    sh.lock = ticket_lock, sh.unlock = ticket_unlock, sh.lockctx = &ticket;
    measure(&sh, "pmm", "ticket");
    sh.lock = tas_lock, sh.unlock = tas_unlock, sh.lockctx = &tas;
    measure(&sh, "pmm", "tas");
    sh.lock = mutex_lock, sh.unlock = mutex_unlock, sh.lockctx = &mutex;
    measure(&sh, "pmm", "mutex");
    sh.lock = sh.unlock = 0;
    measure(&sh, "pmm", "none");

    /* llfree on the same pages */
    pmm_set_concurrent(sh.p, 0);
    struct peers pe;
    uint64_t npages = s->bytes / PG;
    peers_init(&pe, sh.p, npages, MIXED_THREADS);
    sim_free(s);
    sh.who = LLFREE;
    sh.l = &pe.l;
    sh.refs = calloc(npages, sizeof *sh.refs);
    measure(&sh, "llfree", "none");
    free(sh.refs);
    peers_destroy(&pe);
}

/* -- llfree's self-check -- */

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench: llfree self-check: %s\n", what);
        exit(1);
    }
}

#define CHECK_THREADS 8
#define CHECK_ITERS   200000
#define CHECK_HOLD    2048 /* 8 threads x 2048: half of the threads' memory */

struct checker {
    pthread_t th;
    struct llf *l;
    uint8_t *owner;  /* per page: 0 free, 1 held as a page, 2 held in a 2 MiB frame */
    uint64_t *slots; /* pages passed between threads: 0 = empty, else pfn + 1 */
    uint32_t core;
    uint64_t ops, bad, seed;
};

/* Mark n pages from pfn as held (to = 1, 2) or free again (to = 0); each must change state. */
static int mark(struct checker *c, uint64_t pfn, uint64_t n, uint8_t to)
{
    int bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t was = __atomic_exchange_n(&c->owner[pfn + i], to, __ATOMIC_ACQ_REL);
        bad |= to ? was != 0 : was == 0;
    }
    return bad;
}

static void *checker_work(void *arg)
{
    struct checker *c = arg;
    uint64_t held[CHECK_HOLD], huge = ~0ull, x;
    int n = 0;
    uint64_t r = c->seed;
    for (int it = 0; it < CHECK_ITERS; it++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        unsigned op = (unsigned)(r % 100);
        c->ops++;
        if (op < 45 && n < CHECK_HOLD) {
            if (llf_alloc(c->l, c->core, &x) == 0) {
                c->bad += (uint64_t)mark(c, x, 1, 1);
                held[n++] = x;
            }
        } else if (op < 80 && n) {
            x = held[--n];
            c->bad += (uint64_t)mark(c, x, 1, 0);
            c->bad += llf_free(c->l, c->core, x) != 0;
        } else if (op < 90 && n) { /* pass a page on: whoever takes it frees it */
            x = held[--n] + 1;
            uint64_t *slot = &c->slots[(r >> 8) % (CHECK_THREADS * 4)];
            x = __atomic_exchange_n(slot, x, __ATOMIC_ACQ_REL);
            if (x) {
                c->bad += (uint64_t)mark(c, x - 1, 1, 0);
                c->bad += llf_free(c->l, c->core, x - 1) != 0;
            }
        } else if (op < 95) {
            if (huge == ~0ull) {
                if (llf_alloc_huge(c->l, c->core, &x) == 0) {
                    c->bad += (uint64_t)mark(c, x, LLF_FRAME_PAGES, 2);
                    huge = x;
                }
            } else {
                c->bad += (uint64_t)mark(c, huge, LLF_FRAME_PAGES, 0);
                c->bad += llf_free_huge(c->l, c->core, huge) != 0;
                huge = ~0ull;
            }
        }
    }
    while (n--) {
        c->bad += (uint64_t)mark(c, held[n], 1, 0);
        c->bad += llf_free(c->l, c->core, held[n]) != 0;
    }
    if (huge != ~0ull) {
        c->bad += (uint64_t)mark(c, huge, LLF_FRAME_PAGES, 0);
        c->bad += llf_free_huge(c->l, c->core, huge) != 0;
    }
    return 0;
}

void bench_llfree_check(void)
{
    /* 3 whole trees and a partial one; page 0 and a hole in the first frame not free, and the
     * last frame partial: whole frames 1 to 96 */
    const uint64_t npages = 3 * LLF_TREE_PAGES + 777;
    struct span sp[2] = {{1, 199}, {300, npages - 300}};
    uint64_t nfree = npages - 1 - 100;
    void *meta;
    check(!posix_memalign(&meta, 64, llf_meta_bytes(npages, CHECK_THREADS)), "no memory");
    struct llf l;
    llf_init(&l, meta, npages, CHECK_THREADS, sp, 2);
    check(llf_free_pages(&l) == nfree, "free count after init");
    uint64_t frames = llf_free_frames(&l);
    check(frames == 3 * LLF_TREE_FRAMES, "whole frames after init");

    /* one core: every free page once, then nothing; frees refused as they should be */
    uint8_t *seen = calloc(npages, 1);
    uint64_t x, got = 0;
    while (llf_alloc(&l, 0, &x) == 0) {
        check(x < npages && !seen[x] && x && (x < 200 || x >= 300), "a page handed out twice");
        seen[x] = 1;
        got++;
    }
    check(got == nfree && llf_free_pages(&l) == 0, "not every free page handed out");
    check(llf_free(&l, 1, 5) == 0, "free of an allocated page");
    check(llf_free(&l, 1, 5) == LLF_EDOUBLE && llf_free_pages(&l) == 1, "double free");
    check(llf_free(&l, 0, npages) == LLF_EINVAL, "free past the end");
    for (x = 1; x < npages; x++)
        if (seen[x] && x != 5)
            check(llf_free(&l, (uint32_t)(x % CHECK_THREADS), x) == 0, "free refused");
    for (uint32_t c = 0; c < CHECK_THREADS; c++)
        llf_drain(&l, c);
    check(llf_free_pages(&l) == nfree && llf_free_frames(&l) == frames, "pages lost");

    /* 2 MiB frames: every whole one once */
    memset(seen, 0, npages);
    got = 0;
    while (llf_alloc_huge(&l, 3, &x) == 0) {
        check(x % LLF_FRAME_PAGES == 0 && !seen[x], "a frame handed out twice");
        seen[x] = 1;
        got++;
    }
    check(got == frames, "not every whole frame handed out");
    check(llf_free(&l, 0, LLF_FRAME_PAGES + 3) == LLF_EINVAL, "4 KiB free inside a 2 MiB page");
    check(llf_free_huge(&l, 0, LLF_FRAME_PAGES) == 0, "2 MiB free");
    check(llf_free_huge(&l, 0, LLF_FRAME_PAGES) == LLF_EDOUBLE, "2 MiB double free");
    check(llf_free_huge(&l, 0, 0) == LLF_EINVAL, "2 MiB free of a frame in 4 KiB pages");
    for (x = 2 * LLF_FRAME_PAGES; x < npages; x += LLF_FRAME_PAGES)
        if (seen[x])
            check(llf_free_huge(&l, 1, x) == 0, "2 MiB free refused");
    check(llf_free_pages(&l) == nfree && llf_free_frames(&l) == frames, "pages lost (2 MiB)");

    /* Threads: 8 cores on 2 trees, half the pages held, so cores find the trees reserved and
     * take pages from others' trees and reservations back all the time. */
    const uint64_t tpages = 2 * LLF_TREE_PAGES;
    struct span tsp = {1, tpages - 1};
    struct llf t;
    void *tmeta;
    check(!posix_memalign(&tmeta, 64, llf_meta_bytes(tpages, CHECK_THREADS)), "no memory");
    llf_init(&t, tmeta, tpages, CHECK_THREADS, &tsp, 1);
    uint64_t tframes = llf_free_frames(&t);
    struct checker c[CHECK_THREADS];
    uint64_t slots[CHECK_THREADS * 4] = {0};
    memset(seen, 0, npages);
    for (uint32_t i = 0; i < CHECK_THREADS; i++) {
        c[i] = (struct checker){.l = &t,
                                .owner = seen,
                                .slots = slots,
                                .core = i,
                                .seed = 0x9e3779b97f4a7c15ull * (i + 1)};
        pthread_create(&c[i].th, 0, checker_work, &c[i]);
    }
    uint64_t ops = 0, bad = 0;
    for (uint32_t i = 0; i < CHECK_THREADS; i++) {
        pthread_join(c[i].th, 0);
        ops += c[i].ops;
        bad += c[i].bad;
    }
    for (int i = 0; i < CHECK_THREADS * 4; i++)
        if (slots[i]) {
            bad += (uint64_t)mark(&c[0], slots[i] - 1, 1, 0);
            bad += llf_free(&t, 0, slots[i] - 1) != 0;
        }
    for (uint32_t i = 0; i < CHECK_THREADS; i++)
        llf_drain(&t, i);
    uint64_t lost = tpages - 1 - llf_free_pages(&t);
    check(!bad, "a page handed out twice, or a free refused, under threads");
    check(!lost && llf_free_frames(&t) == tframes, "pages lost under threads");
    free(tmeta);
    printf("bench llfree_selfcheck threads=%d cores=%d ops=%llu double_handouts=0 lost_pages=0 "
           "ok\n",
           CHECK_THREADS, CHECK_THREADS, (unsigned long long)ops);
    free(seen);
    free(meta);
}
