/*
 * test_nodes.c - the allocator's NUMA side: each block's node, per-CPU caches that take pages
 * from their CPU's node first and then from the others nearest first (by the SLIT's distances),
 * the explicit-node calls, per-node statistics, and remote frees kept off a CPU's cache.
 *
 * The machines here have nodes of equal size laid out one after another; each node's pages are
 * told apart by their address alone, which is how the test knows a page's node without asking
 * the allocator (pmm_page_node is checked against it).
 */
#include "common.h"

HARNESS_GLOBALS

#define NODE_MIB 64ull

/* n nodes of NODE_MIB each from 0 (node 0 without the first MiB), one CPU per node. */
static struct sim *nodes_machine(uint32_t n, struct pmm_numa_range *r, uint8_t *dist,
                                 uint32_t *cpu_node, struct pmm **p)
{
    struct sim *s = sim_new(n * NODE_MIB * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (n * NODE_MIB - 1) * MIB / PG, 0);
    for (uint32_t i = 0; i < n; i++) {
        r[i] = (struct pmm_numa_range){i * NODE_MIB * MIB / PG, NODE_MIB * MIB / PG, i, 0};
        cpu_node[i] = i;
    }
    s->numa = r;
    s->numa_count = n;
    s->nnodes = n;
    s->max_cpus = n;
    struct pmm_build b = {0};
    b.map = sim_map(s);
    uint64_t size = pmm_map_scratch_size(&b.map);
    b.scratch = malloc(size);
    b.scratch_size = size;
    b.virt_offset = (uint64_t)(uintptr_t)s->mem;
    b.extra_descriptors = 8;
    b.max_cpus = n;
    b.nnodes = n;
    b.numa = r;
    b.numa_count = n;
    b.distance = dist;
    b.cpu_node = cpu_node;
    struct pmm_map_error e;
    CHECK_EQ(pmm_build(&b, p, &e), PMM_OK);
    free(b.scratch);
    CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    return s;
}

static uint32_t node_of(uint64_t phys)
{
    return (uint32_t)(phys / (NODE_MIB * MIB));
}

/*
 * Four nodes on a line, distances |i - j| * 10 + 10 but for 0 -> 3, which is made the nearest
 * of node 0's neighbours. A CPU takes its node's pages first, then its neighbours' by distance.
 */
TEST(caches_take_their_node_first_then_the_nearest)
{
    struct pmm_numa_range r[4];
    uint32_t cn[4];
    uint8_t d[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            d[i * 4 + j] = (uint8_t)(10 + 10 * (i > j ? i - j : j - i));
    d[0 * 4 + 3] = 12; /* from node 0, node 3 is nearest, then 1, then 2 */
    struct pmm *p;
    struct sim *s = nodes_machine(4, r, d, cn, &p);
    CHECK_EQ(pmm_nodes(p), 4);
    for (uint32_t i = 0; i < 4; i++)
        CHECK_EQ(pmm_cpu_node(p, i), i);
    for (uint64_t a = MIB; a < 4 * NODE_MIB * MIB; a += 3 * MIB)
        CHECK_EQ(pmm_page_node(p, a / PG), node_of(a));
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);

    /* CPU 0 exhausts its node, then node 3's, then 1's, then 2's, in that order */
    uint64_t x, n = 0, *got = malloc(4 * NODE_MIB * MIB / PG * sizeof *got);
    uint32_t order[4] = {0, 3, 1, 2}, at = 0, out_of_order = 0;
    while (pmm_cpu_alloc(p, 0, &x) == PMM_OK) {
        uint32_t nd = node_of(x);
        while (at < 4 && order[at] != nd)
            at++;
        out_of_order += at == 4; /* a node that should have been used up before */
        if (at == 4)
            at = 0;
        got[n++] = x;
    }
    CHECK_EQ(out_of_order, 0);
    CHECK(n > 4 * (NODE_MIB - 2) * MIB / PG);
    struct pmm_node_stats ns;
    for (uint32_t i = 0; i < 4; i++) {
        CHECK_EQ(pmm_node_stats(p, i, &ns), PMM_OK);
        CHECK_EQ(ns.free, 0);
    }
    /* CPU 1 frees node-2 pages: remote to it, so they go to the pool, not on its cache */
    uint64_t remote = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (node_of(got[i]) != 2)
            continue;
        CHECK_EQ(pmm_cpu_free(p, 1, got[i]), PMM_OK);
        got[i] = 0;
        remote++;
    }
    CHECK_EQ(pmm_cpu_cached(p, 1), 0);
    CHECK_EQ(pmm_node_stats(p, 2, &ns), PMM_OK);
    CHECK_EQ(ns.free, remote);
    CHECK_EQ(ns.cached, 0);
    /* CPU 2 gets them back: its own node's pages */
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(pmm_cpu_alloc(p, 2, &x), PMM_OK);
        CHECK_EQ(node_of(x), 2);
        CHECK_EQ(pmm_cpu_free(p, 2, x), PMM_OK); /* local: on its cache */
    }
    CHECK(pmm_cpu_cached(p, 2) > 0);
    CHECK_EQ(pmm_set_concurrent(p, 0), PMM_OK);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    for (uint64_t i = 0; i < n; i++)
        if (got[i])
            CHECK_EQ(pmm_free(p, got[i]), PMM_OK);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    CHECK_OK(p);
    free(got);
    sim_free(s);
}

/* The explicit-node calls: that node only, runs included; PMM_ENOMEM once it is used up. */
TEST(explicit_nodes_only)
{
    struct pmm_numa_range r[8];
    uint32_t cn[8];
    struct pmm *p;
    struct sim *s = nodes_machine(8, r, 0, cn, &p); /* no SLIT: 10 and 20 */
    uint64_t x;
    for (uint32_t nd = 0; nd < 8; nd++) {
        CHECK_EQ(pmm_alloc_node(p, nd, &x), PMM_OK);
        CHECK_EQ(node_of(x), nd);
        CHECK_EQ(pmm_alloc_run_node(p, nd, 512, 2 * MIB, 0, &x), PMM_OK);
        CHECK_EQ(node_of(x), nd);
        CHECK_EQ(node_of(x + 511 * PG), nd);
        CHECK_EQ(pmm_alloc_run_node(p, nd, 100, PG, 0, &x), PMM_OK);
        CHECK_EQ(node_of(x), nd);
    }
    CHECK_EQ(pmm_alloc_node(p, 8, &x), PMM_EINVAL);
    CHECK_EQ(pmm_alloc_run_node(p, 8, 1, 0, 0, &x), PMM_EINVAL);
    /* node 5 used up: its call fails, the others do not mind */
    uint64_t n5 = 0;
    while (pmm_alloc_node(p, 5, &x) == PMM_OK) {
        CHECK_EQ(node_of(x), 5);
        n5++;
    }
    CHECK(n5 > 0);
    CHECK_EQ(pmm_alloc_run_node(p, 5, 1, 0, 0, &x), PMM_ENOMEM);
    CHECK_EQ(pmm_alloc_node(p, 4, &x), PMM_OK);
    CHECK_EQ(node_of(x), 4);
    struct pmm_node_stats ns;
    CHECK_EQ(pmm_node_stats(p, 5, &ns), PMM_OK);
    CHECK_EQ(ns.free, 0);
    CHECK_EQ(ns.total, NODE_MIB * MIB / PG);
    uint64_t total = 0;
    for (uint32_t nd = 0; nd < 8; nd++) {
        CHECK_EQ(pmm_node_stats(p, nd, &ns), PMM_OK);
        total += ns.total;
    }
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(total, st.free + st.alloc); /* every pool page on exactly one node */
    CHECK_OK(p);
    sim_free(s);
}

/* Sixteen nodes: the order table, each node nearest first, is what pmm_check verifies. */
TEST(sixteen_nodes)
{
    struct pmm_numa_range r[16];
    uint32_t cn[16];
    uint8_t d[256];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            d[i * 16 + j] = (uint8_t)(i == j ? 10 : 11 + (i ^ j));
    struct pmm *p;
    struct sim *s = nodes_machine(16, r, d, cn, &p);
    CHECK_EQ(pmm_nodes(p), 16);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    uint64_t x;
    for (uint32_t c = 0; c < 16; c++) {
        CHECK_EQ(pmm_cpu_alloc(p, c, &x), PMM_OK);
        CHECK_EQ(node_of(x), c);
        CHECK_EQ(pmm_cpu_free(p, c, x), PMM_OK);
    }
    CHECK_EQ(pmm_set_concurrent(p, 0), PMM_OK);
    CHECK_EQ(pmm_drain(p, 0), PMM_OK);
    CHECK_OK(p);
    /* break the order table: pmm_check names it */
    uint8_t *o = pmm_order(p), t = o[3 * 16 + 1];
    o[3 * 16 + 1] = o[3 * 16 + 15];
    o[3 * 16 + 15] = t;
    check_fails_with(p, "nearest-first order");
    o[3 * 16 + 15] = o[3 * 16 + 1];
    o[3 * 16 + 1] = t;
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(caches_take_their_node_first_then_the_nearest);
    RUN(explicit_nodes_only);
    RUN(sixteen_nodes);
    HARNESS_MAIN_END();
}
