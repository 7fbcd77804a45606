/*
 * test_smp.c - the per-CPU page caches under real concurrency: one pthread per CPU, the
 * allocator's lock hooks on a real lock, and checks that hold whatever the interleaving.
 *
 *   test_smp CPUS ROUNDS spin|mutex [WORDS]
 *
 * CPUS threads each run ROUNDS rounds of a random mix: pmm_cpu_alloc / tag / verify /
 * pmm_cpu_free; pmm_alloc and pmm_free; runs of mixed sizes, alignments and limits (below 1 MiB
 * too), freed whole, in pieces or page by page; pages freed on another CPU than the one that got
 * them (through that CPU's queue); pages shared with up to three other CPUs (pmm_ref_inc on the
 * owner, pmm_ref_dec wherever the reference went); drains. A reader thread, no CPU, calls
 * pmm_stats, pmm_summary, pmm_refcount and pmm_page_state all the while. Then an exhaustion
 * phase (below). The lock is a spinlock (spin) or a pthread mutex (mutex). WORDS: how many
 * 64-bit words of each page a holder tags (512, all of them, by default; fewer under TSan).
 *
 * What catches a page handed out twice or lost, whatever the timing:
 *  - owner[pfn] (one word per page): on every allocation the test swaps in "CPU i holds it";
 *    anything but 0 there before is a page handed out twice. A free swaps 0 back and must find
 *    its own mark. A shared page's word also counts its holders, so it is cleared by the last one
 *    to let go, before its pmm_ref_dec.
 *  - tags: the holder writes its CPU, a sequence number and the word's index into the page and
 *    checks them before it gives the page up (or hands it on: the receiver checks the sender's).
 *  - the reader: free + alloc + meta + withheld == total, free + alloc constant (the test only
 *    frees what it got), free never above the start, cached <= free, and a page of the pool is
 *    never anything but free or allocated.
 *  - quiet points (every thread waits): pmm_check, and the free count is the start minus the
 *    pages owner[] says are held, exactly. At the end every cache is drained and the free count
 *    is the start.
 *
 * The test's own bookkeeping (owner[], counters) uses relaxed atomics, which give
 * ThreadSanitizer no happens-before edge: what orders one holder's use of a page before the next
 * holder's must come from the allocator (or from the queue, when a page is handed on), so a
 * missing edge in pmm/ shows as a race on the page's contents.
 *
 * Exhaustion ("no false out-of-memory", pmm.h): a quarter of the CPUs fill their caches and stop
 * calling the allocator ("ended": their pages are out of reach, as the contract says); half keep
 * calling it, one page at a time ("live"); the rest allocate with pmm_cpu_alloc until
 * PMM_ENOMEM. An exhauster that gets PMM_ENOMEM waits until every live CPU has made two more
 * calls (so any request to drain has been answered) and asks again: it stops only when that
 * fails too. Then, with the live CPUs still running: every free page is below 1 MiB (never a
 * single page's), on an ended CPU's cache, or one of the live CPUs' one page each (the page it
 * uses, while on its cache); every ended CPU holding pages was asked to drain; and, with one
 * exhauster, the pages it still got after a PMM_ENOMEM are at most those live CPUs' pages, unless
 * a live CPU did not answer in time (counted and printed). The way this once failed is replayed
 * on fixed steps first: an_answered_drain_leaves_the_pages_to_the_asker.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "common.h"

HARNESS_GLOBALS

#define MAX_CPUS  16
#define HELD      96  /* allocations one CPU holds at most */
#define QCAP      256 /* messages a CPU's queue holds */
#define MAX_SHARE 3   /* other CPUs a shared page goes to */
#define RUN_MAX   32  /* pages in a run */
#define CHECKS    4   /* quiet points in the stress phase */

/* The simulated machine: low memory, a hole, 128 MiB from 1 MiB, 32 MiB above 4 GiB. */
#define RAM_LOW  (640 * 1024)
#define RAM_MAIN (128 * MIB)
#define RAM_HIGH (32 * MIB)

static struct sim *s;
static struct pmm *p;
static unsigned ncpu, words = 512;
static uint64_t rounds;
static uint64_t free0, alloc0;
static uint64_t *owner; /* per pfn: 0 free; CPU + 1 << 32 | holders */
static uint64_t npfn;
static pthread_barrier_t bar;
static const char *phase = "stress";

/* Failures from any thread: counted atomically, the first few printed. */
static uint64_t nfail, nchecks;
static void t_fail(int line, const char *fmt, ...)
{
    if (__atomic_fetch_add(&nfail, 1, __ATOMIC_RELAXED) >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fprintf(stderr, "FAIL test_smp.c:%d [%s]: ", line, phase);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}
#define T_CHECK(cond, ...)                                                                         \
    do {                                                                                           \
        __atomic_fetch_add(&nchecks, 1, __ATOMIC_RELAXED);                                         \
        if (!(cond))                                                                               \
            t_fail(__LINE__, __VA_ARGS__);                                                         \
    } while (0)
#define T_RC(call, want)                                                                           \
    do {                                                                                           \
        int _rc = (call);                                                                          \
        T_CHECK(_rc == (want), "%s: %s, wanted %s", #call, pmm_strerror(_rc), pmm_strerror(want)); \
    } while (0)

/*
 * The allocator's lock: a test-and-test-and-set spinlock, or a pthread mutex. Not a ticket lock
 * as a kernel would use: this host runs more threads than it has cores, and a ticket lock hands
 * the lock to a waiter in turn even when that waiter is preempted, which stalls every other one
 * for a time slice. The spinlock yields after a while for the same reason.
 */
static uint32_t spin_word;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static void spin_lock(void *ctx)
{
    uint32_t *w = ctx;
    for (unsigned spins = 0;; spins++) {
        if (!__atomic_load_n(w, __ATOMIC_RELAXED) && !__atomic_exchange_n(w, 1, __ATOMIC_ACQUIRE))
            return;
        if (spins % 64 == 63)
            sched_yield();
        else
            __builtin_ia32_pause();
    }
}
static void spin_unlock(void *ctx)
{
    __atomic_store_n((uint32_t *)ctx, 0, __ATOMIC_RELEASE);
}
static void mutex_lock(void *ctx)
{
    pthread_mutex_lock(ctx);
}
static void mutex_unlock(void *ctx)
{
    pthread_mutex_unlock(ctx);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* What a CPU holds, and what other CPUs send it. */
enum kind { SINGLE, RUN, SHARED };
struct item {
    uint64_t phys, n, tag;
    enum kind kind;
};
struct msg {
    uint64_t phys, tag;
    uint32_t from;
    enum kind kind; /* SINGLE: free it here; SHARED: a reference to drop here */
};
struct cpu {
    uint32_t id;
    pthread_t th;
    uint64_t rng, seq;
    struct item held[HELD];
    unsigned nheld;
    pthread_mutex_t qlock; /* the queue's own lock: handing a page on is the caller's sync */
    struct msg q[QCAP];
    unsigned qn;
    uint64_t ops, remote, shares, runs, blocks, low_enomem, block_enomem, calls;
    /* exhaustion */
    int role;
    uint64_t *got, ngot, early, recovered, unanswered, live_enomem;
};
static struct cpu cpus[MAX_CPUS];

/* A uint64_t counter of struct cpu summed over the CPUs, read once they have stopped. */
static uint64_t sum_at(size_t off)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < ncpu; i++)
        n += *(const uint64_t *)(const void *)((const char *)&cpus[i] + off);
    return n;
}
#define SUM(field) sum_at(offsetof(struct cpu, field) + 0 * _Generic(cpus[0].field, uint64_t : 0))

static uint64_t rnd_c(struct cpu *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static uint64_t mark(uint32_t cpu, uint64_t holders)
{
    return (uint64_t)(cpu + 1) << 32 | holders;
}

/* The page at phys is now CPU c's (a new allocation): owner[] must have been 0. */
static void own(struct cpu *c, uint64_t phys)
{
    uint64_t pfn = phys >> 12;
    T_CHECK(pfn < npfn, "page %#llx outside the machine", (unsigned long long)phys);
    if (pfn >= npfn)
        return;
    uint64_t old = __atomic_exchange_n(&owner[pfn], mark(c->id, 1), __ATOMIC_RELAXED);
    T_CHECK(old == 0, "page %#llx handed out twice: CPU %u got it, CPU %llu holds it",
            (unsigned long long)phys, c->id, (unsigned long long)(old >> 32) - 1);
}

/* CPU c gives the page up (it must be its own, one holder). */
static void disown(struct cpu *c, uint64_t phys)
{
    uint64_t old = __atomic_exchange_n(&owner[phys >> 12], 0, __ATOMIC_RELAXED);
    T_CHECK(old == mark(c->id, 1), "page %#llx freed by CPU %u, but owner word %#llx",
            (unsigned long long)phys, c->id, (unsigned long long)old);
}

static uint64_t *page(uint64_t phys)
{
    return (uint64_t *)(s->mem + phys);
}

static uint64_t pattern(uint64_t tag, unsigned i)
{
    return tag ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
}

/* Tag `words` words spread over each page of [phys, phys + n pages). */
static void tag_pages(uint64_t phys, uint64_t n, uint64_t tag)
{
    unsigned step = 512 / words;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t *w = page(phys + k * PG);
        for (unsigned i = 0; i < 512; i += step)
            w[i] = pattern(tag + k, i);
    }
}

static void verify_pages(uint64_t phys, uint64_t n, uint64_t tag)
{
    unsigned step = 512 / words;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t *w = page(phys + k * PG);
        for (unsigned i = 0; i < 512; i += step)
            if (w[i] != pattern(tag + k, i)) {
                T_CHECK(0, "page %#llx word %u: %#llx, its holder wrote %#llx",
                        (unsigned long long)(phys + k * PG), i, (unsigned long long)w[i],
                        (unsigned long long)pattern(tag + k, i));
                break;
            }
    }
}

static uint64_t new_tag(struct cpu *c)
{
    return (uint64_t)(c->id + 1) << 48 | (++c->seq << 8);
}

static void hold(struct cpu *c, uint64_t phys, uint64_t n, enum kind kind)
{
    uint64_t tag = new_tag(c);
    for (uint64_t k = 0; k < n; k++)
        own(c, phys + k * PG);
    tag_pages(phys, n, tag);
    c->held[c->nheld++] = (struct item){phys, n, tag, kind};
}

/* Send to CPU `to`; 0 if its queue is full (the sender keeps the page). */
static int send(struct cpu *from, uint32_t to, struct msg m)
{
    struct cpu *d = &cpus[to];
    m.from = from->id;
    pthread_mutex_lock(&d->qlock);
    int ok = d->qn < QCAP;
    if (ok)
        d->q[d->qn++] = m;
    pthread_mutex_unlock(&d->qlock);
    return ok;
}

/*
 * Drop one reference to a shared page: the last test holder clears owner[] first. Nothing but
 * pmm_ref_dec orders this holder's read of the page before whatever the page's next owner writes
 * (the test never tells the others it let go), so a TSan race between verify_pages here and
 * tag_pages in a later hold() means pmm_ref_dec did not publish the release to the CPU that
 * freed the page.
 */
static void let_go_shared(struct cpu *c, uint64_t phys, uint64_t tag)
{
    verify_pages(phys, 1, tag);
    uint64_t *o = &owner[phys >> 12];
    uint64_t old = __atomic_fetch_sub(o, 1, __ATOMIC_RELAXED);
    T_CHECK((old & 0xffffffffu) >= 1 && (old >> 32) != 0,
            "shared page %#llx: owner word %#llx at a release", (unsigned long long)phys,
            (unsigned long long)old);
    if ((old & 0xffffffffu) == 1)
        __atomic_store_n(o, 0, __ATOMIC_RELAXED);
    T_RC(pmm_ref_dec(p, phys), PMM_OK);
    c->calls++;
}

/* Take in what other CPUs sent: free their pages here, drop their shared references here. */
static void take_mail(struct cpu *c)
{
    struct msg in[QCAP];
    pthread_mutex_lock(&c->qlock);
    unsigned n = c->qn;
    memcpy(in, c->q, n * sizeof in[0]);
    c->qn = 0;
    pthread_mutex_unlock(&c->qlock);
    for (unsigned i = 0; i < n; i++) {
        if (in[i].kind == SHARED) {
            let_go_shared(c, in[i].phys, in[i].tag);
            continue;
        }
        verify_pages(in[i].phys, 1, in[i].tag);
        uint64_t old =
            __atomic_exchange_n(&owner[in[i].phys >> 12], mark(c->id, 1), __ATOMIC_RELAXED);
        T_CHECK(old == mark(in[i].from, 1), "page %#llx sent by CPU %u, owner word %#llx",
                (unsigned long long)in[i].phys, in[i].from, (unsigned long long)old);
        disown(c, in[i].phys);
        T_RC(pmm_cpu_free(p, c->id, in[i].phys), PMM_OK);
        c->remote++;
        c->calls++;
    }
}

/* The page is on CPU c's cache (only c changes it, so the answer holds until c's next call). */
static int on_my_cache(struct cpu *c, uint64_t phys)
{
    const struct pmm_pcpu *pc = pmm_pcpu(p, c->id);
    uint64_t want = cidx(p, phys >> 12);
    for (uint64_t i = 0; i < pc->n; i++)
        if (pc->page[i] == want)
            return 1;
    return 0;
}

/* Give up held[i]: verify, then free it one way or another. */
static void release(struct cpu *c, unsigned i, int may_send)
{
    struct item it = c->held[i];
    c->held[i] = c->held[--c->nheld];
    verify_pages(it.phys, it.n, it.tag);
    uint64_t r = rnd_c(c) % 100;
    if (it.kind == SHARED) {
        let_go_shared(c, it.phys, it.tag);
        return;
    }
    if (it.kind == SINGLE && may_send && r < 20 && ncpu > 1) {
        uint32_t to = (c->id + 1 + (uint32_t)(rnd_c(c) % (ncpu - 1))) % ncpu;
        if (send(c, to, (struct msg){it.phys, it.tag, 0, SINGLE}))
            return;
    }
    for (uint64_t k = 0; k < it.n; k++)
        disown(c, it.phys + k * PG);
    c->calls++;
    if (it.kind == SINGLE) {
        T_RC(r % 4 ? pmm_cpu_free(p, c->id, it.phys) : pmm_free(p, it.phys), PMM_OK);
    } else if (r < 50 || it.n == 1) {
        T_RC(pmm_free_run(p, it.phys, it.n), PMM_OK);
    } else { /* the first half as a run, the rest page by page on this CPU's cache */
        uint64_t h = it.n / 2;
        T_RC(pmm_free_run(p, it.phys, h), PMM_OK);
        for (uint64_t k = h; k < it.n; k++)
            T_RC(pmm_cpu_free(p, c->id, it.phys + k * PG), PMM_OK);
    }
}

/* A page shared with k other CPUs: one reference each, dropped where it lands. */
static void share(struct cpu *c)
{
    uint64_t x;
    if (pmm_cpu_alloc(p, c->id, &x) != PMM_OK) {
        T_CHECK(0, "pmm_cpu_alloc failed with memory to spare");
        return;
    }
    hold(c, x, 1, SHARED);
    struct item *it = &c->held[c->nheld - 1];
    unsigned k = 1 + (unsigned)(rnd_c(c) % MAX_SHARE);
    if (k > ncpu - 1)
        k = ncpu - 1;
    for (unsigned j = 0; j < k; j++) {
        T_RC(pmm_ref_inc(p, x), PMM_OK);
        __atomic_fetch_add(&owner[x >> 12], 1, __ATOMIC_RELAXED);
    }
    /* Nobody else has it yet: its count is exact, and a free on any path is refused. */
    uint32_t count = 0;
    int rc = pmm_refcount(p, x, &count);
    T_CHECK(rc == PMM_OK && count == k + 1, "shared page: refcount %s, %u, wanted %u",
            pmm_strerror(rc), count, k + 1);
    T_RC(pmm_cpu_free(p, c->id, x), PMM_ESHARED);
    T_RC(pmm_free(p, x), PMM_ESHARED);
    for (unsigned j = 0; j < k; j++) {
        uint32_t to = (c->id + 1 + j) % ncpu;
        if (!send(c, to, (struct msg){x, it->tag, 0, SHARED}))
            let_go_shared(c, x, it->tag); /* its queue is full: drop that reference here */
    }
    c->shares++;
    c->calls += k + 3;
}

static void one_round(struct cpu *c)
{
    uint64_t r = rnd_c(c) % 100, x;
    if (c->nheld == HELD || (c->nheld && r < 35)) {
        release(c, (unsigned)(rnd_c(c) % c->nheld), 1);
    } else if (r < 60) { /* the common case: a page, tagged, checked, freed on this CPU */
        T_RC(pmm_cpu_alloc(p, c->id, &x), PMM_OK);
        hold(c, x, 1, SINGLE);
        struct item it = c->held[--c->nheld];
        verify_pages(x, 1, it.tag);
        disown(c, x);
        T_RC(pmm_cpu_free(p, c->id, x), PMM_OK);
        if (r % 8 == 0 && on_my_cache(c, x)) { /* free on this cache: every path refuses it */
            T_RC(pmm_cpu_free(p, c->id, x), PMM_EDOUBLE);
            T_RC(pmm_free(p, x), PMM_EDOUBLE);
            T_RC(pmm_ref_inc(p, x), PMM_EDOUBLE);
            c->calls += 3;
        }
        c->calls++;
    } else if (r < 75) {
        T_RC(pmm_cpu_alloc(p, c->id, &x), PMM_OK);
        hold(c, x, 1, SINGLE);
    } else if (r < 80) {
        T_RC(pmm_alloc(p, &x), PMM_OK);
        hold(c, x, 1, SINGLE);
    } else if (r < 90) {
        uint64_t n = 1 + rnd_c(c) % RUN_MAX, align = PG << (rnd_c(c) % 7), lim = 0;
        uint64_t pick = rnd_c(c) % 40;
        if (pick == 0) { /* low memory, as AP start-up code wants: scarce, it may run out */
            lim = MIB;
            n = 1 + n % 4;
            align = PG << (align % 3);
        } else if (pick < 3) {
            lim = 16 * MIB;
        } else if (pick == 3) { /* one 2 MiB block: the free-block stack (pmm/blocks.c) */
            n = 512;
            align = 2 * MIB;
        }
        int rc = pmm_alloc_run(p, n, align, lim, &x);
        if (rc == PMM_ENOMEM && lim == MIB) {
            c->low_enomem++;
        } else if (rc == PMM_ENOMEM && n == 512) { /* the others' pages may split every block */
            c->block_enomem++;
        } else {
            T_CHECK(rc == PMM_OK, "pmm_alloc_run(%llu, %#llx, %#llx): %s", (unsigned long long)n,
                    (unsigned long long)align, (unsigned long long)lim, pmm_strerror(rc));
            if (rc == PMM_OK) {
                T_CHECK(x % align == 0 && (!lim || x + n * PG <= lim),
                        "run at %#llx breaks its bounds", (unsigned long long)x);
                hold(c, x, n, RUN);
                c->runs++;
                c->blocks += n == 512;
            }
        }
    } else if (r < 96) {
        if (ncpu > 1)
            share(c);
    } else if (r < 98) {
        T_RC(pmm_cpu_drain(p, c->id, 0), PMM_OK); /* as a CPU going idle */
    } else if (c->nheld) {
        uint32_t count = 0;
        struct item *it = &c->held[rnd_c(c) % c->nheld];
        int rc = pmm_refcount(p, it->phys, &count);
        T_CHECK(rc == PMM_OK && count >= 1 && count <= MAX_SHARE + 1, "refcount of a held page");
    }
    c->calls++;
    c->ops++;
    take_mail(c);
}

/* The reader asks about pages of the main RAM range [pool_lo, pool_hi) but the metadata's. */
static uint64_t pool_lo, pool_hi, meta_lo, meta_hi;

static struct pmm_stats stats(void)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st;
}

static void check_stats(const struct pmm_stats *st)
{
    T_CHECK(st->free + st->alloc + st->meta + st->withheld == st->total,
            "free %llu + alloc %llu + meta %llu + withheld %llu != total %llu",
            (unsigned long long)st->free, (unsigned long long)st->alloc,
            (unsigned long long)st->meta, (unsigned long long)st->withheld,
            (unsigned long long)st->total);
    T_CHECK(st->free + st->alloc == free0 + alloc0, "free + alloc changed: %llu + %llu",
            (unsigned long long)st->free, (unsigned long long)st->alloc);
    T_CHECK(st->free <= free0 && st->used == st->total - st->free, "free %llu above the start",
            (unsigned long long)st->free);
    T_CHECK(st->cached <= st->free && st->cached <= (uint64_t)ncpu * PMM_CPU_CACHE, "cached %llu",
            (unsigned long long)st->cached);
    T_CHECK(st->largest <= st->free && st->below16m <= st->below4g && st->below4g <= st->free,
            "largest %llu below4g %llu below16m %llu", (unsigned long long)st->largest,
            (unsigned long long)st->below4g, (unsigned long long)st->below16m);
}

static uint64_t field(const char *line, const char *name)
{
    const char *at = strstr(line, name);
    return at ? strtoull(at + strlen(name), 0, 10) : ~0ull;
}

/* The reader: no CPU of its own, only the locked readers, until told to stop. */
static int reader_stop;
static uint64_t reader_reads;
static void *reader(void *arg)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    (void)arg;
    while (!__atomic_load_n(&reader_stop, __ATOMIC_RELAXED)) {
        struct pmm_stats st = stats();
        check_stats(&st);
        char line[256];
        pmm_summary(p, line, sizeof line);
        uint64_t f = field(line, " free="), a = field(line, " alloc="), m = field(line, " meta="),
                 w = field(line, " withheld="), t = field(line, "total=");
        T_CHECK(f + a + m + w == t && f + a == free0 + alloc0, "summary does not add up: %s", line);
        for (int k = 0; k < 64; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            uint64_t pfn = pool_lo + rng % (pool_hi - pool_lo);
            if (pfn >= meta_lo && pfn < meta_hi)
                continue;
            uint32_t count = 0;
            int rc = pmm_refcount(p, pfn << 12, &count);
            T_CHECK((rc == PMM_OK && count >= 1 && count <= MAX_SHARE + 1) || rc == PMM_EDOUBLE,
                    "refcount of pool page %#llx: %s, %u", (unsigned long long)pfn,
                    pmm_strerror(rc), count);
            enum pmm_page_state ps = pmm_page_state(p, pfn);
            T_CHECK(ps == PMM_PAGE_FREE || ps == PMM_PAGE_ALLOC, "pool page %#llx is in state %d",
                    (unsigned long long)pfn, (int)ps);
        }
        reader_reads++;
        nanosleep(&(struct timespec){0, 20000}, 0); /* leave the CPUs most of the lock */
    }
    return 0;
}

/*
 * The exhaustion phase's false PMM_ENOMEM, step by step. CPU 1 finds the pool empty and asks
 * CPUs 0 and 2, whose caches hold pages, to drain; it waits for both. CPU 0 answers at a free
 * (its cache goes to the pool), then allocates again; CPU 2 answers last, at an allocation. Only
 * then does CPU 1 look at the pool again: the pages CPU 0 gave must still be there for it (CPU 0
 * needed one page, not a new batch), or CPU 1 asks again, CPU 0 makes no further call, and CPU 1
 * fails with 30 pages on CPU 0's cache (pmm.h: "No false out-of-memory").
 */
struct asker {
    struct pmm *p;
    uint64_t got;
    int rc;
    double ms;
};
static void *ask(void *arg)
{
    struct asker *a = arg;
    double t0 = seconds();
    a->rc = pmm_cpu_alloc(a->p, 1, &a->got);
    a->ms = (seconds() - t0) * 1e3;
    return 0;
}

TEST(an_answered_drain_leaves_the_pages_to_the_asker)
{
    static uint32_t word;
    struct pmm *q;
    struct sim *m = small_machine(3, 4, 0, &q);
    CHECK_EQ(pmm_set_lock(q, spin_lock, spin_unlock, &word), PMM_OK);
    uint64_t w, y, x[PMM_CPU_BATCH];
    CHECK_EQ(pmm_cpu_alloc(q, 0, &w), PMM_OK);   /* CPU 0 uses a page, 30 on its cache */
    for (unsigned i = 0; i < PMM_CPU_BATCH; i++) /* CPU 2 uses 30 pages, one on its cache */
        CHECK_EQ(pmm_cpu_alloc(q, 2, &x[i]), PMM_OK);
    CHECK_EQ(pmm_cpu_free(q, 2, x[0]), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(q, 0), PMM_CPU_BATCH - 1);
    CHECK_EQ(pmm_cpu_cached(q, 2), 1);
    struct pmm_stats st;
    pmm_stats(q, &st);
    for (uint64_t n = st.free - st.cached; n; n--) /* the pool runs dry */
        CHECK_EQ(pmm_alloc(q, &y), PMM_OK);

    struct asker a = {q, 0, 1, 0};
    pthread_t th;
    pthread_create(&th, 0, ask, &a);
    while (!__atomic_load_n(&pmm_pcpu(q, 0)->drain_req, __ATOMIC_ACQUIRE) ||
           !__atomic_load_n(&pmm_pcpu(q, 2)->drain_req, __ATOMIC_ACQUIRE))
        sched_yield();
    CHECK_EQ(pmm_cpu_free(q, 0, w), PMM_OK); /* CPU 0 answers */
    CHECK_EQ(pmm_cpu_cached(q, 0), 0);
    CHECK_EQ(pmm_cpu_alloc(q, 0, &w), PMM_OK); /* and carries on */
    CHECK_EQ(pmm_cpu_alloc(q, 2, &y), PMM_OK); /* CPU 2 answers: CPU 1 looks again */
    pthread_join(th, 0);
    if (a.rc != PMM_OK)
        fprintf(stderr, "  CPU 1: %s after %.0f ms, %llu pages on CPU 0's cache\n",
                pmm_strerror(a.rc), a.ms, (unsigned long long)pmm_cpu_cached(q, 0));
    CHECK_EQ(a.rc, PMM_OK);
    CHECK_OK(q);
    sim_free(m);
}

/*
 * A drain request can be pending on a CPU whose cache is empty (it read its request flag clear,
 * then emptied its cache with an allocation while another CPU was asking it). A reclaim must not
 * wait for that request, which it did not make: CPU 3 has one; CPU 1 finds the pool dry and asks
 * CPU 0, which answers; CPU 1 must then get CPU 0's pages, not run out.
 */
TEST(reclaim_waits_only_for_the_cpus_it_asked)
{
    static uint32_t word;
    struct pmm *q;
    struct sim *m = small_machine(4, 4, 0, &q);
    CHECK_EQ(pmm_set_lock(q, spin_lock, spin_unlock, &word), PMM_OK);
    uint64_t w, y;
    CHECK_EQ(pmm_cpu_alloc(q, 0, &w), PMM_OK); /* CPU 0 uses a page, 30 on its cache */
    struct pmm_stats st;
    pmm_stats(q, &st);
    for (uint64_t n = st.free - st.cached; n; n--) /* the pool runs dry */
        CHECK_EQ(pmm_alloc(q, &y), PMM_OK);
    __atomic_store_n(&pmm_pcpu(q, 3)->drain_req, 1, __ATOMIC_RELEASE); /* someone else's */

    struct asker a = {q, 0, 1, 0};
    pthread_t th;
    pthread_create(&th, 0, ask, &a);
    while (!__atomic_load_n(&pmm_pcpu(q, 0)->drain_req, __ATOMIC_ACQUIRE))
        sched_yield();
    CHECK_EQ(pmm_cpu_free(q, 0, w), PMM_OK); /* CPU 0 answers, and makes no further call */
    pthread_join(th, 0);
    if (a.rc != PMM_OK)
        fprintf(stderr, "  CPU 1: %s after %.0f ms, %llu pages on CPU 1's cache\n",
                pmm_strerror(a.rc), a.ms, (unsigned long long)pmm_cpu_cached(q, 1));
    CHECK_EQ(a.rc, PMM_OK);
    CHECK_EQ(pmm_cpu_drain(q, 3, 0), PMM_OK);
    CHECK_OK(q);
    sim_free(m);
}

/* At a quiet point: every page not free is held by the test, exactly as owner[] says. */
static void quiet_check(const char *when)
{
    struct pmm_check_fail f = {0, 0};
    int rc = pmm_check(p, &f);
    if (rc)
        fprintf(stderr, "  %s: pmm_check: %s at %#llx\n", when, f.what, (unsigned long long)f.pfn);
    CHECK_EQ(rc, PMM_OK);
    uint64_t held = 0;
    for (uint64_t i = 0; i < npfn; i++)
        held += owner[i] != 0;
    struct pmm_stats st = stats();
    check_stats(&st);
    CHECK_EQ(st.free, free0 - held);
}

static void *stress(void *arg)
{
    struct cpu *c = arg;
    for (unsigned k = 0; k < CHECKS; k++) {
        for (uint64_t r = 0; r < rounds / CHECKS; r++)
            one_round(c);
        pthread_barrier_wait(&bar); /* main checks */
        pthread_barrier_wait(&bar);
    }
    pthread_barrier_wait(&bar); /* nobody sends any more */
    take_mail(c);
    while (c->nheld)
        release(c, c->nheld - 1, 0);
    T_RC(pmm_cpu_drain(p, c->id, 0), PMM_OK);
    return 0;
}

/*
 * Exhaustion. Roles: ENDED fills its cache and makes no call until the phase ends; LIVE keeps
 * calling, one page at a time; EXHAUST allocates until PMM_ENOMEM (see the top of the file).
 */
enum { EXHAUST, LIVE, ENDED };
static uint64_t exhausters, exhausters_left;
static int live_stop;
static uint64_t calls_of(unsigned i)
{
    return __atomic_load_n(&cpus[i].calls, __ATOMIC_RELAXED);
}

/* Wait until every live CPU has finished two more allocator calls. */
static void live_progress(void)
{
    uint64_t at[MAX_CPUS];
    for (unsigned i = 0; i < ncpu; i++)
        at[i] = calls_of(i);
    for (unsigned i = 0; i < ncpu; i++)
        while (cpus[i].role == LIVE && calls_of(i) < at[i] + 2)
            sched_yield();
}

static uint64_t nlive(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < ncpu; i++)
        n += cpus[i].role == LIVE;
    return n;
}

static void exhaust(struct cpu *c)
{
    uint64_t x;
    int retry = 0;
    for (;;) {
        int rc = pmm_cpu_alloc(p, c->id, &x);
        if (rc == PMM_OK) {
            own(c, x);
            page(x)[0] = pattern(c->id, 0) ^ x;
            c->got[c->ngot++] = x;
            if (retry) { /* the PMM_ENOMEM before was early */
                c->early++;
                retry = 0;
            }
            c->recovered += c->early > 0;
            continue;
        }
        T_CHECK(rc == PMM_ENOMEM, "pmm_cpu_alloc: %s", pmm_strerror(rc));
        /* Its own cache is empty when it gives up: nothing of its own was out of reach. */
        T_CHECK(pmm_cpu_cached(p, c->id) == 0, "PMM_ENOMEM with %llu pages on its own cache",
                (unsigned long long)pmm_cpu_cached(p, c->id));
        /* A CPU still asked to drain did not call in time: the contract lets its pages stay out
         * of reach of this request. */
        for (unsigned i = 0; i < ncpu; i++)
            c->unanswered += i != c->id && cpus[i].role != ENDED &&
                             __atomic_load_n(&pmm_pcpu(p, i)->drain_req, __ATOMIC_RELAXED);
        if (retry)
            break;
        retry = 1;
        live_progress();
    }
    __atomic_fetch_sub(&exhausters_left, 1, __ATOMIC_RELEASE);
}

static void *exhaustion(void *arg)
{
    struct cpu *c = arg;
    uint64_t x[PMM_CPU_CACHE];
    for (unsigned i = 0; i < PMM_CPU_CACHE; i++)
        T_RC(pmm_cpu_alloc(p, c->id, &x[i]), PMM_OK);
    for (unsigned i = 0; i < PMM_CPU_CACHE; i++)
        T_RC(pmm_cpu_free(p, c->id, x[i]), PMM_OK);
    pthread_barrier_wait(&bar); /* every cache holds pages */
    if (c->role == EXHAUST) {
        exhaust(c);
    } else if (c->role == LIVE) {
        while (!__atomic_load_n(&live_stop, __ATOMIC_ACQUIRE)) {
            uint64_t one;
            int rc = pmm_cpu_alloc(p, c->id, &one);
            if (rc == PMM_OK) {
                own(c, one);
                tag_pages(one, 1, c->seq);
                verify_pages(one, 1, c->seq++);
                disown(c, one);
                T_RC(pmm_cpu_free(p, c->id, one), PMM_OK);
            } else {
                T_CHECK(rc == PMM_ENOMEM, "pmm_cpu_alloc: %s", pmm_strerror(rc));
                c->live_enomem++;
            }
            __atomic_store_n(&c->calls, c->calls + 1, __ATOMIC_RELAXED);
        }
    }
    pthread_barrier_wait(&bar); /* stopped: main reads every counter */
    pthread_barrier_wait(&bar);
    for (uint64_t i = 0; i < c->ngot; i++) {
        T_CHECK((page(c->got[i])[0] ^ c->got[i]) == pattern(c->id, 0), "exhaustion page tag");
        disown(c, c->got[i]);
        T_RC(pmm_cpu_free(p, c->id, c->got[i]), PMM_OK);
    }
    T_RC(pmm_cpu_drain(p, c->id, 0), PMM_OK);
    return 0;
}

/* While the exhausters run: wait for them, then look with the live CPUs still calling. */
static void exhaustion_verdict(void)
{
    while (__atomic_load_n(&exhausters_left, __ATOMIC_ACQUIRE))
        sched_yield();
    live_progress();
    struct pmm_stats st = stats();
    uint64_t low = 0; /* free below 1 MiB: for bounded runs only, never for pmm_cpu_alloc */
    for (uint64_t pfn = 0; pfn < MIB / PG; pfn++)
        low += pmm_page_state(p, pfn) == PMM_PAGE_FREE;
    uint64_t ended = 0, live_cached = 0, asked = 0, ended_cpus = 0;
    for (unsigned i = 0; i < ncpu; i++) {
        uint64_t n = pmm_cpu_cached(p, i);
        if (cpus[i].role == ENDED) {
            ended += n;
            ended_cpus += n > 0;
            asked += n > 0 && __atomic_load_n(&pmm_pcpu(p, i)->drain_req, __ATOMIC_RELAXED);
        } else if (cpus[i].role == LIVE) {
            live_cached += n;
        }
    }
    __atomic_store_n(&live_stop, 1, __ATOMIC_RELEASE);
    /* The live CPUs write their own counters until they see live_stop: read them only after
     * every CPU has reached the barrier. */
    pthread_barrier_wait(&bar);
    uint64_t got = SUM(ngot), early = SUM(early), recovered = SUM(recovered);
    uint64_t unanswered = SUM(unanswered), live_enomem = SUM(live_enomem);
    printf("exhaustion: %llu pages allocated of %llu free; then free %llu: %llu below 1 MiB, %llu "
           "on ended CPUs' caches, %llu on live ones'; early PMM_ENOMEM %llu (then %llu pages), "
           "live CPUs not answering in time %llu, live CPUs' PMM_ENOMEM %llu\n",
           (unsigned long long)got, (unsigned long long)free0, (unsigned long long)st.free,
           (unsigned long long)low, (unsigned long long)ended, (unsigned long long)live_cached,
           (unsigned long long)early, (unsigned long long)recovered, (unsigned long long)unanswered,
           (unsigned long long)live_enomem);
    check_stats(&st);
    CHECK(ended > 0);
    CHECK_EQ(asked, ended_cpus); /* every ended CPU with pages was asked to drain */
    CHECK(st.free >= low + ended);
    /* Nothing else is free but the live CPUs' one page each: no false out-of-memory. */
    CHECK(st.free <= low + ended + nlive());
    if (!unanswered && exhausters == 1) /* more would take batches from each other */
        CHECK(recovered <= nlive());
}

static void start(void *(*fn)(void *))
{
    for (unsigned i = 0; i < ncpu; i++)
        pthread_create(&cpus[i].th, 0, fn, &cpus[i]);
}
static void join(void)
{
    for (unsigned i = 0; i < ncpu; i++)
        pthread_join(cpus[i].th, 0);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (ncpu = (unsigned)atoi(argv[1])) < 1 || ncpu > MAX_CPUS ||
        (rounds = strtoull(argv[2], 0, 10)) < CHECKS ||
        (strcmp(argv[3], "spin") && strcmp(argv[3], "mutex")) ||
        (argc > 4 && ((words = (unsigned)atoi(argv[4])) < 1 || words > 512 || 512 % words))) {
        fprintf(stderr, "usage: test_smp CPUS(1-%d) ROUNDS(>=%d) spin|mutex [WORDS(divides 512)]\n",
                MAX_CPUS, CHECKS);
        return 2;
    }
    int spin = !strcmp(argv[3], "spin");
    RUN(an_answered_drain_leaves_the_pages_to_the_asker);
    RUN(reclaim_waits_only_for_the_cpus_it_asked);
    h_test = "stress";

    s = sim_new(4 * GIB + RAM_HIGH);
    s->max_cpus = ncpu;
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, RAM_LOW / PG, 0);
    sim_add(s, PMM_EFI_RESERVED, RAM_LOW, (MIB - RAM_LOW) / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, RAM_MAIN / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, RAM_HIGH / PG, 0);
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_EQ(pmm_set_lock(p, spin ? spin_lock : mutex_lock, spin ? spin_unlock : mutex_unlock,
                          spin ? (void *)&spin_word : (void *)&mutex),
             PMM_OK);
    npfn = s->bytes / PG;
    owner = calloc(npfn, sizeof *owner);
    pool_lo = MIB / PG;
    pool_hi = (MIB + RAM_MAIN) / PG;
    meta_lo = pmm_state_phys(p) / PG;
    meta_hi = meta_lo + pmm_meta_pages(p);
    struct pmm_stats st = stats();
    free0 = st.free;
    alloc0 = st.alloc;
    for (unsigned i = 0; i < ncpu; i++) {
        cpus[i].id = i;
        cpus[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
        pthread_mutex_init(&cpus[i].qlock, 0);
    }

    /* Stress, with the reader beside it and quiet checks between. */
    double t0 = seconds();
    pthread_t rd;
    pthread_barrier_init(&bar, 0, ncpu + 1);
    pthread_create(&rd, 0, reader, 0);
    start(stress);
    for (unsigned k = 0; k < CHECKS; k++) {
        pthread_barrier_wait(&bar);
        quiet_check("quiet point");
        pthread_barrier_wait(&bar);
    }
    pthread_barrier_wait(&bar);
    join();
    __atomic_store_n(&reader_stop, 1, __ATOMIC_RELAXED);
    pthread_join(rd, 0);
    pthread_barrier_destroy(&bar);
    quiet_check("after the stress phase");
    CHECK_EQ(stats().free, free0);
    CHECK_EQ(stats().cached, 0);
    uint64_t ops = SUM(ops), remote = SUM(remote), shares = SUM(shares), runs = SUM(runs);
    uint64_t low = SUM(low_enomem), blocks = SUM(blocks), block_enomem = SUM(block_enomem);
    printf("stress: %u CPUs (%s lock), %llu rounds in %.2f s: %llu remote frees, %llu shared "
           "pages, %llu runs (%llu of them 2 MiB blocks, %llu PMM_ENOMEM), %llu reader passes, "
           "%llu low-memory PMM_ENOMEM\n",
           ncpu, argv[3], (unsigned long long)ops, seconds() - t0, (unsigned long long)remote,
           (unsigned long long)shares, (unsigned long long)runs, (unsigned long long)blocks,
           (unsigned long long)block_enomem, (unsigned long long)reader_reads,
           (unsigned long long)low);
    CHECK(blocks > 0); /* the block path was taken, under contention */
    for (unsigned i = 0; i < ncpu; i++)
        printf("  CPU %u: %llu allocator calls\n", i, (unsigned long long)cpus[i].calls);

    /* Exhaustion: needs an exhauster, an ended CPU and a live one. */
    if (ncpu >= 3) {
        phase = h_test = "exhaustion";
        unsigned ended = ncpu / 4 ? ncpu / 4 : 1, exh = ended;
        for (unsigned i = 0; i < ncpu; i++) {
            cpus[i].role = i < exh ? EXHAUST : i < exh + ended ? ENDED : LIVE;
            cpus[i].calls = 0;
            cpus[i].got = cpus[i].role == EXHAUST ? malloc(free0 * sizeof(uint64_t)) : 0;
        }
        exhausters = exhausters_left = exh;
        t0 = seconds();
        pthread_barrier_init(&bar, 0, ncpu + 1);
        start(exhaustion);
        pthread_barrier_wait(&bar);
        exhaustion_verdict(); /* passes the barrier where every CPU has stopped */
        quiet_check("exhausted");
        pthread_barrier_wait(&bar);
        join();
        pthread_barrier_destroy(&bar);
        quiet_check("after the exhaustion phase");
        printf("exhaustion phase: %.2f s\n", seconds() - t0);
        CHECK_EQ(stats().free, free0);
        for (unsigned i = 0; i < ncpu; i++)
            free(cpus[i].got);
    }

    CHECK_EQ(__atomic_load_n(&nfail, __ATOMIC_RELAXED), 0);
    h_pass += (int)(__atomic_load_n(&nchecks, __ATOMIC_RELAXED) -
                    __atomic_load_n(&nfail, __ATOMIC_RELAXED));
    free(owner);
    sim_free(s);
    HARNESS_MAIN_END();
}
