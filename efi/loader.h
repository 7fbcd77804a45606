/*
 * loader.h - the UEFI loader's parts. The flow is in main.c; each other file has one job.
 */
#ifndef LOADER_H
#define LOADER_H

#include <efi.h>
#include <efilib.h>

#include "cfgtables.h"
#include "cpulist.h"
#include "elf_image.h"
#include "exit.h"
#include "handoff.h"
#include "pmm.h"
#include "preflight.h"
#include "sha256.h"
#include "x86.h"

/* firmware.c: memory map, the allocator's claim hooks, GOP, ACPI, console over serial */
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
void fw_graphics(struct pmm_handoff *h);
UINT64 fw_rsdp(void);
void fw_disable_watchdog(void);

/* cpus.c: the CPUs, found by every allocator build (fw_build_quiet) for its per-CPU caches and
 * the handoff block */
struct cpus {
    struct cpu_list list;
    const char *no_mp;   /* why MP services gave no list (0: the list is theirs) */
    const char *no_madt; /* why the ACPI MADT could not be read (0: it was) */
    uint32_t madt_n;     /* enabled CPUs the MADT lists, when it was read */
    int madt_agrees;     /* it lists the same APIC IDs as the list */
};
extern struct cpus boot_cpus; /* what the last build found */
void cpus_find(struct cpus *c);
void cpus_print(const struct cpus *c); /* "loader: 4 CPUs (MP services), BSP APIC ID 0; ..." */

/* kernel_file.c: read \EFI\pmm\kernel.elf from the volume the loader came from */
EFI_STATUS kernel_read(EFI_HANDLE image, void **data, UINT64 *size);
/* *flags: PMM_HOLD_BOOT_MEMORY from \EFI\pmm\options; an error (printed) for a bad file */
EFI_STATUS options_read(EFI_HANDLE image, unsigned *flags);

/* boot.c: check, place and start a kernel with this allocator; returns only on failure */
EFI_STATUS boot_kernel(EFI_HANDLE image, struct pmm *p, const void *file, UINT64 fsize,
                       unsigned reconcile_flags);
extern UINT64 boot_tsc_start; /* TSC when the loader (or the shell command) started */

/* digest.c: the kernel digest a signed loader checks (the placeholder in unsigned builds) */
#define PMM_DIGEST_PLACEHOLDER "uefi-pmm:kernel-sha256:unsigned-build:no-kernel-digest-to-check."
extern char pmm_kernel_sha256[65];

/* transition.c: page tables for the jump, ExitBootServices, reconcile, the jump */
struct boot {
    EFI_HANDLE image;
    struct pmm *pmm;
    struct pmm_handoff *h;
    struct elf_image elf;
    struct fwmap final; /* buffer from the allocator, filled at exit */
    void *scratch;      /* reconcile scratch, from the allocator */
    UINT64 scratch_size;
    UINT64 pml4;
    unsigned reconcile_flags;    /* PMM_HOLD_BOOT_MEMORY from \EFI\pmm\options */
    const struct cfg_entry *cfg; /* the system table's configuration tables, read before exit */
    UINT64 ncfg;
};
EFI_STATUS transition_tables(struct boot *b, UINT64 top);
/* Exits boot services and jumps. Returns only if ExitBootServices was never called (an error
 * while filling the map first); any later failure ends in loader_fatal. */
EFI_STATUS exit_and_jump(struct boot *b);

/* serial.c: COM1 for the moments when the firmware console is gone */
void serial_puts(const char *s);

/* fatal.c: after the first ExitBootServices call: "loader: what: detail (EFI status)" on COM1 and
 * the framebuffer h describes (if any), a red banner, halt. No boot service is called. */
void __attribute__((noreturn))
loader_fatal(const struct pmm_handoff *h, const char *what, const char *detail, UINT64 status);

#endif
