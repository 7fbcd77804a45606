/*
 * machine.h - the machine state a Limine kernel is promised at entry (machine.c): control
 * registers, the PAT, MTRRs alike on every CPU, legacy PIC and I/O APIC inputs masked, and from
 * base revision 5 the local APICs in a defined state and the IOMMUs off. Runs after
 * ExitBootServices (and on each AP before it parks); device registers are reached through the
 * firmware's identity map, which OVMF and PC firmware keep for the whole address space.
 */
#ifndef PMM_LIMINE_MACHINE_H
#define PMM_LIMINE_MACHINE_H

#include <stdint.h>

#define MACHINE_MAX_MTRRS 64

struct machine {
    uint64_t cr0, cr4, efer; /* what every CPU gets */
    uint64_t revision;
    uint32_t pat;    /* the CPU has a PAT: program the Limine layout */
    uint32_t x2apic; /* run the local APICs in x2APIC mode */
    uint32_t nmtrr;  /* the BSP's MTRRs, for the APs */
    uint32_t mtrr_msr[MACHINE_MAX_MTRRS];
    uint64_t mtrr_val[MACHINE_MAX_MTRRS];
    const uint8_t *madt; /* for the I/O APICs and the LINT NMI entries; 0 if none */
    uint32_t madt_len;
    const uint8_t *dmar, *ivrs; /* IOMMU tables, 0 if none */
    uint32_t dmar_len, ivrs_len;
};

/* Limine's PAT: WB, WT, UC-, UC, WP, WC, UC-, UC. */
#define LIMINE_PAT 0x0007010500070406ull

/*
 * Before exit: decide the control registers for `levels`-level paging at this base revision, and
 * read the BSP's MTRRs. x2apic: run every local APIC in x2APIC mode if the CPU has it (the
 * kernel asked for it with the MP request flag, or xAPIC mode cannot serve: boot.c).
 */
void machine_init(struct machine *m, uint64_t revision, unsigned levels, int want_x2apic);

/* On each CPU, the BSP too: PAT, MTRRs (APs), APIC mode, and the local APIC at revision >= 5.
 * uid: the CPU's ACPI processor UID (for the MADT's NMI entries). */
void machine_cpu(const struct machine *m, int is_bsp, uint32_t uid);

/* Once: PIC and I/O APIC inputs masked; IOMMUs disabled at revision >= 5 unless keep_iommu.
 * Returns how many IOMMUs it turned off. */
uint32_t machine_platform(const struct machine *m, int keep_iommu);

/* x2APIC in use on this CPU (IA32_APIC_BASE bit 10). */
int machine_x2apic(void);

#endif
