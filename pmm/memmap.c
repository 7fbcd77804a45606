/*
 * memmap.c - memory map intake: firmware descriptors in, classified page ranges out.
 *
 * Contract (see pmm_map_ranges in pmm.h): descriptors are read at multiples of the firmware's
 * DescriptorSize, never sizeof; any order, overlaps and zero lengths are accepted; the result is
 * sorted, non-overlapping and page aligned, with the most restrictive kind winning where
 * descriptors overlap.
 *
 * Method: each descriptor becomes two events (open, close) at page frame numbers; after sorting,
 * a sweep keeps a count of open descriptors per (kind, type) class, and each stretch between
 * consecutive event addresses takes the highest open class. This is O(n log n) with no allocation,
 * and it is obviously right under any overlap, which matters more here than speed.
 */
#include "state.h"

#define TYPE_OTHER PMM_EFI_NTYPES /* OEM (0x70000000+), OS (0x80000000+) or undefined types */
#define NTYPECLASS (PMM_EFI_NTYPES + 1)
#define NCLASS     (PMM_NKINDS * NTYPECLASS)
#define SPEC_DESC  40 /* sizeof(EFI_MEMORY_DESCRIPTOR) in UEFI 2.x */

struct event {
    uint64_t pfn;
    uint32_t cls; /* kind * NTYPECLASS + type class: a higher class wins */
    int32_t delta;
};

enum pmm_kind pmm_classify(uint32_t type, uint64_t attr)
{
    /* Runtime mappings and specific-purpose memory belong to others, whatever the type says. */
    if (attr & (PMM_EFI_ATTR_RUNTIME | PMM_EFI_ATTR_SP))
        return PMM_KIND_NEVER;
    switch (type) {
    case PMM_EFI_CONVENTIONAL:
        return PMM_KIND_FREE;
    case PMM_EFI_LOADER_CODE:
    case PMM_EFI_LOADER_DATA:
    case PMM_EFI_BOOT_CODE:
    case PMM_EFI_BOOT_DATA:
        return PMM_KIND_BOOT;
    default:
        return PMM_KIND_NEVER;
    }
}

uint64_t map_count(const struct pmm_map *map)
{
    return map->desc_size ? map->map_size / map->desc_size : 0;
}

uint64_t map_events_size(uint64_t ndesc)
{
    return 2 * ndesc * sizeof(struct event);
}

uint64_t pmm_map_scratch_size(const struct pmm_map *map)
{
    uint64_t n = map_count(map);
    return map_events_size(n) + (2 * n + 1) * sizeof(struct pmm_range);
}

static int ev_less(const struct event *a, const struct event *b)
{
    return a->pfn < b->pfn;
}

static void sift_down(struct event *e, uint64_t root, uint64_t n)
{
    for (;;) {
        uint64_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && ev_less(&e[c], &e[c + 1]))
            c++;
        if (!ev_less(&e[root], &e[c]))
            return;
        struct event t = e[root];
        e[root] = e[c];
        e[c] = t;
        root = c;
    }
}

/* Heapsort: in place, no recursion, O(n log n) worst case. */
static void sort_events(struct event *e, uint64_t n)
{
    for (uint64_t i = n / 2; i-- > 0;)
        sift_down(e, i, n);
    for (uint64_t end = n; end-- > 1;) {
        struct event t = e[0];
        e[0] = e[end];
        e[end] = t;
        sift_down(e, 0, end);
    }
}

static int map_fail(struct pmm_map_error *err, int64_t index, const char *why)
{
    if (err) {
        err->index = index;
        err->why = why;
    }
    return PMM_EMAP;
}

int map_parse(const struct pmm_map *map, void *events, struct pmm_range *out, uint64_t cap,
              uint64_t *n, struct pmm_map_error *err)
{
    if (map->desc_size < SPEC_DESC)
        return map_fail(err, -1, "DescriptorSize is smaller than the spec's 40-byte descriptor");
    if (map->map_size % map->desc_size)
        return map_fail(err, -1, "map size is not a multiple of DescriptorSize");
    uint64_t ndesc = map->map_size / map->desc_size;
    if (ndesc && !map->desc)
        return map_fail(err, -1, "map buffer is missing");

    struct event *ev = events;
    uint64_t nev = 0;
    const unsigned char *base = map->desc;
    for (uint64_t i = 0; i < ndesc; i++) {
        struct pmm_efi_desc d;
        pmm_memcpy(&d, base + i * map->desc_size, sizeof d);
        if (!d.npages)
            continue; /* describes no memory, whatever its start: growing it outward would not */
        uint64_t room = d.phys_start ? (0 - d.phys_start) >> PMM_PAGE_SHIFT : 1ull << 52;
        if (d.npages > room)
            return map_fail(err, (int64_t)i, "descriptor wraps past the end of the address space");
        enum pmm_kind kind = pmm_classify(d.type, d.attr);
        uint64_t lo = d.phys_start >> PMM_PAGE_SHIFT;
        uint64_t hi = lo + d.npages;
        if (d.phys_start & (PMM_PAGE_SIZE - 1)) {
            /* Unaligned: usable memory shrinks inward, everything else grows outward. */
            if (kind == PMM_KIND_NEVER)
                hi++;
            else
                lo++;
        }
        if (lo >= hi)
            continue;
        uint32_t cls = kind * NTYPECLASS + (d.type < PMM_EFI_NTYPES ? d.type : TYPE_OTHER);
        ev[nev++] = (struct event){lo, cls, 1};
        ev[nev++] = (struct event){hi, cls, -1};
    }
    sort_events(ev, nev);

    int32_t open[NCLASS] = {0};
    uint64_t nout = 0;
    for (uint64_t i = 0; i < nev;) {
        uint64_t pos = ev[i].pfn;
        for (; i < nev && ev[i].pfn == pos; i++)
            open[ev[i].cls] += ev[i].delta;
        if (i == nev)
            break;
        int top = NCLASS - 1;
        while (top >= 0 && open[top] == 0)
            top--;
        if (top < 0)
            continue; /* a hole between descriptors */
        uint32_t kind = (uint32_t)top / NTYPECLASS, type = (uint32_t)top % NTYPECLASS;
        uint64_t len = ev[i].pfn - pos;
        struct pmm_range *last = nout ? &out[nout - 1] : 0;
        if (last && last->start + last->npages == pos && last->kind == kind && last->type == type) {
            last->npages += len;
            continue;
        }
        if (nout == cap) {
            map_fail(err, -1, "more ranges than the range table holds");
            return PMM_ERANGE;
        }
        out[nout++] = (struct pmm_range){pos, len, kind, type};
    }
    *n = nout;
    return PMM_OK;
}

int pmm_map_ranges(const struct pmm_map *map, void *scratch, uint64_t scratch_size,
                   struct pmm_range *out, uint64_t cap, uint64_t *n, struct pmm_map_error *err)
{
    if (map->desc_size && scratch_size < map_events_size(map_count(map)))
        return map_fail(err, -1, "scratch buffer is smaller than pmm_map_scratch_size()");
    return map_parse(map, scratch, out, cap, n, err);
}
