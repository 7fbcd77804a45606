/*
 * state.h - the allocator's state, its invariants, and who may touch what at each boot phase.
 *
 * OVERVIEW
 *
 * The allocator manages usable RAM among page frames [0, span), where span is one past the
 * highest usable page. Physical memory is cut into sections of 2^15 pages (128 MiB, as Linux's
 * sparsemem); only sections that hold usable RAM are present and have per-page metadata, so a hole
 * costs one 4-byte section-table entry whatever its size. Present sections are numbered in
 * physical order (slots) and every per-page structure is indexed by the compact index
 * c = slot * 2^15 + (pfn mod 2^15): one table load from a page to its metadata. c and pfn agree
 * modulo 2^15, so alignments up to 128 MiB are the same in both.
 *
 * Pages are grouped in blocks of 512 (2 MiB, block b = c / 512). The block is the unit of
 * bookkeeping that every CPU shares; the page is only ever touched by whoever is taking or giving
 * it. Everything lives in one run of metadata pages carved out of conventional memory:
 *
 *   header page: struct pmm (geometry, counters, hooks) and the allocator's own cache
 *   ranges | sections | slots | node runs | distances, order | per-CPU caches, their nodes
 *   per block: count u16 | own u8 | node u8 | two summaries (1 bit + levels) (written at build)
 *   per 64 pages: marks (1 bit) | own cache's groups (1 bit, homeg)          (written at build)
 *   per page: free (1 bit) | own (1 bit) | refs (u16)   (page aligned; written when a block is
 *                                                         first used, never at build for RAM
 *                                                         that is simply free)
 *
 * Per block:
 *  - own[b], what the per-page words of the block mean:
 *      NONE   no page of the block is the allocator's (hole, reserved, metadata, withheld boot
 *             memory); its per-page words are garbage and nobody reads them;
 *      FRESH  every page is owned and free, and the per-page words were never written: the free
 *             words read as all ones and every count as one reference, without being stored.
 *             The build makes every block of plain free RAM FRESH, which is why it writes a
 *             few bytes per 2 MiB and not 4 KiB per 128 MiB;
 *      ALL    every page is owned; the free words and counts are written and true;
 *      SOME   some pages are owned: the own words say which; free words and counts are true.
 *    A FRESH block becomes ALL when somebody first takes a page of it (fresh_open): whoever takes
 *    the block's whole count writes its words, so nobody ever races the initialisation. Only the
 *    owner-changing calls (reconcile, release_boot, keep_range, boot-phase drops) make a block
 *    NONE or SOME, or FRESH from NONE.
 *  - count[b]: free pages of the block that nobody has reserved. Every taker first takes from the
 *    count (a compare-and-swap), then claims that many free bits, which the count guarantees are
 *    there; every giver sets its bits first, then adds to the count. So at every moment
 *        count[b] + (pages reserved and not yet claimed) + (bits set and not yet counted)
 *            = popcount(free words of b),
 *    and with nobody at work count[b] is exactly the block's free pages. Counts are what the
 *    searches read; words are read only inside a block somebody has reserved from.
 *  - node[b]: the NUMA node of the block (the node of its first page; pmm_build).
 *  - two summaries over blocks (struct pmm_sum): `avail` (count > 0) and `whole` (count == 512),
 *    each a bitmap with levels above it (bit j of level k+1: word j of level k may be non-zero),
 *    so the next block with free pages, or the next wholly free block, is found in O(levels).
 *    One-sided: a clear bit means "no", at every level; a set bit may be stale. Bits are set by
 *    whoever makes the predicate true, after the count changed, at every level; `whole` bits
 *    are cleared at level 0 by the CPU that took the count from 512; everything else stale is
 *    cleared by the searches that meet it. A clear is followed by a recheck (and a set when the
 *    predicate holds again); because a searcher could pass in between, clears are counted in
 *    `clearing` and `clear_gen`, and a search that found nothing while a clear was in flight
 *    confirms its answer from the counts (pool.c). So PMM_ENOMEM is never caused by a summary.
 *
 * Per 64 pages:
 *  - marks: bit g set whenever one of pages [64g, 64g + 64) has a stored count other than 0 (more
 *    than one reference, or on a per-CPU cache). One-sided; set before the count changes, cleared
 *    only by a taker that holds all 64 pages free. Freeing a run reads these bits, one word per
 *    4096 pages, and the counts only of marked groups.
 *  - homeg: bit g set whenever one of pages [64g, 64g + 64) is on the allocator's own cache
 *    (`home`, one CPU at a time), whose pages keep their stored count 0; one-sided, cleared when
 *    the group's last page leaves the cache. pmm_free looks into the cache only for a page of a
 *    marked group, and `popped` (the page the cache handed out last) needs no look at all.
 *
 * Per page (in blocks that are ALL or SOME):
 *  - free bit: 1 = free (implies owned). Claimed with a compare-and-swap on its word.
 *  - own bit (SOME blocks only): 1 = the page is the allocator's, free or not.
 *  - refs: the stored count: 0 for a page that is free, not owned, or allocated with one
 *    reference; n - 1 for an allocated page with n references (at most PMM_REF_MAX - 1); and
 *    PMM_REF_HELD for a page on a per-CPU cache.
 *
 *   page state         own  free  refs        where it is
 *   not the pool's      0    0    0           (or in a NONE block)
 *   free                1    1    0           (or in a FRESH block)
 *   allocated, n refs   1    0    n - 1       handed out
 *   held                1    0    HELD        on exactly one per-CPU cache (the Zircon rule:
 *                                             the pool sees an allocated page; the cache owns it)
 *   on the own cache    1    0    0           on `home` (its group's homeg bit set), one CPU at a
 *                                             time; given back before any other CPU may look
 *
 * Who reports what: pmm_stats, pmm_page_state and the range listings count held pages and pages
 * on the own cache as free (pmm_stats also as `cached`), since any CPU gets them back by asking;
 * the searches and the longest-run figure see only the pool's; pmm_check verifies each against
 * the cache that holds it.
 *
 * Per-CPU caches (struct pmm_cache, percpu.c): up to PMM_CPU_CACHE held pages for one CPU, which
 * alone reads and writes it with plain loads and stores. An empty cache takes a batch from the
 * pool like any other taker; a full one gives the page being freed to the pool; a drain gives
 * everything back. The pool never looks inside a cache; when a CPU
 * finds the pool short, it bumps `short_gen`, and every CPU gives its cache back at its next call.
 * The header holds one more cache, `home`, that pmm_alloc and pmm_free use when one CPU at a time
 * calls the allocator (pmm_set_concurrent), and that the owner-changing calls empty first.
 *
 * CONCURRENCY (pmm.h "Many CPUs" is the contract)
 *
 * With `concurrent` clear (the loader, host tools, a kernel before it starts its APs), the shared
 * words are changed with relaxed loads and stores; with it set, with atomic read-modify-writes:
 * the compare-and-swap on a count or a free word, a fetch-or or fetch-and on a summary or mark
 * word, an add to a count, all acquire-release, the summaries' protocol sequentially consistent.
 * No operation waits for another CPU: a failed compare-and-swap means somebody else's operation
 * went through. The calls that change ownership wholesale (build, reconcile, keep_range, adopt,
 * set_offset, drain, check) require that no other CPU is in the allocator.
 *
 * OWNERSHIP BY BOOT PHASE
 *
 *  1. Loader, boot services alive. The firmware still owns conventional memory and may allocate
 *     from it at any time, so every page handed out is first claimed from the firmware (fw.claim,
 *     AllocatePages as EfiLoaderData) and a page freed is released back; a page the firmware took
 *     in the meantime leaves the pool (SOME). Boot-services and loader memory is withheld (not
 *     owned). One CPU; the caches are not used.
 *  2. Loader, after ExitBootServices: pmm_reconcile() reads the final map; withheld boot memory
 *     joins the pool as free (or, with PMM_HOLD_BOOT_MEMORY, until pmm_release_boot), and the
 *     firmware hooks are dropped. The state is now self-contained.
 *  3. Kernel: pmm_adopt() validates the header and takes it in place, concurrent;
 *     pmm_set_offset() moves it to the kernel's own direct map. Pages allocated in phases 1 and 2
 *     stay allocated.
 *
 * MOVABILITY
 *
 * The state holds physical addresses only. Memory is reached as physical + off, where off is the
 * current owner's offset, so a new owner changes one field (and the derived pointers in `at`).
 * Function pointers (firmware hooks, cpu_self) are owner-local: pmm_adopt clears them.
 */
#ifndef PMM_STATE_H
#define PMM_STATE_H

#include <stdbool.h>

#include "pmm.h"

#define PMM_MAGIC        0x4d4d502d49464555ull /* "UEFI-PMM" */
#define PMM_VERSION      PMM_ABI_VERSION
#define PMM_LEVELS       8 /* summary levels: 64^8 = 2^48 blocks, past the 2^38 a state can have */
#define PMM_BLOCK_SHIFT  9 /* 512 pages = 2 MiB per block */
#define PMM_BLOCK_PAGES  (1ull << PMM_BLOCK_SHIFT)
#define PMM_LOW_PFN      256          /* below 1 MiB: only for requests bounded there */
#define PMM_HIGH_PFN     (1ull << 20) /* 4 GiB: single pages come from above here first */
#define PMM_DMA_PFN      (1ull << 12) /* 16 MiB: runs come from [1 MiB, 16 MiB) last */
#define PMM_NONE         (~0ull)
#define PMM_SEC_SHIFT    15 /* 2^15 pages = 128 MiB per section */
#define PMM_SEC_PAGES    (1ull << PMM_SEC_SHIFT)
#define PMM_SEC_ABSENT   0xffffffffu
#define PMM_MAX_SECTIONS (1ull << 32) /* section numbers are 32-bit: span <= 2^47 pages */
#define PMM_REF_HELD     0xffffu      /* stored count of a page on a per-CPU cache */
#define PMM_CLAIM_PASSES 64 /* claim_any: passes without a bit before it calls it corrupt */

/* own[b] */
enum { OWN_NONE = 0, OWN_FRESH = 1, OWN_ALL = 2, OWN_SOME = 3 };

/*
 * One CPU's cache (percpu.c). Only its CPU reads or writes it, but for drains of a CPU that is
 * offline and the statistics, which read n and page[] (so the owner stores them with relaxed
 * atomics: plain moves). 512 bytes, so that no two caches share a cache line.
 */
struct pmm_cache {
    uint32_t n;    /* held pages on page[], the newest last */
    uint32_t gen;  /* short_gen when it last gave its pages back */
    uint32_t node; /* the CPU's NUMA node: pages of another go back to the pool, not on here;
                    * PMM_NODE_ANY with one node, and for the allocator's own cache */
    uint32_t pad;
    uint64_t cursor;              /* the block its next refill looks at first */
    uint64_t page[PMM_CPU_CACHE]; /* page frame numbers (not compact: the fast path returns them) */
};
_Static_assert(sizeof(struct pmm_cache) == 512, "a cache is eight whole cache lines");

/* A summary over blocks: level 0 has one bit per block; level k+1 one bit per word of level k. */
struct pmm_sum {
    uint64_t phys[PMM_LEVELS];
    uint64_t nwords[PMM_LEVELS];
    uint64_t nbits; /* bits at level 0: blocks */
    uint32_t nlevels;
    uint32_t pad;
};

/* A stretch of consecutive blocks of one NUMA node (node runs, sorted, tiling [0, nblocks)). */
struct pmm_node_run {
    uint64_t first, end; /* blocks [first, end) */
    uint32_t node;
    uint32_t pad;
};

struct pmm {
    uint64_t magic;
    uint32_t version;
    uint32_t size; /* sizeof(struct pmm) */
    uint64_t self_phys;
    uint64_t off; /* virtual = physical + off, for the current owner */

    /* Geometry, fixed at build. */
    uint64_t meta_pages; /* the metadata run starts at self_phys: the header is its first page */
    uint64_t span;       /* pages [0, span) are covered */
    uint64_t nsec;       /* sections of [0, span): entries in the section table */
    uint64_t nslots;     /* present sections */
    uint64_t cspan;      /* compact pages: nslots << PMM_SEC_SHIFT */
    uint64_t nblocks;    /* cspan / 512 */
    uint64_t sec_phys;   /* section table: uint32 slot per section, or PMM_SEC_ABSENT */
    uint64_t slots_phys; /* uint32 section number per slot, strictly increasing */
    uint64_t ranges_phys, nranges, range_cap;
    uint64_t runs_phys, nruns, runs_cap; /* node runs */
    uint64_t dist_phys;                  /* nnodes * nnodes distances (ACPI SLIT: 10 = local) */
    uint64_t order_phys; /* per node, every node nearest first (nnodes bytes each) */
    uint64_t cache_phys; /* ncpus struct pmm_cache */
    uint64_t cnode_phys; /* ncpus uint16: each CPU's node */
    uint64_t count_phys; /* nblocks uint16 */
    uint64_t own_phys;   /* nblocks uint8: OWN_* */
    uint64_t node_phys;  /* nblocks uint8 */
    struct pmm_sum avail, whole;
    uint64_t marks_phys; /* one bit per 64 pages */
    uint64_t homeg_phys; /* one bit per 64 pages: the allocator's own cache may hold one of them */
    uint64_t free_phys;  /* one bit per page, page aligned */
    uint64_t ownw_phys;  /* one bit per page, read in SOME blocks only */
    uint64_t refs_phys;  /* uint16 per page, page aligned */
    uint32_t ncpus;      /* caches, fixed at build */
    uint32_t nnodes;     /* NUMA nodes, 1 without a table */
    uint32_t live;       /* caches in use: 1 once no firmware hooks are set (reconcile, or a
                          * build without them) */
    uint32_t pad0;
    uint64_t c_low;    /* compact index of the first page at or above 1 MiB */
    uint64_t c_dma;    /* ... at or above 16 MiB */
    uint64_t c_high;   /* ... at or above 4 GiB (cspan if none) */
    uint64_t pfn_high; /* 4 GiB's page if RAM lies above it, else 0: a cache keeps pages below
                        * it under its high ones, so that it hands out high memory first */

    /*
     * Owner-local: where the arrays are in the current mapping (*_phys + off), so that reaching
     * one adds no offset. Derived, never trusted: build, adopt and set_offset write them from
     * the checked *_phys fields (at_ptrs).
     */
    struct {
        uint64_t *free, *ownw, *marks, *homeg;
        uint16_t *refs, *count;
        uint8_t *own, *node;
        uint32_t *sectab;
        struct pmm_cache *cache;
    } at;

    /*
     * Mutable, read by every call (a line of its own: written only by the owner-changing calls,
     * release_boot's `owned` and a shortage's short_gen).
     */
    _Alignas(64) uint32_t concurrent; /* 1: CPUs may call at once (pmm_set_concurrent) */
    uint32_t reconciled;
    uint32_t boot_held; /* boot memory withheld until pmm_release_boot */
    uint32_t short_gen; /* bumped when a CPU found the pool short: caches give their pages back */
    uint64_t owned;     /* pages in the pool: free, allocated or held */
    uint64_t total;     /* usable RAM pages in present sections (pool, metadata, withheld) */
    uint64_t unmanaged; /* usable pages in the final map outside present sections */
    uint64_t dropped;   /* pages the firmware took behind our back during the boot phase */
    /* Hints the pool paths write (their own line, so that they do not evict the one above). */
    _Alignas(64) uint64_t cursor; /* the block pmm_alloc's pool path looks at first */
    uint64_t hint;   /* one CPU: the 2 MiB block freed whole last (PMM_NONE), taken first */
    uint64_t popped; /* one CPU: the page the allocator's own cache handed out last, while it is
                      * not back on it (PMM_NONE): certainly not on it (percpu.c) */
    _Alignas(64) uint64_t clearing; /* summary clears in flight (summary.c) */
    uint64_t clear_gen;             /* summary clears completed */

    /* Owner-local: cleared by pmm_adopt and (fw) by pmm_reconcile. */
    _Alignas(64) struct pmm_firmware fw;
    uint32_t (*cpu_self)(void *); /* pmm_set_cpu_self: the calling CPU's index, or none */
    void *cpu_ctx;

    _Alignas(64) struct pmm_cache home; /* pmm_alloc's and pmm_free's cache, one CPU at a time */
};

_Static_assert(sizeof(struct pmm) <= PMM_PAGE_SIZE, "the header must fit one page");

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
static inline uint64_t *sum_words(const struct pmm *p, const struct pmm_sum *s, unsigned level)
{
    return (uint64_t *)pmm_va(p, s->phys[level]);
}
static inline struct pmm_range *pmm_rtab(const struct pmm *p)
{
    return (struct pmm_range *)pmm_va(p, p->ranges_phys);
}
static inline uint32_t *pmm_slots(const struct pmm *p)
{
    return (uint32_t *)pmm_va(p, p->slots_phys);
}
static inline struct pmm_node_run *pmm_runs(const struct pmm *p)
{
    return (struct pmm_node_run *)pmm_va(p, p->runs_phys);
}
static inline uint8_t *pmm_dist(const struct pmm *p)
{
    return (uint8_t *)pmm_va(p, p->dist_phys);
}
static inline uint8_t *pmm_order(const struct pmm *p)
{
    return (uint8_t *)pmm_va(p, p->order_phys);
}
static inline uint16_t *pmm_cnode(const struct pmm *p)
{
    return (uint16_t *)pmm_va(p, p->cnode_phys);
}
static inline uint64_t marks_words(const struct pmm *p)
{
    return (p->cspan / 64 + 63) / 64;
}
static inline uint64_t page_words(const struct pmm *p)
{
    return p->cspan / 64;
}

/* Point the owner-local pointers at the current mapping (after build, adopt, set_offset). */
static inline void at_ptrs(struct pmm *p)
{
    p->at.free = (uint64_t *)pmm_va(p, p->free_phys);
    p->at.ownw = (uint64_t *)pmm_va(p, p->ownw_phys);
    p->at.marks = (uint64_t *)pmm_va(p, p->marks_phys);
    p->at.homeg = (uint64_t *)pmm_va(p, p->homeg_phys);
    p->at.refs = (uint16_t *)pmm_va(p, p->refs_phys);
    p->at.count = (uint16_t *)pmm_va(p, p->count_phys);
    p->at.own = (uint8_t *)pmm_va(p, p->own_phys);
    p->at.node = (uint8_t *)pmm_va(p, p->node_phys);
    p->at.sectab = (uint32_t *)pmm_va(p, p->sec_phys);
    p->at.cache = (struct pmm_cache *)pmm_va(p, p->cache_phys);
}

/* The compact index of page pfn, which a present section holds (a cached page, say). */
static inline uint64_t cidx_present(const struct pmm *p, uint64_t pfn)
{
    return ((uint64_t)p->at.sectab[pfn >> PMM_SEC_SHIFT] << PMM_SEC_SHIFT) |
           (pfn & (PMM_SEC_PAGES - 1));
}

/* The compact index of page pfn, or PMM_NONE if no present section holds it. */
static inline uint64_t cidx(const struct pmm *p, uint64_t pfn)
{
    if (pfn >= p->span || p->at.sectab[pfn >> PMM_SEC_SHIFT] == PMM_SEC_ABSENT)
        return PMM_NONE;
    return cidx_present(p, pfn);
}

/* The page frame of compact index c (c < cspan). */
static inline uint64_t cpfn(const struct pmm *p, uint64_t c)
{
    return ((uint64_t)pmm_slots(p)[c >> PMM_SEC_SHIFT] << PMM_SEC_SHIFT) |
           (c & (PMM_SEC_PAGES - 1));
}

/* Compact indices c and c + 1 hold physically adjacent pages (always, inside a slot). */
static inline bool c_adjacent(const struct pmm *p, uint64_t c)
{
    if (((c + 1) & (PMM_SEC_PAGES - 1)) || c + 1 >= p->cspan)
        return 1;
    const uint32_t *sl = pmm_slots(p);
    return sl[(c + 1) >> PMM_SEC_SHIFT] == sl[c >> PMM_SEC_SHIFT] + 1;
}

/* Population count without libgcc (the loader and kernel link none) or a POPCNT requirement. */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
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

/*
 * Shared words are always read and written with atomics, relaxed where nothing is ordered by
 * them: on x86 the same plain moves, but the compiler may neither tear nor cache them, and
 * ThreadSanitizer sees the protocol. Read-modify-writes are atomic only when p->concurrent says
 * other CPUs may be at work; otherwise a load and a store do (the *_x helpers in pool.h).
 */
static inline uint64_t ld64(const uint64_t *w)
{
    return __atomic_load_n(w, __ATOMIC_RELAXED);
}
static inline void st64(uint64_t *w, uint64_t v)
{
    __atomic_store_n(w, v, __ATOMIC_RELAXED);
}
static inline uint16_t ld16(const uint16_t *r)
{
    return __atomic_load_n(r, __ATOMIC_RELAXED);
}
static inline void st16(uint16_t *r, uint16_t v)
{
    __atomic_store_n(r, v, __ATOMIC_RELAXED);
}
static inline uint8_t ld8(const uint8_t *b)
{
    return __atomic_load_n(b, __ATOMIC_RELAXED);
}
static inline void st8(uint8_t *b, uint8_t v)
{
    __atomic_store_n(b, v, __ATOMIC_RELAXED);
}
static inline uint32_t ld32(const uint32_t *w)
{
    return __atomic_load_n(w, __ATOMIC_RELAXED);
}
/* A block's own state, acquired: its words, written before it became ALL or SOME, are visible. */
static inline unsigned own_of(const struct pmm *p, uint64_t b)
{
    return __atomic_load_n(&p->at.own[b], __ATOMIC_ACQUIRE);
}

/* The first block single pages may come from (the one holding 1 MiB: claims skip what is below). */
static inline uint64_t blk_low(const struct pmm *p)
{
    return p->c_low >> PMM_BLOCK_SHIFT;
}

/* lib.c: the few memory helpers a freestanding library needs. */
void pmm_memset(void *dst, int c, uint64_t n);
void pmm_memcpy(void *dst, const void *src, uint64_t n);

/*
 * The next present piece of physical pages [*from, to) below span: returns its length (0 when
 * there is none) with its compact start in *c, and moves *from past it. Pieces end at section
 * boundaries.
 */
static inline uint64_t c_seg(const struct pmm *p, uint64_t *from, uint64_t to, uint64_t *c)
{
    if (to > p->span) /* the last section's pages past span have metadata but are never ours */
        to = p->span;
    while (*from < to) {
        uint64_t sec = *from >> PMM_SEC_SHIFT;
        if (sec >= p->nsec)
            return 0;
        uint64_t e = (sec + 1) << PMM_SEC_SHIFT, f = *from;
        if (e > to)
            e = to;
        *from = e;
        uint32_t s = p->at.sectab[sec];
        if (s != PMM_SEC_ABSENT) {
            *c = ((uint64_t)s << PMM_SEC_SHIFT) | (f & (PMM_SEC_PAGES - 1));
            return e - f;
        }
    }
    return 0;
}

/* sections.c: compact indices for physical bounds, and contiguity of compact runs */
uint64_t c_ceil(const struct pmm *p, uint64_t pfn);
/* The same with the section table and slots given (adopt reads them through its own mapping). */
uint64_t c_ceil_at(const struct pmm *p, const uint32_t *sec, const uint32_t *sl, uint64_t pfn);
uint64_t c_break(const struct pmm *p, uint64_t c, uint64_t n);
uint64_t c_align(const struct pmm *p, uint64_t c, uint64_t apages);
uint64_t c_usable(const struct pmm *p, const struct pmm_range *r, uint64_t n);

/* memmap.c */
uint64_t map_count(const struct pmm_map *map);
int map_parse(const struct pmm_map *map, void *events, struct pmm_range *out, uint64_t cap,
              uint64_t *n, struct pmm_map_error *err);
uint64_t map_events_size(uint64_t ndesc);

/* build.c: words per summary level for nbits bits; 0 if more than PMM_LEVELS levels. */
int sum_geometry(uint64_t nbits, uint64_t nwords[PMM_LEVELS], uint32_t *nlevels);

/*
 * reconcile.c: call fn on consecutive segments tiling [0, span), each with the range of r that
 * holds it (NULL for a hole) and, where an old table is given, the kind it had there (WAS_HOLE if
 * none); without one, was is WAS_ANY.
 */
#define WAS_HOLE (-1)
#define WAS_ANY  (-2)
typedef void (*segment_fn)(uint64_t from, uint64_t to, const struct pmm_range *r, int was,
                           void *arg);
void walk_segments(const struct pmm *p, const struct pmm_range *r, uint64_t n,
                   const struct pmm_range *old, uint64_t nold, segment_fn fn, void *arg);

#endif
