/*
 * handoff.h - the live allocator, one Limine request away.
 *
 * uefi-pmm boots kernels with the Limine boot protocol (include/limine.h). A kernel that also
 * places the request below in its image receives the page allocator the loader built and used,
 * already live: it adopts it in place (pmm_adopt) instead of rebuilding one from the memory map.
 * A kernel that does not ask simply uses the memory map; nothing leaks either way.
 *
 *   static volatile struct pmm_request pmm_req = {PMM_REQUEST_ID, 0, 0, 0};
 *   ...
 *   struct pmm_response *r = pmm_req.response;
 *   struct pmm *p = pmm_adopt(r->state_phys, r->virt_offset, &err);
 *
 * THE RULES
 *
 *  - Usable entries of the Limine memory map are exactly the allocator's free pages at entry.
 *    Every page the kernel receives allocated (reference count 1) is in handed[]: its image and
 *    modules (EXECUTABLE_AND_MODULES in the memory map), the loader's page tables, the entry and
 *    AP stacks, the responses, the EFI memory map copy, the configuration tables kept in
 *    boot-services memory (also in kept[]) and allocations made before the boot (the shell's
 *    `pmm alloc`). The kernel frees them (pmm_free_run) once it needs them no more. The
 *    allocator's own metadata, [state_phys, + pmm_meta_pages() pages), lies inside a
 *    BOOTLOADER_RECLAIMABLE entry and is never freed. All other BOOTLOADER_RECLAIMABLE pages are
 *    boot-services and loader memory held back (flags: PMM_RESPONSE_BOOT_HELD, until
 *    pmm_release_boot) or pages the allocator does not manage (page 0 is RESERVED).
 *  - Before its first allocation the kernel calls pmm_adopt(state_phys, virt_offset) (the
 *    offset is the HHDM offset: the state is reachable through the HHDM at entry), and, before it
 *    moves the state to another mapping, pmm_set_offset. On many CPUs it gives the allocator the
 *    calling CPU's index (pmm_set_cpu_self); see include/pmm.h for what each call guarantees.
 *  - CPU index i of the allocator's per-CPU supplies is cpus[i]. With a Limine MP request the MP
 *    response lists the BSP and the APs that started (PMM_CPU_IN_MP), in the same order: when every
 * one did, as on a healthy machine, MP cpus[i] is index i; a CPU finds its index by its APIC ID
 *    either way. Without an MP request the APs are not started and cpus[] still lists them.
 *  - NUMA: node_count nodes, numbered by ascending ACPI proximity domain (node_domain[]); each
 *    CPU's node in cpus[i].node; numa_ranges[] the physical memory of each node as the SRAT
 *    describes it (RAM or not: hot-pluggable ranges may be empty now), in pages; distance[] the
 *    SLIT's matrix between the nodes. Without an SRAT: one node, no ranges, distance {10}.
 *  - Everything here is written once by the loader: checksum covers this response and the arrays
 *    it points to (pmm_response_verify checks it, and every count and address).
 */
#ifndef PMM_HANDOFF_H
#define PMM_HANDOFF_H

#include <stdint.h>

#include "pmm_numa.h"

#ifndef LIMINE_COMMON_MAGIC
#define LIMINE_COMMON_MAGIC 0xc7b1dd30df4c8b88ull, 0x0a82e883a194f07bull
#endif

#define PMM_REQUEST_ID                                                                             \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x9164e45de5f2bd13ull, 0x3f932289e820cf48ull                          \
    }

/* Request flags. */
#define PMM_REQUEST_HOLD_BOOT_MEMORY                                                               \
    (1u << 0) /* keep boot-services and loader memory out of the                                   \
                 pool until pmm_release_boot (some firmware                                        \
                 touches it in SetVirtualAddressMap) */

struct pmm_request {
    uint64_t id[4];
    uint64_t revision; /* 0 */
    struct pmm_response *response;
    uint64_t flags; /* PMM_REQUEST_* */
};

/* What a handed[] run holds. */
enum {
    PMM_HANDED_EXECUTABLE = 1, /* the kernel image */
    PMM_HANDED_MODULE = 2,     /* a module's file */
    PMM_HANDED_RESPONSES = 3,  /* Limine responses and this one, with their strings and arrays */
    PMM_HANDED_PAGE_TABLES = 4,
    PMM_HANDED_STACK = 5,      /* the entry stack */
    PMM_HANDED_MP = 6,         /* where the APs are parked, and their stacks */
    PMM_HANDED_EFI_MEMMAP = 7, /* the final EFI memory map */
    PMM_HANDED_KEPT = 8,       /* configuration tables in boot-services memory (kept[]) */
    PMM_HANDED_EARLIER = 9,    /* allocated before the boot path ran (the shell's `pmm alloc`) */
};

struct pmm_handed {
    uint64_t phys;  /* page aligned */
    uint64_t pages; /* allocated, reference count 1 */
    uint32_t kind;  /* PMM_HANDED_* */
    uint32_t pad;
};

/* What a kept[] entry is. */
enum {
    PMM_KEPT_ESRT = 1,         /* EFI System Resource Table (capsule updates) */
    PMM_KEPT_MEMATTR = 2,      /* EFI Memory Attributes Table */
    PMM_KEPT_SMBIOS = 3,       /* SMBIOS 2.x entry point */
    PMM_KEPT_SMBIOS3 = 4,      /* SMBIOS 3.x entry point */
    PMM_KEPT_SMBIOS_TABLE = 5, /* the SMBIOS structure table an entry point names */
    PMM_KEPT_TABLE = 6,        /* another configuration table: its first page (size unknown) */
};

/* A configuration table the firmware left in boot-services memory, kept allocated. */
struct pmm_kept {
    uint64_t phys;  /* first byte */
    uint64_t bytes; /* its pages are in handed[] (PMM_HANDED_KEPT); tables may share a page */
    uint8_t guid[16];
    uint32_t kind; /* PMM_KEPT_* */
    uint32_t pad;
};

/* Where the CPU list came from. */
enum {
    PMM_CPUS_MP_SERVICES = 1, /* EFI_MP_SERVICES_PROTOCOL */
    PMM_CPUS_MADT = 2,        /* the ACPI MADT's enabled local APICs and x2APICs */
    PMM_CPUS_BSP_ONLY = 3,    /* neither was there: the boot CPU alone */
};

/* CPU flags. */
#define PMM_CPU_IN_MP (1u << 0) /* listed in the MP response: the BSP, each AP that parked */

struct pmm_cpu {
    uint32_t lapic_id;     /* initial APIC ID, 32 bits (x2APIC) */
    uint32_t processor_id; /* ACPI processor UID, or the index if the MADT was not read */
    uint32_t flags;        /* PMM_CPU_* */
    uint32_t node;         /* its NUMA node, < node_count (0 when the SRAT does not name it) */
};

/* Response flags. */
#define PMM_RESPONSE_BOOT_HELD (1u << 0) /* boot memory is held back: pmm_release_boot frees it */

/* This layout of struct pmm_response (revision 0 ended at tsc_exit). */
#define PMM_RESPONSE_REVISION 1

struct pmm_response {
    uint64_t revision;    /* PMM_RESPONSE_REVISION */
    uint64_t state_phys;  /* the allocator: pmm_adopt(state_phys, virt_offset, ...) */
    uint64_t virt_offset; /* the HHDM offset: adopt the state there */
    uint32_t abi;         /* PMM_ABI_VERSION of the state's layout (pmm_adopt refuses others) */
    uint32_t flags;       /* PMM_RESPONSE_* */
    uint32_t checksum;    /* FNV-1a: this response with checksum 0, then cpus, handed, kept,
                             numa_ranges, distance, node_domain */
    uint32_t bsp;         /* index in cpus[] of the CPU that runs the entry point */
    uint32_t cpu_source;  /* PMM_CPUS_* */
    uint32_t cpus_found;  /* enabled CPUs the firmware reported (cpu_count of them listed) */
    uint64_t cpu_count;
    struct pmm_cpu *cpus; /* virtual (HHDM) */
    uint64_t handed_count;
    struct pmm_handed *handed; /* virtual; sorted by phys, disjoint, not adjacent */
    uint64_t kept_count;
    struct pmm_kept *kept; /* virtual */
    uint64_t tsc_start;    /* TSC when the loader started, and just after ExitBootServices */
    uint64_t tsc_exit;
    /* revision 1: NUMA (include/pmm_numa.h). Node i is the i-th proximity domain in ascending
     * order; every array is in allocated pages (PMM_HANDED_RESPONSES), virtual (HHDM). */
    uint32_t numa_flags; /* PMM_NUMA_FROM_* */
    uint32_t node_count; /* >= 1, at most PMM_NUMA_MAX_NODES */
    uint64_t numa_range_count;
    struct pmm_numa_range *numa_ranges; /* sorted by start, disjoint; may be 0 with count 0 */
    uint8_t *distance;                  /* node_count * node_count, row i from node i */
    uint32_t *node_domain;              /* node_count: node i's ACPI proximity domain, ascending */
};

/* FNV-1a, 32 bits. */
static inline uint32_t pmm_fnv1a(const void *data, uint64_t n, uint32_t h)
{
    const unsigned char *p = data;
    for (uint64_t i = 0; p && i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}
#define PMM_FNV_INIT 2166136261u

/* The checksum a response should carry (its own checksum field counted as zero), its arrays
 * read at the addresses given (the loader reaches them at their physical addresses). */
struct pmm_response_arrays {
    const void *cpus, *handed, *kept, *numa_ranges, *distance, *node_domain;
};
uint32_t pmm_response_checksum_at(const struct pmm_response *r,
                                  const struct pmm_response_arrays *a);
/* The same, the arrays read through the response's own pointers. */
uint32_t pmm_response_checksum(const struct pmm_response *r);

/*
 * A kernel's check of the response before it trusts it: 0, or a static message naming the field
 * and what is wrong with it. hhdm is the kernel's HHDM offset (every pointer must lie above it).
 * The arrays are read only once their counts and addresses are known to be sane.
 */
const char *pmm_response_verify(const struct pmm_response *r, uint64_t hhdm);

#endif
