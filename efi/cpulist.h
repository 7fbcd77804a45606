/*
 * cpulist.h - the CPU list the loader hands over, and the ACPI tables it can come from
 * (cpulist.c). Freestanding: efi/cpus.c asks the firmware, tests/host/test_cpus.c feeds it
 * hand-built tables.
 */
#ifndef PMM_CPULIST_H
#define PMM_CPULIST_H

#include <stdint.h>

#include "handoff.h"

/*
 * The CPUs the allocator gets per-CPU supplies for and the kernel receives (include/handoff.h).
 * The caller provides apic_id[] and says how many it holds (cap): the loader sizes it by the
 * count the firmware reports, so the list has no fixed limit of its own. A list with cap 0 only
 * counts: found is then an upper bound to size the real one by (a CPU in two entries counts
 * twice).
 */
struct cpu_list {
    uint32_t n;      /* entries of apic_id[] in use */
    uint32_t found;  /* enabled CPUs reported, listed or not (n < found: the list was full) */
    uint32_t bsp;    /* index of the boot CPU, once cpu_list_set_bsp succeeded */
    uint32_t source; /* PMM_CPUS_* */
    uint32_t cap;    /* entries apic_id[] has room for */
    uint32_t *apic_id;
};

/* Add one enabled CPU. An APIC ID already listed is ignored (firmware may describe a CPU in both
 * a local APIC and an x2APIC entry); one that does not fit (n == cap) is only counted in found. */
void cpu_list_add(struct cpu_list *l, uint32_t apic_id);

/*
 * Make the CPU with this APIC ID the BSP. If it did not fit in a full list it takes the last
 * slot: the CPU running the kernel must be listed. 0, or a message if the firmware never
 * reported it (a list that cannot be right).
 */
const char *cpu_list_set_bsp(struct cpu_list *l, uint32_t apic_id);

/* Where a CPU sits: MP services' location, outermost first (levels a firmware does not report
 * are 0). */
enum { LOC_PACKAGE, LOC_MODULE, LOC_TILE, LOC_DIE, LOC_CORE, LOC_THREAD, LOC_LEVELS };
struct cpu_loc {
    uint32_t id[LOC_LEVELS];
};

/* Distinct packages, dies (package, module, tile, die) and cores (all but the thread) of n CPUs;
 * threads is n. */
struct cpu_topology {
    uint32_t packages, dies, cores, threads;
};
void cpu_topology_count(const struct cpu_loc *loc, uint32_t n, struct cpu_topology *t);

/*
 * Append the enabled CPUs of an MADT (ACPI "APIC" table) of `avail` readable bytes: Processor
 * Local APIC (type 0) and Processor Local x2APIC (type 9) entries whose Enabled flag is set.
 * Online-capable ones (Enabled clear) are not running and are not listed. Returns 0, or a message
 * naming what is wrong (signature, length, checksum, an entry that is too short or runs past the
 * table; *at: the byte offset of the offending entry, 0 for the header) and lists nothing then.
 */
const char *madt_cpus(const uint8_t *madt, uint64_t avail, struct cpu_list *l, uint64_t *at);

/*
 * The physical address of the first ACPI table with this 4-character signature, from the RSDP's
 * (XSDT, or RSDT for ACPI 1.0), reading table memory at physical + off. Returns 0 with *table set,
 * or 0 with *table = 0 when no table has the signature (for the caller to judge), or a message
 * naming what is wrong with the RSDP or the root table. The table itself is not checked: its
 * reader does that.
 */
const char *acpi_find(uint64_t rsdp, uint64_t off, const char *sig, uint64_t *table);

/* acpi_find for the MADT ("APIC"): its absence is an error, "no MADT (APIC table) ...". */
const char *acpi_find_madt(uint64_t rsdp, uint64_t off, uint64_t *madt);

#endif
