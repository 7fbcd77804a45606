/*
 * selftest_smp.c - every CPU that came up uses the allocator at the same time, through its
 * per-CPU cache and through the pool's own calls, and proves that no page was handed out twice and
 * none was lost.
 *
 * Each CPU runs rounds (at least MIN_ROUNDS, then until BUDGET_MS have passed or MAX_ROUNDS are
 * done: under TCG on a loaded host a round can take from a millisecond to a second) of:
 *   singles  HOLD pages from pmm_cpu_alloc (more than a cache holds, so batches move both ways),
 *            tagged, checked, freed with pmm_cpu_free;
 *   runs     two runs of mixed sizes, alignments and bounds (pmm_alloc_run / pmm_free_run, the
 *            lock-free pool), every page tagged;
 *   cross    CROSS pages sent to the next CPU's inbox, and the pages in this CPU's inbox (sent
 *            by the CPU before it) freed to this CPU's cache: allocated on one CPU, freed on
 *            another;
 *   shared   SHARE pages ref_inc'ed to two references and sent to the next CPU, which
 *            ref_decs them; this CPU drops its own reference to them a round later, so the two
 *            ref_decs of a page race on two CPUs and the later one frees it.
 * Then every CPU waits for the others, empties its inbox and drains its cache (pmm_cpu_drain).
 * An inbox is a ring with one producer (the CPU before) and one consumer (its own CPU), one page
 * per CPU from the allocator, and no lock: like the allocator, the test never makes a CPU wait
 * for another that the host may not be running (more vCPUs than cores). A full inbox sends the
 * page back to its sender to finish.
 *
 * NUMA: every page a CPU gets is counted as local or remote to the CPU's node, and a single page
 * from another node while the CPU's own node still had plenty free fails the run.
 *
 * The tag: a CPU that gets a page swaps its tag (a magic, its CPU index, a sequence number) into
 * the page's first word with an atomic exchange and writes the address and the tag's complement
 * into two more words; before giving the page up it checks all three and swaps a "free" marker
 * back in. A page handed to two holders at once is caught by the exchange itself, whatever the
 * timing: the second holder gets the first one's tag back. A holder whose page another CPU wrote
 * finds its tag gone.
 *
 * PASS needs: every CPU that is up reported, no tag or call failed, every cache empty at the
 * end, every page sent received, the free count after equal to the count before, and pmm_check
 * (run here, with the other CPUs back waiting: a quiet moment).
 */
#include "kernel.h"

#define PG         4096ull
#define MIB        (1ull << 20)
#define MIN_ROUNDS 3
#define MAX_ROUNDS 100000 /* in practice the budget ends the rounds */
#define BUDGET_MS  1000
#define HOLD       80 /* > PMM_CPU_CACHE: every round refills and spills the cache */
#define CROSS      8
#define SHARE      2
#define WAIT_S     60 /* plus WAIT_S_CPU per CPU: many vCPUs on few host cores take turns */
#define WAIT_S_CPU 4
#define TAG        0x7a67ull /* bits 63..48 of a held page's first word */
#define FREEMARK   0xf7eeull /* ... of a page the test gave up */

static struct pmm *pm;

struct entry {
    uint64_t phys, tag;
};

/*
 * A ring of pages sent to one CPU: entries [head, tail) modulo QCAP. The sender alone writes tail
 * and sent, the receiver alone head and received, each on its own cache line; release and
 * acquire hand the entries over.
 */
#define QCAP 96
struct queue {
    _Alignas(64) uint32_t tail;
    uint64_t sent;
    _Alignas(64) uint32_t head;
    uint64_t received;
    _Alignas(64) struct entry e[QCAP];
};
struct inbox {
    struct queue cross, share;
};
_Static_assert(sizeof(struct inbox) <= PG, "an inbox fits its page");

struct result {
    uint64_t ops, rounds, singles, runs, cross_freed, foreign, shared_dec, foreign_dec, returned;
    uint64_t local, pages; /* pages this CPU got from the allocator, and how many node-local */
    uint64_t cached_max, failures, started, finished; /* TSC */
    uint32_t done;
} __attribute__((aligned(64)));

/* Per CPU, in one run of allocator pages sized by the CPU count (per_cpu_tables). */
static struct result *res;
static uint32_t *next_cpu; /* where CPU i sends pages: the next one up */
static uint32_t *prev_cpu; /* and who sends to it */
static uint64_t tables_phys, tables_pages;
static uint64_t inbox_phys;
static uint32_t arrived;
static uint64_t deadline; /* TSC: no new round after it (once MIN_ROUNDS are done) */

#define FAIL(r, ...)                                                                               \
    do {                                                                                           \
        (r)->failures++;                                                                           \
        con_hold(); /* one line, whatever the other CPUs print */                                  \
        kprintf("kernel: smp selftest: FAILED on CPU %u: ", cpu);                                  \
        kprintf(__VA_ARGS__);                                                                      \
        kprintf("\n");                                                                             \
        con_release();                                                                             \
    } while (0)

static uint64_t *words(uint64_t phys)
{
    return (uint64_t *)(uintptr_t)(HHDM + phys);
}

static struct inbox *inbox(uint32_t cpu)
{
    return (struct inbox *)(uintptr_t)(HHDM + inbox_phys + cpu * PG);
}

/* Send up to n entries (the sender's side); returns how many fit. */
static int send(struct queue *q, const struct entry *e, int n)
{
    uint32_t t = q->tail, h = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
    int i = 0;
    for (; i < n && t - h < QCAP; i++)
        q->e[t++ % QCAP] = e[i];
    __atomic_store_n(&q->tail, t, __ATOMIC_RELEASE);
    __atomic_store_n(&q->sent, q->sent + (uint64_t)i, __ATOMIC_RELAXED);
    return i;
}

/* Receive up to n entries (the receiver's side); returns how many. */
static int receive(struct queue *q, struct entry *e, int n)
{
    uint32_t h = q->head, t = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    int i = 0;
    for (; i < n && h != t; i++)
        e[i] = q->e[h++ % QCAP];
    __atomic_store_n(&q->head, h, __ATOMIC_RELEASE);
    __atomic_store_n(&q->received, q->received + (uint64_t)i, __ATOMIC_RELAXED);
    return i;
}

/*
 * n pages at phys came to this CPU: count the node-local ones. A single page from another node
 * while this CPU's node has more free than every CPU's cache and batch could hide is a failure.
 */
static void count_node(struct result *r, uint32_t cpu, uint64_t phys, uint64_t n, int single)
{
    uint32_t mine = pmm_cpu_node(pm, cpu);
    for (uint64_t i = 0; i < n; i++) {
        int local = pmm_page_node(pm, (phys >> 12) + i) == mine;
        r->local += (uint64_t)local;
        r->pages++;
        struct pmm_node_stats ns;
        if (single && !local && !pmm_node_stats(pm, mine, &ns) &&
            ns.free > 2ull * PMM_CPU_CACHE * pmm_cpus(pm) + 1024)
            FAIL(r, "page 0x%lx from node %u while node %u has %lu pages free", phys,
                 pmm_page_node(pm, phys >> 12), mine, ns.free);
    }
}

static uint64_t tag_of(uint32_t cpu, uint32_t seq)
{
    return TAG << 48 | (uint64_t)(cpu & 0xffff) << 32 | seq;
}

static uint32_t tag_cpu(uint64_t tag)
{
    return (uint32_t)(tag >> 32 & 0xffff);
}

/* This CPU now holds phys: swap its tag in. A held page's tag coming back is a double hand-out. */
static void claim(struct result *r, uint32_t cpu, uint64_t phys, uint64_t tag)
{
    uint64_t *w = words(phys);
    uint64_t old = __atomic_exchange_n(&w[0], tag, __ATOMIC_ACQ_REL);
    w[1] = phys;
    w[511] = ~tag;
    if (old >> 48 == TAG)
        FAIL(r, "page 0x%lx handed out while CPU %u holds it (tag 0x%lx)", phys, tag_cpu(old), old);
}

/* The page still carries tag, as written; 0 (reported) if not. */
static int intact(struct result *r, uint32_t cpu, uint64_t phys, uint64_t tag)
{
    const uint64_t *w = words(phys);
    uint64_t w0 = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
    if (w0 == tag && w[1] == phys && w[511] == ~tag)
        return 1;
    FAIL(r, "page 0x%lx lost its tag 0x%lx: found 0x%lx (CPU %u) 0x%lx 0x%lx", phys, tag, w0,
         tag_cpu(w0), w[1], w[511]);
    return 0;
}

/* Give the page up: check the tag, swap the free marker in. */
static void unclaim(struct result *r, uint32_t cpu, uint64_t phys, uint64_t tag)
{
    if (intact(r, cpu, phys, tag) &&
        __atomic_exchange_n(&words(phys)[0], FREEMARK << 48, __ATOMIC_ACQ_REL) != tag)
        FAIL(r, "page 0x%lx overwritten while being freed", phys);
}

static int cpu_alloc(struct result *r, uint32_t cpu, uint32_t *seq, struct entry *e)
{
    int rc = pmm_cpu_alloc(pm, cpu, &e->phys);
    r->ops++;
    if (rc) {
        FAIL(r, "pmm_cpu_alloc: %s", pmm_strerror(rc));
        return 0;
    }
    if (e->phys < MIB || e->phys & (PG - 1))
        FAIL(r, "pmm_cpu_alloc gave 0x%lx", e->phys);
    e->tag = tag_of(cpu, (*seq)++);
    claim(r, cpu, e->phys, e->tag);
    count_node(r, cpu, e->phys, 1, 1);
    uint64_t c = pmm_cpu_cached(pm, cpu);
    r->cached_max = c > r->cached_max ? c : r->cached_max;
    return 1;
}

static void cpu_free(struct result *r, uint32_t cpu, uint64_t phys)
{
    int rc = pmm_cpu_free(pm, cpu, phys);
    r->ops++;
    if (rc)
        FAIL(r, "pmm_cpu_free of 0x%lx: %s", phys, pmm_strerror(rc));
}

static void singles(struct result *r, uint32_t cpu, uint32_t *seq)
{
    struct entry held[HOLD];
    int n = 0;
    while (n < HOLD && cpu_alloc(r, cpu, seq, &held[n]))
        n++;
    r->singles += (uint64_t)n;
    for (int i = 0; i < n; i++)
        intact(r, cpu, held[i].phys, held[i].tag);
    for (int i = n - 1; i >= 0; i--) {
        unclaim(r, cpu, held[i].phys, held[i].tag);
        cpu_free(r, cpu, held[i].phys);
    }
}

struct runspec {
    uint64_t n, align, limit;
};
static const struct runspec specs[] = {
    {1, PG, 0},         {3, PG, 0},   {8, 32768, 0},     {17, 65536, 0},  {64, PG, 4ull << 30},
    {16, PG, 16 * MIB}, {1, PG, MIB}, {512, 2 * MIB, 0}, {100, 16384, 0}, {5, 8192, 0},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static void runs(struct result *r, uint32_t cpu, uint32_t round, uint32_t *seq)
{
    struct runspec s[2] = {specs[(cpu + round) % NSPECS], specs[(cpu * 3 + round + 5) % NSPECS]};
    uint64_t at[2];
    uint32_t first[2];
    for (int k = 0; k < 2; k++) {
        int rc = pmm_alloc_run(pm, s[k].n, s[k].align, s[k].limit, &at[k]);
        r->ops++;
        if (rc) {
            FAIL(r, "run of %lu pages aligned 0x%lx below 0x%lx: %s", s[k].n, s[k].align,
                 s[k].limit, pmm_strerror(rc));
            s[k].n = 0;
            continue;
        }
        r->runs++;
        count_node(r, cpu, at[k], s[k].n, 0);
        if (at[k] % s[k].align || (s[k].limit && at[k] + s[k].n * PG > s[k].limit) ||
            (at[k] < MIB && s[k].limit != MIB))
            FAIL(r, "run 0x%lx of %lu pages: not aligned to 0x%lx, or not below 0x%lx", at[k],
                 s[k].n, s[k].align, s[k].limit);
        first[k] = *seq;
        for (uint64_t i = 0; i < s[k].n; i++)
            claim(r, cpu, at[k] + i * PG, tag_of(cpu, (*seq)++));
    }
    for (int k = 0; k < 2; k++) {
        if (!s[k].n)
            continue;
        for (uint64_t i = 0; i < s[k].n; i++)
            unclaim(r, cpu, at[k] + i * PG, tag_of(cpu, (uint32_t)(first[k] + i)));
        int rc = pmm_free_run(pm, at[k], s[k].n);
        r->ops++;
        if (rc)
            FAIL(r, "free of run 0x%lx (%lu pages): %s", at[k], s[k].n, pmm_strerror(rc));
    }
}

/* A page another CPU sent (or one that came back): check its tag, take it over, free it here. */
static void free_received(struct result *r, uint32_t cpu, const struct entry *e, uint32_t *seq)
{
    if (!intact(r, cpu, e->phys, e->tag))
        return;
    uint64_t mine = tag_of(cpu, (*seq)++);
    if (__atomic_exchange_n(&words(e->phys)[0], mine, __ATOMIC_ACQ_REL) != e->tag)
        FAIL(r, "page 0x%lx changed hands under CPU %u", e->phys, cpu);
    words(e->phys)[511] = ~mine;
    unclaim(r, cpu, e->phys, mine);
    cpu_free(r, cpu, e->phys);
    r->cross_freed++;
    r->foreign += tag_cpu(e->tag) != cpu;
}

static void cross(struct result *r, uint32_t cpu, uint32_t *seq)
{
    struct entry e[CROSS];
    int n = 0;
    while (n < CROSS && cpu_alloc(r, cpu, seq, &e[n]))
        n++;
    for (int i = send(&inbox(next_cpu[cpu])->cross, e, n); i < n; i++, r->returned++)
        free_received(r, cpu, &e[i], seq); /* the inbox is full: free it here */
    while ((n = receive(&inbox(cpu)->cross, e, CROSS)))
        for (int i = 0; i < n; i++)
            free_received(r, cpu, &e[i], seq);
}

/*
 * A shared page carries, in word 2, how many holders have yet to drop it. Whoever takes it to 0
 * is the last to look at the page: it swaps the free marker in before its ref_dec (which may or
 * may not be the one that frees the page: the other holder's ref_dec can still be under way).
 */
static void drop(struct result *r, uint32_t cpu, const struct entry *e)
{
    if (!intact(r, cpu, e->phys, e->tag))
        return;
    uint32_t c = 0;
    int rc = pmm_refcount(pm, e->phys, &c);
    if (rc || c < 1 || c > 2)
        FAIL(r, "shared page 0x%lx has %u references (%s), want 1 or 2", e->phys, c,
             pmm_strerror(rc));
    if (__atomic_sub_fetch(&words(e->phys)[2], 1, __ATOMIC_ACQ_REL) == 0)
        unclaim(r, cpu, e->phys, e->tag);
    rc = pmm_ref_dec(pm, e->phys);
    r->ops += 2;
    if (rc)
        FAIL(r, "ref_dec of 0x%lx: %s", e->phys, pmm_strerror(rc));
    r->shared_dec++;
    r->foreign_dec += tag_cpu(e->tag) != cpu;
}

static void share(struct result *r, uint32_t cpu, uint32_t *seq, struct entry *mine, int *nmine)
{
    for (int i = 0; i < *nmine; i++) /* last round's own references */
        drop(r, cpu, &mine[i]);
    *nmine = 0;
    struct entry e;
    while (*nmine < SHARE && cpu_alloc(r, cpu, seq, &e)) {
        words(e.phys)[2] = 2;
        int rc = pmm_ref_inc(pm, e.phys);
        r->ops++;
        if (rc) {
            FAIL(r, "ref_inc of 0x%lx: %s", e.phys, pmm_strerror(rc));
            break;
        }
        mine[(*nmine)++] = e;
    }
    for (int i = send(&inbox(next_cpu[cpu])->share, mine, *nmine); i < *nmine; i++, r->returned++)
        drop(r, cpu, &mine[i]); /* the inbox is full: the other reference is dropped here too */
    while (receive(&inbox(cpu)->share, &e, 1))
        drop(r, cpu, &e);
}

static uint32_t wait_s(uint32_t n)
{
    return WAIT_S + WAIT_S_CPU * n;
}

static int all_arrive(uint32_t n)
{
    __atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t end = rdtsc() + tsc_hz() * wait_s(n);
    while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) < n)
        if (rdtsc() > end)
            return 0;
        else
            cpu_relax();
    return 1;
}

static void on_each_cpu(uint32_t cpu, void *arg)
{
    uint32_t n = *(const uint32_t *)arg, seq = 0;
    struct result *r = &res[cpu];
    struct entry mine[SHARE], e;
    int nmine = 0;
    r->started = rdtsc();
    if (smp_this_cpu() != cpu)
        FAIL(r, "the allocator would be told it runs on CPU %u", smp_this_cpu());
    while (r->rounds < MAX_ROUNDS && (r->rounds < MIN_ROUNDS || rdtsc() < deadline)) {
        singles(r, cpu, &seq);
        runs(r, cpu, (uint32_t)r->rounds, &seq);
        cross(r, cpu, &seq);
        share(r, cpu, &seq, mine, &nmine);
        r->rounds++;
    }
    for (int i = 0; i < nmine; i++)
        drop(r, cpu, &mine[i]);
    /* Nobody sends any more once everyone is here: empty the inbox, then the cache. */
    if (!all_arrive(n))
        FAIL(r, "not every CPU finished its rounds within %u s", wait_s(n));
    while (receive(&inbox(cpu)->cross, &e, 1))
        free_received(r, cpu, &e, &seq);
    while (receive(&inbox(cpu)->share, &e, 1))
        drop(r, cpu, &e);
    uint64_t drained = 0;
    int rc = pmm_cpu_drain(pm, cpu, &drained);
    r->ops++;
    if (rc)
        FAIL(r, "pmm_cpu_drain: %s", pmm_strerror(rc));
    if (pmm_cpu_cached(pm, cpu))
        FAIL(r, "%lu pages still on the cache after pmm_cpu_drain", pmm_cpu_cached(pm, cpu));
    r->finished = rdtsc();
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

/* Every page sent to an inbox was received there; 0 if not (reported). */
static int inboxes_balanced(uint32_t listed)
{
    uint64_t sent = 0, received = 0;
    for (uint32_t i = 0; i < listed; i++) {
        const struct inbox *b = inbox(i);
        sent += b->cross.sent + b->share.sent;
        received += b->cross.received + b->share.received;
    }
    if (sent == received)
        return 1;
    kprintf("kernel: smp selftest: FAILED: %lu pages sent to inboxes, %lu received\n", sent,
            received);
    return 0;
}

/* res, next_cpu and prev_cpu for `listed` CPUs, zeroed; 0 or the allocator's error. */
static int per_cpu_tables(struct pmm *p, uint32_t listed)
{
    uint64_t bytes = (uint64_t)listed * (sizeof *res + 2 * sizeof *next_cpu);
    tables_pages = (bytes + PG - 1) / PG;
    int rc = pmm_alloc_run(p, tables_pages, PG, 0, &tables_phys);
    if (rc)
        return rc;
    uint64_t *w = words(tables_phys);
    for (uint64_t i = 0; i < tables_pages * 512; i++)
        w[i] = 0;
    res = (struct result *)(uintptr_t)(HHDM + tables_phys);
    next_cpu = (uint32_t *)(res + listed);
    prev_cpu = next_cpu + listed;
    return 0;
}

int selftest_smp(struct pmm *p)
{
    uint32_t listed = smp_cpus_listed(), up = smp_cpus_up(), failed = 0;
    pm = p;
    if (pmm_cpus(p) < listed) {
        kprintf("kernel: smp selftest: FAILED: the allocator has %u per-CPU caches for %u CPUs\n",
                pmm_cpus(p), listed);
        return 1;
    }
    int rc = pmm_alloc_run(p, listed, PG, 0, &inbox_phys);
    if (rc) {
        kprintf("kernel: smp selftest: FAILED: no %u pages for the inboxes: %s\n", listed,
                pmm_strerror(rc));
        return 1;
    }
    rc = per_cpu_tables(p, listed);
    if (rc) {
        kprintf("kernel: smp selftest: FAILED: no pages for the per-CPU results: %s\n",
                pmm_strerror(rc));
        pmm_free_run(p, inbox_phys, listed);
        return 1;
    }
    for (uint32_t i = 0; i < listed; i++) {
        uint64_t *w = words(inbox_phys + i * PG);
        for (int k = 0; k < 512; k++)
            w[k] = 0;
    }
    for (uint32_t i = 0; i < listed; i++) {
        if (!smp_cpu_up(i))
            continue;
        next_cpu[i] = i;
        for (uint32_t k = 1; k < listed; k++)
            if (smp_cpu_up((i + k) % listed)) {
                next_cpu[i] = (i + k) % listed;
                break;
            }
        prev_cpu[next_cpu[i]] = i;
    }

    struct pmm_stats s0, s1;
    pmm_stats(p, &s0);
    uint64_t t0 = rdtsc();
    deadline = t0 + tsc_from_us(BUDGET_MS * 1000ull);
    uint32_t finished = smp_run(on_each_cpu, &up);
    uint64_t t1 = rdtsc();
    uint64_t ops = 0, sent = 0, shared = 0;
    for (uint32_t cpu = 0; cpu < listed; cpu++) {
        if (!smp_cpu_up(cpu))
            continue;
        const struct result *r = &res[cpu];
        if (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
            kprintf("kernel: smp selftest: FAILED: CPU %u (APIC ID %u) did not report\n", cpu,
                    smp_apic_id(cpu));
            failed++;
            continue;
        }
        ops += r->ops;
        sent += r->foreign;
        shared += r->foreign_dec;
        failed += r->failures != 0;
        kprintf("kernel: smp selftest: CPU %u (APIC ID %u): %lu operations, %lu rounds in %lu "
                "ms: %lu single pages, %lu runs, %lu pages from CPU %u freed, %lu of its shared "
                "pages ref_dec'ed, %lu came back; cache held up to %lu; %lu failures\n",
                cpu, smp_apic_id(cpu), r->ops, r->rounds,
                tsc_to_us(r->finished - r->started) / 1000, r->singles, r->runs, r->foreign,
                prev_cpu[cpu], r->foreign_dec, r->returned, r->cached_max, r->failures);
        kprintf("kernel: numa: CPU %u node %u: %lu of %lu pages node-local\n", cpu,
                pmm_cpu_node(p, cpu), r->local, r->pages);
    }
    if (finished != up) {
        kprintf("kernel: smp selftest: FAILED: %u of %u CPUs finished\n", finished, up);
        failed++;
    }
    failed += !inboxes_balanced(listed);
    pmm_stats(p, &s1);
    struct pmm_check_fail f = {0, 0};
    rc = pmm_check(p, &f);
    if (s1.free != s0.free || s1.cached || rc) {
        kprintf("kernel: smp selftest: FAILED: free pages before %lu, after %lu; %lu cached; "
                "pmm_check: %s at 0x%lx\n",
                s0.free, s1.free, s1.cached, rc ? f.what : "ok", f.pfn);
        failed++;
    }
    kprintf("kernel: smp selftest: %u CPU%s at once, %lu operations in %lu ms; %lu pages freed and "
            "%lu shared pages ref_dec'ed by a CPU other than their own; free pages before %lu, "
            "after %lu; %lu cached; pmm_check %s\n",
            finished, finished == 1 ? "" : "s", ops, tsc_to_us(t1 - t0) / 1000, sent, shared,
            s0.free, s1.free, s1.cached, rc ? "FAILED" : "ok");
    if (pmm_free_run(p, inbox_phys, listed) || pmm_free_run(p, tables_phys, tables_pages)) {
        kprintf("kernel: smp selftest: FAILED: cannot free the inboxes or the per-CPU results\n");
        failed++;
    }
    return (int)failed;
}
