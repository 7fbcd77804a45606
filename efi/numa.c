/*
 * numa.c - read the ACPI SRAT and SLIT into nodes, ranges, distances and each CPU's node.
 *
 * Facts from the ACPI specification (6.5, sections 5.2.16 and 5.2.17). SRAT: the 36-byte table
 * header, 4 bytes that must read 1 and 8 reserved, then entries of (type, length, ...):
 *   type 0, processor local APIC/SAPIC affinity, 16 bytes: proximity domain bits 7:0 at 2, APIC ID
 *          at 3, flags at 4, domain bits 31:8 at 9 (3 bytes; from table revision 2 on);
 *   type 1, memory affinity, 40 bytes: proximity domain at 2 (4 bytes), base at 8 and length at 16
 *          (8 bytes each), flags at 28: bit 0 Enabled, bit 1 Hot Pluggable, bit 2 Non-Volatile;
 *   type 2, processor local x2APIC affinity, 24 bytes: proximity domain at 4, x2APIC ID at 8,
 *          flags at 12;
 * for every type flag bit 0 is Enabled, and a disabled entry is to be ignored (firmware writes a
 * fixed number of entries and enables those it needs). Revision 1 tables (ACPI 2.0) defined only
 * 8 bits of proximity domain, as Linux reads them. SLIT: the 36-byte header, the number of
 * localities N (8 bytes at 36), then N x N bytes, row i holding the distances from locality i; the
 * diagonal is 10, 0-9 are reserved, 255 means unreachable. Localities are proximity domains.
 */
#include "acpi_bytes.h"
#include "numa.h"

#define SDT_HEADER   36
#define SRAT_HEADER  48
#define SLIT_HEADER  44
#define TABLE_MAX    (1u << 20) /* as for the MADT: a larger length is garbage */
#define CPU_APIC     0
#define MEMORY       1
#define CPU_X2APIC   2
#define FLAG_ENABLED 1u
#define MEM_HOTPLUG  2u
#define PHYS_LIMIT   (1ull << 52)
#define PAGE         4096ull
#define NO_NODE      0xffffffffu

/* One entry of an SRAT, as far as this reader cares. */
struct entry {
    int kind;     /* CPU_APIC, MEMORY, CPU_X2APIC, or -1: another type */
    int enabled;  /* the Enabled flag */
    uint32_t dom; /* proximity domain */
    uint32_t apic;
    uint64_t base, len; /* memory, bytes */
    uint32_t flags;     /* memory: PMM_NUMA_* */
};

static struct entry decode(const uint8_t *e, int rev)
{
    struct entry x = {-1, 0, 0, 0, 0, 0, 0};
    if (e[0] == CPU_APIC) {
        x.kind = CPU_APIC;
        x.enabled = acpi_le(e + 4, 4) & FLAG_ENABLED;
        x.dom = e[2] | (rev >= 2 ? (uint32_t)acpi_le(e + 9, 3) << 8 : 0);
        x.apic = e[3];
    } else if (e[0] == MEMORY) {
        uint32_t f = (uint32_t)acpi_le(e + 28, 4);
        x.kind = MEMORY;
        x.enabled = f & FLAG_ENABLED;
        x.dom = (uint32_t)acpi_le(e + 2, 4) & (rev >= 2 ? 0xffffffffu : 0xffu);
        x.base = acpi_le(e + 8, 8);
        x.len = acpi_le(e + 16, 8);
        x.flags = f & MEM_HOTPLUG ? PMM_NUMA_HOTPLUG : 0;
    } else if (e[0] == CPU_X2APIC) {
        x.kind = CPU_X2APIC;
        x.enabled = acpi_le(e + 12, 4) & FLAG_ENABLED;
        x.dom = (uint32_t)acpi_le(e + 4, 4);
        x.apic = (uint32_t)acpi_le(e + 8, 4);
    }
    /* a memory entry without a byte describes nothing: no node comes of it */
    if (x.kind == MEMORY && !x.len)
        x.enabled = 0;
    return x;
}

/* The common header checks of SRAT (slit 0) and SLIT (slit 1). */
static const char *table_check(const uint8_t *t, uint64_t avail, int slit, uint32_t *len)
{
    static const char *const msg[2][5] = {
        {"SRAT: shorter than its 48-byte header", "SRAT: signature is not SRAT",
         "SRAT: its length is shorter than its 48-byte header",
         "SRAT: its length runs past the table", "SRAT: checksum mismatch"},
        {"SLIT: shorter than its 44-byte header", "SLIT: signature is not SLIT",
         "SLIT: its length is shorter than its 44-byte header",
         "SLIT: its length runs past the table", "SLIT: checksum mismatch"},
    };
    const char *sig = slit ? "SLIT" : "SRAT";
    uint32_t head = slit ? SLIT_HEADER : SRAT_HEADER;
    if (avail < head)
        return msg[slit][0];
    for (int i = 0; i < 4; i++)
        if (t[i] != (uint8_t)sig[i])
            return msg[slit][1];
    *len = (uint32_t)acpi_le(t + 4, 4);
    if (*len < head)
        return msg[slit][2];
    if (*len > avail || *len > TABLE_MAX)
        return msg[slit][3];
    if (acpi_sum(t, *len))
        return msg[slit][4];
    return 0;
}

/* Index of dom in the ascending d[0..n), or where it would go (*found 0). */
static uint32_t find_domain(const uint32_t *d, uint32_t n, uint32_t dom, int *found)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (d[mid] < dom)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && d[lo] == dom;
    return lo;
}

/* Add dom to the ascending set d[0..*n); 0, or 1 if it is new and the set already holds cap. */
static int add_domain(uint32_t *d, uint32_t *n, uint32_t cap, uint32_t dom)
{
    int found;
    uint32_t i = find_domain(d, *n, dom, &found);
    if (found)
        return 0;
    if (*n == cap)
        return 1;
    for (uint32_t j = *n; j > i; j--)
        d[j] = d[j - 1];
    d[i] = dom;
    (*n)++;
    return 0;
}

/*
 * Walk the entries of an SRAT whose header is good. With d (cap PMM_NUMA_MAX_NODES) the enabled
 * entries' domains are collected; each entry is checked. 0, or a message and *at.
 */
static const char *walk(const uint8_t *t, uint32_t len, uint32_t *d, uint32_t *nd, uint64_t *ranges,
                        uint64_t *at)
{
    int rev = t[8];
    *nd = 0;
    *ranges = 0;
    for (uint32_t off = SRAT_HEADER; off < len; off += t[off + 1]) {
        *at = off;
        if (len - off < 2 || t[off + 1] < 2)
            return "SRAT: an entry shorter than its 2-byte header";
        if (t[off + 1] > len - off)
            return "SRAT: an entry runs past the end of the table";
        const uint8_t *e = t + off;
        if (e[0] == CPU_APIC && e[1] < 16)
            return "SRAT: a processor local APIC affinity entry shorter than 16 bytes";
        if (e[0] == MEMORY && e[1] < 40)
            return "SRAT: a memory affinity entry shorter than 40 bytes";
        if (e[0] == CPU_X2APIC && e[1] < 24)
            return "SRAT: an x2APIC affinity entry shorter than 24 bytes";
        struct entry x = decode(e, rev);
        if (x.kind < 0 || !x.enabled)
            continue;
        if (x.kind == MEMORY) {
            if (x.base + x.len < x.base)
                return "SRAT: a memory range wraps past 2^64";
            if (x.base + x.len > PHYS_LIMIT)
                return "SRAT: a memory range ends beyond 2^52, where no x86 CPU addresses";
            (*ranges)++;
        }
        if (add_domain(d, nd, PMM_NUMA_MAX_NODES, x.dom))
            return "SRAT: more proximity domains than the 1024 nodes this loader takes";
    }
    *at = 0;
    return 0;
}

const char *srat_check(const uint8_t *t, uint64_t avail, struct srat_counts *c, uint64_t *at)
{
    *at = 0;
    c->nodes = 0;
    c->ranges = 0;
    uint32_t len = 0;
    const char *why = table_check(t, avail, 0, &len);
    if (why)
        return why;
    uint32_t d[PMM_NUMA_MAX_NODES];
    why = walk(t, len, d, &c->nodes, &c->ranges, at);
    if (why)
        c->nodes = 0, c->ranges = 0;
    return why;
}

static int before(const struct pmm_numa_range *a, const struct pmm_numa_range *b)
{
    return a->start < b->start;
}

/* Heapsort by start: O(n log n) on any table, no recursion, no memory. */
static void sift(struct pmm_numa_range *r, uint64_t i, uint64_t n)
{
    for (;;) {
        uint64_t big = i, l = 2 * i + 1, rr = l + 1;
        if (l < n && before(&r[big], &r[l]))
            big = l;
        if (rr < n && before(&r[big], &r[rr]))
            big = rr;
        if (big == i)
            return;
        struct pmm_numa_range t = r[i];
        r[i] = r[big];
        r[big] = t;
        i = big;
    }
}

static void sort_ranges(struct pmm_numa_range *r, uint64_t n)
{
    for (uint64_t i = n / 2; i-- > 0;)
        sift(r, i, n);
    for (uint64_t end = n; end > 1; end--) {
        struct pmm_numa_range t = r[0];
        r[0] = r[end - 1];
        r[end - 1] = t;
        sift(r, 0, end - 1);
    }
}

/* The offset of the enabled memory entry that starts at base (for a refusal's *at). */
static uint64_t entry_at(const uint8_t *t, uint32_t len, uint64_t base)
{
    for (uint32_t off = SRAT_HEADER; off < len; off += t[off + 1]) {
        struct entry x = decode(t + off, t[8]);
        if (x.kind == MEMORY && x.enabled && x.base == base)
            return off;
    }
    return 0;
}

/* Ranges: collected in bytes, sorted, checked for overlap, then cut to whole pages and merged. */
static const char *read_ranges(const uint8_t *t, uint32_t len, struct numa *n, uint64_t *at)
{
    uint64_t k = 0;
    for (uint32_t off = SRAT_HEADER; off < len; off += t[off + 1]) {
        struct entry x = decode(t + off, t[8]);
        if (x.kind != MEMORY || !x.enabled)
            continue;
        int found;
        uint32_t node = find_domain(n->domain, n->nnodes, x.dom, &found);
        n->range[k++] = (struct pmm_numa_range){x.base, x.len, node, x.flags};
    }
    sort_ranges(n->range, k);
    for (uint64_t i = 1; i < k; i++)
        if (n->range[i].start < n->range[i - 1].start + n->range[i - 1].npages) {
            *at = entry_at(t, len, n->range[i].start);
            return "SRAT: two memory ranges overlap";
        }
    uint64_t m = 0;
    for (uint64_t i = 0; i < k; i++) {
        struct pmm_numa_range r = n->range[i];
        uint64_t lo = (r.start + PAGE - 1) / PAGE, hi = (r.start + r.npages) / PAGE;
        if (lo >= hi)
            continue; /* less than a page */
        struct pmm_numa_range *last = m ? &n->range[m - 1] : 0;
        if (last && last->start + last->npages == lo && last->node == r.node &&
            last->flags == r.flags) {
            last->npages += hi - lo;
            continue;
        }
        n->range[m++] = (struct pmm_numa_range){lo, hi - lo, r.node, r.flags};
    }
    n->nranges = m;
    return 0;
}

/* Every CPU of the list gets the node of the enabled SRAT entry with its APIC ID. */
static const char *read_cpus(const uint8_t *t, uint32_t len, struct numa *n,
                             const uint32_t *apic_id, uint32_t ncpus, uint64_t *at)
{
    n->ncpus = ncpus;
    for (uint32_t i = 0; i < ncpus; i++)
        n->cpu_node[i] = NO_NODE;
    for (uint32_t off = SRAT_HEADER; off < len; off += t[off + 1]) {
        struct entry x = decode(t + off, t[8]);
        if (x.kind == MEMORY || x.kind < 0 || !x.enabled)
            continue;
        int found;
        uint32_t node = find_domain(n->domain, n->nnodes, x.dom, &found);
        for (uint32_t i = 0; i < ncpus; i++) {
            if (apic_id[i] != x.apic)
                continue;
            if (n->cpu_node[i] != NO_NODE && n->cpu_node[i] != node) {
                *at = off;
                return "SRAT: a CPU is in two proximity domains";
            }
            n->cpu_node[i] = node;
        }
    }
    n->unplaced = 0;
    for (uint32_t i = 0; i < ncpus; i++)
        if (n->cpu_node[i] == NO_NODE) {
            n->cpu_node[i] = 0;
            n->unplaced++;
        }
    return 0;
}

static void default_distances(struct numa *n)
{
    for (uint32_t i = 0; i < n->nnodes; i++)
        for (uint32_t j = 0; j < n->nnodes; j++)
            n->distance[(uint64_t)i * n->nnodes + j] =
                (uint8_t)(i == j ? PMM_NUMA_LOCAL : PMM_NUMA_REMOTE);
}

const char *srat_read(const uint8_t *t, struct numa *n, const uint32_t *apic_id, uint32_t ncpus,
                      uint64_t *at)
{
    *at = 0;
    uint32_t len = (uint32_t)acpi_le(t + 4, 4);
    uint64_t ranges;
    const char *why = walk(t, len, n->domain, &n->nnodes, &ranges, at);
    if (!why)
        why = read_ranges(t, len, n, at);
    if (!why)
        why = read_cpus(t, len, n, apic_id, ncpus, at);
    if (why)
        return why;
    n->flags = PMM_NUMA_FROM_SRAT;
    default_distances(n);
    return 0;
}

const char *slit_read(const uint8_t *t, uint64_t avail, struct numa *n, uint64_t *at)
{
    *at = 0;
    uint32_t len = 0;
    const char *why = table_check(t, avail, 1, &len);
    if (why)
        return why;
    uint64_t nloc = acpi_le(t + 36, 8);
    if (!nloc)
        return "SLIT: no localities";
    if (nloc > len || nloc * nloc > len - SLIT_HEADER)
        return "SLIT: its N x N matrix runs past the table";
    const uint8_t *m = t + SLIT_HEADER;
    for (uint64_t i = 0; i < nloc; i++)
        for (uint64_t j = 0; j < nloc; j++) {
            uint8_t v = m[i * nloc + j];
            *at = SLIT_HEADER + i * nloc + j;
            if (i == j && v != PMM_NUMA_LOCAL)
                return "SLIT: a locality's distance to itself is not 10";
            if (i != j && v < PMM_NUMA_LOCAL)
                return "SLIT: a distance below 10 (0-9 are reserved)";
        }
    *at = 36;
    for (uint32_t i = 0; i < n->nnodes; i++)
        if (n->domain[i] >= nloc)
            return "SLIT: fewer localities than the SRAT has proximity domains";
    *at = 0;
    for (uint32_t i = 0; i < n->nnodes; i++)
        for (uint32_t j = 0; j < n->nnodes; j++)
            n->distance[(uint64_t)i * n->nnodes + j] = m[n->domain[i] * nloc + n->domain[j]];
    n->flags |= PMM_NUMA_FROM_SLIT;
    return 0;
}

void numa_one(struct numa *n, uint32_t ncpus)
{
    n->nnodes = 1;
    n->flags = 0;
    n->domain[0] = 0;
    n->nranges = 0;
    n->distance[0] = PMM_NUMA_LOCAL;
    n->ncpus = ncpus;
    n->unplaced = 0;
    for (uint32_t i = 0; i < ncpus; i++)
        n->cpu_node[i] = 0;
}
