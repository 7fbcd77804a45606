/*
 * stubs.h - the position-independent code stubs.S holds, which the loader copies into pages of
 * their own, and the parameters each one reads (offsets shared with the assembly).
 *
 *   AP trampoline  copied to a page below 1 MiB; a STARTUP IPI enters it in real mode; it reaches
 *                  long mode on the kernel's tables (their top table lies below 4 GiB), finds its
 *                  CPU in the slot table by APIC ID and calls ap_main in the loader on that CPU's
 *                  stack.
 *   park           where each AP waits for the kernel to write its goto_address (Limine MP), in
 *                  the parking page, reached through the HHDM.
 *   enter          the BSP's last instructions: new CR3 (through compatibility mode with paging
 *                  off when the kernel's paging mode is not the firmware's), on to the HHDM copy
 *                  of itself, GDT, segments, descriptor tables, the lower half dropped, the entry
 *                  state, the jump. It runs in the parking page, below 4 GiB, with its arguments
 *                  at the page's end and, when it switches modes, its stack just below them.
 */
#ifndef PMM_LIMINE_STUBS_H
#define PMM_LIMINE_STUBS_H

/* AP trampoline parameters, at TR_PARAMS in its page */
#define TR_CR3   0  /* the kernel tables' top table, below 4 GiB (u32) */
#define TR_CR4   4  /* CR4 bits to set before paging: PAE, and LA57 for 5-level (u32) */
#define TR_EFER  8  /* EFER bits to set: LME, and NXE where the CPU has it (u32) */
#define TR_SLOTS 16 /* the slot table's address, identity-mapped (u64) */
#define TR_COUNT 24 /* slots in it (u64) */
#define TR_ENTRY 32 /* ap_main's address (u64) */
#define TR_SIZE  40

/* One slot per AP: the trampoline matches apic_id, then calls ap_main(ctx) on stack. */
#define SLOT_APIC_ID 0
#define SLOT_STACK   8
#define SLOT_CTX     16
#define SLOT_SIZE    24

/* The BSP's enter parameters, at EN_ARGS in the parking page. */
#define EN_CR3   0  /* the kernel tables */
#define EN_HHDM  8  /* HHDM offset: the stub continues at its own address + this */
#define EN_GDTR  16 /* 10 bytes: limit, base (virtual) */
#define EN_STACK 32 /* top of the entry stack (virtual) */
#define EN_ENTRY 40 /* the kernel's entry point */
#define EN_LOWER 48 /* 1: empty top-table entries 0..255 (the temporary identity map) */
#define EN_CR0   56
#define EN_CR4   64
#define EN_EFER  72
#define EN_TSS   80 /* 0, or the BSP's TSS selector (base revision 5) */
#define EN_TOP   88 /* the top table, virtual (to empty entries 0..255) */
#define EN_SIZE  96

#ifndef __ASSEMBLER__
#include <stdint.h>

struct tramp_params {
    uint32_t cr3, cr4, efer, pad;
    uint64_t slots, count, entry;
};
struct ap_slot {
    uint64_t apic_id; /* 32 bits used */
    uint64_t stack;   /* top, virtual (HHDM) */
    uint64_t ctx;     /* ap_main's argument */
};
struct enter_args {
    uint64_t cr3, hhdm;
    uint16_t gdtr_limit;
    uint64_t gdtr_base __attribute__((packed));
    uint16_t pad[3];
    uint64_t stack, entry, lower, cr0, cr4, efer, tss, top;
};
_Static_assert(__builtin_offsetof(struct tramp_params, slots) == TR_SLOTS, "stubs.S offsets");
_Static_assert(__builtin_offsetof(struct tramp_params, entry) == TR_ENTRY, "stubs.S offsets");
_Static_assert(sizeof(struct tramp_params) == TR_SIZE, "stubs.S offsets");
_Static_assert(sizeof(struct ap_slot) == SLOT_SIZE, "stubs.S offsets");
_Static_assert(__builtin_offsetof(struct enter_args, gdtr_base) == EN_GDTR + 2, "stubs.S offsets");
_Static_assert(__builtin_offsetof(struct enter_args, stack) == EN_STACK, "stubs.S offsets");
_Static_assert(__builtin_offsetof(struct enter_args, tss) == EN_TSS, "stubs.S offsets");
_Static_assert(sizeof(struct enter_args) == EN_SIZE, "stubs.S offsets");

extern const char tramp_start[], tramp_params[], tramp_end[];
extern const char park_start[], park_end[];
extern const char enter_start[], enter_end[];
/* Load the GDT (gdtr: 10 bytes), segments, no IDT; with tss != 0, no LDT and that TSS. */
void cpu_load_tables(const void *gdtr, uint64_t tss);
#endif

#endif
