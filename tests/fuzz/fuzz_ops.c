/*
 * fuzz_ops.c - operation sequences against a reference model.
 *
 * Input: a flags byte (bit 0: a second RAM window of 8 MiB at 4 GiB, so both single-page zones
 * exist; bit 1: reconcile with PMM_HOLD_BOOT_MEMORY; bit 2: two per-CPU caches), a count and that
 * many extra descriptors laid over a small PC's map (type, start, length, runtime bit), then
 * operations, one byte of opcode and its arguments each: alloc, drain (alloc until none is left),
 * alloc_run (count, alignment including 0 and non-powers of two, limit including 0, below 1 MiB
 * and arbitrary), free and free_run (of allocated pages or of arbitrary, unaligned or huge
 * addresses), ref_inc (one, a few, or a burst up to the limit), ref_dec, refcount, reconcile (the
 * simulated ExitBootServices; operations before it run in the boot phase with a claiming
 * firmware), release_boot, and with caches cpu_alloc, cpu_free and cpu_drain on either CPU;
 * pmm_drain; and entering or leaving concurrent mode (after reconcile), where the same calls take
 * the atomic paths and pmm_alloc goes to the pool.
 *
 * The model is one state and one reference count per page; pages held on a cache are free to it,
 * and where they are is read from the caches. Every return code is the one the model predicts
 * (PMM_ENOMEM exactly when no page or run is within reach: the pool's pages and the caller's own
 * cache, not another CPU's, pmm.h "No waiting for memory"); every page handed out was free and
 * lies where the request allowed; a refused call leaves the metadata byte for byte as it was, or,
 * for PMM_ENOMEM (which may give the caller's cache back and clear stale summary bits), every
 * page's state and count; every 32 operations each page's state and count are compared and
 * pmm_check runs; after each operation the statistics agree with the model; at the end every
 * allocated page is released, the caches drained, and the pool must be whole again. Nothing
 * outside the metadata run may be written.
 */
#include <stddef.h>

#include "fuzz.h"
#include "pool.h"

#define LOW_PAGES  4096ull      /* RAM window 1: [0, 16 MiB) */
#define HIGH_BASE  (1ull << 20) /* RAM window 2: [4 GiB, 4 GiB + 8 MiB) when enabled */
#define HIGH_PAGES 2048ull
#define NPAGES     (LOW_PAGES + HIGH_PAGES)
#define MAX_OPS    256
#define NCPUS      2
/* Maps compared and pmm_check run every EVERY operations (4x as far apart with the 4 GiB window,
 * whose sections are twice as many). */
#define EVERY 32

enum { M_HOLE, M_NEVER, M_WITHHELD, M_META, M_FREE, M_ALLOC };

static struct sim *small, *big;
static struct sim *s;
static struct pmm *p;
static unsigned char kind[NPAGES], st[NPAGES], blocked[NPAGES];
static uint32_t ref[NPAGES];
static uint64_t alloc_list[NPAGES], alloc_pos[NPAGES], nlist, nfree, nfree_high; /* >= 1 MiB */
static uint64_t span, total, meta, mpages, windows;
static uint32_t ncpus;
static int reconciled, hold, held;

static int64_t idx(uint64_t pfn)
{
    if (pfn < LOW_PAGES)
        return (int64_t)pfn;
    if (windows > 1 && pfn >= HIGH_BASE && pfn - HIGH_BASE < HIGH_PAGES)
        return (int64_t)(LOW_PAGES + pfn - HIGH_BASE);
    return -1;
}
static uint64_t pfn_of(uint64_t i)
{
    return i < LOW_PAGES ? i : HIGH_BASE + i - LOW_PAGES;
}
static unsigned state(uint64_t pfn)
{
    int64_t i = idx(pfn);
    return i < 0 ? M_HOLE : st[i];
}

static void m_alloc(uint64_t pfn)
{
    int64_t i = idx(pfn);
    st[i] = M_ALLOC;
    ref[i] = 1;
    alloc_pos[i] = nlist;
    alloc_list[nlist++] = pfn;
    nfree--;
    nfree_high -= pfn >= 256;
}
static void m_free(uint64_t pfn)
{
    int64_t i = idx(pfn), last = idx(alloc_list[--nlist]);
    st[i] = M_FREE;
    ref[i] = 0;
    alloc_list[alloc_pos[i]] = pfn_of((uint64_t)last);
    alloc_pos[last] = alloc_pos[i];
    nfree++;
    nfree_high += pfn >= 256;
}

/* Cache k: the CPUs' (k < ncpus) and the allocator's own (k == ncpus). */
static const struct pmm_cache *cache(uint32_t k)
{
    return k < ncpus ? &p->at.cache[k] : &p->home;
}
/* Pages held on caches other than `mine` (ncpus + 1: on any): out of reach of the caller. */
static uint64_t held_elsewhere(uint32_t mine)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k <= ncpus; k++)
        n += k == mine ? 0 : cache(k)->n;
    return n;
}
/* The cache pmm_alloc and pmm_free use (pool.h cache_for_caller): ncpus + 1 for none. */
static uint32_t callers_cache(void)
{
    return !reconciled || p->concurrent ? ncpus + 1 : ncpus;
}

/*
 * A refused call must leave the metadata as it was: the whole run is copied (snap) and compared,
 * byte for byte. A PMM_ENOMEM may give the caller's cache back and clear stale summary bits: then
 * every page's state and count and the fixed header are compared (view).
 */
static unsigned char snap[1u << 20];
static uint64_t view_before;

static unsigned char homed[NPAGES]; /* on the allocator's own cache: held, count left at 0 */
static void find_homed(void)
{
    memset(homed, 0, sizeof homed);
    for (uint32_t j = 0; j < cache(ncpus)->n; j++) {
        int64_t h = idx(cache(ncpus)->page[j]);
        FZ_ASSERT(h >= 0, "page %#llx on the own cache is outside the map",
                  (unsigned long long)cache(ncpus)->page[j]);
        homed[h] = 1;
    }
}
static uint64_t view(void)
{
    find_homed();
    uint64_t h = fz_hash(p, offsetof(struct pmm, at), 0xcbf29ce484222325ull);
    for (uint64_t i = 0; i < (windows > 1 ? NPAGES : LOW_PAGES); i += 64) {
        uint64_t pfn = pfn_of(i);
        if (pfn >= span)
            break;
        uint64_t c = cidx(p, pfn), wi = c >> 6, own = own_view(p, wi), fr = free_view(p, wi);
        for (unsigned b = 0; b < 64; b++) {
            uint16_t v = ((own & ~fr) >> b) & 1 ? p->at.refs[c + b] : 0;
            unsigned char x = !((own >> b) & 1)                                      ? 0
                              : ((fr >> b) & 1) || v == PMM_REF_HELD || homed[i + b] ? 1
                                                                                     : 2;
            h = (h ^ x) * 0x100000001b3ull;
            if (x == 2)
                h = (h ^ v) * 0x100000001b3ull;
        }
    }
    return h;
}
static void state_snap(int enomem)
{
    if (enomem)
        view_before = view();
    else
        memcpy(snap, p, mpages * PG);
}
#define SAME_STATE(call, enomem)                                                                   \
    do {                                                                                           \
        if ((enomem) ? view() != view_before : memcmp(snap, p, mpages * PG) != 0)                  \
            FZ_FAIL("a refused %s changed the state", call);                                       \
    } while (0)

/*
 * Does a run of n free pages at a multiple of a (pages) lie in [lo, hi), none of them on a cache
 * other than the caller's? By brute force.
 */
static int m_run_exists(uint64_t n, uint64_t a, uint64_t lo, uint64_t hi)
{
    uint64_t wlo[2] = {0, HIGH_BASE}, whi[2] = {LOW_PAGES, HIGH_BASE + HIGH_PAGES};
    for (uint64_t w = 0; w < windows; w++) {
        uint64_t from = lo > wlo[w] ? lo : wlo[w], to = hi < whi[w] ? hi : whi[w];
        for (uint64_t s0 = (from + a - 1) / a * a; s0 < to && n <= to - s0; s0 += a) {
            uint64_t k = 0;
            while (k < n && state(s0 + k) == M_FREE && !blocked[idx(s0 + k)])
                k++;
            if (k == n)
                return 1;
            s0 = (s0 + k) / a * a; /* the next candidate lies past the page that is not free */
        }
    }
    return 0;
}
/* blocked[]: the pages on caches other than `mine` (ncpus + 1: every cache). */
static void block_cached(uint32_t mine)
{
    memset(blocked, 0, sizeof blocked);
    for (uint32_t k = 0; k <= ncpus; k++)
        for (uint32_t j = 0; k != mine && j < cache(k)->n; j++) {
            int64_t i = idx(cache(k)->page[j]);
            FZ_ASSERT(i >= 0 && st[i] == M_FREE, "cached page %#llx is not free in the model",
                      (unsigned long long)cache(k)->page[j]);
            blocked[i] = 1;
        }
}

/* The result pmm_free / ref_* / refcount must give for one page address. */
static int expect_page(uint64_t addr, int sole)
{
    if (addr % PG)
        return PMM_EINVAL;
    uint64_t pfn = addr / PG;
    switch (state(pfn)) {
    case M_ALLOC:
        return sole && ref[idx(pfn)] > 1 ? PMM_ESHARED : PMM_OK;
    case M_FREE:
        return PMM_EDOUBLE;
    default:
        return PMM_ENOTOWNED;
    }
}

/*
 * The allocator's pages against the model: owned and free (held counts as free) word by word and
 * the count of every allocated page, then pmm_check; with `full`, also each page's state
 * (pmm_page_state).
 */
static void compare_all(const char *after, int full)
{
    static const enum pmm_page_state as[] = {
        [M_HOLE] = PMM_PAGE_HOLE, [M_NEVER] = PMM_PAGE_NEVER, [M_WITHHELD] = PMM_PAGE_WITHHELD,
        [M_META] = PMM_PAGE_META, [M_FREE] = PMM_PAGE_FREE,   [M_ALLOC] = PMM_PAGE_ALLOC,
    };
    find_homed(); /* the allocator's own cache keeps its pages' counts at 0 (cache.h) */
    for (uint64_t i = 0; i < (windows > 1 ? NPAGES : LOW_PAGES); i += 64) {
        uint64_t pfn = pfn_of(i), wo = 0, wf = 0, ao = 0, af = 0;
        uint64_t c = pfn < span ? cidx(p, pfn) : PMM_NONE; /* compact: state.h */
        if (c != PMM_NONE) {
            ao = own_view(p, c >> 6);
            af = free_view(p, c >> 6);
        }
        for (unsigned b = 0; b < 64; b++) {
            wo |= (uint64_t)(st[i + b] == M_FREE || st[i + b] == M_ALLOC) << b;
            wf |= (uint64_t)(st[i + b] == M_FREE) << b;
            if (c == PMM_NONE || !((ao & ~af) >> b & 1))
                continue;
            uint16_t v = p->at.refs[c + b];
            if (homed[i + b]) {
                FZ_ASSERT(v == 0, "after %s: page %#llx on the own cache has count %u", after,
                          (unsigned long long)(pfn + b), v + 1u);
                af |= 1ull << b;
            } else if (v == PMM_REF_HELD)
                af |= 1ull << b; /* held: free to everyone but its cache */
            else                 /* counts are stored as count - 1 */
                FZ_ASSERT(st[i + b] != M_ALLOC || v + 1u == ref[i + b],
                          "after %s: page %#llx has count %u, model %u", after,
                          (unsigned long long)(pfn + b), v + 1u, ref[i + b]);
        }
        FZ_ASSERT(ao == wo && af == wf,
                  "after %s: pages %#llx+64: owned %#llx free %#llx, model %#llx %#llx", after,
                  (unsigned long long)pfn, (unsigned long long)ao, (unsigned long long)af,
                  (unsigned long long)wo, (unsigned long long)wf);
        for (unsigned b = 0; full && b < 64; b++) {
            /* owned pages were compared word by word above: ask one per word, and every other */
            if (b && (st[i + b] == M_FREE || st[i + b] == M_ALLOC))
                continue;
            enum pmm_page_state ps = pmm_page_state(p, pfn + b);
            FZ_ASSERT(ps == as[st[i + b]], "after %s: page %#llx is %d, model %d", after,
                      (unsigned long long)(pfn + b), (int)ps, (int)as[st[i + b]]);
        }
    }
    if (full) {
        struct pmm_stats sts;
        pmm_stats(p, &sts);
        FZ_ASSERT(
            sts.free == nfree && sts.alloc == nlist && sts.cached == held_elsewhere(ncpus + 1),
            "after %s: stats free %llu alloc %llu cached %llu, model %llu %llu", after,
            (unsigned long long)sts.free, (unsigned long long)sts.alloc,
            (unsigned long long)sts.cached, (unsigned long long)nfree, (unsigned long long)nlist);
    }
    FZ_CHECK(p, after);
}

/* An address for free/ref operations: mostly an allocated page, else anything. */
static uint64_t pick_addr(struct fz_in *in)
{
    uint8_t sel = fz_u8(in);
    if (sel < 160 && nlist)
        return alloc_list[fz_u16(in) % nlist] * PG;
    if (sel < 224)
        return (uint64_t)(fz_u16(in) % (span + 64)) * PG;
    if (sel < 240)
        return (uint64_t)(fz_u16(in) % (span + 64)) * PG + 1 + sel % 16 * 255;
    return fz_u64(in);
}

/* One page from cache `mine` (ncpus + 1: the pool only): PMM_ENOMEM exactly when neither that
 * cache nor the pool has a page at or above 1 MiB. */
static void one_page(const char *what, uint32_t mine, int rc, uint64_t x, int refuse)
{
    if (rc == PMM_OK) {
        FZ_ASSERT(!refuse, "%s gave a page the model says is out of reach", what);
        FZ_ASSERT(x % PG == 0 && x / PG >= 256 && state(x / PG) == M_FREE,
                  "%s gave %#llx (model state %u)", what, (unsigned long long)x, state(x / PG));
        m_alloc(x / PG);
    } else {
        FZ_ASSERT(rc == PMM_ENOMEM && refuse,
                  "%s refused (%d) with a page in reach (cache %u: %u pages, pool %llu)", what, rc,
                  mine, mine <= ncpus ? cache(mine)->n : 0,
                  (unsigned long long)(nfree_high - held_elsewhere(ncpus + 1)));
        SAME_STATE(what, 1);
    }
}
static int out_of_reach(uint32_t mine)
{
    return (mine > ncpus || !cache(mine)->n) && nfree_high == held_elsewhere(ncpus + 1);
}

static void op_alloc(void)
{
    uint64_t x = 0;
    uint32_t mine = callers_cache();
    int refuse = out_of_reach(mine);
    if (refuse) /* the state is copied only when the model expects a refusal */
        state_snap(1);
    one_page("alloc", mine, pmm_alloc(p, &x), x, refuse);
}

static void op_cpu_alloc(struct fz_in *in)
{
    uint64_t x = 0;
    uint32_t cpu = fz_u8(in) % (ncpus + 1); /* ncpus: not a CPU */
    if (cpu == ncpus) {
        state_snap(0);
        int rc = pmm_cpu_alloc(p, cpu, &x);
        FZ_ASSERT(rc == PMM_EINVAL, "cpu_alloc on CPU %u of %u gave %d", cpu, ncpus, rc);
        SAME_STATE("cpu_alloc", 0);
        return;
    }
    uint32_t mine = reconciled ? cpu : ncpus + 1; /* boot phase: pmm_alloc */
    int refuse = out_of_reach(mine);
    if (refuse)
        state_snap(1);
    one_page("cpu_alloc", mine, pmm_cpu_alloc(p, cpu, &x), x, refuse);
}

/* Single pages until none is left: later frees then cut holes of exact sizes and places. */
static void op_drain(void)
{
    uint64_t x;
    int rc;
    while ((rc = pmm_alloc(p, &x)) == PMM_OK) {
        FZ_ASSERT(x % PG == 0 && x / PG >= 256 && state(x / PG) == M_FREE,
                  "alloc gave %#llx (model state %u)", (unsigned long long)x, state(x / PG));
        m_alloc(x / PG);
    }
    FZ_ASSERT(rc == PMM_ENOMEM && out_of_reach(callers_cache()),
              "alloc refused (%d) with a page in reach", rc);
}

static void op_alloc_run(struct fz_in *in)
{
    uint16_t v = fz_u16(in);
    uint64_t n = v & 0x8000 ? v & 0x7fff : 1 + (v & 63);
    uint8_t a = fz_u8(in);
    uint64_t align = a % 16 <= 12   ? PG << (a % 16)
                     : a % 16 == 13 ? 0
                     : a % 16 == 14 ? 3 * PG
                                    : 1ull << (a >> 2);
    uint64_t limit;
    switch (fz_u8(in) % 8) {
    case 0:
        limit = 0;
        break;
    case 1:
        limit = MIB;
        break;
    case 2:
        limit = 16 * MIB;
        break;
    case 3:
        limit = 4 * GIB;
        break;
    case 4:
        limit = (uint64_t)fz_u16(in) * PG;
        break;
    case 5:
        limit = (uint64_t)fz_u16(in) * 64 * PG + fz_u8(in);
        break;
    case 6:
        limit = 1 + fz_u8(in);
        break;
    default:
        limit = fz_u64(in);
        break;
    }

    int want;
    uint64_t apages = align >> 12 ? align >> 12 : 1;
    uint64_t lo = limit && limit <= MIB ? 1 : 256, hi = span;
    if (limit && limit / PG < hi)
        hi = limit / PG;
    if (!n || (align & (align - 1))) {
        want = PMM_EINVAL;
    } else if (hi <= lo || n > hi - lo || n > total) {
        want = PMM_ERANGE;
    } else {
        /* a failed search gives the caller's cache back (unless the run is below 1 MiB, where
         * no cache has pages) and looks again: only the other caches' pages are out of reach */
        block_cached(lo < 256 ? ncpus + 1 : callers_cache());
        want = m_run_exists(n, apages, lo, hi) ? PMM_OK : PMM_ENOMEM;
    }

    uint64_t x = 0;
    if (want)
        state_snap(want == PMM_ENOMEM);
    int rc = pmm_alloc_run(p, n, align, limit, &x);
    FZ_ASSERT(rc == want, "alloc_run(%llu, %#llx, %#llx) = %d, model %d", (unsigned long long)n,
              (unsigned long long)align, (unsigned long long)limit, rc, want);
    if (rc) {
        SAME_STATE("alloc_run", rc == PMM_ENOMEM);
        return;
    }
    uint64_t s0 = x / PG;
    FZ_ASSERT(x % PG == 0 && s0 % apages == 0 && s0 >= lo && s0 + n <= hi,
              "alloc_run(%llu, %#llx, %#llx) gave %#llx", (unsigned long long)n,
              (unsigned long long)align, (unsigned long long)limit, (unsigned long long)x);
    for (uint64_t k = 0; k < n; k++) {
        FZ_ASSERT(state(s0 + k) == M_FREE, "alloc_run handed out page %#llx (model state %u)",
                  (unsigned long long)(s0 + k), state(s0 + k));
        m_alloc(s0 + k);
    }
}

static void op_free(struct fz_in *in, int cpu_call)
{
    uint32_t cpu = cpu_call ? fz_u8(in) % (ncpus + 1) : 0;
    uint64_t addr = pick_addr(in);
    int want = cpu_call && cpu == ncpus ? PMM_EINVAL : expect_page(addr, 1);
    if (want)
        state_snap(0);
    int rc = cpu_call ? pmm_cpu_free(p, cpu, addr) : pmm_free(p, addr);
    FZ_ASSERT(rc == want, "%sfree(%#llx) = %d, model %d", cpu_call ? "cpu_" : "",
              (unsigned long long)addr, rc, want);
    if (rc)
        SAME_STATE(cpu_call ? "cpu_free" : "free", 0);
    else
        m_free(addr / PG);
}

static void op_free_run(struct fz_in *in)
{
    uint64_t addr = pick_addr(in), n = fz_u8(in);
    if (n >= 192)
        n = fz_u64(in);
    int want = PMM_OK;
    if (!n || addr % PG)
        want = PMM_EINVAL;
    else if (addr / PG >= span || n > span - addr / PG)
        want = PMM_ENOTOWNED;
    /* Which page a refusal names: one that is not the pool's or free in it first (the words are
     * read before any count), then one held on a cache or shared, each the first in order. */
    if (!want)
        block_cached(ncpus + 1);
    int second = PMM_OK;
    for (uint64_t k = 0; !want && k < n; k++) {
        uint64_t pfn = addr / PG + k;
        int e = expect_page(pfn * PG, 1);
        if (e == PMM_ENOTOWNED || (e == PMM_EDOUBLE && !blocked[idx(pfn)]))
            want = e;
        else if (e && !second)
            second = e;
    }
    if (!want)
        want = second;
    if (want)
        state_snap(0);
    int rc = pmm_free_run(p, addr, n);
    FZ_ASSERT(rc == want, "free_run(%#llx, %llu) = %d, model %d", (unsigned long long)addr,
              (unsigned long long)n, rc, want);
    if (rc) {
        SAME_STATE("free_run", 0);
        return;
    }
    for (uint64_t k = 0; k < n; k++)
        m_free(addr / PG + k);
}

/* How many references a burst adds: a few, or enough to reach PMM_REF_MAX in one go. */
static unsigned burst(struct fz_in *in)
{
    uint8_t t = fz_u8(in);
    return t < 255 ? t % 16 : PMM_REF_MAX - 600 + fz_u16(in) % 700;
}

static void op_ref(struct fz_in *in, int inc, unsigned times)
{
    uint64_t addr = pick_addr(in);
    for (unsigned t = 0; t < times; t++) {
        int want = expect_page(addr, 0);
        if (!want && inc && ref[idx(addr / PG)] == PMM_REF_MAX)
            want = PMM_EOVERFLOW;
        if (want)
            state_snap(0);
        int rc = inc ? pmm_ref_inc(p, addr) : pmm_ref_dec(p, addr);
        FZ_ASSERT(rc == want, "ref_%s(%#llx) = %d, model %d", inc ? "inc" : "dec",
                  (unsigned long long)addr, rc, want);
        if (rc) {
            SAME_STATE(inc ? "ref_inc" : "ref_dec", 0);
            return;
        }
        int64_t i = idx(addr / PG);
        if (inc)
            ref[i]++;
        else if (ref[i] == 1)
            m_free(addr / PG);
        else
            ref[i]--;
    }
}

static void op_refcount(struct fz_in *in)
{
    uint64_t addr = pick_addr(in);
    uint32_t c = 7;
    int want = expect_page(addr, 0);
    if (want)
        state_snap(0);
    int rc = pmm_refcount(p, addr, &c);
    uint32_t wc = want ? 0 : ref[idx(addr / PG)];
    FZ_ASSERT(rc == want && c == wc, "refcount(%#llx) = %d count %u, model %d count %u",
              (unsigned long long)addr, rc, c, want, wc);
    if (want)
        SAME_STATE("refcount", 0);
}

/* Withheld boot-services and loader pages join the pool, free (what reconcile and release do). */
static uint64_t m_release_boot(void)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < NPAGES; i++) {
        if (st[i] == M_WITHHELD && kind[i] == PMM_KIND_BOOT && pfn_of(i) != 0) {
            st[i] = M_FREE;
            nfree++;
            nfree_high += pfn_of(i) >= 256;
            n++;
        }
    }
    return n;
}

static void op_reconcile(void)
{
    if (reconciled) { /* refused whatever the map: the build-time one will do, and costs less */
        static unsigned char scratch[1 << 14];
        struct pmm_map m = sim_map(s);
        state_snap(0);
        int rc = pmm_reconcile(p, &m, scratch, sizeof scratch, 0, 0);
        FZ_ASSERT(rc == PMM_ESTATE, "second reconcile gave %d", rc);
        SAME_STATE("second reconcile", 0);
        return;
    }
    s->reconcile_flags = hold ? PMM_HOLD_BOOT_MEMORY : 0;
    int rc = sim_reconcile(s, p);
    free(s->scratch); /* sim keeps it; freed here so libFuzzer sees no leak to chase */
    s->scratch = 0;
    FZ_ASSERT(rc == PMM_OK, "reconcile of the simulated firmware's final map gave %d", rc);
    reconciled = 1;
    held = hold;
    if (!hold)
        m_release_boot();
}

static void op_release(void)
{
    uint64_t got = 7;
    state_snap(0);
    int rc = pmm_release_boot(p, &got);
    if (!reconciled) {
        FZ_ASSERT(rc == PMM_ESTATE, "release before reconcile gave %d", rc);
        SAME_STATE("release_boot before reconcile", 0);
        return;
    }
    uint64_t want = held ? m_release_boot() : 0;
    held = 0;
    FZ_ASSERT(rc == PMM_OK && got == want, "release_boot gave %d, %llu pages, model %llu", rc,
              (unsigned long long)got, (unsigned long long)want);
}

/* Drains: pages move from caches to the pool, and no page's state changes for the model. */
static void op_cache_drain(struct fz_in *in)
{
    uint32_t cpu = fz_u8(in) % (ncpus + 2);
    uint64_t n = 7, want = cpu <= ncpus ? cache(cpu)->n : held_elsewhere(ncpus + 1);
    int rc = cpu <= ncpus ? pmm_cpu_drain(p, cpu, &n) : pmm_drain(p, &n);
    if (cpu == ncpus) { /* not a CPU */
        FZ_ASSERT(rc == PMM_EINVAL && n == 0, "cpu_drain of CPU %u of %u gave %d", cpu, ncpus, rc);
        return;
    }
    FZ_ASSERT(rc == PMM_OK && n == want, "drain gave %d, %llu pages, %llu held", rc,
              (unsigned long long)n, (unsigned long long)want);
    FZ_ASSERT(cpu < ncpus ? !cache(cpu)->n : !held_elsewhere(ncpus + 1), "a cache kept pages");
}

/*
 * Concurrent mode, and back: refused before reconcile. Entering it gives the allocator's own
 * cache back (nobody uses it with many CPUs; test_percpu entering_concurrent_mode_strands_no_page):
 * the model's next PMM_ENOMEM says whether a page was left behind.
 */
static void op_mode(void)
{
    int on = !p->concurrent;
    int rc = pmm_set_concurrent(p, on);
    FZ_ASSERT(rc == (reconciled ? PMM_OK : PMM_ESTATE), "set_concurrent(%d) gave %d", on, rc);
    FZ_ASSERT(!on || rc || !p->home.n, "concurrent mode with %u pages on the own cache", p->home.n);
}

/* Lay the map out from the input and build with the simulated firmware's claim hooks. */
static int setup(struct fz_in *in)
{
    uint8_t flags = fz_u8(in);
    windows = flags & 1 ? 2 : 1;
    hold = (flags >> 1) & 1;
    ncpus = flags & 4 ? NCPUS : 0;
    reconciled = held = 0;
    s = windows > 1 ? fz_sim(&big, (HIGH_BASE + HIGH_PAGES) * PG) : fz_sim(&small, LOW_PAGES * PG);
    s->max_cpus = ncpus;

    memset(kind, PMM_KIND_NEVER, sizeof kind);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, LOW_PAGES - 256, 0xf);
    for (uint64_t i = 0; i < LOW_PAGES; i++)
        kind[i] = i >= 0x9f && i < 0x100 ? PMM_KIND_NEVER : PMM_KIND_FREE;
    if (windows > 1) {
        sim_add(s, PMM_EFI_CONVENTIONAL, HIGH_BASE * PG, HIGH_PAGES, 0xf);
        for (uint64_t i = LOW_PAGES; i < NPAGES; i++)
            kind[i] = PMM_KIND_FREE;
    }
    unsigned extra = fz_u8(in) % 8;
    for (unsigned e = 0; e < extra; e++) {
        uint32_t type = fz_u8(in) % 16;
        uint16_t where = fz_u16(in), len = fz_u16(in);
        uint64_t attr = len & 0x8000 ? PMM_EFI_ATTR_RUNTIME | 0xf : 0xf;
        uint64_t wbase = windows > 1 && (where & 0x8000) ? HIGH_BASE : 0;
        uint64_t wpages = wbase ? HIGH_PAGES : LOW_PAGES, start = (where & 0x7fff) % wpages;
        uint64_t n = 1 + (len & 0x7fff) % 1024;
        if (n > wpages - start)
            n = wpages - start;
        sim_add(s, type, (wbase + start) * PG, n, attr);
        unsigned k = fz_kind(type, attr);
        for (uint64_t j = 0; j < n; j++) {
            int64_t i = idx(wbase + start + j);
            if (k > kind[i])
                kind[i] = (unsigned char)k;
        }
    }

    int rc = sim_build(s, 1, &p);
    span = total = 0;
    for (uint64_t i = 0; i < NPAGES; i++) {
        if (idx(pfn_of(i)) < 0 || kind[i] == PMM_KIND_NEVER)
            continue;
        span = pfn_of(i) + 1;
        total++;
    }
    if (rc == PMM_ENOMEM || rc == PMM_EMAP)
        return 0; /* the extra descriptors took the conventional memory the metadata needs */
    FZ_ASSERT(rc == PMM_OK, "build gave %d", rc);
    meta = pmm_state_phys(p) / PG;
    mpages = pmm_meta_pages(p);
    FZ_ASSERT(mpages * PG <= sizeof snap, "metadata of %llu pages", (unsigned long long)mpages);
    nlist = nfree = nfree_high = 0;
    for (uint64_t i = 0; i < NPAGES; i++) {
        uint64_t pfn = pfn_of(i);
        ref[i] = 0;
        if (idx(pfn) < 0)
            st[i] = M_HOLE;
        else if (pfn >= meta && pfn < meta + mpages)
            st[i] = M_META;
        else if (kind[i] == PMM_KIND_NEVER)
            st[i] = M_NEVER;
        else if (kind[i] == PMM_KIND_BOOT || pfn == 0)
            st[i] = M_WITHHELD;
        else
            st[i] = M_FREE;
        nfree += st[i] == M_FREE;
        nfree_high += st[i] == M_FREE && pfn >= 256;
    }
    FZ_ASSERT(p->span == span && p->total == total, "span %llu total %llu, model %llu %llu",
              (unsigned long long)p->span, (unsigned long long)p->total, (unsigned long long)span,
              (unsigned long long)total);
    fz_guard(s, meta * PG, mpages);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    if (!setup(&in))
        return 0;
    compare_all("build", 0);
    for (unsigned op = 0; in.n && op < MAX_OPS; op++) {
        uint8_t o = fz_u8(&in);
        switch (o % (ncpus ? 16 : 13)) {
        case 0:
        case 1:
            op_alloc();
            break;
        case 2:
            op_alloc_run(&in);
            break;
        case 3:
            op_free(&in, 0);
            break;
        case 4:
            op_free_run(&in);
            break;
        case 5:
            op_ref(&in, 1, 1);
            break;
        case 6:
            op_ref(&in, 1, burst(&in));
            break;
        case 7:
            op_ref(&in, 0, 1);
            break;
        case 8:
            op_refcount(&in);
            break;
        case 9:
            op_reconcile();
            break;
        case 10:
            op_drain();
            break;
        case 11:
            op_release();
            break;
        case 12:
            if (o & 0x80)
                op_mode();
            else
                op_cache_drain(&in);
            break;
        case 13:
        case 14:
            op_cpu_alloc(&in);
            break;
        default:
            op_free(&in, 1);
            break;
        }
        /* free pages: the blocks' counts and the caches (what pmm_stats adds up) */
        uint64_t fr = held_elsewhere(ncpus + 1);
        for (uint64_t b = 0; b < p->nblocks; b++)
            fr += p->at.count[b];
        FZ_ASSERT(fr == nfree && p->owned - fr == nlist,
                  "counters: free %llu alloc %llu, model %llu %llu", (unsigned long long)fr,
                  (unsigned long long)(p->owned - fr), (unsigned long long)nfree,
                  (unsigned long long)nlist);
        if (op % (windows > 1 ? 4 * EVERY : EVERY) == EVERY - 1)
            compare_all("an operation batch", 0);
    }
    compare_all("the operations", 0);

    /*
     * Release everything, and the pool is whole again: shared pages down to one reference with
     * ref_dec, then each stretch of allocated pages with one free_run (page by page would cost
     * more than all the operations before), then every cache drained.
     */
    for (uint64_t i = 0; i < NPAGES; i++) {
        for (; st[i] == M_ALLOC && ref[i] > 1; ref[i]--) {
            int rc = pmm_ref_dec(p, pfn_of(i) * PG);
            FZ_ASSERT(rc == PMM_OK, "ref_dec of shared page %#llx gave %d",
                      (unsigned long long)pfn_of(i), rc);
        }
    }
    for (uint64_t i = 0; i < NPAGES;) {
        uint64_t n = 0;
        while (i + n < NPAGES && st[i + n] == M_ALLOC && pfn_of(i + n) == pfn_of(i) + n)
            n++;
        if (!n) {
            i++;
            continue;
        }
        int rc = pmm_free_run(p, pfn_of(i) * PG, n);
        FZ_ASSERT(rc == PMM_OK, "free_run(%#llx, %llu) of allocated pages gave %d",
                  (unsigned long long)(pfn_of(i) * PG), (unsigned long long)n, rc);
        for (uint64_t k = 0; k < n; k++)
            m_free(pfn_of(i + k));
        i += n;
    }
    FZ_ASSERT(!nlist, "%llu pages still allocated", (unsigned long long)nlist);
    FZ_ASSERT(pmm_drain(p, 0) == PMM_OK && !held_elsewhere(ncpus + 1), "drain");
    struct pmm_stats sts;
    pmm_stats(p, &sts);
    FZ_ASSERT(sts.free == nfree && sts.cached == 0, "free %llu cached %llu, model %llu",
              (unsigned long long)sts.free, (unsigned long long)sts.cached,
              (unsigned long long)nfree);
    compare_all("releasing every page", 1);
    return 0;
}
