/*
 * test_numa.c - the loader's SRAT and SLIT reader (efi/numa.c) against hand-built tables: 8 and
 * 16 nodes with sparse proximity domains, CPUs in both kinds of affinity entry, hot-pluggable and
 * unaligned memory, disabled entries as QEMU writes them; every malformed table refused by name
 * with the byte offset of its bad entry; the one-node fallback.
 *
 * The expected nodes, ranges, distances and CPU nodes are worked out here from what each table
 * was built with (domains sorted, bytes cut to whole pages), not taken from a run of the reader.
 */
#include <string.h>

#include "acpi.h"
#include "harness.h"
#include "numa.h"

HARNESS_GLOBALS

/* Room for what a table describes: as efi/nodes.c sizes it from srat_check's counts. */
static struct numa nm;
static uint32_t domain[PMM_NUMA_MAX_NODES], cpu_node[4096];
static struct pmm_numa_range range[4096];
static uint8_t distance[PMM_NUMA_MAX_NODES * PMM_NUMA_MAX_NODES];

static void fresh(void)
{
    memset(&nm, 0xa5, sizeof nm); /* nothing the reader must set is left to chance */
    nm.domain = domain;
    nm.range = range;
    nm.distance = distance;
    nm.cpu_node = cpu_node;
}

static int says(const char *why, const char *needle)
{
    int ok = why && strstr(why, needle);
    if (!ok)
        fprintf(stderr, "  wanted '%s', got '%s'\n", needle, why ? why : "(accepted)");
    return ok;
}

/* Check, then read for these CPUs; 0 or the first refusal. */
static const char *read_srat(const struct table *t, const uint32_t *apic, uint32_t ncpus,
                             struct srat_counts *c, uint64_t *at)
{
    fresh();
    const char *why = srat_check(t->b, t->len, c, at);
    if (!why)
        why = srat_read(t->b, &nm, apic, ncpus, at);
    return why;
}

/*
 * 8 nodes: proximity domains 1 3 4 6 9 10 12 15, written in a shuffled order; each domain d has
 * 1 GiB at d GiB and a hot-pluggable 256 MiB at 64 GiB + d * 256 MiB, and 4 CPUs: APIC IDs
 * 4d .. 4d+3, the first two in local APIC entries, the others in x2APIC entries (IDs + 1000).
 * Disabled entries (QEMU writes empty ones) are ignored. A SLIT of 16 localities: d(i, j) = 10
 * on the diagonal, else 20 + i + 2 * j (asymmetric, so the orientation shows).
 */
static const uint32_t doms8[8] = {9, 1, 15, 4, 12, 3, 10, 6}; /* sorted: 1 3 4 6 9 10 12 15 */

static uint8_t d16(uint32_t i, uint32_t j)
{
    return (uint8_t)(i == j ? 10 : 20 + i + 2 * j);
}

static uint32_t apic8(uint32_t dom, uint32_t k)
{
    return k < 2 ? 4 * dom + k : 1000 + 4 * dom + k;
}

static void eight_nodes(struct table *t)
{
    begin(t, "SRAT", 3, 48);
    for (int i = 0; i < 8; i++) {
        uint32_t d = doms8[i];
        srat_mem(t, d * GIB, GIB, d, ENABLED);
        srat_mem(t, 64 * GIB + d * 256 * MIB, 256 * MIB, d, ENABLED | HOTPLUG);
        srat_apic(t, (uint8_t)apic8(d, 0), d, ENABLED);
        srat_apic(t, (uint8_t)apic8(d, 1), d, ENABLED);
        srat_x2apic(t, apic8(d, 2), d, ENABLED);
        srat_x2apic(t, apic8(d, 3), d, ENABLED);
    }
    srat_mem(t, 0, 0, 0, 0); /* QEMU's empty, disabled entries */
    srat_mem(t, 0, 0, 0, 0);
    srat_x2apic(t, 77, 999, 0); /* a disabled CPU's domain makes no node */
}

TEST(eight_nodes_sparse_domains)
{
    static struct table t, s;
    eight_nodes(&t);
    static const uint32_t sorted[8] = {1, 3, 4, 6, 9, 10, 12, 15};
    uint32_t apic[32];
    for (int i = 0; i < 32; i++) /* the CPU list in another order than the table's */
        apic[i] = apic8(sorted[(i * 5) % 8], (uint32_t)(i / 8));
    struct srat_counts c;
    uint64_t at = 99;
    CHECK(read_srat(&t, apic, 32, &c, &at) == 0);
    CHECK_EQ(at, 0);
    CHECK_EQ(c.nodes, 8);
    CHECK_EQ(c.ranges, 16);
    CHECK_EQ(nm.nnodes, 8);
    CHECK_EQ(nm.flags, PMM_NUMA_FROM_SRAT);
    CHECK_EQ(nm.unplaced, 0);
    CHECK_EQ(nm.ncpus, 32);
    for (int k = 0; k < 8; k++)
        CHECK_EQ(nm.domain[k], sorted[k]);
    /* ranges sorted by address: the eight 1 GiB ones first, then the hot-pluggable ones */
    CHECK_EQ(nm.nranges, 16);
    for (int k = 0; k < 8; k++) {
        CHECK_EQ(nm.range[k].start, sorted[k] * GIB / PG);
        CHECK_EQ(nm.range[k].npages, GIB / PG);
        CHECK_EQ(nm.range[k].node, k);
        CHECK_EQ(nm.range[k].flags, 0);
        CHECK_EQ(nm.range[8 + k].start, (64 * GIB + sorted[k] * 256 * MIB) / PG);
        CHECK_EQ(nm.range[8 + k].npages, 256 * MIB / PG);
        CHECK_EQ(nm.range[8 + k].node, k);
        CHECK_EQ(nm.range[8 + k].flags, PMM_NUMA_HOTPLUG);
    }
    for (int i = 0; i < 32; i++)
        CHECK_EQ(nm.cpu_node[i], (i * 5) % 8);
    /* without a SLIT: 10 and 20 */
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            CHECK_EQ(nm.distance[i * 8 + j], i == j ? 10 : 20);
    slit_build(&s, 16, d16);
    CHECK(slit_read(s.b, s.len, &nm, &at) == 0);
    CHECK_EQ(nm.flags, PMM_NUMA_FROM_SRAT | PMM_NUMA_FROM_SLIT);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            CHECK_EQ(nm.distance[i * 8 + j], d16(sorted[i], sorted[j]));
}

/*
 * 16 nodes, domains 0..15 written from 15 down; node n's RAM is [n * 512 MiB + 5, +512 MiB - 5)
 * in two entries split at n * 512 MiB + 100 MiB (cut inward to pages and merged back into one),
 * except node 0, which keeps the 640 KiB-1 MiB hole as PCs have it. One CPU per node, APIC ID
 * 300 + n (x2APIC), and two listed CPUs no SRAT entry names.
 */
static uint8_t d_ring(uint32_t i, uint32_t j)
{
    uint32_t a = i > j ? i - j : j - i;
    if (a > 8)
        a = 16 - a;
    return (uint8_t)(i == j ? 10 : a == 8 ? 255 : 10 + 3 * a);
}

TEST(sixteen_nodes_unaligned_merged)
{
    static struct table t, s;
    begin(&t, "SRAT", 3, 48);
    for (int n = 15; n >= 0; n--) {
        uint64_t lo = n * 512 * MIB + 5, split = n * 512 * MIB + 100 * MIB,
                 hi = (n + 1) * 512 * MIB - 5;
        srat_x2apic(&t, 300 + n, n, ENABLED);
        if (n == 0) {
            srat_mem(&t, 0, 640 * 1024, 0, ENABLED);
            srat_mem(&t, MIB, 511 * MIB, 0, ENABLED);
            continue;
        }
        srat_mem(&t, split, hi - split, n, ENABLED);
        srat_mem(&t, lo, split - lo, n, ENABLED);
    }
    uint32_t apic[18];
    for (int n = 0; n < 16; n++)
        apic[n] = 300 + n;
    apic[16] = 5, apic[17] = 6;
    struct srat_counts c;
    uint64_t at;
    CHECK(read_srat(&t, apic, 18, &c, &at) == 0);
    CHECK_EQ(c.nodes, 16);
    CHECK_EQ(c.ranges, 32);
    CHECK_EQ(nm.nnodes, 16);
    CHECK_EQ(nm.nranges, 17);
    CHECK_EQ(nm.range[0].start, 0);
    CHECK_EQ(nm.range[0].npages, 160);
    CHECK_EQ(nm.range[1].start, MIB / PG);
    CHECK_EQ(nm.range[1].npages, 511 * MIB / PG);
    for (int n = 1; n < 16; n++) {
        const struct pmm_numa_range *r = &nm.range[n + 1];
        CHECK_EQ(r->start, n * 512 * MIB / PG + 1); /* the partial first page left out */
        CHECK_EQ(r->npages, 512 * MIB / PG - 2);    /* ... and the partial last one */
        CHECK_EQ(r->node, n);
    }
    for (int n = 0; n < 16; n++) {
        CHECK_EQ(nm.domain[n], n);
        CHECK_EQ(nm.cpu_node[n], n);
    }
    CHECK_EQ(nm.cpu_node[16], 0);
    CHECK_EQ(nm.cpu_node[17], 0);
    CHECK_EQ(nm.unplaced, 2);
    slit_build(&s, 16, d_ring);
    CHECK(slit_read(s.b, s.len, &nm, &at) == 0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            CHECK_EQ(nm.distance[i * 16 + j], d_ring(i, j));
    CHECK_EQ(nm.distance[0 * 16 + 8], 255);
}

/* Adjacent ranges merge only when node and flags agree; a range smaller than a page vanishes. */
TEST(merging_and_slivers)
{
    static struct table t;
    begin(&t, "SRAT", 3, 48);
    srat_mem(&t, 0, 4 * MIB, 7, ENABLED);
    srat_mem(&t, 4 * MIB, 4 * MIB, 7, ENABLED | HOTPLUG);  /* other flags: not merged */
    srat_mem(&t, 8 * MIB, 4 * MIB, 7, ENABLED | HOTPLUG);  /* merged with the one before */
    srat_mem(&t, 12 * MIB, 4 * MIB, 8, ENABLED | HOTPLUG); /* other node: not merged */
    srat_mem(&t, 16 * MIB + 1, PG, 8, ENABLED);            /* no whole page in it */
    struct srat_counts c;
    uint64_t at;
    CHECK(read_srat(&t, 0, 0, &c, &at) == 0);
    CHECK_EQ(nm.nnodes, 2);
    CHECK_EQ(nm.nranges, 3);
    CHECK_EQ(nm.range[0].npages, 4 * MIB / PG);
    CHECK_EQ(nm.range[1].start, 4 * MIB / PG);
    CHECK_EQ(nm.range[1].npages, 8 * MIB / PG);
    CHECK_EQ(nm.range[1].flags, PMM_NUMA_HOTPLUG);
    CHECK_EQ(nm.range[2].node, 1);
}

/* Revision 1 (ACPI 2.0) SRATs have 8-bit domains: the high bytes are not read. */
TEST(revision_one_domains_are_eight_bits)
{
    static struct table t;
    begin(&t, "SRAT", 1, 48);
    srat_apic(&t, 0, 0x1203, ENABLED);
    srat_mem(&t, 0, 64 * MIB, 0xabcd0003, ENABLED);
    uint32_t apic = 0;
    struct srat_counts c;
    uint64_t at;
    CHECK(read_srat(&t, &apic, 1, &c, &at) == 0);
    CHECK_EQ(nm.nnodes, 1);
    CHECK_EQ(nm.domain[0], 3);
    t.b[8] = 2; /* revision 2: 32 bits, two different domains */
    seal(&t);
    CHECK(read_srat(&t, &apic, 1, &c, &at) == 0);
    CHECK_EQ(nm.nnodes, 2);
    CHECK_EQ(nm.domain[0], 0x1203);
    CHECK_EQ(nm.domain[1], 0xabcd0003);
    CHECK_EQ(nm.cpu_node[0], 0);
    CHECK_EQ(nm.range[0].node, 1);
}

static void refused(const struct table *t, const char *needle, uint64_t want_at)
{
    struct srat_counts c;
    uint64_t at = 12345;
    uint32_t apic[2] = {1, 2};
    CHECK(says(read_srat(t, apic, 2, &c, &at), needle));
    CHECK_EQ(at, want_at);
}

TEST(broken_srats_are_refused_by_name)
{
    static struct table good, t;
    begin(&good, "SRAT", 3, 48);
    srat_apic(&good, 1, 0, ENABLED);       /* at 48 */
    srat_mem(&good, 0, GIB, 0, ENABLED);   /* at 64 */
    srat_x2apic(&good, 2, 1, ENABLED);     /* at 104 */
    srat_mem(&good, GIB, GIB, 1, ENABLED); /* at 128 */
    struct srat_counts c;
    uint64_t at;
    CHECK(read_srat(&good, (const uint32_t[]){1, 2}, 2, &c, &at) == 0);

    t = good;
    t.b[60] ^= 1; /* a reserved byte changed, the checksum not */
    refused(&t, "SRAT: checksum mismatch", 0);
    t = good;
    t.b[0] = 'X';
    refused(&t, "SRAT: signature is not SRAT", 0);
    CHECK(says(srat_check(good.b, 40, &c, &at), "SRAT: shorter than its 48-byte header"));
    CHECK(says(srat_check(good.b, good.len - 1, &c, &at), "SRAT: its length runs past"));
    t = good;
    put(t.b + 4, 30, 4);
    CHECK(says(srat_check(t.b, t.len, &c, &at), "length is shorter than its 48-byte header"));

    t = good;
    t.b[64 + 1] = 39; /* the memory entry one byte short */
    seal(&t);
    refused(&t, "SRAT: a memory affinity entry shorter than 40 bytes", 64);
    t = good;
    t.b[48 + 1] = 15;
    seal(&t);
    refused(&t, "SRAT: a processor local APIC affinity entry shorter than 16 bytes", 48);
    t = good;
    t.b[104 + 1] = 20;
    seal(&t);
    refused(&t, "SRAT: an x2APIC affinity entry shorter than 24 bytes", 104);
    t = good;
    t.b[104 + 1] = 1;
    seal(&t);
    refused(&t, "SRAT: an entry shorter than its 2-byte header", 104);
    t = good;
    t.b[128 + 1] = 41; /* the last entry claims a byte more than the table has */
    seal(&t);
    refused(&t, "SRAT: an entry runs past the end of the table", 128);
    t = good;
    uint8_t odd[1] = {3}; /* one byte of an entry header at the end */
    add(&t, odd, 1);
    refused(&t, "SRAT: an entry shorter than its 2-byte header", 168);

    t = good;
    srat_mem(&t, GIB + GIB / 2, PG, 1, ENABLED); /* at 168: inside the range at 128 */
    refused(&t, "SRAT: two memory ranges overlap", 168);
    t = good;
    srat_x2apic(&t, 1, 1, ENABLED); /* APIC ID 1 was in domain 0 */
    refused(&t, "SRAT: a CPU is in two proximity domains", 168);
    t = good;
    srat_x2apic(&t, 1, 0, ENABLED); /* ... the same domain twice is fine */
    CHECK(read_srat(&t, (const uint32_t[]){1, 2}, 2, &c, &at) == 0);
    t = good;
    srat_mem(&t, ~0ull - PG, 2 * PG, 1, ENABLED);
    refused(&t, "SRAT: a memory range wraps past 2^64", 168);
    t = good;
    srat_mem(&t, (1ull << 52) - PG, 2 * PG, 1, ENABLED);
    refused(&t, "SRAT: a memory range ends beyond 2^52", 168);
    t = good;
    srat_mem(&t, ~0ull - PG, 2 * PG, 1, 0); /* disabled: never looked at */
    CHECK(read_srat(&t, (const uint32_t[]){1, 2}, 2, &c, &at) == 0);

    begin(&t, "SRAT", 3, 48);
    for (uint32_t d = 0; d < PMM_NUMA_MAX_NODES; d++)
        srat_x2apic(&t, d, d * 3, ENABLED);
    CHECK(srat_check(t.b, t.len, &c, &at) == 0);
    CHECK_EQ(c.nodes, PMM_NUMA_MAX_NODES);
    srat_x2apic(&t, 5000, 7, ENABLED); /* domain 7 is new: the 1025th */
    refused(&t, "SRAT: more proximity domains than the 1024 nodes", 48 + 24 * 1024);
}

static uint8_t d8(uint32_t i, uint32_t j)
{
    return (uint8_t)(i == j ? 10 : 21);
}

TEST(broken_slits_are_refused_by_name)
{
    static struct table srat, s, t;
    eight_nodes(&srat);
    struct srat_counts c;
    uint64_t at = 7;
    CHECK(read_srat(&srat, 0, 0, &c, &at) == 0);
    slit_build(&s, 16, d16);
    CHECK(slit_read(s.b, s.len, &nm, &at) == 0);
    struct numa saved = nm;
    static uint8_t dsaved[64];
    memcpy(dsaved, nm.distance, 64);

    t = s;
    t.b[44 + 3 * 16 + 3] = 11; /* locality 3's distance to itself */
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: a locality's distance to itself is not 10"));
    CHECK_EQ(at, 44 + 3 * 16 + 3);
    t = s;
    t.b[44 + 2 * 16 + 5] = 9;
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: a distance below 10"));
    CHECK_EQ(at, 44 + 2 * 16 + 5);
    t = s;
    t.b[44 + 2 * 16 + 5] = 0;
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: a distance below 10"));
    t = s;
    t.b[50] ^= 1;
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: checksum mismatch"));
    CHECK_EQ(at, 0);
    t = s;
    t.b[1] = 'R';
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: signature is not SLIT"));
    CHECK(says(slit_read(s.b, 40, &nm, &at), "SLIT: shorter than its 44-byte header"));
    CHECK(says(slit_read(s.b, s.len - 1, &nm, &at), "SLIT: its length runs past the table"));
    t = s;
    put(t.b + 36, 17, 8); /* 17 x 17 does not fit in 16 x 16 */
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: its N x N matrix runs past the table"));
    t = s;
    put(t.b + 36, 1ull << 33, 8); /* N * N would wrap 64 bits */
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: its N x N matrix runs past the table"));
    t = s;
    put(t.b + 36, 0, 8);
    seal(&t);
    CHECK(says(slit_read(t.b, t.len, &nm, &at), "SLIT: no localities"));
    slit_build(&t, 8, d8); /* the SRAT has domains up to 15 */
    CHECK(says(slit_read(t.b, t.len, &nm, &at),
               "SLIT: fewer localities than the SRAT has proximity domains"));
    CHECK_EQ(at, 36);
    /* every refusal left the node table as it was */
    CHECK(!memcmp(&saved, &nm, sizeof nm));
    CHECK(!memcmp(dsaved, nm.distance, 64));
}

TEST(one_node_fallback)
{
    fresh();
    numa_one(&nm, 3);
    CHECK_EQ(nm.nnodes, 1);
    CHECK_EQ(nm.flags, 0);
    CHECK_EQ(nm.nranges, 0);
    CHECK_EQ(nm.domain[0], 0);
    CHECK_EQ(nm.distance[0], 10);
    CHECK_EQ(nm.ncpus, 3);
    CHECK_EQ(nm.unplaced, 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(nm.cpu_node[i], 0);
}

int main(void)
{
    RUN(eight_nodes_sparse_domains);
    RUN(sixteen_nodes_unaligned_merged);
    RUN(merging_and_slivers);
    RUN(revision_one_domains_are_eight_bits);
    RUN(broken_srats_are_refused_by_name);
    RUN(broken_slits_are_refused_by_name);
    RUN(one_node_fallback);
    HARNESS_MAIN_END();
}
