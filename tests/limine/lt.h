/*
 * lt.h - the Limine test kernels' common ground: output on the debug console, checks and the
 * verdict, the expectations the test script wrote into the command line, x86 helpers, a page
 * table walker, and the shared checks of every response (checks.c).
 *
 * Output goes to QEMU's debug console (port 0xE9, `-debugcon file:LOG`), one line per check:
 *   "ok   NAME: detail" or "FAIL NAME: detail", then "verdict: PASS (N checks)" or
 *   "verdict: FAIL (K of N checks failed)", and the kernel leaves through isa-debug-exit
 *   (port 0xF4: 0x10 makes QEMU exit 33, 0x11 makes it exit 35).
 */
#ifndef LT_H
#define LT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "state.h"

#define PG          ((uint64_t)4096)
#define KERNEL_BASE ((uint64_t)0xffffffff80000000ull)
#define PHYS_MASK   0x000ffffffffff000ull

/* ---- output and checks (lt.c) ---- */
void lt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lt_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One check: prints its line, counts it; returns ok so callers can skip what depends on it. */
int check(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The verdict line and isa-debug-exit; never returns. */
void __attribute__((noreturn)) finish(void);
/* A failure after which nothing can be checked: counted, then the verdict. */
void __attribute__((noreturn)) fatal(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- strings and memory ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t lt_strlen(const char *s);
int lt_streq(const char *a, const char *b);
uint64_t fnv64(const void *p, uint64_t n);

/* ---- what the test script says QEMU was given (the kernel command line) ----
 *
 * Space-separated key=value words; a value never holds a space (a module's string has its
 * spaces written %20, any byte may be %XX):
 *   test=NAME          which kernel this is meant for (must match the kernel's own name)
 *   ram=SIZE           guest RAM (512M, 2G, 6G: K/M/G suffixes)
 *   cpus=N bsp=ID      QEMU's -smp and the boot CPU's APIC ID
 *   machine=q35|pc     QEMU's machine (q35 has an ACPI MCFG table, pc has none)
 *   fb=WxHxBPP:ORDER   the framebuffer limine.conf's resolution: asked for on QEMU's std VGA
 *                      (ORDER rgb or bgr: which colour is in the low byte); fb=none: no display
 *   self=PATH;SIZE;HASH          this kernel's file: path, bytes, FNV-1a 64 of its bytes
 *   mod=PATH;SIZE;HASH;STRING    a limine.conf module, in order (repeatable)
 *   imod=PATH;SIZE;HASH;STRING   an internal module the kernel names, as the loader must
 *                                report it (path relative to the kernel's directory resolved)
 *   disk=mbr:ID|gpt:DISKGUID:PARTGUID   the boot disk: a FAT volume whose boot sector also
 *                      holds a one-partition MBR (mformat writes it) with disk signature ID
 *                      (8 hex digits), or partition 1 of a GPT disk
 *   end=HASH           FNV-1a 64 of everything before " end=": the line arrived whole
 */
#define LT_MAX_MODS 8
struct lt_file_expect {
    const char *path; /* decoded into the expectation's own buffer */
    uint64_t size, hash;
    const char *string;
};
struct lt_expect {
    const char *test;
    uint64_t ram;
    uint32_t cpus, bsp;
    int q35; /* 1 q35, 0 pc, -1 not given */
    int fb;  /* 0: no display */
    uint64_t fb_w, fb_h, fb_bpp;
    int fb_bgr;
    struct lt_file_expect self;
    struct lt_file_expect mods[LT_MAX_MODS];
    uint32_t nmods;
    struct lt_file_expect imods[LT_MAX_MODS];
    uint32_t nimods;
    int gpt;
    uint32_t mbr_id;
    uint8_t disk_guid[16], part_guid[16]; /* EFI GUID byte order (as limine_uuid) */
};
/* Parse; 0 or a message naming what is wrong. */
const char *lt_parse_cmdline(const char *s, struct lt_expect *e);

/* ---- x86 ---- */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
static inline void pause(void)
{
    __asm__ volatile("pause");
}
/* This CPU's initial APIC ID (CPUID leaf 0xB when present: 32 bits, x2APIC-wide). */
uint32_t lt_apic_id(void);
int lt_has_nx(void);
int lt_has_pat(void);

/* ---- paging: the tables CR3 points at, read through the HHDM ---- */
struct lt_map {
    uint64_t pa;   /* physical address of the va asked */
    uint64_t size; /* the page's size: 4 KiB, 2 MiB or 1 GiB */
    int write;     /* writable at every level */
    int exec;      /* NX clear at every level */
    int pat;       /* PAT index 0..7 of the leaf (PAT:PCD:PWT) */
};
/* Translate va; 0 if not mapped. Every table page it reads is checked to lie in
 * bootloader-reclaimable memory (the spec's place for the loader's tables). */
int lt_walk(uint64_t va, struct lt_map *m);
/* Whether every table page the walks so far read lies in bootloader-reclaimable memory (*bad:
 * the first that does not). */
int lt_tables_ok(uint64_t *bad);
/* Whether [va, va + len) maps to [pa, pa + len): 0, or the first va that does not (with why).
 * want_w/want_x: writable/executable required; pat: the PAT index required, or -1. */
uint64_t lt_check_range(uint64_t va, uint64_t pa, uint64_t len, int want_w, int want_x, int pat,
                        const char **why);

/* ---- the memory map (after checks.c accepted its shape) ---- */
extern struct limine_memmap_entry **lt_mm;
extern uint64_t lt_mm_n;
extern uint64_t lt_hhdm;
/* The entry holding physical byte pa, or 0. */
const struct limine_memmap_entry *lt_mm_at(uint64_t pa);
/* Whether every byte of [pa, pa + len) lies in entries whose type is in mask (1 << type). */
int lt_mm_all(uint64_t pa, uint64_t len, uint32_t mask);
const char *lt_mm_name(uint64_t type);
#define T(x) (1u << LIMINE_MEMMAP_##x)

/* A physical range to read: through the HHDM if it maps it, else mapped by the kernel itself
 * (base revision 3 hands some tables over as physical addresses in memory the HHDM leaves out). */
void *lt_phys(uint64_t pa, uint64_t len);

/* ---- the shared checks (checks.c) ---- */
typedef volatile struct lt_req vreq;
typedef volatile struct lt_req1 vreq1;
struct lt_kernel {
    const char *name;
    volatile uint64_t *base_tag; /* 0: none (base revision 0) */
    uint64_t asked;              /* the revision the tag asks for, as linked */
    int pie;                     /* position independent: relocated, maybe slid */
    void (*elf_entry)(void);     /* the ELF header's entry, at run time */
    void (*entered)(void);       /* where the loader must have entered (lt_entry) */
    const char *image_start, *image_end, *text_start, *text_end, *rodata_end;
    vreq *info, *cmdline, *fwtype, *hhdm, *fb, *memmap, *exec_file, *exec_addr, *rsdp, *smbios,
        *est, *efi_memmap, *date, *tsc, *perf, *iommu, *dtb, *hartid, *tpm, *flanterm;
    vreq1 *stack, *mp, *entry, *entropy;
    volatile struct limine_paging_mode_request *paging;
    volatile struct limine_module_request *module;
    vreq *unknown;     /* a request no specification defines: its response must stay as set */
    void *unknown_was; /* what it was set to */
    vreq *unlisted;    /* base revision 0 with .limine_reqs: a request left out of the list */
};
extern struct lt_expect lt_exp;
extern uint64_t lt_rev;   /* the base revision the loader booted us with */
extern uint64_t lt_slide; /* run-time minus link address (after the executable file check) */
extern const struct limine_file *lt_exec_file; /* the executable file response's, if any */
extern struct cpu_state lt_bsp_state;
/* entry.S: where the BSP enters, and where a released AP goes (its goto_address). */
void lt_entry(void);
void lt_ap_entry(struct limine_mp_info *info);

/* All checks of the requests k names; returns after them (the caller adds its own). */
void lt_check_all(const struct lt_kernel *k);
/* The MP response's checks and the APs' release (checks.c); needs lt_check_all first. */
void lt_check_mp(const struct lt_kernel *k);

#endif
