/*
 * proto.h - the Limine boot protocol (x86_64) as the test kernels read it.
 *
 * Written from PROTOCOL.md (Limine-Bootloader/limine-protocol, base revisions 0 to 6), not from
 * include/limine.h: the test kernels check the loader by a route of their own, so an ID or a
 * layout the project's header got wrong shows up here as a failed check instead of agreeing with
 * itself. The identifiers, IDs and layouts are the specification's facts.
 */
#ifndef LT_PROTO_H
#define LT_PROTO_H

#include <stdint.h>

#define LIMINE_COMMON_MAGIC 0xc7b1dd30df4c8b88ull, 0x0a82e883a194f07bull
#define LT_ID(a, b)                                                                                \
    {                                                                                              \
        LIMINE_COMMON_MAGIC, a, b                                                                  \
    }

#define LT_BASE_REVISION(n)                                                                        \
    {                                                                                              \
        0xf9562b2d5c95a6c8ull, 0x6a7b384944536bdcull, (n)                                          \
    }
#define LT_BASE_MAGIC1 0x6a7b384944536bdcull
#define LT_START_MARKER                                                                            \
    {                                                                                              \
        0xf6b8f4b39de7d1aeull, 0xfab91a6940fcb9cfull, 0x785c6ed015d3e316ull, 0x181e920a7852b9d9ull \
    }
#define LT_END_MARKER                                                                              \
    {                                                                                              \
        0xadc0e0531bb10d03ull, 0x9572709f31764c62ull                                               \
    }

#define LT_BOOTLOADER_INFO  LT_ID(0xf55038d8e2a1202full, 0x279426fcf5f59740ull)
#define LT_EXEC_CMDLINE     LT_ID(0x4b161536e598651eull, 0xb390ad4a2f1f303aull)
#define LT_FIRMWARE_TYPE    LT_ID(0x8c2f75d90bef28a8ull, 0x7045a4688eac00c3ull)
#define LT_STACK_SIZE       LT_ID(0x224ef0460a8e8926ull, 0xe1cb0fc25f46ea3dull)
#define LT_HHDM             LT_ID(0x48dcf1cb8ad2b852ull, 0x63984e959a98244bull)
#define LT_FRAMEBUFFER      LT_ID(0x9d5827dcd881dd75ull, 0xa3148604f6fab11bull)
#define LT_PAGING_MODE      LT_ID(0x95c1a0edab0944cbull, 0xa4e5cb3842f7488aull)
#define LT_MP               LT_ID(0x95a67b819a1b857eull, 0xa0b61b723b6a73e0ull)
#define LT_RISCV_HARTID     LT_ID(0x1369359f025525f9ull, 0x2ff2a56178391bb6ull)
#define LT_MEMMAP           LT_ID(0x67cf3d9d378a806full, 0xe304acdfc50c3c62ull)
#define LT_ENTRY_POINT      LT_ID(0x13d86c035a1cd3e1ull, 0x2b0caa89d8f3026aull)
#define LT_EXEC_FILE        LT_ID(0xad97e90e83f1ed67ull, 0x31eb5d1c5ff23b69ull)
#define LT_MODULE           LT_ID(0x3e7e279702be32afull, 0xca1c4f3bd1280ceeull)
#define LT_RSDP             LT_ID(0xc5e77b6b397e7b43ull, 0x27637845accdcf3cull)
#define LT_SMBIOS           LT_ID(0x9e9046f11e095391ull, 0xaa4a520fefbde5eeull)
#define LT_EFI_SYSTEM_TABLE LT_ID(0x5ceba5163eaaf6d6ull, 0x0a6981610cf65fccull)
#define LT_TPM_EVENT_LOG    LT_ID(0x98e094fc7e76e979ull, 0xee8d8775c54e1d1full)
#define LT_EFI_MEMMAP       LT_ID(0x7df62a431d6872d5ull, 0xa4fcdfb3e57306c8ull)
#define LT_DATE_AT_BOOT     LT_ID(0x502746e184c088aaull, 0xfbc5ec83e6327893ull)
#define LT_EXEC_ADDRESS     LT_ID(0x71ba76863cc55f63ull, 0xb2644a48c516a487ull)
#define LT_DTB              LT_ID(0xb40ddb48fb54bac7ull, 0x545081493f81ffb7ull)
#define LT_BOOTLOADER_PERF  LT_ID(0x6b50ad9bf36d13adull, 0xdc4c7e88fc759e17ull)
#define LT_KEEP_IOMMU       LT_ID(0x8ebaabe51f490179ull, 0x2aa86a59ffb4ab0full)
#define LT_TSC_FREQUENCY    LT_ID(0x10f2ee1d87d195e4ull, 0xf747a2b78f6ddb31ull)
#define LT_FLANTERM_PARAMS  LT_ID(0x3259399fe7c5f126ull, 0xe01c1c8c5db9d1a9ull)
#define LT_ENTROPY          LT_ID(0x65ea80255d5682c5ull, 0x9117240723f493ebull)

/* Every request begins with these; the response pointer is the loader's to fill. */
struct lt_req {
    uint64_t id[4];
    uint64_t revision;
    void *response;
};

/* A request with one more 64-bit word (stack size, MP flags, entry point, entropy count). */
struct lt_req1 {
    uint64_t id[4];
    uint64_t revision;
    void *response;
    uint64_t arg;
};

struct limine_bootloader_info_response {
    uint64_t revision;
    char *name;
    char *version;
};

struct limine_executable_cmdline_response {
    uint64_t revision;
    char *cmdline;
};

#define LIMINE_FIRMWARE_TYPE_EFI64 2
struct limine_firmware_type_response {
    uint64_t revision;
    uint64_t firmware_type;
};

struct limine_hhdm_response {
    uint64_t revision;
    uint64_t offset;
};

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
    uint64_t pitch;
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
    uint64_t mode_count; /* response revision 1 */
    struct limine_video_mode **modes;
};
struct limine_framebuffer_response {
    uint64_t revision;
    uint64_t framebuffer_count;
    struct limine_framebuffer **framebuffers;
};

struct limine_paging_mode_request {
    uint64_t id[4];
    uint64_t revision;
    void *response;
    uint64_t mode;
    uint64_t max_mode; /* request revision 1 */
    uint64_t min_mode;
};
struct limine_paging_mode_response {
    uint64_t revision;
    uint64_t mode;
};

struct limine_mp_info {
    uint32_t processor_id;
    uint32_t lapic_id;
    uint64_t reserved;
    void (*volatile goto_address)(struct limine_mp_info *);
    uint64_t extra_argument;
};
struct limine_mp_response {
    uint64_t revision;
    uint32_t flags;
    uint32_t bsp_lapic_id;
    uint64_t cpu_count;
    struct limine_mp_info **cpus;
};

#define LIMINE_MEMMAP_USABLE                 0
#define LIMINE_MEMMAP_RESERVED               1
#define LIMINE_MEMMAP_ACPI_RECLAIMABLE       2
#define LIMINE_MEMMAP_ACPI_NVS               3
#define LIMINE_MEMMAP_BAD_MEMORY             4
#define LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE 5
#define LIMINE_MEMMAP_EXECUTABLE_AND_MODULES 6
#define LIMINE_MEMMAP_FRAMEBUFFER            7
#define LIMINE_MEMMAP_RESERVED_MAPPED        8
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

struct limine_entry_point_request {
    uint64_t id[4];
    uint64_t revision;
    void *response;
    void (*entry)(void);
};

struct limine_uuid {
    uint32_t a;
    uint16_t b;
    uint16_t c;
    uint8_t d[8];
};
struct limine_file {
    uint64_t revision;
    void *address;
    uint64_t size;
    char *path;
    char *string;
    uint32_t media_type;
    uint32_t unused;
    uint8_t tftp_ipv4[4];
    uint32_t tftp_port;
    uint32_t partition_index;
    uint32_t mbr_disk_id;
    struct limine_uuid gpt_disk_uuid;
    struct limine_uuid gpt_part_uuid;
    struct limine_uuid part_uuid;
};
struct limine_executable_file_response {
    uint64_t revision;
    struct limine_file *executable_file;
};

#define LIMINE_INTERNAL_MODULE_REQUIRED (1u << 0)
struct limine_internal_module {
    const char *path;
    const char *string;
    uint64_t flags;
};
struct limine_module_request {
    uint64_t id[4];
    uint64_t revision;
    void *response;
    uint64_t internal_module_count; /* request revision 1 */
    struct limine_internal_module **internal_modules;
};
struct limine_module_response {
    uint64_t revision;
    uint64_t module_count;
    struct limine_file **modules;
};

struct limine_rsdp_response {
    uint64_t revision;
    uint64_t address;
};
struct limine_smbios_response {
    uint64_t revision;
    uint64_t entry_32;
    uint64_t entry_64;
};
struct limine_efi_system_table_response {
    uint64_t revision;
    uint64_t address;
};
struct limine_efi_memmap_response {
    uint64_t revision;
    void *memmap;
    uint64_t memmap_size;
    uint64_t desc_size;
    uint64_t desc_version;
};
struct limine_date_at_boot_response {
    uint64_t revision;
    int64_t timestamp;
};
struct limine_executable_address_response {
    uint64_t revision;
    uint64_t physical_base;
    uint64_t virtual_base;
};
struct limine_bootloader_performance_response {
    uint64_t revision;
    uint64_t reset_usec;
    uint64_t init_usec;
    uint64_t exec_usec;
};
struct limine_tsc_frequency_response {
    uint64_t revision;
    uint64_t frequency;
};
struct limine_entropy_response {
    uint64_t revision;
    uint64_t value_count;
    uint64_t *values;
};
struct limine_flanterm_fb_init_params_response {
    uint64_t revision;
    uint64_t entry_count;
    void **entries;
};

/* EFI memory descriptor (UEFI 2.x, version 1): the fields the checks read. */
struct lt_efi_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys;
    uint64_t virt;
    uint64_t pages;
    uint64_t attr;
};
enum {
    EFI_RESERVED = 0,
    EFI_LOADER_CODE = 1,
    EFI_LOADER_DATA = 2,
    EFI_BS_CODE = 3,
    EFI_BS_DATA = 4,
    EFI_RT_CODE = 5,
    EFI_RT_DATA = 6,
    EFI_CONVENTIONAL = 7,
    EFI_UNUSABLE = 8,
    EFI_ACPI_RECLAIM = 9,
    EFI_ACPI_NVS = 10,
    EFI_MMIO = 11,
    EFI_MMIO_PORT = 12,
    EFI_PAL_CODE = 13,
    EFI_PERSISTENT = 14,
    EFI_UNACCEPTED = 15,
};

#endif
