/*
 * handed.c - at entry, before the kernel's first allocation: are the allocator's allocated pages
 * exactly the runs the live-allocator response hands over (include/handoff.h)? A page allocated
 * but not listed is one the kernel could never free; a listed page that is free is one its first
 * allocation could overwrite (a response, its own image). Freestanding; the host tests run it.
 */
#include "kernel.h"

const char *handoff_allocated_check(const struct pmm *p, const struct pmm_response *r, uint64_t *at)
{
    /* handed[] is sorted and disjoint (pmm_response_verify): adjacent runs make one maximal
     * run, as the allocator's listing has them */
    uint64_t start, len, pfn = 0, i = 0;
    *at = 0;
    while (pmm_next_alloc_range(p, pfn, &start, &len)) {
        if (i == r->handed_count) {
            *at = start << 12;
            return "allocated pages that the response does not hand over";
        }
        uint64_t lo = r->handed[i].phys >> 12, hi = lo + r->handed[i].pages;
        for (i++; i < r->handed_count && r->handed[i].phys >> 12 == hi; i++)
            hi += r->handed[i].pages;
        if (start != lo) {
            *at = (start < lo ? start : lo) << 12;
            return start < lo ? "allocated pages that the response does not hand over"
                              : "handed-over pages that are not allocated";
        }
        if (start + len != hi) {
            *at = (start + len < hi ? start + len : hi) << 12;
            return start + len < hi ? "handed-over pages that are not allocated"
                                    : "allocated pages that the response does not hand over";
        }
        pfn = start + len;
    }
    if (i < r->handed_count) {
        *at = r->handed[i].phys;
        return "handed-over pages that are not allocated";
    }
    return 0;
}

uint64_t handed_free(struct pmm *p, const struct pmm_response *r, uint32_t kind)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < r->handed_count; i++) {
        if (r->handed[i].kind != kind)
            continue;
        int rc = pmm_free_run(p, r->handed[i].phys, r->handed[i].pages);
        if (rc)
            panic("cannot free handed-over run 0x%lx (%lu pages): %s", r->handed[i].phys,
                  r->handed[i].pages, pmm_strerror(rc));
        n += r->handed[i].pages;
    }
    return n;
}
