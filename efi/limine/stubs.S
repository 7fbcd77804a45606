/*
 * stubs.S - code the loader copies elsewhere and runs there (stubs.h says which, and where).
 * Every stub is position independent: it finds its own page from CS or RIP.
 */
#include "stubs.h"

#define OFF(label) ((label) - tramp_start)

    .section .rodata.stubs, "a"
    .globl tramp_start, tramp_params, tramp_end, park_start, park_end, enter_start, enter_end

/* ---- AP trampoline: real mode at CS:0 = the page, interrupts off ---- */
    .balign 16
    .code16
tramp_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    movzwl %ax, %esi
    shl $4, %esi                    /* esi = the page, kept to the end */
    lea OFF(tr_gdt)(%esi), %eax
    mov %eax, OFF(tr_gdtr) + 2
    lea OFF(tr_pm32)(%esi), %eax
    mov %eax, OFF(tr_far32)
    lea OFF(tr_lm64)(%esi), %eax
    mov %eax, OFF(tr_far64)
    lgdtl OFF(tr_gdtr)
    mov %cr0, %eax
    or $1, %eax                     /* PE */
    mov %eax, %cr0
    ljmpl *OFF(tr_far32)

    .code32
tr_pm32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr4, %eax
    or OFF(tramp_params) + TR_CR4(%esi), %eax
    mov %eax, %cr4                  /* PAE (and LA57): paging is still off */
    mov OFF(tramp_params) + TR_CR3(%esi), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or OFF(tramp_params) + TR_EFER(%esi), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG, WP, PE */
    mov %eax, %cr0
    ljmp *OFF(tr_far64)(%esi)

    .code64
tr_lm64:
    mov %esi, %esi                  /* upper halves are undefined after the switch */
    /* this CPU's APIC ID: CPUID 0Bh's x2APIC ID where the leaf exists, else CPUID 1 */
    xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    cmp $0xb, %eax
    jb 1f
    mov $0xb, %eax
    xor %ecx, %ecx
    cpuid
    test $0xffff, %ebx
    jz 1f
    mov %edx, %r8d
    jmp 2f
1:  mov $1, %eax
    xor %ecx, %ecx
    cpuid
    shr $24, %ebx
    mov %ebx, %r8d
2:  mov OFF(tramp_params) + TR_SLOTS(%rsi), %r9
    mov OFF(tramp_params) + TR_COUNT(%rsi), %r10
3:  test %r10, %r10
    jz 9f                           /* a CPU nobody asked for: park it for good */
    cmp SLOT_APIC_ID(%r9), %r8
    je 4f
    add $SLOT_SIZE, %r9
    dec %r10
    jmp 3b
4:  mov SLOT_STACK(%r9), %rsp
    mov SLOT_CTX(%r9), %rdi
    mov OFF(tramp_params) + TR_ENTRY(%rsi), %rax
    xor %ebp, %ebp
    call *%rax                      /* ap_main never returns */
9:  cli
    hlt
    jmp 9b

    .balign 8
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf92000000ffff        /* 0x10: data, flat */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
tr_gdtr:
    .word 4 * 8 - 1
    .long 0
tr_far32:
    .long 0
    .word 0x08
tr_far64:
    .long 0
    .word 0x18
    .balign 8
tramp_params:
    .space TR_SIZE
tramp_end:

/* ---- park: rdi = this AP's struct limine_mp_info (virtual); never returns ---- */
    .balign 16
park_start:
    mov %rdi, %rbx
1:  mov 16(%rbx), %rax              /* goto_address: loads on x86 are acquire loads */
    test %rax, %rax
    jnz 2f
    pause
    jmp 1b
2:  mov %cr3, %rcx                  /* forget the loader's identity map, now gone */
    mov %rcx, %cr3
    mov 8(%rbx), %rsp               /* reserved: the stack the loader gave this CPU */
    movq $0, -8(%rsp)               /* the invalid return address */
    mov %rax, -16(%rsp)
    sub $16, %rsp
    mov %rbx, %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    pushq $2                        /* last: the xors above set ZF and PF */
    popfq                           /* RFLAGS = 0x2 */
    ret                             /* to goto_address, with 0 as its return address */
park_end:

/* ---- enter: rdi = struct enter_args (identity address below 4 GiB, in this page), interrupts
 * off; never returns ---- */
    .balign 16
enter_start:
    mov $0xc0000080, %ecx           /* EFER first: the new tables have no-execute bits */
    mov EN_EFER(%rdi), %eax
    mov EN_EFER + 4(%rdi), %edx
    wrmsr
    mov EN_CR0(%rdi), %rax
    mov %rax, %cr0
    mov %cr4, %rax
    xor EN_CR4(%rdi), %rax
    bt $12, %rax                    /* CR4.LA57: the kernel's paging mode is not the firmware's */
    jc 6f
    mov EN_CR4(%rdi), %rax
    mov %rax, %cr4
    mov EN_CR3(%rdi), %rax
    mov %rax, %cr3                  /* still here: the temporary identity map covers this page */
7:  mov EN_HHDM(%rdi), %rax
    add %rax, %rdi
    lea 1f(%rip), %rbx
    add %rax, %rbx
    jmp *%rbx                       /* on to this page's HHDM address */
1:  lgdt EN_GDTR(%rdi)
    pushq $0x28
    lea 2f(%rip), %rbx
    push %rbx
    lretq
2:  mov $0x30, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    xor %eax, %eax
    xor %edx, %edx
    mov $0xc0000100, %ecx           /* FS and GS bases 0 */
    wrmsr
    inc %ecx
    wrmsr
    inc %ecx
    wrmsr
    pushq $0
    pushq $0
    lidt 6(%rsp)                    /* no IDT: base 0, limit 0 */
    add $16, %rsp
    mov EN_TSS(%rdi), %rbx
    test %rbx, %rbx
    jz 3f
    xor %eax, %eax
    lldt %ax                        /* no LDT */
    ltr %bx                         /* this CPU's TSS descriptor: base 0, limit 0 */
3:  cmpq $0, EN_LOWER(%rdi)
    je 5f
    mov EN_TOP(%rdi), %rbx
    mov $256, %ecx
4:  movq $0, (%rbx)
    add $8, %rbx
    dec %ecx
    jnz 4b
    mov %cr3, %rax
    mov %rax, %cr3
5:  mov EN_STACK(%rdi), %rsp
    movq $0, -8(%rsp)
    mov EN_ENTRY(%rdi), %rax
    mov %rax, -16(%rsp)
    sub $16, %rsp
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    pushq $2                        /* last: the xors above set ZF and PF */
    popfq                           /* RFLAGS = 0x2 */
    ret

/*
 * The switch between 4- and 5-level paging. CR4.LA57 changes only with paging off, and paging
 * goes off only outside 64-bit mode: a far return into compatibility mode, on a GDT and a stack
 * of this page's own (the firmware's GDT and the loader's stack may lie anywhere); paging off
 * (which leaves long mode), CR4 with the kernel's LA57, the kernel's CR3 (its top table lies
 * below 4 GiB), paging on (EFER.LME is still set: long mode again), a far return into 64-bit
 * mode. This page is identity-mapped in the firmware's tables and the kernel's, and runs
 * unpaged in between at that same address. PCIDE must be clear while paging is off.
 */
6:  mov %cr4, %rax
    btr $17, %rax
    mov %rax, %cr4
    mov %rdi, %rsp                  /* the stack: just below the arguments */
    and $-16, %rsp
    lea en_gdt(%rip), %rax
    sub $16, %rsp
    movw $(4 * 8 - 1), (%rsp)
    mov %rax, 2(%rsp)
    lgdt (%rsp)
    add $16, %rsp
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    lea 9f(%rip), %rbx              /* below 4 GiB: EBX keeps it through compatibility mode */
    lea 8f(%rip), %rax
    pushq $0x08
    push %rax
    lretq

    .code32
8:  mov %cr0, %eax
    btr $31, %eax
    mov %eax, %cr0                  /* paging off: EFER.LMA clears */
    mov EN_CR4(%edi), %eax
    btr $17, %eax
    mov %eax, %cr4                  /* PAE, and LA57 as the kernel's mode */
    mov EN_CR3(%edi), %eax
    mov %eax, %cr3
    mov %cr0, %eax
    bts $31, %eax
    mov %eax, %cr0                  /* paging on: long mode, still in compatibility mode */
    push $0x18
    push %ebx
    lret

    .code64
9:  mov %edi, %edi                  /* upper halves are undefined after compatibility mode */
    mov %esp, %esp
    mov EN_CR4(%rdi), %rax
    mov %rax, %cr4                  /* the whole of CR4, PCIDE too if it is asked for */
    jmp 7b

    .balign 8                       /* accessed bits set: loading never writes the GDT */
en_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf93000000ffff        /* 0x10: data, flat */
    .quad 0x00af9b000000ffff        /* 0x18: 64-bit code */
enter_end:

/* ---- run in place by ap_main on each AP ---- */
    .text
    .globl cpu_load_tables
/* cpu_load_tables(gdtr, tss_selector): GDT, CS 0x28, data 0x30, FS/GS bases 0, no IDT; with a
 * selector (base revision 5) no LDT and that TSS. */
cpu_load_tables:
    lgdt (%rdi)
    pushq $0x28
    lea 1f(%rip), %rax
    push %rax
    lretq
1:  mov $0x30, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    xor %eax, %eax
    xor %edx, %edx
    mov $0xc0000100, %ecx
    wrmsr
    inc %ecx
    wrmsr
    inc %ecx
    wrmsr
    pushq $0
    pushq $0
    lidt (%rsp)
    add $16, %rsp
    test %rsi, %rsi
    jz 2f
    xor %eax, %eax
    lldt %ax
    ltr %si
2:  ret

    .section .note.GNU-stack, "", @progbits
