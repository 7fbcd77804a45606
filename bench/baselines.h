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
 *  - LLFree-style lock-free allocator (llfree.c): a 512-bit field and an atomic free counter per
 *    2 MiB frame, trees of frames with one counter word each, a tree reserved per core; every
 *    shared word changes by compare-and-swap. 4 KiB and 2 MiB pages only, no reference counts.
 *
 * The baselines that take a free set as a list of spans (buddy_init_spans, llf_init) are given the
 * very pages the allocator has free in the same scenario (pmm_next_free_range), so that all of
 * them start from one layout.
 */
#ifndef BASELINES_H
#define BASELINES_H

#include <stddef.h>
#include <stdint.h>

/* Pages [pfn, pfn + n): free spans, sorted, not overlapping and not touching. */
struct span {
    uint64_t pfn, n;
};

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
    void *owned; /* what buddy_destroy frees: the arrays, unless the caller gave the memory */
};
void buddy_init(struct buddy *b, uint64_t npages, uint64_t first, uint64_t end);
/* Bytes of metadata for npages pages: the link arrays and the order bytes. */
uint64_t buddy_meta_bytes(uint64_t npages);
/* Metadata in the caller's meta (buddy_meta_bytes, 8-byte aligned); free exactly the spans. */
void buddy_init_spans(struct buddy *b, void *meta, uint64_t npages, const struct span *free,
                      size_t nfree);
void buddy_destroy(struct buddy *b);
uint64_t buddy_alloc(struct buddy *b, int order); /* first page, or ~0 */
void buddy_free(struct buddy *b, uint64_t pfn, int order);

/*
 * llfree.c: the LLFree-style baseline. Memory is cut into 2 MiB frames of LLF_FRAME_PAGES pages
 * and trees of LLF_TREE_FRAMES frames. Shared words, each changed only by compare-and-swap:
 *  - bits[f]:  the frame's 512-bit field (one cache line), 1 = allocated as a 4 KiB page;
 *  - child[f]: the frame's free-page count, and LLF_HUGE when the frame is one 2 MiB page;
 *  - tree[t]:  the tree's free-page count not handed to a core, and LLF_RESERVED while a core
 *              holds the rest of it (so one CAS moves count and flag together);
 *  - core[c].res: core c's reservation, tree index and page budget in one word (other cores may
 *              take it back with one CAS when they find nothing free elsewhere).
 * Counts reserve before bits are taken: a core takes a page from its budget, then one from a
 * frame's counter, then a bit; a free clears the bit, then raises the frame's counter, then the
 * budget or the tree's counter. So a core holding a count always finds its bit, and no operation
 * waits for another core: a failed CAS means another core's succeeded.
 * Errors: 0, or LLF_ENOMEM, LLF_EINVAL (out of range, not a 4 KiB / 2 MiB page of that kind) and
 * LLF_EDOUBLE (already free; refused with nothing changed).
 */
#define LLF_FRAME_PAGES 512u
#define LLF_TREE_FRAMES 32u /* one cache line of frame counters per tree */
#define LLF_TREE_PAGES  (LLF_FRAME_PAGES * LLF_TREE_FRAMES)
#define LLF_HUGE        0x8000u
#define LLF_RESERVED    0x80000000u
#define LLF_NO_TREE     0xffffffffu
enum { LLF_ENOMEM = -1, LLF_EINVAL = -2, LLF_EDOUBLE = -4 };

struct llf_core {
    uint64_t res;        /* shared: (budget << 32) | tree, tree LLF_NO_TREE when none */
    uint64_t next_frame; /* owner only: where the last 4 KiB page came from */
    uint64_t huge_tree;  /* owner only: where the last 2 MiB page came from */
} __attribute__((aligned(64)));

struct llf {
    uint64_t (*bits)[8]; /* per frame */
    uint16_t *child;     /* per frame */
    uint32_t *tree;      /* per tree */
    struct llf_core *core;
    uint64_t npages, nframes, ntrees;
    uint32_t ncores;
};

/* Bytes of metadata for npages pages and cores cores (meta must be 64-byte aligned). */
uint64_t llf_meta_bytes(uint64_t npages, uint32_t cores);
/* Write all metadata into meta: the spans free, every other page allocated; no reservations. */
void llf_init(struct llf *l, void *meta, uint64_t npages, uint32_t cores, const struct span *free,
              size_t nfree);
int llf_alloc(struct llf *l, uint32_t core, uint64_t *pfn);
int llf_free(struct llf *l, uint32_t core, uint64_t pfn);
int llf_alloc_huge(struct llf *l, uint32_t core, uint64_t *pfn); /* 512 pages, 2 MiB aligned */
int llf_free_huge(struct llf *l, uint32_t core, uint64_t pfn);
/* Give core's reserved tree back (any thread; the core may keep running). */
void llf_drain(struct llf *l, uint32_t core);
/* Free pages, and entirely free frames (2 MiB pages to be had): exact when no call runs. */
uint64_t llf_free_pages(const struct llf *l);
uint64_t llf_free_frames(const struct llf *l);

#endif
