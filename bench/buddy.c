/*
 * buddy.c - the classic binary buddy allocator, as a baseline (baselines.h).
 *
 * Free blocks of 2^k pages, naturally aligned, sit on one doubly linked list per order; the links
 * and each free block's order live in per-page arrays (as Linux keeps them in struct page). An
 * allocation takes a block of the smallest order that fits and splits it down, giving the upper
 * halves back; a free merges the block with its buddy (pfn ^ 2^k) for as long as the buddy is a
 * free block of the same order. No reference counts, no checks: the design at its fastest.
 */
#include <stdlib.h>
#include <string.h>

#include "baselines.h"

#define NIL 0xffffffffu

static void push(struct buddy *b, uint32_t pfn, int k)
{
    b->next[pfn] = b->head[k];
    b->prev[pfn] = NIL;
    if (b->head[k] != NIL)
        b->prev[b->head[k]] = pfn;
    b->head[k] = pfn;
    b->order[pfn] = (int8_t)k;
}

static void unlink_block(struct buddy *b, uint32_t pfn, int k)
{
    if (b->prev[pfn] != NIL)
        b->next[b->prev[pfn]] = b->next[pfn];
    else
        b->head[k] = b->next[pfn];
    if (b->next[pfn] != NIL)
        b->prev[b->next[pfn]] = b->prev[pfn];
    b->order[pfn] = -1;
}

uint64_t buddy_meta_bytes(uint64_t npages)
{
    return npages * (2 * sizeof(uint32_t) + 1);
}

/* Push [pfn, end) as the largest naturally aligned blocks that fit. */
static void push_range(struct buddy *b, uint64_t pfn, uint64_t end)
{
    while (pfn < end) {
        int k = BUDDY_MAX_ORDER;
        while (k && ((pfn & ((1ull << k) - 1)) || pfn + (1ull << k) > end))
            k--;
        push(b, (uint32_t)pfn, k);
        pfn += 1ull << k;
    }
}

/* The arrays at meta; every order byte written, a link only where a free block starts. */
static void lay_out(struct buddy *b, void *meta, uint64_t npages)
{
    b->npages = npages;
    b->next = meta;
    b->prev = b->next + npages;
    b->order = (int8_t *)(b->prev + npages);
    memset(b->order, -1, npages);
    for (int k = 0; k <= BUDDY_MAX_ORDER; k++)
        b->head[k] = NIL;
}

void buddy_init(struct buddy *b, uint64_t npages, uint64_t first, uint64_t end)
{
    void *meta = malloc(buddy_meta_bytes(npages));
    lay_out(b, meta, npages);
    b->owned = meta;
    push_range(b, first, end);
}

/* The spans neither overlap nor touch, so no block pushed here has a free buddy to merge with. */
void buddy_init_spans(struct buddy *b, void *meta, uint64_t npages, const struct span *free,
                      size_t nfree)
{
    lay_out(b, meta, npages);
    b->owned = 0;
    for (size_t i = 0; i < nfree; i++)
        push_range(b, free[i].pfn, free[i].pfn + free[i].n);
}

void buddy_destroy(struct buddy *b)
{
    free(b->owned);
}

uint64_t buddy_alloc(struct buddy *b, int k)
{
    int j = k;
    while (j <= BUDDY_MAX_ORDER && b->head[j] == NIL)
        j++;
    if (j > BUDDY_MAX_ORDER)
        return ~0ull;
    uint32_t pfn = b->head[j];
    unlink_block(b, pfn, j);
    while (j > k) { /* split: keep the lower half, give back the upper */
        j--;
        push(b, pfn + (1u << j), j);
    }
    return pfn;
}

void buddy_free(struct buddy *b, uint64_t pfn, int k)
{
    while (k < BUDDY_MAX_ORDER) {
        uint64_t bud = pfn ^ (1ull << k);
        if (bud >= b->npages || b->order[bud] != k)
            break;
        unlink_block(b, (uint32_t)bud, k);
        pfn &= ~(1ull << k);
        k++;
    }
    push(b, (uint32_t)pfn, k);
}
