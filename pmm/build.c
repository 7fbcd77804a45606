/*
 * build.c - sizing and placing the metadata, building the state, and handing it between owners.
 */
#include "state.h"

static uint64_t round64(uint64_t x)
{
    return (x + 63) & ~63ull;
}

/*
 * Lay out the metadata run for span pages, nslots present sections and range_cap ranges (see the
 * drawing in state.h). Fills p's geometry and *_phys fields as offsets from the start of the run
 * and returns its size in pages. Reference counts start on a page boundary so that the pages of
 * counts nobody allocates from are never touched.
 */
static uint64_t layout(struct pmm *p, uint64_t span, uint64_t nslots, uint64_t range_cap,
                       uint32_t ncpus)
{
    uint64_t at = PMM_PAGE_SIZE; /* header + stack */
    p->ranges_phys = at;
    p->range_cap = range_cap;
    at = round64(at + range_cap * sizeof(struct pmm_range));
    p->nsec = (span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT;
    p->sec_phys = at;
    at = round64(at + p->nsec * sizeof(uint32_t));
    p->nslots = nslots;
    p->cspan = nslots << PMM_SEC_SHIFT;
    p->slots_phys = at;
    at = round64(at + nslots * sizeof(uint32_t));

    struct pmm_hbits *maps[2] = {&p->freemap, &p->blkmap};
    uint64_t nbits[2] = {p->cspan, p->cspan >> PMM_BLOCK_SHIFT};
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
    p->rinit_phys = at;
    at = round64(at + rinit_words(p) * 8);
    p->shared_phys = at;
    at = round64(at + shared_words(p) * 8);
    p->bst_phys = at;
    at = round64(at + p->blkmap.nbits);
    p->ncpus = ncpus;
    p->pcpu_phys = at;
    at += (uint64_t)ncpus * sizeof(struct pmm_pcpu);

    at = (at + PMM_PAGE_SIZE - 1) & ~(PMM_PAGE_SIZE - 1);
    p->refs_phys = at;
    at += p->cspan * sizeof(uint16_t);
    return (at + PMM_PAGE_SIZE - 1) >> PMM_PAGE_SHIFT;
}

static void relocate(struct pmm *p, uint64_t base)
{
    p->ranges_phys += base;
    p->sec_phys += base;
    p->slots_phys += base;
    for (int m = 0; m < 2; m++) {
        struct pmm_hbits *h = m ? &p->blkmap : &p->freemap;
        for (uint32_t k = 0; k < h->nlevels; k++)
            h->phys[k] += base;
    }
    p->own_phys += base;
    p->rinit_phys += base;
    p->shared_phys += base;
    p->bst_phys += base;
    p->pcpu_phys += base;
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

/*
 * Sections that hold usable pages of r[0..n), in increasing order: written to slots (if not NULL)
 * and counted.
 */
static uint64_t present_sections(const struct pmm_range *r, uint64_t n, uint32_t *slots)
{
    uint64_t count = 0, last = PMM_NONE;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        uint64_t s = r[i].start >> PMM_SEC_SHIFT,
                 e = (r[i].start + r[i].npages - 1) >> PMM_SEC_SHIFT;
        for (s = last != PMM_NONE && s <= last ? last + 1 : s; s <= e; s++) {
            if (slots)
                slots[count] = (uint32_t)s;
            count++;
            last = s;
        }
    }
    return count;
}

/* Both bitmaps, l0 and owned, get the same bits [from, to) at build: one pass writes both. */
static void fill2(uint64_t *a, uint64_t *b, uint64_t from, uint64_t to, int value)
{
    bits_fill(a, from, to, value);
    bits_fill(b, from, to, value);
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
    if (span > (1ull << 32 << PMM_SEC_SHIFT)) {
        if (err)
            *err = (struct pmm_map_error){-1, "usable memory above 2^59 bytes"};
        return PMM_EMAP;
    }

    if (b->max_cpus > PMM_MAX_CPUS) {
        if (err)
            *err = (struct pmm_map_error){-1, "max_cpus above PMM_MAX_CPUS"};
        return PMM_EINVAL;
    }
    struct pmm t;
    pmm_memset(&t, 0, sizeof t);
    uint64_t range_cap = 2 * (ndesc + b->extra_descriptors) + 1;
    uint64_t pages = layout(&t, span, present_sections(r, n, 0), range_cap, b->max_cpus);
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
    fast_ptrs(p);

    pmm_memcpy(pmm_rtab(p), r, n * sizeof *r);
    p->nranges = n;

    /* Sections: the slots in order, and every table entry written once. */
    uint32_t *slots = pmm_slots(p), *sec = pmm_sectab(p);
    present_sections(r, n, slots);
    for (uint64_t k = 0, slot = 0; k < p->nsec; k++)
        sec[k] = slot < p->nslots && slots[slot] == k ? (uint32_t)slot++ : PMM_SEC_ABSENT;

    /*
     * The free and owned maps in one pass, each word written once: gaps and everything that is not
     * conventional 0, conventional 1. Their first summary level and the block map are derived from
     * the ranges as they are written, not by reading the maps back.
     */
    uint64_t *l0 = pmm_free_l0(p), *own = pmm_own(p), *l1 = pmm_words(p, &p->freemap, 1);
    uint64_t *bl0 = pmm_words(p, &p->blkmap, 0), cur = 0;
    if (p->freemap.nlevels > 1)
        pmm_memset(l1, 0, p->freemap.nwords[1] * 8);
    pmm_memset(bl0, 0, p->blkmap.nwords[0] * 8);
    /* Pieces are per section; neighbours in compact order are written as one stretch, so that
     * large fills go to memory as large stores (rep stos streams them past the cache). */
    uint64_t run0 = 0, run1 = 0;
    for (uint64_t i = 0; i <= n; i++) {
        if (i < n && r[i].kind != PMM_KIND_FREE)
            continue;
        uint64_t from = i < n ? r[i].start : 0, to = i < n ? r[i].start + r[i].npages : 0, c;
        for (uint64_t len;;) {
            len = i < n ? c_seg(p, &from, to, &c) : 0;
            if (len && c == run1 && run1 > run0) { /* continues the stretch */
                run1 = c + len;
                continue;
            }
            if (run1 > run0) { /* write the stretch [run0, run1) */
                fill2(l0, own, cur, run0, 0);
                fill2(l0, own, run0, run1, 1);
                if (p->freemap.nlevels > 1)
                    bits_fill(l1, run0 >> 6, ((run1 - 1) >> 6) + 1, 1);
                uint64_t b0 = (run0 + 511) >> PMM_BLOCK_SHIFT, b1 = run1 >> PMM_BLOCK_SHIFT;
                if (b0 < b1)
                    bits_fill(bl0, b0, b1, 1);
                cur = run0 = run1;
            }
            if (!len)
                break;
            run0 = c, run1 = c + len;
        }
    }
    fill2(l0, own, cur, p->freemap.nwords[0] * 64, 0);
    hb_rebuild_above(p, &p->freemap, 2);
    hb_rebuild_above(p, &p->blkmap, 1);
    pmm_memset(pmm_rinit(p), 0, rinit_words(p) * 8);
    pmm_memset(pmm_shared(p), 0, shared_words(p) * 8);
    pmm_memset(pmm_bst(p), PMM_BLK_NORMAL, p->blkmap.nbits);
    pmm_memset(pmm_pcpu(p, 0), 0, p->ncpus * sizeof(struct pmm_pcpu));

    /* Page 0 is never handed out (a null physical address means failure); nor is the metadata. */
    p->nfree = nfree;
    uint64_t from = 0, c;
    for (int k = 0; k < 2; k++) {
        uint64_t to = k ? meta + pages : 1;
        from = k ? meta : 0;
        for (uint64_t len; (len = c_seg(p, &from, to, &c));) {
            p->nfree -= bits_count(l0, c, c + len);
            fm_fill(p, c, c + len, 0);
            bits_fill(own, c, c + len, 0);
        }
    }
    p->total = total;
    p->c_low = c_ceil(p, PMM_LOW_PFN);
    p->c_high = c_ceil(p, PMM_HIGH_PFN);
    p->cursor = p->c_high < p->cspan ? p->c_high : p->c_low; /* see refill() */
    p->stack_lo = PMM_NONE;
    *out = p;
    return PMM_OK;
}

/*
 * ADOPTION: WHAT IS CHECKED, AND WHY NOT A CHECKSUM
 *
 * pmm_adopt takes a state a previous owner left in memory and, from then on, computes addresses
 * from its header: every map, the reference counts and the range table are reached through *_phys
 * fields, indexed by compact page numbers below cspan (state.h), with sizes from nwords/nlevels. So
 * before it trusts the header it proves, in O(1) plus one pass over the section table, that every
 * address the allocator will derive from it lies in the metadata run [self_phys, self_phys +
 * meta_pages * 4K) or names a page below span:
 *
 *  - identity: magic, version, size, self_phys == where the state was found, reconciled;
 *  - geometry: span fits the address space; nsec, nslots and cspan agree; both maps' nbits,
 *    nlevels and nwords are exactly what layout() derives from cspan (recomputed, not bounded);
 *    meta_pages is exactly layout()'s size, lies below span and does not wrap;
 *    nranges <= range_cap;
 *  - placement: every *_phys is 8-byte aligned, lies with its whole extent inside the run, and is
 *    where layout() puts it. Checking the exact place, not just the bounds, also refuses two
 *    structures aliased onto each other inside the run;
 *  - sections: the slots ascend, name sections below nsec, and the section table names each back
 *    and no other (O(sections), 4 bytes per 128 MiB): every compact index then lies below cspan;
 *  - the per-CPU caches: ncpus <= PMM_MAX_CPUS and every cache empty with no drain request
 *    (O(CPUs)): a state is handed on only with its caches drained, and an empty cache is one the
 *    new owner's CPUs can trust without reading a page index from it;
 *  - the free-page stack: top <= capacity, and each stacked page is at or above 1 MiB (c_low),
 *    below cspan, within [stack_lo, stack_hi], owned and free (at most PMM_STACK_CAP bit tests): a
 *    page popped from it is handed out without further checks;
 *  - the free-block stack: btop <= capacity, bfront its top entry, each frame in a present
 *    section below span, in the first zone and outside the metadata, its compact block (bblk) the
 *    one the section table gives, on the stack once, marked stacked in the block states and its
 *    pages owned and out of the free map (O(capacity^2 + capacity * 16 words)): a popped block is
 *    handed out as it is;
 *  - the zone bounds and the cursor below cspan; counters bounded by the present pages and free +
 *    allocated + metadata <= total.
 *
 * Not checked: the contents of the bitmaps, the reference counts and the range table. That costs
 * O(RAM pages / 64) and is pmm_check()'s job; a kernel that wants it runs pmm_check once after
 * adopting. Given the checks above, wrong contents can make the allocator misjudge a page (hand out
 * one in use, withhold a free one) but not write outside the metadata or touch a page at or past
 * span.
 *
 * No header checksum. The header changes with every allocation (counters, stack, cursor), so a
 * checksum is only meaningful at an agreed sealing point: each owner would need a "seal" call at
 * hand-over, and a loader that allocates after sealing would hand over a state adopt must refuse.
 * And a checksum catches accidental change only: a buggy owner writes a bad header with a good
 * checksum. The structural checks catch that too, and name the field; a whole-state integrity check
 * is pmm_check. (The handoff block, which is written once, does carry a checksum.)
 */
#define PMM_MAX_PAGES (1ull << (64 - PMM_PAGE_SHIFT)) /* pages in a 64-bit address space */

static const char *const fm_phys[PMM_LEVELS] = {
    "freemap.phys[0]", "freemap.phys[1]", "freemap.phys[2]", "freemap.phys[3]",
    "freemap.phys[4]", "freemap.phys[5]", "freemap.phys[6]", "freemap.phys[7]"};
static const char *const bm_phys[PMM_LEVELS] = {
    "blkmap.phys[0]", "blkmap.phys[1]", "blkmap.phys[2]", "blkmap.phys[3]",
    "blkmap.phys[4]", "blkmap.phys[5]", "blkmap.phys[6]", "blkmap.phys[7]"};
static const char *const fm_nwords[PMM_LEVELS] = {
    "freemap.nwords[0]", "freemap.nwords[1]", "freemap.nwords[2]", "freemap.nwords[3]",
    "freemap.nwords[4]", "freemap.nwords[5]", "freemap.nwords[6]", "freemap.nwords[7]"};
static const char *const bm_nwords[PMM_LEVELS] = {
    "blkmap.nwords[0]", "blkmap.nwords[1]", "blkmap.nwords[2]", "blkmap.nwords[3]",
    "blkmap.nwords[4]", "blkmap.nwords[5]", "blkmap.nwords[6]", "blkmap.nwords[7]"};
_Static_assert(PMM_LEVELS == 8, "one name per summary level above");

static int refuse(struct pmm_adopt_error *e, const char *field, const char *why)
{
    if (e)
        *e = (struct pmm_adopt_error){field, why};
    return PMM_ESTATE;
}

/* A map's level counts against what layout() derives from nbits (already checked). */
static int check_levels(const struct pmm_hbits *h, const char *nlevels,
                        const char *const nwords[PMM_LEVELS], struct pmm_adopt_error *e)
{
    uint64_t want[PMM_LEVELS];
    uint32_t levels;
    hb_words_for(h->nbits, want, &levels);
    if (h->nlevels > PMM_LEVELS)
        return refuse(e, nlevels, "above PMM_LEVELS");
    if (h->nlevels != levels)
        return refuse(e, nlevels, "differs from the levels nbits needs");
    for (uint32_t k = 0; k < PMM_LEVELS; k++)
        if (h->nwords[k] != want[k])
            return refuse(e, nwords[k], "differs from the words nbits needs at this level");
    return PMM_OK;
}

/* One structure of `bytes` bytes at phys, expected at `want`, inside the run [lo, lo + len). */
static int check_place(uint64_t phys, uint64_t bytes, uint64_t want, uint64_t lo, uint64_t len,
                       const char *field, struct pmm_adopt_error *e)
{
    if (phys & 7)
        return refuse(e, field, "not 8-byte aligned");
    if (phys < lo || phys - lo > len || bytes > len - (phys - lo))
        return refuse(e, field, "not inside the metadata run");
    if (phys != want)
        return refuse(e, field, "not where the layout for span and range_cap puts it");
    return PMM_OK;
}

/* Both maps' levels: present ones in place, absent ones zero. */
static int check_map_places(const struct pmm_hbits *h, const struct pmm_hbits *want,
                            const char *const names[PMM_LEVELS], uint64_t lo, uint64_t len,
                            struct pmm_adopt_error *e)
{
    for (uint32_t k = 0; k < PMM_LEVELS; k++) {
        int rc =
            k < h->nlevels
                ? check_place(h->phys[k], h->nwords[k] * 8, want->phys[k], lo, len, names[k], e)
                : (h->phys[k] ? refuse(e, names[k], "set for a level the map does not have")
                              : PMM_OK);
        if (rc)
            return rc;
    }
    return PMM_OK;
}

/*
 * Everything pmm_adopt trusts, read through the new owner's mapping (virt_offset; p->off is the old
 * owner's). Reads only.
 */
static int adopt_check(const struct pmm *p, uint64_t state_phys, uint64_t virt_offset,
                       struct pmm_adopt_error *e)
{
    if (p->magic != PMM_MAGIC)
        return refuse(e, "magic", "not a uefi-pmm allocator state");
    if (p->version != PMM_VERSION)
        return refuse(e, "version", "another version of the state layout");
    if (p->size != sizeof *p)
        return refuse(e, "size", "differs from this build's struct pmm");
    if (p->self_phys != state_phys)
        return refuse(e, "self_phys", "differs from the address the state was found at");
    if (p->reconciled != 1)
        return refuse(e, "reconciled", "the state was not reconciled after ExitBootServices");
    if (p->boot_held > 1)
        return refuse(e, "boot_held", "neither 0 nor 1");

    /* Geometry: the sizes every index and address below is computed from. */
    if (!p->span || p->span > PMM_MAX_PAGES)
        return refuse(e, "span", "zero, or more pages than a 64-bit address space holds");
    if (p->nsec != (p->span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT)
        return refuse(e, "nsec", "differs from the sections span needs");
    if (!p->nslots || p->nslots > p->nsec)
        return refuse(e, "nslots", "zero, or more than there are sections");
    if (p->cspan != p->nslots << PMM_SEC_SHIFT)
        return refuse(e, "cspan", "differs from nslots sections");
    if (p->freemap.nbits != p->cspan)
        return refuse(e, "freemap.nbits", "differs from cspan");
    if (p->blkmap.nbits != p->cspan >> PMM_BLOCK_SHIFT)
        return refuse(e, "blkmap.nbits", "differs from cspan / 512");
    int rc = check_levels(&p->freemap, "freemap.nlevels", fm_nwords, e);
    if (!rc)
        rc = check_levels(&p->blkmap, "blkmap.nlevels", bm_nwords, e);
    if (rc)
        return rc;
    if (p->range_cap > PMM_MAX_PAGES)
        return refuse(e, "range_cap", "larger than any metadata run could hold");
    if (p->nranges > p->range_cap)
        return refuse(e, "nranges", "above range_cap");
    struct pmm t; /* where build put everything, relative to the run (spans checked above) */
    if (p->ncpus > PMM_MAX_CPUS)
        return refuse(e, "ncpus", "above PMM_MAX_CPUS");
    if (p->cpus_live != p->ncpus)
        return refuse(e, "cpus_live", "differs from ncpus in a reconciled state");
    uint64_t pages = layout(&t, p->span, p->nslots, p->range_cap, p->ncpus);
    if (p->meta_pages != pages)
        return refuse(e, "meta_pages", "differs from the layout's size for span and range_cap");
    if (meta_first(p) >= p->span || p->meta_pages > p->span - meta_first(p))
        return refuse(e, "meta_pages", "the metadata run extends past span");
    relocate(&t, state_phys);

    uint64_t lo = state_phys, len = p->meta_pages << PMM_PAGE_SHIFT;
    rc = check_place(p->ranges_phys, p->range_cap * sizeof(struct pmm_range), t.ranges_phys, lo,
                     len, "ranges_phys", e);
    if (!rc)
        rc = check_map_places(&p->freemap, &t.freemap, fm_phys, lo, len, e);
    if (!rc)
        rc = check_map_places(&p->blkmap, &t.blkmap, bm_phys, lo, len, e);
    if (!rc)
        rc = check_place(p->own_phys, p->freemap.nwords[0] * 8, t.own_phys, lo, len, "own_phys", e);
    if (!rc)
        rc = check_place(p->sec_phys, p->nsec * sizeof(uint32_t), t.sec_phys, lo, len, "sec_phys",
                         e);
    if (!rc)
        rc = check_place(p->slots_phys, p->nslots * sizeof(uint32_t), t.slots_phys, lo, len,
                         "slots_phys", e);
    if (!rc)
        rc = check_place(p->rinit_phys, rinit_words(p) * 8, t.rinit_phys, lo, len, "rinit_phys", e);
    if (!rc)
        rc = check_place(p->shared_phys, shared_words(p) * 8, t.shared_phys, lo, len, "shared_phys",
                         e);
    if (!rc)
        rc = check_place(p->bst_phys, p->blkmap.nbits, t.bst_phys, lo, len, "bst_phys", e);
    if (!rc)
        rc = check_place(p->pcpu_phys, p->ncpus * sizeof(struct pmm_pcpu), t.pcpu_phys, lo, len,
                         "pcpu_phys", e);
    if (!rc)
        rc = check_place(p->refs_phys, p->cspan * sizeof(uint16_t), t.refs_phys, lo, len,
                         "refs_phys", e);
    if (rc)
        return rc;

    /*
     * The section table and slots: every compact index the allocator derives goes through them,
     * so they are checked whole, O(sections) (4 bytes per 128 MiB of address space).
     */
    const uint32_t *sec = (const uint32_t *)(uintptr_t)(p->sec_phys + virt_offset);
    const uint32_t *sl = (const uint32_t *)(uintptr_t)(p->slots_phys + virt_offset);
    for (uint64_t k = 0; k < p->nslots; k++)
        if (sl[k] >= p->nsec || (k && sl[k] <= sl[k - 1]) || sec[sl[k]] != k)
            return refuse(e, "slots", "not ascending sections that the section table names");
    uint64_t present = 0;
    for (uint64_t k = 0; k < p->nsec; k++)
        present += sec[k] != PMM_SEC_ABSENT;
    if (present != p->nslots)
        return refuse(e, "sec_phys", "the section table names sections no slot holds");

    /* The free-page stack: a popped page is handed out as it is. Maps are in place now. */
    if (p->top > PMM_STACK_CAP)
        return refuse(e, "top", "above PMM_STACK_CAP");
    const uint64_t *l0 = (const uint64_t *)(uintptr_t)(p->freemap.phys[0] + virt_offset);
    const uint64_t *own = (const uint64_t *)(uintptr_t)(p->own_phys + virt_offset);
    if (p->c_low > p->cspan || p->c_high > p->cspan || p->c_low > p->c_high)
        return refuse(e, "c_low", "zone bounds outside the compact pages");
    for (uint32_t i = 0; i < p->top; i++) {
        uint64_t c = p->stack[i];
        if (c < p->c_low || c >= p->cspan)
            return refuse(e, "stack", "holds a page below 1 MiB or past the present sections");
        if (!bit_test(l0, c) || !bit_test(own, c))
            return refuse(e, "stack", "holds a page that is not free and owned");
        if (c < p->stack_lo)
            return refuse(e, "stack_lo", "above a stacked page");
        if (c > p->stack_hi)
            return refuse(e, "stack_hi", "below a stacked page");
    }
    /* The free-block stack: a popped block is handed out as it is. */
    if (p->btop > PMM_BSTACK_CAP)
        return refuse(e, "btop", "above PMM_BSTACK_CAP");
    if (p->bfront != (p->btop ? p->bstack[p->btop - 1] : 0))
        return refuse(e, "bfront", "differs from the free-block stack's top entry");
    const uint8_t *bst = (const uint8_t *)(uintptr_t)(p->bst_phys + virt_offset);
    for (uint32_t i = 0; i < p->btop; i++) {
        uint64_t f = p->bstack[i], pf = f << PMM_BLOCK_SHIFT; /* span < 2^52: no wrap below */
        if (f >= p->span || pf + (1ull << PMM_BLOCK_SHIFT) > p->span ||
            sec[pf >> PMM_SEC_SHIFT] == PMM_SEC_ABSENT)
            return refuse(e, "bstack", "holds a block in no present section, or past span");
        if (pf < (p->c_high < p->cspan ? PMM_HIGH_PFN : (16ull << 20) >> PMM_PAGE_SHIFT))
            return refuse(e, "bstack",
                          "holds a block below the zone unbounded runs come from first");
        if (pf < meta_end(p) && meta_first(p) < pf + (1ull << PMM_BLOCK_SHIFT))
            return refuse(e, "bstack", "holds a block of the metadata");
        uint64_t b =
            (((uint64_t)sec[pf >> PMM_SEC_SHIFT] << PMM_SEC_SHIFT) | (pf & (PMM_SEC_PAGES - 1))) >>
            PMM_BLOCK_SHIFT;
        if (p->bblk[i] != b)
            return refuse(e, "bblk", "differs from the compact block of the stacked frame");
        if (bst[b] != PMM_BLK_STACKED)
            return refuse(e, "bstack", "holds a block its state byte does not say is stacked");
        for (uint64_t w = b << 3; w < (b + 1) << 3; w++) /* 8 words each: cheap at 32 entries */
            if (own[w] != ~0ull || l0[w])
                return refuse(e, "bstack",
                              "holds a block whose pages are not owned and out of "
                              "the free map");
        for (uint32_t j = 0; j < i; j++)
            if (p->bstack[j] == f)
                return refuse(e, "bstack", "holds a block twice");
    }
    if (p->cursor >= p->cspan)
        return refuse(e, "cursor", "past the present sections");
    const struct pmm_pcpu *pc = (const struct pmm_pcpu *)(uintptr_t)(p->pcpu_phys + virt_offset);
    if (p->reclaimers)
        return refuse(e, "reclaimers", "a CPU was waiting for the caches to drain");
    for (uint32_t i = 0; i < p->ncpus; i++)
        if (pc[i].n || pc[i].drain_req)
            return refuse(e, "pcpu_phys", "a per-CPU cache is not empty: drain every CPU first");

    if (p->total > p->cspan)
        return refuse(e, "total", "more pages than the present sections hold");
    if (p->nfree > p->total)
        return refuse(e, "nfree", "more pages than total");
    if (p->nalloc > p->total - p->nfree)
        return refuse(e, "nalloc", "free + allocated pages exceed total");
    if (p->meta_pages > p->total - p->nfree - p->nalloc)
        return refuse(e, "total", "smaller than free + allocated + metadata pages");
    return PMM_OK;
}

struct pmm *pmm_adopt_why(uint64_t state_phys, uint64_t virt_offset, int *err,
                          struct pmm_adopt_error *why)
{
    struct pmm *p = (struct pmm *)(uintptr_t)(state_phys + virt_offset);
    int rc = !state_phys || (state_phys & (PMM_PAGE_SIZE - 1))
                 ? refuse(why, "state_phys", "zero or not page aligned")
                 : PMM_OK;
    if (!rc)
        rc = adopt_check(p, state_phys, virt_offset, why);
    if (err)
        *err = rc;
    if (rc)
        return 0;
    p->off = virt_offset;
    p->fw = (struct pmm_firmware){0, 0, 0};
    p->lock = p->unlock = 0;
    p->lock_ctx = 0;
    p->cpu_self = 0;
    p->cpu_ctx = 0;
    fast_ptrs(p);
    return p;
}

struct pmm *pmm_adopt(uint64_t state_phys, uint64_t virt_offset, int *err)
{
    return pmm_adopt_why(state_phys, virt_offset, err, 0);
}

struct pmm *pmm_set_offset(struct pmm *p, uint64_t virt_offset)
{
    p->off = virt_offset;
    fast_ptrs(p);
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

int pmm_set_lock(struct pmm *p, void (*lock)(void *), void (*unlock)(void *), void *ctx)
{
    if (!lock != !unlock)
        return PMM_EINVAL;
    /* Alloc and free call the firmware hooks inside their critical section: a lock and the hooks
     * never coexist, so no firmware callback runs with the lock held. */
    if (lock && (p->fw.claim || p->fw.release))
        return PMM_ESTATE;
    p->lock = lock;
    p->unlock = unlock;
    p->lock_ctx = ctx;
    return PMM_OK;
}
