/*
 * sections.c - from physical page frames to compact indices and back, for bounds and runs.
 *
 * Only present sections (those with usable RAM at build) have per-page metadata; state.h explains
 * the compact index. Single pages convert with one table load (cidx, cpfn in state.h); what is
 * here serves the searches: where a physical bound falls in compact space, where a compact run
 * stops being physically contiguous, and physical alignment of a compact index.
 */
#include "state.h"

uint64_t c_ceil_at(const struct pmm *p, const uint32_t *sec, const uint32_t *sl, uint64_t pfn)
{
    if (pfn >= p->span)
        return p->cspan;
    uint64_t s = sec[pfn >> PMM_SEC_SHIFT];
    if (s != PMM_SEC_ABSENT)
        return (s << PMM_SEC_SHIFT) | (pfn & (PMM_SEC_PAGES - 1));
    /* pfn lies in an absent section: the first slot of a later section (slots are sorted) */
    uint64_t sn = pfn >> PMM_SEC_SHIFT, lo = 0, hi = p->nslots;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sl[mid] <= sn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo << PMM_SEC_SHIFT;
}

uint64_t c_ceil(const struct pmm *p, uint64_t pfn)
{
    return c_ceil_at(p, p->at.sectab, pmm_slots(p), pfn);
}

uint64_t c_break(const struct pmm *p, uint64_t c, uint64_t n)
{
    const uint32_t *sl = pmm_slots(p);
    uint64_t last = (c + n - 1) >> PMM_SEC_SHIFT;
    for (uint64_t s = (c >> PMM_SEC_SHIFT) + 1; s <= last && s < p->nslots; s++)
        if (sl[s] != sl[s - 1] + 1)
            return s << PMM_SEC_SHIFT;
    return PMM_NONE;
}

uint64_t c_align(const struct pmm *p, uint64_t c, uint64_t apages)
{
    if (apages <= PMM_SEC_PAGES) { /* c and its page agree modulo the alignment */
        c = (c + apages - 1) & ~(apages - 1);
        return c < p->cspan ? c : PMM_NONE;
    }
    while (c < p->cspan) {
        uint64_t pfn = cpfn(p, c), a = (pfn + apages - 1) & ~(apages - 1);
        if (a == pfn)
            return c;
        c = c_ceil(p, a);
    }
    return PMM_NONE;
}

uint64_t c_usable(const struct pmm *p, const struct pmm_range *r, uint64_t n)
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        uint64_t from = r[i].start, to = r[i].start + r[i].npages, c;
        for (uint64_t len; (len = c_seg(p, &from, to, &c));)
            total += len;
    }
    return total;
}
