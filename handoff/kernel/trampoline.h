/*
 * trampoline.h - the parameters the boot CPU leaves in the start-up page for the AP it is about
 * to start (trampoline.S reads them at these offsets; smp.c writes them through the struct).
 */
#ifndef KERNEL_TRAMPOLINE_H
#define KERNEL_TRAMPOLINE_H

#define TP_LOW_CR3    0  /* PML4 below 4 GiB: the start page identity-mapped, kernel half shared */
#define TP_EFER       8  /* EFER bits to set with LME: NXE, as on the boot CPU */
#define TP_KERNEL_CR3 16 /* the kernel's own PML4, anywhere */
#define TP_STACK      24 /* top of the AP's stack, in the direct map */
#define TP_ENTRY      32 /* ap_entry64, in the kernel's text */
#define TP_ARG        40 /* the AP's struct cpu, in the direct map */
#define TP_APIC_ID    48 /* the CPU these are for; any other CPU parks */
#define TP_PARKED     52 /* a CPU that parked adds 1 (then the BSP can say so) */
#define TP_SIZE       56

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct tramp_params {
    uint64_t low_cr3, efer, kernel_cr3, stack, entry, arg;
    uint32_t apic_id, parked;
};
_Static_assert(offsetof(struct tramp_params, low_cr3) == TP_LOW_CR3, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, efer) == TP_EFER, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, kernel_cr3) == TP_KERNEL_CR3, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, stack) == TP_STACK, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, entry) == TP_ENTRY, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, arg) == TP_ARG, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, apic_id) == TP_APIC_ID, "trampoline.S offsets");
_Static_assert(offsetof(struct tramp_params, parked) == TP_PARKED, "trampoline.S offsets");
_Static_assert(sizeof(struct tramp_params) == TP_SIZE, "trampoline.S offsets");

/* trampoline.S: the code to copy (position independent: it finds its page from CS) */
extern const char tramp_start[], tramp_params[], tramp_end[];
/* where the AP enters the kernel's text, on the start-up page tables */
void ap_entry64(void);
#endif

#endif
