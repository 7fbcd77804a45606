/*
 * boot.h - the Limine boot path's state, shared by its half before ExitBootServices (boot.c, which
 * may call the firmware) and its half after (handover.c, which may not: tests/static.sh).
 */
#ifndef PMM_BOOT_H
#define PMM_BOOT_H

#include "loader.h"
#include "machine.h"
#include "mp.h"
#include "paging.h"

#define PG          4096ull
#define MIB         (1ull << 20)
#define GIB         (1ull << 30)
#define HHDM_4LEVEL 0xffff800000000000ull
#define HHDM_5LEVEL 0xff00000000000000ull
#define MIN_STACK   (64ull << 10)
#define MAX_HANDED  256
#define MAX_KEPT    48
#define MAX_MODULES (LCONF_MAX_MODULES + 32)
#define MAX_ENTROPY 4096
#define GDT_FIXED   7 /* null, 16-bit code/data, 32-bit code/data, 64-bit code/data */

struct module {
    UINT64 phys, pages, size;
    const char *path, *cmdline;
    struct volume vol;
};

struct boot {
    EFI_HANDLE image;
    struct pmm *pmm;
    struct boot_choice *c;
    struct lconf_entry *e;
    int secure;
    /* the kernel */
    UINT64 kfile, kfile_pages, kfile_size; /* the file, kept for the Executable File response */
    struct elf_image elf;
    UINT64 slide, kphys, kpages, entry;
    struct lreq_found req;
    UINT64 revision;
    unsigned levels;
    UINT64 hhdm, stack_size;
    UINT32 pmm_flags;
    struct module mods[MAX_MODULES];
    UINT32 nmods;
    /* the firmware's facts */
    struct fbinfo fb;
    int have_fb;
    UINT8 *edid; /* pool copy */
    UINT64 rsdp, smbios32, smbios64;
    INT64 date;
    UINT64 tsc_hz;
    UINT64 *entropy, nentropy;
    struct machine m;
    const struct cfg_entry *cfg;
    UINT64 ncfg;
    UINT64 st, rt; /* the EFI system table and runtime services table (valid after exit) */
    UINT64 loader_lo, loader_hi; /* our own image, identity-mapped while APs start */
    uint32_t huge1g;             /* the CPU has 1 GiB pages */
    /* handed over */
    struct pmm_handed handed[MAX_HANDED];
    UINT32 nhanded;
    struct pmm_kept kept[MAX_KEPT];
    UINT32 nkept;
    /* exit */
    struct fwmap final;
    void *scratch;
    UINT64 scratch_size;
    /* after exit */
    UINT64 stack, park, tramp, ptpool, ptpool_pages, ptpool_used, arena, arena_pages, arena_used;
    UINT64 apstacks;
    struct pt pt;
    struct ap_ctx *apctx;
    UINT64 tsc_exit;
};

/* Record a run handed to the kernel allocated. */
void hand(struct boot *b, UINT64 phys, UINT64 pages, UINT32 kind);

/* Everything after ExitBootServices, down to the jump (handover.c). */
void __attribute__((noreturn)) after_exit(struct boot *b);

#endif
