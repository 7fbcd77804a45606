/*
 * memmap.c - see memmap.h.
 *
 * Four layers decide a page's type, the later winning where it has something to say:
 *
 *   1. the allocator's range table (the final EFI map, classified): never-usable ranges take the
 *      specification's conversion of their EFI type; usable RAM starts as bootloader-reclaimable
 *      (the allocator's metadata, held boot memory, memory it does not manage);
 *   2. the allocator's free runs: usable;
 *   3. the runs handed over as the kernel and its modules: executable-and-modules; page 0, which
 *      the allocator never hands out: reserved;
 *   4. the extras (framebuffer, RESERVED_MAPPED tables), over anything but usable pages, which
 *      only a framebuffer replaces.
 *
 * Each layer is a sorted list walked with a cursor, so the cost follows the number of ranges and
 * free runs, not pages.
 */
#include "memmap.h"

#define NONE (~0ull)

uint32_t lmm_efi_type(uint32_t efi_type, uint64_t revision)
{
    switch (efi_type) {
    case PMM_EFI_RUNTIME_CODE:
    case PMM_EFI_RUNTIME_DATA:
        return revision >= 5 ? LIMINE_MEMMAP_RESERVED_MAPPED : LIMINE_MEMMAP_RESERVED;
    case PMM_EFI_UNUSABLE:
        return LIMINE_MEMMAP_BAD_MEMORY;
    case PMM_EFI_ACPI_RECLAIM:
        return LIMINE_MEMMAP_ACPI_RECLAIMABLE;
    case PMM_EFI_ACPI_NVS:
        return LIMINE_MEMMAP_ACPI_NVS;
    default:
        return LIMINE_MEMMAP_RESERVED;
    }
}

/* An interval of pages [lo, hi) with a type, or none (lo == NONE). */
struct span {
    uint64_t lo, hi;
    uint32_t type;
};

/* The layers' cursors: each returns the interval containing x, or else the next one after x. */
struct walk {
    const struct lmm_input *in;
    uint64_t r;       /* range table index */
    struct span free; /* the allocator's free run at or after the last x asked */
    uint64_t h;       /* handed index */
};

static struct span layer_ranges(struct walk *w, uint64_t x)
{
    uint64_t n;
    const struct pmm_range *r = pmm_ranges(w->in->pmm, &n);
    while (w->r < n && r[w->r].start + r[w->r].npages <= x)
        w->r++;
    if (w->r == n)
        return (struct span){NONE, NONE, 0};
    const struct pmm_range *c = &r[w->r];
    uint32_t t = c->kind == PMM_KIND_NEVER ? lmm_efi_type(c->type, w->in->revision)
                                           : LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE;
    return (struct span){c->start, c->start + c->npages, t};
}

static struct span layer_free(struct walk *w, uint64_t x)
{
    if (w->free.lo != NONE && w->free.hi > x)
        return w->free;
    uint64_t s, n;
    if (w->free.hi == NONE || !pmm_next_free_range(w->in->pmm, x, &s, &n))
        w->free = (struct span){NONE, NONE, 0};
    else
        w->free = (struct span){s, s + n, LIMINE_MEMMAP_USABLE};
    return w->free;
}

static struct span layer_handed(struct walk *w, uint64_t x)
{
    const struct pmm_handed *h = w->in->handed;
    for (; w->h < w->in->nhanded; w->h++) {
        const struct pmm_handed *c = &h[w->h];
        if (c->phys / 4096 + c->pages <= x)
            continue;
        if (c->kind != PMM_HANDED_EXECUTABLE && c->kind != PMM_HANDED_MODULE)
            continue;
        return (struct span){c->phys / 4096, c->phys / 4096 + c->pages,
                             LIMINE_MEMMAP_EXECUTABLE_AND_MODULES};
    }
    return (struct span){NONE, NONE, 0};
}

/* Extras are few and need not be sorted: the nearest one at or after x (the later one on ties). */
static struct span layer_extra(const struct lmm_input *in, uint64_t x)
{
    struct span best = {NONE, NONE, 0};
    for (uint64_t i = 0; i < in->nextra; i++) {
        const struct lmm_extra *e = &in->extra[i];
        if (!e->length || e->base + e->length < e->base)
            continue;
        uint64_t lo = e->base / 4096, hi = (e->base + e->length + 4095) / 4096;
        if (hi <= x)
            continue;
        if (lo < x)
            lo = x;
        if (lo < best.lo || (lo == best.lo && hi <= best.hi))
            best = (struct span){lo, hi, e->type};
    }
    return best;
}

/* The type of page x (0 if no layer covers it: a hole) and the first page where that may change. */
static uint32_t type_at(struct walk *w, uint64_t x, uint64_t *next)
{
    struct span l[4] = {layer_ranges(w, x), layer_free(w, x), layer_handed(w, x),
                        layer_extra(w->in, x)};
    uint32_t type = 0;
    int usable = 0;
    *next = NONE;
    for (int k = 0; k < 4; k++) {
        if (l[k].lo == NONE)
            continue;
        if (l[k].lo > x) {
            *next = l[k].lo < *next ? l[k].lo : *next;
            continue;
        }
        *next = l[k].hi < *next ? l[k].hi : *next;
        if (k == 3 && usable && l[k].type != LIMINE_MEMMAP_FRAMEBUFFER)
            continue; /* the allocator's free pages stay usable */
        if (k == 2 && type != LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE + 1)
            continue;         /* handed runs lie in allocated RAM */
        type = l[k].type + 1; /* +1: 0 means "nothing here" */
        usable = k == 1;
    }
    /* page 0 is RAM the allocator never hands out */
    if (x == 0 && type == LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE + 1) {
        type = LIMINE_MEMMAP_RESERVED + 1;
        *next = 1;
    }
    return type;
}

uint64_t lmm_build(const struct lmm_input *in, struct limine_memmap_entry *out, uint64_t cap)
{
    struct walk w = {in, 0, {NONE, 0, 0}, 0};
    uint64_t n = 0, x = 0, next;
    struct limine_memmap_entry cur = {0, 0, 0};
    int open = 0;
    for (;;) {
        uint32_t t = type_at(&w, x, &next);
        if (next == NONE)
            break;
        if (t) {
            uint64_t base = x * 4096, len = (next - x) * 4096;
            if (open && cur.type == t - 1 && cur.base + cur.length == base) {
                cur.length += len;
            } else {
                if (open) {
                    if (out && n >= cap)
                        return ~0ull;
                    if (out)
                        out[n] = cur;
                    n++;
                }
                cur = (struct limine_memmap_entry){base, len, t - 1};
                open = 1;
            }
        }
        x = next;
    }
    if (open) {
        if (out && n >= cap)
            return ~0ull;
        if (out)
            out[n] = cur;
        n++;
    }
    return n;
}
