/*
 * cfgtables.h - configuration tables the firmware left in boot-services memory (cfgtables.c).
 * Freestanding: run after ExitBootServices, and tested on the host (tests/host/test_handover.c).
 */
#ifndef PMM_CFGTABLES_H
#define PMM_CFGTABLES_H

#include <stdint.h>

#include "handoff.h"
#include "pmm.h"

/* One EFI_CONFIGURATION_TABLE entry as the firmware lays it out: VendorGuid, VendorTable. */
struct cfg_entry {
    uint8_t guid[16];
    uint64_t table; /* physical address */
};

/* Where kept tables are listed: cap entries of kept[], n in use. */
struct kept_list {
    struct pmm_kept *kept;
    uint32_t n, cap;
};

/*
 * After pmm_reconcile: for each of the n entries whose table (and, for SMBIOS, its structure
 * table) lies in usable memory of the final map, keep its pages allocated (pmm_keep_range) and
 * append it to k, so the kernel's first allocations cannot overwrite it. Tables in runtime,
 * ACPI or reserved memory are never handed out and are not listed. Table headers are read at
 * physical + off. Returns the entries it could not list because k was full (0 normally).
 */
uint64_t keep_config_tables(struct pmm *p, struct kept_list *k, const struct cfg_entry *t,
                            uint64_t n, uint64_t off);

#endif
