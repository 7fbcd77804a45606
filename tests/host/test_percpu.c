/*
 * test_percpu.c - the per-CPU page caches on one thread: what a cached page is, that every check of
 * pmm_free holds on the fast path, that a refused call changes nothing (caches included), that
 * batches, drains and adoption keep every page accounted for. tests/host/test_smp.c drives the same
 * calls from many threads.
 */
#include "common.h"

HARNESS_GLOBALS

#define NCPUS 4

/* 1 GiB of conventional memory from 1 MiB, 64 MiB of boot data, reconciled, with NCPUS caches. */
static struct sim *machine(struct pmm **p, uint32_t cpus)
{
    struct sim *s = sim_new(2 * GIB);
    s->max_cpus = cpus;
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 1, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB / 2, (GIB - MIB / 2) / PG, 0);
    sim_add(s, PMM_EFI_BOOT_DATA, GIB, 64 * MIB / PG, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    CHECK_OK(*p);
    return s;
}

static struct pmm_stats stats(const struct pmm *p)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st;
}

static uint64_t cached_total(const struct pmm *p)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < pmm_cpus(p); i++)
        n += pmm_cpu_cached(p, i);
    return n;
}

TEST(metadata_holds_the_caches)
{
    struct pmm *p0, *p4;
    struct sim *a = machine(&p0, 0), *b = machine(&p4, NCPUS);
    CHECK_EQ(pmm_cpus(p0), 0);
    CHECK_EQ(pmm_cpus(p4), NCPUS);
    /* 512 bytes per CPU, after the shared map: the layout drawn in state.h */
    uint64_t span = (GIB + 64 * MIB) / PG; /* 9 sections; 3 descriptors */
    CHECK_EQ(pmm_meta_pages(p0), layout_meta_pages_cpus(span, 9, 3, 64, 0));
    CHECK_EQ(pmm_meta_pages(p4), layout_meta_pages_cpus(span, 9, 3, 64, NCPUS));
    /* 4 caches may fit in the last page's slack: 64 (32 KiB) cannot, so a layout that left the
     * caches out would show here */
    struct pmm *p64;
    struct sim *c = machine(&p64, 64);
    CHECK_EQ(pmm_meta_pages(p64), layout_meta_pages_cpus(span, 9, 3, 64, 64));
    CHECK(pmm_meta_pages(p64) >= pmm_meta_pages(p0) + 64 * 512 / PG);
    sim_free(c);

    uint64_t x;
    CHECK_EQ(pmm_cpu_alloc(p0, 0, &x), PMM_EINVAL); /* no caches */
    CHECK_EQ(pmm_cpu_alloc(p4, NCPUS, &x), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_free(p4, NCPUS, 2 * MIB), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_drain(p4, NCPUS, 0), PMM_EINVAL);
    CHECK_EQ(pmm_cpu_cached(p4, NCPUS), 0);
    sim_free(a);
    sim_free(b);

    struct sim *s = sim_new(GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 16 * MIB / PG, 0);
    s->max_cpus = PMM_MAX_CPUS + 1;
    struct pmm *p;
    CHECK_EQ(sim_build(s, 0, &p), PMM_EINVAL);
    sim_free(s);
}

/* Before reconcile the firmware still owns memory: the per-CPU calls take the claiming path. */
TEST(before_reconcile_no_cache_fills)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 64, 1, &p);
    uint64_t a;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &a), PMM_OK);
    CHECK(sim_fw_used(s, a >> 12)); /* claimed from the firmware, as pmm_alloc does */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_EQ(pmm_cpu_free(p, 1, a), PMM_OK);
    CHECK(!sim_fw_used(s, a >> 12)); /* and released to it */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_OK(p);
    sim_free(s);
}

TEST(a_cached_page_is_free)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    uint64_t a, b;
    CHECK_EQ(pmm_cpu_alloc(p, 0, &a), PMM_OK);
    CHECK(a >= MIB);
    CHECK_EQ(pmm_cpu_cached(p, 0), PMM_CPU_BATCH - 1); /* a batch came, one went out */
    struct pmm_stats st = stats(p);
    CHECK_EQ(st.free, before.free - 1);
    CHECK_EQ(st.alloc, before.alloc + 1);
    CHECK_EQ(st.cached, PMM_CPU_BATCH - 1);
    CHECK_EQ(st.cpus, NCPUS);
    CHECK_EQ(pmm_page_state(p, a >> 12), PMM_PAGE_ALLOC);
    uint32_t count;
    CHECK_EQ(pmm_refcount(p, a, &count), PMM_OK);
    CHECK_EQ(count, 1);
    CHECK_OK(p);

    /* freed on another CPU than the one that allocated it: on that CPU's cache, and free */
    CHECK_EQ(pmm_cpu_free(p, 2, a), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 2), 1);
    CHECK_EQ(pmm_page_state(p, a >> 12), PMM_PAGE_FREE);
    CHECK_EQ(stats(p).free, before.free);
    CHECK_OK(p);

    /* every way of freeing or sharing it again is a double free, refused with nothing changed */
    CHECK_REJECTS(p, pmm_cpu_free(p, 2, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_inc(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_refcount(p, a, &count), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_keep_range(p, a, 1, 0), PMM_EBUSY);

    /* a run around it: its other pages allocated, the cached one makes the free a double free */
    CHECK_EQ(pmm_cpu_drain(p, 2, 0), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 64, 64 * PG, 0, &b), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 3, b + 10 * PG), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 3), 1);
    CHECK_REJECTS(p, pmm_free_run(p, b, 64), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, b + 10 * PG, 1), PMM_EDOUBLE);
    /* taking it back through the cache makes the run whole again */
    uint64_t again;
    CHECK_EQ(pmm_cpu_alloc(p, 3, &again), PMM_OK);
    CHECK_EQ(again, b + 10 * PG);
    CHECK_EQ(pmm_free_run(p, b, 64), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

TEST(fast_path_keeps_every_check)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t a;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &a), PMM_OK);
    CHECK_EQ(pmm_ref_inc(p, a), PMM_OK);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_ESHARED);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a + 1), PMM_EINVAL);
    CHECK_EQ(pmm_ref_dec(p, a), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 1, a), PMM_OK);

    CHECK_REJECTS(p, pmm_cpu_free(p, 0, 0), PMM_ENOTOWNED);                 /* page 0 */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, pmm_state_phys(p)), PMM_ENOTOWNED); /* metadata */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, GIB + 128 * MIB), PMM_ENOTOWNED);   /* a hole */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, 1ull << 50), PMM_ENOTOWNED);        /* past span */
    uint64_t never = 0, at, n;
    CHECK(pmm_next_free_range(p, 300 * MIB >> 12, &at, &n));
    never = at << 12; /* free in the pool: never handed out */
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, never), PMM_EDOUBLE);
    /* free in the pool again after a drain, in a group a cache marked: still a double free */
    CHECK_EQ(pmm_cpu_drain(p, 1, 0), PMM_OK);
    CHECK_EQ(pmm_page_state(p, a >> 12), PMM_PAGE_FREE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 1, a), PMM_EDOUBLE);
    CHECK_OK(p);
    sim_free(s);
}

/* Low memory is for callers that ask for it: a page below 1 MiB freed on a CPU goes to the pool. */
TEST(low_pages_skip_the_cache)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t low;
    CHECK_EQ(pmm_alloc_run(p, 1, PG, MIB, &low), PMM_OK);
    CHECK(low < MIB);
    CHECK_EQ(pmm_cpu_free(p, 0, low), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(p, 0), 0);
    CHECK_EQ(pmm_page_state(p, low >> 12), PMM_PAGE_FREE);
    for (int i = 0; i < 1000; i++) {
        uint64_t x;
        CHECK_EQ(pmm_cpu_alloc(p, 0, &x), PMM_OK);
        CHECK(x >= MIB);
    }
    CHECK_OK(p);
    sim_free(s);
}

/* A cache never exceeds its size; batches go back to the pool; drains give everything back. */
TEST(batches_and_drains)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    enum { N = 1000 };
    static uint64_t pg[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pmm_cpu_alloc(p, (uint32_t)i % NCPUS, &pg[i]), PMM_OK);
        for (int j = 0; j < i; j += 97)
            CHECK(pg[j] != pg[i]);
        CHECK(pmm_cpu_cached(p, (uint32_t)i % NCPUS) <= PMM_CPU_CACHE);
    }
    CHECK_EQ(stats(p).alloc, before.alloc + N);
    CHECK_OK(p);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pmm_cpu_free(p, 0, pg[i]), PMM_OK); /* all on one CPU: it overflows, batch out */
        CHECK(pmm_cpu_cached(p, 0) <= PMM_CPU_CACHE);
    }
    CHECK_EQ(stats(p).free, before.free);
    CHECK_OK(p);
    uint64_t had = cached_total(p), drained = 0, sum = 0;
    CHECK(had > 0);
    for (uint32_t i = 0; i < NCPUS; i++) {
        CHECK_EQ(pmm_cpu_drain(p, i, &drained), PMM_OK);
        sum += drained;
    }
    CHECK_EQ(sum, had);
    CHECK_EQ(cached_total(p), 0);
    struct pmm_stats after = stats(p);
    CHECK_EQ(after.free, before.free);
    CHECK_EQ(after.cached, 0);
    CHECK_OK(p);
    sim_free(s);
}

/* The pool runs dry only when no page is left anywhere: one CPU takes everything. */
TEST(exhaustion_is_exact_on_one_cpu)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 8, 0, &p);
    uint64_t free0 = stats(p).free, got = 0, x;
    while (pmm_cpu_alloc(p, 1, &x) == PMM_OK)
        got++;
    CHECK_EQ(got, free0);
    CHECK_EQ(stats(p).free, 0);
    CHECK_OK(p);
    sim_free(s);
}

static uint32_t self_is_1(void *ctx)
{
    (void)ctx;
    return 1;
}

/*
 * pmm_alloc and pmm_alloc_run take no CPU index: told the caller's (pmm_set_cpu_self), they give
 * its own cache back when the pool runs dry, so a CPU never runs out while its cache holds pages.
 */
TEST(global_calls_take_back_their_own_cache)
{
    struct pmm *p;
    struct sim *s = small_machine(2, 8, 0, &p);
    CHECK_EQ(pmm_set_cpu_self(p, self_is_1, 0), PMM_OK);
    uint64_t free0 = stats(p).free, x, got = 0;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &x), PMM_OK); /* CPU 1's cache fills */
    CHECK(pmm_cpu_cached(p, 1) > 0);
    got = 1;
    while (pmm_alloc(p, &x) == PMM_OK)
        got++;
    CHECK_EQ(got, free0); /* every page, the cached ones too */
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_OK(p);
    /* and a run: free 8 pages in a row onto the cache, then ask for them as a run */
    uint64_t base;
    CHECK(pmm_next_alloc_range(p, 0, &base, &x));
    for (uint64_t i = 0; i < 8; i++)
        CHECK_EQ(pmm_cpu_free(p, 1, (base + i) << 12), PMM_OK);
    CHECK(pmm_cpu_cached(p, 1) > 0);
    CHECK_EQ(pmm_alloc_run(p, 8, PG, 0, &x), PMM_OK);
    CHECK_EQ(x, base << 12);
    CHECK_OK(p);
    sim_free(s);
}

/* A state goes to its next owner only with empty caches: adopt names the field otherwise. */
TEST(adopt_wants_drained_caches)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t a;
    CHECK_EQ(pmm_cpu_alloc(p, 3, &a), PMM_OK);
    int err = 0;
    struct pmm_adopt_error why = {0, 0};
    uint64_t off = pmm_virt_offset(p);
    CHECK(pmm_adopt_why(pmm_state_phys(p), off, &err, &why) == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(why.field && !strcmp(why.field, "pcpu_phys"));
    CHECK_EQ(pmm_cpu_drain(p, 3, 0), PMM_OK);
    struct pmm *q = pmm_adopt(pmm_state_phys(p), off, &err);
    CHECK(q != 0);
    CHECK_EQ(pmm_cpus(q), NCPUS);
    /* the new owner's CPUs use the caches at once */
    CHECK_EQ(pmm_cpu_free(q, 0, a), PMM_OK);
    CHECK_EQ(pmm_cpu_cached(q, 0), 1);
    CHECK_OK(q);
    sim_free(s);
}

/* pmm_check verifies what state.h says of a cached page: each broken by hand, then put back. */
TEST(checker_catches_broken_caches)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t a, b;
    CHECK_EQ(pmm_cpu_alloc(p, 0, &a), PMM_OK);
    CHECK_EQ(pmm_cpu_alloc(p, 1, &b), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 1, a), PMM_OK); /* a is cached on CPU 1, b allocated */
    struct pmm_pcpu *c1 = pmm_pcpu(p, 1), *c2 = pmm_pcpu(p, 2);
    uint64_t ca = cidx(p, a >> 12), cb = cidx(p, b >> 12);
    CHECK_EQ(c1->page[c1->n - 1], a >> 12);
    CHECK_OK(p);

    c2->page[0] = a >> 12; /* on two caches */
    c2->n = 1;
    check_fails_with(p, "not on exactly one per-CPU cache");
    c2->n = 0;
    CHECK_OK(p);

    c2->page[0] = b >> 12; /* an allocated page listed on a cache */
    c2->n = 1;
    check_fails_with(p, "does not say cached");
    c2->n = 0;

    pmm_refs(p)[cb] = PMM_REF_CACHED; /* counted cached, on no cache */
    check_fails_with(p, "not on exactly one per-CPU cache");
    pmm_refs(p)[cb] = 0;
    CHECK_OK(p);

    c1->n = PMM_CPU_CACHE + 1;
    check_fails_with(p, "cache count out of range");
    c1->n = 0; /* a cached page dropped from its cache: counted cached, on none */
    check_fails_with(p, "not on exactly one per-CPU cache");
    c1->n = PMM_CPU_BATCH; /* back: the batch minus b, plus a */
    CHECK_OK(p);

    uint64_t *sh = pmm_shared(p);
    sh[ca >> 12] &= ~bit_mask(ca >> 6); /* a cached page in an unmarked group */
    check_fails_with(p, "shared map misses");
    sh[ca >> 12] |= bit_mask(ca >> 6);

    p->cpus_live = 0;
    check_fails_with(p, "in use before reconcile");
    p->cpus_live = NCPUS;
    CHECK_OK(p);
    sim_free(s);
}

/*
 * A run handed out clears the shared marks of the 64-page groups wholly inside it, and only those:
 * a neighbour in a group the run shares keeps its mark, so it still cannot be freed while shared.
 */
TEST(runs_keep_their_neighbours_marks)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    uint64_t r, x;
    CHECK_EQ(pmm_alloc_run(p, 256, 256 * PG, 0, &r), PMM_OK);
    CHECK_EQ(pmm_free_run(p, r, 256), PMM_OK); /* [r, r + 256 pages) is free now */
    x = r + 255 * PG;                          /* the run's last group: x shares it */
    CHECK_EQ(pmm_alloc_run(p, 1, PG, r + 256 * PG, &x), PMM_OK);
    CHECK(x >= r && x < r + 256 * PG);
    CHECK_EQ(pmm_ref_inc(p, x), PMM_OK); /* marks x's group */
    /* runs beside x inside its group, and across the groups around it */
    uint64_t y;
    for (int i = 0; i < 20 && pmm_alloc_run(p, 3, PG, r + 256 * PG, &y) == PMM_OK; i++)
        ;
    CHECK_REJECTS(p, pmm_free(p, x), PMM_ESHARED);
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, x), PMM_ESHARED);
    CHECK_EQ(pmm_ref_dec(p, x), PMM_OK);
    CHECK_EQ(pmm_cpu_free(p, 0, x), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Random single-page and run operations spread over the CPUs, against a model of what is held;
 * pmm_check at intervals, and at the end every page is given back and the free count is what it
 * was.
 */
TEST(random_against_a_model)
{
    struct pmm *p;
    struct sim *s = machine(&p, NCPUS);
    struct pmm_stats before = stats(p);
    enum { HELD = 4096 };
    static uint64_t held[HELD], len[HELD];
    uint64_t n = 0, seed = 12345;
    for (int op = 0; op < 200000; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33), cpu = r % NCPUS;
        if (n < HELD && (r & 0x300) != 0x300) {
            uint64_t x;
            if ((r & 0xf000) == 0) {
                uint64_t k = 1 + (r >> 20) % 40;
                CHECK_EQ(pmm_alloc_run(p, k, PG << ((r >> 26) % 4), 0, &x), PMM_OK);
                len[n] = k;
            } else {
                CHECK_EQ(pmm_cpu_alloc(p, cpu, &x), PMM_OK);
                len[n] = 1;
            }
            *(uint64_t *)(s->mem + x) = x ^ 0x5a5a; /* a tag, checked when it goes back */
            held[n++] = x;
        } else if (n) {
            uint64_t i = (r >> 12) % n, x = held[i];
            CHECK_EQ(*(uint64_t *)(s->mem + x), x ^ 0x5a5a);
            if (len[i] == 1)
                CHECK_EQ(pmm_cpu_free(p, cpu, x), PMM_OK);
            else
                CHECK_EQ(pmm_free_run(p, x, len[i]), PMM_OK);
            held[i] = held[--n];
            len[i] = len[n];
        }
        if (op % 20000 == 0)
            CHECK_OK(p);
    }
    while (n--)
        CHECK_EQ(len[n] == 1 ? pmm_cpu_free(p, 0, held[n]) : pmm_free_run(p, held[n], len[n]),
                 PMM_OK);
    CHECK_OK(p);
    CHECK_EQ(stats(p).free, before.free);
    for (uint32_t i = 0; i < NCPUS; i++)
        CHECK_EQ(pmm_cpu_drain(p, i, 0), PMM_OK);
    CHECK_EQ(stats(p).free, before.free);
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(metadata_holds_the_caches);
    RUN(before_reconcile_no_cache_fills);
    RUN(a_cached_page_is_free);
    RUN(fast_path_keeps_every_check);
    RUN(low_pages_skip_the_cache);
    RUN(batches_and_drains);
    RUN(exhaustion_is_exact_on_one_cpu);
    RUN(global_calls_take_back_their_own_cache);
    RUN(adopt_wants_drained_caches);
    RUN(checker_catches_broken_caches);
    RUN(runs_keep_their_neighbours_marks);
    RUN(random_against_a_model);
    HARNESS_MAIN_END();
}
