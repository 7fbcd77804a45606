/*
 * fuzz_handoff.c - the kernel's check of the live-allocator response (handoff/verify.c,
 * include/handoff.h).
 *
 * FUZZ-LINK: handoff/verify.c
 *
 * Input: a flags byte, the response's bytes (struct pmm_response), then the arrays' bytes: cpus,
 * handed, kept, numa_ranges, distance (node_count^2 bytes), node_domain, each as many entries as
 * the response's count says when that count is at most the counts verify allows (each array in
 * an allocation of exactly its size, so ASan sees an overrun; bytes past the input read as
 * zeros). A pointer the input gives is kept only for a count above those limits, which must be
 * refused unread. hhdm is 0.
 * Flags make a mutated response get past the first checks: bit 0 writes the right abi and
 * revision, bit 1 recomputes the checksum (last), bit 2 sorts the handed runs, bit 3 sorts the
 * NUMA ranges, bit 4 makes the distances valid (10 on the diagonal, at least 10 elsewhere), bit 5
 * makes the domains ascending, bit 6 puts every CPU and range on a node below node_count.
 *
 * Property: pmm_response_verify accepts exactly the responses an independent reading of the
 * contract accepts (in 128-bit arithmetic), and reads nothing outside the response and arrays.
 */
#include "fuzz.h"
#include "handoff.h"

typedef unsigned __int128 u128;

#define CPUS  4096
#define ARR   65536
#define NODES 1024
#define LIM   ((u128)1 << 52)

static int sane_array(const void *a, uint64_t n, uint64_t size)
{
    uint64_t v = (uint64_t)(uintptr_t)a;
    return !n || (!(v & 7) && v < LIM && (u128)n * size <= LIM - v);
}

/* The contract, read independently: 1 if the response is acceptable. */
static int acceptable(const struct pmm_response *r)
{
    if (r->abi != PMM_ABI_VERSION || r->revision != 1 || !r->state_phys || r->state_phys % 4096 ||
        r->state_phys >= LIM || r->virt_offset != 0 || (r->flags & ~PMM_RESPONSE_BOOT_HELD))
        return 0;
    if (!r->cpu_count || r->cpu_count > 4096 || r->bsp >= r->cpu_count ||
        r->cpus_found < r->cpu_count || r->cpu_source < 1 || r->cpu_source > 3)
        return 0;
    if (!sane_array(r->cpus, r->cpu_count, sizeof *r->cpus) || r->handed_count > 65536 ||
        !sane_array(r->handed, r->handed_count, sizeof *r->handed) || r->kept_count > 65536 ||
        !sane_array(r->kept, r->kept_count, sizeof *r->kept))
        return 0;
    uint64_t nn = r->node_count;
    if ((r->numa_flags & ~3u) || !nn || nn > NODES || r->numa_range_count > ARR ||
        !sane_array(r->numa_ranges, r->numa_range_count, sizeof *r->numa_ranges) ||
        !sane_array(r->distance, nn * nn, 1) ||
        !sane_array(r->node_domain, nn, sizeof *r->node_domain))
        return 0;
    if (pmm_response_checksum(r) != r->checksum)
        return 0;
    for (uint64_t i = 0; i < r->cpu_count; i++) {
        if (r->cpus[i].flags & ~PMM_CPU_IN_MP)
            return 0;
        for (uint64_t j = i + 1; j < r->cpu_count; j++)
            if (r->cpus[i].lapic_id == r->cpus[j].lapic_id)
                return 0;
    }
    u128 end = 0;
    for (uint64_t i = 0; i < r->handed_count; i++) {
        const struct pmm_handed *h = &r->handed[i];
        u128 e = (u128)h->phys + (u128)h->pages * 4096;
        if (h->phys % 4096 || !h->pages || e > LIM || h->kind < 1 || h->kind > 9 ||
            (i && h->phys < end))
            return 0;
        end = e;
    }
    for (uint64_t i = 0; i < r->kept_count; i++) {
        const struct pmm_kept *k = &r->kept[i];
        u128 e = (u128)k->phys + k->bytes;
        if (k->kind < 1 || k->kind > 6 || !k->bytes || e > LIM)
            return 0;
        u128 lo = k->phys / 4096 * 4096, hi = (e + 4095) / 4096 * 4096;
        int in = 0;
        for (uint64_t j = 0; j < r->handed_count; j++)
            in |= lo >= r->handed[j].phys &&
                  hi <= (u128)r->handed[j].phys + (u128)r->handed[j].pages * 4096;
        if (!in)
            return 0;
    }
    for (uint64_t i = 0; i < r->cpu_count; i++)
        if (r->cpus[i].node >= nn)
            return 0;
    for (uint64_t i = 0; i + 1 < nn; i++)
        if (r->node_domain[i] >= r->node_domain[i + 1])
            return 0;
    for (uint64_t i = 0; i < nn; i++)
        for (uint64_t j = 0; j < nn; j++)
            if ((i == j && r->distance[i * nn + j] != 10) || r->distance[i * nn + j] < 10)
                return 0;
    u128 last = 0;
    for (uint64_t i = 0; i < r->numa_range_count; i++) {
        const struct pmm_numa_range *m = &r->numa_ranges[i];
        u128 e = (u128)m->start + m->npages;
        if (!m->npages || e > LIM / 4096 || m->node >= nn || m->flags > 1 || (i && m->start < last))
            return 0;
        last = e;
    }
    return 1;
}

static void *take(struct fz_in *in, uint64_t count, size_t size)
{
    size_t n = count * size, k = n < in->n ? n : in->n;
    uint8_t *a = calloc(1, n ? n : 1);
    memcpy(a, in->p, k);
    in->p += k, in->n -= k;
    return a;
}

static int by_phys(const void *a, const void *b)
{
    const struct pmm_handed *x = a, *y = b;
    return x->phys < y->phys ? -1 : x->phys > y->phys;
}

static int by_start(const void *a, const void *b)
{
    const struct pmm_numa_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Flags 4, 5, 6: a mutated node table made valid in one respect each. */
static void numa_fixups(struct pmm_response *r, uint8_t flags)
{
    uint64_t nn = r->node_count;
    if (flags & 16)
        for (uint64_t i = 0; i < nn; i++)
            for (uint64_t j = 0; j < nn; j++) {
                uint8_t *d = &r->distance[i * nn + j];
                *d = i == j ? 10 : *d < 10 ? (uint8_t)(10 + *d) : *d;
            }
    if (flags & 32)
        for (uint64_t i = 1; i < nn; i++)
            if (r->node_domain[i] <= r->node_domain[i - 1])
                r->node_domain[i] = r->node_domain[i - 1] + 1;
    if ((flags & 64) && nn) {
        for (uint64_t i = 0; i < r->cpu_count; i++)
            r->cpus[i].node %= (uint32_t)nn;
        for (uint64_t i = 0; i < r->numa_range_count; i++)
            r->numa_ranges[i].node %= (uint32_t)nn;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    uint8_t flags = fz_u8(&in);
    struct pmm_response *r = malloc(sizeof *r);
    for (size_t i = 0; i < sizeof *r; i++)
        ((uint8_t *)r)[i] = fz_u8(&in);
    void *cpus = 0, *handed = 0, *kept = 0, *ranges = 0, *dist = 0, *doms = 0;
    int readable = r->cpu_count <= CPUS && r->handed_count <= ARR && r->kept_count <= ARR &&
                   r->numa_range_count <= ARR && r->node_count <= NODES;
    if (r->cpu_count <= CPUS)
        r->cpus = cpus = take(&in, r->cpu_count, sizeof(struct pmm_cpu));
    if (r->handed_count <= ARR) {
        r->handed = handed = take(&in, r->handed_count, sizeof(struct pmm_handed));
        if (flags & 4)
            qsort(handed, r->handed_count, sizeof(struct pmm_handed), by_phys);
    }
    if (r->kept_count <= ARR)
        r->kept = kept = take(&in, r->kept_count, sizeof(struct pmm_kept));
    if (r->numa_range_count <= ARR) {
        r->numa_ranges = ranges = take(&in, r->numa_range_count, sizeof(struct pmm_numa_range));
        if (flags & 8)
            qsort(ranges, r->numa_range_count, sizeof(struct pmm_numa_range), by_start);
    }
    if (r->node_count <= NODES) {
        r->distance = dist = take(&in, (uint64_t)r->node_count * r->node_count, 1);
        r->node_domain = doms = take(&in, r->node_count, sizeof(uint32_t));
    }
    if (readable)
        numa_fixups(r, flags);
    if (flags & 1) {
        r->abi = PMM_ABI_VERSION;
        r->revision = PMM_RESPONSE_REVISION;
    }
    if ((flags & 2) && readable)
        r->checksum = pmm_response_checksum(r);
    const char *why = pmm_response_verify(r, 0);
    if (readable) {
        int want = acceptable(r);
        FZ_ASSERT((why == 0) == want, "verify says '%s', the contract says %s", why ? why : "ok",
                  want ? "acceptable" : "refuse");
    } else {
        FZ_ASSERT(why != 0, "a response with a count above the arrays it has was accepted");
    }
    free(cpus);
    free(handed);
    free(kept);
    free(ranges);
    free(dist);
    free(doms);
    free(r);
    return 0;
}
