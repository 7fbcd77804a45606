/*
 * state.h - what a CPU looked like when the loader let it go: the registers the Limine protocol
 * specifies at entry, saved by the first instructions of entry.S before anything changes them.
 *
 * Shared by C and assembly: the offsets are the ST_* constants, and lt.c asserts at compile time
 * that struct cpu_state has them.
 */
#ifndef LT_STATE_H
#define LT_STATE_H

#define ST_RAX    0
#define ST_RBX    8
#define ST_RCX    16
#define ST_RDX    24
#define ST_RSI    32
#define ST_RDI    40
#define ST_RBP    48
#define ST_R8     56
#define ST_R9     64
#define ST_R10    72
#define ST_R11    80
#define ST_R12    88
#define ST_R13    96
#define ST_R14    104
#define ST_R15    112
#define ST_RSP    120 /* as it was at entry: pointing at the return address */
#define ST_RET    128 /* the 8 bytes at [rsp]: the return address the loader pushed */
#define ST_RFLAGS 136
#define ST_CR0    144
#define ST_CR3    152
#define ST_CR4    160
#define ST_EFER   168
#define ST_CS     176
#define ST_DS     184
#define ST_ES     192
#define ST_SS     200
#define ST_FS     208
#define ST_GS     216
#define ST_FSBASE 224
#define ST_GSBASE 232
#define ST_GDTR   240 /* 2-byte limit, 8-byte base (sgdt) */
#define ST_IDTR   256
#define ST_TR     272 /* selector (str) */
#define ST_LDTR   280 /* selector (sldt) */
#define ST_DONE   288 /* set last: the rest is written */
#define ST_SIZE   296

#ifndef __ASSEMBLER__
#include <stdint.h>

struct cpu_state {
    uint64_t gpr[15]; /* rax rbx rcx rdx rsi rdi rbp r8..r15 */
    uint64_t rsp, ret, rflags;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t cs, ds, es, ss, fs, gs;
    uint64_t fsbase, gsbase;
    uint8_t gdtr[16];
    uint8_t idtr[16];
    uint64_t tr, ldtr;
    volatile uint64_t done;
};
#endif

#endif
