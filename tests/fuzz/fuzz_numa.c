/*
 * fuzz_numa.c - the loader's SRAT and SLIT reader (efi/numa.c), which runs on whatever tables
 * the firmware left in memory.
 *
 * FUZZ-LINK: efi/numa.c
 * FUZZ-CFLAGS: -Iefi
 *
 * Input: a flags byte, a CPU count byte (the CPU list is APIC IDs 0 .. count-1), the SRAT's size
 * (2 bytes), the SRAT's bytes, then the SLIT's bytes (the rest); each table copied to a buffer of
 * exactly its size, every array the reader fills allocated to exactly the size its contract
 * gives (ASan sees any access past either). Flag bits 0-2 write the SRAT's signature, set its
 * length field to its size and fix its checksum; bits 3-5 the same for the SLIT.
 *
 * Properties: srat_check accepts exactly the tables a second reading accepts (written here with a
 * cursor: header, length, checksum, entry lengths, enabled memory inside 2^52, at most 1024
 * domains) and counts what that reading counts. srat_read then succeeds unless that reading
 * finds two enabled memory ranges that overlap or a listed CPU in two domains, and its result
 * holds: domains ascending and exactly those of the enabled entries; ranges sorted, disjoint,
 * merged, whole pages, each inside an enabled memory entry of its node with its hot-plug flag;
 * every CPU on the node of its entry (or node 0, counted as unplaced); distances 10 and 20.
 * slit_read accepts exactly the SLITs the second reading accepts, copies each pair's distance
 * from the matrix by domain, and leaves the node table untouched when it refuses.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "numa.h"

typedef unsigned __int128 u128;

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fix(uint8_t *t, size_t n, uint8_t flags, const char *sig)
{
    if ((flags & 1) && n >= 4)
        memcpy(t, sig, 4);
    if ((flags & 2) && n >= 8)
        t[4] = (uint8_t)n, t[5] = (uint8_t)(n >> 8), t[6] = (uint8_t)(n >> 16), t[7] = 0;
    if ((flags & 4) && n >= 10 && rd(t + 4, 4) <= n) {
        uint8_t s = 0;
        t[9] = 0;
        for (size_t i = 0; i < rd(t + 4, 4); i++)
            s = (uint8_t)(s + t[i]);
        t[9] = (uint8_t)-s;
    }
}

static int header_ok(const uint8_t *t, size_t n, const char *sig, size_t head)
{
    if (n < head || memcmp(t, sig, 4))
        return 0;
    size_t len = rd(t + 4, 4);
    if (len < head || len > n || len > (1u << 20))
        return 0;
    unsigned s = 0;
    for (size_t i = 0; i < len; i++)
        s += t[i];
    return (s & 255) == 0;
}

/* One enabled affinity entry, as the second reading decodes it. */
struct ent {
    int mem;
    uint32_t dom, apic;
    uint64_t base, len;
    int hot;
};

/* The second reading of an SRAT: 1 and the enabled entries, or 0. */
static int srat_reading(const uint8_t *t, size_t n, struct ent *e, size_t *ne)
{
    *ne = 0;
    if (!header_ok(t, n, "SRAT", 48))
        return 0;
    const uint8_t *p = t + 48, *end = t + rd(t + 4, 4);
    int rev = t[8];
    while (p < end) {
        if (end - p < 2 || p[1] < 2 || p[1] > end - p)
            return 0;
        if ((p[0] == 0 && p[1] < 16) || (p[0] == 1 && p[1] < 40) || (p[0] == 2 && p[1] < 24))
            return 0;
        struct ent x = {0, 0, 0, 0, 0, 0};
        int on = 0;
        if (p[0] == 0) {
            on = p[4] & 1;
            x.dom = p[2] | (rev >= 2 ? (uint32_t)rd(p + 9, 3) << 8 : 0);
            x.apic = p[3];
        } else if (p[0] == 1) {
            on = (p[28] & 1) && rd(p + 16, 8);
            x.mem = 1;
            x.dom = (uint32_t)rd(p + 2, 4) & (rev >= 2 ? ~0u : 0xffu);
            x.base = rd(p + 8, 8), x.len = rd(p + 16, 8), x.hot = (p[28] >> 1) & 1;
            if (on && (u128)x.base + x.len > ((u128)1 << 52))
                return 0;
        } else if (p[0] == 2) {
            on = p[12] & 1;
            x.dom = (uint32_t)rd(p + 4, 4);
            x.apic = (uint32_t)rd(p + 8, 4);
        }
        if (on)
            e[(*ne)++] = x;
        p += p[1];
    }
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The distinct domains of e, ascending; their count. */
static uint32_t domains(const struct ent *e, size_t ne, uint32_t *d)
{
    for (size_t i = 0; i < ne; i++)
        d[i] = e[i].dom;
    qsort(d, ne, sizeof *d, cmp_u32);
    uint32_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (!k || d[k - 1] != d[i])
            d[k++] = d[i];
    return k;
}

static void check_read(const struct numa *m, const struct ent *e, size_t ne, const uint32_t *d,
                       uint32_t nd, uint32_t ncpus)
{
    FZ_ASSERT(m->nnodes == nd, "%u nodes, want %u", m->nnodes, nd);
    FZ_ASSERT(!memcmp(m->domain, d, nd * sizeof *d), "other domains");
    FZ_ASSERT(m->flags == PMM_NUMA_FROM_SRAT, "flags %u", m->flags);
    for (uint64_t i = 0; i < m->nranges; i++) {
        const struct pmm_numa_range *r = &m->range[i];
        FZ_ASSERT(r->npages && r->node < nd && r->flags <= PMM_NUMA_HOTPLUG, "range %lu", i);
        if (i) {
            const struct pmm_numa_range *q = &m->range[i - 1];
            FZ_ASSERT(q->start + q->npages <= r->start, "ranges %lu, %lu overlap or unsorted",
                      i - 1, i);
            FZ_ASSERT(q->start + q->npages < r->start || q->node != r->node || q->flags != r->flags,
                      "ranges %lu, %lu not merged", i - 1, i);
        }
        /* its first and last page each lie inside an enabled entry of its domain and flags */
        for (int end = 0; end < 2; end++) {
            u128 a = ((u128)r->start + (end ? r->npages - 1 : 0)) * 4096;
            int in = 0;
            for (size_t k = 0; k < ne && !in; k++)
                in = e[k].mem && e[k].dom == d[r->node] && e[k].hot == (int)r->flags &&
                     a >= e[k].base && a + 4096 <= (u128)e[k].base + e[k].len;
            FZ_ASSERT(in, "range %lu's %s page is in no entry of its node", i,
                      end ? "last" : "first");
        }
    }
    uint32_t unplaced = 0;
    for (uint32_t c = 0; c < ncpus; c++) {
        int found = 0;
        for (size_t k = 0; k < ne && !found; k++)
            if (!e[k].mem && e[k].apic == c) {
                found = 1;
                FZ_ASSERT(m->cpu_node[c] < nd && d[m->cpu_node[c]] == e[k].dom,
                          "CPU %u on node %u, its entry says domain %u", c, m->cpu_node[c],
                          e[k].dom);
            }
        if (!found) {
            FZ_ASSERT(m->cpu_node[c] == 0, "unplaced CPU %u on node %u", c, m->cpu_node[c]);
            unplaced++;
        }
    }
    FZ_ASSERT(m->unplaced == unplaced, "%u unplaced, want %u", m->unplaced, unplaced);
    for (uint32_t i = 0; i < nd; i++)
        for (uint32_t j = 0; j < nd; j++)
            FZ_ASSERT(m->distance[i * nd + j] == (i == j ? 10 : 20), "default distance");
}

/* Why srat_read may refuse an SRAT srat_check accepted: an overlap, or a CPU in two domains. */
static int read_may_refuse(const struct ent *e, size_t ne, uint32_t ncpus)
{
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < i; j++) {
            if (e[i].mem && e[j].mem && e[i].base < e[j].base + e[j].len &&
                e[j].base < e[i].base + e[i].len)
                return 1;
            if (!e[i].mem && !e[j].mem && e[i].apic == e[j].apic && e[i].apic < ncpus &&
                e[i].dom != e[j].dom)
                return 1;
        }
    return 0;
}

static int slit_reading(const uint8_t *t, size_t n, const uint32_t *d, uint32_t nd)
{
    if (!header_ok(t, n, "SLIT", 44))
        return 0;
    u128 len = rd(t + 4, 4), loc = rd(t + 36, 8);
    if (!loc || loc * loc > len - 44)
        return 0;
    for (u128 i = 0; i < loc; i++)
        for (u128 j = 0; j < loc; j++) {
            uint8_t v = t[44 + (size_t)(i * loc + j)];
            if ((i == j && v != 10) || v < 10)
                return 0;
        }
    for (uint32_t i = 0; i < nd; i++)
        if (d[i] >= loc)
            return 0;
    return 1;
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
    uint8_t *t = malloc(n ? n : 1);
    memcpy(t, p, n);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t flags = data[0];
    uint32_t ncpus = data[1];
    size_t sn = (size_t)data[2] | (size_t)data[3] << 8;
    data += 4, size -= 4;
    if (sn > size)
        sn = size;
    uint8_t *srat = copy_of(data, sn), *slit = copy_of(data + sn, size - sn);
    size_t ln = size - sn;
    fix(srat, sn, flags, "SRAT");
    fix(slit, ln, (uint8_t)(flags >> 3), "SLIT");

    struct srat_counts c = {77, 77};
    uint64_t at = ~0ull;
    const char *why = srat_check(srat, sn, &c, &at);
    struct ent *e = malloc((sn / 16 + 1) * sizeof *e);
    uint32_t *d = malloc((sn / 16 + 1) * sizeof *d);
    size_t ne;
    int ok = srat_reading(srat, sn, e, &ne);
    uint32_t nd = ok ? domains(e, ne, d) : 0;
    if (ok && nd > PMM_NUMA_MAX_NODES)
        ok = 0;
    FZ_ASSERT((why == 0) == ok, "srat_check says '%s', the second reading %s", why ? why : "ok",
              ok ? "accepts" : "refuses");
    if (why) {
        FZ_ASSERT(c.nodes == 0 && c.ranges == 0, "a refused SRAT counted something");
        FZ_ASSERT(at == 0 || (at >= 48 && at < rd(srat + 4, 4)), "offset %lu outside", at);
    } else {
        uint64_t mem = 0;
        for (size_t i = 0; i < ne; i++)
            mem += e[i].mem;
        FZ_ASSERT(c.nodes == nd && c.ranges == mem, "counted %u nodes %lu ranges, want %u %lu",
                  c.nodes, c.ranges, nd, mem);
        struct numa m;
        memset(&m, 0, sizeof m);
        m.domain = malloc(c.nodes * sizeof *m.domain + 1);
        m.range = malloc(c.ranges * sizeof *m.range + 1);
        m.distance = malloc((size_t)c.nodes * c.nodes + 1);
        m.cpu_node = malloc(ncpus * sizeof *m.cpu_node + 1);
        uint32_t apic[256];
        for (uint32_t i = 0; i < ncpus; i++)
            apic[i] = i;
        why = srat_read(srat, &m, apic, ncpus, &at);
        if (why) {
            FZ_ASSERT(read_may_refuse(e, ne, ncpus), "srat_read refused: %s", why);
            FZ_ASSERT(at >= 48 && at < rd(srat + 4, 4), "offset %lu outside", at);
        } else {
            check_read(&m, e, ne, d, nd, ncpus);
            uint8_t *before = copy_of(m.distance, (size_t)nd * nd);
            int sok = slit_reading(slit, ln, d, nd);
            const char *sw = slit_read(slit, ln, &m, &at);
            FZ_ASSERT((sw == 0) == sok, "slit_read says '%s', the second reading %s",
                      sw ? sw : "ok", sok ? "accepts" : "refuses");
            if (sw) {
                FZ_ASSERT(!memcmp(before, m.distance, (size_t)nd * nd) &&
                              m.flags == PMM_NUMA_FROM_SRAT,
                          "a refused SLIT changed the node table");
            } else {
                uint64_t loc = rd(slit + 36, 8);
                for (uint32_t i = 0; i < nd; i++)
                    for (uint32_t j = 0; j < nd; j++)
                        FZ_ASSERT(m.distance[i * nd + j] == slit[44 + d[i] * loc + d[j]],
                                  "distance %u -> %u not the SLIT's", i, j);
            }
            free(before);
        }
        free(m.domain);
        free(m.range);
        free(m.distance);
        free(m.cpu_node);
    }
    free(e);
    free(d);
    free(srat);
    free(slit);
    return 0;
}
