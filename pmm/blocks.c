/*
 * blocks.c - one 2 MiB block in O(1): the free-block stack.
 *
 * A run of one 2 MiB block (512 pages, 2 MiB-aligned) is the large request a kernel makes most: a
 * huge page, a DMA ring, a slab. The general path finds one through the block map and checks and
 * frees it a word at a time. This file gives those runs what the free-page stack gives single
 * pages: the block freed last is handed out next (LIFO, so its metadata is still in cache), and
 * each direction reads or writes one cache line of the free map (and, to free, one of the owned
 * map) and one word each of the first summary level and the shared map, and no search.
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
 * The block's eight free-map words become `value`, and its byte of the first summary level with
 * them (eight words sit in one summary word, so one climb of the levels at most).
 */
static void fill(struct pmm *p, uint64_t c, uint64_t value)
{
    uint64_t *w = pmm_free_l0(p) + (c >> 6);
    for (int i = 0; i < 8; i++) /* word stores: other CPUs' fast paths read these */
        st64(&w[i], value);
    const struct pmm_hbits *h = &p->freemap;
    if (h->nlevels > 1) {
        uint64_t *l1 = pmm_words(p, h, 1) + (c >> 12), m = 0xffull << ((c >> 6) & 63), old = *l1;
        *l1 = value ? old | m : old & ~m;
        if (!old != !*l1)
            hb_propagate_from(p, h, 2, c >> 12);
    }
}

/*
 * Under the lock: hand out a stacked block whose pages are all still free (its first compact
 * page), or PMM_NONE; stale entries met on the way are dropped. As take() does: its counts page is
 * made ready (its counts are 0, one reference each) and its shared bits, stale if set (every
 * count is 0), are cleared, so that freeing it reads no counts.
 */
uint64_t blk_take(struct pmm *p)
{
    const uint64_t *l0 = pmm_free_l0(p);
    uint64_t zone = blk_first_zone(p); /* an adopted header's entries are only range-checked */
    while (p->btop) {
        uint64_t b = p->bstack[--p->btop], c = b << PMM_BLOCK_SHIFT, all = ~0ull;
        for (int i = 0; i < 8; i++) /* plain loads: the lock holder is the only writer */
            all &= l0[b * 8 + i];
        if (all != ~0ull || c < zone)
            continue;
        stack_evict(p, c, 512);
        fill(p, c, 0);
        if (!bit_test(pmm_rinit(p), c >> PMM_RINIT_SHIFT))
            refs_ready(p, c, 512);
        uint64_t *sh = &pmm_shared(p)[c >> 12], m = 0xffull << ((c >> 6) & 63), v = ld64(sh);
        if (v & m)
            st64(sh, v & ~m);
        p->nfree -= 512;
        p->nalloc += 512;
        return c;
    }
    return PMM_NONE;
}

/*
 * Under the lock: free the block at compact page c (512-aligned) if every page of it is allocated
 * and none has another reference or sits on a cache (its eight shared-map bits are clear), and
 * push it; 1 if so. 0 changes nothing: the general path then frees it, or names what is wrong.
 */
int blk_give(struct pmm *p, uint64_t c)
{
    const uint64_t *own = pmm_own(p) + (c >> 6), *l0 = pmm_free_l0(p) + (c >> 6);
    uint64_t all = ~0ull;
    for (int i = 0; i < 8; i++)
        all &= own[i] & ~l0[i]; /* plain loads: the lock holder is the only writer */
    if (all != ~0ull || ((pmm_shared(p)[c >> 12] >> ((c >> 6) & 63)) & 0xff) || !p->reconciled)
        return 0;
    fill(p, c, ~0ull);
    uint64_t *bl0 = pmm_words(p, &p->blkmap, 0); /* the block is whole: its hint must be set */
    if (!bit_test(bl0, c >> PMM_BLOCK_SHIFT))
        blk_note_full(p, c >> PMM_BLOCK_SHIFT);
    p->nfree += 512;
    p->nalloc -= 512;
    if (p->btop < PMM_BSTACK_CAP && c >= blk_first_zone(p))
        p->bstack[p->btop++] = c >> PMM_BLOCK_SHIFT;
    return 1;
}
