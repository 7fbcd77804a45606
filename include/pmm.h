/*
 * pmm.h - public interface of the uefi-pmm physical page allocator.
 *
 * One allocator, three owners: the UEFI loader builds it from the firmware's memory map, the kernel
 * adopts it in place after ExitBootServices, and host tools drive the same code over simulated
 * memory. pmm/state.h describes the structures, their invariants and who owns memory when.
 *
 * Conventions:
 *  - Addresses are physical, in bytes; pages are 4 KiB. A "run" is a physically contiguous range.
 *  - Every function that can fail returns 0 or a negative PMM_E* code. A failed call changes no
 *    page's state (free, allocated, held on a cache, withheld, not owned) and no reference count.
 *    It may change what is not a page's state: the summaries' stale bits (state.h), a search
 *    cursor, and a per-CPU cache (pmm_alloc and the pmm_cpu_* calls give the caller's cache back
 *    to the pool, and ask the other CPUs to, before they report PMM_ENOMEM). Only in the boot
 *    phase can a call shrink the pool: a page the firmware took behind our back leaves it.
 *  - A struct pmm * is the allocator state as seen through the caller's current mapping; it is only
 *    valid until the owner changes the mapping (pmm_set_offset returns the new one).
 *
 * Freestanding: fixed-width types only, no libc.
 */
#ifndef PMM_H
#define PMM_H

#include <stddef.h>
#include <stdint.h>

#include "pmm_numa.h"

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
    PMM_EBUSY = -12,     /* page is held on a per-CPU cache: that CPU must drain it first */
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
#define PMM_ABI_VERSION 6u
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

/*
 * NUMA (include/pmm_numa.h: struct pmm_numa_range, the ranges of each node as the ACPI SRAT
 * describes them). The allocator keeps a node byte per 2 MiB block and up to PMM_MAX_NODES
 * nodes; a node boundary inside a block gives the block to the node of its first page.
 */
#define PMM_MAX_NODES 64
#define PMM_NODE_ANY  0xffffffffu

struct pmm_build {
    struct pmm_map map; /* the firmware's map at build time */
    void *scratch;      /* pmm_map_scratch_size(&map) bytes, the caller's */
    uint64_t scratch_size;
    uint64_t virt_offset;       /* virtual = physical + virt_offset for the builder */
    struct pmm_firmware fw;     /* boot-phase hooks, see above */
    uint64_t extra_descriptors; /* room for a final map this many descriptors longer */
    uint32_t max_cpus;          /* per-CPU page caches to reserve (0: none), see "Many CPUs" */
    uint32_t nnodes;            /* NUMA nodes (0 or 1: none), at most PMM_MAX_NODES */
    const struct pmm_numa_range *numa; /* numa_count ranges, or NULL */
    uint64_t numa_count;
    const uint8_t *distance;  /* nnodes * nnodes (ACPI SLIT: 10 local), or NULL: 10 and 20 */
    const uint32_t *cpu_node; /* max_cpus entries: each CPU's node, or NULL: node 0 */
};

/*
 * Build an allocator from b->map. Metadata (state, bitmaps, counts) goes into one run of
 * conventional memory the library picks and claims; all other conventional memory becomes free.
 * Memory that is free only after ExitBootServices joins at pmm_reconcile. On success *out is the
 * state in the builder's mapping, for one CPU at a time (pmm_set_concurrent).
 *
 * Cost: O(descriptors log descriptors + sections + RAM / 2 MiB); it writes 4 bytes per
 * 2 MiB of free RAM (per-page metadata is written when a 2 MiB block is first used), plus 4 bytes
 * per 128 MiB of address space and the metadata run's own tables.
 *
 * Limits, each refused with nothing claimed: PMM_EMAP (and *err) for a malformed map, one with no
 * conventional memory, or usable memory at or above 2^59 bytes (2^32 sections of 128 MiB);
 * PMM_EINVAL for a scratch buffer below pmm_map_scratch_size, max_cpus above PMM_MAX_CPUS,
 * nnodes above PMM_MAX_NODES, a NUMA range that is unsorted, overlapping or names a node >=
 * nnodes, a distance table whose diagonal is not the smallest entry of its row, or a cpu_node
 * >= nnodes; PMM_ENOMEM if no conventional range holds the metadata run.
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
 * NULL) gets the page count; 0 pages if nothing was held. Lock-free: other CPUs may allocate and
 * free meanwhile, but no other release_boot, reconcile or keep_range may run.
 */
int pmm_release_boot(struct pmm *p, uint64_t *released);

/*
 * After pmm_reconcile: make pages [phys, phys + npages * 4K) that the final map shows as usable
 * allocated (reference count 1), whether they are free in the pool or held back, for what the
 * firmware left there that the kernel still needs (configuration tables in boot-services memory);
 * the kernel frees them when it is done. Pages already allocated stay as they are (two tables may
 * share a page). PMM_ENOTOWNED, changing nothing, if a page is not usable RAM, metadata or page 0;
 * PMM_EBUSY if one is held on a per-CPU cache; PMM_ESTATE before reconcile. *taken (may be NULL)
 * gets the pages newly allocated. Quiescent (see "Many CPUs").
 */
int pmm_keep_range(struct pmm *p, uint64_t phys, uint64_t npages, uint64_t *taken);

/*
 * A new owner takes the state at physical address state_phys, reachable at state_phys +
 * virt_offset. O(1) plus O(sections + node runs + CPUs): validates the header, the section table
 * (4 bytes per 128 MiB of address space), the NUMA tables and that every cache is empty, resets
 * owner-local hooks (firmware, cpu_self) and makes the state concurrent. Returns NULL and sets
 * *err (PMM_ESTATE) if the header is not a reconciled allocator state, or if any field the
 * allocator computes addresses from could take it outside its metadata run or past its span
 * (see pmm/adopt.c); a refused state is not written to. pmm_adopt_why also says which field:
 * *why (may be NULL) gets its name and the problem, e.g. {"refs_phys", "not inside the metadata
 * run"}. Adoption does not read per-block or per-page contents: pmm_check() does, in
 * O(RAM pages / 64).
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
 * Many CPUs.
 *
 * The allocator takes no lock and no call waits for another CPU. A state is in one of two modes:
 *  - one CPU at a time (after pmm_build; the loader, host tools, a kernel before its APs run):
 *    shared words change with plain loads and stores;
 *  - concurrent (after pmm_adopt, or pmm_set_concurrent(p, 1)): any number of CPUs call at once,
 *    and shared words change with atomic compare-and-swap, fetch-or/and and add.
 * pmm_set_concurrent is refused (PMM_ESTATE) while the firmware hooks are set (before
 * pmm_reconcile): boot services run on one CPU.
 *
 * Progress, per call, with other CPUs at work (n: pages; B: 2 MiB blocks in the range searched):
 *  - wait-free, O(1): the pmm_cpu_alloc/pmm_cpu_free fast path (a page from or to the calling
 *    CPU's cache: plain loads and stores to that cache and to the page's own count), pmm_refcount,
 *    pmm_page_state, pmm_cpus, pmm_cpu_cached, pmm_state_phys and the other getters;
 *  - lock-free: pmm_alloc, pmm_alloc_run, pmm_free, pmm_free_run, pmm_ref_inc, pmm_ref_dec, the
 *    pmm_cpu_* slow path (a batch between a cache and the pool), pmm_release_boot. A step fails
 *    and is retried only when another CPU's step on the same word succeeded. Searches are
 *    O(levels) per candidate; a search that finds nothing while another CPU is clearing a
 *    summary bit confirms its answer from the counts, O(B);
 *  - quiescent (no other CPU may be in the allocator; they do not wait, they require it):
 *    pmm_build, pmm_reconcile, pmm_keep_range, pmm_adopt, pmm_set_offset, pmm_set_concurrent,
 *    pmm_set_cpu_self, pmm_drain, pmm_check. The readers pmm_stats, pmm_summary,
 *    pmm_next_free_range and pmm_next_alloc_range may run beside other CPUs (wait-free) but then
 *    describe no single moment.
 * No page is handed out twice and every page-level error (double free, bad free, overflow) is
 * refused with nothing changed, whatever the interleaving, when the calls concerned are ordered
 * (one returns before the other starts, as on one CPU or through any synchronisation). Two
 * frees of one page racing on two CPUs are a caller bug: pmm_free and the run and reference
 * calls catch most (their read-modify-writes see each other), the per-CPU fast path, which has
 * none, may not.
 *
 * Per-CPU caches. A state built with max_cpus > 0 has that many caches, one per CPU index
 * [0, pmm_cpus()); the kernel numbers its CPUs (e.g. by position in the handoff's CPU list). The
 * cache of CPU i is used only by code running on CPU i, with preemption and interrupts that
 * could call the allocator off (as any per-CPU data in a kernel). A page on a cache is held:
 * allocated, as far as the pool and every other CPU can tell, to that CPU (its count says
 * PMM_REF_HELD), and free as far as the statistics are concerned (pmm_stats counts it in free and
 * in cached). Freeing it again is PMM_EDOUBLE. Pages move between a cache and the pool
 * PMM_CPU_BATCH at a time. Pages below 1 MiB never enter a cache, nor, with NUMA, pages of
 * another node than the CPU's (they go back to the pool, so that the cache hands out local
 * pages only).
 *
 * No waiting for memory, and what that costs: a CPU whose request the pool cannot meet gives its
 * own cache back, marks the pool short, searches once more and fails; every other CPU gives its
 * cache back at its next pmm_cpu_* call (or pmm_alloc/pmm_free call with pmm_set_cpu_self
 * installed) after the mark. No CPU takes pages from another's cache: the fast path's plain
 * stores are what make it cost a few nanoseconds, and a remote taker would need the owner to use
 * a read-modify-write on every call (pmm.h's figures, docs/concurrency.md). So up to
 * PMM_CPU_CACHE pages per other CPU can be out of reach of one failed request, until that CPU
 * next calls; a CPU that goes idle or offline drains first (pmm_cpu_drain).
 */
#define PMM_CPU_CACHE 61    /* pages one CPU's cache holds */
#define PMM_CPU_BATCH 31    /* pages moved between a cache and the pool at a time */
#define PMM_MAX_CPUS  65536 /* a sanity bound on max_cpus; the metadata is sized by the count */
#define PMM_REF_MAX   0xffffu

/* Enter (1) or leave (0) concurrent mode. Quiescent. PMM_ESTATE before pmm_reconcile. Entering
 * it gives the allocator's own cache back (only one CPU at a time uses that one). */
int pmm_set_concurrent(struct pmm *p, int on);

/*
 * Allocation. Every page handed out has reference count 1.
 */

/* One page. Never page 0 and never below 1 MiB. From the caller's cache when it has one: the
 * allocator's own one with one CPU at a time, the calling CPU's with pmm_set_cpu_self. */
int pmm_alloc(struct pmm *p, uint64_t *phys);

/* One page of NUMA node `node` (never another one); PMM_EINVAL for a node >= pmm_nodes(). */
int pmm_alloc_node(struct pmm *p, uint32_t node, uint64_t *phys);

/*
 * npages contiguous pages starting at a multiple of align bytes (a power of two; 0 means 4 KiB),
 * ending at or below limit (exclusive byte address; 0 means no limit). The run comes from at or
 * above 1 MiB unless limit <= 1 MiB: low memory is for callers that ask for it (AP start-up code).
 * Within the bounds, from the most plentiful memory first: at and above 4 GiB, then [16 MiB,
 * 4 GiB), then [1 MiB, 16 MiB), first fit in each; so what 32-bit and ISA DMA can reach lasts.
 * A run of whole 2 MiB blocks (npages >= 512, align >= 2 MiB) is found through the `whole`
 * summary in O(levels) and taken and freed a block at a time without per-page work; other runs
 * cost O(fragments in the way). One block with no limit (a huge page) is O(levels), and with
 * one CPU the block freed whole last comes first; with many CPUs and pmm_set_cpu_self, each
 * CPU's search for one starts at its own place in the zone (next fit), so that CPUs do not race
 * for the same block. PMM_ERANGE if the run can never fit below limit.
 */
int pmm_alloc_run(struct pmm *p, uint64_t npages, uint64_t align, uint64_t limit, uint64_t *phys);
/* The same from NUMA node `node` only. */
int pmm_alloc_run_node(struct pmm *p, uint32_t node, uint64_t npages, uint64_t align,
                       uint64_t limit, uint64_t *phys);

/* Free one page or a run of pages, each of which must be allocated with reference count 1. */
int pmm_free(struct pmm *p, uint64_t phys);
int pmm_free_run(struct pmm *p, uint64_t phys, uint64_t npages);

/* Share and release. ref_dec frees the page when the count reaches 0. */
int pmm_ref_inc(struct pmm *p, uint64_t phys);
int pmm_ref_dec(struct pmm *p, uint64_t phys);
/* Reference count of an allocated page (0 with PMM_EDOUBLE or PMM_ENOTOWNED otherwise). */
int pmm_refcount(const struct pmm *p, uint64_t phys, uint32_t *count);

/* Per-CPU caches this state has (0: built without; the pmm_cpu_* calls then fail PMM_EINVAL). */
uint32_t pmm_cpus(const struct pmm *p);

/* One page for CPU cpu, from its cache; O(1). Same guarantees as pmm_alloc; from the CPU's own
 * NUMA node first (pmm_build's cpu_node), then the nearest others. */
int pmm_cpu_alloc(struct pmm *p, uint32_t cpu, uint64_t *phys);

/* Free one page (reference count 1) to CPU cpu's cache; O(1). Same checks as pmm_free. */
int pmm_cpu_free(struct pmm *p, uint32_t cpu, uint64_t phys);

/*
 * Give every page on CPU cpu's cache back to the pool; *drained (may be NULL) gets how many. Made
 * on CPU cpu itself, or for a CPU that makes no allocator call until it is done (offline).
 */
int pmm_cpu_drain(struct pmm *p, uint32_t cpu, uint64_t *drained);

/* Every cache, the allocator's own included, back to the pool. Quiescent: before the state goes
 * to another owner (pmm_adopt refuses a state with pages on a cache). */
int pmm_drain(struct pmm *p, uint64_t *drained);

/*
 * How pmm_alloc and pmm_free learn the calling CPU's index in concurrent mode, so that they use
 * its cache: self(ctx) returns it (>= pmm_cpus(): none, and they go to the pool directly). With it
 * installed they must not interrupt a pmm_cpu_* call on the same CPU. Owner-local: pmm_adopt
 * clears it.
 */
int pmm_set_cpu_self(struct pmm *p, uint32_t (*self)(void *ctx), void *ctx);

/* Pages on CPU cpu's cache now (a snapshot; for reports). */
uint64_t pmm_cpu_cached(const struct pmm *p, uint32_t cpu);

/* NUMA nodes the state knows (1 without a table), and the node CPU cpu's cache prefers. */
uint32_t pmm_nodes(const struct pmm *p);
uint32_t pmm_cpu_node(const struct pmm *p, uint32_t cpu);
/* The node of page pfn (PMM_NODE_ANY outside the present sections). */
uint32_t pmm_page_node(const struct pmm *p, uint64_t pfn);

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
    uint64_t cached;     /* pages held on per-CPU caches (counted in free, not in alloc) */
    uint64_t cpus;       /* per-CPU caches */
    uint64_t nodes;      /* NUMA nodes (1 without a table) */
    uint64_t meta_phys;  /* where the metadata run starts */
    uint32_t reconciled; /* 1 once pmm_reconcile has run */
    uint32_t boot_held;  /* 1 while boot memory is held back (PMM_HOLD_BOOT_MEMORY) */
};
void pmm_stats(const struct pmm *p, struct pmm_stats *s);

/* One NUMA node's pages: usable RAM the allocator has metadata for, and how much is free. */
struct pmm_node_stats {
    uint64_t total; /* pages of the pool on this node (free, allocated or held) */
    uint64_t free;  /* of which free in the pool (cached pages are counted where they are) */
    uint64_t cached;
};
/* PMM_EINVAL for a node >= pmm_nodes(). O(RAM / 2 MiB). */
int pmm_node_stats(const struct pmm *p, uint32_t node, struct pmm_node_stats *s);

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
 * everything back. Pages held on per-CPU caches are listed as free, as pmm_stats and
 * pmm_page_state count them (drain the caches before the list is used to give pages back).
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
