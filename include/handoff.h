/*
 * handoff.h - the block the uefi-pmm loader hands to the kernel. Version 3.
 *
 * Fixed-width types only; the block is little-endian x86_64 and the same from any compiler.
 *
 * ENTRY STATE. The loader jumps to the kernel's ELF entry point with:
 *  - boot services exited, interrupts off (RFLAGS.IF = 0), the firmware watchdog disabled;
 *  - RDI = physical address of this block (System V calling convention, one argument);
 *  - RSP = top of a stack of `stack_pages` pages allocated from the allocator, 16-byte aligned;
 *  - CR3 = the loader's transition page tables (4-level, from allocator pages listed below):
 *    physical memory identity-mapped from 0 to `identity_top` with 2 MiB pages, and the kernel
 *    image mapped at its link addresses;
 *  - GDT and IDT still the firmware's, in memory the allocator now counts as free: the kernel
 *    must load its own GDT and IDT before it allocates a page.
 *
 * GUARANTEES.
 *  - The block lies in one allocated page; `checksum` is FNV-1a (32-bit) over `size` bytes with
 *    the checksum field taken as zero; `memmap_checksum` the same over the memory map.
 *  - `pmm_state_phys` is a reconciled allocator state (pmm.h, pmm_adopt) reachable at physical +
 *    `pmm_virt_offset` (0: identity) under the transition tables.
 *  - The memory map is the one ExitBootServices accepted, raw: `memmap_size` bytes of descriptors,
 *    `memmap_desc_size` bytes apart (not sizeof), version `memmap_desc_version`. It is not sorted;
 *    the allocator's own range table (pmm_ranges) is sorted and non-overlapping.
 *  - Allocated (reference count 1) and owned by the kernel, and nothing else: the kernel image,
 *    its stack, this block, the memory map buffer (memmap_buf_pages), the transition page tables,
 *    the reconcile scratch buffer, and the pages covering the kept[] entries (configuration tables
 *    the firmware left in boot-services memory, allocations made before the boot path ran). The
 *    kernel stub checks this at entry, before its first allocation. The kernel frees what it no
 *    longer needs with pmm_free / pmm_free_run; kept[] entries may share pages, so it frees the
 *    union of their pages once it needs none of them. Everything else that was boot-services or
 *    loader memory is already free in the allocator, unless PMM_HANDOFF_BOOT_HELD says it is held
 *    back; runtime-services, ACPI, MMIO and reserved memory is never handed out.
 *  - All ranges are page aligned and end below 2^64; no two of the ranges above overlap each
 *    other or the metadata.
 */
#ifndef PMM_HANDOFF_H
#define PMM_HANDOFF_H

#include <stdint.h>

#define PMM_HANDOFF_MAGIC 0x46464f444e414850ull /* "PHANDOFF" */
#ifndef PMM_HANDOFF_VERSION    /* only a test kernel sets it: build/esp-oldkernel.img */
#define PMM_HANDOFF_VERSION 3u /* 2: memmap_buf_pages, scratch, kept[]; 3: the CPUs */
#endif

/*
 * flags: boot-services and loader memory is withheld from the allocator (PMM_HOLD_BOOT_MEMORY);
 * the kernel gives it to the pool with pmm_release_boot() once nothing needs it (after
 * SetVirtualAddressMap, if it calls that). Without the flag that memory is free at entry.
 */
#define PMM_HANDOFF_BOOT_HELD 1u

/* Framebuffer pixel formats (EFI_GRAPHICS_PIXEL_FORMAT). */
enum {
    PMM_FB_RGBX = 0, /* PixelRedGreenBlueReserved8BitPerColor */
    PMM_FB_BGRX = 1, /* PixelBlueGreenRedReserved8BitPerColor */
    PMM_FB_BITMASK = 2,
    PMM_FB_NONE = 3, /* PixelBltOnly or no GOP: fb_base is 0 */
};

/* What a kept[] entry is. */
enum {
    PMM_KEPT_ESRT = 1,         /* EFI System Resource Table (capsule updates) */
    PMM_KEPT_MEMATTR = 2,      /* EFI Memory Attributes Table */
    PMM_KEPT_SMBIOS = 3,       /* SMBIOS 2.x entry point */
    PMM_KEPT_SMBIOS3 = 4,      /* SMBIOS 3.x entry point */
    PMM_KEPT_SMBIOS_TABLE = 5, /* the SMBIOS structure table an entry point names */
    PMM_KEPT_TABLE = 6,        /* another configuration table: its first page (size unknown) */
    PMM_KEPT_EARLIER = 7,      /* allocated before the boot path ran (the shell's `pmm alloc`) */
};
#define PMM_HANDOFF_MAX_KEPT 48

/* Where the CPU list came from. */
enum {
    PMM_CPUS_MP_SERVICES = 1, /* EFI_MP_SERVICES_PROTOCOL */
    PMM_CPUS_MADT = 2,        /* the ACPI MADT's enabled local APICs and x2APICs */
    PMM_CPUS_BSP_ONLY = 3,    /* neither was there: the boot CPU alone */
};
#define PMM_HANDOFF_MAX_CPUS 256

struct pmm_handoff_kept {
    uint64_t phys;    /* first byte */
    uint64_t bytes;   /* the allocated pages are [phys & ~4095, round up(phys + bytes)) */
    uint8_t guid[16]; /* the configuration table's VendorGuid as stored; zero for EARLIER */
    uint32_t kind;    /* PMM_KEPT_* */
    uint32_t pad;
};

struct pmm_handoff {
    uint64_t magic;
    uint32_t version;
    uint32_t size;     /* sizeof(struct pmm_handoff) as the loader knew it */
    uint32_t checksum; /* FNV-1a over size bytes, this field as zero */
    uint32_t flags;    /* PMM_HANDOFF_* */

    uint64_t self_phys;       /* where this block is */
    uint64_t pmm_state_phys;  /* the allocator */
    uint64_t pmm_virt_offset; /* offset in force at entry */

    uint64_t memmap_phys;
    uint64_t memmap_size;
    uint64_t memmap_desc_size;
    uint32_t memmap_desc_version;
    uint32_t memmap_checksum;

    uint64_t kernel_phys; /* image: [kernel_phys, + kernel_pages * 4K) mapped at kernel_virt */
    uint64_t kernel_pages;
    uint64_t kernel_virt;
    uint64_t stack_phys;
    uint64_t stack_pages;
    uint64_t boot_pt_phys; /* transition page tables: one run of boot_pt_pages pages */
    uint64_t boot_pt_pages;
    uint64_t identity_top;

    uint64_t fb_base; /* GOP framebuffer, 0 if none */
    uint64_t fb_size;
    uint32_t fb_width, fb_height;
    uint32_t fb_stride; /* pixels per scan line */
    uint32_t fb_format; /* PMM_FB_* */

    uint64_t acpi_rsdp;        /* 0 if the firmware gave none */
    uint64_t efi_system_table; /* for runtime services; physical */

    uint64_t tsc_efi_main; /* TSC when the loader started, for boot-time figures */
    uint64_t tsc_exit;     /* TSC just after ExitBootServices */

    /* Version 2. */
    uint64_t memmap_buf_pages; /* the map buffer: [memmap_phys, + memmap_buf_pages * 4K) */
    uint64_t scratch_phys;     /* reconcile's scratch buffer, the kernel's to reuse or free */
    uint64_t scratch_pages;
    uint32_t nkept; /* entries of kept[] in use */
    uint32_t pad2;
    struct pmm_handoff_kept kept[PMM_HANDOFF_MAX_KEPT];

    /*
     * Version 3: the CPUs, as the firmware knew them before ExitBootServices. cpu_apic_id[i] is
     * CPU i's initial APIC ID (the x2APIC ID where it needs more than 8 bits); index i is also
     * its per-CPU cache in the allocator, which has at least ncpus of them (pmm_cpus). The APs
     * are parked by the firmware in memory the allocator never hands out; the kernel starts them
     * with INIT-SIPI-SIPI.
     */
    uint32_t ncpus;      /* entries of cpu_apic_id[], 1 .. PMM_HANDOFF_MAX_CPUS */
    uint32_t cpus_found; /* enabled CPUs the firmware reported; above ncpus if some did not fit */
    uint32_t bsp;        /* index of the CPU running the kernel */
    uint32_t cpu_source; /* PMM_CPUS_* */
    uint32_t cpu_apic_id[PMM_HANDOFF_MAX_CPUS];
};
_Static_assert(sizeof(struct pmm_handoff) <= 4096, "the block fits its one page");

/* FNV-1a, 32 bits. */
static inline uint32_t pmm_fnv1a(const void *data, uint64_t n, uint32_t h)
{
    const unsigned char *p = data;
    for (uint64_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}
#define PMM_FNV_INIT 2166136261u

/* Checksum of a block as stored (its own checksum field counted as zero). */
uint32_t pmm_handoff_checksum(const struct pmm_handoff *h);

/*
 * Validate a block the kernel received: 0, or a static message naming what is wrong. `map` is the
 * memory map as the kernel can reach it (the block holds only its physical address).
 */
const char *pmm_handoff_verify(const struct pmm_handoff *h, const void *map);

#endif
