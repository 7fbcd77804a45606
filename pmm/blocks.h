/*
 * blocks.h - the free-block stack's O(1) halves, inlined where pmm_alloc_run and pmm_free_run and
 * the page paths call them (blocks.c says what the stack and the block states are). All under the
 * lock; the bytes are relaxed atomics because pmm_ref_inc and pmm_ref_dec read them before taking
 * it.
 */
#ifndef PMM_BLOCKS_H
#define PMM_BLOCKS_H

#include "state.h"

/*
 * Without the lock, as hints that spare a lock round trip when the answer is no; the caller asks
 * again under the lock. btop is written with relaxed atomics for the same reason.
 */
static inline int blk_any(const struct pmm *p)
{
    return __atomic_load_n(&p->btop, __ATOMIC_RELAXED) != 0;
}
static inline int blk_whole(const struct pmm *p, uint64_t b)
{
    return ld8(&pmm_bst(p)[b]) == PMM_BLK_WHOLE;
}

/*
 * The block stacked last, now handed out whole: its physical address, or 0 if the stack is empty.
 * The stack holds each block's frame beside its compact number, so that neither a pop nor a push
 * looks up a slot, and keeps its top frame in bfront, so that the answer is one load that does not
 * wait for btop: between a free and the next allocation the block's address goes through memory
 * once.
 */
static inline uint64_t blk_pop(struct pmm *p)
{
    uint64_t f = p->bfront;
    if (!f)
        return 0;
    uint32_t top = p->btop;
    __atomic_store_n(&p->btop, top - 1, __ATOMIC_RELAXED);
    st8(&pmm_bst(p)[p->bblk[top - 1]], PMM_BLK_WHOLE);
    p->bfront = top > 1 ? p->bstack[top - 2] : 0;
    return f << (PMM_BLOCK_SHIFT + PMM_PAGE_SHIFT);
}

/* Frame f (compact block b), handed out whole and untouched, is freed: 1 if the stack took it. */
static inline int blk_push(struct pmm *p, uint64_t f, uint64_t b)
{
    uint32_t top = p->btop;
    if (top == PMM_BSTACK_CAP)
        return 0;
    st8(&pmm_bst(p)[b], PMM_BLK_STACKED);
    p->bstack[top] = f;
    p->bblk[top] = b;
    p->bfront = f;
    __atomic_store_n(&p->btop, top + 1, __ATOMIC_RELAXED);
    return 1;
}

/*
 * Page c, allocated (so not in a stacked block), is about to be freed, shared or cached: its
 * block is no longer whole. An unconditional store: a load and a branch cost the single-page
 * free more than writing a byte that is almost always in cache and usually already normal.
 */
static inline void blk_touch1(struct pmm *p, uint64_t c)
{
    st8(&pmm_bst(p)[c >> PMM_BLOCK_SHIFT], PMM_BLK_NORMAL);
}

#endif
