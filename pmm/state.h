/*
 * state.h - the allocator's state and the invariants every pmm/ file keeps.
 *
 * OVERVIEW
 *
 * The allocator manages page frames [0, span), where span is one past the highest usable RAM page
 * (conventional, boot-services or loader memory). Reserved ranges far above RAM (QEMU reports one
 * near 1 TiB) do not stretch it. Its structures, all in one run of metadata pages that it carves
 * out of conventional memory itself:
 *
 *   +--------+--------+-----------+--------------+-----------+-------+--------------------+
 *   | header | ranges | free map  | free summary | block map | owned | reference counts   |
 *   | +stack |        | 1 bit/pg  | 1 bit/word.. | 1 bit/2M  | 1b/pg | 16 bits/page       |
 *   +--------+--------+-----------+--------------+-----------+-------+--------------------+
 *   self_phys                                              (page aligned, written lazily) ^
 *
 *  - owned map: bit set = the page is in the pool (free or handed out). Page 0, metadata, memory
 *    not yet reconciled and everything that is not usable RAM are clear.
 *  - free map: bit set = the page is free. The source of truth: free implies owned. A page is
 *    "allocated" exactly when owned and not free.
 *  - free summary: level k+1 has one bit per word of level k, set when that word is non-zero, up to
 *    a single top word. Finding the next free page from any point costs O(levels), not O(span).
 *  - block map: one bit per 2 MiB block (512 pages, 8 free-map words), with its own summary
 *    levels, so 2 MiB-aligned runs are found without reading every page. One-sided: a block that
 *    is entirely free always has its bit set; a set bit may be stale (allocation does not clear
 *    it, which keeps the single-page path free of block upkeep). The run search confirms a
 *    candidate in the free map, one cache line per block, and clears stale bits it meets.
 *  - free-page stack (in the header page): up to PMM_STACK_CAP free pages for O(1) single-page
 *    alloc and free. Every page on it is free in the free map; a free page need not be on it. It is
 *    refilled lazily from the free map, a batch at a time, so building never visits every page.
 *    Runs that take a stacked page evict it (stack_lo/stack_hi bound the pages on it).
 *  - reference counts: one uint16_t per page, meaningful only for allocated pages (set to 1 on
 *    allocation); never written at build time, so untouched pages of the array cost nothing.
 *  - range table: the classified memory map (sorted, non-overlapping), for checks and stats.
 *
 * Counters: nfree = popcount(free map), nalloc = popcount(owned & ~free), total = usable pages in
 * the range table. pmm_check() verifies all of the above.
 *
 * OWNERSHIP BY BOOT PHASE
 *
 *  1. Loader, boot services alive. The firmware still owns conventional memory and may allocate
 *     from it at any time, so every page the allocator hands out is first claimed from the firmware
 *     (fw.claim, AllocatePages as EfiLoaderData) and a page freed is released back. A page the
 *     firmware took in the meantime leaves the pool. Boot-services and loader memory is withheld.
 *  2. Loader, after ExitBootServices: pmm_reconcile() reads the final map; withheld boot memory
 *     joins the pool as free (or, with PMM_HOLD_BOOT_MEMORY, stays withheld until the kernel calls
 *     pmm_release_boot), the firmware hooks are dropped. The state is now self-contained.
 *  3. Kernel: pmm_adopt() validates the header in O(1) and takes it in place; pmm_set_offset()
 *     moves it to the kernel's own direct map. Pages allocated in phase 1 (kernel image, stack,
 *     handoff block) stay allocated throughout.
 *
 * MOVABILITY
 *
 * The state holds physical addresses only. Memory is reached as physical + off, where off is the
 * current owner's offset, so a new owner changes one field. Function pointers (lock, firmware
 * hooks) are owner-local: pmm_adopt() clears them.
 */
#ifndef PMM_STATE_H
#define PMM_STATE_H

#include "pmm.h"

#define PMM_MAGIC       0x4d4d502d49464555ull /* "UEFI-PMM" */
#define PMM_VERSION     1u
#define PMM_LEVELS      8            /* summary levels: 64^7 pages is far past 2^52 */
#define PMM_STACK_CAP   384          /* header + stack fit one page */
#define PMM_REFILL      192          /* pages pulled from the free map per refill */
#define PMM_BLOCK_SHIFT 9            /* 512 pages = 2 MiB per block */
#define PMM_LOW_PFN     256          /* below 1 MiB: only for requests bounded there */
#define PMM_HIGH_PFN    (1ull << 20) /* 4 GiB: single pages come from above here first */
#define PMM_NONE        (~0ull)

/* A bitmap with summary levels: level 0 is the bitmap, level k+1 summarises level k's words. */
struct pmm_hbits {
    uint64_t phys[PMM_LEVELS];
    uint64_t nwords[PMM_LEVELS];
    uint64_t nbits; /* bits at level 0 */
    uint32_t nlevels;
    uint32_t pad;
};

struct pmm {
    uint64_t magic;
    uint32_t version;
    uint32_t size; /* sizeof(struct pmm) */
    uint64_t self_phys;
    uint64_t off; /* virtual = physical + off, for the current owner */

    uint64_t meta_pages; /* the metadata run starts at self_phys: the header is its first page */
    uint64_t span;       /* pages [0, span) are covered */
    struct pmm_hbits freemap;
    struct pmm_hbits blkmap;
    uint64_t own_phys;
    uint64_t refs_phys;
    uint64_t ranges_phys, nranges, range_cap;

    uint64_t nfree, nalloc, total;
    uint64_t cursor; /* where the next stack refill starts looking */
    uint32_t reconciled;
    uint32_t boot_held; /* boot memory withheld until pmm_release_boot */
    uint32_t top;       /* entries on the stack */
    uint32_t pad;
    uint64_t stack_lo, stack_hi; /* every stacked pfn lies in [stack_lo, stack_hi] */

    /* Owner-local: cleared by pmm_adopt and (fw) by pmm_reconcile. */
    struct pmm_firmware fw;
    void (*lock)(void *);
    void (*unlock)(void *);
    void *lock_ctx;

    uint64_t stack[PMM_STACK_CAP];
};

_Static_assert(sizeof(struct pmm) <= PMM_PAGE_SIZE, "header and stack must fit one page");

/* First page of the metadata run (the header is its first page) and one past its last. */
static inline uint64_t meta_first(const struct pmm *p)
{
    return p->self_phys >> PMM_PAGE_SHIFT;
}
static inline uint64_t meta_end(const struct pmm *p)
{
    return meta_first(p) + p->meta_pages;
}

static inline void *pmm_va(const struct pmm *p, uint64_t phys)
{
    return (void *)(uintptr_t)(phys + p->off);
}
static inline uint64_t *pmm_words(const struct pmm *p, const struct pmm_hbits *h, unsigned level)
{
    return (uint64_t *)pmm_va(p, h->phys[level]);
}
static inline uint64_t *pmm_free_l0(const struct pmm *p)
{
    return pmm_words(p, &p->freemap, 0);
}
static inline uint64_t *pmm_own(const struct pmm *p)
{
    return (uint64_t *)pmm_va(p, p->own_phys);
}
static inline uint16_t *pmm_refs(const struct pmm *p)
{
    return (uint16_t *)pmm_va(p, p->refs_phys);
}
static inline struct pmm_range *pmm_rtab(const struct pmm *p)
{
    return (struct pmm_range *)pmm_va(p, p->ranges_phys);
}

/* Population count without libgcc (the loader and kernel link none) or a POPCNT requirement. */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
}

static inline int bit_test(const uint64_t *w, uint64_t i)
{
    return (int)((w[i >> 6] >> (i & 63)) & 1);
}
static inline uint64_t bit_mask(uint64_t i)
{
    return 1ull << (i & 63);
}

/* Mask of bits [from, to) within the word holding bit from; to is clipped to that word. */
static inline uint64_t word_mask(uint64_t from, uint64_t to)
{
    uint64_t lo = from & 63, n = to - from;
    if (n >= 64 - lo)
        return ~0ull << lo;
    return ((1ull << n) - 1) << lo;
}

/* The lock lives in the owner's memory (lock_ctx), not in the state: readers take it too. */
static inline void pmm_lock(const struct pmm *p)
{
    if (p->lock)
        p->lock(p->lock_ctx);
}
static inline void pmm_unlock(const struct pmm *p)
{
    if (p->unlock)
        p->unlock(p->lock_ctx);
}

/* lib.c: the few memory helpers a freestanding library needs. */
void pmm_memset(void *dst, int c, uint64_t n);
void pmm_memcpy(void *dst, const void *src, uint64_t n);

/* bitmap.c */
uint64_t hb_words_for(uint64_t nbits, uint64_t nwords[PMM_LEVELS], uint32_t *nlevels);
void hb_rebuild(const struct pmm *p, const struct pmm_hbits *h);
void hb_propagate(const struct pmm *p, const struct pmm_hbits *h, uint64_t wi);
uint64_t hb_next_set(const struct pmm *p, const struct pmm_hbits *h, uint64_t from, uint64_t limit);
uint64_t bits_next_clear(const uint64_t *w, uint64_t from, uint64_t limit);
uint64_t bits_next_set(const uint64_t *w, uint64_t from, uint64_t limit);
void bits_fill(uint64_t *w, uint64_t from, uint64_t to, int value);
uint64_t bits_count(const uint64_t *w, uint64_t from, uint64_t to);
void blk_note_full(const struct pmm *p, uint64_t block); /* block bit is clear: set if full */
void blk_rebuild(const struct pmm *p);
void fm_fill(struct pmm *p, uint64_t from, uint64_t to, int value);
uint64_t fm_find_run(struct pmm *p, uint64_t n, uint64_t align, uint64_t lo, uint64_t hi);

/* Called after free-map word wi went from old to new: keeps summaries and block hints true. */
static inline void fm_word_changed(const struct pmm *p, uint64_t wi, uint64_t old, uint64_t new)
{
    if ((old == 0) != (new == 0))
        hb_propagate(p, &p->freemap, wi);
    if (new == ~0ull && old != ~0ull && !bit_test(pmm_words(p, &p->blkmap, 0), wi >> 3))
        blk_note_full(p, wi >> 3);
}

/* memmap.c */
uint64_t map_count(const struct pmm_map *map);
int map_parse(const struct pmm_map *map, void *events, struct pmm_range *out, uint64_t cap,
              uint64_t *n, struct pmm_map_error *err);
uint64_t map_events_size(uint64_t ndesc);

/* alloc.c */
void stack_evict(struct pmm *p, uint64_t start, uint64_t n);
void pool_drop(struct pmm *p, uint64_t pfn, uint64_t n);

/*
 * reconcile.c: call fn on consecutive segments tiling [0, span), each with the range of r that
 * holds it (NULL for a hole).
 */
typedef void (*segment_fn)(uint64_t from, uint64_t to, const struct pmm_range *r, void *arg);
void walk_segments(const struct pmm *p, const struct pmm_range *r, uint64_t n, segment_fn fn,
                   void *arg);

/* stats.c */
uint64_t usable_pages(const struct pmm_range *r, uint64_t n, uint64_t limit);

#endif
