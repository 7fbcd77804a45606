/*
 * test_check.c - pmm_check must catch every kind of corruption, not just pass on good states.
 * Each case breaks one invariant of state.h by hand (and, where the checker would first trip on
 * a consequence, keeps the others true), expects the checker to name it, and puts the whole
 * metadata run back byte for byte.
 *
 *   0     0x9f000 1M            1G     1G+64M         2G          4G                4G+200M
 *   | conv |rsv   | conventional | boot  | conventional |  (hole)   | conventional  meta |
 *
 * Reconciled with the boot data held back (withheld, so that the counters have room for the
 * cases that add pages), two CPUs. Pages used below: A allocated, S shared (two references),
 * CPU 0's cache full of held pages (H one of them), L allocated below 1 MiB, F a FRESH block, N a
 * block with no page of the pool (past span, in the last section).
 */
#include "common.h"

HARNESS_GLOBALS

static struct sim *s;
static struct pmm *p;
static unsigned char *good;
static uint64_t A, S, H, L, F, N;

static void restore(void)
{
    memcpy(p, good, pmm_meta_pages(p) * PG);
}

static int fake_claim(void *ctx, uint64_t phys, uint64_t n)
{
    (void)ctx, (void)phys, (void)n;
    return 0;
}

static void fake_release(void *ctx, uint64_t phys, uint64_t n)
{
    (void)ctx, (void)phys, (void)n;
}

/* Break, expect `needle` named, put back, and the state passes again. */
#define BROKEN(needle, change)                                                                     \
    do {                                                                                           \
        change;                                                                                    \
        check_fails_with(p, needle);                                                               \
        restore();                                                                                 \
        CHECK_OK(p);                                                                               \
    } while (0)

static uint64_t c_of(uint64_t a)
{
    return cidx(p, a / PG);
}
static uint64_t b_of(uint64_t a)
{
    return c_of(a) >> PMM_BLOCK_SHIFT;
}
static void flip(uint64_t *w, uint64_t c)
{
    w[c >> 6] ^= bit_mask(c);
}
static void flip_sum(const struct pmm_sum *sm, uint32_t k, uint64_t i)
{
    sum_words(p, sm, k)[i >> 6] ^= bit_mask(i);
}
static int sum_bit(const struct pmm_sum *sm, uint32_t k, uint64_t i)
{
    return (sum_words(p, sm, k)[i >> 6] >> (i & 63)) & 1;
}
/* Append page a to CPU cpu's cache (cpu == ncpus: the allocator's own) as the cache would. */
static void cache_push(uint32_t cpu, uint64_t a)
{
    struct pmm_cache *pc = cpu < p->ncpus ? &p->at.cache[cpu] : &p->home;
    pc->page[pc->n++] = a / PG;
}

/* Onto the allocator's own cache as its fast path puts a page: the page and its group's bit. */
static void home_push(uint64_t a)
{
    uint64_t c = c_of(a);
    cache_push(p->ncpus, a);
    p->at.homeg[c >> 12] |= 1ull << ((c >> 6) & 63);
}

/* The held boot-data range becomes reserved, and total follows the range table. */
static void boot_range_never(void)
{
    struct pmm_range *r = pmm_rtab(p);
    for (uint64_t i = 0; i < p->nranges; i++) {
        if (r[i].start == GIB / PG) {
            CHECK_EQ(r[i].kind, PMM_KIND_BOOT);
            r[i].kind = PMM_KIND_NEVER;
            p->total -= r[i].npages;
        }
    }
}

static void setup(void)
{
    s = sim_new(6 * GIB);
    s->max_cpus = 2;
    s->reconcile_flags = PMM_HOLD_BOOT_MEMORY;
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (GIB - MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, GIB, 64 * MIB / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, GIB + 64 * MIB, (GIB - 64 * MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 200 * MIB / PG, 0xf);
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    uint64_t h;
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 0, &A), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 1, PG, 0, &S), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, S), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(p, 0, &h), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 1, PG, MIB, &L), PMM_OK);
    H = p->at.cache[0].page[0] * PG;
    F = 4 * GIB + 100 * MIB;
    N = 4 * GIB + 250 * MIB;
    CHECK_OK(p);
    /* the shape the cases rely on */
    CHECK_EQ(A, 4 * GIB);
    CHECK_EQ(S, 4 * GIB + PG);
    CHECK(L < MIB);
    CHECK_EQ(pmm_cpu_cached(p, 0), PMM_CPU_BATCH - 1);
    CHECK_EQ(p->at.own[b_of(F)], OWN_FRESH);
    CHECK_EQ(p->at.own[b_of(0)], OWN_SOME);
    CHECK_EQ(p->at.own[b_of(A)], OWN_ALL);
    CHECK_EQ(p->span, (4 * GIB + 200 * MIB) / PG);
    CHECK_EQ(p->at.own[cidx_present(p, N / PG) >> PMM_BLOCK_SHIFT], OWN_NONE);
    CHECK(p->avail.nlevels >= 2);
    CHECK(p->avail.nwords[1] * 64 > p->avail.nwords[0]);
    good = malloc(pmm_meta_pages(p) * PG);
    memcpy(good, p, pmm_meta_pages(p) * PG);
}

TEST(header_ranges_and_sections)
{
    BROKEN("magic", p->magic++);
    BROKEN("magic, version or size", p->version++);
    BROKEN("magic, version or size", p->size--);
    BROKEN("header fields out of range", p->nranges = p->range_cap + 1);
    BROKEN("owner-local pointers", p->at.free++);
    BROKEN("owner-local pointers", p->at.refs = (uint16_t *)pmm_va(p, p->free_phys));
    BROKEN("owner-local pointers", p->at.cache++);
    BROKEN("owner-local pointers", p->at.node++);
    struct pmm_range *r = pmm_rtab(p);
    BROKEN("empty or of no kind", r[2].npages = 0);
    BROKEN("empty or of no kind", r[0].kind = PMM_NKINDS);
    BROKEN("not sorted", r[1].start = r[0].start);
    uint32_t *sl = pmm_slots(p), *sec = p->at.sectab;
    BROKEN("section geometry", p->nslots++);
    BROKEN("section geometry", p->nsec--);
    BROKEN("section geometry", p->nblocks++);
    BROKEN("slots are not ascending", sl[1] = sl[0]);
    BROKEN("section table and slots disagree", sec[sl[3]] = 4);
    BROKEN("section table has entries no slot names", sec[3 * GIB / PG >> PMM_SEC_SHIFT] = 0);
    BROKEN("zone bounds", p->c_dma++);
    BROKEN("zone bounds", p->c_low = 0);
    BROKEN("zone bounds", p->c_high--);
    BROKEN("pfn_high differs", p->pfn_high = 0);
    BROKEN("pfn_high differs", p->pfn_high = PMM_HIGH_PFN + 1);
    BROKEN("total differs", p->total++);
    BROKEN("clear is in flight", p->clearing = 1);
}

TEST(numa_tables)
{
    struct pmm_node_run *run = pmm_runs(p);
    CHECK_EQ(p->nruns, 1);
    BROKEN("NUMA geometry", p->nnodes = 0);
    BROKEN("NUMA geometry", p->nruns = 0);
    BROKEN("NUMA geometry", p->nruns = p->runs_cap + 1);
    BROKEN("do not tile", run[0].first = 1);
    BROKEN("do not tile", run[0].node = 1);
    BROKEN("node differs from its run's", p->at.node[b_of(F)] = 2);
    BROKEN("do not end at the last block", run[0].end--);
    BROKEN("a CPU's node is out of range", pmm_cnode(p)[1] = 1);
    BROKEN("nearest-first order", pmm_order(p)[0] = 1);

    /* three nodes (10 local, 20 remote): each node's order is itself, then by distance */
    struct pmm_numa_range numa[3] = {{0, 64 * MIB / PG, 0, 0},
                                     {64 * MIB / PG, 64 * MIB / PG, 1, 0},
                                     {128 * MIB / PG, 64 * MIB / PG, 2, 0}};
    struct sim *m = sim_new(256 * MIB);
    m->numa = numa;
    m->numa_count = 3;
    m->nnodes = 3;
    sim_add(m, PMM_EFI_CONVENTIONAL, MIB, 191 * MIB / PG, 0);
    struct pmm *q;
    CHECK_EQ(sim_build(m, 0, &q), PMM_OK);
    CHECK_EQ(sim_reconcile(m, q), PMM_OK);
    CHECK_OK(q);
    CHECK_EQ(q->nnodes, 3);
    CHECK_EQ(q->nruns, 4); /* the last 64 MiB of the section: in no range, node 0 */
    uint8_t *d = pmm_dist(q), *o = pmm_order(q);
    CHECK(o[0] == 0 && o[1] == 1 && o[2] == 2);
    d[2] = 15; /* node 2 nearer to node 0 than node 1: the order must say so */
    check_fails_with(q, "nearest-first order");
    o[1] = 2, o[2] = 1;
    CHECK_OK(q);
    o[1] = 0; /* node 0 twice, node 1 missing */
    check_fails_with(q, "nearest-first order");
    o[1] = 2;
    o[3] = 0; /* node 1's order starts with another node */
    check_fails_with(q, "nearest-first order");
    o[3] = 1;
    pmm_runs(q)[1].node = 2;
    check_fails_with(q, "node differs from its run's");
    pmm_runs(q)[1].node = 1;
    q->at.node[10] = 1; /* a block of node 0's run */
    check_fails_with(q, "node differs from its run's");
    q->at.node[10] = 0;
    CHECK_OK(q);
    sim_free(m);
}

TEST(blocks_and_pages)
{
    uint64_t bf = b_of(F), ba = b_of(A), bn = cidx_present(p, N / PG) >> PMM_BLOCK_SHIFT;
    uint64_t cA = c_of(A), cS = c_of(S), cH = c_of(H), cL = c_of(L), c0 = c_of(0);
    uint64_t rsv = c_of(0xa0000);
    BROKEN("not a block state", p->at.own[bf] = 4);
    BROKEN("count above 512", p->at.count[bf] = 513);
    BROKEN("no owned page has a free count", p->at.count[bn] = 1);
    BROKEN("fresh block's count is not 512", p->at.count[bf] = 511);
    /* a reserved page marked free in page 0's block (SOME): free, but not owned */
    BROKEN("free page is not owned", flip(p->at.free, rsv));
    BROKEN("not allocated has a reference count", p->at.refs[cA + 100] = 3);
    BROKEN("not allocated has a reference count", p->at.refs[cA + 100] = PMM_REF_HELD);
    /* a shared page and a held one each need their group marked */
    BROKEN("marks miss", flip(p->at.marks, cS >> 6));
    BROKEN("marks miss", (p->at.marks[cH >> 12] &= ~bit_mask(cH >> 6),
                          p->at.refs[cS] = 0)); /* S unshared: only H's mark matters */
    /* held: on exactly one cache, never below 1 MiB */
    BROKEN("not on exactly one cache", p->at.refs[cA] = PMM_REF_HELD);
    BROKEN("not on exactly one cache", cache_push(1, H));
    BROKEN("not on exactly one cache", cache_push(0, H));
    BROKEN("not on exactly one cache", cache_push(2, H)); /* the allocator's own cache */
    BROKEN("not on exactly one cache", p->at.cache[0].page[3] = H / PG);
    BROKEN("not on exactly one cache", p->at.cache[0].n--);
    BROKEN("below 1 MiB is held", (p->at.refs[cL] = PMM_REF_HELD,
                                   p->at.marks[cL >> 12] |= bit_mask(cL >> 6), cache_push(1, L)));
    /* own words: all set is ALL; none set is NONE (page 0's block, emptied) */
    BROKEN("all set is not ALL", memset(&p->at.ownw[b_of(0) << 3], 0xff, 64));
    BROKEN("no owned page is not NONE",
           (memset(&p->at.ownw[b_of(0) << 3], 0, 64), memset(&p->at.free[b_of(0) << 3], 0, 64),
            p->at.count[b_of(0)] = 0));
    BROKEN("count differs from its free pages", p->at.count[ba]--);
    BROKEN("count differs from its free pages", flip(p->at.free, cA + 200));
    BROKEN("count differs from its free pages", flip(p->at.free, cA)); /* A looks free */
    /* counters */
    BROKEN("owned counter", p->owned++);
    BROKEN("owned counter", p->owned--);
    /* owned pages where none may be, each with its block and the counter made to agree: */
    /* the held boot data made reserved (total less by as much), and two reserved pages owned,
     * allocated: more than total has room for */
    BROKEN("owned + metadata exceed total",
           (boot_range_never(), flip(p->at.ownw, rsv), flip(p->at.ownw, rsv + 1), p->owned += 2));
    /* one page past span in the last section's block N */
    BROKEN("at or past span",
           (p->at.own[bn] = OWN_SOME, memset(&p->at.ownw[bn << 3], 0, 64),
            memset(&p->at.free[bn << 3], 0, 64), memset(&p->at.refs[bn << 9], 0, 1024),
            p->at.ownw[bn << 3] = 1, p->owned++));
    BROKEN("page 0 is in the pool", (flip(p->at.ownw, c0), p->owned++));
    BROKEN("page 0 is in the pool",
           (flip(p->at.ownw, c0), flip(p->at.free, c0), p->at.count[b_of(0)]++, p->owned++));
    uint64_t cm = c_of(pmm_state_phys(p)) + 1;
    BROKEN("metadata page is in the pool",
           (p->at.own[cm >> 9] == OWN_SOME ? flip(p->at.ownw, cm) : (void)0, p->owned++));
    BROKEN("reserved range or hole", (flip(p->at.ownw, rsv), p->owned++));
    BROKEN("metadata run does not lie in present sections", p->self_phys = 3 * GIB);
}

/* The metadata's range (loader data in the final map) made reserved, total less by its pages. */
TEST(metadata_outside_usable_ram)
{
    struct pmm_range *r = pmm_rtab(p);
    uint64_t n = p->nranges, m0 = pmm_state_phys(p) / PG;
    CHECK_EQ(r[n - 1].start, m0); /* the last range is the metadata's */
    CHECK_EQ(r[n - 1].npages, pmm_meta_pages(p));
    r[n - 1].kind = PMM_KIND_NEVER;
    p->total -= r[n - 1].npages;
    check_fails_with(p, "metadata lies outside usable RAM");
    restore();
    CHECK_OK(p);
}

TEST(summaries)
{
    uint64_t bf = b_of(F), ba = b_of(A);
    CHECK_EQ(sum_bit(&p->avail, 0, ba), 1);
    BROKEN("avail summary misses", flip_sum(&p->avail, 0, ba));
    BROKEN("avail summary misses", flip_sum(&p->avail, 0, bf));
    BROKEN("whole summary misses", flip_sum(&p->whole, 0, bf));
    BROKEN("level misses a word below it", flip_sum(&p->avail, 1, bf >> 6));
    BROKEN("level misses a word below it", flip_sum(&p->whole, 1, bf >> 6));
    BROKEN("bit past the end", flip_sum(&p->avail, 1, p->avail.nwords[0] + 1));
    /* stale bits are allowed: a block with nothing free, a word with nothing below */
    uint64_t bn = cidx_present(p, N / PG) >> PMM_BLOCK_SHIFT;
    CHECK_EQ(sum_bit(&p->whole, 0, bn), 0);
    flip_sum(&p->whole, 0, bn);
    flip_sum(&p->avail, 0, bn);
    CHECK_OK(p);
    restore();
}

TEST(cursors_and_caches)
{
    BROKEN("pool cursor", p->cursor = p->nblocks);
    BROKEN("pool cursor", p->cursor = ~0ull);
    BROKEN("cache count out of range", p->at.cache[0].n = PMM_CPU_CACHE + 1);
    BROKEN("cache cursor past the blocks", p->at.cache[1].cursor = p->nblocks);
    BROKEN("cache cursor past the blocks", p->home.cursor = ~0ull);
    BROKEN("in the boot phase", p->fw.claim = fake_claim);
    BROKEN("caches live with firmware hooks set, or not without", p->live = 0);
    BROKEN("caches live with firmware hooks set, or not without", p->fw.release = fake_release);
    BROKEN("cached page lies in no written block", cache_push(1, F + 5 * PG));
    BROKEN("cached page lies in no written block", cache_push(2, 3 * GIB));
    BROKEN("cached page is not held", cache_push(1, A));
    BROKEN("cached page is not held", cache_push(0, A + 300 * PG)); /* free in the pool */
    /* the allocator's own cache (index 2 of 2 CPUs): its pages keep count 0, and a bit per group */
    BROKEN("own cache is not allocated with count 0", home_push(A + 300 * PG));
    BROKEN("own cache is not allocated with count 0", home_push(S));
    BROKEN("own cache is not allocated with count 0", home_push(L));
    BROKEN("has its group's bit clear", cache_push(2, A));
    BROKEN("the page handed out last", (home_push(A), p->popped = A / PG));
    BROKEN("own cache twice", (home_push(A), home_push(A)));
    BROKEN("not on exactly one cache", home_push(H)); /* held by CPU 0 too */
    BROKEN("with many CPUs, or in the boot phase", (home_push(A), p->concurrent = 1));
    home_push(A); /* the one good case: allocated, count 0, group marked */
    CHECK_OK(p);
    restore();
    /* a cursor at block 0 (which holds page 0 and 1 MiB) is allowed: the claims skip what lies
     * below 1 MiB, whatever the cursor (test_issue21) */
    p->cursor = 0;
    p->at.cache[1].cursor = 0;
    p->home.cursor = 0;
    CHECK_OK(p);
    restore();
}

int main(void)
{
    setup();
    RUN(header_ranges_and_sections);
    RUN(numa_tables);
    RUN(blocks_and_pages);
    RUN(metadata_outside_usable_ram);
    RUN(summaries);
    RUN(cursors_and_caches);
    free(good);
    sim_free(s);
    HARNESS_MAIN_END();
}
