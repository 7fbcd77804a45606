/*
 * build.c - sizing and placing the metadata, building the state, and handing it between owners.
 */
#include "state.h"

static uint64_t round64(uint64_t x)
{
    return (x + 63) & ~63ull;
}

/*
 * Lay out the metadata run for span pages and range_cap ranges. Fills p's *_phys fields as offsets
 * from the start of the run and returns its size in pages. Reference counts start on a page
 * boundary so the pages nobody allocates from are never touched.
 */
static uint64_t layout(struct pmm *p, uint64_t span, uint64_t range_cap)
{
    uint64_t at = PMM_PAGE_SIZE; /* header + stack */
    p->ranges_phys = at;
    p->range_cap = range_cap;
    at = round64(at + range_cap * sizeof(struct pmm_range));

    struct pmm_hbits *maps[2] = {&p->freemap, &p->blkmap};
    uint64_t nbits[2] = {span, span >> PMM_BLOCK_SHIFT};
    for (int m = 0; m < 2; m++) {
        struct pmm_hbits *h = maps[m];
        h->nbits = nbits[m];
        hb_words_for(h->nbits, h->nwords, &h->nlevels);
        for (uint32_t k = 0; k < PMM_LEVELS; k++) {
            h->phys[k] = k < h->nlevels ? at : 0;
            at = round64(at + h->nwords[k] * 8);
        }
    }
    p->own_phys = at;
    at = round64(at + p->freemap.nwords[0] * 8);

    at = (at + PMM_PAGE_SIZE - 1) & ~(PMM_PAGE_SIZE - 1);
    p->refs_phys = at;
    at += span * sizeof(uint16_t);
    return (at + PMM_PAGE_SIZE - 1) >> PMM_PAGE_SHIFT;
}

static void relocate(struct pmm *p, uint64_t base)
{
    p->ranges_phys += base;
    for (int m = 0; m < 2; m++) {
        struct pmm_hbits *h = m ? &p->blkmap : &p->freemap;
        for (uint32_t k = 0; k < h->nlevels; k++)
            h->phys[k] += base;
    }
    p->own_phys += base;
    p->refs_phys += base;
}

/*
 * Choose where the metadata goes: the highest conventional range that holds it, at its top end, so
 * low and 32-bit-addressable memory stays free for devices. Returns the first page, or PMM_NONE.
 */
static uint64_t place(const struct pmm_build *b, const struct pmm_range *r, uint64_t n,
                      uint64_t pages)
{
    for (uint64_t i = n; i-- > 0;) {
        if (r[i].kind != PMM_KIND_FREE)
            continue;
        uint64_t lo = r[i].start > PMM_LOW_PFN ? r[i].start : PMM_LOW_PFN;
        uint64_t hi = r[i].start + r[i].npages;
        if (hi <= lo || hi - lo < pages)
            continue;
        uint64_t tries[2] = {hi - pages, lo};
        for (int t = 0; t < 2; t++) {
            if (!b->fw.claim || b->fw.claim(b->fw.ctx, tries[t] << PMM_PAGE_SHIFT, pages) == 0)
                return tries[t];
        }
    }
    return PMM_NONE;
}

int pmm_build(const struct pmm_build *b, struct pmm **out, struct pmm_map_error *err)
{
    uint64_t ndesc = map_count(&b->map);
    uint64_t evbytes = map_events_size(ndesc);
    if (b->map.desc_size && b->scratch_size < pmm_map_scratch_size(&b->map)) {
        if (err)
            *err =
                (struct pmm_map_error){-1, "scratch buffer is smaller than pmm_map_scratch_size()"};
        return PMM_EINVAL;
    }
    struct pmm_range *r = (struct pmm_range *)((char *)b->scratch + evbytes);
    uint64_t n;
    int rc = map_parse(&b->map, b->scratch, r, 2 * ndesc + 1, &n, err);
    if (rc)
        return rc;

    uint64_t span = 0, total = 0, nfree = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        span = r[i].start + r[i].npages;
        total += r[i].npages;
        if (r[i].kind == PMM_KIND_FREE)
            nfree += r[i].npages;
    }
    if (!nfree) {
        if (err)
            *err = (struct pmm_map_error){-1, "map has no conventional memory"};
        return PMM_EMAP;
    }

    struct pmm t;
    pmm_memset(&t, 0, sizeof t);
    uint64_t range_cap = 2 * (ndesc + b->extra_descriptors) + 1;
    uint64_t pages = layout(&t, span, range_cap);
    uint64_t meta = place(b, r, n, pages);
    if (meta == PMM_NONE)
        return PMM_ENOMEM;

    struct pmm *p = (struct pmm *)(uintptr_t)((meta << PMM_PAGE_SHIFT) + b->virt_offset);
    pmm_memcpy(p, &t, sizeof t);
    p->magic = PMM_MAGIC;
    p->version = PMM_VERSION;
    p->size = sizeof *p;
    p->self_phys = meta << PMM_PAGE_SHIFT;
    p->meta_pages = pages;
    p->off = b->virt_offset;
    p->span = span;
    p->fw = b->fw;
    relocate(p, p->self_phys);

    pmm_memcpy(pmm_rtab(p), r, n * sizeof *r);
    p->nranges = n;

    /* Each free-map bit is written once: gaps and non-conventional ranges 0, conventional 1. */
    uint64_t *l0 = pmm_free_l0(p), cur = 0, end = p->freemap.nwords[0] * 64;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind != PMM_KIND_FREE)
            continue;
        bits_fill(l0, cur, r[i].start, 0);
        bits_fill(l0, r[i].start, r[i].start + r[i].npages, 1);
        cur = r[i].start + r[i].npages;
    }
    bits_fill(l0, cur, end, 0);
    nfree -= (uint64_t)bit_test(l0, 0) + pages;
    bits_fill(l0, 0, 1, 0); /* page 0 is never handed out: a null physical address means failure */
    bits_fill(l0, meta, meta + pages, 0);
    pmm_memcpy(pmm_own(p), l0, p->freemap.nwords[0] * 8);
    hb_rebuild(p, &p->freemap);
    blk_rebuild(p);

    p->nfree = nfree;
    p->total = total;
    p->cursor = span > PMM_HIGH_PFN ? PMM_HIGH_PFN : PMM_LOW_PFN; /* see refill() */
    p->stack_lo = PMM_NONE;
    *out = p;
    return PMM_OK;
}

struct pmm *pmm_adopt(uint64_t state_phys, uint64_t virt_offset, int *err)
{
    struct pmm *p = (struct pmm *)(uintptr_t)(state_phys + virt_offset);
    int ok = state_phys && !(state_phys & (PMM_PAGE_SIZE - 1)) && p->magic == PMM_MAGIC &&
             p->version == PMM_VERSION && p->size == sizeof *p && p->self_phys == state_phys &&
             p->reconciled == 1 && p->top <= PMM_STACK_CAP && p->nfree + p->nalloc <= p->total &&
             p->nranges <= p->range_cap;
    if (!ok) {
        if (err)
            *err = PMM_ESTATE;
        return 0;
    }
    p->off = virt_offset;
    p->fw = (struct pmm_firmware){0, 0, 0};
    p->lock = p->unlock = 0;
    p->lock_ctx = 0;
    if (err)
        *err = PMM_OK;
    return p;
}

struct pmm *pmm_set_offset(struct pmm *p, uint64_t virt_offset)
{
    p->off = virt_offset;
    return (struct pmm *)(uintptr_t)(p->self_phys + virt_offset);
}

uint64_t pmm_state_phys(const struct pmm *p)
{
    return p->self_phys;
}

uint64_t pmm_meta_pages(const struct pmm *p)
{
    return p->meta_pages;
}

uint64_t pmm_virt_offset(const struct pmm *p)
{
    return p->off;
}

void pmm_set_lock(struct pmm *p, void (*lock)(void *), void (*unlock)(void *), void *ctx)
{
    p->lock = lock;
    p->unlock = unlock;
    p->lock_ctx = ctx;
}
