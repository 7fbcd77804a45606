/*
 * nodes.c - the machine's NUMA nodes, read while boot services run, after the CPU list (each CPU
 * gets its node) and before the allocator is built (it takes the node table at build).
 *
 * The ACPI SRAT and SLIT, found through the RSDP, are read by numa.c; the arrays live in one pool
 * allocation sized by what srat_check counted, so any number of nodes, ranges and CPUs fits. A
 * table that is missing or refused leaves one node: the run goes on, and the loader's line says
 * which table was refused and why.
 */
#include "loader.h"

struct nodes boot_nodes;

/* Pool memory for n's arrays: ranges, CPU nodes, domains, distances. 0 if there is none. */
static void *arrays(struct numa *n, uint32_t nodes, uint64_t ranges, uint32_t ncpus)
{
    uint64_t bytes = ranges * sizeof *n->range + (uint64_t)ncpus * 4 + (uint64_t)nodes * 4 +
                     (uint64_t)nodes * nodes;
    uint8_t *m = AllocatePool(bytes ? bytes : 1);
    if (!m)
        return 0;
    n->range = (struct pmm_numa_range *)m;
    n->cpu_node = (uint32_t *)(m + ranges * sizeof *n->range);
    n->domain = n->cpu_node + ncpus;
    n->distance = (uint8_t *)(n->domain + nodes);
    return m;
}

/* A table's bytes and length (from its header), or 0. */
static const uint8_t *table(UINT64 rsdp, const char *sig, uint32_t *len)
{
    uint64_t at = 0;
    if (acpi_find(rsdp, 0, sig, &at) || !at)
        return 0;
    const uint8_t *t = (const uint8_t *)(UINTN)at;
    *len = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    return t;
}

void nodes_free(struct nodes *n)
{
    if (n->numa.range)
        FreePool(n->numa.range);
    SetMem(n, sizeof *n, 0);
}

void nodes_find(struct nodes *n, const struct cpu_list *cpus)
{
    static uint32_t one_domain; /* no pool at all: one node, no per-CPU array */
    static uint8_t one_distance;
    nodes_free(n);
    UINT64 rsdp = fw_rsdp();
    uint32_t srat_len = 0, slit_len = 0;
    const uint8_t *srat = table(rsdp, "SRAT", &srat_len), *slit = table(rsdp, "SLIT", &slit_len);
    n->have_srat = srat != 0;
    n->have_slit = slit != 0;
    struct srat_counts c = {0, 0};
    if (srat)
        n->why = srat_check(srat, srat_len, &c, &n->why_at);
    if (!n->why && c.nodes > PMM_MAX_NODES) {
        n->why = "more nodes than the allocator keeps (PMM_MAX_NODES)";
        c.nodes = 1;
    }
    if (!arrays(&n->numa, c.nodes ? c.nodes : 1, c.ranges, cpus->n)) {
        n->why = "no pool memory for the node table";
        n->numa.range = 0;
        n->numa.domain = &one_domain;
        n->numa.distance = &one_distance;
        n->numa.cpu_node = 0;
        numa_one(&n->numa, 0);
        return;
    }
    if (srat && !n->why)
        n->why = srat_read(srat, &n->numa, cpus->apic_id, cpus->n, &n->why_at);
    if (!srat || n->why) {
        numa_one(&n->numa, cpus->n);
        return;
    }
    if (slit)
        n->slit = slit_read(slit, slit_len, &n->numa, &n->slit_at);
}

void nodes_build(const struct nodes *n, struct pmm_build *b)
{
    const struct numa *m = &n->numa;
    b->nnodes = m->nnodes;
    b->numa = m->range;
    b->numa_count = m->range ? m->nranges : 0;
    b->distance = m->distance;
    /* every CPU of the list placed (or none: then all are on node 0) */
    b->cpu_node = m->cpu_node && m->ncpus == b->max_cpus ? m->cpu_node : 0;
}

void nodes_print(const struct nodes *n)
{
    const struct numa *m = &n->numa;
    if (!n->have_srat) {
        Print(L"loader: NUMA: one node (no ACPI SRAT)\n");
        return;
    }
    if (n->why) {
        Print(L"loader: NUMA: %a (at byte %ld); the run goes on as one node\n", n->why, n->why_at);
        return;
    }
    Print(L"loader: NUMA: %d node%s, %ld memory range%s (ACPI SRAT)", m->nnodes,
          m->nnodes == 1 ? L"" : L"s", m->nranges, m->nranges == 1 ? L"" : L"s");
    if (m->unplaced)
        Print(L"; %d CPU%s the SRAT does not place, on node 0", m->unplaced,
              m->unplaced == 1 ? L"" : L"s");
    if (n->slit)
        Print(L"; %a (at byte %ld): distances 10 and 20\n", n->slit, n->slit_at);
    else if (n->have_slit)
        Print(L"; distances from the ACPI SLIT\n");
    else
        Print(L"; no SLIT: distances 10 and 20\n");
}
