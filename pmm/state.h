/*
 * state.h - the allocator's state and the invariants every pmm/ file keeps.
 *
 * OVERVIEW
 *
 * The allocator manages the usable RAM among page frames [0, span), where span is one past the
 * highest usable RAM page (conventional, boot-services or loader memory); reserved ranges far above
 * RAM do not stretch it. Physical memory is cut into sections of 2^15 pages (128 MiB, as Linux's
 * sparsemem); only sections that hold usable RAM are present, and only present sections have
 * per-page metadata. A hole costs one 4-byte section-table entry, whatever its size: a 1 TiB guest
 * whose RAM above 2 GiB sits at [1 TiB, 2 TiB), or 1 GiB at 16 TiB, pays nothing for the space
 * below it.
 *
 * Present sections are numbered in physical order (slots), and every per-page structure is
 * indexed by the compact index c = slot * 2^15 + (pfn mod 2^15), so a page's metadata is found with
 * one table load. c and pfn agree modulo 2^15, so alignments up to 128 MiB are the same in both;
 * compact neighbours across a slot boundary are physical neighbours only if their sections are
 * (runs check this). All structures live in one run of metadata pages carved out of conventional
 * memory:
 *
 *   +--------+--------+---------+-------+----------+-----------+-------+-------+
 *   | header | ranges | section | slots | free map | free      | block | owned |
 *   | +stack |        | table   |       | 1 bit/pg | summaries | map   | 1b/pg |
 *   +--------+--------+---------+-------+----------+-----------+-------+-------+
 *   self_phys  per section | per slot | per compact page ............. 1b/2MiB
 *   +-------+--------+--------+----------+
 *   | refs  | shared | block  | CPU      |
 *   | init  |        | states | caches   |
 *   +-------+--------+--------+----------+
 *   1b/2048pg 1b/64pg 1B/2MiB  512B/CPU
 *   +--------------------------------------------------------------------------------------+
 *   | reference counts, 16 bits per compact page (page aligned, zeroed a page at a time on use)|
 *   +--------------------------------------------------------------------------------------+
 *
 *  - section table: one uint32 per section of [0, span): its slot, or PMM_SEC_ABSENT. Slots: one
 *    uint32 per present section, its section number, strictly increasing.
 *  - owned map: bit set = the page is in the pool (free or handed out). Page 0, metadata, memory
 *    not yet reconciled and everything that is not usable RAM are clear.
 *  - free map: bit set = the page is free in the shared pool. The source of truth: free implies
 *    owned. A page that is owned and not free is either allocated or on a per-CPU cache, and its
 *    stored count says which (PMM_REF_CACHED).
 *  - free summary: level k+1 has one bit per word of level k, set when that word is non-zero, up to
 *    a single top word. Finding the next free page from any point costs O(levels), not O(span).
 *  - block map: one bit per 2 MiB block (512 pages, 8 free-map words), with its own summary
 *    levels, so 2 MiB-aligned runs are found without reading every page. One-sided: a block that
 *    is entirely free always has its bit set; a set bit may be stale (allocation does not clear
 *    it, which keeps the single-page path free of block upkeep). The run search confirms a
 *    candidate in the free map, one cache line per block, and clears stale bits it meets.
 *  - free-page stack (in the header page): up to PMM_STACK_CAP free pages (compact indices) for
 *    O(1) single-page alloc and free. Every page on it is free in the free map; a free page need
 *    not be on it. It is refilled lazily from the free map, a batch at a time, so building never
 *    visits every page. Every stacked page's counts page is initialised (refill sees to it; a
 *    freed page was handed out before), so a pop writes no counts. Runs that take a stacked page
 *    evict it (stack_lo/stack_hi bound the pages on it).
 *  - block states: one byte per 2 MiB block (blocks.c). PMM_BLK_NORMAL: the per-page maps and
 *    counts are the whole truth. PMM_BLK_WHOLE: handed out as one block after reconcile and not
 *    touched page by page since: every page owned, out of the free map, count 0, its eight
 *    shared-map bits clear. PMM_BLK_STACKED: free, on the free-block stack, and out of the pool:
 *    the maps and counts read as for WHOLE, but the state byte says free. Only the lock holder
 *    reads or writes them; whatever changes a page of a WHOLE block (freeing it, sharing it,
 *    caching it) makes the block NORMAL first. Both non-normal states lie at or above the zone
 *    unbounded runs come from first (blk_first_zone).
 *  - free-block stack (in the header page): the PMM_BLK_STACKED blocks, each once, as physical
 *    2 MiB frames (bstack) beside their compact numbers (bblk), the top frame also in bfront, for
 *    O(1) one-block runs: a pop makes the block WHOLE, a free of a WHOLE block stacks it again,
 *    and neither touches a page's metadata. The pool takes the stack back (blk_flush) before
 *    it would go without: before single pages or runs come from below the zone the blocks are
 *    in, when a run finds no room otherwise, and before pmm_keep_range.
 *  - reference counts: one uint16_t per page holding count - 1 for an allocated page (at most
 *    PMM_REF_MAX - 1), PMM_REF_CACHED for a page on a per-CPU cache and 0 for a free one, so a
 *    page or a run is handed out without writing its counts, and a run is freed after reading
 *    them a word at a time. The array is never written at build: a page of counts (2048 pages'
 *    worth) is zeroed the first time a page it describes is handed out, and its bit in the
 *    refs-init map is set. Invariant: a page whose counts page is not initialised was never
 *    handed out; in an initialised page, every free page's count is 0.
 *  - shared map: bit g is set whenever one of pages [64g, 64g + 64) has a non-zero stored count
 *    (more than one reference, or PMM_REF_CACHED). One-sided: a set bit may be stale. Freeing a
 *    run reads these bits, one word per 4096 pages, and the counts only of marked groups; the
 *    fast-path free reads the page's bit instead of taking the lock to set it. Bits are set under
 *    the lock (ref_inc to two references, a page entering a cache) and cleared only where a run is
 *    handed out, for the groups wholly inside it: all 64 pages were free, so all counts are 0 and
 *    no CPU can be putting one of them on its cache.
 *  - per-CPU caches (pmm.h "Many CPUs"): up to PMM_CPU_CACHE pages per CPU for the lock-free
 *    single-page path. A cached page is free but out of the shared pool: owned, clear in the free
 *    map, stored count PMM_REF_CACHED, its shared-map bit set, its counts page initialised, at or
 *    above 1 MiB, and on exactly one cache (so never on the free-page stack, whose pages are in
 *    the free map). Taking it off the cache writes its count to 0 (one reference); putting an
 *    allocated page on it writes PMM_REF_CACHED: the count is the only shared word the fast path
 *    writes, and the page's own. Pages move between a cache and the pool in batches, under the
 *    lock.
 *  - range table: the classified memory map (sorted, non-overlapping), for checks and stats.
 *
 * Counters: nfree = popcount(free map), nalloc = popcount(owned & ~free) (cached pages and stacked
 * blocks included: neither the fast path nor the block stack changes a counter; statistics move
 * them from alloc to free), total = usable pages in present sections. Usable pages the final map
 * shows outside present sections (memory the build never saw) are counted in `unmanaged` and
 * reported, not lost silently. pmm_check() verifies all of the above.
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
 *  3. Kernel: pmm_adopt() validates the header and takes it in place; pmm_set_offset() moves it to
 *     the kernel's own direct map. Pages allocated in phase 1 (kernel image, stack, handoff block)
 *     stay allocated throughout. The per-CPU caches come into use here (empty until reconcile,
 *     and they must be empty again before the state goes to another owner): each CPU owns its
 *     cache, the lock holder the rest of the mutable state.
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
#define PMM_VERSION     PMM_ABI_VERSION
#define PMM_LEVELS      8            /* summary levels: 64^7 pages is far past 2^52 */
#define PMM_STACK_CAP   352          /* header + stacks fit one page */
#define PMM_BSTACK_CAP  32           /* free-block stack: 64 MiB of 2 MiB blocks */
#define PMM_REFILL      192          /* pages pulled from the free map per refill */
#define PMM_BLOCK_SHIFT 9            /* 512 pages = 2 MiB per block */
#define PMM_LOW_PFN     256          /* below 1 MiB: only for requests bounded there */
#define PMM_HIGH_PFN    (1ull << 20) /* 4 GiB: single pages come from above here first */
#define PMM_NONE        (~0ull)
#define PMM_SEC_SHIFT   15 /* 2^15 pages = 128 MiB per section */
#define PMM_SEC_PAGES   (1ull << PMM_SEC_SHIFT)
#define PMM_SEC_ABSENT  0xffffffffu
#define PMM_RINIT_SHIFT 11      /* 2048 reference counts fill one page */
#define PMM_REF_CACHED  0xffffu /* stored count of a page on a per-CPU cache (state.h) */
#define PMM_BLK_NORMAL  0       /* block states (one byte per 2 MiB block): see the overview */
#define PMM_BLK_WHOLE   1
#define PMM_BLK_STACKED 2

/*
 * One CPU's page cache (pmm.h "Many CPUs"). Only its CPU writes it, but for pmm_cpu_drain on a
 * CPU that is offline and the lock holder's drain of a cache whose CPU asked it to; others read n
 * (statistics) and write drain_req. 512 bytes, so no two CPUs' caches share a cache line.
 */
struct pmm_pcpu {
    uint64_t n;         /* pages on page[], the newest last */
    uint32_t drain_req; /* set by a CPU the pool could not serve: drain at the next call */
    uint32_t pad;
    uint64_t page[PMM_CPU_CACHE]; /* page frame numbers (not compact: the fast path returns them) */
};
_Static_assert(sizeof(struct pmm_pcpu) == 512, "a cache is eight whole cache lines");

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
    uint64_t nsec;       /* sections of [0, span): entries in the section table */
    uint64_t nslots;     /* present sections */
    uint64_t cspan;      /* compact pages: nslots << PMM_SEC_SHIFT */
    uint64_t sec_phys;   /* section table: uint32 slot per section, or PMM_SEC_ABSENT */
    uint64_t slots_phys; /* uint32 section number per slot, strictly increasing */
    struct pmm_hbits freemap;
    struct pmm_hbits blkmap;
    uint64_t own_phys;
    uint64_t rinit_phys;  /* one bit per page of reference counts: zeroed yet */
    uint64_t shared_phys; /* one bit per 64 pages: one of them has more than one reference */
    uint64_t refs_phys;
    uint64_t bst_phys; /* one byte per 2 MiB block: PMM_BLK_* */
    uint64_t ranges_phys, nranges, range_cap;
    uint64_t pcpu_phys; /* per-CPU caches: ncpus struct pmm_pcpu */
    uint32_t ncpus;     /* caches in the layout, fixed at build */
    uint32_t cpus_live; /* ncpus once reconciled (caches in use), 0 before */
    uint64_t c_low;     /* compact index of the first page at or above 1 MiB */
    uint64_t c_high;    /* ... at or above 4 GiB (cspan if none) */
    /*
     * Owner-local: where the per-page arrays are in the current mapping (*_phys + off), so that
     * reaching one adds no offset (the accessors below read these). Derived, never trusted:
     * build, adopt and set_offset write them from the checked *_phys fields.
     */
    struct {
        uint64_t *own, *free;
        uint64_t *shared;
        uint16_t *refs;
        uint8_t *bst;
        uint32_t *sectab;
        struct pmm_pcpu *pcpu;
    } fast;

    /* Everything above is read-mostly (the fast path reads it); below, lock holders write. */
    _Alignas(64) uint64_t nfree;
    uint64_t nalloc, total;
    uint64_t unmanaged; /* usable pages in the final map outside present sections */
    uint64_t dropped;   /* pages the firmware took behind our back during the boot phase */
    uint64_t cursor;    /* where the next stack refill starts looking (compact) */
    uint32_t reconciled;
    uint32_t boot_held;          /* boot memory withheld until pmm_release_boot */
    uint32_t top;                /* entries on the stack */
    uint32_t reclaimers;         /* CPUs that asked the others to drain and have yet to retry */
    uint64_t stack_lo, stack_hi; /* every stacked page lies in [stack_lo, stack_hi] (compact) */

    /* Owner-local: cleared by pmm_adopt and (fw) by pmm_reconcile. */
    struct pmm_firmware fw;
    void (*lock)(void *);
    void (*unlock)(void *);
    void *lock_ctx;
    uint32_t (*cpu_self)(void *); /* pmm_set_cpu_self: the calling CPU's index, or none */
    void *cpu_ctx;

    uint64_t stack[PMM_STACK_CAP];
    uint32_t btop; /* entries on the free-block stack */
    uint32_t pad2;
    uint64_t bfront; /* bstack[btop - 1], or 0 if empty: a pop's answer without reading btop */
    uint64_t bstack[PMM_BSTACK_CAP]; /* PMM_BLK_STACKED blocks: 2 MiB frames (phys >> 21) */
    uint64_t bblk[PMM_BSTACK_CAP];   /* ... and the same blocks' compact numbers (page / 512) */
};

_Static_assert(sizeof(struct pmm) <= PMM_PAGE_SIZE, "header and stacks must fit one page");

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
/* The arrays every page operation reaches, through the fast-path pointers (fast_ptrs). */
static inline uint64_t *pmm_free_l0(const struct pmm *p)
{
    return p->fast.free;
}
static inline uint64_t *pmm_own(const struct pmm *p)
{
    return p->fast.own;
}
static inline uint16_t *pmm_refs(const struct pmm *p)
{
    return p->fast.refs;
}
static inline uint8_t *pmm_bst(const struct pmm *p)
{
    return p->fast.bst;
}
static inline struct pmm_range *pmm_rtab(const struct pmm *p)
{
    return (struct pmm_range *)pmm_va(p, p->ranges_phys);
}
static inline uint32_t *pmm_sectab(const struct pmm *p)
{
    return p->fast.sectab;
}
static inline uint32_t *pmm_slots(const struct pmm *p)
{
    return (uint32_t *)pmm_va(p, p->slots_phys);
}
static inline uint64_t *pmm_rinit(const struct pmm *p)
{
    return (uint64_t *)pmm_va(p, p->rinit_phys);
}
static inline uint64_t *pmm_shared(const struct pmm *p)
{
    return p->fast.shared;
}
static inline struct pmm_pcpu *pmm_pcpu(const struct pmm *p, uint64_t cpu)
{
    return p->fast.pcpu + cpu;
}
static inline uint64_t shared_words(const struct pmm *p)
{
    return p->cspan ? (p->cspan / 64 + 63) / 64 : 1;
}
static inline uint64_t rinit_words(const struct pmm *p)
{
    uint64_t pages = (p->cspan + (1ull << PMM_RINIT_SHIFT) - 1) >> PMM_RINIT_SHIFT;
    return pages ? (pages + 63) / 64 : 1;
}

/* Point the fast path's pointers at the current mapping (after build, adopt, set_offset). */
static inline void fast_ptrs(struct pmm *p)
{
    p->fast.own = (uint64_t *)pmm_va(p, p->own_phys);
    p->fast.free = (uint64_t *)pmm_va(p, p->freemap.phys[0]);
    p->fast.shared = (uint64_t *)pmm_va(p, p->shared_phys);
    p->fast.refs = (uint16_t *)pmm_va(p, p->refs_phys);
    p->fast.bst = (uint8_t *)pmm_va(p, p->bst_phys);
    p->fast.sectab = (uint32_t *)pmm_va(p, p->sec_phys);
    p->fast.pcpu = (struct pmm_pcpu *)pmm_va(p, p->pcpu_phys);
}

/* The compact index of page pfn, which a present section holds (a cached page, say). */
static inline uint64_t cidx_present(const struct pmm *p, uint64_t pfn)
{
    return ((uint64_t)pmm_sectab(p)[pfn >> PMM_SEC_SHIFT] << PMM_SEC_SHIFT) |
           (pfn & (PMM_SEC_PAGES - 1));
}

/* The compact index of page pfn, or PMM_NONE if no present section holds it. */
static inline uint64_t cidx(const struct pmm *p, uint64_t pfn)
{
    if (pfn >= p->span || pmm_sectab(p)[pfn >> PMM_SEC_SHIFT] == PMM_SEC_ABSENT)
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
static inline int c_adjacent(const struct pmm *p, uint64_t c)
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

static inline int bit_test(const uint64_t *w, uint64_t i)
{
    return (int)((w[i >> 6] >> (i & 63)) & 1);
}
static inline uint64_t bit_mask(uint64_t i)
{
    return 1ull << (i & 63);
}

/*
 * Words the fast path reads without the lock (free map, owned map, shared map, counts, a cache's
 * count) are read and written with relaxed atomics: on x86 the same plain moves, but the compiler
 * may neither tear nor cache them, and ThreadSanitizer sees the protocol. Ordering comes from the
 * lock and from the caller's own synchronisation of a page it hands between CPUs.
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
/*
 * A reference count's compare-and-swap orders like any reference count: what a holder did with
 * the page happens before its release is seen, and the holder that frees the page (under the lock,
 * which orders it before the next owner) has seen every earlier holder's release.
 */
static inline int cas16(uint16_t *r, uint16_t old, uint16_t new)
{
    return __atomic_compare_exchange_n(r, &old, new, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
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
void hb_rebuild_above(const struct pmm *p, const struct pmm_hbits *h, uint32_t from_level);
void hb_propagate(const struct pmm *p, const struct pmm_hbits *h, uint64_t wi);
void hb_propagate_from(const struct pmm *p, const struct pmm_hbits *h, uint32_t k, uint64_t wi);
uint64_t hb_next_set(const struct pmm *p, const struct pmm_hbits *h, uint64_t from, uint64_t limit);
uint64_t bits_next_clear(const uint64_t *w, uint64_t from, uint64_t limit);
uint64_t bits_next_set(const uint64_t *w, uint64_t from, uint64_t limit);
void bits_fill(uint64_t *w, uint64_t from, uint64_t to, int value);
uint64_t bits_count(const uint64_t *w, uint64_t from, uint64_t to);
void blk_note_full(const struct pmm *p, uint64_t block); /* block bit is clear: set if full */
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
        uint32_t s = pmm_sectab(p)[sec];
        if (s != PMM_SEC_ABSENT) {
            *c = ((uint64_t)s << PMM_SEC_SHIFT) | (f & (PMM_SEC_PAGES - 1));
            return e - f;
        }
    }
    return 0;
}

/* sections.c: compact indices for physical bounds, and contiguity of compact runs */
uint64_t c_ceil(const struct pmm *p, uint64_t pfn);
uint64_t c_break(const struct pmm *p, uint64_t c, uint64_t n);
uint64_t c_align(const struct pmm *p, uint64_t c, uint64_t apages);
uint64_t c_usable(const struct pmm *p, const struct pmm_range *r, uint64_t n);

/* memmap.c */
uint64_t map_count(const struct pmm_map *map);
int map_parse(const struct pmm_map *map, void *events, struct pmm_range *out, uint64_t cap,
              uint64_t *n, struct pmm_map_error *err);
uint64_t map_events_size(uint64_t ndesc);

/* alloc.c */
int pool_take1(struct pmm *p, uint64_t *c);
void pool_give1(struct pmm *p, uint64_t c);
void shared_mark(struct pmm *p, uint64_t c);
int sole_owner(const struct pmm *p, uint64_t c);
void stack_evict(struct pmm *p, uint64_t start, uint64_t n);
void pool_drop(struct pmm *p, uint64_t c, uint64_t n);
void refs_ready(struct pmm *p, uint64_t c, uint64_t n);

/* blocks.c: the free-block stack (its O(1) halves are in blocks.h) */
uint64_t blk_first_zone(const struct pmm *p);
void blk_flush(struct pmm *p);
void blk_taken(struct pmm *p, uint64_t c, uint64_t n);
void blk_touched(struct pmm *p, uint64_t c, uint64_t n);
uint64_t blk_stacked_in(const struct pmm *p, uint64_t c, uint64_t n);
int blk_flush_in(struct pmm *p, uint64_t lo, uint64_t hi);

/*
 * percpu.c: give back self's cache and ask every other CPU whose cache holds pages to drain it,
 * and wait for them (pmm.h "Many CPUs"); self PMM_NONE: pmm_set_cpu_self's answer. 0 if nothing
 * came back, so that retrying cannot help; 1 if it did: the caller retries (at most
 * PMM_RECLAIM_ROUNDS times) and then calls reclaim_done. Until then reclaimers counts it, and
 * every cache refills a page at a time, so that the pages it freed up are there for its retry.
 */
#define PMM_RECLAIM_ROUNDS 3
int caches_reclaim(struct pmm *p, uint64_t self);
/* After the retry that a caches_reclaim returning 1 allowed: the caller no longer waits. */
void reclaim_done(struct pmm *p);

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
