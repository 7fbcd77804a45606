/*
 * cpulist.h - the CPU list the loader hands over, and the ACPI tables it can come from
 * (cpulist.c). Freestanding: efi/cpus.c asks the firmware, tests/host/test_cpus.c feeds it
 * hand-built tables.
 */
#ifndef PMM_CPULIST_H
#define PMM_CPULIST_H

#include <stdint.h>

#include "handoff.h"

#define CPU_LIST_MAX 256

/* The CPUs the allocator gets per-CPU supplies for and the kernel receives (include/handoff.h). */
struct cpu_list {
    uint32_t n;      /* entries of apic_id[] in use */
    uint32_t found;  /* enabled CPUs reported, listed or not (n < found: the list was full) */
    uint32_t bsp;    /* index of the boot CPU, once cpu_list_set_bsp succeeded */
    uint32_t source; /* PMM_CPUS_* */
    uint32_t apic_id[CPU_LIST_MAX];
};

/* Add one enabled CPU. An APIC ID already listed is ignored (firmware may describe a CPU in both
 * a local APIC and an x2APIC entry); one that does not fit is only counted in found. */
void cpu_list_add(struct cpu_list *l, uint32_t apic_id);

/*
 * Make the CPU with this APIC ID the BSP. If it did not fit in a full list it takes the last
 * slot: the CPU running the kernel must be listed. 0, or a message if the firmware never
 * reported it (a list that cannot be right).
 */
const char *cpu_list_set_bsp(struct cpu_list *l, uint32_t apic_id);

/*
 * Append the enabled CPUs of an MADT (ACPI "APIC" table) of `avail` readable bytes: Processor
 * Local APIC (type 0) and Processor Local x2APIC (type 9) entries whose Enabled flag is set.
 * Online-capable ones (Enabled clear) are not running and are not listed. Returns 0, or a message
 * naming what is wrong (signature, length, checksum, an entry that is too short or runs past the
 * table; *at: the byte offset of the offending entry, 0 for the header) and lists nothing then.
 */
const char *madt_cpus(const uint8_t *madt, uint64_t avail, struct cpu_list *l, uint64_t *at);

/*
 * The MADT's physical address from the RSDP's (XSDT, or RSDT for ACPI 1.0), reading table memory
 * at physical + off. 0 and *madt set, or a message naming what is wrong or missing.
 */
const char *acpi_find_madt(uint64_t rsdp, uint64_t off, uint64_t *madt);

#endif
