/*
 * layout.h - a header's geometry rewritten as a self-consistent whole, for tests that hand
 * pmm_adopt a hostile state (test_issue21, fuzz_adopt).
 *
 * The layout is computed here, from the drawing in pmm/state.h and without pmm_layout's bounds,
 * so that it can describe a geometry pmm_layout refuses (a span past 2^47 pages, a summary that
 * needs every one of its eight levels). Every field adopt recomputes agrees with the others.
 */
#ifndef TEST_LAYOUT_H
#define TEST_LAYOUT_H

#include "state.h"

static inline uint64_t layout_r64(uint64_t x)
{
    return (x + 63) & ~63ull;
}
static inline uint64_t layout_rpg(uint64_t x)
{
    return (x + 4095) & ~4095ull;
}

/* Rewrite h's geometry for `span` pages with `nslots` present sections (one node run). */
static inline void layout_rewrite(struct pmm *h, uint64_t span, uint64_t nslots)
{
    h->span = span;
    h->nsec = span / PMM_SEC_PAGES + (span % PMM_SEC_PAGES != 0);
    h->nslots = nslots;
    h->cspan = nslots << PMM_SEC_SHIFT;
    h->nblocks = h->cspan >> PMM_BLOCK_SHIFT;
    h->runs_cap = h->nruns = 1;
    uint64_t at = 4096;
    h->ranges_phys = at;
    at = layout_r64(at + h->range_cap * sizeof(struct pmm_range));
    h->sec_phys = at;
    at = layout_r64(at + h->nsec * 4);
    h->slots_phys = at;
    at = layout_r64(at + h->nslots * 4);
    h->runs_phys = at;
    at = layout_r64(at + h->runs_cap * sizeof(struct pmm_node_run));
    h->dist_phys = at;
    at = layout_r64(at + (uint64_t)h->nnodes * h->nnodes);
    h->order_phys = at;
    at = layout_r64(at + (uint64_t)h->nnodes * h->nnodes);
    h->cache_phys = at;
    at = layout_r64(at + (uint64_t)h->ncpus * sizeof(struct pmm_cache));
    h->cnode_phys = at;
    at = layout_r64(at + (uint64_t)h->ncpus * 2);
    h->count_phys = at;
    at = layout_r64(at + h->nblocks * 2);
    h->own_phys = at;
    at = layout_r64(at + h->nblocks);
    h->node_phys = at;
    at = layout_r64(at + h->nblocks);
    struct pmm_sum *sums[2] = {&h->avail, &h->whole};
    for (int m = 0; m < 2; m++) {
        struct pmm_sum *sm = sums[m];
        sm->nbits = h->nblocks;
        uint64_t words = h->nblocks ? (h->nblocks + 63) / 64 : 1;
        uint32_t k = 0;
        for (; k < PMM_LEVELS; k++) { /* as many levels as the header has room for */
            sm->nwords[k] = words;
            sm->phys[k] = at;
            at = layout_r64(at + words * 8);
            if (words == 1)
                break;
            words = (words + 63) / 64;
        }
        sm->nlevels = k < PMM_LEVELS ? k + 1 : PMM_LEVELS;
        for (k = sm->nlevels; k < PMM_LEVELS; k++)
            sm->nwords[k] = sm->phys[k] = 0;
    }
    h->marks_phys = at;
    at = layout_r64(at + (h->cspan / 64 + 63) / 64 * 8);
    h->free_phys = at = layout_rpg(at);
    at = layout_rpg(at + h->cspan / 8);
    h->ownw_phys = at;
    at = layout_rpg(at + h->cspan / 8);
    h->refs_phys = at;
    at = layout_rpg(at + h->cspan * 2);
    h->meta_pages = at / 4096;
    uint64_t *f[] = {&h->ranges_phys, &h->sec_phys,   &h->slots_phys, &h->runs_phys,
                     &h->dist_phys,   &h->order_phys, &h->cache_phys, &h->cnode_phys,
                     &h->count_phys,  &h->own_phys,   &h->node_phys,  &h->marks_phys,
                     &h->free_phys,   &h->ownw_phys,  &h->refs_phys};
    for (unsigned i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] += h->self_phys;
    for (uint32_t k = 0; k < h->avail.nlevels; k++)
        h->avail.phys[k] += h->self_phys;
    for (uint32_t k = 0; k < h->whole.nlevels; k++)
        h->whole.phys[k] += h->self_phys;
    h->c_low = h->c_dma = h->c_high = h->pfn_high = h->cursor = 0;
}

#endif
