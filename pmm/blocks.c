/*
 * blocks.c - one 2 MiB block in O(1): the free-block stack.
 *
 * A run of one 2 MiB block (512 pages, 2 MiB-aligned) is the large request a kernel makes most: a
 * huge page, a DMA ring, a slab. The general path finds one through the block map and checks and
 * frees it a word at a time. This file gives those runs what the free-page stack gives single
 * pages: the block freed last is handed out next (LIFO, so its metadata is still in cache), with
 * no search. The block is then taken and given back as any run is (alloc.c take and give; a whole
 * block is one cache line of the free map and a byte of its first summary level, bitmap.c
 * fm_fill_block); this file only keeps the stack and says which blocks may skip the search.
 *
 * The stack is a hint, as the block map is: a stacked block was wholly free when it was pushed,
 * and a pop confirms that in the free map (the cache line it is about to clear) before handing it
 * out, and drops the entry if any of its pages was taken since. So nothing else that takes free
 * pages needs to know about the stack, the free map stays the one truth, and a block may even be
 * on it twice. Only blocks in the zone unbounded runs come from first (at or above 4 GiB, or at or
 * above 16 MiB when there is no memory above 4 GiB; alloc.c find_run) are pushed, and only after
 * reconcile (no firmware to claim from), so a pop never hands out memory the zone order keeps back.
 */
#include "state.h"

/* The first compact page of the zone unbounded runs are taken from first. */
uint64_t blk_first_zone(const struct pmm *p)
{
    return p->c_high < p->cspan ? p->c_high : c_ceil(p, (16ull << 20) >> PMM_PAGE_SHIFT);
}

/*
 * Under the lock: a stacked block whose pages are all still free (its first compact page), to be
 * taken as any run is, or PMM_NONE. Stale entries met on the way are dropped.
 */
uint64_t blk_pop(struct pmm *p)
{
    const uint64_t *l0 = pmm_free_l0(p);
    uint64_t zone = blk_first_zone(p); /* an adopted header's entries are only range-checked */
    while (p->btop) {
        uint64_t b = p->bstack[--p->btop], all = ~0ull;
        for (int i = 0; i < 8; i++) /* plain loads: the lock holder is the only writer */
            all &= l0[b * 8 + i];
        if (all == ~0ull && b << PMM_BLOCK_SHIFT >= zone)
            return b << PMM_BLOCK_SHIFT;
    }
    return PMM_NONE;
}

/*
 * Under the lock: 1 if the block at compact page c (512-aligned) may be freed outright, after
 * reconcile: every page of it allocated and none with another reference or on a cache (its eight
 * shared-map bits are clear). 0 says nothing: the general path then frees it, or names what is
 * wrong.
 */
int blk_freeable(const struct pmm *p, uint64_t c)
{
    const uint64_t *own = pmm_own(p) + (c >> 6), *l0 = pmm_free_l0(p) + (c >> 6);
    uint64_t all = ~0ull;
    for (int i = 0; i < 8; i++)
        all &= own[i] & ~l0[i]; /* plain loads: the lock holder is the only writer */
    return all == ~0ull && !((pmm_shared(p)[c >> 12] >> ((c >> 6) & 63)) & 0xff) && p->reconciled;
}

/* Under the lock: the block at compact page c was just freed whole; stack it if it qualifies. */
void blk_push(struct pmm *p, uint64_t c)
{
    if (p->btop < PMM_BSTACK_CAP && c >= blk_first_zone(p))
        p->bstack[p->btop++] = c >> PMM_BLOCK_SHIFT;
}
