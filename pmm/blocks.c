/*
 * blocks.c - one 2 MiB block in O(1): block states and the free-block stack.
 *
 * A run of one 2 MiB block (512 pages, 2 MiB-aligned) is the large request a kernel makes most: a
 * huge page, a DMA ring, a slab. Found through the block map, checked and freed a word at a time,
 * it costs tens of nanoseconds; a buddy allocator pops it off a list. So a block freed whole does
 * not go back to the pool page by page: it keeps its pages' metadata as it was (owned, out of the
 * free map, counts 0, no shared mark) and only its state byte changes, WHOLE to STACKED, and it
 * goes on the free-block stack. The next one-block request pops it (LIFO, so its metadata and
 * state are still in cache) and sets the byte back to WHOLE. Freeing a WHOLE block reads one byte
 * where the general path reads 17 words, and allocating one writes a byte where it writes the
 * maps and their summaries.
 *
 * What keeps the per-page guarantees:
 *  - a WHOLE block is one that nothing has touched page by page: freeing one of its pages,
 *    sharing one (ref_inc) or putting one on a per-CPU cache all go through the lock and make it
 *    NORMAL first (blk_touch1, blk_touched), so a WHOLE byte alone proves every page allocated,
 *    unshared and uncached. A per-CPU fast free cannot bypass that: it needs its page's shared-map
 *    bit set, and a WHOLE or STACKED block has all of them clear;
 *  - a STACKED block's pages look allocated in the maps, so every path that would take one for
 *    allocated reads the state byte too: allocated() names a free of one a double free, and a run
 *    free that covers one is refused the same way (blk_stacked_in);
 *  - stacked blocks are free memory the pool cannot see, so the pool takes them back (blk_flush)
 *    before it would do without them: a single-page refill or a run search that would otherwise
 *    go below the zone the blocks are in, or fail, and pmm_keep_range. No false out-of-memory, and
 *    low memory is not spent while high memory sits on the stack;
 *  - statistics count stacked blocks as free (stats.c), pmm_check verifies every state byte
 *    against the maps and the stack, and pmm_adopt checks each stacked entry's byte.
 *
 * Only blocks at or above the zone unbounded runs come from first (at or above 4 GiB, or at or
 * above 16 MiB when there is no memory above 4 GiB; alloc.c find_run) become WHOLE, and only after
 * reconcile (no firmware to claim from or release to), so a pop never hands out memory that the
 * zone order keeps back.
 */
#include "blocks.h"

/* The first compact page of the zone unbounded runs are taken from first. */
uint64_t blk_first_zone(const struct pmm *p)
{
    return p->c_high < p->cspan ? p->c_high : c_ceil(p, (16ull << 20) >> PMM_PAGE_SHIFT);
}

/* Every stacked block goes back to the pool as free pages. */
void blk_flush(struct pmm *p)
{
    p->bfront = 0;
    for (uint32_t top = p->btop; top; __atomic_store_n(&p->btop, --top, __ATOMIC_RELAXED)) {
        uint64_t b = p->bblk[top - 1], c = b << PMM_BLOCK_SHIFT;
        st8(&pmm_bst(p)[b], PMM_BLK_NORMAL);
        fm_fill(p, c, c + (1ull << PMM_BLOCK_SHIFT), 1);
        p->nfree += 1ull << PMM_BLOCK_SHIFT;
        p->nalloc -= 1ull << PMM_BLOCK_SHIFT;
    }
}

/*
 * A search of compact [lo, hi) found nothing: if a stacked block lies there, every stacked block
 * goes back to the pool and 1 says search again; 0 if none does (a bounded request that the
 * blocks cannot help keeps the stack).
 */
int blk_flush_in(struct pmm *p, uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < p->btop; i++) {
        uint64_t c = p->bblk[i] << PMM_BLOCK_SHIFT;
        if (c >= lo && c + (1ull << PMM_BLOCK_SHIFT) <= hi) {
            blk_flush(p);
            return 1;
        }
    }
    return 0;
}

/*
 * Run [c, c + n) was just taken from the pool (its shared-map bits cleared): if it is one block
 * in the zone, after reconcile, it is WHOLE, so that its free is O(1) too.
 */
void blk_taken(struct pmm *p, uint64_t c, uint64_t n)
{
    if (n == 1ull << PMM_BLOCK_SHIFT && !(c & (n - 1)) && p->reconciled && c >= blk_first_zone(p))
        st8(&pmm_bst(p)[c >> PMM_BLOCK_SHIFT], PMM_BLK_WHOLE);
}

/* Allocated pages [c, c + n) are about to be freed: no block among them stays WHOLE. */
void blk_touched(struct pmm *p, uint64_t c, uint64_t n)
{
    uint8_t *st = pmm_bst(p);
    for (uint64_t b = c >> PMM_BLOCK_SHIFT; b <= (c + n - 1) >> PMM_BLOCK_SHIFT; b++)
        if (ld8(&st[b]) == PMM_BLK_WHOLE)
            st8(&st[b], PMM_BLK_NORMAL);
}

/* The first page of [c, c + n) in a stacked block, or PMM_NONE: a byte per block. */
uint64_t blk_stacked_in(const struct pmm *p, uint64_t c, uint64_t n)
{
    const uint8_t *st = pmm_bst(p);
    for (uint64_t b = c >> PMM_BLOCK_SHIFT; b <= (c + n - 1) >> PMM_BLOCK_SHIFT; b++)
        if (ld8(&st[b]) == PMM_BLK_STACKED)
            return b << PMM_BLOCK_SHIFT > c ? b << PMM_BLOCK_SHIFT : c;
    return PMM_NONE;
}
