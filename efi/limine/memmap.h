/*
 * memmap.h - the Limine memory map of a machine whose RAM the live allocator manages (memmap.c).
 *
 * Usable entries are exactly the allocator's free pages; the pages it has handed out are
 * bootloader-reclaimable, or executable-and-modules for the kernel and its modules; the rest comes
 * from the final EFI map's types as the specification converts them, per base revision.
 * Freestanding; tests/host/test_limine_memmap.c builds maps from simulated machines.
 */
#ifndef PMM_LIMINE_MEMMAP_H
#define PMM_LIMINE_MEMMAP_H

#include <stdint.h>

#include "handoff.h"
#include "limine.h"
#include "pmm.h"

/* A range with a Limine type that overrides what lies under it (framebuffer, ACPI tables ...). */
struct lmm_extra {
    uint64_t base, length; /* bytes; rounded out to pages */
    uint32_t type;         /* LIMINE_MEMMAP_* */
    uint32_t pad;
};

struct lmm_input {
    const struct pmm *pmm;           /* reconciled: its range table is the final map */
    const struct pmm_handed *handed; /* the runs handed over allocated, sorted */
    uint64_t nhanded;
    const struct lmm_extra *extra; /* framebuffer, RESERVED_MAPPED ranges; may overlap anything */
    uint64_t nextra;
    uint64_t revision; /* the base revision the kernel is booted with */
};

/*
 * Write the map into out (cap entries; NULL to count) and return how many entries it has, or
 * ~0ull if cap is too small (nothing beyond cap written). Sorted, not overlapping, neighbours of
 * one type merged. Extras win over everything under them but for usable pages, which an extra can
 * only replace where the specification says so (a framebuffer).
 */
uint64_t lmm_build(const struct lmm_input *in, struct limine_memmap_entry *out, uint64_t cap);

/* The Limine type of a range of the final map that is never usable RAM (pmm_classify NEVER). */
uint32_t lmm_efi_type(uint32_t efi_type, uint64_t revision);

#endif
