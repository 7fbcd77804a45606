/*
 * loader.h - the UEFI loader's parts. The flow is in main.c; each other file has one job.
 */
#ifndef LOADER_H
#define LOADER_H

#include <efi.h>
#include <efilib.h>

#include "cfgtables.h"
#include "conf.h"
#include "cpulist.h"
#include "elf_image.h"
#include "exit.h"
#include "handoff.h"
#include "limine.h"
#include "numa.h"
#include "pmm.h"
#include "preflight.h"
#include "requests.h"
#include "serial.h"
#include "x86.h"

#define LOADER_NAME    "uefi-pmm"
#define LOADER_VERSION "2.0"

/* firmware.c: memory map, the allocator's claim hooks, GOP, ACPI, clock, randomness */
EFI_STATUS fw_get_map(struct fwmap *m); /* allocates with slack; fills m */
/* Build the allocator from the firmware's current map, printing the reason if it cannot. */
EFI_STATUS fw_build_pmm(struct pmm **out, const CHAR16 *who); /* who: prefix of its lines */
/* The same, saying nothing: the map's size and, on a refused build, pmm_build's code and reason
 * come back in *info (rc == PMM_OK with an error status: the map could not be read). */
struct fw_build_info {
    UINTN ndesc, desc_size;
    int rc;
    struct pmm_map_error err;
};
EFI_STATUS fw_build_quiet(struct pmm **out, struct fw_build_info *info);
/* Give back to the firmware every page the allocator claimed, metadata included. */
void fw_release_pmm(struct pmm *p);
extern struct pmm_firmware fw_hooks; /* AllocatePages/FreePages at an address */
UINT64 fw_rsdp(void);
void fw_disable_watchdog(void);
/* A configuration table by GUID (16 bytes as stored), or 0. */
UINT64 fw_config_table(const EFI_GUID *guid);
/* Seconds since 1970 from the RTC (GetTime), or 0 if it cannot be read. */
INT64 fw_unix_time(void);
/* n random 64-bit values: RDSEED, RDRAND, EFI_RNG_PROTOCOL, or the TSC mixed (the weakest). */
const char *fw_random(UINT64 *out, UINT64 n); /* returns the source's name */
/* TSC ticks per second, measured against the firmware's Stall(). */
UINT64 fw_tsc_hz(void);

/* The screen: the GOP mode in use (after a `resolution:` asked for another), its modes, EDID. */
struct fbinfo {
    UINT64 base, size;
    UINT32 width, height, stride; /* stride in pixels */
    UINT32 format;                /* EFI_GRAPHICS_PIXEL_FORMAT; PixelBitMask masks below */
    UINT32 masks[4];              /* red, green, blue, reserved (PixelBitMask) */
    UINT32 nmodes;
    struct limine_video_mode *modes; /* AllocatePool'ed, nmodes of them */
    const UINT8 *edid;               /* firmware memory, copied before exit; 0 if none */
    UINT32 edid_size;
};
/* 0 (and no framebuffer) if there is no linear GOP framebuffer. Sets the mode first if w. */
int fw_framebuffer(struct fbinfo *fb, UINT32 w, UINT32 h, UINT32 bpp);

/* cpus.c: the CPUs, found by every allocator build (fw_build_quiet) for its per-CPU supplies */
struct cpus {
    struct cpu_list list;         /* apic_id[] in pool memory */
    const char *no_mp;            /* why MP services gave no list (0: the list is theirs) */
    const char *no_madt;          /* why the ACPI MADT could not be read (0: it was) */
    uint32_t madt_n;              /* enabled CPUs the MADT lists, when it was read */
    int madt_agrees;              /* it lists the same APIC IDs as the list */
    struct cpu_topology topology; /* from MP services (packages 0: not known) */
    int extended;                 /* ... with the PI 1.7 extended location (dies) */
};
extern struct cpus boot_cpus;   /* what the last build found */
void cpus_find(struct cpus *c); /* replaces (and frees) the list of the previous call */
void cpus_free(struct cpus *c);
void cpus_print(const struct cpus *c); /* "loader: 4 CPUs (MP services), BSP APIC ID 0; ..." */

/* nodes.c: the NUMA nodes, found by every allocator build after the CPUs (efi/numa.h) */
struct nodes {
    struct numa numa; /* arrays in pool memory */
    const char *why;  /* why the SRAT was not used (0: it was, or there is none) */
    const char *slit; /* why the SLIT was not used (0: it was, or there is none) */
    uint64_t why_at;  /* the byte offset of the refused entry */
    uint64_t slit_at;
    int have_srat, have_slit; /* the tables are there at all */
};
extern struct nodes boot_nodes;                                /* what the last build found */
void nodes_find(struct nodes *n, const struct cpu_list *cpus); /* frees the previous call's */
void nodes_free(struct nodes *n);
void nodes_print(const struct nodes *n); /* "loader: NUMA: 2 nodes (ACPI SRAT, SLIT): ..." */
/* The node table into a build (struct pmm_build: nnodes, numa, distance, cpu_node). */
void nodes_build(const struct nodes *n, struct pmm_build *b);

/* files.c: files on a volume, by '/'-separated ASCII path */
struct volume {
    EFI_HANDLE handle;    /* the partition's handle (SimpleFileSystem on it) */
    EFI_FILE_HANDLE root; /* its root directory */
    UINT32 partition;     /* 1-based partition number on its disk, 0 if unknown */
    UINT8 part_guid[16];  /* GPT partition GUID, zero if none */
    UINT8 disk_guid[16];  /* GPT disk GUID, zero if none */
    UINT32 mbr_id;        /* MBR disk signature, 0 if none */
};
/* The volume an image was loaded from. */
EFI_STATUS vol_of_image(EFI_HANDLE image, struct volume *v);
/* The volume a file device path names, and the file's '/'-separated path on it (cap bytes). */
EFI_STATUS vol_of_path(EFI_DEVICE_PATH *dp, struct volume *v, char *path, UINTN cap);
/* Partition n of the disk v is on (n == 0: v itself), for boot(n):. */
EFI_STATUS vol_partition(const struct volume *v, UINT32 n, struct volume *out);
/* Read a whole file into AllocatePool'ed memory. quiet: no message when it does not exist. */
EFI_STATUS vol_read(const struct volume *v, const char *path, int quiet, void **data, UINT64 *size);
/* Read a whole file into pages from the allocator (its run in *phys, pages, size). */
EFI_STATUS vol_read_pages(const struct volume *v, struct pmm *p, const char *path, UINT64 *phys,
                          UINT64 *pages, UINT64 *size);

/* config.c: limine.conf found on the volume (Limine's locations), and the entry to boot */
#define DEFAULT_KERNEL "/EFI/pmm/kernel.elf"
struct boot_choice {
    struct volume vol;     /* boot(): where the configuration (or the default kernel) is */
    struct lconf *conf;    /* 0 without limine.conf */
    const char *conf_path; /* where it was found */
    const void *conf_text; /* its bytes, for the Secure Boot check */
    UINT64 conf_size;
    struct lconf_entry entry; /* what to boot (a limine.conf entry, or the default kernel) */
};
/* Find limine.conf on vol (or take DEFAULT_KERNEL), show the menu, pick. Prints why not. */
EFI_STATUS config_choose(const struct volume *vol, struct boot_choice *c);
/* The same from a given configuration file, or (conf 0) the given kernel with no configuration. */
EFI_STATUS config_choose_from(const struct volume *vol, const char *conf, const char *kernel,
                              struct boot_choice *c);

/* boot.c: start the chosen entry with this allocator; returns only on failure before exit */
EFI_STATUS limine_boot(EFI_HANDLE image, struct pmm *p, struct boot_choice *c);
extern UINT64 boot_tsc_start; /* TSC when the loader (or the shell command) started */

/* secure.c: Secure Boot's chain of trust into the configuration and the files it names */
#define PMM_CONF_HASH_PLACEHOLDER                                                                  \
    "uefi-pmm:limine.conf-blake2b:unsigned-build:no-configuration-enrolled-in-this-loader-"        \
    "placeholder:tools/sign.sh-writes-here:....."
extern char pmm_conf_blake2b[129];
int secure_boot_on(void);
int conf_enrolled(void); /* the loader carries a configuration hash (tools/sign.sh wrote one) */
/* 0 if data hashes to hash (64 bytes); else a message. */
const char *hash_check(const void *data, UINT64 n, const uint8_t *hash);
/* Before any use: the configuration against the enrolled hash (Secure Boot). 0 or why not. */
const char *secure_check_conf(const struct boot_choice *c);

/* fatal.c: after the first ExitBootServices call: "loader: what: detail (EFI status)" on COM1 and
 * the framebuffer (if any), a red banner, halt. No boot service is called. */
void fatal_screen(const struct fbinfo *fb);
void __attribute__((noreturn)) loader_fatal(const char *what, const char *detail, UINT64 status);

#endif
