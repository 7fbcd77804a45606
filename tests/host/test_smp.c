/*
 * test_smp.c - the allocator under real concurrency, with no lock at all: one pthread per CPU,
 * and checks that hold whatever the interleaving.
 *
 *   test_smp CPUS ROUNDS [WORDS]
 *
 * Two stress phases of ROUNDS / 2 rounds per CPU each: first on a state made concurrent with
 * pmm_set_concurrent, pmm_set_cpu_self installed for the even CPUs (their pmm_alloc and pmm_free
 * go through their own cache, the odd ones' straight to the pool); then on the same state handed
 * to a new owner with pmm_adopt (no cpu_self: every pmm_alloc and pmm_free on the pool). Each
 * round is a random mix of: pmm_cpu_alloc / tag / verify / pmm_cpu_free; pages held a while;
 * pmm_alloc and pmm_free; runs of 1 to 1024 pages with alignments up to 2 MiB and limits (below
 * 1 MiB, 16 MiB and 4 GiB too), 2 MiB blocks (512 pages, 2 MiB aligned), freed whole, in pieces
 * or page by page; pages freed on another CPU than the one that got them (sent through that
 * CPU's mailbox); pages shared with up to three other CPUs (pmm_ref_inc on the owner, pmm_ref_dec
 * wherever the reference went, the last of them freeing the page); drains. A reader thread (no
 * CPU) calls pmm_stats, pmm_summary, pmm_refcount, pmm_page_state and the range walks all the
 * while. Then an exhaustion phase (below). WORDS: how many 64-bit words of each page a holder
 * writes (all 512 by default; fewer under the sanitizers).
 *
 * What catches a page handed out twice, or written while held, whatever the timing:
 *  - the tag: a CPU that gets a page swaps its tag (CPU, sequence) into the page's first word
 *    with an atomic exchange, which must return "free" (0 or the free mark): anything else is a
 *    page handed out while another CPU holds it. It writes the other words with a pattern of the
 *    tag, checks all of them before it gives the page up (or hands it on), and swaps the free mark
 *    back in, which must return its own tag.
 *  - the test's own synchronisation gives ThreadSanitizer no happens-before edge between one
 *    holder and the next (the tag exchanges and the shared pages' holder counts are relaxed
 *    atomics): what orders the last reads of a page before the next holder's writes must come
 *    from the allocator, so a missing acquire or release in pmm/ shows as a race on the page's
 *    words (TSan exits 66). Only the mailboxes, which hand pages from CPU to CPU, are locked.
 *  - quiet points (every CPU waits): pmm_check, and the free count is the start minus the pages
 *    the CPUs hold, exactly. At the end every page is freed, every cache drained, pmm_check
 *    passes and the free count is the start.
 *
 * One block, every CPU: the pool holds one 2 MiB block and every CPU allocates from it until
 * PMM_ENOMEM; nobody frees, so a refusal while pages remain (beyond one in flight per other CPU)
 * is a false out-of-memory, such as a lost compare-and-swap retry on the block's count.
 *
 * Exhaustion (pmm.h "No waiting for memory"): every cache is filled; a quarter of the CPUs then
 * make no call ("ended": their pages are out of reach until their next call, as the contract
 * says), half keep calling, one page at a time ("live"), the rest allocate until PMM_ENOMEM
 * ("exhausters"). An exhauster that fails has its own cache empty and has marked the pool short;
 * it waits until every live CPU has made two more calls (which gave their caches back) and asks
 * again, and stops only when that fails too. Then the free pages are those below 1 MiB, those on
 * the ended CPUs' caches and at most what the live CPUs move; and each ended CPU, at its next
 * call, gives its cache back.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "common.h"

HARNESS_GLOBALS

#define MAX_CPUS  16
#define HELD      64  /* allocations one CPU holds at most */
#define QCAP      256 /* messages a CPU's mailbox holds */
#define MAX_SHARE 3   /* other CPUs a shared page goes to */
#define CHECKS    2   /* quiet points per stress phase */
#define TAG       0x7a67ull
#define FREEMARK  0xf7eeull

/* The simulated machine: low memory, a hole, 192 MiB from 1 MiB, 64 MiB above 4 GiB. */
#define RAM_LOW  (640 * 1024)
#define RAM_MAIN (192 * MIB)
#define RAM_HIGH (64 * MIB)

static struct sim *s;
static struct pmm *p;
static unsigned ncpu, words = 512;
static uint64_t rounds, free0, alloc0, run_budget;
static pthread_barrier_t bar;
static const char *phase = "setup";
static _Thread_local uint32_t my_cpu = ~0u;

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

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* pmm_set_cpu_self: the even CPUs say who they are, the odd ones that they are none. */
static uint32_t self(void *ctx)
{
    (void)ctx;
    return my_cpu % 2 == 0 ? my_cpu : PMM_NODE_ANY;
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
    uint64_t run_pages;
    pthread_mutex_t qlock;
    struct msg q[QCAP];
    unsigned qn;
    uint64_t ops, remote, shares, runs, blocks, big, low_enomem, big_enomem, calls;
    /* exhaustion */
    int role;
    uint64_t *got, ngot, retries, recovered, filled;
};
static struct cpu cpus[MAX_CPUS];
static uint16_t *holders; /* per pfn: test holders of a shared page (relaxed atomics) */
static uint64_t npfn;

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

static uint64_t *page(uint64_t phys)
{
    return (uint64_t *)(s->mem + phys);
}
static uint64_t pattern(uint64_t tag, unsigned i)
{
    return tag ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
}
static uint64_t new_tag(struct cpu *c)
{
    return TAG << 48 | (uint64_t)(c->id + 1) << 32 | (++c->seq & 0xffffffffu);
}
static int is_free_word(uint64_t w)
{
    return w == 0 || w >> 48 == FREEMARK;
}

/* CPU c now holds [phys, phys + n pages): swap its tag in, write the pattern. */
static void take(struct cpu *c, uint64_t phys, uint64_t n, uint64_t tag)
{
    unsigned step = 512 / words;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t a = phys + k * PG;
        T_CHECK(a >= PG && a / PG < npfn, "page %#llx outside the machine", (unsigned long long)a);
        if (a < PG || a / PG >= npfn)
            return;
        uint64_t *w = page(a);
        uint64_t old = __atomic_exchange_n(&w[0], tag + k, __ATOMIC_RELAXED);
        T_CHECK(is_free_word(old), "page %#llx handed to CPU %u while CPU %llu holds it (%#llx)",
                (unsigned long long)a, c->id, (unsigned long long)(old >> 32 & 0xffff) - 1,
                (unsigned long long)old);
        for (unsigned i = step; i < 512; i += step)
            w[i] = pattern(tag + k, i);
    }
}

/* The pages still carry the tag and the pattern, as written. */
static void verify(uint64_t phys, uint64_t n, uint64_t tag)
{
    unsigned step = 512 / words;
    for (uint64_t k = 0; k < n; k++) {
        const uint64_t *w = page(phys + k * PG);
        uint64_t w0 = __atomic_load_n(&w[0], __ATOMIC_RELAXED);
        int ok = w0 == tag + k;
        for (unsigned i = step; ok && i < 512; i += step)
            ok = w[i] == pattern(tag + k, i);
        if (!ok) {
            T_CHECK(0, "page %#llx written while held: tag %#llx, holder's %#llx",
                    (unsigned long long)(phys + k * PG), (unsigned long long)w0,
                    (unsigned long long)(tag + k));
            return;
        }
    }
}

/* Give the pages up: verified, the free mark swapped in (it must take the holder's tag out). */
static void give(struct cpu *c, uint64_t phys, uint64_t n, uint64_t tag)
{
    verify(phys, n, tag);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t old =
            __atomic_exchange_n(&page(phys + k * PG)[0], FREEMARK << 48 | c->id, __ATOMIC_RELAXED);
        T_CHECK(old == tag + k, "page %#llx changed hands while CPU %u gave it up",
                (unsigned long long)(phys + k * PG), c->id);
    }
}

/* An allocation that says PMM_OK must have written the page: its variable holds a mark first. */
#define NO_PAGE 0xdeadbeef000ull
static int cpu_alloc(struct cpu *c, uint64_t *x)
{
    *x = NO_PAGE;
    int rc = pmm_cpu_alloc(p, c->id, x);
    T_CHECK(rc != PMM_OK || *x != NO_PAGE, "pmm_cpu_alloc on CPU %u said PMM_OK, gave no page",
            c->id);
    return rc;
}
static int alloc(uint64_t *x)
{
    *x = NO_PAGE;
    int rc = pmm_alloc(p, x);
    T_CHECK(rc != PMM_OK || *x != NO_PAGE, "pmm_alloc said PMM_OK, gave no page");
    return rc;
}
static int alloc_run(uint64_t n, uint64_t align, uint64_t lim, uint64_t *x)
{
    *x = NO_PAGE;
    int rc = pmm_alloc_run(p, n, align, lim, x);
    T_CHECK(rc != PMM_OK || *x != NO_PAGE, "pmm_alloc_run said PMM_OK, gave no run");
    return rc;
}

static void hold(struct cpu *c, uint64_t phys, uint64_t n, enum kind kind)
{
    uint64_t tag = new_tag(c);
    c->seq += n;
    take(c, phys, n, tag);
    c->held[c->nheld++] = (struct item){phys, n, tag, kind};
    c->run_pages += kind == RUN ? n : 0;
}

/* Send to CPU `to`; 0 if its mailbox is full (the sender keeps the page). */
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
 * Drop one reference to a shared page. The last test holder (by the relaxed holder count) swaps
 * the free mark in before its ref_dec, which may or may not be the call that frees the page.
 * Nothing but pmm_ref_dec orders a holder's reads of the page before whatever the page's next
 * owner writes, so a TSan race here means a reference count's release went unseen. The owner,
 * when its reference is the only one left (the others dropped theirs), frees the page instead
 * (pmm_cpu_free or pmm_free): then the free's own acquire of the count is the edge.
 */
static void let_go_shared(struct cpu *c, uint64_t phys, uint64_t tag, int owner)
{
    verify(phys, 1, tag);
    uint32_t count = 0;
    int last = owner && pmm_refcount(p, phys, &count) == PMM_OK && count == 1;
    uint16_t left = __atomic_sub_fetch(&holders[phys / PG], 1, __ATOMIC_RELAXED);
    T_CHECK(left < 0x8000, "shared page %#llx: more releases than holders",
            (unsigned long long)phys);
    T_CHECK(!last || !left, "shared page %#llx: one reference, %u holders",
            (unsigned long long)phys, left + 1u);
    if (!left)
        T_CHECK(__atomic_exchange_n(&page(phys)[0], FREEMARK << 48, __ATOMIC_RELAXED) == tag,
                "shared page %#llx changed hands", (unsigned long long)phys);
    if (last)
        T_RC(phys & PG ? pmm_cpu_free(p, c->id, phys) : pmm_free(p, phys), PMM_OK);
    else
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
            let_go_shared(c, in[i].phys, in[i].tag, 0);
            continue;
        }
        give(c, in[i].phys, 1, in[i].tag);
        T_RC(in[i].phys & PG ? pmm_cpu_free(p, c->id, in[i].phys) : pmm_free(p, in[i].phys),
             PMM_OK);
        c->remote++;
        c->calls++;
    }
}

/* Give up held[i]: verify, then free it one way or another. */
static void release(struct cpu *c, unsigned i, int may_send)
{
    struct item it = c->held[i];
    c->held[i] = c->held[--c->nheld];
    c->run_pages -= it.kind == RUN ? it.n : 0;
    uint64_t r = rnd_c(c) % 100;
    if (it.kind == SHARED) {
        let_go_shared(c, it.phys, it.tag, 1);
        return;
    }
    if (it.kind == SINGLE && may_send && r < 25 && ncpu > 1) {
        verify(it.phys, 1, it.tag);
        uint32_t to = (c->id + 1 + (uint32_t)(rnd_c(c) % (ncpu - 1))) % ncpu;
        if (send(c, to, (struct msg){it.phys, it.tag, 0, SINGLE}))
            return;
    }
    give(c, it.phys, it.n, it.tag);
    c->calls++;
    if (it.kind == SINGLE) {
        T_RC(r % 3 ? pmm_cpu_free(p, c->id, it.phys) : pmm_free(p, it.phys), PMM_OK);
    } else if (r < 50 || it.n == 1) {
        T_RC(pmm_free_run(p, it.phys, it.n), PMM_OK);
    } else { /* the first half as a run, the rest page by page, on the cache or the pool */
        uint64_t h = it.n / 2;
        T_RC(pmm_free_run(p, it.phys, h), PMM_OK);
        for (uint64_t k = h; k < it.n; k++)
            T_RC(k % 2 ? pmm_cpu_free(p, c->id, it.phys + k * PG) : pmm_free(p, it.phys + k * PG),
                 PMM_OK);
    }
}

/* A page shared with k other CPUs: one reference each, dropped where it lands. */
static void share(struct cpu *c)
{
    uint64_t x;
    int rc = cpu_alloc(c, &x);
    T_CHECK(rc == PMM_OK, "pmm_cpu_alloc: %s with memory to spare", pmm_strerror(rc));
    if (rc)
        return;
    unsigned k = 1 + (unsigned)(rnd_c(c) % MAX_SHARE);
    if (k > ncpu - 1)
        k = ncpu - 1;
    __atomic_store_n(&holders[x / PG], (uint16_t)(k + 1), __ATOMIC_RELAXED);
    hold(c, x, 1, SHARED);
    struct item *it = &c->held[c->nheld - 1];
    for (unsigned j = 0; j < k; j++)
        T_RC(pmm_ref_inc(p, x), PMM_OK);
    /* nobody else has it yet: its count is exact, and a free on any path is refused */
    uint32_t count = 0;
    rc = pmm_refcount(p, x, &count);
    T_CHECK(rc == PMM_OK && count == k + 1, "shared page: refcount %s, %u, wanted %u",
            pmm_strerror(rc), count, k + 1);
    T_RC(pmm_cpu_free(p, c->id, x), PMM_ESHARED);
    T_RC(pmm_free(p, x), PMM_ESHARED);
    T_RC(pmm_free_run(p, x, 1), PMM_ESHARED);
    for (unsigned j = 0; j < k; j++) {
        uint32_t to = (c->id + 1 + j) % ncpu;
        if (!send(c, to, (struct msg){x, it->tag, 0, SHARED}))
            let_go_shared(c, x, it->tag, 0); /* its mailbox is full: drop that one here */
    }
    c->shares++;
    c->calls += k + 5;
}

/* A run: mostly small, sometimes up to 1024 pages or a 2 MiB block; some bounded. */
static void run(struct cpu *c)
{
    uint64_t pick = rnd_c(c) % 64, n = 1 + rnd_c(c) % 32, align = PG << (rnd_c(c) % 8), lim = 0;
    if (pick == 0) { /* low memory, as AP start-up code wants: scarce, it may run out */
        lim = MIB;
        n = 1 + n % 4;
        align = PG << (align % 3);
    } else if (pick < 4) {
        lim = 16 * MIB;
    } else if (pick < 8) {
        lim = 4 * GIB;
    } else if (pick < 12) { /* one 2 MiB block */
        n = 512;
        align = 2 * MIB;
    } else if (pick < 16) { /* up to 1024 pages, any alignment up to 2 MiB */
        n = 1 + rnd_c(c) % 1024;
        align = PG << (rnd_c(c) % 10);
    }
    if (c->run_pages + n > run_budget)
        n = 1 + n % 8;
    int big = n > 32 || align > 128 * PG;
    uint64_t x = 0;
    int rc = alloc_run(n, align, lim, &x);
    c->calls++;
    if (rc == PMM_ENOMEM && lim == MIB) {
        c->low_enomem++;
        return;
    }
    if (rc == PMM_ENOMEM && big) { /* the others' pages may split every stretch that large */
        c->big_enomem++;
        return;
    }
    T_CHECK(rc == PMM_OK, "pmm_alloc_run(%llu, %#llx, %#llx): %s", (unsigned long long)n,
            (unsigned long long)align, (unsigned long long)lim, pmm_strerror(rc));
    if (rc)
        return;
    T_CHECK(x % align == 0 && (!lim || x + n * PG <= lim) && (lim == MIB || x >= MIB),
            "run at %#llx of %llu pages breaks its bounds", (unsigned long long)x,
            (unsigned long long)n);
    hold(c, x, n, RUN);
    c->runs++;
    c->blocks += n == 512 && align == 2 * MIB;
    c->big += big;
}

/* The page is on CPU c's cache (only c changes it, so the answer holds until c's next call). */
static int on_my_cache(struct cpu *c, uint64_t phys)
{
    const struct pmm_cache *pc = &p->at.cache[c->id];
    for (uint32_t i = 0; i < pc->n; i++)
        if (pc->page[i] == phys / PG)
            return 1;
    return 0;
}

static void one_round(struct cpu *c)
{
    uint64_t r = rnd_c(c) % 100, x;
    if (c->nheld == HELD || (c->nheld && r < 35)) {
        release(c, (unsigned)(rnd_c(c) % c->nheld), 1);
    } else if (r < 55) { /* the common case: a page, tagged, checked, freed on this CPU */
        T_RC(cpu_alloc(c, &x), PMM_OK);
        hold(c, x, 1, SINGLE);
        release(c, c->nheld - 1, 0);
        if (r % 8 == 0 && on_my_cache(c, x)) { /* held here: every path refuses it */
            T_RC(pmm_cpu_free(p, c->id, x), PMM_EDOUBLE);
            T_RC(pmm_free(p, x), PMM_EDOUBLE);
            T_RC(pmm_ref_inc(p, x), PMM_EDOUBLE);
            c->calls += 3;
        }
        c->calls++;
    } else if (r < 68) {
        T_RC(cpu_alloc(c, &x), PMM_OK);
        hold(c, x, 1, SINGLE);
    } else if (r < 74) {
        T_RC(alloc(&x), PMM_OK);
        hold(c, x, 1, SINGLE);
    } else if (r < 88) {
        run(c);
    } else if (r < 95) {
        if (ncpu > 1)
            share(c);
    } else if (r < 97) {
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

static struct pmm_stats stats(void)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st;
}

/* Sums every snapshot must keep (stats.c builds them so), and bounds. */
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
}

static uint64_t field(const char *line, const char *name)
{
    const char *at = strstr(line, name);
    return at ? strtoull(at + strlen(name), 0, 10) : ~0ull;
}

/* The reader: no CPU of its own, only the calls that may run beside the others, until told. */
static int reader_stop;
static uint64_t reader_reads, pool_lo, pool_hi, meta_lo, meta_hi;
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
        uint64_t start = 0, n = 0;
        for (uint64_t from = pool_lo, i = 0; i < 4 && pmm_next_free_range(p, from, &start, &n); i++)
            from = start + n;
        for (uint64_t from = pool_lo, i = 0; i < 4 && pmm_next_alloc_range(p, from, &start, &n);
             i++)
            from = start + n;
        reader_reads++;
        nanosleep(&(struct timespec){0, 50000}, 0);
    }
    return 0;
}

/* Pages of the machine's RAM that carry a holder's tag (at a quiet point: nobody moves them). */
static uint64_t tagged(void)
{
    static const uint64_t ram[3][2] = {
        {0, RAM_LOW}, {MIB, MIB + RAM_MAIN}, {4 * GIB, 4 * GIB + RAM_HIGH}};
    uint64_t n = 0;
    for (int r = 0; r < 3; r++)
        for (uint64_t a = ram[r][0]; a < ram[r][1]; a += PG)
            n += __atomic_load_n(&page(a)[0], __ATOMIC_RELAXED) >> 48 == TAG;
    return n;
}

/* At a quiet point: pmm_check, and every page not free is held by a CPU (or on its way to one,
 * in a mailbox), exactly. */
static void quiet_check(const char *when)
{
    struct pmm_check_fail f = {0, 0};
    int rc = pmm_check(p, &f);
    if (rc)
        fprintf(stderr, "  %s: pmm_check: %s at %#llx\n", when, f.what, (unsigned long long)f.pfn);
    CHECK_EQ(rc, PMM_OK);
    struct pmm_stats st = stats();
    check_stats(&st);
    CHECK_EQ(st.free, free0 - tagged());
}

static void *stress(void *arg)
{
    struct cpu *c = arg;
    my_cpu = c->id;
    for (unsigned k = 0; k < CHECKS; k++) {
        for (uint64_t r = 0; r < rounds / 2 / CHECKS; r++)
            one_round(c);
        pthread_barrier_wait(&bar); /* main checks */
        pthread_barrier_wait(&bar);
    }
    pthread_barrier_wait(&bar); /* nobody sends any more */
    take_mail(c);
    while (c->nheld)
        release(c, c->nheld - 1, 0);
    T_RC(pmm_cpu_drain(p, c->id, 0), PMM_OK);
    T_CHECK(pmm_cpu_cached(p, c->id) == 0, "cache not empty after pmm_cpu_drain");
    return 0;
}

/*
 * Exhaustion. Roles: ENDED fills its cache and makes no call until told; LIVE keeps calling, one
 * page at a time; EXHAUST allocates until PMM_ENOMEM (see the top of the file).
 */
enum { EXHAUST, LIVE, ENDED };
static uint64_t exhausters_left;
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

static void exhaust(struct cpu *c)
{
    uint64_t x;
    int retry = 0;
    for (;;) {
        uint32_t gen = __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED);
        int rc = cpu_alloc(c, &x);
        if (rc == PMM_OK) {
            uint64_t old = __atomic_exchange_n(&page(x)[0], new_tag(c), __ATOMIC_RELAXED);
            T_CHECK(is_free_word(old), "page %#llx handed out twice", (unsigned long long)x);
            c->got[c->ngot++] = x;
            c->recovered += retry;
            retry = 0;
            continue;
        }
        T_CHECK(rc == PMM_ENOMEM, "pmm_cpu_alloc: %s", pmm_strerror(rc));
        /* its own cache is empty when it gives up, and it said the pool was short */
        T_CHECK(pmm_cpu_cached(p, c->id) == 0, "PMM_ENOMEM with %llu pages on its own cache",
                (unsigned long long)pmm_cpu_cached(p, c->id));
        T_CHECK(__atomic_load_n(&p->short_gen, __ATOMIC_RELAXED) != gen,
                "PMM_ENOMEM without the shortage marked");
        if (retry)
            break;
        retry = 1;
        c->retries++;
        live_progress();
    }
    __atomic_fetch_sub(&exhausters_left, 1, __ATOMIC_RELEASE);
}

static void *exhaustion(void *arg)
{
    struct cpu *c = arg;
    my_cpu = c->id;
    uint64_t x[PMM_CPU_CACHE];
    for (unsigned i = 0; i < PMM_CPU_CACHE; i++)
        T_RC(cpu_alloc(c, &x[i]), PMM_OK);
    for (unsigned i = 0; i < PMM_CPU_CACHE; i++)
        T_RC(pmm_cpu_free(p, c->id, x[i]), PMM_OK);
    c->filled = pmm_cpu_cached(p, c->id); /* 62, or fewer if a batch came short and spilled */
    pthread_barrier_wait(&bar);           /* every cache holds pages */
    if (c->role == EXHAUST) {
        exhaust(c);
    } else if (c->role == LIVE) {
        while (!__atomic_load_n(&live_stop, __ATOMIC_ACQUIRE)) {
            uint64_t one;
            int rc = cpu_alloc(c, &one);
            if (rc == PMM_OK) {
                uint64_t tag = new_tag(c);
                take(c, one, 1, tag);
                give(c, one, 1, tag);
                T_RC(pmm_cpu_free(p, c->id, one), PMM_OK);
            } else {
                T_CHECK(rc == PMM_ENOMEM, "pmm_cpu_alloc: %s", pmm_strerror(rc));
            }
            __atomic_store_n(&c->calls, c->calls + 1, __ATOMIC_RELAXED);
            sched_yield(); /* more threads than cores: leave the exhausters the time */
        }
    }
    pthread_barrier_wait(&bar); /* stopped: main reads every counter */
    pthread_barrier_wait(&bar); /* the ended CPUs call again */
    if (c->role == ENDED) {
        uint32_t before = p->at.cache[c->id].n;
        T_CHECK(before == c->filled, "an ended CPU's cache changed: %u, was %llu", before,
                (unsigned long long)c->filled);
        uint64_t old = __atomic_exchange_n(&page(c->got[0])[0], FREEMARK << 48, __ATOMIC_RELAXED);
        T_CHECK(old >> 48 == TAG, "exhaustion page %#llx lost its tag",
                (unsigned long long)c->got[0]);
        T_RC(pmm_cpu_free(p, c->id, c->got[0]), PMM_OK); /* its next call gives it all back */
        T_CHECK(pmm_cpu_cached(p, c->id) <= 1, "an ended CPU kept %llu pages at its next call",
                (unsigned long long)pmm_cpu_cached(p, c->id));
        c->ngot = 0;
    }
    pthread_barrier_wait(&bar);
    for (uint64_t i = 0; i < c->ngot; i++) { /* only the tag word: they were not written */
        uint64_t old = __atomic_exchange_n(&page(c->got[i])[0], FREEMARK << 48, __ATOMIC_RELAXED);
        T_CHECK(old >> 48 == TAG && (old >> 32 & 0xffff) == c->id + 1u,
                "exhaustion page %#llx changed hands", (unsigned long long)c->got[i]);
        T_RC(pmm_cpu_free(p, c->id, c->got[i]), PMM_OK);
    }
    T_RC(pmm_cpu_drain(p, c->id, 0), PMM_OK);
    return 0;
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

/*
 * First use: every block is FRESH, and each CPU takes 1 to 4 pages 2 MiB aligned, which opens a
 * new block each time (its words and counts written by whoever takes it whole first). The pages
 * are published through relaxed stores, and the reader asks about them: nothing but the block's
 * state, released after its words and acquired before they are read, orders the opener's writes
 * of the counts before the reader's reads of them.
 */
#define PUB 4096
static uint64_t pub[PUB], pub_n;
static int first_stop;
/* The reader asks about one published page: allocated, one reference. */
static void first_read(uint64_t x)
{
    uint32_t count = 0;
    int rc = pmm_refcount(p, x, &count);
    T_CHECK(rc == PMM_OK && count == 1, "refcount of a page just handed out: %s, %u",
            pmm_strerror(rc), count);
    T_CHECK(pmm_page_state(p, x / PG) == PMM_PAGE_ALLOC, "page %#llx not allocated",
            (unsigned long long)x);
}

/* While the CPUs take their pages, random published ones; then every one of them, once. */
static void *first_reader(void *arg)
{
    uint64_t rng = 0x853c49e6748fea9bull;
    (void)arg;
    while (!__atomic_load_n(&first_stop, __ATOMIC_RELAXED)) {
        uint64_t n = __atomic_load_n(&pub_n, __ATOMIC_RELAXED);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint64_t x = n ? __atomic_load_n(&pub[rng % (n < PUB ? n : PUB)], __ATOMIC_RELAXED) : 0;
        if (x)
            first_read(x);
        else
            sched_yield();
    }
    uint64_t n = __atomic_load_n(&pub_n, __ATOMIC_RELAXED);
    for (uint64_t i = 0; i < n && i < PUB; i++) {
        uint64_t x = __atomic_load_n(&pub[i], __ATOMIC_RELAXED);
        if (x)
            first_read(x);
    }
    return 0;
}

static void *first_use(void *arg)
{
    struct cpu *c = arg;
    my_cpu = c->id;
    unsigned k = 96 / ncpu ? 96 / ncpu : 1;
    for (unsigned i = 0; i < k; i++) {
        uint64_t n = 1 + rnd_c(c) % 4, x;
        int rc = pmm_alloc_run(p, n, 2 * MIB, 0, &x);
        T_CHECK(rc == PMM_OK, "first use: pmm_alloc_run(%llu, 2 MiB): %s", (unsigned long long)n,
                pmm_strerror(rc));
        if (rc)
            break;
        hold(c, x, n, RUN);
        uint64_t at = __atomic_fetch_add(&pub_n, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&pub[at % PUB], x, __ATOMIC_RELAXED);
    }
    pthread_barrier_wait(&bar); /* the reader stops */
    pthread_barrier_wait(&bar);
    while (c->nheld)
        release(c, c->nheld - 1, 0);
    return 0;
}

static void first_use_phase(void)
{
    phase = h_test = "first use";
    pthread_t rd;
    pthread_barrier_init(&bar, 0, ncpu + 1);
    pthread_create(&rd, 0, first_reader, 0);
    start(first_use);
    pthread_barrier_wait(&bar);
    __atomic_store_n(&first_stop, 1, __ATOMIC_RELAXED);
    pthread_join(rd, 0);
    uint64_t opened = 0;
    for (uint64_t b = 0; b < p->nblocks; b++)
        opened += p->at.own[b] == OWN_ALL;
    quiet_check("first use");
    pthread_barrier_wait(&bar);
    join();
    pthread_barrier_destroy(&bar);
    for (unsigned i = 0; i < ncpu; i++)
        T_RC(pmm_cpu_drain(p, i, 0), PMM_OK);
    quiet_check("after first use");
    CHECK_EQ(stats().free, free0);
    printf("first use: %llu runs opened %llu blocks\n",
           (unsigned long long)__atomic_load_n(&pub_n, __ATOMIC_RELAXED),
           (unsigned long long)opened);
    CHECK(opened >= 64);
}

static void stress_phase(const char *name)
{
    phase = h_test = name;
    double t0 = seconds();
    uint64_t ops0 = SUM(ops);
    pthread_t rd;
    __atomic_store_n(&reader_stop, 0, __ATOMIC_RELAXED);
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
    printf("%s: %u CPUs, %llu rounds in %.2f s\n", name, ncpu,
           (unsigned long long)(SUM(ops) - ops0), seconds() - t0);
}

/*
 * One block, every CPU: the pool holds the 512 pages of one 2 MiB block and nothing else, and
 * every CPU calls pmm_alloc (the pool: no cpu_self after the adoption) until PMM_ENOMEM, the odd
 * ones after taking runs of 2 to 4 pages while they could; in the end all 512 were handed out,
 * none lost to a claim that failed halfway. Nobody
 * frees, so the free pages only decrease: a CPU that is refused while more pages are still free
 * than the others can have reserved in the meantime (up to 4 each) got a false PMM_ENOMEM, such as
 * a reservation that gives up when its compare-and-swap on the count lost to another CPU's.
 */
#define CONTEND_ROUNDS 256
static uint64_t contend_taken;
static void *contend(void *arg)
{
    struct cpu *c = arg;
    my_cpu = c->id;
    pthread_barrier_wait(&bar);
    uint64_t x, n = 2 + c->id % 3;
    int rc;
    /* the odd CPUs take runs of 2 to 4 pages while they can (exact claims racing the others'
     * single-page claims in the same words), then single pages like the rest */
    while (c->id % 2 && pmm_alloc_run(p, n, PG, 0, &x) == PMM_OK) {
        for (uint64_t k = 0; k < n; k++)
            c->got[c->ngot++] = x + k * PG;
        __atomic_fetch_add(&contend_taken, n, __ATOMIC_RELAXED);
    }
    while ((rc = pmm_alloc(p, &x)) == PMM_OK) {
        c->got[c->ngot++] = x;
        __atomic_fetch_add(&contend_taken, 1, __ATOMIC_RELAXED);
    }
    uint64_t taken = __atomic_load_n(&contend_taken, __ATOMIC_RELAXED);
    T_CHECK(rc == PMM_ENOMEM, "pmm_alloc: %s", pmm_strerror(rc));
    T_CHECK(taken + 4 * (ncpu - 1) >= PMM_BLOCK_PAGES, /* up to 4 in flight per other CPU */
            "false PMM_ENOMEM: %llu of %u pages taken, %u CPUs", (unsigned long long)taken,
            (unsigned)PMM_BLOCK_PAGES, ncpu);
    return 0;
}

static void one_block_phase(void)
{
    phase = h_test = "one block, every CPU";
    uint64_t *mine = malloc(free0 * sizeof *mine), n = 0, x;
    unsigned char *held = calloc(npfn, 1);
    while (n < free0 && pmm_alloc(p, &mine[n]) == PMM_OK)
        held[mine[n++] / PG] = 1;
    for (unsigned i = 0; i < ncpu; i++) {
        cpus[i].got = malloc(PMM_BLOCK_PAGES * sizeof(uint64_t));
        cpus[i].ngot = 0;
    }
    uint64_t rounds_done = 0, b = MIB / PG, k;
    for (uint64_t tries = 0; rounds_done < CONTEND_ROUNDS && tries < 64 * CONTEND_ROUNDS; tries++) {
        b += PMM_BLOCK_PAGES; /* round and round the blocks we hold whole */
        if (b + PMM_BLOCK_PAGES > npfn)
            b = MIB / PG;
        for (k = 0; k < PMM_BLOCK_PAGES && held[b + k];)
            k++;
        if (k < PMM_BLOCK_PAGES)
            continue; /* not a block the pool gave us whole */
        for (k = 0; k < PMM_BLOCK_PAGES; k++) {
            T_RC(pmm_free(p, (b + k) * PG), PMM_OK);
            held[b + k] = 0;
        }
        T_CHECK(pmm_alloc_run(p, 1, PG, 0, &x) == PMM_OK && x / PG >= b &&
                    x / PG < b + PMM_BLOCK_PAGES && pmm_free(p, x) == PMM_OK,
                "the pool holds more than block %#llx", (unsigned long long)b);
        contend_taken = 0;
        pthread_barrier_init(&bar, 0, ncpu + 1);
        start(contend);
        pthread_barrier_wait(&bar);
        join();
        pthread_barrier_destroy(&bar);
        CHECK_EQ(contend_taken, PMM_BLOCK_PAGES);
        for (unsigned i = 0; i < ncpu; i++) {
            for (uint64_t j = 0; j < cpus[i].ngot; j++)
                held[cpus[i].got[j] / PG] = 1;
            cpus[i].ngot = 0;
        }
        rounds_done++;
    }
    CHECK_EQ(rounds_done, CONTEND_ROUNDS);
    struct pmm_check_fail f = {0, 0};
    CHECK_EQ(pmm_check(p, &f), PMM_OK);
    for (uint64_t pfn = 0; pfn < npfn; pfn++)
        if (held[pfn])
            T_RC(pmm_free(p, pfn * PG), PMM_OK);
    for (unsigned i = 0; i < ncpu; i++)
        free(cpus[i].got);
    free(held);
    free(mine);
    quiet_check("after one block, every CPU");
    CHECK_EQ(stats().free, free0);
    printf("one block, every CPU: %llu rounds of %u CPUs on 512 pages\n",
           (unsigned long long)rounds_done, ncpu);
}

static void exhaustion_phase(void)
{
    phase = h_test = "exhaustion";
    unsigned ended = ncpu / 4 ? ncpu / 4 : 1, exh = ended;
    for (unsigned i = 0; i < ncpu; i++) {
        cpus[i].role = i < exh ? EXHAUST : i < exh + ended ? ENDED : LIVE;
        cpus[i].calls = cpus[i].ngot = 0;
        cpus[i].got = malloc((cpus[i].role == EXHAUST ? free0 : 1) * sizeof(uint64_t));
    }
    uint64_t low = 0; /* free below 1 MiB: for bounded runs only, never for pmm_cpu_alloc */
    for (uint64_t pfn = 0; pfn < MIB / PG; pfn++)
        low += pmm_page_state(p, pfn) == PMM_PAGE_FREE;
    exhausters_left = exh;
    double t0 = seconds();
    pthread_barrier_init(&bar, 0, ncpu + 1);
    start(exhaustion);
    pthread_barrier_wait(&bar);
    while (__atomic_load_n(&exhausters_left, __ATOMIC_ACQUIRE))
        sched_yield();
    live_progress();
    struct pmm_stats st = stats();
    uint64_t ended_cached = 0, ended_filled = 0, live_cached = 0, nlive = 0;
    for (unsigned i = 0; i < ncpu; i++) {
        if (cpus[i].role == ENDED) {
            ended_cached += pmm_cpu_cached(p, i);
            ended_filled += cpus[i].filled;
        }
        if (cpus[i].role == LIVE) {
            live_cached += pmm_cpu_cached(p, i);
            nlive++;
        }
    }
    __atomic_store_n(&live_stop, 1, __ATOMIC_RELEASE);
    pthread_barrier_wait(&bar);
    check_stats(&st);
    uint64_t got = SUM(ngot);
    printf("exhaustion: %llu pages allocated of %llu free; then free %llu: %llu below 1 MiB, "
           "%llu on ended CPUs' caches, %llu on live ones'; %llu retries after PMM_ENOMEM, %llu "
           "of them found pages (%.2f s)\n",
           (unsigned long long)got, (unsigned long long)free0, (unsigned long long)st.free,
           (unsigned long long)low, (unsigned long long)ended_cached,
           (unsigned long long)live_cached, (unsigned long long)SUM(retries),
           (unsigned long long)SUM(recovered), seconds() - t0);
    CHECK_EQ(ended_cached, ended_filled); /* no call: nothing taken from them */
    CHECK(ended_cached > 0);
    CHECK(st.free >= low + ended_cached);
    /* no false out-of-memory: nothing else free but what the live CPUs move about */
    CHECK(st.free <= low + ended_cached + nlive * PMM_CPU_CACHE);
    quiet_check("exhausted");
    for (unsigned i = 0; i < ncpu; i++) /* an ended CPU frees one page at its next call */
        if (cpus[i].role == ENDED)
            cpus[i].got[0] = cpus[0].got[--cpus[0].ngot];
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    join();
    pthread_barrier_destroy(&bar);
    quiet_check("after the exhaustion phase");
    CHECK_EQ(stats().free, free0);
    for (unsigned i = 0; i < ncpu; i++)
        free(cpus[i].got);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (ncpu = (unsigned)atoi(argv[1])) < 1 || ncpu > MAX_CPUS ||
        (rounds = strtoull(argv[2], 0, 10)) < 2 * CHECKS ||
        (argc > 3 && ((words = (unsigned)atoi(argv[3])) < 1 || words > 512 || 512 % words))) {
        fprintf(stderr, "usage: test_smp CPUS(1-%d) ROUNDS(>=%d) [WORDS(divides 512)]\n", MAX_CPUS,
                2 * CHECKS);
        return 2;
    }
    s = sim_new(4 * GIB + RAM_HIGH);
    s->max_cpus = ncpu;
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, RAM_LOW / PG, 0);
    sim_add(s, PMM_EFI_RESERVED, RAM_LOW, (MIB - RAM_LOW) / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, RAM_MAIN / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, RAM_HIGH / PG, 0);
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    npfn = s->bytes / PG;
    holders = calloc(npfn, sizeof *holders);
    pool_lo = MIB / PG;
    pool_hi = (MIB + RAM_MAIN) / PG;
    meta_lo = pmm_state_phys(p) / PG;
    meta_hi = meta_lo + pmm_meta_pages(p);
    struct pmm_stats st = stats();
    free0 = st.free;
    alloc0 = st.alloc;
    run_budget = free0 / (4 * ncpu);
    for (unsigned i = 0; i < ncpu; i++) {
        cpus[i].id = i;
        cpus[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
        pthread_mutex_init(&cpus[i].qlock, 0);
    }

    /* 1: concurrent, the even CPUs' pmm_alloc and pmm_free through their caches */
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    CHECK_EQ(pmm_set_cpu_self(p, self, 0), PMM_OK);
    first_use_phase();
    stress_phase("stress, concurrent");
    /* 2: handed to a new owner (no cpu_self: pmm_alloc and pmm_free on the pool) */
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    int err = 0;
    struct pmm *q = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err);
    CHECK(q == p);
    CHECK_EQ(err, PMM_OK);
    stress_phase("stress, adopted");

    uint64_t ops = SUM(ops), remote = SUM(remote), shares = SUM(shares), runs = SUM(runs);
    printf("stress: %u CPUs, %llu rounds: %llu remote frees, %llu shared pages, %llu runs (%llu "
           "2 MiB blocks, %llu large; %llu large PMM_ENOMEM), %llu low-memory PMM_ENOMEM, %llu "
           "reader passes\n",
           ncpu, (unsigned long long)ops, (unsigned long long)remote, (unsigned long long)shares,
           (unsigned long long)runs, (unsigned long long)SUM(blocks), (unsigned long long)SUM(big),
           (unsigned long long)SUM(big_enomem), (unsigned long long)SUM(low_enomem),
           (unsigned long long)reader_reads);
    CHECK(SUM(blocks) > 0); /* the block path was taken, under contention */
    CHECK(ncpu == 1 || shares > 0);
    one_block_phase();

    /* Exhaustion: needs an exhauster, an ended CPU and a live one. */
    if (ncpu >= 3)
        exhaustion_phase();

    CHECK_EQ(__atomic_load_n(&nfail, __ATOMIC_RELAXED), 0);
    h_pass += (int)(__atomic_load_n(&nchecks, __ATOMIC_RELAXED) -
                    __atomic_load_n(&nfail, __ATOMIC_RELAXED));
    free(holders);
    sim_free(s);
    HARNESS_MAIN_END();
}
