/*
 * pmm.h - public interface of the uefi-pmm physical page allocator.
 *
 * One allocator, three owners: the UEFI loader builds it from the firmware's memory map, the kernel
 * adopts it in place after ExitBootServices, and host tools drive the same code over simulated
 * memory. See pmm/pmm.c for the structures and their invariants.
 *
 * Conventions:
 *  - Addresses are physical, in bytes; pages are 4 KiB. A "run" is a physically contiguous range.
 *  - Every function that can fail returns 0 or a negative PMM_E* code, and a failed call changes
 *    nothing observable in the allocator: no page's state, count or place in the free-page
 *    stack. (A failed run search may drop 2 MiB-block hints it found stale; they are hints,
 *    state.h.)
 *  - A struct pmm * is the allocator state as seen through the caller's current mapping; it is only
 *    valid until the owner changes the mapping (pmm_set_offset returns the new one).
 *
 * Freestanding: fixed-width types only, no libc.
 */
#ifndef PMM_H
#define PMM_H

#include <stddef.h>
#include <stdint.h>

#define PMM_PAGE_SHIFT 12
#define PMM_PAGE_SIZE  4096ull

/* Error codes. pmm_strerror() names each one. */
enum {
    PMM_OK = 0,
    PMM_ENOMEM = -1,     /* no free run satisfies the request right now */
    PMM_EINVAL = -2,     /* bad argument: zero count, unaligned address, alignment not 2^n */
    PMM_ERANGE = -3,     /* request can never be met: run larger than the memory it may use */
    PMM_EDOUBLE = -4,    /* free or ref of a page that is already free (double free) */
    PMM_ENOTOWNED = -5,  /* page is not the allocator's: reserved, MMIO, metadata, hole, range */
    PMM_ESHARED = -6,    /* free of a page whose reference count is above 1 */
    PMM_EOVERFLOW = -7,  /* reference count would overflow */
    PMM_EMAP = -8,       /* malformed memory map (see struct pmm_map_error) */
    PMM_ESTATE = -9,     /* not an allocator state, or one of another version */
    PMM_ECONFLICT = -10, /* final map takes back memory the allocator handed out or uses */
    PMM_ECHECK = -11,    /* consistency check failed (see struct pmm_check_fail) */
    PMM_EBUSY = -12,     /* page is free on another CPU's cache: that CPU must drain it first */
};

const char *pmm_strerror(int err);

/*
 * Memory map intake.
 *
 * A map is the buffer GetMemoryMap filled: descriptors of desc_size bytes each (the firmware's
 * DescriptorSize, which may exceed the spec's 40-byte struct), map_size bytes in all.
 */
struct pmm_map {
    const void *desc;
    uint64_t map_size;
    uint64_t desc_size;
};

/* The EFI memory descriptor as the UEFI spec lays it out (version 1, 40 bytes). */
struct pmm_efi_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys_start;
    uint64_t virt_start;
    uint64_t npages;
    uint64_t attr;
};

/* EFI memory types (EFI_MEMORY_TYPE) and the attribute bits intake looks at. */
enum {
    PMM_EFI_RESERVED = 0,
    PMM_EFI_LOADER_CODE = 1,
    PMM_EFI_LOADER_DATA = 2,
    PMM_EFI_BOOT_CODE = 3,
    PMM_EFI_BOOT_DATA = 4,
    PMM_EFI_RUNTIME_CODE = 5,
    PMM_EFI_RUNTIME_DATA = 6,
    PMM_EFI_CONVENTIONAL = 7,
    PMM_EFI_UNUSABLE = 8,
    PMM_EFI_ACPI_RECLAIM = 9,
    PMM_EFI_ACPI_NVS = 10,
    PMM_EFI_MMIO = 11,
    PMM_EFI_MMIO_PORT = 12,
    PMM_EFI_PAL_CODE = 13,
    PMM_EFI_PERSISTENT = 14,
    PMM_EFI_UNACCEPTED = 15,
    PMM_EFI_NTYPES = 16,
};
#define PMM_EFI_ATTR_SP      0x0000000000040000ull /* EFI_MEMORY_SP: specific-purpose memory */
#define PMM_EFI_ATTR_RUNTIME 0x8000000000000000ull /* EFI_MEMORY_RUNTIME */

/*
 * What the allocator may do with a range, most permissive first. Where descriptors overlap, the
 * later (more restrictive) kind wins.
 */
enum pmm_kind {
    PMM_KIND_FREE = 0,  /* EfiConventionalMemory: free now */
    PMM_KIND_BOOT = 1,  /* boot-services and loader code/data: free after ExitBootServices */
    PMM_KIND_NEVER = 2, /* everything else: never handed out */
    PMM_NKINDS = 3,
};

/* Classify one descriptor. Exposed so front ends print the same verdict the allocator acts on. */
enum pmm_kind pmm_classify(uint32_t type, uint64_t attr);

/* A classified range of whole pages: [start, start + npages) in page frame numbers. */
struct pmm_range {
    uint64_t start;
    uint64_t npages;
    uint32_t kind; /* enum pmm_kind */
    uint32_t type; /* EFI type that decided the kind (>= PMM_EFI_NTYPES: OEM/OS-defined) */
};

/* Where and why a map was rejected. */
struct pmm_map_error {
    int64_t index; /* descriptor index, or -1 for the map as a whole */
    const char *why;
};

/* Bytes of scratch memory pmm_map_ranges needs for this map. */
uint64_t pmm_map_scratch_size(const struct pmm_map *map);

/*
 * Turn a firmware map into sorted, non-overlapping, page-aligned ranges. Usable bounds that are not
 * page aligned shrink inward, other kinds grow outward; zero-length descriptors are dropped;
 * adjacent ranges of the same kind and type merge. Fails with PMM_EMAP (and *err filled) on a
 * descriptor that wraps past 2^64, a desc_size below 40, or a map_size that is not a multiple of
 * desc_size; with PMM_ERANGE if out[] holds fewer than the result needs.
 */
int pmm_map_ranges(const struct pmm_map *map, void *scratch, uint64_t scratch_size,
                   struct pmm_range *out, uint64_t cap, uint64_t *n, struct pmm_map_error *err);

/*
 * Building, reconciling, adopting.
 */
struct pmm;

/* The version of the state's layout: pmm_adopt takes only states of this one. (Only a test kernel
 * defines it otherwise: build/esp-oldkernel.img.) */
#ifndef PMM_ABI_VERSION
#define PMM_ABI_VERSION 5u
#endif

/*
 * The owner's hooks while boot services are alive. claim() must take [phys, phys + npages*4K) from
 * the firmware (AllocatePages at that address, as EfiLoaderData) and return 0, or non-zero if the
 * firmware no longer has those pages free. release() gives claimed pages back. Both NULL on the
 * host, where memory is already the caller's.
 */
struct pmm_firmware {
    int (*claim)(void *ctx, uint64_t phys, uint64_t npages);
    void (*release)(void *ctx, uint64_t phys, uint64_t npages);
    void *ctx;
};

struct pmm_build {
    struct pmm_map map; /* the firmware's map at build time */
    void *scratch;      /* pmm_map_scratch_size(&map) bytes, the caller's */
    uint64_t scratch_size;
    uint64_t virt_offset;       /* virtual = physical + virt_offset for the builder */
    struct pmm_firmware fw;     /* boot-phase hooks, see above */
    uint64_t extra_descriptors; /* room for a final map this many descriptors longer */
    uint32_t max_cpus;          /* per-CPU page caches to reserve (0: none), see "Many CPUs" */
    uint32_t pad;
};

/*
 * Build an allocator from b->map. Metadata (state, bitmaps, refcounts) goes into one run of
 * conventional memory the library picks and claims; all other conventional memory becomes free.
 * Memory that is free only after ExitBootServices joins at pmm_reconcile. On success *out is the
 * state in the builder's mapping. Cost is linear in the bitmap's bytes, not in pages.
 */
int pmm_build(const struct pmm_build *b, struct pmm **out, struct pmm_map_error *err);

/*
 * After ExitBootServices: take the final map. Boot-services and loader memory that the allocator
 * neither handed out nor uses for metadata becomes free; free pages the final map no longer shows
 * as usable leave the pool. Fails with PMM_ECONFLICT, changing nothing, if the final map takes an
 * allocated or metadata page. Drops the firmware hooks: from here on the state is self-contained.
 *
 * With PMM_HOLD_BOOT_MEMORY, that boot-services and loader memory stays withheld instead, until
 * pmm_release_boot(): some firmware still touches boot-services memory during
 * SetVirtualAddressMap, so a kernel may want it back only after that call.
 */
#define PMM_HOLD_BOOT_MEMORY 1u
int pmm_reconcile(struct pmm *p, const struct pmm_map *final, void *scratch, uint64_t scratch_size,
                  unsigned flags, struct pmm_map_error *err);

/*
 * Give the boot memory held back by PMM_HOLD_BOOT_MEMORY to the pool, free. *released (may be
 * NULL) gets the page count; 0 pages if nothing was held.
 */
int pmm_release_boot(struct pmm *p, uint64_t *released);

/*
 * After pmm_reconcile: make pages [phys, phys + npages * 4K) that the final map shows as usable
 * allocated (reference count 1), whether they are free in the pool or held back, for what the
 * firmware left there that the kernel still needs (configuration tables in boot-services memory);
 * the kernel frees them when it is done. Pages already allocated stay as they are (two tables may
 * share a page). PMM_ENOTOWNED, changing nothing, if a page is not usable RAM, metadata or page 0;
 * PMM_EBUSY if one is on a per-CPU cache;
 * PMM_ESTATE before reconcile. *taken (may be NULL) gets the pages newly allocated.
 */
int pmm_keep_range(struct pmm *p, uint64_t phys, uint64_t npages, uint64_t *taken);

/*
 * A new owner takes the state at physical address state_phys, reachable at state_phys +
 * virt_offset. O(1) plus O(sections): validates the header and the section table (4 bytes per
 * 128 MiB of address space) and resets owner-local hooks (lock, firmware). Returns
 * NULL and sets *err (PMM_ESTATE) if the header is not a reconciled allocator state, or if any
 * field the allocator computes addresses from could take it outside its metadata run or past its
 * span (see pmm/build.c); a refused state is not written to. pmm_adopt_why also says which field:
 * *why (may be NULL) gets its name and the problem, e.g. {"refs_phys", "not inside the metadata
 * run"}. Adoption does not read the bitmaps' contents: pmm_check() does, in O(RAM pages / 64).
 */
struct pmm_adopt_error {
    const char *field; /* the header field refused, as named in struct pmm (pmm/state.h) */
    const char *why;   /* what is wrong with it */
};
struct pmm *pmm_adopt(uint64_t state_phys, uint64_t virt_offset, int *err);
struct pmm *pmm_adopt_why(uint64_t state_phys, uint64_t virt_offset, int *err,
                          struct pmm_adopt_error *why);

/*
 * The owner is about to reach memory at physical + virt_offset. Call it through the mapping in
 * force, immediately before switching to the new one (no pmm call in between): it writes the new
 * offset into the state and returns the state's address under the new mapping.
 */
struct pmm *pmm_set_offset(struct pmm *p, uint64_t virt_offset);

uint64_t pmm_state_phys(const struct pmm *p);
/* Pages of the metadata run, which starts at pmm_state_phys(). */
uint64_t pmm_meta_pages(const struct pmm *p);
uint64_t pmm_virt_offset(const struct pmm *p);

/*
 * Lock hooks: the kernel supplies a spinlock; without one (loader, host) calls are not locked.
 * lock and unlock are both set or both NULL (PMM_EINVAL otherwise); NULL removes the lock.
 *
 * Refused with PMM_ESTATE while the firmware hooks are set, that is before pmm_reconcile drops
 * them: alloc and free call the firmware from inside their critical section, so this refusal is
 * what makes "no firmware callback runs with the allocator's lock held" true. (Boot services run
 * on one CPU and are not reentrant; there is nothing to lock against before ExitBootServices.)
 * pmm_adopt clears the lock: each owner installs its own.
 *
 * Under the lock: every call that changes the state (alloc, free, reconcile's update,
 * release_boot, a reference count becoming or ceasing to be shared; the per-CPU fast path and
 * other reference-count changes need none, see "Many CPUs") and the readers pmm_stats, pmm_summary,
 * pmm_refcount, pmm_page_state, pmm_next_free_range, pmm_next_alloc_range and pmm_check, so that
 * each answer is one consistent snapshot (pmm_check holds it for its whole O(RAM pages / 64) pass).
 * Without it, and safe so: pmm_ranges (the table changes only in pmm_reconcile, which precedes any
 * other user), pmm_state_phys, pmm_meta_pages (fixed at build), and the owner-only calls
 * pmm_virt_offset, pmm_set_offset and pmm_set_lock, made with no other CPU in the allocator. No
 * locked call makes another, so the lock need not be recursive. A panic handler that may have
 * interrupted a holder removes the lock (pmm_set_lock(p, 0, 0, 0)) before it reads.
 */
int pmm_set_lock(struct pmm *p, void (*lock)(void *), void (*unlock)(void *), void *ctx);

/*
 * Allocation. Every page handed out has reference count 1.
 */

/* One page, O(1). Never page 0 and never below 1 MiB. */
int pmm_alloc(struct pmm *p, uint64_t *phys);

/*
 * npages contiguous pages starting at a multiple of align bytes (a power of two; 0 means 4 KiB),
 * ending at or below limit (exclusive byte address; 0 means no limit). The run comes from at or
 * above 1 MiB unless limit <= 1 MiB: low memory is for callers that ask for it (AP start-up code).
 * Within the bounds, from the most plentiful memory first: at and above 4 GiB, then [16 MiB,
 * 4 GiB), then [1 MiB, 16 MiB), first fit in each; so what 32-bit and ISA DMA can reach lasts.
 * O(fragments in the way); a run of whole 2 MiB blocks is found through the block map, and is
 * handed out and freed a word of each map at a time (no per-page work). One unbounded 2 MiB block
 * (npages 512, align at most 2 MiB, no limit below the top of RAM) is O(1): the block freed whole
 * last is handed out again if it is still whole (the free-block stack, pmm/blocks.c).
 */
int pmm_alloc_run(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit, uint64_t *phys);

/* Free one page or a run of pages, each of which must be allocated with reference count 1. */
int pmm_free(struct pmm *p, uint64_t phys);
int pmm_free_run(struct pmm *p, uint64_t phys, uint64_t npages);

/* Share and release. ref_dec frees the page when the count reaches 0. */
#define PMM_REF_MAX 0xffffu
int pmm_ref_inc(struct pmm *p, uint64_t phys);
int pmm_ref_dec(struct pmm *p, uint64_t phys);
/* Reference count of an allocated page (0 with PMM_EDOUBLE or PMM_ENOTOWNED otherwise). */
int pmm_refcount(const struct pmm *p, uint64_t phys, uint32_t *count);

/*
 * Many CPUs.
 *
 * A state built with max_cpus > 0 has that many per-CPU page caches in its metadata, one per CPU
 * index [0, pmm_cpus()). The kernel provides two things: a CPU index, stable while the caller runs
 * (its own numbering, e.g. the position in the handoff block's CPU list), and the lock
 * (pmm_set_lock, a spinlock). The cache of CPU i is used only by code running on CPU i, with
 * preemption and interrupts that could call the allocator off (as any per-CPU data in a kernel).
 *
 * pmm_cpu_alloc and pmm_cpu_free are the fast path: a single page from or to the calling CPU's
 * cache, touching only that cache's lines and the page's reference count (the maps are read,
 * never written); no lock, no atomic read-modify-write. When the cache is empty or full, a batch
 * of PMM_CPU_BATCH pages moves between it and the shared pool under the lock. They keep every
 * check of pmm_alloc and pmm_free: a page on a cache is free, so freeing it again is
 * PMM_EDOUBLE, and a page freed on one CPU may have been allocated on another. Pages below
 * 1 MiB never enter a cache (pmm_cpu_free gives them to the pool).
 *
 * No false out-of-memory: when the pool cannot satisfy a request (these, pmm_alloc,
 * pmm_alloc_run) while other CPUs' caches hold pages, the caller asks those CPUs to drain and
 * waits, with the lock released, for up to PMM_DRAIN_SPINS reads of their answers (milliseconds);
 * a CPU answers at its next pmm_cpu_* call (or while it waits itself). The caller's own cache is
 * drained at once: the pmm_cpu_* calls know their CPU, pmm_alloc and pmm_alloc_run learn it from
 * pmm_set_cpu_self, and without that hook they do not reclaim from caches at all. A CPU
 * that makes no allocator call for that long keeps its pages out of reach of that request: drain
 * before a CPU idles for long or goes offline (pmm_cpu_drain).
 *
 * Everything else takes the lock and may run on any CPU at the same time as the fast path.
 * pmm_ref_inc and pmm_ref_dec change a count with one atomic compare-and-swap; ref_inc on one
 * CPU and ref_dec on another are safe, and overflow and double free are refused with nothing
 * changed. Double frees are caught when the two frees are ordered (one returns before the other
 * starts, as on one CPU or through any synchronisation); two frees of one page racing on two
 * CPUs are a caller bug the fast path, which has no atomic read-modify-write, may not catch.
 * pmm_stats and pmm_summary count cached pages as free (free + alloc stay exact: both use the
 * same cached count); largest, below4g and below16m count the shared pool only. pmm_check needs
 * a quiet moment: no fast-path call on any CPU while it runs. pmm_adopt refuses a state whose
 * caches are not empty: drain every CPU before handing the state on.
 */
#define PMM_CPU_CACHE   62   /* pages one CPU's cache holds */
#define PMM_CPU_BATCH   31   /* pages moved between a cache and the pool at a time */
#define PMM_MAX_CPUS    4096 /* caches a state may have */
#define PMM_DRAIN_SPINS 2000000u

/* Per-CPU caches this state has (0: built without; the pmm_cpu_* calls then fail PMM_EINVAL). */
uint32_t pmm_cpus(const struct pmm *p);

/* One page for CPU cpu, from its cache; O(1). Same guarantees as pmm_alloc. */
int pmm_cpu_alloc(struct pmm *p, uint32_t cpu, uint64_t *phys);

/* Free one page (reference count 1) to CPU cpu's cache; O(1). Same checks as pmm_free. */
int pmm_cpu_free(struct pmm *p, uint32_t cpu, uint64_t phys);

/*
 * Give every page on CPU cpu's cache back to the pool; *drained (may be NULL) gets how many. Made
 * on CPU cpu itself, or for a CPU that makes no allocator call until it is done (offline). A
 * drained cache refills at the CPU's next pmm_cpu_alloc.
 */
int pmm_cpu_drain(struct pmm *p, uint32_t cpu, uint64_t *drained);

/*
 * How pmm_alloc and pmm_alloc_run, which take no CPU index, learn the caller's. When the pool
 * cannot serve them they then give the caller's own cache back at once and ask the others; without
 * it they cannot tell the caller's cache from the others' (asking it would mean waiting for
 * themselves) and do not reclaim. self(ctx) returns the calling CPU's index (>= pmm_cpus(): none).
 * With it installed, pmm_alloc and pmm_alloc_run may change the caller's cache, so like the
 * pmm_cpu_* calls they must not interrupt a pmm_cpu_* call on the same CPU. Owner-local like the
 * lock: pmm_adopt clears it.
 */
int pmm_set_cpu_self(struct pmm *p, uint32_t (*self)(void *ctx), void *ctx);

/* Pages on CPU cpu's cache now (a snapshot; for reports). */
uint64_t pmm_cpu_cached(const struct pmm *p, uint32_t cpu);

/*
 * Inspection.
 */
struct pmm_stats {
    uint64_t total;    /* usable RAM pages the allocator knows (pool + metadata + withheld) */
    uint64_t free;     /* pages it can hand out now */
    uint64_t used;     /* total - free */
    uint64_t meta;     /* its own metadata pages */
    uint64_t alloc;    /* pages handed out */
    uint64_t withheld; /* usable but not in the pool: page 0, boot memory before reconcile */
    uint64_t largest;  /* longest free run, pages */
    uint64_t below4g;  /* free pages below 4 GiB */
    uint64_t below16m; /* free pages below 16 MiB */
    uint64_t kind_pages[PMM_NKINDS]; /* pages per map kind, from the range table */
    uint64_t span;                   /* pages covered: [0, span) */
    uint64_t sections;               /* 128 MiB sections of [0, span) */
    uint64_t present_sections;       /* those with usable RAM: the only ones with metadata */
    uint64_t unmanaged;  /* usable pages the final map showed outside them (reported, not used) */
    uint64_t cached;     /* free pages on per-CPU caches (counted in free) */
    uint64_t stacked;    /* free pages in 2 MiB blocks on the free-block stack (counted in free) */
    uint64_t cpus;       /* per-CPU caches */
    uint64_t meta_phys;  /* where the metadata run starts */
    uint32_t reconciled; /* 1 once pmm_reconcile has run */
    uint32_t boot_held;  /* 1 while boot memory is held back (PMM_HOLD_BOOT_MEMORY) */
};
void pmm_stats(const struct pmm *p, struct pmm_stats *s);

/*
 * The one-line summary every front end prints:
 *   pmm: total=N free=N used=N meta=N alloc=N withheld=N largest=N below4g=N below16m=N
 *        sections=PRESENT/ALL unmanaged=N
 * (pages, but for the sections). Writes at most len bytes including the NUL; returns the length it
 * wanted.
 */
uint64_t pmm_summary(const struct pmm *p, char *buf, uint64_t len);

/* The range table the allocator keeps (sorted, non-overlapping), valid in the current mapping. */
const struct pmm_range *pmm_ranges(const struct pmm *p, uint64_t *n);

/*
 * The first run of free (or allocated) pages at or after page `from`: returns 1 with the run in
 * [*start, *start + *n), or 0 if there is none. Word at a time; for listings and for giving
 * everything back. Pages on per-CPU caches are out of the shared pool and are listed with the
 * allocated ones (pmm_page_state tells them apart): drain the caches first for an exact listing.
 */
int pmm_next_free_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n);
int pmm_next_alloc_range(const struct pmm *p, uint64_t from, uint64_t *start, uint64_t *n);

/* What a page is now, for pictures and tests. */
enum pmm_page_state {
    PMM_PAGE_FREE,
    PMM_PAGE_ALLOC,
    PMM_PAGE_META,
    PMM_PAGE_WITHHELD, /* usable RAM not (yet) in the pool */
    PMM_PAGE_NEVER,    /* reserved, runtime, ACPI, MMIO ... */
    PMM_PAGE_HOLE,     /* no descriptor */
};
enum pmm_page_state pmm_page_state(const struct pmm *p, uint64_t pfn);

struct pmm_check_fail {
    const char *what; /* static text naming the broken invariant */
    uint64_t pfn;     /* page (or index) where it broke */
};

/* Full consistency check: 0, or PMM_ECHECK with the first violation in *f. */
int pmm_check(const struct pmm *p, struct pmm_check_fail *f);

#endif
