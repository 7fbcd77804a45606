/*
 * test_limits.c - every limit include/pmm.h states for build, reconcile and the calls around
 * them, at its boundary: refused with the error the contract names, and nothing claimed or
 * changed; and accepted just inside it where a test machine can hold that.
 */
#include "common.h"

HARNESS_GLOBALS

/* A build over s with the given extras; the simulated firmware's claims counted. */
static int build_with(struct sim *s, struct pmm_build b, struct pmm **p, const char **why)
{
    struct pmm_build d = {0};
    d.map = sim_map(s);
    uint64_t need = pmm_map_scratch_size(&d.map);
    d.scratch = malloc(need);
    d.scratch_size = b.scratch_size ? b.scratch_size : need;
    d.virt_offset = (uint64_t)(uintptr_t)s->mem;
    d.extra_descriptors = 8;
    d.max_cpus = b.max_cpus;
    d.nnodes = b.nnodes;
    d.numa = b.numa;
    d.numa_count = b.numa_count;
    d.distance = b.distance;
    d.cpu_node = b.cpu_node;
    struct pmm_map_error e = {0, 0};
    int rc = pmm_build(&d, p, &e);
    *why = e.why;
    free(d.scratch);
    return rc;
}

static struct sim *plain(void)
{
    struct sim *s = sim_new(512 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 255 * MIB / PG, 0);
    return s;
}

/* A refused build names its problem and writes nothing: the machine's memory stays zero. */
static void refused(struct sim *s, struct pmm_build b, int err, const char *needle)
{
    struct pmm *p = 0;
    const char *why = 0;
    CHECK_EQ(build_with(s, b, &p, &why), err);
    CHECK(why && strstr(why, needle));
    if (!why || !strstr(why, needle))
        fprintf(stderr, "  wanted '%s', got '%s'\n", needle, why ? why : "");
    int touched = 0;
    for (uint64_t a = 0; a < 512 * MIB && a < s->bytes; a += PG)
        touched |= s->mem[a] != 0;
    CHECK(!touched);
}

TEST(build_limits)
{
    struct sim *s = plain();
    struct pmm_build b = {0};
    b.scratch_size = 8;
    refused(s, b, PMM_EINVAL, "scratch buffer is smaller");
    b.scratch_size = 0;
    b.max_cpus = PMM_MAX_CPUS + 1;
    refused(s, b, PMM_EINVAL, "max_cpus above PMM_MAX_CPUS");
    b.max_cpus = 0;
    b.nnodes = PMM_MAX_NODES + 1;
    refused(s, b, PMM_EINVAL, "nnodes above PMM_MAX_NODES");

    /* NUMA tables: unsorted, overlapping, an unknown node, a distance below the local one, a
     * CPU of an unknown node */
    struct pmm_numa_range unsorted[2] = {{0x20000, 0x100, 1, 0}, {0x100, 0x100, 0, 0}};
    struct pmm_numa_range overlap[2] = {{0x100, 0x200, 0, 0}, {0x200, 0x100, 1, 0}};
    struct pmm_numa_range unknown[1] = {{0x100, 0x100, 2, 0}};
    struct pmm_numa_range good[2] = {{0x100, 0x8000 - 0x100, 0, 0}, {0x8000, 0x8000, 1, 0}};
    uint8_t bad_dist[4] = {10, 5, 20, 10}, dist[4] = {10, 20, 20, 10};
    uint32_t cpu_bad[2] = {0, 2}, cpu_good[2] = {1, 0};
    b.nnodes = 2;
    b.numa = unsorted, b.numa_count = 2;
    refused(s, b, PMM_EINVAL, "NUMA table");
    b.numa = overlap;
    refused(s, b, PMM_EINVAL, "NUMA table");
    b.numa = unknown, b.numa_count = 1;
    refused(s, b, PMM_EINVAL, "NUMA table");
    b.numa = good, b.numa_count = 2, b.distance = bad_dist;
    refused(s, b, PMM_EINVAL, "NUMA table");
    b.distance = dist, b.max_cpus = 2, b.cpu_node = cpu_bad;
    refused(s, b, PMM_EINVAL, "NUMA table");

    /* just inside: two nodes, two CPUs, each CPU's cache prefers its node */
    b.cpu_node = cpu_good;
    struct pmm *p;
    const char *why;
    CHECK_EQ(build_with(s, b, &p, &why), PMM_OK);
    CHECK_EQ(pmm_nodes(p), 2);
    CHECK_EQ(pmm_cpu_node(p, 0), 1);
    CHECK_EQ(pmm_page_node(p, 0x200), 0);
    CHECK_EQ(pmm_page_node(p, 0x9000), 1);
    uint64_t x;
    CHECK_EQ(pmm_alloc_node(p, 2, &x), PMM_EINVAL);
    CHECK_EQ(pmm_alloc_node(p, 1, &x), PMM_OK);
    CHECK_EQ(pmm_page_node(p, x >> 12), 1);
    struct pmm_node_stats ns;
    CHECK_EQ(pmm_node_stats(p, 2, &ns), PMM_EINVAL);
    CHECK_EQ(pmm_node_stats(p, 1, &ns), PMM_OK);
    CHECK(ns.total >= 0x8000 - 512 && ns.free < ns.total);
    CHECK_OK(p);
    sim_free(s);
}

/* Usable memory at 2^59 bytes is past what 32-bit section numbers reach: refused by the map. */
TEST(address_space_limit)
{
    struct sim *s = plain();
    sim_add(s, PMM_EFI_CONVENTIONAL, 1ull << 59, 1, 0);
    struct pmm_build b = {0};
    refused(s, b, PMM_EMAP, "at or above 2^59 bytes");
    sim_free(s);

    /* the last page below 2^59 passes the map's check; its 2^32-entry section table then does
     * not fit the machine's conventional memory: PMM_ENOMEM, nothing written */
    s = plain();
    sim_add(s, PMM_EFI_CONVENTIONAL, (1ull << 59) - PG, 1, 0);
    struct pmm *p;
    const char *why;
    CHECK_EQ(build_with(s, b, &p, &why), PMM_ENOMEM);
    sim_free(s);

    s = sim_new(512 * MIB);
    sim_add(s, PMM_EFI_RESERVED, 0, 512 * MIB / PG, 0);
    refused(s, b, PMM_EMAP, "no conventional memory");
    sim_free(s);
}

/* Reconcile: once only; its scratch; a final map with more ranges than the state has room for. */
TEST(reconcile_limits)
{
    struct sim *s = plain();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_ESTATE); /* firmware hooks set */
    uint64_t taken;
    CHECK_EQ(pmm_keep_range(p, 2 * MIB, 1, &taken), PMM_ESTATE);
    uint64_t x;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK);

    /* 2 * (ndesc + extra) + 1 ranges fit; this final map alternates kinds page by page */
    struct sim *f = sim_new(512 * MIB);
    for (uint64_t i = 0; i < 200; i++)
        sim_add(f, i & 1 ? PMM_EFI_RESERVED : PMM_EFI_CONVENTIONAL, MIB + i * PG, 1, 0);
    sim_add(f, PMM_EFI_CONVENTIONAL, MIB + 200 * PG, 255 * MIB / PG - 200, 0);
    struct pmm_map m = sim_map(f);
    uint64_t size = pmm_map_scratch_size(&m);
    void *scratch = malloc(size);
    struct pmm_map_error e = {0, 0};
    uint64_t h = state_hash(p);
    CHECK_EQ(pmm_reconcile(p, &m, scratch, 16, 0, &e), PMM_EINVAL);
    CHECK_EQ(state_hash(p), h);
    CHECK_EQ(pmm_reconcile(p, &m, scratch, size, 0, &e), PMM_ERANGE);
    CHECK(e.why && strstr(e.why, "more ranges than the state has room for"));
    CHECK_EQ(state_hash(p), h);
    CHECK_OK(p);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_ESTATE);
    CHECK_EQ(pmm_set_concurrent(p, 1), PMM_OK);
    CHECK_OK(p);
    free(scratch);
    sim_free(f);
    sim_free(s);
}

int main(void)
{
    RUN(build_limits);
    RUN(address_space_limit);
    RUN(reconcile_limits);
    HARNESS_MAIN_END();
}
