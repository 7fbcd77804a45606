/*
 * limine.h - the Limine boot protocol, x86_64, as uefi-pmm implements it.
 *
 * Written from the specification (PROTOCOL.md of Limine-Bootloader/limine-protocol, base
 * revisions 0 to 6); the identifiers and magic numbers are the specification's, the rest is ours.
 * A kernel written against Limine's own limine.h sees the same layout: every structure here is the
 * protocol's, field for field. Only what x86_64 uses is here. docs/limine.md says which requests
 * this loader answers and what each response holds; include/handoff.h adds the one request of our
 * own, the live allocator.
 *
 * How it works: the kernel places requests (an ID, a revision, a response pointer it leaves NULL)
 * anywhere in its loaded image, 8-byte aligned, optionally between the start and end markers. The
 * loader finds them, and for each one it serves writes a pointer to a response (in memory the
 * memory map calls bootloader-reclaimable) into the request. Pointers in responses are virtual:
 * physical address plus the HHDM offset, unless a field says otherwise.
 */
#ifndef PMM_LIMINE_H
#define PMM_LIMINE_H

#include <stdint.h>

#define LIMINE_COMMON_MAGIC 0xc7b1dd30df4c8b88ull, 0x0a82e883a194f07bull

/* Base revision tag: { magic, magic, wanted revision }. The loader writes 0 into the third word
 * when it honours the revision, and the revision it used into the second. */
#define LIMINE_BASE_REVISION_MAGIC0 0xf9562b2d5c95a6c8ull
#define LIMINE_BASE_REVISION_MAGIC1 0x6a7b384944536bdcull
#define LIMINE_BASE_REVISION(n)                                                                    \
    {                                                                                              \
        LIMINE_BASE_REVISION_MAGIC0, LIMINE_BASE_REVISION_MAGIC1, (n)                              \
    }
#define LIMINE_BASE_REVISION_SUPPORTED(tag)    ((tag)[2] == 0)
#define LIMINE_LOADED_BASE_REVISION_VALID(tag) ((tag)[1] != LIMINE_BASE_REVISION_MAGIC1)
#define LIMINE_LOADED_BASE_REVISION(tag)       ((tag)[1])

#define LIMINE_REQUESTS_START_MARKER                                                               \
    {                                                                                              \
        0xf6b8f4b39de7d1aeull, 0xfab91a6940fcb9cfull, 0x785c6ed015d3e316ull, 0x181e920a7852b9d9ull \
    }
#define LIMINE_REQUESTS_END_MARKER                                                                 \
    {                                                                                              \
        0xadc0e0531bb10d03ull, 0x9572709f31764c62ull                                               \
    }

/* Every request starts like this; the rest depends on the ID. */
struct limine_request_header {
    uint64_t id[4];
    uint64_t revision;
    void *response;
};

/* Every response starts with its revision. */
struct limine_response_header {
    uint64_t revision;
};

/* Request IDs: the common magic, then two words per feature. */
#define LIMINE_BOOTLOADER_INFO_REQUEST_ID                                                          \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0xf55038d8e2a1202full, 0x279426fcf5f59740ull                          \
    }
#define LIMINE_EXECUTABLE_CMDLINE_REQUEST_ID                                                       \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x4b161536e598651eull, 0xb390ad4a2f1f303aull                          \
    }
#define LIMINE_FIRMWARE_TYPE_REQUEST_ID                                                            \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x8c2f75d90bef28a8ull, 0x7045a4688eac00c3ull                          \
    }
#define LIMINE_STACK_SIZE_REQUEST_ID                                                               \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x224ef0460a8e8926ull, 0xe1cb0fc25f46ea3dull                          \
    }
#define LIMINE_HHDM_REQUEST_ID                                                                     \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x48dcf1cb8ad2b852ull, 0x63984e959a98244bull                          \
    }
#define LIMINE_FRAMEBUFFER_REQUEST_ID                                                              \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x9d5827dcd881dd75ull, 0xa3148604f6fab11bull                          \
    }
#define LIMINE_PAGING_MODE_REQUEST_ID                                                              \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x95c1a0edab0944cbull, 0xa4e5cb3842f7488aull                          \
    }
#define LIMINE_MP_REQUEST_ID                                                                       \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x95a67b819a1b857eull, 0xa0b61b723b6a73e0ull                          \
    }
#define LIMINE_MEMMAP_REQUEST_ID                                                                   \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x67cf3d9d378a806full, 0xe304acdfc50c3c62ull                          \
    }
#define LIMINE_ENTRY_POINT_REQUEST_ID                                                              \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x13d86c035a1cd3e1ull, 0x2b0caa89d8f3026aull                          \
    }
#define LIMINE_EXECUTABLE_FILE_REQUEST_ID                                                          \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0xad97e90e83f1ed67ull, 0x31eb5d1c5ff23b69ull                          \
    }
#define LIMINE_MODULE_REQUEST_ID                                                                   \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x3e7e279702be32afull, 0xca1c4f3bd1280ceeull                          \
    }
#define LIMINE_RSDP_REQUEST_ID                                                                     \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0xc5e77b6b397e7b43ull, 0x27637845accdcf3cull                          \
    }
#define LIMINE_SMBIOS_REQUEST_ID                                                                   \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x9e9046f11e095391ull, 0xaa4a520fefbde5eeull                          \
    }
#define LIMINE_EFI_SYSTEM_TABLE_REQUEST_ID                                                         \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x5ceba5163eaaf6d6ull, 0x0a6981610cf65fccull                          \
    }
#define LIMINE_EFI_MEMMAP_REQUEST_ID                                                               \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x7df62a431d6872d5ull, 0xa4fcdfb3e57306c8ull                          \
    }
#define LIMINE_DATE_AT_BOOT_REQUEST_ID                                                             \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x502746e184c088aaull, 0xfbc5ec83e6327893ull                          \
    }
#define LIMINE_EXECUTABLE_ADDRESS_REQUEST_ID                                                       \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x71ba76863cc55f63ull, 0xb2644a48c516a487ull                          \
    }
#define LIMINE_DTB_REQUEST_ID                                                                      \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0xb40ddb48fb54bac7ull, 0x545081493f81ffb7ull                          \
    }
#define LIMINE_RISCV_BSP_HARTID_REQUEST_ID                                                         \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x1369359f025525f9ull, 0x2ff2a56178391bb6ull                          \
    }
#define LIMINE_BOOTLOADER_PERFORMANCE_REQUEST_ID                                                   \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x6b50ad9bf36d13adull, 0xdc4c7e88fc759e17ull                          \
    }
#define LIMINE_X86_64_KEEP_IOMMU_REQUEST_ID                                                        \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x8ebaabe51f490179ull, 0x2aa86a59ffb4ab0full                          \
    }
#define LIMINE_TSC_FREQUENCY_REQUEST_ID                                                            \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x10f2ee1d87d195e4ull, 0xf747a2b78f6ddb31ull                          \
    }
#define LIMINE_FLANTERM_FB_INIT_PARAMS_REQUEST_ID                                                  \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x3259399fe7c5f126ull, 0xe01c1c8c5db9d1a9ull                          \
    }
#define LIMINE_ENTROPY_REQUEST_ID                                                                  \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x65ea80255d5682c5ull, 0x9117240723f493ebull                          \
    }
#define LIMINE_TPM_EVENT_LOG_REQUEST_ID                                                            \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, 0x98e094fc7e76e979ull, 0xee8d8775c54e1d1full                          \
    }

/* Bootloader info. */
struct limine_bootloader_info_response {
    uint64_t revision;
    char *name;
    char *version;
};

/* Executable command line: the same string as the executable file's `string`. */
struct limine_executable_cmdline_response {
    uint64_t revision;
    char *cmdline;
};

/* Firmware type. */
#define LIMINE_FIRMWARE_TYPE_X86BIOS 0
#define LIMINE_FIRMWARE_TYPE_EFI32   1
#define LIMINE_FIRMWARE_TYPE_EFI64   2
struct limine_firmware_type_response {
    uint64_t revision;
    uint64_t firmware_type;
};

/* Stack size: bytes of stack the entry (and every AP's goto_address) gets, at least 64 KiB. */
struct limine_stack_size_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_stack_size_response *response;
    uint64_t stack_size;
};
struct limine_stack_size_response {
    uint64_t revision;
};

/* Higher half direct map: virtual = physical + offset. */
struct limine_hhdm_response {
    uint64_t revision;
    uint64_t offset;
};

/* Framebuffers. Response revision 1 adds the video modes. */
#define LIMINE_FRAMEBUFFER_RGB 1
struct limine_video_mode {
    uint64_t pitch;
    uint64_t width;
    uint64_t height;
    uint16_t bpp;
    uint8_t memory_model;
    uint8_t red_mask_size;
    uint8_t red_mask_shift;
    uint8_t green_mask_size;
    uint8_t green_mask_shift;
    uint8_t blue_mask_size;
    uint8_t blue_mask_shift;
};
struct limine_framebuffer {
    void *address;
    uint64_t width;
    uint64_t height;
    uint64_t pitch; /* bytes per scan line */
    uint16_t bpp;
    uint8_t memory_model;
    uint8_t red_mask_size;
    uint8_t red_mask_shift;
    uint8_t green_mask_size;
    uint8_t green_mask_shift;
    uint8_t blue_mask_size;
    uint8_t blue_mask_shift;
    uint8_t unused[7];
    uint64_t edid_size;
    void *edid;
    /* response revision 1 */
    uint64_t mode_count;
    struct limine_video_mode **modes;
};
struct limine_framebuffer_response {
    uint64_t revision;
    uint64_t framebuffer_count;
    struct limine_framebuffer **framebuffers;
};

/* Paging mode. Request revision 1 adds max_mode and min_mode. */
#define LIMINE_PAGING_MODE_X86_64_4LVL    0
#define LIMINE_PAGING_MODE_X86_64_5LVL    1
#define LIMINE_PAGING_MODE_X86_64_DEFAULT LIMINE_PAGING_MODE_X86_64_4LVL
#define LIMINE_PAGING_MODE_X86_64_MIN     LIMINE_PAGING_MODE_X86_64_4LVL
struct limine_paging_mode_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_paging_mode_response *response;
    uint64_t mode;
    uint64_t max_mode; /* request revision 1 */
    uint64_t min_mode; /* request revision 1 */
};
struct limine_paging_mode_response {
    uint64_t revision;
    uint64_t mode;
};

/* Multiprocessor. A parked AP jumps to goto_address once it is written (release store). */
#define LIMINE_MP_REQUEST_X86_64_X2APIC  (1u << 0)
#define LIMINE_MP_RESPONSE_X86_64_X2APIC (1u << 0)
struct limine_mp_info;
typedef void (*limine_goto_address)(struct limine_mp_info *);
struct limine_mp_info {
    uint32_t processor_id; /* ACPI processor UID */
    uint32_t lapic_id;
    uint64_t reserved; /* the loader's: the parked AP's stack */
    limine_goto_address goto_address;
    uint64_t extra_argument;
};
struct limine_mp_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_mp_response *response;
    uint64_t flags;
};
struct limine_mp_response {
    uint64_t revision;
    uint32_t flags;
    uint32_t bsp_lapic_id;
    uint64_t cpu_count;
    struct limine_mp_info **cpus;
};

/* Memory map: sorted, usable and bootloader-reclaimable entries page aligned and disjoint. */
#define LIMINE_MEMMAP_USABLE                 0
#define LIMINE_MEMMAP_RESERVED               1
#define LIMINE_MEMMAP_ACPI_RECLAIMABLE       2
#define LIMINE_MEMMAP_ACPI_NVS               3
#define LIMINE_MEMMAP_BAD_MEMORY             4
#define LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE 5
#define LIMINE_MEMMAP_EXECUTABLE_AND_MODULES 6
#define LIMINE_MEMMAP_FRAMEBUFFER            7
#define LIMINE_MEMMAP_RESERVED_MAPPED        8 /* base revision 4 and later */
struct limine_memmap_entry {
    uint64_t base;
    uint64_t length;
    uint64_t type;
};
struct limine_memmap_response {
    uint64_t revision;
    uint64_t entry_count;
    struct limine_memmap_entry **entries;
};

/* Entry point: jump here instead of the ELF entry. */
typedef void (*limine_entry_point)(void);
struct limine_entry_point_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_entry_point_response *response;
    limine_entry_point entry;
};
struct limine_entry_point_response {
    uint64_t revision;
};

/* Files: the executable and modules. */
struct limine_uuid {
    uint32_t a;
    uint16_t b;
    uint16_t c;
    uint8_t d[8];
};
#define LIMINE_MEDIA_TYPE_GENERIC 0
#define LIMINE_MEDIA_TYPE_OPTICAL 1
#define LIMINE_MEDIA_TYPE_TFTP    2
struct limine_file {
    uint64_t revision;
    void *address; /* page aligned; the pages it covers are its own */
    uint64_t size;
    char *path;   /* on its volume, with a leading slash */
    char *string; /* command line */
    uint32_t media_type;
    uint32_t unused;
    uint8_t tftp_ipv4[4];
    uint32_t tftp_port;
    uint32_t partition_index; /* 1-based; 0: unpartitioned or unknown */
    uint32_t mbr_disk_id;
    struct limine_uuid gpt_disk_uuid;
    struct limine_uuid gpt_part_uuid;
    struct limine_uuid part_uuid;
};
struct limine_executable_file_response {
    uint64_t revision;
    struct limine_file *executable_file;
};

/* Modules. Request revision 1 adds internal modules, paths relative to the executable's. */
#define LIMINE_INTERNAL_MODULE_REQUIRED   (1u << 0)
#define LIMINE_INTERNAL_MODULE_COMPRESSED (1u << 1)
struct limine_internal_module {
    const char *path;
    const char *string;
    uint64_t flags;
};
struct limine_module_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_module_response *response;
    uint64_t internal_module_count;                   /* request revision 1 */
    struct limine_internal_module **internal_modules; /* request revision 1 */
};
struct limine_module_response {
    uint64_t revision;
    uint64_t module_count;
    struct limine_file **modules;
};

/* RSDP: physical in base revision 3 only, virtual otherwise. */
struct limine_rsdp_response {
    uint64_t revision;
    uint64_t address;
};

/* SMBIOS entry points: physical in base revisions 3 and 4, virtual otherwise; 0 if absent. */
struct limine_smbios_response {
    uint64_t revision;
    uint64_t entry_32;
    uint64_t entry_64;
};

/* EFI system table: physical in base revisions 3 and 4, virtual otherwise. */
struct limine_efi_system_table_response {
    uint64_t revision;
    uint64_t address;
};

/* The final EFI memory map (virtual), for SetVirtualAddressMap. */
struct limine_efi_memmap_response {
    uint64_t revision;
    void *memmap;
    uint64_t memmap_size;
    uint64_t desc_size;
    uint64_t desc_version;
};

/* Date at boot, UNIX seconds from the RTC. */
struct limine_date_at_boot_response {
    uint64_t revision;
    int64_t timestamp;
};

/* Where the executable is. */
struct limine_executable_address_response {
    uint64_t revision;
    uint64_t physical_base;
    uint64_t virtual_base;
};

/* Microseconds from an arbitrary origin. */
struct limine_bootloader_performance_response {
    uint64_t revision;
    uint64_t reset_usec;
    uint64_t init_usec;
    uint64_t exec_usec;
};

/* Keep IOMMUs the firmware enabled (base revision 5 disables them otherwise). */
struct limine_x86_64_keep_iommu_response {
    uint64_t revision;
};

/* TSC frequency, Hz. */
struct limine_tsc_frequency_response {
    uint64_t revision;
    uint64_t frequency;
};

/* Random 64-bit values for seeding. */
struct limine_entropy_request {
    uint64_t id[4];
    uint64_t revision;
    struct limine_entropy_response *response;
    uint64_t value_count;
};
struct limine_entropy_response {
    uint64_t revision;
    uint64_t value_count;
    uint64_t *values;
};

/* TPM event log, as the firmware's EFI_TCG2_PROTOCOL gave it. */
#define LIMINE_TPM_EVENT_LOG_FORMAT_TCG_1_2 1
#define LIMINE_TPM_EVENT_LOG_FORMAT_TCG_2   2
struct limine_tpm_event_log_response {
    uint64_t revision;
    uint64_t format;
    uint64_t size;
    void *address;
};

#endif
