/*
 * baselines.h - the two simple allocators every figure is compared against, measured in the same
 * run on the same simulated memory.
 *
 *  - first-fit bitmap: one bit per page, set = used; every request scans from page 0, a word at a
 *    time, for the first fit. What a first allocator usually is.
 *  - intrusive free list (xv6's kalloc): each free page holds the address of the next one; O(1)
 *    single pages, no contiguous runs, and building it writes into every page.
 *  - binary buddy (buddy.c): free lists of naturally aligned 2^k-page blocks, split on allocation
 *    and merged with their buddy on free; the classic design for runs.
 *  - page-buffer stack (PatchworkOS's single-page allocator): a stack of free page addresses kept
 *    in free pages themselves. O(1), no metadata, and no check of any kind: the floor for a
 *    single-page alloc+free pair.
 */
#ifndef BASELINES_H
#define BASELINES_H

#include <stdint.h>

struct ff {
    uint64_t *bits; /* 1 = used */
    uint64_t npages;
};
void ff_init(struct ff *f, uint64_t npages, uint64_t first_free, uint64_t end_free);
void ff_destroy(struct ff *f);
uint64_t ff_alloc(struct ff *f);                                 /* page, or ~0 */
uint64_t ff_alloc_run(struct ff *f, uint64_t n, uint64_t align); /* align in pages */
void ff_free(struct ff *f, uint64_t pfn, uint64_t n);

struct fl {
    unsigned char *mem; /* phys 0 */
    uint64_t head;      /* phys of the first free page, 0 = none */
};
void fl_init(struct fl *l, unsigned char *mem, uint64_t first_pfn, uint64_t end_pfn);
uint64_t fl_alloc(struct fl *l); /* phys, or 0 */
void fl_free(struct fl *l, uint64_t phys);

/*
 * The top buffer is a free page: word 0 links the buffer below (0: none), words 1..PBS_SLOTS hold
 * free pages' addresses, n of them used. A free into a full buffer makes the freed page the new
 * top buffer; an allocation from an empty one hands out the buffer page itself.
 */
#define PBS_SLOTS 511
struct pbs {
    unsigned char *mem; /* phys 0 */
    uint64_t top;       /* phys of the top buffer, 0 = no free page */
    uint64_t n;         /* addresses in it */
};
void pbs_init(struct pbs *s, unsigned char *mem);
uint64_t pbs_alloc(struct pbs *s); /* phys, or 0 */
void pbs_free(struct pbs *s, uint64_t phys);

#define BUDDY_MAX_ORDER 18 /* 1 GiB blocks */
struct buddy {
    uint32_t head[BUDDY_MAX_ORDER + 1];
    uint32_t *next, *prev; /* list links, per page (meaningful for free block heads) */
    int8_t *order;         /* order of the free block headed here, or -1 */
    uint64_t npages;
};
void buddy_init(struct buddy *b, uint64_t npages, uint64_t first, uint64_t end);
void buddy_destroy(struct buddy *b);
uint64_t buddy_alloc(struct buddy *b, int order); /* first page, or ~0 */
void buddy_free(struct buddy *b, uint64_t pfn, int order);

#endif
