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

void buddy_init(struct buddy *b, uint64_t npages, uint64_t first, uint64_t end)
{
    b->npages = npages;
    b->next = malloc(npages * sizeof *b->next);
    b->prev = malloc(npages * sizeof *b->prev);
    b->order = malloc(npages);
    memset(b->order, -1, npages);
    for (int k = 0; k <= BUDDY_MAX_ORDER; k++)
        b->head[k] = NIL;
    for (uint64_t pfn = first; pfn < end;) { /* the largest aligned blocks that fit */
        int k = BUDDY_MAX_ORDER;
        while (k && ((pfn & ((1ull << k) - 1)) || pfn + (1ull << k) > end))
            k--;
        push(b, (uint32_t)pfn, k);
        pfn += 1ull << k;
    }
}

void buddy_destroy(struct buddy *b)
{
    free(b->next);
    free(b->prev);
    free(b->order);
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
