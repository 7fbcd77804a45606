/*
 * entry.S - where the loader enters a test kernel, and where a released AP lands.
 *
 * The first instructions save the machine state the protocol specifies (state.h) before any of
 * it can change: RFLAGS first (pushfq does not alter it), then every general register, the stack
 * pointer and the return address the loader pushed, CR0/CR3/CR4, EFER, the segment selectors
 * and bases, GDTR, IDTR, TR and LDTR. Only then does C run. Position independent (RIP-relative
 * only), so the PIE kernel uses the same file.
 */
#include "state.h"

/* Save into the cpu_state whose address the instruction `load` puts in %rax. On entry the
 * stack holds the loader's return address at (%rsp); we push two words below it and take
 * them back before reading %rsp. Leaves the state's address in %r15. */
.macro SAVE_STATE load:vararg
    pushfq
    pushq %rax
    \load
    movq %rbx, ST_RBX(%rax)
    movq %rcx, ST_RCX(%rax)
    movq %rdx, ST_RDX(%rax)
    movq %rsi, ST_RSI(%rax)
    movq %rdi, ST_RDI(%rax)
    movq %rbp, ST_RBP(%rax)
    movq %r8, ST_R8(%rax)
    movq %r9, ST_R9(%rax)
    movq %r10, ST_R10(%rax)
    movq %r11, ST_R11(%rax)
    movq %r12, ST_R12(%rax)
    movq %r13, ST_R13(%rax)
    movq %r14, ST_R14(%rax)
    movq %r15, ST_R15(%rax)
    movq %rax, %r15
    popq %rbx
    movq %rbx, ST_RAX(%r15)
    popq %rbx
    movq %rbx, ST_RFLAGS(%r15)
    movq %rsp, ST_RSP(%r15)
    movq (%rsp), %rbx
    movq %rbx, ST_RET(%r15)
    movq %cr0, %rbx
    movq %rbx, ST_CR0(%r15)
    movq %cr3, %rbx
    movq %rbx, ST_CR3(%r15)
    movq %cr4, %rbx
    movq %rbx, ST_CR4(%r15)
    movl $0xc0000080, %ecx
    rdmsr
    movl %eax, ST_EFER(%r15)
    movl %edx, ST_EFER+4(%r15)
    movl $0xc0000100, %ecx
    rdmsr
    movl %eax, ST_FSBASE(%r15)
    movl %edx, ST_FSBASE+4(%r15)
    movl $0xc0000101, %ecx
    rdmsr
    movl %eax, ST_GSBASE(%r15)
    movl %edx, ST_GSBASE+4(%r15)
    xorl %ebx, %ebx
    movw %cs, %bx
    movq %rbx, ST_CS(%r15)
    movw %ds, %bx
    movq %rbx, ST_DS(%r15)
    movw %es, %bx
    movq %rbx, ST_ES(%r15)
    movw %ss, %bx
    movq %rbx, ST_SS(%r15)
    movw %fs, %bx
    movq %rbx, ST_FS(%r15)
    movw %gs, %bx
    movq %rbx, ST_GS(%r15)
    sgdt ST_GDTR(%r15)
    sidt ST_IDTR(%r15)
    str %bx
    movq %rbx, ST_TR(%r15)
    sldt %bx
    movq %rbx, ST_LDTR(%r15)
    movq $1, ST_DONE(%r15)
.endm

    .text
/* The BSP's entry: the ELF entry of most test kernels, the Entry Point request's of `full`. */
    .globl lt_entry
lt_entry:
    SAVE_STATE leaq lt_bsp_state(%rip), %rax
    andq $-16, %rsp
    call lt_main
1:  cli
    hlt
    jmp 1b

/* A released AP: RDI is its limine_mp_info, whose extra_argument (offset 24) the BSP set to
 * the cpu_state this AP fills. It then records what C can read and halts for good. */
    .globl lt_ap_entry
lt_ap_entry:
    SAVE_STATE movq 24(%rdi), %rax
    andq $-16, %rsp
    movq ST_RDI(%r15), %rdi
    call lt_ap_main
1:  cli
    hlt
    jmp 1b

    .bss
    .balign 64
    .globl lt_bsp_state
lt_bsp_state:
    .skip ST_SIZE

    .section .note.GNU-stack, "", @progbits
