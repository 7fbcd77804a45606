/*
 * test_bigsmp.c - a machine with more CPUs than any fixed table had room for, through every step
 * the loader and the kernel take with its CPUs: the shape of a two-socket AMD EPYC 9005 "Turin
 * Dense", 768 logical CPUs with 32-bit x2APIC IDs in x2APIC entries only, 4 NUMA nodes per
 * socket (NPS4).
 *
 *   MADT -> the CPU list, sized as efi/cpus.c sizes it (a counting pass, then the reading)
 *   SRAT + SLIT -> the node table (efi/numa.c), every CPU on its node
 *   the response's CPU and NUMA parts (efi/response.c) -> the kernel's pmm_response_verify
 *   pmm_build for 768 CPUs over a simulated map: the metadata grows by the per-CPU caches'
 *   documented 514 bytes per CPU (docs/numa.md), asked of the public API only
 *
 * APIC IDs: socket s, core c (0..191), thread t: s << 9 | c << 1 | t, the ACPI processor UID
 * the CPU's position. Node of a CPU: 4 * s + c / 48. Distances: 10 local, 12 within a socket, 32
 * across.
 */
#include <stdlib.h>

#include "acpi.h"
#include "harness.h"
#include "numa.h"
#include "pmm.h"
#include "response.h"
#include "sim.h"

HARNESS_GLOBALS

#define NCPU 768

static uint32_t apic_of(uint32_t i)
{
    uint32_t s = i / 384, c = i % 384 / 2, t = i % 2;
    return s << 9 | c << 1 | t;
}

static uint32_t node_of(uint32_t i)
{
    return 4 * (i / 384) + (i % 384 / 2) / 48;
}

static uint8_t dist(uint32_t a, uint32_t b)
{
    return (uint8_t)(a == b ? 10 : a / 4 == b / 4 ? 12 : 32);
}

static struct table madt, srat, slit;
static struct cpu_list list;

TEST(madt_of_768_x2apic_cpus)
{
    memset(&madt, 0, sizeof madt);
    memcpy(madt.b, "APIC", 4);
    madt.b[8] = 5;
    put(madt.b + 36, 0xfee00000, 4);
    madt.len = 44;
    seal(&madt);
    for (uint32_t i = 0; i < NCPU; i++)
        madt_x2apic(&madt, apic_of(i), 1, i);
    uint64_t at;
    /* what efi/cpus.c does: count with no room, then read into a list of that size */
    memset(&list, 0, sizeof list);
    CHECK(madt_cpus(madt.b, madt.len, &list, &at) == 0);
    CHECK_EQ(list.n, 0);
    CHECK_EQ(list.found, NCPU);
    uint32_t want = list.found;
    memset(&list, 0, sizeof list);
    list.apic_id = malloc(want * sizeof *list.apic_id);
    list.cap = want;
    CHECK(madt_cpus(madt.b, madt.len, &list, &at) == 0);
    CHECK_EQ(list.n, NCPU);
    CHECK_EQ(list.found, NCPU);
    uint32_t above255 = 0;
    for (uint32_t i = 0; i < list.n; i++) {
        CHECK_EQ(list.apic_id[i], apic_of(i));
        above255 += list.apic_id[i] > 255;
    }
    CHECK(above255 > 384); /* IDs an 8-bit field could not hold */
    CHECK(cpu_list_set_bsp(&list, apic_of(0)) == 0);
    CHECK_EQ(list.bsp, 0);
    list.source = PMM_CPUS_MADT;
}

static struct numa nm;

TEST(srat_and_slit_of_8_nodes_place_every_cpu)
{
    begin(&srat, "SRAT", 3, 48);
    for (uint32_t n = 0; n < 8; n++) /* 64 GiB per node from 4 GiB up */
        srat_mem(&srat, 4 * GIB + n * 64 * GIB, 64 * GIB, n, ENABLED);
    srat_mem(&srat, 0, 2 * GIB, 0, ENABLED);
    for (uint32_t i = NCPU; i-- > 0;)
        srat_x2apic(&srat, apic_of(i), node_of(i), ENABLED);
    begin(&slit, "SLIT", 1, 44);
    put(slit.b + 36, 8, 8);
    for (uint32_t a = 0; a < 8; a++)
        for (uint32_t b = 0; b < 8; b++)
            slit.b[44 + a * 8 + b] = dist(a, b);
    slit.len = 44 + 64;
    seal(&slit);

    struct srat_counts c;
    uint64_t at;
    CHECK(srat_check(srat.b, srat.len, &c, &at) == 0);
    CHECK_EQ(c.nodes, 8);
    CHECK_EQ(c.ranges, 9);
    nm.domain = malloc(c.nodes * sizeof *nm.domain);
    nm.range = malloc(c.ranges * sizeof *nm.range);
    nm.distance = malloc(c.nodes * c.nodes);
    nm.cpu_node = malloc(list.n * sizeof *nm.cpu_node);
    CHECK(srat_read(srat.b, &nm, list.apic_id, list.n, &at) == 0);
    CHECK(slit_read(slit.b, slit.len, &nm, &at) == 0);
    CHECK_EQ(nm.unplaced, 0);
    for (uint32_t i = 0; i < NCPU; i++)
        CHECK_EQ(nm.cpu_node[i], node_of(i));
    CHECK_EQ(nm.nranges, 9);
    CHECK_EQ(nm.range[0].npages, 2 * GIB / PG);
    for (uint32_t n = 0; n < 8; n++)
        CHECK_EQ(nm.range[1 + n].node, n);
}

/* The response as the loader writes it, the arrays reached where the kernel reaches them. */
TEST(response_for_768_cpus_passes_the_kernels_check)
{
    struct pmm_response r;
    memset(&r, 0, sizeof r);
    struct response_arrays a = {
        malloc(NCPU * sizeof(struct pmm_cpu)), malloc(nm.nranges * sizeof(struct pmm_numa_range)),
        malloc(nm.nnodes * nm.nnodes), malloc(nm.nnodes * sizeof(uint32_t)), 0};
    struct pmm_response_arrays sums = {0, 0, 0, 0, 0, 0};
    CHECK(response_machine_bytes(&list, &nm) >= NCPU * sizeof(struct pmm_cpu) + 64 + 8 * 4);
    response_machine(&r, &list, &nm, &a, &sums);
    for (uint32_t i = 0; i < NCPU; i++)
        a.cpus[i].processor_id = i;
    static struct pmm_handed handed[1] = {{0x100000, 16, PMM_HANDED_RESPONSES, 0}};
    r.revision = PMM_RESPONSE_REVISION;
    r.state_phys = 0x200000;
    r.abi = PMM_ABI_VERSION;
    r.handed_count = 1;
    r.handed = handed;
    sums.handed = handed;
    r.checksum = pmm_response_checksum_at(&r, &sums);
    const char *why = pmm_response_verify(&r, 0);
    CHECK(why == 0);
    if (why)
        fprintf(stderr, "  refused: %s\n", why);
    CHECK_EQ(r.cpu_count, NCPU);
    CHECK_EQ(r.cpus_found, NCPU);
    CHECK_EQ(r.cpu_source, PMM_CPUS_MADT);
    CHECK_EQ(r.node_count, 8);
    CHECK_EQ(r.numa_flags, PMM_NUMA_FROM_SRAT | PMM_NUMA_FROM_SLIT);
    for (uint32_t i = 0; i < NCPU; i++) {
        CHECK_EQ(r.cpus[i].lapic_id, apic_of(i));
        CHECK_EQ(r.cpus[i].node, node_of(i));
    }
    for (uint32_t x = 0; x < 8; x++)
        for (uint32_t y = 0; y < 8; y++)
            CHECK_EQ(r.distance[x * 8 + y], dist(x, y));
    /* the checksum covers the new arrays: one changed byte in each is caught */
    a.cpus[700].node ^= 1;
    CHECK(pmm_response_verify(&r, 0) != 0);
    a.cpus[700].node ^= 1;
    a.distance[9] = 13;
    CHECK(pmm_response_verify(&r, 0) != 0);
    a.distance[9] = 10;
    a.numa_ranges[3].npages++;
    CHECK(pmm_response_verify(&r, 0) != 0);
    a.numa_ranges[3].npages--;
    a.node_domain[2] = 9;
    CHECK(pmm_response_verify(&r, 0) != 0);
    a.node_domain[2] = 2;
    CHECK(pmm_response_verify(&r, 0) == 0);
    free(a.cpus);
    free(a.numa_ranges);
    free(a.distance);
    free(a.node_domain);
}

/* Metadata pages of an allocator built for ncpus over a 16 GiB machine. */
static uint64_t meta_for(uint32_t ncpus)
{
    struct sim *s = sim_new(20 * GIB);
    sim_add(s, 7, 0, 0x9f, 0xf);
    sim_add(s, 7, MIB, (2 * GIB - MIB) / PG, 0xf);
    sim_add(s, 7, 4 * GIB, 14 * GIB / PG, 0xf);
    s->max_cpus = ncpus;
    struct pmm *p = 0;
    int rc = sim_build(s, 0, &p);
    CHECK_EQ(rc, PMM_OK);
    uint64_t pages = rc ? 0 : pmm_meta_pages(p);
    CHECK_EQ(rc ? 0 : pmm_cpus(p), ncpus);
    sim_free(s);
    return pages;
}

TEST(pmm_build_sizes_768_cpu_caches)
{
    uint64_t none = meta_for(0), one = meta_for(1), all = meta_for(NCPU);
    /* 514 bytes a CPU (its cache, and its node in a table of 16-bit entries; state.h): 768 CPUs
     * are 96.4 pages more than none, rounded up (and at most one more for alignment) */
    CHECK(all - none >= (NCPU * 514 + PG - 1) / PG);
    CHECK(all - none <= (NCPU * 514 + PG - 1) / PG + 1);
    CHECK(one - none <= 1);
    uint64_t most = meta_for(PMM_MAX_CPUS);
    CHECK(most - none >= (PMM_MAX_CPUS * 514ull + PG - 1) / PG);
    CHECK(most - none <= (PMM_MAX_CPUS * 514ull + PG - 1) / PG + 1);
    fprintf(stderr, "  metadata pages: %lu (0 CPUs), %lu (1), %lu (768), %lu (%u)\n",
            (unsigned long)none, (unsigned long)one, (unsigned long)all, (unsigned long)most,
            PMM_MAX_CPUS);
}

int main(void)
{
    RUN(madt_of_768_x2apic_cpus);
    RUN(srat_and_slit_of_8_nodes_place_every_cpu);
    RUN(response_for_768_cpus_passes_the_kernels_check);
    RUN(pmm_build_sizes_768_cpu_caches);
    free(list.apic_id);
    HARNESS_MAIN_END();
}
