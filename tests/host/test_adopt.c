/*
 * test_adopt.c - pmm_adopt trusts nothing it did not check. A reconciled state of two NUMA nodes
 * and two CPUs, with pages handed out, is corrupted one header field (or one table adopt reads)
 * at a time; each must be refused with that field named, and the refusal must leave the whole
 * metadata run byte for byte as it was.
 *
 *   0       640K  1M                        3G        4G                  6G
 *   | conv  |     | conventional            | reserved | conventional      |
 *   |<------------------- node 0 ------------------->|<----- node 1 ----->|
 *
 * 6 GiB of address space gives 40 present sections (2560 blocks: two summary levels), and memory
 * above 4 GiB. Last, what a new owner starts with: concurrent, no firmware hooks, no cpu_self.
 */
#include <stddef.h>

#include "common.h"

HARNESS_GLOBALS

static struct sim *s;
static struct pmm *h; /* the header, as the loader sees it */
static uint64_t phys, off, mbytes;
static unsigned char *good, *before;

static void restore(void)
{
    memcpy(h, good, mbytes);
}

/*
 * Adopting the state as it is now must fail, name `field` (and, where several checks name one
 * field, give a reason containing `reason`), and write nothing anywhere in the metadata run.
 */
static void refused_why(int line, const char *field, const char *reason)
{
    memcpy(before, h, mbytes);
    struct pmm_adopt_error why = {0, 0};
    int err = 0;
    struct pmm *k = pmm_adopt_why(phys, off, &err, &why);
    int named = why.field && strcmp(why.field, field) == 0 &&
                (!reason || (why.why && strstr(why.why, reason)));
    if (k || err != PMM_ESTATE || !named)
        fprintf(stderr, "  line %d: wanted %s refused, got %s (field %s: %s)\n", line, field,
                k ? "accepted" : pmm_strerror(err), why.field ? why.field : "-",
                why.why ? why.why : "-");
    CHECK(k == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(named);
    CHECK(why.why && why.why[0]);
    CHECK(memcmp(before, h, mbytes) == 0);
    CHECK(pmm_adopt(phys, off, &err) == 0); /* the old entry point refuses it too */
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(memcmp(before, h, mbytes) == 0);
    restore();
}

/* Put the good state back, apply one change, expect `field` named. */
#define REFUSED(field, change)                                                                     \
    do {                                                                                           \
        restore();                                                                                 \
        change;                                                                                    \
        refused_why(__LINE__, field, 0);                                                           \
    } while (0)
#define REFUSED_WHY(field, reason, change)                                                         \
    do {                                                                                           \
        restore();                                                                                 \
        change;                                                                                    \
        refused_why(__LINE__, field, reason);                                                      \
    } while (0)

static void *at(uint64_t a)
{
    return s->mem + a;
}

static void setup(void)
{
    s = sim_new(6 * GIB);
    sim_add(s, PMM_EFI_BOOT_CODE, 0, 1, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, PG, 0x9f, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (3 * GIB - MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, 16 * MIB, 0x100, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 3 * GIB, GIB / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 2 * GIB / PG, 0xf);
    static const struct pmm_numa_range numa[] = {{0, 4 * GIB / PG, 0, 0},
                                                 {4 * GIB / PG, 2 * GIB / PG, 1, 0}};
    static const uint32_t cpu_node[] = {0, 1};
    struct pmm_build b = {0};
    b.map = sim_map(s);
    b.scratch_size = pmm_map_scratch_size(&b.map);
    b.scratch = malloc(b.scratch_size);
    b.virt_offset = (uint64_t)(uintptr_t)s->mem;
    b.extra_descriptors = 64;
    b.max_cpus = 2;
    b.nnodes = 2;
    b.numa = numa;
    b.numa_count = 2;
    b.cpu_node = cpu_node;
    struct pmm *p;
    struct pmm_map_error err;
    CHECK_EQ(pmm_build(&b, &p, &err), PMM_OK);
    free(b.scratch);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    uint64_t x;
    for (int i = 0; i < 10; i++)
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 600, 2 * MIB, 0, &x), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK); /* a state is handed on drained */
    CHECK_OK(p);
    h = p;
    phys = pmm_state_phys(p);
    off = (uint64_t)(uintptr_t)s->mem;
    mbytes = pmm_meta_pages(p) * PG;
    good = malloc(mbytes);
    before = malloc(mbytes);
    memcpy(good, h, mbytes);
    /* the cases below rely on this shape */
    CHECK_EQ(h->nnodes, 2);
    CHECK_EQ(h->nruns, 2);
    CHECK_EQ(h->ncpus, 2);
    CHECK_EQ(h->avail.nlevels, 2);
    CHECK_EQ(h->whole.nlevels, 2);
    CHECK_EQ(h->nslots, 40);
    CHECK_EQ(meta_end(h), h->span); /* at the top of the highest range */
}

TEST(identity_fields)
{
    restore();
    int err;
    struct pmm_adopt_error why;
    CHECK(pmm_adopt_why(phys + 8, off, &err, &why) == 0);
    CHECK(strcmp(why.field, "state_phys") == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(pmm_adopt_why(0, off, &err, 0) == 0); /* why is optional */
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(pmm_adopt(phys + PG, off, 0) == 0); /* err too */

    REFUSED("magic", h->magic ^= 1);
    REFUSED("version", h->version++);
    REFUSED("size", h->size--);
    REFUSED("self_phys", h->self_phys += PG);
    REFUSED("reconciled", h->reconciled = 0);
    REFUSED("boot_held", h->boot_held = 2);
}

TEST(geometry_fields)
{
    REFUSED("span", h->span = 0);
    REFUSED("span", h->span = (PMM_MAX_SECTIONS << PMM_SEC_SHIFT) + 1);
    REFUSED("span", h->span = ~0ull);
    REFUSED("nslots", h->nslots = 0);
    REFUSED("nslots", h->nslots = h->nsec + 1);
    REFUSED("nranges", h->nranges = h->range_cap + 1);
    REFUSED("nranges", h->range_cap = (1ull << 32) + 1);
    REFUSED("ncpus", h->ncpus = PMM_MAX_CPUS + 1);
    REFUSED("nnodes", h->nnodes = 0);
    REFUSED("nnodes", h->nnodes = PMM_MAX_NODES + 1);
    REFUSED("nruns", h->runs_cap = 0);
    REFUSED("nruns", h->runs_cap = (h->nslots << 6) + 1);
    REFUSED("nruns", h->nruns = 0);
    REFUSED("nruns", h->nruns = h->runs_cap + 1);
    /* span and the section count disagree: either may be the bad one, the pair is named */
    REFUSED("nsec", h->span += PMM_SEC_PAGES);
    REFUSED("nsec", h->nsec++);
    REFUSED("cspan", h->cspan += 64);
    REFUSED("cspan", h->nslots--);
    REFUSED("nblocks", h->nblocks++);
    REFUSED("nblocks", h->nblocks = h->nblocks << 10);
    REFUSED("meta_pages", h->meta_pages++);
    REFUSED("meta_pages", h->meta_pages--);
    REFUSED("meta_pages", h->meta_pages = 1ull << 51);
    /* a larger table: everything after it moves, and the first field out of place is named (the
     * run's size may stay the same) */
    REFUSED("meta_pages", h->range_cap += 2000);
    REFUSED("cnode_phys", h->ncpus++);
    REFUSED("dist_phys", h->runs_cap++);
    REFUSED("order_phys", h->nnodes++); /* the same places: the tables tell */
    /* the run ends at span: one page less of span (same sections) and it would stick out */
    REFUSED_WHY("meta_pages", "past span", h->span--);
}

TEST(placement_fields)
{
    uint64_t end = phys + mbytes;
    REFUSED("ranges_phys", h->ranges_phys += 64);
    REFUSED("ranges_phys", h->ranges_phys = phys - PG);
    REFUSED("sec_phys", h->sec_phys += 8);
    REFUSED("slots_phys", h->slots_phys = h->sec_phys);
    REFUSED("runs_phys", h->runs_phys -= 64);
    REFUSED("dist_phys", h->dist_phys = end);
    REFUSED("order_phys", h->order_phys = h->dist_phys);
    REFUSED("cache_phys", h->cache_phys += 512);
    REFUSED("cnode_phys", h->cnode_phys = 0);
    REFUSED("count_phys", h->count_phys |= 1);
    REFUSED("own_phys", h->own_phys = PG);
    REFUSED("node_phys", h->node_phys = h->own_phys);
    REFUSED("marks_phys", h->marks_phys = end - 8);
    REFUSED("free_phys", h->free_phys += PG);
    REFUSED("ownw_phys", h->ownw_phys = h->free_phys);
    REFUSED("refs_phys", h->refs_phys = 2 * MIB); /* counts written elsewhere */
    REFUSED("refs_phys", h->refs_phys += PG);     /* its last page past the run */
    REFUSED("refs_phys", h->refs_phys = ~0ull & ~7ull);
}

TEST(summary_fields)
{
    REFUSED("avail.nbits", h->avail.nbits++);
    REFUSED("avail.nbits", h->avail.nbits = h->whole.nbits << 20);
    REFUSED("whole.nbits", h->whole.nbits--);
    REFUSED("avail.nlevels", h->avail.nlevels = PMM_LEVELS + 1); /* would index past phys[] */
    REFUSED("avail.nlevels", h->avail.nlevels--);
    REFUSED("whole.nlevels", h->whole.nlevels = ~0u);
    REFUSED_WHY("avail.nlevels", "word count", h->avail.nwords[0]++);
    REFUSED_WHY("avail.nlevels", "word count", h->avail.nwords[1] = 0);
    REFUSED_WHY("whole.nlevels", "word count", h->whole.nwords[5] = 1); /* a level not there */
    REFUSED_WHY("whole.nlevels", "word count", h->whole.nwords[7] = ~0ull);
    REFUSED("avail.phys[0]", h->avail.phys[0] |= 1);               /* misaligned */
    REFUSED("avail.phys[1]", h->avail.phys[1] = h->avail.phys[0]); /* aliased */
    REFUSED("avail.phys[2]", h->avail.phys[2] = phys + PG);        /* a level not there */
    REFUSED("avail.phys[7]", h->avail.phys[7] = 8);
    REFUSED("whole.phys[0]", h->whole.phys[0] = h->avail.phys[0]);
    REFUSED("whole.phys[1]", h->whole.phys[1] = phys + mbytes);
    REFUSED("whole.phys[3]", h->whole.phys[3] = ~0ull);
}

/* The tables adopt reads whole: slots and section table, node runs, order, CPUs' nodes, caches. */
TEST(table_contents)
{
    uint32_t *sec = at(h->sec_phys), *sl = at(h->slots_phys);
    uint64_t hole = 3 * GIB / PG >> PMM_SEC_SHIFT; /* the reserved 3 GiB - 4 GiB: absent */
    CHECK_EQ(sec[hole], PMM_SEC_ABSENT);
    REFUSED("slots", sl[0] = (uint32_t)h->nsec);
    REFUSED("slots", (sl[0] = sl[1], sec[sl[1]] = 0));
    REFUSED("slots", sec[sl[5]] = 6);
    REFUSED("slots", sl[39] = PMM_SEC_ABSENT);
    REFUSED("sec_phys", sec[hole] = 0);
    REFUSED("sec_phys", sec[hole] = 40);
    struct pmm_node_run *run = at(h->runs_phys);
    REFUSED("runs_phys", run[0].first = 1);
    REFUSED("runs_phys", run[1].first++);
    REFUSED("runs_phys", (run[0].end = 0, run[1].first = 0));
    REFUSED("runs_phys", run[1].node = 2);
    REFUSED_WHY("runs_phys", "end at nblocks", run[1].end--);
    REFUSED_WHY("runs_phys", "end at nblocks", h->nruns = 1);
    uint8_t *ord = at(h->order_phys);
    REFUSED("order_phys", (ord[0] = 1, ord[1] = 0)); /* node 0 not first in its own order */
    REFUSED("order_phys", ord[3] = 1);               /* node 1: itself twice */
    REFUSED("order_phys", ord[1] = 200);
    uint16_t *cn = at(h->cnode_phys);
    REFUSED("cnode_phys", cn[1] = 2);
    struct pmm_cache *pc = at(h->cache_phys);
    REFUSED_WHY("cache_phys", "not empty", pc[1].n = 1);
    REFUSED_WHY("cache_phys", "not empty", pc[0].n = ~0u);
    REFUSED_WHY("cache_phys", "cursor", pc[1].cursor = h->nblocks);
    REFUSED_WHY("cache_phys", "cursor", pc[0].cursor = ~0ull);
    REFUSED_WHY("home", "not empty", h->home.n = 1);
    REFUSED_WHY("home", "cursor", h->home.cursor = h->nblocks);
}

TEST(zones_cursors_and_counters)
{
    REFUSED("c_low", h->c_low++);
    REFUSED("c_low", h->c_low = h->cspan);
    REFUSED("c_low", h->c_dma--);
    REFUSED("c_low", h->c_high = h->cspan);
    REFUSED("pfn_high", h->pfn_high = 0); /* memory lies above 4 GiB here */
    REFUSED("pfn_high", h->pfn_high++);
    REFUSED("cursor", h->cursor = h->nblocks);
    REFUSED("cursor", h->cursor = ~0ull);
    REFUSED("clearing", h->clearing = 1);
    REFUSED("total", h->total = h->cspan + 1);
    REFUSED("owned", h->owned = h->total + 1);
    REFUSED("owned", h->owned = h->total - h->meta_pages + 1);
}

/* A refused state is usable: the good one is adopted and passes the full check. */
static uint32_t self_0(void *ctx)
{
    (void)ctx;
    return 0;
}
static int fake_claim(void *ctx, uint64_t a, uint64_t n)
{
    (void)ctx, (void)a, (void)n;
    return 0;
}

TEST(good_state_is_adopted_after_refusals)
{
    restore();
    CHECK_EQ(pmm_set_cpu_self(h, self_0, 0), PMM_OK);
    CHECK_EQ(h->concurrent, 0);
    int err = 1;
    struct pmm_adopt_error why = {"x", "y"};
    struct pmm *k = pmm_adopt_why(phys, off, &err, &why);
    CHECK(k == h);
    CHECK_EQ(err, PMM_OK);
    CHECK_EQ(k->concurrent, 1); /* many CPUs from here on */
    CHECK(k->cpu_self == 0);    /* owner-local: the old owner's is gone */
    CHECK(k->fw.claim == 0 && k->fw.release == 0);
    CHECK_OK(k);
    uint64_t x;
    CHECK_EQ(pmm_alloc(k, &x), PMM_OK);
    CHECK_EQ(pmm_free(k, x), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(k, 1, &x), PMM_OK);
    CHECK_EQ(pmm_page_node(k, x / PG), 1); /* CPU 1's node first */
    CHECK_EQ(pmm_cpu_free(k, 1, x), PMM_OK);
    CHECK_OK(k);
    CHECK_EQ(pmm_cpu_drain(k, 1, 0), PMM_OK);

    /* firmware hooks left in a header are dropped too (adopt never calls them) */
    restore();
    h->fw.claim = fake_claim;
    k = pmm_adopt(phys, off, &err);
    CHECK(k == h && k->fw.claim == 0);

    /* Adoption does not read the range table: a bad kind there must not make pmm_stats write past
     * kind_pages (here, past the whole struct into a canary); pmm_check names it. */
    struct pmm_range *r = at(h->ranges_phys);
    uint32_t kind = r[0].kind;
    struct boxed {
        struct pmm_stats st;
        uint64_t canary[4];
    } box;
    memset(&box, 0, sizeof box);
    r[0].kind =
        (uint32_t)((offsetof(struct boxed, canary) - offsetof(struct pmm_stats, kind_pages)) / 8 +
                   1);
    pmm_stats(k, &box.st);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(box.canary[i], 0);
    struct pmm_check_fail f = {0, 0};
    CHECK_EQ(pmm_check(k, &f), PMM_ECHECK);
    CHECK(f.what && strstr(f.what, "of no kind"));
    r[0].kind = kind;
    CHECK_OK(k);
}

/*
 * Boot services run on one CPU, and the firmware hooks are not reentrant: no concurrent mode while
 * they are set; after reconcile it is allowed, and a state handed on with pages on a cache (the
 * allocator's own included) is refused until it is drained.
 */
TEST(concurrency_and_the_boot_phase)
{
    struct sim *m = sim_new(128 * MIB);
    m->max_cpus = 1;
    sim_add(m, PMM_EFI_CONVENTIONAL, PG, 0x9f, 0xf);
    sim_add(m, PMM_EFI_CONVENTIONAL, MIB, 0x7f00, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(m, 1, &p), PMM_OK);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_ESTATE);
    CHECK_EQ(p->concurrent, 0);
    CHECK_EQ(pmm_set_concurrent(p, 0), PMM_OK);
    uint64_t x, claims = m->claims;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK); /* the firmware was asked; no cache in the boot phase */
    CHECK(m->claims > claims);
    CHECK_EQ(p->home.n, 0);
    int err = 0;
    struct pmm_adopt_error why = {0, 0};
    CHECK(pmm_adopt_why(pmm_state_phys(p), (uint64_t)(uintptr_t)m->mem, &err, &why) == 0);
    CHECK(why.field && !strcmp(why.field, "reconciled"));
    CHECK_EQ(sim_reconcile(m, p), PMM_OK); /* drops the firmware hooks */
    CHECK_EQ(pmm_free(p, x), PMM_OK);      /* onto the allocator's own cache */
    CHECK_EQ(p->home.n, 1);
    CHECK(pmm_adopt_why(pmm_state_phys(p), (uint64_t)(uintptr_t)m->mem, &err, &why) == 0);
    CHECK(why.field && !strcmp(why.field, "home"));
    CHECK_EQ(pmm_cpu_alloc(p, 0, &x), PMM_OK);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 0), 0);
    struct pmm *k = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)m->mem, &err);
    CHECK(k == p);
    CHECK_EQ(pmm_free(k, x), PMM_OK);
    CHECK_OK(k);
    CHECK_EQ(pmm_set_concurrent(k, 0), PMM_OK);
    CHECK_EQ(pmm_set_concurrent(k, 1), PMM_OK);
    sim_free(m);
}

int main(void)
{
    setup();
    RUN(identity_fields);
    RUN(geometry_fields);
    RUN(placement_fields);
    RUN(summary_fields);
    RUN(table_contents);
    RUN(zones_cursors_and_counters);
    RUN(good_state_is_adopted_after_refusals);
    RUN(concurrency_and_the_boot_phase);
    free(good);
    free(before);
    sim_free(s);
    HARNESS_MAIN_END();
}
