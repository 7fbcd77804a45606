/*
 * refuse.S - kernels the loader must refuse before ExitBootServices, each with one defect
 * (chosen by a define) and otherwise bootable. Should a loader start one anyway, it says so on
 * the debug console and fails the run through isa-debug-exit.
 *
 *   LT_DUP       two HHDM requests: "There may only be 1 of the same request. The bootloader
 *                will refuse to boot an executable with multiple of the same request IDs."
 *   LT_LOW       (linked at 0x200000, ET_EXEC): not relocatable and below 0xffffffff80000000
 *   LT_BADRELOC  (linked -shared): a relocation that is not R_X86_64_RELATIVE (R_X86_64_64
 *                against a symbol), which a loader that only relocates must refuse by name
 */
    .text
    .globl refuse_entry
refuse_entry:
    leaq msg(%rip), %rsi
1:  movb (%rsi), %al
    testb %al, %al
    jz 2f
    outb %al, $0xe9
    incq %rsi
    jmp 1b
2:  movb $0x11, %al
    outb %al, $0xf4
3:  cli
    hlt
    jmp 3b

    .section .rodata
msg:
    .ascii "FAIL refusal: the loader started a kernel it must refuse\n"
    .asciz "verdict: FAIL (1 of 1 checks failed)\n"

    .data
    .balign 8
base_tag:
    .quad 0xf9562b2d5c95a6c8, 0x6a7b384944536bdc, 6
hhdm_req:
    .quad 0xc7b1dd30df4c8b88, 0x0a82e883a194f07b, 0x48dcf1cb8ad2b852, 0x63984e959a98244b, 0, 0
#ifdef LT_DUP
hhdm_req2:
    .quad 0xc7b1dd30df4c8b88, 0x0a82e883a194f07b, 0x48dcf1cb8ad2b852, 0x63984e959a98244b, 0, 0
#endif
#ifdef LT_BADRELOC
    .globl reloc_target
reloc_target:
    .quad 0
reloc_ptr:
    .quad reloc_target
#endif

    .section .note.GNU-stack, "", @progbits
