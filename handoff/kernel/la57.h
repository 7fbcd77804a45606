/*
 * la57.h - the kernel's own switch from 4- to 5-level paging (la57.c), and the code it runs with
 * paging off (la57_switch.S), which la57.c copies into a page below 4 GiB that both the old and
 * the new tables identity-map. Offsets into the switch's parameters, shared with the assembly.
 */
#ifndef KERNEL_LA57_H
#define KERNEL_LA57_H

#define LP_CR3  0  /* the new top table, below 4 GiB */
#define LP_CR4  8  /* CR4 to run with: the old one with LA57 (PCIDE clear) */
#define LP_RSP  16 /* the caller's stack, saved */
#define LP_GDTR 24 /* the caller's GDT (10 bytes), saved */
#define LP_CS   40 /* the caller's selectors (16 bits each), saved */
#define LP_DS   42
#define LP_ES   44
#define LP_SS   46
#define LP_RBX  48 /* the registers the C calling convention keeps, saved: their upper halves */
#define LP_RBP  56 /* do not survive compatibility mode */
#define LP_R12  64
#define LP_R13  72
#define LP_R14  80
#define LP_R15  88
#define LP_SIZE 96

#ifndef __ASSEMBLER__
#include <stdint.h>

struct la57_params {
    uint64_t cr3, cr4, rsp;
    uint8_t gdtr[16];
    uint16_t cs, ds, es, ss;
    uint64_t saved[6];
};
_Static_assert(__builtin_offsetof(struct la57_params, gdtr) == LP_GDTR, "la57_switch.S offsets");
_Static_assert(__builtin_offsetof(struct la57_params, cs) == LP_CS, "la57_switch.S offsets");
_Static_assert(__builtin_offsetof(struct la57_params, saved) == LP_RBX, "la57_switch.S offsets");
_Static_assert(sizeof(struct la57_params) == LP_SIZE, "la57_switch.S offsets");

/* The switch code: position independent, called at its identity address with RDI = the params
 * (an identity address below 4 GiB, with room for 48 bytes of stack below it); returns to the
 * caller in 5-level mode on params->cr3. */
extern const char la57_switch_start[], la57_switch_end[];
#endif

#endif
