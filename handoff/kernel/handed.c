/*
 * handed.c - at entry, before the kernel's first allocation: are the allocator's allocated pages
 * exactly the ones the handoff block lists (include/handoff.h)? A page allocated but not listed is
 * one the kernel could never free; a listed page that is free is one its first allocation could
 * overwrite (a configuration table, its own image). Freestanding; the host tests run it.
 */
#include "kernel.h"

struct span {
    uint64_t lo, hi; /* pages [lo, hi) */
};

#define MAX_SPANS (6 + PMM_HANDOFF_MAX_KEPT)

static void add(struct span *s, int *n, uint64_t phys, uint64_t bytes)
{
    if (!bytes)
        return;
    s[(*n)++] = (struct span){phys >> 12, (phys + bytes + 4095) >> 12};
}

const char *handoff_allocated_check(const struct pmm *p, const struct pmm_handoff *h, uint64_t *at)
{
    struct span s[MAX_SPANS];
    int n = 0;
    *at = 0;
    if (h->nkept > PMM_HANDOFF_MAX_KEPT)
        return "nkept is larger than kept[]";
    add(s, &n, h->self_phys, 4096);
    add(s, &n, h->kernel_phys, h->kernel_pages * 4096);
    add(s, &n, h->stack_phys, h->stack_pages * 4096);
    add(s, &n, h->boot_pt_phys, h->boot_pt_pages * 4096);
    add(s, &n, h->memmap_phys, h->memmap_buf_pages * 4096);
    add(s, &n, h->scratch_phys, h->scratch_pages * 4096);
    for (uint32_t i = 0; i < h->nkept; i++)
        add(s, &n, h->kept[i].phys & ~4095ull, h->kept[i].bytes + (h->kept[i].phys & 4095));
    /* sort by start, then merge what overlaps or touches: maximal runs, as the allocator's are */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s[j].lo < s[j - 1].lo; j--) {
            struct span t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && s[i].lo <= s[m - 1].hi) {
            if (s[i].hi > s[m - 1].hi)
                s[m - 1].hi = s[i].hi;
        } else {
            s[m++] = s[i];
        }
    }
    uint64_t start, len, pfn = 0;
    int i = 0;
    for (; pmm_next_alloc_range(p, pfn, &start, &len); pfn = start + len, i++) {
        if (i == m || start < s[i].lo) {
            *at = start << 12;
            return "allocated pages that the handoff block does not list";
        }
        if (start > s[i].lo || start + len < s[i].hi) {
            *at = (start > s[i].lo ? s[i].lo : start + len) << 12;
            return "listed pages that are not allocated";
        }
        if (start + len > s[i].hi) {
            *at = s[i].hi << 12;
            return "allocated pages that the handoff block does not list";
        }
    }
    if (i < m) {
        *at = s[i].lo << 12;
        return "listed pages that are not allocated";
    }
    return 0;
}
