/*
 * trampoline.S - an AP's way from the real mode a STARTUP IPI leaves it in to the kernel's C.
 *
 * smp.c copies [tramp_start, tramp_end) to a page P below 1 MiB that it took from the allocator,
 * fills in the parameters (trampoline.h) and sends STARTUP with vector P >> 12: the AP starts in
 * real mode at CS = P >> 4, IP = 0, interrupts off. Each step:
 *
 *   real mode    P from CS; this page's GDT and the two far-jump targets patched with it;
 *                GDT loaded; CR0.PE; far jump to 32-bit code.
 *   protected    flat segments; is this CPU the one the parameters name (CPUID's initial APIC
 *                ID)? A CPU that answers a STARTUP meant for another (one given up on, waking
 *                late) says so in the parameters and parks here instead of sharing a stack. CR4.PAE; CR3 = the start-up PML4
 *                (below 4 GiB, so a 32-bit load reaches it); EFER.LME and NXE (the kernel's
 *                tables have no-execute bits, reserved without NXE); CR0.PG and WP; far jump to
 *                the 64-bit code segment.
 *   long mode    still at P (the start-up tables identity-map [0, 2 MiB)); stack, argument and
 *                kernel CR3 from the parameters; jump to ap_entry64 in the kernel's text, which
 *                the start-up tables map too (they share the kernel's upper half).
 *   ap_entry64   CR3 = the kernel's own tables (P is not mapped there any more); call ap_main,
 *                which loads the AP's own GDT and IDT before anything else (the GDTR still
 *                names this page) and only then says it is up: from then on the page is free.
 */
#include "trampoline.h"

#define OFF(label) ((label) - tramp_start)

    .section .rodata.trampoline, "a"
    .globl tramp_start, tramp_params, tramp_end
    .balign 16
    .code16
tramp_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    movzwl %ax, %esi
    shl $4, %esi                    /* esi = P, kept to the end */
    lea OFF(gdt)(%esi), %eax
    mov %eax, OFF(gdtr) + 2
    lea OFF(pm32)(%esi), %eax
    mov %eax, OFF(far32)
    lea OFF(lm64)(%esi), %eax
    mov %eax, OFF(far64)
    lgdtl OFF(gdtr)
    mov %cr0, %eax
    or $1, %eax                     /* PE */
    mov %eax, %cr0
    ljmpl *OFF(far32)

    .code32
pm32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov OFF(tramp_params) + TP_APIC_ID(%esi), %edi
    cmp $0xff, %edi
    ja 1f
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    shr $24, %ebx                   /* CPUID.1:EBX[31:24], the initial APIC ID */
    cmp %edi, %ebx
    jne park
    jmp 2f
1:  mov $0xb, %eax
    xor %ecx, %ecx
    cpuid                           /* CPUID.0BH:EDX, the x2APIC ID */
    cmp %edi, %edx
    jne park
2:  mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov OFF(tramp_params) + TP_LOW_CR3(%esi), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or OFF(tramp_params) + TP_EFER(%esi), %eax
    or $0x100, %eax                 /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80010000, %eax            /* PG, WP */
    mov %eax, %cr0
    ljmp *OFF(far64)(%esi)
park:
    lock incl OFF(tramp_params) + TP_PARKED(%esi)
1:  cli
    hlt
    jmp 1b

    .code64
lm64:
    mov %esi, %esi                  /* the upper halves are undefined after the mode switch */
    mov OFF(tramp_params) + TP_STACK(%rsi), %rsp
    mov OFF(tramp_params) + TP_ARG(%rsi), %rdi
    mov OFF(tramp_params) + TP_KERNEL_CR3(%rsi), %rdx
    mov OFF(tramp_params) + TP_ENTRY(%rsi), %rax
    jmp *%rax

    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf92000000ffff        /* 0x10: data, flat */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
gdtr:
    .word 4 * 8 - 1
    .long 0                         /* gdt's physical address, patched above */
far32:
    .long 0                         /* pm32, patched */
    .word 0x08
far64:
    .long 0                         /* lm64, patched */
    .word 0x18
    .balign 8
tramp_params:
    .space TP_SIZE
tramp_end:

    .text
    .globl ap_entry64
/* rdi = the AP's struct cpu, rdx = the kernel's CR3, rsp = the AP's stack (direct map) */
ap_entry64:
    mov %rdx, %cr3
    xor %ebp, %ebp
    call ap_main
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
