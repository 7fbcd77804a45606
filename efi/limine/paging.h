/*
 * paging.h - x86_64 page tables in 4- or 5-level mode, built from pages the caller supplies
 * (paging.c). Freestanding: the loader builds the tables the kernel starts on; tests/host/
 * test_limine_paging.c builds them in simulated memory, in both modes, and walks them.
 */
#ifndef PMM_LIMINE_PAGING_H
#define PMM_LIMINE_PAGING_H

#include <stdint.h>

/* Mapping attributes; the default is read-only, no-execute, write-back. */
#define PT_WRITE 1u
#define PT_EXEC  2u
#define PT_WC    4u /* write-combining: PAT entry 5 (the Limine PAT layout) */
#define PT_UC    8u /* uncached: PCD + PWT, entry 3 in any PAT layout */

struct pt {
    uint64_t root;   /* physical address of the top table */
    uint32_t levels; /* 4 or 5 */
    uint32_t huge1g; /* 1 GiB pages may be used (CPUID 80000001h:EDX bit 26) */
    uint64_t nx;     /* the no-execute bit if EFER.NXE will be set, else 0 */
    /* A zeroed table page: its physical address, or 0 if there is none left. */
    uint64_t (*alloc)(void *ctx);
    void *ctx;
    uint64_t off;   /* table pages are reached at physical + off */
    uint64_t pages; /* table pages taken so far */
};

/*
 * Make t empty: a fresh top table from t->alloc. 0, or -1 if none could be had.
 */
int pt_init(struct pt *t);

/*
 * Map [va, va + len) to [pa, pa + len) (all three 4 KiB aligned) with the largest pages that fit,
 * replacing whatever mapped those addresses before (a larger page around them is split first).
 * 0, or -1 if t->alloc ran out (the tables are then partly written) or va is not canonical.
 */
int pt_map(struct pt *t, uint64_t va, uint64_t pa, uint64_t len, unsigned flags);

/* The physical address va translates to and its attributes (PT_*), or ~0 if it is not mapped. */
uint64_t pt_translate(const struct pt *t, uint64_t va, unsigned *flags);

/* Top-table entries [first, last] emptied (the lower half: 0..255). The tables below are left. */
void pt_clear_top(struct pt *t, unsigned first, unsigned last);

#endif
