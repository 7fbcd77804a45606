/*
 * la57_switch.S - 4-level to 5-level paging on the calling CPU (la57.h, la57.c).
 *
 * CR4.LA57 changes only with paging off, and paging goes off only outside 64-bit mode. Called at
 * its identity address below 4 GiB (the kernel copies it into a page of its own; the loader's
 * test variant runs it where it is), RDI = its parameters, below 4 GiB, interrupts off: the
 * caller's state saved; a GDT and stack of this page's own (the caller's GDT and stack lie in the
 * higher half, which paging off cannot reach); a far return into compatibility mode; paging off
 * (EFER.LMA clears); CR4 with LA57; CR3 = the new PML5 (below 4 GiB: a 32-bit write); paging on
 * (EFER.LME is still set: long mode); a far return into 64-bit mode; the caller's GDT, selectors,
 * stack and registers back; return. Facts from the Intel SDM vol. 3A, 9.8.5 (initializing and
 * leaving IA-32e mode) and 4.1.1 (CR4.LA57 cannot change in IA-32e mode).
 */
#include "la57.h"

    /* text: the loader's test variant (efi/limine/fw5test.c) runs it in place */
    .text
    .globl la57_switch_start, la57_switch_end
    .code64
la57_switch_start:
    mov %rsp, LP_RSP(%rdi)
    mov %rbx, LP_RBX(%rdi)
    mov %rbp, LP_RBP(%rdi)
    mov %r12, LP_R12(%rdi)
    mov %r13, LP_R13(%rdi)
    mov %r14, LP_R14(%rdi)
    mov %r15, LP_R15(%rdi)
    sgdt LP_GDTR(%rdi)
    movw %cs, LP_CS(%rdi)
    movw %ds, LP_DS(%rdi)
    movw %es, LP_ES(%rdi)
    movw %ss, LP_SS(%rdi)
    mov %rdi, %rsp                  /* the stack: just below the parameters */
    and $-16, %rsp
    lea 9f(%rip), %rax
    sub $16, %rsp
    movw $(4 * 8 - 1), (%rsp)
    mov %rax, 2(%rsp)
    lgdt (%rsp)
    add $16, %rsp
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    lea 2f(%rip), %rbx              /* below 4 GiB: EBX keeps it through compatibility mode */
    lea 1f(%rip), %rax
    pushq $0x08
    push %rax
    lretq

    .code32
1:  mov %cr0, %eax
    btr $31, %eax
    mov %eax, %cr0                  /* paging off: out of long mode */
    mov LP_CR4(%edi), %eax
    mov %eax, %cr4                  /* LA57 on */
    mov LP_CR3(%edi), %eax
    mov %eax, %cr3
    mov %cr0, %eax
    bts $31, %eax
    mov %eax, %cr0                  /* paging on: long mode, compatibility mode */
    push $0x18
    push %ebx
    lret

    .code64
2:  mov %edi, %edi                  /* upper halves are undefined after compatibility mode */
    lgdt LP_GDTR(%rdi)
    mov LP_RSP(%rdi), %rsp
    movzwq LP_CS(%rdi), %rax
    push %rax
    lea 3f(%rip), %rax
    push %rax
    lretq
3:  movw LP_SS(%rdi), %ss
    movw LP_DS(%rdi), %ds
    movw LP_ES(%rdi), %es
    mov LP_RBX(%rdi), %rbx
    mov LP_RBP(%rdi), %rbp
    mov LP_R12(%rdi), %r12
    mov LP_R13(%rdi), %r13
    mov LP_R14(%rdi), %r14
    mov LP_R15(%rdi), %r15
    ret

    .balign 8                       /* accessed bits set: loading never writes the GDT */
9:  .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf93000000ffff        /* 0x10: data, flat */
    .quad 0x00af9b000000ffff        /* 0x18: 64-bit code */
la57_switch_end:

    .section .note.GNU-stack, "", @progbits
